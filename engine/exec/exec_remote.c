/*
 * exec_remote.c -- the remote executor: process and no-op tasks run on
 * repartir-worker daemons (docs/protocol.md, docs/remote.md).
 *
 * DESIGN: one WebSocket client context (net/ws.c) whose thread owns every
 * link and every attempt out on one; other threads reach it by posting. A
 * link is one daemon: dialled, greeted (hello/welcome), then given a
 * window of attempts by the engine, which counts the window as that
 * link's slots (rp__engine_link_set) and picks the link with the most
 * room for each attempt. An attempt is known here by its task id, with
 * the attempt number and link it went to: a result, a chunk or a `started`
 * that does not match all three is late (from a link declared lost, or a
 * previous attempt) and dropped, so nothing is recorded twice.
 *
 * A link silent for remote_timeout_ms, or whose connection drops, is
 * LOST: its attempts go back to the engine as lost (queued again at once,
 * not counted against retries), its slots vanish, and it is dialled again
 * with exponential backoff (10 ms .. 5 s). A draining daemon keeps its
 * running attempts and gives back, through `revoke`, those it has not
 * started. Stealing: when a link has idle slots and nothing queued for it
 * (the engine would have filled its window otherwise), attempts that wait
 * unstarted on the most loaded link are revoked and come back through the
 * engine, which hands them to the link with the most room.
 *
 * THREADS: submit and cancel come from any thread (cancel with the engine
 * lock held: it only posts). Everything else runs on the ws thread.
 * rp_pool_add_worker/remove_worker take `lock` for the address list and
 * post the change.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <openssl/evp.h>

#include "engine/alloc.h"
#include "engine/clock.h"
#include "engine/engine.h"
#include "engine/pool.h"
#include "engine/reply.h"
#include "net/endpoint.h"
#include "net/proto.h"
#include "net/ws.h"

#define TICK_MS 250               /* heartbeats, dials, stealing; finer dials use rp__ws_tick_in */
#define PING_EVERY_NS (1000ull * 1000 * 1000)
#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 5000
#define DEFAULT_TIMEOUT_MS 5000
#define CHUNK_MAX (256 * 1024)      /* stdin chunk payload */
#define STDIN_MAX ((size_t)256 << 20)   /* what a worker takes (net/worker.c) */

enum link_state { L_IDLE, L_DIALLING, L_HELLO, L_UP, L_DRAINING };

struct attempt {
    struct attempt *hnext;          /* hash chain by id */
    struct attempt *lprev, *lnext;  /* its link's list */
    struct rp__task *t;
    rp_task_id id;
    unsigned attempt, link;
    bool started, revoking, cancel_sent;
    uint32_t seq[2];                /* next stdout, stderr chunk */
    struct rp__bytes out, err;
    size_t cap;                     /* capture limit of each stream */
    size_t max_frame;
};

/* A file a worker asked for (need_file), being sent or next in line. */
struct fsend {
    struct fsend *next;
    char sha[65];
    char *path;
    uint64_t size, off;
    uint32_t seq;
    int fd;                         /* -1 until opened */
    EVP_MD_CTX *md;                 /* what was sent, hashed as it goes */
};

struct link {
    struct fsend *files;            /* asked for; the first is being sent */
    unsigned index;
    char addr[280];
    struct rp_endpoint ep;
    enum link_state st;
    rp__wsconn *c;
    char node[256];
    unsigned slots, window, outstanding, started;
    uint64_t last_rx_ns, last_ping_ns, dial_at_ns, up_ns;
    unsigned backoff_ms;
    bool removed;
    struct attempt *atts;
    char last_error[200];
};

struct remote {
    rp__engine *e;
    pthread_mutex_t lock;           /* ws creation and the address list */
    rp__ws *ws;
    struct link *links[RP__MAX_LINKS];
    char *addrs[RP__MAX_LINKS];     /* under lock: who is configured */
    struct attempt **buckets;
    size_t mask, count;
    bool tls, insecure;
    char *cert, *key, *ca, *token;
    unsigned timeout_ms, window_cfg;
    size_t max_frame;
    char node[128];                 /* ours, in hello */
    unsigned char fbuf[256 * 1024]; /* files_pump's chunk (FILE_CHUNK) */
    _Atomic uint64_t started_total;
    _Atomic unsigned running;
    bool stopping;
};

/* ---- the attempt table (ws thread) ---- */

static size_t
slot_of(const struct remote *r, rp_task_id id)
{
    return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 24) & r->mask;
}

static void
att_put(struct remote *r, struct attempt *a)
{
    if (r->count >= r->mask) {
        size_t mask = 2 * r->mask + 1;
        struct attempt **b = rp_xcalloc(mask + 1, sizeof *b);
        for (size_t i = 0; i <= r->mask; i++) {
            struct attempt *x = r->buckets[i];
            while (x != NULL) {
                struct attempt *next = x->hnext;
                size_t s = (size_t)((x->id * 0x9e3779b97f4a7c15ull) >> 24) & mask;
                x->hnext = b[s];
                b[s] = x;
                x = next;
            }
        }
        free(r->buckets);
        r->buckets = b;
        r->mask = mask;
    }
    size_t s = slot_of(r, a->id);
    a->hnext = r->buckets[s];
    r->buckets[s] = a;
    r->count++;
}

static struct attempt *
att_get(const struct remote *r, rp_task_id id)
{
    struct attempt *a = r->buckets[slot_of(r, id)];

    while (a != NULL && a->id != id)
        a = a->hnext;
    return a;
}

/* Takes a out of the table and its link's list. */
static void
att_del(struct remote *r, struct attempt *a)
{
    struct attempt **p = &r->buckets[slot_of(r, a->id)];
    struct link *l = r->links[a->link];

    while (*p != NULL && *p != a)
        p = &(*p)->hnext;
    if (*p != NULL) {
        *p = a->hnext;
        r->count--;
    }
    if (a->lprev != NULL)
        a->lprev->lnext = a->lnext;
    else
        l->atts = a->lnext;
    if (a->lnext != NULL)
        a->lnext->lprev = a->lprev;
    l->outstanding--;
    if (a->started)
        l->started--;
}

/* Hands an attempt's end to the engine and frees it. o's bytes are
 * filled from what arrived. */
