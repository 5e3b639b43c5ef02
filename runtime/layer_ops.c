/* Forward and backward of each layer kind over the backend ops. */
#include "layer_ops.h"

#include <stdlib.h>
#include <string.h>

#include "model_impl.h"

static const float *rt_w(const rt_layer *l, const float *slab, const char *var)
{
    for (int i = 0; i < l->n_weights; i++)
        if (strcmp(l->w[i].var, var) == 0)
            return slab + l->w[i].offset;
    return NULL;
}

static float *rt_dw(const rt_layer *l, float *slab, const char *var)
{
    if (!slab)
        return NULL;
    for (int i = 0; i < l->n_weights; i++)
        if (strcmp(l->w[i].var, var) == 0)
            return slab + l->w[i].offset;
    return NULL;
}

static rt_status rt_window(const rt_layer *l, const rt_tensor *in, int n, rt_window2d *g)
{
    const rt_layer_config *c = &l->cfg;
    return rt_window2d_init(g, n, (int)in->shape[1], (int)in->shape[2],
                            (int)in->shape[3], (int)l->shape[2], c->k_h, c->k_w,
                            c->stride_h, c->stride_w, c->padding);
}

static rt_status rt_act_forward(const rt_backend *be, rt_activation a, float *out,
                                const float *in, size_t n, int cols)
{
    switch (a) {
    case RT_ACT_RELU: return be->relu_forward(out, in, n);
    case RT_ACT_RELU6: return be->relu6_forward(out, in, n);
    case RT_ACT_SIGMOID: return be->sigmoid_forward(out, in, n);
    case RT_ACT_SOFTMAX: return be->softmax_forward(out, in, n / (size_t)cols, cols);
    default:
        return out == in ? RT_OK : be->copy(out, in, n * sizeof(float));
    }
}

static rt_status rt_act_backward(const rt_backend *be, rt_activation a, float *din,
                                 const float *dout, const float *out, size_t n, int cols)
{
    switch (a) {
    case RT_ACT_RELU: return be->relu_backward(din, dout, out, n);
    case RT_ACT_RELU6: return be->relu6_backward(din, dout, out, n);
    case RT_ACT_SIGMOID: return be->sigmoid_backward(din, dout, out, n);
    case RT_ACT_SOFTMAX:
        return be->softmax_backward(din, dout, out, n / (size_t)cols, cols);
    default: return be->axpy(din, dout, n, 1.0f);
    }
}

/* The batch statistics go to st->stats (2, c), which the graph executor
 * provides on the model's device; the moving update is separate
 * (rt_bn_moving_update) because its accumulators belong to the model. */
static rt_status rt_bn_forward(rt_layer *l, const rt_op_ctx *c, const rt_tensor *in,
                               rt_tensor *out, rt_node_run *st)
{
    int ch = rt_layer_channels(l);
    size_t rows = (size_t)(in->numel / ch);
    const float *gamma = rt_w(l, c->params, "gamma"), *beta = rt_w(l, c->params, "beta");
    const float *mm = rt_w(l, c->params, "moving_mean");
    const float *mv = rt_w(l, c->params, "moving_variance");
    st->batch_stats = c->bn_batch_stats;
    if (!c->bn_batch_stats)
        return c->be->batchnorm_forward_infer(out->data, in->data, gamma, beta, mm, mv,
                                              rows, ch, l->cfg.epsilon);
    if (!st->stats)
        return rt_error_set(RT_ERR_STATE, "%s has no room for its batch statistics",
                            l->name);
    return c->be->batchnorm_forward_train(out->data, st->stats, st->stats + ch, in->data,
                                          gamma, beta, rows, ch, l->cfg.epsilon);
}

rt_status rt_bn_moving_update(rt_layer *l, const rt_op_ctx *c, const rt_node_run *st,
                              size_t rows, float *acc)
{
    int ch = rt_layer_channels(l);
    float *mm = (float *)rt_w(l, c->params, "moving_mean");
    float *mv = (float *)rt_w(l, c->params, "moving_variance");
    float corr = rows > 1 ? (float)rows / (float)(rows - 1) : 1.0f;
    if (c->bn_mode == RT_BN_KERAS22)
        corr = rt_batchnorm_keras22_var_correction(rows, l->cfg.epsilon);
    l->bn_steps++;
    return c->be->batchnorm_moving_update(mm, mv, acc, acc ? acc + ch : NULL, st->stats,
                                          st->stats + ch, ch, l->bn_steps,
                                          l->cfg.momentum, corr);
}

static rt_status rt_concat_forward(const rt_layer *l, const rt_op_ctx *c,
                                   rt_tensor *const *in, rt_tensor *out)
{
    const float *ins[RT_LAYER_MAX_INPUTS];
    int cs[RT_LAYER_MAX_INPUTS];
    for (int k = 0; k < l->n_inputs; k++) {
        ins[k] = in[k]->data;
        cs[k] = (int)in[k]->shape[3];
    }
    size_t rows = (size_t)(out->numel / l->shape[2]);
    return c->be->concat_forward(out->data, ins, cs, l->n_inputs, rows);
}

