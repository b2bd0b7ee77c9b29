/*
 * test_gpu.c -- the Vulkan GPU executor (include/repartir/gpu.h,
 * engine/gpu/) on lavapipe, Mesa's CPU Vulkan driver, through the public
 * calls and the test hooks of engine/gpu/gpu.h:
 *
 *   - the device: rp_gpu_open(-1) finds lavapipe and describes it (name,
 *     capacity from its CPU threads, type "cpu", usable); index -2 is
 *     refused, index 999 names the devices there are; REPARTIR_GPU picks
 *     by name or index and a name that matches nothing says so; no Vulkan
 *     driver (VK_DRIVER_FILES / VK_ICD_FILENAMES pointing nowhere) and no
 *     compute queue (RP__GPU_FAULT_NO_QUEUE) are RP_ERR_NO_DEVICE with a
 *     reason; NULL devices are harmless everywhere;
 *   - every built-in kernel (saxpy, add/sub/mul/div, sum, dot, softmax)
 *     against double precision on sizes 1 to 1,000,003 around the vec4
 *     and workgroup edges, within bounds derived from float rounding, and
 *     exactly on small integers (where float arithmetic is exact, so a
 *     lost or doubled element shows); in place where the API allows it;
 *     inputs left untouched; n = 0 writes nothing; NULL arrays, unknown
 *     ops and sizes past the kernels' limits are refused before anything
 *     is read;
 *   - sgemm on odd shapes (vectors, primes, around the 64 and 128 tiles, K
 *     and N off the vec4 path, 300x500x700) against double, within
 *     (k+2) 2^-24 sum|a b| per element, and exactly on small integers,
 *     both as rp_gpu_sgemm chooses its tiles and with the 64-tiles forced;
 *     k = 0 gives zeros, m or n = 0 writes nothing;
 *   - user SPIR-V (rp_gpu_run_spirv): GLSL compiled here by glslangValidator,
 *     run with inputs and outputs, 3 outputs, groups in y and z, SPIR-V 1.0
 *     buffer blocks; garbage, truncated, byte-swapped and odd-sized
 *     modules, non-compute stages, an entry point not called main,
 *     bindings past the buffers, push constants, uniform blocks, set 1,
 *     images, too many buffers or groups are RP_ERR_INVALID with a
 *     reason, and the device still works after each; so are modules past
 *     the device's workgroup and shared-memory limits, and arrays of
 *     buffers (both reached the driver until fixed: once bug_ cases);
 *   - the device's failures: an output past device memory and an injected
 *     allocation failure are RP_ERR_NO_MEMORY; an injected device loss
 *     makes the rp_gpu unusable (every later call RP_ERR_NO_DEVICE at
 *     once) while close and a new open work; a shader that never ends is
 *     RP_ERR_TIMEOUT after its timeout_ms and leaves the device unusable --
 *     in a child process (this binary, run on that one case), because the
 *     hung lavapipe thread spins until its process ends;
 *   - 4 threads sharing one rp_gpu (the submission thread, the buffer
 *     pool), each checking its own results;
 *   - the pipeline cache: written to a private dir on close, read back,
 *     and ignored when it is garbage, truncated, another device's, or has
 *     the right header and a garbage body.
 *
 * Most cases share one device (shared_gpu(), no pipeline cache), so that
 * lavapipe compiles each built-in pipeline once, and so that lavapipe
 * stays loaded (shared_gpu says why); the cases about the device's own
 * life open their own. Cases that open devices through the public calls
 * point REPARTIR_STATE_DIR at a private dir first, so that no pipeline
 * cache lands in the user's ~/.cache.
 *
 * Faults (rp__gpu_fault_inject) are process-wide and one-shot: each case
 * that injects one makes sure it is taken before the case ends.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <repartir.h>

#include "engine/gpu/gpu.h"
#include "engine/gpu/kernels.h"
#include "tests/testing.h"

extern char **environ;

/* One unit in the last place of a float in [1, 2), and half of it: the
 * relative error of one correctly rounded float operation. */
#define ULP 0x1p-23
#define HALF_ULP 0x1p-24

/* The child process of the timeout case finds the SPIR-V to run here. */
#define TIMEOUT_CHILD_ENV "RP_GPU_TIMEOUT_CHILD"
#define TIMEOUT_CASE "shader_past_its_timeout_makes_the_gpu_unusable"

/* Sizes around the vec4 path (n % 4), the 256-thread workgroup, 65536,
 * and past a million. */
static const size_t sizes[] = { 1, 2, 3, 4, 5, 7, 255, 256, 257, 1023, 4097, 65537, 1000003 };
#define N_SIZES (sizeof sizes / sizeof sizes[0])
#define MAX_SIZE 1000003

static const float ALPHA = -1.7f;       /* rounds: not a power of two */

/* What the checks of the helpers that cannot use CUnit (the threads of
 * the concurrency case use them) return for a call that succeeded with a
 * wrong result. */
#define WRONG_RESULT RP_ERR_CORRUPT

/* ---- random data ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 16);
}

/* -4..4 from 32 random bits: every bit of the mantissa in use. */
static float
value(uint64_t *s)
{
    return (float)((double)next_rand(s) / 536870912.0 - 4.0);
}

static void
fill(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = value(&rng);
}

/* A divisor: never near 0. */
static void
fill_nonzero(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        v[i] = value(&rng);
        if (fabsf(v[i]) < 1.0f / 64)
            v[i] = 0.75f;
    }
}

/* Whole numbers in -lim..lim: sums of few of them are exact in float. */
static void
fill_int(uint64_t *s, float *v, size_t n, unsigned lim)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)((int)(next_rand(s) % (2 * lim + 1)) - (int)lim);
}

static float *
floats(size_t n)
{
    float *v = malloc((n ? n : 1) * sizeof *v);

    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    return v;
}

static float *
copy_of(const float *v, size_t n)
{
    float *c = floats(n);

    memcpy(c, v, n * sizeof *v);
    return c;
}

/* Counts the elements outside their bound and prints the first few. */
struct check {
    const char *what;
    size_t bad;
};

static void
check_close(struct check *c, size_t i, double got, double want, double tol)
{
    if (fabs(got - want) <= tol)
        return;
    if (c->bad++ < 5)
        fprintf(stderr, "\n  %s [%zu]: got %.9g, want %.9g (off by %.3g, bound %.3g)", c->what,
                i, got, want, fabs(got - want), tol);
}

static bool
contains(const char *s, const char *what)
{
    return s != NULL && strstr(s, what) != NULL;
}

static bool
contains_nocase(const char *s, const char *what)
{
    size_t n = strlen(what);

    for (; s != NULL && *s != '\0'; s++)
        if (strncasecmp(s, what, n) == 0)
            return true;
    return false;
}

/* ---- the environment ---- */

/* Sets name to value (NULL: unsets it); returns what it was (malloc'd,
 * NULL when unset) for env_restore. */
static char *
env_set(const char *name, const char *value)
{
    const char *old = getenv(name);
    char *was = old != NULL ? strdup(old) : NULL;

    if (value != NULL) {
        CU_ASSERT_EQUAL(setenv(name, value, 1), 0);
    } else {
        CU_ASSERT_EQUAL(unsetenv(name), 0);
    }
    return was;
}

static void
env_restore(const char *name, char *was)
{
    if (was != NULL)
        setenv(name, was, 1);
    else
        unsetenv(name);
    free(was);
}

/* A private REPARTIR_STATE_DIR for a case that opens devices through the
 * public calls (their pipeline cache is saved there on close). */
struct state_dir {
    char dir[256];
    char *was;
};

static void
state_dir_begin(struct state_dir *s, const char *what)
{
    rp_test_tmpdir(s->dir, sizeof s->dir, what);
    s->was = env_set("REPARTIR_STATE_DIR", s->dir);
}

static void
state_dir_end(struct state_dir *s)
{
    env_restore("REPARTIR_STATE_DIR", s->was);
    rp_test_remove_tree(s->dir);
}

/* ---- devices ---- */

static rp_gpu *shared;

static void
close_shared(void)
{
    rp_gpu_close(shared);
    shared = NULL;
}

/* The device most cases share: opened at first use, with no pipeline
 * cache, closed at exit (with a device still open then, LeakSanitizer
 * reports one 48-byte block per pipeline, malloc'd in libvulkan_lvp.so,
 * that nothing it scans points to; closing the device frees them).
 *
 * It also keeps lavapipe loaded until the process ends: Mesa 22.3 loses
 * blocks realloc'd in libvulkan_lvp.so each time the Vulkan loader
 * unloads it (after the last vkDestroyInstance), and LeakSanitizer
 * reports them once the library and its globals are gone. Hence
 * RTLD_NODELETE on it here, and keep_the_driver_loaded() before the
 * cases open devices of their own. A pool keeps its device, and so the
 * driver, for its whole life. */
static rp_gpu *
shared_gpu(void)
{
    char *why = NULL;

    if (shared == NULL) {
        rp_status st = rp__gpu_open(-1, "", &shared, &why);
        if (st != RP_OK)
            fprintf(stderr, "\n  rp__gpu_open: %s: %s", rp_strerror(st), why ? why : "?");
        free(why);
        CU_ASSERT_EQUAL_FATAL(st, RP_OK);
        CU_ASSERT_PTR_NOT_NULL_FATAL(shared);
        (void)dlopen("libvulkan_lvp.so", RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
        atexit(close_shared);
    }
    return shared;
}

/* Cases that open and close devices of their own call this first (see
 * shared_gpu). */
static void
keep_the_driver_loaded(void)
{
    (void)shared_gpu();
}

/* A device of the case's own (no pipeline cache). */
static rp_gpu *
own_gpu(void)
{
    rp_gpu *g = NULL;
    char *why = NULL;
    rp_status st;

    keep_the_driver_loaded();
    st = rp__gpu_open(-1, "", &g, &why);
    if (st != RP_OK)
        fprintf(stderr, "\n  rp__gpu_open: %s: %s", rp_strerror(st), why ? why : "?");
    free(why);
    CU_ASSERT_EQUAL_FATAL(st, RP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    return g;
}

/* saxpy of n whole numbers on g (exact), checked against the CPU. No
 * CUnit assertion: the threads of the concurrency case use it too. The
 * status, or WRONG_RESULT for a wrong result. */
static rp_status
saxpy_works(rp_gpu *g, size_t n, uint64_t *s)
{
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *y0 = malloc(n * sizeof *y);
    rp_status st;

    if (x == NULL || y == NULL || y0 == NULL)
        abort();
    fill_int(s, x, n, 100);
    fill_int(s, y, n, 100);
    memcpy(y0, y, n * sizeof *y);
    st = rp_gpu_saxpy(g, 2.0f, x, y, n);
    for (size_t i = 0; i < n && st == RP_OK; i++)
        if (y[i] != y0[i] + 2.0f * x[i])
            st = WRONG_RESULT;
    free(x);
    free(y);
    free(y0);
    return st;
}

/* ---- spawning ---- */

/* Runs file (PATH searched when it has no '/') with argv and envp, its
 * stdout to out_path (NULL: this process's) and its stderr there too
 * unless out_only, and waits at most limit_s seconds, killing it past
 * that. The wait status, or -1 when it could not start; *killed says
 * whether it was killed. */
static int
spawn_wait(const char *file, char *const argv[], char *const envp[], const char *out_path,
           bool out_only, double limit_s, bool *killed)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status = -1, rc;
    double start = rp_test_now();

    *killed = false;
    posix_spawn_file_actions_init(&fa);
    if (out_path != NULL) {
        posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (!out_only)
            posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    rc = posix_spawnp(&pid, file, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "\n  cannot start %s: %s", file, strerror(rc));
        return -1;
    }
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            return status;
        if (w < 0 && errno != EINTR)
            return -1;
        if (rp_test_now() - start > limit_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            *killed = true;
            return status;
        }
        rp_test_sleep_ms(5);
    }
}

