/*
 * report.c -- running work for the commands and reporting it (report.h):
 * the interrupt handler, the pool, collecting a job's results, and
 * printing them as output passed through or as one JSON document.
 *
 * Design:
 *   - Results are collected while the job runs and printed only after the
 *     pool has shut down: output of several shards never interleaves, and
 *     when stdout is a closed pipe, SIGPIPE cannot kill us with children
 *     still running.
 *   - When stderr is a terminal, one progress line per finished task, in
 *     the order they finish (from the event bus); otherwise no progress, so
 *     scripts see only the tasks' own bytes.
 *
 * THREADS: all of this file runs on the main thread, except on_signal.
 * The SIGINT/SIGTERM handler may run on any thread (the pool's workers do
 * not block signals); it only records the signal in `interrupted`, and the
 * main thread, which polls it between bounded waits, acts on it.
 */
#include "cli/report.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/remote.h"
#include "engine/alloc.h"

/* How long the main thread blocks before it looks at `interrupted` again:
 * the worst-case delay between Ctrl-C and the job being cancelled. */
#define POLL_MS 100
/* With progress on, the pending tasks are polled directly at most this
 * often, in case an event was missed; normally events find every task. */
#define SWEEP_EVERY_MS 1000

/* The first SIGINT or SIGTERM received; 0 while none. A lock-free atomic,
 * so the handler may store to it (C17 7.14.1.1). */
static atomic_int interrupted;

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal handler needs a lock-free int");

/* ---- interrupts ---- */

static void
on_signal(int sig)
{
    int none = 0;

    /* Relaxed: the flag carries no other data, and the main thread only
     * needs to see it eventually (it polls every POLL_MS). */
    atomic_compare_exchange_strong_explicit(&interrupted, &none, sig,
                                            memory_order_relaxed, memory_order_relaxed);
}

