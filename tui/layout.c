/*
 * layout.c -- the console's layout arithmetic (layout.h).
 */
#include "tui/layout.h"

#include <string.h>

#define HEADER_LINES 3
#define BOTTOM_LINES 2              /* status + footer */
#define PANE_CHROME 3               /* top and bottom frame, column heads */
#define MIN_PANE 5                  /* chrome + 2 rows */

void
rp__layout_compute(int lines, int cols, unsigned nworkers, bool zoom, struct rp_layout *out)
{
    int body, workers_h, detail_h, jobs_h, y;

    memset(out, 0, sizeof *out);
    out->lines = lines;
    out->cols = cols;
    if (lines < RP_LAYOUT_MIN_LINES || cols < RP_LAYOUT_MIN_COLS) {
        out->too_small = true;
        return;
    }
    out->header = (struct rp_rect){ 0, 0, HEADER_LINES, cols };
    out->status = (struct rp_rect){ lines - 2, 0, 1, cols };
    out->footer = (struct rp_rect){ lines - 1, 0, 1, cols };
    body = lines - HEADER_LINES - BOTTOM_LINES;

    /* Workers: all of them if they fit in ~30% of the body, at least 2 rows. */
    workers_h = (nworkers > (unsigned)lines ? lines : (int)nworkers) + PANE_CHROME;
    if (workers_h > body * 3 / 10)
        workers_h = body * 3 / 10;
    if (workers_h < MIN_PANE)
        workers_h = MIN_PANE;
    y = HEADER_LINES;
    out->workers = (struct rp_rect){ y, 0, workers_h, cols };
    y += workers_h;
    body -= workers_h;

    if (cols >= RP_LAYOUT_WIDE_COLS) {
        int detail_w = zoom ? cols : cols * 2 / 5;
        out->side_by_side = true;
        if (!zoom)
            out->jobs = (struct rp_rect){ y, 0, body, cols - detail_w };
        out->detail = (struct rp_rect){ y, cols - detail_w, body, detail_w };
        return;
    }
    if (zoom) {
        out->detail = (struct rp_rect){ y, 0, body, cols };
        return;
    }
    detail_h = body * 2 / 5;
    if (detail_h < MIN_PANE + 1)
        detail_h = MIN_PANE + 1;
    jobs_h = body - detail_h;
    out->jobs = (struct rp_rect){ y, 0, jobs_h, cols };
    out->detail = (struct rp_rect){ y + jobs_h, 0, detail_h, cols };
}

int
rp__layout_pane_rows(const struct rp_rect *r)
{
    return r->h > PANE_CHROME ? r->h - PANE_CHROME : 0;
}

unsigned long
rp__layout_scroll(unsigned long top, unsigned long cursor, unsigned long rows, int visible)
{
    if (visible <= 0 || rows == 0)
        return 0;
    if (cursor >= rows)
        cursor = rows - 1;
    if (cursor < top)
        top = cursor;
    else if (cursor >= top + (unsigned long)visible)
        top = cursor - (unsigned long)visible + 1;
    /* No empty space below the last row when scrolled. */
    if (rows > (unsigned long)visible && top > rows - (unsigned long)visible)
        top = rows - (unsigned long)visible;
    if (rows <= (unsigned long)visible)
        top = 0;
    return top;
}

bool
rp__layout_contains(const struct rp_rect *r, int y, int x)
{
    return r->h > 0 && r->w > 0 && y >= r->y && y < r->y + r->h && x >= r->x && x < r->x + r->w;
}
