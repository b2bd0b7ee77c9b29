/*
 * test_group.c -- fork/join through the public API: rp_group_spawn /
 * rp_group_wait and rp_parallel_for, on real pools.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <repartir.h>

#include "tests/testing.h"

static rp_pool *
make_pool(int workers, size_t stack)
{
    return rp_test_pool(workers, stack, 0);
}


/* ---- fib ---- */

struct fib {
    int n;
    long result;
};

static _Thread_local char *deepest, *shallowest;
static _Atomic size_t max_depth;        /* the most any worker's frames spanned */

/* Each worker thread is new with each pool, so its marks start empty. */
static void
note_stack(void)
{
    char *here = __builtin_frame_address(0);
    bool deeper = false;

    if (deepest == NULL || here < deepest) {
        deepest = here;
        deeper = true;
    }
    if (shallowest == NULL || here > shallowest) {
        shallowest = here;
        deeper = true;
    }
    if (deeper) {
        size_t d = (size_t)(shallowest - deepest);
        size_t cur = atomic_load_explicit(&max_depth, memory_order_relaxed);
        while (d > cur && !atomic_compare_exchange_weak(&max_depth, &cur, d))
            ;
    }
}

static void
fib_task(void *arg)
{
    struct fib *f = arg;

    note_stack();
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

static long
fib_serial(int n)
{
    long a = 0, b = 1;

    for (int i = 0; i < n; i++) {
        long t = a + b;
        a = b;
        b = t;
    }
    return a;
}

static void
fib_25_is_right_on_1_2_and_4_workers(void)
{
    static const int workers[] = { 1, 2, 4 };

    for (size_t i = 0; i < sizeof workers / sizeof workers[0]; i++) {
        rp_pool *pool = make_pool(workers[i], 0);
        for (int rep = 0; rep < 3; rep++) {
            struct fib f = { 25, 0 };
            CU_ASSERT_EQUAL(rp_pool_run(pool, fib_task, &f), RP_OK);
            CU_ASSERT_EQUAL(f.result, 75025);
        }
        rp_pool_shutdown(pool);
    }
}

static void
fib_on_more_workers_than_cpus(void)
{
    rp_pool *pool = make_pool(8, 0);
    struct fib f = { 24, 0 };

    CU_ASSERT_EQUAL(rp_pool_run(pool, fib_task, &f), RP_OK);
    CU_ASSERT_EQUAL(f.result, fib_serial(24));
    rp_pool_shutdown(pool);
}

/* The deepest any worker's fib(n) frames went, on `workers` workers. */
static size_t
fib_stack_depth(int workers, size_t stack, int n)
{
    rp_pool *pool = make_pool(workers, stack);
    struct fib f = { n, 0 };

    atomic_store(&max_depth, 0);
    CU_ASSERT_EQUAL(rp_pool_run(pool, fib_task, &f), RP_OK);
    CU_ASSERT_EQUAL(f.result, fib_serial(n));
    rp_pool_shutdown(pool);
    return atomic_load(&max_depth);
}

/* A deep recursion on small stacks: waiting workers may only steal while
 * less than half of their stack is used, so nested steals cannot pile up.
 * The bound: half the stack, plus one whole task's own depth (a steal just
 * above the floor may recurse that far), measured on one worker with this
 * build's frame sizes (sanitizers make them several times larger). */
static void
deep_recursion_fits_small_stacks(void)
{
    const size_t stack = 256 << 10;
    const int n = rp_test_slowdown() > 1 ? 24 : 34;
    size_t serial = fib_stack_depth(1, stack, n);
    size_t parallel = fib_stack_depth(2, stack, n);

    CU_ASSERT(serial > 0);
    CU_ASSERT(parallel > 0);
    CU_ASSERT(parallel < stack / 2 + serial + (16 << 10));
    if (parallel >= stack / 2 + serial + (16 << 10))
        fprintf(stderr, "\n    depth %zu on 2 workers, %zu on 1\n", parallel, serial);
}

/* ---- nesting ---- */

struct node {
    int depth;
    _Atomic long *count;
    bool done;
};

#define FANOUT 6
#define DEPTH 5

static void
tree_task(void *arg)
{
    struct node *me = arg;
    struct node kids[FANOUT];
    rp_group g = RP_GROUP_INIT;

    atomic_fetch_add(me->count, 1);
    if (me->depth < DEPTH) {
        for (int i = 0; i < FANOUT; i++) {
            kids[i] = (struct node){ me->depth + 1, me->count, false };
            rp_group_spawn(&g, tree_task, &kids[i]);
        }
        rp_group_wait(&g);
        for (int i = 0; i < FANOUT; i++)
            if (!kids[i].done)
                CU_FAIL("rp_group_wait returned before a child finished");
    }
    me->done = true;
}

static void
nested_groups_wait_for_every_child(void)
{
    rp_pool *pool = make_pool(2, 0);
    _Atomic long count = 0;
    struct node root = { 0, &count, false };
    long expect = 0, level = 1;

    for (int d = 0; d <= DEPTH; d++, level *= FANOUT)
        expect += level;
    CU_ASSERT_EQUAL(rp_pool_run(pool, tree_task, &root), RP_OK);
    CU_ASSERT_TRUE(root.done);
    CU_ASSERT_EQUAL(atomic_load(&count), expect);
    rp_pool_shutdown(pool);
}

/* Children spawn grandchildren into their parent's group, from whatever
 * worker they run on. */
struct shared_group {
    rp_group *g;
    _Atomic long *count;
};

static void
leaf_task(void *arg)
{
    struct shared_group *s = arg;

    atomic_fetch_add(s->count, 1);
}

#define GRANDCHILDREN 20

static void
child_task(void *arg)
{
    struct shared_group *s = arg;

    atomic_fetch_add(s->count, 1);
    for (int i = 0; i < GRANDCHILDREN; i++)
        rp_group_spawn(s->g, leaf_task, s);
}

#define CHILDREN 50

static void
parent_task(void *arg)
{
    _Atomic long *count = arg;
    rp_group g = RP_GROUP_INIT;
    struct shared_group s = { &g, count };

    for (int i = 0; i < CHILDREN; i++)
        rp_group_spawn(&g, child_task, &s);
    rp_group_wait(&g);
    if (atomic_load(count) != CHILDREN * (1 + GRANDCHILDREN))
        CU_FAIL("wait returned before the grandchildren finished");
}

static void
spawning_from_spawned_tasks_into_the_parent_group(void)
{
    rp_pool *pool = make_pool(3, 0);

    for (int rep = 0; rep < 20; rep++) {
        _Atomic long count = 0;
        CU_ASSERT_EQUAL(rp_pool_run(pool, parent_task, &count), RP_OK);
        CU_ASSERT_EQUAL(atomic_load(&count), CHILDREN * (1 + GRANDCHILDREN));
    }
    rp_pool_shutdown(pool);
}

/* ---- small contracts ---- */

static void
count_task(void *arg)
{
    atomic_fetch_add((_Atomic long *)arg, 1);
}

static void
spawn_outside_a_worker_runs_inline(void)
{
    _Atomic long count = 0;
    rp_group g = RP_GROUP_INIT;

    rp_group_spawn(&g, count_task, &count);
    CU_ASSERT_EQUAL(atomic_load(&count), 1);   /* already ran */
    rp_group_wait(&g);
    rp_group_spawn(NULL, count_task, &count);  /* no group: still runs */
    CU_ASSERT_EQUAL(atomic_load(&count), 2);
    rp_group_spawn(&g, NULL, &count);          /* no function: nothing */
    rp_group_wait(NULL);
    CU_ASSERT_EQUAL(atomic_load(&count), 2);
}

static void
reuse_task(void *arg)
{
    _Atomic long *count = arg;
    rp_group g = RP_GROUP_INIT;

    rp_group_wait(&g);                          /* nothing spawned yet */
    for (int round = 1; round <= 3; round++) {
        for (int i = 0; i < 10; i++)
            rp_group_spawn(&g, count_task, count);
        rp_group_wait(&g);
        if (atomic_load(count) != round * 10)
            CU_FAIL("a reused group returned early");
    }
}

static void
a_group_can_be_reused(void)
{
    rp_pool *pool = make_pool(2, 0);
    _Atomic long count = 0;

    CU_ASSERT_EQUAL(rp_pool_run(pool, reuse_task, &count), RP_OK);
    CU_ASSERT_EQUAL(atomic_load(&count), 30);
    rp_pool_shutdown(pool);
}

/* ---- parking and waking ---- */

struct handoff {
    _Atomic bool started, finished;
    pthread_t ran_on;
    unsigned sleep_ms;
};

static void
slow_child(void *arg)
{
    struct handoff *h = arg;

    h->ran_on = pthread_self();
    atomic_store(&h->started, true);
    if (h->sleep_ms)
        rp_test_sleep_ms(h->sleep_ms);
    atomic_store(&h->finished, true);
}

struct handoff_parent {
    struct handoff child;
    bool stolen, finished_at_return;
    bool other_thread;
};

/* Spawns, then does not touch its deque until another worker has taken the
 * child: that worker was parked, so this also checks the spawn wake-up. */
static void
handoff_parent(void *arg)
{
    struct handoff_parent *p = arg;
    rp_group g = RP_GROUP_INIT;
    double give_up = rp_test_now() + 30;

    rp_group_spawn(&g, slow_child, &p->child);
    while (!atomic_load(&p->child.started) && rp_test_now() < give_up)
        sched_yield();
    p->stolen = atomic_load(&p->child.started);
    rp_group_wait(&g);       /* the child sleeps: we spin, then park */
    p->finished_at_return = atomic_load(&p->child.finished);
    p->other_thread = p->stolen && !pthread_equal(p->child.ran_on, pthread_self());
}

static void
spawned_work_wakes_an_idle_worker(void)
{
    rp_pool *pool = make_pool(2, 0);
    rp_stats st;

    rp_test_sleep_ms(20);                 /* let the second worker park */
    for (int rep = 0; rep < 5; rep++) {
        struct handoff_parent p = { .child.sleep_ms = 0 };
        CU_ASSERT_EQUAL(rp_pool_run(pool, handoff_parent, &p), RP_OK);
        CU_ASSERT_TRUE(p.stolen);
        CU_ASSERT_TRUE(p.other_thread);
        CU_ASSERT_TRUE(p.finished_at_return);
        rp_test_sleep_ms(5);
    }
    CU_ASSERT_EQUAL(rp_pool_stats(pool, &st), RP_OK);
    CU_ASSERT(st.steals >= 5);
    rp_pool_shutdown(pool);
}

static void
a_parked_parent_is_woken_by_its_last_child(void)
{
    rp_pool *pool = make_pool(2, 0);

    for (int rep = 0; rep < 3; rep++) {
        struct handoff_parent p = { .child.sleep_ms = 150 };
        CU_ASSERT_EQUAL(rp_pool_run(pool, handoff_parent, &p), RP_OK);
        CU_ASSERT_TRUE(p.stolen);
        CU_ASSERT_TRUE(p.finished_at_return);
    }
    rp_pool_shutdown(pool);
}

/* ---- waits past the steal floor ---- */

static _Atomic int deep_ran;

static void
mark_ran(void *arg)
{
    (void)arg;
    atomic_fetch_add(&deep_ran, 1);
}

/* A child spawns into its own group first, then into its parent's group,
 * and waits for its own: the parent's frame sits on top of the deque. */
static void
child_spawns_into_both(void *arg)
{
    rp_group *parent = arg;
    rp_group own = RP_GROUP_INIT;

    rp_group_spawn(&own, mark_ran, NULL);
    rp_group_spawn(parent, mark_ran, NULL);
    rp_group_wait(&own);
}

static void
waits_out_of_order(void)
{
    rp_group g1 = RP_GROUP_INIT, g2 = RP_GROUP_INIT, g3 = RP_GROUP_INIT;

    rp_group_spawn(&g1, mark_ran, NULL);
    rp_group_spawn(&g2, mark_ran, NULL);
    rp_group_wait(&g1);                 /* g2's frame is on top */
    rp_group_wait(&g2);
    rp_group_spawn(&g3, child_spawns_into_both, &g3);
    rp_group_wait(&g3);
}

/* Recurses until the stack pointer is 60% of the way down this thread's
 * usable stack, past the scheduler's steal floor (half way), and waits
 * there. Measured rather than counted: sanitizer frames and TLS differ. */
static int
burn_stack(const char *target)
{
    volatile char buf[2048];

    memset((char *)buf, 1, sizeof buf);
    if ((const char *)buf > target)
        return burn_stack(target) + buf[100];
    waits_out_of_order();
    return buf[7];
}

static void
deep_task(void *arg)
{
    char *here = __builtin_frame_address(0);
    pthread_attr_t attr;
    void *low;
    size_t size;

    /* No FATAL asserts here: they longjmp, and this is a worker thread. */
    if (pthread_getattr_np(pthread_self(), &attr) != 0) {
        CU_FAIL("pthread_getattr_np");
        return;
    }
    CU_ASSERT_EQUAL(pthread_attr_getstack(&attr, &low, &size), 0);
    pthread_attr_destroy(&attr);
    *(int *)arg = burn_stack(here - (here - (char *)low) * 6 / 10);
}

static void
deep_waits_run_their_own_frames_in_any_order(void)
{
    static const int workers[] = { 1, 2 };

    for (size_t i = 0; i < sizeof workers / sizeof workers[0]; i++) {
        rp_pool *pool = make_pool(workers[i], (size_t)1 << 20);
        int sink = 0;

        atomic_store(&deep_ran, 0);
        for (int rep = 0; rep < 5; rep++)
            CU_ASSERT_EQUAL(rp_pool_run(pool, deep_task, &sink), RP_OK);
        CU_ASSERT_EQUAL(atomic_load(&deep_ran), 5 * 4);
        rp_pool_shutdown(pool);
    }
}

/* ---- a waiting worker takes new top-level work ---- */

struct relay {
    _Atomic bool child_started, posted_started;
    bool child_saw_post;
};

static void
posted_task(void *arg)
{
    atomic_store(&((struct relay *)arg)->posted_started, true);
}

/* Stolen by the other worker; needs the posted task to start meanwhile. */
static void
relay_child(void *arg)
{
    struct relay *r = arg;
    double give_up = rp_test_now() + 20;

    atomic_store(&r->child_started, true);
    while (!atomic_load(&r->posted_started) && rp_test_now() < give_up)
        rp_test_sleep_ms(1);
    r->child_saw_post = atomic_load(&r->posted_started);
}

static void
relay_parent(void *arg)
{
    struct relay *r = arg;
    rp_group g = RP_GROUP_INIT;
    double give_up = rp_test_now() + 20;

    rp_group_spawn(&g, relay_child, r);
    while (!atomic_load(&r->child_started) && rp_test_now() < give_up)
        sched_yield();                  /* until the other worker stole it */
    rp_group_wait(&g);                  /* parks; must wake for the post */
}

struct relay_run {
    rp_pool *pool;
    struct relay *r;
};

static void *
relay_main(void *arg)
{
    struct relay_run *rr = arg;

    rp_pool_run(rr->pool, relay_parent, rr->r);
    return NULL;
}

static void
a_waiting_worker_takes_new_top_level_work(void)
{
    rp_pool *pool = make_pool(2, 0);

    for (int rep = 0; rep < 3; rep++) {
        struct relay r = { .child_saw_post = false };
        struct relay_run rr = { pool, &r };
        pthread_t t;
        double give_up = rp_test_now() + 20;

        atomic_init(&r.child_started, false);
        atomic_init(&r.posted_started, false);
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, relay_main, &rr), 0);
        while (!atomic_load(&r.child_started) && rp_test_now() < give_up)
            rp_test_sleep_ms(1);
        rp_test_sleep_ms(5);                    /* let the parent park */
        /* Both workers are taken: one waits, one runs the child. The
         * waiting one must run this, or the child never finishes. */
        CU_ASSERT_EQUAL(rp_pool_post(pool, RP_PRIORITY_NORMAL, posted_task, &r), RP_OK);
        pthread_join(t, NULL);
        CU_ASSERT_TRUE(r.child_saw_post);
    }
    rp_pool_shutdown(pool);
}

