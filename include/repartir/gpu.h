/*
 * repartir/gpu.h -- the Vulkan GPU executor: a device, its built-in compute
 * kernels (saxpy, element-wise add/sub/mul/div, sum, dot, sgemm, softmax),
 * and user SPIR-V compute shaders run as tasks.
 *
 * Devices are picked discrete > integrated > virtual > CPU (lavapipe), or
 * by REPARTIR_GPU=<index|name substring>. Data goes to device-local
 * buffers through pooled staging buffers; one compute queue per device is
 * fed by one submission thread, and callers wait on a timeline semaphore
 * with a timeout. The pipeline cache lives in the state dir
 * (REPARTIR_STATE_DIR, else $XDG_CACHE_HOME/repartir) so the second run
 * starts fast (docs/gpu.md).
 *
 * THREADS: every call is thread-safe; calls on one device are serialised
 * on its queue in the order they were submitted.
 */
#ifndef REPARTIR_GPU_H
#define REPARTIR_GPU_H

#include "common.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rp_gpu rp_gpu;

/* Opens device device_index (vkEnumeratePhysicalDevices' order), or the
 * best one for -1 (REPARTIR_GPU, when set, decides then). Errors:
 * RP_ERR_NO_DEVICE (no Vulkan driver, no such device, no compute queue,
 * or only devices older than Vulkan 1.2), RP_ERR_NO_MEMORY, RP_ERR_INVALID (index below -1).
 * rp_gpu_open_why also says why in *why (malloc'd; NULL on success).
 * Close with rp_gpu_close. */
RP_API rp_status rp_gpu_open(int device_index, rp_gpu **out /* OUT */);
RP_API rp_status rp_gpu_open_why(int device_index, rp_gpu **out /* OUT */, char **why /* OUT */);
/* "NVIDIA H200", "llvmpipe (LLVM 15.0.6, 256 bits)". Static for g's life. */
RP_API const char *rp_gpu_device_name(const rp_gpu *g);
/* Compute units: SMs on NVIDIA (VK_NV_shader_sm_builtins), shader engines
 * x CUs per engine on AMD (VK_AMD_shader_core_properties), lavapipe's
 * threads on a CPU device, else an estimate of one per 256 MiB of device
 * memory, 2 to 256 (docs/gpu.md). */
RP_API unsigned rp_gpu_capacity(const rp_gpu *g);
/* Where rp_gpu_capacity's figure came from: "sm_builtins",
 * "amd_shader_core", "cpu_threads" or "estimate". Static. */
RP_API const char *rp_gpu_capacity_source(const rp_gpu *g);
/* "discrete", "integrated", "virtual", "cpu" or "other". Static. */
RP_API const char *rp_gpu_device_type(const rp_gpu *g);
/* NULL while g works; once a submission failed for good (device lost, a
 * shader past its timeout) the reason, and every later call fails with
 * RP_ERR_NO_DEVICE. Valid until rp_gpu_close. */
RP_API const char *rp_gpu_unusable(const rp_gpu *g);

/* y[i] += alpha * x[i], i < n, on the device (host arrays in and out).
 * Errors: RP_ERR_INVALID (NULL with n > 0), RP_ERR_NO_MEMORY (device
 * memory), RP_ERR_NO_DEVICE (g unusable), RP_ERR_TIMEOUT. On error y is
 * unchanged. */
RP_API rp_status rp_gpu_saxpy(rp_gpu *g, float alpha, const float *x, float *y, size_t n);
/* Row-major C[m x n] = A[m x k] . B[k x n]. Errors as rp_gpu_saxpy. */
RP_API rp_status rp_gpu_sgemm(rp_gpu *g, size_t m, size_t n, size_t k, const float *a,
                              const float *b, float *c);
/* out[i] = a[i] op b[i] for op '+', '-', '*', '/'; out may be a or b. */
RP_API rp_status rp_gpu_ewise(rp_gpu *g, char op, float *out, const float *a, const float *b,
                              size_t n);
/* *out = sum of a[i] (b == NULL) or of a[i] * b[i] (dot), accumulated in
 * float per workgroup and in double across workgroups. */
