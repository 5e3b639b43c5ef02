/*
 * graph.h - running a model's nodes forward and backward, with memory
 * kept low and a per-op time profile.
 *
 * Memory. A forward pass keeps a node's output only while a consumer still
 * has to run, unless a backward will need it: with want_backward, outputs
 * are kept where a gradient flows (a trainable layer at or before the
 * node, or the input gradient was asked for) or where a consumer's
 * backward reads its input. A frozen prefix thus runs like inference,
 * freeing each buffer as soon as its consumers are done. An activation
 * whose input has no other consumer (conv -> BN -> ReLU) runs in place.
 *
 * BatchNormalization in a pass with training set (learning phase 1):
 * trainable BN layers normalise with batch statistics and update their
 * moving statistics; frozen ones use their moving statistics in TF2 mode
 * and batch statistics (no update) in Keras 2.2 mode (model.h).
 *
 * Ownership: rt_graph_forward returns a new run (rt_run_free) and a new
 * reference to the output; rt_graph_backward returns a new reference to
 * the input gradient when the run asked for it. Weight gradients
 * accumulate into the model's gradient slab (zeroed by the caller).
 */
#ifndef HELLODL_GRAPH_H
#define HELLODL_GRAPH_H

#include "model.h"

typedef struct rt_run rt_run;

/* x (n, input shape) on the model's device (rt_model_device); *out (n,
 * output shape) on the same device. run may be NULL
 * when no backward follows. */
rt_status rt_graph_forward(rt_model *m, rt_tensor *x, int training, int want_backward,
                           int input_grad, uint64_t seed, rt_run **run, rt_tensor **out);
/* dout (n, output shape); dx (may be NULL) gets d(loss)/dx when the run was
 * made with input_grad. */
rt_status rt_graph_backward(rt_run *run, rt_tensor *dout, rt_tensor **dx);
void rt_run_free(rt_run *run);
/* Node i's output kept by the run, or NULL (borrowed; for tests that
 * inspect activations). */
rt_tensor *rt_run_output(rt_run *run, int node);

/* Any layer of m (a plain model) with trainable weights? */
int rt_graph_has_trainable(rt_model *m);
/* Any Dropout (which must run in training even when frozen)? */
int rt_graph_has_dropout(rt_model *m);

/* ---- per-op profile (process-wide; off by default) ---- */
void rt_profile_enable(int on);
void rt_profile_reset(void);
/* A table of seconds per layer kind, forward and backward (new string). */
rt_status rt_profile_report(char **text);

#endif
