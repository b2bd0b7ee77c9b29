/*
 * report.h -- what the commands that run work share (cli/report.c): the
 * SIGINT/SIGTERM handler, opening the embedded pool (durable or not),
 * waiting for a job's tasks, and printing their results the way
 * `repartir run` does. `run` and `restore` use all of it, `resume` the
 * first two.
 */
#ifndef RP_CLI_REPORT_H
#define RP_CLI_REPORT_H

#include <stdbool.h>

#include <cjson/cJSON.h>
#include <repartir.h>

/* Installs the handler of SIGINT and SIGTERM: the first one is only
 * recorded (rp_cli_interrupted); SA_RESETHAND gives a second one the
 * default action, which ends the process at once. Call it before the pool
 * starts, so no signal can end us with children left. */
void rp_cli_catch_interrupts(void);
/* The first SIGINT or SIGTERM received since then, or 0. Any thread. */
int rp_cli_interrupted(void);

/* Starts a pool of `workers` (0: one per CPU), durable on state_dir when
 * that is not NULL (recovering what an earlier pool left there). Returns
 * RP_EXIT_OK with *out, or RP_EXIT_ERROR after saying why on stderr
 * (another pool holds the state dir, the store cannot be opened, no
 * threads). `command` names the command in messages. The caller shuts
 * *out down with rp_pool_shutdown. */
struct rp_cli_remote;
/* remote (may be NULL): --worker & co. (cli/remote.h), applied to the
 * pool; RP_EXIT_USAGE if they do not check out. gpu: open the GPU too
 * (rp_pool_config.gpu). */
int rp_cli_pool_open(const char *command, int workers, const char *state_dir,
                     struct rp_cli_remote *remote, bool gpu,
                     rp_pool **out /* OUT */);

/* One line on stderr when the durable pool recovered unfinished work from
 * its store ("N queued, M interrupted, K killed, U unrecoverable"), since
 * that work now runs in this process too; nothing when there was none. */
void rp_cli_note_recovery(rp_pool *pool, const char *state_dir);

/* A job being waited for, and what its tasks produced. Fill pool, job and
 * ids[] (rp_cli_job_init allocates them), then rp_cli_job_collect. */
struct rp_cli_job {
    /* public */
    rp_pool *pool;
    rp_job_id job;
    unsigned shards;
    rp_task_id *ids;            /* in shard order */
    bool progress;              /* a line on stderr as each task ends */
    /* read-only */
    rp_result **results;        /* in shard order; NULL until collected */
    unsigned collected;
    unsigned first_pending;     /* every shard below it is collected */
    bool cancelled;             /* rp_cancel_job was called */
};

/* Sets j up for a job of `shards` tasks on pool; progress is on when
 * stderr is a terminal. */
void rp_cli_job_init(struct rp_cli_job *j, rp_pool *pool, unsigned shards);
/* Frees ids, the results and what collecting allocated (not the pool). */
void rp_cli_job_free(struct rp_cli_job *j);

/* Waits for every task of the job and keeps its result: with sub (a
 * subscription taken before the job was submitted) in the order they end,
 * with a progress line each; without, in shard order. When a SIGINT or
 * SIGTERM arrives it cancels the job and goes on collecting: cancelled
 * tasks end quickly. Errors: what rp_wait or the bus say when they lose
 * track of a task. */
rp_status rp_cli_job_collect(struct rp_cli_job *j, rp_subscription *sub);

/* Prints the collected results, after the pool has shut down: each task's
 * output passed through in shard order, or with json one JSON document
 * ({"job": J, <head's members>, "tasks": [...], "succeeded": S, "failed":
 * F}; head may be NULL; it is not freed). Returns the exit status: 0 if
 * every task succeeded, 1 if not or stdout could not be written, 128+N
 * after signal N. */
int rp_cli_job_report(const struct rp_cli_job *j, bool json, const cJSON *head);

#endif /* RP_CLI_REPORT_H */
