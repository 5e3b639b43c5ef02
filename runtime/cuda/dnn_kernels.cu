/*
 * dnn_kernels.cu - the layer ops of the CUDA backend that are plain CUDA
 * kernels rather than cuDNN calls: depthwise convolution, batch
 * normalization (training and inference, forward and backward),
 * max and average pooling, and the bias add / bias gradient that dnn.cu's
 * convolutions share. dnn.cu registers them with the rest of the table.
 *
 * Why not cuDNN for these (the convolutions in dnn.cu do use it):
 *   - Pooling. The backend's maxpool2d_backward gets the input but not the
 *     forward output, which cuDNN's backward needs; the CPU reference sends
 *     the gradient to the FIRST maximum of a window in row-major order,
 *     while cuDNN does not document which of several equal maxima it picks;
 *     and cuDNN pads symmetrically where TF's 'same' may pad one more cell at
 *     the bottom/right. A thread per output element over a 3x3 window is
 *     memory-bound either way.
 *   - Batch normalization. The runtime needs the biased batch variance
 *     itself (moving update, backward). cuDNN returns 1/sqrt(var + eps);
 *     recovering var from it loses most digits when var is small next to
 *     eps (1e-3 in both models). Own kernels sum in double over two passes
 *     as the CPU reference does, handle scale=False/center=False (NULL
 *     gamma/beta) without ones/zeros buffers, and accept any eps.
 *   - Depthwise convolution. cuDNN would run it as a grouped convolution
 *     with one group per channel; in float32 NHWC its heuristics pick
 *     generic kernels, which is why frameworks ship their own depthwise
 *     kernels. A direct kernel is short, handles asymmetric padding in
 *     place, and reduces its weight gradient in a fixed order.
 *
 * Determinism. No atomics anywhere: every reduction (per-channel sums, the
 * depthwise weight gradient) is split into row slices whose number depends
 * only on the shape, and the slices are added in order; every gradient that
 * several windows send to one input element is gathered by that element's
 * thread in the CPU's window order. Results do not change from run to run,
 * nor from one GPU model to another.
 *
 * Rounding. Where a kernel performs the CPU reference's float operations in
 * the CPU's order (depthwise forward, pooling, batch-norm inference), it
 * spells multiply and add as separate correctly rounded steps (__fmul_rn,
 * __fadd_rn, which the compiler never fuses), because the CPU backend never
 * contracts a*b + c into one fused step: the results then agree bit for bit.
 *
 * Index arithmetic. Every tensor has at most RT_MAX_NUMEL (2^31 - 1)
 * elements, so element indices fit an unsigned int, and a grid-stride loop
 * (stride below 2^29, see cu_blocks) never wraps it.
 */
#include <cfloat>

#include "cuda_internal.h"

#define GRID_STRIDE(i, n)                                                      \
    for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < (n);          \
         i += gridDim.x * blockDim.x)

/* a*b + c rounded twice, as the CPU reference computes it. */
static __device__ __forceinline__ float mul_add_rn(float a, float b, float c)
{
    return __fadd_rn(__fmul_rn(a, b), c);
}

/* ---- column reductions ---------------------------------------------------
 * Sums over the rows of a (rows, c) matrix, per column. A block is RED_TX
 * columns by RED_TY rows in flight: each warp reads RED_TX consecutive
 * floats of one row (coalesced). grid.y cuts the rows into `parts` slices;
 * each block writes its slice's sums to part (parts, 2, c) and a finishing
 * kernel adds the slices in order. */

#define RED_TX 32
#define RED_TY 8
#define RED_MAX_PARTS 1024

/* Slices for a reduction of `rows` rows over `col_blocks` blocks of
 * columns: enough blocks to fill any GPU (about 1024 in all), at least 256
 * rows per slice. A function of the shape only, so the order of summation
 * (and thus the result) is the same on every run and every GPU. */
static int red_parts(size_t rows, size_t col_blocks)
{
    size_t by_rows = (rows + 255) / 256;
    size_t by_blocks = (1024 + col_blocks - 1) / col_blocks;
    size_t p = by_rows < by_blocks ? by_rows : by_blocks;
    if (p < 1)
        p = 1;
    return p > RED_MAX_PARTS ? RED_MAX_PARTS : (int)p;
}

enum {
    SUM_X,     /* s1 = sum a */
    SUM_SQDEV, /* s1 = sum (a - center)^2 */
    SUM_BWD    /* s1 = sum a (dy), s2 = sum a * (x - center) * scale */
};

