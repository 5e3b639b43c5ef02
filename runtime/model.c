/* Models: nodes, Keras names and layer order, parameter slabs. */
#include "model_impl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"

/* ---- Keras' per-class auto-name counters (one session per process) ---- */

#define RT_NAME_STEMS 24
static struct {
    char stem[32];
    int count;
} rt_name_counters[RT_NAME_STEMS];
static uint64_t rt_default_seed = 0;

void rt_names_reset(void)
{
    memset(rt_name_counters, 0, sizeof rt_name_counters);
}

/* "conv2d" -> "conv2d_<n>", n counting from 1 per stem. */
static void rt_name_auto(const char *stem, char *out, size_t size)
{
    int i;
    for (i = 0; i < RT_NAME_STEMS && rt_name_counters[i].stem[0]; i++)
        if (strcmp(rt_name_counters[i].stem, stem) == 0)
            break;
    if (i == RT_NAME_STEMS)
        i = RT_NAME_STEMS - 1; /* cannot happen: fewer stems than slots */
    if (!rt_name_counters[i].stem[0])
        snprintf(rt_name_counters[i].stem, sizeof rt_name_counters[i].stem, "%s", stem);
    snprintf(out, size, "%s_%d", stem, ++rt_name_counters[i].count);
}

void rt_seed_default_set(uint64_t seed) { rt_default_seed = seed; }
uint64_t rt_seed_default(void) { return rt_default_seed; }

/* ---- every live model, for the counters kept with checkpoints ---- */

static pthread_mutex_t rt_live_lock = PTHREAD_MUTEX_INITIALIZER;
static rt_model *rt_live; /* newest first, through live_next */

static void rt_live_link(rt_model *m)
{
    pthread_mutex_lock(&rt_live_lock);
    m->live_next = rt_live;
    if (rt_live)
        rt_live->live_prev = m;
    rt_live = m;
    pthread_mutex_unlock(&rt_live_lock);
}

static void rt_live_unlink(rt_model *m)
{
    pthread_mutex_lock(&rt_live_lock);
    if (m->live_prev)
        m->live_prev->live_next = m->live_next;
    else
        rt_live = m->live_next;
    if (m->live_next)
        m->live_next->live_prev = m->live_prev;
    pthread_mutex_unlock(&rt_live_lock);
}

void rt_models_checkpoint(void)
{
    pthread_mutex_lock(&rt_live_lock);
    for (rt_model *m = rt_live; m; m = m->live_next) {
        m->train_steps_saved = m->train_steps;
        for (int i = 0; i < m->n_nodes; i++)
            m->nodes[i].bn_steps_saved = m->nodes[i].bn_steps;
        if (m->opt)
            rt_optimizer_checkpoint(m->opt);
    }
    pthread_mutex_unlock(&rt_live_lock);
}

void rt_models_rollback(rt_device dev)
{
    pthread_mutex_lock(&rt_live_lock);
    for (rt_model *m = rt_live; m; m = m->live_next) {
        if (rt_model_device_get(m) != dev)
            continue;
        m->train_steps = m->train_steps_saved;
        for (int i = 0; i < m->n_nodes; i++)
            m->nodes[i].bn_steps = m->nodes[i].bn_steps_saved;
        if (m->opt)
            rt_optimizer_rollback(m->opt);
    }
    pthread_mutex_unlock(&rt_live_lock);
}

/* ---- construction ---- */

static rt_status rt_model_alloc(rt_model **out, rt_model_kind kind, const char *name,
                                const char *stem)
{
    rt_model *m = calloc(1, sizeof *m);
    if (!m)
        return rt_error_set(RT_ERR_NOMEM, "out of memory creating a model");
    m->kind = kind;
    m->refcount = 1;
    m->trainable = 1;
    m->seed = rt_default_seed;
    m->bn_mode = RT_BN_TF2;
    if (name && *name)
        snprintf(m->name, sizeof m->name, "%s", name);
    else
        rt_name_auto(stem, m->name, sizeof m->name);
    rt_live_link(m);
    *out = m;
    return RT_OK;
}

static rt_status rt_model_grow(rt_model *m)
{
    if (m->n_nodes < m->cap)
        return RT_OK;
    int cap = m->cap ? m->cap * 2 : 16;
    rt_layer *n = realloc(m->nodes, (size_t)cap * sizeof *n);
    if (!n)
        return rt_error_set(RT_ERR_NOMEM, "out of memory adding a layer");
    m->nodes = n;
    m->cap = cap;
    return RT_OK;
}

