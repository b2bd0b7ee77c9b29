/*
 * cmd_console.c -- `repartir console` (and `repartir` alone on a terminal):
 * the live console on an embedded engine (tui/console.h).
 */
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <repartir.h>

#include "cli/cli.h"
#include "cli/remote.h"
#include "engine/alloc.h"
#include "tui/console.h"
#include "tui/source.h"

#define CONSOLE_OPTIONS(VALUE, FLAG)                                          \
    VALUE(WORKERS, "workers", "N",                                            \
          "tasks running at once (1-1024; default: one per CPU)")             \
    VALUE(STATE_DIR, "state-dir", "DIR", RP_CLI_STATE_DIR_HELP)               \
    FLAG(NO_STORE, "no-store",                                                \
         "keep nothing on disk: no restore, no recovery after a crash")       \
    VALUE(THEME, "theme", "NAME",                                             \
          "default, dark, light, solarized-dark, mono, or a file\n"           \
          "        ~/.config/repartir/themes/NAME.theme (t cycles them)")     \
    FLAG(NO_COLOR, "no-color", "no colours (also when NO_COLOR is set)")      \
    FLAG(ASCII, "ascii", "plain ASCII instead of block and line glyphs")      \
    FLAG(NO_MOUSE, "no-mouse", "leave the mouse to the terminal")             \
    FLAG(READONLY, "readonly", "watch only: every key that changes anything is off") \
    FLAG(DEMO, "demo",                                                        \
         "submit a mixed demo workload to watch (in a store of its own,\n"   \
         "        removed at the end, unless --state-dir)")                   \
    FLAG(FORGET, "forget", "do not load or save the remembered theme, sort, filter and pane") \
    FLAG(NO_GPU, "no-gpu",                                                    \
         "leave the GPU closed (by default the engine opens the best\n"     \
         "        Vulkan device, or REPARTIR_GPU's, for --spirv and --tensor)") \
    RP_CLI_REMOTE_OPTIONS(VALUE, FLAG)

enum console_option_id {
#define CONSOLE_VALUE_ID(id, name, arg, help) CONSOLE_OPT_##id,
#define CONSOLE_FLAG_ID(id, name, help) CONSOLE_OPT_##id,
    CONSOLE_OPTIONS(CONSOLE_VALUE_ID, CONSOLE_FLAG_ID)
#undef CONSOLE_VALUE_ID
#undef CONSOLE_FLAG_ID
    CONSOLE_OPT_COUNT
};

static const struct rp_cli_option console_options[CONSOLE_OPT_COUNT] = {
#define CONSOLE_VALUE_ENTRY(id, nm, a, h) [CONSOLE_OPT_##id] = { .name = "--" nm, .arg = a },
#define CONSOLE_FLAG_ENTRY(id, nm, h) [CONSOLE_OPT_##id] = { .name = "--" nm, .arg = NULL },
    CONSOLE_OPTIONS(CONSOLE_VALUE_ENTRY, CONSOLE_FLAG_ENTRY)
#undef CONSOLE_VALUE_ENTRY
#undef CONSOLE_FLAG_ENTRY
};

const char rp_cli_console_help[] =
#define CONSOLE_VALUE_HELP(id, name, arg, help) "  --" name " " arg "\n        " help "\n"
#define CONSOLE_FLAG_HELP(id, name, help) "  --" name "\n        " help "\n"
    CONSOLE_OPTIONS(CONSOLE_VALUE_HELP, CONSOLE_FLAG_HELP)
#undef CONSOLE_VALUE_HELP
#undef CONSOLE_FLAG_HELP
    "\n"
    "Opens the live console on an engine embedded in this process: workers,\n"
    "jobs and their tasks, details and output, and every action a key away\n"
    "(? lists the keys; docs/console.md is the guide). Work is kept in the\n"
    "store (--state-dir) unless --no-store: what is still queued or running\n"
    "when you quit stays queued there, and the next console or `repartir\n"
    "resume` runs it. SIGTERM or a closed terminal (SIGHUP) quits the same\n"
    "way. Exit status: 0; 2 for a bad command line; 3 when the engine or the\n"
    "store cannot be opened, or there is no terminal; 129/143 after\n"
    "SIGHUP/SIGTERM.\n";

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* --demo without --state-dir: a store of its own under $TMPDIR, removed at
 * the end, so the demo's jobs never land in the user's store. */
static char *
demo_store(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = rp__sprintf("%s/repartir-demo-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");

    if (mkdtemp(dir) == NULL) {
        rp_cli_error("console: cannot make a directory for the demo's store: %s", dir);
        free(dir);
        return NULL;
    }
    return dir;
}

