/*
 * repartir/task.h -- tasks, jobs, results and the event bus.
 *
 * A task is one unit of work: a *process* (a program with its argv, env,
 * cwd and stdin bytes) or a *function* (a C callback run on a pool worker).
 * Build one with rp_task_new / rp_task_new_fn and the rp_task_set_* calls,
 * then hand it to rp_submit (one task) or rp_submit_job (N shards of it).
 * Each submission is a job; its tasks' states roll up into the job's.
 *
 * Task states: QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED |
 * TIMED_OUT. A failed attempt that may be transient (killed by a signal,
 * timed out, a non-zero exit when the task asked for that) goes back to
 * QUEUED after an exponential backoff with jitter, while its retry budget
 * lasts.
 *
 * Results are kept by the pool until somebody waits for them: rp_wait
 * hands out a reference (free it with rp_result_free) and may be called
 * again for the same task; the pool forgets a waited-for task only after
 * many newer ones have been waited for (RP_RESULTS_KEPT). A result nobody
 * waited for is never dropped. A durable pool (rp_pool_config.state_dir)
 * reads forgotten tasks, and those of earlier pools on its store, back
 * from the store (docs/store.md).
 *
 * Included by <repartir.h>; docs/tasks.md is the guide.
 */
#ifndef REPARTIR_TASK_H
#define REPARTIR_TASK_H

#include "common.h"
#include "pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t rp_task_id;          /* 0 is never a task */
typedef uint64_t rp_job_id;           /* 0 is never a job */
typedef struct rp_task rp_task;       /* a task description being built */
typedef struct rp_result rp_result;   /* what one task did; reference counted */

typedef enum {
    RP_TASK_QUEUED,
    RP_TASK_RUNNING,
    RP_TASK_SUCCEEDED,
    RP_TASK_FAILED,
    RP_TASK_CANCELLED,
    RP_TASK_TIMED_OUT
} rp_task_state;

#define RP_TASK_STATE_COUNT 6

/* "queued", "running", "succeeded", "failed", "cancelled", "timed_out";
 * "unknown" for other values. Static storage. */
RP_API const char *rp_task_state_name(rp_task_state s);
/* True for SUCCEEDED, FAILED, CANCELLED and TIMED_OUT. */
RP_API bool rp_task_state_is_final(rp_task_state s);

/* How many waited-for tasks the pool remembers before it forgets the
 * oldest (their rp_wait then returns RP_ERR_NOT_FOUND). */
#define RP_RESULTS_KEPT 4096
/* Default bound on each captured stream; the tail is kept. */
#define RP_CAPTURE_DEFAULT ((size_t)1 << 20)

/* ---- building a task (not thread-safe: one thread builds a task) ---- */

/* A process task running `binary`: a path, or a name looked up in the PATH
 * of this process. argv[0] is `binary`; add the rest with rp_task_add_arg.
 * NULL if binary is NULL or empty. */
RP_API rp_task *rp_task_new(const char *binary);

/* A function task: fn(arg) runs on a pool worker; its return value is the
 * exit code (0 = success). Function tasks cannot be interrupted: a running
 * one is not stopped by rp_cancel (it still ends CANCELLED) and they take
 * no timeout. At most cpu_workers run at once, so a function task must not
 * rp_wait for another function task: when every slot holds such a waiter,
 * none of the tasks they wait for can start (use rp_group_spawn/wait for
 * fork/join inside the pool). NULL if fn is NULL. */
typedef int (*rp_task_fn)(void *arg);
RP_API rp_task *rp_task_new_fn(rp_task_fn fn, void *arg);

/* A task that starts no process and succeeds at once: for health checks
 * and for measuring the engine (and, later, the wire) without a program's
 * cost. It runs as a function task does, but unlike one it can be kept in
 * a store, recovered, restored and sent to remote workers (its
 * description is "kind": "noop"). Never NULL. */
RP_API rp_task *rp_task_new_noop(void);

/* Appends one argument (copied). RP_ERR_UNSUPPORTED on a function task. */
RP_API rp_status rp_task_add_arg(rp_task *t, const char *arg);
/* Sets KEY=VALUE in the task's environment, over the inherited one (copied;
 * a later call for the same key wins). KEY non-empty, without '='. */
