/* The CPU backend's table: every entry filled, the reference for others. */
#include <string.h>

#include "cpu_ops.h"

static rt_status rt_cpu_copy_to_host(void *dst, const void *src, size_t nbytes)
{
    return rt_cpu_copy(dst, src, nbytes);
}

static rt_status rt_cpu_copy_from_host(void *dst, const void *src,
                                       size_t nbytes)
{
    return rt_cpu_copy(dst, src, nbytes);
}

static const rt_backend rt_cpu_backend = {
    .name = "cpu",
    .device = RT_DEVICE_CPU,
    .buffer_alloc = rt_cpu_buffer_alloc,
    .buffer_free = rt_cpu_buffer_free,
    .copy_to_host = rt_cpu_copy_to_host,
    .copy_from_host = rt_cpu_copy_from_host,
    .copy = rt_cpu_copy,
    .fill = rt_cpu_fill,
    .axpy = rt_cpu_axpy,
    .scale = rt_cpu_scale,
    .workspace_trim = rt_cpu_workspace_trim,
    .gemm = rt_cpu_gemm,
    .conv2d_forward = rt_cpu_conv2d_forward,
    .conv2d_backward = rt_cpu_conv2d_backward,
    .depthwise_conv2d_forward = rt_cpu_depthwise_conv2d_forward,
    .depthwise_conv2d_backward = rt_cpu_depthwise_conv2d_backward,
    .batchnorm_forward_train = rt_cpu_batchnorm_forward_train,
    .batchnorm_forward_infer = rt_cpu_batchnorm_forward_infer,
    .batchnorm_backward_train = rt_cpu_batchnorm_backward_train,
    .batchnorm_backward_infer = rt_cpu_batchnorm_backward_infer,
    .batchnorm_moving_update = rt_cpu_batchnorm_moving_update,
    .relu_forward = rt_cpu_relu_forward,
    .relu_backward = rt_cpu_relu_backward,
    .relu6_forward = rt_cpu_relu6_forward,
    .relu6_backward = rt_cpu_relu6_backward,
    .sigmoid_forward = rt_cpu_sigmoid_forward,
    .sigmoid_backward = rt_cpu_sigmoid_backward,
    .softmax_forward = rt_cpu_softmax_forward,
    .softmax_backward = rt_cpu_softmax_backward,
    .maxpool2d_forward = rt_cpu_maxpool2d_forward,
    .maxpool2d_backward = rt_cpu_maxpool2d_backward,
    .avgpool2d_forward = rt_cpu_avgpool2d_forward,
    .avgpool2d_backward = rt_cpu_avgpool2d_backward,
    .global_avgpool_forward = rt_cpu_global_avgpool_forward,
    .global_avgpool_backward = rt_cpu_global_avgpool_backward,
    .dense_forward = rt_cpu_dense_forward,
    .dense_backward = rt_cpu_dense_backward,
    .dropout_forward = rt_cpu_dropout_forward,
    .dropout_backward = rt_cpu_dropout_backward,
    .concat_forward = rt_cpu_concat_forward,
    .concat_backward = rt_cpu_concat_backward,
    .zeropad2d_forward = rt_cpu_zeropad2d_forward,
    .zeropad2d_backward = rt_cpu_zeropad2d_backward,
    .bce_forward = rt_cpu_bce_forward,
    .bce_backward = rt_cpu_bce_backward,
    .cce_forward = rt_cpu_cce_forward,
    .cce_backward = rt_cpu_cce_backward,
    .binary_accuracy = rt_cpu_binary_accuracy,
    .categorical_accuracy = rt_cpu_categorical_accuracy,
    .adam_update = rt_cpu_adam_update,
    .sgd_update = rt_cpu_sgd_update,
};

const rt_backend *rt_backend_cpu(void)
{
    return &rt_cpu_backend;
}
