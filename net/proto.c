/*
 * proto.c -- the wire protocol's messages (proto.h, docs/protocol.md).
 *
 * DESIGN: one table lists every message type with its fields; decoding
 * and encoding both check a message against it, so the document, the
 * parser and the encoder cannot drift apart. Checks run in this order:
 * size, UTF-8, JSON, object, depth, "type", then each field (known, not
 * repeated, typed, in range, its own check), then the required ones.
 */
#include "net/proto.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/alloc.h"

enum field_type { F_U64, F_U32, F_STR, F_BOOL, F_OBJ, F_STRS, F_OBJS };

struct field {
    const char *name;
    enum field_type type;
    bool optional;
    size_t max;                     /* bytes of a string, entries of an array; 0: default */
    bool (*check)(const cJSON *v);  /* further checks, or NULL */
};

#define MAX_STRING ((size_t)64 << 10)
#define MAX_U64 9007199254740991.0   /* 2^53 - 1: any text above rounds to >= 2^53 */
#define MAX_U32 4294967295.0
#define MAX_FIELDS 16
/* Entries of the lists of a task description (`spec`). */
#define MAX_ARGV 4096
#define MAX_ENV 4096
#define MAX_DEPS 1024

static bool check_sha256(const cJSON *v);
static bool check_state(const cJSON *v);
static bool check_code(const cJSON *v);
static bool check_files(const cJSON *v);
static bool check_spec(const cJSON *v);

static const struct field hello_fields[] = {
    { "proto_min", F_U32, false, 0, NULL },
    { "proto_max", F_U32, false, 0, NULL },
    { "node", F_STR, false, 255, NULL },
    { "token", F_STR, true, 4096, NULL },
    { NULL, 0, 0, 0, NULL },
};
static const struct field welcome_fields[] = {
    { "proto", F_U32, false, 0, NULL },
    { "node", F_STR, false, 255, NULL },
    { "session", F_STR, false, 64, NULL },
    { "cores", F_U32, false, 0, NULL },
    { "memory_mb", F_U64, false, 0, NULL },
    { "slots", F_U32, false, 0, NULL },
    { "gpus", F_STRS, false, 64, NULL },
    { "cached_keys", F_STRS, true, 100000, NULL },
    { NULL, 0, 0, 0, NULL },
};
static const struct field submit_fields[] = {
    { "task", F_U64, false, 0, NULL },
    { "attempt", F_U32, false, 0, NULL },
    { "job", F_U64, false, 0, NULL },
    { "shard", F_U32, false, 0, NULL },
    { "total_shards", F_U32, false, 0, NULL },
    { "spec", F_OBJ, false, 0, check_spec },
    { "files", F_OBJS, true, 256, check_files },
    { "stdin_size", F_U64, true, 0, NULL },
    { NULL, 0, 0, 0, NULL },
};
static const struct field need_file_fields[] = {
    { "sha256", F_STR, false, 64, check_sha256 },
    { NULL, 0, 0, 0, NULL },
};
static const struct field started_fields[] = {
    { "task", F_U64, false, 0, NULL },
    { "attempt", F_U32, false, 0, NULL },
    { "pid", F_U32, false, 0, NULL },
    { NULL, 0, 0, 0, NULL },
};
static const struct field checkpoint_fields[] = {
    { "task", F_U64, false, 0, NULL },
    { "attempt", F_U32, false, 0, NULL },
    { "iteration", F_U64, false, 0, NULL },
    { "size", F_U64, false, 0, NULL },
    { "sha256", F_STR, false, 64, check_sha256 },
    { NULL, 0, 0, 0, NULL },
};
static const struct field result_fields[] = {
    { "task", F_U64, false, 0, NULL },
    { "attempt", F_U32, false, 0, NULL },
    { "state", F_STR, false, 16, check_state },
    { "exit_code", F_U32, true, 0, NULL },
    { "signal", F_U32, true, 0, NULL },
    { "error", F_STR, true, 0, NULL },
    { "wall_ns", F_U64, false, 0, NULL },
    { "user_ns", F_U64, false, 0, NULL },
    { "system_ns", F_U64, false, 0, NULL },
    { "max_rss_kb", F_U64, false, 0, NULL },
    { "out_total", F_U64, false, 0, NULL },
    { "err_total", F_U64, false, 0, NULL },
    { NULL, 0, 0, 0, NULL },
};
static const struct field task_attempt_fields[] = {
    { "task", F_U64, false, 0, NULL },
    { "attempt", F_U32, false, 0, NULL },
    { NULL, 0, 0, 0, NULL },
};
static const struct field revoked_fields[] = {
    { "task", F_U64, false, 0, NULL },
    { "attempt", F_U32, false, 0, NULL },
    { "ok", F_BOOL, false, 0, NULL },
    { NULL, 0, 0, 0, NULL },
};
static const struct field load_fields[] = {
    { "running", F_U32, false, 0, NULL },
    { "slots", F_U32, false, 0, NULL },
    { "cpu", F_U32, false, 0, NULL },
    { "mem_used_mb", F_U64, false, 0, NULL },
    { "mem_total_mb", F_U64, false, 0, NULL },
    { NULL, 0, 0, 0, NULL },
};
static const struct field ping_fields[] = {
    { "t", F_U64, false, 0, NULL },
    { NULL, 0, 0, 0, NULL },
};
static const struct field no_fields[] = {
    { NULL, 0, 0, 0, NULL },
};
static const struct field error_fields[] = {
    { "code", F_STR, false, 32, check_code },
    { "message", F_STR, false, 4096, NULL },
    { "fatal", F_BOOL, false, 0, NULL },
    { "task", F_U64, true, 0, NULL },
    { "attempt", F_U32, true, 0, NULL },
    { NULL, 0, 0, 0, NULL },
};

