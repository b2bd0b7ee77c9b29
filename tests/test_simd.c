/*
 * test_simd.c -- every kernel of engine/simd/ in every variant this CPU
 * runs (scalar, avx2, avx512), against plain C in float (element-wise
 * kernels: bit for bit, since IEEE rounds each operation exactly and FMA
 * once) or in double (reductions: within the bound docs/simd.md gives).
 * Sizes 0..70 (every tail) and random ones up to 10,000; pointers offset
 * by 0..3 floats (unaligned); values with NaN, +-Inf, denormals and -0
 * mixed in.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/simd/simd.h"
#include "tests/testing.h"

static const char *const isas[] = { "scalar", "avx2", "avx512" };

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* A value: mostly ordinary (-8..8), sometimes special when `special`. */
static float
value(bool special)
{
    uint32_t r = next() % 1000;

    if (special) {
        switch (r) {
        case 0: return NAN;
        case 1: return INFINITY;
        case 2: return -INFINITY;
        case 3: return -0.0f;
        case 4: return 1e-40f;          /* denormal */
        case 5: return -3e-39f;
        default: break;
        }
    }
    return ((float)(next() % 2000001) - 1000000.0f) / 125000.0f;
}

static void
fill(float *v, size_t n, bool special)
{
    for (size_t i = 0; i < n; i++)
        v[i] = value(special);
}

