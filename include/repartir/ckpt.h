/*
 * repartir/ckpt.h -- the checkpoint store: durable, versioned blobs by key,
 * and a small key-value table, in one directory.
 *
 * A store is a directory: an SQLite index (WAL mode, `store.db`) and a
 * `blobs/` folder of content-addressed files for large checkpoints. Small
 * checkpoints (up to RP_CKPT_INLINE_MAX stored bytes) live in the index.
 * Large ones are compressed with zstd, after a byte-shuffle when the data
 * looks like float32 arrays and the shuffle pays, and written as temp file
 * + fsync + rename + directory fsync; large ones are compressed and written
 * in pieces so that the disk works while the CPU compresses. Every load
 * verifies the SHA-256 of the stored bytes (and zstd its own checksum of
 * the decoded ones); a checkpoint that fails is reported (rp_ckpt_why) and
 * the previous one of the same key is returned instead.
 *
 * Durability: rp_ckpt_save returns only once the checkpoint and its index
 * row are on disk (the index runs synchronous=FULL). After a crash at any
 * moment, a reopened store holds every checkpoint whose save returned, and
 * nothing half-written: an interrupted save leaves either nothing or, at
 * worst, an unreferenced blob that rp_ckpt_open removes.
 *
 * All calls are thread-safe; several processes may open one store (SQLite
 * locks it). docs/store.md describes the schema and its versions.
 * Included by <repartir.h>.
 */
#ifndef REPARTIR_CKPT_H
#define REPARTIR_CKPT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rp_ckpt rp_ckpt;

/* Checkpoints of at most this many stored bytes live in the index (SQLite
 * beats files below ~100 KB); larger ones are files. */
#define RP_CKPT_INLINE_MAX ((size_t)64 << 10)
/* Keys: 1 to this many bytes, any bytes but NUL. */
#define RP_CKPT_KEY_MAX 1024

/* Opens (creating if needed) the store in dir, creating dir too. A store
 * written by an older repartir is upgraded in place; one written by a newer
 * one is refused (RP_ERR_UNSUPPORTED). Removes temp files and unreferenced
 * blobs an interrupted save may have left. Errors: RP_ERR_INVALID (NULL),
 * RP_ERR_IO (cannot create or write dir or index), RP_ERR_CORRUPT (the
 * index is not a repartir store, or is damaged). The caller frees *out with
 * rp_ckpt_close. */
RP_API rp_status rp_ckpt_open(const char *dir, rp_ckpt **out /* OUT */);

/* The same, and on failure *why (may be NULL) = a malloc'd sentence for
 * people ("cannot create /x/store.db: Permission denied"); free it. */
RP_API rp_status rp_ckpt_open_why(const char *dir, rp_ckpt **out /* OUT */,
                                  char **why /* OUT, may be NULL */);

/* Saves data (len bytes, may be 0) as checkpoint `iteration` of key.
 * Durable when it returns RP_OK. Saving an iteration that exists adds a
 * newer version of it (loads return the newest). Errors: RP_ERR_INVALID
 * (bad key, NULL data with len > 0), RP_ERR_IO (disk full, file too large,
 * read-only, I/O error: nothing of this save remains, earlier checkpoints
 * are intact). */
RP_API rp_status rp_ckpt_save(rp_ckpt *s, const char *key, uint64_t iteration,
                              const void *data, size_t len);

/* Loads the newest intact checkpoint of key -- the highest iteration, and
 * of those the last saved (a run restarted from iteration 100 that saves
 * 101 still loads an older 150: delete or clean up first) -- into *data
 * (malloc'd, free() it;
 * NULL when len is 0), *len, *iteration (may be NULL). A newer checkpoint
 * that fails its checksum or cannot be read is skipped, and rp_ckpt_why
 * says so. Errors: RP_ERR_NOT_FOUND (no checkpoint of key), RP_ERR_CORRUPT
 * (there are some, none intact), RP_ERR_IO, RP_ERR_INVALID. */
RP_API rp_status rp_ckpt_load(rp_ckpt *s, const char *key, void **data /* OUT */,
                              size_t *len /* OUT */, uint64_t *iteration /* OUT */);

/* The same for exactly iteration `iteration` of key: its newest intact
 * version. RP_ERR_NOT_FOUND if key has no such iteration, RP_ERR_CORRUPT
 * if no version of it is intact (older iterations are not tried). */
RP_API rp_status rp_ckpt_load_iteration(rp_ckpt *s, const char *key, uint64_t iteration,
                                        void **data /* OUT */, size_t *len /* OUT */);

/* Retention. keep_per_key > 0: keep only the newest keep_per_key
 * checkpoints of each key. max_age_s > 0: remove checkpoints older than
 * that, except the newest of each key (a key always keeps one unless
 * deleted). 0 and 0 removes nothing. *removed (may be NULL) = checkpoints
 * removed. Blob files nobody references any more are deleted. */
RP_API rp_status rp_ckpt_cleanup(rp_ckpt *s, unsigned keep_per_key, unsigned max_age_s,
                                 size_t *removed /* OUT */);

/* Removes every checkpoint of key. *removed as above. */
RP_API rp_status rp_ckpt_delete(rp_ckpt *s, const char *key, size_t *removed /* OUT */);

/* What one checkpoint is, for listings. */
typedef struct rp_ckpt_info {
    const char *key;            /* valid during the callback only */
    uint64_t iteration;
    int64_t created_ms;         /* Unix time */
    const char *codec;          /* "raw", "zstd", "shuffle4+zstd" */
    uint64_t raw_size, stored_size;
    bool inline_stored;
} rp_ckpt_info;
/* Calls fn for every checkpoint of key (all keys if key is NULL), newest
 * first within a key, until fn returns false. */
RP_API rp_status rp_ckpt_list(rp_ckpt *s, const char *key,
                              bool (*fn)(const rp_ckpt_info *info, void *ctx), void *ctx);

/* The detail of the last failure, or of the last skipped checkpoint, of a
 * call on s from this thread: a malloc'd copy, or NULL if none. Free it. */
RP_API char *rp_ckpt_why(rp_ckpt *s);

/* Closes the store. NULL is fine. */
RP_API void rp_ckpt_close(rp_ckpt *s);

/* ---- key-value: small configuration state, durable like checkpoints ---- */

RP_API rp_status rp_ckpt_kv_put(rp_ckpt *s, const char *key, const void *value, size_t len);
/* *value malloc'd (free it; NULL when len is 0). RP_ERR_NOT_FOUND if absent. */
RP_API rp_status rp_ckpt_kv_get(rp_ckpt *s, const char *key, void **value /* OUT */,
                                size_t *len /* OUT */);
/* RP_OK also if it was absent. */
RP_API rp_status rp_ckpt_kv_delete(rp_ckpt *s, const char *key);
/* Calls fn for every key starting with prefix ("" = all), in key order,
 * until fn returns false. */
RP_API rp_status rp_ckpt_kv_list(rp_ckpt *s, const char *prefix,
                                 bool (*fn)(const char *key, const void *value, size_t len,
                                            void *ctx),
                                 void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* REPARTIR_CKPT_H */
