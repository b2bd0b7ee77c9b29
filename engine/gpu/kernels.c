/*
 * kernels.c -- the built-in kernels: the GLSL of shaders/, compiled to SPIR-V at
 * build time (glslangValidator) and embedded here; one pipeline each per
 * device, made at first use.
 *
 * Each public call is one batch: upload the inputs to pooled device
 * buffers, dispatch, download the output. The rp__gpu_*_dev calls run a
 * kernel on buffers already on the device, `reps` times, and time it with
 * GPU timestamps (bench/bench_gpu.c measures the kernels that way).
 */
#include "engine/gpu/kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/alloc.h"
#include "engine/clock.h"
#include "build_gen_shaders.h"      /* the embedded SPIR-V (Makefile) */

#define WG 256u                     /* every kernel's workgroup size */
#define TILE 128u                   /* sgemm's tile of C */
#define MAX_GROUPS 65535u
#define REDUCE_GROUPS 1024u
/* A built-in kernel is ours and ends; the bound is for a device that hangs
 * (a 4096^3 sgemm takes 15 s on lavapipe with 2 threads). */
#define KERNEL_TIMEOUT_MS (5u * 60 * 1000)

struct kernel_def {
    const uint32_t *code;
    size_t bytes;
    unsigned nbuf, push;
};

static const struct kernel_def kernels[RP__GPU_K_COUNT] = {
    [RP__GPU_K_SAXPY] = { rp__spv_saxpy, sizeof rp__spv_saxpy, 2, 8 },
    [RP__GPU_K_ADD] = { rp__spv_add, sizeof rp__spv_add, 3, 4 },
    [RP__GPU_K_SUB] = { rp__spv_sub, sizeof rp__spv_sub, 3, 4 },
    [RP__GPU_K_MUL] = { rp__spv_mul, sizeof rp__spv_mul, 3, 4 },
    [RP__GPU_K_DIV] = { rp__spv_div, sizeof rp__spv_div, 3, 4 },
    [RP__GPU_K_REDUCE] = { rp__spv_reduce, sizeof rp__spv_reduce, 3, 8 },
    [RP__GPU_K_SOFTMAX] = { rp__spv_softmax, sizeof rp__spv_softmax, 2, 8 },
    [RP__GPU_K_SGEMM] = { rp__spv_sgemm, sizeof rp__spv_sgemm, 3, 12 },
    [RP__GPU_K_SGEMM64] = { rp__spv_sgemm64, sizeof rp__spv_sgemm64, 3, 12 },
};

static rp_status
pipe_of(rp_gpu *g, enum rp__gpu_kernel k, rp__gpu_pipe **out, char **why)
{
    const struct kernel_def *d = &kernels[k];

    return rp__gpu_builtin(g, (unsigned)k, d->code, d->bytes, d->nbuf, d->push, out, why);
}

/* Groups for an element-wise pass over n floats: one vec4 per thread,
 * at most MAX_GROUPS (the shaders loop over the rest). */
static unsigned
stream_groups(size_t n)
{
    size_t g = (n / 4 + WG - 1) / WG;

    if (g == 0)
        g = 1;
    return g > MAX_GROUPS ? MAX_GROUPS : (unsigned)g;
}

/* Sizes the kernels take: n fits a uint, and the buffers one allocation. */
static rp_status
check_n(rp_gpu *g, size_t n, size_t elem_per_buf, char **why)
{
    if (n > UINT32_MAX) {
        rp__gpu_why(why, "%zu elements; the GPU kernels take at most %u", n, UINT32_MAX);
        return RP_ERR_INVALID;
    }
    if (elem_per_buf * sizeof(float) > rp__gpu_max_buffer(g)) {
        rp__gpu_why(why, "out of device memory: %zu MiB buffers; %s allows %llu MiB",
                    elem_per_buf * sizeof(float) >> 20, rp_gpu_device_name(g),
                    (unsigned long long)(rp__gpu_max_buffer(g) >> 20));
        return RP_ERR_NO_MEMORY;
    }
    return RP_OK;
}

