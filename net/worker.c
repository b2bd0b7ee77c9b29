/*
 * worker.c -- repartir-worker: a daemon that runs a coordinator's tasks
 * with its own embedded engine (docs/protocol.md, docs/remote.md).
 *
 * DESIGN: the WebSocket server (net/ws.c) owns every connection ("peer")
 * and every attempt; it runs on the ws thread only. An attempt waits for
 * its inputs (stdin chunks, files it asked for with need_file), then in
 * one FIFO shared by all peers until one of --slots is free, then runs in
 * the engine (rp_submit_notify); the engine's notice comes back through a
 * post, and the output (tail, as the capture limit keeps it) goes out in
 * chunks before the result. `started` is said when an attempt goes to
 * the engine: from then on it is not revoked. A no-op task is answered at once on the ws
 * thread: it starts nothing. Attempts not yet started can be revoked
 * (work stealing) and are given back on drain. When a peer goes, what it
 * had running is cancelled and its notices are dropped.
 * SIGTERM/SIGINT: drain (refuse new work, finish what runs, exit 0); a
 * second one stops at once (what runs is cancelled).
 */
#include "net/worker.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/signalfd.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "engine/alloc.h"
#include "engine/clock.h"
#include "engine/engine.h"
#include "engine/pool.h"
#include "net/endpoint.h"
#include "net/proto.h"
#include "net/workdir.h"
#include "net/ws.h"

#define LOAD_EVERY_NS (1000ull * 1000 * 1000)
#define PEER_TIMEOUT_NS (15ull * 1000 * 1000 * 1000)
#define STDIN_MAX ((uint64_t)256 << 20)
#define FILE_MAX ((uint64_t)4 << 30)
#define OUT_CHUNK (256 * 1024)

enum att_state { A_INPUT, A_QUEUED, A_STARTING, A_RUNNING };

struct wfile {
    char name[256];
    char sha[65];
    uint64_t size;
    unsigned mode;
};

struct peer;

struct watt {
    struct watt *next, *prev;       /* its peer's list */
    struct watt *qnext, *qprev;     /* the FIFO of queued attempts */
    struct peer *peer;              /* NULL once the peer is gone */
    struct worker *w;
    uint64_t task, job;
    unsigned attempt, shard, total;
    enum att_state st;
    char *spec;                     /* JSON */
    unsigned char *in;              /* stdin */
    uint64_t in_size, in_len;
    uint32_t in_seq;
    uint64_t sent[2];               /* stdout, stderr bytes streamed so far */
    bool started_said;              /* `started` sent (seen running) */
    bool given_back;                /* taken back from the engine (revoke):
                                       its notice says nothing */
    uint32_t out_seq[2];            /* their next chunk numbers */
    struct wfile *files;
    size_t nfiles;
    rp_task_id local;
    char run[64];                   /* its run dir under the work dir, or "" */
};

struct peer {
    struct peer *next, *prev;
    struct worker *w;
    rp__wsconn *c;
    bool greeted;
    char node[256];
    uint64_t last_rx_ns;
    struct watt *atts;
    /* the file being received */
    rp_file_in *fin;
    char fin_sha[65];
    uint32_t fin_seq;
    struct asked {                  /* need_file sent, the file not yet here */
        char sha[65];
        uint64_t size;              /* as the submit said */
        bool waited;                /* an attempt here still needs it */
    } *asked;
    size_t nasked;
};

struct worker {
    const struct rp_worker_options *opt;
    rp__ws *ws;
    rp_pool *pool;
    rp_workdir *wd;
    char *token;
    char node[256];
    struct peer *peers;
    struct watt *q_head, *q_tail;
    unsigned running, queued;
    bool draining, stopping;
    struct watt *orphans;           /* running, their peer gone: their
                                       notices free them */
    pthread_mutex_t gate;           /* ws_alive, for the engine's notices */
    bool ws_alive;
    uint64_t last_load_ns;
    unsigned long long cpu_busy, cpu_total;
    int done_pipe[2];               /* the ws thread says "finished" */
};

static void
logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
logf_(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("repartir-worker: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* A name from the network, fit for a log line: bytes below 0x20 and
 * 0x7f become '?'. */
static const char *
shown(const char *s, char *buf, size_t size)
{
    size_t i = 0;

    for (; s[i] != '\0' && i + 1 < size; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    buf[i] = '\0';
    return buf;
}

/* ---- machine figures ---- */

static void
read_cpu(unsigned long long *busy, unsigned long long *total)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = { 0 };

    *busy = *total = 0;
    if (f == NULL)
        return;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) == 8) {
        for (int i = 0; i < 8; i++)
            *total += v[i];
        *busy = *total - v[3] - v[4];
    }
    fclose(f);
}

static void
read_mem(uint64_t *total_mb, uint64_t *used_mb)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[128];
    unsigned long long total = 0, avail = 0, v;

    *total_mb = *used_mb = 0;
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "MemTotal: %llu kB", &v) == 1)
            total = v;
        else if (sscanf(line, "MemAvailable: %llu kB", &v) == 1)
            avail = v;
    }
    fclose(f);
    *total_mb = total / 1024;
    *used_mb = (total > avail ? total - avail : 0) / 1024;
}

/* ---- attempts ---- */

static struct watt *
find_att(struct peer *p, uint64_t task)
{
    for (struct watt *a = p->atts; a != NULL; a = a->next)
        if (a->task == task)
            return a;
    return NULL;
}

static void
q_push(struct worker *w, struct watt *a)
{
    a->st = A_QUEUED;
    a->qnext = NULL;
    a->qprev = w->q_tail;
    if (w->q_tail != NULL)
        w->q_tail->qnext = a;
    else
        w->q_head = a;
    w->q_tail = a;
    w->queued++;
}

static void
q_unlink(struct worker *w, struct watt *a)
{
    if (a->qprev != NULL)
        a->qprev->qnext = a->qnext;
    else
        w->q_head = a->qnext;
    if (a->qnext != NULL)
        a->qnext->qprev = a->qprev;
    else
        w->q_tail = a->qprev;
    a->qnext = a->qprev = NULL;
    w->queued--;
}

/* Takes a out of its peer's list (not of the queue). */
static void
att_detach(struct watt *a)
{
    struct peer *p = a->peer;

    if (p == NULL)
        return;
    if (a->prev != NULL)
        a->prev->next = a->next;
    else
        p->atts = a->next;
    if (a->next != NULL)
        a->next->prev = a->prev;
    a->next = a->prev = NULL;
    a->peer = NULL;
}

