/* compile / fit / evaluate / predict (train.h). */
#include "train.h"

#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "graph.h"
#include "model_impl.h"

#define RT_PREDICT_BATCH 8

rt_status rt_loss_parse(const char *name, rt_loss_kind *out)
{
    if (name && strcmp(name, "binary_crossentropy") == 0)
        *out = RT_LOSS_BINARY_CROSSENTROPY;
    else if (name && strcmp(name, "categorical_crossentropy") == 0)
        *out = RT_LOSS_CATEGORICAL_CROSSENTROPY;
    else
        return rt_error_set(RT_ERR_ARG, "unknown loss '%s' (expected "
                            "binary_crossentropy or categorical_crossentropy)",
                            name ? name : "");
    return RT_OK;
}

void rt_model_train_free(rt_model *m)
{
    rt_optimizer_free(m->opt);
    m->opt = NULL;
    m->compiled = 0;
}

rt_status rt_model_compile(rt_model *m, const rt_compile_config *cfg)
{
    if (!m->built)
        return rt_error_set(RT_ERR_STATE, "model %s is not built yet: give it an "
                            "input shape before compile()", m->name);
    if (cfg->loss != RT_LOSS_BINARY_CROSSENTROPY
        && cfg->loss != RT_LOSS_CATEGORICAL_CROSSENTROPY)
        return rt_error_set(RT_ERR_ARG, "unknown loss");
    rt_optimizer *opt;
    rt_status st = rt_optimizer_new(&opt, &cfg->optimizer, rt_model_device_get(m));
    if (st != RT_OK)
        return st;
    rt_model_train_free(m);
    m->opt = opt;
    m->loss = cfg->loss;
    m->metric_accuracy = cfg->metric_accuracy;
    m->compiled = 1;
    rt_device_touch(); /* the optimizer state restarts */
    return RT_OK;
}

void rt_history_free(rt_history *h)
{
    if (!h)
        return;
    free(h->loss);
    free(h->acc);
    free(h->val_loss);
    free(h->val_acc);
    free(h);
}

rt_status rt_history_push(rt_history *h, double l, double a, double vl, double va)
{
    if (h->epochs == h->cap) {
        int cap = h->cap ? h->cap * 2 : 8;
        double **f[4] = {&h->loss, &h->acc, &h->val_loss, &h->val_acc};
        for (int i = 0; i < 4; i++) {
            double *p = realloc(*f[i], sizeof(double) * (size_t)cap);
            if (!p)
                return rt_error_set(RT_ERR_NOMEM, "out of memory in the history");
            *f[i] = p;
        }
        h->cap = cap;
    }
    h->loss[h->epochs] = l;
    h->acc[h->epochs] = a;
    h->val_loss[h->epochs] = vl;
    h->val_acc[h->epochs] = va;
    h->epochs++;
    return RT_OK;
}

void rt_fit_config_init(rt_fit_config *c)
{
    memset(c, 0, sizeof *c);
    c->epochs = 1;
    c->feature_cache = 1;
}

/* ---- one step ---- */

static int rt_outputs(rt_model *m)
{
    int ndim;
    int64_t shape[3];
    rt_model_output_shape(m, &ndim, shape);
    return ndim == 1 ? (int)shape[0] : -1;
}

/* Loss, accuracy and (dprob not NULL) the loss gradient of prob (n, k)
 * against y (n, k), both on prob's device; the scalars come back to the
 * host. */
static rt_status rt_loss_eval(rt_model *m, const rt_tensor *prob_t, const rt_tensor *y_t,
                              float *dprob, double *loss, double *acc)
{
    *loss = *acc = 0;
    int n = (int)prob_t->shape[0], k = (int)prob_t->shape[1];
    if (y_t->numel != prob_t->numel || y_t->device != prob_t->device)
        return rt_error_set(RT_ERR_SHAPE, "the labels (%lld values on the %s) do not "
                            "match the model's output (%d x %d on the %s)",
                            (long long)y_t->numel, rt_device_name(y_t->device), n, k,
                            rt_device_name(prob_t->device));
    const rt_backend *be = rt_backend_get(prob_t->device);
    if (!be)
        return rt_error_set(RT_ERR_DEVICE, "no %s backend is available",
                            rt_device_name(prob_t->device));
    const float *prob = prob_t->data, *y = y_t->data;
    float l = 0, a = 0;
    int bce = m->loss == RT_LOSS_BINARY_CROSSENTROPY;
    rt_status st = bce ? be->bce_forward(&l, prob, y, n, k) : be->cce_forward(&l, prob, y, n, k);
    if (st == RT_OK)
        st = bce || k == 1 ? be->binary_accuracy(&a, prob, y, n, k)
                           : be->categorical_accuracy(&a, prob, y, n, k);
    if (st == RT_OK && dprob)
        st = bce ? be->bce_backward(dprob, prob, y, n, k) : be->cce_backward(dprob, prob, y, n, k);
    *loss = l;
    *acc = a;
    return st;
}

