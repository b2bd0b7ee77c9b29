/*
 * journal.c -- the durable record of jobs and tasks (see journal.h and
 * docs/store.md), with group commit.
 *
 * DESIGN: the engine queues operations (a submission, a state change, the
 * pid of a started process) in one list, in sequence order. The writer
 * thread takes the whole list, applies it inside one BEGIN IMMEDIATE ...
 * COMMIT (synchronous=FULL: one fsync of the WAL for all of it), then
 * wakes whoever waits. While it commits, the next operations pile up and
 * go together in the next commit, so N submitters waiting at once cost
 * one fsync, not N.
 *
 * A failed commit (disk full, I/O error) is rolled back: its submissions
 * are answered RP_ERR_IO (their submitters undo them), its state changes
 * go back to the head of the list and are tried again with the next
 * commit, after a pause. Nothing the engine decided is dropped while the
 * pool lives.
 *
 * THREADS: `lock` guards the list, the sequence counters and `why`. The
 * writer's connection (`wdb`) is used by the writer thread only; lookups
 * and recovery use `rdb` under `rlock`. In WAL mode they never block each
 * other.
 */
#include "ckpt/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "engine/alloc.h"
#include "engine/clock.h"
#include "engine/engine.h"

#define BUSY_TIMEOUT_MS 10000
#define RETRY_PAUSE_MS 500
#define CLOSE_TRIES 3
/* The events table keeps the newest this many rows. */
#define EVENTS_KEPT 1000000
#define PRUNE_EVERY 65536
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

enum op_kind { OP_JOB, OP_STATE, OP_PID };

struct op {
    struct op *next;
    uint64_t seq;
    enum op_kind kind;
    struct rp__jjob *job_op;         /* OP_JOB: the submitter's */
    rp_task_id id;
    rp_job_id job;
    rp_task_state state;
    unsigned attempts, interrupted;
    rp_result *result;               /* OP_STATE, final: a reference */
    int64_t time_ms;
    pid_t pid;
    uint64_t pid_start;
};

struct rp__journal {
    char *dir;
    int lock_fd;
    sqlite3 *wdb, *rdb;
    pthread_mutex_t rlock;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work, done_cond;
    struct op *head, **tail;
    uint64_t next_seq, done_seq;
    char *why;                       /* the last failed commit's reason */
    bool closing;
    unsigned events_since_prune;
};

/* A CLOCK_MONOTONIC instant as Unix ms. */
static int64_t
mono_to_wall_ms(uint64_t ns)
{
    uint64_t now = rp__now_ns();

    if (ns == 0)
        return 0;
    return rp__wall_ms() - (int64_t)((now > ns ? now - ns : 0) / 1000000u);
}

/* Unix ms as a CLOCK_MONOTONIC instant of this boot (0 if before it). */
static uint64_t
wall_to_mono_ns(int64_t ms)
{
    uint64_t now = rp__now_ns(), ago;

    if (ms <= 0)
        return 0;
    int64_t wall = rp__wall_ms();
    ago = (uint64_t)(wall > ms ? wall - ms : 0) * 1000000u;
    return now > ago ? now - ago : 0;
}

static rp_task_state
state_of(const unsigned char *name)
{
    for (unsigned s = 0; s < RP_TASK_STATE_COUNT; s++)
        if (name != NULL && strcmp((const char *)name, rp_task_state_name((rp_task_state)s)) == 0)
            return (rp_task_state)s;
    return RP_TASK_STATE_COUNT;      /* unknown: callers treat it as damage */
}

/* ---- open and close ---- */

static rp_status
take_lock(rp__journal *j, char **why)
{
    char *path = rp__sprintf("%s/coordinator.lock", j->dir);
    char buf[32];
    rp_status status = RP_OK;

    j->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (j->lock_fd < 0) {
        *why = rp__sprintf("cannot open %s: %s", path, strerror(errno));
        status = RP_ERR_IO;
    } else if (flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        ssize_t n = errno == EWOULDBLOCK ? pread(j->lock_fd, buf, sizeof buf - 1, 0) : -1;
        long pid = 0;
        if (n > 0) {
            buf[n] = '\0';
            pid = strtol(buf, NULL, 10);
        }
        if (errno == EWOULDBLOCK || n >= 0) {
            *why = pid > 0 ? rp__sprintf("the state dir %s is in use by another pool"
                                         " (process %ld)", j->dir, pid)
                           : rp__sprintf("the state dir %s is in use by another pool", j->dir);
            status = RP_ERR_BUSY;
        } else {
            *why = rp__sprintf("cannot lock %s: %s", path, strerror(errno));
            status = RP_ERR_IO;
        }
    } else {
        int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
        if (ftruncate(j->lock_fd, 0) != 0 || pwrite(j->lock_fd, buf, (size_t)len, 0) != len) {
            /* Only informative: the flock is the lock. */
        }
    }
    free(path);
    return status;
}

