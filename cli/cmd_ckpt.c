/*
 * cmd_ckpt.c -- `repartir ckpt ls|show|rm|gc`: the checkpoints of a store
 * (include/repartir/ckpt.h), listed, loaded and verified, removed, and
 * cleaned up. The helpers it shares with the other commands are in
 * cli/util.c.
 *
 * Design:
 *   - Everything typed is checked before the store is touched, so a bad
 *     command line changes nothing and exits RP_EXIT_USAGE.
 *   - rp_ckpt_open creates a missing store. So every subcommand first looks
 *     for DIR/store.db itself and stops with "no store at DIR" when there
 *     is none: reading (or removing from) a store that is not there must
 *     not leave an empty one behind.
 *   - Exit status: RP_EXIT_FAILED for what the store said (not found,
 *     damaged, I/O) and for no store at all; RP_EXIT_ERROR when a store is
 *     there but cannot be opened (permissions, not a repartir store, a
 *     newer schema). docs/cli.md lists them.
 *
 * THREADS: the main thread only.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <repartir.h>

#include "cli/cli.h"
#include "engine/alloc.h"


/*
 * The subcommands and the options, in the order help lists them. These
 * lists generate the dispatch, the parse table and the help text
 * (rp_cli_ckpt_help). SUB(id, name, function, usage, help); VALUE(id, name, arg,
 * subcommands, their names, help) takes a value, FLAG(id, name,
 * subcommands, their names, help) does not.
 */
#define CKPT_SUBCOMMANDS(SUB)                                                 \
    SUB(LS, "ls", ckpt_ls, "ls [KEY] [--json]",                                        \
        "list the checkpoints (of KEY, or of every key), newest first\n"      \
        "        within each key")                                            \
    SUB(SHOW, "show", ckpt_show, "show KEY [--iteration N] [--output FILE] [--json]",   \
        "load the newest intact checkpoint of KEY, verify it and describe\n"  \
        "        it; with --output, write its bytes")                         \
    SUB(RM, "rm", ckpt_rm, "rm KEY", "remove every checkpoint of KEY")                 \
    SUB(GC, "gc", ckpt_gc, "gc [--keep N] [--max-age D]",                              \
        "remove old checkpoints; a key never loses its newest one to\n"       \
        "        --max-age")

enum ckpt_sub_id {
#define CKPT_SUB_ID(id, name, fn, usage, help) CKPT_##id,
    CKPT_SUBCOMMANDS(CKPT_SUB_ID)
#undef CKPT_SUB_ID
    CKPT_SUB_COUNT
};

/* One bit per subcommand, so that the option table can say which take
 * which option. */
enum {
    SUB_LS = 1 << CKPT_LS,
    SUB_SHOW = 1 << CKPT_SHOW,
    SUB_RM = 1 << CKPT_RM,
    SUB_GC = 1 << CKPT_GC,
    SUB_ALL = SUB_LS | SUB_SHOW | SUB_RM | SUB_GC
};

#define CKPT_OPTIONS(VALUE, FLAG)                                             \
    FLAG(JSON, "json", SUB_LS | SUB_SHOW, "ls, show",                         \
         "print JSON instead of a table (docs/cli.md has the keys)")          \
    VALUE(ITERATION, "iteration", "N", SUB_SHOW, "show",                      \
          "iteration N instead of the newest (its newest intact version)")   \
    VALUE(OUTPUT, "output", "FILE", SUB_SHOW, "show",                         \
          "write the checkpoint's bytes to FILE ('-': stdout)")               \
    VALUE(KEEP, "keep", "N", SUB_GC, "gc",                                    \
          "keep the newest N checkpoints of each key (1-4294967295)")         \
    VALUE(MAX_AGE, "max-age", "D", SUB_GC, "gc",                              \
          "remove checkpoints older than D: 30s, 15m, 12h, 7d, or seconds")   \
    VALUE(STATE_DIR, "state-dir", "DIR", SUB_ALL, "all", RP_CLI_STATE_DIR_HELP)

enum ckpt_option_id {
#define CKPT_VALUE_ID(id, name, arg, subs, sub_names, help) CKPT_OPT_##id,
#define CKPT_FLAG_ID(id, name, subs, sub_names, help) CKPT_OPT_##id,
    CKPT_OPTIONS(CKPT_VALUE_ID, CKPT_FLAG_ID)
#undef CKPT_VALUE_ID
#undef CKPT_FLAG_ID
    CKPT_OPT_COUNT
};

