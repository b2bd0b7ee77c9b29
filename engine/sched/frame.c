/*
 * frame.c -- task frames without malloc on the spawn path.
 *
 * Each worker keeps a private free list (no atomics). Frames come from
 * 64-frame slabs owned by one worker, their "home". A frame that finishes on
 * another worker (it was stolen) is pushed onto its home's remote-free stack
 * (a Treiber stack: many pushers, one consumer that takes the whole stack
 * with one exchange, so no ABA), in the manner of mimalloc's thread-free
 * lists. A worker refills its private list from that stack before it
 * allocates a new slab, so memory stays bounded by the peak number of live
 * frames even when one worker spawns and another runs everything.
 */
#include "engine/sched/sched.h"

#include "engine/alloc.h"

#define SLAB_FRAMES 64

struct rp__slab {
    struct rp__frame frames[SLAB_FRAMES];   /* first: keeps frames aligned */
    struct rp__slab *next;
};

struct rp__frame *
rp__frame_refill(rp__worker *w)
{
    /* Acquire: pairs with the release push in rp__frame_free_remote, so the
     * thief's last reads of a frame happen before we reuse it. */
    struct rp__frame *f = atomic_exchange_explicit(&w->free_remote, NULL,
                                                   memory_order_acquire);

    if (f == NULL) {
        struct rp__slab *slab = rp_xaligned_alloc(RP__CACHE_LINE, sizeof *slab);

        slab->next = w->slabs;
        w->slabs = slab;
        for (int i = 0; i < SLAB_FRAMES; i++) {
            slab->frames[i].home = w;
            slab->frames[i].next = i + 1 < SLAB_FRAMES ? &slab->frames[i + 1] : NULL;
        }
        f = &slab->frames[0];
    }
    w->free_local = f->next;
    return f;
}

void
rp__frame_free_remote(rp__worker *home, struct rp__frame *f)
{
    struct rp__frame *head = atomic_load_explicit(&home->free_remote,
                                                  memory_order_relaxed);

    do {
        f->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&home->free_remote, &head, f,
                                                    memory_order_release,
                                                    memory_order_relaxed));
}

void
rp__frame_release_all(rp__worker *w)
{
    while (w->slabs != NULL) {
        struct rp__slab *next = w->slabs->next;
        free(w->slabs);
        w->slabs = next;
    }
    w->free_local = NULL;
    atomic_store_explicit(&w->free_remote, NULL, memory_order_relaxed);
}