static void
att_end(struct remote *r, struct attempt *a, struct rp__outcome *o)
{
    struct rp__task *t = a->t;

    att_del(r, a);
    if (o->out.data == NULL && o->err.data == NULL) {
        uint64_t out_total = o->out.total, err_total = o->err.total;
        o->out = a->out;
        o->err = a->err;
        if (out_total > o->out.total)
            o->out.total = out_total;
        if (err_total > o->err.total)
            o->err.total = err_total;
        a->out.data = a->err.data = NULL;
    }
    free(a->out.data);
    free(a->err.data);
    free(a);
    r->running--;
    rp__engine_attempt_done(r->e, t, o);
}

static void
att_lost(struct remote *r, struct attempt *a, const char *why)
{
    struct rp__outcome o;
    uint64_t now = rp__now_ns();

    memset(&o, 0, sizeof o);
    o.end = RP__END_LOST;
    o.exit_code = -1;
    o.lost = true;
    o.started_ns = o.ended_ns = now;
    o.error = rp_xstrdup(why);
    att_end(r, a, &o);
}

/* ---- shipped files ---- */

static void link_down(struct remote *r, struct link *l, const char *why);
static void send_simple(rp__wsconn *c, const char *type, rp_task_id id, unsigned attempt);

#define FILE_CHUNK (256 * 1024)
#define FILE_BACKLOG (4u << 20)     /* queued bytes before we wait */

static void
fsend_free(struct fsend *f)
{
    if (f->fd >= 0)
        close(f->fd);
    EVP_MD_CTX_free(f->md);
    free(f->path);
    free(f);
}

/* The attempts on l that need the file of this hash fail with why, and
 * so will every later attempt of their descriptions (before anything is
 * sent: a file that cannot be read or changed stays so). */
static void
files_fail(struct remote *r, struct link *l, const char *sha, const char *why)
{
    for (struct attempt *a = l->atts, *next; a != NULL; a = next) {
        struct rp_task *spec = a->t->spec;
        bool uses = false;
        next = a->lnext;
        for (unsigned i = 0; i < spec->nfiles && !uses; i++)
            uses = strcmp(spec->files[i].sha256, sha) == 0;
        if (uses && spec->wire_refused == NULL)
            spec->wire_refused = rp_xstrdup(why);
        if (uses) {
            struct rp__outcome o;
            memset(&o, 0, sizeof o);
            o.end = RP__END_SPAWN_FAILED;
            o.exit_code = -1;
            o.error = rp_xstrdup(why);
            if (l->c != NULL)
                send_simple(l->c, "cancel", a->id, a->attempt);
            att_end(r, a, &o);
        }
    }
}


