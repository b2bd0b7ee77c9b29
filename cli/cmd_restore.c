/*
 * cmd_restore.c -- `repartir restore ID`: runs an ended task of a store
 * again, as a new task that starts from the task's last checkpoint (or
 * from scratch when it has none: rp_restore_detail), then waits for it and
 * reports it the way `repartir run` does (cli/report.c).
 *
 * Design:
 *   - The command line is checked first (exit RP_EXIT_USAGE), then that a
 *     store is there: restore never creates one (exit RP_EXIT_FAILED, as
 *     `ckpt` does).
 *   - A durable pool on the store does the work, so like `run` it also
 *     runs what an earlier pool left unfinished there, and says so.
 *   - Refusals of the store (unknown id, a task not ended yet, a function
 *     task) exit RP_EXIT_FAILED; a pool that cannot be opened (another one
 *     holds the state dir) exits RP_EXIT_ERROR.
 *   - Without --no-wait, the "restored ..." line goes to stderr: stdout
 *     carries the task's own bytes, exactly as with `run`. With --no-wait
 *     the line is the result, on stdout, and the pool shuts down at once:
 *     a pool dispatches what it is given, so the new task may have started
 *     (even ended) by then; if not ended, it stays queued in the store for
 *     the next pool (`repartir resume`).
 *
 * THREADS: the main thread only (see cli/report.c for the signal handler).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <repartir.h>

#include "cli/cli.h"
#include "cli/report.h"
#include "engine/alloc.h"

/*
 * The options, in the order help lists them; one list generates the parse
 * table and the help text (rp_cli_restore_help). VALUE(id, name, arg, help)
 * takes a value, FLAG(id, name, help) does not.
 */
#define RESTORE_OPTIONS(VALUE, FLAG)                                          \
    FLAG(NO_WAIT, "no-wait",                                                  \
         "record the restore and exit without waiting; unless it ended\n"     \
         "        already, the new task stays queued in the store for the\n"  \
         "        next pool ('repartir resume' runs it)")                     \
    FLAG(JSON, "json",                                                        \
         "print one JSON document (the one of 'run --json', plus where the\n" \
         "        task started) instead of passing its output through")       \
    VALUE(STATE_DIR, "state-dir", "DIR", RP_CLI_STATE_DIR_HELP)

enum restore_option_id {
#define RESTORE_VALUE_ID(id, name, arg, help) RESTORE_OPT_##id,
#define RESTORE_FLAG_ID(id, name, help) RESTORE_OPT_##id,
    RESTORE_OPTIONS(RESTORE_VALUE_ID, RESTORE_FLAG_ID)
#undef RESTORE_VALUE_ID
#undef RESTORE_FLAG_ID
    RESTORE_OPT_COUNT
};

static const struct rp_cli_option restore_options[RESTORE_OPT_COUNT] = {
#define RESTORE_VALUE_ENTRY(id, nm, a, h) [RESTORE_OPT_##id] = { .name = "--" nm, .arg = a },
#define RESTORE_FLAG_ENTRY(id, nm, h) [RESTORE_OPT_##id] = { .name = "--" nm, .arg = NULL },
    RESTORE_OPTIONS(RESTORE_VALUE_ENTRY, RESTORE_FLAG_ENTRY)
#undef RESTORE_VALUE_ENTRY
#undef RESTORE_FLAG_ENTRY
};

const char rp_cli_restore_help[] =
#define RESTORE_VALUE_HELP(id, name, arg, help) "  --" name " " arg "\n        " help "\n"
#define RESTORE_FLAG_HELP(id, name, help) "  --" name "\n        " help "\n"
    RESTORE_OPTIONS(RESTORE_VALUE_HELP, RESTORE_FLAG_HELP)
#undef RESTORE_VALUE_HELP
#undef RESTORE_FLAG_HELP
    "\n"
    "ID is a task of the store that has ended (succeeded, failed, cancelled\n"
    "or timed out), from any earlier run. It runs again as a new task, from\n"
    "its last checkpoint when it took any (run --checkpoint), else from\n"
    "scratch; the line 'restored task ID as NEW ...' says which. Then its\n"
    "output is passed through as 'run' does. Exit status: the task's, as for\n"
    "'run' (0 or 1; with --no-wait 0); 1 when the store refuses (no such\n"
    "task, a task not ended yet, a function task) or there is no store; 2\n"
    "for a bad command line; 3 when the store cannot be opened (another\n"
    "pool is using it); 130/143 after SIGINT/SIGTERM (the task is cancelled).\n";

