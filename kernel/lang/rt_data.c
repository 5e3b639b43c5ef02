/*
 * rt_data.c - the data pipeline in the language: the `augmenter` type
 * (Keras' ImageDataGenerator: rescale and random transforms) and its
 * flow_from_directory(), which makes a `generator` (Keras'
 * DirectoryIterator: batches of images and labels from class folders).
 *
 * A generator owns its dataset and, once fit() or evaluate() asks for it,
 * an unaugmented twin over the same files (same classes, order and seed;
 * only rescale), because validation must see the real images.
 */
#include "rt_bind.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NATIVE(name) static bool name(lang_ctx *cx, lang_value self, \
    const lang_value *args, int nargs, lang_value *ret)

/* ---- augmenter ---- */

static void aug_release(void *p) { free(p); }

static char *aug_repr(void *p)
{
    const rtb_augmenter *g = p;
    const rt_augment *a = &g->a;
    char *s = malloc(400);
    if (!s) return NULL;
    int k = snprintf(s, 400, "<ImageDataGenerator");
#define ADD(cond, ...) if ((cond) && k < 400) k += snprintf(s + k, 400 - (size_t)k, __VA_ARGS__)
    ADD(a->rescale != 0, " rescale=%.6g", a->rescale);
    ADD(a->rotation_range != 0, " rotation_range=%g", a->rotation_range);
    ADD(a->width_shift_range != 0, " width_shift_range=%g", a->width_shift_range);
    ADD(a->height_shift_range != 0, " height_shift_range=%g", a->height_shift_range);
    ADD(a->shear_range != 0, " shear_range=%g", a->shear_range);
    ADD(a->zoom_lo != 1 || a->zoom_hi != 1, " zoom_range={%g, %g}", a->zoom_lo, a->zoom_hi);
    ADD(a->horizontal_flip, " horizontal_flip=true");
    ADD(a->vertical_flip, " vertical_flip=true");
    ADD(a->fill_mode == RT_FILL_CONSTANT, " fill_mode=\"constant\" cval=%g", a->cval);
    ADD(g->has_seed, " seed=%llu", (unsigned long long)g->seed);
    ADD(1, ">");
#undef ADD
    return s;
}

/* A shift range: a float below 1 is a fraction of the side, otherwise
 * pixels; an int is Keras' integer form (0..r-1 pixels either way). */
static bool shift_arg(lang_ctx *cx, const char *param, lang_value v, double *range, int *is_int)
{
    *is_int = v.type == LANG_INT;
    if (v.type == LANG_INT) *range = (double)v.as.i;
    else if (v.type == LANG_FLOAT) *range = v.as.f;
    else return lang_raise(cx, "TypeError", "ImageDataGenerator() expects %s to be a number, "
                           "got %s", param, lang_value_type_name(v));
    return true;
}

static bool zoom_arg(lang_ctx *cx, lang_value v, rt_augment *a)
{
    if (v.type == LANG_INT || v.type == LANG_FLOAT) {
        rt_augment_zoom_set(a, v.type == LANG_INT ? (double)v.as.i : v.as.f);
        return true;
    }
    lang_value lo = lang_list_get(v, 0), hi = lang_list_get(v, 1);
    bool num = (lo.type == LANG_INT || lo.type == LANG_FLOAT) &&
               (hi.type == LANG_INT || hi.type == LANG_FLOAT);
    if (v.type != LANG_LIST || lang_list_len(v) != 2 || !num)
        return lang_raise(cx, "TypeError", "ImageDataGenerator() expects zoom_range to be a "
                          "number z (zooming within [1 - z, 1 + z]) or {lo, hi}");
    a->zoom_lo = lo.type == LANG_INT ? (double)lo.as.i : lo.as.f;
    a->zoom_hi = hi.type == LANG_INT ? (double)hi.as.i : hi.as.f;
    return true;
}

