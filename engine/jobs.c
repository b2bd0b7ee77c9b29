/*
 * jobs.c -- the life of tasks and jobs: submit, dispatch to executors,
 * retries with backoff, cancel, wait, roll-up, counters and events.
 *
 * DESIGN: every state change goes through set_state(), which moves the
 * counters, the job's per-state counts and publishes the event, all under
 * the engine lock: the figures, the roll-up and the event stream can never
 * disagree. Ready tasks wait in per-executor, per-priority FIFO lists
 * (intrusive, so cancelling a queued task is O(1) and a queued task costs
 * one record of ~100 bytes plus its description, shared between shards).
 * dispatch() moves ready tasks to RUNNING while their executor has free
 * slots; the executors are called after the lock is released.
 *
 * Records are found by id in a chained hash table. A final record stays
 * until somebody waited for it; then it joins the `remembered` list, and
 * beyond RP_RESULTS_KEPT remembered records the oldest is forgotten.
 *
 * THREADS: everything here is guarded by e->lock (see engine.h). A
 * thread in rp_wait sleeps on its own condition variable, listed in
 * `waiters` with the id it waits for, and is signalled only when that task
 * ends: on a busy machine a task's end wakes its waiter, not every waiter.
 * `idle_cond` is broadcast, while the engine stops, when an executor's
 * running count, `batches` or `callers` drops: rp__engine_stop waits for
 * the batches being submitted (an executor must not stop under them),
 * rp__engine_free for the public calls still in flight (a thread woken in
 * rp_wait by the shutdown itself must get out before the memory goes).
 * Public calls take the lock through enter() and let go through leave().
 */
#include "engine/engine.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ckpt/journal.h"
#include "ckpt/store.h"
#include "engine/alloc.h"
#include "engine/durable.h"
#include "engine/pool.h"

#define MAX_SHARDS 1000000u
#define RP__LOST_MAX 5                  /* lost workers before a task fails */

struct idmap {
    struct rp__idnode **buckets;
    size_t mask, count;             /* mask + 1 buckets, a power of two */
};

struct queue {
    struct rp__task *head, *tail;
};

/* One slot of an executor: what rp_pool_workers reports as a worker. */
struct worker {
    rp_task_id task;                /* running now, or 0 */
    uint64_t since_ns;              /* when `task` was dispatched */
    uint64_t busy_ns, completed;    /* finished attempts only */
};

struct exec_slot {
    const rp__exec_ops *ops;
    void *state;
    unsigned running, capacity;
    struct queue ready[RP_PRIORITY_COUNT];
    struct worker *workers;         /* capacity of them */
    unsigned *free_workers, nfree;  /* a stack: the lowest free index on top
                                       while the load is light */
    uint64_t up_since_ns;
};

/* A worker daemon as the engine counts it: the remote executor's slots
 * are RP__LINK_WINDOW_MAX per link, link l's being l * RP__LINK_WINDOW_MAX
 * + j for j < window. */
struct link {
    char node[64], addr[64];
    unsigned window, slots, used;
    bool up;
    unsigned free[RP__LINK_WINDOW_MAX], nfree;
    uint64_t up_since_ns;
};

/* A thread in rp_wait (a task id) or rp_job_wait (a job id); lives on
 * its stack. */
struct waiter {
    uint64_t id;
    bool job;
    pthread_cond_t cond;
    struct waiter *next;
};

struct rp__engine {
    pthread_mutex_t lock;
    pthread_cond_t idle_cond;
    struct waiter *waiters;
    rp_pool *pool;
    rp__loop *loop;
    rp__bus *bus;
    struct exec_slot exec[RP__EXEC_COUNT];
    struct link *links;             /* RP__MAX_LINKS once one was set */
    unsigned nlinks;                /* links ever set: rp_pool_workers rows */
    const rp_pool_config *user_cfg; /* while the executors start */
    char *start_why;                /* an executor's reason for failing to start */
    struct idmap tasks, jobs;
    struct queue retry_wait;        /* QUEUED, waiting for their backoff */
    struct queue remembered;        /* final and waited for, oldest first */
    unsigned nremembered;
    uint64_t next_task_id, next_job_id;
    uint64_t now_queued, now_running, ended[RP_TASK_STATE_COUNT], retried;
    uint64_t rng;
    unsigned max_processes, cpu_workers;
    unsigned callers;               /* threads inside public calls */
    unsigned batches;               /* run_batch calls in flight */
    bool stopping;
    /* a pool with a state dir */
    rp__durable *durable;
    rp__journal *journal;           /* durable's, or NULL */
    rp_recovery recovery;
    unsigned checkpoint_interval_ms;
};

/* A pending retry, owned by the loop's timer until it fires. */
struct retry {
    rp__timer timer;
    rp__engine *e;
    rp_task_id id;
};

/* ---- the id table ---- */

static size_t
idmap_slot(const struct idmap *m, uint64_t id)
{
    return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 20) & m->mask;
}

static void
idmap_init(struct idmap *m)
{
    m->mask = 255;
    m->count = 0;
    m->buckets = rp_xcalloc(m->mask + 1, sizeof *m->buckets);
}

static void
idmap_grow(struct idmap *m)
{
    struct idmap bigger = { NULL, 2 * m->mask + 1, m->count };

    bigger.buckets = rp_xcalloc(bigger.mask + 1, sizeof *bigger.buckets);
    for (size_t i = 0; i <= m->mask; i++) {
        struct rp__idnode *n = m->buckets[i];
        while (n != NULL) {
            struct rp__idnode *next = n->next;
            size_t s = idmap_slot(&bigger, n->id);
            n->next = bigger.buckets[s];
            bigger.buckets[s] = n;
            n = next;
        }
    }
    free(m->buckets);
    *m = bigger;
}

static void
idmap_put(struct idmap *m, struct rp__idnode *n)
{
    size_t s;

    if (m->count > m->mask)
        idmap_grow(m);
    s = idmap_slot(m, n->id);
    n->next = m->buckets[s];
    m->buckets[s] = n;
    m->count++;
}

static struct rp__idnode *
idmap_get(const struct idmap *m, uint64_t id)
{
    struct rp__idnode *n = m->buckets[idmap_slot(m, id)];

    while (n != NULL && n->id != id)
        n = n->next;
    return n;
}

static void
idmap_del(struct idmap *m, struct rp__idnode *victim)
{
    struct rp__idnode **p = &m->buckets[idmap_slot(m, victim->id)];

    while (*p != NULL && *p != victim)
        p = &(*p)->next;
    if (*p != NULL) {
        *p = victim->next;
        m->count--;
    }
}

/* ---- intrusive queues ---- */

static void
queue_push(struct queue *q, struct rp__task *t)
{
    t->next = NULL;
    t->prev = q->tail;
    if (q->tail != NULL)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
}

static void
queue_unlink(struct queue *q, struct rp__task *t)
{
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        q->head = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    else
        q->tail = t->prev;
    t->prev = t->next = NULL;
}

/* ---- accessors for executors and pool.c ---- */

rp__loop *
rp__engine_loop(rp__engine *e)
{
    return e->loop;
}

rp_pool *
rp__engine_pool(rp__engine *e)
{
    return e->pool;
}

unsigned
rp__engine_max_processes(rp__engine *e)
{
    return e->max_processes;
}

unsigned
rp__engine_cpu_workers(rp__engine *e)
{
    return e->cpu_workers;
}

static void
enter(rp__engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->callers++;
}

/* Lock held; releases it. */
static void
leave(rp__engine *e)
{
    if (--e->callers == 0 && e->stopping)
        pthread_cond_broadcast(&e->idle_cond);
    pthread_mutex_unlock(&e->lock);
}

static struct rp__task *
find_task(rp__engine *e, rp_task_id id)
{
    return (struct rp__task *)idmap_get(&e->tasks, id);
}

/* ---- state changes ---- */

static int worker_index(const rp__engine *e, const struct rp__task *t);

static void
publish(rp__engine *e, const struct rp__task *t)
{
    rp_event ev = {
        .time_ns = rp__now_ns(),
        .task = t->node.id,
        .job = t->job->node.id,
        .shard = t->shard,
        .state = (rp_task_state)t->state,
        .attempt = t->attempts,
        .worker = t->state == RP_TASK_QUEUED ? -1 : worker_index(e, t),
    };

    if (t->result != NULL) {
        ev.exit_code = t->result->exit_code;
        ev.signal = t->result->signal;
    }
    rp__bus_publish(e->bus, &ev);
}

static void
count_in(rp__engine *e, struct rp__task *t)
{
    t->job->count[t->state]++;
    if (t->state == RP_TASK_QUEUED)
        e->now_queued++;
    else if (t->state == RP_TASK_RUNNING)
        e->now_running++;
    else
        e->ended[t->state]++;
}

/* Durable pools: hands the change to the journal. A task that ends only
 * because the pool stops is not over: the store keeps it queued (its
 * interrupted attempt counted), and the next pool on the store runs it. */
static void
journal_state(rp__engine *e, struct rp__task *t, rp_task_state from, rp_task_state to)
{
    rp_task_state stored = to;
    unsigned interrupted = t->interrupted;
    uint64_t seq;

    if (e->stopping && to == RP_TASK_CANCELLED && !t->cancel_requested) {
        if (from != RP_TASK_RUNNING)
            return;                 /* queued it was, queued it stays */
        stored = RP_TASK_QUEUED;
        interrupted++;
    }
    seq = rp__journal_state(e->journal, t->node.id, t->job->node.id, stored, t->attempts,
                            interrupted, rp_task_state_is_final(stored) ? t->result : NULL);
    if (rp_task_state_is_final(to)) {
        t->final_seq = seq;
        t->job->final_seq = seq;
    }
}

static void
set_state(rp__engine *e, struct rp__task *t, rp_task_state to)
{
    rp_task_state from = (rp_task_state)t->state;

    t->job->count[t->state]--;
    if (t->state == RP_TASK_QUEUED)
        e->now_queued--;
    else if (t->state == RP_TASK_RUNNING)
        e->now_running--;
    t->state = (uint8_t)to;
    count_in(e, t);
    if (e->journal != NULL)
        journal_state(e, t, from, to);
    publish(e, t);
}

