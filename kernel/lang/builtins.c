/*
 * builtins.c - the core builtins, registered through the same interface
 * as the runtime's (bind.h), so that completion and Shift+Tab read their
 * signatures and docs from one table.
 */
#include "vm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *format_values(lang_ctx *cx, const char *fmt, const lang_value *args, int nargs,
                    int *used);

#define NATIVE(name) static bool name(lang_ctx *cx, lang_value self, \
    const lang_value *args, int nargs, lang_value *ret)
#define UNUSED (void)self; (void)nargs

static bool write_joined(lang_ctx *cx, const char *stream, const lang_value *args, int n)
{
    strbuf b = {0};
    for (int i = 0; i < n; i++) {
        if (i) sb_add(&b, " ", 1);
        val_write(&b, args[i], false, 0);
    }
    sb_add(&b, "\n", 1);
    if (b.oom) { free(b.p); return lang_raise(cx, "MemoryError", "out of memory"); }
    sink_write(lang_ctx_sink(cx), stream, b.p, b.len);
    free(b.p);
    return true;
}

NATIVE(bi_print) { UNUSED; (void)ret; return write_joined(cx, "stdout", args, nargs); }
NATIVE(bi_eprint) { UNUSED; (void)ret; return write_joined(cx, "stderr", args, nargs); }

NATIVE(bi_printf)
{
    UNUSED;
    (void)ret;
    int used = 0;
    char *s = format_values(cx, lang_string_cstr(args[0]), args + 1, nargs - 1, &used);
    if (!s) return false;
    bool ok = true;
    if (used < nargs - 1)
        ok = lang_raise(cx, "TypeError", "printf: the format has %d conversion%s but %d values "
                        "were given", used, used == 1 ? "" : "s", nargs - 1);
    else
        sink_write(lang_ctx_sink(cx), "stdout", s, strlen(s));
    free(s);
    return ok;
}

NATIVE(bi_format)
{
    UNUSED;
    int used = 0;
    char *s = format_values(cx, lang_string_cstr(args[0]), args + 1, nargs - 1, &used);
    if (!s) return false;
    if (used < nargs - 1) {
        free(s);
        return lang_raise(cx, "TypeError", "format: the format has %d conversion%s but %d "
                          "values were given", used, used == 1 ? "" : "s", nargs - 1);
    }
    *ret = lang_string_from(s);
    free(s);
    return true;
}

NATIVE(bi_len)
{
    UNUSED;
    lang_value v = args[0];
    const lang_type *t = lang_object_type(v);
    if (v.type == LANG_STR) *ret = lang_int((int64_t)AS_STR(v)->len);
    else if (v.type == LANG_LIST) *ret = lang_int((int64_t)AS_LIST(v)->len);
    else if (t && t->length) *ret = lang_int(t->length(AS_OBJ(v)->ptr));
    else return lang_raise(cx, "TypeError", "len() expects a string, a list or a sequence, got %s",
                           lang_value_type_name(v));
    return true;
}

NATIVE(bi_str)
{
    UNUSED;
    char *s = lang_value_str(args[0]);
    if (!s) return lang_raise(cx, "MemoryError", "out of memory");
    *ret = lang_string_from(s);
    free(s);
    return true;
}

NATIVE(bi_int)
{
    UNUSED;
    lang_value v = args[0];
    if (v.type == LANG_INT) { *ret = v; return true; }
    if (v.type == LANG_BOOL) { *ret = lang_int(v.as.b); return true; }
    if (v.type == LANG_FLOAT) {
        if (!(v.as.f > -9.2e18 && v.as.f < 9.2e18))
            return lang_raise(cx, "ValueError", "int() cannot convert %g to an int", v.as.f);
        *ret = lang_int((int64_t)v.as.f);
        return true;
    }
    if (v.type == LANG_STR) {
        const char *s = AS_STR(v)->data;
        char *end;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        while (*end == ' ' || *end == '\n') end++;
        if (end == s || *end || errno)
            return lang_raise(cx, "ValueError", "int() cannot read \"%.40s\" as a whole number", s);
        *ret = lang_int(n);
        return true;
    }
    return lang_raise(cx, "TypeError", "int() expects a number or a string, got %s",
                      lang_value_type_name(v));
}