/* Append a node without checks beyond memory; returns its index. */
static rt_status rt_model_push(rt_model *m, const rt_layer_config *cfg, const char *name,
                               const int *inputs, int n_inputs, int *node)
{
    rt_status st = rt_model_grow(m);
    if (st != RT_OK)
        return st;
    rt_layer *l = &m->nodes[m->n_nodes];
    memset(l, 0, sizeof *l);
    l->cfg = *cfg;
    l->trainable = 1;
    l->n_inputs = n_inputs;
    for (int i = 0; i < n_inputs; i++)
        l->inputs[i] = inputs[i];
    if (name && *name)
        snprintf(l->name, sizeof l->name, "%s", name);
    else
        rt_name_auto(rt_layer_name_stem(cfg->kind), l->name, sizeof l->name);
    *node = m->n_nodes++;
    return RT_OK;
}

rt_status rt_functional_new(rt_model **out, const char *name, int h, int w, int c)
{
    if (h <= 0 || w <= 0 || c <= 0)
        return rt_error_set(RT_ERR_ARG, "input shape must be positive, got "
                            "(%d, %d, %d)", h, w, c);
    rt_model *m = NULL;
    rt_status st = rt_model_alloc(&m, RT_MODEL_FUNCTIONAL, name, "model");
    if (st != RT_OK)
        return st;
    rt_layer_config in = rt_layer_config_default(RT_LAYER_INPUT);
    int node;
    if ((st = rt_model_push(m, &in, NULL, NULL, 0, &node)) != RT_OK) {
        rt_model_release(m);
        return st;
    }
    rt_layer *l = &m->nodes[0];
    l->ndim = 3;
    l->shape[0] = h;
    l->shape[1] = w;
    l->shape[2] = c;
    *out = m;
    return RT_OK;
}

rt_status rt_model_node_add(rt_model *m, const rt_layer_config *cfg, const char *name,
                            const int *inputs, int n_inputs, int *node)
{
    *node = -1;
    if (m->sticky != RT_OK)
        return m->sticky;
    if (m->built)
        return rt_error_set(RT_ERR_STATE, "model %s is already built", m->name);
    if (n_inputs < 1 || n_inputs > RT_LAYER_MAX_INPUTS
        || (n_inputs > 1 && cfg->kind != RT_LAYER_CONCATENATE))
        return m->sticky = rt_error_set(RT_ERR_ARG, "a %s layer takes one input",
                                        rt_layer_class_name(cfg));
    for (int i = 0; i < n_inputs; i++)
        if (inputs[i] < 0 || inputs[i] >= m->n_nodes)
            return m->sticky = rt_error_set(RT_ERR_ARG, "layer input %d is not "
                                            "a node of model %s", inputs[i], m->name);
    rt_status st = rt_model_push(m, cfg, name, inputs, n_inputs, node);
    return st != RT_OK ? (m->sticky = st) : RT_OK;
}

/* Keras' model.layers order (reference §1.5): decreasing longest distance
 * to the output, ties by first visit of a depth-first walk from the output
 * that takes each node's inputs in their listed order. */
static void rt_order_visit(const rt_model *m, int v, int *visit, int *counter)
{
    if (visit[v] >= 0)
        return;
    visit[v] = (*counter)++;
    for (int i = 0; i < m->nodes[v].n_inputs; i++)
        rt_order_visit(m, m->nodes[v].inputs[i], visit, counter);
}

static const rt_model *rt_order_ctx;
static const int *rt_order_depth, *rt_order_visit_ix;

static int rt_order_cmp(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    if (rt_order_depth[x] != rt_order_depth[y])
        return rt_order_depth[y] - rt_order_depth[x];
    return rt_order_visit_ix[x] - rt_order_visit_ix[y];
}

static rt_status rt_model_order_compute(rt_model *m)
{
    int n = m->n_nodes, counter = 0;
    int *depth = malloc(sizeof(int) * (size_t)n), *visit = malloc(sizeof(int) * (size_t)n);
    free(m->order);
    m->order = malloc(sizeof(int) * (size_t)n);
    if (!depth || !visit || !m->order) {
        free(depth);
        free(visit);
        return rt_error_set(RT_ERR_NOMEM, "out of memory ordering layers");
    }
    for (int i = 0; i < n; i++)
        depth[i] = visit[i] = -1;
    depth[m->output] = 0;
    for (int i = n - 1; i >= 0; i--) /* creation order is topological */
        for (int k = 0; depth[i] >= 0 && k < m->nodes[i].n_inputs; k++) {
            int j = m->nodes[i].inputs[k];
            if (depth[j] < depth[i] + 1)
                depth[j] = depth[i] + 1;
        }
    rt_order_visit(m, m->output, visit, &counter);
    m->n_order = 0;
    int first = m->kind == RT_MODEL_SEQUENTIAL ? 1 : 0; /* hidden input */
    for (int i = first; i < n; i++)
        if (visit[i] >= 0)
            m->order[m->n_order++] = i;
    rt_order_ctx = m;
    rt_order_depth = depth;
    rt_order_visit_ix = visit;
    qsort(m->order, (size_t)m->n_order, sizeof(int), rt_order_cmp);
    free(depth);
    free(visit);
    return RT_OK;
}