static rp_status
open_db(rp__journal *j, sqlite3 **db, char **why)
{
    char *path = rp__sprintf("%s%s/store.db", j->dir[0] == '/' ? "" : "./", j->dir);
    int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(*db, BUSY_TIMEOUT_MS);
        sqlite3_extended_result_codes(*db, 1);
        rc = sqlite3_exec(*db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        *why = rp__sprintf("cannot open %s: %s", path,
                           *db != NULL ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
        free(path);
        return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB ? RP_ERR_CORRUPT
                                                                             : RP_ERR_IO;
    }
    free(path);
    return RP_OK;
}

static void *writer_main(void *arg);

static void
journal_free(rp__journal *j)
{
    sqlite3_close(j->wdb);
    sqlite3_close(j->rdb);
    if (j->lock_fd >= 0)
        close(j->lock_fd);       /* releases the flock */
    pthread_mutex_destroy(&j->rlock);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->work);
    pthread_cond_destroy(&j->done_cond);
    free(j->why);
    free(j->dir);
    free(j);
}

rp_status
rp__journal_open(const char *dir, rp__journal **out, char **why)
{
    rp__journal *j = rp_xcalloc(1, sizeof *j);
    rp_status status;
    int err;

    *out = NULL;
    *why = NULL;
    j->dir = rp_xstrdup(dir);
    j->lock_fd = -1;
    j->tail = &j->head;
    j->next_seq = 1;
    pthread_mutex_init(&j->rlock, NULL);
    pthread_mutex_init(&j->lock, NULL);
    {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);   /* the retry pause */
        pthread_cond_init(&j->work, &attr);
        pthread_condattr_destroy(&attr);
    }
    pthread_cond_init(&j->done_cond, NULL);
    if ((status = take_lock(j, why)) != RP_OK || (status = open_db(j, &j->wdb, why)) != RP_OK ||
        (status = open_db(j, &j->rdb, why)) != RP_OK)
        goto fail;
    if ((err = pthread_create(&j->thread, NULL, writer_main, j)) != 0) {
        *why = rp__sprintf("cannot start the store's writer thread: %s", strerror(err));
        status = RP_ERR_SYSTEM;
        goto fail;
    }
    *out = j;
    return RP_OK;
fail:
    journal_free(j);
    return status;
}

void
rp__journal_close(rp__journal *j)
{
    if (j == NULL)
        return;
    pthread_mutex_lock(&j->lock);
    j->closing = true;
    pthread_cond_signal(&j->work);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->thread, NULL);
    journal_free(j);
}

/* ---- reading (rdb) ---- */

static rp_status
read_fail(rp__journal *j)
{
    int rc = sqlite3_extended_errcode(j->rdb) & 0xff;

    return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ? RP_ERR_CORRUPT : RP_ERR_IO;
}

