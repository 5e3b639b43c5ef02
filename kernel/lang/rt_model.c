/*
 * rt_model.c - the `model` type and the model builders: InceptionV3,
 * MobileNet, SmallCNN, Sequential, Model(backbone, top); add, summary,
 * layers, trainable, save_weights / load_weights. Training methods
 * (compile, fit, evaluate, predict) live in rt_train.c and are listed in
 * this type's method table.
 *
 * weights = "imagenet" looks for Keras' own file name under
 * keras-pretrained-models/ in each directory of the data path
 * (HELLODL_DATA_PATH); nothing is downloaded here.
 */
#include "rt_bind.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applications.h"
#include "device.h"

#define NATIVE(name) static bool name(lang_ctx *cx, lang_value self, \
    const lang_value *args, int nargs, lang_value *ret)
#define WEIGHTS_DIR "keras-pretrained-models"

static void model_release(void *p)
{
    rtb_model *w = p;
    rt_model_release(w->m);
    free(w);
}

lang_value rtb_model_wrap(rt_model *m)
{
    rtb_model *w = calloc(1, sizeof *w);
    lang_value v = w ? lang_object_new(&rtb_model_type, w, sizeof *w) : lang_null();
    if (v.type != LANG_OBJ) { free(w); rt_model_release(m); return v; }
    w->m = m;
    w->metric_acc = 1;
    return v;
}

/* Every builder ends here: a new model is new state for the next device
 * checkpoint, and the first one on a GPU says so. */
static bool wrap_ret(lang_ctx *cx, rt_model *m, lang_value *ret)
{
    *ret = rtb_model_wrap(m);
    if (ret->type != LANG_OBJ) return lang_raise(cx, "MemoryError", "out of memory");
    rt_device_touch();
    rtb_device_notice(cx);
    return true;
}

static rt_model *self_model(lang_value self)
{
    return ((rtb_model *)lang_object_ptr(self, &rtb_model_type))->m;
}

/* Layers listed by model.layers; an unbuilt Sequential counts its nodes. */
static int layer_count(rt_model *m)
{
    if (!rt_model_is_built(m) && rt_model_kind_get(m) == RT_MODEL_SEQUENTIAL)
        return rt_model_node_count(m) - 1;
    return rt_model_layer_count(m);
}

static const char *kind_name(rt_model *m)
{
    switch (rt_model_kind_get(m)) {
    case RT_MODEL_SEQUENTIAL: return "Sequential";
    case RT_MODEL_COMPOSED: return "Model";
    default: return "Functional";
    }
}

static char *model_repr(void *p)
{
    rt_model *m = ((rtb_model *)p)->m;
    char *s = malloc(400), in[96], out[96];
    if (!s) return NULL;
    int n = layer_count(m), ndim;
    int64_t shape[3], total, trainable;
    if (!rt_model_is_built(m)) {
        snprintf(s, 400, "<model %s (%s): %d layer%s, not built yet>", rt_model_name(m),
                 kind_name(m), n, n == 1 ? "" : "s");
        return s;
    }
    rt_model_input_shape(m, &ndim, shape);
    rt_shape_format(ndim, shape, in, sizeof in);
    rt_model_output_shape(m, &ndim, shape);
    rt_shape_format(ndim, shape, out, sizeof out);
    rt_model_param_counts(m, &total, &trainable);
    snprintf(s, 400, "<model %s (%s): %d layers, input %s -> output %s, %lld params "
             "(%lld trainable)>", rt_model_name(m), kind_name(m), n, in, out, (long long)total,
             (long long)trainable);
    return s;
}

/* ---- weights ---- */

static void data_dirs(lang_ctx *cx, char *buf, size_t cap)
{
    const char *dp = lang_ctx_data_path(cx);
    snprintf(buf, cap, "%s", dp && *dp ? dp : "(HELLODL_DATA_PATH is not set)");
    for (char *c = buf; *c; c++) if (*c == ':') *c = ',';
}

static bool weights_load(lang_ctx *cx, rt_model *m, const char *path, const char *fn)
{
    int renamed = 0;
    rt_status st = rt_model_weights_load(m, path, 0, &renamed);
    return st == RT_OK || rtb_raise_status(cx, st, fn);
}

