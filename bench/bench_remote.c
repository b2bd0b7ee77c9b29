/*
 * bench_remote.c -- remote workers: what a task sent to a repartir-worker
 * daemon over TLS on loopback costs, beside the floors it is built on.
 *
 *  1. Round trip of one trivial task (a no-op: it starts nothing), one at
 *     a time: rp_submit of a REMOTE no-op, then rp_wait. p50 and p99 beside,
 *     in the same run and with the same 64-byte-class payload, a raw TLS 1.3
 *     ping-pong with plain OpenSSL sockets (the floor), plain TCP, and a
 *     raw libwebsockets echo (the transport). Target: p50 <= 2x the raw
 *     TLS ping-pong. Each is measured twice: unpinned, and with every
 *     process and thread on one CPU (on a VM whose idle vCPUs halt, a
 *     wake-up across vCPUs costs ~30 us and which placement the scheduler
 *     picks changes from run to run; one CPU is the stable comparison).
 *     Shown too: the same without the network threads' busy poll
 *     (REPARTIR_SPIN_US=0), so that what the poll buys is seen.
 *  2. Pipelined no-op throughput with 2 workers: one job of `count`
 *     REMOTE no-op shards, rp_job_wait. Target: >= 20,000 tasks/s.
 *  3. /bin/true process tasks on 2 workers of 1 slot each, against the
 *     same work run locally by a pool with 2 process slots. Target: >=
 *     0.9x local.
 *  4. Time from starting repartir-worker to its first task accepted (the
 *     coordinator dials it as soon as it is started, and retries).
 *
 *   bench_remote [--rounds 3] [--count 5000] [--pipelined 100000] [--procs 2000]
 *                (RP_BENCH_PKI unset: the PKI is made by mkcerts.sh; RP_BENCH_PKI=DIR
 *                 uses one made already, left in place)
 *   bench_remote --impl tcp|tls|lws|rt|pipe|true-remote|true-local|start [--cpu N] ...
 *
 * Every contender runs in a child process of its own (bench/common.h); the
 * worker daemons are children of that child. Loopback only; the PKI is
 * made for the run by tests/integration/mkcerts.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <repartir.h>

#include "bench/anchors/net_anchors.h"
#include "bench/common.h"

#define PAYLOAD 64
#define WARMUP 500

static char pki[512];
static char worker_bin[1100];

/* ---- helpers ---- */

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void
print_percentiles(uint64_t *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    printf("p50_us=%.1f\n", (double)v[n / 2] / 1000.0);
    printf("p99_us=%.1f\n", (double)v[(size_t)n * 99 / 100] / 1000.0);
}

static void
pin(int cpu)
{
    cpu_set_t set;

    if (cpu < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        fprintf(stderr, "bench_remote: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}

struct daemon {
    pid_t pid;
    unsigned port;
};

/* Starts repartir-worker (TLS with the run's PKI) on a free port; waits
 * for its "listening" line. */
static bool
daemon_start(struct daemon *d, unsigned slots, bool wait_ready)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        int fds[2];
        char bind[64], slots_s[16], cert[600], key[600], wd[600];
        unsigned port = 20000 + (unsigned)(rand() % 40000);

        if (pipe(fds) != 0)
            return false;
        snprintf(bind, sizeof bind, "127.0.0.1:%u", port);
        snprintf(slots_s, sizeof slots_s, "%u", slots);
        snprintf(cert, sizeof cert, "%s/server.pem", pki);
        snprintf(key, sizeof key, "%s/server.key", pki);
        snprintf(wd, sizeof wd, "%s/wd-%u", pki, port);
        d->pid = fork();
        if (d->pid == 0) {
            dup2(fds[1], 2);
            close(fds[0]);
            close(fds[1]);
            execl(worker_bin, worker_bin, "--bind", bind, "--cert", cert, "--key", key,
                  "--slots", slots_s, "--work-dir", wd, (char *)NULL);
            _exit(127);
        }
        close(fds[1]);
        d->port = port;
        if (!wait_ready) {
            close(fds[0]);
            return true;
        }
        /* Read its stderr until it listens or exits (5 s at most). */
        char buf[4096];
        size_t len = 0;
        double end = bench_now() + 5;
        bool ok = false, gone = false;
        while (!ok && !gone && bench_now() < end) {
            struct pollfd p = { fds[0], POLLIN, 0 };
            if (poll(&p, 1, 100) > 0) {
                ssize_t n = read(fds[0], buf + len, sizeof buf - 1 - len);
                if (n <= 0)
                    gone = true;
                else
                    len += (size_t)n;
                buf[len] = '\0';
                ok = strstr(buf, "listening on") != NULL;
            }
        }
        close(fds[0]);
        if (ok)
            return true;
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
    }
    fprintf(stderr, "bench_remote: cannot start %s\n", worker_bin);
    return false;
}

static void
daemon_stop(struct daemon *d)
{
    int status;

    kill(d->pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(d->pid, &status, WNOHANG) == d->pid)
            return;
        usleep(10000);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &status, 0);
}

