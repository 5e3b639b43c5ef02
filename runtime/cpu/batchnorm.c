/*
 * Batch normalization on the CPU over (rows, c), rows = n*h*w (NHWC).
 *
 * Per-channel sums run over row ranges, one range per thread, accumulated
 * in double and combined in thread order: the result is reproducible for a
 * given thread count. Backward recomputes x-hat from the input and the saved
 * batch statistics instead of keeping a normalised copy (one less slab per
 * BN layer; InceptionV3 has 94).
 *
 * Which mode a layer uses is the caller's choice. The runtime follows Keras
 * 2.2.x (reference §4.3): during fit every BN layer, frozen or not,
 * normalises with batch statistics (forward_train); a frozen layer only
 * skips its beta gradient and its moving update. evaluate/predict use
 * forward_infer. The tf.keras 2.x behaviour (frozen = inference mode) is
 * forward_infer + backward_infer.
 */
#include <math.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu_ops.h"

static int rt_bn_threads(size_t rows, int c)
{
#ifdef _OPENMP
    if (rows * (size_t)c > RT_CPU_PARALLEL_MIN && rows >= 2) {
        int nt = omp_get_max_threads();
        return (size_t)nt > rows ? (int)rows : nt;
    }
#endif
    (void)rows;
    (void)c;
    return 1;
}

/* sums[0..c) = sum_r a[r][j], sums[c..2c) = sum_r a[r][j] * b[r][j] where
 * b is (x - center) * scale when `x` is given (scale may be NULL: 1), and
 * for the variance pass a is x - center squared. `mode` picks:
 *   0: sum x and sum (x - center)^2           (a = x, second = squares)
 *   1: sum dy and sum dy * (x - center)*scale (a = dy, second = dy*xhat) */
static rt_status rt_bn_sums(double *sums, int mode, const float *a,
                            const float *x, const double *center,
                            const double *scale, size_t rows, int c)
{
    int nt = rt_bn_threads(rows, c);
    double *part = calloc((size_t)nt * 2 * c, sizeof(double));
    if (!part)
        return rt_error_set(RT_ERR_NOMEM, "batch norm: out of memory");
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int id = 0;
#ifdef _OPENMP
        id = omp_get_thread_num();
#endif
        size_t r0 = rows * (size_t)id / nt, r1 = rows * (size_t)(id + 1) / nt;
        double *s1 = part + (size_t)id * 2 * c, *s2 = s1 + c;
        for (size_t r = r0; r < r1; r++) {
            const float *ar = a + r * c, *xr = x + r * c;
            if (mode == 0) {
                for (int j = 0; j < c; j++) {
                    double d = (double)ar[j] - center[j];
                    s1[j] += ar[j];
                    s2[j] += d * d;
                }
            } else {
                for (int j = 0; j < c; j++) {
                    s1[j] += ar[j];
                    s2[j] += (double)ar[j] * (((double)xr[j] - center[j]) * scale[j]);
                }
            }
        }
    }
    for (int j = 0; j < 2 * c; j++) {
        sums[j] = 0.0;
        for (int t = 0; t < nt; t++)
            sums[j] += part[(size_t)t * 2 * c + j];
    }
    free(part);
    return RT_OK;
}

/* out = x * scale + shift, per channel. */
static void rt_bn_apply(float *out, const float *inp, const float *scale,
                        const float *shift, size_t rows, int c)
{
    #pragma omp parallel for if (rows * (size_t)c > RT_CPU_PARALLEL_MIN) \
        schedule(static)
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < c; j++)
            out[r * c + j] = inp[r * c + j] * scale[j] + shift[j];
}

/* scale = gamma / sqrt(var + eps), shift = beta - mean * scale. */
static void rt_bn_affine(float *scale, float *shift, const float *gamma,
                         const float *beta, const double *mean,
                         const double *var, int c, float eps)
{
    for (int j = 0; j < c; j++) {
        double inv = 1.0 / sqrt(var[j] + (double)eps);
        double s = (gamma ? gamma[j] : 1.0) * inv;
        scale[j] = (float)s;
        shift[j] = (float)((beta ? beta[j] : 0.0) - mean[j] * s);
    }
}

