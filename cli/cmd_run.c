/*
 * cmd_run.c -- `repartir run [OPTIONS] -- BIN ARGS...`: runs one command as
 * a job of N shards on an embedded pool, then passes each shard's captured
 * output through (or prints one JSON document) and exits 0 only if every
 * shard succeeded.
 *
 * Design:
 *   - Everything the user typed is checked before the engine starts (the
 *     options, the --cwd directory, the binary the way execvp would find
 *     it), so a bad command line runs nothing and exits RP_EXIT_USAGE.
 *   - Results are collected while the job runs and printed only after the
 *     pool has shut down: output of several shards never interleaves, and
 *     when stdout is a closed pipe, SIGPIPE cannot kill us with children
 *     still running.
 *   - When stderr is a terminal, one progress line per finished task, in
 *     the order they finish (from the event bus); otherwise no progress, so
 *     scripts see only the tasks' own bytes.
 *
 * THREADS: all of this file runs on the main thread. The SIGINT/SIGTERM
 * handler may run on any thread (the pool's workers do not block signals);
 * it only records the signal in `interrupted`, and the main thread, which
 * polls it between bounded waits, cancels the job.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <repartir.h>

#include "cli/cli.h"
#include "engine/alloc.h"

#define MAX_SHARDS 1000000               /* rp_submit_job's own bound */
#define MAX_RETRIES 1000                 /* rp_task_set_retries' own bound */
#define MAX_TIMEOUT_S (7 * 24 * 3600)    /* one week */
/* How long the main thread blocks before it looks at `interrupted` again:
 * the worst-case delay between Ctrl-C and the job being cancelled. */
#define POLL_MS 100
/* With progress on, the pending tasks are polled directly at most this
 * often, in case an event was missed; normally events find every task. */
#define SWEEP_EVERY_MS 1000

/*
 * The options, in the order help lists them. One list generates the parse
 * table and the help text (rp_cli_run_help, the `help` field of the command
 * table in main.c), so the two cannot drift. VALUE(id, name, arg, help)
 * takes a value, FLAG(id, name, help) does not.
 */
#define RUN_OPTIONS(VALUE, FLAG)                                              \
    VALUE(SHARDS, "shards", "N",                                              \
          "run N copies of the command (1-1000000; default 1); copy i\n"      \
          "        sees REPARTIR_SHARD=i and REPARTIR_TOTAL_SHARDS=N")        \
    VALUE(PRIORITY, "priority", "P",                                          \
          "low, normal, high or critical (default normal)")                   \
    VALUE(TIMEOUT, "timeout", "SEC",                                          \
          "wall-clock limit of each attempt, in seconds, decimals allowed\n"  \
          "        (more than 0, at most 604800 = 1 week; default none)")     \
    VALUE(RETRIES, "retries", "N",                                            \
          "run a failed task again up to N times, after a growing pause\n"    \
          "        (0-1000; default 0)")                                      \
    FLAG(JSON, "json",                                                        \
         "print one JSON document with every task's result instead of\n"      \
         "        passing their output through")                              \
    VALUE(WORKERS, "workers", "N",                                            \
          "tasks running at once (1-1024; default: one per CPU)")             \
    VALUE(ENV, "env", "KEY=VALUE",                                            \
          "set KEY in the command's environment (repeatable)")                \
    VALUE(CWD, "cwd", "DIR",                                                  \
          "run the command in DIR (default: the current directory)")

enum run_option_id {
#define RUN_VALUE_ID(id, name, arg, help) RUN_OPT_##id,
#define RUN_FLAG_ID(id, name, help) RUN_OPT_##id,
    RUN_OPTIONS(RUN_VALUE_ID, RUN_FLAG_ID)
#undef RUN_VALUE_ID
#undef RUN_FLAG_ID
    RUN_OPT_COUNT
};

static const struct rp_cli_option run_options[RUN_OPT_COUNT] = {
#define RUN_VALUE_ENTRY(id, nm, a, h) [RUN_OPT_##id] = { .name = "--" nm, .arg = a },
#define RUN_FLAG_ENTRY(id, nm, h) [RUN_OPT_##id] = { .name = "--" nm, .arg = NULL },
    RUN_OPTIONS(RUN_VALUE_ENTRY, RUN_FLAG_ENTRY)
#undef RUN_VALUE_ENTRY
#undef RUN_FLAG_ENTRY
};

