/*
 * pane_detail.c -- the detail pane: everything about the selection --
 * command, state and why it waits, settings, env, times, checkpoints and
 * the tail of its output -- as lines of which only the visible ones are
 * drawn; it scrolls, and Enter shows it full size.
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include "tui/pane.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NS_PER_S 1000000000ull

/* Lines of the detail pane are produced in order and only those in the
 * visible window are drawn. */
struct lines {
    struct rp_console *c;
    WINDOW *w;
    unsigned long skip;             /* lines above the window */
    int y, bottom, width;
    unsigned long total;
};

static bool
line_visible(struct lines *l)
{
    bool vis = l->total >= l->skip && l->y < l->bottom;

    l->total++;
    return vis;
}

static void
line_kv(struct lines *l, const char *key, const char *value, int value_attr)
{
    if (!line_visible(l))
        return;
    wattron(l->w, rp__draw_attr(l->c, RP_THEME_HEADER));
    rp__draw_printf(l->c, l->w, l->y, 2, 11, "%-11s", key);
    wattroff(l->w, rp__draw_attr(l->c, RP_THEME_HEADER));
    if (value_attr)
        wattron(l->w, value_attr);
    rp__draw_puts(l->c, l->w, l->y, 14, l->width - 13, value);
    if (value_attr)
        wattroff(l->w, value_attr);
    l->y++;
}

static void
line_text(struct lines *l, const char *text, size_t n, int a)
{
    if (!line_visible(l))
        return;
    if (a)
        wattron(l->w, a);
    rp__draw_put(l->c, l->w, l->y, 2, l->width - 1, text, n);
    if (a)
        wattroff(l->w, a);
    l->y++;
}

/* The last lines of captured output. */
static void
output_tail(struct lines *l, const char *name, const char *text, size_t len, uint64_t total,
            unsigned max_lines)
{
    char head[128], size[32];
    const char *start = text + len;
    unsigned n = 0;

    if (len == 0)
        return;
    if (len > 0 && text[len - 1] == '\n')
        start--;
    while (start > text && n < max_lines) {
        start--;
        if (*start == '\n')
            n++;
    }
    if (*start == '\n')
        start++;
    rp__draw_bytes(size, sizeof size, total);
    snprintf(head, sizeof head, "%s %s (%s%s)", l->c->ascii ? "--" : "──", name, size,
             total > len ? ", the tail kept" : "");
    line_text(l, head, strlen(head), rp__draw_attr(l->c, RP_THEME_HEADER));
    while (start < text + len) {
        const char *end = memchr(start, '\n', (size_t)(text + len - start));
        size_t n2 = end ? (size_t)(end - start) : (size_t)(text + len - start);
        line_text(l, start, n2, 0);
        start += n2 + (end != NULL);
    }
}

/* A monotonic time as the wall clock's HH:MM:SS: the age is taken off
 * the real time in nanoseconds, so the second shown does not flicker
 * between frames. */
static void
wall_time(char *buf, size_t size, uint64_t mono_ns, uint64_t now_mono)
{
    struct timespec real;
    uint64_t real_ns, age = now_mono > mono_ns ? now_mono - mono_ns : 0;
    time_t t;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &real);
    real_ns = (uint64_t)real.tv_sec * NS_PER_S + (uint64_t)real.tv_nsec;
    t = (time_t)((real_ns > age ? real_ns - age : 0) / NS_PER_S);

    localtime_r(&t, &tm);
    strftime(buf, size, "%H:%M:%S", &tm);
}

