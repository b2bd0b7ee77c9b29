/*
 * idle_omp.c -- libgomp after a burst of work, default wait policy, for
 * the idle-CPU figure.
 */
#include "bench/anchors/anchors.h"

void
anchor_omp_burst(int threads)
{
    long sum = 0;

#pragma omp parallel for num_threads(threads) reduction(+:sum)
    for (int i = 0; i < (1 << 22); i++)
        if ((i & 1023) == 0)
            sum += i;
    (void)sum;
}
