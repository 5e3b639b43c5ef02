/* Dense (fully connected) on the CPU: one GEMM plus a bias row. The weight
 * is Keras' (nin, nout), so no transposition is needed either way. */
#include "cpu_ops.h"

rt_status rt_cpu_dense_forward(float *out, const float *inp,
                               const float *weight, const float *bias, int b,
                               int nin, int nout)
{
    rt_status st = rt_cpu_gemm(0, 0, b, nout, nin, 1.0f, inp, nin, weight,
                               nout, 0.0f, out, nout);
    if (st == RT_OK && bias)
        for (int r = 0; r < b; r++)
            for (int j = 0; j < nout; j++)
                out[(size_t)r * nout + j] += bias[j];
    return st;
}

rt_status rt_cpu_dense_backward(float *dinp, float *dweight, float *dbias,
                                const float *dout, const float *inp,
                                const float *weight, int b, int nin, int nout)
{
    rt_status st = RT_OK;
    if (dbias)
        rt_cpu_bias_backward(dbias, dout, (size_t)b, nout);
    if (dweight) /* (nin, nout) += inp^T (nin, b) . dout (b, nout) */
        st = rt_cpu_gemm(1, 0, nin, nout, b, 1.0f, inp, nin, dout, nout, 1.0f,
                         dweight, nout);
    if (st == RT_OK && dinp) /* (b, nin) += dout (b, nout) . weight^T */
        st = rt_cpu_gemm(0, 1, b, nin, nout, 1.0f, dout, nout, weight, nout,
                         1.0f, dinp, nin);
    return st;
}
