/*
 * chart.c - the chart renderer (see chart.h): canvas, primitives, text,
 * axes and layout, then the line-chart panels.
 *
 * Hand-rolled rasterisation rather than a library such as cairo: the
 * pictures need a few primitives only, a pixel font scaled by an integer
 * stays crisp (no hinting or font files to ship), and the output is
 * byte-for-byte the same on every machine, which keeps tests simple.
 */
#include "chart.h"
#include "chart_font.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pngio.h"

/* ---- canvas ---- */

chart_canvas *chart_canvas_new(int w, int h, chart_color bg)
{
    if (w < 1 || h < 1 || w > 8192 || h > 8192) return NULL;
    chart_canvas *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->w = w;
    c->h = h;
    c->px = malloc((size_t)w * (size_t)h * 3);
    if (!c->px) { free(c); return NULL; }
    chart_fill_rect(c, 0, 0, w, h, bg);
    return c;
}

void chart_canvas_free(chart_canvas *c)
{
    if (!c) return;
    free(c->px);
    free(c);
}

rt_status chart_png_encode(const chart_canvas *c, uint8_t **png, size_t *len)
{
    return rt_png_encode(c->px, c->h, c->w, 3, png, len);
}

/* Mix col into pixel (x, y) with coverage a in 0..1. */
static void blend(chart_canvas *c, int x, int y, chart_color col, double a)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h || a <= 0) return;
    if (a > 1) a = 1;
    uint8_t *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    int rgb[3] = { (int)(col >> 16 & 255), (int)(col >> 8 & 255), (int)(col & 255) };
    for (int k = 0; k < 3; k++)
        p[k] = (uint8_t)lround(p[k] + (rgb[k] - p[k]) * a);
}

/* ---- primitives ---- */

void chart_fill_rect(chart_canvas *c, int x, int y, int w, int h, chart_color col)
{
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > c->w ? c->w : x + w, y1 = y + h > c->h ? c->h : y + h;
    for (int j = y0; j < y1; j++)
        for (int i = x0; i < x1; i++) {
            uint8_t *p = c->px + ((size_t)j * (size_t)c->w + (size_t)i) * 3;
            p[0] = (uint8_t)(col >> 16);
            p[1] = (uint8_t)(col >> 8);
            p[2] = (uint8_t)col;
        }
}

void chart_rect_outline(chart_canvas *c, int x, int y, int w, int h, chart_color col)
{
    chart_fill_rect(c, x, y, w, 1, col);
    chart_fill_rect(c, x, y + h - 1, w, 1, col);
    chart_fill_rect(c, x, y, 1, h, col);
    chart_fill_rect(c, x + w - 1, y, 1, h, col);
}

/* Distance from (px, py) to the segment (x0, y0)-(x1, y1). */
static double seg_dist(double px, double py, double x0, double y0, double x1, double y1)
{
    double dx = x1 - x0, dy = y1 - y0, l2 = dx * dx + dy * dy;
    double t = l2 > 0 ? ((px - x0) * dx + (py - y0) * dy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double ex = x0 + t * dx - px, ey = y0 + t * dy - py;
    return sqrt(ex * ex + ey * ey);
}

/* Coverage of a pixel by a shape whose edge is `d` pixels away, for a
 * half-width hw: 1 inside, 0 outside, linear across one pixel. */
static double coverage(double d, double hw)
{
    double a = hw + 0.5 - d;
    return a < 0 ? 0 : a > 1 ? 1 : a;
}

void chart_line(chart_canvas *c, double x0, double y0, double x1, double y1, double width,
                chart_color col)
{
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1)) return;
    double hw = width / 2, m = hw + 1;
    int ia = (int)floor(fmin(x0, x1) - m), ib = (int)ceil(fmax(x0, x1) + m);
    int ja = (int)floor(fmin(y0, y1) - m), jb = (int)ceil(fmax(y0, y1) + m);
    ia = ia < 0 ? 0 : ia;
    ja = ja < 0 ? 0 : ja;
    ib = ib > c->w ? c->w : ib;
    jb = jb > c->h ? c->h : jb;
    for (int j = ja; j < jb; j++)
        for (int i = ia; i < ib; i++)
            blend(c, i, j, col, coverage(seg_dist(i + 0.5, j + 0.5, x0, y0, x1, y1), hw));
}

