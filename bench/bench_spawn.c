/*
 * bench_spawn.c -- process tasks: how many short programs a pool runs per
 * second, how long a submitted task waits before it is spawned, and what a
 * queued task costs in memory.
 *
 *  1. Throughput: `count` runs of `/bin/true x`, P at a time, through
 *     rp_submit + rp_wait (every result checked), against a posix_spawn +
 *     waitpid loop that keeps P children in flight (no pipes, no process
 *     groups: the floor), `xargs -P P -n 1` and GNU `parallel -j P`, both
 *     fed one line per run on stdin. Target: repartir >= 0.9x the loop.
 *     Shown too: the same tasks as one job waited for with rp_job_wait
 *     (one wake-up in all), and the loop run on a thread that hands each
 *     exit to a waiting main thread, which is the floor for any engine
 *     whose caller waits task by task.
 *  2. Submit-to-start latency on an idle pool: one task at a time, waited
 *     for before the next; started_ns - submitted_ns of each result (the
 *     spawn itself is not in it). Target: p50 and p99 <= 50 us. The time
 *     the caller spends in rp_submit and the whole round trip are shown
 *     beside it.
 *  3. Memory per queued task: max_processes = 1, its slot held by
 *     `sleep 60`, then `queued` submits of `/bin/true x`; VmRSS growth /
 *     queued. Target: <= 1024 bytes. The submits and the shutdown (which
 *     cancels them all) are timed too.
 *
 *   bench_spawn [--workers 2] [--count 5000] [--rounds 3]
 *               [--parallel-count 1000] [--latency-count 2000]
 *               [--queued 1000000]                      the comparison
 *   bench_spawn --impl rp|rp-job|raw|raw-thread|xargs|parallel --workers P --count N
 *   bench_spawn --impl latency --workers P --count N
 *   bench_spawn --impl queued --workers P --count N
 *
 * GNU parallel runs about 300 programs a second, so it gets its own, smaller
 * count (--parallel-count); every figure is a rate, so they compare. xargs
 * and parallel report failures only through their exit status (123, or the
 * number of failed jobs): a zero status is taken as "every line ran and
 * succeeded", since -n 1 and one line per job map lines to runs one to one.
 * repartir and the loop count their runs themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <repartir.h>

#include "bench/common.h"

extern char **environ;

#define TRUE_BIN "/bin/true"
#define TRUE_ARG "x"              /* one argument each, as xargs -n 1 gives */
#define WARMUP 20                 /* untimed runs before a timed one */
#define WAIT_MS 60000             /* longest rp_wait for one /bin/true */

/* ---- bounds: every child dies rather than hang ---- */

static void
on_alarm(int sig)
{
    static const char msg[] = "bench_spawn: child ran past its time limit\n";

    (void)sig;
    (void)!write(2, msg, sizeof msg - 1);
    _exit(3);
}

/* Kills this process (and so fails the driver's run) after `seconds`. */
static void
watchdog(double seconds)
{
    signal(SIGALRM, on_alarm);
    alarm(seconds < 1 ? 1 : (unsigned)seconds);
}

/* ---- 1. throughput ---- */

static rp_task *
true_task(void)
{
    rp_task *t = rp_task_new(TRUE_BIN);

    if (t != NULL && rp_task_add_arg(t, TRUE_ARG) != RP_OK) {
        rp_task_free(t);
        t = NULL;
    }
    return t;
}

/* Submits one task and waits for it; true if it succeeded. *submit_ns:
 * how long the rp_submit call took. */
static bool
rp_run_one(rp_pool *pool, rp_task *t, rp_result_times *times /* OUT, may be NULL */,
           uint64_t *submit_ns /* OUT, may be NULL */)
{
    rp_task_id id;
    rp_result *r = NULL;
    bool ok;
    double t0 = bench_now();

    if (t == NULL || rp_submit(pool, t, &id) != RP_OK)
        return false;
    if (submit_ns != NULL)
        *submit_ns = (uint64_t)((bench_now() - t0) * 1e9);
    if (rp_wait(pool, id, WAIT_MS, &r) != RP_OK)
        return false;
    ok = rp_result_is_success(r);
    if (!ok)
        fprintf(stderr, "bench_spawn: task failed: %s\n", rp_result_error(r));
    if (times != NULL)
        rp_result_get_times(r, times);
    rp_result_free(r);
    return ok;
}

