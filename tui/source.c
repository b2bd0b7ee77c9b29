/*
 * source.c -- what every console_source shares: descriptions parsed from
 * the store's JSON, argv quoting, and freeing the structures of source.h.
 */
#include "tui/source.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "engine/alloc.h"

void
rp__console_snapshot_free(struct rp_console_snapshot *s)
{
    free(s->tasks);
    free(s->workers);
    memset(s, 0, sizeof *s);
}

void
rp__console_job_desc_free(struct rp_console_job_desc *d)
{
    free(d->name);
    free(d->command);
    memset(d, 0, sizeof *d);
}

static void
free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void
rp__console_detail_free(struct rp_console_detail *d)
{
    rp__console_job_desc_free(&d->desc);
    free_strings(d->env, d->nenv);
    free_strings(d->data_deps, d->ndeps);
    free(d->cwd);
    free(d->error);
    free(d->out);
    free(d->err);
    memset(d, 0, sizeof *d);
}

/* Characters a shell would not treat specially. */
static bool
needs_quotes(const char *s)
{
    if (*s == '\0')
        return true;
    for (; *s; s++)
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                   "-_./=:,+@%",
                   *s) == NULL)
            return true;
    return false;
}

char *
rp__console_join_argv(char *const *argv, size_t argc)
{
    size_t cap = 1;
    char *out, *p;

    for (size_t i = 0; i < argc; i++)
        cap += 4 * strlen(argv[i]) + 3;
    out = p = rp_xmalloc(cap);
    for (size_t i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i > 0)
            *p++ = ' ';
        if (!needs_quotes(a)) {
            size_t n = strlen(a);
            memcpy(p, a, n);
            p += n;
            continue;
        }
        /* 'it'\''s' */
        *p++ = '\'';
        for (; *a; a++) {
            if (*a == '\'') {
                memcpy(p, "'\\''", 4);
                p += 4;
            } else {
                *p++ = *a;
            }
        }
        *p++ = '\'';
    }
    *p = '\0';
    return out;
}

static const char *const priority_names[] = { "low", "normal", "high", "critical" };
static const char *const backend_names[] = { "any", "cpu", "gpu", "remote" };

static int
name_index(const cJSON *o, const char *key, const char *const *names, int n, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (cJSON_IsString(v))
        for (int i = 0; i < n; i++)
            if (strcmp(v->valuestring, names[i]) == 0)
                return i;
    return dflt;
}

static unsigned
number(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 4e9
               ? (unsigned)v->valuedouble
               : 0;
}

rp_status
rp__console_job_desc_parse(const char *json, unsigned total, struct rp_console_job_desc *out)
{
    cJSON *o = json != NULL ? cJSON_Parse(json) : NULL;
    const cJSON *kind, *name, *argv, *v;

    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return RP_ERR_CORRUPT;
    }
    kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    name = cJSON_GetObjectItemCaseSensitive(o, "name");
    argv = cJSON_GetObjectItemCaseSensitive(o, "argv");
    out->function = cJSON_IsString(kind) && strcmp(kind->valuestring, "function") == 0;
    if (cJSON_IsString(name))
        out->name = rp_xstrdup(name->valuestring);
    if (cJSON_IsArray(argv)) {
        size_t n = (size_t)cJSON_GetArraySize(argv), k = 0;
        char **v2 = rp_xcalloc(n ? n : 1, sizeof *v2);
        cJSON_ArrayForEach(v, argv)
            if (cJSON_IsString(v))
                v2[k++] = v->valuestring;
        out->command = rp__console_join_argv(v2, k);
        free(v2);
    } else if (cJSON_IsString(kind) && strcmp(kind->valuestring, "noop") == 0) {
        out->command = rp_xstrdup("(noop)");
    } else if (cJSON_IsString(kind) && strcmp(kind->valuestring, "spirv") == 0 &&
               cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, "spirv"))) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(o, "spirv");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(sp, "shader");
        const char *path = cJSON_IsString(sh) ? sh->valuestring : "?";
        const char *base = strrchr(path, '/');
        out->command = rp__sprintf("spirv %s, %d in, %d out", base != NULL ? base + 1 : path,
                                   cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sp, "inputs")),
                                   cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sp, "outputs")));
    } else if (cJSON_IsString(kind) && strcmp(kind->valuestring, "tensor") == 0 &&
               cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "tensor"))) {
        out->command = rp__sprintf("tensor %s",
                                   cJSON_GetObjectItemCaseSensitive(o, "tensor")->valuestring);
    } else {
        out->command = rp_xstrdup(out->function ? "fn()" : "?");
    }
    out->total = total;
    out->priority = (rp_priority)name_index(o, "priority", priority_names, 4, RP_PRIORITY_NORMAL);
    out->backend = (rp_backend)name_index(o, "backend", backend_names, 4, RP_BACKEND_ANY);
    out->max_retries = number(o, "retries");
    out->timeout_ms = number(o, "timeout_ms");
    if (out->timeout_ms == 0 && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, "spirv")))
        out->timeout_ms = number(cJSON_GetObjectItemCaseSensitive(o, "spirv"), "timeout_ms");
    out->checkpoint = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "checkpoint"));
    cJSON_Delete(o);
    return RP_OK;
}
