/*
 * gpu.c -- one Vulkan device: choice, memory, submission, pipeline cache.
 *
 * Choice: devices of Vulkan 1.2 or later with a compute queue, ranked
 * discrete > integrated > virtual > CPU (lavapipe) > other, then by index;
 * REPARTIR_GPU=<index|name substring> picks one by hand. A queue family
 * with compute but no graphics is preferred (the asynchronous compute
 * engine on NVIDIA and AMD).
 *
 * Memory: work buffers are device-local; host data goes through staging
 * buffers in host memory (write-combined for uploads, cached for
 * read-backs). Where device memory is also the host's (lavapipe, most
 * integrated GPUs) a device-local, host-visible type lets batches copy
 * straight in and out, with no staging. Buffers come in power-of-two size
 * classes from a pool that keeps up to POOL_KEEP bytes for reuse; a failed
 * allocation empties the pool and tries once more.
 *
 * Submission: callers record a batch (command buffer + descriptor pool +
 * staging, all pooled) on their own thread, then queue it for the
 * submission thread, the only caller of vkQueueSubmit. Each batch signals
 * the next value of the device's timeline semaphore; its caller waits for
 * that value with vkWaitSemaphores and a timeout. Nothing on the hot path
 * waits for the whole device. A wait that times out (a shader that never
 * ends) or a lost device leaves the device unusable: every later call
 * fails at once with RP_ERR_NO_DEVICE and the reason, and the device is
 * never freed while a shader may still run on it.
 *
 * Pipeline cache: loaded from and saved (atomically) to
 * <cache_dir>/gpu-<vendor>-<device>.cache when the header matches this
 * device and driver; anything else there is ignored.
 *
 * THREADS: `lock` guards the buffer pool and the free batches; `pipe_lock`
 * the built-in pipelines (made while it is held); `sub_lock` the
 * submission queue, the next timeline value and the unusable reason. Each
 * is a leaf lock: none is taken while another is held.
 */
#include "engine/gpu/gpu.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/alloc.h"
#include "engine/file.h"

#define POOL_KEEP ((VkDeviceSize)1 << 30)   /* bytes of free buffers kept */
#define MIN_CLASS 16                       /* 64 KiB: the smallest size class */
#define NCLASS 48
#define BATCH_SETS 16                      /* dispatches one batch may record */
#define BATCH_KEEP 8                       /* free batches kept */

enum buf_kind { BUF_DEVICE, BUF_UPLOAD, BUF_READBACK, BUF_KINDS };

struct rp__gpu_buf {
    VkBuffer buf;
    VkDeviceMemory mem;
    void *map;                  /* host-visible: mapped for good */
    VkDeviceSize size;
    unsigned cls;
    enum buf_kind kind;
    struct rp__gpu_buf *next;   /* free list */
};

struct rp__gpu_pipe {
    VkShaderModule module;
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipeline;
    unsigned nbuf, push_bytes;
};

struct download {
    rp__gpu_buf *staging;       /* NULL: read src->map directly */
    rp__gpu_buf *src;
    size_t offset, bytes;
    void *dst;
};

struct rp__gpu_batch {
    rp_gpu *g;
    VkCommandPool cmd_pool;
    VkCommandBuffer cb;
    VkDescriptorPool desc_pool;
    VkQueryPool queries;
    unsigned nstamps, nsets;
    rp__gpu_buf **staging;      /* released after the run */
    unsigned nstaging, staging_cap;
    struct download *downloads;
    unsigned ndownloads, downloads_cap;
    bool recording;
    /* set by the submission thread */
    uint64_t value;
    bool submitted;
    VkResult submit_result;
    struct rp__gpu_batch *next; /* submission queue, or free list */
};

struct rp_gpu {
    VkInstance instance;
    VkPhysicalDevice phys;
    VkDevice dev;
    VkQueue queue;
    uint32_t family;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem;
    uint32_t type_index[BUF_KINDS];
    bool unified;               /* device-local memory is host-visible */
    uint64_t heap_bytes, max_alloc;
    unsigned capacity;
    const char *capacity_source;
    float ts_period;            /* ns per timestamp tick; 0: none */
    VkPipelineCache cache;
    char *cache_path;

    pthread_mutex_t lock;
    rp__gpu_buf *free_bufs[BUF_KINDS][NCLASS];
    VkDeviceSize pooled_bytes;
    rp__gpu_batch *free_batches;
    unsigned nfree_batches;
    pthread_mutex_t pipe_lock;  /* builtin[]: made while held */
    rp__gpu_pipe *builtin[RP__GPU_BUILTINS];

    pthread_mutex_t sub_lock;
    pthread_cond_t sub_cond;    /* work for the thread, or a batch submitted */
    rp__gpu_batch *sub_head, **sub_tail;
    uint64_t next_value;
    bool stopping, hung;
    char *unusable;             /* set once, under sub_lock; read lock-free */
    _Atomic(const char *) unusable_pub;
    VkSemaphore timeline;
    pthread_t thread;
    bool thread_started;
};

static _Atomic unsigned faults;

void
rp__gpu_fault_inject(unsigned f)
{
    atomic_fetch_or_explicit(&faults, f, memory_order_relaxed);
}

static bool
take_fault(unsigned f)
{
    return (atomic_fetch_and_explicit(&faults, ~f, memory_order_relaxed) & f) != 0;
}

void
rp__gpu_why(char **why, const char *fmt, ...)
{
    va_list ap;
    char buf[512];

    if (why == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(*why);
    *why = rp_xstrdup(buf);
}

const char *
rp__gpu_vk_text(VkResult r)
{
    switch (r) {
    case VK_SUCCESS: return "success";
    case VK_TIMEOUT: return "timed out";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "out of host memory";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "out of device memory";
    case VK_ERROR_INITIALIZATION_FAILED: return "initialization failed";
    case VK_ERROR_DEVICE_LOST: return "device lost";
    case VK_ERROR_MEMORY_MAP_FAILED: return "memory map failed";
    case VK_ERROR_LAYER_NOT_PRESENT: return "layer not present";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "extension not present";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "feature not present";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "no compatible Vulkan driver";
    case VK_ERROR_TOO_MANY_OBJECTS: return "too many objects";
    case VK_ERROR_INVALID_SHADER_NV: return "invalid shader";
    default: return "Vulkan error";
    }
}

rp_status
rp__gpu_vk_status(VkResult r)
{
    switch (r) {
    case VK_SUCCESS: return RP_OK;
    case VK_TIMEOUT: return RP_ERR_TIMEOUT;
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return RP_ERR_NO_MEMORY;
    case VK_ERROR_OUT_OF_HOST_MEMORY: return RP_ERR_SYSTEM;
    case VK_ERROR_INVALID_SHADER_NV: return RP_ERR_INVALID;
    default: return RP_ERR_NO_DEVICE;
    }
}

/* ---- the unusable state ---- */

/* sub_lock held. The first reason stays. */
static void
mark_unusable(rp_gpu *g, const char *reason)
{
    if (g->unusable != NULL)
        return;
    g->unusable = rp_xstrdup(reason);
    atomic_store_explicit(&g->unusable_pub, g->unusable, memory_order_release);
}

const char *
rp_gpu_unusable(const rp_gpu *g)
{
    /* acquire: pairs with mark_unusable's release, so the text is whole */
    return g == NULL ? "no GPU" : atomic_load_explicit(&g->unusable_pub, memory_order_acquire);
}

static rp_status
check_usable(rp_gpu *g, char **why)
{
    const char *u = rp_gpu_unusable(g);

    if (u == NULL)
        return RP_OK;
    rp__gpu_why(why, "GPU unavailable: %s", u);
    return RP_ERR_NO_DEVICE;
}

/* ---- choice ---- */

static int
type_rank(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
    }
}

