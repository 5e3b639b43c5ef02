/*
 * rt_train.c - training in the language: the `optimizer` type (Adam, SGD),
 * the `history` type, and the model methods compile, fit, evaluate and
 * predict (listed in rt_model.c's method table).
 *
 * fit() prints one Keras-like line per epoch through the sink (verbose 1),
 * reports every batch to the progress hook (rt_progress.h), and polls
 * lang_interrupted() between batches. An interrupt ends fit() early: the
 * weights trained so far stay, fit() prints how far it got, consumes the
 * interrupt and returns the partial history, so that `history h =
 * m.fit(...)` still binds h and the rest of the cell (plot(h)) runs.
 *
 * Validation never uses random transforms: an augmenting generator passed
 * as validation_data is read through its unaugmented twin (only rescale),
 * and fit() says so once. The original notebook augmented its validation
 * images by mistake; this is a deliberate departure.
 */
#include "rt_bind.h"
#include "rt_progress.h"
#include "lang.h"
#include "device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NATIVE(name) static bool name(lang_ctx *cx, lang_value self, \
    const lang_value *args, int nargs, lang_value *ret)

/* ---- optimizer ---- */

static void opt_release(void *p) { free(p); }

static char *opt_repr(void *p)
{
    const rt_optimizer_config *c = p;
    char *s = malloc(200);
    if (!s) return NULL;
    if (c->kind == RT_OPT_ADAM)
        snprintf(s, 200, "<Adam lr=%g beta_1=%g beta_2=%g epsilon=%g decay=%g>", (double)c->lr,
                 (double)c->beta1, (double)c->beta2, (double)c->epsilon, (double)c->decay);
    else
        snprintf(s, 200, "<SGD lr=%g momentum=%g nesterov=%s decay=%g>", (double)c->lr,
                 (double)c->momentum, c->nesterov ? "true" : "false", (double)c->decay);
    return s;
}

static bool opt_ret(lang_ctx *cx, const rt_optimizer_config *c, lang_value *ret)
{
    rt_optimizer_config *o = malloc(sizeof *o);
    if (!o) return lang_raise(cx, "MemoryError", "out of memory");
    *o = *c;
    *ret = lang_object_new(&rtb_optimizer_type, o, sizeof *o);
    if (ret->type != LANG_OBJ) { free(o); return lang_raise(cx, "MemoryError", "out of memory"); }
    return true;
}

/* lr, or learning_rate (Keras 2.3's name) when given. */
static bool lr_arg(lang_ctx *cx, const char *fn, lang_value lr, lang_value alias, float *out)
{
    double v = alias.type == LANG_FLOAT ? alias.as.f : lr.as.f;
    if (!(v > 0 && v < 1e3))
        return lang_raise(cx, "ValueError", "%s expects lr to be a positive float, got %g", fn, v);
    *out = (float)v;
    return true;
}

NATIVE(bi_adam)
{
    (void)self; (void)nargs;
    rt_optimizer_config c = rt_optimizer_adam_defaults();
    double b1 = args[1].as.f, b2 = args[2].as.f, decay = args[4].as.f;
    if (!lr_arg(cx, "Adam()", args[0], args[5], &c.lr)) return false;
    if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1) || !(decay >= 0))
        return lang_raise(cx, "ValueError", "Adam() expects 0 <= beta_1, beta_2 < 1 and decay "
                          ">= 0, got %g, %g and %g", b1, b2, decay);
    if (args[3].type == LANG_FLOAT) {
        if (!(args[3].as.f > 0))
            return lang_raise(cx, "ValueError", "Adam() expects epsilon > 0, got %g", args[3].as.f);
        c.epsilon = (float)args[3].as.f;
    }
    c.beta1 = (float)b1;
    c.beta2 = (float)b2;
    c.decay = (float)decay;
    return opt_ret(cx, &c, ret);
}

NATIVE(bi_sgd)
{
    (void)self; (void)nargs;
    rt_optimizer_config c = rt_optimizer_sgd_defaults();
    double mom = args[1].as.f, decay = args[2].as.f;
    if (!lr_arg(cx, "SGD()", args[0], args[4], &c.lr)) return false;
    if (!(mom >= 0) || !(decay >= 0))
        return lang_raise(cx, "ValueError", "SGD() expects momentum >= 0 and decay >= 0, got "
                          "%g and %g", mom, decay);
    c.momentum = (float)mom;
    c.decay = (float)decay;
    c.nesterov = args[3].as.b;
    return opt_ret(cx, &c, ret);
}

