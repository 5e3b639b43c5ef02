#include "backend.h"

#include <math.h>

#include "device.h"

/* The one place backends are registered. The CUDA backend is a module
 * loaded on first use (cuda_lazy.c): rt_backend_cuda() returns NULL when
 * there is no usable device, and the emulated device under
 * HELLODL_GPU_EMULATE=1. */
const rt_backend *rt_backend_cuda(void);

const rt_backend *rt_backend_get(rt_device dev)
{
    switch (dev) {
    case RT_DEVICE_CPU:
        return rt_backend_cpu();
    case RT_DEVICE_CUDA:
        return rt_backend_cuda();
    case RT_DEVICE_COUNT:
        break;
    }
    return NULL;
}

rt_device rt_backend_default_device(void)
{
    return rt_session_device();
}

/* TF's output size and padding for one spatial axis. */
static rt_status rt_window_axis(int in, int k, int s, rt_padding pad,
                                int *out, int *before, int *after)
{
    if (pad == RT_PAD_VALID) {
        if (k > in)
            return rt_error_set(RT_ERR_SHAPE, "a %d-wide window does not fit "
                                "a %d-wide input with 'valid' padding", k, in);
        *out = (in - k) / s + 1;
        *before = *after = 0;
        return RT_OK;
    }
    *out = (in + s - 1) / s;
    long total = (long)(*out - 1) * s + k - in;
    if (total < 0)
        total = 0;
    *before = (int)(total / 2);
    *after = (int)(total - total / 2);
    return RT_OK;
}

rt_status rt_window2d_init(rt_window2d *g, int n, int in_h, int in_w,
                           int in_c, int out_c, int k_h, int k_w,
                           int stride_h, int stride_w, rt_padding pad)
{
    if (n <= 0 || in_h <= 0 || in_w <= 0 || in_c <= 0 || out_c <= 0)
        return rt_error_set(RT_ERR_SHAPE, "window over (%d, %d, %d, %d) -> %d "
                            "channels: sizes must be positive", n, in_h, in_w,
                            in_c, out_c);
    if (k_h <= 0 || k_w <= 0 || stride_h <= 0 || stride_w <= 0)
        return rt_error_set(RT_ERR_ARG, "window %dx%d stride %dx%d: sizes "
                            "must be positive", k_h, k_w, stride_h, stride_w);
    if (pad != RT_PAD_VALID && pad != RT_PAD_SAME)
        return rt_error_set(RT_ERR_ARG, "padding must be 'valid' or 'same'");
    g->n = n;
    g->in_h = in_h;
    g->in_w = in_w;
    g->in_c = in_c;
    g->out_c = out_c;
    g->k_h = k_h;
    g->k_w = k_w;
    g->stride_h = stride_h;
    g->stride_w = stride_w;
    rt_status st = rt_window_axis(in_h, k_h, stride_h, pad, &g->out_h,
                                  &g->pad_top, &g->pad_bottom);
    if (st == RT_OK)
        st = rt_window_axis(in_w, k_w, stride_w, pad, &g->out_w,
                            &g->pad_left, &g->pad_right);
    if (st != RT_OK)
        return st;
    int64_t numel;
    const int64_t in_shape[4] = {n, in_h, in_w, in_c};
    const int64_t out_shape[4] = {n, g->out_h, g->out_w, out_c};
    const int64_t w_shape[4] = {k_h, k_w, in_c, out_c};
    if ((st = rt_shape_numel(4, in_shape, &numel)) != RT_OK
        || (st = rt_shape_numel(4, out_shape, &numel)) != RT_OK
        || (st = rt_shape_numel(4, w_shape, &numel)) != RT_OK)
        return st;
    return RT_OK;
}

float rt_adam_lr_t(float lr, float beta1, float beta2, int64_t t)
{
    /* Keras: t = cast(iterations, float32) + 1; every op in float32. */
    float tf = (float)t;
    float num = sqrtf(1.0f - powf(beta2, tf));
    float den = 1.0f - powf(beta1, tf);
    return lr * (num / den);
}

float rt_batchnorm_keras22_var_correction(size_t rows, float eps)
{
    if (rows < 2)
        return 1.0f;
    float n = (float)rows;
    return (n / (n - 1.0f)) * (n / (n - (1.0f + eps)));
}
