/*
 * repartir/pool.h -- the pool: worker threads, fork/join task groups,
 * parallel loops, top-level priority work and live figures.
 *
 * A pool owns N worker threads. Each has a work-stealing deque; idle workers
 * steal from random victims and park when there is nothing to do, so an idle
 * pool uses no CPU. Work enters a pool in two ways:
 *   - top-level: rp_pool_run / rp_pool_post / rp_parallel_for from any
 *     thread, through a priority injection queue;
 *   - nested: rp_group_spawn from code already running on a worker, onto
 *     that worker's own deque (no lock, no allocation on the hot path).
 */
#ifndef REPARTIR_POOL_H
#define REPARTIR_POOL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rp_pool rp_pool;

typedef struct rp_pool_config {
    int cpu_workers;             /* 0 = number of CPUs this process may run on */
    bool gpu;                    /* open a Vulkan device if one exists */
    const char *state_dir;       /* NULL = no persistence; else the store lives here */
    const char *const *remote_workers; size_t n_remote_workers;  /* "host:port" */
    const char *tls_cert, *tls_key, *tls_ca, *token;            /* NULL = off */
    unsigned checkpoint_interval_ms;   /* default SIGUSR1 reminder period */
    bool data_locality;
    size_t worker_stack_size;    /* bytes per worker thread; 0 = 8 MiB */
    unsigned max_processes;      /* process tasks running at once; 0 = cpu_workers */
    /* Remote workers (docs/remote.md). Workers are dialled over TLS (wss)
     * when any tls_* field is set, else over plain ws, which only a
     * loopback address gets unless remote_insecure. */
    unsigned remote_timeout_ms;  /* silent this long = LOST; 0 = 5000 */
    unsigned remote_window;      /* attempts outstanding per worker; 0 = 2 x its slots + 2 */
    bool remote_insecure;
    size_t max_frame;            /* largest protocol frame; 0 = 16 MiB */
} rp_pool_config;

/* Largest cpu_workers rp_pool_create accepts. */
#define RP_POOL_MAX_WORKERS 1024

/* Fills cfg with the defaults: one worker per usable CPU, no GPU, no state
 * dir, no remote workers, TLS off, 30 s checkpoint interval, locality on.
 * cfg NULL is ignored. */
RP_API void rp_pool_config_init(rp_pool_config *cfg);

/* Creates a pool and starts its workers. cfg NULL means the defaults.
 * With cfg->state_dir the pool is durable (docs/store.md): its checkpoint
 * store lives there, every submission is committed before rp_submit
 * returns, and the work an earlier pool left unfinished in that store --
 * after a crash or a shutdown -- is recovered and run again (see
 * rp_pool_recovery). One pool at a time may use a state dir.
 * Errors: RP_ERR_INVALID (cpu_workers < 0 or > RP_POOL_MAX_WORKERS, out NULL,
 * a stack size below 64 KiB), RP_ERR_UNSUPPORTED (a feature this build does
 * not have yet: a store from a newer repartir), RP_ERR_BUSY
 * (another pool, in this or another process, uses the state dir), RP_ERR_IO
 * and RP_ERR_CORRUPT (the store cannot be opened), RP_ERR_SYSTEM (threads
 * could not be started). On error *out is left NULL and nothing leaks.
 * The caller owns *out and frees it with rp_pool_shutdown. */
RP_API rp_status rp_pool_create(const rp_pool_config *cfg, rp_pool **out /* OUT */);
/* rp_pool_create, and on failure *why (may be NULL) = what went wrong for
 * a person ("the state dir /x is in use by process 123"), or NULL;
 * the caller frees it. */
RP_API rp_status rp_pool_create_why(const rp_pool_config *cfg, rp_pool **out /* OUT */,
                                    char **why /* OUT, may be NULL */);
/* What a durable pool found in its store when it was created. */
typedef struct rp_recovery {
    uint64_t queued;          /* tasks still queued: queued again */
    uint64_t interrupted;     /* tasks that were running: queued again, from
                                 their last checkpoint, as a new attempt */
    uint64_t unrecoverable;   /* function tasks, or damaged descriptions:
                                 recorded as FAILED with the reason */
    uint64_t killed;          /* processes of interrupted tasks still alive,
                                 killed before their task runs again */
} rp_recovery;
/* Fills *out (all zero for a pool without a state dir). */
RP_API rp_status rp_pool_recovery(rp_pool *pool, rp_recovery *out /* OUT */);
/* The pool's checkpoint store (include/repartir/ckpt.h), NULL without a
 * state dir. It belongs to the pool: do not close it; it is valid until
 * rp_pool_shutdown. */
struct rp_ckpt;
RP_API struct rp_ckpt *rp_pool_store(rp_pool *pool);

/* Stops accepting new top-level work (rp_submit, rp_pool_run, rp_pool_post
 * from other threads then return RP_ERR_SHUTDOWN). Calls already in
 * progress in other threads when it begins finish safely before it returns
 * (a thread in rp_wait gets its task's CANCELLED result); no call may
 * begin after it began. Tasks (task.h) still
 * queued end CANCELLED; running processes are cancelled (SIGTERM to their
 * process group, SIGKILL after the grace period) and reaped before it
 * returns. Results already handed out stay valid until rp_result_free.
 * It runs every posted function already
 * accepted to the end -- queued ones included, since only a task may free
 * what its argument owns -- then joins the workers and frees the pool.
 * Other threads may call into the pool until this returns; after that the
 * pool is gone. Called from one of the pool's own tasks it cannot join
 * itself: it returns at once and the pool frees itself when the last
 * accepted task has finished, so from then on only the pool's own tasks may
 * use it. NULL is ignored. */