NATIVE(bi_image_data_generator)
{
    (void)self; (void)nargs;
    static const char *const fills[] = { "nearest", "constant", NULL };
    rtb_augmenter g;
    memset(&g, 0, sizeof g);
    rt_augment *a = &g.a;
    rt_augment_init(a);
    if (args[0].type == LANG_FLOAT) a->rescale = args[0].as.f;
    a->rotation_range = args[1].as.f;
    a->shear_range = args[4].as.f;
    a->horizontal_flip = args[6].as.b;
    a->vertical_flip = args[7].as.b;
    a->cval = args[9].as.f;
    if (!shift_arg(cx, "width_shift_range", args[2], &a->width_shift_range, &a->width_shift_int) ||
        !shift_arg(cx, "height_shift_range", args[3], &a->height_shift_range,
                   &a->height_shift_int) ||
        !zoom_arg(cx, args[5], a) ||
        !rtb_check_choice(cx, "ImageDataGenerator()", "fill_mode", lang_string_cstr(args[8]), fills))
        return false;
    rt_fill_mode_parse(lang_string_cstr(args[8]), &a->fill_mode);
    rt_status st = rt_augment_check(a);
    if (st != RT_OK) return rtb_raise_status(cx, st, "ImageDataGenerator()");
    if (args[10].type == LANG_INT) {
        if (args[10].as.i < 0) return lang_raise(cx, "ValueError", "ImageDataGenerator() "
                                                 "expects seed >= 0");
        g.has_seed = 1;
        g.seed = (uint64_t)args[10].as.i;
    }
    rtb_augmenter *p = malloc(sizeof *p);
    if (!p) return lang_raise(cx, "MemoryError", "out of memory");
    *p = g;
    *ret = lang_object_new(&rtb_augmenter_type, p, sizeof *p);
    if (ret->type != LANG_OBJ) { free(p); return lang_raise(cx, "MemoryError", "out of memory"); }
    return true;
}

/* ---- generator ---- */

static void gen_release(void *p)
{
    rtb_generator *g = p;
    rt_dataset_free(g->ds);
    rt_dataset_free(g->plain);
    free(g->dir);
    free(g);
}

bool rtb_generator_augments(const rtb_generator *g)
{
    return rt_augment_is_random(&g->cfg.augment);
}

rt_dataset *rtb_generator_plain(lang_ctx *cx, rtb_generator *g)
{
    if (g->plain) return g->plain;
    rt_dataset_config c = g->cfg;
    int n = rt_dataset_class_count(g->ds);
    const char **names = malloc(sizeof *names * (size_t)(n ? n : 1));
    if (!names) { lang_raise(cx, "MemoryError", "out of memory"); return NULL; }
    for (int k = 0; k < n; k++) names[k] = rt_dataset_class_name(g->ds, k);
    double rescale = c.augment.rescale;
    rt_augment_init(&c.augment);
    c.augment.rescale = rescale;
    c.classes = names;
    c.n_classes = n;
    rt_status st = rt_dataset_new(g->dir, &c, &g->plain);
    free(names);
    if (st != RT_OK) { rtb_raise_status(cx, st, "validation data"); return NULL; }
    return g->plain;
}

/* "{'abd': 0, 'chst': 1}", as Keras prints class_indices. New string. */
static char *class_indices(const rt_dataset *ds)
{
    size_t cap = 16, k;
    int n = rt_dataset_class_count(ds);
    for (int i = 0; i < n; i++) cap += strlen(rt_dataset_class_name(ds, i)) + 20;
    char *s = malloc(cap);
    if (!s) return NULL;
    k = (size_t)snprintf(s, cap, "{");
    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s'%s': %d", i ? ", " : "",
                              rt_dataset_class_name(ds, i), i);
    snprintf(s + k, cap - k, "}");
    return s;
}

static const char *mode_name(rt_class_mode m)
{
    return m == RT_CLASS_BINARY ? "binary" : m == RT_CLASS_CATEGORICAL ? "categorical"
         : m == RT_CLASS_SPARSE ? "sparse" : "none";
}

