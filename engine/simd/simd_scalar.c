/* simd_scalar.c -- the kernels in plain C: a "vector" of one float, so
 * that the summation order matches the wider variants' (simd_vec.h). */
#include "engine/simd/simd.h"

#include <math.h>

typedef float VF;
#define VL 1
#define LOADU(p) (*(p))
#define STOREU(p, v) (*(p) = (v))
#define SET1(x) (x)
#define ZERO() 0.0f
#define ADD(a, b) ((a) + (b))
#define SUB(a, b) ((a) - (b))
#define MUL(a, b) ((a) * (b))
#define DIV(a, b) ((a) / (b))
/* a * b + c rounded twice: without FMA hardware fmaf is a library call,
 * 10x slower; the vector variants fuse (docs/simd.md). */
#define FMA(a, b, c) ((a) * (b) + (c))
#define FMA1(a, b, c) ((a) * (b) + (c))
#define MAXV(a, b) ((a) > (b) ? (a) : (b))   /* b on NaN, like x86 */
#define MINV(a, b) ((a) < (b) ? (a) : (b))
#define NANMASK(v) (isnan(v) ? 1.0f : 0.0f)
#define ORMASK(a, b) ((a) + (b))
#define ANYBITS(m) ((m) != 0.0f)
#define HSUM(v) (v)
#define HMAX(v) (v)
#define HMIN(v) (v)
#define EXP(v) expf(v)
#define EXP1(v) expf(v)
/* 4 x 4 scalars: 16 accumulators, as many as x86-64 has SSE registers. */
#define GEMM_MR 4
#define GEMM_NV 4
#define OPS_NAME rp__simd_scalar
#define ISA "scalar"

#include "engine/simd/simd_vec.h"