const char *
rp_gpu_device_type(const rp_gpu *g)
{
    static const char *const names[] = { "discrete", "integrated", "virtual", "cpu", "other" };

    return g == NULL ? "none" : names[type_rank(g->props.deviceType)];
}

/* The compute family of dev (compute without graphics preferred), or -1. */
static int
compute_family(VkPhysicalDevice dev)
{
    uint32_t n = 0;
    VkQueueFamilyProperties *fam;
    int best = -1;

    vkGetPhysicalDeviceQueueFamilyProperties(dev, &n, NULL);
    fam = rp_xcalloc(n ? n : 1, sizeof *fam);
    vkGetPhysicalDeviceQueueFamilyProperties(dev, &n, fam);
    for (uint32_t i = 0; i < n; i++) {
        if (!(fam[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || fam[i].queueCount == 0)
            continue;
        if (best < 0 || !(fam[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
            best = (int)i;
        if (!(fam[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
            break;
    }
    free(fam);
    return best;
}

static bool
has_extension(VkPhysicalDevice dev, const char *name)
{
    uint32_t n = 0;
    VkExtensionProperties *ext;
    bool found = false;

    if (vkEnumerateDeviceExtensionProperties(dev, NULL, &n, NULL) != VK_SUCCESS)
        return false;
    ext = rp_xcalloc(n ? n : 1, sizeof *ext);
    if (vkEnumerateDeviceExtensionProperties(dev, NULL, &n, ext) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(ext[i].extensionName, name) == 0;
    free(ext);
    return found;
}

static bool
contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay != '\0'; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

/* Picks the device: index >= 0, else REPARTIR_GPU, else the best rank. */
static rp_status
choose(VkInstance inst, int index, VkPhysicalDevice *out, int *family, char **why)
{
    uint32_t n = 0;
    VkPhysicalDevice *devs;
    const char *want = getenv("REPARTIR_GPU");
    bool no_queue = take_fault(RP__GPU_FAULT_NO_QUEUE);
    int best = -1, best_rank = 99, best_family = -1;
    char seen[512] = "";
    rp_status status = RP_ERR_NO_DEVICE;
    VkResult r = vkEnumeratePhysicalDevices(inst, &n, NULL);

    if (r != VK_SUCCESS || n == 0) {
        rp__gpu_why(why, "no Vulkan device (%s)", r != VK_SUCCESS ? rp__gpu_vk_text(r)
                                                                  : "the driver lists none");
        return RP_ERR_NO_DEVICE;
    }
    devs = rp_xcalloc(n, sizeof *devs);
    vkEnumeratePhysicalDevices(inst, &n, devs);
    if (index < 0 && want != NULL && *want != '\0') {
        char *end;
        long v = strtol(want, &end, 10);
        if (*end == '\0' && v >= 0)
            index = (int)v;
    }
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties p;
        int fam, rank;
        vkGetPhysicalDeviceProperties(devs[i], &p);
        size_t used = strlen(seen);
        snprintf(seen + used, sizeof seen - used, "%s%u: %s", i ? ", " : "", i, p.deviceName);
        if (index >= 0 && (uint32_t)index != i)
            continue;
        if (index < 0 && want != NULL && *want != '\0' && !contains_nocase(p.deviceName, want))
            continue;
        fam = no_queue ? -1 : compute_family(devs[i]);
        if (fam < 0) {
            rp__gpu_why(why, "device %u (%s) has no compute queue", i, p.deviceName);
            continue;
        }
        if (p.apiVersion < VK_API_VERSION_1_2) {
            rp__gpu_why(why, "device %u (%s) has Vulkan %u.%u; 1.2 is needed (timeline "
                        "semaphores)", i, p.deviceName, VK_API_VERSION_MAJOR(p.apiVersion),
                        VK_API_VERSION_MINOR(p.apiVersion));
            continue;
        }
        rank = type_rank(p.deviceType);
        if (best < 0 || rank < best_rank) {
            best = (int)i;
            best_rank = rank;
            best_family = fam;
        }
    }
    if (best >= 0) {
        *out = devs[best];
        *family = best_family;
        status = RP_OK;
    } else if (index >= 0 && (uint32_t)index >= n) {
        rp__gpu_why(why, "no Vulkan device %d (there are %u: %s)", index, n, seen);
    } else if (index < 0 && want != NULL && *want != '\0' && (why == NULL || *why == NULL)) {
        rp__gpu_why(why, "REPARTIR_GPU=%s matches no device (%s)", want, seen);
    } else if (why != NULL && *why == NULL) {
        rp__gpu_why(why, "no usable Vulkan device (%s)", seen);
    }
    free(devs);
    return status;
}

/* Compute units, and where the figure came from. */
static void
find_capacity(rp_gpu *g)
{
    VkPhysicalDeviceShaderSMBuiltinsPropertiesNV sm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SM_BUILTINS_PROPERTIES_NV
    };
    VkPhysicalDeviceShaderCorePropertiesAMD amd = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_PROPERTIES_AMD
    };
    VkPhysicalDeviceProperties2 p2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2 };

    if (has_extension(g->phys, VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME)) {
        p2.pNext = &sm;
        vkGetPhysicalDeviceProperties2(g->phys, &p2);
        if (sm.shaderSMCount > 0) {
            g->capacity = sm.shaderSMCount;
            g->capacity_source = "sm_builtins";
            return;
        }
    }
    if (has_extension(g->phys, VK_AMD_SHADER_CORE_PROPERTIES_EXTENSION_NAME)) {
        p2.pNext = &amd;
        vkGetPhysicalDeviceProperties2(g->phys, &p2);
        if (amd.shaderEngineCount > 0) {
            g->capacity = amd.shaderEngineCount * amd.shaderArraysPerEngineCount *
                          amd.computeUnitsPerShaderArray;
            g->capacity_source = "amd_shader_core";
            return;
        }
    }
    if (g->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) {
        /* lavapipe runs a dispatch on one thread per core (LP_NUM_THREADS) */
        const char *env = getenv("LP_NUM_THREADS");
        long n = env != NULL ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
        g->capacity = n > 0 ? (unsigned)n : 1;
        g->capacity_source = "cpu_threads";
        return;
    }
    /* No driver figure: one unit per 256 MiB of device-local memory, 2 to
     * 256 (a 16-unit part per 4 GiB; docs/gpu.md says why this is only a
     * guess). */
    g->capacity = (unsigned)(g->heap_bytes >> 28);
    if (g->capacity < 2)
        g->capacity = 2;
    if (g->capacity > 256)
        g->capacity = 256;
    g->capacity_source = "estimate";
}

/* Memory type with `want` flags (and none of `avoid`), or UINT32_MAX. */
static uint32_t
memory_type(const VkPhysicalDeviceMemoryProperties *m, VkMemoryPropertyFlags want,
            VkMemoryPropertyFlags avoid)
{
    for (uint32_t i = 0; i < m->memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = m->memoryTypes[i].propertyFlags;
        if ((f & want) == want && (f & avoid) == 0)
            return i;
    }
    return UINT32_MAX;
}

static void
choose_memory(rp_gpu *g)
{
    const VkMemoryPropertyFlags HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                     VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    const VkMemoryPropertyFlags DL = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    uint32_t t;

    vkGetPhysicalDeviceMemoryProperties(g->phys, &g->mem);
    t = memory_type(&g->mem, DL | HV | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0);
    g->unified = g->props.deviceType != VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU &&
                 t != UINT32_MAX;
    if (g->unified) {
        g->type_index[BUF_DEVICE] = g->type_index[BUF_UPLOAD] = g->type_index[BUF_READBACK] = t;
    } else {
        g->type_index[BUF_DEVICE] = memory_type(&g->mem, DL, 0);
        if (g->type_index[BUF_DEVICE] == UINT32_MAX)
            g->type_index[BUF_DEVICE] = 0;
        g->type_index[BUF_UPLOAD] = memory_type(&g->mem, HV, DL);
        if (g->type_index[BUF_UPLOAD] == UINT32_MAX)
            g->type_index[BUF_UPLOAD] = memory_type(&g->mem, HV, 0);
        g->type_index[BUF_READBACK] =
            memory_type(&g->mem, HV | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, DL);
        if (g->type_index[BUF_READBACK] == UINT32_MAX)
            g->type_index[BUF_READBACK] = g->type_index[BUF_UPLOAD];
    }
    g->heap_bytes = g->mem.memoryHeaps[g->mem.memoryTypes[g->type_index[BUF_DEVICE]].heapIndex]
                        .size;
}

/* ---- the pipeline cache ---- */

static char *
default_cache_dir(void)
{
    const char *s = getenv("REPARTIR_STATE_DIR"), *x = getenv("XDG_CACHE_HOME"),
               *h = getenv("HOME");

    if (s != NULL && *s != '\0')
        return rp_xstrdup(s);
    if (x != NULL && *x != '\0')
        return rp__sprintf("%s/repartir", x);
    if (h != NULL && *h != '\0')
        return rp__sprintf("%s/.cache/repartir", h);
    return NULL;
}

/* The cache file's data when its header is this device's, else NULL. */
static void *
read_cache(rp_gpu *g, size_t *len)
{
    char *why = NULL;
    unsigned char *data = rp__file_read(g->cache_path, (size_t)64 << 20, len, &why);
    uint32_t hdr[4];

    free(why);                      /* no cache, or none we can read: start empty */
    if (data == NULL || *len < 32)
        goto bad;
    memcpy(hdr, data, sizeof hdr);
    /* VkPipelineCacheHeaderVersionOne: length, version, vendor, device,
     * then the cache UUID */
    if (hdr[0] < 32 || hdr[0] > *len || hdr[1] != VK_PIPELINE_CACHE_HEADER_VERSION_ONE ||
        hdr[2] != g->props.vendorID || hdr[3] != g->props.deviceID ||
        memcmp(data + 16, g->props.pipelineCacheUUID, VK_UUID_SIZE) != 0)
        goto bad;
    return data;
bad:
    free(data);
    *len = 0;
    return NULL;
}

static void
save_cache(rp_gpu *g)
{
    size_t len = 0;
    void *data;

    if (g->cache == VK_NULL_HANDLE || g->cache_path == NULL)
        return;
    if (vkGetPipelineCacheData(g->dev, g->cache, &len, NULL) != VK_SUCCESS || len == 0)
        return;
    data = rp_xmalloc(len);
    /* a cache that cannot be saved only costs the next run its start */
    if (vkGetPipelineCacheData(g->dev, g->cache, &len, data) == VK_SUCCESS)
        rp__file_replace(g->cache_path, data, len, 0644);
    free(data);
}

static void
open_cache(rp_gpu *g, const char *cache_dir)
{
    char *dir = cache_dir != NULL ? rp_xstrdup(cache_dir) : default_cache_dir();
    VkPipelineCacheCreateInfo ci = { .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO };
    void *data = NULL;
    size_t len = 0;

    if (dir != NULL && *dir != '\0') {
        mkdir(dir, 0755);       /* the state dir's parent exists or nothing is saved */
        g->cache_path = rp__sprintf("%s/gpu-%04x-%04x.cache", dir, g->props.vendorID,
                                    g->props.deviceID);
        data = read_cache(g, &len);
    }
    free(dir);
    ci.initialDataSize = len;
    ci.pInitialData = data;
    if (vkCreatePipelineCache(g->dev, &ci, NULL, &g->cache) != VK_SUCCESS) {
        ci.initialDataSize = 0;
        ci.pInitialData = NULL;
        if (vkCreatePipelineCache(g->dev, &ci, NULL, &g->cache) != VK_SUCCESS)
            g->cache = VK_NULL_HANDLE;
    }
    free(data);
}

/* ---- the submission thread ---- */

static void *
submit_thread(void *arg)
{
    rp_gpu *g = arg;

    pthread_mutex_lock(&g->sub_lock);
    for (;;) {
        rp__gpu_batch *b;
        while (g->sub_head == NULL && !g->stopping)
            pthread_cond_wait(&g->sub_cond, &g->sub_lock);
        if ((b = g->sub_head) == NULL)
            break;
        g->sub_head = b->next;
        if (g->sub_head == NULL)
            g->sub_tail = &g->sub_head;
        pthread_mutex_unlock(&g->sub_lock);

        VkResult r;
        if (take_fault(RP__GPU_FAULT_LOST)) {
            r = VK_ERROR_DEVICE_LOST;
        } else {
            VkTimelineSemaphoreSubmitInfo ts = {
                .sType = VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO,
                .signalSemaphoreValueCount = 1,
                .pSignalSemaphoreValues = &b->value,
            };
            VkSubmitInfo si = {
                .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                .pNext = &ts,
                .commandBufferCount = 1,
                .pCommandBuffers = &b->cb,
                .signalSemaphoreCount = 1,
                .pSignalSemaphores = &g->timeline,
            };
            r = vkQueueSubmit(g->queue, 1, &si, VK_NULL_HANDLE);
        }

        pthread_mutex_lock(&g->sub_lock);
        b->submit_result = r;
        b->submitted = true;
        if (r == VK_ERROR_DEVICE_LOST)
            mark_unusable(g, "the device was lost (VK_ERROR_DEVICE_LOST)");
        pthread_cond_broadcast(&g->sub_cond);
    }
    pthread_mutex_unlock(&g->sub_lock);
    return NULL;
}

/* ---- open and close ---- */

rp_status
rp__gpu_open(int device_index, const char *cache_dir, rp_gpu **out, char **why)
{
    rp_gpu *g;
    rp_status status;
    VkResult r;
    int family = -1;
    float prio = 1.0f;

    if (why != NULL)
        *why = NULL;
    if (out == NULL || device_index < -1) {
        rp__gpu_why(why, "bad device index %d", device_index);
        return RP_ERR_INVALID;
    }
    *out = NULL;
    g = rp_xcalloc(1, sizeof *g);
    pthread_mutex_init(&g->lock, NULL);
    pthread_mutex_init(&g->sub_lock, NULL);
    pthread_mutex_init(&g->pipe_lock, NULL);
    pthread_cond_init(&g->sub_cond, NULL);
    g->sub_tail = &g->sub_head;

    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "repartir",
        .applicationVersion = 1,
        .pEngineName = "repartir",
        .apiVersion = VK_API_VERSION_1_2,
    };
    VkInstanceCreateInfo ici = { .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                 .pApplicationInfo = &app };
    if ((r = vkCreateInstance(&ici, NULL, &g->instance)) != VK_SUCCESS) {
        g->instance = VK_NULL_HANDLE;
        rp__gpu_why(why, "no Vulkan driver: vkCreateInstance: %s", rp__gpu_vk_text(r));
        status = RP_ERR_NO_DEVICE;
        goto fail;
    }
    if ((status = choose(g->instance, device_index, &g->phys, &family, why)) != RP_OK)
        goto fail;
    g->family = (uint32_t)family;
    vkGetPhysicalDeviceProperties(g->phys, &g->props);
    choose_memory(g);
    find_capacity(g);

    VkPhysicalDeviceMaintenance3Properties m3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES
    };
    VkPhysicalDeviceProperties2 p2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                       .pNext = &m3 };
    vkGetPhysicalDeviceProperties2(g->phys, &p2);
    g->max_alloc = m3.maxMemoryAllocationSize ? m3.maxMemoryAllocationSize : g->heap_bytes;
    if (g->max_alloc > g->heap_bytes)
        g->max_alloc = g->heap_bytes;

    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
        .timelineSemaphore = VK_TRUE,
    };
    VkDeviceQueueCreateInfo qci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = g->family,
        .queueCount = 1,
        .pQueuePriorities = &prio,
    };
    VkDeviceCreateInfo dci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &f12,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &qci,
    };
    if ((r = vkCreateDevice(g->phys, &dci, NULL, &g->dev)) != VK_SUCCESS) {
        g->dev = VK_NULL_HANDLE;
        rp__gpu_why(why, "%s: vkCreateDevice: %s", g->props.deviceName, rp__gpu_vk_text(r));
        status = rp__gpu_vk_status(r);
        goto fail;
    }
    vkGetDeviceQueue(g->dev, g->family, 0, &g->queue);

    {
        uint32_t n = 0;
        VkQueueFamilyProperties *fam;
        vkGetPhysicalDeviceQueueFamilyProperties(g->phys, &n, NULL);
        fam = rp_xcalloc(n, sizeof *fam);
        vkGetPhysicalDeviceQueueFamilyProperties(g->phys, &n, fam);
        if (fam[g->family].timestampValidBits != 0)
            g->ts_period = g->props.limits.timestampPeriod;
        free(fam);
    }

    VkSemaphoreTypeCreateInfo sti = { .sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO,
                                      .semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE };
    VkSemaphoreCreateInfo sci = { .sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO,
                                  .pNext = &sti };
    if ((r = vkCreateSemaphore(g->dev, &sci, NULL, &g->timeline)) != VK_SUCCESS) {
        rp__gpu_why(why, "timeline semaphore: %s", rp__gpu_vk_text(r));
        status = rp__gpu_vk_status(r);
        goto fail;
    }
    open_cache(g, cache_dir);
    if (pthread_create(&g->thread, NULL, submit_thread, g) != 0) {
        rp__gpu_why(why, "cannot start the submission thread");
        status = RP_ERR_SYSTEM;
        goto fail;
    }
    g->thread_started = true;
    if (why != NULL) {
        /* devices passed over on the way leave no reason behind */
        free(*why);
        *why = NULL;
    }
    *out = g;
    return RP_OK;