void chart_dashed_line(chart_canvas *c, double x0, double y0, double x1, double y1,
                       double width, double dash, double gap, chart_color col)
{
    double len = hypot(x1 - x0, y1 - y0);
    if (!(len > 0) || !(dash > 0) || gap < 0) return;
    double ux = (x1 - x0) / len, uy = (y1 - y0) / len;
    for (double s = 0; s < len; s += dash + gap) {
        double e = s + dash > len ? len : s + dash;
        chart_line(c, x0 + ux * s, y0 + uy * s, x0 + ux * e, y0 + uy * e, width, col);
    }
}

void chart_marker(chart_canvas *c, double x, double y, double r, chart_color col)
{
    chart_line(c, x, y, x, y, 2 * r, col);
}

void chart_blit(chart_canvas *c, int dx, int dy, int dw, int dh, const float *img, int h, int w,
                int ch, double gain)
{
    if (!img || h < 1 || w < 1 || dw < 1 || dh < 1) return;
    double s = fmin((double)dw / w, (double)dh / h);
    int ow = (int)(w * s), oh = (int)(h * s);
    int ox = dx + (dw - ow) / 2, oy = dy + (dh - oh) / 2;
    for (int j = 0; j < oh; j++)
        for (int i = 0; i < ow; i++) {
            int sx = (int)((i + 0.5) / s), sy = (int)((j + 0.5) / s);
            sx = sx >= w ? w - 1 : sx;
            sy = sy >= h ? h - 1 : sy;
            const float *p = img + ((size_t)sy * (size_t)w + (size_t)sx) * (size_t)ch;
            int v[3];
            for (int k = 0; k < 3; k++) {
                double f = p[ch >= 3 ? k : 0] * gain;
                v[k] = f != f || f < 0 ? 0 : f > 255 ? 255 : (int)(f + 0.5);
            }
            chart_fill_rect(c, ox + i, oy + j, 1, 1,
                            (chart_color)(v[0] << 16 | v[1] << 8 | v[2]));
        }
}

/* ---- text ---- */

/* One character of s at *p: ASCII as is, a UTF-8 sequence as '?'. */
static unsigned char next_char(const char **p)
{
    unsigned char ch = (unsigned char)**p;
    (*p)++;
    if (ch < 0x80) return ch;
    while ((**p & 0xc0) == 0x80) (*p)++;
    return '?';
}

int chart_text_width(const char *s, int scale)
{
    int w = 0, left, width;
    while (*s) {
        chart_font_extent(next_char(&s), &left, &width);
        w += (width + 1) * scale;
    }
    return w > 0 ? w - scale : 0;
}

int chart_text_height(int scale)
{
    return CHART_FONT_ROWS * scale;
}

/* One glyph with its ink's left edge at x; rot: a quarter turn
 * counter-clockwise about (x, y) (then x grows upwards from y). */
static void glyph(chart_canvas *c, int x, int y, unsigned char ch, int scale, chart_color col,
                  bool rot)
{
    unsigned char rows[CHART_FONT_ROWS];
    int left, width;
    chart_font_rows(ch, rows);
    chart_font_extent(ch, &left, &width);
    for (int r = 0; r < CHART_FONT_ROWS; r++)
        for (int k = 0; k < width; k++) {
            if (!(rows[r] & (1u << (CHART_FONT_W - 1 - (left + k))))) continue;
            if (rot)
                chart_fill_rect(c, y + r * scale, x - (k + 1) * scale, scale, scale, col);
            else
                chart_fill_rect(c, x + k * scale, y + r * scale, scale, scale, col);
        }
}

