/*
 * source.h -- the console_source: everything the console reads and every
 * action it takes goes through this one small interface, so the panes
 * cannot tell an embedded engine (source_engine.c) from an attached
 * coordinator (later: `--attach wss://...`, same ops over the network).
 *
 * A source is an ops table plus its own state. The console's UI thread is
 * the only caller; a source may use threads of its own (the embedded one
 * forwards the engine's event bus), and wakes the UI through wake_fd.
 */
#ifndef RP_TUI_SOURCE_H
#define RP_TUI_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <repartir.h>

/* Everything at one moment: the model is rebuilt from it at start and
 * whenever events were lost. */
struct rp_console_snapshot {
    rp_stats stats;
    rp_task_info *tasks;            /* by id */
    size_t ntasks;
    rp_worker_info *workers;
    size_t nworkers;
};
void rp__console_snapshot_free(struct rp_console_snapshot *s);

/* What the jobs pane shows of a job: its shared description. */
struct rp_console_job_desc {
    char *name;                     /* NULL when the task has none */
    char *command;                  /* argv, shell-quoted where needed; "fn()"
                                       for a function task */
    unsigned total;                 /* tasks in the job */
    rp_backend backend;
    rp_priority priority;
    unsigned max_retries, timeout_ms;
    bool checkpoint, function;
};
void rp__console_job_desc_free(struct rp_console_job_desc *d);
/* Fills *out from a description in the store's JSON (rp_task_describe).
 * RP_ERR_CORRUPT on JSON that does not parse or lacks what it needs. */
rp_status rp__console_job_desc_parse(const char *json, unsigned total,
                                     struct rp_console_job_desc *out /* OUT */);

/* One checkpoint of a task, for the detail pane. */
struct rp_console_ckpt {
    uint64_t iteration;
    int64_t time_ms;                /* Unix ms */
    uint64_t raw_size, stored_size;
};

/* Everything the detail pane shows of one task. */
struct rp_console_detail {
    rp_task_info info;
    struct rp_console_job_desc desc;
    char **env;                     /* "KEY=VALUE", the task's own additions */
    size_t nenv;
    char *cwd;                      /* NULL: inherited */
    char **data_deps;
    size_t ndeps;
    bool has_result;                /* final: what follows is filled */
    rp_result_times times;
    char *error;                    /* why it did not succeed ("" on success) */
    bool live_output;               /* running: out/err are what it wrote so far */
    char *out, *err;                /* captured tails, NUL-terminated copies */
    size_t out_len, err_len;
    uint64_t out_total, err_total;
    char ckpt_key[64];              /* "" when it takes none */
    struct rp_console_ckpt ckpt[8]; /* newest first */
    size_t nckpt;
};
void rp__console_detail_free(struct rp_console_detail *d);

/* A submission from the form or `:submit`. */
struct rp_console_submit {
    char **argv;                    /* argv[0] = the program; argc entries */
    size_t argc;
    const char *name;               /* NULL: none */
    unsigned shards;                /* >= 1 */
    rp_priority priority;
    rp_backend backend;
    unsigned timeout_ms, retries;
    char **data_keys;
    size_t ndata;
    bool checkpoint;
};

typedef struct rp_console_source rp_console_source;

typedef struct rp_console_source_ops {
    const char *name;               /* "embedded", "remote" */
    /* One line about where the data comes from, for the title bar
     * ("embedded engine, 4 workers, store ~/.local/state/repartir"). */
    const char *(*origin)(rp_console_source *s);
    /* A descriptor that becomes readable when events are waiting. */
    int (*wake_fd)(rp_console_source *s);
    rp_status (*snapshot)(rp_console_source *s, struct rp_console_snapshot *out /* OUT */);
    /* Takes up to max waiting events without blocking; returns how many.
     * *lost = events dropped before they could be read (the caller then
     * takes a snapshot). Clears the wake-up when it returns fewer than max. */
    size_t (*events)(rp_console_source *s, rp_event *out, size_t max, uint64_t *lost /* OUT */);
    rp_status (*stats)(rp_console_source *s, rp_stats *out /* OUT */);
    rp_status (*workers)(rp_console_source *s, rp_worker_info **out /* OUT */, size_t *n /* OUT */);
    /* The engine's GPU (state, device, reason when unavailable); NULL
     * where the source cannot tell (an attached coordinator). */
    rp_status (*gpu)(rp_console_source *s, rp_gpu_info *out /* OUT */);
    rp_status (*job_desc)(rp_console_source *s, rp_task_id any_task_of_job, unsigned total,
                          struct rp_console_job_desc *out /* OUT */);
    rp_status (*detail)(rp_console_source *s, rp_task_id id, struct rp_console_detail *out /* OUT */);
    /* Actions; *why (malloc'd, may stay NULL) says what went wrong. */
    rp_status (*submit)(rp_console_source *s, const struct rp_console_submit *req,
                        rp_job_id *job /* OUT */, rp_task_id *first /* OUT */, char **why);
    rp_status (*cancel)(rp_console_source *s, rp_task_id id, char **why);
    rp_status (*cancel_job)(rp_console_source *s, rp_job_id id, char **why);
    rp_status (*restore)(rp_console_source *s, rp_task_id id, rp_restore_info *out /* OUT */,
                         char **why);
    void (*close)(rp_console_source *s);
} rp_console_source_ops;

struct rp_console_source {
    const rp_console_source_ops *ops;
    bool durable;                   /* unfinished work survives a quit */
};

/* The embedded engine: a pool made from cfg (state_dir, cpu_workers...),
 * owned by the source and shut down by close. *why on failure. */
rp_status rp__console_source_embedded(const rp_pool_config *cfg,
                                      rp_console_source **out /* OUT */, char **why /* OUT */);
/* The pool behind an embedded source (for --demo's submissions). */
rp_pool *rp__console_source_pool(rp_console_source *s);

/* "a b 'c d'": argv joined for people, quoted only where needed. Malloc'd. */
char *rp__console_join_argv(char *const *argv, size_t argc);

#endif /* RP_TUI_SOURCE_H */