/* The slab's values on the host, (total) in *out: an earlier build's
 * prefix kept (a Sequential that grew), Keras' initial values for the
 * rest. */
static rt_status rt_slab_values(rt_model *m, int64_t total, int64_t old_total,
                                rt_tensor **out)
{
    int64_t dim = total > 0 ? total : 1;
    rt_tensor *host = NULL, *old = NULL;
    rt_status st = rt_tensor_new(&host, RT_DEVICE_CPU, 1, &dim);
    if (st == RT_OK && m->params)
        st = rt_tensor_on_device(&old, m->params, RT_DEVICE_CPU);
    if (st != RT_OK) {
        rt_tensor_release(host);
        return st;
    }
    rt_rng rng;
    rt_rng_seed(&rng, m->seed ^ 0x9e3779b97f4a7c15ull);
    for (int i = 1; i < m->n_nodes; i++) {
        rt_layer *l = &m->nodes[i];
        int keep = l->n_weights && l->w[l->n_weights - 1].offset
                   + l->w[l->n_weights - 1].numel <= old_total && old;
        if (keep)
            memcpy(host->data + l->w[0].offset, old->data + l->w[0].offset,
                   sizeof(float) * (size_t)rt_layer_param_count(l));
        else
            rt_layer_weights_init(l, host->data, &rng);
    }
    rt_tensor_release(old);
    *out = host;
    return RT_OK;
}

/* Shapes, offsets and a slab. Values are drawn on the host: into the slab
 * itself on the CPU, into a copy then uploaded on a GPU. A rebuild stays
 * on the model's device; a first build goes to the session's. */
static rt_status rt_model_slab_build(rt_model *m)
{
    int64_t total = 0, old_total = m->n_params;
    for (int i = 1; i < m->n_nodes; i++) {
        rt_layer *l = &m->nodes[i];
        const rt_layer *ins[RT_LAYER_MAX_INPUTS];
        for (int k = 0; k < l->n_inputs; k++)
            ins[k] = &m->nodes[l->inputs[k]];
        rt_status st = rt_layer_infer(l, ins);
        if (st != RT_OK)
            return st;
        for (int k = 0; k < l->n_weights; k++) {
            l->w[k].offset = total;
            total += l->w[k].numel;
        }
    }
    rt_device dev = m->params ? m->params->device : rt_session_device();
    rt_tensor *host = NULL, *slab = NULL;
    rt_status st = rt_slab_values(m, total, old_total, &host);
    if (st != RT_OK)
        return st;
    st = rt_tensor_on_device(&slab, host, dev);
    rt_tensor_release(host);
    if (st != RT_OK)
        return st;
    rt_model_slab_tag(slab, 1);
    rt_tensor_release(m->params);
    rt_tensor_release(m->grads);
    m->grads = NULL;
    m->params = slab;
    m->n_params = total;
    rt_device_touch();
    return RT_OK;
}

rt_status rt_model_finish(rt_model *m, int output)
{
    if (m->sticky != RT_OK)
        return rt_error_set(m->sticky, "building %s failed: %s", m->name,
                            rt_error_message());
    if (output <= 0 || output >= m->n_nodes)
        return rt_error_set(RT_ERR_ARG, "model %s has no output layer", m->name);
    m->output = output;
    rt_status st = rt_model_slab_build(m);
    if (st == RT_OK)
        st = rt_model_order_compute(m);
    m->built = st == RT_OK;
    return st;
}

rt_status rt_sequential_new(rt_model **out, const char *name)
{
    rt_model *m = NULL;
    rt_status st = rt_model_alloc(&m, RT_MODEL_SEQUENTIAL, name, "sequential");
    if (st != RT_OK)
        return st;
    rt_layer_config in = rt_layer_config_default(RT_LAYER_INPUT);
    int node;
    if ((st = rt_model_push(m, &in, "input", NULL, 0, &node)) != RT_OK) {
        rt_model_release(m);
        return st;
    }
    *out = m;
    return RT_OK;
}

