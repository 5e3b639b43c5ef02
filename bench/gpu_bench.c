/*
 * gpu_bench - the module's whole workload, timed end to end on the GPU (or
 * the CPU, for comparison):
 *
 *   gpu_bench [--device gpu|cpu] [--every-step] [--synthetic] [--tiny]
 *             [--frozen N] [--unfrozen N] [--batch N] [--side N]
 *
 * InceptionV3 at 299 x 299 with the module's top (GAP, Dense 256 relu,
 * Dropout 0.5, Dense 1 sigmoid), Adam lr 1e-4, batch 8, as the notebook
 * runs it: 5 epochs with the backbone frozen, then 3 with everything
 * trainable (re-compiled), each over the 65 training images with
 * validation on the 10 validation images, then two predictions on the test
 * images. The images are the module's radiographs when HELLODL_DATA_PATH
 * holds hello-world-deep-learning-siim; otherwise (or with --synthetic)
 * noise PNGs of the same count written to a temporary folder.
 *
 * Phases, each timed after the GPU has finished its work:
 *   build     the models made on the device (weights initialised, uploaded)
 *   data      every image decoded and resized once (the dataset's cache)
 *   frozen    fit(): the backbone's features are computed once per image
 *             and the top trained on them, as fit() does without
 *             augmentation (Group 2); --every-step runs the backbone at
 *             every step instead, the compute of Group 1's augmented runs
 *   unfrozen  fit() of every layer (batches uploaded from the host)
 *   predict   the two test images, one at a time, from the PNG file
 * Memory: the runtime's peak of live GPU bytes (tensors and workspace),
 * the pool's largest reservation from the driver, and the largest drop of
 * the device's free memory (cudaMemGetInfo, through rt_gpu_info) since the
 * GPU was opened, sampled after every batch.
 *
 * --tiny (for checking the program, e.g. on the emulated GPU): 75 x 75,
 * one epoch of each phase of 2 steps, 1 validation step. The last line,
 * "RESULT key=value ...", is what bench/gpu_module_bench.sh reads. Not a
 * test: it asserts nothing.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "applications.h"
#include "dataset.h"
#include "device.h"
#include "pngio.h"
#include "resize.h"
#include "rng.h"
#include "train.h"

#define DATASET "hello-world-deep-learning-siim/data"

typedef struct bench_opts {
    rt_device device;
    int every_step, synthetic, tiny;
    int frozen_epochs, unfrozen_epochs, batch, side;
    int steps, val_steps; /* 0: whole passes */
} bench_opts;

/* Memory high-water marks, sampled during fit. */
static struct {
    int on_gpu;
    int64_t free_at_open, min_free, max_reserved;
} mem;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void mem_sample(void)
{
    rt_cuda_info info;
    if (!mem.on_gpu || !rt_gpu_info(&info))
        return;
    if (info.free_bytes < mem.min_free)
        mem.min_free = info.free_bytes;
    if (info.pool_reserved > mem.max_reserved)
        mem.max_reserved = info.pool_reserved;
}

static void on_batch(void *ctx, int epoch, int step, int steps, double loss, double acc)
{
    (void)ctx, (void)epoch, (void)step, (void)steps, (void)loss, (void)acc;
    mem_sample();
}

static void on_epoch(void *ctx, int epoch, const rt_history *h)
{
    (void)ctx;
    int e = h->epochs - 1;
    mem_sample();
    printf("  epoch %d: loss %.4f acc %.4f", epoch + 1, h->loss[e], h->acc[e]);
    if (h->has_val)
        printf(" val_loss %.4f val_acc %.4f", h->val_loss[e], h->val_acc[e]);
    printf("\n");
}

/* Wait for the device, then read the clock. */
static double phase_end(double t0)
{
    rt_gpu_synchronize();
    mem_sample();
    return now() - t0;
}

/* ---- data: the radiographs, or noise PNGs in their place ---- */

static int find_dataset(char *out, size_t size)
{
    const char *path = getenv("HELLODL_DATA_PATH");
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        struct stat sb;
        snprintf(out, size, "%.*s/" DATASET, (int)len, path);
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/train", out);
        if (len && stat(probe, &sb) == 0 && S_ISDIR(sb.st_mode))
            return 1;
        path = end ? end + 1 : NULL;
    }
    return 0;
}

