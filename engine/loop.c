/*
 * loop.c -- the engine's event loop (see loop.h).
 *
 * THREADS: `posted` and `stopping` are guarded by `lock`; everything else
 * belongs to the loop thread. A poster appends under the lock and writes
 * the eventfd only when the queue was empty, so a burst of posts costs one
 * wake-up.
 *
 * SIGPIPE is blocked on the loop thread: it writes stdin bytes into pipes
 * whose reader may be gone, and that must be an EPIPE, never a signal that
 * kills the host program.
 */
#include "engine/loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "engine/alloc.h"

struct post {
    rp__loop_fn fn;
    void *arg;
    struct post *next;
};

struct rp__loop {
    pthread_t thread;
    int epfd, wakefd;
    rp__watch wake_watch;

    pthread_mutex_t lock;
    struct post *posted_head, *posted_tail;
    bool stopping;

    /* loop thread */
    struct post *deferred_head, *deferred_tail;   /* posted by the loop itself */
    rp__timer **heap;
    size_t nheap, heap_cap;
};

/* The loop whose thread this is, if any. */
static _Thread_local const rp__loop *current_loop;

/* ---- timer heap (a binary min-heap on deadline_ns) ---- */

static void
heap_set(rp__loop *loop, size_t i, rp__timer *t)
{
    loop->heap[i] = t;
    t->heap_index = i;
}

static void
heap_up(rp__loop *loop, size_t i)
{
    rp__timer *t = loop->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (loop->heap[parent]->deadline_ns <= t->deadline_ns)
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void
heap_down(rp__loop *loop, size_t i)
{
    rp__timer *t = loop->heap[i];

    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= loop->nheap)
            break;
        if (child + 1 < loop->nheap &&
            loop->heap[child + 1]->deadline_ns < loop->heap[child]->deadline_ns)
            child++;
        if (t->deadline_ns <= loop->heap[child]->deadline_ns)
            break;
        heap_set(loop, i, loop->heap[child]);
        i = child;
    }
    heap_set(loop, i, t);
}

void
rp__loop_timer_stop(rp__loop *loop, rp__timer *t)
{
    size_t i = t->heap_index;

    if (i == RP__TIMER_IDLE)
        return;
    t->heap_index = RP__TIMER_IDLE;
    loop->nheap--;
    if (i == loop->nheap)
        return;
    rp__timer *moved = loop->heap[loop->nheap];
    heap_set(loop, i, moved);
    heap_up(loop, i);
    heap_down(loop, moved->heap_index);
}

void
rp__loop_timer_start(rp__loop *loop, rp__timer *t, uint64_t deadline_ns)
{
    rp__loop_timer_stop(loop, t);
    if (loop->nheap == loop->heap_cap) {
        loop->heap_cap = loop->heap_cap ? 2 * loop->heap_cap : 16;
        loop->heap = rp_xrealloc(loop->heap, loop->heap_cap * sizeof *loop->heap);
    }
    t->deadline_ns = deadline_ns;
    heap_set(loop, loop->nheap, t);
    loop->nheap++;
    heap_up(loop, loop->nheap - 1);
}

/* Fires every due timer; returns the epoll timeout until the next one. */
static int
run_timers(rp__loop *loop)
{
    while (loop->nheap > 0) {
        rp__timer *t = loop->heap[0];
        uint64_t now = rp__now_ns();

        if (t->deadline_ns > now) {
            uint64_t ms = (t->deadline_ns - now + 999999) / 1000000;
            return ms > 60000 ? 60000 : (int)ms;
        }
        rp__loop_timer_stop(loop, t);
        t->cb(t, true);
    }
    return -1;
}

/* ---- watches ---- */

rp_status
rp__loop_watch(rp__loop *loop, rp__watch *w, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = w };

    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, w->fd, &ev) != 0)
        return RP_ERR_SYSTEM;
    w->active = true;
    return RP_OK;
}

void
rp__loop_unwatch(rp__loop *loop, rp__watch *w)
{
    /* Closing the fd would drop it from the set too, but only once every
     * duplicate is closed (a fork elsewhere in the host may hold one for a
     * moment); say it explicitly. */
    if (w->active)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->active = false;
}

/* ---- posting ---- */

bool
rp__loop_on_thread(const rp__loop *loop)
{
    return current_loop == loop;
}