static void
detail_task(struct lines *l, const struct rp_console_detail *d, uint64_t now)
{
    struct rp_console *c = l->c;
    const struct rp_model *m = &c->model;
    const rp_task_info *in = &d->info;
    const struct rp_model_task *mt = rp__model_task(&c->model, in->id);
    rp_task_state state = mt ? (rp_task_state)mt->state : in->state;
    char buf[1024], a[64], b[64];

    snprintf(buf, sizeof buf, "%s", d->desc.command ? d->desc.command : "?");
    line_kv(l, "command", buf, 0);
    if (d->desc.name)
        line_kv(l, "name", d->desc.name, 0);
    snprintf(buf, sizeof buf, "%s", rp_task_state_name(state));
    if (state == RP_TASK_RUNNING && in->worker >= 0) {
        rp__console_format_duration(a, sizeof a, mt ? rp__model_task_elapsed(mt, now) : 0);
        snprintf(buf, sizeof buf, "running on %s for %s (attempt %u of %u)",
                 rp__draw_worker_name(m, in->worker), a, in->attempts, in->max_retries + 1);
    } else if (state == RP_TASK_QUEUED) {
        /* squeue's REASON: why it is not running. */
        rp_wait_reason why = mt ? (rp_wait_reason)mt->wait : in->wait;
        if (why == RP_WAIT_BACKOFF && in->retry_at_ns > now) {
            rp__console_format_duration(a, sizeof a, in->retry_at_ns - now);
            snprintf(buf, sizeof buf, "queued: backing off before retry %u (in %s)",
                     in->attempts, a);
        } else if (why == RP_WAIT_BACKOFF) {
            snprintf(buf, sizeof buf, "queued: backing off before retry %u", in->attempts);
        } else if (why == RP_WAIT_SLOT && mt != NULL) {
            unsigned busy = 0;
            for (size_t i = 0; i < m->nshown; i++)
                busy += m->workers[m->shown[i]].info.task != 0;
            snprintf(buf, sizeof buf, "queued: no free slot (%u of %zu busy, %lu ahead of it)",
                     busy, m->nshown, c->detail_ahead);
        } else {
            snprintf(buf, sizeof buf, "queued: %s", rp_wait_reason_name(why));
        }
    } else if (rp_task_state_is_final(state)) {
        if (d->has_result && d->error && d->error[0] &&
            strcmp(d->error, rp_task_state_name(state)) != 0)
            snprintf(buf, sizeof buf, "%s: %s", rp_task_state_name(state), d->error);
        else if (state == RP_TASK_CANCELLED || state == RP_TASK_TIMED_OUT)
            snprintf(buf, sizeof buf, "%s", rp_task_state_name(state));
        else if (in->signal > 0)
            snprintf(buf, sizeof buf, "%s (signal %d)", rp_task_state_name(state), in->signal);
        else
            snprintf(buf, sizeof buf, "%s (exit %d)", rp_task_state_name(state), in->exit_code);
    }
    line_kv(l, "state", buf, rp__draw_attr(c, rp__draw_state_slot(state)));
    snprintf(buf, sizeof buf, "task %" PRIu64 "  job %" PRIu64 "  shard %u of %u", in->id,
             in->job, in->shard, in->total_shards);
    line_kv(l, "ids", buf, 0);
    static const char *const prio[] = { "low", "normal", "high", "critical" };
    static const char *const back[] = { "any", "cpu", "gpu", "remote" };
    if (d->desc.timeout_ms)
        snprintf(a, sizeof a, "%u ms", d->desc.timeout_ms);
    else
        snprintf(a, sizeof a, "none");
    snprintf(buf, sizeof buf, "priority %s  backend %s  timeout %s  retries %u  checkpoints %s",
             prio[d->desc.priority & 3], back[d->desc.backend & 3], a, d->desc.max_retries,
             d->desc.checkpoint ? "on" : "off");
    line_kv(l, "settings", buf, 0);
    if (d->nenv > 0) {
        size_t used = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < d->nenv && used + 2 < sizeof buf; i++)
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? "  " : "",
                                     d->env[i]);
        line_kv(l, "env", buf, 0);
    }
    if (d->cwd)
        line_kv(l, "cwd", d->cwd, 0);
    if (d->ndeps > 0) {
        size_t used = 0;
        buf[0] = '\0';
        for (size_t i = 0; i < d->ndeps && used + 2 < sizeof buf; i++)
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? ", " : "",
                                     d->data_deps[i]);
        line_kv(l, "data", buf, 0);
    }
    /* timings */
    if (in->submitted_ns) {
        wall_time(a, sizeof a, in->submitted_ns, now);
        int used = snprintf(buf, sizeof buf, "submitted %s", a);
        if (in->started_ns && in->started_ns >= in->submitted_ns) {
            rp__console_format_duration(b, sizeof b, in->started_ns - in->submitted_ns);
            used += snprintf(buf + used, sizeof buf - (size_t)used, ", waited %s", b);
        }
        if (d->has_result && d->times.wall_ns) {
            rp__console_format_duration(b, sizeof b, d->times.wall_ns);
            used += snprintf(buf + used, sizeof buf - (size_t)used, ", ran %s", b);
            snprintf(buf + used, sizeof buf - (size_t)used,
                     " (user %.2fs, sys %.2fs, max RSS %" PRIu64 " MiB)",
                     (double)d->times.user_ns / 1e9, (double)d->times.system_ns / 1e9,
                     d->times.max_rss_kb / 1024);
        }
        line_kv(l, "times", buf, 0);
    }
    if (d->ckpt_key[0]) {
        if (d->nckpt == 0) {
            snprintf(buf, sizeof buf, "%s: none yet", d->ckpt_key);
        } else {
            int used = snprintf(buf, sizeof buf, "%s:", d->ckpt_key);
            for (size_t i = 0; i < d->nckpt && used < (int)sizeof buf - 40; i++) {
                time_t t = (time_t)(d->ckpt[i].time_ms / 1000);
                struct tm tm;
                localtime_r(&t, &tm);
                strftime(a, sizeof a, "%H:%M:%S", &tm);
                rp__draw_bytes(b, sizeof b, d->ckpt[i].raw_size);
                used += snprintf(buf + used, sizeof buf - (size_t)used, "%s #%" PRIu64 " at %s (%s)",
                                 i ? "," : "", d->ckpt[i].iteration, a, b);
            }
        }
        line_kv(l, "checkpoint", buf, 0);
    }
    if (!d->has_result && !d->live_output)
        return;
    unsigned lines = c->zoom ? 1000 : 12;
    output_tail(l, d->live_output ? "stdout so far" : "stdout", d->out, d->out_len, d->out_total,
                lines);
    output_tail(l, d->live_output ? "stderr so far" : "stderr", d->err, d->err_len, d->err_total,
                lines);
    if (d->out_len == 0 && d->err_len == 0)
        line_text(l, d->live_output ? "(no output yet)" : "(no output)",
                  d->live_output ? 15 : 11, rp__draw_attr(c, RP_THEME_DIM));
}