/* weights = null | "imagenet" | a path; keras_file is Keras' file name. */
static bool weights_apply(lang_ctx *cx, rt_model *m, lang_value w, const char *fn,
                          const char *keras_file)
{
    char rel[256], found[4096], dirs[1024];
    if (w.type == LANG_NULL) return true;
    if (w.type != LANG_STR)
        return lang_raise(cx, "TypeError", "%s expects weights to be null, \"imagenet\" or the "
                          "path of a .h5 file, got %s", fn, lang_value_type_name(w));
    const char *s = lang_string_cstr(w);
    if (strcmp(s, "imagenet") != 0) {
        if (!lang_ctx_find_file(cx, s, found, sizeof found))
            return lang_raise(cx, "FileNotFoundError", "%s: the weights file '%s' does not "
                              "exist (pass weights = null to start from random weights)", fn, s);
        return weights_load(cx, m, found, fn);
    }
    snprintf(rel, sizeof rel, WEIGHTS_DIR "/%s", keras_file);
    if (lang_ctx_find_file(cx, rel, found, sizeof found)) return weights_load(cx, m, found, fn);
    data_dirs(cx, dirs, sizeof dirs);
    return lang_raise(cx, "FileNotFoundError", "%s: weights = \"imagenet\" needs Keras' file "
                      "%s; looked for " WEIGHTS_DIR "/%s in %s. Put it there, pass its path "
                      "as weights = \"...\", or use weights = null to train from random weights",
                      fn, keras_file, keras_file, dirs);
}

static bool input_shape_arg(lang_ctx *cx, lang_value v, const char *fn, int h, int w,
                            int64_t *shape)
{
    int n;
    shape[0] = h; shape[1] = w; shape[2] = 3;
    if (v.type == LANG_NULL) return true;
    return rtb_int_list(cx, v, fn, "input_shape", 3, 3, false, shape, &n);
}

static bool include_top_arg(lang_ctx *cx, lang_value v, const char *fn)
{
    if (!v.as.b) return true;
    return lang_raise(cx, "ValueError", "%s: include_top = true is not available: the model is "
                      "built without its ImageNet classifier. Pass include_top = false and add "
                      "your own top with Model(backbone, top)", fn);
}

NATIVE(bi_inception)
{
    (void)self; (void)nargs;
    int64_t s[3];
    rt_model *m = NULL;
    if (!include_top_arg(cx, args[1], "InceptionV3()") ||
        !input_shape_arg(cx, args[2], "InceptionV3()", 299, 299, s))
        return false;
    rt_status st = rt_inception_v3_new(&m, (int)s[0], (int)s[1], (int)s[2]);
    if (st != RT_OK) return rtb_raise_status(cx, st, "InceptionV3()");
    if (!weights_apply(cx, m, args[0], "InceptionV3()",
                       "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")) {
        rt_model_release(m);
        return false;
    }
    return wrap_ret(cx, m, ret);
}

NATIVE(bi_mobilenet)
{
    (void)self; (void)nargs;
    int64_t s[3];
    rt_model *m = NULL;
    double a = args[0].as.f;
    if (a != 0.25 && a != 0.5 && a != 0.75 && a != 1.0)
        return lang_raise(cx, "ValueError", "MobileNet() expects alpha to be 0.25, 0.5, 0.75 or "
                          "1.0, got %g", a);
    if (!include_top_arg(cx, args[2], "MobileNet()") ||
        !input_shape_arg(cx, args[3], "MobileNet()", 224, 224, s))
        return false;
    rt_status st = rt_mobilenet_new(&m, (int)s[0], (int)s[1], (int)s[2], (float)a);
    if (st != RT_OK) return rtb_raise_status(cx, st, "MobileNet()");
    /* Keras names the file by alpha and by the input rows it was trained at
     * (128, 160, 192 or 224; other sizes take 224's). */
    char file[96];
    int rows = s[0] == 128 || s[0] == 160 || s[0] == 192 ? (int)s[0] : 224;
    const char *at = a == 0.25 ? "2_5" : a == 0.5 ? "5_0" : a == 0.75 ? "7_5" : "1_0";
    snprintf(file, sizeof file, "mobilenet_%s_%d_tf_no_top.h5", at, rows);
    if (!weights_apply(cx, m, args[1], "MobileNet()", file)) {
        rt_model_release(m);
        return false;
    }
    return wrap_ret(cx, m, ret);
}