static bool
job_done(const struct rp__job *job)
{
    return job->count[RP_TASK_SUCCEEDED] + job->count[RP_TASK_FAILED] +
               job->count[RP_TASK_CANCELLED] + job->count[RP_TASK_TIMED_OUT] ==
           job->total;
}

static const char *
signal_name(int sig)
{
    const char *abbrev = sigabbrev_np(sig);

    return abbrev != NULL ? abbrev : "an unknown signal";
}

/* The human text for a result that has none from its executor. */
static char *
describe(const rp_result *r, const struct rp_task *spec)
{
    char buf[128];

    switch (r->state) {
    case RP_TASK_SUCCEEDED:
        return rp_xstrdup("");
    case RP_TASK_TIMED_OUT:
        snprintf(buf, sizeof buf, "timed out after %u ms", spec->timeout_ms);
        break;
    case RP_TASK_CANCELLED:
        snprintf(buf, sizeof buf, "%s",
                 r->attempts == 0 ? "cancelled before it ran" : "cancelled");
        break;
    default:
        if (r->signal != 0)
            snprintf(buf, sizeof buf, "killed by SIG%s", signal_name(r->signal));
        else
            snprintf(buf, sizeof buf, "exited with code %d", r->exit_code);
        break;
    }
    return rp_xstrdup(buf);
}

/* rp_submit_notify's call, run on the loop thread without the lock. */
struct done_note {
    rp_done_fn fn;
    void *arg;
    rp_task_id id;
};

static void
done_note_run(void *arg)
{
    struct done_note *n = arg;

    n->fn(n->arg, n->id);
    free(n);
}

/* Makes t final with `state`, from the attempt o (NULL: it never ran, or
 * its attempt's outcome was already dropped). Lock held. */
static void
finish(rp__engine *e, struct rp__task *t, rp_task_state state, struct rp__outcome *o)
{
    rp_result *r = rp__result_new();

    r->task = t->node.id;
    r->job = t->job->node.id;
    r->shard = t->shard;
    r->attempts = t->attempts;
    r->state = state;
    r->exit_code = -1;
    r->times.submitted_ns = t->submitted_ns;
    r->times.ended_ns = rp__now_ns();
    if (o != NULL) {
        if (o->end == RP__END_EXITED)
            r->exit_code = o->exit_code;
        else if (o->end == RP__END_SIGNALED)
            r->signal = o->signal;
        r->out = o->out;
        r->err = o->err;
        o->out.data = o->err.data = NULL;
        r->outputs = o->outputs;
        r->noutputs = o->noutputs;
        o->outputs = NULL;
        o->noutputs = 0;
        r->out_truncated = r->out.total > r->out.len;
        r->err_truncated = r->err.total > r->err.len;
        r->times.started_ns = o->started_ns;
        r->times.wall_ns = o->ended_ns > o->started_ns ? o->ended_ns - o->started_ns : 0;
        r->times.user_ns = o->user_ns;
        r->times.system_ns = o->system_ns;
        r->times.max_rss_kb = o->max_rss_kb;
        if (o->error != NULL && state != RP_TASK_SUCCEEDED) {
            r->error = o->error;
            o->error = NULL;
        }
    }
    if (r->error == NULL)
        r->error = describe(r, t->spec);
    t->result = r;
    t->where = RP__NOWHERE;
    set_state(e, t, state);
    if (e->durable != NULL && t->spec->checkpoint && !(e->stopping && !t->cancel_requested))
        rp__durable_forget_run(e->durable, t->node.id);
    bool job_over = job_done(t->job);
    for (struct waiter *w = e->waiters; w != NULL; w = w->next)
        if (w->job ? job_over && w->id == t->job->node.id : w->id == t->node.id)
            pthread_cond_signal(&w->cond);
    if (t->job->done_fn != NULL && e->loop != NULL && !e->stopping) {
        struct done_note *n = rp_xmalloc(sizeof *n);
        n->fn = t->job->done_fn;
        n->arg = t->job->done_arg;
        n->id = t->node.id;
        rp__loop_post(e->loop, done_note_run, n);
    }
}

static void
outcome_release(struct rp__outcome *o)
{
    free(o->out.data);
    free(o->err.data);
    free(o->error);
    o->out.data = o->err.data = o->error = NULL;
    rp__outcome_free_outputs(o);
}

/* finish() for a task that did not run, with error (malloc'd, taken) as
 * its result's reason. */
static void
finish_with_error(rp__engine *e, struct rp__task *t, rp_task_state state, char *error)
{
    struct rp__outcome o;

    memset(&o, 0, sizeof o);
    o.end = RP__END_SPAWN_FAILED;
    o.exit_code = -1;
    o.error = error;
    finish(e, t, state, &o);
    outcome_release(&o);
}

/* ---- dispatch ---- */

static struct rp__task *
pop_ready(struct exec_slot *x)
{
    for (int p = RP_PRIORITY_COUNT - 1; p >= 0; p--) {
        struct rp__task *t = x->ready[p].head;
        if (t != NULL) {
            queue_unlink(&x->ready[p], t);
            return t;
        }
    }
    return NULL;
}

/* The executor whose queue t waits in: the remote one for a task that
 * must run remotely, else its kind's (from where the remote executor may
 * take tasks that run anywhere: pop_any_remote). */
static bool remote_sized(const rp__engine *e, const struct rp_task *spec);

static unsigned
home_exec(const rp__engine *e, const struct rp__task *t)
{
    return t->spec->backend == RP_BACKEND_REMOTE || t->spec->nfiles != 0 ||
                   remote_sized(e, t->spec)
               ? RP__EXEC_REMOTE
               : (unsigned)t->spec->kind;
}

static void
make_ready(rp__engine *e, struct rp__task *t)
{
    t->where = RP__READY;
    t->xk = (uint8_t)home_exec(e, t);
    queue_push(&e->exec[t->xk].ready[t->spec->priority], t);
}

/* Queued again ahead of its peers (an attempt that never really ran). */
static void
make_ready_front(rp__engine *e, struct rp__task *t)
{
    struct queue *q;

    t->where = RP__READY;
    t->xk = (uint8_t)home_exec(e, t);
    q = &e->exec[t->xk].ready[t->spec->priority];
    t->prev = NULL;
    t->next = q->head;
    if (q->head != NULL)
        q->head->prev = t;
    else
        q->tail = t;
    q->head = t;
}

/* Whether the remote executor can run t. */
static bool
remote_capable(const struct rp_task *spec)
{
    return (spec->kind == RP__KIND_PROCESS || spec->noop || spec->tensor != NULL) &&
           !spec->checkpoint && !spec->placeholder;
}

/* A tensor task big enough to prefer a remote worker (tensor.h: from
 * remote_min elements, when a worker is up as it becomes ready; with none
 * up it runs here rather than wait). Lock held. */
static bool
remote_sized(const rp__engine *e, const struct rp_task *spec)
{
    bool up = false;

    if (spec->tensor == NULL || spec->backend != RP_BACKEND_ANY ||
        spec->tensor_elements < rp__tensor_remote_min())
        return false;
    for (unsigned l = 0; l < e->nlinks && !up; l++)
        up = e->links[l].up;
    return up;
}

/* A task queued for a local executor that may run anywhere, for the
 * remote one (looks at the first few of each queue only). Lock held. */
static struct rp__task *
pop_any_remote(rp__engine *e)
{
    for (int p = RP_PRIORITY_COUNT - 1; p >= 0; p--) {
        for (unsigned k = 0; k < RP__EXEC_REMOTE; k++) {
            struct queue *q = &e->exec[k].ready[p];
            unsigned n = 0;
            for (struct rp__task *t = q->head; t != NULL && n < 64; t = t->next, n++) {
                /* A small tensor task stays here: its work is less than
                 * the trip (tensor.h's remote_min). */
                if (t->spec->backend == RP_BACKEND_ANY && remote_capable(t->spec) &&
                    (t->spec->tensor == NULL || remote_sized(e, t->spec))) {
                    queue_unlink(q, t);
                    return t;
                }
            }
        }
    }
    return NULL;
}

/* Whether some up link has a free slot. The remote executor's running
 * count includes attempts still out on a draining or lost link, so it is
 * not compared with its capacity (the windows of up links). Lock held. */
static bool
remote_room(const rp__engine *e)
{
    for (unsigned l = 0; l < e->nlinks; l++)
        if (e->links[l].up && e->links[l].nfree != 0)
            return true;
    return false;
}

/* The remote slot for the next attempt: on the up link with the most
 * room. Lock held; the caller checked remote_room. */
static unsigned
remote_pick(rp__engine *e)
{
    struct link *best = NULL;
    unsigned best_l = 0;

    for (unsigned l = 0; l < e->nlinks; l++) {
        struct link *k = &e->links[l];
        if (k->up && k->nfree != 0 &&
            (best == NULL || k->window - k->used > best->window - best->used)) {
            best = k;
            best_l = l;
        }
    }
    best->used++;
    return best_l * RP__LINK_WINDOW_MAX + best->free[--best->nfree];
}

/* The end of t's attempt frees its worker. Lock held. */
static void
release_worker(rp__engine *e, struct exec_slot *x, struct rp__task *t)
{
    unsigned slot = t->worker - 1;
    struct worker *w = &x->workers[slot];
    uint64_t now = rp__now_ns();

    x->running--;
    w->busy_ns += now > w->since_ns ? now - w->since_ns : 0;
    w->completed++;
    w->task = 0;
    if (x == &e->exec[RP__EXEC_REMOTE]) {
        struct link *k = &e->links[slot / RP__LINK_WINDOW_MAX];
        unsigned j = slot % RP__LINK_WINDOW_MAX;
        k->used--;
        if (k->up && j < k->window)
            k->free[k->nfree++] = j;
        return;
    }
    x->free_workers[x->nfree++] = slot;
}

/* Moves ready tasks to RUNNING while slots are free; returns them chained
 * through ->next, in start order, for run_batch(). Lock held. */
