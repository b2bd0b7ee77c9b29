/*
 * testing.h -- what every CUnit suite file shares: the suite descriptor,
 * the one list of suites (RP_TEST_SUITES), and small helpers.
 */
#ifndef RP_TESTS_TESTING_H
#define RP_TESTS_TESTING_H

#include <stdbool.h>
#include <stddef.h>

#include <CUnit/CUnit.h>

#include <repartir.h>

typedef struct {
    const char *name;
    void (*fn)(void);
} rp_test_case;

typedef struct {
    const char *name;
    const rp_test_case *cases;     /* ends with { NULL, NULL } */
    bool concurrent;               /* also run under ThreadSanitizer */
} rp_test_suite;

/* Every suite, in the order they run. Add a line here and a
 * tests/test_<name>.c that defines rp_test_suite_<name>. */
#define RP_TEST_SUITES(X) \
    X(status)             \
    X(deque)              \
    X(group)              \
    X(pool)               \
    X(task)               \
    X(ckpt)               \
    X(durable)            \
    X(inspect)            \
    X(theme)              \
    X(console)            \
    X(source)             \
    X(proto)              \
    X(workdir)            \
    X(endpoint)           \
    X(remote)             \
    X(simd)               \
    X(tensor)             \
    X(gpu)

#define RP__TEST_DECLARE(name) extern const rp_test_suite rp_test_suite_##name;
RP_TEST_SUITES(RP__TEST_DECLARE)
#undef RP__TEST_DECLARE

/* 1 in a plain build; larger under sanitizers, which run slower: tests
 * divide their heaviest loop counts by it. */
unsigned rp_test_slowdown(void);

/* Monotonic seconds. */
double rp_test_now(void);

/* A pool for a test: `workers` workers, `stack` bytes of stack each (0 =
 * the default), `max_processes` (0 = one per worker). A failure to create
 * it fails the test at once. */
rp_pool *rp_test_pool(int workers, size_t stack, unsigned max_processes);

/* A process task running /bin/sh -c SCRIPT, the script formatted
 * printf-style (at most 4 KiB); a failure fails the test at once. */
rp_task *rp_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* rp_submit that must succeed: the task's id. */
rp_task_id rp_test_submit(rp_pool *pool, rp_task *t);

/* Makes a private directory under $TMPDIR (or /tmp) named after what:
 * "rp-test-WHAT-XXXXXX", into dir; a failure fails the test at once. */
void rp_test_tmpdir(char *dir, size_t size, const char *what);

/* Removes dir and everything under it (symbolic links are not followed). */
void rp_test_remove_tree(const char *dir);

/* Sleeps ms milliseconds. */
void rp_test_sleep_ms(unsigned ms);

/* Number of threads of this process (from /proc/self/status). */
int rp_test_thread_count(void);

#endif /* RP_TESTS_TESTING_H */
