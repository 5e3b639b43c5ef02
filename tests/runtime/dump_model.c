/*
 * dump_model - writes what tests/runtime/torch_ref.py compares against
 * PyTorch: a model's weights (Keras HDF5), the input, the inference
 * output, the training-pass output for the same input, and the weight
 * gradients of loss = sum(output * r) (an HDF5 file laid out like the
 * weights), and the training pass's ReLU and max-pooling decisions for the
 * reference to replay.
 *
 * Usage: dump_model inception|mobilenet OUTDIR [H W BATCH [SETTING [PNG...]]]
 *
 * SETTING (default "random"):
 *   random  BN gamma/beta/moving statistics drawn away from the identity,
 *           input uniform in [0,1], every layer trainable (batch statistics
 *           in the training pass): a stress case.
 *   phase1  the module's frozen-backbone pass: Keras' initial weights
 *           (glorot_uniform kernels, beta 0, gamma 1, moving statistics
 *           0/1) with every BN layer frozen, so the training pass
 *           normalises with the moving statistics (this runtime's default
 *           for frozen layers, model.h). Kernels stay trainable so that the
 *           backward runs through the frozen BN layers.
 *   phase1-stats  as phase1, but the moving statistics first set as one
 *           Keras 2.2 phase-2 step leaves them (reference §4.4: the
 *           zero-debiased average equals that batch's statistics).
 *   phase2  the unfrozen pass: Keras' initial weights, every layer
 *           trainable, batch statistics.
 * phase1/phase2 take their batch from the PNG files given (BATCH of them),
 * loaded as RGB, resized NEAREST to H x W and scaled by 1/255 as the module
 * does; random uses a seeded uniform input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applications.h"
#include "backend.h"
#include "graph.h"
#include "image.h"
#include "model_impl.h"
#include "pngio.h"
#include "resize.h"
#include "rng.h"

static int write_bin(const char *dir, const char *name, const rt_tensor *t)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    size_t n = fwrite(t->data, sizeof(float), (size_t)t->numel, f);
    fclose(f);
    return n != (size_t)t->numel;
}

/* BN statistics and affine terms away from the identity. */
static void randomize_bn(rt_model *m, rt_rng *rng)
{
    for (int i = 0; i < rt_model_node_count(m); i++) {
        rt_layer *l = rt_model_node(m, i);
        for (int k = 0; l->cfg.kind == RT_LAYER_BATCHNORM && k < l->n_weights; k++) {
            float *p = rt_model_params(m) + l->w[k].offset;
            const char *v = l->w[k].var;
            float lo = strcmp(v, "gamma") == 0 ? 0.5f : strcmp(v, "moving_variance") == 0 ? 0.5f : -0.2f;
            float hi = strcmp(v, "gamma") == 0 ? 1.5f : strcmp(v, "moving_variance") == 0 ? 2.0f : 0.2f;
            rt_rng_fill_uniform(rng, p, (size_t)l->w[k].numel, lo, hi);
        }
    }
}

/* The ReLU decisions of the training pass, activation layers in creation
 * order, NHWC: 0 = zero, 1 = passed, 2 = clipped at 6. The reference
 * replays them so that an element within float32 rounding of a threshold
 * cannot flip the gradient between the two implementations. */
static int write_masks(const char *dir, rt_model *m, rt_run *run)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/masks.bin", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    for (int i = 0; i < rt_model_node_count(m); i++) {
        const rt_layer *l = rt_model_node(m, i);
        const rt_tensor *t = rt_run_output(run, i);
        if (l->cfg.kind != RT_LAYER_ACTIVATION || !t)
            continue;
        for (int64_t k = 0; k < t->numel; k++) {
            float v = t->data[k];
            unsigned char c = v <= 0.0f ? 0 : (l->cfg.activation == RT_ACT_RELU6 && v >= 6.0f) ? 2 : 1;
            fputc(c, f);
        }
    }
    return fclose(f) != 0;
}