template <int KIND>
static __global__ void colsum_kernel(double *part,         /* (parts, 2, c) */
                                     const float *a,       /* (rows, c) */
                                     const float *x,       /* (rows, c) */
                                     const double *center, /* (c) or NULL */
                                     const double *scale,  /* (c) or NULL */
                                     size_t rows, int c)
{
    __shared__ double sh[2][RED_TY][RED_TX];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int j = blockIdx.x * RED_TX + tx;
    double s1 = 0.0, s2 = 0.0;
    if (j < c) {
        double m = KIND == SUM_X ? 0.0 : center[j];
        double k = KIND == SUM_BWD ? scale[j] : 0.0;
        for (size_t r = (size_t)blockIdx.y * RED_TY + ty; r < rows;
             r += (size_t)gridDim.y * RED_TY) {
            double v = a[r * c + j];
            if (KIND == SUM_X) {
                s1 += v;
            } else if (KIND == SUM_SQDEV) {
                double d = v - m;
                s1 += d * d;
            } else {
                s1 += v;
                s2 += v * (((double)x[r * c + j] - m) * k);
            }
        }
    }
    sh[0][ty][tx] = s1;
    sh[1][ty][tx] = s2;
    __syncthreads();
    if (ty == 0 && j < c) {
        for (int y = 1; y < RED_TY; y++) {
            s1 += sh[0][y][tx];
            s2 += sh[1][y][tx];
        }
        part[(size_t)blockIdx.y * 2 * c + j] = s1;
        part[((size_t)blockIdx.y * 2 + 1) * c + j] = s2;
    }
}

template <int KIND>
static void colsum_launch(double *part, int parts, const float *a,
                          const float *x, const double *center,
                          const double *scale, size_t rows, int c)
{
    dim3 grid((unsigned)((c + RED_TX - 1) / RED_TX), (unsigned)parts);
    dim3 block(RED_TX, RED_TY);
    colsum_kernel<KIND><<<grid, block, 0, cu.stream>>>(part, a, x, center,
                                                       scale, rows, c);
}

/* Sum of slice `which` (0 or 1) of column j over all slices, in order. */
static __device__ double part_sum(const double *part, int parts, int which,
                                  int c, int j)
{
    double s = 0.0;
    for (int p = 0; p < parts; p++)
        s += part[((size_t)p * 2 + which) * c + j];
    return s;
}

/* Partial-sum buffer (slot 0) for a reduction over (rows, c). */
static rt_status colsum_workspace(size_t rows, int c, int *parts,
                                  double **part)
{
    *parts = red_parts(rows, ((size_t)c + RED_TX - 1) / RED_TX);
    void *p = NULL;
    rt_status st = cu_workspace(0, (size_t)*parts * 2 * c * sizeof(double), &p);
    *part = (double *)p;
    return st;
}

/* ---- bias ---------------------------------------------------------------- */

static __global__ void bias_add_kernel(float *out, const float *bias,
                                       unsigned n, int c)
{
    GRID_STRIDE(i, n)
        out[i] = __fadd_rn(out[i], bias[i % c]);
}

static __global__ void colsum_add_kernel(float *dst, const double *part,
                                         int parts, int c)
{
    GRID_STRIDE(j, (unsigned)c)
        dst[j] += (float)part_sum(part, parts, 0, c, (int)j);
}

/* out (rows, c) += bias (c). */
rt_status cu_dnn_bias_forward(float *out, const float *bias, size_t rows,
                              int c)
{
    unsigned n = (unsigned)(rows * (size_t)c);
    bias_add_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(out, bias, n,
                                                                c);
    return cu_check_launch("adding a layer's bias");
}

/* dbias (c) += column sums of dout (rows, c). */
rt_status cu_dnn_bias_backward(float *dbias, const float *dout, size_t rows,
                               int c)
{
    int parts;
    double *part;
    rt_status st = colsum_workspace(rows, c, &parts, &part);
    if (st != RT_OK)
        return st;
    colsum_launch<SUM_X>(part, parts, dout, NULL, NULL, NULL, rows, c);
    colsum_add_kernel<<<cu_blocks((size_t)c), CU_THREADS, 0, cu.stream>>>(
        dbias, part, parts, c);
    return cu_check_launch("computing a bias gradient");
}

/* ---- batch normalization over (rows, c) --------------------------------- */

/* mean (c) in double and batch_mean (c) from slices of sum x. */
static __global__ void bn_mean_kernel(double *mean, float *batch_mean,
                                      const double *part, int parts,
                                      size_t rows, int c)
{
    GRID_STRIDE(j, (unsigned)c) {
        double m = part_sum(part, parts, 0, c, (int)j) / (double)rows;
        mean[j] = m;
        batch_mean[j] = (float)m;
    }
}

/* scale = gamma / sqrt(var + eps), shift = beta - mean * scale, in double
 * and then float, step by step as the CPU reference rounds them. */
