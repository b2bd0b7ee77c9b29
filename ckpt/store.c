/*
 * store.c -- the checkpoint store: an SQLite index in WAL mode plus
 * content-addressed blob files (blob.c). Schema and guarantees are in
 * docs/store.md; the contract in include/repartir/ckpt.h.
 *
 * DURABILITY: synchronous=FULL, so a commit has fsynced the WAL. A save
 * of 1 MiB or more first streams its blob into blobs/tmp.<pid>.<n>
 * (fsynced) without any lock; then, inside one BEGIN IMMEDIATE
 * transaction, renames it into place (+ directory fsyncs) and inserts its
 * row. Smaller blob files are written inside the transaction. While a
 * save holds the write lock no other connection (thread or process) can
 * sweep, and a sweep leaves the temp files of live processes alone, so
 * the only unreferenced files are those of saves that crashed, and
 * rp_ckpt_open sweeps them (under the same write lock).
 *
 * THREADS: `lock` serializes use of the one connection (opened NOMUTEX).
 * Encoding and streaming saves and reading blob files happen outside it;
 * see the limits in docs/store.md. The detail
 * behind a failure is kept per thread (a pthread key), tagged with the
 * store it is about.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <repartir.h>

#include "ckpt/blob.h"
#include "ckpt/store.h"
#include "engine/alloc.h"
#include "engine/clock.h"

#define APPLICATION_ID 0x72707274       /* "rprt" */
#define BUSY_TIMEOUT_MS 10000

/* Each entry takes the schema from version i to i + 1 (docs/store.md). A
 * newer binary applies the ones an older store lacks, in order. */
static const char *const migrations[] = {
    /* 0 -> 1: checkpoints and key-value. */
    "CREATE TABLE checkpoints ("
    "  id INTEGER PRIMARY KEY,"
    "  key TEXT NOT NULL,"
    "  iteration INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  codec TEXT NOT NULL,"
    "  raw_size INTEGER NOT NULL,"
    "  stored_size INTEGER NOT NULL,"
    "  sha256 TEXT NOT NULL,"
    "  inline_data BLOB,"
    "  blob TEXT);"
    "CREATE INDEX checkpoints_by_key ON checkpoints (key, iteration, id);"
    "CREATE INDEX checkpoints_by_blob ON checkpoints (blob);"
    "CREATE TABLE kv ("
    "  key TEXT PRIMARY KEY,"
    "  value BLOB NOT NULL,"
    "  updated_ms INTEGER NOT NULL);",
    /* 1 -> 2: durable jobs (ckpt/journal.c), data locations, cached results. */
    "CREATE TABLE jobs ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT,"
    "  kind TEXT NOT NULL,"
    "  spec TEXT NOT NULL,"
    "  stdin BLOB,"
    "  total INTEGER NOT NULL,"
    "  submitted_ms INTEGER NOT NULL,"
    "  restored_from INTEGER);"
    "CREATE TABLE tasks ("
    "  id INTEGER PRIMARY KEY,"
    "  job INTEGER NOT NULL,"
    "  shard INTEGER NOT NULL,"
    "  state TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  interrupted INTEGER NOT NULL DEFAULT 0,"
    "  origin INTEGER NOT NULL,"
    "  pid INTEGER,"
    "  pid_start INTEGER,"
    "  exit_code INTEGER,"
    "  signal INTEGER,"
    "  error TEXT,"
    "  stdout BLOB,"
    "  stdout_total INTEGER,"
    "  stderr BLOB,"
    "  stderr_total INTEGER,"
    "  started_ms INTEGER,"
    "  ended_ms INTEGER,"
    "  wall_ns INTEGER,"
    "  user_ns INTEGER,"
    "  system_ns INTEGER,"
    "  max_rss_kb INTEGER,"
    "  updated_ms INTEGER NOT NULL);"
    "CREATE INDEX tasks_by_job ON tasks (job, shard);"
    "CREATE INDEX tasks_unfinished ON tasks (id) WHERE state IN ('queued', 'running');"
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL,"
    "  task INTEGER NOT NULL,"
    "  job INTEGER NOT NULL,"
    "  state TEXT NOT NULL,"
    "  attempt INTEGER NOT NULL,"
    "  exit_code INTEGER,"
    "  signal INTEGER);"
    "CREATE INDEX events_by_task ON events (task);"
    "CREATE TABLE data_locations ("
    "  key TEXT NOT NULL,"
    "  node TEXT NOT NULL,"
    "  size INTEGER,"
    "  updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (key, node));"
    "CREATE TABLE results_cache ("
    "  key TEXT PRIMARY KEY,"
    "  task INTEGER,"
    "  value BLOB NOT NULL,"
    "  created_ms INTEGER NOT NULL);",
};

#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

struct rp_ckpt {
    pthread_mutex_t lock;
    sqlite3 *db;
    char *dir, *blobs;
};

/* ---- the detail of failures, per thread ---- */

struct why {
    const rp_ckpt *store;
    char *text;
};

static pthread_key_t why_key;
static pthread_once_t why_once = PTHREAD_ONCE_INIT;

static void
why_free(void *p)
{
    struct why *w = p;

    free(w->text);
    free(w);
}

static void
why_init(void)
{
    pthread_key_create(&why_key, why_free);
}

/* Takes text (malloc'd or NULL). */
static void
set_why(const rp_ckpt *s, char *text)
{
    struct why *w;

    pthread_once(&why_once, why_init);
    w = pthread_getspecific(why_key);
    if (w == NULL) {
        w = rp_xcalloc(1, sizeof *w);
        pthread_setspecific(why_key, w);
    }
    free(w->text);
    w->store = s;
    w->text = text;
}