static const char *const ckpt_sub_names[CKPT_SUB_COUNT] = {
#define CKPT_SUB_NAME(id, name, fn, usage, help) [CKPT_##id] = name,
    CKPT_SUBCOMMANDS(CKPT_SUB_NAME)
#undef CKPT_SUB_NAME
};

static const struct rp_cli_option ckpt_options[CKPT_OPT_COUNT] = {
#define CKPT_VALUE_ENTRY(id, nm, a, subs, sub_names, h) [CKPT_OPT_##id] = { "--" nm, a },
#define CKPT_FLAG_ENTRY(id, nm, subs, sub_names, h) [CKPT_OPT_##id] = { "--" nm, NULL },
    CKPT_OPTIONS(CKPT_VALUE_ENTRY, CKPT_FLAG_ENTRY)
#undef CKPT_VALUE_ENTRY
#undef CKPT_FLAG_ENTRY
};

/* Which subcommands take each option. */
static const unsigned ckpt_option_subs[CKPT_OPT_COUNT] = {
#define CKPT_VALUE_SUBS(id, nm, a, subs, sub_names, h) [CKPT_OPT_##id] = subs,
#define CKPT_FLAG_SUBS(id, nm, subs, sub_names, h) [CKPT_OPT_##id] = subs,
    CKPT_OPTIONS(CKPT_VALUE_SUBS, CKPT_FLAG_SUBS)
#undef CKPT_VALUE_SUBS
#undef CKPT_FLAG_SUBS
};

const char rp_cli_ckpt_help[] =
#define CKPT_VALUE_HELP(id, nm, a, subs, sub_names, h) \
    "  --" nm " " a "  (" sub_names ")\n        " h "\n"
#define CKPT_FLAG_HELP(id, nm, subs, sub_names, h) "  --" nm "  (" sub_names ")\n        " h "\n"
    CKPT_OPTIONS(CKPT_VALUE_HELP, CKPT_FLAG_HELP)
#undef CKPT_VALUE_HELP
#undef CKPT_FLAG_HELP
    "\nsubcommands:\n"
#define CKPT_SUB_HELP(id, name, fn, usage, h) "  " usage "\n        " h "\n"
    CKPT_SUBCOMMANDS(CKPT_SUB_HELP)
#undef CKPT_SUB_HELP
    "\n"
    "A KEY that starts with '-' goes after '--'. Nothing is created: without\n"
    "a store at DIR every subcommand says so and exits 1. Exit status: 0 on\n"
    "success; 1 when the store says no (no such key, no intact checkpoint,\n"
    "I/O error) or there is no store; 2 for a bad command line; 3 when the\n"
    "store is there but cannot be opened.\n";

/* What the command line asked for. Strings point into argv. */
struct ckpt_args {
    enum ckpt_sub_id sub;
    const char *key;            /* NULL: none given */
    bool json;
    bool has_iteration;
    uint64_t iteration;
    const char *output;         /* NULL: describe instead */
    unsigned keep;              /* 0: not asked */
    unsigned max_age_s;         /* 0: not asked */
    const char *state_dir;      /* NULL: the default */
    char command[16];           /* "ckpt ls", for messages */
};

static int ckpt_ls(rp_ckpt *s, const struct ckpt_args *a);
static int ckpt_show(rp_ckpt *s, const struct ckpt_args *a);
static int ckpt_rm(rp_ckpt *s, const struct ckpt_args *a);
static int ckpt_gc(rp_ckpt *s, const struct ckpt_args *a);

#define MAX_AGE_LIMIT ((unsigned long long)UINT_MAX)   /* rp_ckpt_cleanup's unsigned */

/* "30s", "15m", "12h", "7d" or plain seconds, more than 0, at most
 * UINT_MAX seconds (136 years). */