static __device__ void bn_affine(float *scale, float *shift, const float *gamma,
                                 const float *beta, double mean, double var,
                                 int j, float eps)
{
    double inv = 1.0 / sqrt(__dadd_rn(var, (double)eps));
    double s = __dmul_rn(gamma ? (double)gamma[j] : 1.0, inv);
    scale[j] = (float)s;
    shift[j] = (float)__dsub_rn(beta ? (double)beta[j] : 0.0,
                                __dmul_rn(mean, s));
}

/* batch_var (biased) and the affine coefficients from slices of the
 * centred squares. */
static __global__ void bn_var_kernel(float *batch_var, float *scale,
                                     float *shift, const double *part,
                                     int parts, const double *mean,
                                     const float *gamma, const float *beta,
                                     size_t rows, int c, float eps)
{
    GRID_STRIDE(j, (unsigned)c) {
        double var = part_sum(part, parts, 0, c, (int)j) / (double)rows;
        batch_var[j] = (float)var;
        bn_affine(scale, shift, gamma, beta, mean[j], var, (int)j, eps);
    }
}

static __global__ void bn_infer_coef_kernel(float *scale, float *shift,
                                            const float *gamma,
                                            const float *beta,
                                            const float *moving_mean,
                                            const float *moving_var, int c,
                                            float eps)
{
    GRID_STRIDE(j, (unsigned)c)
        bn_affine(scale, shift, gamma, beta, moving_mean[j], moving_var[j],
                  (int)j, eps);
}

/* out = inp * scale + shift per channel; may run in place. */
static __global__ void bn_apply_kernel(float *out, const float *inp,
                                       const float *scale, const float *shift,
                                       unsigned n, int c)
{
    GRID_STRIDE(i, n) {
        unsigned j = i % c;
        out[i] = mul_add_rn(inp[i], scale[j], shift[j]);
    }
}

/* Per-channel scratch of the batch-norm ops (slot 1): two double vectors
 * and four float vectors of c. */
typedef struct bn_scratch {
    double *d0, *d1;
    float *f0, *f1, *f2, *f3;
} bn_scratch;

static rt_status bn_scratch_get(int c, bn_scratch *s)
{
    void *p = NULL;
    rt_status st = cu_workspace(1, (size_t)c * (2 * sizeof(double)
                                                + 4 * sizeof(float)), &p);
    if (st != RT_OK)
        return st;
    s->d0 = (double *)p;
    s->d1 = s->d0 + c;
    s->f0 = (float *)(s->d1 + c);
    s->f1 = s->f0 + c;
    s->f2 = s->f1 + c;
    s->f3 = s->f2 + c;
    return RT_OK;
}

/* Two passes (mean, then centred squares) as the CPU reference: the
 * one-pass E[x^2] - E[x]^2 loses digits on large means. */
static rt_status dnn_batchnorm_forward_train(float *out, float *batch_mean,
                                             float *batch_var,
                                             const float *inp,
                                             const float *gamma,
                                             const float *beta, size_t rows,
                                             int c, float eps)
{
    CU_ALIVE();
    if (rows == 0 || c <= 0)
        return cu.host->error_set(RT_ERR_SHAPE, "batch norm over %zu rows of "
                                  "%d channels", rows, c);
    int parts;
    double *part;
    bn_scratch s;
    rt_status st = colsum_workspace(rows, c, &parts, &part);
    if (st == RT_OK)
        st = bn_scratch_get(c, &s);
    if (st != RT_OK)
        return st;
    unsigned cb = cu_blocks((size_t)c), n = (unsigned)(rows * (size_t)c);
    colsum_launch<SUM_X>(part, parts, inp, NULL, NULL, NULL, rows, c);
    bn_mean_kernel<<<cb, CU_THREADS, 0, cu.stream>>>(s.d0, batch_mean, part,
                                                     parts, rows, c);
    colsum_launch<SUM_SQDEV>(part, parts, inp, NULL, s.d0, NULL, rows, c);
    bn_var_kernel<<<cb, CU_THREADS, 0, cu.stream>>>(batch_var, s.f0, s.f1,
                                                    part, parts, s.d0, gamma,
                                                    beta, rows, c, eps);
    bn_apply_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(out, inp, s.f0,
                                                                s.f1, n, c);
    return cu_check_launch("computing a batch normalization");
}

static rt_status dnn_batchnorm_forward_infer(float *out, const float *inp,
                                             const float *gamma,
                                             const float *beta,
                                             const float *moving_mean,
                                             const float *moving_var,
                                             size_t rows, int c, float eps)
{
    CU_ALIVE();
    if (rows == 0 || c <= 0)
        return RT_OK;
    bn_scratch s;
    rt_status st = bn_scratch_get(c, &s);
    if (st != RT_OK)
        return st;
    unsigned n = (unsigned)(rows * (size_t)c);
    bn_infer_coef_kernel<<<cu_blocks((size_t)c), CU_THREADS, 0, cu.stream>>>(
        s.f0, s.f1, gamma, beta, moving_mean, moving_var, c, eps);
    bn_apply_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(out, inp, s.f0,
                                                                s.f1, n, c);
    return cu_check_launch("computing a batch normalization");
}

