/*
 * simd.c -- which kernels run (engine/simd/simd.h), and the public
 * rp_simd_* calls (include/repartir/simd.h) that go through them.
 */
#include "engine/simd/simd.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <repartir.h>

static const struct rp__simd_ops *live;
static pthread_once_t once = PTHREAD_ONCE_INIT;

const struct rp__simd_ops *
rp__simd_named(const char *isa)
{
    __builtin_cpu_init();
    if (strcmp(isa, "scalar") == 0)
        return &rp__simd_scalar;
    if (strcmp(isa, "avx2") == 0 && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
        return &rp__simd_avx2;
    if (strcmp(isa, "avx512") == 0 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("fma"))
        return &rp__simd_avx512;
    return NULL;
}

static void
pick(void)
{
    const char *want = getenv("REPARTIR_SIMD");

    if (want != NULL && *want != '\0') {
        live = rp__simd_named(want);
        if (live == NULL)
            fprintf(stderr, "repartir: REPARTIR_SIMD=%s: not an instruction set this CPU "
                            "runs (scalar, avx2, avx512); using the best one\n", want);
    }
    if (live == NULL)
        live = rp__simd_named("avx512");
    if (live == NULL)
        live = rp__simd_named("avx2");
    if (live == NULL)
        live = &rp__simd_scalar;
}

const struct rp__simd_ops *
rp__simd(void)
{
    pthread_once(&once, pick);
    return live;
}

const char *rp_simd_isa(void) { return rp__simd()->name; }
void rp_simd_add(float *o, const float *a, const float *b, size_t n) { rp__simd()->add(o, a, b, n); }
void rp_simd_sub(float *o, const float *a, const float *b, size_t n) { rp__simd()->sub(o, a, b, n); }
void rp_simd_mul(float *o, const float *a, const float *b, size_t n) { rp__simd()->mul(o, a, b, n); }
void rp_simd_div(float *o, const float *a, const float *b, size_t n) { rp__simd()->div(o, a, b, n); }
void rp_simd_scale(float *o, const float *a, float s, size_t n) { rp__simd()->scale(o, a, s, n); }
void rp_simd_axpy(float *y, float alpha, const float *x, size_t n) { rp__simd()->axpy(y, alpha, x, n); }
void rp_simd_relu(float *o, const float *a, size_t n) { rp__simd()->relu(o, a, n); }
float rp_simd_dot(const float *a, const float *b, size_t n) { return rp__simd()->dot(a, b, n); }
float rp_simd_sum(const float *a, size_t n) { return rp__simd()->sum(a, n); }
float rp_simd_min(const float *a, size_t n) { return rp__simd()->min(a, n); }
float rp_simd_max(const float *a, size_t n) { return rp__simd()->max(a, n); }
size_t rp_simd_argmax(const float *a, size_t n) { return rp__simd()->argmax(a, n); }
void rp_simd_softmax(float *o, const float *a, size_t n) { rp__simd()->softmax(o, a, n); }
