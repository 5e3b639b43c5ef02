/*
 * rt_layer.c - the `layer` type and Keras' layer constructors (Dense,
 * Dropout, GlobalAveragePooling2D, Conv2D, MaxPooling2D, AveragePooling2D,
 * Flatten, BatchNormalization, Activation).
 *
 * A constructor makes a DETACHED layer: a configuration that model.add()
 * builds into a Sequential; from then on the same value is ATTACHED, a
 * handle on model.layers[index] (it holds a reference to the model), so
 * that `layer.trainable = false` changes the model, as in Keras. The
 * values in model.layers are attached handles too.
 */
#include "rt_bind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NATIVE(name) static bool name(lang_ctx *cx, lang_value self, \
    const lang_value *args, int nargs, lang_value *ret)

static const char *const activations[] = { "linear", "relu", "relu6", "sigmoid", "softmax", NULL };
static const char *const paddings[] = { "valid", "same", NULL };

static void layer_release(void *p)
{
    rtb_layer *l = p;
    rt_model_release(l->model);
    free(l);
}

static lang_value layer_value(rtb_layer *l)
{
    lang_value v = lang_object_new(&rtb_layer_type, l, sizeof *l);
    if (v.type != LANG_OBJ) layer_release(l);
    return v;
}

lang_value rtb_layer_attached(rt_model *m, int index)
{
    rtb_layer *l = calloc(1, sizeof *l);
    if (!l) return lang_null();
    l->model = rt_model_retain(m);
    l->index = index;
    return layer_value(l);
}

/* What model.layers[index] is; an unbuilt Sequential has no layer order
 * yet, but its nodes are its layers (node 0 is the hidden input). */
static rt_status layer_info(const rtb_layer *l, rt_layer_info *info)
{
    if (rt_model_is_built(l->model) || rt_model_kind_get(l->model) == RT_MODEL_COMPOSED)
        return rt_model_layer_get(l->model, l->index, info);
    if (l->index + 1 >= rt_model_node_count(l->model))
        return rt_error_set(RT_ERR_STATE, "the layer is no longer in its model");
    const rt_layer *n = rt_model_node(l->model, l->index + 1);
    memset(info, 0, sizeof *info);
    info->name = n->name;
    info->class_name = rt_layer_class_name(&n->cfg);
    info->trainable = n->trainable;
    info->layer = n;
    return RT_OK;
}

static bool info_or_raise(lang_ctx *cx, const rtb_layer *l, rt_layer_info *info)
{
    rt_status st = layer_info(l, info);
    return st == RT_OK || rtb_raise_status(cx, st, "layer");
}

bool rtb_layer_add(lang_ctx *cx, rt_model *seq, lang_value v)
{
    rtb_layer *l = lang_object_ptr(v, &rtb_layer_type);
    if (l->model) {
        rt_layer_info info;
        const char *name = layer_info(l, &info) == RT_OK ? info.name : "?";
        return lang_raise(cx, "ValueError", "add(): the layer %s already belongs to model %s; "
                          "make a new one (e.g. Dense(...)) for each model", name,
                          rt_model_name(l->model));
    }
    rt_status st = RT_OK;
    if (l->in_ndim && rt_model_node_count(seq) == 1)
        st = rt_sequential_input_set(seq, l->in_ndim, l->in_shape);
    if (st == RT_OK) st = rt_sequential_add(seq, &l->cfg, NULL);
    if (st != RT_OK) return rtb_raise_status(cx, st, "add()");
    l->model = rt_model_retain(seq);
    l->index = rt_model_node_count(seq) - 2;
    rt_model_node(seq, l->index + 1)->trainable = l->trainable;
    return true;
}

/* ---- printing ---- */

