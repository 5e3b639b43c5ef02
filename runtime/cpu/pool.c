/*
 * Pooling on the CPU, NHWC. Padding never takes part: a max ignores padded
 * cells and an average divides by the number of real cells in the window,
 * as TF's 'same' pooling does (a 3x3 corner window divides by 4, an edge
 * window by 6). Forward splits images x output rows across threads;
 * backward splits images, whose input regions are disjoint.
 */
#include <float.h>

#include "cpu_ops.h"

/* Real-cell bounds of the window of output (oh, ow). */
typedef struct rt_win {
    int i0, i1, j0, j1; /* input rows [i0, i1), cols [j0, j1) */
} rt_win;

static inline rt_win rt_window_at(const rt_window2d *g, int oh, int ow)
{
    rt_win w;
    int h0 = oh * g->stride_h - g->pad_top, w0 = ow * g->stride_w - g->pad_left;
    w.i0 = h0 < 0 ? 0 : h0;
    w.i1 = h0 + g->k_h < g->in_h ? h0 + g->k_h : g->in_h;
    w.j0 = w0 < 0 ? 0 : w0;
    w.j1 = w0 + g->k_w < g->in_w ? w0 + g->k_w : g->in_w;
    return w;
}

static rt_status rt_pool_check(const rt_window2d *g)
{
    if (g->out_c != g->in_c)
        return rt_error_set(RT_ERR_SHAPE, "pooling maps %d channels to %d",
                            g->in_c, g->out_c);
    return RT_OK;
}

static inline const float *rt_px(const rt_window2d *g, const float *x, int b,
                                 int ih, int iw)
{
    return x + (((size_t)b * g->in_h + ih) * g->in_w + iw) * g->in_c;
}

rt_status rt_cpu_maxpool2d_forward(const rt_window2d *g, float *out,
                                   const float *inp)
{
    rt_status st = rt_pool_check(g);
    if (st != RT_OK)
        return st;
    const int C = g->in_c;
    const size_t rows = (size_t)g->n * g->out_h;
    #pragma omp parallel for if (rows * g->out_w * (size_t)C * g->k_h * g->k_w \
        > RT_CPU_PARALLEL_MIN) schedule(static)
    for (size_t r = 0; r < rows; r++) {
        int b = (int)(r / (size_t)g->out_h), oh = (int)(r % (size_t)g->out_h);
        for (int ow = 0; ow < g->out_w; ow++) {
            float *y = out + (r * g->out_w + ow) * C;
            rt_win w = rt_window_at(g, oh, ow);
            for (int c = 0; c < C; c++)
                y[c] = -FLT_MAX;
            for (int i = w.i0; i < w.i1; i++)
                for (int j = w.j0; j < w.j1; j++) {
                    const float *x = rt_px(g, inp, b, i, j);
                    for (int c = 0; c < C; c++)
                        y[c] = x[c] > y[c] ? x[c] : y[c];
                }
        }
    }
    return RT_OK;
}

rt_status rt_cpu_maxpool2d_backward(const rt_window2d *g, float *dinp,
                                    const float *dout, const float *inp)
{
    rt_status st = rt_pool_check(g);
    if (st != RT_OK)
        return st;
    const int C = g->in_c;
    #pragma omp parallel for if ((size_t)g->n * g->out_h * g->out_w * C \
        > RT_CPU_PARALLEL_MIN) schedule(static)
    for (int b = 0; b < g->n; b++)
        for (int oh = 0; oh < g->out_h; oh++)
            for (int ow = 0; ow < g->out_w; ow++) {
                const float *dy = dout + (((size_t)b * g->out_h + oh) * g->out_w + ow) * C;
                rt_win w = rt_window_at(g, oh, ow);
                for (int c = 0; c < C; c++) {
                    float best = -FLT_MAX;
                    size_t at = (size_t)-1;
                    for (int i = w.i0; i < w.i1; i++)
                        for (int j = w.j0; j < w.j1; j++) {
                            size_t k = (((size_t)b * g->in_h + i) * g->in_w + j) * C + c;
                            if (at == (size_t)-1 || inp[k] > best) {
                                best = inp[k];
                                at = k;
                            }
                        }
                    if (at != (size_t)-1)
                        dinp[at] += dy[c];
                }
            }
    return RT_OK;
}

