/*
 * cli.h -- the repartir command line: one table of subcommands (cli/main.c)
 * and the helpers they share. Exit codes are the RP_EXIT_* values, listed
 * by `repartir help`.
 */
#ifndef RP_CLI_CLI_H
#define RP_CLI_CLI_H

#include <stdbool.h>

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

/* `repartir run [OPTIONS] -- BIN ARGS...` (cli/cmd_run.c). Its options'
 * help, generated from the same table the parser uses. */
int rp_cli_run(int argc, char **argv);
extern const char rp_cli_run_help[];

#endif /* RP_CLI_CLI_H */
