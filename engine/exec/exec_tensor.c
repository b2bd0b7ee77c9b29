/*
 * exec_tensor.c -- the tensor executor (include/repartir/tensor.h): float32
 * tensors, ops that run the SIMD kernels of engine/simd/ over a pool, the
 * choice of backend, and tensor tasks.
 *
 * Design:
 *   - Backend: plain C below scalar_max elements, else the SIMD kernels,
 *     or the pool's GPU (engine/gpu/) for ops it has a kernel for when the
 *     CPU time on the threads the op would have exceeds gpu_ratio x the
 *     time to move its data at the link rate the device measured, or
 *     whenever a tensor task asks for it (backend GPU). A CPU device
 *     (lavapipe) is used only when asked; a GPU that fails an op hands it
 *     back to the CPU, saying why. Remote applies to tensor tasks, which
 *     the engine places (jobs.c), not to ops on this process's memory.
 *   - The thresholds are measured once, at the first op: where the SIMD
 *     add overtakes plain C, both kernels' matmul rate, and a pool's
 *     rp_parallel_for round trip (at the first op given a pool). An op is
 *     split over the pool when its estimated single-thread time exceeds
 *     parallel_min_ns (20 round trips, so that splitting costs < 5%).
 *   - Splits never change results: element-wise ops are exact; sum and
 *     dot add fixed blocks of RBLOCK elements, then the blocks' sums in
 *     order, whether one thread or many ran them; matmul cuts C into tiles
 *     of whole register tiles, each computed as the whole product computes
 *     it (engine/simd/simd_gemm.h).
 *   - Tensor tasks run as function tasks do (exec_function.c calls
 *     rp__tensor_task_run on a pool worker), their ops split over the same
 *     pool by work stealing; their description is "kind": "tensor" with
 *     "tensor": "OP:DIMS@SEED" (task_codec.c), so they are stored,
 *     recovered and restored like process tasks.
 *
 * THREADS: the limits are guarded by `limits_lock` (the measuring runs once,
 * under pthread_once); everything else is per call.
 */
#include "engine/engine.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/alloc.h"
#include "engine/clock.h"
#include "engine/pool.h"
#include "engine/gpu/kernels.h"
#include "engine/simd/simd.h"

#define RBLOCK ((size_t)1 << 16)    /* elements per block of sum and dot */
/* Tensor tasks this big prefer a remote worker: at 10M elements the work
 * (tens of ms) dwarfs a round trip (docs/tensor.md). */
#define REMOTE_MIN_DEFAULT ((size_t)10 * 1000 * 1000)

struct rp_tensor {
    float *data;
    size_t rows, cols;
    unsigned ndim;
    bool owned;
};

/* ---- tensors ---- */

static rp_tensor *
tensor_make(float *data, size_t rows, size_t cols, unsigned ndim)
{
    rp_tensor *t;
    bool own = data == NULL;

    if (rows == 0 || cols == 0 || rows > RP_TENSOR_MAX_ELEMENTS / cols)
        return NULL;
    if (own) {
        size_t bytes = (rows * cols * sizeof(float) + 63) & ~(size_t)63;
        data = aligned_alloc(64, bytes);       /* a user's size: no abort */
        if (data == NULL)
            return NULL;
        memset(data, 0, bytes);
    }
    t = rp_xcalloc(1, sizeof *t);
    t->data = data;
    t->rows = rows;
    t->cols = cols;
    t->ndim = ndim;
    t->owned = own;
    return t;
}

rp_tensor *rp_tensor_new(size_t rows, size_t cols) { return tensor_make(NULL, rows, cols, 2); }
rp_tensor *rp_tensor_new_1d(size_t n) { return tensor_make(NULL, 1, n, 1); }

rp_tensor *
rp_tensor_wrap(float *data, size_t rows, size_t cols)
{
    return data == NULL ? NULL : tensor_make(data, rows, cols, 2);
}

rp_tensor *
rp_tensor_wrap_1d(float *data, size_t n)
{
    return data == NULL ? NULL : tensor_make(data, 1, n, 1);
}

void
rp_tensor_free(rp_tensor *t)
{
    if (t == NULL)
        return;
    if (t->owned)
        free(t->data);
    free(t);
}

float *rp_tensor_data(const rp_tensor *t) { return t->data; }
unsigned rp_tensor_ndim(const rp_tensor *t) { return t->ndim; }
size_t rp_tensor_rows(const rp_tensor *t) { return t->rows; }
size_t rp_tensor_cols(const rp_tensor *t) { return t->cols; }
size_t rp_tensor_size(const rp_tensor *t) { return t->rows * t->cols; }

const char *
rp_tensor_backend_name(rp_tensor_backend b)
{
    static const char *const names[] = { "scalar", "simd", "gpu", "remote" };

    return (unsigned)b < sizeof names / sizeof names[0] ? names[b] : "unknown";
}

/* ---- the thresholds ---- */

static pthread_mutex_t limits_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t limits_once = PTHREAD_ONCE_INIT;
static rp_tensor_limits limits;     /* limits_lock */
static bool limits_user;            /* limits_lock: set by the caller */
static double simd_ns_per_elem;     /* limits_lock: the SIMD add, in cache */

static uint64_t
best_ns(void (*fn)(void *), void *arg, int reps)
{
    uint64_t best = UINT64_MAX;

    for (int r = 0; r < reps; r++) {
        uint64_t t0 = rp__now_ns();
        fn(arg);
        uint64_t dt = rp__now_ns() - t0;
        best = dt < best ? dt : best;
    }
    return best;
}

struct probe {
    const struct rp__simd_ops *o;
    float *a, *b, *c;
    size_t n, loops;
};

static void
probe_add(void *arg)
{
    struct probe *p = arg;

    for (size_t l = 0; l < p->loops; l++)
        p->o->add(p->c, p->a, p->b, p->n);
}

static void
probe_gemm(void *arg)
{
    struct probe *p = arg;

    p->o->gemm(p->n, p->n, p->n, p->a, p->n, p->b, p->n, p->c, p->n);
}

