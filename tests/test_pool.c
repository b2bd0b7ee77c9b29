/*
 * test_pool.c -- pool life cycle, top-level work, priorities, shutdown
 * semantics, bad arguments, parking, and the live figures.
 */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <repartir.h>

#include "tests/testing.h"

static rp_pool *
make_pool(int workers)
{
    return rp_test_pool(workers, 0, 0);
}


static void
count_task(void *arg)
{
    atomic_fetch_add((_Atomic long *)arg, 1);
}

/* A task that holds its worker until the gate opens. */
struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open, entered;
};

#define GATE_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false }

static void
gate_task(void *arg)
{
    struct gate *g = arg;

    pthread_mutex_lock(&g->lock);
    g->entered = true;
    pthread_cond_broadcast(&g->cond);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

static void
gate_wait_entered(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    while (!g->entered)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

static void
gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

/* ---- life cycle and arguments ---- */

static void
defaults_are_sensible(void)
{
    rp_pool_config cfg;
    rp_pool *pool;
    rp_stats st;
    cpu_set_t set;

    memset(&cfg, 0xA5, sizeof cfg);
    rp_pool_config_init(&cfg);
    CU_ASSERT_EQUAL(cfg.cpu_workers, 0);
    CU_ASSERT_PTR_NULL(cfg.state_dir);
    CU_ASSERT_PTR_NULL(cfg.remote_workers);
    CU_ASSERT_EQUAL(cfg.n_remote_workers, 0);
    CU_ASSERT_PTR_NULL(cfg.tls_cert);
    CU_ASSERT_PTR_NULL(cfg.token);
    CU_ASSERT(cfg.checkpoint_interval_ms > 0);
    rp_pool_config_init(NULL);                     /* ignored, no crash */

    CU_ASSERT_EQUAL_FATAL(rp_pool_create(NULL, &pool), RP_OK);   /* NULL = defaults */
    CU_ASSERT_EQUAL(rp_pool_stats(pool, &st), RP_OK);
    CU_ASSERT_EQUAL_FATAL(sched_getaffinity(0, sizeof set, &set), 0);
    CU_ASSERT_EQUAL(st.workers, (unsigned)CPU_COUNT(&set));
    rp_pool_shutdown(pool);
}

static void
bad_arguments_are_errors(void)
{
    rp_pool_config cfg;
    rp_pool *pool = (rp_pool *)&cfg;               /* must be reset to NULL */
    rp_stats st;
    const char *remote[] = { "127.0.0.1:99999" };

    rp_pool_config_init(&cfg);
    CU_ASSERT_EQUAL(rp_pool_create(&cfg, NULL), RP_ERR_INVALID);
    cfg.cpu_workers = -1;
    CU_ASSERT_EQUAL(rp_pool_create(&cfg, &pool), RP_ERR_INVALID);
    CU_ASSERT_PTR_NULL(pool);
    cfg.cpu_workers = RP_POOL_MAX_WORKERS + 1;
    CU_ASSERT_EQUAL(rp_pool_create(&cfg, &pool), RP_ERR_INVALID);
    cfg.cpu_workers = 1;
    cfg.worker_stack_size = 1000;
    CU_ASSERT_EQUAL(rp_pool_create(&cfg, &pool), RP_ERR_INVALID);
    cfg.worker_stack_size = 0;
    cfg.n_remote_workers = 1;                      /* count without a list */
    CU_ASSERT_EQUAL(rp_pool_create(&cfg, &pool), RP_ERR_INVALID);
    /* A remote worker's address is checked at once. */
    cfg.remote_workers = remote;
    CU_ASSERT_EQUAL(rp_pool_create(&cfg, &pool), RP_ERR_INVALID);
    CU_ASSERT_PTR_NULL(pool);
    cfg.remote_workers = NULL;
    cfg.n_remote_workers = 0;
    cfg.state_dir = "";                            /* a state dir needs a name */
    CU_ASSERT_EQUAL(rp_pool_create(&cfg, &pool), RP_ERR_INVALID);
    CU_ASSERT_PTR_NULL(pool);
    cfg.state_dir = NULL;

    pool = make_pool(1);
    CU_ASSERT_EQUAL(rp_pool_run(NULL, count_task, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_pool_run(pool, NULL, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_pool_post(NULL, RP_PRIORITY_LOW, count_task, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_pool_post(pool, RP_PRIORITY_LOW, NULL, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_pool_post(pool, (rp_priority)4, count_task, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_pool_post(pool, (rp_priority)-1, count_task, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_pool_stats(NULL, &st), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_pool_stats(pool, NULL), RP_ERR_INVALID);
    rp_pool_shutdown(pool);
    rp_pool_shutdown(NULL);                         /* ignored, no crash */
}

static void
create_and_destroy_1000_times(void)
{
    int before = rp_test_thread_count();

    for (int i = 0; i < 1000; i++) {
        rp_pool *pool = make_pool(2);
        if (i % 100 == 0) {                        /* and sometimes use it */
            _Atomic long count = 0;
            CU_ASSERT_EQUAL(rp_pool_run(pool, count_task, &count), RP_OK);
            CU_ASSERT_EQUAL(atomic_load(&count), 1);
        }
        rp_pool_shutdown(pool);
    }
    CU_ASSERT_EQUAL(rp_test_thread_count(), before);   /* every worker joined */
}

/* ---- top-level work ---- */

struct where {
    pthread_t outer, inner;
    rp_pool *pool;
    rp_status nested;
};

static void
inner_task(void *arg)
{
    ((struct where *)arg)->inner = pthread_self();
}

static void
outer_task(void *arg)
{
    struct where *w = arg;

    w->outer = pthread_self();
    w->nested = rp_pool_run(w->pool, inner_task, w);   /* must not deadlock */
}

static void
run_waits_and_nests_without_deadlock(void)
{
    rp_pool *pool = make_pool(1);
    struct where w = { .pool = pool, .nested = RP_ERR_INVALID };

    CU_ASSERT_EQUAL(rp_pool_run(pool, outer_task, &w), RP_OK);
    CU_ASSERT_EQUAL(w.nested, RP_OK);
    CU_ASSERT_FALSE(pthread_equal(w.outer, pthread_self()));
    CU_ASSERT_TRUE(pthread_equal(w.outer, w.inner));   /* ran inline on the worker */
    rp_pool_shutdown(pool);
}

struct order {
    pthread_mutex_t lock;
    int log[64];
    int len;
};

struct order_item {
    struct order *o;
    int value;        /* priority * 100 + sequence number */
};

static void
order_task(void *arg)
{
    struct order_item *it = arg;

    pthread_mutex_lock(&it->o->lock);
    it->o->log[it->o->len++] = it->value;
    pthread_mutex_unlock(&it->o->lock);
}

static void
priority_order_on_one_worker(void)
{
    static const rp_priority sequence[] = {
        RP_PRIORITY_LOW, RP_PRIORITY_NORMAL, RP_PRIORITY_HIGH, RP_PRIORITY_CRITICAL,
        RP_PRIORITY_NORMAL, RP_PRIORITY_LOW, RP_PRIORITY_CRITICAL, RP_PRIORITY_HIGH,
        RP_PRIORITY_LOW, RP_PRIORITY_CRITICAL, RP_PRIORITY_NORMAL, RP_PRIORITY_HIGH,
    };
    enum { N = sizeof sequence / sizeof sequence[0] };
    struct order o = { .lock = PTHREAD_MUTEX_INITIALIZER, .len = 0 };
    struct order_item items[N];
    struct gate gate = GATE_INIT;
    rp_pool *pool = make_pool(1);

    /* Hold the only worker so that everything below queues up. */
    CU_ASSERT_EQUAL(rp_pool_post(pool, RP_PRIORITY_LOW, gate_task, &gate), RP_OK);
    gate_wait_entered(&gate);
    for (int i = 0; i < N; i++) {
        items[i] = (struct order_item){ &o, (int)sequence[i] * 100 + i };
        CU_ASSERT_EQUAL(rp_pool_post(pool, sequence[i], order_task, &items[i]), RP_OK);
    }
    gate_open(&gate);
    rp_pool_shutdown(pool);

    CU_ASSERT_EQUAL_FATAL(o.len, N);
    for (int i = 1; i < N; i++) {
        int prev = o.log[i - 1], cur = o.log[i];
        /* Higher priority first; FIFO (rising sequence) within one. */
        CU_ASSERT(prev / 100 > cur / 100 || (prev / 100 == cur / 100 && prev < cur));
    }
}

/* ---- shutdown ---- */

struct drain {
    rp_pool *pool;
    _Atomic long ran;
    _Atomic int refused;
};

static void
drain_task(void *arg)
{
    struct drain *d = arg;

    rp_test_sleep_ms(1);
    atomic_fetch_add(&d->ran, 1);
    /* By now shutdown has begun: new work must be refused, cleanly. */
    if (rp_pool_post(d->pool, RP_PRIORITY_NORMAL, count_task, &d->ran) == RP_ERR_SHUTDOWN)
        atomic_fetch_add(&d->refused, 1);
}

struct opener {
    struct gate *gate;
    rp_pool *pool;
    _Atomic long probes;            /* probe tasks that ran */
    long accepted;                  /* probe tasks the pool accepted */
};

/* Opens the gate once shutdown has begun, which it learns by being
 * refused: no timing assumption. Probes accepted before that still run. */
static void *
open_when_refused(void *arg)
{
    struct opener *op = arg;

    while (rp_pool_post(op->pool, RP_PRIORITY_LOW, count_task, &op->probes) == RP_OK) {
        op->accepted++;
        rp_test_sleep_ms(1);
    }
    gate_open(op->gate);
    return NULL;
}

static void
shutdown_runs_queued_work_and_refuses_new(void)
{
    struct gate gate = GATE_INIT;
    struct drain d;
    struct opener op;
    pthread_t t;

    d.pool = make_pool(1);
    atomic_init(&d.ran, 0);
    atomic_init(&d.refused, 0);
    op.gate = &gate;
    op.pool = d.pool;
    atomic_init(&op.probes, 0);
    op.accepted = 0;
    CU_ASSERT_EQUAL(rp_pool_post(d.pool, RP_PRIORITY_HIGH, gate_task, &gate), RP_OK);
    gate_wait_entered(&gate);
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(rp_pool_post(d.pool, RP_PRIORITY_NORMAL, drain_task, &d), RP_OK);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, open_when_refused, &op), 0);
    rp_pool_shutdown(d.pool);          /* blocks until everything accepted ran */
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(atomic_load(&d.ran), 100);
    CU_ASSERT_EQUAL(atomic_load(&d.refused), 100);
    CU_ASSERT_EQUAL(atomic_load(&op.probes), op.accepted);   /* accepted = ran */
}

struct self_stop {
    rp_pool *pool;
    _Atomic bool returned;
};

static void
self_stop_task(void *arg)
{
    struct self_stop *s = arg;

    rp_pool_shutdown(s->pool);         /* from its own worker */
    atomic_store(&s->returned, true);
}

/* Repeated: the pool frees itself at a moment nobody outside knows, which
 * is where use-after-free hides (ASan and TSan runs watch this). */
static void
shutdown_from_inside_a_task(void)
{
    int before = rp_test_thread_count();

    for (int rep = 0; rep < 50; rep++) {
        struct self_stop s;
        double give_up = rp_test_now() + 30;

        s.pool = make_pool(2);
        atomic_init(&s.returned, false);
        CU_ASSERT_EQUAL(rp_pool_post(s.pool, RP_PRIORITY_NORMAL, self_stop_task, &s), RP_OK);
        /* The pool frees itself once the task returns: its threads go away. */
        while ((!atomic_load(&s.returned) || rp_test_thread_count() != before) &&
               rp_test_now() < give_up)
            sched_yield();
        CU_ASSERT_TRUE_FATAL(atomic_load(&s.returned));
        CU_ASSERT_EQUAL_FATAL(rp_test_thread_count(), before);
    }
}

/* ---- many submitters at once ---- */

struct submitter {
    rp_pool *pool;
    _Atomic long *count;
    int ok;
};

static void *
submitter_main(void *arg)
{
    struct submitter *s = arg;

    for (int i = 0; i < 500; i++) {
        if (i % 2 == 0)
            s->ok += rp_pool_run(s->pool, count_task, s->count) == RP_OK;
        else
            s->ok += rp_pool_post(s->pool, (rp_priority)(i % 4), count_task, s->count) == RP_OK;
    }
    return NULL;
}

static void
concurrent_submitters(void)
{
    rp_pool *pool = make_pool(2);
    _Atomic long count = 0;
    struct submitter subs[4];
    pthread_t t[4];
    rp_stats st;

    for (int i = 0; i < 4; i++) {
        subs[i] = (struct submitter){ pool, &count, 0 };
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, submitter_main, &subs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CU_ASSERT_EQUAL(subs[i].ok, 500);
    }
    /* Posted tasks may still be running: wait for the figures to settle. */
    double give_up = rp_test_now() + 30;
    do {
        rp_pool_stats(pool, &st);
    } while (st.posted_done < 2000 && rp_test_now() < give_up && (sched_yield(), 1));
    CU_ASSERT_EQUAL(st.posted_done, 2000);
    CU_ASSERT_EQUAL(st.posted_queued, 0);
    CU_ASSERT_EQUAL(st.posted_running, 0);
    CU_ASSERT_EQUAL(atomic_load(&count), 2000);
    rp_pool_shutdown(pool);
}

/* ---- idle ---- */

/* State letters of this process's threads named rp-worker-*: 'S' when
 * asleep (parked), 'R' when running or spinning. */
static int
count_workers_in_state(char want, int *total)
{
    DIR *dir = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    *total = 0;
    if (dir == NULL)
        return -1;
    while ((e = readdir(dir)) != NULL) {
        char path[300], buf[512], comm[64], state;
        FILE *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        if (fgets(buf, sizeof buf, f) != NULL &&
            sscanf(buf, "%*d (%63[^)]) %c", comm, &state) == 2 &&
            strncmp(comm, "rp-worker-", 10) == 0) {
            (*total)++;
            n += state == want;
        }
        fclose(f);
    }
    closedir(dir);
    return n;
}

static void
idle_workers_park(void)
{
    rp_pool *pool = make_pool(2);
    _Atomic long count = 0;
    int asleep = 0, total = 0;
    rp_stats st;

    for (int i = 0; i < 100; i++)
        rp_pool_post(pool, RP_PRIORITY_NORMAL, count_task, &count);
    CU_ASSERT_EQUAL(rp_pool_run(pool, count_task, &count), RP_OK);
    /* A spinning worker is never in state S; a parked one always is. */
    double give_up = rp_test_now() + 30;
    while (rp_test_now() < give_up) {
        asleep = count_workers_in_state('S', &total);
        if (asleep == 2)
            break;
        rp_test_sleep_ms(10);
    }
    CU_ASSERT_EQUAL(total, 2);
    CU_ASSERT_EQUAL(asleep, 2);
    CU_ASSERT_EQUAL(rp_pool_stats(pool, &st), RP_OK);
    CU_ASSERT_EQUAL(st.workers_busy, 0);
    CU_ASSERT_EQUAL(st.posted_queued, 0);
    CU_ASSERT_EQUAL(st.posted_done, 101);
    /* And parked workers still wake for new work. */
    CU_ASSERT_EQUAL(rp_pool_run(pool, count_task, &count), RP_OK);
    CU_ASSERT_EQUAL(atomic_load(&count), 102);
    rp_pool_shutdown(pool);
}

static const rp_test_case cases[] = {
    { "defaults_are_sensible", defaults_are_sensible },
    { "bad_arguments_are_errors", bad_arguments_are_errors },
    { "create_and_destroy_1000_times", create_and_destroy_1000_times },
    { "run_waits_and_nests_without_deadlock", run_waits_and_nests_without_deadlock },
    { "priority_order_on_one_worker", priority_order_on_one_worker },
    { "shutdown_runs_queued_work_and_refuses_new", shutdown_runs_queued_work_and_refuses_new },
    { "shutdown_from_inside_a_task", shutdown_from_inside_a_task },
    { "concurrent_submitters", concurrent_submitters },
    { "idle_workers_park", idle_workers_park },
    { NULL, NULL },
};

const rp_test_suite rp_test_suite_pool = { "pool", cases, true };
