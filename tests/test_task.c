/*
 * test_task.c -- process and function tasks through the public API
 * (task.h), black-box: capture, exit codes and signals, env, cwd, stdin,
 * shards and jobs, timeouts, cancel, retries, spawn errors, bad arguments,
 * events, ids, priorities, shutdown with live processes, resource limits,
 * and that nothing leaks (descriptors, zombies, processes).
 *
 * Child processes are /bin/sh and coreutils. Processes a test must find
 * again carry a unique argument (a marker: `sleep 100.<pid><n>`), which the
 * test looks for in /proc/<pid>/cmdline.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <repartir.h>

#include "tests/testing.h"

/* Ceiling for a wait on a task that should end soon: only a broken engine
 * gets near it. */
#define WAIT_MS 30000

/* ---- helpers ---- */

/* Two workers; max_processes 0 means two processes at once. */
static rp_pool *
make_pool(unsigned max_processes)
{
    return rp_test_pool(2, 0, max_processes);
}

/* A time bound for something that takes `plain` seconds in a plain build:
 * sanitized builds get more room (their spawns are slower). */
static double
bound(double plain)
{
    return rp_test_slowdown() == 1 ? plain : plain * 3;
}

/* /bin/sh -c script */
static rp_task *
sh_task(const char *script)
{
    rp_task *t = rp_task_new("/bin/sh");

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(rp_task_add_arg(t, "-c"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_add_arg(t, script), RP_OK);
    return t;
}

static rp_result *
wait_for(rp_pool *pool, rp_task_id id)
{
    rp_result *r = NULL;

    CU_ASSERT_EQUAL_FATAL(rp_wait(pool, id, WAIT_MS, &r), RP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(rp_result_task(r), id);
    CU_ASSERT_TRUE(rp_task_state_is_final(rp_result_state(r)));
    return r;
}

static rp_result *
run(rp_pool *pool, rp_task *t)
{
    return wait_for(pool, rp_test_submit(pool, t));
}

static bool
bytes_are(const char *p, size_t len, const char *want)
{
    return p != NULL && len == strlen(want) && memcmp(p, want, len) == 0;
}

static bool
stdout_is(const rp_result *r, const char *want)
{
    size_t len = 0;
    const char *p = rp_result_stdout(r, &len);

    return bytes_are(p, len, want);
}

static bool
stderr_is(const rp_result *r, const char *want)
{
    size_t len = 0;
    const char *p = rp_result_stderr(r, &len);

    return bytes_are(p, len, want);
}

static bool
contains(const char *hay, const char *needle)
{
    return hay != NULL && strstr(hay, needle) != NULL;
}

/* Polls rp_task_status until the task is in state `want`. */
static bool
wait_state(rp_pool *pool, rp_task_id id, rp_task_state want, double seconds)
{
    double give_up = rp_test_now() + seconds;
    rp_task_state s;

    do {
        if (rp_task_status(pool, id, &s) == RP_OK && s == want)
            return true;
        rp_test_sleep_ms(2);
    } while (rp_test_now() < give_up);
    return false;
}

/* /bin/true, and it must succeed: the pool still works. */
static void
assert_pool_still_runs(rp_pool *pool)
{
    rp_result *r = run(pool, rp_task_new("/bin/true"));

    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    rp_result_free(r);
}

/* ---- temp dirs ---- */

/* A private temp dir for one test; remove_tree() takes it away. */
static void
make_tmpdir(char *dir, size_t size)
{
    rp_test_tmpdir(dir, size, "task");
}

static void
remove_tree(const char *dir)
{
    rp_test_remove_tree(dir);
}

static bool
file_exists(const char *dir, const char *name)
{
    char path[PATH_MAX];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* ---- /proc ---- */

struct proc {
    int pid, ppid, pgrp;
    char state;
};

static bool
read_proc(int pid, struct proc *p)
{
    char path[64], buf[1024];
    const char *close_paren;
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return false;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) S ppid pgrp ...": comm may hold spaces and parens. */
    if ((close_paren = strrchr(buf, ')')) == NULL)
        return false;
    p->pid = pid;
    return sscanf(close_paren + 1, " %c %d %d", &p->state, &p->ppid, &p->pgrp) == 3;
}

typedef bool (*proc_match)(const struct proc *p, const void *ctx);

/* Processes other than this one that match; with sig != 0 also sends them
 * sig (clean-up after a failure, so one broken test leaves nothing). */
static int
scan_procs(proc_match match, const void *ctx, int sig)
{
    DIR *dir = opendir("/proc");
    struct dirent *e;
    int n = 0, self = (int)getpid();

    if (dir == NULL)
        return -1;
    while ((e = readdir(dir)) != NULL) {
        struct proc p;
        char *end;
        long pid = strtol(e->d_name, &end, 10);

        if (*end != '\0' || pid <= 0 || pid == self)
            continue;
        if (!read_proc((int)pid, &p) || !match(&p, ctx))
            continue;
        n++;
        if (sig != 0)
            kill(p.pid, sig);
    }
    closedir(dir);
    return n;
}

/* A live process (not a zombie) whose argv holds the marker. */
static bool
has_marker(const struct proc *p, const void *ctx)
{
    const char *marker = ctx;
    char path[64], buf[8192];
    ssize_t n;
    int fd;

    if (p->state == 'Z' || p->state == 'X')
        return false;
    snprintf(path, sizeof path, "/proc/%d/cmdline", p->pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return false;
    n = read(fd, buf, sizeof buf);
    close(fd);
    return n > 0 && memmem(buf, (size_t)n, marker, strlen(marker)) != NULL;
}

/* A live process in process group *ctx. */
static bool
in_group(const struct proc *p, const void *ctx)
{
    return p->pgrp == *(const int *)ctx && p->state != 'Z' && p->state != 'X';
}

/* A zombie child of this process: somebody forgot to reap it. */
static bool
zombie_child(const struct proc *p, const void *ctx)
{
    (void)ctx;
    return p->ppid == (int)getpid() && p->state == 'Z';
}

/* Polls until exactly `want` processes match. */
static bool
wait_procs(proc_match match, const void *ctx, int want, double seconds)
{
    double give_up = rp_test_now() + seconds;

    do {
        if (scan_procs(match, ctx, 0) == want)
            return true;
        rp_test_sleep_ms(10);
    } while (rp_test_now() < give_up);
    return false;
}

/* A fresh marker, unique to this process: "100.<pid><n>", a valid
 * duration for sleep(1) (100 seconds and a bit). */
static void
new_marker(char *buf, size_t size)
{
    static _Atomic unsigned counter;

    snprintf(buf, size, "100.%d%04u", (int)getpid(), atomic_fetch_add(&counter, 1) + 1);
}

static int
count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (dir == NULL)
        return -1;
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

static long
rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static int
read_pid_file(const char *dir, const char *name)
{
    char path[PATH_MAX];
    FILE *f;
    int pid = 0;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    if (fscanf(f, "%d", &pid) != 1)
        pid = 0;
    fclose(f);
    return pid;
}

/* ---- events ---- */

/* Reads events into ev[] until every task in ids[] had a final event (or
 * no event came for 5 s). Returns how many it read; *lost sums the lost
 * counts. */
static size_t
collect_events(rp_subscription *sub, const rp_task_id *ids, size_t n_ids, rp_event *ev,
               size_t cap, uint64_t *lost)
{
    size_t n = 0, finals = 0;

    *lost = 0;
    while (finals < n_ids && n < cap) {
        uint64_t l = 0;

        if (rp_subscription_next(sub, 5000, &ev[n], &l) != RP_OK)
            break;
        *lost += l;
        if (rp_task_state_is_final(ev[n].state))
            for (size_t i = 0; i < n_ids; i++)
                if (ids[i] == ev[n].task)
                    finals++;
        n++;
    }
    return n;
}

/* ================================ capture ================================ */

static void
capture_stdout_and_stderr_separately(void)
{
    rp_pool *pool = make_pool(0);
    rp_result *r;
    size_t len;
    const char *p;

    r = run(pool, sh_task("printf out-bytes; printf err-bytes >&2"));
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_TRUE(stdout_is(r, "out-bytes"));
    CU_ASSERT_TRUE(stderr_is(r, "err-bytes"));
    CU_ASSERT_EQUAL(rp_result_stdout_total(r), 9);
    CU_ASSERT_EQUAL(rp_result_stderr_total(r), 9);
    CU_ASSERT_FALSE(rp_result_stdout_truncated(r));
    CU_ASSERT_FALSE(rp_result_stderr_truncated(r));
    rp_result_free(r);

    /* Both pipes fill at once: an engine that drains one stream to its end
     * before it reads the other deadlocks here. */
    r = run(pool, sh_task("head -c 300000 /dev/zero >&2; head -c 200000 /dev/zero; "
                          "printf e >&2"));
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    p = rp_result_stdout(r, &len);
    CU_ASSERT_EQUAL(len, 200000);
    CU_ASSERT(len == 200000 && p[0] == '\0' && p[len - 1] == '\0');
    CU_ASSERT_EQUAL(rp_result_stdout_total(r), 200000);
    p = rp_result_stderr(r, &len);
    CU_ASSERT_EQUAL_FATAL(len, 300001);
    CU_ASSERT_EQUAL(p[0], '\0');
    CU_ASSERT_EQUAL(p[len - 1], 'e');
    rp_result_free(r);

    /* Nothing written: empty, never NULL. */
    r = run(pool, rp_task_new("/bin/true"));
    p = rp_result_stdout(r, &len);
    CU_ASSERT_PTR_NOT_NULL(p);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_PTR_NOT_NULL(rp_result_stderr(r, NULL));    /* len may be NULL */
    rp_result_free(r);
    rp_pool_shutdown(pool);
}

static void
capture_binary_bytes_exactly(void)
{
    static const char want[] = { '\0', '\377', 'a', 'b', 'c', '\0' };
    rp_pool *pool = make_pool(0);
    rp_result *r;
    const char *p;
    size_t len;

    r = run(pool, sh_task("printf '\\000\\377abc\\000'; printf '\\000\\377abc\\000' >&2"));
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    p = rp_result_stdout(r, &len);
    CU_ASSERT_EQUAL(len, sizeof want);
    CU_ASSERT(len == sizeof want && memcmp(p, want, len) == 0);
    p = rp_result_stderr(r, &len);
    CU_ASSERT_EQUAL(len, sizeof want);
    CU_ASSERT(len == sizeof want && memcmp(p, want, len) == 0);
    rp_result_free(r);
    rp_pool_shutdown(pool);
}

static void
capture_flood_keeps_the_tail_in_bounded_memory(void)
{
    size_t total = (size_t)104857600 / rp_test_slowdown();   /* 100 MiB plain */
    rp_pool *pool = make_pool(0);
    rp_result *r = NULL;
    rp_task_id id;
    rp_status st;
    long base, peak, now;
    double give_up = rp_test_now() + WAIT_MS / 1000.0;
    const char *p;
    size_t len;
    bool zeros = true;

    assert_pool_still_runs(pool);                    /* warm up */
    base = peak = rss_kb();
    CU_ASSERT_FATAL(base > 0);
    /* total - 4 zero bytes, then a recognisable end. */
    id = rp_test_submit(pool, rp_test_sh("head -c %zu /dev/zero; printf TAIL", total - 4));
    while ((st = rp_wait(pool, id, 5, &r)) == RP_ERR_TIMEOUT && rp_test_now() < give_up)
        if ((now = rss_kb()) > peak)
            peak = now;
    CU_ASSERT_EQUAL_FATAL(st, RP_OK);
    if ((now = rss_kb()) > peak)
        peak = now;

    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(rp_result_stdout_total(r), (uint64_t)total);
    CU_ASSERT_TRUE(rp_result_stdout_truncated(r));
    CU_ASSERT_FALSE(rp_result_stderr_truncated(r));
    p = rp_result_stdout(r, &len);
    CU_ASSERT_EQUAL_FATAL(len, RP_CAPTURE_DEFAULT);
    CU_ASSERT(memcmp(p + len - 4, "TAIL", 4) == 0);
    for (size_t i = 0; i < len - 4; i++)
        zeros = zeros && p[i] == '\0';
    CU_ASSERT_TRUE(zeros);
    /* The flood streamed through: this process grew by far less than it. */
    CU_ASSERT(peak - base < 32 * 1024);
    if (peak - base >= 32 * 1024)
        fprintf(stderr, "\n    RSS grew by %ld KiB for a %zu-byte flood\n", peak - base, total);
    rp_result_free(r);
    rp_pool_shutdown(pool);
}

static void
capture_limit_keeps_the_last_bytes(void)
{
    rp_pool *pool = make_pool(0);
    rp_result *r;
    rp_task *t;
    char *want;
    size_t len, wlen = 0;
    const char *p;

    t = sh_task("printf 0123456789abcdefghij; printf ABCDEFGHIJKLMNOPQRSTUVWXYZ >&2");
    CU_ASSERT_EQUAL(rp_task_set_capture_limit(t, 10), RP_OK);
    r = run(pool, t);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_TRUE(stdout_is(r, "abcdefghij"));
    CU_ASSERT_TRUE(stderr_is(r, "QRSTUVWXYZ"));
    CU_ASSERT_EQUAL(rp_result_stdout_total(r), 20);
    CU_ASSERT_EQUAL(rp_result_stderr_total(r), 26);
    CU_ASSERT_TRUE(rp_result_stdout_truncated(r));
    CU_ASSERT_TRUE(rp_result_stderr_truncated(r));
    rp_result_free(r);

    /* Exactly at the limit: nothing dropped. */
    t = sh_task("printf 0123456789");
    CU_ASSERT_EQUAL(rp_task_set_capture_limit(t, 10), RP_OK);
    r = run(pool, t);
    CU_ASSERT_TRUE(stdout_is(r, "0123456789"));
    CU_ASSERT_FALSE(rp_result_stdout_truncated(r));
    rp_result_free(r);

    /* Many small writes wrap the kept tail many times over. */
    t = sh_task("i=0; while [ $i -lt 1000 ]; do echo \"line $i\"; i=$((i+1)); done");
    CU_ASSERT_EQUAL(rp_task_set_capture_limit(t, 100), RP_OK);
    r = run(pool, t);
    want = malloc(16 * 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(want);
    for (int i = 0; i < 1000; i++)
        wlen += (size_t)sprintf(want + wlen, "line %d\n", i);
    p = rp_result_stdout(r, &len);
    CU_ASSERT_EQUAL(len, 100);
    CU_ASSERT(len == 100 && memcmp(p, want + wlen - 100, 100) == 0);
    CU_ASSERT_EQUAL(rp_result_stdout_total(r), (uint64_t)wlen);
    free(want);
    rp_result_free(r);

    /* 0 discards, but still counts. */
    t = sh_task("printf 12345");
    CU_ASSERT_EQUAL(rp_task_set_capture_limit(t, 0), RP_OK);
    r = run(pool, t);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    rp_result_stdout(r, &len);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_EQUAL(rp_result_stdout_total(r), 5);
    rp_result_free(r);
    rp_pool_shutdown(pool);
}

/* ============================ exits and signals ============================ */

static void
exit_codes_and_signals_are_reported(void)
{
    rp_pool *pool = make_pool(0);
    rp_result *r;
    const char *err;

    r = run(pool, sh_task("exit 0"));
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_TRUE(rp_result_is_success(r));
    CU_ASSERT_EQUAL(rp_result_exit_code(r), 0);
    CU_ASSERT_EQUAL(rp_result_signal(r), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rp_result_error(r));
    CU_ASSERT_STRING_EQUAL(rp_result_error(r), "");
    CU_ASSERT_EQUAL(rp_result_attempts(r), 1);
    rp_result_free(r);

    r = run(pool, sh_task("exit 7"));
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT_FALSE(rp_result_is_success(r));
    CU_ASSERT_EQUAL(rp_result_exit_code(r), 7);
    CU_ASSERT_EQUAL(rp_result_signal(r), 0);
    err = rp_result_error(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT(strlen(err) > 0 && contains(err, "7"));
    CU_ASSERT_EQUAL(rp_result_attempts(r), 1);
    rp_result_free(r);

    r = run(pool, sh_task("kill -KILL $$"));
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT_FALSE(rp_result_is_success(r));
    CU_ASSERT_EQUAL(rp_result_exit_code(r), -1);
    CU_ASSERT_EQUAL(rp_result_signal(r), SIGKILL);
    err = rp_result_error(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT(contains(err, "SIGKILL") || contains(err, "Killed") || contains(err, "signal 9"));
    rp_result_free(r);

    r = run(pool, sh_task("kill -TERM $$"));
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT_EQUAL(rp_result_exit_code(r), -1);
    CU_ASSERT_EQUAL(rp_result_signal(r), SIGTERM);
    rp_result_free(r);
    rp_pool_shutdown(pool);
}

static void
arguments_pass_verbatim_and_path_is_searched(void)
{
    rp_pool *pool = make_pool(0);
    rp_task *t = rp_task_new("printf");               /* found in PATH */
    rp_result *r;

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(rp_task_add_arg(t, "%s|"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_add_arg(t, "a b"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_add_arg(t, ""), RP_OK);
    CU_ASSERT_EQUAL(rp_task_add_arg(t, "'\"$HOME*"), RP_OK);
    r = run(pool, t);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_TRUE(stdout_is(r, "a b||'\"$HOME*|"));
    rp_result_free(r);

    r = run(pool, rp_task_new("true"));
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    rp_result_free(r);
    rp_pool_shutdown(pool);
}

/* ========================== env, cwd, stdin, shards ========================== */

static void
env_reaches_the_child(void)
{
    rp_pool *pool;
    rp_task *t;
    rp_result *r;
    rp_task_id id;
    rp_job_id job = 0;
    char want[256];

    /* Set while this process has no other threads (no pool is alive). */
    setenv("RP_TEST_INHERITED", "from-parent", 1);
    setenv("RP_TEST_OVERRIDDEN", "old", 1);
    pool = make_pool(0);

    t = sh_task("printf '%s|%s|%s|%s|%s|%s' \"$RP_TEST_VAR\" \"$RP_TEST_INHERITED\" "
                "\"$RP_TEST_OVERRIDDEN\" \"${RP_TEST_EMPTY+set}\" \"$REPARTIR_TASK_ID\" "
                "\"$REPARTIR_JOB_ID\"");
    CU_ASSERT_EQUAL(rp_task_set_env(t, "RP_TEST_VAR", "first"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_env(t, "RP_TEST_VAR", "a b=c"), RP_OK);   /* later wins */
    CU_ASSERT_EQUAL(rp_task_set_env(t, "RP_TEST_OVERRIDDEN", "new"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_env(t, "RP_TEST_EMPTY", ""), RP_OK);
    id = rp_test_submit(pool, t);
    r = wait_for(pool, id);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(rp_task_job(pool, id, &job), RP_OK);
    CU_ASSERT_NOT_EQUAL(job, 0);
    CU_ASSERT_EQUAL(rp_result_job(r), job);
    snprintf(want, sizeof want, "a b=c|from-parent|new|set|%" PRIu64 "|%" PRIu64,
             (uint64_t)id, (uint64_t)job);
    CU_ASSERT_TRUE(stdout_is(r, want));
    if (!stdout_is(r, want)) {
        size_t len;
        const char *p = rp_result_stdout(r, &len);
        fprintf(stderr, "\n    want '%s', got '%.*s'\n", want, (int)len, p);
    }
    rp_result_free(r);

    /* One task's env is its own; this process's is untouched. */
    r = run(pool, sh_task("printf %s \"${RP_TEST_VAR-unset}|$RP_TEST_OVERRIDDEN\""));
    CU_ASSERT_TRUE(stdout_is(r, "unset|old"));
    rp_result_free(r);
    CU_ASSERT_PTR_NULL(getenv("RP_TEST_VAR"));
    CU_ASSERT_STRING_EQUAL(getenv("RP_TEST_OVERRIDDEN"), "old");

    rp_pool_shutdown(pool);
    unsetenv("RP_TEST_INHERITED");
    unsetenv("RP_TEST_OVERRIDDEN");
}

static void
cwd_is_set(void)
{
    char dir[256], real[PATH_MAX], here[PATH_MAX], want[PATH_MAX + 2];
    rp_pool *pool = make_pool(0);
    rp_task *t;
    rp_result *r;

    make_tmpdir(dir, sizeof dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(dir, real));
    t = sh_task("pwd -P; printf x > made-here");
    CU_ASSERT_EQUAL(rp_task_set_cwd(t, dir), RP_OK);
    r = run(pool, t);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    snprintf(want, sizeof want, "%s\n", real);
    CU_ASSERT_TRUE(stdout_is(r, want));
    CU_ASSERT_TRUE(file_exists(dir, "made-here"));
    rp_result_free(r);

    /* Default: this process's. */
    CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(here, sizeof here));
    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(here, real));
    r = run(pool, sh_task("pwd -P"));
    snprintf(want, sizeof want, "%s\n", real);
    CU_ASSERT_TRUE(stdout_is(r, want));
    rp_result_free(r);

    rp_pool_shutdown(pool);
    remove_tree(dir);
}

static void
stdin_bytes_reach_the_child(void)
{
    size_t n = 256 * 1024 + 3;                      /* well past a pipe buffer */
    char *data = malloc(n);
    rp_pool *pool = make_pool(0);
    rp_task *t;
    rp_result *r;
    const char *p;
    size_t len;

    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 7 + (i >> 8));          /* every byte value, NUL and 0xff too */
    t = rp_task_new("/bin/cat");
    CU_ASSERT_EQUAL(rp_task_set_stdin(t, data, n), RP_OK);
    memset(data, 0, n);                             /* copied: ours to change */
    r = run(pool, t);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 7 + (i >> 8));
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    p = rp_result_stdout(r, &len);
    CU_ASSERT_EQUAL(len, n);
    CU_ASSERT(len == n && memcmp(p, data, n) == 0);
    rp_result_free(r);

    /* Small, then empty: EOF comes. */
    t = rp_task_new("/bin/cat");
    CU_ASSERT_EQUAL(rp_task_set_stdin(t, "a\0b", 3), RP_OK);
    r = run(pool, t);
    p = rp_result_stdout(r, &len);
    CU_ASSERT(len == 3 && memcmp(p, "a\0b", 3) == 0);
    rp_result_free(r);
    t = rp_task_new("/bin/cat");
    CU_ASSERT_EQUAL(rp_task_set_stdin(t, "", 0), RP_OK);
    r = run(pool, t);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_TRUE(stdout_is(r, ""));
    rp_result_free(r);

    /* Default stdin is /dev/null. */
    r = run(pool, sh_task("readlink /proc/self/fd/0"));
    CU_ASSERT_TRUE(stdout_is(r, "/dev/null\n"));
    rp_result_free(r);

    free(data);
    rp_pool_shutdown(pool);
}

/* The child exits without reading its stdin: the engine's writes fail with
 * EPIPE, which must not kill this process (SIGPIPE) nor fail the task. */
static void
unread_stdin_is_no_problem(void)
{
    size_t n = 4 << 20;
    char *data = calloc(1, n);
    rp_pool *pool = make_pool(0);

    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    for (int i = 0; i < 4; i++) {
        rp_task *t = sh_task("exit 0");
        rp_result *r;

        CU_ASSERT_EQUAL(rp_task_set_stdin(t, data, n), RP_OK);
        r = run(pool, t);
        CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
        rp_result_free(r);
    }
    free(data);
    assert_pool_still_runs(pool);
    rp_pool_shutdown(pool);
}

static void
shards_see_their_index(void)
{
    rp_pool *pool = make_pool(0);
    rp_task_id ids[4] = { 0 };
    rp_job_id job = 0, of_task;
    rp_job_info info;

    CU_ASSERT_EQUAL_FATAL(rp_submit_job(pool, sh_task("printf %s/%s \"$REPARTIR_SHARD\" "
                                                      "\"$REPARTIR_TOTAL_SHARDS\""),
                                        4, &job, ids),
                          RP_OK);
    CU_ASSERT_NOT_EQUAL(job, 0);
    for (unsigned i = 0; i < 4; i++) {
        rp_result *r;
        char want[16];

        CU_ASSERT_NOT_EQUAL(ids[i], 0);
        if (i > 0)
            CU_ASSERT(ids[i] > ids[i - 1]);
        r = wait_for(pool, ids[i]);
        CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
        CU_ASSERT_EQUAL(rp_result_shard(r), i);
        CU_ASSERT_EQUAL(rp_result_job(r), job);
        snprintf(want, sizeof want, "%u/4", i);
        CU_ASSERT_TRUE(stdout_is(r, want));
        CU_ASSERT_EQUAL(rp_task_job(pool, ids[i], &of_task), RP_OK);
        CU_ASSERT_EQUAL(of_task, job);
        rp_result_free(r);
    }
    CU_ASSERT_EQUAL_FATAL(rp_job_get(pool, job, &info), RP_OK);
    CU_ASSERT_EQUAL(info.id, job);
    CU_ASSERT_EQUAL(info.total, 4);
    CU_ASSERT_EQUAL(info.count[RP_TASK_SUCCEEDED], 4);
    CU_ASSERT_EQUAL(info.state, RP_TASK_SUCCEEDED);

    /* One shard fails: the job fails, the others still succeed. */
    CU_ASSERT_EQUAL_FATAL(rp_submit_job(pool, sh_task("[ \"$REPARTIR_SHARD\" != 2 ]"), 3, &job,
                                        ids),
                          RP_OK);
    for (unsigned i = 0; i < 3; i++) {
        rp_result *r = wait_for(pool, ids[i]);
        CU_ASSERT_EQUAL(rp_result_state(r), i == 2 ? RP_TASK_FAILED : RP_TASK_SUCCEEDED);
        rp_result_free(r);
    }
    CU_ASSERT_EQUAL_FATAL(rp_job_get(pool, job, &info), RP_OK);
    CU_ASSERT_EQUAL(info.total, 3);
    CU_ASSERT_EQUAL(info.count[RP_TASK_SUCCEEDED], 2);
    CU_ASSERT_EQUAL(info.count[RP_TASK_FAILED], 1);
    CU_ASSERT_EQUAL(info.state, RP_TASK_FAILED);

    /* Outputs may be left NULL. */
    CU_ASSERT_EQUAL(rp_submit_job(pool, rp_task_new("/bin/true"), 2, NULL, NULL), RP_OK);
    rp_pool_shutdown(pool);
}

/* rp_job_wait returns once, when the last shard ends, with the roll-up. */
static void
job_wait_returns_when_every_shard_ended(void)
{
    rp_pool *pool = make_pool(0);
    rp_job_id job = 0;
    rp_task_id ids[3];
    rp_job_info info;
    rp_result *r = NULL;
    double t0 = rp_test_now();

    CU_ASSERT_EQUAL_FATAL(rp_submit_job(pool, sh_task("sleep 0.$((REPARTIR_SHARD * 2 + 1))"),
                                        3, &job, ids),
                          RP_OK);
    CU_ASSERT_EQUAL(rp_job_wait(pool, job, 0, &info), RP_ERR_TIMEOUT);
    CU_ASSERT_EQUAL(rp_job_wait(pool, job, 20, NULL), RP_ERR_TIMEOUT);
    CU_ASSERT_EQUAL(rp_job_wait(pool, job, -1, &info), RP_OK);
    /* The last shard sleeps 0.5 s: the wait cannot have ended before. */
    CU_ASSERT(rp_test_now() - t0 >= 0.45);
    CU_ASSERT_EQUAL(info.id, job);
    CU_ASSERT_EQUAL(info.total, 3);
    CU_ASSERT_EQUAL(info.state, RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(info.count[RP_TASK_SUCCEEDED], 3);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(rp_wait(pool, ids[i], 0, &r), RP_OK);
        CU_ASSERT_TRUE(rp_result_is_success(r));
        rp_result_free(r);
    }
    CU_ASSERT_EQUAL(rp_job_wait(pool, job, 0, NULL), RP_OK);       /* done: no wait */
    CU_ASSERT_EQUAL(rp_job_wait(pool, job + 1000, 0, NULL), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_job_wait(NULL, job, 0, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_job_wait(pool, job, -2, NULL), RP_ERR_INVALID);
    rp_pool_shutdown(pool);
}

static void
cancel_job_cancels_every_shard(void)
{
    rp_pool *pool = make_pool(1);                   /* one runs, the rest queue */
    char marker[64];
    rp_task_id ids[3];
    rp_job_id job;
    rp_job_info info;

    new_marker(marker, sizeof marker);
    CU_ASSERT_EQUAL_FATAL(rp_submit_job(pool, rp_test_sh("exec sleep %s", marker), 3, &job, ids),
                          RP_OK);
    CU_ASSERT_TRUE(wait_state(pool, ids[0], RP_TASK_RUNNING, bound(5)) ||
                   wait_state(pool, ids[1], RP_TASK_RUNNING, 0.1) ||
                   wait_state(pool, ids[2], RP_TASK_RUNNING, 0.1));
    CU_ASSERT_EQUAL_FATAL(rp_job_get(pool, job, &info), RP_OK);
    CU_ASSERT_EQUAL(info.state, RP_TASK_RUNNING);
    CU_ASSERT_EQUAL(info.count[RP_TASK_RUNNING], 1);
    CU_ASSERT_EQUAL(info.count[RP_TASK_QUEUED], 2);
    CU_ASSERT_EQUAL(rp_cancel_job(pool, job), RP_OK);
    for (int i = 0; i < 3; i++) {
        rp_result *r = wait_for(pool, ids[i]);
        CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_CANCELLED);
        rp_result_free(r);
    }
    CU_ASSERT_EQUAL_FATAL(rp_job_get(pool, job, &info), RP_OK);
    CU_ASSERT_EQUAL(info.count[RP_TASK_CANCELLED], 3);
    CU_ASSERT_EQUAL(info.state, RP_TASK_CANCELLED);
    CU_ASSERT_TRUE(wait_procs(has_marker, marker, 0, 3));
    rp_pool_shutdown(pool);
    scan_procs(has_marker, marker, SIGKILL);
}

/* ============================ timeout and cancel ============================ */

static void
timeout_ends_the_task(void)
{
    rp_pool *pool = make_pool(0);
    char marker[64];
    rp_task *t;
    rp_result *r;
    double t0, took;

    new_marker(marker, sizeof marker);
    t = rp_test_sh("exec sleep %s", marker);
    CU_ASSERT_EQUAL(rp_task_set_timeout_ms(t, 200), RP_OK);
    t0 = rp_test_now();
    r = run(pool, t);
    took = rp_test_now() - t0;
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_TIMED_OUT);
    CU_ASSERT_FALSE(rp_result_is_success(r));
    CU_ASSERT(took >= 0.19 && took < bound(1.0));
    CU_ASSERT(strlen(rp_result_error(r)) > 0);
    CU_ASSERT_EQUAL(rp_result_attempts(r), 1);
    CU_ASSERT_TRUE(wait_procs(has_marker, marker, 0, 1));
    rp_result_free(r);

    /* One that ignores SIGTERM (its children inherit that): SIGKILL after
     * the grace period. */
    new_marker(marker, sizeof marker);
    t = rp_test_sh("trap '' TERM; sleep %s; sleep %s", marker, marker);
    CU_ASSERT_EQUAL(rp_task_set_timeout_ms(t, 200), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_kill_grace_ms(t, 100), RP_OK);
    t0 = rp_test_now();
    r = run(pool, t);
    took = rp_test_now() - t0;
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_TIMED_OUT);
    CU_ASSERT(took >= 0.29 && took < bound(1.0));
    CU_ASSERT_TRUE(wait_procs(has_marker, marker, 0, 1));
    rp_result_free(r);
    rp_pool_shutdown(pool);
    scan_procs(has_marker, marker, SIGKILL);
}

/* A shell with two background children is cancelled once they all run:
 * it ends CANCELLED and its whole process group is gone. */
static void
cancel_process_tree(bool ignore_term)
{
    rp_pool *pool = make_pool(0);
    char dir[256], marker[64];
    rp_task *t;
    rp_task_id id;
    rp_result *r;
    struct proc leader;
    double t0;
    int pid = 0;

    make_tmpdir(dir, sizeof dir);
    new_marker(marker, sizeof marker);
    t = rp_test_sh("%s echo $$ > '%s/pid'; sleep %s & sleep %s & wait",
                 ignore_term ? "trap '' TERM;" : "", dir, marker, marker);
    if (ignore_term)
        CU_ASSERT_EQUAL(rp_task_set_kill_grace_ms(t, 300), RP_OK);
    id = rp_test_submit(pool, t);
    CU_ASSERT_TRUE_FATAL(wait_state(pool, id, RP_TASK_RUNNING, bound(5)));
    /* The shell and both children (all carry the marker). */
    CU_ASSERT_TRUE(wait_procs(has_marker, marker, 3, bound(5)));
    pid = read_pid_file(dir, "pid");
    CU_ASSERT_FATAL(pid > 0);
    /* The task leads a process group of its own. */
    CU_ASSERT_TRUE(read_proc(pid, &leader));
    CU_ASSERT_EQUAL(leader.pgrp, pid);
    CU_ASSERT_EQUAL(scan_procs(in_group, &pid, 0), 3);

    t0 = rp_test_now();
    CU_ASSERT_EQUAL(rp_cancel(pool, id), RP_OK);
    r = wait_for(pool, id);
    CU_ASSERT(rp_test_now() - t0 < bound(3));
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_CANCELLED);
    CU_ASSERT_FALSE(rp_result_is_success(r));
    CU_ASSERT(strlen(rp_result_error(r)) > 0);
    rp_result_free(r);
    CU_ASSERT_TRUE(wait_procs(in_group, &pid, 0, 3));
    CU_ASSERT_TRUE(wait_procs(has_marker, marker, 0, 3));
    CU_ASSERT_EQUAL(scan_procs(zombie_child, NULL, 0), 0);
    /* Cancelling what has ended changes nothing. */
    CU_ASSERT_EQUAL(rp_cancel(pool, id), RP_OK);
    r = wait_for(pool, id);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_CANCELLED);
    rp_result_free(r);

    rp_pool_shutdown(pool);
    scan_procs(has_marker, marker, SIGKILL);
    remove_tree(dir);
}

static void
cancel_kills_the_process_group(void)
{
    cancel_process_tree(false);
}

static void
cancel_kills_a_group_that_ignores_sigterm(void)
{
    cancel_process_tree(true);
}

static void
cancel_of_a_queued_task_never_runs_it(void)
{
    rp_pool *pool = make_pool(1);
    char dir[256], marker[64];
    rp_task_id blocker, queued;
    rp_task_state s;
    rp_result *r = NULL;
    rp_stats st;

    make_tmpdir(dir, sizeof dir);
    new_marker(marker, sizeof marker);
    blocker = rp_test_submit(pool, rp_test_sh("exec sleep %s", marker));
    CU_ASSERT_TRUE_FATAL(wait_state(pool, blocker, RP_TASK_RUNNING, bound(5)));
    queued = rp_test_submit(pool, rp_test_sh("touch '%s/ran'", dir));
    CU_ASSERT_EQUAL(rp_task_status(pool, queued, &s), RP_OK);
    CU_ASSERT_EQUAL(s, RP_TASK_QUEUED);

    CU_ASSERT_EQUAL(rp_cancel(pool, queued), RP_OK);
    /* Final at once: no need to wait. */
    CU_ASSERT_EQUAL_FATAL(rp_wait(pool, queued, 0, &r), RP_OK);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_CANCELLED);
    CU_ASSERT_EQUAL(rp_result_attempts(r), 0);
    rp_result_free(r);
    CU_ASSERT_EQUAL(rp_cancel(pool, queued), RP_OK);   /* again: nothing changes */

    CU_ASSERT_EQUAL(rp_cancel(pool, blocker), RP_OK);
    r = wait_for(pool, blocker);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_CANCELLED);
    rp_result_free(r);
    assert_pool_still_runs(pool);                  /* the slot came back */
    rp_test_sleep_ms(100);
    CU_ASSERT_FALSE(file_exists(dir, "ran"));
    CU_ASSERT_EQUAL(rp_pool_stats(pool, &st), RP_OK);
    CU_ASSERT_EQUAL(st.cancelled, 2);
    CU_ASSERT_EQUAL(st.succeeded, 1);
    rp_pool_shutdown(pool);
    scan_procs(has_marker, marker, SIGKILL);
    remove_tree(dir);
}

