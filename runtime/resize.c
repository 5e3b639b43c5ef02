#include "resize.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Fixed-point precision of 8-bit resampling: 32 bits less 8 for the pixel
 * and 2 of headroom, as Pillow. */
#define RS_PRECISION_BITS 22

void rt_resize_nearest_index(int n_in, int n_out, int *idx)
{
    double a = (double)n_in / n_out;
    double pos = a * 0.5;
    for (int k = 0; k < n_out; k++) {
        int i = (int)pos;
        idx[k] = i < n_in ? i : n_in - 1; /* cannot happen; guards rounding */
        pos += a;
    }
}

static rt_status resize_nearest(const float *src, int w, int c, float *dst, int h, int oh,
                                int ow)
{
    int *yi = malloc((size_t)oh * sizeof *yi);
    int *xi = malloc((size_t)ow * sizeof *xi);
    if (!yi || !xi) {
        free(yi);
        free(xi);
        return rt_error_set(RT_ERR_NOMEM, "out of memory resizing an image");
    }
    rt_resize_nearest_index(h, oh, yi);
    rt_resize_nearest_index(w, ow, xi);
    for (int y = 0; y < oh; y++) {
        const float *row = src + (size_t)yi[y] * w * c;
        float *out = dst + (size_t)y * ow * c;
        for (int x = 0; x < ow; x++)
            memcpy(out + (size_t)x * c, row + (size_t)xi[x] * c, (size_t)c * sizeof(float));
    }
    free(yi);
    free(xi);
    return RT_OK;
}

/* ---- Pillow's separable convolution resampling with a triangle filter ---- */

typedef struct rs_coeffs {
    int ksize;
    int *bounds;  /* (n_out, 2) first source index, number of taps */
    double *k;    /* (n_out, ksize) normalised weights */
    int32_t *ki;  /* (n_out, ksize) the same in fixed point */
} rs_coeffs;