/* ---- rp_parallel_for ---- */

struct visit {
    _Atomic unsigned char *seen;
    size_t lo_bound, hi_bound;
    _Atomic bool out_of_range;
    _Atomic long calls;
};

static void
visit_body(size_t lo, size_t hi, void *arg)
{
    struct visit *v = arg;

    atomic_fetch_add_explicit(&v->calls, 1, memory_order_relaxed);
    if (lo >= hi || lo < v->lo_bound || hi > v->hi_bound) {
        atomic_store(&v->out_of_range, true);
        return;
    }
    for (size_t i = lo; i < hi; i++)
        atomic_fetch_add_explicit(&v->seen[i - v->lo_bound], 1, memory_order_relaxed);
}

/* Runs rp_parallel_for over [begin, begin + n) and checks every index was
 * visited exactly once and nothing outside. */
static void
check_pfor(rp_pool *pool, size_t begin, size_t n, size_t grain)
{
    struct visit v;
    size_t bad = 0;

    v.seen = calloc(n + 1, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v.seen);
    v.lo_bound = begin;
    v.hi_bound = begin + n;
    atomic_init(&v.out_of_range, false);
    atomic_init(&v.calls, 0);
    rp_parallel_for(pool, begin, begin + n, grain, visit_body, &v);
    CU_ASSERT_FALSE(atomic_load(&v.out_of_range));
    for (size_t i = 0; i < n; i++)
        bad += atomic_load_explicit(&v.seen[i], memory_order_relaxed) != 1;
    CU_ASSERT_EQUAL(bad, 0);
    if (n == 0)
        CU_ASSERT_EQUAL(atomic_load(&v.calls), 0);
    if (pool != NULL && grain > 0 && n > 0)   /* pieces never exceed the grain */
        CU_ASSERT(atomic_load(&v.calls) >= (long)((n + grain - 1) / grain));
    free(v.seen);
}

