/*
 * The session device on the emulated GPU (HELLODL_GPU_EMULATE=1, set here
 * before the first device call): models live on it, train bit for bit as
 * on the CPU (the same CPU ops run behind the emulation), come back from
 * predict on the CPU, move to the CPU and back unchanged with every view
 * fixed, hit a memory cap with a clear error and go on, survive an
 * out-of-memory fault mid-step, and after a sticky fault mid-fit recover
 * onto the CPU with the weights and counters of the last checkpoint, then
 * train on exactly as a CPU-only run from that checkpoint.
 *
 * The emulation also hands out device pointers that the host cannot
 * dereference (emu_backend.h): a host read of GPU memory anywhere in these
 * paths would crash this program rather than pass by accident.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "applications.h"
#include "check.h"
#include "dataset.h"
#include "device.h"
#include "emu_backend.h"
#include "image.h"
#include "model_impl.h"
#include "pngio.h"
#include "train.h"

/* ---- helpers ---- */

typedef struct weights {
    float *v;
    int64_t n;
} weights;

/* Every part's parameter slab, copied to the host. */
static weights weights_get(rt_model *m)
{
    rt_model_parts p;
    rt_model_parts_get(m, &p);
    weights w = {NULL, 0};
    for (int k = 0; k < p.n; k++)
        w.n += rt_model_param_total(p.part[k]);
    w.v = malloc(sizeof(float) * (size_t)(w.n ? w.n : 1));
    int64_t off = 0;
    for (int k = 0; k < p.n; k++) {
        int64_t n = rt_model_param_total(p.part[k]);
        const rt_backend *be = rt_backend_get(rt_model_device(p.part[k]));
        CHECK(be->copy_to_host(w.v + off, rt_model_params(p.part[k]),
                               sizeof(float) * (size_t)n) == RT_OK);
        off += n;
    }
    return w;
}

static int weights_equal(weights a, weights b)
{
    return a.n == b.n && memcmp(a.v, b.v, sizeof(float) * (size_t)a.n) == 0;
}

static rt_tensor *batch_x(int n, int side, int salt)
{
    int64_t s[4] = {n, side, side, 3};
    rt_tensor *x = NULL;
    CHECK(rt_tensor_new(&x, RT_DEVICE_CPU, 4, s) == RT_OK);
    for (int64_t i = 0; i < x->numel; i++)
        x->data[i] = (float)((i * 37 + salt * 11) % 101) / 100.0f;
    return x;
}

static void batch_y(float *y, int n, int salt)
{
    for (int i = 0; i < n; i++)
        y[i] = (float)((i + salt) % 2);
}

static rt_model *small_cnn(void)
{
    rt_names_reset();
    rt_seed_default_set(11);
    rt_model *m = NULL;
    CHECK(rt_small_cnn_new(&m, 16, 16, 3, 2, 4, 8, 1) == RT_OK);
    rt_compile_config cc = {rt_optimizer_adam_defaults(), RT_LOSS_BINARY_CROSSENTROPY, 1};
    CHECK(rt_model_compile(m, &cc) == RT_OK);
    return m;
}

static rt_model *mobilenet(rt_bn_mode mode)
{
    rt_names_reset();
    rt_seed_default_set(5);
    rt_model *bb = NULL, *top = NULL, *m = NULL;
    CHECK(rt_mobilenet_new(&bb, 32, 32, 3, 0.25f) == RT_OK);
    CHECK(rt_module_top_new(&top, 0.5f) == RT_OK);
    CHECK(rt_composed_new(&m, bb, top) == RT_OK);
    rt_model_release(bb);
    rt_model_release(top);
    rt_model_bn_mode_set(m, mode);
    rt_compile_config cc = {rt_optimizer_adam_defaults(), RT_LOSS_BINARY_CROSSENTROPY, 1};
    CHECK(rt_model_compile(m, &cc) == RT_OK);
    return m;
}

typedef struct run_result {
    double loss[2];
    weights w;
    float pred[4];
} run_result;