static rt_status rt_bn_normalize(float *out, const float *inp,
                                 const float *gamma, const float *beta,
                                 const double *mean, const double *var,
                                 size_t rows, int c, float eps)
{
    float *coef = malloc(2 * (size_t)c * sizeof(float));
    if (!coef)
        return rt_error_set(RT_ERR_NOMEM, "batch norm: out of memory");
    rt_bn_affine(coef, coef + c, gamma, beta, mean, var, c, eps);
    rt_bn_apply(out, inp, coef, coef + c, rows, c);
    free(coef);
    return RT_OK;
}

rt_status rt_cpu_batchnorm_forward_train(float *out, float *batch_mean,
                                         float *batch_var, const float *inp,
                                         const float *gamma, const float *beta,
                                         size_t rows, int c, float eps)
{
    if (rows == 0 || c <= 0)
        return rt_error_set(RT_ERR_SHAPE, "batch norm over %zu rows of %d "
                            "channels", rows, c);
    double *st = calloc(4 * (size_t)c, sizeof(double));
    if (!st)
        return rt_error_set(RT_ERR_NOMEM, "batch norm: out of memory");
    double *mean = st, *var = st + c, *sums = st + 2 * (size_t)c;
    /* Pass 1 with center 0 gives the sums; pass 2 the centred squares
     * (two passes: a one-pass E[x^2]-E[x]^2 loses digits on large means). */
    rt_status s = rt_bn_sums(sums, 0, inp, inp, mean, NULL, rows, c);
    for (int j = 0; s == RT_OK && j < c; j++)
        mean[j] = sums[j] / (double)rows;
    if (s == RT_OK)
        s = rt_bn_sums(sums, 0, inp, inp, mean, NULL, rows, c);
    for (int j = 0; s == RT_OK && j < c; j++) {
        var[j] = sums[c + j] / (double)rows;
        batch_mean[j] = (float)mean[j];
        batch_var[j] = (float)var[j];
    }
    if (s == RT_OK)
        s = rt_bn_normalize(out, inp, gamma, beta, mean, var, rows, c, eps);
    free(st);
    return s;
}

rt_status rt_cpu_batchnorm_forward_infer(float *out, const float *inp,
                                         const float *gamma, const float *beta,
                                         const float *moving_mean,
                                         const float *moving_var, size_t rows,
                                         int c, float eps)
{
    double *st = calloc(2 * (size_t)c, sizeof(double));
    if (!st)
        return rt_error_set(RT_ERR_NOMEM, "batch norm: out of memory");
    for (int j = 0; j < c; j++) {
        st[j] = moving_mean[j];
        st[c + j] = moving_var[j];
    }
    rt_status s = rt_bn_normalize(out, inp, gamma, beta, st, st + c, rows, c,
                                  eps);
    free(st);
    return s;
}

/* Shared backward: with `full`, the batch-statistics form (mean and var
 * depend on x); otherwise the statistics are constants. */