static void detached_text(const rtb_layer *l, char *buf, size_t cap)
{
    const rt_layer_config *c = &l->cfg;
    const char *cls = rt_layer_class_name(c), *act = rt_activation_name(c->activation);
    switch (c->kind) {
    case RT_LAYER_DENSE: snprintf(buf, cap, "Dense(%d, %s)", c->units, act); break;
    case RT_LAYER_CONV2D:
        snprintf(buf, cap, "Conv2D(%d, %dx%d, %s)", c->filters, c->k_h, c->k_w, act);
        break;
    case RT_LAYER_DROPOUT: snprintf(buf, cap, "Dropout(%g)", (double)c->rate); break;
    case RT_LAYER_ACTIVATION: snprintf(buf, cap, "Activation(%s)", act); break;
    default: snprintf(buf, cap, "%s()", cls);
    }
}

static char *layer_repr(void *p)
{
    rtb_layer *l = p;
    char *s = malloc(320), what[96], shape[96];
    rt_layer_info info;
    if (!s) return NULL;
    if (!l->model) {
        detached_text(l, what, sizeof what);
        snprintf(s, 320, "<layer %s, not in a model yet>", what);
    } else if (layer_info(l, &info) != RT_OK) {
        snprintf(s, 320, "<layer of %s>", rt_model_name(l->model));
    } else {
        size_t k = (size_t)snprintf(shape, sizeof shape, "(None");
        for (int i = 0; i < info.ndim && k < sizeof shape; i++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, ", %lld", (long long)info.shape[i]);
        if (k < sizeof shape) snprintf(shape + k, sizeof shape - k, ")");
        if (info.ndim)
            snprintf(s, 320, "<layer %s (%s): output %s, %lld params, %s>", info.name,
                     info.class_name, shape, (long long)info.params,
                     info.trainable ? "trainable" : "frozen");
        else
            snprintf(s, 320, "<layer %s (%s): not built yet, %s>", info.name, info.class_name,
                     info.trainable ? "trainable" : "frozen");
    }
    return s;
}

/* ---- properties ---- */

static bool get_name(lang_ctx *cx, lang_value self, lang_value *ret)
{
    rtb_layer *l = lang_object_ptr(self, &rtb_layer_type);
    rt_layer_info info;
    if (!l->model) { *ret = lang_null(); return true; }
    if (!info_or_raise(cx, l, &info)) return false;
    *ret = lang_string_from(info.name);
    return true;
}

static bool get_class(lang_ctx *cx, lang_value self, lang_value *ret)
{
    rtb_layer *l = lang_object_ptr(self, &rtb_layer_type);
    rt_layer_info info;
    if (!l->model) { *ret = lang_string_from(rt_layer_class_name(&l->cfg)); return true; }
    if (!info_or_raise(cx, l, &info)) return false;
    *ret = lang_string_from(info.class_name);
    return true;
}

static bool get_trainable(lang_ctx *cx, lang_value self, lang_value *ret)
{
    rtb_layer *l = lang_object_ptr(self, &rtb_layer_type);
    rt_layer_info info;
    if (!l->model) { *ret = lang_bool(l->trainable); return true; }
    if (!info_or_raise(cx, l, &info)) return false;
    *ret = lang_bool(info.trainable);
    return true;
}

static bool set_trainable(lang_ctx *cx, lang_value self, lang_value v)
{
    rtb_layer *l = lang_object_ptr(self, &rtb_layer_type);
    if (v.type != LANG_BOOL)
        return lang_raise(cx, "TypeError", "trainable expects a bool, got %s",
                          lang_value_type_name(v));
    if (!l->model) { l->trainable = v.as.b; return true; }
    rt_layer_info info;
    if (!info_or_raise(cx, l, &info)) return false;
    if (info.submodel || rt_model_is_built(l->model)) {
        rt_status st = rt_model_layer_trainable_set(l->model, l->index, v.as.b);
        return st == RT_OK || rtb_raise_status(cx, st, "trainable");
    }
    ((rt_layer *)info.layer)->trainable = v.as.b;
    return true;
}

static bool get_output_shape(lang_ctx *cx, lang_value self, lang_value *ret)
{
    rtb_layer *l = lang_object_ptr(self, &rtb_layer_type);
    rt_layer_info info;
    if (!l->model) return true;
    if (!info_or_raise(cx, l, &info)) return false;
    if (!info.ndim) return true;
    *ret = lang_list_new(4);
    lang_list_push(*ret, lang_null());
    for (int i = 0; i < info.ndim; i++) lang_list_push(*ret, lang_int(info.shape[i]));
    return true;
}