rt_status rt_cpu_avgpool2d_forward(const rt_window2d *g, float *out,
                                   const float *inp)
{
    rt_status st = rt_pool_check(g);
    if (st != RT_OK)
        return st;
    const int C = g->in_c;
    const size_t rows = (size_t)g->n * g->out_h;
    #pragma omp parallel for if (rows * g->out_w * (size_t)C * g->k_h * g->k_w \
        > RT_CPU_PARALLEL_MIN) schedule(static)
    for (size_t r = 0; r < rows; r++) {
        int b = (int)(r / (size_t)g->out_h), oh = (int)(r % (size_t)g->out_h);
        for (int ow = 0; ow < g->out_w; ow++) {
            float *y = out + (r * g->out_w + ow) * C;
            rt_win w = rt_window_at(g, oh, ow);
            float count = (float)((w.i1 - w.i0) * (w.j1 - w.j0));
            for (int c = 0; c < C; c++)
                y[c] = 0.0f;
            for (int i = w.i0; i < w.i1; i++)
                for (int j = w.j0; j < w.j1; j++) {
                    const float *x = rt_px(g, inp, b, i, j);
                    for (int c = 0; c < C; c++)
                        y[c] += x[c];
                }
            for (int c = 0; c < C; c++)
                y[c] /= count;
        }
    }
    return RT_OK;
}

rt_status rt_cpu_avgpool2d_backward(const rt_window2d *g, float *dinp,
                                    const float *dout)
{
    rt_status st = rt_pool_check(g);
    if (st != RT_OK)
        return st;
    const int C = g->in_c;
    #pragma omp parallel for if ((size_t)g->n * g->out_h * g->out_w * C \
        * g->k_h * g->k_w > RT_CPU_PARALLEL_MIN) schedule(static)
    for (int b = 0; b < g->n; b++)
        for (int oh = 0; oh < g->out_h; oh++)
            for (int ow = 0; ow < g->out_w; ow++) {
                const float *dy = dout + (((size_t)b * g->out_h + oh) * g->out_w + ow) * C;
                rt_win w = rt_window_at(g, oh, ow);
                float count = (float)((w.i1 - w.i0) * (w.j1 - w.j0));
                for (int i = w.i0; i < w.i1; i++)
                    for (int j = w.j0; j < w.j1; j++) {
                        float *dx = dinp + (((size_t)b * g->in_h + i) * g->in_w + j) * C;
                        for (int c = 0; c < C; c++)
                            dx[c] += dy[c] / count;
                    }
            }
    return RT_OK;
}

rt_status rt_cpu_global_avgpool_forward(float *out, const float *inp, int n,
                                        int hw, int c)
{
    if (hw <= 0)
        return rt_error_set(RT_ERR_SHAPE, "global average pooling over an "
                            "empty image");
    #pragma omp parallel for if ((size_t)n * hw * c > RT_CPU_PARALLEL_MIN) \
        schedule(static)
    for (int b = 0; b < n; b++) {
        float *y = out + (size_t)b * c;
        for (int j = 0; j < c; j++)
            y[j] = 0.0f;
        for (int p = 0; p < hw; p++) {
            const float *x = inp + ((size_t)b * hw + p) * c;
            for (int j = 0; j < c; j++)
                y[j] += x[j];
        }
        for (int j = 0; j < c; j++)
            y[j] /= (float)hw;
    }
    return RT_OK;
}

rt_status rt_cpu_global_avgpool_backward(float *dinp, const float *dout,
                                         int n, int hw, int c)
{
    #pragma omp parallel for if ((size_t)n * hw * c > RT_CPU_PARALLEL_MIN) \
        schedule(static)
    for (int b = 0; b < n; b++)
        for (int p = 0; p < hw; p++) {
            float *dx = dinp + ((size_t)b * hw + p) * c;
            const float *dy = dout + (size_t)b * c;
            for (int j = 0; j < c; j++)
                dx[j] += dy[j] / (float)hw;
        }
    return RT_OK;
}
