/*
 * applications.h - the ready-made models: Keras' InceptionV3 and MobileNet
 * v1 without their classifier tops (keras_applications 1.0.7, as Keras
 * 2.2.4 builds them: the same layers, names, creation order and
 * model.layers order, so Keras' weight files load positionally), and a
 * small CNN for training from scratch.
 *
 * Each returns a new, built model (a new reference) with Keras' initial
 * weights drawn from the default seed; load real weights with
 * rt_model_weights_load. Names come from the session counters (model.h):
 * in a fresh session InceptionV3's are conv2d_1 ... conv2d_94, as in the
 * weights file.
 */
#ifndef HELLODL_APPLICATIONS_H
#define HELLODL_APPLICATIONS_H

#include "model.h"

/* include_top=False, pooling=None: output (h', w', 2048), (8, 8, 2048) for
 * 299 x 299. Input sides at least 75 (Keras' minimum), 3 channels. */
rt_status rt_inception_v3_new(rt_model **out, int h, int w, int c);

/* alpha 0.25, 0.5, 0.75 or 1.0, depth multiplier 1; include_top=False,
 * pooling=None: output (h/32, w/32, 1024*alpha). Sides at least 32. */
rt_status rt_mobilenet_new(rt_model **out, int h, int w, int c, float alpha);

/* A Sequential for training from scratch: blocks of Conv2D(f, 3x3, relu,
 * 'same') + MaxPooling2D(2), f = base_filters * 2^i, then Flatten,
 * Dense(dense_units, relu), Dropout(0.5) and Dense(outputs, sigmoid when
 * outputs == 1 else softmax). */
rt_status rt_small_cnn_new(rt_model **out, int h, int w, int c, int blocks,
                           int base_filters, int dense_units, int outputs);

/* The module's classifier top, a Sequential: GlobalAveragePooling2D,
 * Dense(256, relu), Dropout(dropout_rate) (left out when the rate is 0, as
 * Subgroup B does) and Dense(1, sigmoid). New reference in *out. */
rt_status rt_module_top_new(rt_model **out, float dropout_rate);

#endif