/* ================================ no leaks ================================ */

static void
many_tasks_leak_no_descriptors_and_no_zombies(void)
{
    unsigned n = 1000 / rp_test_slowdown();
    rp_task_id *ids = calloc(n, sizeof *ids);
    int fds_at_start = count_fds();
    rp_pool *pool = make_pool(0);
    int fds_before, fds_after;
    unsigned ok = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
    /* Warm up every path once (lazy set-up is not a leak). */
    for (int i = 0; i < 3; i++) {
        rp_task *t = rp_task_new("/bin/cat");
        rp_task_set_stdin(t, "abc", 3);
        rp_result_free(run(pool, t));
        rp_result_free(run(pool, rp_task_new("/bin/true")));
        rp_result_free(run(pool, rp_task_new("/nonexistent/rp-test-binary")));
    }
    fds_before = count_fds();

    for (unsigned i = 0; i < n; i++) {
        rp_task *t;

        if (i % 10 == 5) {                           /* stdin and output pipes */
            t = rp_task_new("/bin/cat");
            rp_task_set_stdin(t, "abc", 3);
        } else if (i % 50 == 7) {                    /* the spawn-error path */
            t = rp_task_new("/nonexistent/rp-test-binary");
        } else {
            t = rp_task_new("/bin/true");
        }
        ids[i] = rp_test_submit(pool, t);
    }
    for (unsigned i = 0; i < n; i++) {
        rp_result *r = wait_for(pool, ids[i]);

        ok += rp_result_state(r) == (i % 50 == 7 ? RP_TASK_FAILED : RP_TASK_SUCCEEDED);
        rp_result_free(r);
    }
    CU_ASSERT_EQUAL(ok, n);
    fds_after = count_fds();
    CU_ASSERT_EQUAL(fds_after, fds_before);
    if (fds_after != fds_before)
        fprintf(stderr, "\n    descriptors: %d before, %d after\n", fds_before, fds_after);
    /* Every task is final: each child has been reaped. */
    CU_ASSERT_EQUAL(scan_procs(zombie_child, NULL, 0), 0);
    rp_pool_shutdown(pool);
    /* And the pool's own descriptors went with it. */
    CU_ASSERT_EQUAL(count_fds(), fds_at_start);
    free(ids);
}