static void
att_free(struct watt *a)
{
    if (a->run[0] != '\0')
        rp__workdir_unstage(a->w->wd, a->run);
    free(a->spec);
    free(a->in);
    free(a->files);
    free(a);
}

static struct asked *
asked_find(struct peer *p, const char *sha)
{
    for (size_t i = 0; i < p->nasked; i++)
        if (strcmp(p->asked[i].sha, sha) == 0)
            return &p->asked[i];
    return NULL;
}

/* a leaves its peer: the files it asked for that no other attempt there
 * needs are no longer waited for (if one still arrives it is taken; a
 * later attempt that needs it asks again). */
static void
att_unwait(struct watt *a)
{
    struct peer *p = a->peer;

    for (size_t i = 0; p != NULL && i < a->nfiles; i++) {
        struct asked *k = asked_find(p, a->files[i].sha);
        bool needed = false;
        if (k == NULL)
            continue;
        for (struct watt *o = p->atts; o != NULL && !needed; o = o->next)
            for (size_t j = 0; o != a && o->st == A_INPUT && j < o->nfiles && !needed; j++)
                needed = strcmp(o->files[j].sha, k->sha) == 0;
        k->waited = needed;
    }
}

/* Removes an attempt that never reached the engine. */
static void
att_drop(struct watt *a)
{
    if (a->st == A_QUEUED)
        q_unlink(a->w, a);
    att_unwait(a);
    att_detach(a);
    att_free(a);
}

static void
send_result_simple(struct peer *p, struct watt *a, const char *state, const char *error)
{
    cJSON *m = cJSON_CreateObject();

    cJSON_AddStringToObject(m, "type", "result");
    cJSON_AddNumberToObject(m, "task", (double)a->task);
    cJSON_AddNumberToObject(m, "attempt", a->attempt);
    cJSON_AddStringToObject(m, "state", state);
    if (strcmp(state, "succeeded") == 0)
        cJSON_AddNumberToObject(m, "exit_code", 0);
    if (error != NULL)
        cJSON_AddStringToObject(m, "error", error);
    cJSON_AddNumberToObject(m, "wall_ns", 0);
    cJSON_AddNumberToObject(m, "user_ns", 0);
    cJSON_AddNumberToObject(m, "system_ns", 0);
    cJSON_AddNumberToObject(m, "max_rss_kb", 0);
    cJSON_AddNumberToObject(m, "out_total", 0);
    cJSON_AddNumberToObject(m, "err_total", 0);
    rp__wsconn_send_msg(p->c, m);
}

/* Streams what a stream has written since the last time: the new bytes
 * at the end of tail (len bytes; total written in all). Bytes the capture
 * limit dropped before they could be sent are skipped (the result's
 * totals say how many there were). last: the stream is over. */
static void
send_stream(struct peer *p, struct watt *a, uint8_t kind, const char *tail, size_t len,
            uint64_t total, bool last)
{
    int s = kind == RP_CHUNK_STDERR;
    uint64_t fresh = total > a->sent[s] ? total - a->sent[s] : 0;
    size_t n = fresh > len ? len : (size_t)fresh, off = len - n;

    a->sent[s] = total;
    while (n > 0) {
        size_t k = n > OUT_CHUNK ? OUT_CHUNK : n;
        struct rp_chunk ch = { kind, last && k == n ? RP_CHUNK_LAST : 0, a->task, a->attempt,
                               a->out_seq[s]++, NULL, 0 };
        unsigned char head[RP_PROTO_CHUNK_HEADER];
        rp__chunk_header(&ch, head);
        rp__wsconn_send2(p->c, head, sizeof head, tail + off, k);
        off += k;
        n -= k;
    }
}

/* Every tick: what running attempts wrote since the last one. */
static void
stream_running(struct worker *w)
{
    for (struct peer *p = w->peers; p != NULL; p = p->next) {
        for (struct watt *a = p->atts; a != NULL; a = a->next) {
            rp_task_output o;
            rp_task_info info;
            if (a->st != A_RUNNING || rp__wsconn_backlog(p->c) > ((size_t)4 << 20))
                continue;
            if (!a->started_said && rp_task_get(w->pool, a->local, &info) == RP_OK &&
                info.state != RP_TASK_QUEUED) {
                /* Numbers checked on the way in: no second check needed. */
                char text[160];
                int n = snprintf(text, sizeof text,
                                 "{\"type\":\"started\",\"task\":%llu,\"attempt\":%u,"
                                 "\"pid\":0}",
                                 (unsigned long long)a->task, a->attempt);
                rp__wsconn_send(p->c, false, text, (size_t)n);
                a->started_said = true;
            }
            if (rp_task_peek_output(w->pool, a->local, OUT_CHUNK * 4, &o) == RP_OK) {
                send_stream(p, a, RP_CHUNK_STDOUT, o.out, o.out_len, o.out_total, false);
                send_stream(p, a, RP_CHUNK_STDERR, o.err, o.err_len, o.err_total, false);
            }
            rp_task_output_free(&o);
        }
    }
}

static void pump(struct worker *w);
static void maybe_finish(struct worker *w);

struct done_note {
    struct worker *w;
    struct watt *a;
};

