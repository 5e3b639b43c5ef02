/*
 * dnn.cu - convolutions on cuDNN, and the CUDA backend's layer-op table
 * entries (the hand-written ops are in dnn_kernels.cu).
 *
 * Which cuDNN API. cuDNN 9 keeps the descriptor ("legacy") convolution API
 * of cudnn_cnn.h / cudnn_ops.h: deprecated but present throughout 9.x, it
 * takes float32 NHWC tensors directly, has heuristics that rank algorithms
 * with their workspace and determinism, and a convolution is four small
 * descriptors. The graph API would need several times the code to build and
 * finalise an operation graph per shape without cudnn_frontend (a C++
 * header library that is not part of the toolkit).
 *
 * Layouts. Activations are NHWC, as cuDNN's CUDNN_TENSOR_NHWC. Keras
 * weights are (k_h, k_w, in_c, out_c); cuDNN's NHWC filter is (out_c, k_h,
 * k_w, in_c). Each call transposes the weights into a workspace (tens of
 * microseconds even for InceptionV3's largest kernel, next to milliseconds
 * of convolution), and the weight gradient is computed in cuDNN's layout
 * and transposed back, ADDED into dweight, since gradients accumulate.
 *
 * Padding. cuDNN pads symmetrically. TF's 'same' puts the odd cell at the
 * bottom/right (stride 2, even input); such layers get a zero-padded copy
 * of the input and a 'valid' convolution, and their input gradient is
 * computed over the padded shape and its interior added into dinp. All of
 * InceptionV3's and MobileNet's convolutions are symmetric (stride-1 'same'
 * with odd kernels, or 'valid') and go straight to cuDNN.
 *
 * Algorithms. cudnnGet*Algorithm_v7 (heuristics, no trial runs) ranks the
 * candidates once per shape and direction; the first that runs is cached.
 * Backward passes prefer deterministic algorithms, so that a training run
 * repeats exactly; a candidate whose workspace cannot be had, or that
 * cuDNN refuses for the shape, makes way for the next.
 *
 * Arithmetic. FP32 mode sets CUDNN_FMA_MATH on every convolution: no
 * tensor cores, true float32 products as on the CPU. (CUDNN_DEFAULT_MATH
 * would let cuDNN use TF32 on Ampere and later without asking.) TF32 mode,
 * only on the user's request, permits tensor-core math with the type each
 * candidate names, never CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION (which may
 * round float32 down to half precision).
 *
 * Workspace slots: 0 the algorithm's workspace (and reductions' partial
 * sums), 1 the transposed weights or weight gradient, 2 the padded input,
 * 3 the padded input gradient.
 */
#include <string.h>

#include "cuda_internal.h"

enum { CONV_FWD, CONV_BWD_DATA, CONV_BWD_FILTER };

static const char *const conv_what[] = {
    "computing a convolution",
    "computing a convolution's input gradient",
    "computing a convolution's weight gradient",
};

/* Algorithms needing more workspace than this are tried only after every
 * smaller one (of the same determinism) failed: a notebook server's GPU is
 * shared, and FFT variants can ask for gigabytes. */
#define CONV_WS_SOFT_CAP ((size_t)256 << 20)

static int dnn_math = RT_CUDA_MATH_FP32;

/* One set of descriptors, re-described for every call (ops are issued from
 * one thread, in order). */
static struct {
    int made;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
} dd;

static void dnn_descriptors_free(void)
{
    if (dd.x)
        cudnnDestroyTensorDescriptor(dd.x);
    if (dd.y)
        cudnnDestroyTensorDescriptor(dd.y);
    if (dd.w)
        cudnnDestroyFilterDescriptor(dd.w);
    if (dd.conv)
        cudnnDestroyConvolutionDescriptor(dd.conv);
    memset(&dd, 0, sizeof dd);
}

static rt_status dnn_descriptors_make(void)
{
    if (dd.made)
        return RT_OK;
    cudnnStatus_t s = cudnnCreateTensorDescriptor(&dd.x);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnCreateTensorDescriptor(&dd.y);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnCreateFilterDescriptor(&dd.w);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnCreateConvolutionDescriptor(&dd.conv);
    if (s != CUDNN_STATUS_SUCCESS) {
        dnn_descriptors_free();
        return cu_check_cudnn(s, "preparing a convolution");
    }
    dd.made = 1;
    return RT_OK;
}

