/*
 * cmd_resume.c -- `repartir resume`: finishes what a stopped or crashed
 * pool left unfinished in a store. Opening a durable pool on the store
 * recovers that work (rp_pool_recovery: queued tasks, interrupted ones from
 * their last checkpoint, leftover processes killed); resume then waits
 * until every one of those tasks has ended and sums them up.
 *
 * Design:
 *   - No store, no resume: it never creates one (exit RP_EXIT_FAILED, as
 *     `ckpt` does). Another pool on the store is RP_EXIT_ERROR.
 *   - Nobody else can submit to the pool, so "every recovered task has
 *     ended" is "nothing queued or running" in rp_pool_stats, polled every
 *     POLL_MS, and the counts of final states since the pool started are
 *     the recovered tasks' (the event bus cannot say this: recovery runs
 *     tasks before anyone can subscribe).
 *   - SIGINT/SIGTERM shut the pool down without cancelling anything: the
 *     durable pool leaves queued and interrupted tasks queued in the store,
 *     for the next resume.
 *   - When stderr is a terminal, a line as each task ends (events).
 *
 * THREADS: the main thread only (see cli/report.c for the signal handler).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <repartir.h>

#include "cli/cli.h"
#include "cli/report.h"
#include "engine/alloc.h"

/* How long the main thread waits before it looks at the pool and at
 * `interrupted` again. */
#define POLL_MS 100

/*
 * The options, in the order help lists them; one list generates the parse
 * table and the help text (rp_cli_resume_help). VALUE(id, name, arg, help)
 * takes a value, FLAG(id, name, help) does not.
 */
#define RESUME_OPTIONS(VALUE, FLAG)                                           \
    FLAG(JSON, "json", "print the summary as one JSON object")                \
    VALUE(WORKERS, "workers", "N",                                            \
          "tasks running at once (1-1024; default: one per CPU)")             \
    VALUE(STATE_DIR, "state-dir", "DIR", RP_CLI_STATE_DIR_HELP)

enum resume_option_id {
#define RESUME_VALUE_ID(id, name, arg, help) RESUME_OPT_##id,
#define RESUME_FLAG_ID(id, name, help) RESUME_OPT_##id,
    RESUME_OPTIONS(RESUME_VALUE_ID, RESUME_FLAG_ID)
#undef RESUME_VALUE_ID
#undef RESUME_FLAG_ID
    RESUME_OPT_COUNT
};

static const struct rp_cli_option resume_options[RESUME_OPT_COUNT] = {
#define RESUME_VALUE_ENTRY(id, nm, a, h) [RESUME_OPT_##id] = { .name = "--" nm, .arg = a },
#define RESUME_FLAG_ENTRY(id, nm, h) [RESUME_OPT_##id] = { .name = "--" nm, .arg = NULL },
    RESUME_OPTIONS(RESUME_VALUE_ENTRY, RESUME_FLAG_ENTRY)
#undef RESUME_VALUE_ENTRY
#undef RESUME_FLAG_ENTRY
};

const char rp_cli_resume_help[] =
#define RESUME_VALUE_HELP(id, name, arg, help) "  --" name " " arg "\n        " help "\n"
#define RESUME_FLAG_HELP(id, name, help) "  --" name "\n        " help "\n"
    RESUME_OPTIONS(RESUME_VALUE_HELP, RESUME_FLAG_HELP)
#undef RESUME_VALUE_HELP
#undef RESUME_FLAG_HELP
    "\n"
    "Runs every task a stopped or crashed pool left queued or running in the\n"
    "store, until all have ended: an interrupted task runs again from its\n"
    "last checkpoint, or from scratch (at least once: a task cut short by a\n"
    "crash may run twice; its result is recorded once). Then it prints how\n"
    "many succeeded and failed; the results are in the store ('repartir sql\n"
    "\"SELECT id, state, error FROM tasks\"'). SIGINT/SIGTERM stop it and\n"
    "leave what has not ended queued. Exit status: 0 if every task succeeded\n"
    "(or there was nothing to do), 1 if any did not, or there is no store; 2\n"
    "for a bad command line; 3 when the store cannot be opened (another pool\n"
    "is using it); 130/143 after SIGINT/SIGTERM.\n";

/* What the command line asked for. Strings point into argv. */
struct resume_args {
    bool json;
    int workers;                /* 0 = one per CPU */
    const char *state_dir;      /* NULL: the default */
};