/* ws thread: the engine says the attempt is over. */
static void
done_on_thread(void *arg)
{
    struct done_note *n = arg;
    struct worker *w = n->w;
    struct watt *a = n->a;
    struct peer *p = a->peer;
    rp_result *r = NULL;

    free(n);
    w->running--;
    if (a->given_back) {
        if (rp_wait(w->pool, a->local, 0, &r) == RP_OK)
            rp_result_free(r);
    } else if (p != NULL && rp_wait(w->pool, a->local, 0, &r) == RP_OK) {
        static const char *const names[] = {
            [RP_TASK_SUCCEEDED] = "succeeded", [RP_TASK_FAILED] = "failed",
            [RP_TASK_CANCELLED] = "cancelled", [RP_TASK_TIMED_OUT] = "timed_out",
        };
        rp_task_state st = rp_result_state(r);
        rp_result_times times;
        size_t olen, elen;
        const char *out = rp_result_stdout(r, &olen), *err = rp_result_stderr(r, &elen);
        const char *state = st < sizeof names / sizeof names[0] && names[st] ? names[st]
                                                                                : "failed";
        bool has_error = st != RP_TASK_SUCCEEDED && rp_result_exit_code(r) < 0 &&
                         rp_result_signal(r) == 0;
        cJSON *m;

        rp_result_get_times(r, &times);
        send_stream(p, a, RP_CHUNK_STDOUT, out, olen, rp_result_stdout_total(r), true);
        send_stream(p, a, RP_CHUNK_STDERR, err, elen, rp_result_stderr_total(r), true);
        if (!has_error) {
            /* Numbers only: written here, no second check needed. */
            char text[512], code[40];
            if (rp_result_signal(r) != 0)
                snprintf(code, sizeof code, "\"signal\":%d,", rp_result_signal(r));
            else if (rp_result_exit_code(r) >= 0)
                snprintf(code, sizeof code, "\"exit_code\":%d,", rp_result_exit_code(r));
            else
                code[0] = '\0';
            int tn = snprintf(text, sizeof text,
                             "{\"type\":\"result\",\"task\":%llu,\"attempt\":%u,"
                             "\"state\":\"%s\",%s\"wall_ns\":%llu,\"user_ns\":%llu,"
                             "\"system_ns\":%llu,\"max_rss_kb\":%llu,\"out_total\":%llu,"
                             "\"err_total\":%llu}",
                             (unsigned long long)a->task, a->attempt, state, code,
                             (unsigned long long)times.wall_ns, (unsigned long long)times.user_ns,
                             (unsigned long long)times.system_ns,
                             (unsigned long long)times.max_rss_kb,
                             (unsigned long long)rp_result_stdout_total(r),
                             (unsigned long long)rp_result_stderr_total(r));
            rp__wsconn_send(p->c, false, text, (size_t)tn);
            rp_result_free(r);
            goto done;
        }
        m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "type", "result");
        cJSON_AddNumberToObject(m, "task", (double)a->task);
        cJSON_AddNumberToObject(m, "attempt", a->attempt);
        cJSON_AddStringToObject(m, "state", state);
        if (rp_result_signal(r) != 0)
            cJSON_AddNumberToObject(m, "signal", rp_result_signal(r));
        else if (rp_result_exit_code(r) >= 0)
            cJSON_AddNumberToObject(m, "exit_code", rp_result_exit_code(r));
        cJSON_AddStringToObject(m, "error", rp_result_error(r));
        cJSON_AddNumberToObject(m, "wall_ns", (double)times.wall_ns);
        cJSON_AddNumberToObject(m, "user_ns", (double)times.user_ns);
        cJSON_AddNumberToObject(m, "system_ns", (double)times.system_ns);
        cJSON_AddNumberToObject(m, "max_rss_kb", (double)times.max_rss_kb);
        cJSON_AddNumberToObject(m, "out_total", (double)rp_result_stdout_total(r));
        cJSON_AddNumberToObject(m, "err_total", (double)rp_result_stderr_total(r));
        rp__wsconn_send_msg(p->c, m);
        rp_result_free(r);
    } else if (p == NULL && rp_wait(w->pool, a->local, 0, &r) == RP_OK) {
        rp_result_free(r);          /* its peer went: nobody to tell */
    }
done:
    if (a->peer == NULL) {
        /* An orphan: out of w->orphans. */
        if (a->prev != NULL)
            a->prev->next = a->next;
        else if (w->orphans == a)
            w->orphans = a->next;
        if (a->next != NULL)
            a->next->prev = a->prev;
    }
    att_detach(a);
    att_free(a);
    pump(w);
    maybe_finish(w);
}

/* Engine thread (the loop's): hand over to the ws thread. */
static void
on_engine_done(void *arg, rp_task_id id)
{
    struct watt *a = arg;
    struct done_note *n = rp_xmalloc(sizeof *n);
    struct worker *w = a->w;

    (void)id;
    n->w = w;
    n->a = a;
    /* After the network is gone (a task that outlived the stop), the
     * attempt stays an orphan, freed at the very end. Once posted, a is
     * the ws thread's (it may be freed at once): only w from here. */
    pthread_mutex_lock(&w->gate);
    if (w->ws_alive)
        rp__ws_post(w->ws, done_on_thread, n);
    else
        free(n);
    pthread_mutex_unlock(&w->gate);
}

/* argv[0] as exec would find it: absolute, relative to cwd, or on PATH. */
static char *
resolve_program(const char *prog, const char *cwd)
{
    const char *path;

    if (strchr(prog, '/') != NULL) {
        if (prog[0] == '/' || cwd == NULL)
            return rp_xstrdup(prog);
        return rp__sprintf("%s/%s", cwd, prog);
    }
    path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path != '\0') {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        char *cand = rp__sprintf("%.*s/%s", (int)n, path, prog);
        if (access(cand, X_OK) == 0)
            return cand;
        free(cand);
        path += n + (end != NULL);
    }
    return rp_xstrdup(prog);
}

static void
send_refused(struct peer *p, struct watt *a, const char *why)
{
    rp__wsconn_send_error(p->c, "refused", false, why, a->task, a->attempt);
}