static struct rp__task *
dispatch(rp__engine *e)
{
    struct rp__task *head = NULL, **tail = &head;

    if (e->stopping)
        return NULL;
    for (size_t k = 0; k < sizeof e->exec / sizeof e->exec[0]; k++) {
        struct exec_slot *x = &e->exec[k];
        while (k == RP__EXEC_REMOTE ? remote_room(e) : x->running < x->capacity) {
            struct rp__task *t = pop_ready(x);
            if (t == NULL && k == RP__EXEC_REMOTE)
                t = pop_any_remote(e);
            if (t == NULL)
                break;
            unsigned w = k == RP__EXEC_REMOTE ? remote_pick(e) : x->free_workers[--x->nfree];
            t->xk = (uint8_t)k;
            x->running++;
            x->workers[w].task = t->node.id;
            x->workers[w].since_ns = t->started_ns = rp__now_ns();
            t->worker = w + 1;
            t->attempts++;
            t->where = RP__RUNNING;
            set_state(e, t, RP_TASK_RUNNING);
            *tail = t;
            tail = &t->next;
        }
    }
    if (head != NULL)
        e->batches++;
    return head;
}

/* The batch this thread is submitting, if any: an attempt that ends inside
 * submit (a spawn that fails) dispatches the next task from within it, and
 * a job of 50,000 bad commands must not recurse 50,000 deep. */
static _Thread_local rp__engine *batch_engine;
static _Thread_local struct rp__task *batch_more, **batch_more_tail;

static void
batch_done(rp__engine *e)
{
    pthread_mutex_lock(&e->lock);
    if (--e->batches == 0 && e->stopping)
        pthread_cond_broadcast(&e->idle_cond);
    pthread_mutex_unlock(&e->lock);
}

/* Lock NOT held. Reads ->next before submit: the attempt may end (and the
 * record change) before submit returns. */
static void
run_batch(rp__engine *e, struct rp__task *t)
{
    rp__engine *outer;
    struct rp__task *outer_more, **outer_tail;

    if (t == NULL)
        return;
    if (batch_engine == e) {
        /* Nested: the outer loop below submits these; it is counted. */
        *batch_more_tail = t;
        while (t->next != NULL)
            t = t->next;
        batch_more_tail = &t->next;
        batch_done(e);
        return;
    }
    outer = batch_engine;
    outer_more = batch_more;
    outer_tail = batch_more_tail;
    batch_engine = e;
    batch_more = NULL;
    batch_more_tail = &batch_more;
    while (t != NULL) {
        struct rp__task *next = t->next;
        struct exec_slot *x = &e->exec[t->xk];
        t->next = NULL;
        x->ops->submit(x->state, t);
        t = next;
        if (t == NULL) {
            t = batch_more;
            batch_more = NULL;
            batch_more_tail = &batch_more;
        }
    }
    batch_engine = outer;
    batch_more = outer_more;
    batch_more_tail = outer_tail;
    batch_done(e);
}

/* ---- retries ---- */

/* xorshift64*: jitter only, no need for more. Lock held. */
static double
random_unit(rp__engine *e)
{
    e->rng ^= e->rng >> 12;
    e->rng ^= e->rng << 25;
    e->rng ^= e->rng >> 27;
    return (double)((e->rng * 0x2545f4914f6cdd1dull) >> 11) * 0x1.0p-53;
}

/* Delay before retry k (1-based): min(max, base * 2^(k-1)) scaled by a
 * factor in [0.5, 1] ("equal jitter"): retries of many tasks that failed
 * together spread out, and each delay is still at least half the nominal. */
static uint64_t
backoff_ns(rp__engine *e, const struct rp_task *spec, unsigned k)
{
    double ms = spec->backoff_base_ms;

    for (unsigned i = 1; i < k && ms < spec->backoff_max_ms; i++)
        ms *= 2;
    if (ms > spec->backoff_max_ms)
        ms = spec->backoff_max_ms;
    return (uint64_t)(ms * (0.5 + 0.5 * random_unit(e)) * 1e6);
}

static void
retry_fire(rp__timer *timer, bool fired)
{
    struct retry *r = (struct retry *)timer;
    rp__engine *e = r->e;
    struct rp__task *t, *batch = NULL;

    if (fired) {
        pthread_mutex_lock(&e->lock);
        t = find_task(e, r->id);
        if (t != NULL && t->where == RP__RETRY_WAIT) {
            queue_unlink(&e->retry_wait, t);
            make_ready(e, t);
            batch = dispatch(e);
        }
        pthread_mutex_unlock(&e->lock);
        run_batch(e, batch);
    }
    free(r);
}

static void
retry_arm(void *arg)
{
    struct retry *r = arg;

    rp__loop_timer_start(r->e->loop, &r->timer, r->timer.deadline_ns);
}

static bool
retryable(const struct rp_task *spec, const struct rp__outcome *o)
{
    if (o->timed_out)
        return true;
    switch (o->end) {
    case RP__END_SIGNALED:
        return true;
    case RP__END_LOST:
        return false;                   /* it may well have succeeded */
    case RP__END_EXITED:
        return o->exit_code != 0 && spec->retry_on_exit;
    case RP__END_SPAWN_FAILED:
        return false;
    }
    return false;
}

void
rp__engine_attempt_done(rp__engine *e, struct rp__task *t, struct rp__outcome *o)
{
    const struct rp_task *spec = t->spec;
    struct rp__task *batch;
    rp_task_state state;

    pthread_mutex_lock(&e->lock);
    release_worker(e, &e->exec[t->xk], t);
    t->exec = NULL;
    if ((o->revoked || o->lost) && e->stopping) {
        /* Cut short by the stop, like a local process killed then: a
         * durable pool runs it again next time. */
        o->cancelled = true;
    } else if ((o->revoked || (o->lost && t->interrupted < RP__LOST_MAX)) &&
               !t->cancel_requested) {
        /* Never ran (given back), or ran on a worker now lost: queued
         * again at once, ahead of the rest, without touching its retries. */
        if (o->revoked)
            t->attempts--;
        else
            t->interrupted++;
        make_ready_front(e, t);
        e->retried += o->lost;
        set_state(e, t, RP_TASK_QUEUED);
        outcome_release(o);
        goto out;
    }
    if (o->lost && t->interrupted >= RP__LOST_MAX && !e->stopping) {
        free(o->error);
        o->error = rp__sprintf("the workers running it were lost %u times", RP__LOST_MAX + 1);
    }
    if (o->cancelled || t->cancel_requested)
        state = RP_TASK_CANCELLED;
    else if (o->timed_out)
        state = RP_TASK_TIMED_OUT;
    else if (o->end == RP__END_EXITED && o->exit_code == 0)
        state = RP_TASK_SUCCEEDED;
    else
        state = RP_TASK_FAILED;

    if (state != RP_TASK_SUCCEEDED && state != RP_TASK_CANCELLED && !e->stopping &&
        t->attempts - t->interrupted <= spec->retries && retryable(spec, o)) {
        struct retry *r = rp_xmalloc(sizeof *r);

        rp__timer_init(&r->timer, retry_fire);
        r->timer.deadline_ns = rp__now_ns() + backoff_ns(e, spec, t->attempts);
        t->retry_at_ns = r->timer.deadline_ns;
        r->e = e;
        r->id = t->node.id;
        t->where = RP__RETRY_WAIT;
        queue_push(&e->retry_wait, t);
        e->retried++;
        set_state(e, t, RP_TASK_QUEUED);
        rp__loop_post(e->loop, retry_arm, r);
        outcome_release(o);
    } else {
        finish(e, t, state, o);
        outcome_release(o);
    }
out:
    batch = dispatch(e);
    if (e->stopping)
        pthread_cond_broadcast(&e->idle_cond);
    pthread_mutex_unlock(&e->lock);
    run_batch(e, batch);
}

/* ---- submitting ---- */

static rp__engine *
engine_of(rp_pool *pool)
{
    return rp__pool_engine(pool);
}

/* Durable pools: the records of a submission wait (RP__NOWHERE) until it
 * is committed. Then they become ready, or, if the commit failed or the
 * pool stopped meanwhile, end CANCELLED. Lock held. */
static void
settle(rp__engine *e, rp_task_id first, unsigned n, rp_status committed, const char *why)
{
    for (unsigned i = 0; i < n; i++) {
        struct rp__task *t = find_task(e, first + i);
        if (t == NULL || t->where != RP__NOWHERE || t->state != RP_TASK_QUEUED)
            continue;
        if (committed == RP_OK && !t->cancel_requested && !e->stopping) {
            make_ready(e, t);
            continue;
        }
        if (committed != RP_OK)
            finish_with_error(e, t, RP_TASK_CANCELLED,
                              rp__sprintf("not accepted: the store failed: %s", why));
        else
            finish(e, t, RP_TASK_CANCELLED, NULL);
    }
}

/* Submits `shards` tasks of spec t (the caller's reference is taken over)
 * as a new job. origin: the checkpoint key's task (0: each its own);
 * restored_from: for rp_restore. *why on RP_ERR_IO. */
