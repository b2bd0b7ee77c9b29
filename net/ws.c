/*
 * ws.c -- the WebSocket transport on libwebsockets (see ws.h).
 *
 * DESIGN: one lws context, one vhost, one protocol ("repartir.v1") and one
 * thread running lws_service. A connection's state (struct rp__wsconn) is
 * ours: lws's per-session data holds only a pointer to it, so a dialled
 * connection has it before lws calls back, and it is freed on exactly one
 * of CLOSED, CLIENT_CLOSED or CLIENT_CONNECTION_ERROR. Frames arrive in
 * pieces of at most RX_PIECE bytes and are joined in c->rx up to
 * max_frame; past that the rest of the frame is skipped. Outgoing frames
 * wait in a FIFO with LWS_PRE bytes of headroom; each WRITEABLE callback
 * writes while the socket takes them (at most WRITE_BURST), so a pipelined
 * stream of small messages does not pay one poll round per frame.
 * Posted closures wait in a mutex-guarded FIFO; lws_cancel_service wakes
 * the thread, which runs them from LWS_CALLBACK_EVENT_WAIT_CANCELLED.
 */
#include "net/ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "engine/alloc.h"
#include "engine/clock.h"
#include "net/proto.h"

#define RX_PIECE (64 * 1024)

/* The context whose service thread this is (rp__ws_on_thread). */
static _Thread_local const rp__ws *current_ws;
#define WRITE_BURST 64

struct frame {
    struct frame *next;
    size_t len;
    bool binary;
    unsigned char buf[];            /* LWS_PRE headroom, then len bytes */
};

struct post {
    struct post *next;
    void (*fn)(void *arg);
    void *arg;
};

/* lws's per-session data. A server connection's is lws's; a dialled
 * one's is ours (external), and outlives the connection: lws still writes
 * *pwsi and calls WSI_DESTROY with it after CLIENT_CLOSED, so it is freed
 * there (or by rp__ws_connect when lws never took it). */
struct pss {
    rp__wsconn *c;
    struct lws *wsi;                /* ci.pwsi: lws clears it */
    bool external, in_connect, destroyed;
};

struct rp__wsconn {
    rp__ws *ws;
    struct lws *wsi;
    void *user;
    char peer[80];
    struct frame *out_head, *out_tail;
    size_t backlog;
    unsigned char *rx;
    size_t rx_len, rx_cap;
    bool rx_binary, rx_skip;
    bool open, dead, in_connect, aborting, in_write;
    char cert_error[160];           /* server with a CA: why the client's
                                       certificate does not do */
    uint16_t close_code;            /* != 0: closing after the queue */
    char close_reason[124];
    rp__wsconn *prev, *next;        /* every live connection */
};

struct rp__ws {
    struct lws_context *ctx;
    struct lws_protocols protocols[2];
    struct rp__ws_config cfg;
    char *cert, *key, *ca, *host;
    struct rp__ws_handler h;
    pthread_t thread;
    bool started;
    _Atomic bool stop;
    pthread_mutex_t post_lock;
    struct post *post_head, *post_tail;
    lws_sorted_usec_list_t tick, extra;
    uint64_t extra_at;              /* lws_now_usecs() of the extra tick; 0: none */
    rp__wsconn *conns;
    char *error;                    /* a dial's CONNECTION_ERROR text */
    uint64_t activity;              /* frames in and posts run (service thread) */
    uint64_t spin_ns;               /* busy-poll after activity; 0: never */
    SSL_CTX *client_ctx;            /* a TLS client's, ours */
};

/* ---- connections ---- */

static rp__wsconn *
conn_new(rp__ws *ws)
{
    rp__wsconn *c = rp_xcalloc(1, sizeof *c);

    c->ws = ws;
    c->next = ws->conns;
    if (ws->conns != NULL)
        ws->conns->prev = c;
    ws->conns = c;
    return c;
}