static bool
parse_duration(const char *what, const char *text, unsigned *seconds /* OUT */)
{
    static const struct {
        char unit;
        unsigned long long scale;
    } units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
    size_t digits = strspn(text, "0123456789");
    unsigned long long v = 0, scale = 1;
    bool unit_ok = text[digits] == '\0';

    for (size_t i = 0; i < sizeof units / sizeof units[0] && !unit_ok; i++) {
        if (text[digits] == units[i].unit && text[digits + 1] == '\0') {
            scale = units[i].scale;
            unit_ok = true;
        }
    }
    if (digits == 0 || !unit_ok) {
        rp_cli_error("%s: '%s' is not a duration (like 30s, 15m, 12h, 7d, or seconds)", what,
                     text);
        return false;
    }
    for (size_t i = 0; i < digits; i++) {
        v = v * 10 + (unsigned long long)(text[i] - '0');
        if (v > MAX_AGE_LIMIT)
            break;
    }
    if (v == 0 || v > MAX_AGE_LIMIT / scale) {
        rp_cli_error("%s: %s is out of range (more than 0, at most %llu seconds)", what, text,
                     MAX_AGE_LIMIT);
        return false;
    }
    *seconds = (unsigned)(v * scale);
    return true;
}

/* Keys are 1 to RP_CKPT_KEY_MAX bytes; the store would only say "invalid
 * argument". */
static bool
check_key(const char *command, const char *key)
{
    if (key[0] == '\0') {
        rp_cli_error("%s: KEY is empty", command);
        return false;
    }
    if (strlen(key) > RP_CKPT_KEY_MAX) {
        rp_cli_error("%s: KEY is longer than %d bytes", command, RP_CKPT_KEY_MAX);
        return false;
    }
    return true;
}

static bool
apply_option(struct ckpt_args *a, int id, const char *value)
{
    const char *name = ckpt_options[id].name;
    long n;

    if (!(ckpt_option_subs[id] & (1u << a->sub))) {
        rp_cli_error("%s: %s is not an option of '%s' (try 'repartir help ckpt')",
                     a->command, name, a->command);
        return false;
    }
    switch ((enum ckpt_option_id)id) {
    case CKPT_OPT_JSON:
        a->json = true;
        return true;
    case CKPT_OPT_ITERATION:
        if (!rp_cli_parse_int(name, value, 0, INT64_MAX, &n))
            return false;
        a->has_iteration = true;
        a->iteration = (uint64_t)n;
        return true;
    case CKPT_OPT_OUTPUT:
        if (value[0] == '\0') {
            rp_cli_error("%s: %s needs a file name, or '-' for stdout", a->command, name);
            return false;
        }
        a->output = value;
        return true;
    case CKPT_OPT_KEEP:
        if (!rp_cli_parse_int(name, value, 1, UINT_MAX, &n))
            return false;
        a->keep = (unsigned)n;
        return true;
    case CKPT_OPT_MAX_AGE:
        return parse_duration(name, value, &a->max_age_s);
    case CKPT_OPT_STATE_DIR:
        return rp_cli_state_dir_option(a->command, value, &a->state_dir);
    case CKPT_OPT_COUNT:
        break;
    }
    return false;
}

/* Fills *a from argv (argv[0] = "ckpt"). On error, says why on stderr and
 * returns false. */
static bool
parse_args(int argc, char **argv, struct ckpt_args *a /* OUT */)
{
    struct rp_cli_args args = { .options = ckpt_options, .n_options = CKPT_OPT_COUNT,
                                .argc = argc - 1, .argv = argv + 1 };
    const char *value;
    int id, n_operands = 0;

    *a = (struct ckpt_args){ .sub = CKPT_SUB_COUNT };
    if (argc < 2 || argv[1][0] == '-') {
        rp_cli_error("ckpt: which one: ls, show, rm or gc? (try 'repartir help ckpt')");
        return false;
    }
    for (int i = 0; i < CKPT_SUB_COUNT; i++)
        if (strcmp(argv[1], ckpt_sub_names[i]) == 0)
            a->sub = (enum ckpt_sub_id)i;
    if (a->sub == CKPT_SUB_COUNT) {
        char *shown = rp_cli_printable(argv[1], strlen(argv[1]));

        rp_cli_error("ckpt: no subcommand '%s': ls, show, rm or gc (try 'repartir help ckpt')",
                     shown);
        free(shown);
        return false;
    }
    snprintf(a->command, sizeof a->command, "ckpt %s", ckpt_sub_names[a->sub]);
    args.command = a->command;
    while ((id = rp_cli_args_next(&args, &value)) != RP_CLI_ARGS_END) {
        if (id == RP_CLI_ARGS_BAD)
            return false;
        if (id >= 0) {
            if (!apply_option(a, id, value))
                return false;
            continue;
        }
        if (++n_operands > 1 || a->sub == CKPT_GC) {
            char *shown = rp_cli_printable(value, strlen(value));

            rp_cli_error("%s: unexpected argument '%s' (try 'repartir help ckpt')", a->command,
                         shown);
            free(shown);
            return false;
        }
        if (!check_key(a->command, value))
            return false;
        a->key = value;
    }
    if ((a->sub == CKPT_SHOW || a->sub == CKPT_RM) && a->key == NULL) {
        rp_cli_error("%s: which KEY? (repartir %s)", a->command,
                     a->sub == CKPT_SHOW ? "ckpt show KEY [--output FILE]" : "ckpt rm KEY");
        return false;
    }
    if (a->sub == CKPT_GC && a->keep == 0 && a->max_age_s == 0) {
        rp_cli_error("ckpt gc: say what to remove: --keep N, --max-age D, or both");
        return false;
    }
    if (a->sub == CKPT_SHOW && a->json && a->output != NULL) {
        rp_cli_error("ckpt show: --json describes the checkpoint, --output writes it: "
                     "one or the other");
        return false;
    }
    return true;
}

