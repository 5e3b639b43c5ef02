/*
 * conv2d on the CPU: im2col + GEMM in NHWC.
 *
 * The output (n*out_h*out_w, out_c) is the product of the im2col matrix
 * (n*out_h*out_w, k_h*k_w*in_c) with the Keras kernel viewed as
 * (k_h*k_w*in_c, out_c), so weights need no transposition. Rows are built in
 * chunks that fit a bounded workspace (RT_CONV_WS_BYTES), which keeps the
 * buffer in L2/L3 and the GEMM large enough to run near peak. In NHWC the
 * taps of one kernel row cover consecutive input pixels, so each kernel row
 * is one memcpy of its in-bounds part plus zero fill for the padding.
 * A 1x1 stride-1 unpadded conv needs no im2col: it is one GEMM on the input.
 *
 * Threads (one OpenMP team; OpenBLAS itself runs single-threaded, see
 * gemm.c): forward gives each thread whole chunks (its own workspace, its
 * own GEMM, disjoint output rows). Backward walks chunks in order; inside
 * one, threads split the im2col rows, then the weight-gradient rows, then
 * the dcol rows, then the input channels for col2im, since input pixels
 * are shared by neighbouring output rows.
 */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu_ops.h"

/* Workspace budget for one chunk of im2col rows (per thread in forward).
 * Measured with gemm_bench from 0.5 to 8 MB: below 2 MB the GEMMs get too
 * short; 4 and 8 MB were within this machine's noise. */
#define RT_CONV_WS_BYTES ((size_t)8 << 20)

static int rt_conv_is_pointwise(const rt_window2d *g)
{
    return g->k_h == 1 && g->k_w == 1 && g->stride_h == 1 && g->stride_w == 1
        && g->pad_top == 0 && g->pad_left == 0;
}

static int rt_conv_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* Rows per chunk: within the workspace budget, and (forward) no more than
 * an even share per thread so that every thread gets work. */
static size_t rt_conv_chunk_rows(const rt_window2d *g, size_t kdim, int share)
{
    size_t rows = (size_t)g->n * g->out_h * g->out_w;
    size_t chunk = RT_CONV_WS_BYTES / (kdim * sizeof(float));
    if (chunk < 128)
        chunk = 128; /* very deep kernels: accept a larger buffer */
    if (share > 1) {
        size_t even = (rows + (size_t)share - 1) / (size_t)share;
        chunk = chunk < even ? chunk : even;
    }
    return chunk < rows ? chunk : rows;
}

/* In-bounds taps [*j0, *j1) of a kernel row whose first tap is at iw0. */
static inline void rt_conv_taps(const rt_window2d *g, int iw0, int *j0, int *j1)
{
    *j0 = iw0 < 0 ? -iw0 : 0;
    *j1 = g->in_w - iw0 < g->k_w ? g->in_w - iw0 : g->k_w;
    if (*j1 < *j0)
        *j1 = *j0;
}

/* col (m1 - m0, k_h*k_w*in_c) = im2col rows [m0, m1). */
static void rt_im2col(const rt_window2d *g, const float *inp, float *col,
                      size_t m0, size_t m1)
{
    const int C = g->in_c;
    const size_t kdim = (size_t)g->k_h * g->k_w * C;
    for (size_t m = m0; m < m1; m++) {
        int ow = (int)(m % (size_t)g->out_w);
        size_t t = m / (size_t)g->out_w;
        int oh = (int)(t % (size_t)g->out_h), b = (int)(t / (size_t)g->out_h);
        int ih0 = oh * g->stride_h - g->pad_top;
        int iw0 = ow * g->stride_w - g->pad_left, j0, j1;
        rt_conv_taps(g, iw0, &j0, &j1);
        float *row = col + (m - m0) * kdim;
        for (int i = 0; i < g->k_h; i++) {
            float *dst = row + (size_t)i * g->k_w * C;
            int ih = ih0 + i;
            if (ih < 0 || ih >= g->in_h || j0 == j1) {
                memset(dst, 0, sizeof(float) * (size_t)g->k_w * C);
                continue;
            }
            const float *src = inp
                + (((size_t)b * g->in_h + ih) * g->in_w + iw0 + j0) * C;
            memset(dst, 0, sizeof(float) * (size_t)j0 * C);
            memcpy(dst + (size_t)j0 * C, src, sizeof(float) * (size_t)(j1 - j0) * C);
            memset(dst + (size_t)j1 * C, 0, sizeof(float) * (size_t)(g->k_w - j1) * C);
        }
    }
}

