/*
 * simd_vec.h (internal) -- the kernels of engine/simd/simd.h written once
 * for any vector width. A variant's file defines the vector type and the
 * operations below, then includes this file and names its table:
 *
 *   VF, VL            vector of floats, and its lanes
 *   LOADU(p), STOREU(p, v), SET1(x), ZERO()
 *   ADD, SUB, MUL, DIV, MAXV, MINV(a, b), FMA(a, b, c) = a * b + c
 *   NANMASK(v)        a vector marking v's NaN lanes; ORMASK(m, m2) joins
 *                     two; ANYBITS(m) says whether any lane is marked
 *   HSUM(v)           the sum of v's lanes, pairwise
 *   HMAX(v), HMIN(v)  the largest / smallest lane
 *   OPS_NAME, ISA     the table's C name and its name string
 *
 *   EXP(v)            e^v per lane (see simd.h)
 *   GEMM_MR, GEMM_NV  gemm's register tile (simd_gemm.h)
 *   RELU(z, v)        optional: max(0, v) with NaN and -0 kept
 *
 * Tails (n not a multiple of VL) run as plain C on the same formulas
 * (EXP's scalar twin: EXP1).
 */
#include <math.h>

/* max(0, v) keeping NaN and -0; on x86 max(0, v) does (the second operand
 * wins on unordered and on equal), so it is the default. */
#ifndef RELU
#define RELU(z, v) MAXV((z), (v))
#endif

static void
k_add(float *out, const float *a, const float *b, size_t n)
{
    size_t i = 0;
    for (; i + VL <= n; i += VL)
        STOREU(out + i, ADD(LOADU(a + i), LOADU(b + i)));
    for (; i < n; i++)
        out[i] = a[i] + b[i];
}

static void
k_sub(float *out, const float *a, const float *b, size_t n)
{
    size_t i = 0;
    for (; i + VL <= n; i += VL)
        STOREU(out + i, SUB(LOADU(a + i), LOADU(b + i)));
    for (; i < n; i++)
        out[i] = a[i] - b[i];
}

static void
k_mul(float *out, const float *a, const float *b, size_t n)
{
    size_t i = 0;
    for (; i + VL <= n; i += VL)
        STOREU(out + i, MUL(LOADU(a + i), LOADU(b + i)));
    for (; i < n; i++)
        out[i] = a[i] * b[i];
}

static void
k_div(float *out, const float *a, const float *b, size_t n)
{
    size_t i = 0;
    for (; i + VL <= n; i += VL)
        STOREU(out + i, DIV(LOADU(a + i), LOADU(b + i)));
    for (; i < n; i++)
        out[i] = a[i] / b[i];
}

static void
k_scale(float *out, const float *a, float s, size_t n)
{
    VF vs = SET1(s);
    size_t i = 0;
    for (; i + VL <= n; i += VL)
        STOREU(out + i, MUL(LOADU(a + i), vs));
    for (; i < n; i++)
        out[i] = a[i] * s;
}

static void
k_axpy(float *y, float alpha, const float *x, size_t n)
{
    VF va = SET1(alpha);
    size_t i = 0;
    for (; i + VL <= n; i += VL)
        STOREU(y + i, FMA(va, LOADU(x + i), LOADU(y + i)));
    for (; i < n; i++)
        y[i] = FMA1(alpha, x[i], y[i]);
}

static void
k_relu(float *out, const float *a, size_t n)
{
    VF z = ZERO();
    size_t i = 0;
    for (; i + VL <= n; i += VL) {
        VF v = LOADU(a + i);
        STOREU(out + i, RELU(z, v));
    }
    for (; i < n; i++)          /* as max(0, x) does: NaN and -0 stay */
        out[i] = a[i] > 0.0f || a[i] == 0.0f || isnan(a[i]) ? a[i] : 0.0f;
}

static float
k_dot(const float *a, const float *b, size_t n)
{
    VF acc[RP__SIMD_ACC];
    size_t i = 0;
    float s;

#pragma GCC unroll 8
    for (int k = 0; k < RP__SIMD_ACC; k++)
        acc[k] = ZERO();
    for (; i + RP__SIMD_ACC * VL <= n; i += RP__SIMD_ACC * VL) {
        /* Unrolled, so that the accumulators stay in registers (-O2 does
         * not unroll by itself). */
#pragma GCC unroll 8
        for (int k = 0; k < RP__SIMD_ACC; k++)
            acc[k] = FMA(LOADU(a + i + k * VL), LOADU(b + i + k * VL), acc[k]);
    }
    for (; i + VL <= n; i += VL)
        acc[0] = FMA(LOADU(a + i), LOADU(b + i), acc[0]);
    s = HSUM(ADD(ADD(ADD(acc[0], acc[1]), ADD(acc[2], acc[3])),
                 ADD(ADD(acc[4], acc[5]), ADD(acc[6], acc[7]))));
    for (; i < n; i++)
        s = FMA1(a[i], b[i], s);
    return s;
}

