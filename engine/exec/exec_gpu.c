/*
 * exec_gpu.c -- the GPU executor: the pool's Vulkan device and the SPIR-V
 * tasks that run on it, one at a time, on the executor's own thread.
 *
 * With rp_pool_config.gpu the thread opens the best device the first
 * time something needs it: a SPIR-V task, a tensor op that would run
 * there, or rp_pool_gpu_info (the console asks at once). Until it is open
 * the state is RP_GPU_OPENING, then READY, or UNAVAILABLE with the
 * reason. So a slow driver never delays rp_pool_create, and a pool that
 * never uses the GPU never pays for opening it. Without it, or when no device
 * opens, the pool works as before: a SPIR-V task then fails at once saying
 * why, and tensor ops stay on the CPU. A task whose shader runs past its
 * timeout, or that loses the device, fails with that reason and leaves the
 * GPU UNAVAILABLE (rp_gpu_unusable); the CPU executors go on.
 *
 * A SPIR-V task reads its shader and input files when it runs, runs one
 * dispatch (rp_gpu_run_spirv), and hands back each output buffer in the
 * result; with an output dir it writes them as task<ID>.out<I>.bin too.
 * Its stdout names the device, the groups, the time and each output's
 * size and SHA-256. It cannot be interrupted once dispatched; a cancel
 * before it starts skips it.
 *
 * THREADS: `lock` guards the queue, `state`, `why` and `g` (set once by
 * the thread); counters are atomics. The device is used from this thread
 * and, for tensor ops, from pool workers (rp_gpu calls are thread-safe).
 */
#include "engine/engine.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/alloc.h"
#include "engine/file.h"
#include "engine/gpu/kernels.h"

#define MAX_SHADER_BYTES ((size_t)64 << 20)

struct gpu_exec {
    rp__engine *e;
    bool want;                      /* rp_pool_config.gpu */
    bool requested;                 /* something needs the device: open it */
    char *cache_dir;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct rp__task *head, **tail;  /* attempts waiting for the thread */
    bool stop;
    rp_gpu_state state;
    char why[200];
    rp_gpu *g;
    double link_gbs;                /* measured at open; 0: not known */
    _Atomic unsigned running;
    _Atomic uint64_t started, tasks, kernels;
};

/* ---- one SPIR-V task ---- */