#define C RP_PROTO_FROM_COORDINATOR
#define W RP_PROTO_FROM_WORKER

static const struct message {
    const char *name;
    unsigned senders;
    const struct field *fields;
} messages[RP_MSG_TYPE_COUNT] = {
    [RP_MSG_HELLO] = { "hello", C, hello_fields },
    [RP_MSG_WELCOME] = { "welcome", W, welcome_fields },
    [RP_MSG_SUBMIT] = { "submit", C, submit_fields },
    [RP_MSG_NEED_FILE] = { "need_file", W, need_file_fields },
    [RP_MSG_STARTED] = { "started", W, started_fields },
    [RP_MSG_CHECKPOINT] = { "checkpoint", W, checkpoint_fields },
    [RP_MSG_RESULT] = { "result", W, result_fields },
    [RP_MSG_CANCEL] = { "cancel", C, task_attempt_fields },
    [RP_MSG_REVOKE] = { "revoke", C, task_attempt_fields },
    [RP_MSG_REVOKED] = { "revoked", W, revoked_fields },
    [RP_MSG_LOAD] = { "load", W, load_fields },
    [RP_MSG_PING] = { "ping", C | W, ping_fields },
    [RP_MSG_PONG] = { "pong", C | W, ping_fields },
    [RP_MSG_DRAIN] = { "drain", W, no_fields },
    [RP_MSG_ERROR] = { "error", C | W, error_fields },
};

#undef C
#undef W

const char *
rp__msg_type_name(enum rp_msg_type t)
{
    return (unsigned)t < RP_MSG_TYPE_COUNT ? messages[t].name : NULL;
}

unsigned
rp__msg_type_senders(enum rp_msg_type t)
{
    return (unsigned)t < RP_MSG_TYPE_COUNT ? messages[t].senders : 0;
}

/* ---- checks ---- */

static bool __attribute__((format(printf, 2, 3)))
refuse(char **why, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    *why = rp_xmalloc((size_t)(n < 0 ? 0 : n) + 1);
    va_start(ap, fmt);
    vsnprintf(*why, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return false;
}

/* Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF)
 * and no NUL: JSON text must be, and cJSON does not check. */
static bool
valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp, min;

        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            len = 2, cp = c & 0x1f, min = 0x80;
        else if (c >= 0xe0 && c <= 0xef)
            len = 3, cp = c & 0x0f, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4, cp = c & 0x07, min = 0x10000;
        else
            return false;
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* JSON as RFC 8259 writes it, at the level cJSON is lenient about: only
 * space, tab, CR and LF between tokens (no other control bytes, no BOM);
 * in strings no raw control byte and no \u0000 (cJSON would cut the
 * string there: "a\u0000/../x" would read as "a"); numbers without
 * leading zeros or a bare trailing point. Structure is cJSON's to check. */
static bool
strict_json(const char *s, size_t n, const char **bad)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            for (i++; i < n && s[i] != '"'; i++) {
                if ((unsigned char)s[i] < 0x20)
                    goto fail;
                if (s[i] == '\\') {
                    if (++i >= n)
                        goto fail;
                    if (s[i] == 'u' && n - i > 4 && memcmp(s + i + 1, "0000", 4) == 0)
                        goto fail;
                }
            }
            if (i >= n)
                goto fail;
            i++;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if (s[i] == '-')
                i++;
            if (i >= n || s[i] < '0' || s[i] > '9')
                goto fail;
            if (s[i] == '0' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')
                goto fail;              /* 01 */
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
            if (i < n && s[i] == '.') {
                if (++i >= n || s[i] < '0' || s[i] > '9')
                    goto fail;          /* 1. */
                while (i < n && s[i] >= '0' && s[i] <= '9')
                    i++;
            }
            if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < n && (s[i] == '+' || s[i] == '-'))
                    i++;
                if (i >= n || s[i] < '0' || s[i] > '9')
                    goto fail;
                while (i < n && s[i] >= '0' && s[i] <= '9')
                    i++;
            }
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '{' || c == '}' ||
                   c == '[' || c == ']' || c == ':' || c == ',' || (c >= 'a' && c <= 'z')) {
            i++;
        } else {
            goto fail;
        }
    }
    return true;
