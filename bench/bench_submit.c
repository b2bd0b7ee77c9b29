/*
 * bench_submit.c -- durable submissions: how many rp_submit calls a second
 * a pool with a state dir takes, each committed to its store before it
 * returns, beside a queue that commits one SQLite transaction per
 * submission.
 *
 *  1. Ours: a pool (2 CPU workers) with state_dir in a fresh directory;
 *     T submitter threads each call rp_submit of a function task (a no-op
 *     returning 0) in a loop, until `max` submissions in all or `seconds`
 *     have passed. Every submission is committed (WAL, synchronous=FULL)
 *     before rp_submit returns; the journal's writer thread group-commits
 *     whatever is queued, so concurrent submitters share an fsync. The
 *     tasks run meanwhile, and their state changes (running, succeeded)
 *     go through the same journal: that is part of the cost. Figures:
 *     submissions/s over the submit loop, rp_submit p50/p99, and the rate
 *     counted up to the moment every task is final with its final state
 *     committed (rp_wait of each, which waits for that commit).
 *     Target: >= 20,000/s with enough submitters.
 *  2. The anchor, "one transaction per submission": the same store schema
 *     (made by rp_ckpt_open in a fresh directory), opened with sqlite3
 *     directly, WAL + synchronous=FULL, one connection per thread; the
 *     same T threads each do BEGIN IMMEDIATE; INSERT INTO jobs; INSERT
 *     INTO tasks; COMMIT per submission -- the same rows our journal
 *     writes for a submission -- serialised by SQLite's write lock (busy
 *     timeout 10 s), bounded alike. What a naive durable queue does. For
 *     information, the same with one connection shared under a mutex
 *     (no busy-handler sleeps: the best one fsync per submission can do).
 *  3. For information: process tasks (`/bin/true`) with max_processes 2,
 *     so they queue (the rate is about submitting, not running them); and
 *     rp_submit_job of 1000 function shards per call, counted in tasks.
 *
 * Ours and both anchors run `rounds` times per T (best shown, median
 * beside it); the runs of part 3 once each. About 50 s in all by default.
 *
 * One process per contender and configuration (`--impl NAME`), each with
 * its own fresh directory under one parent directory, `--dir`/
 * bench_submit.XXXXXX (default: the current directory, since /tmp may be
 * tmpfs, where fsync costs nothing), whose file system is printed; all is
 * removed at the end. Ours and the anchor alternate which goes first from
 * one T to the next. Before anything is printed the driver checks what
 * each side left in its store: one job row per submission with the same
 * spec text on both sides, and (ours) every task succeeded.
 *
 *   bench_submit [--threads 1,4,16,64] [--seconds 1.5] [--max 200000] [--rounds 2]
 *                [--dir PATH]
 *   bench_submit --impl rp|rp-process|rp-job|naive|naive-mutex --threads T
 *                --seconds S --max N --dir PATH
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include <repartir.h>

#include "bench/common.h"

#define WORKERS 2                 /* the pool's CPU workers */
#define MAX_PROCESSES 2           /* rp-process: process tasks running at once */
#define SHARDS 1000               /* rp-job: tasks per rp_submit_job */
#define WARMUP 50                 /* untimed submissions first, one thread */
#define MAX_THREADS 256
#define BUSY_TIMEOUT_MS 10000
#define TARGET 20000.0            /* durable submissions/s */
/* What the engine writes in jobs.spec for rp_task_new_fn(noop, NULL); the
 * driver checks it against our store, so both sides write the same rows. */
#define FUNCTION_SPEC                                                                   \
    "{\"v\":1,\"kind\":\"function\",\"priority\":\"normal\",\"backend\":\"any\","     \
    "\"retries\":0,\"backoff_base_ms\":100,\"backoff_max_ms\":30000,"                  \
    "\"retry_on_exit\":false,\"data_deps\":[]}"

/* ---- small helpers ---- */

static int64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* ---- the submit loop, shared by every contender ---- */

