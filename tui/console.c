/*
 * console.c -- the console's loop, keys and actions.
 *
 * DESIGN: one thread, one poll() on the terminal and the source's wake-up
 * descriptor. Keys are handled as they come and drawn at once; engine
 * events are applied to the model as they come but drawn at most every
 * FRAME_NS, so a flood of events costs ~10 frames a second, and an idle
 * console wakes once a second (the clock in the header) and does nothing
 * else. Drawing goes through windows and doupdate(), so only the cells
 * that changed reach the terminal: no flicker.
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include "tui/pane.h"

#include <errno.h>
#include <inttypes.h>
#include <langinfo.h>
#include <locale.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/alloc.h"
#include "tui/command.h"
#include "tui/demo.h"
#include "tui/prefs.h"

#define MS 1000000ull
#define FRAME_NS (100 * MS)         /* at most ~10 frames a second from events */
#define REFRESH_IDLE_NS (1000 * MS) /* workers, stats and the clock */
#define REFRESH_BUSY_NS (500 * MS)
#define STATUS_NS (8000 * MS)       /* how long a message stays */
#define EVENT_BATCH 1024


static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void
rp__console_say(struct rp_console *c, bool error, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->status, sizeof c->status, fmt, ap);
    va_end(ap);
    c->status_error = error;
    c->status_ns = now_ns();
    c->dirty = true;
}

bool
rp__console_set_theme(struct rp_console *c, const char *name)
{
    struct rp_theme t;
    char *why = NULL;

    if (rp__theme_load(name, &t, &why) != RP_OK) {
        rp__console_say(c, true, "theme %s: %s (keeping %s)", name, why ? why : "cannot load",
                        c->theme.name);
        free(why);
        return false;
    }
    /* Known by the name it was loaded by: that is what cycles and what is
     * remembered, whatever the file's own `name =` says. */
    snprintf(t.name, sizeof t.name, "%s", name);
    c->theme = t;
    rp__theme_apply(&c->theme, c->color, &c->attrs);
    c->dirty = true;
    return true;
}

/* ---- the jobs cursor ---- */

const struct rp_model_row *
rp__console_current_row(struct rp_console *c)
{
    if (c->model.nrows == 0)
        return NULL;
    if (c->cursor[RP_PANE_JOBS] >= c->model.nrows)
        c->cursor[RP_PANE_JOBS] = c->model.nrows - 1;
    return &c->model.rows[c->cursor[RP_PANE_JOBS]];
}

static void
remember_cursor(struct rp_console *c)
{
    const struct rp_model_row *row = rp__console_current_row(c);

    c->cur_job = row ? c->model.jobs[row->job].id : 0;
    c->cur_task = row && row->task >= 0 ? c->model.tasks[row->task].id : 0;
}

/* Rebuilds the rows if needed and puts the cursor back on what it was on. */
static void
rebuild_rows(struct rp_console *c, uint64_t now)
{
    if (!c->model.rows_dirty)
        return;
    rp__model_rows(&c->model, now);
    for (size_t i = 0; i < c->model.nrows; i++) {
        const struct rp_model_row *r = &c->model.rows[i];
        if (c->model.jobs[r->job].id != c->cur_job)
            continue;
        if (c->cur_task == 0 ? r->task < 0
                             : r->task >= 0 && c->model.tasks[r->task].id == c->cur_task) {
            c->cursor[RP_PANE_JOBS] = i;
            return;
        }
    }
    if (c->cursor[RP_PANE_JOBS] >= c->model.nrows)
        c->cursor[RP_PANE_JOBS] = c->model.nrows ? c->model.nrows - 1 : 0;
    /* A job just submitted, whose first event has not come yet: keep
     * waiting for it rather than forget it. */
    if (c->cur_job != 0 && rp__model_job(&c->model, c->cur_job) == NULL)
        return;
    if (c->cur_job == 0 && c->cur_task != 0 && rp__model_task(&c->model, c->cur_task) == NULL)
        return;                     /* a restored task, not here yet */
    remember_cursor(c);
}

static unsigned long
pane_rows(struct rp_console *c, enum rp_pane p)
{
    return rp__panes[p]->rows(c);
}

static const struct rp_rect *
pane_rect(struct rp_console *c, enum rp_pane p)
{
    return rp__panes[p]->rect(&c->layout);
}

static void
move_cursor(struct rp_console *c, long delta, bool absolute)
{
    enum rp_pane p = c->focus;
    unsigned long rows = pane_rows(c, p);
    long target;

    if (p == RP_PANE_DETAIL) {
        /* The detail pane scrolls its text. */
        target = absolute ? delta : (long)c->top[p] + delta;
        c->top[p] = target < 0 ? 0 : (unsigned long)target;
        c->dirty = true;
        return;
    }
    if (rows == 0)
        return;
    target = absolute ? delta : (long)c->cursor[p] + delta;
    if (target < 0)
        target = 0;
    if ((unsigned long)target >= rows)
        target = (long)rows - 1;
    c->cursor[p] = (unsigned long)target;
    if (p == RP_PANE_JOBS)
        remember_cursor(c);
    c->dirty = true;
}

/* ---- actions ---- */

