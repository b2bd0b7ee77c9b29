/*
 * exec_process.c -- the process executor: runs a task's program in its own
 * process group, feeds its stdin, captures the tail of its stdout and
 * stderr, enforces its timeout, and reports exit code or signal with wall
 * and CPU time and peak RSS.
 *
 * DESIGN
 *   submit() spawns on the calling thread (the submitter, or the loop
 *   thread when a finished task frees a slot), so a task on an idle pool
 *   starts within microseconds of rp_submit. The child is then handed to
 *   the loop thread (engine/loop.c), which owns it from there: it watches
 *   a pidfd for the exit and the pipes for output, and keeps one timer per
 *   child (timeout, then kill grace, then output drain).
 *
 *   Spawning: posix_spawn (vfork-like, cheap) into a new process group,
 *   with every signal reset to its default and an empty mask, fds 0-2 set
 *   up and every other fd closed (closefrom), so nothing of ours leaks into
 *   the child whatever the host program forgot to mark close-on-exec. Only
 *   a task with resource limits takes the fork() path, because posix_spawn
 *   cannot set rlimits on the child before it runs; that child calls only
 *   async-signal-safe functions, and reports an exec failure through a
 *   close-on-exec pipe.
 *
 *   Ending: the task's main process exiting ends the task. Whatever it left
 *   in its process group gets SIGKILL before the main process is reaped:
 *   its pid (the group id) is still held by the zombie, so the kill cannot
 *   hit a recycled group. Then the pipes are read to EOF, for at most
 *   DRAIN_MS (a process that left the group may hold them open).
 *   Timeout and cancel: SIGTERM to the group, SIGKILL after the grace.
 *
 *   Capture: each stream keeps at most capture_limit bytes, as a ring that
 *   keeps the tail; the total is counted, so truncation shows. A program
 *   printing gigabytes costs the limit, not the gigabytes.
 *
 *   Checkpoints (durable pools, tasks with rp_task_set_checkpoint): the
 *   attempt is prepared on the store's I/O thread first (engine/durable.h:
 *   the run dir, and the restore file from the last checkpoint), then
 *   spawned there. The loop watches the run dir with inotify; each rename
 *   onto the checkpoint file asks the I/O thread to save that version (at
 *   most one request in flight per child: the save reads whatever version
 *   is newest when it runs). A timer sends SIGUSR1 every interval. When
 *   the process ends, the I/O thread saves a last version it may have left
 *   and only then reports the end, so a retry starts from it.
 *
 * THREADS: struct child and the children list belong to the loop thread
 * once adopted. `live` (attempts submitted and not yet answered) is
 * guarded by live_lock; stop() waits on it.
 */
#include "engine/engine.h"
#include "engine/reply.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/alloc.h"
#include "engine/durable.h"

#ifndef P_PIDFD
#define P_PIDFD 3                       /* Linux 5.4; glibc 2.36 has it */
#endif

#define DRAIN_MS 1000u
#define STATUS_LOST "exit status lost: the process was reaped outside repartir " \
                    "(is SIGCHLD ignored?)"
/* Output pipes are watched only once a task has run this long: a short
 * task's output (a pipe holds 64 KiB) is read in one go when it exits,
 * which saves two wake-ups of the loop per task. A longer or chattier task
 * is streamed as usual, at most this late. */
#define PIPE_WATCH_DELAY_NS 2000000u
#define READ_CHUNK ((size_t)64 << 10)
#define READS_PER_EVENT 16          /* then let the other children speak */

extern char **environ;

enum phase { PHASE_RUNNING, PHASE_TERM_SENT, PHASE_KILL_SENT, PHASE_DRAINING };

struct capture {
    char *buf;
    size_t limit, cap, len, head;
    uint64_t total;
};

struct proc_exec;

struct child {
    struct child *prev, *next;
    struct proc_exec *x;
    struct rp__task *t;
    rp_task_id id;
    unsigned attempt;
    pid_t pid;
    rp__watch w_pid, w_out, w_err, w_in;   /* fd -1 when closed */
    struct capture out, err;
    const unsigned char *stdin_data;       /* the task description's */
    size_t stdin_len, stdin_off;
    unsigned timeout_ms, grace_ms;
    rp__timer timer;
    rp__timer pipe_timer;                  /* PIPE_WATCH_DELAY_NS after the spawn */
    enum phase phase;
    bool timed_out, cancelled, exited, status_lost;
    bool completed;                     /* answered; freed after this batch */
    /* checkpointing */
    rp_task_id origin;
    char *run_dir;                      /* NULL: not checkpointing */
    int ckpt_wd;                        /* inotify watch, or -1 */
    unsigned ckpt_interval_ms;
    rp__timer ckpt_timer;               /* the SIGUSR1 reminder */
    _Atomic bool ingest_pending;
    int wstatus;
    struct rusage ru;
    uint64_t started_ns, exited_ns;
};

struct proc_exec {
    rp__engine *e;
    rp__loop *loop;
    unsigned capacity;
    bool have_pidfd;
    int devnull;                        /* stdin of tasks without stdin bytes */
    rp__durable *durable;               /* NULL: no checkpoints */
    /* loop thread */
    rp__watch inotify;                  /* run dirs of checkpointing children */
    struct child *children;
    bool stopping;
    char *scratch;
    /* any thread */
    pthread_mutex_t live_lock;
    pthread_cond_t live_cond;
    unsigned live;
    _Atomic uint64_t started;
};

/* ---- capture: a ring that keeps the last `limit` bytes ---- */

static void
capture_init(struct capture *c, size_t limit)
{
    memset(c, 0, sizeof *c);
    c->limit = limit;
}

