/* The emulated GPU: the CPU backend's ops behind device pointers the host
 * cannot dereference, with fault injection (emu_backend.h). */
#include "emu_backend.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Device pointer = host pointer + EMU_SHIFT: on x86-64 user addresses stay
 * below 2^47, so every device pointer is non-canonical and faults when the
 * host touches it. */
#define EMU_SHIFT ((uintptr_t)1 << 47)
/* Each buffer starts with a header holding its size (for the pool count). */
#define EMU_HEADER 64

enum { EMU_FAULT_NONE = 0, EMU_FAULT_OOM, EMU_FAULT_STICKY };

static struct {
    int fault;             /* EMU_FAULT_* */
    int64_t fault_at;      /* the op call that fails, counted from 1 */
    int64_t ops;           /* op calls since the fault was armed; atomic */
    int lost;              /* atomic */
    char lost_reason[160];
    int64_t in_use, cap;   /* pool bytes; atomic */
} emu;

static pthread_once_t emu_once = PTHREAD_ONCE_INIT;

static void emu_init(void)
{
    const char *f = getenv("HELLODL_GPU_EMULATE_FAULT");
    if (f && *f)
        rt_emu_fault_arm(f);
}

int rt_emu_fault_arm(const char *spec)
{
    int kind = EMU_FAULT_NONE;
    long long at = 0;
    char name[16];
    if (spec && *spec) {
        if (sscanf(spec, "%15[a-z]@%lld", name, &at) != 2 || at < 1)
            return 0;
        if (strcmp(name, "oom") == 0)
            kind = EMU_FAULT_OOM;
        else if (strcmp(name, "sticky") == 0)
            kind = EMU_FAULT_STICKY;
        else
            return 0;
    }
    __atomic_store_n(&emu.fault, EMU_FAULT_NONE, __ATOMIC_RELEASE);
    __atomic_store_n(&emu.ops, 0, __ATOMIC_RELAXED);
    emu.fault_at = at;
    __atomic_store_n(&emu.fault, kind, __ATOMIC_RELEASE);
    return 1;
}

int64_t rt_emu_op_count(void) { return __atomic_load_n(&emu.ops, __ATOMIC_RELAXED); }
int rt_emu_lost(void) { return __atomic_load_n(&emu.lost, __ATOMIC_ACQUIRE); }
const char *rt_emu_lost_reason(void) { return rt_emu_lost() ? emu.lost_reason : ""; }
void rt_emu_pool_set_cap(int64_t bytes) { __atomic_store_n(&emu.cap, bytes > 0 ? bytes : 0, __ATOMIC_RELAXED); }
int64_t rt_emu_pool_in_use(void) { return __atomic_load_n(&emu.in_use, __ATOMIC_RELAXED); }
int64_t rt_emu_pool_cap(void) { return __atomic_load_n(&emu.cap, __ATOMIC_RELAXED); }

void rt_emu_revive(void)
{
    __atomic_store_n(&emu.lost, 0, __ATOMIC_RELEASE);
    emu.lost_reason[0] = '\0';
}

/* The sentences follow the real module's (runtime/cuda/errors.cu); `what`
 * is a gerund phrase ("computing a convolution"). */
static rt_status emu_enter(const char *what)
{
    pthread_once(&emu_once, emu_init);
    if (rt_emu_lost())
        return rt_error_set(RT_ERR_DEVICE, "The GPU stopped working earlier in "
            "this session (%s) and cannot be used again until the kernel is "
            "restarted; the session continues on the CPU.", emu.lost_reason);
    int64_t k = __atomic_add_fetch(&emu.ops, 1, __ATOMIC_RELAXED);
    int fault = __atomic_load_n(&emu.fault, __ATOMIC_ACQUIRE);
    if (fault == EMU_FAULT_NONE || k != emu.fault_at)
        return RT_OK;
    if (fault == EMU_FAULT_OOM)
        return rt_error_set(RT_ERR_NOMEM, "The GPU is out of memory while %s "
            "(cudaErrorMemoryAllocation (out of memory), emulated): use a smaller "
            "batch_size, free models you no longer need, or run `%%device cpu`.",
            what);
    snprintf(emu.lost_reason, sizeof emu.lost_reason, "cudaErrorIllegalAddress "
             "(an illegal memory access was encountered), emulated");
    __atomic_store_n(&emu.lost, 1, __ATOMIC_RELEASE);
    char w[96];
    snprintf(w, sizeof w, "%s", what);
    w[0] = (char)toupper((unsigned char)w[0]);
    return rt_error_set(RT_ERR_DEVICE, "%s failed on the GPU: %s. The GPU stopped "
        "working and cannot be used again until the kernel is restarted; the "
        "session will continue on the CPU.", w, emu.lost_reason);
}

