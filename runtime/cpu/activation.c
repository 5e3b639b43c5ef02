/* Activations on the CPU. Backward ops read the forward output, so every
 * activation may run in place; gradients accumulate. */
#include <math.h>

#include "cpu_ops.h"

rt_status rt_cpu_relu_forward(float *out, const float *inp, size_t n)
{
    #pragma omp parallel for if (n > RT_CPU_PARALLEL_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
    return RT_OK;
}

rt_status rt_cpu_relu_backward(float *dinp, const float *dout,
                               const float *out, size_t n)
{
    #pragma omp parallel for if (n > RT_CPU_PARALLEL_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        dinp[i] += out[i] > 0.0f ? dout[i] : 0.0f;
    return RT_OK;
}

rt_status rt_cpu_relu6_forward(float *out, const float *inp, size_t n)
{
    #pragma omp parallel for if (n > RT_CPU_PARALLEL_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i] > 0.0f ? inp[i] : 0.0f;
        out[i] = x < 6.0f ? x : 6.0f;
    }
    return RT_OK;
}

/* TF: gradient where 0 < x < 6, i.e. where 0 < y < 6. */
rt_status rt_cpu_relu6_backward(float *dinp, const float *dout,
                                const float *out, size_t n)
{
    #pragma omp parallel for if (n > RT_CPU_PARALLEL_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        dinp[i] += (out[i] > 0.0f && out[i] < 6.0f) ? dout[i] : 0.0f;
    return RT_OK;
}

rt_status rt_cpu_sigmoid_forward(float *out, const float *inp, size_t n)
{
    #pragma omp parallel for if (n > RT_CPU_PARALLEL_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        /* exp of a non-positive argument only: no overflow either side. */
        if (x >= 0.0f) {
            out[i] = 1.0f / (1.0f + expf(-x));
        } else {
            float e = expf(x);
            out[i] = e / (1.0f + e);
        }
    }
    return RT_OK;
}

rt_status rt_cpu_sigmoid_backward(float *dinp, const float *dout,
                                  const float *out, size_t n)
{
    #pragma omp parallel for if (n > RT_CPU_PARALLEL_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        dinp[i] += dout[i] * out[i] * (1.0f - out[i]);
    return RT_OK;
}

rt_status rt_cpu_softmax_forward(float *out, const float *inp, size_t rows,
                                 int cols)
{
    if (cols <= 0)
        return rt_error_set(RT_ERR_SHAPE, "softmax over %d columns", cols);
    #pragma omp parallel for if (rows * (size_t)cols > RT_CPU_PARALLEL_MIN) \
        schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const float *x = inp + r * cols;
        float *y = out + r * cols;
        float mx = x[0];
        for (int j = 1; j < cols; j++)
            mx = x[j] > mx ? x[j] : mx;
        double sum = 0.0;
        for (int j = 0; j < cols; j++) {
            y[j] = expf(x[j] - mx);
            sum += y[j];
        }
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < cols; j++)
            y[j] *= inv;
    }
    return RT_OK;
}

/* dx_j = y_j * (dy_j - sum_k dy_k y_k) */
rt_status rt_cpu_softmax_backward(float *dinp, const float *dout,
                                  const float *out, size_t rows, int cols)
{
    #pragma omp parallel for if (rows * (size_t)cols > RT_CPU_PARALLEL_MIN) \
        schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const float *y = out + r * cols, *dy = dout + r * cols;
        double dot = 0.0;
        for (int j = 0; j < cols; j++)
            dot += (double)dy[j] * y[j];
        for (int j = 0; j < cols; j++)
            dinp[r * cols + j] += y[j] * (dy[j] - (float)dot);
    }
    return RT_OK;
}
