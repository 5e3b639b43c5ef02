/*
 * Depthwise conv2d on the CPU (Keras DepthwiseConv2D), direct loops.
 * Output channel c*mult + m = sum over taps of input channel c times
 * weight[i][j][c][m]; with NHWC the innermost loop runs over contiguous
 * channels and vectorises. Threads split images x output rows in forward;
 * backward splits images (their input rows overlap within an image) and
 * keeps one private weight-gradient per thread.
 */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu_ops.h"

static rt_status rt_depthwise_check(const rt_window2d *g)
{
    if (g->out_c % g->in_c != 0)
        return rt_error_set(RT_ERR_SHAPE, "depthwise conv: %d output channels "
                            "is not a multiple of %d input channels", g->out_c,
                            g->in_c);
    return RT_OK;
}

/* One output pixel, all channels: acc (out_c) over the in-bounds taps. */
static void rt_depthwise_pixel(const rt_window2d *g, const float *inp,
                               const float *weight, int b, int oh, int ow,
                               float *acc)
{
    const int C = g->in_c, M = g->out_c / g->in_c;
    int ih0 = oh * g->stride_h - g->pad_top, iw0 = ow * g->stride_w - g->pad_left;
    for (int i = 0; i < g->k_h; i++) {
        int ih = ih0 + i;
        if (ih < 0 || ih >= g->in_h)
            continue;
        for (int j = 0; j < g->k_w; j++) {
            int iw = iw0 + j;
            if (iw < 0 || iw >= g->in_w)
                continue;
            const float *x = inp + (((size_t)b * g->in_h + ih) * g->in_w + iw) * C;
            const float *w = weight + ((size_t)i * g->k_w + j) * C * M;
            if (M == 1) {
                for (int c = 0; c < C; c++)
                    acc[c] += x[c] * w[c];
            } else {
                for (int c = 0; c < C; c++)
                    for (int m = 0; m < M; m++)
                        acc[c * M + m] += x[c] * w[c * M + m];
            }
        }
    }
}

rt_status rt_cpu_depthwise_conv2d_forward(const rt_window2d *g, float *out,
                                          const float *inp,
                                          const float *weight,
                                          const float *bias)
{
    rt_status st = rt_depthwise_check(g);
    if (st != RT_OK)
        return st;
    const int OC = g->out_c;
    const size_t rows = (size_t)g->n * g->out_h;
    #pragma omp parallel for if (rows * g->out_w * (size_t)OC > RT_CPU_PARALLEL_MIN) \
        schedule(static)
    for (size_t r = 0; r < rows; r++) {
        int b = (int)(r / (size_t)g->out_h), oh = (int)(r % (size_t)g->out_h);
        for (int ow = 0; ow < g->out_w; ow++) {
            float *acc = out + (r * g->out_w + ow) * OC;
            for (int c = 0; c < OC; c++)
                acc[c] = bias ? bias[c] : 0.0f;
            rt_depthwise_pixel(g, inp, weight, b, oh, ow, acc);
        }
    }
    return RT_OK;
}

/* Backward for image b: dinp (its part) and dw (a private buffer). */
static void rt_depthwise_backward_image(const rt_window2d *g, float *dinp,
                                        float *dw, const float *dout,
                                        const float *inp, const float *weight,
                                        int b)
{
    const int C = g->in_c, M = g->out_c / g->in_c;
    for (int oh = 0; oh < g->out_h; oh++)
        for (int ow = 0; ow < g->out_w; ow++) {
            const float *dy = dout + (((size_t)b * g->out_h + oh) * g->out_w + ow) * g->out_c;
            int ih0 = oh * g->stride_h - g->pad_top, iw0 = ow * g->stride_w - g->pad_left;
            for (int i = 0; i < g->k_h; i++) {
                int ih = ih0 + i;
                if (ih < 0 || ih >= g->in_h)
                    continue;
                for (int j = 0; j < g->k_w; j++) {
                    int iw = iw0 + j;
                    if (iw < 0 || iw >= g->in_w)
                        continue;
                    size_t xo = (((size_t)b * g->in_h + ih) * g->in_w + iw) * C;
                    size_t wo = ((size_t)i * g->k_w + j) * C * M;
                    for (int c = 0; c < C; c++)
                        for (int m = 0; m < M; m++) {
                            float d = dy[c * M + m];
                            if (dw)
                                dw[wo + c * M + m] += d * inp[xo + c];
                            if (dinp)
                                dinp[xo + c] += d * weight[wo + c * M + m];
                        }
                }
            }
        }
}

rt_status rt_cpu_depthwise_conv2d_backward(const rt_window2d *g, float *dinp,
                                           float *dweight, float *dbias,
                                           const float *dout,
                                           const float *inp,
                                           const float *weight)
{
    rt_status st = rt_depthwise_check(g);
    if (st != RT_OK)
        return st;
    if (dbias)
        rt_cpu_bias_backward(dbias, dout, (size_t)g->n * g->out_h * g->out_w,
                             g->out_c);
    if (!dinp && !dweight)
        return RT_OK;
    const size_t wn = (size_t)g->k_h * g->k_w * g->out_c;
    int nt = 1;
#ifdef _OPENMP
    nt = g->n > 1 ? omp_get_max_threads() : 1;
    if (nt > g->n)
        nt = g->n;
#endif
    /* Thread-private weight gradients, summed in a fixed order at the end
     * so the result does not depend on scheduling. */
    float *priv = NULL;
    if (dweight) {
        priv = calloc((size_t)nt * wn, sizeof(float));
        if (!priv)
            return rt_error_set(RT_ERR_NOMEM, "depthwise conv backward: out "
                                "of memory");
    }
    #pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static, 1)
    for (int b = 0; b < g->n; b++) {
        int id = 0;
#ifdef _OPENMP
        id = omp_get_thread_num();
#endif
        rt_depthwise_backward_image(g, dinp, priv ? priv + (size_t)id * wn : NULL,
                                    dout, inp, weight, b);
    }
    if (dweight)
        for (int t = 0; t < nt; t++)
            for (size_t i = 0; i < wn; i++)
                dweight[i] += priv[(size_t)t * wn + i];
    free(priv);
    return RT_OK;
}