rp_status
rp__journal_max_ids(rp__journal *j, uint64_t *task, uint64_t *job)
{
    sqlite3_stmt *st = NULL;
    rp_status status = RP_OK;

    *task = *job = 0;
    pthread_mutex_lock(&j->rlock);
    if (sqlite3_prepare_v2(j->rdb, "SELECT (SELECT max(id) FROM tasks), (SELECT max(id) FROM jobs)",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        status = read_fail(j);
    } else {
        *task = (uint64_t)sqlite3_column_int64(st, 0);
        *job = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&j->rlock);
    return status;
}

#define TASK_COLUMNS                                                                    \
    "t.id, t.origin, t.job, t.shard, j.total, t.attempts, t.interrupted, t.state, t.pid," \
    " t.pid_start, j.submitted_ms"

static bool
row_task(sqlite3_stmt *st, struct rp__jtask *t)
{
    int64_t shard = sqlite3_column_int64(st, 3), total = sqlite3_column_int64(st, 4);

    memset(t, 0, sizeof *t);
    t->id = (rp_task_id)sqlite3_column_int64(st, 0);
    t->origin = (rp_task_id)sqlite3_column_int64(st, 1);
    t->job = (rp_job_id)sqlite3_column_int64(st, 2);
    t->attempts = (unsigned)sqlite3_column_int64(st, 5);
    t->interrupted = (unsigned)sqlite3_column_int64(st, 6);
    t->state = state_of(sqlite3_column_text(st, 7));
    t->pid = (pid_t)sqlite3_column_int64(st, 8);
    t->pid_start = (uint64_t)sqlite3_column_int64(st, 9);
    t->submitted_ms = sqlite3_column_int64(st, 10);
    if (shard < 0 || total < 1 || shard >= total || total > 1000000 || t->id == 0 ||
        t->state == RP_TASK_STATE_COUNT)
        return false;
    t->shard = (unsigned)shard;
    t->total = (unsigned)total;
    if (t->origin == 0)
        t->origin = t->id;
    return true;
}

rp_status
rp__journal_unfinished(rp__journal *j, void (*fn)(void *ctx, const struct rp__jtask *t),
                       void *ctx)
{
    sqlite3_stmt *st = NULL;
    rp_status status = RP_OK;
    int rc;

    pthread_mutex_lock(&j->rlock);
    rc = sqlite3_prepare_v2(j->rdb,
                            "SELECT " TASK_COLUMNS " FROM tasks t JOIN jobs j ON j.id = t.job"
                            " WHERE t.state IN ('queued', 'running') ORDER BY t.id",
                            -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct rp__jtask t;
        if (!row_task(st, &t)) {
            status = RP_ERR_CORRUPT;
            break;
        }
        fn(ctx, &t);
        rc = SQLITE_OK;
    }
    if (status == RP_OK && rc != SQLITE_DONE)
        status = read_fail(j);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&j->rlock);
    return status;
}

rp_status
rp__journal_job(rp__journal *j, rp_job_id job, char **spec_json, void **stdin_data,
                size_t *stdin_len, unsigned count[RP_TASK_STATE_COUNT])
{
    sqlite3_stmt *st = NULL;
    rp_status status = RP_OK;
    int rc;

    *spec_json = NULL;
    *stdin_data = NULL;
    *stdin_len = 0;
    memset(count, 0, RP_TASK_STATE_COUNT * sizeof *count);
    pthread_mutex_lock(&j->rlock);
    rc = sqlite3_prepare_v2(j->rdb, "SELECT spec, stdin FROM jobs WHERE id = ?", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)job);
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_ROW) {
        const unsigned char *spec = sqlite3_column_text(st, 0);
        int n = sqlite3_column_bytes(st, 1);
        *spec_json = rp_xstrdup(spec != NULL ? (const char *)spec : "");
        if (n > 0) {
            *stdin_data = rp_xmalloc((size_t)n);
            memcpy(*stdin_data, sqlite3_column_blob(st, 1), (size_t)n);
            *stdin_len = (size_t)n;
        }
    } else {
        status = rc == SQLITE_DONE ? RP_ERR_NOT_FOUND : read_fail(j);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (status == RP_OK) {
        rc = sqlite3_prepare_v2(j->rdb, "SELECT state, count(*) FROM tasks WHERE job = ?"
                                        " GROUP BY state", -1, &st, NULL);
        if (rc == SQLITE_OK)
            sqlite3_bind_int64(st, 1, (sqlite3_int64)job);
        while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            rp_task_state s = state_of(sqlite3_column_text(st, 0));
            if (s == RP_TASK_STATE_COUNT) {
                status = RP_ERR_CORRUPT;
                break;
            }
            count[s] = (unsigned)sqlite3_column_int64(st, 1);
            rc = SQLITE_OK;
        }
        if (status == RP_OK && rc != SQLITE_DONE)
            status = read_fail(j);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&j->rlock);
    if (status != RP_OK) {
        free(*spec_json);
        free(*stdin_data);
        *spec_json = NULL;
        *stdin_data = NULL;
        *stdin_len = 0;
    }
    return status;
}

