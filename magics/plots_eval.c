/*
 * plots_eval.c - pictures of a model's predictions on a generator's images:
 * confusion_matrix(), roc() and gallery() (see plots.h). The images are read
 * without augmentation (only rescale), in file order, so the figures are
 * those of the real images and do not move the generator fit() reads.
 *
 * For two classes, label 1 (the second class folder in sorted order: chst
 * in the module) is the positive class, as sigmoid scores and
 * class_mode "binary" have it; radiologists read the results as
 * sensitivity and specificity, which are printed in words.
 */
#include "plots.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang.h"
#include "rt_bind.h"

#define PREDICT_CHUNK 16
#define MAX_CLASSES 16

/* Every image's true class and the model's call. */
typedef struct preds {
    rt_dataset *ds;           /* borrowed from the generator */
    int n, k;                 /* images, classes */
    int *label, *pred;        /* (n) */
    double *score;            /* (n) probability of class 1 (two classes) */
    double *conf;             /* (n) probability of the predicted class */
} preds;

static void preds_free(preds *p)
{
    free(p->label);
    free(p->score);
}

/* The model and the generator must agree on the image shape and classes;
 * *units is the model's output width. */
static bool check_pair(lang_ctx *cx, const char *fn, rt_model *m, const rt_dataset *ds, int *units)
{
    const rt_dataset_config *c = rt_dataset_config_get(ds);
    int nd, od, k = rt_dataset_class_count(ds);
    int64_t in[3], os[3], gs[3] = { c->target_h, c->target_w, c->channels };
    char a[64], b[64];
    rt_model_input_shape(m, &nd, in);
    rt_model_output_shape(m, &od, os);
    if (nd == 3 && (in[0] != gs[0] || in[1] != gs[1] || in[2] != gs[2]))
        return lang_raise(cx, "ValueError", "%s: the model takes images of shape %s but the "
                          "generator makes %s; use the same target_size (and color_mode) for "
                          "both", fn, rt_shape_format(3, in, a, sizeof a),
                          rt_shape_format(3, gs, b, sizeof b));
    *units = od == 1 ? (int)os[0] : 0;
    if (k > MAX_CLASSES)
        return lang_raise(cx, "ValueError", "%s draws at most %d classes; the generator has %d",
                          fn, MAX_CLASSES, k);
    if ((*units == 1 && k == 2) || (*units == k && k >= 2)) return true;
    return lang_raise(cx, "ValueError", "%s: the model has %d output%s but the generator has %d "
                      "classes; a two-class model ends in Dense(1, activation = \"sigmoid\"), a "
                      "model for k classes in Dense(k, activation = \"softmax\")", fn, *units,
                      *units == 1 ? "" : "s", k);
}

/* Scores of images i..i+cnt into p. */
static rt_status predict_chunk(rt_model *m, preds *p, int i, int cnt, int units)
{
    const rt_dataset_config *c = rt_dataset_config_get(p->ds);
    int64_t shape[4] = { cnt, c->target_h, c->target_w, c->channels };
    size_t per = (size_t)c->target_h * (size_t)c->target_w * (size_t)c->channels;
    rt_tensor *x = NULL, *y = NULL;
    rt_status st = rt_tensor_new(&x, RT_DEVICE_CPU, 4, shape);
    for (int j = 0; j < cnt && st == RT_OK; j++)
        st = rt_dataset_sample_load(p->ds, i + j, x->data + per * (size_t)j);
    if (st == RT_OK) st = rt_model_predict(m, x, &y);
    rt_tensor_release(x);
    for (int j = 0; j < cnt && st == RT_OK; j++) {
        const float *o = y->data + (size_t)j * (size_t)units;
        int best = 0;
        for (int u = 1; u < units; u++) best = o[u] > o[best] ? u : best;
        double s1 = units == 1 ? o[0] : p->k == 2 ? o[1] : NAN;
        p->pred[i + j] = units == 1 ? s1 > 0.5 : best;
        p->score[i + j] = s1;
        p->conf[i + j] = units == 1 ? (s1 > 0.5 ? s1 : 1 - s1) : o[best];
    }
    rt_tensor_release(y);
    return st;
}