static rp_pool *
make_pool(int workers, unsigned max_processes)
{
    rp_pool_config cfg;
    rp_pool *pool = NULL;
    rp_status st;

    rp_pool_config_init(&cfg);
    cfg.cpu_workers = workers;
    cfg.max_processes = max_processes;
    if ((st = rp_pool_create(&cfg, &pool)) != RP_OK)
        fprintf(stderr, "bench_spawn: rp_pool_create: %s\n", rp_strerror(st));
    return pool;
}

/* Submits all `count` first (one rp_submit each, or as the shards of one
 * rp_submit_job), then waits for each in order. */
static bool
rp_throughput(int workers, bool as_job, long count, double *seconds, long *ran, long *ok)
{
    rp_pool *pool = make_pool(workers, 0);
    rp_task_id *ids = calloc((size_t)count, sizeof *ids);
    bool fine = pool != NULL && ids != NULL;

    for (int i = 0; fine && i < WARMUP; i++)
        fine = rp_run_one(pool, true_task(), NULL, NULL);
    double t0 = bench_now();
    long submitted = 0;
    if (fine && as_job) {
        rp_task *t = true_task();
        rp_status st = t != NULL ? rp_submit_job(pool, t, (unsigned)count, NULL, ids)
                                 : RP_ERR_INVALID;
        if (st != RP_OK) {
            fprintf(stderr, "bench_spawn: rp_submit_job: %s\n", rp_strerror(st));
            fine = false;
        }
        submitted = count;
    }
    for (; fine && submitted < count; submitted++) {
        rp_task *t = true_task();
        rp_status st = t != NULL ? rp_submit(pool, t, &ids[submitted]) : RP_ERR_INVALID;
        if (st != RP_OK) {
            fprintf(stderr, "bench_spawn: rp_submit: %s\n", rp_strerror(st));
            fine = false;
        }
    }
    /* As a job: one wake-up for all of it, then collect without waiting. */
    if (fine && as_job) {
        rp_job_id job = 0;
        rp_status st = rp_task_job(pool, ids[0], &job);
        if (st == RP_OK)
            st = rp_job_wait(pool, job, WAIT_MS, NULL);
        if (st != RP_OK) {
            fprintf(stderr, "bench_spawn: rp_job_wait: %s\n", rp_strerror(st));
            fine = false;
        }
    }
    for (long i = 0; fine && i < submitted; i++) {
        rp_result *r = NULL;
        rp_status st = rp_wait(pool, ids[i], as_job ? 0 : WAIT_MS, &r);
        if (st != RP_OK) {
            fprintf(stderr, "bench_spawn: rp_wait: %s\n", rp_strerror(st));
            fine = false;
            break;
        }
        (*ran)++;
        if (rp_result_is_success(r))
            (*ok)++;
        else if (*ran - *ok <= 3)
            fprintf(stderr, "bench_spawn: task failed: %s\n", rp_result_error(r));
        rp_result_free(r);
    }
    *seconds = bench_now() - t0;
    rp_pool_shutdown(pool);
    free(ids);
    return fine;
}

/* The floor: posix_spawn + waitpid, `workers` children in flight. */
static bool
raw_throughput(int workers, long count, double *seconds, long *ran, long *ok)
{
    char *const argv[] = { TRUE_BIN, TRUE_ARG, NULL };
    long started = 0, in_flight = 0;
    double t0 = 0;

    for (int pass = 0; pass < 2; pass++) {       /* 0: warm-up, 1: timed */
        long n = pass == 0 ? WARMUP : count;
        started = 0;
        if (pass == 1)
            t0 = bench_now();
        while (started < n || in_flight > 0) {
            while (in_flight < workers && started < n) {
                pid_t pid;
                int err = posix_spawn(&pid, TRUE_BIN, NULL, NULL, argv, environ);
                if (err != 0) {
                    fprintf(stderr, "bench_spawn: posix_spawn: %s\n", strerror(err));
                    return false;
                }
                started++;
                in_flight++;
            }
            int status;
            if (waitpid(-1, &status, 0) < 0) {
                fprintf(stderr, "bench_spawn: waitpid: %s\n", strerror(errno));
                return false;
            }
            in_flight--;
            if (pass == 1) {
                (*ran)++;
                if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                    (*ok)++;
            }
        }
    }
    *seconds = bench_now() - t0;
    return true;
}