static void
detail_job(struct lines *l, const struct rp_model_job *j)
{
    struct rp_console *c = l->c;
    unsigned total = j->desc.total > j->seen ? j->desc.total : j->seen;
    char buf[512];
    int used;

    snprintf(buf, sizeof buf, "job %" PRIu64 ": %u tasks, %s", j->id, total,
             rp_task_state_name(rp__model_job_state(j)));
    line_kv(l, "job", buf, rp__draw_attr(c, rp__draw_state_slot(rp__model_job_state(j))));
    used = 0;
    buf[0] = '\0';
    for (int s = 0; s < RP_TASK_STATE_COUNT; s++)
        if (j->count[s])
            used += snprintf(buf + used, sizeof buf - (size_t)used, "%s%u %s", used ? ", " : "",
                             j->count[s], rp_task_state_name((rp_task_state)s));
    line_kv(l, "tasks", buf, 0);
    line_kv(l, "", "Right (l) lists its tasks; select one for its output.", rp__draw_attr(c, RP_THEME_DIM));
    line_text(l, "", 0, 0);
    line_text(l, "its first task:", 15, rp__draw_attr(c, RP_THEME_DIM));
}

static void
draw_detail(struct rp_console *c, WINDOW *w, uint64_t now)
{
    const struct rp_model_row *row = rp__console_current_row(c);
    struct lines l = { .c = c, .w = w, .y = 1, .bottom = getmaxy(w) - 1,
                       .width = getmaxx(w) - 3 };
    bool focused = c->focus == RP_PANE_DETAIL;
    char title[64];

    if (row == NULL) {
        rp__draw_frame(c, w, "detail", focused);
        wattron(w, rp__draw_attr(c, RP_THEME_DIM));
        rp__draw_puts(c, w, 1, 2, l.width, "nothing selected");
        wattroff(w, rp__draw_attr(c, RP_THEME_DIM));
        return;
    }
    if (row->task >= 0)
        snprintf(title, sizeof title, "detail: task %" PRIu64, c->model.tasks[row->task].id);
    else
        snprintf(title, sizeof title, "detail: job %" PRIu64, c->model.jobs[row->job].id);
    rp__draw_frame(c, w, title, focused);
    /* Keep the scroll inside the text: count the lines first. */
    for (int pass = 0; pass < 2; pass++) {
        l.total = 0;
        l.y = 1;
        l.skip = pass == 0 ? (unsigned long)-1 : c->top[RP_PANE_DETAIL];
        if (row->task < 0 && (c->model.jobs[row->job].desc.total > 1))
            detail_job(&l, &c->model.jobs[row->job]);
        if (c->have_detail)
            detail_task(&l, &c->detail, now);
        else
            line_text(&l, "(no detail available)", 21, rp__draw_attr(c, RP_THEME_DIM));
        if (pass == 0) {
            unsigned long visible = (unsigned long)(l.bottom - 1);
            if (c->top[RP_PANE_DETAIL] + visible > l.total)
                c->top[RP_PANE_DETAIL] = l.total > visible ? l.total - visible : 0;
        }
    }
}

static const struct rp_rect *
detail_rect(const struct rp_layout *l)
{
    return &l->detail;
}

static unsigned long
detail_rows(const struct rp_console *c)
{
    (void)c;
    return 0;                       /* it scrolls its text */
}

const struct rp_pane_ops rp__pane_detail = {
    .name = "detail",
    .rect = detail_rect,
    .rows = detail_rows,
    .draw = draw_detail,
};