/* A device pointer back to the host memory behind it; a host pointer where
 * a device one belongs sets *bad. NULL stays NULL. */
static void *emu_host(const void *p, int *bad)
{
    uintptr_t u = (uintptr_t)p;
    if (!p)
        return NULL;
    if (u < EMU_SHIFT) {
        *bad = 1;
        return NULL;
    }
    return (void *)(u - EMU_SHIFT);
}

/* A host pointer checked not to be a device one. */
static void *emu_hostside(const void *p, int *bad)
{
    if ((uintptr_t)p >= EMU_SHIFT)
        *bad = 1;
    return (void *)(uintptr_t)p;
}

static rt_status emu_bad(const char *what)
{
    return rt_error_set(RT_ERR_DEVICE, "The GPU was handed memory of the wrong "
        "device while %s (a bug in hellodl; please report it). Run `%%device cpu` "
        "to continue on the CPU.", what);
}

#define CPU rt_backend_cpu()
#define ENTER(what)                                                            \
    const char *emu_what_ = (what);                                           \
    int bad = 0;                                                               \
    do {                                                                       \
        rt_status e_ = emu_enter(emu_what_);                                   \
        if (e_ != RT_OK)                                                       \
            return e_;                                                         \
    } while (0)
#define H(p) emu_host((p), &bad)
#define HOST(p) emu_hostside((p), &bad)
#define RUN(call) return bad ? emu_bad(emu_what_) : (call)

/* ---- memory ---- */

static rt_status emu_buffer_alloc(size_t nbytes, void **out)
{
    *out = NULL;
    char what[64];
    if (nbytes >= 100000)
        snprintf(what, sizeof what, "allocating %.1f MB", nbytes / 1e6);
    else
        snprintf(what, sizeof what, "allocating %.1f KB", nbytes / 1e3);
    ENTER(what);
    (void)bad;
    int64_t cap = rt_emu_pool_cap(), used = rt_emu_pool_in_use();
    if (cap > 0 && used + (int64_t)nbytes > cap)
        return rt_error_set(RT_ERR_NOMEM, "The GPU is out of memory while %s (the "
            "memory pool's cap of %.1f MB is reached, %.1f MB in use, emulated): "
            "use a smaller batch_size, free models you no longer need, or run "
            "`%%device cpu`.", what, cap / 1e6, used / 1e6);
    void *base = NULL;
    if (nbytes > SIZE_MAX - EMU_HEADER || posix_memalign(&base, 64, EMU_HEADER + nbytes))
        return rt_error_set(RT_ERR_NOMEM, "The GPU is out of memory while %s "
            "(emulated: the computer is out of memory).", what);
    memset(base, 0, EMU_HEADER + nbytes);
    *(size_t *)base = nbytes;
    __atomic_add_fetch(&emu.in_use, (int64_t)nbytes, __ATOMIC_RELAXED);
    *out = (void *)((uintptr_t)base + EMU_HEADER + EMU_SHIFT);
    return RT_OK;
}

/* Works on a lost device too: the runtime frees what it moved away. */
static void emu_buffer_free(void *p)
{
    if (!p || (uintptr_t)p < EMU_SHIFT + EMU_HEADER)
        return;
    void *base = (void *)((uintptr_t)p - EMU_SHIFT - EMU_HEADER);
    __atomic_sub_fetch(&emu.in_use, (int64_t)*(size_t *)base, __ATOMIC_RELAXED);
    free(base);
}

static rt_status emu_copy_to_host(void *dst_host, const void *src, size_t nbytes)
{
    ENTER("copying to the computer's memory");
    void *d = HOST(dst_host);
    const void *s = H(src);
    RUN(CPU->copy_to_host(d, s, nbytes));
}

static rt_status emu_copy_from_host(void *dst, const void *src_host, size_t nbytes)
{
    ENTER("copying from the computer's memory");
    void *d = H(dst);
    const void *s = HOST(src_host);
    RUN(CPU->copy_from_host(d, s, nbytes));
}

static rt_status emu_copy(void *dst, const void *src, size_t nbytes)
{
    ENTER("copying on the GPU");
    void *d = H(dst);
    const void *s = H(src);
    RUN(CPU->copy(d, s, nbytes));
}

