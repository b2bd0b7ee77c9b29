/*
 * loop.h -- the engine's event loop: one thread with epoll, a timer heap
 * and a queue of closures posted by other threads (woken by an eventfd).
 * The process executor watches pidfds and pipes here; the engine keeps its
 * retry timers here.
 *
 * THREADS: rp__loop_post and rp__loop_on_thread may be called from any
 * thread. Everything else (watch, unwatch, timers) only from the loop
 * thread, i.e. from inside a callback or a posted closure. Callbacks run on
 * the loop thread, one at a time.
 */
#ifndef RP_ENGINE_LOOP_H
#define RP_ENGINE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <repartir.h>

#include "engine/clock.h"

typedef struct rp__loop rp__loop;

typedef void (*rp__loop_fn)(void *arg);
/* revents: EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR bits. */
typedef void (*rp__loop_io_fn)(void *arg, uint32_t revents);

/* A timer is embedded in its owner's struct. fired is false when the loop
 * is destroyed with the timer still armed: the owner frees itself then. */
typedef struct rp__timer {
    uint64_t deadline_ns;             /* CLOCK_MONOTONIC */
    size_t heap_index;                /* private */
    void (*cb)(struct rp__timer *t, bool fired);
} rp__timer;

#define RP__TIMER_IDLE ((size_t)-1)
static inline void
rp__timer_init(rp__timer *t, void (*cb)(rp__timer *t, bool fired))
{
    t->deadline_ns = 0;
    t->heap_index = RP__TIMER_IDLE;
    t->cb = cb;
}

/* A watch is embedded in its owner's struct too. */
typedef struct rp__watch {
    int fd;
    rp__loop_io_fn cb;
    void *arg;
    bool active;                      /* private: in the epoll set */
} rp__watch;


/* Starts the loop thread. RP_ERR_SYSTEM if epoll, eventfd or the thread
 * cannot be had. */
rp_status rp__loop_create(rp__loop **out /* OUT */);
/* Runs fn(arg) on the loop thread, soon, in posting order. Never fails
 * (the node is allocated with the xmalloc policy). */
void rp__loop_post(rp__loop *loop, rp__loop_fn fn, void *arg);
bool rp__loop_on_thread(const rp__loop *loop);
/* Stops the thread after the closures already posted, then fires every
 * armed timer with fired = false and frees the loop. Not from the loop
 * thread. Watches must have been removed by their owners. */
void rp__loop_destroy(rp__loop *loop);

/* Loop thread only. */
rp_status rp__loop_watch(rp__loop *loop, rp__watch *w, uint32_t events);
void rp__loop_unwatch(rp__loop *loop, rp__watch *w);
void rp__loop_timer_start(rp__loop *loop, rp__timer *t, uint64_t deadline_ns);
void rp__loop_timer_stop(rp__loop *loop, rp__timer *t);   /* no-op if not armed */

#endif /* RP_ENGINE_LOOP_H */
