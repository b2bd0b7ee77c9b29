/*
 * test_durable.c -- pools with a state dir (pool.h: state_dir,
 * rp_pool_create_why, rp_pool_recovery, rp_pool_store; task.h: rp_restore,
 * rp_restore_detail, rp_task_checkpoint_key, rp_task_set_checkpoint),
 * black-box through the public API, with the store read back by SQLite
 * (docs/store.md: the jobs, tasks and events tables):
 *
 *   - submissions are committed before rp_submit returns; ids go on
 *     across pools on one store;
 *   - results, jobs and states of an earlier pool are read from the store;
 *   - tasks queued or running at a shutdown stay queued in the store and
 *     the next pool runs them; interrupted attempts do not use the retry
 *     budget;
 *   - a coordinator killed with SIGKILL (a forked child) loses nothing it
 *     acknowledged: the next pool requeues what was running, kills what
 *     is left of it, runs every task at least once and records one final
 *     state per task; function tasks come back FAILED ("cannot recover:");
 *   - one pool per state dir (RP_ERR_BUSY), bad dirs and damaged or newer
 *     stores are refused with a reason;
 *   - the process checkpoint protocol ($REPARTIR_CHECKPOINT_FILE,
 *     $REPARTIR_RESTORE_FILE, SIGUSR1) and rp_restore.
 *
 * Child processes are /bin/sh scripts that run in the test's work dir.
 * Processes a test must find again write their pid to a file and carry a
 * marker argument (`sleep 60.<pid><n>`), checked in /proc/<pid>/cmdline
 * before anything is killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <repartir.h>

#include "tests/testing.h"

/* Ceiling for a wait on a task that should end soon: only a broken engine
 * gets near it. */
#define WAIT_MS 20000

/* ---- helpers: pools, tasks ---- */

static void
make_tmpdir(char *dir, size_t size)
{
    rp_test_tmpdir(dir, size, "durable");
}

static void
path_in(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);

    CU_ASSERT_FATAL(n > 0 && (size_t)n < size);
}

static rp_status
try_open(const char *dir, unsigned max_processes, rp_pool **pool, char **why)
{
    rp_pool_config cfg;

    rp_pool_config_init(&cfg);
    cfg.cpu_workers = 2;
    cfg.max_processes = max_processes;
    cfg.state_dir = dir;
    return rp_pool_create_why(&cfg, pool, why);
}

/* A durable pool on dir: two workers, max_processes (0 = two). */
static rp_pool *
open_pool(const char *dir, unsigned max_processes)
{
    rp_pool *pool = NULL;
    char *why = NULL;
    rp_status st = try_open(dir, max_processes, &pool, &why);

    if (st != RP_OK)
        fprintf(stderr, "\n    pool on %s: %s: %s\n", dir, rp_strerror(st),
                why != NULL ? why : "(no why)");
    CU_ASSERT_PTR_NULL(why);
    free(why);
    CU_ASSERT_EQUAL_FATAL(st, RP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
    return pool;
}

/* A function task that succeeds at once. */
static int
fn_quick(void *arg)
{
    (void)arg;
    return 0;
}

static rp_result *
wait_for(rp_pool *pool, rp_task_id id)
{
    rp_result *r = NULL;
    rp_status st = rp_wait(pool, id, WAIT_MS, &r);

    if (st != RP_OK)
        fprintf(stderr, "\n    rp_wait(%" PRIu64 "): %s\n", id, rp_strerror(st));
    CU_ASSERT_EQUAL_FATAL(st, RP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(rp_result_task(r), id);
    CU_ASSERT_TRUE(rp_task_state_is_final(rp_result_state(r)));
    return r;
}

static bool
bytes_are(const char *p, size_t len, const char *want, size_t want_len)
{
    return p != NULL && len == want_len && memcmp(p, want, len) == 0;
}

static bool
stdout_is(const rp_result *r, const char *want)
{
    size_t len = 0;
    const char *p = rp_result_stdout(r, &len);

    if (!bytes_are(p, len, want, strlen(want)))
        fprintf(stderr, "\n    stdout of %" PRIu64 ": '%.*s', want '%s' (error '%s')\n",
                rp_result_task(r), (int)len, p, want, rp_result_error(r));
    return bytes_are(p, len, want, strlen(want));
}

static bool
starts_with(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Polls rp_task_status until the task is in state `want`. */
static bool
wait_state(rp_pool *pool, rp_task_id id, rp_task_state want, double seconds)
{
    double give_up = rp_test_now() + seconds;
    rp_task_state s;

    do {
        if (rp_task_status(pool, id, &s) == RP_OK && s == want)
            return true;
        rp_test_sleep_ms(2);
    } while (rp_test_now() < give_up);
    return false;
}

/* Polls the pool until nothing is queued or running. */
static bool
wait_idle(rp_pool *pool, double seconds)
{
    double give_up = rp_test_now() + seconds;
    rp_stats s;

    do {
        if (rp_pool_stats(pool, &s) == RP_OK && s.queued == 0 && s.running == 0)
            return true;
        rp_test_sleep_ms(5);
    } while (rp_test_now() < give_up);
    return false;
}

/* ---- helpers: files ---- */

/* The unsigned numbers of a file, one per line, into ids (room for max);
 * how many there were (up to max). 0 if the file is missing. */
static size_t
read_ids(const char *path, uint64_t *ids, size_t max)
{
    FILE *f = fopen(path, "r");
    unsigned long long v;
    size_t n = 0;

    if (f == NULL)
        return 0;
    while (n < max && fscanf(f, "%llu", &v) == 1)
        ids[n++] = v;
    fclose(f);
    return n;
}

static size_t
count_of(const uint64_t *ids, size_t n, uint64_t id)
{
    size_t c = 0;

    for (size_t i = 0; i < n; i++)
        c += ids[i] == id;
    return c;
}

/* The first line of a file, without its newline, in buf; "" if none. */
static void
read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");

    buf[0] = '\0';
    if (f == NULL)
        return;
    if (fgets(buf, (int)size, f) == NULL)
        buf[0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}

static bool
file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Waits for path to exist. */
static bool
wait_file(const char *path, double seconds)
{
    double give_up = rp_test_now() + seconds;

    do {
        if (file_exists(path))
            return true;
        rp_test_sleep_ms(5);
    } while (rp_test_now() < give_up);
    return false;
}

/* ---- helpers: the store, read by SQLite ---- */

/* The first column of the first row of sql, run read-only on DIR/store.db;
 * -1 on an error. */
static long long sql_int(const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static long long
sql_int(const char *dir, const char *fmt, ...)
{
    char db[PATH_MAX], sql[1024];
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    va_list ap;

    snprintf(db, sizeof db, "%s/store.db", dir);
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(h, 5000);
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* Runs sql (no rows) read-write on DIR/store.db; true on success. */
static bool
sql_exec(const char *dir, const char *sql)
{
    char db[PATH_MAX];
    sqlite3 *h = NULL;
    bool ok;

    snprintf(db, sizeof db, "%s/store.db", dir);
    ok = sqlite3_open(db, &h) == SQLITE_OK && sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(h);
    return ok;
}

/* The state column of task id, in buf ("" if no row). */
static void
stored_state(const char *dir, rp_task_id id, char *buf, size_t size)
{
    char db[PATH_MAX];
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;

    buf[0] = '\0';
    snprintf(db, sizeof db, "%s/store.db", dir);
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, "SELECT state FROM tasks WHERE id = ?", -1, &st, NULL) ==
            SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
            snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
}

static bool
stored_state_is(const char *dir, rp_task_id id, const char *want)
{
    char got[32];

    stored_state(dir, id, got, sizeof got);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "\n    task %" PRIu64 " in the store: '%s', want '%s'\n", id, got, want);
    return strcmp(got, want) == 0;
}

/* Polls until sql gives at least `least`. */
static bool
wait_sql_at_least(const char *dir, long long least, double seconds, const char *sql)
{
    double give_up = rp_test_now() + seconds;

    do {
        if (sql_int(dir, "%s", sql) >= least)
            return true;
        rp_test_sleep_ms(10);
    } while (rp_test_now() < give_up);
    return false;
}

#define FINAL_STATES "('succeeded', 'failed', 'cancelled', 'timed_out')"

/* Every task of the store has at most one final event, and none is left
 * queued or running. */
static void
assert_store_settled(const char *dir)
{
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM (SELECT task FROM events WHERE state IN "
                                 FINAL_STATES " GROUP BY task HAVING count(*) > 1)"),
                    0);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM tasks WHERE state IN ('queued', 'running')"),
                    0);
    /* And every final task has its final event. */
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM tasks t WHERE t.state IN " FINAL_STATES
                                 " AND NOT EXISTS (SELECT 1 FROM events e WHERE e.task = t.id"
                                 " AND e.state = t.state)"),
                    0);
}

/* ---- helpers: leftover processes ---- */

static unsigned marker_serial;

/* A fresh marker for `sleep 60.MARKER`. */
static void
new_marker(char *buf, size_t size)
{
    snprintf(buf, size, "%ld%u", (long)getpid(), ++marker_serial);
}

/* Is pid alive (not a zombie) and running with `marker` in its command line? */
static bool
marked_alive(pid_t pid, const char *marker)
{
    char path[64], buf[4096], state = '?';
    const char *close_paren;
    ssize_t n;
    int fd;

    if (pid <= 1)
        return false;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    close_paren = strrchr(buf, ')');
    if (close_paren != NULL)
        sscanf(close_paren + 1, " %c", &state);
    if (state == 'Z' || state == 'X')
        return false;
    snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, marker) != NULL;
}

static pid_t
pid_in(const char *path)
{
    char line[32];

    read_line(path, line, sizeof line);
    return (pid_t)atol(line);
}

/* Kills what a broken engine may have left running: the process whose pid
 * is in `pidfile`, if it still carries the marker. True if it was alive. */
static bool
kill_leftover(const char *pidfile, const char *marker)
{
    pid_t pid = pid_in(pidfile);

    if (!marked_alive(pid, marker))
        return false;
    kill(pid, SIGKILL);
    return true;
}

/* Threads of this process, once the runtime's own have started: a
 * sanitizer may start a helper thread with the first pthread_create, which
 * must not count as the pool's. */
static int
thread_count_settled(void)
{
    static bool warmed;

    if (!warmed) {
        rp_pool_shutdown(rp_test_pool(1, 0, 0));
        warmed = true;
    }
    return rp_test_thread_count();
}

/* ---- submit and wait ---- */

static void
submit_commits_before_returning(void)
{
    char dir[PATH_MAX], db[PATH_MAX];
    int threads_before = thread_count_settled();
    rp_recovery rec;
    rp_pool *pool;
    rp_result *r;
    rp_task_id id;
    rp_job_id job = 0;

    make_tmpdir(dir, sizeof dir);
    pool = open_pool(dir, 0);
    path_in(db, sizeof db, dir, "store.db");
    CU_ASSERT_TRUE(file_exists(db));
    CU_ASSERT_PTR_NOT_NULL(rp_pool_store(pool));
    memset(&rec, 0xff, sizeof rec);
    CU_ASSERT_EQUAL(rp_pool_recovery(pool, &rec), RP_OK);
    CU_ASSERT(rec.queued == 0 && rec.interrupted == 0 && rec.unrecoverable == 0 &&
              rec.killed == 0);
    CU_ASSERT_EQUAL(rp_pool_recovery(pool, NULL), RP_ERR_INVALID);

    /* A task that cannot finish before we look: its row must be there as
     * soon as rp_submit returned. */
    id = rp_test_submit(pool, rp_test_sh("sleep 0.3; echo hi"));
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM tasks WHERE id = %" PRIu64, id), 1);
    CU_ASSERT_EQUAL(rp_task_job(pool, id, &job), RP_OK);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM jobs WHERE id = %" PRIu64 " AND total = 1",
                            job),
                    1);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT job FROM tasks WHERE id = %" PRIu64, id), (long long)job);

    r = wait_for(pool, id);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_TRUE(stdout_is(r, "hi\n"));
    rp_result_free(r);
    /* rp_wait hands out only what a crash cannot take back. */
    CU_ASSERT_TRUE(stored_state_is(dir, id, "succeeded"));
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT attempts FROM tasks WHERE id = %" PRIu64, id), 1);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM events WHERE task = %" PRIu64
                                 " AND state = 'succeeded'", id),
                    1);
    rp_pool_shutdown(pool);
    /* The writer and checkpoint threads are gone with the pool. */
    CU_ASSERT_EQUAL(rp_test_thread_count(), threads_before);
    rp_test_remove_tree(dir);
}

