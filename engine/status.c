/*
 * status.c -- rp_strerror and rp_version, generated from RP_STATUS_MAP so
 * that every status has exactly one description.
 */
#include <repartir.h>

#ifndef RP_VERSION
#error "RP_VERSION must come from the Makefile"
#endif

static const char *const status_text[] = {
#define RP__STATUS_TEXT(name, text) [RP_##name] = text,
    RP_STATUS_MAP(RP__STATUS_TEXT)
#undef RP__STATUS_TEXT
};

const char *
rp_strerror(rp_status s)
{
    if ((unsigned)s >= RP__STATUS_COUNT)
        return "unknown status";
    return status_text[s];
}

const char *
rp_version(void)
{
    return RP_VERSION;
}