/* The floor again, as an embedded engine must run it: the loop on its own
 * thread, handing each exit to the main thread, which waits for every run
 * in order (as the rp contender does with rp_wait). This is what a result
 * costs to hand across threads, with no engine in between. */
struct handoff {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    long count, workers, done_upto;
    pid_t *pids;
    unsigned char *done;
    bool failed;
    long ok;
};

static void *
handoff_spawner(void *arg)
{
    struct handoff *h = arg;
    char *const argv[] = { TRUE_BIN, TRUE_ARG, NULL };
    long started = 0, in_flight = 0, reaped = 0;

    while (reaped < h->count) {
        while (in_flight < h->workers && started < h->count) {
            if (posix_spawn(&h->pids[started], TRUE_BIN, NULL, NULL, argv, environ) != 0)
                goto fail;
            started++;
            in_flight++;
        }
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0)
            goto fail;
        long idx = -1;
        for (long i = reaped > 64 ? reaped - 64 : 0; i < started; i++)
            if (h->pids[i] == pid && !h->done[i]) {
                idx = i;
                break;
            }
        if (idx < 0)
            goto fail;
        in_flight--;
        reaped++;
        pthread_mutex_lock(&h->lock);
        h->done[idx] = 1;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            h->ok++;
        pthread_cond_broadcast(&h->cond);
        pthread_mutex_unlock(&h->lock);
    }
    return NULL;
fail:
    pthread_mutex_lock(&h->lock);
    h->failed = true;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

static bool
raw_thread_throughput(int workers, long count, double *seconds, long *ran, long *ok)
{
    struct handoff h = { .count = count, .workers = workers };
    pthread_t thread;
    double t0;

    pthread_mutex_init(&h.lock, NULL);
    pthread_cond_init(&h.cond, NULL);
    h.pids = calloc((size_t)count, sizeof *h.pids);
    h.done = calloc((size_t)count, 1);
    if (h.pids == NULL || h.done == NULL)
        return false;
    t0 = bench_now();
    if (pthread_create(&thread, NULL, handoff_spawner, &h) != 0)
        return false;
    pthread_mutex_lock(&h.lock);
    for (long i = 0; i < count && !h.failed; i++) {
        while (!h.done[i] && !h.failed)
            pthread_cond_wait(&h.cond, &h.lock);
        if (h.done[i])
            (*ran)++;
    }
    *ok = h.ok;
    pthread_mutex_unlock(&h.lock);
    pthread_join(thread, NULL);
    *seconds = bench_now() - t0;
    free(h.pids);
    free(h.done);
    return !h.failed;
}

/* Runs argv (looked up in PATH) with `count` lines of TRUE_ARG on its
 * stdin and its stdout on /dev/null; *status = its wait status. Returns
 * false with *missing set if the program is not installed. */
static bool
run_tool(char *const argv[], long count, double *seconds, int *status, bool *missing)
{
    posix_spawn_file_actions_t fa;
    int fds[2];
    pid_t pid;
    char buf[4096];
    size_t fill = 0;
    bool fine = true;

    if (pipe(fds) != 0)
        return false;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    double t0 = bench_now();
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[0]);
    if (err != 0) {
        close(fds[1]);
        *missing = err == ENOENT;
        if (!*missing)
            fprintf(stderr, "bench_spawn: cannot run %s: %s\n", argv[0], strerror(err));
        return false;
    }
    /* The pipe holds less than `count` lines at large counts: the tool
     * reads while we write, and we close before we wait. */
    static const char line[] = TRUE_ARG "\n";
    const size_t len = sizeof line - 1;

    for (long i = 0; i < count && fine; i++) {
        memcpy(buf + fill, line, len);
        fill += len;
        if (i + 1 == count || fill + len > sizeof buf) {
            for (size_t off = 0; off < fill && fine;) {
                ssize_t w = write(fds[1], buf + off, fill - off);
                if (w < 0 && errno != EINTR)
                    fine = false;
                else if (w > 0)
                    off += (size_t)w;
            }
            fill = 0;
        }
    }
    close(fds[1]);
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return false;
    *seconds = bench_now() - t0;
    if (!fine)
        fprintf(stderr, "bench_spawn: %s stopped reading its input\n", argv[0]);
    return fine;
}

