/*
 * test_lang_exec.c - the cell language through its C interface: interrupts,
 * limits, the magic hook, the globals API, the binding interface (a fake
 * runtime type with methods, properties and a sequence), lang_run_file.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include "check.h"
#include "lang.h"

typedef struct capture { char out[4096]; size_t n; int displays; char last_mime[64]; } capture;

static void cap_stream(void *ctx, const char *name, const char *text, size_t len)
{
    capture *c = ctx;
    (void)name;
    if (c->n + len < sizeof c->out) { memcpy(c->out + c->n, text, len); c->n += len; c->out[c->n] = 0; }
}

static void cap_display(void *ctx, const lang_bundle *b, const char *id, bool update)
{
    capture *c = ctx;
    (void)id; (void)update;
    c->displays++;
    snprintf(c->last_mime, sizeof c->last_mime, "%s", b->n ? b->items[0].mime : "");
}

static capture cap;
static const lang_sink sink = { &cap, cap_stream, cap_display, NULL, NULL };

/* Runs a cell; returns its ename ("" on success) in a static buffer. */
static const char *run(lang_session *s, const char *src)
{
    static char ename[64];
    lang_result r;
    cap.n = 0;
    cap.out[0] = 0;
    bool ok = lang_exec_cell(s, src, 1, &sink, &r);
    snprintf(ename, sizeof ename, "%s", ok ? "" : r.error.ename);
    if (!ok && getenv("VERBOSE")) fprintf(stderr, "%s: %s\n", r.error.ename, r.error.evalue);
    lang_result_free(&r);
    return ename;
}

/* Runs a cell; returns its text/plain result, or its error's evalue, in a
 * static buffer (NULL when it succeeded without a value). */
static const char *result_text(lang_session *s, const char *src)
{
    static char text[4096];
    lang_result r;
    const char *t = NULL;
    if (lang_exec_cell(s, src, 1, &sink, &r) && r.has_value) {
        snprintf(text, sizeof text, "%.*s", (int)r.value.items[0].len, r.value.items[0].data);
        t = text;
    } else if (!r.ok) {
        snprintf(text, sizeof text, "%s", r.error.evalue);
        t = text;
    }
    lang_result_free(&r);
    return t;
}

/* ---- interrupts ---- */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double interrupted_at;

static void *interrupt_later(void *arg)
{
    (void)arg;
    struct timespec t = { 0, 50 * 1000 * 1000 };
    nanosleep(&t, NULL);
    interrupted_at = now();
    lang_interrupt();
    return NULL;
}

/* The cell must stop well within 100 ms of the interrupt (checked with
 * room for a loaded machine and sanitizers). */
static void interrupted(lang_session *s, const char *src)
{
    pthread_t th;
    pthread_create(&th, NULL, interrupt_later, NULL);
    CHECK_STR(run(s, src), "KeyboardInterrupt");
    double latency = now() - interrupted_at;
    pthread_join(th, NULL);
    if (latency > 0.1) fprintf(stderr, "interrupt latency %.0f ms for: %s\n", latency * 1e3, src);
    CHECK(latency < 0.5);
}

static void test_interrupts(void)
{
    lang_session *s = lang_session_new(NULL);
    run(s, "int kept = 42;");
    interrupted(s, "while (true) {}");
    interrupted(s, "int n = 0; for (;;) { n++; }");
    interrupted(s, "void spin(int d) { while (true) {} } spin(1);");
    interrupted(s, "list grow = {}; while (true) { grow.append(\"x\"); if (len(grow) > 100000) grow.clear(); }");
    interrupted(s, "sleep(30);");
    CHECK(!lang_interrupted());
    CHECK_STR(result_text(s, "kept"), "42");
    /* an interrupt that arrives before the cell starts stops it: the caller
     * clears stale ones (the kernel does so before execute_input) */
    lang_interrupt();
    CHECK(strstr(run(s, "while (true) {}"), "KeyboardInterrupt") != NULL);
    lang_interrupt();
    lang_interrupt_clear();
    CHECK_STR(run(s, "int ok = 1;"), "");
    lang_session_free(s);
}