static rt_status emu_fill(float *x, size_t n, float value)
{
    ENTER("filling a tensor");
    float *hx = H(x);
    RUN(CPU->fill(hx, n, value));
}

static rt_status emu_axpy(float *y, const float *x, size_t n, float alpha)
{
    ENTER("adding tensors");
    float *hy = H(y);
    const float *hx = H(x);
    RUN(CPU->axpy(hy, hx, n, alpha));
}

static rt_status emu_scale(float *x, size_t n, float alpha)
{
    ENTER("scaling a tensor");
    float *hx = H(x);
    RUN(CPU->scale(hx, n, alpha));
}

static void emu_workspace_trim(void)
{
    CPU->workspace_trim();
}

/* ---- GEMM, convolutions, batch norm ---- */

static rt_status emu_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a,
                          int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    ENTER("computing a matrix product");
    const float *ha = H(a), *hb = H(b);
    float *hc = H(c);
    RUN(CPU->gemm(ta, tb, m, n, k, alpha, ha, lda, hb, ldb, beta, hc, ldc));
}

static rt_status emu_conv2d_forward(const rt_window2d *g, float *out, const float *inp,
                                    const float *weight, const float *bias)
{
    ENTER("computing a convolution");
    float *o = H(out);
    const float *i = H(inp), *w = H(weight), *b = H(bias);
    RUN(CPU->conv2d_forward(g, o, i, w, b));
}

static rt_status emu_conv2d_backward(const rt_window2d *g, float *dinp, float *dweight,
                                     float *dbias, const float *dout, const float *inp,
                                     const float *weight)
{
    ENTER("computing a convolution's gradient");
    float *di = H(dinp), *dw = H(dweight), *db = H(dbias);
    const float *d = H(dout), *i = H(inp), *w = H(weight);
    RUN(CPU->conv2d_backward(g, di, dw, db, d, i, w));
}

static rt_status emu_dw_forward(const rt_window2d *g, float *out, const float *inp,
                                const float *weight, const float *bias)
{
    ENTER("computing a depthwise convolution");
    float *o = H(out);
    const float *i = H(inp), *w = H(weight), *b = H(bias);
    RUN(CPU->depthwise_conv2d_forward(g, o, i, w, b));
}

static rt_status emu_dw_backward(const rt_window2d *g, float *dinp, float *dweight,
                                 float *dbias, const float *dout, const float *inp,
                                 const float *weight)
{
    ENTER("computing a depthwise convolution's gradient");
    float *di = H(dinp), *dw = H(dweight), *db = H(dbias);
    const float *d = H(dout), *i = H(inp), *w = H(weight);
    RUN(CPU->depthwise_conv2d_backward(g, di, dw, db, d, i, w));
}

static rt_status emu_bn_forward_train(float *out, float *mean, float *var, const float *inp,
                                      const float *gamma, const float *beta, size_t rows,
                                      int c, float eps)
{
    ENTER("normalizing a batch");
    float *o = H(out), *m = H(mean), *v = H(var);
    const float *i = H(inp), *g = H(gamma), *b = H(beta);
    RUN(CPU->batchnorm_forward_train(o, m, v, i, g, b, rows, c, eps));
}

static rt_status emu_bn_forward_infer(float *out, const float *inp, const float *gamma,
                                      const float *beta, const float *mm, const float *mv,
                                      size_t rows, int c, float eps)
{
    ENTER("normalizing a batch");
    float *o = H(out);
    const float *i = H(inp), *g = H(gamma), *b = H(beta), *m = H(mm), *v = H(mv);
    RUN(CPU->batchnorm_forward_infer(o, i, g, b, m, v, rows, c, eps));
}

static rt_status emu_bn_backward_train(float *dinp, float *dgamma, float *dbeta,
                                       const float *dout, const float *inp,
                                       const float *gamma, const float *mean,
                                       const float *var, size_t rows, int c, float eps)
{
    ENTER("computing a batch normalization's gradient");
    float *di = H(dinp), *dg = H(dgamma), *db = H(dbeta);
    const float *d = H(dout), *i = H(inp), *g = H(gamma), *m = H(mean), *v = H(var);
    RUN(CPU->batchnorm_backward_train(di, dg, db, d, i, g, m, v, rows, c, eps));
}

