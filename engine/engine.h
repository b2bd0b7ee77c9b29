/*
 * engine.h (internal) -- the task and job model shared by the engine and
 * the executors in engine/exec/.
 *
 *   struct rp_task      a description (public, opaque). Immutable once
 *                       submitted; the shards of one job share it.
 *   struct rp__task     the engine's record of one task: state, attempts,
 *                       queue links. Guarded by the engine lock.
 *   struct rp_result    what a task did; immutable, reference counted.
 *   struct rp__outcome  what one attempt did, as an executor reports it.
 *
 * THREADS AND LOCKS: one mutex per engine (`lock`) guards the task and job
 * tables, the ready queues, the counters and every rp__task field except
 * `exec` (owned by the executor running the attempt). Executors are called
 * without the lock held; they report through rp__engine_attempt_done.
 * Lock order: engine lock, then the event bus lock.
 */
#ifndef RP_ENGINE_ENGINE_H
#define RP_ENGINE_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include <repartir.h>

#include "engine/loop.h"

enum rp__task_kind { RP__KIND_PROCESS, RP__KIND_FUNCTION, RP__KIND_GPU };
/* The executors, indexed like the kinds they run, then the remote one
 * (process and no-op tasks sent to worker daemons). */
enum { RP__EXEC_PROCESS, RP__EXEC_FUNCTION, RP__EXEC_GPU, RP__EXEC_REMOTE, RP__EXEC_COUNT };

#define RP__LIMIT_COUNT 4

struct rp_task {
    _Atomic unsigned refs;          /* one per shard record, plus the builder */
    enum rp__task_kind kind;
    rp_priority priority;
    rp_backend backend;
    bool retry_on_exit, checkpoint;
    uint8_t limits_set;             /* bit i: limits[i] is set */
    unsigned timeout_ms, grace_ms, retries, backoff_base_ms, backoff_max_ms;
    unsigned checkpoint_interval_ms;
    size_t capture_limit;
    /* process */
    char **argv;                    /* argv[0] = binary; NULL-terminated */
    unsigned argc, argv_cap;
    char **env;                     /* "KEY=VALUE", later wins */
    unsigned nenv, env_cap;
    char *cwd;
    unsigned char *stdin_data;
    size_t stdin_len;
    uint64_t limits[RP__LIMIT_COUNT];
    /* function */
    rp_task_fn fn;
    void *fn_arg;
    bool placeholder;               /* stands for a description recovery could not read */
    bool noop;                      /* rp_task_new_noop: a function task that can be stored */
    char *tensor;                   /* rp_task_new_tensor: "OP:DIMS@SEED", a function
                                       task too, run by rp__tensor_task_run */
    size_t tensor_elements;         /* the elements it holds */
    /* rp_task_new_spirv: a GPU task (RP__KIND_GPU) */
    struct rp__spirv {
        char *shader;               /* absolute where it could be resolved */
        char **inputs;
        unsigned ninputs;
        size_t *outputs;            /* bytes of each */
        unsigned noutputs;
        unsigned groups[3];
        char *output_dir;           /* NULL: outputs only in the result */
    } spirv;
    /* A worker daemon runs a coordinator's task under the coordinator's
     * ids: REPARTIR_TASK_ID & co. come from here when as_set. */
    bool as_set;
    uint64_t as_task, as_job;
    unsigned as_shard, as_total;
    /* The remote executor's: the description as the protocol sends it
     * (rp__task_spec_json), made once per description on its network
     * thread, with whether a worker would accept it (or why not). */
    char *wire;
    size_t wire_len;
    char *wire_refused;
    bool wire_checked;
    char *wire_files;               /* the submit's "files" array, or NULL */
    /* rp_task_add_file: shipped to the worker that runs it */
    struct rp__file {
        char *path, *name;
        char sha256[65];
        uint64_t size;
        unsigned mode;
    } *files;
    unsigned nfiles;
    /* recorded for later layers */
    char *name;
    char **data_deps;
    unsigned ndeps;
};

struct rp__idnode {                 /* intrusive hash-table link */
    uint64_t id;
    struct rp__idnode *next;
};

