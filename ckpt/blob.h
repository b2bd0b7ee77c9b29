/*
 * blob.h (internal) -- how checkpoint bytes are stored: the codec choice
 * (raw, zstd, or a 4-byte shuffle then zstd), SHA-256 of the original, and
 * durable files (temp + fsync + rename + directory fsync).
 *
 * Nothing here keeps state; every function is safe from any thread.
 */
#ifndef RP_CKPT_BLOB_H
#define RP_CKPT_BLOB_H

#include <stddef.h>

#include <repartir.h>

#define RP__SHA256_HEX 65               /* 64 hex digits and a NUL */

struct rp__blob {
    unsigned char *data;                /* malloc'd; NULL when len is 0 */
    size_t len;
    const char *codec;                  /* static: "raw", "zstd", "shuffle4+zstd" */
};

void rp__sha256_hex(const void *data, size_t len, char out[RP__SHA256_HEX]);

/* Encodes raw into its stored form, choosing the codec: shuffle when the
 * bytes look like 4-byte numbers and shuffling a sample compresses it
 * better, raw when compression saves less than 3%. */
void rp__blob_encode(const void *raw, size_t len, struct rp__blob *out /* OUT */);

/* Decodes stored bytes written with codec into *out (malloc'd, raw_len
 * bytes). RP_ERR_CORRUPT with *why when they do not decode to exactly
 * raw_len bytes. */
rp_status rp__blob_decode(const char *codec, const void *stored, size_t stored_len,
                          size_t raw_len, void **out /* OUT */, char **why /* OUT */);

/* Writes data as path, durably: path.tmp.<unique>, fsync, rename, fsync of
 * the directory. On failure nothing is left and *why says what failed. */
rp_status rp__blob_write(const char *path, const void *data, size_t len, char **why /* OUT */);

/* What rp__blob_stream wrote. */
struct rp__stored {
    char sha[RP__SHA256_HEX];           /* of the stored bytes */
    size_t len;                         /* stored bytes */
    const char *codec;
};

/* Encodes raw into a new file tmp_path, durably (fsync), overlapping the
 * work: the codec is chosen on a sample, then the bytes are compressed in
 * 1 MiB pieces, each written and its writeback started at once
 * (sync_file_range) while the next is compressed, and hashed as written.
 * The caller renames the file into place. On failure nothing is left. */
rp_status rp__blob_stream(const void *raw, size_t len, const char *tmp_path,
                          struct rp__stored *out /* OUT */, char **why /* OUT */);

/* SHA-256 of data, computed on another thread while fn(arg) runs on this
 * one (when data is large enough to be worth a thread). */
void rp__sha256_hex_while(const void *data, size_t len, char out[RP__SHA256_HEX],
                          void (*fn)(void *arg), void *arg);

/* Reads a whole file that should hold `expected` bytes ((size_t)-1: any).
 * RP_ERR_NOT_FOUND if it is missing, RP_ERR_CORRUPT if its size is wrong
 * or it shrank, RP_ERR_IO for anything else (permissions, no fd, EIO):
 * only the first two say anything about the data. *why on failure. */
rp_status rp__blob_read(const char *path, size_t expected, void **data /* OUT */,
                        size_t *len /* OUT */, char **why /* OUT */);

#endif /* RP_CKPT_BLOB_H */
