/*
 * test_ops_grad.c - every CPU op: forward against hand-computed cases, and
 * backward against central finite differences.
 *
 * Gradient check. For an op f and fixed random weights w, the scalar
 * L(x) = sum_i w_i f(x)_i is summed in double. The analytic gradient is the
 * op's backward with dout = w; the numeric one is (L(x+h) - L(x-h)) / 2h,
 * h = 1e-2, for every element of every differentiable input. The ops run in
 * float32, so L carries ~1e-7 relative rounding; with h = 1e-2 that is
 * ~1e-5 absolute in the numeric gradient, and truncation is O(h^2).
 * Tolerance per element: |analytic - numeric| <= 2e-3 + 1e-2 * |numeric|.
 * Inputs of piecewise ops (ReLU, ReLU6, max pooling) are kept at least
 * 0.05 away from their kinks and ties, so the +-h steps never cross one.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "check.h"
#include "optim.h"
#include "rng.h"

static const rt_backend *be;
static rt_rng rng;

#define GC_MAX_IN 4
#define GC_H 1e-2
#define GC_ATOL 2e-3
#define GC_RTOL 1e-2

typedef struct gc_case gc_case;
struct gc_case {
    const char *name;
    int n_in;
    float *in[GC_MAX_IN];  /* differentiable inputs (and parameters) */
    size_t in_n[GC_MAX_IN];
    size_t out_n;
    rt_status (*forward)(gc_case *c, float *out);
    /* accumulate d(sum w*out)/d in[k] into din[k] (entries may be NULL) */
    rt_status (*backward)(gc_case *c, const float *dout, float **din);
    rt_window2d g;
    rt_pad2d pad;
    int a, b, k;           /* op-specific sizes */
    float *aux[4];         /* op-specific buffers (stats, masks, targets) */
    rt_status (*act_fwd)(float *, const float *, size_t);
    rt_status (*act_bwd)(float *, const float *, const float *, size_t);
};

static float *fvec(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p)
        abort();
    return p;
}

static float *frand(size_t n, float lo, float hi)
{
    float *p = fvec(n);
    rt_rng_fill_uniform(&rng, p, n, lo, hi);
    return p;
}

/* Uniform in [lo, hi] but never within `gap` of any kink in kinks[]. */
static float *frand_away(size_t n, float lo, float hi, const float *kinks,
                         int nk, float gap)
{
    float *p = fvec(n);
    for (size_t i = 0; i < n; i++) {
        int ok;
        do {
            p[i] = lo + (hi - lo) * rt_rng_uniformf(&rng);
            ok = 1;
            for (int j = 0; j < nk; j++)
                ok &= fabsf(p[i] - kinks[j]) >= gap;
        } while (!ok);
    }
    return p;
}

