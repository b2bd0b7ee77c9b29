/*
 * tls_pingpong.c -- the raw floors under the remote executor's round trip:
 * ping-pong over loopback TCP, and over TLS 1.3 with plain OpenSSL, between
 * this thread and an echo server in a forked child (net_anchors.h). Also
 * the helpers lws_echo.c shares: clock, SIGPIPE, the child's bounds,
 * reaping.
 *
 * DESIGN: one round trip is the client writing the payload and reading it
 * back whole; the server reads a whole payload before it echoes it, so a
 * payload larger than the socket buffers cannot deadlock the two blocking
 * ends. Both sides use blocking sockets and TCP_NODELAY, as the simplest
 * server anyone would write does; the TLS side is the same loop with
 * SSL_read/SSL_write on the same descriptor. Everything that can fail on
 * the client's side (certificates, key) is set up before the fork, so it
 * is reported here and not from the child.
 */
#include "bench/anchors/net_anchors.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_PAYLOAD ((size_t)64 << 20)
#define MAX_EINTR 64                     /* retries of one read or write */
#define NS_PER_S UINT64_C(1000000000)

/* One end of the connection: the descriptor, and the TLS session on it
 * (NULL for plain TCP). */
struct link {
    int fd;
    SSL *ssl;
};

/* ---- helpers shared with lws_echo.c ---- */

uint64_t
rp__anchor_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

void
rp__anchor_sigpipe_hold(struct rp__anchor_sigpipe *saved)
{
    sigset_t pipe;

    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &saved->old_mask);
    sigaction(SIGPIPE, NULL, &saved->old_action);
}