NATIVE(bi_small_cnn)
{
    (void)self; (void)nargs;
    int64_t s[3];
    int n;
    rt_model *m = NULL;
    if (!rtb_int_list(cx, args[0], "SmallCNN()", "input_shape", 3, 3, false, s, &n)) return false;
    for (int i = 1; i <= 4; i++)
        if (args[i].as.i < 1 || args[i].as.i > 4096)
            return lang_raise(cx, "ValueError", "SmallCNN() expects blocks, filters, "
                              "dense_units and outputs to be positive ints, got %lld",
                              (long long)args[i].as.i);
    rt_status st = rt_small_cnn_new(&m, (int)s[0], (int)s[1], (int)s[2], (int)args[1].as.i,
                                    (int)args[2].as.i, (int)args[3].as.i, (int)args[4].as.i);
    if (st != RT_OK) return rtb_raise_status(cx, st, "SmallCNN()");
    return wrap_ret(cx, m, ret);
}

NATIVE(bi_sequential)
{
    (void)self; (void)nargs;
    rt_model *m = NULL;
    rt_status st = rt_sequential_new(&m, NULL);
    if (st != RT_OK) return rtb_raise_status(cx, st, "Sequential()");
    size_t n = args[0].type == LANG_LIST ? lang_list_len(args[0]) : 0;
    for (size_t i = 0; i < n; i++) {
        lang_value l = lang_list_get(args[0], i);
        if (!lang_object_ptr(l, &rtb_layer_type)) {
            rt_model_release(m);
            return lang_raise(cx, "TypeError", "Sequential() expects a list of layers, but item "
                              "%zu is %s", i, lang_value_type_name(l));
        }
        if (!rtb_layer_add(cx, m, l)) { rt_model_release(m); return false; }
    }
    return wrap_ret(cx, m, ret);
}

/* Keras refuses a top whose declared input shape differs from the
 * backbone's output; say both shapes. */
static bool fits(lang_ctx *cx, rt_model *bb, rt_model *top)
{
    int bn, tn;
    int64_t bs[3], ts[3];
    char a[96], b[96];
    rt_model_output_shape(bb, &bn, bs);
    rt_model_input_shape(top, &tn, ts);
    bool same = tn == bn;
    for (int i = 0; same && i < tn; i++) same = ts[i] == bs[i];
    if (!tn || same) return true;
    return lang_raise(cx, "ValueError", "Model(): the backbone %s gives outputs of shape %s but "
                      "the top %s expects inputs of shape %s (its first layer's input_shape)",
                      rt_model_name(bb), rt_shape_format(bn, bs, a, sizeof a), rt_model_name(top),
                      rt_shape_format(tn, ts, b, sizeof b));
}

NATIVE(bi_model)
{
    (void)self; (void)nargs;
    rt_model *bb = self_model(args[0]), *top = self_model(args[1]), *m = NULL;
    if (bb == top) return lang_raise(cx, "ValueError", "Model() needs two different models");
    if (!rt_model_is_built(bb))
        return lang_raise(cx, "ValueError", "Model(): the backbone %s has no input shape yet",
                          rt_model_name(bb));
    if (!fits(cx, bb, top)) return false;
    int n;
    int64_t s[3];
    char b[96];
    rt_model_output_shape(bb, &n, s);
    /* Build the top first: its own message says which layer cannot take
     * the backbone's output. */
    rt_status st = rt_model_build(top, n, s);
    if (st != RT_OK)
        return lang_raise(cx, st == RT_ERR_NOMEM ? "MemoryError" : "ValueError", "Model(): the "
                          "top %s cannot take the outputs of the backbone %s, of shape %s: %s",
                          rt_model_name(top), rt_model_name(bb), rt_shape_format(n, s, b, sizeof b),
                          rt_error_message());
    st = rt_composed_new(&m, bb, top);
    if (st != RT_OK) return rtb_raise_status(cx, st, "Model()");
    return wrap_ret(cx, m, ret);
}

