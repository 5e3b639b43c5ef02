/*
 * chart_font.h - the bitmap font behind chart.h's text: printable ASCII,
 * 5 columns, 7 rows above the baseline and 2 below. Pure data; no state.
 */
#ifndef HELLODL_CHART_FONT_H
#define HELLODL_CHART_FONT_H

#define CHART_FONT_W 5
#define CHART_FONT_ROWS 9      /* rows 0..6 cap line to baseline, 7..8 descenders */

/* Glyph rows as 5-bit masks, bit 4 the leftmost column; characters outside
 * printable ASCII give '?'. */
void chart_font_rows(unsigned char ch, unsigned char rows[CHART_FONT_ROWS]);
/* The first inked column and the ink's width (a space: 0 and 2). */
void chart_font_extent(unsigned char ch, int *left, int *width);

#endif