static void
capture_append(struct capture *c, const char *p, size_t n)
{
    c->total += n;
    if (c->limit == 0 || n == 0)
        return;
    if (n >= c->limit) {
        /* Only the tail of this chunk survives. */
        if (c->cap < c->limit) {
            free(c->buf);
            c->buf = rp_xmalloc(c->limit);
            c->cap = c->limit;
        }
        memcpy(c->buf, p + (n - c->limit), c->limit);
        c->head = 0;
        c->len = c->limit;
        return;
    }
    if (c->cap < c->limit && c->len + n > c->cap) {
        /* Grow while linear (head is 0 until the ring is full). */
        size_t want = c->cap ? 2 * c->cap : 4096;
        if (want < c->len + n)
            want = c->len + n;
        if (want > c->limit)
            want = c->limit;
        c->buf = rp_xrealloc(c->buf, want);
        c->cap = want;
    }
    while (n > 0) {
        size_t pos = (c->head + c->len) % c->limit;
        size_t chunk = c->limit - pos < n ? c->limit - pos : n;

        memcpy(c->buf + pos, p, chunk);
        p += chunk;
        n -= chunk;
        c->len += chunk;
        if (c->len > c->limit) {
            c->head = (c->head + (c->len - c->limit)) % c->limit;
            c->len = c->limit;
        }
    }
}

/* Hands over the bytes in order, leaving c empty. */
static struct rp__bytes
capture_take(struct capture *c)
{
    struct rp__bytes b = { NULL, c->len, c->total };

    if (c->len != 0) {
        if (c->head == 0) {
            b.data = c->buf;            /* already in order: no copy */
            c->buf = NULL;
        } else {
            size_t first = c->limit - c->head;
            b.data = rp_xmalloc(c->len);
            memcpy(b.data, c->buf + c->head, first);
            memcpy(b.data + first, c->buf, c->len - first);
        }
    }
    free(c->buf);
    memset(c, 0, sizeof *c);
    return b;
}

/* ---- what the child gets ---- */

static bool
env_overridden(const char *entry, const struct rp_task *spec)
{
    static const char *const ours[] = {
        "REPARTIR_TASK_ID", "REPARTIR_JOB_ID", "REPARTIR_SHARD", "REPARTIR_TOTAL_SHARDS",
        "REPARTIR_CHECKPOINT_FILE", "REPARTIR_RESTORE_FILE",
    };
    size_t klen = rp__env_key_len(entry);

    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        if (strlen(ours[i]) == klen && memcmp(entry, ours[i], klen) == 0)
            return true;
    for (unsigned i = 0; i < spec->nenv; i++)
        if (rp__env_key_len(spec->env[i]) == klen && memcmp(entry, spec->env[i], klen) == 0)
            return true;
    return false;
}

/* The inherited environment, then the task's, then ours. The strings of
 * the ids live in `ids` (room for 4 x 48 bytes); the file variables (NULL:
 * not set) are the caller's. Free the array. */
static char **
build_env(const struct rp__task *t, char ids[4][48], char *ckpt_var, char *restore_var)
{
    const struct rp_task *spec = t->spec;
    size_t n = 0, k = 0;
    char **envp;

    while (environ != NULL && environ[n] != NULL)
        n++;
    envp = rp_xmalloc((n + spec->nenv + 7) * sizeof *envp);
    for (size_t i = 0; i < n; i++)
        if (!env_overridden(environ[i], spec))
            envp[k++] = environ[i];
    for (unsigned i = 0; i < spec->nenv; i++)
        envp[k++] = spec->env[i];
    snprintf(ids[0], 48, "REPARTIR_TASK_ID=%llu",
             (unsigned long long)(spec->as_set ? spec->as_task : t->node.id));
    snprintf(ids[1], 48, "REPARTIR_JOB_ID=%llu",
             (unsigned long long)(spec->as_set ? spec->as_job : t->job->node.id));
    snprintf(ids[2], 48, "REPARTIR_SHARD=%u", spec->as_set ? spec->as_shard : t->shard);
    snprintf(ids[3], 48, "REPARTIR_TOTAL_SHARDS=%u",
             spec->as_set ? spec->as_total : t->total_shards);
    for (int i = 0; i < 4; i++)
        envp[k++] = ids[i];
    if (ckpt_var != NULL)
        envp[k++] = ckpt_var;
    if (restore_var != NULL)
        envp[k++] = restore_var;
    envp[k] = NULL;
    return envp;
}

/* "cannot run 'X': reason", with the reason a person needs. The spawn
 * gives one errno for exec, chdir and open alike: look at the cwd first. */
static char *
spawn_error(const struct rp_task *spec, int err)
{
    const char *binary = spec->argv[0];
    char buf[512];
    struct stat st;
    const char *why = strerrordesc_np(err);

    if (why == NULL)
        why = "unknown error";
    if (spec->cwd != NULL && (err == ENOENT || err == ENOTDIR || err == EACCES)) {
        int cwd_err = stat(spec->cwd, &st) != 0 ? errno
                      : !S_ISDIR(st.st_mode)     ? ENOTDIR
                      : access(spec->cwd, X_OK) != 0 ? errno : 0;
        if (cwd_err != 0) {
            snprintf(buf, sizeof buf, "cannot run '%s' in '%s': %s", binary, spec->cwd,
                     strerrordesc_np(cwd_err));
            return rp_xstrdup(buf);
        }
    }
    if (err == EACCES && stat(binary, &st) == 0 && S_ISDIR(st.st_mode))
        why = strerrordesc_np(EISDIR);
    else if (err == ENOENT && strchr(binary, '/') == NULL)
        why = "not found in PATH";
    snprintf(buf, sizeof buf, "cannot run '%s': %s", binary, why);
    return rp_xstrdup(buf);
}

/* Moves fd above 2 so that dup2 onto 0-2 in the child cannot clobber it
 * (a host that closed its stdin gets pipe fds from 0 up). */