/* Sends what the worker asked for while the connection takes it. */
static void
files_pump(struct remote *r, struct link *l)
{
    unsigned char *buf = r->fbuf;

    while (l->files != NULL && l->c != NULL && !rp__wsconn_closing(l->c) &&
           rp__wsconn_backlog(l->c) < FILE_BACKLOG) {
        struct fsend *f = l->files;
        unsigned char head[RP_PROTO_CHUNK_HEADER], *p = buf;
        size_t room = FILE_CHUNK, n = 0;
        struct rp_chunk ch = { RP_CHUNK_FILE, 0, 0, 0, f->seq, NULL, 0 };

        if (f->fd < 0) {
            f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
            f->md = EVP_MD_CTX_new();
            if (f->md == NULL || EVP_DigestInit_ex(f->md, EVP_sha256(), NULL) != 1)
                rp__out_of_memory(0);
            if (f->fd < 0) {
                char why[600];
                snprintf(why, sizeof why, "cannot open the shipped file %s: %s", f->path,
                         strerror(errno));
                l->files = f->next;
                files_fail(r, l, f->sha, why);
                fsend_free(f);
                continue;
            }
        }
        if (f->seq == 0) {
            for (int i = 0; i < 32; i++) {
                unsigned v;
                sscanf(f->sha + 2 * i, "%2x", &v);
                buf[i] = (unsigned char)v;
            }
            p += 32;
            room -= 32;
        }
        while (n < room && f->off + n < f->size) {
            size_t want = room - n;
            ssize_t got;
            if (want > f->size - f->off - n)
                want = (size_t)(f->size - f->off - n);
            got = read(f->fd, p + n, want);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                break;
            n += (size_t)got;
        }
        EVP_DigestUpdate(f->md, p, n);
        f->off += n;
        bool last = f->off == f->size;
        if (n == 0 && !last) {
            /* Shorter than when it was added: the worker holds half a
             * file, so the connection goes (it drops the half). */
            char why[600];
            snprintf(why, sizeof why, "the shipped file %s changed since it was added", f->path);
            l->files = f->next;
            files_fail(r, l, f->sha, why);
            fsend_free(f);
            rp__wsconn_send_error(l->c, "internal", true, why, 0, 0);
            link_down(r, l, why);
            return;
        }
        if (last) {
            unsigned char digest[EVP_MAX_MD_SIZE];
            unsigned dlen = 0;
            char hex[65];
            EVP_DigestFinal_ex(f->md, digest, &dlen);
            for (unsigned i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", digest[i]);
            if (strcmp(hex, f->sha) != 0) {
                char why[600];
                snprintf(why, sizeof why, "the shipped file %s changed since it was added "
                         "(its SHA-256 differs)", f->path);
                l->files = f->next;
                files_fail(r, l, f->sha, why);
                fsend_free(f);
                rp__wsconn_send_error(l->c, "internal", true, why, 0, 0);
                link_down(r, l, why);
                return;
            }
            ch.flags = RP_CHUNK_LAST;
        }
        rp__chunk_header(&ch, head);
        if (!rp__wsconn_send2(l->c, head, sizeof head, buf, (size_t)(p - buf) + n))
            return;                 /* closing: link_down follows */
        f->seq++;
        if (last) {
            l->files = f->next;
            fsend_free(f);
        }
    }
}

static void
on_need_file(struct remote *r, struct link *l, const char *sha)
{
    struct fsend **tail = &l->files, *f;

    for (f = l->files; f != NULL; f = f->next) {
        if (strcmp(f->sha, sha) == 0)
            return;                 /* on its way */
        tail = &f->next;
    }
    for (struct attempt *a = l->atts; a != NULL; a = a->lnext) {
        const struct rp_task *spec = a->t->spec;
        for (unsigned i = 0; i < spec->nfiles; i++) {
            if (strcmp(spec->files[i].sha256, sha) == 0) {
                f = rp_xcalloc(1, sizeof *f);
                snprintf(f->sha, sizeof f->sha, "%s", sha);
                f->path = rp_xstrdup(spec->files[i].path);
                f->size = spec->files[i].size;
                f->fd = -1;
                *tail = f;
                files_pump(r, l);
                return;
            }
        }
    }
    /* None of ours: an attempt that ended meanwhile. */
}

static void
on_drained(void *ud, rp__wsconn *c)
{
    struct link *l = rp__wsconn_user(c);

    if (l != NULL && l->files != NULL)
        files_pump(ud, l);
}

/* ---- links ---- */

static void
link_publish(struct remote *r, struct link *l)
{
    bool up = l->st == L_UP || l->st == L_DRAINING;

    rp__engine_link_set(r->e, l->index, l->node[0] ? l->node : l->addr, l->addr,
                        l->st == L_UP ? l->window : 0, l->slots, up);
}

/* The link is gone (closed, silent, removed): every attempt out on it is
 * lost, its slots vanish, and it is dialled again later. */
static void
link_down(struct remote *r, struct link *l, const char *why)
{
    char msg[1024];
    bool was_up = l->st == L_UP || l->st == L_DRAINING;

    if (l->st == L_IDLE)
        return;
    if (r->stopping)
        ;                           /* nothing to report: we are going */
    else if (was_up || l->outstanding != 0)
        fprintf(stderr, "repartir: worker %s (%s) lost: %s\n", l->node[0] ? l->node : "?",
                l->addr, why);
    else if (strcmp(l->last_error, why) != 0)
        fprintf(stderr, "repartir: worker %s: %s\n", l->addr, why);
    snprintf(l->last_error, sizeof l->last_error, "%s", why);
    l->st = L_IDLE;
    if (l->c != NULL) {
        rp__wsconn_set_user(l->c, NULL);
        /* A close already queued (an error said, then 1002/1009/1001)
         * goes out; a silent or broken link is just dropped. */
        if (!rp__wsconn_closing(l->c))
            rp__wsconn_abort(l->c);
        l->c = NULL;
    }
    while (l->files != NULL) {
        struct fsend *f = l->files;
        l->files = f->next;
        fsend_free(f);
    }
    /* The engine first stops counting its slots, then gets its attempts
     * back, so none of them is given to it again. */
    rp__engine_link_set(r->e, l->index, NULL, NULL, 0, l->slots, false);
    snprintf(msg, sizeof msg, "worker %s (%s) lost: %s", l->node[0] ? l->node : "?", l->addr,
             why);
    while (l->atts != NULL)
        att_lost(r, l->atts, msg);
    if (was_up)
        l->backoff_ms = BACKOFF_MIN_MS;
    else
        l->backoff_ms = l->backoff_ms ? (l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                                           : l->backoff_ms * 2)
                                      : BACKOFF_MIN_MS;
    l->dial_at_ns = rp__now_ns() + (uint64_t)l->backoff_ms * 1000000;
    if (l->backoff_ms < TICK_MS && !l->removed && !r->stopping)
        rp__ws_tick_in(r->ws, l->backoff_ms);
}

static void
link_dial(struct remote *r, struct link *l)
{
    char *why = NULL;

    l->st = L_DIALLING;
    l->c = rp__ws_connect(r->ws, l->ep.host, l->ep.port, l, &why);
    if (l->c == NULL) {
        link_down(r, l, why ? why : "cannot connect");
        free(why);
    }
}

static void
send_hello(struct remote *r, struct link *l)
{
    cJSON *m = cJSON_CreateObject();

    cJSON_AddStringToObject(m, "type", "hello");
    cJSON_AddNumberToObject(m, "proto_min", RP_PROTO_VERSION);
    cJSON_AddNumberToObject(m, "proto_max", RP_PROTO_VERSION);
    cJSON_AddStringToObject(m, "node", r->node);
    if (r->token != NULL)
        cJSON_AddStringToObject(m, "token", r->token);
    rp__wsconn_send_msg(l->c, m);
    l->st = L_HELLO;
}

static void
send_simple(rp__wsconn *c, const char *type, rp_task_id id, unsigned attempt)
{
    cJSON *m = cJSON_CreateObject();

    cJSON_AddStringToObject(m, "type", type);
    cJSON_AddNumberToObject(m, "task", (double)id);
    cJSON_AddNumberToObject(m, "attempt", attempt);
    rp__wsconn_send_msg(c, m);
}

/* Work stealing: a link with idle slots and nothing more coming takes
 * unstarted attempts from the link with the most of them. */
static void
steal(struct remote *r)
{
    struct link *idle = NULL, *rich = NULL;
    unsigned want, rich_waiting = 0;

    for (unsigned i = 0; i < RP__MAX_LINKS; i++) {
        struct link *l = r->links[i];
        if (l == NULL || l->st != L_UP)
            continue;
        unsigned room = l->slots < l->window ? l->slots : l->window;
        if (l->outstanding < room && (idle == NULL || l->outstanding < idle->outstanding))
            idle = l;
    }
    if (idle == NULL)
        return;
    for (unsigned i = 0; i < RP__MAX_LINKS; i++) {
        struct link *l = r->links[i];
        unsigned waiting = 0;
        if (l == NULL || l == idle || (l->st != L_UP && l->st != L_DRAINING))
            continue;
        for (struct attempt *a = l->atts; a != NULL; a = a->lnext)
            waiting += !a->started && !a->revoking;
        if (waiting > rich_waiting) {
            rich = l;
            rich_waiting = waiting;
        }
    }
    if (rich == NULL)
        return;
    want = (idle->slots < idle->window ? idle->slots : idle->window) - idle->outstanding;
    if (want > (rich_waiting + 1) / 2)
        want = (rich_waiting + 1) / 2;
    /* The newest unstarted ones (the list's head): they would have waited
     * longest there. */
    for (struct attempt *a = rich->atts; a != NULL && want > 0; a = a->lnext) {
        if (a->started || a->revoking)
            continue;
        a->revoking = true;
        send_simple(rich->c, "revoke", a->id, a->attempt);
        want--;
    }
}

/* ---- messages from a worker ---- */

static void
on_welcome(struct remote *r, struct link *l, const rp_msg *m)
{
    const char *node = rp__msg_str(m, "node");
    uint64_t slots64 = rp__msg_u64(m, "slots");
    unsigned slots = slots64 > RP__LINK_WINDOW_MAX ? RP__LINK_WINDOW_MAX : (unsigned)slots64;

    if (rp__msg_u64(m, "proto") != RP_PROTO_VERSION) {
        rp__wsconn_send_error(l->c, "version", true, "protocol version 1 only", 0, 0);
        link_down(r, l, "it chose a protocol version we do not speak");
        return;
    }
    for (unsigned i = 0; i < RP__MAX_LINKS; i++) {
        struct link *o = r->links[i];
        if (o != NULL && o != l && (o->st == L_UP || o->st == L_DRAINING) &&
            strcmp(o->node, node) == 0) {
            char why[800];
            snprintf(why, sizeof why, "it calls itself %s, as does the live worker at %s",
                     node, o->addr);
            rp__wsconn_send_error(l->c, "duplicate", true, why, 0, 0);
            link_down(r, l, why);
            return;
        }
    }
    snprintf(l->node, sizeof l->node, "%s", node);
    l->slots = slots ? slots : 1;
    l->window = r->window_cfg ? r->window_cfg : 2 * l->slots + 2;
    if (l->window > RP__LINK_WINDOW_MAX)
        l->window = RP__LINK_WINDOW_MAX;
    l->st = L_UP;
    l->up_ns = rp__now_ns();
    l->backoff_ms = 0;
    l->last_error[0] = '\0';
    link_publish(r, l);
}

static void
on_result(struct remote *r, struct link *l, const rp_msg *m)
{
    rp_task_id id = rp__msg_u64(m, "task");
    unsigned attempt = (unsigned)rp__msg_u64(m, "attempt");
    struct attempt *a = att_get(r, id);
    const char *state = rp__msg_str(m, "state");
    struct rp__outcome o;
    uint64_t now = rp__now_ns(), wall = rp__msg_u64(m, "wall_ns");

    if (a == NULL || a->link != l->index || a->attempt != attempt)
        return;                     /* late: that attempt is not waited for */
    memset(&o, 0, sizeof o);
    o.exit_code = -1;
    if (rp__msg_has(m, "signal")) {
        o.end = RP__END_SIGNALED;
        o.signal = (int)rp__msg_u64(m, "signal");
    } else if (rp__msg_has(m, "exit_code")) {
        o.end = RP__END_EXITED;
        o.exit_code = (int)rp__msg_u64(m, "exit_code");
    } else if (strcmp(state, "succeeded") == 0) {
        o.end = RP__END_EXITED;
        o.exit_code = 0;
    } else {
        o.end = RP__END_SPAWN_FAILED;
    }
    o.cancelled = strcmp(state, "cancelled") == 0;
    o.timed_out = strcmp(state, "timed_out") == 0;
    if (strcmp(state, "succeeded") != 0 && o.end == RP__END_EXITED && o.exit_code == 0 &&
        !o.cancelled && !o.timed_out)
        o.end = RP__END_SPAWN_FAILED;   /* "failed" with exit 0: never a success */
    if (rp__msg_has(m, "error"))
        o.error = rp__sprintf("%s (on %s)", rp__msg_str(m, "error"), l->node);
    o.ended_ns = now;
    o.started_ns = now > wall ? now - wall : 0;
    o.user_ns = rp__msg_u64(m, "user_ns");
    o.system_ns = rp__msg_u64(m, "system_ns");
    o.max_rss_kb = rp__msg_u64(m, "max_rss_kb");
    o.out.total = rp__msg_u64(m, "out_total");
    o.err.total = rp__msg_u64(m, "err_total");
    att_end(r, a, &o);
}

static void
on_error(struct remote *r, struct link *l, const rp_msg *m)
{
    const char *code = rp__msg_str(m, "code"), *text = rp__msg_str(m, "message");

    if (rp__msg_has(m, "task") && !rp__msg_bool(m, "fatal")) {
        struct attempt *a = att_get(r, rp__msg_u64(m, "task"));
        struct rp__outcome o;
        if (a == NULL || a->link != l->index ||
            a->attempt != (unsigned)rp__msg_u64(m, "attempt"))
            return;
        memset(&o, 0, sizeof o);
        if (l->st == L_DRAINING && strcmp(code, "refused") == 0 && !a->started) {
            /* It crossed the drain (or came on joining a draining
             * worker): given back, to run elsewhere. */
            o.end = RP__END_LOST;
            o.revoked = true;
            att_end(r, a, &o);
            return;
        }
        o.end = RP__END_SPAWN_FAILED;
        o.exit_code = -1;
        o.started_ns = o.ended_ns = rp__now_ns();
        o.error = rp__sprintf("worker %s %s: %s", l->node,
                              strcmp(code, "refused") == 0 ? "refused it" : code, text);
        att_end(r, a, &o);
        return;
    }
    char why[4200];
    snprintf(why, sizeof why, "%s: %s", code, text);
    if (rp__msg_bool(m, "fatal"))
        link_down(r, l, why);           /* it says it once */
    else
        fprintf(stderr, "repartir: worker %s (%s) says: %s\n", l->node[0] ? l->node : "?",
                l->addr, why);
}

static void
on_chunk(struct remote *r, struct link *l, const struct rp_chunk *ch)
{
    struct attempt *a = att_get(r, ch->id);
    struct rp__bytes *b;
    int s;

    if (ch->kind != RP_CHUNK_STDOUT && ch->kind != RP_CHUNK_STDERR) {
        rp__wsconn_send_error(l->c, "malformed", true, "a worker sends only output chunks", 0,
                              0);
        link_down(r, l, "it sent a chunk of a kind a worker never sends");
        return;
    }
    if (a == NULL || a->link != l->index || a->attempt != ch->attempt)
        return;                     /* late */
    s = ch->kind == RP_CHUNK_STDERR;
    if (ch->seq != a->seq[s]) {
        rp__wsconn_send_error(l->c, "malformed", true, "output chunks out of sequence", 0, 0);
        link_down(r, l, "it sent output chunks out of sequence");
        return;
    }
    a->seq[s]++;
    b = s ? &a->err : &a->out;
    b->total += ch->payload_len;
    if (a->cap == 0)
        return;
    /* Keep the tail: at most cap bytes. */
    size_t n = ch->payload_len;
    const unsigned char *p = ch->payload;
    if (n >= a->cap) {
        p += n - a->cap;
        n = a->cap;
        b->len = 0;
    } else if (b->len + n > a->cap) {
        size_t drop = b->len + n - a->cap;
        memmove(b->data, b->data + drop, b->len - drop);
        b->len -= drop;
    }
    if (b->data == NULL)
        b->data = rp_xmalloc(a->cap);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void
on_message(void *ud, rp__wsconn *c, enum rp__ws_frame kind, unsigned char *data, size_t len)
{
    struct remote *r = ud;
    struct link *l = rp__wsconn_user(c);
    enum rp_proto_error code;
    char *why = NULL;
    rp_msg m;

    if (l == NULL)
        return;
    l->last_rx_ns = rp__now_ns();
    if (kind == RP__WS_OVERSIZED) {
        rp__wsconn_send_error(c, "too_big", true, "a frame over the limit", 0, 0);
        link_down(r, l, "it sent a frame over the size limit");
        return;
    }
    if (kind == RP__WS_BINARY) {
        struct rp_chunk ch;
        if (l->st != L_UP && l->st != L_DRAINING) {
            rp__wsconn_send_error(c, "malformed", true, "bytes before welcome", 0, 0);
            link_down(r, l, "it sent bytes before welcome");
            return;
        }
        if (rp__chunk_decode(data, len, r->max_frame, &ch, &code, &why) != RP_OK) {
            rp__wsconn_send_error(c, code == RP_PROTO_TOO_BIG ? "too_big" : "malformed", true,
                                  why, 0, 0);
            link_down(r, l, why);
            free(why);
            return;
        }
        on_chunk(r, l, &ch);
        return;
    }
    if (rp__msg_decode(data, len, r->max_frame, &m, &code, &why) != RP_OK) {
        rp__wsconn_send_error(c, code == RP_PROTO_TOO_BIG ? "too_big" : "malformed", true, why,
                              0, 0);
        link_down(r, l, why);
        free(why);
        return;
    }
    /* Before welcome only welcome or error; welcome only then. */
    if (!(rp__msg_type_senders(m.type) & RP_PROTO_FROM_WORKER) ||
        (l->st == L_HELLO && m.type != RP_MSG_WELCOME && m.type != RP_MSG_ERROR) ||
        (l->st != L_HELLO && m.type == RP_MSG_WELCOME)) {
        char buf[160];
        snprintf(buf, sizeof buf, "%s is not expected from a worker %s",
                 rp__msg_type_name(m.type), l->st == L_HELLO ? "before welcome" : "now");
        rp__wsconn_send_error(c, "malformed", true, buf, 0, 0);
        link_down(r, l, buf);
        rp__msg_free(&m);
        return;
    }
    switch (m.type) {
    case RP_MSG_WELCOME:
        on_welcome(r, l, &m);
        break;
    case RP_MSG_STARTED: {
        struct attempt *a = att_get(r, rp__msg_u64(&m, "task"));
        if (a != NULL && a->link == l->index &&
            a->attempt == (unsigned)rp__msg_u64(&m, "attempt") && !a->started) {
            a->started = true;
            l->started++;
        }
        break;
    }
    case RP_MSG_RESULT:
        on_result(r, l, &m);
        steal(r);
        break;
    case RP_MSG_REVOKED: {
        struct attempt *a = att_get(r, rp__msg_u64(&m, "task"));
        if (a == NULL || a->link != l->index ||
            a->attempt != (unsigned)rp__msg_u64(&m, "attempt"))
            break;
        a->revoking = false;
        if (rp__msg_bool(&m, "ok")) {
            struct rp__outcome o;
            memset(&o, 0, sizeof o);
            o.end = RP__END_LOST;
            o.revoked = true;
            att_end(r, a, &o);
        } else if (!a->started) {
            a->started = true;
            l->started++;
        }
        break;
    }
    case RP_MSG_DRAIN:
        fprintf(stderr, "repartir: worker %s (%s) is draining\n", l->node, l->addr);
        l->st = L_DRAINING;
        link_publish(r, l);
        for (struct attempt *a = l->atts; a != NULL; a = a->lnext)
            if (!a->started && !a->revoking) {
                a->revoking = true;
                send_simple(c, "revoke", a->id, a->attempt);
            }
        break;
    case RP_MSG_PING: {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "type", "pong");
        cJSON_AddNumberToObject(p, "t", (double)rp__msg_u64(&m, "t"));
        rp__wsconn_send_msg(c, p);
        break;
    }
    case RP_MSG_ERROR:
        on_error(r, l, &m);
        break;
    case RP_MSG_NEED_FILE:
        on_need_file(r, l, rp__msg_str(&m, "sha256"));
        break;
    default:                        /* load, pong, checkpoint: liveness */
        break;
    }
    rp__msg_free(&m);
}

static void
on_opened(void *ud, rp__wsconn *c)
{
    struct link *l = rp__wsconn_user(c);

    (void)ud;
    if (l == NULL)
        return;
    l->last_rx_ns = rp__now_ns();
    send_hello(ud, l);
}

static void
on_closed(void *ud, rp__wsconn *c, const char *why)
{
    struct remote *r = ud;
    struct link *l = rp__wsconn_user(c);

    if (l == NULL || l->c != c)
        return;
    l->c = NULL;
    link_down(r, l, why);
}

static void
on_tick(void *ud)
{
    struct remote *r = ud;
    uint64_t now = rp__now_ns(), timeout = (uint64_t)r->timeout_ms * 1000000;

    if (r->stopping)
        return;
    for (unsigned i = 0; i < RP__MAX_LINKS; i++) {
        struct link *l = r->links[i];
        if (l == NULL)
            continue;
        switch (l->st) {
        case L_IDLE:
            if (!l->removed && now >= l->dial_at_ns)
                link_dial(r, l);
            break;
        case L_DIALLING:
            break;                  /* lws's connect timeout ends it */
        case L_HELLO:
        case L_UP:
        case L_DRAINING:
            if (now - l->last_rx_ns > timeout) {
                char why[80];
                snprintf(why, sizeof why, "silent for %.1f s",
                         (double)(now - l->last_rx_ns) / 1e9);
                link_down(r, l, why);
            } else if (now - l->last_ping_ns >= PING_EVERY_NS) {
                cJSON *p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "type", "ping");
                cJSON_AddNumberToObject(p, "t", (double)(now / 1000));
                rp__wsconn_send_msg(l->c, p);
                l->last_ping_ns = now;
            }
            break;
        }
    }
    steal(r);
}