/* ---- the algorithm cache ------------------------------------------------
 * Open addressing over a fixed table; when it is three quarters full it is
 * emptied (a session sees a few hundred shapes at most). */

#define CONV_KEY_LEN 14
#define CONV_CACHE_SLOTS 1024 /* a power of two */

typedef struct conv_entry {
    int used;
    int key[CONV_KEY_LEN];
    int algo;
    cudnnMathType_t math;
} conv_entry;

static conv_entry conv_cache[CONV_CACHE_SLOTS];
static int conv_cache_count;

static void conv_cache_clear(void)
{
    memset(conv_cache, 0, sizeof conv_cache);
    conv_cache_count = 0;
}

static unsigned conv_key_hash(const int *key)
{
    unsigned h = 2166136261u; /* FNV-1a over the key's ints */
    for (int i = 0; i < CONV_KEY_LEN; i++) {
        h ^= (unsigned)key[i];
        h *= 16777619u;
    }
    return h;
}

/* The entry for key: its slot when cached, else the empty slot where it
 * would go. */
static conv_entry *conv_cache_slot(const int *key)
{
    unsigned i = conv_key_hash(key) & (CONV_CACHE_SLOTS - 1);
    while (conv_cache[i].used
           && memcmp(conv_cache[i].key, key, sizeof conv_cache[i].key) != 0)
        i = (i + 1) & (CONV_CACHE_SLOTS - 1);
    return &conv_cache[i];
}

static void conv_cache_put(const int *key, int algo, cudnnMathType_t math)
{
    conv_entry *e = conv_cache_slot(key);
    if (!e->used) {
        if (conv_cache_count >= CONV_CACHE_SLOTS * 3 / 4) {
            conv_cache_clear();
            e = conv_cache_slot(key);
        }
        e->used = 1;
        memcpy(e->key, key, sizeof e->key);
        conv_cache_count++;
    }
    e->algo = algo;
    e->math = math;
}

/* ---- geometry ----------------------------------------------------------- */

/* How cuDNN sees a layer: the input it reads (the caller's, or a zero-padded
 * copy when the padding is asymmetric) and the symmetric padding it adds. */
typedef struct conv_plan {
    int padded;       /* 1: cuDNN reads a padded copy (h, w) with no padding */
    int h, w;         /* input height and width as cuDNN sees them */
    int pad_h, pad_w; /* symmetric padding cuDNN applies */
} conv_plan;

static rt_status conv_plan_init(const rt_window2d *g, conv_plan *p)
{
    int hp = g->in_h + g->pad_top + g->pad_bottom;
    int wp = g->in_w + g->pad_left + g->pad_right;
    if (hp < g->k_h || wp < g->k_w
        || (hp - g->k_h) / g->stride_h + 1 != g->out_h
        || (wp - g->k_w) / g->stride_w + 1 != g->out_w)
        return cu.host->error_set(RT_ERR_SHAPE, "convolution window %dx%d "
                                  "stride %dx%d does not map %dx%d to %dx%d",
                                  g->k_h, g->k_w, g->stride_h, g->stride_w,
                                  g->in_h, g->in_w, g->out_h, g->out_w);
    p->padded = g->pad_top != g->pad_bottom || g->pad_left != g->pad_right;
    p->h = p->padded ? hp : g->in_h;
    p->w = p->padded ? wp : g->in_w;
    p->pad_h = p->padded ? 0 : g->pad_top;
    p->pad_w = p->padded ? 0 : g->pad_left;
    return RT_OK;
}

static void conv_key_make(int *key, int dir, const rt_window2d *g,
                          const conv_plan *p)
{
    const int k[CONV_KEY_LEN] = {dir, dnn_math, g->n, p->h, p->w, g->in_c,
                                 g->out_c, g->k_h, g->k_w, g->stride_h,
                                 g->stride_w, p->pad_h, p->pad_w, 0};
    memcpy(key, k, sizeof k);
}

/* The math type the heuristics are asked under: it decides which
 * candidates they list (FMA_MATH lists no tensor-core kernels). */
static cudnnMathType_t conv_mode_math(void)
{
    return dnn_math == RT_CUDA_MATH_TF32 ? CUDNN_TENSOR_OP_MATH
                                         : CUDNN_FMA_MATH;
}