/* Gets nbuf device buffers of the given float counts; on error puts back
 * those it got. */
static rp_status
get_bufs(rp_gpu *g, rp__gpu_buf **b, const size_t *count, unsigned nbuf, char **why)
{
    rp_status s = RP_OK;
    unsigned i;

    for (i = 0; i < nbuf && s == RP_OK; i++)
        s = rp__gpu_buf_get(g, (count[i] ? count[i] : 1) * sizeof(float), &b[i], why);
    if (s != RP_OK)
        while (i-- > 0)
            rp__gpu_buf_put(g, b[i]);
    return s;
}

static void
put_bufs(rp_gpu *g, rp__gpu_buf **b, unsigned nbuf)
{
    for (unsigned i = 0; i < nbuf; i++) {
        rp__gpu_buf_put(g, b[i]);
        b[i] = NULL;
    }
}

/* ---- recording one kernel ---- */

rp_status
rp__gpu_record(rp__gpu_batch *b, rp_gpu *g, enum rp__gpu_kernel k, rp__gpu_buf *const *bufs,
               const struct rp__gpu_args *a, char **why)
{
    rp__gpu_pipe *p;
    rp_status s;
    size_t sizes[3] = { 0, 0, 0 };
    unsigned gx = 1, gy = 1, tile = TILE;

    if (k == RP__GPU_K_SGEMM || k == RP__GPU_K_SGEMM64) {
        /* Fewer 128-tiles than compute units leave units idle: 64-tiles
         * give four times as many workgroups (on an H200, 1024^3 runs at
         * 0.69x cuBLAS that way against 0.43x; at 2048^3, with 256 tiles
         * for 132 units, 128-tiles are faster: 0.76x against 0.59x). */
        size_t tiles = ((a->m + TILE - 1) / TILE) * ((a->n + TILE - 1) / TILE);
        if (k == RP__GPU_K_SGEMM64 || tiles < (size_t)rp_gpu_capacity(g)) {
            k = RP__GPU_K_SGEMM64;
            tile = TILE / 2;
        }
    }
    s = pipe_of(g, k, &p, why);

    if (s != RP_OK)
        return s;
    switch (k) {
    case RP__GPU_K_SAXPY: {
        struct { uint32_t n; float alpha; } push = { (uint32_t)a->n, a->alpha };
        sizes[0] = sizes[1] = a->n * sizeof(float);
        return rp__gpu_batch_dispatch(b, p, bufs, sizes, &push, stream_groups(a->n), 1, 1,
                                      why);
    }
    case RP__GPU_K_ADD: case RP__GPU_K_SUB: case RP__GPU_K_MUL: case RP__GPU_K_DIV: {
        uint32_t push = (uint32_t)a->n;
        sizes[0] = sizes[1] = sizes[2] = a->n * sizeof(float);
        return rp__gpu_batch_dispatch(b, p, bufs, sizes, &push, stream_groups(a->n), 1, 1,
                                      why);
    }
    case RP__GPU_K_REDUCE: {
        struct { uint32_t n, dot; } push = { (uint32_t)a->n, a->dot };
        unsigned groups = rp__gpu_reduce_groups(a->n);
        sizes[0] = sizes[1] = a->n * sizeof(float);
        sizes[2] = groups * sizeof(float);
        return rp__gpu_batch_dispatch(b, p, bufs, sizes, &push, groups, 1, 1, why);
    }
    case RP__GPU_K_SOFTMAX: {
        struct { uint32_t rows, cols; } push = { (uint32_t)a->m, (uint32_t)a->n };
        sizes[0] = sizes[1] = a->m * a->n * sizeof(float);
        gx = a->m < MAX_GROUPS ? (unsigned)a->m : MAX_GROUPS;
        gy = (unsigned)((a->m + MAX_GROUPS - 1) / MAX_GROUPS);
        return rp__gpu_batch_dispatch(b, p, bufs, sizes, &push, gx, gy, 1, why);
    }
    case RP__GPU_K_SGEMM:
    case RP__GPU_K_SGEMM64: {
        struct { uint32_t m, n, k; } push = { (uint32_t)a->m, (uint32_t)a->n, (uint32_t)a->k };
        sizes[0] = a->m * a->k * sizeof(float);
        sizes[1] = a->k * a->n * sizeof(float);
        sizes[2] = a->m * a->n * sizeof(float);
        gx = (unsigned)((a->n + tile - 1) / tile);
        gy = (unsigned)((a->m + tile - 1) / tile);
        return rp__gpu_batch_dispatch(b, p, bufs, sizes, &push, gx, gy, 1, why);
    }
    default:
        return RP_ERR_INVALID;
    }
}