/* ---- submitting (any thread -> ws thread) ---- */

/* The submit message of attempt a: its numbers, then the description as
 * made once per description (and checked once: a description a worker
 * would refuse, such as one with a 70 KiB argument, fails its task here
 * rather than the whole connection there). NULL with *why if refused. */
static char *
submit_text(struct attempt *a, size_t *len, char **why)
{
    struct rp_task *spec = a->t->spec;
    char head[256], *text;
    int n;

    if (spec->wire == NULL && spec->wire_refused == NULL) {
        char *json = rp__task_spec_json_wire(spec);
        spec->wire = json;
        spec->wire_len = strlen(json);
        if (spec->nfiles != 0) {
            cJSON *files = cJSON_CreateArray();
            char *ftext;
            for (unsigned i = 0; i < spec->nfiles; i++) {
                cJSON *f = cJSON_CreateObject();
                cJSON_AddStringToObject(f, "name", spec->files[i].name);
                cJSON_AddStringToObject(f, "sha256", spec->files[i].sha256);
                cJSON_AddNumberToObject(f, "size", (double)spec->files[i].size);
                cJSON_AddNumberToObject(f, "mode", spec->files[i].mode);
                cJSON_AddItemToArray(files, f);
            }
            ftext = cJSON_PrintUnformatted(files);
            cJSON_Delete(files);
            spec->wire_files = rp__sprintf(",\"files\":%s", ftext);
            free(ftext);
        }
    }
    n = snprintf(head, sizeof head,
                 "{\"type\":\"submit\",\"task\":%llu,\"attempt\":%u,\"job\":%llu,"
                 "\"shard\":%u,\"total_shards\":%u,",
                 (unsigned long long)a->id, a->attempt,
                 (unsigned long long)a->t->job->node.id, a->t->shard, a->t->total_shards);
    if (spec->stdin_len != 0)
        n += snprintf(head + n, sizeof head - (size_t)n, "\"stdin_size\":%zu,",
                      spec->stdin_len);
    size_t flen = spec->wire_files != NULL ? strlen(spec->wire_files) : 0;
    text = rp_xmalloc((size_t)n + 8 + spec->wire_len + flen + 2);
    memcpy(text, head, (size_t)n);
    memcpy(text + n, "\"spec\":", 7);
    memcpy(text + n + 7, spec->wire, spec->wire_len);
    if (flen != 0)
        memcpy(text + n + 7 + spec->wire_len, spec->wire_files, flen);
    memcpy(text + n + 7 + spec->wire_len + flen, "}", 2);
    *len = (size_t)n + 7 + spec->wire_len + flen + 1;
    if (spec->wire_refused == NULL && spec->wire != NULL && !spec->wire_checked) {
        rp_msg m;
        enum rp_proto_error code;
        char *reason = NULL;
        if (rp__msg_decode(text, *len, a->max_frame, &m, &code, &reason) == RP_OK) {
            rp__msg_free(&m);
            spec->wire_checked = true;
        } else {
            spec->wire_refused = rp__sprintf("a worker would refuse its description: %s",
                                             reason);
            free(reason);
        }
    }
    if (spec->wire_refused == NULL && spec->stdin_len > STDIN_MAX)
        spec->wire_refused = rp__sprintf("a worker takes at most %llu MiB of stdin",
                                         (unsigned long long)(STDIN_MAX >> 20));
    if (spec->wire_refused != NULL) {
        free(text);
        *why = rp_xstrdup(spec->wire_refused);
        return NULL;
    }
    return text;
}