static __global__ void bn_bwd_prep_kernel(double *mean, double *inv,
                                          const float *batch_mean,
                                          const float *batch_var, int c,
                                          float eps)
{
    GRID_STRIDE(j, (unsigned)c) {
        mean[j] = batch_mean[j];
        inv[j] = 1.0 / sqrt((double)batch_var[j] + (double)eps);
    }
}

/* dbeta += sum dy, dgamma += sum dy * xhat, and the coefficients of
 * dx = ka*dy - kb - kd*(x - km) (the CPU reference's formula); kb and kd
 * are zero when the statistics are constants (!full). */
static __global__ void bn_bwd_finish_kernel(float *dgamma, float *dbeta,
                                            float *ka, float *kb, float *kd,
                                            float *km, const double *part,
                                            int parts, const double *inv,
                                            const float *gamma,
                                            const float *mean, size_t rows,
                                            int c, int full)
{
    GRID_STRIDE(j, (unsigned)c) {
        double sum_dy = part_sum(part, parts, 0, c, (int)j);
        double sum_dyx = part_sum(part, parts, 1, c, (int)j);
        if (dbeta)
            dbeta[j] += (float)sum_dy;
        if (dgamma)
            dgamma[j] += (float)sum_dyx;
        double gi = (gamma ? (double)gamma[j] : 1.0) * inv[j];
        ka[j] = (float)gi;
        kb[j] = full ? (float)(gi * sum_dy / (double)rows) : 0.0f;
        kd[j] = full ? (float)(gi * sum_dyx / (double)rows * inv[j]) : 0.0f;
        km[j] = mean[j];
    }
}

static __global__ void bn_bwd_apply_kernel(float *dinp, const float *dout,
                                           const float *inp, const float *ka,
                                           const float *kb, const float *kd,
                                           const float *km, unsigned n, int c)
{
    GRID_STRIDE(i, n) {
        unsigned j = i % c;
        float t = __fsub_rn(__fmul_rn(ka[j], dout[i]), kb[j]);
        t = __fsub_rn(t, __fmul_rn(kd[j], __fsub_rn(inp[i], km[j])));
        dinp[i] = __fadd_rn(dinp[i], t);
    }
}

/* Shared backward, as the CPU reference's: with `full`, the batch-statistics
 * form (mean and var depend on x); otherwise the statistics are constants. */
static rt_status bn_backward(float *dinp, float *dgamma, float *dbeta,
                             const float *dout, const float *inp,
                             const float *gamma, const float *mean,
                             const float *var, size_t rows, int c, float eps,
                             int full)
{
    CU_ALIVE();
    if (rows == 0 || c <= 0 || (!dinp && !dgamma && !dbeta))
        return RT_OK;
    int parts;
    double *part;
    bn_scratch s;
    rt_status st = colsum_workspace(rows, c, &parts, &part);
    if (st == RT_OK)
        st = bn_scratch_get(c, &s);
    if (st != RT_OK)
        return st;
    unsigned cb = cu_blocks((size_t)c), n = (unsigned)(rows * (size_t)c);
    bn_bwd_prep_kernel<<<cb, CU_THREADS, 0, cu.stream>>>(s.d0, s.d1, mean, var,
                                                         c, eps);
    colsum_launch<SUM_BWD>(part, parts, dout, inp, s.d0, s.d1, rows, c);
    bn_bwd_finish_kernel<<<cb, CU_THREADS, 0, cu.stream>>>(
        dgamma, dbeta, s.f0, s.f1, s.f2, s.f3, part, parts, s.d1, gamma, mean,
        rows, c, full);
    if (dinp)
        bn_bwd_apply_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(
            dinp, dout, inp, s.f0, s.f1, s.f2, s.f3, n, c);
    return cu_check_launch("computing a batch normalization gradient");
}

static rt_status dnn_batchnorm_backward_train(float *dinp, float *dgamma,
                                              float *dbeta, const float *dout,
                                              const float *inp,
                                              const float *gamma,
                                              const float *batch_mean,
                                              const float *batch_var,
                                              size_t rows, int c, float eps)
{
    return bn_backward(dinp, dgamma, dbeta, dout, inp, gamma, batch_mean,
                       batch_var, rows, c, eps, 1);
}

static rt_status dnn_batchnorm_backward_infer(float *dinp, float *dgamma,
                                              float *dbeta, const float *dout,
                                              const float *inp,
                                              const float *gamma,
                                              const float *moving_mean,
                                              const float *moving_var,
                                              size_t rows, int c, float eps)
{
    return bn_backward(dinp, dgamma, dbeta, dout, inp, gamma, moving_mean,
                       moving_var, rows, c, eps, 0);
}

