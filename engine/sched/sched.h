/*
 * sched.h -- the work-stealing scheduler's internals, shared by the files
 * of engine/sched/ and by engine/pool.c. Not a public header.
 *
 * THREAD SAFETY NOTES
 *   rp__worker fields marked "owner" are touched only by that worker's
 *   thread. free_remote, park, busy and steals are atomics any thread may
 *   touch. The deque follows deque.h.
 *   rp__sched: inject_lock guards the inject lists; sleep_lock guards the
 *   sleepers stack and orders every change of a worker's `park` word.
 *   Lock order: inject_lock, then sleep_lock (an injector wakes a sleeper
 *   before it lets go of inject_lock). Counters are atomics.
 *
 * WAKE-UP PROTOCOL (no lost wake-ups, no syscall on the spawn path)
 *   A worker that finds nothing to do registers in `sleepers` (under
 *   sleep_lock, nsleeping++), stops searching (nsearching--), executes a
 *   heavy barrier, re-checks every source of work, and only then sleeps on
 *   its own futex word. Whoever adds work stores it, executes a light
 *   barrier, then loads nsleeping and nsearching; it wakes one sleeper only
 *   when somebody sleeps and nobody is already searching. With membarrier()
 *   available the heavy barrier is MEMBARRIER_CMD_PRIVATE_EXPEDITED and the
 *   light one a compiler barrier (an asymmetric Dekker: the rare sleeper
 *   pays, the hot spawner does not); otherwise both are seq_cst fences.
 *   Either the sleeper's re-check sees the work or the adder sees the
 *   sleeper. A woken worker is counted as searching by its waker, so a
 *   burst of spawns costs one wake-up, not one per spawn; a searcher that
 *   finds work and was the last searcher wakes the next sleeper, so wake-ups
 *   fan out as long as work keeps appearing (as in Go's and Tokio's
 *   schedulers).
 */
#ifndef RP_SCHED_SCHED_H
#define RP_SCHED_SCHED_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <repartir.h>

#include "engine/sched/deque.h"
#include "engine/sched/fence.h"

struct rp__worker;

/* What rp_pool_run's caller waits on (top-level frames only). */
struct rp__sync {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
};

/* One unit of queued work. Cache-line sized so that a thief reading one
 * frame does not share a line with the owner writing the next. */
struct rp__frame {
    rp_fn fn;
    void *arg;
    rp_group *group;             /* spawned child: the group to complete */
    struct rp__sync *sync;       /* top-level: rp_pool_run waiter, or NULL */
    struct rp__frame *next;      /* free lists and injection lists */
    struct rp__worker *home;     /* free list it returns to; NULL = heap */
} __attribute__((aligned(RP__CACHE_LINE)));

struct rp__slab;

typedef struct rp__worker {
    rp__deque deque;
    /* owner */
    struct rp__sched *sched;
    unsigned index;
    bool searching;              /* counted in sched->nsearching */
    uint64_t rng;                /* xorshift state for victim choice */
    char *steal_floor;           /* below this stack address: no stealing */
    struct rp__frame *free_local;
    struct rp__slab *slabs;
    pthread_t thread;
    /* any thread */
    alignas(RP__CACHE_LINE) _Atomic(struct rp__frame *) free_remote;
    alignas(RP__CACHE_LINE) _Atomic uint32_t park;   /* futex word, RP__PARK_* bits */
    _Atomic uint32_t busy;       /* running a task (not searching or idle) */
    _Atomic uint64_t steals;     /* written by the owner only */
} rp__worker;

#define RP__PARK_WORK 1u         /* woken to search; counted in nsearching */
#define RP__PARK_WAKE 2u         /* woken for a group, or to stop */

typedef struct rp__sched {
    unsigned nworkers;
    size_t stack_size;
    rp__worker *workers;         /* nworkers, cache-line aligned */

    /* read on every spawn: keep apart from the lines written often */
    alignas(RP__CACHE_LINE) _Atomic uint32_t nsleeping;
    _Atomic uint32_t nsearching;
    _Atomic bool stopping;

    alignas(RP__CACHE_LINE) pthread_mutex_t inject_lock;
    struct { struct rp__frame *head, *tail; } inject[RP_PRIORITY_COUNT];
    _Atomic uint64_t inject_len;       /* frames in the inject lists */
    _Atomic uint64_t top_outstanding;  /* accepted top-level, not finished */
    _Atomic uint64_t top_done;

    alignas(RP__CACHE_LINE) pthread_mutex_t sleep_lock;
    unsigned *sleepers;                /* stack of worker indices */
    unsigned nsleepers;

    /* shutdown */
    _Atomic unsigned alive;            /* worker threads not yet returned */
    _Atomic bool self_free;            /* shut down from a worker: last frees */
    void (*release)(void *ctx);        /* called once the sched is freed */
    void *release_ctx;
} rp__sched;