/* Trainable segments of every part, in a fixed order. */
static rt_status rt_param_refs(rt_model_parts *p, rt_param_ref **refs, int *count)
{
    int n = 0, cap = 0;
    rt_param_ref *r = NULL;
    for (int k = 0; k < p->n; k++) {
        rt_model *m = p->part[k];
        for (int i = 0; i < m->n_nodes; i++) {
            rt_layer *l = &m->nodes[i];
            for (int w = 0; l->trainable && m->trainable && w < l->n_weights; w++) {
                if (!l->w[w].trainable)
                    continue;
                if (n == cap) {
                    cap = cap ? cap * 2 : 64;
                    rt_param_ref *t = realloc(r, sizeof *r * (size_t)cap);
                    if (!t) {
                        free(r);
                        return rt_error_set(RT_ERR_NOMEM, "out of memory");
                    }
                    r = t;
                }
                r[n].param = m->params->data + l->w[w].offset;
                r[n].grad = m->grads->data + l->w[w].offset;
                r[n++].n = (size_t)l->w[w].numel;
            }
        }
    }
    *refs = r;
    *count = n;
    return RT_OK;
}

static rt_status rt_grads_zero(rt_model_parts *p, int start)
{
    for (int k = start; k < p->n; k++) {
        rt_model *m = p->part[k];
        if (!rt_graph_has_trainable(m))
            continue;
        rt_status st = rt_model_grads_ensure(m);
        if (st != RT_OK)
            return st;
        if ((st = rt_tensor_fill(m->grads, 0.0f)) != RT_OK)
            return st;
    }
    return RT_OK;
}

static rt_status rt_update(rt_model *m, rt_model_parts *p)
{
    rt_param_ref *refs = NULL;
    int count = 0;
    rt_status st = rt_param_refs(p, &refs, &count);
    rt_optimizer_device_set(m->opt, rt_model_device_get(m));
    if (st == RT_OK && count > 0)
        st = rt_optimizer_step(m->opt, refs, count);
    free(refs);
    if (st == RT_ERR_STATE)
        return rt_error_set(st, "the trainable layers of %s changed since compile(): "
                            "call compile() again", m->name);
    return st;
}

/* Backward through parts start..n-1 from the loss gradient. */
static rt_status rt_backward_parts(rt_run **runs, rt_model_parts *p, int start, rt_tensor *dprob)
{
    rt_tensor *d = rt_tensor_retain(dprob);
    rt_status st = RT_OK;
    for (int k = p->n - 1; k >= start && st == RT_OK && d; k--) {
        rt_tensor *dx = NULL;
        st = rt_graph_backward(runs[k], d, k > start ? &dx : NULL);
        rt_tensor_release(d);
        d = dx;
    }
    rt_tensor_release(d);
    return st;
}

/* Forward (learning phase 1) from part `start`, loss, backward, update. */
rt_status rt_train_step(rt_model *m, rt_model_parts *p, int start, rt_tensor *x,
                        const rt_tensor *y, double *loss, double *acc)
{
    rt_run *runs[2] = {NULL, NULL};
    rt_tensor *cur = rt_tensor_retain(x), *dprob = NULL, *yd = NULL;
    uint64_t seed = rt_rng_hash(m->seed, (uint64_t)m->train_steps++);
    int upstream = 0; /* a trainable part before this one */
    *loss = *acc = 0;
    rt_device_touch();
    rt_status st = rt_grads_zero(p, start);
    for (int k = start; k < p->n && st == RT_OK; k++) {
        int tr = rt_graph_has_trainable(p->part[k]);
        rt_tensor *out = NULL;
        st = rt_graph_forward(p->part[k], cur, 1, tr || upstream, upstream,
                              rt_rng_hash(seed, (uint64_t)k), &runs[k], &out);
        upstream |= tr;
        rt_tensor_release(cur);
        cur = out;
    }
    if (st == RT_OK)
        st = rt_tensor_on_device(&yd, (rt_tensor *)y, cur->device);
    if (st == RT_OK)
        st = rt_tensor_new(&dprob, cur->device, cur->ndim, cur->shape);
    if (st == RT_OK)
        st = rt_loss_eval(m, cur, yd, dprob->data, loss, acc);
    if (st == RT_OK && upstream)
        st = rt_backward_parts(runs, p, start, dprob);
    for (int k = 0; k < 2; k++)
        rt_run_free(runs[k]);
    rt_tensor_release(cur);
    rt_tensor_release(dprob);
    rt_tensor_release(yd);
    if (st == RT_OK && upstream)
        st = rt_update(m, p);
    return st;
}

