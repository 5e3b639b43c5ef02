/*
 * dump_model - writes what tests/runtime/torch_ref.py compares against
 * PyTorch: a model's weights (Keras HDF5), a fixed input, the inference
 * output, the training-mode output for the same input, and the weight
 * gradients of loss = sum(output * r) (an HDF5 file laid out like the
 * weights). Usage: dump_model inception|mobilenet OUTDIR [H W BATCH]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applications.h"
#include "graph.h"
#include "model_impl.h"
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

static int fail(const char *what)
{
    fprintf(stderr, "dump_model: %s: %s\n", what, rt_error_message());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: dump_model inception|mobilenet OUTDIR [H W BATCH]\n");
        return 2;
    }
    int inception = strcmp(argv[1], "inception") == 0;
    int h = argc > 5 ? atoi(argv[3]) : inception ? 299 : 224;
    int w = argc > 5 ? atoi(argv[4]) : h, batch = argc > 5 ? atoi(argv[5]) : 2;
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
    randomize_bn(m, &rng);
    char path[1024];
    snprintf(path, sizeof path, "%s/weights.h5", dir);
    if (rt_model_weights_save(m, path) != RT_OK)
        return fail("save weights");
    int64_t xs[4] = {batch, h, w, 3};
    rt_tensor *x = NULL, *y = NULL, *yt = NULL, *r = NULL;
    rt_tensor_new(&x, RT_DEVICE_CPU, 4, xs);
    rt_rng_fill_uniform(&rng, x->data, (size_t)x->numel, 0.0f, 1.0f);
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
              | write_masks(dir, m, run);
    /* The gradient slab has the parameters' layout: save it as weights. */
    rt_tensor *params = m->params;
    m->params = m->grads;
    snprintf(path, sizeof path, "%s/grads.h5", dir);
    st = rt_model_weights_save(m, path);
    m->params = params;
    if (st != RT_OK)
        return fail("save gradients");
    printf("dumped %s %dx%d batch %d: output (%lld, %lld, %lld)\n", argv[1], h, w, batch,
           (long long)y->shape[1], (long long)y->shape[2], (long long)y->shape[3]);
    rt_run_free(run);
    rt_tensor_release(x);
    rt_tensor_release(y);
    rt_tensor_release(yt);
    rt_tensor_release(r);
    rt_model_release(m);
    return bad;
}