unsigned
rp__gpu_reduce_groups(size_t n)
{
    size_t g = (n / 4 + WG * 8 - 1) / (WG * 8);     /* at least 8 vec4s a thread */

    if (g == 0)
        g = 1;
    return g > REDUCE_GROUPS ? REDUCE_GROUPS : (unsigned)g;
}

/* ---- host arrays in, host arrays out ---- */

/* Runs kernel k on host arrays: in[i] (counts[i] floats) uploaded to
 * buffer i for i < nin, the rest of the nbuf buffers fresh; buffer `outb`
 * downloaded to out (out_count floats). */
static rp_status
run_host(rp_gpu *g, enum rp__gpu_kernel k, const struct rp__gpu_args *a, const float *const *in,
         const size_t *counts, unsigned nin, unsigned nbuf, unsigned outb, void *out,
         size_t out_bytes, char **why)
{
    rp__gpu_buf *bufs[3] = { NULL, NULL, NULL };
    rp__gpu_batch *b = NULL;
    rp_status s;

    if ((s = get_bufs(g, bufs, counts, nbuf, why)) != RP_OK)
        return s;
    if ((s = rp__gpu_batch_begin(g, &b, why)) != RP_OK)
        goto out;
    for (unsigned i = 0; i < nin && s == RP_OK; i++)
        s = rp__gpu_batch_upload(b, bufs[i], 0, in[i], counts[i] * sizeof(float), why);
    if (s == RP_OK)
        s = rp__gpu_record(b, g, k, bufs, a, why);
    if (s == RP_OK)
        s = rp__gpu_batch_download(b, bufs[outb], 0, out, out_bytes, why);
    if (s != RP_OK) {
        rp__gpu_batch_abort(b);
        goto out;
    }
    s = rp__gpu_batch_run(b, KERNEL_TIMEOUT_MS, NULL, why);
    if (s == RP_ERR_TIMEOUT) {
        /* the buffers stay with the hung device */
        return s;
    }
out:
    put_bufs(g, bufs, nbuf);
    return s;
}

rp_status
rp__gpu_saxpy(rp_gpu *g, float alpha, const float *x, float *y, size_t n, char **why)
{
    struct rp__gpu_args a = { .n = n, .alpha = alpha };
    const float *in[2] = { x, y };
    size_t counts[2] = { n, n };
    rp_status s;

    if (g == NULL || (n > 0 && (x == NULL || y == NULL)))
        return RP_ERR_INVALID;
    if (n == 0)
        return RP_OK;
    if ((s = check_n(g, n, n, why)) != RP_OK)
        return s;
    return run_host(g, RP__GPU_K_SAXPY, &a, in, counts, 2, 2, 1, y, n * sizeof(float), why);
}

rp_status
rp_gpu_saxpy(rp_gpu *g, float alpha, const float *x, float *y, size_t n)
{
    return rp__gpu_saxpy(g, alpha, x, y, n, NULL);
}