static rt_status emu_bn_backward_infer(float *dinp, float *dgamma, float *dbeta,
                                       const float *dout, const float *inp,
                                       const float *gamma, const float *mm,
                                       const float *mv, size_t rows, int c, float eps)
{
    ENTER("computing a batch normalization's gradient");
    float *di = H(dinp), *dg = H(dgamma), *db = H(dbeta);
    const float *d = H(dout), *i = H(inp), *g = H(gamma), *m = H(mm), *v = H(mv);
    RUN(CPU->batchnorm_backward_infer(di, dg, db, d, i, g, m, v, rows, c, eps));
}

static rt_status emu_bn_moving_update(float *mm, float *mv, float *am, float *av,
                                      const float *bm, const float *bv, int c,
                                      int64_t step, float momentum, float corr)
{
    ENTER("updating moving statistics");
    float *hmm = H(mm), *hmv = H(mv), *ham = H(am), *hav = H(av);
    const float *hbm = H(bm), *hbv = H(bv);
    RUN(CPU->batchnorm_moving_update(hmm, hmv, ham, hav, hbm, hbv, c, step, momentum, corr));
}

/* ---- activations ---- */

#define EMU_ACT(name, what)                                                    \
    static rt_status emu_##name##_forward(float *out, const float *inp, size_t n) \
    {                                                                          \
        ENTER("applying " what);                                               \
        float *o = H(out);                                                     \
        const float *i = H(inp);                                               \
        RUN(CPU->name##_forward(o, i, n));                                     \
    }                                                                          \
    static rt_status emu_##name##_backward(float *dinp, const float *dout,    \
                                           const float *out, size_t n)         \
    {                                                                          \
        ENTER("computing the gradient of " what);                              \
        float *di = H(dinp);                                                   \
        const float *d = H(dout), *o = H(out);                                 \
        RUN(CPU->name##_backward(di, d, o, n));                                \
    }
EMU_ACT(relu, "relu")
EMU_ACT(relu6, "relu6")
EMU_ACT(sigmoid, "sigmoid")

static rt_status emu_softmax_forward(float *out, const float *inp, size_t rows, int cols)
{
    ENTER("applying softmax");
    float *o = H(out);
    const float *i = H(inp);
    RUN(CPU->softmax_forward(o, i, rows, cols));
}

static rt_status emu_softmax_backward(float *dinp, const float *dout, const float *out,
                                      size_t rows, int cols)
{
    ENTER("computing the gradient of softmax");
    float *di = H(dinp);
    const float *d = H(dout), *o = H(out);
    RUN(CPU->softmax_backward(di, d, o, rows, cols));
}

/* ---- pooling ---- */

static rt_status emu_maxpool_forward(const rt_window2d *g, float *out, const float *inp)
{
    ENTER("max pooling");
    float *o = H(out);
    const float *i = H(inp);
    RUN(CPU->maxpool2d_forward(g, o, i));
}

static rt_status emu_maxpool_backward(const rt_window2d *g, float *dinp, const float *dout,
                                      const float *inp)
{
    ENTER("computing max pooling's gradient");
    float *di = H(dinp);
    const float *d = H(dout), *i = H(inp);
    RUN(CPU->maxpool2d_backward(g, di, d, i));
}

static rt_status emu_avgpool_forward(const rt_window2d *g, float *out, const float *inp)
{
    ENTER("average pooling");
    float *o = H(out);
    const float *i = H(inp);
    RUN(CPU->avgpool2d_forward(g, o, i));
}

static rt_status emu_avgpool_backward(const rt_window2d *g, float *dinp, const float *dout)
{
    ENTER("computing average pooling's gradient");
    float *di = H(dinp);
    const float *d = H(dout);
    RUN(CPU->avgpool2d_backward(g, di, d));
}

static rt_status emu_gap_forward(float *out, const float *inp, int n, int hw, int c)
{
    ENTER("global average pooling");
    float *o = H(out);
    const float *i = H(inp);
    RUN(CPU->global_avgpool_forward(o, i, n, hw, c));
}

static rt_status emu_gap_backward(float *dinp, const float *dout, int n, int hw, int c)
{
    ENTER("computing global average pooling's gradient");
    float *di = H(dinp);
    const float *d = H(dout);
    RUN(CPU->global_avgpool_backward(di, d, n, hw, c));
}

/* ---- dense, dropout, layout ---- */

static rt_status emu_dense_forward(float *out, const float *inp, const float *weight,
                                   const float *bias, int b, int nin, int nout)
{
    ENTER("computing a dense layer");
    float *o = H(out);
    const float *i = H(inp), *w = H(weight), *bi = H(bias);
    RUN(CPU->dense_forward(o, i, w, bi, b, nin, nout));
}

static rt_status emu_dense_backward(float *dinp, float *dweight, float *dbias,
                                    const float *dout, const float *inp, const float *weight,
                                    int b, int nin, int nout)
{
    ENTER("computing a dense layer's gradient");
    float *di = H(dinp), *dw = H(dweight), *db = H(dbias);
    const float *d = H(dout), *i = H(inp), *w = H(weight);
    RUN(CPU->dense_backward(di, dw, db, d, i, w, b, nin, nout));
}

static rt_status emu_dropout_forward(float *out, float *mask, const float *inp, size_t n,
                                     float rate, uint64_t seed)
{
    ENTER("applying dropout");
    float *o = H(out), *m = H(mask);
    const float *i = H(inp);
    RUN(CPU->dropout_forward(o, m, i, n, rate, seed));
}

static rt_status emu_dropout_backward(float *dinp, const float *dout, const float *mask,
                                      size_t n)
{
    ENTER("computing dropout's gradient");
    float *di = H(dinp);
    const float *d = H(dout), *m = H(mask);
    RUN(CPU->dropout_backward(di, d, m, n));
}

static rt_status emu_concat_forward(float *out, const float *const *inps, const int *cs,
                                    int k, size_t rows)
{
    ENTER("concatenating tensors");
    const float *hi[16];
    if (k < 0 || k > 16)
        return rt_error_set(RT_ERR_ARG, "concatenate: %d inputs (at most 16)", k);
    for (int i = 0; i < k; i++)
        hi[i] = H(inps[i]);
    float *o = H(out);
    RUN(CPU->concat_forward(o, hi, cs, k, rows));
}

static rt_status emu_concat_backward(float *const *dinps, const float *dout, const int *cs,
                                     int k, size_t rows)
{
    ENTER("computing a concatenation's gradient");
    float *hd[16];
    if (k < 0 || k > 16)
        return rt_error_set(RT_ERR_ARG, "concatenate: %d inputs (at most 16)", k);
    for (int i = 0; i < k; i++)
        hd[i] = H(dinps[i]);
    const float *d = H(dout);
    RUN(CPU->concat_backward(hd, d, cs, k, rows));
}

static rt_status emu_zeropad_forward(const rt_pad2d *p, float *out, const float *inp)
{
    ENTER("zero padding");
    float *o = H(out);
    const float *i = H(inp);
    RUN(CPU->zeropad2d_forward(p, o, i));
}

static rt_status emu_zeropad_backward(const rt_pad2d *p, float *dinp, const float *dout)
{
    ENTER("computing zero padding's gradient");
    float *di = H(dinp);
    const float *d = H(dout);
    RUN(CPU->zeropad2d_backward(p, di, d));
}

/* ---- losses, metrics, optimizers (scalars come back to the host) ---- */

#define EMU_SCALAR(name, what)                                                 \
    static rt_status emu_##name(float *res, const float *prob, const float *target, \
                                int b, int k)                                  \
    {                                                                          \
        ENTER(what);                                                           \
        float *r = HOST(res);                                                  \
        const float *p = H(prob), *t = H(target);                              \
        RUN(CPU->name(r, p, t, b, k));                                         \
    }
