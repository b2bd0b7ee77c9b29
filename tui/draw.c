/*
 * draw.c -- one frame of the console: header, workers, jobs, detail,
 * status and footer, each in its own curses window, then one doupdate().
 *
 * DESIGN: every window is erased and written in full each frame, and
 * curses sends the terminal only the cells that differ from what it
 * shows: a calm screen whatever changes. Only visible rows are built, so
 * a frame costs the same with 100 or 100,000 rows. Text from tasks
 * (output, commands, names) is made printable before it is drawn: a
 * program's escape sequences never reach the terminal.
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include "tui/console.h"

#include <curses.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "engine/alloc.h"

#define NS_PER_S 1000000000ull

enum { WIN_HEADER, WIN_WORKERS, WIN_JOBS, WIN_DETAIL, WIN_STATUS, WIN_FOOTER, WIN_COUNT };

/* The windows, made for the current layout. UI thread only. */
static struct {
    WINDOW *win[WIN_COUNT];
    struct rp_rect rect[WIN_COUNT];
} screen;

const struct rp_binding rp__console_bindings[] = {
    { "s", "submit", "open the submit form (Enter submits, Esc cancels)", 0x7, true },
    { "c", "cancel", "cancel the selected or tagged jobs/tasks (asks y/n)", 0x7, true },
    { "r", "restore", "restore the selection from its last checkpoint (asks y/n)", 0x7, true },
    { "Space", "tag", "tag or untag the row; c and r act on every tagged row", 0x2, false },
    { "Enter", "details", "open the selection's details full size; Enter or Esc closes", 0x7,
      false },
    { "Right/Left", "expand", "show or hide a job's tasks (also l/h, +/-)", 0x7, false },
    { "/", "filter", "filter as you type (id, name, command, state); Esc clears", 0x7, false },
    { "o", "sort", "cycle the sort: newest, oldest, state, name, elapsed, progress", 0x7, false },
    { ":", "command", ":submit CMD..., :cancel ID|jID, :restore ID, :theme NAME, :sort S, :quit",
      0x7,
      false },
    { "Tab", "pane", "next pane (Shift-Tab: previous)", 0x7, false },
    { "j/k", "move", "move down/up (arrows too); PgDn/PgUp a page; Home/End (g/G) the ends", 0x7,
      false },
    { "t", "theme", "next theme", 0x7, false },
    { "Z", "pause", "pause or resume live updates", 0x7, false },
    { "Esc", "untag", "leave the details, or clear the tags", 0x7, false },
    { "Ctrl-L", "redraw", "redraw the whole screen", 0x0, false },
    { "?", "help", "this help", 0x7, false },
    { "q", "quit", "quit (asks when work is still queued or running)", 0x7, false },
};
const size_t rp__console_nbindings = sizeof rp__console_bindings / sizeof rp__console_bindings[0];

/* ---- small pieces ---- */

void
rp__console_format_duration(char *buf, size_t size, uint64_t ns)
{
    uint64_t s = ns / NS_PER_S;

    if (ns < 10 * NS_PER_S)
        snprintf(buf, size, "%.1fs", (double)ns / 1e9);
    else if (s < 60)
        snprintf(buf, size, "%" PRIu64 "s", s);
    else if (s < 3600)
        snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
    else
        snprintf(buf, size, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s / 3600 % 24);
}

static void
format_bytes(char *buf, size_t size, uint64_t n)
{
    if (n < 1024)
        snprintf(buf, size, "%" PRIu64 " B", n);
    else if (n < 1024 * 1024)
        snprintf(buf, size, "%.1f KiB", (double)n / 1024);
    else if (n < 1024ull * 1024 * 1024)
        snprintf(buf, size, "%.1f MiB", (double)n / (1024 * 1024));
    else
        snprintf(buf, size, "%.1f GiB", (double)n / (1024.0 * 1024 * 1024));
}

static int
attr(const struct rp_console *c, enum rp_theme_slot s)
{
    return c->attrs.attr[s];
}

