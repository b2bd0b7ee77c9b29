/*
 * alloc.c -- allocation wrappers with the project's single out-of-memory
 * policy (see alloc.h).
 */
#include "engine/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Noreturn void
out_of_memory(size_t size)
{
    fprintf(stderr, "repartir: out of memory (allocating %zu bytes)\n", size);
    abort();
}

void *
rp_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL)
        out_of_memory(size);
    return p;
}

void *
rp_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);

    if (p == NULL)
        out_of_memory(count * size);
    return p;
}

void *
rp_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);

    if (p == NULL)
        out_of_memory(size);
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
        out_of_memory(size);
    return p;
}