/* Without a state dir: no store, nothing recovered. */
static void
a_pool_without_state_dir_has_no_store(void)
{
    rp_pool *pool = rp_test_pool(2, 0, 0);
    static char sentinel[] = "untouched";
    rp_recovery rec;
    rp_pool_config cfg;
    rp_pool *bad = (rp_pool *)(void *)sentinel;
    char *why = sentinel;

    CU_ASSERT_PTR_NULL(rp_pool_store(pool));
    CU_ASSERT_PTR_NULL(rp_pool_store(NULL));
    memset(&rec, 0xff, sizeof rec);
    CU_ASSERT_EQUAL(rp_pool_recovery(pool, &rec), RP_OK);
    CU_ASSERT(rec.queued == 0 && rec.interrupted == 0 && rec.unrecoverable == 0 &&
              rec.killed == 0);
    rp_pool_shutdown(pool);

    /* An empty state dir is a bad argument. */
    rp_pool_config_init(&cfg);
    cfg.cpu_workers = 1;
    cfg.state_dir = "";
    CU_ASSERT_EQUAL(rp_pool_create_why(&cfg, &bad, &why), RP_ERR_INVALID);
    CU_ASSERT_PTR_NULL(bad);
    CU_ASSERT_PTR_NULL(why);            /* set to NULL, whatever the error */
    if (why != sentinel)
        free(why);
}

/* ---- ids ---- */

static void
ids_continue_across_pools(void)
{
    char dir[PATH_MAX];
    rp_task_id ids[3], shard_ids[2], max_task = 0, id;
    rp_job_id jobs[4], max_job = 0, job;
    rp_pool *pool;

    make_tmpdir(dir, sizeof dir);
    pool = open_pool(dir, 0);
    for (int i = 0; i < 3; i++) {
        ids[i] = rp_test_submit(pool, rp_task_new("/bin/true"));
        CU_ASSERT_EQUAL(rp_task_job(pool, ids[i], &jobs[i]), RP_OK);
    }
    CU_ASSERT_EQUAL_FATAL(rp_submit_job(pool, rp_task_new("/bin/true"), 2, &jobs[3], shard_ids),
                          RP_OK);
    CU_ASSERT_EQUAL(rp_job_wait(pool, jobs[3], WAIT_MS, NULL), RP_OK);
    for (int i = 0; i < 3; i++) {
        rp_result_free(wait_for(pool, ids[i]));
        max_task = ids[i] > max_task ? ids[i] : max_task;
        max_job = jobs[i] > max_job ? jobs[i] : max_job;
    }
    max_task = shard_ids[1] > max_task ? shard_ids[1] : max_task;
    max_job = jobs[3] > max_job ? jobs[3] : max_job;
    rp_pool_shutdown(pool);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT max(id) FROM tasks"), (long long)max_task);

    /* A pool that submits nothing changes nothing. */
    pool = open_pool(dir, 0);
    rp_pool_shutdown(pool);

    pool = open_pool(dir, 0);
    id = rp_test_submit(pool, rp_task_new("/bin/true"));
    CU_ASSERT_EQUAL(id, max_task + 1);
    CU_ASSERT_EQUAL(rp_task_job(pool, id, &job), RP_OK);
    CU_ASSERT_EQUAL(job, max_job + 1);
    rp_result_free(wait_for(pool, id));
    /* The earlier tasks are still the earlier tasks. */
    CU_ASSERT_EQUAL(rp_task_job(pool, ids[0], &job), RP_OK);
    CU_ASSERT_EQUAL(job, jobs[0]);
    rp_pool_shutdown(pool);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM tasks"), 6);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(DISTINCT id) FROM tasks"), 6);
    rp_test_remove_tree(dir);
}

/* ---- results of an earlier pool ---- */

struct kept {
    rp_task_id id;
    rp_job_id job;
    rp_task_state state;
    int exit_code, signal;
    char *out, *err, *error;
    size_t out_len, err_len;
    uint64_t out_total;
    bool out_truncated;
    unsigned attempts;
};

static void
keep_result(struct kept *k, const rp_result *r)
{
    const char *p;

    k->id = rp_result_task(r);
    k->job = rp_result_job(r);
    k->state = rp_result_state(r);
    k->exit_code = rp_result_exit_code(r);
    k->signal = rp_result_signal(r);
    p = rp_result_stdout(r, &k->out_len);
    k->out = malloc(k->out_len + 1);
    memcpy(k->out, p, k->out_len);
    p = rp_result_stderr(r, &k->err_len);
    k->err = malloc(k->err_len + 1);
    memcpy(k->err, p, k->err_len);
    k->error = strdup(rp_result_error(r));
    k->out_total = rp_result_stdout_total(r);
    k->out_truncated = rp_result_stdout_truncated(r);
    k->attempts = rp_result_attempts(r);
}

