/*
 * pane_jobs.c -- the jobs pane: one row per job, its tasks under it when
 * expanded; state, worker, attempts, elapsed, and progress or the reason a
 * task waits. Only the rows on screen are drawn.
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include "tui/pane.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct columns {
    int name, state, backend, worker, attempts, elapsed, progress;   /* widths; 0 = hidden */
};

static void
jobs_columns(int width, struct columns *k)
{
    k->state = 9;
    k->worker = 7;
    k->elapsed = 7;
    k->progress = 20;
    k->backend = width >= 100 ? 4 : 0;
    k->attempts = width >= 100 ? 4 : 0;
    /* mark(2) + id(8) + the spaces between columns */
    k->name = width - 2 - 8 - 1 - (k->state + 1) - (k->worker + 1) - (k->elapsed + 1) -
              (k->progress + 1) - (k->backend ? k->backend + 1 : 0) -
              (k->attempts ? k->attempts + 1 : 0);
    if (k->name > 80 && width > 160) {
        k->progress += (k->name - 80) / 2;
        k->name = width - 2 - 8 - 1 - (k->state + 1) - (k->worker + 1) - (k->elapsed + 1) -
                  (k->progress + 1) - (k->backend ? k->backend + 1 : 0) -
                  (k->attempts ? k->attempts + 1 : 0);
    }
}

/* Why a task is where it is, in a few words: the REASON column. */
static void
task_reason(const struct rp_model_task *t, char *buf, size_t size)
{
    switch ((rp_task_state)t->state) {
    case RP_TASK_QUEUED:
        if (t->wait == RP_WAIT_BACKOFF)
            snprintf(buf, size, "backoff, retry %u", t->attempts);
        else
            snprintf(buf, size, "%s", rp_wait_reason_name((rp_wait_reason)t->wait));
        return;
    case RP_TASK_RUNNING:
        snprintf(buf, size, "attempt %u", t->attempts);
        return;
    case RP_TASK_SUCCEEDED:
    case RP_TASK_FAILED:
        if (t->signal > 0)
            snprintf(buf, size, "signal %d", t->signal);
        else if (t->attempts == 0)
            snprintf(buf, size, "did not start");
        else
            snprintf(buf, size, "exit %d", t->exit_code);
        return;
    case RP_TASK_CANCELLED:
        snprintf(buf, size, t->attempts ? "cancelled" : "cancelled, queued");
        return;
    case RP_TASK_TIMED_OUT:
        snprintf(buf, size, "timed out");
        return;
    }
    buf[0] = '\0';
}

static void
draw_job_row(struct rp_console *c, WINDOW *w, int y, const struct rp_model_row *row,
             const struct columns *k, bool selected, uint64_t now)
{
    struct rp_model *m = &c->model;
    const struct rp_model_job *j = &m->jobs[row->job];
    const struct rp_model_task *t = row->task >= 0 ? &m->tasks[row->task] : NULL;
    unsigned total = j->desc.total > j->seen ? j->desc.total : j->seen;
    rp_task_state state = t ? (rp_task_state)t->state : rp__model_job_state(j);
    bool tagged = t ? t->tagged : j->tagged;
    int width = getmaxx(w) - 2, x = 1, base = 0;
    char buf[256], dur[32];

    if (selected)
        base = rp__draw_attr(c, RP_THEME_SELECTED);
    else if (tagged)
        base = rp__draw_attr(c, RP_THEME_TAGGED);
    if (base) {
        wattron(w, base);
        mvwhline(w, y, 1, ' ', width);
    }
    /* mark: tag and fold */
    if (t == NULL && total > 1)
        snprintf(buf, sizeof buf, "%s%s", tagged ? "*" : " ",
                 c->ascii ? (j->expanded ? "-" : "+") : (j->expanded ? "▾" : "▸"));
    else
        snprintf(buf, sizeof buf, "%s ", tagged ? "*" : " ");
    x += rp__draw_puts(c, w, y, x, 2, buf);
    if (t != NULL)
        snprintf(buf, sizeof buf, "%7" PRIu64, t->id);
    else
        snprintf(buf, sizeof buf, "j%-6" PRIu64, j->id);
    x += rp__draw_puts(c, w, y, x, 8, buf) + 1;
    /* name */
    if (t != NULL)
        snprintf(buf, sizeof buf, "  %s shard %u/%u", c->ascii ? "`-" : "└", t->shard, total);
    else
        snprintf(buf, sizeof buf, "%s", j->label);
    rp__draw_put(c, w, y, x, k->name, buf, strlen(buf));
    x += k->name + 1;
    /* state */
    if (!base)
        wattron(w, rp__draw_attr(c, rp__draw_state_slot(state)));
    rp__draw_printf(c, w, y, x, k->state, "%-9s", rp_task_state_name(state));
    if (!base)
        wattroff(w, rp__draw_attr(c, rp__draw_state_slot(state)));
    x += k->state + 1;
    if (k->backend) {
        static const char *const b[] = { "any", "cpu", "gpu", "rem" };
        rp__draw_printf(c, w, y, x, k->backend, "%-4s", b[j->desc.backend & 3]);
        x += k->backend + 1;
    }
    rp__draw_printf(c, w, y, x, k->worker, "%-7.7s", rp__draw_worker_name(m, t ? t->worker : j->worker));
    x += k->worker + 1;
    if (k->attempts) {
        if ((t ? t->attempts : j->attempts) > 0)
            rp__draw_printf(c, w, y, x, k->attempts, "%u/%u", t ? t->attempts : j->attempts,
                      j->desc.max_retries + 1);
        else
            rp__draw_puts(c, w, y, x, k->attempts, "-");
        x += k->attempts + 1;
    }
    uint64_t el = t ? rp__model_task_elapsed(t, now) : rp__model_job_elapsed(j, now);
    if (el > 0)
        rp__console_format_duration(dur, sizeof dur, el);
    else
        snprintf(dur, sizeof dur, "-");
    rp__draw_printf(c, w, y, x, k->elapsed, "%7s", dur);
    x += k->elapsed + 1;
    /* progress for sharded jobs, the reason for a single task */
    if (t == NULL && total > 1) {
        unsigned done = j->count[RP_TASK_SUCCEEDED] + j->count[RP_TASK_FAILED] +
                        j->count[RP_TASK_CANCELLED] + j->count[RP_TASK_TIMED_OUT];
        int bw = k->progress - 12;
        if (bw >= 4) {
            rp__draw_bar(c, w, y, x, bw, total ? (double)done / total : 0);
            if (base)
                wattron(w, base);
            rp__draw_printf(c, w, y, x + bw, k->progress - bw, " %u/%u", done, total);
        } else {
            rp__draw_printf(c, w, y, x, k->progress, "%u/%u", done, total);
        }
    } else {
        const struct rp_model_task *one = t ? t : rp__model_job_task(m, j, 0);
        if (one != NULL) {
            task_reason(one, buf, sizeof buf);
            rp__draw_puts(c, w, y, x, k->progress, buf);
        }
    }
    if (base)
        wattroff(w, base);
}