static void
conn_free(rp__wsconn *c)
{
    rp__ws *ws = c->ws;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        ws->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    while (c->out_head != NULL) {
        struct frame *f = c->out_head;
        c->out_head = f->next;
        free(f);
    }
    free(c->rx);
    free(c);
}

/* The one end of a connection: tells the handler, frees. */
static void
conn_end(rp__wsconn *c, const char *why)
{
    if (c->dead)
        return;
    c->dead = true;
    if (c->wsi != NULL) {
        struct pss *p = lws_wsi_user(c->wsi);
        if (p != NULL)
            p->c = NULL;
    }
    c->wsi = NULL;
    if (c->in_connect)
        return;                     /* rp__ws_connect frees it */
    if (c->ws->h.closed != NULL)
        c->ws->h.closed(c->ws->h.ud, c, why);
    conn_free(c);
}

void *
rp__wsconn_user(const rp__wsconn *c)
{
    return c->user;
}

void
rp__wsconn_set_user(rp__wsconn *c, void *user)
{
    c->user = user;
}

const char *
rp__wsconn_cert_error(const rp__wsconn *c)
{
    return c->cert_error[0] ? c->cert_error : NULL;
}

const char *
rp__wsconn_peer(const rp__wsconn *c)
{
    return c->peer;
}

size_t
rp__wsconn_backlog(const rp__wsconn *c)
{
    return c->backlog;
}