/* ---- methods ---- */

NATIVE(m_add)
{
    (void)nargs; (void)ret;
    rt_model *m = self_model(self);
    if (rt_model_kind_get(m) != RT_MODEL_SEQUENTIAL)
        return lang_raise(cx, "TypeError", "add() works on a Sequential model; %s is a %s model",
                          rt_model_name(m), kind_name(m));
    rt_device_touch();
    return rtb_layer_add(cx, m, args[0]);
}

NATIVE(m_summary)
{
    (void)args; (void)nargs; (void)ret;
    char *text = NULL;
    rt_status st = rt_model_summary(self_model(self), &text);
    if (st != RT_OK) return rtb_raise_status(cx, st, "summary()");
    sink_write(lang_ctx_sink(cx), "stdout", text, strlen(text));
    free(text);
    return true;
}

NATIVE(m_count_params)
{
    (void)cx; (void)args; (void)nargs;
    int64_t total, trainable;
    rt_model_param_counts(self_model(self), &total, &trainable);
    *ret = lang_int(total);
    return true;
}

NATIVE(m_save_weights)
{
    (void)nargs; (void)ret;
    rt_model *m = self_model(self);
    rt_status st = rt_model_weights_save(m, lang_string_cstr(args[0]));
    return st == RT_OK || rtb_raise_status(cx, st, "save_weights()");
}

NATIVE(m_load_weights)
{
    (void)nargs; (void)ret;
    char found[4096];
    const char *path = lang_string_cstr(args[0]);
    if (!lang_ctx_find_file(cx, path, found, sizeof found))
        return lang_raise(cx, "FileNotFoundError", "load_weights(): cannot read '%s': %s", path,
                          strerror(ENOENT));
    rt_device_touch();
    rt_status st = rt_model_weights_load(self_model(self), found, args[1].as.b, NULL);
    return st == RT_OK || rtb_raise_status(cx, st, "load_weights()");
}

/* ---- properties ---- */