static enum rp_theme_slot
state_slot(rp_task_state s)
{
    static const enum rp_theme_slot slot[RP_TASK_STATE_COUNT] = {
        [RP_TASK_QUEUED] = RP_THEME_QUEUED,       [RP_TASK_RUNNING] = RP_THEME_RUNNING,
        [RP_TASK_SUCCEEDED] = RP_THEME_SUCCEEDED, [RP_TASK_FAILED] = RP_THEME_FAILED,
        [RP_TASK_CANCELLED] = RP_THEME_CANCELLED, [RP_TASK_TIMED_OUT] = RP_THEME_TIMED_OUT,
    };
    return (unsigned)s < RP_TASK_STATE_COUNT ? slot[s] : RP_THEME_NORMAL;
}

/* Characters that would let text rearrange or hide what is around it:
 * C1 controls, zero-width and bidirectional format characters. */
static bool
unsafe_char(wchar_t wc)
{
    return wc < 32 || (wc >= 0x7f && wc <= 0x9f) || (wc >= 0x200b && wc <= 0x200f) ||
           (wc >= 0x202a && wc <= 0x202e) || (wc >= 0x2060 && wc <= 0x206f) || wc == 0xfeff;
}

/* Writes at most `width` columns of the n bytes of text at (y, x), made
 * printable: control bytes (NUL included), invalid UTF-8, bidirectional
 * and zero-width format characters become '.', and so does every byte
 * above 127 outside UTF-8 terminals. Wide characters count two columns
 * (wcwidth), so a line of CJK text stays inside its column. Returns the
 * columns written. */
static int
put(const struct rp_console *c, WINDOW *w, int y, int x, int width, const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    char buf[1024];
    size_t b = 0;
    int cols = 0;
    mbstate_t st;

    if (width <= 0)
        return 0;
    memset(&st, 0, sizeof st);
    for (size_t i = 0; i < n && cols < width && b + MB_LEN_MAX + 1 < sizeof buf;) {
        if (s[i] >= 0x80 && !c->ascii) {
            wchar_t wc;
            size_t len = mbrtowc(&wc, text + i, n - i, &st);
            int cw = len > 0 && len <= MB_LEN_MAX && !unsafe_char(wc) ? wcwidth(wc) : -1;
            if (cw >= 0 && cols + cw <= width) {
                memcpy(buf + b, s + i, len);
                b += len;
                i += len;
                cols += cw;
                continue;
            }
            memset(&st, 0, sizeof st);
            if (cw >= 0)
                break;              /* a wide character at the edge */
        }
        buf[b++] = s[i] < 32 || s[i] >= 127 ? '.' : (char)s[i];
        i++;
        cols++;
    }
    buf[b] = '\0';
    mvwaddstr(w, y, x, buf);
    return cols;
}

static int
puts_at(const struct rp_console *c, WINDOW *w, int y, int x, int width, const char *text)
{
    return put(c, w, y, x, width, text, strlen(text));
}

static int __attribute__((format(printf, 6, 7)))
printf_at(const struct rp_console *c, WINDOW *w, int y, int x, int width, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return puts_at(c, w, y, x, width, buf);
}

/* A bar of `width` cells filled to fraction f, in eighths where the
 * terminal has the glyphs. */
static void
bar(const struct rp_console *c, WINDOW *w, int y, int x, int width, double f)
{
    static const char *const eighths[] = { "", "▏", "▎", "▍", "▌", "▋", "▊", "▉" };
    int units, full;

    if (width <= 0)
        return;
    f = f < 0 ? 0 : f > 1 ? 1 : f;
    units = (int)(f * width * 8 + 0.5);
    full = units / 8;
    wmove(w, y, x);
    wattron(w, attr(c, RP_THEME_BAR));
    for (int i = 0; i < full; i++)
        waddstr(w, c->ascii ? "#" : "█");
    if (full < width && units % 8 != 0 && !c->ascii) {
        waddstr(w, eighths[units % 8]);
        full++;
    }
    wattroff(w, attr(c, RP_THEME_BAR));
    wattron(w, attr(c, RP_THEME_BAR_EMPTY));
    for (int i = full; i < width; i++)
        waddstr(w, c->ascii ? "." : "·");
    wattroff(w, attr(c, RP_THEME_BAR_EMPTY));
}