RP_API rp_status rp_task_set_env(rp_task *t, const char *key, const char *value);
/* Working directory of the process (copied). Default: this process's. */
RP_API rp_status rp_task_set_cwd(rp_task *t, const char *dir);
/* Bytes fed to the process's stdin (copied), then EOF. Default: /dev/null. */
RP_API rp_status rp_task_set_stdin(rp_task *t, const void *data, size_t len);
/* Where it may run. This build runs ANY and CPU; others: RP_ERR_UNSUPPORTED. */
RP_API rp_status rp_task_set_backend(rp_task *t, rp_backend b);
RP_API rp_status rp_task_set_priority(rp_task *t, rp_priority p);
/* Wall-clock limit per attempt; 0 = none. At the limit the process group
 * gets SIGTERM, then SIGKILL after the grace period. */
RP_API rp_status rp_task_set_timeout_ms(rp_task *t, unsigned ms);
/* Time between SIGTERM and SIGKILL on timeout or cancel; default 2000. */
RP_API rp_status rp_task_set_kill_grace_ms(rp_task *t, unsigned ms);
/* Attempts after the first one; default 0. At most 1000. */
RP_API rp_status rp_task_set_retries(rp_task *t, unsigned max_retries);
/* Delay before retry k (1-based): min(max_ms, base_ms * 2^(k-1)), times a
 * random factor in [0.5, 1]. Defaults 100 ms and 30 s; base_ms >= 1. */
RP_API rp_status rp_task_set_backoff(rp_task *t, unsigned base_ms, unsigned max_ms);
/* Also retry when the process exits with a non-zero code (default: only
 * signals and timeouts are retried; a spawn error never is). */
RP_API rp_status rp_task_set_retry_on_exit(rp_task *t, bool on);
/* Bytes kept of each of stdout and stderr (the tail); default
 * RP_CAPTURE_DEFAULT, at most 1 GiB; 0 = discard. */
RP_API rp_status rp_task_set_capture_limit(rp_task *t, size_t bytes);
/* A short label shown by the CLI and the console (copied). */
RP_API rp_status rp_task_set_name(rp_task *t, const char *name);

typedef enum {
    RP_LIMIT_CPU_SECONDS,     /* RLIMIT_CPU: SIGXCPU, then SIGKILL */
    RP_LIMIT_ADDRESS_SPACE,   /* RLIMIT_AS, bytes */
    RP_LIMIT_OPEN_FILES,      /* RLIMIT_NOFILE */
    RP_LIMIT_PROCESSES        /* RLIMIT_NPROC (counted per user by the kernel) */
} rp_limit;
/* Sets a resource limit (soft and hard) on the process before it starts. */
RP_API rp_status rp_task_set_limit(rp_task *t, rp_limit what, uint64_t value);

/* Recorded now, acted on by later layers (the remote executor and data
 * locality); accepted and kept. */
RP_API rp_status rp_task_add_data_dep(rp_task *t, const char *key);
/* Ships the regular file at `path` with a process task to the remote
 * worker that runs it, as `name` (relative: no "..", no leading '/') in
 * the attempt's run directory, which is the command's working directory
 * unless rp_task_set_cwd names another; its permission bits come along
 * (not set-user-ID). The file is hashed now (SHA-256) and sent once per
 * worker, which keeps it by hash; if it has changed when a worker asks
 * for it, that task fails. A task with files runs only on remote workers
 * (RP_BACKEND_ANY acts as RP_BACKEND_REMOTE; RP_BACKEND_CPU is
 * RP_ERR_UNSUPPORTED at submit). At most 256 files, names unique.
 * Errors: RP_ERR_INVALID (not a process task, bad or repeated name, too
 * many, not a regular file), RP_ERR_IO (cannot read it). */