static int
lift_fd(int fd)
{
    int high;

    if (fd < 0 || fd > 2)
        return fd;
    high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return high;
}

static void
close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* A new pipe end has no status flags but its access mode, which F_SETFL
 * ignores: no F_GETFL round trip needed. */
static int
set_nonblock(int fd)
{
    return fcntl(fd, F_SETFL, O_NONBLOCK);
}

/* Pipe ends for the child: [0] its end, [1] ours. */
struct pipes {
    int in[2], out[2], err[2];
};

static int
make_pipe(int ends[2], bool child_reads)
{
    int fds[2];

    if (pipe2(fds, O_CLOEXEC) != 0)
        return errno;
    ends[0] = lift_fd(child_reads ? fds[0] : fds[1]);
    ends[1] = lift_fd(child_reads ? fds[1] : fds[0]);
    if (ends[0] < 0 || ends[1] < 0 || set_nonblock(ends[1]) != 0)
        return errno ? errno : EMFILE;
    return 0;
}

static void
close_pipes(struct pipes *p, bool ours_too)
{
    close_fd(&p->in[0]);
    close_fd(&p->out[0]);
    close_fd(&p->err[0]);
    if (ours_too) {
        close_fd(&p->in[1]);
        close_fd(&p->out[1]);
        close_fd(&p->err[1]);
    }
}

static const int limit_resource[RP__LIMIT_COUNT] = {
    [RP_LIMIT_CPU_SECONDS] = RLIMIT_CPU,
    [RP_LIMIT_ADDRESS_SPACE] = RLIMIT_AS,
    [RP_LIMIT_OPEN_FILES] = RLIMIT_NOFILE,
    [RP_LIMIT_PROCESSES] = RLIMIT_NPROC,
};

/* posix_spawn: returns 0 or an errno. */
static int
spawn_posix(const struct rp_task *spec, const struct pipes *p, int devnull, char **envp,
            pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    int err;

    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, p->in[0] >= 0 ? p->in[0] : devnull, 0);
    posix_spawn_file_actions_adddup2(&fa, p->out[0], 1);
    posix_spawn_file_actions_adddup2(&fa, p->err[0], 2);
    if (spec->cwd != NULL)
        posix_spawn_file_actions_addchdir_np(&fa, spec->cwd);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    if (strchr(spec->argv[0], '/') != NULL)
        err = posix_spawn(pid, spec->argv[0], &fa, &attr, spec->argv, envp);
    else
        err = posix_spawnp(pid, spec->argv[0], &fa, &attr, spec->argv, envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return err;
}

/* The path execve needs, found in this process's PATH as execvp (and
 * posix_spawnp) would: no PATH means confstr's default "/bin:/usr/bin", an
 * empty entry (leading, doubled or trailing ':') means the current
 * directory. Returns 0 or ENOENT; *out is malloc'd. */
static int
resolve_path(const char *name, char **out)
{
    const char *path = getenv("PATH");
    size_t nlen = strlen(name);

    if (strchr(name, '/') != NULL) {
        *out = rp_xstrdup(name);
        return 0;
    }
    if (path == NULL)
        path = "/bin:/usr/bin";
    for (;;) {
        const char *end = strchr(path, ':');
        size_t dlen = end != NULL ? (size_t)(end - path) : strlen(path);
        char *full = rp_xmalloc(dlen + nlen + 3);
        struct stat st;

        if (dlen == 0)
            full[0] = '.';
        else
            memcpy(full, path, dlen);
        dlen = dlen == 0 ? 1 : dlen;
        full[dlen] = '/';
        memcpy(full + dlen + 1, name, nlen + 1);
        if (access(full, X_OK) == 0 && stat(full, &st) == 0 && !S_ISDIR(st.st_mode)) {
            *out = full;
            return 0;
        }
        free(full);
        if (end == NULL)
            return ENOENT;
        path = end + 1;
    }
}

/* The forked child: async-signal-safe calls only, then exec. */
static void __attribute__((noreturn))
forked_child(const struct rp_task *spec, const struct pipes *p, int devnull, const char *path,
             char **envp, int errfd)
{
    struct sigaction dfl;
    sigset_t none;
    int err;

    /* Every signal is blocked (spawn_forked): reset the handlers first, so
     * that none of the host's runs here, then open the mask. */
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        sigaction(s, &dfl, NULL);        /* SIGKILL, SIGSTOP: harmless EINVAL */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (setpgid(0, 0) != 0)
        goto fail;
    if (dup2(p->in[0] >= 0 ? p->in[0] : devnull, 0) < 0)
        goto fail;
    if (dup2(p->out[0], 1) < 0 || dup2(p->err[0], 2) < 0)
        goto fail;
    if (spec->cwd != NULL && chdir(spec->cwd) != 0)
        goto fail;
    for (int i = 0; i < RP__LIMIT_COUNT; i++) {
        if (spec->limits_set & (1u << i)) {
            struct rlimit rl = { spec->limits[i], spec->limits[i] };
            if (setrlimit(limit_resource[i], &rl) != 0)
                goto fail;
        }
    }
    /* Keep errfd (close-on-exec: it closes itself if exec succeeds). */
    if (errfd > 3)
        syscall(SYS_close_range, 3u, (unsigned)errfd - 1, 0u);
    syscall(SYS_close_range, (unsigned)errfd + 1, ~0u, 0u);
    execve(path, spec->argv, envp);
fail:
    err = errno;
    while (write(errfd, &err, sizeof err) < 0 && errno == EINTR)
        ;
    _exit(127);
}

