/* The graph executor: forward with early release, backward, profile. */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "layer_ops.h"
#include "model_impl.h"

struct rt_run {
    rt_model *m;       /* borrowed: the caller keeps the model alive */
    rt_device dev;     /* the model's: every buffer of the run lives there */
    const rt_backend *be;
    rt_tensor **stats; /* (n_nodes) BN batch statistics (2, c), or NULL */
    int n_nodes;
    int batch;
    int training;
    int input_grad;
    uint64_t seed;
    rt_node_run *nodes; /* (n_nodes) */
};

/* ---- profile ---- */

static int rt_prof_on;
static double rt_prof_sec[RT_LAYER_KIND_COUNT][2];
static long rt_prof_calls[RT_LAYER_KIND_COUNT][2];

void rt_profile_enable(int on) { rt_prof_on = on; }
void rt_profile_reset(void)
{
    memset(rt_prof_sec, 0, sizeof rt_prof_sec);
    memset(rt_prof_calls, 0, sizeof rt_prof_calls);
}

static double rt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void rt_prof_add(rt_layer_kind k, int bwd, double t0)
{
    if (!rt_prof_on)
        return;
    rt_prof_sec[k][bwd] += rt_now() - t0;
    rt_prof_calls[k][bwd]++;
}

rt_status rt_profile_report(char **text)
{
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    if (!b)
        return rt_error_set(RT_ERR_NOMEM, "out of memory");
    double total = 0;
    for (int k = 0; k < RT_LAYER_KIND_COUNT; k++)
        total += rt_prof_sec[k][0] + rt_prof_sec[k][1];
    len += (size_t)snprintf(b + len, cap - len, "%-24s %10s %10s %7s\n", "op",
                            "fwd s", "bwd s", "share");
    for (int k = 0; k < RT_LAYER_KIND_COUNT; k++) {
        double s = rt_prof_sec[k][0] + rt_prof_sec[k][1];
        if (!rt_prof_calls[k][0] && !rt_prof_calls[k][1])
            continue;
        rt_layer_config c = rt_layer_config_default((rt_layer_kind)k);
        len += (size_t)snprintf(b + len, cap - len, "%-24s %10.3f %10.3f %6.1f%%\n",
                                rt_layer_class_name(&c), rt_prof_sec[k][0],
                                rt_prof_sec[k][1], total > 0 ? 100.0 * s / total : 0.0);
    }
    snprintf(b + len, cap - len, "%-24s %21.3f\n", "total", total);
    *text = b;
    return RT_OK;
}

/* ---- planning ---- */

static int rt_layer_has_trainable(const rt_model *m, const rt_layer *l)
{
    return rt_layer_trainable_count(l, m->trainable) > 0;
}

int rt_graph_has_trainable(rt_model *m)
{
    for (int i = 0; i < m->n_nodes; i++)
        if (rt_layer_has_trainable(m, &m->nodes[i]))
            return 1;
    return 0;
}

int rt_graph_has_dropout(rt_model *m)
{
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].cfg.kind == RT_LAYER_DROPOUT && m->nodes[i].cfg.rate > 0)
            return 1;
    return 0;
}

/* Gradient flow (tg), what to keep, and consumer counts. */
static void rt_run_plan(rt_run *r, int want_backward)
{
    rt_model *m = r->m;
    for (int i = 0; i < m->n_nodes; i++) {
        rt_node_run *s = &r->nodes[i];
        const rt_layer *l = &m->nodes[i];
        s->tg = want_backward && (i == 0 ? r->input_grad : rt_layer_has_trainable(m, l));
        for (int k = 0; k < l->n_inputs; k++) {
            rt_node_run *in = &r->nodes[l->inputs[k]];
            in->pending++;
            in->consumers++;
            if (want_backward && in->tg)
                s->tg = 1;
        }
        if (s->tg)
            s->keep = 1;
        for (int k = 0; s->tg && k < l->n_inputs; k++)
            r->nodes[l->inputs[k]].keep = 1;
    }
}

/* May node i (an activation) overwrite its input's buffer? Only when the
 * input is not needed elsewhere: one consumer, not the caller's input, and
 * its own backward does not read its output. */