static rt_status conv_describe(const rt_window2d *g, const conv_plan *p)
{
    rt_status st = dnn_descriptors_make();
    if (st != RT_OK)
        return st;
    cudnnStatus_t s = cudnnSetTensor4dDescriptor(
        dd.x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, g->n, g->in_c, p->h, p->w);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnSetTensor4dDescriptor(dd.y, CUDNN_TENSOR_NHWC,
                                       CUDNN_DATA_FLOAT, g->n, g->out_c,
                                       g->out_h, g->out_w);
    if (s == CUDNN_STATUS_SUCCESS) /* NHWC filter: (out_c, k_h, k_w, in_c) */
        s = cudnnSetFilter4dDescriptor(dd.w, CUDNN_DATA_FLOAT,
                                       CUDNN_TENSOR_NHWC, g->out_c, g->in_c,
                                       g->k_h, g->k_w);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnSetConvolution2dDescriptor(dd.conv, p->pad_h, p->pad_w,
                                            g->stride_h, g->stride_w, 1, 1,
                                            CUDNN_CROSS_CORRELATION,
                                            CUDNN_DATA_FLOAT);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnSetConvolutionGroupCount(dd.conv, 1);
    if (s == CUDNN_STATUS_SUCCESS)
        s = cudnnSetConvolutionMathType(dd.conv, conv_mode_math());
    return cu_check_cudnn(s, "preparing a convolution");
}

/* ---- layout kernels ----------------------------------------------------- */

/* For each of `batch` matrices: dst (cols, rows) = src (rows, cols)^T, or
 * += with ADD. Matrix b of src starts at src + b * src_bstride with its rows
 * src_rstride apart; likewise dst. 32x32 tiles through shared memory keep
 * both the reads and the writes coalesced. */
template <bool ADD>
static __global__ void transpose_kernel(float *dst, size_t dst_bstride,
                                        size_t dst_rstride, const float *src,
                                        size_t src_bstride, size_t src_rstride,
                                        int rows, int cols, int batch)
{
    __shared__ float tile[32][33];
    const size_t tr = ((size_t)rows + 31) / 32, tc = ((size_t)cols + 31) / 32;
    const size_t tiles = tr * tc * (size_t)batch;
    for (size_t t = blockIdx.x; t < tiles; t += gridDim.x) {
        size_t b = t / (tr * tc), rem = t % (tr * tc);
        int r0 = (int)(rem / tc) * 32, c0 = (int)(rem % tc) * 32;
        const float *s = src + b * src_bstride;
        float *d = dst + b * dst_bstride;
        for (int k = threadIdx.y; k < 32; k += blockDim.y) {
            int r = r0 + k, c = c0 + threadIdx.x;
            if (r < rows && c < cols)
                tile[k][threadIdx.x] = s[r * src_rstride + c];
        }
        __syncthreads();
        for (int k = threadIdx.y; k < 32; k += blockDim.y) {
            int c = c0 + k, r = r0 + threadIdx.x;
            if (r < rows && c < cols) {
                float *o = d + c * dst_rstride + r;
                *o = ADD ? *o + tile[threadIdx.x][k] : tile[threadIdx.x][k];
            }
        }
        __syncthreads();
    }
}

static unsigned transpose_blocks(int rows, int cols, int batch)
{
    size_t tiles = (((size_t)rows + 31) / 32) * (((size_t)cols + 31) / 32)
                 * (size_t)batch;
    return tiles < 65535u * 16u ? (unsigned)tiles : 65535u * 16u;
}

/* krsc (out_c, taps, in_c) = keras (taps, in_c, out_c) rearranged. */
static void weights_to_krsc(float *krsc, const float *keras, int taps, int in_c,
                            int out_c)
{
    transpose_kernel<false>
        <<<transpose_blocks(in_c, out_c, taps), dim3(32, 8), 0, cu.stream>>>(
            krsc, (size_t)in_c, (size_t)taps * in_c, keras,
            (size_t)in_c * out_c, (size_t)out_c, in_c, out_c, taps);
}

/* keras (taps, in_c, out_c) += krsc (out_c, taps, in_c) rearranged. */
static void weights_add_from_krsc(float *keras, const float *krsc, int taps,
                                  int in_c, int out_c)
{
    transpose_kernel<true>
        <<<transpose_blocks(out_c, in_c, taps), dim3(32, 8), 0, cu.stream>>>(
            keras, (size_t)in_c * out_c, (size_t)out_c, krsc, (size_t)in_c,
            (size_t)taps * in_c, out_c, in_c, taps);
}