/* Two training steps on fixed batches, then a prediction. */
static run_result train_two(rt_model *(*build)(rt_bn_mode), rt_bn_mode mode, int side,
                            rt_device expect)
{
    run_result r;
    memset(&r, 0, sizeof r);
    rt_model *m = build(mode);
    CHECK_INT(rt_model_device(m), expect);
    for (int s = 0; s < 2; s++) {
        rt_tensor *x = batch_x(4, side, s);
        float y[4];
        batch_y(y, 4, s);
        double acc;
        rt_status st = rt_model_train_batch(m, x, y, &r.loss[s], &acc);
        CHECK(st == RT_OK);
        if (st != RT_OK)
            fprintf(stderr, "train: %s\n", rt_error_message());
        rt_tensor_release(x);
    }
    r.w = weights_get(m);
    rt_tensor *x = batch_x(4, side, 7), *y = NULL;
    CHECK(rt_model_predict(m, x, &y) == RT_OK);
    CHECK(y && y->device == RT_DEVICE_CPU); /* (b) results come back */
    if (y && y->numel == 4)
        memcpy(r.pred, y->data, sizeof r.pred);
    rt_tensor_release(x);
    rt_tensor_release(y);
    rt_model_release(m);
    return r;
}

static rt_model *cnn_any(rt_bn_mode mode)
{
    (void)mode;
    return small_cnn();
}

/* (a), (b): the same steps on the emulated GPU and on the CPU. */
static void test_same_numbers(rt_model *(*build)(rt_bn_mode), rt_bn_mode mode, int side,
                              const char *what)
{
    CHECK(rt_device_select(RT_DEVICE_CUDA, 1u << RT_STORAGE_MODEL, NULL) == RT_OK);
    run_result g = train_two(build, mode, side, RT_DEVICE_CUDA);
    CHECK(rt_device_select(RT_DEVICE_CPU, 1u << RT_STORAGE_MODEL, NULL) == RT_OK);
    run_result c = train_two(build, mode, side, RT_DEVICE_CPU);
    CHECK(rt_device_select(RT_DEVICE_CUDA, 1u << RT_STORAGE_MODEL, NULL) == RT_OK);
    printf("%s: losses gpu %.9g %.9g cpu %.9g %.9g\n", what, g.loss[0], g.loss[1],
           c.loss[0], c.loss[1]);
    CHECK(g.loss[0] == c.loss[0] && g.loss[1] == c.loss[1]);
    CHECK(g.loss[0] > 0 && g.loss[1] > 0);
    CHECK(weights_equal(g.w, c.w));
    CHECK(memcmp(g.pred, c.pred, sizeof g.pred) == 0);
    free(g.w.v);
    free(c.w.v);
}