fail:
    *bad = s + (i < n ? i : n);
    return false;
}

/* A name from the peer, quoted in a reason: printable ASCII only, cut at
 * 32 characters, so the reason is valid UTF-8 and safe in a log. */
static const char *
shown(char out[40], const char *in)
{
    size_t k = 0;

    for (; *in != '\0' && k < 32; in++)
        out[k++] = *in >= 0x20 && *in < 0x7f ? *in : '?';
    out[k] = '\0';
    return out;
}

static int
depth(const cJSON *v)
{
    int d = 0;

    for (const cJSON *c = v->child; c != NULL; c = c->next) {
        int k = depth(c);
        if (k > d)
            d = k;
    }
    return (cJSON_IsObject(v) || cJSON_IsArray(v)) ? d + 1 : d;
}

static bool
check_sha256(const cJSON *v)
{
    const char *s = v->valuestring;

    if (strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static bool
check_state(const cJSON *v)
{
    static const char *const ok[] = { "succeeded", "failed", "cancelled", "timed_out" };

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(v->valuestring, ok[i]) == 0)
            return true;
    return false;
}

static bool
check_code(const cJSON *v)
{
    static const char *const ok[] = { "malformed", "too_big", "version", "auth", "duplicate",
                                      "refused", "unknown_task", "internal" };

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(v->valuestring, ok[i]) == 0)
            return true;
    return false;
}

bool
rp__proto_safe_name(const char *name)
{
    size_t len = name != NULL ? strlen(name) : 0;
    const char *p = name;

    if (len == 0 || len > 255 || name[0] == '/')
        return false;
    while (*p != '\0') {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        p += n + (end != NULL);
        if (end != NULL && *p == '\0')
            return false;           /* a trailing slash */
    }
    return true;
}

/* Entries of `files`: {name, sha256, size, mode}, nothing else. */
static bool
check_files(const cJSON *v)
{
    const cJSON *f;

    cJSON_ArrayForEach(f, v) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
        const cJSON *sha = cJSON_GetObjectItemCaseSensitive(f, "sha256");
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(f, "size");
        const cJSON *mode = cJSON_GetObjectItemCaseSensitive(f, "mode");
        if (cJSON_GetArraySize(f) != 4 || !cJSON_IsString(name) || !cJSON_IsString(sha) ||
            !cJSON_IsNumber(size) || !cJSON_IsNumber(mode) ||
            !rp__proto_safe_name(name->valuestring) || !check_sha256(sha) ||
            size->valuedouble < 0 || size->valuedouble > MAX_U64 ||
            size->valuedouble != (double)(uint64_t)size->valuedouble || mode->valuedouble < 0 ||
            mode->valuedouble > 07777 || mode->valuedouble != (double)(int)mode->valuedouble)
            return false;
    }
    return true;
}

/* Every string in v at most MAX_STRING bytes. */
static bool
strings_fit(const cJSON *v)
{
    if (cJSON_IsString(v))
        return strlen(v->valuestring) <= MAX_STRING;
    for (const cJSON *c = v->child; c != NULL; c = c->next)
        if (!strings_fit(c))
            return false;
    return true;
}

/* A task description: its lists within their limits, its strings too.
 * Everything else about it is checked where it is read (task_codec.c). */