/* ================================ retries ================================ */

static void
retries_back_off_exponentially(void)
{
    rp_pool *pool = make_pool(0);
    rp_subscription *sub = NULL;
    rp_event ev[64];
    uint64_t lost, running_ns[8];
    unsigned n_running = 0;
    rp_task *t;
    rp_task_id id;
    rp_result *r;
    rp_stats st;
    size_t n;

    CU_ASSERT_EQUAL_FATAL(rp_subscribe(pool, &sub), RP_OK);
    t = sh_task("kill -KILL $$");
    CU_ASSERT_EQUAL(rp_task_set_retries(t, 3), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_backoff(t, 40, 10000), RP_OK);
    id = rp_test_submit(pool, t);
    r = wait_for(pool, id);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT_EQUAL(rp_result_attempts(r), 4);
    CU_ASSERT_EQUAL(rp_result_signal(r), SIGKILL);
    rp_result_free(r);

    n = collect_events(sub, &id, 1, ev, 64, &lost);
    CU_ASSERT_EQUAL(lost, 0);
    for (size_t i = 0; i < n; i++) {
        if (ev[i].task != id || ev[i].state != RP_TASK_RUNNING)
            continue;
        if (n_running < 8) {
            CU_ASSERT_EQUAL(ev[i].attempt, n_running + 1);
            running_ns[n_running] = ev[i].time_ns;
        }
        n_running++;
    }
    CU_ASSERT_EQUAL_FATAL(n_running, 4);
    CU_ASSERT_EQUAL(ev[n - 1].state, RP_TASK_FAILED);
    CU_ASSERT_EQUAL(ev[n - 1].attempt, 4);
    {
        /* Delay before retry k is base * 2^(k-1) times [0.5, 1]: at least
         * 20, 40 and 80 ms; the third gap always beats the first. */
        double g1 = (double)(running_ns[1] - running_ns[0]) / 1e6;
        double g2 = (double)(running_ns[2] - running_ns[1]) / 1e6;
        double g3 = (double)(running_ns[3] - running_ns[2]) / 1e6;

        CU_ASSERT(g1 >= 19.5);
        CU_ASSERT(g2 >= 39.5);
        CU_ASSERT(g3 >= 79.5);
        CU_ASSERT(g3 > g1);
        if (!(g1 >= 19.5 && g2 >= 39.5 && g3 >= 79.5 && g3 > g1))
            fprintf(stderr, "\n    gaps between attempts: %.1f %.1f %.1f ms\n", g1, g2, g3);
    }
    CU_ASSERT_EQUAL(rp_pool_stats(pool, &st), RP_OK);
    CU_ASSERT_EQUAL(st.retried, 3);
    CU_ASSERT_EQUAL(st.failed, 1);
    rp_unsubscribe(sub);
    rp_pool_shutdown(pool);
}