/* (c) A move to the CPU and back keeps every value and fixes every view. */
static void test_moves(void)
{
    rt_model *m = small_cnn();
    CHECK_INT(rt_model_device(m), RT_DEVICE_CUDA);
    weights w0 = weights_get(m);
    int64_t n = 64, s2[2] = {8, 8};
    rt_tensor *t = NULL, *v = NULL, *r = NULL;
    CHECK(rt_tensor_new(&t, RT_DEVICE_CUDA, 1, &n) == RT_OK);
    rt_tensor_set_kind(t, RT_STORAGE_MODEL);
    float src[64], back[64];
    for (int i = 0; i < 64; i++)
        src[i] = (float)i * 0.5f;
    CHECK(rt_tensor_copy_from_host(t, src) == RT_OK);
    CHECK(rt_tensor_slice(&v, t, 16, 16) == RT_OK);
    CHECK(rt_tensor_reshape(&r, t, 2, s2) == RT_OK);

    rt_move_report rep;
    CHECK(rt_device_select(RT_DEVICE_CPU, 1u << RT_STORAGE_MODEL, &rep) == RT_OK);
    CHECK(rep.storages >= 2 && rep.bytes > 0 && rep.lost == 0);
    CHECK_INT(rt_session_device(), RT_DEVICE_CPU);
    CHECK_INT(rt_model_device(m), RT_DEVICE_CPU);
    CHECK(t->device == RT_DEVICE_CPU && v->device == RT_DEVICE_CPU && r->device == RT_DEVICE_CPU);
    CHECK(v->data == t->data + 16 && r->data == t->data);
    CHECK(v->data[3] == src[19]); /* host memory now: readable */
    weights w1 = weights_get(m);
    CHECK(weights_equal(w0, w1));
    rt_memory_stats ms;
    rt_memory_stats_get(RT_DEVICE_CUDA, &ms);
    CHECK_INT(ms.live_storages, 0);

    CHECK(rt_device_select(RT_DEVICE_CUDA, 1u << RT_STORAGE_MODEL, &rep) == RT_OK);
    CHECK(t->device == RT_DEVICE_CUDA && v->device == RT_DEVICE_CUDA);
    CHECK(v->data == t->data + 16 && r->data == t->data);
    CHECK(rt_tensor_copy_to_host(r, back) == RT_OK);
    CHECK(memcmp(src, back, sizeof src) == 0);
    weights w2 = weights_get(m);
    CHECK(weights_equal(w0, w2));
    CHECK_INT(rt_model_device(m), RT_DEVICE_CUDA);

    /* A data tensor made on the GPU goes to the CPU with its kind. */
    rt_tensor *d = NULL, *dv = NULL;
    CHECK(rt_tensor_new(&d, RT_DEVICE_CUDA, 1, &n) == RT_OK);
    CHECK(rt_tensor_slice(&dv, d, 8, 8) == RT_OK);
    CHECK(rt_device_select(RT_DEVICE_CPU, 1u << RT_STORAGE_DATA, NULL) == RT_OK);
    CHECK(d->device == RT_DEVICE_CPU && dv->device == RT_DEVICE_CPU && dv->data == d->data + 8);
    CHECK(t->device == RT_DEVICE_CUDA); /* model storages stayed */
    CHECK(rt_device_select(RT_DEVICE_CUDA, 1u << RT_STORAGE_MODEL, NULL) == RT_OK);
    CHECK(d->device == RT_DEVICE_CPU);  /* data is not pulled to the GPU */

    /* A host pointer handed to a GPU op is refused, not used. */
    CHECK(rt_backend_get(RT_DEVICE_CUDA)->fill(back, 4, 0.0f) == RT_ERR_DEVICE);

    rt_tensor_release(dv);
    rt_tensor_release(d);
    rt_tensor_release(v);
    rt_tensor_release(r);
    rt_tensor_release(t);
    rt_model_release(m);
    free(w0.v);
    free(w1.v);
    free(w2.v);
}

static rt_status step(rt_model *m, int batch)
{
    rt_tensor *x = batch_x(batch, 16, 1);
    float *y = calloc((size_t)batch, sizeof *y);
    batch_y(y, batch, 1);
    double loss, acc;
    rt_status st = rt_model_train_batch(m, x, y, &loss, &acc);
    free(y);
    rt_tensor_release(x);
    return st;
}

/* (d) Past the memory cap: a clear RT_ERR_NOMEM, and the session goes on. */
static void test_memory_cap(void)
{
    rt_model *m = small_cnn();
    CHECK(step(m, 2) == RT_OK);
    /* A batch of 2 needs well under 1 MB beyond the model; 256 need more
     * (the input copy alone is 0.8 MB, the first activation 1 MB). */
    rt_memory_stats s;
    rt_memory_stats_get(RT_DEVICE_CUDA, &s);
    rt_memory_limit_set(RT_DEVICE_CUDA, s.live_bytes + (1 << 20));
    CHECK(step(m, 256) == RT_ERR_NOMEM);
    printf("cap: %s\n", rt_error_message());
    CHECK(strstr(rt_error_message(), "GPU") != NULL);
    CHECK(strstr(rt_error_message(), "memory limit") != NULL);
    CHECK(step(m, 2) == RT_OK);
    rt_memory_limit_set(RT_DEVICE_CUDA, 0);

    /* The emulated pool's own cap, as the real module's. */
    rt_gpu_pool_set_cap(rt_emu_pool_in_use() + (1 << 20));
    rt_memory_limit_set(RT_DEVICE_CUDA, 0);
    CHECK(step(m, 256) == RT_ERR_NOMEM);
    CHECK(strstr(rt_error_message(), "out of memory") != NULL);
    CHECK(step(m, 2) == RT_OK);
    rt_gpu_pool_set_cap(0);
    rt_model_release(m);
}

/* (f) An out-of-memory fault in the middle of a step. */
static void test_oom_fault(void)
{
    rt_model *m = small_cnn();
    CHECK(step(m, 4) == RT_OK);
    rt_emu_fault_arm(NULL); /* count one clean step */
    CHECK(step(m, 4) == RT_OK);
    int64_t ops = rt_emu_op_count();
    weights before = weights_get(m);
    CHECK(rt_emu_fault_arm("oom@20"));
    CHECK(ops > 40);
    CHECK(step(m, 4) == RT_ERR_NOMEM);
    printf("oom: %s\n", rt_error_message());
    CHECK(strstr(rt_error_message(), "out of memory") != NULL);
    weights after = weights_get(m);
    CHECK(weights_equal(before, after));
    CHECK(step(m, 4) == RT_OK);
    rt_emu_fault_arm(NULL);
    rt_model_release(m);
    free(before.v);
    free(after.v);
}