static bool
refuse_readonly(struct rp_console *c)
{
    if (c->opt.readonly)
        rp__console_say(c, true, "read-only console: actions that change anything are off");
    return c->opt.readonly;
}

static void
add_target(struct rp_console *c, rp_job_id job, rp_task_id task)
{
    c->targets = rp_xrealloc(c->targets, (c->ntargets + 1) * sizeof *c->targets);
    c->targets[c->ntargets].job = job;
    c->targets[c->ntargets].task = task;
    c->ntargets++;
}

/* The tagged rows, or the one under the cursor. */
static void
collect_targets(struct rp_console *c)
{
    struct rp_model *m = &c->model;
    const struct rp_model_row *row;

    free(c->targets);
    c->targets = NULL;
    c->ntargets = 0;
    c->targets_from_tags = m->ntagged > 0;
    if (m->ntagged > 0) {
        for (size_t i = 0; i < m->njobs; i++)
            if (m->jobs[i].tagged)
                add_target(c, m->jobs[i].id, 0);
        for (size_t i = 0; i < m->ntasks; i++)
            if (m->tasks[i].tagged && !m->jobs[m->tasks[i].job].tagged)
                add_target(c, m->jobs[m->tasks[i].job].id, m->tasks[i].id);
        return;
    }
    if ((row = rp__console_current_row(c)) != NULL)
        add_target(c, m->jobs[row->job].id, row->task >= 0 ? m->tasks[row->task].id : 0);
}

static void
describe_targets(struct rp_console *c, const char *verb)
{
    if (c->ntargets == 1) {
        const struct rp_target *t = &c->targets[0];
        struct rp_model_job *j = rp__model_job(&c->model, t->job);
        if (t->task != 0)
            snprintf(c->question, sizeof c->question, "%s task %" PRIu64 " (%.60s)? [y/n]", verb,
                     t->task, j ? j->label : "");
        else
            snprintf(c->question, sizeof c->question, "%s job %" PRIu64 " (%.60s)? [y/n]", verb,
                     t->job, j ? j->label : "");
    } else {
        snprintf(c->question, sizeof c->question, "%s the %zu tagged rows? [y/n]", verb,
                 c->ntargets);
    }
}

static void
ask(struct rp_console *c, enum rp_confirm what)
{
    /* Keys typed (or pasted) before the question was on screen must not
     * answer it. */
    flushinp();
    c->confirm = what;
    c->mode = RP_MODE_CONFIRM;
    c->dirty = true;
}

static void
start_cancel(struct rp_console *c)
{
    if (refuse_readonly(c))
        return;
    collect_targets(c);
    if (c->ntargets == 0) {
        rp__console_say(c, true, "nothing to cancel: no job is selected");
        return;
    }
    describe_targets(c, "Cancel");
    ask(c, RP_CONFIRM_CANCEL);
}

static void
start_restore(struct rp_console *c)
{
    if (refuse_readonly(c))
        return;
    collect_targets(c);
    if (c->ntargets == 0) {
        rp__console_say(c, true, "nothing to restore: no job is selected");
        return;
    }
    describe_targets(c, "Restore");
    ask(c, RP_CONFIRM_RESTORE);
}

static void
do_cancel(struct rp_console *c, rp_job_id job, rp_task_id task, unsigned *done)
{
    char *why = NULL;
    rp_status st = task != 0 ? c->src->ops->cancel(c->src, task, &why)
                             : c->src->ops->cancel_job(c->src, job, &why);

    if (st == RP_OK)
        (*done)++;
    else
        rp__console_say(c, true, "%s", why ? why : rp_strerror(st));
    free(why);
}

/* Restores task id; says how. */
static bool
do_restore(struct rp_console *c, rp_task_id id, rp_task_id *new_id)
{
    rp_restore_info info;
    char *why = NULL;
    rp_status st = c->src->ops->restore(c->src, id, &info, &why);

    if (st != RP_OK) {
        rp__console_say(c, true, "%s", why ? why : rp_strerror(st));
        free(why);
        return false;
    }
    *new_id = info.new_id;
    if (info.from_checkpoint)
        rp__console_say(c, false, "restored task %" PRIu64 " as task %" PRIu64
                        ", from checkpoint %" PRIu64, id, info.new_id, info.iteration);
    else
        rp__console_say(c, false, "restored task %" PRIu64 " as task %" PRIu64
                        " (it had no checkpoint: it starts from scratch)", id, info.new_id);
    return true;
}

static void
restore_target(struct rp_console *c, const struct rp_target *t, unsigned *done,
               rp_task_id *last, size_t *wanted)
{
    struct rp_model_job *j = rp__model_job(&c->model, t->job);
    unsigned total, asked = 0;
    bool all;

    if (t->task != 0) {
        if (do_restore(c, t->task, last))
            (*done)++;
        return;
    }
    if (j == NULL) {
        rp__console_say(c, true, "job %" PRIu64 " is not known to this console: "
                                 "restore one of its tasks with :restore ID", t->job);
        return;
    }
    /* A job: its tasks that did not succeed; every task if all did. */
    total = j->desc.total > j->seen ? j->desc.total : j->seen;
    all = j->count[RP_TASK_SUCCEEDED] == total;
    for (unsigned s = 0; s < total; s++) {
        struct rp_model_task *task = rp__model_job_task(&c->model, j, s);
        if (task == NULL || (!all && task->state == RP_TASK_SUCCEEDED))
            continue;
        asked++;
        if (do_restore(c, task->id, last))
            (*done)++;
    }
    /* One target stood for `asked` restores. */
    *wanted += asked > 0 ? asked - 1 : 0;
}

