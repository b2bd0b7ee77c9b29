/*
 * model.h -- the console's view model: jobs and tasks as the console last
 * heard of them, built from a snapshot and kept current by events, plus
 * what the panes need derived from it -- the filtered, sorted, expanded
 * row list, the throughput history and worker loads.
 *
 * DESIGN: events only touch the records they name (O(1) through id
 * tables); the row list is rebuilt lazily, once per frame at most, and
 * only when something it depends on changed (rows_dirty). Drawing then
 * walks just the visible rows, so 10,000 tasks cost a sort of the jobs,
 * not a pass over every task per frame. No curses here: unit-testable.
 *
 * THREADS: the UI thread only.
 */
#ifndef RP_TUI_MODEL_H
#define RP_TUI_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <repartir.h>

#include "tui/source.h"

struct rp_model_task {
    rp_task_id id;
    uint32_t job;                   /* index in model.jobs */
    unsigned shard;
    uint8_t state;                  /* rp_task_state */
    uint8_t wait;                   /* rp_wait_reason, from the last snapshot or event */
    bool tagged;
    unsigned attempts;
    int worker;                     /* -1: none */
    int exit_code, signal;
    uint64_t submitted_ns, started_ns, ended_ns;
};

struct rp_model_job {
    rp_job_id id;
    rp_task_id first_task;          /* its shard 0's id (ids are consecutive) */
    uint32_t first_index;           /* where shard 0 sits in model.tasks, usually */
    unsigned seen;                  /* tasks of it in the model */
    unsigned count[RP_TASK_STATE_COUNT];
    struct rp_console_job_desc desc;
    bool described;                 /* desc filled (else label is "job N") */
    bool expanded, tagged;
    unsigned attempts;              /* the most of any task */
    int worker;                     /* the worker of its last started task */
    uint64_t submitted_ns, started_ns, ended_ns;  /* first submit, first start, last end */
    char *label;                    /* name, else command; never NULL */
    char *search;                   /* lower-case text the filter matches */
};

/* One line of the jobs pane. */
struct rp_model_row {
    uint32_t job;                   /* index in model.jobs */
    int32_t task;                   /* index in model.tasks; -1: the job's own row */
};

enum rp_model_sort {
    RP_SORT_NEWEST,                 /* highest job id first (the default) */
    RP_SORT_OLDEST,
    RP_SORT_STATE,                  /* running, queued, failed..., succeeded */
    RP_SORT_NAME,
    RP_SORT_ELAPSED,                /* longest running or ran first */
    RP_SORT_PROGRESS,               /* least done first */
    RP_SORT_COUNT
};
const char *rp__model_sort_name(enum rp_model_sort s);     /* "newest", ... */
/* RP_SORT_COUNT for an unknown name. */
enum rp_model_sort rp__model_sort_parse(const char *name);

#define RP_MODEL_HISTORY 120        /* seconds of throughput kept */
#define RP_MODEL_FILTER_MAX 128

struct rp_model_worker {
    rp_worker_info info;
    double load;                    /* busy fraction over the last interval, 0..1 */
};

struct rp_model {
    struct rp_model_task *tasks;
    size_t ntasks, tasks_cap;
    struct rp_model_job *jobs;
    size_t njobs, jobs_cap;
    /* id -> index tables (open addressing) */
    uint32_t *task_index, *job_index;
    size_t task_index_cap, job_index_cap;

    struct rp_model_row *rows;
    size_t nrows, rows_cap;
    bool rows_dirty;
    size_t described_upto;          /* jobs before it are all described */
    size_t ntagged;                 /* jobs and tasks tagged */

    char filter[RP_MODEL_FILTER_MAX];
    enum rp_model_sort sort;

    struct rp_model_worker *workers;
    size_t nworkers;
    size_t *shown, nshown;          /* the rows listed, as indices into
                                       workers: function slots only once a
                                       function task ran (remote workers,
                                       after them, always) */
    uint64_t workers_ns;            /* when workers were last taken */