static bool
check_spec(const cJSON *v)
{
    static const struct {
        const char *name;
        int max;
    } lists[] = { { "argv", MAX_ARGV }, { "env", MAX_ENV }, { "data_deps", MAX_DEPS } };

    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(v, lists[i].name);
        if (l != NULL && cJSON_GetArraySize(l) > lists[i].max)
            return false;
    }
    return strings_fit(v);
}

static const struct field *
find_field(const struct field *fields, const char *name, size_t *index)
{
    for (size_t i = 0; fields[i].name != NULL; i++)
        if (strcmp(fields[i].name, name) == 0) {
            *index = i;
            return &fields[i];
        }
    return NULL;
}

static bool
whole_number(const cJSON *v, double max)
{
    double d = v->valuedouble;

    return cJSON_IsNumber(v) && d >= 0 && d <= max && d == (double)(uint64_t)d;
}

/* One field against its description. */
static bool
check_field(const struct field *f, const cJSON *v, const char *type, char **why)
{
    size_t max = f->max ? f->max : f->type == F_STR ? MAX_STRING : 0;
    const cJSON *e;

    switch (f->type) {
    case F_U64:
    case F_U32:
        if (!whole_number(v, f->type == F_U64 ? MAX_U64 : MAX_U32))
            return refuse(why, "%s: %s must be a whole number from 0 to %s", type, f->name,
                          f->type == F_U64 ? "2^53-1" : "2^32-1");
        return true;
    case F_BOOL:
        if (!cJSON_IsBool(v))
            return refuse(why, "%s: %s must be true or false", type, f->name);
        return true;
    case F_STR:
        if (!cJSON_IsString(v))
            return refuse(why, "%s: %s must be a string", type, f->name);
        if (strlen(v->valuestring) > max)
            return refuse(why, "%s: %s is longer than %zu bytes", type, f->name, max);
        break;
    case F_OBJ:
        if (!cJSON_IsObject(v))
            return refuse(why, "%s: %s must be an object", type, f->name);
        break;
    case F_STRS:
    case F_OBJS:
        if (!cJSON_IsArray(v))
            return refuse(why, "%s: %s must be an array", type, f->name);
        if ((size_t)cJSON_GetArraySize(v) > max)
            return refuse(why, "%s: %s has more than %zu entries", type, f->name, max);
        cJSON_ArrayForEach(e, v) {
            if (f->type == F_STRS &&
                (!cJSON_IsString(e) || strlen(e->valuestring) > MAX_STRING))
                return refuse(why, "%s: every entry of %s must be a string of at most %zu bytes",
                              type, f->name, MAX_STRING);
            if (f->type == F_OBJS && !cJSON_IsObject(e))
                return refuse(why, "%s: every entry of %s must be an object", type, f->name);
        }
        break;
    }
    if (f->check != NULL && !f->check(v))
        return refuse(why, "%s: %s is not valid here (docs/protocol.md)", type, f->name);
    return true;
}

/* The whole message against the table; *type set on success. */
static bool
check_message(const cJSON *o, enum rp_msg_type *type, char **why)
{
    const cJSON *t, *v;
    const struct message *m = NULL;
    bool seen[MAX_FIELDS] = { false };

    if (!cJSON_IsObject(o))
        return refuse(why, "a message must be a JSON object");
    if (depth(o) > RP_PROTO_MAX_DEPTH)
        return refuse(why, "the message is nested deeper than %d levels", RP_PROTO_MAX_DEPTH);
    t = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsString(t))
        return refuse(why, "a message needs a \"type\" string");
    for (unsigned i = 0; i < RP_MSG_TYPE_COUNT; i++)
        if (strcmp(t->valuestring, messages[i].name) == 0) {
            m = &messages[i];
            *type = (enum rp_msg_type)i;
        }
    if (m == NULL) {
        char name[40];
        return refuse(why, "unknown message type \"%s\"", shown(name, t->valuestring));
    }
    cJSON_ArrayForEach(v, o) {
        size_t index = 0;
        const struct field *f;
        if (v->string == NULL)
            return refuse(why, "%s: a field without a name", m->name);
        if (strcmp(v->string, "type") == 0) {
            if (v != t)
                return refuse(why, "%s: \"type\" given twice", m->name);
            continue;
        }
        if ((f = find_field(m->fields, v->string, &index)) == NULL) {
            char name[40];
            return refuse(why, "%s: unknown field \"%s\"", m->name, shown(name, v->string));
        }
        if (seen[index])
            return refuse(why, "%s: %s given twice", m->name, f->name);
        seen[index] = true;
        if (!check_field(f, v, m->name, why))
            return false;
    }
    for (size_t i = 0; m->fields[i].name != NULL; i++)
        if (!m->fields[i].optional && !seen[i])
            return refuse(why, "%s: %s is missing", m->name, m->fields[i].name);
    return true;
}

