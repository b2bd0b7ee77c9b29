/*
 * cmd_run.c -- `repartir run [OPTIONS] -- BIN ARGS...`: runs one command as
 * a job of N shards on an embedded pool, then passes each shard's captured
 * output through (or prints one JSON document) and exits 0 only if every
 * shard succeeded.
 *
 * Design:
 *   - Everything the user typed is checked before the engine starts (the
 *     options, the --cwd directory, the binary the way execvp would find
 *     it, a --state-dir that is not a directory), so a bad command line
 *     runs nothing and exits RP_EXIT_USAGE.
 *   - Waiting, progress and the report are cli/report.c's, shared with
 *     `repartir restore`: results are printed only after the pool has shut
 *     down, so the output of several shards never interleaves.
 *   - With --state-dir or --checkpoint the pool is durable: the job is in
 *     the store before it runs, its task ids are said on stderr at once
 *     (they are what `repartir restore` takes, and a killed `run` prints no
 *     report), and the pool also runs what an earlier pool left unfinished
 *     there while this command lives.
 *
 * THREADS: all of this file runs on the main thread (see cli/report.c for
 * the signal handler).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <repartir.h>

#include "cli/cli.h"
#include "cli/remote.h"
#include "cli/report.h"
#include "engine/alloc.h"
#include "engine/engine.h"

#define MAX_SHARDS 1000000               /* rp_submit_job's own bound */
#define MAX_RETRIES 1000                 /* rp_task_set_retries' own bound */
#define MAX_TIMEOUT_S (7 * 24 * 3600)    /* one week */
#define MAX_CHECKPOINT_MS (24 * 3600 * 1000)  /* a reminder a day */

/*
 * The options, in the order help lists them. One list generates the parse
 * table and the help text (rp_cli_run_help, the `help` field of the command
 * table in main.c), so the two cannot drift. VALUE(id, name, arg, help)
 * takes a value, FLAG(id, name, help) does not, OPTIONAL(id, name, arg,
 * help) may have one after '='.
 */
#define RUN_OPTIONS(VALUE, FLAG, OPTIONAL)                                    \
    VALUE(SHARDS, "shards", "N",                                              \
          "run N copies of the command (1-1000000; default 1); copy i\n"      \
          "        sees REPARTIR_SHARD=i and REPARTIR_TOTAL_SHARDS=N")        \
    VALUE(PRIORITY, "priority", "P",                                          \
          "low, normal, high or critical (default normal)")                   \
    VALUE(TIMEOUT, "timeout", "SEC",                                          \
          "wall-clock limit of each attempt, in seconds, decimals allowed\n"  \
          "        (more than 0, at most 604800 = 1 week; default none)")     \
    VALUE(RETRIES, "retries", "N",                                            \
          "run a failed task again up to N times, after a growing pause\n"    \
          "        (0-1000; default 0)")                                      \
    FLAG(JSON, "json",                                                        \
         "print one JSON document with every task's result instead of\n"      \
         "        passing their output through")                              \
    VALUE(WORKERS, "workers", "N",                                            \
          "tasks running at once (1-1024; default: one per CPU)")             \
    VALUE(ENV, "env", "KEY=VALUE",                                            \
          "set KEY in the command's environment (repeatable)")                \
    VALUE(CWD, "cwd", "DIR",                                                  \
          "run the command in DIR (default: the current directory)")          \
    VALUE(STATE_DIR, "state-dir", "DIR",                                      \
          "keep the job in the store at DIR (made if missing): it survives\n" \
          "        a crash of this command ('repartir resume' finishes it)")  \
    OPTIONAL(CHECKPOINT, "checkpoint", "MS",                                  \
             "the command saves checkpoints ($REPARTIR_CHECKPOINT_FILE,\n"    \
             "        docs/cli.md), reminded by SIGUSR1 every MS ms (1-86400000;\n" \
             "        default 30000). The job is kept in a store: --state-dir's,\n" \
             "        or the default one")                                 \
    VALUE(TENSOR, "tensor", "OP:DIMS",                                        \
          "run a tensor op instead of a command, on inputs made from a\n"     \
          "        seed: matmul:MxNxK, add|mul|axpy|relu|softmax|sum|dot:N or\n" \
          "        RxC, transpose:RxC, optionally @SEED; it prints the backend,\n" \
          "        threads, time and rate, and checks itself (docs/tensor.md)") \
    VALUE(SPIRV, "spirv", "FILE",                                             \
          "run a SPIR-V compute shader on the GPU instead of a command: its\n" \
          "        storage buffers (set 0) are the --input files, then the\n"   \
          "        --output-size buffers, in order (docs/gpu.md)")             \
    VALUE(INPUT, "input", "FILE",                                             \
          "with --spirv: a file whose bytes fill the next buffer (repeatable)") \
    VALUE(OUTPUT_SIZE, "output-size", "BYTES",                                \
          "with --spirv: an output buffer of BYTES, zeroed (repeatable)")     \
    VALUE(GROUPS, "groups", "X[,Y[,Z]]",                                      \
          "with --spirv: the workgroups to dispatch (default 1,1,1)")        \
    VALUE(OUT_DIR, "out-dir", "DIR",                                          \
          "with --spirv: write output I as DIR/task<ID>.out<I>.bin\n"        \
          "        (default: the current directory)")                        \
    FLAG(GPU, "gpu",                                                          \
         "with --tensor: run its op on the GPU whatever its size")           \
    FLAG(REMOTE, "remote",                                                    \
         "run the tasks only on the --worker daemons (without it they run\n" \
         "        here and there, wherever a slot is free first)")          \
    RP_CLI_REMOTE_OPTIONS(VALUE, FLAG)