/* ---- (e) a sticky fault in the middle of fit() ---- */

static const char *const classes[2] = {"a", "b"};

static void remove_dataset(const char *root)
{
    char path[1200];
    for (int c = 0; c < 2; c++) {
        for (int k = 0; k < 6; k++) {
            snprintf(path, sizeof path, "%s/train/%s/%s%d.png", root, classes[c],
                     classes[c], k);
            unlink(path);
        }
        snprintf(path, sizeof path, "%s/train/%s", root, classes[c]);
        rmdir(path);
    }
    snprintf(path, sizeof path, "%s/train", root);
    rmdir(path);
    rmdir(root);
}

static int make_dataset(const char *root)
{
    const char *const *cls = classes;
    char path[1200];
    rt_image *img = NULL;
    if (rt_image_new(32, 32, 3, &img) != RT_OK)
        return -1;
    snprintf(path, sizeof path, "%s/train", root);
    if (mkdir(path, 0700) != 0)
        return -1;
    for (int c = 0; c < 2; c++) {
        snprintf(path, sizeof path, "%s/train/%s", root, cls[c]);
        if (mkdir(path, 0700) != 0)
            return -1;
        for (int k = 0; k < 6; k++) {
            for (int i = 0; i < 32 * 32 * 3; i++)
                img->data[i] = (float)((i * (c + 3) + k * 29) % 256);
            snprintf(path, sizeof path, "%s/train/%s/%s%d.png", root, cls[c], cls[c], k);
            if (rt_png_save(img, path) != RT_OK)
                return -1;
        }
    }
    rt_image_free(img);
    return 0;
}

typedef struct epoch_ctx {
    rt_model *m;
    weights at_epoch;     /* what the last epoch's checkpoint holds */
    int64_t iterations;   /* the optimizer's count at that checkpoint */
    const char *fault;    /* armed after the second step of epoch 2 */
} epoch_ctx;

static void on_batch(void *ctx, int epoch, int step, int steps, double loss, double acc)
{
    epoch_ctx *e = ctx;
    (void)steps;
    (void)loss;
    (void)acc;
    if (e->fault && epoch == 1 && step == 1) /* the third step fails */
        CHECK(rt_emu_fault_arm(e->fault));
}

static void on_epoch(void *ctx, int epoch, const rt_history *h)
{
    epoch_ctx *e = ctx;
    (void)epoch;
    (void)h;
    free(e->at_epoch.v);
    e->at_epoch = weights_get(e->m);
    e->iterations = rt_optimizer_iterations(e->m->opt);
}

static rt_dataset *open_set(const char *root, int side, int shuffle)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/train", root);
    rt_dataset_config c;
    rt_dataset_config_init(&c);
    c.target_h = c.target_w = side;
    c.class_mode = RT_CLASS_BINARY;
    c.batch_size = 4;
    c.shuffle = shuffle;
    c.has_seed = 1;
    c.seed = 3;
    c.augment.rescale = 1.0 / 255.0;
    rt_dataset *ds = NULL;
    CHECK(rt_dataset_new(dir, &c, &ds) == RT_OK);
    return ds;
}

/* `epochs` epochs on a fresh stream of the training set. */
static rt_status fit_fresh(rt_model *m, const char *root, int side, int epochs,
                           const rt_fit_callbacks *cb)
{
    rt_dataset *ds = open_set(root, side, 1);
    rt_fit_config fc;
    rt_fit_config_init(&fc);
    fc.epochs = epochs;
    rt_history *h = NULL;
    rt_status st = ds ? rt_model_fit(m, ds, NULL, &fc, cb, &h) : RT_ERR_IO;
    if (st != RT_OK && st != RT_ERR_DEVICE)
        fprintf(stderr, "fit: %s\n", rt_error_message());
    CHECK(st != RT_OK || (h && h->epochs == epochs && h->loss[epochs - 1] > 0));
    rt_history_free(h);
    rt_dataset_free(ds);
    return st;
}