static void
parallel_for_visits_each_index_once(void)
{
    rp_pool *pool = make_pool(2, 0);
    const size_t grain = 1000;
    static const size_t sizes[] = { 0, 1, 999, 1000, 1001, 12345, 10000000 };

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        check_pfor(pool, 0, sizes[i], grain);
        check_pfor(pool, 7, sizes[i], grain);     /* not starting at 0 */
        check_pfor(pool, 0, sizes[i], 0);         /* automatic grain */
    }
    check_pfor(pool, 3, 100000, 1);               /* one index per piece */
    rp_pool_shutdown(pool);
}

struct nested_pfor {
    rp_pool *pool;
    bool ok;
};

static void
nested_pfor_task(void *arg)
{
    struct nested_pfor *np = arg;
    struct visit v;

    v.seen = calloc(50000, 1);
    v.lo_bound = 0;
    v.hi_bound = 50000;
    atomic_init(&v.out_of_range, false);
    atomic_init(&v.calls, 0);
    rp_parallel_for(np->pool, 0, 50000, 100, visit_body, &v);
    np->ok = !atomic_load(&v.out_of_range);
    for (size_t i = 0; i < 50000; i++)
        np->ok = np->ok && atomic_load(&v.seen[i]) == 1;
    free(v.seen);
}