/* The max-pooling choices of the training pass, MaxPooling2D layers in
 * creation order: for each output element (NHWC), int32, the input cell
 * (row * in_w + col) whose gradient the backward routes to, recomputed
 * from the pool's input as runtime/cpu/pool.c picks it (the first strict
 * maximum over the window's real cells, row-major). Where a window's two
 * largest cells differ by less than float32 rounding (near-flat image
 * regions), the float64 reference could pick the other one and route the
 * gradient elsewhere, so it replays these choices as it does the ReLU
 * decisions. */
static int write_pools(const char *dir, rt_model *m, rt_run *run)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/pools.bin", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    int bad = 0;
    for (int i = 0; i < rt_model_node_count(m) && !bad; i++) {
        const rt_layer *l = rt_model_node(m, i);
        if (l->cfg.kind != RT_LAYER_MAXPOOL2D)
            continue;
        const rt_tensor *t = rt_run_output(run, l->inputs[0]);
        rt_window2d g;
        if (!t || t->ndim != 4
            || rt_window2d_init(&g, (int)t->shape[0], (int)t->shape[1], (int)t->shape[2],
                                (int)t->shape[3], (int)t->shape[3], l->cfg.k_h, l->cfg.k_w,
                                l->cfg.stride_h, l->cfg.stride_w, l->cfg.padding) != RT_OK) {
            bad = 1;
            break;
        }
        const int C = g.in_c;
        for (int b = 0; b < g.n && !bad; b++)
            for (int oh = 0; oh < g.out_h && !bad; oh++)
                for (int ow = 0; ow < g.out_w && !bad; ow++) {
                    int h0 = oh * g.stride_h - g.pad_top, w0 = ow * g.stride_w - g.pad_left;
                    int i0 = h0 < 0 ? 0 : h0, i1 = h0 + g.k_h < g.in_h ? h0 + g.k_h : g.in_h;
                    int j0 = w0 < 0 ? 0 : w0, j1 = w0 + g.k_w < g.in_w ? w0 + g.k_w : g.in_w;
                    for (int c = 0; c < C; c++) {
                        float best = 0.0f;
                        int32_t at = -1;
                        for (int ih = i0; ih < i1; ih++)
                            for (int iw = j0; iw < j1; iw++) {
                                float v = t->data[(((size_t)b * g.in_h + ih) * g.in_w + iw) * C + c];
                                if (at < 0 || v > best) {
                                    best = v;
                                    at = ih * g.in_w + iw;
                                }
                            }
                        bad |= fwrite(&at, sizeof at, 1, f) != 1;
                    }
                }
    }
    return (fclose(f) != 0) | bad;
}

/* Image i of the batch: the PNG as RGB, NEAREST to h x w, times 1/255. */
static rt_status load_image(const char *path, int h, int w, float *dst)
{
    rt_image *img = NULL, *sized = NULL;
    rt_status st = rt_png_load(path, 3, &img);
    if (st == RT_OK)
        st = rt_resize_image(img, h, w, RT_RESIZE_NEAREST, &sized);
    if (st == RT_OK)
        for (size_t k = 0; k < (size_t)h * (size_t)w * 3; k++)
            dst[k] = sized->data[k] * (1.0f / 255.0f);
    rt_image_free(sized);
    rt_image_free(img);
    return st;
}