static void
sparkline(const struct rp_console *c, WINDOW *w, int y, int x, const uint32_t *v, size_t n)
{
    static const char *const blocks[] = { " ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
    static const char ascii[] = " .:-=+*#@";
    uint32_t max = 1;

    for (size_t i = 0; i < n; i++)
        if (v[i] > max)
            max = v[i];
    wmove(w, y, x);
    wattron(w, attr(c, RP_THEME_SPARK));
    for (size_t i = 0; i < n; i++) {
        unsigned level = v[i] == 0 ? 0 : 1 + (unsigned)((uint64_t)(v[i] - 1) * 8 / max);
        if (level > 8)
            level = 8;
        if (c->ascii)
            waddch(w, (chtype)ascii[level]);
        else
            waddstr(w, blocks[level]);
    }
    wattroff(w, attr(c, RP_THEME_SPARK));
}

static void
frame(const struct rp_console *c, WINDOW *w, const char *title, bool focused)
{
    int a = attr(c, focused ? RP_THEME_BORDER_FOCUS : RP_THEME_BORDER);

    wattron(w, a);
    if (c->ascii)
        wborder(w, '|', '|', '-', '-', '+', '+', '+', '+');
    else
        box(w, 0, 0);
    wattroff(w, a);
    wattron(w, a | (focused ? A_BOLD : 0));
    printf_at(c, w, 0, 2, getmaxx(w) - 4, " %s ", title);
    wattroff(w, a | (focused ? A_BOLD : 0));
}

/* Makes the windows match the layout. */
static void
fit_windows(const struct rp_console *c)
{
    const struct rp_rect *want[WIN_COUNT] = {
        &c->layout.header, &c->layout.workers, &c->layout.jobs,
        &c->layout.detail, &c->layout.status,  &c->layout.footer,
    };

    for (int i = 0; i < WIN_COUNT; i++) {
        if (screen.win[i] != NULL && memcmp(&screen.rect[i], want[i], sizeof *want[i]) == 0)
            continue;
        if (screen.win[i] != NULL)
            delwin(screen.win[i]);
        screen.win[i] = NULL;
        screen.rect[i] = *want[i];
        if (want[i]->h > 0 && want[i]->w > 0)
            screen.win[i] = newwin(want[i]->h, want[i]->w, want[i]->y, want[i]->x);
    }
}

/* ---- header ---- */

static void
draw_header(const struct rp_console *c, WINDOW *w, uint64_t now)
{
    const struct rp_model *m = &c->model;
    const rp_stats *s = &m->stats;
    char up[32], line[512];
    uint32_t hist[60];
    int width = getmaxx(w), x;
    unsigned busy = 0;

    for (size_t i = 0; i < m->nshown; i++)
        busy += m->workers[i].info.task != 0;
    rp__console_format_duration(up, sizeof up, now - m->start_ns);
    wattron(w, attr(c, RP_THEME_TITLE));
    mvwhline(w, 0, 0, ' ', width);
    /* The right end first (uptime, theme), then the origin in what is left. */
    snprintf(line, sizeof line, "%sup %s  theme %s ", c->paused ? "[PAUSED]  " : "", up,
             c->theme.name);
    x = width - (int)strlen(line);
    if (x > 12)
        puts_at(c, w, 0, x, width - x, line);
    else
        x = width;
    snprintf(line, sizeof line, " repartir  %s", c->src->ops->origin(c->src));
    puts_at(c, w, 0, 0, x - 2, line);
    wattroff(w, attr(c, RP_THEME_TITLE));

    x = printf_at(c, w, 1, 1, width - 1, "workers %u/%zu", busy, m->nshown) + 1;
    struct {
        const char *name;
        uint64_t n;
        enum rp_theme_slot slot;
    } counts[] = {
        { "queued", s->queued, RP_THEME_QUEUED },
        { "running", s->running, RP_THEME_RUNNING },
        { "succeeded", s->succeeded, RP_THEME_SUCCEEDED },
        { "failed", s->failed, RP_THEME_FAILED },
        { "cancelled", s->cancelled, RP_THEME_CANCELLED },
        { "timed out", s->timed_out, RP_THEME_TIMED_OUT },
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0] && x < width - 4; i++) {
        x += puts_at(c, w, 1, x, width - x, "   ");
        wattron(w, attr(c, counts[i].slot));
        x += printf_at(c, w, 1, x, width - x, "%s %" PRIu64, counts[i].name, counts[i].n);
        wattroff(w, attr(c, counts[i].slot));
    }

    x = printf_at(c, w, 2, 1, width - 1, "%7.1f tasks/s ", rp__model_rate(m, now, 5)) + 1;
    int spark = width / 3 < 60 ? width / 3 : 60;
    if (spark > 0 && x + spark < width) {
        rp__model_history(m, now, hist, (size_t)spark);
        sparkline(c, w, 2, x, hist, (size_t)spark);
        x += spark;
    }
    if (s->locality_hit_rate > 0 || s->steals > 0)
        printf_at(c, w, 2, x, width - x, "  steals %" PRIu64 "   locality %.0f%%", s->steals,
                  s->locality_hit_rate * 100);
    else
        printf_at(c, w, 2, x, width - x, "  steals %" PRIu64 "   locality -", s->steals);
}

