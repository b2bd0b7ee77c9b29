/*
 * wsraw.c -- a deliberately independent client for the worker protocol
 * (docs/protocol.md), driven by tests/integration/worker_proto.test.sh.
 *
 * DESIGN: it shares no code with net/ and does not use libwebsockets:
 * raw sockets, its own RFC 6455 client handshake (the accept key checked
 * with libcrypto's SHA-1 and base64), masked frames built by hand, its
 * own frame reader and a small strict JSON reader. A misreading of the
 * document in net/proto.c, or a quirk of libwebsockets, cannot hide by
 * being made twice. Every text message the daemon sends is held to the
 * document too: valid UTF-8, strict JSON, known type, each field known,
 * present when required, of its type and in range.
 *
 * Each case opens its own connection(s), does one thing, and prints one
 * line on stdout saying what the daemon did; exit 0 when that is what the
 * document asks for, 1 otherwise (why on stderr), 2 for a usage error.
 * Every read has a deadline and every loop a bound, so nothing hangs.
 *
 * THREADS: one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1       /* POSIX and getaddrinfo under -std=c17, when built alone */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define SUBPROTOCOL "repartir.v1"
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define TIMEOUT_MS 5000                     /* any one wait for the daemon */
#define SEND_TIMEOUT_MS 15000               /* writing one (large) frame */
#define MAX_FRAME ((size_t)16 << 20)        /* the document's default limit */
#define RX_MAX ((size_t)48 << 20)           /* the most we hold from the daemon */
#define MAX_STEPS 100000                    /* bound on frames read in one wait */
#define MAX_FIELDS 64
#define MAX_U64 9007199254740991ull         /* 2^53 - 1 */
#define MAX_U32 4294967295ull

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

/* ---- what was asked, what happened ---- */

static struct {
    char host[256], port[16], hostport[300];
    bool tls;
    const char *ca, *cert, *key, *token;
    bool verbose;           /* trace frames on stderr */
    char node[64];
    SSL_CTX *ctx;
} opt;

static char why[1024];      /* the first thing that went wrong */
static int loads_seen;      /* load messages read */
static volatile sig_atomic_t stop_asked;    /* hold: SIGTERM or SIGINT came */
static char said[2048];     /* what the daemon did, for the result line */

