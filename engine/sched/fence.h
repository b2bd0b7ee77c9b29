/*
 * fence.h -- seq_cst fences, and what replaces them under ThreadSanitizer.
 *
 * TSan does not model standalone fences (GCC rejects them under
 * -fsanitize=thread). Every fence in the scheduler orders a store before a
 * load of *atomic* variables (a Dekker handshake: the deque's last-item
 * race, sleeper versus spawner); none publishes plain data. So under TSan
 * the fence goes away and each access it ordered becomes seq_cst instead:
 * the fully sequentially consistent algorithm (Chase and Lev's original
 * deque), at least as strong, which is the program TSan then checks.
 * Everywhere else rp__fenced(order) is just `order`.
 */
#ifndef RP_SCHED_FENCE_H
#define RP_SCHED_FENCE_H

#include <stdatomic.h>

#if defined(__SANITIZE_THREAD__)
#define RP__FENCES_AS_SEQ_CST 1
#else
#define RP__FENCES_AS_SEQ_CST 0
#endif

static inline void
rp__fence_seq_cst(void)
{
#if !RP__FENCES_AS_SEQ_CST
    atomic_thread_fence(memory_order_seq_cst);
#endif
}

/* The order for an access that a rp__fence_seq_cst() orders. */
static inline memory_order
rp__fenced(memory_order order)
{
    return RP__FENCES_AS_SEQ_CST ? memory_order_seq_cst : order;
}

#endif /* RP_SCHED_FENCE_H */