static rt_status noise_png(rt_rng *rng, const char *path)
{
    rt_image *img = NULL;
    rt_status st = rt_image_new(384, 320, 1, &img);
    for (size_t i = 0; st == RT_OK && i < (size_t)384 * 320; i++)
        img->data[i] = (float)rt_rng_below(rng, 256);
    if (st == RT_OK)
        st = rt_png_save(img, path);
    rt_image_free(img);
    return st;
}

/* dir/{train,val}/{abd,chst} with the module's counts, and dir/test. */
static rt_status synthetic_dataset(const char *dir)
{
    static const char *const split[2] = {"train", "val"};
    static const int counts[2][2] = {{32, 33}, {5, 5}};
    static const char *const cls[2] = {"abd", "chst"};
    char path[4200];
    rt_rng rng;
    rt_rng_seed(&rng, 7);
    rt_status st = RT_OK;
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < 2; c++) {
            snprintf(path, sizeof path, "%s/%s", dir, split[s]);
            mkdir(path, 0700);
            snprintf(path, sizeof path, "%s/%s/%s", dir, split[s], cls[c]);
            mkdir(path, 0700);
            for (int i = 0; i < counts[s][c] && st == RT_OK; i++) {
                snprintf(path, sizeof path, "%s/%s/%s/%s%d.png", dir, split[s], cls[c],
                         cls[c], i);
                st = noise_png(&rng, path);
            }
        }
    snprintf(path, sizeof path, "%s/test", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/test/chest_test.png", dir);
    if (st == RT_OK)
        st = noise_png(&rng, path);
    snprintf(path, sizeof path, "%s/test/abd_test.png", dir);
    if (st == RT_OK)
        st = noise_png(&rng, path);
    return st;
}

static rt_status open_split(const char *root, const char *split, const bench_opts *o,
                            int shuffle, rt_dataset **out)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", root, split);
    rt_dataset_config cfg;
    rt_dataset_config_init(&cfg);
    cfg.target_h = cfg.target_w = o->side;
    cfg.channels = 3;
    cfg.class_mode = RT_CLASS_BINARY;
    cfg.batch_size = o->batch;
    cfg.shuffle = shuffle;
    cfg.has_seed = 1;
    cfg.seed = 2024;
    cfg.augment.rescale = 1.0 / 255.0;
    return rt_dataset_new(dir, &cfg, out);
}

/* Decode every image once (the dataset keeps the pixels). */
static rt_status warm(rt_dataset *ds, int side)
{
    float *x = malloc((size_t)side * side * 3 * sizeof(float));
    rt_status st = x ? RT_OK : rt_error_set(RT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < rt_dataset_size(ds) && st == RT_OK; i++)
        st = rt_dataset_sample_load(ds, i, x);
    free(x);
    return st;
}

/* ---- the model ---- */

static rt_status build(const bench_opts *o, rt_model **bb, rt_model **m)
{
    rt_model *top = NULL;
    rt_status st = rt_inception_v3_new(bb, o->side, o->side, 3);
    if (st == RT_OK)
        st = rt_module_top_new(&top, 0.5f);
    if (st == RT_OK)
        st = rt_composed_new(m, *bb, top);
    rt_model_release(top);
    return st;
}

static rt_status fit(rt_model *m, rt_dataset *train, rt_dataset *val, const bench_opts *o,
                     int epochs, int *cached)
{
    rt_compile_config cc = {rt_optimizer_adam_defaults(), RT_LOSS_BINARY_CROSSENTROPY, 1};
    cc.optimizer.lr = 1e-4f;
    rt_status st = rt_model_compile(m, &cc);
    rt_fit_config fc;
    rt_fit_config_init(&fc);
    fc.epochs = epochs;
    fc.steps_per_epoch = o->steps;
    fc.validation_steps = o->val_steps;
    fc.feature_cache = !o->every_step;
    rt_fit_callbacks cb = {NULL, on_batch, on_epoch, NULL};
    rt_history *h = NULL;
    if (st == RT_OK)
        st = rt_model_fit(m, train, val, &fc, &cb, &h);
    *cached = h && h->feature_cache;
    rt_history_free(h);
    return st;
}