rp_status
rp__gpu_ewise(rp_gpu *g, char op, float *out, const float *x, const float *y, size_t n,
              char **why)
{
    enum rp__gpu_kernel k;
    struct rp__gpu_args a = { .n = n };
    const float *in[2] = { x, y };
    size_t counts[3] = { n, n, n };
    rp_status s;

    switch (op) {
    case '+': k = RP__GPU_K_ADD; break;
    case '-': k = RP__GPU_K_SUB; break;
    case '*': k = RP__GPU_K_MUL; break;
    case '/': k = RP__GPU_K_DIV; break;
    default:
        rp__gpu_why(why, "unknown element-wise op '%c'", op);
        return RP_ERR_INVALID;
    }
    if (g == NULL || (n > 0 && (x == NULL || y == NULL || out == NULL)))
        return RP_ERR_INVALID;
    if (n == 0)
        return RP_OK;
    if ((s = check_n(g, n, n, why)) != RP_OK)
        return s;
    return run_host(g, k, &a, in, counts, 2, 3, 2, out, n * sizeof(float), why);
}

rp_status
rp_gpu_ewise(rp_gpu *g, char op, float *out, const float *a, const float *b, size_t n)
{
    return rp__gpu_ewise(g, op, out, a, b, n, NULL);
}

rp_status
rp__gpu_reduce(rp_gpu *g, const float *x, const float *y, size_t n, float *out, char **why)
{
    struct rp__gpu_args a = { .n = n, .dot = y != NULL };
    const float *in[2] = { x, y };
    unsigned groups = rp__gpu_reduce_groups(n);
    size_t counts[3] = { n, y != NULL ? n : 1, groups };
    float partial[REDUCE_GROUPS];
    double sum = 0;
    rp_status s;

    if (g == NULL || out == NULL || (n > 0 && x == NULL))
        return RP_ERR_INVALID;
    *out = 0;
    if (n == 0)
        return RP_OK;
    if ((s = check_n(g, n, n, why)) != RP_OK)
        return s;
    /* a sum never reads b: its buffer is a token one */
    s = run_host(g, RP__GPU_K_REDUCE, &a, in, counts, y != NULL ? 2 : 1, 3, 2, partial,
                 groups * sizeof(float), why);
    if (s != RP_OK)
        return s;
    for (unsigned i = 0; i < groups; i++)
        sum += partial[i];
    *out = (float)sum;
    return RP_OK;
}

rp_status
rp_gpu_reduce(rp_gpu *g, const float *a, const float *b, size_t n, float *out)
{
    return rp__gpu_reduce(g, a, b, n, out, NULL);
}

rp_status
rp__gpu_softmax(rp_gpu *g, float *out, const float *x, size_t rows, size_t cols, char **why)
{
    struct rp__gpu_args a = { .m = rows, .n = cols };
    const float *in[1] = { x };
    size_t counts[2];
    rp_status s;

    if (g == NULL || (rows > 0 && cols > 0 && (x == NULL || out == NULL)))
        return RP_ERR_INVALID;
    if (rows == 0 || cols == 0)
        return RP_OK;
    if (cols > UINT32_MAX / rows || rows > (size_t)MAX_GROUPS * MAX_GROUPS) {
        rp__gpu_why(why, "%zu x %zu is too large for the GPU softmax", rows, cols);
        return RP_ERR_INVALID;
    }
    counts[0] = counts[1] = rows * cols;
    if ((s = check_n(g, rows * cols, rows * cols, why)) != RP_OK)
        return s;
    return run_host(g, RP__GPU_K_SOFTMAX, &a, in, counts, 1, 2, 1, out,
                    rows * cols * sizeof(float), why);
}

rp_status
rp_gpu_softmax(rp_gpu *g, float *out, const float *a, size_t rows, size_t cols)
{
    return rp__gpu_softmax(g, out, a, rows, cols, NULL);
}

