/*
 * cuda_internal.h - what the files of the CUDA backend module share.
 *
 * One device, one context, one compute stream (cu.stream) on which every op
 * is queued, one copy stream for uploads from pinned memory, one cuBLAS and
 * one cuDNN handle bound to the compute stream. Ops are asynchronous: only
 * copies to the host and ops that return host scalars wait.
 *
 * Errors go through cu_check_* which record the sentence with the host's
 * error_set and return an rt_status; a sticky error (the context is gone)
 * also sets cu.lost, after which every op fails fast (CU_ALIVE()).
 *
 * Memory. cu_pool_alloc/cu_pool_free serve every device buffer: tensors
 * (backend buffer_alloc) and op workspaces (cu_workspace, accounted on
 * RT_DEVICE_CUDA with host->memory_reserve so %memory shows it).
 */
#ifndef HELLODL_CUDA_INTERNAL_H
#define HELLODL_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "cuda_module.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cu_state {
    const rt_cuda_host *host;
    int opened, usable, lost;
    int device;
    cudaStream_t stream;      /* all compute */
    cudaStream_t copy_stream; /* uploads from pinned memory */
    cudaEvent_t upload_done;  /* recorded on copy_stream */
    cublasHandle_t cublas;
    cudnnHandle_t cudnn;
    int math;                 /* RT_CUDA_MATH_* */
    cudaDeviceProp prop;
} cu_state;

extern cu_state cu;

/* Record "<what> failed on the GPU: <library error>. <advice>" and return
 * the status (RT_ERR_NOMEM for out-of-memory, RT_ERR_DEVICE otherwise);
 * sticky CUDA errors set cu.lost. RT_OK when the call succeeded. */
rt_status cu_check_cuda(cudaError_t e, const char *what);
rt_status cu_check_cublas(cublasStatus_t s, const char *what);
rt_status cu_check_cudnn(cudnnStatus_t s, const char *what);
/* cu_check_cuda(cudaGetLastError()) after a kernel launch. */
rt_status cu_check_launch(const char *what);

/* RT_ERR_DEVICE with the standing sentence when cu.lost; RT_ERR_STATE
 * before a successful open. */
rt_status cu_alive(void);
#define CU_ALIVE()                                                             \
    do {                                                                       \
        rt_status cu_alive_st_ = cu_alive();                                   \
        if (cu_alive_st_ != RT_OK)                                             \
            return cu_alive_st_;                                               \
    } while (0)

/* The pool (pool.cu). Sizes are rounded up to 512 bytes; blocks of 1 MiB or
 * more are cached by exact rounded size, smaller ones in power-of-two bins.
 * All frees are stream-ordered on cu.stream: a block is reused only by work
 * queued after the free. */
rt_status cu_pool_alloc(size_t nbytes, void **out);
void cu_pool_free(void *p);
void cu_pool_set_cap(int64_t bytes);
void cu_pool_trim(void);
void cu_pool_stats(int64_t *reserved, int64_t *in_use, int64_t *cap);

/* A scratch buffer of at least nbytes for the op being queued, valid until
 * the next cu_workspace call (ops queue on one stream, so reuse is safe).
 * Grows, never shrinks until cu_workspace_trim; accounted on RT_DEVICE_CUDA.
 * slot 0..CU_WORKSPACE_SLOTS-1 lets one op hold several at once. */
#define CU_WORKSPACE_SLOTS 4
rt_status cu_workspace(int slot, size_t nbytes, void **out);
void cu_workspace_trim(void);

/* Grid size for n elements at CU_THREADS per block, capped (grid-stride
 * loops cover the rest). */
#define CU_THREADS 256
static inline unsigned cu_blocks(size_t n)
{
    size_t b = (n + CU_THREADS - 1) / CU_THREADS;
    if (b > 65535u * 16u)
        b = 65535u * 16u;
    return b ? (unsigned)b : 1u;
}

/* Fills the backend table's entries each file owns (the table itself is in
 * module.cu). */
void cu_register_blas(rt_backend *be);     /* blas.cu: gemm, dense */
void cu_register_elementwise(rt_backend *be); /* elementwise.cu: fill, axpy,
                                             scale, activations, softmax,
                                             dropout, concat, zeropad,
                                             global avgpool, losses,
                                             accuracies, adam, sgd,
                                             batchnorm_moving_update */
void cu_register_dnn(rt_backend *be);      /* dnn.cu: conv2d, and calls: */
void cu_register_dnn_kernels(rt_backend *be); /* dnn_kernels.cu: depthwise,
                                             batchnorm forward and backward,
                                             max/avg pooling */
rt_status cu_dnn_set_math(int mode);       /* conv math type */

/* dnn_kernels.cu: out (rows, c) += bias (c); dbias (c) += column sums of
 * dout (rows, c). Shared by the convolutions. */
rt_status cu_dnn_bias_forward(float *out, const float *bias, size_t rows,
                              int c);
rt_status cu_dnn_bias_backward(float *dbias, const float *dout, size_t rows,
                               int c);

#ifdef __cplusplus
}
#endif

#endif