/* ---- SPIR-V made here ---- */

static void *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long size;

    *len = 0;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        data = malloc((size_t)size + 1);
        if (data != NULL && fread(data, 1, (size_t)size, f) == (size_t)size) {
            *len = (size_t)size;
        } else {
            free(data);
            data = NULL;
        }
    }
    fclose(f);
    return data;
}

static void
write_all(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
    CU_ASSERT_EQUAL(fclose(f), 0);
}

struct spv {
    uint32_t *code;
    size_t bytes;
};

/* GLSL src compiled by glslangValidator in dir, as dir/name.ext (the
 * extension names the stage) for target_env ("vulkan1.2"), its entry
 * point renamed to `entry` unless that is NULL: its SPIR-V, malloc'd. A
 * failure to compile fails the case at once. */
static struct spv
compile_for(const char *dir, const char *name, const char *ext, const char *src,
            const char *target_env, const char *entry)
{
    char in[512], out[512], log[512];
    bool killed;
    struct spv s = { NULL, 0 };
    char *argv[12] = { (char *)"glslangValidator", (char *)"-V", (char *)"--target-env",
                       (char *)target_env, (char *)"-o", out };
    int argc = 6, status;

    snprintf(in, sizeof in, "%s/%s.%s", dir, name, ext);
    snprintf(out, sizeof out, "%s/%s.spv", dir, name);
    snprintf(log, sizeof log, "%s/%s.log", dir, name);
    if (entry != NULL) {
        argv[argc++] = (char *)"-e";
        argv[argc++] = (char *)entry;
        argv[argc++] = (char *)"--source-entrypoint";
        argv[argc++] = (char *)"main";
    }
    argv[argc++] = in;
    argv[argc] = NULL;
    write_all(in, src, strlen(src));
    status = spawn_wait("glslangValidator", argv, environ, log, false, 60.0, &killed);
    if (status == -1 || killed || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        size_t len;
        char *text = read_all(log, &len);
        fprintf(stderr, "\n  glslangValidator %s: %s", in, text ? text : "(no output)");
        free(text);
        CU_FAIL_FATAL("glslangValidator failed");
    }
    s.code = read_all(out, &s.bytes);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s.code);
    CU_ASSERT_FATAL(s.bytes >= 20 && s.bytes % 4 == 0);
    return s;
}

static struct spv
compile(const char *dir, const char *name, const char *ext, const char *src)
{
    return compile_for(dir, name, ext, src, "vulkan1.2", NULL);
}

/* out[i] = a[i] + 2 b[i]: 2 inputs, 1 output, 64 threads a group. */
static const char ADD2_GLSL[] =
    "#version 450\n"
    "layout(local_size_x = 64) in;\n"
    "layout(set = 0, binding = 0) readonly buffer A { float a[]; };\n"
    "layout(set = 0, binding = 1) readonly buffer B { float b[]; };\n"
    "layout(set = 0, binding = 2) writeonly buffer O { float o[]; };\n"
    "void main()\n"
    "{\n"
    "    uint i = gl_GlobalInvocationID.x;\n"
    "    if (i < uint(a.length()))\n"
    "        o[i] = a[i] + 2.0 * b[i];\n"
    "}\n";

/* Three outputs from one input. */
static const char THREE_GLSL[] =
    "#version 450\n"
    "layout(local_size_x = 32) in;\n"
    "layout(set = 0, binding = 0) readonly buffer In { uint v[]; };\n"
    "layout(set = 0, binding = 1) writeonly buffer O0 { uint o0[]; };\n"
    "layout(set = 0, binding = 2) writeonly buffer O1 { uint o1[]; };\n"
    "layout(set = 0, binding = 3) writeonly buffer O2 { uint o2[]; };\n"
    "void main()\n"
    "{\n"
    "    uint i = gl_GlobalInvocationID.x;\n"
    "    if (i >= uint(v.length()))\n"
    "        return;\n"
    "    o0[i] = v[i] + 1u;\n"
    "    o1[i] = v[i] * 3u;\n"
    "    o2[i] = v[i] ^ 0x5a5a5a5au;\n"
    "}\n";

/* Each invocation of a 3-D grid writes its coordinates at its index. */
static const char GRID_GLSL[] =
    "#version 450\n"
    "layout(local_size_x = 4, local_size_y = 2, local_size_z = 1) in;\n"
    "layout(set = 0, binding = 0) writeonly buffer O { uint o[]; };\n"
    "void main()\n"
    "{\n"
    "    uvec3 id = gl_GlobalInvocationID;\n"
    "    uvec3 size = gl_NumWorkGroups * gl_WorkGroupSize;\n"
    "    o[id.x + size.x * (id.y + size.y * id.z)] = id.x | (id.y << 10) | (id.z << 20);\n"
    "}\n";

/* Never ends: the input holds 0, never 12345, and the compiler cannot
 * know that; the atomic keeps the loop's side effect in it. llvmpipe
 * leaves a shader's loops after 65535 iterations in all (gallivm's loop
 * limiter), so the run has HANG_GROUPS of 64 threads: 65535 x 16384
 * groups of 65535 iterations take years. */
static const char HANG_GLSL[] =
    "#version 450\n"
    "layout(local_size_x = 64) in;\n"
    "layout(set = 0, binding = 0) readonly buffer Stop { uint stop; };\n"
    "layout(set = 0, binding = 1) buffer Data { uint data[]; };\n"
    "void main()\n"
    "{\n"
    "    while (stop != 12345u)\n"
    "        atomicAdd(data[1], 1u);\n"
    "    data[0] = 1u;\n"
    "}\n";
#define HANG_GROUPS { 65535, 16384, 1 }

/* Runs the add2 shader on n floats and checks every output exactly
 * (a + 2b has one rounding, on the CPU as on the device). */
static void
add2_runs(rp_gpu *g, const struct spv *add2, size_t n)
{
    float *a = floats(n), *b = floats(n), *o = floats(n);
    const void *in[2] = { a, b };
    size_t in_bytes[2] = { n * sizeof(float), n * sizeof(float) };
    void *out[1] = { o };
    size_t out_bytes[1] = { n * sizeof(float) };
    rp_gpu_spirv_run run = {
        .code = add2->code, .code_bytes = add2->bytes,
        .inputs = in, .input_bytes = in_bytes, .ninputs = 2,
        .outputs = out, .output_bytes = out_bytes, .noutputs = 1,
        .groups = { (unsigned)((n + 63) / 64), 1, 1 },
    };
    char *why = NULL;
    size_t bad = 0;
    rp_status st;

    fill(a, n);
    fill(b, n);
    for (size_t i = 0; i < n; i++)
        o[i] = NAN;
    st = rp_gpu_run_spirv(g, &run, &why);
    if (st != RP_OK)
        fprintf(stderr, "\n  add2 n=%zu: %s: %s", n, rp_strerror(st), why ? why : "?");
    CU_ASSERT_EQUAL(st, RP_OK);
    CU_ASSERT_PTR_NULL(why);
    for (size_t i = 0; i < n && st == RP_OK; i++) {
        float want = a[i] + 2.0f * b[i];
        if (memcmp(&o[i], &want, sizeof want) != 0 && bad++ < 5)
            fprintf(stderr, "\n  add2 n=%zu [%zu]: got %.9g, want %.9g", n, i, o[i], want);
    }
    CU_ASSERT_EQUAL(bad, 0);
    free(why);
    free(a);
    free(b);
    free(o);
}

/* ---- the device ---- */

