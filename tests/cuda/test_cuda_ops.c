/*
 * test_cuda_ops.c - every op of the GPU backend table against the CPU
 * backend, forward and backward: fixed shapes that hit the edge cases
 * (1x7 / 7x1 kernels, strided 'valid', asymmetric 'same' padding,
 * depthwise multipliers 1 and 2, BN rows that are not a multiple of 32,
 * probabilities at 0 and 1, GEMM transposes and leading dimensions) and a
 * few shapes per op drawn from a fixed seed.
 *
 * Both backends get identical inputs, and backward ops get the same
 * forward output (the CPU's), so that each op is compared on its own.
 * Gradient buffers start from the same random non-zero contents on both
 * sides, which checks that the GPU accumulates (+=) exactly where the CPU
 * does; ops whose d* arguments may be NULL also run with each NULL.
 *
 * Error of a result: max|gpu - cpu| / max|cpu| over the whole buffer (a
 * NaN or infinity where the CPU has a finite value is an infinite error).
 * The tolerance of each table entry, and why, is tols[] below; the program
 * prints the worst error found per op. Skips (77) without a usable GPU;
 * HELLODL_GPU_EMULATE=1 runs it against the emulated device.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "check.h"
#include "device.h"
#include "rng.h"
#include "tensor.h"

/* ---- tolerances, one row per table entry ---- */

enum {
    T_ALLOC, T_UPDOWN, T_COPY, T_FILL, T_AXPY, T_SCALE, T_GEMM,
    T_CONV_F, T_CONV_B, T_DW_F, T_DW_B,
    T_BN_TRAIN_F, T_BN_INFER_F, T_BN_TRAIN_B, T_BN_INFER_B, T_BN_MOVING,
    T_RELU_F, T_RELU_B, T_RELU6_F, T_RELU6_B, T_SIGMOID_F, T_SIGMOID_B,
    T_SOFTMAX_F, T_SOFTMAX_B,
    T_MAXPOOL_F, T_MAXPOOL_B, T_AVGPOOL_F, T_AVGPOOL_B, T_GAP_F, T_GAP_B,
    T_DENSE_F, T_DENSE_B, T_DROPOUT_F, T_DROPOUT_B,
    T_CONCAT_F, T_CONCAT_B, T_ZEROPAD_F, T_ZEROPAD_B,
    T_BCE_F, T_BCE_B, T_CCE_F, T_CCE_B, T_BIN_ACC, T_CAT_ACC,
    T_ADAM, T_SGD, T_COUNT
};

typedef struct op_tol {
    const char *op;
    double tol; /* relative to the result's largest magnitude */
    const char *why;
    double worst;
    int cases, failed;
    char worst_case[96];
} op_tol;

static op_tol tols[T_COUNT] = {
    {"buffer_alloc", 0, "new buffers are zero-filled: exact", 0, 0, 0, ""},
    {"copy_from_host/to_host", 0, "round trips move bits: exact", 0, 0, 0, ""},
    {"copy", 0, "device-to-device copies move bits: exact", 0, 0, 0, ""},
    {"fill", 0, "stores one value: exact", 0, 0, 0, ""},
    {"axpy", 1e-6, "one multiply-add; the GPU may fuse it (one rounding, not two)", 0, 0, 0, ""},
    {"scale", 1e-6, "one multiply per element: within an ulp", 0, 0, 0, ""},
    {"gemm", 1e-5, "k products summed in another order (cuBLAS blocks k its own way)", 0, 0, 0, ""},
    {"conv2d_forward", 1e-4, "cuDNN sums kh*kw*cin products in another order, or through Winograd/FFT transforms", 0, 0, 0, ""},
    {"conv2d_backward", 1e-4, "as forward; the weight gradient sums n*oh*ow terms in another order", 0, 0, 0, ""},
    {"depthwise_conv2d_forward", 1e-5, "kh*kw products per output in another order", 0, 0, 0, ""},
    {"depthwise_conv2d_backward", 1e-4, "the weight gradient sums n*oh*ow terms in another order", 0, 0, 0, ""},
    {"batchnorm_forward_train", 1e-5, "mean and variance are sums over rows, reduced in another order", 0, 0, 0, ""},
    {"batchnorm_forward_infer", 1e-6, "elementwise with given statistics; rsqrt vs 1/sqrt within an ulp", 0, 0, 0, ""},
    {"batchnorm_backward_train", 1e-4, "two row reductions, then a difference that cancels", 0, 0, 0, ""},
    {"batchnorm_backward_infer", 1e-5, "dinp elementwise; dgamma and dbeta are row sums in another order", 0, 0, 0, ""},
    {"batchnorm_moving_update", 1e-5, "1/(1 - momentum^step) magnifies one ulp of the power up to 100x at step 1", 0, 0, 0, ""},
    {"relu_forward", 0, "a comparison and a copy: exact", 0, 0, 0, ""},
    {"relu_backward", 1e-6, "dinp += dout where out > 0: one add", 0, 0, 0, ""},
    {"relu6_forward", 0, "comparisons and copies: exact", 0, 0, 0, ""},
    {"relu6_backward", 1e-6, "dinp += dout inside (0, 6): one add", 0, 0, 0, ""},
    {"sigmoid_forward", 1e-6, "expf on the GPU is within 2 ulp of the C library's", 0, 0, 0, ""},
    {"sigmoid_backward", 1e-6, "out*(1-out)*dout, possibly fused", 0, 0, 0, ""},
    {"softmax_forward", 1e-6, "expf plus a row sum in another order", 0, 0, 0, ""},
    {"softmax_backward", 1e-6, "a row dot product in another order", 0, 0, 0, ""},
    {"maxpool2d_forward", 0, "a selection, no arithmetic: exact", 0, 0, 0, ""},
    {"maxpool2d_backward", 1e-6, "overlapping windows add into one cell in another order", 0, 0, 0, ""},
    {"avgpool2d_forward", 1e-6, "a window sum in another order, then a division", 0, 0, 0, ""},
    {"avgpool2d_backward", 1e-6, "overlapping windows add into one cell in another order", 0, 0, 0, ""},
    {"global_avgpool_forward", 1e-6, "a sum of h*w terms in another order", 0, 0, 0, ""},
    {"global_avgpool_backward", 1e-6, "dinp += dout/hw: one rounding each", 0, 0, 0, ""},
    {"dense_forward", 1e-5, "a GEMM: nin products summed in another order", 0, 0, 0, ""},
    {"dense_backward", 1e-5, "GEMMs summing over the batch or nout in another order", 0, 0, 0, ""},
    {"dropout_forward", 0, "the same counter hash decides each element; inp*mask is one rounding: exact", 0, 0, 0, ""},
    {"dropout_backward", 1e-6, "dinp += dout*mask, possibly fused", 0, 0, 0, ""},
    {"concat_forward", 0, "copies: exact", 0, 0, 0, ""},
    {"concat_backward", 0, "one add per element: exact", 0, 0, 0, ""},
    {"zeropad2d_forward", 0, "copies and zeros: exact", 0, 0, 0, ""},
    {"zeropad2d_backward", 0, "one add per element: exact", 0, 0, 0, ""},
    {"bce_forward", 1e-5, "logf of clipped probabilities, summed over the batch in another order", 0, 0, 0, ""},
    {"bce_backward", 1e-6, "a few divisions per element", 0, 0, 0, ""},
    {"cce_forward", 1e-5, "a row normalisation and logf, summed in another order", 0, 0, 0, ""},
    {"cce_backward", 1e-6, "a row normalisation and divisions", 0, 0, 0, ""},
    {"binary_accuracy", 0, "a count of exact comparisons", 0, 0, 0, ""},
    {"categorical_accuracy", 0, "a count of exact comparisons (first maximum on ties)", 0, 0, 0, ""},
    {"adam_update", 1e-6, "sqrtf and division are correctly rounded on both; several steps compound an ulp", 0, 0, 0, ""},
    {"sgd_update", 1e-6, "a multiply-add per element, possibly fused, over several steps", 0, 0, 0, ""},
};