static bool get_lr(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    *ret = lang_float(((rt_optimizer_config *)lang_object_ptr(self, &rtb_optimizer_type))->lr);
    return true;
}

static const lang_property opt_props[] = {
    {"lr", "float", get_lr, NULL, "The learning rate."},
    {NULL, NULL, NULL, NULL, NULL},
};

const lang_type rtb_optimizer_type = {
    .name = "optimizer",
    .doc = "How fit() changes the weights: Adam(...) or SGD(...), passed to compile().",
    .free = opt_release, .repr = opt_repr, .summary = opt_repr, .properties = opt_props,
};

/* ---- history ---- */

static void hist_release(void *p) { rt_history_free(p); }

lang_value rtb_history_wrap(rt_history *h)
{
    lang_value v = lang_object_new(&rtb_history_type, h, sizeof *h + 32 * (size_t)h->cap);
    if (v.type != LANG_OBJ) rt_history_free(h);
    return v;
}

static char *hist_repr(void *p)
{
    const rt_history *h = p;
    size_t cap = 160 + 64 * (size_t)h->epochs, k;
    char *s = malloc(cap);
    if (!s) return NULL;
    k = (size_t)snprintf(s, cap, "history: %d epoch%s%s\nepoch    loss     acc%s", h->epochs,
                         h->epochs == 1 ? "" : "s", h->interrupted ? " (interrupted)" : "",
                         h->has_val ? "  val_loss  val_acc" : "");
    for (int e = 0; e < h->epochs && k < cap; e++) {
        k += (size_t)snprintf(s + k, cap - k, "\n%5d  %6.4f  %6.4f", e + 1, h->loss[e], h->acc[e]);
        if (h->has_val && k < cap)
            k += (size_t)snprintf(s + k, cap - k, "    %6.4f   %6.4f", h->val_loss[e],
                                  h->val_acc[e]);
    }
    return s;
}

static char *hist_summary(void *p)
{
    const rt_history *h = p;
    char *s = malloc(64);
    if (s) snprintf(s, 64, "history of %d epoch%s", h->epochs, h->epochs == 1 ? "" : "s");
    return s;
}

#define HIST_LIST(fn, field, needs_val) \
    static bool fn(lang_ctx *cx, lang_value self, lang_value *ret) \
    { \
        (void)cx; \
        rt_history *h = lang_object_ptr(self, &rtb_history_type); \
        *ret = rtb_float_list(h->field, (needs_val) && !h->has_val ? 0 : h->epochs); \
        return true; \
    }
HIST_LIST(get_loss, loss, 0)
HIST_LIST(get_acc, acc, 0)
HIST_LIST(get_val_loss, val_loss, 1)
HIST_LIST(get_val_acc, val_acc, 1)

static bool get_epochs(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    *ret = lang_int(((rt_history *)lang_object_ptr(self, &rtb_history_type))->epochs);
    return true;
}

static bool get_interrupted(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    *ret = lang_bool(((rt_history *)lang_object_ptr(self, &rtb_history_type))->interrupted);
    return true;
}

static const lang_property hist_props[] = {
    {"loss", "list", get_loss, NULL, "Training loss per epoch (batch-size-weighted mean)."},
    {"acc", "list", get_acc, NULL, "Training accuracy per epoch."},
    {"val_loss", "list", get_val_loss, NULL, "Validation loss per epoch (empty without "
     "validation_data)."},
    {"val_acc", "list", get_val_acc, NULL, "Validation accuracy per epoch."},
    {"epochs", "int", get_epochs, NULL, "Epochs completed."},
    {"interrupted", "bool", get_interrupted, NULL, "Whether fit() was interrupted."},
    {NULL, NULL, NULL, NULL, NULL},
};

const lang_type rtb_history_type = {
    .name = "history",
    .doc = "What fit() returns: loss, acc, val_loss and val_acc per epoch (lists of floats).",
    .free = hist_release, .repr = hist_repr, .summary = hist_summary, .properties = hist_props,
};

/* ---- compile ---- */

