/*
 * task_codec.c -- a task description to JSON and back, for the durable
 * job store (the `spec` column of the jobs table, docs/store.md). The
 * stdin bytes travel beside the JSON, as a BLOB.
 *
 * Parsing goes through the public builders, so a description read back
 * is checked exactly like one built by a caller; anything missing, of the
 * wrong type or out of range is an error with a reason, never a crash.
 */
#include "engine/engine.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/alloc.h"
#include "net/proto.h"

#define CODEC_VERSION 1

static const char *const priority_names[RP_PRIORITY_COUNT] = {
    [RP_PRIORITY_LOW] = "low",
    [RP_PRIORITY_NORMAL] = "normal",
    [RP_PRIORITY_HIGH] = "high",
    [RP_PRIORITY_CRITICAL] = "critical",
};

static const char *const backend_names[] = {
    [RP_BACKEND_ANY] = "any",
    [RP_BACKEND_CPU] = "cpu",
    [RP_BACKEND_GPU] = "gpu",
    [RP_BACKEND_REMOTE] = "remote",
};

static const char *const limit_names[RP__LIMIT_COUNT] = {
    [RP_LIMIT_CPU_SECONDS] = "cpu_seconds",
    [RP_LIMIT_ADDRESS_SPACE] = "address_space",
    [RP_LIMIT_OPEN_FILES] = "open_files",
    [RP_LIMIT_PROCESSES] = "processes",
};

static void
add_strings(cJSON *o, const char *name, char *const *v, unsigned n)
{
    cJSON *a = cJSON_AddArrayToObject(o, name);

    for (unsigned i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
}

static char *
spec_json(const struct rp_task *t, bool wire)
{
    cJSON *o = cJSON_CreateObject();
    char *text;

    cJSON_AddNumberToObject(o, "v", CODEC_VERSION);
    cJSON_AddStringToObject(o, "kind", t->kind == RP__KIND_PROCESS ? "process"
                                       : t->kind == RP__KIND_GPU   ? "spirv"
                                       : t->noop                   ? "noop"
                                       : t->tensor != NULL         ? "tensor"
                                                                   : "function");
    if (t->tensor != NULL)
        cJSON_AddStringToObject(o, "tensor", t->tensor);
    if (t->kind == RP__KIND_GPU) {
        cJSON *sp = cJSON_AddObjectToObject(o, "spirv");
        cJSON *outs = cJSON_CreateArray(), *groups = cJSON_CreateArray();
        cJSON_AddStringToObject(sp, "shader", t->spirv.shader);
        add_strings(sp, "inputs", t->spirv.inputs, t->spirv.ninputs);
        for (unsigned i = 0; i < t->spirv.noutputs; i++)
            cJSON_AddItemToArray(outs, cJSON_CreateNumber((double)t->spirv.outputs[i]));
        cJSON_AddItemToObject(sp, "outputs", outs);
        for (int i = 0; i < 3; i++)
            cJSON_AddItemToArray(groups, cJSON_CreateNumber(t->spirv.groups[i]));
        cJSON_AddItemToObject(sp, "groups", groups);
        if (t->spirv.output_dir != NULL)
            cJSON_AddStringToObject(sp, "output_dir", t->spirv.output_dir);
        cJSON_AddNumberToObject(sp, "timeout_ms", t->timeout_ms);
    }
    if (t->name != NULL)
        cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "priority", priority_names[t->priority]);
    cJSON_AddStringToObject(o, "backend", backend_names[t->backend]);
    cJSON_AddNumberToObject(o, "retries", t->retries);
    cJSON_AddNumberToObject(o, "backoff_base_ms", t->backoff_base_ms);
    cJSON_AddNumberToObject(o, "backoff_max_ms", t->backoff_max_ms);
    cJSON_AddBoolToObject(o, "retry_on_exit", t->retry_on_exit);
    add_strings(o, "data_deps", t->data_deps, t->ndeps);
    if (t->kind == RP__KIND_PROCESS) {
        add_strings(o, "argv", t->argv, t->argc);
        add_strings(o, "env", t->env, t->nenv);
        if (t->cwd != NULL)
            cJSON_AddStringToObject(o, "cwd", t->cwd);
        cJSON_AddNumberToObject(o, "timeout_ms", t->timeout_ms);
        cJSON_AddNumberToObject(o, "grace_ms", t->grace_ms);
        cJSON_AddNumberToObject(o, "capture_limit", (double)t->capture_limit);
        cJSON_AddBoolToObject(o, "checkpoint", t->checkpoint);
        cJSON_AddNumberToObject(o, "checkpoint_interval_ms", t->checkpoint_interval_ms);
        if (t->nfiles != 0 && !wire) {
            cJSON *files = cJSON_AddArrayToObject(o, "files");
            for (unsigned i = 0; i < t->nfiles; i++) {
                cJSON *f = cJSON_CreateObject();
                cJSON_AddStringToObject(f, "name", t->files[i].name);
                cJSON_AddStringToObject(f, "path", t->files[i].path);
                cJSON_AddStringToObject(f, "sha256", t->files[i].sha256);
                cJSON_AddNumberToObject(f, "size", (double)t->files[i].size);
                cJSON_AddNumberToObject(f, "mode", t->files[i].mode);
                cJSON_AddItemToArray(files, f);
            }
        }
        cJSON *limits = cJSON_AddObjectToObject(o, "limits");
        for (unsigned i = 0; i < RP__LIMIT_COUNT; i++) {
            if (t->limits_set & (1u << i)) {
                /* uint64 as text: a JSON number is a double. */
                char buf[24];
                snprintf(buf, sizeof buf, "%" PRIu64, t->limits[i]);
                cJSON_AddStringToObject(limits, limit_names[i], buf);
            }
        }
    }
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text == NULL)
        rp__out_of_memory(0);            /* cJSON fails only for memory */
    return text;
}

