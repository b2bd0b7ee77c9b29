/*
 * test_proto.c -- the wire protocol's codec (net/proto.h) held to
 * docs/protocol.md, version 1.
 *
 * The document's message table is written out again below (doc[]), from
 * the document and not from proto.c, and most tests run over it: every
 * type round-trips with its required fields and with every optional one,
 * and every required field dropped, every field doubled, every field given
 * a value of each wrong type, every string and array at its limit and one
 * past it. Then the frame itself: UTF-8, JSON, objects, trailing text,
 * nesting, the frame limit; the 24-byte header of binary frames byte by
 * byte; safe file names; and a bounded random run (fixed seed) of random
 * and mutated frames through both decoders, whose every verdict is checked
 * against the same table.
 *
 * Every decode reads from a buffer of exactly the frame's size, so that a
 * read past the frame shows under AddressSanitizer. A refusal must leave
 * *out as it was (checked against a sentinel) and say why.
 *
 * The tests at the end pin down bugs found while this suite was written
 * (the encoder rounding large numbers, sending what the decoder refuses,
 * lenient JSON, \u0000 in strings, unchecked spec lists): each failed
 * before net/proto.c was fixed.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "net/proto.h"
#include "tests/testing.h"

#define TWO_53 UINT64_C(9007199254740992)
#define MAX_STRING_DEFAULT ((size_t)64 << 10)
#define HEX_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

/* ---- the document's table ---- */

enum kind { U64, U32, STR, BOOL, OBJ, STRS, OBJS };

/* A string whose value is one of a set (sha256, state, code): its length
 * is not what limits it. */
#define ENUMERATED SIZE_MAX

struct doc_field {
    const char *name;
    enum kind kind;
    bool optional;
    size_t max;         /* STR: bytes (0: the 64 KiB default); arrays: entries */
};

#define DOC_FIELDS 13   /* the most a type has (result: 12), and the end */

struct doc_msg {
    enum rp_msg_type type;
    const char *name;
    unsigned senders;
    struct doc_field fields[DOC_FIELDS];
};

#define FROM_C RP_PROTO_FROM_COORDINATOR
#define FROM_W RP_PROTO_FROM_WORKER

static const struct doc_msg doc[] = {
    { RP_MSG_HELLO, "hello", FROM_C,
      { { "proto_min", U32, false, 0 }, { "proto_max", U32, false, 0 },
        { "node", STR, false, 255 }, { "token", STR, true, 4096 } } },
    { RP_MSG_WELCOME, "welcome", FROM_W,
      { { "proto", U32, false, 0 }, { "node", STR, false, 255 }, { "session", STR, false, 64 },
        { "cores", U32, false, 0 }, { "memory_mb", U64, false, 0 }, { "slots", U32, false, 0 },
        { "gpus", STRS, false, 64 }, { "cached_keys", STRS, true, 100000 } } },
    { RP_MSG_SUBMIT, "submit", FROM_C,
      { { "task", U64, false, 0 }, { "attempt", U32, false, 0 }, { "job", U64, false, 0 },
        { "shard", U32, false, 0 }, { "total_shards", U32, false, 0 },
        { "spec", OBJ, false, 0 }, { "files", OBJS, true, 256 },
        { "stdin_size", U64, true, 0 } } },
    { RP_MSG_NEED_FILE, "need_file", FROM_W, { { "sha256", STR, false, ENUMERATED } } },
    { RP_MSG_STARTED, "started", FROM_W,
      { { "task", U64, false, 0 }, { "attempt", U32, false, 0 }, { "pid", U32, false, 0 } } },
    { RP_MSG_CHECKPOINT, "checkpoint", FROM_W,
      { { "task", U64, false, 0 }, { "attempt", U32, false, 0 },
        { "iteration", U64, false, 0 }, { "size", U64, false, 0 },
        { "sha256", STR, false, ENUMERATED } } },
    { RP_MSG_RESULT, "result", FROM_W,
      { { "task", U64, false, 0 }, { "attempt", U32, false, 0 },
        { "state", STR, false, ENUMERATED }, { "exit_code", U32, true, 0 },
        { "signal", U32, true, 0 }, { "error", STR, true, 0 }, { "wall_ns", U64, false, 0 },
        { "user_ns", U64, false, 0 }, { "system_ns", U64, false, 0 },
        { "max_rss_kb", U64, false, 0 }, { "out_total", U64, false, 0 },
        { "err_total", U64, false, 0 } } },
    { RP_MSG_CANCEL, "cancel", FROM_C,
      { { "task", U64, false, 0 }, { "attempt", U32, false, 0 } } },
    { RP_MSG_REVOKE, "revoke", FROM_C,
      { { "task", U64, false, 0 }, { "attempt", U32, false, 0 } } },
    { RP_MSG_REVOKED, "revoked", FROM_W,
      { { "task", U64, false, 0 }, { "attempt", U32, false, 0 }, { "ok", BOOL, false, 0 } } },
    { RP_MSG_LOAD, "load", FROM_W,
      { { "running", U32, false, 0 }, { "slots", U32, false, 0 }, { "cpu", U32, false, 0 },
        { "mem_used_mb", U64, false, 0 }, { "mem_total_mb", U64, false, 0 } } },
    { RP_MSG_PING, "ping", FROM_C | FROM_W, { { "t", U64, false, 0 } } },
    { RP_MSG_PONG, "pong", FROM_C | FROM_W, { { "t", U64, false, 0 } } },
    { RP_MSG_DRAIN, "drain", FROM_W, { { NULL, U64, false, 0 } } },
    { RP_MSG_ERROR, "error", FROM_C | FROM_W,
      { { "code", STR, false, ENUMERATED }, { "message", STR, false, 4096 },
        { "fatal", BOOL, false, 0 }, { "task", U64, true, 0 }, { "attempt", U32, true, 0 } } },
};

#define N_DOC (sizeof doc / sizeof doc[0])

static const char *const states[] = { "succeeded", "failed", "cancelled", "timed_out" };
static const char *const codes[] = { "malformed", "too_big",  "version",      "auth",
                                     "duplicate", "refused",  "unknown_task", "internal" };

static const struct doc_field *
doc_field(const struct doc_msg *d, const char *name)
{
    for (size_t i = 0; d->fields[i].name != NULL; i++)
        if (strcmp(d->fields[i].name, name) == 0)
            return &d->fields[i];
    return NULL;
}

/* ---- small helpers ---- */

static uint64_t
splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* An assertion recorded at the caller's line, with a formatted message. */
static void __attribute__((format(printf, 3, 4)))
check_at(int line, bool ok, const char *fmt, ...)
{
    char msg[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line, msg, __FILE__, "", CU_FALSE);
}

/* A printable excerpt of len bytes, for failure messages. */
static const char *
show(const void *data, size_t len, char *buf, size_t size)
{
    const unsigned char *p = data;
    size_t o = 0, i;

    for (i = 0; i < len && o + 16 < size; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f)
            buf[o++] = (char)p[i];
        else
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", p[i]);
    }
    if (i < len)
        o += (size_t)snprintf(buf + o, size - o, "...(%zu bytes)", len);
    buf[o < size ? o : size - 1] = '\0';
    return buf;
}

