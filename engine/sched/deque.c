/*
 * deque.c -- the cold parts of the Chase-Lev deque: set-up, growth and
 * teardown. The hot paths are inline in deque.h.
 */
#include "engine/sched/deque.h"

#include <stdlib.h>

#include "engine/alloc.h"

static struct rp__deque_array *
array_new(unsigned capacity_log2)
{
    size_t capacity = (size_t)1 << capacity_log2;
    struct rp__deque_array *a = rp_xaligned_alloc(RP__CACHE_LINE,
        sizeof *a + capacity * sizeof a->slot[0]);

    a->mask = (int64_t)capacity - 1;
    a->retired = NULL;
    for (size_t i = 0; i < capacity; i++)
        atomic_init(&a->slot[i], NULL);
    return a;
}

void
rp__deque_init(rp__deque *q, unsigned capacity_log2)
{
    if (capacity_log2 < 1)
        capacity_log2 = 1;
    if (capacity_log2 > 30)
        capacity_log2 = 30;
    atomic_init(&q->top, 0);
    atomic_init(&q->bottom, 0);
    atomic_init(&q->array, array_new(capacity_log2));
}

void
rp__deque_destroy(rp__deque *q)
{
    struct rp__deque_array *a = atomic_load_explicit(&q->array, memory_order_relaxed);

    while (a != NULL) {
        struct rp__deque_array *older = a->retired;
        free(a);
        a = older;
    }
    atomic_store_explicit(&q->array, NULL, memory_order_relaxed);
}

struct rp__deque_array *
rp__deque_grow(rp__deque *q, struct rp__deque_array *a, int64_t top, int64_t bottom)
{
    unsigned log2 = 1;

    while (((int64_t)1 << log2) <= a->mask)
        log2++;
    struct rp__deque_array *bigger = array_new(log2 + 1);

    for (int64_t i = top; i < bottom; i++) {
        void *item = atomic_load_explicit(&a->slot[i & a->mask], memory_order_relaxed);
        atomic_store_explicit(&bigger->slot[i & bigger->mask], item, memory_order_relaxed);
    }
    bigger->retired = a;
    /* Release: a thief that loads the new array sees the copied slots. */
    atomic_store_explicit(&q->array, bigger, memory_order_release);
    return bigger;
}