const char rp_cli_run_help[] =
#define RUN_VALUE_HELP(id, name, arg, help) "  --" name " " arg "\n        " help "\n"
#define RUN_FLAG_HELP(id, name, help) "  --" name "\n        " help "\n"
    RUN_OPTIONS(RUN_VALUE_HELP, RUN_FLAG_HELP)
#undef RUN_VALUE_HELP
#undef RUN_FLAG_HELP
    "\n"
    "The command and its arguments follow '--'; a BIN without '/' is looked\n"
    "up in PATH. Without --json, each task's stdout and stderr are passed\n"
    "through in shard order once all have ended. When stderr is a terminal,\n"
    "a line is printed as each task ends. Exit status: 0 if every task\n"
    "succeeded, 1 if any did not, 2 for a bad command line, 3 if the engine\n"
    "could not start, 130/143 after SIGINT/SIGTERM (the job is cancelled).\n";

static const struct {
    const char *name;
    rp_priority priority;
} priority_names[] = {
    { "low", RP_PRIORITY_LOW },
    { "normal", RP_PRIORITY_NORMAL },
    { "high", RP_PRIORITY_HIGH },
    { "critical", RP_PRIORITY_CRITICAL },
};

/* What the command line asked for. Strings point into argv. */
struct run_args {
    unsigned shards;
    rp_priority priority;
    unsigned timeout_ms;        /* 0 = none */
    unsigned retries;
    int workers;                /* 0 = one per CPU */
    bool json;
    const char **env;           /* "KEY=VALUE", n_env of them; owned */
    size_t n_env;
    const char *cwd;            /* NULL = ours */
    char **command;             /* BIN ARGS..., n_command of them */
    int n_command;
};

/* A job being run and what it has produced so far. */
struct run_state {
    rp_pool *pool;
    rp_job_id job;
    unsigned shards;
    rp_task_id *ids;            /* in shard order */
    rp_result **results;        /* in shard order; NULL until collected */
    unsigned collected;
    unsigned first_pending;     /* every shard below it is collected */
    bool progress;              /* a line per finished task on stderr */
    bool cancelled;             /* rp_cancel_job was called */
};

/* The first SIGINT or SIGTERM received; 0 while none. A lock-free atomic,
 * so the handler may store to it (C17 7.14.1.1). */
static atomic_int interrupted;

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal handler needs a lock-free int");

/* ---- the command line ---- */

/* Seconds as digits with an optional decimal part ("30", "0.2", ".5"),
 * into whole milliseconds, at least 1. strtod alone would also take "inf",
 * "nan", hex and exponents, which nobody means as a timeout. */
static bool
parse_seconds(const char *what, const char *text, unsigned *ms /* OUT */)
{
    size_t whole = strspn(text, "0123456789"), frac = 0;
    const char *p = text + whole;
    double v;

    if (*p == '.') {
        frac = strspn(p + 1, "0123456789");
        p += 1 + frac;
    }
    if (*p != '\0' || whole + frac == 0) {
        rp_cli_error("%s: '%s' is not a number of seconds (like 30 or 0.5)", what, text);
        return false;
    }
    v = strtod(text, NULL);
    if (!(v > 0) || v > MAX_TIMEOUT_S) {
        rp_cli_error("%s: %s is out of range (more than 0, at most %d seconds = 1 week)",
                     what, text, MAX_TIMEOUT_S);
        return false;
    }
    *ms = (unsigned)(v * 1000 + 0.5);
    if (*ms == 0)                /* below half a millisecond: still a limit */
        *ms = 1;
    return true;
}

static bool
parse_priority(const char *what, const char *text, rp_priority *out /* OUT */)
{
    for (size_t i = 0; i < sizeof priority_names / sizeof priority_names[0]; i++) {
        if (strcmp(priority_names[i].name, text) == 0) {
            *out = priority_names[i].priority;
            return true;
        }
    }
    rp_cli_error("%s: '%s' is not one of low, normal, high, critical", what, text);
    return false;
}

/* KEY=VALUE with a non-empty KEY; VALUE may be empty. */
static bool
check_env(const char *what, const char *text)
{
    const char *eq = strchr(text, '=');

    if (eq == NULL || eq == text) {
        rp_cli_error("%s: '%s' is not KEY=VALUE", what, text);
        return false;
    }
    return true;
}