/* ---- what the store holds ---- */

/* One checkpoint, copied out of the rp_ckpt_list callback. */
struct ckpt_row {
    rp_ckpt_info info;          /* key and codec point to the two below */
    char *key;
    char codec[24];
};

struct ckpt_rows {
    struct ckpt_row *rows;
    size_t n, cap;
};

static bool
collect_row(const rp_ckpt_info *info, void *ctx)
{
    struct ckpt_rows *r = ctx;
    struct ckpt_row *row;

    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->rows = rp_xrealloc(r->rows, r->cap * sizeof *r->rows);
    }
    row = &r->rows[r->n++];
    row->info = *info;          /* key and codec: list_rows points them here */
    row->key = rp_xstrdup(info->key);
    snprintf(row->codec, sizeof row->codec, "%s", info->codec);
    return true;
}

static void
rows_free(struct ckpt_rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->rows[i].key);
    free(r->rows);
}

/* The store's error: what it is, and the detail rp_ckpt_why has. */
static int
store_error(rp_ckpt *s, const char *command, const char *doing, rp_status status)
{
    char *why = rp_ckpt_why(s);

    if (why != NULL)
        rp_cli_error("%s: %s: %s (%s)", command, doing, rp_strerror(status), why);
    else
        rp_cli_error("%s: %s: %s", command, doing, rp_strerror(status));
    free(why);
    return RP_EXIT_FAILED;
}

static int
list_rows(rp_ckpt *s, const struct ckpt_args *a, struct ckpt_rows *out /* OUT */)
{
    rp_status status = rp_ckpt_list(s, a->key, collect_row, out);

    if (status != RP_OK)
        return store_error(s, a->command, "cannot list", status);
    /* Only now: the array moved while it grew. */
    for (size_t i = 0; i < out->n; i++) {
        out->rows[i].info.key = out->rows[i].key;
        out->rows[i].info.codec = out->rows[i].codec;
    }
    return RP_EXIT_OK;
}

/* ---- formatting ---- */

/* "512 B", "1.5 KiB", "4.0 MiB". */
static void
format_size(uint64_t bytes, char *buf, size_t size)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
    double v = (double)bytes;
    size_t u = 0;

    if (bytes < 1024) {
        snprintf(buf, size, "%llu B", (unsigned long long)bytes);
        return;
    }
    v /= 1024;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, "%.1f %s", v, units[u]);
}

/* "1.82x"; "-" when nothing is stored (an empty checkpoint). */
static void
format_ratio(const rp_ckpt_info *info, char *buf, size_t size)
{
    if (info->stored_size == 0)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.2fx", (double)info->raw_size / (double)info->stored_size);
}

/* Local time, "2024-05-01 12:34:56"; with iso, "2024-05-01T12:34:56.789+02:00". */
static void
format_time(int64_t ms, bool iso, char *buf, size_t size)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)t * 1000);
    struct tm tm;
    char zone[8];

    if (localtime_r(&t, &tm) == NULL) {
        snprintf(buf, size, "?");
        return;
    }
    if (!iso) {
        strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
        return;
    }
    strftime(zone, sizeof zone, "%z", &tm);            /* "+0200" */
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03d%.3s:%.2s", frac, zone, zone + 3);
}