static int fail(const char *what)
{
    fprintf(stderr, "dump_model: %s: %s\n", what, rt_error_message());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: dump_model inception|mobilenet OUTDIR [H W BATCH "
                        "[random|phase1|phase1-stats|phase2 [PNG...]]]\n");
        return 2;
    }
    int inception = strcmp(argv[1], "inception") == 0;
    int h = argc > 5 ? atoi(argv[3]) : inception ? 299 : 224;
    int w = argc > 5 ? atoi(argv[4]) : h, batch = argc > 5 ? atoi(argv[5]) : 2;
    const char *setting = argc > 6 ? argv[6] : "random";
    int stats = strcmp(setting, "phase1-stats") == 0;
    int phase1 = stats || strcmp(setting, "phase1") == 0, phase2 = strcmp(setting, "phase2") == 0;
    if (!phase1 && !phase2 && strcmp(setting, "random") != 0) {
        fprintf(stderr, "dump_model: unknown setting %s\n", setting);
        return 2;
    }
    if ((phase1 || phase2) && argc - 7 != batch) {
        fprintf(stderr, "dump_model: %s needs %d PNG files, got %d\n", setting, batch, argc - 7);
        return 2;
    }
    const char *dir = argv[2];
    rt_names_reset();
    rt_seed_default_set(1234);
    rt_model *m = NULL;
    rt_status st = inception ? rt_inception_v3_new(&m, h, w, 3)
                             : rt_mobilenet_new(&m, h, w, 3, 0.25f);
    if (st != RT_OK)
        return fail("build");
    rt_rng rng;
    rt_rng_seed(&rng, 42);
    int64_t xs[4] = {batch, h, w, 3};
    rt_tensor *x = NULL, *y = NULL, *yt = NULL, *r = NULL;
    if (rt_tensor_new(&x, RT_DEVICE_CPU, 4, xs) != RT_OK)
        return fail("input");
    if (phase1 || phase2) {
        for (int i = 0; i < batch; i++)
            if (load_image(argv[7 + i], h, w, x->data + (size_t)i * h * w * 3) != RT_OK)
                return fail("load image");
    } else {
        randomize_bn(m, &rng);
        rt_rng_fill_uniform(&rng, x->data, (size_t)x->numel, 0.0f, 1.0f);
    }
    if (stats) { /* one Keras 2.2 phase-2 step's moving-statistic update */
        rt_tensor *cal = NULL;
        rt_model_bn_mode_set(m, RT_BN_KERAS22);
        if (rt_graph_forward(m, x, 1, 0, 0, 0, NULL, &cal) != RT_OK)
            return fail("calibration forward");
        rt_tensor_release(cal);
        rt_model_bn_mode_set(m, RT_BN_TF2);
    }
    if (phase1) { /* frozen BN layers: moving statistics in the training pass */
        for (int i = 0; i < rt_model_node_count(m); i++) {
            rt_layer *l = rt_model_node(m, i);
            if (l->cfg.kind == RT_LAYER_BATCHNORM)
                l->trainable = 0;
        }
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/weights.h5", dir);
    if (rt_model_weights_save(m, path) != RT_OK)
        return fail("save weights");
    if (rt_graph_forward(m, x, 0, 0, 0, 0, NULL, &y) != RT_OK)
        return fail("inference forward");
    rt_run *run = NULL;
    if (rt_graph_forward(m, x, 1, 1, 0, 0, &run, &yt) != RT_OK)
        return fail("training forward");
    rt_tensor_new(&r, RT_DEVICE_CPU, yt->ndim, yt->shape);
    rt_rng_fill_uniform(&rng, r->data, (size_t)r->numel, -1.0f, 1.0f);
    if (rt_model_grads_ensure(m) != RT_OK || rt_graph_backward(run, r, NULL) != RT_OK)
        return fail("backward");
    int bad = write_bin(dir, "x.bin", x) | write_bin(dir, "out_infer.bin", y)
              | write_bin(dir, "out_train.bin", yt) | write_bin(dir, "r.bin", r)
              | write_masks(dir, m, run) | write_pools(dir, m, run);
    /* The gradient slab has the parameters' layout: save it as weights. */
    rt_tensor *params = m->params;
    m->params = m->grads;
    snprintf(path, sizeof path, "%s/grads.h5", dir);
    st = rt_model_weights_save(m, path);
    m->params = params;
    if (st != RT_OK)
        return fail("save gradients");
    printf("dumped %s %s %dx%d batch %d: output (%lld, %lld, %lld)\n", argv[1], setting, h, w,
           batch, (long long)y->shape[1], (long long)y->shape[2], (long long)y->shape[3]);
    rt_run_free(run);
    rt_tensor_release(x);
    rt_tensor_release(y);
    rt_tensor_release(yt);
    rt_tensor_release(r);
    rt_model_release(m);
    return bad;
}
