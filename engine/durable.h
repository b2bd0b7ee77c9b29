/*
 * durable.h (internal) -- what a pool with a state dir adds to the engine:
 * the checkpoint store, the journal of jobs and tasks (ckpt/journal.h),
 * and one I/O thread for the process checkpoint protocol (reading a
 * program's checkpoint file into the store, writing the restore file
 * before an attempt), so that neither the loop thread nor a submitter
 * waits for a multi-megabyte save.
 *
 * Files: DIR/run/<task id>/ holds a checkpointing task's files while it
 * lives: `checkpoint` (the program renames its state onto it), `restore`
 * (the copy an attempt starts from), `ingested` (which version of
 * `checkpoint` the store has, so none is saved twice).
 */
#ifndef RP_ENGINE_DURABLE_H
#define RP_ENGINE_DURABLE_H

#include <stdbool.h>
#include <stdint.h>

#include <repartir.h>

#include "ckpt/journal.h"

typedef struct rp__durable rp__durable;

rp_status rp__durable_open(const char *dir, rp__durable **out /* OUT */, char **why /* OUT */);
/* Runs what the I/O thread has queued, stops it, closes the journal and
 * the store. After the engine has stopped. */
void rp__durable_close(rp__durable *d);

rp_ckpt *rp__durable_store(rp__durable *d);
rp__journal *rp__durable_journal(rp__durable *d);

/* Runs fn(arg) on the I/O thread, in posting order. */
void rp__durable_post(rp__durable *d, void (*fn)(void *arg), void *arg);

/* The checkpoint key of tasks restored from `origin`: "task/<origin>". */
void rp__durable_key(rp_task_id origin, char buf[32]);
/* DIR/run/<id> (malloc'd). */
char *rp__durable_run_dir(rp__durable *d, rp_task_id id);

/* I/O thread. Saves DIR/run/<id>/checkpoint into the store under the key
 * of origin if it is a version not saved yet; keeps the newest
 * RP_TASK_CHECKPOINTS_KEPT. */
void rp__durable_ingest(rp__durable *d, rp_task_id id, rp_task_id origin);
/* I/O thread. Makes DIR/run/<id>/, saves a version of its checkpoint file
 * the store lacks (one a crash kept from being saved), and writes the
 * newest checkpoint of origin's key to DIR/run/<id>/restore. *restore =
 * that path (malloc'd), or NULL when the key has no checkpoint;
 * *checkpoint = the checkpoint file's path (malloc'd). RP_ERR_IO with
 * *why if the directory cannot be made. */
rp_status rp__durable_prepare(rp__durable *d, rp_task_id id, rp_task_id origin,
                              char **checkpoint /* OUT */, char **restore /* OUT */,
                              char **why /* OUT */);
/* Removes DIR/run/<id> (any thread: it posts the work). */
void rp__durable_forget_run(rp__durable *d, rp_task_id id);
/* At open: removes every DIR/run/<id> for which keep(ctx, id) is false. */
void rp__durable_sweep_runs(rp__durable *d, bool (*keep)(void *ctx, rp_task_id id), void *ctx);

/* The start time of process pid (field 22 of /proc/PID/stat, clock ticks
 * since boot), or 0 if it cannot be read. A pid and its start time name
 * one process for good. */
uint64_t rp__process_start_time(pid_t pid);

#endif /* RP_ENGINE_DURABLE_H */
