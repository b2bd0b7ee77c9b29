/*
 * prefs.c -- the console's remembered preferences (prefs.h).
 */
#include "tui/prefs.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/alloc.h"

struct field {
    const char *key;
    size_t offset, size;
};

static const struct field fields[] = {
    { "theme", offsetof(struct rp_prefs, theme), sizeof(((struct rp_prefs *)0)->theme) },
    { "sort", offsetof(struct rp_prefs, sort), sizeof(((struct rp_prefs *)0)->sort) },
    { "filter", offsetof(struct rp_prefs, filter), sizeof(((struct rp_prefs *)0)->filter) },
    { "pane", offsetof(struct rp_prefs, pane), sizeof(((struct rp_prefs *)0)->pane) },
};

char *
rp__xdg_path(const char *var, const char *home_dir, const char *rest)
{
    const char *xdg = getenv(var), *home = getenv("HOME");

    if (xdg != NULL && xdg[0] == '/')
        return rp__sprintf("%s/%s", xdg, rest);
    if (home != NULL && home[0] != '\0')
        return rp__sprintf("%s/%s/%s", home, home_dir, rest);
    return NULL;
}

char *
rp__prefs_path(void)
{
    return rp__xdg_path("XDG_STATE_HOME", ".local/state", "repartir/console.conf");
}

static char *
trim(char *s)
{
    size_t n;

    while (*s == ' ' || *s == '\t')
        s++;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

bool
rp__prefs_load(const char *path, struct rp_prefs *out)
{
    char line[512];
    FILE *f;

    memset(out, 0, sizeof *out);
    if (path == NULL || (f = fopen(path, "re")) == NULL)
        return false;
    while (fgets(line, sizeof line, f) != NULL) {
        char *eq = strchr(line, '='), *key, *value;
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] != '\n' && !feof(f)) {
            /* Longer than any value: damaged. Skip it whole. */
            int ch;
            while ((ch = getc(f)) != EOF && ch != '\n')
                ;
            continue;
        }
        if (line[0] == '#' || eq == NULL)
            continue;
        *eq = '\0';
        key = trim(line);
        value = trim(eq + 1);
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            if (strcmp(key, fields[i].key) == 0 && strlen(value) < fields[i].size)
                memcpy((char *)out + fields[i].offset, value, strlen(value) + 1);
    }
    fclose(f);
    return true;
}

/* mkdir -p of path's directory. */
static bool
make_parents(const char *path)
{
    char *dir = rp_xstrdup(path);
    bool ok = true;

    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            ok = false;
        *p = '/';
    }
    free(dir);
    return ok;
}

bool
rp__prefs_save(const char *path, const struct rp_prefs *p)
{
    char *tmp;
    FILE *f;
    bool ok;

    if (path == NULL || !make_parents(path))
        return false;
    tmp = rp__sprintf("%s.tmp.%ld", path, (long)getpid());
    if ((f = fopen(tmp, "we")) == NULL) {
        free(tmp);
        return false;
    }
    fprintf(f, "# repartir console preferences, written when it quits\n");
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = (const char *)p + fields[i].offset;
        /* A value cannot hold a line break: it would start a new key. */
        fprintf(f, "%s = ", fields[i].key);
        for (; *v; v++)
            if (*v != '\n' && *v != '\r')
                fputc(*v, f);
        fputc('\n', f);
    }
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok)
        unlink(tmp);
    free(tmp);
    return ok;
}
