/*
 * Transfer learning on the module's radiographs with Keras' real MobileNet
 * (alpha 0.25) ImageNet weights: frozen backbone, top GAP + Dense(256,
 * relu) + Dropout(0.5) + Dense(1, sigmoid), Adam, seeded; validation
 * accuracy >= 0.9 within the module's 5 frozen epochs and both test images
 * right. Also: the frozen-backbone feature cache gives the same history as
 * running the backbone every step, and an interrupt keeps a partial
 * history. Needs HELLODL_DATA_PATH (exit 77 otherwise); skipped when
 * HELLODL_SLOW_TESTS=0 (the sanitizer run).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applications.h"
#include "check.h"
#include "dataset.h"
#include "pngio.h"
#include "resize.h"
#include "train.h"

#define SIDE 224

static char data_dir[1024], weights_path[1024];

static int find_data(void)
{
    const char *env = getenv("HELLODL_DATA_PATH");
    if (!env || !*env)
        return 0;
    char *copy = strdup(env), *save = NULL;
    int found = 0;
    for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char p[1024];
        snprintf(p, sizeof p, "%s/hello-world-deep-learning-siim/data", d);
        if (access(p, R_OK) == 0)
            snprintf(data_dir, sizeof data_dir, "%s", p), found |= 1;
        snprintf(p, sizeof p, "%s/keras-pretrained-models/mobilenet_2_5_224_tf_no_top.h5", d);
        if (access(p, R_OK) == 0)
            snprintf(weights_path, sizeof weights_path, "%s", p), found |= 2;
    }
    free(copy);
    return found == 3;
}

static rt_dataset *open_set(const char *sub, int shuffle)
{
    rt_dataset_config c;
    rt_dataset_config_init(&c);
    c.target_h = c.target_w = SIDE;
    c.class_mode = RT_CLASS_BINARY;
    c.batch_size = 8;
    c.shuffle = shuffle;
    c.has_seed = 1;
    c.seed = 7;
    c.augment.rescale = 1.0 / 255.0;
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/%s", data_dir, sub);
    rt_dataset *ds = NULL;
    if (rt_dataset_new(dir, &c, &ds) != RT_OK)
        fprintf(stderr, "dataset %s: %s\n", dir, rt_error_message());
    return ds;
}

static rt_model *build_model(rt_model **backbone_out)
{
    rt_names_reset();
    rt_seed_default_set(2024);
    rt_model *bb = NULL, *top = NULL, *m = NULL;
    CHECK(rt_mobilenet_new(&bb, SIDE, SIDE, 3, 0.25f) == RT_OK);
    int renamed = -1;
    CHECK(rt_model_weights_load(bb, weights_path, 0, &renamed) == RT_OK);
    CHECK_INT(renamed, 0);
    rt_model_trainable_set(bb, 0);
    CHECK(rt_module_top_new(&top, 0.5f) == RT_OK);
    CHECK(rt_composed_new(&m, bb, top) == RT_OK);
    rt_compile_config cc = {rt_optimizer_adam_defaults(), RT_LOSS_BINARY_CROSSENTROPY, 1};
    cc.optimizer.lr = 1e-3f;
    cc.optimizer.epsilon = 1e-8f;
    CHECK(rt_model_compile(m, &cc) == RT_OK);
    *backbone_out = bb; /* borrowed: the composition holds it */
    rt_model_release(bb);
    rt_model_release(top);
    return m;
}

static rt_history *train(rt_model *m, int epochs, int cache, const rt_fit_callbacks *cb)
{
    rt_dataset *tr = open_set("train", 1), *va = open_set("val", 0);
    rt_fit_config fc;
    rt_fit_config_init(&fc);
    fc.epochs = epochs;
    fc.validation_steps = 2; /* all 10 validation images every epoch */
    fc.feature_cache = cache;
    rt_history *h = NULL;
    if (tr && va && rt_model_fit(m, tr, va, &fc, cb, &h) != RT_OK)
        fprintf(stderr, "fit: %s\n", rt_error_message());
    rt_dataset_free(tr);
    rt_dataset_free(va);
    return h;
}