static char *gen_repr(void *p)
{
    const rtb_generator *g = p;
    char *ci = class_indices(g->ds), *s = malloc(strlen(g->dir) + (ci ? strlen(ci) : 0) + 200);
    if (s)
        sprintf(s, "<generator %s: %d images in %d classes %s, %dx%dx%d, batch %d, %s%s>", g->dir,
                rt_dataset_size(g->ds), rt_dataset_class_count(g->ds), ci ? ci : "",
                g->cfg.target_h, g->cfg.target_w, g->cfg.channels, g->cfg.batch_size,
                mode_name(g->cfg.class_mode), rtb_generator_augments(g) ? ", augmented" : "");
    free(ci);
    return s;
}

static int64_t gen_length(void *p) { return rt_dataset_batch_count(((rtb_generator *)p)->ds); }

/* gen[b]: Keras' generator[b], as {x, y} tensors. */
static bool gen_item(lang_ctx *cx, void *p, int64_t b, lang_value *ret)
{
    rtb_generator *g = p;
    const rt_dataset_config *c = &g->cfg;
    int lw = rt_dataset_label_width(g->ds), n = 0;
    int64_t xs[4] = { c->batch_size, c->target_h, c->target_w, c->channels };
    int64_t ys[2] = { c->batch_size, lw };
    rt_tensor *x = NULL, *y = NULL, *xv = NULL, *yv = NULL;
    rt_status st = rt_tensor_new(&x, RT_DEVICE_CPU, 4, xs);
    if (st == RT_OK) st = rt_tensor_new(&y, RT_DEVICE_CPU, lw > 1 ? 2 : 1, ys);
    if (st == RT_OK) st = rt_dataset_batch_get(g->ds, (int)b, x->data, lw ? y->data : NULL, NULL, &n);
    if (st == RT_OK) st = rt_tensor_slice(&xv, x, 0, n);
    if (st == RT_OK) st = rt_tensor_slice(&yv, y, 0, n);
    rt_tensor_release(x);
    rt_tensor_release(y);
    if (st != RT_OK) {
        rt_tensor_release(xv);
        return rtb_raise_status(cx, st, "generator[i]");
    }
    *ret = lang_list_new(2);
    lang_list_push(*ret, rtb_tensor_wrap(xv));
    lang_list_push(*ret, rtb_tensor_wrap(yv));
    return true;
}

static bool seed_for(const rtb_augmenter *a, lang_value v, rt_dataset_config *c)
{
    bool has;
    if (v.type == LANG_INT) { c->has_seed = 1; c->seed = (uint64_t)v.as.i; return v.as.i >= 0; }
    if (a->has_seed) { c->has_seed = 1; c->seed = a->seed; return true; }
    c->seed = rtb_seed_next(&has);
    c->has_seed = has;
    return true;
}

static bool flow_config(lang_ctx *cx, const rtb_augmenter *a, const lang_value *args,
                        rt_dataset_config *c)
{
    static const char *const colors[] = { "rgb", "grayscale", "rgba", NULL };
    static const char *const modes[] = { "binary", "categorical", "sparse", NULL };
    static const char *const interps[] = { "nearest", "bilinear", NULL };
    const char *fn = "flow_from_directory()";
    int64_t ts[2];
    int n;
    rt_dataset_config_init(c);
    if (!rtb_int_list(cx, args[1], fn, "target_size", 2, 2, false, ts, &n) ||
        !rtb_check_choice(cx, fn, "color_mode", lang_string_cstr(args[2]), colors) ||
        !rtb_check_choice(cx, fn, "class_mode", lang_string_cstr(args[4]), modes) ||
        !rtb_check_choice(cx, fn, "interpolation", lang_string_cstr(args[8]), interps))
        return false;
    if (args[5].as.i < 1 || args[5].as.i > 4096)
        return lang_raise(cx, "ValueError", "%s expects batch_size to be a positive int, got %lld",
                          fn, (long long)args[5].as.i);
    if (!seed_for(a, args[7], c)) return lang_raise(cx, "ValueError", "%s expects seed >= 0", fn);
    const char *col = lang_string_cstr(args[2]), *mode = lang_string_cstr(args[4]);
    c->target_h = (int)ts[0];
    c->target_w = (int)ts[1];
    c->channels = col[0] == 'g' ? 1 : col[3] == 'a' ? 4 : 3;
    c->class_mode = mode[0] == 'b' ? RT_CLASS_BINARY : mode[0] == 'c' ? RT_CLASS_CATEGORICAL
                  : RT_CLASS_SPARSE;
    c->batch_size = (int)args[5].as.i;
    c->shuffle = args[6].as.b;
    c->interpolation = lang_string_cstr(args[8])[0] == 'b' ? RT_RESIZE_BILINEAR : RT_RESIZE_NEAREST;
    c->augment = a->a;
    return true;
}