void
rp_cli_catch_interrupts(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int
rp_cli_interrupted(void)
{
    /* Relaxed: see on_signal. */
    return atomic_load_explicit(&interrupted, memory_order_relaxed);
}

/* ---- the pool ---- */

int
rp_cli_pool_open(const char *command, int workers, const char *state_dir,
                 struct rp_cli_remote *remote, bool gpu, rp_pool **out)
{
    rp_pool_config cfg;
    rp_status s;
    char *why = NULL;

    rp_pool_config_init(&cfg);
    cfg.cpu_workers = workers;
    cfg.gpu = gpu;
    cfg.state_dir = state_dir;
    if (remote != NULL && !rp_cli_remote_apply(remote, command, &cfg))
        return RP_EXIT_USAGE;
    s = rp_pool_create_why(&cfg, out, &why);
    if (s == RP_OK)
        return RP_EXIT_OK;
    if (state_dir == NULL)
        rp_cli_error("cannot start the engine: %s", why != NULL ? why : rp_strerror(s));
    else if (s == RP_ERR_BUSY)
        rp_cli_error("%s: cannot use the store at %s: %s", command, state_dir,
                     why != NULL ? why : "another pool is using it");
    else
        rp_cli_error("%s: cannot open the store at %s: %s", command, state_dir,
                     why != NULL ? why : rp_strerror(s));
    free(why);
    return RP_EXIT_ERROR;
}

void
rp_cli_note_recovery(rp_pool *pool, const char *state_dir)
{
    rp_recovery r;

    if (rp_pool_recovery(pool, &r) != RP_OK ||
        r.queued + r.interrupted + r.unrecoverable + r.killed == 0)
        return;
    fprintf(stderr,
            "repartir: recovered unfinished work from %s: %llu queued, %llu interrupted, "
            "%llu killed, %llu unrecoverable; it runs in this process too while it lives\n",
            state_dir, (unsigned long long)r.queued, (unsigned long long)r.interrupted,
            (unsigned long long)r.killed, (unsigned long long)r.unrecoverable);
}

/* ---- collecting a job's results ---- */

void
rp_cli_job_init(struct rp_cli_job *j, rp_pool *pool, unsigned shards)
{
    memset(j, 0, sizeof *j);
    j->pool = pool;
    j->shards = shards;
    j->ids = rp_xcalloc(shards, sizeof *j->ids);
    j->results = rp_xcalloc(shards, sizeof *j->results);
    j->progress = isatty(STDERR_FILENO);
}

void
rp_cli_job_free(struct rp_cli_job *j)
{
    if (j->results != NULL)
        for (unsigned i = 0; i < j->shards; i++)
            rp_result_free(j->results[i]);
    free(j->results);
    free(j->ids);
    j->results = NULL;
    j->ids = NULL;
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
collect(struct rp_cli_job *j, unsigned shard, rp_result *r)
{
    char what[128];

    j->results[shard] = r;
    j->collected++;
    while (j->first_pending < j->shards && j->results[j->first_pending] != NULL)
        j->first_pending++;
    if (j->progress) {
        describe(r, what, sizeof what);
        fprintf(stderr, "[%u/%u] shard %u: %s\n", j->collected, j->shards, shard, what);
    }
}

/* Collects, without waiting, every pending task that has ended. */
static rp_status
sweep(struct rp_cli_job *j)
{
    for (unsigned i = j->first_pending; i < j->shards; i++) {
        rp_result *r;
        rp_status s;

        if (j->results[i] != NULL)
            continue;
        s = rp_wait(j->pool, j->ids[i], 0, &r);
        if (s == RP_OK)
            collect(j, i, r);
        else if (s != RP_ERR_TIMEOUT)
            return s;
    }
    return RP_OK;
}

static void
check_interrupt(struct rp_cli_job *j)
{
    int sig = rp_cli_interrupted();

    if (sig == 0 || j->cancelled)
        return;
    j->cancelled = true;
    rp_cli_error("interrupted by %s: cancelling the job", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rp_cancel_job(j->pool, j->job);
}

rp_status
rp_cli_job_collect(struct rp_cli_job *j, rp_subscription *sub)
{
    unsigned idle_ms = 0;
    rp_status s;

    while (j->collected < j->shards) {
        check_interrupt(j);
        if (sub == NULL) {
            rp_result *r;

            s = rp_wait(j->pool, j->ids[j->first_pending], POLL_MS, &r);
            if (s == RP_OK)
                collect(j, j->first_pending, r);
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
        if (s == RP_OK && ev.job == j->job && rp_task_state_is_final(ev.state) &&
            ev.shard < j->shards && j->results[ev.shard] == NULL) {
            rp_result *r;

            /* Final already, so this returns promptly. */
            if ((s = rp_wait(j->pool, ev.task, -1, &r)) != RP_OK)
                return s;
            collect(j, ev.shard, r);
        }
        if (lost > 0 || idle_ms >= SWEEP_EVERY_MS) {
            idle_ms = 0;
            if ((s = sweep(j)) != RP_OK)
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
        char *text = rp_xmemdup0(data, len);

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
report_json(const struct rp_cli_job *j, const cJSON *head, unsigned *failed /* OUT */)
{
    cJSON_Hooks hooks = { .malloc_fn = rp_xmalloc, .free_fn = free };

    /* cJSON then shares our out-of-memory policy and never returns NULL. */
    cJSON_InitHooks(&hooks);
    *failed = 0;
    printf("{\"job\":%llu,", (unsigned long long)j->job);
    if (head != NULL && head->child != NULL) {
        char *text = cJSON_PrintUnformatted(head);

        /* Its members, without the braces around them. */
        printf("%.*s,", (int)(strlen(text) - 2), text + 1);
        cJSON_free(text);
    }
    printf("\"tasks\":[");
    for (unsigned i = 0; i < j->shards; i++) {
        cJSON *o = task_json(j->results[i]);
        char *text = cJSON_PrintUnformatted(o);

        printf("%s%s", i > 0 ? "," : "", text);
        cJSON_free(text);
        cJSON_Delete(o);
        if (!rp_result_is_success(j->results[i]))
            (*failed)++;
    }
    printf("],\"succeeded\":%u,\"failed\":%u}\n", j->shards - *failed, *failed);
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
report_text(const struct rp_cli_job *j, unsigned *failed /* OUT */)
{
    bool mid_line = false;     /* the last byte on stderr was not a newline */
    char what[128], prefix[32] = "";

    *failed = 0;
    for (unsigned i = 0; i < j->shards; i++) {
        const rp_result *r = j->results[i];
        size_t out_len, err_len;
        const char *out = rp_result_stdout(r, &out_len);
        const char *err = rp_result_stderr(r, &err_len);

        if (j->shards > 1) {
            describe(r, what, sizeof what);
            if (mid_line)
                fputc('\n', stderr);
            fprintf(stderr, "== shard %u/%u: %s\n", i, j->shards, what);
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
    if (j->shards > 1 && *failed > 0)
        rp_cli_error("%u of %u tasks did not succeed", *failed, j->shards);
}

int
rp_cli_job_report(const struct rp_cli_job *j, bool json, const cJSON *head)
{
    unsigned failed;
    int rc, sig;

    if (json)
        report_json(j, head, &failed);
    else
        report_text(j, &failed);
    rc = failed > 0 ? RP_EXIT_FAILED : RP_EXIT_OK;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        rp_cli_error("cannot write the output: %s", strerror(errno));
        rc = RP_EXIT_FAILED;
    }
    if ((sig = rp_cli_interrupted()) != 0)
        rc = 128 + sig;
    return rc;
}