rp_status
rp__msg_decode(const void *data, size_t len, size_t max_frame, rp_msg *out,
               enum rp_proto_error *code, char **why)
{
    enum rp_msg_type type;
    const char *end = NULL;
    cJSON *o;

    *why = NULL;
    *code = RP_PROTO_MALFORMED;
    if (max_frame == 0)
        max_frame = RP_PROTO_MAX_FRAME_DEFAULT;
    if (len > max_frame) {
        *code = RP_PROTO_TOO_BIG;
        refuse(why, "a frame of %zu bytes is over the limit of %zu", len, max_frame);
        return RP_ERR_INVALID;
    }
    if (data == NULL || len == 0) {
        refuse(why, "an empty text frame");
        return RP_ERR_INVALID;
    }
    if (!valid_utf8(data, len)) {
        refuse(why, "a text frame that is not UTF-8 (bytes belong in binary frames)");
        return RP_ERR_INVALID;
    }
    if (!strict_json(data, len, &end)) {
        refuse(why, "not JSON (at byte %zu)", (size_t)(end - (const char *)data));
        return RP_ERR_INVALID;
    }
    o = cJSON_ParseWithLengthOpts(data, len, &end, false);
    if (o == NULL) {
        refuse(why, "not JSON (at byte %zu)",
               end != NULL && end >= (const char *)data ? (size_t)(end - (const char *)data) : 0);
        return RP_ERR_INVALID;
    }
    /* Only blanks may follow the object. */
    for (const char *p = end; p != NULL && p < (const char *)data + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(o);
            refuse(why, "text after the JSON object");
            return RP_ERR_INVALID;
        }
    if (!check_message(o, &type, why)) {
        cJSON_Delete(o);
        return RP_ERR_INVALID;
    }
    *code = RP_PROTO_OK;
    out->type = type;
    out->json = o;
    return RP_OK;
}

void
rp__msg_free(rp_msg *m)
{
    if (m != NULL) {
        cJSON_Delete(m->json);
        m->json = NULL;
    }
}

/* The item for a field the message type has (abort if it has not: a
 * reader asking for a field the table lacks is a bug here). */
static const cJSON *
item(const rp_msg *m, const char *field)
{
    size_t index;

    if ((unsigned)m->type >= RP_MSG_TYPE_COUNT ||
        find_field(messages[m->type].fields, field, &index) == NULL) {
        fprintf(stderr, "repartir: bug: message %s has no field %s\n",
                rp__msg_type_name(m->type) ? rp__msg_type_name(m->type) : "?", field);
        abort();
    }
    return cJSON_GetObjectItemCaseSensitive(m->json, field);
}

uint64_t
rp__msg_u64(const rp_msg *m, const char *field)
{
    const cJSON *v = item(m, field);

    return cJSON_IsNumber(v) ? (uint64_t)v->valuedouble : 0;
}

