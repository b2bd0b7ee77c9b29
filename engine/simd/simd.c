/*
 * simd.c -- which kernels run (engine/simd/simd.h), gemm's per-thread
 * packing space, and the public rp_simd_* calls
 * (include/repartir/simd.h) that go through them.
 *
 * Threads: the pick is made once (pthread_once); the scratch belongs to
 * the thread that asked for it (a pthread key frees it at thread exit).
 */
#include "engine/simd/simd.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

#include <repartir.h>

#include "engine/alloc.h"

static const struct rp__simd_ops *live;
static pthread_once_t once = PTHREAD_ONCE_INIT;

const struct rp__simd_ops *
rp__simd_named(const char *isa)
{
    if (strcmp(isa, "scalar") == 0)
        return &rp__simd_scalar;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (strcmp(isa, "avx2") == 0 && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
        return &rp__simd_avx2;
    if (strcmp(isa, "avx512") == 0 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("fma"))
        return &rp__simd_avx512;
#elif defined(__aarch64__)
    /* Advanced SIMD is part of every AArch64 core Linux runs on; the
     * hwcap says so all the same. */
    if (strcmp(isa, "neon") == 0 && (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0)
        return &rp__simd_neon;
#endif
    return NULL;
}

/* ---- gemm's packing space ---- */

struct scratch {
    float *p[2];
    size_t cap[2];              /* floats */
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void
scratch_free(void *v)
{
    struct scratch *s = v;

    free(s->p[0]);
    free(s->p[1]);
    free(s);
}

static void
scratch_init(void)
{
    if (pthread_key_create(&scratch_key, scratch_free) != 0)
        abort();
}

float *
rp__simd_scratch(int slot, size_t floats)
{
    struct scratch *s;

    pthread_once(&scratch_once, scratch_init);
    s = pthread_getspecific(scratch_key);
    if (s == NULL) {
        s = rp_xcalloc(1, sizeof *s);
        if (pthread_setspecific(scratch_key, s) != 0)
            abort();
    }
    if (s->cap[slot] < floats) {
        size_t bytes = (floats * sizeof(float) + 63) & ~(size_t)63;
        free(s->p[slot]);
        s->p[slot] = rp_xaligned_alloc(64, bytes);
        s->cap[slot] = floats;
    }
    return s->p[slot];
}

static void
pick(void)
{
    const char *want = getenv("REPARTIR_SIMD");

    if (want != NULL && *want != '\0') {
        live = rp__simd_named(want);
        if (live == NULL)
            fprintf(stderr, "repartir: REPARTIR_SIMD=%s: not an instruction set this CPU "
                            "runs (scalar, avx2, avx512, neon); using the best one\n", want);
    }
    if (live == NULL)
        live = rp__simd_named("neon");
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
void rp_simd_transpose(float *o, const float *a, size_t rows, size_t cols) { rp__simd()->transpose(o, rows, a, cols, rows, cols); }
void rp_simd_sgemm(size_t m, size_t n, size_t k, const float *a, const float *b, float *c) { rp__simd()->gemm(m, n, k, a, k, b, n, c, n); }