static const rt_backend *cpu, *gpu;
static rt_rng rng;

/* ---- buffers: everything a case allocates is freed by case_end ---- */

#define MAX_LIVE 256
static rt_tensor *live_dev[MAX_LIVE];
static float *live_host[MAX_LIVE];
static int n_dev, n_host;

static void die(const char *what)
{
    fprintf(stderr, "test_cuda_ops: %s failed: %s\n", what, rt_error_message());
    exit(1);
}

static float *hvec(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p || n_host == MAX_LIVE)
        die("host allocation");
    live_host[n_host++] = p;
    return p;
}

static float *hrand(size_t n, float lo, float hi)
{
    float *p = hvec(n);
    rt_rng_fill_uniform(&rng, p, n, lo, hi);
    return p;
}

static float *hcopy(const float *src, size_t n)
{
    float *p = hvec(n);
    memcpy(p, src, n * sizeof(float));
    return p;
}

/* A device buffer holding a copy of h (n floats), through a CPU tensor and
 * rt_tensor_to_device. */
static float *dev_from(const float *h, size_t n)
{
    int64_t shape = (int64_t)n;
    rt_tensor *host = NULL, *d = NULL;
    if (rt_tensor_from_host(&host, RT_DEVICE_CPU, 1, &shape, h) != RT_OK)
        die("rt_tensor_from_host");
    if (rt_tensor_to_device(&d, host, RT_DEVICE_CUDA) != RT_OK)
        die("rt_tensor_to_device");
    rt_tensor_release(host);
    if (d->device != RT_DEVICE_CUDA || n_dev == MAX_LIVE)
        die("a device tensor");
    live_dev[n_dev++] = d;
    return d->data;
}

static float *dev_zero(size_t n)
{
    int64_t shape = (int64_t)n;
    rt_tensor *d = NULL;
    if (rt_tensor_new(&d, RT_DEVICE_CUDA, 1, &shape) != RT_OK || n_dev == MAX_LIVE)
        die("rt_tensor_new on the GPU");
    live_dev[n_dev++] = d;
    return d->data;
}

static float *dev_to_host(const float *d, size_t n)
{
    float *h = hvec(n);
    if (gpu->copy_to_host(h, d, n * sizeof(float)) != RT_OK)
        die("copy_to_host");
    return h;
}

static void case_end(void)
{
    for (int i = 0; i < n_dev; i++)
        rt_tensor_release(live_dev[i]);
    for (int i = 0; i < n_host; i++)
        free(live_host[i]);
    n_dev = n_host = 0;
    gpu->workspace_trim();
}

/* ---- comparison ---- */

static double rel_err(const float *got, const float *ref, size_t n, size_t *where)
{
    double maxref = 0.0, worst = 0.0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(ref[i]) && fabs(ref[i]) > maxref)
            maxref = fabs(ref[i]);
    double denom = maxref > 0.0 ? maxref : 1.0;
    *where = 0;
    for (size_t i = 0; i < n; i++) {
        double e = 0.0;
        if (got[i] != ref[i] && !(isnan(got[i]) && isnan(ref[i])))
            e = fabs((double)got[i] - ref[i]) / denom;
        if (!(e <= worst)) { /* NaN counts as infinite */
            worst = isnan(e) ? INFINITY : e;
            *where = i;
        }
    }
    return worst;
}

static void record(int op, const char *cs, const char *what, const float *got,
                   const float *ref, size_t n)
{
    op_tol *t = &tols[op];
    size_t at;
    double e = rel_err(got, ref, n, &at);
    t->cases++;
    check_count++;
    if (e > t->worst || t->cases == 1) {
        t->worst = e;
        snprintf(t->worst_case, sizeof t->worst_case, "%s: %s", cs, what);
    }
    if (!(e <= t->tol)) {
        t->failed++;
        check_failures++;
        fprintf(stderr, "FAIL %s [%s] %s: error %.3g > %.3g at element %zu of %zu: "
                "gpu %.9g cpu %.9g\n", t->op, cs, what, e, t->tol, at, n,
                (double)got[at], (double)ref[at]);
    }
}

/* Compare a device buffer with the CPU's host result. */
static void expect(int op, const char *cs, const char *what, const float *dgot,
                   const float *ref, size_t n)
{
    record(op, cs, what, dev_to_host(dgot, n), ref, n);
}

static void ok(rt_status st, const char *op, const char *cs)
{
    check_count++;
    if (st != RT_OK) {
        check_failures++;
        fprintf(stderr, "FAIL %s [%s] returned %s: %s\n", op, cs,
                rt_status_name(st), rt_error_message());
    }
}

/* ---- memory ---- */

static void test_memory(size_t n)
{
    char cs[64];
    snprintf(cs, sizeof cs, "n=%zu", n);
    size_t nb = n * sizeof(float);
    void *p = NULL, *q = NULL;
    ok(gpu->buffer_alloc(nb, &p), "buffer_alloc", cs);
    ok(gpu->buffer_alloc(nb, &q), "buffer_alloc", cs);
    if (!p || !q)
        return;
    float *h = hvec(n), *zero = hvec(n), *src = hrand(n, -1.0f, 1.0f);
    ok(gpu->copy_to_host(h, p, nb), "copy_to_host", cs);
    record(T_ALLOC, cs, "zero-filled", h, zero, n);
    ok(gpu->copy_from_host(p, src, nb), "copy_from_host", cs);
    ok(gpu->copy_to_host(h, p, nb), "copy_to_host", cs);
    record(T_UPDOWN, cs, "round trip", h, src, n);

    /* whole and sub-range device copies (views are offsets into storage) */
    ok(gpu->copy(q, p, nb), "copy", cs);
    ok(gpu->copy_to_host(h, q, nb), "copy_to_host", cs);
    record(T_COPY, cs, "whole", h, src, n);
    if (n > 5) {
        float *ref = hcopy(src, n);
        memmove(ref + 3, src + 1, (n - 5) * sizeof(float));
        ok(gpu->copy((float *)q + 3, (const float *)p + 1, (n - 5) * sizeof(float)),
           "copy", cs);
        ok(gpu->copy_to_host(h, q, nb), "copy_to_host", cs);
        record(T_COPY, cs, "offset +1 -> +3", h, ref, n);
    }

    float *ref = hcopy(src, n);
    size_t lo = n > 2 ? 1 : 0, cnt = n > 2 ? n - 2 : n;
    for (size_t i = lo; i < lo + cnt; i++)
        ref[i] = 0.25f;
    ok(gpu->fill((float *)p + lo, cnt, 0.25f), "fill", cs);
    ok(gpu->copy_to_host(h, p, nb), "copy_to_host", cs);
    record(T_FILL, cs, "interior", h, ref, n);

    float *x = hrand(n, -1.0f, 1.0f), *y = hrand(n, -1.0f, 1.0f);
    float *dx = dev_from(x, n), *dy = dev_from(y, n);
    ok(cpu->axpy(y, x, n, -0.7f), "axpy", cs);
    ok(gpu->axpy(dy, dx, n, -0.7f), "axpy", cs);
    expect(T_AXPY, cs, "y += -0.7 x", dy, y, n);
    ok(cpu->scale(y, n, 1.3f), "scale", cs);
    ok(gpu->scale(dy, n, 1.3f), "scale", cs);
    expect(T_SCALE, cs, "x *= 1.3", dy, y, n);

    gpu->buffer_free(p);
    gpu->buffer_free(q);
    case_end();
}

/* ---- GEMM ---- */

