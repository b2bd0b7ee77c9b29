/*
 * repartir.h -- the public C API of repartir, a job-flow engine.
 *
 * Include this one header and link librepartir (pkg-config name `repartir`).
 * The names declared here are a contract (docs/api.md): they are added to,
 * never renamed. Functions that can fail return rp_status (RP_OK = 0) and
 * never abort on bad input. Objects are opaque; whoever creates one frees
 * it. All calls are thread-safe unless their comment says otherwise.
 */
#ifndef REPARTIR_H
#define REPARTIR_H

#include "repartir/common.h"
#include "repartir/pool.h"
#include "repartir/task.h"
#include "repartir/ckpt.h"
#include "repartir/simd.h"
#include "repartir/tensor.h"
#include "repartir/gpu.h"

#endif /* REPARTIR_H */