int chart_text(chart_canvas *c, int x, int y, const char *s, int scale, chart_color col)
{
    int x0 = x, left, width;
    while (*s) {
        unsigned char ch = next_char(&s);
        glyph(c, x, y, ch, scale, col, false);
        chart_font_extent(ch, &left, &width);
        x += (width + 1) * scale;
    }
    return x - x0;
}

void chart_text_aligned(chart_canvas *c, int x, int y, const char *s, int scale,
                        chart_color col, int align)
{
    int w = chart_text_width(s, scale);
    chart_text(c, align < 0 ? x : align == 0 ? x - w / 2 : x - w, y, s, scale, col);
}

void chart_text_vertical(chart_canvas *c, int cx, int cy, const char *s, int scale,
                         chart_color col)
{
    int w = chart_text_width(s, scale), left, width;
    int along = cy + w / 2, top = cx - chart_text_height(scale) / 2;
    while (*s) {
        unsigned char ch = next_char(&s);
        glyph(c, along, top, ch, scale, col, true);
        chart_font_extent(ch, &left, &width);
        along -= (width + 1) * scale;
    }
}

const char *chart_text_fit(const char *s, int scale, int max_w, char *out, size_t cap)
{
    snprintf(out, cap, "%s", s);
    size_t n = strlen(out);
    if (chart_text_width(out, scale) <= max_w) return out;
    while (n > 0) {
        n--;
        while (n > 0 && ((unsigned char)out[n] & 0xc0) == 0x80) n--;
        if (n + 3 > cap) continue;
        memcpy(out + n, "..", 3);
        if (chart_text_width(out, scale) <= max_w) break;
    }
    return out;
}

/* ---- axes ---- */

void chart_ticks_make(double lo, double hi, int target, bool integer, chart_ticks *t)
{
    double span = hi - lo;
    if (!(span > 0)) span = 1;
    double raw = span / (target > 0 ? target : 5);
    double mag = pow(10, floor(log10(raw))), step = mag, best = INFINITY;
    static const double mult[4] = { 1, 2, 5, 10 };
    for (int k = 0; k < 4; k++) {           /* the tick count nearest target */
        double miss = fabs(span / (mult[k] * mag) - (target > 0 ? target : 5));
        if (miss < best) { best = miss; step = mult[k] * mag; }
    }
    if (integer && step < 1) step = 1;
    t->step = step;
    t->first = ceil(lo / step - 1e-9) * step;
    t->n = (int)floor((hi - t->first) / step + 1e-9) + 1;
    if (t->n < 0) t->n = 0;
    if (t->n > 50) t->n = 50;
    t->decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
}

/* The plot area's pixel rectangle and data range. */
typedef struct frame {
    int x, y, w, h;
    double x0, x1, y0, y1;
} frame;

static double fx(const frame *f, double x) { return f->x + (x - f->x0) / (f->x1 - f->x0) * f->w; }
static double fy(const frame *f, double y) { return f->y + f->h - (y - f->y0) / (f->y1 - f->y0) * f->h; }

/* Data limits of the panel's series, widened by 5% each side (matplotlib's
 * margins) so that no line runs along the frame. */
static void data_range(const chart_panel *p, frame *f)
{
    if (p->fixed_range) {
        f->x0 = p->xmin; f->x1 = p->xmax; f->y0 = p->ymin; f->y1 = p->ymax;
        return;
    }
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int s = 0; s < p->nseries; s++)
        for (int i = 0; i < p->series[s].n; i++) {
            double x = p->series[s].x[i], y = p->series[s].y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            x0 = fmin(x0, x); x1 = fmax(x1, x); y0 = fmin(y0, y); y1 = fmax(y1, y);
        }
    if (x0 > x1) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
    if (x1 - x0 < 1e-12) { x0 -= 0.5; x1 += 0.5; }
    if (y1 - y0 < 1e-12) { double d = fmax(fabs(y0) * 0.05, 0.05); y0 -= d; y1 += d; }
    double mx = (x1 - x0) * 0.05, my = (y1 - y0) * 0.05;
    f->x0 = x0 - mx; f->x1 = x1 + mx; f->y0 = y0 - my; f->y1 = y1 + my;
}