/* What the command line asked for. Strings point into argv. */
struct restore_args {
    rp_task_id id;
    bool no_wait;
    bool json;
    const char *state_dir;      /* NULL: the default */
};

/* A task id: a whole decimal number from 1, nothing else around it. */
static bool
parse_task_id(const char *text, rp_task_id *out /* OUT */)
{
    unsigned long long v;
    char *end;

    if (text[0] < '0' || text[0] > '9') {
        char *shown = rp_cli_printable(text, strlen(text));

        rp_cli_error("restore: '%s' is not a task id (a whole number from 1)", shown);
        free(shown);
        return false;
    }
    errno = 0;
    v = strtoull(text, &end, 10);
    if (*end != '\0' || errno == ERANGE || v == 0) {
        char *shown = rp_cli_printable(text, strlen(text));

        rp_cli_error("restore: '%s' is not a task id (a whole number from 1)", shown);
        free(shown);
        return false;
    }
    *out = (rp_task_id)v;
    return true;
}

/* Fills *a from argv (argv[0] = "restore"). On error, says why on stderr
 * and returns false. */
static bool
parse_args(int argc, char **argv, struct restore_args *a /* OUT */)
{
    struct rp_cli_args args = { .command = "restore", .options = restore_options,
                                .n_options = RESTORE_OPT_COUNT, .argc = argc, .argv = argv };
    const char *value;
    bool have_id = false;
    int id;

    *a = (struct restore_args){ 0 };
    while ((id = rp_cli_args_next(&args, &value)) != RP_CLI_ARGS_END) {
        switch (id) {
        case RP_CLI_ARGS_BAD:
            return false;
        case RP_CLI_ARGS_OPERAND:
            if (have_id) {
                rp_cli_error("restore: one task ID at a time");
                return false;
            }
            if (!parse_task_id(value, &a->id))
                return false;
            have_id = true;
            break;
        case RESTORE_OPT_NO_WAIT:
            a->no_wait = true;
            break;
        case RESTORE_OPT_JSON:
            a->json = true;
            break;
        case RESTORE_OPT_STATE_DIR:
            if (!rp_cli_state_dir_option("restore", value, &a->state_dir))
                return false;
            break;
        default:
            return false;
        }
    }
    if (!have_id) {
        rp_cli_error("restore: which task? (repartir restore ID [--state-dir DIR])");
        return false;
    }
    return true;
}

/* Why the store refused; the exit status. */
static int
refused(const struct restore_args *a, const char *dir, rp_status s)
{
    unsigned long long id = (unsigned long long)a->id;

    switch (s) {
    case RP_ERR_NOT_FOUND:
        rp_cli_error("restore: the store at %s has no task %llu", dir, id);
        break;
    case RP_ERR_BUSY:
        rp_cli_error("restore: task %llu has not ended: it is queued or running (an unfinished "
                     "task of a stopped pool is finished by 'repartir resume')", id);
        break;
    case RP_ERR_UNSUPPORTED:
        rp_cli_error("restore: task %llu is a function task: its code lives in the program "
                     "that submitted it, which alone can run it again", id);
        break;
    default:
        rp_cli_error("restore: cannot restore task %llu: %s", id, rp_strerror(s));
        break;
    }
    return RP_EXIT_FAILED;
}

/* "from checkpoint iteration 3" or "from scratch (no checkpoint)". */
static void
describe_start(const rp_restore_info *info, char *buf, size_t size)
{
    if (info->from_checkpoint)
        snprintf(buf, size, "from checkpoint iteration %" PRIu64, info->iteration);
    else
        snprintf(buf, size, "from scratch (no checkpoint)");
}