static void
send_submit(struct remote *r, struct link *l, struct attempt *a)
{
    const struct rp_task *spec = a->t->spec;
    size_t len;
    char *why = NULL, *text = submit_text(a, &len, &why);

    (void)r;
    if (text == NULL) {
        struct rp__outcome o;
        memset(&o, 0, sizeof o);
        o.end = RP__END_SPAWN_FAILED;
        o.exit_code = -1;
        o.error = why;
        att_end(r, a, &o);
        return;
    }
    rp__wsconn_send(l->c, false, text, len);
    free(text);
    for (size_t off = 0, seq = 0; off < spec->stdin_len; seq++) {
        struct rp_chunk ch = { RP_CHUNK_STDIN, 0, a->id, a->attempt, (uint32_t)seq, NULL, 0 };
        unsigned char head[RP_PROTO_CHUNK_HEADER];
        size_t n = spec->stdin_len - off > CHUNK_MAX ? CHUNK_MAX : spec->stdin_len - off;
        if (off + n == spec->stdin_len)
            ch.flags = RP_CHUNK_LAST;
        rp__chunk_header(&ch, head);
        rp__wsconn_send2(l->c, head, sizeof head, spec->stdin_data + off, n);
        off += n;
    }
}

struct submit_note {
    struct remote *r;
    struct rp__task *t;
};