char *
rp__task_spec_json(const struct rp_task *t)
{
    return spec_json(t, false);
}

char *
rp__task_spec_json_wire(const struct rp_task *t)
{
    return spec_json(t, true);
}

/* ---- parsing ---- */

struct parse {
    const cJSON *o;
    char *why;
};

static bool __attribute__((format(printf, 2, 3)))
fail(struct parse *p, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (p->why != NULL)
        return false;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    p->why = rp_xmalloc((size_t)(n < 0 ? 0 : n) + 1);
    va_start(ap, fmt);
    vsnprintf(p->why, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return false;
}

/* A whole number in [0, max]; absent = dflt. */
static bool
get_uint(struct parse *p, const char *name, double max, unsigned long long dflt,
         unsigned long long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p->o, name);

    *out = dflt;
    if (v == NULL)
        return true;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max ||
        v->valuedouble != (double)(unsigned long long)v->valuedouble)
        return fail(p, "\"%s\" is not a whole number in range", name);
    *out = (unsigned long long)v->valuedouble;
    return true;
}

static bool
get_bool(struct parse *p, const char *name, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p->o, name);

    *out = false;
    if (v == NULL)
        return true;
    if (!cJSON_IsBool(v))
        return fail(p, "\"%s\" is not true or false", name);
    *out = cJSON_IsTrue(v);
    return true;
}

/* A string, or NULL when absent. */
static bool
get_string(struct parse *p, const char *name, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p->o, name);

    *out = NULL;
    if (v == NULL)
        return true;
    if (!cJSON_IsString(v))
        return fail(p, "\"%s\" is not a string", name);
    *out = v->valuestring;
    return true;
}

/* The index of the string `name` in names[n]; absent = dflt. */
static bool
get_enum(struct parse *p, const char *name, const char *const *names, unsigned n,
         unsigned dflt, unsigned *out)
{
    const char *s;

    *out = dflt;
    if (!get_string(p, name, &s))
        return false;
    if (s == NULL)
        return true;
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    return fail(p, "\"%s\" has an unknown value", name);
}

/* Calls add(t, item) for every string of array `name`. */
static bool
each_string(struct parse *p, const char *name, rp_task *t,
            bool (*add)(rp_task *t, const char *s))
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(p->o, name), *v;

    if (a == NULL)
        return true;
    if (!cJSON_IsArray(a))
        return fail(p, "\"%s\" is not an array", name);
    cJSON_ArrayForEach(v, a) {
        if (!cJSON_IsString(v))
            return fail(p, "\"%s\" holds something other than strings", name);
        if (!add(t, v->valuestring))
            return fail(p, "\"%s\" holds a value the task refuses", name);
    }
    return true;
}

static bool
add_input(rp_task *t, const char *s)
{
    return rp_task_add_input(t, s) == RP_OK;
}