static bool failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Records the first failure (later ones are usually its echoes); false. */
static bool
failf(const char *fmt, ...)
{
    va_list ap;

    if (why[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* Appends to the result line, with ", " between notes. */
static void
note(const char *fmt, ...)
{
    size_t n = strlen(said);
    va_list ap;

    if (n > 0 && n + 2 < sizeof said) {
        memcpy(said + n, ", ", 3);
        n += 2;
    }
    va_start(ap, fmt);
    vsnprintf(said + n, sizeof said - n, fmt, ap);
    va_end(ap);
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
left_ms(int64_t deadline)
{
    int64_t left = deadline - now_ms();

    return left < 0 ? 0 : (int)left;
}

static void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n == 0 ? 1 : n);

    if (q == NULL) {
        fprintf(stderr, "wsraw: out of memory (%zu bytes)\n", n);
        abort();
    }
    return q;
}

/* ---- byte buffers ---- */

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void
buf_reserve(struct buf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    while (b->cap < b->len + more + 1)
        b->cap = b->cap == 0 ? 4096 : b->cap * 2;
    b->p = xrealloc(b->p, b->cap);
}

static void
buf_add(struct buf *b, const void *data, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
buf_adds(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void
buf_fill(struct buf *b, int c, size_t n)
{
    buf_reserve(b, n);
    memset(b->p + b->len, c, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
buf_free(struct buf *b)
{
    free(b->p);
    *b = (struct buf){ 0 };
}

/* Appends tmpl with $N replaced by the node and $T by the token field
 * (`,"token":"..."`, or nothing without --token). */
static void
expand(struct buf *b, const char *tmpl)
{
    for (const char *s = tmpl; *s != '\0'; s++) {
        if (s[0] == '$' && s[1] == 'N') {
            buf_adds(b, opt.node);
            s++;
        } else if (s[0] == '$' && s[1] == 'T') {
            if (opt.token != NULL) {
                buf_adds(b, ",\"token\":\"");
                for (const char *t = opt.token; *t != '\0'; t++) {
                    if (*t == '"' || *t == '\\')
                        buf_add(b, "\\", 1);
                    buf_add(b, t, 1);
                }
                buf_adds(b, "\"");
            }
            s++;
        } else {
            buf_add(b, s, 1);
        }
    }
}

#define HELLO "{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,\"node\":\"$N\"$T}"
#define SUBMIT_NOOP(task) "{\"type\":\"submit\",\"task\":" task ",\"attempt\":1,\"job\":1," \
    "\"shard\":0,\"total_shards\":1,\"spec\":{\"kind\":\"noop\"}}"

/* ---- a strict JSON reader: validates a whole text, and keeps the spans
 * of the top-level object's fields ---- */

struct jfield {
    const char *key, *val;          /* key without its quotes; val raw */
    size_t key_len, val_len;
};

struct jdoc {
    struct jfield f[MAX_FIELDS];
    int n;
    char err[80];
};

struct jparse {
    const char *start, *p, *end;
    struct jdoc *doc;
};

static bool j_value(struct jparse *j, int depth, bool top);

static bool
j_err(struct jparse *j, const char *what)
{
    if (j->doc->err[0] == '\0')
        snprintf(j->doc->err, sizeof j->doc->err, "%s at byte %td", what, j->p - j->start);
    return false;
}

static void
j_blank(struct jparse *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool
j_string(struct jparse *j)
{
    if (j->p >= j->end || *j->p != '"')
        return j_err(j, "a string expected");
    j->p++;
    while (j->p < j->end) {
        unsigned char ch = (unsigned char)*j->p++;
        if (ch == '"')
            return true;
        if (ch < 0x20)
            return j_err(j, "a raw control byte in a string");
        if (ch != '\\')
            continue;
        if (j->p >= j->end)
            break;
        ch = (unsigned char)*j->p++;
        if (ch == 'u') {
            for (int i = 0; i < 4; i++, j->p++)
                if (j->p >= j->end || strchr("0123456789abcdefABCDEF", *j->p) == NULL ||
                    *j->p == '\0')
                    return j_err(j, "a bad \\u escape");
        } else if (ch == '\0' || strchr("\"\\/bfnrt", ch) == NULL) {
            return j_err(j, "a bad escape");
        }
    }
    return j_err(j, "an unterminated string");
}

static bool
j_digits(struct jparse *j)
{
    const char *s = j->p;

    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s;
}

static bool
j_number(struct jparse *j)
{
    if (*j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (j->p >= j->end || *j->p < '1' || *j->p > '9' || !j_digits(j))
        return j_err(j, "a bad number");
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!j_digits(j))
            return j_err(j, "a bad fraction");
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!j_digits(j))
            return j_err(j, "a bad exponent");
    }
    return true;
}

static bool
j_word(struct jparse *j, const char *w)
{
    size_t n = strlen(w);

    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return j_err(j, "an unknown word");
    j->p += n;
    return true;
}

/* An object or array; fields of the top-level object go to j->doc. */
static bool
j_container(struct jparse *j, int depth, bool top)
{
    char close = *j->p == '{' ? '}' : ']';

    j->p++;
    j_blank(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return true;
    }
    for (size_t i = 0; i < MAX_STEPS; i++) {
        if (close == '}') {
            const char *key = j->p + 1;
            if (!j_string(j))
                return false;
            size_t key_len = (size_t)(j->p - 1 - key);
            j_blank(j);
            if (j->p >= j->end || *j->p != ':')
                return j_err(j, "':' expected");
            j->p++;
            j_blank(j);
            const char *val = j->p;
            if (!j_value(j, depth + 1, false))
                return false;
            if (top) {
                for (int k = 0; k < j->doc->n; k++)
                    if (j->doc->f[k].key_len == key_len &&
                        memcmp(j->doc->f[k].key, key, key_len) == 0)
                        return j_err(j, "a field given twice");
                if (j->doc->n == MAX_FIELDS)
                    return j_err(j, "too many fields");
                j->doc->f[j->doc->n++] = (struct jfield){ key, val, key_len,
                                                          (size_t)(j->p - val) };
            }
        } else if (!j_value(j, depth + 1, false)) {
            return false;
        }
        j_blank(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            j_blank(j);
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return true;
        }
        return j_err(j, "',' or the end of a container expected");
    }
    return j_err(j, "too many entries");
}

static bool
j_value(struct jparse *j, int depth, bool top)
{
    if (depth > 64)
        return j_err(j, "nested too deep");
    if (j->p >= j->end)
        return j_err(j, "a value expected");
    switch (*j->p) {
    case '{':
    case '[':
        return j_container(j, depth, top);
    case '"':
        return j_string(j);
    case 't':
        return j_word(j, "true");
    case 'f':
        return j_word(j, "false");
    case 'n':
        return j_word(j, "null");
    default:
        if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
            return j_number(j);
        return j_err(j, "a value expected");
    }
}

/* Parses a whole text that must be one object; false with d->err. */
static bool
json_object(const char *s, size_t n, struct jdoc *d)
{
    struct jparse j = { s, s, s + n, d };

    memset(d, 0, sizeof *d);
    j_blank(&j);
    if (j.p >= j.end || *j.p != '{')
        return j_err(&j, "not an object");
    if (!j_value(&j, 1, true))
        return false;
    j_blank(&j);
    if (j.p != j.end)
        return j_err(&j, "bytes after the object");
    return true;
}

static const struct jfield *
j_get(const struct jdoc *d, const char *key)
{
    size_t n = strlen(key);

    for (int i = 0; i < d->n; i++)
        if (d->f[i].key_len == n && memcmp(d->f[i].key, key, n) == 0)
            return &d->f[i];
    return NULL;
}

/* The raw text of a string field's value, without quotes (escapes kept),
 * cut to fit out; "" when absent or not a string. */
static const char *
j_str(const struct jdoc *d, const char *key, char *out, size_t size)
{
    const struct jfield *f = j_get(d, key);
    size_t n;

    out[0] = '\0';
    if (f == NULL || f->val[0] != '"')
        return out;
    n = f->val_len - 2;
    if (n >= size)
        n = size - 1;
    memcpy(out, f->val + 1, n);
    out[n] = '\0';
    return out;
}

/* Whether a field's raw value is exactly raw ("7", "true", "\"x\""). */
static bool
j_is(const struct jdoc *d, const char *key, const char *raw)
{
    const struct jfield *f = j_get(d, key);

    return f != NULL && f->val_len == strlen(raw) && memcmp(f->val, raw, f->val_len) == 0;
}

static bool
utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (unsigned k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* ---- what the daemon may send (docs/protocol.md, "Messages"): type,
 * then "name:kind" with kind u64 u32 str bool strs, '?' for optional ---- */

static const struct {
    const char *type, *fields;
} from_worker[] = {
    { "welcome", "proto:u32 node:str session:str cores:u32 memory_mb:u64 slots:u32 gpus:strs "
                 "cached_keys:strs?" },
    { "need_file", "sha256:str" },
    { "started", "task:u64 attempt:u32 pid:u32" },
    { "checkpoint", "task:u64 attempt:u32 iteration:u64 size:u64 sha256:str" },
    { "result", "task:u64 attempt:u32 state:str exit_code:u32? signal:u32? error:str? "
                "wall_ns:u64 user_ns:u64 system_ns:u64 max_rss_kb:u64 out_total:u64 "
                "err_total:u64" },
    { "revoked", "task:u64 attempt:u32 ok:bool" },
    { "load", "running:u32 slots:u32 cpu:u32 mem_used_mb:u64 mem_total_mb:u64" },
    { "ping", "t:u64" },
    { "pong", "t:u64" },
    { "drain", "" },
    { "error", "code:str message:str fatal:bool task:u64? attempt:u32?" },
};

static const char *const error_codes[] = {
    "malformed", "too_big", "version", "auth", "duplicate", "refused", "unknown_task",
    "internal", NULL
};
static const char *const result_states[] = {
    "succeeded", "failed", "cancelled", "timed_out", NULL
};

static bool
in_list(const char *s, const char *const *list)
{
    for (; *list != NULL; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

static bool
kind_ok(const struct jfield *f, const char *kind)
{
    if (strcmp(kind, "str") == 0)
        return f->val[0] == '"';
    if (strcmp(kind, "bool") == 0)
        return (f->val_len == 4 && memcmp(f->val, "true", 4) == 0) ||
               (f->val_len == 5 && memcmp(f->val, "false", 5) == 0);
    if (strcmp(kind, "strs") == 0) {
        struct jdoc scratch;
        struct jparse j = { f->val, f->val, f->val + f->val_len, &scratch };
        if (f->val[0] != '[')
            return false;
        j.p++;
        for (size_t i = 0; i < MAX_STEPS; i++) {
            j_blank(&j);
            if (j.p < j.end && *j.p == ']' && i == 0)
                return true;
            if (!j_string(&j))
                return false;
            j_blank(&j);
            if (j.p < j.end && *j.p == ']')
                return true;
            if (j.p >= j.end || *j.p != ',')
                return false;
            j.p++;
        }
        return false;
    }
    /* u64, u32: digits only, in range */
    unsigned long long v = 0;
    if (f->val_len > 16)
        return false;
    for (size_t i = 0; i < f->val_len; i++) {
        if (f->val[i] < '0' || f->val[i] > '9')
            return false;
        v = v * 10 + (unsigned)(f->val[i] - '0');
    }
    return v <= (strcmp(kind, "u32") == 0 ? MAX_U32 : MAX_U64);
}

/* Holds one parsed text message of the daemon to the table; false with
 * why. */
static bool
conforms(const struct jdoc *d, const char *type)
{
    const char *spec = NULL;
    char name[64], kind[16], val[64];
    bool seen[MAX_FIELDS] = { false };

    for (size_t i = 0; i < sizeof from_worker / sizeof from_worker[0]; i++)
        if (strcmp(type, from_worker[i].type) == 0)
            spec = from_worker[i].fields;
    if (spec == NULL)
        return failf("the daemon sent a message of type \"%s\", not one a worker sends", type);
    for (int i = 0; i < d->n; i++) {
        const struct jfield *f = &d->f[i];
        bool known = f->key_len == 4 && memcmp(f->key, "type", 4) == 0;
        const char *s = spec;
        int at = 0, used;
        while (!known && sscanf(s, " %63[a-z0-9_]:%15[a-z0-9?]%n", name, kind, &used) == 2) {
            s += used;
            if (strlen(name) == f->key_len && memcmp(name, f->key, f->key_len) == 0) {
                size_t k = strlen(kind);
                if (kind[k - 1] == '?')
                    kind[k - 1] = '\0';
                if (!kind_ok(f, kind))
                    return failf("the daemon's %s has %s = %.*s, not a %s", type, name,
                                 (int)(f->val_len > 80 ? 80 : f->val_len), f->val, kind);
                seen[at] = true;
                known = true;
            }
            at++;
        }
        if (!known)
            return failf("the daemon's %s has a field \"%.*s\" the document does not list",
                         type, (int)(f->key_len > 40 ? 40 : f->key_len), f->key);
    }
    const char *s = spec;
    int used;
    for (int at = 0; sscanf(s, " %63[a-z0-9_]:%15[a-z0-9?]%n", name, kind, &used) == 2; at++) {
        s += used;
        if (!seen[at] && kind[strlen(kind) - 1] != '?')
            return failf("the daemon's %s lacks its required field %s", type, name);
    }
    if (strcmp(type, "error") == 0 && !in_list(j_str(d, "code", val, sizeof val), error_codes))
        return failf("the daemon's error has code \"%s\", not one in the document", val);
    if (strcmp(type, "result") == 0 &&
        !in_list(j_str(d, "state", val, sizeof val), result_states))
        return failf("the daemon's result has state \"%s\", not one in the document", val);
    return true;
}

/* ---- connections: plain or TLS, non-blocking, with a receive buffer ---- */

struct conn {
    int fd;
    SSL *ssl;
    struct buf rx;          /* bytes from rx_off on are read and not parsed */
    size_t rx_off;
    bool eof;               /* the daemon closed TCP (FIN) */
    bool reset;             /* ... or reset it */
    bool close_sent;
    bool tx_broken;         /* a frame was left half-written: send nothing more */
    int close_code;         /* of the daemon's close frame; -1 none yet, 0 none given */
};

enum io { IO_OK, IO_AGAIN, IO_EOF, IO_ERR };

static void
conn_init(struct conn *c)
{
    *c = (struct conn){ .fd = -1, .close_code = -1 };
}

static void
conn_free(struct conn *c)
{
    if (c->ssl != NULL)
        SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    buf_free(&c->rx);
    conn_init(c);
}

static const char *
tls_error(void)
{
    unsigned long e = ERR_get_error();

    return e == 0 ? "no detail" : ERR_error_string(e, NULL);
}

/* Reads what is there into rx. IO_AGAIN sets *events to wait for. */
static enum io
io_recv(struct conn *c, short *events)
{
    const size_t room = 65536;
    unsigned char *dst;

    if (c->rx_off > 0 && c->rx_off == c->rx.len) {
        c->rx.len = c->rx_off = 0;
    } else if (c->rx_off > (1u << 20)) {
        memmove(c->rx.p, c->rx.p + c->rx_off, c->rx.len - c->rx_off);
        c->rx.len -= c->rx_off;
        c->rx_off = 0;
    }
    if (c->rx.len - c->rx_off > RX_MAX) {
        failf("the daemon sent over %zu bytes we could not make sense of", RX_MAX);
        return IO_ERR;
    }
    buf_reserve(&c->rx, room);
    dst = c->rx.p + c->rx.len;
    if (c->ssl != NULL) {
        ERR_clear_error();
        int n = SSL_read(c->ssl, dst, (int)room);
        if (n > 0) {
            c->rx.len += (size_t)n;
            return IO_OK;
        }
        switch (SSL_get_error(c->ssl, n)) {
        case SSL_ERROR_WANT_READ:
            *events = POLLIN;
            return IO_AGAIN;
        case SSL_ERROR_WANT_WRITE:
            *events = POLLOUT;
            return IO_AGAIN;
        case SSL_ERROR_ZERO_RETURN:
            c->eof = true;
            return IO_EOF;
        case SSL_ERROR_SYSCALL:
            if (errno == 0 || errno == ECONNRESET || errno == EPIPE) {
                c->eof = errno == 0;
                c->reset = errno != 0;
                return IO_EOF;
            }
            failf("TLS read: %s", strerror(errno));
            return IO_ERR;
        default:
            failf("TLS read: %s", tls_error());
            return IO_ERR;
        }
    }
    ssize_t n = recv(c->fd, dst, room, 0);
    if (n > 0) {
        c->rx.len += (size_t)n;
        return IO_OK;
    }
    if (n == 0) {
        c->eof = true;
        return IO_EOF;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        *events = POLLIN;
        return IO_AGAIN;
    }
    if (errno == ECONNRESET) {
        c->reset = true;
        return IO_EOF;
    }
    failf("recv: %s", strerror(errno));
    return IO_ERR;
}

/* Writes some of data; IO_EOF when the daemon is gone (EPIPE, reset). */
static enum io
io_send(struct conn *c, const unsigned char *data, size_t n, size_t *sent, short *events)
{
    if (n > 65536)
        n = 65536;
    if (c->ssl != NULL) {
        ERR_clear_error();
        int k = SSL_write(c->ssl, data, (int)n);
        if (k > 0) {
            *sent = (size_t)k;
            return IO_OK;
        }
        switch (SSL_get_error(c->ssl, k)) {
        case SSL_ERROR_WANT_READ:
            *events = POLLIN;
            return IO_AGAIN;
        case SSL_ERROR_WANT_WRITE:
            *events = POLLOUT;
            return IO_AGAIN;
        case SSL_ERROR_SYSCALL:
            if (errno == EPIPE || errno == ECONNRESET || errno == 0)
                return IO_EOF;
            failf("TLS write: %s", strerror(errno));
            return IO_ERR;
        default:
            failf("TLS write: %s", tls_error());
            return IO_ERR;
        }
    }
    ssize_t k = send(c->fd, data, n, MSG_NOSIGNAL);
    if (k >= 0) {
        *sent = (size_t)k;
        return IO_OK;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        *events = POLLOUT;
        return IO_AGAIN;
    }
    if (errno == EPIPE || errno == ECONNRESET)
        return IO_EOF;
    failf("send: %s", strerror(errno));
    return IO_ERR;
}

/* 1 ready, 0 deadline passed. */
static int
wait_fd(int fd, short events, int64_t deadline, short *revents)
{
    struct pollfd p = { .fd = fd, .events = events };
    int n;

    do
        n = poll(&p, 1, left_ms(deadline));
    while (n < 0 && errno == EINTR && left_ms(deadline) > 0);
    if (revents != NULL)
        *revents = n > 0 ? p.revents : 0;
    return n > 0;
}

/* Until rx holds need unparsed bytes. IO_AGAIN: the deadline passed. */
static enum io
fill(struct conn *c, size_t need, int64_t deadline)
{
    while (c->rx.len - c->rx_off < need) {
        short ev = POLLIN;
        enum io r = io_recv(c, &ev);
        if (r == IO_OK)
            continue;
        if (r != IO_AGAIN)
            return r;
        if (!wait_fd(c->fd, ev, deadline, NULL))
            return IO_AGAIN;
    }
    return IO_OK;
}

/* ---- frames ---- */

struct hdr {
    bool fin, masked;
    int rsv, op;
    uint64_t len;
    size_t size;            /* of the header itself */
};

/* 0: n bytes do not hold a whole header yet; 1: *h filled. */
static int
parse_hdr(const unsigned char *p, size_t n, struct hdr *h)
{
    uint64_t len;
    size_t size = 2;

    if (n < 2)
        return 0;
    h->fin = (p[0] & 0x80) != 0;
    h->rsv = (p[0] >> 4) & 7;
    h->op = p[0] & 15;
    h->masked = (p[1] & 0x80) != 0;
    len = p[1] & 127;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        size = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 2; i < 10; i++)
            len = len << 8 | p[i];
        size = 10;
    }
    if (h->masked)
        size += 4;
    if (n < size)
        return 0;
    h->len = len;
    h->size = size;
    return 1;
}

/* Whether rx already holds a whole close frame from the daemon. */
static bool
rx_holds_close(const struct conn *c)
{
    size_t at = c->rx_off;
    struct hdr h;

    for (size_t i = 0; i < MAX_STEPS && parse_hdr(c->rx.p + at, c->rx.len - at, &h) == 1; i++) {
        if (h.len > c->rx.len - at - h.size)
            return false;
        if (h.op == OP_CLOSE)
            return true;
        at += h.size + h.len;
    }
    return false;
}

/* -v: one line per frame, its payload cut to 160 printable bytes. */
static void
trace(const char *dir, int op, bool fin, const unsigned char *p, size_t n, size_t claim)
{
    char shown[161];
    size_t k = 0;

    if (!opt.verbose)
        return;
    for (; k < n && k < 160; k++)
        shown[k] = p[k] >= 0x20 && p[k] < 0x7f ? (char)p[k] : '.';
    shown[k] = '\0';
    fprintf(stderr, "wsraw: %s op %d%s %zu bytes%s: %s\n", dir, op, fin ? "" : " (not fin)", claim,
            claim != n ? " (cut short)" : "", shown);
}

enum tx { TX_OK, TX_GONE, TX_TIMEOUT, TX_ERR };

/* Writes n bytes. With pump, reads what the daemon says meanwhile into rx
 * (a daemon that answers a huge frame before reading it all must not
 * deadlock against us), and gives up with TX_GONE once a whole close frame
 * has come. TX_GONE also for EPIPE/ECONNRESET. */
static enum tx
send_raw(struct conn *c, const unsigned char *p, size_t n, int64_t deadline, bool pump)
{
    size_t off = 0;

    while (off < n) {
        size_t sent = 0;
        short ev = POLLOUT, rev = 0;
        if (pump && rx_holds_close(c))
            return TX_GONE;
        enum io r = io_send(c, p + off, n - off, &sent, &ev);
        if (r == IO_OK) {
            off += sent;
            continue;
        }
        if (r == IO_EOF)
            return TX_GONE;
        if (r == IO_ERR)
            return TX_ERR;
        if (!wait_fd(c->fd, (short)(ev | (pump ? POLLIN : 0)), deadline, &rev))
            return TX_TIMEOUT;
        if (pump && (rev & (POLLIN | POLLHUP | POLLERR)) != 0) {
            short rev2 = POLLIN;
            enum io rr = io_recv(c, &rev2);
            if (rr == IO_EOF)
                return TX_GONE;
            if (rr == IO_ERR)
                return TX_ERR;
        }
    }
    return TX_OK;
}

/* Sends a masked frame whose header claims `claim` bytes and whose
 * payload is the first len of them (len < claim: a truncated frame). */
static enum tx
send_frame(struct conn *c, bool fin, int op, const void *data, size_t len, size_t claim,
           bool pump)
{
    const unsigned char *p = data;
    unsigned char h[14], mask[4], chunk[65536];
    size_t hn = 0;
    int64_t deadline = now_ms() + SEND_TIMEOUT_MS;
    enum tx r;

    if (c->tx_broken)
        return TX_GONE;
    trace(">>", op, fin, p, len, claim);
    h[hn++] = (unsigned char)((fin ? 0x80 : 0) | op);
    if (claim < 126) {
        h[hn++] = (unsigned char)(0x80 | claim);
    } else if (claim <= 0xffff) {
        h[hn++] = 0x80 | 126;
        h[hn++] = (unsigned char)(claim >> 8);
        h[hn++] = (unsigned char)claim;
    } else {
        h[hn++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[hn++] = (unsigned char)((uint64_t)claim >> (8 * i));
    }
    if (RAND_bytes(mask, sizeof mask) != 1)
        memcpy(mask, "\x5a\xa5\x3c\xc3", 4);
    memcpy(h + hn, mask, 4);
    hn += 4;
    r = send_raw(c, h, hn, deadline, pump);
    for (size_t off = 0; r == TX_OK && off < len;) {
        size_t k = len - off < sizeof chunk ? len - off : sizeof chunk;
        for (size_t i = 0; i < k; i++)
            chunk[i] = p[off + i] ^ mask[(off + i) & 3];
        r = send_raw(c, chunk, k, deadline, pump);
        off += k;
    }
    if (r == TX_TIMEOUT)
        failf("sending a frame of %zu bytes took over %d s", len, SEND_TIMEOUT_MS / 1000);
    /* Half a frame on the wire (or half a TLS record pending) makes
     * anything sent after it garbage. */
    if (r != TX_OK)
        c->tx_broken = true;
    return r;
}

static bool
send_text(struct conn *c, const struct buf *b)
{
    enum tx r = send_frame(c, true, OP_TEXT, b->p, b->len, b->len, false);

    return r == TX_OK || failf("the daemon went away while we sent %.60s", b->p);
}

static void
send_close(struct conn *c, int code)
{
    unsigned char p[2] = { (unsigned char)(code >> 8), (unsigned char)code };

    if (c->close_sent)
        return;
    c->close_sent = true;
    send_frame(c, true, OP_CLOSE, p, code > 0 ? 2 : 0, code > 0 ? 2 : 0, false);
}

/* One message from the daemon. */
struct msg {
    int op;                 /* OP_TEXT, OP_BINARY, OP_CLOSE */
    unsigned char *data;    /* malloc'd, NUL-terminated; the close reason for a close */
    size_t len;
    int close_code;
    struct jdoc doc;        /* text only */
    char type[32];          /* text only */
};

static void
msg_free(struct msg *m)
{
    free(m->data);
    m->data = NULL;
}

enum rx { RX_MSG, RX_EOF, RX_TIMEOUT, RX_ERR };

static enum rx
io_to_rx(enum io r)
{
    return r == IO_AGAIN ? RX_TIMEOUT : r == IO_EOF ? RX_EOF : RX_ERR;
}

/* Every binary frame of the daemon against "Binary frames": the header,
 * and each stream's sequence numbers 0, 1, 2 ... The payloads of stdout
 * chunks are kept in `captured`. */
struct stream {
    uint64_t id;
    uint32_t attempt;
    int kind;
    uint32_t next;
    bool ended;
};
static struct stream streams[64];
static size_t nstreams;
static struct buf captured;

static bool
check_chunk(const unsigned char *p, size_t n)
{
    uint64_t id = 0;
    uint32_t attempt = 0, seq = 0;
    size_t i;

    if (n < 24)
        return failf("the daemon sent a binary frame of %zu bytes, short of its header", n);
    if (memcmp(p, "RPB1", 4) != 0 || p[4] < 1 || p[4] > 5 || (p[5] & ~1) != 0 || p[6] != 0 ||
        p[7] != 0)
        return failf("the daemon sent a binary frame with a bad header (kind %d, flags %d)",
                     p[4], p[5]);
    for (int k = 0; k < 8; k++)
        id = id << 8 | p[8 + k];
    for (int k = 0; k < 4; k++) {
        attempt = attempt << 8 | p[16 + k];
        seq = seq << 8 | p[20 + k];
    }
    for (i = 0; i < nstreams; i++)
        if (streams[i].id == id && streams[i].attempt == attempt && streams[i].kind == p[4])
            break;
    if (i == nstreams) {
        if (nstreams == sizeof streams / sizeof streams[0])
            return failf("the daemon opened over %zu chunk streams", nstreams);
        streams[nstreams++] = (struct stream){ .id = id, .attempt = attempt, .kind = p[4] };
    }
    if (streams[i].ended || seq != streams[i].next)
        return failf("the daemon's chunk of kind %d for %llu/%u has sequence %u, want %u%s",
                     p[4], (unsigned long long)id, attempt, seq, streams[i].next,
                     streams[i].ended ? " (after the last one)" : "");
    streams[i].next++;
    streams[i].ended = (p[5] & 1) != 0;
    if (p[4] == 2)
        buf_add(&captured, p + 24, n - 24);
    return true;
}

/* Reads one whole message (reassembling fragments), answering pings and
 * dropping pongs on the way; a text message is checked against the
 * document (RX_ERR with why when it breaks it). */
static enum rx
read_msg(struct conn *c, struct msg *m, int64_t deadline)
{
    struct buf acc = { 0 };
    int acc_op = -1;
    enum io r;

    memset(m, 0, sizeof *m);
    m->close_code = -1;
    for (size_t step = 0; step < MAX_STEPS; step++) {
        struct hdr h;
        while (parse_hdr(c->rx.p + c->rx_off, c->rx.len - c->rx_off, &h) == 0)
            if ((r = fill(c, c->rx.len - c->rx_off + 1, deadline)) != IO_OK)
                goto io_fail;
        if (h.rsv != 0 || h.masked) {
            failf("the daemon sent a frame with %s (RFC 6455 5.1, 5.2)",
                  h.masked ? "a mask" : "RSV bits set");
            goto fail;
        }
        if (h.op >= 8 && (h.len > 125 || !h.fin)) {
            failf("the daemon sent a control frame (opcode %d) %s", h.op,
                  h.fin ? "over 125 bytes" : "fragmented");
            goto fail;
        }
        if (h.len > RX_MAX) {
            failf("the daemon sent a frame of %llu bytes", (unsigned long long)h.len);
            goto fail;
        }
        if ((r = fill(c, h.size + h.len, deadline)) != IO_OK)
            goto io_fail;
        const unsigned char *p = c->rx.p + c->rx_off + h.size;
        size_t n = (size_t)h.len;
        trace("<<", h.op, h.fin, p, n, n);
        switch (h.op) {
        case OP_PING: {
            unsigned char copy[125];
            memcpy(copy, p, n);
            c->rx_off += h.size + n;
            send_frame(c, true, OP_PONG, copy, n, n, false);
            continue;
        }
        case OP_PONG:
            c->rx_off += h.size + n;
            continue;
        case OP_CLOSE:
            if (n == 1) {
                failf("the daemon sent a close frame of 1 byte");
                goto fail;
            }
            m->op = OP_CLOSE;
            m->close_code = n >= 2 ? p[0] << 8 | p[1] : 0;
            m->data = xrealloc(NULL, n + 1);
            if (n > 2)
                memcpy(m->data, p + 2, n - 2);
            m->len = n > 2 ? n - 2 : 0;
            m->data[m->len] = '\0';
            c->rx_off += h.size + n;
            if (c->close_code == -1)
                c->close_code = m->close_code;
            buf_free(&acc);
            return RX_MSG;
        case OP_TEXT:
        case OP_BINARY:
            if (acc_op != -1) {
                failf("the daemon began a message inside a fragmented one");
                goto fail;
            }
            acc_op = h.op;
            buf_add(&acc, p, n);
            break;
        case OP_CONT:
            if (acc_op == -1) {
                failf("the daemon sent a continuation frame with nothing to continue");
                goto fail;
            }
            buf_add(&acc, p, n);
            break;
        default:
            failf("the daemon sent a frame with opcode %d", h.op);
            goto fail;
        }
        c->rx_off += h.size + n;
        if (!h.fin)
            continue;
        if (acc.p == NULL)
            buf_add(&acc, "", 0);
        m->op = acc_op;
        m->data = acc.p;
        m->len = acc.len;
        if (m->op == OP_TEXT) {
            if (!utf8_valid(m->data, m->len)) {
                failf("the daemon sent a text frame that is not UTF-8");
                goto fail_msg;
            }
            if (!json_object((const char *)m->data, m->len, &m->doc)) {
                failf("the daemon sent text that is not a strict JSON object (%s): %.200s",
                      m->doc.err, m->data);
                goto fail_msg;
            }
            if (!j_get(&m->doc, "type") || j_get(&m->doc, "type")->val[0] != '"') {
                failf("the daemon sent a message without a type: %.200s", m->data);
                goto fail_msg;
            }
            j_str(&m->doc, "type", m->type, sizeof m->type);
            if (!conforms(&m->doc, m->type)) {
                fprintf(stderr, "wsraw: the message: %.300s\n", m->data);
                goto fail_msg;
            }
            if (strcmp(m->type, "load") == 0)
                loads_seen++;
        } else if (!check_chunk(m->data, m->len)) {
            goto fail_msg;
        }
        return RX_MSG;
    }
    failf("the daemon sent over %d frames without ending a message", MAX_STEPS);
fail:
    buf_free(&acc);
    return RX_ERR;
fail_msg:
    msg_free(m);
    return RX_ERR;
io_fail:
    buf_free(&acc);
    if (r == IO_EOF && acc_op != -1)
        failf("the daemon closed the connection inside a fragmented message");
    return io_to_rx(r);
}

/* ---- the handshake ---- */

static bool
tcp_connect(struct conn *c, int64_t deadline)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    char last[256] = "no address";
    int e, one = 1;

    if ((e = getaddrinfo(opt.host, opt.port, &hints, &res)) != 0)
        return failf("%s: %s", opt.hostport, gai_strerror(e));
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        a->ai_protocol);
        int err = 0;
        socklen_t len = sizeof err;
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            if (errno != EINPROGRESS || !wait_fd(fd, POLLOUT, deadline, NULL) ||
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
                snprintf(last, sizeof last, "%s", err != 0 ? strerror(err)
                         : errno != EINPROGRESS ? strerror(errno) : "timed out");
                close(fd);
                continue;
            }
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        break;
    }
    freeaddrinfo(res);
    if (c->fd < 0)
        return failf("connect to %s: %s", opt.hostport, last);
    return true;
}

static bool
tls_connect(struct conn *c, int64_t deadline)
{
    struct in6_addr scratch;
    bool is_ip = inet_pton(AF_INET, opt.host, &scratch) == 1 ||
                 inet_pton(AF_INET6, opt.host, &scratch) == 1;

    c->ssl = SSL_new(opt.ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
        return failf("TLS: %s", tls_error());
    if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), opt.host);
    } else {
        SSL_set_tlsext_host_name(c->ssl, opt.host);
        SSL_set1_host(c->ssl, opt.host);
    }
    for (int i = 0; i < 10000; i++) {
        ERR_clear_error();
        int r = SSL_connect(c->ssl);
        if (r == 1)
            return true;
        int e = SSL_get_error(c->ssl, r);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (ev == 0) {
            long v = SSL_get_verify_result(c->ssl);
            return failf("TLS handshake: %s%s%s", tls_error(), v != X509_V_OK ? "; " : "",
                         v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
        }
        if (!wait_fd(c->fd, ev, deadline, NULL))
            return failf("TLS handshake: timed out");
    }
    return failf("TLS handshake: no end");
}

static bool
base64(const unsigned char *in, size_t n, char *out, size_t size)
{
    if (size < 4 * ((n + 2) / 3) + 1)
        return false;
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return true;
}

/* The value of header name in an HTTP response head, trimmed; NULL if
 * absent. Writes into out. */
static const char *
http_header(const char *head, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);

    for (const char *line = strstr(head, "\r\n"); line != NULL && line[2] != '\0';
         line = strstr(line + 2, "\r\n")) {
        const char *s = line + 2, *e = strstr(s, "\r\n");
        if (e == NULL || strncasecmp(s, name, n) != 0 || s[n] != ':')
            continue;
        s += n + 1;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        size_t k = (size_t)(e - s) < size - 1 ? (size_t)(e - s) : size - 1;
        memcpy(out, s, k);
        out[k] = '\0';
        return out;
    }
    return NULL;
}

/* Whether a comma-separated header value lists token (any case). */
static bool
has_token(const char *list, const char *token)
{
    size_t n = strlen(token);

    for (const char *s = list; *s != '\0'; s += strcspn(s, ",") + (s[strcspn(s, ",")] != '\0')) {
        s += strspn(s, " \t");
        size_t k = strcspn(s, ",");
        while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'))
            k--;
        if (k == n && strncasecmp(s, token, n) == 0)
            return true;
        if (s[strcspn(s, ",")] == '\0')
            break;
    }
    return false;
}

/* TCP, TLS when asked, then the RFC 6455 opening handshake with our
 * subprotocol; bytes after the response head stay in rx. */
static bool
ws_open(struct conn *c)
{
    int64_t deadline = now_ms() + TIMEOUT_MS;
    unsigned char nonce[16], digest[EVP_MAX_MD_SIZE];
    unsigned digest_len = 0;
    char key[32], accept[64], cat[128], val[256];
    struct buf req = { 0 };
    char *head, *end = NULL;
    bool ok = false;

    conn_init(c);
    if (!tcp_connect(c, deadline) || (opt.tls && !tls_connect(c, deadline)))
        return false;
    if (RAND_bytes(nonce, sizeof nonce) != 1)
        return failf("RAND_bytes: %s", tls_error());
    base64(nonce, sizeof nonce, key, sizeof key);
    snprintf(cat, sizeof cat, "%s%s", key, WS_GUID);
    if (EVP_Digest(cat, strlen(cat), digest, &digest_len, EVP_sha1(), NULL) != 1)
        return failf("SHA-1: %s", tls_error());
    base64(digest, digest_len, accept, sizeof accept);

    buf_adds(&req, "GET / HTTP/1.1\r\nHost: ");
    buf_adds(&req, opt.hostport);
    buf_adds(&req, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    buf_adds(&req, key);
    buf_adds(&req, "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " SUBPROTOCOL
                   "\r\n\r\n");
    if (send_raw(c, req.p, req.len, deadline, false) != TX_OK) {
        fill(c, 1, now_ms() + 500);     /* a TLS alert says why, when there is one */
        failf("the daemon hung up before our opening handshake was sent");
        goto out;
    }
    while (end == NULL) {
        buf_add(&c->rx, "", 0);     /* NUL-terminates what came, adding nothing */
        end = strstr((char *)c->rx.p, "\r\n\r\n");
        if (end != NULL)
            break;
        if (c->rx.len > 16384) {
            failf("the handshake response head is over 16 KiB");
            goto out;
        }
        enum io r = fill(c, c->rx.len + 1, deadline);
        if (r != IO_OK) {
            failf("no handshake response: %s", r == IO_AGAIN ? "timed out"
                                              : r == IO_EOF ? "the daemon hung up" : why);
            goto out;
        }
    }
    head = (char *)c->rx.p;
    end[2] = '\0';      /* the head ends with its last line's CRLF */
    if (strncmp(head, "HTTP/1.1 101", 12) != 0 || (head[12] != ' ' && head[12] != '\r')) {
        failf("the daemon answered the upgrade with: %.*s", (int)strcspn(head, "\r\n"), head);
        goto out;
    }
    if (http_header(head, "Upgrade", val, sizeof val) == NULL ||
        strcasecmp(val, "websocket") != 0) {
        failf("the 101 response lacks \"Upgrade: websocket\"");
        goto out;
    }
    if (http_header(head, "Connection", val, sizeof val) == NULL ||
        !has_token(val, "upgrade")) {
        failf("the 101 response lacks \"Connection: Upgrade\"");
        goto out;
    }
    if (http_header(head, "Sec-WebSocket-Accept", val, sizeof val) == NULL ||
        strcmp(val, accept) != 0) {
        failf("Sec-WebSocket-Accept is %s, not %s", http_header(head, "Sec-WebSocket-Accept",
              val, sizeof val) ? val : "missing", accept);
        goto out;
    }
    if (http_header(head, "Sec-WebSocket-Protocol", val, sizeof val) == NULL ||
        strcmp(val, SUBPROTOCOL) != 0) {
        failf("the 101 response names subprotocol %s, not " SUBPROTOCOL,
              http_header(head, "Sec-WebSocket-Protocol", val, sizeof val) ? val : "none");
        goto out;
    }
    c->rx_off = (size_t)(end + 4 - head);     /* the rest is frames */
    ok = true;
out:
    buf_free(&req);
    return ok;
}

/* ---- waiting for things ---- */

/* Decides about each text message while waiting: 1 it is the one, 0 skip
 * it, -1 fail (with why). */
typedef int want_fn(const struct msg *m, const void *arg);

/* Reads until want says yes (then *out holds it, to be freed), within
 * TIMEOUT_MS. An error message want does not take, a close, the end of
 * the connection or the deadline fail. */
static bool
await(struct conn *c, want_fn *want, const void *arg, const char *what, struct msg *out)
{
    int64_t deadline = now_ms() + TIMEOUT_MS;
    struct msg m;
    char code[32], text[200];

    for (size_t i = 0; i < MAX_STEPS; i++) {
        switch (read_msg(c, &m, deadline)) {
        case RX_MSG:
            break;
        case RX_EOF:
            return failf("the daemon %s the connection while we waited for %s",
                         c->reset ? "reset" : "closed", what);
        case RX_TIMEOUT:
            return failf("no %s within %d s", what, TIMEOUT_MS / 1000);
        case RX_ERR:
            return false;
        }
        if (m.op == OP_CLOSE) {
            failf("the daemon sent close %d \"%s\" while we waited for %s", m.close_code,
                  m.data, what);
            msg_free(&m);
            return false;
        }
        if (m.op != OP_TEXT) {
            msg_free(&m);
            continue;
        }
        int w = want(&m, arg);
        if (w > 0) {
            *out = m;
            return true;
        }
        if (w == 0 && strcmp(m.type, "error") == 0) {
            failf("the daemon answered error %s%s \"%s\" while we waited for %s",
                  j_str(&m.doc, "code", code, sizeof code),
                  j_is(&m.doc, "fatal", "true") ? " (fatal)" : "",
                  j_str(&m.doc, "message", text, sizeof text), what);
            w = -1;
        }
        msg_free(&m);
        if (w < 0)
            return false;
    }
    return failf("over %d messages without %s", MAX_STEPS, what);
}

static int
want_type(const struct msg *m, const void *arg)
{
    return strcmp(m->type, arg) == 0;
}

static int
want_pong(const struct msg *m, const void *arg)
{
    return strcmp(m->type, "pong") == 0 && j_is(&m->doc, "t", arg);
}

/* A result or an error about task arg (a decimal string). */
static int
want_task(const struct msg *m, const void *arg)
{
    if (strcmp(m->type, "result") != 0 && strcmp(m->type, "error") != 0)
        return 0;
    if (!j_is(&m->doc, "task", arg))
        return 0;
    return 1;
}

/* hello, then the welcome. On an error answer, *code (if given) gets its
 * code. */
static bool
hello(struct conn *c, const char *tmpl, char *code, size_t code_size)
{
    struct buf b = { 0 };
    struct msg m;
    char node[300];
    bool ok;

    if (code != NULL)
        code[0] = '\0';
    expand(&b, tmpl);
    ok = send_text(c, &b);
    buf_free(&b);
    if (!ok)
        return false;
    if (!await(c, want_type, "welcome", "the welcome", &m)) {
        if (code != NULL && strncmp(why, "the daemon answered error ", 26) == 0)
            snprintf(code, code_size, "%.*s", (int)strcspn(why + 26, " "), why + 26);
        return false;
    }
    ok = j_is(&m.doc, "proto", "1") ||
         failf("the welcome names protocol %.*s, not 1", (int)j_get(&m.doc, "proto")->val_len,
               j_get(&m.doc, "proto")->val);
    if (ok && strcmp(j_str(&m.doc, "node", node, sizeof node), "") == 0)
        ok = failf("the welcome's node is empty");
    msg_free(&m);
    return ok;
}

static bool
ping_pong(struct conn *c, const char *t)
{
    struct buf b = { 0 };
    struct msg m;
    bool ok;

    buf_adds(&b, "{\"type\":\"ping\",\"t\":");
    buf_adds(&b, t);
    buf_adds(&b, "}");
    ok = send_text(c, &b) && await(c, want_pong, t, "the pong", &m);
    buf_free(&b);
    if (ok)
        msg_free(&m);
    return ok;
}

/* Our close 1000, then the daemon's close and the end of TCP. */
static bool
close_clean(struct conn *c)
{
    int64_t deadline = now_ms() + TIMEOUT_MS;
    struct msg m;

    send_close(c, 1000);
    for (size_t i = 0; i < MAX_STEPS; i++) {
        switch (read_msg(c, &m, deadline)) {
        case RX_MSG:
            msg_free(&m);
            continue;
        case RX_EOF:
            if (c->close_code == -1)
                return failf("the daemon dropped the connection without answering our close");
            note("closed %d", c->close_code);
            return true;
        case RX_TIMEOUT:
            return failf("the daemon %s within %d s of our close",
                         c->close_code == -1 ? "sent no close frame" : "kept TCP open",
                         TIMEOUT_MS / 1000);
        case RX_ERR:
            return false;
        }
    }
    return failf("no end after our close");
}

/* ---- how a connection that broke the protocol must end ---- */

struct ending {
    bool error, fatal, welcome, data_after_close, bad;
    int errors;
    char code[32], message[160];
    int close;                      /* -1 none */
    bool closed, reset, timeout;
};

/* Reads to the end: the error, the close (answered with ours) and the end
 * of TCP. */
static void
observe_end(struct conn *c, struct ending *e)
{
    int64_t deadline = now_ms() + TIMEOUT_MS;
    struct msg m;

    *e = (struct ending){ .close = -1 };
    for (size_t i = 0; i < MAX_STEPS; i++) {
        switch (read_msg(c, &m, deadline)) {
        case RX_MSG:
            break;
        case RX_EOF:
            e->closed = true;
            e->reset = c->reset;
            return;
        case RX_TIMEOUT:
            e->timeout = true;
            return;
        case RX_ERR:
            e->bad = true;
            return;
        }
        if (m.op == OP_CLOSE) {
            if (e->close == -1) {
                e->close = m.close_code;
                /* echo it (RFC 6455 5.5.1), unless it may not be sent */
                send_close(c, m.close_code >= 1000 && m.close_code != 1005 &&
                              m.close_code != 1006 && m.close_code != 1015 ? m.close_code : 0);
                /* the daemon now has what it needs to hang up: be brisk */
                deadline = now_ms() + TIMEOUT_MS;
            }
        } else if (e->close != -1) {
            e->data_after_close = true;
        } else if (m.op == OP_TEXT && strcmp(m.type, "error") == 0) {
            if (e->errors++ == 0) {
                e->error = true;
                e->fatal = j_is(&m.doc, "fatal", "true");
                j_str(&m.doc, "code", e->code, sizeof e->code);
                j_str(&m.doc, "message", e->message, sizeof e->message);
            }
        } else if (m.op == OP_TEXT && strcmp(m.type, "welcome") == 0) {
            e->welcome = true;      /* the verdict is in: no need to wait */
            msg_free(&m);
            return;
        }
        msg_free(&m);
    }
    e->bad = true;
    failf("over %d messages and no end", MAX_STEPS);
}

/* Notes what happened and judges it against code and close. */
static bool
judge(const struct ending *e, const char *code, int close_code, bool error_optional)
{
    if (e->error)
        note("error %s%s \"%s\"", e->code, e->fatal ? " fatal" : " NOT fatal", e->message);
    else
        note("no error message");
    if (e->welcome)
        note("a welcome");
    if (e->errors > 1)
        note("%d error messages", e->errors);
    if (e->close >= 0)
        note("close %d", e->close);
    else
        note("no close frame");
    if (!e->welcome)
        note("%s", e->closed ? (e->reset ? "TCP reset" : "TCP closed")
                             : e->timeout ? "TCP still open after 5 s" : "read failed");
    if (e->bad)
        return false;
    if (e->welcome)
        return failf("the daemon welcomed a connection that broke the protocol");
    if (!e->error && !error_optional)
        return failf("no error message before the close (want error %s, fatal)", code);
    if (e->error && strcmp(e->code, code) != 0)
        return failf("error code %s, want %s", e->code, code);
    if (e->error && !e->fatal)
        return failf("the error is not fatal");
    if (e->data_after_close)
        return failf("the daemon sent data after its close frame");
    if (e->close != close_code)
        return failf(e->close < 0 ? "no close frame (want %d)" : "close code %d, want %d",
                     e->close < 0 ? close_code : e->close, close_code);
    if (!e->closed)
        return failf("the daemon did not close TCP within %d s of the close handshake",
                     TIMEOUT_MS / 1000);
    return true;
}

/* ---- the cases ---- */

struct wcase;
typedef bool run_fn(const struct wcase *w);
typedef void build_fn(struct buf *b);

struct wcase {
    const char *name;
    const char *what;               /* for --help */
    run_fn *run;
    /* for run_bad: the frame, sent before hello unless after_hello */
    bool after_hello;
    int op;
    const char *tmpl;               /* expanded with $N $T, or: */
    build_fn *build;
    const char *code;
    int close;
    bool error_optional;            /* an oversized frame may be cut off first */
    bool needs_token;
    bool needs_cert;                /* --tls --cert --key */
};

static bool
run_bad(const struct wcase *w)
{
    struct conn c;
    struct buf b = { 0 };
    struct ending e;
    bool ok = false;

    if (!ws_open(&c))
        goto out;
    if (w->after_hello && !hello(&c, HELLO, NULL, 0))
        goto out;
    if (w->build != NULL)
        w->build(&b);
    else
        expand(&b, w->tmpl);
    /* pump: the daemon may answer before it has read it all */
    if (send_frame(&c, true, w->op, b.p, b.len, b.len, true) == TX_ERR)
        goto out;
    observe_end(&c, &e);
    ok = judge(&e, w->code, w->close, w->error_optional);
out:
    buf_free(&b);
    conn_free(&c);
    return ok;
}

static bool
run_good(const struct wcase *w)
{
    struct conn c;
    struct buf b = { 0 };
    struct msg m = { 0 };
    char state[32], text[200];
    bool ok = false;

    (void)w;
    if (!ws_open(&c) || !hello(&c, HELLO, NULL, 0))
        goto out;
    note("welcome");
    if (!ping_pong(&c, "7"))
        goto out;
    note("pong 7");
    buf_adds(&b, SUBMIT_NOOP("1"));
    if (!send_text(&c, &b) || !await(&c, want_task, "1", "the result of task 1", &m))
        goto out;
    if (strcmp(m.type, "result") != 0) {
        failf("task 1: error %s \"%s\"", j_str(&m.doc, "code", state, sizeof state),
              j_str(&m.doc, "message", text, sizeof text));
        goto out;
    }
    if (!j_is(&m.doc, "attempt", "1") ||
        strcmp(j_str(&m.doc, "state", state, sizeof state), "succeeded") != 0) {
        failf("task 1 ended %s (error \"%s\"): %.200s", state,
              j_str(&m.doc, "error", text, sizeof text), m.data);
        goto out;
    }
    note("result succeeded");
    ok = close_clean(&c);
out:
    msg_free(&m);
    buf_free(&b);
    conn_free(&c);
    return ok;
}

/* Opens a connection that says hello with tmpl and must be welcomed, then
 * proves it alive with a ping. */
static bool
run_welcomed(const char *tmpl)
{
    struct conn c;
    bool ok;

    ok = ws_open(&c) && hello(&c, tmpl, NULL, 0) && ping_pong(&c, "5");
    if (ok)
        note("welcome, pong 5");
    ok = ok && close_clean(&c);
    conn_free(&c);
    return ok;
}

static void
build_node_255(struct buf *b)
{
    char node[256];

    memset(node, 'n', 255);
    node[255] = '\0';
    buf_adds(b, "{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,\"node\":\"");
    buf_adds(b, node);
    expand(b, "\"$T}");
}

static bool
run_node_255(const struct wcase *w)
{
    struct buf b = { 0 };
    bool ok;

    (void)w;
    build_node_255(&b);
    ok = run_welcomed((const char *)b.p);
    buf_free(&b);
    return ok;
}

static void
build_long_node(struct buf *b)
{
    buf_adds(b, "{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,\"node\":\"");
    buf_fill(b, 'n', 300);
    expand(b, "\"$T}");
}

/* A submit whose message nests `depth` levels (the message itself is 1,
 * its spec 2). */
static void
build_deep(struct buf *b, int depth, const char *task)
{
    buf_adds(b, "{\"type\":\"submit\",\"task\":");
    buf_adds(b, task);
    buf_adds(b, ",\"attempt\":1,\"job\":1,\"shard\":0,\"total_shards\":1,"
                "\"spec\":{\"kind\":\"noop\"");
    for (int i = 2; i < depth; i++)
        buf_adds(b, ",\"x\":{\"y\":1");
    for (int i = 2; i < depth; i++)
        buf_adds(b, "}");
    buf_adds(b, "}}");
}

static void
build_too_deep(struct buf *b)
{
    build_deep(b, 9, "2");
}

/* Depth 8 is the limit, not over it: the connection must go on (the task
 * itself may fail, since its spec has a field noop does not know). */
static bool
run_deep_ok(const struct wcase *w)
{
    struct conn c;
    struct buf b = { 0 };
    struct msg m = { 0 };
    char state[32];
    bool ok = false;

    (void)w;
    if (!ws_open(&c) || !hello(&c, HELLO, NULL, 0))
        goto out;
    build_deep(&b, 8, "3");
    if (!send_text(&c, &b) || !await(&c, want_task, "3", "an answer about task 3", &m))
        goto out;
    if (strcmp(m.type, "error") == 0 && j_is(&m.doc, "fatal", "true")) {
        failf("a message nested 8 deep got a fatal error %s: %.200s",
              j_str(&m.doc, "code", state, sizeof state), m.data);
        goto out;
    }
    if (strcmp(m.type, "result") == 0)
        note("result %s", j_str(&m.doc, "state", state, sizeof state));
    else
        note("error %s (not fatal)", j_str(&m.doc, "code", state, sizeof state));
    if (!ping_pong(&c, "8"))
        goto out;
    note("pong 8");
    ok = close_clean(&c);
out:
    msg_free(&m);
    buf_free(&b);
    conn_free(&c);
    return ok;
}

/* One binary frame's 24-byte header (docs/protocol.md, "Binary frames"). */
static void
chunk_header(struct buf *b, const char *magic, int kind, int flags, int reserved,
             uint64_t id, uint32_t attempt, uint32_t seq)
{
    unsigned char h[24];

    memcpy(h, magic, 4);
    h[4] = (unsigned char)kind;
    h[5] = (unsigned char)flags;
    h[6] = (unsigned char)(reserved >> 8);
    h[7] = (unsigned char)reserved;
    for (int i = 0; i < 8; i++)
        h[8 + i] = (unsigned char)(id >> (56 - 8 * i));
    for (int i = 0; i < 4; i++) {
        h[16 + i] = (unsigned char)(attempt >> (24 - 8 * i));
        h[20 + i] = (unsigned char)(seq >> (24 - 8 * i));
    }
    buf_add(b, h, sizeof h);
}

/* A submit of task 4: a noop whose spec holds `extra` (after "kind"), and
 * `files` entries made of count copies of entry (none when count is 0). */
static void
build_submit(struct buf *b, const struct buf *extra, int count, const char *entry)
{
    buf_adds(b, "{\"type\":\"submit\",\"task\":4,\"attempt\":1,\"job\":1,\"shard\":0,"
                "\"total_shards\":1,\"spec\":{\"v\":1,\"kind\":\"noop\"");
    if (extra != NULL)
        buf_add(b, extra->p, extra->len);
    buf_adds(b, "}");
    if (count > 0) {
        buf_adds(b, ",\"files\":[");
        for (int i = 0; i < count; i++) {
            buf_adds(b, i > 0 ? "," : "");
            buf_adds(b, entry);
        }
        buf_adds(b, "]");
    }
    buf_adds(b, "}");
}

/* ,"NAME":["x",...] with n entries. */
static void
spec_list(struct buf *b, const char *name, int n)
{
    buf_adds(b, ",\"");
    buf_adds(b, name);
    buf_adds(b, "\":[");
    for (int i = 0; i < n; i++)
        buf_adds(b, i > 0 ? ",\"x\"" : "\"x\"");
    buf_adds(b, "]");
}

static void
spec_string(struct buf *b, size_t n)
{
    buf_adds(b, ",\"name\":\"");
    buf_fill(b, 's', n);
    buf_adds(b, "\"");
}

static void
build_spec(struct buf *b, const char *list, int n, size_t string)
{
    struct buf extra = { 0 };

    if (list != NULL)
        spec_list(&extra, list, n);
    if (string > 0)
        spec_string(&extra, string);
    build_submit(b, &extra, 0, NULL);
    buf_free(&extra);
}

static void build_argv_over(struct buf *b) { build_spec(b, "argv", 4097, 0); }
static void build_env_over(struct buf *b) { build_spec(b, "env", 4097, 0); }
static void build_deps_over(struct buf *b) { build_spec(b, "data_deps", 1025, 0); }
static void build_string_over(struct buf *b) { build_spec(b, NULL, 0, (64 << 10) + 1); }

#define FILE_SHA "\"sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\""
#define FILE_OK "{\"name\":\"a\"," FILE_SHA ",\"size\":0,\"mode\":420}"

static void build_files_over(struct buf *b) { build_submit(b, NULL, 257, FILE_OK); }
static void
build_file_extra(struct buf *b)
{
    build_submit(b, NULL, 1, "{\"name\":\"a\"," FILE_SHA ",\"size\":0,\"mode\":420,\"x\":1}");
}
static void
build_file_sha(struct buf *b)
{
    build_submit(b, NULL, 1, "{\"name\":\"a\",\"sha256\":\"E3B0C44298FC1C149AFBF4C8996FB92427AE"
                             "41E4649B934CA495991B7852B855\",\"size\":0,\"mode\":420}");
}
static void
build_file_mode(struct buf *b)
{
    build_submit(b, NULL, 1, "{\"name\":\"a\"," FILE_SHA ",\"size\":0,\"mode\":4096}");
}

static void
build_token_over(struct buf *b)
{
    buf_adds(b, "{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,\"node\":\"");
    buf_adds(b, opt.node);
    buf_adds(b, "\",\"token\":\"");
    buf_fill(b, 't', 4097);
    buf_adds(b, "\"}");
}

/* A submit of task 4 (attempt as given) whose files are "f0", "f1", ...
 * all of the same content; a noop, or with argv a process. */
static void
build_submit_named(struct buf *b, int attempt, const struct buf *extra, int count,
                   const void *content, size_t n, const char *argv)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digest_len = 0;
    char hex[65], entry[200];

    EVP_Digest(content, n, digest, &digest_len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    snprintf(entry, sizeof entry, "{\"type\":\"submit\",\"task\":4,\"attempt\":%d,\"job\":1,"
             "\"shard\":0,\"total_shards\":1,\"spec\":{\"v\":1,\"kind\":", attempt);
    buf_adds(b, entry);
    buf_adds(b, argv != NULL ? "\"process\",\"argv\":" : "\"noop\"");
    buf_adds(b, argv != NULL ? argv : "");
    if (extra != NULL)
        buf_add(b, extra->p, extra->len);
    buf_adds(b, "},\"files\":[");
    for (int i = 0; i < count; i++) {
        snprintf(entry, sizeof entry, "%s{\"name\":\"f%d\",\"sha256\":\"%s\",\"size\":%zu,"
                 "\"mode\":420}", i > 0 ? "," : "", i, hex, n);
        buf_adds(b, entry);
    }
    buf_adds(b, "]}");
}

/* Answers need_file with the one file we offer; takes the answer about
 * the task. */
struct shipping {
    struct conn *c;
    const char *task;
    const unsigned char *content;
    size_t len;
    int sent;
};

static int
want_task_shipping(const struct msg *m, const void *arg)
{
    const struct shipping *cs = arg;
    struct shipping *s = (struct shipping *)cs;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned digest_len = 0;
    char hex[65], asked[80];
    struct buf b = { 0 };

    if (strcmp(m->type, "need_file") != 0)
        return want_task(m, s->task);
    EVP_Digest(s->content, s->len, digest, &digest_len, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    if (strcmp(j_str(&m->doc, "sha256", asked, sizeof asked), hex) != 0) {
        failf("need_file %s: not a file we named", asked);
        return -1;
    }
    if (s->sent++ > 0) {
        failf("need_file %s asked twice (docs/protocol.md: a file is sent once)", asked);
        return -1;
    }
    chunk_header(&b, "RPB1", 5, 1, 0, 0, 0, 0);
    buf_add(&b, digest, 32);
    buf_add(&b, s->content, s->len);
    send_frame(s->c, true, OP_BINARY, b.p, b.len, b.len, false);
    buf_free(&b);
    return 0;
}

/* `cat f0` with f0 a shipped file: need_file, the file in one binary chunk
 * (kind 5), its bytes back as stdout chunks (kind 2), the result
 * succeeded; then attempt 2 with the same file, which the worker has
 * cached and must not ask for again. */
#define CAT_F0 "[\"/bin/cat\",\"f0\"]"

static bool
run_file_ship(const struct wcase *w)
{
    static const char content[] = "shipped by wsraw\n";     /* 17 bytes */
    struct conn c;
    struct shipping ship = { &c, "4", (const unsigned char *)content, sizeof content - 1, 0 };
    struct buf b = { 0 };
    struct msg m = { 0 };
    char state[32], text[200];
    bool ok = false;

    (void)w;
    if (!ws_open(&c) || !hello(&c, HELLO, NULL, 0))
        goto out;
    build_submit_named(&b, 1, NULL, 1, content, sizeof content - 1, CAT_F0);
    if (!send_text(&c, &b) || !await(&c, want_task_shipping, &ship, "the result of task 4", &m))
        goto out;
    if (strcmp(m.type, "result") != 0 ||
        strcmp(j_str(&m.doc, "state", state, sizeof state), "succeeded") != 0) {
        failf("task 4 with a shipped file: %.200s", m.data);
        goto out;
    }
    if (captured.len != sizeof content - 1 || memcmp(captured.p, content, captured.len) != 0 ||
        !j_is(&m.doc, "out_total", "17")) {
        failf("cat f0 wrote %zu bytes \"%.40s\" in stdout chunks, out_total %.*s; want \"%s\"",
              captured.len, captured.p ? (char *)captured.p : "",
              (int)j_get(&m.doc, "out_total")->val_len, j_get(&m.doc, "out_total")->val, content);
        goto out;
    }
    note("need_file answered, the file came back as stdout, result succeeded");
    msg_free(&m);
    /* the same file for attempt 2: cached now */
    b.len = 0;
    build_submit_named(&b, 2, NULL, 1, content, sizeof content - 1, CAT_F0);
    if (!send_text(&c, &b) || !await(&c, want_task_shipping, &ship, "the result of attempt 2", &m))
        goto out;
    if (!j_is(&m.doc, "attempt", "2") ||
        strcmp(j_str(&m.doc, "state", state, sizeof state), "succeeded") != 0) {
        failf("task 4 attempt 2: %.200s (%s)", m.data, j_str(&m.doc, "message", text, sizeof text));
        goto out;
    }
    note("attempt 2 succeeded without asking again");
    ok = close_clean(&c);
out:
    msg_free(&m);
    buf_free(&b);
    conn_free(&c);
    return ok;
}

/* Every list of a spec at its limit, a string of 64 KiB, all the files a
 * submit may name (256, one empty content, shipped once): not over a limit, so the connection goes on (the task
 * itself may fail or be refused, without ending it). */
static bool
run_limits_ok(const struct wcase *w)
{
    struct conn c;
    struct shipping ship = { &c, "4", (const unsigned char *)"", 0, 0 };
    struct buf b = { 0 }, extra = { 0 };
    struct msg m = { 0 };
    char text[200];
    bool ok = false;

    (void)w;
    if (!ws_open(&c) || !hello(&c, HELLO, NULL, 0))
        goto out;
    spec_list(&extra, "argv", 4096);
    spec_list(&extra, "env", 4096);
    spec_list(&extra, "data_deps", 1024);
    spec_string(&extra, (size_t)64 << 10);
    build_submit_named(&b, 1, &extra, 256, "", 0, NULL);
    if (!send_text(&c, &b) || !await(&c, want_task_shipping, &ship, "an answer about task 4", &m))
        goto out;
    if (strcmp(m.type, "error") == 0 && j_is(&m.doc, "fatal", "true")) {
        failf("a submit at every limit got a fatal error %s: %.200s",
              j_str(&m.doc, "code", text, sizeof text), m.data);
        goto out;
    }
    if (strcmp(m.type, "result") == 0)
        note("result %s \"%s\"", j_str(&m.doc, "state", text, sizeof text),
             j_str(&m.doc, "error", text + 40, sizeof text - 40));
    else
        note("error %s (not fatal)", j_str(&m.doc, "code", text, sizeof text));
    if (!ping_pong(&c, "12"))
        goto out;
    note("pong 12");
    ok = close_clean(&c);
out:
    msg_free(&m);
    buf_free(&extra);
    buf_free(&b);
    conn_free(&c);
    return ok;
}

static int
want_any_error(const struct msg *m, const void *arg)
{
    (void)arg;
    return strcmp(m->type, "error") == 0 || want_task(m, "4");
}

/* A file named "../x": the document allows two answers, `malformed`
 * (the name breaks the rules of `files`) or `refused` (a name that escapes
 * the work dir, not fatal); anything else, or running it, is wrong. */
static bool
run_file_escape(const struct wcase *w)
{
    struct conn c;
    struct buf b = { 0 };
    struct msg m = { 0 };
    struct ending e;
    char code[32], text[200];
    bool ok = false;

    (void)w;
    if (!ws_open(&c) || !hello(&c, HELLO, NULL, 0))
        goto out;
    build_submit(&b, NULL, 1, "{\"name\":\"../x\"," FILE_SHA ",\"size\":0,\"mode\":420}");
    if (!send_text(&c, &b) || !await(&c, want_any_error, NULL, "an answer about task 4", &m))
        goto out;
    if (strcmp(m.type, "result") == 0) {
        failf("a file named ../x was taken: %.200s", m.data);
        goto out;
    }
    j_str(&m.doc, "code", code, sizeof code);
    if (j_is(&m.doc, "fatal", "true")) {
        observe_end(&c, &e);
        e.error = true;
        e.fatal = true;
        snprintf(e.code, sizeof e.code, "%s", code);
        j_str(&m.doc, "message", e.message, sizeof e.message);
        ok = judge(&e, "malformed", 1002, false);
        goto out;
    }
    note("error %s (not fatal) \"%s\"", code, j_str(&m.doc, "message", text, sizeof text));
    if (strcmp(code, "refused") != 0) {
        failf("a file named ../x: error %s, want malformed (fatal) or refused", code);
        goto out;
    }
    ok = ping_pong(&c, "13") && close_clean(&c);
out:
    msg_free(&m);
    buf_free(&b);
    conn_free(&c);
    return ok;
}

static void
build_binary_good(struct buf *b)
{
    chunk_header(b, "RPB1", 1, 1, 0, 1, 1, 0);
    buf_adds(b, "stdin");
}

static void
build_binary_short(struct buf *b)
{
    chunk_header(b, "RPB1", 1, 1, 0, 1, 1, 0);
    b->len = 10;
}

static void
build_binary_magic(struct buf *b)
{
    chunk_header(b, "RPB2", 1, 1, 0, 1, 1, 0);
    buf_adds(b, "stdin");
}

static void
build_binary_reserved(struct buf *b)
{
    chunk_header(b, "RPB1", 1, 1, 0x0100, 1, 1, 0);
    buf_adds(b, "stdin");
}

/* A valid hello, padded with blanks to size bytes. */
static void
padded_hello(struct buf *b, size_t size)
{
    expand(b, HELLO);
    buf_fill(b, ' ', size - b->len);
}

static void
build_oversized(struct buf *b)
{
    padded_hello(b, MAX_FRAME + ((size_t)1 << 20));
}

/* A ping of exactly the limit: a frame at the limit is not over it. */
static bool
run_frame_at_limit(const struct wcase *w)
{
    struct conn c;
    struct buf b = { 0 };
    struct msg m;
    bool ok = false;

    (void)w;
    if (!ws_open(&c) || !hello(&c, HELLO, NULL, 0))
        goto out;
    buf_adds(&b, "{\"type\":\"ping\",\"t\":9}");
    buf_fill(&b, ' ', MAX_FRAME - b.len);
    if (send_frame(&c, true, OP_TEXT, b.p, b.len, b.len, true) != TX_OK) {
        failf("the daemon went away while we sent a frame of exactly %zu bytes", MAX_FRAME);
        goto out;
    }
    if (!await(&c, want_pong, "9", "the pong to a ping of exactly 16 MiB", &m))
        goto out;
    msg_free(&m);
    note("pong 9 to a frame of %zu bytes", MAX_FRAME);
    ok = close_clean(&c);
out:
    buf_free(&b);
    conn_free(&c);
    return ok;
}

/* Three frames of 6 MiB that make one 18 MiB message. */
static bool
run_fragmented(const struct wcase *w)
{
    const size_t part = (size_t)6 << 20;
    struct conn c;
    struct buf b = { 0 };
    struct ending e;
    enum tx r = TX_OK;
    bool ok = false;

    if (!ws_open(&c) || !hello(&c, HELLO, NULL, 0))
        goto out;
    buf_adds(&b, "{\"type\":\"ping\",\"t\":1}");
    buf_fill(&b, ' ', part - b.len);
    for (int i = 0; i < 3 && r == TX_OK; i++) {
        if (i == 1)
            memset(b.p, ' ', 32);
        r = send_frame(&c, i == 2, i == 0 ? OP_TEXT : OP_CONT, b.p, b.len, b.len, true);
    }
    if (r == TX_ERR || r == TX_TIMEOUT)
        goto out;
    observe_end(&c, &e);
    ok = judge(&e, w->code, w->close, true);
out:
    buf_free(&b);
    conn_free(&c);
    return ok;
}

/* A frame that claims 100 bytes, 10 of them, and the socket closed: the
 * daemon must let go of the connection, and so of its node. */
static bool
run_truncated(const struct wcase *w)
{
    struct conn c;
    char code[32];
    int64_t deadline;
    bool ok = false;

    (void)w;
    if (!ws_open(&c) || !hello(&c, HELLO, NULL, 0))
        goto out;
    if (send_frame(&c, true, OP_TEXT, "{\"type\":\"p", 10, 100, false) != TX_OK) {
        failf("the daemon went away before we cut the frame");
        goto out;
    }
    conn_free(&c);
    note("sent 10 of 100 bytes and hung up");
    /* The node must be free again once the daemon has seen the end. */
    deadline = now_ms() + TIMEOUT_MS;
    for (int i = 0; i < 100; i++) {
        why[0] = '\0';
        if (ws_open(&c) && hello(&c, HELLO, code, sizeof code)) {
            note("the node is free again after %d tries", i + 1);
            ok = close_clean(&c);
            break;
        }
        conn_free(&c);
        if (strcmp(code, "duplicate") != 0 || now_ms() > deadline)
            break;
        nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
    }
out:
    conn_free(&c);
    return ok;
}

/* Two connections with one node: the second is refused, the first goes on. */
static bool
run_duplicate(const struct wcase *w)
{
    struct conn a, b;
    struct buf h = { 0 };
    struct ending e;
    bool ok = false;

    conn_init(&b);
    if (!ws_open(&a) || !hello(&a, HELLO, NULL, 0))
        goto out;
    if (!ws_open(&b))
        goto out;
    expand(&h, HELLO);
    if (!send_text(&b, &h))
        goto out;
    observe_end(&b, &e);
    if (!judge(&e, w->code, w->close, false))
        goto out;
    if (!ping_pong(&a, "11")) {
        failf("the first connection died with the second: %s", why);
        goto out;
    }
    note("the first still answers pong 11");
    ok = close_clean(&a);
out:
    buf_free(&h);
    conn_free(&b);
    conn_free(&a);
    return ok;
}

/* A hello whose token differs from the right one in its last byte (same
 * length, so it is the comparison that must say no). */
static bool
run_bad_token(const struct wcase *w)
{
    const char *right = opt.token;
    char *wrong = strdup(right);
    size_t n = strlen(wrong);
    bool ok;

    if (wrong == NULL)
        abort();
    wrong[n - 1] = wrong[n - 1] == 'x' ? 'y' : 'x';
    opt.token = wrong;
    ok = run_bad(w);
    opt.token = right;
    free(wrong);
    return ok;
}

static bool
run_no_token(const struct wcase *w)
{
    const char *right = opt.token;
    bool ok;

    opt.token = NULL;
    ok = run_bad(w);
    opt.token = right;
    return ok;
}

static void
on_stop(int sig)
{
    (void)sig;
    stop_asked = 1;
}

/* A well-behaved coordinator that stays: a ping every 200 ms, each answered,
 * until SIGTERM/SIGINT (or 60 s); then a clean close. Load messages must
 * have come about every second meanwhile. */
static bool
run_hold(const struct wcase *w)
{
    struct sigaction sa = { .sa_handler = on_stop };
    struct conn c;
    char t[24];
    int64_t start, end;
    int pongs = 0;
    bool ok = false;

    (void)w;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (!ws_open(&c) || !hello(&c, HELLO, NULL, 0))
        goto out;
    start = now_ms();
    end = start + 60000;
    for (int i = 0; !stop_asked && now_ms() < end && i < 1000; i++) {
        snprintf(t, sizeof t, "%d", 100 + i);
        if (!ping_pong(&c, t))
            goto out;
        pongs++;
        nanosleep(&(struct timespec){ .tv_nsec = 200 * 1000 * 1000 }, NULL);
    }
    int64_t took = now_ms() - start;
    note("%d pongs over %.1f s, %d load messages", pongs, (double)took / 1000, loads_seen);
    if (loads_seen < took / 2000) {
        failf("%d load messages in %.1f s (docs/protocol.md: every second)", loads_seen,
              (double)took / 1000);
        goto out;
    }
    ok = close_clean(&c);
out:
    conn_free(&c);
    return ok;
}

/* Connected when the worker gets SIGTERM (the script sends it once this
 * says "welcomed" on stderr): a drain message, then a close frame and the end
 * of TCP, within 20 s. */
static bool
run_drain(const struct wcase *w)
{
    struct conn c;
    struct msg m;
    int64_t deadline;
    bool drained = false, ok = false;

    (void)w;
    if (!ws_open(&c) || !hello(&c, HELLO, NULL, 0))
        goto out;
    fprintf(stderr, "wsraw: drain: welcomed\n");     /* the script's cue */
    deadline = now_ms() + 20000;
    for (size_t i = 0; i < MAX_STEPS; i++) {
        switch (read_msg(&c, &m, deadline)) {
        case RX_MSG:
            break;
        case RX_EOF:
            if (!drained)
                failf("the connection ended without a drain message");
            else if (c.close_code == -1)
                failf("after drain, the daemon dropped the connection without a close frame");
            else
                ok = true;
            goto out;
        case RX_TIMEOUT:
            failf(drained ? "no end of the connection within 20 s of the drain"
                          : "no drain message within 20 s");
            goto out;
        case RX_ERR:
            goto out;
        }
        if (m.op == OP_TEXT && strcmp(m.type, "drain") == 0) {
            if (c.close_code != -1)
                failf("a drain after the close frame");
            drained = true;
            note("drain");
        } else if (m.op == OP_CLOSE) {
            note("close %d \"%s\"", m.close_code, m.data);
            send_close(&c, m.close_code >= 1000 && m.close_code < 1004 ? m.close_code : 1000);
        }
        msg_free(&m);
    }
    failf("over %d messages and no end", MAX_STEPS);
out:
    if (ok)
        note("TCP closed");
    conn_free(&c);
    return ok;
}

#define BAD(nm, when, opcode, text, errcode, why_) \
    { .name = nm, .what = why_, .run = run_bad, .after_hello = when, .op = opcode, \
      .tmpl = text, .code = errcode, .close = 1002 }
#define BADT(nm, when, builder, why_) \
    { .name = nm, .what = why_, .run = run_bad, .after_hello = when, .op = OP_TEXT, \
      .build = builder, .code = "malformed", .close = 1002 }
#define BADB(nm, when, builder, why_) \
    { .name = nm, .what = why_, .run = run_bad, .after_hello = when, .op = OP_BINARY, \
      .build = builder, .code = "malformed", .close = 1002 }

static const struct wcase cases[] = {
    { .name = "good", .run = run_good,
      .what = "hello, welcome; ping 7, pong 7; a noop submit, its result succeeded; close" },
    { .name = "node-255-ok", .run = run_node_255,
      .what = "a node of 255 bytes (the limit) is welcomed" },
    { .name = "deep-ok", .run = run_deep_ok,
      .what = "a submit nested 8 levels (the limit) does not end the connection" },
    { .name = "frame-at-limit", .run = run_frame_at_limit,
      .what = "a ping padded to exactly 16 MiB gets its pong" },
    BAD("not-json", false, OP_TEXT, "{nope", "malformed", "{nope"),
    BAD("not-object", false, OP_TEXT, "[1,2]", "malformed", "[1,2]"),
    BAD("unknown-type", false, OP_TEXT, "{\"type\":\"frobnicate\",\"node\":\"$N\"}",
        "malformed", "type frobnicate"),
    BAD("missing-type", false, OP_TEXT, "{\"proto_min\":1,\"proto_max\":1,\"node\":\"$N\"$T}",
        "malformed", "a hello without type"),
    BAD("missing-field", false, OP_TEXT, "{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1$T}",
        "malformed", "a hello without node"),
    BAD("unknown-field", false, OP_TEXT,
        "{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,\"node\":\"$N\",\"extra\":1$T}",
        "malformed", "a hello with a field the document does not list"),
    BAD("wrong-type-field", false, OP_TEXT,
        "{\"type\":\"hello\",\"proto_min\":\"1\",\"proto_max\":1,\"node\":\"$N\"$T}",
        "malformed", "proto_min \"1\""),
    BAD("duplicate-field", false, OP_TEXT,
        "{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,\"proto_max\":1,\"node\":\"$N\"$T}",
        "malformed", "proto_max twice"),
    BAD("duplicate-type", false, OP_TEXT,
        "{\"type\":\"hello\",\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,"
        "\"node\":\"$N\"$T}", "malformed", "type twice"),
    BAD("out-of-range", false, OP_TEXT,
        "{\"type\":\"hello\",\"proto_min\":-1,\"proto_max\":1,\"node\":\"$N\"$T}",
        "malformed", "proto_min -1"),
    BAD("fraction", false, OP_TEXT,
        "{\"type\":\"hello\",\"proto_min\":1.5,\"proto_max\":1,\"node\":\"$N\"$T}",
        "malformed", "proto_min 1.5 (u32 is whole)"),
    BAD("leading-zero", false, OP_TEXT,
        "{\"type\":\"hello\",\"proto_min\":01,\"proto_max\":1,\"node\":\"$N\"$T}",
        "malformed", "proto_min 01"),
    BAD("bare-point", false, OP_TEXT,
        "{\"type\":\"hello\",\"proto_min\":1.,\"proto_max\":1,\"node\":\"$N\"$T}",
        "malformed", "proto_min 1."),
    BAD("u64-over", true, OP_TEXT,
        "{\"type\":\"submit\",\"task\":9007199254740992,\"attempt\":1,\"job\":1,\"shard\":0,"
        "\"total_shards\":1,\"spec\":{\"kind\":\"noop\"}}",
        "malformed", "after hello, a submit with task 2^53"),
    BAD("nul-escape", false, OP_TEXT,
        "{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,\"node\":\"a\\u0000b\"$T}",
        "malformed", "node \"a\\u0000b\""),
    BAD("raw-control", false, OP_TEXT,
        "{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,\"node\":\"a\x01" "b\"$T}",
        "malformed", "a raw 0x01 inside node"),
    BAD("control-between", false, OP_TEXT,
        "{\"type\":\"hello\",\f\"proto_min\":1,\"proto_max\":1,\"node\":\"$N\"$T}",
        "malformed", "a form feed between tokens"),
    BAD("invalid-utf8", false, OP_TEXT,
        "{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,\"node\":\"\xC3\x28\"$T}",
        "malformed", "raw C3 28 in node, in a text frame"),
    BAD("bom", false, OP_TEXT, "\xEF\xBB\xBF" HELLO, "malformed", "a UTF-8 BOM before hello"),
    BAD("trailing-garbage", false, OP_TEXT, HELLO " x", "malformed", "hello then \" x\""),
    { .name = "file-ship", .run = run_file_ship,
      .what = "a noop with a shipped file: need_file, the file, succeeded; cached for attempt 2" },
    { .name = "limits-ok", .run = run_limits_ok,
      .what = "a noop submit with argv, env, data_deps, a string and files at their limits" },
    BADT("argv-over", true, build_argv_over, "after hello, a spec with 4097 argv entries"),
    BADT("env-over", true, build_env_over, "after hello, a spec with 4097 env entries"),
    BADT("deps-over", true, build_deps_over, "after hello, a spec with 1025 data_deps"),
    BADT("string-over", true, build_string_over, "after hello, a spec string of 64 KiB + 1"),
    BADT("files-over", true, build_files_over, "after hello, a submit with 257 files"),
    BADT("file-extra-field", true, build_file_extra, "after hello, a files entry with \"x\""),
    BADT("file-bad-sha", true, build_file_sha, "after hello, a files entry with upper-case hex"),
    BADT("file-mode-over", true, build_file_mode, "after hello, a files entry of mode 010000"),
    { .name = "file-escape", .run = run_file_escape,
      .what = "after hello, a file named ../x: malformed, or refused (not fatal)" },
    BADT("token-over", false, build_token_over, "a hello whose token is 4097 bytes"),
    { .name = "too-deep", .run = run_bad, .after_hello = true, .op = OP_TEXT,
      .build = build_too_deep, .code = "malformed", .close = 1002,
      .what = "after hello, a submit nested 9 levels" },
    { .name = "long-string", .run = run_bad, .op = OP_TEXT, .build = build_long_node,
      .code = "malformed", .close = 1002, .what = "a node of 300 bytes" },
    BADB("binary-before-hello", false, build_binary_good, "a valid stdin chunk before hello"),
    BADB("binary-short-header", true, build_binary_short, "after hello, a binary frame of 10 bytes"),
    BADB("binary-bad-magic", true, build_binary_magic, "after hello, magic RPB2"),
    BADB("binary-bad-reserved", true, build_binary_reserved, "after hello, reserved 0x0100"),
    BAD("text-in-binary", false, OP_BINARY, HELLO, "malformed", "hello in a binary frame"),
    BAD("submit-before-hello", false, OP_TEXT, SUBMIT_NOOP("1"), "malformed",
        "a noop submit as the first message"),
    BAD("version", false, OP_TEXT,
        "{\"type\":\"hello\",\"proto_min\":2,\"proto_max\":3,\"node\":\"$N\"$T}",
        "version", "hello proto 2-3"),
    { .name = "oversized", .run = run_bad, .op = OP_TEXT, .build = build_oversized,
      .code = "too_big", .close = 1009, .error_optional = true,
      .what = "a hello padded to 17 MiB in one frame (close 1009)" },
    { .name = "fragmented-over-limit", .run = run_fragmented, .code = "too_big", .close = 1009,
      .what = "after hello, a ping in 3 continuation frames of 6 MiB (close 1009)" },
    { .name = "truncated", .run = run_truncated,
      .what = "after hello, 10 of 100 claimed bytes then hang up; the node is free again" },
    { .name = "duplicate-node", .run = run_duplicate, .code = "duplicate", .close = 1002,
      .what = "a second connection with a live node's name; the first goes on" },
    { .name = "hold", .run = run_hold,
      .what = "stays connected, a ping every 200 ms, until SIGTERM (or 60 s); loads come" },
    { .name = "drain", .run = run_drain,
      .what = "stays connected until the worker's SIGTERM: drain, close, end of TCP" },
    { .name = "bad-token", .run = run_bad_token, .op = OP_TEXT, .tmpl = HELLO, .code = "auth",
      .close = 1002, .needs_token = true,
      .what = "hello whose token differs in its last byte (needs --token)" },
    { .name = "cert-refused", .run = run_bad, .op = OP_TEXT, .tmpl = HELLO, .code = "auth",
      .close = 1002, .needs_cert = true,
      .what = "hello over TLS with a client certificate the worker's CA did not sign" },
    { .name = "no-token", .run = run_no_token, .op = OP_TEXT, .tmpl = HELLO, .code = "auth",
      .close = 1002, .needs_token = true,
      .what = "hello without a token to a worker that wants one (needs --token)" },
};

/* ---- main ---- */

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: wsraw [-v] [--tls --ca FILE [--cert FILE --key FILE]] [--token T] HOST:PORT CASE\n"
            "       wsraw --list\n"
            "Runs one case of the worker protocol (docs/protocol.md) against a worker,\n"
            "with its own WebSocket client; prints one line; exit 0 when the daemon did\n"
            "what the document asks, 1 when not (why on stderr), 2 usage.\n"
            "-v traces every frame on stderr.\n"
            "cases:\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        fprintf(f, "  %-22s %s\n", cases[i].name, cases[i].what);
}

static bool
split_hostport(const char *s)
{
    const char *colon;
    size_t hn;

    snprintf(opt.hostport, sizeof opt.hostport, "%s", s);
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return false;
        hn = (size_t)(close - s - 1);
        s++;
        colon = close + 1;
    } else {
        if ((colon = strrchr(s, ':')) == NULL)
            return false;
        hn = (size_t)(colon - s);
    }
    if (hn == 0 || hn >= sizeof opt.host || strlen(colon + 1) == 0 ||
        strlen(colon + 1) >= sizeof opt.port || strspn(colon + 1, "0123456789") !=
        strlen(colon + 1))
        return false;
    memcpy(opt.host, s, hn);
    opt.host[hn] = '\0';
    snprintf(opt.port, sizeof opt.port, "%s", colon + 1);
    return true;
}

static bool
tls_setup(void)
{
    opt.ctx = SSL_CTX_new(TLS_client_method());
    if (opt.ctx == NULL)
        return failf("TLS: %s", tls_error());
    SSL_CTX_set_min_proto_version(opt.ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(opt.ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(opt.ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    SSL_CTX_set_options(opt.ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    if (SSL_CTX_load_verify_locations(opt.ctx, opt.ca, NULL) != 1)
        return failf("--ca %s: %s", opt.ca, tls_error());
    if (opt.cert != NULL &&
        (SSL_CTX_use_certificate_chain_file(opt.ctx, opt.cert) != 1 ||
         SSL_CTX_use_PrivateKey_file(opt.ctx, opt.key, SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(opt.ctx) != 1))
        return failf("--cert %s --key %s: %s", opt.cert, opt.key, tls_error());
    return true;
}

int
main(int argc, char **argv)
{
    const char *target = NULL, *name = NULL;
    const struct wcase *w = NULL;
    bool list = false, ok;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--list") == 0) {
            list = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-v") == 0) {
            opt.verbose = true;
        } else if (strcmp(a, "--tls") == 0) {
            opt.tls = true;
        } else if (strcmp(a, "--ca") == 0 && has_value) {
            opt.ca = argv[++i];
        } else if (strcmp(a, "--cert") == 0 && has_value) {
            opt.cert = argv[++i];
        } else if (strcmp(a, "--key") == 0 && has_value) {
            opt.key = argv[++i];
        } else if (strcmp(a, "--token") == 0 && has_value) {
            opt.token = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "wsraw: unknown option or missing value: %s\n", a);
            return 2;
        } else if (target == NULL) {
            target = a;
        } else if (name == NULL) {
            name = a;
        } else {
            fprintf(stderr, "wsraw: too many arguments\n");
            return 2;
        }
    }
    if (list) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            printf("%s\n", cases[i].name);
        return 0;
    }
    if (target == NULL || name == NULL) {
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(name, cases[i].name) == 0)
            w = &cases[i];
    if (w == NULL) {
        fprintf(stderr, "wsraw: no case '%s' (wsraw --list)\n", name);
        return 2;
    }
    if (!split_hostport(target)) {
        fprintf(stderr, "wsraw: '%s' is not HOST:PORT or [IPv6]:PORT\n", target);
        return 2;
    }
    if ((opt.tls && opt.ca == NULL) || (!opt.tls && (opt.ca || opt.cert || opt.key)) ||
        (opt.cert == NULL) != (opt.key == NULL)) {
        fprintf(stderr, "wsraw: --tls needs --ca; --cert and --key go together, with --tls\n");
        return 2;
    }
    if (w->needs_token && (opt.token == NULL || opt.token[0] == '\0')) {
        fprintf(stderr, "wsraw: case %s needs --token\n", w->name);
        return 2;
    }
    if (w->needs_cert && opt.cert == NULL) {
        fprintf(stderr, "wsraw: case %s needs --tls --cert --key\n", w->name);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(opt.node, sizeof opt.node, "raw-%ld", (long)getpid());
    ok = (!opt.tls || tls_setup()) && w->run(w);
    if (ok && why[0] != '\0')
        ok = false;     /* a side failure (a bad message skipped on the way) */
    printf("%s %s: %s%s%s\n", ok ? "ok" : "FAIL", w->name, said,
           !ok && said[0] != '\0' ? "; " : "", ok ? "" : why);
    if (!ok)
        fprintf(stderr, "wsraw: %s: %s\n", w->name, why[0] != '\0' ? why : "failed");
    if (opt.ctx != NULL)
        SSL_CTX_free(opt.ctx);
    return ok ? 0 : 1;
}