/* ---- windows (pooling, depthwise) --------------------------------------- */

/* Decomposition of an NHWC element index. */
typedef struct nhwc_at {
    int b, y, x, ch;
} nhwc_at;

static __device__ __forceinline__ nhwc_at nhwc_split(unsigned e, int h, int w,
                                                     int c)
{
    nhwc_at a;
    a.ch = (int)(e % (unsigned)c);
    e /= (unsigned)c;
    a.x = (int)(e % (unsigned)w);
    e /= (unsigned)w;
    a.y = (int)(e % (unsigned)h);
    a.b = (int)(e / (unsigned)h);
    return a;
}

static __device__ __forceinline__ size_t nhwc_index(int b, int y, int x,
                                                    int ch, int h, int w, int c)
{
    return (((size_t)b * h + y) * w + x) * c + ch;
}

/* Element (b, y, x, ch) of a window op's input and output. */
static __device__ __forceinline__ size_t in_at(const rt_window2d &g, int b,
                                               int y, int x, int ch)
{
    return nhwc_index(b, y, x, ch, g.in_h, g.in_w, g.in_c);
}

static __device__ __forceinline__ size_t out_at(const rt_window2d &g, int b,
                                                int y, int x, int ch)
{
    return nhwc_index(b, y, x, ch, g.out_h, g.out_w, g.out_c);
}

/* The real (unpadded) input cells of the window of output (oh, ow):
 * rows [i0, i1), cols [j0, j1); (h0, w0) is its corner, padding included. */
typedef struct pool_win {
    int h0, w0, i0, i1, j0, j1;
} pool_win;

static __device__ __forceinline__ pool_win window_at(const rt_window2d &g,
                                                     int oh, int ow)
{
    pool_win v;
    v.h0 = oh * g.stride_h - g.pad_top;
    v.w0 = ow * g.stride_w - g.pad_left;
    v.i0 = v.h0 < 0 ? 0 : v.h0;
    v.i1 = v.h0 + g.k_h < g.in_h ? v.h0 + g.k_h : g.in_h;
    v.j0 = v.w0 < 0 ? 0 : v.w0;
    v.j1 = v.w0 + g.k_w < g.in_w ? v.w0 + g.k_w : g.in_w;
    return v;
}

/* Outputs [*lo, *hi] along one axis whose windows contain input p. */
static __device__ __forceinline__ void covering(int p, int pad, int k, int s,
                                                int out, int *lo, int *hi)
{
    int num = p + pad - k + 1; /* first window start that still reaches p */
    *lo = num <= 0 ? 0 : (num + s - 1) / s;
    *hi = (p + pad) / s;
    if (*hi > out - 1)
        *hi = out - 1;
}

static unsigned out_numel(const rt_window2d *g)
{
    return (unsigned)((size_t)g->n * g->out_h * g->out_w * g->out_c);
}

static unsigned in_numel(const rt_window2d *g)
{
    return (unsigned)((size_t)g->n * g->in_h * g->in_w * g->in_c);
}

/* ---- pooling ------------------------------------------------------------ */

static rt_status pool_check(const rt_window2d *g)
{
    if (g->out_c != g->in_c)
        return cu.host->error_set(RT_ERR_SHAPE, "pooling maps %d channels to "
                                  "%d", g->in_c, g->out_c);
    return RT_OK;
}

/* Padding never takes part: a window's maximum is over its real cells. */
static __global__ void maxpool_forward_kernel(float *out, const float *inp,
                                              rt_window2d g, unsigned n)
{
    GRID_STRIDE(e, n) {
        nhwc_at o = nhwc_split(e, g.out_h, g.out_w, g.in_c);
        pool_win v = window_at(g, o.y, o.x);
        float y = -FLT_MAX;
        for (int i = v.i0; i < v.i1; i++)
            for (int j = v.j0; j < v.j1; j++) {
                float x = inp[in_at(g, o.b, i, j, o.ch)];
                y = x > y ? x : y;
            }
        out[e] = y;
    }
}

/* arg (n, out_h, out_w, c): the tap (row-major in the k_h x k_w window,
 * padding included) of each window's first maximum, -1 for none. */
static __global__ void maxpool_argmax_kernel(int *arg, const float *inp,
                                             rt_window2d g, unsigned n)
{
    GRID_STRIDE(e, n) {
        nhwc_at o = nhwc_split(e, g.out_h, g.out_w, g.in_c);
        pool_win v = window_at(g, o.y, o.x);
        float best = -FLT_MAX;
        int at = -1;
        for (int i = v.i0; i < v.i1; i++)
            for (int j = v.j0; j < v.j1; j++) {
                float x = inp[in_at(g, o.b, i, j, o.ch)];
                if (at < 0 || x > best) {
                    best = x;
                    at = (i - v.h0) * g.k_w + (j - v.w0);
                }
            }
        arg[e] = at;
    }
}

