/*
 * demo.c -- the `--demo` workload (demo.h). Everything goes through the
 * source's submit, exactly as the form would send it.
 */
#include "tui/demo.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/alloc.h"
#include "tui/console.h"

#define TRICKLE_NS 2500000000ull    /* a small job every 2.5 s */
#define DEMO_ROUNDS 120             /* ... for about five minutes */

struct rp_demo {
    uint64_t next_ns;
    unsigned round;
};

/* A counter that saves its state to $REPARTIR_CHECKPOINT_FILE every step
 * and, restored, goes on from $REPARTIR_RESTORE_FILE. */
static const char checkpointing[] =
    "i=0; [ -n \"$REPARTIR_RESTORE_FILE\" ] && i=$(cat \"$REPARTIR_RESTORE_FILE\"); "
    "trap '' USR1; "
    "while [ $i -lt 90 ]; do i=$((i+1)); "
    "echo $i > \"$REPARTIR_CHECKPOINT_FILE.tmp\" && "
    "mv \"$REPARTIR_CHECKPOINT_FILE.tmp\" \"$REPARTIR_CHECKPOINT_FILE\"; "
    "echo \"step $i\"; sleep 1; done";

struct demo_job {
    const char *name;
    const char *script;             /* sh -c SCRIPT */
    unsigned shards, retries, timeout_ms;
    rp_priority priority;
    bool checkpoint;
};

static const struct demo_job first_jobs[] = {
    { "warm-up", "echo hello from shard $REPARTIR_SHARD; sleep 0.5", 8, 0, 0,
      RP_PRIORITY_NORMAL, false },
    { "render frames", "sleep $((REPARTIR_SHARD % 5 + 2)); echo frame $REPARTIR_SHARD done", 24,
      0, 0, RP_PRIORITY_NORMAL, false },
    { "train model", "for e in 1 2 3 4 5 6 7 8 9 10 11 12; do echo epoch $e; sleep 5; done", 1,
      0, 0, RP_PRIORITY_HIGH, false },
    { "flaky upload", "echo 'connecting to storage...'; sleep 1; "
                      "echo 'error: disk quota exceeded' >&2; exit 3",
      1, 2, 0, RP_PRIORITY_NORMAL, false },
    { "nightly backup", "sleep 600", 1, 0, 0, RP_PRIORITY_LOW, false },
    { "too slow", "sleep 30", 1, 0, 4000, RP_PRIORITY_NORMAL, false },
    { "counter (checkpoints)", checkpointing, 1, 0, 0, RP_PRIORITY_NORMAL, true },
};

static bool
submit(struct rp_console *c, const struct demo_job *d)
{
    char *argv[] = { "/bin/sh", "-c", (char *)d->script };
    struct rp_console_submit req = {
        .argv = argv,
        .argc = 3,
        .name = d->name,
        .shards = d->shards,
        .priority = d->priority,
        .backend = RP_BACKEND_ANY,
        .timeout_ms = d->timeout_ms,
        .retries = d->retries,
        .checkpoint = d->checkpoint,
    };
    rp_job_id job;
    rp_task_id first;
    char *why = NULL;
    rp_status st = c->src->ops->submit(c->src, &req, &job, &first, &why);

    if (st != RP_OK)
        rp__console_say(c, true, "demo: %s: %s", d->name, why ? why : rp_strerror(st));
    free(why);
    return st == RP_OK;
}

struct rp_demo *
rp__demo_start(struct rp_console *c)
{
    struct rp_demo *d = rp_xcalloc(1, sizeof *d);
    unsigned ok = 0;

    for (size_t i = 0; i < sizeof first_jobs / sizeof first_jobs[0]; i++) {
        if (first_jobs[i].checkpoint && !c->src->durable)
            continue;               /* checkpoints need a store */
        ok += submit(c, &first_jobs[i]);
    }
    if (ok == 0) {
        free(d);
        return NULL;
    }
    if (!c->status_error)
        rp__console_say(c, false, "demo: %u jobs submitted; more arrive every few seconds. "
                                  "Press ? for the keys.", ok);
    d->next_ns = 0;
    return d;
}

uint64_t
rp__demo_next_ns(const struct rp_demo *d)
{
    return d->round >= DEMO_ROUNDS ? UINT64_MAX : d->next_ns;
}

void
rp__demo_tick(struct rp_demo *d, struct rp_console *c, uint64_t now_ns)
{
    static const struct demo_job trickle[] = {
        { "thumbnails", "sleep 0.$((REPARTIR_SHARD % 9 + 1))", 12, 0, 0, RP_PRIORITY_NORMAL,
          false },
        { "checksum", "sha256sum /bin/sh >/dev/null; sleep 0.3", 6, 0, 0, RP_PRIORITY_NORMAL,
          false },
        { "etl batch", "sleep 1; echo rows=$((REPARTIR_SHARD * 1000))", 4, 0, 0,
          RP_PRIORITY_HIGH, false },
    };

    if (d == NULL || d->round >= DEMO_ROUNDS)
        return;
    if (d->next_ns != 0)
        submit(c, &trickle[d->round % (sizeof trickle / sizeof trickle[0])]);
    d->round++;
    d->next_ns = now_ns + TRICKLE_NS;
}

void
rp__demo_stop(struct rp_demo *d)
{
    free(d);
}
