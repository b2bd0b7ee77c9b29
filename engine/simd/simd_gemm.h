/*
 * simd_gemm.h (internal) -- transpose and the matrix product, included by
 * simd_vec.h and written over the same vector macros, plus the variant's
 * register tile:
 *
 *   GEMM_MR           rows of the tile: broadcasts of A per step of k
 *   GEMM_NV           vectors per row of it: NR = GEMM_NV x VL columns
 *   GEMM_KC, GEMM_MC, GEMM_NC   block sizes (defaults below)
 *
 * The product is GotoBLAS's, as BLIS spells it (Van Zee and van de Geijn,
 * 2015): for each NC-wide panel of columns and KC-deep slice of k, B is
 * packed once into NR-wide panels, k-major; for each MC-tall block of rows
 * A is packed into MR-tall slivers, k-major; then every MR x NR tile of C
 * is summed in registers over the slice (the micro-kernel), the sliver of
 * B it reads (KC x NR) staying in L1 while it sweeps the block of A (in
 * L2). Edges are packed with zeros, and a partial tile goes through a
 * buffer, so the micro-kernel has one shape.
 *
 * Each element of C is summed over k in order, slice by slice, from
 * nothing but its row of A and column of B: the blocks of m and n change
 * no rounding, and a tile of C computed alone is bit for bit that tile of
 * the whole product (the tensor executor's parallel split relies on it).
 */
#include <stdbool.h>
#include <string.h>

#ifndef GEMM_KC
#define GEMM_KC 256
#endif
#ifndef GEMM_MC
#define GEMM_MC (GEMM_MR * 16)
#endif
#define GEMM_NR (GEMM_NV * VL)
#ifndef GEMM_NC
#define GEMM_NC (GEMM_NR * (2048 / GEMM_NR))
#endif

_Static_assert(GEMM_MC % GEMM_MR == 0, "MC is whole slivers of A");
_Static_assert(GEMM_NC % GEMM_NR == 0, "NC is whole panels of B");

static inline size_t
gemm_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Cache-sized squares, so that both the rows read and the columns
 * written stay in L1 while a square is copied. */
static void
k_transpose(float *out, size_t ldo, const float *a, size_t lda, size_t rows, size_t cols)
{
    enum { T = 32 };

    for (size_t i0 = 0; i0 < rows; i0 += T) {
        size_t i1 = gemm_min(i0 + T, rows);
        for (size_t j0 = 0; j0 < cols; j0 += T) {
            size_t j1 = gemm_min(j0 + T, cols);
            for (size_t j = j0; j < j1; j++)
                for (size_t i = i0; i < i1; i++)
                    out[j * ldo + i] = a[i * lda + j];
        }
    }
}

/* A's mc x kc block into slivers of GEMM_MR rows: sliver s holds, for
 * each p, its rows' elements of column p; missing rows are zeros. */
static void
gemm_pack_a(float *restrict ap, const float *a, size_t lda, size_t mc, size_t kc)
{
    for (size_t i0 = 0; i0 < mc; i0 += GEMM_MR, ap += kc * GEMM_MR) {
        size_t mr = gemm_min(GEMM_MR, mc - i0);
        for (size_t i = 0; i < GEMM_MR; i++) {
            const float *row = a + (i0 + i) * lda;
            if (i < mr)
                for (size_t p = 0; p < kc; p++)
                    ap[p * GEMM_MR + i] = row[p];
            else
                for (size_t p = 0; p < kc; p++)
                    ap[p * GEMM_MR + i] = 0.0f;
        }
    }
}

/* B's kc x nc block into panels of GEMM_NR columns: panel s holds, for
 * each p, its columns' elements of row p; missing columns are zeros. */
static void
gemm_pack_b(float *restrict bp, const float *b, size_t ldb, size_t kc, size_t nc)
{
    for (size_t j0 = 0; j0 < nc; j0 += GEMM_NR) {
        size_t nr = gemm_min(GEMM_NR, nc - j0);
        for (size_t p = 0; p < kc; p++, bp += GEMM_NR) {
            const float *row = b + p * ldb + j0;
            if (nr == GEMM_NR) {
#pragma GCC unroll 4
                for (int v = 0; v < GEMM_NV; v++)
                    STOREU(bp + v * VL, LOADU(row + v * VL));
            } else {
                size_t j = 0;
                for (; j < nr; j++)
                    bp[j] = row[j];
                for (; j < GEMM_NR; j++)
                    bp[j] = 0.0f;
            }
        }
    }
}