rt_status rt_train_loss(rt_model *m, const rt_tensor *prob, const rt_tensor *y, double *loss,
                        double *acc)
{
    return rt_loss_eval(m, prob, y, NULL, loss, acc);
}

/* Inference forward from part `start`; *out new reference. */
static rt_status rt_infer(rt_model_parts *p, int start, rt_tensor *x, rt_tensor **out)
{
    rt_tensor *cur = rt_tensor_retain(x);
    rt_status st = RT_OK;
    for (int k = start; k < p->n && st == RT_OK; k++) {
        rt_tensor *o = NULL;
        st = rt_graph_forward(p->part[k], cur, 0, 0, 0, 0, NULL, &o);
        rt_tensor_release(cur);
        cur = o;
    }
    if (st != RT_OK) {
        rt_tensor_release(cur);
        cur = NULL;
    }
    *out = cur;
    return st;
}

rt_status rt_model_train_batch(rt_model *m, rt_tensor *x, const float *y, double *loss,
                               double *acc)
{
    *loss = *acc = 0;
    if (!m->compiled)
        return rt_error_set(RT_ERR_STATE, "compile() the model %s before training it",
                            m->name);
    int outputs = rt_outputs(m);
    if (outputs < 1 || x->ndim < 1)
        return rt_error_set(RT_ERR_STATE, "training needs a model with a vector output "
                            "and a batch of inputs");
    int64_t ys[2] = {x->shape[0], outputs};
    rt_tensor *yt = NULL;
    rt_status st = rt_tensor_from_host(&yt, rt_model_device_get(m), 2, ys, y);
    rt_model_parts p;
    rt_model_parts_get(m, &p);
    if (st == RT_OK)
        st = rt_train_step(m, &p, 0, x, yt, loss, acc);
    rt_tensor_release(yt);
    return st;
}

/* Outputs gather on the model's device and come to the CPU once, at the
 * end. */
rt_status rt_model_predict(rt_model *m, rt_tensor *x, rt_tensor **out)
{
    *out = NULL;
    rt_tensor *xb = NULL;
    rt_status st = RT_OK;
    if (x->ndim == 3) {
        int64_t s[4] = {1, x->shape[0], x->shape[1], x->shape[2]};
        st = rt_tensor_reshape(&xb, x, 4, s);
    } else {
        xb = rt_tensor_retain(x);
    }
    int outputs = rt_outputs(m);
    int64_t n = xb && xb->ndim > 0 ? xb->shape[0] : 0, os[2] = {n, outputs};
    if (st == RT_OK && outputs < 1)
        st = rt_error_set(RT_ERR_STATE, "predict() needs a model with a vector output");
    rt_tensor *res = NULL, *host = NULL;
    if (st == RT_OK)
        st = rt_tensor_new(&res, rt_model_device_get(m), 2, os);
    rt_model_parts p;
    rt_model_parts_get(m, &p);
    for (int64_t i = 0; i < n && st == RT_OK; i += RT_PREDICT_BATCH) {
        int64_t cnt = n - i < RT_PREDICT_BATCH ? n - i : RT_PREDICT_BATCH;
        rt_tensor *chunk = NULL, *o = NULL, *dst = NULL;
        st = rt_tensor_slice(&chunk, xb, i, cnt);
        if (st == RT_OK)
            st = rt_infer(&p, 0, chunk, &o);
        if (st == RT_OK)
            st = rt_tensor_slice(&dst, res, i, cnt);
        if (st == RT_OK)
            st = rt_tensor_copy(dst, o);
        rt_tensor_release(chunk);
        rt_tensor_release(o);
        rt_tensor_release(dst);
    }
    if (st == RT_OK)
        st = rt_tensor_on_device(&host, res, RT_DEVICE_CPU);
    rt_tensor_release(xb);
    rt_tensor_release(res);
    if (st == RT_OK)
        *out = host;
    return st;
}
