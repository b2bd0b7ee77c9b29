/*
 * clock.h (internal) -- the clocks the engine reads, in one place.
 */
#ifndef RP_ENGINE_CLOCK_H
#define RP_ENGINE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds on clock `id` (CLOCK_MONOTONIC, CLOCK_THREAD_CPUTIME_ID...). */
static inline uint64_t
rp__clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC nanoseconds: every timestamp the engine keeps. */
static inline uint64_t
rp__now_ns(void)
{
    return rp__clock_ns(CLOCK_MONOTONIC);
}

/* Unix time in milliseconds: what the store records. */
static inline int64_t
rp__wall_ms(void)
{
    return (int64_t)(rp__clock_ns(CLOCK_REALTIME) / 1000000u);
}

/* The CLOCK_MONOTONIC time ms milliseconds from now, for
 * pthread_cond_timedwait on a condition variable set to that clock. */
static inline void
rp__deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

#endif /* RP_ENGINE_CLOCK_H */