fail:
    rp_gpu_close(g);
    return status;
}

rp_status
rp_gpu_open_why(int device_index, rp_gpu **out, char **why)
{
    return rp__gpu_open(device_index, NULL, out, why);
}

rp_status
rp_gpu_open(int device_index, rp_gpu **out)
{
    return rp__gpu_open(device_index, NULL, out, NULL);
}

static void buf_destroy(rp_gpu *g, rp__gpu_buf *b);
static void batch_destroy(rp__gpu_batch *b);

void
rp_gpu_close(rp_gpu *g)
{
    if (g == NULL)
        return;
    if (g->thread_started) {
        pthread_mutex_lock(&g->sub_lock);
        g->stopping = true;
        pthread_cond_broadcast(&g->sub_cond);
        pthread_mutex_unlock(&g->sub_lock);
        pthread_join(g->thread, NULL);
    }
    if (g->hung) {
        /* A shader may still run: the device, its memory and the batch it
         * runs cannot be freed. They are forgotten, not freed. */
        free(g->unusable);
        free(g->cache_path);
        pthread_cond_destroy(&g->sub_cond);
        pthread_mutex_destroy(&g->sub_lock);
        pthread_mutex_destroy(&g->lock);
        free(g);
        return;
    }
    if (g->dev != VK_NULL_HANDLE) {
        /* Only here, on close, does anything wait for the whole device. */
        vkDeviceWaitIdle(g->dev);
        if (g->unusable == NULL)
            save_cache(g);
        for (int i = 0; i < RP__GPU_BUILTINS; i++)
            rp__gpu_pipe_free(g, g->builtin[i]);
        while (g->free_batches != NULL) {
            rp__gpu_batch *b = g->free_batches;
            g->free_batches = b->next;
            batch_destroy(b);
        }
        for (int k = 0; k < BUF_KINDS; k++)
            for (int c = 0; c < NCLASS; c++)
                while (g->free_bufs[k][c] != NULL) {
                    rp__gpu_buf *b = g->free_bufs[k][c];
                    g->free_bufs[k][c] = b->next;
                    buf_destroy(g, b);
                }
        if (g->cache != VK_NULL_HANDLE)
            vkDestroyPipelineCache(g->dev, g->cache, NULL);
        if (g->timeline != VK_NULL_HANDLE)
            vkDestroySemaphore(g->dev, g->timeline, NULL);
        vkDestroyDevice(g->dev, NULL);
    }
    if (g->instance != VK_NULL_HANDLE)
        vkDestroyInstance(g->instance, NULL);
    free(g->unusable);
    free(g->cache_path);
    pthread_cond_destroy(&g->sub_cond);
    pthread_mutex_destroy(&g->sub_lock);
    pthread_mutex_destroy(&g->pipe_lock);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

const char *
rp_gpu_device_name(const rp_gpu *g)
{
    return g == NULL ? "none" : g->props.deviceName;
}

unsigned
rp_gpu_capacity(const rp_gpu *g)
{
    return g == NULL ? 0 : g->capacity;
}

const char *
rp_gpu_capacity_source(const rp_gpu *g)
{
    return g == NULL ? "none" : g->capacity_source;
}

const VkPhysicalDeviceProperties *
rp__gpu_props(const rp_gpu *g)
{
    return &g->props;
}

uint64_t
rp__gpu_max_buffer(const rp_gpu *g)
{
    return g->max_alloc;
}

VkInstance
rp__gpu_instance(const rp_gpu *g)
{
    return g->instance;
}

VkPhysicalDevice
rp__gpu_physical(const rp_gpu *g)
{
    return g->phys;
}

bool
rp__gpu_is_cpu(const rp_gpu *g)
{
    return g->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
}

rp_status
rp__gpu_builtin(rp_gpu *g, unsigned id, const uint32_t *code, size_t code_bytes, unsigned nbuf,
                unsigned push_bytes, rp__gpu_pipe **out, char **why)
{
    rp_status s = RP_OK;

    if (id >= RP__GPU_BUILTINS)
        return RP_ERR_INVALID;
    pthread_mutex_lock(&g->pipe_lock);
    if (g->builtin[id] == NULL)
        s = rp__gpu_pipe_new(g, code, code_bytes, nbuf, push_bytes, &g->builtin[id], why);
    *out = g->builtin[id];
    pthread_mutex_unlock(&g->pipe_lock);
    return s;
}

/* ---- buffers ---- */

static unsigned
size_class(size_t bytes)
{
    unsigned c = MIN_CLASS;

    while (c < NCLASS - 1 && ((size_t)1 << c) < bytes)
        c++;
    return c;
}

static void
buf_destroy(rp_gpu *g, rp__gpu_buf *b)
{
    if (b->map != NULL)
        vkUnmapMemory(g->dev, b->mem);
    vkDestroyBuffer(g->dev, b->buf, NULL);
    vkFreeMemory(g->dev, b->mem, NULL);
    free(b);
}

/* Frees every pooled buffer (before retrying a failed allocation). */
static void
pool_drain(rp_gpu *g)
{
    pthread_mutex_lock(&g->lock);
    for (int k = 0; k < BUF_KINDS; k++)
        for (int c = 0; c < NCLASS; c++)
            while (g->free_bufs[k][c] != NULL) {
                rp__gpu_buf *b = g->free_bufs[k][c];
                g->free_bufs[k][c] = b->next;
                g->pooled_bytes -= b->size;
                buf_destroy(g, b);
            }
    pthread_mutex_unlock(&g->lock);
}

/* A buffer of size class cls, or of exactly `exact` bytes (not 0) where
 * the class would pass the device's allocation limit: such a buffer is
 * not pooled (cls NCLASS - 1). */
static VkResult
buf_create(rp_gpu *g, enum buf_kind kind, unsigned cls, size_t exact, rp__gpu_buf **out)
{
    rp__gpu_buf *b = rp_xcalloc(1, sizeof *b);
    VkMemoryRequirements req;
    VkResult r;

    b->size = exact != 0 ? (exact + 255) & ~(VkDeviceSize)255 : (VkDeviceSize)1 << cls;
    b->cls = exact != 0 ? NCLASS - 1 : cls;
    b->kind = kind;
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = b->size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    if ((r = vkCreateBuffer(g->dev, &bci, NULL, &b->buf)) != VK_SUCCESS) {
        free(b);
        return r;
    }
    vkGetBufferMemoryRequirements(g->dev, b->buf, &req);
    uint32_t type = g->type_index[kind];
    if (!(req.memoryTypeBits & (1u << type))) {
        /* the driver wants another type for buffers: take its first */
        for (type = 0; type < g->mem.memoryTypeCount && !(req.memoryTypeBits & (1u << type));
             type++)
            ;
    }
    VkMemoryAllocateInfo mai = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                 .allocationSize = req.size,
                                 .memoryTypeIndex = type };
    r = vkAllocateMemory(g->dev, &mai, NULL, &b->mem);
    if (r != VK_SUCCESS) {
        vkDestroyBuffer(g->dev, b->buf, NULL);
        free(b);
        return r;
    }
    if ((r = vkBindBufferMemory(g->dev, b->buf, b->mem, 0)) != VK_SUCCESS ||
        ((g->mem.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
         (r = vkMapMemory(g->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map)) != VK_SUCCESS)) {
        b->map = NULL;
        buf_destroy(g, b);
        return r;
    }
    *out = b;
    return VK_SUCCESS;
}

static rp_status
buf_get(rp_gpu *g, enum buf_kind kind, size_t bytes, rp__gpu_buf **out, char **why)
{
    unsigned cls = size_class(bytes ? bytes : 1);
    size_t exact = 0;
    rp__gpu_buf *b = NULL;
    VkResult r;

    *out = NULL;
    if (bytes > g->max_alloc || cls >= NCLASS - 1) {
        rp__gpu_why(why, "out of device memory: a buffer of %.1f MiB is more than %s allows "
                    "(%llu MiB)", bytes / 1048576.0, g->props.deviceName,
                    (unsigned long long)(g->max_alloc >> 20));
        return RP_ERR_NO_MEMORY;
    }
    if (((uint64_t)1 << cls) > g->max_alloc)
        exact = bytes;              /* the class would pass the limit */
    pthread_mutex_lock(&g->lock);
    if (exact == 0 && (b = g->free_bufs[kind][cls]) != NULL) {
        g->free_bufs[kind][cls] = b->next;
        g->pooled_bytes -= b->size;
    }
    pthread_mutex_unlock(&g->lock);
    if (b != NULL) {
        *out = b;
        return RP_OK;
    }
    /* an injected shortage fails the retry too, as a real one would */
    if (kind == BUF_DEVICE && take_fault(RP__GPU_FAULT_OOM)) {
        r = VK_ERROR_OUT_OF_DEVICE_MEMORY;
    } else {
        r = buf_create(g, kind, cls, exact, &b);
        if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) {
            pool_drain(g);
            r = buf_create(g, kind, cls, exact, &b);
        }
    }
    if (r != VK_SUCCESS) {
        rp__gpu_why(why, "%s: a buffer of %.1f MiB: %s", g->props.deviceName,
                    (exact ? exact : (double)((uint64_t)1 << cls)) / 1048576.0,
                    rp__gpu_vk_text(r));
        return r == VK_ERROR_OUT_OF_HOST_MEMORY ? RP_ERR_NO_MEMORY : rp__gpu_vk_status(r);
    }
    *out = b;
    return RP_OK;
}

