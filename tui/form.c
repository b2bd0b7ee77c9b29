/*
 * form.c -- the submit form (`s`): a command line and the task's settings,
 * checked field by field before anything is submitted. Enter submits from
 * any field, Esc cancels; a refused submission keeps the form open with
 * the reason, so nothing typed is lost.
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include "tui/console.h"

#include <curses.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/alloc.h"
#include "tui/command.h"

enum field_kind { FIELD_TEXT, FIELD_NUMBER, FIELD_CHOICE, FIELD_TOGGLE };

enum {
    F_COMMAND, F_NAME, F_SHARDS, F_PRIORITY, F_BACKEND, F_TIMEOUT, F_RETRIES, F_DATA, F_CHECKPOINT
};

struct field {
    const char *label;
    enum field_kind kind;
    const char *hint;
    unsigned long max;              /* numbers: the largest accepted */
};

static const struct field fields[RP_FORM_FIELDS] = {
    [F_COMMAND] = { "Command", FIELD_TEXT, "program and arguments, quoted as in a shell", 0 },
    [F_NAME] = { "Name", FIELD_TEXT, "optional label", 0 },
    [F_SHARDS] = { "Shards", FIELD_NUMBER, "copies; each sees $REPARTIR_SHARD", 1000000 },
    [F_PRIORITY] = { "Priority", FIELD_CHOICE, "Space or Left/Right", 0 },
    [F_BACKEND] = { "Backend", FIELD_CHOICE, "Space or Left/Right", 0 },
    [F_TIMEOUT] = { "Timeout (s)", FIELD_NUMBER, "0 = none", 86400 * 30 },
    [F_RETRIES] = { "Retries", FIELD_NUMBER, "failed attempts run again", 1000 },
    [F_DATA] = { "Data keys", FIELD_TEXT, "comma-separated keys it reads", 0 },
    [F_CHECKPOINT] = { "Checkpoints", FIELD_TOGGLE, "Space toggles (needs --state-dir)", 0 },
};

static const char *const priority_names[] = { "low", "normal", "high", "critical" };
static const char *const backend_names[] = { "any", "cpu", "gpu", "remote" };

void
rp__form_open(struct rp_console *c, const char *command)
{
    struct rp_form *f = &c->form;

    memset(f, 0, sizeof *f);
    snprintf(f->text[F_COMMAND], RP_FORM_TEXT, "%s", command);
    f->cursor[F_COMMAND] = strlen(f->text[F_COMMAND]);
    snprintf(f->text[F_SHARDS], RP_FORM_TEXT, "1");
    f->cursor[F_SHARDS] = 1;
    snprintf(f->text[F_TIMEOUT], RP_FORM_TEXT, "0");
    f->cursor[F_TIMEOUT] = 1;
    snprintf(f->text[F_RETRIES], RP_FORM_TEXT, "0");
    f->cursor[F_RETRIES] = 1;
    f->priority = RP_PRIORITY_NORMAL;
    f->backend = RP_BACKEND_ANY;
    c->mode = RP_MODE_FORM;
    c->dirty = true;
}

static bool
parse_number(struct rp_form *f, int i, unsigned long *out)
{
    const char *s = f->text[i];
    char *end;

    errno = 0;
    *out = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || *s == '-' || errno != 0 || *out > fields[i].max) {
        /* The text shown cut to 40 bytes: the message line is short. */
        snprintf(f->message, sizeof f->message, "%s: '%.40s' is not a whole number from 0 to %lu",
                 fields[i].label, s, fields[i].max);
        f->field = i;
        return false;
    }
    return true;
}

/* Splits "a, b,c" into keys. */
static char **
split_keys(const char *text, size_t *n)
{
    char *copy = rp_xstrdup(text), *save = NULL;
    char **keys = rp_xcalloc(strlen(text) / 2 + 2, sizeof *keys);

    *n = 0;
    for (char *k = strtok_r(copy, ", ", &save); k != NULL; k = strtok_r(NULL, ", ", &save))
        keys[(*n)++] = rp_xstrdup(k);
    free(copy);
    return keys;
}