RP_API rp_status rp_gpu_reduce(rp_gpu *g, const float *a, const float *b, size_t n,
                               float *out /* OUT */);
/* Each of `rows` rows of `cols` floats: out = softmax(a); out may be a. */
RP_API rp_status rp_gpu_softmax(rp_gpu *g, float *out, const float *a, size_t rows, size_t cols);

/* Waits for what g runs, then frees it. NULL is ignored. A device left
 * running a shader past its timeout is not freed (it cannot be), only
 * forgotten. */
RP_API void rp_gpu_close(rp_gpu *g);

/*
 * User SPIR-V. A compute shader whose storage buffers are descriptor set
 * 0, bindings 0.. in order: the inputs first, then the outputs. The module
 * is checked with the Khronos validator before the driver sees it.
 */
typedef struct rp_gpu_spirv_run {
    const uint32_t *code;   /* the module */
    size_t code_bytes;
    const void *const *inputs;      /* input buffers' bytes */
    const size_t *input_bytes;
    unsigned ninputs;
    void *const *outputs;           /* filled with the output buffers */
    const size_t *output_bytes;
    unsigned noutputs;
    unsigned groups[3];     /* vkCmdDispatch's; 0 counts as 1 */
    unsigned timeout_ms;    /* 0: RP_GPU_DEFAULT_TIMEOUT_MS */
} rp_gpu_spirv_run;

#define RP_GPU_DEFAULT_TIMEOUT_MS 10000u
#define RP_GPU_MAX_BUFFERS 16

/* Runs one dispatch of the module. Errors: RP_ERR_INVALID (not valid
 * SPIR-V, no GLCompute entry point, bindings that do not match the
 * buffers, too many groups), RP_ERR_NO_MEMORY, RP_ERR_TIMEOUT (the shader
 * ran past the timeout: g is unusable afterwards), RP_ERR_NO_DEVICE;
 * *why (malloc'd, may be NULL) says which. */
RP_API rp_status rp_gpu_run_spirv(rp_gpu *g, const rp_gpu_spirv_run *run, char **why /* OUT */);

/*
 * SPIR-V tasks: the shader file and input files are read when the task
 * runs; its outputs come back in the result (rp_result_output) and, when
 * an output dir is set, as files DIR/task<ID>.out<I>.bin. The task's
 * stdout names the device, the time and each output's size and SHA-256.
 * rp_task_set_timeout_ms bounds the dispatch (default
 * RP_GPU_DEFAULT_TIMEOUT_MS). Runs on the pool's GPU (rp_pool_config.gpu);
 * without one the task fails saying why.
 */
RP_API rp_task  *rp_task_new_spirv(const char *spv_path);
RP_API rp_status rp_task_add_input(rp_task *t, const char *path);
RP_API rp_status rp_task_add_output(rp_task *t, size_t bytes);
RP_API rp_status rp_task_set_groups(rp_task *t, unsigned x, unsigned y, unsigned z);
RP_API rp_status rp_task_set_output_dir(rp_task *t, const char *dir);
/* A SPIR-V task's output i (NULL past the last, or for other tasks). */
RP_API const void *rp_result_output(const rp_result *r, unsigned i, size_t *len /* OUT */);
RP_API unsigned    rp_result_outputs(const rp_result *r);

/* The pool's GPU as the console shows it. */
typedef enum { RP_GPU_NONE, RP_GPU_OPENING, RP_GPU_READY, RP_GPU_UNAVAILABLE } rp_gpu_state;
typedef struct rp_gpu_info {
    rp_gpu_state state;
    char name[128];
    char type[16];
    unsigned capacity;
    char why[200];          /* UNAVAILABLE: the reason */
    uint64_t tasks, kernels;        /* SPIR-V tasks run, tensor ops sent to it */
} rp_gpu_info;
RP_API rp_status rp_pool_gpu_info(rp_pool *pool, rp_gpu_info *out /* OUT */);

#ifdef __cplusplus
}
#endif

#endif /* REPARTIR_GPU_H */
