/*
 * spirv.c -- user SPIR-V compute shaders: checked, reflected, run once.
 *
 * Drivers are not required to check SPIR-V, and some crash on a bad
 * module, so every module first goes through the Khronos validator
 * (SPIRV-Tools' spvValidate, for Vulkan 1.2). A walk over its
 * instructions then finds what binding the buffers needs: a GLCompute
 * entry point, and the storage buffers of descriptor set 0. The inputs
 * are bindings 0..ninputs-1 and the outputs the next noutputs; a module
 * that binds anything else (other sets, images, push constants) is
 * refused before the driver sees it.
 */
#include "engine/gpu/gpu.h"

#include <spirv-tools/libspirv.h>
#include <stdlib.h>
#include <string.h>

#include "engine/alloc.h"

enum {
    SPV_MAGIC = 0x07230203,
    OP_ENTRY_POINT = 15,
    OP_EXECUTION_MODE = 16,
    OP_TYPE_BOOL = 20,
    OP_TYPE_INT = 21,
    OP_TYPE_FLOAT = 22,
    OP_TYPE_VECTOR = 23,
    OP_TYPE_MATRIX = 24,
    OP_TYPE_ARRAY = 28,
    OP_TYPE_RUNTIME_ARRAY = 29,
    OP_TYPE_STRUCT = 30,
    OP_TYPE_POINTER = 32,
    OP_CONSTANT = 43,
    OP_VARIABLE = 59,
    OP_DECORATE = 71,
    MODEL_GLCOMPUTE = 5,
    MODE_LOCAL_SIZE = 17,
    DEC_BUFFER_BLOCK = 3,
    DEC_BINDING = 33,
    DEC_SET = 34,
    CLASS_UNIFORM_CONSTANT = 0,
    CLASS_UNIFORM = 2,
    CLASS_WORKGROUP = 4,
    CLASS_PUSH_CONSTANT = 9,
    CLASS_STORAGE_BUFFER = 12,
};

struct reflect {
    uint64_t shared_bytes;          /* Workgroup variables, without padding */
    bool compute;
    bool other_name;                /* a GLCompute entry point not called main */
    unsigned local[3];
    unsigned nbind;
    int binding_max;
};

/* The validator's verdict; *why gets its message. */
static rp_status
validate(const uint32_t *code, size_t words, char **why)
{
    spv_context ctx = spvContextCreate(SPV_ENV_VULKAN_1_2);
    spv_const_binary_t bin = { code, words };
    spv_diagnostic diag = NULL;
    spv_result_t r;

    if (ctx == NULL) {
        rp__gpu_why(why, "the SPIR-V validator could not start");
        return RP_ERR_SYSTEM;
    }
    r = spvValidate(ctx, &bin, &diag);
    if (r != SPV_SUCCESS)
        rp__gpu_why(why, "invalid SPIR-V: %s", diag != NULL && diag->error != NULL
                                                   ? diag->error : "rejected by the validator");
    spvDiagnosticDestroy(diag);
    spvContextDestroy(ctx);
    return r == SPV_SUCCESS ? RP_OK : RP_ERR_INVALID;
}

/* Reads what binding needs. The module is valid, so the walk only has to
 * stay inside it. */