/* Where SIMD overtakes plain C, and both matmul rates: about 5 ms. */
static void
measure(void)
{
    enum { N = 4096, G = 128 };
    float *a = rp_xcalloc(G * G, sizeof *a), *b = rp_xcalloc(G * G, sizeof *b);
    float *c = rp_xcalloc(G * G, sizeof *c);
    struct probe p = { .a = a, .b = b, .c = c };
    const struct rp__simd_ops *simd = rp__simd(), *plain = &rp__simd_scalar;
    size_t scalar_max = 0;

    for (size_t i = 0; i < G * G; i++) {
        a[i] = (float)(i % 7) - 3.0f;
        b[i] = (float)(i % 5) - 2.0f;
    }
    for (size_t n = 8; n <= N; n *= 2) {
        uint64_t ts, tv;
        p.n = n;
        p.loops = 1 + 32768 / n;
        p.o = plain;
        ts = best_ns(probe_add, &p, 5);
        p.o = simd;
        tv = best_ns(probe_add, &p, 5);
        if (ts <= tv)
            scalar_max = n * 2;     /* plain C still as fast at n */
        if (n == N)
            simd_ns_per_elem = (double)tv / (double)(p.loops * n);
    }
    p.n = G;
    p.o = simd;
    limits.simd_gflops = 2.0 * G * G * G / (double)best_ns(probe_gemm, &p, 3);
    p.n = G / 2;
    p.o = plain;
    limits.scalar_gflops = 2.0 * (G / 2) * (G / 2) * (G / 2) / (double)best_ns(probe_gemm, &p, 3);
    limits.scalar_max = simd == plain ? SIZE_MAX : scalar_max;
    limits.measured = true;
    free(a);
    free(b);
    free(c);
}

static void
limits_init(void)
{
    pthread_mutex_lock(&limits_lock);
    if (!limits_user) {
        limits.remote_min = REMOTE_MIN_DEFAULT;
        limits.gpu_ratio = 5.0;
        limits.gpu_link_gbs = 25.0;       /* PCIe 4.0 x16, until a GPU measures its own */
        limits.parallel_min_ns = 50e3;    /* until a pool is measured */
        measure();
    }
    pthread_mutex_unlock(&limits_lock);
}

static void
empty_body(size_t lo, size_t hi, void *ctx)
{
    (void)lo;
    (void)hi;
    (void)ctx;
}

static void
probe_split(void *arg)
{
    rp_parallel_for(arg, 0, 2, 1, empty_body, NULL);
}

/* The limits, measuring the pool's round trip the first time one comes. */
static rp_tensor_limits
limits_for(rp_pool *pool)
{
    rp_tensor_limits l;
    bool need;

    pthread_once(&limits_once, limits_init);
    pthread_mutex_lock(&limits_lock);
    need = pool != NULL && limits.split_ns == 0 && !limits_user;
    pthread_mutex_unlock(&limits_lock);
    if (need) {
        double ns = (double)best_ns(probe_split, pool, 20);
        pthread_mutex_lock(&limits_lock);
        if (limits.split_ns == 0 && !limits_user) {
            limits.split_ns = ns;
            limits.parallel_min_ns = 20 * ns > 20e3 ? 20 * ns : 20e3;
        }
        pthread_mutex_unlock(&limits_lock);
    }
    pthread_mutex_lock(&limits_lock);
    l = limits;
    pthread_mutex_unlock(&limits_lock);
    return l;
}

void
rp_tensor_limits_get(rp_tensor_limits *out)
{
    *out = limits_for(NULL);
}

rp_status
rp_tensor_limits_set(const rp_tensor_limits *in)
{
    if (in == NULL || !(in->gpu_ratio > 0) || !(in->gpu_link_gbs > 0) ||
        !(in->parallel_min_ns >= 0))
        return RP_ERR_INVALID;
    pthread_once(&limits_once, limits_init);
    pthread_mutex_lock(&limits_lock);
    limits.scalar_max = in->scalar_max;
    limits.parallel_min_ns = in->parallel_min_ns;
    limits.remote_min = in->remote_min;
    limits.gpu_ratio = in->gpu_ratio;
    limits.gpu_link_gbs = in->gpu_link_gbs;
    limits.measured = false;
    limits_user = true;
    pthread_mutex_unlock(&limits_lock);
    return RP_OK;
}

/* ---- choosing ---- */

/* A tensor task with backend GPU: its ops go to the GPU whatever their
 * size (set around the task's op on the worker running it). */
static _Thread_local bool force_gpu;
/* The engine of the pool running a tensor task, set around its op: a
 * task recovered while its pool is being made runs before the pool's
 * engine pointer is set, so rp__pool_engine cannot be read then. */
static _Thread_local rp__engine *task_engine;

struct plan {
    const struct rp__simd_ops *o;
    rp_pool *pool;                  /* NULL: one thread */
    rp_gpu *gpu;                    /* non-NULL: run it there */
    rp__engine *engine;
    size_t elements;
    double flops, bytes;
    rp_tensor_run run;
    uint64_t t0;                    /* when the op itself began */
    _Atomic size_t pieces;
};

/* elements: the op's inputs and outputs; flops and bytes: its work;
 * gpu_kernel: whether the GPU has a kernel for it. */
static void choose_backend(struct plan *p, rp_pool *pool, size_t elements, double flops,
                           double bytes, bool gpu_kernel);

/* Chooses, then starts the op's clock (the first op's measuring is not
 * its time). */
static void
choose(struct plan *p, rp_pool *pool, size_t elements, double flops, double bytes,
       bool gpu_kernel)
{
    choose_backend(p, pool, elements, flops, bytes, gpu_kernel);
    p->elements = elements;
    p->flops = flops;
    p->bytes = bytes;
    p->t0 = rp__now_ns();
}

/* The GPU part of the rule, written into note: the GPU when the op's CPU
 * time (compute_ns, on the threads it would have) exceeds gpu_ratio x the
 * time to move `bytes` over the link, at the rate the device measured as
 * it opened (else the limits' gpu_link_gbs). */