static float
k_sum(const float *a, size_t n)
{
    VF acc[RP__SIMD_ACC];
    size_t i = 0;
    float s;

#pragma GCC unroll 8
    for (int k = 0; k < RP__SIMD_ACC; k++)
        acc[k] = ZERO();
    for (; i + RP__SIMD_ACC * VL <= n; i += RP__SIMD_ACC * VL) {
#pragma GCC unroll 8
        for (int k = 0; k < RP__SIMD_ACC; k++)
            acc[k] = ADD(acc[k], LOADU(a + i + k * VL));
    }
    for (; i + VL <= n; i += VL)
        acc[0] = ADD(acc[0], LOADU(a + i));
    s = HSUM(ADD(ADD(ADD(acc[0], acc[1]), ADD(acc[2], acc[3])),
                 ADD(ADD(acc[4], acc[5]), ADD(acc[6], acc[7]))));
    for (; i < n; i++)
        s += a[i];
    return s;
}

/* min/max: NaN anywhere gives NaN; an empty array gives NaN too. One
 * body for both: VOP picks lanes, BETTER(x, m) says x beats m. */
#define K_EXTREME(name, VOP, HOP, START, BETTER)                             \
    static float name(const float *a, size_t n)                               \
    {                                                                         \
        size_t i = 0;                                                         \
        float m = (START);                                                    \
        if (n == 0)                                                           \
            return NAN;                                                       \
        if (n >= VL) {                                                        \
            VF vm = LOADU(a), nan = NANMASK(vm);                              \
            for (i = VL; i + VL <= n; i += VL) {                              \
                VF v = LOADU(a + i);                                          \
                nan = ORMASK(nan, NANMASK(v));                                \
                vm = VOP(vm, v);                                              \
            }                                                                 \
            if (ANYBITS(nan))                                                 \
                return NAN;                                                   \
            m = HOP(vm);                                                      \
        }                                                                     \
        for (; i < n; i++) {                                                  \
            if (isnan(a[i]))                                                  \
                return NAN;                                                   \
            m = BETTER(a[i], m) ? a[i] : m;                                   \
        }                                                                     \
        return m;                                                             \
    }
#define K_GT(x, m) ((x) > (m))
#define K_LT(x, m) ((x) < (m))
K_EXTREME(k_max, MAXV, HMAX, -INFINITY, K_GT)
K_EXTREME(k_min, MINV, HMIN, INFINITY, K_LT)

/* The first index of the maximum (of the first NaN if there is one);
 * (size_t)-1 for an empty array. */
static size_t
k_argmax(const float *a, size_t n)
{
    float m = k_max(a, n);

    if (n == 0)
        return (size_t)-1;
    for (size_t i = 0; i < n; i++)
        if (isnan(m) ? isnan(a[i]) : a[i] == m)
            return i;
    return 0;                       /* not reached */
}

/* out = exp(a - max) / sum: numerically stable. A NaN, or an infinity
 * (inf - inf), gives NaN where it goes. */
static void
k_softmax(float *out, const float *a, size_t n)
{
    float m, s;
    size_t i = 0;

    if (n == 0)
        return;
    m = k_max(a, n);
    {
        VF vm = SET1(m);
        for (; i + VL <= n; i += VL)
            STOREU(out + i, EXP(SUB(LOADU(a + i), vm)));
        for (; i < n; i++)
            out[i] = EXP1(a[i] - m);
    }
    s = k_sum(out, n);
    k_scale(out, out, 1.0f / s, n);
}

#include "engine/simd/simd_gemm.h"

const struct rp__simd_ops OPS_NAME = {
    .name = ISA,
    .add = k_add,
    .sub = k_sub,
    .mul = k_mul,
    .div = k_div,
    .scale = k_scale,
    .axpy = k_axpy,
    .relu = k_relu,
    .dot = k_dot,
    .sum = k_sum,
    .min = k_min,
    .max = k_max,
    .argmax = k_argmax,
    .softmax = k_softmax,
    .transpose = k_transpose,
    .gemm = k_gemm,
    .gemm_mr = GEMM_MR,
    .gemm_nr = GEMM_NR,
};
