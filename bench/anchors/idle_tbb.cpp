// idle_tbb.cpp -- oneTBB after a burst of work, for the idle-CPU figure.
#include "bench/anchors/anchors.h"

#include <atomic>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

extern "C" void
anchor_tbb_burst(int threads)
{
    // Kept alive for the whole process, as an application's would be.
    static tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    static tbb::task_arena arena(threads);
    std::atomic<long> sum{0};

    arena.execute([&] {
        tbb::parallel_for(0, 1 << 22, [&](int i) { if ((i & 1023) == 0) sum += i; });
    });
}
