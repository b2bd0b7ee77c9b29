/*
 * model.c -- the console's view model (model.h): id tables, events,
 * rows, filter and sort, throughput history, worker loads.
 */
#include "tui/model.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/alloc.h"

#define NS_PER_S 1000000000ull

static const char *const sort_names[RP_SORT_COUNT] = {
    [RP_SORT_NEWEST] = "newest",
    [RP_SORT_OLDEST] = "oldest",
    [RP_SORT_STATE] = "state",
    [RP_SORT_NAME] = "name",
    [RP_SORT_ELAPSED] = "elapsed",
    [RP_SORT_PROGRESS] = "progress",
};

const char *
rp__model_sort_name(enum rp_model_sort s)
{
    return (unsigned)s < RP_SORT_COUNT ? sort_names[s] : "newest";
}

enum rp_model_sort
rp__model_sort_parse(const char *name)
{
    for (unsigned i = 0; i < RP_SORT_COUNT; i++)
        if (name != NULL && strcmp(name, sort_names[i]) == 0)
            return (enum rp_model_sort)i;
    return RP_SORT_COUNT;
}

/* ---- id -> index tables: open addressing, index + 1 stored, 0 = empty ---- */

static size_t
id_hash(uint64_t id, size_t cap)
{
    return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

static void
index_put(uint32_t **tab, size_t *cap, uint64_t id, uint32_t index, size_t count,
          uint64_t (*id_of)(const struct rp_model *, uint32_t), const struct rp_model *m)
{
    if ((count + 1) * 2 > *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        uint32_t *ntab = rp_xcalloc(ncap, sizeof *ntab);
        for (size_t i = 0; i < *cap; i++) {
            uint32_t v = (*tab)[i];
            if (v == 0)
                continue;
            size_t h = id_hash(id_of(m, v - 1), ncap);
            while (ntab[h] != 0)
                h = (h + 1) & (ncap - 1);
            ntab[h] = v;
        }
        free(*tab);
        *tab = ntab;
        *cap = ncap;
    }
    size_t h = id_hash(id, *cap);
    while ((*tab)[h] != 0)
        h = (h + 1) & (*cap - 1);
    (*tab)[h] = index + 1;
}

static uint64_t
task_id_of(const struct rp_model *m, uint32_t i)
{
    return m->tasks[i].id;
}

static uint64_t
job_id_of(const struct rp_model *m, uint32_t i)
{
    return m->jobs[i].id;
}

static long
index_get(const uint32_t *tab, size_t cap, uint64_t id,
          uint64_t (*id_of)(const struct rp_model *, uint32_t), const struct rp_model *m)
{
    if (cap == 0)
        return -1;
    for (size_t h = id_hash(id, cap);; h = (h + 1) & (cap - 1)) {
        uint32_t v = tab[h];
        if (v == 0)
            return -1;
        if (id_of(m, v - 1) == id)
            return (long)v - 1;
    }
}

struct rp_model_task *
rp__model_task(struct rp_model *m, rp_task_id id)
{
    long i = index_get(m->task_index, m->task_index_cap, id, task_id_of, m);
    return i < 0 ? NULL : &m->tasks[i];
}

struct rp_model_job *
rp__model_job(struct rp_model *m, rp_job_id id)
{
    long i = index_get(m->job_index, m->job_index_cap, id, job_id_of, m);
    return i < 0 ? NULL : &m->jobs[i];
}

struct rp_model_task *
rp__model_job_task(struct rp_model *m, const struct rp_model_job *j, unsigned shard)
{
    /* A job's tasks arrive together (its QUEUED events are published in
     * one go, and snapshots are by id), so they usually sit side by side:
     * try there before the id table. */
    size_t at = (size_t)j->first_index + shard;

    if (at < m->ntasks && m->tasks[at].id == j->first_task + shard)
        return &m->tasks[at];
    return rp__model_task(m, j->first_task + shard);
}

/* ---- records ---- */

static void
job_set_label(struct rp_model_job *j)
{
    free(j->label);
    free(j->search);
    if (j->desc.name != NULL && j->desc.name[0] != '\0')
        j->label = rp_xstrdup(j->desc.name);
    else if (j->desc.command != NULL)
        j->label = rp_xstrdup(j->desc.command);
    else
        j->label = rp__sprintf("job %" PRIu64, j->id);
    j->search = rp__sprintf("%s %s", j->label, j->desc.command ? j->desc.command : "");
    for (char *p = j->search; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

static void
job_free(struct rp_model_job *j)
{
    rp__console_job_desc_free(&j->desc);
    free(j->label);
    free(j->search);
}

static size_t
add_job(struct rp_model *m, rp_job_id id)
{
    struct rp_model_job *j;

    if (m->njobs == m->jobs_cap) {
        m->jobs_cap = m->jobs_cap ? 2 * m->jobs_cap : 64;
        m->jobs = rp_xrealloc(m->jobs, m->jobs_cap * sizeof *m->jobs);
    }
    j = &m->jobs[m->njobs];
    memset(j, 0, sizeof *j);
    j->id = id;
    j->worker = -1;
    job_set_label(j);
    index_put(&m->job_index, &m->job_index_cap, id, (uint32_t)m->njobs, m->njobs, job_id_of, m);
    return m->njobs++;
}

static struct rp_model_task *
add_task(struct rp_model *m, rp_task_id id, rp_job_id job_id, unsigned shard)
{
    struct rp_model_task *t;
    struct rp_model_job *j = rp__model_job(m, job_id);
    size_t ji = j != NULL ? (size_t)(j - m->jobs) : add_job(m, job_id);

    j = &m->jobs[ji];
    if (m->ntasks == m->tasks_cap) {
        m->tasks_cap = m->tasks_cap ? 2 * m->tasks_cap : 256;
        m->tasks = rp_xrealloc(m->tasks, m->tasks_cap * sizeof *m->tasks);
    }
    t = &m->tasks[m->ntasks];
    memset(t, 0, sizeof *t);
    t->id = id;
    t->job = (uint32_t)ji;
    t->shard = shard;
    t->worker = -1;
    t->exit_code = -1;
    t->state = RP_TASK_QUEUED;
    index_put(&m->task_index, &m->task_index_cap, id, (uint32_t)m->ntasks, m->ntasks,
              task_id_of, m);
    m->ntasks++;
    /* A job's ids are consecutive: its first is any task's id - shard. */
    j->first_task = id - shard;
    if (m->ntasks - 1 >= shard)
        j->first_index = (uint32_t)(m->ntasks - 1 - shard);
    j->seen++;
    j->count[RP_TASK_QUEUED]++;
    m->rows_dirty = true;
    return t;
}

rp_task_state
rp__model_job_state(const struct rp_model_job *j)
{
    unsigned final = j->count[RP_TASK_SUCCEEDED] + j->count[RP_TASK_FAILED] +
                     j->count[RP_TASK_CANCELLED] + j->count[RP_TASK_TIMED_OUT];
    unsigned total = j->desc.total > j->seen ? j->desc.total : j->seen;

    if (j->count[RP_TASK_QUEUED] == total)
        return RP_TASK_QUEUED;
    if (final < total)
        return RP_TASK_RUNNING;
    if (j->count[RP_TASK_SUCCEEDED] == total)
        return RP_TASK_SUCCEEDED;
    if (j->count[RP_TASK_CANCELLED] > 0)
        return RP_TASK_CANCELLED;
    if (j->count[RP_TASK_TIMED_OUT] > 0)
        return RP_TASK_TIMED_OUT;
    return RP_TASK_FAILED;
}

/* ---- life cycle ---- */

void
rp__model_init(struct rp_model *m, uint64_t now_ns)
{
    memset(m, 0, sizeof *m);
    m->start_ns = now_ns;
    m->sort = RP_SORT_NEWEST;
    m->history_second = now_ns / NS_PER_S;
    m->rows_dirty = true;
}

static void
free_records(struct rp_model *m)
{
    for (size_t i = 0; i < m->njobs; i++)
        job_free(&m->jobs[i]);
    free(m->jobs);
    free(m->tasks);
    free(m->task_index);
    free(m->job_index);
    m->jobs = NULL;
    m->tasks = NULL;
    m->task_index = m->job_index = NULL;
    m->njobs = m->jobs_cap = m->ntasks = m->tasks_cap = 0;
    m->task_index_cap = m->job_index_cap = 0;
}

void
rp__model_free(struct rp_model *m)
{
    free_records(m);
    free(m->rows);
    free(m->workers);
    free(m->shown);
    memset(m, 0, sizeof *m);
}

static void
apply_info(struct rp_model *m, struct rp_model_task *t, rp_task_state state, unsigned attempts,
           int worker, uint64_t submitted, uint64_t started, uint64_t ended)
{
    struct rp_model_job *j = &m->jobs[t->job];

    j->count[t->state]--;
    j->count[state]++;
    t->state = (uint8_t)state;
    t->attempts = attempts;
    if (worker >= 0)
        t->worker = worker;
    if (submitted != 0 && (t->submitted_ns == 0 || submitted < t->submitted_ns))
        t->submitted_ns = submitted;
    if (started != 0)
        t->started_ns = started;
    if (ended != 0)
        t->ended_ns = ended;
    if (attempts > j->attempts)
        j->attempts = attempts;
    if (t->submitted_ns != 0 && (j->submitted_ns == 0 || t->submitted_ns < j->submitted_ns))
        j->submitted_ns = t->submitted_ns;
    if (t->started_ns != 0 && (j->started_ns == 0 || t->started_ns < j->started_ns))
        j->started_ns = t->started_ns;
    if (started != 0 && t->worker >= 0)
        j->worker = t->worker;
    if (t->ended_ns > j->ended_ns)
        j->ended_ns = t->ended_ns;
}

void
rp__model_load(struct rp_model *m, const struct rp_console_snapshot *snap, uint64_t now_ns)
{
    struct rp_model old = *m;

    (void)now_ns;
    m->jobs = NULL;
    m->tasks = NULL;
    m->task_index = m->job_index = NULL;
    m->njobs = m->jobs_cap = m->ntasks = m->tasks_cap = 0;
    m->task_index_cap = m->job_index_cap = 0;
    m->ntagged = 0;
    for (size_t i = 0; i < snap->ntasks; i++) {
        const rp_task_info *in = &snap->tasks[i];
        struct rp_model_task *t = add_task(m, in->id, in->job, in->shard);
        struct rp_model_task *was = rp__model_task(&old, in->id);
        apply_info(m, t, in->state, in->attempts, in->worker, in->submitted_ns,
                   in->started_ns, in->ended_ns);
        t->wait = (uint8_t)in->wait;
        t->exit_code = in->exit_code;
        t->signal = in->signal;
        m->jobs[t->job].desc.total = in->total_shards;
        if (was != NULL && was->tagged) {
            t->tagged = true;
            m->ntagged++;
        }
    }
    /* Keep what the console learnt or chose about jobs still there. */
    for (size_t i = 0; i < m->njobs; i++) {
        struct rp_model_job *j = &m->jobs[i];
        struct rp_model_job *was = rp__model_job(&old, j->id);
        if (was == NULL)
            continue;
        j->expanded = was->expanded;
        if (was->tagged) {
            j->tagged = true;
            m->ntagged++;
        }
        if (was->described) {
            unsigned total = j->desc.total;
            j->desc = was->desc;
            memset(&was->desc, 0, sizeof was->desc);
            if (total > 0)
                j->desc.total = total;
            j->described = true;
            job_set_label(j);
        }
    }
    m->stats = snap->stats;
    /* The rows held indices into the old arrays. */
    m->nrows = 0;
    m->rows_dirty = true;
    m->described_upto = 0;
    free_records(&old);
}

/* Where a state stands in a task's life: attempt n runs, then waits to
 * retry (still attempt n), then attempt n+1 runs, ... then ends. Events
 * older than what the model has (taken before its snapshot) sort lower
 * and are ignored, so a snapshot and the event stream can overlap. */
static uint64_t
life_order(rp_task_state state, unsigned attempts)
{
    unsigned phase = state == RP_TASK_RUNNING ? 0 : state == RP_TASK_QUEUED ? 1 : 2;

    return (uint64_t)attempts * 3 + phase;
}

void
rp__model_apply(struct rp_model *m, const rp_event *ev)
{
    struct rp_model_task *t = rp__model_task(m, ev->task);
    bool final = rp_task_state_is_final(ev->state);

    m->events++;
    if (t == NULL)
        t = add_task(m, ev->task, ev->job, ev->shard);
    else if (rp_task_state_is_final(t->state) ||
             life_order(ev->state, ev->attempt) < life_order(t->state, t->attempts))
        return;                     /* stale: the snapshot was newer */
    /* A state change moves rows only when the sort or the filter looks
     * at states (a filter may match a state name). */
    if (t->state != ev->state && (m->filter[0] != '\0' || m->sort == RP_SORT_STATE ||
                                  m->sort == RP_SORT_ELAPSED || m->sort == RP_SORT_PROGRESS))
        m->rows_dirty = true;
    apply_info(m, t, ev->state, ev->attempt, ev->worker,
               ev->state == RP_TASK_QUEUED ? ev->time_ns : 0,
               ev->state == RP_TASK_RUNNING ? ev->time_ns : 0, final ? ev->time_ns : 0);
    if (ev->state == RP_TASK_QUEUED) {
        t->wait = ev->attempt > 0 ? RP_WAIT_BACKOFF : RP_WAIT_SLOT;
        t->ended_ns = 0;
    } else {
        t->wait = RP_WAIT_NONE;
    }
    if (final) {
        t->exit_code = ev->exit_code;
        t->signal = ev->signal;
        rp__model_count_finish(m, ev->time_ns);
    }
}

void
rp__model_set_workers(struct rp_model *m, rp_worker_info *w, size_t n, uint64_t now_ns)
{
    struct rp_model_worker *nw = rp_xcalloc(n ? n : 1, sizeof *nw);
    uint64_t dt = now_ns > m->workers_ns ? now_ns - m->workers_ns : 0;

    for (size_t i = 0; i < n; i++) {
        const struct rp_model_worker *was = NULL;
        nw[i].info = w[i];
        /* Same order each time; fall back to a search by name. */
        if (i < m->nworkers && strcmp(m->workers[i].info.name, w[i].name) == 0)
            was = &m->workers[i];
        for (size_t k = 0; was == NULL && k < m->nworkers; k++)
            if (strcmp(m->workers[k].info.name, w[i].name) == 0)
                was = &m->workers[k];
        if (was != NULL && dt > 0 && w[i].busy_ns >= was->info.busy_ns) {
            double load = (double)(w[i].busy_ns - was->info.busy_ns) / (double)dt;
            nw[i].load = load > 1 ? 1 : load;
        } else {
            nw[i].load = w[i].task != 0 ? 1 : 0;
        }
    }
    free(w);
    free(m->workers);
    m->workers = nw;
    m->nworkers = n;
    /* A console that only runs processes need not list the function
     * executor's slots. */
    bool functions_used = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(nw[i].info.executor, "function") == 0)
            functions_used |= nw[i].info.completed > 0 || nw[i].info.task != 0;
    free(m->shown);
    m->shown = rp_xcalloc(n ? n : 1, sizeof *m->shown);
    m->nshown = 0;
    for (size_t i = 0; i < n; i++)
        if (functions_used || strcmp(nw[i].info.executor, "function") != 0)
            m->shown[m->nshown++] = i;
    m->workers_ns = now_ns;
}

void
rp__model_describe(struct rp_model *m, size_t job, struct rp_console_job_desc *d)
{
    struct rp_model_job *j = &m->jobs[job];

    rp__console_job_desc_free(&j->desc);
    j->desc = *d;
    memset(d, 0, sizeof *d);
    j->described = true;
    job_set_label(j);
    m->rows_dirty = true;
}

/* ---- filter, sort, rows ---- */

void
rp__model_set_filter(struct rp_model *m, const char *text)
{
    size_t i = 0;

    for (; text != NULL && text[i] != '\0' && i + 1 < sizeof m->filter; i++)
        m->filter[i] = (char)tolower((unsigned char)text[i]);
    m->filter[i] = '\0';
    m->rows_dirty = true;
}

void
rp__model_set_sort(struct rp_model *m, enum rp_model_sort s)
{
    if ((unsigned)s < RP_SORT_COUNT)
        m->sort = s;
    m->rows_dirty = true;
}

static bool
job_matches(const struct rp_model *m, const struct rp_model_job *j)
{
    char id[24];

    if (m->filter[0] == '\0')
        return true;
    if (strstr(j->search, m->filter) != NULL)
        return true;
    if (strstr(rp_task_state_name(rp__model_job_state(j)), m->filter) != NULL)
        return true;
    snprintf(id, sizeof id, "%" PRIu64, j->id);
    return strstr(id, m->filter) != NULL;
}

uint64_t
rp__model_task_elapsed(const struct rp_model_task *t, uint64_t now_ns)
{
    if (t->state == RP_TASK_QUEUED)
        return 0;
    uint64_t from = t->started_ns ? t->started_ns : t->submitted_ns;
    uint64_t to = t->state == RP_TASK_RUNNING ? now_ns : t->ended_ns;
    return to > from && from != 0 ? to - from : 0;
}

uint64_t
rp__model_job_elapsed(const struct rp_model_job *j, uint64_t now_ns)
{
    rp_task_state s = rp__model_job_state(j);

    if (s == RP_TASK_QUEUED)
        return 0;
    uint64_t from = j->started_ns ? j->started_ns : j->submitted_ns;
    uint64_t to = rp_task_state_is_final(s) ? j->ended_ns : now_ns;
    return to > from && from != 0 ? to - from : 0;
}

/* Lower sorts first in RP_SORT_STATE: what needs eyes on top. */
static int
state_rank(rp_task_state s)
{
    static const int rank[RP_TASK_STATE_COUNT] = {
        [RP_TASK_RUNNING] = 0,   [RP_TASK_QUEUED] = 1,    [RP_TASK_FAILED] = 2,
        [RP_TASK_TIMED_OUT] = 3, [RP_TASK_CANCELLED] = 4, [RP_TASK_SUCCEEDED] = 5,
    };
    return (unsigned)s < RP_TASK_STATE_COUNT ? rank[s] : 6;
}

static double
job_progress(const struct rp_model_job *j)
{
    unsigned total = j->desc.total > j->seen ? j->desc.total : j->seen;
    unsigned done = j->count[RP_TASK_SUCCEEDED] + j->count[RP_TASK_FAILED] +
                    j->count[RP_TASK_CANCELLED] + j->count[RP_TASK_TIMED_OUT];
    return total ? (double)done / total : 0;
}

/* qsort has no context argument: the sort in progress, UI thread only. */
static struct {
    const struct rp_model *m;
    uint64_t now;
} sorting;

static int
cmp_u64(uint64_t a, uint64_t b)
{
    return (a > b) - (a < b);
}

static int
compare_jobs(const void *pa, const void *pb)
{
    const struct rp_model *m = sorting.m;
    const struct rp_model_job *a = &m->jobs[((const struct rp_model_row *)pa)->job];
    const struct rp_model_job *b = &m->jobs[((const struct rp_model_row *)pb)->job];
    int c = 0;

    switch (m->sort) {
    case RP_SORT_OLDEST:
        return cmp_u64(a->id, b->id);
    case RP_SORT_STATE:
        c = state_rank(rp__model_job_state(a)) - state_rank(rp__model_job_state(b));
        break;
    case RP_SORT_NAME:
        c = strcmp(a->label, b->label);
        break;
    case RP_SORT_ELAPSED:
        c = cmp_u64(rp__model_job_elapsed(b, sorting.now), rp__model_job_elapsed(a, sorting.now));
        break;
    case RP_SORT_PROGRESS: {
        double x = job_progress(a), y = job_progress(b);
        c = (x > y) - (x < y);
        break;
    }
    case RP_SORT_NEWEST:
    case RP_SORT_COUNT:
        break;
    }
    return c != 0 ? c : cmp_u64(b->id, a->id);
}

static void
push_row(struct rp_model *m, uint32_t job, int32_t task)
{
    if (m->nrows == m->rows_cap) {
        m->rows_cap = m->rows_cap ? 2 * m->rows_cap : 256;
        m->rows = rp_xrealloc(m->rows, m->rows_cap * sizeof *m->rows);
    }
    m->rows[m->nrows].job = job;
    m->rows[m->nrows].task = task;
    m->nrows++;
}

void
rp__model_rows(struct rp_model *m, uint64_t now_ns)
{
    size_t njobrows;

    if (!m->rows_dirty)
        return;
    m->nrows = 0;
    for (size_t i = 0; i < m->njobs; i++)
        if (job_matches(m, &m->jobs[i]))
            push_row(m, (uint32_t)i, -1);
    sorting.m = m;
    sorting.now = now_ns;
    if (m->nrows > 1)
        qsort(m->rows, m->nrows, sizeof *m->rows, compare_jobs);
    sorting.m = NULL;
    /* Insert the tasks of expanded jobs after their job, by shard. */
    njobrows = m->nrows;
    for (size_t r = 0; r < njobrows; r++)
        if (m->jobs[m->rows[r].job].expanded)
            break;
        else if (r + 1 == njobrows)
            goto done;
    if (njobrows > 0) {
        struct rp_model_row *jobrows = rp_xmalloc(njobrows * sizeof *jobrows);
        memcpy(jobrows, m->rows, njobrows * sizeof *jobrows);
        m->nrows = 0;
        for (size_t r = 0; r < njobrows; r++) {
            struct rp_model_job *j = &m->jobs[jobrows[r].job];
            push_row(m, jobrows[r].job, -1);
            if (!j->expanded)
                continue;
            unsigned total = j->desc.total > j->seen ? j->desc.total : j->seen;
            for (unsigned s = 0; s < total; s++) {
                struct rp_model_task *t = rp__model_job_task(m, j, s);
                if (t != NULL)
                    push_row(m, jobrows[r].job, (int32_t)(t - m->tasks));
            }
        }
        free(jobrows);
    }
done:
    m->rows_dirty = false;
}

void
rp__model_expand(struct rp_model *m, size_t job, bool on)
{
    if (job < m->njobs && m->jobs[job].expanded != on) {
        m->jobs[job].expanded = on;
        m->rows_dirty = true;
    }
}

bool
rp__model_toggle_tag(struct rp_model *m, const struct rp_model_row *row)
{
    bool *tag = row->task < 0 ? &m->jobs[row->job].tagged : &m->tasks[row->task].tagged;

    *tag = !*tag;
    if (*tag)
        m->ntagged++;
    else
        m->ntagged--;
    return *tag;
}

void
rp__model_clear_tags(struct rp_model *m)
{
    for (size_t i = 0; i < m->njobs; i++)
        m->jobs[i].tagged = false;
    for (size_t i = 0; i < m->ntasks; i++)
        m->tasks[i].tagged = false;
    m->ntagged = 0;
}

size_t
rp__model_next_undescribed(struct rp_model *m)
{
    while (m->described_upto < m->njobs && m->jobs[m->described_upto].described)
        m->described_upto++;
    return m->described_upto;
}

unsigned long
rp__model_ahead_of(const struct rp_model *m, const struct rp_model_task *t)
{
    rp_priority p = m->jobs[t->job].desc.priority;
    unsigned long n = 0;

    for (size_t i = 0; i < m->ntasks; i++) {
        const struct rp_model_task *o = &m->tasks[i];
        rp_priority q = m->jobs[o->job].desc.priority;
        if (o != t && o->state == RP_TASK_QUEUED && o->wait == RP_WAIT_SLOT &&
            (q > p || (q == p && o->id < t->id)))
            n++;
    }
    return n;
}

/* ---- throughput ---- */

void
rp__model_count_finish(struct rp_model *m, uint64_t now_ns)
{
    uint64_t s = now_ns / NS_PER_S;

    if (s > m->history_second) {
        uint64_t gap = s - m->history_second;
        if (gap > RP_MODEL_HISTORY)
            gap = RP_MODEL_HISTORY;
        for (uint64_t k = 0; k < gap; k++)
            m->history[(s - k) % RP_MODEL_HISTORY] = 0;
        m->history_second = s;
    } else if (m->history_second - s >= RP_MODEL_HISTORY) {
        return;                     /* too old to keep */
    }
    m->history[s % RP_MODEL_HISTORY]++;
}

static uint32_t
count_at(const struct rp_model *m, uint64_t s)
{
    if (s > m->history_second || m->history_second - s >= RP_MODEL_HISTORY)
        return 0;
    return m->history[s % RP_MODEL_HISTORY];
}

double
rp__model_rate(const struct rp_model *m, uint64_t now_ns, unsigned seconds)
{
    uint64_t now_s = now_ns / NS_PER_S, sum = 0;

    if (seconds == 0)
        return 0;
    for (unsigned k = 1; k <= seconds && k <= now_s; k++)
        sum += count_at(m, now_s - k);
    return (double)sum / seconds;
}

void
rp__model_history(const struct rp_model *m, uint64_t now_ns, uint32_t *out, size_t n)
{
    uint64_t now_s = now_ns / NS_PER_S;

    /* out[n-1] is the last complete second. */
    for (size_t i = 0; i < n; i++) {
        uint64_t back = n - i;
        out[i] = back <= now_s ? count_at(m, now_s - back) : 0;
    }
}