static rp_gpu *
choose_gpu(rp__engine *e, const rp_tensor_limits *l, double compute_ns, double bytes,
           bool gpu_kernel, char *note, size_t size)
{
    double link = 0, move_ns = bytes / l->gpu_link_gbs;
    bool wants = compute_ns > l->gpu_ratio * move_ns;
    rp_gpu *g;

    if (!gpu_kernel) {
        snprintf(note, size, "gpu: no kernel for this op");
        return NULL;
    }
    /* A GPU still opening is waited for only by an op that may want it. */
    g = e != NULL ? rp__engine_gpu(e, wants || force_gpu, &link) : NULL;
    if (link > 0)
        move_ns = bytes / link;
    if (g == NULL) {
        if (snprintf(note, size, "gpu: none open%s (compute %.0f us vs %.0f us to move, "
                     "needs > %gx)", force_gpu ? ", though the task asked for it" : "",
                     compute_ns / 1e3, move_ns / 1e3, l->gpu_ratio) >= (int)size)
            note[size - 1] = '\0';     /* cut: the note is for a person */
        return NULL;
    }
    if (force_gpu) {
        snprintf(note, size, "gpu: %s, as the task asked (backend gpu)", rp_gpu_device_name(g));
        return g;
    }
    if (rp__gpu_is_cpu(g)) {
        snprintf(note, size, "gpu: %s runs on these CPUs, so only when asked",
                 rp_gpu_device_name(g));
        return NULL;
    }
    if (compute_ns > l->gpu_ratio * move_ns) {
        snprintf(note, size, "gpu: %s, compute %.0f us > %gx the %.0f us to move at %.1f GB/s",
                 rp_gpu_device_name(g), compute_ns / 1e3, l->gpu_ratio, move_ns / 1e3,
                 bytes / move_ns);
        return g;
    }
    snprintf(note, size, "gpu: compute %.0f us vs %.0f us to move at %.1f GB/s, needs > %gx",
             compute_ns / 1e3, move_ns / 1e3, bytes / move_ns, l->gpu_ratio);
    return NULL;
}

/* After the op ran on the GPU with status st: true when it is done (the
 * run filled). Else the plan falls back to the CPU, saying why, and the
 * caller runs it there. Takes why. */
static void finish(struct plan *p, rp_tensor_run *run);

static bool
gpu_done(struct plan *p, rp_pool *pool, rp_status st, char *why, rp_tensor_run *run)
{
    char was[sizeof p->run.why];

    if (st == RP_OK) {
        free(why);
        p->run.pieces = 1;
        rp__engine_gpu_count_kernel(p->engine);
        finish(p, run);
        return true;
    }
    choose_backend(p, pool, p->elements, p->flops, p->bytes, false);
    snprintf(was, sizeof was, "%s", p->run.backend == RP_TENSOR_SCALAR ? "scalar" : "simd");
    if (snprintf(p->run.why, sizeof p->run.why, "gpu failed, so %s: %s: %s", was,
                 rp_strerror(st), why != NULL ? why : "") >= (int)sizeof p->run.why)
        p->run.why[sizeof p->run.why - 1] = '\0';  /* cut: the reason is for a person */
    free(why);
    return false;
}

static void
choose_backend(struct plan *p, rp_pool *pool, size_t elements, double flops, double bytes,
               bool gpu_kernel)
{
    char gpu_note[96];
    rp_tensor_limits l = limits_for(pool);
    double est_ns, gpu_compute;
    /* From the scheduler: a task recovered while the pool is being made
     * runs before rp__pool_engine(pool) is set. */
    unsigned workers = pool != NULL ? rp__pool_sched(pool)->nworkers : 1;
    int len;

    memset(&p->run, 0, sizeof p->run);
    atomic_init(&p->pieces, 0);
    p->run.flops = flops;
    p->pool = NULL;
    p->gpu = NULL;
    p->engine = task_engine != NULL ? task_engine : pool != NULL ? rp__pool_engine(pool) : NULL;
    p->run.threads = 1;
    if (elements < l.scalar_max && !(force_gpu && gpu_kernel)) {
        p->o = &rp__simd_scalar;
        p->run.backend = RP_TENSOR_SCALAR;
        snprintf(p->run.why, sizeof p->run.why,
                 "scalar: %zu elements < %zu, below which plain C is as fast%s", elements,
                 l.scalar_max, l.measured ? " (measured)" : " (set)");
        snprintf(p->run.isa, sizeof p->run.isa, "%s", p->o->name);
        return;
    }
    p->o = rp__simd();
    p->run.backend = RP_TENSOR_SIMD;
    snprintf(p->run.isa, sizeof p->run.isa, "%s", p->o->name);
    /* Single-thread time: the measured matmul rate for compute-bound
     * work, the measured add for streaming work; whichever is longer. */
    est_ns = flops / (l.simd_gflops > 0 ? l.simd_gflops : 1);
    if (bytes / 12.0 * simd_ns_per_elem > est_ns)
        est_ns = bytes / 12.0 * simd_ns_per_elem;
    /* the CPU's time on the threads it would have */
    gpu_compute = pool != NULL && workers > 1 && est_ns > l.parallel_min_ns ? est_ns / workers
                                                                            : est_ns;
    p->gpu = choose_gpu(p->engine, &l, gpu_compute, bytes, gpu_kernel, gpu_note,
                        sizeof gpu_note);
    if (p->gpu != NULL) {
        p->run.backend = RP_TENSOR_GPU;
        snprintf(p->run.isa, sizeof p->run.isa, "vulkan");
        snprintf(p->run.why, sizeof p->run.why, "%s", gpu_note);
        return;
    }
    len = snprintf(p->run.why, sizeof p->run.why, "simd: %zu elements >= %zu; %s", elements,
                   l.scalar_max, gpu_note);
    if (pool != NULL && workers > 1 && est_ns > l.parallel_min_ns) {
        p->pool = pool;
        p->run.threads = workers;
        if (len > 0 && (size_t)len < sizeof p->run.why)
            snprintf(p->run.why + len, sizeof p->run.why - (size_t)len,
                     "; split: %.0f us > %.0f us", est_ns / 1e3, l.parallel_min_ns / 1e3);
    }
}

