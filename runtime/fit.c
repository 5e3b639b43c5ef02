/* fit() and evaluate() over directory datasets, with the frozen-backbone
 * feature cache (train.h).
 *
 * Batches come from the data pipeline on the CPU and are copied to the
 * model's device before each step. On a real GPU they go through two
 * page-locked staging buffers: while one batch computes, the next one is
 * decoded straight into the other buffer and its upload is queued on the
 * module's copy stream (cuda_module.h), so that copies overlap compute.
 * The emulated device and the CPU take plain copies (none on the CPU). */
#include <stdlib.h>
#include <string.h>

#include "cpu_ops.h"
#include "device.h"
#include "emu_backend.h"
#include "graph.h"
#include "model_impl.h"
#include "train.h"

/* Where batches come from: the dataset's pixels, or cached part-0 outputs
 * gathered by sample index. */
typedef struct rt_feed {
    rt_dataset *ds;
    rt_device dev;     /* the model's */
    rt_tensor *xbuf;   /* (bs, h, w, c) pixels on the CPU, or NULL (cached, staged) */
    rt_tensor *ybuf;   /* (bs, lw) labels on the CPU, or NULL (staged) */
    rt_tensor *cache;  /* (samples, feature shape) on dev, or NULL */
    int *idx;          /* (bs) */
    int start;         /* first part to run */
    /* Off the CPU: the batch on the device, in two slots used in turn. */
    rt_tensor *dx[2];  /* (bs, h, w, c), pixel feeds only */
    rt_tensor *dy[2];  /* (bs, lw) */
    int slot;          /* the slot the next batch goes to */
    /* A real GPU: page-locked staging (x then y) per slot, and whether the
     * next batch is already uploaded into `slot`. */
    const rt_cuda_module *mod;
    void *pinned[2];
    size_t xfloats, yfloats; /* per batch */
    int ahead, ahead_n;
    rt_status ahead_st;
} rt_feed;

static void rt_feed_free(rt_feed *f)
{
    if (f->mod && (f->pinned[0] || f->pinned[1])) {
        /* Queued uploads read the staging buffers: let them finish. */
        rt_status st = f->mod->synchronize();
        (void)st;
        for (int i = 0; i < 2; i++)
            if (f->pinned[i])
                f->mod->host_free(f->pinned[i]);
    }
    rt_tensor_release(f->xbuf);
    rt_tensor_release(f->ybuf);
    rt_tensor_release(f->cache);
    for (int i = 0; i < 2; i++) {
        rt_tensor_release(f->dx[i]);
        rt_tensor_release(f->dy[i]);
    }
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

/* Part-0 outputs of every sample, batch by batch, in inference mode, kept
 * on the model's device. */
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
        rt_tensor *x = NULL, *o = NULL, *dst = NULL;
        if (st == RT_OK)
            st = rt_tensor_slice(&x, xbuf, 0, cnt);
        if (st == RT_OK)
            st = rt_graph_forward(p->part[0], x, 0, 0, 0, 0, NULL, &o);
        if (st == RT_OK && !all) {
            int64_t s[4] = {n, o->shape[1], o->shape[2], o->shape[3]};
            st = rt_tensor_new(&all, o->device, o->ndim, s);
            if (st == RT_OK)
                rt_model_slab_tag(all, 0); /* rebuilt by the next fit if lost */
        }
        if (st == RT_OK)
            st = rt_tensor_slice(&dst, all, i, cnt);
        if (st == RT_OK)
            st = rt_tensor_copy(dst, o);
        rt_tensor_release(x);
        rt_tensor_release(o);
        rt_tensor_release(dst);
    }
    if (st != RT_OK)
        rt_tensor_release(all);
    else
        *cache = all;
    return st;
}

static rt_status rt_feed_check(rt_model *m, rt_dataset *ds)
{
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
    return RT_OK;
}

/* Page-locked staging on a real GPU; 0 (plain copies) when refused. */
static int rt_feed_pin(rt_feed *f)
{
    f->mod = rt_gpu_module();
    if (!f->mod && rt_gpu_emulated())
        f->mod = rt_emu_staging_module(); /* tests only; NULL otherwise */
    size_t bytes = (f->xfloats + f->yfloats) * sizeof(float);
    for (int i = 0; f->mod && i < 2; i++)
        if (f->mod->host_alloc(bytes, &f->pinned[i]) != RT_OK) {
            for (int k = 0; k < i; k++)
                f->mod->host_free(f->pinned[k]);
            f->pinned[0] = f->pinned[1] = NULL;
            f->mod = NULL;
        }
    return f->mod != NULL;
}