static bool get_layers(lang_ctx *cx, lang_value self, lang_value *ret)
{
    rt_model *m = self_model(self);
    int n = layer_count(m);
    *ret = lang_list_new((size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) {
        lang_value l = rtb_layer_attached(m, i);
        if (l.type != LANG_OBJ || !lang_list_push(*ret, l))
            return lang_raise(cx, "MemoryError", "out of memory listing layers");
    }
    return true;
}

static bool get_name(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    *ret = lang_string_from(rt_model_name(self_model(self)));
    return true;
}

static bool get_trainable(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    *ret = lang_bool(rt_model_trainable_flag(self_model(self)));
    return true;
}

static bool set_trainable(lang_ctx *cx, lang_value self, lang_value v)
{
    if (v.type != LANG_BOOL)
        return lang_raise(cx, "TypeError", "trainable expects a bool, got %s",
                          lang_value_type_name(v));
    rt_model_trainable_set(self_model(self), v.as.b);
    return true;
}

static bool shape_list(rt_model *m, bool input, lang_value *ret)
{
    int n;
    int64_t s[3];
    if (input) rt_model_input_shape(m, &n, s);
    else rt_model_output_shape(m, &n, s);
    if (!n || (!input && !rt_model_is_built(m))) return true;
    *ret = lang_list_new(4);
    lang_list_push(*ret, lang_null());
    for (int i = 0; i < n; i++) lang_list_push(*ret, lang_int(s[i]));
    return true;
}

static bool get_input_shape(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    return shape_list(self_model(self), true, ret);
}

static bool get_output_shape(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    return shape_list(self_model(self), false, ret);
}

static const lang_method model_methods[] = {
    {"void add(layer layer)", m_add, "Append a layer to a Sequential model."},
    {"void compile(any optimizer = \"adam\", string loss = \"binary_crossentropy\", "
     "any metrics = \"accuracy\")", rtb_model_compile,
     "Prepare for training: optimizer Adam(...)/SGD(...) (or \"adam\", \"sgd\"), loss "
     "\"binary_crossentropy\" or \"categorical_crossentropy\", metrics \"accuracy\". Compile "
     "again after changing which layers are trainable (this restarts the optimizer)."},
    {"history fit(generator x, int epochs = 1, int steps_per_epoch = 0, "
     "generator validation_data = null, int validation_steps = 0, int verbose = 1)", rtb_model_fit,
     "Train on batches from a generator; returns the history (loss, acc, val_loss, val_acc per "
     "epoch). steps 0: one pass over the images per epoch. Validation images are never "
     "augmented. verbose 0: silent, 1: one line per epoch. Interrupting stops between batches "
     "and keeps what was trained."},
    {"list evaluate(generator x, int steps = 0)", rtb_model_evaluate,
     "{loss, accuracy} over `steps` batches (0: all) without augmentation or dropout."},
    {"any predict(any x)", rtb_model_predict,
     "The model's output for one image or tensor (h, w, c) - a float for a single sigmoid "
     "output - or for a batch (n, h, w, c): a tensor (n, outputs). Rescale as for training "
     "(e.g. img / 255.0)."},
    {"void summary()", m_summary, "Print the layers, their output shapes and parameter counts."},
    {"int count_params()", m_count_params, "The number of weights."},
    {"void save_weights(string path)", m_save_weights,
     "Write the weights to a Keras-compatible HDF5 file."},
    {"void load_weights(string path, bool by_name = false)", m_load_weights,
     "Read weights from a Keras HDF5 file: in layer order, or matching layer names."},
    {NULL, NULL, NULL},
};

static const lang_property model_props[] = {
    {"layers", "list", get_layers, NULL, "The model's layers, in Keras' order (Model(backbone, "
     "top): the backbone's layers, then the top as one entry)."},
    {"name", "string", get_name, NULL, "Keras' name of the model."},
    {"trainable", "bool", get_trainable, set_trainable, "Setting it sets every layer's flag."},
    {"input_shape", "list", get_input_shape, NULL, "{null, h, w, c}; null until known."},
    {"output_shape", "list", get_output_shape, NULL, "{null, ...}; null until built."},
    {NULL, NULL, NULL, NULL, NULL},
};

const lang_type rtb_model_type = {
    .name = "model",
    .doc = "A Keras model: InceptionV3(), MobileNet(), SmallCNN(), Sequential() or "
           "Model(backbone, top). compile() it, fit() it on a generator, predict().",
    .free = model_release, .repr = model_repr, .summary = model_repr,
    .methods = model_methods, .properties = model_props,
};

void rtb_model_register(void)
{
    lang_type_register(&rtb_model_type);
    lang_builtin_register("model InceptionV3(any weights = \"imagenet\", bool include_top = false, "
        "list input_shape = null)", bi_inception,
        "Keras' InceptionV3 without its classifier (output 8 x 8 x 2048 for 299 x 299 inputs). "
        "weights: \"imagenet\" (Keras' file, found in the data path), a .h5 path, or null for "
        "random weights. input_shape defaults to {299, 299, 3}.");
    lang_builtin_register("model MobileNet(float alpha = 1.0, any weights = \"imagenet\", "
        "bool include_top = false, list input_shape = null)", bi_mobilenet,
        "Keras' MobileNet v1 without its classifier; alpha 0.25, 0.5, 0.75 or 1.0 scales its "
        "width. weights as for InceptionV3; input_shape defaults to {224, 224, 3}.");
    lang_builtin_register("model SmallCNN(list input_shape = {64, 64, 3}, int blocks = 3, "
        "int filters = 16, int dense_units = 64, int outputs = 1)", bi_small_cnn,
        "A small convolutional network to train from scratch: `blocks` of Conv2D + "
        "MaxPooling2D (filters doubling), Flatten, Dense(dense_units, relu), Dropout(0.5), "
        "Dense(outputs, sigmoid or softmax).");
    lang_builtin_register("model Sequential(list layers = null)", bi_sequential,
        "An empty stack of layers (or these layers); add more with add().");
    lang_builtin_register("model Model(model backbone, model top)", bi_model,
        "The backbone followed by the top (a Sequential built on the backbone's output).");
}
