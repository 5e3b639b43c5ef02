/*
 * rt_tensor.c - the `tensor` type: runtime tensors in the language, with
 * numpy-style broadcasting arithmetic (x / 255.0, a + b), indexing on the
 * first axis (x[0]), shape, reductions, and the builtins array(), zeros(),
 * ones(). Values are float32; arithmetic always makes a new tensor.
 */
#include "rt_bind.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NATIVE(name) static bool name(lang_ctx *cx, lang_value self, \
    const lang_value *args, int nargs, lang_value *ret)
#define UNUSED (void)cx; (void)self; (void)args; (void)nargs; (void)ret

/* A growing text buffer for reprs. */
typedef struct tbuf { char *p; size_t n, cap; } tbuf;

static void tb_printf(tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(tbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if (b->n + (size_t)k + 1 > b->cap) {
        size_t cap = (b->n + (size_t)k + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) return;
        b->p = p;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

static void tensor_release(void *p) { rt_tensor_release(p); }

lang_value rtb_tensor_wrap(rt_tensor *t)
{
    lang_value v = lang_object_new(&rtb_tensor_type, t, 0);
    if (v.type != LANG_OBJ) rt_tensor_release(t);
    return v;
}

static bool wrap_ret(lang_ctx *cx, rt_tensor *t, lang_value *ret)
{
    *ret = rtb_tensor_wrap(t);
    return ret->type == LANG_OBJ || lang_raise(cx, "MemoryError", "out of memory");
}

/* ---- printing ---- */

static void write_axis(tbuf *b, const rt_tensor *t, int axis, int64_t off, int *budget)
{
    int64_t n = t->shape[axis], inner = 1;
    for (int i = axis + 1; i < t->ndim; i++) inner *= t->shape[i];
    tb_printf(b, "[");
    for (int64_t i = 0; i < n; i++) {
        int edge = t->ndim >= 3 ? 2 : 3;
        if (n > 2 * edge && i == edge) { tb_printf(b, "..., "); i = n - edge; }
        if (*budget <= 0) { tb_printf(b, "..."); break; }
        if (axis == t->ndim - 1) {
            tb_printf(b, "%.5g", (double)t->data[off + i]);
            (*budget)--;
        } else {
            write_axis(b, t, axis + 1, off + i * inner, budget);
        }
        if (i + 1 < n) tb_printf(b, ", ");
    }
    tb_printf(b, "]");
}

static char *tensor_repr(void *p)
{
    rt_tensor *t = p;
    char shape[128];
    tbuf b = {0};
    rt_shape_format(t->ndim, t->shape, shape, sizeof shape);
    if (t->device != RT_DEVICE_CPU) {
        tb_printf(&b, "tensor %s on %s", shape, rt_device_name(t->device));
    } else if (t->ndim == 0) {
        tb_printf(&b, "tensor () %.5g", (double)t->data[0]);
    } else {
        int budget = 24;
        tb_printf(&b, "tensor %s ", shape);
        if (t->numel) write_axis(&b, t, 0, 0, &budget);
        else tb_printf(&b, "[]");
    }
    return b.p ? b.p : strdup("tensor");
}

static void tensor_minmax(const rt_tensor *t, double *lo, double *hi, double *sum)
{
    *lo = INFINITY; *hi = -INFINITY; *sum = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        double x = t->data[i];
        if (x < *lo) *lo = x;
        if (x > *hi) *hi = x;
        *sum += x;
    }
}

static char *tensor_summary(void *p)
{
    rt_tensor *t = p;
    char shape[128], *s = malloc(256);
    if (!s) return NULL;
    rt_shape_format(t->ndim, t->shape, shape, sizeof shape);
    if (t->device != RT_DEVICE_CPU || !t->numel) {
        snprintf(s, 256, "tensor %s float32", shape);
        return s;
    }
    double lo, hi, sum;
    tensor_minmax(t, &lo, &hi, &sum);
    snprintf(s, 256, "tensor %s float32, min %.4g, max %.4g, mean %.4g", shape, lo, hi,
             sum / (double)t->numel);
    return s;
}

/* ---- sequence: x[i] is a row (a view) or, for a vector, a float ---- */

static int64_t tensor_length(void *p)
{
    rt_tensor *t = p;
    return t->ndim ? t->shape[0] : 0;
}

static bool tensor_item(lang_ctx *cx, void *p, int64_t i, lang_value *ret)
{
    rt_tensor *t = p, *row = NULL, *view = NULL;
    if (t->device != RT_DEVICE_CPU)
        return lang_raise(cx, "RuntimeError", "index a tensor on the CPU (this one is on %s)",
                          rt_device_name(t->device));
    if (t->ndim == 1) { *ret = lang_float(t->data[i]); return true; }
    rt_status st = rt_tensor_slice(&row, t, i, 1);
    if (st == RT_OK) st = rt_tensor_reshape(&view, row, t->ndim - 1, t->shape + 1);
    rt_tensor_release(row);
    if (st != RT_OK) return rtb_raise_status(cx, st, "indexing a tensor");
    return wrap_ret(cx, view, ret);
}

/* ---- arithmetic ---- */

static float apply_op(char op, float a, float b)
{
    switch (op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    default: return a / b;
    }
}

/* numpy broadcasting: dims aligned on the right, each pair equal or 1. */
static bool broadcast_shape(lang_ctx *cx, const rt_tensor *a, const rt_tensor *b, int *nd,
                            int64_t *shape)
{
    *nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < *nd; i++) {
        int ia = a->ndim - *nd + i, ib = b->ndim - *nd + i;
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[96], sb[96];
            rt_shape_format(a->ndim, a->shape, sa, sizeof sa);
            rt_shape_format(b->ndim, b->shape, sb, sizeof sb);
            return lang_raise(cx, "ValueError", "cannot combine tensors of shapes %s and %s: "
                              "each dimension, counted from the right, must be equal or 1",
                              sa, sb);
        }
        shape[i] = da > db ? da : db;
    }
    return true;
}