/* Well-formed UTF-8 without NUL, written here independently of proto.c. */
static bool
utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], need;
        uint32_t cp;

        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0)
            need = 1, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
            need = 2, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
            need = 3, cp = c & 0x07;
        else
            return false;
        if (n - i <= need)
            return false;
        for (unsigned k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

static char *
print_json(const cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

static cJSON *
parse_json(const char *text)
{
    cJSON *v = cJSON_Parse(text);

    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    return v;
}

static char *__attribute__((format(printf, 1, 2)))
fmt_text(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    CU_ASSERT_FATAL(n >= 0 && s != NULL);
    return s;
}

/* n copies of the byte c, NUL-terminated. */
static char *
repeat(char c, size_t n)
{
    char *s = malloc(n + 1);

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- valid messages, built from the document's table ---- */

static cJSON *
valid_value(size_t ti, size_t fi)
{
    const struct doc_field *f = &doc[ti].fields[fi];

    switch (f->kind) {
    case U64:
        /* distinct per field, below 2^50: exact however printed */
        return cJSON_CreateNumber((double)(UINT64_C(0x3000000000000) + ti * 256 + fi));
    case U32:
        return cJSON_CreateNumber((double)(UINT32_MAX - ti * 256 - fi));
    case BOOL:
        return cJSON_CreateBool((ti + fi) % 2 == 0);
    case STR:
        if (strcmp(f->name, "sha256") == 0)
            return cJSON_CreateString(HEX_A);
        if (strcmp(f->name, "state") == 0)
            return cJSON_CreateString("timed_out");
        if (strcmp(f->name, "code") == 0)
            return cJSON_CreateString("unknown_task");
        if (strcmp(f->name, "node") == 0)
            return cJSON_CreateString("node-01.example.org");
        if (strcmp(f->name, "session") == 0)
            return cJSON_CreateString("3f9c2a7e");
        if (strcmp(f->name, "token") == 0)
            return cJSON_CreateString("s3cr\"et\\tok/en");
        if (strcmp(f->name, "message") == 0)
            return cJSON_CreateString("no such task: 42 \xc2\xab\xc3\xa9\xc2\xbb\t\n");
        return cJSON_CreateString("exit status 3 \xe2\x9c\x97 \xf0\x9f\x98\x80");
    case OBJ:
        return parse_json("{\"v\":1,\"kind\":\"process\",\"argv\":[\"/bin/echo\",\"hi\"],"
                          "\"env\":[\"K=V\"],\"limits\":{\"cpu_seconds\":\"10\"},"
                          "\"timeout_ms\":1500,\"checkpoint\":true,\"name\":null}");
    case STRS:
        if (strcmp(f->name, "gpus") == 0)
            return parse_json("[\"GPU-0\",\"GPU-1\"]");
        return parse_json("[\"k1\",\"k2\",\"\"]");
    case OBJS:
        return parse_json("[{\"name\":\"dir/run.sh\",\"sha256\":\"" HEX_A "\",\"size\":1234,"
                          "\"mode\":493},{\"name\":\".hidden\",\"sha256\":\"" HEX_B "\","
                          "\"size\":0,\"mode\":420}]");
    }
    return NULL;
}

/* A valid message of type ti: the required fields, and the optional ones
 * too when optional. */
static cJSON *
build(size_t ti, bool optional)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "type", doc[ti].name);
    for (size_t i = 0; doc[ti].fields[i].name != NULL; i++)
        if (!doc[ti].fields[i].optional || optional)
            cJSON_AddItemToObject(o, doc[ti].fields[i].name, valid_value(ti, i));
    return o;
}

/* The full message of type ti with field set to v (taken), or removed
 * when v is NULL. */
static cJSON *
msg_with(size_t ti, const char *field, cJSON *v)
{
    cJSON *o = build(ti, true);

    if (cJSON_GetObjectItemCaseSensitive(o, field) == NULL) {
        if (v != NULL)
            cJSON_AddItemToObject(o, field, v);
    } else if (v != NULL) {
        cJSON_ReplaceItemInObjectCaseSensitive(o, field, v);
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(o, field);
    }
    return o;
}

/* ---- decoding with checks ---- */

struct dec {
    rp_status st;
    enum rp_proto_error code;
    char *why;
    rp_msg m;
    bool untouched;     /* *out as it was before the call */
};

/* Decodes a copy of the frame in a buffer of exactly len bytes. */
static void
dec_run(struct dec *r, const void *data, size_t len, size_t max)
{
    unsigned char *copy = malloc(len > 0 ? len : 1);
    rp_msg sentinel;

    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    if (len > 0)
        memcpy(copy, data, len);
    memset(&sentinel, 0xa5, sizeof sentinel);
    memcpy(&r->m, &sentinel, sizeof r->m);
    r->why = NULL;
    r->code = (enum rp_proto_error)77;
    r->st = rp__msg_decode(copy, len, max, &r->m, &r->code, &r->why);
    r->untouched = memcmp(&r->m, &sentinel, sizeof sentinel) == 0;
    free(copy);
}

static void
expect_refused_at(int line, const void *data, size_t len, size_t max, enum rp_proto_error want,
                  const char *word, const char *word2)
{
    struct dec r;
    char shown[200];

    dec_run(&r, data, len, max);
    show(data, len, shown, sizeof shown);
    check_at(line, r.st == RP_ERR_INVALID, "refused (got status %d): %s", (int)r.st, shown);
    if (r.st == RP_OK) {
        rp__msg_free(&r.m);
        free(r.why);
        return;
    }
    check_at(line, r.code == want, "code %d, want %d: %s", (int)r.code, (int)want, shown);
    check_at(line, r.why != NULL && r.why[0] != '\0', "a why: %s", shown);
    if (r.why != NULL && word != NULL)
        check_at(line, strstr(r.why, word) != NULL, "why \"%s\" says \"%s\": %s", r.why, word,
                 shown);
    if (r.why != NULL && word2 != NULL)
        check_at(line, strstr(r.why, word2) != NULL, "why \"%s\" says \"%s\": %s", r.why, word2,
                 shown);
    check_at(line, r.untouched, "*out untouched: %s", shown);
    free(r.why);
}

static void
expect_accepted_at(int line, const void *data, size_t len, size_t max, enum rp_msg_type type)
{
    struct dec r;
    char shown[200];

    dec_run(&r, data, len, max);
    show(data, len, shown, sizeof shown);
    check_at(line, r.st == RP_OK, "accepted (why: %s): %s", r.why ? r.why : "-", shown);
    if (r.st != RP_OK) {
        free(r.why);
        return;
    }
    check_at(line, r.code == RP_PROTO_OK, "code OK: %s", shown);
    check_at(line, r.why == NULL, "no why: %s", shown);
    check_at(line, r.m.type == type, "type %d, want %d: %s", (int)r.m.type, (int)type, shown);
    check_at(line, cJSON_IsObject(r.m.json), "json is the object: %s", shown);
    rp__msg_free(&r.m);
    CU_ASSERT_PTR_NULL(r.m.json);
}

/* obj (taken): both the decoder (of its text) and the encoder refuse it,
 * each with a why that says word and word2. */
static void
expect_json_refused_at(int line, cJSON *obj, const char *word, const char *word2)
{
    char *text = print_json(obj), *etext = (char *)"x", *ewhy = NULL;
    size_t elen = 7;
    char shown[200];
    rp_status est;

    show(text, strlen(text), shown, sizeof shown);
    expect_refused_at(line, text, strlen(text), 0, RP_PROTO_MALFORMED, word, word2);
    est = rp__msg_encode(obj, &etext, &elen, &ewhy);
    check_at(line, est == RP_ERR_INVALID, "encode refuses: %s", shown);
    if (est == RP_OK) {
        free(etext);
    } else {
        check_at(line, etext == NULL && elen == 0, "encode leaves no text: %s", shown);
        check_at(line, ewhy != NULL && ewhy[0] != '\0', "encode says why: %s", shown);
        if (ewhy != NULL && word != NULL)
            check_at(line, strstr(ewhy, word) != NULL, "encode's why \"%s\" says \"%s\"", ewhy,
                     word);
    }
    free(ewhy);
    free(text);
}

/* obj (taken): its text decodes, and the encoder takes it and gives a
 * text that decodes again to the same type. */
static void
expect_json_accepted_at(int line, cJSON *obj, enum rp_msg_type type)
{
    char *text = print_json(obj), *etext = NULL, *ewhy = NULL;
    size_t elen = 0;
    char shown[200];
    rp_status est;

    show(text, strlen(text), shown, sizeof shown);
    expect_accepted_at(line, text, strlen(text), 0, type);
    est = rp__msg_encode(obj, &etext, &elen, &ewhy);
    check_at(line, est == RP_OK, "encode takes it (why: %s): %s", ewhy ? ewhy : "-", shown);
    if (est == RP_OK) {
        check_at(line, etext != NULL && elen == strlen(etext), "encode's text and length");
        if (etext != NULL)
            expect_accepted_at(line, etext, elen, 0, type);
    }
    free(etext);
    free(ewhy);
    free(text);
}

#define REFUSED(data, len, word) \
    expect_refused_at(__LINE__, (data), (len), 0, RP_PROTO_MALFORMED, (word), NULL)
#define REFUSED_LIT(lit, word) REFUSED((lit), sizeof(lit) - 1, (word))
#define REFUSED_TEXT(text, word) REFUSED((text), strlen(text), (word))
#define ACCEPTED_LIT(lit, type) expect_accepted_at(__LINE__, (lit), sizeof(lit) - 1, 0, (type))
#define ACCEPTED_TEXT(text, type) expect_accepted_at(__LINE__, (text), strlen(text), 0, (type))
#define REFUSED_JSON(obj, word, word2) expect_json_refused_at(__LINE__, (obj), (word), (word2))
#define ACCEPTED_JSON(obj, type) expect_json_accepted_at(__LINE__, (obj), (type))

/* Encodes obj (taken); the text, which must exist. */
static char *
encode_ok(cJSON *obj, size_t *len)
{
    char *text = NULL, *why = NULL;
    rp_status st = rp__msg_encode(obj, &text, len, &why);

    if (st != RP_OK)
        fprintf(stderr, "encode refused: %s\n", why ? why : "-");
    free(why);
    CU_ASSERT_EQUAL_FATAL(st, RP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    return text;
}

/* ---- names, senders, constants ---- */

static void
type_names_and_senders_match_the_document(void)
{
    CU_ASSERT_EQUAL(N_DOC, RP_MSG_TYPE_COUNT);
    for (size_t i = 0; i < N_DOC; i++) {
        const char *name = rp__msg_type_name(doc[i].type);

        CU_ASSERT_EQUAL(doc[i].type, (enum rp_msg_type)i);
        check_at(__LINE__, name != NULL && strcmp(name, doc[i].name) == 0, "name of %s: %s",
                 doc[i].name, name ? name : "NULL");
        check_at(__LINE__, rp__msg_type_senders(doc[i].type) == doc[i].senders,
                 "senders of %s: %u, want %u", doc[i].name, rp__msg_type_senders(doc[i].type),
                 doc[i].senders);
    }
    CU_ASSERT_PTR_NULL(rp__msg_type_name(RP_MSG_TYPE_COUNT));
    CU_ASSERT_PTR_NULL(rp__msg_type_name((enum rp_msg_type)(RP_MSG_TYPE_COUNT + 1)));
    CU_ASSERT_PTR_NULL(rp__msg_type_name((enum rp_msg_type)1000));
    CU_ASSERT_PTR_NULL(rp__msg_type_name((enum rp_msg_type)-1));
    CU_ASSERT_EQUAL(rp__msg_type_senders(RP_MSG_TYPE_COUNT), 0);
    CU_ASSERT_EQUAL(rp__msg_type_senders((enum rp_msg_type)-1), 0);
    CU_ASSERT_EQUAL(RP_PROTO_FROM_COORDINATOR & RP_PROTO_FROM_WORKER, 0);
}

static void
constants_match_the_document(void)
{
    CU_ASSERT_EQUAL(RP_PROTO_VERSION, 1);
    CU_ASSERT_STRING_EQUAL(RP_PROTO_SUBPROTOCOL, "repartir.v1");
    CU_ASSERT_EQUAL(RP_PROTO_MAX_FRAME_DEFAULT, (size_t)16 * 1024 * 1024);
    CU_ASSERT_EQUAL(RP_PROTO_MAX_DEPTH, 8);
    CU_ASSERT_EQUAL(RP_PROTO_CHUNK_HEADER, 24);
    CU_ASSERT_EQUAL(RP_CHUNK_STDIN, 1);
    CU_ASSERT_EQUAL(RP_CHUNK_STDOUT, 2);
    CU_ASSERT_EQUAL(RP_CHUNK_STDERR, 3);
    CU_ASSERT_EQUAL(RP_CHUNK_CHECKPOINT, 4);
    CU_ASSERT_EQUAL(RP_CHUNK_FILE, 5);
    CU_ASSERT_EQUAL(RP_CHUNK_LAST, 1);
}

/* ---- round trips ---- */

/* Every field of d read back from m as orig has it (absent: 0, NULL,
 * false, no entries). */
static void
check_fields(int line, size_t ti, const rp_msg *m, const cJSON *orig)
{
    const struct doc_msg *d = &doc[ti];

    for (size_t i = 0; d->fields[i].name != NULL; i++) {
        const struct doc_field *f = &d->fields[i];
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(orig, f->name);
        const cJSON *got = rp__msg_item(m, f->name);

        if (want == NULL) {
            check_at(line, !rp__msg_has(m, f->name), "%s.%s absent", d->name, f->name);
            check_at(line, rp__msg_u64(m, f->name) == 0, "%s.%s absent reads 0", d->name,
                     f->name);
            check_at(line, rp__msg_str(m, f->name) == NULL, "%s.%s absent reads NULL",
                     d->name, f->name);
            check_at(line, !rp__msg_bool(m, f->name), "%s.%s absent reads false", d->name,
                     f->name);
            check_at(line, cJSON_GetArraySize(got) == 0 && (got == NULL || cJSON_IsArray(got)),
                     "%s.%s absent has no entries", d->name, f->name);
            continue;
        }
        check_at(line, rp__msg_has(m, f->name), "%s.%s present", d->name, f->name);
        switch (f->kind) {
        case U64:
        case U32:
            check_at(line, rp__msg_u64(m, f->name) == (uint64_t)want->valuedouble,
                     "%s.%s = %" PRIu64 ", want %.0f", d->name, f->name,
                     rp__msg_u64(m, f->name), want->valuedouble);
            break;
        case STR: {
            const char *s = rp__msg_str(m, f->name);
            check_at(line, s != NULL && strcmp(s, want->valuestring) == 0,
                     "%s.%s = \"%s\", want \"%s\"", d->name, f->name, s ? s : "(null)",
                     want->valuestring);
            break;
        }
        case BOOL:
            check_at(line, rp__msg_bool(m, f->name) == (bool)cJSON_IsTrue(want),
                     "%s.%s = %d", d->name, f->name, rp__msg_bool(m, f->name));
            break;
        case OBJ:
        case STRS:
        case OBJS:
            check_at(line, got != NULL && cJSON_Compare(got, want, true), "%s.%s the same",
                     d->name, f->name);
            break;
        }
    }
}

static void
round_trip(size_t ti, bool optional)
{
    cJSON *o = build(ti, optional), *orig = cJSON_Duplicate(o, true);
    char *text = (char *)"x", *why = NULL;
    size_t len = 99;
    struct dec r;
    rp_status st = rp__msg_encode(o, &text, &len, &why);

    check_at(__LINE__, st == RP_OK, "%s (optional %d) encodes: %s", doc[ti].name, optional,
             st == RP_OK ? "-" : why);
    if (st != RP_OK) {
        free(why);
        cJSON_Delete(orig);
        return;
    }
    CU_ASSERT_PTR_NULL(why);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_EQUAL(len, strlen(text));
    dec_run(&r, text, len, 0);
    check_at(__LINE__, r.st == RP_OK, "%s (optional %d) decodes: %s", doc[ti].name, optional,
             r.why ? r.why : "-");
    if (r.st == RP_OK) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(r.m.json, "type");

        CU_ASSERT_EQUAL(r.code, RP_PROTO_OK);
        CU_ASSERT_PTR_NULL(r.why);
        CU_ASSERT_EQUAL(r.m.type, doc[ti].type);
        CU_ASSERT(cJSON_IsString(t) && strcmp(t->valuestring, doc[ti].name) == 0);
        check_fields(__LINE__, ti, &r.m, orig);
        CU_ASSERT(cJSON_Compare(r.m.json, orig, true));
        rp__msg_free(&r.m);
    }
    free(r.why);
    free(text);
    cJSON_Delete(orig);
}

static void
every_type_round_trips_with_its_required_fields(void)
{
    for (size_t ti = 0; ti < N_DOC; ti++)
        round_trip(ti, false);
}

static void
every_type_round_trips_with_every_optional_field(void)
{
    for (size_t ti = 0; ti < N_DOC; ti++)
        round_trip(ti, true);
}

static void
zero_and_limits_of_numbers_round_trip(void)
{
    static const struct {
        const char *text;
        enum rp_msg_type type;
        const char *field;
        uint64_t want;
    } cases[] = {
        { "{\"type\":\"ping\",\"t\":0}", RP_MSG_PING, "t", 0 },
        { "{\"type\":\"ping\",\"t\":-0}", RP_MSG_PING, "t", 0 },
        { "{\"type\":\"ping\",\"t\":0.0}", RP_MSG_PING, "t", 0 },
        { "{\"type\":\"ping\",\"t\":1e3}", RP_MSG_PING, "t", 1000 },
        { "{\"type\":\"ping\",\"t\":2.5E+1}", RP_MSG_PING, "t", 25 },
        { "{\"type\":\"ping\",\"t\":7.0}", RP_MSG_PING, "t", 7 },
        { "{\"type\":\"ping\",\"t\":4294967296}", RP_MSG_PING, "t", UINT64_C(4294967296) },
        { "{\"type\":\"ping\",\"t\":9007199254740991}", RP_MSG_PING, "t", TWO_53 - 1 },
        { "{\"type\":\"pong\",\"t\":9007199254740991}", RP_MSG_PONG, "t", TWO_53 - 1 },
        { "{\"type\":\"cancel\",\"task\":1,\"attempt\":4294967295}", RP_MSG_CANCEL, "attempt",
          UINT32_MAX },
        { "{\"type\":\"cancel\",\"task\":1,\"attempt\":0}", RP_MSG_CANCEL, "attempt", 0 },
        { "{\"type\":\"error\",\"code\":\"internal\",\"message\":\"\",\"fatal\":false,"
          "\"task\":9007199254740991,\"attempt\":4294967295}",
          RP_MSG_ERROR, "task", TWO_53 - 1 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct dec r;

        dec_run(&r, cases[i].text, strlen(cases[i].text), 0);
        check_at(__LINE__, r.st == RP_OK, "accepted: %s (%s)", cases[i].text,
                 r.why ? r.why : "-");
        if (r.st != RP_OK) {
            free(r.why);
            continue;
        }
        CU_ASSERT_EQUAL(r.m.type, cases[i].type);
        check_at(__LINE__, rp__msg_u64(&r.m, cases[i].field) == cases[i].want,
                 "%s reads %" PRIu64 ", want %" PRIu64, cases[i].text,
                 rp__msg_u64(&r.m, cases[i].field), cases[i].want);
        rp__msg_free(&r.m);
    }
}

static void
strings_round_trip_byte_exact(void)
{
    static const char *const values[] = {
        "",
        "a",
        "\xc3\xa9t\xc3\xa9",                  /* 2-byte */
        "\xe2\x82\xac",                       /* 3-byte */
        "\xf0\x9f\x98\x80",                   /* 4-byte */
        "\xf4\x8f\xbf\xbf",                   /* U+10FFFF */
        "\xed\x9f\xbf\xee\x80\x80",           /* U+D7FF U+E000, around the surrogates */
        "quote \" backslash \\ slash /",
        "\x01\x02\x1f control \t tab \n newline \r",
        "\x7f del",
        "<script>&amp;</script>",
    };

    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        cJSON *o = msg_with(RP_MSG_HELLO, "node", cJSON_CreateString(values[i]));
        size_t len;
        char *text = encode_ok(o, &len);
        struct dec r;

        dec_run(&r, text, len, 0);
        check_at(__LINE__, r.st == RP_OK, "node #%zu decodes: %s", i, r.why ? r.why : "-");
        if (r.st == RP_OK) {
            const char *s = rp__msg_str(&r.m, "node");
            check_at(__LINE__, s != NULL && strcmp(s, values[i]) == 0, "node #%zu the same", i);
            rp__msg_free(&r.m);
        }
        free(r.why);
        free(text);
    }
}

static void
absent_optional_fields_read_as_nothing(void)
{
    static const char text[] = "{\"type\":\"submit\",\"task\":5,\"attempt\":2,\"job\":3,"
                               "\"shard\":0,\"total_shards\":1,\"spec\":{}}";
    struct dec r;

    dec_run(&r, text, sizeof text - 1, 0);
    CU_ASSERT_EQUAL_FATAL(r.st, RP_OK);
    CU_ASSERT_FALSE(rp__msg_has(&r.m, "files"));
    CU_ASSERT_FALSE(rp__msg_has(&r.m, "stdin_size"));
    CU_ASSERT_EQUAL(rp__msg_u64(&r.m, "stdin_size"), 0);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(rp__msg_item(&r.m, "files")), 0);
    CU_ASSERT_TRUE(rp__msg_has(&r.m, "spec"));
    CU_ASSERT(cJSON_IsObject(rp__msg_item(&r.m, "spec")));
    CU_ASSERT_EQUAL(rp__msg_u64(&r.m, "task"), 5);
    CU_ASSERT_EQUAL(rp__msg_u64(&r.m, "attempt"), 2);
    CU_ASSERT_EQUAL(rp__msg_u64(&r.m, "job"), 3);
    CU_ASSERT_EQUAL(rp__msg_u64(&r.m, "shard"), 0);
    rp__msg_free(&r.m);
    rp__msg_free(&r.m);         /* twice: harmless */
    rp__msg_free(NULL);
    ACCEPTED_LIT("{\"type\":\"drain\"}", RP_MSG_DRAIN);
    ACCEPTED_LIT("{\"type\":\"revoked\",\"task\":1,\"attempt\":0,\"ok\":false}", RP_MSG_REVOKED);
}