static rp_status
submit(rp__engine *e, rp_task *t, unsigned shards, rp_task_id origin, rp_task_id restored_from,
       rp_job_id *job_out, rp_task_id *ids, rp_done_fn done_fn, void *done_arg, char **why)
{
    struct rp__job *job;
    struct rp__task *batch;
    struct rp__jjob jj;
    uint64_t now = rp__now_ns();
    rp_status status = RP_OK;

    *why = NULL;
    if (t->kind == RP__KIND_GPU && e->exec[RP__EXEC_GPU].capacity == 0) {
        /* made without rp_pool_config.gpu: nothing would ever run it */
        rp_task_free(t);
        return RP_ERR_NO_DEVICE;
    }
    if ((t->checkpoint && e->journal == NULL) ||
        ((t->backend == RP_BACKEND_REMOTE || t->nfiles != 0) && !remote_capable(t)) ||
        (t->nfiles != 0 && t->backend == RP_BACKEND_CPU)) {
        /* No store to keep checkpoints in; a function (code of this
         * process) or a checkpointing task cannot run remotely; shipped
         * files are for remote workers only. */
        rp_task_free(t);
        return RP_ERR_UNSUPPORTED;
    }
    memset(&jj, 0, sizeof jj);
    if (e->journal != NULL) {
        /* Built before the lock: the description no longer changes. */
        jj.spec_json = rp__task_spec_json(t);
        jj.kind = t->kind == RP__KIND_PROCESS ? "process"
                  : t->kind == RP__KIND_GPU ? "spirv"
                  : t->noop                 ? "noop"
                  : t->tensor != NULL       ? "tensor"
                                            : "function";
        jj.name = t->name;
        jj.stdin_data = t->stdin_data;
        jj.stdin_len = t->stdin_len;
        jj.total = shards;
        jj.origin = origin;
        jj.restored_from = restored_from;
    }
    enter(e);
    if (e->stopping) {
        leave(e);
        free(jj.spec_json);
        rp_task_free(t);
        return RP_ERR_SHUTDOWN;
    }
    job = rp_xcalloc(1, sizeof *job);
    job->node.id = e->next_job_id++;
    job->total = job->live = shards;
    job->first_task = e->next_task_id;
    job->done_fn = done_fn;
    job->done_arg = done_arg;
    idmap_put(&e->jobs, &job->node);
    for (unsigned i = 0; i < shards; i++) {
        struct rp__task *rec = rp_xcalloc(1, sizeof *rec);

        rec->node.id = e->next_task_id++;
        rec->job = job;
        rec->spec = t;
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
        rec->shard = i;
        rec->total_shards = shards;
        rec->submitted_ns = now;
        rec->origin = origin != 0 ? origin : rec->node.id;
        rec->state = RP_TASK_QUEUED;
        idmap_put(&e->tasks, &rec->node);
        count_in(e, rec);
        publish(e, rec);
        if (e->journal == NULL)
            make_ready(e, rec);
        if (ids != NULL)
            ids[i] = rec->node.id;
    }
    if (job_out != NULL)
        *job_out = job->node.id;
    if (e->journal != NULL) {
        rp_task_id first = job->first_task;
        jj.job = job->node.id;
        jj.first_task = first;
        rp__journal_add_job(e->journal, &jj);
        /* Still counted in `callers`: the engine (and the journal) stay. */
        pthread_mutex_unlock(&e->lock);
        status = rp__journal_wait_job(e->journal, &jj, why);
        pthread_mutex_lock(&e->lock);
        settle(e, first, shards, status, *why);
    }
    batch = dispatch(e);
    pthread_mutex_unlock(&e->lock);
    free(jj.spec_json);
    rp__task_spec_unref(t);            /* the builder's reference */
    run_batch(e, batch);
    pthread_mutex_lock(&e->lock);
    leave(e);
    return status;
}

rp_status
rp_submit_job(rp_pool *pool, rp_task *t, unsigned shards, rp_job_id *job_out,
              rp_task_id *ids)
{
    rp_status status;
    char *why;

    if (pool == NULL || t == NULL || shards == 0 || shards > MAX_SHARDS) {
        rp_task_free(t);
        return RP_ERR_INVALID;
    }
    status = submit(engine_of(pool), t, shards, 0, 0, job_out, ids, NULL, NULL, &why);
    free(why);
    return status;
}

rp_status
rp_submit_notify(rp_pool *pool, rp_task *t, rp_done_fn fn, void *arg, rp_task_id *out)
{
    rp_status status;
    char *why;

    if (pool == NULL || t == NULL || fn == NULL || out == NULL) {
        rp_task_free(t);
        return RP_ERR_INVALID;
    }
    *out = 0;
    status = submit(engine_of(pool), t, 1, 0, 0, NULL, out, fn, arg, &why);
    free(why);
    return status;
}

rp_status
rp_submit(rp_pool *pool, rp_task *t, rp_task_id *out)
{
    if (out == NULL) {
        rp_task_free(t);
        return RP_ERR_INVALID;
    }
    *out = 0;
    return rp_submit_job(pool, t, 1, NULL, out);
}

/* ---- forgetting ---- */

static void
forget(rp__engine *e, struct rp__task *t)
{
    struct rp__job *job = t->job;

    idmap_del(&e->tasks, &t->node);
    if (--job->live == 0) {
        idmap_del(&e->jobs, &job->node);
        free(job);
    }
    rp__task_spec_unref(t->spec);
    rp_result_free(t->result);
    free(t);
}

static void
remember(rp__engine *e, struct rp__task *t)
{
    if (t->where == RP__REMEMBERED)
        return;
    t->where = RP__REMEMBERED;
    queue_push(&e->remembered, t);
    if (++e->nremembered > RP_RESULTS_KEPT) {
        struct rp__task *old = e->remembered.head;
        queue_unlink(&e->remembered, old);
        e->nremembered--;
        forget(e, old);
    }
}

/* ---- waiting and cancelling ---- */

/* Lock held. Whether task or job `id` is over; *gone if it is not known
 * (any more: it may be forgotten while a woken waiter waits for the lock). */
static bool
is_over(rp__engine *e, uint64_t id, bool job, bool *gone)
{
    if (job) {
        const struct rp__job *j = (const struct rp__job *)idmap_get(&e->jobs, id);
        *gone = j == NULL;
        return j == NULL || job_done(j);
    }
    const struct rp__task *t = find_task(e, id);
    *gone = t == NULL;
    return t == NULL || rp_task_state_is_final(t->state);
}

/* Lock held (and counted in callers); durable pools: waits until the
 * journal op seq was committed, so that a result handed out is one a crash
 * cannot take back. Lets go of the lock meanwhile. */
static void
durable_wait(rp__engine *e, uint64_t seq)
{
    if (e->journal == NULL || seq == 0)
        return;
    pthread_mutex_unlock(&e->lock);
    rp__journal_wait(e->journal, seq);
    pthread_mutex_lock(&e->lock);
}

/* Lock held. Sleeps until task or job `id` is over (finish() signals it),
 * or until the timeout: RP_ERR_TIMEOUT then; RP_ERR_NOT_FOUND if it is not
 * known. Callers look the record up again afterwards. */
static rp_status
sleep_until(rp__engine *e, uint64_t id, bool job, int timeout_ms)
{
    struct timespec deadline;
    struct waiter me, **p;
    pthread_condattr_t attr;
    rp_status status = RP_OK;
    bool gone;

    if (is_over(e, id, job, &gone))
        return gone ? RP_ERR_NOT_FOUND : RP_OK;
    if (timeout_ms == 0)
        return RP_ERR_TIMEOUT;
    if (timeout_ms > 0)
        rp__deadline_after(&deadline, timeout_ms);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&me.cond, &attr);
    pthread_condattr_destroy(&attr);
    me.id = id;
    me.job = job;
    me.next = e->waiters;
    e->waiters = &me;
    while (!is_over(e, id, job, &gone)) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&me.cond, &e->lock);
        } else if (pthread_cond_timedwait(&me.cond, &e->lock, &deadline) == ETIMEDOUT &&
                   !is_over(e, id, job, &gone)) {
            status = RP_ERR_TIMEOUT;
            break;
        }
    }
    if (status == RP_OK && gone)
        status = RP_ERR_NOT_FOUND;
    for (p = &e->waiters; *p != &me; p = &(*p)->next)
        ;
    *p = me.next;
    pthread_cond_destroy(&me.cond);
    return status;
}

rp_status
rp_wait(rp_pool *pool, rp_task_id id, int timeout_ms, rp_result **out)
{
    rp__engine *e;
    struct rp__task *t;
    rp_status status;

    if (out != NULL)
        *out = NULL;
    if (pool == NULL || out == NULL || timeout_ms < -1)
        return RP_ERR_INVALID;
    e = engine_of(pool);
    enter(e);
    status = sleep_until(e, id, false, timeout_ms);
    if (status == RP_OK) {
        t = find_task(e, id);
        atomic_fetch_add_explicit(&t->result->refs, 1, memory_order_relaxed);
        *out = t->result;
        remember(e, t);
        durable_wait(e, t->final_seq);  /* t may be forgotten after this */
    } else if (status == RP_ERR_NOT_FOUND && e->journal != NULL) {
        /* Forgotten, or from an earlier pool on this store. */
        struct rp__jtask row;
        pthread_mutex_unlock(&e->lock);
        status = rp__journal_task(e->journal, id, &row, out);
        pthread_mutex_lock(&e->lock);
        if (status == RP_OK && *out == NULL)
            status = RP_ERR_NOT_FOUND;   /* unfinished and not ours: cannot be */
        else if (status != RP_OK && status != RP_ERR_NOT_FOUND)
            status = RP_ERR_IO;
    }
    leave(e);
    return status;
}

static rp_status stored_task(rp__engine *e, rp_task_id id, struct rp__jtask *row,
                             rp_result **result);
static rp_status stored_job(rp__engine *e, rp_job_id id, rp_job_info *out);

/* Lock held. Returns true if an executor must be told (after unlock). */
static bool
cancel_locked(rp__engine *e, struct rp__task *t, unsigned *attempt)
{
    switch ((enum rp__where)t->where) {
    case RP__READY:
        queue_unlink(&e->exec[t->xk].ready[t->spec->priority], t);
        finish(e, t, RP_TASK_CANCELLED, NULL);
        return false;
    case RP__RETRY_WAIT:
        queue_unlink(&e->retry_wait, t);
        finish(e, t, RP_TASK_CANCELLED, NULL);
        return false;
    case RP__RUNNING:
        if (t->cancel_requested)
            return false;
        t->cancel_requested = true;
        *attempt = t->attempts;
        return true;
    case RP__NOWHERE:
        /* A submission being committed: settle() ends it. */
        if (t->state == RP_TASK_QUEUED)
            t->cancel_requested = true;
        break;
    case RP__REMEMBERED:
        break;
    }
    return false;
}