/* Device slots for a feed off the CPU. */
static rt_status rt_feed_slots(rt_feed *f, int pixels, int64_t bs, int64_t lw,
                               const int64_t *xs)
{
    int64_t ys[2] = {bs, lw};
    rt_status st = RT_OK;
    for (int i = 0; i < 2 && st == RT_OK; i++) {
        st = rt_tensor_new(&f->dy[i], f->dev, 2, ys);
        if (st == RT_OK && pixels)
            st = rt_tensor_new(&f->dx[i], f->dev, 4, xs);
    }
    return st;
}

static rt_status rt_feed_init(rt_feed *f, rt_model *m, rt_model_parts *p, rt_dataset *ds,
                              int use_cache)
{
    memset(f, 0, sizeof *f);
    f->ds = ds;
    f->dev = rt_model_device_get(m);
    rt_status st = rt_feed_check(m, ds);
    if (st != RT_OK)
        return st;
    const rt_dataset_config *c = rt_dataset_config_get(ds);
    int64_t lw = rt_dataset_label_width(ds);
    int64_t xs[4] = {c->batch_size, c->target_h, c->target_w, c->channels};
    int64_t ys[2] = {c->batch_size, lw};
    f->xfloats = (size_t)(xs[0] * xs[1] * xs[2] * xs[3]);
    f->yfloats = (size_t)(ys[0] * ys[1]);
    st = rt_tensor_new(&f->xbuf, RT_DEVICE_CPU, 4, xs);
    if (st == RT_OK)
        st = rt_tensor_new(&f->ybuf, RT_DEVICE_CPU, 2, ys);
    f->idx = malloc(sizeof(int) * (size_t)c->batch_size);
    if (st == RT_OK && !f->idx)
        st = rt_error_set(RT_ERR_NOMEM, "out of memory for a batch");
    int cached = st == RT_OK && use_cache && rt_cache_allowed(m, p, ds);
    if (cached) {
        st = rt_cache_build(p, ds, f->xbuf, &f->cache);
        f->start = 1;
        rt_tensor_release(f->xbuf);
        f->xbuf = NULL;
    }
    if (st == RT_OK && f->dev != RT_DEVICE_CPU) {
        st = rt_feed_slots(f, !cached, xs[0], lw, xs);
        if (st == RT_OK && !cached && rt_feed_pin(f)) {
            rt_tensor_release(f->xbuf); /* the pipeline writes to the staging */
            rt_tensor_release(f->ybuf);
            f->xbuf = f->ybuf = NULL;
        }
    }
    if (st != RT_OK)
        rt_feed_free(f);
    return st;
}

/* Decode the stream's next batch into slot's staging and queue its upload. */
static rt_status rt_feed_stage(rt_feed *f, int slot, int *n)
{
    float *xh = f->pinned[slot], *yh = xh + f->xfloats;
    rt_status st = rt_dataset_next_batch(f->ds, xh, yh, f->idx, n);
    if (st == RT_OK)
        st = f->mod->upload_async(f->dx[slot]->data, xh,
                                  (size_t)*n * (f->xfloats / (size_t)f->dx[slot]->shape[0])
                                  * sizeof(float));
    if (st == RT_OK)
        st = f->mod->upload_async(f->dy[slot]->data, yh,
                                  (size_t)*n * (f->yfloats / (size_t)f->dy[slot]->shape[0])
                                  * sizeof(float));
    return st;
}

/* The next batch from staging; the one after it is staged meanwhile when
 * `more` says it will be wanted. */
static rt_status rt_feed_next_staged(rt_feed *f, int more, int *n, int *slot)
{
    rt_status st = RT_OK;
    *slot = f->slot;
    if (f->ahead) {
        st = f->ahead_st;
        *n = f->ahead_n;
        f->ahead = 0;
    } else {
        st = rt_feed_stage(f, *slot, n);
    }
    if (st == RT_OK)
        st = f->mod->upload_wait();
    if (st != RT_OK)
        return st;
    f->slot ^= 1;
    if (more) {
        f->ahead = 1;
        f->ahead_st = rt_feed_stage(f, f->slot, &f->ahead_n);
    }
    return RT_OK;
}

