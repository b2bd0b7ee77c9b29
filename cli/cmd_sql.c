/*
 * cmd_sql.c -- `repartir sql [--json] STATEMENT`: runs one SQL statement on
 * a store's index (DIR/store.db, schema in docs/store.md) and prints the
 * rows as a table or as JSON.
 *
 * Design: reading only, enforced three times over, so that no statement
 * can change a store a running job relies on:
 *   - the database is opened SQLITE_OPEN_READONLY, and never created (the
 *     store must exist first: rp_cli_check_store);
 *   - PRAGMA query_only = 1, which also covers the connection's own temp
 *     database;
 *   - a statement SQLite does not call read-only (sqlite3_stmt_readonly)
 *     is refused before it runs. This one matters on its own: `VACUUM INTO
 *     'file'` creates its file when it starts, before the read-only
 *     connection makes it fail. ATTACH and DETACH are refused too
 *     (authorizer): only the store is to be read.
 * Rows are all read before anything is printed, so an error halfway never
 * leaves half a table or half a JSON document.
 *
 * Exit status: 2 for a bad statement (syntax, no such column, a write, a
 * run-time error such as integer overflow), 1 when the store fails to
 * answer (busy, I/O error, damaged), 3 when it cannot be opened.
 *
 * THREADS: the main thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <repartir.h>
#include <sqlite3.h>

#include "cli/cli.h"
#include "engine/alloc.h"

#define APPLICATION_ID 0x72707274       /* "rprt": docs/store.md */
/* A writer holds the lock for the length of one save; wait that long. */
#define BUSY_TIMEOUT_MS 10000

/*
 * The options, in the order help lists them; one list generates the parse
 * table and the help text (rp_cli_sql_help). VALUE(id, name, arg, help)
 * takes a value, FLAG(id, name, help) does not.
 */
#define SQL_OPTIONS(VALUE, FLAG)                                              \
    FLAG(JSON, "json",                                                        \
         "print a JSON array with one object per row instead of a table")     \
    VALUE(STATE_DIR, "state-dir", "DIR", RP_CLI_STATE_DIR_HELP)

enum sql_option_id {
#define SQL_VALUE_ID(id, name, arg, help) SQL_OPT_##id,
#define SQL_FLAG_ID(id, name, help) SQL_OPT_##id,
    SQL_OPTIONS(SQL_VALUE_ID, SQL_FLAG_ID)
#undef SQL_VALUE_ID
#undef SQL_FLAG_ID
    SQL_OPT_COUNT
};

static const struct rp_cli_option sql_options[SQL_OPT_COUNT] = {
#define SQL_VALUE_ENTRY(id, nm, a, h) [SQL_OPT_##id] = { "--" nm, a },
#define SQL_FLAG_ENTRY(id, nm, h) [SQL_OPT_##id] = { "--" nm, NULL },
    SQL_OPTIONS(SQL_VALUE_ENTRY, SQL_FLAG_ENTRY)
#undef SQL_VALUE_ENTRY
#undef SQL_FLAG_ENTRY
};

const char rp_cli_sql_help[] =
#define SQL_VALUE_HELP(id, name, arg, help) "  --" name " " arg "\n        " help "\n"
#define SQL_FLAG_HELP(id, name, help) "  --" name "\n        " help "\n"
    SQL_OPTIONS(SQL_VALUE_HELP, SQL_FLAG_HELP)
#undef SQL_VALUE_HELP
#undef SQL_FLAG_HELP
    "\n"
    "STATEMENT is one SQL statement, read-only: anything that would write\n"
    "is refused. The tables are in docs/store.md (checkpoints, kv). In the\n"
    "table, NULL shows as NULL and a blob as <N bytes>; in JSON, integers\n"
    "are exact, and blobs, and text that is not UTF-8, are base64 strings.\n"
    "Exit status: 0 on success; 1 when there is no store or it fails to\n"
    "answer; 2 for a bad command line or a bad or writing statement; 3 when\n"
    "the store cannot be opened.\n";

/* What the command line asked for. Strings point into argv. */
struct sql_args {
    const char *statement;
    bool json;
    const char *state_dir;      /* NULL: the default */
};