/* dst (n, hp, wp, c) = src (n, h, w, c) with zeros around it, top rows
 * above and left columns before. */
static __global__ void pad_kernel(float *dst, const float *src, int h, int w,
                                  int c, int hp, int wp, int top, int left,
                                  size_t total)
{
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x) {
        size_t q = e / c;
        int ch = (int)(e % c), x = (int)(q % wp) - left;
        q /= wp;
        int y = (int)(q % hp) - top;
        size_t b = q / hp;
        dst[e] = y >= 0 && y < h && x >= 0 && x < w
            ? src[((b * h + y) * w + x) * c + ch] : 0.0f;
    }
}

/* dst (n, h, w, c) += the interior of src (n, hp, wp, c). */
static __global__ void unpad_add_kernel(float *dst, const float *src, int h,
                                        int w, int c, int hp, int wp, int top,
                                        int left, size_t total)
{
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x) {
        size_t q = e / c;
        int ch = (int)(e % c), x = (int)(q % w);
        q /= w;
        int y = (int)(q % h);
        size_t b = q / h;
        dst[e] += src[((b * hp + y + top) * wp + x + left) * c + ch];
    }
}

static size_t padded_numel(const rt_window2d *g, const conv_plan *p)
{
    return (size_t)g->n * p->h * p->w * g->in_c;
}

/* The input as cuDNN reads it: inp itself, or its padded copy (slot 2). */
static rt_status conv_input(const rt_window2d *g, const conv_plan *p,
                            const float *inp, const float **x)
{
    *x = inp;
    if (!p->padded)
        return RT_OK;
    void *buf = NULL;
    size_t total = padded_numel(g, p);
    rt_status st = cu_workspace(2, total * sizeof(float), &buf);
    if (st != RT_OK)
        return st;
    pad_kernel<<<cu_blocks(total), CU_THREADS, 0, cu.stream>>>(
        (float *)buf, inp, g->in_h, g->in_w, g->in_c, p->h, p->w, g->pad_top,
        g->pad_left, total);
    *x = (const float *)buf;
    return cu_check_launch("padding a convolution's input");
}

/* The weights in cuDNN's layout (slot 1). */
static rt_status conv_weights(const rt_window2d *g, const float *weight,
                              const float **krsc)
{
    void *buf = NULL;
    size_t n = (size_t)g->k_h * g->k_w * g->in_c * g->out_c;
    rt_status st = cu_workspace(1, n * sizeof(float), &buf);
    if (st != RT_OK)
        return st;
    weights_to_krsc((float *)buf, weight, g->k_h * g->k_w, g->in_c, g->out_c);
    *krsc = (const float *)buf;
    return cu_check_launch("rearranging a convolution's weights");
}

/* ---- running an algorithm ----------------------------------------------- */

typedef struct conv_io {
    const float *x;  /* input (forward, weight gradient) */
    const float *w;  /* filter, cuDNN layout (forward, input gradient) */
    const float *dy; /* output gradient (both backward directions) */
    float *out;      /* y, dx or dw */
    float beta;      /* 0: overwrite out; 1: add to it */
} conv_io;

typedef struct conv_cand {
    int algo;
    cudnnStatus_t status;
    size_t memory;
    int deterministic;
    cudnnMathType_t math;
} conv_cand;

#define CONV_MAX_CANDS 16

static cudnnStatus_t conv_exec(int dir, int algo, void *ws, size_t bytes,
                               const conv_io *io)
{
    const float one = 1.0f;
    switch (dir) {
    case CONV_FWD:
        return cudnnConvolutionForward(cu.cudnn, &one, dd.x, io->x, dd.w, io->w,
                                       dd.conv, (cudnnConvolutionFwdAlgo_t)algo,
                                       ws, bytes, &io->beta, dd.y, io->out);
    case CONV_BWD_DATA:
        return cudnnConvolutionBackwardData(
            cu.cudnn, &one, dd.w, io->w, dd.y, io->dy, dd.conv,
            (cudnnConvolutionBwdDataAlgo_t)algo, ws, bytes, &io->beta, dd.x,
            io->out);
    default:
        return cudnnConvolutionBackwardFilter(
            cu.cudnn, &one, dd.x, io->x, dd.y, io->dy, dd.conv,
            (cudnnConvolutionBwdFilterAlgo_t)algo, ws, bytes, &io->beta, dd.w,
            io->out);
    }
}