char *
rp_ckpt_why(rp_ckpt *s)
{
    struct why *w;

    pthread_once(&why_once, why_init);
    w = pthread_getspecific(why_key);
    if (w == NULL || w->store != s || w->text == NULL)
        return NULL;
    return rp_xstrdup(w->text);
}

/* ---- SQLite helpers ---- */

static rp_status
status_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return RP_OK;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return RP_ERR_CORRUPT;
    default:
        return RP_ERR_IO;
    }
}

/* Records what failed and returns its status. */
static rp_status
db_fail(rp_ckpt *s, const char *what)
{
    int rc = sqlite3_extended_errcode(s->db);

    set_why(s, rp__sprintf("%s/store.db: %s: %s", s->dir, what, sqlite3_errmsg(s->db)));
    return status_of(rc) == RP_OK ? RP_ERR_IO : status_of(rc);
}

static rp_status
exec(rp_ckpt *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? RP_OK : db_fail(s, sql);
}

/* Ends a failed transaction, if SQLite has not already (it rolls back by
 * itself on SQLITE_FULL and others): without overwriting the reason. */
static void
rollback(rp_ckpt *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static sqlite3_stmt *
prepare(rp_ckpt *s, const char *sql)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, "prepare");
        return NULL;
    }
    return st;
}

static bool
key_ok(const char *key)
{
    size_t n;

    if (key == NULL)
        return false;
    n = strnlen(key, RP_CKPT_KEY_MAX + 1);
    return n >= 1 && n <= RP_CKPT_KEY_MAX;
}

/* blobs/ab/abcdef....blob */
static char *
blob_path(const rp_ckpt *s, const char *name)
{
    return rp__sprintf("%s/%.2s/%s", s->blobs, name, name);
}

/* ---- the sweep: temp files and unreferenced blobs ---- */

static bool
referenced(rp_ckpt *s, const char *name)
{
    sqlite3_stmt *st = prepare(s, "SELECT 1 FROM checkpoints WHERE blob = ? LIMIT 1");
    bool found = true;                   /* when in doubt, keep the file */

    if (st == NULL)
        return true;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step(st) != SQLITE_DONE;
    sqlite3_finalize(st);
    return found;
}

/* Lock held, inside BEGIN IMMEDIATE: no save is between its file and its
 * row. Returns the number of files removed. */
static size_t
sweep(rp_ckpt *s)
{
    DIR *top = opendir(s->blobs);
    struct dirent *d;
    size_t removed = 0;

    if (top == NULL)
        return 0;
    while ((d = readdir(top)) != NULL) {
        char *sub;
        DIR *dir;
        struct dirent *f;

        if (d->d_name[0] == '.')
            continue;
        if (strncmp(d->d_name, "tmp.", 4) == 0) {
            /* A streamed save: being written by a live process (they
             * stream before they take the write lock), or one that never
             * got renamed into place. */
            long pid = strtol(d->d_name + 4, NULL, 10);
            if (pid > 0 && (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno == EPERM))
                continue;
            char *path = rp__sprintf("%s/%s", s->blobs, d->d_name);
            if (unlink(path) == 0)
                removed++;
            free(path);
            continue;
        }
        sub = rp__sprintf("%s/%s", s->blobs, d->d_name);
        dir = opendir(sub);
        while (dir != NULL && (f = readdir(dir)) != NULL) {
            if (f->d_name[0] == '.')
                continue;
            if (strstr(f->d_name, ".tmp.") != NULL || !referenced(s, f->d_name)) {
                char *path = rp__sprintf("%s/%s", sub, f->d_name);
                if (unlink(path) == 0)
                    removed++;
                free(path);
            }
        }
        if (dir != NULL)
            closedir(dir);
        rmdir(sub);                      /* only if empty */
        free(sub);
    }
    closedir(top);
    return removed;
}

static rp_status
sweep_locked(rp_ckpt *s)
{
    rp_status status = exec(s, "BEGIN IMMEDIATE");

    if (status != RP_OK)
        return status;
    sweep(s);
    return exec(s, "COMMIT");
}

/* ---- open and close ---- */

/* fsync of a directory: makes the entries created in it durable. */
static int
fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 ? -1 : fsync(fd);

    if (fd >= 0)
        close(fd);
    return rc;
}

/* mkdir, and when it made one, fsync of the parent: a checkpoint saved
 * into a new blobs/xx/ must not vanish with its directory entry. */
static rp_status
make_dir(const char *path, char **why)
{
    struct stat st;

    if (mkdir(path, 0700) == 0) {
        char *parent = rp_xstrdup(path);
        char *slash = strrchr(parent, '/');
        int rc;
        /* "store" lives in ".", "/store" in "/". */
        if (slash == NULL)
            rc = fsync_dir(".");
        else if (slash == parent)
            rc = fsync_dir("/");
        else {
            *slash = '\0';
            rc = fsync_dir(parent);
        }
        free(parent);
        if (rc == 0)
            return RP_OK;
        *why = rp__sprintf("cannot fsync the directory above %s: %s", path, strerror(errno));
        return RP_ERR_IO;
    }
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return RP_OK;
    *why = rp__sprintf("cannot create directory %s: %s", path,
                       errno == EEXIST ? "a file is in the way" : strerror(errno));
    return RP_ERR_IO;
}

/* mkdir -p */
static rp_status
make_dirs(const char *path, char **why)
{
    char *copy = rp_xstrdup(path);
    rp_status status = RP_OK;

    for (char *p = copy + 1; *p != '\0' && status == RP_OK; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        status = make_dir(copy, why);
        *p = '/';
    }
    if (status == RP_OK)
        status = make_dir(copy, why);
    free(copy);
    return status;
}