static void
assert_same_result(const struct kept *k, const rp_result *r)
{
    size_t len = 0;
    const char *p;

    CU_ASSERT_EQUAL(rp_result_task(r), k->id);
    CU_ASSERT_EQUAL(rp_result_job(r), k->job);
    CU_ASSERT_EQUAL(rp_result_state(r), k->state);
    CU_ASSERT_EQUAL(rp_result_is_success(r), k->state == RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(rp_result_exit_code(r), k->exit_code);
    CU_ASSERT_EQUAL(rp_result_signal(r), k->signal);
    p = rp_result_stdout(r, &len);
    CU_ASSERT_TRUE(bytes_are(p, len, k->out, k->out_len));
    p = rp_result_stderr(r, &len);
    CU_ASSERT_TRUE(bytes_are(p, len, k->err, k->err_len));
    CU_ASSERT_STRING_EQUAL(rp_result_error(r), k->error);
    CU_ASSERT_EQUAL(rp_result_stdout_total(r), k->out_total);
    CU_ASSERT_EQUAL(rp_result_stdout_truncated(r), k->out_truncated);
    CU_ASSERT_EQUAL(rp_result_attempts(r), k->attempts);
    if (strcmp(rp_result_error(r), k->error) != 0)
        fprintf(stderr, "\n    error of %" PRIu64 ": '%s', was '%s'\n", k->id, rp_result_error(r),
                k->error);
}

static void
results_of_an_earlier_pool_come_from_the_store(void)
{
    static const char binary_out[] = "out\0bin\n";
    char dir[PATH_MAX];
    struct kept k[5];
    rp_task_id ids[5];
    rp_task_state s;
    rp_job_id job;
    rp_job_info info;
    rp_pool *pool;
    rp_result *r;
    rp_task *t;

    make_tmpdir(dir, sizeof dir);
    pool = open_pool(dir, 0);
    ids[0] = rp_test_submit(pool, rp_test_sh("printf 'out\\000bin\\n'; echo err >&2"));
    ids[1] = rp_test_submit(pool, rp_test_sh("echo partial; exit 3"));
    ids[2] = rp_test_submit(pool, rp_task_new("/nonexistent/rp-durable-test"));
    ids[3] = rp_test_submit(pool, rp_test_sh("echo before; kill -9 $$"));
    t = rp_test_sh("head -c 200000 /dev/zero | tr '\\000' x; printf END");
    CU_ASSERT_EQUAL(rp_task_set_capture_limit(t, 1000), RP_OK);
    ids[4] = rp_test_submit(pool, t);
    for (int i = 0; i < 5; i++) {
        r = wait_for(pool, ids[i]);
        keep_result(&k[i], r);
        rp_result_free(r);
    }
    /* What the first pool saw, so that the store is checked against it. */
    CU_ASSERT_EQUAL(k[0].state, RP_TASK_SUCCEEDED);
    CU_ASSERT_TRUE(bytes_are(k[0].out, k[0].out_len, binary_out, sizeof binary_out - 1));
    CU_ASSERT_TRUE(bytes_are(k[0].err, k[0].err_len, "err\n", 4));
    CU_ASSERT_EQUAL(k[1].state, RP_TASK_FAILED);
    CU_ASSERT_EQUAL(k[1].exit_code, 3);
    CU_ASSERT_EQUAL(k[2].state, RP_TASK_FAILED);
    CU_ASSERT(strstr(k[2].error, "/nonexistent/rp-durable-test") != NULL);
    CU_ASSERT_EQUAL(k[3].state, RP_TASK_FAILED);
    CU_ASSERT_EQUAL(k[3].signal, SIGKILL);
    CU_ASSERT_EQUAL(k[3].exit_code, -1);
    CU_ASSERT_TRUE(k[4].out_truncated);
    CU_ASSERT_EQUAL(k[4].out_total, 200003);
    CU_ASSERT_EQUAL(k[4].out_len, 1000);
    rp_pool_shutdown(pool);

    pool = open_pool(dir, 0);
    for (int i = 0; i < 5; i++) {
        r = NULL;
        CU_ASSERT_EQUAL(rp_wait(pool, ids[i], 0, &r), RP_OK);
        if (r != NULL) {
            assert_same_result(&k[i], r);
            rp_result_free(r);
        }
        /* Again: a second wait gives the same. */
        r = NULL;
        CU_ASSERT_EQUAL(rp_wait(pool, ids[i], WAIT_MS, &r), RP_OK);
        if (r != NULL) {
            CU_ASSERT_EQUAL(rp_result_state(r), k[i].state);
            rp_result_free(r);
        }
        CU_ASSERT_EQUAL(rp_task_status(pool, ids[i], &s), RP_OK);
        CU_ASSERT_EQUAL(s, k[i].state);
        CU_ASSERT_EQUAL(rp_task_job(pool, ids[i], &job), RP_OK);
        CU_ASSERT_EQUAL(job, k[i].job);
        memset(&info, 0, sizeof info);
        CU_ASSERT_EQUAL(rp_job_get(pool, k[i].job, &info), RP_OK);
        CU_ASSERT_EQUAL(info.id, k[i].job);
        CU_ASSERT_EQUAL(info.total, 1);
        CU_ASSERT_EQUAL(info.count[k[i].state], 1);
        CU_ASSERT_EQUAL(info.state, k[i].state);
    }
    /* Unknown ids stay unknown. */
    r = NULL;
    CU_ASSERT_EQUAL(rp_wait(pool, ids[4] + 1000, 0, &r), RP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(rp_task_status(pool, ids[4] + 1000, &s), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_job_get(pool, k[4].job + 1000, &info), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_job_wait(pool, k[4].job + 1000, 0, &info), RP_ERR_NOT_FOUND);
    rp_pool_shutdown(pool);
    for (int i = 0; i < 5; i++) {
        free(k[i].out);
        free(k[i].err);
        free(k[i].error);
    }
    rp_test_remove_tree(dir);
}

static void
jobs_of_an_earlier_pool_come_from_the_store(void)
{
    char dir[PATH_MAX];
    rp_task_id ids[3];
    rp_job_id job = 0, got;
    rp_job_info info, info2;
    rp_pool *pool;
    rp_result *r;

    make_tmpdir(dir, sizeof dir);
    pool = open_pool(dir, 0);
    CU_ASSERT_EQUAL_FATAL(rp_submit_job(pool, rp_test_sh("echo s$REPARTIR_SHARD;"
                                                       " exit $REPARTIR_SHARD"),
                                        3, &job, ids),
                          RP_OK);
    CU_ASSERT_EQUAL(rp_job_wait(pool, job, WAIT_MS, &info), RP_OK);
    CU_ASSERT_EQUAL(info.state, RP_TASK_FAILED);
    rp_pool_shutdown(pool);

    pool = open_pool(dir, 0);
    memset(&info, 0, sizeof info);
    CU_ASSERT_EQUAL(rp_job_get(pool, job, &info), RP_OK);
    CU_ASSERT_EQUAL(info.id, job);
    CU_ASSERT_EQUAL(info.total, 3);
    CU_ASSERT_EQUAL(info.count[RP_TASK_SUCCEEDED], 1);
    CU_ASSERT_EQUAL(info.count[RP_TASK_FAILED], 2);
    CU_ASSERT_EQUAL(info.count[RP_TASK_QUEUED] + info.count[RP_TASK_RUNNING], 0);
    CU_ASSERT_EQUAL(info.state, RP_TASK_FAILED);
    memset(&info2, 0, sizeof info2);
    CU_ASSERT_EQUAL(rp_job_wait(pool, job, 0, &info2), RP_OK);
    CU_ASSERT_EQUAL(info2.total, 3);
    CU_ASSERT_EQUAL(info2.state, RP_TASK_FAILED);
    CU_ASSERT_EQUAL(rp_job_wait(pool, job, WAIT_MS, NULL), RP_OK);
    for (unsigned i = 0; i < 3; i++) {
        char want[8];

        CU_ASSERT_EQUAL(rp_task_job(pool, ids[i], &got), RP_OK);
        CU_ASSERT_EQUAL(got, job);
        r = wait_for(pool, ids[i]);
        snprintf(want, sizeof want, "s%u\n", i);
        CU_ASSERT_EQUAL(rp_result_shard(r), i);
        CU_ASSERT_EQUAL(rp_result_job(r), job);
        CU_ASSERT_EQUAL(rp_result_exit_code(r), (int)i);
        CU_ASSERT_TRUE(stdout_is(r, want));
        rp_result_free(r);
    }
    rp_pool_shutdown(pool);
    rp_test_remove_tree(dir);
}

/* ---- shutdown ---- */

/* Queued tasks end CANCELLED in memory at a shutdown but stay queued in
 * the store; the running one is killed and stays queued with its attempt
 * counted as interrupted. The next pool runs them all. */
static void
queued_and_running_tasks_at_shutdown_run_in_the_next_pool(void)
{
    char dir[PATH_MAX], work[PATH_MAX], marks[PATH_MAX], once[PATH_MAX], pidfile[PATH_MAX];
    char marker[32];
    rp_task_id lid, qid[3], shard_ids[2];
    rp_job_id job = 0;
    rp_job_info info;
    rp_subscription *sub = NULL;
    rp_recovery rec;
    rp_event ev;
    rp_pool *pool;
    rp_result *r;
    rp_task *t;
    uint64_t seen[64];
    size_t n, cancelled = 0;

    make_tmpdir(dir, sizeof dir);
    path_in(work, sizeof work, dir, "work");
    CU_ASSERT_EQUAL_FATAL(mkdir(work, 0755), 0);
    path_in(marks, sizeof marks, work, "marks");
    path_in(once, sizeof once, work, "once");
    path_in(pidfile, sizeof pidfile, work, "pid");
    new_marker(marker, sizeof marker);

    pool = open_pool(dir, 1);
    /* The first attempt sleeps; the second one ends at once. */
    t = rp_test_sh("if [ -e once ]; then echo second; exit 0; fi;"
                 " : > once; echo $$ > pid; exec sleep 60.%s", marker);
    CU_ASSERT_EQUAL(rp_task_set_cwd(t, work), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_kill_grace_ms(t, 200), RP_OK);
    lid = rp_test_submit(pool, t);
    CU_ASSERT_TRUE_FATAL(wait_state(pool, lid, RP_TASK_RUNNING, 10));
    CU_ASSERT_TRUE(wait_file(pidfile, 10));
    for (int i = 0; i < 3; i++) {
        t = rp_test_sh("echo $REPARTIR_TASK_ID >> marks; echo q");
        CU_ASSERT_EQUAL(rp_task_set_cwd(t, work), RP_OK);
        qid[i] = rp_test_submit(pool, t);
    }
    t = rp_test_sh("echo $REPARTIR_TASK_ID >> marks; echo shard $REPARTIR_SHARD");
    CU_ASSERT_EQUAL(rp_task_set_cwd(t, work), RP_OK);
    CU_ASSERT_EQUAL_FATAL(rp_submit_job(pool, t, 2, &job, shard_ids), RP_OK);
    CU_ASSERT_EQUAL(rp_subscribe(pool, &sub), RP_OK);
    rp_pool_shutdown(pool);

    /* In memory: every one of them ended CANCELLED. */
    while (sub != NULL && rp_subscription_next(sub, 1000, &ev, NULL) == RP_OK)
        cancelled += ev.state == RP_TASK_CANCELLED;
    rp_unsubscribe(sub);
    CU_ASSERT_EQUAL(cancelled, 6);
    CU_ASSERT_FALSE(marked_alive(pid_in(pidfile), marker));
    CU_ASSERT_FALSE(file_exists(marks));

    /* In the store: queued, the running one with its attempt interrupted. */
    CU_ASSERT_TRUE(stored_state_is(dir, lid, "queued"));
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT interrupted FROM tasks WHERE id = %" PRIu64, lid), 1);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_TRUE(stored_state_is(dir, qid[i], "queued"));
        CU_ASSERT_EQUAL(sql_int(dir, "SELECT interrupted FROM tasks WHERE id = %" PRIu64, qid[i]),
                        0);
    }
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM tasks WHERE state = 'cancelled'"), 0);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM events WHERE state = 'cancelled'"), 0);

    pool = open_pool(dir, 0);
    memset(&rec, 0, sizeof rec);
    CU_ASSERT_EQUAL(rp_pool_recovery(pool, &rec), RP_OK);
    CU_ASSERT_EQUAL(rec.queued + rec.interrupted, 6);
    CU_ASSERT(rec.queued >= 5);
    CU_ASSERT_EQUAL(rec.unrecoverable, 0);
    CU_ASSERT_EQUAL(rec.killed, 0);
    r = wait_for(pool, lid);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_TRUE(stdout_is(r, "second\n"));
    CU_ASSERT_EQUAL(rp_result_attempts(r), 2);
    rp_result_free(r);
    for (int i = 0; i < 3; i++) {
        r = wait_for(pool, qid[i]);
        CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
        CU_ASSERT_TRUE(stdout_is(r, "q\n"));
        CU_ASSERT_EQUAL(rp_result_attempts(r), 1);
        rp_result_free(r);
    }
    CU_ASSERT_EQUAL(rp_job_wait(pool, job, WAIT_MS, &info), RP_OK);
    CU_ASSERT_EQUAL(info.total, 2);
    CU_ASSERT_EQUAL(info.state, RP_TASK_SUCCEEDED);
    for (unsigned i = 0; i < 2; i++) {
        char want[16];

        r = wait_for(pool, shard_ids[i]);
        snprintf(want, sizeof want, "shard %u\n", i);
        CU_ASSERT_TRUE(stdout_is(r, want));
        CU_ASSERT_EQUAL(rp_result_shard(r), i);
        rp_result_free(r);
    }
    rp_pool_shutdown(pool);

    /* Each ran exactly once (it was never started before). */
    n = read_ids(marks, seen, 64);
    CU_ASSERT_EQUAL(n, 5);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(count_of(seen, n, qid[i]), 1);
    for (int i = 0; i < 2; i++)
        CU_ASSERT_EQUAL(count_of(seen, n, shard_ids[i]), 1);
    assert_store_settled(dir);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT interrupted FROM tasks WHERE id = %" PRIu64, lid), 1);
    kill_leftover(pidfile, marker);
    rp_test_remove_tree(dir);
}

/* retries = 1 and retry on exit: attempt 1 is interrupted by a shutdown,
 * attempt 2 fails, attempt 3 succeeds. Were the interrupted attempt
 * counted, attempt 2 would be the last. */
static void
interrupted_attempts_do_not_use_the_retry_budget(void)
{
    char dir[PATH_MAX], work[PATH_MAX], count[PATH_MAX], line[32], marker[32];
    rp_task_id id;
    rp_pool *pool;
    rp_result *r;
    rp_task *t;
    double give_up;

    make_tmpdir(dir, sizeof dir);
    path_in(work, sizeof work, dir, "work");
    CU_ASSERT_EQUAL_FATAL(mkdir(work, 0755), 0);
    path_in(count, sizeof count, work, "count");
    new_marker(marker, sizeof marker);

    pool = open_pool(dir, 0);
    t = rp_test_sh("n=$(cat count 2>/dev/null || echo 0); n=$((n + 1)); echo $n > count;"
                 " case $n in 1) exec sleep 60.%s;; 2) echo two; exit 1;; *) echo n=$n;; esac",
                 marker);
    CU_ASSERT_EQUAL(rp_task_set_cwd(t, work), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_retries(t, 1), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_retry_on_exit(t, true), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_backoff(t, 1, 5), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_kill_grace_ms(t, 200), RP_OK);
    id = rp_test_submit(pool, t);
    CU_ASSERT_TRUE(wait_state(pool, id, RP_TASK_RUNNING, 10));
    give_up = rp_test_now() + 10;
    do {
        read_line(count, line, sizeof line);
        if (strcmp(line, "1") == 0)
            break;
        rp_test_sleep_ms(5);
    } while (rp_test_now() < give_up);
    CU_ASSERT_STRING_EQUAL(line, "1");
    rp_pool_shutdown(pool);
    CU_ASSERT_TRUE(stored_state_is(dir, id, "queued"));
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT interrupted FROM tasks WHERE id = %" PRIu64, id), 1);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT attempts FROM tasks WHERE id = %" PRIu64, id), 1);

    pool = open_pool(dir, 0);
    r = wait_for(pool, id);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_TRUE(stdout_is(r, "n=3\n"));
    CU_ASSERT_EQUAL(rp_result_attempts(r), 3);
    rp_result_free(r);
    rp_pool_shutdown(pool);
    read_line(count, line, sizeof line);
    CU_ASSERT_STRING_EQUAL(line, "3");
    CU_ASSERT_TRUE(stored_state_is(dir, id, "succeeded"));
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT interrupted FROM tasks WHERE id = %" PRIu64, id), 1);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT attempts FROM tasks WHERE id = %" PRIu64, id), 3);
    assert_store_settled(dir);
    rp_test_remove_tree(dir);
}

/* What the caller cancelled, or what timed out, is over: stored so, and
 * not run again by the next pool. */