static rt_pad2d rt_pad_of(const rt_layer *l, const rt_tensor *in)
{
    rt_pad2d p = {(int)in->shape[0], (int)in->shape[1], (int)in->shape[2],
                  (int)in->shape[3], l->cfg.pad_top, l->cfg.pad_bottom,
                  l->cfg.pad_left, l->cfg.pad_right};
    return p;
}

static rt_status rt_window_forward(const rt_layer *l, const rt_op_ctx *c,
                                   const rt_tensor *in, rt_tensor *out)
{
    rt_window2d g;
    rt_status s = rt_window(l, in, c->n, &g);
    if (s != RT_OK)
        return s;
    const rt_backend *be = c->be;
    switch (l->cfg.kind) {
    case RT_LAYER_CONV2D:
        s = be->conv2d_forward(&g, out->data, in->data, rt_w(l, c->params, "kernel"),
                               rt_w(l, c->params, "bias"));
        break;
    case RT_LAYER_DEPTHWISE_CONV2D:
        s = be->depthwise_conv2d_forward(&g, out->data, in->data,
                                         rt_w(l, c->params, "depthwise_kernel"),
                                         rt_w(l, c->params, "bias"));
        break;
    case RT_LAYER_MAXPOOL2D: return be->maxpool2d_forward(&g, out->data, in->data);
    default: return be->avgpool2d_forward(&g, out->data, in->data);
    }
    if (s != RT_OK)
        return s;
    return rt_act_forward(be, l->cfg.activation, out->data, out->data,
                          (size_t)out->numel, (int)l->shape[2]);
}

rt_status rt_layer_forward(rt_layer *l, const rt_op_ctx *c, rt_tensor *const *in,
                           rt_tensor *out, rt_node_run *st)
{
    const rt_backend *be = c->be;
    const rt_tensor *x = in[0];
    size_t n = (size_t)out->numel;
    switch (l->cfg.kind) {
    case RT_LAYER_CONV2D:
    case RT_LAYER_DEPTHWISE_CONV2D:
    case RT_LAYER_MAXPOOL2D:
    case RT_LAYER_AVGPOOL2D:
        return rt_window_forward(l, c, x, out);
    case RT_LAYER_BATCHNORM:
        return rt_bn_forward(l, c, x, out, st);
    case RT_LAYER_ACTIVATION:
        return rt_act_forward(be, l->cfg.activation, out->data, x->data, n,
                              rt_layer_channels(l));
    case RT_LAYER_GLOBAL_AVGPOOL2D:
        return be->global_avgpool_forward(out->data, x->data, c->n,
                                          (int)(x->shape[1] * x->shape[2]),
                                          (int)x->shape[3]);
    case RT_LAYER_DENSE: {
        rt_status s = be->dense_forward(out->data, x->data, rt_w(l, c->params, "kernel"),
                                        rt_w(l, c->params, "bias"), c->n,
                                        (int)x->shape[1], l->cfg.units);
        return s != RT_OK ? s : rt_act_forward(be, l->cfg.activation, out->data,
                                               out->data, n, l->cfg.units);
    }
    case RT_LAYER_DROPOUT:
        return be->dropout_forward(out->data, st->mask->data, x->data, n, l->cfg.rate,
                                   c->seed);
    case RT_LAYER_CONCATENATE:
        return rt_concat_forward(l, c, in, out);
    case RT_LAYER_ZEROPAD2D: {
        rt_pad2d p = rt_pad_of(l, x);
        return be->zeropad2d_forward(&p, out->data, x->data);
    }
    default: /* Input, Flatten: the graph shares the buffer */
        return RT_OK;
    }
}

/* dpre = d(loss)/d(pre-activation) of a layer with a fused activation, in
 * a scratch tensor; the plain dout when the activation is linear. */
static rt_status rt_fused_dpre(const rt_layer *l, const rt_op_ctx *c, const rt_tensor *out,
                               const rt_tensor *dout, rt_tensor **tmp, const float **dpre)
{
    *tmp = NULL;
    *dpre = dout->data;
    if (l->cfg.activation == RT_ACT_LINEAR)
        return RT_OK;
    rt_status s = rt_tensor_new(tmp, out->device, out->ndim, out->shape);
    if (s != RT_OK)
        return s;
    *dpre = (*tmp)->data;
    int cols = (int)out->shape[out->ndim - 1];
    return rt_act_backward(c->be, l->cfg.activation, (*tmp)->data, dout->data,
                           out->data, (size_t)out->numel, cols);
}

