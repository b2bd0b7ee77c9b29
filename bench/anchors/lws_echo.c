/*
 * lws_echo.c -- the transport's own floor: WebSocket round trips through
 * libwebsockets over TLS on loopback, between a client on this thread and
 * an echo server in a forked child (net_anchors.h).
 *
 * DESIGN: both ends are the plainest correct lws programs: the poll event
 * loop, lws_service(ctx, 0) in a loop (the timeout argument is ignored by
 * lws 4.x; poll blocks until a socket or lws's next timer is due), and
 * writes only from WRITEABLE callbacks. A round trip is therefore: ask for
 * a writable callback, service (POLLOUT, write one text frame), service
 * (POLLIN, read the echo); on the server: POLLIN, read, ask for writable,
 * POLLOUT, write. The server listens on 127.0.0.1 port 0 and tells the
 * parent its port through a pipe. Each side holds its state in its
 * context's user pointer. A deadline timer (lws_sul) bounds every wait: it
 * sets a flag and cancels the poll, since after a timer fires lws would
 * otherwise sleep until the next one, which may never come.
 */
#include "bench/anchors/net_anchors.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>

#define PROTOCOL "repartir.v1"
#define MAX_PAYLOAD ((size_t)64 << 20)
#define NS_PER_S UINT64_C(1000000000)
/* Buffers as the remote executor's transport sets them (net/ws.c): one
 * read takes up to 256 KiB off the socket, a frame comes up in pieces of
 * up to 64 KiB. They change nothing for small messages; with lws's 4 KiB
 * defaults a 1 MiB round trip takes about 1.5x as long. */
#define RX_PIECE (64 * 1024)
#define SERVICE_BUFFER (256 * 1024)
/* lws_service calls per wait, a bound behind the deadline: in the last
 * millisecond before a timer lws polls without blocking, so a wait may
 * spin through many calls. */
#define MAX_SERVICES (UINT64_C(1) << 24)

static const char what[] = "lws_echo";

/* A deadline on an lws context's loop. */
struct watch {
    lws_sorted_usec_list_t sul;
    struct lws_context *ctx;
    int fired;
};

struct server {
    struct watch watch;
    unsigned char *buf;                 /* LWS_PRE headroom, then the message */
    size_t payload, len;
    int clients, ready, closed, failed;
};

struct client {
    struct watch watch;
    struct lws *wsi;
    unsigned char *out;                 /* LWS_PRE headroom, then the payload */
    unsigned char *ref;                 /* the payload (lws_write masks out) */
    unsigned char *in;
    size_t payload, got;
    uint64_t t_done;                    /* when the whole echo was in */
    int established, want_write, done, closed, failed;
};

static void
watch_fire(lws_sorted_usec_list_t *sul)
{
    struct watch *w = lws_container_of(sul, struct watch, sul);

    w->fired = 1;
    lws_cancel_service(w->ctx);
}

static void
watch_start(struct watch *w, struct lws_context *ctx, uint64_t deadline_ns)
{
    uint64_t now = rp__anchor_now_ns();

    memset(&w->sul, 0, sizeof w->sul);
    w->ctx = ctx;
    w->fired = 0;
    lws_sul_schedule(ctx, 0, &w->sul, watch_fire,
                     (lws_usec_t)(deadline_ns > now ? (deadline_ns - now) / 1000 : 0));
}

/* ---- the server (child) ---- */

static int
server_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                size_t len)
{
    struct server *s = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        if (++s->clients > 1) {
            fprintf(stderr, "%s: server: a second client\n", what);
            s->failed = 1;
            return -1;
        }
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (lws_frame_is_binary(wsi) || s->ready || len > s->payload - s->len) {
            fprintf(stderr, "%s: server: not a text message of %zu bytes\n", what,
                    s->payload);
            s->failed = 1;
            return -1;
        }
        memcpy(s->buf + LWS_PRE + s->len, in, len);
        s->len += len;
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            s->ready = 1;
            lws_callback_on_writable(wsi);
        }
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!s->ready)
            return 0;
        if (lws_write(wsi, s->buf + LWS_PRE, s->len, LWS_WRITE_TEXT) < (int)s->len) {
            fprintf(stderr, "%s: server: lws_write failed\n", what);
            s->failed = 1;
            return -1;
        }
        s->len = 0;
        s->ready = 0;
        return 0;
    case LWS_CALLBACK_CLOSED:
        s->closed = 1;
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* The child: serve one client until it goes away, having written the port
 * to port_fd. Never returns. */