static void
cancelled_and_timed_out_tasks_stay_over(void)
{
    char dir[PATH_MAX], marker[32];
    rp_task_id running, queued, timed;
    rp_recovery rec;
    rp_pool *pool;
    rp_result *r;
    rp_task *t;

    make_tmpdir(dir, sizeof dir);
    new_marker(marker, sizeof marker);
    pool = open_pool(dir, 1);
    t = rp_test_sh("exec sleep 60.%s", marker);
    CU_ASSERT_EQUAL(rp_task_set_kill_grace_ms(t, 100), RP_OK);
    running = rp_test_submit(pool, t);
    CU_ASSERT_TRUE(wait_state(pool, running, RP_TASK_RUNNING, 10));
    queued = rp_test_submit(pool, rp_task_new("/bin/true"));
    CU_ASSERT_EQUAL(rp_cancel(pool, queued), RP_OK);
    CU_ASSERT_EQUAL(rp_cancel(pool, running), RP_OK);
    r = wait_for(pool, running);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_CANCELLED);
    rp_result_free(r);
    r = wait_for(pool, queued);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_CANCELLED);
    rp_result_free(r);
    t = rp_test_sh("exec sleep 60.%s", marker);
    CU_ASSERT_EQUAL(rp_task_set_timeout_ms(t, 100), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_kill_grace_ms(t, 100), RP_OK);
    timed = rp_test_submit(pool, t);
    r = wait_for(pool, timed);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_TIMED_OUT);
    rp_result_free(r);
    rp_pool_shutdown(pool);
    CU_ASSERT_TRUE(stored_state_is(dir, running, "cancelled"));
    CU_ASSERT_TRUE(stored_state_is(dir, queued, "cancelled"));
    CU_ASSERT_TRUE(stored_state_is(dir, timed, "timed_out"));
    assert_store_settled(dir);

    pool = open_pool(dir, 0);
    memset(&rec, 0xff, sizeof rec);
    CU_ASSERT_EQUAL(rp_pool_recovery(pool, &rec), RP_OK);
    CU_ASSERT(rec.queued == 0 && rec.interrupted == 0 && rec.unrecoverable == 0 &&
              rec.killed == 0);
    r = wait_for(pool, timed);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_TIMED_OUT);
    CU_ASSERT(strstr(rp_result_error(r), "timed out") != NULL);
    rp_result_free(r);
    r = wait_for(pool, queued);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_CANCELLED);
    CU_ASSERT_EQUAL(rp_result_attempts(r), 0);
    rp_result_free(r);
    /* Cancelling what an earlier pool finished changes nothing and is no
     * error (task.h: "RP_OK also if it already ended"), as rp_wait and
     * rp_task_status know the task. */
    CU_ASSERT_EQUAL(rp_cancel(pool, timed), RP_OK);
    CU_ASSERT_TRUE(stored_state_is(dir, timed, "timed_out"));
    rp_pool_shutdown(pool);
    rp_test_remove_tree(dir);
}

#define SUBMITTERS 4
#define SUBMISSIONS 100

struct submitter {
    rp_pool *pool;
    rp_task_id ids[SUBMISSIONS];
    int failures;
};

static void *
submitter_main(void *arg)
{
    struct submitter *s = arg;

    for (int i = 0; i < SUBMISSIONS; i++)
        if (rp_submit(s->pool, rp_task_new_fn(fn_quick, NULL), &s->ids[i]) != RP_OK)
            s->failures++;
    return NULL;
}

/* Submitters in several threads share commits; each gets its own ids,
 * and every submission is in the store when its rp_submit returns. */
static void
concurrent_submitters_are_all_committed(void)
{
    char dir[PATH_MAX];
    struct submitter subs[SUBMITTERS];
    pthread_t threads[SUBMITTERS];
    rp_job_id job = 0;
    rp_job_info info;
    rp_pool *pool;
    rp_result *r;

    make_tmpdir(dir, sizeof dir);
    pool = open_pool(dir, 0);
    for (int i = 0; i < SUBMITTERS; i++) {
        memset(&subs[i], 0, sizeof subs[i]);
        subs[i].pool = pool;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&threads[i], NULL, submitter_main, &subs[i]), 0);
    }
    CU_ASSERT_EQUAL(rp_submit_job(pool, rp_task_new_fn(fn_quick, NULL), 500, &job, NULL), RP_OK);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM tasks WHERE job = %" PRIu64, job), 500);
    for (int i = 0; i < SUBMITTERS; i++) {
        pthread_join(threads[i], NULL);
        CU_ASSERT_EQUAL(subs[i].failures, 0);
    }
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM tasks"), SUBMITTERS * SUBMISSIONS + 500);
    for (int i = 0; i < SUBMITTERS; i++)
        for (int k = 0; k < SUBMISSIONS; k++) {
            r = wait_for(pool, subs[i].ids[k]);
            CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
            rp_result_free(r);
        }
    CU_ASSERT_EQUAL(rp_job_wait(pool, job, WAIT_MS, &info), RP_OK);
    CU_ASSERT_EQUAL(info.count[RP_TASK_SUCCEEDED], 500);
    rp_pool_shutdown(pool);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(DISTINCT id) FROM tasks"),
                    SUBMITTERS * SUBMISSIONS + 500);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM tasks WHERE state = 'succeeded'"),
                    SUBMITTERS * SUBMISSIONS + 500);
    assert_store_settled(dir);
    rp_test_remove_tree(dir);
}

/* ---- crash of the coordinator ---- */

/* Appends id to the file of acknowledged ids. */
static bool
ack(int fd, rp_task_id id)
{
    char line[32];
    int n = snprintf(line, sizeof line, "%" PRIu64 "\n", id);

    return write(fd, line, (size_t)n) == n;
}

static rp_task *
child_task(const char *work, const char *script)
{
    rp_task *t = rp_task_new("/bin/sh");

    if (t == NULL || rp_task_add_arg(t, "-c") != RP_OK || rp_task_add_arg(t, script) != RP_OK ||
        rp_task_set_cwd(t, work) != RP_OK)
        _exit(3);
    return t;
}

/* The coordinator that gets killed: a durable pool with three process
 * slots. Two long tasks and a checkpointing one take three; quick tasks
 * go through the one left, more submitted every 20 ms. Every id whose
 * rp_submit returned goes to `acked`. Never returns. */
static void __attribute__((noreturn))
crash_child(const char *dir, const char *work, const char *marker, const char *acked)
{
    char script[1024];
    rp_pool_config cfg;
    rp_pool *pool = NULL;
    rp_task_id id;
    rp_task *t;
    int fd = open(acked, O_WRONLY | O_CREAT | O_APPEND, 0644);

    if (fd < 0)
        _exit(2);
    rp_pool_config_init(&cfg);
    cfg.cpu_workers = 2;
    cfg.max_processes = 4;
    cfg.state_dir = dir;
    if (rp_pool_create(&cfg, &pool) != RP_OK)
        _exit(2);
    /* Long ones: the first attempt sleeps until killed. */
    snprintf(script, sizeof script,
             "echo $REPARTIR_TASK_ID >> marks;"
             " if [ -e once.$REPARTIR_TASK_ID ]; then echo again; exit 0; fi;"
             " : > once.$REPARTIR_TASK_ID; echo $$ > pid.$REPARTIR_TASK_ID;"
             " exec sleep 60.%s", marker);
    for (int i = 0; i < 2; i++) {
        if (rp_submit(pool, child_task(work, script), &id) != RP_OK || !ack(fd, id))
            _exit(4);
    }
    /* Checkpointing: saves "step1", then sleeps; a restored attempt says
     * what it found. */
    snprintf(script, sizeof script,
             "trap '' USR1; echo $REPARTIR_TASK_ID >> marks;"
             " if [ -e once.$REPARTIR_TASK_ID ]; then"
             "   if [ -n \"$REPARTIR_RESTORE_FILE\" ]; then"
             "     echo \"resumed $(cat \"$REPARTIR_RESTORE_FILE\")\"; else echo resumed none; fi;"
             "   exit 0; fi;"
             " : > once.$REPARTIR_TASK_ID;"
             " if [ -n \"$REPARTIR_CHECKPOINT_FILE\" ]; then"
             "   echo step1 > \"$REPARTIR_CHECKPOINT_FILE.tmp\" &&"
             "   mv \"$REPARTIR_CHECKPOINT_FILE.tmp\" \"$REPARTIR_CHECKPOINT_FILE\"; fi;"
             " echo $$ > pid.$REPARTIR_TASK_ID; : > ckpt-written; exec sleep 60.%s", marker);
    t = child_task(work, script);
    if (rp_task_set_checkpoint(t, true, 100) != RP_OK || rp_submit(pool, t, &id) != RP_OK ||
        !ack(fd, id))
        _exit(4);
    for (int i = 0; i < 40; i++) {
        t = child_task(work, "echo $REPARTIR_TASK_ID >> marks; sleep 0.05; echo quick");
        if (rp_submit(pool, t, &id) != RP_OK || !ack(fd, id))
            _exit(4);
        if (i >= 6)
            rp_test_sleep_ms(20);
    }
    rp_test_sleep_ms(60000);
    _exit(5);
}

/* Forks a coordinator, lets it run until the store shows its long tasks
 * running and some quick ones done, SIGKILLs it; then a new pool must
 * finish every acknowledged task, each at least once, each with one
 * final state. */
static void
coordinator_crash_loses_nothing_acknowledged(void)
{
    char dir[PATH_MAX], work[PATH_MAX], acked_path[PATH_MAX], marks_path[PATH_MAX];
    char path[PATH_MAX + 32], marker[32], key[64];
    uint64_t acked[64], marks[512];
    size_t nacked, nmarks;
    rp_recovery rec;
    rp_pool *pool;
    rp_result *r;
    rp_task_id id;
    pid_t child;
    int status = 0;
    bool ready;
    pid_t long_pids[3];

    make_tmpdir(dir, sizeof dir);
    path_in(work, sizeof work, dir, "work");
    CU_ASSERT_EQUAL_FATAL(mkdir(work, 0755), 0);
    path_in(acked_path, sizeof acked_path, dir, "acked");
    path_in(marks_path, sizeof marks_path, work, "marks");
    new_marker(marker, sizeof marker);

    child = fork();
    CU_ASSERT_FATAL(child >= 0);
    if (child == 0)
        crash_child(dir, work, marker, acked_path);

    /* Ready: the three long tasks running, a few quick ones done and their
     * processes' pids recorded (the last for a short while only: it is
     * what recovery needs to kill leftovers). */
    ready = wait_sql_at_least(dir, 3, 15, "SELECT count(*) FROM tasks WHERE state = 'running'"
                                          " AND id <= 3") &&
            wait_sql_at_least(dir, 3, 15, "SELECT count(*) FROM tasks WHERE state = 'succeeded'");
    CU_ASSERT_TRUE(ready);
    path_in(path, sizeof path, work, "ckpt-written");
    CU_ASSERT_TRUE(wait_file(path, 10));
    if (!wait_sql_at_least(dir, 3, 2, "SELECT count(*) FROM tasks WHERE state = 'running'"
                                      " AND id <= 3 AND pid IS NOT NULL"))
        fprintf(stderr, "\n    the store has no pid for the running tasks (tasks.pid)\n");
    rp_test_sleep_ms(150);        /* a checkpoint reminder or two */
    kill(child, SIGKILL);
    CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
    if (!WIFSIGNALED(status))
        fprintf(stderr, "\n    coordinator ended by itself: exit %d (2 pool, 3 task, 4 submit)\n",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    CU_ASSERT_TRUE_FATAL(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    nacked = read_ids(acked_path, acked, 64);
    CU_ASSERT_FATAL(nacked >= 3);
    CU_ASSERT_EQUAL(acked[0], 1);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/pid.%d", work, i + 1);
        long_pids[i] = pid_in(path);
        /* A crash of the coordinator does not end its processes. */
        CU_ASSERT_TRUE(marked_alive(long_pids[i], marker));
    }

    pool = open_pool(dir, 8);
    memset(&rec, 0, sizeof rec);
    CU_ASSERT_EQUAL(rp_pool_recovery(pool, &rec), RP_OK);
    CU_ASSERT(rec.interrupted >= 3);
    CU_ASSERT(rec.queued >= 1);
    CU_ASSERT_EQUAL(rec.unrecoverable, 0);
    CU_ASSERT(rec.killed >= 3);
    if (rec.killed < 3)
        fprintf(stderr, "\n    recovery: queued %" PRIu64 ", interrupted %" PRIu64 ", killed %" PRIu64
                        "\n", rec.queued, rec.interrupted, rec.killed);
    /* The leftovers are gone before their tasks run again. */
    for (int i = 0; i < 3; i++) {
        double give_up = rp_test_now() + 2;

        while (marked_alive(long_pids[i], marker) && rp_test_now() < give_up)
            rp_test_sleep_ms(5);
        CU_ASSERT_FALSE(marked_alive(long_pids[i], marker));
    }
    for (size_t i = 0; i < nacked; i++) {
        r = wait_for(pool, acked[i]);
        if (rp_result_state(r) != RP_TASK_SUCCEEDED)
            fprintf(stderr, "\n    task %" PRIu64 ": %s, %s\n", acked[i],
                    rp_task_state_name(rp_result_state(r)), rp_result_error(r));
        CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
        if (acked[i] <= 2)
            CU_ASSERT_TRUE(stdout_is(r, "again\n"));
        if (acked[i] == 3)
            CU_ASSERT_TRUE(stdout_is(r, "resumed step1\n"));
        rp_result_free(r);
    }
    /* The checkpoint of the checkpointing task is in the store. */
    CU_ASSERT_EQUAL(rp_task_checkpoint_key(pool, 3, key, sizeof key), RP_OK);
    CU_ASSERT_STRING_EQUAL(key, "task/3");
    {
        void *data = NULL;
        size_t len = 0;
        uint64_t it = 0;

        CU_ASSERT_EQUAL(rp_ckpt_load(rp_pool_store(pool), "task/3", &data, &len, &it), RP_OK);
        CU_ASSERT_TRUE(bytes_are(data, len, "step1\n", 6));
        CU_ASSERT_EQUAL(it, 1);
        free(data);
    }
    /* Submitted but unacknowledged tasks may have been committed: they run
     * too. Then a new id follows every id the store has seen. */
    CU_ASSERT_TRUE(wait_idle(pool, 20));
    id = rp_test_submit(pool, rp_task_new("/bin/true"));
    CU_ASSERT(id > acked[nacked - 1]);
    rp_result_free(wait_for(pool, id));
    rp_pool_shutdown(pool);

    /* At least once: every acknowledged task left its mark. */
    nmarks = read_ids(marks_path, marks, 512);
    for (size_t i = 0; i < nacked; i++) {
        if (count_of(marks, nmarks, acked[i]) < 1)
            fprintf(stderr, "\n    task %" PRIu64 " never ran\n", acked[i]);
        CU_ASSERT(count_of(marks, nmarks, acked[i]) >= 1);
        CU_ASSERT_TRUE(stored_state_is(dir, acked[i], "succeeded"));
    }
    /* The long ones ran twice: once killed, once to the end. */
    for (uint64_t i = 1; i <= 3; i++)
        CU_ASSERT_EQUAL(count_of(marks, nmarks, i), 2);
    CU_ASSERT(sql_int(dir, "SELECT interrupted FROM tasks WHERE id = 1") >= 1);
    assert_store_settled(dir);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/pid.%d", work, i + 1);
        kill_leftover(path, marker);
    }
    rp_test_remove_tree(dir);
}

