// fib_tbb.cpp -- the oneTBB anchor: naive fib with tbb::task_group, the
// idiom oneTBB documents for fork/join, in an arena of `threads` threads.
#include "bench/anchors/anchors.h"

#include <chrono>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

static long
fib(int n)
{
    if (n < 2)
        return n;
    long x = 0, y = 0;
    tbb::task_group g;
    g.run([&] { x = fib(n - 1); });
    y = fib(n - 2);
    g.wait();
    return x + y;
}

extern "C" long
anchor_tbb_fib(int n, int threads, int reps, double *times)
{
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    tbb::task_arena arena(threads);
    long result = 0;

    for (int r = -1; r < reps; r++) {   // r == -1: warm-up
        auto t0 = std::chrono::steady_clock::now();
        arena.execute([&] { result = fib(n); });
        auto t1 = std::chrono::steady_clock::now();
        if (r >= 0)
            times[r] = std::chrono::duration<double>(t1 - t0).count();
    }
    return result;
}
