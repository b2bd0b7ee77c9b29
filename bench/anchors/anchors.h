/*
 * anchors.h -- the programs repartir is measured against, behind plain C
 * entry points. Each runs `reps` timed repetitions after one warm-up and
 * writes their wall times (seconds) to times[].
 */
#ifndef RP_BENCH_ANCHORS_H
#define RP_BENCH_ANCHORS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* fib(n) with one task per call, no cutoff, on `threads` threads. */
long anchor_tbb_fib(int n, int threads, int reps, double *times);
long anchor_omp_fib(int n, int threads, int reps, double *times);

/* y += a*x and sum(x) over n floats with `threads` threads. */
void anchor_omp_saxpy(float *y, const float *x, float a, size_t n, int threads);
double anchor_omp_sum(const float *x, size_t n, int threads);

/* A burst of work, then nothing: used to measure idle CPU. */
void anchor_tbb_burst(int threads);
void anchor_omp_burst(int threads);

#ifdef __cplusplus
}
#endif

#endif /* RP_BENCH_ANCHORS_H */