static void test_gemm(int ta, int tb, int m, int n, int k, int pad, float alpha,
                      float beta)
{
    char cs[96];
    snprintf(cs, sizeof cs, "%c%c m=%d n=%d k=%d ld+%d alpha=%g beta=%g",
             ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, pad, alpha, beta);
    int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    size_t na = (size_t)(ta ? k : m) * lda, nb = (size_t)(tb ? n : k) * ldb;
    size_t nc = (size_t)m * ldc;
    float *a = hrand(na, -1, 1), *b = hrand(nb, -1, 1), *c = hrand(nc, -1, 1);
    float *da = dev_from(a, na), *db = dev_from(b, nb), *dc = dev_from(c, nc);
    ok(cpu->gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc), "gemm cpu", cs);
    ok(gpu->gemm(ta, tb, m, n, k, alpha, da, lda, db, ldb, beta, dc, ldc), "gemm", cs);
    /* the whole buffer: the padding columns past n must stay untouched */
    expect(T_GEMM, cs, "C", dc, c, nc);
    case_end();
}

static void test_gemms(void)
{
    static const int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {128, 96, 300}};
    static const float ab[][2] = {{1.0f, 0.0f}, {0.7f, 0.3f}, {-1.5f, 1.0f}};
    for (int s = 0; s < 4; s++)
        for (int t = 0; t < 4; t++)
            for (int pad = 0; pad <= 3; pad += 3)
                test_gemm(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                          pad, ab[(s + t + pad) % 3][0], ab[(s + t + pad) % 3][1]);
    for (int r = 0; r < 4; r++)
        test_gemm((int)rt_rng_below(&rng, 2), (int)rt_rng_below(&rng, 2),
                  1 + (int)rt_rng_below(&rng, 70), 1 + (int)rt_rng_below(&rng, 70),
                  1 + (int)rt_rng_below(&rng, 200), (int)rt_rng_below(&rng, 5),
                  0.5f, 1.0f);
}

/* ---- convolutions ---- */

static size_t win_in(const rt_window2d *g)
{
    return (size_t)g->n * g->in_h * g->in_w * g->in_c;
}

static size_t win_out(const rt_window2d *g)
{
    return (size_t)g->n * g->out_h * g->out_w * g->out_c;
}

/* Which gradients a backward call asks for: all; dinp only (a frozen
 * layer); the weights only (the first layer). */
static const int grad_masks[3] = {7, 1, 6};
static const char *const grad_mask_names[3] = {"all grads", "dinp only", "weights only"};

typedef rt_status (*conv_fwd_fn)(const rt_window2d *, float *, const float *,
                                 const float *, const float *);
typedef rt_status (*conv_bwd_fn)(const rt_window2d *, float *, float *, float *,
                                 const float *, const float *, const float *);

static void conv_case(const char *cs, const rt_window2d *g, size_t nw, int bias,
                      int depthwise)
{
    conv_fwd_fn fc = depthwise ? cpu->depthwise_conv2d_forward : cpu->conv2d_forward;
    conv_fwd_fn fg = depthwise ? gpu->depthwise_conv2d_forward : gpu->conv2d_forward;
    conv_bwd_fn bc = depthwise ? cpu->depthwise_conv2d_backward : cpu->conv2d_backward;
    conv_bwd_fn bg = depthwise ? gpu->depthwise_conv2d_backward : gpu->conv2d_backward;
    int tf = depthwise ? T_DW_F : T_CONV_F, tb = depthwise ? T_DW_B : T_CONV_B;
    size_t nx = win_in(g), ny = win_out(g), nb = (size_t)g->out_c;
    float *x = hrand(nx, -1, 1), *w = hrand(nw, -1, 1), *b = bias ? hrand(nb, -1, 1) : NULL;
    float *dx = dev_from(x, nx), *dw = dev_from(w, nw), *db = b ? dev_from(b, nb) : NULL;
    float *y = hvec(ny), *dy = dev_zero(ny);
    ok(fc(g, y, x, w, b), "conv forward cpu", cs);
    ok(fg(g, dy, dx, dw, db), "conv forward", cs);
    expect(tf, cs, "out", dy, y, ny);

    float *gout = hrand(ny, -1, 1), *dgout = dev_from(gout, ny);
    for (int v = 0; v < 3; v++) {
        int mk = grad_masks[v];
        float *gx = hrand(nx, -1, 1), *gw = hrand(nw, -1, 1), *gb = hrand(nb, -1, 1);
        float *dgx = mk & 1 ? dev_from(gx, nx) : NULL;
        float *dgw = mk & 2 ? dev_from(gw, nw) : NULL;
        float *dgb = mk & 4 && bias ? dev_from(gb, nb) : NULL;
        ok(bc(g, mk & 1 ? gx : NULL, mk & 2 ? gw : NULL, mk & 4 && bias ? gb : NULL,
              gout, x, w), "conv backward cpu", cs);
        ok(bg(g, dgx, dgw, dgb, dgout, dx, dw), "conv backward", cs);
        char what[64];
        if (dgx) {
            snprintf(what, sizeof what, "dinp (%s)", grad_mask_names[v]);
            expect(tb, cs, what, dgx, gx, nx);
        }
        if (dgw) {
            snprintf(what, sizeof what, "dweight (%s)", grad_mask_names[v]);
            expect(tb, cs, what, dgw, gw, nw);
        }
        if (dgb) {
            snprintf(what, sizeof what, "dbias (%s)", grad_mask_names[v]);
            expect(tb, cs, what, dgb, gb, nb);
        }
    }
    case_end();
}

static void test_conv(const char *name, int n, int h, int w, int ci, int co, int kh,
                      int kw, int sh, int sw, rt_padding pad, int bias)
{
    char cs[128];
    snprintf(cs, sizeof cs, "%s (%d,%d,%d,%d)->%d", name, n, h, w, ci, co);
    rt_window2d g;
    if (rt_window2d_init(&g, n, h, w, ci, co, kh, kw, sh, sw, pad) != RT_OK)
        die(cs);
    conv_case(cs, &g, (size_t)kh * kw * ci * co, bias, 0);
}

static void test_depthwise(const char *name, int n, int h, int w, int ci, int mult,
                           int k, int s, rt_padding pad, int bias)
{
    char cs[128];
    snprintf(cs, sizeof cs, "%s (%d,%d,%d,%d) x%d", name, n, h, w, ci, mult);
    rt_window2d g;
    if (rt_window2d_init(&g, n, h, w, ci, ci * mult, k, k, s, s, pad) != RT_OK)
        die(cs);
    conv_case(cs, &g, (size_t)k * k * ci * mult, bias, 1);
}

static int rnd(int lo, int hi) /* uniform in [lo, hi] */
{
    return lo + (int)rt_rng_below(&rng, (uint64_t)(hi - lo + 1));
}