/* Distinct values spaced 0.1 apart, shuffled: no max-pool ties. */
static float *fdistinct(size_t n)
{
    float *p = fvec(n);
    for (size_t i = 0; i < n; i++)
        p[i] = 0.1f * (float)i - 0.05f * (float)n;
    for (size_t i = n; i > 1; i--) {
        size_t j = rt_rng_below(&rng, i);
        float t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
    return p;
}

static double gc_loss(gc_case *c, const float *w, float *out)
{
    rt_status st = c->forward(c, out);
    if (st != RT_OK) {
        fprintf(stderr, "%s: forward failed: %s\n", c->name, rt_error_message());
        return NAN;
    }
    double L = 0.0;
    for (size_t i = 0; i < c->out_n; i++)
        L += (double)w[i] * out[i];
    return L;
}

static void gc_run(gc_case *c)
{
    float *w = frand(c->out_n, -1.0f, 1.0f), *out = fvec(c->out_n);
    float *din[GC_MAX_IN] = {0};
    for (int k = 0; k < c->n_in; k++)
        din[k] = fvec(c->in_n[k]);
    gc_loss(c, w, out);
    rt_status st = c->backward(c, w, din);
    CHECK(st == RT_OK);
    double worst = 0.0;
    int bad = 0;
    for (int k = 0; k < c->n_in; k++)
        for (size_t i = 0; i < c->in_n[k]; i++) {
            float x = c->in[k][i];
            c->in[k][i] = (float)(x + GC_H);
            double lp = gc_loss(c, w, out);
            c->in[k][i] = (float)(x - GC_H);
            double lm = gc_loss(c, w, out);
            c->in[k][i] = x;
            double num = (lp - lm) / (2 * GC_H), ana = din[k][i];
            double err = fabs(ana - num);
            double rel = err / (fabs(num) > 1e-3 ? fabs(num) : 1e-3);
            if (rel > worst)
                worst = rel;
            if (!(err <= GC_ATOL + GC_RTOL * fabs(num)) && bad++ < 5)
                fprintf(stderr, "%s: input %d element %zu: analytic %.6g "
                        "numeric %.6g\n", c->name, k, i, ana, num);
        }
    check_count++;
    if (bad)
        check_failures++;
    printf("grad %-34s max rel err %.2e %s\n", c->name, worst,
           bad ? "FAIL" : "ok");
    for (int k = 0; k < c->n_in; k++)
        free(din[k]);
    free(w);
    free(out);
}

static void gc_free(gc_case *c)
{
    for (int k = 0; k < c->n_in; k++)
        free(c->in[k]);
    for (int k = 0; k < 4; k++)
        free(c->aux[k]);
}

static size_t win_in(const rt_window2d *g)
{
    return (size_t)g->n * g->in_h * g->in_w * g->in_c;
}

static size_t win_out(const rt_window2d *g)
{
    return (size_t)g->n * g->out_h * g->out_w * g->out_c;
}

/* ---- conv2d: inputs x, weight, bias ---- */

static rt_status conv_fwd(gc_case *c, float *out)
{
    return be->conv2d_forward(&c->g, out, c->in[0], c->in[1],
                              c->n_in > 2 ? c->in[2] : NULL);
}

static rt_status conv_bwd(gc_case *c, const float *dout, float **d)
{
    return be->conv2d_backward(&c->g, d[0], d[1], c->n_in > 2 ? d[2] : NULL,
                               dout, c->in[0], c->in[1]);
}

static void grad_conv(const char *name, int n, int h, int w, int ci, int co,
                      int kh, int kw, int sh, int sw, rt_padding pad,
                      int bias)
{
    gc_case c = {.name = name, .forward = conv_fwd, .backward = conv_bwd};
    CHECK(rt_window2d_init(&c.g, n, h, w, ci, co, kh, kw, sh, sw, pad) == RT_OK);
    c.n_in = bias ? 3 : 2;
    c.in_n[0] = win_in(&c.g);
    c.in_n[1] = (size_t)kh * kw * ci * co;
    c.in_n[2] = (size_t)co;
    for (int k = 0; k < c.n_in; k++)
        c.in[k] = frand(c.in_n[k], -1.0f, 1.0f);
    c.out_n = win_out(&c.g);
    gc_run(&c);
    gc_free(&c);
}

static rt_status dw_fwd(gc_case *c, float *out)
{
    return be->depthwise_conv2d_forward(&c->g, out, c->in[0], c->in[1],
                                        c->n_in > 2 ? c->in[2] : NULL);
}

static rt_status dw_bwd(gc_case *c, const float *dout, float **d)
{
    return be->depthwise_conv2d_backward(&c->g, d[0], d[1],
                                         c->n_in > 2 ? d[2] : NULL, dout,
                                         c->in[0], c->in[1]);
}

static void grad_depthwise(const char *name, int n, int h, int w, int ci,
                           int mult, int k, int s, rt_padding pad, int bias)
{
    gc_case c = {.name = name, .forward = dw_fwd, .backward = dw_bwd};
    CHECK(rt_window2d_init(&c.g, n, h, w, ci, ci * mult, k, k, s, s, pad) == RT_OK);
    c.n_in = bias ? 3 : 2;
    c.in_n[0] = win_in(&c.g);
    c.in_n[1] = (size_t)k * k * ci * mult;
    c.in_n[2] = (size_t)ci * mult;
    for (int j = 0; j < c.n_in; j++)
        c.in[j] = frand(c.in_n[j], -1.0f, 1.0f);
    c.out_n = win_out(&c.g);
    gc_run(&c);
    gc_free(&c);
}

/* ---- batch norm: inputs x, gamma, beta (c.a = rows, c.k = channels,
 * c.b = 1 training / 0 inference; aux = batch mean, var / moving stats) ---- */

static rt_status bn_fwd(gc_case *c, float *out)
{
    const float *gamma = c->in[1], *beta = c->in[2];
    if (c->b)
        return be->batchnorm_forward_train(out, c->aux[0], c->aux[1], c->in[0],
                                           gamma, beta, (size_t)c->a, c->k,
                                           1e-3f);
    return be->batchnorm_forward_infer(out, c->in[0], gamma, beta, c->aux[0],
                                       c->aux[1], (size_t)c->a, c->k, 1e-3f);
}

static rt_status bn_bwd(gc_case *c, const float *dout, float **d)
{
    if (c->b)
        return be->batchnorm_backward_train(d[0], d[1], d[2], dout, c->in[0],
                                            c->in[1], c->aux[0], c->aux[1],
                                            (size_t)c->a, c->k, 1e-3f);
    return be->batchnorm_backward_infer(d[0], d[1], d[2], dout, c->in[0],
                                        c->in[1], c->aux[0], c->aux[1],
                                        (size_t)c->a, c->k, 1e-3f);
}

/* scale=False layers (InceptionV3) pass gamma NULL: in[1] is then unused
 * and its numeric gradient must come out zero, as the analytic one. */
static rt_status bn_fwd_nogamma(gc_case *c, float *out)
{
    return be->batchnorm_forward_train(out, c->aux[0], c->aux[1], c->in[0],
                                       NULL, c->in[1], (size_t)c->a, c->k,
                                       1e-3f);
}

static rt_status bn_bwd_nogamma(gc_case *c, const float *dout, float **d)
{
    return be->batchnorm_backward_train(d[0], NULL, d[1], dout, c->in[0], NULL,
                                        c->aux[0], c->aux[1], (size_t)c->a,
                                        c->k, 1e-3f);
}

static void grad_batchnorm(const char *name, int rows, int ch, int train,
                           int gamma)
{
    gc_case c = {.name = name, .a = rows, .k = ch, .b = train};
    c.forward = gamma ? bn_fwd : bn_fwd_nogamma;
    c.backward = gamma ? bn_bwd : bn_bwd_nogamma;
    c.n_in = gamma ? 3 : 2;
    c.in_n[0] = (size_t)rows * ch;
    c.in[0] = frand(c.in_n[0], -2.0f, 3.0f);
    for (int k = 1; k < c.n_in; k++) {
        c.in_n[k] = (size_t)ch;
        c.in[k] = frand((size_t)ch, 0.5f, 1.5f);
    }
    c.aux[0] = frand((size_t)ch, -0.5f, 0.5f);
    c.aux[1] = frand((size_t)ch, 0.5f, 2.0f);
    c.out_n = c.in_n[0];
    gc_run(&c);
    gc_free(&c);
}

/* ---- elementwise activations and softmax (c.a = rows, c.k = cols) ---- */

typedef rt_status (*act_fwd_fn)(float *, const float *, size_t);
typedef rt_status (*act_bwd_fn)(float *, const float *, const float *, size_t);

static rt_status act_fwd(gc_case *c, float *out)
{
    return c->act_fwd(out, c->in[0], c->out_n);
}

static rt_status act_bwd(gc_case *c, const float *dout, float **d)
{
    float *y = fvec(c->out_n);
    rt_status st = act_fwd(c, y);
    if (st == RT_OK)
        st = c->act_bwd(d[0], dout, y, c->out_n);
    free(y);
    return st;
}

static void grad_activation(const char *name, act_fwd_fn f, act_bwd_fn b,
                            float *x, size_t n)
{
    gc_case c = {.name = name, .forward = act_fwd, .backward = act_bwd};
    c.n_in = 1;
    c.in[0] = x;
    c.in_n[0] = c.out_n = n;
    c.act_fwd = f;
    c.act_bwd = b;
    gc_run(&c);
    gc_free(&c);
}

static rt_status softmax_fwd(gc_case *c, float *out)
{
    return be->softmax_forward(out, c->in[0], (size_t)c->a, c->k);
}

static rt_status softmax_bwd(gc_case *c, const float *dout, float **d)
{
    float *y = fvec(c->out_n);
    rt_status st = be->softmax_forward(y, c->in[0], (size_t)c->a, c->k);
    if (st == RT_OK)
        st = be->softmax_backward(d[0], dout, y, (size_t)c->a, c->k);
    free(y);
    return st;
}

/* ---- pooling ---- */

static rt_status maxpool_fwd(gc_case *c, float *out)
{
    return be->maxpool2d_forward(&c->g, out, c->in[0]);
}

static rt_status maxpool_bwd(gc_case *c, const float *dout, float **d)
{
    return be->maxpool2d_backward(&c->g, d[0], dout, c->in[0]);
}

static rt_status avgpool_fwd(gc_case *c, float *out)
{
    return be->avgpool2d_forward(&c->g, out, c->in[0]);
}

static rt_status avgpool_bwd(gc_case *c, const float *dout, float **d)
{
    return be->avgpool2d_backward(&c->g, d[0], dout);
}

static void grad_pool(const char *name, int max, int n, int h, int w, int ch,
                      int k, int s, rt_padding pad)
{
    gc_case c = {.name = name};
    c.forward = max ? maxpool_fwd : avgpool_fwd;
    c.backward = max ? maxpool_bwd : avgpool_bwd;
    CHECK(rt_window2d_init(&c.g, n, h, w, ch, ch, k, k, s, s, pad) == RT_OK);
    c.n_in = 1;
    c.in_n[0] = win_in(&c.g);
    c.in[0] = max ? fdistinct(c.in_n[0]) : frand(c.in_n[0], -1.0f, 1.0f);
    c.out_n = win_out(&c.g);
    gc_run(&c);
    gc_free(&c);
}

static rt_status gap_fwd(gc_case *c, float *out)
{
    return be->global_avgpool_forward(out, c->in[0], c->a, c->b, c->k);
}

static rt_status gap_bwd(gc_case *c, const float *dout, float **d)
{
    return be->global_avgpool_backward(d[0], dout, c->a, c->b, c->k);
}

/* ---- dense (c.a = batch, c.b = nin, c.k = nout) ---- */

static rt_status dense_fwd(gc_case *c, float *out)
{
    return be->dense_forward(out, c->in[0], c->in[1], c->in[2], c->a, c->b,
                             c->k);
}

static rt_status dense_bwd(gc_case *c, const float *dout, float **d)
{
    return be->dense_backward(d[0], d[1], d[2], dout, c->in[0], c->in[1],
                              c->a, c->b, c->k);
}

/* ---- dropout (aux[0] = mask) ---- */

static rt_status dropout_fwd(gc_case *c, float *out)
{
    return be->dropout_forward(out, c->aux[0], c->in[0], c->out_n, 0.5f, 1234);
}

static rt_status dropout_bwd(gc_case *c, const float *dout, float **d)
{
    return be->dropout_backward(d[0], dout, c->aux[0], c->out_n);
}

/* ---- concat of three inputs (c.a = rows; widths 2, 3, 1) ---- */

static const int concat_cs[3] = {2, 3, 1};

static rt_status concat_fwd(gc_case *c, float *out)
{
    const float *ins[3] = {c->in[0], c->in[1], c->in[2]};
    return be->concat_forward(out, ins, concat_cs, 3, (size_t)c->a);
}

static rt_status concat_bwd(gc_case *c, const float *dout, float **d)
{
    float *ds[3] = {d[0], d[1], d[2]};
    return be->concat_backward(ds, dout, concat_cs, 3, (size_t)c->a);
}

static rt_status pad_fwd(gc_case *c, float *out)
{
    return be->zeropad2d_forward(&c->pad, out, c->in[0]);
}

static rt_status pad_bwd(gc_case *c, const float *dout, float **d)
{
    return be->zeropad2d_backward(&c->pad, d[0], dout);
}

/* ---- losses: out is the scalar loss; aux[0] = targets ---- */

static rt_status bce_fwd(gc_case *c, float *out)
{
    return be->bce_forward(out, c->in[0], c->aux[0], c->a, c->k);
}

static rt_status cce_fwd(gc_case *c, float *out)
{
    return be->cce_forward(out, c->in[0], c->aux[0], c->a, c->k);
}

static rt_status loss_bwd(gc_case *c, const float *dout, float **d)
{
    size_t n = (size_t)c->a * c->k;
    float *g = fvec(n);
    rt_status st = c->forward == bce_fwd
        ? be->bce_backward(g, c->in[0], c->aux[0], c->a, c->k)
        : be->cce_backward(g, c->in[0], c->aux[0], c->a, c->k);
    for (size_t i = 0; i < n; i++)
        d[0][i] += dout[0] * g[i];
    free(g);
    return st;
}

static void grad_loss(const char *name, int bce, int b, int k)
{
    gc_case c = {.name = name, .a = b, .k = k, .out_n = 1};
    c.forward = bce ? bce_fwd : cce_fwd;
    c.backward = loss_bwd;
    c.n_in = 1;
    c.in_n[0] = (size_t)b * k;
    c.in[0] = frand(c.in_n[0], 0.1f, 0.9f);
    c.aux[0] = fvec(c.in_n[0]);
    for (int r = 0; r < b; r++) {
        if (bce)
            for (int j = 0; j < k; j++)
                c.aux[0][r * k + j] = (float)((r + j) % 2);
        else
            c.aux[0][r * k + (r % k)] = 1.0f;
    }
    gc_run(&c);
    gc_free(&c);
}

static void test_gradients(void)
{
    /* conv2d: kernels incl. 1x7 / 7x1, strides, 'same' (symmetric and
     * asymmetric) and 'valid', the pointwise GEMM path and bias. */
    grad_conv("conv2d 3x3 s1 same +bias", 2, 5, 5, 3, 4, 3, 3, 1, 1, RT_PAD_SAME, 1);
    grad_conv("conv2d 1x7 s1 same", 1, 4, 9, 2, 3, 1, 7, 1, 1, RT_PAD_SAME, 0);
    grad_conv("conv2d 7x1 s1 same", 1, 9, 4, 2, 3, 7, 1, 1, 1, RT_PAD_SAME, 0);
    grad_conv("conv2d 3x3 s2 valid", 2, 7, 7, 2, 3, 3, 3, 2, 2, RT_PAD_VALID, 0);
    grad_conv("conv2d 3x3 s2 same (pad 0/1)", 1, 6, 6, 2, 3, 3, 3, 2, 2, RT_PAD_SAME, 0);
    grad_conv("conv2d 2x2 s2 same (pad 0/1)", 2, 5, 5, 2, 2, 2, 2, 2, 2, RT_PAD_SAME, 1);
    grad_conv("conv2d 4x4 s1 same (pad 1/2)", 1, 5, 6, 2, 2, 4, 4, 1, 1, RT_PAD_SAME, 0);
    grad_conv("conv2d 1x1 pointwise +bias", 2, 3, 4, 5, 3, 1, 1, 1, 1, RT_PAD_SAME, 1);
    grad_conv("conv2d 1x1 s2 valid", 2, 5, 5, 3, 2, 1, 1, 2, 2, RT_PAD_VALID, 0);
    grad_conv("conv2d 3x1 s1x2 valid", 1, 5, 7, 2, 2, 3, 1, 1, 2, RT_PAD_VALID, 0);

    grad_depthwise("depthwise 3x3 s1 same", 2, 5, 5, 3, 1, 3, 1, RT_PAD_SAME, 0);
    grad_depthwise("depthwise 3x3 s2 same mult2 +b", 2, 6, 6, 2, 2, 3, 2, RT_PAD_SAME, 1);
    grad_depthwise("depthwise 3x3 s2 valid", 1, 7, 7, 3, 1, 3, 2, RT_PAD_VALID, 0);

    grad_batchnorm("batchnorm train gamma+beta", 12, 3, 1, 1);
    grad_batchnorm("batchnorm train scale=False", 10, 4, 1, 0);
    grad_batchnorm("batchnorm inference", 6, 3, 0, 1);

    const float relu_k[1] = {0.0f}, relu6_k[2] = {0.0f, 6.0f};
    grad_activation("relu", be->relu_forward, be->relu_backward,
                    frand_away(40, -2.0f, 2.0f, relu_k, 1, 0.05f), 40);
    grad_activation("relu6", be->relu6_forward, be->relu6_backward,
                    frand_away(60, -2.0f, 8.0f, relu6_k, 2, 0.05f), 60);
    grad_activation("sigmoid", be->sigmoid_forward, be->sigmoid_backward,
                    frand(40, -4.0f, 4.0f), 40);
    {
        gc_case c = {.name = "softmax", .forward = softmax_fwd,
                     .backward = softmax_bwd, .a = 3, .k = 5, .n_in = 1};
        c.in_n[0] = c.out_n = 15;
        c.in[0] = frand(15, -2.0f, 2.0f);
        gc_run(&c);
        gc_free(&c);
    }

    grad_pool("maxpool 3x3 s2 valid", 1, 2, 7, 7, 2, 3, 2, RT_PAD_VALID);
    grad_pool("maxpool 3x3 s1 same", 1, 1, 4, 5, 2, 3, 1, RT_PAD_SAME);
    grad_pool("maxpool 2x2 s2 same (pad 0/1)", 1, 1, 5, 5, 2, 2, 2, RT_PAD_SAME);
    grad_pool("avgpool 3x3 s1 same", 0, 2, 4, 5, 2, 3, 1, RT_PAD_SAME);
    grad_pool("avgpool 2x2 s2 valid", 0, 1, 5, 4, 3, 2, 2, RT_PAD_VALID);
    grad_pool("avgpool 3x3 s2 same (pad 0/1)", 0, 1, 6, 6, 2, 3, 2, RT_PAD_SAME);
    {
        gc_case c = {.name = "global avgpool", .forward = gap_fwd,
                     .backward = gap_bwd, .a = 2, .b = 6, .k = 3, .n_in = 1};
        c.in_n[0] = 36;
        c.out_n = 6;
        c.in[0] = frand(36, -1.0f, 1.0f);
        gc_run(&c);
        gc_free(&c);
    }
    {
        gc_case c = {.name = "dense +bias", .forward = dense_fwd,
                     .backward = dense_bwd, .a = 3, .b = 5, .k = 4, .n_in = 3};
        c.in_n[0] = 15;
        c.in_n[1] = 20;
        c.in_n[2] = 4;
        for (int k = 0; k < 3; k++)
            c.in[k] = frand(c.in_n[k], -1.0f, 1.0f);
        c.out_n = 12;
        gc_run(&c);
        gc_free(&c);
    }
    {
        gc_case c = {.name = "dropout 0.5", .forward = dropout_fwd,
                     .backward = dropout_bwd, .n_in = 1};
        c.in_n[0] = c.out_n = 64;
        c.in[0] = frand(64, -1.0f, 1.0f);
        c.aux[0] = fvec(64);
        gc_run(&c);
        gc_free(&c);
    }
    {
        gc_case c = {.name = "concat (2,3,1)", .forward = concat_fwd,
                     .backward = concat_bwd, .a = 4, .n_in = 3};
        for (int k = 0; k < 3; k++) {
            c.in_n[k] = (size_t)4 * concat_cs[k];
            c.in[k] = frand(c.in_n[k], -1.0f, 1.0f);
        }
        c.out_n = 24;
        gc_run(&c);
        gc_free(&c);
    }
    {
        gc_case c = {.name = "zeropad (1,2,0,3)", .forward = pad_fwd,
                     .backward = pad_bwd, .n_in = 1};
        c.pad = (rt_pad2d){2, 3, 2, 2, 1, 2, 0, 3};
        c.in_n[0] = 24;
        c.out_n = (size_t)2 * 6 * 5 * 2;
        c.in[0] = frand(24, -1.0f, 1.0f);
        gc_run(&c);
        gc_free(&c);
    }
    grad_loss("binary cross-entropy", 1, 4, 2);
    grad_loss("categorical cross-entropy", 0, 3, 4);
}

/* ---- forward checks against hand-computed values ---- */

static void test_padding_rule(void)
{
    rt_window2d g;
    /* 'same' s2 on 6: out 3, total (3-1)*2+3-6 = 1 -> 0 before, 1 after */
    CHECK(rt_window2d_init(&g, 1, 6, 6, 1, 1, 3, 3, 2, 2, RT_PAD_SAME) == RT_OK);
    CHECK_INT(g.out_h, 3);
    CHECK_INT(g.pad_top, 0);
    CHECK_INT(g.pad_bottom, 1);
    /* 'same' k4 s1 on 7: total 3 -> 1 before, 2 after */
    CHECK(rt_window2d_init(&g, 1, 7, 7, 1, 1, 4, 4, 1, 1, RT_PAD_SAME) == RT_OK);
    CHECK_INT(g.out_w, 7);
    CHECK_INT(g.pad_left, 1);
    CHECK_INT(g.pad_right, 2);
    /* 1x7 'same': rows unpadded, 3 columns each side */
    CHECK(rt_window2d_init(&g, 1, 17, 17, 1, 1, 1, 7, 1, 1, RT_PAD_SAME) == RT_OK);
    CHECK_INT(g.pad_top + g.pad_bottom, 0);
    CHECK_INT(g.pad_left, 3);
    CHECK_INT(g.pad_right, 3);
    /* InceptionV3 stem: 299 -> 149 (3x3 s2 valid); 147 -> 73 (max 3x3 s2) */
    CHECK(rt_window2d_init(&g, 1, 299, 299, 3, 32, 3, 3, 2, 2, RT_PAD_VALID) == RT_OK);
    CHECK_INT(g.out_h, 149);
    CHECK(rt_window2d_init(&g, 1, 147, 147, 64, 64, 3, 3, 2, 2, RT_PAD_VALID) == RT_OK);
    CHECK_INT(g.out_h, 73);
    /* 'same' with a window wider than the input is fine; 'valid' is not */
    CHECK(rt_window2d_init(&g, 1, 2, 2, 1, 1, 3, 3, 1, 1, RT_PAD_SAME) == RT_OK);
    CHECK(rt_window2d_init(&g, 1, 2, 2, 1, 1, 3, 3, 1, 1, RT_PAD_VALID) == RT_ERR_SHAPE);
    CHECK(rt_window2d_init(&g, 1, 2, 2, 1, 1, 0, 3, 1, 1, RT_PAD_SAME) == RT_ERR_ARG);
    CHECK(rt_window2d_init(&g, 65536, 65536, 65536, 3, 3, 3, 3, 1, 1, RT_PAD_SAME)
          == RT_ERR_SHAPE);
}

static void test_conv_forward_hand(void)
{
    /* 4x4 input 1..16, 3x3 ones kernel, stride 2 'same': padding 0 top /
     * left, 1 bottom / right, so the windows start at rows/cols 0 and 2. */
    float x[16], w[9], y[4];
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i + 1);
    for (int i = 0; i < 9; i++)
        w[i] = 1.0f;
    rt_window2d g;
    CHECK(rt_window2d_init(&g, 1, 4, 4, 1, 1, 3, 3, 2, 2, RT_PAD_SAME) == RT_OK);
    CHECK(be->conv2d_forward(&g, y, x, w, NULL) == RT_OK);
    CHECK_NEAR(y[0], 54.0, 1e-5);  /* rows 0-2, cols 0-2 */
    CHECK_NEAR(y[1], 45.0, 1e-5);  /* rows 0-2, cols 2-3 (+pad) */
    CHECK_NEAR(y[2], 72.0, 1e-5);  /* rows 2-3 (+pad), cols 0-2 */
    CHECK_NEAR(y[3], 54.0, 1e-5);  /* 11 + 12 + 15 + 16 */

    /* 1x3 'same' on one row with two channels in, one out: taps weigh
     * channel 0 by 1 and channel 1 by 10 at the centre only. */
    float x2[6] = {1, 2, 3, 4, 5, 6}; /* (1, 1, 3, 2) */
    float w2[6] = {1, 0, 1, 10, 1, 0}; /* (1, 3, 2, 1) */
    float y2[3];
    CHECK(rt_window2d_init(&g, 1, 1, 3, 2, 1, 1, 3, 1, 1, RT_PAD_SAME) == RT_OK);
    CHECK(be->conv2d_forward(&g, y2, x2, w2, NULL) == RT_OK);
    CHECK_NEAR(y2[0], 0 + (1 + 20) + 3, 1e-5);
    CHECK_NEAR(y2[1], 1 + (3 + 40) + 5, 1e-5);
    CHECK_NEAR(y2[2], 3 + (5 + 60) + 0, 1e-5);
}