/* ---- limits ---- */

static void test_limits(void)
{
    lang_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_steps = 1000;
    cfg.max_value_bytes = 4 << 20;
    cfg.max_string_bytes = 1000;
    cfg.max_list_items = 5000;
    cfg.max_call_depth = 50;
    lang_session *s = lang_session_new(&cfg);
    CHECK_STR(run(s, "while (true) {}"), "TimeoutError");
    CHECK_STR(run(s, "int f(int n) { return f(n + 1); } f(0);"), "RecursionError");
    CHECK_STR(run(s, "string t = \"x\"; for (int i = 0; i < 20; i++) t = t + t;"), "MemoryError");
    CHECK_STR(run(s, "list l = {}; for (int i = 0; i < 900; i++) l.append(i);"), "");
    CHECK_STR(run(s, "int x = 1;"), "");
    lang_session_free(s);

    memset(&cfg, 0, sizeof cfg);
    cfg.max_value_bytes = 1 << 20;
    s = lang_session_new(&cfg);
    CHECK_STR(run(s, "list big = {}; while (true) big.append({1, 2, 3});"), "MemoryError");
    CHECK_STR(run(s, "int after = 1;"), "");
    lang_session_free(s);

    /* deep recursion with the default limits: an error, never a crash */
    s = lang_session_new(NULL);
    CHECK_STR(run(s, "int down(int n) { return down(n + 1) + 1; } down(0);"), "RecursionError");
    CHECK_STR(run(s, "int fine(int n) { if (n == 0) return 0; return fine(n - 1) + 1; } int r = fine(500);"), "");
    lang_session_free(s);
}

/* ---- magics ---- */

static int magic_calls;

static int magic_hook(void *ctx, lang_session *s, const char *line, const lang_sink *sk,
                      lang_error *err)
{
    (void)ctx;
    magic_calls++;
    if (strncmp(line, "%mount", 6) == 0) {
        lang_value v = lang_string_from("/data/siim");
        lang_global_set(s, "path", v);
        lang_value_decref(v);
        sink_write(sk, "stdout", "mounted\n", 8);
        return 0;
    }
    if (strncmp(line, "%%cellmagic", 11) == 0) {
        sink_printf(sk, "stdout", "cell:%zu\n", strlen(line));
        return 0;
    }
    err->ename = strdup("UsageError");
    err->evalue = strdup("unknown magic");
    return 1;
}

static void test_magics(void)
{
    lang_session *s = lang_session_new(NULL);
    CHECK_STR(run(s, "%mount x"), "SyntaxError");
    lang_set_magic_hook(s, magic_hook, NULL);
    CHECK_STR(run(s, "int before = 1;\n%mount hello-world   // sets path\nstring train = path + \"/train\";"), "");
    CHECK_STR(cap.out, "mounted\n");
    CHECK_STR(result_text(s, "train"), "\"/data/siim/train\"");
    CHECK_STR(run(s, "%nonsense"), "UsageError");
    static const char *const magic_names[] = {"mount", "group"};
    lang_set_magic_names(s, magic_names, 2);
    CHECK_STR(result_text(s, "mount hello-world-deep-learning-siim"), "'mount' is a magic: start the line with '%' ('%mount ...')");
    CHECK_STR(run(s, "int group = 2; group = 3;"), "");
    CHECK_STR(run(s, "%%cellmagic\nanything { goes"), "");
    CHECK_STR(cap.out, "cell:27\n");
    CHECK_STR(run(s, "if (true) {\n%mount x\n}"), "SyntaxError");
    CHECK_INT(magic_calls, 3);

    /* globals API */
    int n = 0;
    const char **names = lang_global_names(s, &n);
    bool seen = false;
    for (int i = 0; i < n; i++) seen |= strcmp(names[i], "path") == 0;
    CHECK(seen);
    free(names);
    CHECK(lang_global_get(s, "before") != NULL);
    lang_session_reset(s);
    CHECK(lang_global_get(s, "before") == NULL);
    CHECK_STR(run(s, "before"), "NameError");
    lang_session_free(s);
}