enum run_option_id {
#define RUN_VALUE_ID(id, name, arg, help) RUN_OPT_##id,
#define RUN_FLAG_ID(id, name, help) RUN_OPT_##id,
    RUN_OPTIONS(RUN_VALUE_ID, RUN_FLAG_ID, RUN_VALUE_ID)
#undef RUN_VALUE_ID
#undef RUN_FLAG_ID
    RUN_OPT_COUNT
};

static const struct rp_cli_option run_options[RUN_OPT_COUNT] = {
#define RUN_VALUE_ENTRY(id, nm, a, h) [RUN_OPT_##id] = { .name = "--" nm, .arg = a },
#define RUN_FLAG_ENTRY(id, nm, h) [RUN_OPT_##id] = { .name = "--" nm, .arg = NULL },
#define RUN_OPTIONAL_ENTRY(id, nm, a, h)                                      \
    [RUN_OPT_##id] = { .name = "--" nm, .arg = a, .value_optional = true },
    RUN_OPTIONS(RUN_VALUE_ENTRY, RUN_FLAG_ENTRY, RUN_OPTIONAL_ENTRY)
#undef RUN_VALUE_ENTRY
#undef RUN_FLAG_ENTRY
#undef RUN_OPTIONAL_ENTRY
};

const char rp_cli_run_help[] =
#define RUN_VALUE_HELP(id, name, arg, help) "  --" name " " arg "\n        " help "\n"
#define RUN_FLAG_HELP(id, name, help) "  --" name "\n        " help "\n"
#define RUN_OPTIONAL_HELP(id, name, arg, help) "  --" name "[=" arg "]\n        " help "\n"
    RUN_OPTIONS(RUN_VALUE_HELP, RUN_FLAG_HELP, RUN_OPTIONAL_HELP)
#undef RUN_VALUE_HELP
#undef RUN_FLAG_HELP
#undef RUN_OPTIONAL_HELP
    "\n"
    "The command and its arguments follow '--'; a BIN without '/' is looked\n"
    "up in PATH. Without --json, each task's stdout and stderr are passed\n"
    "through in shard order once all have ended. When stderr is a terminal,\n"
    "a line is printed as each task ends. Exit status: 0 if every task\n"
    "succeeded, 1 if any did not, 2 for a bad command line, 3 if the engine\n"
    "or the store could not start (another pool holds the state dir),\n"
    "130/143 after SIGINT/SIGTERM (the job is cancelled). With a state dir,\n"
    "the task ids are said on stderr as the job starts, and what an earlier\n"
    "pool left unfinished there runs too while this command lives.\n";

static const struct {
    const char *name;
    rp_priority priority;
} priority_names[] = {
    { "low", RP_PRIORITY_LOW },
    { "normal", RP_PRIORITY_NORMAL },
    { "high", RP_PRIORITY_HIGH },
    { "critical", RP_PRIORITY_CRITICAL },
};

/* What the command line asked for. Strings point into argv. */
struct run_args {
    unsigned shards;
    rp_priority priority;
    unsigned timeout_ms;        /* 0 = none */
    unsigned retries;
    int workers;                /* 0 = one per CPU */
    bool json;
    const char **env;           /* "KEY=VALUE", n_env of them; owned */
    size_t n_env;
    const char *cwd;            /* NULL = ours */
    const char *state_dir;      /* --state-dir; NULL = none given */
    struct rp_cli_remote remote;
    bool remote_only;           /* --remote */
    bool checkpoint;            /* --checkpoint */
    unsigned checkpoint_ms;     /* its value; 0 = the pool's default */
    const char *tensor;         /* --tensor: instead of a command */
    const char *spirv;          /* --spirv: instead of a command */
    const char **inputs;        /* --input, n_inputs of them; owned */
    size_t n_inputs;
    size_t outputs[RP_GPU_MAX_BUFFERS];  /* --output-size */
    size_t n_outputs;
    unsigned groups[3];
    const char *out_dir;
    bool gpu;                   /* --gpu */
    char **command;             /* BIN ARGS..., n_command of them */
    int n_command;
};

/* ---- the command line ---- */

/* Seconds as digits with an optional decimal part ("30", "0.2", ".5"),
 * into whole milliseconds, at least 1. strtod alone would also take "inf",
 * "nan", hex and exponents, which nobody means as a timeout. */
static bool
parse_seconds(const char *what, const char *text, unsigned *ms /* OUT */)
{
    size_t whole = strspn(text, "0123456789"), frac = 0;
    const char *p = text + whole;
    double v;

    if (*p == '.') {
        frac = strspn(p + 1, "0123456789");
        p += 1 + frac;
    }
    if (*p != '\0' || whole + frac == 0) {
        rp_cli_error("%s: '%s' is not a number of seconds (like 30 or 0.5)", what, text);
        return false;
    }
    v = strtod(text, NULL);
    if (!(v > 0) || v > MAX_TIMEOUT_S) {
        rp_cli_error("%s: %s is out of range (more than 0, at most %d seconds = 1 week)",
                     what, text, MAX_TIMEOUT_S);
        return false;
    }
    *ms = (unsigned)(v * 1000 + 0.5);
    if (*ms == 0)                /* below half a millisecond: still a limit */
        *ms = 1;
    return true;
}

static bool
parse_priority(const char *what, const char *text, rp_priority *out /* OUT */)
{
    for (size_t i = 0; i < sizeof priority_names / sizeof priority_names[0]; i++) {
        if (strcmp(priority_names[i].name, text) == 0) {
            *out = priority_names[i].priority;
            return true;
        }
    }
    rp_cli_error("%s: '%s' is not one of low, normal, high, critical", what, text);
    return false;
}

/* KEY=VALUE with a non-empty KEY; VALUE may be empty. */
static bool
check_env(const char *what, const char *text)
{
    const char *eq = strchr(text, '=');

    if (eq == NULL || eq == text) {
        rp_cli_error("%s: '%s' is not KEY=VALUE", what, text);
        return false;
    }
    return true;
}

static bool
check_directory(const char *what, const char *dir)
{
    struct stat st;

    if (stat(dir, &st) != 0) {
        rp_cli_error("%s: '%s': %s", what, dir, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        rp_cli_error("%s: '%s' is not a directory", what, dir);
        return false;
    }
    if (access(dir, X_OK) != 0) {
        rp_cli_error("%s: '%s': %s", what, dir, strerror(errno));
        return false;
    }
    return true;
}

/* A state dir is made when missing (with its parents); something there
 * that is not a directory is a mistake on the command line. */
static bool
check_state_dir(const char *what, const char *dir)
{
    struct stat st;

    if (dir[0] == '\0') {
        rp_cli_error("%s needs a directory", what);
        return false;
    }
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        rp_cli_error("%s: '%s' is not a directory", what, dir);
        return false;
    }
    return true;
}

/* Applies one option and its value (NULL for a flag, or an optional value
 * not given). */
static bool
apply_option(struct run_args *a, int id, const char *value)
{
    const struct rp_cli_option *o = &run_options[id];
    long n;

    switch ((enum run_option_id)id) {
    case RUN_OPT_SHARDS:
        if (!rp_cli_parse_int(o->name, value, 1, MAX_SHARDS, &n))
            return false;
        a->shards = (unsigned)n;
        return true;
    case RUN_OPT_PRIORITY:
        return parse_priority(o->name, value, &a->priority);
    case RUN_OPT_TIMEOUT:
        return parse_seconds(o->name, value, &a->timeout_ms);
    case RUN_OPT_RETRIES:
        if (!rp_cli_parse_int(o->name, value, 0, MAX_RETRIES, &n))
            return false;
        a->retries = (unsigned)n;
        return true;
    case RUN_OPT_JSON:
        a->json = true;
        return true;
    case RUN_OPT_WORKERS:
        if (!rp_cli_parse_int(o->name, value, 1, RP_POOL_MAX_WORKERS, &n))
            return false;
        a->workers = (int)n;
        return true;
    case RUN_OPT_ENV:
        if (!check_env(o->name, value))
            return false;
        a->env[a->n_env++] = value;
        return true;
    case RUN_OPT_CWD:
        if (!check_directory(o->name, value))
            return false;
        a->cwd = value;
        return true;
    case RUN_OPT_STATE_DIR:
        if (!check_state_dir(o->name, value))
            return false;
        a->state_dir = value;
        return true;
    case RUN_OPT_CHECKPOINT:
        a->checkpoint = true;
        a->checkpoint_ms = 0;
        if (value == NULL)
            return true;
        if (!rp_cli_parse_int(o->name, value, 1, MAX_CHECKPOINT_MS, &n))
            return false;
        a->checkpoint_ms = (unsigned)n;
        return true;
    case RUN_OPT_REMOTE:
        a->remote_only = true;
        return true;
    case RUN_OPT_TENSOR: {
        char *why = NULL;
        rp_task *t = rp_task_new_tensor(value, &why);
        if (t == NULL) {
            rp_cli_error("%s: %s", o->name, why != NULL ? why : "not a tensor op");
            free(why);
            return false;
        }
        rp_task_free(t);
        a->tensor = value;
        return true;
    }
    case RUN_OPT_SPIRV:
        if (value[0] == '\0' || access(value, R_OK) != 0) {
            rp_cli_error("%s: cannot read '%s': %s", o->name, value,
                         value[0] == '\0' ? "empty name" : strerror(errno));
            return false;
        }
        a->spirv = value;
        return true;
    case RUN_OPT_INPUT: {
        struct stat st;
        if (stat(value, &st) != 0 || !S_ISREG(st.st_mode) || access(value, R_OK) != 0) {
            rp_cli_error("%s: cannot read '%s': %s", o->name, value,
                         errno != 0 && stat(value, &st) != 0 ? strerror(errno)
                                                             : "not a readable file");
            return false;
        }
        if (a->n_inputs + a->n_outputs >= RP_GPU_MAX_BUFFERS) {
            rp_cli_error("%s: at most %d buffers in all", o->name, RP_GPU_MAX_BUFFERS);
            return false;
        }
        a->inputs[a->n_inputs++] = value;
        return true;
    }
    case RUN_OPT_OUTPUT_SIZE: {
        char *end;
        unsigned long long v;
        errno = 0;
        v = value[0] >= '0' && value[0] <= '9' ? strtoull(value, &end, 10) : 0;
        if (v == 0 || errno != 0 || *end != '\0' || v > ((unsigned long long)1 << 40)) {
            rp_cli_error("%s: '%s' is not a size in bytes (1 to 2^40)", o->name, value);
            return false;
        }
        if (a->n_inputs + a->n_outputs >= RP_GPU_MAX_BUFFERS) {
            rp_cli_error("%s: at most %d buffers in all", o->name, RP_GPU_MAX_BUFFERS);
            return false;
        }
        a->outputs[a->n_outputs++] = (size_t)v;
        return true;
    }
    case RUN_OPT_GROUPS:
        if (!rp__groups_parse(value, a->groups)) {
            rp_cli_error("%s: '%s' is not X[,Y[,Z]] workgroup counts (each 1 or more)",
                         o->name, value);
            return false;
        }
        return true;
    case RUN_OPT_OUT_DIR:
        if (!check_directory(o->name, value))
            return false;
        a->out_dir = value;
        return true;
    case RUN_OPT_GPU:
        a->gpu = true;
        return true;
    case RUN_OPT_WORKER:
    case RUN_OPT_TLS_CA:
    case RUN_OPT_TLS_CERT:
    case RUN_OPT_TLS_KEY:
    case RUN_OPT_TOKEN_FILE:
    case RUN_OPT_INSECURE:
        return rp_cli_remote_set(&a->remote, "run", o->name, value);
    case RUN_OPT_COUNT:
        break;
    }
    return false;
}

/* Fills *a from argv (argv[0] = "run"): options, then "--" and the
 * command. On error, says why on stderr and returns false. a->env and
 * a->inputs are allocated either way; the caller frees them. */
static bool
parse_args(int argc, char **argv, struct run_args *a /* OUT */)
{
    struct rp_cli_args args = {
        .command = "run", .options = run_options, .n_options = RUN_OPT_COUNT,
        .argc = argc, .argv = argv,
    };
    const char *value, *last_value = NULL;
    int id, last = -1;

    *a = (struct run_args){ .shards = 1, .priority = RP_PRIORITY_NORMAL, .groups = { 1, 1, 1 } };
    a->env = rp_xcalloc((size_t)argc, sizeof *a->env);
    a->inputs = rp_xcalloc((size_t)argc, sizeof *a->inputs);
    while ((id = rp_cli_args_next(&args, &value)) >= 0) {
        if (!apply_option(a, id, value))
            return false;
        last = id;
        last_value = value;
    }
    if (id == RP_CLI_ARGS_BAD)
        return false;
    if (id == RP_CLI_ARGS_OPERAND && !args.operands_only) {
        if (last >= 0 && run_options[last].value_optional && last_value == NULL)
            rp_cli_error("run: '%s' is not an option; a value of %s goes after '=' "
                         "(%s=%s)", value, run_options[last].name, run_options[last].name,
                         value);
        else
            rp_cli_error("run: '%s' is not an option; the command goes after '--' "
                         "(repartir run [OPTIONS] -- BIN ARGS...)", value);
        return false;
    }
    if (id == RP_CLI_ARGS_END && (a->tensor != NULL || a->spirv != NULL))
        return true;
    if (a->tensor != NULL || a->spirv != NULL) {
        rp_cli_error("run: %s runs %s, not a command: drop '%s'",
                     a->tensor != NULL ? "--tensor" : "--spirv",
                     a->tensor != NULL ? "a tensor op" : "a shader", argv[args.next - 1]);
        return false;
    }
    if (id == RP_CLI_ARGS_END) {
        rp_cli_error("run: no command to run (repartir run [OPTIONS] -- BIN ARGS... or "
                     "--tensor OP:DIMS or --spirv FILE)");
        return false;
    }
    /* Everything from the first operand after "--" is the command. */
    a->command = argv + args.next - 1;
    a->n_command = argc - (args.next - 1);
    return true;
}

/* ---- the binary, checked the way execvp will look for it ---- */

/* 0 if `path` (relative to `cwd` when that is set and path is relative,
 * since the child changes directory before it execs) names an executable
 * regular file, else an errno value saying why not. */
static int
probe_binary(const char *path, const char *cwd)
{
    char buf[PATH_MAX];
    struct stat st;

    if (cwd != NULL && path[0] != '/') {
        if ((size_t)snprintf(buf, sizeof buf, "%s/%s", cwd, path) >= sizeof buf)
            return ENAMETOOLONG;
        path = buf;
    }
    if (stat(path, &st) != 0)
        return errno;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0)
        return EACCES;
    return 0;
}