static void
answer(struct rp_console *c, bool yes)
{
    unsigned done = 0;
    rp_task_id last = 0;
    size_t wanted = c->ntargets;

    c->mode = RP_MODE_NORMAL;
    c->dirty = true;
    if (!yes) {
        rp__console_say(c, false, "nothing was done");
        return;
    }
    switch (c->confirm) {
    case RP_CONFIRM_QUIT:
        c->quit = true;
        return;
    case RP_CONFIRM_CANCEL:
        for (size_t i = 0; i < c->ntargets; i++)
            do_cancel(c, c->targets[i].job, c->targets[i].task, &done);
        /* A failure said why on the status line; say nothing over it. */
        if (done == wanted)
            rp__console_say(c, false, "cancel sent to %u %s", done,
                            done == 1 ? "job or task" : "jobs or tasks");
        break;
    case RP_CONFIRM_RESTORE:
        for (size_t i = 0; i < c->ntargets; i++)
            restore_target(c, &c->targets[i], &done, &last, &wanted);
        if (done > 1 && done == wanted)
            rp__console_say(c, false, "restored %u tasks", done);
        if (last != 0) {
            /* Follow the new task once its first event arrives. */
            c->cur_job = 0;
            c->cur_task = last;
        }
        break;
    }
    if (c->targets_from_tags)
        rp__model_clear_tags(&c->model);
}

static void
start_quit(struct rp_console *c)
{
    struct rp_model *m = &c->model;
    uint64_t live;

    /* Ask the engine now: the header's figures may be a second old. */
    c->src->ops->stats(c->src, &m->stats);
    live = m->stats.queued + m->stats.running;

    if (live == 0) {
        c->quit = true;
        return;
    }
    snprintf(c->question, sizeof c->question,
             "%" PRIu64 " tasks are queued or running; quitting stops them%s. Quit? [y/n]", live,
             c->src->durable ? " (they stay queued in the store)" : "");
    ask(c, RP_CONFIRM_QUIT);
}

static void
cycle_sort(struct rp_console *c)
{
    enum rp_model_sort s = (enum rp_model_sort)((c->model.sort + 1) % RP_SORT_COUNT);

    rp__model_set_sort(&c->model, s);
    rp__console_say(c, false, "sorted by %s", rp__model_sort_name(s));
}

/* The next theme that loads: a broken file is named on the status line
 * and skipped, so `t` never sticks on it. */
static void
next_theme(struct rp_console *c)
{
    char *name = rp_xstrdup(c->theme.name), *broken = NULL;
    char **names;
    size_t n;

    rp__theme_names(&names, &n);
    rp__theme_names_free(names, n);
    for (size_t tries = 0; tries < n; tries++) {
        struct rp_theme t;
        char *why = NULL, *next = rp__theme_next(name);
        free(name);
        name = next;
        if (rp__theme_load(name, &t, &why) == RP_OK) {
            rp__console_set_theme(c, name);
            if (broken != NULL)
                rp__console_say(c, true, "theme %s (skipped %s)", c->theme.name, broken);
            else
                rp__console_say(c, false, "theme %s", c->theme.name);
            break;
        }
        if (broken == NULL)
            broken = why ? why : rp_xstrdup(name);
        else
            free(why);
    }
    free(broken);
    free(name);
}

/* ---- command mode ---- */

/* Words joined by one space (malloc'd). */
static char *
join_words(char **w, size_t n)
{
    size_t len = 1;
    char *out;

    for (size_t i = 0; i < n; i++)
        len += strlen(w[i]) + 1;
    out = rp_xmalloc(len);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(out, " ");
        strcat(out, w[i]);
    }
    return out;
}

static void
cmd_cancel_or_restore(struct rp_console *c, char **argv, size_t argc, bool restore)
{
    uint64_t id;

    bool job;

    if (refuse_readonly(c))
        return;
    job = argc == 2 && (argv[1][0] == 'j' || argv[1][0] == 'J');
    if (argc != 2 || rp__command_parse_id(argv[1] + job, &id) != RP_OK) {
        rp__console_say(c, true, "usage: :%s TASK-ID, or jJOB-ID for a whole job", argv[0]);
        return;
    }
    free(c->targets);
    c->targets = NULL;
    c->ntargets = 0;
    c->targets_from_tags = false;
    if (job) {
        add_target(c, id, 0);
    } else {
        struct rp_model_task *t = rp__model_task(&c->model, id);
        add_target(c, t ? c->model.jobs[t->job].id : 0, id);
    }
    /* Typed out in full: no question asked. */
    c->confirm = restore ? RP_CONFIRM_RESTORE : RP_CONFIRM_CANCEL;
    answer(c, true);
}