/* Direct double-precision convolution, the oracle for larger shapes. */
static void conv_naive(const rt_window2d *g, double *out, const float *x,
                       const float *w)
{
    for (int b = 0; b < g->n; b++)
        for (int oh = 0; oh < g->out_h; oh++)
            for (int ow = 0; ow < g->out_w; ow++)
                for (int o = 0; o < g->out_c; o++) {
                    double s = 0.0;
                    for (int i = 0; i < g->k_h; i++)
                        for (int j = 0; j < g->k_w; j++) {
                            int ih = oh * g->stride_h - g->pad_top + i;
                            int iw = ow * g->stride_w - g->pad_left + j;
                            if (ih < 0 || ih >= g->in_h || iw < 0 || iw >= g->in_w)
                                continue;
                            for (int ci = 0; ci < g->in_c; ci++)
                                s += (double)x[(((size_t)b * g->in_h + ih) * g->in_w + iw) * g->in_c + ci]
                                   * w[(((size_t)i * g->k_w + j) * g->in_c + ci) * g->out_c + o];
                        }
                    out[(((size_t)b * g->out_h + oh) * g->out_w + ow) * g->out_c + o] = s;
                }
}

/* A conv big enough to take several im2col chunks, against the oracle:
 * forward, and backward through the identity sum(out * dout). */
