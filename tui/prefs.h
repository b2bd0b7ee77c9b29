/*
 * prefs.h -- what the console remembers between runs: theme, sort,
 * filter, focused pane. A small `key = value` file,
 * $XDG_STATE_HOME/repartir/console.conf (else
 * ~/.local/state/repartir/console.conf), written atomically (temp file +
 * rename) when the console quits. A missing or damaged file gives the
 * defaults: preferences never stop the console from starting.
 */
#ifndef RP_TUI_PREFS_H
#define RP_TUI_PREFS_H

#include <stdbool.h>

struct rp_prefs {
    char theme[64];                 /* "" = default */
    char sort[16];                  /* "" = newest */
    char filter[128];
    char pane[16];                  /* "workers", "jobs", "detail"; "" = jobs */
};

/* $VAR/REST when the XDG variable VAR holds an absolute path, else
 * $HOME/HOME_DIR/REST (e.g. "XDG_CONFIG_HOME", ".config",
 * "repartir/themes"); malloc'd, or NULL when neither says where. A relative
 * XDG path is ignored, as the XDG spec asks. */
char *rp__xdg_path(const char *var, const char *home_dir, const char *rest);

/* The file's path (malloc'd), or NULL when neither XDG_STATE_HOME nor HOME
 * is set. */
char *rp__prefs_path(void);
/* Loads path into *out (zeroed first). Unknown keys and bad lines are
 * skipped. Returns false when the file could not be read (missing). */
bool rp__prefs_load(const char *path, struct rp_prefs *out /* OUT */);
/* Saves *p to path, creating its directory. Returns false on failure. */
bool rp__prefs_save(const char *path, const struct rp_prefs *p);

#endif /* RP_TUI_PREFS_H */