rp_status
rp__journal_requeue_running(rp__journal *j)
{
    rp_status status = RP_OK;

    pthread_mutex_lock(&j->rlock);
    if (sqlite3_exec(j->rdb, "BEGIN IMMEDIATE;"
                             "INSERT INTO events (time_ms, task, job, state, attempt)"
                             "  SELECT strftime('%s', 'now') * 1000, id, job, 'queued', attempts"
                             "  FROM tasks WHERE state = 'running';"
                             "UPDATE tasks SET state = 'queued', interrupted = interrupted + 1,"
                             "  pid = NULL, pid_start = NULL,"
                             "  updated_ms = strftime('%s', 'now') * 1000"
                             "  WHERE state = 'running';"
                             "COMMIT;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        status = read_fail(j);
        if (!sqlite3_get_autocommit(j->rdb))
            sqlite3_exec(j->rdb, "ROLLBACK", NULL, NULL, NULL);
    }
    pthread_mutex_unlock(&j->rlock);
    return status;
}

static void
column_bytes(sqlite3_stmt *st, int col, int total_col, struct rp__bytes *b)
{
    int n = sqlite3_column_bytes(st, col);

    b->data = NULL;
    b->len = 0;
    if (n > 0) {
        b->data = rp_xmalloc((size_t)n);
        memcpy(b->data, sqlite3_column_blob(st, col), (size_t)n);
        b->len = (size_t)n;
    }
    b->total = (uint64_t)sqlite3_column_int64(st, total_col);
    if (b->total < b->len)
        b->total = b->len;
}

rp_status
rp__journal_task(rp__journal *j, rp_task_id id, struct rp__jtask *out, rp_result **result)
{
    sqlite3_stmt *st = NULL;
    rp_status status = RP_OK;
    int rc;

    if (result != NULL)
        *result = NULL;
    pthread_mutex_lock(&j->rlock);
    rc = sqlite3_prepare_v2(j->rdb,
                            "SELECT " TASK_COLUMNS ", t.exit_code, t.signal, t.error, t.stdout,"
                            " t.stdout_total, t.stderr, t.stderr_total, t.started_ms, t.ended_ms,"
                            " t.wall_ns, t.user_ns, t.system_ns, t.max_rss_kb"
                            " FROM tasks t JOIN jobs j ON j.id = t.job WHERE t.id = ?",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_DONE) {
        status = RP_ERR_NOT_FOUND;
    } else if (rc != SQLITE_ROW) {
        status = read_fail(j);
    } else if (!row_task(st, out)) {
        status = RP_ERR_CORRUPT;
    } else if (result != NULL && rp_task_state_is_final(out->state)) {
        rp_result *r = rp__result_new();
        const unsigned char *error = sqlite3_column_text(st, 13);
        r->task = out->id;
        r->job = out->job;
        r->shard = out->shard;
        r->attempts = out->attempts;
        r->state = out->state;
        r->exit_code = sqlite3_column_type(st, 11) == SQLITE_NULL
                           ? -1 : (int)sqlite3_column_int64(st, 11);
        r->signal = (int)sqlite3_column_int64(st, 12);
        r->error = rp_xstrdup(error != NULL ? (const char *)error : "");
        column_bytes(st, 14, 15, &r->out);
        column_bytes(st, 16, 17, &r->err);
        r->out_truncated = r->out.total > r->out.len;
        r->err_truncated = r->err.total > r->err.len;
        r->times.submitted_ns = wall_to_mono_ns(out->submitted_ms);
        r->times.started_ns = wall_to_mono_ns(sqlite3_column_int64(st, 18));
        r->times.ended_ns = wall_to_mono_ns(sqlite3_column_int64(st, 19));
        r->times.wall_ns = (uint64_t)sqlite3_column_int64(st, 20);
        r->times.user_ns = (uint64_t)sqlite3_column_int64(st, 21);
        r->times.system_ns = (uint64_t)sqlite3_column_int64(st, 22);
        r->times.max_rss_kb = (uint64_t)sqlite3_column_int64(st, 23);
        *result = r;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&j->rlock);
    return status;
}

/* ---- queueing (any thread, engine lock held) ---- */

/* Returns op's sequence number: once the lock is released the writer may
 * commit and free op at any moment. */
static uint64_t
enqueue(rp__journal *j, struct op *op)
{
    uint64_t seq;

    pthread_mutex_lock(&j->lock);
    seq = op->seq = j->next_seq++;
    op->next = NULL;
    *j->tail = op;
    j->tail = &op->next;
    if (op->kind == OP_JOB)
        op->job_op->seq = seq;
    pthread_cond_signal(&j->work);
    pthread_mutex_unlock(&j->lock);
    return seq;
}

void
rp__journal_add_job(rp__journal *j, struct rp__jjob *jj)
{
    struct op *op = rp_xcalloc(1, sizeof *op);

    op->kind = OP_JOB;
    op->job_op = jj;
    jj->done = false;
    jj->status = RP_OK;
    op->time_ms = rp__wall_ms();
    enqueue(j, op);
}

uint64_t
rp__journal_state(rp__journal *j, rp_task_id id, rp_job_id job, rp_task_state state,
                  unsigned attempts, unsigned interrupted, rp_result *result)
{
    struct op *op = rp_xcalloc(1, sizeof *op);

    op->kind = OP_STATE;
    op->id = id;
    op->job = job;
    op->state = state;
    op->attempts = attempts;
    op->interrupted = interrupted;
    op->time_ms = rp__wall_ms();
    if (result != NULL) {
        atomic_fetch_add_explicit(&result->refs, 1, memory_order_relaxed);
        op->result = result;
    }
    return enqueue(j, op);
}

void
rp__journal_pid(rp__journal *j, rp_task_id id, pid_t pid, uint64_t pid_start)
{
    struct op *op = rp_xcalloc(1, sizeof *op);

    op->kind = OP_PID;
    op->id = id;
    op->pid = pid;
    op->pid_start = pid_start;
    enqueue(j, op);
}

void
rp__journal_wait(rp__journal *j, uint64_t seq)
{
    pthread_mutex_lock(&j->lock);
    while (j->done_seq < seq)
        pthread_cond_wait(&j->done_cond, &j->lock);
    pthread_mutex_unlock(&j->lock);
}

rp_status
rp__journal_wait_job(rp__journal *j, struct rp__jjob *jj, char **why)
{
    rp_status status;

    *why = NULL;
    pthread_mutex_lock(&j->lock);
    while (!jj->done)
        pthread_cond_wait(&j->done_cond, &j->lock);
    status = jj->status;
    if (status != RP_OK)
        *why = rp_xstrdup(j->why != NULL ? j->why : "the store failed");
    pthread_mutex_unlock(&j->lock);
    return status;
}

/* ---- the writer thread (wdb) ---- */

struct stmts {
    sqlite3_stmt *job, *task, *state, *event, *pid;
};

static const char *const stmt_sql[] = {
    "INSERT INTO jobs (id, name, kind, spec, stdin, total, submitted_ms, restored_from)"
    " VALUES (?1, ?2, ?8, ?3, ?4, ?5, ?6, ?7)",
    "INSERT INTO tasks (id, job, shard, state, origin, updated_ms)"
    " VALUES (?1, ?2, ?3, 'queued', ?4, ?5)",
    "UPDATE tasks SET state = ?2, attempts = ?3, interrupted = ?4, pid = NULL,"
    " pid_start = NULL, exit_code = ?5, signal = ?6, error = ?7, stdout = ?8,"
    " stdout_total = ?9, stderr = ?10, stderr_total = ?11,"
    " started_ms = coalesce(?12, started_ms), ended_ms = ?13, wall_ns = ?14,"
    " user_ns = ?15, system_ns = ?16, max_rss_kb = ?17, updated_ms = ?18 WHERE id = ?1",
    "INSERT INTO events (time_ms, task, job, state, attempt, exit_code, signal)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    "UPDATE tasks SET pid = ?2, pid_start = ?3 WHERE id = ?1 AND state = 'running'",
};

static bool
prepare_all(sqlite3 *db, struct stmts *s)
{
    sqlite3_stmt **slots[] = { &s->job, &s->task, &s->state, &s->event, &s->pid };

    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
        if (sqlite3_prepare_v3(db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, slots[i], NULL) !=
            SQLITE_OK)
            return false;
    return true;
}

static void
finalize_all(struct stmts *s)
{
    sqlite3_finalize(s->job);
    sqlite3_finalize(s->task);
    sqlite3_finalize(s->state);
    sqlite3_finalize(s->event);
    sqlite3_finalize(s->pid);
    memset(s, 0, sizeof *s);
}

static bool
run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE;
}

