/* Layer configuration, shape inference and Keras' initial weights. */
#include "layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

rt_layer_config rt_layer_config_default(rt_layer_kind kind)
{
    rt_layer_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.k_h = c.k_w = 1;
    c.stride_h = c.stride_w = 1;
    c.padding = RT_PAD_VALID;
    c.depth_multiplier = 1;
    c.use_bias = 1;
    c.scale = c.center = 1;
    c.epsilon = 1e-3f;
    c.momentum = 0.99f;
    if (kind == RT_LAYER_MAXPOOL2D || kind == RT_LAYER_AVGPOOL2D)
        c.k_h = c.k_w = c.stride_h = c.stride_w = 2;
    return c;
}

static const char *const rt_stems[RT_LAYER_KIND_COUNT] = {
    "input", "conv2d", "depthwise_conv2d", "batch_normalization",
    "activation", "max_pooling2d", "average_pooling2d",
    "global_average_pooling2d", "dense", "dropout", "flatten",
    "concatenate", "zero_padding2d"};

static const char *const rt_classes[RT_LAYER_KIND_COUNT] = {
    "InputLayer", "Conv2D", "DepthwiseConv2D", "BatchNormalization",
    "Activation", "MaxPooling2D", "AveragePooling2D",
    "GlobalAveragePooling2D", "Dense", "Dropout", "Flatten", "Concatenate",
    "ZeroPadding2D"};

const char *rt_layer_name_stem(rt_layer_kind kind)
{
    return (unsigned)kind < RT_LAYER_KIND_COUNT ? rt_stems[kind] : "layer";
}

const char *rt_layer_class_name(const rt_layer_config *cfg)
{
    if (cfg->kind == RT_LAYER_ACTIVATION && cfg->relu_layer)
        return "ReLU";
    return (unsigned)cfg->kind < RT_LAYER_KIND_COUNT ? rt_classes[cfg->kind]
                                                      : "Layer";
}

static const char *const rt_act_names[] = {"linear", "relu", "relu6",
                                           "sigmoid", "softmax"};

const char *rt_activation_name(rt_activation a)
{
    return (unsigned)a <= RT_ACT_SOFTMAX ? rt_act_names[a] : "?";
}

rt_status rt_activation_parse(const char *name, rt_activation *out)
{
    if (!name || !*name) {
        *out = RT_ACT_LINEAR;
        return RT_OK;
    }
    for (int i = 0; i <= RT_ACT_SOFTMAX; i++)
        if (strcmp(name, rt_act_names[i]) == 0) {
            *out = (rt_activation)i;
            return RT_OK;
        }
    return rt_error_set(RT_ERR_ARG, "unknown activation '%s' (expected "
                        "linear, relu, relu6, sigmoid or softmax)", name);
}

static void rt_weight_set(rt_weight *w, const char *var, int trainable,
                          int ndim, int64_t d0, int64_t d1, int64_t d2,
                          int64_t d3)
{
    int64_t d[4] = {d0, d1, d2, d3};
    snprintf(w->var, sizeof w->var, "%s", var);
    w->ndim = ndim;
    w->numel = 1;
    for (int i = 0; i < 4; i++) {
        w->shape[i] = i < ndim ? d[i] : 1;
        if (i < ndim)
            w->numel *= d[i];
    }
    w->trainable = trainable;
    w->offset = 0;
}

static rt_status rt_layer_need_image(const rt_layer *l, const rt_layer *in)
{
    if (in->ndim != 3)
        return rt_error_set(RT_ERR_SHAPE, "layer %s (%s) needs an image input "
                            "(h, w, c), got a vector of %lld", l->name,
                            rt_layer_class_name(&l->cfg), (long long)in->shape[0]);
    return RT_OK;
}

static void rt_set3(rt_layer *l, int64_t h, int64_t w, int64_t c)
{
    l->ndim = 3;
    l->shape[0] = h;
    l->shape[1] = w;
    l->shape[2] = c;
}

static void rt_set1(rt_layer *l, int64_t n)
{
    l->ndim = 1;
    l->shape[0] = n;
    l->shape[1] = l->shape[2] = 1;
}