/* Each input element gathers dout of the windows whose first maximum it
 * is, in the CPU's window order. */
static __global__ void maxpool_backward_kernel(float *dinp, const float *dout,
                                               const int *arg, rt_window2d g,
                                               unsigned n)
{
    GRID_STRIDE(e, n) {
        nhwc_at p = nhwc_split(e, g.in_h, g.in_w, g.in_c);
        int oh0, oh1, ow0, ow1;
        covering(p.y, g.pad_top, g.k_h, g.stride_h, g.out_h, &oh0, &oh1);
        covering(p.x, g.pad_left, g.k_w, g.stride_w, g.out_w, &ow0, &ow1);
        float acc = dinp[e];
        for (int oh = oh0; oh <= oh1; oh++)
            for (int ow = ow0; ow <= ow1; ow++) {
                size_t o = out_at(g, p.b, oh, ow, p.ch);
                int tap = (p.y - (oh * g.stride_h - g.pad_top)) * g.k_w
                        + (p.x - (ow * g.stride_w - g.pad_left));
                if (arg[o] == tap)
                    acc = __fadd_rn(acc, dout[o]);
            }
        dinp[e] = acc;
    }
}

/* The average is over the window's real cells (TF excludes padding). */
static __global__ void avgpool_forward_kernel(float *out, const float *inp,
                                              rt_window2d g, unsigned n)
{
    GRID_STRIDE(e, n) {
        nhwc_at o = nhwc_split(e, g.out_h, g.out_w, g.in_c);
        pool_win v = window_at(g, o.y, o.x);
        float count = (float)((v.i1 - v.i0) * (v.j1 - v.j0));
        float y = 0.0f;
        for (int i = v.i0; i < v.i1; i++)
            for (int j = v.j0; j < v.j1; j++)
                y = __fadd_rn(y, inp[in_at(g, o.b, i, j, o.ch)]);
        out[e] = __fdiv_rn(y, count);
    }
}

static __global__ void avgpool_backward_kernel(float *dinp, const float *dout,
                                               rt_window2d g, unsigned n)
{
    GRID_STRIDE(e, n) {
        nhwc_at p = nhwc_split(e, g.in_h, g.in_w, g.in_c);
        int oh0, oh1, ow0, ow1;
        covering(p.y, g.pad_top, g.k_h, g.stride_h, g.out_h, &oh0, &oh1);
        covering(p.x, g.pad_left, g.k_w, g.stride_w, g.out_w, &ow0, &ow1);
        float acc = dinp[e];
        for (int oh = oh0; oh <= oh1; oh++)
            for (int ow = ow0; ow <= ow1; ow++) {
                pool_win v = window_at(g, oh, ow);
                float count = (float)((v.i1 - v.i0) * (v.j1 - v.j0));
                float dy = dout[out_at(g, p.b, oh, ow, p.ch)];
                acc = __fadd_rn(acc, __fdiv_rn(dy, count));
            }
        dinp[e] = acc;
    }
}

static rt_status dnn_maxpool2d_forward(const rt_window2d *g, float *out,
                                       const float *inp)
{
    CU_ALIVE();
    rt_status st = pool_check(g);
    if (st != RT_OK)
        return st;
    unsigned n = out_numel(g);
    maxpool_forward_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(
        out, inp, *g, n);
    return cu_check_launch("computing max pooling");
}

/* Two steps: find every window's first maximum (a k_h*k_w scan per output),
 * then let each input gather from the few windows that cover it. Cheaper
 * than rescanning windows per input, and free of atomics. */
static rt_status dnn_maxpool2d_backward(const rt_window2d *g, float *dinp,
                                        const float *dout, const float *inp)
{
    CU_ALIVE();
    rt_status st = pool_check(g);
    if (st != RT_OK)
        return st;
    unsigned no = out_numel(g), ni = in_numel(g);
    void *arg = NULL;
    if ((st = cu_workspace(0, (size_t)no * sizeof(int), &arg)) != RT_OK)
        return st;
    maxpool_argmax_kernel<<<cu_blocks(no), CU_THREADS, 0, cu.stream>>>(
        (int *)arg, inp, *g, no);
    maxpool_backward_kernel<<<cu_blocks(ni), CU_THREADS, 0, cu.stream>>>(
        dinp, dout, (const int *)arg, *g, ni);
    return cu_check_launch("computing the gradient of max pooling");
}