static void
retry_on_exit_is_opt_in(void)
{
    rp_pool *pool = make_pool(0);
    char dir[256];
    rp_task *t;
    rp_result *r;

    make_tmpdir(dir, sizeof dir);
    /* A non-zero exit is not retried by default... */
    t = sh_task("exit 3");
    CU_ASSERT_EQUAL(rp_task_set_retries(t, 2), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_backoff(t, 1, 10), RP_OK);
    r = run(pool, t);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT_EQUAL(rp_result_exit_code(r), 3);
    CU_ASSERT_EQUAL(rp_result_attempts(r), 1);
    rp_result_free(r);

    /* ...only when asked for. */
    t = sh_task("exit 3");
    CU_ASSERT_EQUAL(rp_task_set_retries(t, 2), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_backoff(t, 1, 10), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_retry_on_exit(t, true), RP_OK);
    r = run(pool, t);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT_EQUAL(rp_result_exit_code(r), 3);
    CU_ASSERT_EQUAL(rp_result_attempts(r), 3);
    rp_result_free(r);

    /* Succeeds on its third attempt: the retries stop there. */
    t = rp_test_sh("f='%s/count'; n=$(cat \"$f\" 2>/dev/null || echo 0); n=$((n+1)); "
                 "echo $n > \"$f\"; printf %%s $n; [ $n -ge 3 ]", dir);
    CU_ASSERT_EQUAL(rp_task_set_retries(t, 5), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_backoff(t, 1, 10), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_retry_on_exit(t, true), RP_OK);
    r = run(pool, t);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(rp_result_attempts(r), 3);
    CU_ASSERT_TRUE(stdout_is(r, "3"));               /* the last attempt's output */
    rp_result_free(r);

    /* A spawn error is never retried. */
    t = rp_task_new("/nonexistent/rp-test-binary");
    CU_ASSERT_EQUAL(rp_task_set_retries(t, 3), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_backoff(t, 1, 10), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_retry_on_exit(t, true), RP_OK);
    r = run(pool, t);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT(rp_result_attempts(r) <= 1);
    rp_result_free(r);

    rp_pool_shutdown(pool);
    remove_tree(dir);
}

