/*
 * task.c -- task descriptions (the rp_task_* builders) and results (the
 * rp_result_* readers). Submitting and the life of a task are in jobs.c.
 *
 * A description is built by one thread; once submitted it is immutable and
 * shared by the records of its shards, so it is reference counted.
 */
#include "engine/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/alloc.h"
#include "net/proto.h"
#include "net/workdir.h"

#define DEFAULT_GRACE_MS 2000u
#define DEFAULT_BACKOFF_BASE_MS 100u
#define DEFAULT_BACKOFF_MAX_MS 30000u
#define MAX_RETRIES 1000u
#define MAX_CAPTURE ((size_t)1 << 30)
#define MAX_ARGS 100000u

static const char *const state_names[RP_TASK_STATE_COUNT] = {
    [RP_TASK_QUEUED] = "queued",
    [RP_TASK_RUNNING] = "running",
    [RP_TASK_SUCCEEDED] = "succeeded",
    [RP_TASK_FAILED] = "failed",
    [RP_TASK_CANCELLED] = "cancelled",
    [RP_TASK_TIMED_OUT] = "timed_out",
};

const char *
rp_task_state_name(rp_task_state s)
{
    return (unsigned)s < RP_TASK_STATE_COUNT ? state_names[s] : "unknown";
}

bool
rp_task_state_is_final(rp_task_state s)
{
    return s == RP_TASK_SUCCEEDED || s == RP_TASK_FAILED || s == RP_TASK_CANCELLED ||
           s == RP_TASK_TIMED_OUT;
}

/* ---- building ---- */

static rp_task *
task_alloc(enum rp__task_kind kind)
{
    rp_task *t = rp_xcalloc(1, sizeof *t);

    atomic_init(&t->refs, 1);
    t->kind = kind;
    t->priority = RP_PRIORITY_NORMAL;
    t->backend = RP_BACKEND_ANY;
    t->grace_ms = DEFAULT_GRACE_MS;
    t->backoff_base_ms = DEFAULT_BACKOFF_BASE_MS;
    t->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
    t->capture_limit = RP_CAPTURE_DEFAULT;
    return t;
}

rp_task *
rp_task_new(const char *binary)
{
    rp_task *t;

    if (binary == NULL || binary[0] == '\0')
        return NULL;
    t = task_alloc(RP__KIND_PROCESS);
    /* Room for argv[0], one argument and the NULL: the common case never
     * grows the array. */
    t->argv_cap = 3;
    t->argv = rp_xcalloc(t->argv_cap, sizeof *t->argv);
    t->argv[0] = rp_xstrdup(binary);
    t->argc = 1;
    return t;
}

rp_task *
rp_task_new_fn(rp_task_fn fn, void *arg)
{
    rp_task *t;

    if (fn == NULL)
        return NULL;
    t = task_alloc(RP__KIND_FUNCTION);
    t->fn = fn;
    t->fn_arg = arg;
    return t;
}

static int
noop(void *arg)
{
    (void)arg;
    return 0;
}

rp_task *
rp_task_new_noop(void)
{
    rp_task *t = rp_task_new_fn(noop, NULL);

    t->noop = true;
    return t;
}

static bool
is_process(const rp_task *t)
{
    return t->kind == RP__KIND_PROCESS;
}

rp_status
rp_task_add_arg(rp_task *t, const char *arg)
{
    if (t == NULL || arg == NULL)
        return RP_ERR_INVALID;
    if (!is_process(t))
        return RP_ERR_UNSUPPORTED;
    if (t->argc >= MAX_ARGS)
        return RP_ERR_INVALID;
    if (t->argc + 1 >= t->argv_cap) {
        t->argv_cap *= 2;
        t->argv = rp_xrealloc(t->argv, t->argv_cap * sizeof *t->argv);
    }
    t->argv[t->argc++] = rp_xstrdup(arg);
    t->argv[t->argc] = NULL;
    return RP_OK;
}