static bool
tool_throughput(const char *impl, int workers, long count, double *seconds, long *ran,
                long *ok, bool *missing)
{
    char p[16];
    int status = 0;

    snprintf(p, sizeof p, "%d", workers);
    char *const xargs[] = { "xargs", "-P", p, "-n", "1", TRUE_BIN, NULL };
    char *const parallel[] = { "parallel", "--will-cite", "-j", p, TRUE_BIN, NULL };
    char *const *argv = strcmp(impl, "xargs") == 0 ? xargs : parallel;

    if (!run_tool(argv, WARMUP, seconds, &status, missing))
        return false;
    if (!run_tool(argv, count, seconds, &status, missing))
        return false;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_spawn: %s ended with wait status %#x\n", argv[0], status);
        return false;
    }
    *ran = *ok = count;         /* see the top of this file */
    return true;
}

static int
child_throughput(const char *impl, int workers, long count)
{
    double seconds = 0;
    long ran = 0, ok = 0;
    bool missing = false, fine;

    watchdog(60 + (double)count / 20);
    if (strcmp(impl, "rp") == 0 || strcmp(impl, "rp-job") == 0)
        fine = rp_throughput(workers, strcmp(impl, "rp-job") == 0, count, &seconds, &ran, &ok);
    else if (strcmp(impl, "raw") == 0)
        fine = raw_throughput(workers, count, &seconds, &ran, &ok);
    else if (strcmp(impl, "raw-thread") == 0)
        fine = raw_thread_throughput(workers, count, &seconds, &ran, &ok);
    else
        fine = tool_throughput(impl, workers, count, &seconds, &ran, &ok, &missing);
    if (missing) {
        printf("missing=1\n");
        return 0;
    }
    if (!fine)
        return 1;
    printf("seconds=%.9f\nran=%ld\nok=%ld\n", seconds, ran, ok);
    return 0;
}

