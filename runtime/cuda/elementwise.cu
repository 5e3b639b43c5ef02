/*
 * elementwise.cu - every op of the table that is neither cuBLAS nor cuDNN:
 * fills, activations, softmax, dropout, layout ops, global average pooling,
 * losses and metrics, optimizer updates and the batch-norm moving update.
 *
 * Each op follows its CPU reference in runtime/cpu/ operation for
 * operation. This file is compiled without fused multiply-add contraction
 * (CMakeLists.txt), as the CPU backend is, so where the CPU does the same
 * float operations in the same order (the optimizers, dropout, bias and
 * pooling sums) the GPU gives the same bits; sums the CPU accumulates in
 * double are accumulated in double here too, in another order. Library
 * functions (expf, logf) may differ from glibc's in the last place.
 *
 * Kernels use grid-stride loops over size_t indices; losses and metrics
 * reduce on the device in one block, in a fixed order, and copy one double
 * back (they return host scalars, so they wait for the stream).
 */
#include <math.h>

#include "cuda_internal.h"

#define CU_FOR(i, n)                                                           \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);    \
         i += (size_t)gridDim.x * blockDim.x)

/* Keras' epsilon() = 1e-7 as float32 (runtime/cpu/loss.c). */
#define CU_KERAS_EPS 1e-7f

/* Sum of v over a block of CU_THREADS threads, in a fixed order. Once per
 * kernel (the shared array is not reset). */
static __device__ double cu_block_sum(double v)
{
    __shared__ double part[CU_THREADS];
    part[threadIdx.x] = v;
    __syncthreads();
    for (int s = CU_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s)
            part[threadIdx.x] += part[threadIdx.x + s];
        __syncthreads();
    }
    return part[0];
}

/* A device double, the result of a reduction, onto the host. */
static rt_status cu_fetch(double *out, const double *dev, const char *what)
{
    rt_status st = cu_check_cuda(cudaMemcpyAsync(out, dev, sizeof *out,
                                                 cudaMemcpyDeviceToHost, cu.stream),
                                 what);
    if (st == RT_OK)
        st = cu_check_cuda(cudaStreamSynchronize(cu.stream), what);
    return st;
}

/* ---- fill, axpy, scale ---- */

static __global__ void cu_fill_kernel(float *x, size_t n, float value)
{
    CU_FOR(i, n) x[i] = value;
}

static __global__ void cu_axpy_kernel(float *y, const float *x, size_t n, float alpha)
{
    CU_FOR(i, n) y[i] += alpha * x[i];
}

static __global__ void cu_scale_kernel(float *x, size_t n, float alpha)
{
    CU_FOR(i, n) x[i] *= alpha;
}

static rt_status cu_fill(float *x, size_t n, float value)
{
    CU_ALIVE();
    if (n == 0)
        return RT_OK;
    if (value == 0.0f)
        return cu_check_cuda(cudaMemsetAsync(x, 0, n * sizeof *x, cu.stream),
                             "filling a tensor");
    cu_fill_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(x, n, value);
    return cu_check_launch("filling a tensor");
}

static rt_status cu_axpy(float *y, const float *x, size_t n, float alpha)
{
    CU_ALIVE();
    if (n == 0)
        return RT_OK;
    cu_axpy_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(y, x, n, alpha);
    return cu_check_launch("adding tensors");
}

static rt_status cu_scale(float *x, size_t n, float alpha)
{
    CU_ALIVE();
    if (n == 0)
        return RT_OK;
    cu_scale_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(x, n, alpha);
    return cu_check_launch("scaling a tensor");
}

/* ---- activations (backward reads the forward output) ---- */