static rt_status dnn_avgpool2d_forward(const rt_window2d *g, float *out,
                                       const float *inp)
{
    CU_ALIVE();
    rt_status st = pool_check(g);
    if (st != RT_OK)
        return st;
    unsigned n = out_numel(g);
    avgpool_forward_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(
        out, inp, *g, n);
    return cu_check_launch("computing average pooling");
}

static rt_status dnn_avgpool2d_backward(const rt_window2d *g, float *dinp,
                                        const float *dout)
{
    CU_ALIVE();
    rt_status st = pool_check(g);
    if (st != RT_OK)
        return st;
    unsigned n = in_numel(g);
    avgpool_backward_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(
        dinp, dout, *g, n);
    return cu_check_launch("computing the gradient of average pooling");
}

/* ---- depthwise convolution ----------------------------------------------
 * Weights (k_h, k_w, in_c, mult) seen flat as (taps, out_c): output channel
 * oc = c*mult + m reads input channel c = oc / mult. */

static rt_status depthwise_check(const rt_window2d *g)
{
    if (g->out_c % g->in_c != 0)
        return cu.host->error_set(RT_ERR_SHAPE, "depthwise conv: %d output "
                                  "channels is not a multiple of %d input "
                                  "channels", g->out_c, g->in_c);
    return RT_OK;
}

/* out (n, out_h, out_w, out_c): taps in the CPU's order, bias first. */
static __global__ void depthwise_forward_kernel(float *out, const float *inp,
                                                const float *w,
                                                const float *bias,
                                                rt_window2d g, unsigned n)
{
    const int mult = g.out_c / g.in_c;
    GRID_STRIDE(e, n) {
        nhwc_at o = nhwc_split(e, g.out_h, g.out_w, g.out_c);
        int c = o.ch / mult;
        int ih0 = o.y * g.stride_h - g.pad_top;
        int iw0 = o.x * g.stride_w - g.pad_left;
        float acc = bias ? bias[o.ch] : 0.0f;
        for (int i = 0; i < g.k_h; i++) {
            int ih = ih0 + i;
            if (ih < 0 || ih >= g.in_h)
                continue;
            for (int j = 0; j < g.k_w; j++) {
                int iw = iw0 + j;
                if (iw < 0 || iw >= g.in_w)
                    continue;
                float x = inp[in_at(g, o.b, ih, iw, c)];
                float wt = w[(size_t)(i * g.k_w + j) * g.out_c + o.ch];
                acc = mul_add_rn(x, wt, acc);
            }
        }
        out[e] = acc;
    }
}

/* dinp (n, in_h, in_w, in_c) += what every window tap sent to it. */
static __global__ void depthwise_backward_input_kernel(float *dinp,
                                                       const float *dout,
                                                       const float *w,
                                                       rt_window2d g,
                                                       unsigned n)
{
    const int mult = g.out_c / g.in_c;
    GRID_STRIDE(e, n) {
        nhwc_at p = nhwc_split(e, g.in_h, g.in_w, g.in_c);
        float acc = 0.0f;
        for (int i = 0; i < g.k_h; i++) {
            int t = p.y + g.pad_top - i; /* oh * stride_h */
            if (t < 0 || t % g.stride_h != 0 || t / g.stride_h >= g.out_h)
                continue;
            int oh = t / g.stride_h;
            for (int j = 0; j < g.k_w; j++) {
                int u = p.x + g.pad_left - j;
                if (u < 0 || u % g.stride_w != 0 || u / g.stride_w >= g.out_w)
                    continue;
                const float *dy =
                    dout + out_at(g, p.b, oh, u / g.stride_w, p.ch * mult);
                const float *wt = w + (size_t)(i * g.k_w + j) * g.out_c
                                + (size_t)p.ch * mult;
                for (int m = 0; m < mult; m++)
                    acc += dy[m] * wt[m];
            }
        }
        dinp[e] += acc;
    }
}

/* Slices of the weight gradient: block x covers RED_TX output channels of
 * one tap, block y a slice of the output pixels; part (parts, taps, out_c). */
static __global__ void depthwise_dweight_kernel(float *part, const float *dout,
                                                const float *inp, rt_window2d g,
                                                unsigned pixels)
{
    __shared__ float sh[RED_TY][RED_TX];
    const int taps = g.k_h * g.k_w, mult = g.out_c / g.in_c;
    const int ocb = (g.out_c + RED_TX - 1) / RED_TX;
    const int tap = blockIdx.x / ocb;
    const int oc = (blockIdx.x % ocb) * RED_TX + threadIdx.x;
    const int i = tap / g.k_w, j = tap % g.k_w;
    float s = 0.0f;
    if (oc < g.out_c) {
        for (unsigned p = blockIdx.y * RED_TY + threadIdx.y; p < pixels;
             p += gridDim.y * RED_TY) {
            int ow = (int)(p % (unsigned)g.out_w);
            unsigned q = p / (unsigned)g.out_w;
            int oh = (int)(q % (unsigned)g.out_h);
            int b = (int)(q / (unsigned)g.out_h);
            int ih = oh * g.stride_h - g.pad_top + i;
            int iw = ow * g.stride_w - g.pad_left + j;
            if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w)
                continue;
            s += dout[(size_t)p * g.out_c + oc]
               * inp[in_at(g, b, ih, iw, oc / mult)];
        }
    }
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && oc < g.out_c) {
        for (int y = 1; y < RED_TY; y++)
            s += sh[y][threadIdx.x];
        part[((size_t)blockIdx.y * taps + tap) * g.out_c + oc] = s;
    }
}