static void
parallel_for_from_inside_a_task(void)
{
    rp_pool *pool = make_pool(2, 0);
    struct nested_pfor np = { pool, false };

    CU_ASSERT_EQUAL(rp_pool_run(pool, nested_pfor_task, &np), RP_OK);
    CU_ASSERT_TRUE(np.ok);
    rp_pool_shutdown(pool);
}

static void
parallel_for_degenerate_arguments(void)
{
    check_pfor(NULL, 5, 1000, 10);                  /* no pool: serial */
    rp_pool *pool = make_pool(1, 0);
    rp_parallel_for(pool, 0, 100, 10, NULL, NULL);  /* no body: nothing */
    rp_parallel_for(pool, 100, 10, 10, visit_body, NULL);  /* end < begin */
    check_pfor(pool, SIZE_MAX - 2000, 1999, 7);     /* near the top of size_t */
    rp_pool_shutdown(pool);
}

static const rp_test_case cases[] = {
    { "fib_25_is_right_on_1_2_and_4_workers", fib_25_is_right_on_1_2_and_4_workers },
    { "fib_on_more_workers_than_cpus", fib_on_more_workers_than_cpus },
    { "deep_recursion_fits_small_stacks", deep_recursion_fits_small_stacks },
    { "nested_groups_wait_for_every_child", nested_groups_wait_for_every_child },
    { "spawning_from_spawned_tasks_into_the_parent_group",
      spawning_from_spawned_tasks_into_the_parent_group },
    { "spawn_outside_a_worker_runs_inline", spawn_outside_a_worker_runs_inline },
    { "a_group_can_be_reused", a_group_can_be_reused },
    { "spawned_work_wakes_an_idle_worker", spawned_work_wakes_an_idle_worker },
    { "a_parked_parent_is_woken_by_its_last_child", a_parked_parent_is_woken_by_its_last_child },
    { "deep_waits_run_their_own_frames_in_any_order",
      deep_waits_run_their_own_frames_in_any_order },
    { "a_waiting_worker_takes_new_top_level_work", a_waiting_worker_takes_new_top_level_work },
    { "parallel_for_visits_each_index_once", parallel_for_visits_each_index_once },
    { "parallel_for_from_inside_a_task", parallel_for_from_inside_a_task },
    { "parallel_for_degenerate_arguments", parallel_for_degenerate_arguments },
    { NULL, NULL },
};

const rp_test_suite rp_test_suite_group = { "group", cases, true };