static void
init_json(void)
{
    cJSON_Hooks hooks = { .malloc_fn = rp_xmalloc, .free_fn = free };

    /* cJSON then shares our out-of-memory policy and never returns NULL. */
    cJSON_InitHooks(&hooks);
}

/* A whole number, exactly: cJSON's numbers are doubles, which lose
 * iterations and sizes past 2^53. */
static void
add_integer(cJSON *o, const char *name, long long v)
{
    char text[24];

    snprintf(text, sizeof text, "%lld", v);
    cJSON_AddRawToObject(o, name, text);
}

/* The key as "key", or as "key_base64" when it is not UTF-8 text. */
static void
add_key(cJSON *o, const char *key)
{
    if (rp_cli_is_json_text(key, strlen(key))) {
        cJSON_AddStringToObject(o, "key", key);
    } else {
        char *b64 = rp_cli_base64(key, strlen(key));

        cJSON_AddStringToObject(o, "key_base64", b64);
        free(b64);
    }
}

static cJSON *
info_json(const rp_ckpt_info *info)
{
    cJSON *o = cJSON_CreateObject();
    char when[48];

    add_key(o, info->key);
    add_integer(o, "iteration", (long long)info->iteration);
    add_integer(o, "created_ms", info->created_ms);
    format_time(info->created_ms, true, when, sizeof when);
    cJSON_AddStringToObject(o, "saved_at", when);
    cJSON_AddStringToObject(o, "codec", info->codec);
    add_integer(o, "raw_size", (long long)info->raw_size);
    add_integer(o, "stored_size", (long long)info->stored_size);
    if (info->stored_size == 0)
        cJSON_AddNullToObject(o, "ratio");
    else
        /* Three decimals, so it prints as 1.582 and not 1.582403671176517. */
        cJSON_AddNumberToObject(o, "ratio",
                                round((double)info->raw_size / (double)info->stored_size *
                                      1000) / 1000);
    cJSON_AddStringToObject(o, "stored", info->inline_stored ? "inline" : "file");
    return o;
}

/* Prints o on one line and frees it. */
static void
print_json(cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);

    puts(text);
    cJSON_free(text);
    cJSON_Delete(o);
}

static int
finish_output(const char *command)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        rp_cli_error("%s: cannot write the output: %s", command, strerror(errno));
        return RP_EXIT_FAILED;
    }
    return RP_EXIT_OK;
}

/* ---- the subcommands ---- */

static int
ckpt_ls(rp_ckpt *s, const struct ckpt_args *a)
{
    static const char *const headers[] = { "KEY",   "ITERATION", "SAVED", "CODEC",
                                           "RAW",   "STORED",    "RATIO", "WHERE" };
    struct ckpt_rows r = { 0 };
    int rc = list_rows(s, a, &r);

    if (rc != RP_EXIT_OK)
        goto out;
    if (a->key != NULL && r.n == 0) {
        char *shown = rp_cli_printable(a->key, strlen(a->key));

        rp_cli_error("%s: no checkpoint of key '%s'", a->command, shown);
        free(shown);
        rc = RP_EXIT_FAILED;
        goto out;
    }
    if (a->json) {
        cJSON *array = cJSON_CreateArray();

        for (size_t i = 0; i < r.n; i++)
            cJSON_AddItemToArray(array, info_json(&r.rows[i].info));
        print_json(array);
    } else {
        rp_cli_table *t = rp_cli_table_new(8, headers);

        for (size_t i = 0; i < r.n; i++) {
            const rp_ckpt_info *info = &r.rows[i].info;
            char buf[64];

            rp_cli_table_add(t, info->key, strlen(info->key), false);
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)info->iteration);
            rp_cli_table_add(t, buf, strlen(buf), true);
            format_time(info->created_ms, false, buf, sizeof buf);
            rp_cli_table_add(t, buf, strlen(buf), false);
            rp_cli_table_add(t, info->codec, strlen(info->codec), false);
            format_size(info->raw_size, buf, sizeof buf);
            rp_cli_table_add(t, buf, strlen(buf), true);
            format_size(info->stored_size, buf, sizeof buf);
            rp_cli_table_add(t, buf, strlen(buf), true);
            format_ratio(info, buf, sizeof buf);
            rp_cli_table_add(t, buf, strlen(buf), true);
            rp_cli_table_add(t, info->inline_stored ? "inline" : "file",
                             info->inline_stored ? 6 : 4, false);
        }
        rp_cli_table_print(t, stdout);
        rp_cli_table_free(t);
    }
    rc = finish_output(a->command);