void
rp__anchor_sigpipe_release(const struct rp__anchor_sigpipe *saved)
{
    static const struct timespec zero = { 0, 0 };
    sigset_t pipe;

    sigaction(SIGPIPE, &saved->old_action, NULL);
    if (!sigismember(&saved->old_mask, SIGPIPE)) {
        /* A write to a closed connection raised one while it was blocked:
         * ours, so drop it (standard signals do not queue: one wait does). */
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        sigtimedwait(&pipe, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &saved->old_mask, NULL);
}

void
rp__anchor_child_setup(void)
{
    sigset_t none;

    signal(SIGALRM, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    alarm(RP__ANCHOR_SECONDS + 1);
}

int
rp__anchor_reap(pid_t pid, uint64_t deadline_ns, int kill_now, const char *what)
{
    static const struct timespec tick = { 0, 1000000 };   /* 1 ms */
    uint64_t now = rp__anchor_now_ns();
    uint64_t ticks = kill_now || now >= deadline_ns ? 0 : (deadline_ns - now) / 1000000 + 1;
    int status = 0;
    pid_t r = 0;

    for (uint64_t i = 0; i <= ticks; i++) {
        r = waitpid(pid, &status, WNOHANG);
        if (r != 0 || i == ticks)
            break;
        nanosleep(&tick, NULL);
    }
    if (r == 0) {
        kill(pid, SIGKILL);
        r = waitpid(pid, &status, 0);
        if (!kill_now)
            fprintf(stderr, "%s: the server did not exit; killed it\n", what);
        return -1;
    }
    if (r < 0) {
        fprintf(stderr, "%s: waitpid: %s\n", what, strerror(errno));
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status))
        fprintf(stderr, "%s: the server died of signal %d\n", what, WTERMSIG(status));
    else
        fprintf(stderr, "%s: the server exited with status %d\n", what, WEXITSTATUS(status));
    return -1;
}

unsigned char
rp__anchor_payload_byte(size_t i)
{
    return (unsigned char)('a' + i % 26);
}

/* ---- the ping-pong ---- */

static void
print_tls_errors(const char *what, const char *doing)
{
    fprintf(stderr, "%s: %s failed\n", what, doing);
    ERR_print_errors_fp(stderr);
}

static void
set_nodelay(int fd)
{
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Writes all of buf. 0, or -1 with errno-style detail printed. */
static int
link_write(struct link *l, const unsigned char *buf, size_t len, const char *what)
{
    size_t off = 0;

    for (unsigned eintr = 0; off < len && eintr <= MAX_EINTR;) {
        size_t want = len - off;
        ssize_t m;

        if (l->ssl != NULL) {
            size_t done = 0;

            if (SSL_write_ex(l->ssl, buf + off, want, &done) <= 0) {
                print_tls_errors(what, "SSL_write");
                return -1;
            }
            m = (ssize_t)done;
        } else {
            m = send(l->fd, buf + off, want, MSG_NOSIGNAL);
            if (m < 0 && errno == EINTR) {
                eintr++;
                continue;
            }
            if (m < 0) {
                fprintf(stderr, "%s: send: %s\n", what, strerror(errno));
                return -1;
            }
        }
        off += (size_t)m;
    }
    return off == len ? 0 : -1;
}

/* Reads exactly len bytes. 0; 1 if the peer closed before the first byte;
 * -1 on anything else, said on stderr. */
static int
link_read(struct link *l, unsigned char *buf, size_t len, const char *what)
{
    size_t off = 0;

    for (unsigned eintr = 0; off < len && eintr <= MAX_EINTR;) {
        size_t want = len - off;
        ssize_t m;

        if (l->ssl != NULL) {
            size_t done = 0;

            if (SSL_read_ex(l->ssl, buf + off, want, &done) <= 0) {
                int e = SSL_get_error(l->ssl, 0);

                if (off == 0 && (e == SSL_ERROR_ZERO_RETURN ||
                                 (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)))
                    return 1;
                if (e == SSL_ERROR_WANT_READ)
                    fprintf(stderr, "%s: SSL_read: timed out\n", what);
                else
                    print_tls_errors(what, "SSL_read");
                return -1;
            }
            m = (ssize_t)done;
        } else {
            m = recv(l->fd, buf + off, want, 0);
            if (m < 0 && errno == EINTR) {
                eintr++;
                continue;
            }
            if (m < 0) {
                fprintf(stderr, "%s: recv: %s\n", what,
                        errno == EAGAIN ? "timed out" : strerror(errno));
                return -1;
            }
            if (m == 0) {
                if (off == 0)
                    return 1;
                fprintf(stderr, "%s: the peer closed in mid-message\n", what);
                return -1;
            }
        }
        off += (size_t)m;
    }
    return off == len ? 0 : -1;
}

/* A listening socket on 127.0.0.1, port chosen by the kernel. */
static int
listen_loopback(struct sockaddr_in *addr /* OUT */, const char *what)
{
    socklen_t alen = sizeof *addr;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        fprintf(stderr, "%s: socket: %s\n", what, strerror(errno));
        return -1;
    }
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr->sin_port = 0;
    if (bind(fd, (struct sockaddr *)addr, sizeof *addr) < 0 || listen(fd, 1) < 0 ||
        getsockname(fd, (struct sockaddr *)addr, &alen) < 0) {
        fprintf(stderr, "%s: listening on 127.0.0.1: %s\n", what, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* The child: accept one client, echo `total` messages, then expect the
 * client to close. Never returns. */
static _Noreturn void
serve(int lfd, SSL_CTX *server_ctx, size_t payload, uint64_t total, const char *what)
{
    struct link l = { -1, NULL };
    unsigned char *buf;
    int status = 1;

    rp__anchor_child_setup();
    l.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    close(lfd);
    if (l.fd < 0) {
        fprintf(stderr, "%s: accept: %s\n", what, strerror(errno));
        _exit(1);
    }
    set_nodelay(l.fd);
    buf = malloc(payload);
    if (buf == NULL)
        goto done;
    if (server_ctx != NULL) {
        l.ssl = SSL_new(server_ctx);
        if (l.ssl == NULL || !SSL_set_fd(l.ssl, l.fd) || SSL_accept(l.ssl) <= 0) {
            print_tls_errors(what, "the server's TLS handshake");
            goto done;
        }
    }
    /* The last read is the client's close. */
    for (uint64_t i = 0; i <= total; i++) {
        int r = link_read(&l, buf, payload, what);

        if (r == 1) {
            status = 0;
            break;
        }
        if (r < 0 || i == total || link_write(&l, buf, payload, what) < 0)
            break;
    }
done:
    _exit(status);
}

static int
pingpong(SSL_CTX *server_ctx, SSL_CTX *client_ctx, size_t payload, unsigned warmup,
         unsigned n, uint64_t *samples_ns, const char *what)
{
    uint64_t start = rp__anchor_now_ns();
    uint64_t deadline = start + RP__ANCHOR_SECONDS * NS_PER_S;
    uint64_t total = (uint64_t)warmup + n;
    struct timeval backstop = { RP__ANCHOR_SECONDS + 1, 0 };
    struct rp__anchor_sigpipe saved;
    struct sockaddr_in addr;
    struct link l = { -1, NULL };
    unsigned char *out = NULL, *in = NULL;
    int lfd, failed = 1;
    pid_t pid;

    if (payload == 0 || payload > MAX_PAYLOAD) {
        fprintf(stderr, "%s: payload %zu out of range (1..%zu)\n", what, payload, MAX_PAYLOAD);
        return -1;
    }
    if ((lfd = listen_loopback(&addr, what)) < 0)
        return -1;
    rp__anchor_sigpipe_hold(&saved);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", what, strerror(errno));
        close(lfd);
        rp__anchor_sigpipe_release(&saved);
        return -1;
    }
    if (pid == 0)
        serve(lfd, server_ctx, payload, total, what);
    close(lfd);

    l.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l.fd < 0 || connect(l.fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        fprintf(stderr, "%s: connecting to 127.0.0.1:%u: %s\n", what,
                (unsigned)ntohs(addr.sin_port), strerror(errno));
        goto out;
    }
    set_nodelay(l.fd);
    /* A hung server cannot hold a read past the deadline (its alarm also
     * ends it, which ends the read). */
    setsockopt(l.fd, SOL_SOCKET, SO_RCVTIMEO, &backstop, sizeof backstop);
    setsockopt(l.fd, SOL_SOCKET, SO_SNDTIMEO, &backstop, sizeof backstop);
    if (client_ctx != NULL) {
        l.ssl = SSL_new(client_ctx);
        if (l.ssl == NULL || !SSL_set_tlsext_host_name(l.ssl, "localhost") ||
            !SSL_set1_host(l.ssl, "localhost") || !SSL_set_fd(l.ssl, l.fd) ||
            SSL_connect(l.ssl) <= 0) {
            print_tls_errors(what, "the client's TLS handshake");
            goto out;
        }
        if (SSL_version(l.ssl) != TLS1_3_VERSION) {
            fprintf(stderr, "%s: negotiated %s, not TLS 1.3\n", what, SSL_get_version(l.ssl));
            goto out;
        }
    }

    out = malloc(payload);
    in = malloc(payload);
    if (out == NULL || in == NULL) {
        fprintf(stderr, "%s: out of memory for two payloads of %zu bytes\n", what, payload);
        goto out;
    }
    for (size_t i = 0; i < payload; i++)
        out[i] = rp__anchor_payload_byte(i);

    for (uint64_t i = 0; i < total; i++) {
        uint64_t t0 = rp__anchor_now_ns(), t1;

        if (t0 > deadline) {
            fprintf(stderr, "%s: past %d s after %llu of %llu round trips\n", what,
                    RP__ANCHOR_SECONDS, (unsigned long long)i, (unsigned long long)total);
            goto out;
        }
        if (link_write(&l, out, payload, what) < 0)
            goto out;
        if (link_read(&l, in, payload, what) != 0) {
            fprintf(stderr, "%s: no echo for round trip %llu\n", what, (unsigned long long)i);
            goto out;
        }
        t1 = rp__anchor_now_ns();
        if (memcmp(in, out, payload) != 0) {
            fprintf(stderr, "%s: the echo of round trip %llu differs\n", what,
                    (unsigned long long)i);
            goto out;
        }
        if (i >= warmup)
            samples_ns[i - warmup] = t1 - t0;
    }
    failed = 0;

out:
    if (l.ssl != NULL) {
        if (!failed)
            SSL_shutdown(l.ssl);    /* close_notify: the server reads a clean end */
        SSL_free(l.ssl);
    }
    if (l.fd >= 0)
        close(l.fd);
    free(in);
    free(out);
    if (rp__anchor_reap(pid, deadline + NS_PER_S, failed, what) < 0)
        failed = 1;
    rp__anchor_sigpipe_release(&saved);
    return failed ? -1 : 0;
}

int
rp_anchor_tcp_pingpong(size_t payload, unsigned warmup, unsigned n, uint64_t *samples_ns)
{
    return pingpong(NULL, NULL, payload, warmup, n, samples_ns, "tcp_pingpong");
}

/* A context for one side, TLS 1.3 only. */
static SSL_CTX *
tls13_context(const SSL_METHOD *method, const char *what)
{
    SSL_CTX *ctx = SSL_CTX_new(method);

    if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
        print_tls_errors(what, "SSL_CTX_new");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int
rp_anchor_tls_pingpong(const char *cert, const char *key, const char *ca, size_t payload,
                       unsigned warmup, unsigned n, uint64_t *samples_ns)
{
    static const char what[] = "tls_pingpong";
    SSL_CTX *server_ctx = NULL, *client_ctx = NULL;
    int rc = -1;

    if ((server_ctx = tls13_context(TLS_server_method(), what)) == NULL ||
        (client_ctx = tls13_context(TLS_client_method(), what)) == NULL)
        goto out;
    if (SSL_CTX_use_certificate_chain_file(server_ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(server_ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(server_ctx) != 1) {
        fprintf(stderr, "%s: certificate %s, key %s:\n", what, cert, key);
        print_tls_errors(what, "loading the server's certificate");
        goto out;
    }
    SSL_CTX_set_options(server_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (SSL_CTX_load_verify_locations(client_ctx, ca, NULL) != 1) {
        fprintf(stderr, "%s: CA %s:\n", what, ca);
        print_tls_errors(what, "loading the CA");
        goto out;
    }
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, NULL);
    rc = pingpong(server_ctx, client_ctx, payload, warmup, n, samples_ns, what);
out:
    SSL_CTX_free(client_ctx);
    SSL_CTX_free(server_ctx);
    return rc;
}