/* Starts a queued attempt in the engine. */
static void
start(struct worker *w, struct watt *a)
{
    struct peer *p = a->peer;
    rp_task *t = NULL;
    char *why = NULL, *run_dir = NULL;
    rp_status st;

    st = rp__task_spec_parse(a->spec, a->in, (size_t)a->in_len, &t, &why);
    if (st == RP_OK && t->noop) {
        /* A no-op that came with stdin or files: they are here; done. */
        send_result_simple(p, a, "succeeded", NULL);
        rp_task_free(t);
        att_drop(a);
        return;
    }
    if (st != RP_OK || (t->kind != RP__KIND_PROCESS && t->tensor == NULL)) {
        send_result_simple(p, a, "failed",
                           why ? why : "only process, tensor and no-op tasks run on a worker");
        free(why);
        if (t != NULL)
            rp_task_free(t);
        att_drop(a);
        return;
    }
    if (a->nfiles != 0) {
        struct rp_staged_file *sf = rp_xcalloc(a->nfiles, sizeof *sf);
        for (size_t i = 0; i < a->nfiles; i++) {
            sf[i].name = a->files[i].name;
            sf[i].sha256 = a->files[i].sha;
            sf[i].mode = a->files[i].mode;
        }
        snprintf(a->run, sizeof a->run, "%llu-%u", (unsigned long long)a->task, a->attempt);
        st = rp__workdir_stage(w->wd, a->run, sf, a->nfiles, &run_dir, &why);
        free(sf);
        if (st != RP_OK) {
            a->run[0] = '\0';
            send_refused(p, a, why ? why : "cannot lay out its files");
            free(why);
            rp_task_free(t);
            att_drop(a);
            return;
        }
        if (t->cwd == NULL)
            rp_task_set_cwd(t, run_dir);
    }
    /* --allow names programs; a tensor task runs only built-in kernels. */
    if (w->opt->nallow != 0 && t->tensor == NULL) {
        char *prog = resolve_program(t->argv[0], t->cwd);
        bool ok = rp__allow_program(w->opt->allow, w->opt->nallow, prog, &why);
        free(prog);
        if (!ok) {
            logf_("%s: refused task %llu: %s", rp__wsconn_peer(p->c),
                  (unsigned long long)a->task, why);
            send_refused(p, a, why);
            free(why);
            free(run_dir);
            rp_task_free(t);
            att_drop(a);
            return;
        }
    }
    free(run_dir);
    t->backend = RP_BACKEND_CPU;        /* here it runs here */
    t->as_set = true;
    t->as_task = a->task;
    t->as_job = a->job;
    t->as_shard = a->shard;
    t->as_total = a->total;
    a->st = A_RUNNING;
    w->running++;
    st = rp_submit_notify(w->pool, t, on_engine_done, a, &a->local);
    if (st != RP_OK) {
        w->running--;
        send_result_simple(p, a, "failed", rp_strerror(st));
        att_drop(a);
        return;
    }
    /* `started` is said when it is seen running (stream_running): until
     * then it can still be given back. */
}

static void
pump(struct worker *w)
{
    /* The engine holds one more than it runs per slot: when a process
     * ends, its thread starts the next at once, without a hand-off to
     * this one. What waits there can still be given back
     * (rp__engine_unqueue). */
    while (w->running < 2 * w->opt->slots && w->q_head != NULL) {
        struct watt *a = w->q_head;
        q_unlink(w, a);
        a->st = A_STARTING;
        start(w, a);
    }
}

static void
maybe_finish(struct worker *w)
{
    if ((w->draining || w->stopping) && w->running == 0 && w->queued == 0) {
        char c = 1;
        if (write(w->done_pipe[1], &c, 1) < 0) {
            /* the main thread is gone already */
        }
    }
}

/* An attempt's inputs may all be here now. */
static void
maybe_ready(struct worker *w, struct watt *a)
{
    if (a->st != A_INPUT || a->in_len < a->in_size)
        return;
    for (size_t i = 0; i < a->nfiles; i++)
        if (!rp__workdir_has(w->wd, a->files[i].sha))
            return;
    q_push(w, a);
    pump(w);
}

/* ---- messages ---- */

static void
fatal(struct peer *p, const char *code, const char *why)
{
    logf_("%s: closed: %s: %s", rp__wsconn_peer(p->c), code, why);
    rp__wsconn_send_error(p->c, code, true, why, 0, 0);
}

static void
on_hello(struct worker *w, struct peer *p, const rp_msg *m)
{
    uint64_t lo = rp__msg_u64(m, "proto_min"), hi = rp__msg_u64(m, "proto_max");
    const char *node = rp__msg_str(m, "node");
    char buf[600], session[33];
    unsigned char raw[16];
    uint64_t mem_total, mem_used;
    cJSON *msg;

    if (lo > RP_PROTO_VERSION || hi < RP_PROTO_VERSION || lo > hi) {
        snprintf(buf, sizeof buf, "no common protocol version: it speaks %llu..%llu, this "
                 "worker %d..%d", (unsigned long long)lo, (unsigned long long)hi,
                 RP_PROTO_VERSION, RP_PROTO_VERSION);
        fatal(p, "version", buf);
        return;
    }
    if (w->token != NULL &&
        (!rp__msg_has(m, "token") || !rp__token_equal(rp__msg_str(m, "token"), w->token))) {
        fatal(p, "auth", rp__msg_has(m, "token") ? "wrong token" : "a token is required");
        return;
    }
    for (struct peer *o = w->peers; o != NULL; o = o->next) {
        if (o != p && o->greeted && strcmp(o->node, node) == 0) {
            char name[256];
            snprintf(buf, sizeof buf, "%.255s is already connected from %s",
                     shown(node, name, sizeof name), rp__wsconn_peer(o->c));
            fatal(p, "duplicate", buf);
            return;
        }
    }
    snprintf(p->node, sizeof p->node, "%s", node);
    p->greeted = true;
    if (RAND_bytes(raw, sizeof raw) != 1)
        memset(raw, 0, sizeof raw);
    for (int i = 0; i < 16; i++)
        snprintf(session + 2 * i, 3, "%02x", raw[i]);
    read_mem(&mem_total, &mem_used);
    msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "type", "welcome");
    cJSON_AddNumberToObject(msg, "proto", RP_PROTO_VERSION);
    cJSON_AddStringToObject(msg, "node", w->node);
    cJSON_AddStringToObject(msg, "session", session);
    cJSON_AddNumberToObject(msg, "cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON_AddNumberToObject(msg, "memory_mb", (double)mem_total);
    cJSON_AddNumberToObject(msg, "slots", w->opt->slots);
    cJSON_AddItemToObject(msg, "gpus", cJSON_CreateArray());
    rp__wsconn_send_msg(p->c, msg);
    logf_("%s: coordinator %s connected", rp__wsconn_peer(p->c),
          shown(node, buf, sizeof buf));
    if (w->draining)
        rp__wsconn_send_msg(p->c, cJSON_Parse("{\"type\":\"drain\"}"));
}

static bool
is_noop(const cJSON *spec)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(spec, "kind");
    return cJSON_IsString(k) && strcmp(k->valuestring, "noop") == 0;
}

static void
ask_file(struct peer *p, const char *sha, uint64_t size)
{
    struct asked *k = asked_find(p, sha);
    cJSON *m;

    if (k != NULL && k->waited)
        return;                     /* on its way */
    if (k == NULL) {
        p->asked = rp_xrealloc(p->asked, (p->nasked + 1) * sizeof *p->asked);
        k = &p->asked[p->nasked++];
        snprintf(k->sha, sizeof k->sha, "%s", sha);
    }
    k->size = size;
    k->waited = true;
    m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "type", "need_file");
    cJSON_AddStringToObject(m, "sha256", sha);
    rp__wsconn_send_msg(p->c, m);
}