out:
    rows_free(&r);
    return rc;
}

/* Writes data to path ('-': stdout). On failure removes what it made of a
 * regular file, says why and returns false. */
static bool
write_file(const char *command, const char *path, const void *data, size_t len)
{
    bool to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "wb");
    bool ok;
    int err;

    if (f == NULL) {
        rp_cli_error("%s: cannot create %s: %s", command, path, strerror(errno));
        return false;
    }
    ok = len == 0 || fwrite(data, 1, len, f) == len;     /* data is NULL when len is 0 */
    ok = fflush(f) == 0 && ok && !ferror(f);
    err = errno;
    if (!to_stdout && fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        struct stat st;

        rp_cli_error("%s: cannot write %s: %s", command, to_stdout ? "to stdout" : path,
                     strerror(err));
        if (!to_stdout && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            unlink(path);
    }
    return ok;
}

/* The row rp_ckpt_load most likely returned: the newest of that iteration
 * and size (the API does not say which version it loaded). */
static const rp_ckpt_info *
find_loaded(const struct ckpt_rows *r, uint64_t iteration, size_t len)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->rows[i].info.iteration == iteration && r->rows[i].info.raw_size == len)
            return &r->rows[i].info;
    return NULL;
}

static void
print_summary(const struct ckpt_args *a, const rp_ckpt_info *info, const struct ckpt_rows *r,
              uint64_t iteration, size_t len, const char *skipped)
{
    char *key = rp_cli_printable(a->key, strlen(a->key));
    char size[32], stored[32], ratio[16], when[48];

    format_size(len, size, sizeof size);
    printf("key          %s\n", key);
    printf("iteration    %llu\n", (unsigned long long)iteration);
    printf("size         %s (%zu bytes)\n", size, len);
    if (info != NULL) {
        format_size(info->stored_size, stored, sizeof stored);
        format_ratio(info, ratio, sizeof ratio);
        format_time(info->created_ms, false, when, sizeof when);
        printf("stored       %s, %s, %s (%llu bytes)\n", info->inline_stored ? "inline" : "file",
               info->codec, stored, (unsigned long long)info->stored_size);
        printf("ratio        %s\n", ratio);
        printf("saved        %s\n", when);
    }
    printf("verified     yes: the SHA-256 of the stored bytes matches, and they decode\n");
    if (skipped != NULL) {
        char *shown = rp_cli_printable(skipped, strlen(skipped));

        printf("skipped      %s\n", shown);
        free(shown);
    }
    printf("checkpoints  %zu of this key\n", r->n);
    free(key);
}

static cJSON *
summary_json(const struct ckpt_args *a, const rp_ckpt_info *info, const struct ckpt_rows *r,
             uint64_t iteration, size_t len, const char *skipped)
{
    cJSON *o;

    if (info != NULL) {
        o = info_json(info);
    } else {
        o = cJSON_CreateObject();
        add_key(o, a->key);
        add_integer(o, "iteration", (long long)iteration);
        add_integer(o, "raw_size", (long long)len);
    }
    cJSON_AddBoolToObject(o, "verified", true);
    if (skipped == NULL) {
        cJSON_AddNullToObject(o, "skipped");
    } else {
        /* It names the key, which need not be UTF-8. */
        char *shown = rp_cli_printable(skipped, strlen(skipped));

        cJSON_AddStringToObject(o, "skipped", shown);
        free(shown);
    }
    add_integer(o, "checkpoints", (long long)r->n);
    return o;
}