static void
queue_frame(rp__wsconn *c, struct frame *f)
{
    /* Nothing waiting before it, on the service thread, socket ready:
     * out now, without a trip through poll (a round trip's latency is
     * mostly such trips). lws buffers what the socket does not take. */
    if (c->out_head == NULL && c->wsi != NULL && c->open && !c->in_write &&
        rp__ws_on_thread(c->ws) && !lws_send_pipe_choked(c->wsi)) {
        int n = lws_write(c->wsi, f->buf + LWS_PRE, f->len,
                          f->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        if (n >= 0 && (size_t)n >= f->len) {
            free(f);
            return;
        }
        free(f);
        rp__wsconn_abort(c);        /* a failed write: the connection is gone */
        return;
    }
    f->next = NULL;
    if (c->out_tail != NULL)
        c->out_tail->next = f;
    else
        c->out_head = f;
    c->out_tail = f;
    c->backlog += f->len;
    if (c->wsi != NULL && c->open)
        lws_callback_on_writable(c->wsi);
}

bool
rp__wsconn_closing(const rp__wsconn *c)
{
    return c->dead || c->close_code != 0 || c->aborting;
}

bool
rp__wsconn_send2(rp__wsconn *c, const void *head, size_t head_len, const void *body,
                 size_t body_len)
{
    struct frame *f;

    if (c->dead || c->close_code != 0 || c->aborting)
        return false;
    f = rp_xmalloc(sizeof *f + LWS_PRE + head_len + body_len);
    f->len = head_len + body_len;
    f->binary = true;
    if (head_len != 0)
        memcpy(f->buf + LWS_PRE, head, head_len);
    if (body_len != 0)
        memcpy(f->buf + LWS_PRE + head_len, body, body_len);
    queue_frame(c, f);
    return true;
}

void
rp__wsconn_send(rp__wsconn *c, bool binary, const void *data, size_t len)
{
    struct frame *f;

    if (c->dead || c->close_code != 0 || c->aborting)
        return;
    f = rp_xmalloc(sizeof *f + LWS_PRE + len);
    f->len = len;
    f->binary = binary;
    if (len != 0)
        memcpy(f->buf + LWS_PRE, data, len);
    queue_frame(c, f);
}

void
rp__wsconn_close(rp__wsconn *c, uint16_t code, const char *reason)
{
    if (c->dead || c->close_code != 0)
        return;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason ? reason : "");
    if (c->wsi != NULL && c->open)
        lws_callback_on_writable(c->wsi);
    else if (c->wsi != NULL)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

void
rp__wsconn_abort(rp__wsconn *c)
{
    if (c->dead || c->wsi == NULL)
        return;
    c->aborting = true;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

/* WRITEABLE: as many queued frames as the socket takes now. Returns -1
 * to have lws close the connection. */
static int write_queued(rp__wsconn *c);

static int
write_some(rp__wsconn *c)
{
    int rc;

    c->in_write = true;
    rc = write_queued(c);
    c->in_write = false;
    return rc;
}

static int
write_queued(rp__wsconn *c)
{
    for (int i = 0; i < WRITE_BURST && c->out_head != NULL; i++) {
        struct frame *f = c->out_head;
        int n;

        if (i > 0 && lws_send_pipe_choked(c->wsi))
            break;
        n = lws_write(c->wsi, f->buf + LWS_PRE, f->len,
                      f->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        if (n < 0 || (size_t)n < f->len)
            return -1;
        c->out_head = f->next;
        if (c->out_head == NULL)
            c->out_tail = NULL;
        c->backlog -= f->len;
        free(f);
    }
    if (c->out_head != NULL) {
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->close_code == 0 && c->ws->h.drained != NULL) {
        c->ws->h.drained(c->ws->h.ud, c);
        if (c->out_head != NULL) {
            lws_callback_on_writable(c->wsi);
            return 0;
        }
    }
    if (c->close_code != 0) {
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    return 0;
}

/* RECEIVE: one piece of a frame. */
static void
receive(rp__wsconn *c, const void *in, size_t len)
{
    rp__ws *ws = c->ws;
    size_t max = ws->cfg.max_frame;

    if (lws_is_first_fragment(c->wsi)) {
        c->rx_len = 0;
        c->rx_skip = false;
        c->rx_binary = lws_frame_is_binary(c->wsi) != 0;
    }
    if (c->close_code != 0)
        return;                     /* closing: the rest is not read */
    if (!c->rx_skip) {
        if (c->rx_len + len > max) {
            size_t had = c->rx_len + len;
            c->rx_skip = true;
            c->rx_len = 0;
            if (c->rx_cap > RX_PIECE) {
                free(c->rx);
                c->rx = NULL;
                c->rx_cap = 0;
            }
            ws->h.message(ws->h.ud, c, RP__WS_OVERSIZED, NULL, had);
            return;
        }
        if (c->rx_len + len + 1 > c->rx_cap) {
            size_t cap = c->rx_cap ? c->rx_cap : 4096;
            while (cap < c->rx_len + len + 1)
                cap *= 2;
            c->rx = rp_xrealloc(c->rx, cap);
            c->rx_cap = cap;
        }
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
    }
    if (lws_is_final_fragment(c->wsi) && lws_remaining_packet_payload(c->wsi) == 0) {
        ws->activity++;             /* a whole message: the busy poll's cue */
        if (!c->rx_skip) {
            c->rx[c->rx_len] = '\0';
            ws->h.message(ws->h.ud, c, c->rx_binary ? RP__WS_BINARY : RP__WS_TEXT, c->rx,
                          c->rx_len);
            /* A big buffer is not kept for the small frames that follow. */
            if (c->rx_cap > 4 * RX_PIECE && !c->dead) {
                free(c->rx);
                c->rx = NULL;
                c->rx_cap = 0;
            }
        }
        c->rx_len = 0;
        c->rx_skip = false;
    }
}

/* Whether there was any. */
static bool
run_posts(rp__ws *ws)
{
    struct post *p;
    bool any;

    pthread_mutex_lock(&ws->post_lock);
    p = ws->post_head;
    ws->post_head = ws->post_tail = NULL;
    pthread_mutex_unlock(&ws->post_lock);
    any = p != NULL;
    while (p != NULL) {
        struct post *next = p->next;
        p->fn(p->arg);
        free(p);
        p = next;
    }
    return any;
}

/* "127.0.0.1:52311", "[::1]:52311". */
static void
peer_name(int fd, char *out, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    snprintf(out, size, "?");
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(out, size, "%s:%u", host, port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(out, size, "[%s]:%u", host, port);
    }
}

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
            size_t len)
{
    rp__ws *ws = lws_context_user(lws_get_context(wsi));
    struct pss *p = user;
    rp__wsconn *c = p != NULL ? p->c : NULL;

    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (ws != NULL && run_posts(ws))
            ws->activity++;
        return 0;


    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        /* Only clients that ask for our subprotocol: lws would serve one
         * that names none with its first protocol. */
        char proto[128];
        if (lws_hdr_copy(wsi, proto, sizeof proto, WSI_TOKEN_PROTOCOL) <= 0 ||
            strstr(proto, RP_WS_SUBPROTOCOL) == NULL) {
            char peer[64];
            peer_name(lws_get_socket_fd(wsi), peer, sizeof peer);
            fprintf(stderr, "repartir: %s: refused: the WebSocket subprotocol must be %s\n",
                    peer, RP_WS_SUBPROTOCOL);
            return -1;
        }
        return 0;
    }

    case LWS_CALLBACK_ESTABLISHED:    /* server side */
        c = conn_new(ws);
        c->wsi = wsi;
        p->c = c;
        c->open = true;
        peer_name(lws_get_socket_fd(wsi), c->peer, sizeof c->peer);
        if (ws->cfg.tls && ws->ca != NULL) {
            /* The handshake let any client through (so that the refusal
             * can be a protocol error that says why); judge it now. */
            SSL *ssl = lws_get_ssl(wsi);
            X509 *cert = ssl != NULL ? SSL_get1_peer_certificate(ssl) : NULL;
            long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_ERR_UNSPECIFIED;
            if (cert == NULL)
                snprintf(c->cert_error, sizeof c->cert_error,
                         "a client certificate is required");
            else if (v != X509_V_OK)
                snprintf(c->cert_error, sizeof c->cert_error,
                         "the client certificate is refused: %s",
                         X509_verify_cert_error_string(v));
            X509_free(cert);
        }
        if (ws->h.opened != NULL)
            ws->h.opened(ws->h.ud, c);
        if (c->out_head != NULL || c->close_code != 0)
            lws_callback_on_writable(wsi);
        return 0;

    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (c == NULL)
            return -1;
        c->open = true;
        if (ws->h.opened != NULL)
            ws->h.opened(ws->h.ud, c);
        if (!c->dead && (c->out_head != NULL || c->close_code != 0))
            lws_callback_on_writable(wsi);
        return 0;

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c != NULL) {
            char why[200];
            snprintf(why, sizeof why, "cannot connect: %s%s",
                     in != NULL ? (const char *)in : "connection failed",
                     !ws->cfg.tls && in != NULL && strstr(in, "read failed") != NULL
                         ? " (a TLS worker? then give the pool tls_ca)" : "");
            if (c->in_connect) {
                free(ws->error);
                ws->error = rp_xstrdup(why);
            }
            conn_end(c, why);
        }
        return 0;

    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (c != NULL && !c->dead)
            receive(c, in, len);
        return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (c == NULL || c->dead)
            return 0;
        if (c->aborting)
            return -1;
        return write_some(c);

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c != NULL && len >= 2) {
            const unsigned char *b = in;
            snprintf(c->close_reason, sizeof c->close_reason, "closed by the peer (%u%s%.*s)",
                     (unsigned)(b[0] << 8 | b[1]), len > 2 ? ": " : "",
                     (int)(len > 2 ? (len - 2 > 100 ? 100 : len - 2) : 0), (const char *)b + 2);
        }
        return 0;

    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c != NULL) {
            char why[160];
            snprintf(why, sizeof why, "%s",
                     c->close_reason[0] != '\0' ? c->close_reason : "connection closed");
            conn_end(c, why);
        }
        return 0;

    case LWS_CALLBACK_WSI_DESTROY:
        /* A dialled connection lws gave up on without another word. */
        if (c != NULL && !c->dead)
            conn_end(c, "connection lost");
        if (p != NULL && p->external) {
            p->destroyed = true;
            if (!p->in_connect)
                free(p);
        }
        return 0;

    default:
        return 0;
    }
}