/* What became of the recovered tasks. */
struct outcome {
    rp_recovery recovered;
    uint64_t total;             /* queued + interrupted + unrecoverable */
    uint64_t succeeded, failed, cancelled, timed_out;
    uint64_t unfinished;        /* still queued or running when interrupted */
    int signal;                 /* the SIGINT or SIGTERM that stopped us, or 0 */
};

static bool
parse_args(int argc, char **argv, struct resume_args *a /* OUT */)
{
    struct rp_cli_args args = { .command = "resume", .options = resume_options,
                                .n_options = RESUME_OPT_COUNT, .argc = argc, .argv = argv };
    const char *value;
    long n;
    int id;

    *a = (struct resume_args){ 0 };
    while ((id = rp_cli_args_next(&args, &value)) != RP_CLI_ARGS_END) {
        switch (id) {
        case RP_CLI_ARGS_BAD:
            return false;
        case RP_CLI_ARGS_OPERAND: {
            char *shown = rp_cli_printable(value, strlen(value));

            rp_cli_error("resume: unexpected argument '%s' (try 'repartir help resume')",
                         shown);
            free(shown);
            return false;
        }
        case RESUME_OPT_JSON:
            a->json = true;
            break;
        case RESUME_OPT_WORKERS:
            if (!rp_cli_parse_int("--workers", value, 1, RP_POOL_MAX_WORKERS, &n))
                return false;
            a->workers = (int)n;
            break;
        case RESUME_OPT_STATE_DIR:
            if (!rp_cli_state_dir_option("resume", value, &a->state_dir))
                return false;
            break;
        default:
            return false;
        }
    }
    return true;
}

static void
sleep_ms(unsigned ms)
{
    struct timespec t = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

    /* A signal cuts it short, which is what we want. */
    nanosleep(&t, NULL);
}

/* A progress line for a final event: "[3/20] task 7: succeeded (exit 0)". */
static void
print_event(const rp_event *ev, unsigned done, uint64_t total)
{
    const char *state = rp_task_state_name(ev->state);

    if (ev->attempt == 0)
        fprintf(stderr, "[%u/%llu] task %llu: %s (did not run)\n", done,
                (unsigned long long)total, (unsigned long long)ev->task, state);
    else if (ev->signal != 0)
        fprintf(stderr, "[%u/%llu] task %llu: %s (signal %d)\n", done,
                (unsigned long long)total, (unsigned long long)ev->task, state, ev->signal);
    else
        fprintf(stderr, "[%u/%llu] task %llu: %s (exit %d)\n", done,
                (unsigned long long)total, (unsigned long long)ev->task, state, ev->exit_code);
}

/* Waits until nothing is queued or running, or a signal; fills the
 * counts. Errors: what rp_pool_stats or the bus say. */
static rp_status
wait_all(rp_pool *pool, rp_subscription *sub, struct outcome *o)
{
    unsigned done = 0;
    rp_stats st;
    rp_status s;

    for (;;) {
        if ((s = rp_pool_stats(pool, &st)) != RP_OK)
            return s;
        o->succeeded = st.succeeded;
        o->failed = st.failed;
        o->cancelled = st.cancelled;
        o->timed_out = st.timed_out;
        o->unfinished = st.queued + st.running;
        if (o->unfinished == 0)
            return RP_OK;
        if ((o->signal = rp_cli_interrupted()) != 0)
            return RP_OK;
        if (sub == NULL) {
            sleep_ms(POLL_MS);
            continue;
        }

        rp_event ev;

        s = rp_subscription_next(sub, POLL_MS, &ev, NULL);
        if (s == RP_OK && rp_task_state_is_final(ev.state))
            print_event(&ev, ++done, o->total);
        else if (s != RP_OK && s != RP_ERR_TIMEOUT)
            return s;
    }
}

