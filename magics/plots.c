/*
 * plots.c - plot(history) for training curves and show_batch(generator)
 * for a grid of the images a generator makes, the helpers the picture
 * builtins share, and their registration (see plots.h).
 */
#include "plots.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang.h"
#include "pngio.h"
#include "rt_bind.h"

#define NATIVE(name) static bool name(lang_ctx *cx, lang_value self, \
    const lang_value *args, int nargs, lang_value *ret)

/* ---- shared ---- */

bool plots_show(lang_ctx *cx, const chart_canvas *c, const char *text)
{
    uint8_t *png = NULL;
    size_t len = 0;
    rt_status st = chart_png_encode(c, &png, &len);
    if (st != RT_OK) return rtb_raise_status(cx, st, "drawing the picture");
    lang_bundle b;
    memset(&b, 0, sizeof b);
    b.items[b.n++] = (lang_mime){ "image/png", (const char *)png, len, true };
    b.items[b.n++] = (lang_mime){ "text/plain", text, strlen(text), false };
    b.width = c->w;
    b.height = c->h;
    sink_display(lang_ctx_sink(cx), &b, NULL, false);
    free(png);
    return true;
}

double plots_gain(double rescale)
{
    return rescale > 0 ? 1.0 / rescale : 1.0;
}

/* ---- plot(history) ---- */

#define MAX_FITS 2

/* One or two histories end to end: epochs 1..n, the second fit starting
 * after epoch `second`. */
typedef struct curves {
    int n, second, has_val, nfits;
    double *x, *acc, *loss, *vacc, *vloss;     /* (n) each, one block */
} curves;

/* The histories in v: a history or a list of one or two. */
static bool histories_arg(lang_ctx *cx, lang_value v, const rt_history **hs, int *nh)
{
    const char *usage = "plot() expects a history (what fit() returns), or {h1, h2} to draw a "
                        "fine-tuning fit after the first";
    *nh = 0;
    if ((hs[0] = lang_object_ptr(v, &rtb_history_type))) { *nh = 1; return true; }
    if (v.type != LANG_LIST)
        return lang_raise(cx, "TypeError", "%s; got %s", usage, lang_value_type_name(v));
    size_t n = lang_list_len(v);
    if (n < 1 || n > MAX_FITS)
        return lang_raise(cx, "ValueError", "%s; got a list of %zu", usage, n);
    for (size_t i = 0; i < n; i++) {
        lang_value e = lang_list_get(v, i);
        if (!(hs[i] = lang_object_ptr(e, &rtb_history_type)))
            return lang_raise(cx, "TypeError", "%s; item %zu of the list is %s", usage, i,
                              lang_value_type_name(e));
    }
    *nh = (int)n;
    return true;
}

static bool curves_make(lang_ctx *cx, const rt_history **hs, int nh, curves *c)
{
    memset(c, 0, sizeof *c);
    c->has_val = 1;
    c->nfits = nh;
    for (int k = 0; k < nh; k++) {
        c->n += hs[k]->epochs;
        c->has_val &= hs[k]->has_val != 0;
    }
    c->second = nh > 1 ? hs[0]->epochs : -1;
    if (c->n == 0)
        return lang_raise(cx, "ValueError", "plot(): the history has no finished epoch to draw "
                          "(fit() was stopped before its first epoch ended); train again");
    if (!(c->x = malloc(sizeof(double) * 5 * (size_t)c->n)))
        return lang_raise(cx, "MemoryError", "out of memory");
    c->acc = c->x + c->n;
    c->loss = c->acc + c->n;
    c->vacc = c->loss + c->n;
    c->vloss = c->vacc + c->n;
    for (int k = 0, e = 0; k < nh; k++)
        for (int i = 0; i < hs[k]->epochs; i++, e++) {
            c->x[e] = e + 1;
            c->acc[e] = hs[k]->acc[i];
            c->loss[e] = hs[k]->loss[i];
            c->vacc[e] = c->has_val ? hs[k]->val_acc[i] : NAN;
            c->vloss[e] = c->has_val ? hs[k]->val_loss[i] : NAN;
        }
    return true;
}

static void curves_panel(const curves *c, bool acc, chart_panel *p)
{
    memset(p, 0, sizeof *p);
    p->title = acc ? "Model accuracy" : "Model loss";
    p->xlabel = "epoch";
    p->ylabel = acc ? "accuracy" : "loss";
    p->integer_x = true;
    bool markers = c->n <= 30;
    p->series[p->nseries++] = (chart_series){ "training", c->x, acc ? c->acc : c->loss, c->n,
                                              CHART_BLUE, markers };
    if (c->has_val)
        p->series[p->nseries++] = (chart_series){ "validation", c->x, acc ? c->vacc : c->vloss,
                                                  c->n, CHART_ORANGE, markers };
    if (c->second > 0 && c->second < c->n) {
        p->vline_label = "fine-tuning";
        p->vline_x = c->second + 0.5;
    }
}