static void test_convs(void)
{
    test_conv("3x3 s1 same +bias", 2, 9, 9, 3, 8, 3, 3, 1, 1, RT_PAD_SAME, 1);
    test_conv("1x7 s1 same", 2, 17, 17, 16, 12, 1, 7, 1, 1, RT_PAD_SAME, 0);
    test_conv("7x1 s1 same", 2, 17, 17, 16, 12, 7, 1, 1, 1, RT_PAD_SAME, 0);
    test_conv("3x3 s2 valid", 2, 15, 15, 8, 16, 3, 3, 2, 2, RT_PAD_VALID, 0);
    test_conv("3x3 s2 same, even input (pad 0/1)", 2, 16, 16, 8, 8, 3, 3, 2, 2, RT_PAD_SAME, 0);
    test_conv("3x3 s2 same, odd input (pad 1/1)", 1, 15, 15, 4, 4, 3, 3, 2, 2, RT_PAD_SAME, 1);
    test_conv("2x2 s2 same, odd input (pad 0/1)", 2, 7, 7, 3, 5, 2, 2, 2, 2, RT_PAD_SAME, 1);
    test_conv("4x4 s1 same (pad 1/2)", 1, 6, 7, 3, 4, 4, 4, 1, 1, RT_PAD_SAME, 0);
    test_conv("5x5 s1 same", 2, 11, 11, 8, 12, 5, 5, 1, 1, RT_PAD_SAME, 0);
    test_conv("1x1 pointwise +bias", 4, 7, 7, 32, 16, 1, 1, 1, 1, RT_PAD_SAME, 1);
    test_conv("1x1 s2 valid", 2, 9, 9, 6, 5, 1, 1, 2, 2, RT_PAD_VALID, 0);
    test_conv("3x1 s1x2 valid", 1, 9, 11, 4, 3, 3, 1, 1, 2, RT_PAD_VALID, 0);
    test_conv("stem 3x3 s2 valid 3->32", 2, 35, 35, 3, 32, 3, 3, 2, 2, RT_PAD_VALID, 0);
    test_conv("3x3 s1 same 64->96", 2, 35, 35, 64, 96, 3, 3, 1, 1, RT_PAD_SAME, 0);
    static const int ks[4] = {1, 3, 5, 7};
    for (int r = 0; r < 4; r++) {
        int kh = ks[rnd(0, 3)], kw = ks[rnd(0, 3)], s = rnd(1, 2);
        rt_padding pad = rnd(0, 1) ? RT_PAD_SAME : RT_PAD_VALID;
        test_conv("random", rnd(1, 3), rnd(kh, 20), rnd(kw, 20), rnd(1, 24), rnd(1, 24),
                  kh, kw, s, rnd(1, 2), pad, rnd(0, 1));
    }

    test_depthwise("3x3 s1 same", 2, 12, 12, 16, 1, 3, 1, RT_PAD_SAME, 0);
    test_depthwise("3x3 s2 same, even input (pad 0/1)", 2, 12, 12, 8, 1, 3, 2, RT_PAD_SAME, 0);
    test_depthwise("3x3 s2 valid", 2, 13, 13, 8, 1, 3, 2, RT_PAD_VALID, 0);
    test_depthwise("3x3 s1 same +bias", 2, 9, 9, 6, 2, 3, 1, RT_PAD_SAME, 1);
    test_depthwise("3x3 s2 same", 2, 10, 10, 5, 2, 3, 2, RT_PAD_SAME, 0);
    test_depthwise("MobileNet 7x7 grid", 4, 7, 7, 256, 1, 3, 1, RT_PAD_SAME, 0);
    for (int r = 0; r < 3; r++) {
        int k = 2 * rnd(0, 2) + 1;
        test_depthwise("random", rnd(1, 3), rnd(k, 18), rnd(k, 18), rnd(1, 20), rnd(1, 2),
                       k, rnd(1, 2), rnd(0, 1) ? RT_PAD_SAME : RT_PAD_VALID, rnd(0, 1));
    }
}

/* ---- batch normalization ---- */

static void test_batchnorm(size_t rows, int c, int use_gamma, int use_beta)
{
    char cs[96];
    snprintf(cs, sizeof cs, "rows=%zu c=%d%s%s eps=1e-3", rows, c,
             use_gamma ? " gamma" : "", use_beta ? " beta" : "");
    const float eps = 1e-3f;
    size_t n = rows * (size_t)c;
    float *x = hrand(n, -2.0f, 4.0f);
    float *gamma = use_gamma ? hrand((size_t)c, 0.5f, 1.5f) : NULL;
    float *beta = use_beta ? hrand((size_t)c, -0.5f, 0.5f) : NULL;
    float *dx = dev_from(x, n), *dgamma = gamma ? dev_from(gamma, (size_t)c) : NULL;
    float *dbeta = beta ? dev_from(beta, (size_t)c) : NULL;

    float *y = hvec(n), *mean = hvec((size_t)c), *var = hvec((size_t)c);
    float *dy = dev_zero(n), *dmean = dev_zero((size_t)c), *dvar = dev_zero((size_t)c);
    ok(cpu->batchnorm_forward_train(y, mean, var, x, gamma, beta, rows, c, eps), "bn cpu", cs);
    ok(gpu->batchnorm_forward_train(dy, dmean, dvar, dx, dgamma, dbeta, rows, c, eps),
       "batchnorm_forward_train", cs);
    expect(T_BN_TRAIN_F, cs, "out", dy, y, n);
    expect(T_BN_TRAIN_F, cs, "batch_mean", dmean, mean, (size_t)c);
    expect(T_BN_TRAIN_F, cs, "batch_var", dvar, var, (size_t)c);

    float *mm = hrand((size_t)c, -0.5f, 0.5f), *mv = hrand((size_t)c, 0.5f, 2.0f);
    float *dmm = dev_from(mm, (size_t)c), *dmv = dev_from(mv, (size_t)c);
    ok(cpu->batchnorm_forward_infer(y, x, gamma, beta, mm, mv, rows, c, eps), "bn cpu", cs);
    ok(gpu->batchnorm_forward_infer(dy, dx, dgamma, dbeta, dmm, dmv, rows, c, eps),
       "batchnorm_forward_infer", cs);
    expect(T_BN_INFER_F, cs, "out", dy, y, n);

    /* backward: the CPU's batch statistics on both sides */
    float *gout = hrand(n, -1, 1), *dgout = dev_from(gout, n);
    float *smean = dev_from(mean, (size_t)c), *svar = dev_from(var, (size_t)c);
    for (int train = 1; train >= 0; train--)
        for (int v = 0; v < 3; v++) {
            int mk = grad_masks[v];
            float *gx = hrand(n, -1, 1), *gg = hrand((size_t)c, -1, 1);
            float *gb = hrand((size_t)c, -1, 1);
            float *dgx = mk & 1 ? dev_from(gx, n) : NULL;
            float *dgg = mk & 2 && gamma ? dev_from(gg, (size_t)c) : NULL;
            float *dgb = mk & 4 && beta ? dev_from(gb, (size_t)c) : NULL;
            float *hgx = mk & 1 ? gx : NULL, *hgg = dgg ? gg : NULL, *hgb = dgb ? gb : NULL;
            if (train) {
                ok(cpu->batchnorm_backward_train(hgx, hgg, hgb, gout, x, gamma, mean,
                                                 var, rows, c, eps), "bn cpu", cs);
                ok(gpu->batchnorm_backward_train(dgx, dgg, dgb, dgout, dx, dgamma, smean,
                                                 svar, rows, c, eps),
                   "batchnorm_backward_train", cs);
            } else {
                ok(cpu->batchnorm_backward_infer(hgx, hgg, hgb, gout, x, gamma, mm, mv,
                                                 rows, c, eps), "bn cpu", cs);
                ok(gpu->batchnorm_backward_infer(dgx, dgg, dgb, dgout, dx, dgamma, dmm,
                                                 dmv, rows, c, eps),
                   "batchnorm_backward_infer", cs);
            }
            int op = train ? T_BN_TRAIN_B : T_BN_INFER_B;
            char what[64];
            if (dgx) {
                snprintf(what, sizeof what, "dinp (%s)", grad_mask_names[v]);
                expect(op, cs, what, dgx, gx, n);
            }
            if (dgg) {
                snprintf(what, sizeof what, "dgamma (%s)", grad_mask_names[v]);
                expect(op, cs, what, dgg, gg, (size_t)c);
            }
            if (dgb) {
                snprintf(what, sizeof what, "dbeta (%s)", grad_mask_names[v]);
                expect(op, cs, what, dgb, gb, (size_t)c);
            }
        }
    case_end();
}