static void
on_submit(struct worker *w, struct peer *p, const rp_msg *m)
{
    uint64_t task = rp__msg_u64(m, "task");
    unsigned attempt = (unsigned)rp__msg_u64(m, "attempt");
    const cJSON *spec = rp__msg_item(m, "spec"), *files = rp__msg_item(m, "files"), *f;
    struct watt tmp = { .task = task, .attempt = attempt };
    struct watt *a;
    size_t i = 0;

    if (w->draining) {
        send_refused(p, &tmp, "the worker is draining");
        return;
    }
    if (find_att(p, task) != NULL) {
        send_refused(p, &tmp, "that task is already here");
        return;
    }
    if (rp__msg_u64(m, "stdin_size") > STDIN_MAX) {
        send_refused(p, &tmp, "stdin over 256 MiB");
        return;
    }
    if (is_noop(spec) && files == NULL && rp__msg_u64(m, "stdin_size") == 0) {
        /* Starts nothing: answered here and now (its numbers were
         * checked on the way in, so the text needs no second check). */
        char text[320];
        int n = snprintf(text, sizeof text,
                         "{\"type\":\"result\",\"task\":%llu,\"attempt\":%u,"
                         "\"state\":\"succeeded\",\"exit_code\":0,\"wall_ns\":0,"
                         "\"user_ns\":0,\"system_ns\":0,\"max_rss_kb\":0,"
                         "\"out_total\":0,\"err_total\":0}",
                         (unsigned long long)task, attempt);
        rp__wsconn_send(p->c, false, text, (size_t)n);
        return;
    }
    a = rp_xcalloc(1, sizeof *a);
    a->w = w;
    a->peer = p;
    a->task = task;
    a->attempt = attempt;
    a->job = rp__msg_u64(m, "job");
    a->shard = (unsigned)rp__msg_u64(m, "shard");
    a->total = (unsigned)rp__msg_u64(m, "total_shards");
    a->spec = cJSON_PrintUnformatted(spec);
    a->in_size = rp__msg_u64(m, "stdin_size");
    if (a->in_size != 0)
        a->in = rp_xmalloc((size_t)a->in_size);
    a->nfiles = (size_t)cJSON_GetArraySize(files);
    a->files = a->nfiles ? rp_xcalloc(a->nfiles, sizeof *a->files) : NULL;
    cJSON_ArrayForEach(f, files) {
        struct wfile *wf = &a->files[i++];
        snprintf(wf->name, sizeof wf->name, "%s",
                 cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring);
        snprintf(wf->sha, sizeof wf->sha, "%s",
                 cJSON_GetObjectItemCaseSensitive(f, "sha256")->valuestring);
        wf->size = (uint64_t)cJSON_GetObjectItemCaseSensitive(f, "size")->valuedouble;
        wf->mode = (unsigned)cJSON_GetObjectItemCaseSensitive(f, "mode")->valuedouble;
    }
    a->next = p->atts;
    if (p->atts != NULL)
        p->atts->prev = a;
    p->atts = a;
    a->st = A_INPUT;
    for (i = 0; i < a->nfiles; i++)
        if (!rp__workdir_has(w->wd, a->files[i].sha))
            ask_file(p, a->files[i].sha, a->files[i].size);
    maybe_ready(w, a);
}

/* ok: the attempt was still waiting here and is given back. */
static void
send_revoked(struct peer *p, uint64_t task, unsigned attempt, bool ok)
{
    char text[160];
    int n = snprintf(text, sizeof text,
                     "{\"type\":\"revoked\",\"task\":%llu,\"attempt\":%u,\"ok\":%s}",
                     (unsigned long long)task, attempt, ok ? "true" : "false");

    rp__wsconn_send(p->c, false, text, (size_t)n);
}

static void
on_cancel(struct worker *w, struct peer *p, const rp_msg *m, bool revoke)
{
    uint64_t task = rp__msg_u64(m, "task");
    unsigned attempt = (unsigned)rp__msg_u64(m, "attempt");
    struct watt *a = find_att(p, task);

    if (a == NULL || a->attempt != attempt) {
        if (revoke)
            send_revoked(p, task, attempt, false);
        return;                     /* a cancel that crossed its result */
    }
    if (a->st == A_RUNNING) {
        if (!revoke) {
            rp_cancel(w->pool, a->local);
        } else if (rp__engine_unqueue(rp__pool_engine(w->pool), a->local)) {
            /* Out of the peer's list at once (the coordinator may send it
             * here again before the engine's notice frees it, silently). */
            a->given_back = true;
            att_detach(a);
            a->next = w->orphans;
            if (w->orphans != NULL)
                w->orphans->prev = a;
            w->orphans = a;
            send_revoked(p, task, attempt, true);
        } else {
            send_revoked(p, task, attempt, false);
        }
        return;
    }
    if (revoke)
        send_revoked(p, task, attempt, true);
    else
        send_result_simple(p, a, "cancelled", NULL);
    att_drop(a);
    maybe_finish(w);
}