static void
draw_jobs(struct rp_console *c, WINDOW *w, uint64_t now)
{
    struct rp_model *m = &c->model;
    int rows = rp__layout_pane_rows(&c->layout.jobs), width = getmaxx(w) - 2;
    bool focused = c->focus == RP_PANE_JOBS;
    struct columns k;
    char title[256];
    int x = 1;

    snprintf(title, sizeof title, "jobs (%zu job%s, %zu task%s)  sort: %s%s%s%s", m->njobs,
             m->njobs == 1 ? "" : "s", m->ntasks, m->ntasks == 1 ? "" : "s",
             rp__model_sort_name(m->sort), m->filter[0] ? "  filter: " : "", m->filter,
             m->ntagged ? "  [tagged]" : "");
    rp__draw_frame(c, w, title, focused);
    jobs_columns(width, &k);
    wattron(w, rp__draw_attr(c, RP_THEME_HEADER));
    x += rp__draw_puts(c, w, 1, x, 2, "  ");
    x += rp__draw_printf(c, w, 1, x, 8, "%-7s", "ID") + 1;
    rp__draw_printf(c, w, 1, x, k.name, "%s", "NAME / COMMAND");
    x += k.name + 1;
    rp__draw_printf(c, w, 1, x, k.state, "%s", "STATE");
    x += k.state + 1;
    if (k.backend)
        rp__draw_printf(c, w, 1, x, k.backend, "%s", "BACK"), x += k.backend + 1;
    rp__draw_printf(c, w, 1, x, k.worker, "%s", "WORKER");
    x += k.worker + 1;
    if (k.attempts)
        rp__draw_printf(c, w, 1, x, k.attempts, "%s", "ATT"), x += k.attempts + 1;
    rp__draw_printf(c, w, 1, x, k.elapsed, "%7s", "ELAPSED");
    x += k.elapsed + 1;
    rp__draw_printf(c, w, 1, x, k.progress, "%s", "PROGRESS / REASON");
    wattroff(w, rp__draw_attr(c, RP_THEME_HEADER));

    c->top[RP_PANE_JOBS] =
        rp__layout_scroll(c->top[RP_PANE_JOBS], c->cursor[RP_PANE_JOBS], m->nrows, rows);
    for (int r = 0; r < rows; r++) {
        unsigned long i = c->top[RP_PANE_JOBS] + (unsigned long)r;
        if (i >= m->nrows)
            break;
        draw_job_row(c, w, 2 + r, &m->rows[i], &k, i == c->cursor[RP_PANE_JOBS], now);
    }
    if (m->nrows == 0) {
        wattron(w, rp__draw_attr(c, RP_THEME_DIM));
        rp__draw_puts(c, w, 2, 3, width - 3,
                m->njobs == 0 ? (c->opt.readonly ? "no jobs yet"
                                                 : "no jobs yet: press s to submit one, "
                                                   "or : and `submit CMD`")
                              : "no job matches the filter (/ edits it, Esc in it clears it)");
        wattroff(w, rp__draw_attr(c, RP_THEME_DIM));
    }
}

static const struct rp_rect *
jobs_rect(const struct rp_layout *l)
{
    return &l->jobs;
}

static unsigned long
jobs_rows(const struct rp_console *c)
{
    return c->model.nrows;
}

const struct rp_pane_ops rp__pane_jobs = {
    .name = "jobs",
    .rect = jobs_rect,
    .rows = jobs_rows,
    .draw = draw_jobs,
};
