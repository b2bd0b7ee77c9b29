/*
 * main.c (tests/neon) -- runs the simd suite (tests/test_simd.c) in the
 * AArch64 cross build, under qemu-user (mk/neon.mk, `make check-neon`),
 * with the CUnit shim of tests/neon/CUnit/ in place of CUnit.
 *
 *   test_simd               every case of the simd suite
 *   test_simd TEST ...      the named cases ("simd/TEST" also accepted)
 *   test_simd --list        the case names, one per line
 *
 * With REPARTIR_SIMD set, the variant it names must be the live one: a
 * CPU (or an emulator) without it would otherwise fall back to another
 * and pass without having run it. Exits 0 when every selected case
 * passed, 1 on a failure, 2 on a bad argument.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/testing.h"

static unsigned long asserts, failures;
static jmp_buf fatal_exit;
static bool in_test;

CU_BOOL
CU_assertImplementation(CU_BOOL value, unsigned int line, const char *condition,
                        const char *file, const char *function, CU_BOOL fatal)
{
    asserts++;
    if (value)
        return value;
    failures++;
    fprintf(stderr, "%s:%u: %s: assertion failed: %s\n", file, line, function, condition);
    if (fatal && in_test)
        longjmp(fatal_exit, 1);
    return value;
}

/* The helpers of tests/testing.h that need no engine beyond the SIMD
 * kernels (tests/run_tests.c has the originals). */
unsigned
rp_test_slowdown(void)
{
    return 1;
}

double
rp_test_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const rp_test_case *
find(const rp_test_suite *s, const char *name)
{
    size_t len = strlen(s->name);

    if (strncmp(name, s->name, len) == 0 && name[len] == '/')
        name += len + 1;
    for (const rp_test_case *c = s->cases; c->name != NULL; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* Runs one case; true when none of its assertions failed. */
static bool
run(const rp_test_suite *s, const rp_test_case *c)
{
    unsigned long before = failures;
    double t0 = rp_test_now();

    in_test = true;
    if (setjmp(fatal_exit) == 0)
        c->fn();
    in_test = false;
    printf("  %s/%-55s %s (%.1f s)\n", s->name, c->name, failures == before ? "ok" : "FAILED",
           rp_test_now() - t0);
    fflush(stdout);
    return failures == before;
}

int
main(int argc, char **argv)
{
    const rp_test_suite *s = &rp_test_suite_simd;
    const char *want = getenv("REPARTIR_SIMD");
    unsigned ran = 0, failed = 0;

    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (const rp_test_case *c = s->cases; c->name != NULL; c++)
            printf("%s/%s\n", s->name, c->name);
        return 0;
    }
    for (int i = 1; i < argc; i++)
        if (find(s, argv[i]) == NULL) {
            fprintf(stderr, "test_simd: no test '%s' (try --list)\n", argv[i]);
            return 2;
        }

    printf("simd suite, live variant: %s (REPARTIR_SIMD%s%s)\n", rp_simd_isa(),
           want != NULL ? "=" : " unset", want != NULL ? want : "");
    if (want != NULL && *want != '\0' && strcmp(rp_simd_isa(), want) != 0) {
        fprintf(stderr, "test_simd: REPARTIR_SIMD=%s, but the live variant is %s\n", want,
                rp_simd_isa());
        return 1;
    }
    for (const rp_test_case *c = s->cases; c->name != NULL; c++) {
        bool selected = argc == 1;
        for (int i = 1; i < argc && !selected; i++)
            selected = find(s, argv[i]) == c;
        if (!selected)
            continue;
        ran++;
        failed += !run(s, c);
    }
    printf("simd suite: %u of %u tests passed; %lu assertions, %lu failed\n", ran - failed, ran,
           asserts, failures);
    return failures == 0 && ran > 0 ? 0 : 1;
}
