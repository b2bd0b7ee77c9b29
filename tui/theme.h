/*
 * theme.h -- console colour themes: plain `key = value` files, one colour
 * slot per line, parsed into styles and turned into curses attributes.
 *
 * File format (docs/console.md, "Themes"):
 *
 *     # a comment; blank lines are ignored
 *     name = solarized-dark            (optional; defaults to the file name)
 *     state.running = yellow bold
 *     border.focus  = #268bd2 on default
 *     selected      = black on cyan
 *
 * A value is `FG [on BG] [ATTR...]`: a colour is `default` (the terminal's
 * own), one of the 8 names black red green yellow blue magenta cyan white,
 * `bright-<name>` (8-15), `colorN` or a bare N (0-255), or `#rrggbb` (the
 * nearest of the 256-colour cube). Attributes: bold dim underline reverse
 * italic. A slot left out of a file keeps the built-in default theme's
 * style. Unknown keys, unknown colours or attributes, a missing `=`, an
 * over-long line or a file over 64 KiB are errors that name the line.
 *
 * Not thread-safe beyond what is said: the console's UI thread owns its
 * theme. Parsing and lookups touch no curses state; only
 * rp__theme_apply does (it must run after start_color).
 */
#ifndef RP_TUI_THEME_H
#define RP_TUI_THEME_H

#include <stdbool.h>
#include <stddef.h>

#include <repartir.h>

/* The colour slots, in the order of the table in theme.c (key names in
 * the comments). */
enum rp_theme_slot {
    RP_THEME_NORMAL,         /* normal */
    RP_THEME_DIM,            /* dim: secondary text, empty values */
    RP_THEME_TITLE,          /* title: the top bar */
    RP_THEME_HEADER,         /* header: column headings */
    RP_THEME_BORDER,         /* border */
    RP_THEME_BORDER_FOCUS,   /* border.focus: the focused pane's frame */
    RP_THEME_SELECTED,       /* selected: the cursor row */
    RP_THEME_TAGGED,         /* tagged: rows tagged with Space */
    RP_THEME_KEY,            /* key: key names in the footer and help */
    RP_THEME_STATUS,         /* status: the message line */
    RP_THEME_ERROR,          /* error: error messages */
    RP_THEME_QUEUED,         /* state.queued */
    RP_THEME_RUNNING,        /* state.running */
    RP_THEME_SUCCEEDED,      /* state.succeeded */
    RP_THEME_FAILED,         /* state.failed */
    RP_THEME_CANCELLED,      /* state.cancelled */
    RP_THEME_TIMED_OUT,      /* state.timed_out */
    RP_THEME_BAR,            /* bar: the filled part of load and progress bars */
    RP_THEME_BAR_EMPTY,      /* bar.empty */
    RP_THEME_SPARK,          /* spark: the throughput sparkline */
    RP_THEME_LOST,           /* lost: a worker that is down */
    RP_THEME_SLOT_COUNT
};

/* Colour numbers: 0-255, or RP_THEME_DEFAULT_COLOR for the terminal's. */
#define RP_THEME_DEFAULT_COLOR (-1)

enum {
    RP_THEME_ATTR_BOLD = 1u << 0,
    RP_THEME_ATTR_DIM = 1u << 1,
    RP_THEME_ATTR_UNDERLINE = 1u << 2,
    RP_THEME_ATTR_REVERSE = 1u << 3,
    RP_THEME_ATTR_ITALIC = 1u << 4
};

struct rp_theme_style {
    short fg, bg;            /* 0-255 or RP_THEME_DEFAULT_COLOR */
    unsigned attrs;          /* RP_THEME_ATTR_* */
};

struct rp_theme {
    char name[64];
    struct rp_theme_style slot[RP_THEME_SLOT_COUNT];
};

/* The key of a slot in theme files ("state.running"); NULL if out of range. */
const char *rp__theme_slot_key(enum rp_theme_slot slot);

/* The built-in default theme (also themes/default.theme). */
void rp__theme_default(struct rp_theme *out /* OUT */);

/* Parses a theme file's text (len bytes, need not be NUL-terminated) on
 * top of the default theme. `origin` names it in messages (a path).
 * default_name is used when the file has no `name =` line. On error *out
 * is unchanged and *why = "FILE:LINE: what is wrong" (malloc'd, caller
 * frees): RP_ERR_INVALID. */
rp_status rp__theme_parse(const char *text, size_t len, const char *origin,
                          const char *default_name, struct rp_theme *out /* OUT */,
                          char **why /* OUT */);

/* Finds theme `name` -- a file NAME.theme in the user's directory
 * ($XDG_CONFIG_HOME/repartir/themes, else ~/.config/repartir/themes), or
 * one of the themes built into the binary (default, dark, light,
 * solarized-dark, mono) -- and parses it. A user file wins over a built-in
 * of the same name. RP_ERR_NOT_FOUND (with *why) for an unknown name,
 * RP_ERR_INVALID for a broken file (with *why), RP_ERR_IO if it cannot be
 * read. A name with '/' or starting with '.' is refused (RP_ERR_INVALID). */
rp_status rp__theme_load(const char *name, struct rp_theme *out /* OUT */, char **why /* OUT */);

/* Every theme name available (built-in and user), sorted, without
 * duplicates: *names is a malloc'd array of *n malloc'd strings; free with
 * rp__theme_names_free. */
void rp__theme_names(char ***names /* OUT */, size_t *n /* OUT */);
void rp__theme_names_free(char **names, size_t n);

/* The name after `current` in rp__theme_names order (wrapping); the first
 * name when current is unknown. Malloc'd. */
char *rp__theme_next(const char *current);

/* Curses attributes for every slot, from rp__theme_apply. */
struct rp_theme_attrs {
    int attr[RP_THEME_SLOT_COUNT];   /* attr_t values; int keeps curses out of this header */
};

/* Makes curses colour pairs for the theme and fills *out. With color
 * false (NO_COLOR, --no-color, a terminal without colours) only the
 * attributes are used, plus reverse for `selected`, so every slot stays
 * distinguishable in mono. Colours above what the terminal has are mapped
 * down (256 -> 8: nearest of the 8 basic colours). Keeps the terminal's
 * background for `default` (needs use_default_colors; without it,
 * default maps to black on white-on-black terminals). Uses pairs 1..SLOTS. */
void rp__theme_apply(const struct rp_theme *t, bool color, struct rp_theme_attrs *out /* OUT */);

#endif /* RP_TUI_THEME_H */
