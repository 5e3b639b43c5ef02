/*
 * layer_ops.h - one layer's forward and backward over the backend, on the
 * tensors the graph executor (graph.c) hands it. Private to runtime/.
 *
 * Buffers: in[k] (n, input k's shape), out (n, shape), din[k] gradient
 * buffers to ACCUMULATE into (NULL: not needed), dout (n, shape). Weights
 * are read from the model's slab and weight gradients accumulate into the
 * gradient slab when `grads` is not NULL (a trainable layer).
 */
#ifndef HELLODL_LAYER_OPS_H
#define HELLODL_LAYER_OPS_H

#include "backend.h"
#include "layer.h"
#include "model.h"

/* Per-node state of one forward pass that its backward needs. */
typedef struct rt_node_run {
    rt_tensor *out;   /* (n, shape) or NULL once released */
    rt_tensor *grad;  /* (n, shape) accumulated gradient, or NULL */
    rt_tensor *mask;  /* Dropout (n, shape) in training */
    float *stats;     /* BN (2, c): batch mean, biased batch variance */
    int batch_stats;  /* BN normalised with batch statistics */
    int pending;      /* consumers still to run in the forward pass */
    int consumers;    /* all consumers */
    int keep;         /* the output is needed by a backward */
    int tg;           /* a gradient flows into this node's output */
} rt_node_run;

typedef struct rt_op_ctx {
    const rt_backend *be;
    const float *params; /* the model's slab */
    float *grads;        /* the gradient slab for a trainable layer, else NULL */
    int n;               /* batch */
    int training;        /* learning phase 1 */
    int bn_batch_stats;  /* BN uses batch statistics */
    int bn_update;       /* BN updates its moving statistics */
    rt_bn_mode bn_mode;
    uint64_t seed;       /* dropout stream */
} rt_op_ctx;

rt_status rt_layer_forward(rt_layer *l, const rt_op_ctx *c, rt_tensor *const *in,
                           rt_tensor *out, rt_node_run *st);
rt_status rt_layer_backward(rt_layer *l, const rt_op_ctx *c, rt_tensor *const *in,
                            rt_tensor *out, float *const *din, const rt_tensor *dout,
                            rt_node_run *st);

#endif