static int
pragma_int(rp_ckpt *s, const char *sql, bool *failed)
{
    sqlite3_stmt *st = prepare(s, sql);
    int v = 0;

    if (st == NULL || sqlite3_step(st) != SQLITE_ROW)
        *failed = true;
    else
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Is this our store, and which version? Reads only: a foreign or newer
 * database is refused before anything in it is changed. */
static rp_status
identify(rp_ckpt *s, int *version, char **why)
{
    /* One snapshot for the three reads: another process may be creating
     * the schema right now, and half of its work must not look foreign. */
    bool failed = false, own = sqlite3_get_autocommit(s->db) &&
                                sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    int app = pragma_int(s, "PRAGMA application_id", &failed);
    int tables = pragma_int(s, "SELECT count(*) FROM sqlite_master", &failed);

    *version = pragma_int(s, "PRAGMA user_version", &failed);
    /* Read before the COMMIT, which succeeds and clears the error code. */
    bool corrupt = failed && status_of(sqlite3_extended_errcode(s->db)) == RP_ERR_CORRUPT;
    if (own)
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (failed) {
        *why = rp_ckpt_why(s);
        return corrupt ? RP_ERR_CORRUPT : RP_ERR_IO;
    }
    /* A new database is empty; anything else without our id is foreign. */
    if (app != APPLICATION_ID && (app != 0 || *version != 0 || tables != 0)) {
        *why = rp__sprintf("%s/store.db is not a repartir store", s->dir);
        return RP_ERR_CORRUPT;
    }
    if (*version > SCHEMA_VERSION) {
        *why = rp__sprintf("%s/store.db has schema version %d; this repartir knows up to %d",
                           s->dir, *version, SCHEMA_VERSION);
        return RP_ERR_UNSUPPORTED;
    }
    return RP_OK;
}

/* Brings the schema to SCHEMA_VERSION, under the write lock (another
 * process may be migrating the same store: look again once we hold it). */
static rp_status
migrate(rp_ckpt *s, char **why)
{
    int version;
    rp_status status;

    if ((status = exec(s, "BEGIN IMMEDIATE")) != RP_OK)
        return status;
    if ((status = identify(s, &version, why)) != RP_OK) {
        rollback(s);
        return status;
    }
    for (; version < SCHEMA_VERSION; version++) {
        char *set = rp__sprintf("PRAGMA user_version = %d", version + 1);
        status = exec(s, migrations[version]);
        if (status == RP_OK)
            status = exec(s, set);
        free(set);
        if (status != RP_OK) {
            rollback(s);
            return status;
        }
    }
    {
        char *set_app = rp__sprintf("PRAGMA application_id = %d", APPLICATION_ID);
        status = exec(s, set_app);
        free(set_app);
    }
    if (status != RP_OK) {
        rollback(s);
        return status;
    }
    return exec(s, "COMMIT");
}

/* Switching to WAL needs a moment alone with the file, and the busy
 * handler does not cover it: when other openers are at it too, retry. */
static rp_status
set_wal(rp_ckpt *s)
{
    for (int tries = 0; tries < 500; tries++) {
        int rc = sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            return rc == SQLITE_OK ? RP_OK : db_fail(s, "PRAGMA journal_mode = WAL");
        struct timespec pause = { 0, 10 * 1000000L };
        nanosleep(&pause, NULL);
    }
    return db_fail(s, "PRAGMA journal_mode = WAL");
}

/* The sweep at open, if the write lock is free now: a save in progress
 * elsewhere would make an open wait for it, and a listing has no reason
 * to. What is left is swept by the next open or cleanup. */
static void
sweep_if_free(rp_ckpt *s)
{
    sqlite3_busy_timeout(s->db, 0);
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK) {
        sweep(s);
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
}

static void
store_free(rp_ckpt *s)
{
    if (s->db != NULL)
        sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s->dir);
    free(s->blobs);
    free(s);
}