static void
finish(struct plan *p, rp_tensor_run *run)
{
    p->run.elapsed_ns = rp__now_ns() - p->t0;
    p->run.pieces = atomic_load_explicit(&p->pieces, memory_order_relaxed);
    if (p->run.pieces == 0)
        p->run.pieces = 1;
    if (run != NULL)
        *run = p->run;
}

static void
count_piece(struct plan *p)
{
    atomic_fetch_add_explicit(&p->pieces, 1, memory_order_relaxed);
}

/* Pieces of a range of n: about 4 per thread, at least min_grain, a
 * multiple of `align` (a power of two). */
static size_t
grain_for(const struct plan *p, size_t n, size_t min_grain, size_t align)
{
    size_t g;

    if (p->pool == NULL)
        return n;
    g = n / (4 * (size_t)p->run.threads) + 1;
    g = (g + align - 1) & ~(align - 1);
    return g < min_grain ? min_grain : g;
}

/* body over [0, n) in chunks of `grain` (the last one takes the rest):
 * rp_parallel_for halves ranges, which would not keep a grain's
 * alignment, so it splits chunk indices instead. */
struct chunks {
    size_t n, grain;
    void (*body)(size_t lo, size_t hi, void *ctx);
    void *ctx;
};

static void
chunks_body(size_t lo, size_t hi, void *ctx)
{
    struct chunks *c = ctx;

    for (size_t i = lo; i < hi; i++) {
        size_t a = i * c->grain, b = i + 1 == c->n / c->grain ? c->n : a + c->grain;
        c->body(a, b, c->ctx);
    }
}

static void
split(rp_pool *pool, size_t n, size_t grain, void (*body)(size_t, size_t, void *), void *ctx)
{
    struct chunks c = { n, grain, body, ctx };

    if (pool == NULL || grain >= n)
        body(0, n, ctx);
    else
        rp_parallel_for(pool, 0, n / grain, 1, chunks_body, &c);
}

/* Whether two tensors' floats share memory. */
static bool
overlaps(const rp_tensor *x, const rp_tensor *y)
{
    const float *x1 = x->data + rp_tensor_size(x), *y1 = y->data + rp_tensor_size(y);

    return x->data < y1 && y->data < x1;
}

/* ---- element-wise ---- */

enum ew { EW_ADD, EW_SUB, EW_MUL, EW_DIV, EW_SCALE, EW_AXPY, EW_RELU };

struct ew_job {
    struct plan *p;
    enum ew op;
    float *out;
    const float *a, *b;
    float s;
};

static void
ew_body(size_t lo, size_t hi, void *ctx)
{
    struct ew_job *j = ctx;
    const struct rp__simd_ops *o = j->p->o;
    size_t n = hi - lo;

    count_piece(j->p);
    switch (j->op) {
    case EW_ADD: o->add(j->out + lo, j->a + lo, j->b + lo, n); break;
    case EW_SUB: o->sub(j->out + lo, j->a + lo, j->b + lo, n); break;
    case EW_MUL: o->mul(j->out + lo, j->a + lo, j->b + lo, n); break;
    case EW_DIV: o->div(j->out + lo, j->a + lo, j->b + lo, n); break;
    case EW_SCALE: o->scale(j->out + lo, j->a + lo, j->s, n); break;
    case EW_AXPY: o->axpy(j->out + lo, j->s, j->a + lo, n); break;
    case EW_RELU: o->relu(j->out + lo, j->a + lo, n); break;
    }
}

static rp_status
elementwise(rp_pool *pool, enum ew op, rp_tensor *out, const rp_tensor *a, const rp_tensor *b,
            float s, rp_tensor_run *run)
{
    struct plan p;
    struct ew_job j;
    size_t n;
    int inputs = op == EW_SCALE || op == EW_RELU ? 1 : 2;

    if (out == NULL || a == NULL || (inputs == 2 && op != EW_AXPY && b == NULL))
        return RP_ERR_INVALID;
    n = rp_tensor_size(a);
    if (rp_tensor_size(out) != n || (b != NULL && rp_tensor_size(b) != n))
        return RP_ERR_INVALID;
    choose(&p, pool, n, (double)n, (double)n * 4 * (inputs + 1),
           op == EW_ADD || op == EW_SUB || op == EW_MUL || op == EW_DIV || op == EW_AXPY);
    if (p.gpu != NULL) {
        char *why = NULL;
        rp_status st = op == EW_AXPY
                           ? rp__gpu_saxpy(p.gpu, s, a->data, out->data, n, &why)
                           : rp__gpu_ewise(p.gpu, "+-*/"[op - EW_ADD], out->data, a->data,
                                           b->data, n, &why);
        if (gpu_done(&p, pool, st, why, run))
            return RP_OK;
    }
    j = (struct ew_job){ .p = &p, .op = op, .out = out->data, .a = a->data,
                         .b = b != NULL ? b->data : NULL, .s = s };
    split(p.pool, n, grain_for(&p, n, 16384, 64), ew_body, &j);
    finish(&p, run);
    return RP_OK;
}

rp_status
rp_tensor_add(rp_pool *pool, rp_tensor *out, const rp_tensor *a, const rp_tensor *b,
              rp_tensor_run *run)
{
    return elementwise(pool, EW_ADD, out, a, b, 0, run);
}

rp_status
rp_tensor_sub(rp_pool *pool, rp_tensor *out, const rp_tensor *a, const rp_tensor *b,
              rp_tensor_run *run)
{
    return elementwise(pool, EW_SUB, out, a, b, 0, run);
}

rp_status
rp_tensor_mul(rp_pool *pool, rp_tensor *out, const rp_tensor *a, const rp_tensor *b,
              rp_tensor_run *run)
{
    return elementwise(pool, EW_MUL, out, a, b, 0, run);
}

rp_status
rp_tensor_div(rp_pool *pool, rp_tensor *out, const rp_tensor *a, const rp_tensor *b,
              rp_tensor_run *run)
{
    return elementwise(pool, EW_DIV, out, a, b, 0, run);
}

rp_status
rp_tensor_scale(rp_pool *pool, rp_tensor *out, const rp_tensor *a, float s, rp_tensor_run *run)
{
    return elementwise(pool, EW_SCALE, out, a, NULL, s, run);
}