/* ---- workers ---- */

static void
draw_workers(struct rp_console *c, WINDOW *w, uint64_t now)
{
    struct rp_model *m = &c->model;
    int rows = rp__layout_pane_rows(&c->layout.workers), width = getmaxx(w) - 2;
    bool focused = c->focus == RP_PANE_WORKERS;
    char title[64], up[32];

    snprintf(title, sizeof title, "workers (%zu)", m->nshown);
    frame(c, w, title, focused);
    c->top[RP_PANE_WORKERS] = rp__layout_scroll(c->top[RP_PANE_WORKERS],
                                                c->cursor[RP_PANE_WORKERS], m->nshown, rows);
    /* Narrow terminals get a shorter node and load bar. */
    int node_w = width < 100 ? 10 : 14, bar_w = width < 100 ? 8 : 12;
    int name_x = 1 + node_w + 1, status_x = name_x + 8, bar_x = status_x + 7;
    int pct_x = bar_x + bar_w + 1, rest_x = pct_x + 6;
    wattron(w, attr(c, RP_THEME_HEADER));
    printf_at(c, w, 1, 1, width, "%-*s %-7s %-6s %-*s %8s %8s %8s %-4s", node_w, "NODE", "WORKER",
              "STATUS", bar_w + 6, "LOAD", "TASK", "DONE", "UPTIME", "KIND");
    wattroff(w, attr(c, RP_THEME_HEADER));
    for (int r = 0; r < rows; r++) {
        unsigned long i = c->top[RP_PANE_WORKERS] + (unsigned long)r;
        const struct rp_model_worker *mw;
        char task[24];
        int y = 2 + r, a;
        if (i >= m->nshown)
            break;
        mw = &m->workers[i];
        a = focused && i == c->cursor[RP_PANE_WORKERS] ? attr(c, RP_THEME_SELECTED) : 0;
        if (a)
            wattron(w, a), mvwhline(w, y, 1, ' ', width);
        if (mw->info.task)
            snprintf(task, sizeof task, "%" PRIu64, mw->info.task);
        else
            snprintf(task, sizeof task, "-");
        rp__console_format_duration(up, sizeof up,
                                    now > mw->info.up_since_ns ? now - mw->info.up_since_ns : 0);
        printf_at(c, w, y, 1, node_w, "%-*.*s", node_w, node_w, mw->info.node);
        printf_at(c, w, y, name_x, 7, "%-7.7s", mw->info.name);
        if (!a)
            wattron(w, attr(c, !mw->info.up ? RP_THEME_LOST
                                            : mw->info.task ? RP_THEME_RUNNING : RP_THEME_DIM));
        printf_at(c, w, y, status_x, 6, "%-6s",
                  !mw->info.up ? "lost" : mw->info.task ? "busy" : "idle");
        if (!a)
            wattroff(w, attr(c, !mw->info.up ? RP_THEME_LOST
                                             : mw->info.task ? RP_THEME_RUNNING : RP_THEME_DIM));
        bar(c, w, y, bar_x, bar_w, mw->load);
        if (a)
            wattron(w, a);
        printf_at(c, w, y, pct_x, 5, "%4.0f%%", mw->load * 100);
        printf_at(c, w, y, rest_x, width - rest_x + 1, "%8s %8" PRIu64 " %8s %-4s", task,
                  mw->info.completed, up, mw->info.backend == RP_BACKEND_GPU ? "GPU" : "CPU");
        if (a)
            wattroff(w, a);
    }
    if (m->nshown == 0)
        puts_at(c, w, 2, 2, width - 2, "no workers");
}

