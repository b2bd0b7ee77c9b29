/*
 * ws.h -- the WebSocket transport both ends of the protocol share: one
 * libwebsockets context served by one thread, listening (the worker) or
 * dialling out (the coordinator), plain or TLS, with whole frames handed
 * up and a queue of frames per connection going out.
 *
 * What it adds to libwebsockets: a frame is delivered only when it is
 * whole, and one over max_frame is never held in memory (the handler is
 * told it was oversized, once); frames are queued and written as the
 * socket takes them; a close names its code and is sent after the frames
 * queued before it; other threads hand work to the service thread with
 * rp__ws_post, which wakes it through lws_cancel_service.
 *
 * THREADS: rp__ws_create, rp__ws_destroy and rp__ws_post from any thread
 * (destroy not from the service thread). Every handler runs on the service
 * thread, and everything else here may only be called from there.
 */
#ifndef RP_NET_WS_H
#define RP_NET_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <repartir.h>

#define RP_WS_SUBPROTOCOL "repartir.v1"

typedef struct rp__ws rp__ws;
typedef struct rp__wsconn rp__wsconn;

enum rp__ws_frame { RP__WS_TEXT, RP__WS_BINARY, RP__WS_OVERSIZED };

struct rp__ws_handler {
    void *ud;
    /* The handshake is done (accepted, or established when dialling). */
    void (*opened)(void *ud, rp__wsconn *c);
    /* One whole frame; data (NUL-terminated past len) is valid during the
     * call only. RP__WS_OVERSIZED: a frame over max_frame, not delivered
     * (len is what had arrived when it went over). */
    void (*message)(void *ud, rp__wsconn *c, enum rp__ws_frame kind,
                    unsigned char *data, size_t len);
    /* The connection is gone (or a dial failed): why says how. c is freed
     * when this returns. Every connection gets exactly one. */
    void (*closed)(void *ud, rp__wsconn *c, const char *why);
    /* Every tick_ms, if tick_ms > 0. */
    void (*tick)(void *ud);
    /* Everything queued on c has been written (may be NULL). */
    void (*drained)(void *ud, rp__wsconn *c);
};

struct rp__ws_config {
    /* Server: bind_host != NULL (an IP literal or "localhost"). */
    const char *bind_host;
    uint16_t port;
    bool tls;
    /* Server: its certificate, key, and (optional) the CA its clients'
     * certificates must chain to (then one is required). Client: the CA
     * the servers' certificates must chain to (NULL: the system's), and
     * an optional client certificate and key. */
    const char *cert, *key, *ca;
    size_t max_frame;               /* 0: RP_PROTO_MAX_FRAME */
    unsigned tick_ms;
};

/* Creates the context and starts its thread. A server is listening when
 * this returns. RP_ERR_SYSTEM/RP_ERR_IO with *why (malloc'd). */
rp_status rp__ws_create(const struct rp__ws_config *cfg, const struct rp__ws_handler *h,
                        rp__ws **out /* OUT */, char **why /* OUT */);
/* Stops the thread; every connection still open gets its closed(). */
void rp__ws_destroy(rp__ws *ws);
/* Runs fn(arg) on the service thread soon, in posting order. */
void rp__ws_post(rp__ws *ws, void (*fn)(void *arg), void *arg);
bool rp__ws_on_thread(const rp__ws *ws);

/* ---- service thread only ---- */

/* Calls the tick handler once more, in ms milliseconds (sooner than the
 * next tick; the earliest of such requests wins). */
void rp__ws_tick_in(rp__ws *ws, unsigned ms);
/* Dials host:port (wss when the config says tls). The result comes as
 * opened() or closed(); NULL (with *why) if it could not even start. */
rp__wsconn *rp__ws_connect(rp__ws *ws, const char *host, uint16_t port, void *user,
                           char **why /* OUT */);
void *rp__wsconn_user(const rp__wsconn *c);
void rp__wsconn_set_user(rp__wsconn *c, void *user);
/* "127.0.0.1:52311" (server side) or the address dialled. */
const char *rp__wsconn_peer(const rp__wsconn *c);
/* A server that requires client certificates (cfg.ca): why this client's
 * does not do (none, or not signed by the CA), or NULL. The handler
 * refuses such a connection itself. */
const char *rp__wsconn_cert_error(const rp__wsconn *c);
/* Queues one frame (copied). Ignored once the connection is closing. */
void rp__wsconn_send(rp__wsconn *c, bool binary, const void *data, size_t len);
/* Queues a frame made of a header and a payload (copied), for binary
 * chunks. false if the connection is closing (nothing was queued). */
bool rp__wsconn_send2(rp__wsconn *c, const void *head, size_t head_len, const void *body,
                      size_t body_len);
/* Whether a close (or an abort) is under way: nothing more goes out. */
bool rp__wsconn_closing(const rp__wsconn *c);
/* Bytes queued and not yet written. */
size_t rp__wsconn_backlog(const rp__wsconn *c);
/* Sends what is queued, then a close frame with code and reason. */
void rp__wsconn_close(rp__wsconn *c, uint16_t code, const char *reason);
/* Drops the connection now, without a close frame (a peer that went
 * silent). closed() follows soon. */
void rp__wsconn_abort(rp__wsconn *c);

/* ---- protocol messages over a connection (net/proto.h) ---- */

#include <cjson/cJSON.h>

/* Encodes obj (taken) with rp__msg_encode and queues it. false, with the
 * reason on stderr, if it does not encode: a bug of the sender. */
bool rp__wsconn_send_msg(rp__wsconn *c, cJSON *obj);
/* Queues an `error` message (task/attempt given when task != 0); a fatal
 * one then closes the connection with 1002, or 1009 for "too_big". */
void rp__wsconn_send_error(rp__wsconn *c, const char *code, bool fatal, const char *message,
                           uint64_t task, unsigned attempt);

#endif /* RP_NET_WS_H */