rp_status
rp_cancel(rp_pool *pool, rp_task_id id)
{
    rp__engine *e;
    struct rp__task *t;
    struct exec_slot *x;
    unsigned attempt = 0;

    if (pool == NULL)
        return RP_ERR_INVALID;
    e = engine_of(pool);
    enter(e);
    t = find_task(e, id);
    if (t == NULL) {
        /* Not held: of the store, then over (recovery holds every task
         * that is not): nothing to cancel. */
        struct rp__jtask row;
        rp_status status = stored_task(e, id, &row, NULL);
        leave(e);
        return status;
    }
    /* The executor is told under the lock (it only posts to its loop), so
     * that it cannot be stopping under us; once the engine stops, it has
     * cancelled every attempt itself. */
    if (cancel_locked(e, t, &attempt) && !e->stopping) {
        x = &e->exec[t->xk];
        x->ops->cancel(x->state, id, attempt);
    }
    leave(e);
    return RP_OK;
}

bool
rp__engine_cancel_requested(rp__engine *e, struct rp__task *t)
{
    bool requested;

    pthread_mutex_lock(&e->lock);
    requested = t->cancel_requested;
    pthread_mutex_unlock(&e->lock);
    return requested;
}

void
rp__engine_wait_idle(rp__engine *e, unsigned exec)
{
    pthread_mutex_lock(&e->lock);
    while (e->exec[exec].running != 0)
        pthread_cond_wait(&e->idle_cond, &e->lock);
    pthread_mutex_unlock(&e->lock);
}

/* Lock held (counted in callers). A task the engine no longer holds, from
 * the store: RP_ERR_NOT_FOUND without one. Lets go of the lock meanwhile. */
static rp_status
stored_task(rp__engine *e, rp_task_id id, struct rp__jtask *row, rp_result **result)
{
    rp_status status;

    if (e->journal == NULL)
        return RP_ERR_NOT_FOUND;
    pthread_mutex_unlock(&e->lock);
    status = rp__journal_task(e->journal, id, row, result);
    pthread_mutex_lock(&e->lock);
    return status == RP_OK || status == RP_ERR_NOT_FOUND ? status : RP_ERR_IO;
}

/* The state, job and checkpoint origin of task id, each if asked for. */
static rp_status
task_lookup(rp_pool *pool, rp_task_id id, rp_task_state *state, rp_job_id *job,
            rp_task_id *origin)
{
    rp__engine *e = engine_of(pool);
    struct rp__task *t;
    struct rp__jtask row;
    rp_status status = RP_OK;

    enter(e);
    t = find_task(e, id);
    if (t != NULL) {
        row.state = (rp_task_state)t->state;
        row.job = t->job->node.id;
        row.origin = t->origin;
    } else {
        status = stored_task(e, id, &row, NULL);
    }
    if (status == RP_OK) {
        if (state != NULL)
            *state = row.state;
        if (job != NULL)
            *job = row.job;
        if (origin != NULL)
            *origin = row.origin;
    }
    leave(e);
    return status;
}

rp_status
rp_task_checkpoint_key(rp_pool *pool, rp_task_id id, char *buf, size_t size)
{
    rp_task_id origin;
    rp_status status;
    char key[32];

    if (pool == NULL || buf == NULL || size == 0)
        return RP_ERR_INVALID;
    buf[0] = '\0';
    status = task_lookup(pool, id, NULL, NULL, &origin);
    if (status == RP_OK) {
        rp__durable_key(origin, key);
        snprintf(buf, size, "%s", key);
    }
    return status;
}

/* The description of a final task, for rp_restore: the engine's, or
 * parsed from the store. */
static rp_status
restorable(rp__engine *e, rp_task_id id, rp_task **spec, rp_task_id *origin)
{
    struct rp__task *t = find_task(e, id);
    struct rp__jtask row;
    unsigned count[RP_TASK_STATE_COUNT];
    char *json, *why;
    void *in;
    size_t in_len;
    rp_status status;

    *spec = NULL;
    if (t != NULL && !t->spec->placeholder) {
        if (!rp_task_state_is_final(t->state))
            return RP_ERR_BUSY;
        if (t->spec->kind == RP__KIND_FUNCTION && !t->spec->noop && t->spec->tensor == NULL)
            return RP_ERR_UNSUPPORTED;
        atomic_fetch_add_explicit(&t->spec->refs, 1, memory_order_relaxed);
        *spec = t->spec;
        *origin = t->origin;
        return RP_OK;
    }
    if ((status = stored_task(e, id, &row, NULL)) != RP_OK)
        return status;
    if (!rp_task_state_is_final(row.state))
        return RP_ERR_BUSY;
    pthread_mutex_unlock(&e->lock);
    status = rp__journal_job(e->journal, row.job, &json, &in, &in_len, count);
    if (status == RP_OK) {
        status = rp__task_spec_parse(json, in, in_len, spec, &why);
        free(why);
        free(json);
        free(in);
    } else if (status == RP_ERR_NOT_FOUND) {
        status = RP_ERR_CORRUPT;        /* a task row without its job */
    }
    pthread_mutex_lock(&e->lock);
    *origin = row.origin;
    return status;
}

rp_status
rp_restore_detail(rp_pool *pool, rp_task_id id, rp_restore_info *out)
{
    rp__engine *e;
    rp_task *spec = NULL;
    rp_task_id origin = 0, new_id = 0;
    uint64_t iteration = 0;
    int64_t created;
    rp_status status;
    char key[32], *why;

    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (pool == NULL || out == NULL)
        return RP_ERR_INVALID;
    e = engine_of(pool);
    if (e->durable == NULL)
        return RP_ERR_UNSUPPORTED;
    enter(e);
    status = e->stopping ? RP_ERR_SHUTDOWN : restorable(e, id, &spec, &origin);
    leave(e);
    if (status != RP_OK)
        return status;
    rp__durable_key(origin, key);
    if (spec->checkpoint) {
        status = rp__ckpt_last(rp__durable_store(e->durable), key, &iteration, &created);
        if (status != RP_OK && status != RP_ERR_NOT_FOUND) {
            rp_task_free(spec);
            return RP_ERR_IO;
        }
        out->from_checkpoint = status == RP_OK;
        out->iteration = iteration;
    }
    status = submit(e, spec, 1, origin, id, NULL, &new_id, NULL, NULL, &why);
    free(why);
    out->new_id = status == RP_OK ? new_id : 0;
    if (status != RP_OK)
        out->from_checkpoint = false, out->iteration = 0;
    return status;
}

rp_status
rp_restore(rp_pool *pool, rp_task_id id, rp_task_id *new_id)
{
    rp_restore_info info;
    rp_status status;

    if (new_id != NULL)
        *new_id = 0;
    if (new_id == NULL)
        return RP_ERR_INVALID;
    status = rp_restore_detail(pool, id, &info);
    *new_id = info.new_id;
    return status;
}

rp_status
rp_task_status(rp_pool *pool, rp_task_id id, rp_task_state *out)
{
    if (pool == NULL || out == NULL)
        return RP_ERR_INVALID;
    return task_lookup(pool, id, out, NULL, NULL);
}

rp_status
rp_task_job(rp_pool *pool, rp_task_id id, rp_job_id *out)
{
    if (pool == NULL || out == NULL)
        return RP_ERR_INVALID;
    return task_lookup(pool, id, NULL, out, NULL);
}

/* ---- jobs ---- */

static rp_task_state
roll_up(const struct rp__job *job)
{
    unsigned done = job->count[RP_TASK_SUCCEEDED] + job->count[RP_TASK_FAILED] +
                    job->count[RP_TASK_CANCELLED] + job->count[RP_TASK_TIMED_OUT];

    if (job->count[RP_TASK_QUEUED] == job->total)
        return RP_TASK_QUEUED;
    if (done < job->total)
        return RP_TASK_RUNNING;
    if (job->count[RP_TASK_SUCCEEDED] == job->total)
        return RP_TASK_SUCCEEDED;
    if (job->count[RP_TASK_CANCELLED] != 0)
        return RP_TASK_CANCELLED;
    if (job->count[RP_TASK_TIMED_OUT] != 0)
        return RP_TASK_TIMED_OUT;
    return RP_TASK_FAILED;
}

static void
job_info(const struct rp__job *job, rp_job_info *out)
{
    out->id = job->node.id;
    out->total = job->total;
    memcpy(out->count, job->count, sizeof out->count);
    out->state = roll_up(job);
}

/* Lock held (counted in callers). A job the engine no longer holds, from
 * the store. Lets go of the lock meanwhile. */
static rp_status
stored_job(rp__engine *e, rp_job_id id, rp_job_info *out)
{
    struct rp__job job;
    char *json;
    void *in;
    size_t in_len;
    rp_status status;

    if (e->journal == NULL)
        return RP_ERR_NOT_FOUND;
    memset(&job, 0, sizeof job);
    pthread_mutex_unlock(&e->lock);
    status = rp__journal_job(e->journal, id, &json, &in, &in_len, job.count);
    pthread_mutex_lock(&e->lock);
    if (status != RP_OK)
        return status == RP_ERR_NOT_FOUND ? status : RP_ERR_IO;
    free(json);
    free(in);
    job.node.id = id;
    for (unsigned s = 0; s < RP_TASK_STATE_COUNT; s++)
        job.total += job.count[s];
    if (out != NULL)
        job_info(&job, out);
    return RP_OK;
}

rp_status
rp_job_get(rp_pool *pool, rp_job_id id, rp_job_info *out)
{
    rp__engine *e;
    struct rp__job *job;
    rp_status status = RP_OK;

    if (pool == NULL || out == NULL)
        return RP_ERR_INVALID;
    e = engine_of(pool);
    enter(e);
    job = (struct rp__job *)idmap_get(&e->jobs, id);
    if (job != NULL)
        job_info(job, out);
    else
        status = stored_job(e, id, out);
    leave(e);
    return status;
}

rp_status
rp_job_wait(rp_pool *pool, rp_job_id id, int timeout_ms, rp_job_info *out)
{
    rp__engine *e;
    struct rp__job *job;
    rp_status status;

    if (pool == NULL || timeout_ms < -1)
        return RP_ERR_INVALID;
    e = engine_of(pool);
    enter(e);
    status = sleep_until(e, id, true, timeout_ms);
    job = (struct rp__job *)idmap_get(&e->jobs, id);
    if (job != NULL && out != NULL)
        job_info(job, out);
    if (job != NULL && status == RP_OK)
        durable_wait(e, job->final_seq);   /* job may be forgotten after this */
    else if (job == NULL && status == RP_ERR_NOT_FOUND)
        status = stored_job(e, id, out);
    leave(e);
    return status;
}