RP_API rp_status rp_task_add_file(rp_task *t, const char *path, const char *name);
/* The checkpoint protocol for a process task (needs a pool with a state
 * dir; rp_submit refuses it otherwise with RP_ERR_UNSUPPORTED):
 *   - the process finds $REPARTIR_CHECKPOINT_FILE in its environment and,
 *     whenever it likes, writes its state to a temp file in the same
 *     directory and renames it onto that path;
 *   - every interval_ms (0 = the pool's checkpoint_interval_ms) it gets
 *     SIGUSR1 as a reminder, so a program that turns checkpointing on must
 *     handle or ignore SIGUSR1 (its default action ends the process);
 *   - each version that appears is saved in the pool's store, under the
 *     key rp_task_checkpoint_key gives, iterations 1, 2, 3, ...; the last
 *     RP_TASK_CHECKPOINTS_KEPT are kept;
 *   - a retried, recovered or restored attempt starts with
 *     $REPARTIR_RESTORE_FILE naming a copy of the last version (unset when
 *     there is none): it goes on from there.
 * Function tasks take no checkpoints (RP_ERR_UNSUPPORTED when on). */
RP_API rp_status rp_task_set_checkpoint(rp_task *t, bool on, unsigned interval_ms);
#define RP_TASK_CHECKPOINTS_KEPT 3

/* Frees a task that was not submitted. NULL is fine. */
RP_API void rp_task_free(rp_task *t);

/* ---- submitting, waiting, cancelling (thread-safe) ---- */

/* Submits t as a job of one task and takes ownership of t, whatever the
 * status. *out = the task's id. A durable pool returns once the job is
 * committed to its store. Errors: RP_ERR_INVALID (NULL arguments),
 * RP_ERR_UNSUPPORTED (a backend this build lacks; checkpointing without a
 * state dir), RP_ERR_SHUTDOWN, RP_ERR_IO (durable pools: the store could
 * not commit it; its tasks, *out included, end CANCELLED at once with the
 * reason as their error, and never run). */
RP_API rp_status rp_submit(rp_pool *pool, rp_task *t, rp_task_id *out /* OUT */);

/* rp_submit, and fn(arg, id) is called once when the task is final: on an
 * engine thread, with no lock held, soon after the state change; it may
 * call rp_wait(pool, id, 0, &r) (the result is there) and rp_submit, and
 * must not block. Not called for a task that ends while the pool shuts
 * down. For programs that must not poll (a worker daemon). */
typedef void (*rp_done_fn)(void *arg, rp_task_id id);
RP_API rp_status rp_submit_notify(rp_pool *pool, rp_task *t, rp_done_fn fn, void *arg,
                                  rp_task_id *out /* OUT */);

/* Submits `shards` copies of t as one job; shard i sees REPARTIR_SHARD=i
 * and REPARTIR_TOTAL_SHARDS=shards. Takes ownership of t. ids, if not
 * NULL, receives the shard's task ids in shard order (room for `shards`).
 * shards: 1 to 1,000,000. */
RP_API rp_status rp_submit_job(rp_pool *pool, rp_task *t, unsigned shards,
                               rp_job_id *job /* OUT, may be NULL */,
                               rp_task_id *ids /* OUT, may be NULL */);

/* Waits until task id is final, up to timeout_ms (-1 = forever, 0 = just
 * look), and gives a reference to its result. RP_ERR_TIMEOUT if still not
 * final, RP_ERR_NOT_FOUND for an id this pool does not know (or has
 * forgotten), RP_ERR_INVALID for bad arguments. */
RP_API rp_status rp_wait(rp_pool *pool, rp_task_id id, int timeout_ms,
                         rp_result **out /* OUT */);

/* Cancels a task: a queued one (or one waiting to retry) is removed and
 * ends CANCELLED at once; a running process gets SIGTERM on its whole
 * process group, SIGKILL after the grace period, and ends CANCELLED when
 * reaped. RP_OK also if it already ended (nothing changes). */
RP_API rp_status rp_cancel(rp_pool *pool, rp_task_id id);