size_t
rp__env_key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');

    return eq != NULL ? (size_t)(eq - kv) : strlen(kv);
}

rp_status
rp_task_set_env(rp_task *t, const char *key, const char *value)
{
    size_t klen, vlen;
    char *kv;

    if (t == NULL || key == NULL || value == NULL || key[0] == '\0' ||
        strchr(key, '=') != NULL)
        return RP_ERR_INVALID;
    if (!is_process(t))
        return RP_ERR_UNSUPPORTED;
    klen = strlen(key);
    vlen = strlen(value);
    kv = rp_xmalloc(klen + vlen + 2);
    memcpy(kv, key, klen);
    kv[klen] = '=';
    memcpy(kv + klen + 1, value, vlen + 1);
    for (unsigned i = 0; i < t->nenv; i++) {
        if (rp__env_key_len(t->env[i]) == klen && memcmp(t->env[i], key, klen) == 0) {
            free(t->env[i]);
            t->env[i] = kv;
            return RP_OK;
        }
    }
    if (t->nenv == t->env_cap) {
        t->env_cap = t->env_cap ? 2 * t->env_cap : 4;
        t->env = rp_xrealloc(t->env, t->env_cap * sizeof *t->env);
    }
    t->env[t->nenv++] = kv;
    return RP_OK;
}

rp_status
rp_task_set_cwd(rp_task *t, const char *dir)
{
    if (t == NULL || dir == NULL || dir[0] == '\0')
        return RP_ERR_INVALID;
    if (!is_process(t))
        return RP_ERR_UNSUPPORTED;
    free(t->cwd);
    t->cwd = rp_xstrdup(dir);
    return RP_OK;
}

rp_status
rp_task_set_stdin(rp_task *t, const void *data, size_t len)
{
    if (t == NULL || (data == NULL && len != 0))
        return RP_ERR_INVALID;
    if (!is_process(t))
        return RP_ERR_UNSUPPORTED;
    free(t->stdin_data);
    t->stdin_data = NULL;
    t->stdin_len = len;
    if (len != 0) {
        t->stdin_data = rp_xmalloc(len);
        memcpy(t->stdin_data, data, len);
    }
    return RP_OK;
}

rp_status
rp_task_set_backend(rp_task *t, rp_backend b)
{
    if (t == NULL || (unsigned)b > RP_BACKEND_REMOTE)
        return RP_ERR_INVALID;
    /* The GPU runs SPIR-V tasks, and tensor tasks' ops; a SPIR-V task runs
     * nowhere else. */
    if (b == RP_BACKEND_GPU && t->kind != RP__KIND_GPU && t->tensor == NULL)
        return RP_ERR_UNSUPPORTED;
    if (t->kind == RP__KIND_GPU && b != RP_BACKEND_GPU && b != RP_BACKEND_ANY)
        return RP_ERR_UNSUPPORTED;
    t->backend = t->kind == RP__KIND_GPU ? RP_BACKEND_GPU : b;
    return RP_OK;
}

/* ---- SPIR-V tasks ---- */

/* path, absolute when it can be resolved (the task may run after a chdir,
 * or be restored by another process) */
static char *
resolve(const char *path)
{
    char *abs = realpath(path, NULL);

    return abs != NULL ? abs : rp_xstrdup(path);
}

rp_task *
rp_task_new_spirv(const char *spv_path)
{
    rp_task *t;

    if (spv_path == NULL || spv_path[0] == '\0')
        return NULL;
    t = task_alloc(RP__KIND_GPU);
    t->backend = RP_BACKEND_GPU;
    t->spirv.shader = resolve(spv_path);
    return t;
}

