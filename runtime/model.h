/*
 * model.h - Keras models: a functional DAG (InceptionV3's branches and
 * concatenations, MobileNet), a Sequential built with add(), and the
 * two-part composition Model(backbone, top) of the module.
 *
 * A model holds its layers as nodes in creation order (a topological
 * order; execution follows it) and lists them in Keras' model.layers order
 * (decreasing depth to the output, ties in the order a depth-first walk
 * from the output first meets them - reference §1.5), which is the order
 * of weight files and of summary(). A Sequential hides its input node, as
 * Keras 2.2 does. A composed model's layers are the backbone's followed by
 * the top as ONE entry (Keras' 312 = 311 + sequential_1).
 *
 * Parameters live in one slab per model (rt_tensor, (n_params)), every
 * weight at a fixed offset; gradients in a second slab of the same layout,
 * allocated at the first training step. Slabs are made on the session's
 * device (device.h) and move with it; the host reads them through copies. Names are Keras 2.x's fresh-session
 * auto-names (conv2d_1, batch_normalization_1, ...), numbered per class by
 * process-wide counters that rt_names_reset restarts (a new session).
 *
 * Ownership: models are refcounted; every _new returns a new reference,
 * rt_model_release drops one; a composition holds references to its parts.
 * Strings returned are borrowed from the model. Not thread-safe: one caller
 * thread per model.
 */
#ifndef HELLODL_MODEL_H
#define HELLODL_MODEL_H

#include <stdint.h>

#include "layer.h"
#include "rt_status.h"
#include "tensor.h"

typedef struct rt_model rt_model;

typedef enum rt_model_kind {
    RT_MODEL_FUNCTIONAL = 0,
    RT_MODEL_SEQUENTIAL,
    RT_MODEL_COMPOSED
} rt_model_kind;

/* How BatchNormalization behaves inside fit() when its layer is frozen:
 * TF2 (the default here) runs a frozen BN in inference mode with its
 * moving statistics, so frozen-backbone features do not depend on the batch
 * and can be computed once; Keras 2.2 (the module's version) normalises
 * frozen BN layers with the batch's statistics (reference §4.3) and updates
 * trainable ones with zero-debiased averages (§4.4). */
typedef enum rt_bn_mode { RT_BN_TF2 = 0, RT_BN_KERAS22 = 1 } rt_bn_mode;

/* Restart the per-class name counters (conv2d_1 ... again). */
void rt_names_reset(void);

/* ---- construction ---- */
rt_status rt_functional_new(rt_model **out, const char *name, int h, int w, int c);
/* Add a node; inputs are node indices (0 = the input). Errors are sticky:
 * the node index is returned in *node (or -1), and an input of -1 makes
 * the add fail quietly, so a builder checks once at rt_model_finish. */
rt_status rt_model_node_add(rt_model *m, const rt_layer_config *cfg, const char *name,
                            const int *inputs, int n_inputs, int *node);
/* Output node, shape inference, layer order and the parameter slab with
 * Keras' initial values. */
rt_status rt_model_finish(rt_model *m, int output);

rt_status rt_sequential_new(rt_model **out, const char *name);
/* Append a layer to a Sequential (name NULL: Keras' auto-name). */
rt_status rt_sequential_add(rt_model *m, const rt_layer_config *cfg, const char *name);
/* Give a Sequential its input shape (h, w, c) or (n) and build it;
 * ndim 0 uses the first layer's input_shape set by rt_sequential_input_set. */
rt_status rt_model_build(rt_model *m, int ndim, const int64_t *shape);
rt_status rt_sequential_input_set(rt_model *m, int ndim, const int64_t *shape);

/* Model(backbone, top): top is built on backbone's output shape. */
rt_status rt_composed_new(rt_model **out, rt_model *backbone, rt_model *top);

rt_model *rt_model_retain(rt_model *m);
void rt_model_release(rt_model *m);

/* ---- inspection (model.layers order) ---- */
const char *rt_model_name(const rt_model *m);
rt_model_kind rt_model_kind_get(const rt_model *m);
int rt_model_is_built(const rt_model *m);
int rt_model_layer_count(const rt_model *m);

