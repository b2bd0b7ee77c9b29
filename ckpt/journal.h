/*
 * journal.h (internal) -- the durable record of a pool's jobs and tasks:
 * the jobs, tasks and events tables of the store (docs/store.md), written
 * by one thread that group-commits whatever the engine handed it since
 * its last commit.
 *
 * The engine calls the rp__journal_* writers under its own lock; they only
 * queue an operation and return its sequence number. rp__journal_wait
 * blocks until that operation is on disk. A submission's operation
 * (struct rp__jjob) lives with its submitter, who learns whether its
 * commit succeeded; state changes that fail to commit are kept and tried
 * again with the next commit, so a full disk delays them but loses none.
 *
 * Lock order: engine lock, then the journal's.
 */
#ifndef RP_CKPT_JOURNAL_H
#define RP_CKPT_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <repartir.h>

typedef struct rp__journal rp__journal;

/* Opens the journal of the store in `dir` (already opened and migrated by
 * rp_ckpt_open): takes the state dir's lock (RP_ERR_BUSY when another pool
 * holds it), opens its own connections and starts the writer thread. */
rp_status rp__journal_open(const char *dir, rp__journal **out /* OUT */, char **why /* OUT */);
/* Commits what is queued (trying a failing commit a few more times), stops
 * the writer, releases the lock. */
void rp__journal_close(rp__journal *j);

/* The highest task and job ids the store has seen (0 if none). */
rp_status rp__journal_max_ids(rp__journal *j, uint64_t *task /* OUT */, uint64_t *job /* OUT */);

/* ---- recovery: reading what an earlier pool left ---- */

/* A task row, as recovery and lookups see it. */
struct rp__jtask {
    rp_task_id id, origin;
    rp_job_id job;
    unsigned shard, total, attempts, interrupted;
    rp_task_state state;
    pid_t pid;                       /* the running attempt's, or 0 */
    uint64_t pid_start;              /* its start time (/proc/PID/stat), or 0 */
    int64_t submitted_ms;
};
/* Calls fn for every queued or running task, by id. */
rp_status rp__journal_unfinished(rp__journal *j, void (*fn)(void *ctx, const struct rp__jtask *t),
                                 void *ctx);
/* A job's description and how many of its tasks are in each state. */
rp_status rp__journal_job(rp__journal *j, rp_job_id job, char **spec_json /* OUT */,
                          void **stdin_data /* OUT */, size_t *stdin_len /* OUT */,
                          unsigned count[RP_TASK_STATE_COUNT] /* OUT */);
/* Marks every running task of the store queued again, its attempt counted
 * as interrupted. One transaction, committed before it returns. */
rp_status rp__journal_requeue_running(rp__journal *j);

/* ---- lookups of tasks the engine no longer holds ---- */

/* RP_ERR_NOT_FOUND if the store has no such task. *result (may be NULL)
 * gets a result built from the row when the task is final, else NULL. */
rp_status rp__journal_task(rp__journal *j, rp_task_id id, struct rp__jtask *out /* OUT */,
                           rp_result **result /* OUT, may be NULL */);

/* ---- writing ---- */

/* A submission: one job row and `total` task rows, ids first_task... The
 * submitter owns it (on its stack) until rp__journal_wait_job returns. */
struct rp__jjob {
    /* in */
    rp_job_id job;
    rp_task_id first_task;
    unsigned total;
    const char *name;                /* may be NULL */
    const char *kind;                /* "process" or "function" */
    char *spec_json;                 /* the submitter's */
    const void *stdin_data;
    size_t stdin_len;
    rp_task_id origin;               /* 0: each task is its own origin */
    rp_task_id restored_from;        /* 0 if not a restore */
    /* private */
    uint64_t seq;
    rp_status status;
    bool done;
    struct rp__jjob *next;
};
/* Queues the submission. */
void rp__journal_add_job(rp__journal *j, struct rp__jjob *op);
/* Waits until it was committed (RP_OK) or its commit failed (RP_ERR_IO,
 * *why = the reason, the caller frees it). */
rp_status rp__journal_wait_job(rp__journal *j, struct rp__jjob *op, char **why /* OUT */);

/* A state change of task t: its new state and attempt counts, and for a
 * final state the result (a reference is taken). Returns the sequence
 * number to wait for. */
uint64_t rp__journal_state(rp__journal *j, rp_task_id id, rp_job_id job, rp_task_state state,
                           unsigned attempts, unsigned interrupted, rp_result *result);
/* The process running task id's current attempt (for recovery to kill). */
void rp__journal_pid(rp__journal *j, rp_task_id id, pid_t pid, uint64_t pid_start);
/* Waits until every operation up to seq had its commit tried (on a failure
 * it is tried again later; the caller does not wait for that). */
void rp__journal_wait(rp__journal *j, uint64_t seq);

#endif /* RP_CKPT_JOURNAL_H */