static int
report(const struct resume_args *a, const char *dir, const struct outcome *o)
{
    uint64_t not_ok = o->failed + o->cancelled + o->timed_out;

    if (a->json) {
        cJSON *j = cJSON_CreateObject(), *r = cJSON_CreateObject();
        char *text;

        cJSON_AddStringToObject(j, "state_dir", dir);
        cJSON_AddNumberToObject(r, "queued", (double)o->recovered.queued);
        cJSON_AddNumberToObject(r, "interrupted", (double)o->recovered.interrupted);
        cJSON_AddNumberToObject(r, "killed", (double)o->recovered.killed);
        cJSON_AddNumberToObject(r, "unrecoverable", (double)o->recovered.unrecoverable);
        cJSON_AddItemToObject(j, "recovered", r);
        cJSON_AddNumberToObject(j, "tasks", (double)o->total);
        cJSON_AddNumberToObject(j, "succeeded", (double)o->succeeded);
        cJSON_AddNumberToObject(j, "failed", (double)o->failed);
        cJSON_AddNumberToObject(j, "cancelled", (double)o->cancelled);
        cJSON_AddNumberToObject(j, "timed_out", (double)o->timed_out);
        cJSON_AddNumberToObject(j, "unfinished", (double)o->unfinished);
        text = cJSON_PrintUnformatted(j);
        printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(j);
    } else if (o->total == 0) {
        printf("nothing to resume in %s\n", dir);
    } else {
        printf("resumed %llu task%s: %llu succeeded, %llu failed",
               (unsigned long long)o->total, o->total == 1 ? "" : "s",
               (unsigned long long)o->succeeded, (unsigned long long)not_ok);
        if (o->unfinished > 0)
            printf(", %llu left queued", (unsigned long long)o->unfinished);
        printf("\n");
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        rp_cli_error("cannot write the output: %s", strerror(errno));
        return RP_EXIT_FAILED;
    }
    if (o->signal != 0)
        return 128 + o->signal;
    return not_ok > 0 ? RP_EXIT_FAILED : RP_EXIT_OK;
}

static int
resume(const struct resume_args *a, const char *dir)
{
    struct outcome o;
    rp_subscription *sub = NULL;
    rp_pool *pool = NULL;
    rp_status s;
    int rc;

    memset(&o, 0, sizeof o);
    /* Before anything runs, so no signal can end us with children left. */
    rp_cli_catch_interrupts();
    if ((rc = rp_cli_pool_open("resume", a->workers, dir, NULL, true, &pool)) != RP_EXIT_OK)
        goto out;
    rc = RP_EXIT_ERROR;
    if ((s = rp_pool_recovery(pool, &o.recovered)) != RP_OK) {
        rp_cli_error("resume: cannot tell what was recovered: %s", rp_strerror(s));
        goto out;
    }
    o.total = o.recovered.queued + o.recovered.interrupted + o.recovered.unrecoverable;
    if (o.total > 0 && !a->json) {
        fprintf(stderr, "repartir: resuming %llu task%s from %s: %llu queued, %llu interrupted",
                (unsigned long long)o.total, o.total == 1 ? "" : "s", dir,
                (unsigned long long)o.recovered.queued,
                (unsigned long long)o.recovered.interrupted);
        if (o.recovered.killed > 0)
            fprintf(stderr, " (%llu leftover process%s killed)",
                    (unsigned long long)o.recovered.killed, o.recovered.killed == 1 ? "" : "es");
        fprintf(stderr, ", %llu unrecoverable\n", (unsigned long long)o.recovered.unrecoverable);
    }
    if (isatty(STDERR_FILENO) && (s = rp_subscribe(pool, &sub)) != RP_OK) {
        rp_cli_error("resume: cannot follow the tasks: %s", rp_strerror(s));
        goto out;
    }
    if ((s = wait_all(pool, sub, &o)) != RP_OK) {
        rp_cli_error("resume: lost track of the tasks: %s", rp_strerror(s));
        goto out;
    }
    if (o.signal != 0)
        rp_cli_error("interrupted by %s: stopping; what has not ended stays queued in %s",
                     o.signal == SIGINT ? "SIGINT" : "SIGTERM", dir);
    rp_unsubscribe(sub);
    sub = NULL;
    /* Leaves anything unfinished queued in the store; commits every result. */
    rp_pool_shutdown(pool);
    pool = NULL;
    rc = report(a, dir, &o);

out:
    if (sub != NULL)
        rp_unsubscribe(sub);
    rp_pool_shutdown(pool);
    return rc;
}

int
rp_cli_resume(int argc, char **argv)
{
    struct resume_args a;
    char *dir = NULL;
    int rc = RP_EXIT_USAGE;

    if (!parse_args(argc, argv, &a))
        goto out;
    if ((dir = rp_cli_state_dir(a.state_dir)) == NULL)
        goto out;
    if ((rc = rp_cli_check_store("resume", dir)) != RP_EXIT_OK)
        goto out;
    rc = resume(&a, dir);

out:
    free(dir);
    return rc;
}
