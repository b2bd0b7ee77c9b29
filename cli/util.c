/*
 * util.c -- what the commands share (cli.h): the option walker, where the
 * store is, printable text, UTF-8 checks for JSON, base64, aligned tables.
 *
 * THREADS: the main thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "cli/cli.h"
#include "engine/alloc.h"


static const struct rp_cli_option *
find_option(const struct rp_cli_args *a, const char *text, size_t len)
{
    for (int i = 0; i < a->n_options; i++)
        if (strlen(a->options[i].name) == len &&
            strncmp(a->options[i].name, text, len) == 0)
            return &a->options[i];
    return NULL;
}

int
rp_cli_args_next(struct rp_cli_args *a, const char **value)
{
    const struct rp_cli_option *o;
    const char *arg, *eq;

    *value = NULL;
    if (a->next < 1)
        a->next = 1;
    if (a->next >= a->argc)
        return RP_CLI_ARGS_END;
    arg = a->argv[a->next++];
    if (!a->operands_only && strcmp(arg, "--") == 0) {
        a->operands_only = true;
        return rp_cli_args_next(a, value);
    }
    if (a->operands_only || arg[0] != '-' || strcmp(arg, "-") == 0) {
        *value = arg;
        return RP_CLI_ARGS_OPERAND;
    }
    eq = strchr(arg, '=');
    o = find_option(a, arg, eq != NULL ? (size_t)(eq - arg) : strlen(arg));
    if (o == NULL) {
        char *shown = rp_cli_printable(arg, eq != NULL ? (size_t)(eq - arg) : strlen(arg));

        rp_cli_error("%s: unknown option '%s' (try 'repartir help %.*s')", a->command, shown,
                     (int)strcspn(a->command, " "), a->command);
        free(shown);
        return RP_CLI_ARGS_BAD;
    }
    if (o->arg == NULL) {
        if (eq != NULL) {
            rp_cli_error("%s: %s takes no value", a->command, o->name);
            return RP_CLI_ARGS_BAD;
        }
    } else if (eq != NULL) {
        *value = eq + 1;
    } else if (o->value_optional) {
        /* "--checkpoint -- cmd": the next argument is never its value. */
        *value = NULL;
    } else if (a->next < a->argc && strncmp(a->argv[a->next], "--", 2) != 0) {
        /* "--output --json" is a forgotten value, not a file named
         * "--json"; "--output=--json" says it is meant. */
        *value = a->argv[a->next++];
    } else {
        rp_cli_error("%s: %s needs a value (%s %s)", a->command, o->name, o->name, o->arg);
        return RP_CLI_ARGS_BAD;
    }
    return (int)(o - a->options);
}

/* "a" + "/" + "b", malloc'd. */
static char *
join_path(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = rp_xmalloc(la + 1 + lb + 1);

    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

char *
rp_cli_state_dir(const char *dir)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char *base, *out;

    if (dir != NULL)
        return rp_xstrdup(dir);
    /* XDG Base Directory spec: a relative path there is invalid and to be
     * ignored, like an empty one. */
    if (xdg != NULL && xdg[0] == '/')
        return join_path(xdg, "repartir");
    if (home == NULL || home[0] == '\0') {
        rp_cli_error("neither XDG_STATE_HOME nor HOME is set: say where the store is "
                     "with --state-dir DIR");
        return NULL;
    }
    base = join_path(home, ".local/state");
    out = join_path(base, "repartir");
    free(base);
    return out;
}

bool
rp_cli_state_dir_option(const char *command, const char *value, const char **out)
{
    if (value[0] == '\0') {
        rp_cli_error("%s: --state-dir needs a directory", command);
        return false;
    }
    *out = value;
    return true;
}

int
rp_cli_check_store(const char *command, const char *dir)
{
    struct stat st;
    char *db;
    int rc = RP_EXIT_OK;

    if (stat(dir, &st) != 0) {
        if (errno != ENOENT && errno != ENOTDIR) {
            rp_cli_error("%s: cannot look at %s: %s", command, dir, strerror(errno));
            return RP_EXIT_ERROR;
        }
        rp_cli_error("%s: no store at %s (no such directory)", command, dir);
        return RP_EXIT_FAILED;
    }
    if (!S_ISDIR(st.st_mode)) {
        rp_cli_error("%s: no store at %s (not a directory)", command, dir);
        return RP_EXIT_FAILED;
    }
    db = join_path(dir, "store.db");
    int err = stat(db, &st) == 0 ? 0 : errno;
    if (err != 0 && err != ENOENT) {
        rp_cli_error("%s: cannot look at %s: %s", command, db, strerror(err));
        rc = RP_EXIT_ERROR;
    } else if (err == ENOENT || !S_ISREG(st.st_mode)) {
        rp_cli_error("%s: no store at %s (it has no store.db)", command, dir);
        rc = RP_EXIT_FAILED;
    }
    free(db);
    return rc;
}