static __global__ void cu_relu_fwd_kernel(float *out, const float *inp, size_t n)
{
    CU_FOR(i, n) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

static __global__ void cu_relu_bwd_kernel(float *dinp, const float *dout,
                                          const float *out, size_t n)
{
    CU_FOR(i, n) dinp[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

static __global__ void cu_relu6_fwd_kernel(float *out, const float *inp, size_t n)
{
    CU_FOR(i, n) {
        float x = inp[i] > 0.0f ? inp[i] : 0.0f;
        out[i] = x < 6.0f ? x : 6.0f;
    }
}

static __global__ void cu_relu6_bwd_kernel(float *dinp, const float *dout,
                                           const float *out, size_t n)
{
    CU_FOR(i, n) dinp[i] += (out[i] > 0.0f && out[i] < 6.0f) ? dout[i] : 0.0f;
}

static __global__ void cu_sigmoid_fwd_kernel(float *out, const float *inp, size_t n)
{
    CU_FOR(i, n) {
        float x = inp[i];
        if (x >= 0.0f) {
            out[i] = 1.0f / (1.0f + expf(-x));
        } else {
            float e = expf(x);
            out[i] = e / (1.0f + e);
        }
    }
}

static __global__ void cu_sigmoid_bwd_kernel(float *dinp, const float *dout,
                                             const float *out, size_t n)
{
    CU_FOR(i, n) dinp[i] += dout[i] * out[i] * (1.0f - out[i]);
}

#define CU_UNARY_OP(name, kernel, what)                                        \
    static rt_status name(float *out, const float *inp, size_t n)              \
    {                                                                          \
        CU_ALIVE();                                                            \
        if (n == 0)                                                            \
            return RT_OK;                                                      \
        kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(out, inp, n);       \
        return cu_check_launch(what);                                          \
    }

#define CU_GRAD_OP(name, kernel, what)                                         \
    static rt_status name(float *dinp, const float *dout, const float *out,    \
                          size_t n)                                            \
    {                                                                          \
        CU_ALIVE();                                                            \
        if (n == 0)                                                            \
            return RT_OK;                                                      \
        kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(dinp, dout, out, n); \
        return cu_check_launch(what);                                          \
    }

CU_UNARY_OP(cu_relu_forward, cu_relu_fwd_kernel, "computing a ReLU")
CU_GRAD_OP(cu_relu_backward, cu_relu_bwd_kernel, "computing a ReLU gradient")
CU_UNARY_OP(cu_relu6_forward, cu_relu6_fwd_kernel, "computing a ReLU6")
CU_GRAD_OP(cu_relu6_backward, cu_relu6_bwd_kernel, "computing a ReLU6 gradient")
CU_UNARY_OP(cu_sigmoid_forward, cu_sigmoid_fwd_kernel, "computing a sigmoid")
CU_GRAD_OP(cu_sigmoid_backward, cu_sigmoid_bwd_kernel,
           "computing a sigmoid gradient")

/* ---- softmax over the last axis: one warp per row ----
 * The maximum is taken as the CPU does (starting from x[0], so a NaN there
 * poisons the row and a NaN elsewhere is skipped); the sum of the exps is
 * in double. Safe in place: every lane reads x[0] before the first
 * shuffle, and then each lane reads and writes only its own columns. */

static __device__ double cu_warp_sum(double v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __global__ void cu_softmax_fwd_kernel(float *out, const float *inp,
                                             size_t rows, int cols)
{
    const int lane = threadIdx.x & 31;
    const size_t nwarps = ((size_t)gridDim.x * blockDim.x) >> 5;
    for (size_t r = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5;
         r < rows; r += nwarps) {
        const float *x = inp + r * cols;
        float *y = out + r * cols;
        float mx = x[0];
        for (int j = lane; j < cols; j += 32)
            mx = x[j] > mx ? x[j] : mx;
        for (int o = 16; o > 0; o >>= 1) {
            float other = __shfl_xor_sync(0xffffffffu, mx, o);
            mx = other > mx ? other : mx;
        }
        double sum = 0.0;
        for (int j = lane; j < cols; j += 32) {
            y[j] = expf(x[j] - mx);
            sum += y[j];
        }
        float inv = (float)(1.0 / cu_warp_sum(sum));
        for (int j = lane; j < cols; j += 32)
            y[j] *= inv;
    }
}

/* dx_j += y_j * (dy_j - sum_k dy_k y_k) */
static __global__ void cu_softmax_bwd_kernel(float *dinp, const float *dout,
                                             const float *out, size_t rows, int cols)
{
    const int lane = threadIdx.x & 31;
    const size_t nwarps = ((size_t)gridDim.x * blockDim.x) >> 5;
    for (size_t r = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5;
         r < rows; r += nwarps) {
        const float *y = out + r * cols, *dy = dout + r * cols;
        double dot = 0.0;
        for (int j = lane; j < cols; j += 32)
            dot += (double)dy[j] * y[j];
        float fdot = (float)cu_warp_sum(dot);
        for (int j = lane; j < cols; j += 32)
            dinp[r * cols + j] += y[j] * (dy[j] - fdot);
    }
}

static rt_status cu_softmax_forward(float *out, const float *inp, size_t rows,
                                    int cols)
{
    if (cols <= 0)
        return cu.host->error_set(RT_ERR_SHAPE, "softmax over %d columns", cols);
    CU_ALIVE();
    if (rows == 0)
        return RT_OK;
    cu_softmax_fwd_kernel<<<cu_blocks(rows * 32), CU_THREADS, 0, cu.stream>>>(
        out, inp, rows, cols);
    return cu_check_launch("computing a softmax");
}

static rt_status cu_softmax_backward(float *dinp, const float *dout,
                                     const float *out, size_t rows, int cols)
{
    CU_ALIVE();
    if (rows == 0 || cols <= 0)
        return RT_OK;
    cu_softmax_bwd_kernel<<<cu_blocks(rows * 32), CU_THREADS, 0, cu.stream>>>(
        dinp, dout, out, rows, cols);
    return cu_check_launch("computing a softmax gradient");
}

/* ---- dropout: the CPU's counter-based hash, bit for bit (runtime/rng.c:
 * rt_rng_hash and rt_rng_hash_uniformf), so both devices drop the same
 * elements for the same seed ---- */

static __device__ uint64_t cu_rng_hash(uint64_t key, uint64_t counter)
{
    uint64_t m = counter * 0xd1342543de82ef95ULL;
    uint64_t x = key ^ ((m << 31) | (m >> 33));
    x ^= counter;
    uint64_t z = x + 0x9e3779b97f4a7c15ULL; /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static __global__ void cu_dropout_fwd_kernel(float *out, float *mask, const float *inp,
                                             size_t n, float rate, float scale,
                                             uint64_t seed)
{
    CU_FOR(i, n) {
        float u = (float)(cu_rng_hash(seed, i) >> 40) * (1.0f / 16777216.0f);
        mask[i] = u >= rate ? scale : 0.0f;
        out[i] = inp[i] * mask[i];
    }
}

static __global__ void cu_dropout_bwd_kernel(float *dinp, const float *dout,
                                             const float *mask, size_t n)
{
    CU_FOR(i, n) dinp[i] += dout[i] * mask[i];
}

static rt_status cu_dropout_forward(float *out, float *mask, const float *inp,
                                    size_t n, float rate, uint64_t seed)
{
    if (!(rate >= 0.0f && rate < 1.0f))
        return cu.host->error_set(RT_ERR_ARG, "dropout rate must be in [0, 1), "
                                  "not %g", (double)rate);
    CU_ALIVE();
    if (n == 0)
        return RT_OK;
    const float scale = 1.0f / (1.0f - rate);
    cu_dropout_fwd_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(
        out, mask, inp, n, rate, scale, seed);
    return cu_check_launch("applying dropout");
}

static rt_status cu_dropout_backward(float *dinp, const float *dout,
                                     const float *mask, size_t n)
{
    CU_ALIVE();
    if (n == 0)
        return RT_OK;
    cu_dropout_bwd_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(
        dinp, dout, mask, n);
    return cu_check_launch("computing a dropout gradient");
}

/* ---- concatenation on the last axis: one launch per input ---- */

/* out[r][off + j] = x[r][j] for x (rows, c), out (rows, width). */
static __global__ void cu_concat_fwd_kernel(float *out, const float *x, size_t rows,
                                            int c, int width, int off)
{
    CU_FOR(i, rows * (size_t)c) {
        size_t r = i / (size_t)c, j = i % (size_t)c;
        out[r * width + off + j] = x[i];
    }
}

static __global__ void cu_concat_bwd_kernel(float *dx, const float *dout, size_t rows,
                                            int c, int width, int off)
{
    CU_FOR(i, rows * (size_t)c) {
        size_t r = i / (size_t)c, j = i % (size_t)c;
        dx[i] += dout[r * width + off + j];
    }
}

static int cu_concat_width(const int *cs, int k)
{
    int total = 0;
    for (int i = 0; i < k; i++) {
        if (cs[i] < 0)
            return -1;
        total += cs[i];
    }
    return total;
}

static rt_status cu_concat_forward(float *out, const float *const *inps,
                                   const int *cs, int k, size_t rows)
{
    int width = k > 0 ? cu_concat_width(cs, k) : -1;
    if (width < 0)
        return cu.host->error_set(RT_ERR_SHAPE, "concatenate: bad inputs");
    CU_ALIVE();
    for (int i = 0, off = 0; i < k; off += cs[i], i++) {
        size_t n = rows * (size_t)cs[i];
        if (n == 0)
            continue;
        cu_concat_fwd_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(
            out, inps[i], rows, cs[i], width, off);
        rt_status st = cu_check_launch("concatenating tensors");
        if (st != RT_OK)
            return st;
    }
    return RT_OK;
}

static rt_status cu_concat_backward(float *const *dinps, const float *dout,
                                    const int *cs, int k, size_t rows)
{
    int width = k > 0 ? cu_concat_width(cs, k) : -1;
    if (width < 0)
        return cu.host->error_set(RT_ERR_SHAPE, "concatenate: bad inputs");
    CU_ALIVE();
    for (int i = 0, off = 0; i < k; off += cs[i], i++) {
        size_t n = rows * (size_t)cs[i];
        if (n == 0 || !dinps[i])
            continue;
        cu_concat_bwd_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(
            dinps[i], dout, rows, cs[i], width, off);
        rt_status st = cu_check_launch("computing a concatenation gradient");
        if (st != RT_OK)
            return st;
    }
    return RT_OK;
}

/* ---- zero padding (NHWC) ---- */

static __global__ void cu_zeropad_fwd_kernel(rt_pad2d p, float *out, const float *inp)
{
    const int oh = p.h + p.top + p.bottom, ow = p.w + p.left + p.right;
    CU_FOR(i, (size_t)p.n * oh * ow * p.c) {
        size_t t = i / (size_t)p.c;
        int ch = (int)(i % (size_t)p.c);
        int x = (int)(t % (size_t)ow) - p.left;
        t /= (size_t)ow;
        int y = (int)(t % (size_t)oh) - p.top;
        size_t b = t / (size_t)oh;
        out[i] = (y >= 0 && y < p.h && x >= 0 && x < p.w)
                 ? inp[((b * p.h + y) * p.w + x) * p.c + ch] : 0.0f;
    }
}

static __global__ void cu_zeropad_bwd_kernel(rt_pad2d p, float *dinp, const float *dout)
{
    const int oh = p.h + p.top + p.bottom, ow = p.w + p.left + p.right;
    CU_FOR(i, (size_t)p.n * p.h * p.w * p.c) {
        size_t t = i / (size_t)p.c;
        int ch = (int)(i % (size_t)p.c);
        int x = (int)(t % (size_t)p.w);
        t /= (size_t)p.w;
        int y = (int)(t % (size_t)p.h);
        size_t b = t / (size_t)p.h;
        dinp[i] += dout[((b * oh + y + p.top) * ow + x + p.left) * p.c + ch];
    }
}

static rt_status cu_pad_check(const rt_pad2d *p)
{
    if (p->n <= 0 || p->h <= 0 || p->w <= 0 || p->c <= 0 || p->top < 0
        || p->bottom < 0 || p->left < 0 || p->right < 0)
        return cu.host->error_set(RT_ERR_SHAPE, "zero padding: sizes must be "
                                  "positive and paddings non-negative");
    return RT_OK;
}

static rt_status cu_zeropad2d_forward(const rt_pad2d *p, float *out,
                                      const float *inp)
{
    rt_status st = cu_pad_check(p);
    if (st != RT_OK)
        return st;
    CU_ALIVE();
    size_t n = (size_t)p->n * (p->h + p->top + p->bottom)
             * (p->w + p->left + p->right) * p->c;
    cu_zeropad_fwd_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(*p, out, inp);
    return cu_check_launch("zero-padding a tensor");
}

static rt_status cu_zeropad2d_backward(const rt_pad2d *p, float *dinp,
                                       const float *dout)
{
    rt_status st = cu_pad_check(p);
    if (st != RT_OK)
        return st;
    CU_ALIVE();
    size_t n = (size_t)p->n * p->h * p->w * p->c;
    cu_zeropad_bwd_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(*p, dinp, dout);
    return cu_check_launch("computing a zero-padding gradient");
}

/* ---- global average pooling: one thread per (image, channel), summing
 * the positions in order in float as the CPU does ---- */

static __global__ void cu_gap_fwd_kernel(float *out, const float *inp, int n, int hw,
                                         int c)
{
    CU_FOR(i, (size_t)n * c) {
        size_t b = i / (size_t)c, j = i % (size_t)c;
        const float *x = inp + b * hw * c + j;
        float y = 0.0f;
        for (int p = 0; p < hw; p++)
            y += x[(size_t)p * c];
        out[i] = y / (float)hw;
    }
}

static __global__ void cu_gap_bwd_kernel(float *dinp, const float *dout, int n, int hw,
                                         int c)
{
    CU_FOR(i, (size_t)n * hw * c) {
        size_t b = i / ((size_t)hw * c), j = i % (size_t)c;
        dinp[i] += dout[b * c + j] / (float)hw;
    }
}

static rt_status cu_global_avgpool_forward(float *out, const float *inp, int n,
                                           int hw, int c)
{
    if (hw <= 0)
        return cu.host->error_set(RT_ERR_SHAPE, "global average pooling over "
                                  "an empty image");
    CU_ALIVE();
    if (n <= 0 || c <= 0)
        return RT_OK;
    cu_gap_fwd_kernel<<<cu_blocks((size_t)n * c), CU_THREADS, 0, cu.stream>>>(
        out, inp, n, hw, c);
    return cu_check_launch("computing a global average pooling");
}

static rt_status cu_global_avgpool_backward(float *dinp, const float *dout,
                                            int n, int hw, int c)
{
    CU_ALIVE();
    if (n <= 0 || hw <= 0 || c <= 0)
        return RT_OK;
    cu_gap_bwd_kernel<<<cu_blocks((size_t)n * hw * c), CU_THREADS, 0,
                        cu.stream>>>(dinp, dout, n, hw, c);
    return cu_check_launch("computing a global average pooling gradient");
}

/* ---- losses and metrics (Keras 2.2.4, as runtime/cpu/loss.c) ---- */

static __device__ float cu_clip(float p)
{
    const float lo = CU_KERAS_EPS, hi = 1.0f - CU_KERAS_EPS;
    return p < lo ? lo : (p > hi ? hi : p);
}

static __device__ int cu_unclipped(float p)
{
    return p >= CU_KERAS_EPS && p <= 1.0f - CU_KERAS_EPS;
}

/* *sum = sum over i of TF's sigmoid_cross_entropy_with_logits on the logit
 * of the clipped probability. One block. */
static __global__ void cu_bce_sum_kernel(double *sum, const float *prob,
                                         const float *target, size_t n)
{
    double acc = 0.0;
    for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
        float p = cu_clip(prob[i]);
        float l = logf(p / (1.0f - p));
        float e = (l > 0.0f ? l : 0.0f) - l * target[i]
                + log1pf(expf(-fabsf(l)));
        acc += e;
    }
    double total = cu_block_sum(acc);
    if (threadIdx.x == 0)
        *sum = total;
}

static __global__ void cu_bce_bwd_kernel(float *dprob, const float *prob,
                                         const float *target, size_t n, double scale)
{
    CU_FOR(i, n) {
        if (!cu_unclipped(prob[i]))
            continue;
        double p = prob[i];
        dprob[i] += (float)((p - target[i]) / (p * (1.0 - p)) * scale);
    }
}

/* Per row: q = p / sum(p), loss = -sum(y * log(clip(q))); *sum over rows. */
static __global__ void cu_cce_sum_kernel(double *sum, const float *prob,
                                         const float *target, int b, int k)
{
    double acc = 0.0;
    for (int r = threadIdx.x; r < b; r += blockDim.x) {
        const float *p = prob + (size_t)r * k, *y = target + (size_t)r * k;
        float s = 0.0f, e = 0.0f;
        for (int j = 0; j < k; j++)
            s += p[j];
        for (int j = 0; j < k; j++)
            e += y[j] * logf(cu_clip(p[j] / s));
        acc += -e;
    }
    double total = cu_block_sum(acc);
    if (threadIdx.x == 0)
        *sum = total;
}

/* With g_j = -y_j / q_j (0 where clipped): dp_j += (g_j - sum g q) / s / b. */
static __global__ void cu_cce_bwd_kernel(float *dprob, const float *prob,
                                         const float *target, int b, int k)
{
    CU_FOR(r, (size_t)b) {
        const float *p = prob + r * k, *y = target + r * k;
        double s = 0.0, gq = 0.0;
        for (int j = 0; j < k; j++)
            s += p[j];
        for (int j = 0; j < k; j++) {
            double q = p[j] / s;
            if (cu_unclipped((float)q))
                gq += -y[j];
        }
        for (int j = 0; j < k; j++) {
            double q = p[j] / s;
            double g = cu_unclipped((float)q) ? -y[j] / q : 0.0;
            dprob[r * k + j] += (float)((g - gq) / s / b);
        }
    }
}

/* Hits of target == round(prob), rint rounding half to even as tf.round. */
static __global__ void cu_binary_hits_kernel(double *hits, const float *prob,
                                             const float *target, size_t n)
{
    double acc = 0.0;
    for (size_t i = threadIdx.x; i < n; i += blockDim.x)
        acc += target[i] == rintf(prob[i]) ? 1.0 : 0.0;
    double total = cu_block_sum(acc);
    if (threadIdx.x == 0)
        *hits = total;
}

static __device__ int cu_argmax(const float *x, int k)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (x[j] > x[best])
            best = j;
    return best;
}

static __global__ void cu_categorical_hits_kernel(double *hits, const float *prob,
                                                  const float *target, int b, int k)
{
    double acc = 0.0;
    for (int r = threadIdx.x; r < b; r += blockDim.x)
        acc += cu_argmax(target + (size_t)r * k, k)
               == cu_argmax(prob + (size_t)r * k, k) ? 1.0 : 0.0;
    double total = cu_block_sum(acc);
    if (threadIdx.x == 0)
        *hits = total;
}

static rt_status cu_loss_check(int b, int k)
{
    if (b <= 0 || k <= 0)
        return cu.host->error_set(RT_ERR_SHAPE, "loss over a (%d, %d) batch",
                                  b, k);
    return cu_alive();
}

/* Launches one of the one-block reductions above into a workspace double
 * and brings the result to the host. */
#define CU_REDUCE(result, what, kernel, ...)                                   \
    do {                                                                       \
        void *dev_;                                                            \
        rt_status st_ = cu_workspace(0, sizeof(double), &dev_);                \
        if (st_ != RT_OK)                                                      \
            return st_;                                                        \
        kernel<<<1, CU_THREADS, 0, cu.stream>>>((double *)dev_, __VA_ARGS__);  \
        st_ = cu_check_launch(what);                                           \
        if (st_ == RT_OK)                                                      \
            st_ = cu_fetch(result, (const double *)dev_, what);                \
        if (st_ != RT_OK)                                                      \
            return st_;                                                        \
    } while (0)

static rt_status cu_bce_forward(float *loss, const float *prob,
                                const float *target, int b, int k)
{
    rt_status st = cu_loss_check(b, k);
    if (st != RT_OK)
        return st;
    double sum;
    CU_REDUCE(&sum, "computing the binary cross-entropy", cu_bce_sum_kernel,
              prob, target, (size_t)b * k);
    *loss = (float)(sum / ((double)b * k));
    return RT_OK;
}

static rt_status cu_bce_backward(float *dprob, const float *prob,
                                 const float *target, int b, int k)
{
    rt_status st = cu_loss_check(b, k);
    if (st != RT_OK)
        return st;
    size_t n = (size_t)b * k;
    cu_bce_bwd_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(
        dprob, prob, target, n, 1.0 / ((double)b * k));
    return cu_check_launch("computing the binary cross-entropy gradient");
}

static rt_status cu_cce_forward(float *loss, const float *prob,
                                const float *target, int b, int k)
{
    rt_status st = cu_loss_check(b, k);
    if (st != RT_OK)
        return st;
    double sum;
    CU_REDUCE(&sum, "computing the categorical cross-entropy",
              cu_cce_sum_kernel, prob, target, b, k);
    *loss = (float)(sum / b);
    return RT_OK;
}

static rt_status cu_cce_backward(float *dprob, const float *prob,
                                 const float *target, int b, int k)
{
    rt_status st = cu_loss_check(b, k);
    if (st != RT_OK)
        return st;
    cu_cce_bwd_kernel<<<cu_blocks((size_t)b), CU_THREADS, 0, cu.stream>>>(
        dprob, prob, target, b, k);
    return cu_check_launch("computing the categorical cross-entropy gradient");
}

static rt_status cu_binary_accuracy(float *acc, const float *prob,
                                    const float *target, int b, int k)
{
    rt_status st = cu_loss_check(b, k);
    if (st != RT_OK)
        return st;
    double hits;
    CU_REDUCE(&hits, "computing the binary accuracy", cu_binary_hits_kernel,
              prob, target, (size_t)b * k);
    *acc = (float)(hits / ((double)b * k));
    return RT_OK;
}

static rt_status cu_categorical_accuracy(float *acc, const float *prob,
                                         const float *target, int b, int k)
{
    rt_status st = cu_loss_check(b, k);
    if (st != RT_OK)
        return st;
    double hits;
    CU_REDUCE(&hits, "computing the categorical accuracy",
              cu_categorical_hits_kernel, prob, target, b, k);
    *acc = (float)(hits / b);
    return RT_OK;
}

/* ---- optimizer updates (runtime/cpu/optim_update.c, same operations) ---- */

static __global__ void cu_adam_kernel(float *param, const float *grad, float *m,
                                      float *v, size_t n, float lr_t, float beta1,
                                      float beta2, float c1, float c2, float eps)
{
    CU_FOR(i, n) {
        float g = grad[i];
        float mt = beta1 * m[i] + c1 * g;
        float vt = beta2 * v[i] + c2 * (g * g);
        m[i] = mt;
        v[i] = vt;
        param[i] = param[i] - lr_t * mt / (sqrtf(vt) + eps);
    }
}

static __global__ void cu_sgd_kernel(float *param, const float *grad, float *velocity,
                                     size_t n, float lr, float momentum, int nesterov)
{
    CU_FOR(i, n) {
        float g = grad[i];
        float vel = (velocity ? momentum * velocity[i] : 0.0f) - lr * g;
        if (velocity)
            velocity[i] = vel;
        param[i] = nesterov ? param[i] + momentum * vel - lr * g
                            : param[i] + vel;
    }
}

static rt_status cu_adam_update(float *param, const float *grad, float *m,
                                float *v, size_t n, float lr_t, float beta1,
                                float beta2, float eps)
{
    CU_ALIVE();
    if (n == 0)
        return RT_OK;
    const float c1 = 1.0f - beta1, c2 = 1.0f - beta2;
    cu_adam_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(
        param, grad, m, v, n, lr_t, beta1, beta2, c1, c2, eps);
    return cu_check_launch("updating weights (Adam)");
}

static rt_status cu_sgd_update(float *param, const float *grad,
                               float *velocity, size_t n, float lr,
                               float momentum, int nesterov)
{
    if (!velocity && momentum != 0.0f)
        return cu.host->error_set(RT_ERR_ARG, "SGD with momentum needs a "
                                  "velocity buffer");
    CU_ALIVE();
    if (n == 0)
        return RT_OK;
    cu_sgd_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(
        param, grad, velocity, n, lr, momentum, nesterov);
    return cu_check_launch("updating weights (SGD)");
}

/* ---- batch normalization: moving statistics (runtime/cpu/batchnorm.c) ---- */

static __global__ void cu_bn_moving_kernel(float *moving_mean, float *moving_var,
                                           float *acc_mean, float *acc_var,
                                           const float *batch_mean,
                                           const float *batch_var, int c, float rate,
                                           float debias, float var_correction)
{
    CU_FOR(j, (size_t)c) {
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
}

static rt_status cu_batchnorm_moving_update(float *moving_mean,
                                            float *moving_var, float *acc_mean,
                                            float *acc_var,
                                            const float *batch_mean,
                                            const float *batch_var, int c,
                                            int64_t step, float momentum,
                                            float var_correction)
{
    if (!acc_mean != !acc_var)
        return cu.host->error_set(RT_ERR_ARG, "batch norm moving update: give "
                                  "both accumulators or neither");
    if (acc_mean && step < 1)
        return cu.host->error_set(RT_ERR_ARG, "batch norm moving update: step "
                                  "%lld (counted from 1)", (long long)step);
    CU_ALIVE();
    if (c <= 0)
        return RT_OK;
    const float rate = 1.0f - momentum;
    /* TF computes 1 - decay^step in float32; on the host, as the CPU does. */
    float debias = acc_mean ? 1.0f - powf(momentum, (float)step) : 1.0f;
    cu_bn_moving_kernel<<<cu_blocks((size_t)c), CU_THREADS, 0, cu.stream>>>(
        moving_mean, moving_var, acc_mean, acc_var, batch_mean, batch_var, c,
        rate, debias, var_correction);
    return cu_check_launch("updating batch-norm moving statistics");
}

void cu_register_elementwise(rt_backend *be)
{
    be->fill = cu_fill;
    be->axpy = cu_axpy;
    be->scale = cu_scale;
    be->relu_forward = cu_relu_forward;
    be->relu_backward = cu_relu_backward;
    be->relu6_forward = cu_relu6_forward;
    be->relu6_backward = cu_relu6_backward;
    be->sigmoid_forward = cu_sigmoid_forward;
    be->sigmoid_backward = cu_sigmoid_backward;
    be->softmax_forward = cu_softmax_forward;
    be->softmax_backward = cu_softmax_backward;
    be->dropout_forward = cu_dropout_forward;
    be->dropout_backward = cu_dropout_backward;
    be->concat_forward = cu_concat_forward;
    be->concat_backward = cu_concat_backward;
    be->zeropad2d_forward = cu_zeropad2d_forward;
    be->zeropad2d_backward = cu_zeropad2d_backward;
    be->global_avgpool_forward = cu_global_avgpool_forward;
    be->global_avgpool_backward = cu_global_avgpool_backward;
    be->bce_forward = cu_bce_forward;
    be->bce_backward = cu_bce_backward;
    be->cce_forward = cu_cce_forward;
    be->cce_backward = cu_cce_backward;
    be->binary_accuracy = cu_binary_accuracy;
    be->categorical_accuracy = cu_categorical_accuracy;
    be->adam_update = cu_adam_update;
    be->sgd_update = cu_sgd_update;
    be->batchnorm_moving_update = cu_batchnorm_moving_update;
}
