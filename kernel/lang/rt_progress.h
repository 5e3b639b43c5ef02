/*
 * rt_progress.h - a per-batch progress hook for fit(), so that the magics
 * layer can drive a live display (a progress bar updated in place) without
 * the bindings knowing how it is drawn. Default: no hook; fit() then prints
 * one line per epoch through the sink.
 *
 * The hook runs on the thread that runs the cell, between batches, with
 * the cell's sink (borrowed for the call). It must not raise or block; an
 * interrupt is polled by fit() itself right after it returns.
 */
#ifndef HELLODL_RT_PROGRESS_H
#define HELLODL_RT_PROGRESS_H

#include "sink.h"

typedef enum rtb_progress_phase {
    RTB_PROGRESS_BEGIN = 0,  /* before the first batch */
    RTB_PROGRESS_BATCH,      /* after each training batch */
    RTB_PROGRESS_EPOCH,      /* after an epoch and its validation */
    RTB_PROGRESS_END         /* fit() is done (interrupted or not) */
} rtb_progress_phase;

typedef struct rtb_progress {
    rtb_progress_phase phase;
    int epoch, epochs;       /* 1-based epoch, total */
    int step, steps;         /* 1-based batch within the epoch, total */
    double loss, acc;        /* running means of the epoch so far */
    int has_val;             /* val_loss / val_acc set (EPOCH) */
    double val_loss, val_acc;
    double seconds;          /* since the epoch (BATCH, EPOCH) or fit (END) began */
    int interrupted;         /* END: stopped by an interrupt */
} rtb_progress;

typedef void (*rtb_progress_fn)(void *ctx, const lang_sink *sink, const rtb_progress *p);

/* Install (or, with NULL, remove) the process-wide hook. */
void rtb_progress_hook_set(rtb_progress_fn fn, void *ctx);
/* Called by fit(); does nothing without a hook. */
void rtb_progress_emit(const lang_sink *sink, const rtb_progress *p);

#endif