static void
submit_on_thread(struct remote *r, struct rp__task *t)
{
    unsigned li = rp__engine_link_of(t);
    struct link *l = li < RP__MAX_LINKS ? r->links[li] : NULL;
    struct attempt *a = rp_xcalloc(1, sizeof *a);

    a->t = t;
    a->id = t->node.id;
    a->attempt = t->attempts;
    a->link = li;
    a->cap = t->spec->capture_limit;
    a->max_frame = r->max_frame ? r->max_frame : RP_PROTO_MAX_FRAME_DEFAULT;
    r->running++;
    r->started_total++;
    if (l == NULL || l->st != L_UP || l->c == NULL) {
        /* It went down between the engine's pick and now. */
        struct rp__outcome o;
        memset(&o, 0, sizeof o);
        o.end = RP__END_LOST;
        o.revoked = true;
        free(a);
        r->running--;
        rp__engine_attempt_done(r->e, t, &o);
        return;
    }
    att_put(r, a);
    a->lnext = l->atts;
    if (l->atts != NULL)
        l->atts->lprev = a;
    l->atts = a;
    l->outstanding++;
    send_submit(r, l, a);
}

static void
submit_post(void *arg)
{
    struct submit_note *n = arg;

    submit_on_thread(n->r, n->t);
    free(n);
}

static void
remote_submit(void *state, struct rp__task *t)
{
    struct remote *r = state;

    if (rp__ws_on_thread(r->ws)) {
        submit_on_thread(r, t);
        return;
    }
    struct submit_note *n = rp_xmalloc(sizeof *n);
    n->r = r;
    n->t = t;
    rp__ws_post(r->ws, submit_post, n);
}