rp_status
rp_tensor_axpy(rp_pool *pool, rp_tensor *y, float alpha, const rp_tensor *x, rp_tensor_run *run)
{
    return elementwise(pool, EW_AXPY, y, x, NULL, alpha, run);
}

rp_status
rp_tensor_relu(rp_pool *pool, rp_tensor *out, const rp_tensor *a, rp_tensor_run *run)
{
    return elementwise(pool, EW_RELU, out, a, NULL, 0, run);
}

/* ---- reductions: fixed blocks, summed in order ---- */

struct red_job {
    struct plan *p;
    const float *a, *b;             /* b NULL: sum */
    size_t n;
    float *partial;
};

static void
red_body(size_t lo, size_t hi, void *ctx)
{
    struct red_job *j = ctx;

    count_piece(j->p);
    for (size_t blk = lo; blk < hi; blk++) {
        size_t at = blk * RBLOCK, len = j->n - at < RBLOCK ? j->n - at : RBLOCK;
        j->partial[blk] = j->b != NULL ? j->p->o->dot(j->a + at, j->b + at, len)
                                       : j->p->o->sum(j->a + at, len);
    }
}

/* Pairwise over the blocks' sums: the same order for any split. */
static float
pairwise(const float *v, size_t n)
{
    if (n == 1)
        return v[0];
    return pairwise(v, n / 2) + pairwise(v + n / 2, n - n / 2);
}

static rp_status
reduce(rp_pool *pool, const rp_tensor *a, const rp_tensor *b, float *out, rp_tensor_run *run)
{
    struct plan p;
    struct red_job j;
    size_t n, blocks;
    float one;

    if (a == NULL || out == NULL || (b != NULL && rp_tensor_size(b) != rp_tensor_size(a)))
        return RP_ERR_INVALID;
    n = rp_tensor_size(a);
    blocks = (n + RBLOCK - 1) / RBLOCK;
    choose(&p, pool, n, (double)n * (b != NULL ? 2 : 1), (double)n * 4 * (b != NULL ? 2 : 1),
           true);
    if (p.gpu != NULL) {
        char *why = NULL;
        rp_status st = rp__gpu_reduce(p.gpu, a->data, b != NULL ? b->data : NULL, n, out, &why);
        if (gpu_done(&p, pool, st, why, run))
            return RP_OK;
    }
    j = (struct red_job){ .p = &p, .a = a->data, .b = b != NULL ? b->data : NULL, .n = n,
                          .partial = blocks == 1 ? &one : rp_xmalloc(blocks * sizeof(float)) };
    rp_parallel_for(p.pool, 0, blocks, grain_for(&p, blocks, 1, 1),
                    red_body, &j);
    *out = pairwise(j.partial, blocks);
    if (blocks != 1)
        free(j.partial);
    finish(&p, run);
    return RP_OK;
}

rp_status
rp_tensor_sum(rp_pool *pool, const rp_tensor *a, float *out, rp_tensor_run *run)
{
    return reduce(pool, a, NULL, out, run);
}

rp_status
rp_tensor_dot(rp_pool *pool, const rp_tensor *a, const rp_tensor *b, float *out,
              rp_tensor_run *run)
{
    if (b == NULL)
        return RP_ERR_INVALID;
    return reduce(pool, a, b, out, run);
}

/* ---- softmax (rows) and transpose (row blocks) ---- */

struct rows_job {
    struct plan *p;
    float *out;
    const float *a;
    size_t rows, cols;
};

static void
softmax_body(size_t lo, size_t hi, void *ctx)
{
    struct rows_job *j = ctx;

    count_piece(j->p);
    for (size_t r = lo; r < hi; r++)
        j->p->o->softmax(j->out + r * j->cols, j->a + r * j->cols, j->cols);
}

rp_status
rp_tensor_softmax(rp_pool *pool, rp_tensor *out, const rp_tensor *a, rp_tensor_run *run)
{
    struct plan p;
    struct rows_job j;
    size_t n;

    if (out == NULL || a == NULL || out->rows != a->rows || out->cols != a->cols)
        return RP_ERR_INVALID;
    n = rp_tensor_size(a);
    choose(&p, pool, n, (double)n * 12, (double)n * 8, true);
    if (p.gpu != NULL) {
        char *why = NULL;
        rp_status st = rp__gpu_softmax(p.gpu, out->data, a->data, a->rows, a->cols, &why);
        if (gpu_done(&p, pool, st, why, run))
            return RP_OK;
    }
    j = (struct rows_job){ .p = &p, .out = out->data, .a = a->data, .rows = a->rows,
                           .cols = a->cols };
    rp_parallel_for(p.pool, 0, a->rows, grain_for(&p, a->rows, 1, 1), softmax_body, &j);
    finish(&p, run);
    return RP_OK;
}

static void
transpose_body(size_t lo, size_t hi, void *ctx)
{
    struct rows_job *j = ctx;

    count_piece(j->p);
    /* rows lo..hi of a are columns lo..hi of out */
    j->p->o->transpose(j->out + lo, j->rows, j->a + lo * j->cols, j->cols, hi - lo, j->cols);
}

rp_status
rp_tensor_transpose(rp_pool *pool, rp_tensor *out, const rp_tensor *a, rp_tensor_run *run)
{
    struct plan p;
    struct rows_job j;
    size_t n;

    if (out == NULL || a == NULL || out->rows != a->cols || out->cols != a->rows ||
        overlaps(out, a))
        return RP_ERR_INVALID;
    n = rp_tensor_size(a);
    choose(&p, pool, n, 0, (double)n * 8, false);
    j = (struct rows_job){ .p = &p, .out = out->data, .a = a->data, .rows = a->rows,
                           .cols = a->cols };
    /* Whole 32-row squares per piece, so that pieces never share a line of out. */
    split(p.pool, a->rows, grain_for(&p, a->rows, 32, 32), transpose_body, &j);
    finish(&p, run);
    return RP_OK;
}

/* ---- matmul: tiles of C ---- */

struct mm_job {
    struct plan *p;
    const float *a, *b;
    float *c;
    size_t m, n, k, tm, tn, ct;     /* ct: tiles across */
};