static bool
apply_job(sqlite3 *db, struct stmts *s, const struct op *op)
{
    const struct rp__jjob *jj = op->job_op;

    sqlite3_bind_int64(s->job, 1, (sqlite3_int64)jj->job);
    if (jj->name != NULL)
        sqlite3_bind_text(s->job, 2, jj->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s->job, 3, jj->spec_json, -1, SQLITE_STATIC);
    if (jj->stdin_len != 0)
        sqlite3_bind_blob64(s->job, 4, jj->stdin_data, jj->stdin_len, SQLITE_STATIC);
    sqlite3_bind_int64(s->job, 5, jj->total);
    sqlite3_bind_int64(s->job, 6, op->time_ms);
    if (jj->restored_from != 0)
        sqlite3_bind_int64(s->job, 7, (sqlite3_int64)jj->restored_from);
    sqlite3_bind_text(s->job, 8, jj->kind, -1, SQLITE_STATIC);
    if (!run(s->job))
        return false;
    (void)db;
    for (unsigned i = 0; i < jj->total; i++) {
        rp_task_id id = jj->first_task + i;
        sqlite3_bind_int64(s->task, 1, (sqlite3_int64)id);
        sqlite3_bind_int64(s->task, 2, (sqlite3_int64)jj->job);
        sqlite3_bind_int64(s->task, 3, i);
        sqlite3_bind_int64(s->task, 4, (sqlite3_int64)(jj->origin != 0 ? jj->origin : id));
        sqlite3_bind_int64(s->task, 5, op->time_ms);
        if (!run(s->task))
            return false;
    }
    return true;
}

