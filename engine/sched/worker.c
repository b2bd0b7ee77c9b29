/*
 * worker.c -- worker threads: the scheduling loop, searching (stealing from
 * random victims), parking and waking, the priority injection queue for
 * top-level work, shutdown and live figures.
 *
 * A worker's loop: its own deque (LIFO) -> the injection queue (highest
 * priority first, FIFO within one) -> a search that steals (FIFO) from
 * random victims for a bounded time -> park on its own futex word. The
 * wake-up protocol and the lock rules are in sched.h.
 *
 * Shutdown drains: workers leave only when `stopping` is set and every
 * accepted top-level task has finished (children run inside their parents,
 * so nothing else can be pending then).
 */
#include "engine/sched/sched.h"

#include <errno.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine/alloc.h"
#include "engine/clock.h"

/* How long a worker with nothing to do keeps looking before it parks.
 * Long enough to bridge the gaps of fine-grained fork/join, short enough
 * that an idle pool goes quiet at once. */
#define SEARCH_SPIN_NS 50000u
#define DEQUE_INITIAL_LOG2 8

_Thread_local rp__worker *rp__tls_worker __attribute__((tls_model("initial-exec")));
bool rp__sched_light_barrier;

static bool use_membarrier;
static pthread_once_t barrier_once = PTHREAD_ONCE_INIT;

/*
 * Chooses the barrier pair once per process. REPARTIR_SCHED_FENCE=1 forces
 * the portable pair (seq_cst fences on both sides) so tests can cover it.
 */
static void
barrier_setup(void)
{
    const char *force = getenv("REPARTIR_SCHED_FENCE");
    long cmds;

    if (force != NULL && *force != '\0' && strcmp(force, "0") != 0)
        return;
    cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
        return;
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0)
        return;
    use_membarrier = true;
    rp__sched_light_barrier = true;
}

/*
 * The sleeper's side of the asymmetric Dekker in sched.h. Returns false if
 * the handshake could not be completed: membarrier is registered, so
 * spawners use only a compiler barrier, yet the call failed (ENOMEM is
 * possible on some kernels). A fence alone does not pair with a compiler
 * barrier, so the caller must then not sleep for long.
 */
static bool
heavy_barrier(void)
{
    if (!use_membarrier) {
        rp__fence_seq_cst();
        return true;
    }
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
        return true;
    rp__fence_seq_cst();
    return false;
}

/* timeout NULL: until woken. */
static void
futex_wait(_Atomic uint32_t *word, uint32_t expected, const struct timespec *timeout)
{
    /* EINTR, EAGAIN (the word changed) and ETIMEDOUT all just return:
     * every caller re-reads the word and its conditions in a loop. */
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, timeout, NULL, 0);
}