rp_status
rp__gpu_buf_get(rp_gpu *g, size_t bytes, rp__gpu_buf **out, char **why)
{
    rp_status s = check_usable(g, why);

    return s != RP_OK ? s : buf_get(g, BUF_DEVICE, bytes, out, why);
}

void
rp__gpu_buf_put(rp_gpu *g, rp__gpu_buf *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    if (b->cls != NCLASS - 1 && g->pooled_bytes + b->size <= POOL_KEEP) {
        b->next = g->free_bufs[b->kind][b->cls];
        g->free_bufs[b->kind][b->cls] = b;
        g->pooled_bytes += b->size;
        b = NULL;
    }
    pthread_mutex_unlock(&g->lock);
    if (b != NULL)
        buf_destroy(g, b);
}

VkBuffer
rp__gpu_buf_handle(const rp__gpu_buf *b)
{
    return b->buf;
}

/* ---- pipelines ---- */

rp_status
rp__gpu_pipe_new(rp_gpu *g, const uint32_t *code, size_t code_bytes, unsigned nbuf,
                 unsigned push_bytes, rp__gpu_pipe **out, char **why)
{
    rp__gpu_pipe *p = rp_xcalloc(1, sizeof *p);
    VkDescriptorSetLayoutBinding bind[RP_GPU_MAX_BUFFERS];
    VkResult r;

    *out = NULL;
    if (nbuf > RP_GPU_MAX_BUFFERS) {
        free(p);
        rp__gpu_why(why, "%u buffers; at most %d", nbuf, RP_GPU_MAX_BUFFERS);
        return RP_ERR_INVALID;
    }
    p->nbuf = nbuf;
    p->push_bytes = push_bytes;
    for (unsigned i = 0; i < nbuf; i++)
        bind[i] = (VkDescriptorSetLayoutBinding){
            .binding = i,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo dl = { .sType =
                                               VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                           .bindingCount = nbuf,
                                           .pBindings = bind };
    VkPushConstantRange pr = { .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = push_bytes };
    VkShaderModuleCreateInfo smi = { .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                     .codeSize = code_bytes,
                                     .pCode = code };
    if ((r = vkCreateDescriptorSetLayout(g->dev, &dl, NULL, &p->set_layout)) != VK_SUCCESS ||
        (r = vkCreateShaderModule(g->dev, &smi, NULL, &p->module)) != VK_SUCCESS)
        goto fail;
    VkPipelineLayoutCreateInfo pli = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &p->set_layout,
        .pushConstantRangeCount = push_bytes ? 1 : 0,
        .pPushConstantRanges = &pr,
    };
    if ((r = vkCreatePipelineLayout(g->dev, &pli, NULL, &p->layout)) != VK_SUCCESS)
        goto fail;
    VkComputePipelineCreateInfo cpi = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                   .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                   .module = p->module,
                   .pName = "main" },
        .layout = p->layout,
    };
    if ((r = vkCreateComputePipelines(g->dev, g->cache, 1, &cpi, NULL, &p->pipeline)) !=
        VK_SUCCESS)
        goto fail;
    *out = p;
    return RP_OK;