static void
run_command(struct rp_console *c, const char *line)
{
    char **argv = NULL, *why = NULL;
    size_t argc = 0;

    if (rp__command_split(line, &argv, &argc, &why) != RP_OK) {
        rp__console_say(c, true, ":%s: %s", line, why);
        free(why);
        return;
    }
    if (argc == 0)
        goto out;
    if (strcmp(argv[0], "q") == 0 || strcmp(argv[0], "quit") == 0) {
        start_quit(c);
    } else if (strcmp(argv[0], "q!") == 0 || strcmp(argv[0], "quit!") == 0) {
        c->quit = true;
    } else if (strcmp(argv[0], "submit") == 0) {
        if (refuse_readonly(c))
            goto out;
        if (argc < 2) {
            rp__form_open(c, "");
            goto out;
        }
        struct rp_console_submit req = {
            .argv = argv + 1, .argc = argc - 1, .shards = 1,
            .priority = RP_PRIORITY_NORMAL, .backend = RP_BACKEND_ANY,
        };
        rp_job_id job;
        rp_task_id first;
        rp_status st = c->src->ops->submit(c->src, &req, &job, &first, &why);
        if (st == RP_OK) {
            rp__console_say(c, false, "submitted job %" PRIu64 " (task %" PRIu64 ")", job, first);
            c->cur_job = job;
            c->cur_task = 0;
        } else {
            rp__console_say(c, true, "%s", why ? why : rp_strerror(st));
        }
        free(why);
    } else if (strcmp(argv[0], "cancel") == 0 || strcmp(argv[0], "restore") == 0) {
        cmd_cancel_or_restore(c, argv, argc, argv[0][0] == 'r');
    } else if (strcmp(argv[0], "theme") == 0) {
        if (argc != 2)
            rp__console_say(c, true, "usage: :theme NAME");
        else if (rp__console_set_theme(c, argv[1]))
            rp__console_say(c, false, "theme %s", c->theme.name);
    } else if (strcmp(argv[0], "sort") == 0) {
        enum rp_model_sort s = argc == 2 ? rp__model_sort_parse(argv[1]) : RP_SORT_COUNT;
        if (s == RP_SORT_COUNT) {
            rp__console_say(c, true, "usage: :sort newest|oldest|state|name|elapsed|progress");
        } else {
            rp__model_set_sort(&c->model, s);
            rp__console_say(c, false, "sorted by %s", rp__model_sort_name(s));
        }
    } else if (strcmp(argv[0], "filter") == 0) {
        char *text = join_words(argv + 1, argc - 1);
        rp__model_set_filter(&c->model, text);
        free(text);
    } else if (strcmp(argv[0], "help") == 0) {
        c->mode = RP_MODE_HELP;
        c->help_scroll = 0;
    } else {
        rp__console_say(c, true, "unknown command :%s (try :help)", argv[0]);
    }
out:
    rp__command_free(argv, argc);
}

/* ---- keys ---- */

#define CTRL(k) ((k) & 0x1f)

/* Edits c->input; true when the key was an edit. */
static bool
edit_input(struct rp_console *c, int key)
{
    if (key == KEY_BACKSPACE || key == 127 || key == CTRL('h')) {
        if (c->input_len > 0)
            c->input[--c->input_len] = '\0';
        return true;
    }
    if (key == CTRL('u')) {
        c->input_len = 0;
        c->input[0] = '\0';
        return true;
    }
    if (key >= 32 && key < 256 && key != 127 && c->input_len + 1 < sizeof c->input) {
        c->input[c->input_len++] = (char)key;
        c->input[c->input_len] = '\0';
        return true;
    }
    return false;
}

static void
key_filter(struct rp_console *c, int key)
{
    if (key == 27) {                /* Esc clears */
        c->input_len = 0;
        c->input[0] = '\0';
        rp__model_set_filter(&c->model, "");
        c->mode = RP_MODE_NORMAL;
    } else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
        c->mode = RP_MODE_NORMAL;
    } else if (edit_input(c, key)) {
        rp__model_set_filter(&c->model, c->input);
    }
    c->dirty = true;
}

static void
key_command(struct rp_console *c, int key)
{
    if (key == 27 || ((key == KEY_BACKSPACE || key == 127) && c->input_len == 0)) {
        c->mode = RP_MODE_NORMAL;
    } else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
        char line[sizeof c->input];
        memcpy(line, c->input, sizeof line);
        c->mode = RP_MODE_NORMAL;
        run_command(c, line);
    } else {
        edit_input(c, key);
    }
    c->dirty = true;
}

static void
focus_pane(struct rp_console *c, int step)
{
    int p = (int)c->focus;

    do
        p = (p + step + RP_PANE_COUNT) % RP_PANE_COUNT;
    while (pane_rect(c, (enum rp_pane)p)->h == 0 && p != (int)c->focus);
    c->focus = (enum rp_pane)p;
    c->dirty = true;
}

static void
expand_current(struct rp_console *c, bool on)
{
    const struct rp_model_row *row = rp__console_current_row(c);

    if (row == NULL)
        return;
    if (!on && row->task >= 0) {
        /* On a task: go up to its job, then fold it. */
        c->cur_task = 0;
    }
    rp__model_expand(&c->model, row->job, on);
    c->dirty = true;
}