/* Re-runs a finished task (succeeded, failed, cancelled or timed out) as a
 * new task, a job of its own with the same description, that starts from
 * the task's last checkpoint -- or from scratch when it has none
 * (rp_restore_detail says which). The new task keeps the same checkpoint
 * key, so restoring it again goes on from its own last checkpoint. id may
 * be a task of an earlier run of the same store. Needs a pool with a state
 * dir: RP_ERR_UNSUPPORTED without one, or for a function task (its code
 * lives in the process that submitted it). RP_ERR_BUSY if the task is
 * still queued or running, RP_ERR_NOT_FOUND for an unknown id, RP_ERR_IO
 * if the store failed, RP_ERR_SHUTDOWN. */
RP_API rp_status rp_restore(rp_pool *pool, rp_task_id id, rp_task_id *new_id /* OUT */);
typedef struct rp_restore_info {
    rp_task_id new_id;
    bool from_checkpoint;     /* false: no checkpoint, it starts from scratch */
    uint64_t iteration;       /* the checkpoint it starts from, if any */
} rp_restore_info;
/* rp_restore, telling where the new task starts. */
RP_API rp_status rp_restore_detail(rp_pool *pool, rp_task_id id, rp_restore_info *out /* OUT */);
/* The store key of task id's checkpoints ("task/<id>", or the key of the
 * task it was restored from), in buf (NUL-terminated, truncated to size).
 * RP_ERR_NOT_FOUND for an unknown id. */
RP_API rp_status rp_task_checkpoint_key(rp_pool *pool, rp_task_id id, char *buf, size_t size);

/* The state of a task now. */
RP_API rp_status rp_task_status(rp_pool *pool, rp_task_id id, rp_task_state *out /* OUT */);

/* ---- jobs ---- */

typedef struct rp_job_info {
    rp_job_id id;
    unsigned total;                          /* tasks in the job */
    unsigned count[RP_TASK_STATE_COUNT];     /* tasks per state, now */
    rp_task_state state;                     /* the roll-up, see below */
} rp_job_info;
/* Roll-up: QUEUED while every task is queued; RUNNING while any is not
 * final; once all are final: SUCCEEDED if all succeeded, else CANCELLED if
 * any was cancelled, else TIMED_OUT if any timed out, else FAILED. */
RP_API rp_status rp_job_get(rp_pool *pool, rp_job_id job, rp_job_info *out /* OUT */);
/* The job a task belongs to. */
RP_API rp_status rp_task_job(rp_pool *pool, rp_task_id id, rp_job_id *out /* OUT */);
/* Waits until every task of the job is final, up to timeout_ms (-1 =
 * forever, 0 = just look), then fills *out (may be NULL). One wake-up for
 * the whole job: collect the results afterwards with rp_wait(..., 0, ...).
 * RP_ERR_TIMEOUT, RP_ERR_NOT_FOUND, RP_ERR_INVALID as rp_wait. */
RP_API rp_status rp_job_wait(rp_pool *pool, rp_job_id job, int timeout_ms,
                             rp_job_info *out /* OUT, may be NULL */);
/* rp_cancel on every task of the job. */
RP_API rp_status rp_cancel_job(rp_pool *pool, rp_job_id job);

/* ---- results (a result is immutable: any thread may read it) ---- */

RP_API bool          rp_result_is_success(const rp_result *r);
RP_API rp_task_state rp_result_state(const rp_result *r);
RP_API int           rp_result_exit_code(const rp_result *r);  /* -1 if killed by a signal */
RP_API int           rp_result_signal(const rp_result *r);     /* 0 if it exited */
/* The captured bytes (the tail, when truncated); not NUL-terminated
 * (binary output stays intact). *len may be NULL. Never NULL. */
RP_API const char   *rp_result_stdout(const rp_result *r, size_t *len);
RP_API const char   *rp_result_stderr(const rp_result *r, size_t *len);
/* Bytes the program wrote to the stream in all; above the capture limit the
 * head was dropped. */
RP_API uint64_t      rp_result_stdout_total(const rp_result *r);
RP_API uint64_t      rp_result_stderr_total(const rp_result *r);
RP_API bool          rp_result_stdout_truncated(const rp_result *r);
RP_API bool          rp_result_stderr_truncated(const rp_result *r);
/* Why it did not succeed, for people: "cannot run '/x': No such file or
 * directory", "killed by SIGKILL", "timed out after 200 ms", ... ; "" on
 * success. Never NULL. */
