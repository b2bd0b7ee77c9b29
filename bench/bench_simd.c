/*
 * bench_simd.c -- the SIMD kernels (engine/simd/) beside OpenBLAS, single
 * thread (openblas_set_num_threads(1)), in one process, each variant this
 * CPU runs: sdot and saxpy at sizes that live in L1, in L2 and in DRAM,
 * as GB/s of the bytes the kernel must move (8 per element for sdot, 12
 * for saxpy), beside a STREAM-style copy (memcpy, 8 per element).
 * Target: the live variant >= 0.9x OpenBLAS on each. Also each variant's
 * speed-up over the scalar one.
 *
 * Then sgemm at 256, 512, 1024 and 2048 (square), as GFLOP/s and % of the
 * core's peak -- measured here: independent FMAs of the live variant's
 * width, as many as the micro-kernel keeps -- beside OpenBLAS on one
 * thread (target: >= 0.75x at 1024), and the tensor executor's matmul on
 * a pool of 2 workers against the same on one thread (target >= 1.8x),
 * beside OpenBLAS on 2 threads.
 *
 *   bench_simd [--seconds 0.2] [--rounds 3] [--only gemm|stream]
 */
#include <cblas.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <repartir.h>

#include "bench/common.h"
#include "engine/simd/simd.h"

extern void openblas_set_num_threads(int);

static volatile float sink;

enum { DOT, AXPY, COPY };

/* GB/s of one kernel on n elements, best of `rounds` runs of ~seconds. */
static double
measure(int what, const struct rp__simd_ops *o, bool blas, float *x, float *y, size_t n,
        double seconds, int rounds)
{
    double best = 0, bytes = what == AXPY ? 12.0 : 8.0;

    for (int r = 0; r < rounds; r++) {
        size_t reps = 0;
        double t0 = bench_now(), t;
        do {
            for (int k = 0; k < 8; k++) {
                if (what == DOT)
                    sink = blas ? cblas_sdot((int)n, x, 1, y, 1) : o->dot(x, y, n);
                else if (what == AXPY && blas)
                    cblas_saxpy((int)n, 1e-7f, x, 1, y, 1);
                else if (what == AXPY)
                    o->axpy(y, 1e-7f, x, n);
                else
                    memcpy(y, x, n * sizeof *x);
            }
            reps += 8;
            t = bench_now() - t0;
        } while (t < seconds);
        double gbs = bytes * (double)n * (double)reps / t / 1e9;
        best = gbs > best ? gbs : best;
    }
    return best;
}

/* ---- sgemm ---- */

/* Peak FLOP/s of one core for a vector width: 24 independent FMA chains,
 * as the micro-kernels keep (engine/simd/simd_*.c), long enough to time. */
