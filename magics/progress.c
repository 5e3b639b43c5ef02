/*
 * progress.c - the live training display (see progress.h): fit()'s
 * progress hook turned into one display updated in place.
 */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lang.h"

#define BAR_WIDTH 30

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* "42 s", "3 min 05 s", "1 h 02 min": what a trainee reads at a glance. */
static void duration_text(double s, char *out, size_t cap)
{
    long t = s < 0 ? 0 : (long)(s + 0.5);
    if (t < 60)
        snprintf(out, cap, "%ld s", t);
    else if (t < 3600)
        snprintf(out, cap, "%ld min %02ld s", t / 60, t % 60);
    else
        snprintf(out, cap, "%ld h %02ld min", t / 3600, (t % 3600) / 60);
}

static void remember(progress_state *st, const rtb_progress *p)
{
    if (p->phase == RTB_PROGRESS_BATCH || p->phase == RTB_PROGRESS_EPOCH) {
        st->epoch = p->epoch;
        st->step = p->step;
        st->loss = p->loss;
        st->acc = p->acc;
    }
    if (p->phase == RTB_PROGRESS_EPOCH) {
        st->epochs_done = p->epoch;
        st->has_val = p->has_val;
        st->val_loss = p->val_loss;
        st->val_acc = p->val_acc;
    }
}

/* Fraction of the fit's batches done, in [0, 1]. */
static double fraction_done(const progress_state *st)
{
    double total = (double)st->epochs * st->steps;
    if (total <= 0)
        return 1;
    double done = (double)(st->epoch > 0 ? st->epoch - 1 : 0) * st->steps + st->step;
    return done >= total ? 1 : done / total;
}

static void bar_text(double frac, char *out)
{
    int full = (int)(frac * BAR_WIDTH + 0.5);
    out[0] = '[';
    for (int i = 0; i < BAR_WIDTH; i++)
        out[1 + i] = i < full ? '#' : '-';
    out[1 + BAR_WIDTH] = ']';
    out[2 + BAR_WIDTH] = '\0';
}

/* The figures of the last epoch (or of the running one). */
static int figures_text(const progress_state *st, char *out, size_t cap)
{
    int k = snprintf(out, cap, "loss %.4f - acc %.4f", st->loss, st->acc);
    if (st->has_val && k > 0 && (size_t)k < cap)
        k += snprintf(out + k, cap - (size_t)k, " - val_loss %.4f - val_acc %.4f",
                      st->val_loss, st->val_acc);
    return k;
}

static void running_text(const progress_state *st, double now, char *out, size_t cap)
{
    char bar[BAR_WIDTH + 3], spent[32], left[48], figs[160];
    double frac = fraction_done(st), elapsed = now - st->t_begin;
    bar_text(frac, bar);
    duration_text(elapsed, spent, sizeof spent);
    if (frac > 0 && frac < 1) {
        char d[32];
        duration_text(elapsed * (1 - frac) / frac, d, sizeof d);
        snprintf(left, sizeof left, "about %s left", d);
    } else {
        snprintf(left, sizeof left, frac >= 1 ? "almost done" : "estimating the time left");
    }
    if (st->epoch == 0) {
        snprintf(out, cap, "Training: epoch 1/%d, batch 0/%d %s 0%% - starting (the first "
                 "batch can take longer)", st->epochs, st->steps, bar);
        return;
    }
    figures_text(st, figs, sizeof figs);
    snprintf(out, cap, "Training: epoch %d/%d, batch %d/%d %s %3.0f%%\n%s\n%s spent, %s",
             st->epoch, st->epochs, st->step, st->steps, bar, frac * 100, figs, spent, left);
}