/* ---- readers refuse fields the type does not have ---- */

static void read_u64_nope(const rp_msg *m) { (void)rp__msg_u64(m, "nope"); }
static void read_str_nope(const rp_msg *m) { (void)rp__msg_str(m, "nope"); }
static void read_bool_nope(const rp_msg *m) { (void)rp__msg_bool(m, "nope"); }
static void read_has_nope(const rp_msg *m) { (void)rp__msg_has(m, "nope"); }
static void read_item_nope(const rp_msg *m) { (void)rp__msg_item(m, "nope"); }
static void read_other_types_field(const rp_msg *m) { (void)rp__msg_u64(m, "task"); }
static void read_own_field(const rp_msg *m) { (void)rp__msg_u64(m, "t"); }

/* Whether fn(m) aborts, in a child. */
static bool
aborts(void (*fn)(const rp_msg *), const rp_msg *m)
{
    pid_t pid;
    int status = 0;

    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 2);
        fn(m);
        _exit(0);
    }
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void
reading_a_field_the_type_lacks_aborts(void)
{
    static const char text[] = "{\"type\":\"ping\",\"t\":3}";
    struct dec r;

    dec_run(&r, text, sizeof text - 1, 0);
    CU_ASSERT_EQUAL_FATAL(r.st, RP_OK);
    CU_ASSERT_TRUE(aborts(read_u64_nope, &r.m));
    CU_ASSERT_TRUE(aborts(read_str_nope, &r.m));
    CU_ASSERT_TRUE(aborts(read_bool_nope, &r.m));
    CU_ASSERT_TRUE(aborts(read_has_nope, &r.m));
    CU_ASSERT_TRUE(aborts(read_item_nope, &r.m));
    CU_ASSERT_TRUE(aborts(read_other_types_field, &r.m));
    CU_ASSERT_FALSE(aborts(read_own_field, &r.m));
    rp__msg_free(&r.m);
}

/* ---- the frame: bytes, UTF-8, JSON, object ---- */

static void
empty_frame_is_malformed(void)
{
    rp_msg m;
    enum rp_proto_error code = RP_PROTO_OK;
    char *why = NULL;

    REFUSED("", 0, "empty");
    memset(&m, 0xa5, sizeof m);
    CU_ASSERT_EQUAL(rp__msg_decode(NULL, 0, 0, &m, &code, &why), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(code, RP_PROTO_MALFORMED);
    CU_ASSERT(why != NULL && why[0] != '\0');
    free(why);
    why = NULL;
    CU_ASSERT_EQUAL(rp__msg_decode(NULL, 5, 0, &m, &code, &why), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(code, RP_PROTO_MALFORMED);
    CU_ASSERT(why != NULL && why[0] != '\0');
    free(why);
    REFUSED_LIT(" ", "JSON");
    REFUSED_LIT("\n\r\t ", "JSON");
}

static void
nul_byte_is_malformed(void)
{
    REFUSED_LIT("\0", "UTF-8");
    REFUSED_LIT("{\"type\":\"ping\",\"t\":1}\0", "UTF-8");
    REFUSED_LIT("{\"type\":\"pi\0ng\",\"t\":1}", "UTF-8");
    REFUSED_LIT("\0{\"type\":\"ping\",\"t\":1}", "UTF-8");
    REFUSED_LIT("{\"type\":\"ping\",\"t\":1}\0\0\0\0", "UTF-8");
}

static void
invalid_utf8_is_malformed(void)
{
    static const char *const bad[] = {
        "\x80",                 /* a lone continuation byte */
        "\xbf",
        "\xc0\xaf",             /* overlong '/' */
        "\xc1\xbf",             /* overlong */
        "\xe0\x80\xaf",         /* overlong, 3 bytes */
        "\xf0\x80\x80\xaf",     /* overlong, 4 bytes */
        "\xed\xa0\x80",         /* a surrogate, U+D800 */
        "\xed\xbf\xbf",         /* U+DFFF */
        "\xf4\x90\x80\x80",     /* over U+10FFFF */
        "\xf5\x80\x80\x80",
        "\xf8\x88\x80\x80\x80", /* 5 bytes */
        "\xfe",
        "\xff",
        "\xc3(",                /* a start byte without its continuation */
        "\xe2\x82(",
    };
    static const char *const tails[] = { "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xf4" };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = fmt_text("{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,\"node\":\"a%sb\"}",
                           bad[i]);
        REFUSED_TEXT(t, "UTF-8");
        free(t);
        t = fmt_text("{\"type\":\"ping\",\"t\":1}%s", bad[i]);
        REFUSED_TEXT(t, "UTF-8");
        free(t);
    }
    /* a sequence cut by the end of the frame */
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        char *t = fmt_text("{\"type\":\"ping\",\"t\":1} %s", tails[i]);
        REFUSED_TEXT(t, "UTF-8");
        free(t);
        t = fmt_text("{\"type\":\"ping\",\"t\":1,\"x\":\"%s", tails[i]);
        REFUSED_TEXT(t, "UTF-8");
        free(t);
    }
    /* the edges that are fine */
    ACCEPTED_LIT("{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,"
                 "\"node\":\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"
                 "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"}",
                 RP_MSG_HELLO);
}

static void
not_json_is_malformed(void)
{
    static const char *const bad[] = {
        "x",
        "{",
        "}",
        "{\"type\":\"ping\",\"t\":1",
        "{\"type\":\"ping\",\"t\":1,}",
        "{\"type\":\"ping\",,\"t\":1}",
        "{'type':'ping','t':1}",
        "{type:\"ping\",\"t\":1}",
        "{\"type\":\"ping\" \"t\":1}",
        "{\"type\" \"ping\",\"t\":1}",
        "{\"type\":\"ping\",\"t\":0x10}",
        "{\"type\":\"ping\",\"t\":+1}",
        "{\"type\":\"ping\",\"t\":.5}",
        "{\"type\":\"ping\",\"t\":-}",
        "{\"type\":\"ping\",\"t\":1e}",
        "{\"type\":\"ping\",\"t\":NaN}",
        "{\"type\":\"ping\",\"t\":Infinity}",
        "{\"type\":\"ping\",\"t\":tru}",
        "{\"type\":\"ping\",\"t\":nul}",
        "{\"type\":\"ping\",\"t\":1} /* comment */",
        "{\"type\":\"ping\\x\",\"t\":1}",              /* bad escape */
        "{\"type\":\"ping\\u12\",\"t\":1}",            /* short \u */
        "{\"type\":\"ping\\ud800\",\"t\":1}",          /* lone high surrogate */
        "{\"type\":\"ping\\udc00\",\"t\":1}",          /* lone low surrogate */
        "{\"type\":\"ping\\ud800\\u0041\",\"t\":1}",   /* high surrogate, no low */
        "{\"type\":\"ping,\"t\":1}",                   /* unterminated string */
        "{\"type\":\"ping\",\"t\":1]",
        "[",
        "\"",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        REFUSED_TEXT(bad[i], NULL);
    REFUSED_LIT("{", "JSON");
    REFUSED_LIT("{\"type\":\"ping\",\"t\":0x10}", "JSON");
    REFUSED_LIT("{\"type\":\"ping\\ud800\",\"t\":1}", "JSON");
    /* cJSON's own nesting limit: refused, not a crash */
    {
        char *deep = repeat('[', 5000);
        REFUSED_TEXT(deep, NULL);
        free(deep);
        deep = repeat('{', 5000);
        REFUSED_TEXT(deep, NULL);
        free(deep);
    }
}

static void
json_that_is_not_an_object_is_malformed(void)
{
    REFUSED_LIT("[]", "object");
    REFUSED_LIT("[{\"type\":\"ping\",\"t\":1}]", "object");
    REFUSED_LIT("\"ping\"", "object");
    REFUSED_LIT("1", "object");
    REFUSED_LIT("-1.5e3", "object");
    REFUSED_LIT("null", "object");
    REFUSED_LIT("true", "object");
    REFUSED_LIT("false", "object");
    REFUSED_LIT("  [1, 2]  ", "object");
}

static void
text_after_the_object_is_malformed(void)
{
    static const char *const bad[] = {
        "{\"type\":\"ping\",\"t\":1} x",
        "{\"type\":\"ping\",\"t\":1}x",
        "{\"type\":\"ping\",\"t\":1}{\"type\":\"ping\",\"t\":2}",
        "{\"type\":\"ping\",\"t\":1}\n{\"type\":\"ping\",\"t\":2}",
        "{\"type\":\"ping\",\"t\":1},",
        "{\"type\":\"ping\",\"t\":1}]",
        "{\"type\":\"ping\",\"t\":1}}",
        "{\"type\":\"ping\",\"t\":1} 1",
        "{\"type\":\"ping\",\"t\":1}\x0b",          /* vertical tab: not JSON blank */
        "{\"type\":\"ping\",\"t\":1}\x0c",          /* form feed */
        "{\"type\":\"ping\",\"t\":1}\x01",
        "{\"type\":\"ping\",\"t\":1}\xc2\xa0",      /* no-break space */
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        REFUSED_TEXT(bad[i], "JSON");
    ACCEPTED_LIT("{\"type\":\"ping\",\"t\":1} ", RP_MSG_PING);
    ACCEPTED_LIT("{\"type\":\"ping\",\"t\":1}\t", RP_MSG_PING);
    ACCEPTED_LIT("{\"type\":\"ping\",\"t\":1}\n", RP_MSG_PING);
    ACCEPTED_LIT("{\"type\":\"ping\",\"t\":1}\r\n", RP_MSG_PING);
    ACCEPTED_LIT("{\"type\":\"ping\",\"t\":1}  \n\n\t \r\n", RP_MSG_PING);
    ACCEPTED_LIT(" \n\t\r{\"type\":\"ping\",\"t\":1}", RP_MSG_PING);
    ACCEPTED_LIT("{ \"type\" : \"ping\" ,\n\t\"t\" : 1 }", RP_MSG_PING);
}

/* ---- "type" ---- */

static void
type_must_be_one_known_string(void)
{
    static const char *const unknown[] = {
        "", "Ping", "PING", " ping", "ping ", "pingpong", "hello_", "error2", "drain\n", "type",
    };

    REFUSED_LIT("{}", "type");
    REFUSED_LIT("{\"t\":1}", "type");
    REFUSED_LIT("{\"Type\":\"ping\",\"t\":1}", "type");
    REFUSED_LIT("{\"type\":1,\"t\":1}", "type");
    REFUSED_LIT("{\"type\":null,\"t\":1}", "type");
    REFUSED_LIT("{\"type\":true,\"t\":1}", "type");
    REFUSED_LIT("{\"type\":[\"ping\"],\"t\":1}", "type");
    REFUSED_LIT("{\"type\":{\"ping\":1},\"t\":1}", "type");
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        cJSON *o = parse_json("{\"t\":1}");
        cJSON_AddStringToObject(o, "type", unknown[i]);
        REFUSED_JSON(o, "unknown", NULL);
    }
    /* a long unknown type: the why stays short */
    {
        char *name = repeat('z', 5000), *t = fmt_text("{\"type\":\"%s\"}", name);
        struct dec r;

        dec_run(&r, t, strlen(t), 0);
        CU_ASSERT_EQUAL(r.st, RP_ERR_INVALID);
        CU_ASSERT(r.why != NULL && strlen(r.why) < 200);
        free(r.why);
        free(t);
        free(name);
    }
    /* given twice, the same or another */
    REFUSED_LIT("{\"type\":\"ping\",\"type\":\"ping\",\"t\":1}", "twice");
    REFUSED_LIT("{\"type\":\"ping\",\"t\":1,\"type\":\"pong\"}", "twice");
    REFUSED_LIT("{\"type\":\"drain\",\"type\":\"drain\"}", "twice");
    REFUSED_LIT("{\"type\":\"ping\",\"t\":1,\"type\":1}", "twice");
    /* each name as the type, with another type's fields: refused */
    REFUSED_LIT("{\"type\":\"pong\",\"task\":1,\"attempt\":1}", NULL);
}

/* ---- fields: unknown, twice, missing, mistyped ---- */

static void
unknown_field_is_malformed_for_every_type(void)
{
    for (size_t ti = 0; ti < N_DOC; ti++) {
        REFUSED_JSON(msg_with(ti, "bogus", cJSON_CreateNumber(1)), "unknown field", "bogus");
        REFUSED_JSON(msg_with(ti, "Bogus", cJSON_CreateNull()), "unknown field", NULL);
        REFUSED_JSON(msg_with(ti, "", cJSON_CreateString("")), "unknown field", NULL);
        /* a name of another type's field */
        if (doc_field(&doc[ti], "pid") == NULL)
            REFUSED_JSON(msg_with(ti, "pid", cJSON_CreateNumber(1)), "unknown field", "pid");
        /* a known name in another case */
        if (doc[ti].fields[0].name != NULL) {
            char upper[64];
            snprintf(upper, sizeof upper, "%s", doc[ti].fields[0].name);
            upper[0] = (char)(upper[0] - 'a' + 'A');
            REFUSED_JSON(msg_with(ti, upper, valid_value(ti, 0)), "unknown field", NULL);
        }
    }
}

static void
field_given_twice_is_malformed_for_every_field(void)
{
    for (size_t ti = 0; ti < N_DOC; ti++)
        for (size_t fi = 0; doc[ti].fields[fi].name != NULL; fi++) {
            cJSON *o = build(ti, true);
            cJSON_AddItemToObject(o, doc[ti].fields[fi].name, valid_value(ti, fi));
            REFUSED_JSON(o, "twice", doc[ti].fields[fi].name);
        }
    REFUSED_LIT("{\"type\":\"ping\",\"t\":1,\"t\":1}", "twice");
    REFUSED_LIT("{\"type\":\"ping\",\"t\":1,\"t\":\"x\"}", "twice");
}

static void
missing_required_field_is_malformed_for_every_type(void)
{
    for (size_t ti = 0; ti < N_DOC; ti++) {
        for (size_t fi = 0; doc[ti].fields[fi].name != NULL; fi++) {
            const char *name = doc[ti].fields[fi].name;
            if (doc[ti].fields[fi].optional) {
                /* dropping an optional one is fine */
                ACCEPTED_JSON(msg_with(ti, name, NULL), doc[ti].type);
                continue;
            }
            REFUSED_JSON(msg_with(ti, name, NULL), "missing", name);
            /* also from the message with only its required fields */
            {
                cJSON *o = build(ti, false);
                cJSON_DeleteItemFromObjectCaseSensitive(o, name);
                REFUSED_JSON(o, "missing", name);
            }
        }
        /* the type alone: fine only for drain */
        {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "type", doc[ti].name);
            if (doc[ti].fields[0].name == NULL)
                ACCEPTED_JSON(o, doc[ti].type);
            else
                REFUSED_JSON(o, "missing", NULL);
        }
    }
}