static cudnnStatus_t conv_ws_size(int dir, int algo, size_t *bytes)
{
    switch (dir) {
    case CONV_FWD:
        return cudnnGetConvolutionForwardWorkspaceSize(
            cu.cudnn, dd.x, dd.w, dd.conv, dd.y,
            (cudnnConvolutionFwdAlgo_t)algo, bytes);
    case CONV_BWD_DATA:
        return cudnnGetConvolutionBackwardDataWorkspaceSize(
            cu.cudnn, dd.w, dd.y, dd.conv, dd.x,
            (cudnnConvolutionBwdDataAlgo_t)algo, bytes);
    default:
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(
            cu.cudnn, dd.x, dd.y, dd.conv, dd.w,
            (cudnnConvolutionBwdFilterAlgo_t)algo, bytes);
    }
}

template <typename Perf>
static int conv_cands_from(conv_cand *c, const Perf *perf, int got)
{
    for (int i = 0; i < got; i++) {
        c[i].algo = (int)perf[i].algo;
        c[i].status = perf[i].status;
        c[i].memory = perf[i].memory;
        c[i].deterministic = perf[i].determinism == CUDNN_DETERMINISTIC;
        c[i].math = perf[i].mathType;
    }
    return got;
}

/* The heuristics' candidates for the described convolution, best first.
 * The descriptor is reset to the mode's math first: an earlier conv_try
 * (the other backward direction, a stale cached algorithm) may have left
 * a candidate's narrower math type on it. */
static rt_status conv_candidates(int dir, conv_cand *c, int *count)
{
    int got = 0;
    *count = 0;
    cudnnStatus_t s = cudnnSetConvolutionMathType(dd.conv, conv_mode_math());
    if (s != CUDNN_STATUS_SUCCESS)
        return cu_check_cudnn(s, conv_what[dir]);
    if (dir == CONV_FWD) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        s = cudnnGetConvolutionForwardAlgorithm_v7(
            cu.cudnn, dd.x, dd.w, dd.conv, dd.y,
            CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf);
        if (s == CUDNN_STATUS_SUCCESS)
            got = conv_cands_from(c, perf, got);
    } else if (dir == CONV_BWD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t
            perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        s = cudnnGetConvolutionBackwardDataAlgorithm_v7(
            cu.cudnn, dd.w, dd.y, dd.conv, dd.x,
            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf);
        if (s == CUDNN_STATUS_SUCCESS)
            got = conv_cands_from(c, perf, got);
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t
            perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        s = cudnnGetConvolutionBackwardFilterAlgorithm_v7(
            cu.cudnn, dd.x, dd.y, dd.conv, dd.w,
            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, perf);
        if (s == CUDNN_STATUS_SUCCESS)
            got = conv_cands_from(c, perf, got);
    }
    *count = s == CUDNN_STATUS_SUCCESS ? got : 0;
    return cu_check_cudnn(s, conv_what[dir]);
}

/* Try order: deterministic before not (backward only), then a workspace
 * under the soft cap before one over it; the heuristics' order within. */
static int conv_rank(int dir, const conv_cand *c)
{
    int r = c->memory > CONV_WS_SOFT_CAP ? 1 : 0;
    if (dir != CONV_FWD && !c->deterministic)
        r += 2;
    return r;
}

/* The math type to run a candidate with (see the file comment). */
static cudnnMathType_t conv_math(cudnnMathType_t named)
{
    if (dnn_math != RT_CUDA_MATH_TF32)
        return CUDNN_FMA_MATH;
    return named == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION ? CUDNN_TENSOR_OP_MATH
                                                         : named;
}

/* cuDNN statuses after which the next candidate may still work: the shape
 * or a buffer's alignment does not suit this algorithm, or its own memory
 * could not be had. */
static int conv_try_next(cudnnStatus_t s)
{
    return CUDNN_STATUS_CATEGORY((int)s) == CUDNN_STATUS_NOT_SUPPORTED
        || s == CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER
        || s == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
}

enum { TRY_OK, TRY_NEXT, TRY_FAILED };