/* A sticky fault in the third step of epoch 2 of a fit on the GPU; after
 * recovery the model holds epoch 1's checkpoint - weights, optimizer
 * state and the host-side counters (Adam's t, the dropout stream, Keras
 * 2.2's BN steps) - so one more epoch on the CPU gives exactly the
 * weights of a CPU-only run of epoch 1 then that epoch. */
static void test_sticky_fit(const char *root, rt_model *(*build)(rt_bn_mode),
                            rt_bn_mode mode, int side, const char *what)
{
    rt_model *m = build(mode);
    CHECK_INT(rt_model_device(m), RT_DEVICE_CUDA);
    epoch_ctx e = {m, {NULL, 0}, 0, "sticky@10"};
    rt_fit_callbacks cb = {&e, on_batch, on_epoch, NULL};
    rt_status st = fit_fresh(m, root, side, 3, &cb);
    CHECK(st == RT_ERR_DEVICE);
    printf("sticky %s: %s\n", what, rt_error_message());
    CHECK(strstr(rt_error_message(), "stopped working") != NULL);
    CHECK(!rt_gpu_available(0));
    CHECK_INT(e.iterations, 3);
    CHECK_INT(rt_optimizer_iterations(m->opt), 5); /* two steps past it */
    char msg[1024];
    CHECK_INT(rt_device_recover(msg, sizeof msg), 1);
    printf("recover: %s\n", msg);
    CHECK(strstr(msg, "stopped working") != NULL && strstr(msg, "CPU") != NULL);
    CHECK(strstr(msg, "restored") != NULL);
    CHECK_INT(rt_session_device(), RT_DEVICE_CPU);
    CHECK_INT(rt_model_device(m), RT_DEVICE_CPU);
    weights now = weights_get(m);
    CHECK(weights_equal(now, e.at_epoch));
    CHECK_INT(rt_optimizer_iterations(m->opt), e.iterations);
    CHECK(strlen(rt_gpu_unavailable_reason()) > 0);
    CHECK(rt_device_select(RT_DEVICE_CUDA, 1u << RT_STORAGE_MODEL, NULL) == RT_ERR_DEVICE);

    /* Training goes on, on the CPU, as if from the checkpoint. */
    e.fault = NULL;
    CHECK(fit_fresh(m, root, side, 1, NULL) == RT_OK);
    weights after = weights_get(m);
    CHECK(!weights_equal(after, now));

    rt_model *ref = build(mode);
    CHECK_INT(rt_model_device(ref), RT_DEVICE_CPU);
    CHECK(fit_fresh(ref, root, side, 1, NULL) == RT_OK);
    weights ref_ckpt = weights_get(ref);
    CHECK(weights_equal(ref_ckpt, e.at_epoch));
    CHECK(fit_fresh(ref, root, side, 1, NULL) == RT_OK);
    weights ref_after = weights_get(ref);
    CHECK(weights_equal(after, ref_after));
    CHECK_INT(rt_optimizer_iterations(m->opt), rt_optimizer_iterations(ref->opt));
    CHECK_INT(rt_optimizer_iterations(m->opt), 6);

    rt_model_release(ref);
    rt_model_release(m);
    free(now.v);
    free(after.v);
    free(ref_ckpt.v);
    free(ref_after.v);
    free(e.at_epoch.v);
    rt_emu_fault_arm(NULL);
}