rp_status
rp_ckpt_open_why(const char *dir, rp_ckpt **out, char **why)
{
    rp_ckpt *s;
    char *path = NULL, *detail = NULL;
    rp_status status;
    int rc;

    if (why != NULL)
        *why = NULL;
    if (out == NULL)
        return RP_ERR_INVALID;
    *out = NULL;
    if (dir == NULL || dir[0] == '\0')
        return RP_ERR_INVALID;
    s = rp_xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    s->dir = rp_xstrdup(dir);
    s->blobs = rp__sprintf("%s/blobs", dir);
    if ((status = make_dirs(dir, &detail)) != RP_OK)
        goto fail;
    /* "./" before a relative path: SQLite (built with URI support) would
     * read "file:x/store.db" as a URI. */
    path = rp__sprintf("%s%s/store.db", dir[0] == '/' ? "" : "./", dir);
    rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                           SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        detail = rp__sprintf("cannot open %s: %s", path,
                             s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        status = status_of(rc) == RP_OK ? RP_ERR_IO : status_of(rc);
        goto fail;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(s->db, 1);
    /* Ours (or new), and not from a newer repartir, before anything is
     * changed. Then WAL: readers never block the writer; FULL: a commit is
     * on disk. The write lock only when the schema needs work. */
    int version;
    if ((status = identify(s, &version, &detail)) != RP_OK ||
        (status = set_wal(s)) != RP_OK ||
        (status = exec(s, "PRAGMA synchronous = FULL")) != RP_OK ||
        (version < SCHEMA_VERSION && (status = migrate(s, &detail)) != RP_OK) ||
        (status = make_dir(s->blobs, &detail)) != RP_OK) {
        if (detail == NULL)
            detail = rp_ckpt_why(s);
        goto fail;
    }
    sweep_if_free(s);
    free(path);
    *out = s;
    return RP_OK;

fail:
    if (why != NULL)
        *why = detail;
    else
        free(detail);
    free(path);
    store_free(s);
    return status;
}

rp_status
rp_ckpt_open(const char *dir, rp_ckpt **out)
{
    return rp_ckpt_open_why(dir, out, NULL);
}

void
rp_ckpt_close(rp_ckpt *s)
{
    if (s != NULL)
        store_free(s);
}

/* ---- save ---- */

/* From this size a save streams: compression, writing and hashing overlap. */
#define STREAM_MIN ((size_t)1 << 20)

static _Atomic unsigned long tmp_counter;

/* Moves a streamed temp file to blobs/xx/name and makes both directory
 * entries durable. */
static rp_status
place_blob(rp_ckpt *s, const char *tmp, const char *name, char **why)
{
    char *sub = rp__sprintf("%s/%.2s", s->blobs, name);
    char *path = rp__sprintf("%s/%s", sub, name);
    rp_status status = make_dir(sub, why);

    if (status == RP_OK && rename(tmp, path) != 0) {
        *why = rp__sprintf("cannot rename %s to %s: %s", tmp, path, strerror(errno));
        status = RP_ERR_IO;
    }
    if (status == RP_OK && (fsync_dir(sub) != 0 || fsync_dir(s->blobs) != 0)) {
        *why = rp__sprintf("cannot fsync %s: %s", sub, strerror(errno));
        status = RP_ERR_IO;
    }
    if (status != RP_OK)
        unlink(tmp);
    free(sub);
    free(path);
    return status;
}

/* The row of a saved checkpoint. Lock held, inside the transaction. */
static rp_status
insert_row(rp_ckpt *s, const char *key, uint64_t iteration, const char *codec, size_t raw_len,
           size_t stored_len, const char *sha, const void *inline_data, const char *blob)
{
    sqlite3_stmt *st = prepare(s, "INSERT INTO checkpoints (key, iteration, created_ms, codec,"
                                  " raw_size, stored_size, sha256, inline_data, blob)"
                                  " VALUES (?,?,?,?,?,?,?,?,?)");
    rp_status status = RP_OK;

    if (st == NULL)
        return RP_ERR_IO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)iteration);
    sqlite3_bind_int64(st, 3, rp__wall_ms());
    sqlite3_bind_text(st, 4, codec, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)raw_len);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)stored_len);
    sqlite3_bind_text(st, 7, sha, -1, SQLITE_STATIC);
    if (blob == NULL) {
        sqlite3_bind_blob64(st, 8, inline_data != NULL ? inline_data : "", stored_len,
                            SQLITE_STATIC);
        sqlite3_bind_null(st, 9);
    } else {
        sqlite3_bind_null(st, 8);
        sqlite3_bind_text(st, 9, blob, -1, SQLITE_STATIC);
    }
    if (sqlite3_step(st) != SQLITE_DONE)
        status = db_fail(s, "saving a checkpoint");
    sqlite3_finalize(st);
    return status;
}

rp_status
rp_ckpt_save(rp_ckpt *s, const char *key, uint64_t iteration, const void *data, size_t len)
{
    struct rp__blob blob = { NULL, 0, "raw" };
    struct rp__stored stored;
    char *name = NULL, *tmp = NULL, *detail = NULL;
    bool stream = len >= STREAM_MIN;
    rp_status status;

    if (s == NULL || !key_ok(key) || (data == NULL && len != 0) || iteration > INT64_MAX)
        return RP_ERR_INVALID;
    set_why(s, NULL);
    if (!stream) {
        /* Small: encode in memory; inline when it fits. */
        rp__blob_encode(data, len, &blob);
        rp__sha256_hex(blob.data, blob.len, stored.sha);
        stored.len = blob.len;
        stored.codec = blob.codec;
        if (blob.len > RP_CKPT_INLINE_MAX)
            name = rp__sprintf("%s.blob", stored.sha);
    }

    if (stream) {
        /* Streamed into a temp file (fsynced) before taking any lock: a
         * save of gigabytes does not hold up other writers meanwhile. The
         * sweep leaves temp files of live processes alone. */
        tmp = rp__sprintf("%s/tmp.%ld.%lu", s->blobs, (long)getpid(),
                          atomic_fetch_add(&tmp_counter, 1));
        status = rp__blob_stream(data, len, tmp, &stored, &detail);
        if (status == RP_OK && stored.len <= RP_CKPT_INLINE_MAX) {
            /* It compressed to almost nothing: it belongs in the index. */
            void *small = NULL;
            size_t small_len = 0;
            status = rp__blob_read(tmp, stored.len, &small, &small_len, &detail);
            unlink(tmp);
            if (status != RP_OK) {
                free(small);
                small = NULL;
                small_len = 0;
                status = RP_ERR_IO;
            }
            blob.data = small;
            blob.len = small_len;
        } else if (status == RP_OK) {
            name = rp__sprintf("%s.blob", stored.sha);
        }
        if (status != RP_OK) {
            set_why(s, detail);
            goto done;
        }
    }

    /* BEGIN IMMEDIATE before the blob gets its name: no sweep can run
     * between its rename and its row. */
    pthread_mutex_lock(&s->lock);
    if ((status = exec(s, "BEGIN IMMEDIATE")) != RP_OK) {
        if (stream && name != NULL)
            unlink(tmp);
        goto out;
    }
    if (stream) {
        if (name != NULL)
            status = place_blob(s, tmp, name, &detail);
    } else if (name != NULL) {
        char *sub = rp__sprintf("%s/%.2s", s->blobs, name);
        char *path = rp__sprintf("%s/%s", sub, name);
        status = make_dir(sub, &detail);
        /* Written even if a file of that name exists: same bytes, and a
         * damaged copy gets repaired. */
        if (status == RP_OK)
            status = rp__blob_write(path, blob.data, blob.len, &detail);
        free(sub);
        free(path);
    }
    if (status == RP_OK)
        status = insert_row(s, key, iteration, stored.codec, len, stored.len, stored.sha,
                            blob.data, name);
    else
        set_why(s, detail);
    /* A failed COMMIT leaves the blob unreferenced; the next sweep takes it. */
    if (status == RP_OK)
        status = exec(s, "COMMIT");
    if (status != RP_OK)
        rollback(s);
out:
    pthread_mutex_unlock(&s->lock);
done:
    free(blob.data);
    free(name);
    free(tmp);
    return status;
}