static void
key_mouse(struct rp_console *c)
{
    MEVENT ev;

    if (getmouse(&ev) != OK)
        return;
    for (int p = 0; p < RP_PANE_COUNT; p++) {
        const struct rp_rect *r = pane_rect(c, (enum rp_pane)p);
        if (!rp__layout_contains(r, ev.y, ev.x))
            continue;
        c->focus = (enum rp_pane)p;
        if (ev.bstate & BUTTON4_PRESSED)
            move_cursor(c, -3, false);
#ifdef BUTTON5_PRESSED
        else if (ev.bstate & BUTTON5_PRESSED)
            move_cursor(c, 3, false);
#endif
        else if (p != RP_PANE_DETAIL && ev.y >= r->y + 2 && ev.y < r->y + r->h - 1)
            move_cursor(c, (long)(c->top[p] + (unsigned long)(ev.y - r->y - 2)), true);
        c->dirty = true;
        return;
    }
}

static void
key_normal(struct rp_console *c, int key)
{
    int page = rp__layout_pane_rows(pane_rect(c, c->focus));

    if (page < 1)
        page = 1;
    switch (key) {
    case 'q':
        start_quit(c);
        break;
    case '?':
        c->mode = RP_MODE_HELP;
        c->help_scroll = 0;
        break;
    case '\t':
        focus_pane(c, 1);
        break;
    case KEY_BTAB:
        focus_pane(c, -1);
        break;
    case KEY_UP:
    case 'k':
        move_cursor(c, -1, false);
        break;
    case KEY_DOWN:
    case 'j':
        move_cursor(c, 1, false);
        break;
    case KEY_PPAGE:
    case CTRL('b'):
        move_cursor(c, -page, false);
        break;
    case KEY_NPAGE:
    case CTRL('f'):
        move_cursor(c, page, false);
        break;
    case KEY_HOME:
    case 'g':
        move_cursor(c, 0, true);
        break;
    case KEY_END:
    case 'G':
        move_cursor(c, c->focus == RP_PANE_DETAIL ? 1 << 20 : (long)pane_rows(c, c->focus), true);
        break;
    case '\n':
    case '\r':
    case KEY_ENTER:
        c->zoom = !c->zoom;
        c->focus = c->zoom ? RP_PANE_DETAIL : RP_PANE_JOBS;
        c->top[RP_PANE_DETAIL] = 0;
        break;
    case 27:                        /* Esc: out of the zoom, then untag */
        if (c->zoom) {
            c->zoom = false;
            c->focus = RP_PANE_JOBS;
        } else if (c->model.ntagged > 0) {
            rp__model_clear_tags(&c->model);
            rp__console_say(c, false, "tags cleared");
        }
        break;
    case KEY_RIGHT:
    case 'l':
    case '+':
        expand_current(c, true);
        break;
    case KEY_LEFT:
    case 'h':
    case '-':
        expand_current(c, false);
        break;
    case ' ': {
        const struct rp_model_row *row = rp__console_current_row(c);
        if (row != NULL && c->focus == RP_PANE_JOBS) {
            rp__model_toggle_tag(&c->model, row);
            move_cursor(c, 1, false);
        }
        break;
    }
    case 's':
        if (!refuse_readonly(c))
            rp__form_open(c, "");
        break;
    case 'c':
        start_cancel(c);
        break;
    case 'r':
        start_restore(c);
        break;
    case '/':
        c->mode = RP_MODE_FILTER;
        snprintf(c->input, sizeof c->input, "%s", c->model.filter);
        c->input_len = strlen(c->input);
        break;
    case ':':
        c->mode = RP_MODE_COMMAND;
        c->input[0] = '\0';
        c->input_len = 0;
        break;
    case 'o':
        cycle_sort(c);
        break;
    case 't':
        next_theme(c);
        break;
    case 'Z':
        c->paused = !c->paused;
        rp__console_say(c, false, c->paused ? "paused: the screen stops following the engine "
                                              "(Z resumes)"
                                            : "live again");
        break;
    case CTRL('l'):
        clearok(curscr, TRUE);
        break;
    case KEY_MOUSE:
        key_mouse(c);
        break;
    default:
        return;
    }
    c->dirty = true;
}

static void
relayout(struct rp_console *c)
{
    rp__layout_compute(LINES, COLS, (unsigned)c->model.nshown, c->zoom, &c->layout);
    c->dirty = true;
}

static void
handle_key(struct rp_console *c, int key)
{
    /* Keys act on rows: they must be those of the model now. */
    rebuild_rows(c, now_ns());
    if (key == KEY_RESIZE) {
        relayout(c);
        return;
    }
    switch (c->mode) {
    case RP_MODE_NORMAL:
        key_normal(c, key);
        break;
    case RP_MODE_FILTER:
        key_filter(c, key);
        break;
    case RP_MODE_COMMAND:
        key_command(c, key);
        break;
    case RP_MODE_CONFIRM:
        if (key == 'y' || key == 'Y')
            answer(c, true);
        else if (key == 'n' || key == 'N' || key == 27 || key == 'q')
            answer(c, false);
        break;
    case RP_MODE_FORM:
        rp__form_key(c, key);
        break;
    case RP_MODE_HELP:
        if (key == KEY_DOWN || key == 'j')
            c->help_scroll++;
        else if ((key == KEY_UP || key == 'k') && c->help_scroll > 0)
            c->help_scroll--;
        else
            c->mode = RP_MODE_NORMAL;
        c->dirty = true;
        break;
    }
    /* The layout follows the zoom. */
    if (c->layout.detail.h > 0 && (c->layout.jobs.h == 0) != c->zoom)
        relayout(c);
}