static bool
report_binary_error(const char *bin, int err)
{
    if (err == EISDIR)
        rp_cli_error("run: cannot run '%s': it is a directory", bin);
    else if (err == EACCES)
        rp_cli_error("run: cannot run '%s': not an executable file (%s)", bin,
                     strerror(err));
    else
        rp_cli_error("run: cannot run '%s': %s", bin, strerror(err));
    return false;
}

/* True if `bin` can be run: a path is probed as it is; a bare name is
 * looked for in each PATH directory, as execvp does (an empty entry is the
 * current directory; no PATH means /bin:/usr/bin). Says why not on stderr. */
static bool
check_binary(const char *bin, const char *cwd)
{
    const char *path = getenv("PATH"), *dir, *end;
    char candidate[PATH_MAX];
    int err, first_err = 0;

    if (bin[0] == '\0') {
        rp_cli_error("run: the command name is empty");
        return false;
    }
    if (strchr(bin, '/') != NULL) {
        err = probe_binary(bin, cwd);
        return err == 0 ? true : report_binary_error(bin, err);
    }
    if (path == NULL)
        path = "/bin:/usr/bin";
    for (dir = path;; dir = end + 1) {
        size_t len;

        end = strchrnul(dir, ':');
        len = (size_t)(end - dir);
        if (len == 0) {          /* an empty entry means "." */
            dir = ".";
            len = 1;
        }
        if ((size_t)snprintf(candidate, sizeof candidate, "%.*s/%s", (int)len, dir, bin) <
            sizeof candidate) {
            err = probe_binary(candidate, cwd);
            if (err == 0)
                return true;
            /* Like execvp: something there that cannot be run is worth
             * reporting if nothing later in PATH can. */
            if (first_err == 0 && err != ENOENT && err != ENOTDIR)
                first_err = err;
        }
        if (*end == '\0')
            break;
    }
    if (first_err != 0)
        return report_binary_error(bin, first_err);
    rp_cli_error("run: cannot run '%s': not found in PATH", bin);
    return false;
}