static int
ckpt_show(rp_ckpt *s, const struct ckpt_args *a)
{
    struct ckpt_rows r = { 0 };
    char *key = rp_cli_printable(a->key, strlen(a->key)), *skipped = NULL;
    void *data = NULL;
    size_t len = 0;
    uint64_t iteration = 0;
    rp_status status;
    int rc = list_rows(s, a, &r);

    if (rc != RP_EXIT_OK)
        goto out;
    rc = RP_EXIT_FAILED;
    if (r.n == 0) {
        rp_cli_error("%s: no checkpoint of key '%s'", a->command, key);
        goto out;
    }
    if (a->has_iteration) {
        bool exists = false;

        for (size_t i = 0; i < r.n; i++)
            exists |= r.rows[i].info.iteration == a->iteration;
        if (!exists) {
            rp_cli_error("%s: key '%s' has no iteration %llu (the newest is %llu)", a->command,
                         key, (unsigned long long)a->iteration,
                         (unsigned long long)r.rows[0].info.iteration);
            goto out;
        }
        iteration = a->iteration;
        status = rp_ckpt_load_iteration(s, a->key, a->iteration, &data, &len);
    } else {
        status = rp_ckpt_load(s, a->key, &data, &len, &iteration);
    }
    if (status != RP_OK) {
        rc = store_error(s, a->command, "cannot load a checkpoint", status);
        goto out;
    }
    skipped = rp_ckpt_why(s);
    /* The summary says it on stdout; bytes on stdout leave only stderr. */
    if (skipped != NULL && a->output != NULL)
        rp_cli_error("%s: warning: %s", a->command, skipped);
    if (a->output != NULL) {
        if (!write_file(a->command, a->output, data, len))
            goto out;
        if (strcmp(a->output, "-") != 0)
            fprintf(stderr, "wrote iteration %llu of '%s' (%zu bytes) to %s\n",
                    (unsigned long long)iteration, key, len, a->output);
        rc = RP_EXIT_OK;
        goto out;
    }
    if (a->json)
        print_json(summary_json(a, find_loaded(&r, iteration, len), &r, iteration, len,
                                skipped));
    else
        print_summary(a, find_loaded(&r, iteration, len), &r, iteration, len, skipped);
    rc = finish_output(a->command);

out:
    free(data);
    free(skipped);
    free(key);
    rows_free(&r);
    return rc;
}

static int
ckpt_rm(rp_ckpt *s, const struct ckpt_args *a)
{
    char *key = rp_cli_printable(a->key, strlen(a->key));
    size_t removed = 0;
    rp_status status = rp_ckpt_delete(s, a->key, &removed);
    int rc = RP_EXIT_FAILED;

    if (status != RP_OK) {
        rc = store_error(s, a->command, "cannot remove", status);
    } else if (removed == 0) {
        rp_cli_error("%s: no checkpoint of key '%s'", a->command, key);
    } else {
        printf("removed %zu checkpoint%s of '%s'\n", removed, removed == 1 ? "" : "s", key);
        rc = finish_output(a->command);
    }
    free(key);
    return rc;
}

static int
ckpt_gc(rp_ckpt *s, const struct ckpt_args *a)
{
    size_t removed = 0;
    rp_status status = rp_ckpt_cleanup(s, a->keep, a->max_age_s, &removed);

    /* Whatever was removed before a failure stays removed: say so. */
    if (status != RP_OK) {
        if (removed > 0)
            printf("removed %zu checkpoint%s\n", removed, removed == 1 ? "" : "s");
        return store_error(s, a->command, "cannot clean up", status);
    }
    printf("removed %zu checkpoint%s\n", removed, removed == 1 ? "" : "s");
    return finish_output(a->command);
}

static int (*const ckpt_run[CKPT_SUB_COUNT])(rp_ckpt *, const struct ckpt_args *) = {
#define CKPT_SUB_RUN(id, name, fn, usage, help) [CKPT_##id] = fn,
    CKPT_SUBCOMMANDS(CKPT_SUB_RUN)
#undef CKPT_SUB_RUN
};

int
rp_cli_ckpt(int argc, char **argv)
{
    struct ckpt_args a;
    rp_ckpt *s = NULL;
    char *dir = NULL, *why = NULL;
    rp_status status;
    int rc = RP_EXIT_USAGE;

    if (!parse_args(argc, argv, &a))
        goto out;
    if ((dir = rp_cli_state_dir(a.state_dir)) == NULL)
        goto out;
    if ((rc = rp_cli_check_store(a.command, dir)) != RP_EXIT_OK)
        goto out;
    status = rp_ckpt_open_why(dir, &s, &why);
    if (status != RP_OK) {
        rp_cli_error("%s: cannot open the store at %s: %s", a.command, dir,
                     why != NULL ? why : rp_strerror(status));
        rc = RP_EXIT_ERROR;
        goto out;
    }
    init_json();
    rc = ckpt_run[a.sub](s, &a);

out:
    rp_ckpt_close(s);
    free(why);
    free(dir);
    return rc;
}