/* Length of the well-formed UTF-8 character (RFC 3629: no overlong forms,
 * no surrogates, nothing past U+10FFFF) at s[0..len), or 0 if there is
 * none there. NUL is not one. */
static size_t
utf8_char(const unsigned char *s, size_t len)
{
    unsigned c = s[0], cp, min;
    size_t n;

    if (c == 0)
        return 0;
    if (c < 0x80)
        return 1;
    /* The lead byte gives the length, its first bits and the least code
     * point that needs that length (below it: overlong). */
    if ((c & 0xE0) == 0xC0) {
        n = 1;
        cp = c & 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 2;
        cp = c & 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 3;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len <= n)
        return 0;
    for (size_t k = 1; k <= n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n + 1;
}

bool
rp_cli_is_json_text(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;

    for (size_t i = 0, n; i < len; i += n)
        if ((n = utf8_char(u + i, len - i)) == 0)
            return false;
    return true;
}

char *
rp_cli_printable(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    char *out = rp_xmalloc(4 * len + 1), *o = out;

    for (size_t i = 0; i < len;) {
        size_t n = utf8_char(u + i, len - i);

        if (n == 0 || (n == 1 && (u[i] < 0x20 || u[i] == 0x7F))) {
            o += sprintf(o, "\\x%02X", u[i]);
            i++;
        } else {
            memcpy(o, u + i, n);
            o += n;
            i += n;
        }
    }
    *o = '\0';
    return out;
}

char *
rp_cli_base64(const void *s, size_t len)
{
    /* EVP_EncodeBlock takes an int: whole groups of 3 bytes at a time. */
    const size_t piece = (size_t)3 << 20;
    const unsigned char *in = s;
    char *out = rp_xmalloc((len + 2) / 3 * 4 + 1), *o = out;

    *o = '\0';
    for (size_t done = 0; done < len;) {
        size_t n = len - done < piece ? len - done : piece;

        o += EVP_EncodeBlock((unsigned char *)o, in + done, (int)n);
        done += n;
    }
    return out;
}

struct rp_cli_table {
    int n_columns;
    char **cells;               /* row-major; the headers are row 0 */
    bool *right;
    size_t n_cells, cap;
};

rp_cli_table *
rp_cli_table_new(int n_columns, const char *const *headers)
{
    rp_cli_table *t = rp_xcalloc(1, sizeof *t);

    t->n_columns = n_columns;
    for (int i = 0; i < n_columns; i++)
        rp_cli_table_add(t, headers[i], strlen(headers[i]), false);
    return t;
}

void
rp_cli_table_add(rp_cli_table *t, const char *text, size_t len, bool right)
{
    if (t->n_cells == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->cells = rp_xrealloc(t->cells, t->cap * sizeof *t->cells);
        t->right = rp_xrealloc(t->right, t->cap * sizeof *t->right);
    }
    t->cells[t->n_cells] = rp_cli_printable(text, len);
    t->right[t->n_cells++] = right;
}

/* Columns a printable string takes: one per character (wide CJK
 * characters are counted as one, which only misaligns them). */
static size_t
display_width(const char *s)
{
    size_t w = 0;

    for (; *s != '\0'; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

void
rp_cli_table_print(const rp_cli_table *t, FILE *to)
{
    size_t *width = rp_xcalloc((size_t)t->n_columns, sizeof *width);
    int cols = t->n_columns;

    for (size_t i = 0; i < t->n_cells; i++) {
        size_t w = display_width(t->cells[i]);

        if (w > width[i % cols])
            width[i % cols] = w;
    }
    for (size_t i = 0; i < t->n_cells; i++) {
        int col = (int)(i % cols);
        size_t pad = width[col] - display_width(t->cells[i]);
        bool last = col == cols - 1;

        if (t->right[i])
            fprintf(to, "%*s", (int)pad, "");
        fputs(t->cells[i], to);
        if (!t->right[i] && !last)
            fprintf(to, "%*s", (int)pad, "");
        fputs(last ? "\n" : "  ", to);
    }
    free(width);
}

void
rp_cli_table_free(rp_cli_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n_cells; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->right);
    free(t);
}