/* The "spirv" object of a SPIR-V task's description; NULL with p->why. */
static rp_task *
parse_spirv(struct parse *p, const cJSON *top)
{
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(top, "spirv"), *v;
    struct parse q = { .o = sp, .why = NULL };
    const char *shader = NULL, *dir = NULL;
    unsigned long long timeout;
    unsigned groups[3] = { 1, 1, 1 }, i = 0;
    rp_task *t;

    if (!cJSON_IsObject(sp)) {
        fail(p, "\"%s\" is missing or not an object", "spirv");
        return NULL;
    }
    if (!get_string(&q, "shader", &shader) || !get_string(&q, "output_dir", &dir) ||
        !get_uint(&q, "timeout_ms", UINT32_MAX, 0, &timeout))
        goto bad;
    if (shader == NULL || (t = rp_task_new_spirv(shader)) == NULL) {
        fail(&q, "\"%s\" is missing or empty", "shader");
        goto bad;
    }
    if (!each_string(&q, "inputs", t, add_input))
        goto bad_task;
    v = cJSON_GetObjectItemCaseSensitive(sp, "outputs");
    if (v != NULL && !cJSON_IsArray(v)) {
        fail(&q, "\"%s\" is not an array", "outputs");
        goto bad_task;
    }
    for (const cJSON *o = v != NULL ? v->child : NULL; o != NULL; o = o->next)
        if (!cJSON_IsNumber(o) || o->valuedouble < 1 || o->valuedouble > 0x1p53 ||
            o->valuedouble != (double)(size_t)o->valuedouble ||
            rp_task_add_output(t, (size_t)o->valuedouble) != RP_OK) {
            fail(&q, "\"%s\" holds a size the task refuses", "outputs");
            goto bad_task;
        }
    v = cJSON_GetObjectItemCaseSensitive(sp, "groups");
    if (v != NULL && (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)) {
        fail(&q, "\"%s\" is not an array of 3", "groups");
        goto bad_task;
    }
    for (const cJSON *g = v != NULL ? v->child : NULL; g != NULL; g = g->next, i++) {
        if (!cJSON_IsNumber(g) || g->valuedouble < 1 || g->valuedouble > UINT32_MAX ||
            g->valuedouble != (double)(unsigned)g->valuedouble) {
            fail(&q, "\"%s\" holds a count the task refuses", "groups");
            goto bad_task;
        }
        groups[i] = (unsigned)g->valuedouble;
    }
    if (rp_task_set_groups(t, groups[0], groups[1], groups[2]) != RP_OK ||
        rp_task_set_output_dir(t, dir) != RP_OK ||
        rp_task_set_timeout_ms(t, (unsigned)timeout) != RP_OK) {
        fail(&q, "%s are out of range", "its settings");
        goto bad_task;
    }
    return t;
bad_task:
    rp_task_free(t);
bad:
    fail(p, "\"spirv\": %s", q.why != NULL ? q.why : "bad");
    free(q.why);
    return NULL;
}

static bool
add_arg(rp_task *t, const char *s)
{
    return rp_task_add_arg(t, s) == RP_OK;
}

static bool
add_env(rp_task *t, const char *s)
{
    size_t klen = rp__env_key_len(s);
    char *key;
    bool ok;

    if (s[klen] != '=')
        return false;
    key = rp_xstrndup(s, klen);
    ok = rp_task_set_env(t, key, s + klen + 1) == RP_OK;
    free(key);
    return ok;
}

static bool
add_dep(rp_task *t, const char *s)
{
    return rp_task_add_data_dep(t, s) == RP_OK;
}

static bool
parse_limits(struct parse *p, rp_task *t)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(p->o, "limits");

    if (o == NULL)
        return true;
    if (!cJSON_IsObject(o))
        return fail(p, "\"%s\" is not an object", "limits");
    for (unsigned i = 0; i < RP__LIMIT_COUNT; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, limit_names[i]);
        char *end;
        unsigned long long n;

        if (v == NULL)
            continue;
        if (!cJSON_IsString(v) || v->valuestring[0] < '0' || v->valuestring[0] > '9')
            return fail(p, "limit \"%s\" is not a number in a string", limit_names[i]);
        errno = 0;
        n = strtoull(v->valuestring, &end, 10);
        if (errno != 0 || *end != '\0' || rp_task_set_limit(t, (rp_limit)i, n) != RP_OK)
            return fail(p, "limit \"%s\" is out of range", limit_names[i]);
    }
    return true;
}

