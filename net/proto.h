/*
 * proto.h -- the coordinator-worker wire protocol (docs/protocol.md):
 * control messages as JSON text frames, checked field by field against
 * one table, and the 24-byte header of binary frames.
 *
 * Decoding never trusts its input: every frame, whatever its bytes, gives
 * either a message that matches the table exactly or RP_ERR_INVALID with
 * a reason and a code (RP_PROTO_TOO_BIG for an oversized frame). Encoding
 * checks against the same table and decodes its own output, so a peer
 * never sends what it would refuse.
 *
 * THREADS: no shared state; any thread.
 */
#ifndef RP_NET_PROTO_H
#define RP_NET_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <repartir.h>

#define RP_PROTO_VERSION 1
#define RP_PROTO_SUBPROTOCOL "repartir.v1"
#define RP_PROTO_MAX_FRAME_DEFAULT ((size_t)16 << 20)
#define RP_PROTO_MAX_DEPTH 8
#define RP_PROTO_CHUNK_HEADER 24

/* The message types, in the order of the table in proto.c. */
enum rp_msg_type {
    RP_MSG_HELLO,
    RP_MSG_WELCOME,
    RP_MSG_SUBMIT,
    RP_MSG_NEED_FILE,
    RP_MSG_STARTED,
    RP_MSG_CHECKPOINT,
    RP_MSG_RESULT,
    RP_MSG_CANCEL,
    RP_MSG_REVOKE,
    RP_MSG_REVOKED,
    RP_MSG_LOAD,
    RP_MSG_PING,
    RP_MSG_PONG,
    RP_MSG_DRAIN,
    RP_MSG_ERROR,
    RP_MSG_TYPE_COUNT
};

/* Who may send a message. */
enum { RP_PROTO_FROM_COORDINATOR = 1u << 0, RP_PROTO_FROM_WORKER = 1u << 1 };

/* Why a frame was refused: the `code` of the error message to answer. */
enum rp_proto_error {
    RP_PROTO_OK,
    RP_PROTO_MALFORMED,             /* "malformed" */
    RP_PROTO_TOO_BIG                /* "too_big" */
};

/* "hello", ...; NULL out of range. */
const char *rp__msg_type_name(enum rp_msg_type t);
/* RP_PROTO_FROM_* bits of who may send t. */
unsigned rp__msg_type_senders(enum rp_msg_type t);

/* A decoded control message. json is the whole object, checked against
 * the table: every field it has is known, of its type and in range, and
 * every required one is there. */
typedef struct rp_msg {
    enum rp_msg_type type;
    cJSON *json;
} rp_msg;

/* Decodes a text frame of len bytes (not NUL-terminated) no larger than
 * max_frame (0 = the default). RP_OK, or RP_ERR_INVALID with *code and
 * *why (malloc'd, caller frees): not UTF-8, not a JSON object, nested too
 * deep, unknown type, unknown, duplicate, missing or mistyped field, out of
 * range, too big. *out is untouched on error. */
rp_status rp__msg_decode(const void *data, size_t len, size_t max_frame, rp_msg *out /* OUT */,
                         enum rp_proto_error *code /* OUT */, char **why /* OUT */);
void rp__msg_free(rp_msg *m);

/* Field readers for a decoded message. Absent (optional) fields read as 0,
 * NULL or false, and rp__msg_item gives NULL (which cJSON's array helpers
 * treat as empty); a field name not in the message's table is a
 * programming error (abort). */
uint64_t rp__msg_u64(const rp_msg *m, const char *field);
const char *rp__msg_str(const rp_msg *m, const char *field);
bool rp__msg_bool(const rp_msg *m, const char *field);
bool rp__msg_has(const rp_msg *m, const char *field);
const cJSON *rp__msg_item(const rp_msg *m, const char *field);   /* obj or array */

/* Encodes a message: obj must have "type" and the fields of that type; it
 * is checked as rp__msg_decode would check it (RP_ERR_INVALID with *why if
 * not). *text is malloc'd, *len bytes (NUL-terminated too). Takes obj. */
rp_status rp__msg_encode(cJSON *obj, char **text /* OUT */, size_t *len /* OUT */,
                         char **why /* OUT */);

/* ---- binary frames ---- */

enum rp_chunk_kind {
    RP_CHUNK_STDIN = 1,
    RP_CHUNK_STDOUT = 2,
    RP_CHUNK_STDERR = 3,
    RP_CHUNK_CHECKPOINT = 4,
    RP_CHUNK_FILE = 5
};
#define RP_CHUNK_LAST 0x01          /* flags: the last chunk of its stream */

struct rp_chunk {
    uint8_t kind, flags;
    uint64_t id;                    /* the task; 0 for a file */
    uint32_t attempt;               /* 0 for a file */
    uint32_t seq;                   /* chunk number in its stream, from 0 */
    const unsigned char *payload;   /* points into the frame */
    size_t payload_len;
};

/* Decodes a binary frame: the header checked (magic, kind, flags,
 * reserved, a file's id and attempt 0, a task's id non-zero). RP_OK or
 * RP_ERR_INVALID with *code and *why. */
rp_status rp__chunk_decode(const void *data, size_t len, size_t max_frame,
                           struct rp_chunk *out /* OUT */, enum rp_proto_error *code /* OUT */,
                           char **why /* OUT */);
/* Writes the header of c (payload not included) into out. */
void rp__chunk_header(const struct rp_chunk *c, unsigned char out[RP_PROTO_CHUNK_HEADER]);

/* Whether name is a safe relative file name for the work dir: 1-255
 * bytes, no NUL, not absolute, no "." or ".." component, no empty
 * component. */
bool rp__proto_safe_name(const char *name);

#endif /* RP_NET_PROTO_H */
