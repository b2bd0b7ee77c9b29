/*
 * common.c -- timing, child processes and printing for the benchmarks.
 */
#include "bench/common.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <repartir.h>

extern char **environ;

double
bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double
bench_cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

void
bench_add(bench_samples *s, double v)
{
    if (s->n < BENCH_MAX_SAMPLES)
        s->v[s->n++] = v;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double
bench_min(const bench_samples *s)
{
    double m = s->n ? s->v[0] : 0;

    for (int i = 1; i < s->n; i++)
        if (s->v[i] < m)
            m = s->v[i];
    return m;
}

double
bench_median(const bench_samples *s)
{
    double tmp[BENCH_MAX_SAMPLES];

    if (s->n == 0)
        return 0;
    memcpy(tmp, s->v, sizeof(double) * (size_t)s->n);
    qsort(tmp, (size_t)s->n, sizeof tmp[0], cmp_double);
    return s->n % 2 ? tmp[s->n / 2] : (tmp[s->n / 2 - 1] + tmp[s->n / 2]) / 2;
}

/* Runs /proc/self/exe args..., returns its whole stdout (malloc'd) or NULL. */
static char *
run_self(const char *const *args)
{
    const char *argv[32];
    int n = 0, fds[2], status;
    posix_spawn_file_actions_t fa;
    pid_t pid;
    size_t len = 0, cap = 4096;
    char *buf;
    ssize_t r;

    argv[n++] = "/proc/self/exe";
    for (; args[n - 1] != NULL && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    if (pipe(fds) != 0)
        return NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, (char *const *)argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        close(fds[0]);
        close(fds[1]);
        return NULL;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    buf = malloc(cap);
    while (buf != NULL && (r = read(fds[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (cap - len < 2) {
            char *bigger = realloc(buf, cap *= 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
            } else {
                buf = bigger;
            }
        }
    }
    close(fds[0]);
    waitpid(pid, &status, 0);
    if (buf == NULL || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench: child %s %s failed\n", args[0], args[1] ? args[1] : "");
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

bool
bench_run(const char *const *args, bench_output *out)
{
    out->text = run_self(args);
    return out->text != NULL;
}

void
bench_output_free(bench_output *o)
{
    free(o->text);
    o->text = NULL;
}

/* Calls fn on each value of key, in order. */
static void
each_value(const bench_output *o, const char *key,
           void (*fn)(const char *value, size_t len, void *ctx), void *ctx)
{
    size_t klen = strlen(key);

    for (const char *line = o->text; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);

        if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=')
            fn(line + klen + 1, len - klen - 1, ctx);
        line = end ? end + 1 : NULL;
    }
}

static void
add_number(const char *value, size_t len, void *ctx)
{
    (void)len;
    bench_add(ctx, strtod(value, NULL));
}

void
bench_values(const bench_output *o, const char *key, bench_samples *s)
{
    each_value(o, key, add_number, s);
}

struct strbuf {
    char *buf;
    size_t len;
};

static void
keep_string(const char *value, size_t len, void *ctx)
{
    struct strbuf *b = ctx;

    snprintf(b->buf, b->len, "%.*s", (int)len, value);
}

const char *
bench_value_str(const bench_output *o, const char *key, char *buf, size_t len)
{
    struct strbuf b = { buf, len };

    buf[0] = '\0';
    each_value(o, key, keep_string, &b);
    return buf;
}

double
bench_value(const bench_output *o, const char *key)
{
    char buf[64];

    return strtod(bench_value_str(o, key, buf, sizeof buf), NULL);
}

void
bench_print_machine(const char *title)
{
    char model[256] = "unknown CPU", line[512], date[32];
    struct utsname u;
    time_t now = time(NULL);
    FILE *f = fopen("/proc/cpuinfo", "r");

    if (f != NULL) {
        while (fgets(line, sizeof line, f) != NULL) {
            if (strncmp(line, "model name", 10) == 0) {
                char *colon = strchr(line, ':');
                if (colon != NULL) {
                    snprintf(model, sizeof model, "%s", colon + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        }
        fclose(f);
    }
    uname(&u);
    strftime(date, sizeof date, "%Y-%m-%d", localtime(&now));
    printf("== %s\n   %s, %s, %ld CPUs, Linux %s\n", title, date, model,
           sysconf(_SC_NPROCESSORS_ONLN), u.release);
}

void
bench_print_ratio(const char *what, double ours, double anchor,
                  const char *target_text, bool met)
{
    double ratio = anchor > 0 ? ours / anchor : 0.0;

    if (target_text == NULL)
        printf("   ratio %-28s %6.2f   (for information)\n", what, ratio);
    else
        printf("   ratio %-28s %6.2f   target %s: %s\n", what, ratio, target_text,
               met ? "met" : "NOT met");
}

void
bench_fib_task(void *arg)
{
    struct bench_fib *f = arg;

    if (f->n < 2) {
        f->result = f->n;
        return;
    }
    struct bench_fib a = { f->n - 1, 0 }, b = { f->n - 2, 0 };
    rp_group g = RP_GROUP_INIT;

    rp_group_spawn(&g, bench_fib_task, &a);
    bench_fib_task(&b);
    rp_group_wait(&g);
    f->result = a.result + b.result;
}

/* ---- files ---- */

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    if (remove(path) != 0)
        fprintf(stderr, "bench: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

void
bench_remove_tree(const char *dir)
{
    if (dir[0] != '\0')
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const struct {
    unsigned long magic;
    const char *name;
} fs_names[] = {
    { 0xef53,     "ext2/3/4" },
    { 0x58465342, "xfs" },
    { 0x9123683e, "btrfs" },
    { 0xf2f52010, "f2fs" },
    { 0x2fc12fc1, "zfs" },
    { 0x01021994, "tmpfs" },
    { 0x858458f6, "ramfs" },
    { 0x794c7630, "overlayfs" },
    { 0x6969,     "nfs" },
    { 0x65735546, "fuse" },
    { 0x01021997, "9p" },
};

bool
bench_print_file_system(const char *dir)
{
    struct statfs fs;
    const char *name = "unknown";

    if (statfs(dir, &fs) != 0) {
        fprintf(stderr, "bench: statfs %s: %s\n", dir, strerror(errno));
        return false;
    }
    for (size_t i = 0; i < sizeof fs_names / sizeof fs_names[0]; i++)
        if ((unsigned long)fs.f_type == fs_names[i].magic)
            name = fs_names[i].name;
    printf("   in %s: %s (statfs f_type %#lx), removed at the end\n", dir, name,
           (unsigned long)fs.f_type);
    if ((unsigned long)fs.f_type == 0x01021994 || (unsigned long)fs.f_type == 0x858458f6)
        printf("   (a RAM file system: fsync costs nothing here, so these say nothing "
               "about a disk; try --dir)\n");
    return true;
}

double
bench_percentile(const double *v, size_t n, double p)
{
    double *tmp, r;
    long k = (long)(p * (double)n + 0.999999) - 1;

    if (n == 0)
        return 0;
    tmp = malloc(n * sizeof *tmp);
    if (tmp == NULL)
        return 0;
    memcpy(tmp, v, n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    r = tmp[k < 0 ? 0 : k >= (long)n ? (long)n - 1 : k];
    free(tmp);
    return r;
}

/* ---- the watchdog: a run dies rather than hang ---- */

static const char *watchdog_program = "bench";
static char watchdog_dir[4096];             /* left behind when it fires */

static void
on_alarm(int sig)
{
    static const char msg[] = ": ran past its time limit; left behind: ";

    (void)sig;
    (void)!write(2, watchdog_program, strlen(watchdog_program));
    (void)!write(2, msg, sizeof msg - 1);
    (void)!write(2, watchdog_dir, strlen(watchdog_dir));
    (void)!write(2, "\n", 1);
    _exit(3);
}

void
bench_watchdog(const char *program, double seconds)
{
    watchdog_program = program;
    signal(SIGALRM, on_alarm);
    alarm(seconds < 1 ? 1 : (unsigned)seconds);
}

void
bench_watchdog_names(const char *dir)
{
    snprintf(watchdog_dir, sizeof watchdog_dir, "%s", dir);
}
