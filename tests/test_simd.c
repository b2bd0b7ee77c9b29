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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/simd/simd.h"
#include "tests/testing.h"

static const char *const isas[] = { "scalar", "avx2", "avx512", "neon" };

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
    float *a = calloc(n + 4, sizeof *a), *out = calloc(n + 4, sizeof *out);
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

/* ---- transpose and gemm ---- */

/* C = A . B in double, and the bound on each element's error: summed
 * over k in order with FMA (twice rounded in C), each element is within
 * (k + 2) x 2^-24 x sum |a_ip b_pj| of the exact value. */
static void
gemm_reference(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b,
               size_t ldb, double *exact, double *mag)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double e = 0, g = 0;
            for (size_t p = 0; p < k; p++) {
                e += (double)a[i * lda + p] * b[p * ldb + j];
                g += fabs((double)a[i * lda + p] * b[p * ldb + j]);
            }
            exact[i * n + j] = e;
            mag[i * n + j] = g;
        }
}

/* One product of shape m x n x k with row strides padded by `pad`,
 * checked against double; C's padding must stay untouched. */
static void
gemm_shape(const struct rp__simd_ops *o, size_t m, size_t n, size_t k, size_t pad)
{
    size_t lda = k + pad, ldb = n + pad, ldc = n + pad;
    float *a = malloc((m * lda + 1) * sizeof *a), *b = malloc((k * ldb + 1) * sizeof *b);
    float *c = malloc((m * ldc + 1) * sizeof *c);
    double *exact = malloc((m * n + 1) * sizeof *exact), *mag = malloc((m * n + 1) * sizeof *mag);
    size_t bad = 0;

    fill(a, m * lda, false);
    fill(b, k * ldb, false);
    for (size_t i = 0; i < m * ldc; i++)
        c[i] = 12345.0f;                /* garbage gemm must overwrite */
    gemm_reference(m, n, k, a, lda, b, ldb, exact, mag);
    o->gemm(m, n, k, a, lda, b, ldb, c, ldc);
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double bound = ((double)k + 2) * 0x1p-24 * mag[i * n + j] + 1e-30;
            if (!(fabs((double)c[i * ldc + j] - exact[i * n + j]) <= bound))
                bad++;
        }
        for (size_t j = n; j < ldc; j++)
            if (c[i * ldc + j] != 12345.0f)
                bad++;
    }
    if (bad != 0) {
        fprintf(stderr, "gemm %s %zux%zux%zu pad %zu: %zu elements wrong\n", o->name, m, n, k,
                pad, bad);
        CU_FAIL("gemm is off by more than its bound");
    }
    free(a);
    free(b);
    free(c);
    free(exact);
    free(mag);
}

static void
gemm_odd_shapes_match_double(void)
{
    for (size_t s = 0; s < sizeof isas / sizeof isas[0]; s++) {
        const struct rp__simd_ops *o = rp__simd_named(isas[s]);
        size_t mr, nr;
        if (o == NULL)
            continue;
        mr = o->gemm_mr;
        nr = o->gemm_nr;
        CU_ASSERT(mr >= 1 && nr >= 1);
        /* 1s, vectors, primes, one either side of the register tile, and
         * k past the 256-512 deep slices of every variant. */
        const size_t shapes[][3] = {
            { 1, 1, 1 }, { 1, 37, 5 }, { 41, 1, 7 }, { 9, 11, 1 }, { 1, 1, 1000 },
            { 13, 17, 19 }, { 37, 41, 43 }, { 97, 89, 83 },
            { mr - 1 + !(mr - 1), nr - 1 + !(nr - 1), 3 }, { mr, nr, 8 }, { mr + 1, nr + 1, 9 },
            { 2 * mr + 1, 3 * nr - 1, 31 }, { 7, 2 * nr + 3, 1031 }, { 3 * mr + 2, 5, 777 },
        };
        for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++)
            for (size_t pad = 0; pad < 2; pad++)
                gemm_shape(o, shapes[t][0], shapes[t][1], shapes[t][2], pad * 3);
        for (int r = 0; r < 6; r++)     /* random, some past a block of rows */
            gemm_shape(o, 1 + next() % 200, 1 + next() % 150, 1 + next() % 300, next() % 3);
    }
}