fail:
    rp__gpu_why(why, "%s: building the pipeline: %s", g->props.deviceName, rp__gpu_vk_text(r));
    p->pipeline = VK_NULL_HANDLE;
    rp__gpu_pipe_free(g, p);
    return rp__gpu_vk_status(r) == RP_ERR_NO_DEVICE ? RP_ERR_INVALID : rp__gpu_vk_status(r);
}

void
rp__gpu_pipe_free(rp_gpu *g, rp__gpu_pipe *p)
{
    if (p == NULL)
        return;
    if (p->pipeline != VK_NULL_HANDLE)
        vkDestroyPipeline(g->dev, p->pipeline, NULL);
    if (p->layout != VK_NULL_HANDLE)
        vkDestroyPipelineLayout(g->dev, p->layout, NULL);
    if (p->module != VK_NULL_HANDLE)
        vkDestroyShaderModule(g->dev, p->module, NULL);
    if (p->set_layout != VK_NULL_HANDLE)
        vkDestroyDescriptorSetLayout(g->dev, p->set_layout, NULL);
    free(p);
}

/* ---- batches ---- */

static void
batch_destroy(rp__gpu_batch *b)
{
    rp_gpu *g = b->g;

    if (b->queries != VK_NULL_HANDLE)
        vkDestroyQueryPool(g->dev, b->queries, NULL);
    if (b->desc_pool != VK_NULL_HANDLE)
        vkDestroyDescriptorPool(g->dev, b->desc_pool, NULL);
    if (b->cmd_pool != VK_NULL_HANDLE)
        vkDestroyCommandPool(g->dev, b->cmd_pool, NULL);
    free(b->staging);
    free(b->downloads);
    free(b);
}

