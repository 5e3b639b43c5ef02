/*
 * train.h - compile, fit, evaluate and predict with Keras 2.2's semantics
 * (reference §4): the loss and accuracy of a step come from its training
 * forward pass before the update; an epoch's history value is the
 * batch-size-weighted mean over its steps, val_* the weighted mean over
 * validation_steps batches evaluated in inference mode; batches come from
 * the dataset's fit_generator stream (passes carry across epochs).
 *
 * compile() creates a fresh optimizer (a re-compile restarts Adam at t = 1
 * with zero moments). fit() reads the layers' trainable flags; if they
 * changed since compile, the step fails asking for a re-compile (Keras
 * would silently keep the old set).
 *
 * Frozen backbone: for Model(backbone, top) whose backbone has nothing
 * trainable and no Dropout, in TF2 BN mode, with a training dataset
 * without random augmentation, fit() computes the backbone's outputs for
 * every sample once and trains the top on them (the same numbers as
 * running the backbone each step, up to float summation order; the
 * validation set likewise when it is not augmented).
 *
 * Interrupts: cb->should_stop is polled before each batch; a stop ends
 * fit() with RT_OK, the weights as trained so far and h->interrupted set.
 *
 * Ownership: fit returns a new history (rt_history_free); predict a new
 * tensor reference. Datasets and models are borrowed.
 */
#ifndef HELLODL_TRAIN_H
#define HELLODL_TRAIN_H

#include "dataset.h"
#include "model.h"
#include "optim.h"

typedef enum rt_loss_kind {
    RT_LOSS_BINARY_CROSSENTROPY = 0,
    RT_LOSS_CATEGORICAL_CROSSENTROPY
} rt_loss_kind;

typedef struct rt_compile_config {
    rt_optimizer_config optimizer; /* rt_optimizer_adam_defaults() etc. */
    rt_loss_kind loss;
    int metric_accuracy;           /* metrics=['accuracy'] */
} rt_compile_config;

/* "binary_crossentropy" / "categorical_crossentropy". */
rt_status rt_loss_parse(const char *name, rt_loss_kind *out);
rt_status rt_model_compile(rt_model *m, const rt_compile_config *cfg);

typedef struct rt_history {
    int epochs;                          /* epochs completed */
    int cap;
    double *loss, *acc, *val_loss, *val_acc; /* (epochs) */
    int has_val;
    int interrupted;
    int feature_cache;                   /* backbone outputs were reused */
} rt_history;
void rt_history_free(rt_history *h);

typedef struct rt_fit_callbacks {
    void *ctx;
    /* After each step: running weighted means of the epoch so far. */
    void (*on_batch)(void *ctx, int epoch, int step, int steps, double loss, double acc);
    void (*on_epoch)(void *ctx, int epoch, const rt_history *h);
    int (*should_stop)(void *ctx); /* nonzero: stop before the next batch */
} rt_fit_callbacks;

typedef struct rt_fit_config {
    int epochs;
    int steps_per_epoch;  /* 0: batches per pass of the training set */
    int validation_steps; /* 0: batches per pass of the validation set */
    int feature_cache;    /* 1: reuse frozen backbone outputs when allowed */
} rt_fit_config;
void rt_fit_config_init(rt_fit_config *c);

/* val may be NULL; cb may be NULL. */
rt_status rt_model_fit(rt_model *m, rt_dataset *train, rt_dataset *val,
                       const rt_fit_config *cfg, const rt_fit_callbacks *cb,
                       rt_history **out);
/* steps 0: one pass. Inference mode, a fresh sequential stream. */
rt_status rt_model_evaluate(rt_model *m, rt_dataset *ds, int steps, double *loss,
                            double *acc);
/* x (n, h, w, c) or one image (h, w, c); *out (n, outputs). */
rt_status rt_model_predict(rt_model *m, rt_tensor *x, rt_tensor **out);
/* One training step on a batch: x (n, input shape), y (n, outputs);
 * loss and accuracy before the update. For tests and custom loops. */
rt_status rt_model_train_batch(rt_model *m, rt_tensor *x, const float *y, double *loss,
                               double *acc);

#endif