struct rp__job {
    struct rp__idnode node;         /* first: the table casts */
    rp_task_id first_task;          /* its tasks' ids are consecutive */
    unsigned total, live;           /* live: records not yet forgotten */
    unsigned count[RP_TASK_STATE_COUNT];
    uint64_t final_seq;             /* durable: journal op of its last final state */
    rp_done_fn done_fn;             /* rp_submit_notify's, or NULL */
    void *done_arg;
};

struct rp__task {
    struct rp__idnode node;         /* first: the table casts */
    struct rp__job *job;
    struct rp_task *spec;
    struct rp__task *prev, *next;   /* ready queue or remembered list */
    rp_result *result;              /* once final */
    void *exec;                     /* the executor's, while running */
    uint64_t submitted_ns;
    unsigned shard, total_shards;
    unsigned attempts;
    unsigned interrupted;           /* attempts cut short by a pool stop or crash */
    rp_task_id origin;              /* its checkpoints' key: task/<origin> */
    uint64_t started_ns;            /* its last attempt was dispatched */
    uint64_t retry_at_ns;           /* RP__RETRY_WAIT: when it is ready again */
    unsigned worker;                /* 1 + its executor's slot running it, or
                                       that ran its last attempt; 0 = none */
    uint64_t final_seq;             /* durable: journal op of its final state */
    uint8_t state;                  /* rp_task_state */
    uint8_t where;                  /* enum rp__where */
    uint8_t xk;                     /* RP__EXEC_*: the executor it is queued
                                       for or running on */
    bool cancel_requested;
};

/* RP__NOWHERE: final, or (durable pools) queued while its submission is
 * being committed. */
enum rp__where { RP__NOWHERE, RP__READY, RP__RETRY_WAIT, RP__RUNNING, RP__REMEMBERED };

enum rp__end {
    RP__END_EXITED,                 /* exit_code valid */
    RP__END_SIGNALED,               /* signal valid */
    RP__END_SPAWN_FAILED,           /* could not start: never retried */
    RP__END_LOST                    /* status unknown (e.g. reaped elsewhere) */
};

/* Captured bytes of one stream, handed over with the outcome. */
struct rp__bytes {
    char *data;                     /* malloc'd or NULL */
    size_t len;
    uint64_t total;
};

struct rp__outcome {
    enum rp__end end;
    int exit_code, signal;
    bool timed_out, cancelled;      /* the executor killed it for this */
    bool lost;                      /* its worker was lost: queued again at
                                       once, not counted against retries */
    bool revoked;                   /* given back before it started (work
                                       stealing): queued again, not counted */
    char *error;                    /* malloc'd human text, or NULL */
    struct rp__bytes out, err;
    struct rp__bytes *outputs;      /* a SPIR-V task's output buffers */
    unsigned noutputs;
    uint64_t started_ns, ended_ns;
    uint64_t user_ns, system_ns, max_rss_kb;
};

struct rp_result {
    _Atomic unsigned refs;
    rp_task_id task;
    rp_job_id job;
    unsigned shard, attempts;
    rp_task_state state;
    int exit_code, signal;
    bool out_truncated, err_truncated;
    struct rp__bytes out, err;
    struct rp__bytes *outputs;      /* a SPIR-V task's output buffers */
    unsigned noutputs;
    char *error;                    /* never NULL */
    rp_result_times times;
};

/* ---- executors: one const ops table each ---- */

typedef struct rp__engine rp__engine;

typedef struct rp__exec_stats {
    unsigned running;               /* attempts it holds now */
    uint64_t started;               /* attempts started since start */
} rp__exec_stats;

typedef struct rp__exec_ops {
    const char *name;
    /* Prepares the executor; *state is passed back to every other call. */
    rp_status (*start)(rp__engine *e, void **state /* OUT */);
    /* Starts one attempt of t (t->attempts already counts it). Called
     * without the engine lock, from any thread. Every submitted attempt is
     * answered by exactly one rp__engine_attempt_done, possibly before
     * submit returns. */
    void (*submit)(void *state, struct rp__task *t);
    /* Asks the attempt `attempt` of task id to stop (SIGTERM, then SIGKILL
     * after grace_ms). Harmless if it already ended. */
    void (*cancel)(void *state, rp_task_id id, unsigned attempt);
    /* Copies the tail (at most max bytes) of what attempt `attempt` of
     * task id has written to each stream so far (empty if it is not
     * running there). Any thread but the loop's, without locks held; the
     * engine keeps the executor from stopping meanwhile. NULL: it captures
     * nothing while running. */
    void (*peek)(void *state, rp_task_id id, unsigned attempt, size_t max,
                 struct rp__bytes *out /* OUT */, struct rp__bytes *err /* OUT */);
    /* How many attempts it runs at once. */
    unsigned (*capacity)(void *state);
    void (*stats)(void *state, rp__exec_stats *out /* OUT */);
    /* Cancels what runs, waits until every attempt was answered, frees. */
    void (*stop)(void *state);
} rp__exec_ops;

