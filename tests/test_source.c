/*
 * test_source.c -- the console's embedded console_source: the forwarding
 * thread, the wake-up descriptor, snapshots and actions, checked against
 * the engine itself. Concurrent (the forwarder): also run under TSan.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <repartir.h>

#include "tests/testing.h"
#include "tui/model.h"
#include "tui/source.h"

static rp_console_source *
open_source(int workers)
{
    rp_pool_config cfg;
    rp_console_source *src = NULL;
    char *why = NULL;

    rp_pool_config_init(&cfg);
    cfg.cpu_workers = workers;
    CU_ASSERT_EQUAL_FATAL(rp__console_source_embedded(&cfg, &src, &why), RP_OK);
    CU_ASSERT_PTR_NULL(why);
    CU_ASSERT_FALSE(src->durable);
    return src;
}

static rp_job_id
submit_sh(rp_console_source *src, const char *script, unsigned shards, rp_task_id *first)
{
    char *argv[] = { "/bin/sh", "-c", (char *)script };
    struct rp_console_submit req = { .argv = argv, .argc = 3, .shards = shards,
                                     .priority = RP_PRIORITY_NORMAL,
                                     .backend = RP_BACKEND_ANY };
    rp_job_id job = 0;
    char *why = NULL;

    CU_ASSERT_EQUAL(src->ops->submit(src, &req, &job, first, &why), RP_OK);
    CU_ASSERT_PTR_NULL(why);
    free(why);
    return job;
}

/* Waits on the wake-up descriptor and applies events until the model has
 * `total` final tasks, or 10 s pass. */
static bool
follow(rp_console_source *src, struct rp_model *m, size_t total)
{
    double deadline = rp_test_now() + 10 * rp_test_slowdown();

    for (;;) {
        size_t final = 0;
        for (size_t i = 0; i < m->ntasks; i++)
            final += rp_task_state_is_final(m->tasks[i].state);
        if (final >= total)
            return true;
        if (rp_test_now() > deadline)
            return false;
        struct pollfd p = { .fd = src->ops->wake_fd(src), .events = POLLIN };
        poll(&p, 1, 100);
        rp_event ev[64];
        uint64_t lost = 0;
        size_t n;
        while ((n = src->ops->events(src, ev, 64, &lost)) > 0)
            for (size_t i = 0; i < n; i++)
                rp__model_apply(m, &ev[i]);
        CU_ASSERT_EQUAL(lost, 0);
    }
}

/* Events through the forwarder, the wake-up, and the model agree with a
 * snapshot taken afterwards; every task is seen, each final once. */
static void
events_build_the_same_model_as_a_snapshot(void)
{
    rp_console_source *src = open_source(2);
    struct rp_model live, snap_model;
    struct rp_console_snapshot snap;
    rp_task_id first;
    size_t n = 60 / rp_test_slowdown() + 6;

    rp__model_init(&live, 0);
    rp_job_id mixed = submit_sh(src, "exit $((REPARTIR_SHARD % 3))", (unsigned)n, &first);
    submit_sh(src, "true", 4, &first);
    CU_ASSERT_TRUE_FATAL(follow(src, &live, n + 4));
    CU_ASSERT_EQUAL(live.ntasks, n + 4);
    CU_ASSERT_EQUAL(live.njobs, 2);

    CU_ASSERT_EQUAL_FATAL(src->ops->snapshot(src, &snap), RP_OK);
    CU_ASSERT_EQUAL(snap.ntasks, n + 4);
    CU_ASSERT(snap.nworkers >= 2);
    rp__model_init(&snap_model, 0);
    rp__model_load(&snap_model, &snap, 0);
    for (size_t i = 0; i < snap.ntasks; i++) {
        struct rp_model_task *a = rp__model_task(&live, snap.tasks[i].id);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_EQUAL(a->state, snap.tasks[i].state);
        CU_ASSERT_EQUAL(a->exit_code, snap.tasks[i].exit_code);
        CU_ASSERT_EQUAL(a->worker, snap.tasks[i].worker);
    }
    /* exit 0, 1, 2 by shard: a third succeeded. */
    struct rp_model_job *j = rp__model_job(&snap_model, mixed);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(j->count[RP_TASK_SUCCEEDED], (n + 2) / 3);
    CU_ASSERT_EQUAL(rp__model_job_state(j), RP_TASK_FAILED);
    rp__console_snapshot_free(&snap);
    rp__model_free(&live);
    rp__model_free(&snap_model);
    src->ops->close(src);
}