static void
futex_wake(_Atomic uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* xorshift64*: cheap, good enough to pick victims. */
static unsigned
next_random(rp__worker *w, unsigned bound)
{
    uint64_t x = w->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return (unsigned)(((x * 0x2545F4914F6CDD1Dull) >> 32) % bound);
}

/* ---- sleepers (sleep_lock held) ---- */

static void
sleepers_push(rp__sched *s, rp__worker *w)
{
    s->sleepers[s->nsleepers++] = w->index;
    atomic_fetch_add_explicit(&s->nsleeping, 1, memory_order_seq_cst);
}

static bool
sleepers_remove(rp__sched *s, rp__worker *w)
{
    for (unsigned i = 0; i < s->nsleepers; i++) {
        if (s->sleepers[i] == w->index) {
            s->sleepers[i] = s->sleepers[--s->nsleepers];
            atomic_fetch_sub_explicit(&s->nsleeping, 1, memory_order_seq_cst);
            return true;
        }
    }
    return false;
}

void
rp__sched_notify_one(rp__sched *s)
{
    rp__worker *target;

    pthread_mutex_lock(&s->sleep_lock);
    if (s->nsleepers == 0 ||
        atomic_load_explicit(&s->nsearching, memory_order_relaxed) != 0) {
        pthread_mutex_unlock(&s->sleep_lock);
        return;
    }
    /* LIFO: the most recently parked worker has the warmest cache. */
    target = &s->workers[s->sleepers[--s->nsleepers]];
    atomic_fetch_sub_explicit(&s->nsleeping, 1, memory_order_seq_cst);
    /* Counted as searching on its behalf, so the spawns that follow see a
     * searcher and do not wake anyone else. */
    atomic_fetch_add_explicit(&s->nsearching, 1, memory_order_seq_cst);
    atomic_fetch_or_explicit(&target->park, RP__PARK_WORK, memory_order_release);
    pthread_mutex_unlock(&s->sleep_lock);
    futex_wake(&target->park);
}

void
rp__worker_wake(rp__worker *w, uint32_t bits)
{
    rp__sched *s = w->sched;

    pthread_mutex_lock(&s->sleep_lock);
    sleepers_remove(s, w);
    atomic_fetch_or_explicit(&w->park, bits, memory_order_release);
    pthread_mutex_unlock(&s->sleep_lock);
    /* w may have left its park already: a spurious wake-up is harmless,
     * every park loop re-reads its word. */
    futex_wake(&w->park);
}

static void
wake_all(rp__sched *s)
{
    for (unsigned i = 0; i < s->nworkers; i++)
        rp__worker_wake(&s->workers[i], RP__PARK_WAKE);
}

void
rp__worker_stop_searching(rp__worker *w)
{
    rp__sched *s = w->sched;

    w->searching = false;
    if (atomic_fetch_sub_explicit(&s->nsearching, 1, memory_order_seq_cst) == 1 &&
        atomic_load_explicit(&s->nsleeping, memory_order_seq_cst) != 0)
        rp__sched_notify_one(s);
}

static bool
should_exit(rp__sched *s)
{
    return atomic_load_explicit(&s->stopping, memory_order_seq_cst) &&
           atomic_load_explicit(&s->top_outstanding, memory_order_seq_cst) == 0;
}

static bool
work_available(rp__worker *w)
{
    rp__sched *s = w->sched;

    if (atomic_load_explicit(&s->inject_len, rp__fenced(memory_order_relaxed)) != 0)
        return true;
    for (unsigned i = 0; i < s->nworkers; i++)
        if (!rp__deque_looks_empty(&s->workers[i].deque))
            return true;
    return false;
}

/*
 * Parks w until it is woken. g non-NULL: w waits for that group (its
 * parked bit is already set). accept_work: w registers as a sleeper, so it
 * may be woken to search, and counts as searching when that happens.
 */
static void
park(rp__worker *w, rp_group *g, bool accept_work)
{
    rp__sched *s = w->sched;
    bool keep_awake, handshake;
    uint32_t bits;

    pthread_mutex_lock(&s->sleep_lock);
    atomic_store_explicit(&w->park, 0, memory_order_relaxed);
    if (accept_work)
        sleepers_push(s, w);
    if (w->searching) {
        w->searching = false;
        atomic_fetch_sub_explicit(&s->nsearching, 1, memory_order_seq_cst);
    }
    pthread_mutex_unlock(&s->sleep_lock);

    handshake = heavy_barrier();

    keep_awake = (g != NULL && rp__group_done(g)) ||
                 (accept_work && work_available(w)) ||
                 (g == NULL && should_exit(s));
    if (keep_awake) {
        pthread_mutex_lock(&s->sleep_lock);
        if (accept_work)
            sleepers_remove(s, w);      /* no-op if a waker took us out */
        bits = atomic_load_explicit(&w->park, memory_order_relaxed);
        pthread_mutex_unlock(&s->sleep_lock);
    } else if (handshake) {
        while ((bits = atomic_load_explicit(&w->park, memory_order_acquire)) == 0)
            futex_wait(&w->park, 0, NULL);
    } else {
        /* A wake-up may have been missed: nap, then let the caller look
         * again (it parks again if there is still nothing to do). */
        static const struct timespec nap = { 0, 1000000 };

        futex_wait(&w->park, 0, &nap);
        pthread_mutex_lock(&s->sleep_lock);
        if (accept_work)
            sleepers_remove(s, w);
        bits = atomic_load_explicit(&w->park, memory_order_relaxed);
        pthread_mutex_unlock(&s->sleep_lock);
    }
    if (bits & RP__PARK_WORK)
        w->searching = true;            /* our waker counted us */
}

/* ---- finding work ---- */

static struct rp__frame *
inject_take(rp__sched *s)
{
    struct rp__frame *f = NULL;

    if (atomic_load_explicit(&s->inject_len, memory_order_relaxed) == 0)
        return NULL;
    pthread_mutex_lock(&s->inject_lock);
    for (int p = RP_PRIORITY_COUNT - 1; p >= 0; p--) {
        f = s->inject[p].head;
        if (f != NULL) {
            s->inject[p].head = f->next;
            if (s->inject[p].head == NULL)
                s->inject[p].tail = NULL;
            atomic_fetch_sub_explicit(&s->inject_len, 1, memory_order_relaxed);
            break;
        }
    }
    pthread_mutex_unlock(&s->inject_lock);
    return f;
}

struct rp__frame *
rp__worker_steal_pass(rp__worker *w)
{
    rp__sched *s = w->sched;
    unsigned n = s->nworkers;
    unsigned v;

    if (n < 2)
        return NULL;
    v = next_random(w, n);
    for (unsigned i = 0; i < n; i++, v = v + 1 == n ? 0 : v + 1) {
        rp__deque *q = &s->workers[v].deque;
        void *item;

        if (v == w->index || rp__deque_looks_empty(q))
            continue;
        /* One retry on a lost race: the victim had work a moment ago. */
        for (int attempt = 0; attempt < 2; attempt++) {
            rp__steal_result r = rp__deque_steal(q, &item);

            if (r == RP__STEAL_OK) {
                uint64_t n_steals = atomic_load_explicit(&w->steals, memory_order_relaxed);
                atomic_store_explicit(&w->steals, n_steals + 1, memory_order_relaxed);
                return item;
            }
            if (r == RP__STEAL_EMPTY)
                break;
        }
    }
    return NULL;
}

/* Searches for a bounded time; NULL when the worker should park (it then
 * still counts as searching: park() ends that). */
static struct rp__frame *
search(rp__worker *w)
{
    rp__sched *s = w->sched;
    uint64_t deadline = 0;

    atomic_store_explicit(&w->busy, 0, memory_order_relaxed);
    if (!w->searching) {
        w->searching = true;
        atomic_fetch_add_explicit(&s->nsearching, 1, memory_order_seq_cst);
    }
    for (unsigned round = 0;; round++) {
        struct rp__frame *f = inject_take(s);

        if (f == NULL)
            f = rp__worker_steal_pass(w);
        if (f != NULL) {
            rp__worker_stop_searching(w);
            return f;
        }
        if (should_exit(s))
            return NULL;
        if ((round & 7) == 7) {
            uint64_t now = rp__now_ns();
            if (deadline == 0)
                deadline = now + SEARCH_SPIN_NS;
            else if (now >= deadline)
                return NULL;
        }
        for (int i = 0; i < 16; i++)
            cpu_relax();
    }
}

static void
worker_loop(rp__worker *w)
{
    rp__sched *s = w->sched;

    for (;;) {
        struct rp__frame *f = rp__deque_take(&w->deque);

        if (f == NULL)
            f = inject_take(s);
        if (f == NULL)
            f = search(w);
        if (f != NULL) {
            /* A worker woken to search may find work before it searches:
             * it must still hand the searching role on, or spawns would
             * keep seeing a searcher and never wake anyone. */
            if (w->searching)
                rp__worker_stop_searching(w);
            atomic_store_explicit(&w->busy, 1, memory_order_relaxed);
            rp__worker_run(w, f);
            continue;
        }
        if (should_exit(s))
            break;
        park(w, NULL, true);
    }
    if (w->searching) {
        w->searching = false;
        atomic_fetch_sub_explicit(&s->nsearching, 1, memory_order_seq_cst);
    }
    atomic_store_explicit(&w->busy, 0, memory_order_relaxed);
}

/*
 * The slow half of rp_group_wait (group.c has the fast path). While g is
 * pending the waiter helps: its own deque first (any frame: those were
 * pushed by tasks on this very stack, so running them is no deeper than the
 * program's own nesting), then top-level work, then stealing. The owner of
 * g parks when there is nothing to do; another waiter (a misuse the API
 * tolerates) yields instead, because wake-ups go to the owner.
 *
 * Past the steal floor the waiter runs only its own deque: each steal
 * starts a whole unrelated task on top of this stack, and only steals can
 * pile up without bound (TBB limits stealing by stack depth the same way).
 */
void
rp__worker_wait_group(rp__worker *w, rp_group *g)
{
    bool is_owner = g->_owner == w;
    uint64_t deadline = 0;

    for (unsigned round = 0; !rp__group_done(g); round++) {
        bool deep = (char *)__builtin_frame_address(0) < w->steal_floor;
        struct rp__frame *f = rp__deque_take(&w->deque);

        if (f == NULL && !deep) {
            f = inject_take(w->sched);
            if (f == NULL)
                f = rp__worker_steal_pass(w);
        }
        if (f != NULL) {
            if (w->searching)
                rp__worker_stop_searching(w);
            rp__worker_run(w, f);
            deadline = 0;
            continue;
        }
        if ((round & 7) == 7) {
            uint64_t now = rp__now_ns();
            if (deadline == 0) {
                deadline = now + SEARCH_SPIN_NS;
            } else if (now >= deadline) {
                deadline = 0;
                if (!is_owner) {
                    sched_yield();
                    continue;
                }
                int64_t old = atomic_fetch_or_explicit(&g->_pending, 1,
                                                       memory_order_seq_cst);
                if ((old >> 1) != 0)
                    park(w, g, !deep);
                atomic_fetch_and_explicit(&g->_pending, ~(int64_t)1,
                                          memory_order_relaxed);
                continue;
            }
        }
        for (int i = 0; i < 16; i++)
            cpu_relax();
    }
    if (w->searching)
        rp__worker_stop_searching(w);
}

/* ---- top-level work ---- */

rp_status
rp__sched_inject(rp__sched *s, struct rp__frame *f, rp_priority prio)
{
    f->next = NULL;
    pthread_mutex_lock(&s->inject_lock);
    if (atomic_load_explicit(&s->stopping, memory_order_relaxed)) {
        pthread_mutex_unlock(&s->inject_lock);
        return RP_ERR_SHUTDOWN;
    }
    atomic_fetch_add_explicit(&s->top_outstanding, 1, memory_order_seq_cst);
    if (s->inject[prio].tail != NULL)
        s->inject[prio].tail->next = f;
    else
        s->inject[prio].head = f;
    s->inject[prio].tail = f;
    atomic_fetch_add_explicit(&s->inject_len, 1, rp__fenced(memory_order_relaxed));
    /* Still under inject_lock: the frame cannot be taken, run and the
     * scheduler freed (a shutdown may be under way) until we let go, so
     * this is the last moment `s` is surely alive. Not a hot path: always
     * the full fence, whatever the barrier mode. */
    rp__fence_seq_cst();
    if (atomic_load_explicit(&s->nsleeping, rp__fenced(memory_order_relaxed)) != 0 &&
        atomic_load_explicit(&s->nsearching, rp__fenced(memory_order_relaxed)) == 0)
        rp__sched_notify_one(s);
    pthread_mutex_unlock(&s->inject_lock);
    return RP_OK;
}

void
rp__sched_top_complete(rp__sched *s, struct rp__frame *f)
{
    struct rp__sync *sync = f->sync;

    atomic_fetch_add_explicit(&s->top_done, 1, memory_order_relaxed);
    /* seq_cst with the store of `stopping` in shutdown: either we see it
     * and wake the parked workers so they can leave, or the workers that
     * shutdown woke see our decrement. */
    if (atomic_fetch_sub_explicit(&s->top_outstanding, 1, memory_order_seq_cst) == 1 &&
        atomic_load_explicit(&s->stopping, memory_order_seq_cst))
        wake_all(s);
    if (sync != NULL) {
        pthread_mutex_lock(&sync->lock);
        sync->done = true;
        pthread_cond_signal(&sync->cond);
        pthread_mutex_unlock(&sync->lock);   /* the waiter may free sync now */
    }
}

void
rp__sched_stats(rp__sched *s, rp_stats *out)
{
    uint64_t queued, outstanding;

    memset(out, 0, sizeof *out);
    out->workers = s->nworkers;
    for (unsigned i = 0; i < s->nworkers; i++) {
        out->workers_busy += atomic_load_explicit(&s->workers[i].busy, memory_order_relaxed);
        out->steals += atomic_load_explicit(&s->workers[i].steals, memory_order_relaxed);
    }
    queued = atomic_load_explicit(&s->inject_len, memory_order_relaxed);
    outstanding = atomic_load_explicit(&s->top_outstanding, memory_order_relaxed);
    out->posted_queued = queued;
    out->posted_running = outstanding > queued ? outstanding - queued : 0;
    out->posted_done = atomic_load_explicit(&s->top_done, memory_order_relaxed);
}

/* ---- life cycle ---- */

static void
sched_free(rp__sched *s)
{
    void (*release)(void *) = s->release;
    void *ctx = s->release_ctx;

    for (unsigned i = 0; i < s->nworkers; i++) {
        rp__frame_release_all(&s->workers[i]);
        rp__deque_destroy(&s->workers[i].deque);
    }
    pthread_mutex_destroy(&s->inject_lock);
    pthread_mutex_destroy(&s->sleep_lock);
    free(s->sleepers);
    free(s->workers);
    free(s);
    if (release != NULL)
        release(ctx);
}

static _Atomic uint64_t seed_counter;

/* Half way down what is left of this thread's stack. The size asked for is
 * not what a task gets: glibc carves static TLS (large under TSan) and the
 * thread descriptor out of the same mapping, so measure the real bounds. */
static char *
steal_floor(const rp__sched *s)
{
    char *here = __builtin_frame_address(0);
    pthread_attr_t attr;
    void *low;
    size_t size;

    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        int rc = pthread_attr_getstack(&attr, &low, &size);

        pthread_attr_destroy(&attr);
        if (rc == 0 && (char *)low < here)
            return here - (here - (char *)low) / 2;
    }
    return here - s->stack_size / 2;
}