static void
hex_sha256(const void *data, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256(data, len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void
run_spirv(struct gpu_exec *x, struct rp__task *t, struct rp__outcome *o)
{
    const struct rp__spirv *sp = &t->spec->spirv;
    rp_gpu *g;
    void *code = NULL;
    size_t code_len = 0;
    void *in[RP_GPU_MAX_BUFFERS] = { NULL };
    size_t in_len[RP_GPU_MAX_BUFFERS] = { 0 };
    void *out[RP_GPU_MAX_BUFFERS] = { NULL };
    char *why = NULL, *text = NULL;
    rp_status s;
    uint64_t t0;

    o->end = RP__END_EXITED;
    o->exit_code = 1;
    pthread_mutex_lock(&x->lock);
    g = x->state == RP_GPU_READY ? x->g : NULL;
    if (g == NULL)
        o->error = rp__sprintf("no GPU: %s", x->state == RP_GPU_NONE ? "the pool was made "
                               "without one (rp_pool_config.gpu)" : x->why);
    pthread_mutex_unlock(&x->lock);
    if (g == NULL) {
        o->end = RP__END_SPAWN_FAILED;
        return;
    }
    if ((code = rp__file_read(sp->shader, MAX_SHADER_BYTES, &code_len, &why)) == NULL)
        goto fail;
    for (unsigned i = 0; i < sp->ninputs; i++)
        if ((in[i] = rp__file_read(sp->inputs[i], rp__gpu_max_buffer(g), &in_len[i], &why)) ==
            NULL)
            goto fail;
    for (unsigned i = 0; i < sp->noutputs; i++) {
        if (sp->outputs[i] > rp__gpu_max_buffer(g)) {
            why = rp__sprintf("out of device memory: output %u of %zu MiB; %s allows %llu MiB",
                              i, sp->outputs[i] >> 20, rp_gpu_device_name(g),
                              (unsigned long long)(rp__gpu_max_buffer(g) >> 20));
            goto fail;
        }
        out[i] = malloc(sp->outputs[i] ? sp->outputs[i] : 1);
        if (out[i] == NULL) {
            why = rp__sprintf("no host memory for output %u (%zu bytes)", i, sp->outputs[i]);
            goto fail;
        }
    }
    rp_gpu_spirv_run run = {
        .code = code, .code_bytes = code_len,
        .inputs = (const void *const *)in, .input_bytes = in_len, .ninputs = sp->ninputs,
        .outputs = out, .output_bytes = sp->outputs, .noutputs = sp->noutputs,
        .groups = { sp->groups[0], sp->groups[1], sp->groups[2] },
        .timeout_ms = t->spec->timeout_ms,
    };
    t0 = rp__now_ns();
    s = rp_gpu_run_spirv(g, &run, &why);
    atomic_fetch_add_explicit(&x->tasks, 1, memory_order_relaxed);
    if (s != RP_OK) {
        char *w = rp__sprintf("%s: %s", rp_strerror(s), why != NULL ? why : "");
        o->timed_out = s == RP_ERR_TIMEOUT;     /* the task ends TIMED_OUT */
        free(why);
        why = w;
        if (rp_gpu_unusable(g) != NULL) {
            pthread_mutex_lock(&x->lock);
            x->state = RP_GPU_UNAVAILABLE;
            snprintf(x->why, sizeof x->why, "%s", rp_gpu_unusable(g));
            pthread_mutex_unlock(&x->lock);
        }
        goto fail;
    }
    text = rp__sprintf("gpu: %s (%s), %u x %u x %u groups, %.3f ms\n", rp_gpu_device_name(g),
                       rp_gpu_device_type(g), run.groups[0] ? run.groups[0] : 1,
                       run.groups[1] ? run.groups[1] : 1, run.groups[2] ? run.groups[2] : 1,
                       (double)(rp__now_ns() - t0) / 1e6);
    o->outputs = rp_xcalloc(sp->noutputs ? sp->noutputs : 1, sizeof *o->outputs);
    o->noutputs = sp->noutputs;
    for (unsigned i = 0; i < sp->noutputs; i++) {
        char sha[65], *file = NULL, *line;
        hex_sha256(out[i], sp->outputs[i], sha);
        if (sp->output_dir != NULL) {
            file = rp__sprintf("%s/task%" PRIu64 ".out%u.bin", sp->output_dir, t->node.id, i);
            int err = rp__file_replace(file, out[i], sp->outputs[i], 0644);
            if (err != 0) {
                why = rp__sprintf("%s: %s", file, strerror(err));
                free(file);
                goto fail;
            }
        }
        line = rp__sprintf("%soutput %u: %zu bytes sha256 %s%s%s\n", text, i, sp->outputs[i],
                           sha, file ? " -> " : "", file ? file : "");
        free(text);
        text = line;
        free(file);
        o->outputs[i].data = out[i];
        o->outputs[i].len = o->outputs[i].total = sp->outputs[i];
        out[i] = NULL;
    }
    o->out.data = text;
    o->out.len = o->out.total = strlen(text);
    text = NULL;
    o->exit_code = 0;
    goto out;
fail:
    o->error = why;
    why = NULL;
    rp__outcome_free_outputs(o);
out:
    free(text);
    free(why);
    free(code);
    for (unsigned i = 0; i < RP_GPU_MAX_BUFFERS; i++) {
        free(in[i]);
        free(out[i]);
    }
}

/* ---- the thread ---- */

static void *
gpu_thread(void *arg)
{
    struct gpu_exec *x = arg;

    pthread_mutex_lock(&x->lock);
    while (x->want && !x->requested && x->head == NULL && !x->stop)
        pthread_cond_wait(&x->cond, &x->lock);
    bool open_it = x->want && (x->requested || x->head != NULL);
    pthread_mutex_unlock(&x->lock);
    if (open_it) {
        rp_gpu *g = NULL;
        char *why = NULL;
        rp_status s = rp__gpu_open(-1, x->cache_dir, &g, &why);
        double link = s == RP_OK ? rp__gpu_measure_link(g) : 0;
        pthread_mutex_lock(&x->lock);
        if (s == RP_OK) {
            x->g = g;
            x->link_gbs = link;
            x->state = RP_GPU_READY;
        } else {
            x->state = RP_GPU_UNAVAILABLE;
            snprintf(x->why, sizeof x->why, "%s", why != NULL ? why : rp_strerror(s));
        }
        pthread_cond_broadcast(&x->cond);
        pthread_mutex_unlock(&x->lock);
        free(why);
    }
    pthread_mutex_lock(&x->lock);
    for (;;) {
        struct rp__task *t;
        while (x->head == NULL && !x->stop)
            pthread_cond_wait(&x->cond, &x->lock);
        if ((t = x->head) == NULL)
            break;
        x->head = t->next;
        if (x->head == NULL)
            x->tail = &x->head;
        bool stopping = x->stop;
        pthread_mutex_unlock(&x->lock);

        struct rp__outcome o;
        memset(&o, 0, sizeof o);
        o.started_ns = rp__now_ns();
        if (stopping || rp__engine_cancel_requested(x->e, t)) {
            o.cancelled = true;
            o.end = RP__END_EXITED;
            o.exit_code = -1;
        } else {
            run_spirv(x, t, &o);
        }
        o.ended_ns = rp__now_ns();
        atomic_fetch_sub_explicit(&x->running, 1, memory_order_relaxed);
        rp__engine_attempt_done(x->e, t, &o);
        pthread_mutex_lock(&x->lock);
    }
    pthread_mutex_unlock(&x->lock);
    return NULL;
}

/* ---- the ops ---- */

static rp_status
gpu_start(rp__engine *e, void **state)
{
    struct gpu_exec *x = rp_xcalloc(1, sizeof *x);
    const struct rp_pool_config *cfg = rp__engine_user_config(e);

    x->e = e;
    x->want = cfg != NULL && cfg->gpu;
    x->state = x->want ? RP_GPU_OPENING : RP_GPU_NONE;
    x->cache_dir = cfg != NULL && cfg->state_dir != NULL ? rp_xstrdup(cfg->state_dir) : NULL;
    x->tail = &x->head;
    pthread_mutex_init(&x->lock, NULL);
    pthread_cond_init(&x->cond, NULL);
    if (pthread_create(&x->thread, NULL, gpu_thread, x) != 0) {
        pthread_cond_destroy(&x->cond);
        pthread_mutex_destroy(&x->lock);
        free(x->cache_dir);
        free(x);
        rp__engine_start_error(e, rp_xstrdup("cannot start the GPU executor's thread"));
        return RP_ERR_SYSTEM;
    }
    *state = x;
    return RP_OK;
}

static void
gpu_submit(void *state, struct rp__task *t)
{
    struct gpu_exec *x = state;

    t->exec = x;
    atomic_fetch_add_explicit(&x->running, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&x->started, 1, memory_order_relaxed);
    pthread_mutex_lock(&x->lock);
    t->next = NULL;
    *x->tail = t;
    x->tail = &t->next;
    pthread_cond_broadcast(&x->cond);   /* tensor ops may wait on it too */
    pthread_mutex_unlock(&x->lock);
}

static void
gpu_cancel(void *state, rp_task_id id, unsigned attempt)
{
    /* A dispatched shader cannot be stopped; one still queued sees the
     * engine's mark and is skipped. */
    (void)state;
    (void)id;
    (void)attempt;
}

/* One attempt at a time, in a pool made with a GPU; none (and no row in
 * rp_pool_workers) in one made without. */
static unsigned
gpu_capacity(void *state)
{
    return ((struct gpu_exec *)state)->want ? 1 : 0;
}

static void
gpu_stats(void *state, rp__exec_stats *out)
{
    struct gpu_exec *x = state;

    out->running = atomic_load_explicit(&x->running, memory_order_relaxed);
    out->started = atomic_load_explicit(&x->started, memory_order_relaxed);
}

/* The pool stops: attempts still queued here end cancelled, the one
 * running ends (at most its timeout), and the thread goes. The device
 * stays open for tensor ops still running on pool workers, until
 * rp__exec_gpu_free. */
static void
gpu_stop(void *state)
{
    struct gpu_exec *x = state;

    if (x == NULL)
        return;
    pthread_mutex_lock(&x->lock);
    bool joined = x->stop;
    x->stop = true;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
    if (!joined)
        pthread_join(x->thread, NULL);
}

void
rp__exec_gpu_free(void *state)
{
    struct gpu_exec *x = state;

    if (x == NULL)
        return;
    gpu_stop(x);
    rp_gpu_close(x->g);
    pthread_cond_destroy(&x->cond);
    pthread_mutex_destroy(&x->lock);
    free(x->cache_dir);
    free(x);
}

/* Asks the thread to open the device. Lock held. */
static void
request(struct gpu_exec *x)
{
    if (x->want && !x->requested) {
        x->requested = true;
        pthread_cond_broadcast(&x->cond);
    }
}

void
rp__exec_gpu_info(void *state, bool open, rp_gpu_info *out)
{
    struct gpu_exec *x = state;

    memset(out, 0, sizeof *out);
    if (x == NULL)
        return;
    pthread_mutex_lock(&x->lock);
    if (open)
        request(x);
    out->state = x->state;
    if (x->state == RP_GPU_READY && rp_gpu_unusable(x->g) != NULL) {
        x->state = out->state = RP_GPU_UNAVAILABLE;
        snprintf(x->why, sizeof x->why, "%s", rp_gpu_unusable(x->g));
    }
    if (x->g != NULL) {
        snprintf(out->name, sizeof out->name, "%s", rp_gpu_device_name(x->g));
        snprintf(out->type, sizeof out->type, "%s", rp_gpu_device_type(x->g));
        out->capacity = rp_gpu_capacity(x->g);
    }
    snprintf(out->why, sizeof out->why, "%s", x->why);
    pthread_mutex_unlock(&x->lock);
    out->tasks = atomic_load_explicit(&x->tasks, memory_order_relaxed);
    out->kernels = atomic_load_explicit(&x->kernels, memory_order_relaxed);
}

/* The device for tensor ops: only once open and while usable. */
rp_gpu *
rp__engine_gpu(rp__engine *e, bool wait, double *link_gbs)
{
    struct gpu_exec *x = rp__engine_exec_state(e, RP__EXEC_GPU);
    rp_gpu *g = NULL;
    struct timespec until;

    *link_gbs = 0;
    if (x == NULL)
        return NULL;
    pthread_mutex_lock(&x->lock);
    if (wait && x->state == RP_GPU_OPENING) {
        request(x);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 5;
        while (x->state == RP_GPU_OPENING)
            if (pthread_cond_timedwait(&x->cond, &x->lock, &until) != 0)
                break;
    }
    if (x->state == RP_GPU_READY && rp_gpu_unusable(x->g) == NULL) {
        g = x->g;
        *link_gbs = x->link_gbs;
    }
    pthread_mutex_unlock(&x->lock);
    return g;
}

void
rp__engine_gpu_count_kernel(rp__engine *e)
{
    struct gpu_exec *x = rp__engine_exec_state(e, RP__EXEC_GPU);

    if (x != NULL)
        atomic_fetch_add_explicit(&x->kernels, 1, memory_order_relaxed);
}

void
rp__outcome_free_outputs(struct rp__outcome *o)
{
    for (unsigned i = 0; i < o->noutputs; i++)
        free(o->outputs[i].data);
    free(o->outputs);
    o->outputs = NULL;
    o->noutputs = 0;
}

const rp__exec_ops rp__exec_gpu = {
    .name = "gpu",
    .start = gpu_start,
    .submit = gpu_submit,
    .cancel = gpu_cancel,
    .peek = NULL,
    .capacity = gpu_capacity,
    .stats = gpu_stats,
    .stop = gpu_stop,
};