/* Five steps of the moving update, Keras 2.2 accumulators or plain EMA. */
static void test_bn_moving(int c, int accumulators)
{
    char cs[64];
    snprintf(cs, sizeof cs, "c=%d %s", c, accumulators ? "zero-debiased" : "plain EMA");
    size_t nc = (size_t)c;
    float *mm = hrand(nc, -1, 1), *mv = hrand(nc, 0.5f, 2), *am = hvec(nc), *av = hvec(nc);
    float *dmm = dev_from(mm, nc), *dmv = dev_from(mv, nc);
    float *dam = accumulators ? dev_from(am, nc) : NULL;
    float *dav = accumulators ? dev_from(av, nc) : NULL;
    float corr = accumulators ? rt_batchnorm_keras22_var_correction(37, 1e-3f) : 1.0f;
    for (int64_t step = 1; step <= 5; step++) {
        float *bm = hrand(nc, -1, 1), *bv = hrand(nc, 0.1f, 3);
        float *dbm = dev_from(bm, nc), *dbv = dev_from(bv, nc);
        ok(cpu->batchnorm_moving_update(mm, mv, accumulators ? am : NULL,
                                        accumulators ? av : NULL, bm, bv, c, step,
                                        0.99f, corr), "bn moving cpu", cs);
        ok(gpu->batchnorm_moving_update(dmm, dmv, dam, dav, dbm, dbv, c, step, 0.99f,
                                        corr), "batchnorm_moving_update", cs);
    }
    expect(T_BN_MOVING, cs, "moving_mean after 5 steps", dmm, mm, nc);
    expect(T_BN_MOVING, cs, "moving_var after 5 steps", dmv, mv, nc);
    if (accumulators) {
        expect(T_BN_MOVING, cs, "acc_mean", dam, am, nc);
        expect(T_BN_MOVING, cs, "acc_var", dav, av, nc);
    }
    case_end();
}

static void test_batchnorms(void)
{
    static const size_t rows[] = {1, 2, 37, 64, 162, 578, 2450};
    static const int chans[] = {5, 3, 7, 32, 32, 48, 64};
    for (int i = 0; i < 7; i++)
        for (int gb = 0; gb < 4; gb++)
            if (gb == 3 || i % 2 == 0 || i == 3) /* every combination on half */
                test_batchnorm(rows[i], chans[i], gb & 1, gb >> 1 & 1);
    test_batchnorm(8 * 8 * 8, 2048, 0, 1); /* InceptionV3's last BN, batch 8 */
    for (int r = 0; r < 3; r++)
        test_batchnorm((size_t)rnd(1, 700), rnd(1, 100), rnd(0, 1), rnd(0, 1));
    test_bn_moving(37, 1);
    test_bn_moving(37, 0);
    test_bn_moving(2048, 1);
}

/* ---- activations and softmax ---- */

typedef rt_status (*act_fwd_fn)(float *, const float *, size_t);
typedef rt_status (*act_bwd_fn)(float *, const float *, const float *, size_t);

static void test_activation(const char *name, int tf, act_fwd_fn fc, act_fwd_fn fg,
                            act_bwd_fn bc, act_bwd_fn bg, size_t n, float lo, float hi)
{
    char cs[64];
    snprintf(cs, sizeof cs, "%s n=%zu", name, n);
    float *x = hrand(n, lo, hi);
    /* the kinks themselves: 0 and 6 exactly */
    for (size_t i = 0; i < n; i += 7)
        x[i] = i % 2 ? 0.0f : 6.0f;
    float *dx = dev_from(x, n), *y = hvec(n), *dy = dev_zero(n);
    ok(fc(y, x, n), name, cs);
    ok(fg(dy, dx, n), name, cs);
    expect(tf, cs, "out", dy, y, n);
    ok(fg(dx, dx, n), name, cs); /* in place */
    expect(tf, cs, "out (in place)", dx, y, n);

    float *gout = hrand(n, -1, 1), *gx = hrand(n, -1, 1);
    float *dgout = dev_from(gout, n), *dgx = dev_from(gx, n), *dyc = dev_from(y, n);
    ok(bc(gx, gout, y, n), name, cs);
    ok(bg(dgx, dgout, dyc, n), name, cs);
    expect(tf + 1, cs, "dinp", dgx, gx, n);
    case_end();
}

static void test_softmax(size_t rows, int cols, float range)
{
    char cs[64];
    snprintf(cs, sizeof cs, "rows=%zu cols=%d range=%g", rows, cols, range);
    size_t n = rows * (size_t)cols;
    float *x = hrand(n, -range, range), *y = hvec(n);
    float *dx = dev_from(x, n), *dy = dev_zero(n);
    ok(cpu->softmax_forward(y, x, rows, cols), "softmax cpu", cs);
    ok(gpu->softmax_forward(dy, dx, rows, cols), "softmax_forward", cs);
    expect(T_SOFTMAX_F, cs, "out", dy, y, n);
    float *gout = hrand(n, -1, 1), *gx = hrand(n, -1, 1);
    float *dgout = dev_from(gout, n), *dgx = dev_from(gx, n), *dyc = dev_from(y, n);
    ok(cpu->softmax_backward(gx, gout, y, rows, cols), "softmax cpu", cs);
    ok(gpu->softmax_backward(dgx, dgout, dyc, rows, cols), "softmax_backward", cs);
    expect(T_SOFTMAX_B, cs, "dinp", dgx, gx, n);
    case_end();
}

static void test_activations(void)
{
    static const size_t ns[] = {1, 1000, 65537};
    for (int i = 0; i < 3; i++) {
        test_activation("relu", T_RELU_F, cpu->relu_forward, gpu->relu_forward,
                        cpu->relu_backward, gpu->relu_backward, ns[i], -2, 2);
        test_activation("relu6", T_RELU6_F, cpu->relu6_forward, gpu->relu6_forward,
                        cpu->relu6_backward, gpu->relu6_backward, ns[i], -2, 8);
        test_activation("sigmoid", T_SIGMOID_F, cpu->sigmoid_forward,
                        gpu->sigmoid_forward, cpu->sigmoid_backward,
                        gpu->sigmoid_backward, ns[i], -20, 20);
    }
    test_softmax(1, 1, 1);
    test_softmax(3, 5, 2);
    test_softmax(37, 10, 5);
    test_softmax(8, 1000, 3);
    test_softmax(5, 2, 80); /* large logits: the row maximum must be subtracted */
    for (int r = 0; r < 2; r++)
        test_softmax((size_t)rnd(1, 100), rnd(1, 300), 4);
}

/* ---- pooling ---- */

