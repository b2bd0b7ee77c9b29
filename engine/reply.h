/*
 * reply.h (internal) -- one answer awaited from another thread: the asker
 * keeps it on its stack, posts work that ends with rp__reply_give, and
 * waits in rp__reply_take (the executors' peeks: the process executor
 * asks its loop thread, the remote one its network thread).
 */
#ifndef RP_ENGINE_REPLY_H
#define RP_ENGINE_REPLY_H

#include <pthread.h>
#include <stdbool.h>

struct rp__reply {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
};

static inline void
rp__reply_init(struct rp__reply *r)
{
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->done = false;
}

/* The answering thread, once the answer is written. */
static inline void
rp__reply_give(struct rp__reply *r)
{
    pthread_mutex_lock(&r->lock);
    r->done = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* The asking thread: waits for it, then frees the reply's parts. */
static inline void
rp__reply_take(struct rp__reply *r)
{
    pthread_mutex_lock(&r->lock);
    while (!r->done)
        pthread_cond_wait(&r->cond, &r->lock);
    pthread_mutex_unlock(&r->lock);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
}

#endif /* RP_ENGINE_REPLY_H */
