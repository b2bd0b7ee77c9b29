/*
 * test_console.c -- the console's pieces that need no terminal and no
 * engine: the view model (tui/model.h) fed by hand-made events and
 * snapshots, the layout arithmetic (tui/layout.h), the `:` command line's
 * word splitting and ids (tui/command.h), the remembered preferences
 * (tui/prefs.h) in a private directory, and what every source shares
 * (tui/source.h: argv quoting, job descriptions from the store's JSON).
 *
 * Each test goes through the headers only; the model's public fields
 * (rows, counts, rows_dirty, ...) are part of its header. One test is
 * shaped like a load (10,000 tasks in 100 jobs) but asserts only results:
 * speed is measured in bench/, never asserted here.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <repartir.h>

#include "tests/testing.h"
#include "tui/command.h"
#include "tui/layout.h"
#include "tui/model.h"
#include "tui/prefs.h"
#include "tui/source.h"

#define S 1000000000ull             /* ns per second */
#define MS 1000000ull               /* ns per millisecond */

/* ---- building events, snapshots and descriptions by hand ---- */

static uint64_t next_seq;

static rp_event
make_event(rp_task_id task, rp_job_id job, unsigned shard, rp_task_state state, unsigned attempt,
           uint64_t time_ns)
{
    rp_event ev;

    memset(&ev, 0, sizeof ev);
    ev.seq = ++next_seq;
    ev.time_ns = time_ns;
    ev.task = task;
    ev.job = job;
    ev.shard = shard;
    ev.state = state;
    ev.attempt = attempt;
    ev.exit_code = state == RP_TASK_SUCCEEDED ? 0 : rp_task_state_is_final(state) ? 1 : -1;
    ev.signal = 0;
    ev.worker = state == RP_TASK_QUEUED ? -1 : (int)(task % 4);
    return ev;
}

static void
apply(struct rp_model *m, rp_task_id task, rp_job_id job, unsigned shard, rp_task_state state,
      unsigned attempt, uint64_t time_ns)
{
    rp_event ev = make_event(task, job, shard, state, attempt, time_ns);

    rp__model_apply(m, &ev);
}

/* A task that is queued at `at`, then (if state says so) runs from at + 1 s
 * and ends at at + 2 s, in attempt 1. */
static void
apply_life(struct rp_model *m, rp_task_id task, rp_job_id job, unsigned shard,
           rp_task_state state, uint64_t at)
{
    apply(m, task, job, shard, RP_TASK_QUEUED, 0, at);
    if (state == RP_TASK_QUEUED)
        return;
    apply(m, task, job, shard, RP_TASK_RUNNING, 1, at + S);
    if (state != RP_TASK_RUNNING)
        apply(m, task, job, shard, state, 1, at + 2 * S);
}

static rp_task_info
make_info(rp_task_id id, rp_job_id job, unsigned shard, unsigned total, rp_task_state state,
          unsigned attempts)
{
    rp_task_info in;

    memset(&in, 0, sizeof in);
    in.id = id;
    in.job = job;
    in.shard = shard;
    in.total_shards = total;
    in.state = state;
    in.attempts = attempts;
    in.worker = state == RP_TASK_QUEUED ? -1 : 1;
    in.wait = state == RP_TASK_QUEUED ? RP_WAIT_SLOT : RP_WAIT_NONE;
    in.submitted_ns = 10 * S;
    in.started_ns = state == RP_TASK_QUEUED ? 0 : 11 * S;
    in.ended_ns = rp_task_state_is_final(state) ? 12 * S : 0;
    in.exit_code = state == RP_TASK_SUCCEEDED ? 0 : -1;
    return in;
}

/* The index of job id in m->jobs; fails the test when unknown. */
static size_t
job_index(struct rp_model *m, rp_job_id id)
{
    struct rp_model_job *j = rp__model_job(m, id);

    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    return (size_t)(j - m->jobs);
}

static void
describe(struct rp_model *m, rp_job_id id, const char *name, const char *command, unsigned total)
{
    struct rp_console_job_desc d;

    memset(&d, 0, sizeof d);
    d.name = name != NULL ? strdup(name) : NULL;
    d.command = command != NULL ? strdup(command) : NULL;
    d.total = total;
    rp__model_describe(m, job_index(m, id), &d);
    CU_ASSERT_PTR_NULL(d.name);     /* ownership taken */
    CU_ASSERT_PTR_NULL(d.command);
}

/* The job ids of the job rows, in row order, into out (at most max);
 * returns how many job rows there are. */
static size_t
job_row_ids(const struct rp_model *m, rp_job_id *out, size_t max)
{
    size_t n = 0;

    for (size_t r = 0; r < m->nrows; r++)
        if (m->rows[r].task < 0) {
            if (n < max)
                out[n] = m->jobs[m->rows[r].job].id;
            n++;
        }
    return n;
}