static void
open_finds_lavapipe_and_describes_it(void)
{
    struct state_dir sd;
    rp_gpu *g = NULL;
    char *why = (char *)"not touched";

    keep_the_driver_loaded();
    state_dir_begin(&sd, "gpu-open");
    CU_ASSERT_EQUAL_FATAL(rp_gpu_open(-1, &g), RP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_PTR_NOT_NULL(rp_gpu_device_name(g));
    CU_ASSERT(strlen(rp_gpu_device_name(g)) > 0);
    CU_ASSERT(rp_gpu_capacity(g) >= 1);
    CU_ASSERT_STRING_EQUAL(rp_gpu_capacity_source(g), "cpu_threads");
    CU_ASSERT_STRING_EQUAL(rp_gpu_device_type(g), "cpu");
    CU_ASSERT_PTR_NULL(rp_gpu_unusable(g));
    CU_ASSERT(rp__gpu_is_cpu(g));
    CU_ASSERT(rp__gpu_max_buffer(g) > 0);
    rp_gpu_close(g);

    /* the _why form says nothing on success */
    g = NULL;
    CU_ASSERT_EQUAL_FATAL(rp_gpu_open_why(-1, &g, &why), RP_OK);
    CU_ASSERT_PTR_NULL(why);
    CU_ASSERT_STRING_EQUAL(rp_gpu_device_type(g), "cpu");
    rp_gpu_close(g);
    state_dir_end(&sd);
}

static void
bad_device_indexes_are_refused(void)
{
    struct state_dir sd;
    rp_gpu *g = NULL, *bad = (rp_gpu *)&g;
    char *why = NULL;
    char name[256];

    keep_the_driver_loaded();
    state_dir_begin(&sd, "gpu-index");
    CU_ASSERT_EQUAL_FATAL(rp_gpu_open(0, &g), RP_OK);
    snprintf(name, sizeof name, "%s", rp_gpu_device_name(g));
    rp_gpu_close(g);

    CU_ASSERT_EQUAL(rp_gpu_open(-2, &bad), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_open_why(-2, &bad, &why), RP_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(why);
    free(why);
    why = NULL;
    CU_ASSERT_EQUAL(rp_gpu_open(-1, NULL), RP_ERR_INVALID);

    bad = (rp_gpu *)&g;
    CU_ASSERT_EQUAL(rp_gpu_open(999, &bad), RP_ERR_NO_DEVICE);
    CU_ASSERT_PTR_NULL(bad);
    CU_ASSERT_EQUAL(rp_gpu_open_why(999, &bad, &why), RP_ERR_NO_DEVICE);
    CU_ASSERT_PTR_NULL(bad);
    /* the reason names the index asked for and the devices there are */
    CU_ASSERT(contains(why, "999"));
    CU_ASSERT(contains(why, name));
    free(why);
    state_dir_end(&sd);
}

static void
repartir_gpu_picks_the_device(void)
{
    struct state_dir sd;
    rp_gpu *g = NULL;
    char *why = NULL;
    char *was;

    keep_the_driver_loaded();
    state_dir_begin(&sd, "gpu-env");
    was = env_set("REPARTIR_GPU", "llvmpipe");
    CU_ASSERT_EQUAL(rp_gpu_open(-1, &g), RP_OK);
    CU_ASSERT(contains_nocase(rp_gpu_device_name(g), "llvmpipe"));
    rp_gpu_close(g);
    g = NULL;

    /* any case, and by index */
    setenv("REPARTIR_GPU", "LLVMpipe", 1);
    CU_ASSERT_EQUAL(rp_gpu_open(-1, &g), RP_OK);
    CU_ASSERT(contains_nocase(rp_gpu_device_name(g), "llvmpipe"));
    rp_gpu_close(g);
    g = NULL;
    setenv("REPARTIR_GPU", "0", 1);
    CU_ASSERT_EQUAL(rp_gpu_open(-1, &g), RP_OK);
    CU_ASSERT_PTR_NOT_NULL(g);
    rp_gpu_close(g);
    g = NULL;

    setenv("REPARTIR_GPU", "no-such-gpu", 1);
    CU_ASSERT_EQUAL(rp_gpu_open_why(-1, &g, &why), RP_ERR_NO_DEVICE);
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT(contains(why, "REPARTIR_GPU"));
    CU_ASSERT(contains(why, "no-such-gpu"));
    free(why);
    why = NULL;
    env_restore("REPARTIR_GPU", was);

    /* and without it, -1 opens again */
    CU_ASSERT_EQUAL(rp_gpu_open(-1, &g), RP_OK);
    rp_gpu_close(g);
    state_dir_end(&sd);
}

static void
no_vulkan_driver_is_no_device(void)
{
    struct state_dir sd;
    rp_gpu *g = NULL;
    char *why = NULL;
    char *was_files, *was_icd;
    rp_status st;

    keep_the_driver_loaded();
    state_dir_begin(&sd, "gpu-nodriver");
    /* the loader reads these at vkCreateInstance */
    was_files = env_set("VK_DRIVER_FILES", "/nonexistent.json");
    was_icd = env_set("VK_ICD_FILENAMES", "/nonexistent.json");
    st = rp_gpu_open_why(-1, &g, &why);
    env_restore("VK_ICD_FILENAMES", was_icd);
    env_restore("VK_DRIVER_FILES", was_files);
    CU_ASSERT_EQUAL(st, RP_ERR_NO_DEVICE);
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT(contains(why, "Vulkan"));
    if (st != RP_ERR_NO_DEVICE || !contains(why, "Vulkan"))
        fprintf(stderr, "\n  no driver: %s: %s", rp_strerror(st), why ? why : "(no why)");
    free(why);
    why = NULL;

    /* the driver is back */
    CU_ASSERT_EQUAL(rp_gpu_open(-1, &g), RP_OK);
    rp_gpu_close(g);
    state_dir_end(&sd);
}

static void
no_compute_queue_is_no_device(void)
{
    rp_gpu *g = NULL;
    char *why = NULL;

    keep_the_driver_loaded();
    rp__gpu_fault_inject(RP__GPU_FAULT_NO_QUEUE);
    CU_ASSERT_EQUAL(rp__gpu_open(-1, "", &g, &why), RP_ERR_NO_DEVICE);
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT(contains(why, "no compute queue"));
    free(why);
    why = NULL;

    /* one shot: the next open finds the queue */
    CU_ASSERT_EQUAL(rp__gpu_open(-1, "", &g, &why), RP_OK);
    CU_ASSERT_PTR_NULL(why);
    rp_gpu_close(g);
}

static void
null_devices_are_harmless(void)
{
    float x[4] = { 1, 2, 3, 4 }, y[4] = { 1, 2, 3, 4 }, out = 7;
    uint32_t word = 0x07230203;
    rp_gpu_spirv_run run = { .code = &word, .code_bytes = 4 };
    char *why = NULL;

    rp_gpu_close(NULL);
    CU_ASSERT_PTR_NOT_NULL(rp_gpu_device_name(NULL));
    CU_ASSERT_EQUAL(rp_gpu_capacity(NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(rp_gpu_capacity_source(NULL));
    CU_ASSERT_PTR_NOT_NULL(rp_gpu_device_type(NULL));
    /* no device is not a usable one */
    CU_ASSERT_PTR_NOT_NULL(rp_gpu_unusable(NULL));

    CU_ASSERT_EQUAL(rp_gpu_saxpy(NULL, 1.0f, x, y, 4), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_ewise(NULL, '+', y, x, x, 4), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_reduce(NULL, x, NULL, 4, &out), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_softmax(NULL, y, x, 2, 2), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_sgemm(NULL, 2, 2, 1, x, x, y), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_run_spirv(NULL, &run, &why), RP_ERR_INVALID);
    free(why);
    why = NULL;
    CU_ASSERT_EQUAL(rp_gpu_run_spirv(shared_gpu(), NULL, &why), RP_ERR_INVALID);
    free(why);
    CU_ASSERT_EQUAL(rp_gpu_run_spirv(shared_gpu(), NULL, NULL), RP_ERR_INVALID);
    /* nothing was written */
    CU_ASSERT(y[0] == 1 && y[1] == 2 && y[2] == 3 && y[3] == 4);
    CU_ASSERT_EQUAL(out, 7);
}

/* ---- the built-in kernels against double precision ---- */

static void
saxpy_matches_double(void)
{
    rp_gpu *g = shared_gpu();
    float *x = floats(MAX_SIZE), *y = floats(MAX_SIZE + 1), *y0 = floats(MAX_SIZE);
    float *x0;

    fill(x, MAX_SIZE);
    x0 = copy_of(x, MAX_SIZE);
    for (size_t s = 0; s < N_SIZES; s++) {
        size_t n = sizes[s];
        char what[64];
        struct check c = { what, 0 };
        snprintf(what, sizeof what, "saxpy n=%zu", n);
        fill(y, n);
        memcpy(y0, y, n * sizeof *y);
        y[n] = 1234.5f;         /* past the end: untouched */
        CU_ASSERT_EQUAL_FATAL(rp_gpu_saxpy(g, ALPHA, x, y, n), RP_OK);
        /* unfused: (alpha x)(1+d1) + y, rounded again; fused: one rounding */
        for (size_t i = 0; i < n; i++) {
            double ax = (double)ALPHA * x[i];
            check_close(&c, i, y[i], ax + y0[i], 3 * HALF_ULP * (fabs(ax) + fabs(y0[i])));
        }
        CU_ASSERT_EQUAL(c.bad, 0);
        CU_ASSERT_EQUAL(y[n], 1234.5f);
        CU_ASSERT_EQUAL(memcmp(x, x0, MAX_SIZE * sizeof *x), 0);
    }
    free(x);
    free(x0);
    free(y);
    free(y0);
}

static double
apply(char op, double a, double b)
{
    switch (op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    default: return a / b;
    }
}

/* a + b, a - b and a * b of two floats are exact in double; Vulkan
 * rounds them correctly (half an ulp) and divides within 2.5 ulp. */
static double
ewise_bound(char op, double exact)
{
    return (op == '/' ? 2.5 * ULP : HALF_ULP) * fabs(exact);
}

static void
ewise_matches_double(void)
{
    static const char ops[] = "+-*/";
    rp_gpu *g = shared_gpu();
    float *a = floats(MAX_SIZE), *b = floats(MAX_SIZE), *o = floats(MAX_SIZE + 1);
    float *a0, *b0;

    fill(a, MAX_SIZE);
    fill_nonzero(b, MAX_SIZE);
    a0 = copy_of(a, MAX_SIZE);
    b0 = copy_of(b, MAX_SIZE);
    for (const char *op = ops; *op != '\0'; op++) {
        for (size_t s = 0; s < N_SIZES; s++) {
            size_t n = sizes[s];
            char what[64];
            struct check c = { what, 0 };
            snprintf(what, sizeof what, "ewise '%c' n=%zu", *op, n);
            o[n] = 1234.5f;
            CU_ASSERT_EQUAL_FATAL(rp_gpu_ewise(g, *op, o, a, b, n), RP_OK);
            for (size_t i = 0; i < n; i++) {
                double want = apply(*op, a[i], b[i]);
                check_close(&c, i, o[i], want, ewise_bound(*op, want));
            }
            CU_ASSERT_EQUAL(c.bad, 0);
            CU_ASSERT_EQUAL(o[n], 1234.5f);
        }
    }
    CU_ASSERT_EQUAL(memcmp(a, a0, MAX_SIZE * sizeof *a), 0);
    CU_ASSERT_EQUAL(memcmp(b, b0, MAX_SIZE * sizeof *b), 0);

    /* in place: out may be a or b */
    for (const char *op = ops; *op != '\0'; op++) {
        size_t n = 4097;
        char what[64];
        struct check c = { what, 0 };
        snprintf(what, sizeof what, "ewise '%c' in place", *op);
        memcpy(o, a0, n * sizeof *o);
        CU_ASSERT_EQUAL(rp_gpu_ewise(g, *op, o, o, b0, n), RP_OK);
        for (size_t i = 0; i < n; i++) {
            double want = apply(*op, a0[i], b0[i]);
            check_close(&c, i, o[i], want, ewise_bound(*op, want));
        }
        memcpy(o, b0, n * sizeof *o);
        CU_ASSERT_EQUAL(rp_gpu_ewise(g, *op, o, a0, o, n), RP_OK);
        for (size_t i = 0; i < n; i++) {
            double want = apply(*op, a0[i], b0[i]);
            check_close(&c, i, o[i], want, ewise_bound(*op, want));
        }
        CU_ASSERT_EQUAL(c.bad, 0);
    }
    free(a);
    free(b);
    free(a0);
    free(b0);
    free(o);
}

/* The rounding bound of rp_gpu_reduce: each thread adds its vec4s in
 * order (at most `steps` of them), the 4 lanes in 2 more steps, the tail
 * element in 1, the group's 256 threads in a tree of 8, a product 1 more;
 * the partials are added in double, then rounded to float once. */
static double
reduce_bound(size_t n, double sum_abs, double exact)
{
    size_t threads = (size_t)rp__gpu_reduce_groups(n) * 256;
    size_t steps = (n / 4 + threads - 1) / threads;

    return (double)(steps + 12) * HALF_ULP * sum_abs + HALF_ULP * fabs(exact);
}

static void
reduce_matches_double(void)
{
    rp_gpu *g = shared_gpu();
    float *a = floats(MAX_SIZE), *b = floats(MAX_SIZE), *a0, *b0;
    uint64_t s_int = 42;

    fill(a, MAX_SIZE);
    fill(b, MAX_SIZE);
    a0 = copy_of(a, MAX_SIZE);
    b0 = copy_of(b, MAX_SIZE);
    for (size_t s = 0; s < N_SIZES; s++) {
        size_t n = sizes[s];
        double sum = 0, sum_abs = 0, dot = 0, dot_abs = 0;
        float got_sum = NAN, got_dot = NAN;
        char what[64];
        struct check c = { what, 0 };
        snprintf(what, sizeof what, "sum/dot n=%zu", n);
        for (size_t i = 0; i < n; i++) {
            sum += a[i];
            sum_abs += fabs(a[i]);
            dot += (double)a[i] * b[i];
            dot_abs += fabs((double)a[i] * b[i]);
        }
        CU_ASSERT_EQUAL_FATAL(rp_gpu_reduce(g, a, NULL, n, &got_sum), RP_OK);
        CU_ASSERT_EQUAL_FATAL(rp_gpu_reduce(g, a, b, n, &got_dot), RP_OK);
        check_close(&c, 0, got_sum, sum, reduce_bound(n, sum_abs, sum));
        check_close(&c, 1, got_dot, dot, reduce_bound(n, dot_abs, dot));
        CU_ASSERT_EQUAL(c.bad, 0);
    }
    CU_ASSERT_EQUAL(memcmp(a, a0, MAX_SIZE * sizeof *a), 0);
    CU_ASSERT_EQUAL(memcmp(b, b0, MAX_SIZE * sizeof *b), 0);

    /* whole numbers: every partial sum below 2^24 is exact, so each
     * element must count exactly once */
    fill_int(&s_int, a, MAX_SIZE, 8);
    fill_int(&s_int, b, MAX_SIZE, 4);
    for (size_t s = 0; s < N_SIZES; s++) {
        size_t n = sizes[s];
        double sum = 0, dot = 0;
        float got_sum = NAN, got_dot = NAN;
        for (size_t i = 0; i < n; i++) {
            sum += a[i];
            dot += (double)a[i] * b[i];
        }
        CU_ASSERT_EQUAL(rp_gpu_reduce(g, a, NULL, n, &got_sum), RP_OK);
        CU_ASSERT_EQUAL(rp_gpu_reduce(g, a, b, n, &got_dot), RP_OK);
        CU_ASSERT_EQUAL((double)got_sum, sum);
        CU_ASSERT_EQUAL((double)got_dot, dot);
        if ((double)got_sum != sum || (double)got_dot != dot)
            fprintf(stderr, "\n  whole numbers n=%zu: sum %.9g want %.9g, dot %.9g want %.9g",
                    n, got_sum, sum, got_dot, dot);
    }
    free(a);
    free(b);
    free(a0);
    free(b0);
}

/* Checks out = softmax(a) row by row. exp is within 3 + 2|x| ulp
 * (Vulkan's precision for exp), the row's sum adds cols positive terms,
 * 1/sum is within 2.5 ulp and the product rounds once. */
static size_t
softmax_check(const char *what, const float *a, const float *out, size_t rows, size_t cols)
{
    struct check c = { what, 0 };
    double *e = malloc(cols * sizeof *e);

    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    for (size_t r = 0; r < rows; r++) {
        const float *row = a + r * cols;
        double m = -INFINITY, sum = 0, span = 0;
        for (size_t j = 0; j < cols; j++)
            m = row[j] > m ? row[j] : m;
        for (size_t j = 0; j < cols; j++) {
            e[j] = exp((double)row[j] - m);
            sum += e[j];
            span = fmax(span, m - row[j]);
        }
        for (size_t j = 0; j < cols; j++) {
            double want = e[j] / sum;
            double rel = (3 + 2 * (m - row[j])) * ULP + (3 + 2 * span) * ULP +
                         (double)(cols + 8) * HALF_ULP;
            check_close(&c, r * cols + j, out[r * cols + j], want, 1.01 * rel * want);
        }
    }
    free(e);
    return c.bad;
}

static void
softmax_matches_double(void)
{
    static const struct { size_t rows, cols; float shift; } shapes[] = {
        { 1, 1, 0 }, { 1, 7, 0 }, { 3, 257, 0 }, { 300, 33, 0 }, { 2, 1000, 0 },
        { 70000, 3, 0 },        /* more rows than 65535 groups */
        { 5, 77, 90 },          /* exp(90) overflows a float: the max must be taken out */
        { 4, 5, -90 },
    };
    rp_gpu *g = shared_gpu();

    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t rows = shapes[s].rows, cols = shapes[s].cols, n = rows * cols;
        float *a = floats(n), *o = floats(n + 1), *a0;
        char what[64];
        snprintf(what, sizeof what, "softmax %zux%zu%+g", rows, cols, shapes[s].shift);
        fill(a, n);
        for (size_t i = 0; i < n; i++)
            a[i] += shapes[s].shift;
        a0 = copy_of(a, n);
        o[n] = 1234.5f;
        CU_ASSERT_EQUAL_FATAL(rp_gpu_softmax(g, o, a, rows, cols), RP_OK);
        CU_ASSERT_EQUAL(softmax_check(what, a0, o, rows, cols), 0);
        CU_ASSERT_EQUAL(o[n], 1234.5f);
        CU_ASSERT_EQUAL(memcmp(a, a0, n * sizeof *a), 0);
        if (rows == 1 && cols == 1) {
            CU_ASSERT_EQUAL(o[0], 1.0f);
        }
        /* in place (not on the 70000 rows: lavapipe takes 2 s for them, a
         * workgroup a row) */
        if (rows < 65536) {
            CU_ASSERT_EQUAL(rp_gpu_softmax(g, a, a, rows, cols), RP_OK);
            CU_ASSERT_EQUAL(softmax_check(what, a0, a, rows, cols), 0);
        }
        free(a);
        free(a0);
        free(o);
    }
}

static void
kernel_argument_errors_write_nothing(void)
{
    rp_gpu *g = shared_gpu();
    float x[8], y[8], o[8], y0[8], r = 7;
    char *why = NULL;

    fill(x, 8);
    fill(y, 8);
    memcpy(y0, y, sizeof y);
    for (int i = 0; i < 8; i++)
        o[i] = 1234.5f;

    /* n = 0: nothing to do, nothing written, NULL allowed */
    CU_ASSERT_EQUAL(rp_gpu_saxpy(g, ALPHA, x, y, 0), RP_OK);
    CU_ASSERT_EQUAL(rp_gpu_saxpy(g, ALPHA, NULL, NULL, 0), RP_OK);
    CU_ASSERT_EQUAL(rp_gpu_ewise(g, '+', o, x, y, 0), RP_OK);
    CU_ASSERT_EQUAL(rp_gpu_ewise(g, '/', NULL, NULL, NULL, 0), RP_OK);
    CU_ASSERT_EQUAL(rp_gpu_softmax(g, o, x, 0, 8), RP_OK);
    CU_ASSERT_EQUAL(rp_gpu_softmax(g, o, x, 8, 0), RP_OK);
    CU_ASSERT_EQUAL(rp_gpu_softmax(g, NULL, NULL, 0, 0), RP_OK);
    CU_ASSERT_EQUAL(memcmp(y, y0, sizeof y), 0);
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(o[i], 1234.5f);
    /* the sum of nothing */
    CU_ASSERT_EQUAL(rp_gpu_reduce(g, x, NULL, 0, &r), RP_OK);
    CU_ASSERT_EQUAL(r, 0.0f);
    r = 7;
    CU_ASSERT_EQUAL(rp_gpu_reduce(g, NULL, NULL, 0, &r), RP_OK);
    CU_ASSERT_EQUAL(r, 0.0f);

    /* NULL arrays with n > 0 */
    CU_ASSERT_EQUAL(rp_gpu_saxpy(g, ALPHA, NULL, y, 8), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_saxpy(g, ALPHA, x, NULL, 8), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_ewise(g, '+', NULL, x, y, 8), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_ewise(g, '-', o, NULL, y, 8), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_ewise(g, '*', o, x, NULL, 8), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_reduce(g, NULL, y, 8, &r), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_reduce(g, x, y, 8, NULL), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_softmax(g, NULL, x, 2, 4), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_softmax(g, o, NULL, 2, 4), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_sgemm(g, 2, 2, 2, NULL, y, o), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_sgemm(g, 2, 2, 2, x, NULL, o), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_sgemm(g, 2, 2, 2, x, y, NULL), RP_ERR_INVALID);

    /* ops that are not one */
    CU_ASSERT_EQUAL(rp_gpu_ewise(g, 'x', o, x, y, 8), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_ewise(g, '%', o, x, y, 8), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_ewise(g, '\0', o, x, y, 8), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp__gpu_ewise(g, '^', o, x, y, 8, &why), RP_ERR_INVALID);
    CU_ASSERT(contains(why, "'^'"));
    free(why);
    why = NULL;

    /* sizes past what the kernels take are refused before anything is
     * read (the arrays here are 8 floats) */
    CU_ASSERT_EQUAL(rp_gpu_ewise(g, '+', o, x, y, (size_t)UINT32_MAX + 1), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_saxpy(g, ALPHA, x, y, (size_t)UINT32_MAX + 1), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_sgemm(g, 1, 1, (size_t)1 << 33, x, y, o), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_sgemm(g, (size_t)1 << 33, 1, 1, x, y, o), RP_ERR_INVALID);
    CU_ASSERT_EQUAL(rp_gpu_softmax(g, o, x, (size_t)1 << 20, (size_t)1 << 13), RP_ERR_INVALID);
    if (rp__gpu_max_buffer(g) / sizeof(float) < UINT32_MAX) {
        /* fits a uint, not one buffer */
        size_t n = (size_t)(rp__gpu_max_buffer(g) / sizeof(float)) + 1;
        CU_ASSERT_EQUAL(rp__gpu_saxpy(g, ALPHA, x, y, n, &why), RP_ERR_NO_MEMORY);
        CU_ASSERT(contains(why, "memory"));
        free(why);
        why = NULL;
    }
    CU_ASSERT_EQUAL(memcmp(y, y0, sizeof y), 0);
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(o[i], 1234.5f);

    /* and the device still works */
    CU_ASSERT_EQUAL(saxpy_works(g, 1000, &rng), RP_OK);
}

/* ---- sgemm ---- */

/* c = a . b in double, and the sum of |terms| of each element, on every
 * row_step-th row (the others are left as they are). */
static void
sgemm_ref(size_t m, size_t n, size_t k, const float *a, const float *b, double *c, double *abs_c,
          size_t row_step)
{
    memset(c, 0, m * n * sizeof *c);
    memset(abs_c, 0, m * n * sizeof *abs_c);
    for (size_t i = 0; i < m; i += row_step)
        for (size_t p = 0; p < k; p++) {
            double av = a[i * k + p];
            const float *brow = b + p * n;
            double *crow = c + i * n, *arow = abs_c + i * n;
            for (size_t j = 0; j < n; j++) {
                double t = av * brow[j];
                crow[j] += t;
                arow[j] += fabs(t);
            }
        }
}

/* C = A . B with the 64 x 64 tiles forced (rp__gpu_record honours
 * RP__GPU_K_SGEMM64): rp_gpu_sgemm takes them only where 128-tiles would
 * leave compute units idle, which on lavapipe's 2 means one tile. */
static rp_status
sgemm_tile64(rp_gpu *g, size_t m, size_t n, size_t k, const float *a, const float *b, float *c)
{
    struct rp__gpu_args args = { .m = m, .n = n, .k = k };
    size_t bytes[3] = { m * k * sizeof(float), k * n * sizeof(float), m * n * sizeof(float) };
    rp__gpu_buf *bufs[3] = { NULL, NULL, NULL };
    rp__gpu_batch *bt = NULL;
    rp_status st = RP_OK;

    for (int i = 0; i < 3 && st == RP_OK; i++)
        st = rp__gpu_buf_get(g, bytes[i], &bufs[i], NULL);
    if (st == RP_OK)
        st = rp__gpu_batch_begin(g, &bt, NULL);
    if (st == RP_OK)
        st = rp__gpu_batch_upload(bt, bufs[0], 0, a, bytes[0], NULL);
    if (st == RP_OK)
        st = rp__gpu_batch_upload(bt, bufs[1], 0, b, bytes[1], NULL);
    if (st == RP_OK)
        st = rp__gpu_record(bt, g, RP__GPU_K_SGEMM64, bufs, &args, NULL);
    if (st == RP_OK)
        st = rp__gpu_batch_download(bt, bufs[2], 0, c, bytes[2], NULL);
    if (st == RP_OK)
        st = rp__gpu_batch_run(bt, 60000, NULL, NULL);
    else
        rp__gpu_batch_abort(bt);
    for (int i = 0; i < 3; i++)
        rp__gpu_buf_put(g, bufs[i]);
    return st;
}

static void
sgemm_matches_double_on_odd_shapes(void)
{
    /* K % 4 and N % 4 pick the vec4 or the scalar loads and stores; the
     * slices of K are 8 (128-tiles) or 16 (64-tiles) */
    static const struct { size_t m, n, k; } shapes[] = {
        { 1, 1, 1 }, { 1, 257, 131 }, { 1, 1, 700 }, { 259, 1, 77 }, { 77, 1, 1 },
        { 3, 5, 2 },            /* K below one slice */
        { 63, 64, 65 }, { 65, 63, 17 }, { 64, 64, 16 }, { 17, 15, 15 },
        { 131, 77, 259 }, { 127, 128, 129 }, { 128, 128, 128 }, { 129, 127, 255 },
        { 255, 256, 257 }, { 256, 257, 255 }, { 257, 255, 256 },
        { 33, 35, 37 },         /* K and N odd */
        { 64, 64, 6 },          /* N % 4 == 0, K % 4 != 0 */
        { 65, 66, 64 },         /* K % 4 == 0, N % 4 != 0 */
        { 128, 132, 8 },
        { 300, 500, 700 },
    };
    static const char *const tiles[2] = { "rp_gpu_sgemm", "64-tiles" };
    rp_gpu *g = shared_gpu();
    uint64_t s_int = 7;

    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t m = shapes[s].m, n = shapes[s].n, k = shapes[s].k;
        /* the largest products check every slowdown-th row under the
         * sanitizers, whose reference loops are slow */
        size_t step = m * n * k > ((size_t)1 << 22) ? rp_test_slowdown() : 1;
        float *a = floats(m * k), *b = floats(k * n), *c[2];
        double *want = malloc(m * n * sizeof *want), *abs_w = malloc(m * n * sizeof *abs_w);

        CU_ASSERT_FATAL(want != NULL && abs_w != NULL);
        for (int t = 0; t < 2; t++) {
            c[t] = floats(m * n + 1);
            c[t][m * n] = 1234.5f;
        }
        fill(a, m * k);
        fill(b, k * n);
        CU_ASSERT_EQUAL_FATAL(rp_gpu_sgemm(g, m, n, k, a, b, c[0]), RP_OK);
        CU_ASSERT_EQUAL_FATAL(sgemm_tile64(g, m, n, k, a, b, c[1]), RP_OK);
        sgemm_ref(m, n, k, a, b, want, abs_w, step);
        for (int t = 0; t < 2; t++) {
            char what[64];
            struct check ck = { what, 0 };
            snprintf(what, sizeof what, "%s %zux%zux%zu", tiles[t], m, n, k);
            for (size_t r = 0; r < m; r += step)
                for (size_t i = r * n; i < (r + 1) * n; i++)
                    check_close(&ck, i, c[t][i], want[i], (double)(k + 2) * HALF_ULP * abs_w[i]);
            CU_ASSERT_EQUAL(ck.bad, 0);
            CU_ASSERT_EQUAL(c[t][m * n], 1234.5f);
        }

        /* whole numbers in -3..3: every sum is exact */
        fill_int(&s_int, a, m * k, 3);
        fill_int(&s_int, b, k * n, 3);
        CU_ASSERT_EQUAL_FATAL(rp_gpu_sgemm(g, m, n, k, a, b, c[0]), RP_OK);
        CU_ASSERT_EQUAL_FATAL(sgemm_tile64(g, m, n, k, a, b, c[1]), RP_OK);
        sgemm_ref(m, n, k, a, b, want, abs_w, step);
        for (int t = 0; t < 2; t++) {
            size_t bad = 0;
            for (size_t r = 0; r < m; r += step)
                for (size_t i = r * n; i < (r + 1) * n; i++)
                    if ((double)c[t][i] != want[i] && bad++ < 5)
                        fprintf(stderr, "\n  %s %zux%zux%zu, whole numbers [%zu, %zu]: got "
                                "%.9g, want %.9g", tiles[t], m, n, k, r, i % n, c[t][i],
                                want[i]);
            CU_ASSERT_EQUAL(bad, 0);
            free(c[t]);
        }
        free(a);
        free(b);
        free(want);
        free(abs_w);
    }
}

static void
sgemm_empty_shapes(void)
{
    rp_gpu *g = shared_gpu();
    float a[12], b[12], c[12];

    fill(a, 12);
    fill(b, 12);
    /* k = 0: C is all zeros */
    for (int i = 0; i < 12; i++)
        c[i] = 1234.5f;
    CU_ASSERT_EQUAL(rp_gpu_sgemm(g, 3, 4, 0, a, b, c), RP_OK);
    for (int i = 0; i < 12; i++)
        CU_ASSERT_EQUAL(c[i], 0.0f);
    for (int i = 0; i < 12; i++)
        c[i] = 1234.5f;
    CU_ASSERT_EQUAL(rp_gpu_sgemm(g, 3, 4, 0, NULL, NULL, c), RP_OK);
    CU_ASSERT_EQUAL(c[0], 0.0f);
    CU_ASSERT_EQUAL(c[11], 0.0f);

    /* m or n = 0: nothing to write */
    for (int i = 0; i < 12; i++)
        c[i] = 1234.5f;
    CU_ASSERT_EQUAL(rp_gpu_sgemm(g, 0, 4, 3, a, b, c), RP_OK);
    CU_ASSERT_EQUAL(rp_gpu_sgemm(g, 3, 0, 3, a, b, c), RP_OK);
    CU_ASSERT_EQUAL(rp_gpu_sgemm(g, 0, 0, 0, NULL, NULL, NULL), RP_OK);
    for (int i = 0; i < 12; i++)
        CU_ASSERT_EQUAL(c[i], 1234.5f);
}

/* ---- user SPIR-V ---- */

static void
spirv_user_shaders_run(void)
{
    rp_gpu *g = shared_gpu();
    char dir[256];
    struct spv add2, three, grid, add2_v10;
    static const size_t ns[] = { 1, 63, 64, 65, 1000, 100003 };

    rp_test_tmpdir(dir, sizeof dir, "gpu-spirv");
    add2 = compile(dir, "add2", "comp", ADD2_GLSL);
    three = compile(dir, "three", "comp", THREE_GLSL);
    grid = compile(dir, "grid", "comp", GRID_GLSL);
    /* SPIR-V 1.0 spells a storage buffer Uniform + BufferBlock */
    add2_v10 = compile_for(dir, "add2_v10", "comp", ADD2_GLSL, "vulkan1.0", NULL);

    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        add2_runs(g, &add2, ns[i]);
        add2_runs(g, &add2_v10, ns[i]);
    }

    /* three outputs of one input */
    {
        enum { N = 1001 };
        uint32_t *v = malloc(N * sizeof *v), *o[3];
        const void *in[1] = { v };
        size_t in_bytes[1] = { N * sizeof *v }, out_bytes[3];
        void *out[3];
        char *why = NULL;
        size_t bad = 0;
        uint64_t s = 99;
        CU_ASSERT_PTR_NOT_NULL_FATAL(v);
        for (int j = 0; j < 3; j++) {
            o[j] = malloc(N * sizeof *o[j]);
            CU_ASSERT_PTR_NOT_NULL_FATAL(o[j]);
            memset(o[j], 0xee, N * sizeof *o[j]);
            out[j] = o[j];
            out_bytes[j] = N * sizeof *o[j];
        }
        for (int i = 0; i < N; i++)
            v[i] = next_rand(&s);
        rp_gpu_spirv_run run = {
            .code = three.code, .code_bytes = three.bytes,
            .inputs = in, .input_bytes = in_bytes, .ninputs = 1,
            .outputs = out, .output_bytes = out_bytes, .noutputs = 3,
            .groups = { (N + 31) / 32, 0, 0 },
        };
        CU_ASSERT_EQUAL(rp_gpu_run_spirv(g, &run, &why), RP_OK);
        CU_ASSERT_PTR_NULL(why);
        for (int i = 0; i < N; i++)
            if ((o[0][i] != v[i] + 1u || o[1][i] != v[i] * 3u || o[2][i] != (v[i] ^ 0x5a5a5a5au))
                && bad++ < 5)
                fprintf(stderr, "\n  three outputs [%d]: %08x %08x %08x of %08x", i, o[0][i],
                        o[1][i], o[2][i], v[i]);
        CU_ASSERT_EQUAL(bad, 0);
        free(why);
        free(v);
        for (int j = 0; j < 3; j++)
            free(o[j]);
    }

    /* groups in y and z, and 0 counting as 1 */
    {
        static const unsigned grids[][3] = { { 3, 5, 7 }, { 1, 1, 9 }, { 3, 0, 0 }, { 0, 4, 0 } };
        for (size_t k = 0; k < sizeof grids / sizeof grids[0]; k++) {
            unsigned gx = grids[k][0] ? grids[k][0] : 1, gy = grids[k][1] ? grids[k][1] : 1,
                     gz = grids[k][2] ? grids[k][2] : 1;
            unsigned w = gx * 4, h = gy * 2, d = gz, n = w * h * d;
            uint32_t *o = malloc(n * sizeof *o);
            void *out[1] = { o };
            size_t out_bytes[1] = { n * sizeof *o };
            char *why = NULL;
            size_t bad = 0;
            rp_gpu_spirv_run run = {
                .code = grid.code, .code_bytes = grid.bytes,
                .outputs = out, .output_bytes = out_bytes, .noutputs = 1,
                .groups = { grids[k][0], grids[k][1], grids[k][2] },
            };
            CU_ASSERT_PTR_NOT_NULL_FATAL(o);
            memset(o, 0xee, n * sizeof *o);
            CU_ASSERT_EQUAL(rp_gpu_run_spirv(g, &run, &why), RP_OK);
            for (unsigned z = 0; z < d; z++)
                for (unsigned y = 0; y < h; y++)
                    for (unsigned x = 0; x < w; x++) {
                        uint32_t want = x | (y << 10) | (z << 20), at = x + w * (y + h * z);
                        if (o[at] != want && bad++ < 5)
                            fprintf(stderr, "\n  grid %ux%ux%u (%u,%u,%u): got %08x", gx, gy,
                                    gz, x, y, z, o[at]);
                    }
            CU_ASSERT_EQUAL(bad, 0);
            free(why);
            free(o);
        }
    }
    free(add2.code);
    free(three.code);
    free(grid.code);
    free(add2_v10.code);
    rp_test_remove_tree(dir);
}

/* Runs code (bytes long) with one input and one output of 64 bytes;
 * expects RP_ERR_INVALID and a reason containing why_has. */
static void
refused(rp_gpu *g, const char *what, const uint32_t *code, size_t bytes, const char *why_has)
{
    float in0[16] = { 0 }, out0[16];
    const void *in[1] = { in0 };
    size_t in_bytes[1] = { sizeof in0 }, out_bytes[1] = { sizeof out0 };
    void *out[1] = { out0 };
    rp_gpu_spirv_run run = {
        .code = code, .code_bytes = bytes,
        .inputs = in, .input_bytes = in_bytes, .ninputs = 1,
        .outputs = out, .output_bytes = out_bytes, .noutputs = 1,
        .groups = { 1, 1, 1 },
    };
    char *why = NULL;
    rp_status st = rp_gpu_run_spirv(g, &run, &why);

    CU_ASSERT_EQUAL(st, RP_ERR_INVALID);
    CU_ASSERT(contains(why, why_has));
    if (st != RP_ERR_INVALID || !contains(why, why_has))
        fprintf(stderr, "\n  %s: %s: %s (the reason should mention \"%s\")", what,
                rp_strerror(st), why ? why : "(no why)", *why_has ? why_has : "anything");
    free(why);
}

static void
spirv_bad_modules_are_refused(void)
{
    rp_gpu *g = shared_gpu();
    char dir[256];
    struct spv add2;
    uint32_t *buf;
    size_t words;

    rp_test_tmpdir(dir, sizeof dir, "gpu-badspv");
    add2 = compile(dir, "add2", "comp", ADD2_GLSL);
    words = add2.bytes / 4;
    buf = malloc(add2.bytes);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);

    /* garbage */
    for (size_t i = 0; i < words; i++)
        buf[i] = next_rand(&rng) ^ (next_rand(&rng) << 16);
    buf[0] = 0xdeadbeef;
    refused(g, "garbage", buf, add2.bytes, "SPIR-V");
    add2_runs(g, &add2, 100);
    /* garbage behind the right magic number and header */
    memcpy(buf, add2.code, 20);
    refused(g, "garbage after the header", buf, add2.bytes, "SPIR-V");
    add2_runs(g, &add2, 100);
    /* a module cut short, at a word and inside its header */
    refused(g, "truncated", add2.code, (words / 2) * 4, "SPIR-V");
    refused(g, "truncated by one word", add2.code, add2.bytes - 4, "SPIR-V");
    refused(g, "truncated header", add2.code, 16, "SPIR-V");
    add2_runs(g, &add2, 100);
    /* the other byte order */
    for (size_t i = 0; i < words; i++)
        buf[i] = __builtin_bswap32(add2.code[i]);
    refused(g, "byte-swapped", buf, add2.bytes, "magic");
    add2_runs(g, &add2, 100);
    /* not whole words */
    refused(g, "odd size", add2.code, add2.bytes - 2, "32-bit words");
    add2_runs(g, &add2, 100);
    /* one bad instruction: the bound of ids made too small */
    memcpy(buf, add2.code, add2.bytes);
    buf[3] = 2;
    refused(g, "id bound too small", buf, add2.bytes, "SPIR-V");
    add2_runs(g, &add2, 100);

    free(buf);
    free(add2.code);
    rp_test_remove_tree(dir);
}