/* Weights files, single weights and a Sequential that grows, on the GPU. */
static void test_weights_io(const char *root)
{
    rt_model *m = mobilenet(RT_BN_TF2);
    CHECK_INT(rt_model_device(m), RT_DEVICE_CUDA);
    weights w0 = weights_get(m);
    char path[1200];
    snprintf(path, sizeof path, "%s/w.h5", root);
    CHECK(rt_model_weights_save(m, path) == RT_OK);
    float *k = NULL, first;
    int64_t n = 0;
    CHECK(rt_model_weight_get(m, "conv1", "kernel", &k, &n) == RT_OK);
    CHECK_INT(n, 3 * 3 * 3 * 8);
    first = k ? k[1] : 0; /* a host copy: readable */
    float *zero = calloc((size_t)n, sizeof *zero);
    CHECK(rt_model_weight_set(m, "conv1", "kernel", zero, n) == RT_OK);
    CHECK(rt_model_weight_set(m, "conv1", "kernel", zero, n - 1) == RT_ERR_SHAPE);
    CHECK(rt_model_weight_get(m, "conv1", "kernel", &k, &n) == RT_OK);
    CHECK(k && k[1] == 0.0f);
    int renamed = -1;
    CHECK(rt_model_weights_load(m, path, 0, &renamed) == RT_OK);
    CHECK_INT(renamed, 0);
    CHECK(rt_model_weight_get(m, "conv1", "kernel", &k, &n) == RT_OK);
    CHECK(k && k[1] == first);
    weights w1 = weights_get(m);
    CHECK(weights_equal(w0, w1));
    unlink(path);
    free(zero);
    free(w0.v);
    free(w1.v);
    rt_model_release(m);

    rt_model *seq = NULL;
    CHECK(rt_sequential_new(&seq, NULL) == RT_OK);
    int64_t in = 8;
    rt_layer_config d = rt_layer_config_default(RT_LAYER_DENSE);
    d.units = 4;
    CHECK(rt_sequential_add(seq, &d, NULL) == RT_OK);
    CHECK(rt_model_build(seq, 1, &in) == RT_OK);
    weights a = weights_get(seq);
    d.units = 2;
    CHECK(rt_sequential_add(seq, &d, NULL) == RT_OK);
    CHECK_INT(rt_model_device(seq), RT_DEVICE_CUDA);
    weights b = weights_get(seq);
    CHECK(b.n == a.n + 4 * 2 + 2 && memcmp(a.v, b.v, sizeof(float) * (size_t)a.n) == 0);
    free(a.v);
    free(b.v);
    rt_model_release(seq);
}

typedef struct fit_result {
    rt_history *h;
    weights w;
    double eval_loss, eval_acc;
} fit_result;

static void fit_result_free(fit_result *r)
{
    rt_history_free(r->h);
    free(r->w.v);
}

static rt_model *frozen_mobilenet(rt_bn_mode mode)
{
    rt_names_reset();
    rt_seed_default_set(5);
    rt_model *bb = NULL, *top = NULL, *m = NULL;
    CHECK(rt_mobilenet_new(&bb, 32, 32, 3, 0.25f) == RT_OK);
    rt_model_trainable_set(bb, 0);
    CHECK(rt_module_top_new(&top, 0.5f) == RT_OK);
    CHECK(rt_composed_new(&m, bb, top) == RT_OK);
    rt_model_release(bb);
    rt_model_release(top);
    rt_model_bn_mode_set(m, mode);
    rt_compile_config cc = {rt_optimizer_adam_defaults(), RT_LOSS_BINARY_CROSSENTROPY, 1};
    CHECK(rt_model_compile(m, &cc) == RT_OK);
    return m;
}

/* Two epochs with validation, then evaluate(), on `dev`. */
static fit_result fit_on(const char *root, rt_model *(*build)(rt_bn_mode), int side,
                         rt_device dev, int staging)
{
    fit_result r;
    memset(&r, 0, sizeof r);
    CHECK(rt_device_select(dev, 1u << RT_STORAGE_MODEL, NULL) == RT_OK);
    rt_emu_staging_set(staging);
    rt_model *m = build(RT_BN_TF2);
    CHECK_INT(rt_model_device(m), dev);
    rt_dataset *tr = open_set(root, side, 1), *va = open_set(root, side, 0);
    rt_fit_config fc;
    rt_fit_config_init(&fc);
    fc.epochs = 2;
    rt_status st = tr && va ? rt_model_fit(m, tr, va, &fc, NULL, &r.h) : RT_ERR_IO;
    CHECK(st == RT_OK);
    if (st != RT_OK)
        fprintf(stderr, "fit: %s\n", rt_error_message());
    CHECK(rt_model_evaluate(m, va, 0, &r.eval_loss, &r.eval_acc) == RT_OK);
    r.w = weights_get(m);
    rt_dataset_free(tr);
    rt_dataset_free(va);
    rt_model_release(m);
    rt_emu_staging_set(0);
    CHECK(rt_device_select(RT_DEVICE_CUDA, 1u << RT_STORAGE_MODEL, NULL) == RT_OK);
    return r;
}