rt_status rt_sequential_add(rt_model *m, const rt_layer_config *cfg, const char *name)
{
    if (m->kind != RT_MODEL_SEQUENTIAL)
        return rt_error_set(RT_ERR_ARG, "add() needs a Sequential model; %s is not",
                            m->name);
    if (cfg->kind == RT_LAYER_INPUT || cfg->kind == RT_LAYER_CONCATENATE)
        return rt_error_set(RT_ERR_ARG, "a Sequential model cannot hold a %s layer",
                            rt_layer_class_name(cfg));
    int prev = m->n_nodes - 1, node;
    rt_status st = rt_model_push(m, cfg, name, &prev, 1, &node);
    if (st != RT_OK)
        return st;
    if (node == 1)
        snprintf(m->nodes[0].name, sizeof m->nodes[0].name, "%.56s_input",
                 m->nodes[1].name);
    if (m->built || m->nodes[0].ndim) {
        m->built = 0;
        st = rt_model_build(m, 0, NULL);
        if (st != RT_OK) { /* keep the model as it was */
            m->n_nodes--;
            rt_status st2 = m->n_nodes > 1 ? rt_model_build(m, 0, NULL) : RT_OK;
            (void)st2;
            return st;
        }
    }
    return RT_OK;
}

rt_status rt_sequential_input_set(rt_model *m, int ndim, const int64_t *shape)
{
    if (ndim != 1 && ndim != 3)
        return rt_error_set(RT_ERR_ARG, "input_shape must be (h, w, c) or (n)");
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0)
            return rt_error_set(RT_ERR_ARG, "input_shape must be positive");
    rt_layer *in = &m->nodes[0];
    in->ndim = ndim;
    for (int i = 0; i < 3; i++)
        in->shape[i] = i < ndim ? shape[i] : 1;
    return RT_OK;
}

rt_status rt_model_build(rt_model *m, int ndim, const int64_t *shape)
{
    if (m->kind == RT_MODEL_COMPOSED)
        return RT_OK;
    if (ndim) {
        if (m->built) {
            int same = m->nodes[0].ndim == ndim;
            for (int i = 0; same && i < ndim; i++)
                same = m->nodes[0].shape[i] == shape[i];
            if (same)
                return RT_OK;
            if (m->kind != RT_MODEL_SEQUENTIAL)
                return rt_error_set(RT_ERR_SHAPE, "model %s was built for another "
                                    "input shape", m->name);
        }
        rt_status st = rt_sequential_input_set(m, ndim, shape);
        if (st != RT_OK)
            return st;
    } else if (m->built) {
        return RT_OK;
    }
    if (!m->nodes[0].ndim)
        return rt_error_set(RT_ERR_STATE, "model %s has no input shape yet", m->name);
    if (m->n_nodes < 2)
        return rt_error_set(RT_ERR_STATE, "model %s has no layers", m->name);
    return rt_model_finish(m, m->n_nodes - 1);
}

rt_status rt_composed_new(rt_model **out, rt_model *backbone, rt_model *top)
{
    *out = NULL;
    if (backbone->kind == RT_MODEL_COMPOSED || top->kind == RT_MODEL_COMPOSED)
        return rt_error_set(RT_ERR_ARG, "Model(backbone, top) takes two plain models");
    if (!backbone->built)
        return rt_error_set(RT_ERR_STATE, "the backbone %s has no input shape yet",
                            backbone->name);
    int ndim;
    int64_t shape[3];
    rt_model_output_shape(backbone, &ndim, shape);
    rt_status st = rt_model_build(top, ndim, shape);
    if (st != RT_OK)
        return rt_error_set(st, "the top %s does not fit the backbone's output: %s",
                            top->name, rt_error_message());
    /* All parts on one device: they can differ only if a move left some
     * behind; then the session's device takes them all. */
    if (rt_model_device_get(backbone) != rt_model_device_get(top)
        && (st = rt_device_select(rt_session_device(), 1u << RT_STORAGE_MODEL,
                                  NULL)) != RT_OK)
        return rt_error_set(st, "the backbone %s and the top %s are on different "
                            "devices and could not be brought together: %s",
                            backbone->name, top->name, rt_error_message());
    rt_model *m = NULL;
    if ((st = rt_model_alloc(&m, RT_MODEL_COMPOSED, NULL, "model")) != RT_OK)
        return st;
    m->parts[0] = rt_model_retain(backbone);
    m->parts[1] = rt_model_retain(top);
    m->bn_mode = backbone->bn_mode;
    m->built = 1;
    *out = m;
    return RT_OK;
}

rt_model *rt_model_retain(rt_model *m)
{
    if (m)
        m->refcount++;
    return m;
}

void rt_model_release(rt_model *m)
{
    if (!m || --m->refcount > 0)
        return;
    rt_live_unlink(m);
    rt_model_release(m->parts[0]);
    rt_model_release(m->parts[1]);
    rt_tensor_release(m->params);
    rt_tensor_release(m->grads);
    rt_tensor_release(m->bn_acc);
    free(m->bn_acc_off);
    free(m->weight_host);
    rt_model_train_free(m);
    free(m->nodes);
    free(m->order);
    free(m);
}
