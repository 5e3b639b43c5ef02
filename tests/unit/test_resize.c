/*
 * test_resize.c - resizing against Pillow's rules (reference section 3.2):
 * NEAREST's accumulated source index, worked out by hand for upscaling and
 * downscaling, including the exact-integer boundaries where the closed form
 * floor((k + 0.5) * n_in / n_out) picks another pixel; BILINEAR's triangle
 * filter with widened support, in 8-bit fixed point and in float.
 */
#include "check.h"
#include "resize.h"

#include <stdlib.h>

static void check_index(int n_in, int n_out, const int *want)
{
    int got[16];
    rt_resize_nearest_index(n_in, n_out, got);
    for (int k = 0; k < n_out; k++)
        if (got[k] != want[k]) {
            fprintf(stderr, "  %d -> %d: index %d is %d, want %d\n", n_in, n_out, k, got[k],
                    want[k]);
            CHECK(0);
            return;
        }
    CHECK(1);
}

static int closed_form(int k, int n_in, int n_out)
{
    return (int)floor((k + 0.5) * n_in / n_out);
}

static void test_nearest_index(void)
{
    /* Upscaling 2 -> 5: a = 0.4, positions 0.2 0.6 1.0 1.4 1.8. */
    check_index(2, 5, (const int[]){0, 0, 1, 1, 1});
    /* 3 -> 7: a = 3/7, positions 0.21 0.64 1.07 1.5 1.93 2.36 2.79. */
    check_index(3, 7, (const int[]){0, 0, 1, 1, 1, 2, 2});
    /* Downscaling 5 -> 2: a = 2.5, positions 1.25 3.75. */
    check_index(5, 2, (const int[]){1, 3});
    /* 10 -> 4: a = 2.5, positions 1.25 3.75 6.25 8.75. */
    check_index(10, 4, (const int[]){1, 3, 6, 8});
    /* 4 -> 10: a = 0.4; the 8th position is 0.2 + 7 * 0.4, which sums to
     * 2.9999999999999996 in doubles, so Pillow takes 2 where the closed
     * form (7.5 * 0.4 = 3.0 exactly) takes 3. */
    check_index(4, 10, (const int[]){0, 0, 1, 1, 1, 2, 2, 2, 3, 3});
    CHECK_INT(closed_form(7, 4, 10), 3);

    /* The dataset's 512 -> 299: at k = 149, 149.5 * 512 / 299 = 256 exactly,
     * but the accumulated sum stays just below: Pillow reads row 255. */
    int idx[299];
    rt_resize_nearest_index(512, 299, idx);
    CHECK_INT(closed_form(149, 512, 299), 256);
    CHECK_INT(idx[149], 255);
    CHECK_INT(idx[0], 0);   /* 0.856 */
    CHECK_INT(idx[1], 2);   /* 2.568 */
    CHECK_INT(idx[298], 511);
    int others = 0;
    for (int k = 0; k < 299; k++)
        others += k != 149 && idx[k] != closed_form(k, 512, 299);
    CHECK_INT(others, 0);
    /* 652 -> 299 has the same boundary at 149 (149.5 * 652 / 299 = 326). */
    rt_resize_nearest_index(652, 299, idx);
    CHECK_INT(closed_form(149, 652, 299), 326);
    CHECK_INT(idx[149], 325);
    /* Upscaling a small radiograph, 159 -> 299: monotone, covers 0 and 158. */
    rt_resize_nearest_index(159, 299, idx);
    int mono = 1;
    for (int k = 1; k < 299; k++)
        mono &= idx[k] >= idx[k - 1] && idx[k] - idx[k - 1] <= 1;
    CHECK(mono);
    CHECK_INT(idx[0], 0);
    CHECK_INT(idx[298], 158);
}

/* A 2-D image whose pixel encodes its coordinates. */
static void test_nearest_image(void)
{
    int h = 512, w = 652, oh = 299, ow = 299;
    float *src = malloc((size_t)h * w * 2 * sizeof *src);
    float *dst = malloc((size_t)oh * ow * 2 * sizeof *dst);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            src[((size_t)y * w + x) * 2] = (float)y;
            src[((size_t)y * w + x) * 2 + 1] = (float)x;
        }
    CHECK_INT(rt_resize(src, h, w, 2, dst, oh, ow, RT_RESIZE_NEAREST), RT_OK);
    int yi[299], xi[299], bad = 0;
    rt_resize_nearest_index(h, oh, yi);
    rt_resize_nearest_index(w, ow, xi);
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++)
            bad += dst[((size_t)y * ow + x) * 2] != yi[y] ||
                   dst[((size_t)y * ow + x) * 2 + 1] != xi[x];
    CHECK_INT(bad, 0);
    CHECK_NEAR(dst[(149 * ow + 149) * 2], 255, 0);
    CHECK_NEAR(dst[(149 * ow + 149) * 2 + 1], 325, 0);
    free(src);
    free(dst);
}