static int rt_inplace_ok(const rt_run *r, int i)
{
    const rt_layer *l = &r->m->nodes[i];
    if (l->cfg.kind != RT_LAYER_ACTIVATION || l->cfg.activation == RT_ACT_SOFTMAX)
        return 0;
    int j = l->inputs[0];
    const rt_layer *src = &r->m->nodes[j];
    if (j == 0 || r->nodes[j].consumers != 1 || j == r->m->output)
        return 0;
    rt_layer_kind k = src->cfg.kind;
    return k == RT_LAYER_BATCHNORM || k == RT_LAYER_CONCATENATE
           || ((k == RT_LAYER_CONV2D || k == RT_LAYER_DEPTHWISE_CONV2D
                || k == RT_LAYER_DENSE) && src->cfg.activation == RT_ACT_LINEAR);
}

static rt_status rt_out_alloc(rt_run *r, int i, rt_tensor **out)
{
    const rt_layer *l = &r->m->nodes[i];
    int64_t shape[4] = {r->batch, l->shape[0], l->shape[1], l->shape[2]};
    return rt_tensor_new(out, r->dev, l->ndim + 1, shape);
}

static void rt_op_ctx_init(const rt_run *r, const rt_layer *l, int i, rt_op_ctx *c)
{
    rt_model *m = r->m;
    int trainable = rt_layer_has_trainable(m, l);
    c->be = r->be;
    c->params = m->params->data;
    c->grads = trainable && m->grads ? m->grads->data : NULL;
    c->n = r->batch;
    c->training = r->training;
    c->bn_batch_stats = r->training && (trainable || m->bn_mode == RT_BN_KERAS22);
    c->bn_update = r->training && trainable;
    c->bn_mode = m->bn_mode;
    c->seed = rt_rng_hash(r->seed, (uint64_t)i);
}

/* Output buffer for node i: shared (flatten, inference dropout, in-place
 * activation) or fresh. */
static rt_status rt_node_output(rt_run *r, int i, rt_tensor *const *in, rt_tensor **out)
{
    const rt_layer *l = &r->m->nodes[i];
    rt_layer_kind k = l->cfg.kind;
    if (k == RT_LAYER_FLATTEN)
        return rt_tensor_flatten(out, in[0]);
    if ((k == RT_LAYER_DROPOUT && (!r->training || l->cfg.rate == 0)) || rt_inplace_ok(r, i)) {
        *out = rt_tensor_retain(in[0]);
        return RT_OK;
    }
    rt_status st = rt_out_alloc(r, i, out);
    if (st == RT_OK && k == RT_LAYER_DROPOUT)
        st = rt_out_alloc(r, i, &r->nodes[i].mask);
    return st;
}

static void rt_inputs_done(rt_run *r, int i)
{
    const rt_layer *l = &r->m->nodes[i];
    for (int k = 0; k < l->n_inputs; k++) {
        int j = l->inputs[k];
        rt_node_run *s = &r->nodes[j];
        if (--s->pending == 0 && !s->keep && j != r->m->output) {
            rt_tensor_release(s->out);
            s->out = NULL;
        }
    }
}

/* The Keras 2.2 accumulators of every BN node, zero at first; a model
 * that grew keeps its earlier nodes' (offsets follow node order). */
static rt_status rt_bn_acc_grow(rt_model *m)
{
    int64_t *off = malloc(sizeof *off * (size_t)m->n_nodes), total = 0;
    if (!off)
        return rt_error_set(RT_ERR_NOMEM, "out of memory in %s", m->name);
    for (int i = 0; i < m->n_nodes; i++) {
        off[i] = m->nodes[i].cfg.kind == RT_LAYER_BATCHNORM ? total : -1;
        if (off[i] >= 0)
            total += 2 * (int64_t)rt_layer_channels(&m->nodes[i]);
    }
    rt_tensor *acc = NULL, *prefix = NULL;
    rt_status st = rt_tensor_new(&acc, m->params->device, 1, &total);
    if (st == RT_OK && m->bn_acc && m->bn_acc->numel <= total)
        st = rt_tensor_view(&prefix, acc, 0, 1, m->bn_acc->shape);
    if (prefix && st == RT_OK)
        st = rt_tensor_copy(prefix, m->bn_acc);
    rt_tensor_release(prefix);
    if (st != RT_OK) {
        rt_tensor_release(acc);
        free(off);
        return st;
    }
    rt_model_slab_tag(acc, 1);
    rt_tensor_release(m->bn_acc);
    free(m->bn_acc_off);
    m->bn_acc = acc;
    m->bn_acc_off = off;
    m->bn_acc_nodes = m->n_nodes;
    return RT_OK;
}