static _Noreturn void
serve(int port_fd, const char *cert, const char *key, size_t payload, uint64_t deadline_ns)
{
    static const struct lws_protocols protocols[] = {
        { .name = PROTOCOL, .callback = server_callback, .rx_buffer_size = RX_PIECE },
        { .name = NULL },
    };
    struct lws_context_creation_info info;
    struct lws_context *ctx;
    struct server s;
    uint64_t k = 0;
    int port = 0, status = 1;

    rp__anchor_child_setup();
    memset(&s, 0, sizeof s);
    s.payload = payload;
    s.buf = malloc(LWS_PRE + payload);
    if (s.buf == NULL)
        _exit(1);
    memset(&info, 0, sizeof info);
    info.protocols = protocols;
    info.user = &s;
    info.gid = -1;
    info.uid = -1;
    info.pt_serv_buf_size = SERVICE_BUFFER;
    info.port = 0;                      /* the kernel picks */
    info.iface = "127.0.0.1";
    /* No client certificates: no use for the system's CAs (25 ms to load). */
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_IPV6 |
                   LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    info.ssl_cert_filepath = cert;
    info.ssl_private_key_filepath = key;
    ctx = lws_create_context(&info);
    if (ctx == NULL) {
        fprintf(stderr, "%s: server: cannot listen with TLS from %s and %s\n", what, cert, key);
        _exit(1);
    }
    port = lws_get_vhost_listen_port(lws_get_vhost_by_name(ctx, "default"));
    if (port <= 0 || write(port_fd, &port, sizeof port) != (ssize_t)sizeof port) {
        fprintf(stderr, "%s: server: no port to give (%d)\n", what, port);
        goto out;
    }
    close(port_fd);
    port_fd = -1;

    watch_start(&s.watch, ctx, deadline_ns);
    /* Bounded in time by the watch; the client's close ends it. */
    for (; !s.closed && !s.failed && !s.watch.fired && k < MAX_SERVICES * 64; k++)
        if (lws_service(ctx, 0) < 0)
            break;
    if (s.watch.fired || k == MAX_SERVICES * 64)
        fprintf(stderr, "%s: server: the client did not go away in time\n", what);
    else if (s.closed && !s.failed)
        status = 0;
    lws_sul_cancel(&s.watch.sul);
out:
    if (port_fd >= 0)
        close(port_fd);
    lws_context_destroy(ctx);
    _exit(status);
}

/* ---- the client (this thread) ---- */

static int
client_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                size_t len)
{
    struct client *c = lws_context_user(lws_get_context(wsi));
    SSL *ssl;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        fprintf(stderr, "%s: cannot connect: %s\n", what, in ? (const char *)in : "(no reason)");
        c->failed = 1;
        c->wsi = NULL;
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        ssl = lws_get_ssl(wsi);
        if (ssl == NULL || SSL_version(ssl) != TLS1_3_VERSION) {
            fprintf(stderr, "%s: negotiated %s, not TLS 1.3\n", what,
                    ssl ? SSL_get_version(ssl) : "no TLS");
            c->failed = 1;
            return -1;
        }
        c->established = 1;
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!c->want_write)
            return 0;
        c->want_write = 0;
        if (lws_write(wsi, c->out + LWS_PRE, c->payload, LWS_WRITE_TEXT) < (int)c->payload) {
            fprintf(stderr, "%s: lws_write failed\n", what);
            c->failed = 1;
            return -1;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (lws_frame_is_binary(wsi) || c->done || len > c->payload - c->got) {
            fprintf(stderr, "%s: the echo is not a text message of %zu bytes\n", what,
                    c->payload);
            c->failed = 1;
            return -1;
        }
        memcpy(c->in + c->got, in, len);
        c->got += len;
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            c->t_done = rp__anchor_now_ns();
            c->done = 1;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        c->closed = 1;
        c->wsi = NULL;
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* Services the client's context until *flag is set. 0, or -1 after saying
 * why (`doing` names the wait). */
static int
client_wait(struct lws_context *ctx, struct client *c, const int *flag, const char *doing)
{
    uint64_t k = 0;

    for (; !*flag && !c->failed && !c->closed && !c->watch.fired && k < MAX_SERVICES; k++)
        if (lws_service(ctx, 0) < 0)
            break;
    if (*flag && !c->failed)
        return 0;
    if (c->failed)
        return -1;
    if (c->watch.fired)
        fprintf(stderr, "%s: past %d s %s\n", what, RP__ANCHOR_SECONDS, doing);
    else if (c->closed)
        fprintf(stderr, "%s: the server closed the connection %s\n", what, doing);
    else
        fprintf(stderr, "%s: no progress after %llu lws_service calls %s\n", what,
                (unsigned long long)k, doing);
    return -1;
}

/* The server's port from the pipe, or -1 (said why). */
static int
read_port(int fd, uint64_t deadline_ns)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    uint64_t now = rp__anchor_now_ns();
    int port = 0, r;

    r = poll(&p, 1, now < deadline_ns ? (int)((deadline_ns - now) / 1000000) : 0);
    if (r == 1 && read(fd, &port, sizeof port) == (ssize_t)sizeof port && port > 0 &&
        port < 65536)
        return port;
    fprintf(stderr, "%s: the server did not start%s\n", what,
            r == 0 ? " in time" : "");
    return -1;
}