/* Shaders that are valid SPIR-V but not what a user shader may be; each
 * is run with 1 input and 1 output. */
static const struct {
    const char *name, *ext, *why_has, *glsl;
    const char *entry;          /* the entry point's name, when not main */
} wrong_shaders[] = {
    { .name = "fragment", .ext = "frag", .why_has = "GLCompute",
      .glsl =
      "#version 450\n"
      "layout(location = 0) out vec4 color;\n"
      "void main() { color = vec4(1.0); }\n" },
    { .name = "vertex", .ext = "vert", .why_has = "GLCompute",
      .glsl =
      "#version 450\n"
      "void main() { gl_Position = vec4(0.0); }\n" },
    { .name = "binding3", .ext = "comp", .why_has = "binding",
      .glsl =
      "#version 450\n"
      "layout(local_size_x = 1) in;\n"
      "layout(set = 0, binding = 0) readonly buffer A { float a[]; };\n"
      "layout(set = 0, binding = 3) writeonly buffer O { float o[]; };\n"
      "void main() { o[0] = a[0]; }\n" },
    { .name = "push", .ext = "comp", .why_has = "push constants",
      .glsl =
      "#version 450\n"
      "layout(local_size_x = 1) in;\n"
      "layout(push_constant) uniform P { float k; } p;\n"
      "layout(set = 0, binding = 0) readonly buffer A { float a[]; };\n"
      "layout(set = 0, binding = 1) writeonly buffer O { float o[]; };\n"
      "void main() { o[0] = a[0] * p.k; }\n" },
    { .name = "ubo", .ext = "comp", .why_has = "uniform",
      .glsl =
      "#version 450\n"
      "layout(local_size_x = 1) in;\n"
      "layout(set = 0, binding = 0) uniform U { float k; } u;\n"
      "layout(set = 0, binding = 1) writeonly buffer O { float o[]; };\n"
      "void main() { o[0] = u.k; }\n" },
    { .name = "set1", .ext = "comp", .why_has = "set 1",
      .glsl =
      "#version 450\n"
      "layout(local_size_x = 1) in;\n"
      "layout(set = 0, binding = 0) readonly buffer A { float a[]; };\n"
      "layout(set = 1, binding = 0) writeonly buffer O { float o[]; };\n"
      "void main() { o[0] = a[0]; }\n" },
    { .name = "image", .ext = "comp", .why_has = "image",
      .glsl =
      "#version 450\n"
      "layout(local_size_x = 1) in;\n"
      "layout(set = 0, binding = 0) readonly buffer A { float a[]; };\n"
      "layout(set = 0, binding = 1, r32f) uniform writeonly image2D img;\n"
      "void main() { imageStore(img, ivec2(0), vec4(a[0])); }\n" },
    { .name = "entry_foo", .ext = "comp", .why_has = "main",
      .glsl =
      "#version 450\n"
      "layout(local_size_x = 1) in;\n"
      "layout(set = 0, binding = 0) readonly buffer A { float a[]; };\n"
      "layout(set = 0, binding = 1) writeonly buffer O { float o[]; };\n"
      "void main() { o[0] = a[0]; }\n",
      "foo" },
};

