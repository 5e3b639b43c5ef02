/*
 * backend.h - the one table of operations a compute backend provides.
 *
 * Every op is a free function over float buffers that live on the backend's
 * device (llm.c style): the caller owns all buffers, ops allocate nothing
 * the caller sees (a backend may keep a private workspace, accounted with
 * rt_memory_reserve). Tensors are NHWC and dense; a shape comment names
 * every buffer. Each op returns RT_OK or an rt_status with a message.
 *
 * Conventions shared by every backward op:
 *   - gradients ACCUMULATE (+=) into d* buffers; the caller zeroes them once
 *     per step. A tensor that feeds several branches (Inception blocks) thus
 *     gets the sum of their gradients for free.
 *   - a NULL d* pointer means "not needed": a frozen layer passes NULL for
 *     its weight gradients, the first layer NULL for dinp.
 *   - activation backward ops read the forward OUTPUT, so activations may run
 *     in place (out == inp).
 *
 * The CPU backend (rt_backend_cpu) implements every entry and is the
 * reference. The CUDA backend (runtime/cuda/, a module loaded on first use
 * by cuda_lazy.c) is the second table, registered in backend.c's one switch.
 * Tables are static: the pointers returned are borrowed, never freed.
 */
#ifndef HELLODL_BACKEND_H
#define HELLODL_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "rt_status.h"
#include "tensor.h"

typedef enum rt_padding { RT_PAD_VALID = 0, RT_PAD_SAME = 1 } rt_padding;

/* Geometry of a 2-D sliding window over NHWC images, shared by conv2d,
 * depthwise conv2d and pooling. TF rules (reference §1.1):
 *   valid: out = floor((in - k) / s) + 1, no padding;
 *   same:  out = ceil(in / s), pad_total = max((out-1)*s + k - in, 0),
 *          pad_total/2 before (top/left), the rest after (bottom/right). */
typedef struct rt_window2d {
    int n, in_h, in_w, in_c;     /* input  (n, in_h, in_w, in_c) */
    int out_h, out_w, out_c;     /* output (n, out_h, out_w, out_c) */
    int k_h, k_w;
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right;
} rt_window2d;

/* Fills *g; out_c is the conv's filters, in_c for pools, in_c * multiplier
 * for depthwise. RT_ERR_ARG / RT_ERR_SHAPE on non-positive sizes, a window
 * larger than a 'valid' input, or element counts past RT_MAX_NUMEL. */
rt_status rt_window2d_init(rt_window2d *g, int n, int in_h, int in_w,
                           int in_c, int out_c, int k_h, int k_w,
                           int stride_h, int stride_w, rt_padding pad);

/* Zero padding (Keras ZeroPadding2D) of (n, h, w, c). */
typedef struct rt_pad2d {
    int n, h, w, c;
    int top, bottom, left, right;
} rt_pad2d;