static double rs_triangle(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

static void rs_coeffs_free(rs_coeffs *cf)
{
    free(cf->bounds);
    free(cf->k);
    free(cf->ki);
}

static rt_status rs_coeffs_compute(int n_in, int n_out, rs_coeffs *cf)
{
    double scale = (double)n_in / n_out;
    double fscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * fscale; /* the triangle's support is 1 */
    int ksize = (int)ceil(support) * 2 + 1;
    cf->ksize = ksize;
    cf->bounds = malloc((size_t)n_out * 2 * sizeof *cf->bounds);
    cf->k = calloc((size_t)n_out * ksize, sizeof *cf->k);
    cf->ki = calloc((size_t)n_out * ksize, sizeof *cf->ki);
    if (!cf->bounds || !cf->k || !cf->ki) {
        rs_coeffs_free(cf);
        return rt_error_set(RT_ERR_NOMEM, "out of memory resizing an image");
    }
    for (int o = 0; o < n_out; o++) {
        double center = (o + 0.5) * scale;
        int lo = (int)(center - support + 0.5);
        int hi = (int)(center + support + 0.5);
        if (lo < 0)
            lo = 0;
        if (hi > n_in)
            hi = n_in;
        double *k = cf->k + (size_t)o * ksize, sum = 0.0;
        for (int i = 0; i < hi - lo; i++) {
            k[i] = rs_triangle((i + lo - center + 0.5) / fscale);
            sum += k[i];
        }
        for (int i = 0; i < hi - lo; i++) {
            if (sum != 0.0)
                k[i] /= sum;
            double f = k[i] * (1 << RS_PRECISION_BITS);
            cf->ki[(size_t)o * ksize + i] = (int32_t)(f < 0 ? f - 0.5 : f + 0.5);
        }
        cf->bounds[2 * o] = lo;
        cf->bounds[2 * o + 1] = hi - lo;
    }
    return RT_OK;
}

static uint8_t rs_clip8(int32_t ss)
{
    if (ss < 0)
        return 0;
    ss >>= RS_PRECISION_BITS;
    return ss > 255 ? 255 : (uint8_t)ss;
}

/* One 8-bit pass along an axis: n_out outputs per line from lines of n_in
 * samples; `step` is the distance between neighbouring samples of a line
 * and `lstride` between lines, both in elements (so rows and columns share
 * the code). */
static void rs_pass8(const uint8_t *in, uint8_t *out, int lines, int n_out, size_t in_step,
                     size_t in_lstride, size_t out_step, size_t out_lstride,
                     const rs_coeffs *cf)
{
    for (int l = 0; l < lines; l++) {
        const uint8_t *line = in + l * in_lstride;
        for (int o = 0; o < n_out; o++) {
            int lo = cf->bounds[2 * o], n = cf->bounds[2 * o + 1];
            const int32_t *k = cf->ki + (size_t)o * cf->ksize;
            int32_t ss = 1 << (RS_PRECISION_BITS - 1);
            for (int i = 0; i < n; i++)
                ss += line[(size_t)(lo + i) * in_step] * k[i];
            out[l * out_lstride + o * out_step] = rs_clip8(ss);
        }
    }
}

static void rs_passf(const float *in, float *out, int lines, int n_out, size_t in_step,
                     size_t in_lstride, size_t out_step, size_t out_lstride,
                     const rs_coeffs *cf)
{
    for (int l = 0; l < lines; l++) {
        const float *line = in + l * in_lstride;
        for (int o = 0; o < n_out; o++) {
            int lo = cf->bounds[2 * o], n = cf->bounds[2 * o + 1];
            const double *k = cf->k + (size_t)o * cf->ksize;
            double ss = 0.0;
            for (int i = 0; i < n; i++)
                ss += line[(size_t)(lo + i) * in_step] * k[i];
            out[l * out_lstride + o * out_step] = (float)ss;
        }
    }
}

/* Horizontal pass over every row and channel, then the vertical pass, as
 * Pillow orders them (the 8-bit intermediate is rounded). */
static rt_status resize_bilinear(const float *src, int h, int w, int c, float *dst, int oh,
                                 int ow, int eight_bit)
{
    rs_coeffs ch = {0}, cv = {0};
    rt_status st = rs_coeffs_compute(w, ow, &ch);
    if (st == RT_OK)
        st = rs_coeffs_compute(h, oh, &cv);
    size_t n_in = (size_t)h * w * c, n_mid = (size_t)h * ow * c, n_out = (size_t)oh * ow * c;
    size_t esz = eight_bit ? 1 : sizeof(float);
    void *a = st == RT_OK ? malloc(n_in * esz) : NULL;
    void *b = a ? malloc(n_mid * esz) : NULL;
    void *o = b ? malloc(n_out * esz) : NULL;
    if (!o) {
        free(a);
        free(b);
        rs_coeffs_free(&ch);
        rs_coeffs_free(&cv);
        return st != RT_OK ? st : rt_error_set(RT_ERR_NOMEM, "out of memory resizing an image");
    }
    for (int k = 0; k < c; k++) {
        /* channel k: lines are rows (step c) then columns (step ow * c) */
        if (eight_bit) {
            uint8_t *a8 = a, *b8 = b, *o8 = o;
            if (k == 0)
                for (size_t i = 0; i < n_in; i++) {
                    float v = src[i];
                    a8[i] = v >= 255.0f ? 255 : v > 0.0f ? (uint8_t)lrintf(v) : 0;
                }
            rs_pass8(a8 + k, b8 + k, h, ow, c, (size_t)w * c, c, (size_t)ow * c, &ch);
            rs_pass8(b8 + k, o8 + k, ow, oh, (size_t)ow * c, c, (size_t)ow * c, c, &cv);
        } else {
            rs_passf(src + k, (float *)b + k, h, ow, c, (size_t)w * c, c, (size_t)ow * c, &ch);
            rs_passf((float *)b + k, dst + k, ow, oh, (size_t)ow * c, c, (size_t)ow * c, c, &cv);
        }
    }
    if (eight_bit)
        for (size_t i = 0; i < n_out; i++)
            dst[i] = ((uint8_t *)o)[i];
    free(a);
    free(b);
    free(o);
    rs_coeffs_free(&ch);
    rs_coeffs_free(&cv);
    return RT_OK;
}

rt_status rt_resize(const float *src, int h, int w, int c, float *dst, int oh, int ow,
                    rt_resize_filter filter)
{
    size_t n_in = 0, n_out = 0;
    rt_status st = rt_image_size_check(h, w, c, &n_in);
    if (st == RT_OK)
        st = rt_image_size_check(oh, ow, c, &n_out);
    if (st != RT_OK)
        return st;
    if (h == oh && w == ow) {
        memcpy(dst, src, n_in * sizeof(float));
        return RT_OK;
    }
    switch (filter) {
    case RT_RESIZE_NEAREST: return resize_nearest(src, w, c, dst, h, oh, ow);
    case RT_RESIZE_BILINEAR: return resize_bilinear(src, h, w, c, dst, oh, ow, 1);
    case RT_RESIZE_BILINEAR_FLOAT: return resize_bilinear(src, h, w, c, dst, oh, ow, 0);
    }
    return rt_error_set(RT_ERR_ARG, "unknown resize filter %d", (int)filter);
}

rt_status rt_resize_image(const rt_image *src, int oh, int ow, rt_resize_filter filter,
                          rt_image **out)
{
    rt_status st = rt_image_new(oh, ow, src->c, out);
    if (st != RT_OK)
        return st;
    st = rt_resize(src->data, src->h, src->w, src->c, (*out)->data, oh, ow, filter);
    if (st != RT_OK) {
        rt_image_free(*out);
        *out = NULL;
    }
    return st;
}

rt_status rt_resize_filter_parse(const char *name, rt_resize_filter *filter)
{
    if (strcmp(name, "nearest") == 0)
        *filter = RT_RESIZE_NEAREST;
    else if (strcmp(name, "bilinear") == 0)
        *filter = RT_RESIZE_BILINEAR;
    else
        return rt_error_set(RT_ERR_ARG,
                            "interpolation \"%s\" is not supported: use \"nearest\" or "
                            "\"bilinear\"", name);
    return RT_OK;
}