RP_API const char   *rp_result_error(const rp_result *r);
RP_API rp_task_id    rp_result_task(const rp_result *r);
RP_API rp_job_id     rp_result_job(const rp_result *r);
RP_API unsigned      rp_result_shard(const rp_result *r);
RP_API unsigned      rp_result_attempts(const rp_result *r);   /* 0 if it never ran */

typedef struct rp_result_times {
    uint64_t submitted_ns;   /* CLOCK_MONOTONIC, when rp_submit took it */
    uint64_t started_ns;     /* last attempt: just before the process was spawned */
    uint64_t ended_ns;       /* when it became final */
    uint64_t wall_ns;        /* last attempt: spawn to exit */
    uint64_t user_ns, system_ns;  /* CPU of the process and its waited-for children */
    uint64_t max_rss_kb;     /* peak resident set, from wait4 */
} rp_result_times;
RP_API void rp_result_get_times(const rp_result *r, rp_result_times *out /* OUT */);

/* Drops one reference. NULL is fine. */
RP_API void rp_result_free(rp_result *r);

/* ---- the event bus: every state change, in order ---- */

typedef struct rp_event {
    uint64_t seq;            /* 1, 2, 3, ... per pool, no gaps */
    uint64_t time_ns;        /* CLOCK_MONOTONIC */
    rp_task_id task;
    rp_job_id job;
    unsigned shard;
    rp_task_state state;     /* the new state */
    unsigned attempt;        /* 1-based once it ran; 0 before */
    int exit_code, signal;   /* for final states of processes */
    /* added after the first contract */
    int worker;              /* rp_pool_workers index of the worker running it
                                (RUNNING) or that ran it (final); -1 none */
} rp_event;

typedef struct rp_subscription rp_subscription;

/* Subscribes to events published from now on. The bus is a bounded ring
 * (RP_EVENT_RING events): publishers never wait for a slow subscriber,
 * which instead learns how many events it lost. */
#define RP_EVENT_RING 16384
RP_API rp_status rp_subscribe(rp_pool *pool, rp_subscription **out /* OUT */);
/* The next event, waiting up to timeout_ms (-1 = forever). *lost (may be
 * NULL) = events overwritten before this subscriber read them, since its
 * previous call. RP_ERR_TIMEOUT if none came; RP_ERR_SHUTDOWN once the pool
 * shut down and every event was read. Not for two threads at once on one
 * subscription. */
RP_API rp_status rp_subscription_next(rp_subscription *s, int timeout_ms,
                                      rp_event *out /* OUT */,
                                      uint64_t *lost /* OUT, may be NULL */);
/* Ends a subscription; may be called before or after rp_pool_shutdown. */
RP_API void rp_unsubscribe(rp_subscription *s);

/* ---- inspection: what the console and the coordinator's API read ---- */

/* Why a QUEUED task is not running (the REASON column of the console). */
typedef enum {
    RP_WAIT_NONE,            /* not queued */
    RP_WAIT_COMMIT,          /* durable pool: its submission is being committed */
    RP_WAIT_SLOT,            /* every slot of its executor is busy */
    RP_WAIT_BACKOFF,         /* backing off before its next attempt (retry_at_ns) */
    RP_WAIT_BACKEND,         /* no worker of its backend is up (a GPU, a remote node) */
    RP_WAIT_DATA,            /* its data is not yet where it could run */
    RP_WAIT_STOPPING         /* the pool is stopping: it will not start */
} rp_wait_reason;

/* "no free slot", "backing off before retry", ...; static storage. */
RP_API const char *rp_wait_reason_name(rp_wait_reason r);