static const char *const wrong_u64[] = {
    "\"7\"", "true", "false", "null", "[]", "[1]", "{}", "1.5", "0.1", "-1", "-0.5",
    "9007199254740994", "18446744073709551616", "1e300", "-1e300", "1e999",
};
static const char *const wrong_u32[] = {
    "\"7\"", "true", "null", "[]", "{}", "1.5", "-1", "4294967296", "4294967295.5", "1e10", "1e999",
};
static const char *const wrong_str[] = { "1", "0", "true", "null", "[]", "[\"x\"]", "{}" };
static const char *const wrong_bool[] = { "0", "1", "\"true\"", "\"false\"", "null", "[]", "{}" };
static const char *const wrong_obj[] = { "[]", "[{}]", "\"x\"", "\"{}\"", "1", "null", "true" };
static const char *const wrong_strs[] = {
    "{}", "\"x\"", "1", "null", "true", "[1]", "[null]", "[true]", "[[]]", "[{}]", "[\"ok\",2]",
    "[\"ok\",[\"x\"]]",
};
static const char *const wrong_objs[] = {
    "{}", "\"x\"", "1", "null", "[1]", "[\"x\"]", "[[]]", "[null]", "[true]",
};

static void
wrong_field_types_are_malformed_for_every_field(void)
{
    for (size_t ti = 0; ti < N_DOC; ti++)
        for (size_t fi = 0; doc[ti].fields[fi].name != NULL; fi++) {
            const struct doc_field *f = &doc[ti].fields[fi];
            const char *const *wrong = NULL;
            size_t n = 0;

            switch (f->kind) {
            case U64: wrong = wrong_u64, n = sizeof wrong_u64 / sizeof *wrong_u64; break;
            case U32: wrong = wrong_u32, n = sizeof wrong_u32 / sizeof *wrong_u32; break;
            case STR: wrong = wrong_str, n = sizeof wrong_str / sizeof *wrong_str; break;
            case BOOL: wrong = wrong_bool, n = sizeof wrong_bool / sizeof *wrong_bool; break;
            case OBJ: wrong = wrong_obj, n = sizeof wrong_obj / sizeof *wrong_obj; break;
            case STRS: wrong = wrong_strs, n = sizeof wrong_strs / sizeof *wrong_strs; break;
            case OBJS: wrong = wrong_objs, n = sizeof wrong_objs / sizeof *wrong_objs; break;
            }
            for (size_t k = 0; k < n; k++) {
                /* as text (numbers exactly as written) and as cJSON for the encoder */
                cJSON *o = build(ti, true);
                char *text, *wtext;
                cJSON_DeleteItemFromObjectCaseSensitive(o, f->name);
                text = print_json(o);
                cJSON_Delete(o);
                /* text ends with '}': put the field before it */
                text[strlen(text) - 1] = '\0';
                wtext = fmt_text("%s,\"%s\":%s}", text, f->name, wrong[k]);
                REFUSED_TEXT(wtext, f->name);
                free(wtext);
                free(text);
                if (strcmp(wrong[k], "1e999") != 0) {
                    cJSON *v = cJSON_Parse(wrong[k]);
                    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
                    REFUSED_JSON(msg_with(ti, f->name, v), f->name, NULL);
                }
            }
        }
}

/* ---- values: ranges, limits, sets ---- */

static void
numbers_out_of_range_are_malformed(void)
{
    REFUSED_LIT("{\"type\":\"ping\",\"t\":-1}", "whole number");
    REFUSED_LIT("{\"type\":\"ping\",\"t\":1.5}", "whole number");
    REFUSED_LIT("{\"type\":\"ping\",\"t\":9007199254740994}", "whole number");
    REFUSED_LIT("{\"type\":\"ping\",\"t\":1e16}", "whole number");
    REFUSED_LIT("{\"type\":\"cancel\",\"task\":1,\"attempt\":4294967296}", "whole number");
    REFUSED_LIT("{\"type\":\"cancel\",\"task\":1,\"attempt\":1.5}", "whole number");
    REFUSED_LIT("{\"type\":\"cancel\",\"task\":1,\"attempt\":-1}", "whole number");
    REFUSED_LIT("{\"type\":\"result\",\"task\":1,\"attempt\":1,\"state\":\"failed\","
                "\"exit_code\":4294967296,\"wall_ns\":0,\"user_ns\":0,\"system_ns\":0,"
                "\"max_rss_kb\":0,\"out_total\":0,\"err_total\":0}",
                "exit_code");
    REFUSED_LIT("{\"type\":\"result\",\"task\":1,\"attempt\":1,\"state\":\"failed\","
                "\"signal\":-9,\"wall_ns\":0,\"user_ns\":0,\"system_ns\":0,"
                "\"max_rss_kb\":0,\"out_total\":0,\"err_total\":0}",
                "signal");
    REFUSED_LIT("{\"type\":\"result\",\"task\":1,\"attempt\":1,\"state\":\"failed\","
                "\"exit_code\":4294967295,\"signal\":0,\"wall_ns\":9007199254740992,"
                "\"user_ns\":0,\"system_ns\":0,\"max_rss_kb\":0,\"out_total\":0,"
                "\"err_total\":0}",
                "wall_ns");
    ACCEPTED_LIT("{\"type\":\"result\",\"task\":1,\"attempt\":1,\"state\":\"failed\","
                 "\"exit_code\":4294967295,\"signal\":0,\"wall_ns\":9007199254740991,"
                 "\"user_ns\":0,\"system_ns\":0,\"max_rss_kb\":0,\"out_total\":0,"
                 "\"err_total\":0}",
                 RP_MSG_RESULT);
}

static void
strings_over_their_limit_are_malformed(void)
{
    for (size_t ti = 0; ti < N_DOC; ti++)
        for (size_t fi = 0; doc[ti].fields[fi].name != NULL; fi++) {
            const struct doc_field *f = &doc[ti].fields[fi];
            size_t limit = f->max ? f->max : MAX_STRING_DEFAULT;
            char *s;

            if (f->kind != STR || f->max == ENUMERATED)
                continue;
            s = repeat('x', limit);
            ACCEPTED_JSON(msg_with(ti, f->name, cJSON_CreateString(s)), doc[ti].type);
            free(s);
            s = repeat('x', limit + 1);
            REFUSED_JSON(msg_with(ti, f->name, cJSON_CreateString(s)), "longer", f->name);
            free(s);
        }
    /* bytes, not characters: 127 2-byte characters and one byte fit 255 */
    {
        char node[300] = "";
        for (int i = 0; i < 127; i++)
            strcat(node, "\xc3\xa9");
        strcat(node, "x");
        CU_ASSERT_EQUAL(strlen(node), 255);
        ACCEPTED_JSON(msg_with(RP_MSG_HELLO, "node", cJSON_CreateString(node)), RP_MSG_HELLO);
        node[254] = '\0';
        strcat(node, "\xc3\xa9");  /* 128 of them: 256 bytes */
        CU_ASSERT_EQUAL(strlen(node), 256);
        REFUSED_JSON(msg_with(RP_MSG_HELLO, "node", cJSON_CreateString(node)), "longer", "node");
    }
    /* escapes count as the bytes they stand for: 255 "\u0041" is 255 bytes */
    {
        char *t = malloc(255 * 6 + 128), *p;
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        p = t + sprintf(t, "{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,\"node\":\"");
        for (int i = 0; i < 255; i++)
            p += sprintf(p, "\\u0041");
        strcpy(p, "\"}");
        ACCEPTED_TEXT(t, RP_MSG_HELLO);
        free(t);
    }
    /* entries of a [str] have the default limit */
    {
        char *s = repeat('k', MAX_STRING_DEFAULT);
        cJSON *a = cJSON_CreateArray();
        cJSON_AddItemToArray(a, cJSON_CreateString(s));
        ACCEPTED_JSON(msg_with(RP_MSG_WELCOME, "gpus", a), RP_MSG_WELCOME);
        free(s);
        s = repeat('k', MAX_STRING_DEFAULT + 1);
        a = cJSON_CreateArray();
        cJSON_AddItemToArray(a, cJSON_CreateString("ok"));
        cJSON_AddItemToArray(a, cJSON_CreateString(s));
        REFUSED_JSON(msg_with(RP_MSG_WELCOME, "gpus", a), "gpus", NULL);
        a = cJSON_CreateArray();
        cJSON_AddItemToArray(a, cJSON_CreateString(s));
        REFUSED_JSON(msg_with(RP_MSG_WELCOME, "cached_keys", a), "cached_keys", NULL);
        free(s);
    }
}

/* An array of n entries for field f of type ti. */
static cJSON *
array_of(size_t ti, const char *field, size_t n)
{
    cJSON *a = cJSON_CreateArray();

    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "e%zu", i);
        if (doc_field(&doc[ti], field)->kind == STRS) {
            cJSON_AddItemToArray(a, cJSON_CreateString(name));
        } else {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "name", name);
            cJSON_AddStringToObject(e, "sha256", HEX_A);
            cJSON_AddNumberToObject(e, "size", (double)i);
            cJSON_AddNumberToObject(e, "mode", 0644);
            cJSON_AddItemToArray(a, e);
        }
    }
    return a;
}

static void
arrays_over_their_limit_are_malformed(void)
{
    for (size_t ti = 0; ti < N_DOC; ti++)
        for (size_t fi = 0; doc[ti].fields[fi].name != NULL; fi++) {
            const struct doc_field *f = &doc[ti].fields[fi];

            if (f->kind != STRS && f->kind != OBJS)
                continue;
            ACCEPTED_JSON(msg_with(ti, f->name, array_of(ti, f->name, 0)), doc[ti].type);
            ACCEPTED_JSON(msg_with(ti, f->name, array_of(ti, f->name, f->max)), doc[ti].type);
            REFUSED_JSON(msg_with(ti, f->name, array_of(ti, f->name, f->max + 1)), "more than",
                         f->name);
        }
}

/* {"a":{"a":...{}}} or [[...[]]]: `levels` deep. */
static cJSON *
nested(int levels, bool arrays)
{
    cJSON *v = arrays ? cJSON_CreateArray() : cJSON_CreateObject();

    for (int i = 1; i < levels; i++) {
        cJSON *outer = arrays ? cJSON_CreateArray() : cJSON_CreateObject();
        if (arrays)
            cJSON_AddItemToArray(outer, v);
        else
            cJSON_AddItemToObject(outer, "a", v);
        v = outer;
    }
    return v;
}

static void
nesting_deeper_than_the_limit_is_malformed(void)
{
    /* the message is level 1, spec level 2: spec may hold 6 more */
    ACCEPTED_JSON(msg_with(RP_MSG_SUBMIT, "spec", nested(RP_PROTO_MAX_DEPTH - 1, false)),
                  RP_MSG_SUBMIT);
    {
        cJSON *spec = cJSON_CreateObject();
        cJSON_AddItemToObject(spec, "x", nested(RP_PROTO_MAX_DEPTH - 2, true));
        ACCEPTED_JSON(msg_with(RP_MSG_SUBMIT, "spec", spec), RP_MSG_SUBMIT);
        spec = cJSON_CreateObject();
        cJSON_AddItemToObject(spec, "x", nested(RP_PROTO_MAX_DEPTH - 1, true));
        REFUSED_JSON(msg_with(RP_MSG_SUBMIT, "spec", spec), "deeper", NULL);
    }
    REFUSED_JSON(msg_with(RP_MSG_SUBMIT, "spec", nested(RP_PROTO_MAX_DEPTH, false)), "deeper",
                 NULL);
    REFUSED_JSON(msg_with(RP_MSG_SUBMIT, "spec", nested(RP_PROTO_MAX_DEPTH + 5, false)), "deeper",
                 NULL);
    /* exactly, as text: 8 levels fine, 9 not, one deep branch among shallow ones */
    ACCEPTED_LIT("{\"type\":\"submit\",\"task\":1,\"attempt\":1,\"job\":1,\"shard\":0,"
                 "\"total_shards\":1,\"spec\":{\"x\":1,\"a\":[[{\"b\":[{\"c\":[]}]}]],\"y\":{}}}",
                 RP_MSG_SUBMIT);
    REFUSED_LIT("{\"type\":\"submit\",\"task\":1,\"attempt\":1,\"job\":1,\"shard\":0,"
                "\"total_shards\":1,\"spec\":{\"x\":1,\"a\":[[{\"b\":[{\"c\":[[]]}]}]],\"y\":{}}}",
                "deeper");
    /* the deep branch last, after the required fields */
    REFUSED_LIT("{\"type\":\"submit\",\"spec\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                "{}}}}}}}},\"task\":1,\"attempt\":1,\"job\":1,\"shard\":0,\"total_shards\":1}",
                "deeper");
    /* depth in a field that is not spec: an entry of files with a nested value */
    REFUSED_LIT("{\"type\":\"welcome\",\"proto\":1,\"node\":\"n\",\"session\":\"s\",\"cores\":1,"
                "\"memory_mb\":1,\"slots\":1,\"gpus\":[[[[[[[[\"x\"]]]]]]]]}",
                NULL);
    /* far too deep, in a field unknown to the type: refused either way */
    {
        char *open = repeat('[', 500), *close = repeat(']', 500);
        char *t = fmt_text("{\"type\":\"ping\",\"t\":1,\"x\":%s%s}", open, close);
        REFUSED_TEXT(t, NULL);
        free(t);
        free(open);
        free(close);
    }
}

