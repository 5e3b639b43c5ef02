/*
 * Losses and metrics on the CPU, as Keras 2.2.4 with the TF backend
 * computes them (reference §4.5, §4.6). Element losses are float32 like TF;
 * the batch mean is accumulated in double. Clipping passes no gradient
 * outside [eps, 1 - eps] (TF's clip_by_value gradient is inclusive).
 */
#include <math.h>

#include "cpu_ops.h"

/* Keras' epsilon() = 1e-7 cast to float32; 1 - eps rounds to 0.99999988. */
#define RT_KERAS_EPS 1e-7f

static rt_status rt_loss_check(int b, int k)
{
    if (b <= 0 || k <= 0)
        return rt_error_set(RT_ERR_SHAPE, "loss over a (%d, %d) batch", b, k);
    return RT_OK;
}

static inline float rt_clip(float p)
{
    const float lo = RT_KERAS_EPS, hi = 1.0f - RT_KERAS_EPS;
    return p < lo ? lo : (p > hi ? hi : p);
}

static inline int rt_unclipped(float p)
{
    return p >= RT_KERAS_EPS && p <= 1.0f - RT_KERAS_EPS;
}

/* Keras: logit of the clipped probability, then TF's
 * sigmoid_cross_entropy_with_logits = max(l, 0) - l*y + log1p(exp(-|l|)). */
rt_status rt_cpu_bce_forward(float *loss, const float *prob,
                             const float *target, int b, int k)
{
    rt_status st = rt_loss_check(b, k);
    if (st != RT_OK)
        return st;
    double sum = 0.0;
    for (size_t i = 0; i < (size_t)b * k; i++) {
        float p = rt_clip(prob[i]);
        float l = logf(p / (1.0f - p));
        float e = (l > 0.0f ? l : 0.0f) - l * target[i]
                + log1pf(expf(-fabsf(l)));
        sum += e;
    }
    *loss = (float)(sum / ((double)b * k));
    return RT_OK;
}

/* d/dp of the mean: (p - y) / (p (1 - p)) / (b k) where unclipped. */
rt_status rt_cpu_bce_backward(float *dprob, const float *prob,
                              const float *target, int b, int k)
{
    rt_status st = rt_loss_check(b, k);
    if (st != RT_OK)
        return st;
    const double scale = 1.0 / ((double)b * k);
    for (size_t i = 0; i < (size_t)b * k; i++) {
        if (!rt_unclipped(prob[i]))
            continue;
        double p = prob[i];
        dprob[i] += (float)((p - target[i]) / (p * (1.0 - p)) * scale);
    }
    return RT_OK;
}

/* Keras: q = p / sum(p); loss = -sum(y * log(clip(q))). */
rt_status rt_cpu_cce_forward(float *loss, const float *prob,
                             const float *target, int b, int k)
{
    rt_status st = rt_loss_check(b, k);
    if (st != RT_OK)
        return st;
    double total = 0.0;
    for (int r = 0; r < b; r++) {
        const float *p = prob + (size_t)r * k, *y = target + (size_t)r * k;
        float s = 0.0f, e = 0.0f;
        for (int j = 0; j < k; j++)
            s += p[j];
        for (int j = 0; j < k; j++)
            e += y[j] * logf(rt_clip(p[j] / s));
        total += -e;
    }
    *loss = (float)(total / b);
    return RT_OK;
}

/* With q = p/s and g_j = dL/dq_j = -y_j / q_j (0 where clipped):
 * dL/dp_j = (g_j - sum_m g_m q_m) / s. */
rt_status rt_cpu_cce_backward(float *dprob, const float *prob,
                              const float *target, int b, int k)
{
    rt_status st = rt_loss_check(b, k);
    if (st != RT_OK)
        return st;
    for (int r = 0; r < b; r++) {
        const float *p = prob + (size_t)r * k, *y = target + (size_t)r * k;
        double s = 0.0, gq = 0.0;
        for (int j = 0; j < k; j++)
            s += p[j];
        for (int j = 0; j < k; j++) {
            double q = p[j] / s;
            if (rt_unclipped((float)q))
                gq += -y[j]; /* g_j * q_j */
        }
        for (int j = 0; j < k; j++) {
            double q = p[j] / s;
            double g = rt_unclipped((float)q) ? -y[j] / q : 0.0;
            dprob[(size_t)r * k + j] += (float)((g - gq) / s / b);
        }
    }
    return RT_OK;
}

rt_status rt_cpu_binary_accuracy(float *acc, const float *prob,
                                 const float *target, int b, int k)
{
    rt_status st = rt_loss_check(b, k);
    if (st != RT_OK)
        return st;
    size_t hits = 0;
    for (size_t i = 0; i < (size_t)b * k; i++)
        hits += target[i] == nearbyintf(prob[i]); /* half to even, as tf.round */
    *acc = (float)((double)hits / ((double)b * k));
    return RT_OK;
}

static int rt_argmax(const float *x, int k)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (x[j] > x[best])
            best = j;
    return best;
}

rt_status rt_cpu_categorical_accuracy(float *acc, const float *prob,
                                      const float *target, int b, int k)
{
    rt_status st = rt_loss_check(b, k);
    if (st != RT_OK)
        return st;
    int hits = 0;
    for (int r = 0; r < b; r++)
        hits += rt_argmax(target + (size_t)r * k, k)
                == rt_argmax(prob + (size_t)r * k, k);
    *acc = (float)((double)hits / b);
    return RT_OK;
}