static void
tick_fire(lws_sorted_usec_list_t *sul)
{
    rp__ws *ws = lws_container_of(sul, rp__ws, tick);

    if (ws->h.tick != NULL)
        ws->h.tick(ws->h.ud);
    lws_sul_schedule(ws->ctx, 0, &ws->tick, tick_fire,
                     (lws_usec_t)ws->cfg.tick_ms * LWS_US_PER_MS);
}

static void
extra_fire(lws_sorted_usec_list_t *sul)
{
    rp__ws *ws = lws_container_of(sul, rp__ws, extra);

    ws->extra_at = 0;
    if (ws->h.tick != NULL)
        ws->h.tick(ws->h.ud);
}

void
rp__ws_tick_in(rp__ws *ws, unsigned ms)
{
    uint64_t at = (uint64_t)lws_now_usecs() + (uint64_t)ms * 1000;

    if (ws->extra_at != 0 && ws->extra_at <= at)
        return;
    ws->extra_at = at;
    lws_sul_schedule(ws->ctx, 0, &ws->extra, extra_fire, (lws_usec_t)ms * LWS_US_PER_MS);
}

static void *
service_main(void *arg)
{
    rp__ws *ws = arg;

    current_ws = ws;
    pthread_setname_np(pthread_self(), "rp-net");
    if (ws->cfg.tick_ms != 0)
        lws_sul_schedule(ws->ctx, 0, &ws->tick, tick_fire,
                         (lws_usec_t)ws->cfg.tick_ms * LWS_US_PER_MS);
    while (!ws->stop) {
        /* After traffic, poll without sleeping for a moment: an answer
         * that comes within it costs no wake-up (on a VM whose idle CPUs
         * halt, a wake-up is ~30 us, the most of a round trip). Bounded,
         * yielding the CPU each time round, and idle costs nothing. */
        uint64_t active = ws->activity, until = rp__now_ns() + ws->spin_ns;
        while (ws->spin_ns != 0 && !ws->stop && rp__now_ns() < until) {
            if (lws_service(ws->ctx, -1) < 0)
                return NULL;
            if (ws->activity != active) {
                active = ws->activity;
                until = rp__now_ns() + ws->spin_ns;
            }
            sched_yield();
        }
        if (lws_service(ws->ctx, 0) < 0)
            break;
    }
    return NULL;
}

