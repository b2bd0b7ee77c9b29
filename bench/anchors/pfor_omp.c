/*
 * pfor_omp.c -- the OpenMP anchor for loops: `omp parallel for`, static
 * schedule (libgomp's default), the loop every HPC code starts from.
 */
#include "bench/anchors/anchors.h"

void
anchor_omp_saxpy(float *y, const float *x, float a, size_t n, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

double
anchor_omp_sum(const float *x, size_t n, int threads)
{
    double total = 0;

#pragma omp parallel num_threads(threads) reduction(+:total)
    {
        double s[8] = { 0 };
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; i++)
            s[i & 7] += x[i];
        total = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
    }
    return total;
}