/* Offset into t of the output element whose multi-index is idx (nd dims). */
static int64_t bcast_offset(const rt_tensor *t, int nd, const int64_t *idx)
{
    int64_t off = 0;
    for (int i = 0; i < t->ndim; i++) {
        int64_t d = t->shape[i], k = idx[nd - t->ndim + i];
        off = off * d + (d == 1 ? 0 : k);
    }
    return off;
}

static bool tensor_op(lang_ctx *cx, char op, const rt_tensor *a, const rt_tensor *b,
                      lang_value *ret)
{
    int nd;
    int64_t shape[RT_MAX_DIMS], idx[RT_MAX_DIMS] = {0};
    if (!broadcast_shape(cx, a, b, &nd, shape)) return false;
    rt_tensor *o = NULL;
    rt_status st = rt_tensor_new(&o, RT_DEVICE_CPU, nd, shape);
    if (st != RT_OK) return rtb_raise_status(cx, st, "tensor arithmetic");
    bool same = rt_tensor_same_shape(a, b);
    for (int64_t i = 0; i < o->numel; i++) {
        if (same) { o->data[i] = apply_op(op, a->data[i], b->data[i]); continue; }
        o->data[i] = apply_op(op, a->data[bcast_offset(a, nd, idx)],
                              b->data[bcast_offset(b, nd, idx)]);
        for (int k = nd - 1; k >= 0 && ++idx[k] == shape[k]; k--) idx[k] = 0;
    }
    return wrap_ret(cx, o, ret);
}

static bool scalar_op(lang_ctx *cx, char op, const rt_tensor *t, double s, bool scalar_left,
                      lang_value *ret)
{
    rt_tensor *o = NULL;
    rt_status st = rt_tensor_new(&o, RT_DEVICE_CPU, t->ndim, t->shape);
    if (st != RT_OK) return rtb_raise_status(cx, st, "tensor arithmetic");
    float f = (float)s;
    for (int64_t i = 0; i < t->numel; i++)
        o->data[i] = scalar_left ? apply_op(op, f, t->data[i]) : apply_op(op, t->data[i], f);
    return wrap_ret(cx, o, ret);
}