rp_status
rp_cancel_job(rp_pool *pool, rp_job_id id)
{
    rp__engine *e;
    struct rp__job *job;
    rp_task_id first;
    unsigned total;

    if (pool == NULL)
        return RP_ERR_INVALID;
    e = engine_of(pool);
    enter(e);
    job = (struct rp__job *)idmap_get(&e->jobs, id);
    if (job == NULL) {
        rp_status status = stored_job(e, id, NULL);   /* over, if the store has it */
        leave(e);
        return status;
    }
    first = job->first_task;
    total = job->total;
    leave(e);
    /* A job's tasks have consecutive ids; those already forgotten are
     * final anyway. */
    for (unsigned i = 0; i < total; i++)
        (void)rp_cancel(pool, first + i);
    return RP_OK;
}

/* ---- events ---- */

rp_status
rp_subscribe(rp_pool *pool, rp_subscription **out)
{
    if (out != NULL)
        *out = NULL;
    rp__engine *e;
    rp_status status;

    if (pool == NULL || out == NULL)
        return RP_ERR_INVALID;
    e = engine_of(pool);
    enter(e);
    status = rp__bus_subscribe(e->bus, out);
    leave(e);
    return status;
}

/* ---- inspection ---- */

const char *
rp_wait_reason_name(rp_wait_reason r)
{
    switch (r) {
    case RP_WAIT_NONE: return "not waiting";
    case RP_WAIT_COMMIT: return "being committed to the store";
    case RP_WAIT_SLOT: return "no free slot";
    case RP_WAIT_BACKOFF: return "backing off before retry";
    case RP_WAIT_BACKEND: return "no worker of its backend";
    case RP_WAIT_DATA: return "waiting for its data";
    case RP_WAIT_STOPPING: return "the pool is stopping";
    }
    return "unknown";
}

/* The global index of t's worker (rp_pool_workers' order): the process
 * executor's slots, the function executor's, then one row per link. */
static int
worker_index(const rp__engine *e, const struct rp__task *t)
{
    int base = 0;

    if (t->worker == 0)
        return -1;
    for (unsigned k = 0; k < t->xk && k < RP__EXEC_REMOTE; k++)
        base += (int)e->exec[k].capacity;
    if (t->xk == RP__EXEC_REMOTE)
        return base + (int)((t->worker - 1) / RP__LINK_WINDOW_MAX);
    return base + (int)t->worker - 1;
}

/* Lock held. */
static void
task_info(const rp__engine *e, const struct rp__task *t, rp_task_info *out)
{
    const struct rp_task *spec = t->spec;

    memset(out, 0, sizeof *out);
    out->id = t->node.id;
    out->job = t->job->node.id;
    out->shard = t->shard;
    out->total_shards = t->total_shards;
    out->state = (rp_task_state)t->state;
    out->attempts = t->attempts;
    out->max_retries = spec->retries;
    out->backend = spec->backend;
    out->priority = spec->priority;
    out->function = spec->kind == RP__KIND_FUNCTION;
    out->checkpoint = spec->checkpoint;
    out->worker = worker_index(e, t);
    out->submitted_ns = t->submitted_ns;
    out->started_ns = t->attempts > 0 ? t->started_ns : 0;
    out->origin = t->origin;
    out->exit_code = -1;
    if (t->state == RP_TASK_QUEUED) {
        switch ((enum rp__where)t->where) {
        case RP__READY:
            out->wait = e->stopping ? RP_WAIT_STOPPING
                        : (t->xk == RP__EXEC_REMOTE || t->xk == RP__EXEC_GPU) &&
                                  e->exec[t->xk].capacity == 0
                            ? RP_WAIT_BACKEND
                            : RP_WAIT_SLOT;
            break;
        case RP__RETRY_WAIT:
            out->wait = RP_WAIT_BACKOFF;
            out->retry_at_ns = t->retry_at_ns;
            break;
        default:
            out->wait = RP_WAIT_COMMIT;
            break;
        }
    }
    if (t->result != NULL) {
        out->ended_ns = t->result->times.ended_ns;
        out->exit_code = t->result->exit_code;
        out->signal = t->result->signal;
        if (t->result->times.started_ns != 0)
            out->started_ns = t->result->times.started_ns;
    }
}

rp_status
rp_task_get(rp_pool *pool, rp_task_id id, rp_task_info *out)
{
    rp__engine *e;
    struct rp__task *t;
    rp_status status = RP_ERR_NOT_FOUND;

    if (pool == NULL || out == NULL)
        return RP_ERR_INVALID;
    e = engine_of(pool);
    enter(e);
    if ((t = find_task(e, id)) != NULL) {
        task_info(e, t, out);
        status = RP_OK;
    }
    leave(e);
    return status;
}

static int
by_task_id(const void *a, const void *b)
{
    rp_task_id x = ((const rp_task_info *)a)->id, y = ((const rp_task_info *)b)->id;

    return (x > y) - (x < y);
}

rp_status
rp_pool_tasks(rp_pool *pool, rp_task_info **out, size_t *n)
{
    rp__engine *e;
    rp_task_info *v = NULL;
    size_t count = 0;

    if (pool == NULL || out == NULL || n == NULL)
        return RP_ERR_INVALID;
    e = engine_of(pool);
    enter(e);
    if (e->tasks.count > 0) {
        v = rp_xmalloc(e->tasks.count * sizeof *v);
        for (size_t i = 0; i <= e->tasks.mask; i++)
            for (struct rp__idnode *node = e->tasks.buckets[i]; node != NULL; node = node->next)
                task_info(e, (struct rp__task *)node, &v[count++]);
    }
    leave(e);
    /* Ids come in runs (a job's are consecutive) and the table is keyed
     * by id, so this is mostly sorted already. */
    if (count > 1)
        qsort(v, count, sizeof *v, by_task_id);
    *out = v;
    *n = count;
    return RP_OK;
}

rp_status
rp_task_describe(rp_pool *pool, rp_task_id id, char **json)
{
    rp__engine *e;
    struct rp__task *t;
    struct rp__jtask row;
    unsigned count[RP_TASK_STATE_COUNT];
    void *in = NULL;
    size_t in_len;
    rp_status status;

    if (pool == NULL || json == NULL)
        return RP_ERR_INVALID;
    *json = NULL;
    e = engine_of(pool);
    enter(e);
    /* A placeholder stands for a description only the store has. */
    if ((t = find_task(e, id)) != NULL && !t->spec->placeholder) {
        struct rp_task *spec = t->spec;
        /* The description is immutable: encode it without the lock. */
        atomic_fetch_add_explicit(&spec->refs, 1, memory_order_relaxed);
        leave(e);
        *json = rp__task_spec_json(spec);
        rp__task_spec_unref(spec);
        return RP_OK;
    }
    status = stored_task(e, id, &row, NULL);
    if (status == RP_OK) {
        pthread_mutex_unlock(&e->lock);
        status = rp__journal_job(e->journal, row.job, json, &in, &in_len, count);
        pthread_mutex_lock(&e->lock);
        free(in);
        if (status != RP_OK && status != RP_ERR_NOT_FOUND)
            status = RP_ERR_IO;
    }
    leave(e);
    return status;
}

/* The last max bytes of b as a NUL-terminated copy. */
static void
tail_copy(const char *data, size_t len, uint64_t total, size_t max, char **out, size_t *out_len,
          uint64_t *out_total)
{
    size_t n = len < max ? len : max;

    *out = rp_xmemdup0(n > 0 ? data + (len - n) : "", n);
    *out_len = n;
    *out_total = total;
}

rp_status
rp_task_peek_output(rp_pool *pool, rp_task_id id, size_t max, rp_task_output *out)
{
    rp__engine *e;
    struct rp__task *t;
    struct rp__bytes o = { 0 }, err = { 0 };
    rp_result *r = NULL;
    rp_status status = RP_OK;

    if (out == NULL)
        return RP_ERR_INVALID;
    memset(out, 0, sizeof *out);
    if (pool == NULL)
        return RP_ERR_INVALID;
    e = engine_of(pool);
    enter(e);
    t = find_task(e, id);
    if (t != NULL && t->result != NULL) {
        r = t->result;
        atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    } else if (t != NULL && t->where == RP__RUNNING && !e->stopping &&
               e->exec[t->xk].ops->peek != NULL) {
        struct exec_slot *x = &e->exec[t->xk];
        unsigned attempt = t->attempts;
        /* Counted as a batch: rp__engine_stop waits for it before it stops
         * the executor. t may end meanwhile; only its id goes along. */
        e->batches++;
        pthread_mutex_unlock(&e->lock);
        x->ops->peek(x->state, id, attempt, max, &o, &err);
        batch_done(e);
        pthread_mutex_lock(&e->lock);
    } else if (t == NULL) {
        status = RP_ERR_NOT_FOUND;
    }
    leave(e);
    if (status == RP_ERR_NOT_FOUND && rp_wait(pool, id, 0, &r) == RP_OK)
        status = RP_OK;             /* an earlier run's, from the store */
    if (r != NULL) {
        tail_copy(r->out.data, r->out.len, r->out.total, max, &out->out, &out->out_len,
                  &out->out_total);
        tail_copy(r->err.data, r->err.len, r->err.total, max, &out->err, &out->err_len,
                  &out->err_total);
        rp_result_free(r);
    } else {
        tail_copy(o.data, o.len, o.total, max, &out->out, &out->out_len, &out->out_total);
        tail_copy(err.data, err.len, err.total, max, &out->err, &out->err_len, &out->err_total);
    }
    free(o.data);
    free(err.data);
    return status;
}

void
rp_task_output_free(rp_task_output *o)
{
    if (o == NULL)
        return;
    free(o->out);
    free(o->err);
    memset(o, 0, sizeof *o);
}