static void tick_label(double v, int decimals, char *buf, size_t cap)
{
    if (fabs(v) < 1e-12) v = 0;
    snprintf(buf, cap, "%.*f", decimals, v);
}

/* Left margin: the widest y tick label. */
static int y_label_width(const chart_ticks *t)
{
    int w = 0;
    char buf[32];
    for (int i = 0; i < t->n; i++) {
        tick_label(t->first + i * t->step, t->decimals, buf, sizeof buf);
        int k = chart_text_width(buf, CHART_TEXT_SCALE);
        w = k > w ? k : w;
    }
    return w;
}

static void draw_y_ticks(chart_canvas *c, const frame *f, const chart_ticks *t)
{
    char buf[32];
    int th = chart_text_height(CHART_TEXT_SCALE);
    for (int i = 0; i < t->n; i++) {
        double v = t->first + i * t->step;
        int y = (int)lround(fy(f, v));
        chart_fill_rect(c, f->x + 1, y, f->w - 2, 1, CHART_GRID);
        chart_fill_rect(c, f->x - 6, y, 6, 1, CHART_FRAME);
        tick_label(v, t->decimals, buf, sizeof buf);
        chart_text_aligned(c, f->x - 10, y - (th - 4) / 2, buf, CHART_TEXT_SCALE, CHART_TEXT, 1);
    }
}

static void draw_x_ticks(chart_canvas *c, const frame *f, const chart_ticks *t)
{
    char buf[32];
    for (int i = 0; i < t->n; i++) {
        double v = t->first + i * t->step;
        int x = (int)lround(fx(f, v));
        chart_fill_rect(c, x, f->y + 1, 1, f->h - 2, CHART_GRID);
        chart_fill_rect(c, x, f->y + f->h, 1, 6, CHART_FRAME);
        tick_label(v, t->decimals, buf, sizeof buf);
        chart_text_aligned(c, x, f->y + f->h + 10, buf, CHART_TEXT_SCALE, CHART_TEXT, 0);
    }
}

/* ---- legend ---- */

#define LEGEND_SAMPLE 28    /* the line sample's length */

static void legend_size(const chart_panel *p, int *w, int *h, int *n)
{
    int th = chart_text_height(CHART_TEXT_SCALE), tw = 0;
    *n = 0;
    for (int s = 0; s < p->nseries; s++) {
        if (!p->series[s].label) continue;
        int k = chart_text_width(p->series[s].label, CHART_TEXT_SCALE);
        tw = k > tw ? k : tw;
        (*n)++;
    }
    *w = 12 + LEGEND_SAMPLE + 8 + tw + 12;
    *h = 8 + *n * (th + 8);
}

/* How many points along the series fall inside the rectangle. */
static int overlap(const chart_panel *p, const frame *f, int x, int y, int w, int h)
{
    int hits = 0;
    for (int s = 0; s < p->nseries; s++) {
        const chart_series *sr = &p->series[s];
        for (int i = 0; i + 1 < sr->n || (i == 0 && sr->n == 1); i++)
            for (int k = 0; k <= 16; k++) {
                int j = i + 1 < sr->n ? i + 1 : i;
                double t = k / 16.0;
                double px = fx(f, sr->x[i] + (sr->x[j] - sr->x[i]) * t);
                double py = fy(f, sr->y[i] + (sr->y[j] - sr->y[i]) * t);
                hits += px >= x && px < x + w && py >= y && py < y + h;
            }
    }
    return hits;
}

/* The legend goes in the corner of the plot area its lines cross least
 * (top right first, as matplotlib's "best" tends to pick). */