static void
mm_body(size_t lo, size_t hi, void *ctx)
{
    struct mm_job *j = ctx;

    count_piece(j->p);
    for (size_t t = lo; t < hi; t++) {
        size_t i0 = t / j->ct * j->tm, j0 = t % j->ct * j->tn;
        size_t mt = j->m - i0 < j->tm ? j->m - i0 : j->tm;
        size_t nt = j->n - j0 < j->tn ? j->n - j0 : j->tn;
        j->p->o->gemm(mt, nt, j->k, j->a + i0 * j->k, j->k, j->b + j0, j->n,
                      j->c + i0 * j->n + j0, j->n);
    }
}

static size_t
round_up(size_t v, size_t to)
{
    return (v + to - 1) / to * to;
}

rp_status
rp_tensor_matmul(rp_pool *pool, rp_tensor *c, const rp_tensor *a, const rp_tensor *b,
                 rp_tensor_run *run)
{
    struct plan p;
    struct mm_job j;
    size_t m, n, k, rt, tiles;

    if (c == NULL || a == NULL || b == NULL)
        return RP_ERR_INVALID;
    m = a->rows;
    k = a->cols;
    n = b->cols;
    if (b->rows != k || c->rows != m || c->cols != n || overlaps(c, a) || overlaps(c, b))
        return RP_ERR_INVALID;
    choose(&p, pool, m * k + k * n + m * n, 2.0 * (double)m * (double)n * (double)k,
           4.0 * (double)(m * k + k * n + m * n), true);
    if (p.gpu != NULL) {
        char *why = NULL;
        rp_status st = rp__gpu_sgemm(p.gpu, m, n, k, a->data, b->data, c->data, &why);
        if (gpu_done(&p, pool, st, why, run))
            return RP_OK;
    }
    j = (struct mm_job){ .p = &p, .a = a->data, .b = b->data, .c = c->data,
                         .m = m, .n = n, .k = k, .tm = m, .tn = n, .ct = 1 };
    if (p.pool != NULL) {
        /* About 2 tiles per thread: rows first (each tile packs all of B
         * once, each more tile of columns packs A again), in whole
         * register tiles. */
        size_t target = 2 * (size_t)p.run.threads, mr = p.o->gemm_mr, nr = p.o->gemm_nr;
        rt = (m + mr - 1) / mr < target ? (m + mr - 1) / mr : target;
        j.tm = round_up((m + rt - 1) / rt, mr);
        rt = (m + j.tm - 1) / j.tm;
        if (rt < target) {
            size_t ct = target / rt, most = (n + nr - 1) / nr;
            ct = ct < most ? ct : most;
            j.tn = round_up((n + ct - 1) / ct, nr);
        }
        j.ct = (n + j.tn - 1) / j.tn;
    }
    tiles = ((m + j.tm - 1) / j.tm) * j.ct;
    rp_parallel_for(p.pool, 0, tiles, 1, mm_body, &j);
    finish(&p, run);
    return RP_OK;
}

/* ---- tensor tasks ---- */

enum top { OP_MATMUL, OP_ADD, OP_MUL, OP_AXPY, OP_RELU, OP_SOFTMAX, OP_SUM, OP_DOT, OP_TRANSPOSE };

static const struct {
    const char *name;
    unsigned min_dims, max_dims;
} ops_table[] = {
    [OP_MATMUL] = { "matmul", 3, 3 },   [OP_ADD] = { "add", 1, 2 },
    [OP_MUL] = { "mul", 1, 2 },         [OP_AXPY] = { "axpy", 1, 2 },
    [OP_RELU] = { "relu", 1, 2 },       [OP_SOFTMAX] = { "softmax", 1, 2 },
    [OP_SUM] = { "sum", 1, 2 },         [OP_DOT] = { "dot", 1, 2 },
    [OP_TRANSPOSE] = { "transpose", 2, 2 },
};
#define NOPS (sizeof ops_table / sizeof ops_table[0])

struct tspec {
    enum top op;
    unsigned ndims;
    size_t d[3];
    uint64_t seed;
};

/* "OP:DIMS[@SEED]" -> *s; false with *why (malloc'd) on a bad one. */
static bool
tspec_parse(const char *text, struct tspec *s, char **why)
{
    const char *colon = strchr(text, ':'), *p;
    size_t oplen;
    double total = 0;

    memset(s, 0, sizeof *s);
    s->seed = 1;
    if (colon == NULL) {
        *why = rp__sprintf("'%s': expected OP:DIMS, e.g. matmul:1024x1024x1024", text);
        return false;
    }
    oplen = (size_t)(colon - text);
    s->op = NOPS;
    for (size_t i = 0; i < NOPS; i++)
        if (strlen(ops_table[i].name) == oplen && strncmp(text, ops_table[i].name, oplen) == 0)
            s->op = (enum top)i;
    if (s->op == NOPS) {
        *why = rp__sprintf("'%.*s' is not a tensor op (matmul, add, mul, axpy, relu, softmax, "
                           "sum, dot, transpose)", (int)oplen, text);
        return false;
    }
    p = colon + 1;
    for (;;) {
        char *end;
        unsigned long long v;
        if (*p < '0' || *p > '9' || s->ndims == 3)
            goto bad_dims;
        errno = 0;
        v = strtoull(p, &end, 10);
        if (errno != 0 || v == 0 || v > RP_TENSOR_MAX_ELEMENTS)
            goto bad_dims;
        s->d[s->ndims++] = (size_t)v;
        p = end;
        if (*p != 'x')
            break;
        p++;
    }
    if (*p == '@') {
        char *end;
        if (p[1] < '0' || p[1] > '9')
            goto bad_seed;
        errno = 0;
        s->seed = strtoull(p + 1, &end, 10);
        if (errno != 0 || *end != '\0')
            goto bad_seed;
    } else if (*p != '\0') {
        goto bad_dims;
    }
    if (s->ndims < ops_table[s->op].min_dims || s->ndims > ops_table[s->op].max_dims) {
        *why = rp__sprintf("%s takes %s", ops_table[s->op].name,
                           s->op == OP_MATMUL      ? "MxNxK"
                           : s->op == OP_TRANSPOSE ? "RxC"
                                                   : "N or RxC");
        return false;
    }
    /* Each tensor at most RP_TENSOR_MAX_ELEMENTS. */
    if (s->op == OP_MATMUL) {
        double m = (double)s->d[0], n = (double)s->d[1], k = (double)s->d[2];
        total = fmax(m * k, fmax(k * n, m * n));
    } else {
        total = s->ndims == 2 ? (double)s->d[0] * (double)s->d[1] : (double)s->d[0];
    }
    if (total > (double)RP_TENSOR_MAX_ELEMENTS) {
        *why = rp__sprintf("'%s': a tensor of %.3g elements is over the %zu this build takes",
                           text, total, RP_TENSOR_MAX_ELEMENTS);
        return false;
    }
    return true;
bad_dims:
    *why = rp__sprintf("'%s': dimensions are whole numbers from 1, joined by 'x'", text);
    return false;
bad_seed:
    *why = rp__sprintf("'%s': the seed after '@' is a whole number", text);
    return false;
}

