/*
 * pool.h (internal) -- what the rest of the engine needs from rp_pool.
 */
#ifndef RP_ENGINE_POOL_H
#define RP_ENGINE_POOL_H

#include <repartir.h>

#include "engine/sched/sched.h"

/* The scheduler behind pool; never NULL for a live pool. */
rp__sched *rp__pool_sched(rp_pool *pool);

/* The task engine behind pool (jobs.c); never NULL for a live pool. */
struct rp__engine;
struct rp__engine *rp__pool_engine(rp_pool *pool);

#endif /* RP_ENGINE_POOL_H */