/* ---- load ---- */

/* What a load needs to know of one checkpoint: no data, so that listing
 * a key with thousands of versions stays cheap. */
struct candidate {
    int64_t id;
    uint64_t iteration;
    char codec[24];
    size_t raw_size, stored_size;
    char sha[RP__SHA256_HEX];
    char *blob;                          /* file name, or NULL: inline */
};

static void
candidates_free(struct candidate *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(c[i].blob);
    free(c);
}

/* Every checkpoint of key, newest first (copied: read outside the lock). */
static rp_status
candidates(rp_ckpt *s, const char *key, const uint64_t *only, struct candidate **out, size_t *n)
{
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    st = prepare(s, only == NULL
                        ? "SELECT id, iteration, codec, raw_size, sha256, blob, stored_size"
                          " FROM checkpoints WHERE key = ? ORDER BY iteration DESC, id DESC"
                        : "SELECT id, iteration, codec, raw_size, sha256, blob, stored_size"
                          " FROM checkpoints WHERE key = ? AND iteration = ? ORDER BY id DESC");
    if (st == NULL)
        return RP_ERR_IO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (only != NULL)
        sqlite3_bind_int64(st, 2, (sqlite3_int64)*only);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct candidate *c;
        if (*n == cap) {
            cap = cap ? 2 * cap : 4;
            *out = rp_xrealloc(*out, cap * sizeof **out);
        }
        c = &(*out)[(*n)++];
        memset(c, 0, sizeof *c);
        c->id = sqlite3_column_int64(st, 0);
        c->iteration = (uint64_t)sqlite3_column_int64(st, 1);
        snprintf(c->codec, sizeof c->codec, "%s", (const char *)sqlite3_column_text(st, 2));
        c->raw_size = (size_t)sqlite3_column_int64(st, 3);
        snprintf(c->sha, sizeof c->sha, "%s", (const char *)sqlite3_column_text(st, 4));
        if (sqlite3_column_type(st, 5) != SQLITE_NULL)
            c->blob = rp_xstrdup((const char *)sqlite3_column_text(st, 5));
        c->stored_size = (size_t)sqlite3_column_int64(st, 6);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        candidates_free(*out, *n);
        *out = NULL;
        *n = 0;
        return db_fail(s, "reading the index");
    }
    return RP_OK;
}

/* The inline bytes of checkpoint row id (a copy). */
static rp_status
read_inline(rp_ckpt *s, int64_t id, void **data, size_t *len, char **why)
{
    sqlite3_stmt *st;
    rp_status status = RP_OK;

    *data = NULL;
    *len = 0;
    pthread_mutex_lock(&s->lock);
    st = prepare(s, "SELECT inline_data FROM checkpoints WHERE id = ?");
    if (st == NULL) {
        status = RP_ERR_IO;
    } else {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *len = (size_t)sqlite3_column_bytes(st, 0);
            *data = rp_xmalloc(*len ? *len : 1);
            if (*len)
                memcpy(*data, sqlite3_column_blob(st, 0), *len);
        } else {
            status = RP_ERR_NOT_FOUND;       /* removed meanwhile */
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    if (status != RP_OK)
        *why = rp__sprintf("its row is gone or unreadable");
    return status;
}

struct decode_job {
    const struct candidate *c;
    const void *stored;
    size_t stored_len;
    void *raw;
    char *why;
    rp_status status;
};

static void
decode_main(void *arg)
{
    struct decode_job *j = arg;

    j->status = rp__blob_decode(j->c->codec, j->stored, j->stored_len, j->c->raw_size,
                                &j->raw, &j->why);
}

/* Reads, decodes and verifies one checkpoint. */
static rp_status
fetch(rp_ckpt *s, const struct candidate *c, void **data, char **why)
{
    void *stored = NULL;
    size_t stored_len = 0;
    char sha[RP__SHA256_HEX];
    rp_status status;

    if (c->blob != NULL) {
        char *path = blob_path(s, c->blob);
        status = rp__blob_read(path, c->stored_size, &stored, &stored_len, why);
        free(path);
    } else {
        status = read_inline(s, c->id, &stored, &stored_len, why);
    }
    if (status != RP_OK)
        return status;
    /* The checksum covers the stored bytes: hash them on another core
     * while this one decodes. */
    struct decode_job job = { c, stored, stored_len, NULL, NULL, RP_OK };
    rp__sha256_hex_while(stored, stored_len, sha, decode_main, &job);
    free(stored);
    if (strcmp(sha, c->sha) != 0) {
        free(job.raw);
        free(job.why);
        *why = rp__sprintf("checksum mismatch");
        return RP_ERR_CORRUPT;
    }
    if (job.status != RP_OK) {
        *why = job.why;
        return job.status;
    }
    *data = job.raw;
    return RP_OK;
}

/* Whether row id is still in the index (a cleanup may have taken it). */
static bool
row_exists(rp_ckpt *s, int64_t id)
{
    sqlite3_stmt *st;
    bool exists = true;                  /* when in doubt, call it damage */

    pthread_mutex_lock(&s->lock);
    st = prepare(s, "SELECT 1 FROM checkpoints WHERE id = ?");
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, id);
        exists = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return exists;
}

