/*
 * bench_pfor.c -- rp_parallel_for against OpenMP `parallel for` on loops
 * that stream through DRAM: saxpy (y += a*x) and a sum, over 64M floats,
 * with the same loop bodies and the same number of threads. Target: within
 * 10% of OpenMP. Bandwidth is reported STREAM-style (bytes the loop must
 * move: 12 per element for saxpy, 4 for the sum).
 *
 *   bench_pfor [--n 67108864] [--threads 2] [--rounds 3]
 *   bench_pfor --impl rp|omp --n N --threads T --reps R
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <repartir.h>

#include "bench/anchors/anchors.h"
#include "bench/common.h"

struct loop {
    float *y;
    const float *x;
    float a;
    pthread_mutex_t lock;
    double total;
};

static void
saxpy_body(size_t lo, size_t hi, void *arg)
{
    struct loop *l = arg;
    float *y = l->y;
    const float *x = l->x;
    const float a = l->a;

    for (size_t i = lo; i < hi; i++)
        y[i] += a * x[i];
}

static void
sum_body(size_t lo, size_t hi, void *arg)
{
    struct loop *l = arg;
    const float *x = l->x;
    double s[8] = { 0 };

    for (size_t i = lo; i < hi; i++)
        s[i & 7] += x[i];
    double part = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
    pthread_mutex_lock(&l->lock);
    l->total += part;
    pthread_mutex_unlock(&l->lock);
}

static int
child(const char *impl, size_t n, int threads, int reps)
{
    float *x = aligned_alloc(64, n * sizeof *x), *y = aligned_alloc(64, n * sizeof *y);
    rp_pool *pool = NULL;
    rp_pool_config cfg;
    bool rp = strcmp(impl, "rp") == 0;
    double sum = 0;

    if (x == NULL || y == NULL || (!rp && strcmp(impl, "omp") != 0))
        return 2;
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(i % 1024) * (1.0f / 1024);
        y[i] = 1.0f;
    }
    if (rp) {
        rp_pool_config_init(&cfg);
        cfg.cpu_workers = threads;
        if (rp_pool_create(&cfg, &pool) != RP_OK)
            return 1;
    }
    struct loop l = { y, x, 0.5f, PTHREAD_MUTEX_INITIALIZER, 0 };
    for (int r = -1; r < reps; r++) {
        double t0 = bench_now();
        if (rp)
            rp_parallel_for(pool, 0, n, 0, saxpy_body, &l);
        else
            anchor_omp_saxpy(y, x, 0.5f, n, threads);
        double t1 = bench_now();
        if (rp) {
            l.total = 0;
            rp_parallel_for(pool, 0, n, 0, sum_body, &l);
            sum = l.total;
        } else {
            sum = anchor_omp_sum(x, n, threads);
        }
        double t2 = bench_now();
        if (r >= 0)
            printf("saxpy=%.9f\nsum=%.9f\n", t1 - t0, t2 - t1);
    }
    /* Both sides must have computed the same thing. */
    double ysum = 0;
    for (size_t i = 0; i < n; i += 4097)
        ysum += y[i];
    printf("check_sum=%.6e\ncheck_y=%.6e\n", sum, ysum);
    if (pool != NULL)
        rp_pool_shutdown(pool);
    free(x);
    free(y);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *impl = NULL;
    size_t n = (size_t)64 << 20;
    int threads = 2, reps = 5, rounds = 3;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--impl") == 0) impl = argv[i + 1];
        else if (strcmp(argv[i], "--n") == 0) n = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0) rounds = atoi(argv[i + 1]);
        else { fprintf(stderr, "bench_pfor: unknown option %s\n", argv[i]); return 2; }
    }
    if (n < 1024 || threads < 1 || reps < 1 || rounds < 1 ||
        rounds * reps > BENCH_MAX_SAMPLES) {
        fprintf(stderr, "bench_pfor: bad arguments\n");
        return 2;
    }
    if (impl != NULL)
        return child(impl, n, threads, reps);

    static const char *const impls[] = { "rp", "omp" };
    bench_samples saxpy[2] = { 0 }, sum[2] = { 0 };
    double check[2][2] = { { 0 } };
    char nbuf[32], tbuf[16], rbuf[16];

    snprintf(nbuf, sizeof nbuf, "%zu", n);
    snprintf(tbuf, sizeof tbuf, "%d", threads);
    snprintf(rbuf, sizeof rbuf, "%d", reps);
    bench_print_machine("parallel loops: rp_parallel_for vs OpenMP parallel for");
    printf("   %zu floats (%.0f MiB per array), %d threads, best of %d runs\n",
           n, n * 4.0 / (1 << 20), threads, rounds * reps);
    for (int round = 0; round < rounds; round++) {
        for (int k = 0; k < 2; k++) {
            const char *args[] = { "--impl", impls[k], "--n", nbuf, "--threads", tbuf,
                                   "--reps", rbuf, NULL };
            bench_output o;
            if (!bench_run(args, &o))
                return 1;
            bench_values(&o, "saxpy", &saxpy[k]);
            bench_values(&o, "sum", &sum[k]);
            check[k][0] = bench_value(&o, "check_sum");
            check[k][1] = bench_value(&o, "check_y");
            bench_output_free(&o);
        }
    }
    if (fabs(check[0][0] - check[1][0]) > 1e-4 * fabs(check[1][0]) ||
        fabs(check[0][1] - check[1][1]) > 1e-6 * fabs(check[1][1])) {
        fprintf(stderr, "bench_pfor: the two sides computed different results\n");
        return 1;
    }
    printf("   %-22s %10s %10s %12s\n", "", "best", "median", "bandwidth");
    for (int k = 0; k < 2; k++) {
        double b = bench_min(&saxpy[k]);
        printf("   %-22s %7.2f ms %7.2f ms %8.2f GB/s\n",
               k ? "saxpy OpenMP" : "saxpy repartir", b * 1e3,
               bench_median(&saxpy[k]) * 1e3, 12.0 * n / b * 1e-9);
    }
    for (int k = 0; k < 2; k++) {
        double b = bench_min(&sum[k]);
        printf("   %-22s %7.2f ms %7.2f ms %8.2f GB/s\n",
               k ? "sum OpenMP" : "sum repartir", b * 1e3,
               bench_median(&sum[k]) * 1e3, 4.0 * n / b * 1e-9);
    }
    double rs = bench_min(&saxpy[0]), os = bench_min(&saxpy[1]);
    double ru = bench_min(&sum[0]), ou = bench_min(&sum[1]);
    bench_print_ratio("saxpy repartir / OpenMP", rs, os, "<= 1.10", rs <= 1.10 * os);
    bench_print_ratio("sum repartir / OpenMP", ru, ou, "<= 1.10", ru <= 1.10 * ou);
    return 0;
}