/* The inputs: reproducible from the seed (splitmix64), in [-1, 1). */
static void
fill_seeded(float *v, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;

    for (size_t i = 0; i < n; i++) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        v[i] = (float)((double)(z >> 40) / (double)(1u << 23) - 1.0);
    }
}

/* The elements the task itself holds. */
static double
tspec_elements(const struct tspec *s)
{
    if (s->op == OP_MATMUL)
        return (double)s->d[0] * s->d[2] + (double)s->d[2] * s->d[1] + (double)s->d[0] * s->d[1];
    return s->ndims == 2 ? (double)s->d[0] * s->d[1] : (double)s->d[0];
}

size_t
rp__tensor_remote_min(void)
{
    size_t v;

    pthread_mutex_lock(&limits_lock);
    v = limits_user ? limits.remote_min : REMOTE_MIN_DEFAULT;
    pthread_mutex_unlock(&limits_lock);
    return v;
}

static int
task_not_called(void *arg)
{
    (void)arg;
    return 1;       /* exec_function.c runs tensor tasks through rp__tensor_task_run */
}

rp_task *
rp_task_new_tensor(const char *text, char **why)
{
    struct tspec s;
    char *w = NULL, *norm;
    rp_task *t;

    if (why != NULL)
        *why = NULL;
    if (text == NULL || !tspec_parse(text, &s, &w)) {
        if (why != NULL)
            *why = w != NULL ? w : rp_xstrdup("no tensor spec");
        else
            free(w);
        return NULL;
    }
    norm = s.ndims == 3   ? rp__sprintf("%s:%zux%zux%zu@%" PRIu64, ops_table[s.op].name, s.d[0],
                                        s.d[1], s.d[2], s.seed)
           : s.ndims == 2 ? rp__sprintf("%s:%zux%zu@%" PRIu64, ops_table[s.op].name, s.d[0],
                                        s.d[1], s.seed)
                          : rp__sprintf("%s:%zu@%" PRIu64, ops_table[s.op].name, s.d[0], s.seed);
    t = rp_task_new_fn(task_not_called, NULL);
    t->tensor = norm;
    t->tensor_elements = (size_t)tspec_elements(&s);
    return t;
}

struct trun {
    struct tspec s;
    rp_tensor *a, *b, *c;
    float scalar;                   /* sum and dot */
    rp_tensor_run run;
};

static double
checksum(const rp_tensor *t)
{
    double s = 0;

    for (size_t i = 0; i < rp_tensor_size(t); i++)
        s += t->data[i];
    return s;
}

/* A sample of the output against double precision: NULL if all agree,
 * else what is off (malloc'd). */
static char *
verify(const struct trun *r)
{
    const struct tspec *s = &r->s;
    const float *a = r->a->data, *b = r->b != NULL ? r->b->data : NULL;
    size_t n = rp_tensor_size(r->a);
    uint64_t x = s->seed | 1;

    if (s->op == OP_SUM || s->op == OP_DOT) {
        double e = 0, mag = 0;
        for (size_t i = 0; i < n; i++) {
            double term = s->op == OP_SUM ? a[i] : (double)a[i] * b[i];
            e += term;
            mag += fabs(term);
        }
        /* blocks of RBLOCK summed by the kernel's bound, then pairwise */
        if (fabs(r->scalar - e) > ((double)RBLOCK / 8 + 64) * 0x1p-24 * mag + 1e-30)
            return rp__sprintf("the %s is %.9g, double precision says %.9g",
                               ops_table[s->op].name, r->scalar, e);
        return NULL;
    }
    for (int k = 0; k < 64; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (s->op == OP_MATMUL) {
            size_t m = s->d[0], nn = s->d[1], kk = s->d[2], i = x % m, j = (x >> 20) % nn;
            double e = 0, mag = 0;
            for (size_t p = 0; p < kk; p++) {
                e += (double)a[i * kk + p] * b[p * nn + j];
                mag += fabs((double)a[i * kk + p] * b[p * nn + j]);
            }
            if (fabs(r->c->data[i * nn + j] - e) > ((double)kk + 2) * 0x1p-24 * mag + 1e-30)
                return rp__sprintf("C[%zu][%zu] is %.9g, double precision says %.9g", i, j,
                                   r->c->data[i * nn + j], e);
        } else if (s->op == OP_TRANSPOSE) {
            size_t rows = s->d[0], cols = s->d[1], i = x % rows, j = (x >> 20) % cols;
            if (r->c->data[j * rows + i] != a[i * cols + j])
                return rp__sprintf("out[%zu][%zu] is not a[%zu][%zu]", j, i, i, j);
        } else if (s->op == OP_SOFTMAX) {
            size_t cols = r->a->cols, row = x % r->a->rows;
            const float *in = a + row * cols, *out = r->c->data + row * cols;
            double mx = -INFINITY, sum = 0;
            for (size_t j = 0; j < cols; j++)
                mx = fmax(mx, in[j]);
            for (size_t j = 0; j < cols; j++)
                sum += exp((double)in[j] - mx);
            for (size_t j = 0; j < cols; j++) {
                double e = exp((double)in[j] - mx) / sum;
                if (fabs(out[j] - e) > ((double)cols / 8 + 16) * 0x1p-23 * e + 1e-30)
                    return rp__sprintf("row %zu, element %zu is %.9g, double precision says "
                                       "%.9g", row, j, out[j], e);
            }
        } else {
            size_t i = x % n;
            double e = s->op == OP_ADD    ? (double)a[i] + b[i]
                       : s->op == OP_MUL  ? (double)a[i] * b[i]
                       : s->op == OP_AXPY ? 0.5 * a[i] + b[i]
                                          : fmax(0.0, a[i]);
            float got = r->c->data[i];
            if (fabs(got - e) > 0x1p-24 * fabs(e) * 2 + 1e-30)
                return rp__sprintf("element %zu is %.9g, double precision says %.9g", i, got, e);
        }
    }
    return NULL;
}