static void
spirv_wrong_interfaces_are_refused(void)
{
    rp_gpu *g = shared_gpu();
    char dir[256];
    struct spv add2;

    rp_test_tmpdir(dir, sizeof dir, "gpu-wrongspv");
    add2 = compile(dir, "add2", "comp", ADD2_GLSL);
    for (size_t i = 0; i < sizeof wrong_shaders / sizeof wrong_shaders[0]; i++) {
        struct spv s = compile_for(dir, wrong_shaders[i].name, wrong_shaders[i].ext,
                                   wrong_shaders[i].glsl, "vulkan1.2", wrong_shaders[i].entry);
        refused(g, wrong_shaders[i].name, s.code, s.bytes, wrong_shaders[i].why_has);
        add2_runs(g, &add2, 100);
        free(s.code);
    }

    /* the buffers and groups of the run itself */
    {
        float a[64] = { 0 }, o[64];
        const void *in[RP_GPU_MAX_BUFFERS + 1];
        size_t bytes[RP_GPU_MAX_BUFFERS + 1];
        void *out[RP_GPU_MAX_BUFFERS + 1];
        char *why = NULL;
        rp_gpu_spirv_run run = {
            .code = add2.code, .code_bytes = add2.bytes,
            .inputs = in, .input_bytes = bytes, .ninputs = 2,
            .outputs = out, .output_bytes = bytes, .noutputs = 1,
            .groups = { 1, 1, 1 },
        };
        for (int i = 0; i <= RP_GPU_MAX_BUFFERS; i++) {
            in[i] = a;
            out[i] = o;
            bytes[i] = sizeof a;
        }
        /* too few buffers for the bindings */
        run.ninputs = 1;
        CU_ASSERT_EQUAL(rp_gpu_run_spirv(g, &run, &why), RP_ERR_INVALID);
        CU_ASSERT(contains(why, "binding"));
        free(why);
        why = NULL;
        /* too many */
        run.ninputs = RP_GPU_MAX_BUFFERS;
        run.noutputs = 1;
        CU_ASSERT_EQUAL(rp_gpu_run_spirv(g, &run, &why), RP_ERR_INVALID);
        CU_ASSERT_PTR_NOT_NULL(why);
        free(why);
        why = NULL;
        /* an input without its data */
        run.ninputs = 2;
        in[1] = NULL;
        CU_ASSERT_EQUAL(rp_gpu_run_spirv(g, &run, &why), RP_ERR_INVALID);
        CU_ASSERT(contains(why, "input 1"));
        free(why);
        why = NULL;
        in[1] = a;
        /* sizes missing */
        run.input_bytes = NULL;
        CU_ASSERT_EQUAL(rp_gpu_run_spirv(g, &run, &why), RP_ERR_INVALID);
        free(why);
        why = NULL;
        run.input_bytes = bytes;
        /* more groups than any device has */
        run.groups[0] = UINT32_MAX;
        CU_ASSERT_EQUAL(rp_gpu_run_spirv(g, &run, &why), RP_ERR_INVALID);
        CU_ASSERT(contains(why, "groups"));
        free(why);
        why = NULL;
        run.groups[0] = 1;
        run.groups[2] = UINT32_MAX;
        CU_ASSERT_EQUAL(rp_gpu_run_spirv(g, &run, &why), RP_ERR_INVALID);
        free(why);
        why = NULL;
        add2_runs(g, &add2, 100);
    }
    free(add2.code);
    rp_test_remove_tree(dir);
}

