/*
 * An interrupt during fit() in the cell language: the progress hook
 * (rt_progress.h) sees every batch and raises the interrupt flag after
 * the third; fit() stops before the fourth, keeps the weights, prints how
 * far it got, consumes the interrupt and returns the partial history, so
 * the cell goes on. Small CNN on the module's images; exit 77 without them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lang.h"
#include "rt_progress.h"

typedef struct capture { char out[8192]; size_t n; } capture;

static void cap_stream(void *ctx, const char *name, const char *text, size_t len)
{
    capture *c = ctx;
    (void)name;
    if (c->n + len < sizeof c->out) { memcpy(c->out + c->n, text, len); c->n += len; }
    c->out[c->n] = 0;
}

static int batches, ends;

static void hook(void *ctx, const lang_sink *sink, const rtb_progress *p)
{
    (void)ctx; (void)sink;
    if (p->phase == RTB_PROGRESS_BATCH && ++batches == 3) lang_interrupt();
    if (p->phase == RTB_PROGRESS_END) ends += p->interrupted;
}

static const char cell[] =
    "seed(1);\n"
    "augmenter a = ImageDataGenerator(rescale = 1.0/255);\n"
    "generator g = a.flow_from_directory(\"hello-world-deep-learning-siim/data/train\",\n"
    "    target_size = {32, 32}, batch_size = 8);\n"
    "model m = SmallCNN(input_shape = {32, 32, 3}, blocks = 1, filters = 2, dense_units = 4);\n"
    "m.compile();\n"
    "history h = m.fit(g, epochs = 3, verbose = 1);\n"
    "print(\"after:\", h.epochs, h.interrupted);\n";

int main(void)
{
    const char *dp = getenv("HELLODL_DATA_PATH");
    char probe[1024];
    snprintf(probe, sizeof probe, "%.900s/hello-world-deep-learning-siim/data/train",
             dp ? dp : "");
    if (dp && strchr(dp, ':')) snprintf(probe, sizeof probe, "%.*s/hello-world-deep-learning-siim"
                                        "/data/train", (int)(strchr(dp, ':') - dp), dp);
    if (!dp || access(probe, R_OK) != 0) {
        printf("skipped: the module's images are not in HELLODL_DATA_PATH\n");
        return 77;
    }
    lang_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.data_path = dp;
    lang_session *s = lang_session_new(&cfg);
    capture c = {0};
    lang_sink sink = { &c, cap_stream, NULL, NULL, NULL };
    lang_result r;
    rtb_progress_hook_set(hook, NULL);
    lang_interrupt_clear();
    bool ok = lang_exec_cell(s, cell, 1, &sink, &r);
    CHECK(ok);
    if (!ok) fprintf(stderr, "%s: %s\n", r.error.ename, r.error.evalue);
    CHECK_INT(batches, 3);
    CHECK_INT(ends, 1);
    CHECK(strstr(c.out, "Training interrupted after 3 batches, in epoch 1/3") != NULL);
    CHECK(strstr(c.out, "after: 0 true\n") != NULL);
    CHECK(!lang_interrupted());
    if (check_failures) fprintf(stderr, "output:\n%s\n", c.out);
    lang_result_free(&r);
    rtb_progress_hook_set(NULL, NULL);
    lang_session_free(s);
    return CHECK_DONE();
}