static rp_pool *
remote_pool(const struct daemon *d, unsigned n, unsigned window)
{
    static char addrs[8][64];
    static const char *list[8];
    char ca[600];
    rp_pool_config cfg;
    rp_pool *pool;
    char *why = NULL;

    snprintf(ca, sizeof ca, "%s/ca.pem", pki);
    for (unsigned i = 0; i < n; i++) {
        snprintf(addrs[i], sizeof addrs[i], "127.0.0.1:%u", d[i].port);
        list[i] = addrs[i];
    }
    rp_pool_config_init(&cfg);
    cfg.cpu_workers = 2;
    cfg.remote_workers = list;
    cfg.n_remote_workers = n;
    cfg.tls_ca = ca;
    cfg.remote_window = window;
    if (rp_pool_create_why(&cfg, &pool, &why) != RP_OK) {
        fprintf(stderr, "bench_remote: pool: %s\n", why ? why : "?");
        exit(1);
    }
    return pool;
}

/* Waits until n remote workers are up (10 s at most). */
static bool
wait_up(rp_pool *pool, unsigned n)
{
    double end = bench_now() + 10;

    while (bench_now() < end) {
        rp_worker_info *w;
        size_t count, up = 0;
        if (rp_pool_workers(pool, &w, &count) == RP_OK) {
            for (size_t i = 0; i < count; i++)
                up += w[i].backend == RP_BACKEND_REMOTE && w[i].up;
            free(w);
        }
        if (up >= n)
            return true;
        usleep(2000);
    }
    fprintf(stderr, "bench_remote: the workers did not come up\n");
    return false;
}

static rp_task *
remote_noop(void)
{
    rp_task *t = rp_task_new_noop();
    rp_task_set_backend(t, RP_BACKEND_REMOTE);
    return t;
}

/* ---- contenders ---- */

static int
impl_anchor(const char *which, unsigned count)
{
    uint64_t *v = calloc(count, sizeof *v);
    char cert[600], key[600], ca[600];
    int rc;

    snprintf(cert, sizeof cert, "%s/server.pem", pki);
    snprintf(key, sizeof key, "%s/server.key", pki);
    snprintf(ca, sizeof ca, "%s/ca.pem", pki);
    if (strcmp(which, "tcp") == 0)
        rc = rp_anchor_tcp_pingpong(PAYLOAD, WARMUP, count, v);
    else if (strcmp(which, "tls") == 0)
        rc = rp_anchor_tls_pingpong(cert, key, ca, PAYLOAD, WARMUP, count, v);
    else
        rc = rp_anchor_lws_echo(cert, key, ca, PAYLOAD, WARMUP, count, v);
    if (rc == 0)
        print_percentiles(v, count);
    free(v);
    return rc == 0 ? 0 : 1;
}

static int
impl_rt(unsigned count)
{
    struct daemon d;
    rp_pool *pool;
    uint64_t *v = calloc(count, sizeof *v);

    if (!daemon_start(&d, 1, true))
        return 1;
    pool = remote_pool(&d, 1, 0);
    if (!wait_up(pool, 1))
        return 1;
    for (unsigned i = 0; i < WARMUP + count; i++) {
        rp_task_id id;
        rp_result *r;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (rp_submit(pool, remote_noop(), &id) != RP_OK || rp_wait(pool, id, 10000, &r) != RP_OK)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (!rp_result_is_success(r)) {
            fprintf(stderr, "bench_remote: %s\n", rp_result_error(r));
            return 1;
        }
        rp_result_free(r);
        if (i >= WARMUP)
            v[i - WARMUP] = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull +
                            (uint64_t)(b.tv_nsec - a.tv_nsec);
    }
    print_percentiles(v, count);
    free(v);
    rp_pool_shutdown(pool);
    daemon_stop(&d);
    return 0;
}