static void test_bilinear(void)
{
    float out[8];
    /* 2 -> 4 upscaling (one row): weights [1], [.75 .25], [.25 .75], [1]. */
    float up[2] = {0, 255};
    CHECK_INT(rt_resize(up, 1, 2, 1, out, 1, 4, RT_RESIZE_BILINEAR_FLOAT), RT_OK);
    CHECK_NEAR(out[0], 0, 0);
    CHECK_NEAR(out[1], 63.75, 1e-5);
    CHECK_NEAR(out[2], 191.25, 1e-5);
    CHECK_NEAR(out[3], 255, 0);
    /* 8-bit: 63.75 + the rounding half = 64.25 -> 64; 191.25 -> 191. */
    CHECK_INT(rt_resize(up, 1, 2, 1, out, 1, 4, RT_RESIZE_BILINEAR), RT_OK);
    CHECK_NEAR(out[1], 64, 0);
    CHECK_NEAR(out[2], 191, 0);
    /* Same along columns. */
    CHECK_INT(rt_resize(up, 2, 1, 1, out, 4, 1, RT_RESIZE_BILINEAR), RT_OK);
    CHECK_NEAR(out[1], 64, 0);
    CHECK_NEAR(out[2], 191, 0);

    /* 4 -> 2 downscaling: the support widens to 2 input pixels, so output 0
     * (centre 1.0) weighs inputs 0, 1, 2 by 0.75, 0.75, 0.25 -> 3/7 3/7 1/7
     * and output 1 (centre 3.0) inputs 1, 2, 3 by 1/7 3/7 3/7. */
    float down[4] = {0, 70, 140, 210};
    CHECK_INT(rt_resize(down, 1, 4, 1, out, 1, 2, RT_RESIZE_BILINEAR_FLOAT), RT_OK);
    CHECK_NEAR(out[0], 50, 1e-4);
    CHECK_NEAR(out[1], 160, 1e-4);
    CHECK_INT(rt_resize(down, 1, 4, 1, out, 1, 2, RT_RESIZE_BILINEAR), RT_OK);
    CHECK_NEAR(out[0], 50, 0);
    CHECK_NEAR(out[1], 160, 0);

    /* Separable, per channel: a 2x2 RGB image to 4x4, channel k scaled by k. */
    float img[2 * 2 * 3], big[4 * 4 * 3];
    const float corner[4] = {0, 100, 40, 200};
    for (int p = 0; p < 4; p++)
        for (int k = 0; k < 3; k++)
            img[p * 3 + k] = corner[p] * (k + 1) / 3.0f;
    CHECK_INT(rt_resize(img, 2, 2, 3, big, 4, 4, RT_RESIZE_BILINEAR_FLOAT), RT_OK);
    /* pixel (1, 1): .75/.25 both ways */
    double want = .75 * .75 * corner[0] + .75 * .25 * corner[1] + .25 * .75 * corner[2] +
                  .25 * .25 * corner[3];
    for (int k = 0; k < 3; k++)
        CHECK_NEAR(big[(1 * 4 + 1) * 3 + k], want * (k + 1) / 3.0, 1e-4);

    /* 8-bit: inputs are rounded and clamped first. */
    float wild[2] = {-20.0f, 300.0f};
    CHECK_INT(rt_resize(wild, 1, 2, 1, out, 1, 4, RT_RESIZE_BILINEAR), RT_OK);
    CHECK_NEAR(out[0], 0, 0);
    CHECK_NEAR(out[3], 255, 0);
}

static void test_misc(void)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6];
    /* Same size: a copy, whatever the filter. */
    CHECK_INT(rt_resize(a, 1, 2, 3, b, 1, 2, RT_RESIZE_BILINEAR), RT_OK);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK_INT(rt_resize(a, 1, 2, 3, b, 0, 2, RT_RESIZE_NEAREST), RT_ERR_ARG);
    CHECK_INT(rt_resize(a, 1, 2, 3, b, 1, 2, (rt_resize_filter)9), RT_OK); /* copy */
    CHECK_INT(rt_resize(a, 1, 2, 3, b, 2, 2, (rt_resize_filter)9), RT_ERR_ARG);
    CHECK_INT(rt_resize(a, 1, 2, 3, b, 100000, 2, RT_RESIZE_NEAREST), RT_ERR_NOMEM);

    rt_image *img, *out;
    CHECK_INT(rt_image_new(3, 5, 3, &img), RT_OK);
    for (int i = 0; i < 45; i++)
        img->data[i] = (float)i;
    CHECK_INT(rt_resize_image(img, 6, 10, RT_RESIZE_NEAREST, &out), RT_OK);
    CHECK_INT(out->h, 6);
    CHECK_INT(out->w, 10);
    CHECK_INT(out->c, 3);
    /* 2x upscaling repeats each pixel: (5, 9) comes from (2, 4) */
    CHECK_NEAR(out->data[(5 * 10 + 9) * 3 + 2], img->data[(2 * 5 + 4) * 3 + 2], 0);
    rt_image_free(out);
    rt_image_free(img);

    rt_resize_filter f;
    CHECK_INT(rt_resize_filter_parse("bilinear", &f), RT_OK);
    CHECK_INT(f, RT_RESIZE_BILINEAR);
    CHECK_INT(rt_resize_filter_parse("lanczos", &f), RT_ERR_ARG);
    CHECK(strstr(rt_error_message(), "nearest") != NULL);
}

int main(void)
{
    test_nearest_index();
    test_nearest_image();
    test_bilinear();
    test_misc();
    return CHECK_DONE();
}