/* After BN node i's training forward: its moving statistics. */
static rt_status rt_bn_update(rt_run *r, int i, const rt_op_ctx *c, const rt_tensor *in)
{
    rt_model *m = r->m;
    rt_layer *l = &m->nodes[i];
    float *acc = NULL;
    if (c->bn_mode == RT_BN_KERAS22) {
        if (!m->bn_acc || i >= m->bn_acc_nodes || m->bn_acc_off[i] < 0) {
            rt_status st = rt_bn_acc_grow(m);
            if (st != RT_OK)
                return st;
        }
        acc = m->bn_acc->data + m->bn_acc_off[i];
    }
    size_t rows = (size_t)(in->numel / rt_layer_channels(l));
    return rt_bn_moving_update(l, c, &r->nodes[i], rows, acc);
}

/* Room for BN node i's batch statistics (2, c) on the run's device. */
static rt_status rt_bn_stats(rt_run *r, int i)
{
    if (r->stats[i])
        return RT_OK;
    int64_t n = 2 * (int64_t)rt_layer_channels(&r->m->nodes[i]);
    rt_status st = rt_tensor_new(&r->stats[i], r->dev, 1, &n);
    if (st == RT_OK)
        r->nodes[i].stats = r->stats[i]->data;
    return st;
}

static rt_status rt_node_forward(rt_run *r, int i)
{
    rt_layer *l = &r->m->nodes[i];
    rt_tensor *in[RT_LAYER_MAX_INPUTS];
    for (int k = 0; k < l->n_inputs; k++)
        in[k] = r->nodes[l->inputs[k]].out;
    double t0 = rt_prof_on ? rt_now() : 0;
    rt_tensor *out = NULL;
    rt_status st = rt_node_output(r, i, in, &out);
    if (st == RT_OK && (out != in[0] || l->cfg.kind == RT_LAYER_ACTIVATION)) {
        rt_op_ctx c;
        rt_op_ctx_init(r, l, i, &c);
        int bn = l->cfg.kind == RT_LAYER_BATCHNORM;
        if (bn && c.bn_batch_stats)
            st = rt_bn_stats(r, i);
        if (st == RT_OK)
            st = rt_layer_forward(l, &c, in, out, &r->nodes[i]);
        if (st == RT_OK && bn && c.bn_batch_stats && c.bn_update)
            st = rt_bn_update(r, i, &c, in[0]);
    }
    r->nodes[i].out = out;
    rt_prof_add(l->cfg.kind, 0, t0);
    if (st == RT_OK)
        rt_inputs_done(r, i);
    return st;
}

static rt_status rt_run_new(rt_model *m, rt_tensor *x, int training, int input_grad,
                            uint64_t seed, rt_run **out)
{
    rt_device dev = m->params->device;
    const rt_backend *be = rt_backend_get(dev);
    if (!be)
        return rt_error_set(RT_ERR_DEVICE, "model %s lives on the %s, which is not "
                            "available", m->name, rt_device_name(dev));
    rt_run *r = calloc(1, sizeof *r);
    if (r) {
        r->nodes = calloc((size_t)m->n_nodes, sizeof *r->nodes);
        r->stats = calloc((size_t)m->n_nodes, sizeof *r->stats);
    }
    if (!r || !r->nodes || !r->stats) {
        if (r) {
            free(r->nodes);
            free(r->stats);
        }
        free(r);
        return rt_error_set(RT_ERR_NOMEM, "out of memory running %s", m->name);
    }
    r->m = m;
    r->dev = dev;
    r->be = be;
    r->n_nodes = m->n_nodes;
    r->batch = (int)x->shape[0];
    r->training = training;
    r->input_grad = input_grad;
    r->seed = seed;
    *out = r;
    return RT_OK;
}

static rt_status rt_input_check(const rt_model *m, const rt_tensor *x)
{
    const rt_layer *in = &m->nodes[0];
    int ok = x->ndim == in->ndim + 1 && x->shape[0] > 0;
    for (int k = 0; ok && k < in->ndim; k++)
        ok = x->shape[k + 1] == in->shape[k];
    if (ok)
        return RT_OK;
    char got[96], want[96];
    int64_t w[4] = {-1, in->shape[0], in->shape[1], in->shape[2]};
    rt_shape_format(x->ndim, x->shape, got, sizeof got);
    rt_shape_format(in->ndim + 1, w, want, sizeof want);
    return rt_error_set(RT_ERR_SHAPE, "model %s expects input %s (-1: any batch), "
                        "got %s", m->name, want, got);
}