static void test_conv_chunked(void)
{
    rt_window2d g;
    CHECK(rt_window2d_init(&g, 2, 23, 21, 256, 8, 3, 3, 1, 1, RT_PAD_SAME) == RT_OK);
    size_t nx = win_in(&g), ny = win_out(&g), nw = (size_t)9 * 256 * 8;
    float *x = frand(nx, -1, 1), *w = frand(nw, -1, 1), *y = fvec(ny);
    double *ref = calloc(ny, sizeof(double));
    CHECK(be->conv2d_forward(&g, y, x, w, NULL) == RT_OK);
    conv_naive(&g, ref, x, w);
    double worst = 0;
    for (size_t i = 0; i < ny; i++)
        worst = fmax(worst, fabs(y[i] - ref[i]));
    CHECK_NEAR(worst, 0.0, 1e-3);
    /* d/dw of sum(y * dy) is sum over rows of x-patch * dy: check a few
     * weight entries by linearity (perturb one weight by 1). */
    float *dy = frand(ny, -1, 1), *dw = fvec(nw), *dx = fvec(nx);
    CHECK(be->conv2d_backward(&g, dx, dw, NULL, dy, x, w) == RT_OK);
    double *ref2 = calloc(ny, sizeof(double));
    size_t probe[3] = {0, nw / 2 + 3, nw - 1};
    for (int p = 0; p < 3; p++) {
        w[probe[p]] += 1.0f;
        conv_naive(&g, ref2, x, w);
        w[probe[p]] -= 1.0f;
        double s = 0;
        for (size_t i = 0; i < ny; i++)
            s += (ref2[i] - ref[i]) * dy[i];
        CHECK_NEAR(dw[probe[p]], s, 1e-3 * (1 + fabs(s)));
    }
    size_t xprobe[3] = {0, nx / 2 + 7, nx - 1};
    for (int p = 0; p < 3; p++) {
        x[xprobe[p]] += 1.0f;
        conv_naive(&g, ref2, x, w);
        x[xprobe[p]] -= 1.0f;
        double s = 0;
        for (size_t i = 0; i < ny; i++)
            s += (ref2[i] - ref[i]) * dy[i];
        CHECK_NEAR(dx[xprobe[p]], s, 1e-3 * (1 + fabs(s)));
    }
    free(x); free(w); free(y); free(ref); free(ref2); free(dy); free(dw); free(dx);
}

