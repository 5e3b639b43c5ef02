/* Keras HDF5 weights: load_weights (positional or by name) and
 * save_weights, over model.layers (model.h). The files are read and
 * written through host images of the parameter slabs: the slab itself on
 * the CPU, a copy of a GPU slab otherwise (uploaded after a load that
 * succeeded, so a failed load changes nothing there). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "h5weights.h"
#include "model_impl.h"

/* A parameter slab as host memory. */
typedef struct rt_io_image {
    rt_model *owner;
    float *host;  /* owner->params->data on the CPU, else a copy */
    int copied;
} rt_io_image;

/* One model.layers entry with its weights in layer.weights order. */
typedef struct rt_io_entry {
    const char *name;
    int n;                      /* weights */
    rt_model *owner[64];
    const rt_weight *w[64];
    const char *wlayer[64];     /* the layer owning each weight */
    rt_h5_shape shapes[64];
    rt_io_image *images;        /* (2): one per part */
} rt_io_entry;

static rt_status rt_io_images_get(rt_model *m, rt_io_image *img)
{
    rt_model_parts p;
    rt_model_parts_get(m, &p);
    memset(img, 0, 2 * sizeof *img);
    rt_status st = RT_OK;
    for (int k = 0; k < p.n && st == RT_OK; k++) {
        rt_tensor *t = p.part[k]->params;
        img[k].owner = p.part[k];
        if (t->device == RT_DEVICE_CPU) {
            img[k].host = t->data;
            continue;
        }
        img[k].host = malloc(sizeof(float) * (size_t)t->numel);
        img[k].copied = 1;
        st = img[k].host ? rt_tensor_copy_to_host(t, img[k].host)
                         : rt_error_set(RT_ERR_NOMEM, "out of memory for a copy of "
                                        "the weights of %s", p.part[k]->name);
    }
    return st;
}

/* Upload the copies (after a load). */
static rt_status rt_io_images_put(rt_io_image *img)
{
    rt_status st = RT_OK;
    for (int k = 0; k < 2 && st == RT_OK; k++)
        if (img[k].copied && img[k].host)
            st = rt_tensor_copy_from_host(img[k].owner->params, img[k].host);
    rt_device_touch();
    return st;
}

static void rt_io_images_free(rt_io_image *img)
{
    for (int k = 0; k < 2; k++)
        if (img[k].copied)
            free(img[k].host);
}

static int rt_io_push(rt_io_entry *e, rt_model *m, const rt_layer *l, const rt_weight *w)
{
    if (e->n >= 64)
        return 0;
    e->owner[e->n] = m;
    e->w[e->n] = w;
    e->wlayer[e->n] = l->name;
    e->shapes[e->n].ndim = w->ndim;
    for (int d = 0; d < w->ndim; d++)
        e->shapes[e->n].dims[d] = w->shape[d];
    e->n++;
    return 1;
}

/* A nested model's weights: Keras' Network.weights = trainable weights of
 * its layers, then the others. */
static int rt_io_nested(rt_io_entry *e, rt_model *sub)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < sub->n_order; i++) {
            const rt_layer *l = &sub->nodes[sub->order[i]];
            for (int k = 0; k < l->n_weights; k++) {
                int tr = l->w[k].trainable && l->trainable && sub->trainable;
                if ((pass == 0) == (tr != 0) && !rt_io_push(e, sub, l, &l->w[k]))
                    return 0;
            }
        }
    return 1;
}

static rt_status rt_io_entries(rt_model *m, rt_io_image *images, rt_io_entry **out,
                               int *count)
{
    int n = rt_model_layer_count(m);
    rt_io_entry *e = calloc((size_t)n, sizeof *e);
    if (!e)
        return rt_error_set(RT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        rt_layer_info info = {0};
        rt_model_layer_get(m, i, &info);
        e[i].name = info.name;
        e[i].images = images;
        int ok = 1;
        if (info.submodel) {
            ok = rt_io_nested(&e[i], info.submodel);
        } else {
            rt_model *owner = m->kind == RT_MODEL_COMPOSED ? m->parts[0] : m;
            for (int k = 0; k < info.layer->n_weights && ok; k++)
                ok = rt_io_push(&e[i], owner, info.layer, &info.layer->w[k]);
        }
        if (!ok) {
            free(e);
            return rt_error_set(RT_ERR_ARG, "layer %s has too many weights", info.name);
        }
    }
    *out = e;
    *count = n;
    return RT_OK;
}

static float *rt_io_data(const rt_io_entry *e, int k)
{
    int part = e->images[1].owner == e->owner[k];
    return e->images[part].host + e->w[k]->offset;
}

static rt_status rt_io_assign(rt_io_entry *e, int n, const rt_h5_weights *f, const int *fl)
{
    for (int i = 0; i < n; i++) {
        if (fl[i] < 0)
            continue;
        const rt_h5_layer *L = &f->layers[fl[i]];
        for (int k = 0; k < e[i].n; k++) {
            if (!L->weights[k].data)
                return rt_error_set(RT_ERR_FORMAT, "%s: layer %s weight %s has no data",
                                    f->path ? f->path : "weights", L->name,
                                    L->weights[k].name);
            memcpy(rt_io_data(&e[i], k), L->weights[k].data,
                   sizeof(float) * (size_t)e[i].w[k]->numel);
        }
    }
    return RT_OK;
}