static rt_status rt_bn_backward(float *dinp, float *dgamma, float *dbeta,
                                const float *dout, const float *inp,
                                const float *gamma, const float *mean_f,
                                const float *var_f, size_t rows, int c,
                                float eps, int full)
{
    double *st = calloc(5 * (size_t)c, sizeof(double));
    if (!st)
        return rt_error_set(RT_ERR_NOMEM, "batch norm: out of memory");
    double *mean = st, *inv = st + c, *sums = st + 2 * (size_t)c;
    for (int j = 0; j < c; j++) {
        mean[j] = mean_f[j];
        inv[j] = 1.0 / sqrt((double)var_f[j] + (double)eps);
    }
    rt_status s = rt_bn_sums(sums, 1, dout, inp, mean, inv, rows, c);
    if (s != RT_OK) {
        free(st);
        return s;
    }
    const double *sum_dy = sums, *sum_dyx = sums + c;
    for (int j = 0; j < c; j++) {
        if (dbeta)
            dbeta[j] += (float)sum_dy[j];
        if (dgamma)
            dgamma[j] += (float)sum_dyx[j];
    }
    if (dinp) {
        float *k = malloc(4 * (size_t)c * sizeof(float));
        if (!k) {
            free(st);
            return rt_error_set(RT_ERR_NOMEM, "batch norm: out of memory");
        }
        /* dx = g*inv * (dy - [full] (sum_dy + xhat*sum_dyx)/rows), with
         * xhat = (x - mean)*inv, as dx = a*dy - b - d*(x - mean). */
        float *ka = k, *kb = k + c, *kd = k + 2 * (size_t)c, *km = k + 3 * (size_t)c;
        for (int j = 0; j < c; j++) {
            double gi = (gamma ? gamma[j] : 1.0) * inv[j];
            ka[j] = (float)gi;
            kb[j] = full ? (float)(gi * sum_dy[j] / rows) : 0.0f;
            kd[j] = full ? (float)(gi * sum_dyx[j] / rows * inv[j]) : 0.0f;
            km[j] = mean_f[j];
        }
        #pragma omp parallel for if (rows * (size_t)c > RT_CPU_PARALLEL_MIN) \
            schedule(static)
        for (size_t r = 0; r < rows; r++)
            for (int j = 0; j < c; j++)
                dinp[r * c + j] += ka[j] * dout[r * c + j] - kb[j]
                                 - kd[j] * (inp[r * c + j] - km[j]);
        free(k);
    }
    free(st);
    return RT_OK;
}

rt_status rt_cpu_batchnorm_backward_train(float *dinp, float *dgamma,
                                          float *dbeta, const float *dout,
                                          const float *inp, const float *gamma,
                                          const float *batch_mean,
                                          const float *batch_var, size_t rows,
                                          int c, float eps)
{
    return rt_bn_backward(dinp, dgamma, dbeta, dout, inp, gamma, batch_mean,
                          batch_var, rows, c, eps, 1);
}

rt_status rt_cpu_batchnorm_backward_infer(float *dinp, float *dgamma,
                                          float *dbeta, const float *dout,
                                          const float *inp, const float *gamma,
                                          const float *moving_mean,
                                          const float *moving_var, size_t rows,
                                          int c, float eps)
{
    return rt_bn_backward(dinp, dgamma, dbeta, dout, inp, gamma, moving_mean,
                          moving_var, rows, c, eps, 0);
}

rt_status rt_cpu_batchnorm_moving_update(float *moving_mean, float *moving_var,
                                         float *acc_mean, float *acc_var,
                                         const float *batch_mean,
                                         const float *batch_var, int c,
                                         int64_t step, float momentum,
                                         float var_correction)
{
    const float rate = 1.0f - momentum;
    if (!acc_mean != !acc_var)
        return rt_error_set(RT_ERR_ARG, "batch norm moving update: give both "
                            "accumulators or neither");
    if (acc_mean && step < 1)
        return rt_error_set(RT_ERR_ARG, "batch norm moving update: step %lld "
                            "(counted from 1)", (long long)step);
    /* TF computes 1 - decay^step in float32. */
    float debias = acc_mean ? 1.0f - powf(momentum, (float)step) : 1.0f;
    for (int j = 0; j < c; j++) {
        float vm = batch_mean[j], vv = batch_var[j] * var_correction;
        if (acc_mean) {
            acc_mean[j] -= (acc_mean[j] - vm) * rate;
            acc_var[j] -= (acc_var[j] - vv) * rate;
            moving_mean[j] = acc_mean[j] / debias;
            moving_var[j] = acc_var[j] / debias;
        } else {
            moving_mean[j] -= (moving_mean[j] - vm) * rate;
            moving_var[j] -= (moving_var[j] - vv) * rate;
        }
    }
    return RT_OK;
}