typedef struct rt_layer_info {
    const char *name;
    const char *class_name;  /* "Conv2D", "Sequential", ... */
    int trainable;
    int ndim;                /* output shape without batch */
    int64_t shape[3];
    int64_t params, trainable_params;
    const rt_layer *layer;   /* NULL for a nested model */
    rt_model *submodel;      /* borrowed; NULL for a plain layer */
} rt_layer_info;

rt_status rt_model_layer_get(rt_model *m, int i, rt_layer_info *info);
/* Index in model.layers of the layer called name, or -1. */
int rt_model_layer_find(rt_model *m, const char *name);
rt_status rt_model_layer_trainable_set(rt_model *m, int i, int trainable);
/* Every layer (and nested model) at once. */
void rt_model_trainable_set(rt_model *m, int trainable);

/* Input and output shapes without the batch axis. */
void rt_model_input_shape(const rt_model *m, int *ndim, int64_t shape[3]);
void rt_model_output_shape(const rt_model *m, int *ndim, int64_t shape[3]);

void rt_model_param_counts(const rt_model *m, int64_t *total, int64_t *trainable);
/* Keras' summary() text (new string, caller frees). */
rt_status rt_model_summary(rt_model *m, char **text);

void rt_model_bn_mode_set(rt_model *m, rt_bn_mode mode);
rt_bn_mode rt_model_bn_mode_get(const rt_model *m);
/* Seed for weight initialisation of layers built from now on and for
 * dropout masks (default: rt_seed_default). */
void rt_model_seed_set(rt_model *m, uint64_t seed);
void rt_seed_default_set(uint64_t seed);
uint64_t rt_seed_default(void);

/* ---- weights (model_io.c) ---- */
/* Keras load_weights: positional over layers with weights (names only
 * cross-checked: *renamed, may be NULL, counts pairs whose names differ),
 * or by layer name. */
rt_status rt_model_weights_load(rt_model *m, const char *path, int by_name, int *renamed);
/* Keras save_weights: a Keras-compatible HDF5 file. */
rt_status rt_model_weights_save(rt_model *m, const char *path);
/* One weight by layer name and var ("kernel", "beta", ...), as host
 * memory: on the CPU the weight itself (writes change the model); on a GPU
 * a copy owned by the model, valid until the next call or a change of the
 * model (change weights with rt_model_weight_set). */
rt_status rt_model_weight_get(rt_model *m, const char *layer, const char *var,
                              float **data /* borrowed */, int64_t *numel);
/* Overwrite one weight with numel host floats (numel must match). */
rt_status rt_model_weight_set(rt_model *m, const char *layer, const char *var,
                              const float *data, int64_t numel);

/* ---- devices ---- */
/* The device the model's weights live on (device.h: the session's device
 * when it was built; moved with the session). */
rt_device rt_model_device(const rt_model *m);

/* ---- internals shared by graph.c, model_io.c and train.c ---- */
typedef struct rt_model_parts {
    int n;
    rt_model *part[2]; /* a composed model: backbone, top; else the model */
} rt_model_parts;
void rt_model_parts_get(rt_model *m, rt_model_parts *p);
int rt_model_node_count(const rt_model *m);
rt_layer *rt_model_node(rt_model *m, int i);
int rt_model_output_node(const rt_model *m);
/* Parameter / gradient slabs (n_params), NULL before build; grads may be
 * allocated with rt_model_grads_ensure. Borrowed; device memory (not to be
 * read by the host) when rt_model_device is not the CPU. */
float *rt_model_params(rt_model *m);
float *rt_model_grads(rt_model *m);
int64_t rt_model_param_total(const rt_model *m);
rt_status rt_model_grads_ensure(rt_model *m);
int rt_model_trainable_flag(const rt_model *m);
uint64_t rt_model_seed_get(const rt_model *m);
/* model.layers order: node indices of a functional/sequential model. */
const int *rt_model_order(const rt_model *m, int *n);

#endif