static bool optimizer_arg(lang_ctx *cx, lang_value v, rt_optimizer_config *c)
{
    static const char *const names[] = { "adam", "sgd", NULL };
    rt_optimizer_config *o = lang_object_ptr(v, &rtb_optimizer_type);
    if (o) { *c = *o; return true; }
    if (v.type != LANG_STR)
        return lang_raise(cx, "TypeError", "compile() expects optimizer to be Adam(...), "
                          "SGD(...), \"adam\" or \"sgd\", got %s", lang_value_type_name(v));
    if (!rtb_check_choice(cx, "compile()", "optimizer", lang_string_cstr(v), names)) return false;
    *c = lang_string_cstr(v)[0] == 'a' ? rt_optimizer_adam_defaults() : rt_optimizer_sgd_defaults();
    return true;
}

static bool metric_ok(lang_ctx *cx, lang_value v)
{
    static const char *const names[] = { "accuracy", "acc", NULL };
    if (v.type != LANG_STR)
        return lang_raise(cx, "TypeError", "compile() expects metrics to be \"accuracy\" or a "
                          "list of names, got %s", lang_value_type_name(v));
    return rtb_check_choice(cx, "compile()", "metrics", lang_string_cstr(v), names);
}

bool rtb_model_compile(lang_ctx *cx, lang_value self, const lang_value *args, int nargs,
                       lang_value *ret)
{
    (void)nargs; (void)ret;
    static const char *const losses[] = { "binary_crossentropy", "categorical_crossentropy", NULL };
    rtb_model *w = lang_object_ptr(self, &rtb_model_type);
    rt_compile_config c;
    memset(&c, 0, sizeof c);
    if (!optimizer_arg(cx, args[0], &c.optimizer) ||
        !rtb_check_choice(cx, "compile()", "loss", lang_string_cstr(args[1]), losses))
        return false;
    rt_loss_parse(lang_string_cstr(args[1]), &c.loss);
    lang_value m = args[2];
    if (m.type == LANG_LIST) {
        for (size_t i = 0; i < lang_list_len(m); i++)
            if (!metric_ok(cx, lang_list_get(m, i))) return false;
        c.metric_accuracy = lang_list_len(m) > 0;
    } else if (m.type != LANG_NULL) {
        if (!metric_ok(cx, m)) return false;
        c.metric_accuracy = 1;
    }
    rt_device_touch();
    rt_status st = rt_model_compile(w->m, &c);
    if (st != RT_OK) return rtb_raise_status(cx, st, "compile()");
    w->metric_acc = c.metric_accuracy;
    return true;
}

/* ---- fit ---- */

/* Before computing on the GPU: refresh the host copies of what earlier code
 * changed (a model made or compiled in this same cell), so that a GPU lost
 * during the computation keeps it. Free when nothing changed; a failure
 * other than a lost GPU only means an older copy is kept. */
static bool device_checkpoint(lang_ctx *cx, const char *what)
{
    rt_status st = rt_device_checkpoint();
    return st != RT_ERR_DEVICE || rtb_raise_status(cx, st, what);
}

typedef struct fit_ctx {
    const lang_sink *sink;
    int verbose, epochs, steps, batches, metric_acc;
    double t_fit, t_epoch;
} fit_ctx;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_batch(void *ctx, int epoch, int step, int steps, double loss, double acc)
{
    fit_ctx *f = ctx;
    f->batches++;
    if (f->verbose <= 0) return;
    rtb_progress p = { RTB_PROGRESS_BATCH, epoch + 1, f->epochs, step + 1, steps, loss, acc,
                       0, 0, 0, now() - f->t_epoch, 0 };
    rtb_progress_emit(f->sink, &p);
}

static void on_epoch(void *ctx, int epoch, const rt_history *h)
{
    fit_ctx *f = ctx;
    double t = now();
    if (f->verbose > 0 && epoch == 0 && h->feature_cache)
        sink_printf(f->sink, "stdout", "(the backbone is frozen and the training images are not "
                    "augmented: its outputs were computed once and are reused every epoch)\n");
    if (f->verbose > 0) {
        char line[256];
        int k = snprintf(line, sizeof line, "Epoch %d/%d - %d steps - loss: %.4f", epoch + 1,
                         f->epochs, f->steps, h->loss[epoch]);
        if (f->metric_acc) k += snprintf(line + k, sizeof line - (size_t)k, " - acc: %.4f", h->acc[epoch]);
        if (h->has_val)
            k += snprintf(line + k, sizeof line - (size_t)k, " - val_loss: %.4f", h->val_loss[epoch]);
        if (h->has_val && f->metric_acc)
            k += snprintf(line + k, sizeof line - (size_t)k, " - val_acc: %.4f", h->val_acc[epoch]);
        snprintf(line + k, sizeof line - (size_t)k, " - %.1f s\n", t - f->t_epoch);
        sink_write(f->sink, "stdout", line, strlen(line));
        rtb_progress p = { RTB_PROGRESS_EPOCH, epoch + 1, f->epochs, f->steps, f->steps,
                           h->loss[epoch], h->acc[epoch], h->has_val, h->val_loss[epoch],
                           h->val_acc[epoch], t - f->t_epoch, 0 };
        rtb_progress_emit(f->sink, &p);
    }
    f->t_epoch = t;
}