/* ---- the engine side ---- */

static void
resync(struct rp_console *c, uint64_t now)
{
    struct rp_console_snapshot snap;

    if (c->src->ops->snapshot(c->src, &snap) != RP_OK) {
        rp__console_say(c, true, "cannot read the engine's state");
        return;
    }
    rp__model_load(&c->model, &snap, now);
    rp__model_set_workers(&c->model, snap.workers, snap.nworkers, now);
    snap.workers = NULL;
    rp__console_snapshot_free(&snap);
    relayout(c);
}

/* Jobs the model has not described yet: ask the source once each. */
static void
describe_jobs(struct rp_console *c)
{
    struct rp_model *m = &c->model;

    for (size_t i = rp__model_next_undescribed(m); i < m->njobs; i++) {
        struct rp_model_job *j = &m->jobs[i];
        struct rp_console_job_desc d;
        if (j->described)
            continue;
        if (c->src->ops->job_desc(c->src, j->first_task, j->desc.total, &d) == RP_OK) {
            unsigned total = j->desc.total;
            rp__model_describe(m, i, &d);
            if (j->desc.total == 0)
                j->desc.total = total;
        } else {
            j->described = true;    /* do not ask again; the label says "job N" */
        }
    }
}

/* Takes what the source has; true if anything changed. */
static bool
drain_events(struct rp_console *c, uint64_t now)
{
    rp_event ev[EVENT_BATCH];
    uint64_t lost = 0, lost_now;
    size_t n;
    bool any = false;

    do {
        n = c->src->ops->events(c->src, ev, EVENT_BATCH, &lost_now);
        lost += lost_now;
        for (size_t i = 0; i < n; i++)
            rp__model_apply(&c->model, &ev[i]);
        any |= n > 0;
    } while (n == EVENT_BATCH);
    if (lost > 0) {
        resync(c, now);
        any = true;
    }
    if (any) {
        describe_jobs(c);
        /* A restore or :submit asked to follow a task: find its job. */
        if (c->cur_job == 0 && c->cur_task != 0) {
            struct rp_model_task *t = rp__model_task(&c->model, c->cur_task);
            if (t != NULL) {
                c->cur_job = c->model.jobs[t->job].id;
                c->cur_task = 0;
                c->model.rows_dirty = true;
            }
        }
        c->dirty = true;
    }
    return any;
}

static void
refresh_figures(struct rp_console *c, uint64_t now)
{
    rp_worker_info *w;
    size_t n;

    /* Next time in a refresh whatever happens: a failing source must not
     * make the loop spin. */
    c->last_poll_ns = now;
    if (c->src->ops->stats(c->src, &c->model.stats) != RP_OK)
        return;
    if (c->src->ops->gpu == NULL || c->src->ops->gpu(c->src, &c->model.gpu) != RP_OK)
        c->model.gpu.state = RP_GPU_NONE;
    if (c->src->ops->workers(c->src, &w, &n) == RP_OK) {
        size_t shown = c->model.nshown;
        rp__model_set_workers(&c->model, w, n, now);
        if (shown != c->model.nshown)
            relayout(c);
    }
    c->dirty = true;
}

/* The detail pane's data: fetched when the selection changes, when its
 * task changes state, and every refresh while it runs. */
static void
refresh_detail(struct rp_console *c, uint64_t now)
{
    const struct rp_model_row *row = rp__console_current_row(c);
    rp_task_id want = 0;
    uint8_t state = 0;
    rp_job_id job = 0;

    if (row != NULL) {
        const struct rp_model_job *j = &c->model.jobs[row->job];
        const struct rp_model_task *t =
            row->task >= 0 ? &c->model.tasks[row->task]
                           : rp__model_job_task(&c->model, j, 0);
        job = j->id;
        if (t != NULL) {
            want = t->id;
            state = t->state;
        }
    }
    if (want == c->detail_id && job == c->detail_job && state == c->detail_state &&
        (state != RP_TASK_RUNNING || now - c->detail_ns < REFRESH_IDLE_NS))
        return;
    if (c->have_detail)
        rp__console_detail_free(&c->detail);
    c->have_detail = false;
    if (want != c->detail_id || job != c->detail_job)
        c->top[RP_PANE_DETAIL] = 0;
    c->detail_id = want;
    c->detail_job = job;
    c->detail_state = state;
    c->detail_ns = now;
    if (want != 0 && c->src->ops->detail(c->src, want, &c->detail) == RP_OK)
        c->have_detail = true;
    /* How many wait before it: counted here, not every frame. */
    c->detail_ahead = 0;
    if (state == RP_TASK_QUEUED) {
        const struct rp_model_task *t = rp__model_task(&c->model, want);
        if (t != NULL)
            c->detail_ahead = rp__model_ahead_of(&c->model, t);
    }
    c->dirty = true;
}

