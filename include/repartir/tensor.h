/*
 * repartir/tensor.h -- float32 tensors (1-D and 2-D, row-major) and the
 * tensor executor's ops: the SIMD kernels of repartir/simd.h, split over
 * a pool's workers with rp_parallel_for when the work is large enough,
 * on the backend the size calls for.
 *
 * Backends (rp_tensor_backend): an op runs in plain C below scalar_max
 * elements, on the SIMD kernels above; the GPU when its estimated compute
 * time exceeds gpu_ratio x the time to move its data there and a GPU is
 * open; a remote worker above remote_min elements when the pool has
 * workers (tensor *tasks* only: their description carries their inputs).
 * The thresholds are measured on this machine at the first op (a few
 * milliseconds), unless set with rp_tensor_limits_set; every op reports
 * what it chose and why in its rp_tensor_run.
 *
 * Results do not depend on the number of threads: element-wise ops are
 * exact, reductions sum fixed blocks in a fixed order, and matmul splits
 * C into tiles that the kernel computes bit for bit as the whole
 * (docs/tensor.md).
 *
 * THREADS: a tensor is not locked; ops on distinct tensors may run at
 * once, and any number of ops may read one tensor. Ops may be called from
 * any thread, pool workers included (a tensor task does).
 */
#ifndef REPARTIR_TENSOR_H
#define REPARTIR_TENSOR_H

#include "common.h"
#include "pool.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rp_tensor rp_tensor;

/* Largest tensor, in elements (16 GiB of floats). */
#define RP_TENSOR_MAX_ELEMENTS ((size_t)1 << 32)

/* An owned tensor of zeros, 64-byte aligned: rows x cols, or n for 1-D.
 * NULL if a dimension is 0, the size is over RP_TENSOR_MAX_ELEMENTS, or
 * the memory cannot be had. Free with rp_tensor_free. */
RP_API rp_tensor *rp_tensor_new(size_t rows, size_t cols);
RP_API rp_tensor *rp_tensor_new_1d(size_t n);
/* A tensor over the caller's data (borrowed: it must outlive the tensor,
 * which never frees it). NULL as above, or if data is NULL. */
RP_API rp_tensor *rp_tensor_wrap(float *data, size_t rows, size_t cols);
RP_API rp_tensor *rp_tensor_wrap_1d(float *data, size_t n);
/* Frees the tensor, and its data if it owns it. NULL is ignored. */
RP_API void rp_tensor_free(rp_tensor *t);
RP_API float *rp_tensor_data(const rp_tensor *t);
RP_API unsigned rp_tensor_ndim(const rp_tensor *t);     /* 1 or 2 */
RP_API size_t rp_tensor_rows(const rp_tensor *t);       /* 1 for a 1-D tensor */
RP_API size_t rp_tensor_cols(const rp_tensor *t);       /* n for a 1-D tensor */
RP_API size_t rp_tensor_size(const rp_tensor *t);       /* rows x cols */

typedef enum {
    RP_TENSOR_SCALAR,       /* plain C on the calling thread */
    RP_TENSOR_SIMD,         /* the SIMD kernels, split over the pool if large */
    RP_TENSOR_GPU,
    RP_TENSOR_REMOTE
} rp_tensor_backend;

/* "scalar", "simd", "gpu", "remote"; "unknown" for others. Static. */
RP_API const char *rp_tensor_backend_name(rp_tensor_backend b);

/* What one op did. */
typedef struct rp_tensor_run {
    rp_tensor_backend backend;
    char isa[16];           /* the kernels: "avx512", "avx2", "neon", "scalar" */
    unsigned threads;       /* workers that could take its pieces (1: the caller) */
    size_t pieces;          /* ranges or tiles it was split into */
    uint64_t elapsed_ns;
    double flops;           /* floating-point operations it did */
    char why[160];          /* the rule that chose the backend, for a person */
} rp_tensor_run;

/* The backend thresholds. */
typedef struct rp_tensor_limits {
    size_t scalar_max;      /* below this many elements: plain C */
    double parallel_min_ns; /* estimated single-thread time above which an
                               op splits over the pool */
    size_t remote_min;      /* tensor tasks of this many elements or more go
                               to a remote worker when the pool has one */
    double gpu_ratio;       /* GPU when compute > gpu_ratio x transfer */
    double gpu_link_gbs;    /* host <-> GPU bandwidth assumed, GB/s */
    /* read-only: what was measured at the first op */
    double simd_gflops;     /* the SIMD kernels' matmul, one thread */
    double scalar_gflops;   /* plain C's */
    double split_ns;        /* one rp_parallel_for round trip on a pool */
    bool measured;          /* false: every field came from rp_tensor_limits_set */
} rp_tensor_limits;