static int should_stop(void *ctx)
{
    (void)ctx;
    return lang_interrupted();
}

static bool fit_args(lang_ctx *cx, const lang_value *args, rt_fit_config *fc)
{
    for (int i = 1; i <= 4; i++) {
        if (i == 3) continue;
        if (args[i].as.i < 0 || args[i].as.i > 1000000)
            return lang_raise(cx, "ValueError", "fit() expects %s to be an int >= 0, got %lld",
                              i == 1 ? "epochs" : i == 2 ? "steps_per_epoch" : "validation_steps",
                              (long long)args[i].as.i);
    }
    rt_fit_config_init(fc);
    fc->epochs = (int)args[1].as.i;
    fc->steps_per_epoch = (int)args[2].as.i;
    fc->validation_steps = (int)args[4].as.i;
    return true;
}

/* The validation dataset: the generator's own, or its unaugmented twin. */
static bool val_dataset(lang_ctx *cx, lang_value v, rt_dataset **out)
{
    *out = NULL;
    rtb_generator *g = lang_object_ptr(v, &rtb_generator_type);
    if (!g) return true;
    if (!rtb_generator_augments(g)) { *out = g->ds; return true; }
    if (!(*out = rtb_generator_plain(cx, g))) return false;
    sink_printf(lang_ctx_sink(cx), "stdout", "validation images are not augmented: only "
                "rescale is applied to validation_data, so val_loss and val_acc measure the "
                "real images (the original notebook augmented them by mistake)\n");
    return true;
}

static void fit_report_stop(lang_ctx *cx, const fit_ctx *f, const rt_history *h)
{
    lang_interrupt_clear();   /* consumed: the cell goes on with the partial history */
    sink_printf(lang_ctx_sink(cx), "stdout", "Training interrupted after %d batch%s, in epoch "
                "%d/%d: the weights trained so far are kept, and the history holds the %d "
                "finished epoch%s.\n", f->batches, f->batches == 1 ? "" : "es", h->epochs + 1,
                f->epochs, h->epochs, h->epochs == 1 ? "" : "s");
}

bool rtb_model_fit(lang_ctx *cx, lang_value self, const lang_value *args, int nargs,
                   lang_value *ret)
{
    (void)nargs;
    rtb_model *w = lang_object_ptr(self, &rtb_model_type);
    rtb_generator *g = lang_object_ptr(args[0], &rtb_generator_type);
    rt_fit_config fc;
    rt_dataset *val;
    if (!fit_args(cx, args, &fc) || !val_dataset(cx, args[3], &val)) return false;
    fit_ctx f = { lang_ctx_sink(cx), (int)args[5].as.i, fc.epochs,
                  fc.steps_per_epoch ? fc.steps_per_epoch : rt_dataset_batch_count(g->ds), 0,
                  w->metric_acc, now(), now() };
    rt_fit_callbacks cb = { &f, on_batch, on_epoch, should_stop };
    rtb_device_notice(cx);
    if (!device_checkpoint(cx, "fit()")) return false;
    rtb_progress p0 = { RTB_PROGRESS_BEGIN, 1, f.epochs, 0, f.steps, 0, 0, 0, 0, 0, 0, 0 };
    if (f.verbose > 0) rtb_progress_emit(f.sink, &p0);
    rt_history *h = NULL;
    rt_status st = rt_model_fit(w->m, g->ds, val, &fc, &cb, &h);
    rt_device_touch();   /* even a failed fit may have changed the weights */
    if (f.verbose > 0) {
        rtb_progress pe = { RTB_PROGRESS_END, h ? h->epochs : 0, f.epochs, 0, f.steps, 0, 0, 0,
                            0, 0, now() - f.t_fit, h && h->interrupted };
        rtb_progress_emit(f.sink, &pe);
    }
    if (st != RT_OK) return rtb_raise_status(cx, st, "fit()");
    if (h->interrupted) fit_report_stop(cx, &f, h);
    *ret = rtb_history_wrap(h);
    return ret->type == LANG_OBJ || lang_raise(cx, "MemoryError", "out of memory");
}