/* The explicit class list (strings) into c; names borrowed from the list. */
static bool classes_arg(lang_ctx *cx, lang_value v, rt_dataset_config *c, const char ***names)
{
    *names = NULL;
    if (v.type != LANG_LIST) return true;
    size_t n = lang_list_len(v);
    *names = malloc(sizeof **names * (n ? n : 1));
    if (!*names) return lang_raise(cx, "MemoryError", "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (lang_list_get(v, i).type != LANG_STR) {
            free(*names);
            return lang_raise(cx, "TypeError", "flow_from_directory() expects classes to be a "
                              "list of folder names");
        }
        (*names)[i] = lang_string_cstr(lang_list_get(v, i));
    }
    c->classes = *names;
    c->n_classes = (int)n;
    return true;
}

static bool open_dataset(lang_ctx *cx, const char *dir,
                         const rt_dataset_config *c, rt_dataset **out)
{
    rt_status st = rt_dataset_new(dir, c, out);
    if (st == RT_OK) return true;
    if (st == RT_ERR_IO)
        return lang_raise(cx, "FileNotFoundError", "flow_from_directory(): %s", rt_error_message());
    return rtb_raise_status(cx, st, "flow_from_directory()");
}

NATIVE(m_flow)
{
    (void)nargs;
    const rtb_augmenter *a = lang_object_ptr(self, &rtb_augmenter_type);
    const char *given = lang_string_cstr(args[0]), **names;
    char dir[4096];
    rt_dataset_config c;
    rt_dataset *ds = NULL;
    if (!flow_config(cx, a, args, &c) || !classes_arg(cx, args[3], &c, &names)) return false;
    lang_ctx_find_file(cx, given, dir, sizeof dir);
    bool ok = open_dataset(cx, dir, &c, &ds);
    free(names);
    c.classes = NULL;
    c.n_classes = 0;
    rtb_generator *g = ok ? calloc(1, sizeof *g) : NULL;
    if (ok && (!g || !(g->dir = strdup(dir)))) {
        free(g);
        rt_dataset_free(ds);
        return lang_raise(cx, "MemoryError", "out of memory");
    }
    if (!ok) return false;
    g->ds = ds;
    g->cfg = c;
    *ret = lang_object_new(&rtb_generator_type, g, sizeof *g);
    if (ret->type != LANG_OBJ) { gen_release(g); return lang_raise(cx, "MemoryError", "out of memory"); }
    sink_printf(lang_ctx_sink(cx), "stdout", "Found %d images belonging to %d classes.\n",
                rt_dataset_size(ds), rt_dataset_class_count(ds));
    return true;
}

/* ---- generator properties ---- */

static rtb_generator *gen(lang_value self) { return lang_object_ptr(self, &rtb_generator_type); }

static bool get_class_indices(lang_ctx *cx, lang_value self, lang_value *ret)
{
    char *s = class_indices(gen(self)->ds);
    if (!s) return lang_raise(cx, "MemoryError", "out of memory");
    *ret = lang_string_from(s);
    free(s);
    return true;
}

static bool get_class_names(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    const rt_dataset *ds = gen(self)->ds;
    int n = rt_dataset_class_count(ds);
    *ret = lang_list_new((size_t)n);
    for (int i = 0; i < n; i++) lang_list_push(*ret, lang_string_from(rt_dataset_class_name(ds, i)));
    return true;
}

