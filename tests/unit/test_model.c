/* Models: InceptionV3's layers, names, order and parameter counts; weight
 * files (a generated file with the notop layout, mismatches, save/load);
 * Sequential, Model(backbone, top) and summary(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applications.h"
#include "iv3_reference.h"
#include "check.h"
#include "graph.h"
#include "h5weights.h"
#include "model.h"
#include "train.h"


static void test_inception_structure(rt_model *m)
{
    CHECK_INT(rt_model_layer_count(m), 311);
    int64_t total, trainable;
    rt_model_param_counts(m, &total, &trainable);
    CHECK_INT(total, 21802784);
    CHECK_INT(trainable, 21768352);
    int ndim;
    int64_t s[3];
    rt_model_output_shape(m, &ndim, s);
    CHECK_INT(ndim, 3);
    CHECK(s[0] == 8 && s[1] == 8 && s[2] == 2048);
    char got[4096] = "";
    int weighted = 0, convs = 0, bns = 0, acts = 0, maxp = 0, avgp = 0, cat = 0;
    for (int i = 0; i < rt_model_layer_count(m); i++) {
        rt_layer_info info;
        rt_model_layer_get(m, i, &info);
        const char *c = info.class_name;
        convs += strcmp(c, "Conv2D") == 0;
        bns += strcmp(c, "BatchNormalization") == 0;
        acts += strcmp(c, "Activation") == 0;
        maxp += strcmp(c, "MaxPooling2D") == 0;
        avgp += strcmp(c, "AveragePooling2D") == 0;
        cat += strcmp(c, "Concatenate") == 0;
        if (info.params == 0)
            continue;
        weighted++;
        char tok[16];
        int n = atoi(strrchr(info.name, '_') + 1);
        snprintf(tok, sizeof tok, "%s%c%d", got[0] ? " " : "", c[0] == 'C' ? 'C' : 'B', n);
        strncat(got, tok, sizeof got - strlen(got) - 1);
    }
    CHECK_INT(weighted, 188);
    CHECK_INT(convs, 94);
    CHECK_INT(bns, 94);
    CHECK_INT(acts, 94);
    CHECK_INT(maxp, 4);
    CHECK_INT(avgp, 9);
    CHECK_INT(cat, 15);
    CHECK_STR(got, iv3_weighted_order);
    rt_layer_info info;
    rt_model_layer_get(m, 0, &info);
    CHECK_STR(info.name, "input_1");
    rt_model_layer_get(m, 310, &info);
    CHECK_STR(info.name, "mixed10");
    CHECK(rt_model_layer_find(m, "mixed9_1") > 0);
    CHECK(rt_model_layer_find(m, "concatenate_2") > 0);
    CHECK(rt_model_layer_find(m, "average_pooling2d_9") > 0);
}

/* A file with the notop layout: our own save of a model named as in a
 * fresh session, with different values. */
static void test_inception_weights(rt_model *m, const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/iv3_notop.h5", dir);
    float *k1;
    int64_t n;
    CHECK(rt_model_weight_get(m, "conv2d_1", "kernel", &k1, &n) == RT_OK);
    CHECK_INT(n, 3 * 3 * 3 * 32);
    float saved = k1[5];
    CHECK(rt_model_weights_save(m, path) == RT_OK);
    rt_h5_weights *f = NULL;
    CHECK(rt_h5weights_read(path, RT_H5_LAYOUT_ONLY, &f) == RT_OK);
    if (f) {
        int wl, tensors;
        int64_t params;
        rt_h5weights_count(f, &wl, &tensors, &params);
        CHECK_INT(f->n_layers, 311);
        CHECK_INT(wl, 188);
        CHECK_INT(tensors, 376);
        CHECK_INT(params, 21802784);
        int l = rt_h5weights_layer_find(f, "batch_normalization_1");
        CHECK(l >= 0);
        if (l >= 0) {
            CHECK_INT(f->layers[l].n_weights, 3);
            CHECK_STR(f->layers[l].weights[0].name, "batch_normalization_1/beta:0");
            CHECK_STR(f->layers[l].weights[2].name, "batch_normalization_1/moving_variance:0");
        }
        rt_h5weights_free(f);
    }
    k1[5] = 123.0f;
    int renamed = -1;
    CHECK(rt_model_weights_load(m, path, 0, &renamed) == RT_OK);
    CHECK_INT(renamed, 0);
    CHECK(k1[5] == saved);
    k1[5] = 7.0f;
    CHECK(rt_model_weights_load(m, path, 1, NULL) == RT_OK);
    CHECK(k1[5] == saved);
    unlink(path);
}