static void draw_legend(chart_canvas *c, const frame *f, const chart_panel *p, int box[4])
{
    int w, h, n, th = chart_text_height(CHART_TEXT_SCALE);
    legend_size(p, &w, &h, &n);
    box[0] = box[1] = box[2] = box[3] = 0;
    if (n == 0 || w + 16 > f->w || h + 16 > f->h) return;
    int xs[4] = { f->x + f->w - w - 8, f->x + f->w - w - 8, f->x + 8, f->x + 8 };
    int ys[4] = { f->y + 8, f->y + f->h - h - 8, f->y + f->h - h - 8, f->y + 8 };
    int best = 0, least = -1;
    for (int k = 0; k < 4; k++) {
        int o = overlap(p, f, xs[k], ys[k], w, h);
        if (least < 0 || o < least) { least = o; best = k; }
    }
    int x = xs[best], y = ys[best];
    box[0] = x; box[1] = y; box[2] = w; box[3] = h;
    chart_fill_rect(c, x, y, w, h, CHART_WHITE);
    chart_rect_outline(c, x, y, w, h, 0xbbbbbbu);
    for (int s = 0, row = 0; s < p->nseries; s++) {
        const chart_series *sr = &p->series[s];
        if (!sr->label) continue;
        int ty = y + 8 + row++ * (th + 8);
        double ly = ty + (th - 4) / 2.0;
        chart_line(c, x + 12, ly, x + 12 + LEGEND_SAMPLE, ly, 2, sr->color);
        if (sr->markers) chart_marker(c, x + 12 + LEGEND_SAMPLE / 2.0, ly, 3.5, sr->color);
        chart_text(c, x + 12 + LEGEND_SAMPLE + 8, ty, sr->label, CHART_TEXT_SCALE, CHART_TEXT);
    }
}

/* ---- the panel ---- */

static void draw_series(chart_canvas *c, const frame *f, const chart_series *s)
{
    for (int i = 0; i + 1 < s->n; i++)
        chart_line(c, fx(f, s->x[i]), fy(f, s->y[i]), fx(f, s->x[i + 1]), fy(f, s->y[i + 1]),
                   2, s->color);
    for (int i = 0; s->markers && i < s->n; i++)
        chart_marker(c, fx(f, s->x[i]), fy(f, s->y[i]), 3.5, s->color);
}

static void draw_vline(chart_canvas *c, const frame *f, const chart_panel *p)
{
    if (!p->vline_label || p->vline_x < f->x0 || p->vline_x > f->x1) return;
    double x = fx(f, p->vline_x);
    chart_dashed_line(c, x, f->y + 1, x, f->y + f->h - 1, 1.5, 6, 4, 0x666666u);
}

static bool rects_meet(int ax, int ay, int aw, int ah, const int b[4])
{
    return ax < b[0] + b[2] && b[0] < ax + aw && ay < b[1] + b[3] && b[1] < ay + ah;
}

/* The marker line's label, after the lines: right of the line when it fits
 * (else left), at the height (top, middle, bottom) the lines cross least and
 * clear of the legend (box), on a white patch. */
static void draw_vline_label(chart_canvas *c, const frame *f, const chart_panel *p,
                             const int box[4])
{
    if (!p->vline_label || p->vline_x < f->x0 || p->vline_x > f->x1) return;
    double x = fx(f, p->vline_x);
    int tw = chart_text_width(p->vline_label, CHART_TEXT_SCALE);
    int th = chart_text_height(CHART_TEXT_SCALE);
    int tx = x + 8 + tw < f->x + f->w - 4 ? (int)x + 8 : (int)x - 8 - tw;
    int ys[3] = { f->y + 8, f->y + (f->h - th) / 2, f->y + f->h - th - 8 }, ty = ys[0];
    for (int k = 0, least = -1; k < 3; k++) {
        int o = overlap(p, f, tx - 3, ys[k] - 3, tw + 6, th + 4) +
                (rects_meet(tx - 3, ys[k] - 3, tw + 6, th + 4, box) ? 1000 : 0);
        if (least < 0 || o < least) { least = o; ty = ys[k]; }
    }
    chart_fill_rect(c, tx - 3, ty - 3, tw + 6, th + 4, CHART_WHITE);
    chart_text(c, tx, ty, p->vline_label, CHART_TEXT_SCALE, 0x444444u);
}