#define LOAD_ROUNDS 32                   /* re-reads of the index after a race */
#define SKIPPED_NAMED 4                  /* damaged checkpoints named in the why */

/* rp_ckpt_load, of every iteration (only NULL) or of *only. */
static rp_status
load(rp_ckpt *s, const char *key, const uint64_t *only, void **data, size_t *len,
     uint64_t *iteration)
{
    struct candidate *c = NULL;
    char *skipped = NULL, *io_why = NULL;
    size_t n = 0, damaged = 0;
    uint64_t loaded = 0;
    rp_status status = RP_ERR_CORRUPT;
    bool raced = false;

    if (data != NULL)
        *data = NULL;
    if (len != NULL)
        *len = 0;
    if (s == NULL || !key_ok(key) || data == NULL || len == NULL)
        return RP_ERR_INVALID;
    set_why(s, NULL);
    for (int round = 0; round < LOAD_ROUNDS; round++) {
        raced = false;

        candidates_free(c, n);
        free(skipped);
        skipped = NULL;
        damaged = 0;
        pthread_mutex_lock(&s->lock);
        status = candidates(s, key, only, &c, &n);
        pthread_mutex_unlock(&s->lock);
        if (status != RP_OK)
            return status;
        if (n == 0) {
            candidates_free(c, n);
            return RP_ERR_NOT_FOUND;
        }
        status = RP_ERR_CORRUPT;
        for (size_t i = 0; i < n && !raced; i++) {
            char *why = NULL;
            void *raw = NULL;
            rp_status got = fetch(s, &c[i], &raw, &why);

            if (got == RP_OK) {
                *data = c[i].raw_size ? raw : (free(raw), NULL);
                *len = c[i].raw_size;
                loaded = c[i].iteration;
                status = RP_OK;
                free(why);
                break;
            }
            if (got == RP_ERR_NOT_FOUND && !row_exists(s, c[i].id)) {
                /* A cleanup took it meanwhile: what is newest now? */
                raced = true;
                free(why);
                break;
            }
            if (got != RP_ERR_NOT_FOUND && got != RP_ERR_CORRUPT) {
                /* Out of fds, permissions, EIO: that says nothing about the
                 * data, and an older checkpoint is no answer to it. */
                io_why = why;
                status = got;
                break;
            }
            /* Damaged (or its file is missing): name it, go on to the one
             * before. */
            if (++damaged <= SKIPPED_NAMED) {
                char *line = rp__sprintf("%s%scheckpoint '%s' iteration %llu is damaged (%s)",
                                         skipped ? skipped : "", skipped ? "; " : "", key,
                                         (unsigned long long)c[i].iteration, why);
                free(skipped);
                skipped = line;
            }
            free(why);
        }
        if (!raced)
            break;
    }
    if (status == RP_OK && iteration != NULL)
        *iteration = loaded;
    if (raced) {
        /* Every round lost its checkpoint to a cleanup: nothing is known to
         * be damaged, so do not say so. */
        status = RP_ERR_IO;
        io_why = rp__sprintf("the checkpoints of '%s' kept being removed while loading "
                             "(a cleanup elsewhere?); try again", key);
    }
    if (io_why != NULL) {
        set_why(s, io_why);
    } else if (skipped != NULL) {
        char more[64] = "";
        if (damaged > SKIPPED_NAMED)
            snprintf(more, sizeof more, "; %zu more", damaged - SKIPPED_NAMED);
        set_why(s, status == RP_OK
                       ? rp__sprintf("%s%s; loaded iteration %llu", skipped, more,
                                     (unsigned long long)loaded)
                       : rp__sprintf("%s%s; no intact checkpoint left", skipped, more));
    }
    free(skipped);
    candidates_free(c, n);
    return status;
}

rp_status
rp_ckpt_load(rp_ckpt *s, const char *key, void **data, size_t *len, uint64_t *iteration)
{
    return load(s, key, NULL, data, len, iteration);
}

rp_status
rp_ckpt_load_iteration(rp_ckpt *s, const char *key, uint64_t iteration, void **data,
                       size_t *len)
{
    if (iteration > INT64_MAX) {
        if (data != NULL)
            *data = NULL;
        if (len != NULL)
            *len = 0;
        return RP_ERR_INVALID;
    }
    return load(s, key, &iteration, data, len, NULL);
}

/* ---- retention ---- */

static rp_status
delete_where(rp_ckpt *s, const char *sql, int64_t arg, bool has_arg, const char *key,
             size_t *removed)
{
    sqlite3_stmt *st;
    rp_status status;

    pthread_mutex_lock(&s->lock);
    if ((status = exec(s, "BEGIN IMMEDIATE")) != RP_OK)
        goto out;
    st = prepare(s, sql);
    if (st == NULL) {
        status = RP_ERR_IO;
        rollback(s);
        goto out;
    }
    if (has_arg)
        sqlite3_bind_int64(st, 1, arg);
    if (key != NULL)
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        status = db_fail(s, "removing checkpoints");
        sqlite3_finalize(st);
        rollback(s);
        goto out;
    }
    *removed += (size_t)sqlite3_changes(s->db);
    sqlite3_finalize(st);
    if ((status = exec(s, "COMMIT")) != RP_OK) {
        rollback(s);
        goto out;
    }
    status = sweep_locked(s);