static void
submit(struct rp_console *c)
{
    struct rp_form *f = &c->form;
    struct rp_console_submit req;
    unsigned long shards, timeout, retries;
    char **argv = NULL, *why = NULL;
    size_t argc = 0;
    rp_job_id job;
    rp_task_id first;
    rp_status st;

    memset(&req, 0, sizeof req);
    if (rp__command_split(f->text[F_COMMAND], &argv, &argc, &why) != RP_OK) {
        snprintf(f->message, sizeof f->message, "Command: %s", why);
        f->field = F_COMMAND;
        free(why);
        return;
    }
    if (argc == 0) {
        snprintf(f->message, sizeof f->message, "Command: type the program to run");
        f->field = F_COMMAND;
        goto out;
    }
    if (!parse_number(f, F_SHARDS, &shards) || !parse_number(f, F_TIMEOUT, &timeout) ||
        !parse_number(f, F_RETRIES, &retries))
        goto out;
    if (shards == 0) {
        snprintf(f->message, sizeof f->message, "Shards: at least 1");
        f->field = F_SHARDS;
        goto out;
    }
    req.argv = argv;
    req.argc = argc;
    req.name = f->text[F_NAME][0] ? f->text[F_NAME] : NULL;
    req.shards = (unsigned)shards;
    req.priority = (rp_priority)f->priority;
    req.backend = (rp_backend)f->backend;
    req.timeout_ms = (unsigned)(timeout * 1000);
    req.retries = (unsigned)retries;
    req.checkpoint = f->checkpoint;
    req.data_keys = split_keys(f->text[F_DATA], &req.ndata);
    st = c->src->ops->submit(c->src, &req, &job, &first, &why);
    rp__command_free(req.data_keys, req.ndata);
    if (st != RP_OK) {
        snprintf(f->message, sizeof f->message, "%s", why ? why : rp_strerror(st));
        free(why);
        goto out;
    }
    /* What was pasted after the Enter is not meant for the jobs pane. */
    flushinp();
    c->mode = RP_MODE_NORMAL;
    c->cur_job = job;
    c->cur_task = 0;
    c->model.rows_dirty = true;
    rp__console_say(c, false, "submitted job %" PRIu64 ": %lu task%s from %" PRIu64, job, shards,
                    shards == 1 ? "" : "s", first);
out:
    rp__command_free(argv, argc);
    c->dirty = true;
}

static void
edit(struct rp_form *f, int key)
{
    char *t = f->text[f->field];
    size_t len = strlen(t), *cur = &f->cursor[f->field];

    if (*cur > len)
        *cur = len;
    if (key == KEY_LEFT && *cur > 0) {
        (*cur)--;
    } else if (key == KEY_RIGHT && *cur < len) {
        (*cur)++;
    } else if (key == KEY_HOME || key == 1 /* Ctrl-A */) {
        *cur = 0;
    } else if (key == KEY_END || key == 5 /* Ctrl-E */) {
        *cur = len;
    } else if ((key == KEY_BACKSPACE || key == 127 || key == 8) && *cur > 0) {
        memmove(t + *cur - 1, t + *cur, len - *cur + 1);
        (*cur)--;
    } else if (key == KEY_DC && *cur < len) {
        memmove(t + *cur, t + *cur + 1, len - *cur);
    } else if (key == 21 /* Ctrl-U */) {
        t[0] = '\0';
        *cur = 0;
    } else if (key >= 32 && key < 256 && key != 127 && len + 1 < RP_FORM_TEXT) {
        if (fields[f->field].kind == FIELD_NUMBER && (key < '0' || key > '9'))
            return;
        memmove(t + *cur + 1, t + *cur, len - *cur + 1);
        t[(*cur)++] = (char)key;
    }
}