static void test_pool_forward_hand(void)
{
    float x[9], y[9];
    for (int i = 0; i < 9; i++)
        x[i] = (float)(i + 1);
    rt_window2d g;
    CHECK(rt_window2d_init(&g, 1, 3, 3, 1, 1, 3, 3, 1, 1, RT_PAD_SAME) == RT_OK);
    CHECK(be->avgpool2d_forward(&g, y, x) == RT_OK);
    CHECK_NEAR(y[0], (1 + 2 + 4 + 5) / 4.0, 1e-6);         /* corner: / 4 */
    CHECK_NEAR(y[1], (1 + 2 + 3 + 4 + 5 + 6) / 6.0, 1e-6); /* edge: / 6 */
    CHECK_NEAR(y[4], 45 / 9.0, 1e-6);                      /* centre: / 9 */
    CHECK_NEAR(y[8], (5 + 6 + 8 + 9) / 4.0, 1e-6);
    CHECK(be->maxpool2d_forward(&g, y, x) == RT_OK);
    CHECK_NEAR(y[0], 5, 0);
    CHECK_NEAR(y[8], 9, 0);
    float gap[2];
    float xx[6] = {1, 10, 2, 20, 3, 30}; /* (1, 3, 2) */
    CHECK(be->global_avgpool_forward(gap, xx, 1, 3, 2) == RT_OK);
    CHECK_NEAR(gap[0], 2, 1e-6);
    CHECK_NEAR(gap[1], 20, 1e-6);
    /* max-pool backward sends the gradient to the first maximum */
    float tie[4] = {1, 1, 1, 1}, dtie[4] = {0}, one = 1.0f;
    CHECK(rt_window2d_init(&g, 1, 2, 2, 1, 1, 2, 2, 2, 2, RT_PAD_VALID) == RT_OK);
    CHECK(be->maxpool2d_backward(&g, dtie, &one, tie) == RT_OK);
    CHECK_NEAR(dtie[0], 1, 0);
    CHECK_NEAR(dtie[3], 0, 0);
}