static bool is_number(lang_value v) { return v.type == LANG_INT || v.type == LANG_FLOAT; }
static double number(lang_value v) { return v.type == LANG_INT ? (double)v.as.i : v.as.f; }

static bool operand(lang_value v)
{
    return is_number(v) || lang_object_ptr(v, &rtb_tensor_type) || lang_object_ptr(v, &rtb_image_type);
}

/* Shared by tensor and image: either side may be a tensor, an image or a
 * number. Returns false without raising for operators it does not know
 * (the language then reports them, or compares identity for ==). */
bool rtb_arith(lang_ctx *cx, const char *op, lang_value a, lang_value b, lang_value *ret)
{
    if (strlen(op) != 1 || !strchr("+-*/", op[0])) {
        if (strcmp(op, "==") == 0 || strcmp(op, "!=") == 0) return false;
        return lang_raise(cx, "TypeError", "cannot apply '%s' to %s and %s (tensors support "
                          "+ - * /)", op, lang_value_type_name(a), lang_value_type_name(b));
    }
    rt_tensor *ta = NULL, *tb = NULL;
    bool ok;
    if (!operand(a) || !operand(b))
        return lang_raise(cx, "TypeError", "cannot apply '%s' to %s and %s", op,
                          lang_value_type_name(a), lang_value_type_name(b));
    if (is_number(a) || is_number(b)) {
        bool left = is_number(a);
        if (!rtb_tensor_from_value(cx, left ? b : a, "arithmetic", "an operand", &ta))
            return false;
        ok = scalar_op(cx, op[0], ta, number(left ? a : b), left, ret);
    } else {
        ok = rtb_tensor_from_value(cx, a, "arithmetic", "an operand", &ta) &&
             rtb_tensor_from_value(cx, b, "arithmetic", "an operand", &tb) &&
             tensor_op(cx, op[0], ta, tb, ret);
    }
    rt_tensor_release(ta);
    rt_tensor_release(tb);
    return ok;
}

/* ---- properties and methods ---- */

static bool get_shape(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    rt_tensor *t = lang_object_ptr(self, &rtb_tensor_type);
    *ret = lang_list_new((size_t)t->ndim + 1);
    for (int i = 0; i < t->ndim; i++) lang_list_push(*ret, lang_int(t->shape[i]));
    return true;
}

static bool get_ndim(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    *ret = lang_int(((rt_tensor *)lang_object_ptr(self, &rtb_tensor_type))->ndim);
    return true;
}

static bool get_size(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    *ret = lang_int(((rt_tensor *)lang_object_ptr(self, &rtb_tensor_type))->numel);
    return true;
}

static bool reduce(lang_ctx *cx, lang_value self, int what, lang_value *ret)
{
    rt_tensor *t = lang_object_ptr(self, &rtb_tensor_type);
    if (t->device != RT_DEVICE_CPU)
        return lang_raise(cx, "RuntimeError", "sum, mean, min and max work on a tensor on the "
                          "CPU (this one is on %s)", rt_device_name(t->device));
    if (!t->numel && what != 0)
        return lang_raise(cx, "ValueError", "the tensor is empty: it has no min, max or mean");
    double lo, hi, sum;
    tensor_minmax(t, &lo, &hi, &sum);
    *ret = lang_float(what == 0 ? sum : what == 1 ? sum / (double)t->numel : what == 2 ? lo : hi);
    return true;
}

NATIVE(t_sum) { (void)args; (void)nargs; return reduce(cx, self, 0, ret); }
NATIVE(t_mean) { (void)args; (void)nargs; return reduce(cx, self, 1, ret); }
NATIVE(t_min) { (void)args; (void)nargs; return reduce(cx, self, 2, ret); }
NATIVE(t_max) { (void)args; (void)nargs; return reduce(cx, self, 3, ret); }