rp_status
rp_task_add_input(rp_task *t, const char *path)
{
    if (t == NULL || path == NULL || path[0] == '\0')
        return RP_ERR_INVALID;
    if (t->kind != RP__KIND_GPU)
        return RP_ERR_UNSUPPORTED;
    if (t->spirv.ninputs + t->spirv.noutputs >= RP_GPU_MAX_BUFFERS)
        return RP_ERR_INVALID;
    t->spirv.inputs = rp_xrealloc(t->spirv.inputs,
                                  (t->spirv.ninputs + 1) * sizeof *t->spirv.inputs);
    t->spirv.inputs[t->spirv.ninputs++] = resolve(path);
    return RP_OK;
}

rp_status
rp_task_add_output(rp_task *t, size_t bytes)
{
    if (t == NULL || bytes == 0)
        return RP_ERR_INVALID;
    if (t->kind != RP__KIND_GPU)
        return RP_ERR_UNSUPPORTED;
    if (t->spirv.ninputs + t->spirv.noutputs >= RP_GPU_MAX_BUFFERS)
        return RP_ERR_INVALID;
    t->spirv.outputs = rp_xrealloc(t->spirv.outputs,
                                   (t->spirv.noutputs + 1) * sizeof *t->spirv.outputs);
    t->spirv.outputs[t->spirv.noutputs++] = bytes;
    return RP_OK;
}

rp_status
rp_task_set_groups(rp_task *t, unsigned x, unsigned y, unsigned z)
{
    if (t == NULL || x == 0 || y == 0 || z == 0)
        return RP_ERR_INVALID;
    if (t->kind != RP__KIND_GPU)
        return RP_ERR_UNSUPPORTED;
    t->spirv.groups[0] = x;
    t->spirv.groups[1] = y;
    t->spirv.groups[2] = z;
    return RP_OK;
}

bool
rp__groups_parse(const char *text, unsigned out[3])
{
    const char *p = text;

    out[0] = out[1] = out[2] = 1;
    for (int i = 0; i < 3; i++) {
        char *end;
        unsigned long long v;
        if (*p < '0' || *p > '9')
            return false;
        errno = 0;
        v = strtoull(p, &end, 10);
        if (v == 0 || v > UINT32_MAX || errno != 0 || (*end != '\0' && *end != ','))
            return false;
        out[i] = (unsigned)v;
        if (*end == '\0')
            return true;
        p = end + 1;
    }
    return false;                   /* a fourth number */
}

rp_status
rp_task_set_output_dir(rp_task *t, const char *dir)
{
    if (t == NULL)
        return RP_ERR_INVALID;
    if (t->kind != RP__KIND_GPU)
        return RP_ERR_UNSUPPORTED;
    free(t->spirv.output_dir);
    t->spirv.output_dir = dir != NULL && dir[0] != '\0' ? resolve(dir) : NULL;
    return RP_OK;
}

const void *
rp_result_output(const rp_result *r, unsigned i, size_t *len)
{
    if (len != NULL)
        *len = 0;
    if (r == NULL || i >= r->noutputs)
        return NULL;
    if (len != NULL)
        *len = r->outputs[i].len;
    return r->outputs[i].data;
}

unsigned
rp_result_outputs(const rp_result *r)
{
    return r != NULL ? r->noutputs : 0;
}

rp_status
rp_task_set_priority(rp_task *t, rp_priority p)
{
    if (t == NULL || (unsigned)p >= RP_PRIORITY_COUNT)
        return RP_ERR_INVALID;
    t->priority = p;
    return RP_OK;
}

rp_status
rp_task_set_timeout_ms(rp_task *t, unsigned ms)
{
    if (t == NULL)
        return RP_ERR_INVALID;
    if (!is_process(t) && t->kind != RP__KIND_GPU && ms != 0)
        return RP_ERR_UNSUPPORTED;
    t->timeout_ms = ms;
    return RP_OK;
}

rp_status
rp_task_set_kill_grace_ms(rp_task *t, unsigned ms)
{
    if (t == NULL)
        return RP_ERR_INVALID;
    t->grace_ms = ms;
    return RP_OK;
}

rp_status
rp_task_set_retries(rp_task *t, unsigned max_retries)
{
    if (t == NULL || max_retries > MAX_RETRIES)
        return RP_ERR_INVALID;
    t->retries = max_retries;
    return RP_OK;
}

