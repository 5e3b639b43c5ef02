/* Layout ops on the CPU: channel concatenation and zero padding (NHWC). */
#include <string.h>

#include "cpu_ops.h"

static int rt_concat_width(const int *cs, int k)
{
    int total = 0;
    for (int i = 0; i < k; i++) {
        if (cs[i] < 0)
            return -1;
        total += cs[i];
    }
    return total;
}

rt_status rt_cpu_concat_forward(float *out, const float *const *inps,
                                const int *cs, int k, size_t rows)
{
    int width = rt_concat_width(cs, k);
    if (k <= 0 || width < 0)
        return rt_error_set(RT_ERR_SHAPE, "concatenate: bad inputs");
    #pragma omp parallel for if (rows * (size_t)width > RT_CPU_PARALLEL_MIN) \
        schedule(static)
    for (size_t r = 0; r < rows; r++) {
        float *y = out + r * width;
        for (int i = 0; i < k; i++) {
            memcpy(y, inps[i] + r * cs[i], sizeof(float) * (size_t)cs[i]);
            y += cs[i];
        }
    }
    return RT_OK;
}

rt_status rt_cpu_concat_backward(float *const *dinps, const float *dout,
                                 const int *cs, int k, size_t rows)
{
    int width = rt_concat_width(cs, k);
    if (k <= 0 || width < 0)
        return rt_error_set(RT_ERR_SHAPE, "concatenate: bad inputs");
    #pragma omp parallel for if (rows * (size_t)width > RT_CPU_PARALLEL_MIN) \
        schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const float *dy = dout + r * width;
        for (int i = 0; i < k; i++) {
            if (dinps[i]) {
                float *dx = dinps[i] + r * cs[i];
                for (int j = 0; j < cs[i]; j++)
                    dx[j] += dy[j];
            }
            dy += cs[i];
        }
    }
    return RT_OK;
}

static rt_status rt_pad_check(const rt_pad2d *p)
{
    if (p->n <= 0 || p->h <= 0 || p->w <= 0 || p->c <= 0 || p->top < 0
        || p->bottom < 0 || p->left < 0 || p->right < 0)
        return rt_error_set(RT_ERR_SHAPE, "zero padding: sizes must be "
                            "positive and paddings non-negative");
    return RT_OK;
}

rt_status rt_cpu_zeropad2d_forward(const rt_pad2d *p, float *out,
                                   const float *inp)
{
    rt_status st = rt_pad_check(p);
    if (st != RT_OK)
        return st;
    const int oh = p->h + p->top + p->bottom, ow = p->w + p->left + p->right;
    const size_t orow = (size_t)ow * p->c, rows = (size_t)p->n * oh;
    #pragma omp parallel for if (rows * orow > RT_CPU_PARALLEL_MIN) \
        schedule(static)
    for (size_t r = 0; r < rows; r++) {
        int b = (int)(r / (size_t)oh), y = (int)(r % (size_t)oh) - p->top;
        float *dst = out + r * orow;
        if (y < 0 || y >= p->h) {
            memset(dst, 0, sizeof(float) * orow);
            continue;
        }
        const float *src = inp + ((size_t)b * p->h + y) * p->w * p->c;
        memset(dst, 0, sizeof(float) * (size_t)p->left * p->c);
        memcpy(dst + (size_t)p->left * p->c, src,
               sizeof(float) * (size_t)p->w * p->c);
        memset(dst + (size_t)(p->left + p->w) * p->c, 0,
               sizeof(float) * (size_t)p->right * p->c);
    }
    return RT_OK;
}

rt_status rt_cpu_zeropad2d_backward(const rt_pad2d *p, float *dinp,
                                    const float *dout)
{
    rt_status st = rt_pad_check(p);
    if (st != RT_OK)
        return st;
    const int oh = p->h + p->top + p->bottom, ow = p->w + p->left + p->right;
    const size_t irow = (size_t)p->w * p->c, rows = (size_t)p->n * p->h;
    #pragma omp parallel for if (rows * irow > RT_CPU_PARALLEL_MIN) \
        schedule(static)
    for (size_t r = 0; r < rows; r++) {
        int b = (int)(r / (size_t)p->h), y = (int)(r % (size_t)p->h);
        const float *src = dout + (((size_t)b * oh + y + p->top) * ow + p->left) * p->c;
        float *dst = dinp + r * irow;
        for (size_t j = 0; j < irow; j++)
            dst[j] += src[j];
    }
    return RT_OK;
}
