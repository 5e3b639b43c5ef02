/* Optimizer updates on the CPU, in float32 with Keras 2.2.4's operation
 * order (ISO C mode: no FMA contraction changes the rounding). */
#include <math.h>

#include "cpu_ops.h"

rt_status rt_cpu_adam_update(float *param, const float *grad, float *m,
                             float *v, size_t n, float lr_t, float beta1,
                             float beta2, float eps)
{
    const float c1 = 1.0f - beta1, c2 = 1.0f - beta2;
    #pragma omp parallel for if (n > RT_CPU_PARALLEL_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        float mt = beta1 * m[i] + c1 * g;
        float vt = beta2 * v[i] + c2 * (g * g);
        m[i] = mt;
        v[i] = vt;
        param[i] = param[i] - lr_t * mt / (sqrtf(vt) + eps);
    }
    return RT_OK;
}

rt_status rt_cpu_sgd_update(float *param, const float *grad, float *velocity,
                            size_t n, float lr, float momentum, int nesterov)
{
    if (!velocity && momentum != 0.0f)
        return rt_error_set(RT_ERR_ARG, "SGD with momentum needs a velocity "
                            "buffer");
    #pragma omp parallel for if (n > RT_CPU_PARALLEL_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        float vel = (velocity ? momentum * velocity[i] : 0.0f) - lr * g;
        if (velocity)
            velocity[i] = vel;
        param[i] = nesterov ? param[i] + momentum * vel - lr * g
                            : param[i] + vel;
    }
    return RT_OK;
}