static void test_weight_mismatch(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/mobilenet.h5", dir);
    rt_model *mn = NULL, *mn2 = NULL, *iv = NULL;
    CHECK(rt_mobilenet_new(&mn, 128, 128, 3, 0.25f) == RT_OK);
    CHECK(rt_mobilenet_new(&mn2, 128, 128, 3, 0.5f) == RT_OK);
    CHECK(rt_inception_v3_new(&iv, 75, 75, 3) == RT_OK);
    CHECK(rt_model_weights_save(mn, path) == RT_OK);
    rt_status st = rt_model_weights_load(mn2, path, 0, NULL);
    CHECK(st == RT_ERR_SHAPE);
    printf("alpha mismatch: %s\n", rt_error_message());
    CHECK(strstr(rt_error_message(), "conv1") != NULL);
    st = rt_model_weights_load(iv, path, 0, NULL);
    CHECK(st == RT_ERR_SHAPE);
    printf("wrong model: %s\n", rt_error_message());
    snprintf(path, sizeof path, "%s/not_h5.h5", dir);
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs("not an hdf5 file\n", fp);
        fclose(fp);
    }
    st = rt_model_weights_load(mn, path, 0, NULL);
    CHECK(st == RT_ERR_FORMAT || st == RT_ERR_IO);
    printf("not hdf5: %s\n", rt_error_message());
    unlink(path);
    snprintf(path, sizeof path, "%s/mobilenet.h5", dir);
    unlink(path);
    rt_model_release(mn);
    rt_model_release(mn2);
    rt_model_release(iv);
}

static rt_model *module_top(int dropout)
{
    rt_model *top = NULL;
    CHECK(rt_module_top_new(&top, dropout ? 0.5f : 0.0f) == RT_OK);
    return top;
}

static void test_module_model(rt_model *bb, const char *dir)
{
    rt_model *top = module_top(1), *m = NULL;
    CHECK(rt_composed_new(&m, bb, top) == RT_OK);
    CHECK_STR(rt_model_name(top), "sequential_1");
    CHECK_STR(rt_model_name(m), "model_1");
    CHECK_INT(rt_model_layer_count(m), 312);
    rt_model_trainable_set(bb, 0);
    int64_t total, trainable;
    rt_model_param_counts(m, &total, &trainable);
    CHECK_INT(total, 22327585);
    CHECK_INT(trainable, 524801);
    rt_model_trainable_set(m, 1);
    rt_model_param_counts(m, &total, &trainable);
    CHECK_INT(trainable, 22293153);
    char *text = NULL;
    CHECK(rt_model_summary(m, &text) == RT_OK);
    CHECK(text && strstr(text, "Total params: 22,327,585") != NULL);
    CHECK(text && strstr(text, "Non-trainable params: 34,432") != NULL);
    CHECK(text && strstr(text, "sequential_1 (Sequential)") != NULL);
    CHECK(text && strstr(text, "mixed10 (Concatenate)") != NULL);
    free(text);
    CHECK(rt_model_summary(top, &text) == RT_OK);
    if (text)
        printf("%s", text);
    CHECK(text && strstr(text, "dense_1 (Dense)              (None, 256)               524544") != NULL);
    free(text);
    char path[512];
    snprintf(path, sizeof path, "%s/module.h5", dir);
    CHECK(rt_model_weights_save(m, path) == RT_OK);
    CHECK(rt_model_weights_load(m, path, 0, NULL) == RT_OK);
    unlink(path);
    rt_model_release(m);
    rt_model_release(top);
}

static void test_small_forward(void)
{
    /* InceptionV3 at its smallest input: 75 x 75 -> (1, 1, 2048). */
    rt_model *m = NULL, *cnn = NULL;
    CHECK(rt_inception_v3_new(&m, 75, 75, 3) == RT_OK);
    int64_t s[4] = {2, 75, 75, 3};
    rt_tensor *x = NULL, *y = NULL;
    CHECK(rt_tensor_new(&x, RT_DEVICE_CPU, 4, s) == RT_OK);
    for (int64_t i = 0; i < x->numel; i++)
        x->data[i] = (float)((i * 37) % 101) / 100.0f;
    CHECK(rt_graph_forward(m, x, 0, 0, 0, 0, NULL, &y) == RT_OK);
    CHECK(y && y->shape[1] == 1 && y->shape[2] == 1 && y->shape[3] == 2048);
    rt_tensor_release(y);
    rt_tensor_release(x);
    CHECK(rt_inception_v3_new(&cnn, 74, 299, 3) == RT_ERR_ARG);
    rt_model_release(m);
    CHECK(rt_small_cnn_new(&cnn, 64, 64, 3, 3, 8, 32, 1) == RT_OK);
    char *text = NULL;
    CHECK(rt_model_summary(cnn, &text) == RT_OK);
    CHECK(text && strstr(text, "flatten_1 (Flatten)          (None, 2048)") != NULL);
    free(text);
    rt_model_release(cnn);
}

int main(void)
{
    char dir[256];
    if (check_tmpdir(dir, sizeof dir, "model") < 0)
        return 1;
    rt_names_reset();
    rt_model *m = NULL;
    CHECK(rt_inception_v3_new(&m, 299, 299, 3) == RT_OK);
    if (m) {
        test_inception_structure(m);
        test_inception_weights(m, dir);
        test_module_model(m, dir);
        rt_model_release(m);
    }
    test_weight_mismatch(dir);
    test_small_forward();
    rmdir(dir);
    return CHECK_DONE();
}
