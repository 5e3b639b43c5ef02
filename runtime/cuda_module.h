/*
 * cuda_module.h - the contract between the runtime and the CUDA backend
 * module, libhellodl_cuda.so.
 *
 * The CUDA backend lives in a loadable module so that one hellodl binary
 * runs everywhere: on a machine without the CUDA libraries the module simply
 * fails to load and the session computes on the CPU. runtime/cuda_lazy.c
 * dlopens it the first time a device is asked for (never at kernel start),
 * calls rt_cuda_module_init with the host functions below, and keeps the
 * table it returns. Nothing else crosses the boundary.
 *
 * Errors. Module functions report failure as every runtime function does:
 * an rt_status, with the sentence recorded through host->error_set. A CUDA,
 * cuBLAS or cuDNN failure is RT_ERR_NOMEM (out of device memory, or past the
 * pool's cap) or RT_ERR_DEVICE, and its sentence names the operation that
 * failed, the library's own error name, and what the user can do (a smaller
 * batch, `%device cpu`). After a sticky error (one that corrupts the CUDA
 * context: an illegal address, a launch failure, an ECC error) `lost`
 * returns 1 and every later call fails fast with RT_ERR_DEVICE; the runtime
 * then moves the session to the CPU (device.h, rt_device_recover).
 *
 * Threads. All compute runs on one stream owned by the module; ops are
 * asynchronous with respect to the host except those returning host values
 * (copy_to_host, the loss and accuracy scalars), which synchronise.
 */
#ifndef HELLODL_CUDA_MODULE_H
#define HELLODL_CUDA_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "rt_status.h"
#include "tensor.h"

#define RT_CUDA_MODULE_ABI 1

/* What %gpu shows. Strings are NUL-terminated, versions as CUDA encodes
 * them (12080 = 12.8; cuDNN 91900 = 9.19.0). */
typedef struct rt_cuda_info {
    char name[128];            /* "NVIDIA H100 80GB HBM3" */
    int index;                 /* CUDA device ordinal */
    int cc_major, cc_minor;    /* compute capability */
    int multiprocessors;
    int driver_version;        /* cudaDriverGetVersion */
    int runtime_version;       /* cudaRuntimeGetVersion */
    int cublas_version;        /* cublasGetVersion */
    int64_t cudnn_version;     /* cudnnGetVersion */
    int64_t total_bytes;       /* device memory (cudaMemGetInfo) */
    int64_t free_bytes;        /* free on the device, all processes */
    int64_t pool_reserved;     /* bytes this process holds from the driver */
    int64_t pool_in_use;       /* of which handed out to buffers/workspace */
    int64_t pool_cap;          /* the pool's cap; 0: none */
    int math;                  /* RT_CUDA_MATH_* in use */
} rt_cuda_info;

/* Arithmetic for convolutions and GEMM. FP32 is the default and matches the
 * CPU backend; TF32 uses tensor cores (10-bit mantissa products, float32
 * accumulation) and is only ever on when the user asks for it. */
enum { RT_CUDA_MATH_FP32 = 0, RT_CUDA_MATH_TF32 = 1 };

/* Functions of the runtime the module calls back. */
typedef struct rt_cuda_host {
    rt_status (*error_set)(rt_status st, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
    const char *(*error_message)(void);
    /* Account workspace bytes on RT_DEVICE_CUDA (tensor.h). */
    rt_status (*memory_reserve)(rt_device dev, int64_t bytes);
} rt_cuda_host;

typedef struct rt_cuda_module {
    int abi; /* RT_CUDA_MODULE_ABI */

    /* Pick a device (CUDA_VISIBLE_DEVICES applies; ordinal 0) and create
     * its context, stream, cuBLAS and cuDNN handles. Returns 1 when the
     * device is usable; 0 with a sentence for %gpu in why (no driver, no
     * device, a too-old driver, a compute capability this build has no code
     * for). Called once; cheap to ask again. */
    int (*open)(char *why, size_t size);
    /* The op table (device RT_DEVICE_CUDA); valid after open returned 1. */
    const rt_backend *(*backend)(void);
    void (*info)(rt_cuda_info *out);
    /* 1 once a sticky error has made the context unusable. */
    int (*lost)(void);

    /* The pool: freed buffers are kept for reuse (no cudaMalloc per batch)
     * and the total held from the driver never passes the cap (0: none);
     * on reaching it the pool returns its cached blocks and tries again
     * before failing with RT_ERR_NOMEM. */
    void (*pool_set_cap)(int64_t bytes);
    void (*pool_trim)(void); /* give cached blocks back to the driver */

    rt_status (*set_math)(int mode); /* RT_CUDA_MATH_* */
    rt_status (*synchronize)(void);  /* wait for all queued work */

    /* Page-locked host memory for the data pipeline, and an upload on the
     * module's copy stream that later compute on the main stream waits for
     * (an event), so that the next batch's copy overlaps this batch's
     * compute. src must stay untouched until synchronize or the next
     * upload_wait. */
    rt_status (*host_alloc)(size_t nbytes, void **out);
    void (*host_free)(void *p);
    rt_status (*upload_async)(void *dst, const void *src_host, size_t nbytes);
    /* Make the main stream wait for every upload queued so far. */
    rt_status (*upload_wait)(void);
} rt_cuda_module;

/* The one symbol the module exports. Returns NULL when abi differs. */
typedef const rt_cuda_module *(*rt_cuda_module_init_fn)(const rt_cuda_host *host, int abi);
#define RT_CUDA_MODULE_INIT_SYMBOL "rt_cuda_module_init"

#endif