/* ---- running the job ---- */

static rp_status
build_task(const struct run_args *a, rp_task **out /* OUT */)
{
    rp_task *t;
    rp_status s = RP_ERR_INVALID;

    if (a->tensor != NULL) {
        if ((t = rp_task_new_tensor(a->tensor, NULL)) == NULL)
            goto fail;
        if (a->gpu && (s = rp_task_set_backend(t, RP_BACKEND_GPU)) != RP_OK)
            goto fail;
    } else if (a->spirv != NULL) {
        if ((t = rp_task_new_spirv(a->spirv)) == NULL)
            goto fail;
        for (size_t i = 0; i < a->n_inputs; i++)
            if ((s = rp_task_add_input(t, a->inputs[i])) != RP_OK)
                goto fail;
        for (size_t i = 0; i < a->n_outputs; i++)
            if ((s = rp_task_add_output(t, a->outputs[i])) != RP_OK)
                goto fail;
        if ((s = rp_task_set_groups(t, a->groups[0], a->groups[1], a->groups[2])) != RP_OK ||
            (s = rp_task_set_output_dir(t, a->out_dir != NULL ? a->out_dir : ".")) != RP_OK ||
            (s = rp_task_set_timeout_ms(t, a->timeout_ms)) != RP_OK ||
            (s = rp_task_set_priority(t, a->priority)) != RP_OK)
            goto fail;
        *out = t;
        return RP_OK;
    } else if ((t = rp_task_new(a->command[0])) == NULL) {
        goto fail;
    }
    for (int i = 1; i < a->n_command; i++)
        if ((s = rp_task_add_arg(t, a->command[i])) != RP_OK)
            goto fail;
    for (size_t i = 0; a->tensor == NULL && i < a->n_env; i++) {
        char *key = rp_xstrdup(a->env[i]);

        key[strcspn(key, "=")] = '\0';
        s = rp_task_set_env(t, key, strchr(a->env[i], '=') + 1);
        free(key);
        if (s != RP_OK)
            goto fail;
    }
    if (a->cwd != NULL && (s = rp_task_set_cwd(t, a->cwd)) != RP_OK)
        goto fail;
    if ((s = rp_task_set_priority(t, a->priority)) != RP_OK)
        goto fail;
    if (a->tensor == NULL && (s = rp_task_set_timeout_ms(t, a->timeout_ms)) != RP_OK)
        goto fail;
    if ((s = rp_task_set_retries(t, a->retries)) != RP_OK)
        goto fail;
    /* Someone who asks for retries on the command line means "if it
     * fails", and for a command that mostly means a non-zero exit. */
    if (a->retries > 0 && (s = rp_task_set_retry_on_exit(t, true)) != RP_OK)
        goto fail;
    if (a->checkpoint && (s = rp_task_set_checkpoint(t, true, a->checkpoint_ms)) != RP_OK)
        goto fail;
    if (a->remote_only && (s = rp_task_set_backend(t, RP_BACKEND_REMOTE)) != RP_OK)
        goto fail;
    *out = t;
    return RP_OK;

fail:
    rp_task_free(t);
    return s;
}