rp_status
rp__gpu_sgemm(rp_gpu *g, size_t m, size_t n, size_t k, const float *A, const float *B, float *C,
              char **why)
{
    struct rp__gpu_args a = { .m = m, .n = n, .k = k };
    const float *in[2] = { A, B };
    size_t counts[3] = { m * k, k * n, m * n };
    size_t most;
    rp_status s;

    if (g == NULL || (m > 0 && n > 0 && (C == NULL || (k > 0 && (A == NULL || B == NULL)))))
        return RP_ERR_INVALID;
    if (m == 0 || n == 0)
        return RP_OK;
    if (k == 0) {
        memset(C, 0, m * n * sizeof(float));
        return RP_OK;
    }
    if (m > UINT32_MAX / k || k > UINT32_MAX / n || m > UINT32_MAX / n ||
        (m + TILE / 2 - 1) / (TILE / 2) > MAX_GROUPS ||
        (n + TILE / 2 - 1) / (TILE / 2) > MAX_GROUPS) {
        rp__gpu_why(why, "%zu x %zu x %zu is too large for the GPU sgemm", m, n, k);
        return RP_ERR_INVALID;
    }
    most = counts[0] > counts[1] ? counts[0] : counts[1];
    most = most > counts[2] ? most : counts[2];
    if ((s = check_n(g, most, most, why)) != RP_OK)
        return s;
    return run_host(g, RP__GPU_K_SGEMM, &a, in, counts, 2, 3, 2, C, m * n * sizeof(float),
                    why);
}

rp_status
rp_gpu_sgemm(rp_gpu *g, size_t m, size_t n, size_t k, const float *a, const float *b, float *c)
{
    return rp__gpu_sgemm(g, m, n, k, a, b, c, NULL);
}

/* ---- the link ---- */

double
rp__gpu_measure_link(rp_gpu *g)
{
    const size_t bytes = (size_t)16 << 20;
    char *host = rp_xmalloc(bytes);
    rp__gpu_buf *dev = NULL;
    double best = 0;

    memset(host, 1, bytes);
    if (rp__gpu_buf_get(g, bytes, &dev, NULL) == RP_OK) {
        /* the first trip takes the staging buffers from the driver; the
         * second reuses them, as ops in a running pool do */
        for (int trip = 0; trip < 2; trip++) {
            rp__gpu_batch *b;
            uint64_t t0 = rp__now_ns();
            if (rp__gpu_batch_begin(g, &b, NULL) != RP_OK)
                break;
            if (rp__gpu_batch_upload(b, dev, 0, host, bytes, NULL) != RP_OK ||
                rp__gpu_batch_download(b, dev, 0, host, bytes, NULL) != RP_OK) {
                rp__gpu_batch_abort(b);
                break;
            }
            if (rp__gpu_batch_run(b, KERNEL_TIMEOUT_MS, NULL, NULL) != RP_OK)
                break;
            best = 2.0 * bytes / (double)(rp__now_ns() - t0);
        }
        rp__gpu_buf_put(g, dev);
    }
    free(host);
    return best;
}

/* ---- on device buffers, timed ---- */

rp_status
rp__gpu_run_dev(rp_gpu *g, enum rp__gpu_kernel k, rp__gpu_buf *const *bufs,
                const struct rp__gpu_args *a, unsigned reps, uint64_t *gpu_ns, char **why)
{
    rp__gpu_batch *b;
    rp_status s;

    if (reps == 0 || reps > 15)
        return RP_ERR_INVALID;
    if ((s = rp__gpu_batch_begin(g, &b, why)) != RP_OK)
        return s;
    rp__gpu_batch_timestamp(b);
    for (unsigned r = 0; r < reps && s == RP_OK; r++)
        s = rp__gpu_record(b, g, k, bufs, a, why);
    rp__gpu_batch_timestamp(b);
    if (s != RP_OK) {
        rp__gpu_batch_abort(b);
        return s;
    }
    return rp__gpu_batch_run(b, KERNEL_TIMEOUT_MS, gpu_ns, why);
}
