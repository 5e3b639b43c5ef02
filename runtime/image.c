#include "image.h"

#include <stdlib.h>
#include <string.h>

rt_status rt_image_size_check(int h, int w, int c, size_t *numel)
{
    if (h < 1 || w < 1)
        return rt_error_set(RT_ERR_ARG, "image size %dx%d is not positive", w, h);
    if (c < 1 || c > 4)
        return rt_error_set(RT_ERR_ARG, "an image has 1 to 4 channels, not %d", c);
    if (h > RT_IMAGE_MAX_SIDE || w > RT_IMAGE_MAX_SIDE ||
        (long long)h * w > RT_IMAGE_MAX_PIXELS)
        return rt_error_set(RT_ERR_NOMEM,
                            "image size %dx%d exceeds the limit of %lld pixels "
                            "(%d per side)", w, h, RT_IMAGE_MAX_PIXELS, RT_IMAGE_MAX_SIDE);
    /* h*w <= 2^27 and c <= 4, so the product fits in size_t on every
     * platform we build for; the bytes below are at most 2 GiB. */
    *numel = (size_t)h * (size_t)w * (size_t)c;
    return RT_OK;
}

rt_status rt_image_new(int h, int w, int c, rt_image **out)
{
    size_t numel = 0;
    *out = NULL;
    rt_status st = rt_image_size_check(h, w, c, &numel);
    if (st != RT_OK)
        return st;
    rt_image *img = malloc(sizeof *img);
    float *data = calloc(numel, sizeof(float));
    if (!img || !data) {
        free(img);
        free(data);
        return rt_error_set(RT_ERR_NOMEM, "out of memory for a %dx%dx%d image", h, w, c);
    }
    img->h = h;
    img->w = w;
    img->c = c;
    img->data = data;
    *out = img;
    return RT_OK;
}

void rt_image_free(rt_image *img)
{
    if (!img)
        return;
    free(img->data);
    free(img);
}

rt_status rt_image_clone(const rt_image *src, rt_image **out)
{
    rt_status st = rt_image_new(src->h, src->w, src->c, out);
    if (st != RT_OK)
        return st;
    memcpy((*out)->data, src->data, (size_t)src->h * src->w * src->c * sizeof(float));
    return RT_OK;
}
