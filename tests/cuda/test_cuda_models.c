/*
 * test_cuda_models.c - the module's models on the GPU against the CPU, from
 * identical weights: InceptionV3 at 299 x 299 (batch 2) and MobileNet 0.25
 * at 224 x 224 (batch 4), each with the module's top (rt_module_top_new:
 * GAP, Dense 256 relu, Dropout 0.5, Dense 1 sigmoid), Adam lr 1e-4.
 *
 * Each model is built twice from the same seed in a fresh name space: once
 * on the CPU, once moved to the GPU with rt_device_select (InceptionV3) or
 * built while the session already computes there (MobileNet). Both run:
 *   infer     the backbone's features and the model's output, inference;
 *   frozen    one training step with the backbone frozen (its BN layers in
 *             inference mode, TF2 semantics) and the top trained;
 *   unfrozen  one training step with every layer trainable (BN with batch
 *             statistics, moving statistics updated).
 * After each step: the loss, the gradients of every trainable weight, the
 * updated weights and moving statistics, and the output on the same batch.
 *
 * Tolerances (errors relative to the largest magnitude of the CPU tensor):
 *   features, outputs, loss     1e-4 in inference and frozen: float32
 *       through 94 convolutions summed in another order (cuDNN) stays
 *       near 1e-6; the margin covers cuDNN's Winograd/FFT algorithms.
 *   frozen gradients            1e-4 per tensor: the top's GEMMs over the
 *       same features.
 *   unfrozen loss               1e-3: batch statistics of a network at its
 *       initial weights amplify rounding (tests/runtime/torch_ref.py
 *       measures PyTorch float32 at 1.3e-4..2.6e-4 against float64); the
 *       output after the step 1e-2, as it also carries the few updates
 *       that went the other way (below).
 *   unfrozen gradients          median over tensors 1e-3, worst 0.3: a max
 *       pooling window whose two largest cells are within rounding of each
 *       other may pick the other cell on the GPU and move a whole gradient
 *       term (torch_ref.py saw 6e-2..1e-1 from that alone); a structural
 *       error is O(1) everywhere.
 *   updated weights             Adam's first step moves each weight by
 *       about lr * sign(g) whatever |g| is, so a weight whose gradient is
 *       within rounding of zero may move the other way: the share of
 *       weights whose update differs by more than lr/10 must stay under
 *       0.1% (frozen) and 2% (unfrozen); no update may differ by more than
 *       2 lr (+ rounding).
 *   weights not trained         frozen (the backbone, its moving
 *       statistics): unchanged on both, exactly; unfrozen (the moving
 *       statistics): 2e-3, as the loss.
 * On the emulated device every error is 0 (the same CPU ops run).
 * Skips (77) without a usable GPU.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applications.h"
#include "backend.h"
#include "check.h"
#include "device.h"
#include "graph.h"
#include "model.h"
#include "rng.h"
#include "train.h"

#define SEED 20240611u
#define LR 1e-4f
#define ALL_KINDS (1u << RT_STORAGE_DATA | 1u << RT_STORAGE_MODEL)

/* Everything one run produces, in host memory. */
typedef struct run_result {
    float *features;          /* backbone output (b, h', w', c) */
    int64_t n_features;
    float out0[8], out1[8], out2[8]; /* (b, 1): before, after frozen, after unfrozen */
    double loss1, loss2, acc1, acc2;
    float *p0[2], *p1[2], *p2[2]; /* parameter slabs of backbone and top */
    float *g1[2], *g2[2];     /* gradient slabs after each step */
    int64_t n[2];
} run_result;

static void run_free(run_result *r)
{
    free(r->features);
    for (int k = 0; k < 2; k++) {
        free(r->p0[k]);
        free(r->p1[k]);
        free(r->p2[k]);
        free(r->g1[k]);
        free(r->g2[k]);
    }
}

