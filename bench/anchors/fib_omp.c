/*
 * fib_omp.c -- the OpenMP anchor (libgomp): naive fib with `omp task` and
 * `omp taskwait`, started by one thread of a parallel region.
 */
#include "bench/anchors/anchors.h"

#include <omp.h>

static long
fib(int n)
{
    long x, y;

    if (n < 2)
        return n;
#pragma omp task shared(x)
    x = fib(n - 1);
    y = fib(n - 2);
#pragma omp taskwait
    return x + y;
}

long
anchor_omp_fib(int n, int threads, int reps, double *times)
{
    long result = 0;

    for (int r = -1; r < reps; r++) {
        double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads)
#pragma omp single
        result = fib(n);
        if (r >= 0)
            times[r] = omp_get_wtime() - t0;
    }
    return result;
}
