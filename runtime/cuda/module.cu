/*
 * module.cu - the CUDA backend module's entry point: opening the device,
 * the op table, memory entries, math mode, uploads.
 *
 * rt_cuda_module_init is the one exported symbol (cuda_module.h). open()
 * picks device 0, creates the streams, events and library handles, and
 * runs one tiny kernel so that a GPU this build has no code for, or one
 * another process holds exclusively, is refused here with a reason for %gpu
 * rather than failing in the middle of a cell.
 *
 * FP32 means FP32: cuBLAS runs in CUBLAS_DEFAULT_MATH, which since CUDA 11
 * leaves single precision on the CUDA cores (TF32 tensor cores only with
 * CUBLAS_TF32_TENSOR_OP_MATH, which set_math alone turns on), so results
 * match the CPU backend to rounding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"

cu_state cu;

static rt_backend cu_backend;
static rt_cuda_module cu_module;
static char cu_why[768];
/* Recorded on cu.stream before each upload: the copy waits for it. */
static cudaEvent_t cu_compute_mark;

static __global__ void cu_probe_kernel(int *flag)
{
    if (flag)
        *flag = 1;
}

/* ---- opening the device ---- */

static void cu_close(void)
{
    if (cu.cudnn)
        (void)cudnnDestroy(cu.cudnn);
    if (cu.cublas)
        (void)cublasDestroy(cu.cublas);
    if (cu_compute_mark)
        (void)cudaEventDestroy(cu_compute_mark);
    if (cu.upload_done)
        (void)cudaEventDestroy(cu.upload_done);
    if (cu.copy_stream)
        (void)cudaStreamDestroy(cu.copy_stream);
    if (cu.stream)
        (void)cudaStreamDestroy(cu.stream);
    cu.cudnn = NULL;
    cu.cublas = NULL;
    cu_compute_mark = NULL;
    cu.upload_done = NULL;
    cu.copy_stream = NULL;
    cu.stream = NULL;
    (void)cudaGetLastError();
}

/* Why cudaGetDeviceCount failed, in words. */
static void cu_why_no_device(cudaError_t e, char *why, size_t size)
{
    int driver = 0;
    (void)cudaDriverGetVersion(&driver);
    const char *visible = getenv("CUDA_VISIBLE_DEVICES");
    if (e == cudaErrorNoDevice || e == cudaSuccess)
        snprintf(why, size, "no NVIDIA GPU is visible to this process%s%s%s",
                 visible ? " (CUDA_VISIBLE_DEVICES=" : "",
                 visible ? visible : "", visible ? ")" : "");
    else if (e == cudaErrorInsufficientDriver && driver == 0)
        snprintf(why, size, "no NVIDIA driver is installed (libcuda.so.1 "
                 "could not be loaded)");
    else if (e == cudaErrorInsufficientDriver)
        snprintf(why, size, "the NVIDIA driver supports CUDA up to %d.%d, but "
                 "this build needs CUDA %d.%d: update the NVIDIA driver",
                 driver / 1000, driver % 1000 / 10, CUDART_VERSION / 1000,
                 CUDART_VERSION % 1000 / 10);
    else if (e == cudaErrorStubLibrary)
        snprintf(why, size, "no NVIDIA driver is installed: only the CUDA "
                 "toolkit's stand-in libcuda.so was found (is LD_LIBRARY_PATH "
                 "pointing at its stubs directory?)");
    else if (e == cudaErrorSystemDriverMismatch)
        snprintf(why, size, "the NVIDIA driver's kernel module and library "
                 "versions differ (a driver update waiting for a reboot?)");
    else
        snprintf(why, size, "CUDA could not start: %s (%s)",
                 cudaGetErrorName(e), cudaGetErrorString(e));
    (void)cudaGetLastError();
}