#define EMU_LOSS_BACKWARD(name, what)                                          \
    static rt_status emu_##name(float *dprob, const float *prob, const float *target, \
                                int b, int k)                                  \
    {                                                                          \
        ENTER(what);                                                           \
        float *d = H(dprob);                                                   \
        const float *p = H(prob), *t = H(target);                              \
        RUN(CPU->name(d, p, t, b, k));                                         \
    }
EMU_SCALAR(bce_forward, "computing the loss")
EMU_SCALAR(cce_forward, "computing the loss")
EMU_SCALAR(binary_accuracy, "computing the accuracy")
EMU_SCALAR(categorical_accuracy, "computing the accuracy")
EMU_LOSS_BACKWARD(bce_backward, "computing the loss gradient")
EMU_LOSS_BACKWARD(cce_backward, "computing the loss gradient")

static rt_status emu_adam_update(float *param, const float *grad, float *m, float *v,
                                 size_t n, float lr_t, float b1, float b2, float eps)
{
    ENTER("updating the weights (Adam)");
    float *p = H(param), *hm = H(m), *hv = H(v);
    const float *g = H(grad);
    RUN(CPU->adam_update(p, g, hm, hv, n, lr_t, b1, b2, eps));
}

static rt_status emu_sgd_update(float *param, const float *grad, float *velocity, size_t n,
                                float lr, float momentum, int nesterov)
{
    ENTER("updating the weights (SGD)");
    float *p = H(param), *vel = H(velocity);
    const float *g = H(grad);
    RUN(CPU->sgd_update(p, g, vel, n, lr, momentum, nesterov));
}