int
rp_cli_console(int argc, char **argv)
{
    struct rp_cli_args args = { .command = "console", .options = console_options,
                                .n_options = CONSOLE_OPT_COUNT, .argc = argc, .argv = argv };
    struct rp_console_options opt = { .remember = true };
    struct rp_cli_remote remote = { .n = 0 };
    rp_pool_config cfg;
    rp_console_source *src;
    const char *value, *state_dir = NULL;
    char *dir = NULL, *demo_dir = NULL, *why = NULL;
    bool no_store = false;
    sigset_t old_mask;
    rp_status st;
    long n;
    int id, rc;

    rp_pool_config_init(&cfg);
    cfg.gpu = true;
    while ((id = rp_cli_args_next(&args, &value)) != RP_CLI_ARGS_END) {
        switch (id) {
        case RP_CLI_ARGS_BAD:
            return RP_EXIT_USAGE;
        case RP_CLI_ARGS_OPERAND: {
            char *shown = rp_cli_printable(value, strlen(value));
            rp_cli_error("console: unexpected argument '%s' (try 'repartir help console')",
                         shown);
            free(shown);
            return RP_EXIT_USAGE;
        }
        case CONSOLE_OPT_WORKERS:
            if (!rp_cli_parse_int("--workers", value, 1, RP_POOL_MAX_WORKERS, &n))
                return RP_EXIT_USAGE;
            cfg.cpu_workers = (int)n;
            break;
        case CONSOLE_OPT_STATE_DIR:
            if (!rp_cli_state_dir_option("console", value, &state_dir))
                return RP_EXIT_USAGE;
            break;
        case CONSOLE_OPT_NO_STORE:
            no_store = true;
            break;
        case CONSOLE_OPT_THEME:
            if (value[0] == '\0') {
                rp_cli_error("console: --theme needs a name");
                return RP_EXIT_USAGE;
            }
            opt.theme = value;
            break;
        case CONSOLE_OPT_NO_COLOR:
            opt.no_color = true;
            break;
        case CONSOLE_OPT_ASCII:
            opt.ascii = true;
            break;
        case CONSOLE_OPT_NO_MOUSE:
            opt.no_mouse = true;
            break;
        case CONSOLE_OPT_READONLY:
            opt.readonly = true;
            break;
        case CONSOLE_OPT_DEMO:
            opt.demo = true;
            break;
        case CONSOLE_OPT_NO_GPU:
            cfg.gpu = false;
            break;
        case CONSOLE_OPT_FORGET:
            opt.remember = false;
            break;
        case CONSOLE_OPT_WORKER:
        case CONSOLE_OPT_TLS_CA:
        case CONSOLE_OPT_TLS_CERT:
        case CONSOLE_OPT_TLS_KEY:
        case CONSOLE_OPT_TOKEN_FILE:
        case CONSOLE_OPT_INSECURE:
            if (!rp_cli_remote_set(&remote, "console", console_options[id].name, value))
                return RP_EXIT_USAGE;
            break;
        default:
            return RP_EXIT_USAGE;
        }
    }
    if (no_store && state_dir != NULL) {
        rp_cli_error("console: --no-store and --state-dir contradict each other");
        return RP_EXIT_USAGE;
    }
    if (opt.demo && opt.readonly) {
        rp_cli_error("console: --demo submits work, which --readonly forbids");
        return RP_EXIT_USAGE;
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        rp_cli_error("console: needs a terminal (stdin and stdout); "
                     "`repartir run` and `repartir help` work without one");
        return RP_EXIT_ERROR;
    }
    if (!rp_cli_remote_apply(&remote, "console", &cfg)) {
        rp_cli_remote_free(&remote);
        return RP_EXIT_USAGE;
    }
    /* The demo's tasks mostly sleep: give it room to show several at once. */
    if (opt.demo && cfg.cpu_workers == 0)
        cfg.max_processes = 8;
    if (opt.demo && !no_store && state_dir == NULL) {
        if ((demo_dir = demo_store()) == NULL)
            return RP_EXIT_ERROR;
        cfg.state_dir = demo_dir;
    } else if (!no_store) {
        if ((dir = rp_cli_state_dir(state_dir)) == NULL)
            return RP_EXIT_ERROR;
        cfg.state_dir = dir;
    }
    /* Before the engine starts its threads: they inherit the block. */
    rp__console_block_signals(&old_mask);
    st = rp__console_source_embedded(&cfg, &src, &why);
    if (st != RP_OK) {
        rp_cli_error("console: cannot start the engine: %s", why ? why : rp_strerror(st));
        free(why);
        pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
        rc = RP_EXIT_ERROR;
        goto out;
    }
    rc = rp__console_run(src, &opt);
    /* Quitting stops what runs; with a store it stays queued there. */
    src->ops->close(src);
    /* 128 + N after SIGTERM or SIGHUP, as a shell reports it. */
    rc = rc == 0 ? RP_EXIT_OK : rc >= 128 ? rc : RP_EXIT_ERROR;
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
out:
    rp_cli_remote_free(&remote);
    if (demo_dir != NULL)
        nftw(demo_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(demo_dir);
    free(dir);
    return rc;
}
