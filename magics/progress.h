/*
 * progress.h - the live training display: while fit() runs, one display
 * (text/plain and text/html) updated in place with the epoch, the batch, a
 * progress bar, the running loss and accuracy, the time spent and an
 * estimate of the time left. The per-epoch lines fit() prints stay as they
 * are; this display sits above them.
 *
 * Updates are rate-bounded (at most one every PROGRESS_MIN_INTERVAL seconds
 * between the first and the last), so a fit of thousands of tiny batches
 * sends a handful of messages, not thousands. The last update says what
 * was completed, also when the fit was interrupted or failed.
 *
 * The terminal runner (`hellodl run`) gets no live display: it cannot
 * redraw in place, and the epoch lines already say everything there.
 */
#ifndef HELLODL_MAGICS_PROGRESS_H
#define HELLODL_MAGICS_PROGRESS_H

#include <stddef.h>

#include "rt_progress.h"

#define PROGRESS_MIN_INTERVAL 0.2   /* seconds: at most ~5 updates a second */

/* What the display remembers between events of one fit. */
typedef struct progress_state {
    char display_id[64];
    double t_begin, t_last;      /* seconds (monotonic clock) */
    int shown;                   /* BEGIN was displayed */
    int epochs, steps;
    int epoch, step;             /* last seen */
    double loss, acc;
    int has_val;
    double val_loss, val_acc;
    int epochs_done;
} progress_state;

/* Folds event p at time `now` into st and writes the text/plain form into
 * text and the text/html form into html. Returns 1 when the display should
 * be sent now (always for BEGIN and END, rate-bounded otherwise), else 0. */
int progress_step(progress_state *st, const rtb_progress *p, double now,
                  char *text, size_t tcap, char *html, size_t hcap);

/* Installs the hook into the runtime bindings (magics_install calls it). */
void progress_install(void);

#endif
