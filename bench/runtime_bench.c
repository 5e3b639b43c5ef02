/*
 * runtime_bench - the module's workload through the runtime, one workload
 * per process so that its peak RSS is its own:
 *
 *   runtime_bench inception|mobilenet frozen|unfrozen|infer [--profile]
 *                 [--device cpu|gpu]
 *
 * frozen: one pass over 65 training images (batches 8 x 8 + 1) with the
 * backbone frozen and the top GAP + Dense(256, relu) + Dropout(0.5) +
 * Dense(1, sigmoid) trained by Adam, the backbone run every step (as with
 * augmentation, Group 1), then 10 validation images in inference mode;
 * unfrozen: the same with every layer trainable; infer: one image.
 * InceptionV3 at 299 x 299, MobileNet 0.25 at 224 x 224; synthetic [0, 1]
 * pixels. Prints one line "RESULT model workload seconds maxrss_mb" and,
 * with --profile, where the time went per layer kind. Runs on the CPU
 * (even where there is a GPU) unless --device gpu; the GPU's figures for
 * the whole module are gpu_bench's. Run with OMP_WAIT_POLICY=passive. Not
 * a test: it asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "applications.h"
#include "device.h"
#include "graph.h"
#include "rng.h"
#include "train.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static rt_model *module_model(int inception)
{
    rt_model *bb = NULL, *top = NULL, *m = NULL;
    rt_status st = inception ? rt_inception_v3_new(&bb, 299, 299, 3)
                             : rt_mobilenet_new(&bb, 224, 224, 3, 0.25f);
    if (st != RT_OK || rt_module_top_new(&top, 0.5f) != RT_OK)
        return NULL;
    if (rt_composed_new(&m, bb, top) != RT_OK)
        m = NULL;
    rt_model_release(bb);
    rt_model_release(top);
    return m;
}

static rt_status run_epoch(rt_model *m, rt_tensor *x, const float *y, int side)
{
    rt_status st = RT_OK;
    for (int i = 0; i < 65 && st == RT_OK; i += 8) {
        int n = 65 - i < 8 ? 65 - i : 8;
        rt_tensor *b = NULL;
        double loss, acc;
        st = rt_tensor_slice(&b, x, 0, n);
        if (st == RT_OK)
            st = rt_model_train_batch(m, b, y + i, &loss, &acc);
        rt_tensor_release(b);
    }
    for (int i = 0; i < 10 && st == RT_OK; i += 8) { /* validation: 8 + 2 */
        rt_tensor *v = NULL, *p = NULL;
        st = rt_tensor_slice(&v, x, 0, 10 - i < 8 ? 10 - i : 8);
        if (st == RT_OK)
            st = rt_model_predict(m, v, &p);
        rt_tensor_release(v);
        rt_tensor_release(p);
    }
    (void)side;
    return st;
}

int main(int argc, char **argv)
{
    const char *usage = "usage: runtime_bench inception|mobilenet frozen|unfrozen|infer "
                        "[--profile] [--device cpu|gpu]\n";
    if (argc < 3) {
        fprintf(stderr, "%s", usage);
        return 2;
    }
    int inception = strcmp(argv[1], "inception") == 0, side = inception ? 299 : 224;
    const char *work = argv[2];
    int profile = 0;
    rt_device dev = RT_DEVICE_CPU;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--profile") == 0) {
            profile = 1;
        } else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            dev = strcmp(argv[++i], "gpu") == 0 ? RT_DEVICE_CUDA : RT_DEVICE_CPU;
        } else {
            fprintf(stderr, "%s", usage);
            return 2;
        }
    }
    /* The CPU without looking for a GPU at all; the GPU when asked. */
    if (dev == RT_DEVICE_CPU)
        setenv("HELLODL_DEVICE", "cpu", 1);
    else if (rt_device_select(dev, 1u << RT_STORAGE_DATA | 1u << RT_STORAGE_MODEL, NULL)
             != RT_OK) {
        fprintf(stderr, "runtime_bench: %s\n", rt_error_message());
        return 1;
    }
    rt_model *m = module_model(inception);
    if (!m) {
        fprintf(stderr, "build failed: %s\n", rt_error_message());
        return 1;
    }
    int64_t s[4] = {8, side, side, 3};
    rt_tensor *x = NULL;
    if (rt_tensor_new(&x, RT_DEVICE_CPU, 4, s) != RT_OK) {
        fprintf(stderr, "runtime_bench: %s\n", rt_error_message());
        return 1;
    }
    rt_rng rng;
    rt_rng_seed(&rng, 1);
    rt_rng_fill_uniform(&rng, x->data, (size_t)x->numel, 0.0f, 1.0f);
    float y[72];
    for (int i = 0; i < 72; i++)
        y[i] = (float)(i % 2);
    rt_model_trainable_set(m, strcmp(work, "unfrozen") == 0);
    if (strcmp(work, "frozen") == 0) {
        rt_layer_info info;
        int last = rt_model_layer_count(m) - 1;
        rt_model_layer_get(m, last, &info);
        rt_model_trainable_set(info.submodel, 1);
    }
    rt_compile_config cc = {rt_optimizer_adam_defaults(), RT_LOSS_BINARY_CROSSENTROPY, 1};
    cc.optimizer.lr = 1e-4f;
    rt_model_compile(m, &cc);
    rt_profile_enable(profile);
    double t0 = now();
    rt_status st;
    if (strcmp(work, "infer") == 0) {
        rt_tensor *one = NULL, *p = NULL;
        st = rt_tensor_slice(&one, x, 0, 1);
        if (st == RT_OK)
            st = rt_model_predict(m, one, &p);
        rt_tensor_release(one);
        rt_tensor_release(p);
    } else {
        st = run_epoch(m, x, y, side);
    }
    if (st == RT_OK)
        st = rt_gpu_synchronize(); /* the GPU's queued work belongs to the time */
    double t = now() - t0;
    if (st != RT_OK) {
        fprintf(stderr, "%s\n", rt_error_message());
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("RESULT %s %s %.3f %.1f\n", argv[1], work, t, ru.ru_maxrss / 1024.0);
    if (profile) {
        char *text = NULL;
        if (rt_profile_report(&text) == RT_OK)
            printf("%s", text);
        free(text);
    }
    rt_tensor_release(x);
    rt_model_release(m);
    return 0;
}