NATIVE(t_reshape)
{
    (void)nargs;
    rt_tensor *t = lang_object_ptr(self, &rtb_tensor_type), *o = NULL;
    int64_t shape[RT_MAX_DIMS];
    size_t n = lang_list_len(args[0]);
    if (n > RT_MAX_DIMS) return lang_raise(cx, "ValueError", "reshape() takes at most %d dims",
                                           RT_MAX_DIMS);
    for (size_t i = 0; i < n; i++) {
        lang_value d = lang_list_get(args[0], i);
        if (d.type != LANG_INT) return lang_raise(cx, "TypeError", "reshape() expects a list "
                                                  "of ints (one may be -1)");
        shape[i] = d.as.i;
    }
    rt_status st = rt_tensor_reshape(&o, t, (int)n, shape);
    if (st != RT_OK) return rtb_raise_status(cx, st, "reshape()");
    return wrap_ret(cx, o, ret);
}

static lang_value to_list(const rt_tensor *t, int axis, int64_t off)
{
    int64_t n = t->shape[axis], inner = 1;
    for (int i = axis + 1; i < t->ndim; i++) inner *= t->shape[i];
    lang_value l = lang_list_new((size_t)n);
    for (int64_t i = 0; i < n && l.type == LANG_LIST; i++)
        lang_list_push(l, axis == t->ndim - 1 ? lang_float(t->data[off + i])
                                              : to_list(t, axis + 1, off + i * inner));
    return l;
}

NATIVE(t_tolist)
{
    (void)args; (void)nargs;
    rt_tensor *t = lang_object_ptr(self, &rtb_tensor_type);
    if (t->device != RT_DEVICE_CPU)
        return lang_raise(cx, "RuntimeError", "tolist() works on a tensor on the CPU (this one "
                          "is on %s)", rt_device_name(t->device));
    if (t->numel > 1000000)
        return lang_raise(cx, "ValueError", "tolist(): the tensor has %lld values; lists of "
                          "more than 1,000,000 are refused", (long long)t->numel);
    *ret = t->ndim ? to_list(t, 0, 0) : lang_float(t->data[0]);
    return true;
}

/* ---- builtins ---- */

/* The shape of a nested list of numbers, checked rectangular later. */
static bool list_shape(lang_ctx *cx, lang_value v, int *nd, int64_t *shape)
{
    *nd = 0;
    while (v.type == LANG_LIST) {
        if (*nd == RT_MAX_DIMS) return lang_raise(cx, "ValueError", "array(): more than %d "
                                                  "nested lists", RT_MAX_DIMS);
        shape[(*nd)++] = (int64_t)lang_list_len(v);
        if (!lang_list_len(v)) break;
        v = lang_list_get(v, 0);
    }
    return true;
}

static bool list_fill(lang_ctx *cx, lang_value v, int axis, int nd, const int64_t *shape,
                      float *dst, int64_t *k)
{
    if (axis == nd) {
        if (!is_number(v)) return lang_raise(cx, "TypeError", "array() expects numbers, got %s",
                                             lang_value_type_name(v));
        dst[(*k)++] = (float)number(v);
        return true;
    }
    if (v.type != LANG_LIST || (int64_t)lang_list_len(v) != shape[axis])
        return lang_raise(cx, "ValueError", "array() expects a rectangular list: every list at "
                          "depth %d must have %lld items", axis + 1, (long long)shape[axis]);
    for (int64_t i = 0; i < shape[axis]; i++)
        if (!list_fill(cx, lang_list_get(v, (size_t)i), axis + 1, nd, shape, dst, k))
            return false;
    return true;
}