struct cancel_note {
    struct remote *r;
    rp_task_id id;
    unsigned attempt;
};

static void
cancel_post(void *arg)
{
    struct cancel_note *n = arg;
    struct attempt *a = att_get(n->r, n->id);

    if (a != NULL && a->attempt == n->attempt && !a->cancel_sent) {
        struct link *l = n->r->links[a->link];
        a->cancel_sent = true;
        if (l->c != NULL)
            send_simple(l->c, "cancel", a->id, a->attempt);
    }
    free(n);
}

static void
remote_cancel(void *state, rp_task_id id, unsigned attempt)
{
    struct remote *r = state;
    struct cancel_note *n = rp_xmalloc(sizeof *n);

    n->r = r;
    n->id = id;
    n->attempt = attempt;
    rp__ws_post(r->ws, cancel_post, n);
}

/* ---- what a running attempt has written (streamed by its worker) ---- */

struct peek_note {
    struct remote *r;
    rp_task_id id;
    unsigned attempt;
    size_t max;
    struct rp__bytes *out, *err;
    struct rp__reply reply;
};

static void
copy_tail(const struct rp__bytes *from, size_t max, struct rp__bytes *to)
{
    size_t n = from->len > max ? max : from->len;

    to->total = from->total;
    to->len = n;
    to->data = NULL;
    if (n != 0) {
        to->data = rp_xmalloc(n);
        memcpy(to->data, from->data + from->len - n, n);
    }
}

static void
peek_on_thread(struct peek_note *n)
{
    struct attempt *a = att_get(n->r, n->id);

    memset(n->out, 0, sizeof *n->out);
    memset(n->err, 0, sizeof *n->err);
    if (a != NULL && a->attempt == n->attempt) {
        copy_tail(&a->out, n->max, n->out);
        copy_tail(&a->err, n->max, n->err);
    }
}

static void
peek_post(void *arg)
{
    struct peek_note *n = arg;

    peek_on_thread(n);
    rp__reply_give(&n->reply);
}

static void
remote_peek(void *state, rp_task_id id, unsigned attempt, size_t max, struct rp__bytes *out,
            struct rp__bytes *err)
{
    struct remote *r = state;
    struct peek_note n = { .r = r, .id = id, .attempt = attempt, .max = max, .out = out,
                           .err = err };

    if (r->ws == NULL) {
        memset(out, 0, sizeof *out);
        memset(err, 0, sizeof *err);
        return;
    }
    if (rp__ws_on_thread(r->ws)) {
        peek_on_thread(&n);
        return;
    }
    rp__reply_init(&n.reply);
    rp__ws_post(r->ws, peek_post, &n);
    rp__reply_take(&n.reply);
}

/* ---- adding and removing workers ---- */

struct link_note {
    struct remote *r;
    unsigned index;
    struct rp_endpoint ep;
    char addr[280];
    bool add;
};

static void
link_change(void *arg)
{
    struct link_note *n = arg;
    struct remote *r = n->r;

    if (n->add) {
        struct link *l = rp_xcalloc(1, sizeof *l);
        l->index = n->index;
        l->ep = n->ep;
        snprintf(l->addr, sizeof l->addr, "%s", n->addr);
        r->links[n->index] = l;
        rp__engine_link_set(r->e, l->index, l->addr, l->addr, 0, 0, false);
        if (!r->stopping)
            link_dial(r, l);
    } else if (r->links[n->index] != NULL) {
        struct link *l = r->links[n->index];
        l->removed = true;
        link_down(r, l, "removed");
        r->links[n->index] = NULL;
        free(l);
    }
    free(n);
}

/* The ws context is made on the first worker. Lock held. */
static rp_status
ensure_ws(struct remote *r, char **why)
{
    struct rp__ws_config cfg;
    struct rp__ws_handler h = { r, on_opened, on_message, on_closed, on_tick, on_drained };

    if (r->ws != NULL)
        return RP_OK;
    memset(&cfg, 0, sizeof cfg);
    cfg.tls = r->tls;
    cfg.cert = r->cert;
    cfg.key = r->key;
    cfg.ca = r->ca;
    cfg.max_frame = r->max_frame;
    cfg.tick_ms = TICK_MS;
    return rp__ws_create(&cfg, &h, &r->ws, why);
}

static rp_status
add_worker(struct remote *r, const char *addr, char **why)
{
    struct link_note *n;
    struct rp_endpoint ep;
    unsigned free_slot = RP__MAX_LINKS;
    rp_status status;

    *why = NULL;
    if (addr == NULL || rp__endpoint_parse(addr, RP_WORKER_PORT_DEFAULT, &ep, why) != RP_OK) {
        if (*why == NULL)
            *why = rp_xstrdup("no address");
        return RP_ERR_INVALID;
    }
    if (!r->tls && !ep.loopback && !r->insecure) {
        *why = rp__sprintf("%s is not a loopback address: set tls_ca (and a client certificate "
                           "or a token) to reach it over TLS, or remote_insecure for plain ws",
                           addr);
        return RP_ERR_INVALID;
    }
    pthread_mutex_lock(&r->lock);
    for (unsigned i = 0; i < RP__MAX_LINKS; i++) {
        if (r->addrs[i] != NULL && strcmp(r->addrs[i], addr) == 0) {
            pthread_mutex_unlock(&r->lock);
            *why = rp__sprintf("%s is already a worker of this pool", addr);
            return RP_ERR_BUSY;
        }
        if (r->addrs[i] == NULL && free_slot == RP__MAX_LINKS)
            free_slot = i;
    }
    if (free_slot == RP__MAX_LINKS) {
        pthread_mutex_unlock(&r->lock);
        *why = rp__sprintf("a pool has at most %d workers", RP__MAX_LINKS);
        return RP_ERR_UNSUPPORTED;
    }
    if ((status = ensure_ws(r, why)) != RP_OK) {
        pthread_mutex_unlock(&r->lock);
        return status;
    }
    r->addrs[free_slot] = rp_xstrdup(addr);
    n = rp_xcalloc(1, sizeof *n);
    n->r = r;
    n->index = free_slot;
    n->ep = ep;
    n->add = true;
    snprintf(n->addr, sizeof n->addr, "%s", addr);
    rp__ws_post(r->ws, link_change, n);
    pthread_mutex_unlock(&r->lock);
    return RP_OK;
}

