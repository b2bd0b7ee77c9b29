/*
 * CUnit/CUnit.h (shim) -- the assertions of CUnit's CUnit.h, enough for a
 * suite file to build where CUnit is not installed: the AArch64 cross
 * build of tests/test_simd.c (mk/neon.mk), where an arm64 CUnit would
 * take a multiarch install. tests/neon/main.c implements them and runs the
 * cases; there is no registry and no runner API here.
 *
 * Each assertion is counted; a failed one prints file:line and the
 * assertion as written and fails the run (the driver exits non-zero).
 * A failed _FATAL one also ends the current test, as in CUnit.
 */
#ifndef RP_TESTS_NEON_CUNIT_H
#define RP_TESTS_NEON_CUNIT_H

#include <math.h>
#include <string.h>

typedef int CU_BOOL;
#define CU_TRUE 1
#define CU_FALSE 0

/* Records one assertion: `value` true passes. On a failure, prints where
 * and what; with `fatal`, leaves the running test (longjmp to the
 * driver). Returns value. */
CU_BOOL CU_assertImplementation(CU_BOOL value, unsigned int line, const char *condition,
                                const char *file, const char *function, CU_BOOL fatal);

#define RP__CU_CHECK(value, text, fatal)                                          \
    do {                                                                          \
        CU_assertImplementation(!!(value), __LINE__, (text), __FILE__, __func__, \
                                (fatal));                                         \
    } while (0)
/* Messages are stringized by the public macros themselves, so that they
 * show the assertion as written, not macro-expanded. */
#define RP__CU_PTR(x) ((const void *)(x))
#define RP__CU_STREQ(a, e) (strcmp((const char *)(a), (const char *)(e)) == 0)
#define RP__CU_NEAR(a, e, g) (fabs((double)(a) - (double)(e)) <= fabs((double)(g)))

#define CU_PASS(msg) RP__CU_CHECK(CU_TRUE, "CU_PASS(" #msg ")", CU_FALSE)
#define CU_FAIL(msg) RP__CU_CHECK(CU_FALSE, "CU_FAIL(" #msg ")", CU_FALSE)
#define CU_FAIL_FATAL(msg) RP__CU_CHECK(CU_FALSE, "CU_FAIL_FATAL(" #msg ")", CU_TRUE)