/* ---- evaluate, predict ---- */

bool rtb_model_evaluate(lang_ctx *cx, lang_value self, const lang_value *args, int nargs,
                        lang_value *ret)
{
    (void)nargs;
    rtb_model *w = lang_object_ptr(self, &rtb_model_type);
    rtb_generator *g = lang_object_ptr(args[0], &rtb_generator_type);
    if (args[1].as.i < 0) return lang_raise(cx, "ValueError", "evaluate() expects steps >= 0");
    rt_dataset *ds = rtb_generator_augments(g) ? rtb_generator_plain(cx, g) : g->ds;
    if (!ds) return false;
    double loss = 0, acc = 0;
    if (!device_checkpoint(cx, "evaluate()")) return false;
    rt_status st = rt_model_evaluate(w->m, ds, (int)args[1].as.i, &loss, &acc);
    if (st != RT_OK) return rtb_raise_status(cx, st, "evaluate()");
    double v[2] = { loss, acc };
    *ret = rtb_float_list(v, w->metric_acc ? 2 : 1);
    return true;
}

static bool predict_input(lang_ctx *cx, rt_model *m, lang_value v, rt_tensor **x)
{
    if (!rtb_tensor_from_value(cx, v, "predict()", "x", x)) return false;
    int n;
    int64_t in[3];
    rt_model_input_shape(m, &n, in);
    int r = (*x)->ndim, off = r == 4 ? 1 : 0;
    bool ok = (r == 3 || r == 4) && n == 3;
    for (int i = 0; ok && i < 3; i++) ok = (*x)->shape[off + i] == in[i];
    if (ok || !n) return true;
    char a[96], b[96];
    lang_raise(cx, "ValueError", "predict(): the model %s takes images of shape %s (or a batch "
               "of them), got %s", rt_model_name(m), rt_shape_format(n, in, a, sizeof a),
               rt_shape_format(r, (*x)->shape, b, sizeof b));
    rt_tensor_release(*x);
    *x = NULL;
    return false;
}

bool rtb_model_predict(lang_ctx *cx, lang_value self, const lang_value *args, int nargs,
                       lang_value *ret)
{
    (void)nargs;
    rt_model *m = ((rtb_model *)lang_object_ptr(self, &rtb_model_type))->m;
    rt_tensor *x = NULL, *y = NULL;
    if (!predict_input(cx, m, args[0], &x)) return false;
    int single = x->ndim == 3;
    if (!device_checkpoint(cx, "predict()")) { rt_tensor_release(x); return false; }
    rt_status st = rt_model_predict(m, x, &y);
    rt_tensor_release(x);
    if (st == RT_OK) {   /* read on the host below */
        rt_tensor *host = NULL;
        st = rt_tensor_on_device(&host, y, RT_DEVICE_CPU);
        rt_tensor_release(y);
        y = host;
    }
    if (st != RT_OK) return rtb_raise_status(cx, st, "predict()");
    if (single && y->numel == 1) {
        *ret = lang_float(y->data[0]);
        rt_tensor_release(y);
    } else if (single) {
        *ret = lang_list_new((size_t)y->numel);
        for (int64_t i = 0; i < y->numel && ret->type == LANG_LIST; i++)
            lang_list_push(*ret, lang_float(y->data[i]));
        rt_tensor_release(y);
    } else {
        *ret = rtb_tensor_wrap(y);
    }
    return true;
}

void rtb_train_register(void)
{
    lang_type_register(&rtb_optimizer_type);
    lang_type_register(&rtb_history_type);
    lang_builtin_register("optimizer Adam(float lr = 0.001, float beta_1 = 0.9, "
        "float beta_2 = 0.999, float epsilon = null, float decay = 0.0, "
        "float learning_rate = null)", bi_adam,
        "Keras 2.2's Adam: lr the step size (learning_rate is the newer name), epsilon null "
        "for Keras' 1e-7, decay lowers lr as lr / (1 + decay * iterations).");
    lang_builtin_register("optimizer SGD(float lr = 0.01, float momentum = 0.0, "
        "float decay = 0.0, bool nesterov = false, float learning_rate = null)", bi_sgd,
        "Stochastic gradient descent, with optional (Nesterov) momentum.");
}
