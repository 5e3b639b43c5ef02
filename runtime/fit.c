/* fit() and evaluate() over directory datasets, with the frozen-backbone
 * feature cache (train.h). */
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "model_impl.h"
#include "cpu_ops.h"
#include "train.h"

/* Where batches come from: the dataset's pixels, or cached part-0 outputs
 * gathered by sample index. */
typedef struct rt_feed {
    rt_dataset *ds;
    rt_tensor *xbuf;   /* (bs, h, w, c) pixels, or NULL when cached */
    rt_tensor *cache;  /* (samples, feature shape) or NULL */
    float *y;          /* (bs, label width) */
    int *idx;          /* (bs) */
    int start;         /* first part to run */
} rt_feed;

static void rt_feed_free(rt_feed *f)
{
    rt_tensor_release(f->xbuf);
    rt_tensor_release(f->cache);
    free(f->y);
    free(f->idx);
    memset(f, 0, sizeof *f);
}

static int rt_cache_allowed(rt_model *m, rt_model_parts *p, rt_dataset *ds)
{
    if (p->n != 2 || rt_graph_has_trainable(p->part[0]) || rt_graph_has_dropout(p->part[0]))
        return 0;
    if (m->bn_mode != RT_BN_TF2)
        return 0;
    return !rt_augment_is_random(&rt_dataset_config_get(ds)->augment);
}

/* Part-0 outputs of every sample, batch by batch, in inference mode. */
static rt_status rt_cache_build(rt_model_parts *p, rt_dataset *ds, rt_tensor *xbuf,
                                rt_tensor **cache)
{
    int n = rt_dataset_size(ds), bs = (int)xbuf->shape[0];
    size_t per_img = (size_t)(xbuf->numel / bs);
    rt_status st = RT_OK;
    rt_tensor *all = NULL;
    for (int i = 0; i < n && st == RT_OK; i += bs) {
        int cnt = n - i < bs ? n - i : bs;
        for (int k = 0; k < cnt && st == RT_OK; k++)
            st = rt_dataset_sample_load(ds, i + k, xbuf->data + (size_t)k * per_img);
        rt_tensor *x = NULL, *o = NULL;
        if (st == RT_OK)
            st = rt_tensor_slice(&x, xbuf, 0, cnt);
        if (st == RT_OK)
            st = rt_graph_forward(p->part[0], x, 0, 0, 0, 0, NULL, &o);
        if (st == RT_OK && !all) {
            int64_t s[4] = {n, o->shape[1], o->shape[2], o->shape[3]};
            st = rt_tensor_new(&all, RT_DEVICE_CPU, o->ndim, s);
        }
        if (st == RT_OK)
            memcpy(all->data + (o->numel / cnt) * i, o->data, sizeof(float) * (size_t)o->numel);
        rt_tensor_release(x);
        rt_tensor_release(o);
    }
    if (st != RT_OK)
        rt_tensor_release(all);
    else
        *cache = all;
    return st;
}

static rt_status rt_feed_init(rt_feed *f, rt_model *m, rt_model_parts *p, rt_dataset *ds,
                              int use_cache)
{
    memset(f, 0, sizeof *f);
    f->ds = ds;
    const rt_dataset_config *c = rt_dataset_config_get(ds);
    int ndim, lw = rt_dataset_label_width(ds), outputs;
    int64_t in[3], outs[3];
    rt_model_input_shape(m, &ndim, in);
    rt_model_output_shape(m, &outputs, outs);
    if (ndim != 3 || in[0] != c->target_h || in[1] != c->target_w || in[2] != c->channels)
        return rt_error_set(RT_ERR_SHAPE, "the model %s takes (%lld, %lld, %lld) images "
                            "but the dataset gives (%d, %d, %d)", m->name, (long long)in[0],
                            (long long)in[1], (long long)in[2], c->target_h, c->target_w,
                            c->channels);
    if (outputs != 1 || lw < 1 || outs[0] != lw)
        return rt_error_set(RT_ERR_SHAPE, "the model %s has %lld outputs but the dataset's "
                            "labels have %d values each (class_mode)", m->name,
                            (long long)outs[0], lw);
    int64_t xs[4] = {c->batch_size, c->target_h, c->target_w, c->channels};
    rt_status st = rt_tensor_new(&f->xbuf, RT_DEVICE_CPU, 4, xs);
    f->y = malloc(sizeof(float) * (size_t)c->batch_size * (size_t)lw);
    f->idx = malloc(sizeof(int) * (size_t)c->batch_size);
    if (st == RT_OK && (!f->y || !f->idx))
        st = rt_error_set(RT_ERR_NOMEM, "out of memory for a batch");
    if (st == RT_OK && use_cache && rt_cache_allowed(m, p, ds)) {
        st = rt_cache_build(p, ds, f->xbuf, &f->cache);
        f->start = 1;
        rt_tensor_release(f->xbuf);
        f->xbuf = NULL;
    }
    if (st != RT_OK)
        rt_feed_free(f);
    return st;
}

