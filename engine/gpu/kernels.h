/*
 * kernels.h (internal) -- the built-in kernels of kernels.c, for the
 * tensor executor, the benchmark and the tests: host-array calls that say
 * why they failed, and runs on buffers already on the device.
 */
#ifndef RP_ENGINE_GPU_KERNELS_H
#define RP_ENGINE_GPU_KERNELS_H

#include "engine/gpu/gpu.h"

enum rp__gpu_kernel {
    RP__GPU_K_SAXPY,        /* bufs x, y */
    RP__GPU_K_ADD,          /* bufs a, b, out (and SUB, MUL, DIV) */
    RP__GPU_K_SUB,
    RP__GPU_K_MUL,
    RP__GPU_K_DIV,
    RP__GPU_K_REDUCE,       /* bufs a, b, partials (rp__gpu_reduce_groups) */
    RP__GPU_K_SOFTMAX,      /* bufs a, out; m rows of n */
    RP__GPU_K_SGEMM,        /* bufs A, B, C; m, n, k (128 x 128 tiles, or
                               64 x 64 when those leave units idle) */
    RP__GPU_K_SGEMM64,      /* the 64 x 64 build: chosen by SGEMM */
    RP__GPU_K_COUNT
};

struct rp__gpu_args {
    size_t m, n, k;
    float alpha;
    uint32_t dot;
};

/* As the public calls, with *why (malloc'd, may be NULL) on error. */
rp_status rp__gpu_saxpy(rp_gpu *g, float alpha, const float *x, float *y, size_t n, char **why);
rp_status rp__gpu_ewise(rp_gpu *g, char op, float *out, const float *a, const float *b, size_t n,
                        char **why);
rp_status rp__gpu_reduce(rp_gpu *g, const float *a, const float *b, size_t n, float *out,
                         char **why);
rp_status rp__gpu_softmax(rp_gpu *g, float *out, const float *a, size_t rows, size_t cols,
                          char **why);
rp_status rp__gpu_sgemm(rp_gpu *g, size_t m, size_t n, size_t k, const float *a, const float *b,
                        float *c, char **why);

/* Records kernel k over bufs into batch b. */
rp_status rp__gpu_record(rp__gpu_batch *b, rp_gpu *g, enum rp__gpu_kernel k,
                         rp__gpu_buf *const *bufs, const struct rp__gpu_args *a, char **why);
/* Runs kernel k `reps` times (1..15) back to back on device buffers; the
 * GPU's time for all of them in *gpu_ns (0 if the device has no
 * timestamps). */
rp_status rp__gpu_run_dev(rp_gpu *g, enum rp__gpu_kernel k, rp__gpu_buf *const *bufs,
                          const struct rp__gpu_args *a, unsigned reps, uint64_t *gpu_ns /* OUT */,
                          char **why);
/* Host <-> device GB/s through the staging path, as ops see it (a 16 MiB
 * round trip, warm); 0 if it could not be measured. */
double rp__gpu_measure_link(rp_gpu *g);
/* The partial sums the reduce kernel writes for n elements. */
unsigned rp__gpu_reduce_groups(size_t n);

#endif /* RP_ENGINE_GPU_KERNELS_H */