static void
sha256_must_be_64_lowercase_hex(void)
{
    static const char *const bad[] = {
        "",
        HEX_A "0",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
        "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
        " 123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "0x23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n",
        "-123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        REFUSED_JSON(msg_with(RP_MSG_NEED_FILE, "sha256", cJSON_CreateString(bad[i])), "sha256",
                     NULL);
        REFUSED_JSON(msg_with(RP_MSG_CHECKPOINT, "sha256", cJSON_CreateString(bad[i])),
                     "sha256", NULL);
    }
    ACCEPTED_JSON(msg_with(RP_MSG_NEED_FILE, "sha256", cJSON_CreateString(HEX_B)),
                  RP_MSG_NEED_FILE);
    ACCEPTED_JSON(msg_with(RP_MSG_CHECKPOINT, "sha256", cJSON_CreateString(HEX_B)),
                  RP_MSG_CHECKPOINT);
    ACCEPTED_LIT("{\"type\":\"need_file\",\"sha256\":\"" HEX_A "\"}", RP_MSG_NEED_FILE);
}

static void
result_state_is_one_of_four(void)
{
    static const char *const bad[] = {
        "", "Succeeded", "SUCCEEDED", "succeeded ", " failed", "running", "timedout",
        "timed-out", "cancelled\n", "canceled", "lost", "ok",
    };

    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        ACCEPTED_JSON(msg_with(RP_MSG_RESULT, "state", cJSON_CreateString(states[i])),
                      RP_MSG_RESULT);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        REFUSED_JSON(msg_with(RP_MSG_RESULT, "state", cJSON_CreateString(bad[i])), "state",
                     NULL);
}

static void
error_code_is_one_of_the_table(void)
{
    static const char *const bad[] = {
        "", "Malformed", "too-big", "toobig", "ok", "fatal", "timeout", "internal ", "auth\n",
        "unknown", "error",
    };

    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        ACCEPTED_JSON(msg_with(RP_MSG_ERROR, "code", cJSON_CreateString(codes[i])),
                      RP_MSG_ERROR);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        REFUSED_JSON(msg_with(RP_MSG_ERROR, "code", cJSON_CreateString(bad[i])), "code", NULL);
}

/* ---- files ---- */

static const char *const unsafe_names[] = {
    "/abs", "/", "//x", "../x", "..", ".", "./a", "a/.", "a/..", "a/../b", "a/./b", "a//b",
    "a/", "a/b/", "",
};

/* A submit whose files hold one entry: name (NULL: "f") and the rest
 * valid; extra fields parsed from extra_json (NULL: none). */
static cJSON *
submit_with_entry(const char *name, const char *extra_json)
{
    cJSON *e = cJSON_CreateObject(), *a = cJSON_CreateArray();

    cJSON_AddStringToObject(e, "name", name ? name : "f");
    cJSON_AddStringToObject(e, "sha256", HEX_A);
    cJSON_AddNumberToObject(e, "size", 10);
    cJSON_AddNumberToObject(e, "mode", 0644);
    if (extra_json != NULL) {
        cJSON *x = parse_json(extra_json), *c;
        while ((c = x->child) != NULL) {
            cJSON_DetachItemViaPointer(x, c);
            cJSON_DeleteItemFromObjectCaseSensitive(e, c->string);
            cJSON_AddItemToObject(e, c->string, c);
        }
        cJSON_Delete(x);
    }
    cJSON_AddItemToArray(a, e);
    return msg_with(RP_MSG_SUBMIT, "files", a);
}

/* A submit text whose files array is files_json, exactly as written. */
static char *
submit_text(const char *files_json)
{
    return fmt_text("{\"type\":\"submit\",\"task\":1,\"attempt\":1,\"job\":1,\"shard\":0,"
                    "\"total_shards\":1,\"spec\":{\"v\":1},\"files\":%s}",
                    files_json);
}

#define ENTRY(name, size, mode) \
    "[{\"name\":" name ",\"sha256\":\"" HEX_A "\",\"size\":" size ",\"mode\":" mode "}]"

static void
files_entries_are_checked(void)
{
    static const struct {
        const char *files;
        bool ok;
    } cases[] = {
        { ENTRY("\"a\"", "0", "0"), true },
        { ENTRY("\"dir/run.sh\"", "9007199254740991", "4095"), true },
        { ENTRY("\"dir/run.sh\"", "9007199254740992", "4095"), false },  /* over 2^53 - 1 */
        { ENTRY("\"a\"", "1", "4096"), false },                 /* mode > 07777 */
        { ENTRY("\"a\"", "1", "-1"), false },
        { ENTRY("\"a\"", "1", "1.5"), false },
        { ENTRY("\"a\"", "1", "\"0644\""), false },
        { ENTRY("\"a\"", "1", "null"), false },
        { ENTRY("\"a\"", "-1", "420"), false },                 /* size negative */
        { ENTRY("\"a\"", "0.5", "420"), false },                /* fractional */
        { ENTRY("\"a\"", "1e300", "420"), false },
        { ENTRY("\"a\"", "9007199254740994", "420"), false },
        { ENTRY("\"a\"", "\"10\"", "420"), false },
        { ENTRY("1", "1", "420"), false },                      /* name not a string */
        { ENTRY("null", "1", "420"), false },
        { ENTRY("[\"a\"]", "1", "420"), false },
        { "[{\"name\":\"a\",\"sha256\":\"" HEX_A "\",\"size\":1,\"mode\":420,\"x\":1}]", false },
        { "[{\"name\":\"a\",\"sha256\":\"" HEX_A "\",\"size\":1}]", false },
        { "[{\"name\":\"a\",\"sha256\":\"" HEX_A "\",\"mode\":1}]", false },
        { "[{\"name\":\"a\",\"size\":1,\"mode\":1}]", false },
        { "[{\"sha256\":\"" HEX_A "\",\"size\":1,\"mode\":1}]", false },
        /* four keys, one unknown in place of a known one */
        { "[{\"name\":\"a\",\"sha256\":\"" HEX_A "\",\"size\":1,\"owner\":1}]", false },
        /* a key twice, so four keys but one missing; or five */
        { "[{\"name\":\"a\",\"name\":\"b\",\"sha256\":\"" HEX_A "\",\"size\":1}]", false },
        { "[{\"name\":\"a\",\"sha256\":\"" HEX_A "\",\"size\":1,\"mode\":1,\"name\":\"b\"}]",
          false },
        { "[{\"name\":\"a\",\"sha256\":\"" HEX_B "\",\"size\":1,\"mode\":1},{}]", false },
        { "[{\"name\":\"a\",\"sha256\":1,\"size\":1,\"mode\":1}]", false },
        { "[{\"name\":\"a\",\"sha256\":\"" HEX_A "X\",\"size\":1,\"mode\":1}]", false },
        { "[{\"name\":\"a\",\"sha256\":\"ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"
          "0123456789\",\"size\":1,\"mode\":1}]",
          false },
        { "[{\"Name\":\"a\",\"sha256\":\"" HEX_A "\",\"size\":1,\"mode\":1}]", false },
        { "[{\"name\":\"a\",\"sha256\":\"" HEX_A "\",\"size\":1,\"mode\":1},"
          "{\"name\":\"b/c\",\"sha256\":\"" HEX_B "\",\"size\":2,\"mode\":511}]",
          true },
        { "[]", true },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = submit_text(cases[i].files);
        if (cases[i].ok)
            ACCEPTED_TEXT(t, RP_MSG_SUBMIT);
        else
            REFUSED_TEXT(t, "files");
        free(t);
    }
    /* every unsafe name, in a message (and to the encoder) */
    for (size_t i = 0; i < sizeof unsafe_names / sizeof unsafe_names[0]; i++)
        REFUSED_JSON(submit_with_entry(unsafe_names[i], NULL), "files", NULL);
    {
        char *name = repeat('n', 255);
        ACCEPTED_JSON(submit_with_entry(name, NULL), RP_MSG_SUBMIT);
        free(name);
        name = repeat('n', 256);
        REFUSED_JSON(submit_with_entry(name, NULL), "files", NULL);
        free(name);
    }
    ACCEPTED_JSON(submit_with_entry(".hidden", NULL), RP_MSG_SUBMIT);
    ACCEPTED_JSON(submit_with_entry("a..b/c...d", NULL), RP_MSG_SUBMIT);
    REFUSED_JSON(submit_with_entry(NULL, "{\"extra\":true}"), "files", NULL);
    REFUSED_JSON(submit_with_entry(NULL, "{\"mode\":4096}"), "files", NULL);
    ACCEPTED_JSON(submit_with_entry(NULL, "{\"mode\":4095}"), RP_MSG_SUBMIT);
    REFUSED_JSON(submit_with_entry(NULL, "{\"size\":-1}"), "files", NULL);
    REFUSED_JSON(submit_with_entry(NULL, "{\"size\":0.25}"), "files", NULL);
    REFUSED_JSON(submit_with_entry(NULL, "{\"mode\":0.25}"), "files", NULL);
}

/* "\u0000" in a name: cJSON ends the string at the NUL. Whatever the
 * decoder makes of it, a name that comes out must be safe. */
static void
nul_escape_in_a_file_name_is_never_unsafe(void)
{
    static const char *const names[] = {
        "\\u0000", "a\\u0000/../../etc/passwd", "\\u0000/abs", "..\\u0000x", "a/\\u0000",
        "ok\\u0000",
    };

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *files = fmt_text(ENTRY("\"%s\"", "1", "420"), names[i]);
        char *t = submit_text(files);
        struct dec r;

        dec_run(&r, t, strlen(t), 0);
        if (r.st == RP_OK) {
            const cJSON *f = cJSON_GetArrayItem(rp__msg_item(&r.m, "files"), 0);
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
            check_at(__LINE__, cJSON_IsString(name) && rp__proto_safe_name(name->valuestring),
                     "a name that decodes is safe: %s", names[i]);
            rp__msg_free(&r.m);
        } else {
            check_at(__LINE__, r.why != NULL && r.code == RP_PROTO_MALFORMED,
                     "refused with a why: %s", names[i]);
        }
        free(r.why);
        free(t);
        free(files);
    }
}

static void
safe_names_table(void)
{
    static const char *const ok[] = {
        "a", "a/b", "dir/file.sh", ".hidden", "a..b", "...", "..a", "a..", ".a/.b", "a b",
        "a\\b", "-", "\xc3\xa9t\xc3\xa9", "a/b/c/d/e/f",
    };

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        check_at(__LINE__, rp__proto_safe_name(ok[i]), "safe: \"%s\"", ok[i]);
    for (size_t i = 0; i < sizeof unsafe_names / sizeof unsafe_names[0]; i++)
        check_at(__LINE__, !rp__proto_safe_name(unsafe_names[i]), "unsafe: \"%s\"",
                 unsafe_names[i]);
    CU_ASSERT_FALSE(rp__proto_safe_name(NULL));
    {
        char *n = repeat('n', 255);
        CU_ASSERT_TRUE(rp__proto_safe_name(n));
        free(n);
        n = repeat('n', 256);
        CU_ASSERT_FALSE(rp__proto_safe_name(n));
        free(n);
        n = repeat('n', 4096);
        CU_ASSERT_FALSE(rp__proto_safe_name(n));
        free(n);
        /* 255 bytes with components */
        n = repeat('d', 255);
        for (size_t i = 1; i < 255; i += 2)
            n[i] = '/';
        CU_ASSERT_TRUE(rp__proto_safe_name(n));
        free(n);
    }
}

/* ---- frame size ---- */

/* A valid ping padded with spaces to exactly len bytes. */
static char *
ping_of(size_t len)
{
    static const char ping[] = "{\"type\":\"ping\",\"t\":1}";
    char *s = malloc(len);

    CU_ASSERT_FATAL(s != NULL && len >= sizeof ping - 1);
    memset(s, ' ', len);
    memcpy(s, ping, sizeof ping - 1);
    return s;
}

static void
frame_over_the_limit_is_too_big(void)
{
    char *s = ping_of(101);

    expect_accepted_at(__LINE__, s, 100, 100, RP_MSG_PING);
    expect_refused_at(__LINE__, s, 101, 100, RP_PROTO_TOO_BIG, "limit", NULL);
    expect_accepted_at(__LINE__, s, 21, 21, RP_MSG_PING);
    expect_refused_at(__LINE__, s, 21, 20, RP_PROTO_TOO_BIG, "limit", NULL);
    expect_accepted_at(__LINE__, s, 101, SIZE_MAX, RP_MSG_PING);
    /* the size is checked before anything else */
    memcpy(s, "\xff\0garbage", 9);
    expect_refused_at(__LINE__, s, 101, 100, RP_PROTO_TOO_BIG, "limit", NULL);
    expect_refused_at(__LINE__, s, 100, 100, RP_PROTO_MALFORMED, NULL, NULL);
    free(s);
}

static void
default_limit_is_16_mib_and_checked_first(void)
{
    size_t n = RP_PROTO_MAX_FRAME_DEFAULT + 1;
    char *big = malloc(n), *why = NULL;
    enum rp_proto_error code = RP_PROTO_OK;
    rp_msg m, sentinel;
    double refuse_s = 1e9, parse_s, t0;
    rp_status st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, ' ', n);
    memset(&m, 0xa5, sizeof m);
    memcpy(&sentinel, &m, sizeof m);
    for (int i = 0; i < 3; i++) {   /* the best of three: a preemption is not the code */
        t0 = rp_test_now();
        st = rp__msg_decode(big, n, 0, &m, &code, &why);
        if (rp_test_now() - t0 < refuse_s)
            refuse_s = rp_test_now() - t0;
        CU_ASSERT_EQUAL(st, RP_ERR_INVALID);
        CU_ASSERT_EQUAL(code, RP_PROTO_TOO_BIG);
        CU_ASSERT(why != NULL && strstr(why, "limit") != NULL);
        CU_ASSERT(memcmp(&m, &sentinel, sizeof m) == 0);
        free(why);
        why = NULL;
    }
    /* the same bytes under a higher limit are parsed (and are not JSON) */
    t0 = rp_test_now();
    st = rp__msg_decode(big, n, n, &m, &code, &why);
    parse_s = rp_test_now() - t0;
    CU_ASSERT_EQUAL(st, RP_ERR_INVALID);
    CU_ASSERT_EQUAL(code, RP_PROTO_MALFORMED);
    free(why);
    free(big);
    /* nothing of a too big frame is read: far faster than reading it */
    check_at(__LINE__, refuse_s * 20 < parse_s && refuse_s < 0.01,
             "refusing a too big frame took %.6f s, parsing it %.6f s", refuse_s, parse_s);
    /* a valid message of exactly 16 MiB is fine; one byte more is not */
    big = ping_of(n);
    expect_accepted_at(__LINE__, big, n - 1, 0, RP_MSG_PING);
    expect_refused_at(__LINE__, big, n, 0, RP_PROTO_TOO_BIG, "limit", NULL);
    free(big);
}

