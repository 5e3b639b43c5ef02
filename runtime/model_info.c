/* Model inspection: layers, trainable flags, parameter counts, summary(). */
#include "model_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"

const char *rt_model_name(const rt_model *m) { return m->name; }
rt_model_kind rt_model_kind_get(const rt_model *m) { return m->kind; }
int rt_model_is_built(const rt_model *m) { return m->built; }
void rt_model_bn_mode_set(rt_model *m, rt_bn_mode mode)
{
    m->bn_mode = mode;
    for (int i = 0; i < 2; i++)
        if (m->parts[i])
            m->parts[i]->bn_mode = mode;
}
rt_bn_mode rt_model_bn_mode_get(const rt_model *m) { return m->bn_mode; }
void rt_model_seed_set(rt_model *m, uint64_t seed) { m->seed = seed; }
uint64_t rt_model_seed_get(const rt_model *m) { return m->seed; }
int rt_model_node_count(const rt_model *m) { return m->n_nodes; }
rt_layer *rt_model_node(rt_model *m, int i) { return &m->nodes[i]; }
int rt_model_output_node(const rt_model *m) { return m->output; }
float *rt_model_params(rt_model *m) { return m->params ? m->params->data : NULL; }
float *rt_model_grads(rt_model *m) { return m->grads ? m->grads->data : NULL; }
int64_t rt_model_param_total(const rt_model *m) { return m->n_params; }
int rt_model_trainable_flag(const rt_model *m) { return m->trainable; }

const int *rt_model_order(const rt_model *m, int *n)
{
    *n = m->n_order;
    return m->order;
}

void rt_model_parts_get(rt_model *m, rt_model_parts *p)
{
    if (m->kind == RT_MODEL_COMPOSED) {
        p->n = 2;
        p->part[0] = m->parts[0];
        p->part[1] = m->parts[1];
    } else {
        p->n = 1;
        p->part[0] = m;
        p->part[1] = NULL;
    }
}

rt_device rt_model_device_get(const rt_model *m)
{
    if (m->kind == RT_MODEL_COMPOSED)
        m = m->parts[0];
    return m->params ? m->params->device : RT_DEVICE_CPU;
}

rt_device rt_model_device(const rt_model *m)
{
    return rt_model_device_get(m);
}

void rt_model_slab_tag(rt_tensor *t, int backup)
{
    rt_tensor_set_kind(t, RT_STORAGE_MODEL);
    rt_tensor_set_backup(t, backup);
}

/* Gradients need no host copy: every step zeroes them first. */
rt_status rt_model_grads_ensure(rt_model *m)
{
    if (m->grads || !m->params)
        return RT_OK;
    rt_status st = rt_tensor_new(&m->grads, m->params->device, 1, m->params->shape);
    if (st == RT_OK)
        rt_model_slab_tag(m->grads, 0);
    return st;
}

int rt_model_layer_count(const rt_model *m)
{
    if (m->kind == RT_MODEL_COMPOSED)
        return m->parts[0]->n_order + 1;
    return m->n_order;
}

static void rt_info_from_layer(const rt_model *m, const rt_layer *l, rt_layer_info *info)
{
    memset(info, 0, sizeof *info);
    info->name = l->name;
    info->class_name = rt_layer_class_name(&l->cfg);
    info->trainable = l->trainable;
    info->ndim = l->ndim;
    memcpy(info->shape, l->shape, sizeof info->shape);
    info->params = rt_layer_param_count(l);
    info->trainable_params = rt_layer_trainable_count(l, m->trainable);
    info->layer = l;
}

rt_status rt_model_layer_get(rt_model *m, int i, rt_layer_info *info)
{
    if (i < 0 || i >= rt_model_layer_count(m))
        return rt_error_set(RT_ERR_ARG, "layer index %d is out of range: %s has "
                            "%d layers", i, m->name, rt_model_layer_count(m));
    if (m->kind != RT_MODEL_COMPOSED) {
        rt_info_from_layer(m, &m->nodes[m->order[i]], info);
        return RT_OK;
    }
    rt_model *bb = m->parts[0], *top = m->parts[1];
    if (i < bb->n_order) {
        rt_info_from_layer(bb, &bb->nodes[bb->order[i]], info);
        return RT_OK;
    }
    memset(info, 0, sizeof *info);
    info->name = top->name;
    info->class_name = top->kind == RT_MODEL_SEQUENTIAL ? "Sequential" : "Model";
    info->trainable = top->trainable;
    rt_model_output_shape(top, &info->ndim, info->shape);
    rt_model_param_counts(top, &info->params, &info->trainable_params);
    info->submodel = top;
    return RT_OK;
}