/* Runs one op of r on pool. */
static rp_status
trun_op(rp_pool *pool, struct trun *r)
{
    switch (r->s.op) {
    case OP_MATMUL: return rp_tensor_matmul(pool, r->c, r->a, r->b, &r->run);
    case OP_ADD: return rp_tensor_add(pool, r->c, r->a, r->b, &r->run);
    case OP_MUL: return rp_tensor_mul(pool, r->c, r->a, r->b, &r->run);
    case OP_AXPY:
        /* c = b, then c += 0.5 a: the task's y is its second input */
        memcpy(r->c->data, r->b->data, rp_tensor_size(r->b) * sizeof(float));
        return rp_tensor_axpy(pool, r->c, 0.5f, r->a, &r->run);
    case OP_RELU: return rp_tensor_relu(pool, r->c, r->a, &r->run);
    case OP_SOFTMAX: return rp_tensor_softmax(pool, r->c, r->a, &r->run);
    case OP_SUM: return rp_tensor_sum(pool, r->a, &r->scalar, &r->run);
    case OP_DOT: return rp_tensor_dot(pool, r->a, r->b, &r->scalar, &r->run);
    case OP_TRANSPOSE: return rp_tensor_transpose(pool, r->c, r->a, &r->run);
    }
    return RP_ERR_INVALID;
}

static rp_tensor *
shaped(const struct tspec *s, size_t rows, size_t cols)
{
    return s->ndims == 1 ? rp_tensor_new_1d(rows * cols) : rp_tensor_new(rows, cols);
}

void
rp__tensor_task_run(rp_pool *pool, rp__engine *e, const char *text, bool gpu,
                    struct rp__outcome *o)
{
    struct trun r;
    char *why = NULL, *bad = NULL;
    size_t rows, cols;
    bool two;
    rp_status st;

    memset(&r, 0, sizeof r);
    o->end = RP__END_EXITED;
    o->exit_code = 1;
    if (!tspec_parse(text, &r.s, &why)) {
        o->error = why;
        return;
    }
    two = r.s.op == OP_MATMUL || r.s.op == OP_ADD || r.s.op == OP_MUL || r.s.op == OP_AXPY ||
          r.s.op == OP_DOT;
    if (r.s.op == OP_MATMUL) {
        r.a = rp_tensor_new(r.s.d[0], r.s.d[2]);
        r.b = rp_tensor_new(r.s.d[2], r.s.d[1]);
        r.c = rp_tensor_new(r.s.d[0], r.s.d[1]);
    } else {
        rows = r.s.ndims == 2 ? r.s.d[0] : 1;
        cols = r.s.ndims == 2 ? r.s.d[1] : r.s.d[0];
        r.a = shaped(&r.s, rows, cols);
        r.b = two ? shaped(&r.s, rows, cols) : NULL;
        r.c = r.s.op == OP_SUM || r.s.op == OP_DOT ? NULL
              : r.s.op == OP_TRANSPOSE             ? rp_tensor_new(cols, rows)
                                                   : shaped(&r.s, rows, cols);
    }
    if (r.a == NULL || (two && r.b == NULL) ||
        (r.c == NULL && r.s.op != OP_SUM && r.s.op != OP_DOT)) {
        o->error = rp__sprintf("cannot allocate the %.0f MiB its tensors take",
                               tspec_elements(&r.s) * 4 / 1048576.0);
        goto out;
    }
    fill_seeded(r.a->data, rp_tensor_size(r.a), r.s.seed);
    if (r.b != NULL)
        fill_seeded(r.b->data, rp_tensor_size(r.b), r.s.seed + 1);
    force_gpu = gpu;
    task_engine = e;
    st = trun_op(pool, &r);
    force_gpu = false;
    task_engine = NULL;
    if (st != RP_OK) {
        o->error = rp__sprintf("the op failed: %s", rp_strerror(st));
        goto out;
    }
    bad = verify(&r);
    {
        double ms = (double)r.run.elapsed_ns / 1e6;
        double rate = r.s.op == OP_MATMUL ? r.run.flops / (double)r.run.elapsed_ns
                                          : tspec_elements(&r.s) * 4 / (double)r.run.elapsed_ns;
        char *text_out = rp__sprintf(
            "tensor %s: %s (%s), %u thread%s, %zu piece%s, %.3f ms, %.2f %s\n"
            "chose %s\n"
            "%s %.9g; %s\n",
            text, rp_tensor_backend_name(r.run.backend), r.run.isa, r.run.threads,
            r.run.threads == 1 ? "" : "s", r.run.pieces, r.run.pieces == 1 ? "" : "s", ms, rate,
            r.s.op == OP_MATMUL ? "GFLOP/s" : "GB/s", r.run.why,
            r.c != NULL ? "checksum" : "result", r.c != NULL ? checksum(r.c) : (double)r.scalar,
            bad != NULL ? "WRONG against double precision" : "checked against double precision");
        o->out.data = text_out;
        o->out.len = o->out.total = strlen(text_out);
    }
    if (bad != NULL) {
        o->error = rp__sprintf("wrong result: %s", bad);
        free(bad);
        goto out;
    }
    o->exit_code = 0;
out:
    rp_tensor_free(r.a);
    rp_tensor_free(r.b);
    rp_tensor_free(r.c);
}