static bool
apply_state(rp__journal *j, struct stmts *s, const struct op *op)
{
    const rp_result *r = op->result;
    const char *name = rp_task_state_name(op->state);

    sqlite3_bind_int64(s->state, 1, (sqlite3_int64)op->id);
    sqlite3_bind_text(s->state, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s->state, 3, op->attempts);
    sqlite3_bind_int64(s->state, 4, op->interrupted);
    if (op->state == RP_TASK_RUNNING)
        sqlite3_bind_int64(s->state, 12, op->time_ms);
    if (r != NULL) {
        if (r->exit_code >= 0)
            sqlite3_bind_int64(s->state, 5, r->exit_code);
        sqlite3_bind_int64(s->state, 6, r->signal);
        sqlite3_bind_text(s->state, 7, r->error, -1, SQLITE_STATIC);
        if (r->out.len != 0)
            sqlite3_bind_blob64(s->state, 8, r->out.data, r->out.len, SQLITE_STATIC);
        sqlite3_bind_int64(s->state, 9, (sqlite3_int64)r->out.total);
        if (r->err.len != 0)
            sqlite3_bind_blob64(s->state, 10, r->err.data, r->err.len, SQLITE_STATIC);
        sqlite3_bind_int64(s->state, 11, (sqlite3_int64)r->err.total);
        if (r->times.started_ns != 0)
            sqlite3_bind_int64(s->state, 12, mono_to_wall_ms(r->times.started_ns));
        sqlite3_bind_int64(s->state, 13, mono_to_wall_ms(r->times.ended_ns));
        sqlite3_bind_int64(s->state, 14, (sqlite3_int64)r->times.wall_ns);
        sqlite3_bind_int64(s->state, 15, (sqlite3_int64)r->times.user_ns);
        sqlite3_bind_int64(s->state, 16, (sqlite3_int64)r->times.system_ns);
        sqlite3_bind_int64(s->state, 17, (sqlite3_int64)r->times.max_rss_kb);
    }
    sqlite3_bind_int64(s->state, 18, op->time_ms);
    if (!run(s->state))
        return false;
    /* A task whose submission failed to commit has no row: no event. */
    if (sqlite3_changes(j->wdb) == 0)
        return true;
    sqlite3_bind_int64(s->event, 1, op->time_ms);
    sqlite3_bind_int64(s->event, 2, (sqlite3_int64)op->id);
    sqlite3_bind_int64(s->event, 3, (sqlite3_int64)op->job);
    sqlite3_bind_text(s->event, 4, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s->event, 5, op->attempts);
    if (r != NULL) {
        if (r->exit_code >= 0)
            sqlite3_bind_int64(s->event, 6, r->exit_code);
        sqlite3_bind_int64(s->event, 7, r->signal);
    }
    j->events_since_prune++;
    return run(s->event);
}