/* ---- staging, for testing fit's page-locked upload path ---- */

static int emu_staging_on;

static rt_status emu_host_alloc(size_t nbytes, void **out)
{
    *out = malloc(nbytes ? nbytes : 1);
    return *out ? RT_OK : rt_error_set(RT_ERR_NOMEM, "Could not set aside %.1f MB of "
                                       "page-locked memory (emulated).", nbytes / 1e6);
}

static void emu_host_free(void *p)
{
    free(p);
}

static rt_status emu_upload_wait(void)
{
    ENTER("waiting for uploads");
    (void)bad;
    return RT_OK;
}

static rt_status emu_synchronize(void)
{
    ENTER("finishing queued GPU work");
    (void)bad;
    return RT_OK;
}

static const rt_cuda_module emu_staging = {
    .abi = RT_CUDA_MODULE_ABI,
    .synchronize = emu_synchronize,
    .host_alloc = emu_host_alloc,
    .host_free = emu_host_free,
    .upload_async = emu_copy_from_host, /* at once: nothing to overlap */
    .upload_wait = emu_upload_wait,
};

void rt_emu_staging_set(int on)
{
    __atomic_store_n(&emu_staging_on, on != 0, __ATOMIC_RELAXED);
}

const rt_cuda_module *rt_emu_staging_module(void)
{
    return __atomic_load_n(&emu_staging_on, __ATOMIC_RELAXED) ? &emu_staging : NULL;
}

static const rt_backend emu_backend = {
    .name = "cuda (emulated)",
    .device = RT_DEVICE_CUDA,
    .buffer_alloc = emu_buffer_alloc,
    .buffer_free = emu_buffer_free,
    .copy_to_host = emu_copy_to_host,
    .copy_from_host = emu_copy_from_host,
    .copy = emu_copy,
    .fill = emu_fill,
    .axpy = emu_axpy,
    .scale = emu_scale,
    .workspace_trim = emu_workspace_trim,
    .gemm = emu_gemm,
    .conv2d_forward = emu_conv2d_forward,
    .conv2d_backward = emu_conv2d_backward,
    .depthwise_conv2d_forward = emu_dw_forward,
    .depthwise_conv2d_backward = emu_dw_backward,
    .batchnorm_forward_train = emu_bn_forward_train,
    .batchnorm_forward_infer = emu_bn_forward_infer,
    .batchnorm_backward_train = emu_bn_backward_train,
    .batchnorm_backward_infer = emu_bn_backward_infer,
    .batchnorm_moving_update = emu_bn_moving_update,
    .relu_forward = emu_relu_forward,
    .relu_backward = emu_relu_backward,
    .relu6_forward = emu_relu6_forward,
    .relu6_backward = emu_relu6_backward,
    .sigmoid_forward = emu_sigmoid_forward,
    .sigmoid_backward = emu_sigmoid_backward,
    .softmax_forward = emu_softmax_forward,
    .softmax_backward = emu_softmax_backward,
    .maxpool2d_forward = emu_maxpool_forward,
    .maxpool2d_backward = emu_maxpool_backward,
    .avgpool2d_forward = emu_avgpool_forward,
    .avgpool2d_backward = emu_avgpool_backward,
    .global_avgpool_forward = emu_gap_forward,
    .global_avgpool_backward = emu_gap_backward,
    .dense_forward = emu_dense_forward,
    .dense_backward = emu_dense_backward,
    .dropout_forward = emu_dropout_forward,
    .dropout_backward = emu_dropout_backward,
    .concat_forward = emu_concat_forward,
    .concat_backward = emu_concat_backward,
    .zeropad2d_forward = emu_zeropad_forward,
    .zeropad2d_backward = emu_zeropad_backward,
    .bce_forward = emu_bce_forward,
    .bce_backward = emu_bce_backward,
    .cce_forward = emu_cce_forward,
    .cce_backward = emu_cce_backward,
    .binary_accuracy = emu_binary_accuracy,
    .categorical_accuracy = emu_categorical_accuracy,
    .adam_update = emu_adam_update,
    .sgd_update = emu_sgd_update,
};

const rt_backend *rt_emu_backend(void)
{
    pthread_once(&emu_once, emu_init);
    return &emu_backend;
}