static bool
parse_process(struct parse *p, rp_task *t)
{
    unsigned long long timeout, grace, capture, interval;
    const char *cwd;
    bool checkpoint;

    if (!each_string(p, "argv", t, add_arg) || !each_string(p, "env", t, add_env) ||
        !get_string(p, "cwd", &cwd) ||
        !get_uint(p, "timeout_ms", UINT32_MAX, 0, &timeout) ||
        !get_uint(p, "grace_ms", UINT32_MAX, t->grace_ms, &grace) ||
        !get_uint(p, "capture_limit", (double)((size_t)1 << 30), t->capture_limit, &capture) ||
        !get_bool(p, "checkpoint", &checkpoint) ||
        !get_uint(p, "checkpoint_interval_ms", UINT32_MAX, 0, &interval) ||
        !parse_limits(p, t))
        return false;
    if (cwd != NULL && rp_task_set_cwd(t, cwd) != RP_OK)
        return fail(p, "\"%s\" is not a directory name", "cwd");
    if (rp_task_set_timeout_ms(t, (unsigned)timeout) != RP_OK ||
        rp_task_set_kill_grace_ms(t, (unsigned)grace) != RP_OK ||
        rp_task_set_capture_limit(t, (size_t)capture) != RP_OK ||
        rp_task_set_checkpoint(t, checkpoint, (unsigned)interval) != RP_OK)
        return fail(p, "%s are out of range", "the process settings");
    return true;
}

/* "files" (optional): what rp_task_add_file recorded, taken as it was
 * checked then (a file changed since fails its task when it is sent). */
static bool
parse_files(struct parse *p, struct rp_task *t)
{
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(p->o, "files"), *f;

    if (files == NULL)
        return true;
    if (!cJSON_IsArray(files) || cJSON_GetArraySize(files) > 256)
        return fail(p, "\"%s\" is not a list of at most 256", "files");
    cJSON_ArrayForEach(f, files) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name"),
                    *path = cJSON_GetObjectItemCaseSensitive(f, "path"),
                    *sha = cJSON_GetObjectItemCaseSensitive(f, "sha256"),
                    *size = cJSON_GetObjectItemCaseSensitive(f, "size"),
                    *mode = cJSON_GetObjectItemCaseSensitive(f, "mode");
        if (!cJSON_IsString(name) || !rp__proto_safe_name(name->valuestring) ||
            !cJSON_IsString(path) || !cJSON_IsString(sha) || strlen(sha->valuestring) != 64 ||
            !cJSON_IsNumber(size) || size->valuedouble < 0 || size->valuedouble > 0x1p53 ||
            !cJSON_IsNumber(mode) || mode->valuedouble < 0 || mode->valuedouble > 07777)
            return fail(p, "\"%s\" has a bad entry", "files");
        rp__task_add_file_checked(t, path->valuestring, name->valuestring, sha->valuestring,
                                  (uint64_t)size->valuedouble, (unsigned)mode->valuedouble);
    }
    return true;
}

rp_status
rp__task_spec_parse(const char *json, const void *stdin_data, size_t stdin_len,
                    struct rp_task **out, char **why)
{
    struct parse p = { NULL, NULL };
    cJSON *o = json != NULL ? cJSON_Parse(json) : NULL;
    const cJSON *argv;
    const char *kind, *name;
    unsigned long long version, retries, base, max;
    unsigned prio, backend;
    bool retry_on_exit;
    rp_task *t = NULL;
    rp_status status = RP_ERR_CORRUPT;