static bool get_filenames(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    const rt_dataset *ds = gen(self)->ds;
    int n = rt_dataset_size(ds);
    *ret = lang_list_new((size_t)n);
    for (int i = 0; i < n; i++) lang_list_push(*ret, lang_string_from(rt_dataset_filename(ds, i)));
    return true;
}

static bool get_labels(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    const rt_dataset *ds = gen(self)->ds;
    int n = rt_dataset_size(ds);
    *ret = lang_list_new((size_t)n);
    for (int i = 0; i < n; i++) lang_list_push(*ret, lang_int(rt_dataset_label(ds, i)));
    return true;
}

#define GEN_INT(fn, expr) \
    static bool fn(lang_ctx *cx, lang_value self, lang_value *ret) \
    { (void)cx; const rtb_generator *g = gen(self); *ret = lang_int(expr); return true; }
GEN_INT(get_samples, rt_dataset_size(g->ds))
GEN_INT(get_batch_size, g->cfg.batch_size)
GEN_INT(get_num_classes, rt_dataset_class_count(g->ds))

static bool get_directory(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    *ret = lang_string_from(gen(self)->dir);
    return true;
}

static const lang_property gen_props[] = {
    {"class_indices", "string", get_class_indices, NULL,
     "Each class folder and its label, e.g. {'abd': 0, 'chst': 1} (folders in sorted order)."},
    {"class_names", "list", get_class_names, NULL, "The class folders, in label order."},
    {"classes", "list", get_labels, NULL, "The label of every image, in file order."},
    {"filenames", "list", get_filenames, NULL, "Every image, relative to the directory."},
    {"samples", "int", get_samples, NULL, "The number of images."},
    {"batch_size", "int", get_batch_size, NULL, "Images per batch."},
    {"num_classes", "int", get_num_classes, NULL, "The number of classes."},
    {"directory", "string", get_directory, NULL, "The folder read."},
    {NULL, NULL, NULL, NULL, NULL},
};

const lang_type rtb_generator_type = {
    .name = "generator",
    .doc = "Batches of images and labels from class folders, made by flow_from_directory(); "
           "pass it to fit(). gen[i] is batch i as {images, labels}.",
    .free = gen_release, .repr = gen_repr, .summary = gen_repr,
    .length = gen_length, .item = gen_item, .properties = gen_props,
};

static const lang_method aug_methods[] = {
    {"generator flow_from_directory(string directory, list target_size = {299, 299}, "
     "string color_mode = \"rgb\", list classes = null, string class_mode = \"binary\", "
     "int batch_size = 32, bool shuffle = true, int seed = null, "
     "string interpolation = \"nearest\")", m_flow,
     "Batches from `directory`, one subfolder per class (sorted: the first is label 0). "
     "Images are resized to target_size {height, width}, randomly transformed and rescaled as "
     "this ImageDataGenerator says. A relative directory is also looked up in the data path."},
    {NULL, NULL, NULL},
};

const lang_type rtb_augmenter_type = {
    .name = "augmenter",
    .doc = "Keras' ImageDataGenerator: how images are rescaled and randomly transformed. "
           "flow_from_directory() reads images with it.",
    .free = aug_release, .repr = aug_repr, .summary = aug_repr, .methods = aug_methods,
};

void rtb_data_register(void)
{
    lang_type_register(&rtb_augmenter_type);
    lang_type_register(&rtb_generator_type);
    lang_builtin_register("augmenter ImageDataGenerator(float rescale = null, "
        "float rotation_range = 0.0, any width_shift_range = 0.0, any height_shift_range = 0.0, "
        "float shear_range = 0.0, any zoom_range = 0.0, bool horizontal_flip = false, "
        "bool vertical_flip = false, string fill_mode = \"nearest\", float cval = 0.0, "
        "int seed = null)", bi_image_data_generator,
        "Keras' image augmentation: rescale multiplies pixels (1.0/255 gives 0..1); "
        "rotation_range and shear_range in degrees; shift ranges as a fraction of the side "
        "(or pixels); zoom_range z zooms within [1 - z, 1 + z]; flips at random; fill_mode "
        "\"nearest\" or \"constant\" (with cval). seed makes it reproducible.");
}
