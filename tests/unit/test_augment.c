/*
 * test_augment.c - ImageDataGenerator's transform against the reference's
 * facts (section 3.3/3.4): the centre (150, 150) for 299 x 299, a positive
 * tx moving content up, zoom above 1 zooming out, shear in degrees, flips
 * after the affine step, fill modes, the order and ranges of the random
 * draws, and the rescale by multiplication with fl32(1/255).
 */
#include "augment.h"
#include "check.h"

#include <stdlib.h>

enum { H = 299, W = 299 };

/* A 299 x 299 two-channel image: channel 0 is the row, 1 the column, so
 * bilinear sampling returns the sampled coordinates themselves. */
static float *coord_image(void)
{
    float *x = malloc((size_t)H * W * 2 * sizeof *x);
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            x[((size_t)i * W + j) * 2] = (float)i;
            x[((size_t)i * W + j) * 2 + 1] = (float)j;
        }
    return x;
}

static float at(const float *x, int i, int j, int k)
{
    return x[((size_t)i * W + j) * 2 + k];
}

static void test_geometry(void)
{
    rt_augment a;
    rt_augment_init(&a);
    float *src = coord_image(), *dst = malloc((size_t)H * W * 2 * sizeof *dst);
    rt_transform t;

    /* 180 degrees about c = (150, 150): (i, j) samples (300 - i, 300 - j),
     * so (150, 150) stays and (149, 149) shows (151, 151). About the grid
     * centre (149, 149) it would show (149, 149). */
    rt_transform_identity(&t);
    t.theta = 180;
    rt_augment_apply(&a, &t, src, dst, H, W, 2);
    CHECK_NEAR(at(dst, 150, 150, 0), 150, 1e-3);
    CHECK_NEAR(at(dst, 149, 149, 0), 151, 1e-3);
    CHECK_NEAR(at(dst, 149, 149, 1), 151, 1e-3);
    CHECK_NEAR(at(dst, 10, 20, 0), 290, 1e-3);
    CHECK_NEAR(at(dst, 10, 20, 1), 280, 1e-3);
    /* fill nearest: (0, 0) would sample (300, 300), clamped to 298 */
    CHECK_NEAR(at(dst, 0, 0, 0), 298, 1e-3);

    /* 90 degrees: r = -(j - 150) + 150, q = (i - 150) + 150 */
    t.theta = 90;
    rt_augment_apply(&a, &t, src, dst, H, W, 2);
    CHECK_NEAR(at(dst, 100, 40, 0), 260, 1e-3);
    CHECK_NEAR(at(dst, 100, 40, 1), 100, 1e-3);

    /* tx > 0 moves content UP: output row i shows input row i + tx; ty
     * works on columns. Fractional shifts interpolate. */
    rt_transform_identity(&t);
    t.tx = 10.25;
    t.ty = -3;
    rt_augment_apply(&a, &t, src, dst, H, W, 2);
    CHECK_NEAR(at(dst, 100, 100, 0), 110.25, 1e-4);
    CHECK_NEAR(at(dst, 100, 100, 1), 97, 1e-4);
    CHECK_NEAR(at(dst, 295, 1, 0), 298, 1e-4); /* beyond the edge: clamped */
    CHECK_NEAR(at(dst, 295, 1, 1), 0, 1e-4);
    /* constant fill gives cval wherever the sample leaves [0, n-1] */
    a.fill_mode = RT_FILL_CONSTANT;
    a.cval = -7;
    rt_augment_apply(&a, &t, src, dst, H, W, 2);
    CHECK_NEAR(at(dst, 288, 100, 0), -7, 0); /* would sample row 298.25 */
    CHECK_NEAR(at(dst, 287, 100, 0), 297.25, 1e-4);
    CHECK_NEAR(at(dst, 100, 2, 1), -7, 0);
    CHECK_NEAR(at(dst, 100, 3, 1), 0, 1e-4);
    a.fill_mode = RT_FILL_NEAREST;
    a.cval = 0;

    /* zoom 2 on rows zooms OUT: row i samples 2 (i - 150) + 150 */
    rt_transform_identity(&t);
    t.zx = 2;
    t.zy = 0.5;
    rt_augment_apply(&a, &t, src, dst, H, W, 2);
    CHECK_NEAR(at(dst, 100, 100, 0), 50, 1e-4);
    CHECK_NEAR(at(dst, 100, 100, 1), 125, 1e-4);

    /* shear is in degrees: 0.2 deg moves a pixel 150 columns from the
     * centre by 150 sin(0.2 deg) = 0.5236 rows; in radians it would be 30. */
    rt_transform_identity(&t);
    t.shear = 0.2;
    rt_augment_apply(&a, &t, src, dst, H, W, 2);
    CHECK_NEAR(at(dst, 100, 0, 0), 100 + 150 * sin(0.2 * 3.14159265358979 / 180), 1e-4);
    CHECK_NEAR(at(dst, 100, 0, 1), 150 - 150 * cos(0.2 * 3.14159265358979 / 180), 1e-4);

    /* flips come after the affine part: shift, then mirror the columns */
    rt_transform_identity(&t);
    t.tx = 5;
    t.flip_h = 1;
    rt_augment_apply(&a, &t, src, dst, H, W, 2);
    CHECK_NEAR(at(dst, 10, 0, 0), 15, 1e-4);
    CHECK_NEAR(at(dst, 10, 0, 1), 298, 1e-4);
    t.flip_v = 1;
    rt_augment_apply(&a, &t, src, dst, H, W, 2);
    CHECK_NEAR(at(dst, 0, 0, 0), 298, 1e-4); /* row 298 showed row 298 + 5, clamped */
    CHECK_NEAR(at(dst, 10, 0, 0), 293, 1e-4);

    /* no affine part: the pixels are copied, bit for bit */
    rt_transform_identity(&t);
    rt_augment_apply(&a, &t, src, dst, H, W, 2);
    CHECK(memcmp(src, dst, (size_t)H * W * 2 * sizeof *src) == 0);
    free(src);
    free(dst);
}