/* ---- 2. submit-to-start latency ---- */

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static uint64_t
percentile(const uint64_t *v, long n, double p)
{
    long k = (long)(p * (double)n + 0.999999) - 1;

    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

static int
child_latency(int workers, long count)
{
    rp_pool *pool = make_pool(workers, 0);
    uint64_t *lat = calloc((size_t)count, sizeof *lat);
    uint64_t *trip = calloc((size_t)count, sizeof *trip);
    uint64_t *call = calloc((size_t)count, sizeof *call);
    long n = 0;
    bool fine = pool != NULL && lat != NULL && trip != NULL && call != NULL;

    watchdog(60 + (double)count / 20);
    for (int i = 0; fine && i < WARMUP; i++)
        fine = rp_run_one(pool, true_task(), NULL, NULL);
    for (; fine && n < count; n++) {
        rp_result_times tm;
        double t0 = bench_now();
        fine = rp_run_one(pool, true_task(), &tm, &call[n]);
        trip[n] = (uint64_t)((bench_now() - t0) * 1e9);
        if (fine && tm.started_ns < tm.submitted_ns) {
            fprintf(stderr, "bench_spawn: started_ns %llu before submitted_ns %llu\n",
                    (unsigned long long)tm.started_ns, (unsigned long long)tm.submitted_ns);
            fine = false;
        }
        lat[n] = tm.started_ns - tm.submitted_ns;
    }
    rp_pool_shutdown(pool);
    if (fine) {
        qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
        qsort(trip, (size_t)n, sizeof *trip, cmp_u64);
        qsort(call, (size_t)n, sizeof *call, cmp_u64);
        printf("ran=%ld\n", n);
        printf("p50_ns=%llu\np99_ns=%llu\nmax_ns=%llu\ntrip_p50_ns=%llu\n",
               (unsigned long long)percentile(lat, n, 0.50),
               (unsigned long long)percentile(lat, n, 0.99),
               (unsigned long long)lat[n - 1],
               (unsigned long long)percentile(trip, n, 0.50));
        printf("submit_p50_ns=%llu\n", (unsigned long long)percentile(call, n, 0.50));
    }
    free(lat);
    free(trip);
    free(call);
    return fine ? 0 : 1;
}

/* ---- 3. memory per queued task ---- */

/* Resident set of this process, bytes; 0 if unknown. */
static long long
rss_bytes(void)
{
    char line[256];
    long long kb = 0;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

static int
child_queued(int workers, long count)
{
    rp_pool *pool = make_pool(workers, 1);
    rp_task *blocker = rp_task_new("/bin/sleep");
    rp_task_id blocker_id = 0;
    rp_task_state state = RP_TASK_QUEUED;
    rp_stats st;
    long accepted = 0;

    watchdog(120 + (double)count / 5000);
    if (pool == NULL || blocker == NULL || rp_task_add_arg(blocker, "60") != RP_OK)
        goto fail;
    rp_status err = rp_submit(pool, blocker, &blocker_id);
    blocker = NULL;
    if (err != RP_OK)
        goto fail;
    /* Only a running blocker holds the slot: wait for it, 10 s at most. */
    for (int i = 0; i < 10000 && state == RP_TASK_QUEUED; i++) {
        struct timespec ms = { 0, 1000000 };
        if (rp_task_status(pool, blocker_id, &state) != RP_OK)
            break;
        if (state == RP_TASK_QUEUED)
            nanosleep(&ms, NULL);
    }
    if (state != RP_TASK_RUNNING) {
        fprintf(stderr, "bench_spawn: the blocker is %s, not running\n",
                rp_task_state_name(state));
        goto fail;
    }
    long long rss0 = rss_bytes();
    double t0 = bench_now();
    for (; accepted < count; accepted++) {
        rp_task_id id;
        rp_task *t = true_task();
        err = t != NULL ? rp_submit(pool, t, &id) : RP_ERR_INVALID;
        if (err != RP_OK) {
            fprintf(stderr, "bench_spawn: submit %ld: %s\n", accepted, rp_strerror(err));
            goto fail;
        }
    }
    double t1 = bench_now();
    long long rss1 = rss_bytes();
    rp_pool_stats(pool, &st);
    double t2 = bench_now();
    rp_cancel(pool, blocker_id);
    rp_pool_shutdown(pool);
    double t3 = bench_now();
    printf("accepted=%ld\nqueued=%llu\nrunning=%llu\nfinished=%llu\n", accepted,
           (unsigned long long)st.queued, (unsigned long long)st.running,
           (unsigned long long)(st.succeeded + st.failed + st.cancelled + st.timed_out));
    printf("rss_before=%lld\nrss_after=%lld\n", rss0, rss1);
    printf("submit_seconds=%.9f\nshutdown_seconds=%.9f\n", t1 - t0, t3 - t2);
    return 0;

fail:
    rp_task_free(blocker);
    rp_pool_shutdown(pool);     /* also stops the blocker, if it started */
    return 1;
}

/* ---- the driver ---- */

static int
child(const char *impl, int workers, long count)
{
    if (strcmp(impl, "rp") == 0 || strcmp(impl, "rp-job") == 0 || strcmp(impl, "raw") == 0 ||
        strcmp(impl, "raw-thread") == 0 ||
        strcmp(impl, "xargs") == 0 || strcmp(impl, "parallel") == 0)
        return child_throughput(impl, workers, count);
    if (strcmp(impl, "latency") == 0)
        return child_latency(workers, count);
    if (strcmp(impl, "queued") == 0)
        return child_queued(workers, count);
    return 2;
}

/* Runs one child; false (said why) on failure. */
static bool
run_child(const char *impl, int workers, long count, bench_output *o /* OUT */)
{
    char wbuf[16], cbuf[24];

    snprintf(wbuf, sizeof wbuf, "%d", workers);
    snprintf(cbuf, sizeof cbuf, "%ld", count);
    const char *args[] = { "--impl", impl, "--workers", wbuf, "--count", cbuf, NULL };
    return bench_run(args, o);
}

enum { RP, RP_JOB, RAW, RAW_THREAD, XARGS, PARALLEL, CONTENDERS };

static int
compare_throughput(int workers, long count, long parallel_count, int rounds)
{
    static const char *const impls[CONTENDERS] = { "rp", "rp-job", "raw", "raw-thread",
                                                   "xargs", "parallel" };
    const char *names[CONTENDERS];
    char xname[32], pname[32];
    bench_samples s[CONTENDERS] = { 0 };
    bool missing[CONTENDERS] = { false };
    long counts[CONTENDERS] = { count, count, count, count, count, parallel_count };

    snprintf(xname, sizeof xname, "xargs -P %d -n 1", workers);
    snprintf(pname, sizeof pname, "GNU parallel -j %d", workers);
    names[RP] = "repartir rp_submit";
    names[RP_JOB] = "repartir job + rp_job_wait";
    names[RAW_THREAD] = "posix_spawn loop, handoff";
    names[RAW] = "posix_spawn loop";
    names[XARGS] = xname;
    names[PARALLEL] = pname;
    printf("   1. throughput: %ld x `" TRUE_BIN " " TRUE_ARG "`, %d at a time "
           "(GNU parallel: %ld); best of %d runs, one process each\n",
           count, workers, parallel_count, rounds);
    for (int round = 0; round < rounds; round++) {
        for (int k = 0; k < CONTENDERS; k++) {
            bench_output o;
            if (missing[k])
                continue;
            if (!run_child(impls[k], workers, counts[k], &o))
                return 1;
            if (bench_value(&o, "missing") != 0) {
                missing[k] = true;
                bench_output_free(&o);
                continue;
            }
            long ran = (long)bench_value(&o, "ran"), ok = (long)bench_value(&o, "ok");
            if (ran != counts[k] || ok != counts[k]) {
                fprintf(stderr, "bench_spawn: %s ran %ld of %ld, %ld succeeded\n", names[k],
                        ran, counts[k], ok);
                return 1;
            }
            bench_values(&o, "seconds", &s[k]);
            bench_output_free(&o);
        }
    }
    double best[CONTENDERS];
    printf("   %-26s %12s %12s %10s\n", "", "best", "median", "runs of");
    for (int k = 0; k < CONTENDERS; k++) {
        if (missing[k]) {
            printf("   %-26s not installed\n", names[k]);
            best[k] = 0;
            continue;
        }
        best[k] = (double)counts[k] / bench_min(&s[k]);
        printf("   %-26s %9.0f /s %9.0f /s %10ld\n", names[k], best[k],
               (double)counts[k] / bench_median(&s[k]), counts[k]);
    }
    bench_print_ratio("repartir / posix_spawn loop", best[RP], best[RAW], ">= 0.90",
                      best[RP] >= 0.9 * best[RAW]);
    bench_print_ratio("job + rp_job_wait / loop", best[RP_JOB], best[RAW], NULL, false);
    bench_print_ratio("repartir / loop with handoff", best[RP], best[RAW_THREAD], NULL, false);
    for (int k = XARGS; k < CONTENDERS; k++) {
        char what[48];
        if (missing[k])
            continue;
        snprintf(what, sizeof what, "repartir / %s", k == XARGS ? "xargs" : "parallel");
        bench_print_ratio(what, best[RP], best[k], NULL, false);
    }
    return 0;
}

static int
measure_latency(int workers, long count)
{
    bench_output o;

    printf("   2. submit-to-start latency, idle pool of %d workers: %ld tasks one at "
           "a time\n", workers, count);
    if (!run_child("latency", workers, count, &o))
        return 1;
    if ((long)bench_value(&o, "ran") != count) {
        fprintf(stderr, "bench_spawn: the latency run did not run all %ld\n", count);
        bench_output_free(&o);
        return 1;
    }
    double p50 = bench_value(&o, "p50_ns") / 1e3, p99 = bench_value(&o, "p99_ns") / 1e3;
    double max = bench_value(&o, "max_ns") / 1e3, trip = bench_value(&o, "trip_p50_ns") / 1e3;
    double call = bench_value(&o, "submit_p50_ns") / 1e3;
    bench_output_free(&o);
    printf("   %-26s p50 %8.1f us   p99 %8.1f us   max %8.1f us\n",
           "started - submitted", p50, p99, max);
    printf("   %-26s p50 %8.1f us   (the caller's time in rp_submit: it spawns on an idle pool)\n",
           "rp_submit call", call);
    printf("   %-26s p50 %8.1f us   (submit to rp_wait's return, spawn and exit included)\n",
           "round trip", trip);
    printf("   %-34s target <= 50 us: %s\n", "p50 and p99",
           p50 <= 50 && p99 <= 50 ? "met" : "NOT met");
    return 0;
}

static int
measure_queued(int workers, long count)
{
    bench_output o;

    printf("   3. memory per queued task: %ld x `" TRUE_BIN " " TRUE_ARG "` behind "
           "one running `sleep 60`, max_processes 1\n", count);
    if (!run_child("queued", workers, count, &o))
        return 1;
    long accepted = (long)bench_value(&o, "accepted"), queued = (long)bench_value(&o, "queued");
    long running = (long)bench_value(&o, "running"), finished = (long)bench_value(&o, "finished");
    /* Nothing may have run past the one slot while they were queued. */
    if (accepted != count || queued != count || running != 1 || finished != 0) {
        fprintf(stderr, "bench_spawn: of %ld: %ld accepted, %ld queued, %ld running, "
                "%ld finished\n", count, accepted, queued, running, finished);
        bench_output_free(&o);
        return 1;
    }
    double grew = bench_value(&o, "rss_after") - bench_value(&o, "rss_before");
    double submit = bench_value(&o, "submit_seconds");
    double shutdown = bench_value(&o, "shutdown_seconds");
    double per_task = grew / (double)count;
    bench_output_free(&o);
    printf("   %-26s %+9.1f MiB = %6.0f B/task   target <= 1024 B: %s\n", "RSS growth",
           grew / (1 << 20), per_task, per_task <= 1024 ? "met" : "NOT met");
    printf("   %-26s %9.1f ms = %6.0f ns/task (%.0f /s)\n", "submitting them", submit * 1e3,
           submit / (double)count * 1e9, (double)count / submit);
    printf("   %-26s %9.1f ms (cancel the blocker, shut down: cancels %ld queued)\n",
           "cancel + shutdown", shutdown * 1e3, count);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *impl = NULL;
    int workers = 2, rounds = 3;
    long count = -1, parallel_count = 1000, latency_count = 2000, queued = 1000000;

    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (val == NULL) { fprintf(stderr, "bench_spawn: %s needs a value\n", opt); return 2; }
        if (strcmp(opt, "--impl") == 0) impl = val;
        else if (strcmp(opt, "--workers") == 0 || strcmp(opt, "--parallel") == 0) workers = atoi(val);
        else if (strcmp(opt, "--count") == 0) count = atol(val);
        else if (strcmp(opt, "--rounds") == 0) rounds = atoi(val);
        else if (strcmp(opt, "--parallel-count") == 0) parallel_count = atol(val);
        else if (strcmp(opt, "--latency-count") == 0) latency_count = atol(val);
        else if (strcmp(opt, "--queued") == 0) queued = atol(val);
        else { fprintf(stderr, "bench_spawn: unknown option %s\n", opt); return 2; }
    }
    if (impl != NULL) {
        if (count < 1 || count > 100000000 || workers < 1 || workers > RP_POOL_MAX_WORKERS) {
            fprintf(stderr, "bench_spawn: bad arguments\n");
            return 2;
        }
        return child(impl, workers, count);
    }
    if (count < 0)
        count = 5000;
    if (workers < 1 || workers > RP_POOL_MAX_WORKERS || count < 1 || count > 1000000 ||
        rounds < 1 || rounds > BENCH_MAX_SAMPLES || parallel_count < 1 ||
        parallel_count > 10000000 || latency_count < 1 || latency_count > 10000000 ||
        queued < 0 || queued > 100000000) {
        fprintf(stderr, "bench_spawn: bad arguments\n");
        return 2;
    }
    bench_print_machine("process tasks: throughput, submit-to-start latency, queued memory");
    if (compare_throughput(workers, count, parallel_count, rounds) != 0)
        return 1;
    if (measure_latency(workers, latency_count) != 0)
        return 1;
    if (queued > 0 && measure_queued(workers, queued) != 0)
        return 1;
    return 0;
}