/* Run one algorithm. TRY_NEXT when it cannot run here (cuDNN refuses the
 * shape, or its workspace is not to be had); *nomem notes the latter. */
static int conv_try(int dir, int algo, cudnnMathType_t math, const conv_io *io,
                    rt_status *st, int *nomem)
{
    size_t bytes = 0;
    void *ws = NULL;
    cudnnStatus_t s = cudnnSetConvolutionMathType(dd.conv, math);
    if (s == CUDNN_STATUS_SUCCESS)
        s = conv_ws_size(dir, algo, &bytes);
    if (s == CUDNN_STATUS_SUCCESS && bytes > 0) {
        *st = cu_workspace(0, bytes, &ws);
        if (*st == RT_ERR_NOMEM) {
            *nomem = 1;
            return TRY_NEXT;
        }
        if (*st != RT_OK)
            return TRY_FAILED;
    }
    if (s == CUDNN_STATUS_SUCCESS)
        s = conv_exec(dir, algo, ws, bytes, io);
    if (s == CUDNN_STATUS_SUCCESS)
        return TRY_OK;
    if (conv_try_next(s)) {
        *nomem |= s == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
        return TRY_NEXT;
    }
    *st = cu_check_cudnn(s, conv_what[dir]);
    return TRY_FAILED;
}

static rt_status conv_none_fits(int dir, const rt_window2d *g, int nomem)
{
    if (nomem)
        return cu.host->error_set(RT_ERR_NOMEM, "The GPU is out of memory "
            "while %s (%d filters of %dx%d over %dx%dx%d images, batch of "
            "%d): use a smaller batch_size, free models you no longer need, "
            "or run `%%device cpu`.", conv_what[dir], g->out_c, g->k_h,
            g->k_w, g->in_h, g->in_w, g->in_c, g->n);
    return cu.host->error_set(RT_ERR_DEVICE, "cuDNN has no way of %s (%d "
        "filters of %dx%d over %dx%dx%d images, batch of %d) on this GPU. "
        "Run `%%device cpu` to continue on the CPU.", conv_what[dir],
        g->out_c, g->k_h, g->k_w, g->in_h, g->in_w, g->in_c, g->n);
}

/* Rank the heuristics' candidates and run the first that works. */
static rt_status conv_search(int dir, const int *key, const rt_window2d *g,
                             const conv_io *io)
{
    conv_cand cand[CONV_MAX_CANDS];
    int count = 0, nomem = 0;
    rt_status st = conv_candidates(dir, cand, &count);
    if (st != RT_OK)
        return st;
    for (int rank = 0; rank < 4; rank++)
        for (int i = 0; i < count; i++) {
            if (cand[i].status != CUDNN_STATUS_SUCCESS
                || conv_rank(dir, &cand[i]) != rank)
                continue;
            cudnnMathType_t math = conv_math(cand[i].math);
            int r = conv_try(dir, cand[i].algo, math, io, &st, &nomem);
            if (r == TRY_FAILED)
                return st;
            if (r == TRY_OK) {
                conv_cache_put(key, cand[i].algo, math);
                return RT_OK;
            }
        }
    return conv_none_fits(dir, g, nomem);
}

/* Run the described convolution in one direction: the cached algorithm
 * when there is one and it still runs, else a new search. */
static rt_status conv_run(int dir, const rt_window2d *g, const conv_plan *p,
                          const conv_io *io)
{
    int key[CONV_KEY_LEN];
    conv_key_make(key, dir, g, p);
    conv_entry *e = conv_cache_slot(key);
    if (e->used) {
        rt_status st = RT_OK;
        int nomem = 0;
        int r = conv_try(dir, e->algo, e->math, io, &st, &nomem);
        if (r == TRY_OK)
            return RT_OK;
        if (r == TRY_FAILED)
            return st;
    }
    return conv_search(dir, key, g, io);
}

/* ---- the ops ------------------------------------------------------------ */

static rt_status dnn_conv2d_forward(const rt_window2d *g, float *out,
                                    const float *inp, const float *weight,
                                    const float *bias)
{
    CU_ALIVE();
    conv_plan p;
    const float *x, *w;
    rt_status st = conv_plan_init(g, &p);
    if (st == RT_OK)
        st = conv_describe(g, &p);
    if (st == RT_OK)
        st = conv_weights(g, weight, &w);
    if (st == RT_OK)
        st = conv_input(g, &p, inp, &x);
    if (st != RT_OK)
        return st;
    conv_io io = {x, w, NULL, out, 0.0f};
    st = conv_run(CONV_FWD, g, &p, &io);
    if (st == RT_OK && bias)
        st = cu_dnn_bias_forward(out, bias, (size_t)g->n * g->out_h * g->out_w,
                                 g->out_c);
    return st;
}

