/*
 * test_chart.c - the chart renderer (magics/chart.h): nice ticks, text
 * metrics, and a two-panel chart that decodes as a PNG of the right size
 * with the line colours, a legend holding text, and a title.
 *
 * `test_chart OUT.png` also writes the two-panel chart to OUT.png, to look
 * at it.
 */
#include "check.h"
#include "chart.h"
#include "pngio.h"

#include <stdio.h>
#include <stdlib.h>

static void test_ticks(void)
{
    chart_ticks t;
    chart_ticks_make(0.0, 1.0, 5, false, &t);
    CHECK_NEAR(t.first, 0.0, 1e-12);
    CHECK_NEAR(t.step, 0.2, 1e-12);
    CHECK_INT(t.n, 6);
    CHECK_INT(t.decimals, 1);
    chart_ticks_make(0.62, 1.03, 5, false, &t);      /* 0.7 .. 1.0 by 0.1 */
    CHECK_NEAR(t.first, 0.7, 1e-9);
    CHECK_NEAR(t.step, 0.1, 1e-12);
    CHECK_INT(t.n, 4);
    CHECK_INT(t.decimals, 1);
    chart_ticks_make(0.96, 1.004, 5, false, &t);     /* 0.96 .. 1.00 by 0.01 */
    CHECK_NEAR(t.step, 0.01, 1e-12);
    CHECK_INT(t.n, 5);
    CHECK_INT(t.decimals, 2);
    chart_ticks_make(0.6, 8.4, 8, true, &t);         /* epochs 1..8 */
    CHECK_NEAR(t.first, 1.0, 1e-12);
    CHECK_NEAR(t.step, 1.0, 1e-12);
    CHECK_INT(t.n, 8);
    CHECK_INT(t.decimals, 0);
    chart_ticks_make(0.9, 1.1, 5, true, &t);         /* one epoch: just 1 */
    CHECK_INT(t.n, 1);
    chart_ticks_make(0, 1234, 5, false, &t);
    CHECK_NEAR(t.step, 200, 1e-9);
}

static void test_text(void)
{
    CHECK_INT(chart_text_width("", 2), 0);
    CHECK_INT(chart_text_width("A", 1), 5);
    CHECK_INT(chart_text_width("AA", 2), 22);        /* (5 + 1 + 5) * 2 */
    CHECK_INT(chart_text_width("\xc3\xa9", 1), chart_text_width("?", 1)); /* UTF-8 as '?' */
    char buf[64];
    const char *s = chart_text_fit("validation accuracy", 1, 40, buf, sizeof buf);
    CHECK(chart_text_width(s, 1) <= 40);
    CHECK(strstr(s, "..") != NULL);
    chart_canvas *c = chart_canvas_new(120, 30, CHART_WHITE);
    CHECK(c != NULL);
    int w = chart_text(c, 2, 2, "Hello 0.95", 2, CHART_BLACK);
    CHECK_INT(w, chart_text_width("Hello 0.95", 2) + 2);
    int ink = 0;
    for (int i = 0; i < c->w * c->h; i++) ink += c->px[i * 3] == 0;
    CHECK(ink > 100);
    /* Drawing off the canvas is clipped, not a crash. */
    chart_text(c, -50, -5, "clipped", 3, CHART_BLACK);
    chart_line(c, -100, -100, 500, 500, 3, CHART_RED);
    chart_canvas_free(c);
}

/* Pixels of exactly this colour within the rectangle. */
static int count_color(const rt_image *img, int x, int y, int w, int h, chart_color col)
{
    int n = 0;
    for (int j = y; j < y + h && j < img->h; j++)
        for (int i = x; i < x + w && i < img->w; i++) {
            const float *p = img->data + ((size_t)j * (size_t)img->w + (size_t)i) * 3;
            n += (int)p[0] == (int)(col >> 16 & 255) && (int)p[1] == (int)(col >> 8 & 255) &&
                 (int)p[2] == (int)(col & 255);
        }
    return n;
}

static rt_status two_panels(uint8_t **png, size_t *len)
{
    static const double ep[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    static const double acc[8] = { 0.62, 0.78, 0.85, 0.9, 0.93, 0.95, 0.96, 0.97 };
    static const double vacc[8] = { 0.7, 0.8, 0.9, 0.9, 1.0, 1.0, 1.0, 1.0 };
    static const double loss[8] = { 0.66, 0.45, 0.33, 0.25, 0.2, 0.16, 0.13, 0.11 };
    static const double vloss[8] = { 0.58, 0.41, 0.3, 0.22, 0.15, 0.12, 0.1, 0.08 };
    chart_panel p[2];
    memset(p, 0, sizeof p);
    p[0] = (chart_panel){ .title = "Model accuracy", .xlabel = "epoch", .ylabel = "accuracy",
                          .nseries = 2, .integer_x = true, .vline_label = "fine-tuning",
                          .vline_x = 5.5 };
    p[0].series[0] = (chart_series){ "training", ep, acc, 8, CHART_BLUE, true };
    p[0].series[1] = (chart_series){ "validation", ep, vacc, 8, CHART_ORANGE, true };
    p[1] = (chart_panel){ .title = "Model loss", .xlabel = "epoch", .ylabel = "loss",
                          .nseries = 2, .integer_x = true };
    p[1].series[0] = (chart_series){ "training", ep, loss, 8, CHART_BLUE, true };
    p[1].series[1] = (chart_series){ "validation", ep, vloss, 8, CHART_ORANGE, true };
    return chart_panels_png(p, 2, 520, 400, png, len);
}

static void test_panels(const char *out_path)
{
    uint8_t *png = NULL;
    size_t len = 0;
    CHECK_INT(two_panels(&png, &len), RT_OK);
    CHECK(len > 1000);
    if (out_path) {
        FILE *f = fopen(out_path, "wb");
        if (f) { fwrite(png, 1, len, f); fclose(f); }
    }
    rt_image *img = NULL;
    CHECK_INT(rt_png_decode(png, len, "chart", 3, &img), RT_OK);
    free(png);
    if (!img) return;
    CHECK_INT(img->w, 1040);
    CHECK_INT(img->h, 400);
    int white = count_color(img, 0, 0, img->w, img->h, CHART_WHITE);
    CHECK(white < img->w * img->h * 95 / 100);                 /* not blank */
    CHECK(count_color(img, 0, 0, 520, 400, CHART_BLUE) > 50);   /* both lines, both panels */
    CHECK(count_color(img, 0, 0, 520, 400, CHART_ORANGE) > 50);
    CHECK(count_color(img, 520, 0, 520, 400, CHART_BLUE) > 50);
    CHECK(count_color(img, 520, 0, 520, 400, CHART_ORANGE) > 50);
    CHECK(count_color(img, 0, 0, img->w, 60, CHART_TEXT) > 200); /* titles */
    /* The legend: a white box with text, in some corner of each plot area. */
    int text_in_plot = count_color(img, 120, 60, 400, 260, CHART_TEXT);
    CHECK(text_in_plot > 150);
    rt_image_free(img);
    CHECK_INT(chart_panels_png(NULL, 0, 10, 10, &png, &len), RT_ERR_ARG);
}

int main(int argc, char **argv)
{
    test_ticks();
    test_text();
    test_panels(argc > 1 ? argv[1] : NULL);
    return CHECK_DONE();
}