/* Across the NC-wide panels of columns and MC-tall blocks of rows too. */
static void
gemm_crosses_every_block(void)
{
    for (size_t s = 0; s < sizeof isas / sizeof isas[0]; s++) {
        const struct rp__simd_ops *o = rp__simd_named(isas[s]);
        if (o != NULL) {
            gemm_shape(o, 3, 4100, 3, 0);
            gemm_shape(o, 400, 2, 5, 1);
        }
    }
}

/* k = 0 gives zeros; m or n = 0 writes nothing; NaN and infinities go
 * where they should. */
static void
gemm_edges_and_specials(void)
{
    for (size_t s = 0; s < sizeof isas / sizeof isas[0]; s++) {
        const struct rp__simd_ops *o = rp__simd_named(isas[s]);
        float a[5 * 7], b[7 * 6], c[5 * 6];
        if (o == NULL)
            continue;
        for (size_t i = 0; i < 30; i++)
            c[i] = 3.0f;
        o->gemm(5, 6, 0, a, 7, b, 6, c, 6);
        for (size_t i = 0; i < 30; i++)
            CU_ASSERT(c[i] == 0.0f);
        c[0] = 3.0f;
        o->gemm(0, 6, 7, a, 7, b, 6, c, 6);
        o->gemm(5, 0, 7, a, 7, b, 6, c, 6);
        CU_ASSERT(c[0] == 3.0f);

        for (size_t i = 0; i < 35; i++)
            a[i] = 1.0f;
        for (size_t i = 0; i < 42; i++)
            b[i] = 0.5f;
        a[2 * 7 + 3] = NAN;             /* row 2 of C all NaN */
        b[4 * 6 + 5] = INFINITY;        /* column 5 of C +inf, but row 2 */
        o->gemm(5, 6, 7, a, 7, b, 6, c, 6);
        for (size_t i = 0; i < 5; i++)
            for (size_t j = 0; j < 6; j++) {
                float v = c[i * 6 + j];
                if (i == 2) {
                    CU_ASSERT(isnan(v));
                } else if (j == 5) {
                    CU_ASSERT(isinf(v) && v > 0);
                } else {
                    CU_ASSERT_EQUAL(v, 3.5f);
                }
            }
    }
}

/* A tile computed alone is bit for bit that tile of the whole product:
 * what lets the tensor executor split C over threads. */
static void
gemm_tiles_equal_the_whole(void)
{
    enum { M = 150, N = 170, K = 600 };
    float *a = malloc(M * K * sizeof *a), *b = malloc(K * N * sizeof *b);
    float *whole = malloc(M * N * sizeof *whole), *tiled = malloc(M * N * sizeof *tiled);

    fill(a, M * K, false);
    fill(b, K * N, false);
    for (size_t s = 0; s < sizeof isas / sizeof isas[0]; s++) {
        const struct rp__simd_ops *o = rp__simd_named(isas[s]);
        if (o == NULL)
            continue;
        o->gemm(M, N, K, a, K, b, N, whole, N);
        for (size_t i0 = 0; i0 < M; i0 += 37)
            for (size_t j0 = 0; j0 < N; j0 += 29) {
                size_t mt = M - i0 < 37 ? M - i0 : 37, nt = N - j0 < 29 ? N - j0 : 29;
                o->gemm(mt, nt, K, a + i0 * K, K, b + j0, N, tiled + i0 * N + j0, N);
            }
        CU_ASSERT(memcmp(whole, tiled, M * N * sizeof *whole) == 0);
    }
    free(a);
    free(b);
    free(whole);
    free(tiled);
}