/* ---- the encoder ---- */

static void
encode_refuses_what_decode_refuses(void)
{
    cJSON *cases[12];
    size_t n = 0;

    cases[n++] = cJSON_CreateArray();
    cases[n++] = cJSON_CreateString("ping");
    cases[n++] = parse_json("{\"t\":1}");
    cases[n++] = parse_json("{\"type\":\"pingg\",\"t\":1}");
    cases[n++] = parse_json("{\"type\":\"ping\",\"t\":1,\"x\":1}");
    cases[n++] = parse_json("{\"type\":\"ping\"}");
    cases[n++] = parse_json("{\"type\":\"ping\",\"t\":\"1\"}");
    cases[n++] = parse_json("{\"type\":\"ping\",\"t\":-1}");
    cases[n++] = parse_json("{\"type\":\"error\",\"code\":\"nope\",\"message\":\"\","
                            "\"fatal\":true}");
    cases[n++] = submit_with_entry("../x", NULL);
    cases[n++] = msg_with(RP_MSG_SUBMIT, "spec", nested(RP_PROTO_MAX_DEPTH, false));
    for (size_t i = 0; i < n; i++) {
        char *text = (char *)"x", *why = NULL;
        size_t len = 5;

        /* takes the object either way: ASan finds a leak if not */
        CU_ASSERT_EQUAL(rp__msg_encode(cases[i], &text, &len, &why), RP_ERR_INVALID);
        CU_ASSERT_PTR_NULL(text);
        CU_ASSERT_EQUAL(len, 0);
        check_at(__LINE__, why != NULL && why[0] != '\0', "encode case %zu says why", i);
        free(why);
    }
    {
        char *text = (char *)"x", *why = NULL;
        size_t len = 5;
        CU_ASSERT_EQUAL(rp__msg_encode(NULL, &text, &len, &why), RP_ERR_INVALID);
        CU_ASSERT_PTR_NULL(text);
        CU_ASSERT(why != NULL && why[0] != '\0');
        free(why);
    }
    /* a type or field added twice with cJSON */
    {
        cJSON *o = parse_json("{\"type\":\"ping\",\"t\":1}");
        cJSON_AddNumberToObject(o, "t", 2);
        REFUSED_JSON(o, "twice", NULL);
        o = parse_json("{\"type\":\"ping\",\"t\":1}");
        cJSON_AddStringToObject(o, "type", "pong");
        REFUSED_JSON(o, "twice", NULL);
    }
    /* what it accepts is exactly one line of compact JSON */
    {
        size_t len;
        char *text = encode_ok(build(RP_MSG_RESULT, true), &len);
        CU_ASSERT_PTR_NULL(memchr(text, '\n', len));
        CU_ASSERT_EQUAL(text[len], '\0');
        free(text);
    }
}

/* ---- binary frames ---- */

static void
expect_chunk_refused_at(int line, const void *data, size_t len, size_t max,
                        enum rp_proto_error want, const char *word)
{
    unsigned char *copy = malloc(len > 0 ? len : 1);
    struct rp_chunk c, sentinel;
    enum rp_proto_error code = (enum rp_proto_error)77;
    char *why = NULL, shown[200];
    rp_status st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    if (len > 0)
        memcpy(copy, data, len);
    memset(&c, 0xa5, sizeof c);
    memcpy(&sentinel, &c, sizeof c);
    show(data, len < 32 ? len : 32, shown, sizeof shown);
    st = rp__chunk_decode(copy, len, max, &c, &code, &why);
    check_at(line, st == RP_ERR_INVALID, "chunk refused (%zu bytes): %s", len, shown);
    check_at(line, code == want, "chunk code %d, want %d: %s", (int)code, (int)want, shown);
    check_at(line, why != NULL && why[0] != '\0', "chunk why: %s", shown);
    if (why != NULL && word != NULL)
        check_at(line, strstr(why, word) != NULL, "chunk why \"%s\" says \"%s\"", why, word);
    check_at(line, memcmp(&c, &sentinel, sizeof c) == 0, "chunk *out untouched: %s", shown);
    free(why);
    free(copy);
}

static void
chunks_round_trip_for_every_kind(void)
{
    unsigned char frame[RP_PROTO_CHUNK_HEADER + 64];

    for (uint8_t kind = RP_CHUNK_STDIN; kind <= RP_CHUNK_FILE; kind++)
        for (uint8_t flags = 0; flags <= RP_CHUNK_LAST; flags++)
            for (int first = 0; first < 2; first++) {
                bool file = kind == RP_CHUNK_FILE;
                struct rp_chunk c = {
                    .kind = kind,
                    .flags = flags,
                    .id = file ? 0 : UINT64_C(0x0102030405060708),
                    .attempt = file ? 0 : 0x0a0b0c0d,
                    .seq = first ? 0 : 0x11121314,
                }, got;
                const unsigned char want[RP_PROTO_CHUNK_HEADER] = {
                    'R', 'P', 'B', '1', kind, flags, 0, 0,
                    file ? 0 : 1, file ? 0 : 2, file ? 0 : 3, file ? 0 : 4,
                    file ? 0 : 5, file ? 0 : 6, file ? 0 : 7, file ? 0 : 8,
                    file ? 0 : 0x0a, file ? 0 : 0x0b, file ? 0 : 0x0c, file ? 0 : 0x0d,
                    first ? 0 : 0x11, first ? 0 : 0x12, first ? 0 : 0x13, first ? 0 : 0x14,
                };
                enum rp_proto_error code = (enum rp_proto_error)77;
                char *why = NULL;
                size_t plen = 40;

                memset(frame, 0xee, sizeof frame);
                rp__chunk_header(&c, frame);
                for (size_t i = 0; i < RP_PROTO_CHUNK_HEADER; i++)
                    check_at(__LINE__, frame[i] == want[i],
                             "kind %u flags %u: byte %zu is %02x, want %02x", kind, flags, i,
                             frame[i], want[i]);
                CU_ASSERT_EQUAL(frame[RP_PROTO_CHUNK_HEADER], 0xee);   /* no more than 24 */
                for (size_t i = 0; i < plen; i++)
                    frame[RP_PROTO_CHUNK_HEADER + i] = (unsigned char)(i * 7 + kind);
                CU_ASSERT_EQUAL_FATAL(rp__chunk_decode(frame, RP_PROTO_CHUNK_HEADER + plen, 0,
                                                       &got, &code, &why),
                                      RP_OK);
                CU_ASSERT_EQUAL(code, RP_PROTO_OK);
                CU_ASSERT_PTR_NULL(why);
                CU_ASSERT_EQUAL(got.kind, kind);
                CU_ASSERT_EQUAL(got.flags, flags);
                CU_ASSERT_EQUAL(got.id, c.id);
                CU_ASSERT_EQUAL(got.attempt, c.attempt);
                CU_ASSERT_EQUAL(got.seq, c.seq);
                CU_ASSERT_PTR_EQUAL(got.payload, frame + RP_PROTO_CHUNK_HEADER);
                CU_ASSERT_EQUAL(got.payload_len, plen);
                free(why);
            }
    /* the largest values, and an empty payload */
    {
        struct rp_chunk c = { .kind = RP_CHUNK_STDOUT, .flags = RP_CHUNK_LAST, .id = UINT64_MAX,
                              .attempt = UINT32_MAX, .seq = UINT32_MAX }, got;
        enum rp_proto_error code;
        char *why = NULL;

        rp__chunk_header(&c, frame);
        for (int i = 8; i < 24; i++)
            CU_ASSERT_EQUAL(frame[i], 0xff);
        CU_ASSERT_EQUAL_FATAL(rp__chunk_decode(frame, RP_PROTO_CHUNK_HEADER, 0, &got, &code,
                                               &why),
                              RP_OK);
        CU_ASSERT_EQUAL(got.id, UINT64_MAX);
        CU_ASSERT_EQUAL(got.attempt, UINT32_MAX);
        CU_ASSERT_EQUAL(got.seq, UINT32_MAX);
        CU_ASSERT_EQUAL(got.payload_len, 0);
        /* a task's attempt may be 0 */
        c.attempt = 0;
        rp__chunk_header(&c, frame);
        CU_ASSERT_EQUAL(rp__chunk_decode(frame, RP_PROTO_CHUNK_HEADER, 0, &got, &code, &why),
                        RP_OK);
        /* a file's later chunk may be empty; its first holds the SHA-256 */
        c = (struct rp_chunk){ .kind = RP_CHUNK_FILE, .seq = 1 };
        rp__chunk_header(&c, frame);
        CU_ASSERT_EQUAL(rp__chunk_decode(frame, RP_PROTO_CHUNK_HEADER, 0, &got, &code, &why),
                        RP_OK);
        c.seq = 0;
        rp__chunk_header(&c, frame);
        CU_ASSERT_EQUAL(rp__chunk_decode(frame, RP_PROTO_CHUNK_HEADER + 32, 0, &got, &code, &why),
                        RP_OK);
        CU_ASSERT_EQUAL(got.payload_len, 32);
    }
}

static void
malformed_chunk_headers_are_refused(void)
{
    unsigned char f[RP_PROTO_CHUNK_HEADER + 40];
    struct rp_chunk c = { .kind = RP_CHUNK_STDOUT, .id = 7, .attempt = 1, .seq = 3 };
    struct rp_chunk file = { .kind = RP_CHUNK_FILE, .seq = 0 };
    const size_t full = sizeof f;

    memset(f, 0x5c, sizeof f);
    rp__chunk_header(&c, f);
    /* short */
    expect_chunk_refused_at(__LINE__, f, 0, 0, RP_PROTO_MALFORMED, "header");
    expect_chunk_refused_at(__LINE__, f, 1, 0, RP_PROTO_MALFORMED, "header");
    expect_chunk_refused_at(__LINE__, f, 23, 0, RP_PROTO_MALFORMED, "header");
    {
        struct rp_chunk out;
        enum rp_proto_error code;
        char *why = NULL;
        CU_ASSERT_EQUAL(rp__chunk_decode(NULL, 24, 0, &out, &code, &why), RP_ERR_INVALID);
        CU_ASSERT_EQUAL(code, RP_PROTO_MALFORMED);
        CU_ASSERT_PTR_NOT_NULL(why);
        free(why);
    }
    /* magic */
    for (int i = 0; i < 4; i++) {
        unsigned char g[sizeof f];
        memcpy(g, f, sizeof f);
        g[i] ^= 0x20;
        expect_chunk_refused_at(__LINE__, g, full, 0, RP_PROTO_MALFORMED, "magic");
        g[i] = 0;
        expect_chunk_refused_at(__LINE__, g, full, 0, RP_PROTO_MALFORMED, "magic");
    }
    /* kind */
    {
        static const unsigned char kinds[] = { 0, 6, 7, 0x81, 255 };
        for (size_t i = 0; i < sizeof kinds; i++) {
            unsigned char g[sizeof f];
            memcpy(g, f, sizeof f);
            g[4] = kinds[i];
            expect_chunk_refused_at(__LINE__, g, full, 0, RP_PROTO_MALFORMED, "kind");
        }
    }
    /* flags: only bit 0 */
    for (int bit = 1; bit < 8; bit++) {
        unsigned char g[sizeof f];
        memcpy(g, f, sizeof f);
        g[5] = (unsigned char)(1u << bit);
        expect_chunk_refused_at(__LINE__, g, full, 0, RP_PROTO_MALFORMED, "flags");
        g[5] |= RP_CHUNK_LAST;
        expect_chunk_refused_at(__LINE__, g, full, 0, RP_PROTO_MALFORMED, "flags");
    }
    /* reserved */
    for (int i = 6; i < 8; i++) {
        unsigned char g[sizeof f];
        memcpy(g, f, sizeof f);
        g[i] = 1;
        expect_chunk_refused_at(__LINE__, g, full, 0, RP_PROTO_MALFORMED, "reserved");
        g[i] = 0x80;
        expect_chunk_refused_at(__LINE__, g, full, 0, RP_PROTO_MALFORMED, "reserved");
    }
    /* a task's chunk without a task */
    for (uint8_t k = RP_CHUNK_STDIN; k <= RP_CHUNK_CHECKPOINT; k++) {
        unsigned char g[sizeof f];
        struct rp_chunk t = { .kind = k, .id = 0, .attempt = 5, .seq = 1 };
        memcpy(g, f, sizeof f);
        rp__chunk_header(&t, g);
        expect_chunk_refused_at(__LINE__, g, full, 0, RP_PROTO_MALFORMED, "task");
    }
    /* a file's chunk naming a task or an attempt */
    {
        unsigned char g[sizeof f];
        struct rp_chunk t = file;
        memcpy(g, f, sizeof f);
        t.seq = 1;
        t.id = 1;
        rp__chunk_header(&t, g);
        expect_chunk_refused_at(__LINE__, g, full, 0, RP_PROTO_MALFORMED, "file");
        t.id = 0;
        t.attempt = 1;
        rp__chunk_header(&t, g);
        expect_chunk_refused_at(__LINE__, g, full, 0, RP_PROTO_MALFORMED, "file");
        t.id = UINT64_C(1) << 63;
        t.attempt = 0;
        rp__chunk_header(&t, g);
        expect_chunk_refused_at(__LINE__, g, full, 0, RP_PROTO_MALFORMED, "file");
    }
    /* a file's first chunk without the 32-byte SHA-256 */
    {
        unsigned char g[sizeof f];
        memcpy(g, f, sizeof f);
        rp__chunk_header(&file, g);
        expect_chunk_refused_at(__LINE__, g, RP_PROTO_CHUNK_HEADER, 0, RP_PROTO_MALFORMED,
                                "SHA-256");
        expect_chunk_refused_at(__LINE__, g, RP_PROTO_CHUNK_HEADER + 31, 0, RP_PROTO_MALFORMED,
                                "SHA-256");
    }
}

