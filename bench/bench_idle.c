/*
 * bench_idle.c -- CPU used by a pool with nothing to do. Each contender
 * runs a burst of work, then its process sleeps for a window while we read
 * how much CPU time it used (getrusage: every thread, user + system).
 * Target: under 0.5% of one core for repartir. The three run at the same
 * time (they are idle, so they do not disturb each other).
 *
 *   bench_idle [--seconds 5] [--threads 2]
 *   bench_idle --impl rp|tbb|omp --seconds S --threads T
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <repartir.h>

#include "bench/anchors/anchors.h"
#include "bench/common.h"

static void
sleep_seconds(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int
child(const char *impl, double seconds, int threads)
{
    rp_pool *pool = NULL;

    if (strcmp(impl, "rp") == 0) {
        rp_pool_config cfg;
        struct bench_fib f = { 25, 0 };

        rp_pool_config_init(&cfg);
        cfg.cpu_workers = threads;
        if (rp_pool_create(&cfg, &pool) != RP_OK)
            return 1;
        rp_pool_run(pool, bench_fib_task, &f);
    } else if (strcmp(impl, "tbb") == 0) {
        anchor_tbb_burst(threads);
    } else if (strcmp(impl, "omp") == 0) {
        anchor_omp_burst(threads);
    } else {
        return 2;
    }
    double c0 = bench_cpu_seconds(), t0 = bench_now();
    sleep_seconds(seconds);
    double c1 = bench_cpu_seconds(), t1 = bench_now();
    printf("cpu_percent=%.4f\n", (c1 - c0) / (t1 - t0) * 100);
    if (pool != NULL)
        rp_pool_shutdown(pool);
    return 0;
}

struct job {
    const char *impl;
    const char *seconds, *threads;
    double percent;
    bool ok;
};

static void *
run_job(void *arg)
{
    struct job *j = arg;
    const char *args[] = { "--impl", j->impl, "--seconds", j->seconds, "--threads",
                           j->threads, NULL };
    bench_output o;

    j->ok = bench_run(args, &o);
    if (j->ok) {
        j->percent = bench_value(&o, "cpu_percent");
        bench_output_free(&o);
    }
    return NULL;
}

int
main(int argc, char **argv)
{
    const char *impl = NULL;
    double seconds = 5;
    int threads = 2;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--impl") == 0) impl = argv[i + 1];
        else if (strcmp(argv[i], "--seconds") == 0) seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else { fprintf(stderr, "bench_idle: unknown option %s\n", argv[i]); return 2; }
    }
    if (seconds <= 0 || seconds > 600 || threads < 1) {
        fprintf(stderr, "bench_idle: bad arguments\n");
        return 2;
    }
    if (impl != NULL)
        return child(impl, seconds, threads);

    char sbuf[32], tbuf[16];
    struct job jobs[] = {
        { "rp", sbuf, tbuf, 0, false },
        { "tbb", sbuf, tbuf, 0, false },
        { "omp", sbuf, tbuf, 0, false },
    };
    static const char *const names[] = { "repartir pool", "oneTBB arena", "OpenMP (libgomp)" };
    pthread_t t[3];

    snprintf(sbuf, sizeof sbuf, "%g", seconds);
    snprintf(tbuf, sizeof tbuf, "%d", threads);
    for (int k = 0; k < 3; k++)
        pthread_create(&t[k], NULL, run_job, &jobs[k]);
    for (int k = 0; k < 3; k++)
        pthread_join(t[k], NULL);
    for (int k = 0; k < 3; k++)
        if (!jobs[k].ok)
            return 1;
    bench_print_machine("idle: CPU used by a pool with nothing to do");
    printf("   %d workers, after a burst of work, over %g s\n", threads, seconds);
    for (int k = 0; k < 3; k++)
        printf("   %-22s %8.3f %% of one core\n", names[k], jobs[k].percent);
    printf("   repartir target < 0.5%% of one core: %s\n",
           jobs[0].percent < 0.5 ? "met" : "NOT met");
    return 0;
}