static bool
parse_args(int argc, char **argv, struct sql_args *a /* OUT */)
{
    struct rp_cli_args args = { .command = "sql", .options = sql_options,
                                .n_options = SQL_OPT_COUNT, .argc = argc, .argv = argv };
    const char *value;
    int id;

    *a = (struct sql_args){ 0 };
    while ((id = rp_cli_args_next(&args, &value)) != RP_CLI_ARGS_END) {
        switch (id) {
        case RP_CLI_ARGS_BAD:
            return false;
        case RP_CLI_ARGS_OPERAND:
            if (a->statement != NULL) {
                rp_cli_error("sql: one STATEMENT, in one argument (quote it)");
                return false;
            }
            a->statement = value;
            break;
        case SQL_OPT_JSON:
            a->json = true;
            break;
        case SQL_OPT_STATE_DIR:
            if (!rp_cli_state_dir_option("sql", value, &a->state_dir))
                return false;
            break;
        default:
            return false;
        }
    }
    if (a->statement == NULL) {
        rp_cli_error("sql: no STATEMENT (repartir sql \"SELECT ...\")");
        return false;
    }
    return true;
}

/* ---- the database ---- */

/* Errors of the store itself, as opposed to errors of the statement. */
static int
exit_status_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
        return RP_EXIT_FAILED;
    default:
        return RP_EXIT_USAGE;
    }
}

/* Set when the authorizer refused something, for a clearer message than
 * SQLite's "not authorized". */
struct refusal {
    const char *why;
};

static int
authorize(void *ctx, int action, const char *arg1, const char *arg2, const char *db,
          const char *trigger)
{
    struct refusal *r = ctx;

    (void)arg1;
    (void)arg2;
    (void)db;
    (void)trigger;
    if (action == SQLITE_ATTACH || action == SQLITE_DETACH) {
        r->why = "ATTACH and DETACH are refused: only the store's index can be read";
        return SQLITE_DENY;
    }
    return SQLITE_OK;
}

/* Opens DIR/store.db read-only and checks that it is a store. Returns
 * RP_EXIT_OK, or RP_EXIT_ERROR after saying why. */
static int
open_store(const char *dir, struct refusal *refusal, sqlite3 **out /* OUT */)
{
    /* "./" keeps a relative DIR that starts "file:" from being read as a
     * URI, where SQLite is built to accept them. */
    const char *prefix = dir[0] == '/' ? "" : "./";
    size_t size = strlen(prefix) + strlen(dir) + sizeof "/store.db";
    char *path = rp_xmalloc(size);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc, app = 0, status = RP_EXIT_ERROR;

    snprintf(path, size, "%s%s/store.db", prefix, dir);
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        rp_cli_error("sql: cannot open %s: %s", path + strlen(prefix),
                     db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto out;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    if (sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "PRAGMA application_id", -1, &st, NULL) != SQLITE_OK ||
        (rc = sqlite3_step(st)) != SQLITE_ROW) {
        rp_cli_error("sql: cannot read %s: %s", path + strlen(prefix), sqlite3_errmsg(db));
        goto out;
    }
    app = sqlite3_column_int(st, 0);
    if (app != APPLICATION_ID) {
        rp_cli_error("sql: %s is not a repartir store", path + strlen(prefix));
        goto out;
    }
    sqlite3_set_authorizer(db, authorize, refusal);
    *out = db;
    db = NULL;
    status = RP_EXIT_OK;

out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(path);
    return status;
}

/* Prepares the one statement in text. Returns RP_EXIT_OK, or an exit
 * status after saying why: a syntax error, an empty statement, a second
 * statement, or one that writes. */
static int
prepare_one(sqlite3 *db, const char *text, const struct refusal *refusal,
            sqlite3_stmt **out /* OUT */)
{
    sqlite3_stmt *st = NULL, *more = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(db, text, -1, &st, &tail);

    *out = NULL;
    if (rc != SQLITE_OK) {
        rp_cli_error("sql: %s", refusal->why != NULL ? refusal->why : sqlite3_errmsg(db));
        return refusal->why != NULL ? RP_EXIT_USAGE : exit_status_of(rc);
    }
    if (st == NULL) {
        rp_cli_error("sql: the statement is empty");
        return RP_EXIT_USAGE;
    }
    /* Whatever follows must be blanks, comments and semicolons. */
    rc = sqlite3_prepare_v2(db, tail, -1, &more, NULL);
    sqlite3_finalize(more);
    if (rc != SQLITE_OK || more != NULL) {
        rp_cli_error("sql: one statement at a time: more follows the first one");
        sqlite3_finalize(st);
        return RP_EXIT_USAGE;
    }
    if (!sqlite3_stmt_readonly(st)) {
        rp_cli_error("sql: refused: this statement would write, and 'repartir sql' only "
                     "reads (to remove checkpoints, see 'repartir help ckpt')");
        sqlite3_finalize(st);
        return RP_EXIT_USAGE;
    }
    *out = st;
    return RP_EXIT_OK;
}

/* ---- the rows ---- */

