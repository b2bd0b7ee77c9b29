/*
 * test_inspect.c -- the inspection calls of task.h, black-box through the
 * public API: rp_task_get, rp_pool_tasks, rp_task_describe,
 * rp_pool_workers, rp_wait_reason_name, and the worker of rp_event.
 *
 *   - every field of rp_task_info for queued, running and final tasks, of
 *     processes and functions, shards of a job, retried, restored and
 *     recovered tasks (durable pools);
 *   - why a queued task waits: no free slot, backing off (retry_at_ns);
 *   - workers: one per slot of each executor, the one running a task names
 *     it, and its count and busy time grow when the attempt ends;
 *   - snapshots: every task in id order, an empty pool, a job of many
 *     shards, and snapshots taken while another thread submits (also to a
 *     durable pool, where tasks wait for their commit);
 *   - descriptions as JSON (cJSON reads them back), also of a task of an
 *     earlier pool on the same store;
 *   - bad arguments.
 *
 * Processes are /bin/sh scripts; a task that must stay running is
 * `exec sleep 5` with a short kill grace, cancelled by the test when done
 * with it. Function tasks that must stay running wait on a gate the test
 * opens (with a deadline of their own, so a failing test hangs nothing).
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <repartir.h>

#include "tests/testing.h"

/* Ceiling for a wait on a task that should end soon: only a broken engine
 * gets near it. */
#define WAIT_MS 20000
#define MS 1000000ull           /* nanoseconds */

/* ---- helpers ---- */

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A time bound for something that takes `plain` seconds in a plain build. */
static double
bound(double plain)
{
    return plain * (rp_test_slowdown() == 1 ? 1 : 3);
}

/* A process that runs until the test cancels it (5 s at most). */
static rp_task *
long_task(void)
{
    rp_task *t = rp_test_sh("exec sleep 5");

    CU_ASSERT_EQUAL(rp_task_set_kill_grace_ms(t, 100), RP_OK);
    return t;
}

