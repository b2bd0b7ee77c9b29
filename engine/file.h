/*
 * file.h (internal) -- whole files: read one with a size bound, replace one
 * atomically. Any thread.
 */
#ifndef RP_ENGINE_FILE_H
#define RP_ENGINE_FILE_H

#include <stddef.h>

/* The whole regular file at path, at most max bytes (malloc'd, with a
 * terminating NUL past *len); NULL with *why (malloc'd) saying why: cannot
 * be opened or read, not a regular file, larger than max. */
void *rp__file_read(const char *path, size_t max, size_t *len /* OUT */, char **why /* OUT */);

/* Writes data to a temporary file beside path (named after this process,
 * so two processes never share one) and renames it over path: readers see
 * the old file or the new one, never a part. 0, or the errno of what
 * failed (the temporary file is removed then). */
int rp__file_replace(const char *path, const void *data, size_t len, unsigned mode);

#endif /* RP_ENGINE_FILE_H */