static void
transpose_is_exact(void)
{
    for (size_t s = 0; s < sizeof isas / sizeof isas[0]; s++) {
        const struct rp__simd_ops *o = rp__simd_named(isas[s]);
        if (o == NULL)
            continue;
        for (int r = 0; r < 40; r++) {
            size_t rows = r < 8 ? (size_t)r : 1 + next() % 300;
            size_t cols = r < 8 ? (size_t)(7 - r) : 1 + next() % 300;
            size_t lda = cols + (size_t)(r % 3), ldo = rows + (size_t)(r % 2);
            float *a = malloc((rows * lda + 1) * sizeof *a);
            float *out = malloc((cols * ldo + 1) * sizeof *out);
            size_t bad = 0;
            fill(a, rows * lda, true);
            for (size_t i = 0; i < cols * ldo; i++)
                out[i] = 77.0f;
            o->transpose(out, ldo, a, lda, rows, cols);
            for (size_t j = 0; j < cols; j++) {
                for (size_t i = 0; i < rows; i++)
                    bad += !same(out[j * ldo + i], a[i * lda + j]);
                for (size_t i = rows; i < ldo; i++)
                    bad += out[j * ldo + i] != 77.0f;
            }
            CU_ASSERT_EQUAL(bad, 0);
            free(a);
            free(out);
        }
    }
}

static void
the_live_variant_is_one_of_them(void)
{
    const char *isa = rp_simd_isa();
    float a[3] = { 1, 2, 3 }, b[3] = { 4, 5, 6 }, out[3];

    CU_ASSERT(strcmp(isa, "scalar") == 0 || strcmp(isa, "avx2") == 0 ||
              strcmp(isa, "avx512") == 0 || strcmp(isa, "neon") == 0);
    CU_ASSERT_PTR_NOT_NULL(rp__simd_named(isa));
    CU_ASSERT_PTR_NULL(rp__simd_named("sse9"));
    CU_ASSERT_PTR_NOT_NULL(rp__simd_named("scalar"));
    rp_simd_add(out, a, b, 3);
    CU_ASSERT(out[0] == 5 && out[1] == 7 && out[2] == 9);
    CU_ASSERT_EQUAL(rp_simd_dot(a, b, 3), 32.0f);
    rp_simd_axpy(out, 2.0f, a, 3);
    CU_ASSERT(out[0] == 7 && out[1] == 11 && out[2] == 15);
    {
        float m[6] = { 1, 2, 3, 4, 5, 6 }, t[6], p[4];
        rp_simd_transpose(t, m, 2, 3);          /* [[1 4] [2 5] [3 6]] */
        CU_ASSERT(t[0] == 1 && t[1] == 4 && t[2] == 2 && t[3] == 5 && t[4] == 3 && t[5] == 6);
        rp_simd_sgemm(2, 2, 3, m, t, p);        /* m . m^T */
        CU_ASSERT(p[0] == 14 && p[1] == 32 && p[2] == 32 && p[3] == 77);
    }
}

static const rp_test_case cases[] = {
    { "elementwise_kernels_match_c_bit_for_bit", elementwise_kernels_match_c_bit_for_bit },
    { "reductions_hold_their_error_bound_and_propagate_nan",
      reductions_hold_their_error_bound_and_propagate_nan },
    { "argmax_and_softmax_match_double", argmax_and_softmax_match_double },
    { "denormals_are_kept", denormals_are_kept },
    { "gemm_odd_shapes_match_double", gemm_odd_shapes_match_double },
    { "gemm_crosses_every_block", gemm_crosses_every_block },
    { "gemm_edges_and_specials", gemm_edges_and_specials },
    { "gemm_tiles_equal_the_whole", gemm_tiles_equal_the_whole },
    { "transpose_is_exact", transpose_is_exact },
    { "the_live_variant_is_one_of_them", the_live_variant_is_one_of_them },
    { NULL, NULL },
};

const rp_test_suite rp_test_suite_simd = { "simd", cases, false };
