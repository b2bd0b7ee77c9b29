/*
 * layout.h -- where each part of the console goes, from the terminal's
 * size alone: plain arithmetic, no curses, unit-tested.
 *
 *   +--------------------------------------------------+
 *   | title bar                                        |  header: 3 lines
 *   | workers 3/4  queued 12  running 3  ...           |
 *   | 41.0 tasks/s  ▁▂▃▅▇  steals 18  locality 92%      |
 *   +- workers ----------------------------------------+  workers: its rows + 3,
 *   |                                                  |  at most ~30%
 *   +- jobs -------------------------+- detail --------+  jobs and detail: side by
 *   |                                |                 |  side from 160 columns,
 *   +--------------------------------+-----------------+  else detail below jobs
 *   | status / prompt line                             |
 *   | footer: the keys of the focused pane             |
 *   +--------------------------------------------------+
 *
 * Zoomed (Enter on a row), the detail pane takes the jobs pane's room too.
 */
#ifndef RP_TUI_LAYOUT_H
#define RP_TUI_LAYOUT_H

#include <stdbool.h>

#define RP_LAYOUT_MIN_COLS 80
#define RP_LAYOUT_MIN_LINES 24
#define RP_LAYOUT_WIDE_COLS 160

struct rp_rect {
    int y, x, h, w;                 /* h or w 0: not shown */
};

struct rp_layout {
    int lines, cols;
    bool too_small;                 /* below 80x24: only a message is drawn */
    bool side_by_side;              /* detail to the right of jobs */
    struct rp_rect header, workers, jobs, detail, status, footer;
};

/* Computes the layout for a lines x cols terminal with nworkers worker
 * rows; zoom gives the jobs pane's room to the detail pane. */
void rp__layout_compute(int lines, int cols, unsigned nworkers, bool zoom,
                        struct rp_layout *out /* OUT */);

/* Rows of data a framed pane of height h shows (frame and column heads
 * take 3 lines). */
int rp__layout_pane_rows(const struct rp_rect *r);

/* Keeps a cursor visible: given the row count, visible rows and cursor,
 * returns the new first visible row (scrolling as little as possible
 * from `top`). */
unsigned long rp__layout_scroll(unsigned long top, unsigned long cursor, unsigned long rows,
                                int visible);

/* Whether (y, x) is inside r. */
bool rp__layout_contains(const struct rp_rect *r, int y, int x);

#endif /* RP_TUI_LAYOUT_H */