static bool
check_directory(const char *what, const char *dir)
{
    struct stat st;

    if (stat(dir, &st) != 0) {
        rp_cli_error("%s: '%s': %s", what, dir, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        rp_cli_error("%s: '%s' is not a directory", what, dir);
        return false;
    }
    if (access(dir, X_OK) != 0) {
        rp_cli_error("%s: '%s': %s", what, dir, strerror(errno));
        return false;
    }
    return true;
}

/* Applies one option and its value (NULL for a flag). */
static bool
apply_option(struct run_args *a, int id, const char *value)
{
    const struct rp_cli_option *o = &run_options[id];
    long n;

    switch ((enum run_option_id)id) {
    case RUN_OPT_SHARDS:
        if (!rp_cli_parse_int(o->name, value, 1, MAX_SHARDS, &n))
            return false;
        a->shards = (unsigned)n;
        return true;
    case RUN_OPT_PRIORITY:
        return parse_priority(o->name, value, &a->priority);
    case RUN_OPT_TIMEOUT:
        return parse_seconds(o->name, value, &a->timeout_ms);
    case RUN_OPT_RETRIES:
        if (!rp_cli_parse_int(o->name, value, 0, MAX_RETRIES, &n))
            return false;
        a->retries = (unsigned)n;
        return true;
    case RUN_OPT_JSON:
        a->json = true;
        return true;
    case RUN_OPT_WORKERS:
        if (!rp_cli_parse_int(o->name, value, 1, RP_POOL_MAX_WORKERS, &n))
            return false;
        a->workers = (int)n;
        return true;
    case RUN_OPT_ENV:
        if (!check_env(o->name, value))
            return false;
        a->env[a->n_env++] = value;
        return true;
    case RUN_OPT_CWD:
        if (!check_directory(o->name, value))
            return false;
        a->cwd = value;
        return true;
    case RUN_OPT_COUNT:
        break;
    }
    return false;
}

/* Fills *a from argv (argv[0] = "run"): options, then "--" and the
 * command. On error, says why on stderr and returns false. a->env is
 * allocated either way; the caller frees it. */
static bool
parse_args(int argc, char **argv, struct run_args *a /* OUT */)
{
    struct rp_cli_args args = {
        .command = "run", .options = run_options, .n_options = RUN_OPT_COUNT,
        .argc = argc, .argv = argv,
    };
    const char *value;
    int id;

    *a = (struct run_args){ .shards = 1, .priority = RP_PRIORITY_NORMAL };
    a->env = rp_xcalloc((size_t)argc, sizeof *a->env);
    while ((id = rp_cli_args_next(&args, &value)) >= 0)
        if (!apply_option(a, id, value))
            return false;
    if (id == RP_CLI_ARGS_BAD)
        return false;
    if (id == RP_CLI_ARGS_OPERAND && !args.operands_only) {
        rp_cli_error("run: '%s' is not an option; the command goes after '--' "
                     "(repartir run [OPTIONS] -- BIN ARGS...)", value);
        return false;
    }
    if (id == RP_CLI_ARGS_END) {
        rp_cli_error("run: no command to run (repartir run [OPTIONS] -- BIN ARGS...)");
        return false;
    }
    /* Everything from the first operand after "--" is the command. */
    a->command = argv + args.next - 1;
    a->n_command = argc - (args.next - 1);
    return true;
}

/* ---- the binary, checked the way execvp will look for it ---- */

/* 0 if `path` (relative to `cwd` when that is set and path is relative,
 * since the child changes directory before it execs) names an executable
 * regular file, else an errno value saying why not. */
static int
probe_binary(const char *path, const char *cwd)
{
    char buf[PATH_MAX];
    struct stat st;

    if (cwd != NULL && path[0] != '/') {
        if ((size_t)snprintf(buf, sizeof buf, "%s/%s", cwd, path) >= sizeof buf)
            return ENAMETOOLONG;
        path = buf;
    }
    if (stat(path, &st) != 0)
        return errno;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0)
        return EACCES;
    return 0;
}

static bool
report_binary_error(const char *bin, int err)
{
    if (err == EISDIR)
        rp_cli_error("run: cannot run '%s': it is a directory", bin);
    else if (err == EACCES)
        rp_cli_error("run: cannot run '%s': not an executable file (%s)", bin,
                     strerror(err));
    else
        rp_cli_error("run: cannot run '%s': %s", bin, strerror(err));
    return false;
}