static int cu_fail_open(char *why, size_t size, const char *step,
                        const char *detail)
{
    snprintf(why, size, "the GPU (%s) could not be set up while %s: %s",
             cu.prop.name[0] ? cu.prop.name : "device 0", step, detail);
    (void)cudaGetLastError();
    return 0;
}

static int cu_fail_open_cuda(char *why, size_t size, const char *step,
                             cudaError_t e)
{
    char detail[160];
    if (e == cudaErrorDevicesUnavailable)
        snprintf(detail, sizeof detail, "it is in use by another process "
                 "and set to exclusive use");
    else
        snprintf(detail, sizeof detail, "%s (%s)", cudaGetErrorName(e),
                 cudaGetErrorString(e));
    return cu_fail_open(why, size, step, detail);
}

/* The device has code in this build: a compute capability at least the
 * lowest one built for, and the driver finds a kernel image for it. */
static int cu_check_arch(char *why, size_t size)
{
    const cudaDeviceProp *p = &cu.prop;
#ifdef HELLODL_CUDA_MIN_ARCH
    if (p->major * 10 + p->minor < HELLODL_CUDA_MIN_ARCH) {
        snprintf(why, size, "the GPU (%s) has compute capability %d.%d; this "
                 "build of hellodl needs %d.%d or newer (it can be rebuilt "
                 "with %d%d added to HELLODL_CUDA_ARCHS)",
                 p->name, p->major, p->minor, HELLODL_CUDA_MIN_ARCH / 10,
                 HELLODL_CUDA_MIN_ARCH % 10, p->major, p->minor);
        return 0;
    }
#endif
    cudaFuncAttributes attr;
    cudaError_t e = cudaFuncGetAttributes(&attr, cu_probe_kernel);
    if (e != cudaSuccess) {
        snprintf(why, size, "this build of hellodl has no GPU code for the %s "
                 "(compute capability %d.%d): %s", p->name, p->major,
                 p->minor, cudaGetErrorName(e));
        (void)cudaGetLastError();
        return 0;
    }
    return 1;
}

static int cu_create_streams(char *why, size_t size)
{
    cudaError_t e = cudaStreamCreateWithFlags(&cu.stream, cudaStreamNonBlocking);
    if (e == cudaSuccess)
        e = cudaStreamCreateWithFlags(&cu.copy_stream, cudaStreamNonBlocking);
    if (e == cudaSuccess)
        e = cudaEventCreateWithFlags(&cu.upload_done, cudaEventDisableTiming);
    if (e == cudaSuccess)
        e = cudaEventCreateWithFlags(&cu_compute_mark, cudaEventDisableTiming);
    if (e != cudaSuccess)
        return cu_fail_open_cuda(why, size, "creating its streams", e);
    /* One real launch: proves the context works end to end. */
    cu_probe_kernel<<<1, 1, 0, cu.stream>>>(NULL);
    e = cudaGetLastError();
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(cu.stream);
    if (e != cudaSuccess)
        return cu_fail_open_cuda(why, size, "running a first kernel", e);
    return 1;
}

static int cu_create_handles(char *why, size_t size)
{
    cublasStatus_t bs = cublasCreate(&cu.cublas);
    if (bs == CUBLAS_STATUS_SUCCESS)
        bs = cublasSetStream(cu.cublas, cu.stream);
    if (bs == CUBLAS_STATUS_SUCCESS)
        bs = cublasSetMathMode(cu.cublas, CUBLAS_DEFAULT_MATH);
    if (bs != CUBLAS_STATUS_SUCCESS)
        return cu_fail_open(why, size, "starting cuBLAS",
                            cublasGetStatusName(bs));
    cudnnStatus_t ds = cudnnCreate(&cu.cudnn);
    if (ds == CUDNN_STATUS_SUCCESS)
        ds = cudnnSetStream(cu.cudnn, cu.stream);
    if (ds != CUDNN_STATUS_SUCCESS)
        return cu_fail_open(why, size, "starting cuDNN",
                            cudnnGetErrorString(ds));
    cu.math = RT_CUDA_MATH_FP32;
    return 1;
}