NATIVE(bi_array)
{
    (void)self; (void)nargs;
    int nd = 0;
    int64_t shape[RT_MAX_DIMS] = {0}, k = 0;
    if (!is_number(args[0]) && args[0].type != LANG_LIST)
        return lang_raise(cx, "TypeError", "array() expects a number or a list of numbers, "
                          "got %s", lang_value_type_name(args[0]));
    if (!list_shape(cx, args[0], &nd, shape)) return false;
    rt_tensor *t = NULL;
    rt_status st = rt_tensor_new(&t, RT_DEVICE_CPU, nd, shape);
    if (st != RT_OK) return rtb_raise_status(cx, st, "array()");
    if (!list_fill(cx, args[0], 0, nd, shape, t->data, &k)) {
        rt_tensor_release(t);
        return false;
    }
    return wrap_ret(cx, t, ret);
}

static bool filled(lang_ctx *cx, lang_value shape_v, float value, const char *fn,
                   lang_value *ret)
{
    int64_t shape[RT_MAX_DIMS];
    size_t n = lang_list_len(shape_v);
    if (n > RT_MAX_DIMS) return lang_raise(cx, "ValueError", "%s takes at most %d dims", fn,
                                           RT_MAX_DIMS);
    for (size_t i = 0; i < n; i++) {
        lang_value d = lang_list_get(shape_v, i);
        if (d.type != LANG_INT || d.as.i < 0)
            return lang_raise(cx, "ValueError", "%s expects a shape of ints >= 0", fn);
        shape[i] = d.as.i;
    }
    rt_tensor *t = NULL;
    rt_status st = rt_tensor_new(&t, RT_DEVICE_CPU, (int)n, shape);
    if (st == RT_OK && value != 0) st = rt_tensor_fill(t, value);
    if (st != RT_OK) { rt_tensor_release(t); return rtb_raise_status(cx, st, fn); }
    return wrap_ret(cx, t, ret);
}

NATIVE(bi_zeros) { (void)self; (void)nargs; return filled(cx, args[0], 0.0f, "zeros()", ret); }
NATIVE(bi_ones) { (void)self; (void)nargs; return filled(cx, args[0], 1.0f, "ones()", ret); }

static const lang_method tensor_methods[] = {
    {"float sum()", t_sum, "The sum of all values."},
    {"float mean()", t_mean, "The mean of all values."},
    {"float min()", t_min, "The smallest value."},
    {"float max()", t_max, "The largest value."},
    {"tensor reshape(list shape)", t_reshape,
     "The same values in another shape (one dimension may be -1: inferred). Shares memory."},
    {"any tolist()", t_tolist, "The values as nested lists of floats."},
    {NULL, NULL, NULL},
};

static const lang_property tensor_props[] = {
    {"shape", "list", get_shape, NULL, "The dimensions, e.g. {8, 299, 299, 3} (batch, height, "
     "width, channels for images)."},
    {"ndim", "int", get_ndim, NULL, "The number of dimensions."},
    {"size", "int", get_size, NULL, "The number of values."},
    {NULL, NULL, NULL, NULL, NULL},
};

const lang_type rtb_tensor_type = {
    .name = "tensor",
    .doc = "An n-dimensional array of float32 values (images are height x width x channels). "
           "Arithmetic (+ - * /) works element by element with numbers and with tensors of "
           "compatible shapes (broadcasting, as numpy); x[i] is the i-th row.",
    .free = tensor_release, .repr = tensor_repr, .summary = tensor_summary,
    .length = tensor_length, .item = tensor_item,
    .methods = tensor_methods, .properties = tensor_props, .binary = rtb_arith,
};

void rtb_tensor_register(void)
{
    lang_type_register(&rtb_tensor_type);
    lang_builtin_register("tensor array(any values)", bi_array,
        "A tensor from a number or (nested) lists of numbers: array({{1, 2}, {3, 4}}).");
    lang_builtin_register("tensor zeros(list shape)", bi_zeros, "A tensor of zeros, e.g. zeros({2, 3}).");
    lang_builtin_register("tensor ones(list shape)", bi_ones, "A tensor of ones, e.g. ones({2, 3}).");
}