rp_status
rp_task_set_backoff(rp_task *t, unsigned base_ms, unsigned max_ms)
{
    if (t == NULL || base_ms == 0 || max_ms < base_ms)
        return RP_ERR_INVALID;
    t->backoff_base_ms = base_ms;
    t->backoff_max_ms = max_ms;
    return RP_OK;
}

rp_status
rp_task_set_retry_on_exit(rp_task *t, bool on)
{
    if (t == NULL)
        return RP_ERR_INVALID;
    t->retry_on_exit = on;
    return RP_OK;
}

rp_status
rp_task_set_capture_limit(rp_task *t, size_t bytes)
{
    if (t == NULL || bytes > MAX_CAPTURE)
        return RP_ERR_INVALID;
    if (!is_process(t))
        return RP_ERR_UNSUPPORTED;
    t->capture_limit = bytes;
    return RP_OK;
}

rp_status
rp_task_set_name(rp_task *t, const char *name)
{
    if (t == NULL || name == NULL)
        return RP_ERR_INVALID;
    free(t->name);
    t->name = rp_xstrdup(name);
    return RP_OK;
}

rp_status
rp_task_set_limit(rp_task *t, rp_limit what, uint64_t value)
{
    if (t == NULL || (unsigned)what >= RP__LIMIT_COUNT)
        return RP_ERR_INVALID;
    if (!is_process(t))
        return RP_ERR_UNSUPPORTED;
    t->limits[what] = value;
    t->limits_set |= (uint8_t)(1u << what);
    return RP_OK;
}

rp_status
rp_task_add_data_dep(rp_task *t, const char *key)
{
    if (t == NULL || key == NULL || key[0] == '\0')
        return RP_ERR_INVALID;
    t->data_deps = rp_xrealloc(t->data_deps, (t->ndeps + 1) * sizeof *t->data_deps);
    t->data_deps[t->ndeps++] = rp_xstrdup(key);
    return RP_OK;
}

#define MAX_FILES 256               /* docs/protocol.md: `files` entries */

void
rp__task_add_file_checked(struct rp_task *t, const char *path, const char *name,
                          const char *sha256, uint64_t size, unsigned mode)
{
    struct rp__file *f;

    t->files = rp_xrealloc(t->files, (t->nfiles + 1) * sizeof *t->files);
    f = &t->files[t->nfiles++];
    f->path = rp_xstrdup(path);
    f->name = rp_xstrdup(name);
    snprintf(f->sha256, sizeof f->sha256, "%s", sha256);
    f->size = size;
    f->mode = mode & 0777;
}

rp_status
rp_task_add_file(rp_task *t, const char *path, const char *name)
{
    char sha[65], *why = NULL;
    uint64_t size;
    unsigned mode;
    rp_status s;

    if (t == NULL || path == NULL || name == NULL || !is_process(t) ||
        !rp__proto_safe_name(name) || t->nfiles >= MAX_FILES)
        return RP_ERR_INVALID;
    for (unsigned i = 0; i < t->nfiles; i++)
        if (strcmp(t->files[i].name, name) == 0)
            return RP_ERR_INVALID;
    if ((s = rp__file_sha256(path, sha, &size, &mode, &why)) != RP_OK) {
        free(why);
        return s;
    }
    rp__task_add_file_checked(t, path, name, sha, size, mode);
    return RP_OK;
}

rp_status
rp_task_set_checkpoint(rp_task *t, bool on, unsigned interval_ms)
{
    if (t == NULL)
        return RP_ERR_INVALID;
    if (on && !is_process(t))
        return RP_ERR_UNSUPPORTED;
    t->checkpoint = on;
    t->checkpoint_interval_ms = interval_ms;
    return RP_OK;
}

