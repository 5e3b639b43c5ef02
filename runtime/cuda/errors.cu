/*
 * errors.cu - CUDA, cuBLAS and cuDNN failures as rt_status plus a sentence.
 *
 * `what` is a gerund phrase naming the operation ("allocating 12.5 MB",
 * "computing a matrix product"), so that both "<What> failed on the GPU"
 * and "the GPU is out of memory while <what>" read as sentences.
 *
 * Sticky errors. Some CUDA errors leave the context unusable: every later
 * call returns the same error and nothing on the device can be read back.
 * The first one seen sets cu.lost; from then on CU_ALIVE() makes every op
 * fail fast with the standing sentence and the runtime moves the session to
 * the CPU (device.h, rt_device_recover). Other errors are cleared from the
 * runtime's last-error slot here, so that a later cu_check_launch does not
 * blame the next kernel for them.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cuda_internal.h"

static const char cu_oom_advice[] =
    "use a smaller batch_size, free models you no longer need, or run "
    "`%device cpu`";

/* Room for a library's error name and description. */
#define CU_LIB_ERROR 192

/* The error that made the context unusable, for the standing sentence. */
static char cu_lost_reason[CU_LIB_ERROR];

static int cu_is_sticky(cudaError_t e)
{
    switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorECCUncorrectable:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorContextIsDestroyed:
    case cudaErrorDevicesUnavailable:
    case cudaErrorNvlinkUncorrectable:
    case cudaErrorExternalDevice:
    case cudaErrorContained:
    case cudaErrorTensorMemoryLeak:
    case cudaErrorMpsClientTerminated:
    case cudaErrorUnknown:
        return 1;
    default:
        return 0;
    }
}

/* "Computing a matrix product" from "computing a matrix product". */
static void cu_capitalize(char *dst, size_t size, const char *what)
{
    snprintf(dst, size, "%s", what ? what : "an operation");
    dst[0] = (char)toupper((unsigned char)dst[0]);
}

static rt_status cu_fail_lost(const char *what, const char *lib_error)
{
    char w[160];
    cu_capitalize(w, sizeof w, what);
    if (!cu.lost)
        snprintf(cu_lost_reason, sizeof cu_lost_reason, "%s", lib_error);
    cu.lost = 1;
    return cu.host->error_set(RT_ERR_DEVICE,
        "%s failed on the GPU: %s. The GPU stopped working and cannot be "
        "used again until the kernel is restarted; the session will continue "
        "on the CPU.", w, lib_error);
}

/* The library's own words add nothing here: all of them say "out of
 * memory". */
static rt_status cu_fail_nomem(const char *what)
{
    return cu.host->error_set(RT_ERR_NOMEM,
        "The GPU is out of memory while %s: %s.",
        what ? what : "running an operation", cu_oom_advice);
}

static rt_status cu_fail_other(const char *what, const char *lib_error)
{
    char w[160];
    cu_capitalize(w, sizeof w, what);
    return cu.host->error_set(RT_ERR_DEVICE,
        "%s failed on the GPU: %s. Run `%%device cpu` to continue on the "
        "CPU.", w, lib_error);
}

rt_status cu_check_cuda(cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return RT_OK;
    char lib[CU_LIB_ERROR];
    snprintf(lib, sizeof lib, "%s (%s)", cudaGetErrorName(e),
             cudaGetErrorString(e));
    if (cu_is_sticky(e))
        return cu_fail_lost(what, lib);
    (void)cudaGetLastError(); /* not sticky: clear it */
    if (e == cudaErrorMemoryAllocation)
        return cu_fail_nomem(what);
    return cu_fail_other(what, lib);
}

rt_status cu_check_launch(const char *what)
{
    return cu_check_cuda(cudaGetLastError(), what);
}

/* A library call failed for a reason of its own (an execution or internal
 * failure): ask the runtime whether the context is still alive, since such
 * a failure is often the first sign of a sticky error. Waiting for the
 * device costs nothing that matters on an error path. */
static int cu_context_broken(char *lib, size_t size)
{
    cudaError_t e = cudaDeviceSynchronize();
    if (e == cudaSuccess || !cu_is_sticky(e)) {
        (void)cudaGetLastError();
        return 0;
    }
    size_t len = strlen(lib);
    snprintf(lib + len, size - len, ", then %s", cudaGetErrorName(e));
    return 1;
}

rt_status cu_check_cublas(cublasStatus_t s, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return RT_OK;
    char lib[CU_LIB_ERROR];
    snprintf(lib, sizeof lib, "cuBLAS %s", cublasGetStatusName(s));
    if (s == CUBLAS_STATUS_ALLOC_FAILED)
        return cu_fail_nomem(what);
    if ((s == CUBLAS_STATUS_EXECUTION_FAILED || s == CUBLAS_STATUS_INTERNAL_ERROR)
        && cu_context_broken(lib, sizeof lib))
        return cu_fail_lost(what, lib);
    return cu_fail_other(what, lib);
}

rt_status cu_check_cudnn(cudnnStatus_t s, const char *what)
{
    if (s == CUDNN_STATUS_SUCCESS)
        return RT_OK;
    char lib[CU_LIB_ERROR];
    snprintf(lib, sizeof lib, "cuDNN %s", cudnnGetErrorString(s));
    if (s == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)
        return cu_fail_nomem(what);
    if (s == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED) {
        char w[160];
        cu_capitalize(w, sizeof w, what);
        return cu.host->error_set(RT_ERR_NOMEM, "%s failed: the computer is "
                                  "out of memory (%s).", w, lib);
    }
    /* cuDNN 9 codes are a category (thousands) plus a detail. */
    int category = CUDNN_STATUS_CATEGORY((int)s);
    if ((category == CUDNN_STATUS_EXECUTION_FAILED
         || category == CUDNN_STATUS_INTERNAL_ERROR)
        && cu_context_broken(lib, sizeof lib))
        return cu_fail_lost(what, lib);
    return cu_fail_other(what, lib);
}

rt_status cu_alive(void)
{
    /* Before a successful open there are no streams or handles to use. */
    if (!cu.usable)
        return cu.host->error_set(RT_ERR_STATE, "No GPU is in use: it could not "
                                  "be opened. Run `%%gpu` to see why.");
    if (!cu.lost)
        return RT_OK;
    return cu.host->error_set(RT_ERR_DEVICE,
        "The GPU stopped working earlier in this session (%s) and cannot be "
        "used again until the kernel is restarted; the session continues on "
        "the CPU.", cu_lost_reason[0] ? cu_lost_reason : "a fatal CUDA error");
}