int rt_model_layer_find(rt_model *m, const char *name)
{
    int n = rt_model_layer_count(m);
    for (int i = 0; i < n; i++) {
        rt_layer_info info = {0};
        if (rt_model_layer_get(m, i, &info) == RT_OK && strcmp(info.name, name) == 0)
            return i;
    }
    return -1;
}

rt_status rt_model_layer_trainable_set(rt_model *m, int i, int trainable)
{
    rt_layer_info info = {0};
    rt_status st = rt_model_layer_get(m, i, &info);
    if (st != RT_OK)
        return st;
    if (info.submodel)
        info.submodel->trainable = trainable != 0;
    else
        ((rt_layer *)info.layer)->trainable = trainable != 0;
    return RT_OK;
}

void rt_model_trainable_set(rt_model *m, int trainable)
{
    m->trainable = trainable != 0;
    for (int i = 0; i < m->n_nodes; i++)
        m->nodes[i].trainable = trainable != 0;
    for (int i = 0; i < 2; i++)
        if (m->parts[i])
            rt_model_trainable_set(m->parts[i], trainable);
}

void rt_model_input_shape(const rt_model *m, int *ndim, int64_t shape[3])
{
    if (m->kind == RT_MODEL_COMPOSED)
        m = m->parts[0];
    *ndim = m->nodes ? m->nodes[0].ndim : 0;
    for (int i = 0; i < 3; i++)
        shape[i] = m->nodes ? m->nodes[0].shape[i] : 0;
}

void rt_model_output_shape(const rt_model *m, int *ndim, int64_t shape[3])
{
    if (m->kind == RT_MODEL_COMPOSED)
        m = m->parts[1];
    const rt_layer *l = m->built ? &m->nodes[m->output] : NULL;
    *ndim = l ? l->ndim : 0;
    for (int i = 0; i < 3; i++)
        shape[i] = l ? l->shape[i] : 0;
}

void rt_model_param_counts(const rt_model *m, int64_t *total, int64_t *trainable)
{
    *total = *trainable = 0;
    if (m->kind == RT_MODEL_COMPOSED) {
        for (int p = 0; p < 2; p++) {
            int64_t t, tr;
            rt_model_param_counts(m->parts[p], &t, &tr);
            *total += t;
            *trainable += tr;
        }
        return;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        *total += rt_layer_param_count(&m->nodes[i]);
        *trainable += rt_layer_trainable_count(&m->nodes[i], m->trainable);
    }
}

/* ---- summary(), in Keras 2.2.4's print_summary layout ---- */

typedef struct rt_text {
    char *buf;
    size_t len, cap;
    int failed;
} rt_text;

static void rt_text_add(rt_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void rt_text_add(rt_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || t->failed)
        return;
    if ((size_t)n >= sizeof tmp)
        n = (int)sizeof tmp - 1;
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *b = realloc(t->buf, cap);
        if (!b) {
            t->failed = 1;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, tmp, (size_t)n + 1);
    t->len += (size_t)n;
}

/* Keras' print_row: each field cut at its column end, padded to it, with
 * the last character of the previous field replaced by a space. */
static void rt_summary_row(rt_text *t, const char *const *fields, const int *pos, int n)
{
    char line[256] = "";
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && len > 0)
            line[len - 1] = ' ';
        size_t end = (size_t)pos[i];
        snprintf(line + len, sizeof line - len, "%s", fields[i]);
        len = strlen(line);
        if (len > end)
            len = end;
        while (len < end)
            line[len++] = ' ';
        line[len] = 0;
    }
    rt_text_add(t, "%s\n", line);
}

static void rt_rule(rt_text *t, char c, int n)
{
    char line[128];
    memset(line, c, (size_t)n);
    line[n] = 0;
    rt_text_add(t, "%s\n", line);
}