NATIVE(bi_float)
{
    UNUSED;
    lang_value v = args[0];
    if (v.type == LANG_FLOAT) { *ret = v; return true; }
    if (v.type == LANG_INT) { *ret = lang_float((double)v.as.i); return true; }
    if (v.type == LANG_BOOL) { *ret = lang_float(v.as.b); return true; }
    if (v.type == LANG_STR) {
        const char *s = AS_STR(v)->data;
        char *end;
        double d = strtod(s, &end);
        while (*end == ' ' || *end == '\n') end++;
        if (end == s || *end)
            return lang_raise(cx, "ValueError", "float() cannot read \"%.40s\" as a number", s);
        *ret = lang_float(d);
        return true;
    }
    return lang_raise(cx, "TypeError", "float() expects a number or a string, got %s",
                      lang_value_type_name(v));
}

NATIVE(bi_bool)
{
    UNUSED;
    bool b;
    if (!val_truthy_ok(args[0], &b))
        return lang_raise(cx, "TypeError", "bool() expects a number or a bool, got %s",
                          lang_value_type_name(args[0]));
    *ret = lang_bool(b);
    return true;
}

NATIVE(bi_typeof)
{
    UNUSED;
    (void)cx;
    *ret = lang_string_from(lang_value_type_name(args[0]));
    return true;
}

static bool number_arg(lang_ctx *cx, const char *fn, lang_value v, double *out)
{
    if (v.type == LANG_INT) { *out = (double)v.as.i; return true; }
    if (v.type == LANG_FLOAT) { *out = v.as.f; return true; }
    return lang_raise(cx, "TypeError", "%s() expects a number, got %s", fn, lang_value_type_name(v));
}

NATIVE(bi_abs)
{
    UNUSED;
    lang_value v = args[0];
    if (v.type == LANG_INT) {
        if (v.as.i == INT64_MIN) return lang_raise(cx, "OverflowError", "abs() overflows");
        *ret = lang_int(v.as.i < 0 ? -v.as.i : v.as.i);
        return true;
    }
    double d = 0;
    if (!number_arg(cx, "abs", v, &d)) return false;
    *ret = lang_float(fabs(d));
    return true;
}

static bool math1(lang_ctx *cx, const char *name, double (*f)(double), lang_value v,
                  lang_value *ret, bool positive, bool nonneg)
{
    double d = 0;
    if (!number_arg(cx, name, v, &d)) return false;
    if ((positive && d <= 0) || (nonneg && d < 0))
        return lang_raise(cx, "ValueError", "%s() expects a %s number, got %g", name,
                          positive ? "positive" : "non-negative", d);
    *ret = lang_float(f(d));
    return true;
}

NATIVE(bi_sqrt) { UNUSED; return math1(cx, "sqrt", sqrt, args[0], ret, false, true); }
NATIVE(bi_exp) { UNUSED; return math1(cx, "exp", exp, args[0], ret, false, false); }
NATIVE(bi_log) { UNUSED; return math1(cx, "log", log, args[0], ret, true, false); }
NATIVE(bi_floor) { UNUSED; return math1(cx, "floor", floor, args[0], ret, false, false); }
NATIVE(bi_ceil) { UNUSED; return math1(cx, "ceil", ceil, args[0], ret, false, false); }

NATIVE(bi_round)
{
    UNUSED;
    double d = 0;
    if (!number_arg(cx, "round", args[0], &d)) return false;
    int64_t digits = args[1].as.i;
    if (digits < 0 || digits > 15) return lang_raise(cx, "ValueError", "round() keeps 0 to 15 digits");
    double m = pow(10, (double)digits);
    *ret = lang_float(round(d * m) / m);
    return true;
}

NATIVE(bi_pow)
{
    UNUSED;
    double a = 0, b = 0;
    if (!number_arg(cx, "pow", args[0], &a) || !number_arg(cx, "pow", args[1], &b)) return false;
    *ret = lang_float(pow(a, b));
    return true;
}

/* min/max over their arguments, or over one list argument. */
static bool extreme(lang_ctx *cx, const char *name, const lang_value *args, int nargs,
                    lang_value *ret, bool want_max)
{
    const lang_value *items = args;
    size_t n = (size_t)nargs;
    if (nargs == 1 && args[0].type == LANG_LIST) {
        items = AS_LIST(args[0])->items;
        n = AS_LIST(args[0])->len;
    }
    if (n == 0) return lang_raise(cx, "ValueError", "%s() needs at least one value", name);
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        lang_value v = items[i];
        if (v.type != LANG_INT && v.type != LANG_FLOAT)
            return lang_raise(cx, "TypeError", "%s() compares numbers, got %s", name,
                              lang_value_type_name(v));
        double a = v.type == LANG_INT ? (double)v.as.i : v.as.f;
        lang_value w = items[best];
        double b = w.type == LANG_INT ? (double)w.as.i : w.as.f;
        if (want_max ? a > b : a < b) best = i;
    }
    *ret = items[best];
    return true;
}

