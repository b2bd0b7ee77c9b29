/*
 * bench_simd.c -- the SIMD kernels (engine/simd/) beside OpenBLAS, single
 * thread (openblas_set_num_threads(1)), in one process, each variant this
 * CPU runs: sdot and saxpy at sizes that live in L1, in L2 and in DRAM,
 * as GB/s of the bytes the kernel must move (8 per element for sdot, 12
 * for saxpy), beside a STREAM-style copy (memcpy, 8 per element).
 * Target: the live variant >= 0.9x OpenBLAS on each. Also each variant's
 * speed-up over the scalar one.
 *
 *   bench_simd [--seconds 0.2] [--rounds 3]
 */
#include <cblas.h>
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

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seconds") == 0)
            seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[i + 1]);
    }
    openblas_set_num_threads(1);
    bench_print_machine("SIMD kernels beside OpenBLAS (one thread)");
    printf("   live variant: %s (REPARTIR_SIMD picks another)\n", rp_simd_isa());
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
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
    return 0;
}