static bool get_activation(lang_ctx *cx, lang_value self, lang_value *ret)
{
    rtb_layer *l = lang_object_ptr(self, &rtb_layer_type);
    rt_layer_info info;
    const rt_layer_config *c = &l->cfg;
    if (l->model) {
        if (!info_or_raise(cx, l, &info)) return false;
        if (!info.layer) return true;
        c = &info.layer->cfg;
    }
    if (c->kind == RT_LAYER_DENSE || c->kind == RT_LAYER_CONV2D ||
        c->kind == RT_LAYER_DEPTHWISE_CONV2D || c->kind == RT_LAYER_ACTIVATION)
        *ret = lang_string_from(rt_activation_name(c->activation));
    return true;
}

NATIVE(m_count_params)
{
    (void)args; (void)nargs;
    rtb_layer *l = lang_object_ptr(self, &rtb_layer_type);
    rt_layer_info info;
    if (!l->model)
        return lang_raise(cx, "ValueError", "count_params(): the layer is not built yet; add "
                          "it to a model that knows its input shape first");
    if (!info_or_raise(cx, l, &info)) return false;
    *ret = lang_int(info.params);
    return true;
}

/* ---- constructors ---- */

static bool new_layer(lang_ctx *cx, rt_layer_kind kind, lang_value input_shape, const char *fn,
                      rtb_layer **out)
{
    rtb_layer *l = calloc(1, sizeof *l);
    if (!l) return lang_raise(cx, "MemoryError", "out of memory");
    l->cfg = rt_layer_config_default(kind);
    l->trainable = 1;
    if (input_shape.type == LANG_LIST &&
        !rtb_int_list(cx, input_shape, fn, "input_shape", 1, 3, false, l->in_shape, &l->in_ndim)) {
        free(l);
        return false;
    }
    if (l->in_ndim == 2) {
        free(l);
        return lang_raise(cx, "ValueError", "%s expects input_shape to be {height, width, "
                          "channels} or {features}", fn);
    }
    *out = l;
    return true;
}

static bool finish(lang_ctx *cx, rtb_layer *l, lang_value *ret)
{
    *ret = layer_value(l);
    return ret->type == LANG_OBJ || lang_raise(cx, "MemoryError", "out of memory");
}

static bool activation_arg(lang_ctx *cx, const char *fn, lang_value v, rt_activation *out)
{
    const char *name = lang_string_cstr(v);
    if (!rtb_check_choice(cx, fn, "activation", name, activations)) return false;
    return rt_activation_parse(name, out) == RT_OK || rtb_raise_status(cx, RT_ERR_ARG, fn);
}

static bool positive(lang_ctx *cx, const char *fn, const char *param, lang_value v)
{
    if (v.as.i > 0 && v.as.i <= 1000000) return true;
    return lang_raise(cx, "ValueError", "%s expects %s to be a positive int, got %lld", fn, param,
                      (long long)v.as.i);
}

NATIVE(bi_dense)
{
    (void)self; (void)nargs;
    rtb_layer *l = NULL;
    rt_activation act;
    if (!positive(cx, "Dense()", "units", args[0]) ||
        !activation_arg(cx, "Dense()", args[1], &act) ||
        !new_layer(cx, RT_LAYER_DENSE, args[3], "Dense()", &l))
        return false;
    l->cfg.units = (int)args[0].as.i;
    l->cfg.activation = act;
    l->cfg.use_bias = args[2].as.b;
    return finish(cx, l, ret);
}

NATIVE(bi_dropout)
{
    (void)self; (void)nargs;
    rtb_layer *l = NULL;
    double r = args[0].as.f;
    if (!(r >= 0 && r < 1))
        return lang_raise(cx, "ValueError", "Dropout() expects rate to be at least 0 and below "
                          "1 (the fraction of values dropped), got %g", r);
    if (!new_layer(cx, RT_LAYER_DROPOUT, args[1], "Dropout()", &l)) return false;
    l->cfg.rate = (float)r;
    return finish(cx, l, ret);
}