/* ---- jobs ---- */

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

static const char *
worker_name(const struct rp_model *m, int worker)
{
    return worker >= 0 && (size_t)worker < m->nworkers ? m->workers[worker].info.name : "-";
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
        base = attr(c, RP_THEME_SELECTED);
    else if (tagged)
        base = attr(c, RP_THEME_TAGGED);
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
    x += puts_at(c, w, y, x, 2, buf);
    if (t != NULL)
        snprintf(buf, sizeof buf, "%7" PRIu64, t->id);
    else
        snprintf(buf, sizeof buf, "j%-6" PRIu64, j->id);
    x += puts_at(c, w, y, x, 8, buf) + 1;
    /* name */
    if (t != NULL)
        snprintf(buf, sizeof buf, "  %s shard %u/%u", c->ascii ? "`-" : "└", t->shard, total);
    else
        snprintf(buf, sizeof buf, "%s", j->label);
    put(c, w, y, x, k->name, buf, strlen(buf));
    x += k->name + 1;
    /* state */
    if (!base)
        wattron(w, attr(c, state_slot(state)));
    printf_at(c, w, y, x, k->state, "%-9s", rp_task_state_name(state));
    if (!base)
        wattroff(w, attr(c, state_slot(state)));
    x += k->state + 1;
    if (k->backend) {
        static const char *const b[] = { "any", "cpu", "gpu", "rem" };
        printf_at(c, w, y, x, k->backend, "%-4s", b[j->desc.backend & 3]);
        x += k->backend + 1;
    }
    printf_at(c, w, y, x, k->worker, "%-7.7s", worker_name(m, t ? t->worker : j->worker));
    x += k->worker + 1;
    if (k->attempts) {
        if ((t ? t->attempts : j->attempts) > 0)
            printf_at(c, w, y, x, k->attempts, "%u/%u", t ? t->attempts : j->attempts,
                      j->desc.max_retries + 1);
        else
            puts_at(c, w, y, x, k->attempts, "-");
        x += k->attempts + 1;
    }
    uint64_t el = t ? rp__model_task_elapsed(t, now) : rp__model_job_elapsed(j, now);
    if (el > 0)
        rp__console_format_duration(dur, sizeof dur, el);
    else
        snprintf(dur, sizeof dur, "-");
    printf_at(c, w, y, x, k->elapsed, "%7s", dur);
    x += k->elapsed + 1;
    /* progress for sharded jobs, the reason for a single task */
    if (t == NULL && total > 1) {
        unsigned done = j->count[RP_TASK_SUCCEEDED] + j->count[RP_TASK_FAILED] +
                        j->count[RP_TASK_CANCELLED] + j->count[RP_TASK_TIMED_OUT];
        int bw = k->progress - 12;
        if (bw >= 4) {
            bar(c, w, y, x, bw, total ? (double)done / total : 0);
            if (base)
                wattron(w, base);
            printf_at(c, w, y, x + bw, k->progress - bw, " %u/%u", done, total);
        } else {
            printf_at(c, w, y, x, k->progress, "%u/%u", done, total);
        }
    } else {
        const struct rp_model_task *one = t ? t : rp__model_job_task(m, j, 0);
        if (one != NULL) {
            task_reason(one, buf, sizeof buf);
            puts_at(c, w, y, x, k->progress, buf);
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
    frame(c, w, title, focused);
    jobs_columns(width, &k);
    wattron(w, attr(c, RP_THEME_HEADER));
    x += puts_at(c, w, 1, x, 2, "  ");
    x += printf_at(c, w, 1, x, 8, "%-7s", "ID") + 1;
    printf_at(c, w, 1, x, k.name, "%s", "NAME / COMMAND");
    x += k.name + 1;
    printf_at(c, w, 1, x, k.state, "%s", "STATE");
    x += k.state + 1;
    if (k.backend)
        printf_at(c, w, 1, x, k.backend, "%s", "BACK"), x += k.backend + 1;
    printf_at(c, w, 1, x, k.worker, "%s", "WORKER");
    x += k.worker + 1;
    if (k.attempts)
        printf_at(c, w, 1, x, k.attempts, "%s", "ATT"), x += k.attempts + 1;
    printf_at(c, w, 1, x, k.elapsed, "%7s", "ELAPSED");
    x += k.elapsed + 1;
    printf_at(c, w, 1, x, k.progress, "%s", "PROGRESS / REASON");
    wattroff(w, attr(c, RP_THEME_HEADER));

    c->top[RP_PANE_JOBS] =
        rp__layout_scroll(c->top[RP_PANE_JOBS], c->cursor[RP_PANE_JOBS], m->nrows, rows);
    for (int r = 0; r < rows; r++) {
        unsigned long i = c->top[RP_PANE_JOBS] + (unsigned long)r;
        if (i >= m->nrows)
            break;
        draw_job_row(c, w, 2 + r, &m->rows[i], &k, i == c->cursor[RP_PANE_JOBS], now);
    }
    if (m->nrows == 0) {
        wattron(w, attr(c, RP_THEME_DIM));
        puts_at(c, w, 2, 3, width - 3,
                m->njobs == 0 ? (c->opt.readonly ? "no jobs yet"
                                                 : "no jobs yet: press s to submit one, "
                                                   "or : and `submit CMD`")
                              : "no job matches the filter (/ edits it, Esc in it clears it)");
        wattroff(w, attr(c, RP_THEME_DIM));
    }
}

/* ---- detail ---- */

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
    wattron(l->w, attr(l->c, RP_THEME_HEADER));
    printf_at(l->c, l->w, l->y, 2, 11, "%-11s", key);
    wattroff(l->w, attr(l->c, RP_THEME_HEADER));
    if (value_attr)
        wattron(l->w, value_attr);
    puts_at(l->c, l->w, l->y, 14, l->width - 13, value);
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
    put(l->c, l->w, l->y, 2, l->width - 1, text, n);
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
    format_bytes(size, sizeof size, total);
    snprintf(head, sizeof head, "%s %s (%s%s)", l->c->ascii ? "--" : "──", name, size,
             total > len ? ", the tail kept" : "");
    line_text(l, head, strlen(head), attr(l->c, RP_THEME_HEADER));
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
                 worker_name(m, in->worker), a, in->attempts, in->max_retries + 1);
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
                busy += m->workers[i].info.task != 0;
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
    line_kv(l, "state", buf, attr(c, state_slot(state)));
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
                format_bytes(b, sizeof b, d->ckpt[i].raw_size);
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
                  d->live_output ? 15 : 11, attr(c, RP_THEME_DIM));
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
    line_kv(l, "job", buf, attr(c, state_slot(rp__model_job_state(j))));
    used = 0;
    buf[0] = '\0';
    for (int s = 0; s < RP_TASK_STATE_COUNT; s++)
        if (j->count[s])
            used += snprintf(buf + used, sizeof buf - (size_t)used, "%s%u %s", used ? ", " : "",
                             j->count[s], rp_task_state_name((rp_task_state)s));
    line_kv(l, "tasks", buf, 0);
    line_kv(l, "", "Right (l) lists its tasks; select one for its output.", attr(c, RP_THEME_DIM));
    line_text(l, "", 0, 0);
    line_text(l, "its first task:", 15, attr(c, RP_THEME_DIM));
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
        frame(c, w, "detail", focused);
        wattron(w, attr(c, RP_THEME_DIM));
        puts_at(c, w, 1, 2, l.width, "nothing selected");
        wattroff(w, attr(c, RP_THEME_DIM));
        return;
    }
    if (row->task >= 0)
        snprintf(title, sizeof title, "detail: task %" PRIu64, c->model.tasks[row->task].id);
    else
        snprintf(title, sizeof title, "detail: job %" PRIu64, c->model.jobs[row->job].id);
    frame(c, w, title, focused);
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
            line_text(&l, "(no detail available)", 21, attr(c, RP_THEME_DIM));
        if (pass == 0) {
            unsigned long visible = (unsigned long)(l.bottom - 1);
            if (c->top[RP_PANE_DETAIL] + visible > l.total)
                c->top[RP_PANE_DETAIL] = l.total > visible ? l.total - visible : 0;
        }
    }
}

