/*
 * run_tests.c -- the CUnit runner for every suite in RP_TEST_SUITES.
 *
 *   run_tests                       all suites
 *   run_tests --concurrent          only the suites marked concurrent
 *   run_tests SUITE[/TEST] ...      the named suites or tests
 *   run_tests --list                names, one per line
 *
 * Exits 0 when every selected test passed, 1 on a failure, 2 on a bad
 * argument (an unknown suite or test name is an error, not a no-op).
 */
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "tests/testing.h"

static const rp_test_suite *const all_suites[] = {
#define RP__TEST_ENTRY(name) &rp_test_suite_##name,
    RP_TEST_SUITES(RP__TEST_ENTRY)
#undef RP__TEST_ENTRY
};
#define N_SUITES (sizeof all_suites / sizeof all_suites[0])

unsigned
rp_test_slowdown(void)
{
#if defined(__SANITIZE_THREAD__)
    return 8;
#elif defined(__SANITIZE_ADDRESS__)
    return 4;
#else
    return 1;
#endif
}

double
rp_test_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

rp_task *
rp_test_sh(const char *fmt, ...)
{
    char script[4096];
    rp_task *t = rp_task_new("/bin/sh");
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(script, sizeof script, fmt, ap);
    va_end(ap);
    CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof script);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(rp_task_add_arg(t, "-c"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_add_arg(t, script), RP_OK);
    return t;
}

rp_task_id
rp_test_submit(rp_pool *pool, rp_task *t)
{
    rp_task_id id = 0;

    CU_ASSERT_EQUAL_FATAL(rp_submit(pool, t, &id), RP_OK);
    CU_ASSERT_NOT_EQUAL_FATAL(id, 0);
    return id;
}

rp_pool *
rp_test_pool(int workers, size_t stack, unsigned max_processes)
{
    rp_pool_config cfg;
    rp_pool *pool = NULL;

    rp_pool_config_init(&cfg);
    cfg.cpu_workers = workers;
    cfg.worker_stack_size = stack;
    cfg.max_processes = max_processes;
    CU_ASSERT_EQUAL_FATAL(rp_pool_create(&cfg, &pool), RP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
    return pool;
}

void
rp_test_tmpdir(char *dir, size_t size, const char *what)
{
    const char *base = getenv("TMPDIR");

    snprintf(dir, size, "%s/rp-test-%s-XXXXXX", base != NULL && *base ? base : "/tmp", what);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
}

static int
remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    remove(path);
    return 0;
}

void
rp_test_remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

void
rp_test_sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

int
rp_test_thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

/* Adds suite s to the registry: every case, or only the one named test. */
static int
add_suite(const rp_test_suite *s, const char *only_test)
{
    CU_pSuite cs = CU_add_suite(s->name, NULL, NULL);
    int added = 0;

    if (cs == NULL)
        return -1;
    for (const rp_test_case *c = s->cases; c->name != NULL; c++) {
        if (only_test != NULL && strcmp(only_test, c->name) != 0)
            continue;
        if (CU_add_test(cs, c->name, c->fn) == NULL)
            return -1;
        added++;
    }
    return added;
}

static const rp_test_suite *
find_suite(const char *name, size_t len)
{
    for (size_t i = 0; i < N_SUITES; i++)
        if (strlen(all_suites[i]->name) == len && strncmp(all_suites[i]->name, name, len) == 0)
            return all_suites[i];
    return NULL;
}

int
main(int argc, char **argv)
{
    bool concurrent_only = false;
    int named = 0;
    unsigned failures;

    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "run_tests: cannot initialise CUnit\n");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0) {
            for (size_t s = 0; s < N_SUITES; s++)
                for (const rp_test_case *c = all_suites[s]->cases; c->name; c++)
                    printf("%s/%s\n", all_suites[s]->name, c->name);
            CU_cleanup_registry();
            return 0;
        }
        if (strcmp(argv[i], "--concurrent") == 0) {
            concurrent_only = true;
            continue;
        }
        const char *slash = strchr(argv[i], '/');
        size_t len = slash ? (size_t)(slash - argv[i]) : strlen(argv[i]);
        const rp_test_suite *s = find_suite(argv[i], len);
        if (s == NULL || add_suite(s, slash ? slash + 1 : NULL) <= 0) {
            fprintf(stderr, "run_tests: no suite or test named '%s' (see --list)\n", argv[i]);
            CU_cleanup_registry();
            return 2;
        }
        named++;
    }
    if (named == 0)
        for (size_t s = 0; s < N_SUITES; s++)
            if (!concurrent_only || all_suites[s]->concurrent)
                add_suite(all_suites[s], NULL);

    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failures == 0 ? 0 : 1;
}