/* True if `bin` can be run: a path is probed as it is; a bare name is
 * looked for in each PATH directory, as execvp does (an empty entry is the
 * current directory; no PATH means /bin:/usr/bin). Says why not on stderr. */
static bool
check_binary(const char *bin, const char *cwd)
{
    const char *path = getenv("PATH"), *dir, *end;
    char candidate[PATH_MAX];
    int err, first_err = 0;

    if (bin[0] == '\0') {
        rp_cli_error("run: the command name is empty");
        return false;
    }
    if (strchr(bin, '/') != NULL) {
        err = probe_binary(bin, cwd);
        return err == 0 ? true : report_binary_error(bin, err);
    }
    if (path == NULL)
        path = "/bin:/usr/bin";
    for (dir = path;; dir = end + 1) {
        size_t len;

        end = strchrnul(dir, ':');
        len = (size_t)(end - dir);
        if (len == 0) {          /* an empty entry means "." */
            dir = ".";
            len = 1;
        }
        if ((size_t)snprintf(candidate, sizeof candidate, "%.*s/%s", (int)len, dir, bin) <
            sizeof candidate) {
            err = probe_binary(candidate, cwd);
            if (err == 0)
                return true;
            /* Like execvp: something there that cannot be run is worth
             * reporting if nothing later in PATH can. */
            if (first_err == 0 && err != ENOENT && err != ENOTDIR)
                first_err = err;
        }
        if (*end == '\0')
            break;
    }
    if (first_err != 0)
        return report_binary_error(bin, first_err);
    rp_cli_error("run: cannot run '%s': not found in PATH", bin);
    return false;
}

/* ---- running the job ---- */

static void
on_signal(int sig)
{
    int none = 0;

    /* Relaxed: the flag carries no other data, and the main thread only
     * needs to see it eventually (it polls every POLL_MS). */
    atomic_compare_exchange_strong_explicit(&interrupted, &none, sig,
                                            memory_order_relaxed, memory_order_relaxed);
}

/* SA_RESETHAND: a second Ctrl-C gets the default action and ends us at
 * once, for when the first one's orderly cancel takes too long. */
