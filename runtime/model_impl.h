/*
 * model_impl.h - the model struct, private to runtime/ (model.c,
 * model_info.c, model_io.c, graph.c, train.c). Everyone else uses model.h.
 */
#ifndef HELLODL_MODEL_IMPL_H
#define HELLODL_MODEL_IMPL_H

#include "model.h"
#include "optim.h"
#include "train.h"

struct rt_model {
    char name[RT_NAME_MAX];
    rt_model_kind kind;
    int refcount;
    int trainable;         /* Keras model.trainable (a nested model's flag) */
    uint64_t seed;
    rt_bn_mode bn_mode;

    int n_nodes, cap;
    rt_layer *nodes;       /* (n_nodes) creation order; node 0 is the input */
    int output;            /* node index */
    int *order;            /* (n_order) model.layers order, node indices */
    int n_order;
    int built;
    rt_status sticky;      /* first error while adding nodes */

    rt_tensor *params;     /* (n_params) slab */
    rt_tensor *grads;      /* (n_params) slab, or NULL */
    int64_t n_params;

    rt_model *parts[2];    /* composed: backbone, top (references) */

    /* compile() state (train.c) */
    int compiled;
    rt_optimizer *opt;
    rt_loss_kind loss;
    int metric_accuracy;
    int64_t train_steps;   /* dropout stream counter */
};

/* train.c: frees the compile state. */
void rt_model_train_free(rt_model *m);
/* train.c, for fit.c: one training step from part `start` (x its input),
 * the loss/accuracy of an output batch prob (n, k) against y (n, k), and
 * appending an epoch to a history. */
rt_status rt_train_step(rt_model *m, rt_model_parts *p, int start, rt_tensor *x,
                        const float *y, double *loss, double *acc);
rt_status rt_train_loss(rt_model *m, const rt_tensor *prob, const float *y, double *loss,
                        double *acc);
rt_status rt_history_push(rt_history *h, double l, double a, double vl, double va);

#endif
