/*
 * cli.h -- the repartir command line: one table of subcommands (cli/main.c)
 * and the helpers they share. Exit codes are the RP_EXIT_* values, listed
 * by `repartir help`.
 */
#ifndef RP_CLI_CLI_H
#define RP_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum {
    RP_EXIT_OK = 0,          /* everything asked for succeeded */
    RP_EXIT_FAILED = 1,      /* the work ran but some of it failed */
    RP_EXIT_USAGE = 2,       /* bad command line: nothing was run */
    RP_EXIT_ERROR = 3        /* the engine could not start or stopped */
};

struct rp_cli_command {
    const char *name;
    int (*run)(int argc, char **argv);      /* argv[0] is the command name */
    const char *usage;                      /* after "repartir " */
    const char *summary;                    /* one line */
    const char *help;                       /* the options, one per line */
};

/* Parses a whole decimal integer in [min, max] from text. On failure writes
 * a message naming `what` to stderr and returns false. */
bool rp_cli_parse_int(const char *what, const char *text, long min, long max,
                      long *out /* OUT */);
/* "repartir: <message>" on stderr, printf-style. */
void rp_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int rp_cli_demo(int argc, char **argv);

/* `repartir console [OPTIONS]` (cli/cmd_console.c): the live console on an
 * embedded engine; `repartir` alone on a terminal opens it too. */
int rp_cli_console(int argc, char **argv);
extern const char rp_cli_console_help[];

/* `repartir run [OPTIONS] -- BIN ARGS...` (cli/cmd_run.c). Its options'
 * help, generated from the same table the parser uses. */
int rp_cli_run(int argc, char **argv);
extern const char rp_cli_run_help[];

/* `repartir ckpt ls|show|rm|gc ...` (cli/cmd_ckpt.c) and `repartir sql
 * STATEMENT` (cli/cmd_sql.c), and their help, generated from their tables. */
int rp_cli_ckpt(int argc, char **argv);
extern const char rp_cli_ckpt_help[];
int rp_cli_sql(int argc, char **argv);
extern const char rp_cli_sql_help[];

/* `repartir restore ID` (cli/cmd_restore.c) and `repartir resume`
 * (cli/cmd_resume.c): a durable pool's tasks, run again from their last
 * checkpoint, and what a stopped pool left unfinished, run to the end. */
int rp_cli_restore(int argc, char **argv);
extern const char rp_cli_restore_help[];
int rp_cli_resume(int argc, char **argv);
extern const char rp_cli_resume_help[];

/* ---- shared by the commands; defined in cli/util.c ---- */

/* Help of --state-dir, the same for every store command. */
#define RP_CLI_STATE_DIR_HELP                                                 \
    "the store's directory (default: $XDG_STATE_HOME/repartir, or\n"          \
    "        $HOME/.local/state/repartir when XDG_STATE_HOME is unset)"

/* One entry of a command's option table. */
struct rp_cli_option {
    const char *name;           /* "--keep" */
    const char *arg;            /* what help calls its value ("N"); NULL: a flag */
    bool value_optional;        /* the value, if any, only after '=' ("--checkpoint=MS") */
};

/* What rp_cli_args_next found besides an option (an index >= 0). */
enum {
    RP_CLI_ARGS_END = -1,       /* no arguments left */
    RP_CLI_ARGS_BAD = -2,       /* said why on stderr: exit RP_EXIT_USAGE */
    RP_CLI_ARGS_OPERAND = -3    /* an argument that is not an option */
};

/* Walks argv[1..argc): options ("--name VALUE", "--name=VALUE", "--flag")
 * and operands, in any order; after "--" everything is an operand, and so
 * is "-" alone. */
struct rp_cli_args {
    /* public */
    const char *command;        /* for messages: "ckpt show" */
    const struct rp_cli_option *options;
    int n_options;
    int argc;
    char **argv;
    /* read-only */
    int next;                   /* index of the next argument; 0 before the first call */
    bool operands_only;         /* "--" was seen */
};

/* The next argument: the index in a->options of an option, with its value
 * (NULL for a flag, and for an optional value not given) in *value;
 * RP_CLI_ARGS_OPERAND with the operand in *value; RP_CLI_ARGS_END; or
 * RP_CLI_ARGS_BAD after saying why on stderr (an unknown option, a missing
 * value, a value given to a flag). *value points into argv. */
int rp_cli_args_next(struct rp_cli_args *a, const char **value /* OUT */);

/* The store's directory: `dir` (--state-dir) if not NULL, else
 * $XDG_STATE_HOME/repartir, else $HOME/.local/state/repartir (an unset,
 * empty or relative XDG_STATE_HOME is ignored, as the XDG spec says).
 * malloc'd; NULL after saying why on stderr (no HOME either). */
char *rp_cli_state_dir(const char *dir);
/* The value of a --state-dir option: *out = value, or an error naming
 * command if it is empty. */
bool rp_cli_state_dir_option(const char *command, const char *value, const char **out);

/* Whether dir holds a store: a directory with a store.db, looked at
 * without creating anything. RP_EXIT_OK; RP_EXIT_FAILED after saying "no
 * store at DIR"; RP_EXIT_ERROR when dir cannot be looked at (permissions). */
int rp_cli_check_store(const char *command, const char *dir);

/* A copy of s[0..len) fit for a terminal: control bytes, NUL and bytes
 * that are not well-formed UTF-8 become \xNN. malloc'd. */
char *rp_cli_printable(const char *s, size_t len);

/* Whether s[0..len) is well-formed UTF-8 without NUL bytes: what a cJSON
 * string can carry. */
bool rp_cli_is_json_text(const char *s, size_t len);

/* Standard base64 (RFC 4648, padded) of s[0..len), NUL-terminated; free(). */
char *rp_cli_base64(const void *s, size_t len);

/* A table for people: cells added row by row, columns padded to their
 * widest cell, numbers aligned right. */
typedef struct rp_cli_table rp_cli_table;
rp_cli_table *rp_cli_table_new(int n_columns, const char *const *headers);
/* Appends the next cell (made printable), left-aligned or right-aligned. */
void rp_cli_table_add(rp_cli_table *t, const char *text, size_t len, bool right);
void rp_cli_table_print(const rp_cli_table *t, FILE *to);
void rp_cli_table_free(rp_cli_table *t);

#endif /* RP_CLI_CLI_H */