/* Where the frame goes in the panel rectangle, leaving room for the title,
 * the tick labels and the axis labels. */
static void layout(const chart_panel *p, int x, int y, int w, int h, const chart_ticks *yt,
                   frame *f)
{
    int th = chart_text_height(CHART_TEXT_SCALE), tt = chart_text_height(CHART_TITLE_SCALE);
    int left = 16 + (p->ylabel ? th + 12 : 0) + y_label_width(yt) + 10;
    int top = 14 + (p->title ? tt + 14 : 0);
    int bottom = 10 + th + 12 + (p->xlabel ? th + 12 : 0);
    f->x = x + left;
    f->y = y + top;
    f->w = w - left - 24;
    f->h = h - top - bottom;
}

static void draw_labels(chart_canvas *c, const frame *f, const chart_panel *p, int x, int y,
                        int w)
{
    int th = chart_text_height(CHART_TEXT_SCALE);
    char buf[160];
    if (p->title)
        chart_text_aligned(c, x + w / 2, y + 14,
                           chart_text_fit(p->title, CHART_TITLE_SCALE, w - 16, buf, sizeof buf),
                           CHART_TITLE_SCALE, CHART_TEXT, 0);
    if (p->xlabel)
        chart_text_aligned(c, f->x + f->w / 2, f->y + f->h + 10 + th + 12, p->xlabel,
                           CHART_TEXT_SCALE, CHART_TEXT, 0);
    if (p->ylabel)
        chart_text_vertical(c, x + 16 + th / 2, f->y + f->h / 2, p->ylabel, CHART_TEXT_SCALE,
                            CHART_TEXT);
}

void chart_panel_draw(chart_canvas *c, int x, int y, int w, int h, const chart_panel *p)
{
    frame f;
    chart_ticks xt, yt;
    data_range(p, &f);
    chart_ticks_make(f.y0, f.y1, 5, false, &yt);
    layout(p, x, y, w, h, &yt, &f);
    if (f.w < 20 || f.h < 20) return;
    int nx = f.w / (p->integer_x ? 45 : 70);      /* whole epochs fit closer */
    chart_ticks_make(f.x0, f.x1, nx < 10 ? nx : 10, p->integer_x, &xt);
    draw_y_ticks(c, &f, &yt);
    draw_x_ticks(c, &f, &xt);
    if (p->diagonal)
        chart_dashed_line(c, fx(&f, f.x0 > 0 ? f.x0 : 0), fy(&f, f.x0 > 0 ? f.x0 : 0),
                          fx(&f, f.x1 < 1 ? f.x1 : 1), fy(&f, f.x1 < 1 ? f.x1 : 1), 1.5, 5, 4,
                          0x999999u);
    draw_vline(c, &f, p);
    for (int s = 0; s < p->nseries; s++) draw_series(c, &f, &p->series[s]);
    chart_rect_outline(c, f.x, f.y, f.w + 1, f.h + 1, CHART_FRAME);
    int box[4];
    draw_legend(c, &f, p, box);
    draw_vline_label(c, &f, p, box);
    draw_labels(c, &f, p, x, y, w);
}

/* ---- charts ---- */

rt_status chart_panels_png(const chart_panel *panels, int n, int panel_w, int panel_h,
                           uint8_t **png, size_t *len)
{
    *png = NULL;
    *len = 0;
    if (n < 1 || n > 8 || panel_w < 64 || panel_h < 64)
        return rt_error_set(RT_ERR_ARG, "a chart needs 1 to 8 panels of at least 64x64 pixels");
    chart_canvas *c = chart_canvas_new(panel_w * n, panel_h, CHART_WHITE);
    if (!c) return rt_error_set(RT_ERR_NOMEM, "out of memory drawing a chart");
    for (int i = 0; i < n; i++)
        chart_panel_draw(c, i * panel_w, 0, panel_w, panel_h, &panels[i]);
    rt_status st = chart_png_encode(c, png, len);
    chart_canvas_free(c);
    return st;
}