static int cu_open_device(char *why, size_t size)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n <= 0) {
        cu_why_no_device(e, why, size);
        return 0;
    }
    cu.device = 0;
    e = cudaSetDevice(cu.device);
    if (e == cudaSuccess)
        e = cudaGetDeviceProperties(&cu.prop, cu.device);
    if (e != cudaSuccess)
        return cu_fail_open_cuda(why, size, "reading its properties", e);
    int mode = cudaComputeModeDefault;
    if (cudaDeviceGetAttribute(&mode, cudaDevAttrComputeMode, cu.device)
        != cudaSuccess)
        (void)cudaGetLastError();
    if (mode == cudaComputeModeProhibited)
        return cu_fail_open(why, size, "checking its mode", "it is set to "
                            "refuse compute work (compute mode Prohibited)");
    return cu_check_arch(why, size) && cu_create_streams(why, size)
        && cu_create_handles(why, size);
}

static int cu_open(char *why, size_t size)
{
    if (!cu.opened) {
        cu.opened = 1;
        cu.usable = cu_open_device(cu_why, sizeof cu_why);
        if (!cu.usable)
            cu_close();
    }
    if (why && size)
        snprintf(why, size, "%s", cu.usable ? "" : cu_why);
    return cu.usable;
}

/* ---- the module's other entries ---- */

static const rt_backend *cu_get_backend(void)
{
    return cu.usable ? &cu_backend : NULL;
}

static void cu_info(rt_cuda_info *out)
{
    memset(out, 0, sizeof *out);
    if (!cu.usable)
        return;
    snprintf(out->name, sizeof out->name, "%.*s", (int)sizeof out->name - 1,
             cu.prop.name);
    out->index = cu.device;
    out->cc_major = cu.prop.major;
    out->cc_minor = cu.prop.minor;
    out->multiprocessors = cu.prop.multiProcessorCount;
    (void)cudaDriverGetVersion(&out->driver_version);
    (void)cudaRuntimeGetVersion(&out->runtime_version);
    (void)cublasGetVersion(cu.cublas, &out->cublas_version);
    out->cudnn_version = (int64_t)cudnnGetVersion();
    size_t free_b = 0, total_b = cu.prop.totalGlobalMem;
    if (!cu.lost && cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
        (void)cudaGetLastError();
        free_b = 0;
        total_b = cu.prop.totalGlobalMem;
    }
    out->total_bytes = (int64_t)total_b;
    out->free_bytes = (int64_t)free_b;
    cu_pool_stats(&out->pool_reserved, &out->pool_in_use, &out->pool_cap);
    out->math = cu.math;
}

static int cu_lost(void)
{
    return cu.lost;
}