static VkResult
batch_create(rp_gpu *g, rp__gpu_batch **out)
{
    rp__gpu_batch *b = rp_xcalloc(1, sizeof *b);
    VkResult r;

    b->g = g;
    VkCommandPoolCreateInfo cpi = { .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                    .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
                                    .queueFamilyIndex = g->family };
    VkDescriptorPoolSize ps = { .type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                .descriptorCount = BATCH_SETS * RP_GPU_MAX_BUFFERS };
    VkDescriptorPoolCreateInfo dpi = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                       .maxSets = BATCH_SETS,
                                       .poolSizeCount = 1,
                                       .pPoolSizes = &ps };
    VkQueryPoolCreateInfo qpi = { .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                  .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                  .queryCount = 2 };
    if ((r = vkCreateCommandPool(g->dev, &cpi, NULL, &b->cmd_pool)) != VK_SUCCESS ||
        (r = vkCreateDescriptorPool(g->dev, &dpi, NULL, &b->desc_pool)) != VK_SUCCESS)
        goto fail;
    if (g->ts_period > 0 && vkCreateQueryPool(g->dev, &qpi, NULL, &b->queries) != VK_SUCCESS)
        b->queries = VK_NULL_HANDLE;
    VkCommandBufferAllocateInfo cai = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                        .commandPool = b->cmd_pool,
                                        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                        .commandBufferCount = 1 };
    if ((r = vkAllocateCommandBuffers(g->dev, &cai, &b->cb)) != VK_SUCCESS)
        goto fail;
    *out = b;
    return VK_SUCCESS;