typedef struct rt_backend {
    const char *name;
    rt_device device;

    /* ---- memory (device buffers) ---- */
    /* nbytes of zero-filled device memory in *out; freed by buffer_free. */
    rt_status (*buffer_alloc)(size_t nbytes, void **out);
    void (*buffer_free)(void *p);
    rt_status (*copy_to_host)(void *dst_host, const void *src, size_t nbytes);
    rt_status (*copy_from_host)(void *dst, const void *src_host, size_t nbytes);
    rt_status (*copy)(void *dst, const void *src, size_t nbytes);
    rt_status (*fill)(float *x /* (n) */, size_t n, float value);
    /* y += alpha * x */
    rt_status (*axpy)(float *y /* (n) */, const float *x /* (n) */, size_t n,
                      float alpha);
    /* x *= alpha */
    rt_status (*scale)(float *x /* (n) */, size_t n, float alpha);
    /* Drop the calling thread's cached workspace. */
    void (*workspace_trim)(void);

    /* ---- GEMM, row-major: C = alpha * op(A) * op(B) + beta * C ---- */
    rt_status (*gemm)(int trans_a, int trans_b, int m, int n, int k,
                      float alpha,
                      const float *a, /* (m, k), or (k, m) if trans_a */
                      int lda,
                      const float *b, /* (k, n), or (n, k) if trans_b */
                      int ldb, float beta,
                      float *c, /* (m, n) */
                      int ldc);

    /* ---- convolution (cross-correlation, as TF) ---- */
    rt_status (*conv2d_forward)(const rt_window2d *g,
                                float *out,          /* (n, out_h, out_w, out_c) */
                                const float *inp,    /* (n, in_h, in_w, in_c) */
                                const float *weight, /* (k_h, k_w, in_c, out_c) */
                                const float *bias);  /* (out_c) or NULL */
    rt_status (*conv2d_backward)(const rt_window2d *g,
                                 float *dinp,          /* (n, in_h, in_w, in_c) or NULL */
                                 float *dweight,       /* (k_h, k_w, in_c, out_c) or NULL */
                                 float *dbias,         /* (out_c) or NULL */
                                 const float *dout,    /* (n, out_h, out_w, out_c) */
                                 const float *inp,     /* (n, in_h, in_w, in_c) */
                                 const float *weight); /* (k_h, k_w, in_c, out_c) */
    /* Depthwise (Keras DepthwiseConv2D): out channel c*mult + m reads input
     * channel c; mult = out_c / in_c. */
    rt_status (*depthwise_conv2d_forward)(const rt_window2d *g,
                                          float *out,          /* (n, out_h, out_w, out_c) */
                                          const float *inp,    /* (n, in_h, in_w, in_c) */
                                          const float *weight, /* (k_h, k_w, in_c, mult) */
                                          const float *bias);  /* (out_c) or NULL */
    rt_status (*depthwise_conv2d_backward)(const rt_window2d *g,
                                           float *dinp,          /* (n, in_h, in_w, in_c) or NULL */
                                           float *dweight,       /* (k_h, k_w, in_c, mult) or NULL */
                                           float *dbias,         /* (out_c) or NULL */
                                           const float *dout,    /* (n, out_h, out_w, out_c) */
                                           const float *inp,     /* (n, in_h, in_w, in_c) */
                                           const float *weight); /* (k_h, k_w, in_c, mult) */

    /* ---- batch normalization over the last axis; rows = n*h*w ----
     * gamma NULL means scale=False (gamma = 1), beta NULL center=False.
     * Training mode normalises with the batch mean and BIASED variance and
     * returns them (for backward and the moving update). */
    rt_status (*batchnorm_forward_train)(float *out,         /* (rows, c) */
                                         float *batch_mean,  /* (c) out */
                                         float *batch_var,   /* (c) out, biased */
                                         const float *inp,   /* (rows, c) */
                                         const float *gamma, /* (c) or NULL */
                                         const float *beta,  /* (c) or NULL */
                                         size_t rows, int c, float eps);
    rt_status (*batchnorm_forward_infer)(float *out,               /* (rows, c) */
                                         const float *inp,         /* (rows, c) */
                                         const float *gamma,       /* (c) or NULL */
                                         const float *beta,        /* (c) or NULL */
                                         const float *moving_mean, /* (c) */
                                         const float *moving_var,  /* (c) */
                                         size_t rows, int c, float eps);
    rt_status (*batchnorm_backward_train)(float *dinp,              /* (rows, c) or NULL */
                                          float *dgamma,            /* (c) or NULL */
                                          float *dbeta,             /* (c) or NULL */
                                          const float *dout,        /* (rows, c) */
                                          const float *inp,         /* (rows, c) */
                                          const float *gamma,       /* (c) or NULL */
                                          const float *batch_mean,  /* (c) */
                                          const float *batch_var,   /* (c) */
                                          size_t rows, int c, float eps);
    /* Backward of the inference form (statistics are constants). */
    rt_status (*batchnorm_backward_infer)(float *dinp,               /* (rows, c) or NULL */
                                          float *dgamma,             /* (c) or NULL */
                                          float *dbeta,              /* (c) or NULL */
                                          const float *dout,         /* (rows, c) */
                                          const float *inp,          /* (rows, c) */
                                          const float *gamma,        /* (c) or NULL */
                                          const float *moving_mean,  /* (c) */
                                          const float *moving_var,   /* (c) */
                                          size_t rows, int c, float eps);
    /* Moving statistics after one training step, TF's assign_moving_average
     * with decay = momentum. With accumulators (Keras 2.1.3-2.2.5,
     * zero_debias=True): acc -= (acc - value) * (1 - momentum);
     * moving = acc / (1 - momentum^step), step counted from 1 by the caller.
     * With acc_mean/acc_var NULL: plain EMA moving -= (moving - value) *
     * (1 - momentum). The variance value is batch_var * var_correction
     * (see rt_batchnorm_keras22_var_correction). */
    rt_status (*batchnorm_moving_update)(float *moving_mean,      /* (c) */
                                         float *moving_var,       /* (c) */
                                         float *acc_mean,         /* (c) or NULL */
                                         float *acc_var,          /* (c) or NULL */
                                         const float *batch_mean, /* (c) */
                                         const float *batch_var,  /* (c) */
                                         int c, int64_t step, float momentum,
                                         float var_correction);

    /* ---- elementwise activations; backward reads the forward output ---- */
    rt_status (*relu_forward)(float *out, const float *inp, size_t n);   /* (n) */
    rt_status (*relu_backward)(float *dinp, const float *dout,           /* (n) */
                               const float *out, size_t n);
    rt_status (*relu6_forward)(float *out, const float *inp, size_t n);  /* (n) */
    rt_status (*relu6_backward)(float *dinp, const float *dout,          /* (n) */
                                const float *out, size_t n);
    rt_status (*sigmoid_forward)(float *out, const float *inp, size_t n); /* (n) */
    rt_status (*sigmoid_backward)(float *dinp, const float *dout,         /* (n) */
                                  const float *out, size_t n);
    /* softmax over the last axis of (rows, cols) */
    rt_status (*softmax_forward)(float *out, const float *inp,
                                 size_t rows, int cols);
    rt_status (*softmax_backward)(float *dinp, const float *dout,
                                  const float *out, size_t rows, int cols);

    /* ---- pooling; g->out_c == g->in_c ---- */
    rt_status (*maxpool2d_forward)(const rt_window2d *g,
                                   float *out,        /* (n, out_h, out_w, c) */
                                   const float *inp); /* (n, in_h, in_w, c) */
    /* The gradient goes to the first maximum of each window (row-major). */
    rt_status (*maxpool2d_backward)(const rt_window2d *g,
                                    float *dinp,       /* (n, in_h, in_w, c) */
                                    const float *dout, /* (n, out_h, out_w, c) */
                                    const float *inp); /* (n, in_h, in_w, c) */
    /* Average over the window's real cells: padding is not counted (TF). */
    rt_status (*avgpool2d_forward)(const rt_window2d *g,
                                   float *out,        /* (n, out_h, out_w, c) */
                                   const float *inp); /* (n, in_h, in_w, c) */
    rt_status (*avgpool2d_backward)(const rt_window2d *g,
                                    float *dinp,        /* (n, in_h, in_w, c) */
                                    const float *dout); /* (n, out_h, out_w, c) */
    rt_status (*global_avgpool_forward)(float *out,       /* (n, c) */
                                        const float *inp, /* (n, hw, c) */
                                        int n, int hw, int c);
    rt_status (*global_avgpool_backward)(float *dinp,       /* (n, hw, c) */
                                         const float *dout, /* (n, c) */
                                         int n, int hw, int c);

    /* ---- dense: out = inp . weight + bias ---- */
    rt_status (*dense_forward)(float *out,          /* (b, nout) */
                               const float *inp,    /* (b, nin) */
                               const float *weight, /* (nin, nout) */
                               const float *bias,   /* (nout) or NULL */
                               int b, int nin, int nout);
    rt_status (*dense_backward)(float *dinp,          /* (b, nin) or NULL */
                                float *dweight,       /* (nin, nout) or NULL */
                                float *dbias,         /* (nout) or NULL */
                                const float *dout,    /* (b, nout) */
                                const float *inp,     /* (b, nin) */
                                const float *weight,  /* (nin, nout) */
                                int b, int nin, int nout);

    /* ---- inverted dropout (training only; inference is the identity) ----
     * Keeps element i with probability 1 - rate, decided by a counter-based
     * hash of (seed, i) so results do not depend on threads or devices; mask
     * receives 0 or 1/(1-rate) and out = inp * mask. */
    rt_status (*dropout_forward)(float *out,       /* (n) */
                                 float *mask,      /* (n) out */
                                 const float *inp, /* (n) */
                                 size_t n, float rate, uint64_t seed);
    rt_status (*dropout_backward)(float *dinp,       /* (n) */
                                  const float *dout, /* (n) */
                                  const float *mask, /* (n) */
                                  size_t n);

    /* ---- layout ops ---- */
    /* Concatenate k inputs (rows, cs[i]) on the last axis into
     * (rows, sum cs). */
    rt_status (*concat_forward)(float *out,               /* (rows, sum cs) */
                                const float *const *inps, /* k x (rows, cs[i]) */
                                const int *cs, int k, size_t rows);
    rt_status (*concat_backward)(float *const *dinps,     /* k x (rows, cs[i]), entries may be NULL */
                                 const float *dout,       /* (rows, sum cs) */
                                 const int *cs, int k, size_t rows);
    rt_status (*zeropad2d_forward)(const rt_pad2d *p,
                                   float *out,        /* (n, h+top+bottom, w+left+right, c) */
                                   const float *inp); /* (n, h, w, c) */
    rt_status (*zeropad2d_backward)(const rt_pad2d *p,
                                    float *dinp,        /* (n, h, w, c) */
                                    const float *dout); /* (n, h+top+bottom, w+left+right, c) */

    /* ---- losses (Keras 2.2.4 semantics, reference §4.5) and metrics ----
     * *loss is a host float: the mean over b samples of each sample's loss
     * (for BCE with k outputs per sample, the mean over its k). Backward
     * accumulates d(loss)/d(prob), already divided by the batch size. */
    rt_status (*bce_forward)(float *loss,         /* host scalar */
                             const float *prob,   /* (b, k) in [0, 1] */
                             const float *target, /* (b, k) */
                             int b, int k);
    rt_status (*bce_backward)(float *dprob,        /* (b, k) */
                              const float *prob,   /* (b, k) */
                              const float *target, /* (b, k) */
                              int b, int k);
    rt_status (*cce_forward)(float *loss,         /* host scalar */
                             const float *prob,   /* (b, k) */
                             const float *target, /* (b, k) one-hot */
                             int b, int k);
    rt_status (*cce_backward)(float *dprob,        /* (b, k) */
                              const float *prob,   /* (b, k) */
                              const float *target, /* (b, k) */
                              int b, int k);
    /* mean(target == (prob > 0.5)) over b*k; tf.round rounds 0.5 to 0. */
    rt_status (*binary_accuracy)(float *acc,          /* host scalar */
                                 const float *prob,   /* (b, k) */
                                 const float *target, /* (b, k) */
                                 int b, int k);
    /* mean(argmax target == argmax prob), first maximum on ties. */
    rt_status (*categorical_accuracy)(float *acc,          /* host scalar */
                                      const float *prob,   /* (b, k) */
                                      const float *target, /* (b, k) */
                                      int b, int k);

    /* ---- optimizer updates (state buffers are the caller's slabs) ---- */
    /* Keras 2.2.4 Adam with lr_t = rt_adam_lr_t(lr, b1, b2, t):
     * m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g;
     * p -= lr_t * m / (sqrt(v) + eps). */
    rt_status (*adam_update)(float *param,      /* (n) */
                             const float *grad, /* (n) */
                             float *m,          /* (n) */
                             float *v,          /* (n) */
                             size_t n, float lr_t, float beta1, float beta2,
                             float eps);
    /* Keras 2.2.4 SGD: vel = momentum*vel - lr*g; p += vel (nesterov:
     * p += momentum*vel - lr*g). velocity may be NULL when momentum == 0. */
    rt_status (*sgd_update)(float *param,      /* (n) */
                            const float *grad, /* (n) */
                            float *velocity,   /* (n) or NULL */
                            size_t n, float lr, float momentum, int nesterov);
} rt_backend;

/* The CPU backend: always present. Borrowed, static. */
const rt_backend *rt_backend_cpu(void);
/* The backend for a device, or NULL when none is built or usable. */
const rt_backend *rt_backend_get(rt_device dev);
/* The device a session should prefer: CUDA when available, else CPU. */
rt_device rt_backend_default_device(void);

/* Keras 2.2.4's float32 Adam step size for iteration t (t >= 1):
 * lr * sqrt(1 - b2^t) / (1 - b1^t), evaluated in float32 as Keras does. */
float rt_adam_lr_t(float lr, float beta1, float beta2, int64_t t);
/* Keras 2.2.4 variance fed to the moving update is biased var * n/(n-1)
 * (TF fused BN) * n/(n-(1+eps)) (normalization.py); n = rows. */
float rt_batchnorm_keras22_var_correction(size_t rows, float eps);

#endif