/* "[training curves: 8 epochs (fine-tuning from epoch 6), final val_acc 1.00]" */
static void curves_text(const curves *c, int which, char *buf, size_t cap)
{
    char ft[64] = "";
    if (c->second > 0 && c->second < c->n)
        snprintf(ft, sizeof ft, " (fine-tuning from epoch %d)", c->second + 1);
    int last = c->n - 1;
    bool loss = which == 2;
    const char *name = c->has_val ? (loss ? "val_loss" : "val_acc") : (loss ? "loss" : "acc");
    double v = c->has_val ? (loss ? c->vloss[last] : c->vacc[last])
                          : (loss ? c->loss[last] : c->acc[last]);
    snprintf(buf, cap, "[training curves: %d epoch%s%s, final %s %.2f]", c->n,
             c->n == 1 ? "" : "s", ft, name, v);
}

/* metric "" both panels (0), "acc"/"accuracy" (1), "loss" (2). */
static bool metric_arg(lang_ctx *cx, const char *m, int *which)
{
    static const char *const names[] = { "acc", "accuracy", "loss", NULL };
    *which = 0;
    if (!*m) return true;
    if (!rtb_check_choice(cx, "plot()", "metric", m, names)) return false;
    *which = strcmp(m, "loss") == 0 ? 2 : 1;
    return true;
}

NATIVE(bi_plot)
{
    (void)self; (void)nargs; (void)ret;
    const rt_history *hs[MAX_FITS];
    int nh, which;
    curves c;
    if (!metric_arg(cx, lang_string_cstr(args[1]), &which) || !histories_arg(cx, args[0], hs, &nh) ||
        !curves_make(cx, hs, nh, &c))
        return false;
    chart_panel p[2];
    int np = 0;
    if (which != 2) curves_panel(&c, true, &p[np++]);
    if (which != 1) curves_panel(&c, false, &p[np++]);
    chart_canvas *cv = chart_canvas_new(np == 2 ? 1040 : 640, np == 2 ? 400 : 420, CHART_WHITE);
    if (!cv) { free(c.x); return lang_raise(cx, "MemoryError", "out of memory drawing a chart"); }
    for (int i = 0; i < np; i++) chart_panel_draw(cv, i * cv->w / np, 0, cv->w / np, cv->h, &p[i]);
    char text[160];
    curves_text(&c, which, text, sizeof text);
    bool ok = plots_show(cx, cv, text);
    chart_canvas_free(cv);
    free(c.x);
    return ok;
}

/* ---- show_batch(generator) ---- */

/* A twin of the generator's dataset (same files, classes and transforms,
 * batches of n, its own random stream), so that looking at images never
 * moves the generator that fit() reads. */
static bool preview_dataset(lang_ctx *cx, rtb_generator *g, int n, rt_dataset **out)
{
    static uint64_t previews;
    rt_dataset_config c = g->cfg;
    int k = rt_dataset_class_count(g->ds);
    const char **names = malloc(sizeof *names * (size_t)(k ? k : 1));
    if (!names) return lang_raise(cx, "MemoryError", "out of memory");
    for (int i = 0; i < k; i++) names[i] = rt_dataset_class_name(g->ds, i);
    c.classes = names;
    c.n_classes = k;
    c.batch_size = n;
    c.shuffle = 1;
    c.prefetch = 0;
    if (c.has_seed) c.seed = c.seed * 0x9e3779b97f4a7c15ull + ++previews;
    rt_status st = rt_dataset_new(g->dir, &c, out);
    free(names);
    return st == RT_OK || rtb_raise_status(cx, st, "show_batch()");
}

