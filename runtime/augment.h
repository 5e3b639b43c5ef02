/*
 * augment.h - Keras' ImageDataGenerator random transform, on plain float
 * images (h, w, c), following keras-preprocessing's get_random_transform,
 * apply_transform and standardize (reference section 3.3/3.4):
 *
 *  - Draws, in this order, each only when its range is set: theta ~
 *    U(-rotation_range, rotation_range) degrees; tx from height_shift_range
 *    (rows, vertical); ty from width_shift_range (columns); shear ~
 *    U(-shear_range, shear_range) in DEGREES; (zx, zy) ~ U(zoom_lo, zoom_hi)
 *    independently, zx scaling rows. Then two flip draws that are always
 *    made: flip_h = U[0,1) < 0.5 when horizontal_flip, and likewise flip_v.
 *    A float shift range below 1 is a fraction of the side; 1 or more is
 *    pixels, U(-r, r). The integer form (shift_int set) is numpy's
 *    choice(r) * choice([-1, 1]): 0..r-1 pixels either way.
 *  - The transform maps OUTPUT pixel (i, j) to INPUT (r, q) =
 *    A ((i, j) - c) + c + R t, with M = R T S Z composed in Keras' order,
 *    A = R S Z and the centre c = (h/2 + 0.5, w/2 + 0.5), e.g. (150, 150)
 *    for 299 x 299 (not the pixel-grid centre). Zoom above 1 zooms OUT.
 *  - Sampling is scipy's affine_transform order 1, per channel, in double:
 *    fill "nearest" clamps the coordinate into [0, n-1] and interpolates
 *    bilinearly; "constant" gives cval wherever the coordinate lies outside
 *    [0, n-1] on either axis. No transform (all draws neutral) leaves the
 *    pixels untouched, as Keras skips the resampling.
 *  - Flips come after the affine step: columns reversed, then rows.
 *  - standardize multiplies by fl32(rescale) in float32 after the
 *    transform, so resampling works on 0..255 values as in Keras.
 * Not implemented (not used by the module): brightness_range,
 * channel_shift_range, featurewise/samplewise centring and normalisation,
 * ZCA, fill modes reflect and wrap.
 *
 * No allocation: the caller owns every buffer; src and dst must differ.
 * Randomness comes only from the rt_rng the caller passes.
 */
#ifndef HELLODL_AUGMENT_H
#define HELLODL_AUGMENT_H

#include <stddef.h>

#include "rng.h"
#include "rt_status.h"

typedef enum rt_fill_mode {
    RT_FILL_NEAREST = 0, /* Keras' default */
    RT_FILL_CONSTANT
} rt_fill_mode;

/* ImageDataGenerator's settings; rt_augment_init gives Keras' defaults. */
typedef struct rt_augment {
    double rescale;            /* 0 = None; applied after the transform */
    double rotation_range;     /* degrees */
    double width_shift_range;  /* < 1: fraction of the width; else pixels */
    double height_shift_range; /* < 1: fraction of the height; else pixels */
    int width_shift_int;       /* the range was given as an integer */
    int height_shift_int;
    double shear_range;        /* degrees (Keras >= 2.1.3) */
    double zoom_lo, zoom_hi;   /* zoom_range z means [1 - z, 1 + z] */
    int horizontal_flip, vertical_flip;
    rt_fill_mode fill_mode;
    double cval;               /* fill value for RT_FILL_CONSTANT */
} rt_augment;

/* One draw of the random transform (Keras' transform_parameters). */
typedef struct rt_transform {
    double theta;  /* rotation, degrees */
    double tx, ty; /* shift in pixels: tx rows (vertical), ty columns */
    double shear;  /* degrees */
    double zx, zy; /* zoom: zx rows, zy columns */
    int flip_h, flip_v;
} rt_transform;

void rt_augment_init(rt_augment *a);
/* zoom_range as Keras' single float: [1 - z, 1 + z]. */
void rt_augment_zoom_set(rt_augment *a, double z);
/* RT_ERR_ARG naming the setting when a range is negative or not finite,
 * or the zoom interval is empty or not positive. */
rt_status rt_augment_check(const rt_augment *a);
/* Whether any draw can change an image (validation generators and the
 * frozen-backbone feature cache ask this). */
int rt_augment_is_random(const rt_augment *a);
/* The identity transform. */
void rt_transform_identity(rt_transform *t);

/* get_random_transform for an h x w image. */
void rt_augment_draw(const rt_augment *a, rt_rng *rng, int h, int w, rt_transform *t);
/* apply_transform: dst = t(src), with a's fill mode. */
void rt_augment_apply(const rt_augment *a, const rt_transform *t,
                      const float *src /* (h, w, c) */, float *dst /* (h, w, c) */,
                      int h, int w, int c);
/* standardize: x *= fl32(rescale) when rescale is set. */
void rt_augment_standardize(const rt_augment *a, float *x /* (n) */, size_t n);
/* draw + apply + standardize, what the directory iterator does per image. */
void rt_augment_image(const rt_augment *a, rt_rng *rng, const float *src /* (h, w, c) */,
                      float *dst /* (h, w, c) */, int h, int w, int c);
/* "nearest" / "constant" -> mode; RT_ERR_ARG otherwise. */
rt_status rt_fill_mode_parse(const char *name, rt_fill_mode *mode);

#endif