static void rt_shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    if (ndim == 3)
        snprintf(buf, size, "(None, %lld, %lld, %lld)", (long long)shape[0],
                 (long long)shape[1], (long long)shape[2]);
    else
        snprintf(buf, size, "(None, %lld)", (long long)shape[0]);
}

static void rt_commas(int64_t v, char *buf, size_t size)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", (long long)v);
    size_t n = strlen(raw), k = 0;
    for (size_t i = 0; i < n && k + 2 < size; i++) {
        buf[k++] = raw[i];
        if ((n - i - 1) % 3 == 0 && i + 1 < n)
            buf[k++] = ',';
    }
    buf[k] = 0;
}

/* The model whose node a model.layers entry is, for "Connected to". */
static const rt_layer *rt_entry_node(rt_model *m, int i, const rt_model **owner)
{
    rt_model *g = m->kind == RT_MODEL_COMPOSED ? m->parts[0] : m;
    *owner = g;
    if (i < g->n_order)
        return &g->nodes[g->order[i]];
    return NULL;
}

static int rt_sequential_like(rt_model *m)
{
    if (m->kind == RT_MODEL_SEQUENTIAL)
        return 1;
    rt_model *g = m->kind == RT_MODEL_COMPOSED ? m->parts[0] : m;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].n_inputs > 1)
            return 0;
    return 1;
}

static void rt_summary_entry(rt_text *t, rt_model *m, int i, int seq, const int *pos)
{
    rt_layer_info info = {0};
    rt_model_layer_get(m, i, &info);
    char name[160], shape[64], params[32], conn[96] = "";
    snprintf(name, sizeof name, "%s (%s)", info.name, info.class_name);
    rt_shape_str(info.ndim, info.shape, shape, sizeof shape);
    snprintf(params, sizeof params, "%lld", (long long)info.params);
    const rt_model *owner;
    const rt_layer *l = rt_entry_node(m, i, &owner);
    int n_in = l ? l->n_inputs : 1;
    for (int k = 0; k < (seq ? 1 : n_in); k++) {
        if (!seq) {
            const char *src = l ? owner->nodes[l->inputs[k]].name
                                : owner->nodes[owner->output].name;
            if (l && l->cfg.kind == RT_LAYER_INPUT)
                conn[0] = 0;
            else
                snprintf(conn, sizeof conn, "%s[0][0]", src);
        }
        const char *f0[4] = {name, shape, params, conn};
        const char *f1[4] = {"", "", "", conn};
        rt_summary_row(t, k == 0 ? f0 : f1, pos, seq ? 3 : 4);
    }
}

rt_status rt_model_summary(rt_model *m, char **text)
{
    *text = NULL;
    if (!m->built)
        return rt_error_set(RT_ERR_STATE, "model %s is not built yet: give its "
                            "first layer an input shape or use it in Model()",
                            m->name);
    int seq = rt_sequential_like(m);
    static const int pos3[3] = {29, 55, 65}, pos4[4] = {32, 53, 65, 98};
    const int *pos = seq ? pos3 : pos4;
    int width = seq ? 65 : 98;
    static const char *const head[4] = {"Layer (type)", "Output Shape", "Param #",
                                        "Connected to"};
    rt_text t = {0};
    rt_rule(&t, '_', width);
    rt_summary_row(&t, head, pos, seq ? 3 : 4);
    rt_rule(&t, '=', width);
    int n = rt_model_layer_count(m);
    for (int i = 0; i < n; i++) {
        rt_summary_entry(&t, m, i, seq, pos);
        rt_rule(&t, i == n - 1 ? '=' : '_', width);
    }
    int64_t total, trainable;
    char a[32], b[32], c[32];
    rt_model_param_counts(m, &total, &trainable);
    rt_commas(total, a, sizeof a);
    rt_commas(trainable, b, sizeof b);
    rt_commas(total - trainable, c, sizeof c);
    rt_text_add(&t, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n",
                a, b, c);
    rt_rule(&t, '_', width);
    if (t.failed || !t.buf) {
        free(t.buf);
        return rt_error_set(RT_ERR_NOMEM, "out of memory formatting the summary");
    }
    *text = t.buf;
    return RT_OK;
}
