/*
 * repartir/simd.h -- float32 kernels: any length (0 included), any
 * alignment; out may be one of the inputs. The instruction set is picked
 * once, at the first call: the best this CPU runs (AVX-512, AVX2+FMA, or
 * plain C; NEON on AArch64), or REPARTIR_SIMD=scalar|avx2|avx512|neon. docs/simd.md says how
 * reductions sum and what they guarantee.
 */
#ifndef REPARTIR_SIMD_H
#define REPARTIR_SIMD_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "avx512", "avx2", "neon", "scalar": the kernels in use. */
RP_API const char *rp_simd_isa(void);
RP_API void rp_simd_add(float *out, const float *a, const float *b, size_t n);
RP_API void rp_simd_mul(float *out, const float *a, const float *b, size_t n);
RP_API void rp_simd_axpy(float *y, float alpha, const float *x, size_t n);   /* y += alpha*x */
RP_API float rp_simd_dot(const float *a, const float *b, size_t n);
/* Row-major C[m x n] = A[m x k] . B[k x n]: packed, cache-blocked panels
 * and a register-tiled micro-kernel, on the calling thread (the tensor
 * executor splits it over a pool: repartir/tensor.h). C is overwritten
 * (zeros when k is 0) and must not overlap A or B. Each element is summed
 * over k in order (docs/simd.md gives the bound). */
RP_API void rp_simd_sgemm(size_t m, size_t n, size_t k, const float *a, const float *b, float *c);
/* Added: */
RP_API void rp_simd_sub(float *out, const float *a, const float *b, size_t n);
RP_API void rp_simd_div(float *out, const float *a, const float *b, size_t n);
RP_API void rp_simd_scale(float *out, const float *a, float s, size_t n);     /* out = s*a */
/* max(0, x): NaN stays NaN, -0 stays -0. */
RP_API void rp_simd_relu(float *out, const float *a, size_t n);
RP_API float rp_simd_sum(const float *a, size_t n);
/* NaN if any element is NaN, or if n is 0. */
RP_API float rp_simd_min(const float *a, size_t n);
RP_API float rp_simd_max(const float *a, size_t n);
/* The first index of the maximum, or of the first NaN; (size_t)-1 if n is 0. */
RP_API size_t rp_simd_argmax(const float *a, size_t n);
/* out = exp(a - max(a)) / sum: numerically stable; NaN or an infinity in a
 * gives NaN. Relative error within a few ulp (docs/simd.md). */
RP_API void rp_simd_softmax(float *out, const float *a, size_t n);
/* out[cols x rows] = a[rows x cols] transposed (row-major, dense); out
 * must not overlap a. */
RP_API void rp_simd_transpose(float *out, const float *a, size_t rows, size_t cols);

#ifdef __cplusplus
}
#endif

#endif /* REPARTIR_SIMD_H */