static void test_draws(void)
{
    rt_augment a;
    rt_augment_init(&a);
    a.rotation_range = 20;
    a.height_shift_range = 0.2;
    a.width_shift_range = 0.1;
    a.shear_range = 0.2;
    rt_augment_zoom_set(&a, 0.2);
    a.horizontal_flip = 1;
    CHECK(rt_augment_is_random(&a));
    CHECK_INT(rt_augment_check(&a), RT_OK);

    /* the draw order of get_random_transform */
    rt_rng r, m;
    rt_rng_seed(&r, 7);
    m = r;
    rt_transform t;
    rt_augment_draw(&a, &r, H, W, &t);
    CHECK_NEAR(t.theta, rt_rng_between(&m, -20, 20), 0);
    CHECK_NEAR(t.tx, rt_rng_between(&m, -0.2, 0.2) * H, 0);
    CHECK_NEAR(t.ty, rt_rng_between(&m, -0.1, 0.1) * W, 0);
    CHECK_NEAR(t.shear, rt_rng_between(&m, -0.2, 0.2), 0);
    CHECK_NEAR(t.zx, rt_rng_between(&m, 0.8, 1.2), 0);
    CHECK_NEAR(t.zy, rt_rng_between(&m, 0.8, 1.2), 0);
    CHECK_INT(t.flip_h, rt_rng_uniform(&m) < 0.5);
    rt_rng_uniform(&m); /* flip_v: always drawn */
    CHECK(memcmp(&m, &r, sizeof m) == 0);

    /* unset ranges draw nothing; the two flips always draw */
    rt_augment none;
    rt_augment_init(&none);
    CHECK(!rt_augment_is_random(&none));
    m = r;
    rt_augment_draw(&none, &r, H, W, &t);
    rt_rng_uniform(&m);
    rt_rng_uniform(&m);
    CHECK(memcmp(&m, &r, sizeof m) == 0);
    CHECK(t.theta == 0 && t.tx == 0 && t.zx == 1 && t.zy == 1 && !t.flip_h && !t.flip_v);

    /* ranges and independence over many draws */
    double sum_th = 0, sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
    int flips = 0, out_of_range = 0, n = 20000;
    for (int i = 0; i < n; i++) {
        rt_augment_draw(&a, &r, H, W, &t);
        out_of_range += fabs(t.theta) > 20 || fabs(t.tx) > 59.8 || fabs(t.ty) > 29.9 ||
                        fabs(t.shear) > 0.2 || t.zx < 0.8 || t.zx > 1.2 || t.zy < 0.8 ||
                        t.zy > 1.2 || t.flip_v;
        sum_th += t.theta;
        flips += t.flip_h;
        sx += t.zx, sy += t.zy, sxy += t.zx * t.zy, sxx += t.zx * t.zx, syy += t.zy * t.zy;
    }
    CHECK_INT(out_of_range, 0);
    CHECK_NEAR(sum_th / n, 0, 0.5);
    CHECK_NEAR((double)flips / n, 0.5, 0.02);
    double corr = (sxy / n - sx / n * sy / n) /
                  sqrt((sxx / n - sx * sx / n / n) * (syy / n - sy * sy / n / n));
    CHECK_NEAR(corr, 0, 0.05); /* zx and zy independent: aspect changes */

    /* integer shift ranges are pixels: choice(0..r-1) times +-1 */
    rt_augment_init(&a);
    a.width_shift_range = 10;
    a.width_shift_int = 1;
    int seen[21] = {0}, bad = 0;
    for (int i = 0; i < 5000; i++) {
        rt_augment_draw(&a, &r, H, W, &t);
        bad += t.ty != floor(t.ty) || fabs(t.ty) > 9;
        if (!bad)
            seen[(int)t.ty + 10]++;
    }
    CHECK_INT(bad, 0);
    CHECK(seen[1] > 0 && seen[19] > 0 && seen[0] == 0 && seen[20] == 0);
    /* a float range of 1 or more is pixels too, uniformly */
    a.width_shift_int = 0;
    a.width_shift_range = 4.0;
    rt_augment_draw(&a, &r, H, W, &t);
    CHECK(fabs(t.ty) <= 4.0);
}

