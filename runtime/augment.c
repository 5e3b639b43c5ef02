#include "augment.h"

#include <math.h>
#include <string.h>

#define AUG_PI 3.14159265358979323846

void rt_augment_init(rt_augment *a)
{
    memset(a, 0, sizeof *a);
    a->zoom_lo = 1.0;
    a->zoom_hi = 1.0;
    a->fill_mode = RT_FILL_NEAREST;
}

void rt_augment_zoom_set(rt_augment *a, double z)
{
    a->zoom_lo = 1.0 - z;
    a->zoom_hi = 1.0 + z;
}

static rt_status aug_range_check(const char *name, double v)
{
    if (!isfinite(v) || v < 0)
        return rt_error_set(RT_ERR_ARG, "%s must be a finite number >= 0, not %g", name, v);
    return RT_OK;
}

rt_status rt_augment_check(const rt_augment *a)
{
    rt_status st = RT_OK;
    if (!isfinite(a->rescale))
        return rt_error_set(RT_ERR_ARG, "rescale must be finite, not %g", a->rescale);
    if ((st = aug_range_check("rotation_range", a->rotation_range)) != RT_OK ||
        (st = aug_range_check("width_shift_range", a->width_shift_range)) != RT_OK ||
        (st = aug_range_check("height_shift_range", a->height_shift_range)) != RT_OK ||
        (st = aug_range_check("shear_range", a->shear_range)) != RT_OK)
        return st;
    if ((a->width_shift_int && a->width_shift_range != floor(a->width_shift_range)) ||
        (a->height_shift_int && a->height_shift_range != floor(a->height_shift_range)))
        return rt_error_set(RT_ERR_ARG, "an integer shift range must be a whole number");
    if (!isfinite(a->zoom_lo) || !isfinite(a->zoom_hi) || a->zoom_lo <= 0 ||
        a->zoom_hi < a->zoom_lo)
        return rt_error_set(RT_ERR_ARG,
                            "zoom_range must give 0 < lower <= upper, not [%g, %g] "
                            "(a single value z means [1 - z, 1 + z])",
                            a->zoom_lo, a->zoom_hi);
    if (a->fill_mode != RT_FILL_NEAREST && a->fill_mode != RT_FILL_CONSTANT)
        return rt_error_set(RT_ERR_ARG, "unknown fill_mode %d", (int)a->fill_mode);
    if (!isfinite(a->cval))
        return rt_error_set(RT_ERR_ARG, "cval must be finite, not %g", a->cval);
    return RT_OK;
}

int rt_augment_is_random(const rt_augment *a)
{
    return a->rotation_range != 0 || a->width_shift_range != 0 ||
           a->height_shift_range != 0 || a->shear_range != 0 || a->zoom_lo != 1.0 ||
           a->zoom_hi != 1.0 || a->horizontal_flip || a->vertical_flip;
}

void rt_transform_identity(rt_transform *t)
{
    memset(t, 0, sizeof *t);
    t->zx = 1.0;
    t->zy = 1.0;
}

/* One shift draw, in pixels, for a side of n pixels. */
static double aug_shift_draw(rt_rng *rng, double range, int is_int, int n)
{
    double v;
    if (is_int) {
        /* numpy: choice(range) * choice([-1, 1]) */
        v = (double)rt_rng_below(rng, (uint64_t)range);
        v *= rt_rng_below(rng, 2) ? 1.0 : -1.0;
    } else {
        v = rt_rng_between(rng, -range, range);
    }
    if (range < 1)
        v *= n;
    return v;
}

void rt_augment_draw(const rt_augment *a, rt_rng *rng, int h, int w, rt_transform *t)
{
    rt_transform_identity(t);
    if (a->rotation_range != 0)
        t->theta = rt_rng_between(rng, -a->rotation_range, a->rotation_range);
    if (a->height_shift_range != 0)
        t->tx = aug_shift_draw(rng, a->height_shift_range, a->height_shift_int, h);
    if (a->width_shift_range != 0)
        t->ty = aug_shift_draw(rng, a->width_shift_range, a->width_shift_int, w);
    if (a->shear_range != 0)
        t->shear = rt_rng_between(rng, -a->shear_range, a->shear_range);
    if (!(a->zoom_lo == 1.0 && a->zoom_hi == 1.0)) {
        t->zx = rt_rng_between(rng, a->zoom_lo, a->zoom_hi);
        t->zy = rt_rng_between(rng, a->zoom_lo, a->zoom_hi);
    }
    /* Both flip draws are always made, as Keras does, so that turning a
     * flip on or off does not shift the stream for the next image. */
    t->flip_h = (rt_rng_uniform(rng) < 0.5) && a->horizontal_flip;
    t->flip_v = (rt_rng_uniform(rng) < 0.5) && a->vertical_flip;
}

typedef struct aug_m3 {
    double m[3][3];
} aug_m3;

static aug_m3 aug_mul(const aug_m3 *x, const aug_m3 *y)
{
    aug_m3 r;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            r.m[i][j] = x->m[i][0] * y->m[0][j] + x->m[i][1] * y->m[1][j] +
                        x->m[i][2] * y->m[2][j];
    return r;
}

/* Compose the factors that are not the identity, in Keras' order R T S Z,
 * then centre them. Returns 0 when there is no affine part at all. */
