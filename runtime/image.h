/*
 * image.h - a decoded image: float32 pixels in (h, w, c) order, as Keras'
 * img_to_array gives them (values 0..255 straight from the file; rescaling
 * is the data generator's business). c is 1 (gray), 3 (RGB) or 4 (RGBA).
 *
 * Ownership: rt_image_new returns a new image through its out argument; the
 * caller frees it with rt_image_free, which owns `data`. Nothing here is
 * shared or refcounted: the tensor layer copies or wraps at its own seam.
 */
#ifndef HELLODL_IMAGE_H
#define HELLODL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "rt_status.h"

/* Limits that keep a hostile or absurd file from exhausting memory: each
 * side at most 65535 (as PNG decoders commonly cap), and at most
 * 89,478,485 pixels (Pillow's decompression-bomb threshold, about 1 GiB of
 * float RGB). */
#define RT_IMAGE_MAX_SIDE 65535
#define RT_IMAGE_MAX_PIXELS 89478485LL

typedef struct rt_image {
    int h, w, c;
    float *data; /* (h, w, c) */
} rt_image;

/* A zero-filled image. RT_ERR_ARG for a side < 1 or a channel count outside
 * 1..4, RT_ERR_NOMEM past the limits above or when allocation fails. */
rt_status rt_image_new(int h, int w, int c, rt_image **out);
void rt_image_free(rt_image *img);
/* A deep copy. */
rt_status rt_image_clone(const rt_image *src, rt_image **out);
/* Checks (h, w, c) against the limits above and returns h*w*c in *numel. */
rt_status rt_image_size_check(int h, int w, int c, size_t *numel);

#endif
