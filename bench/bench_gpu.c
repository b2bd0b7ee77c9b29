/*
 * bench_gpu.c -- the Vulkan executor's kernels beside PyTorch (cuBLAS) on
 * the same GPU, in the same run.
 *
 *   saxpy   y += a x on device-resident buffers of n floats: GB/s counting
 *           12 bytes per element (read x, read y, write y). Target: >= 80%
 *           of PyTorch's y.add_(x, alpha=a).
 *   sgemm   fp32 C = A B, square, on device-resident buffers: GFLOP/s.
 *           Target: >= 50% of torch.matmul in fp32 (TF32 off).
 *
 * Ours is timed with GPU timestamps around `reps` back-to-back dispatches
 * (best of 5 batches after a warm-up); the anchor with CUDA events around
 * the same count (bench/gpu_anchor.py, run as a child). One sgemm result
 * per size is checked against double precision on sampled elements
 * before any figure is printed. For information it also times the host
 * calls (rp_gpu_sgemm with its uploads and read-back).
 *
 * On a CPU device (lavapipe) or without PyTorch it reports ours only.
 *
 *   bench_gpu [--saxpy-n N] [--sgemm 1024,2048] [--reps R] [--anchor PATH|none]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/common.h"
#include "engine/gpu/kernels.h"

#define ROUNDS 5

static unsigned reps = 10;

static void
fill(float *v, size_t n, unsigned seed)
{
    uint32_t s = seed * 2654435761u + 1;

    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        v[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
}

/* One batch that copies n floats from v to device buffer b (up) or back. */
static rp_status
copy(rp_gpu *g, rp__gpu_buf *b, float *v, size_t n, bool up)
{
    rp__gpu_batch *bt;
    rp_status s = rp__gpu_batch_begin(g, &bt, NULL);

    if (s != RP_OK)
        return s;
    s = up ? rp__gpu_batch_upload(bt, b, 0, v, n * sizeof *v, NULL)
           : rp__gpu_batch_download(bt, b, 0, v, n * sizeof *v, NULL);
    if (s != RP_OK) {
        rp__gpu_batch_abort(bt);
        return s;
    }
    return rp__gpu_batch_run(bt, 0, NULL, NULL);
}

/* Best ns per kernel over ROUNDS batches of `reps` (after one warm-up). */
static double
time_kernel(rp_gpu *g, enum rp__gpu_kernel k, rp__gpu_buf *const *bufs,
            const struct rp__gpu_args *a)
{
    double best = INFINITY;
    char *why = NULL;

    for (int r = 0; r <= ROUNDS; r++) {
        uint64_t ns = 0;
        double t0 = bench_now();
        rp_status s = rp__gpu_run_dev(g, k, bufs, a, reps, &ns, &why);
        double wall = (bench_now() - t0) * 1e9;
        if (s != RP_OK) {
            fprintf(stderr, "bench_gpu: kernel: %s (%s)\n", rp_strerror(s), why ? why : "");
            free(why);
            return NAN;
        }
        if (r > 0)
            best = fmin(best, (ns ? (double)ns : wall) / reps);
    }
    return best;
}

/* The cooperative-matrix shapes and types the device offers (through
 * VK_NV_cooperative_matrix, which the Debian 12 headers have; the KHR one
 * lists the same): the fp32 sgemm could use one only with fp32 inputs. */