static int aug_matrix(const rt_transform *t, int h, int w, aug_m3 *out)
{
    aug_m3 acc;
    int have = 0;
    aug_m3 f = {{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};
#define AUG_APPLY(fac) do { acc = have ? aug_mul(&acc, &(fac)) : (fac); have = 1; } while (0)
    if (t->theta != 0) {
        double th = t->theta * (AUG_PI / 180.0);
        aug_m3 r = {{{cos(th), -sin(th), 0}, {sin(th), cos(th), 0}, {0, 0, 1}}};
        AUG_APPLY(r);
    }
    if (t->tx != 0 || t->ty != 0) {
        aug_m3 s = f;
        s.m[0][2] = t->tx;
        s.m[1][2] = t->ty;
        AUG_APPLY(s);
    }
    if (t->shear != 0) {
        double sh = t->shear * (AUG_PI / 180.0);
        aug_m3 s = {{{1, -sin(sh), 0}, {0, cos(sh), 0}, {0, 0, 1}}};
        AUG_APPLY(s);
    }
    if (t->zx != 1 || t->zy != 1) {
        aug_m3 z = {{{t->zx, 0, 0}, {0, t->zy, 0}, {0, 0, 1}}};
        AUG_APPLY(z);
    }
#undef AUG_APPLY
    if (!have)
        return 0;
    /* offset . M . reset, about c = (h/2 + 0.5, w/2 + 0.5) */
    double ox = h / 2.0 + 0.5, oy = w / 2.0 + 0.5;
    aug_m3 off = f, reset = f;
    off.m[0][2] = ox;
    off.m[1][2] = oy;
    reset.m[0][2] = -ox;
    reset.m[1][2] = -oy;
    aug_m3 tmp = aug_mul(&off, &acc);
    *out = aug_mul(&tmp, &reset);
    return 1;
}

/* Bilinear sample of all channels at (r, q), already inside [0, h-1] x
 * [0, w-1]. */
static void aug_sample(const float *src, int h, int w, int c, double r, double q, float *out)
{
    int r0 = (int)r, q0 = (int)q; /* r, q >= 0: truncation is floor */
    double fr = r - r0, fq = q - q0;
    int r1 = r0 + 1 < h ? r0 + 1 : r0, q1 = q0 + 1 < w ? q0 + 1 : q0;
    const float *p00 = src + ((size_t)r0 * w + q0) * c, *p01 = src + ((size_t)r0 * w + q1) * c;
    const float *p10 = src + ((size_t)r1 * w + q0) * c, *p11 = src + ((size_t)r1 * w + q1) * c;
    for (int k = 0; k < c; k++) {
        double top = (1.0 - fq) * p00[k] + fq * p01[k];
        double bot = (1.0 - fq) * p10[k] + fq * p11[k];
        out[k] = (float)((1.0 - fr) * top + fr * bot);
    }
}

static double aug_clamp(double v, double hi)
{
    return v < 0 ? 0 : v > hi ? hi : v;
}

static void aug_affine(const rt_augment *a, const aug_m3 *m, const float *src, float *dst,
                       int h, int w, int c)
{
    float cval = (float)a->cval;
    for (int i = 0; i < h; i++) {
        for (int j = 0; j < w; j++) {
            double r = m->m[0][0] * i + m->m[0][1] * j + m->m[0][2];
            double q = m->m[1][0] * i + m->m[1][1] * j + m->m[1][2];
            float *out = dst + ((size_t)i * w + j) * c;
            if (a->fill_mode == RT_FILL_CONSTANT) {
                if (!(r >= 0 && r <= h - 1 && q >= 0 && q <= w - 1)) {
                    for (int k = 0; k < c; k++)
                        out[k] = cval;
                    continue;
                }
            } else {
                r = aug_clamp(r, h - 1);
                q = aug_clamp(q, w - 1);
            }
            aug_sample(src, h, w, c, r, q, out);
        }
    }
}

static void aug_swap_px(float *x, float *y, int c)
{
    for (int k = 0; k < c; k++) {
        float t = x[k];
        x[k] = y[k];
        y[k] = t;
    }
}

static void aug_flip(float *x, int h, int w, int c, int flip_h, int flip_v)
{
    if (flip_h)
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w / 2; j++)
                aug_swap_px(x + ((size_t)i * w + j) * c, x + ((size_t)i * w + w - 1 - j) * c, c);
    if (flip_v)
        for (int i = 0; i < h / 2; i++)
            aug_swap_px(x + (size_t)i * w * c, x + (size_t)(h - 1 - i) * w * c, w * c);
}

void rt_augment_apply(const rt_augment *a, const rt_transform *t, const float *src,
                      float *dst, int h, int w, int c)
{
    aug_m3 m;
    if (aug_matrix(t, h, w, &m))
        aug_affine(a, &m, src, dst, h, w, c);
    else
        memcpy(dst, src, (size_t)h * w * c * sizeof(float));
    aug_flip(dst, h, w, c, t->flip_h, t->flip_v);
}

void rt_augment_standardize(const rt_augment *a, float *x, size_t n)
{
    if (a->rescale == 0)
        return;
    float s = (float)a->rescale; /* numpy multiplies float32 by fl32(rescale) */
    for (size_t i = 0; i < n; i++)
        x[i] *= s;
}

void rt_augment_image(const rt_augment *a, rt_rng *rng, const float *src, float *dst, int h,
                      int w, int c)
{
    rt_transform t;
    rt_augment_draw(a, rng, h, w, &t);
    rt_augment_apply(a, &t, src, dst, h, w, c);
    rt_augment_standardize(a, dst, (size_t)h * w * c);
}

rt_status rt_fill_mode_parse(const char *name, rt_fill_mode *mode)
{
    if (strcmp(name, "nearest") == 0)
        *mode = RT_FILL_NEAREST;
    else if (strcmp(name, "constant") == 0)
        *mode = RT_FILL_CONSTANT;
    else
        return rt_error_set(RT_ERR_ARG,
                            "fill_mode \"%s\" is not supported: use \"nearest\" or "
                            "\"constant\"", name);
    return RT_OK;
}