/* ---- the binding interface, with a fake runtime type ---- */

typedef struct widget { int64_t units; bool trainable; char activation[32]; } widget;
static int widgets_freed;

static void widget_free(void *p) { widgets_freed++; free(p); }

static char *widget_repr(void *p)
{
    widget *w = p;
    char buf[100];
    snprintf(buf, sizeof buf, "Widget(units=%lld, activation=%s)", (long long)w->units, w->activation);
    return strdup(buf);
}

static void widget_bundle(void *p, lang_bundle *b)
{
    (void)p;
    b->items[b->n++] = (lang_mime){ "text/html", strdup("<b>widget</b>"), 13, false };
}

static int64_t widget_length(void *p) { return ((widget *)p)->units; }

static bool widget_item(lang_ctx *cx, void *p, int64_t i, lang_value *ret)
{
    (void)cx; (void)p;
    *ret = lang_int(i * 10);
    return true;
}

extern const lang_type widget_type;

static bool widget_new(lang_ctx *cx, lang_value self, const lang_value *args, int nargs, lang_value *ret)
{
    (void)self; (void)nargs;
    if (args[0].as.i <= 0)
        return lang_raise(cx, "ValueError", "Widget() expects units to be a positive int, got %lld",
                          (long long)args[0].as.i);
    widget *w = calloc(1, sizeof *w);
    w->units = args[0].as.i;
    snprintf(w->activation, sizeof w->activation, "%s", lang_string_cstr(args[1]));
    *ret = lang_object_new(&widget_type, w, sizeof *w);
    return true;
}

static bool widget_scale(lang_ctx *cx, lang_value self, const lang_value *args, int nargs, lang_value *ret)
{
    (void)cx; (void)nargs;
    widget *w = lang_object_ptr(self, &widget_type);
    *ret = lang_float((double)w->units * args[0].as.f);
    return true;
}

static bool get_trainable(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    *ret = lang_bool(((widget *)lang_object_ptr(self, &widget_type))->trainable);
    return true;
}

static bool set_trainable(lang_ctx *cx, lang_value self, lang_value v)
{
    if (v.type != LANG_BOOL) return lang_raise(cx, "TypeError", "trainable must be a bool, got %s", lang_value_type_name(v));
    ((widget *)lang_object_ptr(self, &widget_type))->trainable = v.as.b;
    return true;
}

static bool get_units(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    *ret = lang_int(((widget *)lang_object_ptr(self, &widget_type))->units);
    return true;
}

static bool widget_binary(lang_ctx *cx, const char *op, lang_value a, lang_value b, lang_value *ret)
{
    widget *w = lang_object_ptr(a, &widget_type);
    if (!w || b.type != LANG_INT || strcmp(op, "*") != 0)
        return lang_raise(cx, "TypeError", "a widget can only be multiplied by an int");
    *ret = lang_int(w->units * b.as.i);
    return true;
}

static const lang_method widget_methods[] = {
    {"float scale(float factor = 1)", widget_scale, "units times factor"},
    {NULL, NULL, NULL},
};
static const lang_property widget_props[] = {
    {"trainable", "bool", get_trainable, set_trainable, "whether training changes it"},
    {"units", "int", get_units, NULL, "its size"},
    {NULL, NULL, NULL, NULL, NULL},
};
const lang_type widget_type = {
    .name = "widget", .doc = "A test widget.", .free = widget_free, .repr = widget_repr,
    .bundle = widget_bundle, .length = widget_length, .item = widget_item,
    .methods = widget_methods, .properties = widget_props, .binary = widget_binary,
};