static bool predict_all(lang_ctx *cx, const char *fn, lang_value mv, lang_value gv, preds *p)
{
    memset(p, 0, sizeof *p);
    rtb_model *w = lang_object_ptr(mv, &rtb_model_type);
    rtb_generator *g = lang_object_ptr(gv, &rtb_generator_type);
    if (!w || !g) return lang_raise(cx, "TypeError", "%s expects a model and a generator made "
                                    "by flow_from_directory()", fn);
    p->ds = rtb_generator_augments(g) ? rtb_generator_plain(cx, g) : g->ds;
    int units = 0;
    if (!p->ds || !check_pair(cx, fn, w->m, p->ds, &units)) return false;
    p->n = rt_dataset_size(p->ds);
    p->k = rt_dataset_class_count(p->ds);
    p->label = malloc(sizeof(int) * 2 * (size_t)p->n);
    p->score = malloc(sizeof(double) * 2 * (size_t)p->n);
    if (!p->label || !p->score) { preds_free(p); return lang_raise(cx, "MemoryError", "out of memory"); }
    p->pred = p->label + p->n;
    p->conf = p->score + p->n;
    for (int i = 0; i < p->n; i++) p->label[i] = rt_dataset_label(p->ds, i);
    for (int i = 0; i < p->n; i += PREDICT_CHUNK) {
        if (lang_interrupted()) {
            preds_free(p);
            return lang_raise(cx, "KeyboardInterrupt", "interrupted by the user");
        }
        int cnt = p->n - i < PREDICT_CHUNK ? p->n - i : PREDICT_CHUNK;
        rt_status st = predict_chunk(w->m, p, i, cnt, units);
        if (st != RT_OK) { preds_free(p); return rtb_raise_status(cx, st, fn); }
    }
    return true;
}

static double pct(int a, int b) { return b ? 100.0 * a / b : 0; }

/* ---- confusion_matrix ---- */

/* White to dark blue as t goes from 0 to 1. */
static chart_color shade(double t)
{
    static const int lo[3] = { 0xf4, 0xf8, 0xfc }, hi[3] = { 0x1b, 0x4f, 0x8f };
    int v[3];
    for (int k = 0; k < 3; k++) v[k] = (int)lround(lo[k] + (hi[k] - lo[k]) * t);
    return (chart_color)(v[0] << 16 | v[1] << 8 | v[2]);
}

static void matrix_cell(chart_canvas *cv, int x, int y, int size, int count, int row_total)
{
    double t = row_total ? (double)count / row_total : 0;
    chart_color ink = t > 0.5 ? CHART_WHITE : CHART_TEXT;
    char buf[32];
    chart_fill_rect(cv, x, y, size, size, shade(t));
    chart_rect_outline(cv, x, y, size, size, 0x999999u);
    int big = size >= 100 ? CHART_TITLE_SCALE : CHART_TEXT_SCALE;
    snprintf(buf, sizeof buf, "%d", count);
    int th = chart_text_height(big), sh = chart_text_height(CHART_TEXT_SCALE);
    int y0 = y + (size - th - (size >= 100 ? sh + 8 : 0)) / 2;
    chart_text_aligned(cv, x + size / 2, y0, buf, big, ink, 0);
    if (size < 100) return;
    snprintf(buf, sizeof buf, "%.0f%%", 100 * t);
    chart_text_aligned(cv, x + size / 2, y0 + th + 8, buf, CHART_TEXT_SCALE, ink, 0);
}