static void
on_chunk(struct worker *w, struct peer *p, const struct rp_chunk *ch)
{
    char *why = NULL;

    if (ch->kind == RP_CHUNK_STDIN) {
        struct watt *a = find_att(p, ch->id);
        if (a == NULL || a->attempt != ch->attempt || a->st != A_INPUT)
            return;                 /* revoked or cancelled meanwhile */
        if (ch->seq != a->in_seq || a->in_len + ch->payload_len > a->in_size ||
            ((ch->flags & RP_CHUNK_LAST) != 0) != (a->in_len + ch->payload_len == a->in_size)) {
            fatal(p, "malformed", "stdin chunks out of sequence or not of the announced size");
            return;
        }
        a->in_seq++;
        memcpy(a->in + a->in_len, ch->payload, ch->payload_len);
        a->in_len += ch->payload_len;
        maybe_ready(w, a);
        return;
    }
    if (ch->kind != RP_CHUNK_FILE) {
        fatal(p, "malformed", "a coordinator sends only stdin and file chunks");
        return;
    }
    const unsigned char *body = ch->payload;
    size_t body_len = ch->payload_len;
    if (ch->seq == 0) {
        struct asked *k;
        if (p->fin != NULL || ch->payload_len < 32) {
            fatal(p, "malformed", "a file chunk 0 without its SHA-256, or inside another file");
            return;
        }
        for (int i = 0; i < 32; i++)
            snprintf(p->fin_sha + 2 * i, 3, "%02x", ch->payload[i]);
        if ((k = asked_find(p, p->fin_sha)) == NULL) {
            fatal(p, "malformed", "a file this worker did not ask for");
            return;
        }
        if (rp__workdir_receive(w->wd, p->fin_sha, k->size, FILE_MAX, &p->fin, &why) != RP_OK) {
            rp__wsconn_send_error(p->c, "internal", true, why, 0, 0);
            free(why);
            return;
        }
        body += 32;
        body_len -= 32;
    } else if (p->fin == NULL || ch->seq != p->fin_seq + 1) {
        fatal(p, "malformed", "file chunks out of sequence");
        return;
    }
    p->fin_seq = ch->seq;
    if (rp__file_in_write(p->fin, body, body_len, &why) != RP_OK) {
        rp__file_in_abort(p->fin);
        p->fin = NULL;
        fatal(p, "malformed", why);
        free(why);
        return;
    }
    if (ch->flags & RP_CHUNK_LAST) {
        rp_status st = rp__file_in_finish(p->fin, &why);
        p->fin = NULL;
        struct asked *k = asked_find(p, p->fin_sha);
        if (k != NULL)
            *k = p->asked[--p->nasked];
        if (st != RP_OK) {
            fatal(p, "malformed", why);
            free(why);
            return;
        }
        for (struct watt *a = p->atts, *next; a != NULL; a = next) {
            next = a->next;
            maybe_ready(w, a);
        }
    }
}

static void
on_message(void *ud, rp__wsconn *c, enum rp__ws_frame kind, unsigned char *data, size_t len)
{
    struct worker *w = ud;
    struct peer *p = rp__wsconn_user(c);
    enum rp_proto_error code;
    char *why = NULL;
    rp_msg m;

    if (p == NULL || rp__wsconn_cert_error(c) != NULL)
        return;
    p->last_rx_ns = rp__now_ns();
    if (kind == RP__WS_OVERSIZED) {
        char buf[120];
        snprintf(buf, sizeof buf, "a message of more than %zu bytes (the limit)",
                 w->opt->max_frame);
        fatal(p, "too_big", buf);
        return;
    }
    if (kind == RP__WS_BINARY) {
        struct rp_chunk ch;
        if (!p->greeted) {
            fatal(p, "malformed", "bytes before hello");
            return;
        }
        if (rp__chunk_decode(data, len, w->opt->max_frame, &ch, &code, &why) != RP_OK) {
            fatal(p, code == RP_PROTO_TOO_BIG ? "too_big" : "malformed", why);
            free(why);
            return;
        }
        on_chunk(w, p, &ch);
        return;
    }
    if (rp__msg_decode(data, len, w->opt->max_frame, &m, &code, &why) != RP_OK) {
        fatal(p, code == RP_PROTO_TOO_BIG ? "too_big" : "malformed", why);
        free(why);
        return;
    }
    if (!(rp__msg_type_senders(m.type) & RP_PROTO_FROM_COORDINATOR)) {
        char buf[100];
        snprintf(buf, sizeof buf, "%s is not a coordinator's message", rp__msg_type_name(m.type));
        fatal(p, "malformed", buf);
    } else if (!p->greeted && m.type != RP_MSG_HELLO) {
        char buf[100];
        snprintf(buf, sizeof buf, "%s before hello", rp__msg_type_name(m.type));
        fatal(p, "malformed", buf);
    } else if (p->greeted && m.type == RP_MSG_HELLO) {
        fatal(p, "malformed", "a second hello");
    } else {
        switch (m.type) {
        case RP_MSG_HELLO:
            on_hello(w, p, &m);
            break;
        case RP_MSG_SUBMIT:
            on_submit(w, p, &m);
            break;
        case RP_MSG_CANCEL:
            on_cancel(w, p, &m, false);
            break;
        case RP_MSG_REVOKE:
            on_cancel(w, p, &m, true);
            break;
        case RP_MSG_PING: {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "type", "pong");
            cJSON_AddNumberToObject(r, "t", (double)rp__msg_u64(&m, "t"));
            rp__wsconn_send_msg(c, r);
            break;
        }
        case RP_MSG_ERROR:
            logf_("%s: coordinator says: %s: %s", rp__wsconn_peer(c), rp__msg_str(&m, "code"),
                  rp__msg_str(&m, "message"));
            break;
        default:                    /* pong */
            break;
        }
    }
    rp__msg_free(&m);
}

static void
on_opened(void *ud, rp__wsconn *c)
{
    struct worker *w = ud;
    struct peer *p = rp_xcalloc(1, sizeof *p);

    p->w = w;
    p->c = c;
    p->last_rx_ns = rp__now_ns();
    p->next = w->peers;
    if (w->peers != NULL)
        w->peers->prev = p;
    w->peers = p;
    rp__wsconn_set_user(c, p);
    if (rp__wsconn_cert_error(c) != NULL)
        fatal(p, "auth", rp__wsconn_cert_error(c));
}

static void
on_closed(void *ud, rp__wsconn *c, const char *why)
{
    struct worker *w = ud;
    struct peer *p = rp__wsconn_user(c);

    if (p == NULL)
        return;
    if (p->greeted) {
        char name[256];
        logf_("%s: coordinator %s gone: %s", rp__wsconn_peer(c),
              shown(p->node, name, sizeof name), why);
    }
    while (p->atts != NULL) {
        struct watt *a = p->atts;
        if (a->st == A_RUNNING) {
            rp_cancel(w->pool, a->local);   /* its notice frees it */
            att_detach(a);
            a->next = w->orphans;
            if (w->orphans != NULL)
                w->orphans->prev = a;
            w->orphans = a;
        } else {
            att_drop(a);
        }
    }
    rp__file_in_abort(p->fin);
    free(p->asked);
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        w->peers = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    free(p);
    maybe_finish(w);
}

