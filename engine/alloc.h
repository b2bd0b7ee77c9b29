/*
 * alloc.h -- the one out-of-memory policy: these never return NULL. When the
 * system has no memory left they print the size asked for and abort, as
 * tmux's xmalloc and Redis's zmalloc do. Bad *input* must never reach an
 * abort: callers validate sizes before allocating.
 */
#ifndef RP_ALLOC_H
#define RP_ALLOC_H

#include <stddef.h>

void *rp_xmalloc(size_t size);
void *rp_xcalloc(size_t count, size_t size);
void *rp_xrealloc(void *ptr, size_t size);
char *rp_xstrdup(const char *s);
/* The first n bytes of s (fewer if it ends before), NUL-terminated. */
char *rp_xstrndup(const char *s, size_t n);
/* A copy of len bytes (NUL bytes included) and a terminating NUL. */
char *rp_xmemdup0(const void *p, size_t len);
/* The policy itself, for a library that reports failure without a size. */
_Noreturn void rp__out_of_memory(size_t size);
/* malloc'd printf. */
char *rp__sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* align: a power of two that is a multiple of sizeof(void *); free with free(). */
void *rp_xaligned_alloc(size_t align, size_t size);

#endif /* RP_ALLOC_H */
