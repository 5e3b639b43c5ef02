/*
 * model_impl.h - the model struct, private to runtime/ (model.c,
 * model_info.c, model_io.c, graph.c, train.c, and cuda_lazy.c for the
 * counters kept with device checkpoints). Everyone else uses model.h.
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
    /* Keras 2.2 BN zero-debias accumulators of every BN node, (2, c) each
     * at bn_acc_off[node] (-1 for other nodes), made at the first update
     * that needs them; on the model's device, like the slabs. */
    rt_tensor *bn_acc;
    int64_t *bn_acc_off;   /* (bn_acc_nodes) */
    int bn_acc_nodes;
    float *weight_host;    /* rt_model_weight_get's copy when on a GPU */

    rt_model *parts[2];    /* composed: backbone, top (references) */

    /* compile() state (train.c) */
    int compiled;
    rt_optimizer *opt;
    rt_loss_kind loss;
    int metric_accuracy;
    int64_t train_steps;   /* dropout stream counter */
    int64_t train_steps_saved; /* at the last device checkpoint */

    rt_model *live_prev, *live_next; /* every live model (model.c) */
};

/* Device checkpoints (device.h) keep host copies of the model storages;
 * these keep, with them, the host-side counters that go with those
 * contents: the optimizer's iterations (Adam's t), each BN layer's update
 * count (Keras 2.2's zero-debias step) and the dropout stream counter.
 * rt_models_checkpoint records them for every live model, after the
 * copies are taken; rt_models_rollback, before recovery restores the
 * copies, puts them back for every model whose slabs are on `dev`. A
 * model or optimizer made since the last checkpoint goes back to zero,
 * as its storages, which have no copy yet, come back zero-filled. */
void rt_models_checkpoint(void);
void rt_models_rollback(rt_device dev);

/* Where the model's slabs live (a composed model: its backbone's); the CPU
 * before build. */
rt_device rt_model_device_get(const rt_model *m);
/* Tag a model slab: RT_STORAGE_MODEL, with a host copy at checkpoints
 * when backup (device.h). */
void rt_model_slab_tag(rt_tensor *t, int backup);

/* graph.c's use of layer_ops.c: a BN layer's moving statistics after its
 * training forward (st holds the batch statistics); acc (2, c) are the
 * Keras 2.2 accumulators or NULL. */
struct rt_op_ctx;
struct rt_node_run;
rt_status rt_bn_moving_update(rt_layer *l, const struct rt_op_ctx *c,
                              const struct rt_node_run *st, size_t rows, float *acc);

/* optim.c: the device of the parameters stepped from now on (a session
 * move may have changed it since compile). */
void rt_optimizer_device_set(rt_optimizer *o, rt_device dev);

/* train.c: frees the compile state. */
void rt_model_train_free(rt_model *m);
/* train.c, for fit.c: one training step from part `start` (x its input,
 * copied to the model's device when elsewhere), the loss/accuracy of an
 * output batch prob (n, k) against y (n, k) on prob's device, and
 * appending an epoch to a history. */
rt_status rt_train_step(rt_model *m, rt_model_parts *p, int start, rt_tensor *x,
                        const rt_tensor *y, double *loss, double *acc);
rt_status rt_train_loss(rt_model *m, const rt_tensor *prob, const rt_tensor *y,
                        double *loss, double *acc);
rt_status rt_history_push(rt_history *h, double l, double a, double vl, double va);

#endif