static void
on_tick(void *ud)
{
    struct worker *w = ud;
    uint64_t now = rp__now_ns();

    for (struct peer *p = w->peers; p != NULL; p = p->next)
        if (now - p->last_rx_ns > PEER_TIMEOUT_NS) {
            logf_("%s: silent for %.0f s: closing", rp__wsconn_peer(p->c),
                  (double)(now - p->last_rx_ns) / 1e9);
            rp__wsconn_abort(p->c);
        }
    if (w->running != 0)
        stream_running(w);
    if (now - w->last_load_ns >= LOAD_EVERY_NS) {
        unsigned long long busy, total;
        uint64_t mem_total, mem_used;
        unsigned cpu = 0;
        read_cpu(&busy, &total);
        if (total > w->cpu_total && busy >= w->cpu_busy)
            cpu = (unsigned)(1000 * (busy - w->cpu_busy) / (total - w->cpu_total));
        w->cpu_busy = busy;
        w->cpu_total = total;
        read_mem(&mem_total, &mem_used);
        w->last_load_ns = now;
        for (struct peer *p = w->peers; p != NULL; p = p->next) {
            cJSON *m;
            if (!p->greeted)
                continue;
            m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "type", "load");
            cJSON_AddNumberToObject(m, "running",
                                    w->running < w->opt->slots ? w->running : w->opt->slots);
            cJSON_AddNumberToObject(m, "slots", w->opt->slots);
            cJSON_AddNumberToObject(m, "cpu", cpu > 1000 ? 1000 : cpu);
            cJSON_AddNumberToObject(m, "mem_used_mb", (double)mem_used);
            cJSON_AddNumberToObject(m, "mem_total_mb", (double)mem_total);
            rp__wsconn_send_msg(p->c, m);
        }
    }
}

static void
drain_on_thread(void *arg)
{
    struct worker *w = arg;

    if (w->draining)
        return;
    w->draining = true;
    logf_("draining: %u running, %u queued", w->running, w->queued);
    for (struct peer *p = w->peers; p != NULL; p = p->next)
        if (p->greeted)
            rp__wsconn_send_msg(p->c, cJSON_Parse("{\"type\":\"drain\"}"));
    maybe_finish(w);
}

/* The end: cancel what runs, drop what waits, close every connection;
 * maybe_finish says when the last notice is in. */
static void
stop_on_thread(void *arg)
{
    struct worker *w = arg;

    w->stopping = true;
    for (struct peer *p = w->peers; p != NULL; p = p->next) {
        for (struct watt *a = p->atts, *next; a != NULL; a = next) {
            next = a->next;
            if (a->st == A_RUNNING)
                rp_cancel(w->pool, a->local);
            else
                att_drop(a);
        }
        rp__wsconn_close(p->c, 1001, "the worker is stopping");
    }
    maybe_finish(w);
}

/* 1: a signal, 0: the done pipe, -1: nothing (EINTR). */
static int
wait_event(int sfd, int done_fd, int timeout_ms)
{
    struct pollfd fds[2] = { { sfd, POLLIN, 0 }, { done_fd, POLLIN, 0 } };

    if (poll(fds, 2, timeout_ms) <= 0)
        return -1;
    if (fds[1].revents & POLLIN) {
        char c;
        if (read(done_fd, &c, 1) < 0) {
            /* nothing more to learn */
        }
        return 0;
    }
    if (fds[0].revents & POLLIN) {
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) < 0)
            return -1;
        return 1;
    }
    return -1;
}

/* ---- the program ---- */

static void
usage(FILE *to)
{
    fprintf(to,
            "usage: repartir-worker [--bind HOST:PORT] [--cert FILE --key FILE [--ca FILE]]\n"
            "                       [--token-file FILE] [--slots N] [--work-dir DIR]\n"
            "                       [--allow PREFIX]... [--insecure] [--max-frame BYTES]\n"
            "                       [--node NAME]\n"
            "Runs the tasks a coordinator sends (docs/remote.md). Listens on 127.0.0.1:%d\n"
            "by default; TLS with --cert/--key (required off loopback unless --insecure);\n"
            "--ca requires client certificates signed by it; --token-file requires that\n"
            "token in hello. SIGTERM drains: no new work, running tasks finish, exit 0.\n",
            RP_WORKER_PORT_DEFAULT);
}

static bool
parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno == 0 && *end == '\0' && *out <= max;
}

