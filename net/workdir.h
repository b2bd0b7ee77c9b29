/*
 * workdir.h -- a worker's work dir: the files shipped with tasks, kept by
 * content (SHA-256) and laid out per attempt under safe names, and the
 * --allow list of programs it may run (docs/protocol.md, "files").
 *
 *   DIR/files/<sha256>            one cached copy of each file, read-only
 *   DIR/files/.in-<sha256>.<n>    a file being received (removed if it fails)
 *   DIR/runs/<name>/<file name>   an attempt's files, copied from the cache
 *                                 (a task may change its own files, never
 *                                 the cache)
 *
 * A received file is written to a temp file, its size and SHA-256 checked,
 * then fsync'd and renamed into place: the cache never holds a file whose
 * name is not its hash. Names come from the network: each is checked
 * (rp__proto_safe_name) and every directory on the way is created here
 * and opened without following links, so nothing lands outside the run
 * dir.
 *
 * THREADS: one rp_workdir per daemon; its calls are for one thread at a
 * time (the daemon's service thread).
 */
#ifndef RP_NET_WORKDIR_H
#define RP_NET_WORKDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <repartir.h>

typedef struct rp_workdir rp_workdir;
typedef struct rp_file_in rp_file_in;

/* Opens (creating) dir and its files/ and runs/ parts. RP_ERR_IO with *why. */
rp_status rp__workdir_open(const char *dir, rp_workdir **out /* OUT */, char **why /* OUT */);
void rp__workdir_close(rp_workdir *w);

/* Whether the cache has the file of this hash (64 lowercase hex). */
bool rp__workdir_has(rp_workdir *w, const char *sha256);

/* Starts receiving a file of `size` bytes that must hash to sha256.
 * RP_ERR_INVALID for a bad hash text or a size over max_size; RP_ERR_IO. */
rp_status rp__workdir_receive(rp_workdir *w, const char *sha256, uint64_t size,
                              uint64_t max_size, rp_file_in **out /* OUT */, char **why /* OUT */);
/* Appends bytes; RP_ERR_INVALID past the announced size. */
rp_status rp__file_in_write(rp_file_in *f, const void *data, size_t len, char **why /* OUT */);
/* Checks size and hash, then puts the file in the cache. Frees f whatever
 * happens. RP_ERR_CORRUPT on a short file or a wrong hash. */
rp_status rp__file_in_finish(rp_file_in *f, char **why /* OUT */);
/* Drops a file being received. NULL is fine. */
void rp__file_in_abort(rp_file_in *f);

struct rp_staged_file {
    const char *name;               /* relative, checked with rp__proto_safe_name */
    const char *sha256;             /* in the cache already */
    unsigned mode;                  /* permission bits, at most 07777 */
};

/* Makes the run dir DIR/runs/<run> (a new, empty directory: RP_ERR_BUSY if
 * it exists) and puts each file there under its name, with its mode.
 * *path = the run dir (malloc'd). RP_ERR_INVALID for an unsafe name, a
 * bad run name, a file missing from the cache, or two files whose names
 * collide; RP_ERR_IO. On error nothing is left behind. */
rp_status rp__workdir_stage(rp_workdir *w, const char *run, const struct rp_staged_file *files,
                            size_t n, char **path /* OUT */, char **why /* OUT */);
/* Removes a run dir made by rp__workdir_stage. */
void rp__workdir_unstage(rp_workdir *w, const char *run);

/* --allow: whether the program at `path` may run. path is made absolute
 * and canonical first (realpath: links and .. resolved), then must equal
 * a prefix or lie under it ("/usr/bin" allows /usr/bin/python3, not
 * /usr/bin2/x). No prefixes: everything is allowed. *why on a refusal
 * names the program. */
bool rp__allow_program(const char *const *prefixes, size_t n, const char *path,
                       char **why /* OUT */);

/* The SHA-256 (64 lowercase hex), size and permission bits of the
 * regular file at path, read through once. RP_ERR_IO (cannot open or
 * read) or RP_ERR_INVALID (not a regular file) with *why. Any thread. */
rp_status rp__file_sha256(const char *path, char hex[65], uint64_t *size, unsigned *mode,
                          char **why /* OUT */);

#endif /* RP_NET_WORKDIR_H */
