/*
 * exec_function.c -- the function executor: a task's C callback runs as a
 * top-level frame on the pool's work-stealing scheduler, at the task's
 * priority. Its return value is the exit code. A tensor task runs here
 * too, its ops split over the same pool (exec_tensor.c).
 *
 * A running function cannot be interrupted; rp_cancel only marks it, and a
 * function cancelled before its frame started never runs. Capacity is one
 * attempt per worker: the engine's ready queues keep the rest, so the
 * order of priorities holds across executors.
 *
 * THREADS: `running` and `started` are atomics; the rest is set at start.
 */
#include "engine/engine.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/alloc.h"

struct fn_exec {
    rp__engine *e;
    rp_pool *pool;
    unsigned capacity;
    _Atomic unsigned running;
    _Atomic uint64_t started;
};

/* The frame: t->exec points back at the executor. */
static void
run_attempt(void *arg)
{
    struct rp__task *t = arg;
    struct fn_exec *x = t->exec;
    struct rp__outcome o;

    memset(&o, 0, sizeof o);
    o.started_ns = rp__now_ns();
    if (rp__engine_cancel_requested(x->e, t)) {
        o.cancelled = true;
        o.end = RP__END_EXITED;
        o.exit_code = -1;
    } else {
        uint64_t cpu0 = rp__clock_ns(CLOCK_THREAD_CPUTIME_ID);
        o.end = RP__END_EXITED;
        if (t->spec->tensor != NULL)
            rp__tensor_task_run(x->pool, x->e, t->spec->tensor,
                                t->spec->backend == RP_BACKEND_GPU, &o);
        else
            o.exit_code = t->spec->fn(t->spec->fn_arg);
        o.user_ns = rp__clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    }
    o.ended_ns = rp__now_ns();
    atomic_fetch_sub_explicit(&x->running, 1, memory_order_relaxed);
    rp__engine_attempt_done(x->e, t, &o);
}

static rp_status
fn_start(rp__engine *e, void **state)
{
    struct fn_exec *x = rp_xcalloc(1, sizeof *x);

    x->e = e;
    x->pool = rp__engine_pool(e);
    x->capacity = rp__engine_cpu_workers(e);
    *state = x;
    return RP_OK;
}

static void
fn_submit(void *state, struct rp__task *t)
{
    struct fn_exec *x = state;
    rp_status status;

    t->exec = x;
    atomic_fetch_add_explicit(&x->running, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&x->started, 1, memory_order_relaxed);
    status = rp_pool_post(x->pool, t->spec->priority, run_attempt, t);
    if (status != RP_OK) {
        struct rp__outcome o;

        memset(&o, 0, sizeof o);
        o.end = RP__END_SPAWN_FAILED;
        o.started_ns = o.ended_ns = rp__now_ns();
        o.error = rp_xstrdup(rp_strerror(status));
        atomic_fetch_sub_explicit(&x->running, 1, memory_order_relaxed);
        rp__engine_attempt_done(x->e, t, &o);
    }
}

static void
fn_cancel(void *state, rp_task_id id, unsigned attempt)
{
    /* The engine has marked the task; a frame that has not started yet
     * sees the mark and skips the call. */
    (void)state;
    (void)id;
    (void)attempt;
}

static unsigned
fn_capacity(void *state)
{
    return ((struct fn_exec *)state)->capacity;
}

static void
fn_stats(void *state, rp__exec_stats *out)
{
    struct fn_exec *x = state;

    out->running = atomic_load_explicit(&x->running, memory_order_relaxed);
    out->started = atomic_load_explicit(&x->started, memory_order_relaxed);
}

static void
fn_stop(void *state)
{
    /* Called once the scheduler has drained: nothing runs any more. */
    free(state);
}

const rp__exec_ops rp__exec_function = {
    .name = "function",
    .start = fn_start,
    .submit = fn_submit,
    .cancel = fn_cancel,
    .capacity = fn_capacity,
    .stats = fn_stats,
    .stop = fn_stop,
};