/* Conv2D, DepthwiseConv2D and the pools share the TF window rule. */
static rt_status rt_layer_infer_window(rt_layer *l, const rt_layer *in)
{
    const rt_layer_config *c = &l->cfg;
    int cin = (int)in->shape[2], cout = cin;
    if (c->kind == RT_LAYER_CONV2D)
        cout = c->filters;
    else if (c->kind == RT_LAYER_DEPTHWISE_CONV2D)
        cout = cin * c->depth_multiplier;
    if (cout <= 0)
        return rt_error_set(RT_ERR_ARG, "layer %s: filters must be positive",
                            l->name);
    rt_window2d g;
    rt_status st = rt_window2d_init(&g, 1, (int)in->shape[0], (int)in->shape[1],
                                    cin, cout, c->k_h, c->k_w, c->stride_h,
                                    c->stride_w, c->padding);
    if (st != RT_OK)
        return rt_error_set(st, "layer %s (%s): a %dx%d window does not fit "
                            "its input (%lld, %lld, %d)", l->name,
                            rt_layer_class_name(c), c->k_h, c->k_w,
                            (long long)in->shape[0], (long long)in->shape[1], cin);
    rt_set3(l, g.out_h, g.out_w, cout);
    if (c->kind == RT_LAYER_CONV2D) {
        rt_weight_set(&l->w[l->n_weights++], "kernel", 1, 4, c->k_h, c->k_w,
                      cin, cout);
    } else if (c->kind == RT_LAYER_DEPTHWISE_CONV2D) {
        rt_weight_set(&l->w[l->n_weights++], "depthwise_kernel", 1, 4, c->k_h,
                      c->k_w, cin, c->depth_multiplier);
    }
    if ((c->kind == RT_LAYER_CONV2D || c->kind == RT_LAYER_DEPTHWISE_CONV2D)
        && c->use_bias)
        rt_weight_set(&l->w[l->n_weights++], "bias", 1, 1, cout, 0, 0, 0);
    return RT_OK;
}

static rt_status rt_layer_infer_concat(rt_layer *l, const rt_layer *const *in)
{
    int64_t c = 0;
    for (int i = 0; i < l->n_inputs; i++) {
        rt_status st = rt_layer_need_image(l, in[i]);
        if (st != RT_OK)
            return st;
        if (in[i]->shape[0] != in[0]->shape[0] || in[i]->shape[1] != in[0]->shape[1])
            return rt_error_set(RT_ERR_SHAPE, "layer %s (Concatenate): inputs "
                                "%s and %s differ in height or width", l->name,
                                in[0]->name, in[i]->name);
        c += in[i]->shape[2];
    }
    rt_set3(l, in[0]->shape[0], in[0]->shape[1], c);
    return RT_OK;
}

static rt_status rt_layer_infer_bn(rt_layer *l, const rt_layer *in)
{
    int64_t c = in->ndim == 3 ? in->shape[2] : in->shape[0];
    l->ndim = in->ndim;
    memcpy(l->shape, in->shape, sizeof l->shape);
    if (l->cfg.scale)
        rt_weight_set(&l->w[l->n_weights++], "gamma", 1, 1, c, 0, 0, 0);
    if (l->cfg.center)
        rt_weight_set(&l->w[l->n_weights++], "beta", 1, 1, c, 0, 0, 0);
    rt_weight_set(&l->w[l->n_weights++], "moving_mean", 0, 1, c, 0, 0, 0);
    rt_weight_set(&l->w[l->n_weights++], "moving_variance", 0, 1, c, 0, 0, 0);
    return RT_OK;
}