static rt_status predict_file(rt_model *m, const char *root, const char *name, int side)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/test/%s", root, name);
    rt_image *img = NULL, *r = NULL;
    rt_tensor *x = NULL, *y = NULL, *h = NULL;
    rt_status st = rt_png_load(path, 3, &img);
    if (st == RT_OK)
        st = rt_resize_image(img, side, side, RT_RESIZE_NEAREST, &r);
    int64_t shape[3] = {side, side, 3};
    if (st == RT_OK)
        st = rt_tensor_new(&x, RT_DEVICE_CPU, 3, shape);
    for (int64_t i = 0; st == RT_OK && i < x->numel; i++)
        x->data[i] = r->data[i] * (1.0f / 255.0f);
    if (st == RT_OK)
        st = rt_model_predict(m, x, &y);
    if (st == RT_OK)
        st = rt_tensor_to_device(&h, y, RT_DEVICE_CPU);
    if (st == RT_OK)
        printf("  %s: %.4f\n", name, (double)h->data[0]);
    rt_tensor_release(h);
    rt_tensor_release(y);
    rt_tensor_release(x);
    rt_image_free(r);
    rt_image_free(img);
    return st;
}

/* ---- main ---- */

/* The numeric option `a` names, and its smallest value; NULL if none. */
static int *number_option(bench_opts *o, const char *a, int *min)
{
    *min = 0;
    if (strcmp(a, "--frozen") == 0)
        return &o->frozen_epochs;
    if (strcmp(a, "--unfrozen") == 0)
        return &o->unfrozen_epochs;
    *min = 1;
    if (strcmp(a, "--batch") == 0)
        return &o->batch;
    *min = 75; /* InceptionV3's smallest input */
    return strcmp(a, "--side") == 0 ? &o->side : NULL;
}

static int parse(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){RT_DEVICE_CUDA, 0, 0, 0, 5, 3, 8, 299, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int min, *num = number_option(o, a, &min);
        if (num && v) {
            *num = atoi(v);
            if (*num < min)
                return 0;
            i++;
        } else if (strcmp(a, "--device") == 0 && v) {
            o->device = strcmp(v, "cpu") == 0 ? RT_DEVICE_CPU : RT_DEVICE_CUDA;
            i++;
        } else if (strcmp(a, "--every-step") == 0) {
            o->every_step = 1;
        } else if (strcmp(a, "--synthetic") == 0) {
            o->synthetic = 1;
        } else if (strcmp(a, "--tiny") == 0) {
            o->tiny = 1;
            o->side = 75;
            o->frozen_epochs = o->unfrozen_epochs = 1;
            o->steps = 2;
            o->val_steps = 1;
        } else {
            return 0;
        }
    }
    return 1;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(path);
}

static int fail(const char *what)
{
    fprintf(stderr, "gpu_bench: %s: %s\n", what, rt_error_message());
    return 1;
}