/* ---- status, footer, overlays ---- */

/* What is being typed, its end kept in view when longer than the room. */
static const char *
input_tail(const char *input, size_t len, int room)
{
    return room > 0 && len > (size_t)room ? input + (len - (size_t)room) : input;
}

static void
draw_status(struct rp_console *c, WINDOW *w)
{
    int width = getmaxx(w);

    switch (c->mode) {
    case RP_MODE_FILTER:
        wattron(w, attr(c, RP_THEME_KEY));
        puts_at(c, w, 0, 0, width, "/");
        wattroff(w, attr(c, RP_THEME_KEY));
        puts_at(c, w, 0, 1, width - 41, input_tail(c->input, c->input_len, width - 41));
        wattron(w, attr(c, RP_THEME_DIM));
        printf_at(c, w, 0, (int)c->input_len + 2 < width - 40 ? (int)c->input_len + 2 : width - 40,
                  40, "(%zu match%s; Enter keeps, Esc clears)", c->model.nrows,
                  c->model.nrows == 1 ? "" : "es");
        wattroff(w, attr(c, RP_THEME_DIM));
        return;
    case RP_MODE_COMMAND:
        wattron(w, attr(c, RP_THEME_KEY));
        puts_at(c, w, 0, 0, width, ":");
        wattroff(w, attr(c, RP_THEME_KEY));
        puts_at(c, w, 0, 1, width - 2, input_tail(c->input, c->input_len, width - 2));
        return;
    case RP_MODE_CONFIRM:
        wattron(w, attr(c, RP_THEME_ERROR) | A_BOLD);
        puts_at(c, w, 0, 0, width, c->question);
        wattroff(w, attr(c, RP_THEME_ERROR) | A_BOLD);
        return;
    default:
        break;
    }
    if (c->status[0] != '\0') {
        int a = attr(c, c->status_error ? RP_THEME_ERROR : RP_THEME_STATUS);
        wattron(w, a);
        puts_at(c, w, 0, 0, width, c->status);
        wattroff(w, a);
    }
}

