/*
 * deque.h -- the Chase-Lev work-stealing deque (SPAA 2005), growable, with
 * the C11 memory orders of Lê, Pop, Cohen and Zappa Nardelli, "Correct and
 * Efficient Work-Stealing for Weak Memory Models" (PPoPP 2013).
 *
 * Threads: exactly one owner calls push and take (LIFO, at `bottom`); any
 * number of thieves call steal (FIFO, at `top`). Items are non-NULL
 * pointers; the deque never dereferences them.
 *
 * Orders, against the paper's figure 1:
 *   push:  slot store relaxed; the bottom store is a *release store* where the
 *          paper has a release fence followed by a relaxed store. Every store
 *          to bottom here is a release store (in take too), so a thief whose
 *          acquire load reads any bottom value synchronizes with all the
 *          owner's earlier slot writes -- the guarantee the fence gave. On
 *          x86 the code is identical; ThreadSanitizer, which does not model
 *          standalone fences, can then see the synchronization.
 *   take:  bottom store, seq_cst fence, top load: the store->load order that
 *          decides the race for the last item (CAS on top, seq_cst).
 *   steal: acquire top, seq_cst fence, acquire bottom, seq_cst CAS on top.
 *
 * Growing copies the live items into an array twice as large. Thieves may
 * still read the old array, so it is kept on a retired list and freed with
 * the deque (total retired memory is less than the live array's).
 */
#ifndef RP_SCHED_DEQUE_H
#define RP_SCHED_DEQUE_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/sched/fence.h"

#define RP__CACHE_LINE 64

struct rp__deque_array {
    int64_t mask;                         /* capacity - 1; capacity is 2^k */
    struct rp__deque_array *retired;      /* older arrays, owner-only */
    _Atomic(void *) slot[];
};

typedef struct rp__deque {
    alignas(RP__CACHE_LINE) _Atomic int64_t top;      /* thieves take here */
    alignas(RP__CACHE_LINE) _Atomic int64_t bottom;   /* owner pushes/takes */
    _Atomic(struct rp__deque_array *) array;
} rp__deque;

typedef enum {
    RP__STEAL_OK,
    RP__STEAL_EMPTY,
    RP__STEAL_ABORT          /* lost a race with another thief or the owner */
} rp__steal_result;

/* capacity_log2 in [1, 30]; values outside are clamped. */
void rp__deque_init(rp__deque *q, unsigned capacity_log2);
/* Frees the arrays. No thread may use q any more. */
void rp__deque_destroy(rp__deque *q);
/* Owner only: replaces a full array by one twice as large; returns it. */
struct rp__deque_array *rp__deque_grow(rp__deque *q, struct rp__deque_array *a,
                                       int64_t top, int64_t bottom);

/* Owner only. item must not be NULL. */
static inline void
rp__deque_push(rp__deque *q, void *item)
{
    int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&q->top, memory_order_acquire);
    struct rp__deque_array *a = atomic_load_explicit(&q->array, memory_order_relaxed);

    if (b - t > a->mask)
        a = rp__deque_grow(q, a, t, b);
    atomic_store_explicit(&a->slot[b & a->mask], item, memory_order_relaxed);
    /* Release: publishes the slot and whatever the item points to. Fenced:
     * a spawner's sleeper check follows (sched.h). */
    atomic_store_explicit(&q->bottom, b + 1, rp__fenced(memory_order_release));
}

/* Owner only: the most recently pushed item, or NULL when empty. */
static inline void *
rp__deque_take(rp__deque *q)
{
    int64_t b = atomic_load_explicit(&q->bottom, memory_order_relaxed) - 1;
    struct rp__deque_array *a = atomic_load_explicit(&q->array, memory_order_relaxed);
    void *item;
    int64_t t;

    atomic_store_explicit(&q->bottom, b, rp__fenced(memory_order_release));
    /* The store to bottom must be visible before top is read: with the
     * thieves' fence this guarantees that the owner and a thief cannot both
     * take the last item without meeting at the CAS. */
    rp__fence_seq_cst();
    t = atomic_load_explicit(&q->top, rp__fenced(memory_order_relaxed));
    if (t > b) {
        atomic_store_explicit(&q->bottom, b + 1, memory_order_release);
        return NULL;
    }
    item = atomic_load_explicit(&a->slot[b & a->mask], memory_order_relaxed);
    if (t == b) {
        /* Last item: race the thieves for it. */
        if (!atomic_compare_exchange_strong_explicit(&q->top, &t, t + 1,
                                                     memory_order_seq_cst,
                                                     memory_order_relaxed))
            item = NULL;
        atomic_store_explicit(&q->bottom, b + 1, memory_order_release);
    }
    return item;
}

/* Any thread: the oldest item into *out. */
static inline rp__steal_result
rp__deque_steal(rp__deque *q, void **out /* OUT */)
{
    int64_t t = atomic_load_explicit(&q->top, rp__fenced(memory_order_acquire));
    int64_t b;

    /* Orders the top load before the bottom load against the owner's
     * bottom store in take (see there). */
    rp__fence_seq_cst();
    b = atomic_load_explicit(&q->bottom, rp__fenced(memory_order_acquire));
    if (t >= b)
        return RP__STEAL_EMPTY;
    struct rp__deque_array *a = atomic_load_explicit(&q->array, memory_order_acquire);
    void *item = atomic_load_explicit(&a->slot[t & a->mask], memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&q->top, &t, t + 1,
                                                 memory_order_seq_cst,
                                                 memory_order_relaxed))
        return RP__STEAL_ABORT;
    *out = item;
    return RP__STEAL_OK;
}

/* Any thread: a hint. Exact for the owner; others may see a stale value. */
static inline bool
rp__deque_looks_empty(const rp__deque *q)
{
    /* Fenced: a parking worker's re-check reads these (sched.h). */
    int64_t t = atomic_load_explicit(&q->top, rp__fenced(memory_order_relaxed));
    int64_t b = atomic_load_explicit(&q->bottom, rp__fenced(memory_order_relaxed));

    return b <= t;
}

#endif /* RP_SCHED_DEQUE_H */