/* Rows [0, n) of src into a new reference *out: src itself on the model's
 * device, else copied into the device slot `dst`. */
static rt_status rt_feed_place(rt_tensor *src, rt_tensor *dst, int n, rt_tensor **out)
{
    rt_tensor *s = NULL, *d = NULL;
    rt_status st = rt_tensor_slice(&s, src, 0, n);
    if (st != RT_OK || !dst) {
        *out = s;
        return st;
    }
    st = rt_tensor_slice(&d, dst, 0, n);
    if (st == RT_OK)
        st = rt_tensor_copy(d, s);
    rt_tensor_release(s);
    if (st != RT_OK) {
        rt_tensor_release(d);
        d = NULL;
    }
    *out = d;
    return st;
}

/* Rows idx[0..n) of the cache, gathered on its device. */
static rt_status rt_feed_gather(rt_feed *f, int n, rt_tensor **x)
{
    int64_t s[4] = {n, f->cache->shape[1], f->cache->shape[2], f->cache->shape[3]};
    rt_status st = rt_tensor_new(x, f->cache->device, f->cache->ndim, s);
    const rt_backend *be = rt_backend_get(f->cache->device);
    size_t per = (size_t)(f->cache->numel / f->cache->shape[0]);
    for (int k = 0; k < n && st == RT_OK; k++)
        st = be->copy((*x)->data + per * (size_t)k, f->cache->data + per * (size_t)f->idx[k],
                      sizeof(float) * per);
    return st;
}

/* The stream's next batch as the input of part f->start and its labels,
 * both on the model's device (new references). `more`: another batch of
 * this feed follows (it may be staged ahead). */
static rt_status rt_feed_next(rt_feed *f, int more, rt_tensor **x, rt_tensor **y, int *n)
{
    *x = *y = NULL;
    rt_status st;
    if (f->mod) {
        int slot;
        st = rt_feed_next_staged(f, more, n, &slot);
        if (st == RT_OK)
            st = rt_tensor_slice(x, f->dx[slot], 0, *n);
        if (st == RT_OK)
            st = rt_tensor_slice(y, f->dy[slot], 0, *n);
        return st;
    }
    int slot = f->slot;
    f->slot ^= 1;
    st = rt_dataset_next_batch(f->ds, f->xbuf ? f->xbuf->data : NULL, f->ybuf->data,
                               f->idx, n);
    if (st == RT_OK)
        st = rt_feed_place(f->ybuf, f->dy[slot], *n, y);
    if (st == RT_OK && f->xbuf)
        st = rt_feed_place(f->xbuf, f->dx[slot], *n, x);
    else if (st == RT_OK)
        st = rt_feed_gather(f, *n, x);
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
        rt_tensor *x = NULL, *y = NULL, *cur = NULL;
        int n = 0;
        st = rt_feed_next(f, s + 1 < steps, &x, &y, &n);
        for (int k = f->start; k < p->n && st == RT_OK; k++) {
            rt_tensor *o = NULL;
            st = rt_graph_forward(p->part[k], x, 0, 0, 0, 0, NULL, &o);
            rt_tensor_release(x);
            x = o;
        }
        cur = x;
        double l = 0, a = 0;
        if (st == RT_OK)
            st = rt_train_loss(m, cur, y, &l, &a);
        rt_tensor_release(cur);
        rt_tensor_release(y);
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
        rt_tensor *x = NULL, *y = NULL;
        int n = 0;
        double l = 0, a = 0;
        st = rt_feed_next(&s->train, step + 1 < steps, &x, &y, &n);
        if (st == RT_OK)
            st = rt_train_step(s->m, &s->p, s->train.start, x, y, &l, &a);
        rt_tensor_release(x);
        rt_tensor_release(y);
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

/* After an epoch: host copies of the model for recovery (device.h). Only
 * a lost GPU stops the fit; a host copy that cannot be made (the computer
 * is short of memory) leaves the previous one. */
static rt_status rt_fit_checkpoint(void)
{
    rt_device_touch();
    rt_status st = rt_device_checkpoint();
    return st == RT_ERR_DEVICE ? st : RT_OK;
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
        st = rt_fit_checkpoint();
        if (st == RT_OK && val)
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