static void test_batchnorm_hand(void)
{
    /* one channel, x = 1, 2, 3, 4: mean 2.5, biased var 1.25 */
    float x[4] = {1, 2, 3, 4}, y[4], mean, var, beta = 0.5f;
    CHECK(be->batchnorm_forward_train(y, &mean, &var, x, NULL, &beta, 4, 1,
                                      1e-3f) == RT_OK);
    CHECK_NEAR(mean, 2.5, 1e-6);
    CHECK_NEAR(var, 1.25, 1e-6);
    CHECK_NEAR(y[0], (1 - 2.5) / sqrt(1.25 + 1e-3) + 0.5, 1e-5);
    /* inference uses the moving statistics */
    float mm = 1.0f, mv = 4.0f;
    CHECK(be->batchnorm_forward_infer(y, x, NULL, &beta, &mm, &mv, 4, 1,
                                      1e-3f) == RT_OK);
    CHECK_NEAR(y[3], 3 / sqrt(4.001) + 0.5, 1e-5);
    /* Keras 2.2.4 zero-debiased moving update: after step 1 the moving
     * statistics ARE the batch statistics (variance double-corrected). */
    float corr = rt_batchnorm_keras22_var_correction(4, 1e-3f);
    CHECK_NEAR(corr, (4.0 / 3.0) * (4.0 / (4.0 - 1.001)), 1e-6);
    float am = 0, av = 0;
    mm = 0.3f;
    mv = 0.7f;
    CHECK(be->batchnorm_moving_update(&mm, &mv, &am, &av, &mean, &var, 1, 1,
                                      0.99f, corr) == RT_OK);
    CHECK_NEAR(mm, 2.5, 1e-5);
    CHECK_NEAR(mv, 1.25 * corr, 1e-5);
    /* step 2 with mean 0.5: (0.99*0.01*2.5 + 0.01*0.5) / (1 - 0.99^2) */
    float m2 = 0.5f, v2 = 1.25f;
    CHECK(be->batchnorm_moving_update(&mm, &mv, &am, &av, &m2, &v2, 1, 2,
                                      0.99f, corr) == RT_OK);
    CHECK_NEAR(mm, (0.99 * 0.01 * 2.5 + 0.01 * 0.5) / (1 - 0.99 * 0.99), 1e-5);
    /* plain EMA (Keras >= 2.3): moving -= (moving - value) * 0.01 */
    mm = 1.0f;
    mv = 1.0f;
    CHECK(be->batchnorm_moving_update(&mm, &mv, NULL, NULL, &mean, &var, 1, 1,
                                      0.99f, 1.0f) == RT_OK);
    CHECK_NEAR(mm, 1.0 - (1.0 - 2.5) * 0.01, 1e-6);
    CHECK_NEAR(mv, 1.0 - (1.0 - 1.25) * 0.01, 1e-6);
}

static void test_losses_hand(void)
{
    float loss, p, y;
    /* Keras clips to [1e-7, 1 - 1e-7] and goes through the logit:
     * p = 1, y = 0 -> log((1-eps)/eps) with 1-eps = 0.99999988 */
    p = 1.0f;
    y = 0.0f;
    CHECK(be->bce_forward(&loss, &p, &y, 1, 1) == RT_OK);
    CHECK_NEAR(loss, 15.9423852, 1e-5);
    p = 0.0f;
    y = 1.0f;
    CHECK(be->bce_forward(&loss, &p, &y, 1, 1) == RT_OK);
    CHECK_NEAR(loss, 16.1180957, 1e-5);
    float pp[2] = {0.5f, 0.8f}, yy[2] = {1.0f, 0.0f};
    CHECK(be->bce_forward(&loss, pp, yy, 2, 1) == RT_OK);
    CHECK_NEAR(loss, (log(2.0) - log(0.2)) / 2, 1e-6);
    /* the clip passes no gradient */
    float d[2] = {0, 0}, pc[2] = {1.0f, 0.0f}, yc[2] = {0.0f, 1.0f};
    CHECK(be->bce_backward(d, pc, yc, 2, 1) == RT_OK);
    CHECK(d[0] == 0.0f && d[1] == 0.0f);
    /* unclipped: (p - y) / (p (1 - p)) / batch */
    d[0] = d[1] = 0;
    CHECK(be->bce_backward(d, pp, yy, 2, 1) == RT_OK);
    CHECK_NEAR(d[0], (0.5 - 1) / 0.25 / 2, 1e-6);
    CHECK_NEAR(d[1], 0.8 / (0.8 * 0.2) / 2, 1e-5);
    /* categorical: rows renormalised first, then -sum y log q */
    float pq[3] = {0.2f, 0.2f, 0.4f}, yq[3] = {0, 0, 1};
    CHECK(be->cce_forward(&loss, pq, yq, 1, 3) == RT_OK);
    CHECK_NEAR(loss, -log(0.5), 1e-6);
    float pz[2] = {0.0f, 1.0f}, yz[2] = {1, 0};
    CHECK(be->cce_forward(&loss, pz, yz, 1, 2) == RT_OK);
    CHECK_NEAR(loss, -log(1e-7), 1e-4);
    /* accuracy: 0.5 rounds to 0 (half to even) */
    float pa[4] = {0.5f, 0.51f, 0.2f, 0.9f}, ya[4] = {0, 1, 1, 1}, acc;
    CHECK(be->binary_accuracy(&acc, pa, ya, 4, 1) == RT_OK);
    CHECK_NEAR(acc, 0.75, 1e-7);
    float pc3[6] = {0.1f, 0.7f, 0.2f, 0.5f, 0.5f, 0.0f}, yc3[6] = {0, 1, 0, 0, 1, 0};
    CHECK(be->categorical_accuracy(&acc, pc3, yc3, 2, 3) == RT_OK);
    CHECK_NEAR(acc, 0.5, 1e-7); /* second row ties: argmax is the first */
}