static void test_rescale_and_checks(void)
{
    /* fl32(1/255) times v differs from v / 255 for 126 of the 256 values */
    rt_augment a;
    rt_augment_init(&a);
    a.rescale = 1.0 / 255;
    float v[256];
    for (int i = 0; i < 256; i++)
        v[i] = (float)i;
    rt_augment_standardize(&a, v, 256);
    int differ = 0;
    for (int i = 0; i < 256; i++)
        differ += v[i] != (float)i / 255.0f;
    CHECK_INT(differ, 126);
    CHECK_NEAR(v[3], 3.0f * 0.003921568859368563f, 0); /* a float product */

    /* the whole per-image step with a seed is reproducible */
    float src[8 * 8 * 3], d1[8 * 8 * 3], d2[8 * 8 * 3];
    for (int i = 0; i < 192; i++)
        src[i] = (float)(i * 7 % 256);
    a.rotation_range = 30;
    rt_augment_zoom_set(&a, 0.3);
    rt_rng r1, r2;
    rt_rng_seed(&r1, 99);
    rt_rng_seed(&r2, 99);
    rt_augment_image(&a, &r1, src, d1, 8, 8, 3);
    rt_augment_image(&a, &r2, src, d2, 8, 8, 3);
    CHECK(memcmp(d1, d2, sizeof d1) == 0);
    int in_range = 1;
    for (int i = 0; i < 192; i++)
        in_range &= d1[i] >= 0 && d1[i] <= 1;
    CHECK(in_range);

    rt_augment_init(&a);
    a.rotation_range = -1;
    CHECK_INT(rt_augment_check(&a), RT_ERR_ARG);
    CHECK(strstr(rt_error_message(), "rotation_range") != NULL);
    rt_augment_init(&a);
    rt_augment_zoom_set(&a, 1.5); /* [-0.5, 2.5] */
    CHECK_INT(rt_augment_check(&a), RT_ERR_ARG);
    CHECK(strstr(rt_error_message(), "zoom_range") != NULL);
    rt_augment_init(&a);
    a.shear_range = NAN;
    CHECK_INT(rt_augment_check(&a), RT_ERR_ARG);
    rt_fill_mode fm;
    CHECK_INT(rt_fill_mode_parse("constant", &fm), RT_OK);
    CHECK_INT(fm, RT_FILL_CONSTANT);
    CHECK_INT(rt_fill_mode_parse("reflect", &fm), RT_ERR_ARG);
}

int main(void)
{
    test_geometry();
    test_draws();
    test_rescale_and_checks();
    return CHECK_DONE();
}
