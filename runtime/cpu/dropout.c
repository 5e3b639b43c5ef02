/* Inverted dropout on the CPU. Element i is kept when the counter-based
 * uniform u(seed, i) >= rate, i.e. with probability 1 - rate, as TF's
 * floor(keep_prob + u); kept elements are scaled by 1/(1 - rate). */
#include "cpu_ops.h"
#include "rng.h"

rt_status rt_cpu_dropout_forward(float *out, float *mask, const float *inp,
                                 size_t n, float rate, uint64_t seed)
{
    if (!(rate >= 0.0f && rate < 1.0f))
        return rt_error_set(RT_ERR_ARG, "dropout rate must be in [0, 1), "
                            "not %g", (double)rate);
    const float scale = 1.0f / (1.0f - rate);
    #pragma omp parallel for if (n > RT_CPU_PARALLEL_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) {
        mask[i] = rt_rng_hash_uniformf(seed, i) >= rate ? scale : 0.0f;
        out[i] = inp[i] * mask[i];
    }
    return RT_OK;
}

rt_status rt_cpu_dropout_backward(float *dinp, const float *dout,
                                  const float *mask, size_t n)
{
    #pragma omp parallel for if (n > RT_CPU_PARALLEL_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        dinp[i] += dout[i] * mask[i];
    return RT_OK;
}