/* Was a BUG (engine/gpu/spirv.c, reflect and rp_gpu_run_spirv), fixed: the module was
 * not checked against the device's compute limits. reflect() reads the
 * LocalSize execution mode into rf.local and nothing uses it, and the size
 * of the Workgroup (shared) variables is not summed, so a workgroup of
 * 1024 x 4 = 4096 invocations (lavapipe: maxComputeWorkGroupInvocations
 * 1024) and 800 KB of shared memory (maxComputeSharedMemorySize 32 KiB)
 * reach vkCreateComputePipelines. That is invalid usage
 * (VUID-RuntimeSpirv-x-06429, -06432, VUID-RuntimeSpirv-Workgroup-06530):
 * lavapipe happens to run both (RP_OK), another driver may crash. They
 * should be RP_ERR_INVALID with the limit in the reason, as too many
 * groups are. */
static const struct {
    const char *name, *glsl;
} over_limit_shaders[] = {
    { .name = "local_4096",
      .glsl =
      "#version 450\n"
      "layout(local_size_x = 1024, local_size_y = 4) in;\n"
      "layout(set = 0, binding = 0) readonly buffer A { float a[]; };\n"
      "layout(set = 0, binding = 1) writeonly buffer O { float o[]; };\n"
      "void main() { o[gl_LocalInvocationIndex % 16u] = a[0]; }\n" },
    { .name = "shared_800k",
      .glsl =
      "#version 450\n"
      "layout(local_size_x = 64) in;\n"
      "shared float big[200000];\n"
      "layout(set = 0, binding = 0) readonly buffer A { float a[]; };\n"
      "layout(set = 0, binding = 1) writeonly buffer O { float o[]; };\n"
      "void main()\n"
      "{\n"
      "    big[gl_LocalInvocationIndex * 3000u] = a[0];\n"
      "    barrier();\n"
      "    o[gl_LocalInvocationIndex % 16u] = big[(63u - gl_LocalInvocationIndex) * 3000u];\n"
      "}\n" },
};

static void
spirv_past_the_device_limits_is_refused(void)
{
    rp_gpu *g = shared_gpu();
    char dir[256];
    struct spv add2;

    rp_test_tmpdir(dir, sizeof dir, "gpu-limits");
    add2 = compile(dir, "add2", "comp", ADD2_GLSL);
    for (size_t i = 0; i < sizeof over_limit_shaders / sizeof over_limit_shaders[0]; i++) {
        struct spv s = compile(dir, over_limit_shaders[i].name, "comp",
                               over_limit_shaders[i].glsl);
        refused(g, over_limit_shaders[i].name, s.code, s.bytes, "");
        add2_runs(g, &add2, 100);
        free(s.code);
    }
    free(add2.code);
    rp_test_remove_tree(dir);
}