static void
draw_footer(struct rp_console *c, WINDOW *w)
{
    int width = getmaxx(w), x = 0;
    unsigned bit = 1u << c->focus;

    if (c->mode == RP_MODE_FORM) {
        puts_at(c, w, 0, 0, width, "Tab/Up/Down move  Space/Left/Right change  Enter submit  "
                                   "Esc cancel");
        return;
    }
    if (c->opt.readonly) {
        /* The mark first: the keys take what is left. */
        width -= 11;
        wattron(w, attr(c, RP_THEME_DIM) | A_BOLD);
        puts_at(c, w, 0, width + 1, 10, "read-only");
        wattroff(w, attr(c, RP_THEME_DIM) | A_BOLD);
    }
    for (size_t i = 0; i < rp__console_nbindings && x < width - 2; i++) {
        const struct rp_binding *b = &rp__console_bindings[i];
        if (!(b->panes & bit) || (b->changes && c->opt.readonly))
            continue;
        /* Whole bindings only: `?` lists the rest. */
        if (x + (int)(strlen(b->keys) + strlen(b->help)) + 1 > width - 1)
            break;
        wattron(w, attr(c, RP_THEME_KEY));
        x += puts_at(c, w, 0, x, width - x, b->keys);
        wattroff(w, attr(c, RP_THEME_KEY));
        x += puts_at(c, w, 0, x, width - x, " ");
        x += puts_at(c, w, 0, x, width - x, b->help);
        x += puts_at(c, w, 0, x, width - x, "  ");
    }
}