static rp_status
reflect(const uint32_t *code, size_t words, struct reflect *out, char **why)
{
    uint32_t bound = code[3];
    int32_t *set, *binding;
    uint32_t *klass, *type, *pointee, *tag;
    uint64_t *size;                 /* a type's bytes, or a constant's value */
    bool *buffer_block;
    rp_status s = RP_OK;

    memset(out, 0, sizeof *out);
    out->binding_max = -1;
    if (bound == 0 || bound > (1u << 22)) {
        rp__gpu_why(why, "invalid SPIR-V: id bound %u", bound);
        return RP_ERR_INVALID;
    }
    set = rp_xmalloc(bound * sizeof *set);
    binding = rp_xmalloc(bound * sizeof *binding);
    klass = rp_xmalloc(bound * sizeof *klass);
    type = rp_xcalloc(bound, sizeof *type);
    pointee = rp_xcalloc(bound, sizeof *pointee);
    buffer_block = rp_xcalloc(bound, sizeof *buffer_block);
    size = rp_xcalloc(bound, sizeof *size);
    tag = rp_xcalloc(bound, sizeof *tag);
    memset(set, 0xff, bound * sizeof *set);
    memset(binding, 0xff, bound * sizeof *binding);
    memset(klass, 0xff, bound * sizeof *klass);
    for (size_t at = 5; at < words;) {
        uint32_t op = code[at] & 0xffff, n = code[at] >> 16;
        const uint32_t *w = &code[at];
        if (n == 0 || at + n > words)
            break;
        if (op == OP_ENTRY_POINT && n >= 4 && w[1] == MODEL_GLCOMPUTE) {
            /* the name is a nul-terminated string from w[3]; the pipeline
             * is built for "main" */
            if (memchr(&w[3], '\0', (n - 3) * 4) != NULL &&
                strcmp((const char *)&w[3], "main") == 0)
                out->compute = true;
            else
                out->other_name = true;
        }
        else if (op == OP_EXECUTION_MODE && n >= 6 && w[2] == MODE_LOCAL_SIZE) {
            out->local[0] = w[3];
            out->local[1] = w[4];
            out->local[2] = w[5];
        } else if (op == OP_DECORATE && n >= 4 && w[1] < bound) {
            if (w[2] == DEC_SET)
                set[w[1]] = (int32_t)w[3];
            else if (w[2] == DEC_BINDING)
                binding[w[1]] = (int32_t)w[3];
        } else if (op == OP_DECORATE && n >= 3 && w[1] < bound && w[2] == DEC_BUFFER_BLOCK) {
            buffer_block[w[1]] = true;
        } else if (op == OP_TYPE_POINTER && n >= 4 && w[1] < bound) {
            pointee[w[1]] = w[3] < bound ? w[3] : 0;
        } else if (op >= OP_TYPE_BOOL && op <= OP_TYPE_STRUCT && n >= 2 && w[1] < bound) {
            /* sizes for the shared memory a module declares: types come
             * before their uses, so their parts are known here */
            uint64_t bytes = 0;
            tag[w[1]] = op;
            if (op == OP_TYPE_BOOL)
                bytes = 4;
            else if ((op == OP_TYPE_INT || op == OP_TYPE_FLOAT) && n >= 3)
                bytes = w[2] / 8;
            else if ((op == OP_TYPE_VECTOR || op == OP_TYPE_MATRIX) && n >= 4 && w[2] < bound)
                bytes = size[w[2]] * w[3];
            else if (op == OP_TYPE_ARRAY && n >= 4 && w[2] < bound && w[3] < bound)
                bytes = size[w[2]] * size[w[3]];
            else if (op == OP_TYPE_STRUCT)
                for (uint32_t i = 2; i < n; i++)
                    bytes += w[i] < bound ? size[w[i]] : 0;
            size[w[1]] = bytes < ((uint64_t)1 << 40) ? bytes : (uint64_t)1 << 40;
        } else if (op == OP_CONSTANT && n >= 4 && w[2] < bound) {
            size[w[2]] = w[3];      /* the low word: array lengths fit in it */
        } else if (op == OP_VARIABLE && n >= 4 && w[2] < bound) {
            klass[w[2]] = w[3];
            type[w[2]] = w[1] < bound ? w[1] : 0;
            if (w[3] == CLASS_WORKGROUP)
                out->shared_bytes += size[pointee[type[w[2]]]];
        }
        at += n;
    }
    for (uint32_t id = 0; id < bound && s == RP_OK; id++) {
        if (klass[id] == CLASS_PUSH_CONSTANT) {
            rp__gpu_why(why, "the shader declares push constants; user shaders get none");
            s = RP_ERR_INVALID;
        } else if (klass[id] == CLASS_UNIFORM_CONSTANT && binding[id] >= 0) {
            rp__gpu_why(why, "the shader binds an image or sampler (binding %d); user shaders "
                        "get storage buffers only", binding[id]);
            s = RP_ERR_INVALID;
        } else if ((klass[id] == CLASS_STORAGE_BUFFER || klass[id] == CLASS_UNIFORM) &&
                   binding[id] >= 0) {
            /* Uniform + BufferBlock is how SPIR-V before 1.3 spells a
             * storage buffer: both bind as one */
            if (set[id] != 0) {
                rp__gpu_why(why, "the shader binds descriptor set %d; user shaders get set 0",
                            set[id]);
                s = RP_ERR_INVALID;
            } else if (tag[pointee[type[id]]] == OP_TYPE_ARRAY ||
                       tag[pointee[type[id]]] == OP_TYPE_RUNTIME_ARRAY) {
                rp__gpu_why(why, "binding %d is an array of buffers; user shaders get one "
                            "buffer per binding", binding[id]);
                s = RP_ERR_INVALID;
            } else if (klass[id] == CLASS_UNIFORM && !buffer_block[pointee[type[id]]]) {
                rp__gpu_why(why, "binding %d is a uniform block; user shaders get storage "
                            "buffers only (declare it `buffer`)", binding[id]);
                s = RP_ERR_INVALID;
            }
            if (s == RP_OK) {
                out->nbind++;
                if (binding[id] > out->binding_max)
                    out->binding_max = binding[id];
            }
        }
    }
    if (s == RP_OK && !out->compute) {
        rp__gpu_why(why, out->other_name ? "the compute entry point must be called \"main\""
                                         : "the module has no GLCompute entry point (not a "
                                           "compute shader)");
        s = RP_ERR_INVALID;
    }
    free(set);
    free(binding);
    free(klass);
    free(type);
    free(pointee);
    free(buffer_block);
    free(size);
    free(tag);
    return s;
}

