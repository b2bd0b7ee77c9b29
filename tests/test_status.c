/*
 * test_status.c -- rp_strerror and rp_version.
 */
#include <stdio.h>
#include <string.h>

#include <repartir.h>

#include "tests/testing.h"

static void
every_status_has_its_own_text(void)
{
    for (int a = 0; a < RP__STATUS_COUNT; a++) {
        const char *ta = rp_strerror((rp_status)a);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ta);
        CU_ASSERT(strlen(ta) > 0);
        CU_ASSERT_STRING_NOT_EQUAL(ta, "unknown status");
        for (int b = 0; b < a; b++)
            CU_ASSERT_STRING_NOT_EQUAL(ta, rp_strerror((rp_status)b));
    }
    CU_ASSERT_EQUAL(RP_OK, 0);
    CU_ASSERT_STRING_EQUAL(rp_strerror(RP_OK), "success");
}

static void
unknown_status_is_named_not_crashed(void)
{
    CU_ASSERT_STRING_EQUAL(rp_strerror(RP__STATUS_COUNT), "unknown status");
    CU_ASSERT_STRING_EQUAL(rp_strerror((rp_status)-1), "unknown status");
    CU_ASSERT_STRING_EQUAL(rp_strerror((rp_status)12345), "unknown status");
}

static void
version_is_semver(void)
{
    const char *v = rp_version();
    unsigned major, minor, patch;
    char tail;

    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(sscanf(v, "%u.%u.%u%c", &major, &minor, &patch, &tail), 3);
}

static const rp_test_case cases[] = {
    { "every_status_has_its_own_text", every_status_has_its_own_text },
    { "unknown_status_is_named_not_crashed", unknown_status_is_named_not_crashed },
    { "version_is_semver", version_is_semver },
    { NULL, NULL },
};

const rp_test_suite rp_test_suite_status = { "status", cases, false };