static void test_activation_hand(void)
{
    float x[5] = {-1, 0, 3, 7, 6}, y[5];
    CHECK(be->relu6_forward(y, x, 5) == RT_OK);
    CHECK(y[0] == 0 && y[2] == 3 && y[3] == 6 && y[4] == 6);
    CHECK(be->sigmoid_forward(y, x, 5) == RT_OK);
    CHECK_NEAR(y[1], 0.5, 0);
    CHECK_NEAR(y[0], 1 / (1 + exp(1.0)), 1e-7);
    float big[2] = {-200.0f, 200.0f}, s[2];
    CHECK(be->sigmoid_forward(s, big, 2) == RT_OK);
    CHECK(s[0] >= 0.0f && s[0] < 1e-30f && s[1] == 1.0f);
    float sm[3] = {1000, 1000, 1000}, so[3];
    CHECK(be->softmax_forward(so, sm, 1, 3) == RT_OK);
    CHECK_NEAR(so[1], 1 / 3.0, 1e-6);
}

static void test_dropout_stats(void)
{
    enum { N = 100000 };
    float *x = fvec(N), *y = fvec(N), *m = fvec(N), *y2 = fvec(N), *m2 = fvec(N);
    for (int i = 0; i < N; i++)
        x[i] = 1.0f;
    CHECK(be->dropout_forward(y, m, x, N, 0.5f, 42) == RT_OK);
    CHECK(be->dropout_forward(y2, m2, x, N, 0.5f, 42) == RT_OK);
    CHECK(memcmp(y, y2, N * sizeof(float)) == 0); /* same seed, same mask */
    int kept = 0, other = 0;
    for (int i = 0; i < N; i++) {
        kept += y[i] == 2.0f;
        other += y[i] != 2.0f && y[i] != 0.0f;
    }
    CHECK_INT(other, 0);
    CHECK(kept > N / 2 - 1000 && kept < N / 2 + 1000);
    CHECK(be->dropout_forward(y2, m2, x, N, 0.5f, 43) == RT_OK);
    CHECK(memcmp(y, y2, N * sizeof(float)) != 0);
    CHECK(be->dropout_forward(y2, m2, x, N, 1.0f, 43) == RT_ERR_ARG);
    CHECK(be->dropout_forward(y2, m2, x, N, 0.0f, 43) == RT_OK);
    CHECK(memcmp(x, y2, N * sizeof(float)) == 0);
    free(x); free(y); free(m); free(y2); free(m2);
}

static void test_gemm(void)
{
    enum { M = 5, N = 4, K = 3 };
    float a[M * K], at[K * M], b[K * N], bt[N * K], c[M * N];
    rt_rng_fill_uniform(&rng, a, M * K, -1, 1);
    rt_rng_fill_uniform(&rng, b, K * N, -1, 1);
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++)
            at[k * M + i] = a[i * K + k];
    for (int k = 0; k < K; k++)
        for (int j = 0; j < N; j++)
            bt[j * K + k] = b[k * N + j];
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            for (int i = 0; i < M * N; i++)
                c[i] = 1.0f;
            CHECK(be->gemm(ta, tb, M, N, K, 2.0f, ta ? at : a, ta ? M : K,
                           tb ? bt : b, tb ? K : N, 0.5f, c, N) == RT_OK);
            double worst = 0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = 0;
                    for (int k = 0; k < K; k++)
                        s += (double)a[i * K + k] * b[k * N + j];
                    worst = fmax(worst, fabs(c[i * N + j] - (2 * s + 0.5)));
                }
            CHECK_NEAR(worst, 0, 1e-5);
        }
    CHECK(be->gemm(0, 0, M, N, K, 1, a, 1, b, N, 0, c, N) == RT_ERR_ARG);
}

/* Shapes large enough for the threaded paths: the GEMM split over m and
 * over n (all transpositions), and batch-norm statistics over row ranges. */
static void test_threaded_paths(void)
{
    const int dims[2][3] = {{301, 70, 200}, {40, 333, 180}};
    for (int d = 0; d < 2; d++) {
        int M = dims[d][0], N = dims[d][1], K = dims[d][2];
        float *a = frand((size_t)M * K, -1, 1), *b = frand((size_t)K * N, -1, 1);
        float *at = fvec((size_t)M * K), *bt = fvec((size_t)K * N);
        float *c = fvec((size_t)M * N);
        for (int i = 0; i < M; i++)
            for (int k = 0; k < K; k++)
                at[(size_t)k * M + i] = a[(size_t)i * K + k];
        for (int k = 0; k < K; k++)
            for (int j = 0; j < N; j++)
                bt[(size_t)j * K + k] = b[(size_t)k * N + j];
        for (int t = 0; t < 4; t++) {
            int ta = t & 1, tb = t >> 1;
            CHECK(be->gemm(ta, tb, M, N, K, 1.0f, ta ? at : a, ta ? M : K,
                           tb ? bt : b, tb ? K : N, 0.0f, c, N) == RT_OK);
            double worst = 0;
            for (int i = 0; i < M; i += 7)
                for (int j = 0; j < N; j++) {
                    double s = 0;
                    for (int k = 0; k < K; k++)
                        s += (double)a[(size_t)i * K + k] * b[(size_t)k * N + j];
                    worst = fmax(worst, fabs(c[(size_t)i * N + j] - s));
                }
            CHECK_NEAR(worst, 0, 1e-3);
        }
        free(a); free(b); free(at); free(bt); free(c);
    }
    enum { R = 20000, C = 8 };
    float *x = frand((size_t)R * C, 2, 4), *y = fvec((size_t)R * C);
    float mean[C], var[C];
    CHECK(be->batchnorm_forward_train(y, mean, var, x, NULL, NULL, R, C,
                                      1e-3f) == RT_OK);
    for (int j = 0; j < C; j++) {
        double m = 0, v = 0;
        for (int r = 0; r < R; r++)
            m += x[(size_t)r * C + j];
        m /= R;
        for (int r = 0; r < R; r++)
            v += (x[(size_t)r * C + j] - m) * (x[(size_t)r * C + j] - m);
        CHECK_NEAR(mean[j], m, 1e-6);
        CHECK_NEAR(var[j], v / R, 1e-6);
    }
    free(x);
    free(y);
}

