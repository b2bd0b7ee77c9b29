/* simd_avx512.c -- the kernels on AVX-512F (16 floats), built with
 * -mavx512f -mfma and run only where cpuid says so (simd.c). */
#include "engine/simd/simd.h"

#if defined(__x86_64__)   /* the whole file: an AArch64 build has no AVX-512 */

#include <immintrin.h>

typedef __m512 VF;
#define VL 16
#define LOADU(p) _mm512_loadu_ps(p)
#define STOREU(p, v) _mm512_storeu_ps((p), (v))
#define SET1(x) _mm512_set1_ps(x)
#define ZERO() _mm512_setzero_ps()
#define ADD(a, b) _mm512_add_ps((a), (b))
#define SUB(a, b) _mm512_sub_ps((a), (b))
#define MUL(a, b) _mm512_mul_ps((a), (b))
#define DIV(a, b) _mm512_div_ps((a), (b))
#define FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define MAXV(a, b) _mm512_max_ps((a), (b))
#define MINV(a, b) _mm512_min_ps((a), (b))
/* NaN lanes kept, others 0; joined by addition (NaN + anything = NaN). */
#define NANMASK(v) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((v), (v), _CMP_UNORD_Q), (v))
#define ORMASK(a, b) _mm512_add_ps((a), (b))
#define ANYBITS(m) (_mm512_cmp_ps_mask((m), (m), _CMP_UNORD_Q) != 0)
#define FMA1(a, b, c) fmaf((a), (b), (c))   /* a single FMA instruction here */
/* 6 x 64: 24 accumulators + 4 of B + 1 broadcast of the 32 zmm; KC
 * deeper than L1 holds measured best on Zen 4 (bench/RESULTS.md). */
#define GEMM_MR 6
#define GEMM_NV 4
#define GEMM_KC 384
#define OPS_NAME rp__simd_avx512
#define ISA "avx512"

/* Lane sums, pairwise: 16 -> 8 -> 4 -> 2 -> 1. */
static inline float
HSUM(__m512 v)
{
    __m256 lo = _mm512_castps512_ps256(v),
           hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    __m256 s = _mm256_add_ps(lo, hi);
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

static inline float
HMAX(__m512 v)
{
    return _mm512_reduce_max_ps(v);
}

static inline float
HMIN(__m512 v)
{
    return _mm512_reduce_min_ps(v);
}

#define ROUND(v) _mm512_roundscale_ps((v), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
/* 2^n for whole n in [-127, 128]: n + 127 in the exponent bits. */
#define POW2(n) _mm512_castsi512_ps(_mm512_slli_epi32(                                   \
    _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23))
#define NANMASK_KEEP(v) NANMASK(v)
#define PUTNAN(v, m) _mm512_add_ps((v), (m))   /* NaN lanes of m, 0 elsewhere */
#include "engine/simd/simd_exp.h"

#include "engine/simd/simd_vec.h"

#else
typedef int rp__simd_no_avx512;   /* ISO C wants something here */
#endif
