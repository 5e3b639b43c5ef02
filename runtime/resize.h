/*
 * resize.h - image resizing exactly as Pillow does it, so that images fed to
 * a model match what Keras' load_img(target_size=...) gives.
 *
 *  - NEAREST is Pillow's ImagingScaleAffine: for an axis of n_in -> n_out,
 *    a = (double)n_in / n_out and a running double pos = a / 2; output k
 *    takes source (int)pos, then pos += a. The sum is accumulated, not
 *    recomputed: the closed form floor((k + 0.5) * n_in / n_out) picks a
 *    different pixel at some exact-integer boundaries (512 -> 299 at 149).
 *  - BILINEAR is Pillow's convolution resampler on an 8-bit image: a
 *    triangle filter whose support widens by n_in / n_out when shrinking
 *    (so downscaling averages, as PIL's antialiasing does), coefficients
 *    normalised and held in 22-bit fixed point, a horizontal pass rounded
 *    to 8 bits, then a vertical pass. Inputs are rounded and clamped to
 *    0..255 first, outputs are integers 0..255.
 *    (Pillow premultiplies alpha for RGBA; we resample the 4 channels
 *    independently.)
 *  - BILINEAR_FLOAT is the same filter on Pillow's float ("F") images:
 *    double coefficients, no rounding, any values.
 * Resizing to the same size is a copy, as in Pillow.
 *
 * Buffers are the caller's: nothing is allocated except by
 * rt_resize_image, which returns a new image the caller frees.
 */
#ifndef HELLODL_RESIZE_H
#define HELLODL_RESIZE_H

#include "image.h"
#include "rt_status.h"

typedef enum rt_resize_filter {
    RT_RESIZE_NEAREST = 0,   /* Keras' default interpolation */
    RT_RESIZE_BILINEAR,      /* PIL on 8-bit images */
    RT_RESIZE_BILINEAR_FLOAT /* PIL on float images */
} rt_resize_filter;

/* dst (oh, ow, c) from src (h, w, c). RT_ERR_ARG for non-positive sizes,
 * RT_ERR_NOMEM when scratch memory runs out. */
rt_status rt_resize(const float *src /* (h, w, c) */, int h, int w, int c,
                    float *dst /* (oh, ow, c) */, int oh, int ow, rt_resize_filter filter);
/* A new image of oh x ow with src's channels. */
rt_status rt_resize_image(const rt_image *src, int oh, int ow, rt_resize_filter filter,
                          rt_image **out);
/* NEAREST's source index for each output index of one axis. */
void rt_resize_nearest_index(int n_in, int n_out, int *idx /* (n_out) */);
/* "nearest" / "bilinear" (Keras' interpolation names) -> filter; RT_ERR_ARG
 * naming the accepted values otherwise. */
rt_status rt_resize_filter_parse(const char *name, rt_resize_filter *filter);

#endif