rp_status
rp_pool_workers(rp_pool *pool, rp_worker_info **out, size_t *n)
{
    static const char *const prefix[] = { [RP__KIND_PROCESS] = "proc",
                                          [RP__KIND_FUNCTION] = "fn",
                                          [RP__KIND_GPU] = "gpu" };
    rp__engine *e;
    rp_worker_info *v;
    size_t count = 0, total = 0;
    char host[64];
    uint64_t now = rp__now_ns();

    if (pool == NULL || out == NULL || n == NULL)
        return RP_ERR_INVALID;
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    e = engine_of(pool);
    enter(e);
    for (size_t k = 0; k < RP__EXEC_REMOTE; k++)
        total += e->exec[k].capacity;    /* fixed once created */
    total += e->nlinks;
    v = rp_xcalloc(total ? total : 1, sizeof *v);
    for (size_t k = 0; k < RP__EXEC_REMOTE; k++) {
        const struct exec_slot *x = &e->exec[k];
        for (unsigned i = 0; i < x->capacity; i++) {
            const struct worker *w = &x->workers[i];
            rp_worker_info *info = &v[count++];
            snprintf(info->name, sizeof info->name, "%s%u", prefix[k], i);
            snprintf(info->node, sizeof info->node, "%s", host);
            snprintf(info->executor, sizeof info->executor, "%s", x->ops->name);
            info->backend = k == RP__EXEC_GPU ? RP_BACKEND_GPU : RP_BACKEND_CPU;
            info->up = !e->stopping;
            if (k == RP__EXEC_GPU) {
                rp_gpu_info gi;
                rp__exec_gpu_info(x->state, false, &gi);
                info->up = info->up && gi.state == RP_GPU_READY;
                if (gi.name[0] != '\0')
                    snprintf(info->node, sizeof info->node, "%.63s", gi.name);
            }
            info->task = w->task;
            info->completed = w->completed;
            info->busy_ns = w->busy_ns;
            if (w->task != 0 && now > w->since_ns)
                info->busy_ns += now - w->since_ns;
            info->up_since_ns = x->up_since_ns;
        }
    }
    for (unsigned l = 0; l < e->nlinks; l++) {
        const struct link *k = &e->links[l];
        const struct worker *w = &e->exec[RP__EXEC_REMOTE].workers[l * RP__LINK_WINDOW_MAX];
        rp_worker_info *info = &v[count++];
        uint64_t busy = 0;
        snprintf(info->name, sizeof info->name, "%.*s", (int)sizeof info->name - 1, k->node);
        snprintf(info->node, sizeof info->node, "%s", k->addr);
        snprintf(info->executor, sizeof info->executor, "remote");
        info->backend = RP_BACKEND_REMOTE;
        info->up = k->up && !e->stopping;
        for (unsigned j = 0; j < RP__LINK_WINDOW_MAX; j++) {
            busy += w[j].busy_ns;
            info->completed += w[j].completed;
            if (w[j].task != 0) {
                if (info->task == 0)
                    info->task = w[j].task;
                if (now > w[j].since_ns)
                    busy += now - w[j].since_ns;
            }
        }
        /* Busy time per slot of the daemon, so that a load is 0..1. */
        info->busy_ns = busy / (k->slots ? k->slots : 1);
        info->up_since_ns = k->up_since_ns;
    }
    leave(e);
    *out = v;
    *n = count;
    return RP_OK;
}

/* ---- life cycle ---- */

void
rp__engine_stats(rp__engine *e, rp_stats *out)
{
    enter(e);
    out->queued = e->now_queued;
    out->running = e->now_running;
    out->succeeded = e->ended[RP_TASK_SUCCEEDED];
    out->failed = e->ended[RP_TASK_FAILED];
    out->cancelled = e->ended[RP_TASK_CANCELLED];
    out->timed_out = e->ended[RP_TASK_TIMED_OUT];
    out->retried = e->retried;
    leave(e);
}

static void
free_workers(rp__engine *e)
{
    for (size_t k = 0; k < sizeof e->exec / sizeof e->exec[0]; k++) {
        free(e->exec[k].workers);
        free(e->exec[k].free_workers);
    }
    free(e->links);
}

static void
free_records(rp__engine *e)
{
    for (size_t i = 0; i <= e->tasks.mask; i++) {
        struct rp__idnode *n = e->tasks.buckets[i];
        while (n != NULL) {
            struct rp__idnode *next = n->next;
            struct rp__task *t = (struct rp__task *)n;
            rp__task_spec_unref(t->spec);
            rp_result_free(t->result);
            free(t);
            n = next;
        }
    }
    for (size_t i = 0; i <= e->jobs.mask; i++) {
        struct rp__idnode *n = e->jobs.buckets[i];
        while (n != NULL) {
            struct rp__idnode *next = n->next;
            free(n);
            n = next;
        }
    }
    free(e->tasks.buckets);
    free(e->jobs.buckets);
}

/* ---- recovery: what an earlier pool left in the store ---- */

struct recovered {
    struct rp__jtask *rows;
    size_t n, cap;
};

static void
collect_unfinished(void *ctx, const struct rp__jtask *t)
{
    struct recovered *r = ctx;

    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->rows = rp_xrealloc(r->rows, r->cap * sizeof *r->rows);
    }
    r->rows[r->n++] = *t;
}