static chart_canvas *matrix_picture(const preds *p, const int *counts)
{
    int k = p->k, size = k <= 2 ? 150 : k <= 5 ? 100 : 60, names = 0;
    int th = chart_text_height(CHART_TEXT_SCALE), tt = chart_text_height(CHART_TITLE_SCALE);
    for (int c = 0; c < k; c++) {
        int w = chart_text_width(rt_dataset_class_name(p->ds, c), CHART_TEXT_SCALE);
        names = w > names ? w : names;
    }
    names = names > 160 ? 160 : names;
    int left = 20 + th + 14 + names + 12, top = 16 + tt + 20 + th + 10 + th + 10;
    int w = left + k * size + 30, h = top + k * size + 24;
    w = w < 420 ? 420 : w;
    chart_canvas *cv = chart_canvas_new(w, h, CHART_WHITE);
    if (!cv) return NULL;
    char buf[64];
    chart_text_aligned(cv, w / 2, 16, "Confusion matrix", CHART_TITLE_SCALE, CHART_TEXT, 0);
    chart_text_aligned(cv, left + k * size / 2, top - 2 * th - 20, "predicted class",
                       CHART_TEXT_SCALE, CHART_TEXT, 0);
    chart_text_vertical(cv, 20 + th / 2, top + k * size / 2, "true class", CHART_TEXT_SCALE,
                        CHART_TEXT);
    for (int r = 0; r < k; r++) {
        const char *name = chart_text_fit(rt_dataset_class_name(p->ds, r), CHART_TEXT_SCALE,
                                          k > 2 ? size - 4 : names, buf, sizeof buf);
        chart_text_aligned(cv, left + r * size + size / 2, top - th - 10, name,
                           CHART_TEXT_SCALE, CHART_TEXT, 0);
        chart_text_aligned(cv, left - 12, top + r * size + (size - th) / 2, name,
                           CHART_TEXT_SCALE, CHART_TEXT, 1);
        int total = 0;
        for (int c = 0; c < k; c++) total += counts[r * k + c];
        for (int c = 0; c < k; c++)
            matrix_cell(cv, left + c * size, top + r * size, size, counts[r * k + c], total);
    }
    return cv;
}

/* "Sensitivity: 90.0% (9 of 10 chst images were called chst)" and friends. */
static void print_two_class(const lang_sink *s, const preds *p, const int *m)
{
    const char *neg = rt_dataset_class_name(p->ds, 0), *pos = rt_dataset_class_name(p->ds, 1);
    int tn = m[0], fp = m[1], fn = m[2], tp = m[3];
    sink_printf(s, "stdout", "Positive class: %s (label 1); negative class: %s (label 0); "
                "threshold 0.5\n", pos, neg);
    sink_printf(s, "stdout", "  true %s: %d called %s (true positives), %d called %s (false "
                "negatives)\n", pos, tp, pos, fn, neg);
    sink_printf(s, "stdout", "  true %s: %d called %s (true negatives), %d called %s (false "
                "positives)\n", neg, tn, neg, fp, pos);
    sink_printf(s, "stdout", "Sensitivity: %.1f%% (%d of %d %s images were called %s)\n",
                pct(tp, tp + fn), tp, tp + fn, pos, pos);
    sink_printf(s, "stdout", "Specificity: %.1f%% (%d of %d %s images were called %s)\n",
                pct(tn, tn + fp), tn, tn + fp, neg, neg);
    sink_printf(s, "stdout", "Positive predictive value: %.1f%% (%d of %d images called %s "
                "were %s)\n", pct(tp, tp + fp), tp, tp + fp, pos, pos);
    sink_printf(s, "stdout", "Negative predictive value: %.1f%% (%d of %d images called %s "
                "were %s)\n", pct(tn, tn + fn), tn, tn + fn, neg, neg);
}