struct run;
struct naive_conn;
/* One submission (slot: its index, 0-based, in the run); false stops the
 * run (after saying why). */
typedef bool (*submit_fn)(struct run *r, void *thread_state, long slot);

struct run {
    int threads;
    long max;                     /* calls in all, at most */
    double seconds, t0, deadline;
    submit_fn submit;
    void *(*thread_open)(struct run *r);      /* per-thread state, may be NULL */
    void (*thread_close)(void *thread_state);
    _Atomic long next;            /* the next slot */
    _Atomic long done;            /* calls that succeeded */
    _Atomic bool failed;
    double *latency;              /* [max], seconds, per slot */
    pthread_barrier_t start;
    /* contender state */
    rp_pool *pool;
    rp_task_id *ids;              /* [max]: rp: the task, rp-job: the job */
    bool process;
    struct naive_conn *shared;    /* naive-mutex: every thread's connection */
    pthread_mutex_t shared_lock;
    const char *db_path;
};

static void *
submitter(void *arg)
{
    struct run *r = arg;
    void *state = r->thread_open != NULL ? r->thread_open(r) : NULL;

    if (r->thread_open != NULL && state == NULL)
        atomic_store(&r->failed, true);
    pthread_barrier_wait(&r->start);
    /* relaxed: `failed` is only a hint to stop early; what the threads
     * wrote is read after pthread_join, which orders it. */
    while (!atomic_load_explicit(&r->failed, memory_order_relaxed)) {
        double t0 = bench_now();
        long slot;
        if (t0 >= r->deadline)
            break;
        slot = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed);
        if (slot >= r->max)
            break;
        if (!r->submit(r, state, slot)) {
            atomic_store(&r->failed, true);
            break;
        }
        r->latency[slot] = bench_now() - t0;
        atomic_fetch_add_explicit(&r->done, 1, memory_order_relaxed);
    }
    if (r->thread_close != NULL && state != NULL)
        r->thread_close(state);
    return NULL;
}

/* Runs the loop on r->threads threads; prints calls, seconds, p50/p99.
 * Slots [0, done) were all used, since a thread that takes a slot either
 * fills it or fails the run. */
static bool
run_submitters(struct run *r, long *calls /* OUT */, double *seconds /* OUT */)
{
    pthread_t tid[MAX_THREADS];
    int started = 0;
    double end;

    r->latency = calloc((size_t)r->max, sizeof *r->latency);
    if (r->latency == NULL || pthread_barrier_init(&r->start, NULL,
                                                   (unsigned)r->threads + 1) != 0) {
        fprintf(stderr, "bench_submit: out of memory\n");
        return false;
    }
    for (; started < r->threads; started++)
        if (pthread_create(&tid[started], NULL, submitter, r) != 0) {
            fprintf(stderr, "bench_submit: cannot start thread %d\n", started);
            abort();          /* the barrier would wait for it forever */
        }
    /* The threads read the deadline after the barrier, which orders it;
     * the clock starts when they are released. */
    r->deadline = bench_now() + r->seconds;
    pthread_barrier_wait(&r->start);
    r->t0 = bench_now();
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    end = bench_now();
    pthread_barrier_destroy(&r->start);
    if (atomic_load(&r->failed))
        return false;
    *calls = atomic_load(&r->done);
    *seconds = end - r->t0;
    printf("calls=%ld\nseconds=%.6f\np50_us=%.1f\np99_us=%.1f\n", *calls, *seconds,
           bench_percentile(r->latency, (size_t)*calls, 0.50) * 1e6,
           bench_percentile(r->latency, (size_t)*calls, 0.99) * 1e6);
    return true;
}

/* ---- ours ---- */

static int
noop(void *arg)
{
    (void)arg;
    return 0;
}

static rp_task *
make_task(bool process)
{
    return process ? rp_task_new("/bin/true") : rp_task_new_fn(noop, NULL);
}