static void
print_coop(rp_gpu *g)
{
    static const char *const types[] = { "f16", "f32", "f64", "i8", "i16", "i32", "i64",
                                         "u8", "u16", "u32", "u64" };
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV get =
        (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)vkGetInstanceProcAddr(
            rp__gpu_instance(g), "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
    VkCooperativeMatrixPropertiesNV p[64];
    VkExtensionProperties ext[512];
    uint32_t n = 512;
    bool fp32_in = false, has = false;

    /* the loader hands out the entry point whatever the device has */
    if (vkEnumerateDeviceExtensionProperties(rp__gpu_physical(g), NULL, &n, ext) >= 0)
        for (uint32_t i = 0; i < n && !has; i++)
            has = strcmp(ext[i].extensionName, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME) == 0;
    n = 64;
    if (!has || get == NULL || get(rp__gpu_physical(g), &n, NULL) != VK_SUCCESS || n == 0) {
        printf("  cooperative matrix: not offered\n");
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        p[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV, p[i].pNext = NULL;
    n = n > 64 ? 64 : n;
    if (get(rp__gpu_physical(g), &n, p) != VK_SUCCESS && n == 0)
        return;
    printf("  cooperative matrix (A x B + C -> D, MxNxK):");
    for (uint32_t i = 0; i < n; i++) {
        unsigned a = p[i].AType, c = p[i].CType;
        printf("%s %s*%s+%s %ux%ux%u", i ? "," : "", a < 11 ? types[a] : "?",
               p[i].BType < 11 ? types[p[i].BType] : "?", c < 11 ? types[c] : "?", p[i].MSize,
               p[i].NSize, p[i].KSize);
        fp32_in = fp32_in || a == VK_COMPONENT_TYPE_FLOAT32_NV;
    }
    printf("\n  %s\n", fp32_in ? "fp32 inputs offered" : "no fp32-input shape: the fp32 sgemm "
                                                         "cannot use them without rounding its "
                                                         "inputs");
}

/* The anchor's key=value output, or NULL. */
static char *
run_anchor(const char *script, size_t n, const char *sizes)
{
    char cmd[1024];
    char *text = NULL;
    size_t len = 0, cap = 0;
    FILE *p;
    int c;

    snprintf(cmd, sizeof cmd, "python3 %s saxpy_n=%zu sgemm=%s reps=%u", script, n, sizes, reps);
    if ((p = popen(cmd, "r")) == NULL)
        return NULL;
    while ((c = fgetc(p)) != EOF) {
        if (len + 2 > cap) {
            cap = cap ? 2 * cap : 4096;
            text = realloc(text, cap);
        }
        text[len++] = (char)c;
    }
    if (text != NULL)
        text[len] = '\0';
    pclose(p);
    return text;
}

static double
anchor_value(const char *text, const char *key)
{
    char pat[64];
    const char *at;

    if (text == NULL)
        return 0;
    snprintf(pat, sizeof pat, "%s=", key);
    at = strstr(text, pat);
    return at != NULL ? atof(at + strlen(pat)) : 0;
}

int
main(int argc, char **argv)
{
    size_t n = 0;
    const char *sizes = NULL, *anchor = "bench/gpu_anchor.py";
    rp_gpu *g;
    char *why = NULL, *atext = NULL;
    rp_status s;
    int fails = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--saxpy-n") == 0 && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--sgemm") == 0 && i + 1 < argc)
            sizes = argv[++i];
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--anchor") == 0 && i + 1 < argc)
            anchor = argv[++i];
        else {
            fprintf(stderr, "usage: bench_gpu [--saxpy-n N] [--sgemm 1024,2048] [--reps 1-15] "
                            "[--anchor PATH|none]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 15) {
        fprintf(stderr, "bench_gpu: --reps takes 1 to 15\n");
        return 2;
    }
    bench_watchdog("bench_gpu", 300);
    bench_print_machine("bench_gpu: Vulkan kernels beside PyTorch (cuBLAS)");
    if ((s = rp_gpu_open_why(-1, &g, &why)) != RP_OK) {
        printf("  no GPU: %s (%s) -- nothing to measure\n", rp_strerror(s), why ? why : "");
        free(why);
        return 0;
    }
    const VkPhysicalDeviceProperties *pp = rp__gpu_props(g);
    bool cpu = rp__gpu_is_cpu(g);
    printf("  device: %s (%s), %u compute units (%s), Vulkan %u.%u, driver %u.%u.%u "
           "(0x%x)\n", rp_gpu_device_name(g), rp_gpu_device_type(g), rp_gpu_capacity(g),
           rp_gpu_capacity_source(g), VK_API_VERSION_MAJOR(pp->apiVersion),
           VK_API_VERSION_MINOR(pp->apiVersion), pp->driverVersion >> 22,
           (pp->driverVersion >> 14) & 0xff, (pp->driverVersion >> 6) & 0xff, pp->driverVersion);
    print_coop(g);
    if (n == 0)
        n = cpu ? (size_t)1 << 22 : (size_t)1 << 26;
    if (sizes == NULL)
        sizes = cpu ? "256,512" : "1024,2048,4096,8192";
    if (!cpu && strcmp(anchor, "none") != 0)
        atext = run_anchor(anchor, n, sizes);
    if (atext != NULL) {
        char line[256];
        const char *nl = strchr(atext, '\n');
        snprintf(line, sizeof line, "%.*s", nl ? (int)(nl - atext) : (int)strlen(atext), atext);
        printf("  %s\n", line);
    } else {
        printf("  anchor: none (%s)\n", cpu ? "a CPU device: report only" : "not run");
    }

    /* saxpy on the device */
    {
        float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
        rp__gpu_buf *bufs[2] = { NULL, NULL };
        struct rp__gpu_args a = { .n = n, .alpha = 0.5f };
        fill(x, n, 1);
        fill(y, n, 2);
        if (rp__gpu_buf_get(g, n * 4, &bufs[0], NULL) != RP_OK ||
            rp__gpu_buf_get(g, n * 4, &bufs[1], NULL) != RP_OK || copy(g, bufs[0], x, n, true) ||
            copy(g, bufs[1], y, n, true)) {
            printf("  saxpy: no room for 2 x %zu MiB\n", n * 4 >> 20);
            fails++;
        } else {
            double ns = time_kernel(g, RP__GPU_K_SAXPY, bufs, &a);
            double ours = 12.0 * n / ns, theirs = anchor_value(atext, "saxpy_gbs");
            printf("\n  saxpy, n = %zu (%zu MiB a vector), %u per batch\n", n, n * 4 >> 20, reps);
            printf("    %-22s %9.1f GB/s  (%.1f us)\n", "repartir (Vulkan)", ours, ns / 1e3);
            if (theirs > 0) {
                printf("    %-22s %9.1f GB/s\n", "PyTorch", theirs);
                bench_print_ratio("saxpy GB/s, ours / PyTorch", ours, theirs, ">= 0.80",
                                  ours >= 0.8 * theirs);
            }
        }
        rp__gpu_buf_put(g, bufs[0]);
        rp__gpu_buf_put(g, bufs[1]);
        free(x);
        free(y);
    }

    /* sgemm on the device, then through the host call */
    for (const char *p = sizes; *p != '\0';) {
        size_t m = strtoull(p, NULL, 10), mm;
        const char *comma = strchr(p, ',');
        p = comma ? comma + 1 : p + strlen(p);
        if (m == 0)
            continue;
        mm = m * m;
        float *A = malloc(mm * 4), *B = malloc(mm * 4), *C = malloc(mm * 4);
        rp__gpu_buf *bufs[3] = { NULL, NULL, NULL };
        struct rp__gpu_args a = { .m = m, .n = m, .k = m };
        fill(A, mm, 3);
        fill(B, mm, 4);
        printf("\n  sgemm %zu x %zu x %zu, fp32, %u per batch\n", m, m, m, reps);
        if (rp__gpu_buf_get(g, mm * 4, &bufs[0], NULL) || rp__gpu_buf_get(g, mm * 4, &bufs[1], NULL) ||
            rp__gpu_buf_get(g, mm * 4, &bufs[2], NULL) || copy(g, bufs[0], A, mm, true) ||
            copy(g, bufs[1], B, mm, true)) {
            printf("    no room\n");
            fails++;
            goto next;
        }
        double ns = time_kernel(g, RP__GPU_K_SGEMM, bufs, &a);
        if (copy(g, bufs[2], C, mm, false) != RP_OK) {
            fails++;
            goto next;
        }
        /* sampled check against double */
        int bad = 0;
        for (int t = 0; t < 64; t++) {
            size_t i = (size_t)t * 7919 % m, j = (size_t)t * 104729 % m;
            double ref = 0, mag = 0;
            for (size_t k = 0; k < m; k++) {
                ref += (double)A[i * m + k] * B[k * m + j];
                mag += fabs((double)A[i * m + k] * B[k * m + j]);
            }
            if (fabs(ref - C[i * m + j]) > (m + 2) * 0x1p-24 * mag + 1e-6)
                bad++;
        }
        if (bad) {
            printf("    WRONG: %d of 64 sampled elements off\n", bad);
            fails++;
            goto next;
        }
        double ours = 2.0 * m * mm / ns, theirs;
        char key[48];     /* "sgemm" + 20 digits + "_gflops" */
        snprintf(key, sizeof key, "sgemm%zu_gflops", m);
        theirs = anchor_value(atext, key);
        printf("    %-22s %9.1f GFLOP/s  (%.3f ms; 64 sampled elements checked)\n",
               "repartir (Vulkan)", ours, ns / 1e6);
        if (theirs > 0) {
            printf("    %-22s %9.1f GFLOP/s\n", "PyTorch fp32", theirs);
            bench_print_ratio("sgemm GFLOP/s, ours / cuBLAS", ours, theirs, ">= 0.50",
                              ours >= 0.5 * theirs);
        }
        {
            double t0 = bench_now();
            s = rp__gpu_sgemm(g, m, m, m, A, B, C, &why);
            double host = bench_now() - t0;
            if (s == RP_OK)
                printf("    %-22s %9.1f GFLOP/s  (rp_gpu_sgemm from host arrays: %.2f ms, "
                       "uploads and read-back included; for information)\n", "",
                       2.0 * m * mm / host / 1e9, host * 1e3);
            free(why);
            why = NULL;
        }
    next:
        for (int i = 0; i < 3; i++)
            rp__gpu_buf_put(g, bufs[i]);
        free(A);
        free(B);
        free(C);
    }
    free(atext);
    rp_gpu_close(g);
    return fails ? 1 : 0;
}