void
rp__loop_post(rp__loop *loop, rp__loop_fn fn, void *arg)
{
    struct post *p = rp_xmalloc(sizeof *p);
    bool was_empty;

    p->fn = fn;
    p->arg = arg;
    p->next = NULL;
    if (rp__loop_on_thread(loop)) {
        /* From a callback: runs after this batch of events, without a
         * trip through the eventfd (one wake-up per finished task saved). */
        if (loop->deferred_tail != NULL)
            loop->deferred_tail->next = p;
        else
            loop->deferred_head = p;
        loop->deferred_tail = p;
        return;
    }
    pthread_mutex_lock(&loop->lock);
    was_empty = loop->posted_head == NULL;
    if (loop->posted_tail != NULL)
        loop->posted_tail->next = p;
    else
        loop->posted_head = p;
    loop->posted_tail = p;
    /* Written under the lock: once the lock is let go, the closure may run
     * and its owner free the loop, eventfd and all. */
    if (was_empty) {
        uint64_t one = 1;
        /* EAGAIN means the counter is already non-zero: awake anyway. */
        while (write(loop->wakefd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&loop->lock);
}

/* Runs the closures posted so far; returns false once asked to stop. */
static bool
run_posted(rp__loop *loop)
{
    struct post *p;
    bool stopping;
    uint64_t count;

    while (read(loop->wakefd, &count, sizeof count) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&loop->lock);
    p = loop->posted_head;
    loop->posted_head = loop->posted_tail = NULL;
    pthread_mutex_unlock(&loop->lock);
    while (p != NULL) {
        struct post *next = p->next;
        p->fn(p->arg);
        free(p);
        p = next;
    }
    pthread_mutex_lock(&loop->lock);
    stopping = loop->stopping;
    pthread_mutex_unlock(&loop->lock);
    return !stopping;
}

static void
run_deferred(rp__loop *loop)
{
    while (loop->deferred_head != NULL) {
        struct post *p = loop->deferred_head;
        loop->deferred_head = p->next;
        if (loop->deferred_head == NULL)
            loop->deferred_tail = NULL;
        p->fn(p->arg);
        free(p);
    }
}

static void
on_wake(void *arg, uint32_t revents)
{
    (void)arg;
    (void)revents;
}

static void *
loop_main(void *arg)
{
    rp__loop *loop = arg;
    struct epoll_event evs[64];
    sigset_t block;

    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    pthread_setname_np(pthread_self(), "rp-loop");
    current_loop = loop;
    for (;;) {
        int timeout = run_timers(loop);
        int n;
        bool woken = false;

        if (loop->deferred_head != NULL) {
            run_deferred(loop);          /* a timer posted: it may arm more */
            continue;
        }
        n = epoll_wait(loop->epfd, evs, 64, timeout);

        for (int i = 0; i < n; i++) {
            rp__watch *w = evs[i].data.ptr;
            if (w == &loop->wake_watch) {
                woken = true;
                continue;
            }
            w->cb(w->arg, evs[i].events);
        }
        /* Posted closures last: a closure may free a watch that has an
         * event later in this batch. */
        run_deferred(loop);
        if (woken && !run_posted(loop))
            break;
    }
    run_deferred(loop);
    return NULL;
}

rp_status
rp__loop_create(rp__loop **out)
{
    rp__loop *loop = rp_xcalloc(1, sizeof *loop);
    sigset_t all, old;
    int rc;

    *out = NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    loop->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop->epfd < 0 || loop->wakefd < 0)
        goto fail;
    loop->wake_watch = (rp__watch){ loop->wakefd, on_wake, loop, false };
    if (rp__loop_watch(loop, &loop->wake_watch, EPOLLIN) != RP_OK)
        goto fail;
    pthread_mutex_init(&loop->lock, NULL);
    /* The thread starts with every signal blocked but SIGPIPE's handling
     * set in loop_main: signals meant for the host go to its threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&loop->thread, NULL, loop_main, loop);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_mutex_destroy(&loop->lock);
        goto fail;
    }
    *out = loop;
    return RP_OK;

fail:
    if (loop->wakefd >= 0)
        close(loop->wakefd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    free(loop);
    return RP_ERR_SYSTEM;
}

static void
stop_now(void *arg)
{
    rp__loop *loop = arg;

    pthread_mutex_lock(&loop->lock);
    loop->stopping = true;
    pthread_mutex_unlock(&loop->lock);
}

void
rp__loop_destroy(rp__loop *loop)
{
    if (loop == NULL)
        return;
    rp__loop_post(loop, stop_now, loop);
    pthread_join(loop->thread, NULL);
    /* Closures posted after the stop request (none should be) still run,
     * here, so that nothing they own leaks. */
    run_deferred(loop);
    while (loop->posted_head != NULL) {
        struct post *p = loop->posted_head;
        loop->posted_head = p->next;
        p->fn(p->arg);
        free(p);
    }
    while (loop->nheap > 0) {
        rp__timer *t = loop->heap[0];
        rp__loop_timer_stop(loop, t);
        t->cb(t, false);
    }
    free(loop->heap);
    close(loop->wakefd);
    close(loop->epfd);
    pthread_mutex_destroy(&loop->lock);
    free(loop);
}
