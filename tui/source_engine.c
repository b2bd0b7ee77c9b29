/*
 * source_engine.c -- the console_source of the embedded engine: a pool in
 * this process, read through the public API.
 *
 * THREADS: the UI thread makes every call. One forwarding thread blocks on
 * the pool's event bus and appends to `queue` (under `lock`); when the
 * queue goes from empty to non-empty it writes the eventfd, which the UI
 * polls beside the terminal. The UI drains the queue in events(). The
 * queue is bounded: past QUEUE_MAX the forwarder counts what it drops as
 * lost and the UI takes a snapshot instead -- a console that cannot keep
 * up never holds the engine up.
 */
#include "tui/source.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine/alloc.h"
#include "engine/engine.h"

#define QUEUE_MAX 65536
#define DETAIL_OUTPUT_MAX ((size_t)64 << 10)   /* of a running task's output, per stream */

struct embedded {
    rp_console_source base;         /* first: the ops cast */
    rp_pool *pool;
    rp_subscription *sub;
    pthread_t forwarder;
    bool forwarder_started;
    _Atomic bool stop;
    int efd;
    char origin[512];

    pthread_mutex_t lock;           /* guards queue, n, lost */
    rp_event *queue;
    size_t n, head;
    uint64_t lost;
};

static struct embedded *
from(rp_console_source *s)
{
    return (struct embedded *)s;
}