static void
spec_free(rp_task *t)
{
    for (unsigned i = 0; i < t->argc; i++)
        free(t->argv[i]);
    free(t->argv);
    for (unsigned i = 0; i < t->nenv; i++)
        free(t->env[i]);
    free(t->env);
    for (unsigned i = 0; i < t->ndeps; i++)
        free(t->data_deps[i]);
    free(t->data_deps);
    free(t->cwd);
    free(t->tensor);
    free(t->spirv.shader);
    for (unsigned i = 0; i < t->spirv.ninputs; i++)
        free(t->spirv.inputs[i]);
    free(t->spirv.inputs);
    free(t->spirv.outputs);
    free(t->spirv.output_dir);
    free(t->stdin_data);
    free(t->name);
    free(t->wire);
    free(t->wire_refused);
    free(t->wire_files);
    for (unsigned i = 0; i < t->nfiles; i++) {
        free(t->files[i].path);
        free(t->files[i].name);
    }
    free(t->files);
    free(t);
}

void
rp__task_spec_unref(rp_task *t)
{
    /* acq_rel: the last owner must see every other owner's reads done. */
    if (t != NULL && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        spec_free(t);
}

void
rp_task_free(rp_task *t)
{
    rp__task_spec_unref(t);
}

/* ---- results ---- */

rp_result *
rp__result_new(void)
{
    rp_result *r = rp_xcalloc(1, sizeof *r);

    atomic_init(&r->refs, 1);
    return r;
}

void
rp_result_free(rp_result *r)
{
    if (r == NULL || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(r->out.data);
    free(r->err.data);
    for (unsigned i = 0; i < r->noutputs; i++)
        free(r->outputs[i].data);
    free(r->outputs);
    free(r->error);
    free(r);
}

bool
rp_result_is_success(const rp_result *r)
{
    return r != NULL && r->state == RP_TASK_SUCCEEDED;
}

rp_task_state
rp_result_state(const rp_result *r)
{
    return r != NULL ? r->state : RP_TASK_FAILED;
}

int
rp_result_exit_code(const rp_result *r)
{
    return r != NULL ? r->exit_code : -1;
}

int
rp_result_signal(const rp_result *r)
{
    return r != NULL ? r->signal : 0;
}

static const char *
bytes_of(const struct rp__bytes *b, size_t *len)
{
    if (len != NULL)
        *len = b->len;
    return b->data != NULL ? b->data : "";
}

const char *
rp_result_stdout(const rp_result *r, size_t *len)
{
    static const struct rp__bytes none;

    return bytes_of(r != NULL ? &r->out : &none, len);
}

const char *
rp_result_stderr(const rp_result *r, size_t *len)
{
    static const struct rp__bytes none;

    return bytes_of(r != NULL ? &r->err : &none, len);
}

uint64_t
rp_result_stdout_total(const rp_result *r)
{
    return r != NULL ? r->out.total : 0;
}

uint64_t
rp_result_stderr_total(const rp_result *r)
{
    return r != NULL ? r->err.total : 0;
}

bool
rp_result_stdout_truncated(const rp_result *r)
{
    return r != NULL && r->out_truncated;
}

bool
rp_result_stderr_truncated(const rp_result *r)
{
    return r != NULL && r->err_truncated;
}

const char *
rp_result_error(const rp_result *r)
{
    return r != NULL && r->error != NULL ? r->error : "";
}

rp_task_id
rp_result_task(const rp_result *r)
{
    return r != NULL ? r->task : 0;
}

rp_job_id
rp_result_job(const rp_result *r)
{
    return r != NULL ? r->job : 0;
}

unsigned
rp_result_shard(const rp_result *r)
{
    return r != NULL ? r->shard : 0;
}

unsigned
rp_result_attempts(const rp_result *r)
{
    return r != NULL ? r->attempts : 0;
}

void
rp_result_get_times(const rp_result *r, rp_result_times *out)
{
    if (out == NULL)
        return;
    if (r == NULL)
        memset(out, 0, sizeof *out);
    else
        *out = r->times;
}
