/*
 * net_anchors.h -- the network floors the remote executor is measured
 * against: request/response round trips over loopback between this thread
 * and an echo server in a forked child, through plain TCP, TLS 1.3 with
 * plain OpenSSL, and libwebsockets (TLS, one text frame each way).
 *
 * Each function runs `warmup` untimed round trips of `payload` bytes, then
 * n timed ones, and writes one sample per round trip (ns, CLOCK_MONOTONIC)
 * to samples_ns[0..n-1] (OUT, n elements, owned by the caller). It returns
 * 0, or -1 after printing why on stderr. Connection set-up is not timed.
 *
 * Bounds: a call takes at most 10 s of round trips (it fails past that);
 * the child exits when the client goes away, has an alarm of its own, and
 * gets SIGKILL if it is still there when the call gives up on it. The
 * child is always reaped before return.
 *
 * Thread safety: call from a process with no other threads (the benchmarks
 * run each contender in a process of its own): the child is forked and
 * goes on to use malloc, OpenSSL and libwebsockets. SIGPIPE is blocked in
 * the calling thread for the duration of a call (a pending one is
 * discarded), and its disposition is restored after libwebsockets, which
 * sets it to SIG_IGN, is done. rp_anchor_lws_echo sets libwebsockets' log
 * level to errors only, for the whole process.
 */
#ifndef RP_BENCH_NET_ANCHORS_H
#define RP_BENCH_NET_ANCHORS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Plain TCP over 127.0.0.1, TCP_NODELAY on both ends, blocking sockets:
 * send() the payload, recv() it back. The server's port is chosen by the
 * kernel (bound to port 0 before the fork). */
int rp_anchor_tcp_pingpong(size_t payload, unsigned warmup, unsigned n,
                           uint64_t *samples_ns /* OUT */);

/* The same over TLS 1.3 (only) with plain OpenSSL: the server presents
 * cert/key (PEM), the client verifies it against ca and checks the name
 * "localhost". No client certificate. The floor for the remote executor's
 * round trip: its p50 should be at most twice this one's. */
int rp_anchor_tls_pingpong(const char *cert, const char *key, const char *ca,
                           size_t payload, unsigned warmup, unsigned n,
                           uint64_t *samples_ns /* OUT */);

/* The transport itself: a libwebsockets echo server (child process, its
 * own context listening on 127.0.0.1 port 0 with TLS from cert/key,
 * protocol "repartir.v1", echoes each text message back as one text frame)
 * and a libwebsockets client on this thread (LCCSCF_USE_SSL, verifying
 * against ca). A sample runs from asking lws for a writable callback, in
 * which the payload goes out as one text frame, to the whole echo having
 * arrived; lws_service runs on this thread, blocking in poll. */
int rp_anchor_lws_echo(const char *cert, const char *key, const char *ca,
                       size_t payload, unsigned warmup, unsigned n,
                       uint64_t *samples_ns /* OUT */);

/* ---- internal: shared by tls_pingpong.c and lws_echo.c ---- */

#define RP__ANCHOR_SECONDS 10          /* the deadline of one call */

/* What a call changes about SIGPIPE, to put back. */
struct rp__anchor_sigpipe {
    sigset_t old_mask;
    struct sigaction old_action;
};

uint64_t rp__anchor_now_ns(void);
/* Blocks SIGPIPE in this thread and remembers its disposition. */
void rp__anchor_sigpipe_hold(struct rp__anchor_sigpipe *saved /* OUT */);
/* Discards a pending SIGPIPE, puts back the disposition and the mask. */
void rp__anchor_sigpipe_release(const struct rp__anchor_sigpipe *saved);
/* In a freshly forked child: default SIGALRM, ignored SIGPIPE, no blocked
 * signals, and an alarm that ends the child a second after the call's
 * deadline. */
void rp__anchor_child_setup(void);
/* Waits for the child until deadline_ns (no later; right away if kill_now),
 * then SIGKILLs it; reaps it either way. Returns 0 if it exited with status
 * 0 on its own, else -1 after saying so ("what: ..."). */
int rp__anchor_reap(pid_t pid, uint64_t deadline_ns, int kill_now, const char *what);
/* The byte at offset i of every payload: printable, so it is valid text. */
unsigned char rp__anchor_payload_byte(size_t i);

#endif /* RP_BENCH_NET_ANCHORS_H */