NATIVE(bi_min) { (void)self; return extreme(cx, "min", args, nargs, ret, false); }
NATIVE(bi_max) { (void)self; return extreme(cx, "max", args, nargs, ret, true); }

NATIVE(bi_input)
{
    UNUSED;
    const lang_sink *s = lang_ctx_sink(cx);
    const char *why = "this frontend does not accept input";
    char *line = s && s->input ? s->input(s->ctx, lang_string_cstr(args[0]), args[1].as.b, &why)
                               : NULL;
    if (!line) {
        if (lang_interrupted()) return lang_raise(cx, "KeyboardInterrupt", "interrupted by the user");
        return lang_raise(cx, "StdinNotImplementedError", "input() is not available: %s", why);
    }
    *ret = lang_string_from(line);
    free(line);
    return true;
}

NATIVE(bi_clear_output)
{
    UNUSED;
    (void)ret;
    sink_clear(lang_ctx_sink(cx), args[0].as.b);
    return true;
}

NATIVE(bi_sleep)
{
    UNUSED;
    (void)ret;
    double secs = 0;
    if (!number_arg(cx, "sleep", args[0], &secs)) return false;
    if (secs < 0 || secs > 3600) return lang_raise(cx, "ValueError", "sleep() takes 0 to 3600 seconds");
    struct timespec tick = { 0, 10 * 1000 * 1000 };
    for (double left = secs; left > 0; left -= 0.01) {
        if (lang_interrupted()) return lang_raise(cx, "KeyboardInterrupt", "interrupted by the user");
        if (left < 0.01) tick.tv_nsec = (long)(left * 1e9);
        nanosleep(&tick, NULL);
    }
    return true;
}

NATIVE(bi_display)
{
    UNUSED;
    (void)ret;
    lang_value v = args[0];
    lang_bundle b;
    memset(&b, 0, sizeof b);
    char *text = lang_value_repr(v);
    if (!text) return lang_raise(cx, "MemoryError", "out of memory");
    b.items[b.n++] = (lang_mime){ "text/plain", text, strlen(text), false };
    const lang_type *t = lang_object_type(v);
    if (t && t->bundle) t->bundle(AS_OBJ(v)->ptr, &b);
    sink_display(lang_ctx_sink(cx), &b, NULL, false);
    for (int i = 0; i < b.n; i++) free((void *)b.items[i].data);
    return true;
}

bool png_display_file(lang_ctx *cx, const char *path, const char *title);

NATIVE(bi_display_png)
{
    UNUSED;
    (void)ret;
    return png_display_file(cx, lang_string_cstr(args[0]), NULL);
}

/* ---- range: a lazy sequence of ints ---- */

typedef struct range_obj { int64_t start, stop, step; } range_obj;

static int64_t range_length(void *ptr)
{
    range_obj *r = ptr;
    if (r->step > 0 && r->start < r->stop)
        return (int64_t)(((unsigned long long)r->stop - (unsigned long long)r->start - 1) /
                         (unsigned long long)r->step) + 1;
    if (r->step < 0 && r->start > r->stop)
        return (int64_t)(((unsigned long long)r->start - (unsigned long long)r->stop - 1) /
                         (unsigned long long)(-(r->step + 1) + 1ULL)) + 1;
    return 0;
}

static bool range_item(lang_ctx *cx, void *ptr, int64_t i, lang_value *ret)
{
    (void)cx;
    range_obj *r = ptr;
    *ret = lang_int(r->start + i * r->step);
    return true;
}

static char *range_repr(void *ptr)
{
    range_obj *r = ptr;
    char buf[100];
    snprintf(buf, sizeof buf, "range(%lld, %lld, %lld)", (long long)r->start,
             (long long)r->stop, (long long)r->step);
    return strdup(buf);
}

const lang_type lang_range_type = {
    .name = "range", .doc = "The ints from start up to (not including) stop.",
    .free = free, .repr = range_repr, .length = range_length, .item = range_item,
};

bool range_bounds(lang_value v, int64_t *start, int64_t *stop, int64_t *step)
{
    range_obj *r = lang_object_ptr(v, &lang_range_type);
    if (!r) return false;
    *start = r->start;
    *stop = r->stop;
    *step = r->step;
    return true;
}