/* The stream's next batch as the input of part f->start (new reference). */
static rt_status rt_feed_next(rt_feed *f, rt_tensor **x, int *n)
{
    *x = NULL;
    rt_status st = rt_dataset_next_batch(f->ds, f->xbuf ? f->xbuf->data : NULL, f->y,
                                         f->idx, n);
    if (st != RT_OK)
        return st;
    if (f->xbuf)
        return rt_tensor_slice(x, f->xbuf, 0, *n);
    int64_t s[4] = {*n, f->cache->shape[1], f->cache->shape[2], f->cache->shape[3]};
    st = rt_tensor_new(x, RT_DEVICE_CPU, f->cache->ndim, s);
    size_t per = (size_t)(f->cache->numel / f->cache->shape[0]);
    for (int k = 0; k < *n && st == RT_OK; k++)
        memcpy((*x)->data + per * (size_t)k, f->cache->data + per * (size_t)f->idx[k],
               sizeof(float) * per);
    return st;
}

/* Weighted mean loss/acc over `steps` batches of the feed's stream. */
static rt_status rt_eval_steps(rt_model *m, rt_model_parts *p, rt_feed *f, int steps,
                               double *loss, double *acc)
{
    double sl = 0, sa = 0;
    int count = 0;
    rt_status st = RT_OK;
    for (int s = 0; s < steps && st == RT_OK; s++) {
        rt_tensor *x = NULL, *cur = NULL;
        int n = 0;
        st = rt_feed_next(f, &x, &n);
        for (int k = f->start; k < p->n && st == RT_OK; k++) {
            rt_tensor *o = NULL;
            st = rt_graph_forward(p->part[k], x, 0, 0, 0, 0, NULL, &o);
            rt_tensor_release(x);
            x = o;
        }
        cur = x;
        double l = 0, a = 0;
        if (st == RT_OK)
            st = rt_train_loss(m, cur, f->y, &l, &a);
        rt_tensor_release(cur);
        sl += l * n;
        sa += a * n;
        count += n;
    }
    *loss = count ? sl / count : 0;
    *acc = count ? sa / count : 0;
    return st;
}

rt_status rt_model_evaluate(rt_model *m, rt_dataset *ds, int steps, double *loss, double *acc)
{
    if (!m->compiled)
        return rt_error_set(RT_ERR_STATE, "compile() the model %s before evaluate()",
                            m->name);
    rt_model_parts p;
    rt_model_parts_get(m, &p);
    rt_feed f;
    rt_status st = rt_feed_init(&f, m, &p, ds, 0);
    if (st != RT_OK)
        return st;
    st = rt_dataset_start(ds, RT_ORDER_SEQUENTIAL);
    if (st == RT_OK)
        st = rt_eval_steps(m, &p, &f, steps > 0 ? steps : rt_dataset_batch_count(ds),
                           loss, acc);
    rt_dataset_stop(ds);
    rt_feed_free(&f);
    return st;
}

typedef struct rt_fit_state {
    rt_model *m;
    rt_model_parts p;
    rt_feed train, val;
    int has_val;
    const rt_fit_config *cfg;
    const rt_fit_callbacks *cb;
    rt_history *h;
} rt_fit_state;