static int failed_call(rt_status st, const char *what)
{
    if (st == RT_OK)
        return 0;
    check_count++;
    check_failures++;
    fprintf(stderr, "FAIL %s: %s: %s\n", what, rt_status_name(st), rt_error_message());
    return 1;
}

/* A host copy of a slab on `dev` (zeros when absent). */
static float *slab_copy(rt_device dev, const float *src, int64_t n)
{
    float *dst = calloc((size_t)(n ? n : 1), sizeof(float));
    if (!dst)
        abort();
    if (!src)
        return dst;
    const rt_backend *be = rt_backend_get(dev);
    failed_call(be->copy_to_host(dst, src, (size_t)n * sizeof(float)), "slab copy_to_host");
    return dst;
}

static void snapshot(rt_model *m, float **p, float **g, int64_t *n)
{
    rt_model_parts parts;
    rt_model_parts_get(m, &parts);
    for (int k = 0; k < 2; k++) {
        rt_device dev = rt_model_device(parts.part[k]);
        n[k] = rt_model_param_total(parts.part[k]);
        p[k] = slab_copy(dev, rt_model_params(parts.part[k]), n[k]);
        if (g)
            g[k] = slab_copy(dev, rt_model_grads(parts.part[k]), n[k]);
    }
}

/* A device tensor's contents in host memory (new; caller frees). */
static rt_status tensor_host(rt_tensor *t, float **out, int64_t *n)
{
    rt_tensor *h = NULL;
    rt_status st = rt_tensor_to_device(&h, t, RT_DEVICE_CPU);
    if (st == RT_OK) {
        *out = malloc((size_t)h->numel * sizeof(float));
        if (!*out)
            abort();
        memcpy(*out, h->data, (size_t)h->numel * sizeof(float));
        *n = h->numel;
    }
    rt_tensor_release(h);
    return st;
}

/* The backbone's features in inference mode (x on the CPU). */
static rt_status features_host(rt_model *bb, rt_tensor *x, float **out, int64_t *n)
{
    rt_tensor *y = NULL;
    rt_status st = rt_graph_forward(bb, x, 0, 0, 0, 0, NULL, &y);
    if (st == RT_OK)
        st = tensor_host(y, out, n);
    rt_tensor_release(y);
    return st;
}

/* The model's (b, 1) output into out (x on the CPU). */
static rt_status predict_host(rt_model *m, rt_tensor *x, float *out, int64_t b)
{
    rt_tensor *y = NULL;
    float *h = NULL;
    int64_t n = 0;
    rt_status st = rt_model_predict(m, x, &y);
    if (st == RT_OK)
        st = tensor_host(y, &h, &n);
    if (st == RT_OK && n != b)
        st = rt_error_set(RT_ERR_SHAPE, "predict gave %lld values for %lld images",
                          (long long)n, (long long)b);
    if (st == RT_OK)
        memcpy(out, h, (size_t)b * sizeof(float));
    free(h);
    rt_tensor_release(y);
    return st;
}

static rt_status compile_adam(rt_model *m)
{
    rt_compile_config cc = {rt_optimizer_adam_defaults(), RT_LOSS_BINARY_CROSSENTROPY, 1};
    cc.optimizer.lr = LR;
    return rt_model_compile(m, &cc);
}

static rt_status build(int inception, rt_model **bb, rt_model **m)
{
    rt_model *top = NULL;
    rt_names_reset();
    rt_seed_default_set(SEED);
    rt_status st = inception ? rt_inception_v3_new(bb, 299, 299, 3)
                             : rt_mobilenet_new(bb, 224, 224, 3, 0.25f);
    if (st == RT_OK)
        st = rt_module_top_new(&top, 0.5f);
    if (st == RT_OK)
        st = rt_composed_new(m, *bb, top);
    rt_model_release(top);
    return st;
}

