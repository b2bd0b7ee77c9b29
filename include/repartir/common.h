/*
 * repartir/common.h -- status codes, version, and the small enums every
 * module shares. Included by <repartir.h>; not meant to be included alone.
 */
#ifndef REPARTIR_COMMON_H
#define REPARTIR_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RP_API __attribute__((visibility("default")))
#else
#define RP_API
#endif

/*
 * Every status the library returns. One list generates the enum and
 * rp_strerror(), so the two can never drift. RP_OK is 0; every error is
 * non-zero.
 */
#define RP_STATUS_MAP(X)                                                      \
    X(OK, "success")                                                          \
    X(ERR_INVALID, "invalid argument")                                        \
    X(ERR_SHUTDOWN, "the pool is shutting down")                              \
    X(ERR_SYSTEM, "the operating system refused a resource (threads, memory "  \
                  "maps or limits)")                                          \
    X(ERR_UNSUPPORTED, "not supported by this build")                         \
    X(ERR_TIMEOUT, "timed out")                                               \
    X(ERR_NOT_FOUND, "not found")                                             \
    X(ERR_IO, "input/output error (disk full, read-only, or failing)")        \
    X(ERR_CORRUPT, "stored data is damaged")                                 \
    X(ERR_BUSY, "in use by another process")                                 \
    X(ERR_NO_DEVICE, "no usable GPU (no Vulkan device or compute queue, or "   \
                     "the device was lost)")                                  \
    X(ERR_NO_MEMORY, "out of memory on the device")

typedef enum rp_status {
#define RP__STATUS_ENUM(name, text) RP_##name,
    RP_STATUS_MAP(RP__STATUS_ENUM)
#undef RP__STATUS_ENUM
    RP__STATUS_COUNT
} rp_status;

/* A short, static, human description of s. Unknown values get
 * "unknown status". Never NULL. Thread-safe. */
RP_API const char *rp_strerror(rp_status s);

/* The library version, "MAJOR.MINOR.PATCH". Static storage. */
RP_API const char *rp_version(void);

typedef enum {
    RP_BACKEND_ANY,
    RP_BACKEND_CPU,
    RP_BACKEND_GPU,
    RP_BACKEND_REMOTE
} rp_backend;

/* Top-level work runs CRITICAL before HIGH before NORMAL before LOW, FIFO
 * within one priority. */
typedef enum {
    RP_PRIORITY_LOW,
    RP_PRIORITY_NORMAL,
    RP_PRIORITY_HIGH,
    RP_PRIORITY_CRITICAL
} rp_priority;

#define RP_PRIORITY_COUNT 4

#ifdef __cplusplus
}
#endif

#endif /* REPARTIR_COMMON_H */