static void
draw_help(struct rp_console *c)
{
    int h = LINES - 4, w = COLS - 8 > 96 ? 96 : COLS - 8, y = 1;
    WINDOW *win = newwin(h, w, 2, (COLS - w) / 2);
    unsigned skip = c->help_scroll;

    if (win == NULL)
        return;
    wbkgdset(win, ' ' | (chtype)attr(c, RP_THEME_NORMAL));
    werase(win);
    frame(c, win, "help: keys (any other key closes)", true);
    for (size_t i = 0; i < rp__console_nbindings && y < h - 1; i++) {
        const struct rp_binding *b = &rp__console_bindings[i];
        if (b->changes && c->opt.readonly)
            continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        wattron(win, attr(c, RP_THEME_KEY));
        printf_at(c, win, y, 2, 12, "%-12s", b->keys);
        wattroff(win, attr(c, RP_THEME_KEY));
        puts_at(c, win, y, 15, w - 17, b->more);
        y++;
    }
    if (y < h - 2) {
        y++;
        wattron(win, attr(c, RP_THEME_DIM));
        puts_at(c, win, y++, 2, w - 4, "mouse: click selects a row, the wheel scrolls "
                                       "(--no-mouse turns it off)");
        puts_at(c, win, y++, 2, w - 4, "themes: t cycles; :theme NAME; files in "
                                       "~/.config/repartir/themes/NAME.theme");
        wattroff(win, attr(c, RP_THEME_DIM));
    }
    wnoutrefresh(win);
    delwin(win);
}

static void
draw_too_small(const struct rp_console *c)
{
    char msg[128];

    erase();
    snprintf(msg, sizeof msg, "repartir needs at least %dx%d; this terminal is %dx%d",
             RP_LAYOUT_MIN_COLS, RP_LAYOUT_MIN_LINES, COLS, LINES);
    puts_at(c, stdscr, LINES / 2, COLS > (int)strlen(msg) ? (COLS - (int)strlen(msg)) / 2 : 0,
            COLS, msg);
    wnoutrefresh(stdscr);
}

void
rp__console_draw(struct rp_console *c, uint64_t now)
{
    if (c->layout.too_small) {
        for (int i = 0; i < WIN_COUNT; i++) {
            if (screen.win[i] != NULL)
                delwin(screen.win[i]);
            screen.win[i] = NULL;
            memset(&screen.rect[i], 0, sizeof screen.rect[i]);
        }
        draw_too_small(c);
        doupdate();
        return;
    }
    fit_windows(c);
    for (int i = 0; i < WIN_COUNT; i++)
        if (screen.win[i] != NULL) {
            wbkgdset(screen.win[i], ' ' | (chtype)attr(c, RP_THEME_NORMAL));
            werase(screen.win[i]);
        }
    if (screen.win[WIN_HEADER])
        draw_header(c, screen.win[WIN_HEADER], now);
    if (screen.win[WIN_WORKERS])
        draw_workers(c, screen.win[WIN_WORKERS], now);
    if (screen.win[WIN_JOBS])
        draw_jobs(c, screen.win[WIN_JOBS], now);
    if (screen.win[WIN_DETAIL])
        draw_detail(c, screen.win[WIN_DETAIL], now);
    if (screen.win[WIN_STATUS])
        draw_status(c, screen.win[WIN_STATUS]);
    if (screen.win[WIN_FOOTER])
        draw_footer(c, screen.win[WIN_FOOTER]);
    for (int i = 0; i < WIN_COUNT; i++)
        if (screen.win[i] != NULL)
            wnoutrefresh(screen.win[i]);
    if (c->mode == RP_MODE_HELP)
        draw_help(c);
    else if (c->mode == RP_MODE_FORM)
        rp__form_draw(c);
    doupdate();
}

void
rp__console_draw_end(void)
{
    for (int i = 0; i < WIN_COUNT; i++) {
        if (screen.win[i] != NULL)
            delwin(screen.win[i]);
        screen.win[i] = NULL;
        memset(&screen.rect[i], 0, sizeof screen.rect[i]);
    }
}