static rt_status cu_set_math(int mode)
{
    if (mode != RT_CUDA_MATH_FP32 && mode != RT_CUDA_MATH_TF32)
        return cu.host->error_set(RT_ERR_ARG, "Unknown GPU math mode %d "
                                  "(FP32 or TF32).", mode);
    if (!cu.usable)
        return cu.host->error_set(RT_ERR_STATE, "No GPU is in use.");
    CU_ALIVE();
    cublasMath_t bm = mode == RT_CUDA_MATH_TF32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                : CUBLAS_DEFAULT_MATH;
    rt_status st = cu_check_cublas(cublasSetMathMode(cu.cublas, bm),
                                   "switching the precision of matrix products");
    if (st != RT_OK)
        return st;
    st = cu_dnn_set_math(mode);
    if (st != RT_OK) { /* keep both libraries in the old mode */
        (void)cublasSetMathMode(cu.cublas, cu.math == RT_CUDA_MATH_TF32
                                ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
        return st;
    }
    cu.math = mode;
    return RT_OK;
}

static rt_status cu_synchronize(void)
{
    if (!cu.usable)
        return RT_OK;
    CU_ALIVE();
    rt_status st = cu_check_cuda(cudaStreamSynchronize(cu.copy_stream),
                                 "finishing queued uploads");
    if (st == RT_OK)
        st = cu_check_cuda(cudaStreamSynchronize(cu.stream),
                           "finishing queued GPU work");
    return st;
}

/* ---- pinned memory and uploads ----
 * upload_async orders the copy after everything already queued on
 * cu.stream: the destination was typically just allocated there (zeroed by
 * a memset on cu.stream) or reused from the pool after its last users ran
 * there. The host does not wait; the copy overlaps compute queued after it.
 * upload_wait makes cu.stream wait for the copies and also waits on the
 * host, since the caller may refill the pinned source once it returns. */

static rt_status cu_host_alloc(size_t nbytes, void **out)
{
    *out = NULL;
    CU_ALIVE();
    cudaError_t e = cudaHostAlloc(out, nbytes ? nbytes : 1, cudaHostAllocDefault);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        *out = NULL;
        return cu.host->error_set(RT_ERR_NOMEM, "Could not set aside %.1f MB "
                                  "of page-locked memory for loading batches: "
                                  "the computer is short of memory. Use a "
                                  "smaller batch_size.", nbytes / 1048576.0);
    }
    if (e != cudaSuccess)
        *out = NULL;
    return cu_check_cuda(e, "allocating page-locked memory for batches");
}

static void cu_host_free(void *p)
{
    if (p && cudaFreeHost(p) != cudaSuccess)
        (void)cudaGetLastError();
}

static rt_status cu_upload_async(void *dst, const void *src_host, size_t nbytes)
{
    CU_ALIVE();
    if (nbytes == 0)
        return RT_OK;
    const char *what = "copying a batch to the GPU";
    rt_status st = cu_check_cuda(cudaEventRecord(cu_compute_mark, cu.stream), what);
    if (st == RT_OK)
        st = cu_check_cuda(cudaStreamWaitEvent(cu.copy_stream, cu_compute_mark, 0),
                           what);
    if (st == RT_OK)
        st = cu_check_cuda(cudaMemcpyAsync(dst, src_host, nbytes,
                                           cudaMemcpyHostToDevice, cu.copy_stream),
                           what);
    if (st == RT_OK)
        st = cu_check_cuda(cudaEventRecord(cu.upload_done, cu.copy_stream), what);
    return st;
}

static rt_status cu_upload_wait(void)
{
    CU_ALIVE();
    const char *what = "waiting for a batch to reach the GPU";
    rt_status st = cu_check_cuda(cudaStreamWaitEvent(cu.stream, cu.upload_done, 0),
                                 what);
    if (st == RT_OK)
        st = cu_check_cuda(cudaEventSynchronize(cu.upload_done), what);
    return st;
}

/* ---- the backend's memory entries ---- */

static rt_status cu_buffer_alloc(size_t nbytes, void **out)
{
    rt_status st = cu_pool_alloc(nbytes, out);
    if (st != RT_OK || nbytes == 0)
        return st;
    st = cu_check_cuda(cudaMemsetAsync(*out, 0, nbytes, cu.stream),
                       "clearing new GPU memory");
    if (st != RT_OK) {
        cu_pool_free(*out);
        *out = NULL;
    }
    return st;
}

static void cu_buffer_free(void *p)
{
    cu_pool_free(p);
}

static rt_status cu_copy_to_host(void *dst_host, const void *src, size_t nbytes)
{
    CU_ALIVE();
    if (nbytes == 0)
        return RT_OK;
    const char *what = "copying a tensor from the GPU";
    rt_status st = cu_check_cuda(cudaMemcpyAsync(dst_host, src, nbytes,
                                                 cudaMemcpyDeviceToHost, cu.stream),
                                 what);
    if (st == RT_OK)
        st = cu_check_cuda(cudaStreamSynchronize(cu.stream), what);
    return st;
}