rt_status rt_graph_forward(rt_model *m, rt_tensor *x, int training, int want_backward,
                           int input_grad, uint64_t seed, rt_run **run, rt_tensor **out)
{
    *out = NULL;
    if (run)
        *run = NULL;
    if (!m->built || m->kind == RT_MODEL_COMPOSED)
        return rt_error_set(RT_ERR_STATE, "model %s is not built", m->name);
    rt_status st = rt_input_check(m, x);
    rt_run *r = NULL;
    if (st == RT_OK)
        st = rt_run_new(m, x, training, input_grad && want_backward, seed, &r);
    if (st != RT_OK)
        return st;
    rt_run_plan(r, want_backward);
    /* a batch from the CPU is copied to the model's device */
    st = rt_tensor_on_device(&r->nodes[0].out, x, r->dev);
    for (int i = 1; i < m->n_nodes && st == RT_OK; i++)
        if (r->nodes[i].pending || i == m->output)
            st = rt_node_forward(r, i);
    if (st == RT_OK)
        *out = rt_tensor_retain(r->nodes[m->output].out);
    if (st != RT_OK || !run)
        rt_run_free(r);
    else
        *run = r;
    return st;
}

static rt_status rt_node_backward(rt_run *r, int i)
{
    rt_layer *l = &r->m->nodes[i];
    rt_node_run *s = &r->nodes[i];
    rt_tensor *in[RT_LAYER_MAX_INPUTS];
    float *din[RT_LAYER_MAX_INPUTS];
    rt_status st = RT_OK;
    for (int k = 0; k < l->n_inputs && st == RT_OK; k++) {
        rt_node_run *src = &r->nodes[l->inputs[k]];
        in[k] = src->out;
        din[k] = NULL;
        if (src->tg && !src->grad)
            st = rt_tensor_new(&src->grad, r->dev, src->out->ndim, src->out->shape);
        if (src->tg && st == RT_OK)
            din[k] = src->grad->data;
    }
    if (st != RT_OK)
        return st;
    double t0 = rt_prof_on ? rt_now() : 0;
    rt_op_ctx c;
    rt_op_ctx_init(r, l, i, &c);
    st = rt_layer_backward(l, &c, in, s->out, din, s->grad, s);
    rt_prof_add(l->cfg.kind, 1, t0);
    rt_tensor_release(s->grad);
    s->grad = NULL;
    return st;
}

rt_status rt_graph_backward(rt_run *r, rt_tensor *dout, rt_tensor **dx)
{
    if (dx)
        *dx = NULL;
    rt_model *m = r->m;
    rt_node_run *o = &r->nodes[m->output];
    if (!o->tg)
        return RT_OK; /* nothing trainable: no gradient to compute */
    if (dout->numel != o->out->numel)
        return rt_error_set(RT_ERR_SHAPE, "output gradient of %s has %lld values, "
                            "expected %lld", m->name, (long long)dout->numel,
                            (long long)o->out->numel);
    rt_status st = rt_model_grads_ensure(m);
    if (st != RT_OK)
        return st;
    rt_tensor_release(o->grad);
    o->grad = NULL;
    rt_tensor *d = NULL;
    st = rt_tensor_on_device(&d, dout, r->dev);
    if (st == RT_OK)
        st = rt_tensor_reshape(&o->grad, d, o->out->ndim, o->out->shape);
    rt_tensor_release(d);
    for (int i = m->n_nodes - 1; i >= 1 && st == RT_OK; i--)
        if (r->nodes[i].tg && r->nodes[i].grad)
            st = rt_node_backward(r, i);
    if (st == RT_OK && dx && r->input_grad && r->nodes[0].grad)
        *dx = rt_tensor_retain(r->nodes[0].grad);
    return st;
}

rt_tensor *rt_run_output(rt_run *r, int node)
{
    return node >= 0 && node < r->n_nodes ? r->nodes[node].out : NULL;
}

void rt_run_free(rt_run *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n_nodes; i++) {
        rt_tensor_release(r->nodes[i].out);
        rt_tensor_release(r->nodes[i].grad);
        rt_tensor_release(r->nodes[i].mask);
        rt_tensor_release(r->stats[i]); /* nodes[i].stats points into it */
    }
    free(r->nodes);
    free(r->stats);
    free(r);
}
