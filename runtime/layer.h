/*
 * layer.h - one Keras layer: its configuration, its Keras name, its
 * trainable flag, its output shape and the place of its weights in the
 * owning model's parameter slab.
 *
 * A layer is a plain value inside its model (model.h owns the array);
 * nothing here allocates. Shapes exclude the batch axis: (h, w, c) for
 * images, (units) after Flatten / GlobalAveragePooling2D / Dense.
 *
 * Weights follow Keras' layer.weights order, which is also the order of
 * weight_names in an HDF5 file: Conv2D kernel (kh, kw, in, out) [, bias
 * (out)]; DepthwiseConv2D depthwise_kernel (kh, kw, in, mult) [, bias];
 * Dense kernel (in, units), bias (units); BatchNormalization [gamma,]
 * [beta,] moving_mean, moving_variance - the moving statistics are never
 * trainable.
 */
#ifndef HELLODL_LAYER_H
#define HELLODL_LAYER_H

#include <stdint.h>

#include "backend.h"
#include "rng.h"
#include "rt_status.h"

typedef enum rt_layer_kind {
    RT_LAYER_INPUT = 0,
    RT_LAYER_CONV2D,
    RT_LAYER_DEPTHWISE_CONV2D,
    RT_LAYER_BATCHNORM,
    RT_LAYER_ACTIVATION, /* Activation('relu'), or Keras' ReLU(6.) layer */
    RT_LAYER_MAXPOOL2D,
    RT_LAYER_AVGPOOL2D,
    RT_LAYER_GLOBAL_AVGPOOL2D,
    RT_LAYER_DENSE,
    RT_LAYER_DROPOUT,
    RT_LAYER_FLATTEN,
    RT_LAYER_CONCATENATE,
    RT_LAYER_ZEROPAD2D,
    RT_LAYER_KIND_COUNT
} rt_layer_kind;

typedef enum rt_activation {
    RT_ACT_LINEAR = 0,
    RT_ACT_RELU,
    RT_ACT_RELU6,
    RT_ACT_SIGMOID,
    RT_ACT_SOFTMAX
} rt_activation;

#define RT_NAME_MAX 64
#define RT_LAYER_MAX_WEIGHTS 4
#define RT_LAYER_MAX_INPUTS 4

typedef struct rt_layer_config {
    rt_layer_kind kind;
    int units;                       /* Dense */
    int filters;                     /* Conv2D */
    int k_h, k_w, stride_h, stride_w; /* Conv2D, DepthwiseConv2D, pools */
    rt_padding padding;
    int depth_multiplier;            /* DepthwiseConv2D */
    int use_bias;                    /* Conv2D, DepthwiseConv2D, Dense */
    rt_activation activation;        /* fused activation; Activation's own */
    float rate;                      /* Dropout */
    int scale, center;               /* BatchNormalization gamma / beta */
    float epsilon, momentum;         /* BatchNormalization */
    int pad_top, pad_bottom, pad_left, pad_right; /* ZeroPadding2D */
    int relu_layer;                  /* Activation shown as Keras' ReLU class */
} rt_layer_config;

typedef struct rt_weight {
    char var[24];        /* "kernel", "bias", "gamma", "moving_mean", ... */
    int ndim;
    int64_t shape[4];
    int64_t numel;
    int64_t offset;      /* in floats, into the model's parameter slab */
    int trainable;       /* 0 for moving statistics */
} rt_weight;

typedef struct rt_layer {
    char name[RT_NAME_MAX];
    rt_layer_config cfg;
    int trainable;                     /* Keras layer.trainable */
    int n_inputs;
    int inputs[RT_LAYER_MAX_INPUTS];   /* node indices in the model */
    int ndim;                          /* 1 or 3 */
    int64_t shape[3];                  /* output, without the batch axis */
    int n_weights;
    rt_weight w[RT_LAYER_MAX_WEIGHTS];
    int64_t bn_steps;                  /* BN moving updates applied so far */
    int64_t bn_steps_saved;            /* at the last device checkpoint */
} rt_layer;

/* Keras' defaults for a layer kind (Conv2D 'valid' stride 1 with bias,
 * BatchNormalization epsilon 1e-3 momentum 0.99 with gamma and beta, pools
 * 2x2 stride = pool size, Dense with bias, no activation). */
rt_layer_config rt_layer_config_default(rt_layer_kind kind);
/* Keras class name ("Conv2D") and auto-name stem ("conv2d"). */
const char *rt_layer_class_name(const rt_layer_config *cfg);
const char *rt_layer_name_stem(rt_layer_kind kind);
/* "relu", "sigmoid", ... and back (RT_ERR_ARG naming the bad name). */
const char *rt_activation_name(rt_activation a);
rt_status rt_activation_parse(const char *name, rt_activation *out);

/* Output shape and weight shapes from the inputs' shapes; offsets are
 * left for the model. RT_ERR_SHAPE names the layer and the shapes. */
rt_status rt_layer_infer(rt_layer *l, const rt_layer *const *inputs);
/* Parameters of the layer, all / trainable (Keras' count: trainable
 * weights of a trainable layer). */
int64_t rt_layer_param_count(const rt_layer *l);
int64_t rt_layer_trainable_count(const rt_layer *l, int model_trainable);
/* Keras' initial values: glorot_uniform kernels, zero biases, gamma 1,
 * beta 0, moving mean 0, moving variance 1. params is the model's slab. */
void rt_layer_weights_init(const rt_layer *l, float *params, rt_rng *rng);
/* Channels of a BN layer (its last axis). */
int rt_layer_channels(const rt_layer *l);

#endif