static bool
job_rows_are(struct rp_model *m, uint64_t now_ns, const rp_job_id *want, size_t n)
{
    rp_job_id got[64];

    rp__model_rows(m, now_ns);
    if (job_row_ids(m, got, 64) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            return false;
    return true;
}

/* The row of task id, or -1. */
static long
task_row(const struct rp_model *m, rp_task_id id)
{
    for (size_t r = 0; r < m->nrows; r++)
        if (m->rows[r].task >= 0 && m->tasks[m->rows[r].task].id == id)
            return (long)r;
    return -1;
}

/* The job row of job id, or -1. */
static long
job_row(const struct rp_model *m, rp_job_id id)
{
    for (size_t r = 0; r < m->nrows; r++)
        if (m->rows[r].task < 0 && m->jobs[m->rows[r].job].id == id)
            return (long)r;
    return -1;
}

/* ---- model: records and states ---- */

static void
events_add_tasks_and_jobs_found_by_id(void)
{
    struct rp_model m;

    rp__model_init(&m, 0);
    /* Job 5: tasks 10..13 (shards 0..3), heard of out of order; job 6: task 14. */
    apply(&m, 12, 5, 2, RP_TASK_QUEUED, 0, S);
    apply(&m, 10, 5, 0, RP_TASK_QUEUED, 0, S);
    apply(&m, 14, 6, 0, RP_TASK_QUEUED, 0, S);
    apply(&m, 13, 5, 3, RP_TASK_QUEUED, 0, S);
    apply(&m, 11, 5, 1, RP_TASK_QUEUED, 0, S);

    CU_ASSERT_EQUAL(m.ntasks, 5);
    CU_ASSERT_EQUAL(m.njobs, 2);
    CU_ASSERT_EQUAL(m.events, 5);
    for (rp_task_id id = 10; id <= 14; id++) {
        struct rp_model_task *t = rp__model_task(&m, id);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT_EQUAL(t->id, id);
        CU_ASSERT_EQUAL(t->state, RP_TASK_QUEUED);
        CU_ASSERT_EQUAL(t->wait, RP_WAIT_SLOT);
        CU_ASSERT_EQUAL(m.jobs[t->job].id, id == 14 ? 6u : 5u);
    }
    CU_ASSERT_PTR_NULL(rp__model_task(&m, 9));
    CU_ASSERT_PTR_NULL(rp__model_task(&m, 15));
    CU_ASSERT_PTR_NULL(rp__model_job(&m, 4));
    CU_ASSERT_PTR_NULL(rp__model_job(&m, 7));

    struct rp_model_job *j = rp__model_job(&m, 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(j->seen, 4);
    CU_ASSERT_EQUAL(j->count[RP_TASK_QUEUED], 4);
    CU_ASSERT_EQUAL(j->first_task, 10);
    CU_ASSERT_STRING_EQUAL(j->label, "job 5");
    CU_ASSERT_FALSE(j->described);
    for (unsigned s = 0; s < 4; s++) {
        struct rp_model_task *t = rp__model_job_task(&m, j, s);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT_EQUAL(t->id, 10 + s);
        CU_ASSERT_EQUAL(t->shard, s);
    }
    CU_ASSERT_EQUAL(rp__model_job_state(j), RP_TASK_QUEUED);
    CU_ASSERT_EQUAL(j->worker, -1);
    for (rp_task_id id = 10; id <= 14; id++)
        CU_ASSERT_EQUAL(rp__model_task(&m, id)->worker, -1);

    /* The job shows the worker of its last started task. */
    apply(&m, 10, 5, 0, RP_TASK_RUNNING, 1, 2 * S);    /* worker 10 % 4 = 2 */
    CU_ASSERT_EQUAL(rp__model_task(&m, 10)->worker, 2);
    CU_ASSERT_EQUAL(j->worker, 2);
    apply(&m, 13, 5, 3, RP_TASK_RUNNING, 1, 3 * S);    /* worker 1 */
    CU_ASSERT_EQUAL(j->worker, 1);
    apply(&m, 10, 5, 0, RP_TASK_SUCCEEDED, 1, 4 * S);
    CU_ASSERT_EQUAL(j->worker, 1);
    CU_ASSERT_EQUAL(rp__model_task(&m, 10)->worker, 2);
    CU_ASSERT_EQUAL(rp__model_job_state(j), RP_TASK_RUNNING);
    rp__model_free(&m);
}

/* The state of a fresh job of n tasks whose tasks end up in states[]. */
static rp_task_state
rollup_of(const rp_task_state *states, unsigned n)
{
    struct rp_model m;
    rp_task_state s;

    rp__model_init(&m, 0);
    for (unsigned i = 0; i < n; i++)
        apply_life(&m, 100 + i, 1, i, states[i], S);
    s = rp__model_job_state(rp__model_job(&m, 1));
    rp__model_free(&m);
    return s;
}

static void
job_state_rolls_up_like_rp_job_info(void)
{
    const rp_task_state Q = RP_TASK_QUEUED, R = RP_TASK_RUNNING, OK = RP_TASK_SUCCEEDED,
                        F = RP_TASK_FAILED, C = RP_TASK_CANCELLED, T = RP_TASK_TIMED_OUT;
    struct {
        rp_task_state tasks[4];
        rp_task_state want;
    } cases[] = {
        { { Q, Q, Q, Q }, Q },
        { { Q, R, Q, Q }, R },
        { { OK, Q, Q, Q }, R },       /* not all queued, not all final */
        { { OK, F, Q, OK }, R },
        { { OK, OK, OK, R }, R },
        { { OK, OK, OK, OK }, OK },
        { { OK, F, T, C }, C },       /* cancelled beats timed out and failed */
        { { C, OK, OK, OK }, C },
        { { F, T, OK, F }, T },       /* timed out beats failed */
        { { F, OK, OK, OK }, F },
        { { F, F, F, F }, F },
        { { T, T, T, T }, T },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rp_task_state got = rollup_of(cases[i].tasks, 4);
        if (got != cases[i].want)
            fprintf(stderr, "\n  case %zu: rolled up to %s, want %s\n", i,
                    rp_task_state_name(got), rp_task_state_name(cases[i].want));
        CU_ASSERT_EQUAL(got, cases[i].want);
    }
}

static void
stale_events_do_not_change_the_model(void)
{
    struct rp_model m;
    struct rp_model_task *t;
    struct rp_model_job *j;

    rp__model_init(&m, 0);
    apply(&m, 1, 1, 0, RP_TASK_QUEUED, 0, 1 * S);
    apply(&m, 1, 1, 0, RP_TASK_RUNNING, 1, 2 * S);
    rp__model_rows(&m, 3 * S);
    CU_ASSERT_FALSE(m.rows_dirty);

    /* QUEUED attempt 0 after RUNNING attempt 1: older, ignored. */
    apply(&m, 1, 1, 0, RP_TASK_QUEUED, 0, 1 * S);
    t = rp__model_task(&m, 1);
    j = rp__model_job(&m, 1);
    CU_ASSERT_EQUAL(t->state, RP_TASK_RUNNING);
    CU_ASSERT_EQUAL(t->attempts, 1);
    CU_ASSERT_EQUAL(t->started_ns, 2 * S);
    CU_ASSERT_EQUAL(j->count[RP_TASK_RUNNING], 1);
    CU_ASSERT_EQUAL(j->count[RP_TASK_QUEUED], 0);
    CU_ASSERT_FALSE(m.rows_dirty);

    apply(&m, 1, 1, 0, RP_TASK_SUCCEEDED, 1, 4 * S);
    CU_ASSERT_EQUAL(t->state, RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(t->ended_ns, 4 * S);
    rp__model_rows(&m, 5 * S);

    /* Anything after a final state is older: a RUNNING, a retry's QUEUED,
     * another final state. */
    apply(&m, 1, 1, 0, RP_TASK_RUNNING, 1, 3 * S);
    apply(&m, 1, 1, 0, RP_TASK_RUNNING, 2, 5 * S);
    apply(&m, 1, 1, 0, RP_TASK_QUEUED, 1, 5 * S);
    apply(&m, 1, 1, 0, RP_TASK_FAILED, 1, 6 * S);
    CU_ASSERT_EQUAL(t->state, RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(t->attempts, 1);
    CU_ASSERT_EQUAL(t->ended_ns, 4 * S);
    CU_ASSERT_EQUAL(t->started_ns, 2 * S);
    CU_ASSERT_EQUAL(t->exit_code, 0);
    CU_ASSERT_EQUAL(j->count[RP_TASK_SUCCEEDED], 1);
    CU_ASSERT_EQUAL(j->count[RP_TASK_RUNNING] + j->count[RP_TASK_QUEUED] +
                        j->count[RP_TASK_FAILED], 0);
    CU_ASSERT_EQUAL(rp__model_job_state(j), RP_TASK_SUCCEEDED);
    CU_ASSERT_FALSE(m.rows_dirty);
    /* Only the one real finish was counted. */
    uint32_t h[RP_MODEL_HISTORY];
    uint64_t sum = 0;
    rp__model_history(&m, 10 * S, h, RP_MODEL_HISTORY);
    for (size_t i = 0; i < RP_MODEL_HISTORY; i++)
        sum += h[i];
    CU_ASSERT_EQUAL(sum, 1);
    CU_ASSERT_EQUAL(h[RP_MODEL_HISTORY - 1 - 5], 1);   /* second 4 */
    rp__model_free(&m);
}

static void
retry_sequence_applies_in_full(void)
{
    struct rp_model m;
    struct rp_model_task *t;
    struct rp_model_job *j;

    rp__model_init(&m, 0);
    apply(&m, 7, 3, 0, RP_TASK_QUEUED, 0, 1 * S);
    t = rp__model_task(&m, 7);
    j = rp__model_job(&m, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(t->state, RP_TASK_QUEUED);
    CU_ASSERT_EQUAL(t->wait, RP_WAIT_SLOT);

    apply(&m, 7, 3, 0, RP_TASK_RUNNING, 1, 2 * S);
    CU_ASSERT_EQUAL(t->state, RP_TASK_RUNNING);
    CU_ASSERT_EQUAL(t->attempts, 1);
    CU_ASSERT_EQUAL(t->started_ns, 2 * S);
    CU_ASSERT_EQUAL(t->wait, RP_WAIT_NONE);
    CU_ASSERT_EQUAL(t->worker, 3);

    apply(&m, 7, 3, 0, RP_TASK_QUEUED, 1, 3 * S);      /* failed, backing off */
    CU_ASSERT_EQUAL(t->state, RP_TASK_QUEUED);
    CU_ASSERT_EQUAL(t->attempts, 1);
    CU_ASSERT_EQUAL(t->wait, RP_WAIT_BACKOFF);
    CU_ASSERT_EQUAL(t->worker, 3);                     /* the last attempt's, kept */
    CU_ASSERT_EQUAL(rp__model_job_state(j), RP_TASK_QUEUED);

    apply(&m, 7, 3, 0, RP_TASK_RUNNING, 2, 5 * S);
    CU_ASSERT_EQUAL(t->state, RP_TASK_RUNNING);
    CU_ASSERT_EQUAL(t->attempts, 2);
    CU_ASSERT_EQUAL(t->started_ns, 5 * S);
    CU_ASSERT_EQUAL(rp__model_task_elapsed(t, 6 * S), 1 * S);
    CU_ASSERT_EQUAL(rp__model_job_elapsed(j, 6 * S), 4 * S);   /* from the first start */

    apply(&m, 7, 3, 0, RP_TASK_SUCCEEDED, 2, 8 * S);
    CU_ASSERT_EQUAL(t->state, RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(t->attempts, 2);
    CU_ASSERT_EQUAL(t->ended_ns, 8 * S);
    CU_ASSERT_EQUAL(t->exit_code, 0);
    CU_ASSERT_EQUAL(t->submitted_ns, 1 * S);
    CU_ASSERT_EQUAL(rp__model_task_elapsed(t, 100 * S), 3 * S);
    CU_ASSERT_EQUAL(j->attempts, 2);
    CU_ASSERT_EQUAL(j->count[RP_TASK_SUCCEEDED], 1);
    CU_ASSERT_EQUAL(j->count[RP_TASK_QUEUED] + j->count[RP_TASK_RUNNING], 0);
    CU_ASSERT_EQUAL(rp__model_job_state(j), RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(m.events, 5);
    rp__model_free(&m);
}

static void
events_older_than_a_snapshot_are_ignored(void)
{
    struct rp_model m;
    rp_task_info tasks[2] = {
        make_info(1, 1, 0, 2, RP_TASK_RUNNING, 2),
        make_info(2, 1, 1, 2, RP_TASK_QUEUED, 1),   /* backing off after attempt 1 */
    };
    struct rp_console_snapshot snap = { .tasks = tasks, .ntasks = 2 };
    struct rp_model_task *t1, *t2;

    tasks[1].wait = RP_WAIT_BACKOFF;
    rp__model_init(&m, 0);
    rp__model_load(&m, &snap, 20 * S);
    t1 = rp__model_task(&m, 1);
    t2 = rp__model_task(&m, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t2);
    CU_ASSERT_EQUAL(t1->state, RP_TASK_RUNNING);
    CU_ASSERT_EQUAL(t2->wait, RP_WAIT_BACKOFF);

    /* The stream overlaps the snapshot: these were before it. */
    apply(&m, 1, 1, 0, RP_TASK_QUEUED, 0, 9 * S);
    apply(&m, 1, 1, 0, RP_TASK_RUNNING, 1, 9 * S);
    apply(&m, 1, 1, 0, RP_TASK_QUEUED, 1, 10 * S);
    apply(&m, 2, 1, 1, RP_TASK_QUEUED, 0, 9 * S);
    apply(&m, 2, 1, 1, RP_TASK_RUNNING, 1, 10 * S);
    CU_ASSERT_EQUAL(t1->state, RP_TASK_RUNNING);
    CU_ASSERT_EQUAL(t1->attempts, 2);
    CU_ASSERT_EQUAL(t1->started_ns, 11 * S);
    CU_ASSERT_EQUAL(t2->state, RP_TASK_QUEUED);
    CU_ASSERT_EQUAL(t2->attempts, 1);
    CU_ASSERT_EQUAL(t2->wait, RP_WAIT_BACKOFF);

    /* And the ones after it apply. */
    apply(&m, 1, 1, 0, RP_TASK_SUCCEEDED, 2, 21 * S);
    apply(&m, 2, 1, 1, RP_TASK_RUNNING, 2, 21 * S);
    CU_ASSERT_EQUAL(t1->state, RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(t2->state, RP_TASK_RUNNING);
    CU_ASSERT_EQUAL(t2->attempts, 2);
    CU_ASSERT_EQUAL(rp__model_job(&m, 1)->count[RP_TASK_SUCCEEDED], 1);
    CU_ASSERT_EQUAL(rp__model_job(&m, 1)->count[RP_TASK_RUNNING], 1);
    rp__model_free(&m);
}

/* ---- model: filter, sort, rows ---- */

static void
filter_matches_id_label_command_and_state_in_any_case(void)
{
    struct rp_model m;
    const uint64_t now = 100 * S;

    rp__model_init(&m, 0);
    apply_life(&m, 1, 7, 0, RP_TASK_QUEUED, S);
    apply_life(&m, 2, 42, 0, RP_TASK_RUNNING, S);
    apply_life(&m, 3, 13, 0, RP_TASK_FAILED, S);
    describe(&m, 7, "Train-ResNet", "/usr/bin/python train.py", 1);
    describe(&m, 42, NULL, "/bin/echo hello", 1);
    CU_ASSERT_STRING_EQUAL(rp__model_job(&m, 7)->label, "Train-ResNet");
    CU_ASSERT_STRING_EQUAL(rp__model_job(&m, 42)->label, "/bin/echo hello");
    CU_ASSERT_STRING_EQUAL(rp__model_job(&m, 13)->label, "job 13");

    static const struct {
        const char *filter;
        rp_job_id want[3];          /* newest first, 0-terminated */
    } cases[] = {
        { "", { 42, 13, 7 } },
        { "resnet", { 7 } },        /* the name */
        { "TRAIN", { 7 } },
        { "PyThOn", { 7 } },        /* the command when there is a name */
        { "ECHO", { 42 } },         /* the command as the label */
        { "42", { 42 } },           /* the id */
        { "1", { 13 } },            /* id 13 ("job 13" too) */
        { "JOB", { 13 } },
        { "FAILED", { 13 } },       /* the state */
        { "running", { 42 } },
        { "Queue", { 7 } },
        { "no such thing", { 0 } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 0;
        while (n < 3 && cases[i].want[n] != 0)
            n++;
        rp__model_set_filter(&m, cases[i].filter);
        CU_ASSERT_TRUE(m.rows_dirty);
        bool ok = job_rows_are(&m, now, cases[i].want, n);
        if (!ok)
            fprintf(stderr, "\n  filter \"%s\": %zu rows\n", cases[i].filter, m.nrows);
        CU_ASSERT_TRUE(ok);
    }
    /* The state filter follows the state. */
    rp__model_set_filter(&m, "succeeded");
    CU_ASSERT_TRUE(job_rows_are(&m, now, NULL, 0));
    apply(&m, 2, 42, 0, RP_TASK_SUCCEEDED, 1, 50 * S);
    CU_ASSERT_TRUE(m.rows_dirty);
    CU_ASSERT_TRUE(job_rows_are(&m, now, (rp_job_id[]){ 42 }, 1));
    /* A filter longer than the model keeps is cut, not overrun. */
    char big[RP_MODEL_FILTER_MAX * 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    rp__model_set_filter(&m, big);
    CU_ASSERT_EQUAL(strlen(m.filter), RP_MODEL_FILTER_MAX - 1);
    rp__model_set_filter(&m, NULL);
    CU_ASSERT_STRING_EQUAL(m.filter, "");
    CU_ASSERT_TRUE(job_rows_are(&m, now, (rp_job_id[]){ 42, 13, 7 }, 3));
    rp__model_free(&m);
}

static void
sort_names_round_trip(void)
{
    static const char *const names[RP_SORT_COUNT] = {
        [RP_SORT_NEWEST] = "newest",  [RP_SORT_OLDEST] = "oldest", [RP_SORT_STATE] = "state",
        [RP_SORT_NAME] = "name",      [RP_SORT_ELAPSED] = "elapsed",
        [RP_SORT_PROGRESS] = "progress",
    };

    for (int s = 0; s < RP_SORT_COUNT; s++) {
        CU_ASSERT_STRING_EQUAL(rp__model_sort_name((enum rp_model_sort)s), names[s]);
        CU_ASSERT_EQUAL(rp__model_sort_parse(names[s]), (enum rp_model_sort)s);
    }
    CU_ASSERT_EQUAL(rp__model_sort_parse("bogus"), RP_SORT_COUNT);
    CU_ASSERT_EQUAL(rp__model_sort_parse("Newest"), RP_SORT_COUNT);
    CU_ASSERT_EQUAL(rp__model_sort_parse(""), RP_SORT_COUNT);
    CU_ASSERT_EQUAL(rp__model_sort_parse(NULL), RP_SORT_COUNT);
    CU_ASSERT_STRING_EQUAL(rp__model_sort_name(RP_SORT_COUNT), "newest");

    /* An unknown sort leaves the current one. */
    struct rp_model m;
    rp__model_init(&m, 0);
    CU_ASSERT_EQUAL(m.sort, RP_SORT_NEWEST);
    rp__model_set_sort(&m, RP_SORT_NAME);
    CU_ASSERT_EQUAL(m.sort, RP_SORT_NAME);
    rp__model_set_sort(&m, RP_SORT_COUNT);
    CU_ASSERT_EQUAL(m.sort, RP_SORT_NAME);
    rp__model_free(&m);
}

static void
each_sort_orders_the_jobs(void)
{
    struct rp_model m;
    const uint64_t now = 100 * S;

    rp__model_init(&m, 0);
    /* job 1 "delta": both succeeded, ran 10 s..20 s. */
    apply(&m, 1, 1, 0, RP_TASK_QUEUED, 0, 5 * S);
    apply(&m, 2, 1, 1, RP_TASK_QUEUED, 0, 5 * S);
    apply(&m, 1, 1, 0, RP_TASK_RUNNING, 1, 10 * S);
    apply(&m, 2, 1, 1, RP_TASK_RUNNING, 1, 10 * S);
    apply(&m, 1, 1, 0, RP_TASK_SUCCEEDED, 1, 15 * S);
    apply(&m, 2, 1, 1, RP_TASK_SUCCEEDED, 1, 20 * S);
    /* job 2 "alpha": one running since 50 s, one queued. */
    apply(&m, 3, 2, 0, RP_TASK_QUEUED, 0, 6 * S);
    apply(&m, 4, 2, 1, RP_TASK_QUEUED, 0, 6 * S);
    apply(&m, 3, 2, 0, RP_TASK_RUNNING, 1, 50 * S);
    /* job 3 "charlie": both queued. */
    apply(&m, 5, 3, 0, RP_TASK_QUEUED, 0, 7 * S);
    apply(&m, 6, 3, 1, RP_TASK_QUEUED, 0, 7 * S);
    /* job 4 "bravo": one failed, one succeeded: ran 30 s..90 s. */
    apply(&m, 7, 4, 0, RP_TASK_QUEUED, 0, 8 * S);
    apply(&m, 8, 4, 1, RP_TASK_QUEUED, 0, 8 * S);
    apply(&m, 7, 4, 0, RP_TASK_RUNNING, 1, 30 * S);
    apply(&m, 8, 4, 1, RP_TASK_RUNNING, 1, 30 * S);
    apply(&m, 7, 4, 0, RP_TASK_FAILED, 1, 35 * S);
    apply(&m, 8, 4, 1, RP_TASK_SUCCEEDED, 1, 90 * S);
    /* job 5 "echo": one succeeded, one running since 60 s. */
    apply(&m, 9, 5, 0, RP_TASK_QUEUED, 0, 9 * S);
    apply(&m, 10, 5, 1, RP_TASK_QUEUED, 0, 9 * S);
    apply(&m, 9, 5, 0, RP_TASK_RUNNING, 1, 60 * S);
    apply(&m, 10, 5, 1, RP_TASK_RUNNING, 1, 60 * S);
    apply(&m, 9, 5, 0, RP_TASK_SUCCEEDED, 1, 70 * S);
    describe(&m, 1, "delta", "/bin/true", 2);
    describe(&m, 2, "alpha", "/bin/true", 2);
    describe(&m, 3, "charlie", "/bin/true", 2);
    describe(&m, 4, "bravo", "/bin/true", 2);
    describe(&m, 5, "echo", "/bin/true", 2);

    CU_ASSERT_EQUAL(rp__model_job_elapsed(rp__model_job(&m, 1), now), 10 * S);
    CU_ASSERT_EQUAL(rp__model_job_elapsed(rp__model_job(&m, 2), now), 50 * S);
    CU_ASSERT_EQUAL(rp__model_job_elapsed(rp__model_job(&m, 3), now), 0);
    CU_ASSERT_EQUAL(rp__model_job_elapsed(rp__model_job(&m, 4), now), 60 * S);
    CU_ASSERT_EQUAL(rp__model_job_elapsed(rp__model_job(&m, 5), now), 40 * S);

    static const rp_job_id want[RP_SORT_COUNT][5] = {
        [RP_SORT_NEWEST] = { 5, 4, 3, 2, 1 },
        [RP_SORT_OLDEST] = { 1, 2, 3, 4, 5 },
        [RP_SORT_STATE] = { 5, 2, 3, 4, 1 },      /* running, queued, failed, succeeded */
        [RP_SORT_NAME] = { 2, 4, 3, 1, 5 },       /* alpha bravo charlie delta echo */
        [RP_SORT_ELAPSED] = { 4, 2, 5, 1, 3 },    /* 60 50 40 10 0 s */
        [RP_SORT_PROGRESS] = { 3, 2, 5, 4, 1 },   /* 0 0 .5 1 1 (ties: newest first) */
    };
    for (int s = 0; s < RP_SORT_COUNT; s++) {
        rp__model_set_sort(&m, (enum rp_model_sort)s);
        CU_ASSERT_TRUE(m.rows_dirty);
        bool ok = job_rows_are(&m, now, want[s], 5);
        if (!ok)
            fprintf(stderr, "\n  sort %s: wrong order\n", rp__model_sort_name((enum rp_model_sort)s));
        CU_ASSERT_TRUE(ok);
        CU_ASSERT_EQUAL(m.nrows, 5);
    }
    rp__model_free(&m);
}

static void
rows_are_rebuilt_only_when_dirty(void)
{
    struct rp_model m;

    rp__model_init(&m, 0);
    CU_ASSERT_TRUE(m.rows_dirty);
    apply(&m, 1, 1, 0, RP_TASK_QUEUED, 0, S);          /* a new task */
    CU_ASSERT_TRUE(m.rows_dirty);
    rp__model_rows(&m, S);
    CU_ASSERT_FALSE(m.rows_dirty);
    CU_ASSERT_EQUAL(m.nrows, 1);

    /* Not dirty: the rows are left as they are (a mark put in them stays). */
    m.rows[0].task = 12345;
    rp__model_rows(&m, 2 * S);
    CU_ASSERT_EQUAL(m.rows[0].task, 12345);
    /* Each of these makes them dirty; the rebuild replaces the mark. */
    rp__model_set_sort(&m, RP_SORT_OLDEST);
    CU_ASSERT_TRUE(m.rows_dirty);
    rp__model_rows(&m, 2 * S);
    CU_ASSERT_EQUAL(m.rows[0].task, -1);

    /* A state change moves no row when neither the sort nor a filter looks
     * at states ... */
    apply(&m, 1, 1, 0, RP_TASK_RUNNING, 1, 2 * S);
    CU_ASSERT_FALSE(m.rows_dirty);
    /* ... and does when the sort does. */
    rp__model_set_sort(&m, RP_SORT_STATE);
    rp__model_rows(&m, 2 * S);
    apply(&m, 1, 1, 0, RP_TASK_QUEUED, 1, 2 * S);      /* back to the queue */
    CU_ASSERT_TRUE(m.rows_dirty);
    rp__model_rows(&m, 2 * S);
    apply(&m, 1, 1, 0, RP_TASK_RUNNING, 2, 2 * S);     /* a state change */
    CU_ASSERT_TRUE(m.rows_dirty);
    rp__model_rows(&m, 2 * S);
    apply(&m, 1, 1, 0, RP_TASK_RUNNING, 2, 2 * S);     /* the same state again */
    CU_ASSERT_FALSE(m.rows_dirty);
    rp__model_set_filter(&m, "job");
    CU_ASSERT_TRUE(m.rows_dirty);
    rp__model_rows(&m, 2 * S);
    rp__model_expand(&m, 0, true);
    CU_ASSERT_TRUE(m.rows_dirty);
    rp__model_rows(&m, 2 * S);
    CU_ASSERT_EQUAL(m.nrows, 2);
    rp__model_expand(&m, 0, true);                      /* already expanded */
    CU_ASSERT_FALSE(m.rows_dirty);
    rp__model_expand(&m, 99, true);                     /* no such job */
    CU_ASSERT_FALSE(m.rows_dirty);
    describe(&m, 1, "x", "/bin/x", 1);
    CU_ASSERT_TRUE(m.rows_dirty);
    rp__model_rows(&m, 2 * S);
    CU_ASSERT_EQUAL(m.nrows, 0);                        /* "x" does not match "job" */
    rp__model_free(&m);
}

/* What a child process exits with when the rows of an empty model are right. */
static int
empty_rows_child(void)
{
    struct rp_model m;
    int bad = 0;

    /* Nothing at all yet (the console's first frame before any job). */
    rp__model_init(&m, 0);
    rp__model_rows(&m, S);
    bad += m.nrows != 0 || m.rows_dirty;
    rp__model_free(&m);
    /* Jobs, none of them matching, rows never built before. */
    rp__model_init(&m, 0);
    apply(&m, 1, 1, 0, RP_TASK_QUEUED, 0, S);
    rp__model_set_filter(&m, "no such job");
    rp__model_rows(&m, S);
    bad += m.nrows != 0;
    rp__model_free(&m);
    /* An empty snapshot. */
    struct rp_console_snapshot snap = { .ntasks = 0 };
    rp__model_init(&m, 0);
    rp__model_load(&m, &snap, S);
    rp__model_rows(&m, S);
    bad += m.nrows != 0 || m.njobs != 0;
    rp__model_free(&m);
    return bad == 0 ? 0 : 1;
}

/* In a child process: undefined behaviour there (a sanitizer aborts on
 * it) fails this test instead of ending the whole run. */
static void
rows_of_an_empty_model_are_empty(void)
{
    pid_t pid;
    int status = 0;

    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0)
        _exit(empty_rows_child());
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "\n  child: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    CU_ASSERT_TRUE(WIFEXITED(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
}

static void
expanded_job_lists_its_tasks_by_shard_after_its_row(void)
{
    struct rp_model m;
    const unsigned order[5] = { 3, 0, 4, 1, 2 };

    rp__model_init(&m, 0);
    apply(&m, 1, 1, 0, RP_TASK_QUEUED, 0, S);          /* job 1: task 1 */
    for (unsigned i = 0; i < 5; i++)                   /* job 2: tasks 2..6, shuffled */
        apply(&m, 2 + order[i], 2, order[i], RP_TASK_QUEUED, 0, S);
    apply(&m, 7, 3, 0, RP_TASK_QUEUED, 0, S);          /* job 3: task 7 */
    apply(&m, 4, 2, 2, RP_TASK_RUNNING, 1, 2 * S);

    rp__model_rows(&m, 3 * S);
    CU_ASSERT_EQUAL(m.nrows, 3);
    rp__model_expand(&m, job_index(&m, 2), true);
    rp__model_rows(&m, 3 * S);
    CU_ASSERT_EQUAL_FATAL(m.nrows, 8);
    /* newest first: job 3, job 2 and its shards 0..4, job 1 */
    CU_ASSERT_EQUAL(m.jobs[m.rows[0].job].id, 3);
    CU_ASSERT_EQUAL(m.rows[0].task, -1);
    CU_ASSERT_EQUAL(m.jobs[m.rows[1].job].id, 2);
    CU_ASSERT_EQUAL(m.rows[1].task, -1);
    for (unsigned s = 0; s < 5; s++) {
        const struct rp_model_row *r = &m.rows[2 + s];
        CU_ASSERT_EQUAL(m.jobs[r->job].id, 2);
        CU_ASSERT_FATAL(r->task >= 0);
        CU_ASSERT_EQUAL(m.tasks[r->task].shard, s);
        CU_ASSERT_EQUAL(m.tasks[r->task].id, 2 + s);
    }
    CU_ASSERT_EQUAL(m.jobs[m.rows[7].job].id, 1);
    CU_ASSERT_EQUAL(m.rows[7].task, -1);

    /* The tasks follow their job when the sort moves it. */
    rp__model_set_sort(&m, RP_SORT_STATE);              /* job 2 runs: first */
    rp__model_rows(&m, 3 * S);
    CU_ASSERT_EQUAL_FATAL(m.nrows, 8);
    CU_ASSERT_EQUAL(m.jobs[m.rows[0].job].id, 2);
    CU_ASSERT_EQUAL(m.rows[0].task, -1);
    CU_ASSERT_EQUAL(task_row(&m, 2), 1);
    CU_ASSERT_EQUAL(task_row(&m, 6), 5);
    CU_ASSERT_EQUAL(job_row(&m, 3), 6);
    CU_ASSERT_EQUAL(job_row(&m, 1), 7);

    /* Filtered out, an expanded job shows nothing; collapsed, only its row. */
    rp__model_set_filter(&m, "job 3");
    rp__model_rows(&m, 3 * S);
    CU_ASSERT_EQUAL(m.nrows, 1);
    rp__model_set_filter(&m, "");
    rp__model_expand(&m, job_index(&m, 2), false);
    rp__model_rows(&m, 3 * S);
    CU_ASSERT_EQUAL(m.nrows, 3);
    CU_ASSERT_EQUAL(task_row(&m, 4), -1);
    rp__model_free(&m);
}

static void
tags_toggle_count_and_clear(void)
{
    struct rp_model m;
    long r;

    rp__model_init(&m, 0);
    apply(&m, 1, 1, 0, RP_TASK_QUEUED, 0, S);
    apply(&m, 2, 1, 1, RP_TASK_QUEUED, 0, S);
    apply(&m, 3, 2, 0, RP_TASK_QUEUED, 0, S);
    rp__model_expand(&m, job_index(&m, 1), true);
    rp__model_rows(&m, S);
    CU_ASSERT_EQUAL_FATAL(m.nrows, 4);
    CU_ASSERT_EQUAL(m.ntagged, 0);

    r = job_row(&m, 2);
    CU_ASSERT_FATAL(r >= 0);
    CU_ASSERT_TRUE(rp__model_toggle_tag(&m, &m.rows[r]));
    CU_ASSERT_TRUE(rp__model_job(&m, 2)->tagged);
    CU_ASSERT_FALSE(rp__model_task(&m, 3)->tagged);    /* the job's tag stands for it */
    CU_ASSERT_EQUAL(m.ntagged, 1);
    r = task_row(&m, 2);
    CU_ASSERT_FATAL(r >= 0);
    CU_ASSERT_TRUE(rp__model_toggle_tag(&m, &m.rows[r]));
    CU_ASSERT_TRUE(rp__model_task(&m, 2)->tagged);
    CU_ASSERT_FALSE(rp__model_job(&m, 1)->tagged);
    CU_ASSERT_EQUAL(m.ntagged, 2);
    r = task_row(&m, 1);
    CU_ASSERT_TRUE(rp__model_toggle_tag(&m, &m.rows[r]));
    CU_ASSERT_EQUAL(m.ntagged, 3);
    CU_ASSERT_FALSE(rp__model_toggle_tag(&m, &m.rows[r]));   /* untag */
    CU_ASSERT_FALSE(rp__model_task(&m, 1)->tagged);
    CU_ASSERT_EQUAL(m.ntagged, 2);

    rp__model_clear_tags(&m);
    CU_ASSERT_EQUAL(m.ntagged, 0);
    for (size_t i = 0; i < m.njobs; i++)
        CU_ASSERT_FALSE(m.jobs[i].tagged);
    for (size_t i = 0; i < m.ntasks; i++)
        CU_ASSERT_FALSE(m.tasks[i].tagged);
    rp__model_free(&m);
}

static void
load_keeps_descriptions_expansion_and_tags_of_jobs_still_there(void)
{
    struct rp_model m;
    rp_task_info first[3] = {
        make_info(1, 1, 0, 2, RP_TASK_RUNNING, 1),
        make_info(2, 1, 1, 2, RP_TASK_QUEUED, 0),
        make_info(3, 2, 0, 1, RP_TASK_QUEUED, 0),
    };
    rp_task_info second[3] = {
        make_info(1, 1, 0, 2, RP_TASK_SUCCEEDED, 1),
        make_info(2, 1, 1, 2, RP_TASK_RUNNING, 1),
        make_info(4, 3, 0, 1, RP_TASK_QUEUED, 0),
    };
    struct rp_console_snapshot snap = { .tasks = first, .ntasks = 3 };
    long r;

    rp__model_init(&m, 0);
    snap.stats.queued = 2;
    rp__model_load(&m, &snap, 20 * S);
    CU_ASSERT_EQUAL(m.ntasks, 3);
    CU_ASSERT_EQUAL(m.njobs, 2);
    CU_ASSERT_EQUAL(m.stats.queued, 2);
    CU_ASSERT_EQUAL(rp__model_job(&m, 1)->desc.total, 2);
    CU_ASSERT_EQUAL(rp__model_job_state(rp__model_job(&m, 1)), RP_TASK_RUNNING);
    describe(&m, 1, "keep-me", "/bin/sleep 1", 0);    /* total not known yet */
    describe(&m, 2, "goes-away", "/bin/true", 1);
    rp__model_expand(&m, job_index(&m, 1), true);
    rp__model_rows(&m, 20 * S);
    CU_ASSERT_EQUAL_FATAL(m.nrows, 4);
    r = task_row(&m, 2);
    CU_ASSERT_FATAL(r >= 0);
    rp__model_toggle_tag(&m, &m.rows[r]);
    rp__model_toggle_tag(&m, &m.rows[job_row(&m, 1)]);
    rp__model_toggle_tag(&m, &m.rows[job_row(&m, 2)]);
    rp__model_toggle_tag(&m, &m.rows[task_row(&m, 1)]);
    CU_ASSERT_EQUAL(m.ntagged, 4);

    snap.tasks = second;
    snap.stats.queued = 1;
    rp__model_load(&m, &snap, 30 * S);
    CU_ASSERT_EQUAL(m.ntasks, 3);
    CU_ASSERT_EQUAL(m.njobs, 2);
    CU_ASSERT_EQUAL(m.stats.queued, 1);
    CU_ASSERT_TRUE(m.rows_dirty);
    CU_ASSERT_PTR_NULL(rp__model_job(&m, 2));
    CU_ASSERT_PTR_NULL(rp__model_task(&m, 3));
    struct rp_model_job *j1 = rp__model_job(&m, 1), *j3 = rp__model_job(&m, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j3);
    CU_ASSERT_TRUE(j1->described);
    CU_ASSERT_STRING_EQUAL(j1->label, "keep-me");
    CU_ASSERT_PTR_NOT_NULL_FATAL(j1->desc.command);
    CU_ASSERT_STRING_EQUAL(j1->desc.command, "/bin/sleep 1");
    CU_ASSERT_EQUAL(j1->desc.total, 2);
    CU_ASSERT_TRUE(j1->expanded);
    CU_ASSERT_TRUE(j1->tagged);
    CU_ASSERT_TRUE(rp__model_task(&m, 2)->tagged);
    CU_ASSERT_TRUE(rp__model_task(&m, 1)->tagged);
    CU_ASSERT_EQUAL(m.ntagged, 3);                       /* job 2's tag left with it */
    CU_ASSERT_FALSE(j3->described);
    CU_ASSERT_FALSE(j3->expanded);
    CU_ASSERT_FALSE(j3->tagged);
    CU_ASSERT_STRING_EQUAL(j3->label, "job 3");
    CU_ASSERT_EQUAL(j1->count[RP_TASK_SUCCEEDED], 1);
    CU_ASSERT_EQUAL(j1->count[RP_TASK_RUNNING], 1);
    CU_ASSERT_EQUAL(j1->count[RP_TASK_QUEUED], 0);
    rp__model_rows(&m, 30 * S);
    CU_ASSERT_EQUAL_FATAL(m.nrows, 4);                   /* job 3, job 1, its 2 tasks */
    CU_ASSERT_EQUAL(job_row(&m, 3), 0);
    CU_ASSERT_EQUAL(job_row(&m, 1), 1);
    CU_ASSERT_EQUAL(task_row(&m, 1), 2);
    CU_ASSERT_EQUAL(task_row(&m, 2), 3);

    /* Events keep applying on top of the loaded model. */
    apply(&m, 2, 1, 1, RP_TASK_SUCCEEDED, 1, 31 * S);
    CU_ASSERT_EQUAL(rp__model_job_state(j1), RP_TASK_SUCCEEDED);
    rp__model_free(&m);
}

/* ---- model: throughput, elapsed, workers ---- */

static void
history_zeroes_gaps_and_drops_old_seconds(void)
{
    struct rp_model m;
    uint32_t h[200];

    rp__model_init(&m, 0);
    for (uint64_t s = 1; s <= 120; s++)        /* one finish in each of 1..120 */
        rp__model_count_finish(&m, s * S + S / 2);
    rp__model_count_finish(&m, 150 * S + S / 5);
    /* The last 120 complete seconds at 151: 31..150. */
    rp__model_history(&m, 151 * S, h, RP_MODEL_HISTORY);
    for (size_t i = 0; i < RP_MODEL_HISTORY; i++) {
        uint64_t second = 31 + i;
        uint32_t want = second <= 120 || second == 150 ? 1 : 0;
        if (h[i] != want)
            fprintf(stderr, "\n  second %" PRIu64 ": %u, want %u\n", second, h[i], want);
        CU_ASSERT_EQUAL(h[i], want);
    }

    /* 120 s before the newest second is too old to keep (its slot is the
     * newest second's); 119 s is kept. */
    rp__model_count_finish(&m, 30 * S + S / 2);
    rp__model_count_finish(&m, 31 * S + S / 2);
    rp__model_history(&m, 151 * S, h, RP_MODEL_HISTORY);
    CU_ASSERT_EQUAL(h[RP_MODEL_HISTORY - 1], 1);        /* second 150 */
    CU_ASSERT_EQUAL(h[0], 2);                           /* second 31 */

    /* Asking for more than is kept: zeros before. */
    rp__model_history(&m, 151 * S, h, 200);
    for (size_t i = 0; i < 80; i++)                     /* seconds -49..30 */
        CU_ASSERT_EQUAL(h[i], 0);
    CU_ASSERT_EQUAL(h[80], 2);
    CU_ASSERT_EQUAL(h[199], 1);

    /* Seconds that have not come yet read 0, even if their slot is used. */
    rp__model_history(&m, 100 * S, h, 10);              /* seconds 90..99 */
    for (size_t i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(h[i], 1);
    rp__model_history(&m, 150 * S, h, 1);               /* second 149: a gap */
    CU_ASSERT_EQUAL(h[0], 0);

    /* A long silence empties everything. */
    rp__model_count_finish(&m, 1000 * S);
    rp__model_history(&m, 1001 * S, h, RP_MODEL_HISTORY);
    for (size_t i = 0; i + 1 < RP_MODEL_HISTORY; i++)
        CU_ASSERT_EQUAL(h[i], 0);
    CU_ASSERT_EQUAL(h[RP_MODEL_HISTORY - 1], 1);
    rp__model_free(&m);
}

static void
rate_counts_complete_seconds_only(void)
{
    struct rp_model m;

    rp__model_init(&m, 0);
    rp__model_count_finish(&m, 10 * S + S / 10);
    rp__model_count_finish(&m, 10 * S + S / 2);
    rp__model_count_finish(&m, 10 * S + 9 * S / 10);
    rp__model_count_finish(&m, 11 * S);
    for (int i = 0; i < 5; i++)
        rp__model_count_finish(&m, 12 * S + (uint64_t)i);
    CU_ASSERT_DOUBLE_EQUAL(rp__model_rate(&m, 12 * S + S / 2, 1), 1.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(rp__model_rate(&m, 12 * S + S / 2, 2), 2.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(rp__model_rate(&m, 12 * S + S / 2, 10), 0.4, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(rp__model_rate(&m, 13 * S, 1), 5.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(rp__model_rate(&m, 13 * S, 3), 3.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(rp__model_rate(&m, 12 * S + S / 2, 0), 0.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(rp__model_rate(&m, 500 * S, 5), 0.0, 1e-9);
    /* Early on, fewer seconds exist than asked for. */
    CU_ASSERT_DOUBLE_EQUAL(rp__model_rate(&m, 0, 5), 0.0, 1e-9);
    rp__model_free(&m);
}

static void
elapsed_of_tasks_and_jobs(void)
{
    struct rp_model m;
    struct rp_model_task *t;

    rp__model_init(&m, 0);
    apply(&m, 1, 1, 0, RP_TASK_QUEUED, 0, 1 * S);
    apply(&m, 2, 1, 1, RP_TASK_QUEUED, 0, 1 * S);
    t = rp__model_task(&m, 1);
    CU_ASSERT_EQUAL(rp__model_task_elapsed(t, 5 * S), 0);
    CU_ASSERT_EQUAL(rp__model_job_elapsed(rp__model_job(&m, 1), 5 * S), 0);

    apply(&m, 1, 1, 0, RP_TASK_RUNNING, 1, 2 * S);
    CU_ASSERT_EQUAL(rp__model_task_elapsed(t, 5 * S), 3 * S);
    CU_ASSERT_EQUAL(rp__model_task_elapsed(t, 7 * S), 5 * S);
    CU_ASSERT_EQUAL(rp__model_job_elapsed(rp__model_job(&m, 1), 5 * S), 3 * S);

    apply(&m, 1, 1, 0, RP_TASK_SUCCEEDED, 1, 4 * S);
    CU_ASSERT_EQUAL(rp__model_task_elapsed(t, 100 * S), 2 * S);
    /* Still running as a job: task 2 is queued. */
    CU_ASSERT_EQUAL(rp__model_job_elapsed(rp__model_job(&m, 1), 9 * S), 7 * S);

    /* Cancelled before it started: from its submission. */
    apply(&m, 2, 1, 1, RP_TASK_CANCELLED, 0, 6 * S);
    t = rp__model_task(&m, 2);
    CU_ASSERT_EQUAL(rp__model_task_elapsed(t, 100 * S), 5 * S);
    /* The job: first start (2 s) to last end (6 s). */
    CU_ASSERT_EQUAL(rp__model_job_state(rp__model_job(&m, 1)), RP_TASK_CANCELLED);
    CU_ASSERT_EQUAL(rp__model_job_elapsed(rp__model_job(&m, 1), 100 * S), 4 * S);

    /* A job none of whose tasks started: from its submission. */
    apply(&m, 3, 2, 0, RP_TASK_QUEUED, 0, 10 * S);
    apply(&m, 3, 2, 0, RP_TASK_CANCELLED, 0, 13 * S);
    CU_ASSERT_EQUAL(rp__model_job_elapsed(rp__model_job(&m, 2), 100 * S), 3 * S);
    rp__model_free(&m);

    /* From a snapshot (in id order, not end order): first start to last end. */
    rp_task_info tasks[3] = {
        make_info(1, 1, 0, 3, RP_TASK_SUCCEEDED, 1),
        make_info(2, 1, 1, 3, RP_TASK_FAILED, 1),
        make_info(3, 1, 2, 3, RP_TASK_SUCCEEDED, 1),
    };
    struct rp_console_snapshot snap = { .tasks = tasks, .ntasks = 3 };
    tasks[0].started_ns = 14 * S;
    tasks[0].ended_ns = 30 * S;
    tasks[1].started_ns = 11 * S;
    tasks[1].ended_ns = 25 * S;
    tasks[2].started_ns = 12 * S;
    tasks[2].ended_ns = 20 * S;
    rp__model_init(&m, 0);
    rp__model_load(&m, &snap, 40 * S);
    CU_ASSERT_EQUAL(rp__model_job_state(rp__model_job(&m, 1)), RP_TASK_FAILED);
    CU_ASSERT_EQUAL(rp__model_job_elapsed(rp__model_job(&m, 1), 100 * S), 19 * S);
    CU_ASSERT_EQUAL(rp__model_task_elapsed(rp__model_task(&m, 2), 100 * S), 14 * S);
    rp__model_free(&m);
}

static rp_worker_info *
workers(size_t n)
{
    rp_worker_info *w = calloc(n, sizeof *w);

    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    return w;
}

static void
set_worker(rp_worker_info *w, const char *name, rp_task_id task, uint64_t busy_ns)
{
    snprintf(w->name, sizeof w->name, "%s", name);
    snprintf(w->executor, sizeof w->executor, "process");
    w->up = true;
    w->task = task;
    w->busy_ns = busy_ns;
}

static const struct rp_model_worker *
worker_named(const struct rp_model *m, const char *name)
{
    for (size_t i = 0; i < m->nworkers; i++)
        if (strcmp(m->workers[i].info.name, name) == 0)
            return &m->workers[i];
    return NULL;
}

static void
worker_load_is_busy_time_over_elapsed_time(void)
{
    struct rp_model m;
    rp_worker_info *w;

    rp__model_init(&m, 0);
    /* First sighting: busy (running a task) -> 1, idle -> 0. */
    w = workers(2);
    set_worker(&w[0], "proc0", 7, 5 * S);
    set_worker(&w[1], "proc1", 0, 1 * S);
    rp__model_set_workers(&m, w, 2, 10 * S);
    CU_ASSERT_EQUAL_FATAL(m.nworkers, 2);
    CU_ASSERT_DOUBLE_EQUAL(m.workers[0].load, 1.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(m.workers[1].load, 0.0, 1e-9);
    CU_ASSERT_EQUAL(m.workers[0].info.task, 7);

    /* 2 s later: proc0 busy 0.5 s of them, proc1 "3 s" (clamped to 1). */
    w = workers(2);
    set_worker(&w[0], "proc0", 0, 5 * S + S / 2);
    set_worker(&w[1], "proc1", 8, 4 * S);
    rp__model_set_workers(&m, w, 2, 12 * S);
    CU_ASSERT_DOUBLE_EQUAL(m.workers[0].load, 0.25, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(m.workers[1].load, 1.0, 1e-9);

    /* Order changed and a new worker: matched by name; the new one is a
     * first sighting. */
    w = workers(3);
    set_worker(&w[0], "fn0", 3, 100 * S);
    set_worker(&w[1], "proc1", 8, 4 * S + S / 5);
    set_worker(&w[2], "proc0", 9, 5 * S + S / 2);
    rp__model_set_workers(&m, w, 3, 14 * S);
    CU_ASSERT_EQUAL_FATAL(m.nworkers, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(worker_named(&m, "fn0"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(worker_named(&m, "proc0"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(worker_named(&m, "proc1"));
    CU_ASSERT_DOUBLE_EQUAL(worker_named(&m, "fn0")->load, 1.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(worker_named(&m, "proc1")->load, 0.1, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(worker_named(&m, "proc0")->load, 0.0, 1e-9);  /* busy, but no time */

    /* Busy time went backwards (a restarted worker): as a first sighting. */
    w = workers(3);
    set_worker(&w[0], "fn0", 0, 1 * S);
    set_worker(&w[1], "proc1", 8, 4 * S + S / 5);
    set_worker(&w[2], "proc0", 9, 5 * S + S / 2);
    rp__model_set_workers(&m, w, 3, 16 * S);
    for (size_t i = 0; i < m.nworkers; i++)
        CU_ASSERT(m.workers[i].load >= 0.0 && m.workers[i].load <= 1.0);
    CU_ASSERT_DOUBLE_EQUAL(worker_named(&m, "fn0")->load, 0.0, 1e-9);

    /* No workers at all. */
    rp__model_set_workers(&m, NULL, 0, 18 * S);
    CU_ASSERT_EQUAL(m.nworkers, 0);
    rp__model_free(&m);
}

/* ---- model: 10,000 tasks (results only: no timing is asserted) ---- */

#define BIG_JOBS 100u
#define BIG_SHARDS 100u
#define BIG_EXPANDED 37u            /* the job id that is expanded */

static rp_task_id
big_task_id(unsigned job, unsigned shard)
{
    return (rp_task_id)(job - 1) * BIG_SHARDS + shard + 1;
}

/* The documented order of RP_SORT_STATE: running, queued, failed, timed
 * out, cancelled, succeeded. */
static int
state_order(rp_task_state s)
{
    switch (s) {
    case RP_TASK_RUNNING: return 0;
    case RP_TASK_QUEUED: return 1;
    case RP_TASK_FAILED: return 2;
    case RP_TASK_TIMED_OUT: return 3;
    case RP_TASK_CANCELLED: return 4;
    case RP_TASK_SUCCEEDED: return 5;
    }
    return 6;
}

static double
done_fraction(const struct rp_model_job *j)
{
    unsigned done = j->count[RP_TASK_SUCCEEDED] + j->count[RP_TASK_FAILED] +
                    j->count[RP_TASK_CANCELLED] + j->count[RP_TASK_TIMED_OUT];
    return (double)done / BIG_SHARDS;
}

/* Whether job row a may come right before job row b in sort s. */
static bool
in_order(enum rp_model_sort s, const struct rp_model_job *a, const struct rp_model_job *b,
         uint64_t now)
{
    int c = 0;

    switch (s) {
    case RP_SORT_OLDEST:
        return a->id < b->id;
    case RP_SORT_STATE:
        c = state_order(rp__model_job_state(a)) - state_order(rp__model_job_state(b));
        break;
    case RP_SORT_NAME:
        c = strcmp(a->label, b->label);
        break;
    case RP_SORT_ELAPSED: {
        uint64_t x = rp__model_job_elapsed(a, now), y = rp__model_job_elapsed(b, now);
        c = x > y ? -1 : x < y;
        break;
    }
    case RP_SORT_PROGRESS: {
        double x = done_fraction(a), y = done_fraction(b);
        c = x < y ? -1 : x > y;
        break;
    }
    case RP_SORT_NEWEST:
    case RP_SORT_COUNT:
        break;
    }
    return c < 0 || (c == 0 && a->id > b->id);
}

static void
ten_thousand_tasks_sort_and_expand_consistently(void)
{
    struct rp_model m;
    const uint64_t now = 10 * S;
    unsigned finals = 0;
    char name[32];

    rp__model_init(&m, 0);
    /* Every task queued, interleaved across jobs. */
    for (unsigned s = 0; s < BIG_SHARDS; s++)
        for (unsigned j = 1; j <= BIG_JOBS; j++)
            apply(&m, big_task_id(j, s), j, s, RP_TASK_QUEUED, 0, 1 * S + j * MS);
    /* Job j starts j of its tasks (all of them when j % 10 == 0) and
     * finishes half of those (all when j % 10 == 0); some fail. */
    for (unsigned j = 1; j <= BIG_JOBS; j++) {
        unsigned started = j % 10 == 0 ? BIG_SHARDS : j;
        unsigned finished = j % 10 == 0 ? BIG_SHARDS : j / 2;
        for (unsigned s = 0; s < started; s++)
            apply(&m, big_task_id(j, s), j, s, RP_TASK_RUNNING, 1, 2 * S + j * MS);
        for (unsigned s = 0; s < finished; s++) {
            rp_task_state st = (s + j) % 13 == 0 ? RP_TASK_FAILED
                             : (s + j) % 29 == 0 ? RP_TASK_TIMED_OUT
                                                 : RP_TASK_SUCCEEDED;
            apply(&m, big_task_id(j, s), j, s, st, 1, 3 * S + j * 7 * MS + s * 1000);
            finals++;
        }
        /* Names in another order than ids: 37 is prime to 100. */
        snprintf(name, sizeof name, "n%03u", (j * 37) % 100);
        describe(&m, j, name, NULL, BIG_SHARDS);
    }
    CU_ASSERT_EQUAL_FATAL(m.ntasks, BIG_JOBS * BIG_SHARDS);
    CU_ASSERT_EQUAL_FATAL(m.njobs, BIG_JOBS);

    /* Every id finds its record; the counts add up. */
    unsigned total = 0, bad = 0;
    for (unsigned j = 1; j <= BIG_JOBS; j++) {
        struct rp_model_job *job = rp__model_job(&m, j);
        CU_ASSERT_PTR_NOT_NULL_FATAL(job);
        for (int st = 0; st < RP_TASK_STATE_COUNT; st++)
            total += job->count[st];
        for (unsigned s = 0; s < BIG_SHARDS; s++) {
            struct rp_model_task *t = rp__model_task(&m, big_task_id(j, s));
            if (t == NULL || t->shard != s || m.jobs[t->job].id != j ||
                rp__model_job_task(&m, job, s) != t)
                bad++;
        }
    }
    CU_ASSERT_EQUAL(total, BIG_JOBS * BIG_SHARDS);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(rp__model_job_state(rp__model_job(&m, 10)), RP_TASK_TIMED_OUT);
    CU_ASSERT_EQUAL(rp__model_job_state(rp__model_job(&m, 1)), RP_TASK_RUNNING);
    uint32_t h[RP_MODEL_HISTORY];
    uint64_t counted = 0;
    rp__model_history(&m, now, h, RP_MODEL_HISTORY);
    for (size_t i = 0; i < RP_MODEL_HISTORY; i++)
        counted += h[i];
    CU_ASSERT_EQUAL(counted, finals);

    rp__model_expand(&m, job_index(&m, BIG_EXPANDED), true);
    for (int so = 0; so < RP_SORT_COUNT; so++) {
        enum rp_model_sort sort = (enum rp_model_sort)so;
        bool seen[BIG_JOBS + 1] = { false };
        const struct rp_model_job *prev = NULL;
        unsigned disorder = 0, misplaced = 0, dup = 0;

        rp__model_set_sort(&m, sort);
        rp__model_rows(&m, now);
        CU_ASSERT_EQUAL_FATAL(m.nrows, BIG_JOBS + BIG_SHARDS);
        for (size_t r = 0; r < m.nrows; r++) {
            const struct rp_model_row *row = &m.rows[r];
            const struct rp_model_job *job = &m.jobs[row->job];
            if (row->task >= 0) {
                misplaced++;        /* task rows are checked with their job */
                continue;
            }
            if (seen[job->id])
                dup++;
            seen[job->id] = true;
            if (prev != NULL && !in_order(sort, prev, job, now))
                disorder++;
            prev = job;
            if (job->id != BIG_EXPANDED)
                continue;
            /* Its tasks, by shard, right after it. */
            CU_ASSERT_FATAL(r + BIG_SHARDS < m.nrows);
            for (unsigned s = 0; s < BIG_SHARDS; s++) {
                const struct rp_model_row *tr = &m.rows[r + 1 + s];
                if (tr->task < 0 || tr->job != row->job || m.tasks[tr->task].shard != s ||
                    m.tasks[tr->task].id != big_task_id(BIG_EXPANDED, s))
                    misplaced++;
            }
            r += BIG_SHARDS;
        }
        if (disorder + misplaced + dup != 0)
            fprintf(stderr, "\n  sort %s: %u out of order, %u misplaced, %u twice\n",
                    rp__model_sort_name(sort), disorder, misplaced, dup);
        CU_ASSERT_EQUAL(disorder, 0);
        CU_ASSERT_EQUAL(misplaced, 0);
        CU_ASSERT_EQUAL(dup, 0);
        for (unsigned j = 1; j <= BIG_JOBS; j++)
            CU_ASSERT_TRUE(seen[j]);
    }

    /* Names n000..n009: ten jobs, none of them the expanded one (n069). */
    rp__model_set_filter(&m, "N00");
    rp__model_set_sort(&m, RP_SORT_NAME);
    rp__model_rows(&m, now);
    CU_ASSERT_EQUAL_FATAL(m.nrows, 10);
    for (size_t r = 0; r < m.nrows; r++) {
        snprintf(name, sizeof name, "n%03u", (unsigned)(r % 1000));
        CU_ASSERT_STRING_EQUAL(m.jobs[m.rows[r].job].label, name);
    }
    rp__model_free(&m);
}

/* ---- layout ---- */

/* Paints r into grid (lines x cols): whether it stayed inside the screen. */
static bool
paint(unsigned char *grid, int lines, int cols, const struct rp_rect *r)
{
    if (r->h == 0 || r->w == 0)
        return true;
    if (r->h < 0 || r->w < 0 || r->y < 0 || r->x < 0 || r->y + r->h > lines ||
        r->x + r->w > cols)
        return false;
    for (int y = r->y; y < r->y + r->h; y++)
        for (int x = r->x; x < r->x + r->w; x++)
            grid[(size_t)y * (size_t)cols + (size_t)x]++;
    return true;
}

static bool
shown(const struct rp_rect *r)
{
    return r->h > 0 && r->w > 0;
}

/* Checks one layout: everything inside, nothing overlapping, the header on
 * top, status and footer the last two lines, the panes covering every
 * cell in between, and each shown pane with room for 2 rows. */
static bool
layout_tiles(int lines, int cols, unsigned nworkers, bool zoom)
{
    struct rp_layout l;
    unsigned char *grid = calloc((size_t)lines * (size_t)cols, 1);
    bool ok = true;

    CU_ASSERT_PTR_NOT_NULL_FATAL(grid);
    rp__layout_compute(lines, cols, nworkers, zoom, &l);
    ok = ok && !l.too_small && l.lines == lines && l.cols == cols;
    ok = ok && l.header.y == 0 && l.header.x == 0 && l.header.w == cols && l.header.h >= 1;
    ok = ok && l.status.y == lines - 2 && l.status.h == 1 && l.status.x == 0 && l.status.w == cols;
    ok = ok && l.footer.y == lines - 1 && l.footer.h == 1 && l.footer.x == 0 && l.footer.w == cols;
    ok = ok && shown(&l.workers) && shown(&l.detail);
    ok = ok && shown(&l.jobs) == !zoom;
    ok = ok && l.side_by_side == (cols >= RP_LAYOUT_WIDE_COLS);
    const struct rp_rect *all[] = { &l.header, &l.workers, &l.jobs, &l.detail, &l.status,
                                    &l.footer };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ok = paint(grid, lines, cols, all[i]) && ok;
    for (size_t c = 0; ok && c < (size_t)lines * (size_t)cols; c++)
        ok = grid[c] == 1;          /* every cell once: no gap, no overlap */
    ok = ok && rp__layout_pane_rows(&l.workers) >= 2 && rp__layout_pane_rows(&l.detail) >= 2;
    ok = ok && (zoom || rp__layout_pane_rows(&l.jobs) >= 2);
    if (!ok)
        fprintf(stderr, "\n  layout %dx%d, %u workers%s: does not tile\n", cols, lines, nworkers,
                zoom ? ", zoomed" : "");
    free(grid);
    return ok;
}

static void
layout_tiles_the_screen(void)
{
    static const int sizes[][2] = {     /* cols, lines */
        { 80, 24 }, { 120, 40 }, { 200, 60 }, { 159, 50 }, { 160, 50 },
        { 81, 25 }, { 300, 24 }, { 80, 100 }, { 1000, 400 },
    };
    static const unsigned nworkers[] = { 0, 1, 2, 4, 8, 16, 64, 1000, 100000 };

    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t w = 0; w < sizeof nworkers / sizeof nworkers[0]; w++)
            for (int zoom = 0; zoom < 2; zoom++)
                CU_ASSERT_TRUE(layout_tiles(sizes[s][1], sizes[s][0], nworkers[w], zoom));
}

static void
layout_side_by_side_from_160_columns(void)
{
    struct rp_layout l;

    rp__layout_compute(60, 200, 4, false, &l);
    CU_ASSERT_TRUE(l.side_by_side);
    CU_ASSERT_EQUAL(l.jobs.y, l.detail.y);
    CU_ASSERT_EQUAL(l.jobs.h, l.detail.h);
    CU_ASSERT_EQUAL(l.jobs.x, 0);
    CU_ASSERT_EQUAL(l.detail.x, l.jobs.w);
    CU_ASSERT(l.jobs.w > l.detail.w);               /* jobs keeps the larger part */
    CU_ASSERT_EQUAL(l.workers.y, l.header.y + l.header.h);
    CU_ASSERT_EQUAL(l.jobs.y, l.workers.y + l.workers.h);

    rp__layout_compute(60, 160, 4, false, &l);
    CU_ASSERT_TRUE(l.side_by_side);
    rp__layout_compute(60, 159, 4, false, &l);
    CU_ASSERT_FALSE(l.side_by_side);

    /* Below 160: detail under jobs, full width. */
    rp__layout_compute(40, 120, 4, false, &l);
    CU_ASSERT_FALSE(l.side_by_side);
    CU_ASSERT_EQUAL(l.jobs.w, 120);
    CU_ASSERT_EQUAL(l.detail.w, 120);
    CU_ASSERT_EQUAL(l.detail.y, l.jobs.y + l.jobs.h);
    CU_ASSERT_EQUAL(l.detail.y + l.detail.h, l.status.y);

    rp__layout_compute(24, 80, 4, false, &l);
    CU_ASSERT_FALSE(l.too_small);
    CU_ASSERT_FALSE(l.side_by_side);
    CU_ASSERT_EQUAL(l.status.y, 22);
    CU_ASSERT_EQUAL(l.footer.y, 23);
}

static void
layout_zoom_gives_the_jobs_room_to_detail(void)
{
    static const int sizes[][2] = { { 80, 24 }, { 120, 40 }, { 200, 60 } };

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        struct rp_layout plain, zoomed;
        int cols = sizes[i][0], lines = sizes[i][1];

        rp__layout_compute(lines, cols, 4, false, &plain);
        rp__layout_compute(lines, cols, 4, true, &zoomed);
        CU_ASSERT_FALSE(shown(&zoomed.jobs));
        CU_ASSERT_EQUAL(zoomed.detail.x, 0);
        CU_ASSERT_EQUAL(zoomed.detail.w, cols);
        CU_ASSERT_EQUAL(zoomed.detail.y, plain.jobs.y);
        CU_ASSERT_EQUAL(zoomed.detail.y + zoomed.detail.h, zoomed.status.y);
        CU_ASSERT_EQUAL((long)zoomed.detail.h * zoomed.detail.w,
                        (long)plain.jobs.h * plain.jobs.w + (long)plain.detail.h * plain.detail.w);
        /* Workers, header, status and footer do not move. */
        CU_ASSERT_EQUAL(memcmp(&zoomed.workers, &plain.workers, sizeof plain.workers), 0);
        CU_ASSERT_EQUAL(memcmp(&zoomed.header, &plain.header, sizeof plain.header), 0);
        CU_ASSERT_EQUAL(memcmp(&zoomed.footer, &plain.footer, sizeof plain.footer), 0);
    }
}

static void
layout_below_80x24_is_too_small(void)
{
    static const int sizes[][2] = { { 79, 24 }, { 80, 23 }, { 79, 23 }, { 0, 0 }, { 1, 1 },
                                    { 300, 10 }, { 40, 200 }, { -5, 30 } };
    struct rp_layout l, zero;

    memset(&zero, 0, sizeof zero);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        rp__layout_compute(sizes[i][1], sizes[i][0], 4, false, &l);
        CU_ASSERT_TRUE(l.too_small);
        CU_ASSERT_EQUAL(l.cols, sizes[i][0]);
        CU_ASSERT_EQUAL(l.lines, sizes[i][1]);
        const struct rp_rect *all[] = { &l.header, &l.workers, &l.jobs, &l.detail, &l.status,
                                        &l.footer };
        for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
            CU_ASSERT_FALSE(shown(all[k]));
    }
    rp__layout_compute(24, 80, 4, false, &l);
    CU_ASSERT_FALSE(l.too_small);
}

static void
layout_worker_pane_grows_up_to_about_30_percent(void)
{
    static const int sizes[][2] = { { 80, 24 }, { 120, 40 }, { 200, 60 }, { 120, 100 } };

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int cols = sizes[i][0], lines = sizes[i][1];
        struct rp_layout l;
        int prev = 0, body;

        rp__layout_compute(lines, cols, 0, false, &l);
        body = l.status.y - (l.header.y + l.header.h);
        for (unsigned n = 0; n <= 200; n++) {
            rp__layout_compute(lines, cols, n, false, &l);
            int h = l.workers.h;
            CU_ASSERT(h >= prev);                           /* grows */
            CU_ASSERT(h <= (body * 3 / 10 > 5 ? body * 3 / 10 : 5));   /* ~30% at most */
            /* All of them when they fit in that (and room for 2 at least). */
            if ((int)n + 3 <= body * 3 / 10)
                CU_ASSERT_EQUAL(rp__layout_pane_rows(&l.workers), n < 2 ? 2 : (int)n);
            prev = h;
        }
    }
    /* 200x60: the body is 55 lines; 13 workers fit (16 lines), more do not. */
    struct rp_layout a, b;
    rp__layout_compute(60, 200, 13, false, &a);
    rp__layout_compute(60, 200, 500, false, &b);
    CU_ASSERT_EQUAL(rp__layout_pane_rows(&a.workers), 13);
    CU_ASSERT_EQUAL(a.workers.h, b.workers.h);
}

static void
layout_scroll_keeps_the_cursor_visible(void)
{
    /* Inside the window: no move. */
    CU_ASSERT_EQUAL(rp__layout_scroll(10, 12, 100, 10), 10);
    CU_ASSERT_EQUAL(rp__layout_scroll(10, 10, 100, 10), 10);
    CU_ASSERT_EQUAL(rp__layout_scroll(10, 19, 100, 10), 10);
    /* Above: the cursor becomes the top row. */
    CU_ASSERT_EQUAL(rp__layout_scroll(10, 9, 100, 10), 9);
    CU_ASSERT_EQUAL(rp__layout_scroll(10, 0, 100, 10), 0);
    /* Below: the cursor becomes the bottom row. */
    CU_ASSERT_EQUAL(rp__layout_scroll(10, 20, 100, 10), 11);
    CU_ASSERT_EQUAL(rp__layout_scroll(0, 99, 100, 10), 90);
    /* Past the end: as if on the last row. */
    CU_ASSERT_EQUAL(rp__layout_scroll(0, 500, 100, 10), 90);
    /* No empty space below the last row. */
    CU_ASSERT_EQUAL(rp__layout_scroll(95, 97, 100, 10), 90);
    /* Everything fits: 0. */
    CU_ASSERT_EQUAL(rp__layout_scroll(5, 7, 10, 10), 0);
    CU_ASSERT_EQUAL(rp__layout_scroll(5, 2, 3, 10), 0);
    /* Nothing to show or no room: 0. */
    CU_ASSERT_EQUAL(rp__layout_scroll(5, 0, 0, 10), 0);
    CU_ASSERT_EQUAL(rp__layout_scroll(5, 7, 100, 0), 0);
    CU_ASSERT_EQUAL(rp__layout_scroll(5, 7, 100, -3), 0);
    /* One visible row follows the cursor exactly. */
    for (unsigned long c = 0; c < 20; c++)
        CU_ASSERT_EQUAL(rp__layout_scroll(7, c, 20, 1), c);
    /* Whatever the start, the cursor ends up inside the window. */
    for (unsigned long top = 0; top < 40; top += 3)
        for (unsigned long c = 0; c < 40; c++) {
            unsigned long t = rp__layout_scroll(top, c, 30, 7);
            unsigned long cc = c < 30 ? c : 29;
            CU_ASSERT(t <= cc && cc < t + 7 && t + 7 <= 30);
        }
}

static void
layout_contains_and_pane_rows(void)
{
    struct rp_rect r = { 5, 10, 4, 20 };
    struct rp_rect none = { 5, 10, 0, 20 }, thin = { 5, 10, 4, 0 };

    CU_ASSERT_TRUE(rp__layout_contains(&r, 5, 10));
    CU_ASSERT_TRUE(rp__layout_contains(&r, 8, 29));
    CU_ASSERT_FALSE(rp__layout_contains(&r, 4, 10));
    CU_ASSERT_FALSE(rp__layout_contains(&r, 9, 10));
    CU_ASSERT_FALSE(rp__layout_contains(&r, 5, 9));
    CU_ASSERT_FALSE(rp__layout_contains(&r, 5, 30));
    CU_ASSERT_FALSE(rp__layout_contains(&none, 5, 10));
    CU_ASSERT_FALSE(rp__layout_contains(&thin, 5, 10));

    CU_ASSERT_EQUAL(rp__layout_pane_rows(&r), 1);
    CU_ASSERT_EQUAL(rp__layout_pane_rows(&none), 0);
    struct rp_rect tall = { 0, 0, 23, 80 }, three = { 0, 0, 3, 80 };
    CU_ASSERT_EQUAL(rp__layout_pane_rows(&tall), 20);
    CU_ASSERT_EQUAL(rp__layout_pane_rows(&three), 0);
}

/* ---- command line ---- */

/* Splits line and compares with want (NULL-terminated). */
static bool
splits_to(const char *line, const char *const *want)
{
    char **argv = NULL, *why = NULL;
    size_t argc = 99, n = 0;
    bool ok;

    while (want[n] != NULL)
        n++;
    ok = rp__command_split(line, &argv, &argc, &why) == RP_OK && why == NULL && argv != NULL &&
         argc == n && argv[argc] == NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = strcmp(argv[i], want[i]) == 0;
    if (!ok) {
        fprintf(stderr, "\n  split [%s] gave %zu words:", line, argv != NULL ? argc : 0);
        for (size_t i = 0; argv != NULL && i < argc; i++)
            fprintf(stderr, " [%s]", argv[i]);
        fprintf(stderr, "\n");
    }
    if (argv != NULL)
        rp__command_free(argv, argc);
    free(why);
    return ok;
}

#define WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NO_WORDS ((const char *const[]){ NULL })

static void
split_words_like_a_shell(void)
{
    CU_ASSERT_TRUE(splits_to("submit /bin/echo hi", WORDS("submit", "/bin/echo", "hi")));
    CU_ASSERT_TRUE(splits_to("  a \t b\t\tc  ", WORDS("a", "b", "c")));
    CU_ASSERT_TRUE(splits_to("x", WORDS("x")));
    /* Single quotes keep everything. */
    CU_ASSERT_TRUE(splits_to("'a b' c", WORDS("a b", "c")));
    CU_ASSERT_TRUE(splits_to("'a\\b \"c\" $d'", WORDS("a\\b \"c\" $d")));
    /* Double quotes: \" \\ \$ \` escape, other backslashes stay. */
    CU_ASSERT_TRUE(splits_to("\"a b\"", WORDS("a b")));
    CU_ASSERT_TRUE(splits_to("\"say \\\"hi\\\"\"", WORDS("say \"hi\"")));
    CU_ASSERT_TRUE(splits_to("\"\\\\ \\$HOME \\`x\\`\"", WORDS("\\ $HOME `x`")));
    CU_ASSERT_TRUE(splits_to("\"a\\nb\\'c\"", WORDS("a\\nb\\'c")));
    CU_ASSERT_TRUE(splits_to("\"it's\"", WORDS("it's")));
    /* A backslash outside quotes escapes the next character. */
    CU_ASSERT_TRUE(splits_to("a\\ b c", WORDS("a b", "c")));
    CU_ASSERT_TRUE(splits_to("\\'x\\\" \\\\", WORDS("'x\"", "\\")));
    /* Quoted parts next to each other make one word. */
    CU_ASSERT_TRUE(splits_to("a'b'\"c\" d", WORDS("abc", "d")));
    CU_ASSERT_TRUE(splits_to("--name='my job'", WORDS("--name=my job")));
    /* Empty quotes are an empty word. */
    CU_ASSERT_TRUE(splits_to("''", WORDS("")));
    CU_ASSERT_TRUE(splits_to("a \"\" b ''", WORDS("a", "", "b", "")));
    /* Many words (the array grows). */
    CU_ASSERT_TRUE(splits_to("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",
                             WORDS("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
                                   "13", "14", "15", "16", "17")));
}

static void
split_empty_and_blank_lines_give_no_words(void)
{
    CU_ASSERT_TRUE(splits_to("", NO_WORDS));
    CU_ASSERT_TRUE(splits_to("   ", NO_WORDS));
    CU_ASSERT_TRUE(splits_to("\t \t", NO_WORDS));
}

/* Splitting line fails with RP_ERR_INVALID and a reason. */
static bool
split_fails(const char *line)
{
    char **argv = (char **)1, *why = NULL;
    size_t argc = 99;
    rp_status st = rp__command_split(line, &argv, &argc, &why);
    bool ok = st == RP_ERR_INVALID && why != NULL && why[0] != '\0' && argv == NULL && argc == 0;

    if (!ok)
        fprintf(stderr, "\n  split [%s]: %d, why %s\n", line, (int)st, why ? why : "(none)");
    if (st == RP_OK && argv != NULL && argv != (char **)1)
        rp__command_free(argv, argc);
    free(why);
    return ok;
}

static void
split_unterminated_quotes_and_trailing_backslash_fail(void)
{
    CU_ASSERT_TRUE(split_fails("'abc"));
    CU_ASSERT_TRUE(split_fails("a 'b c"));
    CU_ASSERT_TRUE(split_fails("\"abc"));
    CU_ASSERT_TRUE(split_fails("\"abc\\\""));       /* the closing quote is escaped */
    CU_ASSERT_TRUE(split_fails("\"abc\\"));
    CU_ASSERT_TRUE(split_fails("abc\\"));
    CU_ASSERT_TRUE(split_fails("one two three four five six 'x"));   /* after words */
}

static void
parse_id_takes_decimal_with_hash_or_t(void)
{
    static const struct {
        const char *text;
        uint64_t want;
    } good[] = {
        { "42", 42 }, { "#42", 42 }, { "t42", 42 }, { "1", 1 }, { "007", 7 },
        { "9223372036854775808", 9223372036854775808ull },   /* 2^63 */
    };
    static const char *const bad[] = {
        "0", "#0", "-1", "", "#", "t", "4x", "x4", " 42", "42 ", "+42", "##42", "T42", "#t42",
        "99999999999999999999", "9223372036854775809", "18446744073709551615",
    };

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t v = 0;
        CU_ASSERT_EQUAL(rp__command_parse_id(good[i].text, &v), RP_OK);
        CU_ASSERT_EQUAL(v, good[i].want);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 12345;
        rp_status st = rp__command_parse_id(bad[i], &v);
        if (st != RP_ERR_INVALID)
            fprintf(stderr, "\n  parse_id(\"%s\") = %d\n", bad[i], (int)st);
        CU_ASSERT_EQUAL(st, RP_ERR_INVALID);
        CU_ASSERT_EQUAL(v, 12345);
    }
    uint64_t v = 12345;
    CU_ASSERT_EQUAL(rp__command_parse_id(NULL, &v), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(v, 12345);
}

/* ---- preferences ---- */

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    CU_ASSERT_EQUAL(fclose(f), 0);
}

/* Entries of directory path (-1 if it cannot be read). */
static int
count_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* The whole of path, malloc'd (NULL if unreadable). */
static char *
read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    size_t n;

    if (f == NULL)
        return NULL;
    buf = calloc(1, 65536);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void
prefs_round_trip_creating_directories(void)
{
    char dir[256], path[512];
    struct rp_prefs p, q;
    struct stat st;

    rp_test_tmpdir(dir, sizeof dir, "prefs");
    snprintf(path, sizeof path, "%s/state/deep/repartir/console.conf", dir);
    memset(&p, 0, sizeof p);
    snprintf(p.theme, sizeof p.theme, "solarized-dark");
    snprintf(p.sort, sizeof p.sort, "elapsed");
    snprintf(p.filter, sizeof p.filter, "train a=b #3 \"x\"");
    snprintf(p.pane, sizeof p.pane, "detail");
    CU_ASSERT_TRUE_FATAL(rp__prefs_save(path, &p));
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    memset(&q, 0x55, sizeof q);
    CU_ASSERT_TRUE(rp__prefs_load(path, &q));
    CU_ASSERT_STRING_EQUAL(q.theme, "solarized-dark");
    CU_ASSERT_STRING_EQUAL(q.sort, "elapsed");
    CU_ASSERT_STRING_EQUAL(q.filter, "train a=b #3 \"x\"");
    CU_ASSERT_STRING_EQUAL(q.pane, "detail");

    /* Saving again replaces the file; empty values come back empty. */
    memset(&p, 0, sizeof p);
    snprintf(p.sort, sizeof p.sort, "name");
    CU_ASSERT_TRUE(rp__prefs_save(path, &p));
    CU_ASSERT_TRUE(rp__prefs_load(path, &q));
    CU_ASSERT_STRING_EQUAL(q.theme, "");
    CU_ASSERT_STRING_EQUAL(q.sort, "name");
    CU_ASSERT_STRING_EQUAL(q.filter, "");
    CU_ASSERT_STRING_EQUAL(q.pane, "");
    /* Values of the longest length each field holds. */
    memset(p.theme, 't', sizeof p.theme - 1);
    p.theme[sizeof p.theme - 1] = '\0';
    memset(p.filter, 'f', sizeof p.filter - 1);
    p.filter[sizeof p.filter - 1] = '\0';
    CU_ASSERT_TRUE(rp__prefs_save(path, &p));
    CU_ASSERT_TRUE(rp__prefs_load(path, &q));
    CU_ASSERT_EQUAL(strlen(q.theme), sizeof q.theme - 1);
    CU_ASSERT_EQUAL(strlen(q.filter), sizeof q.filter - 1);

    /* No temporary file left beside it. */
    snprintf(path, sizeof path, "%s/state/deep/repartir", dir);
    CU_ASSERT_EQUAL(count_entries(path), 1);
    rp_test_remove_tree(dir);
}

static void
prefs_save_fails_cleanly_where_it_cannot_write(void)
{
    char dir[256], path[512];
    struct rp_prefs p;

    memset(&p, 0, sizeof p);
    snprintf(p.theme, sizeof p.theme, "x");
    rp_test_tmpdir(dir, sizeof dir, "prefs");
    snprintf(path, sizeof path, "%s/file", dir);
    write_file(path, "not a directory\n");
    snprintf(path, sizeof path, "%s/file/console.conf", dir);
    CU_ASSERT_FALSE(rp__prefs_save(path, &p));
    CU_ASSERT_FALSE(rp__prefs_save(NULL, &p));
    snprintf(path, sizeof path, "%s/file", dir);
    char *text = read_all(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_STRING_EQUAL(text, "not a directory\n");
    free(text);
    rp_test_remove_tree(dir);
}

/* Sets (or, value NULL, unsets) name. */
static void
set_env(const char *name, const char *value)
{
    int rc = value != NULL ? setenv(name, value, 1) : unsetenv(name);

    CU_ASSERT_EQUAL(rc, 0);
}

static bool
path_is(const char *want)
{
    char *got = rp__prefs_path();
    bool ok = want == NULL ? got == NULL : got != NULL && strcmp(got, want) == 0;

    if (!ok)
        fprintf(stderr, "\n  prefs path %s, want %s\n", got ? got : "NULL", want ? want : "NULL");
    free(got);
    return ok;
}

static void
prefs_path_follows_xdg_state_home_then_home(void)
{
    const char *xdg0 = getenv("XDG_STATE_HOME"), *home0 = getenv("HOME");
    char *xdg = xdg0 != NULL ? strdup(xdg0) : NULL, *home = home0 != NULL ? strdup(home0) : NULL;

    set_env("XDG_STATE_HOME", "/x/state");
    set_env("HOME", "/h");
    CU_ASSERT_TRUE(path_is("/x/state/repartir/console.conf"));
    set_env("XDG_STATE_HOME", NULL);
    CU_ASSERT_TRUE(path_is("/h/.local/state/repartir/console.conf"));
    set_env("XDG_STATE_HOME", "");                /* empty: as unset */
    CU_ASSERT_TRUE(path_is("/h/.local/state/repartir/console.conf"));
    set_env("XDG_STATE_HOME", "relative/dir");    /* not absolute: ignored (XDG spec) */
    CU_ASSERT_TRUE(path_is("/h/.local/state/repartir/console.conf"));
    set_env("XDG_STATE_HOME", NULL);
    set_env("HOME", NULL);
    CU_ASSERT_TRUE(path_is(NULL));
    set_env("HOME", "");
    CU_ASSERT_TRUE(path_is(NULL));
    set_env("XDG_STATE_HOME", "/only/xdg");
    CU_ASSERT_TRUE(path_is("/only/xdg/repartir/console.conf"));

    set_env("XDG_STATE_HOME", xdg);
    set_env("HOME", home);
    free(xdg);
    free(home);
}

static void
prefs_missing_file_gives_defaults(void)
{
    char dir[256], path[512];
    struct rp_prefs p;

    rp_test_tmpdir(dir, sizeof dir, "prefs");
    snprintf(path, sizeof path, "%s/nope/console.conf", dir);
    memset(&p, 0x55, sizeof p);
    CU_ASSERT_FALSE(rp__prefs_load(path, &p));
    CU_ASSERT_STRING_EQUAL(p.theme, "");
    CU_ASSERT_STRING_EQUAL(p.sort, "");
    CU_ASSERT_STRING_EQUAL(p.filter, "");
    CU_ASSERT_STRING_EQUAL(p.pane, "");
    memset(&p, 0x55, sizeof p);
    CU_ASSERT_FALSE(rp__prefs_load(NULL, &p));
    CU_ASSERT_STRING_EQUAL(p.theme, "");
    /* A directory where the file should be: not readable as one. */
    snprintf(path, sizeof path, "%s", dir);
    memset(&p, 0x55, sizeof p);
    rp__prefs_load(path, &p);
    CU_ASSERT_STRING_EQUAL(p.theme, "");
    CU_ASSERT_STRING_EQUAL(p.pane, "");
    rp_test_remove_tree(dir);
}

static void
prefs_skip_damaged_lines_and_unknown_keys(void)
{
    char dir[256], path[512];
    struct rp_prefs p;

    rp_test_tmpdir(dir, sizeof dir, "prefs");
    snprintf(path, sizeof path, "%s/console.conf", dir);
    write_file(path,
               "# a comment = not a key\n"
               "garbage without an equals sign\n"
               "\n"
               "colour = red\n"
               "= no key\n"
               "THEME = upper-case key\n"
               "  theme\t=  nord  \r\n"
               "sort=oldest\n"
               "filter = a = b\n"
               "pane = jobs\n"
               "\x01\x02\xff = binary\n"
               "unterminated last line = x");
    memset(&p, 0x55, sizeof p);
    CU_ASSERT_TRUE(rp__prefs_load(path, &p));
    CU_ASSERT_STRING_EQUAL(p.theme, "nord");
    CU_ASSERT_STRING_EQUAL(p.sort, "oldest");
    CU_ASSERT_STRING_EQUAL(p.filter, "a = b");
    CU_ASSERT_STRING_EQUAL(p.pane, "jobs");

    /* An empty file: defaults, but it was read. */
    write_file(path, "");
    memset(&p, 0x55, sizeof p);
    CU_ASSERT_TRUE(rp__prefs_load(path, &p));
    CU_ASSERT_STRING_EQUAL(p.theme, "");
    CU_ASSERT_STRING_EQUAL(p.filter, "");
    rp_test_remove_tree(dir);
}

static void
prefs_ignore_over_long_values(void)
{
    char dir[256], path[512];
    char text[2048];
    struct rp_prefs p;
    char theme63[64], theme64[65];

    memset(theme63, 'a', 63);
    theme63[63] = '\0';
    memset(theme64, 'b', 64);
    theme64[64] = '\0';
    rp_test_tmpdir(dir, sizeof dir, "prefs");
    snprintf(path, sizeof path, "%s/console.conf", dir);

    /* One longer than the field: ignored, and the earlier value stays. */
    snprintf(text, sizeof text, "theme = %s\ntheme = %s\nsort = state-of-the-art-x\npane = jobs\n",
             theme63, theme64);
    write_file(path, text);
    CU_ASSERT_TRUE(rp__prefs_load(path, &p));
    CU_ASSERT_STRING_EQUAL(p.theme, theme63);
    CU_ASSERT_STRING_EQUAL(p.sort, "");                 /* 18 characters: too long */
    CU_ASSERT_STRING_EQUAL(p.pane, "jobs");
    rp_test_remove_tree(dir);
}

static void
prefs_ignore_an_over_long_line_whole(void)
{
    char dir[256], path[512];
    char text[2048];
    struct rp_prefs p;
    size_t n;

    rp_test_tmpdir(dir, sizeof dir, "prefs");
    snprintf(path, sizeof path, "%s/console.conf", dir);
    /* A damaged file with one very long filter line whose tail, from the
     * 512th byte on, looks like another setting: it is still the same
     * line, an over-long value, and must be ignored whole. */
    n = (size_t)snprintf(text, sizeof text, "filter = ");
    memset(text + n, 'x', 511 - n);
    snprintf(text + 511, sizeof text - 511, "sort = oldest\npane = detail\n");
    write_file(path, text);
    CU_ASSERT_TRUE(rp__prefs_load(path, &p));
    CU_ASSERT_STRING_EQUAL(p.filter, "");
    CU_ASSERT_STRING_EQUAL(p.sort, "");                 /* part of the long line */
    CU_ASSERT_STRING_EQUAL(p.pane, "detail");           /* the next real line */
    rp_test_remove_tree(dir);
}

static void
prefs_filter_with_a_newline_keeps_the_file_whole(void)
{
    char dir[256], path[512];
    struct rp_prefs p, q;
    char *text;

    rp_test_tmpdir(dir, sizeof dir, "prefs");
    snprintf(path, sizeof path, "%s/console.conf", dir);
    memset(&p, 0, sizeof p);
    snprintf(p.theme, sizeof p.theme, "nord");
    snprintf(p.filter, sizeof p.filter, "foo\ntheme = evil\r\nsort = oldest");
    snprintf(p.pane, sizeof p.pane, "workers");
    CU_ASSERT_TRUE_FATAL(rp__prefs_save(path, &p));
    CU_ASSERT_TRUE(rp__prefs_load(path, &q));
    CU_ASSERT_STRING_EQUAL(q.theme, "nord");
    CU_ASSERT_STRING_EQUAL(q.sort, "");
    CU_ASSERT_STRING_EQUAL(q.pane, "workers");
    CU_ASSERT_PTR_NULL(strchr(q.filter, '\n'));
    CU_ASSERT_PTR_NULL(strchr(q.filter, '\r'));
    CU_ASSERT_PTR_NOT_NULL(strstr(q.filter, "foo"));
    /* One line per key: the comment and four settings. */
    text = read_all(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    size_t lines = 0;
    for (char *c = text; *c; c++)
        lines += *c == '\n';
    CU_ASSERT_EQUAL(lines, 5);
    free(text);
    rp_test_remove_tree(dir);
}

/* ---- sources: argv quoting and job descriptions ---- */

static bool
joins_to(char *const *argv, size_t argc, const char *want)
{
    char *got = rp__console_join_argv(argv, argc);
    bool ok = got != NULL && strcmp(got, want) == 0;

    if (!ok)
        fprintf(stderr, "\n  joined [%s], want [%s]\n", got ? got : "NULL", want);
    free(got);
    return ok;
}

static void
join_argv_quotes_only_where_needed(void)
{
    char *plain[] = { "/bin/echo", "hello", "a-b_c.d/e=f:g,h+i@j%k" };
    char *spaced[] = { "/bin/echo", "a b", "" };
    char *quote[] = { "echo", "it's" };
    char *special[] = { "sh", "-c", "echo $HOME; ls *|wc", "\"q\"", "tab\there" };
    char *only_quote[] = { "'" };

    CU_ASSERT_TRUE(joins_to(plain, 3, "/bin/echo hello a-b_c.d/e=f:g,h+i@j%k"));
    CU_ASSERT_TRUE(joins_to(spaced, 3, "/bin/echo 'a b' ''"));
    CU_ASSERT_TRUE(joins_to(quote, 2, "echo 'it'\\''s'"));
    CU_ASSERT_TRUE(joins_to(special, 5, "sh -c 'echo $HOME; ls *|wc' '\"q\"' 'tab\there'"));
    CU_ASSERT_TRUE(joins_to(only_quote, 1, "''\\'''"));
    CU_ASSERT_TRUE(joins_to(plain, 0, ""));

    /* What it joins, the command line splits back into the same words. */
    char *words[] = { "prog", "it's", "a b", "", "$x", "\\", "\"", "'''" };
    char *joined = rp__console_join_argv(words, 8), **argv = NULL, *why = NULL;
    size_t argc = 0;
    CU_ASSERT_EQUAL_FATAL(rp__command_split(joined, &argv, &argc, &why), RP_OK);
    CU_ASSERT_EQUAL(argc, 8);
    for (size_t i = 0; i < 8 && i < argc; i++)
        CU_ASSERT_STRING_EQUAL(argv[i], words[i]);
    rp__command_free(argv, argc);
    free(joined);
    free(why);
}

static void
job_desc_parses_a_process_task(void)
{
    struct rp_console_job_desc d;
    const char *json = "{\"v\":1,\"kind\":\"process\",\"name\":\"x\",\"priority\":\"high\","
                       "\"backend\":\"cpu\",\"retries\":2,\"argv\":[\"/bin/echo\",\"a b\"],"
                       "\"timeout_ms\":500,\"checkpoint\":true}";

    CU_ASSERT_EQUAL_FATAL(rp__console_job_desc_parse(json, 8, &d), RP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d.name);
    CU_ASSERT_STRING_EQUAL(d.name, "x");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d.command);
    CU_ASSERT_STRING_EQUAL(d.command, "/bin/echo 'a b'");
    CU_ASSERT_EQUAL(d.total, 8);
    CU_ASSERT_EQUAL(d.priority, RP_PRIORITY_HIGH);
    CU_ASSERT_EQUAL(d.backend, RP_BACKEND_CPU);
    CU_ASSERT_EQUAL(d.max_retries, 2);
    CU_ASSERT_EQUAL(d.timeout_ms, 500);
    CU_ASSERT_TRUE(d.checkpoint);
    CU_ASSERT_FALSE(d.function);
    rp__console_job_desc_free(&d);
    CU_ASSERT_PTR_NULL(d.name);
    CU_ASSERT_PTR_NULL(d.command);

    /* What is left out takes its default. */
    CU_ASSERT_EQUAL_FATAL(
        rp__console_job_desc_parse("{\"v\":1,\"kind\":\"process\",\"argv\":[\"/bin/true\"]}", 1, &d),
        RP_OK);
    CU_ASSERT_PTR_NULL(d.name);
    CU_ASSERT_STRING_EQUAL(d.command, "/bin/true");
    CU_ASSERT_EQUAL(d.priority, RP_PRIORITY_NORMAL);
    CU_ASSERT_EQUAL(d.backend, RP_BACKEND_ANY);
    CU_ASSERT_EQUAL(d.max_retries, 0);
    CU_ASSERT_EQUAL(d.timeout_ms, 0);
    CU_ASSERT_FALSE(d.checkpoint);
    rp__console_job_desc_free(&d);

    /* Every priority and backend name. */
    static const char *const prios[] = { "low", "normal", "high", "critical" };
    static const char *const backends[] = { "any", "cpu", "gpu", "remote" };
    for (int i = 0; i < 4; i++) {
        char buf[256];
        snprintf(buf, sizeof buf,
                 "{\"kind\":\"process\",\"argv\":[\"a\"],\"priority\":\"%s\",\"backend\":\"%s\"}",
                 prios[i], backends[i]);
        CU_ASSERT_EQUAL_FATAL(rp__console_job_desc_parse(buf, 1, &d), RP_OK);
        CU_ASSERT_EQUAL((int)d.priority, i);
        CU_ASSERT_EQUAL((int)d.backend, i);
        rp__console_job_desc_free(&d);
    }
}

static void
job_desc_parses_a_function_task(void)
{
    struct rp_console_job_desc d;

    CU_ASSERT_EQUAL_FATAL(rp__console_job_desc_parse("{\"kind\":\"function\"}", 3, &d), RP_OK);
    CU_ASSERT_TRUE(d.function);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d.command);
    CU_ASSERT_STRING_EQUAL(d.command, "fn()");
    CU_ASSERT_PTR_NULL(d.name);
    CU_ASSERT_EQUAL(d.total, 3);
    rp__console_job_desc_free(&d);

    CU_ASSERT_EQUAL_FATAL(
        rp__console_job_desc_parse("{\"v\":1,\"kind\":\"function\",\"name\":\"reduce\"}", 1, &d),
        RP_OK);
    CU_ASSERT_STRING_EQUAL(d.name, "reduce");
    CU_ASSERT_STRING_EQUAL(d.command, "fn()");
    rp__console_job_desc_free(&d);
}

static void
job_desc_refuses_what_is_not_a_json_object(void)
{
    static const char *const bad[] = {
        "", "{", "{\"kind\":", "not json", "[1,2]", "\"a string\"", "42", "null", "true",
        "{\"kind\":\"process\"",
    };
    struct rp_console_job_desc d;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&d, 0x55, sizeof d);
        rp_status st = rp__console_job_desc_parse(bad[i], 1, &d);
        if (st != RP_ERR_CORRUPT)
            fprintf(stderr, "\n  desc [%s]: %d\n", bad[i], (int)st);
        CU_ASSERT_EQUAL(st, RP_ERR_CORRUPT);
        CU_ASSERT_PTR_NULL(d.name);         /* cleared: safe to free */
        CU_ASSERT_PTR_NULL(d.command);
        rp__console_job_desc_free(&d);
    }
    memset(&d, 0x55, sizeof d);
    CU_ASSERT_EQUAL(rp__console_job_desc_parse(NULL, 1, &d), RP_ERR_CORRUPT);
    CU_ASSERT_PTR_NULL(d.command);
}

/* Tasks of jobs that arrived interleaved are still found by shard; the
 * queue position counts higher priorities and older ids only. */
static void
shards_found_and_queue_positions(void)
{
    struct rp_model m;

    rp__model_init(&m, 0);
    /* jobs 1 (tasks 1-3) and 2 (tasks 4-5), their events interleaved */
    apply(&m, 1, 1, 0, RP_TASK_QUEUED, 0, S);
    apply(&m, 4, 2, 0, RP_TASK_QUEUED, 0, S);
    apply(&m, 2, 1, 1, RP_TASK_QUEUED, 0, S);
    apply(&m, 5, 2, 1, RP_TASK_QUEUED, 0, S);
    apply(&m, 3, 1, 2, RP_TASK_QUEUED, 0, S);
    for (unsigned sh = 0; sh < 3; sh++) {
        struct rp_model_task *t = rp__model_job_task(&m, rp__model_job(&m, 1), sh);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT_EQUAL(t->id, 1 + sh);
    }
    CU_ASSERT_EQUAL(rp__model_job_task(&m, rp__model_job(&m, 2), 1)->id, 5);
    CU_ASSERT_PTR_NULL(rp__model_job_task(&m, rp__model_job(&m, 2), 2));

    struct rp_console_job_desc d;
    memset(&d, 0, sizeof d);
    d.priority = RP_PRIORITY_HIGH;
    d.total = 2;
    rp__model_describe(&m, job_index(&m, 2), &d);
    /* Job 2 is high: its tasks go first; task 3 (normal) waits for 1, 2, 4, 5. */
    CU_ASSERT_EQUAL(rp__model_ahead_of(&m, rp__model_task(&m, 3)), 4);
    CU_ASSERT_EQUAL(rp__model_ahead_of(&m, rp__model_task(&m, 4)), 0);
    CU_ASSERT_EQUAL(rp__model_ahead_of(&m, rp__model_task(&m, 5)), 1);
    /* Running or backing-off tasks are not in line. */
    apply(&m, 1, 1, 0, RP_TASK_RUNNING, 1, 2 * S);
    apply(&m, 2, 1, 1, RP_TASK_RUNNING, 1, 2 * S);
    apply(&m, 2, 1, 1, RP_TASK_QUEUED, 1, 3 * S);      /* waiting to retry */
    CU_ASSERT_EQUAL(rp__model_ahead_of(&m, rp__model_task(&m, 3)), 2);

    /* Descriptions are asked for in order, once each. */
    CU_ASSERT_EQUAL(rp__model_next_undescribed(&m), 0);
    describe(&m, 1, "one", "/bin/one", 3);
    CU_ASSERT_EQUAL(rp__model_next_undescribed(&m), 2);
    rp__model_free(&m);
}

/* A snapshot replaces the arrays the rows pointed into: no row survives
 * it until the rows are rebuilt. */
static void
load_drops_the_rows(void)
{
    struct rp_model m;
    struct rp_console_snapshot snap;
    rp_task_info one;

    rp__model_init(&m, 0);
    for (rp_task_id id = 1; id <= 50; id++)
        apply(&m, id, id, 0, RP_TASK_QUEUED, 0, S);
    rp__model_rows(&m, S);
    CU_ASSERT_EQUAL(m.nrows, 50);
    memset(&snap, 0, sizeof snap);
    memset(&one, 0, sizeof one);
    one.id = 7;
    one.job = 7;
    one.total_shards = 1;
    one.state = RP_TASK_SUCCEEDED;
    one.worker = -1;
    snap.tasks = &one;
    snap.ntasks = 1;
    rp__model_load(&m, &snap, 2 * S);
    CU_ASSERT_EQUAL(m.nrows, 0);
    CU_ASSERT_TRUE(m.rows_dirty);
    rp__model_rows(&m, 2 * S);
    CU_ASSERT_EQUAL(m.nrows, 1);
    CU_ASSERT_EQUAL(m.rows[0].job, 0);
    rp__model_free(&m);
}

static const rp_test_case cases[] = {
    { "shards_found_and_queue_positions", shards_found_and_queue_positions },
    { "load_drops_the_rows", load_drops_the_rows },
    /* model */
    { "events_add_tasks_and_jobs_found_by_id", events_add_tasks_and_jobs_found_by_id },
    { "job_state_rolls_up_like_rp_job_info", job_state_rolls_up_like_rp_job_info },
    { "stale_events_do_not_change_the_model", stale_events_do_not_change_the_model },
    { "retry_sequence_applies_in_full", retry_sequence_applies_in_full },
    { "events_older_than_a_snapshot_are_ignored", events_older_than_a_snapshot_are_ignored },
    { "filter_matches_id_label_command_and_state_in_any_case",
      filter_matches_id_label_command_and_state_in_any_case },
    { "sort_names_round_trip", sort_names_round_trip },
    { "each_sort_orders_the_jobs", each_sort_orders_the_jobs },
    { "rows_are_rebuilt_only_when_dirty", rows_are_rebuilt_only_when_dirty },
    { "rows_of_an_empty_model_are_empty", rows_of_an_empty_model_are_empty },
    { "expanded_job_lists_its_tasks_by_shard_after_its_row",
      expanded_job_lists_its_tasks_by_shard_after_its_row },
    { "tags_toggle_count_and_clear", tags_toggle_count_and_clear },
    { "load_keeps_descriptions_expansion_and_tags_of_jobs_still_there",
      load_keeps_descriptions_expansion_and_tags_of_jobs_still_there },
    { "history_zeroes_gaps_and_drops_old_seconds", history_zeroes_gaps_and_drops_old_seconds },
    { "rate_counts_complete_seconds_only", rate_counts_complete_seconds_only },
    { "elapsed_of_tasks_and_jobs", elapsed_of_tasks_and_jobs },
    { "worker_load_is_busy_time_over_elapsed_time", worker_load_is_busy_time_over_elapsed_time },
    { "ten_thousand_tasks_sort_and_expand_consistently",
      ten_thousand_tasks_sort_and_expand_consistently },
    /* layout */
    { "layout_tiles_the_screen", layout_tiles_the_screen },
    { "layout_side_by_side_from_160_columns", layout_side_by_side_from_160_columns },
    { "layout_zoom_gives_the_jobs_room_to_detail", layout_zoom_gives_the_jobs_room_to_detail },
    { "layout_below_80x24_is_too_small", layout_below_80x24_is_too_small },
    { "layout_worker_pane_grows_up_to_about_30_percent",
      layout_worker_pane_grows_up_to_about_30_percent },
    { "layout_scroll_keeps_the_cursor_visible", layout_scroll_keeps_the_cursor_visible },
    { "layout_contains_and_pane_rows", layout_contains_and_pane_rows },
    /* command line */
    { "split_words_like_a_shell", split_words_like_a_shell },
    { "split_empty_and_blank_lines_give_no_words", split_empty_and_blank_lines_give_no_words },
    { "split_unterminated_quotes_and_trailing_backslash_fail",
      split_unterminated_quotes_and_trailing_backslash_fail },
    { "parse_id_takes_decimal_with_hash_or_t", parse_id_takes_decimal_with_hash_or_t },
    /* preferences */
    { "prefs_round_trip_creating_directories", prefs_round_trip_creating_directories },
    { "prefs_save_fails_cleanly_where_it_cannot_write",
      prefs_save_fails_cleanly_where_it_cannot_write },
    { "prefs_path_follows_xdg_state_home_then_home", prefs_path_follows_xdg_state_home_then_home },
    { "prefs_missing_file_gives_defaults", prefs_missing_file_gives_defaults },
    { "prefs_skip_damaged_lines_and_unknown_keys", prefs_skip_damaged_lines_and_unknown_keys },
    { "prefs_ignore_over_long_values", prefs_ignore_over_long_values },
    { "prefs_ignore_an_over_long_line_whole", prefs_ignore_an_over_long_line_whole },
    { "prefs_filter_with_a_newline_keeps_the_file_whole",
      prefs_filter_with_a_newline_keeps_the_file_whole },
    /* sources */
    { "join_argv_quotes_only_where_needed", join_argv_quotes_only_where_needed },
    { "job_desc_parses_a_process_task", job_desc_parses_a_process_task },
    { "job_desc_parses_a_function_task", job_desc_parses_a_function_task },
    { "job_desc_refuses_what_is_not_a_json_object", job_desc_refuses_what_is_not_a_json_object },
    { NULL, NULL },
};

const rp_test_suite rp_test_suite_console = { .name = "console", .cases = cases };