static int history_equal(const rt_history *a, const rt_history *b)
{
    if (!a || !b || a->epochs != b->epochs || a->feature_cache != b->feature_cache)
        return 0;
    for (int e = 0; e < a->epochs; e++)
        if (a->loss[e] != b->loss[e] || a->acc[e] != b->acc[e]
            || a->val_loss[e] != b->val_loss[e] || a->val_acc[e] != b->val_acc[e])
            return 0;
    return 1;
}

/* fit() and evaluate(): pixels copied per batch, pixels staged ahead, and
 * the frozen backbone's feature cache, each as on the CPU. */
static void test_fit_paths(const char *root)
{
    rt_model *(*builds[2])(rt_bn_mode) = {cnn_any, frozen_mobilenet};
    const int sides[2] = {16, 32};
    for (int b = 0; b < 2; b++) {
        fit_result c = fit_on(root, builds[b], sides[b], RT_DEVICE_CPU, 0);
        fit_result g = fit_on(root, builds[b], sides[b], RT_DEVICE_CUDA, 0);
        fit_result s = fit_on(root, builds[b], sides[b], RT_DEVICE_CUDA, 1);
        printf("fit %s: loss %.9g %.9g val %.9g cache %d\n", b ? "mobilenet" : "cnn",
               c.h ? c.h->loss[0] : -1, c.h ? c.h->loss[1] : -1,
               c.h ? c.h->val_loss[1] : -1, c.h ? c.h->feature_cache : -1);
        CHECK(c.h && c.h->feature_cache == b);
        CHECK(history_equal(c.h, g.h));
        CHECK(history_equal(c.h, s.h));
        CHECK(weights_equal(c.w, g.w) && weights_equal(c.w, s.w));
        CHECK(c.eval_loss == g.eval_loss && c.eval_loss == s.eval_loss);
        CHECK(c.eval_acc == g.eval_acc && c.eval_loss > 0);
        fit_result_free(&c);
        fit_result_free(&g);
        fit_result_free(&s);
    }
}

int main(void)
{
    unsetenv("HELLODL_DEVICE");
    unsetenv("HELLODL_GPU_EMULATE_FAULT");
    unsetenv("HELLODL_GPU_MEMORY_MB");
    setenv("HELLODL_GPU_EMULATE", "1", 1);

    CHECK_INT(rt_gpu_available(0), 0); /* nothing probed yet */
    CHECK_INT(rt_session_device(), RT_DEVICE_CUDA);
    CHECK(rt_gpu_available(0) && rt_gpu_emulated());
    CHECK_STR(rt_gpu_unavailable_reason(), "");
    CHECK_STR(rt_gpu_settings_note(), "");
    CHECK(rt_gpu_module() == NULL);
    rt_cuda_info info;
    CHECK(rt_gpu_info(&info) == 1);
    CHECK_STR(info.name, "emulated GPU (HELLODL_GPU_EMULATE, no real device)");
    CHECK_STR(rt_backend_get(RT_DEVICE_CUDA)->name, "cuda (emulated)");

    test_same_numbers(cnn_any, RT_BN_TF2, 16, "small cnn");
    test_same_numbers(mobilenet, RT_BN_TF2, 32, "mobilenet");
    test_same_numbers(mobilenet, RT_BN_KERAS22, 32, "mobilenet keras 2.2");
    test_moves();
    test_memory_cap();
    test_oom_fault();

    char root[512];
    if (check_tmpdir(root, sizeof root, "device") == 0) {
        if (make_dataset(root) == 0) {
            test_weights_io(root);
            test_fit_paths(root);
            test_sticky_fit(root, cnn_any, RT_BN_TF2, 16, "small cnn");
            rt_emu_revive(); /* a fresh GPU, as after a kernel restart */
            CHECK(rt_device_select(RT_DEVICE_CUDA, 1u << RT_STORAGE_MODEL, NULL) == RT_OK);
            test_sticky_fit(root, mobilenet, RT_BN_KERAS22, 32, "mobilenet keras 2.2");
        } else
            CHECK(!"could not write the test images");
        remove_dataset(root);
    }

    /* Everything released: nothing left on the GPU. */
    rt_memory_stats s;
    rt_memory_stats_get(RT_DEVICE_CUDA, &s);
    CHECK_INT(s.live_tensors, 0);
    CHECK_INT(s.live_storages, 0);
    CHECK_INT(rt_emu_pool_in_use(), 0);
    return CHECK_DONE();
}