static struct remote *
remote_of(rp_pool *pool)
{
    return rp__engine_exec_state(rp__pool_engine(pool), RP__EXEC_REMOTE);
}

rp_status
rp_pool_add_worker(rp_pool *pool, const char *addr, char **why)
{
    char *reason = NULL;
    rp_status status;

    if (why != NULL)
        *why = NULL;
    if (pool == NULL || addr == NULL)
        return RP_ERR_INVALID;
    status = add_worker(remote_of(pool), addr, &reason);
    if (why != NULL)
        *why = reason;
    else
        free(reason);
    return status;
}

rp_status
rp_pool_remove_worker(rp_pool *pool, const char *addr)
{
    struct remote *r;

    if (pool == NULL || addr == NULL)
        return RP_ERR_INVALID;
    r = remote_of(pool);
    pthread_mutex_lock(&r->lock);
    for (unsigned i = 0; i < RP__MAX_LINKS; i++) {
        if (r->addrs[i] != NULL && strcmp(r->addrs[i], addr) == 0) {
            struct link_note *n = rp_xcalloc(1, sizeof *n);
            free(r->addrs[i]);
            r->addrs[i] = NULL;
            n->r = r;
            n->index = i;
            n->add = false;
            rp__ws_post(r->ws, link_change, n);
            pthread_mutex_unlock(&r->lock);
            return RP_OK;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return RP_ERR_NOT_FOUND;
}

/* ---- the executor ---- */

static void
remote_free(struct remote *r)
{
    for (unsigned i = 0; i < RP__MAX_LINKS; i++)
        free(r->addrs[i]);
    free(r->buckets);
    free(r->cert);
    free(r->key);
    free(r->ca);
    if (r->token != NULL)
        rp__token_free(r->token);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static rp_status
remote_start(rp__engine *e, void **state)
{
    const rp_pool_config *cfg = rp__engine_user_config(e);
    struct remote *r = rp_xcalloc(1, sizeof *r);
    char host[64];

    pthread_mutex_init(&r->lock, NULL);
    r->e = e;
    r->mask = 255;
    r->buckets = rp_xcalloc(r->mask + 1, sizeof *r->buckets);
    r->timeout_ms = DEFAULT_TIMEOUT_MS;
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "coordinator");
    host[sizeof host - 1] = '\0';
    /* Unique per pool: two pools of one process are two coordinators. */
    static _Atomic unsigned pools;
    snprintf(r->node, sizeof r->node, "%s/%ld/%u", host, (long)getpid(), ++pools);
    if (cfg != NULL) {
        r->cert = cfg->tls_cert ? rp_xstrdup(cfg->tls_cert) : NULL;
        r->key = cfg->tls_key ? rp_xstrdup(cfg->tls_key) : NULL;
        r->ca = cfg->tls_ca ? rp_xstrdup(cfg->tls_ca) : NULL;
        r->token = cfg->token ? rp_xstrdup(cfg->token) : NULL;
        r->tls = r->cert || r->key || r->ca;
        r->insecure = cfg->remote_insecure;
        r->timeout_ms = cfg->remote_timeout_ms ? cfg->remote_timeout_ms : DEFAULT_TIMEOUT_MS;
        r->window_cfg = cfg->remote_window;
        r->max_frame = cfg->max_frame;
        if (r->window_cfg > RP__LINK_WINDOW_MAX)
            r->window_cfg = RP__LINK_WINDOW_MAX;
    }
    *state = r;
    for (size_t i = 0; cfg != NULL && i < cfg->n_remote_workers; i++) {
        char *why = NULL;
        rp_status status = add_worker(r, cfg->remote_workers[i], &why);
        if (status != RP_OK) {
            rp__engine_start_error(e, rp__sprintf("remote worker %s: %s",
                                                  cfg->remote_workers[i] ? cfg->remote_workers[i]
                                                                         : "(null)",
                                                  why ? why : rp_strerror(status)));
            free(why);
            rp__ws_destroy(r->ws);
            for (unsigned k = 0; k < RP__MAX_LINKS; k++)
                free(r->links[k]);
            remote_free(r);
            *state = NULL;
            return status;
        }
    }
    return RP_OK;
}

static unsigned
remote_capacity(void *state)
{
    (void)state;
    return 0;                       /* links bring their slots */
}

static void
remote_stats(void *state, rp__exec_stats *out)
{
    struct remote *r = state;

    out->running = r->running;
    out->started = r->started_total;
}

static void
stop_on_thread(void *arg)
{
    struct remote *r = arg;

    r->stopping = true;
    for (unsigned i = 0; i < RP__MAX_LINKS; i++) {
        struct link *l = r->links[i];
        if (l == NULL)
            continue;
        for (struct attempt *a = l->atts; a != NULL; a = a->lnext)
            if (l->c != NULL && !a->cancel_sent) {
                a->cancel_sent = true;
                send_simple(l->c, "cancel", a->id, a->attempt);
            }
    }
}

static void
drop_on_thread(void *arg)
{
    struct remote *r = arg;

    for (unsigned i = 0; i < RP__MAX_LINKS; i++) {
        struct link *l = r->links[i];
        if (l == NULL)
            continue;
        l->removed = true;
        if (l->c != NULL)
            rp__wsconn_close(l->c, 1001, "the coordinator is stopping");
        if (l->atts != NULL || l->st != L_IDLE)
            link_down(r, l, "the pool is stopping");
    }
}

static void
remote_stop(void *state)
{
    struct remote *r = state;

    if (r == NULL)
        return;
    if (r->ws != NULL) {
        /* Cancel what runs; give the workers a moment to answer, then end
         * the rest as lost (the engine is stopping: nothing is requeued). */
        rp__ws_post(r->ws, stop_on_thread, r);
        for (int i = 0; i < 200 && r->running != 0; i++)
            usleep(10 * 1000);
        rp__ws_post(r->ws, drop_on_thread, r);
        rp__engine_wait_idle(r->e, RP__EXEC_REMOTE);
        rp__ws_destroy(r->ws);
    }
    for (unsigned i = 0; i < RP__MAX_LINKS; i++)
        free(r->links[i]);
    remote_free(r);
}

const rp__exec_ops rp__exec_remote = {
    .name = "remote",
    .start = remote_start,
    .submit = remote_submit,
    .cancel = remote_cancel,
    .peek = remote_peek,
    .capacity = remote_capacity,
    .stats = remote_stats,
    .stop = remote_stop,
};