/* lws writes its own log lines: errors, under our name, and of its
 * notices only the reason a TLS handshake failed (a client without TLS,
 * or speaking it wrong), which it gives at INFO level. */
static bool log_all;
static void lws_log(int level, const char *line);
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static bool log_server;             /* the first context is a server's */

/* lws's log level is process-wide, and its formatting buffer too (two
 * contexts logging at once race on it): set once. A server (the daemon,
 * one context) keeps the INFO lines that say why a TLS handshake failed;
 * a client (a coordinator, maybe several pools) only lws's errors (such
 * as why a worker's certificate is refused), which come seldom.
 * REPARTIR_LWS_DEBUG=1 shows everything. */
static void
log_setup(void)
{
    log_all = getenv("REPARTIR_LWS_DEBUG") != NULL;
    if (log_all || log_server)
        lws_set_log_level(LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO, lws_log);
    else
        lws_set_log_level(LLL_ERR, lws_log);
}

static void
lws_log(int level, const char *line)
{
    const char *e;

    if (log_all || level == LLL_ERR) {
        fprintf(stderr, "repartir: libwebsockets: %s", line);
        return;
    }
    if ((e = strstr(line, "openssl error: ")) != NULL)
        fprintf(stderr, "repartir: TLS handshake refused: %s", e + 15);
}

