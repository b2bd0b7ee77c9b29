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
#include "tui/pane.h"

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

/* The header, the two bottom lines, then one window per pane. */
enum { WIN_HEADER, WIN_STATUS, WIN_FOOTER, WIN_PANES, WIN_COUNT = WIN_PANES + RP_PANE_COUNT };

const struct rp_pane_ops *const rp__panes[RP_PANE_COUNT] = {
    [RP_PANE_WORKERS] = &rp__pane_workers,
    [RP_PANE_JOBS] = &rp__pane_jobs,
    [RP_PANE_DETAIL] = &rp__pane_detail,
};

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

void
rp__draw_bytes(char *buf, size_t size, uint64_t n)
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

int
rp__draw_attr(const struct rp_console *c, enum rp_theme_slot s)
{
    return c->attrs.attr[s];
}

enum rp_theme_slot
rp__draw_state_slot(rp_task_state s)
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
int
rp__draw_put(const struct rp_console *c, WINDOW *w, int y, int x, int width, const char *text, size_t n)
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

int
rp__draw_puts(const struct rp_console *c, WINDOW *w, int y, int x, int width, const char *text)
{
    return rp__draw_put(c, w, y, x, width, text, strlen(text));
}

int
rp__draw_printf(const struct rp_console *c, WINDOW *w, int y, int x, int width, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return rp__draw_puts(c, w, y, x, width, buf);
}

/* A bar of `width` cells filled to fraction f, in eighths where the
 * terminal has the glyphs. */
void
rp__draw_bar(const struct rp_console *c, WINDOW *w, int y, int x, int width, double f)
{
    static const char *const eighths[] = { "", "▏", "▎", "▍", "▌", "▋", "▊", "▉" };
    int units, full;

    if (width <= 0)
        return;
    f = f < 0 ? 0 : f > 1 ? 1 : f;
    units = (int)(f * width * 8 + 0.5);
    full = units / 8;
    wmove(w, y, x);
    wattron(w, rp__draw_attr(c, RP_THEME_BAR));
    for (int i = 0; i < full; i++)
        waddstr(w, c->ascii ? "#" : "█");
    if (full < width && units % 8 != 0 && !c->ascii) {
        waddstr(w, eighths[units % 8]);
        full++;
    }
    wattroff(w, rp__draw_attr(c, RP_THEME_BAR));
    wattron(w, rp__draw_attr(c, RP_THEME_BAR_EMPTY));
    for (int i = full; i < width; i++)
        waddstr(w, c->ascii ? "." : "·");
    wattroff(w, rp__draw_attr(c, RP_THEME_BAR_EMPTY));
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
    wattron(w, rp__draw_attr(c, RP_THEME_SPARK));
    for (size_t i = 0; i < n; i++) {
        unsigned level = v[i] == 0 ? 0 : 1 + (unsigned)((uint64_t)(v[i] - 1) * 8 / max);
        if (level > 8)
            level = 8;
        if (c->ascii)
            waddch(w, (chtype)ascii[level]);
        else
            waddstr(w, blocks[level]);
    }
    wattroff(w, rp__draw_attr(c, RP_THEME_SPARK));
}

void
rp__draw_frame(const struct rp_console *c, WINDOW *w, const char *title, bool focused)
{
    int a = rp__draw_attr(c, focused ? RP_THEME_BORDER_FOCUS : RP_THEME_BORDER);

    wattron(w, a);
    if (c->ascii)
        wborder(w, '|', '|', '-', '-', '+', '+', '+', '+');
    else
        box(w, 0, 0);
    wattroff(w, a);
    wattron(w, a | (focused ? A_BOLD : 0));
    rp__draw_printf(c, w, 0, 2, getmaxx(w) - 4, " %s ", title);
    wattroff(w, a | (focused ? A_BOLD : 0));
}

