/*
 * gpu.h (internal) -- the Vulkan device layer under repartir/gpu.h.
 *
 *   gpu.c      instance and device choice, memory types, the buffer pool,
 *              command contexts, the submission thread, the pipeline cache
 *   kernels.c  the built-in kernels (the GLSL of shaders/, embedded SPIR-V)
 *   spirv.c    user SPIR-V: validation, reflection, one dispatch
 *
 * A piece of work is a batch: rp__gpu_batch_begin, then uploads,
 * dispatches and downloads recorded in order (a full memory barrier
 * between steps), then rp__gpu_batch_run, which hands it to the submission
 * thread and waits on the device's timeline semaphore with a timeout.
 */
#ifndef RP_ENGINE_GPU_GPU_H
#define RP_ENGINE_GPU_GPU_H

#include <vulkan/vulkan.h>

#include <repartir.h>
#include <repartir/gpu.h>

/* A device buffer from the pool (device-local; host-mapped too on a
 * device whose memory is the host's, e.g. lavapipe). */
typedef struct rp__gpu_buf rp__gpu_buf;
typedef struct rp__gpu_batch rp__gpu_batch;
typedef struct rp__gpu_pipe rp__gpu_pipe;

/* Opens as rp_gpu_open_why; the pipeline cache is kept in cache_dir
 * (NULL: REPARTIR_STATE_DIR, else $XDG_CACHE_HOME/repartir, else
 * ~/.cache/repartir; "" : none). */
rp_status rp__gpu_open(int device_index, const char *cache_dir, rp_gpu **out /* OUT */,
                       char **why /* OUT */);

/* Faults the tests provoke that lavapipe cannot: the next open finds no
 * compute queue, the next submission loses the device, the next device
 * allocation runs out of memory. One shot each; process-wide. */
enum rp__gpu_fault { RP__GPU_FAULT_NO_QUEUE = 1, RP__GPU_FAULT_LOST = 2, RP__GPU_FAULT_OOM = 4 };
void rp__gpu_fault_inject(unsigned faults);

/* ---- buffers ---- */

/* A device buffer of at least `bytes` (pooled; contents undefined).
 * RP_ERR_NO_MEMORY when the device has none left. */
rp_status rp__gpu_buf_get(rp_gpu *g, size_t bytes, rp__gpu_buf **out /* OUT */, char **why);
/* Back to the pool. NULL is ignored. Only once no batch uses it. */
void rp__gpu_buf_put(rp_gpu *g, rp__gpu_buf *b);
VkBuffer rp__gpu_buf_handle(const rp__gpu_buf *b);

/* ---- pipelines ---- */

/* A compute pipeline of `nbuf` storage buffers (set 0, bindings 0..) and
 * `push_bytes` of push constants, from SPIR-V the caller vouches for
 * (built-in, or validated by spirv.c). Freed with rp__gpu_pipe_free. */
rp_status rp__gpu_pipe_new(rp_gpu *g, const uint32_t *code, size_t code_bytes, unsigned nbuf,
                           unsigned push_bytes, rp__gpu_pipe **out /* OUT */, char **why);
void rp__gpu_pipe_free(rp_gpu *g, rp__gpu_pipe *p);

/* ---- batches ---- */

rp_status rp__gpu_batch_begin(rp_gpu *g, rp__gpu_batch **out /* OUT */, char **why);
/* Records a copy of host bytes into dst at offset (host data is copied
 * now, so the caller may reuse it at once). */
rp_status rp__gpu_batch_upload(rp__gpu_batch *b, rp__gpu_buf *dst, size_t offset,
                               const void *src, size_t bytes, char **why);
/* Records zeroes into dst's first bytes. */
void rp__gpu_batch_zero(rp__gpu_batch *b, rp__gpu_buf *dst, size_t bytes);
/* Records a dispatch of p over bufs (p's count) with push constants. */
rp_status rp__gpu_batch_dispatch(rp__gpu_batch *b, rp__gpu_pipe *p, rp__gpu_buf *const *bufs,
                                 const size_t *sizes, const void *push, unsigned gx,
                                 unsigned gy, unsigned gz, char **why);
/* Records a copy of src's bytes at offset to host dst, done by _run. */
rp_status rp__gpu_batch_download(rp__gpu_batch *b, rp__gpu_buf *src, size_t offset, void *dst,
                                 size_t bytes, char **why);
/* Writes a GPU timestamp here (at most 2 per batch); _run then gives the
 * nanoseconds between the two in *gpu_ns. */
void rp__gpu_batch_timestamp(rp__gpu_batch *b);
/* Submits, waits (timeout_ms; 0 = forever), copies downloads out, and
 * frees the batch whatever happens. RP_ERR_TIMEOUT and device loss leave
 * g unusable (rp_gpu_unusable). gpu_ns may be NULL. */
rp_status rp__gpu_batch_run(rp__gpu_batch *b, unsigned timeout_ms, uint64_t *gpu_ns /* OUT */,
                            char **why);
/* Drops a batch without running it. */
void rp__gpu_batch_abort(rp__gpu_batch *b);

/* ---- the device, for the layers above ---- */

const VkPhysicalDeviceProperties *rp__gpu_props(const rp_gpu *g);
/* The largest buffer one allocation may have, and the device heap. */
uint64_t rp__gpu_max_buffer(const rp_gpu *g);
bool rp__gpu_is_cpu(const rp_gpu *g);
VkInstance rp__gpu_instance(const rp_gpu *g);
VkPhysicalDevice rp__gpu_physical(const rp_gpu *g);
/* Built-in pipeline `id` (< RP__GPU_BUILTINS) of g, made from the code
 * at its first use and kept until rp_gpu_close. */
#define RP__GPU_BUILTINS 16
rp_status rp__gpu_builtin(rp_gpu *g, unsigned id, const uint32_t *code, size_t code_bytes,
                          unsigned nbuf, unsigned push_bytes, rp__gpu_pipe **out /* OUT */,
                          char **why);

/* printf-style *why (may be NULL) */
void rp__gpu_why(char **why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A VkResult as text, and as rp_status. */
const char *rp__gpu_vk_text(VkResult r);
rp_status rp__gpu_vk_status(VkResult r);

#endif /* RP_ENGINE_GPU_GPU_H */
