/*
 * cpu_ops.h - the CPU backend's ops, one .c file per family; private to
 * runtime/ (everyone else goes through rt_backend_cpu()). Semantics, shapes
 * and ownership are those of the matching rt_backend entry in backend.h.
 */
#ifndef HELLODL_CPU_OPS_H
#define HELLODL_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

/* Loops shorter than this many elements stay on one thread: waking the
 * OpenMP team costs more than it saves. */
#define RT_CPU_PARALLEL_MIN 32768

/* memory.c */
rt_status rt_cpu_buffer_alloc(size_t nbytes, void **out);
void rt_cpu_buffer_free(void *p);
/* Returns the large buffers kept for reuse to the system (memory.c). */
void rt_cpu_buffer_cache_trim(void);
rt_status rt_cpu_copy(void *dst, const void *src, size_t nbytes);
rt_status rt_cpu_fill(float *x, size_t n, float value);
rt_status rt_cpu_axpy(float *y, const float *x, size_t n, float alpha);
rt_status rt_cpu_scale(float *x, size_t n, float alpha);
/* The calling thread's scratch of at least nfloats (64-byte aligned);
 * borrowed until the next call on this thread. NULL + message on failure. */
float *rt_cpu_workspace(size_t nfloats);
void rt_cpu_workspace_trim(void);

/* gemm.c */
/* Loads the BLAS with dlopen and makes it single-threaded, once; see gemm.c. */
void rt_cpu_blas_init(void);
/* The BLAS library in use ("libopenblas.so.0", or the plain C fallback). */
const char *rt_cpu_blas_name(void);
/* One cblas_sgemm on the calling thread; safe inside a parallel region. */
void rt_cpu_gemm_serial(int trans_a, int trans_b, int m, int n, int k,
                        float alpha, const float *a, int lda, const float *b,
                        int ldb, float beta, float *c, int ldc);
/* Threaded over the OpenMP team (serial when already inside a region). */
rt_status rt_cpu_gemm(int trans_a, int trans_b, int m, int n, int k,
                      float alpha, const float *a, int lda, const float *b,
                      int ldb, float beta, float *c, int ldc);

/* conv2d.c */
rt_status rt_cpu_conv2d_forward(const rt_window2d *g, float *out,
                                const float *inp, const float *weight,
                                const float *bias);
rt_status rt_cpu_conv2d_backward(const rt_window2d *g, float *dinp,
                                 float *dweight, float *dbias,
                                 const float *dout, const float *inp,
                                 const float *weight);
/* Bias gradient shared by conv and dense: dbias += column sums of dout. */
void rt_cpu_bias_backward(float *dbias /* (c) */,
                          const float *dout /* (rows, c) */, size_t rows,
                          int c);

/* depthwise.c */
rt_status rt_cpu_depthwise_conv2d_forward(const rt_window2d *g, float *out,
                                          const float *inp,
                                          const float *weight,
                                          const float *bias);
rt_status rt_cpu_depthwise_conv2d_backward(const rt_window2d *g, float *dinp,
                                           float *dweight, float *dbias,
                                           const float *dout,
                                           const float *inp,
                                           const float *weight);

/* batchnorm.c */
rt_status rt_cpu_batchnorm_forward_train(float *out, float *batch_mean,
                                         float *batch_var, const float *inp,
                                         const float *gamma, const float *beta,
                                         size_t rows, int c, float eps);
rt_status rt_cpu_batchnorm_forward_infer(float *out, const float *inp,
                                         const float *gamma, const float *beta,
                                         const float *moving_mean,
                                         const float *moving_var, size_t rows,
                                         int c, float eps);
rt_status rt_cpu_batchnorm_backward_train(float *dinp, float *dgamma,
                                          float *dbeta, const float *dout,
                                          const float *inp, const float *gamma,
                                          const float *batch_mean,
                                          const float *batch_var, size_t rows,
                                          int c, float eps);
rt_status rt_cpu_batchnorm_backward_infer(float *dinp, float *dgamma,
                                          float *dbeta, const float *dout,
                                          const float *inp, const float *gamma,
                                          const float *moving_mean,
                                          const float *moving_var, size_t rows,
                                          int c, float eps);