/* One run on `dev`. The input batch x is a CPU tensor, y its labels. */
static int run_on(rt_device dev, int inception, rt_tensor *x, const float *y,
                  run_result *r)
{
    memset(r, 0, sizeof *r);
    const char *where = dev == RT_DEVICE_CPU ? "cpu" : "gpu";
    char what[96];
    rt_model *bb = NULL, *m = NULL;
    int64_t b = x->shape[0];
    /* MobileNet is built on a GPU session; InceptionV3 on the CPU and moved. */
    int build_on_gpu = dev == RT_DEVICE_CUDA && !inception;
    snprintf(what, sizeof what, "%s: select %s", where, build_on_gpu ? "gpu" : "cpu");
    if (failed_call(rt_device_select(build_on_gpu ? RT_DEVICE_CUDA : RT_DEVICE_CPU,
                                     ALL_KINDS, NULL), what))
        return 0;
    snprintf(what, sizeof what, "%s: build", where);
    if (failed_call(build(inception, &bb, &m), what))
        return 0;
    if (dev == RT_DEVICE_CUDA && !build_on_gpu) {
        rt_move_report rep;
        snprintf(what, sizeof what, "%s: rt_device_select(RT_DEVICE_CUDA)", where);
        if (failed_call(rt_device_select(RT_DEVICE_CUDA, ALL_KINDS, &rep), what))
            goto done;
        printf("moved to the GPU: %lld storages, %.1f MB\n", (long long)rep.storages,
               rep.bytes / 1e6);
    }
    CHECK_INT(rt_session_device(), dev);
    CHECK_INT(rt_model_device(bb), dev);
    snapshot(m, r->p0, NULL, r->n);

    snprintf(what, sizeof what, "%s: features", where);
    if (failed_call(features_host(bb, x, &r->features, &r->n_features), what))
        goto done;
    snprintf(what, sizeof what, "%s: predict", where);
    if (failed_call(predict_host(m, x, r->out0, b), what))
        goto done;

    /* frozen: the top alone trains */
    rt_model_parts parts;
    rt_model_parts_get(m, &parts);
    rt_model_trainable_set(parts.part[0], 0);
    rt_model_trainable_set(parts.part[1], 1);
    snprintf(what, sizeof what, "%s: frozen step", where);
    if (failed_call(compile_adam(m), what)
        || failed_call(rt_model_train_batch(m, x, y, &r->loss1, &r->acc1), what))
        goto done;
    snapshot(m, r->p1, r->g1, r->n);
    if (failed_call(predict_host(m, x, r->out1, b), what))
        goto done;

    rt_model_trainable_set(m, 1);
    snprintf(what, sizeof what, "%s: unfrozen step", where);
    if (failed_call(compile_adam(m), what)
        || failed_call(rt_model_train_batch(m, x, y, &r->loss2, &r->acc2), what))
        goto done;
    snapshot(m, r->p2, r->g2, r->n);
    failed_call(predict_host(m, x, r->out2, b), what);
done:
    rt_model_release(m);
    rt_model_release(bb);
    return 1;
}

/* ---- comparisons ---- */

static double rel_err(const float *got, const float *ref, int64_t n)
{
    double maxref = 0.0, worst = 0.0;
    for (int64_t i = 0; i < n; i++)
        maxref = fmax(maxref, fabs(ref[i]));
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]) / (maxref > 0 ? maxref : 1.0);
        if (!(e <= worst))
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