/* Says which tasks a durable job has, as soon as it is in the store: a
 * crashed `run` prints no report, and `repartir restore` takes these ids. */
static void
note_job(const struct rp_cli_job *j, const char *state_dir)
{
    if (j->shards == 1)
        fprintf(stderr, "repartir: job %llu is task %llu in %s\n", (unsigned long long)j->job,
                (unsigned long long)j->ids[0], state_dir);
    else
        fprintf(stderr, "repartir: job %llu is tasks %llu-%llu in %s\n",
                (unsigned long long)j->job, (unsigned long long)j->ids[0],
                (unsigned long long)j->ids[j->shards - 1], state_dir);
}

/* Runs the job the command line describes, on a durable pool when
 * state_dir is not NULL; returns the exit status. */
static int
run_job(struct run_args *a, const char *state_dir)
{
    struct rp_cli_job job;
    rp_subscription *sub = NULL;
    rp_pool *pool = NULL;
    rp_task *t = NULL;
    rp_status s;
    int rc;

    rp_cli_job_init(&job, NULL, a->shards);
    /* Before anything runs, so no signal can end us with children left. */
    rp_cli_catch_interrupts();
    if ((rc = rp_cli_pool_open("run", a->workers, state_dir, &a->remote,
                               a->spirv != NULL || a->tensor != NULL, &pool)) != RP_EXIT_OK)
        goto out;
    rc = RP_EXIT_ERROR;
    job.pool = pool;
    if (state_dir != NULL)
        rp_cli_note_recovery(pool, state_dir);
    if ((s = build_task(a, &t)) != RP_OK) {
        rp_cli_error("cannot describe the task: %s", rp_strerror(s));
        goto out;
    }
    /* Subscribed before submitting, so that no task can end unseen. */
    if (job.progress && (s = rp_subscribe(pool, &sub)) != RP_OK) {
        rp_cli_error("cannot follow the job: %s", rp_strerror(s));
        goto out;
    }
    s = rp_submit_job(pool, t, a->shards, &job.job, job.ids);
    t = NULL;                    /* the pool's now, whatever the status */
    if (s != RP_OK) {
        rp_cli_error("cannot submit the job: %s", rp_strerror(s));
        goto out;
    }
    if (state_dir != NULL)
        note_job(&job, state_dir);
    if ((s = rp_cli_job_collect(&job, sub)) != RP_OK) {
        rp_cli_error("lost track of job %llu: %s", (unsigned long long)job.job,
                     rp_strerror(s));
        goto out;                /* shutting the pool down cancels the rest */
    }
    rp_unsubscribe(sub);
    sub = NULL;
    rp_pool_shutdown(pool);
    pool = NULL;
    rc = rp_cli_job_report(&job, a->json, NULL);

out:
    rp_task_free(t);
    if (sub != NULL)
        rp_unsubscribe(sub);
    rp_pool_shutdown(pool);
    rp_cli_job_free(&job);
    return rc;
}