/* dweight += the weight gradient: computed in cuDNN's layout (slot 1),
 * then transposed and added. */
static rt_status conv_backward_filter(const rt_window2d *g, const conv_plan *p,
                                      float *dweight, const float *dout,
                                      const float *inp)
{
    const float *x;
    void *dw = NULL;
    size_t n = (size_t)g->k_h * g->k_w * g->in_c * g->out_c;
    rt_status st = conv_input(g, p, inp, &x);
    if (st == RT_OK)
        st = cu_workspace(1, n * sizeof(float), &dw);
    if (st != RT_OK)
        return st;
    conv_io io = {x, NULL, dout, (float *)dw, 0.0f};
    if ((st = conv_run(CONV_BWD_FILTER, g, p, &io)) != RT_OK)
        return st;
    weights_add_from_krsc(dweight, (const float *)dw, g->k_h * g->k_w, g->in_c,
                          g->out_c);
    return cu_check_launch(conv_what[CONV_BWD_FILTER]);
}

/* dinp += the input gradient: straight into dinp (beta = 1) when cuDNN
 * pads as TF does, else over the padded shape (slot 3) and its interior
 * added. */
static rt_status conv_backward_data(const rt_window2d *g, const conv_plan *p,
                                    float *dinp, const float *dout,
                                    const float *weight)
{
    const float *w;
    rt_status st = conv_weights(g, weight, &w);
    if (st != RT_OK)
        return st;
    if (!p->padded) {
        conv_io io = {NULL, w, dout, dinp, 1.0f};
        return conv_run(CONV_BWD_DATA, g, p, &io);
    }
    void *dxp = NULL;
    size_t total = (size_t)g->n * g->in_h * g->in_w * g->in_c;
    st = cu_workspace(3, padded_numel(g, p) * sizeof(float), &dxp);
    if (st != RT_OK)
        return st;
    conv_io io = {NULL, w, dout, (float *)dxp, 0.0f};
    if ((st = conv_run(CONV_BWD_DATA, g, p, &io)) != RT_OK)
        return st;
    unpad_add_kernel<<<cu_blocks(total), CU_THREADS, 0, cu.stream>>>(
        dinp, (const float *)dxp, g->in_h, g->in_w, g->in_c, p->h, p->w,
        g->pad_top, g->pad_left, total);
    return cu_check_launch(conv_what[CONV_BWD_DATA]);
}

static rt_status dnn_conv2d_backward(const rt_window2d *g, float *dinp,
                                     float *dweight, float *dbias,
                                     const float *dout, const float *inp,
                                     const float *weight)
{
    CU_ALIVE();
    rt_status st = RT_OK;
    if (dbias)
        st = cu_dnn_bias_backward(dbias, dout,
                                  (size_t)g->n * g->out_h * g->out_w, g->out_c);
    if (st != RT_OK || (!dinp && !dweight))
        return st;
    conv_plan p;
    if ((st = conv_plan_init(g, &p)) == RT_OK)
        st = conv_describe(g, &p);
    if (st == RT_OK && dweight)
        st = conv_backward_filter(g, &p, dweight, dout, inp);
    if (st == RT_OK && dinp)
        st = conv_backward_data(g, &p, dinp, dout, weight);
    return st;
}

/* ---- the module's entry points ------------------------------------------ */

void cu_register_dnn(rt_backend *be)
{
    be->conv2d_forward = dnn_conv2d_forward;
    be->conv2d_backward = dnn_conv2d_backward;
    cu_register_dnn_kernels(be);
}

rt_status cu_dnn_set_math(int mode)
{
    if (mode != RT_CUDA_MATH_FP32 && mode != RT_CUDA_MATH_TF32)
        return cu.host->error_set(RT_ERR_ARG, "unknown GPU arithmetic mode %d "
                                  "(FP32 or TF32)", mode);
    if (mode != dnn_math) {
        dnn_math = mode;
        conv_cache_clear(); /* algorithms were chosen for the old math */
    }
    return RT_OK;
}