/* Descriptions and details through the source: the command, the output,
 * the exit; cancel ends a sleeping task; restore without a store says why. */
static void
details_and_actions(void)
{
    rp_console_source *src = open_source(2);
    struct rp_console_job_desc d;
    struct rp_console_detail det;
    struct rp_model m;
    rp_task_id t1, t2;
    rp_restore_info info;
    char *why = NULL;

    rp__model_init(&m, 0);
    submit_sh(src, "echo out-$REPARTIR_SHARD; echo err >&2; exit 4", 1, &t1);
    CU_ASSERT_TRUE_FATAL(follow(src, &m, 1));
    CU_ASSERT_EQUAL(src->ops->job_desc(src, t1, 0, &d), RP_OK);
    CU_ASSERT_EQUAL(d.total, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d.command);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.command, "/bin/sh -c 'echo out-"));
    rp__console_job_desc_free(&d);

    CU_ASSERT_EQUAL_FATAL(src->ops->detail(src, t1, &det), RP_OK);
    CU_ASSERT_TRUE(det.has_result);
    CU_ASSERT_EQUAL(det.info.state, RP_TASK_FAILED);
    CU_ASSERT_EQUAL(det.info.exit_code, 4);
    CU_ASSERT_STRING_EQUAL(det.out, "out-0\n");
    CU_ASSERT_STRING_EQUAL(det.err, "err\n");
    CU_ASSERT_STRING_EQUAL(det.ckpt_key, "");
    rp__console_detail_free(&det);

    submit_sh(src, "sleep 30", 1, &t2);
    CU_ASSERT_EQUAL(src->ops->cancel(src, t2, &why), RP_OK);
    CU_ASSERT_PTR_NULL(why);
    CU_ASSERT_TRUE(follow(src, &m, 2));
    CU_ASSERT_EQUAL(rp__model_task(&m, t2)->state, RP_TASK_CANCELLED);

    CU_ASSERT_EQUAL(src->ops->restore(src, t1, &info, &why), RP_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL_FATAL(why);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "--state-dir"));
    free(why);
    CU_ASSERT_EQUAL(src->ops->detail(src, 999999, &det), RP_ERR_NOT_FOUND);
    rp__model_free(&m);
    src->ops->close(src);
}

/* Bad submissions are refused with a reason, and nothing runs. */
static void
bad_submissions_say_why(void)
{
    rp_console_source *src = open_source(1);
    char *empty[] = { "" };
    char *argv[] = { "true" };
    struct rp_console_submit req = { .argv = empty, .argc = 1, .shards = 1 };
    rp_job_id job;
    rp_task_id first;
    char *why = NULL;
    rp_stats st;

    CU_ASSERT_EQUAL(src->ops->submit(src, &req, &job, &first, &why), RP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(why);
    free(why);
    why = NULL;
    req.argv = argv;
    req.checkpoint = true;          /* no store */
    CU_ASSERT_EQUAL(src->ops->submit(src, &req, &job, &first, &why), RP_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL_FATAL(why);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "store"));
    free(why);
    why = NULL;
    req.checkpoint = false;
    req.backend = RP_BACKEND_GPU;
    CU_ASSERT_NOT_EQUAL(src->ops->submit(src, &req, &job, &first, &why), RP_OK);
    CU_ASSERT_PTR_NOT_NULL(why);
    free(why);
    CU_ASSERT_EQUAL(src->ops->stats(src, &st), RP_OK);
    CU_ASSERT_EQUAL(st.queued + st.running + st.succeeded + st.failed, 0);
    src->ops->close(src);
}

/* A close while events are still flowing joins the forwarder cleanly. */
static void
close_while_busy(void)
{
    for (int round = 0; round < 3; round++) {
        rp_console_source *src = open_source(2);
        rp_task_id first;
        submit_sh(src, "true", 50, &first);
        src->ops->close(src);
    }
}

static const rp_test_case cases[] = {
    { "events_build_the_same_model_as_a_snapshot", events_build_the_same_model_as_a_snapshot },
    { "details_and_actions", details_and_actions },
    { "bad_submissions_say_why", bad_submissions_say_why },
    { "close_while_busy", close_while_busy },
    { NULL, NULL },
};

const rp_test_suite rp_test_suite_source = { .name = "source", .cases = cases,
                                             .concurrent = true };
