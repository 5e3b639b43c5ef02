/*
 * plots.h - the picture builtins of the cell language (plot, show_batch,
 * confusion_matrix, roc, gallery), drawn with chart.h and shown as
 * image/png with a text/plain fallback. plots_register() adds them to the
 * language once per process; magics_install calls it.
 *
 * Shared between plots.c (training curves, image batches, registration)
 * and plots_eval.c (pictures of a model's predictions on a generator).
 */
#ifndef HELLODL_PLOTS_H
#define HELLODL_PLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bind.h"
#include "chart.h"

/* Register the builtins (idempotent). */
void plots_register(void);

/* Encode the canvas and display it with `text` as its text/plain fallback;
 * raises (and returns false) when encoding fails. The canvas stays the
 * caller's. */
bool plots_show(lang_ctx *cx, const chart_canvas *c, const char *text);

/* The factor that brings a generator's pixel values back to 0..255 (the
 * inverse of its rescale). */
double plots_gain(double rescale);

/* Natives (plots_eval.c). */
bool plots_confusion_matrix(lang_ctx *cx, lang_value self, const lang_value *args, int nargs,
                            lang_value *ret);
bool plots_roc(lang_ctx *cx, lang_value self, const lang_value *args, int nargs,
               lang_value *ret);
bool plots_gallery(lang_ctx *cx, lang_value self, const lang_value *args, int nargs,
                   lang_value *ret);

#endif