static rt_status rt_layer_infer_one(rt_layer *l, const rt_layer *in)
{
    const rt_layer_config *c = &l->cfg;
    rt_status st = RT_OK;
    switch (c->kind) {
    case RT_LAYER_CONV2D:
    case RT_LAYER_DEPTHWISE_CONV2D:
    case RT_LAYER_MAXPOOL2D:
    case RT_LAYER_AVGPOOL2D:
        if ((st = rt_layer_need_image(l, in)) != RT_OK)
            return st;
        return rt_layer_infer_window(l, in);
    case RT_LAYER_BATCHNORM:
        return rt_layer_infer_bn(l, in);
    case RT_LAYER_GLOBAL_AVGPOOL2D:
        if ((st = rt_layer_need_image(l, in)) == RT_OK)
            rt_set1(l, in->shape[2]);
        return st;
    case RT_LAYER_FLATTEN:
        rt_set1(l, in->shape[0] * in->shape[1] * in->shape[2]);
        return RT_OK;
    case RT_LAYER_ZEROPAD2D:
        if ((st = rt_layer_need_image(l, in)) == RT_OK)
            rt_set3(l, in->shape[0] + c->pad_top + c->pad_bottom,
                    in->shape[1] + c->pad_left + c->pad_right, in->shape[2]);
        return st;
    case RT_LAYER_DENSE:
        if (in->ndim != 1)
            return rt_error_set(RT_ERR_SHAPE, "layer %s (Dense) needs a vector "
                                "input; add Flatten() or GlobalAveragePooling2D() "
                                "before it (its input is (%lld, %lld, %lld))",
                                l->name, (long long)in->shape[0],
                                (long long)in->shape[1], (long long)in->shape[2]);
        if (c->units <= 0)
            return rt_error_set(RT_ERR_ARG, "layer %s: units must be positive",
                                l->name);
        rt_set1(l, c->units);
        rt_weight_set(&l->w[l->n_weights++], "kernel", 1, 2, in->shape[0],
                      c->units, 0, 0);
        if (c->use_bias)
            rt_weight_set(&l->w[l->n_weights++], "bias", 1, 1, c->units, 0, 0, 0);
        return RT_OK;
    default: /* Activation, Dropout, Input keep the shape */
        l->ndim = in->ndim;
        memcpy(l->shape, in->shape, sizeof l->shape);
        return RT_OK;
    }
}

rt_status rt_layer_infer(rt_layer *l, const rt_layer *const *inputs)
{
    l->n_weights = 0;
    if (l->cfg.kind == RT_LAYER_INPUT)
        return RT_OK;
    if (l->cfg.kind == RT_LAYER_CONCATENATE)
        return rt_layer_infer_concat(l, inputs);
    if (l->cfg.kind == RT_LAYER_DROPOUT
        && !(l->cfg.rate >= 0.0f && l->cfg.rate < 1.0f))
        return rt_error_set(RT_ERR_ARG, "layer %s: the dropout rate must be in "
                            "[0, 1), got %g", l->name, (double)l->cfg.rate);
    return rt_layer_infer_one(l, inputs[0]);
}

int64_t rt_layer_param_count(const rt_layer *l)
{
    int64_t n = 0;
    for (int i = 0; i < l->n_weights; i++)
        n += l->w[i].numel;
    return n;
}

int64_t rt_layer_trainable_count(const rt_layer *l, int model_trainable)
{
    if (!l->trainable || !model_trainable)
        return 0;
    int64_t n = 0;
    for (int i = 0; i < l->n_weights; i++)
        if (l->w[i].trainable)
            n += l->w[i].numel;
    return n;
}

int rt_layer_channels(const rt_layer *l)
{
    return (int)(l->ndim == 3 ? l->shape[2] : l->shape[0]);
}

/* glorot_uniform: U(-L, L), L = sqrt(6 / (fan_in + fan_out)); for a
 * kernel (kh, kw, in, out) the receptive field multiplies both fans. */
static void rt_glorot_fill(const rt_weight *w, float *p, rt_rng *rng)
{
    double rf = 1.0, fan_in, fan_out;
    if (w->ndim == 2) {
        fan_in = (double)w->shape[0];
        fan_out = (double)w->shape[1];
    } else {
        rf = (double)(w->shape[0] * w->shape[1]);
        fan_in = rf * (double)w->shape[2];
        fan_out = rf * (double)w->shape[3];
    }
    float lim = (float)sqrt(6.0 / (fan_in + fan_out));
    rt_rng_fill_uniform(rng, p, (size_t)w->numel, -lim, lim);
}

void rt_layer_weights_init(const rt_layer *l, float *params, rt_rng *rng)
{
    for (int i = 0; i < l->n_weights; i++) {
        const rt_weight *w = &l->w[i];
        float *p = params + w->offset;
        if (strcmp(w->var, "kernel") == 0 || strcmp(w->var, "depthwise_kernel") == 0) {
            rt_glorot_fill(w, p, rng);
        } else {
            float v = (strcmp(w->var, "gamma") == 0
                       || strcmp(w->var, "moving_variance") == 0) ? 1.0f : 0.0f;
            for (int64_t k = 0; k < w->numel; k++)
                p[k] = v;
        }
    }
}
