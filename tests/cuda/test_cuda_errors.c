/*
 * test_cuda_errors.c - GPU failures a session survives, and the CPU
 * fallback.
 *
 *   test_cuda_errors             (needs a GPU, real or emulated; else 77)
 *     - past the GPU's memory limit (rt_memory_limit_set) and past the
 *       pool's cap (rt_gpu_pool_set_cap, the runtime limit lifted), a
 *       tensor is refused with RT_ERR_NOMEM and a sentence that advises a
 *       smaller batch_size and `%device cpu`; a small op works afterwards;
 *     - a training step whose batch does not fit under the cap fails the
 *       same way, leaves the weights untouched and the GPU usable, and a
 *       smaller batch then trains;
 *     - on a real GPU, allocating until the device itself is full
 *       (cudaMalloc fails) is the same RT_ERR_NOMEM, and everything is
 *       usable once the tensors are released;
 *     - on the emulated GPU, injected faults: an out-of-memory inside a
 *       step, and a sticky error after which rt_device_recover moves the
 *       session to the CPU with the weights of the last checkpoint, and
 *       training goes on there.
 *   test_cuda_errors --fallback  (run with HELLODL_DEVICE=cpu, or with
 *       HELLODL_CUDA_MODULE naming a missing file) the session computes on
 *       the CPU, says why, refuses to select the GPU with a sentence, and
 *       trains.
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
#include "emu_backend.h"
#include "model.h"
#include "rng.h"
#include "train.h"

#define MB ((int64_t)1 << 20)

static int expect_ok(rt_status st, const char *what)
{
    check_count++;
    if (st == RT_OK)
        return 1;
    check_failures++;
    fprintf(stderr, "FAIL %s: %s: %s\n", what, rt_status_name(st), rt_error_message());
    return 0;
}

/* RT_ERR_NOMEM with a sentence that says what to do. */
static void expect_nomem(rt_status st, const char *what)
{
    const char *msg = rt_error_message();
    printf("%s: %s: %s\n", what, rt_status_name(st), msg);
    CHECK_INT(st, RT_ERR_NOMEM);
    CHECK(strstr(msg, "batch") != NULL);
    CHECK(strstr(msg, "%device cpu") != NULL);
}

/* A small op on the GPU works: a round trip through a fresh tensor. */
static void expect_gpu_works(const char *after)
{
    int64_t n = 1000;
    float src[1000], back[1000];
    for (int i = 0; i < 1000; i++)
        src[i] = (float)i * 0.5f;
    rt_tensor *t = NULL;
    char what[128];
    snprintf(what, sizeof what, "a small GPU op after %s", after);
    CHECK(rt_gpu_available(0));
    if (expect_ok(rt_tensor_new(&t, RT_DEVICE_CUDA, 1, &n), what)
        && expect_ok(rt_tensor_copy_from_host(t, src), what)
        && expect_ok(rt_tensor_copy_to_host(t, back), what))
        CHECK(memcmp(src, back, sizeof src) == 0);
    rt_tensor_release(t);
}

static void test_tensor_limit(void)
{
    rt_tensor *t = NULL;
    int64_t n = 32 * MB; /* floats: 128 MB */
    rt_memory_limit_set(RT_DEVICE_CUDA, 64 * MB);
    expect_nomem(rt_tensor_new(&t, RT_DEVICE_CUDA, 1, &n), "past the GPU memory limit");
    CHECK(t == NULL);
    rt_memory_limit_set(RT_DEVICE_CUDA, 0);
    expect_gpu_works("the memory limit");
}

static void test_pool_cap(void)
{
    rt_tensor *t = NULL;
    int64_t n = 32 * MB;
    rt_gpu_pool_set_cap(64 * MB);
    rt_memory_limit_set(RT_DEVICE_CUDA, 0); /* the pool alone refuses */
    expect_nomem(rt_tensor_new(&t, RT_DEVICE_CUDA, 1, &n), "past the pool's cap");
    CHECK(t == NULL);
    rt_gpu_pool_set_cap(0);
    expect_gpu_works("the pool's cap");
}

/* ---- a model on the GPU ---- */

typedef struct module_model {
    rt_model *bb, *m;
    rt_tensor *x;   /* (batch_max, side, side, 3) on the CPU */
    float y[64];
    int side;
} module_model;

static int model_new(module_model *mm, int side, int batch_max)
{
    memset(mm, 0, sizeof *mm);
    rt_model *top = NULL;
    mm->side = side;
    rt_status st = rt_mobilenet_new(&mm->bb, side, side, 3, 0.25f);
    if (st == RT_OK)
        st = rt_module_top_new(&top, 0.5f);
    if (st == RT_OK)
        st = rt_composed_new(&mm->m, mm->bb, top);
    rt_model_release(top);
    rt_compile_config cc = {rt_optimizer_adam_defaults(), RT_LOSS_BINARY_CROSSENTROPY, 1};
    if (st == RT_OK)
        st = rt_model_compile(mm->m, &cc);
    int64_t s[4] = {batch_max, side, side, 3};
    if (st == RT_OK)
        st = rt_tensor_new(&mm->x, RT_DEVICE_CPU, 4, s);
    if (!expect_ok(st, "building MobileNet 0.25 with the module's top"))
        return 0;
    rt_rng rng;
    rt_rng_seed(&rng, 5);
    rt_rng_fill_uniform(&rng, mm->x->data, (size_t)mm->x->numel, 0.0f, 1.0f);
    for (int i = 0; i < 64; i++)
        mm->y[i] = (float)(i % 2);
    return 1;
}