/* Makes the windows match the layout. */
static void
fit_windows(const struct rp_console *c)
{
    const struct rp_rect *want[WIN_COUNT] = {
        [WIN_HEADER] = &c->layout.header,
        [WIN_STATUS] = &c->layout.status,
        [WIN_FOOTER] = &c->layout.footer,
    };

    for (int p = 0; p < RP_PANE_COUNT; p++)
        want[WIN_PANES + p] = rp__panes[p]->rect(&c->layout);
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

/* "   gpu ready   spirv N   tensor ops N   NAME (N CUs, TYPE)" on the
 * header's third line, or why it is unavailable (in the failed colour), or
 * nothing for a pool without. */
static void
draw_gpu(const struct rp_console *c, WINDOW *w, int x, int width)
{
    const rp_gpu_info *g = &c->model.gpu;

    if (g->state == RP_GPU_NONE || x >= width - 8)
        return;
    x += rp__draw_puts(c, w, 2, x, width - x, "   ");
    if (g->state == RP_GPU_OPENING) {
        rp__draw_puts(c, w, 2, x, width - x, "gpu opening...");
    } else if (g->state == RP_GPU_READY) {
        /* the state and counts first: a narrow terminal cuts the name */
        rp__draw_printf(c, w, 2, x, width - x, "gpu ready   spirv %" PRIu64 "   tensor ops %"
                        PRIu64 "   %s (%u CUs, %s)", g->tasks, g->kernels, g->name,
                        g->capacity, g->type);
    } else {
        wattron(w, rp__draw_attr(c, RP_THEME_FAILED));
        rp__draw_printf(c, w, 2, x, width - x, "gpu unavailable: %s", g->why);
        wattroff(w, rp__draw_attr(c, RP_THEME_FAILED));
    }
}

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
        busy += m->workers[m->shown[i]].info.task != 0;
    rp__console_format_duration(up, sizeof up, now - m->start_ns);
    wattron(w, rp__draw_attr(c, RP_THEME_TITLE));
    mvwhline(w, 0, 0, ' ', width);
    /* The right end first (uptime, theme), then the origin in what is left. */
    snprintf(line, sizeof line, "%sup %s  theme %s ", c->paused ? "[PAUSED]  " : "", up,
             c->theme.name);
    x = width - (int)strlen(line);
    if (x > 12)
        rp__draw_puts(c, w, 0, x, width - x, line);
    else
        x = width;
    snprintf(line, sizeof line, " repartir  %s", c->src->ops->origin(c->src));
    rp__draw_puts(c, w, 0, 0, x - 2, line);
    wattroff(w, rp__draw_attr(c, RP_THEME_TITLE));

    x = rp__draw_printf(c, w, 1, 1, width - 1, "workers %u/%zu", busy, m->nshown) + 1;
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
        x += rp__draw_puts(c, w, 1, x, width - x, "   ");
        wattron(w, rp__draw_attr(c, counts[i].slot));
        x += rp__draw_printf(c, w, 1, x, width - x, "%s %" PRIu64, counts[i].name, counts[i].n);
        wattroff(w, rp__draw_attr(c, counts[i].slot));
    }

    x = rp__draw_printf(c, w, 2, 1, width - 1, "%7.1f tasks/s ", rp__model_rate(m, now, 5)) + 1;
    int spark = width / 3 < 60 ? width / 3 : 60;
    if (spark > 0 && x + spark < width) {
        rp__model_history(m, now, hist, (size_t)spark);
        sparkline(c, w, 2, x, hist, (size_t)spark);
        x += spark;
    }
    if (s->locality_hit_rate > 0 || s->steals > 0)
        x += rp__draw_printf(c, w, 2, x, width - x, "  steals %" PRIu64 "   locality %.0f%%",
                             s->steals, s->locality_hit_rate * 100);
    else
        x += rp__draw_printf(c, w, 2, x, width - x, "  steals %" PRIu64 "   locality -",
                             s->steals);
    draw_gpu(c, w, x, width);
}

const char *
rp__draw_worker_name(const struct rp_model *m, int worker)
{
    return worker >= 0 && (size_t)worker < m->nworkers ? m->workers[worker].info.name : "-";
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
        wattron(w, rp__draw_attr(c, RP_THEME_KEY));
        rp__draw_puts(c, w, 0, 0, width, "/");
        wattroff(w, rp__draw_attr(c, RP_THEME_KEY));
        rp__draw_puts(c, w, 0, 1, width - 41, input_tail(c->input, c->input_len, width - 41));
        wattron(w, rp__draw_attr(c, RP_THEME_DIM));
        rp__draw_printf(c, w, 0, (int)c->input_len + 2 < width - 40 ? (int)c->input_len + 2 : width - 40,
                  40, "(%zu match%s; Enter keeps, Esc clears)", c->model.nrows,
                  c->model.nrows == 1 ? "" : "es");
        wattroff(w, rp__draw_attr(c, RP_THEME_DIM));
        return;
    case RP_MODE_COMMAND:
        wattron(w, rp__draw_attr(c, RP_THEME_KEY));
        rp__draw_puts(c, w, 0, 0, width, ":");
        wattroff(w, rp__draw_attr(c, RP_THEME_KEY));
        rp__draw_puts(c, w, 0, 1, width - 2, input_tail(c->input, c->input_len, width - 2));
        return;
    case RP_MODE_CONFIRM:
        wattron(w, rp__draw_attr(c, RP_THEME_ERROR) | A_BOLD);
        rp__draw_puts(c, w, 0, 0, width, c->question);
        wattroff(w, rp__draw_attr(c, RP_THEME_ERROR) | A_BOLD);
        return;
    default:
        break;
    }
    if (c->status[0] != '\0') {
        int a = rp__draw_attr(c, c->status_error ? RP_THEME_ERROR : RP_THEME_STATUS);
        wattron(w, a);
        rp__draw_puts(c, w, 0, 0, width, c->status);
        wattroff(w, a);
    }
}