static void
oversized_chunks_are_too_big(void)
{
    unsigned char f[101];
    struct rp_chunk c = { .kind = RP_CHUNK_STDERR, .id = 9, .attempt = 1 }, got;
    enum rp_proto_error code;
    char *why = NULL;

    memset(f, 0, sizeof f);
    rp__chunk_header(&c, f);
    expect_chunk_refused_at(__LINE__, f, 101, 100, RP_PROTO_TOO_BIG, "limit");
    CU_ASSERT_EQUAL(rp__chunk_decode(f, 100, 100, &got, &code, &why), RP_OK);
    CU_ASSERT_EQUAL(got.payload_len, 76);
    /* a short frame over a tiny limit: the size first */
    expect_chunk_refused_at(__LINE__, f, 20, 10, RP_PROTO_TOO_BIG, "limit");
    {
        size_t n = RP_PROTO_MAX_FRAME_DEFAULT + 1;
        unsigned char *big = calloc(n, 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(big);
        rp__chunk_header(&c, big);
        expect_chunk_refused_at(__LINE__, big, n, 0, RP_PROTO_TOO_BIG, "limit");
        CU_ASSERT_EQUAL(rp__chunk_decode(big, n - 1, 0, &got, &code, &why), RP_OK);
        CU_ASSERT_EQUAL(got.payload_len, n - 1 - RP_PROTO_CHUNK_HEADER);
        free(big);
    }
}

/* ---- random frames ---- */

/* A decoded message checked against doc[], independently of proto.c:
 * NULL if it conforms, or what is wrong. */
static int
depth_of(const cJSON *v)
{
    int d = 0;

    for (const cJSON *c = v->child; c != NULL; c = c->next) {
        int k = depth_of(c);
        if (k > d)
            d = k;
    }
    return (cJSON_IsObject(v) || cJSON_IsArray(v)) ? d + 1 : d;
}

static bool
whole(const cJSON *v, double max)
{
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= max &&
           v->valuedouble == (double)(uint64_t)v->valuedouble;
}

static const char *
nonconforming(const rp_msg *m)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(m->json, "type"), *v;
    const struct doc_msg *d;

    if ((unsigned)m->type >= N_DOC)
        return "type out of range";
    d = &doc[m->type];
    if (!cJSON_IsObject(m->json) || !cJSON_IsString(t) || strcmp(t->valuestring, d->name) != 0)
        return "type does not match";
    if (depth_of(m->json) > RP_PROTO_MAX_DEPTH)
        return "too deep";
    cJSON_ArrayForEach(v, m->json) {
        const struct doc_field *f;
        if (v == t)
            continue;
        if ((f = doc_field(d, v->string)) == NULL)
            return "an unknown field";
        switch (f->kind) {
        case U64:
            if (!whole(v, (double)(TWO_53 - 1)))
                return "a bad u64";
            break;
        case U32:
            if (!whole(v, 4294967295.0))
                return "a bad u32";
            break;
        case STR:
            if (!cJSON_IsString(v) ||
                strlen(v->valuestring) > (f->max == ENUMERATED ? 64
                                          : f->max            ? f->max
                                                              : MAX_STRING_DEFAULT))
                return "a bad string";
            break;
        case BOOL:
            if (!cJSON_IsBool(v))
                return "a bad bool";
            break;
        case OBJ:
            if (!cJSON_IsObject(v))
                return "a bad object";
            break;
        case STRS:
        case OBJS:
            if (!cJSON_IsArray(v) || (size_t)cJSON_GetArraySize(v) > f->max)
                return "a bad array";
            break;
        }
    }
    for (size_t i = 0; d->fields[i].name != NULL; i++)
        if (!d->fields[i].optional && !rp__msg_has(m, d->fields[i].name))
            return "a required field missing";
    return NULL;
}

static const char *const dict[] = {
    "{", "}", "[", "]", ",", ":", "\"", "\\", " ", "\n", "0", "-1", "1.5", "1e999", "null",
    "true", "false", "\"type\"", "\"ping\"", "\"t\"", "\"files\"", "\"spec\"", "9007199254740994",
    "4294967296", "\\u0000", "\\ud800", "\\n", "\xc3\xa9", "\xed\xa0\x80", "\xc0\xaf",
    "\xf4\x90\x80\x80", "\"..\"", "\"/x\"", "{\"a\":[[[[[[[[1]]]]]]]]}", "\"" HEX_A "\"",
};

#define FUZZ_CAP 4096

/* One random change to buf[0..*len). */
static void
mutate(unsigned char *buf, size_t *len, uint64_t *rng)
{
    uint64_t r = splitmix(rng);
    size_t n = *len, pos = n ? (size_t)(splitmix(rng) % n) : 0;

    switch (r % 8) {
    case 0:         /* flip a bit */
        if (n)
            buf[pos] ^= (unsigned char)(1u << (r >> 8) % 8);
        break;
    case 1:         /* a random byte */
        if (n)
            buf[pos] = (unsigned char)(r >> 8);
        break;
    case 2:         /* insert a byte */
        if (n < FUZZ_CAP) {
            memmove(buf + pos + 1, buf + pos, n - pos);
            buf[pos] = (unsigned char)(r >> 8);
            *len = n + 1;
        }
        break;
    case 3:         /* delete a few bytes */
        if (n) {
            size_t k = 1 + (size_t)((r >> 8) % 4);
            if (k > n - pos)
                k = n - pos;
            memmove(buf + pos, buf + pos + k, n - pos - k);
            *len = n - k;
        }
        break;
    case 4:         /* truncate */
        *len = pos;
        break;
    case 5:         /* insert a token */
    case 6: {
        const char *tok = dict[(r >> 8) % (sizeof dict / sizeof dict[0])];
        size_t k = strlen(tok);
        if (n + k <= FUZZ_CAP) {
            memmove(buf + pos + k, buf + pos, n - pos);
            memcpy(buf + pos, tok, k);
            *len = n + k;
        }
        break;
    }
    case 7: {       /* copy a slice elsewhere */
        size_t from = n ? (size_t)((r >> 8) % n) : 0, k = n ? 1 + (size_t)((r >> 20) % 16) : 0;
        if (k > n - from)
            k = n - from;
        if (n + k <= FUZZ_CAP && k > 0) {
            unsigned char tmp[16];
            memcpy(tmp, buf + from, k);
            memmove(buf + pos + k, buf + pos, n - pos);
            memcpy(buf + pos, tmp, k);
            *len = n + k;
        }
        break;
    }
    }
}

struct fuzz_stats {
    unsigned ok, refused, bad;
    char first_bad[300];
};

static void __attribute__((format(printf, 4, 5)))
fuzz_fail(struct fuzz_stats *s, const void *data, size_t len, const char *fmt, ...)
{
    char what[120], shown[160];
    va_list ap;

    if (s->bad++ > 0)
        return;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(s->first_bad, sizeof s->first_bad, "%s: %s", what,
             show(data, len, shown, sizeof shown));
}

static void
fuzz_text_one(struct fuzz_stats *s, const unsigned char *data, size_t len, size_t max)
{
    size_t lim = max ? max : RP_PROTO_MAX_FRAME_DEFAULT;
    struct dec r;

    dec_run(&r, data, len, max);
    if (r.st == RP_OK) {
        const char *wrong = nonconforming(&r.m);
        char *text = NULL, *why = NULL;
        size_t tlen = 0;

        s->ok++;
        if (r.code != RP_PROTO_OK || r.why != NULL)
            fuzz_fail(s, data, len, "RP_OK with a code or a why");
        if (len > lim)
            fuzz_fail(s, data, len, "RP_OK over the limit");
        if (!utf8_ok(data, len))
            fuzz_fail(s, data, len, "RP_OK for bytes that are not UTF-8");
        if (wrong != NULL)
            fuzz_fail(s, data, len, "RP_OK for a message with %s", wrong);
        if (rp__msg_encode(cJSON_Duplicate(r.m.json, true), &text, &tlen, &why) != RP_OK) {
            fuzz_fail(s, data, len, "decoded but the encoder refuses: %s", why ? why : "-");
        } else {
            struct dec again;
            dec_run(&again, text, tlen, 0);
            if (again.st != RP_OK || again.m.type != r.m.type)
                fuzz_fail(s, data, len, "re-encoded, it does not decode the same: %s",
                          again.why ? again.why : "-");
            if (again.st == RP_OK)
                rp__msg_free(&again.m);
            free(again.why);
        }
        free(text);
        free(why);
        rp__msg_free(&r.m);
        return;
    }
    s->refused++;
    if (r.st != RP_ERR_INVALID)
        fuzz_fail(s, data, len, "status %d", (int)r.st);
    else if (r.why == NULL || r.why[0] == '\0')
        fuzz_fail(s, data, len, "refused without a why");
    else if (r.code != (len > lim ? RP_PROTO_TOO_BIG : RP_PROTO_MALFORMED))
        fuzz_fail(s, data, len, "code %d (limit %zu)", (int)r.code, lim);
    else if (!r.untouched)
        fuzz_fail(s, data, len, "*out changed on a refusal");
    free(r.why);
}

static void
fuzz_chunk_one(struct fuzz_stats *s, const unsigned char *data, size_t len, size_t max)
{
    size_t lim = max ? max : RP_PROTO_MAX_FRAME_DEFAULT;
    unsigned char *copy = malloc(len > 0 ? len : 1);
    struct rp_chunk c, sentinel;
    enum rp_proto_error code = (enum rp_proto_error)77;
    char *why = NULL;
    rp_status st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    if (len > 0)
        memcpy(copy, data, len);
    memset(&c, 0xa5, sizeof c);
    memcpy(&sentinel, &c, sizeof c);
    st = rp__chunk_decode(copy, len, max, &c, &code, &why);
    if (st == RP_OK) {
        unsigned char header[RP_PROTO_CHUNK_HEADER];
        bool file = c.kind == RP_CHUNK_FILE;

        s->ok++;
        rp__chunk_header(&c, header);
        if (code != RP_PROTO_OK || why != NULL)
            fuzz_fail(s, data, len, "chunk RP_OK with a code or a why");
        else if (len > lim || len < RP_PROTO_CHUNK_HEADER)
            fuzz_fail(s, data, len, "chunk RP_OK at a bad size");
        else if (memcmp(header, data, RP_PROTO_CHUNK_HEADER) != 0)
            fuzz_fail(s, data, len, "chunk header does not round-trip");
        else if (c.kind < 1 || c.kind > 5 || (c.flags & ~RP_CHUNK_LAST) != 0)
            fuzz_fail(s, data, len, "chunk kind or flags");
        else if (file ? (c.id != 0 || c.attempt != 0) : c.id == 0)
            fuzz_fail(s, data, len, "chunk id or attempt");
        else if (file && c.seq == 0 && c.payload_len < 32)
            fuzz_fail(s, data, len, "file chunk without its SHA-256");
        else if (c.payload != copy + RP_PROTO_CHUNK_HEADER ||
                 c.payload_len != len - RP_PROTO_CHUNK_HEADER)
            fuzz_fail(s, data, len, "chunk payload");
    } else {
        s->refused++;
        if (st != RP_ERR_INVALID || why == NULL || why[0] == '\0')
            fuzz_fail(s, data, len, "chunk refused without a why");
        else if (code != (len > lim ? RP_PROTO_TOO_BIG : RP_PROTO_MALFORMED))
            fuzz_fail(s, data, len, "chunk code %d", (int)code);
        else if (memcmp(&c, &sentinel, sizeof c) != 0)
            fuzz_fail(s, data, len, "chunk *out changed on a refusal");
    }
    free(why);
    free(copy);
}

static void
random_frames_never_crash_or_lie(void)
{
    enum { TEXT_ITERATIONS = 20000, CHUNK_ITERATIONS = 10000 };
    static const char alphabet[] = "{}[]\":,0123456789.-eEtrufalsn \\u\n";
    char *corpus[2 * N_DOC + 4];
    size_t corpus_len[2 * N_DOC + 4], nc = 0;
    unsigned char *buf = malloc(FUZZ_CAP);
    struct fuzz_stats ts = { 0 }, cs = { 0 };
    uint64_t rng = 0x5eed5eedULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    for (size_t ti = 0; ti < N_DOC; ti++)
        for (int optional = 0; optional < 2; optional++) {
            corpus[nc] = encode_ok(build(ti, optional), &corpus_len[nc]);
            nc++;
        }
    corpus[nc] = submit_text(ENTRY("\"a/b\"", "1", "420"));
    corpus_len[nc] = strlen(corpus[nc]);
    nc++;
    for (unsigned it = 0; it < TEXT_ITERATIONS; it++) {
        uint64_t r = splitmix(&rng);
        size_t len, max = 0;

        if (r % 10 == 0) {          /* random bytes */
            len = (size_t)(splitmix(&rng) % 64);
            for (size_t i = 0; i < len; i++)
                buf[i] = (unsigned char)splitmix(&rng);
        } else if (r % 10 == 1) {   /* random JSON-ish characters */
            len = (size_t)(splitmix(&rng) % 64);
            for (size_t i = 0; i < len; i++)
                buf[i] = (unsigned char)alphabet[splitmix(&rng) % (sizeof alphabet - 1)];
        } else {                    /* a valid message, changed a little */
            size_t k = (size_t)(splitmix(&rng) % nc), changes = 1 + (size_t)((r >> 8) % 4);
            len = corpus_len[k];
            memcpy(buf, corpus[k], len);
            if ((r >> 16) % 16 == 0)
                changes = 0;        /* now and then, unchanged */
            for (size_t i = 0; i < changes; i++)
                mutate(buf, &len, &rng);
        }
        if ((r >> 24) % 16 == 0)
            max = (size_t)((r >> 32) % 300);    /* 0 too: the default */
        fuzz_text_one(&ts, buf, len, max);
    }
    for (unsigned it = 0; it < CHUNK_ITERATIONS; it++) {
        uint64_t r = splitmix(&rng);
        size_t len, max = 0;

        if (r % 8 == 0) {
            len = (size_t)(splitmix(&rng) % 48);
            for (size_t i = 0; i < len; i++)
                buf[i] = (unsigned char)splitmix(&rng);
        } else {
            uint8_t kind = (uint8_t)(1 + (r >> 8) % 5);
            struct rp_chunk c = {
                .kind = kind,
                .flags = (uint8_t)((r >> 12) & 1),
                .id = kind == RP_CHUNK_FILE ? 0 : 1 + splitmix(&rng) % 1000,
                .attempt = kind == RP_CHUNK_FILE ? 0 : (uint32_t)(splitmix(&rng) % 5),
                .seq = (uint32_t)(splitmix(&rng) % 3),
            };
            len = RP_PROTO_CHUNK_HEADER + (size_t)(splitmix(&rng) % 48);
            for (size_t i = RP_PROTO_CHUNK_HEADER; i < len; i++)
                buf[i] = (unsigned char)splitmix(&rng);
            rp__chunk_header(&c, buf);
            for (size_t i = 0, n = (size_t)((r >> 16) % 4); i < n; i++) {
                uint64_t m = splitmix(&rng);
                if (m % 4 == 0)
                    len = (size_t)((m >> 8) % (len + 1));
                else if (len > 0) {   /* mostly in the header */
                    size_t span = m % 4 == 1 || len < RP_PROTO_CHUNK_HEADER
                                      ? len
                                      : RP_PROTO_CHUNK_HEADER;
                    buf[(size_t)((m >> 8) % span)] ^= (unsigned char)(1u << ((m >> 40) % 8));
                }
            }
        }
        if ((r >> 24) % 16 == 0)
            max = (size_t)((r >> 32) % 80);
        fuzz_chunk_one(&cs, buf, len, max);
    }
    check_at(__LINE__, ts.bad == 0, "text frames: %u of %u wrong; first: %s", ts.bad,
             ts.ok + ts.refused, ts.first_bad);
    check_at(__LINE__, cs.bad == 0, "binary frames: %u of %u wrong; first: %s", cs.bad,
             cs.ok + cs.refused, cs.first_bad);
    /* the run reached both verdicts, often */
    check_at(__LINE__, ts.ok > 500 && ts.refused > 5000, "text: %u accepted, %u refused", ts.ok,
             ts.refused);
    check_at(__LINE__, cs.ok > 1000 && cs.refused > 1000, "binary: %u accepted, %u refused",
             cs.ok, cs.refused);
    for (size_t i = 0; i < nc; i++)
        free(corpus[i]);
    free(buf);
}