static void model_free(module_model *mm)
{
    rt_tensor_release(mm->x);
    rt_model_release(mm->m);
    rt_model_release(mm->bb);
}

static rt_status model_step(module_model *mm, int batch, double *loss)
{
    rt_tensor *b = NULL;
    double acc;
    rt_status st = rt_tensor_slice(&b, mm->x, 0, batch);
    if (st == RT_OK)
        st = rt_model_train_batch(mm->m, b, mm->y, loss, &acc);
    rt_tensor_release(b);
    return st;
}

/* Host copies of both parameter slabs (caller frees), wherever they are. */
static float *params_copy(module_model *mm, int64_t *n)
{
    rt_model_parts p;
    rt_model_parts_get(mm->m, &p);
    int64_t n0 = rt_model_param_total(p.part[0]), n1 = rt_model_param_total(p.part[1]);
    float *h = calloc((size_t)(n0 + n1), sizeof(float));
    if (!h)
        abort();
    const rt_backend *be = rt_backend_get(rt_model_device(p.part[0]));
    if (!expect_ok(be->copy_to_host(h, rt_model_params(p.part[0]), (size_t)n0 * 4),
                   "reading the weights")
        || !expect_ok(be->copy_to_host(h + n0, rt_model_params(p.part[1]), (size_t)n1 * 4),
                      "reading the weights"))
        memset(h, 0xff, (size_t)(n0 + n1) * sizeof(float)); /* NaNs: never equal */
    *n = n0 + n1;
    return h;
}

static void expect_same_weights(const float *a, const float *b, int64_t n, const char *what)
{
    int64_t diff = 0;
    for (int64_t i = 0; i < n; i++)
        diff += memcmp(&a[i], &b[i], sizeof(float)) != 0;
    printf("%s: %lld of %lld weights differ\n", what, (long long)diff, (long long)n);
    CHECK_INT(diff, 0);
}

static void test_training_oom(void)
{
    module_model mm;
    if (!model_new(&mm, 224, 64))
        return;
    double loss;
    if (!expect_ok(model_step(&mm, 2, &loss), "a first step with batch 2"))
        goto done;
    /* A cap that fits a batch of 2 (doubled until it does) but not 64. */
    rt_memory_stats ms;
    rt_memory_stats_get(RT_DEVICE_CUDA, &ms);
    int64_t room = 48 * MB, cap = 0;
    rt_status st = RT_ERR_NOMEM;
    for (; room <= 512 * MB && st != RT_OK; room *= 2) {
        rt_cuda_info info;
        int64_t held = ms.live_bytes;
        if (rt_gpu_info(&info) && info.pool_reserved > held)
            held = info.pool_reserved;
        cap = held + room;
        rt_gpu_pool_set_cap(cap);
        st = model_step(&mm, 2, &loss);
    }
    printf("cap %.0f MB: a batch of 2 trains (loss %.4f)\n", cap / 1e6, loss);
    if (!expect_ok(st, "batch 2 under a cap"))
        goto done;
    int64_t n;
    float *w0 = params_copy(&mm, &n);
    expect_nomem(model_step(&mm, 64, &loss), "a batch of 64 under the cap");
    CHECK_INT(rt_session_device(), RT_DEVICE_CUDA);
    float *w1 = params_copy(&mm, &n);
    expect_same_weights(w0, w1, n, "after the failed step");
    expect_gpu_works("a training step out of memory");
    CHECK(expect_ok(model_step(&mm, 2, &loss), "batch 2 after the failed step")
          && isfinite(loss));
    rt_tensor *one = NULL, *p = NULL;
    if (expect_ok(rt_tensor_slice(&one, mm.x, 0, 1), "predict after the failure"))
        expect_ok(rt_model_predict(mm.m, one, &p), "predict after the failure");
    rt_tensor_release(one);
    rt_tensor_release(p);
    free(w0);
    free(w1);
done:
    rt_gpu_pool_set_cap(0);
    model_free(&mm);
}

/* A real GPU filled to the brim: cudaMalloc itself fails. */
static void test_device_full(void)
{
    rt_cuda_info info;
    if (!rt_gpu_info(&info))
        return;
    rt_tensor *held[64] = {0};
    int k = 0;
    int64_t n = 1024 * MB; /* floats: 4 GiB per tensor */
    rt_status st = RT_OK;
    for (; k < 64; k++) {
        st = rt_tensor_new(&held[k], RT_DEVICE_CUDA, 1, &n);
        if (st != RT_OK)
            break;
    }
    printf("device of %.1f GB full after %d tensors of 4.3 GB\n", info.total_bytes / 1e9, k);
    expect_nomem(st, "allocating past the device's memory");
    for (int i = 0; i < k; i++)
        rt_tensor_release(held[i]);
    expect_gpu_works("filling the device");
}

