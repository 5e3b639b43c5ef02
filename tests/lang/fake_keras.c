/*
 * fake_keras.c - a stand-in for the runtime's bindings, just enough to run
 * the module's cells (DESIGN.md, "What the user sees") through the binding
 * interface in golden tests: every object is a named record that prints
 * what was done to it. Registered by `golden --fake-keras`.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lang.h"
#include "rt_bind.h"

typedef struct fake { char desc[160]; bool trainable; lang_value layers; } fake;

static void fake_free(void *p)
{
    fake *f = p;
    lang_value_decref(f->layers);
    free(f);
}

static char *fake_repr(void *p) { return strdup(((fake *)p)->desc); }

#define FAKE_TYPE(var, tname, ...) \
    static const lang_type var = { .name = tname, .free = fake_free, .repr = fake_repr, __VA_ARGS__ }

static const lang_method model_methods[], augmenter_methods[];
static const lang_property model_props[], layer_props[];
static bool image_div(lang_ctx *cx, const char *op, lang_value x, lang_value y, lang_value *ret);
FAKE_TYPE(image_t, "image", .doc = "An image.", .binary = image_div);
FAKE_TYPE(augmenter_t, "augmenter", .methods = augmenter_methods);
FAKE_TYPE(generator_t, "generator", .doc = "Batches of images.");
FAKE_TYPE(layer_t, "layer", .properties = layer_props);
FAKE_TYPE(model_t, "model", .methods = model_methods, .properties = model_props);
FAKE_TYPE(history_t, "history", .doc = "Training curves.");
FAKE_TYPE(optimizer_t, "optimizer", .doc = "An optimizer.");

static lang_value make(const lang_type *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static lang_value make(const lang_type *t, const char *fmt, ...)
{
    fake *f = calloc(1, sizeof *f);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->desc, sizeof f->desc, fmt, ap);
    va_end(ap);
    f->trainable = true;
    f->layers = lang_null();
    return lang_object_new(t, f, sizeof *f);
}

#define NATIVE(name) static bool name(lang_ctx *cx, lang_value self, \
    const lang_value *a, int n, lang_value *ret)
#define QUIET (void)cx; (void)self; (void)n

NATIVE(load_image)
{
    QUIET;
    *ret = make(&image_t, "<image %lldx%lld from %s>", (long long)a[1].as.i, (long long)a[2].as.i,
                lang_string_cstr(a[0]));
    return true;
}

NATIVE(show)
{
    QUIET;
    (void)ret;
    char *s = lang_value_str(a[0]);
    sink_printf(lang_ctx_sink(cx), "stdout", "[show %s: %s]\n", s, lang_string_cstr(a[1]));
    free(s);
    return true;
}

NATIVE(image_data_generator)
{
    QUIET;
    *ret = make(&augmenter_t, "<augmenter rescale=%g flip=%s>", a[0].as.f, a[6].as.b ? "yes" : "no");
    return true;
}

NATIVE(flow)
{
    QUIET;
    lang_value size = a[1];
    *ret = make(&generator_t, "<generator %s %lldx%lld batch %lld>", lang_string_cstr(a[0]),
                (long long)lang_list_get(size, 0).as.i, (long long)lang_list_get(size, 1).as.i,
                (long long)a[2].as.i);
    return true;
}

NATIVE(inception)
{
    QUIET;
    *ret = make(&model_t, "<model InceptionV3 top=%s>", a[1].as.b ? "yes" : "no");
    fake *f = lang_object_ptr(*ret, &model_t);
    f->layers = lang_list_new(3);
    for (int i = 0; i < 3; i++) lang_list_push(f->layers, make(&layer_t, "<layer conv%d>", i));
    return true;
}

NATIVE(sequential) { QUIET; (void)a; *ret = make(&model_t, "<model Sequential>"); return true; }
NATIVE(gap) { QUIET; (void)a; *ret = make(&layer_t, "<layer GlobalAveragePooling2D>"); return true; }

NATIVE(dense)
{
    QUIET;
    if (a[0].as.i <= 0)
        return lang_raise(cx, "ValueError", "Dense() expects units to be a positive int, got %lld",
                          (long long)a[0].as.i);
    *ret = make(&layer_t, "<layer Dense %lld %s>", (long long)a[0].as.i, lang_string_cstr(a[1]));
    return true;
}

NATIVE(dropout) { QUIET; *ret = make(&layer_t, "<layer Dropout %g>", a[0].as.f); return true; }
NATIVE(model_new) { QUIET; (void)a; *ret = make(&model_t, "<model combined>"); return true; }
NATIVE(adam) { QUIET; *ret = make(&optimizer_t, "<Adam lr=%g>", a[0].as.f); return true; }

NATIVE(plot)
{
    QUIET;
    (void)ret;
    char *s = lang_value_str(a[0]);
    sink_printf(lang_ctx_sink(cx), "stdout", "[plot %s]\n", s);
    free(s);
    return true;
}

NATIVE(model_add)
{
    QUIET;
    (void)ret;
    fake *m = lang_object_ptr(self, &model_t);
    if (m->layers.type != LANG_LIST) m->layers = lang_list_new(4);
    lang_value_incref(a[0]);
    lang_list_push(m->layers, a[0]);
    return true;
}

NATIVE(model_compile)
{
    QUIET;
    (void)ret;
    char *o = lang_value_str(a[0]);
    sink_printf(lang_ctx_sink(cx), "stdout", "compiled with %s, %s, %s\n", o,
                lang_string_cstr(a[1]), lang_string_cstr(a[2]));
    free(o);
    return true;
}

NATIVE(model_fit)
{
    QUIET;
    *ret = make(&history_t, "<history %lld epochs>", (long long)a[1].as.i);
    return true;
}

NATIVE(model_predict) { QUIET; (void)a; *ret = lang_float(0.75); return true; }

static bool layers_get(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    fake *m = lang_object_ptr(self, &model_t);
    *ret = m->layers.type == LANG_LIST ? m->layers : lang_list_new(0);
    if (m->layers.type == LANG_LIST) lang_value_incref(*ret);
    return true;
}

static bool trainable_get(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    *ret = lang_bool(((fake *)lang_object_ptr(self, NULL))->trainable);
    return true;
}

static bool trainable_set(lang_ctx *cx, lang_value self, lang_value v)
{
    if (v.type != LANG_BOOL) return lang_raise(cx, "TypeError", "trainable expects a bool, got %s", lang_value_type_name(v));
    ((fake *)lang_object_ptr(self, NULL))->trainable = v.as.b;
    return true;
}

static const lang_method augmenter_methods[] = {
    {"generator flow_from_directory(string directory, list target_size = {256, 256}, "
     "int batch_size = 32, string class_mode = \"binary\")", flow, "Batches from a directory."},
    {NULL, NULL, NULL},
};

static const lang_method model_methods[] = {
    {"void add(layer l)", model_add, "Add a layer."},
    {"void compile(optimizer optimizer, string loss, string metrics = \"accuracy\")", model_compile, "Prepare training."},
    {"history fit(generator data, int epochs = 1, generator validation_data = null)", model_fit, "Train."},
    {"float predict(image x)", model_predict, "Predict one image."},
    {NULL, NULL, NULL},
};
static const lang_property model_props[] = {
    {"layers", "list", layers_get, NULL, "The layers."},
    {NULL, NULL, NULL, NULL, NULL},
};
static const lang_property layer_props[] = {
    {"trainable", "bool", trainable_get, trainable_set, "Whether training changes it."},
    {NULL, NULL, NULL, NULL, NULL},
};

static bool image_div(lang_ctx *cx, const char *op, lang_value x, lang_value y, lang_value *ret)
{
    if (strcmp(op, "/") != 0 || y.type != LANG_FLOAT)
        return lang_raise(cx, "TypeError", "an image can only be divided by a float");
    lang_value_incref(x);
    *ret = x;
    return true;
}

void fake_keras_register(void)
{
    rtb_disable();   /* these stand-ins take the runtime bindings' names */
    lang_type_register(&image_t);
    lang_type_register(&augmenter_t);
    lang_type_register(&generator_t);
    lang_type_register(&layer_t);
    lang_type_register(&model_t);
    lang_type_register(&history_t);
    lang_type_register(&optimizer_t);
    lang_builtin_register("image load_image(string path, int width = 299, int height = 299)", load_image, "Load a PNG.");
    lang_builtin_register("void show(image img, string title = \"\")", show, "Show an image.");
    lang_builtin_register("augmenter ImageDataGenerator(float rescale = 1, float shear_range = 0, "
                          "float zoom_range = 0, float rotation_range = 0, float width_shift_range = 0, "
                          "float height_shift_range = 0, bool horizontal_flip = false)",
                          image_data_generator, "Augmentation.");
    lang_builtin_register("layer GlobalAveragePooling2D()", gap, "Pooling.");
    lang_builtin_register("layer Dense(int units, string activation = \"linear\")", dense, "Dense layer.");
    lang_builtin_register("layer Dropout(float rate)", dropout, "Dropout.");
    lang_builtin_register("model InceptionV3(string weights = null, bool include_top = true)", inception, "InceptionV3.");
    lang_builtin_register("model Sequential()", sequential, "An empty model.");
    lang_builtin_register("model Model(model base, model top)", model_new, "Stack two models.");
    lang_builtin_register("optimizer Adam(float lr = 0.001)", adam, "Adam.");
    lang_builtin_register("void plot(history h)", plot, "Training curves.");
}
