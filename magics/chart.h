/*
 * chart.h - a small chart renderer for the pictures a notebook shows
 * (training curves, ROC curves, confusion matrices, image grids), drawn on
 * an 8-bit RGB canvas and encoded as PNG in memory (runtime/pngio.h).
 *
 * Layers, each built on the one before:
 *   canvas      chart_canvas_new/free, chart_png_encode
 *   primitives  filled rectangles, anti-aliased lines (solid or dashed),
 *               round markers, image blits
 *   text        an embedded 5x7 bitmap font (with descenders) of our own,
 *               drawn at an integer scale: crisp at any zoom, no font files
 *   axes        "nice" ticks (steps of 1, 2 or 5 times a power of ten),
 *               framed plot areas with tick labels, axis labels, title,
 *               legend and a dashed vertical marker line with a label
 *   charts      line-chart panels side by side (chart_panels_png)
 *
 * Coordinates are pixels, x to the right, y down; (0, 0) is the top-left
 * pixel's corner, so the centre of pixel (i, j) is (i + 0.5, j + 0.5).
 * Everything is clipped to the canvas: no call can write outside it.
 *
 * Ownership: chart_canvas_new returns a new canvas (chart_canvas_free);
 * chart_png_encode and chart_panels_png return a malloc'd buffer the caller
 * frees with free(). Series data and strings are borrowed for the call.
 */
#ifndef HELLODL_CHART_H
#define HELLODL_CHART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt_status.h"

typedef uint32_t chart_color;           /* 0xRRGGBB */

#define CHART_WHITE 0xffffffu
#define CHART_BLACK 0x000000u
#define CHART_TEXT  0x222222u           /* labels and titles */
#define CHART_GRID  0xe6e6e6u
#define CHART_FRAME 0x555555u
#define CHART_BLUE  0x1f6fc5u           /* training */
#define CHART_ORANGE 0xe8710au          /* validation */
#define CHART_GREEN 0x2a9d3au
#define CHART_RED   0xd62728u

/* Text sizes: body text (ticks, legend, captions) and titles. */
#define CHART_TEXT_SCALE 2
#define CHART_TITLE_SCALE 3

typedef struct chart_canvas {
    int w, h;
    uint8_t *px;                        /* (h, w, 3) RGB */
} chart_canvas;

/* ---- canvas ---- */

/* A w x h canvas filled with bg; NULL when out of memory or the size is not
 * within 1..8192 on each side. */
chart_canvas *chart_canvas_new(int w, int h, chart_color bg);
void chart_canvas_free(chart_canvas *c);
/* The canvas as an RGB PNG. */
rt_status chart_png_encode(const chart_canvas *c, uint8_t **png, size_t *len);

/* ---- primitives ---- */

void chart_fill_rect(chart_canvas *c, int x, int y, int w, int h, chart_color col);
/* A 1-pixel outline just inside the rectangle. */
void chart_rect_outline(chart_canvas *c, int x, int y, int w, int h, chart_color col);
/* An anti-aliased segment `width` pixels wide with round ends. */
void chart_line(chart_canvas *c, double x0, double y0, double x1, double y1, double width,
                chart_color col);
/* The same, as dashes of `dash` pixels separated by gaps of `gap`. */
void chart_dashed_line(chart_canvas *c, double x0, double y0, double x1, double y1,
                       double width, double dash, double gap, chart_color col);
/* An anti-aliased filled disc of radius r centred at (x, y). */
void chart_marker(chart_canvas *c, double x, double y, double r, chart_color col);
/* Draw a float image (h, w, ch) - ch 1 (gray), 3 or 4 (alpha ignored) -
 * scaled to fit a dw x dh box at (dx, dy) keeping its aspect ratio (centred,
 * nearest neighbour). Pixel values are multiplied by `gain` (e.g. 255 for
 * images rescaled to 0..1) and clamped to 0..255. */
void chart_blit(chart_canvas *c, int dx, int dy, int dw, int dh, const float *img, int h, int w,
                int ch, double gain);

/* ---- text ---- */

/* Width and height in pixels of one line of text at `scale`. Characters
 * outside printable ASCII are drawn as '?' (a UTF-8 sequence as one). */
int chart_text_width(const char *s, int scale);
int chart_text_height(int scale);
/* Draw one line with its top-left corner at (x, y). Returns the width. */
int chart_text(chart_canvas *c, int x, int y, const char *s, int scale, chart_color col);
/* Anchored: align -1 left at x, 0 centred on x, 1 right at x. */
void chart_text_aligned(chart_canvas *c, int x, int y, const char *s, int scale,
                        chart_color col, int align);
/* Rotated a quarter turn counter-clockwise (reads bottom to top), centred
 * on (cx, cy): the y-axis label. */
void chart_text_vertical(chart_canvas *c, int cx, int cy, const char *s, int scale,
                         chart_color col);
/* Shorten s to fit max_w pixels at scale, ending in "..". Writes into out. */
const char *chart_text_fit(const char *s, int scale, int max_w, char *out, size_t cap);

/* ---- axes ---- */

/* Ticks at multiples of 1, 2 or 5 times a power of ten, about `target` of
 * them within [lo, hi]; with `integer` the step is at least 1. */
typedef struct chart_ticks {
    double first, step;
    int n;
    int decimals;                       /* for the labels */
} chart_ticks;
void chart_ticks_make(double lo, double hi, int target, bool integer, chart_ticks *t);

#define CHART_MAX_SERIES 4

typedef struct chart_series {
    const char *label;                  /* legend entry; NULL: none */
    const double *x, *y;                /* (n) */
    int n;
    chart_color color;
    bool markers;                       /* a disc at every point */
} chart_series;

typedef struct chart_panel {
    const char *title, *xlabel, *ylabel;
    chart_series series[CHART_MAX_SERIES];
    int nseries;
    bool integer_x;                     /* x ticks at whole numbers (epochs) */
    bool fixed_range;                   /* use xmin..ymax below as they are */
    double xmin, xmax, ymin, ymax;
    bool diagonal;                      /* a dotted y = x line (ROC chance) */
    const char *vline_label;            /* a dashed vertical line at vline_x */
    double vline_x;
} chart_panel;

/* Draw one panel (title, framed plot area, ticks, labels, legend, lines) in
 * the rectangle (x, y, w, h) of the canvas. */
void chart_panel_draw(chart_canvas *c, int x, int y, int w, int h, const chart_panel *p);

/* ---- charts ---- */

/* n panels side by side, each panel_w x panel_h, as a PNG. */
rt_status chart_panels_png(const chart_panel *panels, int n, int panel_w, int panel_h,
                           uint8_t **png, size_t *len);

#endif