void
rp__form_key(struct rp_console *c, int key)
{
    struct rp_form *f = &c->form;
    enum field_kind kind = fields[f->field].kind;

    c->dirty = true;
    switch (key) {
    case 27:
        c->mode = RP_MODE_NORMAL;
        rp__console_say(c, false, "nothing was submitted");
        return;
    case '\n':
    case '\r':
    case KEY_ENTER:
        submit(c);
        return;
    case '\t':
    case KEY_DOWN:
        f->field = (f->field + 1) % RP_FORM_FIELDS;
        return;
    case KEY_BTAB:
    case KEY_UP:
        f->field = (f->field + RP_FORM_FIELDS - 1) % RP_FORM_FIELDS;
        return;
    default:
        break;
    }
    f->message[0] = '\0';
    if (kind == FIELD_CHOICE && (key == ' ' || key == KEY_RIGHT || key == KEY_LEFT)) {
        int *v = f->field == F_PRIORITY ? &f->priority : &f->backend;
        *v = (*v + (key == KEY_LEFT ? 3 : 1)) % 4;
    } else if (kind == FIELD_TOGGLE && (key == ' ' || key == KEY_RIGHT || key == KEY_LEFT)) {
        f->checkpoint = !f->checkpoint;
    } else if (kind == FIELD_TEXT || kind == FIELD_NUMBER) {
        edit(f, key);
    }
}

void
rp__form_draw(struct rp_console *c)
{
    struct rp_form *f = &c->form;
    int w = COLS - 10 > 90 ? 90 : COLS - 10, h = RP_FORM_FIELDS + 6;
    WINDOW *win = newwin(h, w, (LINES - h) / 2, (COLS - w) / 2);
    int value_x = 16, value_w = w - value_x - 2;

    if (win == NULL)
        return;
    wbkgdset(win, ' ' | (chtype)c->attrs.attr[RP_THEME_NORMAL]);
    werase(win);
    wattron(win, c->attrs.attr[RP_THEME_BORDER_FOCUS]);
    if (c->ascii)
        wborder(win, '|', '|', '-', '-', '+', '+', '+', '+');
    else
        box(win, 0, 0);
    mvwaddstr(win, 0, 2, " submit a job ");
    wattroff(win, c->attrs.attr[RP_THEME_BORDER_FOCUS]);
    for (int i = 0; i < RP_FORM_FIELDS; i++) {
        int y = 2 + i, a = i == f->field ? c->attrs.attr[RP_THEME_SELECTED] : 0;
        char value[RP_FORM_TEXT + 32];
        const char *shown = value;

        wattron(win, c->attrs.attr[RP_THEME_HEADER]);
        mvwprintw(win, y, 2, "%-13s", fields[i].label);
        wattroff(win, c->attrs.attr[RP_THEME_HEADER]);
        switch (fields[i].kind) {
        case FIELD_CHOICE:
            snprintf(value, sizeof value, "< %s >",
                     i == F_PRIORITY ? priority_names[f->priority] : backend_names[f->backend]);
            break;
        case FIELD_TOGGLE:
            snprintf(value, sizeof value, "[%s] %s", f->checkpoint ? "x" : " ",
                     f->checkpoint ? "on" : "off");
            break;
        default: {
            /* Scroll long text so the cursor stays in view. */
            size_t cur = f->cursor[i], len = strlen(f->text[i]), start = 0;
            if (cur > (size_t)value_w - 2)
                start = cur - (size_t)value_w + 2;
            snprintf(value, sizeof value, "%s", f->text[i] + (start < len ? start : len));
            break;
        }
        }
        if (a)
            wattron(win, a);
        mvwhline(win, y, value_x, ' ', value_w);
        mvwaddnstr(win, y, value_x, shown, value_w);
        if (a)
            wattroff(win, a);
        if (i == f->field && (fields[i].kind == FIELD_TEXT || fields[i].kind == FIELD_NUMBER)) {
            size_t cur = f->cursor[i];
            int cx = value_x + (int)(cur > (size_t)value_w - 2 ? (size_t)value_w - 2 : cur);
            mvwchgat(win, y, cx, 1, A_REVERSE | A_BLINK, 0, NULL);
        }
    }
    wattron(win, c->attrs.attr[RP_THEME_DIM]);
    mvwaddnstr(win, h - 3, 2, fields[f->field].hint, w - 4);
    wattroff(win, c->attrs.attr[RP_THEME_DIM]);
    if (f->message[0]) {
        wattron(win, c->attrs.attr[RP_THEME_ERROR]);
        mvwaddnstr(win, h - 2, 2, f->message, w - 4);
        wattroff(win, c->attrs.attr[RP_THEME_ERROR]);
    } else {
        mvwaddnstr(win, h - 2, 2, "Enter submits   Esc cancels   Tab/Up/Down move", w - 4);
    }
    wnoutrefresh(win);
    delwin(win);
}