extern const rp__exec_ops rp__exec_process;
extern const rp__exec_ops rp__exec_function;
extern const rp__exec_ops rp__exec_remote;
extern const rp__exec_ops rp__exec_gpu;

/* ---- the remote executor's links, as the engine counts them ---- */

#define RP__MAX_LINKS 64            /* worker daemons per pool */
#define RP__LINK_WINDOW_MAX 256     /* attempts outstanding on one */

/* Link `link` (0..RP__MAX_LINKS-1) now takes `window` attempts at once
 * (0: it is down or draining), runs `slots` at a time, and is called
 * `node` (the daemon's name) at `addr`. Takes the lock; dispatches. Any
 * thread, no lock held. */
void rp__engine_link_set(rp__engine *e, unsigned link, const char *node, const char *addr,
                         unsigned window, unsigned slots, bool up);
/* Which link runs attempt t (executor's submit). */
unsigned rp__engine_link_of(const struct rp__task *t);
/* Takes task id out of its ready queue if it still waits there (not
 * started, not backing off), ending it CANCELLED; false if it is anywhere
 * else. Atomic against dispatch: the worker daemon's "give it back". */
bool rp__engine_unqueue(rp__engine *e, rp_task_id id);
/* An executor's state (rp__exec_ops.start's), e.g. RP__EXEC_REMOTE's. */
void *rp__engine_exec_state(rp__engine *e, unsigned exec);
/* An executor's start() that fails says why here (taken; malloc'd): it
 * becomes rp_pool_create_why's reason. */
void rp__engine_start_error(rp__engine *e, char *why);
/* The caller's rp_pool_config: only while executors start (NULL after). */
const struct rp_pool_config *rp__engine_user_config(rp__engine *e);

/* ---- the engine, as executors see it ---- */

struct rp__durable;
rp__loop *rp__engine_loop(rp__engine *e);
/* The state dir's machinery, or NULL for a pool without one. */
struct rp__durable *rp__engine_durable(rp__engine *e);
/* The SIGUSR1 period of a checkpointing task. */
unsigned rp__engine_checkpoint_interval(rp__engine *e, const struct rp_task *spec);
/* The process of t's running attempt (durable pools record it, so that
 * recovery can kill it if it outlives a crash of this process). */
void rp__engine_attempt_pid(rp__engine *e, struct rp__task *t, pid_t pid);
rp_pool *rp__engine_pool(rp__engine *e);
unsigned rp__engine_max_processes(rp__engine *e);
unsigned rp__engine_cpu_workers(rp__engine *e);
/* Whether rp_cancel reached t while it runs (an executor that adopts an
 * attempt late checks this, as the cancel may have come first). */
bool rp__engine_cancel_requested(rp__engine *e, struct rp__task *t);
/* Waits until no attempt of this kind is running (an executor's stop). */
void rp__engine_wait_idle(rp__engine *e, unsigned exec /* RP__EXEC_* */);
/* Reports the end of an attempt; takes the malloc'd parts of *o. Any
 * thread, without locks held. t must not be touched after it returns. */
void rp__engine_attempt_done(rp__engine *e, struct rp__task *t, struct rp__outcome *o);

/* ---- the engine, as pool.c sees it ---- */

struct rp__engine_config {
    unsigned cpu_workers, max_processes, checkpoint_interval_ms;
    const char *state_dir;          /* NULL: not durable */
    const struct rp_pool_config *user;  /* as given to rp_pool_create */
};
rp_status rp__engine_create(rp_pool *pool, const struct rp__engine_config *cfg,
                            rp__engine **out /* OUT */, char **why /* OUT */);