rt_status rt_cpu_batchnorm_moving_update(float *moving_mean, float *moving_var,
                                         float *acc_mean, float *acc_var,
                                         const float *batch_mean,
                                         const float *batch_var, int c,
                                         int64_t step, float momentum,
                                         float var_correction);

/* activation.c */
rt_status rt_cpu_relu_forward(float *out, const float *inp, size_t n);
rt_status rt_cpu_relu_backward(float *dinp, const float *dout,
                               const float *out, size_t n);
rt_status rt_cpu_relu6_forward(float *out, const float *inp, size_t n);
rt_status rt_cpu_relu6_backward(float *dinp, const float *dout,
                                const float *out, size_t n);
rt_status rt_cpu_sigmoid_forward(float *out, const float *inp, size_t n);
rt_status rt_cpu_sigmoid_backward(float *dinp, const float *dout,
                                  const float *out, size_t n);
rt_status rt_cpu_softmax_forward(float *out, const float *inp, size_t rows,
                                 int cols);
rt_status rt_cpu_softmax_backward(float *dinp, const float *dout,
                                  const float *out, size_t rows, int cols);

/* pool.c */
rt_status rt_cpu_maxpool2d_forward(const rt_window2d *g, float *out,
                                   const float *inp);
rt_status rt_cpu_maxpool2d_backward(const rt_window2d *g, float *dinp,
                                    const float *dout, const float *inp);
rt_status rt_cpu_avgpool2d_forward(const rt_window2d *g, float *out,
                                   const float *inp);
rt_status rt_cpu_avgpool2d_backward(const rt_window2d *g, float *dinp,
                                    const float *dout);
rt_status rt_cpu_global_avgpool_forward(float *out, const float *inp, int n,
                                        int hw, int c);
rt_status rt_cpu_global_avgpool_backward(float *dinp, const float *dout,
                                         int n, int hw, int c);

/* dense.c */
rt_status rt_cpu_dense_forward(float *out, const float *inp,
                               const float *weight, const float *bias, int b,
                               int nin, int nout);
rt_status rt_cpu_dense_backward(float *dinp, float *dweight, float *dbias,
                                const float *dout, const float *inp,
                                const float *weight, int b, int nin, int nout);

/* dropout.c */
rt_status rt_cpu_dropout_forward(float *out, float *mask, const float *inp,
                                 size_t n, float rate, uint64_t seed);
rt_status rt_cpu_dropout_backward(float *dinp, const float *dout,
                                  const float *mask, size_t n);

/* layout.c */
rt_status rt_cpu_concat_forward(float *out, const float *const *inps,
                                const int *cs, int k, size_t rows);
rt_status rt_cpu_concat_backward(float *const *dinps, const float *dout,
                                 const int *cs, int k, size_t rows);
rt_status rt_cpu_zeropad2d_forward(const rt_pad2d *p, float *out,
                                   const float *inp);
rt_status rt_cpu_zeropad2d_backward(const rt_pad2d *p, float *dinp,
                                    const float *dout);

/* loss.c */
rt_status rt_cpu_bce_forward(float *loss, const float *prob,
                             const float *target, int b, int k);
rt_status rt_cpu_bce_backward(float *dprob, const float *prob,
                              const float *target, int b, int k);
rt_status rt_cpu_cce_forward(float *loss, const float *prob,
                             const float *target, int b, int k);
rt_status rt_cpu_cce_backward(float *dprob, const float *prob,
                              const float *target, int b, int k);
rt_status rt_cpu_binary_accuracy(float *acc, const float *prob,
                                 const float *target, int b, int k);
rt_status rt_cpu_categorical_accuracy(float *acc, const float *prob,
                                      const float *target, int b, int k);

/* optim_update.c */
rt_status rt_cpu_adam_update(float *param, const float *grad, float *m,
                             float *v, size_t n, float lr_t, float beta1,
                             float beta2, float eps);
rt_status rt_cpu_sgd_update(float *param, const float *grad, float *velocity,
                            size_t n, float lr, float momentum, int nesterov);

#endif