NATIVE(bi_range)
{
    UNUSED;
    range_obj *r = malloc(sizeof *r);
    if (!r) return lang_raise(cx, "MemoryError", "out of memory");
    bool two = args[1].type == LANG_INT;
    r->start = two ? args[0].as.i : 0;
    r->stop = two ? args[1].as.i : args[0].as.i;
    r->step = args[2].as.i;
    if (r->step == 0) { free(r); return lang_raise(cx, "ValueError", "range() step cannot be 0"); }
    *ret = lang_object_new(&lang_range_type, r, sizeof *r);
    return true;
}

NATIVE(bi_list)
{
    UNUSED;
    lang_value v = args[0];
    if (v.type == LANG_NULL) { *ret = lang_list_new(0); return true; }
    const lang_type *t = lang_object_type(v);
    if (v.type == LANG_LIST) {
        *ret = lang_list_new(AS_LIST(v)->len);
        for (size_t i = 0; i < AS_LIST(v)->len; i++) {
            val_incref(AS_LIST(v)->items[i]);
            lang_list_push(*ret, AS_LIST(v)->items[i]);
        }
        return true;
    }
    if (!t || !t->length || !t->item)
        return lang_raise(cx, "TypeError", "list() expects a list or a sequence, got %s",
                          lang_value_type_name(v));
    int64_t n = t->length(AS_OBJ(v)->ptr);
    if (n < 0 || (uint64_t)n > cx->s->cfg.max_list_items)
        return lang_raise(cx, "MemoryError", "list() of %lld items is over the limit", (long long)n);
    *ret = lang_list_new((size_t)n);
    for (int64_t i = 0; i < n; i++) {
        lang_value item = lang_null();
        if (!t->item(cx, AS_OBJ(v)->ptr, i, &item)) return false;
        lang_list_push(*ret, item);
    }
    return true;
}

void builtins_register(void)
{
    static const struct { const char *sig; lang_native_fn fn; const char *doc; } table[] = {
        {"void print(...)", bi_print, "Print the values separated by spaces, then a new line."},
        {"void eprint(...)", bi_eprint, "Like print(), but to the error stream (shown in red)."},
        {"void printf(string format, ...)", bi_printf,
         "Print a formatted line: %d/%i for ints, %f %g %e for numbers (e.g. %.3f), %s for "
         "anything, %% for a percent sign. Add \\n for a new line."},
        {"string format(string format, ...)", bi_format, "Like printf(), but returns the text."},
        {"int len(any x)", bi_len, "The length of a string, a list or a sequence."},
        {"string str(any x)", bi_str, "The value as text, as print() shows it."},
        {"int int(any x)", bi_int, "Convert a number (dropping the fraction), a bool or a text to an int."},
        {"float float(any x)", bi_float, "Convert an int, a bool or a text to a float."},
        {"bool bool(any x)", bi_bool, "Convert a number to a bool (0 is false)."},
        {"string typeof(any x)", bi_typeof, "The name of the value's type: \"int\", \"list\", ..."},
        {"any abs(any x)", bi_abs, "The absolute value of a number."},
        {"any min(...)", bi_min, "The smallest of the numbers given (or of one list)."},
        {"any max(...)", bi_max, "The largest of the numbers given (or of one list)."},
        {"float sqrt(float x)", bi_sqrt, "The square root."},
        {"float exp(float x)", bi_exp, "e to the power x."},
        {"float log(float x)", bi_log, "The natural logarithm."},
        {"float pow(float x, float y)", bi_pow, "x to the power y."},
        {"float floor(float x)", bi_floor, "Round down."},
        {"float ceil(float x)", bi_ceil, "Round up."},
        {"float round(float x, int digits = 0)", bi_round, "Round to a number of decimal digits."},
        {"range range(int a, int b = null, int step = 1)", bi_range,
         "The ints 0..a-1, or a..b-1 (every step), for loops: for (int i : range(10)) ..."},
        {"list list(any x = null)", bi_list, "A new list: a copy of a list, or the items of a sequence."},
        {"string input(string prompt = \"\", bool password = false)", bi_input,
         "Ask the user for a line of text; password = true hides what is typed."},
        {"void display(any x)", bi_display, "Show a value as a rich output (an image, a table, ...)."},
        {"void display_png(string path)", bi_display_png, "Show a PNG image file."},
        {"void clear_output(bool wait = false)", bi_clear_output,
         "Clear the cell's output; wait = true clears when the next output arrives."},
        {"void sleep(float seconds)", bi_sleep, "Wait for a number of seconds (interruptible)."},
    };
    lang_type_register(&lang_range_type);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        lang_builtin_register(table[i].sig, table[i].fn, table[i].doc);
}
