/*
 * pane.h -- the console's panes behind one ops table (pane_workers.c,
 * pane_jobs.c, pane_detail.c), and the drawing helpers they share
 * (draw.c). Curses lives here and in the .c files that include it, never
 * in console.h.
 *
 * THREADS: the UI thread only.
 */
#ifndef RP_TUI_PANE_H
#define RP_TUI_PANE_H

#include <curses.h>

#include "tui/console.h"

struct rp_pane_ops {
    const char *name;               /* "workers", "jobs", "detail" */
    /* Where it goes in the layout (h == 0: not shown). */
    const struct rp_rect *(*rect)(const struct rp_layout *l);
    /* Rows the cursor moves over; 0: the pane scrolls its text instead. */
    unsigned long (*rows)(const struct rp_console *c);
    /* Draws it, frame included, into w (erased). */
    void (*draw)(struct rp_console *c, WINDOW *w, uint64_t now);
};

extern const struct rp_pane_ops rp__pane_workers, rp__pane_jobs, rp__pane_detail;
/* By enum rp_pane. */
extern const struct rp_pane_ops *const rp__panes[RP_PANE_COUNT];

/* ---- drawing helpers (draw.c) ---- */

/* The curses attributes of a theme slot. */
int rp__draw_attr(const struct rp_console *c, enum rp_theme_slot s);
enum rp_theme_slot rp__draw_state_slot(rp_task_state s);
/* Writes at most `width` columns of the n bytes of text at (y, x), made
 * printable (control, invalid, bidi and zero-width characters become '.';
 * wide characters count two columns). Returns the columns written. */
int rp__draw_put(const struct rp_console *c, WINDOW *w, int y, int x, int width,
                 const char *text, size_t n);
int rp__draw_puts(const struct rp_console *c, WINDOW *w, int y, int x, int width,
                  const char *text);
int rp__draw_printf(const struct rp_console *c, WINDOW *w, int y, int x, int width,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* A bar of width cells filled to fraction f (eighths where glyphs allow). */
void rp__draw_bar(const struct rp_console *c, WINDOW *w, int y, int x, int width, double f);
/* The pane's frame with its title; focused panes stand out. */
void rp__draw_frame(const struct rp_console *c, WINDOW *w, const char *title, bool focused);
/* "12 B", "3.4 KiB", ... */
void rp__draw_bytes(char *buf, size_t size, uint64_t n);
/* A worker's name by rp_pool_workers index, "-" for none. */
const char *rp__draw_worker_name(const struct rp_model *m, int worker);

#endif /* RP_TUI_PANE_H */