static rt_status rt_window_backward(const rt_layer *l, const rt_op_ctx *c,
                                    const rt_tensor *in, const rt_tensor *out,
                                    float *din, const rt_tensor *dout)
{
    rt_window2d g;
    rt_status s = rt_window(l, in, c->n, &g);
    if (s != RT_OK)
        return s;
    const rt_backend *be = c->be;
    if (l->cfg.kind == RT_LAYER_MAXPOOL2D)
        return din ? be->maxpool2d_backward(&g, din, dout->data, in->data) : RT_OK;
    if (l->cfg.kind == RT_LAYER_AVGPOOL2D)
        return din ? be->avgpool2d_backward(&g, din, dout->data) : RT_OK;
    rt_tensor *tmp;
    const float *dpre;
    if ((s = rt_fused_dpre(l, c, out, dout, &tmp, &dpre)) == RT_OK) {
        if (l->cfg.kind == RT_LAYER_CONV2D)
            s = be->conv2d_backward(&g, din, rt_dw(l, c->grads, "kernel"),
                                    rt_dw(l, c->grads, "bias"), dpre, in->data,
                                    rt_w(l, c->params, "kernel"));
        else
            s = be->depthwise_conv2d_backward(&g, din, rt_dw(l, c->grads, "depthwise_kernel"),
                                              rt_dw(l, c->grads, "bias"), dpre, in->data,
                                              rt_w(l, c->params, "depthwise_kernel"));
    }
    rt_tensor_release(tmp);
    return s;
}

static rt_status rt_bn_backward(const rt_layer *l, const rt_op_ctx *c, const rt_tensor *in,
                                float *din, const rt_tensor *dout, const rt_node_run *st)
{
    int ch = rt_layer_channels(l);
    size_t rows = (size_t)(in->numel / ch);
    const float *gamma = rt_w(l, c->params, "gamma");
    float *dg = rt_dw(l, c->grads, "gamma"), *db = rt_dw(l, c->grads, "beta");
    if (st->batch_stats)
        return c->be->batchnorm_backward_train(din, dg, db, dout->data, in->data, gamma,
                                               st->stats, st->stats + ch, rows, ch,
                                               l->cfg.epsilon);
    return c->be->batchnorm_backward_infer(din, dg, db, dout->data, in->data, gamma,
                                           rt_w(l, c->params, "moving_mean"),
                                           rt_w(l, c->params, "moving_variance"),
                                           rows, ch, l->cfg.epsilon);
}

static rt_status rt_dense_backward(const rt_layer *l, const rt_op_ctx *c, const rt_tensor *in,
                                   const rt_tensor *out, float *din, const rt_tensor *dout)
{
    rt_tensor *tmp;
    const float *dpre;
    rt_status s = rt_fused_dpre(l, c, out, dout, &tmp, &dpre);
    if (s == RT_OK)
        s = c->be->dense_backward(din, rt_dw(l, c->grads, "kernel"), rt_dw(l, c->grads, "bias"),
                                  dpre, in->data, rt_w(l, c->params, "kernel"), c->n,
                                  (int)in->shape[1], l->cfg.units);
    rt_tensor_release(tmp);
    return s;
}

static rt_status rt_concat_backward(const rt_layer *l, const rt_op_ctx *c,
                                    rt_tensor *const *in, float *const *din,
                                    const rt_tensor *dout)
{
    int cs[RT_LAYER_MAX_INPUTS];
    for (int k = 0; k < l->n_inputs; k++)
        cs[k] = (int)in[k]->shape[3];
    size_t rows = (size_t)(dout->numel / l->shape[2]);
    return c->be->concat_backward(din, dout->data, cs, l->n_inputs, rows);
}

rt_status rt_layer_backward(rt_layer *l, const rt_op_ctx *c, rt_tensor *const *in,
                            rt_tensor *out, float *const *din, const rt_tensor *dout,
                            rt_node_run *st)
{
    const rt_backend *be = c->be;
    size_t n = (size_t)dout->numel;
    switch (l->cfg.kind) {
    case RT_LAYER_CONV2D:
    case RT_LAYER_DEPTHWISE_CONV2D:
    case RT_LAYER_MAXPOOL2D:
    case RT_LAYER_AVGPOOL2D:
        return rt_window_backward(l, c, in[0], out, din[0], dout);
    case RT_LAYER_BATCHNORM:
        return rt_bn_backward(l, c, in[0], din[0], dout, st);
    case RT_LAYER_ACTIVATION:
        return din[0] ? rt_act_backward(be, l->cfg.activation, din[0], dout->data,
                                        out->data, n, rt_layer_channels(l))
                      : RT_OK;
    case RT_LAYER_GLOBAL_AVGPOOL2D:
        return din[0] ? be->global_avgpool_backward(din[0], dout->data, c->n,
                                                    (int)(in[0]->shape[1] * in[0]->shape[2]),
                                                    (int)in[0]->shape[3])
                      : RT_OK;
    case RT_LAYER_DENSE:
        return rt_dense_backward(l, c, in[0], out, din[0], dout);
    case RT_LAYER_DROPOUT:
        if (!din[0])
            return RT_OK;
        return st->mask ? be->dropout_backward(din[0], dout->data, st->mask->data, n)
                        : be->axpy(din[0], dout->data, n, 1.0f);
    case RT_LAYER_CONCATENATE:
        return rt_concat_backward(l, c, in, din, dout);
    case RT_LAYER_ZEROPAD2D: {
        rt_pad2d p = rt_pad_of(l, in[0]);
        return din[0] ? be->zeropad2d_backward(&p, din[0], dout->data) : RT_OK;
    }
    default: /* Flatten and Input pass the gradient through */
        return din[0] ? be->axpy(din[0], dout->data, n, 1.0f) : RT_OK;
    }
}