static void test_optimizers(void)
{
    /* Keras 2.2.4 Adam, lr 1e-3, eps 1e-8, by hand:
     * t=1, g=0.5:   lr_t = 1e-3*sqrt(0.001)/0.1 = 3.16227766e-4,
     *               m = 0.05, v = 2.5e-4, p = 1 - lr_t*m/(sqrt(v)+eps)
     *               = 0.999000000632
     * t=2, g=-0.25: lr_t = 2.35316725e-4, m = 0.02, v = 3.1225e-4,
     *               p = 0.998733663744 */
    /* lr_t is float32 arithmetic as in Keras: 1 - 0.999f is 0.00099998713,
     * so it sits 7e-6 (relative) below the exact value. */
    CHECK_NEAR(rt_adam_lr_t(1e-3f, 0.9f, 0.999f, 1), 3.16227766e-4, 1e-5 * 3.2e-4);
    CHECK_NEAR(rt_adam_lr_t(1e-3f, 0.9f, 0.999f, 2), 2.35316725e-4, 1e-5 * 2.4e-4);
    rt_optimizer_config cfg = rt_optimizer_adam_defaults();
    cfg.lr = 1e-3f;
    cfg.epsilon = 1e-8f;
    rt_optimizer *opt;
    CHECK(rt_optimizer_new(&opt, &cfg, RT_DEVICE_CPU) == RT_OK);
    float p = 1.0f, g = 0.5f;
    rt_param_ref ref = {&p, &g, 1};
    CHECK(rt_optimizer_step(opt, &ref, 1) == RT_OK);
    CHECK_NEAR(p, 0.999000000632, 2e-7);
    g = -0.25f;
    CHECK(rt_optimizer_step(opt, &ref, 1) == RT_OK);
    CHECK_NEAR(p, 0.998733663744, 2e-7);
    CHECK_INT(rt_optimizer_iterations(opt), 2);
    /* a different trainable set without re-compiling is an error */
    float p2[2] = {0, 0}, g2[2] = {1, 1};
    rt_param_ref ref2 = {p2, g2, 2};
    CHECK(rt_optimizer_step(opt, &ref2, 1) == RT_ERR_STATE);
    /* re-compile: t restarts at 1 with zero moments -> the first step again */
    rt_optimizer_reset(opt);
    CHECK_INT(rt_optimizer_iterations(opt), 0);
    p = 1.0f;
    g = 0.5f;
    CHECK(rt_optimizer_step(opt, &ref, 1) == RT_OK);
    CHECK_NEAR(p, 0.999000000632, 2e-7);
    rt_optimizer_free(opt);

    /* SGD momentum 0.9, lr 0.1, g = 0.5 twice: v = -0.05, -0.095 */
    cfg = rt_optimizer_sgd_defaults();
    cfg.lr = 0.1f;
    cfg.momentum = 0.9f;
    CHECK(rt_optimizer_new(&opt, &cfg, RT_DEVICE_CPU) == RT_OK);
    p = 1.0f;
    g = 0.5f;
    CHECK(rt_optimizer_step(opt, &ref, 1) == RT_OK);
    CHECK_NEAR(p, 0.95, 1e-7);
    CHECK(rt_optimizer_step(opt, &ref, 1) == RT_OK);
    CHECK_NEAR(p, 0.855, 1e-6);
    rt_optimizer_free(opt);
    cfg.nesterov = 1;
    CHECK(rt_optimizer_new(&opt, &cfg, RT_DEVICE_CPU) == RT_OK);
    p = 1.0f;
    CHECK(rt_optimizer_step(opt, &ref, 1) == RT_OK);
    CHECK_NEAR(p, 1 + 0.9 * -0.05 - 0.05, 1e-7);
    rt_optimizer_free(opt);
    /* plain SGD needs no state */
    cfg = rt_optimizer_sgd_defaults();
    CHECK(rt_optimizer_new(&opt, &cfg, RT_DEVICE_CPU) == RT_OK);
    p = 1.0f;
    CHECK(rt_optimizer_step(opt, &ref, 1) == RT_OK);
    CHECK_NEAR(p, 1 - 0.01 * 0.5, 1e-7);
    rt_optimizer_free(opt);
    cfg.lr = -1.0f;
    CHECK(rt_optimizer_new(&opt, &cfg, RT_DEVICE_CPU) == RT_ERR_ARG);
}

static void test_layout_hand(void)
{
    float a[4] = {1, 2, 3, 4}, b[2] = {9, 8}, out[6]; /* (2,2) + (2,1) */
    const float *ins[2] = {a, b};
    const int cs[2] = {2, 1};
    CHECK(be->concat_forward(out, ins, cs, 2, 2) == RT_OK);
    const float want[6] = {1, 2, 9, 3, 4, 8};
    CHECK(memcmp(out, want, sizeof want) == 0);
    rt_pad2d p = {1, 1, 2, 1, 1, 0, 0, 1}; /* (1,1,2,1) -> (1,2,3,1) */
    float x[2] = {5, 6}, y[6];
    CHECK(be->zeropad2d_forward(&p, y, x) == RT_OK);
    const float wy[6] = {0, 0, 0, 5, 6, 0};
    CHECK(memcmp(y, wy, sizeof wy) == 0);
}

int main(void)
{
    be = rt_backend_cpu();
    rt_rng_seed(&rng, 20240601);
    test_padding_rule();
    test_conv_forward_hand();
    test_conv_chunked();
    test_pool_forward_hand();
    test_batchnorm_hand();
    test_losses_hand();
    test_activation_hand();
    test_dropout_stats();
    test_gemm();
    test_threaded_paths();
    test_optimizers();
    test_layout_hand();
    test_gradients();
    be->workspace_trim();
    return CHECK_DONE();
}