/* Was a BUG (engine/gpu/spirv.c, reflect), fixed: a binding that is an array of
 * buffers is counted as one buffer. The shader below declares binding 0
 * as 2 storage buffers; with 1 input and 1 output it passes the check
 * (binding_max 1 < 2 buffers), and rp__gpu_pipe_new gives binding 0 one
 * descriptor: the pipeline layout does not match the module, invalid
 * usage (VUID-VkComputePipelineCreateInfo-layout-07991), and bs[1] reads
 * whatever the driver finds there (lavapipe: RP_OK, the output's bytes).
 * The OpVariable's type is a pointer to an OpTypeArray or
 * OpTypeRuntimeArray of the block; it should be RP_ERR_INVALID ("binding
 * 0 is an array of buffers; one buffer a binding"). */
static const char BUFFER_ARRAY_GLSL[] =
    "#version 450\n"
    "layout(local_size_x = 1) in;\n"
    "layout(set = 0, binding = 0) readonly buffer A { float a[]; } bs[2];\n"
    "layout(set = 0, binding = 1) writeonly buffer O { float o[]; };\n"
    "void main() { o[0] = bs[0].a[0] + bs[1].a[0]; }\n";

static void
spirv_buffer_arrays_are_refused(void)
{
    rp_gpu *g = shared_gpu();
    char dir[256];
    struct spv add2, arr;

    rp_test_tmpdir(dir, sizeof dir, "gpu-bufarray");
    add2 = compile(dir, "add2", "comp", ADD2_GLSL);
    arr = compile(dir, "array", "comp", BUFFER_ARRAY_GLSL);
    refused(g, "an array of buffers", arr.code, arr.bytes, "");
    add2_runs(g, &add2, 100);
    free(arr.code);
    free(add2.code);
    rp_test_remove_tree(dir);
}

/* ---- the device's failures ---- */

static void
output_past_device_memory_is_no_memory(void)
{
    rp_gpu *g = shared_gpu();
    char dir[256];
    struct spv add2;
    float a[64] = { 0 }, o[64];
    const void *in[2] = { a, a };
    size_t in_bytes[2] = { sizeof a, sizeof a }, out_bytes[1] = { (size_t)1 << 42 };
    void *out[1] = { o };
    char *why = NULL;

    rp_test_tmpdir(dir, sizeof dir, "gpu-nomem");
    add2 = compile(dir, "add2", "comp", ADD2_GLSL);
    rp_gpu_spirv_run run = {
        .code = add2.code, .code_bytes = add2.bytes,
        .inputs = in, .input_bytes = in_bytes, .ninputs = 2,
        .outputs = out, .output_bytes = out_bytes, .noutputs = 1,
        .groups = { 1, 1, 1 },
    };
    CU_ASSERT_EQUAL(rp_gpu_run_spirv(g, &run, &why), RP_ERR_NO_MEMORY);
    CU_ASSERT(contains(why, "memory"));
    free(why);
    why = NULL;
    /* an input that large too */
    in_bytes[1] = (size_t)1 << 42;
    out_bytes[0] = sizeof o;
    CU_ASSERT_EQUAL(rp_gpu_run_spirv(g, &run, &why), RP_ERR_NO_MEMORY);
    free(why);
    CU_ASSERT_PTR_NULL(rp_gpu_unusable(g));
    add2_runs(g, &add2, 1000);
    free(add2.code);
    rp_test_remove_tree(dir);
}

static void
injected_allocation_failure_is_no_memory(void)
{
    rp_gpu *g = own_gpu();
    float x[100], y[100], y0[100];
    char *why = NULL;

    fill(x, 100);
    fill(y, 100);
    memcpy(y0, y, sizeof y);
    /* a fresh device has no pooled buffer: saxpy allocates */
    rp__gpu_fault_inject(RP__GPU_FAULT_OOM);
    CU_ASSERT_EQUAL(rp__gpu_saxpy(g, ALPHA, x, y, 100, &why), RP_ERR_NO_MEMORY);
    CU_ASSERT(contains(why, "memory"));
    CU_ASSERT_EQUAL(memcmp(y, y0, sizeof y), 0);
    free(why);
    CU_ASSERT_PTR_NULL(rp_gpu_unusable(g));
    /* the next call works again */
    CU_ASSERT_EQUAL(saxpy_works(g, 1000, &rng), RP_OK);
    CU_ASSERT_EQUAL(saxpy_works(g, 1000, &rng), RP_OK);
    rp_gpu_close(g);
}

static void
lost_device_is_unusable_until_closed(void)
{
    struct state_dir sd;
    rp_gpu *g = own_gpu(), *g2 = NULL;
    char dir[256];
    struct spv add2;
    float x[64], y[64], y0[64], c[64], r = 7;
    char *why = NULL;
    const char *u;
    double t0;

    rp_test_tmpdir(dir, sizeof dir, "gpu-lost");
    add2 = compile(dir, "add2", "comp", ADD2_GLSL);
    fill(x, 64);
    fill(y, 64);
    CU_ASSERT_EQUAL(saxpy_works(g, 64, &rng), RP_OK);
    memcpy(y0, y, sizeof y);

    rp__gpu_fault_inject(RP__GPU_FAULT_LOST);
    CU_ASSERT_EQUAL(rp__gpu_saxpy(g, ALPHA, x, y, 64, &why), RP_ERR_NO_DEVICE);
    CU_ASSERT(contains(why, "lost"));
    free(why);
    why = NULL;
    CU_ASSERT_EQUAL(memcmp(y, y0, sizeof y), 0);
    u = rp_gpu_unusable(g);
    CU_ASSERT_PTR_NOT_NULL(u);
    CU_ASSERT(contains(u, "lost"));

    /* everything after fails at once */
    t0 = rp_test_now();
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(rp_gpu_saxpy(g, ALPHA, x, y, 64), RP_ERR_NO_DEVICE);
        CU_ASSERT_EQUAL(rp_gpu_ewise(g, '+', c, x, y, 64), RP_ERR_NO_DEVICE);
        CU_ASSERT_EQUAL(rp_gpu_reduce(g, x, y, 64, &r), RP_ERR_NO_DEVICE);
        CU_ASSERT_EQUAL(rp_gpu_softmax(g, c, x, 8, 8), RP_ERR_NO_DEVICE);
        CU_ASSERT_EQUAL(rp_gpu_sgemm(g, 8, 8, 8, x, y, c), RP_ERR_NO_DEVICE);
    }
    {
        const void *in[2] = { x, y };
        size_t bytes[2] = { sizeof x, sizeof y };
        void *out[1] = { c };
        rp_gpu_spirv_run run = {
            .code = add2.code, .code_bytes = add2.bytes,
            .inputs = in, .input_bytes = bytes, .ninputs = 2,
            .outputs = out, .output_bytes = bytes, .noutputs = 1,
            .groups = { 1, 1, 1 },
        };
        CU_ASSERT_EQUAL(rp_gpu_run_spirv(g, &run, &why), RP_ERR_NO_DEVICE);
        CU_ASSERT(contains(why, "lost"));
        free(why);
    }
    CU_ASSERT(rp_test_now() - t0 < 1.0 * rp_test_slowdown());
    CU_ASSERT_EQUAL(memcmp(y, y0, sizeof y), 0);
    /* the first reason stays */
    CU_ASSERT_PTR_EQUAL(rp_gpu_unusable(g), u);

    t0 = rp_test_now();
    rp_gpu_close(g);
    CU_ASSERT(rp_test_now() - t0 < 5.0 * rp_test_slowdown());

    /* a new device works */
    state_dir_begin(&sd, "gpu-lost-reopen");
    CU_ASSERT_EQUAL_FATAL(rp_gpu_open(-1, &g2), RP_OK);
    CU_ASSERT_PTR_NULL(rp_gpu_unusable(g2));
    CU_ASSERT_EQUAL(saxpy_works(g2, 1000, &rng), RP_OK);
    add2_runs(g2, &add2, 1000);
    rp_gpu_close(g2);
    state_dir_end(&sd);
    free(add2.code);
    rp_test_remove_tree(dir);
}

/* The child's side of the timeout case: runs the never-ending shader at
 * spv_path with a 300 ms timeout and leaves by _exit (Mesa's exit
 * handlers would wait for the spinning thread) with a bit set for each
 * check that failed. */
enum {
    CHILD_SETUP = 1, CHILD_STATUS = 2, CHILD_TIME = 4, CHILD_WHY = 8, CHILD_UNUSABLE = 16,
    CHILD_AFTER = 32, CHILD_CLOSE = 64,
};

static void __attribute__((noreturn))
timeout_child(const char *spv_path)
{
    unsigned fails = 0;
    size_t bytes;
    uint32_t *code = read_all(spv_path, &bytes);
    rp_gpu *g = NULL;
    char *why = NULL;
    uint32_t stop = 0, data[2];
    const void *in[1] = { &stop };
    size_t in_bytes[1] = { sizeof stop }, out_bytes[1] = { sizeof data };
    void *out[1] = { data };
    double t0, took, budget = 2.0 * rp_test_slowdown();
    float x[16] = { 0 }, y[16] = { 0 };
    const char *u;
    rp_status st;

    if (code == NULL || rp__gpu_open(-1, "", &g, &why) != RP_OK) {
        fprintf(stderr, "timeout child: cannot start: %s\n", why ? why : spv_path);
        _exit(CHILD_SETUP);
    }
    rp_gpu_spirv_run run = {
        .code = code, .code_bytes = bytes,
        .inputs = in, .input_bytes = in_bytes, .ninputs = 1,
        .outputs = out, .output_bytes = out_bytes, .noutputs = 1,
        .groups = HANG_GROUPS,
        .timeout_ms = 300,
    };
    t0 = rp_test_now();
    st = rp_gpu_run_spirv(g, &run, &why);
    took = rp_test_now() - t0;
    if (st != RP_ERR_TIMEOUT) {
        fprintf(stderr, "timeout child: %s, not a timeout (the loop ran %u times)\n",
                rp_strerror(st), st == RP_OK ? data[1] : 0);
        fails |= CHILD_STATUS;
    }
    /* the wait itself is 300 ms; lavapipe compiles the pipeline before */
    if (took < 0.3 || took > 0.3 + budget) {
        fprintf(stderr, "timeout child: the run took %.3f s\n", took);
        fails |= CHILD_TIME;
    }
    if (!contains(why, "300 ms")) {
        fprintf(stderr, "timeout child: why: %s\n", why ? why : "(none)");
        fails |= CHILD_WHY;
    }
    free(why);
    why = NULL;
    u = rp_gpu_unusable(g);
    if (!contains(u, "timeout")) {
        fprintf(stderr, "timeout child: unusable: %s\n", u ? u : "(NULL)");
        fails |= CHILD_UNUSABLE;
    }
    t0 = rp_test_now();
    if (rp_gpu_saxpy(g, ALPHA, x, y, 16) != RP_ERR_NO_DEVICE ||
        rp_gpu_run_spirv(g, &run, &why) != RP_ERR_NO_DEVICE || !contains(why, "timeout") ||
        rp_test_now() - t0 > 0.5 * rp_test_slowdown()) {
        fprintf(stderr, "timeout child: calls after: %s\n", why ? why : "(no why)");
        fails |= CHILD_AFTER;
    }
    free(why);
    t0 = rp_test_now();
    rp_gpu_close(g);
    if (rp_test_now() - t0 > 1.0 * rp_test_slowdown()) {
        fprintf(stderr, "timeout child: close took %.3f s\n", rp_test_now() - t0);
        fails |= CHILD_CLOSE;
    }
    free(code);
    fflush(stderr);
    _exit((int)fails);
}