static int
impl_pipe(unsigned count)
{
    struct daemon d[2];
    rp_pool *pool;
    rp_job_id job;
    rp_job_info info;
    double t0, t1;

    if (!daemon_start(&d[0], 1, true) || !daemon_start(&d[1], 1, true))
        return 1;
    pool = remote_pool(d, 2, 64);
    if (!wait_up(pool, 2))
        return 1;
    /* Warm up the links. */
    if (rp_submit_job(pool, remote_noop(), 2000, &job, NULL) != RP_OK ||
        rp_job_wait(pool, job, 30000, &info) != RP_OK)
        return 1;
    t0 = bench_now();
    if (rp_submit_job(pool, remote_noop(), count, &job, NULL) != RP_OK ||
        rp_job_wait(pool, job, 60000, &info) != RP_OK)
        return 1;
    t1 = bench_now();
    if (info.count[RP_TASK_SUCCEEDED] != count) {
        fprintf(stderr, "bench_remote: %llu of %u succeeded\n",
                (unsigned long long)info.count[RP_TASK_SUCCEEDED], count);
        return 1;
    }
    printf("rate=%.0f\n", count / (t1 - t0));
    rp_pool_shutdown(pool);
    daemon_stop(&d[0]);
    daemon_stop(&d[1]);
    return 0;
}

static int
run_true_job(rp_pool *pool, unsigned count, rp_backend backend)
{
    rp_task *t = rp_task_new("/bin/true");
    rp_job_id job;
    rp_job_info info;
    double t0, t1;

    rp_task_set_backend(t, backend);
    t0 = bench_now();
    if (rp_submit_job(pool, t, count, &job, NULL) != RP_OK ||
        rp_job_wait(pool, job, 120000, &info) != RP_OK)
        return 1;
    t1 = bench_now();
    if (info.count[RP_TASK_SUCCEEDED] != count) {
        fprintf(stderr, "bench_remote: %llu of %u /bin/true succeeded\n",
                (unsigned long long)info.count[RP_TASK_SUCCEEDED], count);
        return 1;
    }
    printf("rate=%.0f\n", count / (t1 - t0));
    return 0;
}

static int
impl_true(unsigned count, bool remote)
{
    struct daemon d[2];
    rp_pool *pool;
    int rc;

    if (remote) {
        if (!daemon_start(&d[0], 1, true) || !daemon_start(&d[1], 1, true))
            return 1;
        pool = remote_pool(d, 2, 0);
        if (!wait_up(pool, 2))
            return 1;
    } else {
        rp_pool_config cfg;
        rp_pool_config_init(&cfg);
        cfg.cpu_workers = 2;
        cfg.max_processes = 2;
        if (rp_pool_create(&cfg, &pool) != RP_OK)
            return 1;
    }
    run_true_job(pool, 100, remote ? RP_BACKEND_REMOTE : RP_BACKEND_CPU);   /* warm-up */
    rc = run_true_job(pool, count, remote ? RP_BACKEND_REMOTE : RP_BACKEND_CPU);
    rp_pool_shutdown(pool);
    if (remote) {
        daemon_stop(&d[0]);
        daemon_stop(&d[1]);
    }
    return rc;
}

static int
impl_start(void)
{
    struct daemon d;
    rp_pool *pool;
    rp_pool_config cfg;
    char ca[600], addr[64];
    rp_task_id id;
    rp_result *r;
    double t0, t1;

    snprintf(ca, sizeof ca, "%s/ca.pem", pki);
    rp_pool_config_init(&cfg);
    cfg.cpu_workers = 2;
    cfg.tls_ca = ca;
    if (rp_pool_create(&cfg, &pool) != RP_OK)
        return 1;
    t0 = bench_now();
    if (!daemon_start(&d, 1, false))
        return 1;
    snprintf(addr, sizeof addr, "127.0.0.1:%u", d.port);
    if (rp_pool_add_worker(pool, addr, NULL) != RP_OK ||
        rp_submit(pool, remote_noop(), &id) != RP_OK || rp_wait(pool, id, 20000, &r) != RP_OK)
        return 1;
    t1 = bench_now();
    rp_result_free(r);
    printf("start_ms=%.1f\n", (t1 - t0) * 1000);
    rp_pool_shutdown(pool);
    daemon_stop(&d);
    return 0;
}

/* ---- the driver ---- */

