/*
 * alloc.c -- allocation wrappers with the project's single out-of-memory
 * policy (see alloc.h).
 */
#include "engine/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void
rp__out_of_memory(size_t size)
{
    fprintf(stderr, "repartir: out of memory (allocating %zu bytes)\n", size);
    abort();
}

void *
rp_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        rp__out_of_memory(size);
    return p;
}

void *
rp_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);

    if (p == NULL)
        rp__out_of_memory(count * size);
    return p;
}

void *
rp_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);

    if (p == NULL)
        rp__out_of_memory(size);
    return p;
}

char *
rp_xstrdup(const char *s)
{
    size_t len = strlen(s) + 1;

    return memcpy(rp_xmalloc(len), s, len);
}

void *
rp_xaligned_alloc(size_t align, size_t size)
{
    void *p = NULL;

    if (size == 0)
        size = align;
    if (posix_memalign(&p, align, size) != 0)
        rp__out_of_memory(size);
    return p;
}

char *
rp_xmemdup0(const void *p, size_t len)
{
    char *c = rp_xmalloc(len + 1);

    if (len > 0)
        memcpy(c, p, len);
    c[len] = '\0';
    return c;
}

char *
rp_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = rp_xmalloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *
rp__sprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    s = rp_xmalloc((size_t)(n < 0 ? 0 : n) + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}