/* ---- found while writing this suite: failing until proto.c is fixed ---- */

/* The document: u64 is 0 ... 2^53. cJSON prints numbers with "%1.15g" and
 * keeps that when it reads back within a relative DBL_EPSILON, which for
 * numbers from 2^52 up lets the printed text be off by up to 2: the
 * encoder changes values it accepted. */
static void
encoder_keeps_every_u64_below_2_53(void)
{
    static const uint64_t values[] = {
        0, 1, 4294967295u, UINT64_C(1) << 32, (UINT64_C(1) << 52) - 1, UINT64_C(1) << 52,
        (UINT64_C(1) << 52) + 1, UINT64_C(6000000000000001), TWO_53 - 2, TWO_53 - 1,
    };

    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        cJSON *o = parse_json("{\"type\":\"ping\"}");
        char *text = NULL, *why = NULL;
        size_t len = 0;
        struct dec r;

        cJSON_AddNumberToObject(o, "t", (double)values[i]);
        if (rp__msg_encode(o, &text, &len, &why) != RP_OK) {
            check_at(__LINE__, false, "ping t=%" PRIu64 " encodes: %s", values[i],
                     why ? why : "-");
            free(why);
            continue;
        }
        dec_run(&r, text, len, 0);
        check_at(__LINE__, r.st == RP_OK && rp__msg_u64(&r.m, "t") == values[i],
                 "t=%" PRIu64 " encoded as %s reads back %" PRIu64, values[i], text,
                 r.st == RP_OK ? rp__msg_u64(&r.m, "t") : 0);
        if (r.st == RP_OK)
            rp__msg_free(&r.m);
        free(r.why);
        free(text);
    }
}

/* proto.h: "Encoding checks against the same table, so a peer never sends
 * what it would refuse". A string that is not UTF-8, or a raw item inside
 * spec, is encoded into a frame that the decoder refuses. */
static void
encoder_output_always_decodes(void)
{
    cJSON *cases[4];
    size_t n = 0;

    cases[n++] = msg_with(RP_MSG_HELLO, "node", cJSON_CreateString("\xff"));
    cases[n++] = msg_with(RP_MSG_ERROR, "message", cJSON_CreateString("cut \xc3"));
    cases[n++] = msg_with(RP_MSG_HELLO, "node", cJSON_CreateString("\xed\xa0\x80"));
    {
        cJSON *spec = cJSON_CreateObject();
        cJSON_AddItemToObject(spec, "x", cJSON_CreateRaw("1}{"));
        cases[n++] = msg_with(RP_MSG_SUBMIT, "spec", spec);
    }
    for (size_t i = 0; i < n; i++) {
        char *text = NULL, *why = NULL;
        size_t len = 0;

        if (rp__msg_encode(cases[i], &text, &len, &why) == RP_OK) {
            struct dec r;
            char shown[200];
            dec_run(&r, text, len, 0);
            check_at(__LINE__, r.st == RP_OK, "case %zu: the encoder sent %s, the decoder says %s",
                     i, show(text, len, shown, sizeof shown), r.why ? r.why : "-");
            if (r.st == RP_OK)
                rp__msg_free(&r.m);
            free(r.why);
        }
        free(text);
        free(why);
    }
}

/* A why goes back to the peer as an error's message: it must be UTF-8
 * and fit 4096 bytes. The decoder quotes 32 bytes of an unknown type or
 * field, which can cut a character in two. */
static void
why_fits_an_error_message(void)
{
    static const char *const inputs[] = {
        "{\"type\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xc3\xa9\"}",
        "{\"type\":\"ping\",\"t\":1,\"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\xe2\x82\xac\":1}",
        "{\"type\":\"a\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
        "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"}",
        "{\"type\":\"ping\",\"t\":1,\"x\":1}",
        "not json",
        "{\"type\":\"ping\"}",
    };

    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        struct dec r;
        cJSON *o;
        char *text = NULL, *why = NULL;
        size_t len = 0;

        dec_run(&r, inputs[i], strlen(inputs[i]), 0);
        CU_ASSERT_EQUAL_FATAL(r.st, RP_ERR_INVALID);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r.why);
        check_at(__LINE__, utf8_ok((const unsigned char *)r.why, strlen(r.why)) &&
                               strlen(r.why) <= 4096,
                 "the why of input %zu is UTF-8 of at most 4096 bytes", i);
        o = parse_json("{\"type\":\"error\",\"code\":\"malformed\",\"fatal\":true}");
        cJSON_AddStringToObject(o, "message", r.why);
        if (rp__msg_encode(o, &text, &len, &why) == RP_OK) {
            struct dec back;
            dec_run(&back, text, len, 0);
            check_at(__LINE__, back.st == RP_OK, "the error answering input %zu decodes: %s", i,
                     back.why ? back.why : "-");
            if (back.st == RP_OK)
                rp__msg_free(&back.m);
            free(back.why);
        } else {
            check_at(__LINE__, false, "the error answering input %zu encodes: %s", i,
                     why ? why : "-");
        }
        free(text);
        free(why);
        free(r.why);
    }
}

/* "\u0000" is valid JSON, but cJSON ends the C string there: the decoder
 * checks (and the reader gets) another string than the one sent. The
 * document forbids a NUL in a name; a type or a field name shortened at a
 * NUL is not the message the peer sent either. */
static void
nul_escape_in_a_string_is_refused(void)
{
    REFUSED_LIT("{\"type\":\"ping\\u0000junk\",\"t\":1}", NULL);
    REFUSED_LIT("{\"type\":\"ping\",\"t\\u0000junk\":1}", NULL);
    REFUSED_LIT("{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,\"node\":\"a\\u0000b\"}",
                NULL);
    {
        char *t = submit_text(ENTRY("\"a\\u0000/../../etc/passwd\"", "1", "420"));
        REFUSED_TEXT(t, NULL);
        free(t);
    }
    REFUSED_LIT("{\"type\":\"need_file\",\"sha256\":\"" HEX_A "\\u0000x\"}", NULL);
}

/* The document: "not JSON" is malformed. cJSON takes every byte up to
 * 0x20 as a blank, raw control characters inside strings, leading zeros
 * and a bare decimal point (RFC 8259 allows none of them). */
static void
only_strict_json_is_accepted(void)
{
    REFUSED_LIT("\x01{\"type\":\"ping\",\"t\":1}", NULL);
    REFUSED_LIT("{\x1f\"type\":\"ping\",\"t\":1}", NULL);
    REFUSED_LIT("{\"type\":\"ping\",\"t\":01}", NULL);
    REFUSED_LIT("{\"type\":\"ping\",\"t\":1.}", NULL);
    REFUSED_LIT("{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,\"node\":\"a\x01z\"}", NULL);
    REFUSED_LIT("{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,\"node\":\"a\tz\"}", NULL);
    REFUSED_LIT("{\"type\":\"hello\",\"proto_min\":1,\"proto_max\":1,\"node\":\"a\nz\"}", NULL);
}

/* The document: u64 is 0 ... 2^53 - 1, and a number out of range is
 * malformed. 2^53 + 1 written out reads as the double 2^53: with the limit
 * below 2^53, a frame either decodes to the number its text says or is
 * refused. */
static void
u64_text_above_2_53_is_refused(void)
{
    static const char *const texts[] = {
        "{\"type\":\"ping\",\"t\":9007199254740993}",
        "{\"type\":\"ping\",\"t\":9007199254740992.5}",
        "{\"type\":\"cancel\",\"task\":9007199254740993,\"attempt\":1}",
    };

    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        REFUSED_TEXT(texts[i], NULL);
}

/* The document's limits: argv / env / data_deps entries 4096 / 4096 /
 * 1024, "anything over a limit is malformed". They live in spec, which
 * the decoder checks for depth only. */
static void
spec_lists_over_their_limits_are_refused(void)
{
    static const struct {
        const char *name;
        size_t max;
    } lists[] = { { "argv", 4096 }, { "env", 4096 }, { "data_deps", 1024 } };

    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        for (size_t n = lists[i].max; n <= lists[i].max + 1; n++) {
            cJSON *spec = parse_json("{\"v\":1,\"kind\":\"process\"}"), *a = cJSON_CreateArray();
            for (size_t k = 0; k < n; k++)
                cJSON_AddItemToArray(a, cJSON_CreateString("K=V"));
            cJSON_AddItemToObject(spec, lists[i].name, a);
            if (n == lists[i].max)
                ACCEPTED_JSON(msg_with(RP_MSG_SUBMIT, "spec", spec), RP_MSG_SUBMIT);
            else
                REFUSED_JSON(msg_with(RP_MSG_SUBMIT, "spec", spec), NULL, NULL);
        }
    }
}

static const rp_test_case cases[] = {
    { "type_names_and_senders_match_the_document", type_names_and_senders_match_the_document },
    { "constants_match_the_document", constants_match_the_document },
    { "every_type_round_trips_with_its_required_fields",
      every_type_round_trips_with_its_required_fields },
    { "every_type_round_trips_with_every_optional_field",
      every_type_round_trips_with_every_optional_field },
    { "zero_and_limits_of_numbers_round_trip", zero_and_limits_of_numbers_round_trip },
    { "strings_round_trip_byte_exact", strings_round_trip_byte_exact },
    { "absent_optional_fields_read_as_nothing", absent_optional_fields_read_as_nothing },
    { "reading_a_field_the_type_lacks_aborts", reading_a_field_the_type_lacks_aborts },
    { "empty_frame_is_malformed", empty_frame_is_malformed },
    { "nul_byte_is_malformed", nul_byte_is_malformed },
    { "invalid_utf8_is_malformed", invalid_utf8_is_malformed },
    { "not_json_is_malformed", not_json_is_malformed },
    { "json_that_is_not_an_object_is_malformed", json_that_is_not_an_object_is_malformed },
    { "text_after_the_object_is_malformed", text_after_the_object_is_malformed },
    { "type_must_be_one_known_string", type_must_be_one_known_string },
    { "unknown_field_is_malformed_for_every_type", unknown_field_is_malformed_for_every_type },
    { "field_given_twice_is_malformed_for_every_field",
      field_given_twice_is_malformed_for_every_field },
    { "missing_required_field_is_malformed_for_every_type",
      missing_required_field_is_malformed_for_every_type },
    { "wrong_field_types_are_malformed_for_every_field",
      wrong_field_types_are_malformed_for_every_field },
    { "numbers_out_of_range_are_malformed", numbers_out_of_range_are_malformed },
    { "strings_over_their_limit_are_malformed", strings_over_their_limit_are_malformed },
    { "arrays_over_their_limit_are_malformed", arrays_over_their_limit_are_malformed },
    { "nesting_deeper_than_the_limit_is_malformed", nesting_deeper_than_the_limit_is_malformed },
    { "sha256_must_be_64_lowercase_hex", sha256_must_be_64_lowercase_hex },
    { "result_state_is_one_of_four", result_state_is_one_of_four },
    { "error_code_is_one_of_the_table", error_code_is_one_of_the_table },
    { "files_entries_are_checked", files_entries_are_checked },
    { "nul_escape_in_a_file_name_is_never_unsafe", nul_escape_in_a_file_name_is_never_unsafe },
    { "safe_names_table", safe_names_table },
    { "frame_over_the_limit_is_too_big", frame_over_the_limit_is_too_big },
    { "default_limit_is_16_mib_and_checked_first", default_limit_is_16_mib_and_checked_first },
    { "encode_refuses_what_decode_refuses", encode_refuses_what_decode_refuses },
    { "chunks_round_trip_for_every_kind", chunks_round_trip_for_every_kind },
    { "malformed_chunk_headers_are_refused", malformed_chunk_headers_are_refused },
    { "oversized_chunks_are_too_big", oversized_chunks_are_too_big },
    { "random_frames_never_crash_or_lie", random_frames_never_crash_or_lie },
    { "encoder_keeps_every_u64_below_2_53", encoder_keeps_every_u64_below_2_53 },
    { "encoder_output_always_decodes", encoder_output_always_decodes },
    { "why_fits_an_error_message", why_fits_an_error_message },
    { "nul_escape_in_a_string_is_refused", nul_escape_in_a_string_is_refused },
    { "only_strict_json_is_accepted", only_strict_json_is_accepted },
    { "u64_text_above_2_53_is_refused", u64_text_above_2_53_is_refused },
    { "spec_lists_over_their_limits_are_refused",
      spec_lists_over_their_limits_are_refused },
    { NULL, NULL },
};

const rp_test_suite rp_test_suite_proto = { .name = "proto", .cases = cases };