/* ---- signals: quit cleanly, stopping the engine's processes ----
 *
 * The CLI blocks these signals before the engine starts its threads
 * (rp__console_block_signals), so only the UI thread, which unblocks them
 * here, ever runs the handler. The handler writes the signal into a pipe
 * the loop polls: no window between a check and the poll. */

static const int console_signals[] = { SIGTERM, SIGHUP, SIGINT, SIGWINCH };
#define N_CONSOLE_SIGNALS (sizeof console_signals / sizeof console_signals[0])
static int signal_pipe[2] = { -1, -1 };

void
rp__console_block_signals(sigset_t *old)
{
    sigset_t set;

    sigemptyset(&set);
    for (size_t i = 0; i < N_CONSOLE_SIGNALS; i++)
        sigaddset(&set, console_signals[i]);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

static void
on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;

    if (write(signal_pipe[1], &b, 1) < 0) {
        /* full: an earlier signal is waiting already */
    }
    errno = saved;
}

/* The first signal waiting in the pipe (SIGTERM/SIGHUP win over SIGINT). */
static int
take_signal(void)
{
    unsigned char b[16];
    ssize_t n;
    int sig = 0;

    while ((n = read(signal_pipe[0], b, sizeof b)) > 0)
        for (ssize_t i = 0; i < n; i++)
            if (sig == 0 || sig == SIGINT)
                sig = b[i];
    return sig;
}

/* SIGTERM, SIGHUP, SIGINT to the pipe (SA_RESTART: other calls go on;
 * poll never restarts). SIGWINCH stays curses's. */
static bool
catch_signals(struct sigaction old[3], sigset_t *old_mask)
{
    struct sigaction sa;
    sigset_t set;

    if (pipe2(signal_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
        return false;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++)
        sigaction(console_signals[i], &sa, &old[i]);
    sigemptyset(&set);
    for (size_t i = 0; i < N_CONSOLE_SIGNALS; i++)
        sigaddset(&set, console_signals[i]);
    pthread_sigmask(SIG_UNBLOCK, &set, old_mask);
    return true;
}

static void
restore_signals(const struct sigaction old[3], const sigset_t *old_mask)
{
    if (signal_pipe[0] < 0)
        return;
    pthread_sigmask(SIG_SETMASK, old_mask, NULL);
    for (int i = 0; i < 3; i++)
        sigaction(console_signals[i], &old[i], NULL);
    close(signal_pipe[0]);
    close(signal_pipe[1]);
    signal_pipe[0] = signal_pipe[1] = -1;
}

/* Ctrl-C: leaves what is being typed, answers "no" to a question -- and
 * "yes" to the quit question, so two Ctrl-C always get out. */
static void
interrupt(struct rp_console *c)
{
    switch (c->mode) {
    case RP_MODE_NORMAL:
        start_quit(c);
        break;
    case RP_MODE_CONFIRM:
        answer(c, c->confirm == RP_CONFIRM_QUIT);
        break;
    case RP_MODE_FORM:
    case RP_MODE_FILTER:
    case RP_MODE_COMMAND:
    case RP_MODE_HELP:
        handle_key(c, 27);
        break;
    }
    c->dirty = true;
}

/* ---- the terminal ---- */

static bool
utf8_locale(void)
{
    const char *cs = nl_langinfo(CODESET);

    return cs != NULL && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
}

static SCREEN *
start_terminal(struct rp_console *c)
{
    SCREEN *scr;
    const char *no_color = getenv("NO_COLOR");

    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "repartir: the console needs a terminal (stdin and stdout); "
                        "use `repartir run` for scripts\n");
        return NULL;
    }
    setlocale(LC_ALL, "");
    if ((scr = newterm(NULL, stdout, stdin)) == NULL) {
        fprintf(stderr, "repartir: cannot use the terminal '%s' (check TERM)\n",
                getenv("TERM") ? getenv("TERM") : "");
        return NULL;
    }
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    c->color = has_colors() && !c->opt.no_color && (no_color == NULL || no_color[0] == '\0');
    if (c->color) {
        start_color();
        use_default_colors();
    }
    c->ascii = c->opt.ascii || !utf8_locale();
    c->mouse = !c->opt.no_mouse;
    if (c->mouse)
        mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED | BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
                      | BUTTON5_PRESSED
#endif
                  ,
                  NULL);
    mouseinterval(0);
    return scr;
}

/* ---- preferences ---- */

static void
load_prefs(struct rp_console *c, const char **theme)
{
    struct rp_prefs p;
    char *path;

    *theme = c->opt.theme;
    if (!c->opt.remember || (path = rp__prefs_path()) == NULL)
        return;
    if (rp__prefs_load(path, &p)) {
        static char remembered_theme[sizeof p.theme];
        enum rp_model_sort s = rp__model_sort_parse(p.sort);
        if (*theme == NULL && p.theme[0] != '\0') {
            memcpy(remembered_theme, p.theme, sizeof p.theme);
            *theme = remembered_theme;
        }
        if (s != RP_SORT_COUNT)
            rp__model_set_sort(&c->model, s);
        rp__model_set_filter(&c->model, p.filter);
        for (int i = 0; i < RP_PANE_COUNT; i++)
            if (strcmp(p.pane, rp__panes[i]->name) == 0)
                c->focus = (enum rp_pane)i;
    }
    free(path);
}