static bool
is_recovered(void *ctx, rp_task_id id)
{
    const struct recovered *r = ctx;
    size_t lo = 0, hi = r->n;

    while (lo < hi) {                   /* rows are by id */
        size_t mid = lo + (hi - lo) / 2;
        if (r->rows[mid].id == id)
            return true;
        if (r->rows[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* The job record for recovered rows of job `row->job`, with its counts
 * from the store; *spec = its description, or with *why set when it is
 * unusable a placeholder (rp__task_spec_placeholder) or NULL. */
static struct rp__job *
recover_job(rp__engine *e, const struct rp__jtask *row, rp_task **spec, char **why)
{
    struct rp__job *job = rp_xcalloc(1, sizeof *job);
    char *json;
    void *in;
    size_t in_len;
    rp_status status;

    *spec = NULL;
    *why = NULL;
    job->node.id = row->job;
    job->total = row->total;
    job->first_task = row->id - row->shard;
    status = rp__journal_job(e->journal, row->job, &json, &in, &in_len, job->count);
    if (status == RP_OK) {
        status = rp__task_spec_parse(json, in, in_len, spec, why);
        if (status != RP_OK)
            *spec = rp__task_spec_placeholder(json);
        free(json);
        free(in);
    } else {
        *why = rp__sprintf("its job %llu cannot be read from the store: %s",
                           (unsigned long long)row->job, rp_strerror(status));
    }
    /* Counted again as the records are made. */
    job->count[RP_TASK_QUEUED] = job->count[RP_TASK_RUNNING] = 0;
    idmap_put(&e->jobs, &job->node);
    return job;
}

/* A submission time the store recorded (Unix ms) on this process's
 * monotonic clock: now, less the age of the submission (0 when that is
 * before the clock began, e.g. before a reboot). */
static uint64_t
recovered_submit_ns(int64_t submitted_ms)
{
    uint64_t now = rp__now_ns();
    int64_t age_ms = rp__wall_ms() - submitted_ms;

    if (submitted_ms <= 0 || age_ms < 0)
        return now;
    return (uint64_t)age_ms * 1000000u < now ? now - (uint64_t)age_ms * 1000000u : 0;
}

/* Kills what is left of an interrupted attempt: a crash of the pool does
 * not end the processes it started (each leads its own process group). */
static void
kill_leftover(rp__engine *e, const struct rp__jtask *row)
{
    if (row->state != RP_TASK_RUNNING || row->pid <= 1 || row->pid_start == 0)
        return;
    if (rp__process_start_time(row->pid) != row->pid_start)
        return;                         /* gone, or the pid was reused */
    kill(-row->pid, SIGKILL);
    kill(row->pid, SIGKILL);
    e->recovery.killed++;
}

/* Lock held; before any dispatch. */
static rp_status
recover(rp__engine *e, char **why)
{
    struct recovered r = { NULL, 0, 0 };
    struct rp__job *job = NULL;
    rp_task *spec = NULL;
    char *bad = NULL;
    uint64_t max_task, max_job;
    rp_status status;

    if ((status = rp__journal_max_ids(e->journal, &max_task, &max_job)) != RP_OK ||
        (status = rp__journal_unfinished(e->journal, collect_unfinished, &r)) != RP_OK) {
        *why = rp__sprintf("cannot read the jobs of the store: %s", rp_strerror(status));
        free(r.rows);
        return status;
    }
    e->next_task_id = max_task + 1;
    e->next_job_id = max_job + 1;
    for (size_t i = 0; i < r.n; i++)
        kill_leftover(e, &r.rows[i]);
    if ((status = rp__journal_requeue_running(e->journal)) != RP_OK) {
        *why = rp__sprintf("cannot requeue the interrupted tasks: %s", rp_strerror(status));
        free(r.rows);
        return status;
    }
    rp__durable_sweep_runs(e->durable, is_recovered, &r);
    for (size_t i = 0; i < r.n; i++) {
        const struct rp__jtask *row = &r.rows[i];
        struct rp__task *t = rp_xcalloc(1, sizeof *t);

        if (job == NULL || job->node.id != row->job) {
            rp__task_spec_unref(spec);
            free(bad);
            job = recover_job(e, row, &spec, &bad);
        }
        t->node.id = row->id;
        t->job = job;
        job->live++;
        t->shard = row->shard;
        t->total_shards = row->total;
        t->attempts = row->attempts;
        t->interrupted = row->interrupted + (row->state == RP_TASK_RUNNING);
        t->origin = row->origin;
        t->submitted_ns = recovered_submit_ns(row->submitted_ms);
        t->state = RP_TASK_QUEUED;
        idmap_put(&e->tasks, &t->node);
        count_in(e, t);
        if (spec == NULL || spec->placeholder) {
            /* Kept only to record why it cannot run: a placeholder. */
            if (spec != NULL) {
                t->spec = spec;
                atomic_fetch_add_explicit(&spec->refs, 1, memory_order_relaxed);
            } else {
                t->spec = rp__task_spec_placeholder(NULL);
            }
            publish(e, t);
            finish_with_error(e, t, RP_TASK_FAILED,
                              rp__sprintf("cannot recover: %s", bad ? bad : "unknown reason"));
            e->recovery.unrecoverable++;
            continue;
        }
        t->spec = spec;
        atomic_fetch_add_explicit(&spec->refs, 1, memory_order_relaxed);
        publish(e, t);
        make_ready(e, t);
        if (row->state == RP_TASK_RUNNING)
            e->recovery.interrupted++;
        else
            e->recovery.queued++;
    }
    rp__task_spec_unref(spec);
    free(bad);
    free(r.rows);
    return RP_OK;
}

void
rp__engine_recovery(rp__engine *e, rp_recovery *out)
{
    enter(e);
    *out = e->recovery;
    leave(e);
}

rp__durable *
rp__engine_durable(rp__engine *e)
{
    return e->durable;
}

unsigned
rp__engine_checkpoint_interval(rp__engine *e, const struct rp_task *spec)
{
    return spec->checkpoint_interval_ms != 0 ? spec->checkpoint_interval_ms
                                             : e->checkpoint_interval_ms;
}

bool
rp__engine_unqueue(rp__engine *e, rp_task_id id)
{
    struct rp__task *t;
    bool ok;

    enter(e);
    t = find_task(e, id);
    ok = t != NULL && t->where == RP__READY && !e->stopping;
    if (ok) {
        queue_unlink(&e->exec[t->xk].ready[t->spec->priority], t);
        finish(e, t, RP_TASK_CANCELLED, NULL);
    }
    leave(e);
    return ok;
}

void
rp__engine_start_error(rp__engine *e, char *why)
{
    free(e->start_why);
    e->start_why = why;
}

void *
rp__engine_exec_state(rp__engine *e, unsigned exec)
{
    return e->exec[exec].state;
}

const rp_pool_config *
rp__engine_user_config(rp__engine *e)
{
    return e->user_cfg;
}

unsigned
rp__engine_link_of(const struct rp__task *t)
{
    return (t->worker - 1) / RP__LINK_WINDOW_MAX;
}

void
rp__engine_link_set(rp__engine *e, unsigned link, const char *node, const char *addr,
                    unsigned window, unsigned slots, bool up)
{
    struct exec_slot *x = &e->exec[RP__EXEC_REMOTE];
    struct link *k;
    struct rp__task *batch;

    if (link >= RP__MAX_LINKS)
        return;
    if (window > RP__LINK_WINDOW_MAX)
        window = RP__LINK_WINDOW_MAX;
    pthread_mutex_lock(&e->lock);
    k = &e->links[link];
    if (link >= e->nlinks)
        e->nlinks = link + 1;
    if (node != NULL)
        snprintf(k->node, sizeof k->node, "%s", node);
    if (addr != NULL)
        snprintf(k->addr, sizeof k->addr, "%s", addr);
    if (up && !k->up)
        k->up_since_ns = rp__now_ns();
    x->capacity -= k->up ? k->window : 0;
    k->up = up;
    k->window = up ? window : 0;
    k->slots = slots;
    k->nfree = 0;
    for (unsigned j = k->window; j-- > 0;)
        if (x->workers[link * RP__LINK_WINDOW_MAX + j].task == 0)
            k->free[k->nfree++] = j;
    /* An attempt still out on a slot past the new window keeps it until it
     * ends: the room is what is free. */
    x->capacity += k->window;
    batch = dispatch(e);
    pthread_mutex_unlock(&e->lock);
    run_batch(e, batch);
}

void
rp__engine_attempt_pid(rp__engine *e, struct rp__task *t, pid_t pid)
{
    if (e->journal != NULL)
        rp__journal_pid(e->journal, t->node.id, pid, rp__process_start_time(pid));
}

rp_status
rp__engine_create(rp_pool *pool, const struct rp__engine_config *cfg, rp__engine **out,
                  char **why)
{
    rp__engine *e = rp_xcalloc(1, sizeof *e);
    rp_status status;
    size_t started = 0;
    struct rp__task *batch;

    *out = NULL;
    *why = NULL;
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->idle_cond, NULL);
    e->pool = pool;
    e->max_processes = cfg->max_processes;
    e->cpu_workers = cfg->cpu_workers;
    e->checkpoint_interval_ms = cfg->checkpoint_interval_ms;
    e->next_task_id = e->next_job_id = 1;
    e->rng = rp__now_ns() | 1;
    idmap_init(&e->tasks);
    idmap_init(&e->jobs);
    e->bus = rp__bus_new();
    if (cfg->state_dir != NULL) {
        if ((status = rp__durable_open(cfg->state_dir, &e->durable, why)) != RP_OK)
            goto fail;
        e->journal = rp__durable_journal(e->durable);
    }
    status = rp__loop_create(&e->loop);
    if (status != RP_OK)
        goto fail;
    e->exec[RP__EXEC_PROCESS].ops = &rp__exec_process;
    e->exec[RP__EXEC_FUNCTION].ops = &rp__exec_function;
    e->exec[RP__EXEC_GPU].ops = &rp__exec_gpu;
    e->exec[RP__EXEC_REMOTE].ops = &rp__exec_remote;
    e->user_cfg = cfg->user;
    e->links = rp_xcalloc(RP__MAX_LINKS, sizeof *e->links);
    e->exec[RP__EXEC_REMOTE].workers =
        rp_xcalloc((size_t)RP__MAX_LINKS * RP__LINK_WINDOW_MAX, sizeof(struct worker));
    for (; started < sizeof e->exec / sizeof e->exec[0]; started++) {
        struct exec_slot *x = &e->exec[started];
        if (started == RP__EXEC_REMOTE)
            x->up_since_ns = rp__now_ns();
        status = x->ops->start(e, &x->state);
        if (status != RP_OK)
            goto fail;
        if (started == RP__EXEC_REMOTE)
            continue;               /* its slots come and go with its links
                                       (rp__engine_link_set, under the lock,
                                       from its thread: maybe already) */
        x->capacity = x->ops->capacity(x->state);
        x->workers = rp_xcalloc(x->capacity ? x->capacity : 1, sizeof *x->workers);
        x->free_workers = rp_xcalloc(x->capacity ? x->capacity : 1, sizeof *x->free_workers);
        for (unsigned w = 0; w < x->capacity; w++)
            x->free_workers[x->nfree++] = x->capacity - 1 - w;
        x->up_since_ns = rp__now_ns();
    }
    e->user_cfg = NULL;
    if (e->journal != NULL) {
        pthread_mutex_lock(&e->lock);
        status = recover(e, why);
        batch = status == RP_OK ? dispatch(e) : NULL;
        pthread_mutex_unlock(&e->lock);
        if (status != RP_OK)
            goto fail;
        run_batch(e, batch);
    }
    *out = e;
    return RP_OK;

fail:
    if (e->start_why != NULL && *why == NULL)
        *why = e->start_why;
    else
        free(e->start_why);
    while (started-- > 0) {
        if (started == RP__EXEC_GPU)
            rp__exec_gpu_free(e->exec[started].state);
        else
            e->exec[started].ops->stop(e->exec[started].state);
    }
    free_workers(e);
    if (e->loop != NULL)
        rp__loop_destroy(e->loop);
    rp__durable_close(e->durable);
    rp__bus_unref(e->bus);
    free_records(e);
    pthread_cond_destroy(&e->idle_cond);
    pthread_mutex_destroy(&e->lock);
    free(e);
    return status;
}

void
rp__engine_stop(rp__engine *e)
{
    pthread_mutex_lock(&e->lock);
    e->stopping = true;
    for (size_t k = 0; k < sizeof e->exec / sizeof e->exec[0]; k++) {
        struct exec_slot *x = &e->exec[k];
        struct rp__task *t;
        while ((t = pop_ready(x)) != NULL)
            finish(e, t, RP_TASK_CANCELLED, NULL);
    }
    while (e->retry_wait.head != NULL) {
        struct rp__task *t = e->retry_wait.head;
        queue_unlink(&e->retry_wait, t);
        finish(e, t, RP_TASK_CANCELLED, NULL);
    }
    /* Nothing is dispatched from now on; let the batches already taken
     * reach their executors before those stop. */
    while (e->batches != 0)
        pthread_cond_wait(&e->idle_cond, &e->lock);
    pthread_mutex_unlock(&e->lock);
    /* Kills and reaps every process; their outcomes arrive while stopping,
     * so none is retried. Function tasks finish as the scheduler drains. */
    e->exec[RP__EXEC_REMOTE].ops->stop(e->exec[RP__EXEC_REMOTE].state);
    e->exec[RP__EXEC_REMOTE].state = NULL;
    e->exec[RP__EXEC_PROCESS].ops->stop(e->exec[RP__EXEC_PROCESS].state);
    e->exec[RP__EXEC_PROCESS].state = NULL;
    /* The running SPIR-V task ends (its timeout bounds it); the device
     * stays for tensor ops until rp__engine_free. */
    e->exec[RP__EXEC_GPU].ops->stop(e->exec[RP__EXEC_GPU].state);
    rp__loop_destroy(e->loop);
    e->loop = NULL;
}

void
rp__engine_free(rp__engine *e)
{
    if (e == NULL)
        return;
    /* Every task is final by now, so every waiter has been signalled; let
     * the calls in flight get out before their memory goes. */
    pthread_mutex_lock(&e->lock);
    while (e->callers != 0)
        pthread_cond_wait(&e->idle_cond, &e->lock);
    pthread_mutex_unlock(&e->lock);
    e->exec[RP__KIND_FUNCTION].ops->stop(e->exec[RP__KIND_FUNCTION].state);
    rp__exec_gpu_free(e->exec[RP__EXEC_GPU].state);
    e->exec[RP__EXEC_GPU].state = NULL;
    rp__bus_close(e->bus);
    rp__bus_unref(e->bus);
    free_records(e);
    free_workers(e);
    rp__durable_close(e->durable);
    pthread_cond_destroy(&e->idle_cond);
    pthread_mutex_destroy(&e->lock);
    free(e);
}