/* Distinct values, shuffled: no ties in any window. */
static float *hdistinct(size_t n)
{
    float *p = hvec(n);
    for (size_t i = 0; i < n; i++)
        p[i] = 0.01f * (float)i - 0.005f * (float)n;
    for (size_t i = n; i > 1; i--) {
        size_t j = rt_rng_below(&rng, i);
        float t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
    return p;
}

/* inputs: 0 distinct values, 1 all equal (every window a tie: the gradient
 * goes to the first maximum), 2 ReLU-like (half zeros). */
static void test_pool(const char *name, int max, int input, int n, int h, int w, int c,
                      int k, int s, rt_padding pad)
{
    static const char *const kinds[3] = {"distinct", "all ties", "half zeros"};
    char cs[128];
    snprintf(cs, sizeof cs, "%s %s (%d,%d,%d,%d) %s", max ? "max" : "avg", name, n, h, w,
             c, kinds[input]);
    rt_window2d g;
    if (rt_window2d_init(&g, n, h, w, c, c, k, k, s, s, pad) != RT_OK)
        die(cs);
    size_t nx = win_in(&g), ny = win_out(&g);
    float *x = input == 0 ? hdistinct(nx) : hrand(nx, -1, 1);
    for (size_t i = 0; i < nx && input; i++)
        x[i] = input == 1 ? 0.5f : fmaxf(x[i], 0.0f);
    float *dx = dev_from(x, nx), *y = hvec(ny), *dy = dev_zero(ny);
    ok((max ? cpu->maxpool2d_forward : cpu->avgpool2d_forward)(&g, y, x), "pool cpu", cs);
    ok((max ? gpu->maxpool2d_forward : gpu->avgpool2d_forward)(&g, dy, dx), "pool", cs);
    expect(max ? T_MAXPOOL_F : T_AVGPOOL_F, cs, "out", dy, y, ny);

    float *gout = hrand(ny, -1, 1), *gx = hrand(nx, -1, 1);
    float *dgout = dev_from(gout, ny), *dgx = dev_from(gx, nx);
    if (max) {
        ok(cpu->maxpool2d_backward(&g, gx, gout, x), "pool cpu", cs);
        ok(gpu->maxpool2d_backward(&g, dgx, dgout, dx), "maxpool2d_backward", cs);
    } else {
        ok(cpu->avgpool2d_backward(&g, gx, gout), "pool cpu", cs);
        ok(gpu->avgpool2d_backward(&g, dgx, dgout), "avgpool2d_backward", cs);
    }
    expect(max ? T_MAXPOOL_B : T_AVGPOOL_B, cs, "dinp", dgx, gx, nx);
    case_end();
}

static void test_gap(int n, int hw, int c)
{
    char cs[64];
    snprintf(cs, sizeof cs, "n=%d hw=%d c=%d", n, hw, c);
    size_t nx = (size_t)n * hw * c, ny = (size_t)n * c;
    float *x = hrand(nx, -1, 3), *y = hvec(ny);
    float *dx = dev_from(x, nx), *dy = dev_zero(ny);
    ok(cpu->global_avgpool_forward(y, x, n, hw, c), "gap cpu", cs);
    ok(gpu->global_avgpool_forward(dy, dx, n, hw, c), "global_avgpool_forward", cs);
    expect(T_GAP_F, cs, "out", dy, y, ny);
    float *gout = hrand(ny, -1, 1), *gx = hrand(nx, -1, 1);
    float *dgout = dev_from(gout, ny), *dgx = dev_from(gx, nx);
    ok(cpu->global_avgpool_backward(gx, gout, n, hw, c), "gap cpu", cs);
    ok(gpu->global_avgpool_backward(dgx, dgout, n, hw, c), "global_avgpool_backward", cs);
    expect(T_GAP_B, cs, "dinp", dgx, gx, nx);
    case_end();
}

static void test_pools(void)
{
    for (int max = 1; max >= 0; max--) {
        test_pool("3x3 s2 valid", max, 0, 2, 15, 15, 8, 3, 2, RT_PAD_VALID);
        test_pool("3x3 s1 same", max, 0, 2, 9, 9, 4, 3, 1, RT_PAD_SAME);
        test_pool("2x2 s2 same, odd input (pad 0/1)", max, 0, 1, 7, 7, 3, 2, 2, RT_PAD_SAME);
        test_pool("3x3 s2 same, even input (pad 0/1)", max, 0, 2, 8, 8, 5, 3, 2, RT_PAD_SAME);
        test_pool("2x2 s2 valid, odd input", max, 0, 1, 7, 9, 3, 2, 2, RT_PAD_VALID);
        test_pool("3x3 s2 valid (InceptionV3)", max, 2, 2, 35, 35, 16, 3, 2, RT_PAD_VALID);
        test_pool("3x3 s1 same (InceptionV3)", max, 2, 2, 17, 17, 32, 3, 1, RT_PAD_SAME);
        test_pool("3x3 s1 same", max, 1, 1, 6, 6, 2, 3, 1, RT_PAD_SAME);
        test_pool("3x3 s2 valid", max, 1, 1, 7, 7, 2, 3, 2, RT_PAD_VALID);
        for (int r = 0; r < 3; r++) {
            int k = rnd(1, 4);
            test_pool("random", max, rnd(0, 2), rnd(1, 3), rnd(k, 16), rnd(k, 16),
                      rnd(1, 12), k, rnd(1, 3), rnd(0, 1) ? RT_PAD_SAME : RT_PAD_VALID);
        }
    }
    test_gap(1, 1, 3);
    test_gap(2, 64, 16);
    test_gap(4, 49, 256);
    test_gap(8, 64, 2048);
    test_gap(rnd(1, 8), rnd(1, 300), rnd(1, 100));
}

/* ---- dense ---- */

static void test_dense(int b, int nin, int nout, int bias)
{
    char cs[64];
    snprintf(cs, sizeof cs, "b=%d nin=%d nout=%d%s", b, nin, nout, bias ? " +bias" : "");
    size_t nx = (size_t)b * nin, nw = (size_t)nin * nout, ny = (size_t)b * nout;
    float *x = hrand(nx, -1, 1), *w = hrand(nw, -1, 1), *bb = bias ? hrand((size_t)nout, -1, 1) : NULL;
    float *dx = dev_from(x, nx), *dw = dev_from(w, nw);
    float *db = bias ? dev_from(bb, (size_t)nout) : NULL;
    float *y = hvec(ny), *dy = dev_zero(ny);
    ok(cpu->dense_forward(y, x, w, bb, b, nin, nout), "dense cpu", cs);
    ok(gpu->dense_forward(dy, dx, dw, db, b, nin, nout), "dense_forward", cs);
    expect(T_DENSE_F, cs, "out", dy, y, ny);
    float *gout = hrand(ny, -1, 1), *dgout = dev_from(gout, ny);
    for (int v = 0; v < 3; v++) {
        int mk = grad_masks[v];
        float *gx = hrand(nx, -1, 1), *gw = hrand(nw, -1, 1), *gb = hrand((size_t)nout, -1, 1);
        float *dgx = mk & 1 ? dev_from(gx, nx) : NULL;
        float *dgw = mk & 2 ? dev_from(gw, nw) : NULL;
        float *dgb = mk & 4 && bias ? dev_from(gb, (size_t)nout) : NULL;
        ok(cpu->dense_backward(dgx ? gx : NULL, dgw ? gw : NULL, dgb ? gb : NULL, gout, x,
                               w, b, nin, nout), "dense cpu", cs);
        ok(gpu->dense_backward(dgx, dgw, dgb, dgout, dx, dw, b, nin, nout),
           "dense_backward", cs);
        char what[64];
        if (dgx) {
            snprintf(what, sizeof what, "dinp (%s)", grad_mask_names[v]);
            expect(T_DENSE_B, cs, what, dgx, gx, nx);
        }
        if (dgw) {
            snprintf(what, sizeof what, "dweight (%s)", grad_mask_names[v]);
            expect(T_DENSE_B, cs, what, dgw, gw, nw);
        }
        if (dgb) {
            snprintf(what, sizeof what, "dbias (%s)", grad_mask_names[v]);
            expect(T_DENSE_B, cs, what, dgb, gb, (size_t)nout);
        }
    }
    case_end();
}

static void test_denses(void)
{
    test_dense(8, 2048, 256, 1); /* the module's top */
    test_dense(8, 256, 1, 1);
    test_dense(1, 1, 1, 1);
    test_dense(3, 5, 4, 0);
    test_dense(1, 256, 1, 1);    /* one prediction */
    for (int r = 0; r < 3; r++)
        test_dense(rnd(1, 40), rnd(1, 300), rnd(1, 70), rnd(0, 1));
}

/* ---- dropout ---- */

static void test_dropout(size_t n, float rate, uint64_t seed)
{
    char cs[96];
    snprintf(cs, sizeof cs, "n=%zu rate=%g seed=%llu", n, rate, (unsigned long long)seed);
    float *x = hrand(n, -1, 1), *y = hvec(n), *mask = hvec(n);
    float *dx = dev_from(x, n), *dy = dev_zero(n), *dmask = dev_zero(n);
    ok(cpu->dropout_forward(y, mask, x, n, rate, seed), "dropout cpu", cs);
    ok(gpu->dropout_forward(dy, dmask, dx, n, rate, seed), "dropout_forward", cs);
    expect(T_DROPOUT_F, cs, "mask (the same hash)", dmask, mask, n);
    expect(T_DROPOUT_F, cs, "out", dy, y, n);
    float *gout = hrand(n, -1, 1), *gx = hrand(n, -1, 1);
    float *dgout = dev_from(gout, n), *dgx = dev_from(gx, n);
    ok(cpu->dropout_backward(gx, gout, mask, n), "dropout cpu", cs);
    ok(gpu->dropout_backward(dgx, dgout, dmask, n), "dropout_backward", cs);
    expect(T_DROPOUT_B, cs, "dinp", dgx, gx, n);
    case_end();
}

static void test_dropouts(void)
{
    test_dropout(1, 0.5f, 0);
    test_dropout(64, 0.5f, 1234);
    test_dropout(100003, 0.5f, 0xdeadbeefcafef00dULL);
    test_dropout(4099, 0.2f, 7);
    test_dropout(4099, 0.9f, 7);
    test_dropout(1000, 0.0f, 99);
    /* a rate outside [0, 1) is refused on both */
    float *x = hrand(4, 0, 1), *dx = dev_from(x, 4), *dy = dev_zero(4), *dm = dev_zero(4);
    CHECK_INT(gpu->dropout_forward(dy, dm, dx, 4, 1.0f, 1),
              cpu->dropout_forward(hvec(4), hvec(4), x, 4, 1.0f, 1));
    case_end();
}

/* ---- layout ---- */

static void test_concat(size_t rows, int k, const int *cs_in)
{
    char cs[96];
    int off = snprintf(cs, sizeof cs, "rows=%zu widths", rows);
    int total = 0;
    for (int i = 0; i < k; i++) {
        off += snprintf(cs + off, sizeof cs - (size_t)off, " %d", cs_in[i]);
        total += cs_in[i];
    }
    const float *hin[4], *din[4];
    for (int i = 0; i < k; i++) {
        float *h = hrand(rows * (size_t)cs_in[i], -1, 1);
        hin[i] = h;
        din[i] = dev_from(h, rows * (size_t)cs_in[i]);
    }
    size_t ny = rows * (size_t)total;
    float *y = hvec(ny), *dy = dev_zero(ny);
    ok(cpu->concat_forward(y, hin, cs_in, k, rows), "concat cpu", cs);
    ok(gpu->concat_forward(dy, din, cs_in, k, rows), "concat_forward", cs);
    expect(T_CONCAT_F, cs, "out", dy, y, ny);
    /* backward with the second entry NULL (a branch that needs no gradient) */
    float *gout = hrand(ny, -1, 1), *dgout = dev_from(gout, ny);
    float *hg[4], *dg[4];
    for (int i = 0; i < k; i++) {
        size_t ni = rows * (size_t)cs_in[i];
        float *h = hrand(ni, -1, 1);
        hg[i] = i == 1 ? NULL : h;
        dg[i] = i == 1 ? NULL : dev_from(h, ni);
    }
    ok(cpu->concat_backward(hg, gout, cs_in, k, rows), "concat cpu", cs);
    ok(gpu->concat_backward(dg, dgout, cs_in, k, rows), "concat_backward", cs);
    for (int i = 0; i < k; i++)
        if (dg[i]) {
            char what[32];
            snprintf(what, sizeof what, "dinp %d", i);
            expect(T_CONCAT_B, cs, what, dg[i], hg[i], rows * (size_t)cs_in[i]);
        }
    case_end();
}

static void test_zeropad(int n, int h, int w, int c, int top, int bottom, int left,
                         int right)
{
    char cs[96];
    snprintf(cs, sizeof cs, "(%d,%d,%d,%d) pad %d/%d/%d/%d", n, h, w, c, top, bottom,
             left, right);
    rt_pad2d p = {n, h, w, c, top, bottom, left, right};
    size_t nx = (size_t)n * h * w * c;
    size_t ny = (size_t)n * (h + top + bottom) * (w + left + right) * c;
    float *x = hrand(nx, -1, 1), *y = hrand(ny, -1, 1); /* garbage to overwrite */
    float *dx = dev_from(x, nx), *dy = dev_from(y, ny);
    ok(cpu->zeropad2d_forward(&p, y, x), "zeropad cpu", cs);
    ok(gpu->zeropad2d_forward(&p, dy, dx), "zeropad2d_forward", cs);
    expect(T_ZEROPAD_F, cs, "out", dy, y, ny);
    float *gout = hrand(ny, -1, 1), *gx = hrand(nx, -1, 1);
    float *dgout = dev_from(gout, ny), *dgx = dev_from(gx, nx);
    ok(cpu->zeropad2d_backward(&p, gx, gout), "zeropad cpu", cs);
    ok(gpu->zeropad2d_backward(&p, dgx, dgout), "zeropad2d_backward", cs);
    expect(T_ZEROPAD_B, cs, "dinp", dgx, gx, nx);
    case_end();
}

static void test_layouts(void)
{
    static const int w3[3] = {2, 3, 1}, w4[4] = {64, 96, 96, 32};
    static const int w4b[4] = {1, 1, 1, 1}, w3b[3] = {320, 768, 192};
    test_concat(4, 3, w3);
    test_concat(37, 4, w4);
    test_concat(5, 4, w4b);
    test_concat(2 * 8 * 8, 3, w3b);
    int wr[4] = {rnd(1, 50), rnd(1, 50), rnd(1, 50), rnd(1, 50)};
    test_concat((size_t)rnd(1, 200), rnd(3, 4), wr);
    test_zeropad(2, 14, 14, 8, 0, 1, 0, 1); /* MobileNet before a stride 2 */
    test_zeropad(2, 3, 2, 2, 1, 2, 0, 3);
    test_zeropad(1, 5, 5, 1, 3, 3, 3, 3);
    test_zeropad(rnd(1, 3), rnd(1, 9), rnd(1, 9), rnd(1, 9), rnd(0, 3), rnd(0, 3),
                 rnd(0, 3), rnd(0, 3));
}

/* ---- losses and metrics ---- */

/* Probabilities at and near 0 and 1 (the clip at 1e-7 and 1 - 1e-7), at
 * 0.5 exactly and just either side, then uniform. */
static const float edge_probs[] = {0.0f, 1e-8f, 1e-7f, 2e-7f, 1e-6f, 0.5f, 0.49999997f,
                                   0.50000006f, 0.999999f, 0.9999999f, 1.0f};
#define N_EDGE (sizeof edge_probs / sizeof edge_probs[0])

static void test_bce(int b, int k)
{
    char cs[64];
    snprintf(cs, sizeof cs, "b=%d k=%d", b, k);
    size_t n = (size_t)b * k;
    float *p = hrand(n, 0, 1), *t = hvec(n);
    for (size_t i = 0; i < n; i++) {
        if (i < 2 * N_EDGE)
            p[i] = edge_probs[i % N_EDGE];
        t[i] = (float)((i % N_EDGE + i / N_EDGE) % 2); /* each edge value, both targets */
    }
    float *dp = dev_from(p, n), *dt = dev_from(t, n);
    float lc = NAN, lg = NAN;
    ok(cpu->bce_forward(&lc, p, t, b, k), "bce cpu", cs);
    ok(gpu->bce_forward(&lg, dp, dt, b, k), "bce_forward", cs);
    record(T_BCE_F, cs, "loss", &lg, &lc, 1);
    float *g = hrand(n, -1, 1), *dg = dev_from(g, n);
    ok(cpu->bce_backward(g, p, t, b, k), "bce cpu", cs);
    ok(gpu->bce_backward(dg, dp, dt, b, k), "bce_backward", cs);
    expect(T_BCE_B, cs, "dprob", dg, g, n);
    float ac = NAN, ag = NAN;
    ok(cpu->binary_accuracy(&ac, p, t, b, k), "accuracy cpu", cs);
    ok(gpu->binary_accuracy(&ag, dp, dt, b, k), "binary_accuracy", cs);
    record(T_BIN_ACC, cs, "accuracy", &ag, &ac, 1);
    case_end();
}

static void test_cce(int b, int k)
{
    char cs[64];
    snprintf(cs, sizeof cs, "b=%d k=%d", b, k);
    size_t n = (size_t)b * k;
    float *p = hrand(n, 0, 1), *t = hvec(n);
    for (int r = 0; r < b; r++) {
        float *row = p + (size_t)r * k;
        if (r % 3 == 0) /* nearly one-hot rows: entries near 0 and 1 */
            for (int j = 0; j < k; j++)
                row[j] = j == r % k ? 1.0f - 1e-7f : edge_probs[j % 3];
        if (r % 3 == 1 && k > 1) /* a tie for the maximum */
            row[0] = row[k - 1] = 0.9f;
        if (r % 3 == 2) { /* rows that already sum to 1 */
            float s = 0;
            for (int j = 0; j < k; j++)
                s += row[j];
            for (int j = 0; j < k; j++)
                row[j] /= s;
        }
        t[(size_t)r * k + (size_t)((r * 7) % k)] = 1.0f;
    }
    float *dp = dev_from(p, n), *dt = dev_from(t, n);
    float lc = NAN, lg = NAN;
    ok(cpu->cce_forward(&lc, p, t, b, k), "cce cpu", cs);
    ok(gpu->cce_forward(&lg, dp, dt, b, k), "cce_forward", cs);
    record(T_CCE_F, cs, "loss", &lg, &lc, 1);
    float *g = hrand(n, -1, 1), *dg = dev_from(g, n);
    ok(cpu->cce_backward(g, p, t, b, k), "cce cpu", cs);
    ok(gpu->cce_backward(dg, dp, dt, b, k), "cce_backward", cs);
    expect(T_CCE_B, cs, "dprob", dg, g, n);
    float ac = NAN, ag = NAN;
    ok(cpu->categorical_accuracy(&ac, p, t, b, k), "accuracy cpu", cs);
    ok(gpu->categorical_accuracy(&ag, dp, dt, b, k), "categorical_accuracy", cs);
    record(T_CAT_ACC, cs, "accuracy", &ag, &ac, 1);
    case_end();
}

static void test_losses(void)
{
    test_bce(1, 1);
    test_bce(8, 1);
    test_bce(22, 1);  /* every edge value with both targets */
    test_bce(11, 3);
    test_bce(1000, 1);
    test_cce(3, 4);
    test_cce(9, 5);
    test_cce(64, 10);
    test_cce(1, 1);
    test_bce(rnd(1, 300), rnd(1, 4));
    test_cce(rnd(1, 300), rnd(2, 20));
}

/* ---- optimizers: several steps, the GPU state carried on the GPU ---- */

static float *step_grad(size_t n, int step)
{
    float *g = hrand(n, -1, 1);
    for (size_t i = 0; i < n; i += 5)
        g[i] = (i / 5 + (size_t)step) % 3 == 0 ? 0.0f
             : (i / 5) % 3 == 1 ? g[i] * 1e-9f : g[i] * 1e3f;
    return g;
}

static void test_adam(size_t n, float lr)
{
    char cs[64];
    snprintf(cs, sizeof cs, "n=%zu lr=%g", n, lr);
    float *p = hrand(n, -1, 1), *m = hvec(n), *v = hvec(n);
    float *dp = dev_from(p, n), *dm = dev_from(m, n), *dv = dev_from(v, n);
    for (int t = 1; t <= 5; t++) {
        float *g = step_grad(n, t), *dg = dev_from(g, n);
        float lr_t = rt_adam_lr_t(lr, 0.9f, 0.999f, t);
        ok(cpu->adam_update(p, g, m, v, n, lr_t, 0.9f, 0.999f, 1e-7f), "adam cpu", cs);
        ok(gpu->adam_update(dp, dg, dm, dv, n, lr_t, 0.9f, 0.999f, 1e-7f), "adam_update", cs);
        char what[32];
        snprintf(what, sizeof what, "param after step %d", t);
        expect(T_ADAM, cs, what, dp, p, n);
    }
    expect(T_ADAM, cs, "m after 5 steps", dm, m, n);
    expect(T_ADAM, cs, "v after 5 steps", dv, v, n);
    case_end();
}

static void test_sgd(size_t n, float momentum, int nesterov)
{
    char cs[64];
    snprintf(cs, sizeof cs, "n=%zu momentum=%g%s", n, momentum, nesterov ? " nesterov" : "");
    float *p = hrand(n, -1, 1), *vel = hvec(n);
    float *dp = dev_from(p, n), *dvel = momentum != 0.0f ? dev_from(vel, n) : NULL;
    for (int t = 1; t <= 5; t++) {
        float *g = step_grad(n, t), *dg = dev_from(g, n);
        ok(cpu->sgd_update(p, g, dvel ? vel : NULL, n, 0.01f, momentum, nesterov),
           "sgd cpu", cs);
        ok(gpu->sgd_update(dp, dg, dvel, n, 0.01f, momentum, nesterov), "sgd_update", cs);
    }
    expect(T_SGD, cs, "param after 5 steps", dp, p, n);
    if (dvel)
        expect(T_SGD, cs, "velocity after 5 steps", dvel, vel, n);
    case_end();
}

static void test_optimizers(void)
{
    test_adam(1, 1e-3f);
    test_adam(1000, 1e-4f);
    test_adam(100003, 1e-3f);
    test_sgd(1000, 0.0f, 0);
    test_sgd(1000, 0.9f, 0);
    test_sgd(100003, 0.9f, 1);
}

/* ---- the table itself ---- */

/* Every entry of the table is filled: all fields from buffer_alloc to the
 * last, sgd_update, are function pointers (a new op added in between is
 * covered without changing this). */
static void test_table_complete(void)
{
    int missing = 0;
    for (size_t off = offsetof(rt_backend, buffer_alloc);
         off <= offsetof(rt_backend, sgd_update); off += sizeof(void (*)(void))) {
        void (*fn)(void);
        memcpy(&fn, (const char *)gpu + off, sizeof fn);
        missing += fn == NULL;
    }
    CHECK_INT(missing, 0);
    CHECK_INT(gpu->device, RT_DEVICE_CUDA);
}

static void report(void)
{
    printf("\n%-27s %6s %10s %8s  %s\n", "op", "checks", "worst", "tol", "worst case");
    for (int i = 0; i < T_COUNT; i++) {
        const op_tol *t = &tols[i];
        printf("%-27s %6d %10.3g %8.0e  %s%s\n", t->op, t->cases, t->worst, t->tol,
               t->failed ? "FAIL " : "", t->worst > 0 ? t->worst_case : "(all identical)");
        if (t->cases == 0) { /* every row must have been exercised */
            check_count++;
            check_failures++;
            fprintf(stderr, "FAIL %s: never checked\n", t->op);
        }
    }
    printf("\ntolerances (relative to each result's largest magnitude):\n");
    for (int i = 0; i < T_COUNT; i++)
        printf("  %-27s %-6g %s\n", tols[i].op, tols[i].tol, tols[i].why);
}

int main(void)
{
    if (!rt_gpu_available(1)) {
        printf("skipped: no GPU: %s\n", rt_gpu_unavailable_reason());
        return 77;
    }
    cpu = rt_backend_cpu();
    gpu = rt_backend_get(RT_DEVICE_CUDA);
    if (!gpu) {
        fprintf(stderr, "the GPU is available but rt_backend_get(RT_DEVICE_CUDA) is NULL\n");
        return 1;
    }
    rt_cuda_info info;
    if (rt_gpu_info(&info))
        printf("GPU: %s (compute capability %d.%d), backend \"%s\"%s\n", info.name,
               info.cc_major, info.cc_minor, gpu->name,
               rt_gpu_emulated() ? " (emulated)" : "");
    rt_rng_seed(&rng, 2024);
    rt_memory_stats before;
    rt_memory_stats_get(RT_DEVICE_CUDA, &before);
    test_table_complete();
    test_memory(1);
    test_memory(7);
    test_memory(1000);
    test_memory((1u << 22) + 3);
    test_gemms();
    test_convs();
    test_batchnorms();
    test_activations();
    test_pools();
    test_denses();
    test_dropouts();
    test_layouts();
    test_losses();
    test_optimizers();
    report();
    rt_memory_stats after;
    rt_memory_stats_get(RT_DEVICE_CUDA, &after);
    CHECK_INT(after.live_tensors, before.live_tensors); /* every tensor released */
    return CHECK_DONE();
}