typedef struct rp_task_info {
    rp_task_id id;
    rp_job_id job;
    unsigned shard, total_shards;
    rp_task_state state;
    unsigned attempts;           /* attempts started so far */
    unsigned max_retries;
    rp_backend backend;
    rp_priority priority;
    bool function;               /* a function or noop task (else a process) */
    bool checkpoint;             /* takes checkpoints */
    rp_wait_reason wait;         /* RP_WAIT_NONE unless QUEUED */
    uint64_t retry_at_ns;        /* RP_WAIT_BACKOFF: when it is ready again */
    int worker;                  /* index in rp_pool_workers of the worker that
                                    runs it, or ran its last attempt; -1 none */
    uint64_t submitted_ns;       /* CLOCK_MONOTONIC; for a task recovered from
                                    an earlier pool's store, the time the
                                    store recorded, put on this clock */
    uint64_t started_ns;         /* its last attempt began; 0 = never ran */
    uint64_t ended_ns;           /* became final; 0 = not final */
    int exit_code, signal;       /* final: as rp_result_exit_code/_signal */
    rp_task_id origin;           /* whose checkpoints it uses (itself, or the
                                    task it was restored from) */
} rp_task_info;

/* What the pool knows of task id now. Only tasks the pool holds in memory
 * (those of this pool, recovered ones included, until forgotten):
 * RP_ERR_NOT_FOUND otherwise. */
RP_API rp_status rp_task_get(rp_pool *pool, rp_task_id id, rp_task_info *out /* OUT */);

/* Every task the pool holds in memory, in id order: *out is a malloc'd
 * array of *n entries (NULL when 0) that the caller frees with free(). One
 * consistent snapshot, taken under the engine's lock: 0.6 ms for 10,000
 * tasks, sorting included. */
RP_API rp_status rp_pool_tasks(rp_pool *pool, rp_task_info **out /* OUT */,
                               size_t *n /* OUT */);

/* Task id's description as JSON, the same as the store keeps it
 * (docs/store.md, "spec"): kind, name, argv, env, cwd, priority, backend,
 * timeout_ms, retries, data_deps, checkpoint, ... *json is malloc'd; the
 * caller frees it. Reads the store for tasks of earlier pools.
 * RP_ERR_NOT_FOUND for an unknown id. */
RP_API rp_status rp_task_describe(rp_pool *pool, rp_task_id id, char **json /* OUT */);

/* What a task has written so far. */
typedef struct rp_task_output {
    char *out, *err;             /* malloc'd copies, NUL-terminated (the lengths
                                    count the bytes: output may hold NULs) */
    size_t out_len, err_len;
    uint64_t out_total, err_total;   /* bytes written in all so far */
} rp_task_output;

/* The tail of task id's stdout and stderr, at most max bytes of each: for a
 * running process what it has written up to now (as captured: the task's
 * capture limit applies), for a final task its result's, for a queued one
 * nothing. Any thread; a running task costs one round trip to the engine's
 * event loop. *out is filled even on error (empty); free it with
 * rp_task_output_free. RP_ERR_NOT_FOUND for an unknown id. */
RP_API rp_status rp_task_peek_output(rp_pool *pool, rp_task_id id, size_t max,
                                     rp_task_output *out /* OUT */);
RP_API void rp_task_output_free(rp_task_output *o);

/* One place where tasks run: a slot of an executor of this pool (later,
 * a remote worker daemon, a GPU). */
typedef struct rp_worker_info {
    char name[32];               /* "proc3", "fn0" */
    char node[64];               /* the host it runs on */
    char executor[16];           /* "process", "function" */
    rp_backend backend;          /* RP_BACKEND_CPU, ... */
    bool up;                     /* false: lost or not reachable */
    rp_task_id task;             /* running now; 0 = idle */
    uint64_t completed;          /* attempts it finished */
    uint64_t busy_ns;            /* time spent running attempts, the
                                    current one so far included */
    uint64_t up_since_ns;        /* CLOCK_MONOTONIC */
} rp_worker_info;

/* Every worker of the pool, in a stable order (the index is
 * rp_task_info.worker): *out is malloc'd, *n entries; free() it. Load over
 * an interval = the change of busy_ns divided by the interval. */
RP_API rp_status rp_pool_workers(rp_pool *pool, rp_worker_info **out /* OUT */,
                                 size_t *n /* OUT */);

#ifdef __cplusplus
}
#endif

#endif /* REPARTIR_TASK_H */