static float predict_file(rt_model *m, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/test/%s", data_dir, name);
    rt_image *img = NULL, *small = NULL;
    rt_tensor *x = NULL, *y = NULL;
    float p = -1;
    if (rt_png_load(path, 3, &img) == RT_OK
        && rt_resize_image(img, SIDE, SIDE, RT_RESIZE_NEAREST, &small) == RT_OK) {
        for (size_t i = 0; i < (size_t)SIDE * SIDE * 3; i++)
            small->data[i] /= 255.0f; /* the predict path divides (§3.4) */
        int64_t s[3] = {SIDE, SIDE, 3};
        if (rt_tensor_from_host(&x, RT_DEVICE_CPU, 3, s, small->data) == RT_OK
            && rt_model_predict(m, x, &y) == RT_OK)
            p = y->data[0];
    }
    rt_image_free(img);
    rt_image_free(small);
    rt_tensor_release(x);
    rt_tensor_release(y);
    return p;
}

static int stop_after;
static int batches_seen;
static void on_batch(void *ctx, int epoch, int step, int steps, double loss, double acc)
{
    (void)ctx;
    (void)steps;
    batches_seen++;
    printf("  epoch %d step %d loss %.4f acc %.4f\n", epoch + 1, step + 1, loss, acc);
}
static int should_stop(void *ctx)
{
    (void)ctx;
    return stop_after > 0 && batches_seen >= stop_after;
}

int main(void)
{
    const char *slow = getenv("HELLODL_SLOW_TESTS");
    if (slow && strcmp(slow, "0") == 0) {
        printf("skip: HELLODL_SLOW_TESTS=0\n");
        return 77;
    }
    if (!find_data()) {
        printf("skip: the module's dataset and mobilenet_2_5_224_tf_no_top.h5 were not "
               "found under HELLODL_DATA_PATH\n");
        return 77;
    }
    rt_model *bb = NULL, *m = build_model(&bb);
    rt_history *h = train(m, 5, 1, NULL);
    CHECK(h != NULL);
    if (h) {
        CHECK(h->feature_cache);
        for (int e = 0; e < h->epochs; e++)
            printf("epoch %d: loss %.4f acc %.4f val_loss %.4f val_acc %.4f\n", e + 1,
                   h->loss[e], h->acc[e], h->val_loss[e], h->val_acc[e]);
        CHECK_INT(h->epochs, 5);
        CHECK(h->val_acc[h->epochs - 1] >= 0.9);
    }
    float chest = predict_file(m, "chest_test.png"), abd = predict_file(m, "abd_test.png");
    printf("chest_test.png %.4f, abd_test.png %.4f\n", chest, abd);
    CHECK(chest > 0.5f);
    CHECK(abd >= 0.0f && abd < 0.5f);
    rt_history_free(h);
    rt_model_release(m);

    /* The cache changes nothing but the time; and an interrupt stops. */
    rt_history *a, *b;
    m = build_model(&bb);
    a = train(m, 2, 1, NULL);
    rt_model_release(m);
    m = build_model(&bb);
    b = train(m, 2, 0, NULL);
    rt_model_release(m);
    CHECK(a && b && !b->feature_cache);
    for (int e = 0; a && b && e < 2; e++) {
        CHECK_NEAR(a->loss[e], b->loss[e], 1e-5);
        CHECK_NEAR(a->val_loss[e], b->val_loss[e], 1e-5);
        CHECK_NEAR(a->acc[e], b->acc[e], 1e-9);
    }
    rt_history_free(a);
    rt_history_free(b);
    m = build_model(&bb);
    rt_fit_callbacks cb = {NULL, on_batch, NULL, should_stop};
    stop_after = 11;
    h = train(m, 5, 1, &cb);
    CHECK(h && h->interrupted && h->epochs == 1);
    CHECK_INT(batches_seen, 11);
    rt_history_free(h);
    rt_model_release(m);
    return CHECK_DONE();
}
