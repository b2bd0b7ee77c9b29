/*
 * pool.c -- the public pool: configuration, life cycle, top-level function
 * work and live figures. The scheduling itself is in engine/sched/.
 *
 * Later layers (executors, the state store, remote links) hang off rp_pool;
 * the scheduler knows nothing about them.
 */
#include "engine/pool.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/alloc.h"
#include "engine/durable.h"
#include "engine/engine.h"

#define DEFAULT_STACK_SIZE ((size_t)8 << 20)
#define MIN_STACK_SIZE ((size_t)64 << 10)
#define DEFAULT_CHECKPOINT_INTERVAL_MS 30000u
#define MAX_PROCESSES 65536u

struct rp_pool {
    rp__sched *sched;
    rp__engine *engine;
    rp_pool_config cfg;          /* pointers inside are not kept */
};

rp__sched *
rp__pool_sched(rp_pool *pool)
{
    return pool->sched;
}

struct rp__engine *
rp__pool_engine(rp_pool *pool)
{
    return pool->engine;
}

/* CPUs this process may run on (affinity mask, so cgroups and taskset are
 * respected), at least 1. */
static unsigned
usable_cpus(void)
{
    cpu_set_t set;
    long online;

    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (unsigned)online : 1;
}

void
rp_pool_config_init(rp_pool_config *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->cpu_workers = 0;
    cfg->gpu = false;
    cfg->checkpoint_interval_ms = DEFAULT_CHECKPOINT_INTERVAL_MS;
    cfg->data_locality = true;
    cfg->worker_stack_size = 0;
}

rp_status
rp_pool_create(const rp_pool_config *cfg, rp_pool **out)
{
    return rp_pool_create_why(cfg, out, NULL);
}

rp_status
rp_pool_create_why(const rp_pool_config *cfg, rp_pool **out, char **why)
{
    rp_pool_config defaults;
    struct rp__engine_config ecfg;
    unsigned nworkers;
    size_t stack;
    rp_pool *pool;
    rp_status status;
    char *detail = NULL;

    if (why != NULL)
        *why = NULL;
    if (out == NULL)
        return RP_ERR_INVALID;
    *out = NULL;
    if (cfg == NULL) {
        rp_pool_config_init(&defaults);
        cfg = &defaults;
    }
    if (cfg->cpu_workers < 0 || cfg->cpu_workers > RP_POOL_MAX_WORKERS)
        return RP_ERR_INVALID;
    if (cfg->worker_stack_size != 0 && cfg->worker_stack_size < MIN_STACK_SIZE)
        return RP_ERR_INVALID;
    if (cfg->max_processes > MAX_PROCESSES)
        return RP_ERR_INVALID;
    if (cfg->n_remote_workers != 0 && cfg->remote_workers == NULL)
        return RP_ERR_INVALID;
    if (cfg->state_dir != NULL && cfg->state_dir[0] == '\0')
        return RP_ERR_INVALID;

    nworkers = cfg->cpu_workers > 0 ? (unsigned)cfg->cpu_workers : usable_cpus();
    if (nworkers > RP_POOL_MAX_WORKERS)
        nworkers = RP_POOL_MAX_WORKERS;
    stack = cfg->worker_stack_size ? cfg->worker_stack_size : DEFAULT_STACK_SIZE;

    pool = rp_xcalloc(1, sizeof *pool);
    pool->cfg = *cfg;
    pool->cfg.state_dir = NULL;
    pool->cfg.remote_workers = NULL;
    pool->cfg.tls_cert = pool->cfg.tls_key = pool->cfg.tls_ca = pool->cfg.token = NULL;
    pool->cfg.cpu_workers = (int)nworkers;
    status = rp__sched_create(nworkers, stack, &pool->sched);
    if (status != RP_OK) {
        free(pool);
        return status;
    }
    ecfg.cpu_workers = nworkers;
    ecfg.max_processes = cfg->max_processes ? cfg->max_processes : nworkers;
    ecfg.checkpoint_interval_ms = cfg->checkpoint_interval_ms ? cfg->checkpoint_interval_ms
                                                              : DEFAULT_CHECKPOINT_INTERVAL_MS;
    ecfg.state_dir = cfg->state_dir;
    ecfg.user = cfg;
    status = rp__engine_create(pool, &ecfg, &pool->engine, &detail);
    if (status != RP_OK) {
        rp__sched_shutdown(pool->sched, free, pool);
        if (why != NULL)
            *why = detail;
        else
            free(detail);
        return status;
    }
    *out = pool;
    return RP_OK;
}