    *out = NULL;
    *why = NULL;
    if (o == NULL || !cJSON_IsObject(o)) {
        *why = rp_xstrdup("not a JSON object");
        cJSON_Delete(o);
        return RP_ERR_CORRUPT;
    }
    p.o = o;
    if (!get_uint(&p, "v", 1e9, 0, &version) || !get_string(&p, "kind", &kind))
        goto out;
    if (version != CODEC_VERSION) {
        fail(&p, "version %s is not one this repartir reads",
             version > CODEC_VERSION ? "newer" : "0");
        status = version > CODEC_VERSION ? RP_ERR_UNSUPPORTED : RP_ERR_CORRUPT;
        goto out;
    }
    if (kind != NULL && strcmp(kind, "function") == 0) {
        fail(&p, "%s", "a function task lives in the process that submitted it");
        status = RP_ERR_UNSUPPORTED;
        goto out;
    }
    if (kind != NULL && strcmp(kind, "noop") == 0) {
        t = rp_task_new_noop();
        goto common;
    }
    if (kind != NULL && strcmp(kind, "spirv") == 0) {
        if ((t = parse_spirv(&p, o)) == NULL)
            goto out;
        goto common;
    }
    if (kind != NULL && strcmp(kind, "tensor") == 0) {
        const char *spec = NULL;
        char *bad = NULL;
        if (!get_string(&p, "tensor", &spec))
            goto out;
        if (spec == NULL || (t = rp_task_new_tensor(spec, &bad)) == NULL) {
            fail(&p, "\"tensor\": %s", bad != NULL ? bad : "missing");
            free(bad);
            goto out;
        }
        goto common;
    }
    if (kind == NULL || strcmp(kind, "process") != 0) {
        fail(&p, "\"%s\" is missing or unknown", "kind");
        goto out;
    }
    argv = cJSON_GetObjectItemCaseSensitive(o, "argv");
    if (!cJSON_IsArray(argv) || cJSON_GetArraySize(argv) < 1 ||
        !cJSON_IsString(cJSON_GetArrayItem(argv, 0)) ||
        cJSON_GetArrayItem(argv, 0)->valuestring[0] == '\0') {
        fail(&p, "\"%s\" is missing or empty", "argv");
        goto out;
    }
    t = rp_task_new(cJSON_GetArrayItem(argv, 0)->valuestring);
    /* argv[0] is there already: parse the rest through a shifted copy. */
    cJSON_DeleteItemFromArray(cJSON_GetObjectItemCaseSensitive(o, "argv"), 0);
    if (!parse_process(&p, t) || !parse_files(&p, t))
        goto out;
common:
    if (!get_enum(&p, "priority", priority_names, RP_PRIORITY_COUNT, RP_PRIORITY_NORMAL, &prio) ||
        !get_enum(&p, "backend", backend_names, 4, RP_BACKEND_ANY, &backend) ||
        !get_string(&p, "name", &name) ||
        !get_uint(&p, "retries", 1000, 0, &retries) ||
        !get_uint(&p, "backoff_base_ms", UINT32_MAX, t->backoff_base_ms, &base) ||
        !get_uint(&p, "backoff_max_ms", UINT32_MAX, t->backoff_max_ms, &max) ||
        !get_bool(&p, "retry_on_exit", &retry_on_exit) ||
        !each_string(&p, "data_deps", t, add_dep))
        goto out;
    if (rp_task_set_priority(t, (rp_priority)prio) != RP_OK ||
        rp_task_set_backend(t, (rp_backend)backend) != RP_OK ||
        rp_task_set_retries(t, (unsigned)retries) != RP_OK ||
        rp_task_set_backoff(t, (unsigned)base, (unsigned)max) != RP_OK ||
        rp_task_set_retry_on_exit(t, retry_on_exit) != RP_OK ||
        (name != NULL && rp_task_set_name(t, name) != RP_OK) ||
        (t->kind == RP__KIND_PROCESS && rp_task_set_stdin(t, stdin_data, stdin_len) != RP_OK)) {
        fail(&p, "%s are out of range", "its settings");
        goto out;
    }
    *out = t;
    t = NULL;
    status = RP_OK;
out:
    rp_task_free(t);
    cJSON_Delete(o);
    *why = p.why;
    return status;
}

struct rp_task *
rp__task_spec_placeholder(const char *json)
{
    struct rp_task *t = rp_task_new("/");
    cJSON *o = json != NULL ? cJSON_Parse(json) : NULL;
    const cJSON *v;

    t->placeholder = true;
    if (o == NULL)
        return t;
    v = cJSON_GetObjectItemCaseSensitive(o, "kind");
    if (cJSON_IsString(v) && strcmp(v->valuestring, "function") == 0)
        t->kind = RP__KIND_FUNCTION;
    v = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (cJSON_IsString(v))
        rp_task_set_name(t, v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(o, "priority");
    for (int i = 0; cJSON_IsString(v) && i < RP_PRIORITY_COUNT; i++)
        if (strcmp(v->valuestring, priority_names[i]) == 0)
            t->priority = (rp_priority)i;
    v = cJSON_GetObjectItemCaseSensitive(o, "backend");
    for (size_t i = 0; cJSON_IsString(v) && i < sizeof backend_names / sizeof backend_names[0]; i++)
        if (strcmp(v->valuestring, backend_names[i]) == 0)
            t->backend = (rp_backend)i;
    cJSON_Delete(o);
    return t;
}