static bool simple(lang_ctx *cx, rt_layer_kind kind, lang_value in, const char *fn,
                   lang_value *ret)
{
    rtb_layer *l = NULL;
    return new_layer(cx, kind, in, fn, &l) && finish(cx, l, ret);
}

NATIVE(bi_gap)
{
    (void)self; (void)nargs;
    return simple(cx, RT_LAYER_GLOBAL_AVGPOOL2D, args[0], "GlobalAveragePooling2D()", ret);
}

NATIVE(bi_flatten) { (void)self; (void)nargs; return simple(cx, RT_LAYER_FLATTEN, args[0], "Flatten()", ret); }

NATIVE(bi_conv2d)
{
    (void)self; (void)nargs;
    int64_t k[2], s[2] = { 1, 1 };
    int n;
    rt_activation act;
    rtb_layer *l = NULL;
    if (!positive(cx, "Conv2D()", "filters", args[0]) ||
        !rtb_int_list(cx, args[1], "Conv2D()", "kernel_size", 2, 2, true, k, &n) ||
        !rtb_int_list(cx, args[2], "Conv2D()", "strides", 2, 2, true, s, &n) ||
        !rtb_check_choice(cx, "Conv2D()", "padding", lang_string_cstr(args[3]), paddings) ||
        !activation_arg(cx, "Conv2D()", args[4], &act) ||
        !new_layer(cx, RT_LAYER_CONV2D, args[6], "Conv2D()", &l))
        return false;
    l->cfg.filters = (int)args[0].as.i;
    l->cfg.k_h = (int)k[0]; l->cfg.k_w = (int)k[1];
    l->cfg.stride_h = (int)s[0]; l->cfg.stride_w = (int)s[1];
    l->cfg.padding = lang_string_cstr(args[3])[0] == 's' ? RT_PAD_SAME : RT_PAD_VALID;
    l->cfg.activation = act;
    l->cfg.use_bias = args[5].as.b;
    return finish(cx, l, ret);
}

static bool pool(lang_ctx *cx, rt_layer_kind kind, const char *fn, const lang_value *args,
                 lang_value *ret)
{
    int64_t k[2], s[2];
    int n;
    rtb_layer *l = NULL;
    if (!rtb_int_list(cx, args[0], fn, "pool_size", 2, 2, true, k, &n)) return false;
    s[0] = k[0]; s[1] = k[1];
    if ((args[1].type != LANG_NULL && !rtb_int_list(cx, args[1], fn, "strides", 2, 2, true, s, &n)) ||
        !rtb_check_choice(cx, fn, "padding", lang_string_cstr(args[2]), paddings) ||
        !new_layer(cx, kind, args[3], fn, &l))
        return false;
    l->cfg.k_h = (int)k[0]; l->cfg.k_w = (int)k[1];
    l->cfg.stride_h = (int)s[0]; l->cfg.stride_w = (int)s[1];
    l->cfg.padding = lang_string_cstr(args[2])[0] == 's' ? RT_PAD_SAME : RT_PAD_VALID;
    return finish(cx, l, ret);
}

NATIVE(bi_maxpool) { (void)self; (void)nargs; return pool(cx, RT_LAYER_MAXPOOL2D, "MaxPooling2D()", args, ret); }
NATIVE(bi_avgpool) { (void)self; (void)nargs; return pool(cx, RT_LAYER_AVGPOOL2D, "AveragePooling2D()", args, ret); }

NATIVE(bi_batchnorm)
{
    (void)self; (void)nargs;
    rtb_layer *l = NULL;
    double mom = args[0].as.f, eps = args[1].as.f;
    if (!(mom >= 0 && mom < 1) || !(eps > 0))
        return lang_raise(cx, "ValueError", "BatchNormalization() expects 0 <= momentum < 1 and "
                          "epsilon > 0, got %g and %g", mom, eps);
    if (!new_layer(cx, RT_LAYER_BATCHNORM, args[4], "BatchNormalization()", &l)) return false;
    l->cfg.momentum = (float)mom;
    l->cfg.epsilon = (float)eps;
    l->cfg.center = args[2].as.b;
    l->cfg.scale = args[3].as.b;
    return finish(cx, l, ret);
}