__attribute__((target("avx512f,fma"))) static double
peak_avx512(size_t iters)
{
    __m512 acc[24], x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    float out = 0;

    for (int i = 0; i < 24; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (size_t k = 0; k < iters; k++)
#pragma GCC unroll 24
        for (int i = 0; i < 24; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    for (int i = 0; i < 24; i++)
        out += _mm512_reduce_add_ps(acc[i]);
    sink = out;
    return 24.0 * 16 * 2 * (double)iters;
}

__attribute__((target("avx2,fma"))) static double
peak_avx2(size_t iters)
{
    __m256 acc[12], x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    float lanes[8], out = 0;

    for (int i = 0; i < 12; i++)
        acc[i] = _mm256_set1_ps((float)i);
    for (size_t k = 0; k < iters; k++)
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    for (int i = 0; i < 12; i++) {
        _mm256_storeu_ps(lanes, acc[i]);
        for (int l = 0; l < 8; l++)
            out += lanes[l];
    }
    sink = out;
    return 12.0 * 8 * 2 * (double)iters;
}

static double
peak_gflops(const char *isa)
{
    double best = 0;

    for (int r = 0; r < 5; r++) {
        double t0 = bench_now(), flops;
        if (strcmp(isa, "avx512") == 0)
            flops = peak_avx512(2000000);
        else if (strcmp(isa, "avx2") == 0)
            flops = peak_avx2(2000000);
        else
            return 0;
        double g = flops / (bench_now() - t0) / 1e9;
        best = g > best ? g : best;
    }
    return best;
}

/* GFLOP/s of C = A B (n x n x n), best of `rounds` runs of at least
 * `seconds`: o's kernel, OpenBLAS's (o NULL, pool NULL), or the tensor
 * executor's matmul on pool (o NULL; pool NULL with tensor: one thread). */
static double
gemm_rate(const struct rp__simd_ops *o, bool tensor, rp_pool *pool, rp_tensor *ta,
          rp_tensor *tb, rp_tensor *tc, size_t n, double seconds, int rounds)
{
    const float *a = rp_tensor_data(ta), *b = rp_tensor_data(tb);
    float *c = rp_tensor_data(tc);
    double best = 0;

    for (int r = 0; r < rounds; r++) {
        size_t reps = 0;
        double t0 = bench_now(), t;
        do {
            if (tensor)
                rp_tensor_matmul(pool, tc, ta, tb, NULL);
            else if (o != NULL)
                o->gemm(n, n, n, a, n, b, n, c, n);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n,
                            1.0f, a, (int)n, b, (int)n, 0.0f, c, (int)n);
            reps++;
            t = bench_now() - t0;
        } while (t < seconds);
        double g = 2.0 * (double)n * (double)n * (double)n * (double)reps / t / 1e9;
        best = g > best ? g : best;
    }
    return best;
}

static void
bench_gemm(const char *const *isas, size_t nisas, double seconds, int rounds)
{
    static const size_t sizes[] = { 256, 512, 1024, 2048 };
    double peak = peak_gflops(rp_simd_isa());
    rp_pool_config cfg;
    rp_pool *pool = NULL;

    printf("\nsgemm, row-major C = A B, n x n x n\n");
    if (peak > 0)
        printf("   core peak (%s, 2 x FMA per lane, measured): %.1f GFLOP/s\n", rp_simd_isa(),
               peak);
    rp_pool_config_init(&cfg);
    cfg.cpu_workers = 2;
    if (rp_pool_create(&cfg, &pool) != RP_OK) {
        fprintf(stderr, "bench_simd: no pool of 2 workers\n");
        return;
    }
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        rp_tensor *a = rp_tensor_new(n, n), *b = rp_tensor_new(n, n), *c = rp_tensor_new(n, n);
        double scalar = 0, live = 0, blas, one, two, blas2;
        for (size_t i = 0; i < n * n; i++) {
            rp_tensor_data(a)[i] = (float)(i % 17) * 0.0625f - 0.5f;
            rp_tensor_data(b)[i] = (float)(i % 13) * 0.125f - 0.75f;
        }
        printf("\nn = %zu\n", n);
        for (size_t k = 0; k < nisas; k++) {
            const struct rp__simd_ops *o = rp__simd_named(isas[k]);
            double g;
            if (o == NULL || (k == 0 && n > 1024))     /* plain C at 2048: seconds a call */
                continue;
            g = gemm_rate(o, false, NULL, a, b, c, n, seconds, rounds);
            if (k == 0)
                scalar = g;
            if (strcmp(o->name, rp_simd_isa()) == 0)
                live = g;
            printf("  sgemm %-7s %8.1f GFLOP/s  %5.1f%% of peak", isas[k], g,
                   peak > 0 ? 100 * g / peak : 0);
            if (scalar > 0)
                printf("  %5.2fx scalar", g / scalar);
            printf("\n");
        }
        openblas_set_num_threads(1);
        blas = gemm_rate(NULL, false, NULL, a, b, c, n, seconds, rounds);
        printf("  sgemm %-7s %8.1f GFLOP/s  %5.1f%% of peak\n", "OpenBLAS", blas,
               peak > 0 ? 100 * blas / peak : 0);
        bench_print_ratio("sgemm, live / OpenBLAS, 1 thread", live, blas,
                          n == 1024 ? ">= 0.75" : NULL, live >= 0.75 * blas);
        one = gemm_rate(NULL, true, NULL, a, b, c, n, seconds, rounds);
        two = gemm_rate(NULL, true, pool, a, b, c, n, seconds, rounds);
        openblas_set_num_threads(2);
        blas2 = gemm_rate(NULL, false, NULL, a, b, c, n, seconds, rounds);
        openblas_set_num_threads(1);
        printf("  matmul, tensor executor: 1 thread %.1f, pool of 2 %.1f GFLOP/s; "
               "OpenBLAS 2 threads %.1f\n", one, two, blas2);
        bench_print_ratio("matmul, pool of 2 / 1 thread", two, one, ">= 1.80", two >= 1.8 * one);
        bench_print_ratio("matmul, pool of 2 / OpenBLAS 2 threads", two, blas2, NULL, true);
        rp_tensor_free(a);
        rp_tensor_free(b);
        rp_tensor_free(c);
    }
    rp_pool_shutdown(pool);
}