/* The thresholds in force (measured at the first call if not set). */
RP_API void rp_tensor_limits_get(rp_tensor_limits *out /* OUT */);
/* Sets them for the whole process (the read-only fields are ignored);
 * RP_ERR_INVALID if gpu_ratio or gpu_link_gbs is not positive. */
RP_API rp_status rp_tensor_limits_set(const rp_tensor_limits *in);

/*
 * The ops. pool: whose workers share large ops (NULL: the calling thread
 * only). run: filled with what the op did (may be NULL). Errors:
 * RP_ERR_INVALID (a NULL tensor, or shapes that do not fit). Element-wise
 * ops take any shapes of the same size; out may be an input. Nothing is
 * written on error.
 */
RP_API rp_status rp_tensor_add(rp_pool *pool, rp_tensor *out, const rp_tensor *a,
                               const rp_tensor *b, rp_tensor_run *run /* OUT */);
RP_API rp_status rp_tensor_sub(rp_pool *pool, rp_tensor *out, const rp_tensor *a,
                               const rp_tensor *b, rp_tensor_run *run /* OUT */);
RP_API rp_status rp_tensor_mul(rp_pool *pool, rp_tensor *out, const rp_tensor *a,
                               const rp_tensor *b, rp_tensor_run *run /* OUT */);
RP_API rp_status rp_tensor_div(rp_pool *pool, rp_tensor *out, const rp_tensor *a,
                               const rp_tensor *b, rp_tensor_run *run /* OUT */);
RP_API rp_status rp_tensor_scale(rp_pool *pool, rp_tensor *out, const rp_tensor *a, float s,
                                 rp_tensor_run *run /* OUT */);
/* y += alpha x */
RP_API rp_status rp_tensor_axpy(rp_pool *pool, rp_tensor *y, float alpha, const rp_tensor *x,
                                rp_tensor_run *run /* OUT */);
RP_API rp_status rp_tensor_relu(rp_pool *pool, rp_tensor *out, const rp_tensor *a,
                                rp_tensor_run *run /* OUT */);
/* Each row on its own (a 1-D tensor is one row); out may be a. */
RP_API rp_status rp_tensor_softmax(rp_pool *pool, rp_tensor *out, const rp_tensor *a,
                                   rp_tensor_run *run /* OUT */);
RP_API rp_status rp_tensor_sum(rp_pool *pool, const rp_tensor *a, float *out /* OUT */,
                               rp_tensor_run *run /* OUT */);
RP_API rp_status rp_tensor_dot(rp_pool *pool, const rp_tensor *a, const rp_tensor *b,
                               float *out /* OUT */, rp_tensor_run *run /* OUT */);
/* c[m x n] = a[m x k] . b[k x n]; c must not share memory with a or b. */
RP_API rp_status rp_tensor_matmul(rp_pool *pool, rp_tensor *c, const rp_tensor *a,
                                  const rp_tensor *b, rp_tensor_run *run /* OUT */);
/* out[cols x rows] = a transposed; out must not share memory with a. */
RP_API rp_status rp_tensor_transpose(rp_pool *pool, rp_tensor *out, const rp_tensor *a,
                                     rp_tensor_run *run /* OUT */);

/*
 * Tensor tasks: an op on inputs made from a seed, submitted like any task
 * (rp_submit), stored and recovered like a process task, and shown by the
 * CLI and the console. spec: "OP:DIMS[@SEED]", OP one of matmul (DIMS
 * MxNxK: C[MxN] = A[MxK] B[KxN]), add, mul, axpy, relu, softmax, sum, dot
 * (DIMS N or RxC), transpose (RxC). The task's stdout says the backend,
 * kernels, threads, time, rate and a checksum; it checks a sample of its
 * output against double precision and fails if one is off. NULL on a bad
 * spec, with *why (malloc'd; may be NULL) saying what is wrong.
 */
RP_API rp_task *rp_task_new_tensor(const char *spec, char **why /* OUT */);

#ifdef __cplusplus
}
#endif

#endif /* REPARTIR_TENSOR_H */
