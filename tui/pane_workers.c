/*
 * pane_workers.c -- the workers pane: one row per slot a task can run in,
 * with its status, load bar, running task, finished attempts and uptime.
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include "tui/pane.h"

#include <inttypes.h>
#include <stdio.h>

static void
draw_workers(struct rp_console *c, WINDOW *w, uint64_t now)
{
    struct rp_model *m = &c->model;
    int rows = rp__layout_pane_rows(&c->layout.workers), width = getmaxx(w) - 2;
    bool focused = c->focus == RP_PANE_WORKERS;
    char title[64], up[32];

    snprintf(title, sizeof title, "workers (%zu)", m->nshown);
    rp__draw_frame(c, w, title, focused);
    c->top[RP_PANE_WORKERS] = rp__layout_scroll(c->top[RP_PANE_WORKERS],
                                                c->cursor[RP_PANE_WORKERS], m->nshown, rows);
    /* Narrow terminals get a shorter node and load bar. */
    int node_w = width < 100 ? 10 : width < 118 ? 14 : 21, bar_w = width < 100 ? 8 : 12;
    int name_x = 1 + node_w + 1, status_x = name_x + 8, bar_x = status_x + 7;
    int pct_x = bar_x + bar_w + 1, rest_x = pct_x + 6;
    wattron(w, rp__draw_attr(c, RP_THEME_HEADER));
    rp__draw_printf(c, w, 1, 1, width, "%-*s %-7s %-6s %-*s %8s %8s %8s %-4s", node_w, "NODE", "WORKER",
              "STATUS", bar_w + 6, "LOAD", "TASK", "DONE", "UPTIME", "KIND");
    wattroff(w, rp__draw_attr(c, RP_THEME_HEADER));
    for (int r = 0; r < rows; r++) {
        unsigned long i = c->top[RP_PANE_WORKERS] + (unsigned long)r;
        const struct rp_model_worker *mw;
        char task[24];
        int y = 2 + r, a;
        if (i >= m->nshown)
            break;
        mw = &m->workers[m->shown[i]];
        a = focused && i == c->cursor[RP_PANE_WORKERS] ? rp__draw_attr(c, RP_THEME_SELECTED) : 0;
        if (a)
            wattron(w, a), mvwhline(w, y, 1, ' ', width);
        if (mw->info.task)
            snprintf(task, sizeof task, "%" PRIu64, mw->info.task);
        else
            snprintf(task, sizeof task, "-");
        rp__console_format_duration(up, sizeof up,
                                    now > mw->info.up_since_ns ? now - mw->info.up_since_ns : 0);
        rp__draw_printf(c, w, y, 1, node_w, "%-*.*s", node_w, node_w, mw->info.node);
        rp__draw_printf(c, w, y, name_x, 7, "%-7.7s", mw->info.name);
        if (!a)
            wattron(w, rp__draw_attr(c, !mw->info.up ? RP_THEME_LOST
                                            : mw->info.task ? RP_THEME_RUNNING : RP_THEME_DIM));
        rp__draw_printf(c, w, y, status_x, 6, "%-6s",
                  !mw->info.up ? "lost" : mw->info.task ? "busy" : "idle");
        if (!a)
            wattroff(w, rp__draw_attr(c, !mw->info.up ? RP_THEME_LOST
                                             : mw->info.task ? RP_THEME_RUNNING : RP_THEME_DIM));
        rp__draw_bar(c, w, y, bar_x, bar_w, mw->load);
        if (a)
            wattron(w, a);
        rp__draw_printf(c, w, y, pct_x, 5, "%4.0f%%", mw->load * 100);
        rp__draw_printf(c, w, y, rest_x, width - rest_x + 1, "%8s %8" PRIu64 " %8s %-4s", task,
                  mw->info.completed, up,
                  mw->info.backend == RP_BACKEND_GPU      ? "GPU"
                  : mw->info.backend == RP_BACKEND_REMOTE ? "REM"
                                                          : "CPU");
        if (a)
            wattroff(w, a);
    }
    if (m->nshown == 0)
        rp__draw_puts(c, w, 2, 2, width - 2, "no workers");
}

static const struct rp_rect *
workers_rect(const struct rp_layout *l)
{
    return &l->workers;
}

static unsigned long
workers_rows(const struct rp_console *c)
{
    return c->model.nshown;
}

const struct rp_pane_ops rp__pane_workers = {
    .name = "workers",
    .rect = workers_rect,
    .rows = workers_rows,
    .draw = draw_workers,
};
