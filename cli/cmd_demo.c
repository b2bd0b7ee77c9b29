/*
 * cmd_demo.c -- `repartir demo`: a short tour of the engine that prints
 * what it did: fork/join recursion, a parallel loop, priorities of
 * top-level work, and the pool's own figures. `make run` starts it until
 * the console exists.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <repartir.h>

#include "cli/cli.h"

static double
seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- fork/join: naive Fibonacci, one spawn per call ---- */

struct fib {
    int n;
    long result;
};

static void
fib_task(void *arg)
{
    struct fib *f = arg;

    if (f->n < 2) {
        f->result = f->n;
        return;
    }
    struct fib a = { f->n - 1, 0 }, b = { f->n - 2, 0 };
    rp_group g = RP_GROUP_INIT;

    rp_group_spawn(&g, fib_task, &a);
    fib_task(&b);
    rp_group_wait(&g);
    f->result = a.result + b.result;
}

/* ---- parallel loop: sum of squares into per-piece partials ---- */

struct sum_ctx {
    const float *x;
    _Atomic uint64_t pieces;
    pthread_mutex_t lock;
    double total;
};

static void
sum_body(size_t lo, size_t hi, void *arg)
{
    struct sum_ctx *c = arg;
    double s = 0;

    for (size_t i = lo; i < hi; i++)
        s += (double)c->x[i] * c->x[i];
    pthread_mutex_lock(&c->lock);
    c->total += s;
    pthread_mutex_unlock(&c->lock);
    atomic_fetch_add_explicit(&c->pieces, 1, memory_order_relaxed);
}

/* ---- priorities: one worker, held busy while work of every priority
 * is queued, then released ---- */

struct order {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool started, open;
    char log[64];
    size_t len;
};

struct order_item {
    struct order *o;
    char tag;
};

static void
gate_task(void *arg)
{
    struct order *o = arg;

    pthread_mutex_lock(&o->lock);
    o->started = true;
    pthread_cond_broadcast(&o->cond);
    while (!o->open)
        pthread_cond_wait(&o->cond, &o->lock);
    pthread_mutex_unlock(&o->lock);
}

static void
record_task(void *arg)
{
    struct order_item *it = arg;

    pthread_mutex_lock(&it->o->lock);
    if (it->o->len + 1 < sizeof it->o->log)
        it->o->log[it->o->len++] = it->tag;
    pthread_mutex_unlock(&it->o->lock);
}

static int
demo_priorities(void)
{
    static const struct { rp_priority prio; char tag; } queue[] = {
        { RP_PRIORITY_LOW, 'L' }, { RP_PRIORITY_NORMAL, 'N' },
        { RP_PRIORITY_HIGH, 'H' }, { RP_PRIORITY_CRITICAL, 'C' },
        { RP_PRIORITY_LOW, 'L' }, { RP_PRIORITY_CRITICAL, 'C' },
    };
    struct order o = { .open = false };
    struct order_item items[sizeof queue / sizeof queue[0]];
    rp_pool_config cfg;
    rp_pool *pool;
    rp_status s;
    char queued[16] = "";

    pthread_mutex_init(&o.lock, NULL);
    pthread_cond_init(&o.cond, NULL);
    rp_pool_config_init(&cfg);
    cfg.cpu_workers = 1;
    if ((s = rp_pool_create(&cfg, &pool)) != RP_OK) {
        rp_cli_error("cannot start a pool: %s", rp_strerror(s));
        return RP_EXIT_ERROR;
    }
    rp_pool_post(pool, RP_PRIORITY_NORMAL, gate_task, &o);
    /* Queue the rest only once the gate holds the worker: otherwise the
     * worker could take the first of them before the others are queued. */
    pthread_mutex_lock(&o.lock);
    while (!o.started)
        pthread_cond_wait(&o.cond, &o.lock);
    pthread_mutex_unlock(&o.lock);
    for (size_t i = 0; i < sizeof queue / sizeof queue[0]; i++) {
        items[i] = (struct order_item){ &o, queue[i].tag };
        rp_pool_post(pool, queue[i].prio, record_task, &items[i]);
        queued[i] = queue[i].tag;
    }
    pthread_mutex_lock(&o.lock);
    o.open = true;
    pthread_cond_broadcast(&o.cond);
    pthread_mutex_unlock(&o.lock);
    rp_pool_shutdown(pool);          /* drains: every posted task runs */
    printf("priorities  queued %s on a busy one-worker pool; ran %.*s "
           "(C=critical H=high N=normal L=low)\n", queued, (int)o.len, o.log);
    pthread_cond_destroy(&o.cond);
    pthread_mutex_destroy(&o.lock);
    return RP_EXIT_OK;
}

int
rp_cli_demo(int argc, char **argv)
{
    rp_pool_config cfg;
    rp_pool *pool;
    rp_status s;
    rp_stats st;
    long workers = 0;
    const int fib_n = 30;
    const size_t n = (size_t)1 << 24;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--workers") == 0) {
            if (i + 1 >= argc) {
                rp_cli_error("--workers needs a number");
                return RP_EXIT_USAGE;
            }
            if (!rp_cli_parse_int("--workers", argv[++i], 1, RP_POOL_MAX_WORKERS, &workers))
                return RP_EXIT_USAGE;
        } else {
            rp_cli_error("demo: unknown option '%s' (try 'repartir help demo')", argv[i]);
            return RP_EXIT_USAGE;
        }
    }

    rp_pool_config_init(&cfg);
    cfg.cpu_workers = (int)workers;
    if ((s = rp_pool_create(&cfg, &pool)) != RP_OK) {
        rp_cli_error("cannot start a pool: %s", rp_strerror(s));
        return RP_EXIT_ERROR;
    }
    rp_pool_stats(pool, &st);
    printf("repartir %s demo: a pool of %u worker%s\n", rp_version(), st.workers,
           st.workers == 1 ? "" : "s");

    struct fib f = { fib_n, 0 };
    double t0 = seconds();
    rp_pool_run(pool, fib_task, &f);
    double t_fib = seconds() - t0;
    rp_pool_stats(pool, &st);
    /* spawns(n) = fib(n + 1) - 1 for this recursion */
    struct fib next = { fib_n + 1, 0 };
    fib_task(&next);                 /* outside the pool: runs serially */
    printf("fork/join   fib(%d) = %ld: %ld tasks spawned in %.1f ms, %llu stolen "
           "by idle workers\n", fib_n, f.result, next.result - 1, t_fib * 1e3,
           (unsigned long long)st.steals);

    float *x = malloc(n * sizeof *x);
    if (x == NULL) {
        rp_cli_error("out of memory for the loop demo");
        rp_pool_shutdown(pool);
        return RP_EXIT_ERROR;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((i % 1000) * 0.001);
    struct sum_ctx c = { .x = x, .total = 0 };
    pthread_mutex_init(&c.lock, NULL);
    atomic_init(&c.pieces, 0);
    t0 = seconds();
    rp_parallel_for(pool, 0, n, 0, sum_body, &c);
    double t_loop = seconds() - t0;
    printf("loop        sum of x^2 over %zu floats = %.6g in %llu pieces, %.1f ms\n",
           n, c.total, (unsigned long long)atomic_load(&c.pieces), t_loop * 1e3);
    pthread_mutex_destroy(&c.lock);
    free(x);

    rp_pool_stats(pool, &st);
    printf("stats       workers %u, busy %u, top-level tasks done %llu, steals %llu\n",
           st.workers, st.workers_busy, (unsigned long long)st.posted_done,
           (unsigned long long)st.steals);
    rp_pool_shutdown(pool);

    return demo_priorities();
}