static void print_matrix_words(const lang_sink *s, const preds *p, const int *m)
{
    int right = 0;
    for (int c = 0; c < p->k; c++) right += m[c * p->k + c];
    if (p->k == 2) {
        print_two_class(s, p, m);
    } else {
        for (int r = 0; r < p->k; r++) {
            int total = 0;
            for (int c = 0; c < p->k; c++) total += m[r * p->k + c];
            sink_printf(s, "stdout", "  %s: %d of %d called %s (%.1f%%)\n",
                        rt_dataset_class_name(p->ds, r), m[r * p->k + r], total,
                        rt_dataset_class_name(p->ds, r), pct(m[r * p->k + r], total));
        }
    }
    sink_printf(s, "stdout", "Accuracy: %.1f%% (%d of %d images)\n", pct(right, p->n), right, p->n);
}

bool plots_confusion_matrix(lang_ctx *cx, lang_value self, const lang_value *args, int nargs,
                            lang_value *ret)
{
    (void)self; (void)nargs; (void)ret;
    preds p;
    if (!predict_all(cx, "confusion_matrix()", args[0], args[1], &p)) return false;
    int counts[MAX_CLASSES * MAX_CLASSES] = { 0 }, right = 0;
    for (int i = 0; i < p.n; i++) {
        counts[p.label[i] * p.k + p.pred[i]]++;
        right += p.label[i] == p.pred[i];
    }
    chart_canvas *cv = matrix_picture(&p, counts);
    bool ok = cv != NULL || lang_raise(cx, "MemoryError", "out of memory drawing the matrix");
    if (ok) {
        char text[128];
        snprintf(text, sizeof text, "[confusion matrix: %d images, %d right, %d wrong]", p.n,
                 right, p.n - right);
        ok = plots_show(cx, cv, text);
    }
    if (ok) print_matrix_words(lang_ctx_sink(cx), &p, counts);
    chart_canvas_free(cv);
    preds_free(&p);
    return ok;
}

/* ---- roc ---- */

/* qsort's comparators read the predictions through this (cells run on one
 * thread). */
static const preds *sort_preds;

static int by_score_desc(const void *a, const void *b)
{
    double x = sort_preds->score[*(const int *)a], y = sort_preds->score[*(const int *)b];
    return x > y ? -1 : x < y ? 1 : 0;
}

/* The curve's points (fpr, tpr), one per distinct score, from (0, 0) to
 * (1, 1); returns the area under it (trapezoids, so ties count half). */
static double roc_points(const preds *p, double *fpr, double *tpr, int *npts)
{
    int *order = malloc(sizeof(int) * (size_t)p->n), P = 0, N = 0, tp = 0, fp = 0;
    if (!order) { *npts = 0; return NAN; }
    for (int i = 0; i < p->n; i++) { order[i] = i; P += p->label[i] == 1; }
    N = p->n - P;
    sort_preds = p;
    qsort(order, (size_t)p->n, sizeof *order, by_score_desc);
    double auc = 0;
    *npts = 1;
    fpr[0] = tpr[0] = 0;
    for (int i = 0; i < p->n; i++) {
        tp += p->label[order[i]] == 1;
        fp += p->label[order[i]] != 1;
        if (i + 1 < p->n && p->score[order[i + 1]] == p->score[order[i]]) continue;
        fpr[*npts] = (double)fp / N;
        tpr[*npts] = (double)tp / P;
        auc += (fpr[*npts] - fpr[*npts - 1]) * (tpr[*npts] + tpr[*npts - 1]) / 2;
        (*npts)++;
    }
    free(order);
    return auc;
}