void rp__engine_recovery(rp__engine *e, rp_recovery *out /* OUT */);
/* Refuses new tasks, cancels queued ones, cancels and reaps running
 * processes. Function tasks already running finish on their own. */
void rp__engine_stop(rp__engine *e);
/* After the scheduler has drained: frees everything. */
void rp__engine_free(rp__engine *e);
void rp__engine_stats(rp__engine *e, rp_stats *out /* OUT, adds to it */);

/* ---- shared helpers (task.c) ---- */

void rp__task_spec_unref(struct rp_task *t);
rp_result *rp__result_new(void);
/* "KEY" of "KEY=VALUE": its length. */
size_t rp__env_key_len(const char *kv);
/* task_codec.c: a description as JSON (malloc'd; stdin not included) and
 * back. Parsing errors: RP_ERR_CORRUPT (damaged), RP_ERR_UNSUPPORTED (a
 * function task, or a newer format), with *why. */
char *rp__task_spec_json(const struct rp_task *t);
/* The same without what only this host knows (its shipped files' paths):
 * the description a worker gets. */
char *rp__task_spec_json_wire(const struct rp_task *t);
/* Appends a shipped file as it was checked (recovery, codec). */
void rp__task_add_file_checked(struct rp_task *t, const char *path, const char *name,
                               const char *sha256, uint64_t size, unsigned mode);
rp_status rp__task_spec_parse(const char *json, const void *stdin_data, size_t stdin_len,
                              struct rp_task **out /* OUT */, char **why /* OUT */);
/* A description that never runs, standing for one recovery could not use:
 * kind, name, priority and backend from json where it has them (json may
 * be NULL or damaged). */
struct rp_task *rp__task_spec_placeholder(const char *json);

/* ---- tensor tasks (exec/exec_tensor.c) ---- */

/* Runs tensor task `spec` with its ops split over pool: fills o (exit
 * code, stdout saying backend, time and checksum, or the error). gpu:
 * its ops run on the pool's GPU whatever their size (backend GPU). On a
 * pool worker (exec_function.c). */
void rp__tensor_task_run(rp_pool *pool, rp__engine *e, const char *spec, bool gpu,
                         struct rp__outcome *o);
/* Tensor tasks of this many elements or more prefer remote workers
 * (rp_tensor_limits.remote_min; never measures). Any thread. */
size_t rp__tensor_remote_min(void);

/* ---- the GPU executor (exec/exec_gpu.c) ---- */

/* "X[,Y[,Z]]" workgroup counts, each 1..UINT32_MAX, into out (missing ones
 * 1); false on anything else ("1,,2", "2x", "-1", four numbers). */
bool rp__groups_parse(const char *text, unsigned out[3]);

struct rp_gpu;
/* The pool's GPU when it is open and usable, else NULL, with the
 * host-device GB/s measured when it opened (0: not known). wait: if it is
 * not open yet, open it and wait (at most 5 s). Any thread. */
struct rp_gpu *rp__engine_gpu(rp__engine *e, bool wait, double *link_gbs /* OUT */);
/* Counts a tensor op sent to the GPU. */
void rp__engine_gpu_count_kernel(rp__engine *e);
/* The GPU's state for rp_pool_gpu_info (open: ask for the device to be
 * opened if it is not yet) and rp_pool_workers (which only looks). */
void rp__exec_gpu_info(void *state, bool open, rp_gpu_info *out /* OUT */);
/* After the scheduler drained (no tensor op runs): closes the device. */
void rp__exec_gpu_free(void *state);
/* The outputs of o (freed). */
void rp__outcome_free_outputs(struct rp__outcome *o);

/* ---- the event bus (events.c) ---- */

typedef struct rp__bus rp__bus;
rp__bus *rp__bus_new(void);
/* Engine lock held: assigns the next seq and stores the event. */
void rp__bus_publish(rp__bus *b, rp_event *ev);
/* Wakes subscribers for good; they drain and then get RP_ERR_SHUTDOWN. */
void rp__bus_close(rp__bus *b);
void rp__bus_unref(rp__bus *b);
rp_status rp__bus_subscribe(rp__bus *b, rp_subscription **out /* OUT */);

#endif /* RP_ENGINE_ENGINE_H */