static bool
submit_rp(struct run *r, void *state, long slot)
{
    rp_status st;

    (void)state;
    if ((st = rp_submit(r->pool, make_task(r->process), &r->ids[slot])) != RP_OK)
        fprintf(stderr, "bench_submit: rp_submit: %s\n", rp_strerror(st));
    return st == RP_OK;
}

static bool
submit_rp_job(struct run *r, void *state, long slot)
{
    rp_status st = rp_submit_job(r->pool, make_task(false), SHARDS, &r->ids[slot], NULL);

    (void)state;
    if (st != RP_OK)
        fprintf(stderr, "bench_submit: rp_submit_job: %s\n", rp_strerror(st));
    return st == RP_OK;
}

/* Counts of what a store holds; false (said why) if it cannot be read. */
struct store_rows {
    long jobs, tasks, succeeded, cancelled, unfinished;
    char spec[512];
};

static bool
read_store(const char *db_path, struct store_rows *out)
{
    static const char *const sql[] = {
        "SELECT count(*) FROM jobs",
        "SELECT count(*) FROM tasks",
        "SELECT count(*) FROM tasks WHERE state = 'succeeded'",
        "SELECT count(*) FROM tasks WHERE state = 'cancelled'",
        "SELECT count(*) FROM tasks WHERE state IN ('queued', 'running')",
        "SELECT spec FROM jobs ORDER BY id DESC LIMIT 1",
    };
    long *counts[] = { &out->jobs, &out->tasks, &out->succeeded, &out->cancelled,
                       &out->unfinished };
    sqlite3 *db = NULL;
    bool ok = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK;

    memset(out, 0, sizeof *out);
    for (size_t i = 0; ok && i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_stmt *st = NULL;
        ok = sqlite3_prepare_v2(db, sql[i], -1, &st, NULL) == SQLITE_OK &&
             sqlite3_step(st) == SQLITE_ROW;
        if (ok && i < sizeof counts / sizeof counts[0])
            *counts[i] = (long)sqlite3_column_int64(st, 0);
        else if (ok)
            snprintf(out->spec, sizeof out->spec, "%s",
                     (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    if (!ok)
        fprintf(stderr, "bench_submit: reading %s: %s\n", db_path,
                db != NULL ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_close(db);
    return ok;
}

static void
print_store(const char *db_path, const struct store_rows *s)
{
    struct stat st;

    printf("store_jobs=%ld\nstore_tasks=%ld\nstore_succeeded=%ld\nstore_cancelled=%ld\n"
           "store_unfinished=%ld\nspec=%s\n", s->jobs, s->tasks, s->succeeded, s->cancelled,
           s->unfinished, s->spec);
    if (stat(db_path, &st) == 0)
        printf("db_bytes=%lld\n", (long long)st.st_size);
}

static int
child_rp(const char *impl, const char *dir, struct run *r)
{
    bool job = strcmp(impl, "rp-job") == 0;
    char store[PATH_MAX], db[PATH_MAX + 16], *why = NULL;
    rp_pool_config cfg;
    rp_stats stats;
    long calls = 0, tasks, bad = 0;
    double seconds = 0, t_drain, t_shut;
    rp_status st;
    int rc = 1;

    r->process = strcmp(impl, "rp-process") == 0;
    snprintf(store, sizeof store, "%s/store", dir);
    snprintf(db, sizeof db, "%s/store.db", store);
    rp_pool_config_init(&cfg);
    cfg.cpu_workers = WORKERS;
    cfg.state_dir = store;
    cfg.max_processes = MAX_PROCESSES;
    if ((st = rp_pool_create_why(&cfg, &r->pool, &why)) != RP_OK) {
        fprintf(stderr, "bench_submit: rp_pool_create %s: %s%s%s\n", store, rp_strerror(st),
                why ? ": " : "", why ? why : "");
        free(why);
        return 1;
    }
    if ((r->ids = calloc((size_t)r->max, sizeof *r->ids)) == NULL)
        goto done;
    /* Warm-up: the writer's statements get prepared, the pages cached. */
    for (int i = 0; i < WARMUP; i++) {
        rp_task_id id;
        rp_result *res = NULL;
        if (rp_submit(r->pool, make_task(r->process), &id) != RP_OK ||
            rp_wait(r->pool, id, -1, &res) != RP_OK || !rp_result_is_success(res)) {
            fprintf(stderr, "bench_submit: warm-up task failed\n");
            rp_result_free(res);
            goto done;
        }
        rp_result_free(res);
    }
    r->submit = job ? submit_rp_job : submit_rp;
    if (!run_submitters(r, &calls, &seconds))
        goto done;
    tasks = job ? calls * SHARDS : calls;
    rp_pool_stats(r->pool, &stats);
    printf("tasks=%ld\nran_in_loop=%llu\n", tasks,
           (unsigned long long)(stats.succeeded - WARMUP));
    /* Drain: every task final, its final state committed. */
    if (!r->process) {
        for (long i = 0; i < calls; i++) {
            if (job) {
                rp_job_info info;
                if (rp_job_wait(r->pool, r->ids[i], -1, &info) != RP_OK ||
                    info.count[RP_TASK_SUCCEEDED] != SHARDS)
                    bad++;
            } else {
                rp_result *res = NULL;
                if (rp_wait(r->pool, r->ids[i], -1, &res) != RP_OK || !rp_result_is_success(res))
                    bad++;
                rp_result_free(res);
            }
        }
        t_drain = bench_now() - r->t0;
        printf("drained_seconds=%.6f\nbad=%ld\n", t_drain, bad);
    }
    t_shut = bench_now();
    rp_pool_shutdown(r->pool);
    r->pool = NULL;
    printf("shutdown_seconds=%.6f\n", bench_now() - t_shut);
    struct store_rows rows;
    if (!read_store(db, &rows))
        goto done;
    rows.jobs -= WARMUP;
    rows.tasks -= WARMUP;
    rows.succeeded -= WARMUP;
    print_store(db, &rows);
    rc = 0;
done:
    rp_pool_shutdown(r->pool);
    free(r->ids);
    return rc;
}

/* ---- the anchor: one transaction per submission ---- */

struct naive_conn {
    sqlite3 *db;
    sqlite3_stmt *begin, *job, *task, *commit, *rollback;
};

static void
naive_close(void *state)
{
    struct naive_conn *c = state;

    sqlite3_finalize(c->begin);
    sqlite3_finalize(c->job);
    sqlite3_finalize(c->task);
    sqlite3_finalize(c->commit);
    sqlite3_finalize(c->rollback);
    sqlite3_close(c->db);
    free(c);
}

/* The same statements as ckpt/journal.c's, for one submission of one task. */
static void *
naive_open(struct run *r)
{
    struct naive_conn *c = calloc(1, sizeof *c);
    bool ok = c != NULL &&
        sqlite3_open_v2(r->db_path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) == SQLITE_OK &&
        sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS) == SQLITE_OK &&
        sqlite3_exec(c->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL", NULL,
                     NULL, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(c->db, "BEGIN IMMEDIATE", -1, &c->begin, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(c->db, "INSERT INTO jobs (id, name, kind, spec, stdin, total,"
                                  " submitted_ms, restored_from)"
                                  " VALUES (?1, NULL, 'function', ?2, NULL, 1, ?3, NULL)",
                           -1, &c->job, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(c->db, "INSERT INTO tasks (id, job, shard, state, origin,"
                                  " updated_ms) VALUES (?1, ?1, 0, 'queued', ?1, ?2)",
                           -1, &c->task, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(c->db, "COMMIT", -1, &c->commit, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(c->db, "ROLLBACK", -1, &c->rollback, NULL) == SQLITE_OK;

    if (!ok) {
        fprintf(stderr, "bench_submit: opening %s: %s\n", r->db_path,
                c != NULL && c->db != NULL ? sqlite3_errmsg(c->db) : "out of memory");
        if (c != NULL)
            naive_close(c);
        return NULL;
    }
    return c;
}

static bool
step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE;
}

static bool
naive_transaction(struct naive_conn *c, long slot)
{
    int64_t now = wall_ms();
    bool ok;

    sqlite3_bind_int64(c->job, 1, slot + 1);
    sqlite3_bind_text(c->job, 2, FUNCTION_SPEC, -1, SQLITE_STATIC);
    sqlite3_bind_int64(c->job, 3, now);
    sqlite3_bind_int64(c->task, 1, slot + 1);
    sqlite3_bind_int64(c->task, 2, now);
    ok = step(c->begin) && step(c->job) && step(c->task) && step(c->commit);
    if (!ok) {
        fprintf(stderr, "bench_submit: naive submission: %s\n", sqlite3_errmsg(c->db));
        if (!sqlite3_get_autocommit(c->db))
            step(c->rollback);
    }
    return ok;
}

static bool
submit_naive(struct run *r, void *state, long slot)
{
    (void)r;
    return naive_transaction(state, slot);
}

static bool
submit_naive_mutex(struct run *r, void *state, long slot)
{
    bool ok;

    (void)state;
    pthread_mutex_lock(&r->shared_lock);
    ok = naive_transaction(r->shared, slot);
    pthread_mutex_unlock(&r->shared_lock);
    return ok;
}

static int
child_naive(const char *impl, const char *dir, struct run *r)
{
    char store[PATH_MAX], db[PATH_MAX + 16], *why = NULL;
    struct naive_conn *shared = NULL;
    struct store_rows rows;
    rp_ckpt *ckpt = NULL;
    long calls = 0;
    double seconds = 0;
    rp_status st;

    snprintf(store, sizeof store, "%s/store", dir);
    snprintf(db, sizeof db, "%s/store.db", store);
    /* The schema, made by the store itself (ckpt/store.c migrations). */
    if ((st = rp_ckpt_open_why(store, &ckpt, &why)) != RP_OK) {
        fprintf(stderr, "bench_submit: rp_ckpt_open %s: %s%s%s\n", store, rp_strerror(st),
                why ? ": " : "", why ? why : "");
        free(why);
        return 1;
    }
    rp_ckpt_close(ckpt);
    r->db_path = db;
    if (strcmp(impl, "naive-mutex") == 0) {
        if ((shared = naive_open(r)) == NULL)
            return 1;
        r->shared = shared;
        pthread_mutex_init(&r->shared_lock, NULL);
        r->submit = submit_naive_mutex;
    } else {
        r->thread_open = naive_open;
        r->thread_close = naive_close;
        r->submit = submit_naive;
    }
    /* Warm-up, as ours: statements prepared, pages cached; rows removed. */
    {
        struct naive_conn *c = shared != NULL ? shared : naive_open(r);
        bool ok = c != NULL;
        for (long i = 0; ok && i < WARMUP; i++)
            ok = naive_transaction(c, r->max + i);
        ok = ok && sqlite3_exec(c->db, "DELETE FROM tasks; DELETE FROM jobs", NULL, NULL,
                                NULL) == SQLITE_OK;
        if (c != NULL && c != shared)
            naive_close(c);
        if (!ok)
            goto fail;
    }
    if (!run_submitters(r, &calls, &seconds))
        goto fail;
    printf("tasks=%ld\n", calls);
    if (shared != NULL)
        naive_close(shared);
    shared = NULL;
    if (!read_store(db, &rows))
        return 1;
    print_store(db, &rows);
    return 0;
fail:
    if (shared != NULL)
        naive_close(shared);
    return 1;
}

static int
child(const char *impl, int threads, double seconds, long max, const char *parent)
{
    static struct run r;
    char dir[PATH_MAX - 64];
    bool ours = strncmp(impl, "rp", 2) == 0;
    int rc;

    if (!ours && strcmp(impl, "naive") != 0 && strcmp(impl, "naive-mutex") != 0) {
        fprintf(stderr, "bench_submit: unknown --impl %s\n", impl);
        return 2;
    }
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s.XXXXXX", parent, impl) >= sizeof dir ||
        mkdtemp(dir) == NULL) {
        fprintf(stderr, "bench_submit: cannot make a directory in %s: %s\n", parent,
                strerror(errno));
        return 1;
    }
    bench_watchdog_names(dir);
    bench_watchdog("bench_submit", seconds + 60);
    r.threads = threads;
    r.seconds = seconds;
    r.max = strcmp(impl, "rp-job") == 0 ? (max + SHARDS - 1) / SHARDS : max;
    rc = ours ? child_rp(impl, dir, &r) : child_naive(impl, dir, &r);
    free(r.latency);
    bench_remove_tree(dir);
    return rc;
}

/* ---- the driver ---- */

struct figures {
    long calls, tasks;
    double rate, p50_us, p99_us, drained_rate, shutdown_s;
    long ran_in_loop, unfinished;
};

/* Runs one contender and checks what it left in its store; false (said
 * why) if anything is off. */
static bool
run_one(const char *impl, int threads, double seconds, long max, const char *dir,
        struct figures *f /* OUT */)
{
    char tbuf[16], sbuf[32], mbuf[32], spec[512];
    bench_output o;
    bool ok = true, ours = strncmp(impl, "rp", 2) == 0;
    bool process = strcmp(impl, "rp-process") == 0, job = strcmp(impl, "rp-job") == 0;

    snprintf(tbuf, sizeof tbuf, "%d", threads);
    snprintf(sbuf, sizeof sbuf, "%g", seconds);
    snprintf(mbuf, sizeof mbuf, "%ld", max);
    const char *args[] = { "--impl", impl, "--threads", tbuf, "--seconds", sbuf, "--max", mbuf,
                           "--dir", dir, NULL };
    if (!bench_run(args, &o))
        return false;
    memset(f, 0, sizeof *f);
    f->calls = (long)bench_value(&o, "calls");
    f->tasks = (long)bench_value(&o, "tasks");
    f->rate = (double)f->tasks / bench_value(&o, "seconds");
    f->p50_us = bench_value(&o, "p50_us");
    f->p99_us = bench_value(&o, "p99_us");
    f->shutdown_s = bench_value(&o, "shutdown_seconds");
    f->ran_in_loop = (long)bench_value(&o, "ran_in_loop");
    if (ours && !process)
        f->drained_rate = (double)f->tasks / bench_value(&o, "drained_seconds");
    /* Every submission has its rows, with the same spec on both sides;
     * ours: every function task succeeded, every process task ended. */
    long jobs = (long)bench_value(&o, "store_jobs"), tasks = (long)bench_value(&o, "store_tasks");
    long succeeded = (long)bench_value(&o, "store_succeeded");
    long cancelled = (long)bench_value(&o, "store_cancelled");
    if (f->calls < 1 || jobs != f->calls || tasks != f->tasks) {
        fprintf(stderr, "bench_submit: %s, %d threads: %ld calls, %ld tasks, but the store "
                "holds %ld jobs and %ld tasks\n", impl, threads, f->calls, f->tasks, jobs, tasks);
        ok = false;
    }
    if (ours && !process && (succeeded != f->tasks || bench_value(&o, "bad") != 0)) {
        fprintf(stderr, "bench_submit: %s: %ld of %ld tasks succeeded in the store\n", impl,
                succeeded, f->tasks);
        ok = false;
    }
    f->unfinished = (long)bench_value(&o, "store_unfinished");
    if (process && succeeded + cancelled + f->unfinished != f->tasks) {
        fprintf(stderr, "bench_submit: %s: %ld succeeded + %ld cancelled + %ld unfinished "
                "of %ld\n", impl, succeeded, cancelled, f->unfinished, f->tasks);
        ok = false;
    }
    if (!process && !job && strcmp(bench_value_str(&o, "spec", spec, sizeof spec),
                                   FUNCTION_SPEC) != 0) {
        fprintf(stderr, "bench_submit: %s wrote the spec %s, the anchor writes %s\n", impl,
                spec, FUNCTION_SPEC);
        ok = false;
    }
    bench_output_free(&o);
    return ok;
}

/* The best of a contender's runs (by rate), and the median rate. */
struct best {
    struct figures f;
    bench_samples rates;
};

static void
keep(struct best *b, const struct figures *f)
{
    if (b->rates.n == 0 || f->rate > b->f.rate)
        b->f = *f;
    bench_add(&b->rates, f->rate);
}

static void
print_row(const char *name, const struct best *b)
{
    printf("   %-30s %7.0f /s %7.0f /s %7.0f us %7.0f us", name, b->f.rate,
           bench_median(&b->rates), b->f.p50_us, b->f.p99_us);
    if (b->f.drained_rate > 0)
        printf(" %9.0f /s", b->f.drained_rate);
    printf("\n");
}

enum { OURS, NAIVE, NAIVE_MUTEX, CONTENDERS };

static int
compare(const int *threads, int nthreads, double seconds, long max, int rounds,
        const char *dir)
{
    static const char *const impls[CONTENDERS] = { "rp", "naive", "naive-mutex" };
    static struct best b[16][CONTENDERS];
    struct figures f;
    double best = 0;
    int best_t = 0;

    printf("   function tasks (a no-op), one rp_submit per call, 2 pool workers; at most "
           "%ld calls or %g s per run; best of %d runs, one process each\n", max, seconds,
           rounds);
    printf("   anchor: BEGIN IMMEDIATE; INSERT jobs; INSERT tasks; COMMIT per call "
           "(one connection per thread, busy timeout)\n");
    printf("   p50/p99: of one call, in the best run; all final: submissions / time until "
           "every task ended and its end was committed\n");
    for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < nthreads; i++) {
            /* Ours and the anchor alternate who goes first. */
            int order[CONTENDERS] = { OURS, NAIVE, NAIVE_MUTEX };
            if ((i + round) % 2 == 1) {
                order[0] = NAIVE;
                order[1] = OURS;
            }
            for (int k = 0; k < CONTENDERS; k++) {
                if (!run_one(impls[order[k]], threads[i], seconds, max, dir, &f))
                    return 1;
                keep(&b[i][order[k]], &f);
            }
        }
    }
    for (int i = 0; i < nthreads; i++) {
        char name[48];
        snprintf(name, sizeof name, "T = %d submitter thread%s", threads[i],
                 threads[i] == 1 ? "" : "s");
        printf("   %-30s %10s %10s %10s %10s %12s\n", name, "best", "median", "p50",
               "p99", "all final");
        print_row("ours: rp_submit", &b[i][OURS]);
        print_row("anchor: txn per submission", &b[i][NAIVE]);
        print_row("same, one shared connection", &b[i][NAIVE_MUTEX]);
        snprintf(name, sizeof name, "ours / anchor, T = %d", threads[i]);
        bench_print_ratio(name, b[i][OURS].f.rate, b[i][NAIVE].f.rate, NULL, false);
        if (b[i][OURS].f.rate > best) {
            best = b[i][OURS].f.rate;
            best_t = threads[i];
        }
    }
    printf("   %-36s %6.0f /s at T = %d   target >= %.0f /s: %s\n", "best durable rp_submit",
           best, best_t, TARGET, best >= TARGET ? "met" : "NOT met");
    fflush(stdout);

    int tmax = threads[nthreads - 1];
    char label[48];
    printf("   for information, one run each:\n");
    if (!run_one("rp-process", tmax, seconds, max, dir, &f))
        return 1;
    snprintf(label, sizeof label, "process tasks (/bin/true), T = %d", tmax);
    printf("   %-38s %7.0f /s    p50 %5.0f us  p99 %5.0f us\n", label, f.rate, f.p50_us,
           f.p99_us);
    printf("      (max_processes %d: %ld ran during the loop; the shutdown took %.2f s and "
           "left %ld queued in the store, for the next pool)\n", MAX_PROCESSES,
           f.ran_in_loop, f.shutdown_s, f.unfinished);
    if (!run_one("rp-job", 1, seconds, max, dir, &f))
        return 1;
    printf("   %-38s %7.0f tasks/s    p50 %5.2f ms  p99 %5.2f ms  all final %7.0f /s\n",
           "rp_submit_job of 1000 shards, T = 1", f.rate, f.p50_us / 1e3, f.p99_us / 1e3,
           f.drained_rate);
    return 0;
}

/* "1,4,16,64" -> threads[]; false if malformed. */
static bool
parse_threads(const char *text, int *threads, int *n)
{
    char *end;

    *n = 0;
    for (const char *p = text; *p != '\0' && *n < 16; p = *end == ',' ? end + 1 : end) {
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > MAX_THREADS || (*end != ',' && *end != '\0'))
            return false;
        threads[(*n)++] = (int)v;
    }
    return *n > 0;
}

int
main(int argc, char **argv)
{
    const char *impl = NULL, *parent = ".", *threads_text = "1,4,16,64";
    char parent_abs[PATH_MAX], dir[PATH_MAX - 128];
    int threads[16], nthreads = 0, rc;
    double seconds = 1.5;
    long max = 200000;
    int rounds = 2;

    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (val == NULL) { fprintf(stderr, "bench_submit: %s needs a value\n", opt); return 2; }
        if (strcmp(opt, "--impl") == 0) impl = val;
        else if (strcmp(opt, "--threads") == 0) threads_text = val;
        else if (strcmp(opt, "--seconds") == 0) seconds = atof(val);
        else if (strcmp(opt, "--max") == 0) max = atol(val);
        else if (strcmp(opt, "--dir") == 0) parent = val;
        else if (strcmp(opt, "--rounds") == 0) rounds = atoi(val);
        else { fprintf(stderr, "bench_submit: unknown option %s\n", opt); return 2; }
    }
    if (!parse_threads(threads_text, threads, &nthreads) || !(seconds > 0 && seconds <= 60) ||
        max < 1 || max > 10000000 || rounds < 1 || rounds > BENCH_MAX_SAMPLES) {
        fprintf(stderr, "bench_submit: bad arguments (--threads 1..%d[,...] up to 16 values, "
                "--seconds 0..60, --max 1..10000000, --rounds 1..%d)\n", MAX_THREADS,
                BENCH_MAX_SAMPLES);
        return 2;
    }
    if (impl != NULL) {
        if (nthreads != 1) {
            fprintf(stderr, "bench_submit: --impl takes one --threads value\n");
            return 2;
        }
        return child(impl, threads[0], seconds, max, parent);
    }
    /* Per run: the loop, then at worst 10 s of drain and shutdown. */
    bench_watchdog("bench_submit", 60 + (3.0 * nthreads * rounds + 2) * (seconds + 10));
    if (realpath(parent, parent_abs) == NULL) {
        fprintf(stderr, "bench_submit: %s: %s\n", parent, strerror(errno));
        return 2;
    }
    if ((size_t)snprintf(dir, sizeof dir, "%s/bench_submit.XXXXXX", parent_abs) >=
            sizeof dir || mkdtemp(dir) == NULL) {
        fprintf(stderr, "bench_submit: cannot make a directory in %s: %s\n", parent_abs,
                strerror(errno));
        return 2;
    }
    bench_watchdog_names(dir);
    bench_print_machine("durable submissions: group commit vs one transaction per submission");
    rc = bench_print_file_system(dir) ? compare(threads, nthreads, seconds, max, rounds, dir) : 1;
    bench_remove_tree(dir);
    return rc;
}