int
rp_worker_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "bind", required_argument, NULL, 'b' },
        { "cert", required_argument, NULL, 'c' },
        { "key", required_argument, NULL, 'k' },
        { "ca", required_argument, NULL, 'a' },
        { "token-file", required_argument, NULL, 't' },
        { "slots", required_argument, NULL, 's' },
        { "work-dir", required_argument, NULL, 'w' },
        { "allow", required_argument, NULL, 'A' },
        { "insecure", no_argument, NULL, 'I' },
        { "max-frame", required_argument, NULL, 'm' },
        { "node", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct rp_worker_options opt;
    const char *bind = "127.0.0.1", *token_file = NULL, *work_dir = NULL;
    const char **allow = rp_xcalloc((size_t)argc + 1, sizeof *allow);
    struct rp_endpoint ep;
    struct worker w;
    char *why = NULL, defdir[PATH_MAX];
    unsigned long long v;
    int ch, rc = 1;
    sigset_t sigs;

    memset(&opt, 0, sizeof opt);
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.gate, NULL);
    opt.slots = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    opt.max_frame = RP_PROTO_MAX_FRAME_DEFAULT;
    opt.allow = allow;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'b': bind = optarg; break;
        case 'c': opt.cert = optarg; break;
        case 'k': opt.key = optarg; break;
        case 'a': opt.ca = optarg; break;
        case 't': token_file = optarg; break;
        case 'w': work_dir = optarg; break;
        case 'I': opt.insecure = true; break;
        case 'n':
            if (optarg[0] == '\0' || strlen(optarg) > 255) {
                logf_("--node: 1 to 255 bytes");
                goto usage_error;
            }
            snprintf(w.node, sizeof w.node, "%s", optarg);
            break;
        case 's':
            if (!parse_uint(optarg, 4096, &v) || v == 0) {
                logf_("--slots: a number from 1 to 4096, not '%s'", optarg);
                goto usage_error;
            }
            opt.slots = (unsigned)v;
            break;
        case 'm':
            if (!parse_uint(optarg, (unsigned long long)1 << 30, &v) || v < 65536) {
                logf_("--max-frame: bytes from 65536 to 1073741824, not '%s'", optarg);
                goto usage_error;
            }
            opt.max_frame = (size_t)v;
            break;
        case 'A':
            if (optarg[0] != '/') {
                logf_("--allow: an absolute path prefix, not '%s'", optarg);
                goto usage_error;
            }
            allow[opt.nallow++] = optarg;
            break;
        case 'h':
            usage(stdout);
            free(allow);
            return 0;
        default:
            if (optopt != 0)
                logf_("option -%c: unknown, or its value is missing", optopt);
            else
                logf_("'%s': unknown option, or its value is missing", argv[optind - 1]);
            goto usage_error;
        }
    }
    if (optind < argc) {
        logf_("unexpected argument '%s'", argv[optind]);
        goto usage_error;
    }
    if (rp__endpoint_parse(bind, RP_WORKER_PORT_DEFAULT, &ep, &why) != RP_OK) {
        logf_("--bind: %s", why);
        goto usage_error;
    }
    if ((opt.cert == NULL) != (opt.key == NULL)) {
        logf_("--cert and --key go together");
        goto usage_error;
    }
    if (opt.ca != NULL && opt.cert == NULL) {
        logf_("--ca (client certificates) needs TLS: give --cert and --key too");
        goto usage_error;
    }
    if (rp__endpoint_policy(&ep, opt.cert != NULL, opt.key != NULL, opt.insecure, &why) !=
        RP_OK) {
        logf_("%s", why);
        goto usage_error;
    }
    if (opt.key != NULL && rp__secret_file_check(opt.key, &why) != RP_OK) {
        logf_("--key: %s", why);
        goto fail;
    }
    if (token_file != NULL && rp__token_read(token_file, &w.token, &why) != RP_OK) {
        logf_("--token-file: %s", why);
        goto fail;
    }
    if (w.node[0] == '\0') {
        char host[200];
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "worker");
        host[sizeof host - 1] = '\0';
        snprintf(w.node, sizeof w.node, "%s:%u", host, (unsigned)ep.port);
    }
    if (work_dir == NULL) {
        const char *tmp = getenv("TMPDIR");
        snprintf(defdir, sizeof defdir, "%s/repartir-worker-%u-%u",
                 tmp && *tmp ? tmp : "/tmp", (unsigned)getuid(), (unsigned)ep.port);
        work_dir = defdir;
    }
    if (rp__workdir_open(work_dir, &w.wd, &why) != RP_OK) {
        logf_("--work-dir: %s", why);
        goto fail;
    }
    w.opt = &opt;

    /* Signals go to a thread of our own choosing: block them first, so
     * the engine's and the network's threads inherit the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (pipe(w.done_pipe) != 0) {
        logf_("pipe: %s", strerror(errno));
        goto fail;
    }
    {
        rp_pool_config pc;
        rp_pool_config_init(&pc);
        pc.cpu_workers = 0;     /* one per CPU: a tensor task's ops split over them */
        pc.max_processes = opt.slots;
        if (rp_pool_create_why(&pc, &w.pool, &why) != RP_OK) {
            logf_("cannot start the engine: %s", why ? why : "?");
            goto fail;
        }
    }
    {
        struct rp__ws_config cfg;
        struct rp__ws_handler h = { &w, on_opened, on_message, on_closed, on_tick, NULL };
        memset(&cfg, 0, sizeof cfg);
        cfg.bind_host = ep.host;
        cfg.port = ep.port;
        cfg.tls = opt.cert != NULL;
        cfg.cert = opt.cert;
        cfg.key = opt.key;
        cfg.ca = opt.ca;
        cfg.max_frame = opt.max_frame;
        cfg.tick_ms = 250;
        rp__ws *ws;
        if (rp__ws_create(&cfg, &h, &ws, &why) != RP_OK) {
            logf_("%s", why);
            goto fail;
        }
        /* The engine's threads run already: they read these under the gate. */
        pthread_mutex_lock(&w.gate);
        w.ws = ws;
        w.ws_alive = true;
        pthread_mutex_unlock(&w.gate);
    }
    logf_("listening on %s%s%s:%u (%s) as %s, %u slots, work dir %s",
          ep.ipv6 ? "[" : "", ep.host, ep.ipv6 ? "]" : "", (unsigned)ep.port,
          opt.cert == NULL ? "plain ws" : opt.ca != NULL ? "mutual tls" : "tls", w.node,
          opt.slots, work_dir);

    /* Wait for a signal or the end of the drain. */
    {
        int sfd = signalfd(-1, &sigs, SFD_CLOEXEC), signals = 0;
        if (sfd < 0) {
            logf_("signalfd: %s", strerror(errno));
            goto fail;
        }
        for (;;) {
            int s = wait_event(sfd, w.done_pipe[0], -1);
            if (s == 0)
                break;              /* drained */
            if (s < 0)
                continue;
            if (++signals == 1) {
                rp__ws_post(w.ws, drain_on_thread, &w);
            } else {
                logf_("second signal: stopping now, cancelling what runs");
                break;
            }
        }
        /* Every attempt ends (cancelled if need be) and is answered before
         * the connections and the engine go. Bounded: processes get their
         * grace period, then SIGKILL. */
        rp__ws_post(w.ws, stop_on_thread, &w);
        for (int i = 0; i < 60 && wait_event(sfd, w.done_pipe[0], 1000) != 0; i++)
            ;
        close(sfd);
    }
    rc = 0;
fail:
    pthread_mutex_lock(&w.gate);
    w.ws_alive = false;
    pthread_mutex_unlock(&w.gate);
    if (w.ws != NULL)
        rp__ws_destroy(w.ws);
    if (w.pool != NULL)
        rp_pool_shutdown(w.pool);
    while (w.orphans != NULL) {
        struct watt *a = w.orphans;
        w.orphans = a->next;
        att_free(a);
    }
    pthread_mutex_destroy(&w.gate);
    if (w.wd != NULL)
        rp__workdir_close(w.wd);
    if (w.token != NULL)
        rp__token_free(w.token);
    if (w.done_pipe[0] > 0) {
        close(w.done_pipe[0]);
        close(w.done_pipe[1]);
    }
    free(why);
    free(allow);
    if (rc == 0)
        logf_("stopped");
    return rc;
usage_error:
    free(why);
    free(allow);
    fprintf(stderr, "Try 'repartir-worker --help'.\n");
    return 2;
}