const char *
rp__msg_str(const rp_msg *m, const char *field)
{
    const cJSON *v = item(m, field);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool
rp__msg_bool(const rp_msg *m, const char *field)
{
    return cJSON_IsTrue(item(m, field));
}

bool
rp__msg_has(const rp_msg *m, const char *field)
{
    return item(m, field) != NULL;
}

const cJSON *
rp__msg_item(const rp_msg *m, const char *field)
{
    return item(m, field);
}

/* cJSON prints numbers with 15 significant digits, which rounds large
 * whole numbers (2^53 - 1 would go out as 9.00719925474099e+15): write
 * every whole number that fits exactly, exactly. False on a raw item
 * (only this function makes those). */
static bool
exact_numbers(cJSON *v)
{
    for (cJSON *c = v->child; c != NULL; c = c->next) {
        if (cJSON_IsRaw(c))
            return false;
        if (cJSON_IsNumber(c) && c->valuedouble == (double)(int64_t)c->valuedouble &&
            c->valuedouble >= -MAX_U64 && c->valuedouble <= MAX_U64) {
            char buf[32];
            snprintf(buf, sizeof buf, "%.0f", c->valuedouble);
            c->type = cJSON_Raw;
            c->valuestring = rp_xstrdup(buf);
        } else if (!exact_numbers(c)) {
            return false;
        }
    }
    return true;
}

rp_status
rp__msg_encode(cJSON *obj, char **text, size_t *len, char **why)
{
    enum rp_msg_type type;
    enum rp_proto_error code;
    rp_msg check;
    char *s;

    *text = NULL;
    *len = 0;
    *why = NULL;
    if (obj == NULL || !check_message(obj, &type, why)) {
        if (obj == NULL)
            refuse(why, "no message");
        cJSON_Delete(obj);
        return RP_ERR_INVALID;
    }
    if (!exact_numbers(obj)) {
        cJSON_Delete(obj);
        refuse(why, "%s: a raw JSON item cannot be sent", messages[type].name);
        return RP_ERR_INVALID;
    }
    s = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (s == NULL)
        rp__out_of_memory(0);       /* cJSON fails only for memory */
    /* What goes out is what the peer will check: strings that are not
     * UTF-8 are caught here, not by the peer. */
    if (rp__msg_decode(s, strlen(s), SIZE_MAX, &check, &code, why) != RP_OK) {
        free(s);
        return RP_ERR_INVALID;
    }
    rp__msg_free(&check);
    *text = s;
    *len = strlen(s);
    return RP_OK;
}

/* ---- binary frames ---- */

static uint64_t
get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static void
put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

rp_status
rp__chunk_decode(const void *data, size_t len, size_t max_frame, struct rp_chunk *out,
                 enum rp_proto_error *code, char **why)
{
    const unsigned char *p = data;
    struct rp_chunk c;

    *why = NULL;
    *code = RP_PROTO_MALFORMED;
    if (max_frame == 0)
        max_frame = RP_PROTO_MAX_FRAME_DEFAULT;
    if (len > max_frame) {
        *code = RP_PROTO_TOO_BIG;
        refuse(why, "a frame of %zu bytes is over the limit of %zu", len, max_frame);
        return RP_ERR_INVALID;
    }
    if (p == NULL || len < RP_PROTO_CHUNK_HEADER) {
        refuse(why, "a binary frame shorter than its %d-byte header", RP_PROTO_CHUNK_HEADER);
        return RP_ERR_INVALID;
    }
    if (memcmp(p, "RPB1", 4) != 0) {
        refuse(why, "a binary frame without the RPB1 magic");
        return RP_ERR_INVALID;
    }
    c.kind = p[4];
    c.flags = p[5];
    c.id = get_be(p + 8, 8);
    c.attempt = (uint32_t)get_be(p + 16, 4);
    c.seq = (uint32_t)get_be(p + 20, 4);
    c.payload = p + RP_PROTO_CHUNK_HEADER;
    c.payload_len = len - RP_PROTO_CHUNK_HEADER;
    if (c.kind < RP_CHUNK_STDIN || c.kind > RP_CHUNK_FILE) {
        refuse(why, "a binary frame of unknown kind %u", c.kind);
        return RP_ERR_INVALID;
    }
    if ((c.flags & ~RP_CHUNK_LAST) != 0 || p[6] != 0 || p[7] != 0) {
        refuse(why, "a binary frame with unknown flags or a non-zero reserved field");
        return RP_ERR_INVALID;
    }
    if (c.kind == RP_CHUNK_FILE ? (c.id != 0 || c.attempt != 0) : c.id == 0) {
        refuse(why, c.kind == RP_CHUNK_FILE ? "a file chunk names a task"
                                            : "a task's chunk without a task id");
        return RP_ERR_INVALID;
    }
    if (c.kind == RP_CHUNK_FILE && c.seq == 0 && c.payload_len < 32) {
        refuse(why, "a file's first chunk lacks the file's SHA-256");
        return RP_ERR_INVALID;
    }
    *code = RP_PROTO_OK;
    *out = c;
    return RP_OK;
}

void
rp__chunk_header(const struct rp_chunk *c, unsigned char out[RP_PROTO_CHUNK_HEADER])
{
    memcpy(out, "RPB1", 4);
    out[4] = c->kind;
    out[5] = c->flags;
    out[6] = out[7] = 0;
    put_be(out + 8, c->id, 8);
    put_be(out + 16, c->attempt, 4);
    put_be(out + 20, c->seq, 4);
}