    rp_stats stats;
    rp_gpu_info gpu;                /* state RP_GPU_NONE: none, or not known */
    uint64_t start_ns;              /* the console's start, for the uptime */
    /* finished tasks per second, history[(second) % RP_MODEL_HISTORY] */
    uint32_t history[RP_MODEL_HISTORY];
    uint64_t history_second;        /* the newest second written */
    uint64_t events;                /* applied so far */
};

void rp__model_init(struct rp_model *m, uint64_t now_ns);
void rp__model_free(struct rp_model *m);
/* Replaces everything with the snapshot (jobs keep their descriptions,
 * expansion and tags when they are still there). */
void rp__model_load(struct rp_model *m, const struct rp_console_snapshot *snap, uint64_t now_ns);
/* Applies one event. */
void rp__model_apply(struct rp_model *m, const rp_event *ev);
/* Sets the workers and derives each one's load from the busy time since
 * the previous call. Takes ownership of w (malloc'd array). */
void rp__model_set_workers(struct rp_model *m, rp_worker_info *w, size_t n, uint64_t now_ns);
/* Fills a job's description (takes ownership of d's strings). */
void rp__model_describe(struct rp_model *m, size_t job, struct rp_console_job_desc *d);

struct rp_model_task *rp__model_task(struct rp_model *m, rp_task_id id);   /* NULL: unknown */
struct rp_model_job *rp__model_job(struct rp_model *m, rp_job_id id);      /* NULL: unknown */
/* A task of job j by shard, NULL if the model has not heard of it. */
struct rp_model_task *rp__model_job_task(struct rp_model *m, const struct rp_model_job *j,
                                         unsigned shard);
/* The roll-up state of a job (rp_job_info's rule). */
rp_task_state rp__model_job_state(const struct rp_model_job *j);

/* Filter (case-insensitive substring of id, label, command, state) and
 * sort; they mark the rows dirty. */
void rp__model_set_filter(struct rp_model *m, const char *text);
void rp__model_set_sort(struct rp_model *m, enum rp_model_sort s);
/* Rebuilds the rows if dirty. */
void rp__model_rows(struct rp_model *m, uint64_t now_ns);
/* Expands or collapses job j (marks rows dirty). */
void rp__model_expand(struct rp_model *m, size_t job, bool on);

/* Tags: a job row's tag stands for all its tasks. Returns the new state. */
bool rp__model_toggle_tag(struct rp_model *m, const struct rp_model_row *row);
void rp__model_clear_tags(struct rp_model *m);

/* The first job, in model.jobs order, still to describe (njobs if none):
 * amortised O(1), jobs are described in the order they came. */
size_t rp__model_next_undescribed(struct rp_model *m);

/* Queued tasks waiting for a slot that would start before t: a higher
 * priority, or the same and an older id. O(tasks): call it per selection
 * change, not per frame. */
unsigned long rp__model_ahead_of(const struct rp_model *m, const struct rp_model_task *t);

/* Counts one finished task in second `now` of the history. */
void rp__model_count_finish(struct rp_model *m, uint64_t now_ns);
/* Tasks finished per second over the last `seconds` complete seconds. */
double rp__model_rate(const struct rp_model *m, uint64_t now_ns, unsigned seconds);
/* The last n per-second counts, oldest first, into out (zeros where
 * nothing was recorded). */
void rp__model_history(const struct rp_model *m, uint64_t now_ns, uint32_t *out, size_t n);

/* Elapsed time of a task or job at now: running -> now - started; final ->
 * ended - started (or - submitted if it never started); queued -> 0. */
uint64_t rp__model_task_elapsed(const struct rp_model_task *t, uint64_t now_ns);
uint64_t rp__model_job_elapsed(const struct rp_model_job *j, uint64_t now_ns);

#endif /* RP_TUI_MODEL_H */