/* "[batch of 8 augmented images: 3 abd, 5 chst]" */
static void batch_text(const rt_dataset *ds, const int *idx, int n, bool aug, char *buf,
                       size_t cap)
{
    int k = rt_dataset_class_count(ds);
    size_t len = (size_t)snprintf(buf, cap, "[batch of %d%s image%s:", n, aug ? " augmented" : "",
                                  n == 1 ? "" : "s");
    for (int c = 0, first = 1; c < k && len < cap; c++) {
        int cnt = 0;
        for (int i = 0; i < n; i++) cnt += rt_dataset_label(ds, idx[i]) == c;
        if (!cnt) continue;
        len += (size_t)snprintf(buf + len, cap - len, "%s %d %s", first ? "" : ",", cnt,
                                rt_dataset_class_name(ds, c));
        first = 0;
    }
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

/* The grid: `cols` tiles a row, each image over its label. */
static chart_canvas *batch_grid(const rt_dataset *ds, const float *x, const int *idx, int n,
                                const char *title)
{
    const rt_dataset_config *c = rt_dataset_config_get(ds);
    int cols = n <= 4 ? n : n <= 8 ? 4 : n <= 18 ? 6 : 8, rows = (n + cols - 1) / cols;
    int tile = cols > 6 ? 150 : 200, th = chart_text_height(CHART_TEXT_SCALE);
    int cell_h = tile + th + 18, top = chart_text_height(CHART_TITLE_SCALE) + 28;
    int w = cols * (tile + 12) + 12;
    w = w < 520 ? 520 : w;
    chart_canvas *cv = chart_canvas_new(w, top + rows * cell_h + 6, CHART_WHITE);
    if (!cv) return NULL;
    char buf[200];
    chart_text_aligned(cv, w / 2, 14, chart_text_fit(title, CHART_TITLE_SCALE, w - 16, buf,
                       sizeof buf), CHART_TITLE_SCALE, CHART_TEXT, 0);
    size_t per = (size_t)c->target_h * (size_t)c->target_w * (size_t)c->channels;
    int x0 = (w - cols * (tile + 12) + 12) / 2;
    for (int i = 0; i < n; i++) {
        int tx = x0 + (i % cols) * (tile + 12), ty = top + (i / cols) * cell_h;
        chart_fill_rect(cv, tx, ty, tile, tile, 0xf0f0f0u);
        chart_blit(cv, tx, ty, tile, tile, x + per * (size_t)i, c->target_h, c->target_w,
                   c->channels, plots_gain(c->augment.rescale));
        const char *label = rt_dataset_class_name(ds, rt_dataset_label(ds, idx[i]));
        chart_text_aligned(cv, tx + tile / 2, ty + tile + 8,
                           chart_text_fit(label, CHART_TEXT_SCALE, tile, buf, sizeof buf),
                           CHART_TEXT_SCALE, CHART_TEXT, 0);
    }
    return cv;
}

NATIVE(bi_show_batch)
{
    (void)self; (void)nargs; (void)ret;
    rtb_generator *g = lang_object_ptr(args[0], &rtb_generator_type);
    int64_t n = args[1].as.i;
    if (!g) return lang_raise(cx, "TypeError", "show_batch() expects a generator made by "
                              "flow_from_directory()");
    if (n < 1 || n > 64)
        return lang_raise(cx, "ValueError", "show_batch() shows 1 to 64 images; got n = %lld",
                          (long long)n);
    rt_dataset *ds = NULL;
    if (!preview_dataset(cx, g, (int)n, &ds)) return false;
    const rt_dataset_config *c = rt_dataset_config_get(ds);
    size_t per = (size_t)c->target_h * (size_t)c->target_w * (size_t)c->channels;
    float *x = malloc(sizeof(float) * per * (size_t)n);
    int *idx = malloc(sizeof(int) * (size_t)n), got = 0;
    rt_status st = x && idx ? rt_dataset_next_batch(ds, x, NULL, idx, &got)
                            : rt_error_set(RT_ERR_NOMEM, "out of memory for %lld images",
                                           (long long)n);
    bool aug = rtb_generator_augments(g), ok = st == RT_OK;
    if (!ok) rtb_raise_status(cx, st, "show_batch()");
    chart_canvas *cv = ok ? batch_grid(ds, x, idx, got, aug ? "Augmented training images"
                            : "Images from the generator (not augmented)") : NULL;
    if (ok && !cv) ok = lang_raise(cx, "MemoryError", "out of memory drawing the images");
    if (ok) {
        char text[400];
        batch_text(ds, idx, got, aug, text, sizeof text);
        ok = plots_show(cx, cv, text);
    }
    chart_canvas_free(cv);
    free(x);
    free(idx);
    rt_dataset_free(ds);
    return ok;
}

/* ---- registration ---- */

void plots_register(void)
{
    static bool done;
    if (done) return;
    done = true;
    lang_builtin_register("void plot(any h, string metric = \"\")", bi_plot,
        "Draws the training curves of a history (what fit() returns): accuracy and loss per "
        "epoch, for training and validation, in two panels. plot(h, \"acc\") or "
        "plot(h, \"loss\") draws one panel. After fine-tuning, plot({h1, h2}) draws both fits "
        "one after the other with a dashed line where fine-tuning began.");
    lang_builtin_register("void show_batch(generator g, int n = 8)", bi_show_batch,
        "Shows n images (1 to 64) the generator makes, as fit() would see them - augmented "
        "when its ImageDataGenerator augments - each with its class. It draws its own random "
        "batch, so training is not affected; call it again for new images.");
    lang_builtin_register("void confusion_matrix(model m, generator g)", plots_confusion_matrix,
        "Predicts every image of the generator (without augmentation) and shows how many of "
        "each class were called each class; for two classes it prints sensitivity, "
        "specificity and accuracy, the second class (label 1, e.g. chst) being the positive "
        "one. The threshold is 0.5.");
    lang_builtin_register("void roc(model m, generator g)", plots_roc,
        "The ROC curve of a two-class model on the generator's images (without augmentation): "
        "sensitivity against 1 - specificity as the threshold moves, with the area under the "
        "curve (AUC) and the point of the 0.5 threshold; label 1 (e.g. chst) is positive.");
    lang_builtin_register("void gallery(model m, generator g, int n = 12)", plots_gallery,
        "Shows n of the generator's images (without augmentation) with the model's "
        "prediction: misclassified ones first (in red), each captioned with the true class, "
        "the predicted class and the score (a two-class model's output: near 1 means the "
        "second class, label 1, e.g. chst).");
}