/* ---- emulated faults ---- */

static void test_fault_oom(void)
{
    module_model mm;
    if (!model_new(&mm, 64, 8))
        return;
    double loss;
    if (expect_ok(model_step(&mm, 4, &loss), "a step before the fault")) {
        int64_t n;
        float *w0 = params_copy(&mm, &n);
        CHECK(rt_emu_fault_arm("oom@3"));
        expect_nomem(model_step(&mm, 4, &loss), "an out-of-memory injected in a step");
        rt_emu_fault_arm(NULL);
        float *w1 = params_copy(&mm, &n);
        expect_same_weights(w0, w1, n, "after the injected out-of-memory");
        CHECK(expect_ok(model_step(&mm, 4, &loss), "the next step") && isfinite(loss));
        free(w0);
        free(w1);
    }
    model_free(&mm);
}

static void test_fault_sticky(void)
{
    module_model mm;
    if (!model_new(&mm, 64, 8))
        return;
    double loss;
    if (!expect_ok(model_step(&mm, 4, &loss), "a step before the fault")
        || !expect_ok(rt_device_checkpoint(), "checkpoint")) {
        model_free(&mm);
        return;
    }
    int64_t n;
    float *w0 = params_copy(&mm, &n);
    CHECK(rt_emu_fault_arm("sticky@3"));
    rt_status st = model_step(&mm, 4, &loss);
    printf("sticky fault: %s: %s\n", rt_status_name(st), rt_error_message());
    CHECK_INT(st, RT_ERR_DEVICE);
    CHECK(!rt_gpu_available(0));
    char msg[2048];
    CHECK(rt_device_recover(msg, sizeof msg) == 1);
    printf("recovery: %s\n", msg);
    CHECK(msg[0] != '\0');
    CHECK_INT(rt_session_device(), RT_DEVICE_CPU);
    float *w1 = params_copy(&mm, &n);
    expect_same_weights(w0, w1, n, "restored from the checkpoint");
    CHECK(expect_ok(model_step(&mm, 4, &loss), "a step on the CPU after recovery")
          && isfinite(loss));
    rt_emu_fault_arm(NULL);
    rt_emu_revive();
    free(w0);
    free(w1);
    model_free(&mm);
}

/* ---- the CPU fallback ---- */

static int fallback(void)
{
    const char *why = rt_gpu_unavailable_reason();
    printf("session device: %s; why no GPU: %s\n", rt_device_name(rt_session_device()),
           why);
    CHECK_INT(rt_session_device(), RT_DEVICE_CPU);
    CHECK(!rt_gpu_available(1));
    CHECK(why != NULL && why[0] != '\0');
    const char *dev = getenv("HELLODL_DEVICE"), *mod = getenv("HELLODL_CUDA_MODULE");
    if (dev && strcmp(dev, "cpu") == 0)
        CHECK(strstr(why, "HELLODL_DEVICE") != NULL);
    else if (mod && *mod)
        CHECK(strstr(why, "could not be loaded") != NULL || strstr(why, "no CUDA") != NULL);
    rt_move_report rep;
    rt_status st = rt_device_select(RT_DEVICE_CUDA, 3u, &rep);
    printf("selecting the GPU: %s: %s\n", rt_status_name(st), rt_error_message());
    CHECK_INT(st, RT_ERR_DEVICE);
    CHECK_INT(rt_session_device(), RT_DEVICE_CPU);

    module_model mm;
    if (model_new(&mm, 64, 8)) {
        double l1 = NAN, l2 = NAN;
        CHECK(expect_ok(model_step(&mm, 8, &l1), "training on the CPU") && isfinite(l1));
        CHECK(expect_ok(model_step(&mm, 8, &l2), "training on the CPU") && isfinite(l2));
        printf("trained on the CPU: loss %.4f then %.4f\n", l1, l2);
        rt_memory_stats ms;
        rt_memory_stats_get(RT_DEVICE_CUDA, &ms);
        CHECK_INT(ms.live_bytes, 0); /* nothing went to a GPU */
        model_free(&mm);
    }
    return CHECK_DONE();
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--fallback") == 0)
        return fallback();
    if (!rt_gpu_available(1)) {
        printf("skipped: no GPU: %s\n", rt_gpu_unavailable_reason());
        return 77;
    }
    rt_cuda_info info;
    if (rt_gpu_info(&info))
        printf("GPU: %s%s\n", info.name, rt_gpu_emulated() ? " (emulated)" : "");
    CHECK_INT(rt_session_device(), RT_DEVICE_CUDA);
    test_tensor_limit();
    test_pool_cap();
    test_training_oom();
    if (rt_gpu_module())
        test_device_full();
    if (rt_gpu_emulated()) {
        test_fault_oom();
        test_fault_sticky();
    }
    return CHECK_DONE();
}