/* One epoch of training steps; *stopped when the callback asked. */
static rt_status rt_fit_epoch(rt_fit_state *s, int epoch, int steps, double *loss,
                              double *acc, int *stopped)
{
    double sl = 0, sa = 0;
    int count = 0;
    rt_status st = RT_OK;
    for (int step = 0; step < steps && st == RT_OK; step++) {
        if (s->cb && s->cb->should_stop && s->cb->should_stop(s->cb->ctx)) {
            *stopped = 1;
            break;
        }
        rt_tensor *x = NULL;
        int n = 0;
        double l = 0, a = 0;
        st = rt_feed_next(&s->train, &x, &n);
        if (st == RT_OK)
            st = rt_train_step(s->m, &s->p, s->train.start, x, s->train.y, &l, &a);
        rt_tensor_release(x);
        sl += l * n;
        sa += a * n;
        count += n;
        if (st == RT_OK && s->cb && s->cb->on_batch)
            s->cb->on_batch(s->cb->ctx, epoch, step, steps, sl / count, sa / count);
    }
    *loss = count ? sl / count : 0;
    *acc = count ? sa / count : 0;
    return st;
}

static rt_status rt_fit_run(rt_fit_state *s, rt_dataset *train, rt_dataset *val)
{
    int steps = s->cfg->steps_per_epoch > 0 ? s->cfg->steps_per_epoch
                                            : rt_dataset_batch_count(train);
    int vsteps = !val ? 0 : s->cfg->validation_steps > 0 ? s->cfg->validation_steps
                                                           : rt_dataset_batch_count(val);
    rt_status st = rt_dataset_start(train, RT_ORDER_SHUFFLED);
    if (st == RT_OK && val)
        st = rt_dataset_start(val, RT_ORDER_SEQUENTIAL);
    for (int e = 0; e < s->cfg->epochs && st == RT_OK && !s->h->interrupted; e++) {
        double l, a, vl = 0, va = 0;
        st = rt_fit_epoch(s, e, steps, &l, &a, &s->h->interrupted);
        if (st != RT_OK || s->h->interrupted)
            break;
        if (val)
            st = rt_eval_steps(s->m, &s->p, &s->val, vsteps, &vl, &va);
        if (st == RT_OK)
            st = rt_history_push(s->h, l, a, vl, va);
        if (st == RT_OK && s->cb && s->cb->on_epoch)
            s->cb->on_epoch(s->cb->ctx, e, s->h);
    }
    rt_dataset_stop(train);
    if (val)
        rt_dataset_stop(val);
    return st;
}

rt_status rt_model_fit(rt_model *m, rt_dataset *train, rt_dataset *val,
                       const rt_fit_config *cfg, const rt_fit_callbacks *cb,
                       rt_history **out)
{
    *out = NULL;
    if (!m->compiled)
        return rt_error_set(RT_ERR_STATE, "compile() the model %s before fit()", m->name);
    if (cfg->epochs < 0 || cfg->steps_per_epoch < 0 || cfg->validation_steps < 0)
        return rt_error_set(RT_ERR_ARG, "epochs and steps must not be negative");
    rt_fit_state s;
    memset(&s, 0, sizeof s);
    s.m = m;
    s.cfg = cfg;
    s.cb = cb;
    rt_model_parts_get(m, &s.p);
    s.h = calloc(1, sizeof *s.h);
    if (!s.h)
        return rt_error_set(RT_ERR_NOMEM, "out of memory");
    s.h->has_val = val != NULL;
    rt_status st = rt_feed_init(&s.train, m, &s.p, train, cfg->feature_cache);
    if (st == RT_OK && val)
        st = rt_feed_init(&s.val, m, &s.p, val, cfg->feature_cache);
    if (st == RT_OK) {
        s.h->feature_cache = s.train.start == 1;
        st = rt_fit_run(&s, train, val);
    }
    rt_feed_free(&s.train);
    if (val)
        rt_feed_free(&s.val);
    rt_cpu_buffer_cache_trim();     /* an idle kernel keeps no training peak */
    if (st != RT_OK) {
        rt_history_free(s.h);
        return st;
    }
    *out = s.h;
    return RT_OK;
}