static void expect_close(const char *what, const float *got, const float *ref, int64_t n,
                         double tol)
{
    double e = rel_err(got, ref, n);
    check_count++;
    int bad = !(e <= tol);
    check_failures += bad;
    printf("  %-44s error %9.3g  (tol %g)%s\n", what, e, tol, bad ? "  FAIL" : "");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Per weight tensor: gradients (trainable ones), updates (Adam rule) and
 * moving statistics, over both parts of the composed model. */
typedef struct step_tols {
    const char *name;
    double grad_median, grad_worst, update_share, moving;
    int moving_exact; /* weights not trained must not have changed */
} step_tols;

static void compare_step(rt_model *shape_of, const step_tols *t, float *const *bc,
                         float *const *bg, float *const *pc, float *const *pg,
                         float *const *gc, float *const *gg)
{
    rt_model_parts parts;
    rt_model_parts_get(shape_of, &parts);
    double errs[1024], worst_grad = 0, worst_moving = 0, worst_update = 0;
    char worst_grad_name[96] = "-", worst_moving_name[96] = "-";
    int n_errs = 0;
    int64_t n_updates = 0, n_off = 0;
    for (int k = 0; k < 2; k++) {
        rt_model *part = parts.part[k];
        for (int i = 0; i < rt_model_node_count(part); i++) {
            const rt_layer *l = rt_model_node(part, i);
            for (int j = 0; j < l->n_weights; j++) {
                const rt_weight *w = &l->w[j];
                int64_t o = w->offset;
                char name[96];
                snprintf(name, sizeof name, "%s/%s", l->name, w->var);
                if (!w->trainable || !l->trainable) { /* not trained */
                    double e = rel_err(pg[k] + o, pc[k] + o, w->numel);
                    if (t->moving_exact)
                        e = fmax(e, rel_err(pc[k] + o, bc[k] + o, w->numel)
                                    + rel_err(pg[k] + o, bg[k] + o, w->numel));
                    if (!(e <= worst_moving)) {
                        worst_moving = isnan(e) ? INFINITY : e;
                        snprintf(worst_moving_name, sizeof worst_moving_name, "%s", name);
                    }
                    continue;
                }
                double e = rel_err(gg[k] + o, gc[k] + o, w->numel);
                if (n_errs < 1024)
                    errs[n_errs++] = e;
                if (!(e <= worst_grad)) {
                    worst_grad = isnan(e) ? INFINITY : e;
                    snprintf(worst_grad_name, sizeof worst_grad_name, "%s", name);
                }
                for (int64_t q = o; q < o + w->numel; q++) {
                    double dc = (double)pc[k][q] - bc[k][q];
                    double dg = (double)pg[k][q] - bg[k][q];
                    double d = fabs(dg - dc);
                    n_updates++;
                    n_off += !(d <= 0.1 * LR);
                    if (!(d <= worst_update))
                        worst_update = isnan(d) ? INFINITY : d;
                }
            }
        }
    }
    qsort(errs, (size_t)n_errs, sizeof errs[0], cmp_double);
    double median = n_errs ? errs[n_errs / 2] : 0.0;
    double share = n_updates ? (double)n_off / (double)n_updates : 0.0;
    int bad;
    printf("  %s: %d trainable tensors, %lld weights\n", t->name, n_errs,
           (long long)n_updates);
    check_count += 5;
    bad = !(median <= t->grad_median);
    check_failures += bad;
    printf("  %-44s error %9.3g  (tol %g)%s\n", "gradient, median tensor", median,
           t->grad_median, bad ? "  FAIL" : "");
    bad = !(worst_grad <= t->grad_worst);
    check_failures += bad;
    printf("  %-44s error %9.3g  (tol %g)%s  %s\n", "gradient, worst tensor", worst_grad,
           t->grad_worst, bad ? "  FAIL" : "", worst_grad_name);
    bad = !(share <= t->update_share);
    check_failures += bad;
    printf("  %-44s share %9.3g  (tol %g)%s\n", "updates differing by more than lr/10",
           share, t->update_share, bad ? "  FAIL" : "");
    bad = !(worst_update <= 2.0 * LR * 1.001 + 1e-6);
    check_failures += bad;
    printf("  %-44s %9.3g lr%s\n", "largest update difference", worst_update / LR,
           bad ? "  FAIL" : "");
    bad = !(worst_moving <= t->moving);
    check_failures += bad;
    printf("  %-44s error %9.3g  (tol %g)%s  %s\n", t->moving_exact
           ? "weights not trained (unchanged on both)" : "moving statistics", worst_moving,
           t->moving, bad ? "  FAIL" : "", worst_moving_name);
}

static void test_model(int inception, int batch)
{
    int side = inception ? 299 : 224;
    const char *name = inception ? "InceptionV3" : "MobileNet 0.25";
    printf("\n== %s, %d x %d, batch %d ==\n", name, side, side, batch);
    int64_t s[4] = {batch, side, side, 3};
    rt_tensor *x = NULL;
    if (failed_call(rt_tensor_new(&x, RT_DEVICE_CPU, 4, s), "input"))
        return;
    rt_rng rng;
    rt_rng_seed(&rng, SEED);
    rt_rng_fill_uniform(&rng, x->data, (size_t)x->numel, 0.0f, 1.0f);
    float y[8];
    for (int i = 0; i < batch; i++)
        y[i] = (float)(i % 2);

    run_result rc, rg;
    int ran = run_on(RT_DEVICE_CPU, inception, x, y, &rc)
              && run_on(RT_DEVICE_CUDA, inception, x, y, &rg);
    if (ran && rc.features && rg.features && rc.p2[0] && rg.p2[0]) {
        CHECK_INT(rg.n[0], rc.n[0]);
        CHECK_INT(rg.n_features, rc.n_features);
        /* the shape of the weights, for the per-tensor walk */
        rt_model *bb = NULL, *m = NULL;
        rt_device_select(RT_DEVICE_CPU, ALL_KINDS, NULL);
        if (!failed_call(build(inception, &bb, &m), "rebuild")) {
            printf(" inference\n");
            expect_close("initial weights of the backbone (identical)", rg.p0[0], rc.p0[0],
                         rc.n[0], 0);
            expect_close("initial weights of the top (identical)", rg.p0[1], rc.p0[1],
                         rc.n[1], 0);
            expect_close("backbone features", rg.features, rc.features, rc.n_features, 1e-4);
            expect_close("output", rg.out0, rc.out0, batch, 1e-4);
            printf(" frozen step: loss cpu %.7f gpu %.7f\n", rc.loss1, rg.loss1);
            float l1[2] = {(float)rg.loss1, (float)rc.loss1};
            expect_close("loss", &l1[0], &l1[1], 1, 1e-4);
            step_tols frozen = {"frozen", 1e-4, 1e-4, 1e-3, 0, 1};
            rt_model_trainable_set(bb, 0); /* the walk reads the flags */
            compare_step(m, &frozen, rc.p0, rg.p0, rc.p1, rg.p1, rc.g1, rg.g1);
            expect_close("output after the step", rg.out1, rc.out1, batch, 1e-4);
            printf(" unfrozen step: loss cpu %.7f gpu %.7f\n", rc.loss2, rg.loss2);
            float l2[2] = {(float)rg.loss2, (float)rc.loss2};
            expect_close("loss", &l2[0], &l2[1], 1, 1e-3);
            step_tols unfrozen = {"unfrozen", 1e-3, 0.3, 0.02, 2e-3, 0};
            rt_model_trainable_set(m, 1);
            compare_step(m, &unfrozen, rc.p1, rg.p1, rc.p2, rg.p2, rc.g2, rg.g2);
            expect_close("output after the step", rg.out2, rc.out2, batch, 1e-2);
        }
        rt_model_release(m);
        rt_model_release(bb);
    }
    run_free(&rc);
    run_free(&rg);
    rt_tensor_release(x);
}

int main(void)
{
    if (!rt_gpu_available(1)) {
        printf("skipped: no GPU: %s\n", rt_gpu_unavailable_reason());
        return 77;
    }
    rt_cuda_info info;
    if (rt_gpu_info(&info))
        printf("GPU: %s%s\n", info.name, rt_gpu_emulated() ? " (emulated)" : "");
    rt_memory_stats before, after;
    rt_memory_stats_get(RT_DEVICE_CUDA, &before);
    test_model(0, 4);
    test_model(1, 2);
    rt_memory_stats_get(RT_DEVICE_CUDA, &after);
    /* every model storage released (workspace may stay cached) */
    CHECK_INT(after.live_tensors, before.live_tensors);
    return CHECK_DONE();
}