static bool roc_draw(lang_ctx *cx, const preds *p, const double *fpr, const double *tpr,
                     int npts, double auc, const double op[2])
{
    char label[64], title[128], text[160];
    const char *pos = rt_dataset_class_name(p->ds, 1), *neg = rt_dataset_class_name(p->ds, 0);
    snprintf(label, sizeof label, "ROC curve (AUC %.3f)", auc);
    snprintf(title, sizeof title, "ROC: %s (positive) vs %s", pos, neg);
    chart_panel pn;
    memset(&pn, 0, sizeof pn);
    pn.title = title;
    pn.xlabel = "1 - specificity";
    pn.ylabel = "sensitivity";
    pn.fixed_range = true;
    pn.xmin = pn.ymin = -0.03;
    pn.xmax = pn.ymax = 1.03;
    pn.diagonal = true;
    pn.series[pn.nseries++] = (chart_series){ label, fpr, tpr, npts, CHART_BLUE, false };
    pn.series[pn.nseries++] = (chart_series){ "threshold 0.5", &op[0], &op[1], 1, CHART_ORANGE,
                                              true };
    chart_canvas *cv = chart_canvas_new(600, 560, CHART_WHITE);
    if (!cv) return lang_raise(cx, "MemoryError", "out of memory drawing the ROC curve");
    chart_panel_draw(cv, 0, 0, cv->w, cv->h, &pn);
    snprintf(text, sizeof text, "[ROC curve: AUC %.3f, %s positive, %d images]", auc, pos, p->n);
    bool ok = plots_show(cx, cv, text);
    chart_canvas_free(cv);
    return ok;
}

bool plots_roc(lang_ctx *cx, lang_value self, const lang_value *args, int nargs, lang_value *ret)
{
    (void)self; (void)nargs; (void)ret;
    preds p;
    if (!predict_all(cx, "roc()", args[0], args[1], &p)) return false;
    int P = 0, tp = 0, tn = 0;
    for (int i = 0; i < p.n; i++) {
        P += p.label[i] == 1;
        tp += p.label[i] == 1 && p.pred[i] == 1;
        tn += p.label[i] != 1 && p.pred[i] != 1;
    }
    if (p.k != 2 || P == 0 || P == p.n) {
        preds_free(&p);
        return lang_raise(cx, "ValueError", "roc() needs a two-class generator with images of "
                          "both classes (here: %d classes, %d of %d images positive)", p.k, P,
                          p.n);
    }
    double *fpr = malloc(sizeof(double) * 2 * (size_t)(p.n + 1)), auc = 0;
    int npts = 0;
    if (fpr) auc = roc_points(&p, fpr, fpr + p.n + 1, &npts);
    bool ok = npts > 0 || lang_raise(cx, "MemoryError", "out of memory");
    double op[2] = { 1 - (double)tn / (p.n - P), (double)tp / P };
    if (ok) ok = roc_draw(cx, &p, fpr, fpr + p.n + 1, npts, auc, op);
    if (ok) {
        const lang_sink *s = lang_ctx_sink(cx);
        sink_printf(s, "stdout", "Area under the ROC curve (AUC): %.3f (1.0 is perfect, 0.5 is "
                    "chance)\n", auc);
        sink_printf(s, "stdout", "At threshold 0.5: sensitivity %.1f%%, specificity %.1f%% (%s "
                    "is positive)\n", 100 * op[1], 100 * (1 - op[0]),
                    rt_dataset_class_name(p.ds, 1));
    }
    free(fpr);
    preds_free(&p);
    return ok;
}

/* ---- gallery ---- */

/* Wrong calls first, the most confident first; then right ones, the least
 * confident (the closest calls) first. */
static int by_interest(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    const preds *p = sort_preds;
    int wi = p->label[i] != p->pred[i], wj = p->label[j] != p->pred[j];
    if (wi != wj) return wj - wi;
    double ci = p->conf[i], cj = p->conf[j];
    if (ci != cj) return (wi ? ci < cj : ci > cj) ? 1 : -1;
    return i - j;
}