/* dweight (taps * out_c) += the slices, added in order. */
static __global__ void depthwise_dweight_finish_kernel(float *dweight,
                                                       const float *part,
                                                       int parts, unsigned n)
{
    GRID_STRIDE(e, n) {
        double s = 0.0;
        for (int p = 0; p < parts; p++)
            s += part[(size_t)p * n + e];
        dweight[e] += (float)s;
    }
}

static rt_status dnn_depthwise_conv2d_forward(const rt_window2d *g,
                                              float *out, const float *inp,
                                              const float *weight,
                                              const float *bias)
{
    CU_ALIVE();
    rt_status st = depthwise_check(g);
    if (st != RT_OK)
        return st;
    unsigned n = out_numel(g);
    depthwise_forward_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(
        out, inp, weight, bias, *g, n);
    return cu_check_launch("computing a depthwise convolution");
}

static rt_status depthwise_dweight(const rt_window2d *g, float *dweight,
                                   const float *dout, const float *inp)
{
    const unsigned pixels = (unsigned)((size_t)g->n * g->out_h * g->out_w);
    const size_t taps = (size_t)g->k_h * g->k_w;
    const size_t blocks_x = taps * (size_t)((g->out_c + RED_TX - 1) / RED_TX);
    if (blocks_x > 0x7fffffffu)
        return cu.host->error_set(RT_ERR_SHAPE, "depthwise conv: a %dx%d "
                                  "window over %d channels is too large for "
                                  "the GPU", g->k_h, g->k_w, g->out_c);
    int parts = red_parts(pixels, blocks_x);
    unsigned wn = (unsigned)(taps * (size_t)g->out_c);
    void *part = NULL;
    rt_status st = cu_workspace(0, (size_t)parts * wn * sizeof(float), &part);
    if (st != RT_OK)
        return st;
    dim3 grid((unsigned)blocks_x, (unsigned)parts), block(RED_TX, RED_TY);
    depthwise_dweight_kernel<<<grid, block, 0, cu.stream>>>(
        (float *)part, dout, inp, *g, pixels);
    depthwise_dweight_finish_kernel<<<cu_blocks(wn), CU_THREADS, 0,
                                      cu.stream>>>(dweight, (const float *)part,
                                                   parts, wn);
    return cu_check_launch("computing a depthwise convolution's weight "
                           "gradient");
}

static rt_status dnn_depthwise_conv2d_backward(const rt_window2d *g,
                                               float *dinp, float *dweight,
                                               float *dbias, const float *dout,
                                               const float *inp,
                                               const float *weight)
{
    CU_ALIVE();
    rt_status st = depthwise_check(g);
    if (st == RT_OK && dbias)
        st = cu_dnn_bias_backward(dbias, dout,
                                  (size_t)g->n * g->out_h * g->out_w, g->out_c);
    if (st == RT_OK && dweight)
        st = depthwise_dweight(g, dweight, dout, inp);
    if (st != RT_OK || !dinp)
        return st;
    unsigned n = in_numel(g);
    depthwise_backward_input_kernel<<<cu_blocks(n), CU_THREADS, 0, cu.stream>>>(
        dinp, dout, weight, *g, n);
    return cu_check_launch("computing a depthwise convolution's input "
                           "gradient");
}

void cu_register_dnn_kernels(rt_backend *be)
{
    be->depthwise_conv2d_forward = dnn_depthwise_conv2d_forward;
    be->depthwise_conv2d_backward = dnn_depthwise_conv2d_backward;
    be->batchnorm_forward_train = dnn_batchnorm_forward_train;
    be->batchnorm_forward_infer = dnn_batchnorm_forward_infer;
    be->batchnorm_backward_train = dnn_batchnorm_backward_train;
    be->batchnorm_backward_infer = dnn_batchnorm_backward_infer;
    be->maxpool2d_forward = dnn_maxpool2d_forward;
    be->maxpool2d_backward = dnn_maxpool2d_backward;
    be->avgpool2d_forward = dnn_avgpool2d_forward;
    be->avgpool2d_backward = dnn_avgpool2d_backward;
}