/* The members the JSON document adds about the restore. */
static cJSON *
restore_json(const struct restore_args *a, const rp_restore_info *info)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "restored_from", (double)a->id);
    cJSON_AddBoolToObject(o, "from_checkpoint", info->from_checkpoint);
    if (info->from_checkpoint)
        cJSON_AddNumberToObject(o, "iteration", (double)info->iteration);
    else
        cJSON_AddNullToObject(o, "iteration");
    return o;
}

/* With --no-wait: the restore is the result. */
static int
report_restore(const struct restore_args *a, const rp_restore_info *info, rp_job_id job)
{
    char start[64];

    describe_start(info, start, sizeof start);
    if (a->json) {
        cJSON *o = restore_json(a, info);
        char *text;

        cJSON_AddNumberToObject(o, "task", (double)info->new_id);
        cJSON_AddNumberToObject(o, "job", (double)job);
        text = cJSON_PrintUnformatted(o);
        printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(o);
    } else {
        printf("restored task %llu as %llu %s\n",
               (unsigned long long)a->id, (unsigned long long)info->new_id, start);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        rp_cli_error("cannot write the output: %s", strerror(errno));
        return RP_EXIT_FAILED;
    }
    return RP_EXIT_OK;
}

static int
restore(const struct restore_args *a, const char *dir)
{
    struct rp_cli_job job;
    rp_restore_info info;
    rp_subscription *sub = NULL;
    rp_pool *pool = NULL;
    cJSON *head = NULL;
    rp_status s;
    char start[64];
    int rc;

    rp_cli_job_init(&job, NULL, 1);
    /* Before anything runs, so no signal can end us with children left. */
    rp_cli_catch_interrupts();
    if ((rc = rp_cli_pool_open("restore", 0, dir, NULL, true, &pool)) != RP_EXIT_OK)
        goto out;
    rc = RP_EXIT_ERROR;
    job.pool = pool;
    rp_cli_note_recovery(pool, dir);
    /* Subscribed before the new task exists, so that it cannot end unseen. */
    if (!a->no_wait && job.progress && (s = rp_subscribe(pool, &sub)) != RP_OK) {
        rp_cli_error("cannot follow the task: %s", rp_strerror(s));
        goto out;
    }
    if ((s = rp_restore_detail(pool, a->id, &info)) != RP_OK) {
        rc = refused(a, dir, s);
        goto out;
    }
    job.ids[0] = info.new_id;
    if ((s = rp_task_job(pool, info.new_id, &job.job)) != RP_OK) {
        rp_cli_error("lost track of task %llu: %s", (unsigned long long)info.new_id,
                     rp_strerror(s));
        goto out;
    }
    if (a->no_wait) {
        /* Shutting a durable pool down leaves the new task queued. */
        rp_pool_shutdown(pool);
        pool = NULL;
        rc = report_restore(a, &info, job.job);
        goto out;
    }
    describe_start(&info, start, sizeof start);
    if (!a->json)
        fprintf(stderr, "repartir: restored task %llu as %llu %s\n", (unsigned long long)a->id,
                (unsigned long long)info.new_id, start);
    if ((s = rp_cli_job_collect(&job, sub)) != RP_OK) {
        rp_cli_error("lost track of task %llu: %s", (unsigned long long)info.new_id,
                     rp_strerror(s));
        goto out;
    }
    rp_unsubscribe(sub);
    sub = NULL;
    rp_pool_shutdown(pool);
    pool = NULL;
    head = restore_json(a, &info);
    rc = rp_cli_job_report(&job, a->json, head);

out:
    cJSON_Delete(head);
    if (sub != NULL)
        rp_unsubscribe(sub);
    rp_pool_shutdown(pool);
    rp_cli_job_free(&job);
    return rc;
}

int
rp_cli_restore(int argc, char **argv)
{
    struct restore_args a;
    char *dir = NULL;
    int rc = RP_EXIT_USAGE;

    if (!parse_args(argc, argv, &a))
        goto out;
    if ((dir = rp_cli_state_dir(a.state_dir)) == NULL)
        goto out;
    if ((rc = rp_cli_check_store("restore", dir)) != RP_EXIT_OK)
        goto out;
    rc = restore(&a, dir);

out:
    free(dir);
    return rc;
}