/* Queued on cu.stream behind the work that may still use dst. From
 * ordinary (pageable) memory the driver has taken the bytes when the call
 * returns; from page-locked memory it reads them later, so then we wait:
 * the caller may reuse its buffer as soon as we return. */
static rt_status cu_copy_from_host(void *dst, const void *src_host, size_t nbytes)
{
    CU_ALIVE();
    if (nbytes == 0)
        return RT_OK;
    const char *what = "copying a tensor to the GPU";
    cudaPointerAttributes attr;
    int pageable = cudaPointerGetAttributes(&attr, src_host) == cudaSuccess
                   && attr.type == cudaMemoryTypeUnregistered;
    (void)cudaGetLastError();
    rt_status st = cu_check_cuda(cudaMemcpyAsync(dst, src_host, nbytes,
                                                 cudaMemcpyHostToDevice, cu.stream),
                                 what);
    if (st == RT_OK && !pageable)
        st = cu_check_cuda(cudaStreamSynchronize(cu.stream), what);
    return st;
}

/* memmove semantics, as the CPU's copy: overlapping ranges go through a
 * workspace (cudaMemcpy does not promise anything for them). */
static rt_status cu_copy(void *dst, const void *src, size_t nbytes)
{
    CU_ALIVE();
    if (nbytes == 0 || dst == src)
        return RT_OK;
    const char *what = "copying a tensor on the GPU";
    const char *d = (const char *)dst, *s = (const char *)src;
    if (d < s + nbytes && s < d + nbytes) {
        void *tmp;
        rt_status st = cu_workspace(CU_WORKSPACE_SLOTS - 1, nbytes, &tmp);
        if (st == RT_OK)
            st = cu_check_cuda(cudaMemcpyAsync(tmp, src, nbytes,
                                               cudaMemcpyDeviceToDevice, cu.stream),
                               what);
        if (st == RT_OK)
            st = cu_check_cuda(cudaMemcpyAsync(dst, tmp, nbytes,
                                               cudaMemcpyDeviceToDevice, cu.stream),
                               what);
        return st;
    }
    return cu_check_cuda(cudaMemcpyAsync(dst, src, nbytes,
                                         cudaMemcpyDeviceToDevice, cu.stream),
                         what);
}

static void cu_workspace_trim_entry(void)
{
    cu_workspace_trim();
}

static void cu_fill_tables(void)
{
    rt_backend *be = &cu_backend;
    memset(be, 0, sizeof *be);
    be->name = "cuda";
    be->device = RT_DEVICE_CUDA;
    be->buffer_alloc = cu_buffer_alloc;
    be->buffer_free = cu_buffer_free;
    be->copy_to_host = cu_copy_to_host;
    be->copy_from_host = cu_copy_from_host;
    be->copy = cu_copy;
    be->workspace_trim = cu_workspace_trim_entry;
    cu_register_blas(be);
    cu_register_elementwise(be);
    cu_register_dnn(be);

    rt_cuda_module *m = &cu_module;
    m->abi = RT_CUDA_MODULE_ABI;
    m->open = cu_open;
    m->backend = cu_get_backend;
    m->info = cu_info;
    m->lost = cu_lost;
    m->pool_set_cap = cu_pool_set_cap;
    m->pool_trim = cu_pool_trim;
    m->set_math = cu_set_math;
    m->synchronize = cu_synchronize;
    m->host_alloc = cu_host_alloc;
    m->host_free = cu_host_free;
    m->upload_async = cu_upload_async;
    m->upload_wait = cu_upload_wait;
}

extern "C" __attribute__((visibility("default"))) const rt_cuda_module *
rt_cuda_module_init(const rt_cuda_host *host, int abi)
{
    if (abi != RT_CUDA_MODULE_ABI || !host || !host->error_set
        || !host->memory_reserve)
        return NULL;
    cu.host = host;
    if (cu_module.abi == 0)
        cu_fill_tables();
    return &cu_module;
}
