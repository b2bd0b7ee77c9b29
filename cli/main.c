/*
 * main.c -- entry point of build/repartir: dispatches to the subcommand
 * table below. `help` and the usage lines are generated from that table.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <repartir.h>

#include "cli/cli.h"
#include "engine/alloc.h"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct rp_cli_command commands[] = {
    {
        .name = "demo",
        .run = rp_cli_demo,
        .usage = "demo [--workers N]",
        .summary = "run a short tour of the engine and print what it did",
        .help = "  --workers N   worker threads (1-1024; default: one per CPU)\n",
    },
    {
        .name = "run",
        .run = rp_cli_run,
        .usage = "run [OPTIONS] -- BIN ARGS...",
        .summary = "run a command as a job of N shards and pass their output through",
        .help = rp_cli_run_help,
    },
    {
        .name = "restore",
        .run = rp_cli_restore,
        .usage = "restore ID [--no-wait]",
        .summary = "run an ended task of the store again, from its last checkpoint",
        .help = rp_cli_restore_help,
    },
    {
        .name = "console",
        .run = rp_cli_console,
        .usage = "console [OPTIONS]",
        .summary = "the live console on an embedded engine (also: repartir alone)",
        .help = rp_cli_console_help,
    },
    {
        .name = "resume",
        .run = rp_cli_resume,
        .usage = "resume",
        .summary = "finish the tasks a stopped or crashed run left in the store",
        .help = rp_cli_resume_help,
    },
    {
        .name = "ckpt",
        .run = rp_cli_ckpt,
        .usage = "ckpt ls|show|rm|gc ...",
        .summary = "list, verify, extract and remove the checkpoints of a store",
        .help = rp_cli_ckpt_help,
    },
    {
        .name = "sql",
        .run = rp_cli_sql,
        .usage = "sql [--json] STATEMENT",
        .summary = "run one read-only SQL statement on a store's index",
        .help = rp_cli_sql_help,
    },
    {
        .name = "help",
        .run = cmd_help,
        .usage = "help [COMMAND]",
        .summary = "show the commands, or one command's options",
        .help = "",
    },
    {
        .name = "version",
        .run = cmd_version,
        .usage = "version",
        .summary = "print the version",
        .help = "",
    },
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const struct rp_cli_command *
find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

void
rp_cli_error(const char *fmt, ...)
{
    va_list ap;

    fputs("repartir: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

bool
rp_cli_parse_int(const char *what, const char *text, long min, long max, long *out)
{
    char *end;
    long v;

    if (text == NULL || *text == '\0') {
        rp_cli_error("%s needs a number", what);
        return false;
    }
    errno = 0;
    v = strtol(text, &end, 10);
    if (*end != '\0' || end == text) {
        rp_cli_error("%s: '%s' is not a whole number", what, text);
        return false;
    }
    if (errno == ERANGE || v < min || v > max) {
        rp_cli_error("%s: %s is out of range (%ld to %ld)", what, text, min, max);
        return false;
    }
    *out = v;
    return true;
}

static void
print_usage(FILE *to)
{
    fprintf(to, "usage: repartir COMMAND [OPTIONS]\n"
                "       repartir --help | --version\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(to, "  %-28s %s\n", commands[i].usage, commands[i].summary);
    fprintf(to, "\nexit status:\n"
                "  %d  success\n"
                "  %d  the work ran and some of it failed\n"
                "  %d  bad command line (nothing was run)\n"
                "  %d  the engine, or the store, could not be opened\n",
            RP_EXIT_OK, RP_EXIT_FAILED, RP_EXIT_USAGE, RP_EXIT_ERROR);
}

static int
cmd_help(int argc, char **argv)
{
    const struct rp_cli_command *c;

    if (argc < 2) {
        print_usage(stdout);
        return RP_EXIT_OK;
    }
    if (argc > 2) {
        rp_cli_error("help takes at most one command name");
        return RP_EXIT_USAGE;
    }
    c = find_command(argv[1]);
    if (c == NULL) {
        rp_cli_error("no command '%s' (try 'repartir help')", argv[1]);
        return RP_EXIT_USAGE;
    }
    printf("usage: repartir %s\n\n%s\n", c->usage, c->summary);
    if (c->help[0] != '\0')
        printf("\noptions:\n%s", c->help);
    return RP_EXIT_OK;
}

static int
cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        rp_cli_error("version takes no arguments");
        return RP_EXIT_USAGE;
    }
    printf("repartir %s\n", rp_version());
    return RP_EXIT_OK;
}

int
main(int argc, char **argv)
{
    const struct rp_cli_command *c;

    /* Alone on a terminal, or with only options: the console. */
    if (argc < 2 || (argv[1][0] == '-' && argv[1][1] == '-' && argv[1][2] != '\0' &&
                     strcmp(argv[1], "--help") != 0 && strcmp(argv[1], "--version") != 0)) {
        if (argc < 2 && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
            print_usage(stdout);
            return RP_EXIT_OK;
        }
        char **console_argv = rp_xcalloc((size_t)argc + 1, sizeof *console_argv);
        console_argv[0] = "console";
        for (int i = 1; i < argc; i++)
            console_argv[i] = argv[i];
        int rc = rp_cli_console(argc, console_argv);
        free(console_argv);
        return rc;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(1, argv + 1);
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
        return cmd_version(1, argv + 1);
    c = find_command(argv[1]);
    if (c == NULL) {
        rp_cli_error("unknown command '%s'", argv[1]);
        print_usage(stderr);
        return RP_EXIT_USAGE;
    }
    /* Every command takes `--help`. */
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            char *help_argv[] = { "help", argv[1], NULL };
            return cmd_help(2, help_argv);
        }
    }
    return c->run(argc - 1, argv + 1);
}