/* Runs itself, this binary on this one case, as the child above: a hung
 * lavapipe shader spins a CPU thread until its process ends. */
static void
shader_past_its_timeout_makes_the_gpu_unusable(void)
{
    const char *child = getenv(TIMEOUT_CHILD_ENV);
    char dir[256], entry[600];
    char **envp;
    size_t n = 0;
    struct spv hang;
    bool killed;
    int status;
    double t0, took;

    if (child != NULL)
        timeout_child(child);

    rp_test_tmpdir(dir, sizeof dir, "gpu-timeout");
    hang = compile(dir, "hang", "comp", HANG_GLSL);
    free(hang.code);
    snprintf(entry, sizeof entry, "%s=%s/hang.spv", TIMEOUT_CHILD_ENV, dir);
    while (environ[n] != NULL)
        n++;
    envp = calloc(n + 2, sizeof *envp);
    CU_ASSERT_PTR_NOT_NULL_FATAL(envp);
    memcpy(envp, environ, n * sizeof *envp);
    envp[n] = entry;
    char *const argv[] = { (char *)"run_tests", (char *)"gpu/" TIMEOUT_CASE, NULL };

    t0 = rp_test_now();
    status = spawn_wait("/proc/self/exe", argv, envp, "/dev/null", true, 20.0, &killed);
    took = rp_test_now() - t0;
    free(envp);
    CU_ASSERT_FALSE(killed);
    CU_ASSERT(status != -1 && WIFEXITED(status));
    CU_ASSERT_EQUAL(status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "\n  timeout child: status %#x%s", (unsigned)status,
                killed ? " (killed after 20 s)" : "");
    /* the child's whole life: exec, Vulkan, the 300 ms, exit */
    CU_ASSERT(took < 5.0 * rp_test_slowdown());
    if (took >= 5.0 * rp_test_slowdown())
        fprintf(stderr, "\n  timeout child took %.2f s", took);
    rp_test_remove_tree(dir);
}

/* ---- concurrency ---- */

struct racer {
    rp_gpu *g;
    unsigned id;
    unsigned failures;
    char first[256];
};

static void
racer_fail(struct racer *r, const char *what, size_t i, rp_status st)
{
    if (r->failures++ == 0)
        snprintf(r->first, sizeof r->first, "thread %u, call %zu: %s: %s", r->id, i, what,
                 rp_strerror(st));
}

/* 20 calls: saxpy, a small sgemm, a sum, each on whole numbers so that
 * the expected results are exact. No CUnit from here. */
static void *
racer_main(void *arg)
{
    struct racer *r = arg;
    uint64_t s = 1000 + r->id;
    float *a = malloc(4096 * sizeof *a), *b = malloc(4096 * sizeof *b),
          *c = malloc(4096 * sizeof *c);
    double *want = malloc(4096 * sizeof *want), *abs_w = malloc(4096 * sizeof *abs_w);

    if (a == NULL || b == NULL || c == NULL || want == NULL || abs_w == NULL)
        abort();
    for (size_t i = 0; i < 20; i++) {
        rp_status st;
        switch (i % 3) {
        case 0: {
            size_t n = 1000 + 37 * i + r->id;
            fill_int(&s, a, n, 100);
            fill_int(&s, b, n, 100);
            memcpy(c, b, n * sizeof *c);
            st = rp_gpu_saxpy(r->g, 2.0f, a, c, n);
            for (size_t j = 0; j < n && st == RP_OK; j++)
                if (c[j] != b[j] + 2.0f * a[j]) {
                    st = WRONG_RESULT;
                    break;
                }
            if (st != RP_OK)
                racer_fail(r, "saxpy", i, st);
            break;
        }
        case 1: {
            size_t m = 5 + r->id, n = 7 + i % 5, k = 9 + i % 3;
            fill_int(&s, a, m * k, 3);
            fill_int(&s, b, k * n, 3);
            st = rp_gpu_sgemm(r->g, m, n, k, a, b, c);
            sgemm_ref(m, n, k, a, b, want, abs_w, 1);
            for (size_t j = 0; j < m * n && st == RP_OK; j++)
                if ((double)c[j] != want[j])
                    st = WRONG_RESULT;
            if (st != RP_OK)
                racer_fail(r, "sgemm", i, st);
            break;
        }
        default: {
            size_t n = 3000 + 11 * i + r->id;
            double sum = 0;
            float got = NAN;
            fill_int(&s, a, n, 8);
            for (size_t j = 0; j < n; j++)
                sum += a[j];
            st = rp_gpu_reduce(r->g, a, NULL, n, &got);
            if (st == RP_OK && (double)got != sum)
                st = WRONG_RESULT;
            if (st != RP_OK)
                racer_fail(r, "sum", i, st);
            break;
        }
        }
    }
    free(a);
    free(b);
    free(c);
    free(want);
    free(abs_w);
    return NULL;
}

static void
threads_share_one_gpu(void)
{
    enum { THREADS = 4 };
    rp_gpu *g = shared_gpu();
    struct racer r[THREADS];
    pthread_t t[THREADS];

    for (unsigned i = 0; i < THREADS; i++) {
        r[i] = (struct racer){ .g = g, .id = i };
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, racer_main, &r[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (unsigned i = 0; i < THREADS; i++) {
        CU_ASSERT_EQUAL(r[i].failures, 0);
        if (r[i].failures != 0)
            fprintf(stderr, "\n  %u failures, first: %s", r[i].failures, r[i].first);
    }
    CU_ASSERT_PTR_NULL(rp_gpu_unusable(g));
}

/* ---- the pipeline cache ---- */

/* Opens a device with its cache in dir, runs a kernel, closes it. */
static void
run_with_cache(const char *dir, const char *what)
{
    rp_gpu *g = NULL;
    char *why = NULL;
    rp_status st = rp__gpu_open(-1, dir, &g, &why);

    if (st != RP_OK)
        fprintf(stderr, "\n  open with %s: %s: %s", what, rp_strerror(st), why ? why : "?");
    CU_ASSERT_EQUAL_FATAL(st, RP_OK);
    CU_ASSERT_PTR_NULL(why);
    CU_ASSERT_EQUAL(saxpy_works(g, 5000, &rng), RP_OK);
    rp_gpu_close(g);
}

static void
pipeline_cache_is_kept_and_bad_ones_ignored(void)
{
    char dir[256], path[512];
    rp_gpu *g = NULL;
    VkPhysicalDeviceProperties props;
    unsigned char *data, junk[4096];
    uint32_t hdr[4];
    size_t len = 0;

    keep_the_driver_loaded();
    rp_test_tmpdir(dir, sizeof dir, "gpu-cache");
    CU_ASSERT_EQUAL_FATAL(rp__gpu_open(-1, dir, &g, NULL), RP_OK);
    props = *rp__gpu_props(g);
    snprintf(path, sizeof path, "%s/gpu-%04x-%04x.cache", dir, props.vendorID, props.deviceID);
    CU_ASSERT_EQUAL(saxpy_works(g, 5000, &rng), RP_OK);
    rp_gpu_close(g);

    /* written on close, with this device's header */
    data = read_all(path, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    CU_ASSERT_FATAL(len >= 32);
    memcpy(hdr, data, sizeof hdr);
    CU_ASSERT(hdr[0] >= 32 && hdr[0] <= len);
    CU_ASSERT_EQUAL(hdr[1], VK_PIPELINE_CACHE_HEADER_VERSION_ONE);
    CU_ASSERT_EQUAL(hdr[2], props.vendorID);
    CU_ASSERT_EQUAL(hdr[3], props.deviceID);
    CU_ASSERT_EQUAL(memcmp(data + 16, props.pipelineCacheUUID, VK_UUID_SIZE), 0);
    /* read back by the next open */
    run_with_cache(dir, "the saved cache");

    /* random bytes */
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)next_rand(&rng);
    write_all(path, junk, sizeof junk);
    run_with_cache(dir, "random bytes");
    /* a truncated header */
    write_all(path, data, 20);
    run_with_cache(dir, "a truncated header");
    /* another device's */
    memcpy(junk, data, 32);
    junk[16] ^= 0xff;
    write_all(path, junk, sizeof junk);
    run_with_cache(dir, "another device's header");
    /* this device's header, then garbage */
    memcpy(junk, data, 32);
    write_all(path, junk, sizeof junk);
    run_with_cache(dir, "the right header and a garbage body");
    /* the right header claiming more than the file has */
    memcpy(junk, data, 32);
    hdr[0] = 1u << 30;
    memcpy(junk, hdr, 4);
    write_all(path, junk, 64);
    run_with_cache(dir, "a header longer than the file");
    /* empty */
    write_all(path, junk, 0);
    run_with_cache(dir, "an empty file");

    /* each close wrote a good one again */
    free(data);
    data = read_all(path, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    CU_ASSERT(len >= 32);
    CU_ASSERT_EQUAL(memcmp(data + 16, props.pipelineCacheUUID, VK_UUID_SIZE), 0);
    free(data);
    rp_test_remove_tree(dir);
}

static const rp_test_case cases[] = {
    { "open_finds_lavapipe_and_describes_it", open_finds_lavapipe_and_describes_it },
    { "bad_device_indexes_are_refused", bad_device_indexes_are_refused },
    { "repartir_gpu_picks_the_device", repartir_gpu_picks_the_device },
    { "no_vulkan_driver_is_no_device", no_vulkan_driver_is_no_device },
    { "no_compute_queue_is_no_device", no_compute_queue_is_no_device },
    { "null_devices_are_harmless", null_devices_are_harmless },
    { "saxpy_matches_double", saxpy_matches_double },
    { "ewise_matches_double", ewise_matches_double },
    { "reduce_matches_double", reduce_matches_double },
    { "softmax_matches_double", softmax_matches_double },
    { "kernel_argument_errors_write_nothing", kernel_argument_errors_write_nothing },
    { "sgemm_matches_double_on_odd_shapes", sgemm_matches_double_on_odd_shapes },
    { "sgemm_empty_shapes", sgemm_empty_shapes },
    { "spirv_user_shaders_run", spirv_user_shaders_run },
    { "spirv_bad_modules_are_refused", spirv_bad_modules_are_refused },
    { "spirv_wrong_interfaces_are_refused", spirv_wrong_interfaces_are_refused },
    { "spirv_past_the_device_limits_is_refused",
      spirv_past_the_device_limits_is_refused },
    { "spirv_buffer_arrays_are_refused", spirv_buffer_arrays_are_refused },
    { "output_past_device_memory_is_no_memory", output_past_device_memory_is_no_memory },
    { "injected_allocation_failure_is_no_memory", injected_allocation_failure_is_no_memory },
    { "lost_device_is_unusable_until_closed", lost_device_is_unusable_until_closed },
    { TIMEOUT_CASE, shader_past_its_timeout_makes_the_gpu_unusable },
    { "threads_share_one_gpu", threads_share_one_gpu },
    { "pipeline_cache_is_kept_and_bad_ones_ignored", pipeline_cache_is_kept_and_bad_ones_ignored },
    { NULL, NULL },
};

const rp_test_suite rp_test_suite_gpu = { "gpu", cases, true };
