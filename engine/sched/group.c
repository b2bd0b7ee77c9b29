/*
 * group.c -- fork/join: rp_group_spawn, rp_group_wait and rp_parallel_for.
 *
 * Spawn pushes a frame on the calling worker's deque: a free-list pop, one
 * relaxed atomic add on the group, a release store of the deque's bottom and
 * two loads to decide whether a sleeper needs waking. Wait first takes the
 * worker's own most recent frame -- in divide and conquer that is nearly
 * always the child just spawned -- and runs it inline; only when children
 * were stolen does it enter the slow path (worker.c), which steals, spins
 * and finally parks until the last child wakes it.
 */
#include <sched.h>
#include <stdatomic.h>

#include "engine/pool.h"
#include "engine/sched/sched.h"

void
rp_group_spawn(rp_group *g, rp_fn fn, void *arg)
{
    rp__worker *w = rp__tls_worker;
    struct rp__frame *f;

    if (fn == NULL)
        return;
    if (w == NULL || g == NULL) {
        fn(arg);                 /* nobody to run it in parallel: serial */
        return;
    }
    if (g->_owner == NULL)
        g->_owner = w;
    /* Relaxed: the frame's publication (release store of bottom) orders
     * it before any thief can run, and so complete, the child. */
    atomic_fetch_add_explicit(&g->_pending, 2, memory_order_relaxed);
    f = rp__frame_alloc(w);
    f->fn = fn;
    f->arg = arg;
    f->group = g;
    f->sync = NULL;
    rp__deque_push(&w->deque, f);
    rp__sched_signal_work(w->sched);
}

void
rp_group_wait(rp_group *g)
{
    rp__worker *w;
    struct rp__frame *f;

    if (g == NULL || rp__group_done(g))
        return;
    w = rp__tls_worker;
    if (w == NULL) {
        /* Children of g exist only if a worker spawned them, and that
         * worker should be the one waiting: tolerate, but do not park. */
        while (!rp__group_done(g))
            sched_yield();
        return;
    }
    /* Our newest frame: nearly always the child just spawned. */
    f = rp__deque_take(&w->deque);
    if (f != NULL) {
        rp__worker_run(w, f);
        if (rp__group_done(g))
            return;
    }
    rp__worker_wait_group(w, g);
}

/* ---- rp_parallel_for: recursive halving down to the grain ---- */

struct pfor {
    void (*body)(size_t lo, size_t hi, void *ctx);
    void *ctx;
    size_t grain;
};

struct pfor_range {
    const struct pfor *p;
    size_t lo, hi;
};

static void
pfor_run(void *arg)
{
    struct pfor_range *r = arg;
    const struct pfor *p = r->p;
    size_t lo = r->lo, hi = r->hi;
    /* 64 halvings reduce any size_t range to one index. */
    struct pfor_range halves[64];
    unsigned n = 0;
    rp_group g = RP_GROUP_INIT;

    while (hi - lo > p->grain && n < 64) {
        size_t mid = lo + (hi - lo) / 2;

        halves[n] = (struct pfor_range){ p, mid, hi };
        rp_group_spawn(&g, pfor_run, &halves[n]);
        n++;
        hi = mid;
    }
    p->body(lo, hi, p->ctx);
    rp_group_wait(&g);
}

void
rp_parallel_for(rp_pool *pool, size_t begin, size_t end, size_t grain,
                void (*body)(size_t lo, size_t hi, void *ctx), void *ctx)
{
    struct pfor p;
    struct pfor_range root;
    rp__sched *s;

    if (body == NULL || end <= begin)
        return;
    if (pool == NULL) {
        body(begin, end, ctx);
        return;
    }
    s = rp__pool_sched(pool);
    if (grain == 0) {
        grain = (end - begin) / (8 * (size_t)s->nworkers);
        if (grain == 0)
            grain = 1;
    }
    if (end - begin <= grain) {
        body(begin, end, ctx);   /* one piece: no need to go through the pool */
        return;
    }
    p = (struct pfor){ body, ctx, grain };
    root = (struct pfor_range){ &p, begin, end };
    if (rp__tls_worker != NULL && rp__tls_worker->sched == s) {
        pfor_run(&root);
        return;
    }
    /* The pool refuses work only when it is shutting down; the caller
     * still expects the loop done, so do it here. */
    if (rp_pool_run(pool, pfor_run, &root) != RP_OK)
        body(begin, end, ctx);
}
