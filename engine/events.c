/*
 * events.c -- the event bus: one bounded ring of rp_event per pool, read by
 * any number of subscribers, each with its own cursor.
 *
 * The publisher (the engine, under its lock) never waits: when the ring is
 * full the oldest event is overwritten, and a subscriber that had not read
 * it learns how many it lost. This is a broadcast ring, as in the LMAX
 * disruptor, with a mutex instead of sequence barriers: events come at the
 * rate tasks change state, thousands per second, not millions.
 *
 * THREADS: every field is guarded by `lock` except `refs` (atomic). The
 * ring is allocated at the first subscription: nobody reads events
 * published before that, so a pool nobody watches pays nothing.
 * Lock order: engine lock, then bus lock.
 */
#include "engine/engine.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "engine/alloc.h"

struct rp__bus {
    _Atomic unsigned refs;          /* the pool, plus one per subscription */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    rp_event *ring;                 /* RP_EVENT_RING slots, or NULL */
    uint64_t next_seq;              /* seq of the next event published */
    bool closed;
};

struct rp_subscription {
    rp__bus *bus;
    uint64_t next_seq;              /* the next event this one reads */
};

rp__bus *
rp__bus_new(void)
{
    rp__bus *b = rp_xcalloc(1, sizeof *b);
    pthread_condattr_t attr;

    atomic_init(&b->refs, 1);
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cond, &attr);
    pthread_condattr_destroy(&attr);
    b->next_seq = 1;
    return b;
}

void
rp__bus_unref(rp__bus *b)
{
    if (b == NULL || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
    free(b->ring);
    free(b);
}

void
rp__bus_publish(rp__bus *b, rp_event *ev)
{
    pthread_mutex_lock(&b->lock);
    ev->seq = b->next_seq++;
    if (b->ring != NULL) {
        b->ring[ev->seq % RP_EVENT_RING] = *ev;
        pthread_cond_broadcast(&b->cond);
    }
    pthread_mutex_unlock(&b->lock);
}

void
rp__bus_close(rp__bus *b)
{
    pthread_mutex_lock(&b->lock);
    b->closed = true;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

rp_status
rp__bus_subscribe(rp__bus *b, rp_subscription **out)
{
    rp_subscription *s;

    pthread_mutex_lock(&b->lock);
    if (b->closed) {
        pthread_mutex_unlock(&b->lock);
        return RP_ERR_SHUTDOWN;
    }
    s = rp_xcalloc(1, sizeof *s);
    if (b->ring == NULL)
        b->ring = rp_xcalloc(RP_EVENT_RING, sizeof *b->ring);
    s->next_seq = b->next_seq;
    s->bus = b;
    /* Under the lock: the pool's reference cannot go meanwhile. */
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&b->lock);
    *out = s;
    return RP_OK;
}

rp_status
rp_subscription_next(rp_subscription *s, int timeout_ms, rp_event *out, uint64_t *lost)
{
    rp__bus *b;
    struct timespec deadline;
    rp_status status = RP_OK;

    if (lost != NULL)
        *lost = 0;
    if (s == NULL || out == NULL || timeout_ms < -1)
        return RP_ERR_INVALID;
    b = s->bus;
    if (timeout_ms > 0)
        rp__deadline_after(&deadline, timeout_ms);
    pthread_mutex_lock(&b->lock);
    while (s->next_seq == b->next_seq) {
        int rc;
        if (b->closed) {
            status = RP_ERR_SHUTDOWN;
            goto out;
        }
        if (timeout_ms == 0) {
            status = RP_ERR_TIMEOUT;
            goto out;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&b->cond, &b->lock);
            continue;
        }
        rc = pthread_cond_timedwait(&b->cond, &b->lock, &deadline);
        if (rc == ETIMEDOUT && s->next_seq == b->next_seq) {
            status = RP_ERR_TIMEOUT;
            goto out;
        }
    }
    /* The ring holds seqs [next_seq - RING, next_seq). */
    if (b->next_seq - s->next_seq > RP_EVENT_RING) {
        uint64_t oldest = b->next_seq - RP_EVENT_RING;
        if (lost != NULL)
            *lost = oldest - s->next_seq;
        s->next_seq = oldest;
    }
    *out = b->ring[s->next_seq % RP_EVENT_RING];
    s->next_seq++;
out:
    pthread_mutex_unlock(&b->lock);
    return status;
}

void
rp_unsubscribe(rp_subscription *s)
{
    if (s == NULL)
        return;
    rp__bus_unref(s->bus);
    free(s);
}