/* Runs until its process is killed (only in a forked coordinator). */
static int
fn_block(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return 0;
}

/* A coordinator with one worker: a function task done, one running (it
 * never returns), one queued. Never returns. */
static void __attribute__((noreturn))
fn_crash_child(const char *dir, const char *acked)
{
    rp_pool_config cfg;
    rp_pool *pool = NULL;
    rp_result *r = NULL;
    rp_task_id id;
    int fd = open(acked, O_WRONLY | O_CREAT | O_APPEND, 0644);

    rp_pool_config_init(&cfg);
    cfg.cpu_workers = 1;
    cfg.state_dir = dir;
    if (fd < 0 || rp_pool_create(&cfg, &pool) != RP_OK)
        _exit(2);
    if (rp_submit(pool, rp_task_new_fn(fn_quick, NULL), &id) != RP_OK ||
        rp_wait(pool, id, WAIT_MS, &r) != RP_OK || !rp_result_is_success(r) || !ack(fd, id))
        _exit(3);
    rp_result_free(r);
    for (int i = 0; i < 2; i++)
        if (rp_submit(pool, rp_task_new_fn(fn_block, NULL), &id) != RP_OK || !ack(fd, id))
            _exit(4);
    rp_test_sleep_ms(60000);
    _exit(5);
}