static void test_binding(void)
{
    CHECK(lang_type_register(&widget_type));
    CHECK(lang_builtin_register("widget Widget(int units, string activation = \"linear\")", widget_new,
                                "Make a widget."));
    CHECK(!lang_builtin_register("widget Widget(int units)", widget_new, "twice"));
    CHECK(!lang_builtin_register("broken(", widget_new, "bad"));
    lang_session *s = lang_session_new(NULL);
    CHECK_STR(run(s, "widget w = Widget(3, activation = \"relu\");"), "");
    CHECK_STR(result_text(s, "w"), "Widget(units=3, activation=relu)");
    CHECK_STR(result_text(s, "w.scale(2) + w.units"), "9.0");
    CHECK_STR(run(s, "w.trainable = true; print(w.trainable, len(w), w[2]); for (auto x : w) print(x);"), "");
    CHECK_STR(cap.out, "true 3 20\n0\n10\n20\n");
    CHECK_STR(result_text(s, "w * 5"), "15");
    CHECK_STR(result_text(s, "w / 5"), "a widget can only be multiplied by an int");
    CHECK_STR(result_text(s, "w == w"), "a widget can only be multiplied by an int");
    CHECK_STR(result_text(s, "Widget(-3)"), "Widget() expects units to be a positive int, got -3");
    CHECK_STR(result_text(s, "Widget(3, activaton = \"relu\")"), "Widget() has no argument named 'activaton'; did you mean 'activation'? It accepts: units, activation");
    CHECK_STR(result_text(s, "w.units = 4;"), "'units' of a widget is read-only");
    CHECK_STR(result_text(s, "w.trainable = 1;"), "trainable must be a bool, got int");
    CHECK_STR(result_text(s, "w.scael(2)"), "a widget has no method 'scael'; did you mean 'scale'?");
    CHECK_STR(result_text(s, "w = 3;"), "cannot assign an int to 'w', which is declared widget");
    CHECK_STR(result_text(s, "Widget(\"3\")"), "Widget() expects units to be an int, got string");
    /* a rich result: text/plain first, then the type's own */
    lang_result r;
    CHECK(lang_exec_cell(s, "w", 2, &sink, &r));
    CHECK_INT(r.value.n, 2);
    CHECK_STR(r.value.items[1].mime, "text/html");
    lang_result_free(&r);
    run(s, "display(w);");
    CHECK_INT(cap.displays, 1);
    CHECK_STR(cap.last_mime, "text/plain");
    /* completion and inspect see the type */
    lang_completion c;
    lang_complete(s, "w.tr", 4, &c);
    CHECK_INT(c.n, 1);
    if (c.n) CHECK_STR(c.matches[0], "trainable");
    lang_completion_free(&c);
    char *doc = lang_inspect(s, "Widget(", 7, 0);
    CHECK(doc && strstr(doc, "widget Widget(int units, string activation = \"linear\")"));
    free(doc);
    doc = lang_inspect(s, "w", 1, 0);
    CHECK(doc && strstr(doc, "w: widget"));
    free(doc);
    /* the object lives while a global holds it, and goes with it */
    int before = widgets_freed;
    run(s, "w = null;");
    CHECK_INT(widgets_freed, before + 1);
    lang_session_free(s);
}

static void test_run_file(void)
{
    char path[] = "/tmp/hellodl_run_XXXXXX";
    int fd = mkstemp(path);
    const char *text = "int x = 2;\n//--- cell\nx * 21\n//--- cell two\nprint(x);\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    CHECK_INT(lang_run_file(path, false, NULL, NULL), 0);
    fd = open(path, O_WRONLY | O_TRUNC);
    const char *bad = "int x = 2;\n//--- cell\nprint(y);\n//--- cell\nprint(x);\n";
    CHECK(write(fd, bad, strlen(bad)) == (ssize_t)strlen(bad));
    close(fd);
    CHECK_INT(lang_run_file(path, false, NULL, NULL), 1);
    unlink(path);
    CHECK_INT(lang_run_file("/nonexistent/file.dl", false, NULL, NULL), 2);
}

int main(void)
{
    test_interrupts();
    test_limits();
    test_magics();
    test_binding();
    test_run_file();
    return CHECK_DONE();
}