/* TLS 1.2 or later; the servers' certificates checked against the CA
 * given, else the system's; our certificate and key if given. */
static SSL_CTX *
client_ssl_ctx(const rp__ws *ws, char **why)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    unsigned long e;

    if (ctx == NULL) {
        *why = rp_xstrdup("cannot make a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if ((ws->ca != NULL ? SSL_CTX_load_verify_locations(ctx, ws->ca, NULL)
                        : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
        e = ERR_get_error();
        *why = rp__sprintf("cannot load the CA %s: %s", ws->ca ? ws->ca : "(system)",
                           ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "?");
        goto fail;
    }
    if (ws->cert != NULL &&
        (SSL_CTX_use_certificate_chain_file(ctx, ws->cert) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx, ws->key, SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(ctx) != 1)) {
        e = ERR_get_error();
        *why = rp__sprintf("cannot use the client certificate %s and key %s: %s", ws->cert,
                           ws->key ? ws->key : "(none)",
                           ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "?");
        goto fail;
    }
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

static void
ws_free(rp__ws *ws)
{
    free(ws->error);
    free(ws->cert);
    free(ws->key);
    free(ws->ca);
    free(ws->host);
    pthread_mutex_destroy(&ws->post_lock);
    free(ws);
}

rp_status
rp__ws_create(const struct rp__ws_config *cfg, const struct rp__ws_handler *h, rp__ws **out,
              char **why)
{
    struct lws_context_creation_info info;
    rp__ws *ws = rp_xcalloc(1, sizeof *ws);

    *out = NULL;
    ws->cfg = *cfg;
    if (ws->cfg.max_frame == 0)
        ws->cfg.max_frame = RP_PROTO_MAX_FRAME_DEFAULT;
    ws->cert = cfg->cert ? rp_xstrdup(cfg->cert) : NULL;
    ws->key = cfg->key ? rp_xstrdup(cfg->key) : NULL;
    ws->ca = cfg->ca ? rp_xstrdup(cfg->ca) : NULL;
    ws->host = cfg->bind_host ? rp_xstrdup(cfg->bind_host) : NULL;
    ws->h = *h;
    pthread_mutex_init(&ws->post_lock, NULL);
    {
        /* REPARTIR_SPIN_US (default 50; 0 = never) bounds the busy poll.
         * A process that may run on one CPU only does not poll: there the
         * answer cannot come while this thread holds the CPU. */
        const char *spin = getenv("REPARTIR_SPIN_US");
        cpu_set_t cpus;
        long us = spin != NULL ? strtol(spin, NULL, 10) : 50;
        if (spin == NULL && sched_getaffinity(0, sizeof cpus, &cpus) == 0 &&
            CPU_COUNT(&cpus) < 2)
            us = 0;
        ws->spin_ns = (uint64_t)(us < 0 ? 0 : us > 10000 ? 10000 : us) * 1000;
    }
    if (cfg->bind_host != NULL)
        log_server = true;
    pthread_once(&log_once, log_setup);

    ws->protocols[0].name = RP_WS_SUBPROTOCOL;
    ws->protocols[0].callback = ws_callback;
    ws->protocols[0].per_session_data_size = sizeof(struct pss);
    ws->protocols[0].rx_buffer_size = RX_PIECE;

    memset(&info, 0, sizeof info);
    info.protocols = ws->protocols;
    info.user = ws;
    info.gid = -1;
    info.uid = -1;
    info.timeout_secs = 10;
    info.connect_timeout_secs = 10;
    info.pt_serv_buf_size = 256 * 1024;
    /* Every TLS context needs it (without it lws sets up no TLS at all).
     * lws 4.1 keeps one process-wide ex-data index for the SSL objects it
     * makes, renewed by each context: a handshake already under way in
     * another context then fails once ("can't get wsi from ssl privdata")
     * and is dialled again. docs/remote.md says so. */
    if (cfg->tls)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    /* The system's CA bundle (~40 ms to load) serves only a client that
     * was given no CA of its own; a server checks clients against --ca. */
    if (cfg->tls && (cfg->bind_host != NULL || cfg->ca != NULL))
        info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    if (cfg->bind_host != NULL) {
        info.port = cfg->port;
        info.iface = ws->host;
        if (strchr(cfg->bind_host, ':') == NULL)
            info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
        if (cfg->tls) {
            info.ssl_cert_filepath = ws->cert;
            info.ssl_private_key_filepath = ws->key;
            if (ws->ca != NULL) {
                /* Asked for and checked by the CA, but judged once the
                 * connection is up (ESTABLISHED), to refuse it in words. */
                info.ssl_ca_filepath = ws->ca;
                info.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT |
                                LWS_SERVER_OPTION_PEER_CERT_NOT_REQUIRED;
            }
        }
    } else {
        info.port = CONTEXT_PORT_NO_LISTEN;
        /* Our own client SSL_CTX, freed by us: lws 4.1 loses the one it
         * makes when two contexts of one process have one (LeakSanitizer
         * showed it). */
        if (cfg->tls && (ws->client_ctx = client_ssl_ctx(ws, why)) == NULL)
            goto fail;
        info.provided_client_ssl_ctx = ws->client_ctx;
    }
    ws->ctx = lws_create_context(&info);
    if (ws->ctx == NULL) {
        SSL_CTX_free(ws->client_ctx);
        if (cfg->bind_host != NULL)
            *why = rp__sprintf("cannot %s on %s:%u (address in use, not local, or a bad "
                               "certificate or key; see the libwebsockets line above)",
                               cfg->tls ? "start TLS and listen" : "listen", cfg->bind_host,
                               (unsigned)cfg->port);
        else
            *why = rp__sprintf("cannot set up the WebSocket client%s",
                               cfg->tls ? " (TLS: check --cert, --key and --ca)" : "");
        goto fail;
    }
    if (pthread_create(&ws->thread, NULL, service_main, ws) != 0) {
        *why = rp__sprintf("cannot start the network thread: %s", strerror(errno));
        lws_context_destroy(ws->ctx);
        SSL_CTX_free(ws->client_ctx);
        goto fail;
    }
    ws->started = true;
    *out = ws;
    return RP_OK;
fail:
    ws_free(ws);
    return cfg->bind_host != NULL ? RP_ERR_IO : RP_ERR_SYSTEM;
}

static void
stop_on_thread(void *arg)
{
    rp__ws *ws = arg;
    ws->stop = true;
}

void
rp__ws_destroy(rp__ws *ws)
{
    struct post *p;

    if (ws == NULL)
        return;
    rp__ws_post(ws, stop_on_thread, ws);
    pthread_join(ws->thread, NULL);
    lws_sul_cancel(&ws->tick);
    lws_sul_cancel(&ws->extra);
    /* lws closes every connection (their closed() run here, on this thread,
     * which is now the only one). */
    lws_context_destroy(ws->ctx);
    SSL_CTX_free(ws->client_ctx);
    while (ws->conns != NULL)
        conn_end(ws->conns, "shut down");
    pthread_mutex_lock(&ws->post_lock);
    p = ws->post_head;
    ws->post_head = ws->post_tail = NULL;
    pthread_mutex_unlock(&ws->post_lock);
    while (p != NULL) {             /* posted too late: run, so nothing leaks */
        struct post *next = p->next;
        p->fn(p->arg);
        free(p);
        p = next;
    }
    ws_free(ws);
}

void
rp__ws_post(rp__ws *ws, void (*fn)(void *arg), void *arg)
{
    struct post *p = rp_xmalloc(sizeof *p);

    p->next = NULL;
    p->fn = fn;
    p->arg = arg;
    pthread_mutex_lock(&ws->post_lock);
    if (ws->post_tail != NULL)
        ws->post_tail->next = p;
    else
        ws->post_head = p;
    ws->post_tail = p;
    pthread_mutex_unlock(&ws->post_lock);
    lws_cancel_service(ws->ctx);
}

bool
rp__ws_on_thread(const rp__ws *ws)
{
    return current_ws == ws;
}

rp__wsconn *
rp__ws_connect(rp__ws *ws, const char *host, uint16_t port, void *user, char **why)
{
    struct lws_client_connect_info ci;
    rp__wsconn *c = conn_new(ws);
    struct pss *p = rp_xcalloc(1, sizeof *p);
    struct lws *wsi;

    c->user = user;
    snprintf(c->peer, sizeof c->peer, "%s%s%s:%u", strchr(host, ':') ? "[" : "", host,
             strchr(host, ':') ? "]" : "", (unsigned)port);
    memset(&ci, 0, sizeof ci);
    ci.context = ws->ctx;
    ci.address = host;
    ci.port = port;
    ci.ssl_connection = ws->cfg.tls ? LCCSCF_USE_SSL : 0;
    ci.path = "/";
    ci.host = host;
    ci.origin = host;
    ci.protocol = RP_WS_SUBPROTOCOL;
    ci.local_protocol_name = RP_WS_SUBPROTOCOL;
    p->c = c;
    p->external = true;
    p->in_connect = true;
    ci.userdata = p;
    ci.pwsi = &p->wsi;
    c->in_connect = true;
    free(ws->error);
    ws->error = NULL;
    wsi = lws_client_connect_via_info(&ci);
    c->in_connect = false;
    p->in_connect = false;
    if (wsi == NULL || c->dead) {
        *why = rp_xstrdup(ws->error ? ws->error : "cannot connect");
        c->dead = true;
        p->c = NULL;
        /* lws is done with p if it said so, or never had the wsi. */
        if (p->destroyed || wsi == NULL)
            free(p);
        conn_free(c);
        return NULL;
    }
    c->wsi = wsi;
    return c;
}

bool
rp__wsconn_send_msg(rp__wsconn *c, cJSON *obj)
{
    char *text, *why;
    size_t len;

    if (rp__msg_encode(obj, &text, &len, &why) != RP_OK) {
        fprintf(stderr, "repartir: internal error: a message to %s does not encode: %s\n",
                c->peer, why);
        free(why);
        return false;
    }
    rp__wsconn_send(c, false, text, len);
    free(text);
    return true;
}

static bool
send_error_msg(rp__wsconn *c, const char *code, bool fatal, const char *msg, uint64_t task,
               unsigned attempt)
{
    cJSON *m = cJSON_CreateObject();

    cJSON_AddStringToObject(m, "type", "error");
    cJSON_AddStringToObject(m, "code", code);
    cJSON_AddStringToObject(m, "message", msg);
    cJSON_AddBoolToObject(m, "fatal", fatal);
    if (task != 0) {
        cJSON_AddNumberToObject(m, "task", (double)task);
        cJSON_AddNumberToObject(m, "attempt", attempt);
    }
    return rp__wsconn_send_msg(c, m);
}

void
rp__wsconn_send_error(rp__wsconn *c, const char *code, bool fatal, const char *message,
                      uint64_t task, unsigned attempt)
{
    char msg[4096];

    /* The field holds at most 4096 bytes; cut on a UTF-8 boundary. */
    size_t n = strlen(message);
    if (n >= sizeof msg) {
        n = sizeof msg - 1;
        while (n > 0 && ((unsigned char)message[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(msg, message, n);
    msg[n] = '\0';
    /* A reason quoting bytes that are not UTF-8 cannot go out as it is. */
    if (!send_error_msg(c, code, fatal, msg, task, attempt))
        send_error_msg(c, code, fatal, "refused (the reason is not UTF-8; see the log)", task,
                       attempt);
    if (fatal)
        rp__wsconn_close(c, strcmp(code, "too_big") == 0 ? 1009 : 1002, code);
}