/* One MR x NR tile of C (mr x nr of it real): C = (add ? C : 0) + the
 * sliver of A times the panel of B over kc steps. The accumulators are
 * an array for the reader; fully unrolled, they live in registers. */
static inline void
gemm_micro(size_t kc, const float *restrict ap, const float *restrict bp, float *c, size_t ldc,
           size_t mr, size_t nr, bool add)
{
    VF acc[GEMM_MR][GEMM_NV];

#pragma GCC unroll 16
    for (int i = 0; i < GEMM_MR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < GEMM_NV; j++)
            acc[i][j] = ZERO();
    for (size_t p = 0; p < kc; p++, ap += GEMM_MR, bp += GEMM_NR) {
        VF bv[GEMM_NV];
#pragma GCC unroll 4
        for (int j = 0; j < GEMM_NV; j++)
            bv[j] = LOADU(bp + j * VL);
#pragma GCC unroll 16
        for (int i = 0; i < GEMM_MR; i++) {
            VF av = SET1(ap[i]);
#pragma GCC unroll 4
            for (int j = 0; j < GEMM_NV; j++)
                acc[i][j] = FMA(av, bv[j], acc[i][j]);
        }
    }
    if (mr == GEMM_MR && nr == GEMM_NR) {
#pragma GCC unroll 16
        for (int i = 0; i < GEMM_MR; i++)
#pragma GCC unroll 4
            for (int j = 0; j < GEMM_NV; j++) {
                float *cp = c + i * ldc + j * VL;
                STOREU(cp, add ? ADD(LOADU(cp), acc[i][j]) : acc[i][j]);
            }
    } else {
        float t[GEMM_MR * GEMM_NR];
#pragma GCC unroll 16
        for (int i = 0; i < GEMM_MR; i++)
#pragma GCC unroll 4
            for (int j = 0; j < GEMM_NV; j++)
                STOREU(t + i * GEMM_NR + j * VL, acc[i][j]);
        for (size_t i = 0; i < mr; i++)
            for (size_t j = 0; j < nr; j++)
                c[i * ldc + j] = add ? c[i * ldc + j] + t[i * GEMM_NR + j] : t[i * GEMM_NR + j];
    }
}

static void
k_gemm(size_t m, size_t n, size_t k, const float *a, size_t lda, const float *b, size_t ldb,
       float *c, size_t ldc)
{
    float *ap, *bp;

    if (m == 0 || n == 0)
        return;
    if (k == 0) {
        for (size_t i = 0; i < m; i++)
            memset(c + i * ldc, 0, n * sizeof *c);
        return;
    }
    ap = rp__simd_scratch(0, gemm_min(k, GEMM_KC) * GEMM_MC);
    bp = rp__simd_scratch(1, gemm_min(k, GEMM_KC) * GEMM_NC);
    for (size_t jc = 0; jc < n; jc += GEMM_NC) {
        size_t nc = gemm_min(GEMM_NC, n - jc);
        for (size_t pc = 0; pc < k; pc += GEMM_KC) {
            size_t kc = gemm_min(GEMM_KC, k - pc);
            gemm_pack_b(bp, b + pc * ldb + jc, ldb, kc, nc);
            for (size_t ic = 0; ic < m; ic += GEMM_MC) {
                size_t mc = gemm_min(GEMM_MC, m - ic);
                gemm_pack_a(ap, a + ic * lda + pc, lda, mc, kc);
                for (size_t jr = 0; jr < nc; jr += GEMM_NR)
                    for (size_t ir = 0; ir < mc; ir += GEMM_MR)
                        gemm_micro(kc, ap + ir * kc, bp + jr * kc,
                                   c + (ic + ir) * ldc + jc + jr, ldc,
                                   gemm_min(GEMM_MR, mc - ir), gemm_min(GEMM_NR, nc - jr),
                                   pc > 0);
            }
        }
    }
}