rp_status
rp_gpu_run_spirv(rp_gpu *g, const rp_gpu_spirv_run *run, char **why)
{
    struct reflect rf;
    rp__gpu_pipe *pipe = NULL;
    rp__gpu_batch *b = NULL;
    rp__gpu_buf *bufs[RP_GPU_MAX_BUFFERS] = { NULL };
    size_t sizes[RP_GPU_MAX_BUFFERS];
    unsigned nbuf, groups[3];
    rp_status s;

    if (why != NULL)
        *why = NULL;
    if (g == NULL || run == NULL || run->code == NULL ||
        (run->ninputs > 0 && (run->inputs == NULL || run->input_bytes == NULL)) ||
        (run->noutputs > 0 && (run->outputs == NULL || run->output_bytes == NULL))) {
        rp__gpu_why(why, "missing shader, buffers or sizes");
        return RP_ERR_INVALID;
    }
    nbuf = run->ninputs + run->noutputs;
    if (nbuf > RP_GPU_MAX_BUFFERS || run->ninputs > RP_GPU_MAX_BUFFERS) {
        rp__gpu_why(why, "%u buffers; at most %d", nbuf, RP_GPU_MAX_BUFFERS);
        return RP_ERR_INVALID;
    }
    if (run->code_bytes < 20 || run->code_bytes % 4 != 0 || run->code[0] != SPV_MAGIC) {
        rp__gpu_why(why, "invalid SPIR-V: %s", run->code_bytes < 20 ? "shorter than its header"
                                               : run->code_bytes % 4 != 0
                                                   ? "not a whole number of 32-bit words"
                                                   : "bad magic number (not a SPIR-V module, "
                                                     "or of the other byte order)");
        return RP_ERR_INVALID;
    }
    if ((s = validate(run->code, run->code_bytes / 4, why)) != RP_OK ||
        (s = reflect(run->code, run->code_bytes / 4, &rf, why)) != RP_OK)
        return s;
    {
        const VkPhysicalDeviceLimits *lim = &rp__gpu_props(g)->limits;
        uint64_t inv = (uint64_t)rf.local[0] * rf.local[1] * rf.local[2];
        if (rf.local[0] > lim->maxComputeWorkGroupSize[0] ||
            rf.local[1] > lim->maxComputeWorkGroupSize[1] ||
            rf.local[2] > lim->maxComputeWorkGroupSize[2] ||
            inv > lim->maxComputeWorkGroupInvocations) {
            rp__gpu_why(why, "a workgroup of %u x %u x %u: %s takes at most %u x %u x %u and "
                        "%u invocations", rf.local[0], rf.local[1], rf.local[2],
                        rp_gpu_device_name(g), lim->maxComputeWorkGroupSize[0],
                        lim->maxComputeWorkGroupSize[1], lim->maxComputeWorkGroupSize[2],
                        lim->maxComputeWorkGroupInvocations);
            return RP_ERR_INVALID;
        }
        if (rf.shared_bytes > lim->maxComputeSharedMemorySize) {
            rp__gpu_why(why, "%llu bytes of shared memory: %s has %u",
                        (unsigned long long)rf.shared_bytes, rp_gpu_device_name(g),
                        lim->maxComputeSharedMemorySize);
            return RP_ERR_INVALID;
        }
    }
    if (rf.binding_max >= (int)nbuf) {
        rp__gpu_why(why, "the shader uses binding %d but has only %u buffers (%u inputs, %u "
                    "outputs: bindings 0..%d)", rf.binding_max, nbuf, run->ninputs,
                    run->noutputs, (int)nbuf - 1);
        return RP_ERR_INVALID;
    }
    for (int i = 0; i < 3; i++)
        groups[i] = run->groups[i] ? run->groups[i] : 1;
    for (unsigned i = 0; i < nbuf; i++) {
        size_t bytes = i < run->ninputs ? run->input_bytes[i]
                                        : run->output_bytes[i - run->ninputs];
        if (i < run->ninputs && bytes > 0 && run->inputs[i] == NULL) {
            rp__gpu_why(why, "input %u has no data", i);
            return RP_ERR_INVALID;
        }
        sizes[i] = bytes;
    }
    for (unsigned i = 0; i < nbuf && s == RP_OK; i++)
        s = rp__gpu_buf_get(g, sizes[i] ? sizes[i] : 4, &bufs[i], why);
    if (s == RP_OK)
        s = rp__gpu_pipe_new(g, run->code, run->code_bytes, nbuf, 0, &pipe, why);
    if (s == RP_OK)
        s = rp__gpu_batch_begin(g, &b, why);
    for (unsigned i = 0; i < run->ninputs && s == RP_OK; i++)
        s = rp__gpu_batch_upload(b, bufs[i], 0, run->inputs[i], sizes[i], why);
    for (unsigned i = run->ninputs; i < nbuf && s == RP_OK; i++)
        rp__gpu_batch_zero(b, bufs[i], sizes[i] ? sizes[i] : 4);
    if (s == RP_OK)
        s = rp__gpu_batch_dispatch(b, pipe, bufs, sizes, NULL, groups[0], groups[1], groups[2],
                                   why);
    for (unsigned i = run->ninputs; i < nbuf && s == RP_OK; i++)
        s = rp__gpu_batch_download(b, bufs[i], 0, run->outputs[i - run->ninputs], sizes[i],
                                   why);
    if (s != RP_OK) {
        rp__gpu_batch_abort(b);
    } else {
        s = rp__gpu_batch_run(b, run->timeout_ms ? run->timeout_ms : RP_GPU_DEFAULT_TIMEOUT_MS,
                              NULL, why);
        if (s == RP_ERR_TIMEOUT)
            return s;       /* the pipeline and buffers stay with the hung device */
    }
    rp__gpu_pipe_free(g, pipe);
    for (unsigned i = 0; i < nbuf; i++)
        rp__gpu_buf_put(g, bufs[i]);
    return s;
}