/* fork + rlimits: returns 0 or an errno (the exec's, if exec failed). */
static int
spawn_forked(const struct rp_task *spec, const struct pipes *p, int devnull, char **envp,
             pid_t *pid)
{
    char *path = NULL;
    int errpipe[2], err, child_err = 0;
    sigset_t all, old;
    ssize_t got;

    err = resolve_path(spec->argv[0], &path);
    if (err != 0)
        return err;
    if (pipe2(errpipe, O_CLOEXEC) != 0) {
        err = errno;
        free(path);
        return err;
    }
    /* Above 2 like the other pipes: the child's dup2 onto 0-2 must not
     * replace the pipe that reports its exec failure. */
    errpipe[0] = lift_fd(errpipe[0]);
    errpipe[1] = lift_fd(errpipe[1]);
    if (errpipe[0] < 0 || errpipe[1] < 0) {
        err = EMFILE;
        if (errpipe[0] >= 0)
            close(errpipe[0]);
        if (errpipe[1] >= 0)
            close(errpipe[1]);
        free(path);
        return err;
    }
    /* No host signal handler may run in the child before it resets them. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    *pid = fork();
    if (*pid == 0)
        forked_child(spec, p, devnull, path, envp, errpipe[1]);
    err = *pid < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(errpipe[1]);
    if (err == 0) {
        setpgid(*pid, *pid);             /* also here: no race with killpg */
        do
            got = read(errpipe[0], &child_err, sizeof child_err);
        while (got < 0 && errno == EINTR);
        if (got == (ssize_t)sizeof child_err) {
            /* exec failed: the child has _exit()ed or is about to. */
            while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
                ;
            err = child_err;
        }
    }
    close(errpipe[0]);
    free(path);
    return err;
}

/* ---- the loop side ---- */

static void child_maybe_done(struct child *c);

static void
kill_group(struct child *c, int sig)
{
    /* The group id is the child's pid, held until we reap it. */
    if (!c->status_lost)
        kill(-c->pid, sig);
}

static void
terminate(struct child *c)
{
    if (c->phase != PHASE_RUNNING)
        return;
    kill_group(c, SIGTERM);
    c->phase = PHASE_TERM_SENT;
    rp__loop_timer_start(c->x->loop, &c->timer,
                         rp__now_ns() + (uint64_t)c->grace_ms * 1000000u);
}

static void
on_timer(rp__timer *timer, bool fired)
{
    struct child *c = (struct child *)((char *)timer - offsetof(struct child, timer));

    if (!fired)
        return;                          /* the loop is going away; stop() saw to us */
    switch (c->phase) {
    case PHASE_RUNNING:                  /* the timeout */
        c->timed_out = true;
        terminate(c);
        break;
    case PHASE_TERM_SENT:
        kill_group(c, SIGKILL);
        c->phase = PHASE_KILL_SENT;
        break;
    case PHASE_KILL_SENT:
        break;
    case PHASE_DRAINING:                 /* someone outside the group holds our pipes */
        rp__loop_unwatch(c->x->loop, &c->w_out);
        rp__loop_unwatch(c->x->loop, &c->w_err);
        close_fd(&c->w_out.fd);
        close_fd(&c->w_err.fd);
        child_maybe_done(c);
        break;
    }
}

static void
stop_watch(struct child *c, rp__watch *w)
{
    if (w->fd >= 0) {
        rp__loop_unwatch(c->x->loop, w);
        close_fd(&w->fd);
    }
}