/* The scheduler calls this once its last task has run: nothing can touch
 * the engine any more. */
static void
pool_free(void *ctx)
{
    rp_pool *pool = ctx;

    rp__engine_free(pool->engine);
    free(pool);
}

void
rp_pool_shutdown(rp_pool *pool)
{
    if (pool == NULL)
        return;
    rp__engine_stop(pool->engine);
    rp__sched_shutdown(pool->sched, pool_free, pool);
}

static struct rp__frame *
top_frame(rp_fn fn, void *arg, struct rp__sync *sync)
{
    struct rp__frame *f = rp_xaligned_alloc(RP__CACHE_LINE, sizeof *f);

    memset(f, 0, sizeof *f);
    f->fn = fn;
    f->arg = arg;
    f->sync = sync;
    return f;       /* home NULL: freed with free() after it ran */
}

rp_status
rp_pool_run(rp_pool *pool, rp_fn fn, void *arg)
{
    struct rp__sync sync;
    struct rp__frame *f;
    rp_status status;

    if (pool == NULL || fn == NULL)
        return RP_ERR_INVALID;
    if (rp__tls_worker != NULL && rp__tls_worker->sched == pool->sched) {
        fn(arg);     /* already on one of our workers: waiting would only block it */
        return RP_OK;
    }
    pthread_mutex_init(&sync.lock, NULL);
    pthread_cond_init(&sync.cond, NULL);
    sync.done = false;
    f = top_frame(fn, arg, &sync);
    status = rp__sched_inject(pool->sched, f, RP_PRIORITY_NORMAL);
    if (status != RP_OK) {
        free(f);
    } else {
        pthread_mutex_lock(&sync.lock);
        while (!sync.done)
            pthread_cond_wait(&sync.cond, &sync.lock);
        pthread_mutex_unlock(&sync.lock);
    }
    pthread_cond_destroy(&sync.cond);
    pthread_mutex_destroy(&sync.lock);
    return status;
}

rp_status
rp_pool_post(rp_pool *pool, rp_priority prio, rp_fn fn, void *arg)
{
    struct rp__frame *f;
    rp_status status;

    if (pool == NULL || fn == NULL || (unsigned)prio >= RP_PRIORITY_COUNT)
        return RP_ERR_INVALID;
    f = top_frame(fn, arg, NULL);
    status = rp__sched_inject(pool->sched, f, prio);
    if (status != RP_OK)
        free(f);
    return status;
}

rp_status
rp_pool_stats(rp_pool *pool, rp_stats *out)
{
    if (pool == NULL || out == NULL)
        return RP_ERR_INVALID;
    rp__sched_stats(pool->sched, out);
    rp__engine_stats(pool->engine, out);
    return RP_OK;
}

rp_status
rp_pool_gpu_info(rp_pool *pool, rp_gpu_info *out)
{
    if (pool == NULL || out == NULL)
        return RP_ERR_INVALID;
    rp__exec_gpu_info(rp__engine_exec_state(pool->engine, RP__EXEC_GPU), true, out);
    return RP_OK;
}

rp_status
rp_pool_recovery(rp_pool *pool, rp_recovery *out)
{
    if (pool == NULL || out == NULL)
        return RP_ERR_INVALID;
    rp__engine_recovery(pool->engine, out);
    return RP_OK;
}

rp_ckpt *
rp_pool_store(rp_pool *pool)
{
    rp__durable *d = pool != NULL ? rp__engine_durable(pool->engine) : NULL;

    return d != NULL ? rp__durable_store(d) : NULL;
}