rt_status rt_model_weights_load(rt_model *m, const char *path, int by_name, int *renamed)
{
    if (renamed)
        *renamed = 0;
    if (!m->built)
        return rt_error_set(RT_ERR_STATE, "model %s is not built yet, so it has no "
                            "weights to load into: give its first layer an input "
                            "shape first", m->name);
    rt_h5_weights *f = NULL;
    rt_io_entry *e = NULL;
    rt_h5_expect *ex = NULL;
    rt_io_image img[2];
    int *fl = NULL, n = 0;
    rt_status st = rt_h5weights_read(path, 0, &f);
    if (st == RT_OK)
        st = rt_io_images_get(m, img);
    else
        memset(img, 0, sizeof img);
    if (st == RT_OK)
        st = rt_io_entries(m, img, &e, &n);
    if (st == RT_OK) {
        ex = calloc((size_t)n, sizeof *ex);
        fl = calloc((size_t)n, sizeof *fl);
        if (!ex || !fl)
            st = rt_error_set(RT_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; st == RT_OK && i < n; i++) {
        ex[i].layer = e[i].name;
        ex[i].n_weights = e[i].n;
        ex[i].shapes = e[i].shapes;
    }
    if (st == RT_OK)
        st = rt_h5weights_match(f, ex, n, by_name ? RT_H5_BY_NAME : RT_H5_POSITIONAL, fl,
                                renamed);
    if (st == RT_OK)
        st = rt_io_assign(e, n, f, fl);
    if (st == RT_OK)
        st = rt_io_images_put(img);
    rt_io_images_free(img);
    free(ex);
    free(fl);
    free(e);
    rt_h5weights_free(f);
    return st;
}

static rt_status rt_io_save_entry(rt_h5_weights *f, const rt_io_entry *e)
{
    int l;
    rt_status st = rt_h5weights_layer_add(f, e->name, &l);
    for (int k = 0; k < e->n && st == RT_OK; k++) {
        char name[RT_NAME_MAX + 40];
        snprintf(name, sizeof name, "%s/%s:0", e->wlayer[k], e->w[k]->var);
        st = rt_h5weights_weight_add(f, l, name, &e->shapes[k], rt_io_data(e, k), 0);
    }
    return st;
}

rt_status rt_model_weights_save(rt_model *m, const char *path)
{
    if (!m->built)
        return rt_error_set(RT_ERR_STATE, "model %s is not built yet, so it has no "
                            "weights to save: give its first layer an input shape "
                            "first", m->name);
    rt_h5_weights *f = NULL;
    rt_io_entry *e = NULL;
    rt_io_image img[2];
    int n = 0;
    rt_status st = rt_h5weights_new(&f);
    if (st == RT_OK)
        st = rt_io_images_get(m, img);
    else
        memset(img, 0, sizeof img);
    if (st == RT_OK)
        st = rt_io_entries(m, img, &e, &n);
    for (int i = 0; i < n && st == RT_OK; i++)
        st = rt_io_save_entry(f, &e[i]);
    if (st == RT_OK)
        st = rt_h5weights_write(f, path);
    rt_io_images_free(img);
    free(e);
    rt_h5weights_free(f);
    return st;
}

/* The part and weight called layer/var. */
static rt_status rt_weight_find(rt_model *m, const char *layer, const char *var,
                                rt_model **owner, const rt_weight **w)
{
    rt_model_parts p;
    rt_model_parts_get(m, &p);
    for (int k = 0; k < p.n; k++) {
        rt_model *g = p.part[k];
        for (int i = 0; g->built && i < g->n_nodes; i++) {
            const rt_layer *l = &g->nodes[i];
            if (strcmp(l->name, layer) != 0)
                continue;
            for (int j = 0; j < l->n_weights; j++)
                if (strcmp(l->w[j].var, var) == 0) {
                    *owner = g;
                    *w = &l->w[j];
                    return RT_OK;
                }
            return rt_error_set(RT_ERR_ARG, "layer %s has no weight '%s'", layer, var);
        }
    }
    return rt_error_set(RT_ERR_ARG, "model %s has no layer '%s'", m->name, layer);
}

rt_status rt_model_weight_get(rt_model *m, const char *layer, const char *var,
                              float **data, int64_t *numel)
{
    rt_model *g;
    const rt_weight *w;
    rt_status st = rt_weight_find(m, layer, var, &g, &w);
    if (st != RT_OK)
        return st;
    *numel = w->numel;
    if (g->params->device == RT_DEVICE_CPU) {
        *data = g->params->data + w->offset;
        return RT_OK;
    }
    /* A GPU slab: a host copy owned by the model the caller asked. */
    float *h = realloc(m->weight_host, sizeof(float) * (size_t)(w->numel ? w->numel : 1));
    if (!h)
        return rt_error_set(RT_ERR_NOMEM, "out of memory copying %s/%s", layer, var);
    m->weight_host = h;
    const rt_backend *be = rt_backend_get(g->params->device);
    st = be ? be->copy_to_host(h, g->params->data + w->offset, sizeof(float) * (size_t)w->numel)
            : rt_error_set(RT_ERR_DEVICE, "the GPU holding %s is not available", m->name);
    if (st == RT_OK)
        *data = h;
    return st;
}

rt_status rt_model_weight_set(rt_model *m, const char *layer, const char *var,
                              const float *data, int64_t numel)
{
    rt_model *g;
    const rt_weight *w;
    rt_status st = rt_weight_find(m, layer, var, &g, &w);
    if (st != RT_OK)
        return st;
    if (numel != w->numel)
        return rt_error_set(RT_ERR_SHAPE, "%s/%s has %lld values, not %lld", layer, var,
                            (long long)w->numel, (long long)numel);
    const rt_backend *be = rt_backend_get(g->params->device);
    if (!be)
        return rt_error_set(RT_ERR_DEVICE, "the GPU holding %s is not available", m->name);
    rt_device_touch();
    return be->copy_from_host(g->params->data + w->offset, data,
                              sizeof(float) * (size_t)numel);
}