static void
function_tasks_cannot_be_recovered_after_a_crash(void)
{
    char dir[PATH_MAX], acked_path[PATH_MAX];
    uint64_t acked[8];
    rp_recovery rec;
    rp_pool *pool;
    rp_result *r;
    rp_task_id new_id = 0;
    pid_t child;
    int status = 0;

    make_tmpdir(dir, sizeof dir);
    path_in(acked_path, sizeof acked_path, dir, "acked");
    child = fork();
    CU_ASSERT_FATAL(child >= 0);
    if (child == 0)
        fn_crash_child(dir, acked_path);
    CU_ASSERT_TRUE(wait_sql_at_least(dir, 1, 15, "SELECT count(*) FROM tasks WHERE id = 2"
                                                 " AND state = 'running'") &&
                   wait_sql_at_least(dir, 1, 15, "SELECT count(*) FROM tasks WHERE id = 3"));
    /* The third id is written just after its submission commits. */
    for (int i = 0; i < 1500 && read_ids(acked_path, acked, 8) < 3; i++)
        rp_test_sleep_ms(10);
    kill(child, SIGKILL);
    CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
    CU_ASSERT_TRUE_FATAL(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CU_ASSERT_EQUAL_FATAL(read_ids(acked_path, acked, 8), 3);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM jobs WHERE kind = 'function'"), 3);

    pool = open_pool(dir, 0);
    memset(&rec, 0, sizeof rec);
    CU_ASSERT_EQUAL(rp_pool_recovery(pool, &rec), RP_OK);
    CU_ASSERT_EQUAL(rec.unrecoverable, 2);
    CU_ASSERT_EQUAL(rec.queued + rec.interrupted, 0);
    CU_ASSERT_EQUAL(rec.killed, 0);
    r = wait_for(pool, acked[0]);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(rp_result_exit_code(r), 0);
    rp_result_free(r);
    for (int i = 1; i < 3; i++) {
        r = wait_for(pool, acked[i]);
        CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
        if (!starts_with(rp_result_error(r), "cannot recover:"))
            fprintf(stderr, "\n    error: '%s'\n", rp_result_error(r));
        CU_ASSERT_TRUE(starts_with(rp_result_error(r), "cannot recover:"));
        rp_result_free(r);
        /* Its code lived in the dead process: it cannot be restored
         * either, neither from this pool's record of it ... */
        CU_ASSERT_EQUAL(rp_restore(pool, acked[i], &new_id), RP_ERR_UNSUPPORTED);
        CU_ASSERT_EQUAL(new_id, 0);
        if (new_id != 0) {
            r = wait_for(pool, new_id);
            fprintf(stderr, "\n    restore of unrecoverable %" PRIu64 " made task %" PRIu64
                            ": %s, '%s'\n", acked[i], new_id,
                    rp_task_state_name(rp_result_state(r)), rp_result_error(r));
            rp_result_free(r);
            new_id = 0;
        }
    }
    /* ... nor from the store, as the finished one. */
    CU_ASSERT_EQUAL(rp_restore(pool, acked[0], &new_id), RP_ERR_UNSUPPORTED);
    rp_pool_shutdown(pool);
    CU_ASSERT_TRUE(stored_state_is(dir, acked[1], "failed"));
    CU_ASSERT_TRUE(stored_state_is(dir, acked[2], "failed"));
    assert_store_settled(dir);

    /* Once failed, they stay failed: a third pool recovers nothing. */
    pool = open_pool(dir, 0);
    memset(&rec, 0xff, sizeof rec);
    CU_ASSERT_EQUAL(rp_pool_recovery(pool, &rec), RP_OK);
    CU_ASSERT(rec.queued == 0 && rec.interrupted == 0 && rec.unrecoverable == 0 &&
              rec.killed == 0);
    rp_pool_shutdown(pool);
    rp_test_remove_tree(dir);
}

/* ---- one pool per state dir; bad dirs and stores ---- */

static void
a_second_pool_on_the_dir_is_busy(void)
{
    char dir[PATH_MAX];
    rp_pool *a, *b = NULL;
    rp_result *r;
    char *why = NULL;

    make_tmpdir(dir, sizeof dir);
    a = open_pool(dir, 0);
    CU_ASSERT_EQUAL(try_open(dir, 0, &b, &why), RP_ERR_BUSY);
    CU_ASSERT_PTR_NULL(b);
    CU_ASSERT_PTR_NOT_NULL(why);
    CU_ASSERT(why != NULL && strstr(why, dir) != NULL);
    free(why);
    /* Also through rp_pool_create, without a why. */
    {
        rp_pool_config cfg;

        rp_pool_config_init(&cfg);
        cfg.cpu_workers = 1;
        cfg.state_dir = dir;
        CU_ASSERT_EQUAL(rp_pool_create(&cfg, &b), RP_ERR_BUSY);
        CU_ASSERT_PTR_NULL(b);
    }
    /* The first pool is unharmed. */
    r = wait_for(a, rp_test_submit(a, rp_test_sh("echo still")));
    CU_ASSERT_TRUE(stdout_is(r, "still\n"));
    rp_result_free(r);
    rp_pool_shutdown(a);
    /* Free again once the first pool is gone. */
    b = open_pool(dir, 0);
    rp_pool_shutdown(b);
    rp_test_remove_tree(dir);
}

/* Another process holds the dir: BUSY, and the why names that process. */
static void
a_pool_in_another_process_makes_the_dir_busy(void)
{
    char dir[PATH_MAX], pidtext[32];
    int up[2], down[2], status = 0;
    rp_pool *b = NULL;
    char *why = NULL, c;
    pid_t child;

    make_tmpdir(dir, sizeof dir);
    CU_ASSERT_EQUAL_FATAL(pipe(up), 0);
    CU_ASSERT_EQUAL_FATAL(pipe(down), 0);
    child = fork();
    CU_ASSERT_FATAL(child >= 0);
    if (child == 0) {
        rp_pool_config cfg;
        rp_pool *a = NULL;

        close(up[0]);
        close(down[1]);
        rp_pool_config_init(&cfg);
        cfg.cpu_workers = 1;
        cfg.state_dir = dir;
        if (rp_pool_create(&cfg, &a) != RP_OK)
            _exit(2);
        if (write(up[1], "k", 1) != 1)
            _exit(3);
        while (read(down[0], &c, 1) > 0)
            ;
        rp_pool_shutdown(a);
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    CU_ASSERT_EQUAL(read(up[0], &c, 1), 1);
    CU_ASSERT_EQUAL(try_open(dir, 0, &b, &why), RP_ERR_BUSY);
    CU_ASSERT_PTR_NULL(b);
    snprintf(pidtext, sizeof pidtext, "%ld", (long)child);
    CU_ASSERT(why != NULL && strstr(why, dir) != NULL && strstr(why, pidtext) != NULL);
    if (why != NULL && strstr(why, pidtext) == NULL)
        fprintf(stderr, "\n    why: '%s' (holder %s)\n", why, pidtext);
    free(why);
    close(down[1]);
    close(up[0]);
    CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
    CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    b = open_pool(dir, 0);
    rp_pool_shutdown(b);
    rp_test_remove_tree(dir);
}

/* A create that fails leaves no pool, no threads, and a why. */
static void
refused(const char *state_dir, rp_status want, const char *why_has)
{
    int threads = thread_count_settled();
    rp_pool *pool = NULL;
    char *why = NULL;
    rp_status st = try_open(state_dir, 0, &pool, &why);

    if (st != want)
        fprintf(stderr, "\n    %s: %s, want %s (%s)\n", state_dir, rp_strerror(st),
                rp_strerror(want), why != NULL ? why : "no why");
    CU_ASSERT_EQUAL(st, want);
    CU_ASSERT_PTR_NULL(pool);
    CU_ASSERT(why != NULL && why[0] != '\0');
    if (why_has != NULL)
        CU_ASSERT(why != NULL && strstr(why, why_has) != NULL);
    free(why);
    if (st == RP_OK)
        rp_pool_shutdown(pool);
    CU_ASSERT_EQUAL(rp_test_thread_count(), threads);
}

static void
bad_state_dirs_are_refused(void)
{
    char dir[PATH_MAX], file[PATH_MAX], under[PATH_MAX];
    FILE *f;

    make_tmpdir(dir, sizeof dir);
    path_in(file, sizeof file, dir, "plain-file");
    f = fopen(file, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("not a dir\n", f);
    fclose(f);
    /* A regular file where the dir should be. */
    refused(file, RP_ERR_IO, file);
    /* A path through a regular file: ENOTDIR. */
    path_in(under, sizeof under, file, "state");
    refused(under, RP_ERR_IO, "plain-file");
    /* A read-only dir, where permissions apply (not to root). */
    if (geteuid() != 0) {
        char ro[PATH_MAX], sub[PATH_MAX];

        path_in(ro, sizeof ro, dir, "ro");
        CU_ASSERT_EQUAL(mkdir(ro, 0500), 0);
        path_in(sub, sizeof sub, ro, "state");
        refused(sub, RP_ERR_IO, NULL);
        chmod(ro, 0700);
    }
    rp_test_remove_tree(dir);
}

static void
damaged_store_is_refused(void)
{
    char dir[PATH_MAX], db[PATH_MAX];
    rp_pool *pool;
    int fd;

    make_tmpdir(dir, sizeof dir);
    pool = open_pool(dir, 0);
    rp_result_free(wait_for(pool, rp_test_submit(pool, rp_task_new("/bin/true"))));
    rp_pool_shutdown(pool);
    path_in(db, sizeof db, dir, "store.db");
    fd = open(db, O_WRONLY);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pwrite(fd, "Not SQLite, sorry", 16, 0), 16);
    close(fd);
    refused(dir, RP_ERR_CORRUPT, NULL);
    /* Nothing holds the dir after the failure: still refused the same way,
     * not BUSY. */
    refused(dir, RP_ERR_CORRUPT, NULL);
    rp_test_remove_tree(dir);
}

static void
store_of_a_newer_repartir_is_unsupported(void)
{
    char dir[PATH_MAX];
    rp_pool *pool;

    make_tmpdir(dir, sizeof dir);
    pool = open_pool(dir, 0);
    rp_pool_shutdown(pool);
    CU_ASSERT_TRUE(sql_exec(dir, "PRAGMA user_version = 100000"));
    refused(dir, RP_ERR_UNSUPPORTED, NULL);
    CU_ASSERT_EQUAL(sql_int(dir, "PRAGMA user_version"), 100000);
    rp_test_remove_tree(dir);
}

/* A store of schema 1 (checkpoints only, as the previous release wrote
 * it) is upgraded: its checkpoints stay, and jobs work. */
static void
store_of_schema_1_is_upgraded(void)
{
    char dir[PATH_MAX];
    rp_ckpt *s = NULL;
    rp_pool *pool;
    void *data = NULL;
    size_t len = 0;
    uint64_t it = 0;

    make_tmpdir(dir, sizeof dir);
    CU_ASSERT_EQUAL_FATAL(rp_ckpt_open(dir, &s), RP_OK);
    CU_ASSERT_EQUAL(rp_ckpt_save(s, "model", 7, "weights", 7), RP_OK);
    rp_ckpt_close(s);
    /* Back to version 1, as if migration 2 never ran. */
    CU_ASSERT_TRUE_FATAL(sql_exec(dir, "DROP TABLE jobs; DROP TABLE tasks; DROP TABLE events;"
                                       " DROP TABLE data_locations; DROP TABLE results_cache;"
                                       " PRAGMA user_version = 1"));
    pool = open_pool(dir, 0);
    CU_ASSERT_EQUAL(sql_int(dir, "PRAGMA user_version"), 2);
    CU_ASSERT_EQUAL(rp_ckpt_load(rp_pool_store(pool), "model", &data, &len, &it), RP_OK);
    CU_ASSERT_TRUE(bytes_are(data, len, "weights", 7));
    CU_ASSERT_EQUAL(it, 7);
    free(data);
    rp_result_free(wait_for(pool, rp_test_submit(pool, rp_task_new("/bin/true"))));
    rp_pool_shutdown(pool);
    rp_test_remove_tree(dir);
}

/* ---- checkpoints and restore ---- */

static void
checkpoints_need_a_state_dir(void)
{
    rp_pool *pool = rp_test_pool(2, 0, 0);
    rp_task_id id = 0;
    rp_task *t;
    rp_result *r;

    t = rp_test_sh("true");
    CU_ASSERT_EQUAL(rp_task_set_checkpoint(t, true, 100), RP_OK);
    CU_ASSERT_EQUAL(rp_submit(pool, t, &id), RP_ERR_UNSUPPORTED);
    t = rp_test_sh("true");
    CU_ASSERT_EQUAL(rp_task_set_checkpoint(t, true, 0), RP_OK);
    CU_ASSERT_EQUAL(rp_submit_job(pool, t, 2, NULL, NULL), RP_ERR_UNSUPPORTED);
    /* Off is fine. */
    t = rp_test_sh("echo ok");
    CU_ASSERT_EQUAL(rp_task_set_checkpoint(t, false, 0), RP_OK);
    r = wait_for(pool, rp_test_submit(pool, t));
    CU_ASSERT_TRUE(stdout_is(r, "ok\n"));
    rp_result_free(r);
    /* Function tasks take no checkpoints. */
    t = rp_task_new_fn(fn_quick, NULL);
    CU_ASSERT_EQUAL(rp_task_set_checkpoint(t, true, 100), RP_ERR_UNSUPPORTED);
    rp_task_free(t);
    /* And nothing is restored without a store. */
    id = rp_test_submit(pool, rp_task_new("/bin/true"));
    rp_result_free(wait_for(pool, id));
    {
        rp_task_id new_id = 1;
        rp_restore_info info;

        CU_ASSERT_EQUAL(rp_restore(pool, id, &new_id), RP_ERR_UNSUPPORTED);
        CU_ASSERT_EQUAL(new_id, 0);
        CU_ASSERT_EQUAL(rp_restore_detail(pool, id, &info), RP_ERR_UNSUPPORTED);
    }
    rp_pool_shutdown(pool);
}

static void
restore_errors(void)
{
    char dir[PATH_MAX], marker[32];
    rp_task_id running, queued, fn, done, new_id;
    rp_restore_info info;
    rp_pool *pool;
    rp_task *t;

    make_tmpdir(dir, sizeof dir);
    new_marker(marker, sizeof marker);
    pool = open_pool(dir, 1);
    done = rp_test_submit(pool, rp_task_new("/bin/true"));
    rp_result_free(wait_for(pool, done));
    t = rp_test_sh("exec sleep 60.%s", marker);
    CU_ASSERT_EQUAL(rp_task_set_kill_grace_ms(t, 100), RP_OK);
    running = rp_test_submit(pool, t);
    CU_ASSERT_TRUE(wait_state(pool, running, RP_TASK_RUNNING, 10));
    queued = rp_test_submit(pool, rp_task_new("/bin/true"));
    fn = rp_test_submit(pool, rp_task_new_fn(fn_quick, NULL));
    rp_result_free(wait_for(pool, fn));

    new_id = 1;
    CU_ASSERT_EQUAL(rp_restore(pool, running, &new_id), RP_ERR_BUSY);
    CU_ASSERT_EQUAL(new_id, 0);
    CU_ASSERT_EQUAL(rp_restore(pool, queued, &new_id), RP_ERR_BUSY);
    CU_ASSERT_EQUAL(rp_restore(pool, fn, &new_id), RP_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(rp_restore(pool, 999999, &new_id), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_restore(pool, 0, &new_id), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_restore(pool, done, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_restore(NULL, done, &new_id), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_restore_detail(pool, done, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_restore_detail(pool, running, &info), RP_ERR_BUSY);
    CU_ASSERT_EQUAL(info.new_id, 0);
    /* None of the refusals made a task. */
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM tasks"), 4);
    CU_ASSERT_EQUAL(rp_cancel(pool, running), RP_OK);
    rp_result_free(wait_for(pool, running));
    rp_result_free(wait_for(pool, queued));
    rp_pool_shutdown(pool);
    rp_test_remove_tree(dir);
}

/* A task that takes no checkpoints is restored from scratch, as a new job
 * with the same description (argv, env, cwd, stdin) -- also from the
 * store, by a later pool. */
static void
restore_from_scratch(void)
{
    char dir[PATH_MAX], work[PATH_MAX], runs[PATH_MAX], key[64], want_key[64], want[PATH_MAX + 64];
    rp_task_id id, again, third;
    rp_job_id job, job2;
    rp_restore_info info;
    rp_pool *pool;
    rp_result *r;
    rp_task *t;
    uint64_t lines[8];

    make_tmpdir(dir, sizeof dir);
    path_in(work, sizeof work, dir, "work");
    CU_ASSERT_EQUAL_FATAL(mkdir(work, 0755), 0);
    path_in(runs, sizeof runs, work, "runs");
    pool = open_pool(dir, 0);
    t = rp_test_sh("echo 1 >> runs; echo \"$FOO $(pwd) $(cat) restore=${REPARTIR_RESTORE_FILE:-}\";"
                 " exit 2");
    CU_ASSERT_EQUAL(rp_task_set_env(t, "FOO", "bar baz"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_cwd(t, work), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_stdin(t, "in-bytes", 8), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_name(t, "scratch"), RP_OK);
    id = rp_test_submit(pool, t);
    snprintf(want, sizeof want, "bar baz %s in-bytes restore=\n", work);
    r = wait_for(pool, id);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT_TRUE(stdout_is(r, want));
    rp_result_free(r);

    memset(&info, 0xff, sizeof info);
    CU_ASSERT_EQUAL_FATAL(rp_restore_detail(pool, id, &info), RP_OK);
    CU_ASSERT_FALSE(info.from_checkpoint);
    CU_ASSERT_EQUAL(info.iteration, 0);
    CU_ASSERT(info.new_id > id);
    CU_ASSERT_EQUAL(rp_task_job(pool, id, &job), RP_OK);
    CU_ASSERT_EQUAL(rp_task_job(pool, info.new_id, &job2), RP_OK);
    CU_ASSERT_NOT_EQUAL(job, job2);
    r = wait_for(pool, info.new_id);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT_EQUAL(rp_result_exit_code(r), 2);
    CU_ASSERT_TRUE(stdout_is(r, want));
    CU_ASSERT_EQUAL(rp_result_attempts(r), 1);
    rp_result_free(r);
    snprintf(want_key, sizeof want_key, "task/%" PRIu64, id);
    CU_ASSERT_EQUAL(rp_task_checkpoint_key(pool, info.new_id, key, sizeof key), RP_OK);
    CU_ASSERT_STRING_EQUAL(key, want_key);
    CU_ASSERT_EQUAL(sql_int(dir, "SELECT restored_from FROM jobs WHERE id = %" PRIu64, job2),
                    (long long)id);
    again = info.new_id;
    rp_pool_shutdown(pool);

    /* A later pool restores a task of this one, from its description in
     * the store; the restored task's own restore keeps the first key. */
    pool = open_pool(dir, 0);
    CU_ASSERT_EQUAL_FATAL(rp_restore(pool, again, &third), RP_OK);
    CU_ASSERT(third > again);
    r = wait_for(pool, third);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT_TRUE(stdout_is(r, want));
    rp_result_free(r);
    CU_ASSERT_EQUAL(rp_task_checkpoint_key(pool, third, key, sizeof key), RP_OK);
    CU_ASSERT_STRING_EQUAL(key, want_key);
    CU_ASSERT_EQUAL(rp_task_checkpoint_key(pool, again, key, sizeof key), RP_OK);
    CU_ASSERT_STRING_EQUAL(key, want_key);
    rp_pool_shutdown(pool);
    CU_ASSERT_EQUAL(read_ids(runs, lines, 8), 3);
    assert_store_settled(dir);
    rp_test_remove_tree(dir);
}

static void
checkpoint_key_names_the_origin(void)
{
    char dir[PATH_MAX], key[64], want[64];
    rp_pool *pool;
    rp_task_id id;

    make_tmpdir(dir, sizeof dir);
    pool = open_pool(dir, 0);
    id = rp_test_submit(pool, rp_task_new("/bin/true"));
    snprintf(want, sizeof want, "task/%" PRIu64, id);
    CU_ASSERT_EQUAL(rp_task_checkpoint_key(pool, id, key, sizeof key), RP_OK);
    CU_ASSERT_STRING_EQUAL(key, want);
    /* Truncated to the buffer, always NUL-terminated. */
    memset(key, 'z', sizeof key);
    CU_ASSERT_EQUAL(rp_task_checkpoint_key(pool, id, key, 4), RP_OK);
    CU_ASSERT_STRING_EQUAL(key, "tas");
    CU_ASSERT_EQUAL(rp_task_checkpoint_key(pool, id + 100, key, sizeof key), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_task_checkpoint_key(pool, id, NULL, sizeof key), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_checkpoint_key(pool, id, key, 0), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_checkpoint_key(NULL, id, key, sizeof key), RP_ERR_INVALID);
    rp_result_free(wait_for(pool, id));
    rp_pool_shutdown(pool);
    /* Known to a later pool too. */
    pool = open_pool(dir, 0);
    CU_ASSERT_EQUAL(rp_task_checkpoint_key(pool, id, key, sizeof key), RP_OK);
    CU_ASSERT_STRING_EQUAL(key, want);
    rp_pool_shutdown(pool);
    rp_test_remove_tree(dir);
}

struct listing {
    uint64_t iterations[8];
    size_t n;
};

static bool
list_one(const rp_ckpt_info *info, void *ctx)
{
    struct listing *l = ctx;

    if (l->n < 8)
        l->iterations[l->n] = info->iteration;
    l->n++;
    return true;
}

/* The protocol: each version renamed onto $REPARTIR_CHECKPOINT_FILE is
 * saved as the next iteration, the newest RP_TASK_CHECKPOINTS_KEPT kept;
 * a restore starts from the last one through $REPARTIR_RESTORE_FILE.
 * (The first version comes after a pause: one renamed at once is the
 * subject of a_checkpoint_written_at_once_is_saved_while_the_task_runs.) */
static void
restore_from_the_last_checkpoint(void)
{
    char dir[PATH_MAX], work[PATH_MAX], key[64], want[PATH_MAX + 64], run[PATH_MAX + 32];
    struct listing l = { { 0 }, 0 };
    rp_restore_info info;
    void *data = NULL;
    size_t len = 0;
    uint64_t it = 0;
    rp_task_id id;
    rp_pool *pool;
    rp_result *r;
    rp_task *t;

    make_tmpdir(dir, sizeof dir);
    path_in(work, sizeof work, dir, "work");
    CU_ASSERT_EQUAL_FATAL(mkdir(work, 0755), 0);
    pool = open_pool(dir, 0);
    t = rp_test_sh("trap '' USR1; echo \"cf=$REPARTIR_CHECKPOINT_FILE\";"
                 " if [ -n \"$REPARTIR_RESTORE_FILE\" ]; then"
                 "   echo \"restored=$(cat \"$REPARTIR_RESTORE_FILE\")\"; exit 0; fi;"
                 " [ -n \"$REPARTIR_CHECKPOINT_FILE\" ] || exit 9; sleep 0.2;"
                 " for n in 1 2 3 4; do echo v$n > \"$REPARTIR_CHECKPOINT_FILE.tmp\" &&"
                 "   mv \"$REPARTIR_CHECKPOINT_FILE.tmp\" \"$REPARTIR_CHECKPOINT_FILE\";"
                 "   sleep 0.3; done; exit 1");
    CU_ASSERT_EQUAL(rp_task_set_checkpoint(t, true, 100), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_cwd(t, work), RP_OK);
    id = rp_test_submit(pool, t);
    r = wait_for(pool, id);
    snprintf(want, sizeof want, "cf=%s/run/%" PRIu64 "/checkpoint\n", dir, id);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT_EQUAL(rp_result_exit_code(r), 1);
    CU_ASSERT_TRUE(stdout_is(r, want));
    rp_result_free(r);

    snprintf(key, sizeof key, "task/%" PRIu64, id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rp_pool_store(pool));
    CU_ASSERT_EQUAL(rp_ckpt_load(rp_pool_store(pool), key, &data, &len, &it), RP_OK);
    CU_ASSERT_TRUE(bytes_are(data, len, "v4\n", 3));
    CU_ASSERT_EQUAL(it, 4);
    free(data);
    CU_ASSERT_EQUAL(rp_ckpt_list(rp_pool_store(pool), key, list_one, &l), RP_OK);
    CU_ASSERT_EQUAL(l.n, RP_TASK_CHECKPOINTS_KEPT);
    CU_ASSERT(l.n >= 3 && l.iterations[0] == 4 && l.iterations[1] == 3 && l.iterations[2] == 2);
    if (it != 4 || l.n != 3 || l.iterations[0] != 4) {
        fprintf(stderr, "\n    %s: newest iteration %" PRIu64 "; listed", key, it);
        for (size_t i = 0; i < l.n && i < 8; i++) {
            void *v = NULL;
            size_t vlen = 0;

            rp_ckpt_load_iteration(rp_pool_store(pool), key, l.iterations[i], &v, &vlen);
            fprintf(stderr, " %" PRIu64 "='%.*s'", l.iterations[i], (int)(vlen ? vlen - 1 : 0),
                    v != NULL ? (char *)v : "");
            free(v);
        }
        fprintf(stderr, "\n");
    }
    data = NULL;
    CU_ASSERT_EQUAL(rp_ckpt_load_iteration(rp_pool_store(pool), key, 2, &data, &len), RP_OK);
    CU_ASSERT_TRUE(bytes_are(data, len, "v2\n", 3));
    free(data);

    /* The run dir goes away with the task. */
    snprintf(run, sizeof run, "%s/run/%" PRIu64, dir, id);
    {
        double give_up = rp_test_now() + 5;

        while (file_exists(run) && rp_test_now() < give_up)
            rp_test_sleep_ms(10);
        CU_ASSERT_FALSE(file_exists(run));
    }

    memset(&info, 0, sizeof info);
    CU_ASSERT_EQUAL_FATAL(rp_restore_detail(pool, id, &info), RP_OK);
    CU_ASSERT_TRUE(info.from_checkpoint);
    CU_ASSERT_EQUAL(info.iteration, 4);
    r = wait_for(pool, info.new_id);
    snprintf(want, sizeof want, "cf=%s/run/%" PRIu64 "/checkpoint\nrestored=v4\n", dir,
             info.new_id);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_TRUE(stdout_is(r, want));
    rp_result_free(r);
    /* It shares the key: its checkpoints go on where the first left. */
    CU_ASSERT_EQUAL(rp_task_checkpoint_key(pool, info.new_id, want, sizeof want), RP_OK);
    CU_ASSERT_STRING_EQUAL(want, key);
    rp_pool_shutdown(pool);

    /* From a later pool: the same checkpoint. */
    pool = open_pool(dir, 0);
    memset(&info, 0, sizeof info);
    CU_ASSERT_EQUAL_FATAL(rp_restore_detail(pool, id, &info), RP_OK);
    CU_ASSERT_TRUE(info.from_checkpoint);
    CU_ASSERT_EQUAL(info.iteration, 4);
    r = wait_for(pool, info.new_id);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    rp_result_free(r);
    rp_pool_shutdown(pool);
    rp_test_remove_tree(dir);
}

/* A version renamed into place as soon as the program starts is saved
 * while it runs, like any later one -- not only when it ends. Several at
 * once, so that some start before the pool watches their run dir. */
#define EARLY_TASKS 12

static void
a_checkpoint_written_at_once_is_saved_while_the_task_runs(void)
{
    char dir[PATH_MAX], work[PATH_MAX], key[64];
    rp_task_id ids[EARLY_TASKS];
    bool saved[EARLY_TASKS] = { false };
    unsigned n_saved = 0;
    double give_up;
    rp_pool *pool;
    rp_result *r;
    rp_task *t;

    make_tmpdir(dir, sizeof dir);
    path_in(work, sizeof work, dir, "work");
    CU_ASSERT_EQUAL_FATAL(mkdir(work, 0755), 0);
    pool = open_pool(dir, EARLY_TASKS);
    for (int i = 0; i < EARLY_TASKS; i++) {
        t = rp_test_sh("trap '' USR1; [ -n \"$REPARTIR_CHECKPOINT_FILE\" ] || exit 9;"
                     " echo early > \"$REPARTIR_CHECKPOINT_FILE.tmp\" &&"
                     " mv \"$REPARTIR_CHECKPOINT_FILE.tmp\" \"$REPARTIR_CHECKPOINT_FILE\";"
                     " sleep 3; echo done");
        CU_ASSERT_EQUAL(rp_task_set_checkpoint(t, true, 100), RP_OK);
        CU_ASSERT_EQUAL(rp_task_set_cwd(t, work), RP_OK);
        ids[i] = rp_test_submit(pool, t);
    }
    /* Each is saved within moments of its rename, long before the end. */
    give_up = rp_test_now() + 2;
    while (n_saved < EARLY_TASKS && rp_test_now() < give_up) {
        for (int i = 0; i < EARLY_TASKS; i++) {
            void *data = NULL;
            size_t len = 0;
            uint64_t it = 0;

            if (saved[i])
                continue;
            snprintf(key, sizeof key, "task/%" PRIu64, ids[i]);
            if (rp_ckpt_load(rp_pool_store(pool), key, &data, &len, &it) == RP_OK) {
                saved[i] = bytes_are(data, len, "early\n", 6) && it == 1;
                n_saved += saved[i];
                free(data);
            }
        }
        rp_test_sleep_ms(20);
    }
    if (n_saved < EARLY_TASKS)
        fprintf(stderr, "\n    %u of %d early checkpoints saved while their tasks ran\n",
                n_saved, EARLY_TASKS);
    CU_ASSERT_EQUAL(n_saved, EARLY_TASKS);
    for (int i = 0; i < EARLY_TASKS; i++) {
        r = wait_for(pool, ids[i]);
        CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
        rp_result_free(r);
    }
    rp_pool_shutdown(pool);
    rp_test_remove_tree(dir);
}

/* A retried attempt starts from the checkpoint the failed one left. */
static void
a_retry_starts_from_the_last_checkpoint(void)
{
    char dir[PATH_MAX], work[PATH_MAX];
    rp_pool *pool;
    rp_result *r;
    rp_task *t;

    make_tmpdir(dir, sizeof dir);
    path_in(work, sizeof work, dir, "work");
    CU_ASSERT_EQUAL_FATAL(mkdir(work, 0755), 0);
    pool = open_pool(dir, 0);
    t = rp_test_sh("trap '' USR1;"
                 " if [ -n \"$REPARTIR_RESTORE_FILE\" ]; then cat \"$REPARTIR_RESTORE_FILE\";"
                 "   exit 0; fi;"
                 " [ -n \"$REPARTIR_CHECKPOINT_FILE\" ] || exit 9;"
                 " echo c1 > \"$REPARTIR_CHECKPOINT_FILE.tmp\" &&"
                 " mv \"$REPARTIR_CHECKPOINT_FILE.tmp\" \"$REPARTIR_CHECKPOINT_FILE\"; exit 1");
    CU_ASSERT_EQUAL(rp_task_set_checkpoint(t, true, 1000), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_retries(t, 1), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_retry_on_exit(t, true), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_backoff(t, 1, 5), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_cwd(t, work), RP_OK);
    r = wait_for(pool, rp_test_submit(pool, t));
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_TRUE(stdout_is(r, "c1\n"));
    CU_ASSERT_EQUAL(rp_result_attempts(r), 2);
    rp_result_free(r);
    rp_pool_shutdown(pool);
    rp_test_remove_tree(dir);
}

/* Every interval the process gets SIGUSR1. */
static void
checkpoint_reminders_arrive(void)
{
    char dir[PATH_MAX], work[PATH_MAX], path[PATH_MAX];
    uint64_t lines[64];
    rp_pool *pool;
    rp_result *r;
    rp_task *t;
    size_t n;

    make_tmpdir(dir, sizeof dir);
    path_in(work, sizeof work, dir, "work");
    CU_ASSERT_EQUAL_FATAL(mkdir(work, 0755), 0);
    pool = open_pool(dir, 0);
    t = rp_test_sh("trap 'echo 1 >> usr1' USR1; i=0;"
                 " while [ $i -lt 25 ]; do sleep 0.04; i=$((i + 1)); done; echo done");
    CU_ASSERT_EQUAL(rp_task_set_checkpoint(t, true, 100), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_cwd(t, work), RP_OK);
    r = wait_for(pool, rp_test_submit(pool, t));
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_TRUE(stdout_is(r, "done\n"));
    rp_result_free(r);
    path_in(path, sizeof path, work, "usr1");
    n = read_ids(path, lines, 64);
    /* About ten in a second; sh runs a trap between commands only. */
    CU_ASSERT(n >= 3);
    if (n < 3)
        fprintf(stderr, "\n    %zu reminders in about a second\n", n);
    rp_pool_shutdown(pool);
    rp_test_remove_tree(dir);
}


/* ---- the store fails: a file-size limit stands for a full disk ---- */

/* In a child: with the store's files capped a little above their size, a
 * submission whose job (1 MiB of stdin) cannot be committed is refused
 * with RP_ERR_IO, ends CANCELLED with the reason and never runs; a small
 * one afterwards is accepted and runs. Exit 0, or the failed step. */
static int
full_store_child(const char *dir, const char *marks)
{
    struct rlimit rl;
    struct stat st;
    char wal[PATH_MAX + 32];
    rp_pool *pool = NULL;
    rp_task *t;
    rp_task_id id = 0, big_id = 0;
    rp_result *r = NULL;
    size_t big_len = (size_t)1 << 20;
    char *big, *why = NULL;
    int code = 0;

    signal(SIGXFSZ, SIG_IGN);
    if (try_open(dir, 0, &pool, &why) != RP_OK)
        return 10;
    t = rp_task_new("/bin/true");
    if (rp_submit(pool, t, &id) != RP_OK || rp_wait(pool, id, 10000, &r) != RP_OK)
        return 11;
    rp_result_free(r);
    snprintf(wal, sizeof wal, "%s/store.db-wal", dir);
    if (stat(wal, &st) != 0)
        return 12;
    rl.rlim_cur = rl.rlim_max = (rlim_t)st.st_size + 128 * 1024;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 99;                              /* cannot test here */
    big = malloc(big_len);
    memset(big, 'x', big_len);
    t = rp_task_new("/bin/sh");
    rp_task_add_arg(t, "-c");
    {
        char script[PATH_MAX + 64];
        snprintf(script, sizeof script, "echo big >> '%s'", marks);
        rp_task_add_arg(t, script);
    }
    rp_task_set_stdin(t, big, big_len);
    free(big);
    if (rp_submit(pool, t, &big_id) != RP_ERR_IO)
        code = 13;
    else if (rp_wait(pool, big_id, 10000, &r) != RP_OK)
        code = 14;
    else if (rp_result_state(r) != RP_TASK_CANCELLED ||
             strstr(rp_result_error(r), "not accepted: the store failed") == NULL)
        code = 15;
    rp_result_free(r);
    r = NULL;
    if (code == 0) {
        t = rp_test_sh("echo small >> '%s'", marks);
        if (rp_submit(pool, t, &id) != RP_OK || rp_wait(pool, id, 10000, &r) != RP_OK ||
            !rp_result_is_success(r))
            code = 16;
        rp_result_free(r);
    }
    rp_pool_shutdown(pool);
    return code;
}

static void
a_full_disk_refuses_submissions_and_keeps_the_rest(void)
{
    char dir[PATH_MAX], marks[PATH_MAX], line[64];
    rp_pool *pool;
    pid_t child;
    int status;

    make_tmpdir(dir, sizeof dir);
    path_in(marks, sizeof marks, dir, "marks");
    fflush(NULL);
    child = fork();
    CU_ASSERT_FATAL(child >= 0);
    if (child == 0)
        _exit(full_store_child(dir, marks));
    CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
    CU_ASSERT(WIFEXITED(status));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 99)
        fprintf(stderr, "\n    skipped: RLIMIT_FSIZE cannot be set here\n");
    if (WIFEXITED(status) && WEXITSTATUS(status) != 99) {
        if (WEXITSTATUS(status) != 0)
            fprintf(stderr, "\n    full-store child failed at step %d\n", WEXITSTATUS(status));
        CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
        /* The refused job left nothing; the rest is there and nothing waits. */
        pool = open_pool(dir, 0);
        CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM jobs"), 2);
        CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM tasks WHERE state = 'succeeded'"), 2);
        CU_ASSERT_EQUAL(sql_int(dir, "SELECT count(*) FROM tasks WHERE state IN"
                                     " ('queued', 'running')"), 0);
        CU_ASSERT(wait_idle(pool, 5));
        rp_pool_shutdown(pool);
        read_line(marks, line, sizeof line);
        CU_ASSERT_STRING_EQUAL(line, "small");   /* the refused one never ran */
    }
    rp_test_remove_tree(dir);
}

/* ---- noop tasks ---- */

static _Atomic bool noop_release;

/* Holds a function worker until noop_release. */
static int
fn_hold(void *arg)
{
    (void)arg;
    while (!atomic_load(&noop_release))
        rp_test_sleep_ms(1);
    return 0;
}

static void *
release_later(void *arg)
{
    (void)arg;
    rp_test_sleep_ms(200);
    atomic_store(&noop_release, true);
    return NULL;
}

/* A noop task is stored like a process task: its description says
 * "noop", one still queued at a shutdown runs in the next pool, and an
 * ended one can be restored -- none of which a function task can do. */
static void
noop_tasks_are_stored_recovered_and_restored(void)
{
    char dir[PATH_MAX];
    rp_task_id done, queued, held[2];
    rp_restore_info ri;
    rp_recovery rec;
    rp_task_info info;
    rp_pool *pool;
    pthread_t releaser;
    char *json = NULL;
    rp_task *t;
    rp_result *r;

    make_tmpdir(dir, sizeof dir);
    pool = open_pool(dir, 0);
    t = rp_task_new_noop();
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(rp_task_set_name(t, "health"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_add_arg(t, "x"), RP_ERR_UNSUPPORTED);
    done = rp_test_submit(pool, t);
    r = wait_for(pool, done);
    CU_ASSERT_TRUE(rp_result_is_success(r));
    CU_ASSERT_EQUAL(rp_result_exit_code(r), 0);
    rp_result_free(r);
    CU_ASSERT_EQUAL(rp_task_describe(pool, done, &json), RP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"kind\":\"noop\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"name\":\"health\""));
    free(json);

    /* Both function workers held: the next noop stays queued through the
     * shutdown, which waits for the holders (released from a thread). */
    atomic_store(&noop_release, false);
    held[0] = rp_test_submit(pool, rp_task_new_fn(fn_hold, NULL));
    held[1] = rp_test_submit(pool, rp_task_new_fn(fn_hold, NULL));
    for (int i = 0; i < 2; i++) {
        double give_up = rp_test_now() + 5;
        while (rp_task_get(pool, held[i], &info) == RP_OK && info.state != RP_TASK_RUNNING &&
               rp_test_now() < give_up)
            rp_test_sleep_ms(1);
        CU_ASSERT_EQUAL_FATAL(info.state, RP_TASK_RUNNING);
    }
    queued = rp_test_submit(pool, rp_task_new_noop());
    CU_ASSERT_EQUAL(rp_task_get(pool, queued, &info), RP_OK);
    CU_ASSERT_EQUAL(info.state, RP_TASK_QUEUED);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&releaser, NULL, release_later, NULL), 0);
    rp_pool_shutdown(pool);
    pthread_join(releaser, NULL);

    pool = open_pool(dir, 0);
    CU_ASSERT_EQUAL(rp_pool_recovery(pool, &rec), RP_OK);
    CU_ASSERT_EQUAL(rec.queued, 1);
    CU_ASSERT_EQUAL(rec.unrecoverable, 0);
    r = wait_for(pool, queued);
    CU_ASSERT_TRUE(rp_result_is_success(r));
    rp_result_free(r);

    /* Restored from scratch: a noop has no checkpoints. */
    CU_ASSERT_EQUAL_FATAL(rp_restore_detail(pool, done, &ri), RP_OK);
    CU_ASSERT_FALSE(ri.from_checkpoint);
    r = wait_for(pool, ri.new_id);
    CU_ASSERT_TRUE(rp_result_is_success(r));
    rp_result_free(r);
    rp_pool_shutdown(pool);
    rp_test_remove_tree(dir);
}

static const rp_test_case cases[] = {
    { "noop_tasks_are_stored_recovered_and_restored",
      noop_tasks_are_stored_recovered_and_restored },
    { "submit_commits_before_returning", submit_commits_before_returning },
    { "a_pool_without_state_dir_has_no_store", a_pool_without_state_dir_has_no_store },
    { "ids_continue_across_pools", ids_continue_across_pools },
    { "results_of_an_earlier_pool_come_from_the_store",
      results_of_an_earlier_pool_come_from_the_store },
    { "jobs_of_an_earlier_pool_come_from_the_store", jobs_of_an_earlier_pool_come_from_the_store },
    { "queued_and_running_tasks_at_shutdown_run_in_the_next_pool",
      queued_and_running_tasks_at_shutdown_run_in_the_next_pool },
    { "interrupted_attempts_do_not_use_the_retry_budget",
      interrupted_attempts_do_not_use_the_retry_budget },
    { "cancelled_and_timed_out_tasks_stay_over", cancelled_and_timed_out_tasks_stay_over },
    { "concurrent_submitters_are_all_committed", concurrent_submitters_are_all_committed },
    { "coordinator_crash_loses_nothing_acknowledged",
      coordinator_crash_loses_nothing_acknowledged },
    { "function_tasks_cannot_be_recovered_after_a_crash",
      function_tasks_cannot_be_recovered_after_a_crash },
    { "a_second_pool_on_the_dir_is_busy", a_second_pool_on_the_dir_is_busy },
    { "a_pool_in_another_process_makes_the_dir_busy",
      a_pool_in_another_process_makes_the_dir_busy },
    { "bad_state_dirs_are_refused", bad_state_dirs_are_refused },
    { "damaged_store_is_refused", damaged_store_is_refused },
    { "store_of_a_newer_repartir_is_unsupported", store_of_a_newer_repartir_is_unsupported },
    { "store_of_schema_1_is_upgraded", store_of_schema_1_is_upgraded },
    { "checkpoints_need_a_state_dir", checkpoints_need_a_state_dir },
    { "restore_errors", restore_errors },
    { "restore_from_scratch", restore_from_scratch },
    { "checkpoint_key_names_the_origin", checkpoint_key_names_the_origin },
    { "restore_from_the_last_checkpoint", restore_from_the_last_checkpoint },
    { "a_checkpoint_written_at_once_is_saved_while_the_task_runs",
      a_checkpoint_written_at_once_is_saved_while_the_task_runs },
    { "a_retry_starts_from_the_last_checkpoint", a_retry_starts_from_the_last_checkpoint },
    { "checkpoint_reminders_arrive", checkpoint_reminders_arrive },
    { "a_full_disk_refuses_submissions_and_keeps_the_rest",
      a_full_disk_refuses_submissions_and_keeps_the_rest },
    { NULL, NULL },
};

const rp_test_suite rp_test_suite_durable = { "durable", cases, true };