static bool
same(float a, float b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* The sizes: every one up to 70, then some random ones. */
static size_t
size_at(int k)
{
    return k <= 70 ? (size_t)k : 71 + next() % 10000;
}

#define ROUNDS 100

static void
each_isa(void (*check)(const struct rp__simd_ops *o, size_t n, unsigned off))
{
    int ran = 0;

    for (size_t s = 0; s < sizeof isas / sizeof isas[0]; s++) {
        const struct rp__simd_ops *o = rp__simd_named(isas[s]);
        if (o == NULL)
            continue;
        ran++;
        CU_ASSERT_STRING_EQUAL(o->name, isas[s]);
        for (int k = 0; k < ROUNDS; k++)
            check(o, size_at(k), (unsigned)(k % 4));
    }
    CU_ASSERT(ran >= 1);
}

static void
check_elementwise(const struct rp__simd_ops *o, size_t n, unsigned off)
{
    float *a = malloc((n + 4) * sizeof *a), *b = malloc((n + 4) * sizeof *b),
          *out = malloc((n + 4) * sizeof *out), *y = malloc((n + 4) * sizeof *y);
    float *pa = a + off, *pb = b + (3 - off), *po = out + (off + 1) % 4, *py = y + off;
    float s = value(false), alpha = value(false);
    size_t bad = 0;

    fill(pa, n, true);
    fill(pb, n, true);
    o->add(po, pa, pb, n);
    for (size_t i = 0; i < n; i++)
        bad += !same(po[i], pa[i] + pb[i]);
    o->sub(po, pa, pb, n);
    for (size_t i = 0; i < n; i++)
        bad += !same(po[i], pa[i] - pb[i]);
    o->mul(po, pa, pb, n);
    for (size_t i = 0; i < n; i++)
        bad += !same(po[i], pa[i] * pb[i]);
    o->div(po, pa, pb, n);
    for (size_t i = 0; i < n; i++)
        bad += !same(po[i], pa[i] / pb[i]);
    o->scale(po, pa, s, n);
    for (size_t i = 0; i < n; i++)
        bad += !same(po[i], pa[i] * s);
    memcpy(py, pb, n * sizeof *py);
    o->axpy(py, alpha, pa, n);
    for (size_t i = 0; i < n; i++) {
        /* Fused in the vector variants; in plain C, rounded twice. */
        float prod = alpha * pa[i];
        bad += !same(py[i], strcmp(o->name, "scalar") == 0 ? prod + pb[i]
                                                           : fmaf(alpha, pa[i], pb[i]));
    }
    o->relu(po, pa, n);
    for (size_t i = 0; i < n; i++)
        bad += !same(po[i], pa[i] > 0 || pa[i] == 0 || isnan(pa[i]) ? pa[i] : 0.0f);
    /* In place. */
    memcpy(po, pa, n * sizeof *po);
    o->add(po, po, pb, n);
    for (size_t i = 0; i < n; i++)
        bad += !same(po[i], pa[i] + pb[i]);
    if (bad != 0)
        CU_FAIL("an element-wise kernel differs from C");
    free(a);
    free(b);
    free(out);
    free(y);
}

static void
elementwise_kernels_match_c_bit_for_bit(void)
{
    each_isa(check_elementwise);
}

static void
check_reductions(const struct rp__simd_ops *o, size_t n, unsigned off)
{
    float *a = malloc((n + 4) * sizeof *a), *b = malloc((n + 4) * sizeof *b);
    float *pa = a + off, *pb = b + (3 - off);
    double exact = 0, mag = 0, sexact = 0, smag = 0, mn = INFINITY, mx = -INFINITY;
    const double eps = 0x1p-24, bound = (double)(n / RP__SIMD_ACC + 16) * eps;

    fill(pa, n, false);
    fill(pb, n, false);
    for (size_t i = 0; i < n; i++) {
        exact += (double)pa[i] * pb[i];
        mag += fabs((double)pa[i] * pb[i]);
        sexact += pa[i];
        smag += fabs(pa[i]);
        mn = pa[i] < mn ? pa[i] : mn;
        mx = pa[i] > mx ? pa[i] : mx;
    }
    CU_ASSERT(fabs((double)o->dot(pa, pb, n) - exact) <= bound * mag + 1e-30);
    CU_ASSERT(fabs((double)o->sum(pa, n) - sexact) <= bound * smag + 1e-30);
    if (n == 0) {
        CU_ASSERT(isnan(o->min(pa, n)) && isnan(o->max(pa, n)));
        CU_ASSERT_EQUAL(o->dot(pa, pb, 0), 0.0f);
    } else {
        CU_ASSERT_EQUAL((double)o->min(pa, n), mn);
        CU_ASSERT_EQUAL((double)o->max(pa, n), mx);
        /* One NaN anywhere: min, max, sum and dot say NaN. */
        size_t at = next() % n;
        float keep = pa[at];
        pa[at] = NAN;
        CU_ASSERT(isnan(o->min(pa, n)) && isnan(o->max(pa, n)));
        CU_ASSERT(isnan(o->sum(pa, n)) && isnan(o->dot(pa, pb, n)));
        /* +Inf and -Inf: the sum is NaN, the max +Inf. */
        pa[at] = INFINITY;
        CU_ASSERT(isinf(o->max(pa, n)) && o->max(pa, n) > 0);
        if (n > 1) {
            pa[(at + 1) % n] = -INFINITY;
            CU_ASSERT(isnan(o->sum(pa, n)));
            CU_ASSERT(isinf(o->min(pa, n)) && o->min(pa, n) < 0);
        }
        pa[at] = keep;
    }
    free(a);
    free(b);
}

static void
reductions_hold_their_error_bound_and_propagate_nan(void)
{
    each_isa(check_reductions);
}

static void
check_argmax_softmax(const struct rp__simd_ops *o, size_t n, unsigned off)
{
    float *a = malloc((n + 4) * sizeof *a), *out = malloc((n + 4) * sizeof *out);
    float *pa = a + off, *po = out + (off + 2) % 4;
    size_t want = (size_t)-1, bad = 0;
    double m = -INFINITY, s = 0;

    fill(pa, n, false);
    for (size_t i = 0; i < n; i++)
        pa[i] *= 4;                     /* -32..32: e^x spans 2^-92..2^46 */
    if (n > 3)
        pa[n / 2] = pa[n / 3];          /* a tie: the first one wins */
    for (size_t i = 0; i < n; i++)
        if (pa[i] > m) {
            m = pa[i];
            want = i;
        }
    CU_ASSERT_EQUAL(o->argmax(pa, n), want);
    o->softmax(po, pa, n);
    for (size_t i = 0; i < n; i++)
        s += exp((double)pa[i] - m);
    /* The sum's bound (docs/simd.md) plus a few roundings: exp (2 ulp),
     * 1/s and the product, and x - max rounded in float, which e^(.)
     * turns into a relative error of |x - max| ulp. */
    double tol = ((double)(n / RP__SIMD_ACC + 16) + 6) * 0x1p-24;
    for (size_t i = 0; i < n; i++) {
        double ref = exp((double)pa[i] - m) / s;
        double own = fabs((double)pa[i] - m) * 0x1p-24;
        bad += !(fabs(po[i] - ref) <= (tol + own) * ref + 1e-45);
    }
    if (bad != 0)
        CU_FAIL("softmax is off by more than its bound");
    if (n > 0) {
        size_t at = next() % n;
        pa[at] = NAN;
        CU_ASSERT_EQUAL(o->argmax(pa, n), at);
        o->softmax(po, pa, n);
        CU_ASSERT(isnan(po[at]));
    }
    free(a);
    free(out);
}

static void
argmax_and_softmax_match_double(void)
{
    each_isa(check_argmax_softmax);
}

/* Denormals are summed, not flushed (no FTZ/DAZ anywhere). */
static void
denormals_are_kept(void)
{
    float v[40];

    for (size_t i = 0; i < 40; i++)
        v[i] = 1e-40f;
    for (size_t s = 0; s < sizeof isas / sizeof isas[0]; s++) {
        const struct rp__simd_ops *o = rp__simd_named(isas[s]);
        if (o == NULL)
            continue;
        CU_ASSERT(fabsf(o->sum(v, 40) - 40 * 1e-40f) <= 1e-44f);
        CU_ASSERT(o->max(v, 40) == 1e-40f);
    }
}

static void
the_live_variant_is_one_of_them(void)
{
    const char *isa = rp_simd_isa();
    float a[3] = { 1, 2, 3 }, b[3] = { 4, 5, 6 }, out[3];

    CU_ASSERT(strcmp(isa, "scalar") == 0 || strcmp(isa, "avx2") == 0 ||
              strcmp(isa, "avx512") == 0);
    CU_ASSERT_PTR_NULL(rp__simd_named("sse9"));
    CU_ASSERT_PTR_NOT_NULL(rp__simd_named("scalar"));
    rp_simd_add(out, a, b, 3);
    CU_ASSERT(out[0] == 5 && out[1] == 7 && out[2] == 9);
    CU_ASSERT_EQUAL(rp_simd_dot(a, b, 3), 32.0f);
    rp_simd_axpy(out, 2.0f, a, 3);
    CU_ASSERT(out[0] == 7 && out[1] == 11 && out[2] == 15);
}

static const rp_test_case cases[] = {
    { "elementwise_kernels_match_c_bit_for_bit", elementwise_kernels_match_c_bit_for_bit },
    { "reductions_hold_their_error_bound_and_propagate_nan",
      reductions_hold_their_error_bound_and_propagate_nan },
    { "argmax_and_softmax_match_double", argmax_and_softmax_match_double },
    { "denormals_are_kept", denormals_are_kept },
    { "the_live_variant_is_one_of_them", the_live_variant_is_one_of_them },
    { NULL, NULL },
};

const rp_test_suite rp_test_suite_simd = { "simd", cases, false };
