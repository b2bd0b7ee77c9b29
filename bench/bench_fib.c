/*
 * bench_fib.c -- fork/join overhead: naive fib(n), one task per call, no
 * cutoff, with rp_group against oneTBB task_group and OpenMP tasks, each on
 * the same number of threads. Also ns per spawn+sync, as time x workers /
 * spawns, and a plain recursive fib for reference.
 *
 *   bench_fib [--n 32] [--threads 2] [--rounds 3]     the comparison
 *   bench_fib --impl rp|tbb|omp|serial --n N --threads T --reps R
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <repartir.h>

#include "bench/anchors/anchors.h"
#include "bench/common.h"

static long
rp_fib(int n, int threads, int reps, double *times, unsigned long long *steals)
{
    rp_pool_config cfg;
    rp_pool *pool;
    rp_stats st;
    struct bench_fib f = { n, 0 };

    rp_pool_config_init(&cfg);
    cfg.cpu_workers = threads;
    if (rp_pool_create(&cfg, &pool) != RP_OK)
        return -1;
    for (int r = -1; r < reps; r++) {
        double t0 = bench_now();
        rp_pool_run(pool, bench_fib_task, &f);
        if (r >= 0)
            times[r] = bench_now() - t0;
    }
    rp_pool_stats(pool, &st);
    *steals = st.steals;
    rp_pool_shutdown(pool);
    return f.result;
}

/* The same recursion without tasks; noinline keeps the compiler from
 * turning it into a loop, so it costs what the call tree costs. */
static __attribute__((noinline)) long
fib_plain(int n)
{
    return n < 2 ? n : fib_plain(n - 1) + fib_plain(n - 2);
}

static long
serial_fib(int n, int reps, double *times)
{
    long result = 0;

    for (int r = -1; r < reps; r++) {
        double t0 = bench_now();
        result = fib_plain(n);
        if (r >= 0)
            times[r] = bench_now() - t0;
    }
    return result;
}

static int
child(const char *impl, int n, int threads, int reps)
{
    double times[BENCH_MAX_SAMPLES];
    unsigned long long steals = 0;
    long result;

    if (reps < 1 || reps > BENCH_MAX_SAMPLES)
        return 2;
    if (strcmp(impl, "rp") == 0)
        result = rp_fib(n, threads, reps, times, &steals);
    else if (strcmp(impl, "tbb") == 0)
        result = anchor_tbb_fib(n, threads, reps, times);
    else if (strcmp(impl, "omp") == 0)
        result = anchor_omp_fib(n, threads, reps, times);
    else if (strcmp(impl, "serial") == 0)
        result = serial_fib(n, reps, times);
    else
        return 2;
    for (int r = 0; r < reps; r++)
        printf("seconds=%.9f\n", times[r]);
    printf("result=%ld\nsteals=%llu\n", result, steals);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *impl = NULL;
    int n = 32, threads = 2, reps = 3, rounds = 3;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--impl") == 0) impl = argv[i + 1];
        else if (strcmp(argv[i], "--n") == 0) n = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0) rounds = atoi(argv[i + 1]);
        else { fprintf(stderr, "bench_fib: unknown option %s\n", argv[i]); return 2; }
    }
    if (n < 2 || n > 45 || threads < 1 || rounds < 1 || rounds * reps > BENCH_MAX_SAMPLES) {
        fprintf(stderr, "bench_fib: bad arguments\n");
        return 2;
    }
    if (impl != NULL)
        return child(impl, n, threads, reps);

    static const char *const impls[] = { "rp", "tbb", "omp", "serial" };
    static const char *const names[] = { "repartir rp_group", "oneTBB task_group",
                                         "OpenMP tasks (libgomp)", "plain recursion" };
    bench_samples s[4] = { 0 };
    char nbuf[16], tbuf[16], rbuf[16], steals[32] = "0";
    /* spawns(n) = fib(n + 1) - 1 for this recursion */
    double spawns = (double)fib_plain(n + 1) - 1;

    snprintf(nbuf, sizeof nbuf, "%d", n);
    snprintf(tbuf, sizeof tbuf, "%d", threads);
    snprintf(rbuf, sizeof rbuf, "%d", reps);
    bench_print_machine("fork/join: naive fib, one task per call");
    printf("   fib(%d), %d threads, %.0f spawns; best of %d runs in %d processes each\n",
           n, threads, spawns, rounds * reps, rounds);
    for (int round = 0; round < rounds; round++) {
        for (int k = 0; k < 4; k++) {
            const char *args[] = { "--impl", impls[k], "--n", nbuf, "--threads", tbuf,
                                   "--reps", rbuf, NULL };
            bench_output o;
            if (!bench_run(args, &o))
                return 1;
            bench_values(&o, "seconds", &s[k]);
            if ((long)bench_value(&o, "result") != fib_plain(n)) {
                fprintf(stderr, "bench_fib: %s computed a wrong fib(%d)\n", names[k], n);
                return 1;
            }
            if (k == 0)
                bench_value_str(&o, "steals", steals, sizeof steals);
            bench_output_free(&o);
        }
    }
    printf("   %-26s %10s %10s %14s\n", "", "best", "median", "ns/spawn");
    for (int k = 0; k < 4; k++) {
        double best = bench_min(&s[k]);
        printf("   %-26s %8.1f ms %7.1f ms", names[k], best * 1e3, bench_median(&s[k]) * 1e3);
        if (k < 3)
            printf(" %14.1f", best * threads / spawns * 1e9);
        printf("\n");
    }
    printf("   (repartir stole %s tasks in its last run)\n", steals);
    double rp = bench_min(&s[0]), tbb = bench_min(&s[1]), omp = bench_min(&s[2]);
    bench_print_ratio("repartir / oneTBB", rp, tbb, "<= 1.00", rp <= tbb);
    bench_print_ratio("repartir / libgomp", rp, omp, "<= 0.25", rp <= 0.25 * omp);
    return 0;
}