static cJSON *
value_json(sqlite3_stmt *st, int col)
{
    int type = sqlite3_column_type(st, col);
    const void *bytes;
    int len;

    switch (type) {
    case SQLITE_NULL:
        return cJSON_CreateNull();
    case SQLITE_INTEGER:
        /* Exact: cJSON's numbers are doubles, which stop at 2^53. */
        return cJSON_CreateRaw((const char *)sqlite3_column_text(st, col));
    case SQLITE_FLOAT:
        return cJSON_CreateNumber(sqlite3_column_double(st, col));
    case SQLITE_TEXT:
        bytes = sqlite3_column_text(st, col);
        len = sqlite3_column_bytes(st, col);
        if (rp_cli_is_json_text(bytes, (size_t)len))
            return cJSON_CreateString(bytes);
        break;
    default:
        bytes = sqlite3_column_blob(st, col);
        len = sqlite3_column_bytes(st, col);
        break;
    }
    char *b64 = rp_cli_base64(bytes, (size_t)len);
    cJSON *v = cJSON_CreateString(b64);
    free(b64);
    return v;
}

static void
add_cell(rp_cli_table *t, sqlite3_stmt *st, int col)
{
    int type = sqlite3_column_type(st, col);
    const char *text;
    char buf[40];

    switch (type) {
    case SQLITE_NULL:
        rp_cli_table_add(t, "NULL", 4, false);
        break;
    case SQLITE_INTEGER:
    case SQLITE_FLOAT:
        text = (const char *)sqlite3_column_text(st, col);
        rp_cli_table_add(t, text, strlen(text), true);
        break;
    case SQLITE_TEXT:
        text = (const char *)sqlite3_column_text(st, col);
        rp_cli_table_add(t, text, (size_t)sqlite3_column_bytes(st, col), false);
        break;
    default:
        snprintf(buf, sizeof buf, "<%d bytes>", sqlite3_column_bytes(st, col));
        rp_cli_table_add(t, buf, strlen(buf), true);
        break;
    }
}

/* Steps through st and prints its rows. Returns the exit status. */
static int
print_rows(sqlite3 *db, sqlite3_stmt *st, bool json)
{
    int n = sqlite3_column_count(st), rc;
    const char **headers = rp_xcalloc((size_t)n + 1, sizeof *headers);
    char **names = rp_xcalloc((size_t)n + 1, sizeof *names);
    rp_cli_table *table = NULL;
    cJSON *array = NULL;
    int status = RP_EXIT_OK;

    for (int i = 0; i < n; i++) {
        const char *name = sqlite3_column_name(st, i);

        if (name == NULL)
            name = "";
        /* Names come from the statement's text, which need not be UTF-8. */
        names[i] = rp_cli_printable(name, strlen(name));
        headers[i] = names[i];
    }
    if (json)
        array = cJSON_CreateArray();
    else if (n > 0)
        table = rp_cli_table_new(n, headers);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *row = json ? cJSON_CreateObject() : NULL;

        for (int i = 0; i < n; i++) {
            if (json)
                cJSON_AddItemToObject(row, names[i], value_json(st, i));
            else
                add_cell(table, st, i);
        }
        if (json)
            cJSON_AddItemToArray(array, row);
    }
    if (rc != SQLITE_DONE) {
        rp_cli_error("sql: %s", sqlite3_errmsg(db));
        status = exit_status_of(rc);
        goto out;
    }
    if (json) {
        char *text = cJSON_PrintUnformatted(array);

        puts(text);
        cJSON_free(text);
    } else if (table != NULL) {
        rp_cli_table_print(table, stdout);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        rp_cli_error("sql: cannot write the output");
        status = RP_EXIT_FAILED;
    }

out:
    cJSON_Delete(array);
    rp_cli_table_free(table);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(headers);
    return status;
}

int
rp_cli_sql(int argc, char **argv)
{
    cJSON_Hooks hooks = { .malloc_fn = rp_xmalloc, .free_fn = free };
    struct refusal refusal = { NULL };
    struct sql_args a;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *dir = NULL;
    int rc = RP_EXIT_USAGE;

    if (!parse_args(argc, argv, &a))
        goto out;
    if ((dir = rp_cli_state_dir(a.state_dir)) == NULL)
        goto out;
    if ((rc = rp_cli_check_store("sql", dir)) != RP_EXIT_OK)
        goto out;
    if ((rc = open_store(dir, &refusal, &db)) != RP_EXIT_OK)
        goto out;
    if ((rc = prepare_one(db, a.statement, &refusal, &st)) != RP_EXIT_OK)
        goto out;
    /* cJSON then shares our out-of-memory policy and never returns NULL. */
    cJSON_InitHooks(&hooks);
    rc = print_rows(db, st, a.json);

out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(dir);
    return rc;
}
