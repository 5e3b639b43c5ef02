/*
 * pngio.h - PNG decoding into float images and 8-bit encoding into memory,
 * with libpng. libpng's setjmp/longjmp never leaves pngio.c: every failure
 * comes back as an rt_status with a message naming the file.
 *
 * Decoding follows what Keras' load_img gets from PIL:
 *  - channels 3 is PIL's convert('RGB'): gray is copied into R, G and B;
 *    a palette goes through its colours; alpha (an alpha channel or a tRNS
 *    chunk) is DROPPED, not composited onto a background, so a fully
 *    transparent pixel keeps its stored colour.
 *  - channels 1 is convert('L'): colour becomes ITU-R 601-2 luma,
 *    (19595 R + 38470 G + 7471 B + 32768) >> 16, exactly as PIL rounds it;
 *    alpha is dropped.
 *  - channels 4 is convert('RGBA'): alpha from the alpha channel or from
 *    tRNS (palette entries or the gray/RGB colour key), otherwise 255.
 *  - Bit depths 1, 2 and 4 are scaled to 0..255 (a 1-bit 1 is 255).
 *    16-bit samples keep their high byte, as PIL does for 16-bit RGB(A).
 *    (PIL turns 16-bit grayscale into mode I and then clips everything
 *    above 255 to white; we take the high byte there too, on purpose.)
 *  - Interlaced (Adam7) files decode like plain ones. No gamma or colour
 *    profile is applied (PIL applies none either).
 * Values come back as floats 0..255, like img_to_array.
 *
 * Errors: RT_ERR_FORMAT for data that is not PNG, is corrupt or truncated
 * (the message names the file and says which); RT_ERR_NOMEM for images
 * beyond image.h's limits; RT_ERR_IO when a file cannot be read.
 *
 * Ownership: decoded images are new (rt_image_free); encoded buffers are
 * malloc'd and the caller frees them with free().
 */
#ifndef HELLODL_PNGIO_H
#define HELLODL_PNGIO_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "rt_status.h"

/* Decode PNG bytes. `name` names the data in messages (a path; NULL reads
 * as "PNG data"). channels is 1, 3 or 4 (see above). */
rt_status rt_png_decode(const void *buf, size_t len, const char *name, int channels,
                        rt_image **out);
/* Read the whole file and decode it. */
rt_status rt_png_load(const char *path, int channels, rt_image **out);
/* Width and height from the header alone (no pixel data is decoded). */
rt_status rt_png_size_read(const void *buf, size_t len, const char *name, int *h, int *w);

/* Encode 8-bit pixels (h, w, c) - c 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA -
 * as a non-interlaced 8-bit PNG into a new buffer *out of *out_len bytes. */
rt_status rt_png_encode(const uint8_t *pixels /* (h, w, c) */, int h, int w, int c,
                        uint8_t **out, size_t *out_len);
/* Encode a float image: values are rounded to the nearest integer and
 * clamped to 0..255 (NaN becomes 0); c 1, 2, 3 or 4 as above. */
rt_status rt_png_encode_image(const rt_image *img, uint8_t **out, size_t *out_len);
/* rt_png_encode_image, then write the bytes to `path`. */
rt_status rt_png_save(const rt_image *img, const char *path);

/* Read a whole file into a new buffer (caller frees); at most `max_bytes`.
 * Shared with the dataset code, which hashes files for duplicates. */
rt_status rt_file_read(const char *path, size_t max_bytes, uint8_t **out, size_t *out_len);

#endif