/* dinp += col2im of dcol rows [m0, m1), for channels [c0, c1). */
static void rt_col2im(const rt_window2d *g, const float *dcol, float *dinp,
                      size_t m0, size_t m1, int c0, int c1)
{
    const int C = g->in_c;
    const size_t kdim = (size_t)g->k_h * g->k_w * C;
    for (size_t m = m0; m < m1; m++) {
        int ow = (int)(m % (size_t)g->out_w);
        size_t t = m / (size_t)g->out_w;
        int oh = (int)(t % (size_t)g->out_h), b = (int)(t / (size_t)g->out_h);
        int ih0 = oh * g->stride_h - g->pad_top;
        int iw0 = ow * g->stride_w - g->pad_left, j0, j1;
        rt_conv_taps(g, iw0, &j0, &j1);
        const float *row = dcol + (m - m0) * kdim;
        for (int i = 0; i < g->k_h; i++) {
            int ih = ih0 + i;
            if (ih < 0 || ih >= g->in_h)
                continue;
            const float *src = row + ((size_t)i * g->k_w + j0) * C;
            float *dst = dinp + (((size_t)b * g->in_h + ih) * g->in_w + iw0 + j0) * C;
            for (int j = j0; j < j1; j++, src += C, dst += C)
                for (int ch = c0; ch < c1; ch++)
                    dst[ch] += src[ch];
        }
    }
}

static void rt_bias_add(float *out, const float *bias, size_t rows, int c)
{
    #pragma omp parallel for if (rows * (size_t)c > RT_CPU_PARALLEL_MIN) \
        schedule(static)
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < c; j++)
            out[r * c + j] += bias[j];
}

void rt_cpu_bias_backward(float *dbias, const float *dout, size_t rows, int c)
{
    for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < c; j++)
            dbias[j] += dout[r * c + j];
}

/* Slice [*lo, *hi) of [0, len) for thread id of nt, in multiples of align. */
static void rt_thread_slice(size_t len, int id, int nt, size_t align,
                            size_t *lo, size_t *hi)
{
    size_t step = ((len + (size_t)nt - 1) / (size_t)nt + align - 1) / align * align;
    *lo = step * (size_t)id < len ? step * (size_t)id : len;
    *hi = *lo + step < len ? *lo + step : len;
}