#define CU_ASSERT(value) RP__CU_CHECK((value), #value, CU_FALSE)
#define CU_ASSERT_FATAL(value) RP__CU_CHECK((value), #value, CU_TRUE)
#define CU_TEST(value) RP__CU_CHECK((value), #value, CU_FALSE)
#define CU_TEST_FATAL(value) RP__CU_CHECK((value), #value, CU_TRUE)
#define CU_ASSERT_TRUE(value) RP__CU_CHECK((value), "CU_ASSERT_TRUE(" #value ")", CU_FALSE)
#define CU_ASSERT_TRUE_FATAL(value)                                               \
    RP__CU_CHECK((value), "CU_ASSERT_TRUE_FATAL(" #value ")", CU_TRUE)
#define CU_ASSERT_FALSE(value) RP__CU_CHECK(!(value), "CU_ASSERT_FALSE(" #value ")", CU_FALSE)
#define CU_ASSERT_FALSE_FATAL(value)                                              \
    RP__CU_CHECK(!(value), "CU_ASSERT_FALSE_FATAL(" #value ")", CU_TRUE)

#define CU_ASSERT_EQUAL(a, e)                                                     \
    RP__CU_CHECK((a) == (e), "CU_ASSERT_EQUAL(" #a ", " #e ")", CU_FALSE)
#define CU_ASSERT_EQUAL_FATAL(a, e)                                               \
    RP__CU_CHECK((a) == (e), "CU_ASSERT_EQUAL_FATAL(" #a ", " #e ")", CU_TRUE)
#define CU_ASSERT_NOT_EQUAL(a, e)                                                 \
    RP__CU_CHECK((a) != (e), "CU_ASSERT_NOT_EQUAL(" #a ", " #e ")", CU_FALSE)
#define CU_ASSERT_NOT_EQUAL_FATAL(a, e)                                           \
    RP__CU_CHECK((a) != (e), "CU_ASSERT_NOT_EQUAL_FATAL(" #a ", " #e ")", CU_TRUE)

#define CU_ASSERT_PTR_EQUAL(a, e)                                                 \
    RP__CU_CHECK(RP__CU_PTR(a) == RP__CU_PTR(e), "CU_ASSERT_PTR_EQUAL(" #a ", " #e ")", CU_FALSE)
#define CU_ASSERT_PTR_EQUAL_FATAL(a, e)                                           \
    RP__CU_CHECK(RP__CU_PTR(a) == RP__CU_PTR(e),                                  \
                 "CU_ASSERT_PTR_EQUAL_FATAL(" #a ", " #e ")", CU_TRUE)
#define CU_ASSERT_PTR_NOT_EQUAL(a, e)                                             \
    RP__CU_CHECK(RP__CU_PTR(a) != RP__CU_PTR(e),                                  \
                 "CU_ASSERT_PTR_NOT_EQUAL(" #a ", " #e ")", CU_FALSE)
#define CU_ASSERT_PTR_NOT_EQUAL_FATAL(a, e)                                       \
    RP__CU_CHECK(RP__CU_PTR(a) != RP__CU_PTR(e),                                  \
                 "CU_ASSERT_PTR_NOT_EQUAL_FATAL(" #a ", " #e ")", CU_TRUE)
#define CU_ASSERT_PTR_NULL(value)                                                 \
    RP__CU_CHECK(RP__CU_PTR(value) == NULL, "CU_ASSERT_PTR_NULL(" #value ")", CU_FALSE)
#define CU_ASSERT_PTR_NULL_FATAL(value)                                           \
    RP__CU_CHECK(RP__CU_PTR(value) == NULL, "CU_ASSERT_PTR_NULL_FATAL(" #value ")", CU_TRUE)
#define CU_ASSERT_PTR_NOT_NULL(value)                                             \
    RP__CU_CHECK(RP__CU_PTR(value) != NULL, "CU_ASSERT_PTR_NOT_NULL(" #value ")", CU_FALSE)
#define CU_ASSERT_PTR_NOT_NULL_FATAL(value)                                       \
    RP__CU_CHECK(RP__CU_PTR(value) != NULL, "CU_ASSERT_PTR_NOT_NULL_FATAL(" #value ")",   \
                 CU_TRUE)

#define CU_ASSERT_STRING_EQUAL(a, e)                                              \
    RP__CU_CHECK(RP__CU_STREQ(a, e), "CU_ASSERT_STRING_EQUAL(" #a ", " #e ")", CU_FALSE)
#define CU_ASSERT_STRING_EQUAL_FATAL(a, e)                                        \
    RP__CU_CHECK(RP__CU_STREQ(a, e), "CU_ASSERT_STRING_EQUAL_FATAL(" #a ", " #e ")", CU_TRUE)
#define CU_ASSERT_STRING_NOT_EQUAL(a, e)                                          \
    RP__CU_CHECK(!RP__CU_STREQ(a, e), "CU_ASSERT_STRING_NOT_EQUAL(" #a ", " #e ")", CU_FALSE)
#define CU_ASSERT_NSTRING_EQUAL(a, e, count)                                      \
    RP__CU_CHECK(strncmp((const char *)(a), (const char *)(e), (size_t)(count)) == 0, \
                 "CU_ASSERT_NSTRING_EQUAL(" #a ", " #e ", " #count ")", CU_FALSE)

#define CU_ASSERT_DOUBLE_EQUAL(a, e, granularity)                                 \
    RP__CU_CHECK(RP__CU_NEAR(a, e, granularity),                                  \
                 "CU_ASSERT_DOUBLE_EQUAL(" #a ", " #e ", " #granularity ")", CU_FALSE)
#define CU_ASSERT_DOUBLE_EQUAL_FATAL(a, e, granularity)                           \
    RP__CU_CHECK(RP__CU_NEAR(a, e, granularity),                                  \
                 "CU_ASSERT_DOUBLE_EQUAL_FATAL(" #a ", " #e ", " #granularity ")", CU_TRUE)

#endif /* RP_TESTS_NEON_CUNIT_H */