static rp_result *
wait_for(rp_pool *pool, rp_task_id id)
{
    rp_result *r = NULL;

    CU_ASSERT_EQUAL_FATAL(rp_wait(pool, id, WAIT_MS, &r), RP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    return r;
}

/* rp_task_get that must succeed. */
static rp_task_info
info_of(rp_pool *pool, rp_task_id id)
{
    rp_task_info info;

    memset(&info, 0xa5, sizeof info);
    CU_ASSERT_EQUAL_FATAL(rp_task_get(pool, id, &info), RP_OK);
    CU_ASSERT_EQUAL(info.id, id);
    return info;
}

/* Polls rp_task_get until the task is in state `want`; *out = that info. */
static bool
wait_info(rp_pool *pool, rp_task_id id, rp_task_state want, double seconds,
          rp_task_info *out)
{
    double give_up = rp_test_now() + bound(seconds);

    do {
        if (rp_task_get(pool, id, out) == RP_OK && out->state == want)
            return true;
        rp_test_sleep_ms(1);
    } while (rp_test_now() < give_up);
    return false;
}

/* Cancels a task and waits until it is final. */
static void
cancel_and_wait(rp_pool *pool, rp_task_id id)
{
    CU_ASSERT_EQUAL(rp_cancel(pool, id), RP_OK);
    rp_result_free(wait_for(pool, id));
}

/* Workers snapshot that must succeed. */
static rp_worker_info *
workers_of(rp_pool *pool, size_t *n)
{
    rp_worker_info *w = NULL;

    *n = 0;
    CU_ASSERT_EQUAL_FATAL(rp_pool_workers(pool, &w, n), RP_OK);
    CU_ASSERT_FATAL(*n > 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    return w;
}

/* What an OUT pointer holds before a call that must set it. */
static rp_task_info not_set;

static rp_task_info *
tasks_of(rp_pool *pool, size_t *n)
{
    rp_task_info *v = &not_set;

    *n = (size_t)-1;
    CU_ASSERT_EQUAL_FATAL(rp_pool_tasks(pool, &v, n), RP_OK);
    CU_ASSERT_FATAL(*n != (size_t)-1);
    CU_ASSERT_FATAL(v != &not_set);
    CU_ASSERT_FATAL(*n == 0 || v != NULL);
    CU_ASSERT(*n != 0 || v == NULL);        /* "NULL when 0" */
    return *n == 0 ? NULL : v;
}

/* The times of a final task in order, and equal to its result's. */
static void
assert_final_times(const rp_task_info *i, const rp_result *r)
{
    rp_result_times rt;

    rp_result_get_times(r, &rt);
    CU_ASSERT_NOT_EQUAL(i->submitted_ns, 0);
    CU_ASSERT(i->started_ns >= i->submitted_ns);
    CU_ASSERT(i->ended_ns >= i->started_ns);
    CU_ASSERT(i->ended_ns <= now_ns());
    CU_ASSERT_EQUAL(i->submitted_ns, rt.submitted_ns);
    CU_ASSERT_EQUAL(i->ended_ns, rt.ended_ns);
    if (rp_result_attempts(r) > 0)
        CU_ASSERT_EQUAL(i->started_ns, rt.started_ns);
}

/* i is what rp_result says of the same final task. */
static void
assert_matches_result(const rp_task_info *i, const rp_result *r)
{
    CU_ASSERT_EQUAL(i->state, rp_result_state(r));
    CU_ASSERT_EQUAL(i->attempts, rp_result_attempts(r));
    CU_ASSERT_EQUAL(i->exit_code, rp_result_exit_code(r));
    CU_ASSERT_EQUAL(i->signal, rp_result_signal(r));
    CU_ASSERT_EQUAL(i->job, rp_result_job(r));
    CU_ASSERT_EQUAL(i->shard, rp_result_shard(r));
    CU_ASSERT_EQUAL(i->wait, RP_WAIT_NONE);
    CU_ASSERT_EQUAL(i->retry_at_ns, 0);
    assert_final_times(i, r);
}

/* ---- JSON ---- */

static cJSON *
describe(rp_pool *pool, rp_task_id id)
{
    char *json = NULL;
    cJSON *o;

    CU_ASSERT_EQUAL_FATAL(rp_task_describe(pool, id, &json), RP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    o = cJSON_Parse(json);
    if (o == NULL)
        fprintf(stderr, "\n    not JSON: %s\n", json);
    free(json);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_TRUE(cJSON_IsObject(o));
    return o;
}

static const char *
json_string(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool
json_string_is(const cJSON *o, const char *name, const char *want)
{
    const char *s = json_string(o, name);

    if (s == NULL || strcmp(s, want) != 0) {
        fprintf(stderr, "\n    \"%s\": %s, want \"%s\"\n", name, s ? s : "(none)", want);
        return false;
    }
    return true;
}

static double
json_number(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Array `name` holds exactly the strings want[0..n). */
static bool
json_strings_are(const cJSON *o, const char *name, const char *const *want, int n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, name);

    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return false;
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsString(v) || strcmp(v->valuestring, want[i]) != 0)
            return false;
    }
    return true;
}

/* ---- durable pools ---- */

static rp_pool *
durable_pool(const char *dir, int cpu_workers, unsigned max_processes)
{
    rp_pool_config cfg;
    rp_pool *pool = NULL;
    char *why = NULL;
    rp_status st;

    rp_pool_config_init(&cfg);
    cfg.cpu_workers = cpu_workers;
    cfg.max_processes = max_processes;
    cfg.state_dir = dir;
    st = rp_pool_create_why(&cfg, &pool, &why);
    if (st != RP_OK)
        fprintf(stderr, "\n    pool on %s: %s: %s\n", dir, rp_strerror(st), why ? why : "");
    free(why);
    CU_ASSERT_EQUAL_FATAL(st, RP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
    return pool;
}

/* ---- function tasks ---- */

static int
fn_exit(void *arg)
{
    return (int)(intptr_t)arg;
}

static int
fn_sleep_ms(void *arg)
{
    rp_test_sleep_ms((unsigned)(uintptr_t)arg);
    return 0;
}

/* Function tasks that run until the test opens the gate (3 s at most). */
struct gate {
    atomic_bool open;
    atomic_int entered;
};

static int
fn_gate(void *arg)
{
    struct gate *g = arg;
    double give_up = rp_test_now() + 3;

    atomic_fetch_add(&g->entered, 1);
    while (!atomic_load(&g->open) && rp_test_now() < give_up)
        rp_test_sleep_ms(1);
    return 0;
}

static rp_task *
fn_task(rp_task_fn fn, void *arg)
{
    rp_task *t = rp_task_new_fn(fn, arg);

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    return t;
}

/* ---- rp_task_get ---- */

/* One process slot: a running task, then a job of three shards queued
 * behind it; every field before, during and after. */
static void
get_reports_queued_running_and_final_tasks(void)
{
    rp_pool *pool = rp_test_pool(2, 0, 1);
    rp_task_id blocker, ids[3];
    rp_job_id job = 0, bjob = 0;
    rp_task_info bi, i;
    rp_job_info ji;
    uint64_t before = now_ns();
    rp_task *t;
    rp_result *r;

    t = long_task();
    CU_ASSERT_EQUAL(rp_task_set_priority(t, RP_PRIORITY_HIGH), RP_OK);
    blocker = rp_test_submit(pool, t);
    CU_ASSERT_TRUE_FATAL(wait_info(pool, blocker, RP_TASK_RUNNING, 5, &bi));
    CU_ASSERT_EQUAL(rp_task_job(pool, blocker, &bjob), RP_OK);
    CU_ASSERT_EQUAL(bi.job, bjob);
    CU_ASSERT_EQUAL(bi.shard, 0);
    CU_ASSERT_EQUAL(bi.total_shards, 1);
    CU_ASSERT_EQUAL(bi.attempts, 1);
    CU_ASSERT_EQUAL(bi.max_retries, 0);
    CU_ASSERT_EQUAL(bi.backend, RP_BACKEND_ANY);
    CU_ASSERT_EQUAL(bi.priority, RP_PRIORITY_HIGH);
    CU_ASSERT_FALSE(bi.function);
    CU_ASSERT_FALSE(bi.checkpoint);
    CU_ASSERT_EQUAL(bi.wait, RP_WAIT_NONE);
    CU_ASSERT_EQUAL(bi.retry_at_ns, 0);
    CU_ASSERT_EQUAL(bi.worker, 0);           /* the only process slot */
    CU_ASSERT(bi.submitted_ns >= before);
    CU_ASSERT(bi.started_ns >= bi.submitted_ns);
    CU_ASSERT(bi.started_ns <= now_ns());
    CU_ASSERT_EQUAL(bi.ended_ns, 0);
    CU_ASSERT_EQUAL(bi.origin, blocker);

    t = rp_test_sh("exit 0");
    CU_ASSERT_EQUAL(rp_task_set_priority(t, RP_PRIORITY_LOW), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_backend(t, RP_BACKEND_CPU), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_retries(t, 2), RP_OK);
    CU_ASSERT_EQUAL_FATAL(rp_submit_job(pool, t, 3, &job, ids), RP_OK);
    CU_ASSERT_NOT_EQUAL(job, bjob);
    for (unsigned s = 0; s < 3; s++) {
        i = info_of(pool, ids[s]);
        CU_ASSERT_EQUAL(i.job, job);
        CU_ASSERT_EQUAL(i.shard, s);
        CU_ASSERT_EQUAL(i.total_shards, 3);
        CU_ASSERT_EQUAL(i.state, RP_TASK_QUEUED);
        CU_ASSERT_EQUAL(i.attempts, 0);
        CU_ASSERT_EQUAL(i.max_retries, 2);
        CU_ASSERT_EQUAL(i.backend, RP_BACKEND_CPU);
        CU_ASSERT_EQUAL(i.priority, RP_PRIORITY_LOW);
        CU_ASSERT_FALSE(i.function);
        CU_ASSERT_FALSE(i.checkpoint);
        CU_ASSERT_EQUAL(i.wait, RP_WAIT_SLOT);
        CU_ASSERT_EQUAL(i.retry_at_ns, 0);
        CU_ASSERT_EQUAL(i.worker, -1);
        CU_ASSERT(i.submitted_ns >= bi.submitted_ns);
        CU_ASSERT_EQUAL(i.started_ns, 0);
        CU_ASSERT_EQUAL(i.ended_ns, 0);
        CU_ASSERT_EQUAL(i.origin, ids[s]);
    }
    /* The blocker is still the one running, unchanged. */
    i = info_of(pool, blocker);
    CU_ASSERT_EQUAL(i.state, RP_TASK_RUNNING);
    CU_ASSERT_EQUAL(i.started_ns, bi.started_ns);
    CU_ASSERT_EQUAL(i.worker, bi.worker);

    cancel_and_wait(pool, blocker);
    CU_ASSERT_EQUAL(rp_job_wait(pool, job, WAIT_MS, &ji), RP_OK);
    CU_ASSERT_EQUAL(ji.state, RP_TASK_SUCCEEDED);

    r = wait_for(pool, blocker);
    i = info_of(pool, blocker);
    CU_ASSERT_EQUAL(i.state, RP_TASK_CANCELLED);
    CU_ASSERT_EQUAL(i.worker, 0);            /* still the one that ran it */
    assert_matches_result(&i, r);
    rp_result_free(r);
    for (unsigned s = 0; s < 3; s++) {
        r = wait_for(pool, ids[s]);
        i = info_of(pool, ids[s]);
        CU_ASSERT_EQUAL(i.state, RP_TASK_SUCCEEDED);
        CU_ASSERT_EQUAL(i.attempts, 1);
        CU_ASSERT_EQUAL(i.exit_code, 0);
        CU_ASSERT_EQUAL(i.signal, 0);
        CU_ASSERT_EQUAL(i.worker, 0);
        CU_ASSERT_EQUAL(i.shard, s);
        CU_ASSERT_EQUAL(i.total_shards, 3);
        CU_ASSERT_EQUAL(i.origin, ids[s]);
        /* They ran after the blocker ended, one at a time. */
        CU_ASSERT(i.started_ns >= bi.started_ns);
        assert_matches_result(&i, r);
        rp_result_free(r);
    }
    rp_pool_shutdown(pool);
}

/* exit 3, killed by SIGKILL, a function that returns 7, one that succeeds. */
static void
get_reports_exit_codes_and_signals(void)
{
    rp_pool *pool = rp_test_pool(2, 0, 2);
    rp_task_id ids[4];
    rp_task_info i;
    rp_result *r;

    ids[0] = rp_test_submit(pool, rp_test_sh("exit 3"));
    ids[1] = rp_test_submit(pool, rp_test_sh("kill -9 $$; sleep 5"));
    ids[2] = rp_test_submit(pool, fn_task(fn_exit, (void *)(intptr_t)7));
    ids[3] = rp_test_submit(pool, fn_task(fn_exit, (void *)(intptr_t)0));

    r = wait_for(pool, ids[0]);
    i = info_of(pool, ids[0]);
    CU_ASSERT_EQUAL(i.state, RP_TASK_FAILED);
    CU_ASSERT_EQUAL(i.exit_code, 3);
    CU_ASSERT_EQUAL(i.signal, 0);
    CU_ASSERT_FALSE(i.function);
    assert_matches_result(&i, r);
    rp_result_free(r);

    r = wait_for(pool, ids[1]);
    i = info_of(pool, ids[1]);
    CU_ASSERT_EQUAL(i.state, RP_TASK_FAILED);
    CU_ASSERT_EQUAL(i.exit_code, -1);
    CU_ASSERT_EQUAL(i.signal, SIGKILL);
    CU_ASSERT_EQUAL(i.attempts, 1);
    assert_matches_result(&i, r);
    rp_result_free(r);

    r = wait_for(pool, ids[2]);
    i = info_of(pool, ids[2]);
    CU_ASSERT_EQUAL(i.state, RP_TASK_FAILED);
    CU_ASSERT_EQUAL(i.exit_code, 7);
    CU_ASSERT_EQUAL(i.signal, 0);
    CU_ASSERT_TRUE(i.function);
    CU_ASSERT(i.worker >= 2 && i.worker < 4);    /* a function slot */
    assert_matches_result(&i, r);
    rp_result_free(r);

    r = wait_for(pool, ids[3]);
    i = info_of(pool, ids[3]);
    CU_ASSERT_EQUAL(i.state, RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(i.exit_code, 0);
    CU_ASSERT_TRUE(i.function);
    assert_matches_result(&i, r);
    rp_result_free(r);
    rp_pool_shutdown(pool);
}

/* A task cancelled while queued never ran: no worker, no start time. */
static void
get_reports_a_task_cancelled_before_it_ran(void)
{
    rp_pool *pool = rp_test_pool(1, 0, 1);
    rp_task_id blocker, q;
    rp_task_info i;
    rp_result *r;

    blocker = rp_test_submit(pool, long_task());
    CU_ASSERT_TRUE_FATAL(wait_info(pool, blocker, RP_TASK_RUNNING, 5, &i));
    q = rp_test_submit(pool, rp_test_sh("exit 0"));
    CU_ASSERT_EQUAL(rp_cancel(pool, q), RP_OK);
    r = wait_for(pool, q);
    i = info_of(pool, q);
    CU_ASSERT_EQUAL(i.state, RP_TASK_CANCELLED);
    CU_ASSERT_EQUAL(i.attempts, 0);
    CU_ASSERT_EQUAL(i.worker, -1);
    CU_ASSERT_EQUAL(i.started_ns, 0);
    CU_ASSERT(i.ended_ns >= i.submitted_ns);
    CU_ASSERT_EQUAL(i.wait, RP_WAIT_NONE);
    CU_ASSERT_EQUAL(i.exit_code, rp_result_exit_code(r));
    CU_ASSERT_EQUAL(i.signal, 0);
    rp_result_free(r);
    cancel_and_wait(pool, blocker);
    rp_pool_shutdown(pool);
}

/* Durable pool: the checkpoint flag, and the origin of restored tasks. */
static void
get_reports_checkpoint_and_origin_of_restored_tasks(void)
{
    char dir[PATH_MAX];
    rp_pool *pool;
    rp_task_id plain, ck, again, again2;
    rp_task_info i;
    rp_task *t;

    rp_test_tmpdir(dir, sizeof dir, "inspect");
    pool = durable_pool(dir, 2, 2);

    plain = rp_test_submit(pool, rp_test_sh("exit 0"));
    t = rp_test_sh("trap '' USR1; exit 0");
    CU_ASSERT_EQUAL(rp_task_set_checkpoint(t, true, 0), RP_OK);
    ck = rp_test_submit(pool, t);
    rp_result_free(wait_for(pool, plain));
    rp_result_free(wait_for(pool, ck));

    i = info_of(pool, plain);
    CU_ASSERT_FALSE(i.checkpoint);
    CU_ASSERT_EQUAL(i.origin, plain);
    i = info_of(pool, ck);
    CU_ASSERT_TRUE(i.checkpoint);
    CU_ASSERT_EQUAL(i.origin, ck);
    CU_ASSERT_EQUAL(i.state, RP_TASK_SUCCEEDED);

    /* Restored: a new task and job that keeps the origin, also when the
     * restored one is restored in turn. */
    CU_ASSERT_EQUAL_FATAL(rp_restore(pool, ck, &again), RP_OK);
    CU_ASSERT(again > ck);
    rp_result_free(wait_for(pool, again));
    i = info_of(pool, again);
    CU_ASSERT_EQUAL(i.origin, ck);
    CU_ASSERT_TRUE(i.checkpoint);
    CU_ASSERT_EQUAL(i.state, RP_TASK_SUCCEEDED);
    CU_ASSERT_NOT_EQUAL(i.job, info_of(pool, ck).job);
    CU_ASSERT_EQUAL(i.shard, 0);
    CU_ASSERT_EQUAL(i.total_shards, 1);

    CU_ASSERT_EQUAL_FATAL(rp_restore(pool, again, &again2), RP_OK);
    rp_result_free(wait_for(pool, again2));
    CU_ASSERT_EQUAL(info_of(pool, again2).origin, ck);

    CU_ASSERT_EQUAL_FATAL(rp_restore(pool, plain, &again), RP_OK);
    rp_result_free(wait_for(pool, again));
    i = info_of(pool, again);
    CU_ASSERT_EQUAL(i.origin, plain);
    CU_ASSERT_FALSE(i.checkpoint);
    rp_pool_shutdown(pool);
    rp_test_remove_tree(dir);
}

/* ---- wait reasons ---- */

/* A retry backing off shows when it will be ready; cancelling it ends it
 * at once. */
static void
backing_off_task_shows_when_it_is_ready(void)
{
    rp_pool *pool = rp_test_pool(2, 0, 1);
    rp_task_id id;
    rp_task_info i, first;
    rp_task *t;
    double give_up;
    bool seen = false;
    uint64_t before = 0;

    t = rp_test_sh("exit 1");
    CU_ASSERT_EQUAL(rp_task_set_retries(t, 2), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_backoff(t, 500, 500), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_retry_on_exit(t, true), RP_OK);
    id = rp_test_submit(pool, t);
    /* Its first attempt fails within moments; then 250-500 ms of backoff. */
    give_up = rp_test_now() + bound(5);
    while (rp_test_now() < give_up) {
        before = now_ns();
        CU_ASSERT_EQUAL_FATAL(rp_task_get(pool, id, &first), RP_OK);
        if (first.state == RP_TASK_QUEUED && first.attempts == 1) {
            seen = true;
            break;
        }
        rp_test_sleep_ms(1);
    }
    CU_ASSERT_TRUE_FATAL(seen);
    CU_ASSERT_EQUAL(first.wait, RP_WAIT_BACKOFF);
    CU_ASSERT(first.retry_at_ns > before);
    CU_ASSERT(first.retry_at_ns <= before + 1000 * MS);
    /* At least half the nominal delay after its attempt began. */
    CU_ASSERT(first.retry_at_ns >= first.started_ns + 250 * MS);
    CU_ASSERT_EQUAL(first.worker, 0);           /* the one that ran attempt 1 */
    CU_ASSERT_NOT_EQUAL(first.started_ns, 0);
    CU_ASSERT_EQUAL(first.ended_ns, 0);
    CU_ASSERT_EQUAL(first.max_retries, 2);

    /* Still the same a moment later (nothing moves while it waits). */
    rp_test_sleep_ms(20);
    i = info_of(pool, id);
    if (i.state == RP_TASK_QUEUED && i.attempts == 1) {
        CU_ASSERT_EQUAL(i.wait, RP_WAIT_BACKOFF);
        CU_ASSERT_EQUAL(i.retry_at_ns, first.retry_at_ns);
    }

    CU_ASSERT_EQUAL(rp_cancel(pool, id), RP_OK);
    i = info_of(pool, id);
    CU_ASSERT_TRUE(rp_task_state_is_final(i.state));
    CU_ASSERT_EQUAL(i.wait, RP_WAIT_NONE);
    CU_ASSERT_EQUAL(i.retry_at_ns, 0);
    CU_ASSERT(i.ended_ns >= i.started_ns);
    rp_pool_shutdown(pool);
}

static void
wait_reason_names_are_distinct(void)
{
    static const rp_wait_reason all[] = {
        RP_WAIT_NONE, RP_WAIT_COMMIT, RP_WAIT_SLOT, RP_WAIT_BACKOFF,
        RP_WAIT_BACKEND, RP_WAIT_DATA, RP_WAIT_STOPPING,
    };
    const size_t n = sizeof all / sizeof all[0];

    for (size_t a = 0; a < n; a++) {
        const char *s = rp_wait_reason_name(all[a]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT(s[0] != '\0');
        CU_ASSERT_STRING_NOT_EQUAL(s, "unknown");
        CU_ASSERT_PTR_EQUAL(s, rp_wait_reason_name(all[a]));   /* static */
        for (size_t b = 0; b < a; b++)
            CU_ASSERT_STRING_NOT_EQUAL(s, rp_wait_reason_name(all[b]));
    }
    CU_ASSERT_STRING_EQUAL(rp_wait_reason_name(RP_WAIT_SLOT), "no free slot");
    CU_ASSERT_STRING_EQUAL(rp_wait_reason_name((rp_wait_reason)(RP_WAIT_STOPPING + 1)),
                           "unknown");
    CU_ASSERT_STRING_EQUAL(rp_wait_reason_name((rp_wait_reason)1000), "unknown");
    CU_ASSERT_STRING_EQUAL(rp_wait_reason_name((rp_wait_reason)-1), "unknown");
}

/* ---- workers ---- */

/* max_processes process workers, then cpu_workers function workers. */
static void
workers_are_one_per_slot(void)
{
    static const struct { int cpu; unsigned procs; size_t want; } cases[] = {
        { 2, 1, 3 }, { 3, 0, 6 }, { 1, 4, 5 },
    };

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint64_t before = now_ns();
        rp_pool *pool = rp_test_pool(cases[c].cpu, 0, cases[c].procs);
        unsigned procs = cases[c].procs ? cases[c].procs : (unsigned)cases[c].cpu;
        rp_worker_info *w;
        size_t n;

        w = workers_of(pool, &n);
        CU_ASSERT_EQUAL(n, cases[c].want);
        for (size_t a = 0; a < n; a++) {
            const char *want_exec = a < procs ? "process" : "function";
            CU_ASSERT(w[a].name[0] != '\0');
            CU_ASSERT_PTR_NOT_NULL(memchr(w[a].name, '\0', sizeof w[a].name));
            CU_ASSERT(w[a].node[0] != '\0');
            CU_ASSERT_PTR_NOT_NULL(memchr(w[a].node, '\0', sizeof w[a].node));
            CU_ASSERT_STRING_EQUAL(w[a].executor, want_exec);
            CU_ASSERT_TRUE(w[a].up);
            CU_ASSERT_EQUAL(w[a].task, 0);
            CU_ASSERT_EQUAL(w[a].completed, 0);
            CU_ASSERT_EQUAL(w[a].busy_ns, 0);
            CU_ASSERT(w[a].up_since_ns >= before);
            CU_ASSERT(w[a].up_since_ns <= now_ns());
            CU_ASSERT(w[a].backend == RP_BACKEND_CPU || w[a].backend == RP_BACKEND_ANY);
            for (size_t b = 0; b < a; b++)
                CU_ASSERT_STRING_NOT_EQUAL(w[a].name, w[b].name);
        }
        free(w);
        rp_pool_shutdown(pool);
    }
}

/* A 50 ms task: its worker names it while it runs; afterwards the worker
 * is idle, with one more attempt and its busy time. */
static void
worker_runs_a_task_and_counts_it(void)
{
    rp_pool *pool = rp_test_pool(2, 0, 2);
    rp_worker_info *w, *w2;
    rp_task_info i, done;
    rp_task_id id;
    rp_result *r;
    rp_result_times rt;
    size_t n, n2;
    int idx;

    id = rp_test_submit(pool, rp_test_sh("sleep 0.05"));
    CU_ASSERT_TRUE_FATAL(wait_info(pool, id, RP_TASK_RUNNING, 5, &i));
    idx = i.worker;
    CU_ASSERT_FATAL(idx >= 0 && idx < 2);       /* a process slot */
    w = workers_of(pool, &n);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    /* It may have ended between the two calls (under a slow build). */
    if (w[idx].task != 0) {
        CU_ASSERT_EQUAL(w[idx].task, id);
        CU_ASSERT_STRING_EQUAL(w[idx].executor, "process");
    }
    for (size_t a = 0; a < n; a++)
        if ((int)a != idx)
            CU_ASSERT_EQUAL(w[a].task, 0);
    free(w);

    r = wait_for(pool, id);
    rp_result_get_times(r, &rt);
    done = info_of(pool, id);
    CU_ASSERT_EQUAL(done.worker, idx);
    w = workers_of(pool, &n);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    CU_ASSERT_EQUAL(w[idx].task, 0);
    CU_ASSERT_EQUAL(w[idx].completed, 1);
    CU_ASSERT(w[idx].busy_ns >= 40 * MS);
    CU_ASSERT(w[idx].busy_ns + 10 * MS >= rt.wall_ns);
    CU_ASSERT(w[idx].busy_ns <= now_ns() - w[idx].up_since_ns);
    for (size_t a = 0; a < n; a++) {
        if ((int)a == idx)
            continue;
        CU_ASSERT_EQUAL(w[a].completed, 0);
        CU_ASSERT_EQUAL(w[a].busy_ns, 0);
    }
    /* Idle: its busy time does not grow. */
    rp_test_sleep_ms(20);
    w2 = workers_of(pool, &n2);
    CU_ASSERT_EQUAL(w2[idx].busy_ns, w[idx].busy_ns);
    CU_ASSERT_EQUAL(w2[idx].completed, 1);
    free(w2);
    free(w);
    rp_result_free(r);
    rp_pool_shutdown(pool);
}

/* A running worker's busy time includes the attempt so far. */
static void
busy_time_grows_while_running(void)
{
    rp_pool *pool = rp_test_pool(1, 0, 1);
    rp_worker_info *a, *b;
    rp_task_info i;
    rp_task_id id;
    size_t n;

    id = rp_test_submit(pool, long_task());
    CU_ASSERT_TRUE_FATAL(wait_info(pool, id, RP_TASK_RUNNING, 5, &i));
    CU_ASSERT_EQUAL_FATAL(i.worker, 0);
    a = workers_of(pool, &n);
    rp_test_sleep_ms(30);
    b = workers_of(pool, &n);
    CU_ASSERT_EQUAL(a[0].task, id);
    CU_ASSERT_EQUAL(b[0].task, id);
    CU_ASSERT(b[0].busy_ns >= a[0].busy_ns + 25 * MS);
    CU_ASSERT_EQUAL(b[0].completed, 0);
    free(a);
    free(b);
    cancel_and_wait(pool, id);
    a = workers_of(pool, &n);
    CU_ASSERT_EQUAL(a[0].task, 0);
    CU_ASSERT_EQUAL(a[0].completed, 1);     /* a cancelled attempt counts */
    free(a);
    rp_pool_shutdown(pool);
}

/* Two processes at once run on two distinct process workers. */
static void
two_processes_run_on_two_workers(void)
{
    rp_pool *pool = rp_test_pool(2, 0, 2);
    rp_task_id a, b;
    rp_task_info ia, ib;
    rp_worker_info *w;
    size_t n, busy = 0;

    a = rp_test_submit(pool, long_task());
    b = rp_test_submit(pool, long_task());
    CU_ASSERT_TRUE_FATAL(wait_info(pool, a, RP_TASK_RUNNING, 5, &ia));
    CU_ASSERT_TRUE_FATAL(wait_info(pool, b, RP_TASK_RUNNING, 5, &ib));
    CU_ASSERT_NOT_EQUAL(ia.worker, ib.worker);
    CU_ASSERT(ia.worker >= 0 && ia.worker < 2);
    CU_ASSERT(ib.worker >= 0 && ib.worker < 2);
    w = workers_of(pool, &n);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    if (ia.worker >= 0 && ia.worker < 2 && ib.worker >= 0 && ib.worker < 2) {
        CU_ASSERT_EQUAL(w[ia.worker].task, a);
        CU_ASSERT_EQUAL(w[ib.worker].task, b);
    }
    for (size_t k = 0; k < n; k++)
        busy += w[k].task != 0;
    CU_ASSERT_EQUAL(busy, 2);
    free(w);
    cancel_and_wait(pool, a);
    cancel_and_wait(pool, b);
    CU_ASSERT_EQUAL(info_of(pool, a).worker, ia.worker);
    CU_ASSERT_EQUAL(info_of(pool, b).worker, ib.worker);
    rp_pool_shutdown(pool);
}

/* Function tasks run on the function workers (after the process ones);
 * with every function slot busy the next one waits for a slot. */
static void
function_tasks_run_on_function_workers(void)
{
    rp_pool *pool = rp_test_pool(2, 0, 1);
    struct gate g = { false, 0 };
    rp_task_id f[3];
    rp_task_info i[3];
    rp_worker_info *w;
    size_t n;
    double give_up;

    for (int k = 0; k < 3; k++)
        f[k] = rp_test_submit(pool, fn_task(fn_gate, &g));
    give_up = rp_test_now() + bound(5);
    while (atomic_load(&g.entered) < 2 && rp_test_now() < give_up)
        rp_test_sleep_ms(1);
    CU_ASSERT_EQUAL_FATAL(atomic_load(&g.entered), 2);
    for (int k = 0; k < 3; k++)
        i[k] = info_of(pool, f[k]);
    CU_ASSERT_EQUAL(i[0].state, RP_TASK_RUNNING);
    CU_ASSERT_EQUAL(i[1].state, RP_TASK_RUNNING);
    CU_ASSERT_EQUAL(i[2].state, RP_TASK_QUEUED);
    CU_ASSERT_EQUAL(i[2].wait, RP_WAIT_SLOT);
    CU_ASSERT_EQUAL(i[2].worker, -1);
    CU_ASSERT_TRUE(i[2].function);
    w = workers_of(pool, &n);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(w[0].task, 0);              /* the process worker */
    for (int k = 0; k < 2; k++) {
        CU_ASSERT_TRUE(i[k].function);
        CU_ASSERT_EQUAL(i[k].wait, RP_WAIT_NONE);
        CU_ASSERT_FATAL(i[k].worker >= 1 && i[k].worker < 3);
        CU_ASSERT_EQUAL(w[i[k].worker].task, f[k]);
        CU_ASSERT_STRING_EQUAL(w[i[k].worker].executor, "function");
    }
    CU_ASSERT_NOT_EQUAL(i[0].worker, i[1].worker);
    free(w);

    atomic_store(&g.open, true);
    for (int k = 0; k < 3; k++)
        rp_result_free(wait_for(pool, f[k]));
    CU_ASSERT(info_of(pool, f[2]).worker >= 1);
    w = workers_of(pool, &n);
    CU_ASSERT_EQUAL(w[1].completed + w[2].completed, 3);
    CU_ASSERT_EQUAL(w[0].completed, 0);
    CU_ASSERT_EQUAL(w[1].task, 0);
    CU_ASSERT_EQUAL(w[2].task, 0);
    free(w);
    rp_pool_shutdown(pool);
}

/* The worker of an event: none while queued, the task's while it runs and
 * when it ends. */
static void
events_name_the_worker(void)
{
    rp_pool *pool = rp_test_pool(2, 0, 2);
    rp_subscription *sub = NULL;
    rp_task_id id;
    rp_task_info i;
    rp_event ev;
    int seen = 0;

    CU_ASSERT_EQUAL_FATAL(rp_subscribe(pool, &sub), RP_OK);
    id = rp_test_submit(pool, rp_test_sh("exit 0"));
    rp_result_free(wait_for(pool, id));
    i = info_of(pool, id);
    CU_ASSERT(i.worker >= 0 && i.worker < 2);
    while (seen < 3 && rp_subscription_next(sub, 2000, &ev, NULL) == RP_OK) {
        if (ev.task != id)
            continue;
        seen++;
        if (ev.state == RP_TASK_QUEUED) {
            CU_ASSERT_EQUAL(ev.worker, -1);
        } else {
            CU_ASSERT_EQUAL(ev.worker, i.worker);
        }
    }
    CU_ASSERT_EQUAL(seen, 3);
    rp_unsubscribe(sub);
    rp_pool_shutdown(pool);
}

/* ---- rp_pool_tasks ---- */

static void
pool_tasks_lists_every_task_in_id_order(void)
{
    rp_pool *pool = rp_test_pool(2, 0, 2);
    rp_task_id ids[8], shard_ids[2];
    bool is_fn[8];
    rp_job_id job;
    rp_task_info *v;
    size_t n, k = 0;

    ids[k] = rp_test_submit(pool, rp_test_sh("exit 0")), is_fn[k++] = false;
    ids[k] = rp_test_submit(pool, fn_task(fn_exit, NULL)), is_fn[k++] = true;
    CU_ASSERT_EQUAL_FATAL(rp_submit_job(pool, rp_test_sh("exit 0"), 2, &job, shard_ids), RP_OK);
    ids[k] = shard_ids[0], is_fn[k++] = false;
    ids[k] = shard_ids[1], is_fn[k++] = false;
    ids[k] = rp_test_submit(pool, fn_task(fn_exit, (void *)(intptr_t)1)), is_fn[k++] = true;
    ids[k] = rp_test_submit(pool, rp_test_sh("exit 2")), is_fn[k++] = false;
    for (size_t a = 0; a < k; a++)
        rp_result_free(wait_for(pool, ids[a]));

    v = tasks_of(pool, &n);
    CU_ASSERT_EQUAL_FATAL(n, k);
    for (size_t a = 0; a < n; a++) {
        rp_task_info one = info_of(pool, ids[a]);
        CU_ASSERT_EQUAL(v[a].id, ids[a]);
        CU_ASSERT_EQUAL(v[a].function, is_fn[a]);
        CU_ASSERT_TRUE(rp_task_state_is_final(v[a].state));
        /* The same as rp_task_get says of it. */
        CU_ASSERT_EQUAL(v[a].job, one.job);
        CU_ASSERT_EQUAL(v[a].state, one.state);
        CU_ASSERT_EQUAL(v[a].worker, one.worker);
        CU_ASSERT_EQUAL(v[a].ended_ns, one.ended_ns);
        CU_ASSERT_EQUAL(v[a].exit_code, one.exit_code);
        if (a > 0)
            CU_ASSERT(v[a].id > v[a - 1].id);
    }
    CU_ASSERT_EQUAL(v[2].job, job);
    CU_ASSERT_EQUAL(v[3].job, job);
    CU_ASSERT_EQUAL(v[3].shard, 1);
    CU_ASSERT_EQUAL(v[4].exit_code, 1);
    CU_ASSERT_EQUAL(v[5].exit_code, 2);
    free(v);
    rp_pool_shutdown(pool);
}

/* A job of 1000 shards (fewer under sanitizers): every one listed. */
static void
pool_tasks_holds_a_large_job(void)
{
    unsigned shards = 1000 / rp_test_slowdown();
    rp_pool *pool = rp_test_pool(2, 0, 4);
    rp_task_id *ids = calloc(shards, sizeof *ids);
    rp_job_id job = 0;
    rp_job_info ji;
    rp_task_info *v;
    size_t n;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
    CU_ASSERT_EQUAL_FATAL(rp_submit_job(pool, rp_task_new("/bin/true"), shards, &job, ids),
                          RP_OK);
    /* Listed at once, whatever state each is in. */
    v = tasks_of(pool, &n);
    CU_ASSERT_EQUAL(n, shards);
    free(v);
    CU_ASSERT_EQUAL_FATAL(rp_job_wait(pool, job, WAIT_MS, &ji), RP_OK);
    CU_ASSERT_EQUAL(ji.count[RP_TASK_SUCCEEDED], shards);

    v = tasks_of(pool, &n);
    CU_ASSERT_EQUAL_FATAL(n, shards);
    for (unsigned s = 0; s < shards; s++) {
        CU_ASSERT_EQUAL(v[s].id, ids[s]);
        CU_ASSERT_EQUAL(v[s].job, job);
        CU_ASSERT_EQUAL(v[s].shard, s);
        CU_ASSERT_EQUAL(v[s].total_shards, shards);
        CU_ASSERT_EQUAL(v[s].state, RP_TASK_SUCCEEDED);
        CU_ASSERT(v[s].worker >= 0 && v[s].worker < 4);
        if (v[s].id != ids[s] || v[s].state != RP_TASK_SUCCEEDED)
            break;                          /* one failure says enough */
    }
    free(v);
    free(ids);
    rp_pool_shutdown(pool);
}

/* ---- rp_task_describe ---- */

static void
describe_gives_the_description_as_json(void)
{
    rp_pool *pool = rp_test_pool(1, 0, 1);
    static const char *const argv[] = { "/bin/sh", "-c", "exit 0", "arg with space" };
    static const char *const env[] = { "K1=v1", "K2=second" };
    static const char *const none[] = { NULL };
    rp_task_id blocker, id, fid;
    rp_task_info i;
    rp_task *t;
    cJSON *o, *o2;
    char *queued_json = NULL, *final_json = NULL;

    blocker = rp_test_submit(pool, long_task());
    CU_ASSERT_TRUE_FATAL(wait_info(pool, blocker, RP_TASK_RUNNING, 5, &i));

    t = rp_test_sh("exit 0");
    CU_ASSERT_EQUAL(rp_task_add_arg(t, "arg with space"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_env(t, "K1", "v1"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_env(t, "K2", "first"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_env(t, "K2", "second"), RP_OK);   /* the later wins */
    CU_ASSERT_EQUAL(rp_task_set_name(t, "nightly \"report\""), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_priority(t, RP_PRIORITY_CRITICAL), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_backend(t, RP_BACKEND_CPU), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_timeout_ms(t, 4321), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_retries(t, 3), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_cwd(t, "/tmp"), RP_OK);
    id = rp_test_submit(pool, t);

    /* Queued behind the blocker. */
    CU_ASSERT_EQUAL(info_of(pool, id).state, RP_TASK_QUEUED);
    CU_ASSERT_EQUAL(rp_task_describe(pool, id, &queued_json), RP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(queued_json);
    o = describe(pool, id);
    CU_ASSERT_TRUE(json_string_is(o, "kind", "process"));
    CU_ASSERT_TRUE(json_string_is(o, "name", "nightly \"report\""));
    CU_ASSERT_TRUE(json_string_is(o, "priority", "critical"));
    CU_ASSERT_TRUE(json_string_is(o, "backend", "cpu"));
    CU_ASSERT_TRUE(json_string_is(o, "cwd", "/tmp"));
    CU_ASSERT_TRUE(json_strings_are(o, "argv", argv, 4));
    CU_ASSERT_TRUE(json_strings_are(o, "env", env, 2));
    CU_ASSERT_EQUAL(json_number(o, "timeout_ms"), 4321);
    CU_ASSERT_EQUAL(json_number(o, "retries"), 3);
    CU_ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "checkpoint")));
    cJSON_Delete(o);

    cancel_and_wait(pool, blocker);
    rp_result_free(wait_for(pool, id));
    /* Final: the same description. */
    CU_ASSERT_EQUAL(rp_task_describe(pool, id, &final_json), RP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(final_json);
    CU_ASSERT_STRING_EQUAL(final_json, queued_json);
    free(queued_json);
    free(final_json);

    /* Defaults: no name, normal priority, any backend, empty env. */
    o = describe(pool, blocker);
    CU_ASSERT_PTR_NULL(json_string(o, "name"));
    CU_ASSERT_TRUE(json_string_is(o, "priority", "normal"));
    CU_ASSERT_TRUE(json_string_is(o, "backend", "any"));
    CU_ASSERT_TRUE(json_strings_are(o, "env", none, 0));
    cJSON_Delete(o);

    t = fn_task(fn_exit, NULL);
    CU_ASSERT_EQUAL(rp_task_set_name(t, "a function"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_priority(t, RP_PRIORITY_LOW), RP_OK);
    fid = rp_test_submit(pool, t);
    rp_result_free(wait_for(pool, fid));
    o2 = describe(pool, fid);
    CU_ASSERT_TRUE(json_string_is(o2, "kind", "function"));
    CU_ASSERT_TRUE(json_string_is(o2, "name", "a function"));
    CU_ASSERT_TRUE(json_string_is(o2, "priority", "low"));
    CU_ASSERT_PTR_NULL(cJSON_GetObjectItemCaseSensitive(o2, "argv"));
    cJSON_Delete(o2);
    rp_pool_shutdown(pool);
}

/* A task of an earlier pool on the same store is not held in memory, but
 * its description is read from the store. */
static void
describe_reads_the_store_for_an_earlier_pool(void)
{
    char dir[PATH_MAX];
    static const char *const argv[] = { "/bin/sh", "-c", "exit 0" };
    static const char *const env[] = { "FROM=earlier" };
    rp_task_id old, old_shards[2], fresh;
    rp_task_info i, *v;
    rp_pool *pool;
    rp_task *t;
    cJSON *o;
    char *json = (char *)"x";
    size_t n;

    rp_test_tmpdir(dir, sizeof dir, "inspect");
    pool = durable_pool(dir, 2, 2);
    t = rp_test_sh("exit 0");
    CU_ASSERT_EQUAL(rp_task_set_env(t, "FROM", "earlier"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_name(t, "old one"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_priority(t, RP_PRIORITY_HIGH), RP_OK);
    old = rp_test_submit(pool, t);
    t = rp_test_sh("exit 0");
    CU_ASSERT_EQUAL(rp_task_set_name(t, "old job"), RP_OK);
    CU_ASSERT_EQUAL_FATAL(rp_submit_job(pool, t, 2, NULL, old_shards), RP_OK);
    rp_result_free(wait_for(pool, old));
    rp_result_free(wait_for(pool, old_shards[0]));
    rp_result_free(wait_for(pool, old_shards[1]));
    rp_pool_shutdown(pool);

    pool = durable_pool(dir, 2, 2);
    /* Not in memory: rp_task_get does not know it. */
    CU_ASSERT_EQUAL(rp_task_get(pool, old, &i), RP_ERR_NOT_FOUND);

    o = describe(pool, old);
    CU_ASSERT_TRUE(json_string_is(o, "kind", "process"));
    CU_ASSERT_TRUE(json_string_is(o, "name", "old one"));
    CU_ASSERT_TRUE(json_string_is(o, "priority", "high"));
    CU_ASSERT_TRUE(json_strings_are(o, "argv", argv, 3));
    CU_ASSERT_TRUE(json_strings_are(o, "env", env, 1));
    cJSON_Delete(o);
    o = describe(pool, old_shards[1]);
    CU_ASSERT_TRUE(json_string_is(o, "name", "old job"));
    cJSON_Delete(o);

    /* Restored in this pool: a new task of this pool, with the old one as
     * its origin and the old one's description. */
    CU_ASSERT_EQUAL_FATAL(rp_restore(pool, old, &fresh), RP_OK);
    CU_ASSERT(fresh > old_shards[1]);
    rp_result_free(wait_for(pool, fresh));
    i = info_of(pool, fresh);
    CU_ASSERT_EQUAL(i.origin, old);
    CU_ASSERT_EQUAL(i.state, RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(i.priority, RP_PRIORITY_HIGH);
    /* rp_pool_tasks lists only what this pool holds. */
    v = tasks_of(pool, &n);
    CU_ASSERT_EQUAL(n, 1);
    if (n == 1)
        CU_ASSERT_EQUAL(v[0].id, fresh);
    free(v);
    o = describe(pool, fresh);
    CU_ASSERT_TRUE(json_string_is(o, "kind", "process"));
    CU_ASSERT_TRUE(json_string_is(o, "name", "old one"));
    CU_ASSERT_TRUE(json_strings_are(o, "env", env, 1));
    cJSON_Delete(o);
    CU_ASSERT_EQUAL(rp_task_describe(pool, fresh + 1000, &json), RP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NULL(json);
    json = (char *)"x";
    CU_ASSERT_EQUAL(rp_task_describe(pool, 0, &json), RP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NULL(json);
    rp_pool_shutdown(pool);
    rp_test_remove_tree(dir);
}

/* ---- recovered tasks (durable pools) ---- */

/* A task queued when its pool shut down runs in the next pool on the same
 * store, and keeps the time it was submitted: task.h, the store's record
 * put on this process's clock. */
static void
recovered_task_keeps_its_submission_time(void)
{
    char dir[PATH_MAX];
    rp_task_id blocker, q;
    rp_task_info i;
    rp_recovery rec;
    rp_pool *pool;
    uint64_t reopened, submitted;
    const uint64_t slack = 50000000;  /* the store keeps ms of the wall clock */

    rp_test_tmpdir(dir, sizeof dir, "inspect");
    pool = durable_pool(dir, 1, 1);
    blocker = rp_test_submit(pool, long_task());
    CU_ASSERT_TRUE_FATAL(wait_info(pool, blocker, RP_TASK_RUNNING, 5, &i));
    submitted = now_ns();
    q = rp_test_submit(pool, rp_test_sh("exit 0"));
    CU_ASSERT_EQUAL_FATAL(info_of(pool, q).state, RP_TASK_QUEUED);
    rp_pool_shutdown(pool);

    reopened = now_ns();
    pool = durable_pool(dir, 1, 1);
    CU_ASSERT_EQUAL(rp_pool_recovery(pool, &rec), RP_OK);
    CU_ASSERT_EQUAL(rec.queued + rec.interrupted, 2);
    cancel_and_wait(pool, blocker);         /* it runs again: 5 s */
    rp_result_free(wait_for(pool, q));
    /* Both came back and ran: held in memory, with their fields. */
    i = info_of(pool, q);
    CU_ASSERT_EQUAL(i.state, RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(i.origin, q);
    CU_ASSERT(i.started_ns >= reopened);
    CU_ASSERT(i.ended_ns >= i.started_ns);
    /* Recorded by the earlier pool, put on this process's clock: before the
     * reopening, not the time of recovery. */
    CU_ASSERT(i.submitted_ns + slack >= submitted);
    CU_ASSERT(i.submitted_ns <= submitted + slack);
    CU_ASSERT(i.submitted_ns < reopened);
    i = info_of(pool, blocker);
    CU_ASSERT(i.submitted_ns > 0 && i.submitted_ns <= submitted + slack);
    CU_ASSERT(i.attempts >= 1);
    rp_pool_shutdown(pool);
    rp_test_remove_tree(dir);
}

/* A function task left queued at a shutdown cannot be recovered (its code
 * lived in the earlier process): the next pool holds it as FAILED. What
 * the pool says of it must still be its own description -- a function
 * task, its name and priority -- as the store keeps it. */
static void
unrecoverable_function_task_keeps_its_description(void)
{
    char dir[PATH_MAX];
    rp_task_id first, second;
    rp_task_info i;
    rp_recovery rec;
    rp_pool *pool;
    rp_result *r;
    rp_task *t;
    cJSON *o;

    rp_test_tmpdir(dir, sizeof dir, "inspect");
    pool = durable_pool(dir, 1, 1);
    first = rp_test_submit(pool, fn_task(fn_sleep_ms, (void *)(uintptr_t)300));
    t = fn_task(fn_exit, NULL);
    CU_ASSERT_EQUAL(rp_task_set_name(t, "second"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_priority(t, RP_PRIORITY_HIGH), RP_OK);
    second = rp_test_submit(pool, t);
    i = info_of(pool, second);
    CU_ASSERT_EQUAL_FATAL(i.state, RP_TASK_QUEUED);   /* behind `first` */
    CU_ASSERT_TRUE(i.function);
    CU_ASSERT_EQUAL(i.wait, RP_WAIT_SLOT);
    rp_pool_shutdown(pool);                 /* `first` runs to its end */

    pool = durable_pool(dir, 1, 1);
    CU_ASSERT_EQUAL(rp_pool_recovery(pool, &rec), RP_OK);
    CU_ASSERT_EQUAL(rec.unrecoverable, 1);
    r = wait_for(pool, second);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT_NSTRING_EQUAL(rp_result_error(r), "cannot recover:", 15);
    rp_result_free(r);

    /* The one that ended in the earlier pool: described from the store. */
    CU_ASSERT_EQUAL(rp_task_get(pool, first, &i), RP_ERR_NOT_FOUND);
    o = describe(pool, first);
    CU_ASSERT_TRUE(json_string_is(o, "kind", "function"));
    cJSON_Delete(o);

    /* The recovered one is held, FAILED, and still a function task. */
    i = info_of(pool, second);
    CU_ASSERT_EQUAL(i.state, RP_TASK_FAILED);
    CU_ASSERT_EQUAL(i.worker, -1);
    CU_ASSERT_EQUAL(i.attempts, 0);
    CU_ASSERT_TRUE(i.function);
    CU_ASSERT_EQUAL(i.priority, RP_PRIORITY_HIGH);
    o = describe(pool, second);
    CU_ASSERT_TRUE(json_string_is(o, "kind", "function"));
    CU_ASSERT_TRUE(json_string_is(o, "name", "second"));
    CU_ASSERT_TRUE(json_string_is(o, "priority", "high"));
    cJSON_Delete(o);
    rp_pool_shutdown(pool);
    rp_test_remove_tree(dir);
}

/* ---- bad arguments ---- */

static void
bad_arguments_are_errors(void)
{
    rp_pool *pool = rp_test_pool(1, 0, 1);
    rp_task_info i, *tv = NULL;
    rp_worker_info *wv = NULL;
    char *json = NULL;
    size_t n = 0;
    rp_task_id id;

    id = rp_test_submit(pool, rp_test_sh("exit 0"));
    rp_result_free(wait_for(pool, id));

    CU_ASSERT_EQUAL(rp_task_get(NULL, id, &i), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_get(pool, id, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_pool_tasks(NULL, &tv, &n), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_pool_tasks(pool, NULL, &n), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_pool_tasks(pool, &tv, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_describe(NULL, id, &json), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_describe(pool, id, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_pool_workers(NULL, &wv, &n), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_pool_workers(pool, NULL, &n), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_pool_workers(pool, &wv, NULL), RP_ERR_INVALID);
    CU_ASSERT_PTR_NULL(tv);
    CU_ASSERT_PTR_NULL(wv);
    CU_ASSERT_PTR_NULL(json);

    CU_ASSERT_EQUAL(rp_task_get(pool, 0, &i), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_task_get(pool, id + 1, &i), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_task_get(pool, UINT64_MAX, &i), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_task_describe(pool, 0, &json), RP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NULL(json);
    CU_ASSERT_EQUAL(rp_task_describe(pool, id + 1, &json), RP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NULL(json);
    /* The known one still works. */
    CU_ASSERT_EQUAL(rp_task_get(pool, id, &i), RP_OK);
    CU_ASSERT_EQUAL(rp_task_describe(pool, id, &json), RP_OK);
    CU_ASSERT_PTR_NOT_NULL(json);
    free(json);
    rp_pool_shutdown(pool);
}

/* ---- snapshots while tasks come and go ---- */

struct submitter {
    rp_pool *pool;
    unsigned count;
    atomic_uint submitted;
    atomic_uint_fast64_t last_id;
    rp_task_id *ids;
    bool failed;
};

static void *
submit_many(void *arg)
{
    struct submitter *s = arg;

    for (unsigned k = 0; k < s->count; k++) {
        /* Every fourth a process, the rest functions (cheap to start). */
        rp_task *t = k % 4 == 0 ? rp_task_new("/bin/true") : rp_task_new_fn(fn_exit, NULL);
        rp_task_id id = 0;

        if (t == NULL || rp_submit(s->pool, t, &id) != RP_OK) {
            s->failed = true;
            break;
        }
        s->ids[k] = id;
        atomic_store(&s->last_id, id);
        atomic_fetch_add(&s->submitted, 1);
    }
    return NULL;
}

static int
state_rank(rp_task_state s)
{
    return s == RP_TASK_QUEUED ? 0 : s == RP_TASK_RUNNING ? 1 : 2;
}

/* One snapshot of tasks is sorted, without duplicates, each entry valid,
 * and no more running than there are slots, each on its own worker. */
static bool
check_snapshot(const rp_task_info *v, size_t n, size_t nworkers, unsigned procs,
               bool durable, unsigned *per_state, unsigned *committing)
{
    bool ok = true;
    int *owner = calloc(nworkers, sizeof *owner);
    unsigned running_proc = 0, running_fn = 0;

    memset(per_state, 0, RP_TASK_STATE_COUNT * sizeof *per_state);
    if (owner == NULL)
        return false;
    for (size_t a = 0; a < n && ok; a++) {
        const rp_task_info *i = &v[a];
        ok = i->id != 0 && (a == 0 || i->id > v[a - 1].id);
        ok = ok && (unsigned)i->state < RP_TASK_STATE_COUNT;
        if (!ok)
            break;
        per_state[i->state]++;
        ok = (i->wait == RP_WAIT_NONE) == (i->state != RP_TASK_QUEUED);
        ok = ok && (i->wait == RP_WAIT_NONE || i->wait == RP_WAIT_SLOT ||
                    (durable && i->wait == RP_WAIT_COMMIT));
        if (ok && i->wait == RP_WAIT_COMMIT) {
            /* Not yet ready: it cannot have run. */
            ok = i->attempts == 0 && i->started_ns == 0;
            ++*committing;
        }
        ok = ok && (rp_task_state_is_final(i->state) == (i->ended_ns != 0));
        ok = ok && i->worker >= -1 && i->worker < (int)nworkers;
        ok = ok && (i->state != RP_TASK_RUNNING || i->worker >= 0);
        ok = ok && (i->state != RP_TASK_QUEUED || i->worker == -1);
        ok = ok && i->origin == i->id && i->total_shards == 1;
        if (ok && i->worker >= 0)   /* process workers come first */
            ok = (i->worker < (int)procs) == !i->function;
        if (ok && i->state == RP_TASK_RUNNING) {
            ok = owner[i->worker] == 0;         /* one task per worker */
            owner[i->worker] = 1;
            if (i->function)
                running_fn++;
            else
                running_proc++;
        }
    }
    ok = ok && running_proc <= procs && running_fn <= nworkers - procs;
    free(owner);
    return ok;
}

/* One thread submits `count` tasks to pool (2 cpu workers, `procs`
 * process slots, fresh: ids from 1) while this one takes snapshots of
 * tasks and workers and checks each; returns how many tasks it saw being
 * committed. Shuts the pool down. */
static unsigned
snapshots_while_submitting(rp_pool *pool, unsigned procs, unsigned count, bool durable)
{
    struct submitter s;
    pthread_t th;
    unsigned per_state[RP_TASK_STATE_COUNT], snapshots = 0, bad = 0, committing = 0;
    uint8_t *rank;
    size_t prev_n = 0, nworkers = 0;
    double give_up;
    bool done = false;

    memset(&s, 0, sizeof s);
    s.pool = pool;
    s.count = count;
    s.ids = calloc(count, sizeof *s.ids);
    rank = calloc(count + 64, 1);            /* by id: ids start at 1 here */
    CU_ASSERT_PTR_NOT_NULL_FATAL(s.ids);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rank);
    if (pthread_create(&th, NULL, submit_many, &s) != 0) {
        CU_FAIL("pthread_create");
        free(rank);
        free(s.ids);
        rp_pool_shutdown(pool);
        return 0;
    }

    /* Snapshots from the first task on (an empty pool has its own test). */
    give_up = rp_test_now() + bound(8);
    while (atomic_load(&s.submitted) == 0 && !s.failed && rp_test_now() < give_up)
        sched_yield();
    while (!done && rp_test_now() < give_up) {
        rp_task_info *v = NULL, one;
        rp_worker_info *w = NULL;
        size_t n = 0, nw = 0;
        unsigned submitted_before = atomic_load(&s.submitted), submitted_after;
        bool ok;

        CU_ASSERT_EQUAL(rp_pool_tasks(pool, &v, &n), RP_OK);
        CU_ASSERT_EQUAL(rp_pool_workers(pool, &w, &nw), RP_OK);
        submitted_after = atomic_load(&s.submitted);
        nworkers = nw;
        snapshots++;
        ok = check_snapshot(v, n, nw, procs, durable, per_state, &committing);
        /* Nothing is waited for, so nothing is forgotten: it only grows. */
        ok = ok && n >= prev_n && n >= submitted_before && n <= submitted_after + 1;
        prev_n = n;
        /* No task goes back to an earlier state. */
        for (size_t a = 0; ok && a < n; a++) {
            if (v[a].id >= count + 64)
                continue;
            uint8_t r = (uint8_t)(state_rank(v[a].state) + 1);
            ok = r >= rank[v[a].id];
            rank[v[a].id] = r;
        }
        /* Busy workers each run a different task. */
        for (size_t a = 0; ok && a < nw; a++)
            for (size_t b = 0; ok && b < a; b++)
                ok = w[a].task == 0 || w[a].task != w[b].task;
        /* A task of the snapshot, again, alone. */
        if (ok && n > 0) {
            ok = rp_task_get(pool, v[n / 2].id, &one) == RP_OK &&
                 state_rank(one.state) >= state_rank(v[n / 2].state);
        }
        if (!ok && bad++ == 0)
            fprintf(stderr, "\n    inconsistent snapshot %u (%zu tasks)\n", snapshots, n);
        done = atomic_load(&s.submitted) == count && per_state[RP_TASK_SUCCEEDED] == count &&
               n == count;
        free(v);
        free(w);
    }
    pthread_join(th, NULL);
    CU_ASSERT_FALSE(s.failed);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_TRUE(done);
    CU_ASSERT(snapshots > 1);
    CU_ASSERT_EQUAL(nworkers, procs + 2);
    /* The last snapshot: each of them, succeeded. */
    for (unsigned k = 0; k < count; k++) {
        rp_task_info i;
        CU_ASSERT_EQUAL(rp_task_get(pool, s.ids[k], &i), RP_OK);
        CU_ASSERT_EQUAL(i.state, RP_TASK_SUCCEEDED);
        CU_ASSERT_EQUAL(i.function, k % 4 != 0);
        if (i.state != RP_TASK_SUCCEEDED)
            break;
    }
    free(rank);
    free(s.ids);
    rp_pool_shutdown(pool);
    return committing;
}

static void
snapshots_while_another_thread_submits(void)
{
    unsigned count = 200 / (rp_test_slowdown() > 1 ? 2 : 1);

    snapshots_while_submitting(rp_test_pool(2, 0, 2), 2, count, false);
}

/* The same on a durable pool, where a task waits for its submission to be
 * committed (RP_WAIT_COMMIT) before it can run. */
static void
snapshots_of_a_durable_pool_while_another_thread_submits(void)
{
    char dir[PATH_MAX];

    rp_test_tmpdir(dir, sizeof dir, "inspect");
    /* Every rp_submit waits for its commit, so a poller sees some. */
    CU_ASSERT(snapshots_while_submitting(durable_pool(dir, 2, 2), 2, 60, true) > 0);
    rp_test_remove_tree(dir);
}

/* Nothing submitted: no tasks, *out NULL ("NULL when 0"). Last in the
 * suite: an engine that hands qsort() a NULL array here stops the whole
 * run under UBSan, and the other tests should have had their turn. */
static void
pool_tasks_of_an_empty_pool(void)
{
    rp_pool *pool = rp_test_pool(1, 0, 1);
    rp_task_info *v = &not_set;
    rp_worker_info *w;
    size_t n = 12345;

    CU_ASSERT_EQUAL_FATAL(rp_pool_tasks(pool, &v, &n), RP_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_PTR_NULL(v);
    if (v != &not_set)
        free(v);
    /* The workers are there all the same. */
    w = workers_of(pool, &n);
    CU_ASSERT_EQUAL(n, 2);
    free(w);
    rp_pool_shutdown(pool);
}

/* ---- rp_task_peek_output ---- */

/* Polls until the running task's stdout so far is `want`. */
static bool
wait_output(rp_pool *pool, rp_task_id id, const char *want, rp_task_output *o)
{
    double give_up = rp_test_now() + bound(5);

    do {
        CU_ASSERT_EQUAL_FATAL(rp_task_peek_output(pool, id, 1 << 20, o), RP_OK);
        if (strcmp(o->out, want) == 0)
            return true;
        rp_task_output_free(o);
        rp_test_sleep_ms(5);
    } while (rp_test_now() < give_up);
    CU_ASSERT_EQUAL_FATAL(rp_task_peek_output(pool, id, 1 << 20, o), RP_OK);
    return false;
}

/* A running process's output is there before it ends; max keeps the tail;
 * a final task gives its result's; a queued one nothing. */
static void
peek_output_of_running_queued_and_final_tasks(void)
{
    rp_pool *pool = rp_test_pool(2, 0, 1);
    rp_task_output o;
    rp_task_id running, queued;

    running = rp_test_submit(pool, rp_test_sh("printf 'one\\ntwo\\n'; printf 'oops\\n' >&2; exec sleep 5"));
    queued = rp_test_submit(pool, rp_test_sh("echo never"));
    CU_ASSERT_TRUE(wait_output(pool, running, "one\ntwo\n", &o));
    CU_ASSERT_EQUAL(o.out_len, 8);
    CU_ASSERT_EQUAL(o.out_total, 8);
    rp_task_output_free(&o);
    CU_ASSERT_PTR_NULL(o.out);
    /* stderr arrives on its own pipe: poll for it too. */
    double give_up = rp_test_now() + bound(5);
    do {
        CU_ASSERT_EQUAL(rp_task_peek_output(pool, running, 3, &o), RP_OK);
        if (o.err_total == 5)
            break;
        rp_task_output_free(&o);
        rp_test_sleep_ms(5);
    } while (rp_test_now() < give_up);
    /* At most 3 bytes of each: the tail. */
    CU_ASSERT_STRING_EQUAL(o.out, "wo\n");
    CU_ASSERT_EQUAL(o.out_len, 3);
    CU_ASSERT_EQUAL(o.out_total, 8);
    CU_ASSERT_STRING_EQUAL(o.err, "ps\n");
    CU_ASSERT_EQUAL(o.err_total, 5);
    rp_task_output_free(&o);

    CU_ASSERT_EQUAL(rp_task_peek_output(pool, queued, 100, &o), RP_OK);
    CU_ASSERT_STRING_EQUAL(o.out, "");
    CU_ASSERT_EQUAL(o.out_total, 0);
    rp_task_output_free(&o);

    cancel_and_wait(pool, running);
    rp_result_free(wait_for(pool, queued));
    CU_ASSERT_EQUAL(rp_task_peek_output(pool, queued, 100, &o), RP_OK);
    CU_ASSERT_STRING_EQUAL(o.out, "never\n");
    rp_task_output_free(&o);
    CU_ASSERT_EQUAL(rp_task_peek_output(pool, running, 100, &o), RP_OK);
    CU_ASSERT_STRING_EQUAL(o.out, "one\ntwo\n");
    CU_ASSERT_STRING_EQUAL(o.err, "oops\n");
    rp_task_output_free(&o);

    CU_ASSERT_EQUAL(rp_task_peek_output(pool, 999999, 100, &o), RP_ERR_NOT_FOUND);
    CU_ASSERT_STRING_EQUAL(o.out, "");
    rp_task_output_free(&o);
    CU_ASSERT_EQUAL(rp_task_peek_output(NULL, running, 100, &o), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_peek_output(pool, running, 100, NULL), RP_ERR_INVALID);
    rp_task_output_free(NULL);
    rp_pool_shutdown(pool);
}

/* A program printing past its capture limit: the peek sees the ring's
 * tail in order, as the result will. */
static void
peek_output_follows_the_capture_ring(void)
{
    rp_pool *pool = rp_test_pool(2, 0, 2);
    rp_task *t = rp_test_sh("i=0; while [ $i -lt 300 ]; do printf '%%04d\\n' $i; i=$((i+1)); done; "
                          "exec sleep 5");
    rp_task_output o;
    rp_task_id id;

    CU_ASSERT_EQUAL(rp_task_set_capture_limit(t, 100), RP_OK);
    id = rp_test_submit(pool, t);
    double give_up = rp_test_now() + bound(5);
    do {
        CU_ASSERT_EQUAL_FATAL(rp_task_peek_output(pool, id, 1000, &o), RP_OK);
        if (o.out_total == 1500)
            break;
        rp_task_output_free(&o);
        rp_test_sleep_ms(5);
    } while (rp_test_now() < give_up);
    CU_ASSERT_EQUAL(o.out_total, 1500);
    CU_ASSERT_EQUAL(o.out_len, 100);
    CU_ASSERT_EQUAL(strncmp(o.out + 100 - 10, "0298\n0299\n", 10), 0);
    CU_ASSERT_EQUAL(strncmp(o.out, "0280\n", 5), 0);
    rp_task_output_free(&o);
    cancel_and_wait(pool, id);
    rp_pool_shutdown(pool);
}

/* Peeking from another thread while tasks start and end, and while the
 * pool shuts down: no crash, no race (TSan), every answer well formed. */
struct peeker {
    rp_pool *pool;
    rp_task_id first, last;
    _Atomic bool stop;
    unsigned answers;
};

static void *
peek_loop(void *arg)
{
    struct peeker *p = arg;

    while (!atomic_load(&p->stop)) {
        for (rp_task_id id = p->first; id <= p->last; id++) {
            rp_task_output o;
            rp_status st = rp_task_peek_output(p->pool, id, 64, &o);
            if (st == RP_OK && strlen(o.out) == o.out_len)
                p->answers++;
            rp_task_output_free(&o);
        }
    }
    return NULL;
}

static void
peek_output_while_tasks_come_and_go(void)
{
    rp_pool *pool = rp_test_pool(2, 0, 2);
    struct peeker p = { .pool = pool };
    pthread_t th;
    unsigned n = 40 / rp_test_slowdown() + 4;

    for (unsigned i = 0; i < n; i++) {
        rp_task_id id = rp_test_submit(pool, rp_test_sh("echo start %u; sleep 0.0%u; echo end", i, i % 5));
        if (i == 0)
            p.first = id;
        p.last = id;
    }
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, peek_loop, &p), 0);
    for (rp_task_id id = p.first; id <= p.last; id++)
        rp_result_free(wait_for(pool, id));
    atomic_store(&p.stop, true);
    pthread_join(th, NULL);
    CU_ASSERT(p.answers > 0);
    rp_pool_shutdown(pool);
}

static const rp_test_case cases[] = {
    { "peek_output_of_running_queued_and_final_tasks",
      peek_output_of_running_queued_and_final_tasks },
    { "peek_output_follows_the_capture_ring", peek_output_follows_the_capture_ring },
    { "peek_output_while_tasks_come_and_go", peek_output_while_tasks_come_and_go },
    { "get_reports_queued_running_and_final_tasks", get_reports_queued_running_and_final_tasks },
    { "get_reports_exit_codes_and_signals", get_reports_exit_codes_and_signals },
    { "get_reports_a_task_cancelled_before_it_ran", get_reports_a_task_cancelled_before_it_ran },
    { "get_reports_checkpoint_and_origin_of_restored_tasks",
      get_reports_checkpoint_and_origin_of_restored_tasks },
    { "backing_off_task_shows_when_it_is_ready", backing_off_task_shows_when_it_is_ready },
    { "wait_reason_names_are_distinct", wait_reason_names_are_distinct },
    { "workers_are_one_per_slot", workers_are_one_per_slot },
    { "worker_runs_a_task_and_counts_it", worker_runs_a_task_and_counts_it },
    { "busy_time_grows_while_running", busy_time_grows_while_running },
    { "two_processes_run_on_two_workers", two_processes_run_on_two_workers },
    { "function_tasks_run_on_function_workers", function_tasks_run_on_function_workers },
    { "events_name_the_worker", events_name_the_worker },
    { "pool_tasks_lists_every_task_in_id_order", pool_tasks_lists_every_task_in_id_order },
    { "pool_tasks_holds_a_large_job", pool_tasks_holds_a_large_job },
    { "describe_gives_the_description_as_json", describe_gives_the_description_as_json },
    { "describe_reads_the_store_for_an_earlier_pool",
      describe_reads_the_store_for_an_earlier_pool },
    { "recovered_task_keeps_its_submission_time", recovered_task_keeps_its_submission_time },
    { "unrecoverable_function_task_keeps_its_description",
      unrecoverable_function_task_keeps_its_description },
    { "bad_arguments_are_errors", bad_arguments_are_errors },
    { "snapshots_while_another_thread_submits", snapshots_while_another_thread_submits },
    { "snapshots_of_a_durable_pool_while_another_thread_submits",
      snapshots_of_a_durable_pool_while_another_thread_submits },
    { "pool_tasks_of_an_empty_pool", pool_tasks_of_an_empty_pool },
    { NULL, NULL },
};

const rp_test_suite rp_test_suite_inspect = { .name = "inspect", .cases = cases,
                                              .concurrent = true };