static int rt_thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static int rt_team_size(void)
{
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

rt_status rt_cpu_conv2d_forward(const rt_window2d *g, float *out,
                                const float *inp, const float *weight,
                                const float *bias)
{
    const size_t rows = (size_t)g->n * g->out_h * g->out_w;
    const int kdim = g->k_h * g->k_w * g->in_c, N = g->out_c;
    rt_status st = RT_OK;
    if (rt_conv_is_pointwise(g)) {
        st = rt_cpu_gemm(0, 0, (int)rows, N, kdim, 1.0f, inp, kdim, weight, N,
                         0.0f, out, N);
    } else {
        rt_cpu_blas_init();
        int nt = rt_conv_threads();
        size_t chunk = rt_conv_chunk_rows(g, (size_t)kdim, nt);
        long nchunks = (long)((rows + chunk - 1) / chunk);
        int failed = 0;
        #pragma omp parallel for schedule(dynamic, 1) if (nchunks > 1)
        for (long ci = 0; ci < nchunks; ci++) {
            size_t m0 = (size_t)ci * chunk;
            size_t m1 = m0 + chunk < rows ? m0 + chunk : rows;
            float *col = rt_cpu_workspace(chunk * (size_t)kdim);
            if (!col) {
                #pragma omp atomic write
                failed = 1;
                continue;
            }
            rt_im2col(g, inp, col, m0, m1);
            rt_cpu_gemm_serial(0, 0, (int)(m1 - m0), N, kdim, 1.0f, col, kdim,
                               weight, N, 0.0f, out + m0 * N, N);
        }
        if (failed)
            return rt_error_set(RT_ERR_NOMEM, "The computer is out of memory "
                                "(a %.1f MB convolution workspace): use a "
                                "smaller batch_size or free models you no "
                                "longer need.", chunk * (double)kdim * 4 / 1e6);
    }
    if (st == RT_OK && bias)
        rt_bias_add(out, bias, rows, N);
    return st;
}

static rt_status rt_conv2d_backward_pointwise(const rt_window2d *g,
                                              float *dinp, float *dweight,
                                              const float *dout,
                                              const float *inp,
                                              const float *weight)
{
    const int rows = g->n * g->out_h * g->out_w, C = g->in_c, N = g->out_c;
    rt_status st = RT_OK;
    if (dweight) /* (C, N) += inp^T (C, rows) . dout (rows, N) */
        st = rt_cpu_gemm(1, 0, C, N, rows, 1.0f, inp, C, dout, N, 1.0f,
                         dweight, N);
    if (st == RT_OK && dinp) /* (rows, C) += dout (rows, N) . weight^T */
        st = rt_cpu_gemm(0, 1, rows, C, N, 1.0f, dout, N, weight, N, 1.0f,
                         dinp, C);
    return st;
}

/* One chunk of rows [m0, m1) of the backward pass, inside a team. */
static void rt_conv2d_backward_chunk(const rt_window2d *g, float *dinp,
                                     float *dweight, const float *dout,
                                     const float *inp, const float *weight,
                                     float *col, size_t m0, size_t m1)
{
    const size_t kdim = (size_t)g->k_h * g->k_w * g->in_c, mc = m1 - m0;
    const int N = g->out_c, id = rt_thread_id(), nt = rt_team_size();
    size_t lo, hi;
    if (dweight) { /* dW (kdim, N) += col^T (kdim, mc) . dout (mc, N) */
        rt_thread_slice(mc, id, nt, 1, &lo, &hi);
        rt_im2col(g, inp, col + lo * kdim, m0 + lo, m0 + hi);
        #pragma omp barrier
        rt_thread_slice(kdim, id, nt, 16, &lo, &hi);
        if (lo < hi)
            rt_cpu_gemm_serial(1, 0, (int)(hi - lo), N, (int)mc, 1.0f, col + lo,
                               (int)kdim, dout + m0 * N, N, 1.0f,
                               dweight + lo * N, N);
        #pragma omp barrier
    }
    if (dinp) { /* dcol (mc, kdim) = dout (mc, N) . weight^T */
        rt_thread_slice(mc, id, nt, 16, &lo, &hi);
        if (lo < hi)
            rt_cpu_gemm_serial(0, 1, (int)(hi - lo), (int)kdim, N, 1.0f,
                               dout + (m0 + lo) * N, N, weight, N, 0.0f,
                               col + lo * kdim, (int)kdim);
        #pragma omp barrier
        rt_thread_slice((size_t)g->in_c, id, nt, 1, &lo, &hi);
        rt_col2im(g, col, dinp, m0, m1, (int)lo, (int)hi);
        #pragma omp barrier /* col is reused by the next chunk */
    }
}

rt_status rt_cpu_conv2d_backward(const rt_window2d *g, float *dinp,
                                 float *dweight, float *dbias,
                                 const float *dout, const float *inp,
                                 const float *weight)
{
    const size_t rows = (size_t)g->n * g->out_h * g->out_w;
    const int kdim = g->k_h * g->k_w * g->in_c;
    if (dbias)
        rt_cpu_bias_backward(dbias, dout, rows, g->out_c);
    if (!dinp && !dweight)
        return RT_OK;
    if (rt_conv_is_pointwise(g))
        return rt_conv2d_backward_pointwise(g, dinp, dweight, dout, inp,
                                            weight);
    rt_cpu_blas_init();
    size_t chunk = rt_conv_chunk_rows(g, (size_t)kdim, 1);
    float *col = rt_cpu_workspace(chunk * (size_t)kdim);
    if (!col)
        return RT_ERR_NOMEM;
    double work = (double)rows * kdim * g->out_c;
    #pragma omp parallel if (work > 4e6)
    for (size_t m0 = 0; m0 < rows; m0 += chunk) {
        size_t m1 = m0 + chunk < rows ? m0 + chunk : rows;
        rt_conv2d_backward_chunk(g, dinp, dweight, dout, inp, weight, col, m0,
                                 m1);
    }
    return RT_OK;
}