static void *
worker_main(void *arg)
{
    rp__worker *w = arg;
    rp__sched *s = w->sched;
    char name[16];

    rp__tls_worker = w;
    snprintf(name, sizeof name, "rp-worker-%u", w->index);
    pthread_setname_np(pthread_self(), name);
    w->steal_floor = steal_floor(s);
    worker_loop(w);
    rp__tls_worker = NULL;
    /* acq_rel: the chain of decrements carries self_free (stored before
     * the shutting-down worker's own decrement) to the last one. */
    if (atomic_fetch_sub_explicit(&s->alive, 1, memory_order_acq_rel) == 1 &&
        atomic_load_explicit(&s->self_free, memory_order_relaxed))
        sched_free(s);
    return NULL;
}

static void
join_workers(rp__sched *s, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        pthread_join(s->workers[i].thread, NULL);
}

rp_status
rp__sched_create(unsigned nworkers, size_t stack_size, rp__sched **out)
{
    rp__sched *s;
    pthread_attr_t attr;
    unsigned started = 0;
    rp_status status = RP_OK;

    pthread_once(&barrier_once, barrier_setup);
    s = rp_xaligned_alloc(RP__CACHE_LINE, sizeof *s);
    memset(s, 0, sizeof *s);
    s->nworkers = nworkers;
    s->stack_size = stack_size;
    s->workers = rp_xaligned_alloc(RP__CACHE_LINE, nworkers * sizeof *s->workers);
    memset(s->workers, 0, nworkers * sizeof *s->workers);
    s->sleepers = rp_xcalloc(nworkers, sizeof *s->sleepers);
    atomic_init(&s->nsleeping, 0);
    atomic_init(&s->nsearching, 0);
    atomic_init(&s->stopping, false);
    atomic_init(&s->inject_len, 0);
    atomic_init(&s->top_outstanding, 0);
    atomic_init(&s->top_done, 0);
    atomic_init(&s->alive, nworkers);
    atomic_init(&s->self_free, false);
    pthread_mutex_init(&s->inject_lock, NULL);
    pthread_mutex_init(&s->sleep_lock, NULL);

    for (unsigned i = 0; i < nworkers; i++) {
        rp__worker *w = &s->workers[i];
        uint64_t z = atomic_fetch_add_explicit(&seed_counter, 1, memory_order_relaxed) +
                     rp__now_ns() + i * 0x9E3779B97F4A7C15ull;

        /* splitmix64: distinct, non-zero xorshift seeds */
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        w->rng = (z ^ (z >> 31)) | 1;
        w->sched = s;
        w->index = i;
        rp__deque_init(&w->deque, DEQUE_INITIAL_LOG2);
        atomic_init(&w->free_remote, NULL);
        atomic_init(&w->park, 0);
        atomic_init(&w->busy, 0);
        atomic_init(&w->steals, 0);
    }

    if (pthread_attr_init(&attr) != 0) {
        status = RP_ERR_SYSTEM;
        goto fail;
    }
    if (pthread_attr_setstacksize(&attr, stack_size) != 0)
        status = RP_ERR_SYSTEM;
    for (; status == RP_OK && started < nworkers; started++) {
        if (pthread_create(&s->workers[started].thread, &attr, worker_main,
                           &s->workers[started]) != 0)
            status = RP_ERR_SYSTEM;
        else
            continue;
        break;
    }
    pthread_attr_destroy(&attr);
    if (status != RP_OK)
        goto fail;
    *out = s;
    return RP_OK;

fail:
    /* Threads never started count as already gone. */
    atomic_fetch_sub_explicit(&s->alive, nworkers - started, memory_order_relaxed);
    atomic_store_explicit(&s->stopping, true, memory_order_seq_cst);
    wake_all(s);
    join_workers(s, started);
    sched_free(s);
    return status;
}

void
rp__sched_shutdown(rp__sched *s, void (*release)(void *ctx), void *ctx)
{
    rp__worker *self = rp__tls_worker;

    s->release = release;
    s->release_ctx = ctx;
    if (self != NULL && self->sched == s) {
        /* Called from one of our own tasks: nobody can join this thread
         * yet. Detach them all; the last worker to leave frees. */
        for (unsigned i = 0; i < s->nworkers; i++)
            pthread_detach(s->workers[i].thread);
        atomic_store_explicit(&s->self_free, true, memory_order_relaxed);
    }
    pthread_mutex_lock(&s->inject_lock);
    atomic_store_explicit(&s->stopping, true, memory_order_seq_cst);
    pthread_mutex_unlock(&s->inject_lock);
    wake_all(s);
    if (self != NULL && self->sched == s)
        return;
    join_workers(s, s->nworkers);
    sched_free(s);
}
