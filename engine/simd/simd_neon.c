/* simd_neon.c -- the kernels on AArch64 Advanced SIMD (NEON, 4 floats),
 * which every AArch64 core has: no extra -m flag, and simd.c still asks
 * the hwcap. Tested on x86 under qemu-user (make check-neon, mk/neon.mk). */
#include "engine/simd/simd.h"

#if defined(__aarch64__)   /* the whole file: an x86 build has no NEON */

#include <arm_neon.h>

typedef float32x4_t VF;
#define VL 4
#define LOADU(p) vld1q_f32(p)
#define STOREU(p, v) vst1q_f32((p), (v))
#define SET1(x) vdupq_n_f32(x)
#define ZERO() vdupq_n_f32(0.0f)
#define ADD(a, b) vaddq_f32((a), (b))
#define SUB(a, b) vsubq_f32((a), (b))
#define MUL(a, b) vmulq_f32((a), (b))
#define DIV(a, b) vdivq_f32((a), (b))
#define FMA(a, b, c) vfmaq_f32((c), (a), (b))   /* c + a * b, rounded once */
/* FMAX / FMIN give NaN on NaN (x86 gives the second operand); min and max
 * look for NaN on their own, and EXP puts it back, so either will do. */
#define MAXV(a, b) vmaxq_f32((a), (b))
#define MINV(a, b) vminq_f32((a), (b))
/* All-ones in NaN lanes (x != x), as a float vector so that it fits VF. */
#define NANMASK(v) vreinterpretq_f32_u32(vmvnq_u32(vceqq_f32((v), (v))))
#define ORMASK(a, b) vreinterpretq_f32_u32(                                     \
    vorrq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(b)))
#define ANYBITS(m) (vmaxvq_u32(vreinterpretq_u32_f32(m)) != 0)
#define FMA1(a, b, c) fmaf((a), (b), (c))   /* a single FMADD here */
/* FMAX(+0, -0) is +0 and FMAX(0, NaN) NaN: -0 would be lost. Zero only the
 * lanes below 0 (an ordered compare: NaN and -0 are not), keep the rest. */
#define RELU(z, v) vbslq_f32(vcltq_f32((v), (z)), (z), (v))
/* 8 x 12: 24 accumulators + 3 of B + 1 broadcast of the 32 q-registers. */
#define GEMM_MR 8
#define GEMM_NV 3
#define OPS_NAME rp__simd_neon
#define ISA "neon"

/* Lane sums, pairwise: (0 + 1) + (2 + 3), two FADDP spelled out rather
 * than left to vaddvq_f32, whose order ACLE does not state. */
static inline float
HSUM(float32x4_t v)
{
    float32x4_t p = vpaddq_f32(v, v);

    return vpadds_f32(vget_low_f32(p));
}

static inline float
HMAX(float32x4_t v)
{
    return vmaxvq_f32(v);
}

static inline float
HMIN(float32x4_t v)
{
    return vminvq_f32(v);
}

#define ROUND(v) vrndnq_f32(v)   /* to nearest, ties to even, as on x86 */
/* 2^n for whole n in [-127, 128]: n + 127 in the exponent bits. */
#define POW2(n) vreinterpretq_f32_s32(vshlq_n_s32(                              \
    vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127)), 23))
#define NANMASK_KEEP(v) NANMASK(v)
#define PUTNAN(v, m) ORMASK((v), (m))   /* all-ones bits: a NaN */
#include "engine/simd/simd_exp.h"

#include "engine/simd/simd_vec.h"

#else
typedef int rp__simd_no_neon;   /* ISO C wants something here */
#endif