static void
setup_paths(const char *argv0)
{
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash;

    (void)argv0;
    if (n <= 0) {
        fprintf(stderr, "bench_remote: cannot find myself\n");
        exit(1);
    }
    self[n] = '\0';
    slash = strrchr(self, '/');
    *slash = '\0';
    slash = strrchr(self, '/');     /* build/bench -> build */
    *slash = '\0';
    snprintf(worker_bin, sizeof worker_bin, "%s/repartir-worker", self);
}

static bool
run_impl(const char *impl, const char *count, int cpu, bench_output *o)
{
    char cpus[16];
    const char *args[] = { "--impl", impl, "--count", count, "--pki", pki, "--cpu", cpus, NULL };

    snprintf(cpus, sizeof cpus, "%d", cpu);
    return bench_run(args, o);
}

int
main(int argc, char **argv)
{
    const char *impl = NULL;
    unsigned rounds = 3, count = 5000, pipelined = 100000, procs = 2000, c = 0;
    int cpu = -1;

    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    setup_paths(argv[0]);
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *opt = argv[i], *val = argv[i + 1];
        if (strcmp(opt, "--impl") == 0) impl = val;
        else if (strcmp(opt, "--count") == 0) c = (unsigned)atoi(val);
        else if (strcmp(opt, "--rounds") == 0) rounds = (unsigned)atoi(val);
        else if (strcmp(opt, "--pipelined") == 0) pipelined = (unsigned)atoi(val);
        else if (strcmp(opt, "--procs") == 0) procs = (unsigned)atoi(val);
        else if (strcmp(opt, "--pki") == 0) snprintf(pki, sizeof pki, "%s", val);
        else if (strcmp(opt, "--cpu") == 0) cpu = atoi(val);
        else {
            fprintf(stderr, "bench_remote: unknown option %s\n", opt);
            return 2;
        }
    }
    if (impl != NULL) {
        bench_watchdog("bench_remote child", 120);
        pin(cpu);
        if (strcmp(impl, "tcp") == 0 || strcmp(impl, "tls") == 0 || strcmp(impl, "lws") == 0)
            return impl_anchor(impl, c ? c : count);
        if (strcmp(impl, "rt") == 0)
            return impl_rt(c ? c : count);
        if (strcmp(impl, "rt-nospin") == 0) {
            setenv("REPARTIR_SPIN_US", "0", 1);     /* the daemon inherits it */
            return impl_rt(c ? c : count);
        }
        if (strcmp(impl, "pipe") == 0)
            return impl_pipe(c ? c : pipelined);
        if (strcmp(impl, "true-remote") == 0)
            return impl_true(c ? c : procs, true);
        if (strcmp(impl, "true-local") == 0)
            return impl_true(c ? c : procs, false);
        if (strcmp(impl, "start") == 0)
            return impl_start();
        fprintf(stderr, "bench_remote: unknown --impl %s\n", impl);
        return 2;
    }
    if (c != 0)
        count = c;

    bench_watchdog("bench_remote", 900);
    bench_print_machine("remote workers: TLS on loopback");
    const char *given_pki = getenv("RP_BENCH_PKI");   /* made elsewhere (no openssl here) */
    if (given_pki != NULL) {
        snprintf(pki, sizeof pki, "%s", given_pki);
    } else {
        const char *tmp = getenv("TMPDIR");
        char cmd[1200];
        snprintf(pki, sizeof pki, "%s/rp-bench-remote-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (mkdtemp(pki) == NULL) {
            perror("mkdtemp");
            return 1;
        }
        bench_watchdog_names(pki);
        snprintf(cmd, sizeof cmd, "tests/integration/mkcerts.sh '%s'", pki);
        if (system(cmd) != 0) {
            fprintf(stderr, "bench_remote: cannot make the PKI (run from the repo root)\n");
            return 1;
        }
    }

    /* 1. round trips */
    static const char *const rt_impls[] = { "rt", "tls", "tcp", "lws", "rt-nospin" };
    static const char *const rt_names[] = { "repartir remote no-op (TLS)", "raw TLS 1.3 ping-pong",
                                            "raw TCP ping-pong", "raw libwebsockets echo",
                                            "  the same, no busy poll" };
    char cbuf[32];
    snprintf(cbuf, sizeof cbuf, "%u", count);
    for (int placement = 0; placement < 2; placement++) {
        bench_samples p50[5], p99[5];
        int cpu_arg = placement == 0 ? -1 : 1;
        memset(p50, 0, sizeof p50);
        memset(p99, 0, sizeof p99);
        printf("\n1. round trip of one trivial task, %u samples x %u rounds, %s\n", count, rounds,
               placement == 0 ? "unpinned" : "everything on CPU 1");
        for (unsigned r = 0; r < rounds; r++) {
            for (int k = 0; k < 5; k++) {
                bench_output o;
                if (!run_impl(rt_impls[k], cbuf, cpu_arg, &o))
                    return 1;
                bench_values(&o, "p50_us", &p50[k]);
                bench_values(&o, "p99_us", &p99[k]);
                bench_output_free(&o);
            }
        }
        for (int k = 0; k < 5; k++)
            printf("  %-30s p50 %7.1f us   p99 %7.1f us   (median of rounds)\n", rt_names[k],
                   bench_median(&p50[k]), bench_median(&p99[k]));
        double ratio = bench_median(&p50[0]) / bench_median(&p50[1]);
        bench_print_ratio("p50 remote no-op / raw TLS", bench_median(&p50[0]),
                          bench_median(&p50[1]), "<= 2.00", ratio <= 2.0);
        bench_print_ratio("p50 remote no-op / raw lws echo", bench_median(&p50[0]),
                          bench_median(&p50[3]), NULL, false);
        bench_print_ratio("p50 without busy poll / raw TLS", bench_median(&p50[4]),
                          bench_median(&p50[1]), NULL, false);
    }

    /* 2. pipelined no-ops */
    {
        bench_samples rate;
        memset(&rate, 0, sizeof rate);
        snprintf(cbuf, sizeof cbuf, "%u", pipelined);
        printf("\n2. pipelined no-op tasks, 2 workers, one job of %u, %u rounds\n", pipelined,
               rounds);
        for (unsigned r = 0; r < rounds; r++) {
            bench_output o;
            if (!run_impl("pipe", cbuf, -1, &o))
                return 1;
            bench_values(&o, "rate", &rate);
            bench_output_free(&o);
        }
        double best = 0;
        for (int i = 0; i < rate.n; i++)
            best = rate.v[i] > best ? rate.v[i] : best;
        printf("  %-30s %9.0f tasks/s (median; best %.0f)\n", "repartir, 2 TLS workers",
               bench_median(&rate), best);
        bench_print_ratio("no-op tasks/s / 20,000", bench_median(&rate), 20000, ">= 1.00",
                          bench_median(&rate) >= 20000);
    }

    /* 3. /bin/true remote vs local */
    {
        bench_samples rem, loc;
        memset(&rem, 0, sizeof rem);
        memset(&loc, 0, sizeof loc);
        snprintf(cbuf, sizeof cbuf, "%u", procs);
        printf("\n3. /bin/true, 2 slots: 2 workers of 1 slot vs a local pool of 2, %u tasks, %u "
               "rounds\n", procs, rounds);
        for (unsigned r = 0; r < rounds; r++) {
            bench_output o;
            if (!run_impl("true-remote", cbuf, -1, &o))
                return 1;
            bench_values(&o, "rate", &rem);
            bench_output_free(&o);
            if (!run_impl("true-local", cbuf, -1, &o))
                return 1;
            bench_values(&o, "rate", &loc);
            bench_output_free(&o);
        }
        printf("  %-30s %9.0f tasks/s\n", "remote (2 workers x 1 slot)", bench_median(&rem));
        printf("  %-30s %9.0f tasks/s\n", "local (2 process slots)", bench_median(&loc));
        bench_print_ratio("remote / local /bin/true", bench_median(&rem), bench_median(&loc),
                          ">= 0.90", bench_median(&rem) >= 0.9 * bench_median(&loc));
    }

    /* 4. start to first task */
    {
        bench_samples ms;
        memset(&ms, 0, sizeof ms);
        printf("\n4. repartir-worker start -> first task accepted, 5 runs\n");
        for (int r = 0; r < 5; r++) {
            bench_output o;
            if (!run_impl("start", "1", -1, &o))
                return 1;
            bench_values(&o, "start_ms", &ms);
            bench_output_free(&o);
        }
        printf("  %-30s median %.1f ms, min %.1f ms\n", "start to first result",
               bench_median(&ms), bench_min(&ms));
    }
    if (given_pki == NULL)
        bench_remove_tree(pki);
    return 0;
}