static void
wake(struct embedded *e)
{
    uint64_t one = 1;

    while (write(e->efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

static void *
forward(void *arg)
{
    struct embedded *e = arg;
    rp_event ev;
    uint64_t lost;

    /* Relaxed: the flag only ends the loop; close joins the thread. */
    while (!atomic_load_explicit(&e->stop, memory_order_relaxed)) {
        rp_status st = rp_subscription_next(e->sub, 250, &ev, &lost);
        if (st == RP_ERR_TIMEOUT)
            continue;
        if (st != RP_OK)
            break;
        pthread_mutex_lock(&e->lock);
        bool was_empty = e->n == 0 && e->lost == 0;
        e->lost += lost;
        if (e->n < QUEUE_MAX)
            e->queue[(e->head + e->n++) % QUEUE_MAX] = ev;
        else
            e->lost++;
        pthread_mutex_unlock(&e->lock);
        if (was_empty)
            wake(e);
    }
    return NULL;
}

static const char *
origin(rp_console_source *s)
{
    return from(s)->origin;
}

static int
wake_fd(rp_console_source *s)
{
    return from(s)->efd;
}

static rp_status
snapshot(rp_console_source *s, struct rp_console_snapshot *out)
{
    struct embedded *e = from(s);
    rp_status st;

    memset(out, 0, sizeof *out);
    if ((st = rp_pool_stats(e->pool, &out->stats)) != RP_OK ||
        (st = rp_pool_tasks(e->pool, &out->tasks, &out->ntasks)) != RP_OK ||
        (st = rp_pool_workers(e->pool, &out->workers, &out->nworkers)) != RP_OK)
        rp__console_snapshot_free(out);
    return st;
}

static size_t
events(rp_console_source *s, rp_event *out, size_t max, uint64_t *lost)
{
    struct embedded *e = from(s);
    uint64_t drained;
    size_t k = 0;

    /* Reset the wake-up first: an event queued after this is signalled
     * again, so none is left waiting unseen. */
    if (read(e->efd, &drained, sizeof drained) < 0 && errno != EAGAIN)
        drained = 0;
    pthread_mutex_lock(&e->lock);
    while (k < max && e->n > 0) {
        out[k++] = e->queue[e->head];
        e->head = (e->head + 1) % QUEUE_MAX;
        e->n--;
    }
    *lost = e->lost;
    e->lost = 0;
    bool more = e->n > 0;
    pthread_mutex_unlock(&e->lock);
    if (more)
        wake(e);
    return k;
}

static rp_status
stats(rp_console_source *s, rp_stats *out)
{
    return rp_pool_stats(from(s)->pool, out);
}

static rp_status
workers(rp_console_source *s, rp_worker_info **out, size_t *n)
{
    return rp_pool_workers(from(s)->pool, out, n);
}

static rp_status
job_desc(rp_console_source *s, rp_task_id any, unsigned total, struct rp_console_job_desc *out)
{
    char *json;
    rp_status st = rp_task_describe(from(s)->pool, any, &json);

    if (st != RP_OK) {
        memset(out, 0, sizeof *out);
        return st;
    }
    if (total == 0) {
        rp_task_info info;
        if (rp_task_get(from(s)->pool, any, &info) == RP_OK)
            total = info.total_shards;
    }
    st = rp__console_job_desc_parse(json, total, out);
    free(json);
    return st;
}

static char **
strings(const cJSON *a, size_t *n)
{
    const cJSON *v;
    char **out = rp_xcalloc((size_t)cJSON_GetArraySize(a) + 1, sizeof *out);

    *n = 0;
    cJSON_ArrayForEach(v, a)
        if (cJSON_IsString(v))
            out[(*n)++] = rp_xstrdup(v->valuestring);
    return out;
}

/* rp_ckpt_list gives the newest first: keep the first ones. */
static bool
collect_ckpt(const rp_ckpt_info *info, void *ctx)
{
    struct rp_console_detail *d = ctx;
    struct rp_console_ckpt *c = &d->ckpt[d->nckpt++];

    c->iteration = info->iteration;
    c->time_ms = info->created_ms;
    c->raw_size = info->raw_size;
    c->stored_size = info->stored_size;
    return d->nckpt < sizeof d->ckpt / sizeof d->ckpt[0];
}

static rp_status
detail(rp_console_source *s, rp_task_id id, struct rp_console_detail *out)
{
    struct embedded *e = from(s);
    rp_result *r = NULL;
    char *json = NULL;
    cJSON *o;
    rp_status st;

    memset(out, 0, sizeof *out);
    st = rp_task_get(e->pool, id, &out->info);
    if (st != RP_OK) {
        /* Forgotten by the engine, or of an earlier run: what the store has. */
        rp_task_state state;
        if ((st = rp_task_status(e->pool, id, &state)) != RP_OK)
            return st;
        out->info.id = id;
        out->info.state = state;
        out->info.worker = -1;
        rp_task_job(e->pool, id, &out->info.job);
    }
    if (rp_task_describe(e->pool, id, &json) == RP_OK) {
        rp__console_job_desc_parse(json, out->info.total_shards, &out->desc);
        if ((o = cJSON_Parse(json)) != NULL) {
            const cJSON *env = cJSON_GetObjectItemCaseSensitive(o, "env");
            const cJSON *deps = cJSON_GetObjectItemCaseSensitive(o, "data_deps");
            const cJSON *cwd = cJSON_GetObjectItemCaseSensitive(o, "cwd");
            if (cJSON_IsArray(env))
                out->env = strings(env, &out->nenv);
            if (cJSON_IsArray(deps))
                out->data_deps = strings(deps, &out->ndeps);
            if (cJSON_IsString(cwd))
                out->cwd = rp_xstrdup(cwd->valuestring);
            cJSON_Delete(o);
        }
        free(json);
    }
    if (rp_task_state_is_final(out->info.state) && rp_wait(e->pool, id, 0, &r) == RP_OK) {
        const char *p;
        size_t len;
        out->has_result = true;
        rp_result_get_times(r, &out->times);
        out->error = rp_xstrdup(rp_result_error(r));
        /* By length: output may hold NUL bytes. */
        p = rp_result_stdout(r, &len);
        out->out = rp_xmemdup0(p, len);
        out->out_len = len;
        out->out_total = rp_result_stdout_total(r);
        p = rp_result_stderr(r, &len);
        out->err = rp_xmemdup0(p, len);
        out->err_len = len;
        out->err_total = rp_result_stderr_total(r);
        if (out->info.ended_ns == 0)
            out->info.ended_ns = out->times.ended_ns;
        out->info.exit_code = rp_result_exit_code(r);
        out->info.signal = rp_result_signal(r);
        out->info.attempts = rp_result_attempts(r);
        rp_result_free(r);
    }
    if (out->info.state == RP_TASK_RUNNING) {
        rp_task_output so_far;
        if (rp_task_peek_output(e->pool, id, DETAIL_OUTPUT_MAX, &so_far) == RP_OK) {
            out->live_output = true;
            out->out = so_far.out;
            out->out_len = so_far.out_len;
            out->out_total = so_far.out_total;
            out->err = so_far.err;
            out->err_len = so_far.err_len;
            out->err_total = so_far.err_total;
        } else {
            rp_task_output_free(&so_far);
        }
    }
    if (rp_pool_store(e->pool) != NULL &&
        rp_task_checkpoint_key(e->pool, id, out->ckpt_key, sizeof out->ckpt_key) == RP_OK) {
        if (rp_ckpt_list(rp_pool_store(e->pool), out->ckpt_key, collect_ckpt, out) != RP_OK)
            out->nckpt = 0;
        if (out->nckpt == 0 && !out->desc.checkpoint)
            out->ckpt_key[0] = '\0';
    }
    return RP_OK;
}

/* "--spirv FILE [--input FILE]... --output-size BYTES... [--groups X,Y,Z]"
 * as `repartir run` takes them; outputs land in the current directory. */
static rp_task *
spirv_task(const struct rp_console_submit *req, char **why)
{
    rp_task *t;
    unsigned g[3] = { 1, 1, 1 }, nout = 0;
    rp_status st = RP_OK;

    if (req->argc < 2) {
        *why = rp_xstrdup("--spirv FILE --output-size BYTES [--input FILE] [--groups X,Y,Z]");
        return NULL;
    }
    if (access(req->argv[1], R_OK) != 0) {
        *why = rp__sprintf("--spirv: cannot read '%s': %s", req->argv[1], strerror(errno));
        return NULL;
    }
    t = rp_task_new_spirv(req->argv[1]);
    for (size_t i = 2; i < req->argc && st == RP_OK; i += 2) {
        const char *opt = req->argv[i], *val = i + 1 < req->argc ? req->argv[i + 1] : NULL;
        char *end = NULL;
        if (val == NULL) {
            *why = rp__sprintf("%s needs a value", opt);
            st = RP_ERR_INVALID;
        } else if (strcmp(opt, "--input") == 0) {
            if (access(val, R_OK) != 0) {
                *why = rp__sprintf("--input: cannot read '%s': %s", val, strerror(errno));
                st = RP_ERR_INVALID;
            } else {
                st = rp_task_add_input(t, val);
            }
        } else if (strcmp(opt, "--output-size") == 0) {
            unsigned long long v = strtoull(val, &end, 10);
            st = *end != '\0' || v == 0 || val[0] == '-' ? RP_ERR_INVALID
                                                         : rp_task_add_output(t, (size_t)v);
            nout += st == RP_OK;
            if (st != RP_OK)
                *why = rp__sprintf("--output-size: '%s' is not a size in bytes", val);
        } else if (strcmp(opt, "--groups") == 0) {
            if (!rp__groups_parse(val, g) || rp_task_set_groups(t, g[0], g[1], g[2]) != RP_OK) {
                *why = rp__sprintf("--groups: '%s' is not X[,Y[,Z]]", val);
                st = RP_ERR_INVALID;
            }
        } else {
            *why = rp__sprintf("'%s': --spirv takes --input, --output-size and --groups", opt);
            st = RP_ERR_INVALID;
        }
    }
    if (st == RP_OK && nout == 0) {
        *why = rp_xstrdup("--spirv needs at least one --output-size");
        st = RP_ERR_INVALID;
    }
    if (st == RP_OK)
        st = rp_task_set_output_dir(t, ".");
    if (st != RP_OK) {
        if (*why == NULL)
            *why = rp__sprintf("--spirv: %s", rp_strerror(st));
        rp_task_free(t);
        return NULL;
    }
    return t;
}

static rp_status
gpu(rp_console_source *s, rp_gpu_info *out)
{
    return rp_pool_gpu_info(from(s)->pool, out);
}

static rp_status
submit(rp_console_source *s, const struct rp_console_submit *req, rp_job_id *job,
       rp_task_id *first, char **why)
{
    struct embedded *e = from(s);
    rp_task *t;
    rp_task_id *ids;
    rp_status st = RP_OK;

    *why = NULL;
    if (req->argc == 0 || req->argv[0][0] == '\0') {
        *why = rp_xstrdup("nothing to run: give a command");
        return RP_ERR_INVALID;
    }
    if (req->checkpoint && rp_pool_store(e->pool) == NULL) {
        *why = rp_xstrdup("checkpoints need a store: start the console with --state-dir");
        return RP_ERR_UNSUPPORTED;
    }
    if (strcmp(req->argv[0], "--spirv") == 0) {
        if ((t = spirv_task(req, why)) == NULL)
            return RP_ERR_INVALID;
    } else if (strcmp(req->argv[0], "--tensor") == 0) {
        /* "--tensor OP:DIMS", as `repartir run --tensor` takes it */
        char *bad = NULL;
        if (req->argc != 2) {
            *why = rp_xstrdup("--tensor takes one OP:DIMS, e.g. --tensor matmul:512x512x512");
            return RP_ERR_INVALID;
        }
        if ((t = rp_task_new_tensor(req->argv[1], &bad)) == NULL) {
            *why = rp__sprintf("--tensor: %s", bad != NULL ? bad : "not a tensor op");
            free(bad);
            return RP_ERR_INVALID;
        }
    } else {
        t = rp_task_new(req->argv[0]);
    }
    for (size_t i = 1; i < req->argc && st == RP_OK && req->argv[0][0] != '-'; i++)
        st = rp_task_add_arg(t, req->argv[i]);
    if (st == RP_OK && req->name != NULL && req->name[0] != '\0')
        st = rp_task_set_name(t, req->name);
    if (st == RP_OK)
        st = rp_task_set_priority(t, req->priority);
    if (st == RP_OK && (st = rp_task_set_backend(t, req->backend)) != RP_OK)
        *why = rp_xstrdup(req->backend == RP_BACKEND_GPU
                              ? "the GPU runs --spirv shaders and --tensor ops, not commands"
                              : "a --spirv shader runs on the GPU only");
    if (st == RP_OK && req->timeout_ms > 0)
        st = rp_task_set_timeout_ms(t, req->timeout_ms);
    if (st == RP_OK && req->retries > 0 && (st = rp_task_set_retries(t, req->retries)) == RP_OK)
        st = rp_task_set_retry_on_exit(t, true);
    for (size_t i = 0; i < req->ndata && st == RP_OK; i++)
        st = rp_task_add_data_dep(t, req->data_keys[i]);
    if (st == RP_OK && req->checkpoint)
        st = rp_task_set_checkpoint(t, true, 0);
    if (st != RP_OK) {
        rp_task_free(t);
        if (*why == NULL)
            *why = rp__sprintf("the task was refused: %s", rp_strerror(st));
        return st;
    }
    ids = rp_xmalloc(req->shards * sizeof *ids);
    st = rp_submit_job(e->pool, t, req->shards, job, ids);
    *first = st == RP_OK ? ids[0] : 0;
    free(ids);
    if (st != RP_OK)
        *why = rp__sprintf("the submission failed: %s", rp_strerror(st));
    return st;
}

static rp_status
cancel(rp_console_source *s, rp_task_id id, char **why)
{
    rp_status st = rp_cancel(from(s)->pool, id);

    *why = st == RP_OK ? NULL : rp__sprintf("cannot cancel task %llu: %s",
                                            (unsigned long long)id, rp_strerror(st));
    return st;
}

static rp_status
cancel_job(rp_console_source *s, rp_job_id id, char **why)
{
    rp_status st = rp_cancel_job(from(s)->pool, id);

    *why = st == RP_OK ? NULL : rp__sprintf("cannot cancel job %llu: %s",
                                            (unsigned long long)id, rp_strerror(st));
    return st;
}

static rp_status
restore(rp_console_source *s, rp_task_id id, rp_restore_info *out, char **why)
{
    rp_status st = rp_restore_detail(from(s)->pool, id, out);

    *why = NULL;
    if (st == RP_ERR_UNSUPPORTED)
        *why = rp__sprintf("cannot restore task %llu: restoring needs a store "
                           "(--state-dir) and a process task",
                           (unsigned long long)id);
    else if (st == RP_ERR_BUSY)
        *why = rp__sprintf("task %llu is still queued or running: cancel it first",
                           (unsigned long long)id);
    else if (st != RP_OK)
        *why = rp__sprintf("cannot restore task %llu: %s", (unsigned long long)id,
                           rp_strerror(st));
    return st;
}

static void
close_source(rp_console_source *s)
{
    struct embedded *e = from(s);

    atomic_store_explicit(&e->stop, true, memory_order_relaxed);
    if (e->forwarder_started)
        pthread_join(e->forwarder, NULL);
    rp_unsubscribe(e->sub);
    rp_pool_shutdown(e->pool);
    close(e->efd);
    pthread_mutex_destroy(&e->lock);
    free(e->queue);
    free(e);
}

static const rp_console_source_ops embedded_ops = {
    .name = "embedded",
    .origin = origin,
    .wake_fd = wake_fd,
    .snapshot = snapshot,
    .events = events,
    .stats = stats,
    .workers = workers,
    .gpu = gpu,
    .job_desc = job_desc,
    .detail = detail,
    .submit = submit,
    .cancel = cancel,
    .cancel_job = cancel_job,
    .restore = restore,
    .close = close_source,
};

rp_status
rp__console_source_embedded(const rp_pool_config *cfg, rp_console_source **out, char **why)
{
    struct embedded *e = rp_xcalloc(1, sizeof *e);
    rp_status st;

    *out = NULL;
    *why = NULL;
    e->base.ops = &embedded_ops;
    e->base.durable = cfg != NULL && cfg->state_dir != NULL;
    e->efd = -1;
    pthread_mutex_init(&e->lock, NULL);
    e->queue = rp_xmalloc(QUEUE_MAX * sizeof *e->queue);
    if ((st = rp_pool_create_why(cfg, &e->pool, why)) != RP_OK)
        goto fail;
    if ((e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        *why = rp__sprintf("eventfd: %s", strerror(errno));
        st = RP_ERR_SYSTEM;
        goto fail;
    }
    if ((st = rp_subscribe(e->pool, &e->sub)) != RP_OK)
        goto fail;
    if (pthread_create(&e->forwarder, NULL, forward, e) != 0) {
        *why = rp_xstrdup("cannot start the event thread");
        st = RP_ERR_SYSTEM;
        goto fail;
    }
    e->forwarder_started = true;
    /* The workers are counted on the next line of the header. */
    snprintf(e->origin, sizeof e->origin, "embedded engine, %s%s",
             e->base.durable ? "store " : "no store", e->base.durable ? cfg->state_dir : "");
    *out = &e->base;
    return RP_OK;

fail:
    if (e->sub != NULL)
        rp_unsubscribe(e->sub);
    rp_pool_shutdown(e->pool);
    if (e->efd >= 0)
        close(e->efd);
    pthread_mutex_destroy(&e->lock);
    free(e->queue);
    free(e);
    return st;
}

rp_pool *
rp__console_source_pool(rp_console_source *s)
{
    return s != NULL && s->ops == &embedded_ops ? from(s)->pool : NULL;
}