static void final_text(const progress_state *st, const rtb_progress *p, double now,
                       char *out, size_t cap)
{
    char spent[32], figs[160] = "";
    duration_text(now - st->t_begin, spent, sizeof spent);
    if (st->epoch > 0) {
        figs[0] = '\n';
        figures_text(st, figs + 1, sizeof figs - 1);
    }
    if (p->interrupted)
        snprintf(out, cap, "Training interrupted in epoch %d/%d after %s: %d of %d epochs "
                 "completed (the weights trained so far are kept)%s", st->epochs_done + 1,
                 st->epochs, spent, st->epochs_done, st->epochs, figs);
    else if (st->epochs_done < st->epochs)
        snprintf(out, cap, "Training stopped in epoch %d/%d after %s: %d of %d epochs "
                 "completed (the message below says why)%s", st->epochs_done + 1, st->epochs,
                 spent, st->epochs_done, st->epochs, figs);
    else
        snprintf(out, cap, "Training finished: %d/%d epochs of %d batches in %s%s",
                 st->epochs_done, st->epochs, st->steps, spent, figs);
}

/* The same words in HTML, with a bar drawn by two nested boxes. */
static void html_text(const char *text, double frac, char *out, size_t cap)
{
    int pct = (int)(frac * 100 + 0.5);
    int k = snprintf(out, cap, "<div style=\"font-family:monospace\"><div style=\"width:24em;"
                     "height:0.8em;background:#ddd;border-radius:3px\"><div style=\"width:%d%%;"
                     "height:100%%;background:#3a7bd5;border-radius:3px\"></div></div><pre "
                     "style=\"margin:0.3em 0 0 0\">", pct);
    for (const char *c = text; *c && k > 0 && (size_t)k + 8 < cap; c++) {
        const char *esc = *c == '<' ? "&lt;" : *c == '>' ? "&gt;" : *c == '&' ? "&amp;" : NULL;
        if (esc)
            k += snprintf(out + k, cap - (size_t)k, "%s", esc);
        else
            out[k++] = *c;
    }
    if (k > 0 && (size_t)k < cap)
        snprintf(out + k, cap - (size_t)k, "</pre></div>");
}

int progress_step(progress_state *st, const rtb_progress *p, double now,
                  char *text, size_t tcap, char *html, size_t hcap)
{
    if (p->phase == RTB_PROGRESS_BEGIN) {
        memset(st, 0, sizeof *st);
        st->t_begin = now;
        st->epochs = p->epochs;
        st->steps = p->steps;
    } else if (p->phase != RTB_PROGRESS_END && now - st->t_last < PROGRESS_MIN_INTERVAL) {
        remember(st, p);
        return 0;
    }
    remember(st, p);
    st->t_last = now;
    if (p->phase == RTB_PROGRESS_END) {
        final_text(st, p, now, text, tcap);
        html_text(text, fraction_done(st), html, hcap);
    } else {
        running_text(st, now, text, tcap);
        html_text(text, fraction_done(st), html, hcap);
    }
    return 1;
}

/* ---- the hook ---- */

static progress_state state;
static unsigned fit_count;

static void send(const lang_sink *sink, const char *text, const char *html, bool update)
{
    lang_bundle b;
    memset(&b, 0, sizeof b);
    b.n = 2;
    b.items[0] = (lang_mime){ "text/plain", text, strlen(text), false };
    b.items[1] = (lang_mime){ "text/html", html, strlen(html), false };
    sink_display(sink, &b, state.display_id, update);
}

static void hook(void *ctx, const lang_sink *sink, const rtb_progress *p)
{
    (void)ctx;
    char text[768], html[2048];
    if (!sink || sink == lang_stdio_sink())
        return;
    if (p->phase != RTB_PROGRESS_BEGIN && !state.shown)
        return;   /* no display was started for this fit */
    if (!progress_step(&state, p, monotonic_now(), text, sizeof text, html, sizeof html))
        return;
    if (p->phase == RTB_PROGRESS_BEGIN) {
        snprintf(state.display_id, sizeof state.display_id, "hellodl-fit-%ld-%u",
                 (long)getpid(), ++fit_count);
        send(sink, text, html, false);
        state.shown = 1;
        return;
    }
    send(sink, text, html, true);
    if (p->phase == RTB_PROGRESS_END)
        state.shown = 0;
}

void progress_install(void)
{
    rtb_progress_hook_set(hook, NULL);
}