int
rp_cli_run(int argc, char **argv)
{
    struct run_args a;
    char *state_dir = NULL;
    int rc = RP_EXIT_USAGE;

    if (!parse_args(argc, argv, &a))
        goto out;
    if (a.remote_only && a.remote.n == 0) {
        rp_cli_error("run: --remote needs at least one --worker");
        goto out;
    }
    if (a.remote_only && a.checkpoint) {
        rp_cli_error("run: --checkpoint tasks run here only (checkpoints of remote tasks "
                     "are not kept yet)");
        goto out;
    }
    if (a.spirv == NULL && (a.n_inputs != 0 || a.n_outputs != 0 || a.groups[0] != 1 ||
                            a.groups[1] != 1 || a.groups[2] != 1 || a.out_dir != NULL)) {
        rp_cli_error("run: --input, --output-size, --groups and --out-dir go with --spirv");
        goto out;
    }
    if (a.gpu && a.tensor == NULL) {
        rp_cli_error("run: --gpu goes with --tensor (a --spirv shader always runs on the GPU)");
        goto out;
    }
    if (a.spirv != NULL && (a.tensor != NULL || a.checkpoint || a.n_env != 0 || a.cwd != NULL ||
                            a.remote_only || a.remote.n != 0 || a.shards != 1 ||
                            a.retries != 0)) {
        rp_cli_error("run: --spirv takes no --tensor, --checkpoint, --env, --cwd, --shards, "
                     "--retries, --worker or --remote (a shader runs once, on this GPU)");
        goto out;
    }
    if (a.spirv != NULL && a.n_outputs == 0) {
        rp_cli_error("run: --spirv needs at least one --output-size (what would come back?)");
        goto out;
    }
    if (a.tensor != NULL && (a.checkpoint || a.n_env != 0 || a.cwd != NULL || a.timeout_ms != 0)) {
        rp_cli_error("run: --tensor takes no --checkpoint, --env, --cwd or --timeout (a "
                     "tensor op starts no program and cannot be stopped)");
        goto out;
    }
    /* A remote-only command is looked for there, not here. */
    if (a.tensor == NULL && a.spirv == NULL && !a.remote_only &&
        !check_binary(a.command[0], a.cwd))
        goto out;
    /* --checkpoint needs a store to keep the checkpoints in. */
    if (a.state_dir != NULL || a.checkpoint) {
        if ((state_dir = rp_cli_state_dir(a.state_dir)) == NULL)
            goto out;
        if (a.state_dir == NULL && !check_state_dir("the default state dir", state_dir))
            goto out;
    }
    rc = run_job(&a, state_dir);

out:
    free(state_dir);
    free(a.env);
    free(a.inputs);
    rp_cli_remote_free(&a.remote);
    return rc;
}