/* ================================ bad input ================================ */

/* Runs t, which cannot start: FAILED, with an error naming `what` and one
 * of the reasons. */
static void
assert_spawn_fails(rp_pool *pool, rp_task *t, const char *what, const char *reason1,
                   const char *reason2)
{
    rp_result *r = run(pool, t);
    const char *err = rp_result_error(r);

    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT_FALSE(rp_result_is_success(r));
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_TRUE(contains(err, what));
    CU_ASSERT_TRUE(contains(err, reason1) || (reason2 != NULL && contains(err, reason2)));
    if (!contains(err, what) || !(contains(err, reason1) || (reason2 && contains(err, reason2))))
        fprintf(stderr, "\n    error for '%s': '%s'\n", what, err);
    rp_result_free(r);
    assert_pool_still_runs(pool);
}

static void
bad_paths_fail_clearly(void)
{
    rp_pool *pool = make_pool(0);
    char dir[256], path[PATH_MAX + 32], name[64];
    char enoent[128], eacces[128], eisdir[128];
    rp_task *t;
    int fd;

    snprintf(enoent, sizeof enoent, "%s", strerror(ENOENT));
    snprintf(eacces, sizeof eacces, "%s", strerror(EACCES));
    snprintf(eisdir, sizeof eisdir, "%s", strerror(EISDIR));
    make_tmpdir(dir, sizeof dir);

    assert_spawn_fails(pool, rp_task_new("/nonexistent/rp-test-binary"),
                       "/nonexistent/rp-test-binary", enoent, NULL);
    assert_spawn_fails(pool, rp_task_new(dir), dir, eacces, eisdir);

    snprintf(path, sizeof path, "%s/not-executable", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
    close(fd);
    assert_spawn_fails(pool, rp_task_new(path), path, eacces, NULL);

    snprintf(name, sizeof name, "rp-no-such-program-%d", (int)getpid());
    assert_spawn_fails(pool, rp_task_new(name), name, enoent, "not found");

    snprintf(path, sizeof path, "%s/no-such-dir", dir);
    t = rp_task_new("/bin/true");
    CU_ASSERT_EQUAL(rp_task_set_cwd(t, path), RP_OK);
    assert_spawn_fails(pool, t, path, enoent, NULL);

    CU_ASSERT_EQUAL(scan_procs(zombie_child, NULL, 0), 0);
    rp_pool_shutdown(pool);
    remove_tree(dir);
}

static int
return_arg_fn(void *arg)
{
    return (int)(intptr_t)arg;
}

static void
bad_arguments_are_errors(void)
{
    rp_pool *pool = make_pool(0);
    rp_task *t, *fn;
    rp_task_id id = 0, new_id;
    rp_job_id job;
    rp_job_info info;
    rp_task_state s;
    rp_result *r = NULL;
    rp_subscription *sub = NULL;
    rp_event ev;
    char marker[64];
    double t0;

    CU_ASSERT_PTR_NULL(rp_task_new(NULL));
    CU_ASSERT_PTR_NULL(rp_task_new(""));
    CU_ASSERT_PTR_NULL(rp_task_new_fn(NULL, NULL));
    rp_task_free(NULL);                              /* ignored */
    rp_result_free(NULL);

    /* Building. */
    t = rp_task_new("/bin/true");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(rp_task_add_arg(NULL, "x"), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_add_arg(t, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_set_env(NULL, "K", "v"), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_set_env(t, "A=B", "v"), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_set_env(t, "", "v"), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_set_env(t, NULL, "v"), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_set_cwd(t, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_set_stdin(t, NULL, 3), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_set_backend(t, RP_BACKEND_CPU), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_backend(t, RP_BACKEND_ANY), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_backend(t, RP_BACKEND_GPU), RP_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(rp_task_set_backend(t, RP_BACKEND_REMOTE), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_backend(t, RP_BACKEND_ANY), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_priority(t, (rp_priority)4), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_set_priority(t, (rp_priority)-1), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_set_retries(t, 1001), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_set_retries(t, 1000), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_retries(t, 0), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_backoff(t, 0, 100), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_set_capture_limit(t, ((size_t)1 << 30) + 1), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_set_capture_limit(t, (size_t)1 << 30), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_limit(t, (rp_limit)99, 1), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_set_name(t, "a name"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_add_data_dep(t, "some-key"), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_checkpoint(t, true, 1000), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_checkpoint(t, false, 0), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_timeout_ms(NULL, 1), RP_ERR_INVALID);
    fn = rp_task_new_fn(return_arg_fn, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(fn);
    CU_ASSERT_EQUAL(rp_task_add_arg(fn, "x"), RP_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(rp_task_set_checkpoint(fn, true, 0), RP_ERR_UNSUPPORTED);
    rp_task_free(fn);

    /* Submitting: a task handed over is the pool's whatever the status. */
    CU_ASSERT_EQUAL(rp_submit(NULL, rp_task_new("/bin/true"), &id), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_submit(pool, NULL, &id), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_submit(pool, rp_task_new("/bin/true"), NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_submit_job(pool, rp_task_new("/bin/true"), 0, &job, NULL),
                    RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_submit_job(pool, rp_task_new("/bin/true"), 1000001, &job, NULL),
                    RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_submit_job(NULL, rp_task_new("/bin/true"), 1, &job, NULL),
                    RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_submit_job(pool, NULL, 1, &job, NULL), RP_ERR_INVALID);
    {
        /* Checkpoints need a store to keep them in. */
        rp_task *c = rp_task_new("/bin/true");
        CU_ASSERT_EQUAL(rp_task_set_checkpoint(c, true, 0), RP_OK);
        CU_ASSERT_EQUAL(rp_submit(pool, c, &id), RP_ERR_UNSUPPORTED);
    }

    id = rp_test_submit(pool, t);                           /* the good one */
    r = wait_for(pool, id);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    rp_result_free(r);

    /* Waiting and asking. */
    CU_ASSERT_EQUAL(rp_wait(NULL, id, 0, &r), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_wait(pool, id, 0, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_wait(pool, id + 1000000, 0, &r), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_wait(pool, id + 1000000, 50, &r), RP_ERR_NOT_FOUND);
    CU_ASSERT_NOT_EQUAL(rp_wait(pool, 0, 0, &r), RP_OK);
    CU_ASSERT_EQUAL(rp_task_status(NULL, id, &s), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_status(pool, id, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_status(pool, id + 1000000, &s), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_task_status(pool, id, &s), RP_OK);
    CU_ASSERT_EQUAL(s, RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(rp_task_job(NULL, id, &job), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_job(pool, id, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_task_job(pool, id + 1000000, &job), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_task_job(pool, id, &job), RP_OK);
    CU_ASSERT_EQUAL(rp_job_get(NULL, job, &info), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_job_get(pool, job, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_job_get(pool, job + 1000000, &info), RP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(rp_cancel(NULL, id), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_cancel_job(NULL, job), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_restore(pool, id, &new_id), RP_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(rp_subscribe(NULL, &sub), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_subscribe(pool, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_subscription_next(NULL, 0, &ev, NULL), RP_ERR_INVALID);

    /* rp_wait on a task still running: 0 only looks, 50 waits that long. */
    new_marker(marker, sizeof marker);
    id = rp_test_submit(pool, rp_test_sh("exec sleep %s", marker));
    CU_ASSERT_EQUAL(rp_wait(pool, id, 0, &r), RP_ERR_TIMEOUT);
    t0 = rp_test_now();
    CU_ASSERT_EQUAL(rp_wait(pool, id, 50, &r), RP_ERR_TIMEOUT);
    CU_ASSERT(rp_test_now() - t0 >= 0.045);
    CU_ASSERT_TRUE(wait_state(pool, id, RP_TASK_RUNNING, bound(5)));
    CU_ASSERT_EQUAL(rp_wait(pool, id, 0, &r), RP_ERR_TIMEOUT);
    CU_ASSERT_EQUAL(rp_cancel(pool, id), RP_OK);
    r = wait_for(pool, id);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_CANCELLED);
    rp_result_free(r);

    CU_ASSERT_STRING_EQUAL(rp_task_state_name(RP_TASK_QUEUED), "queued");
    CU_ASSERT_STRING_EQUAL(rp_task_state_name(RP_TASK_RUNNING), "running");
    CU_ASSERT_STRING_EQUAL(rp_task_state_name((rp_task_state)RP_TASK_STATE_COUNT), "unknown");
    CU_ASSERT_FALSE(rp_task_state_is_final(RP_TASK_QUEUED));
    CU_ASSERT_FALSE(rp_task_state_is_final(RP_TASK_RUNNING));
    CU_ASSERT_TRUE(rp_task_state_is_final(RP_TASK_SUCCEEDED));
    CU_ASSERT_TRUE(rp_task_state_is_final(RP_TASK_FAILED));
    CU_ASSERT_TRUE(rp_task_state_is_final(RP_TASK_CANCELLED));
    CU_ASSERT_TRUE(rp_task_state_is_final(RP_TASK_TIMED_OUT));
    rp_pool_shutdown(pool);
    scan_procs(has_marker, marker, SIGKILL);
}

/* ============================== function tasks ============================== */

struct fn_probe {
    _Atomic int entered, open, finished;
};

static int
probe_fn(void *arg)
{
    struct fn_probe *p = arg;

    atomic_store(&p->entered, 1);
    while (!atomic_load(&p->open))
        rp_test_sleep_ms(1);
    atomic_store(&p->finished, 1);
    return 0;
}

static void
function_tasks_run_on_the_pool(void)
{
    rp_pool *pool = make_pool(0);
    struct fn_probe probe;
    rp_task_id id;
    rp_result *r;
    size_t len;
    double give_up;

    r = run(pool, rp_task_new_fn(return_arg_fn, (void *)(intptr_t)0));
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_TRUE(rp_result_is_success(r));
    CU_ASSERT_EQUAL(rp_result_exit_code(r), 0);
    CU_ASSERT_STRING_EQUAL(rp_result_error(r), "");
    CU_ASSERT_EQUAL(rp_result_attempts(r), 1);
    CU_ASSERT_PTR_NOT_NULL(rp_result_stdout(r, &len));
    CU_ASSERT_EQUAL(len, 0);
    rp_result_free(r);

    r = run(pool, rp_task_new_fn(return_arg_fn, (void *)(intptr_t)3));
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT_FALSE(rp_result_is_success(r));
    CU_ASSERT_EQUAL(rp_result_exit_code(r), 3);
    CU_ASSERT_EQUAL(rp_result_signal(r), 0);
    CU_ASSERT(strlen(rp_result_error(r)) > 0);
    rp_result_free(r);

    /* A running function is not stopped by rp_cancel, but ends CANCELLED. */
    atomic_init(&probe.entered, 0);
    atomic_init(&probe.open, 0);
    atomic_init(&probe.finished, 0);
    id = rp_test_submit(pool, rp_task_new_fn(probe_fn, &probe));
    give_up = rp_test_now() + bound(5);
    while (!atomic_load(&probe.entered) && rp_test_now() < give_up)
        rp_test_sleep_ms(1);
    CU_ASSERT_TRUE_FATAL(atomic_load(&probe.entered));
    CU_ASSERT_EQUAL(rp_cancel(pool, id), RP_OK);
    atomic_store(&probe.open, 1);
    r = wait_for(pool, id);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_CANCELLED);
    CU_ASSERT_TRUE(atomic_load(&probe.finished));
    rp_result_free(r);
    rp_pool_shutdown(pool);
}

/* ================================= events ================================= */

static void
events_arrive_in_order_and_stats_count(void)
{
    enum { N = 6 };
    rp_pool *pool = make_pool(1);
    rp_subscription *sub = NULL, *late = NULL;
    rp_task_id ids[N];
    rp_task_state final[N];
    int exit_code[N], sig[N];
    rp_job_id jobs[N];
    rp_event ev[64], e;
    uint64_t lost;
    rp_stats st;
    rp_task *t;
    size_t n;

    CU_ASSERT_EQUAL_FATAL(rp_subscribe(pool, &sub), RP_OK);
    /* A task that times out holds the only process slot while the next is
     * queued and cancelled. */
    t = rp_task_new("/bin/sleep");
    rp_task_add_arg(t, "30");
    CU_ASSERT_EQUAL(rp_task_set_timeout_ms(t, 1000), RP_OK);
    ids[0] = rp_test_submit(pool, t);
    CU_ASSERT_TRUE_FATAL(wait_state(pool, ids[0], RP_TASK_RUNNING, bound(5)));
    ids[1] = rp_test_submit(pool, rp_task_new("/bin/true"));
    CU_ASSERT_EQUAL(rp_cancel(pool, ids[1]), RP_OK);
    ids[2] = rp_test_submit(pool, rp_task_new("/bin/true"));
    ids[3] = rp_test_submit(pool, sh_task("exit 5"));
    ids[4] = rp_test_submit(pool, sh_task("kill -KILL $$"));
    ids[5] = rp_test_submit(pool, rp_task_new_fn(return_arg_fn, NULL));
    for (int i = 0; i < N; i++) {
        rp_result *r = wait_for(pool, ids[i]);

        final[i] = rp_result_state(r);
        exit_code[i] = rp_result_exit_code(r);
        sig[i] = rp_result_signal(r);
        jobs[i] = rp_result_job(r);
        rp_result_free(r);
    }
    CU_ASSERT_EQUAL(final[0], RP_TASK_TIMED_OUT);
    CU_ASSERT_EQUAL(final[1], RP_TASK_CANCELLED);
    CU_ASSERT_EQUAL(final[2], RP_TASK_SUCCEEDED);
    CU_ASSERT_EQUAL(final[3], RP_TASK_FAILED);
    CU_ASSERT_EQUAL(final[4], RP_TASK_FAILED);
    CU_ASSERT_EQUAL(final[5], RP_TASK_SUCCEEDED);

    n = collect_events(sub, ids, N, ev, 64, &lost);
    CU_ASSERT_EQUAL(lost, 0);
    CU_ASSERT_EQUAL_FATAL(n, 3 * N - 1);             /* the cancelled one never ran */
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_EQUAL(ev[i].seq, i + 1);           /* a fresh pool: 1, 2, 3, ... */
    for (int k = 0; k < N; k++) {
        rp_task_state want[3] = { RP_TASK_QUEUED, RP_TASK_RUNNING, final[k] };
        int seen = 0, len = k == 1 ? 2 : 3;
        uint64_t last_ns = 0;

        if (k == 1)
            want[1] = RP_TASK_CANCELLED;
        for (size_t i = 0; i < n; i++) {
            if (ev[i].task != ids[k])
                continue;
            CU_ASSERT_FATAL(seen < len);
            CU_ASSERT_EQUAL(ev[i].state, want[seen]);
            CU_ASSERT_EQUAL(ev[i].job, jobs[k]);
            CU_ASSERT_EQUAL(ev[i].shard, 0);
            CU_ASSERT(ev[i].time_ns >= last_ns);
            last_ns = ev[i].time_ns;
            if (ev[i].state == RP_TASK_QUEUED)
                CU_ASSERT_EQUAL(ev[i].attempt, 0);
            if (ev[i].state == RP_TASK_RUNNING)
                CU_ASSERT_EQUAL(ev[i].attempt, 1);
            if (seen == len - 1 && k >= 2 && k <= 4) {
                CU_ASSERT_EQUAL(ev[i].exit_code, exit_code[k]);
                CU_ASSERT_EQUAL(ev[i].signal, sig[k]);
            }
            seen++;
        }
        CU_ASSERT_EQUAL(seen, len);
    }
    CU_ASSERT_EQUAL(exit_code[3], 5);
    CU_ASSERT_EQUAL(sig[4], SIGKILL);
    /* Nothing more, and a new subscriber sees only what comes next. */
    CU_ASSERT_EQUAL(rp_subscription_next(sub, 50, &e, NULL), RP_ERR_TIMEOUT);
    CU_ASSERT_EQUAL_FATAL(rp_subscribe(pool, &late), RP_OK);
    CU_ASSERT_EQUAL(rp_subscription_next(late, 0, &e, NULL), RP_ERR_TIMEOUT);

    CU_ASSERT_EQUAL(rp_pool_stats(pool, &st), RP_OK);
    CU_ASSERT_EQUAL(st.succeeded, 2);
    CU_ASSERT_EQUAL(st.failed, 2);
    CU_ASSERT_EQUAL(st.timed_out, 1);
    CU_ASSERT_EQUAL(st.cancelled, 1);
    CU_ASSERT_EQUAL(st.queued, 0);
    CU_ASSERT_EQUAL(st.running, 0);
    CU_ASSERT_EQUAL(st.retried, 0);

    rp_unsubscribe(late);                            /* before shutdown */
    rp_pool_shutdown(pool);
    /* After shutdown, with every event read: the end. */
    CU_ASSERT_EQUAL(rp_subscription_next(sub, 1000, &e, NULL), RP_ERR_SHUTDOWN);
    rp_unsubscribe(sub);                             /* after shutdown */
}

static void
slow_subscriber_learns_what_it_lost(void)
{
    enum { N = 6000 };                               /* 3 events each: past the ring */
    rp_pool *pool = make_pool(0);
    rp_subscription *sub = NULL;
    rp_task_id *ids = calloc(N, sizeof *ids);
    uint64_t got = 0, lost = 0, prev_seq = 0;
    bool in_order = true;
    rp_event e;
    uint64_t l;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
    CU_ASSERT_EQUAL_FATAL(rp_subscribe(pool, &sub), RP_OK);
    for (int i = 0; i < N; i++)
        ids[i] = rp_test_submit(pool, rp_task_new_fn(return_arg_fn, NULL));
    for (int i = 0; i < N; i++)
        rp_result_free(wait_for(pool, ids[i]));
    while (rp_subscription_next(sub, 500, &e, &l) == RP_OK) {
        /* Each event follows the previous one plus what was lost between. */
        in_order = in_order && e.seq == prev_seq + l + 1;
        prev_seq = e.seq;
        got++;
        lost += l;
    }
    CU_ASSERT_TRUE(in_order);
    CU_ASSERT_EQUAL(got + lost, 3 * N);
    CU_ASSERT(lost >= 3 * N - RP_EVENT_RING);
    CU_ASSERT(got <= RP_EVENT_RING);
    rp_unsubscribe(sub);
    rp_pool_shutdown(pool);
    free(ids);
}

/* ================================ ids, results ================================ */

static void
ids_are_unique_and_increasing(void)
{
    enum { N = 1000 };
    rp_pool *pool = make_pool(0);
    rp_task_id *ids = calloc(N + 5, sizeof *ids);
    rp_job_id job, prev_job = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
    for (int i = 0; i < N; i++) {
        ids[i] = rp_test_submit(pool, rp_task_new_fn(return_arg_fn, NULL));
        if (i > 0)
            CU_ASSERT(ids[i] > ids[i - 1]);
    }
    CU_ASSERT_EQUAL_FATAL(rp_submit_job(pool, rp_task_new_fn(return_arg_fn, NULL), 5, &job,
                                        ids + N),
                          RP_OK);
    for (int i = N; i < N + 5; i++)
        CU_ASSERT(ids[i] > ids[i - 1]);
    /* Each submission is a job of its own; job ids rise too. */
    for (int i = 0; i < N + 5; i++) {
        rp_job_id j = 0;

        rp_result_free(wait_for(pool, ids[i]));
        CU_ASSERT_EQUAL(rp_task_job(pool, ids[i], &j), RP_OK);
        CU_ASSERT_NOT_EQUAL(j, 0);
        if (i < N) {
            CU_ASSERT(j > prev_job);
        } else {
            CU_ASSERT_EQUAL(j, job);
        }
        prev_job = j;
    }
    rp_pool_shutdown(pool);
    free(ids);
}

static void
waited_results_are_kept_then_forgotten(void)
{
    enum { N = RP_RESULTS_KEPT + 16 };
    rp_pool *pool = make_pool(0);
    rp_task_id first, never_waited, last = 0;
    rp_result *r1, *r2 = NULL;

    first = rp_test_submit(pool, sh_task("printf first"));
    never_waited = rp_test_submit(pool, rp_task_new_fn(return_arg_fn, (void *)(intptr_t)4));
    r1 = wait_for(pool, first);
    /* Waiting again hands out the same result. */
    CU_ASSERT_EQUAL(rp_wait(pool, first, 0, &r2), RP_OK);
    CU_ASSERT_TRUE(stdout_is(r1, "first"));
    CU_ASSERT_TRUE(r2 != NULL && stdout_is(r2, "first"));
    rp_result_free(r2);

    for (int i = 0; i < N; i++) {
        last = rp_test_submit(pool, rp_task_new_fn(return_arg_fn, NULL));
        rp_result_free(wait_for(pool, last));
    }
    r2 = NULL;
    CU_ASSERT_EQUAL(rp_wait(pool, first, 0, &r2), RP_ERR_NOT_FOUND);
    /* A reference handed out stays valid after the pool forgets it. */
    CU_ASSERT_TRUE(stdout_is(r1, "first"));
    rp_result_free(r1);
    /* Nobody waited for this one: it is kept. */
    CU_ASSERT_EQUAL_FATAL(rp_wait(pool, never_waited, 0, &r2), RP_OK);
    CU_ASSERT_EQUAL(rp_result_exit_code(r2), 4);
    rp_result_free(r2);
    CU_ASSERT_EQUAL_FATAL(rp_wait(pool, last, 0, &r2), RP_OK);
    rp_result_free(r2);
    rp_pool_shutdown(pool);
}

/* ================================ priorities ================================ */

static void
queued_tasks_start_by_priority(void)
{
    static const rp_priority sequence[] = {
        RP_PRIORITY_LOW, RP_PRIORITY_CRITICAL, RP_PRIORITY_NORMAL, RP_PRIORITY_HIGH,
        RP_PRIORITY_LOW, RP_PRIORITY_CRITICAL, RP_PRIORITY_NORMAL, RP_PRIORITY_HIGH,
    };
    enum { N = sizeof sequence / sizeof sequence[0] };
    rp_pool *pool = make_pool(1);
    rp_task_id blocker, ids[N];
    uint64_t started[N];
    char marker[64];
    rp_result *r;

    new_marker(marker, sizeof marker);
    blocker = rp_test_submit(pool, rp_test_sh("exec sleep %s", marker));
    CU_ASSERT_TRUE_FATAL(wait_state(pool, blocker, RP_TASK_RUNNING, bound(5)));
    for (int i = 0; i < N; i++) {
        rp_task *t = rp_task_new("/bin/true");

        CU_ASSERT_EQUAL(rp_task_set_priority(t, sequence[i]), RP_OK);
        ids[i] = rp_test_submit(pool, t);
    }
    CU_ASSERT_EQUAL(rp_cancel(pool, blocker), RP_OK);
    rp_result_free(wait_for(pool, blocker));
    for (int i = 0; i < N; i++) {
        rp_result_times times;

        r = wait_for(pool, ids[i]);
        CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
        rp_result_get_times(r, &times);
        started[i] = times.started_ns;
        CU_ASSERT(times.submitted_ns > 0 && times.submitted_ns <= times.started_ns);
        CU_ASSERT(times.started_ns <= times.ended_ns);
        rp_result_free(r);
    }
    /* Higher priority started first; FIFO within one priority. */
    for (int a = 0; a < N; a++)
        for (int b = 0; b < N; b++) {
            if (sequence[a] > sequence[b] || (sequence[a] == sequence[b] && a < b))
                CU_ASSERT(started[a] < started[b]);
        }
    rp_pool_shutdown(pool);
    scan_procs(has_marker, marker, SIGKILL);
}

/* ================================= shutdown ================================= */

/* Every spawn fails at once, and each failure frees the slot for the next
 * shard from inside the submit: that must loop, not recurse. Submitted from
 * a function task on a 256 KiB worker stack, where 300 such shards once
 * overflowed it. */
struct bad_job {
    rp_pool *pool;
    unsigned shards;
    rp_job_id job;
    rp_status status;
};

static int
submit_bad_job(void *arg)
{
    struct bad_job *b = arg;

    b->status = rp_submit_job(b->pool, rp_task_new("/nonexistent/rp-test-binary"), b->shards,
                              &b->job, NULL);
    return 0;
}

static void
a_job_of_unstartable_shards_fails_without_recursing(void)
{
    struct bad_job b = { .shards = 3000 / rp_test_slowdown() };
    rp_pool_config cfg;
    rp_job_info info;
    rp_result *r = NULL;

    rp_pool_config_init(&cfg);
    cfg.cpu_workers = 2;
    cfg.worker_stack_size = 256 << 10;
    CU_ASSERT_EQUAL_FATAL(rp_pool_create(&cfg, &b.pool), RP_OK);
    r = run(b.pool, rp_task_new_fn(submit_bad_job, &b));
    CU_ASSERT_TRUE(rp_result_is_success(r));
    rp_result_free(r);
    CU_ASSERT_EQUAL_FATAL(b.status, RP_OK);
    CU_ASSERT_EQUAL(rp_job_wait(b.pool, b.job, WAIT_MS, &info), RP_OK);
    CU_ASSERT_EQUAL(info.count[RP_TASK_FAILED], b.shards);
    CU_ASSERT_EQUAL(info.state, RP_TASK_FAILED);
    assert_pool_still_runs(b.pool);
    rp_pool_shutdown(b.pool);
}

/* A host that ignores SIGCHLD has its children reaped by the kernel: the
 * exit status is gone. The task fails saying so, is not retried (it may
 * have succeeded), and the pool goes on. */
static void
children_reaped_by_the_host_fail_clearly(void)
{
    rp_pool *pool = make_pool(0);
    struct sigaction ignore = { .sa_handler = SIG_IGN }, old;
    rp_task *t = rp_task_new("/bin/true");
    rp_result *r;

    CU_ASSERT_EQUAL(rp_task_set_retries(t, 3), RP_OK);
    CU_ASSERT_EQUAL_FATAL(sigaction(SIGCHLD, &ignore, &old), 0);
    r = run(pool, t);
    sigaction(SIGCHLD, &old, NULL);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT_EQUAL(rp_result_attempts(r), 1);
    CU_ASSERT_TRUE(contains(rp_result_error(r), "exit status lost"));
    if (!contains(rp_result_error(r), "exit status lost"))
        fprintf(stderr, "\n    error: %s\n", rp_result_error(r));
    rp_result_free(r);
    assert_pool_still_runs(pool);
    rp_pool_shutdown(pool);
}

struct blocked_wait {
    rp_pool *pool;
    rp_task_id id;
    _Atomic bool waiting;
    rp_status status;
    rp_task_state state;
};

static void *
wait_forever(void *arg)
{
    struct blocked_wait *b = arg;
    rp_result *r = NULL;

    atomic_store(&b->waiting, true);
    b->status = rp_wait(b->pool, b->id, -1, &r);
    b->state = rp_result_state(r);
    rp_result_free(r);
    return NULL;
}

/* A thread blocked in rp_wait when another shuts the pool down gets the
 * CANCELLED result, and shutdown frees nothing under it (run under ASan). */
static void
a_waiter_blocked_across_shutdown_gets_its_result(void)
{
    for (int round = 0; round < 20; round++) {
        struct blocked_wait b = { .pool = make_pool(0) };
        pthread_t thread;

        b.id = rp_test_submit(b.pool, sh_task("exec sleep 30"));
        CU_ASSERT_EQUAL_FATAL(pthread_create(&thread, NULL, wait_forever, &b), 0);
        while (!atomic_load(&b.waiting))
            sched_yield();
        if (round % 2 == 0)
            usleep(2000);               /* half the time, surely asleep in rp_wait */
        rp_pool_shutdown(b.pool);
        pthread_join(thread, NULL);
        CU_ASSERT_EQUAL(b.status, RP_OK);
        CU_ASSERT_EQUAL(b.state, RP_TASK_CANCELLED);
    }
}

static void
shutdown_cancels_running_and_queued_tasks(void)
{
    enum { QUEUED = 3 };
    rp_pool *pool = make_pool(2);
    rp_subscription *sub = NULL;
    char dir[256], marker[64], name[16];
    rp_task_id run1, run2, queued[QUEUED], done_id;
    rp_result *kept;
    rp_event e;
    rp_task *t;
    bool cancelled[QUEUED + 2] = { false };
    double t0, took;
    rp_status st;

    make_tmpdir(dir, sizeof dir);
    new_marker(marker, sizeof marker);
    CU_ASSERT_EQUAL_FATAL(rp_subscribe(pool, &sub), RP_OK);
    done_id = rp_test_submit(pool, sh_task("printf kept"));
    kept = wait_for(pool, done_id);

    run1 = rp_test_submit(pool, rp_test_sh("sleep %s & sleep %s & wait", marker, marker));
    t = rp_test_sh("trap '' TERM; sleep %s & wait", marker);
    CU_ASSERT_EQUAL(rp_task_set_kill_grace_ms(t, 300), RP_OK);
    run2 = rp_test_submit(pool, t);
    for (int i = 0; i < QUEUED; i++)
        queued[i] = rp_test_submit(pool, rp_test_sh("touch '%s/q%d'", dir, i));
    CU_ASSERT_TRUE(wait_state(pool, run1, RP_TASK_RUNNING, bound(5)));
    CU_ASSERT_TRUE(wait_state(pool, run2, RP_TASK_RUNNING, bound(5)));
    CU_ASSERT_TRUE(wait_procs(has_marker, marker, 5, bound(5)));   /* 2 shells, 3 sleeps */

    t0 = rp_test_now();
    rp_pool_shutdown(pool);
    took = rp_test_now() - t0;
    CU_ASSERT(took < bound(3));
    /* Reaped before it returned; the group members are gone. */
    CU_ASSERT_EQUAL(scan_procs(zombie_child, NULL, 0), 0);
    CU_ASSERT_TRUE(wait_procs(has_marker, marker, 0, 1));
    for (int i = 0; i < QUEUED; i++) {
        snprintf(name, sizeof name, "q%d", i);
        CU_ASSERT_FALSE(file_exists(dir, name));
    }
    /* A result handed out before stays valid. */
    CU_ASSERT_TRUE(stdout_is(kept, "kept"));
    rp_result_free(kept);

    /* The subscription outlives the pool: every task ended CANCELLED. */
    while ((st = rp_subscription_next(sub, 1000, &e, NULL)) == RP_OK) {
        if (!rp_task_state_is_final(e.state))
            continue;
        if (e.task == run1 || e.task == run2) {
            CU_ASSERT_EQUAL(e.state, RP_TASK_CANCELLED);
            cancelled[e.task == run1 ? QUEUED : QUEUED + 1] = e.state == RP_TASK_CANCELLED;
        }
        for (int i = 0; i < QUEUED; i++)
            if (e.task == queued[i]) {
                CU_ASSERT_EQUAL(e.state, RP_TASK_CANCELLED);
                cancelled[i] = e.state == RP_TASK_CANCELLED;
            }
    }
    CU_ASSERT_EQUAL(st, RP_ERR_SHUTDOWN);
    for (int i = 0; i < QUEUED + 2; i++)
        CU_ASSERT_TRUE(cancelled[i]);
    rp_unsubscribe(sub);
    scan_procs(has_marker, marker, SIGKILL);
    remove_tree(dir);
}

/* ================================= rlimits ================================= */

static void
resource_limits_apply(void)
{
    rp_pool *pool = make_pool(0);
    rp_task *t;
    rp_result *r;
    double t0, took;

    t = sh_task("ulimit -n");
    CU_ASSERT_EQUAL(rp_task_set_limit(t, RP_LIMIT_OPEN_FILES, 16), RP_OK);
    r = run(pool, t);
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_SUCCEEDED);
    CU_ASSERT_TRUE(stdout_is(r, "16\n"));
    rp_result_free(r);

    t = sh_task("ulimit -v");                        /* KiB */
    CU_ASSERT_EQUAL(rp_task_set_limit(t, RP_LIMIT_ADDRESS_SPACE, (uint64_t)1 << 30), RP_OK);
    r = run(pool, t);
    CU_ASSERT_TRUE(stdout_is(r, "1048576\n"));
    rp_result_free(r);

    /* Not inherited by the next task: the limit was the child's alone. */
    r = run(pool, sh_task("ulimit -n"));
    CU_ASSERT_FALSE(stdout_is(r, "16\n"));
    rp_result_free(r);

    t = sh_task("while :; do :; done");
    CU_ASSERT_EQUAL(rp_task_set_limit(t, RP_LIMIT_CPU_SECONDS, 1), RP_OK);
    CU_ASSERT_EQUAL(rp_task_set_timeout_ms(t, 20000), RP_OK);   /* a backstop only */
    t0 = rp_test_now();
    r = run(pool, t);
    took = rp_test_now() - t0;
    CU_ASSERT_EQUAL(rp_result_state(r), RP_TASK_FAILED);
    CU_ASSERT(rp_result_signal(r) == SIGXCPU || rp_result_signal(r) == SIGKILL);
    CU_ASSERT_EQUAL(rp_result_exit_code(r), -1);
    CU_ASSERT(took < 10);
    rp_result_free(r);
    rp_pool_shutdown(pool);
}

static const rp_test_case cases[] = {
    { "capture_stdout_and_stderr_separately", capture_stdout_and_stderr_separately },
    { "capture_binary_bytes_exactly", capture_binary_bytes_exactly },
    { "capture_flood_keeps_the_tail_in_bounded_memory",
      capture_flood_keeps_the_tail_in_bounded_memory },
    { "capture_limit_keeps_the_last_bytes", capture_limit_keeps_the_last_bytes },
    { "exit_codes_and_signals_are_reported", exit_codes_and_signals_are_reported },
    { "arguments_pass_verbatim_and_path_is_searched",
      arguments_pass_verbatim_and_path_is_searched },
    { "env_reaches_the_child", env_reaches_the_child },
    { "cwd_is_set", cwd_is_set },
    { "stdin_bytes_reach_the_child", stdin_bytes_reach_the_child },
    { "unread_stdin_is_no_problem", unread_stdin_is_no_problem },
    { "shards_see_their_index", shards_see_their_index },
    { "job_wait_returns_when_every_shard_ended", job_wait_returns_when_every_shard_ended },
    { "cancel_job_cancels_every_shard", cancel_job_cancels_every_shard },
    { "timeout_ends_the_task", timeout_ends_the_task },
    { "cancel_kills_the_process_group", cancel_kills_the_process_group },
    { "cancel_kills_a_group_that_ignores_sigterm", cancel_kills_a_group_that_ignores_sigterm },
    { "cancel_of_a_queued_task_never_runs_it", cancel_of_a_queued_task_never_runs_it },
    { "many_tasks_leak_no_descriptors_and_no_zombies",
      many_tasks_leak_no_descriptors_and_no_zombies },
    { "retries_back_off_exponentially", retries_back_off_exponentially },
    { "retry_on_exit_is_opt_in", retry_on_exit_is_opt_in },
    { "bad_paths_fail_clearly", bad_paths_fail_clearly },
    { "bad_arguments_are_errors", bad_arguments_are_errors },
    { "function_tasks_run_on_the_pool", function_tasks_run_on_the_pool },
    { "events_arrive_in_order_and_stats_count", events_arrive_in_order_and_stats_count },
    { "slow_subscriber_learns_what_it_lost", slow_subscriber_learns_what_it_lost },
    { "ids_are_unique_and_increasing", ids_are_unique_and_increasing },
    { "waited_results_are_kept_then_forgotten", waited_results_are_kept_then_forgotten },
    { "queued_tasks_start_by_priority", queued_tasks_start_by_priority },
    { "a_job_of_unstartable_shards_fails_without_recursing",
      a_job_of_unstartable_shards_fails_without_recursing },
    { "children_reaped_by_the_host_fail_clearly", children_reaped_by_the_host_fail_clearly },
    { "a_waiter_blocked_across_shutdown_gets_its_result",
      a_waiter_blocked_across_shutdown_gets_its_result },
    { "shutdown_cancels_running_and_queued_tasks", shutdown_cancels_running_and_queued_tasks },
    { "resource_limits_apply", resource_limits_apply },
    { NULL, NULL },
};

const rp_test_suite rp_test_suite_task = { "task", cases, true };