fail:
    batch_destroy(b);
    return r;
}

/* Releases what the batch held and keeps it for reuse (or frees it). */
static void
batch_release(rp__gpu_batch *b)
{
    rp_gpu *g = b->g;

    for (unsigned i = 0; i < b->nstaging; i++)
        rp__gpu_buf_put(g, b->staging[i]);
    b->nstaging = b->ndownloads = b->nsets = b->nstamps = 0;
    b->submitted = false;
    b->recording = false;
    if (vkResetCommandPool(g->dev, b->cmd_pool, 0) != VK_SUCCESS ||
        vkResetDescriptorPool(g->dev, b->desc_pool, 0) != VK_SUCCESS) {
        batch_destroy(b);
        return;
    }
    pthread_mutex_lock(&g->lock);
    if (g->nfree_batches < BATCH_KEEP) {
        b->next = g->free_batches;
        g->free_batches = b;
        g->nfree_batches++;
        b = NULL;
    }
    pthread_mutex_unlock(&g->lock);
    if (b != NULL)
        batch_destroy(b);
}

rp_status
rp__gpu_batch_begin(rp_gpu *g, rp__gpu_batch **out, char **why)
{
    rp__gpu_batch *b;
    rp_status s;
    VkResult r;

    *out = NULL;
    if ((s = check_usable(g, why)) != RP_OK)
        return s;
    pthread_mutex_lock(&g->lock);
    if ((b = g->free_batches) != NULL) {
        g->free_batches = b->next;
        g->nfree_batches--;
    }
    pthread_mutex_unlock(&g->lock);
    if (b == NULL && (r = batch_create(g, &b)) != VK_SUCCESS) {
        rp__gpu_why(why, "%s: a command buffer: %s", g->props.deviceName, rp__gpu_vk_text(r));
        return rp__gpu_vk_status(r);
    }
    VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT };
    if ((r = vkBeginCommandBuffer(b->cb, &bi)) != VK_SUCCESS) {
        batch_destroy(b);
        rp__gpu_why(why, "%s: vkBeginCommandBuffer: %s", g->props.deviceName,
                    rp__gpu_vk_text(r));
        return rp__gpu_vk_status(r);
    }
    b->recording = true;
    if (b->queries != VK_NULL_HANDLE)
        vkCmdResetQueryPool(b->cb, b->queries, 0, 2);
    *out = b;
    return RP_OK;
}

/* Everything before, in every stage, happens before everything after. */
static void
barrier(rp__gpu_batch *b)
{
    VkMemoryBarrier mb = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                           .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT |
                                            VK_ACCESS_TRANSFER_WRITE_BIT,
                           .dstAccessMask = VK_ACCESS_SHADER_READ_BIT |
                                            VK_ACCESS_SHADER_WRITE_BIT |
                                            VK_ACCESS_TRANSFER_READ_BIT |
                                            VK_ACCESS_TRANSFER_WRITE_BIT };
    vkCmdPipelineBarrier(b->cb,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         0, 1, &mb, 0, NULL, 0, NULL);
}

static void
hold_staging(rp__gpu_batch *b, rp__gpu_buf *s)
{
    if (b->nstaging == b->staging_cap) {
        b->staging_cap = b->staging_cap ? 2 * b->staging_cap : 8;
        b->staging = rp_xrealloc(b->staging, b->staging_cap * sizeof *b->staging);
    }
    b->staging[b->nstaging++] = s;
}

rp_status
rp__gpu_batch_upload(rp__gpu_batch *b, rp__gpu_buf *dst, size_t offset, const void *src,
                     size_t bytes, char **why)
{
    rp__gpu_buf *s;
    rp_status st;

    if (bytes == 0)
        return RP_OK;
    if (dst->map != NULL) {
        /* unified memory: earlier steps of this batch do not touch it yet
         * (callers upload first), so a host write now is in order */
        memcpy((char *)dst->map + offset, src, bytes);
        return RP_OK;
    }
    if ((st = buf_get(b->g, BUF_UPLOAD, bytes, &s, why)) != RP_OK)
        return st;
    memcpy(s->map, src, bytes);
    hold_staging(b, s);
    VkBufferCopy c = { .srcOffset = 0, .dstOffset = offset, .size = bytes };
    barrier(b);
    vkCmdCopyBuffer(b->cb, s->buf, dst->buf, 1, &c);
    return RP_OK;
}

void
rp__gpu_batch_zero(rp__gpu_batch *b, rp__gpu_buf *dst, size_t bytes)
{
    if (bytes == 0)
        return;
    barrier(b);
    vkCmdFillBuffer(b->cb, dst->buf, 0, (bytes + 3) & ~(size_t)3, 0);
}

rp_status
rp__gpu_batch_dispatch(rp__gpu_batch *b, rp__gpu_pipe *p, rp__gpu_buf *const *bufs,
                       const size_t *sizes, const void *push, unsigned gx, unsigned gy,
                       unsigned gz, char **why)
{
    rp_gpu *g = b->g;
    VkDescriptorSet set;
    VkDescriptorBufferInfo info[RP_GPU_MAX_BUFFERS];
    VkWriteDescriptorSet w[RP_GPU_MAX_BUFFERS];
    const uint32_t *lim = g->props.limits.maxComputeWorkGroupCount;
    VkResult r;

    if (gx == 0 || gy == 0 || gz == 0 || gx > lim[0] || gy > lim[1] || gz > lim[2]) {
        rp__gpu_why(why, "%u x %u x %u groups: %s takes 1..%u x 1..%u x 1..%u", gx, gy, gz,
                    g->props.deviceName, lim[0], lim[1], lim[2]);
        return RP_ERR_INVALID;
    }
    if (b->nsets == BATCH_SETS) {
        rp__gpu_why(why, "more than %d dispatches in one batch", BATCH_SETS);
        return RP_ERR_INVALID;
    }
    VkDescriptorSetAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                       .descriptorPool = b->desc_pool,
                                       .descriptorSetCount = 1,
                                       .pSetLayouts = &p->set_layout };
    if ((r = vkAllocateDescriptorSets(g->dev, &ai, &set)) != VK_SUCCESS) {
        rp__gpu_why(why, "descriptor set: %s", rp__gpu_vk_text(r));
        return rp__gpu_vk_status(r);
    }
    b->nsets++;
    for (unsigned i = 0; i < p->nbuf; i++) {
        info[i] = (VkDescriptorBufferInfo){ .buffer = bufs[i]->buf, .offset = 0,
                                            .range = sizes != NULL && sizes[i] != 0
                                                         ? (sizes[i] + 3) & ~(size_t)3
                                                         : VK_WHOLE_SIZE };
        if (info[i].range != VK_WHOLE_SIZE && info[i].range > bufs[i]->size)
            info[i].range = bufs[i]->size;
        w[i] = (VkWriteDescriptorSet){ .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                       .dstSet = set,
                                       .dstBinding = i,
                                       .descriptorCount = 1,
                                       .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                       .pBufferInfo = &info[i] };
    }
    vkUpdateDescriptorSets(g->dev, p->nbuf, w, 0, NULL);
    barrier(b);
    vkCmdBindPipeline(b->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
    vkCmdBindDescriptorSets(b->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1, &set, 0,
                            NULL);
    if (p->push_bytes != 0)
        vkCmdPushConstants(b->cb, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, p->push_bytes,
                           push);
    vkCmdDispatch(b->cb, gx, gy, gz);
    return RP_OK;
}

