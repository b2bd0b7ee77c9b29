/* simd_avx2.c -- the kernels on AVX2 + FMA (8 floats), built with
 * -mavx2 -mfma and run only where cpuid says so (simd.c). */
#include "engine/simd/simd.h"

#if defined(__x86_64__)   /* the whole file: an AArch64 build has no AVX2 */

#include <immintrin.h>

typedef __m256 VF;
#define VL 8
#define LOADU(p) _mm256_loadu_ps(p)
#define STOREU(p, v) _mm256_storeu_ps((p), (v))
#define SET1(x) _mm256_set1_ps(x)
#define ZERO() _mm256_setzero_ps()
#define ADD(a, b) _mm256_add_ps((a), (b))
#define SUB(a, b) _mm256_sub_ps((a), (b))
#define MUL(a, b) _mm256_mul_ps((a), (b))
#define DIV(a, b) _mm256_div_ps((a), (b))
#define FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define MAXV(a, b) _mm256_max_ps((a), (b))
#define MINV(a, b) _mm256_min_ps((a), (b))
#define NANMASK(v) _mm256_cmp_ps((v), (v), _CMP_UNORD_Q)
#define ORMASK(a, b) _mm256_or_ps((a), (b))
#define ANYBITS(m) (_mm256_movemask_ps(m) != 0)
#define FMA1(a, b, c) fmaf((a), (b), (c))   /* a single FMA instruction here */
/* 6 x 16: 12 accumulators + 2 of B + 1 broadcast = 15 of the 16 ymm. */
#define GEMM_MR 6
#define GEMM_NV 2
#define OPS_NAME rp__simd_avx2
#define ISA "avx2"

/* Lane sums, pairwise: 8 -> 4 -> 2 -> 1. */
static inline float
HSUM(__m256 v)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

static inline float
HMAX(__m256 v)
{
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    x = _mm_max_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

static inline float
HMIN(__m256 v)
{
    __m128 x = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_min_ps(x, _mm_movehl_ps(x, x));
    x = _mm_min_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

#define ROUND(v) _mm256_round_ps((v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
/* 2^n for whole n in [-127, 128]: n + 127 in the exponent bits. */
#define POW2(n) _mm256_castsi256_ps(_mm256_slli_epi32(                                   \
    _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23))
#define NANMASK_KEEP(v) _mm256_cmp_ps((v), (v), _CMP_UNORD_Q)
#define PUTNAN(v, m) _mm256_or_ps((v), (m))   /* all-ones bits: a NaN */
#include "engine/simd/simd_exp.h"

#include "engine/simd/simd_vec.h"

#else
typedef int rp__simd_no_avx2;   /* ISO C wants something here */
#endif