/* Reads what a pipe has now. Returns false at EOF or error (then closed). */
static bool
drain(struct child *c, rp__watch *w, struct capture *cap, int rounds)
{
    char *buf = c->x->scratch;

    while (rounds-- > 0) {
        ssize_t n = read(w->fd, buf, READ_CHUNK);
        if (n > 0) {
            capture_append(cap, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return true;
        stop_watch(c, w);                /* EOF, or an error: nothing more comes */
        return false;
    }
    return true;
}

static void
on_out(void *arg, uint32_t revents)
{
    struct child *c = arg;

    (void)revents;
    if (c->w_out.fd < 0)
        return;                          /* closed earlier in this batch */
    if (!drain(c, &c->w_out, &c->out, READS_PER_EVENT))
        child_maybe_done(c);
}

static void
on_err(void *arg, uint32_t revents)
{
    struct child *c = arg;

    (void)revents;
    if (c->w_err.fd < 0)
        return;
    if (!drain(c, &c->w_err, &c->err, READS_PER_EVENT))
        child_maybe_done(c);
}

static void
on_in(void *arg, uint32_t revents)
{
    struct child *c = arg;

    (void)revents;
    if (c->w_in.fd < 0)
        return;
    while (c->stdin_off < c->stdin_len) {
        ssize_t n = write(c->w_in.fd, c->stdin_data + c->stdin_off,
                          c->stdin_len - c->stdin_off);
        if (n > 0) {
            c->stdin_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0 && errno == EPIPE) {
            /* The child closed its stdin. The SIGPIPE that came with the
             * EPIPE is blocked on this thread: take it off. */
            sigset_t pipe_set;
            struct timespec zero = { 0, 0 };
            sigemptyset(&pipe_set);
            sigaddset(&pipe_set, SIGPIPE);
            sigtimedwait(&pipe_set, NULL, &zero);
        }
        break;
    }
    stop_watch(c, &c->w_in);             /* all written (EOF for the child), or gone */
}

static bool watch(struct child *c, rp__watch *w, uint32_t events, rp__loop_io_fn cb);

/* Starts streaming the output pipes (once). False if epoll refused. */
static bool
watch_pipes(struct child *c)
{
    bool fine = true;

    if (c->w_out.fd >= 0 && !c->w_out.active)
        fine = watch(c, &c->w_out, EPOLLIN, on_out);
    if (fine && c->w_err.fd >= 0 && !c->w_err.active)
        fine = watch(c, &c->w_err, EPOLLIN, on_err);
    return fine;
}

static void
on_pipe_timer(rp__timer *timer, bool fired)
{
    struct child *c = (struct child *)((char *)timer - offsetof(struct child, pipe_timer));

    if (fired && !c->exited && !watch_pipes(c)) {
        /* Cannot follow its output: end it rather than let it block. */
        c->cancelled = true;
        kill_group(c, SIGKILL);
    }
}

static void
on_exit_event(void *arg, uint32_t revents)
{
    struct child *c = arg;
    siginfo_t info;
    long rc;

    (void)revents;
    if (c->exited)
        return;
    c->exited = true;
    c->exited_ns = rp__now_ns();
    /* Everything goes through the pidfd, never the pid: if the host reaped
     * our child (a waitpid(-1) of its own), the pid may already name
     * another process, but the pidfd still names ours. First look without
     * reaping: is it our zombie? */
    memset(&info, 0, sizeof info);
    do
        rc = syscall(SYS_waitid, P_PIDFD, c->w_pid.fd, &info, WEXITED | WNOWAIT, NULL);
    while (rc < 0 && errno == EINTR);
    c->status_lost = rc < 0 || info.si_pid == 0;
    /* The main process is a zombie: its pid still names the group, so this
     * reaches only what it left behind. Killed first, so the drain below
     * cannot be fed for ever. */
    kill_group(c, SIGKILL);
    if (c->w_out.fd >= 0)
        drain(c, &c->w_out, &c->out, READS_PER_EVENT);
    if (c->w_err.fd >= 0)
        drain(c, &c->w_err, &c->err, READS_PER_EVENT);
    if (!c->status_lost) {
        /* The raw call: its fifth argument gives the rusage of the child. */
        memset(&info, 0, sizeof info);
        do
            rc = syscall(SYS_waitid, P_PIDFD, c->w_pid.fd, &info, WEXITED, &c->ru);
        while (rc < 0 && errno == EINTR);
        if (rc < 0 || info.si_pid == 0)
            c->status_lost = true;
        else if (info.si_code == CLD_EXITED)
            c->wstatus = W_EXITCODE(info.si_status, 0);
        else
            c->wstatus = W_EXITCODE(0, info.si_status);
    }
    stop_watch(c, &c->w_pid);
    stop_watch(c, &c->w_in);
    rp__loop_timer_stop(c->x->loop, &c->pipe_timer);
    if (c->w_out.fd >= 0 || c->w_err.fd >= 0) {
        watch_pipes(c);                  /* if refused, DRAIN_MS ends it */
        c->phase = PHASE_DRAINING;
        rp__loop_timer_start(c->x->loop, &c->timer, rp__now_ns() + DRAIN_MS * 1000000ull);
        return;
    }
    child_maybe_done(c);
}

static uint64_t
timeval_ns(struct timeval tv)
{
    return (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
}

static void
live_done(struct proc_exec *x)
{
    pthread_mutex_lock(&x->live_lock);
    if (--x->live == 0)
        pthread_cond_broadcast(&x->live_cond);
    pthread_mutex_unlock(&x->live_lock);
}

static void
child_free(void *arg)
{
    struct child *c = arg;

    free(c->run_dir);
    free(c);
}

/* The end of a checkpointing attempt, on the I/O thread. */
struct last_word {
    struct child *c;
    struct rp__outcome o;
};

static void
report_after_ingest(void *arg)
{
    struct last_word *w = arg;
    struct child *c = w->c;
    struct proc_exec *x = c->x;

    /* A version renamed into place just before the end. */
    rp__durable_ingest(x->durable, c->id, c->origin);
    rp__engine_attempt_done(x->e, c->t, &w->o);
    rp__loop_post(x->loop, child_free, c);
    free(w);
    live_done(x);
}

static void
ingest_now(void *arg)
{
    struct child *c = arg;

    atomic_store_explicit(&c->ingest_pending, false, memory_order_relaxed);
    rp__durable_ingest(c->x->durable, c->id, c->origin);
}

/* Loop thread: a new version of c's checkpoint file appeared. */
static void
request_ingest(struct child *c)
{
    if (!atomic_exchange_explicit(&c->ingest_pending, true, memory_order_relaxed))
        rp__durable_post(c->x->durable, ingest_now, c);
}

static void
on_inotify(void *arg, uint32_t revents)
{
    struct proc_exec *x = arg;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;

    (void)revents;
    while ((n = read(x->inotify.fd, buf, sizeof buf)) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            bool overflow = (ev->mask & IN_Q_OVERFLOW) != 0;
            if (!overflow && (ev->len == 0 || strcmp(ev->name, "checkpoint") != 0))
                continue;
            for (struct child *c = x->children; c != NULL; c = c->next)
                if (c->run_dir != NULL && (overflow || c->ckpt_wd == ev->wd))
                    request_ingest(c);
        }
    }
}

static void
on_ckpt_timer(rp__timer *timer, bool fired)
{
    struct child *c = (struct child *)((char *)timer - offsetof(struct child, ckpt_timer));

    if (!fired || c->exited || c->phase != PHASE_RUNNING)
        return;
    kill(c->pid, SIGUSR1);               /* the main process: it owns the protocol */
    rp__loop_timer_start(c->x->loop, &c->ckpt_timer,
                         rp__now_ns() + (uint64_t)c->ckpt_interval_ms * 1000000u);
}

/* Ends the attempt once the process was reaped and both pipes are shut. */
static void
child_maybe_done(struct child *c)
{
    struct proc_exec *x = c->x;
    struct rp__outcome o;

    if (c->completed || !c->exited || c->w_out.fd >= 0 || c->w_err.fd >= 0)
        return;
    c->completed = true;
    rp__loop_timer_stop(x->loop, &c->timer);
    rp__loop_timer_stop(x->loop, &c->pipe_timer);
    rp__loop_timer_stop(x->loop, &c->ckpt_timer);
    if (c->ckpt_wd >= 0) {
        inotify_rm_watch(x->inotify.fd, c->ckpt_wd);
        c->ckpt_wd = -1;
    }
    memset(&o, 0, sizeof o);
    if (c->status_lost) {
        o.end = RP__END_LOST;
        o.error = rp_xstrdup(STATUS_LOST);
    } else if (WIFEXITED(c->wstatus)) {
        o.end = RP__END_EXITED;
        o.exit_code = WEXITSTATUS(c->wstatus);
    } else {
        o.end = RP__END_SIGNALED;
        o.signal = WTERMSIG(c->wstatus);
    }
    o.timed_out = c->timed_out;
    o.cancelled = c->cancelled;
    o.out = capture_take(&c->out);
    o.err = capture_take(&c->err);
    o.started_ns = c->started_ns;
    o.ended_ns = c->exited_ns;
    o.user_ns = timeval_ns(c->ru.ru_utime);
    o.system_ns = timeval_ns(c->ru.ru_stime);
    o.max_rss_kb = (uint64_t)c->ru.ru_maxrss;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        x->children = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    if (c->run_dir != NULL) {
        struct last_word *w = rp_xmalloc(sizeof *w);
        w->c = c;
        w->o = o;
        rp__durable_post(x->durable, report_after_ingest, w);
        return;
    }
    rp__engine_attempt_done(x->e, c->t, &o);
    /* Events for c may follow in this epoll batch: free it after. */
    rp__loop_post(x->loop, child_free, c);
    live_done(x);
}

static bool
watch(struct child *c, rp__watch *w, uint32_t events, rp__loop_io_fn cb)
{
    if (w->fd < 0)
        return true;
    w->cb = cb;
    w->arg = c;
    return rp__loop_watch(c->x->loop, w, events) == RP_OK;
}

/* Loop thread: takes the freshly spawned child over. */
static void
adopt(void *arg)
{
    struct child *c = arg;
    struct proc_exec *x = c->x;

    c->next = x->children;
    if (x->children != NULL)
        x->children->prev = c;
    x->children = c;
    if (!watch(c, &c->w_pid, EPOLLIN, on_exit_event) || !watch(c, &c->w_in, EPOLLOUT, on_in)) {
        /* epoll refused (out of memory): we cannot follow it, so end it.
         * Without the pidfd watch we must reap it ourselves. */
        kill_group(c, SIGKILL);
        stop_watch(c, &c->w_in);
        stop_watch(c, &c->w_out);
        stop_watch(c, &c->w_err);
        on_exit_event(c, 0);
        return;
    }
    rp__loop_timer_start(x->loop, &c->pipe_timer, c->started_ns + PIPE_WATCH_DELAY_NS);
    if (c->run_dir != NULL) {
        if (!x->inotify.active && x->inotify.fd >= 0) {
            x->inotify.cb = on_inotify;
            x->inotify.arg = x;
            rp__loop_watch(x->loop, &x->inotify, EPOLLIN);
        }
        /* Without the watch (no inotify), versions are saved when the
         * process ends: fewer of them, none lost. */
        c->ckpt_wd = x->inotify.fd < 0 ? -1
                     : inotify_add_watch(x->inotify.fd, c->run_dir,
                                         IN_MOVED_TO | IN_CLOSE_WRITE);
        /* A version renamed before the watch began made no event. */
        request_ingest(c);
        if (c->ckpt_interval_ms != 0)
            rp__loop_timer_start(x->loop, &c->ckpt_timer,
                                 c->started_ns + (uint64_t)c->ckpt_interval_ms * 1000000u);
    }
    if (x->stopping || rp__engine_cancel_requested(x->e, c->t)) {
        c->cancelled = true;
        terminate(c);
    } else if (c->timeout_ms != 0) {
        rp__loop_timer_start(x->loop, &c->timer,
                             c->started_ns + (uint64_t)c->timeout_ms * 1000000u);
    }
}

/* ---- the vtable ---- */

/* An attempt that ends before the loop ever followed it. */
static void
report_end(struct proc_exec *x, struct rp__task *t, uint64_t started, enum rp__end end,
           char *error)
{
    struct rp__outcome o;

    memset(&o, 0, sizeof o);
    o.end = end;
    o.exit_code = -1;
    o.started_ns = started;
    o.ended_ns = rp__now_ns();
    o.error = error;
    rp__engine_attempt_done(x->e, t, &o);
    live_done(x);
}

static void
report_spawn_failure(struct proc_exec *x, struct rp__task *t, uint64_t started, char *error)
{
    report_end(x, t, started, RP__END_SPAWN_FAILED, error);
}

/* Starts the attempt (counted in `live` already). ckpt and restore: the
 * checkpoint protocol's files, taken (NULL when not checkpointing / when
 * there is nothing to restore). */
static void
spawn(struct proc_exec *x, struct rp__task *t, char *ckpt, char *restore)
{
    const struct rp_task *spec = t->spec;
    struct pipes p = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
    char ids[4][48];
    char *ckpt_var = NULL, *restore_var = NULL;
    char **envp;
    struct child *c;
    uint64_t started;
    pid_t pid = -1;
    int err = 0, pidfd;

    started = rp__now_ns();
    if (!x->have_pidfd) {
        free(ckpt);
        free(restore);
        report_spawn_failure(x, t, started,
                             rp_xstrdup("process tasks need pidfds (Linux 5.4 or later)"));
        return;
    }
    if ((spec->stdin_len != 0 && (err = make_pipe(p.in, true)) != 0) ||
        (err = make_pipe(p.out, false)) != 0 || (err = make_pipe(p.err, false)) != 0) {
        char buf[128];
        close_pipes(&p, true);
        snprintf(buf, sizeof buf, "cannot make pipes: %s", strerrordesc_np(err));
        free(ckpt);
        free(restore);
        report_spawn_failure(x, t, started, rp_xstrdup(buf));
        return;
    }
    if (ckpt != NULL)
        ckpt_var = rp__sprintf("REPARTIR_CHECKPOINT_FILE=%s", ckpt);
    if (restore != NULL)
        restore_var = rp__sprintf("REPARTIR_RESTORE_FILE=%s", restore);
    envp = build_env(t, ids, ckpt_var, restore_var);
    err = spec->limits_set ? spawn_forked(spec, &p, x->devnull, envp, &pid)
                           : spawn_posix(spec, &p, x->devnull, envp, &pid);
    free(envp);
    free(ckpt_var);
    free(restore_var);
    free(restore);
    close_pipes(&p, false);
    if (err != 0) {
        close_pipes(&p, true);
        free(ckpt);
        report_spawn_failure(x, t, started, spawn_error(spec, err));
        return;
    }
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0 && errno == ESRCH) {
        /* Already exited and reaped by someone else (a host that ignores
         * SIGCHLD has the kernel do it): the pid is free, touch it no more. */
        close_pipes(&p, true);
        free(ckpt);
        report_end(x, t, started, RP__END_LOST, rp_xstrdup(STATUS_LOST));
        return;
    }
    if (pidfd < 0) {
        /* Out of fds: we could not follow it, so end it now (it has not
         * been reaped: ESRCH aside, the pid is still our child's). */
        char buf[128];
        snprintf(buf, sizeof buf, "cannot watch the process: %s", strerrordesc_np(errno));
        kill(-pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        close_pipes(&p, true);
        free(ckpt);
        report_spawn_failure(x, t, started, rp_xstrdup(buf));
        return;
    }
    rp__engine_attempt_pid(x->e, t, pid);
    c = rp_xcalloc(1, sizeof *c);
    c->x = x;
    c->t = t;
    c->id = t->node.id;
    c->attempt = t->attempts;
    c->pid = pid;
    c->w_pid.fd = pidfd;
    c->w_out.fd = p.out[1];
    c->w_err.fd = p.err[1];
    c->w_in.fd = p.in[1];
    c->stdin_data = spec->stdin_data;
    c->stdin_len = spec->stdin_len;
    c->timeout_ms = spec->timeout_ms;
    c->grace_ms = spec->grace_ms;
    c->started_ns = started;
    capture_init(&c->out, spec->capture_limit);
    capture_init(&c->err, spec->capture_limit);
    rp__timer_init(&c->timer, on_timer);
    rp__timer_init(&c->pipe_timer, on_pipe_timer);
    rp__timer_init(&c->ckpt_timer, on_ckpt_timer);
    c->ckpt_wd = -1;
    c->origin = t->origin;
    if (ckpt != NULL) {
        char *slash = strrchr(ckpt, '/');
        c->run_dir = rp_xstrndup(ckpt, (size_t)(slash - ckpt));
        c->ckpt_interval_ms = rp__engine_checkpoint_interval(x->e, spec);
        free(ckpt);
    }
    /* Spawned by the loop itself (a finished task freed the slot): adopt
     * now rather than wake the loop up for it. */
    if (rp__loop_on_thread(x->loop))
        adopt(c);
    else
        rp__loop_post(x->loop, adopt, c);
}

struct prepare_req {
    struct proc_exec *x;
    struct rp__task *t;
};

/* I/O thread: the run dir and the restore file, then the spawn. */
static void
prepare_and_spawn(void *arg)
{
    struct prepare_req *r = arg;
    char *ckpt, *restore, *why;

    if (rp__durable_prepare(r->x->durable, r->t->node.id, r->t->origin, &ckpt, &restore,
                            &why) != RP_OK ||
        why != NULL) {
        /* Starting from scratch would throw its progress away. */
        free(ckpt);
        free(restore);
        report_spawn_failure(r->x, r->t, rp__now_ns(), why);
    } else {
        spawn(r->x, r->t, ckpt, restore);
    }
    free(r);
}

static void
proc_submit(void *state, struct rp__task *t)
{
    struct proc_exec *x = state;

    pthread_mutex_lock(&x->live_lock);
    x->live++;
    pthread_mutex_unlock(&x->live_lock);
    atomic_fetch_add_explicit(&x->started, 1, memory_order_relaxed);
    if (t->spec->checkpoint && x->durable != NULL) {
        struct prepare_req *r = rp_xmalloc(sizeof *r);
        r->x = x;
        r->t = t;
        rp__durable_post(x->durable, prepare_and_spawn, r);
        return;
    }
    spawn(x, t, NULL, NULL);
}

struct cancel_req {
    struct proc_exec *x;
    rp_task_id id;
    unsigned attempt;
};

static void
cancel_on_loop(void *arg)
{
    struct cancel_req *r = arg;

    for (struct child *c = r->x->children; c != NULL; c = c->next) {
        if (c->id == r->id && c->attempt == r->attempt) {
            c->cancelled = true;
            terminate(c);
            break;
        }
    }
    /* Not found: not adopted yet (adopt() checks the engine's mark) or
     * already ended. */
    free(r);
}

static void
proc_cancel(void *state, rp_task_id id, unsigned attempt)
{
    struct proc_exec *x = state;
    struct cancel_req *r = rp_xmalloc(sizeof *r);

    r->x = x;
    r->id = id;
    r->attempt = attempt;
    rp__loop_post(x->loop, cancel_on_loop, r);
}

/* ---- peeking at the output of a running attempt ---- */

/* The last (at most) max bytes of c, in order, as a malloc'd copy. */
static void
capture_tail(const struct capture *c, size_t max, struct rp__bytes *b)
{
    size_t n = c->len < max ? c->len : max, skip = c->len - n;

    b->total = c->total;
    b->len = n;
    b->data = NULL;
    if (n == 0)
        return;
    b->data = rp_xmalloc(n);
    for (size_t done = 0; done < n;) {
        /* Until the ring is full head is 0 and this is one copy. */
        size_t pos = (c->head + skip + done) % c->limit;
        size_t chunk = c->limit - pos < n - done ? c->limit - pos : n - done;
        memcpy(b->data + done, c->buf + pos, chunk);
        done += chunk;
    }
}

struct peek_req {
    struct proc_exec *x;
    rp_task_id id;
    unsigned attempt;
    size_t max;
    struct rp__bytes *out, *err;
    struct rp__reply reply;
};

/* Loop thread. */
static void
peek_child(struct proc_exec *x, rp_task_id id, unsigned attempt, size_t max,
           struct rp__bytes *out, struct rp__bytes *err)
{
    for (struct child *c = x->children; c != NULL; c = c->next) {
        if (c->id == id && c->attempt == attempt && !c->completed) {
            capture_tail(&c->out, max, out);
            capture_tail(&c->err, max, err);
            return;
        }
    }
}

static void
peek_on_loop(void *arg)
{
    struct peek_req *r = arg;

    peek_child(r->x, r->id, r->attempt, r->max, r->out, r->err);
    rp__reply_give(&r->reply);
}

/* The capture belongs to the loop thread: ask it for a copy and wait (a
 * few microseconds; the request lives on this stack until answered). */
static void
proc_peek(void *state, rp_task_id id, unsigned attempt, size_t max, struct rp__bytes *out,
          struct rp__bytes *err)
{
    struct proc_exec *x = state;
    struct peek_req r = { .x = x, .id = id, .attempt = attempt, .max = max,
                          .out = out, .err = err };

    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    if (rp__loop_on_thread(x->loop)) {
        peek_child(x, id, attempt, max, out, err);
        return;
    }
    rp__reply_init(&r.reply);
    rp__loop_post(x->loop, peek_on_loop, &r);
    rp__reply_take(&r.reply);
}

static rp_status
proc_start(rp__engine *e, void **state)
{
    struct proc_exec *x = rp_xcalloc(1, sizeof *x);
    int probe;

    /* pidfds (Linux 5.3) are how we follow children without SIGCHLD.
     * Without them (old kernels, valgrind) only process tasks fail: a pool
     * for fork/join and function tasks is still useful. */
    probe = (int)syscall(SYS_pidfd_open, getpid(), 0);
    x->have_pidfd = probe >= 0;
    if (probe >= 0) {
        /* waitid(P_PIDFD) came a release later (5.4): on ourselves it says
         * ECHILD when known, EINVAL when not. */
        siginfo_t info;
        if (syscall(SYS_waitid, P_PIDFD, probe, &info, WEXITED | WNOHANG, NULL) < 0 &&
            errno == EINVAL)
            x->have_pidfd = false;
        close(probe);
    }
    x->devnull = lift_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (x->devnull < 0) {
        free(x);
        return RP_ERR_SYSTEM;
    }
    x->e = e;
    x->loop = rp__engine_loop(e);
    x->durable = rp__engine_durable(e);
    /* Watched from the first checkpointing attempt on (loop thread). */
    x->inotify.fd = x->durable != NULL ? inotify_init1(IN_NONBLOCK | IN_CLOEXEC) : -1;
    x->capacity = rp__engine_max_processes(e);
    x->scratch = rp_xmalloc(READ_CHUNK);
    pthread_mutex_init(&x->live_lock, NULL);
    pthread_cond_init(&x->live_cond, NULL);
    *state = x;
    return RP_OK;
}

static unsigned
proc_capacity(void *state)
{
    return ((struct proc_exec *)state)->capacity;
}

static void
proc_stats(void *state, rp__exec_stats *out)
{
    struct proc_exec *x = state;

    pthread_mutex_lock(&x->live_lock);
    out->running = x->live;
    pthread_mutex_unlock(&x->live_lock);
    out->started = atomic_load_explicit(&x->started, memory_order_relaxed);
}

static void
stop_all(void *arg)
{
    struct proc_exec *x = arg;

    x->stopping = true;
    for (struct child *c = x->children; c != NULL; c = c->next) {
        c->cancelled = true;
        terminate(c);
    }
}

/* Loop thread: the last of the executor. */
static void
proc_free(void *arg)
{
    struct proc_exec *x = arg;

    if (x->inotify.active)
        rp__loop_unwatch(x->loop, &x->inotify);
    if (x->inotify.fd >= 0)
        close(x->inotify.fd);
    free(x->scratch);
    free(x);
}

static void
proc_stop(void *state)
{
    struct proc_exec *x = state;

    if (x == NULL)
        return;
    rp__loop_post(x->loop, stop_all, x);
    /* First every attempt the engine dispatched (a submit may not have
     * reached us yet), then every one we answered to return from
     * child_maybe_done. */
    rp__engine_wait_idle(x->e, RP__KIND_PROCESS);
    pthread_mutex_lock(&x->live_lock);
    while (x->live != 0)
        pthread_cond_wait(&x->live_cond, &x->live_lock);
    pthread_mutex_unlock(&x->live_lock);
    /* stop_all may still sit in the queue; let it run before we go. */
    pthread_cond_destroy(&x->live_cond);
    pthread_mutex_destroy(&x->live_lock);
    close(x->devnull);
    rp__loop_post(x->loop, proc_free, x);
}

const rp__exec_ops rp__exec_process = {
    .name = "process",
    .start = proc_start,
    .submit = proc_submit,
    .cancel = proc_cancel,
    .peek = proc_peek,
    .capacity = proc_capacity,
    .stats = proc_stats,
    .stop = proc_stop,
};