rp_status
rp__gpu_batch_download(rp__gpu_batch *b, rp__gpu_buf *src, size_t offset, void *dst,
                       size_t bytes, char **why)
{
    struct download d = { .src = src, .offset = offset, .bytes = bytes, .dst = dst };
    rp_status st;

    if (bytes == 0)
        return RP_OK;
    if (src->map == NULL) {
        if ((st = buf_get(b->g, BUF_READBACK, bytes, &d.staging, why)) != RP_OK)
            return st;
        hold_staging(b, d.staging);
        VkBufferCopy c = { .srcOffset = offset, .dstOffset = 0, .size = bytes };
        barrier(b);
        vkCmdCopyBuffer(b->cb, src->buf, d.staging->buf, 1, &c);
    }
    if (b->ndownloads == b->downloads_cap) {
        b->downloads_cap = b->downloads_cap ? 2 * b->downloads_cap : 4;
        b->downloads = rp_xrealloc(b->downloads, b->downloads_cap * sizeof *b->downloads);
    }
    b->downloads[b->ndownloads++] = d;
    return RP_OK;
}

void
rp__gpu_batch_timestamp(rp__gpu_batch *b)
{
    if (b->queries == VK_NULL_HANDLE || b->nstamps >= 2)
        return;
    barrier(b);
    vkCmdWriteTimestamp(b->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, b->queries, b->nstamps++);
}

void
rp__gpu_batch_abort(rp__gpu_batch *b)
{
    if (b == NULL)
        return;
    if (b->recording)
        vkEndCommandBuffer(b->cb);
    batch_release(b);
}

rp_status
rp__gpu_batch_run(rp__gpu_batch *b, unsigned timeout_ms, uint64_t *gpu_ns, char **why)
{
    rp_gpu *g = b->g;
    VkResult r;
    rp_status st;

    if (gpu_ns != NULL)
        *gpu_ns = 0;
    VkMemoryBarrier host = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                             .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT |
                                              VK_ACCESS_TRANSFER_WRITE_BIT,
                             .dstAccessMask = VK_ACCESS_HOST_READ_BIT };
    vkCmdPipelineBarrier(b->cb,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &host, 0, NULL, 0, NULL);
    b->recording = false;
    if ((r = vkEndCommandBuffer(b->cb)) != VK_SUCCESS) {
        rp__gpu_why(why, "%s: vkEndCommandBuffer: %s", g->props.deviceName, rp__gpu_vk_text(r));
        batch_release(b);
        return rp__gpu_vk_status(r);
    }

    pthread_mutex_lock(&g->sub_lock);
    if (g->unusable != NULL) {
        rp__gpu_why(why, "GPU unavailable: %s", g->unusable);
        pthread_mutex_unlock(&g->sub_lock);
        batch_release(b);
        return RP_ERR_NO_DEVICE;
    }
    b->value = ++g->next_value;
    b->next = NULL;
    *g->sub_tail = b;
    g->sub_tail = &b->next;
    pthread_cond_broadcast(&g->sub_cond);
    while (!b->submitted)
        pthread_cond_wait(&g->sub_cond, &g->sub_lock);
    r = b->submit_result;
    pthread_mutex_unlock(&g->sub_lock);
    if (r != VK_SUCCESS) {
        rp__gpu_why(why, "%s: vkQueueSubmit: %s", g->props.deviceName, rp__gpu_vk_text(r));
        if (r == VK_ERROR_DEVICE_LOST) {
            /* the command buffer never reached the device: free to reuse */
            batch_release(b);
            return RP_ERR_NO_DEVICE;
        }
        batch_release(b);
        return rp__gpu_vk_status(r);
    }

    VkSemaphoreWaitInfo wi = { .sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO,
                               .semaphoreCount = 1,
                               .pSemaphores = &g->timeline,
                               .pValues = &b->value };
    r = vkWaitSemaphores(g->dev, &wi,
                         timeout_ms == 0 ? UINT64_MAX : (uint64_t)timeout_ms * 1000000u);
    if (r == VK_TIMEOUT) {
        pthread_mutex_lock(&g->sub_lock);
        g->hung = true;
        char reason[160];
        snprintf(reason, sizeof reason, "a shader ran past its %u ms timeout; the device is "
                 "left to it", timeout_ms);
        mark_unusable(g, reason);
        pthread_mutex_unlock(&g->sub_lock);
        rp__gpu_why(why, "the shader did not finish within %u ms (GPU now unavailable)",
                    timeout_ms);
        return RP_ERR_TIMEOUT;      /* b stays with the device: never reused */
    }
    if (r != VK_SUCCESS) {
        pthread_mutex_lock(&g->sub_lock);
        mark_unusable(g, r == VK_ERROR_DEVICE_LOST ? "the device was lost (VK_ERROR_DEVICE_LOST)"
                                                   : rp__gpu_vk_text(r));
        g->hung = true;         /* whether it still runs is unknown */
        pthread_mutex_unlock(&g->sub_lock);
        rp__gpu_why(why, "%s: waiting for the device: %s", g->props.deviceName,
                    rp__gpu_vk_text(r));
        return RP_ERR_NO_DEVICE;
    }
    for (unsigned i = 0; i < b->ndownloads; i++) {
        const struct download *d = &b->downloads[i];
        const char *from = d->staging != NULL ? d->staging->map
                                              : (const char *)d->src->map + d->offset;
        memcpy(d->dst, from, d->bytes);
    }
    if (gpu_ns != NULL && b->nstamps == 2) {
        uint64_t ts[2];
        if (vkGetQueryPoolResults(g->dev, b->queries, 0, 2, sizeof ts, ts, sizeof ts[0],
                                  VK_QUERY_RESULT_64_BIT) == VK_SUCCESS && ts[1] >= ts[0])
            *gpu_ns = (uint64_t)((double)(ts[1] - ts[0]) * g->ts_period);
    }
    st = RP_OK;
    batch_release(b);
    return st;
}