int
rp_anchor_lws_echo(const char *cert, const char *key, const char *ca, size_t payload,
                   unsigned warmup, unsigned n, uint64_t *samples_ns)
{
    static const struct lws_protocols protocols[] = {
        { .name = PROTOCOL, .callback = client_callback, .rx_buffer_size = RX_PIECE },
        { .name = NULL },
    };
    uint64_t start = rp__anchor_now_ns();
    uint64_t deadline = start + RP__ANCHOR_SECONDS * NS_PER_S;
    uint64_t total = (uint64_t)warmup + n;
    struct lws_context_creation_info info;
    struct lws_client_connect_info cci;
    struct lws_context *ctx = NULL;
    struct rp__anchor_sigpipe saved;
    struct client c;
    int fds[2], port, failed = 1;
    pid_t pid;

    if (payload == 0 || payload > MAX_PAYLOAD) {
        fprintf(stderr, "%s: payload %zu out of range (1..%zu)\n", what, payload, MAX_PAYLOAD);
        return -1;
    }
    memset(&c, 0, sizeof c);
    c.payload = payload;
    if (pipe2(fds, O_CLOEXEC) < 0) {
        fprintf(stderr, "%s: pipe: %s\n", what, strerror(errno));
        return -1;
    }
    lws_set_log_level(LLL_ERR, NULL);
    rp__anchor_sigpipe_hold(&saved);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", what, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        rp__anchor_sigpipe_release(&saved);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        /* Half a second more than the client, which fails first. */
        serve(fds[1], cert, key, payload, deadline + NS_PER_S / 2);
    }
    close(fds[1]);
    port = read_port(fds[0], deadline);
    close(fds[0]);
    if (port < 0)
        goto out;

    c.out = malloc(LWS_PRE + payload);
    c.ref = malloc(payload);
    c.in = malloc(payload);
    if (c.out == NULL || c.ref == NULL || c.in == NULL) {
        fprintf(stderr, "%s: out of memory for three payloads of %zu bytes\n", what, payload);
        goto out;
    }
    for (size_t i = 0; i < payload; i++)
        c.ref[i] = rp__anchor_payload_byte(i);

    memset(&info, 0, sizeof info);
    info.protocols = protocols;
    info.user = &c;
    info.gid = -1;
    info.uid = -1;
    info.pt_serv_buf_size = SERVICE_BUFFER;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
    info.client_ssl_ca_filepath = ca;
    ctx = lws_create_context(&info);
    if (ctx == NULL) {
        fprintf(stderr, "%s: cannot create the client's context (CA %s)\n", what, ca);
        goto out;
    }
    watch_start(&c.watch, ctx, deadline);

    memset(&cci, 0, sizeof cci);
    cci.context = ctx;
    cci.address = "127.0.0.1";
    cci.port = port;
    cci.ssl_connection = LCCSCF_USE_SSL;
    cci.path = "/";
    cci.host = "localhost";             /* the name the certificate must carry */
    cci.origin = "localhost";
    cci.protocol = PROTOCOL;
    cci.local_protocol_name = PROTOCOL;
    cci.pwsi = &c.wsi;
    if (lws_client_connect_via_info(&cci) == NULL) {
        if (!c.failed)
            fprintf(stderr, "%s: cannot connect to 127.0.0.1:%d\n", what, port);
        goto out;
    }
    if (client_wait(ctx, &c, &c.established, "connecting") < 0)
        goto out;

    for (uint64_t i = 0; i < total; i++) {
        uint64_t t0;

        /* The client's lws_write masks the frame in place. */
        memcpy(c.out + LWS_PRE, c.ref, payload);
        t0 = rp__anchor_now_ns();
        c.got = 0;
        c.done = 0;
        c.want_write = 1;
        lws_callback_on_writable(c.wsi);
        if (client_wait(ctx, &c, &c.done, "waiting for an echo") < 0)
            goto out;
        if (c.got != payload || memcmp(c.in, c.ref, payload) != 0) {
            fprintf(stderr, "%s: the echo of round trip %llu differs\n", what,
                    (unsigned long long)i);
            goto out;
        }
        if (i >= warmup)
            samples_ns[i - warmup] = c.t_done - t0;
    }
    failed = 0;

out:
    if (ctx != NULL) {
        lws_sul_cancel(&c.watch.sul);
        lws_context_destroy(ctx);       /* closes the connection: the server exits */
    }
    free(c.in);
    free(c.ref);
    free(c.out);
    if (rp__anchor_reap(pid, deadline + NS_PER_S, failed, what) < 0)
        failed = 1;
    rp__anchor_sigpipe_release(&saved);
    return failed ? -1 : 0;
}