NATIVE(bi_activation)
{
    (void)self; (void)nargs;
    rtb_layer *l = NULL;
    rt_activation act;
    if (!activation_arg(cx, "Activation()", args[0], &act) ||
        !new_layer(cx, RT_LAYER_ACTIVATION, args[1], "Activation()", &l))
        return false;
    l->cfg.activation = act;
    return finish(cx, l, ret);
}

static const lang_method layer_methods[] = {
    {"int count_params()", m_count_params, "The number of weights (trainable or not)."},
    {NULL, NULL, NULL},
};

static const lang_property layer_props[] = {
    {"name", "string", get_name, NULL, "Keras' name (dense_1, conv2d_5...); null until the "
     "layer is in a model."},
    {"class_name", "string", get_class, NULL, "The kind of layer: \"Dense\", \"Conv2D\"..."},
    {"trainable", "bool", get_trainable, set_trainable, "Whether fit() changes its weights. "
     "Set it to false to freeze the layer (then compile() again)."},
    {"output_shape", "list", get_output_shape, NULL, "{null, ...}: the batch, then the shape of "
     "one output; null until built."},
    {"activation", "string", get_activation, NULL, "The activation of Dense, Conv2D and "
     "Activation layers."},
    {NULL, NULL, NULL, NULL, NULL},
};

const lang_type rtb_layer_type = {
    .name = "layer",
    .doc = "A Keras layer: made by Dense(), Conv2D()... and added to a Sequential model with "
           "add(); model.layers lists a model's layers.",
    .free = layer_release, .repr = layer_repr, .summary = layer_repr,
    .methods = layer_methods, .properties = layer_props,
};

#define IN "list input_shape = null"
void rtb_layer_register(void)
{
    lang_type_register(&rtb_layer_type);
    lang_builtin_register("layer Dense(int units, string activation = \"linear\", "
        "bool use_bias = true, " IN ")", bi_dense,
        "A fully connected layer of `units` outputs. activation: \"linear\", \"relu\", "
        "\"relu6\", \"sigmoid\" or \"softmax\". input_shape only for a model's first layer.");
    lang_builtin_register("layer Dropout(float rate, " IN ")", bi_dropout,
        "During training, zero a random fraction `rate` of the values (scaling the rest).");
    lang_builtin_register("layer GlobalAveragePooling2D(" IN ")", bi_gap,
        "Average each channel over height and width: (h, w, c) -> (c).");
    lang_builtin_register("layer Conv2D(int filters, any kernel_size, any strides = 1, "
        "string padding = \"valid\", string activation = \"linear\", bool use_bias = true, "
        IN ")", bi_conv2d,
        "A 2D convolution: kernel_size and strides are an int or {rows, cols}; padding "
        "\"valid\" or \"same\".");
    lang_builtin_register("layer MaxPooling2D(any pool_size = {2, 2}, any strides = null, "
        "string padding = \"valid\", " IN ")", bi_maxpool,
        "The maximum of each pool_size window (strides default to pool_size).");
    lang_builtin_register("layer AveragePooling2D(any pool_size = {2, 2}, any strides = null, "
        "string padding = \"valid\", " IN ")", bi_avgpool,
        "The mean of each pool_size window (strides default to pool_size).");
    lang_builtin_register("layer Flatten(" IN ")", bi_flatten, "(h, w, c) -> (h * w * c).");
    lang_builtin_register("layer BatchNormalization(float momentum = 0.99, "
        "float epsilon = 0.001, bool center = true, bool scale = true, " IN ")", bi_batchnorm,
        "Normalise each channel with the batch's statistics while training and moving "
        "averages at inference.");
    lang_builtin_register("layer Activation(string activation, " IN ")", bi_activation,
        "Apply an activation: \"relu\", \"relu6\", \"sigmoid\", \"softmax\" or \"linear\".");
}