static void
draw_footer(struct rp_console *c, WINDOW *w)
{
    int width = getmaxx(w), x = 0;
    unsigned bit = 1u << c->focus;

    if (c->mode == RP_MODE_FORM) {
        rp__draw_puts(c, w, 0, 0, width, "Tab/Up/Down move  Space/Left/Right change  Enter submit  "
                                   "Esc cancel");
        return;
    }
    if (c->opt.readonly) {
        /* The mark first: the keys take what is left. */
        width -= 11;
        wattron(w, rp__draw_attr(c, RP_THEME_DIM) | A_BOLD);
        rp__draw_puts(c, w, 0, width + 1, 10, "read-only");
        wattroff(w, rp__draw_attr(c, RP_THEME_DIM) | A_BOLD);
    }
    for (size_t i = 0; i < rp__console_nbindings && x < width - 2; i++) {
        const struct rp_binding *b = &rp__console_bindings[i];
        if (!(b->panes & bit) || (b->changes && c->opt.readonly))
            continue;
        /* Whole bindings only: `?` lists the rest. */
        if (x + (int)(strlen(b->keys) + strlen(b->help)) + 1 > width - 1)
            break;
        wattron(w, rp__draw_attr(c, RP_THEME_KEY));
        x += rp__draw_puts(c, w, 0, x, width - x, b->keys);
        wattroff(w, rp__draw_attr(c, RP_THEME_KEY));
        x += rp__draw_puts(c, w, 0, x, width - x, " ");
        x += rp__draw_puts(c, w, 0, x, width - x, b->help);
        x += rp__draw_puts(c, w, 0, x, width - x, "  ");
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
    wbkgdset(win, ' ' | (chtype)rp__draw_attr(c, RP_THEME_NORMAL));
    werase(win);
    rp__draw_frame(c, win, "help: keys (any other key closes)", true);
    for (size_t i = 0; i < rp__console_nbindings && y < h - 1; i++) {
        const struct rp_binding *b = &rp__console_bindings[i];
        if (b->changes && c->opt.readonly)
            continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        wattron(win, rp__draw_attr(c, RP_THEME_KEY));
        rp__draw_printf(c, win, y, 2, 12, "%-12s", b->keys);
        wattroff(win, rp__draw_attr(c, RP_THEME_KEY));
        rp__draw_puts(c, win, y, 15, w - 17, b->more);
        y++;
    }
    if (y < h - 2) {
        y++;
        wattron(win, rp__draw_attr(c, RP_THEME_DIM));
        rp__draw_puts(c, win, y++, 2, w - 4, "mouse: click selects a row, the wheel scrolls "
                                       "(--no-mouse turns it off)");
        rp__draw_puts(c, win, y++, 2, w - 4, "themes: t cycles; :theme NAME; files in "
                                       "~/.config/repartir/themes/NAME.theme");
        wattroff(win, rp__draw_attr(c, RP_THEME_DIM));
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
    rp__draw_puts(c, stdscr, LINES / 2, COLS > (int)strlen(msg) ? (COLS - (int)strlen(msg)) / 2 : 0,
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
            wbkgdset(screen.win[i], ' ' | (chtype)rp__draw_attr(c, RP_THEME_NORMAL));
            werase(screen.win[i]);
        }
    if (screen.win[WIN_HEADER])
        draw_header(c, screen.win[WIN_HEADER], now);
    for (int p = 0; p < RP_PANE_COUNT; p++)
        if (screen.win[WIN_PANES + p])
            rp__panes[p]->draw(c, screen.win[WIN_PANES + p], now);
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