out:
    pthread_mutex_unlock(&s->lock);
    return status;
}

/* Rank of each checkpoint within its key, newest first. */
#define RANKED                                                                 \
    "SELECT id, created_ms, row_number() OVER (PARTITION BY key"              \
    " ORDER BY iteration DESC, id DESC) AS pos FROM checkpoints"

rp_status
rp_ckpt_cleanup(rp_ckpt *s, unsigned keep_per_key, unsigned max_age_s, size_t *removed)
{
    size_t count = 0;
    rp_status status = RP_OK;

    if (removed != NULL)
        *removed = 0;
    if (s == NULL)
        return RP_ERR_INVALID;
    set_why(s, NULL);
    if (keep_per_key > 0)
        status = delete_where(s, "DELETE FROM checkpoints WHERE id IN"
                                 " (SELECT id FROM (" RANKED ") WHERE pos > ?)",
                              keep_per_key, true, NULL, &count);
    if (status == RP_OK && max_age_s > 0)
        status = delete_where(s, "DELETE FROM checkpoints WHERE id IN"
                                 " (SELECT id FROM (" RANKED ") WHERE pos > 1 AND created_ms < ?)",
                              rp__wall_ms() - (int64_t)max_age_s * 1000, true, NULL, &count);
    if (removed != NULL)
        *removed = count;
    return status;
}

rp_status
rp_ckpt_delete(rp_ckpt *s, const char *key, size_t *removed)
{
    size_t count = 0;
    rp_status status;

    if (removed != NULL)
        *removed = 0;
    if (s == NULL || !key_ok(key))
        return RP_ERR_INVALID;
    set_why(s, NULL);
    status = delete_where(s, "DELETE FROM checkpoints WHERE key = ?", 0, false, key, &count);
    if (removed != NULL)
        *removed = count;
    return status;
}

/* ---- listing ---- */

struct listed {
    rp_ckpt_info info;
    char *key;
    char codec[24];
};

rp_status
rp_ckpt_list(rp_ckpt *s, const char *key, bool (*fn)(const rp_ckpt_info *, void *), void *ctx)
{
    sqlite3_stmt *st;
    struct listed *rows = NULL;
    size_t n = 0, cap = 0;
    rp_status status = RP_OK;
    int rc;

    if (s == NULL || fn == NULL || (key != NULL && !key_ok(key)))
        return RP_ERR_INVALID;
    set_why(s, NULL);
    pthread_mutex_lock(&s->lock);
    st = prepare(s, key != NULL
                        ? "SELECT key, iteration, created_ms, codec, raw_size, stored_size,"
                          " blob IS NULL FROM checkpoints WHERE key = ?"
                          " ORDER BY key, iteration DESC, id DESC"
                        : "SELECT key, iteration, created_ms, codec, raw_size, stored_size,"
                          " blob IS NULL FROM checkpoints ORDER BY key, iteration DESC, id DESC");
    if (st == NULL) {
        pthread_mutex_unlock(&s->lock);
        return RP_ERR_IO;
    }
    if (key != NULL)
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct listed *r;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            rows = rp_xrealloc(rows, cap * sizeof *rows);
        }
        r = &rows[n++];
        r->key = rp_xstrdup((const char *)sqlite3_column_text(st, 0));
        snprintf(r->codec, sizeof r->codec, "%s", (const char *)sqlite3_column_text(st, 3));
        r->info.iteration = (uint64_t)sqlite3_column_int64(st, 1);
        r->info.created_ms = sqlite3_column_int64(st, 2);
        r->info.raw_size = (uint64_t)sqlite3_column_int64(st, 4);
        r->info.stored_size = (uint64_t)sqlite3_column_int64(st, 5);
        r->info.inline_stored = sqlite3_column_int(st, 6) != 0;
    }
    if (rc != SQLITE_DONE)
        status = db_fail(s, "listing checkpoints");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    /* The callback runs without the lock: it may call into the store. */
    for (size_t i = 0; i < n && status == RP_OK; i++) {
        rows[i].info.key = rows[i].key;
        rows[i].info.codec = rows[i].codec;
        if (!fn(&rows[i].info, ctx))
            break;
    }
    for (size_t i = 0; i < n; i++)
        free(rows[i].key);
    free(rows);
    return status;
}

/* ---- key-value ---- */

