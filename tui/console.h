/*
 * console.h -- the console: one struct the UI thread owns, the entry
 * point the CLI calls, and what its parts (console.c: loop, keys and
 * actions; pane_*.c: drawing; form.c: the submit form) share.
 *
 * THREADS: everything here belongs to the UI thread. Engine events reach
 * it through the source's wake-up descriptor, never by another thread
 * touching this struct.
 */
#ifndef RP_TUI_CONSOLE_H
#define RP_TUI_CONSOLE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <repartir.h>

#include "tui/layout.h"
#include "tui/model.h"
#include "tui/source.h"
#include "tui/theme.h"

struct rp_console_options {
    const char *theme;              /* NULL: remembered, else default */
    bool no_color, ascii, no_mouse, readonly, demo;
    bool remember;                  /* load and save preferences */
};

/* Runs the console on src until the operator quits, or SIGTERM or SIGHUP
 * arrives (SIGINT asks, as `q` does). The terminal is restored on every way
 * out. Returns 0; 128 + the signal after SIGTERM/SIGHUP; 1 when the
 * terminal could not be used (with a message on stderr). Does not close
 * src: closing it stops what runs. */
int rp__console_run(rp_console_source *src, const struct rp_console_options *opt);

/* Blocks SIGTERM, SIGHUP, SIGINT and SIGWINCH in the calling thread, so
 * that the threads the engine starts afterwards inherit the block and
 * only the console's UI thread (which unblocks them) gets them. Call it
 * before the source is opened; *old (may be NULL) = the mask before. */
void rp__console_block_signals(sigset_t *old /* OUT */);

/* ---- shared by the console's files ---- */

enum rp_pane { RP_PANE_WORKERS, RP_PANE_JOBS, RP_PANE_DETAIL, RP_PANE_COUNT };

enum rp_mode {
    RP_MODE_NORMAL,
    RP_MODE_FILTER,                 /* typing after / */
    RP_MODE_COMMAND,                /* typing after : */
    RP_MODE_CONFIRM,                /* y/n */
    RP_MODE_FORM,                   /* the submit form */
    RP_MODE_HELP                    /* the ? overlay */
};

enum rp_confirm {
    RP_CONFIRM_CANCEL,
    RP_CONFIRM_RESTORE,
    RP_CONFIRM_QUIT
};

/* A target of cancel or restore: a job or one task. */
struct rp_target {
    rp_job_id job;
    rp_task_id task;                /* 0: the whole job */
};

#define RP_FORM_FIELDS 9
#define RP_FORM_TEXT 512

struct rp_form {
    int field;                      /* focused field */
    char text[RP_FORM_FIELDS][RP_FORM_TEXT];
    size_t cursor[RP_FORM_FIELDS];
    int priority;                   /* rp_priority */
    int backend;                    /* rp_backend */
    bool checkpoint;
    char message[256];              /* why the last Enter was refused */
};

struct rp_console {
    rp_console_source *src;
    struct rp_console_options opt;
    struct rp_model model;
    struct rp_layout layout;
    struct rp_theme theme;
    struct rp_theme_attrs attrs;
    bool color, ascii, mouse;

    enum rp_pane focus;
    enum rp_mode mode;
    bool zoom;                      /* the detail pane takes the jobs pane's room */
    bool paused;                    /* Z: no live updates */
    bool quit;

    /* cursors: rows of the pane, first visible row */
    unsigned long cursor[RP_PANE_COUNT], top[RP_PANE_COUNT];
    /* what the jobs cursor is on, kept across row rebuilds */
    rp_job_id cur_job;
    rp_task_id cur_task;

    /* the line being typed (filter, command) */
    char input[RP_FORM_TEXT];
    size_t input_len;

    /* y/n */
    enum rp_confirm confirm;
    struct rp_target *targets;
    size_t ntargets;
    bool targets_from_tags;         /* the action clears the tags */
    char question[256];

    struct rp_form form;

    /* the status line */
    char status[512];
    bool status_error;
    uint64_t status_ns;

    /* the detail pane's data, for detail_id */
    struct rp_console_detail detail;
    rp_task_id detail_id;
    rp_job_id detail_job;
    uint64_t detail_ns;
    uint8_t detail_state;
    unsigned long detail_ahead;     /* queued: tasks that would start before it */
    bool have_detail;

    uint64_t last_draw_ns, last_poll_ns, last_drain_ns;
    bool dirty;                     /* something to draw */
    unsigned help_scroll;
};

/* console.c */
void rp__console_say(struct rp_console *c, bool error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The row under the jobs cursor, or NULL when there are none. */
const struct rp_model_row *rp__console_current_row(struct rp_console *c);
/* Loads theme `name` and applies it; says what went wrong and keeps the
 * current one on failure. */
bool rp__console_set_theme(struct rp_console *c, const char *name);

/* draw.c: one frame into curses windows, then doupdate. */
void rp__console_draw(struct rp_console *c, uint64_t now_ns);
/* Frees the windows of the frames (before endwin). */
void rp__console_draw_end(void);
/* "1.2s", "3m04s", "2h05m", "3d04h" into buf. */
void rp__console_format_duration(char *buf, size_t size, uint64_t ns);
/* The key bindings, for the footer and the help overlay. */
struct rp_binding {
    const char *keys;               /* as shown: "s", "Tab", "PgUp/PgDn" */
    const char *help;               /* short, for the footer */
    const char *more;               /* longer, for ? */
    unsigned panes;                 /* bit per enum rp_pane that it works in */
    bool changes;                   /* hidden under --readonly */
};
extern const struct rp_binding rp__console_bindings[];
extern const size_t rp__console_nbindings;

/* form.c */
void rp__form_open(struct rp_console *c, const char *command);
/* Handles one key in the form; may submit and close it. */
void rp__form_key(struct rp_console *c, int key);
void rp__form_draw(struct rp_console *c);

#endif /* RP_TUI_CONSOLE_H */