static void
save_prefs(struct rp_console *c)
{
    struct rp_prefs p;
    char *path;

    if (!c->opt.remember || (path = rp__prefs_path()) == NULL)
        return;
    memset(&p, 0, sizeof p);
    snprintf(p.theme, sizeof p.theme, "%s", c->theme.name);
    snprintf(p.sort, sizeof p.sort, "%s", rp__model_sort_name(c->model.sort));
    snprintf(p.filter, sizeof p.filter, "%s", c->model.filter);
    snprintf(p.pane, sizeof p.pane, "%s",
             rp__panes[c->focus == RP_PANE_DETAIL && c->zoom ? RP_PANE_JOBS : c->focus]->name);
    rp__prefs_save(path, &p);
    free(path);
}

/* ---- the loop ---- */

int
rp__console_run(rp_console_source *src, const struct rp_console_options *opt)
{
    struct rp_console *c = rp_xcalloc(1, sizeof *c);
    const char *theme_name;
    struct rp_demo *demo = NULL;
    struct sigaction old_signals[3];
    sigset_t old_mask;
    SCREEN *scr;
    uint64_t now = now_ns();
    int rc = 0;

    c->src = src;
    c->opt = *opt;
    c->focus = RP_PANE_JOBS;
    rp__model_init(&c->model, now);
    rp__theme_default(&c->theme);
    load_prefs(c, &theme_name);
    if (!catch_signals(old_signals, &old_mask)) {
        fprintf(stderr, "repartir: cannot make a pipe for signals: %s\n", strerror(errno));
        rc = 1;
        goto out;
    }
    if ((scr = start_terminal(c)) == NULL) {
        rc = 1;
        goto out;
    }
    rp__theme_apply(&c->theme, c->color, &c->attrs);
    if (theme_name != NULL)
        rp__console_set_theme(c, theme_name);
    resync(c, now);
    describe_jobs(c);
    relayout(c);
    if (opt->demo)
        demo = rp__demo_start(c);

    while (!c->quit) {
        /* Events are taken at most once a frame: after a drain the wake-up
         * is left out of the poll until the next frame is due, so a flood
         * of events costs ~10 wake-ups a second, not one each. */
        bool take_events = !c->paused && now >= c->last_drain_ns + FRAME_NS;
        struct pollfd fds[3] = {
            { .fd = STDIN_FILENO, .events = POLLIN },
            { .fd = signal_pipe[0], .events = POLLIN },
            { .fd = src->ops->wake_fd(src), .events = POLLIN },
        };
        uint64_t refresh = c->model.stats.running > 0 ? REFRESH_BUSY_NS : REFRESH_IDLE_NS;
        /* Paused, the figures are not refreshed: only the clock ticks. */
        uint64_t deadline = c->paused ? now + REFRESH_IDLE_NS : c->last_poll_ns + refresh;
        int timeout, key;
        bool keyed = false;

        if (c->dirty && c->last_draw_ns + FRAME_NS < deadline)
            deadline = c->last_draw_ns + FRAME_NS;
        if (!c->paused && !take_events && c->last_drain_ns + FRAME_NS < deadline)
            deadline = c->last_drain_ns + FRAME_NS;
        if (demo != NULL && rp__demo_next_ns(demo) < deadline)
            deadline = rp__demo_next_ns(demo);
        timeout = deadline <= now ? 0 : (int)((deadline - now + MS - 1) / MS);
        if (poll(fds, take_events ? 3 : 2, timeout) < 0 && errno != EINTR)
            break;
        now = now_ns();
        if (fds[1].revents & POLLIN) {
            int sig = take_signal();
            if (sig == SIGINT) {
                interrupt(c);
            } else if (sig != 0) {
                rc = 128 + sig;
                break;
            }
        }
        while ((key = getch()) != ERR) {
            handle_key(c, key);
            keyed = true;
            if (c->quit)
                break;
        }
        if (!c->paused && now >= c->last_drain_ns + FRAME_NS) {
            drain_events(c, now);
            c->last_drain_ns = now;
        }
        if (!c->paused && now >= c->last_poll_ns + refresh)
            refresh_figures(c, now);
        if (demo != NULL && now >= rp__demo_next_ns(demo))
            rp__demo_tick(demo, c, now);
        if (c->status[0] != '\0' && now > c->status_ns + STATUS_NS && c->mode == RP_MODE_NORMAL) {
            c->status[0] = '\0';
            c->dirty = true;
        }
        if (c->paused && now >= c->last_draw_ns + REFRESH_IDLE_NS)
            c->dirty = true;        /* the clock */
        if (c->dirty && (keyed || now >= c->last_draw_ns + FRAME_NS)) {
            rebuild_rows(c, now);
            refresh_detail(c, now);
            rp__console_draw(c, now);
            c->last_draw_ns = now;
            c->dirty = false;
        }
    }
    save_prefs(c);
    rp__console_draw_end();
    endwin();
    delscreen(scr);
out:
    restore_signals(old_signals, &old_mask);
    rp__demo_stop(demo);
    if (c->have_detail)
        rp__console_detail_free(&c->detail);
    free(c->targets);
    rp__model_free(&c->model);
    free(c);
    return rc;
}