static void gallery_tile(chart_canvas *cv, const preds *p, int i, int x, int y, int tile,
                         const float *img)
{
    const rt_dataset_config *c = rt_dataset_config_get(p->ds);
    bool wrong = p->label[i] != p->pred[i];
    int th = chart_text_height(CHART_TEXT_SCALE);
    char line[96], buf[96];
    chart_fill_rect(cv, x - 3, y - 3, tile + 6, tile + 6, wrong ? CHART_RED : CHART_GREEN);
    chart_fill_rect(cv, x, y, tile, tile, 0xf0f0f0u);
    chart_blit(cv, x, y, tile, tile, img, c->target_h, c->target_w, c->channels,
               plots_gain(c->augment.rescale));
    const char *lines[3] = { "true: %s", "pred: %s", p->k == 2 ? "score: %.2f" : "prob: %.2f" };
    for (int k = 0; k < 3; k++) {
        if (k < 2)
            snprintf(line, sizeof line, lines[k], rt_dataset_class_name(p->ds, k ? p->pred[i]
                                                                          : p->label[i]));
        else
            snprintf(line, sizeof line, lines[k], p->k == 2 ? p->score[i] : p->conf[i]);
        chart_text(cv, x, y + tile + 8 + k * (th + 6),
                   chart_text_fit(line, CHART_TEXT_SCALE, tile, buf, sizeof buf),
                   CHART_TEXT_SCALE, wrong && k == 1 ? CHART_RED : CHART_TEXT);
    }
}

static chart_canvas *gallery_picture(const preds *p, const int *order, int n, int wrong,
                                     float *img)
{
    int cols = n <= 4 ? n : n <= 12 ? 4 : 6, rows = (n + cols - 1) / cols, tile = 190;
    int th = chart_text_height(CHART_TEXT_SCALE), cell_h = tile + 3 * th + 36;
    int top = chart_text_height(CHART_TITLE_SCALE) + 30, w = cols * (tile + 20) + 20;
    w = w < 560 ? 560 : w;
    chart_canvas *cv = chart_canvas_new(w, top + rows * cell_h, CHART_WHITE);
    if (!cv) return NULL;
    char title[128];
    if (wrong) snprintf(title, sizeof title, "%d of %d wrong (shown first, in red)", wrong, p->n);
    else snprintf(title, sizeof title, "All %d images predicted right", p->n);
    chart_text_aligned(cv, w / 2, 14, title, CHART_TITLE_SCALE, CHART_TEXT, 0);
    int x0 = (w - cols * (tile + 20) + 20) / 2;
    for (int t = 0; t < n; t++) {
        if (rt_dataset_sample_load(p->ds, order[t], img) != RT_OK) continue;
        gallery_tile(cv, p, order[t], x0 + (t % cols) * (tile + 20), top + (t / cols) * cell_h,
                     tile, img);
    }
    return cv;
}

bool plots_gallery(lang_ctx *cx, lang_value self, const lang_value *args, int nargs,
                   lang_value *ret)
{
    (void)self; (void)nargs; (void)ret;
    int64_t n = args[2].as.i;
    if (n < 1 || n > 64)
        return lang_raise(cx, "ValueError", "gallery() shows 1 to 64 images; got n = %lld",
                          (long long)n);
    preds p;
    if (!predict_all(cx, "gallery()", args[0], args[1], &p)) return false;
    const rt_dataset_config *c = rt_dataset_config_get(p.ds);
    int *order = malloc(sizeof(int) * (size_t)p.n), wrong = 0;
    float *img = malloc(sizeof(float) * (size_t)c->target_h * (size_t)c->target_w *
                        (size_t)c->channels);
    bool ok = (order && img) || lang_raise(cx, "MemoryError", "out of memory");
    for (int i = 0; ok && i < p.n; i++) { order[i] = i; wrong += p.label[i] != p.pred[i]; }
    int shown = n < p.n ? (int)n : p.n;
    chart_canvas *cv = NULL;
    if (ok) {
        sort_preds = &p;
        qsort(order, (size_t)p.n, sizeof *order, by_interest);
        cv = gallery_picture(&p, order, shown, wrong, img);
        ok = cv || lang_raise(cx, "MemoryError", "out of memory drawing the gallery");
    }
    if (ok) {
        char text[128];
        snprintf(text, sizeof text, "[gallery of %d predictions: %d wrong of %d images]", shown,
                 wrong, p.n);
        ok = plots_show(cx, cv, text);
    }
    chart_canvas_free(cv);
    free(order);
    free(img);
    preds_free(&p);
    return ok;
}
