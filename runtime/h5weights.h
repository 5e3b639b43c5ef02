/*
 * h5weights.h - Keras weights-only HDF5 files (model.save_weights /
 * load_weights, keras.applications' *_notop.h5), read and written with
 * libhdf5, described in memory as layers -> weights -> (shape, float32
 * data). Reference section 2 gives the layout:
 *
 *   /                     attrs layer_names (all layers, in model.layers
 *                         order), backend, keras_version
 *   /<layer>              attr weight_names (layer.weights order; an empty
 *                         float64 array for a layer without weights)
 *   /<layer>/<weight>     float32 dataset, e.g. conv2d_1/kernel:0, shape
 *                         (kh, kw, in, out); the '/' in the weight name
 *                         makes an intermediate group
 *
 * Reading accepts fixed- or variable-length strings, Keras' split
 * attributes (layer_names0, layer_names1, ... when over 64,512 bytes), a
 * full-model file's model_weights group, and any float dataset type
 * (converted to float32). Names come from the attributes, never built.
 * Writing produces what Keras 2.2 + h5py write: fixed-length NULL-padded
 * string attributes as wide as the longest name, split the same way when
 * large, contiguous little-endian float32 datasets, the earliest file
 * format, so that keras' load_weights opens the file. It writes to a
 * temporary name and renames, so a failed save leaves no half file.
 *
 * Matching a model against a file (rt_h5weights_match) follows
 * load_weights: positionally over the layers that have weights, or by
 * layer name; every mismatch is an error naming layers and shapes.
 *
 * Ownership: read/new return a new description freed by
 * rt_h5weights_free (which closes a file left open by
 * RT_H5_LAYOUT_ONLY). Data a weight was added with without copying stays
 * the caller's. Strings inside are owned by the description. HDF5's own
 * error printing is silenced while these functions run.
 */
#ifndef HELLODL_H5WEIGHTS_H
#define HELLODL_H5WEIGHTS_H

#include <stdint.h>

#include "rt_status.h"

#define RT_H5_MAX_DIMS 8

typedef struct rt_h5_shape {
    int ndim;
    int64_t dims[RT_H5_MAX_DIMS];
} rt_h5_shape;

typedef struct rt_h5_weight {
    char *name;        /* as in weight_names, e.g. "conv2d_1/kernel:0" */
    rt_h5_shape shape;
    int64_t count;     /* elements: product of the dims */
    float *data;       /* (shape) row-major; NULL after a layout-only read */
    int owns_data;
} rt_h5_weight;

typedef struct rt_h5_layer {
    char *name;
    int n_weights;
    rt_h5_weight *weights; /* (n_weights) */
    int cap;
} rt_h5_layer;

typedef struct rt_h5_weights {
    char *path;          /* the file read, for messages; NULL when built */
    char *backend;       /* NULL when the file has none */
    char *keras_version; /* NULL when the file has none */
    int n_layers;
    rt_h5_layer *layers; /* (n_layers) layer_names order, weightless included */
    int cap;
    int64_t file;        /* private: HDF5 file id while open, else -1 */
    char *group;         /* private: the group holding the layers */
} rt_h5_weights;

enum {
    RT_H5_LAYOUT_ONLY = 1 /* read names and shapes; keep the file open for
                             rt_h5weights_data_read */
};

/* Read a weights file. RT_ERR_IO when it cannot be opened, RT_ERR_FORMAT
 * when it is not HDF5 or not a Keras weights file (the message says what
 * is missing, naming file, layer and weight), RT_ERR_NOMEM beyond 2^31-1
 * elements in a tensor. */
rt_status rt_h5weights_read(const char *path, int flags, rt_h5_weights **out);
/* Read weight k of layer l into dst (count floats), after a layout-only
 * read. */
rt_status rt_h5weights_data_read(rt_h5_weights *w, int l, int k, float *dst /* (count) */);

/* An empty description to fill and write; backend "tensorflow" and
 * keras_version "2.2.4" unless changed (free and strdup the fields). */
rt_status rt_h5weights_new(rt_h5_weights **out);
/* Append a layer (weightless until weights are added); *index gets its
 * position. Layer names must be unique and free of '/'. */
rt_status rt_h5weights_layer_add(rt_h5_weights *w, const char *name, int *index);
/* Append a weight to layer l: data (shape) is copied when `copy`,
 * otherwise borrowed and must live until the description is freed. */
rt_status rt_h5weights_weight_add(rt_h5_weights *w, int l, const char *name,
                                  const rt_h5_shape *shape, const float *data, int copy);
rt_status rt_h5weights_write(const rt_h5_weights *w, const char *path);
void rt_h5weights_free(rt_h5_weights *w);

/* Totals over the file: layers with weights, tensors and elements. */
void rt_h5weights_count(const rt_h5_weights *w, int *weighted_layers, int *tensors,
                        int64_t *params);
/* Index of the layer called `name`, or -1. */
int rt_h5weights_layer_find(const rt_h5_weights *w, const char *name);

/* ---- matching a model's layers to a file ---- */

typedef struct rt_h5_expect {
    const char *layer;          /* the model's layer name */
    int n_weights;              /* 0 for a layer without weights */
    const rt_h5_shape *shapes;  /* (n_weights) in layer.weights order */
} rt_h5_expect;

typedef enum rt_h5_match_mode {
    RT_H5_POSITIONAL = 0, /* load_weights(): weighted layers paired in order */
    RT_H5_BY_NAME         /* load_weights(by_name=True) */
} rt_h5_match_mode;

/* file_layer (n_expect): the file layer whose weights go to each expected
 * layer, or -1 (a layer without weights; by name, a layer the file does
 * not have, which Keras skips). *renamed (may be NULL) counts positional
 * pairs whose names differ (Keras ignores names; a caller may warn).
 * Errors (RT_ERR_SHAPE): a different number of weighted layers, or of
 * weights in a pair, or a shape that differs - the message names both
 * layers, the weight, and both shapes. */
rt_status rt_h5weights_match(const rt_h5_weights *w, const rt_h5_expect *expect, int n_expect,
                             rt_h5_match_mode mode, int *file_layer /* (n_expect) */,
                             int *renamed);
/* "(3, 3, 80, 192)", "(32,)" into buf. */
const char *rt_h5_shape_format(const rt_h5_shape *s, char *buf, int n);

/* The loadable module's interface version, checked when it is loaded. */
#define RT_H5_MODULE_ABI 1

#endif