int
main(int argc, char **argv)
{
    static const struct { const char *name; size_t n; } sizes[] = {
        { "L1 (2 x 8 KiB)", 2048 }, { "L2 (2 x 256 KiB)", 65536 },
        { "DRAM (2 x 64 MiB)", (size_t)16 << 20 },
    };
    static const char *const isas[] = { "scalar", "avx2", "avx512" };
    double seconds = 0.2;
    int rounds = 3;
    const char *only = NULL;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seconds") == 0)
            seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--only") == 0)
            only = argv[i + 1];
    }
    openblas_set_num_threads(1);
    bench_print_machine("SIMD kernels beside OpenBLAS (one thread)");
    printf("   live variant: %s (REPARTIR_SIMD picks another)\n", rp_simd_isa());
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        if (only != NULL && strcmp(only, "stream") != 0)
            break;
        size_t n = sizes[s].n;
        float *x = aligned_alloc(64, n * sizeof *x), *y = aligned_alloc(64, n * sizeof *y);
        for (size_t i = 0; i < n; i++) {
            x[i] = (float)(i % 1000) * 1e-3f;
            y[i] = 1.0f;
        }
        printf("\n%s, n = %zu\n", sizes[s].name, n);
        for (int what = DOT; what <= AXPY; what++) {
            double scalar = 0, live = 0;
            double blas = measure(what, NULL, true, x, y, n, seconds, rounds);
            for (size_t k = 0; k < sizeof isas / sizeof isas[0]; k++) {
                const struct rp__simd_ops *o = rp__simd_named(isas[k]);
                double g;
                if (o == NULL)
                    continue;
                g = measure(what, o, false, x, y, n, seconds, rounds);
                if (k == 0)
                    scalar = g;
                if (strcmp(o->name, rp_simd_isa()) == 0)
                    live = g;
                printf("  %-5s %-7s %8.1f GB/s   %5.2fx scalar\n", what == DOT ? "sdot" : "saxpy",
                       isas[k], g, scalar > 0 ? g / scalar : 0);
            }
            printf("  %-5s %-7s %8.1f GB/s\n", what == DOT ? "sdot" : "saxpy", "OpenBLAS", blas);
            bench_print_ratio(what == DOT ? "sdot, live / OpenBLAS" : "saxpy, live / OpenBLAS",
                              live, blas, ">= 0.90", live >= 0.9 * blas);
        }
        printf("  %-13s %8.1f GB/s (STREAM-style copy)\n", "memcpy",
               measure(COPY, NULL, false, x, y, n, seconds, rounds));
        free(x);
        free(y);
    }
    if (only == NULL || strcmp(only, "gemm") == 0)
        bench_gemm(isas, sizeof isas / sizeof isas[0], seconds, rounds);
    return 0;
}
