/*
 * test_progress.c - the live training display (magics/progress.c): its
 * text at each phase, the estimate of the time left, the rate bound (a
 * thousand batches in ten seconds give at most ~50 updates), the final
 * state after a finished, an interrupted and a failed fit, and the hook
 * itself: one display, then updates with the same display_id.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "lang.h"
#include "magics.h"
#include "progress.h"

static char text[768], html[2048];

static rtb_progress ev(rtb_progress_phase ph, int epoch, int epochs, int step, int steps)
{
    rtb_progress p;
    memset(&p, 0, sizeof p);
    p.phase = ph;
    p.epoch = epoch;
    p.epochs = epochs;
    p.step = step;
    p.steps = steps;
    p.loss = 0.5;
    p.acc = 0.75;
    return p;
}

static int step(progress_state *st, rtb_progress p, double t)
{
    return progress_step(st, &p, t, text, sizeof text, html, sizeof html);
}

static void test_texts(void)
{
    progress_state st;
    CHECK(step(&st, ev(RTB_PROGRESS_BEGIN, 1, 5, 0, 10), 100.0));
    CHECK(strstr(text, "epoch 1/5, batch 0/10") != NULL);
    /* Half the batches after 25 s: 25 s left, bar half full. */
    CHECK(step(&st, ev(RTB_PROGRESS_BATCH, 3, 5, 5, 10), 125.0));
    CHECK(strstr(text, "epoch 3/5, batch 5/10 [###############---------------]  50%") != NULL);
    CHECK(strstr(text, "loss 0.5000 - acc 0.7500") != NULL);
    CHECK(strstr(text, "25 s spent, about 25 s left") != NULL);
    CHECK(strstr(html, "width:50%") != NULL);
    CHECK(!step(&st, ev(RTB_PROGRESS_BATCH, 3, 5, 6, 10), 125.1));   /* too soon */
    rtb_progress e = ev(RTB_PROGRESS_EPOCH, 3, 5, 10, 10);
    e.has_val = 1;
    e.val_loss = 0.25;
    e.val_acc = 1.0;
    CHECK(step(&st, e, 190.0));
    CHECK(strstr(text, "1 min 30 s spent") != NULL);
    CHECK(strstr(text, "val_acc 1.0000") != NULL);
    rtb_progress end = ev(RTB_PROGRESS_END, 3, 5, 0, 10);
    end.interrupted = 1;
    CHECK(step(&st, end, 190.05));   /* the last state is always sent */
    CHECK_STR(text, "Training interrupted in epoch 4/5 after 1 min 30 s: 3 of 5 epochs "
              "completed (the weights trained so far are kept)\nloss 0.5000 - acc 0.7500 - "
              "val_loss 0.2500 - val_acc 1.0000");
}

static void test_finished_and_failed(void)
{
    progress_state st;
    step(&st, ev(RTB_PROGRESS_BEGIN, 1, 2, 0, 4), 0.0);
    step(&st, ev(RTB_PROGRESS_EPOCH, 1, 2, 4, 4), 1.0);
    step(&st, ev(RTB_PROGRESS_EPOCH, 2, 2, 4, 4), 2.0);
    CHECK(step(&st, ev(RTB_PROGRESS_END, 2, 2, 0, 4), 2.0));
    CHECK_STR(text, "Training finished: 2/2 epochs of 4 batches in 2 s\nloss 0.5000 - acc 0.7500");
    CHECK(strstr(html, "width:100%") != NULL);
    step(&st, ev(RTB_PROGRESS_BEGIN, 1, 2, 0, 4), 10.0);
    CHECK(step(&st, ev(RTB_PROGRESS_END, 0, 2, 0, 4), 11.0));
    CHECK_STR(text, "Training stopped in epoch 1/2 after 1 s: 0 of 2 epochs completed (the "
              "message below says why)");
}

static void test_rate_bound(void)
{
    progress_state st;
    int sent = step(&st, ev(RTB_PROGRESS_BEGIN, 1, 10, 0, 100), 0.0);
    for (int i = 0; i < 1000; i++)
        sent += step(&st, ev(RTB_PROGRESS_BATCH, 1 + i / 100, 10, 1 + i % 100, 100),
                     0.01 * (i + 1));
    sent += step(&st, ev(RTB_PROGRESS_END, 10, 10, 0, 100), 10.0);
    printf("1000 batches in 10 s: %d updates\n", sent);
    CHECK(sent >= 40 && sent <= 53);
}

/* ---- the hook, through a capturing sink ---- */

static int displays, updates, bad_ids;
static char first_id[64], last_text[768];

static void cap_display(void *ctx, const lang_bundle *b, const char *id, bool update)
{
    (void)ctx;
    if (!id) { bad_ids++; return; }
    if (!update) { displays++; snprintf(first_id, sizeof first_id, "%s", id); }
    else { updates++; bad_ids += strcmp(id, first_id) != 0; }
    CHECK_INT(b->n, 2);
    CHECK_STR(b->items[0].mime, "text/plain");
    CHECK_STR(b->items[1].mime, "text/html");
    snprintf(last_text, sizeof last_text, "%.*s", (int)b->items[0].len, b->items[0].data);
}

static void test_hook(void)
{
    lang_config cfg;
    memset(&cfg, 0, sizeof cfg);
    lang_session *s = lang_session_new(&cfg);
    CHECK(s != NULL);
    if (!s) return;
    magics_install(s);
    lang_sink sink = { NULL, NULL, cap_display, NULL, NULL };
    rtb_progress p = ev(RTB_PROGRESS_BATCH, 1, 1, 1, 3);
    rtb_progress_emit(&sink, &p);            /* no BEGIN yet: nothing shown */
    CHECK_INT(displays + updates, 0);
    p = ev(RTB_PROGRESS_BEGIN, 1, 1, 0, 3);
    rtb_progress_emit(&sink, &p);
    for (int i = 1; i <= 3; i++) {
        p = ev(RTB_PROGRESS_BATCH, 1, 1, i, 3);
        rtb_progress_emit(&sink, &p);
    }
    p = ev(RTB_PROGRESS_EPOCH, 1, 1, 3, 3);
    rtb_progress_emit(&sink, &p);
    p = ev(RTB_PROGRESS_END, 1, 1, 0, 3);
    rtb_progress_emit(&sink, &p);
    CHECK_INT(displays, 1);
    CHECK(updates >= 1 && updates <= 5);
    CHECK_INT(bad_ids, 0);
    CHECK(strncmp(last_text, "Training finished: 1/1 epochs", 29) == 0);
    p = ev(RTB_PROGRESS_BEGIN, 1, 1, 0, 3);   /* the terminal gets no live display */
    rtb_progress_emit(lang_stdio_sink(), &p);
    CHECK_INT(displays, 1);
    lang_session_free(s);
}

int main(void)
{
    test_texts();
    test_finished_and_failed();
    test_rate_bound();
    test_hook();
    return CHECK_DONE();
}