/* The worker running on this thread, or NULL on any other thread. */
extern _Thread_local rp__worker *rp__tls_worker
    __attribute__((tls_model("initial-exec")));

/* True when pushes may use a compiler barrier (membarrier() is in use). */
extern bool rp__sched_light_barrier;

/* Creates the scheduler and starts nworkers threads (1..RP_POOL_MAX_WORKERS)
 * with stack_size bytes of stack each. RP_ERR_SYSTEM if threads cannot be
 * started; nothing leaks then. */
rp_status rp__sched_create(unsigned nworkers, size_t stack_size, rp__sched **out);
/* Stops taking top-level work, drains what was accepted, joins, frees,
 * then calls release(ctx). From one of its own workers: returns at once;
 * the last worker to leave frees and calls release(ctx). */
void rp__sched_shutdown(rp__sched *s, void (*release)(void *ctx), void *ctx);
/* Queues a top-level frame; fills f->next. RP_ERR_SHUTDOWN when stopping
 * (the frame is then not queued). */
rp_status rp__sched_inject(rp__sched *s, struct rp__frame *f, rp_priority prio);
void rp__sched_stats(rp__sched *s, rp_stats *out);

/* Wakes one sleeping worker to search for work (cold half of signal_work). */
void rp__sched_notify_one(rp__sched *s);
/* Completion of a top-level frame: counters, rp_pool_run's waiter, drain. */
void rp__sched_top_complete(rp__sched *s, struct rp__frame *f);
/* Leaves the searching state; wakes the next sleeper if this was the last
 * searcher (the fan-out of wake-ups). */
void rp__worker_stop_searching(rp__worker *w);
/* Steal one frame from a random other worker; NULL if none was found after
 * one pass over every victim. */
struct rp__frame *rp__worker_steal_pass(rp__worker *w);
/* The waiting half of rp_group_wait: runs/steals/spins/parks until g is done. */
void rp__worker_wait_group(rp__worker *w, rp_group *g);
/* Wakes w from a park with bits (RP__PARK_*), removing it from sleepers. */
void rp__worker_wake(rp__worker *w, uint32_t bits);

/* Frames: per-worker free lists refilled from a remote-free stack, then from
 * slabs. No malloc per spawn. */
struct rp__frame *rp__frame_refill(rp__worker *w);
void rp__frame_free_remote(rp__worker *home, struct rp__frame *f);
void rp__frame_release_all(rp__worker *w);

static inline struct rp__frame *
rp__frame_alloc(rp__worker *w)
{
    struct rp__frame *f = w->free_local;

    if (__builtin_expect(f == NULL, 0))
        return rp__frame_refill(w);
    w->free_local = f->next;
    return f;
}

static inline void
rp__frame_free(rp__worker *w, struct rp__frame *f)
{
    if (f->home == w) {
        f->next = w->free_local;
        w->free_local = f;
    } else if (f->home == NULL) {
        free(f);
    } else {
        rp__frame_free_remote(f->home, f);
    }
}

/*
 * Group state: _pending holds 2 x (children not finished) plus bit 0, set
 * while the owner is parked (or about to park) waiting for them. The child
 * that takes the count to zero with the bit set wakes the owner; it reads
 * the owner before its decrement because the group may vanish right after.
 */
static inline bool
rp__group_done(rp_group *g)
{
    /* Acquire: pairs with the children's release decrements, so what they
     * wrote is visible once the count reads zero. Fenced: park re-checks it. */
    return (atomic_load_explicit(&g->_pending, rp__fenced(memory_order_acquire)) >> 1) == 0;
}

static inline void
rp__group_complete(rp_group *g)
{
    rp__worker *owner = g->_owner;
    int64_t old = atomic_fetch_sub_explicit(&g->_pending, 2, memory_order_release);

    if (old == 3)
        rp__worker_wake(owner, RP__PARK_WAKE);
}

/* Runs a frame taken from a deque or the injection queue, then recycles it. */
static inline void
rp__worker_run(rp__worker *w, struct rp__frame *f)
{
    rp_group *g = f->group;

    f->fn(f->arg);
    if (g != NULL)
        rp__group_complete(g);
    else
        rp__sched_top_complete(w->sched, f);
    rp__frame_free(w, f);
}

/* Called after work was pushed where other workers can take it. */
static inline void
rp__sched_signal_work(rp__sched *s)
{
    if (rp__sched_light_barrier)
        atomic_signal_fence(memory_order_seq_cst);
    else
        rp__fence_seq_cst();
    if (atomic_load_explicit(&s->nsleeping, rp__fenced(memory_order_relaxed)) != 0 &&
        atomic_load_explicit(&s->nsearching, rp__fenced(memory_order_relaxed)) == 0)
        rp__sched_notify_one(s);
}

#endif /* RP_SCHED_SCHED_H */
