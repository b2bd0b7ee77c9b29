/*
 * simd.h (internal) -- the float32 kernels behind include/repartir/simd.h:
 * one ops table per instruction set, picked once (cpuid, or
 * REPARTIR_SIMD=scalar|avx2|avx512), and every table reachable by name
 * so that tests and benchmarks can run each variant on one machine.
 *
 * Every kernel takes any length and any alignment. Reductions (dot, sum)
 * sum blockwise: RP__SIMD_ACC independent accumulators of the vector's
 * width, each summing every (RP__SIMD_ACC x width)-th term in order, then
 * the accumulators pairwise, then the tail in order. The error of each is
 * then at most about (n / (RP__SIMD_ACC x width) + log2(width) + 8) x
 * 2^-24 x sum |term| (tests/test_simd.c holds every variant to
 * (n / RP__SIMD_ACC + 16) x 2^-24 x sum |term|, the scalar one's).
 * min, max and argmax propagate NaN (the first NaN's index for argmax);
 * the sign of a zero they return is unspecified when +0 and -0 tie.
 * softmax subtracts the maximum first (no overflow), exponentiates with
 * EXP (libm's expf in C; a degree-6 polynomial after range reduction,
 * within 2 ulp, in the vector variants) and scales by 1 / the blocked sum.
 *
 * gemm is the GotoBLAS/BLIS design (simd_gemm.h): B is packed into
 * panels of NR columns and A into slivers of MR rows, k-major, blocked so
 * that a KC x NR sliver of B stays in L1 and an MC x KC block of A in L2;
 * an MR x NR register tile of C is the micro-kernel's, summed over k in
 * order with FMA (a * b + c rounded twice in the scalar variant). The
 * error of each element is at most about k x 2^-24 x sum |a_ip b_pj|.
 * Every element of C is the same function of its row of A and column of
 * B whatever the shape around it, so a tile computed alone (the tensor
 * executor's parallel split) equals the same tile of a whole product.
 */
#ifndef RP_ENGINE_SIMD_SIMD_H
#define RP_ENGINE_SIMD_SIMD_H

#include <stddef.h>

#define RP__SIMD_ACC 8             /* hides FMA latency: 4 cycles x 2 ports */

struct rp__simd_ops {
    const char *name;
    void (*add)(float *out, const float *a, const float *b, size_t n);
    void (*sub)(float *out, const float *a, const float *b, size_t n);
    void (*mul)(float *out, const float *a, const float *b, size_t n);
    void (*div)(float *out, const float *a, const float *b, size_t n);
    void (*scale)(float *out, const float *a, float s, size_t n);
    void (*axpy)(float *y, float alpha, const float *x, size_t n);
    void (*relu)(float *out, const float *a, size_t n);
    float (*dot)(const float *a, const float *b, size_t n);
    float (*sum)(const float *a, size_t n);
    float (*min)(const float *a, size_t n);
    float (*max)(const float *a, size_t n);
    size_t (*argmax)(const float *a, size_t n);
    void (*softmax)(float *out, const float *a, size_t n);
    /* out = a transposed: a is rows x cols with row stride lda, out is
     * cols x rows with row stride ldo (elements). */
    void (*transpose)(float *out, size_t ldo, const float *a, size_t lda, size_t rows,
                      size_t cols);
    /* C = A . B, row-major: A is m x k (row stride lda), B k x n (ldb), C
     * m x n (ldc); C is overwritten (zeroed when k is 0) and may not
     * overlap A or B. Packing buffers are per thread, kept between calls
     * (freed when the thread exits). */
    void (*gemm)(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
                 size_t ldb, float *c, size_t ldc);
    unsigned gemm_mr, gemm_nr;      /* the micro-kernel's register tile */
};

extern const struct rp__simd_ops rp__simd_scalar;
extern const struct rp__simd_ops rp__simd_avx2;
extern const struct rp__simd_ops rp__simd_avx512;
extern const struct rp__simd_ops rp__simd_neon;

/* Packing space for gemm: at least `floats` floats, 64-byte aligned,
 * owned by the calling thread (slot 0 for A, 1 for B). */
float *rp__simd_scratch(int slot, size_t floats);

/* The table in use: the best this CPU runs, or REPARTIR_SIMD's. */
const struct rp__simd_ops *rp__simd(void);
/* The table of that name if this CPU can run it, else NULL. */
const struct rp__simd_ops *rp__simd_named(const char *isa);

#endif /* RP_ENGINE_SIMD_SIMD_H */