static bool
apply_pid(struct stmts *s, const struct op *op)
{
    sqlite3_bind_int64(s->pid, 1, (sqlite3_int64)op->id);
    sqlite3_bind_int64(s->pid, 2, op->pid);
    sqlite3_bind_int64(s->pid, 3, (sqlite3_int64)op->pid_start);
    return run(s->pid);
}

/* Applies the batch in one transaction. On failure *why says why. */
static bool
apply(rp__journal *j, struct stmts *s, const struct op *batch, char **why)
{
    bool ok;

    if (s->job == NULL && !prepare_all(j->wdb, s)) {
        *why = rp__sprintf("%s/store.db: %s", j->dir, sqlite3_errmsg(j->wdb));
        finalize_all(s);
        return false;
    }
    ok = sqlite3_exec(j->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    for (const struct op *op = batch; ok && op != NULL; op = op->next) {
        switch (op->kind) {
        case OP_JOB:
            ok = apply_job(j->wdb, s, op);
            break;
        case OP_STATE:
            ok = apply_state(j, s, op);
            break;
        case OP_PID:
            ok = apply_pid(s, op);
            break;
        }
    }
    if (ok && j->events_since_prune >= PRUNE_EVERY) {
        ok = sqlite3_exec(j->wdb, "DELETE FROM events WHERE seq <= (SELECT max(seq) FROM events)"
                                  " - " STRINGIFY(EVENTS_KEPT), NULL, NULL, NULL) == SQLITE_OK;
        if (ok)
            j->events_since_prune = 0;
    }
    if (ok)
        ok = sqlite3_exec(j->wdb, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) {
        *why = rp__sprintf("%s/store.db: %s", j->dir, sqlite3_errmsg(j->wdb));
        if (!sqlite3_get_autocommit(j->wdb))
            sqlite3_exec(j->wdb, "ROLLBACK", NULL, NULL, NULL);
    }
    return ok;
}

static void
op_free(struct op *op)
{
    rp_result_free(op->result);
    free(op);
}

static void *
writer_main(void *arg)
{
    rp__journal *j = arg;
    struct stmts s = { 0 };
    unsigned failures = 0;

    pthread_mutex_lock(&j->lock);
    for (;;) {
        struct op *batch, *kept = NULL, **kept_tail = &kept;
        uint64_t last;
        char *why = NULL;
        bool ok;

        while (j->head == NULL && !j->closing)
            pthread_cond_wait(&j->work, &j->lock);
        if (j->head == NULL)
            break;
        batch = j->head;
        j->head = NULL;
        j->tail = &j->head;
        last = j->next_seq - 1;
        pthread_mutex_unlock(&j->lock);

        ok = apply(j, &s, batch, &why);

        pthread_mutex_lock(&j->lock);
        while (batch != NULL) {
            struct op *op = batch;
            batch = op->next;
            if (op->kind == OP_JOB) {
                op->job_op->status = ok ? RP_OK : RP_ERR_IO;
                op->job_op->done = true;
                free(op);
            } else if (ok) {
                op_free(op);
            } else {
                *kept_tail = op;
                kept_tail = &op->next;
            }
        }
        if (kept != NULL) {
            /* Before anything queued meanwhile: order is kept. */
            *kept_tail = j->head;
            if (j->head == NULL)
                j->tail = kept_tail;
            j->head = kept;
        }
        if (!ok) {
            free(j->why);
            j->why = why;
        }
        j->done_seq = last;
        pthread_cond_broadcast(&j->done_cond);
        failures = ok ? 0 : failures + 1;
        if (!ok && j->closing && failures >= CLOSE_TRIES) {
            /* Shutting down with a store that keeps failing: what is
             * left is lost to the store (the tasks' rows keep their last
             * committed state; recovery runs them again). */
            while (j->head != NULL) {
                struct op *op = j->head;
                j->head = op->next;
                op_free(op);
            }
            j->tail = &j->head;
            break;
        }
        if (!ok) {
            struct timespec until;
            rp__deadline_after(&until, RETRY_PAUSE_MS);
            pthread_cond_timedwait(&j->work, &j->lock, &until);
        }
    }
    pthread_mutex_unlock(&j->lock);
    finalize_all(&s);
    return NULL;
}