int main(int argc, char **argv)
{
    bench_opts o;
    if (!parse(argc, argv, &o)) {
        fprintf(stderr, "usage: gpu_bench [--device gpu|cpu] [--every-step] [--synthetic] "
                "[--tiny] [--frozen N] [--unfrozen N] [--batch N] [--side N]\n");
        return 2;
    }
    char root[4096], tmp[256] = "";
    int real = !o.synthetic && find_dataset(root, sizeof root);
    if (!real) {
        const char *t = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/gpu-bench-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmp) || synthetic_dataset(tmp) != RT_OK)
            return fail("writing the synthetic images");
        snprintf(root, sizeof root, "%s", tmp);
    }
    double t_open = now();
    if (o.device == RT_DEVICE_CUDA && !rt_gpu_available(1)) {
        fprintf(stderr, "gpu_bench: no GPU: %s\n", rt_gpu_unavailable_reason());
        return 1;
    }
    if (rt_device_select(o.device, 1u << RT_STORAGE_DATA | 1u << RT_STORAGE_MODEL, NULL)
        != RT_OK)
        return fail("selecting the device");
    t_open = now() - t_open;
    rt_cuda_info info;
    mem.on_gpu = o.device == RT_DEVICE_CUDA && rt_gpu_info(&info);
    if (mem.on_gpu) {
        mem.free_at_open = mem.min_free = info.free_bytes;
        mem.max_reserved = info.pool_reserved;
    }
    printf("gpu_bench: InceptionV3 %dx%d, batch %d, %d frozen + %d unfrozen epochs%s, "
           "images: %s\n", o.side, o.side, o.batch, o.frozen_epochs, o.unfrozen_epochs,
           o.tiny ? " (tiny: 2 steps, 1 validation step)" : "",
           real ? root : "synthetic noise PNGs");
    printf("device: %s%s\n", mem.on_gpu ? info.name : "CPU",
           mem.on_gpu && rt_gpu_emulated() ? " (emulated)" : "");
    printf("opening the device: %.3f s (not counted)\n", t_open);

    double t[5] = {0}, t0 = now();
    rt_model *bb = NULL, *m = NULL;
    rt_dataset *train = NULL, *val = NULL;
    int cached_f = 0, cached_u = 0, rc = 0;
    if (build(&o, &bb, &m) != RT_OK)
        return fail("building InceptionV3");
    t[0] = phase_end(t0);
    t0 = now();
    if (open_split(root, "train", &o, 1, &train) != RT_OK
        || open_split(root, "val", &o, 0, &val) != RT_OK
        || warm(train, o.side) != RT_OK || warm(val, o.side) != RT_OK) {
        rc = fail("reading the images");
        goto done;
    }
    t[1] = phase_end(t0);
    printf("frozen backbone:\n");
    rt_model_trainable_set(bb, 0);
    t0 = now();
    if (fit(m, train, val, &o, o.frozen_epochs, &cached_f) != RT_OK) {
        rc = fail("frozen fit");
        goto done;
    }
    t[2] = phase_end(t0);
    printf("every layer trainable:\n");
    rt_model_trainable_set(m, 1);
    t0 = now();
    if (fit(m, train, val, &o, o.unfrozen_epochs, &cached_u) != RT_OK) {
        rc = fail("unfrozen fit");
        goto done;
    }
    t[3] = phase_end(t0);
    printf("predictions:\n");
    t0 = now();
    if (predict_file(m, root, "chest_test.png", o.side) != RT_OK
        || predict_file(m, root, "abd_test.png", o.side) != RT_OK) {
        rc = fail("predict");
        goto done;
    }
    t[4] = phase_end(t0);

    double total = t[0] + t[1] + t[2] + t[3] + t[4];
    static const char *const names[5] = {"build", "data", "frozen", "unfrozen", "predict"};
    for (int i = 0; i < 5; i++)
        printf("phase %-9s %8.3f s%s\n", names[i], t[i],
               i == 2 ? (cached_f ? "  (backbone features computed once)"
                                  : "  (backbone run at every step)") : "");
    printf("total           %8.3f s\n", total);
    rt_memory_stats ms;
    rt_memory_stats_get(o.device, &ms);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double used = mem.on_gpu ? (double)(mem.free_at_open - mem.min_free) : 0.0;
    printf("memory: peak live %.0f MB on the %s (runtime accounting), pool reserved peak "
           "%.0f MB, device free memory dropped by %.0f MB (cudaMemGetInfo), host peak "
           "RSS %.0f MB\n", ms.peak_bytes / 1e6, mem.on_gpu ? "GPU" : "CPU",
           mem.max_reserved / 1e6, used / 1e6, ru.ru_maxrss / 1024.0);
    printf("RESULT impl=hellodl device=%s build=%.3f data=%.3f frozen=%.3f unfrozen=%.3f "
           "predict=%.3f total=%.3f peak_live_mb=%.0f reserved_mb=%.0f used_mb=%.0f "
           "rss_mb=%.0f features_once=%d images=%s\n", mem.on_gpu ? "gpu" : "cpu", t[0],
           t[1], t[2], t[3], t[4], total, ms.peak_bytes / 1e6, mem.max_reserved / 1e6,
           used / 1e6, ru.ru_maxrss / 1024.0, cached_f, real ? "radiographs" : "synthetic");
done:
    rt_dataset_free(train);
    rt_dataset_free(val);
    rt_model_release(m);
    rt_model_release(bb);
    if (tmp[0] && nftw(tmp, remove_entry, 8, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "gpu_bench: could not remove %s\n", tmp);
    return rc;
}