rp_status
rp_ckpt_kv_put(rp_ckpt *s, const char *key, const void *value, size_t len)
{
    sqlite3_stmt *st;
    rp_status status = RP_OK;

    if (s == NULL || !key_ok(key) || (value == NULL && len != 0))
        return RP_ERR_INVALID;
    set_why(s, NULL);
    pthread_mutex_lock(&s->lock);
    st = prepare(s, "INSERT INTO kv (key, value, updated_ms) VALUES (?, ?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                    " updated_ms = excluded.updated_ms");
    if (st == NULL) {
        status = RP_ERR_IO;
    } else {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 2, value != NULL ? value : "", len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, rp__wall_ms());
        if (sqlite3_step(st) != SQLITE_DONE)
            status = db_fail(s, "storing a value");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return status;
}

rp_status
rp_ckpt_kv_get(rp_ckpt *s, const char *key, void **value, size_t *len)
{
    sqlite3_stmt *st;
    rp_status status = RP_ERR_NOT_FOUND;
    int rc;

    if (value != NULL)
        *value = NULL;
    if (len != NULL)
        *len = 0;
    if (s == NULL || !key_ok(key) || value == NULL || len == NULL)
        return RP_ERR_INVALID;
    set_why(s, NULL);
    pthread_mutex_lock(&s->lock);
    st = prepare(s, "SELECT value FROM kv WHERE key = ?");
    if (st == NULL) {
        status = RP_ERR_IO;
    } else {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            size_t n = (size_t)sqlite3_column_bytes(st, 0);
            if (n != 0) {
                *value = rp_xmalloc(n);
                memcpy(*value, sqlite3_column_blob(st, 0), n);
            }
            *len = n;
            status = RP_OK;
        } else if (rc != SQLITE_DONE) {
            status = db_fail(s, "reading a value");
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return status;
}

rp_status
rp_ckpt_kv_delete(rp_ckpt *s, const char *key)
{
    sqlite3_stmt *st;
    rp_status status = RP_OK;

    if (s == NULL || !key_ok(key))
        return RP_ERR_INVALID;
    set_why(s, NULL);
    pthread_mutex_lock(&s->lock);
    st = prepare(s, "DELETE FROM kv WHERE key = ?");
    if (st == NULL) {
        status = RP_ERR_IO;
    } else {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            status = db_fail(s, "deleting a value");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return status;
}

struct kv_row {
    char *key;
    void *value;
    size_t len;
};

rp_status
rp_ckpt_kv_list(rp_ckpt *s, const char *prefix,
                bool (*fn)(const char *, const void *, size_t, void *), void *ctx)
{
    sqlite3_stmt *st;
    struct kv_row *rows = NULL;
    size_t n = 0, cap = 0;
    rp_status status = RP_OK;
    int rc;

    if (s == NULL || fn == NULL || prefix == NULL)
        return RP_ERR_INVALID;
    set_why(s, NULL);
    pthread_mutex_lock(&s->lock);
    /* substr() rather than LIKE: '%' and '_' in a prefix are not wildcards;
     * on BLOBs so that it counts bytes, not UTF-8 characters. */
    st = prepare(s, "SELECT key, value FROM kv WHERE substr(CAST(key AS BLOB), 1,"
                    " length(CAST(?1 AS BLOB))) = CAST(?1 AS BLOB) ORDER BY key");
    if (st == NULL) {
        pthread_mutex_unlock(&s->lock);
        return RP_ERR_IO;
    }
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct kv_row *r;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            rows = rp_xrealloc(rows, cap * sizeof *rows);
        }
        r = &rows[n++];
        r->key = rp_xstrdup((const char *)sqlite3_column_text(st, 0));
        r->len = (size_t)sqlite3_column_bytes(st, 1);
        r->value = rp_xmalloc(r->len ? r->len : 1);
        if (r->len)
            memcpy(r->value, sqlite3_column_blob(st, 1), r->len);
    }
    if (rc != SQLITE_DONE)
        status = db_fail(s, "listing values");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n && status == RP_OK; i++)
        if (!fn(rows[i].key, rows[i].value, rows[i].len, ctx))
            break;
    for (size_t i = 0; i < n; i++) {
        free(rows[i].key);
        free(rows[i].value);
    }
    free(rows);
    return status;
}

/* ---- for the engine (ckpt/store.h) ---- */

const char *
rp__ckpt_dir(const rp_ckpt *s)
{
    return s->dir;
}

rp_status
rp__ckpt_trim(rp_ckpt *s, const char *key, unsigned keep)
{
    size_t count = 0;
    sqlite3_stmt *st;
    rp_status status;

    if (s == NULL || !key_ok(key) || keep == 0)
        return RP_ERR_INVALID;
    pthread_mutex_lock(&s->lock);
    if ((status = exec(s, "BEGIN IMMEDIATE")) != RP_OK)
        goto out;
    st = prepare(s, "DELETE FROM checkpoints WHERE id IN (SELECT id FROM checkpoints"
                    " WHERE key = ?1 ORDER BY iteration DESC, id DESC LIMIT -1 OFFSET ?2)");
    if (st == NULL) {
        status = RP_ERR_IO;
        rollback(s);
        goto out;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, keep);
    if (sqlite3_step(st) != SQLITE_DONE) {
        status = db_fail(s, "trimming checkpoints");
        sqlite3_finalize(st);
        rollback(s);
        goto out;
    }
    count = (size_t)sqlite3_changes(s->db);
    sqlite3_finalize(st);
    if ((status = exec(s, "COMMIT")) != RP_OK) {
        rollback(s);
        goto out;
    }
    if (count != 0)
        status = sweep_locked(s);
out:
    pthread_mutex_unlock(&s->lock);
    return status;
}

rp_status
rp__ckpt_last(rp_ckpt *s, const char *key, uint64_t *iteration, int64_t *created_ms)
{
    sqlite3_stmt *st;
    rp_status status;
    int rc;

    *iteration = 0;
    *created_ms = 0;
    if (!key_ok(key))
        return RP_ERR_INVALID;
    pthread_mutex_lock(&s->lock);
    st = prepare(s, "SELECT iteration, created_ms FROM checkpoints WHERE key = ?"
                    " ORDER BY iteration DESC, id DESC LIMIT 1");
    if (st == NULL) {
        pthread_mutex_unlock(&s->lock);
        return RP_ERR_IO;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *iteration = (uint64_t)sqlite3_column_int64(st, 0);
        *created_ms = sqlite3_column_int64(st, 1);
        status = RP_OK;
    } else if (rc == SQLITE_DONE) {
        status = RP_ERR_NOT_FOUND;
    } else {
        status = db_fail(s, "reading checkpoints");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return status;
}