static void
catch_interrupts(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static rp_status
build_task(const struct run_args *a, rp_task **out /* OUT */)
{
    rp_task *t;
    rp_status s = RP_ERR_INVALID;

    if ((t = rp_task_new(a->command[0])) == NULL)
        goto fail;
    for (int i = 1; i < a->n_command; i++)
        if ((s = rp_task_add_arg(t, a->command[i])) != RP_OK)
            goto fail;
    for (size_t i = 0; i < a->n_env; i++) {
        char *key = rp_xstrdup(a->env[i]);

        key[strcspn(key, "=")] = '\0';
        s = rp_task_set_env(t, key, strchr(a->env[i], '=') + 1);
        free(key);
        if (s != RP_OK)
            goto fail;
    }
    if (a->cwd != NULL && (s = rp_task_set_cwd(t, a->cwd)) != RP_OK)
        goto fail;
    if ((s = rp_task_set_priority(t, a->priority)) != RP_OK)
        goto fail;
    if ((s = rp_task_set_timeout_ms(t, a->timeout_ms)) != RP_OK)
        goto fail;
    if ((s = rp_task_set_retries(t, a->retries)) != RP_OK)
        goto fail;
    /* Someone who asks for retries on the command line means "if it
     * fails", and for a command that mostly means a non-zero exit. */
    if (a->retries > 0 && (s = rp_task_set_retry_on_exit(t, true)) != RP_OK)
        goto fail;
    *out = t;
    return RP_OK;

fail:
    rp_task_free(t);
    return s;
}

/* "succeeded (exit 0, 0.12 s)", "failed (signal 9, 1.00 s, 3 attempts)",
 * "cancelled (did not run)". */
static void
describe(const rp_result *r, char *buf, size_t size)
{
    rp_result_times tm;
    unsigned attempts = rp_result_attempts(r);
    const char *state = rp_task_state_name(rp_result_state(r));
    char how[32];

    if (attempts == 0) {
        snprintf(buf, size, "%s (did not run)", state);
        return;
    }
    rp_result_get_times(r, &tm);
    if (rp_result_signal(r) != 0)
        snprintf(how, sizeof how, "signal %d", rp_result_signal(r));
    else
        snprintf(how, sizeof how, "exit %d", rp_result_exit_code(r));
    if (attempts > 1)
        snprintf(buf, size, "%s (%s, %.2f s, %u attempts)", state, how,
                 (double)tm.wall_ns * 1e-9, attempts);
    else
        snprintf(buf, size, "%s (%s, %.2f s)", state, how, (double)tm.wall_ns * 1e-9);
}

static void
collect(struct run_state *rs, unsigned shard, rp_result *r)
{
    char what[128];

    rs->results[shard] = r;
    rs->collected++;
    while (rs->first_pending < rs->shards && rs->results[rs->first_pending] != NULL)
        rs->first_pending++;
    if (rs->progress) {
        describe(r, what, sizeof what);
        fprintf(stderr, "[%u/%u] shard %u: %s\n", rs->collected, rs->shards, shard, what);
    }
}

/* Collects, without waiting, every pending task that has ended. */
static rp_status
sweep(struct run_state *rs)
{
    for (unsigned i = rs->first_pending; i < rs->shards; i++) {
        rp_result *r;
        rp_status s;

        if (rs->results[i] != NULL)
            continue;
        s = rp_wait(rs->pool, rs->ids[i], 0, &r);
        if (s == RP_OK)
            collect(rs, i, r);
        else if (s != RP_ERR_TIMEOUT)
            return s;
    }
    return RP_OK;
}

static void
check_interrupt(struct run_state *rs)
{
    int sig = atomic_load_explicit(&interrupted, memory_order_relaxed);

    if (sig == 0 || rs->cancelled)
        return;
    rs->cancelled = true;
    rp_cli_error("interrupted by %s: cancelling the job", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rp_cancel_job(rs->pool, rs->job);
}

/* Waits for every task of the job and keeps its result. With progress, in
 * the order they end (events); without, simply in shard order. Cancels the
 * job when interrupted and goes on collecting: cancelled tasks end quickly.
 * Errors: whatever rp_wait or the bus says when it loses track of a task. */
static rp_status
collect_all(struct run_state *rs, rp_subscription *sub)
{
    unsigned idle_ms = 0;
    rp_status s;

    while (rs->collected < rs->shards) {
        check_interrupt(rs);
        if (sub == NULL) {
            rp_result *r;

            s = rp_wait(rs->pool, rs->ids[rs->first_pending], POLL_MS, &r);
            if (s == RP_OK)
                collect(rs, rs->first_pending, r);
            else if (s != RP_ERR_TIMEOUT)
                return s;
            continue;
        }

        rp_event ev;
        uint64_t lost = 0;

        s = rp_subscription_next(sub, POLL_MS, &ev, &lost);
        if (s != RP_OK && s != RP_ERR_TIMEOUT)
            return s;
        idle_ms = s == RP_ERR_TIMEOUT ? idle_ms + POLL_MS : 0;
        if (s == RP_OK && ev.job == rs->job && rp_task_state_is_final(ev.state) &&
            ev.shard < rs->shards && rs->results[ev.shard] == NULL) {
            rp_result *r;

            /* Final already, so this returns promptly. */
            if ((s = rp_wait(rs->pool, ev.task, -1, &r)) != RP_OK)
                return s;
            collect(rs, ev.shard, r);
        }
        if (lost > 0 || idle_ms >= SWEEP_EVERY_MS) {
            idle_ms = 0;
            if ((s = sweep(rs)) != RP_OK)
                return s;
        }
    }
    return RP_OK;
}

/* ---- reporting ---- */


/* Adds the captured bytes as `name` when they are text, else as
 * `name`_base64, so that no output can corrupt the document. */
static void
add_stream(cJSON *o, const char *name, const char *data, size_t len)
{
    char key[32];

    if (rp_cli_is_json_text(data, len)) {
        char *text = rp_xmalloc(len + 1);

        memcpy(text, data, len);
        text[len] = '\0';
        cJSON_AddStringToObject(o, name, text);
        free(text);
    } else {
        char *b64 = rp_cli_base64(data, len);

        snprintf(key, sizeof key, "%s_base64", name);
        cJSON_AddStringToObject(o, key, b64);
        free(b64);
    }
}

/* Milliseconds with three decimals: enough, and prints without the noise
 * of a binary fraction. */
static double
to_ms(uint64_t ns)
{
    return (double)((ns + 500) / 1000) / 1000.0;
}

static cJSON *
task_json(const rp_result *r)
{
    cJSON *o = cJSON_CreateObject();
    rp_result_times tm;
    const char *out, *err;
    size_t out_len, err_len;

    rp_result_get_times(r, &tm);
    out = rp_result_stdout(r, &out_len);
    err = rp_result_stderr(r, &err_len);
    cJSON_AddNumberToObject(o, "task", (double)rp_result_task(r));
    cJSON_AddNumberToObject(o, "shard", rp_result_shard(r));
    cJSON_AddStringToObject(o, "state", rp_task_state_name(rp_result_state(r)));
    cJSON_AddNumberToObject(o, "exit_code", rp_result_exit_code(r));
    cJSON_AddNumberToObject(o, "signal", rp_result_signal(r));
    cJSON_AddNumberToObject(o, "attempts", rp_result_attempts(r));
    if (rp_result_is_success(r))
        cJSON_AddNullToObject(o, "error");
    else
        cJSON_AddStringToObject(o, "error", rp_result_error(r));
    cJSON_AddNumberToObject(o, "wall_ms", to_ms(tm.wall_ns));
    cJSON_AddNumberToObject(o, "cpu_ms", to_ms(tm.user_ns + tm.system_ns));
    cJSON_AddNumberToObject(o, "max_rss_kb", (double)tm.max_rss_kb);
    add_stream(o, "stdout", out, out_len);
    add_stream(o, "stderr", err, err_len);
    cJSON_AddNumberToObject(o, "stdout_bytes", (double)rp_result_stdout_total(r));
    cJSON_AddNumberToObject(o, "stderr_bytes", (double)rp_result_stderr_total(r));
    cJSON_AddBoolToObject(o, "stdout_truncated", rp_result_stdout_truncated(r));
    cJSON_AddBoolToObject(o, "stderr_truncated", rp_result_stderr_truncated(r));
    return o;
}

/* One JSON document on stdout. The frame is written here and each task
 * printed on its own, so a job of a million shards never needs its whole
 * tree in memory at once. */
static void
report_json(const struct run_state *rs, unsigned *failed /* OUT */)
{
    cJSON_Hooks hooks = { .malloc_fn = rp_xmalloc, .free_fn = free };

    /* cJSON then shares our out-of-memory policy and never returns NULL. */
    cJSON_InitHooks(&hooks);
    *failed = 0;
    printf("{\"job\":%llu,\"tasks\":[", (unsigned long long)rs->job);
    for (unsigned i = 0; i < rs->shards; i++) {
        cJSON *o = task_json(rs->results[i]);
        char *text = cJSON_PrintUnformatted(o);

        printf("%s%s", i > 0 ? "," : "", text);
        cJSON_free(text);
        cJSON_Delete(o);
        if (!rp_result_is_success(rs->results[i]))
            (*failed)++;
    }
    printf("],\"succeeded\":%u,\"failed\":%u}\n", rs->shards - *failed, *failed);
}

/* Our own line on stderr, on a line of its own even when the task's
 * stderr did not end with a newline. */
static void
note(bool *mid_line, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
note(bool *mid_line, const char *prefix, const char *fmt, ...)
{
    va_list ap;

    if (*mid_line)
        fputc('\n', stderr);
    *mid_line = false;
    fprintf(stderr, "repartir: %s", prefix);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Each task's stdout to stdout and stderr to stderr, in shard order; with
 * several shards, a header line on stderr before each. */
static void
report_text(const struct run_state *rs, unsigned *failed /* OUT */)
{
    bool mid_line = false;     /* the last byte on stderr was not a newline */
    char what[128], prefix[32] = "";

    *failed = 0;
    for (unsigned i = 0; i < rs->shards; i++) {
        const rp_result *r = rs->results[i];
        size_t out_len, err_len;
        const char *out = rp_result_stdout(r, &out_len);
        const char *err = rp_result_stderr(r, &err_len);

        if (rs->shards > 1) {
            describe(r, what, sizeof what);
            if (mid_line)
                fputc('\n', stderr);
            fprintf(stderr, "== shard %u/%u: %s\n", i, rs->shards, what);
            mid_line = false;
            snprintf(prefix, sizeof prefix, "shard %u: ", i);
        }
        fwrite(out, 1, out_len, stdout);
        /* Before anything else goes to stderr, which may be the same
         * terminal or file. */
        fflush(stdout);
        fwrite(err, 1, err_len, stderr);
        if (err_len > 0)
            mid_line = err[err_len - 1] != '\n';
        if (rp_result_stdout_truncated(r))
            note(&mid_line, prefix, "stdout truncated: these are the last %zu of %llu bytes",
                 out_len, (unsigned long long)rp_result_stdout_total(r));
        if (rp_result_stderr_truncated(r))
            note(&mid_line, prefix, "stderr truncated: these are the last %zu of %llu bytes",
                 err_len, (unsigned long long)rp_result_stderr_total(r));
        if (!rp_result_is_success(r)) {
            note(&mid_line, prefix, "%s", rp_result_error(r));
            (*failed)++;
        }
    }
    if (mid_line)
        fputc('\n', stderr);
    if (rs->shards > 1 && *failed > 0)
        rp_cli_error("%u of %u tasks did not succeed", *failed, rs->shards);
}

/* Runs the job the command line describes; returns the exit status. */
static int
run_job(const struct run_args *a)
{
    struct run_state rs = { .shards = a->shards, .progress = isatty(STDERR_FILENO) };
    rp_subscription *sub = NULL;
    rp_task *t = NULL;
    rp_pool_config cfg;
    rp_status s;
    unsigned failed;
    int rc = RP_EXIT_ERROR, sig;

    rs.ids = rp_xcalloc(a->shards, sizeof *rs.ids);
    rs.results = rp_xcalloc(a->shards, sizeof *rs.results);
    /* Before anything runs, so no signal can end us with children left. */
    catch_interrupts();
    rp_pool_config_init(&cfg);
    cfg.cpu_workers = a->workers;
    if ((s = rp_pool_create(&cfg, &rs.pool)) != RP_OK) {
        rp_cli_error("cannot start the engine: %s", rp_strerror(s));
        goto out;
    }
    if ((s = build_task(a, &t)) != RP_OK) {
        rp_cli_error("cannot describe the task: %s", rp_strerror(s));
        goto out;
    }
    /* Subscribed before submitting, so that no task can end unseen. */
    if (rs.progress && (s = rp_subscribe(rs.pool, &sub)) != RP_OK) {
        rp_cli_error("cannot follow the job: %s", rp_strerror(s));
        goto out;
    }
    s = rp_submit_job(rs.pool, t, a->shards, &rs.job, rs.ids);
    t = NULL;                    /* the pool's now, whatever the status */
    if (s != RP_OK) {
        rp_cli_error("cannot submit the job: %s", rp_strerror(s));
        goto out;
    }
    if ((s = collect_all(&rs, sub)) != RP_OK) {
        rp_cli_error("lost track of job %llu: %s", (unsigned long long)rs.job,
                     rp_strerror(s));
        goto out;                /* shutting the pool down cancels the rest */
    }
    rp_unsubscribe(sub);
    sub = NULL;
    rp_pool_shutdown(rs.pool);
    rs.pool = NULL;

    if (a->json)
        report_json(&rs, &failed);
    else
        report_text(&rs, &failed);
    rc = failed > 0 ? RP_EXIT_FAILED : RP_EXIT_OK;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        rp_cli_error("cannot write the output: %s", strerror(errno));
        rc = RP_EXIT_FAILED;
    }
    if ((sig = atomic_load_explicit(&interrupted, memory_order_relaxed)) != 0)
        rc = 128 + sig;

out:
    rp_task_free(t);
    if (sub != NULL)
        rp_unsubscribe(sub);
    rp_pool_shutdown(rs.pool);
    for (unsigned i = 0; i < a->shards; i++)
        rp_result_free(rs.results[i]);
    free(rs.results);
    free(rs.ids);
    return rc;
}

int
rp_cli_run(int argc, char **argv)
{
    struct run_args a;
    int rc = RP_EXIT_USAGE;

    if (!parse_args(argc, argv, &a))
        goto out;
    if (!check_binary(a.command[0], a.cwd))
        goto out;
    rc = run_job(&a);

out:
    free(a.env);
    return rc;
}