RP_API void rp_pool_shutdown(rp_pool *pool);

/* Remote workers at run time: dials "HOST:PORT" (with the pool's TLS
 * settings) and keeps dialling it, with backoff, until it is removed.
 * Errors: RP_ERR_INVALID (a bad address, with *why), RP_ERR_BUSY (already
 * there), RP_ERR_UNSUPPORTED (the pool has 64 already). Removing one
 * gives back what it holds: its running attempts are queued again, as when
 * a worker is lost. RP_ERR_NOT_FOUND if it is not there. */
RP_API rp_status rp_pool_add_worker(rp_pool *pool, const char *addr, char **why /* OUT, may be NULL */);
RP_API rp_status rp_pool_remove_worker(rp_pool *pool, const char *addr);

/* ---- fork/join inside the pool (function tasks) ---- */

typedef void (*rp_fn)(void *arg);

/*
 * A set of child tasks to wait for. It lives on the stack of the task that
 * declares it: `rp_group g = RP_GROUP_INIT;`. The task that first spawns
 * into the group owns it and must call rp_group_wait before it returns;
 * children may spawn into it as well (from any worker) while it is pending.
 * A group may be reused after rp_group_wait returns.
 */
typedef struct rp_group {
    /* private: only the library touches these */
    void *_owner;
#ifdef __cplusplus
    int64_t _pending;           /* same layout; C++ code must not use it */
#else
    _Atomic int64_t _pending;
#endif
} rp_group;

#define RP_GROUP_INIT { NULL, 0 }

/* Runs fn(arg) on a worker and waits for it. Called from a worker of this
 * same pool it simply calls fn(arg) -- also while the pool shuts down: that
 * caller is a task being drained, and its nested work is part of it.
 * Errors: RP_ERR_INVALID (pool or fn NULL), RP_ERR_SHUTDOWN. The task runs
 * at RP_PRIORITY_NORMAL. */
RP_API rp_status rp_pool_run(rp_pool *pool, rp_fn fn, void *arg);

/* Queues fn(arg) as top-level work with priority prio and returns at once;
 * nobody waits for it. It runs even if the pool is shut down before it
 * starts. Errors: RP_ERR_INVALID (pool or fn NULL, prio out of range),
 * RP_ERR_SHUTDOWN. */
RP_API rp_status rp_pool_post(rp_pool *pool, rp_priority prio, rp_fn fn, void *arg);

/* Queues fn(arg) as a child of g on the calling worker's deque; another
 * worker may steal it. Does not allocate on the hot path. Outside a pool
 * worker there is nobody to run it in parallel, so fn(arg) runs at once on
 * the calling thread (a valid serial execution). g NULL runs fn(arg) at
 * once too; fn NULL does nothing. */
RP_API void rp_group_spawn(rp_group *g, rp_fn fn, void *arg);

/* Returns when every child spawned into g has finished; everything the
 * children wrote is then visible to the caller. While it waits it helps: it
 * runs the worker's own queued tasks, top-level work and tasks stolen from
 * others (stealing stops when half of the worker's stack is in use, so
 * deep recursions cannot overflow), spins briefly, then parks. NULL is
 * ignored. */
RP_API void rp_group_wait(rp_group *g);

/* Calls body(lo, hi, ctx) over disjoint subranges covering [begin, end)
 * exactly once, in parallel, and returns when all are done. Ranges are split
 * in halves until at most `grain` indices remain (grain 0 picks one: about
 * eight pieces per worker). Works from any thread; from a worker of another
 * pool it blocks that worker. pool NULL runs body(begin, end, ctx) on the
 * calling thread; an empty range or body NULL does nothing. */
RP_API void rp_parallel_for(rp_pool *pool, size_t begin, size_t end, size_t grain,
                            void (*body)(size_t lo, size_t hi, void *ctx), void *ctx);

/* ---- live figures (what the console draws) ---- */

typedef struct rp_stats {
    unsigned workers, workers_busy;
    uint64_t queued, running, succeeded, failed, cancelled;
    uint64_t steals;                 /* successful steals since start */
    double   locality_hit_rate;      /* tasks placed with local data / tasks with data deps */
    /* added after the first contract */
    uint64_t timed_out;
    uint64_t retried;                /* attempts that failed and were queued again */
    uint64_t posted_queued, posted_running, posted_done;  /* rp_pool_post/_run functions */
} rp_stats;

/* Fills *out with a snapshot. workers_busy counts workers running a task
 * (not searching or parked). queued, running and the final counts are about
 * tasks (rp_submit, task.h): queued now, running now, and how many ended in
 * each final state since the pool started. posted_* count the functions of
 * rp_pool_post and rp_pool_run, and the frames function tasks run in.
 * locality_hit_rate is 0 until a task with data dependencies ran.
 * Fields are read without stopping the workers, so they are each exact but
 * not one atomic snapshot. Errors: RP_ERR_INVALID (pool or out NULL). */
RP_API rp_status rp_pool_stats(rp_pool *pool, rp_stats *out /* OUT */);

#ifdef __cplusplus
}
#endif

#endif /* REPARTIR_POOL_H */
