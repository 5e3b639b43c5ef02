#include "optim.h"

#include <stdlib.h>

#include "backend.h"
#include "device.h"
#include "model_impl.h"

struct rt_optimizer {
    rt_optimizer_config cfg;
    const rt_backend *be;
    rt_device device;
    int64_t iterations;
    int64_t iterations_saved; /* at the last device checkpoint */
    rt_tensor *slot1; /* Adam m, SGD velocity: (total) or NULL */
    rt_tensor *slot2; /* Adam v: (total) or NULL */
};

rt_optimizer_config rt_optimizer_adam_defaults(void)
{
    rt_optimizer_config c = {RT_OPT_ADAM, 0.001f, 0.9f, 0.999f, 1e-7f, 0.0f,
                             0, 0.0f};
    return c;
}

rt_optimizer_config rt_optimizer_sgd_defaults(void)
{
    rt_optimizer_config c = {RT_OPT_SGD, 0.01f, 0.0f, 0.0f, 0.0f, 0.0f, 0,
                             0.0f};
    return c;
}

static rt_status rt_optimizer_check(const rt_optimizer_config *c)
{
    if (c->kind != RT_OPT_SGD && c->kind != RT_OPT_ADAM)
        return rt_error_set(RT_ERR_ARG, "unknown optimizer");
    if (!(c->lr >= 0.0f) || !(c->decay >= 0.0f))
        return rt_error_set(RT_ERR_ARG, "learning rate and decay must be "
                            "non-negative (lr=%g, decay=%g)", (double)c->lr,
                            (double)c->decay);
    if (c->kind == RT_OPT_ADAM
        && !(c->beta1 >= 0.0f && c->beta1 < 1.0f && c->beta2 >= 0.0f
             && c->beta2 < 1.0f && c->epsilon >= 0.0f))
        return rt_error_set(RT_ERR_ARG, "Adam needs 0 <= beta_1, beta_2 < 1 "
                            "and epsilon >= 0");
    if (c->kind == RT_OPT_SGD && !(c->momentum >= 0.0f))
        return rt_error_set(RT_ERR_ARG, "SGD momentum must be >= 0");
    return RT_OK;
}

rt_status rt_optimizer_new(rt_optimizer **out, const rt_optimizer_config *cfg,
                           rt_device dev)
{
    *out = NULL;
    rt_status st = rt_optimizer_check(cfg);
    if (st != RT_OK)
        return st;
    const rt_backend *be = rt_backend_get(dev);
    if (!be)
        return rt_error_set(RT_ERR_DEVICE, "no %s backend is available",
                            rt_device_name(dev));
    rt_optimizer *o = calloc(1, sizeof *o);
    if (!o)
        return rt_error_set(RT_ERR_NOMEM, "out of memory for an optimizer");
    o->cfg = *cfg;
    o->be = be;
    o->device = dev;
    *out = o;
    return RT_OK;
}

/* Slots follow their parameters: a session move carries both (they are
 * model storages); a slot found elsewhere is copied over. */
void rt_optimizer_device_set(rt_optimizer *o, rt_device dev)
{
    const rt_backend *be = rt_backend_get(dev);
    if (!be || (dev == o->device && be == o->be))
        return;
    rt_tensor **slots[2] = {&o->slot1, &o->slot2};
    for (int i = 0; i < 2; i++) {
        rt_tensor *t = *slots[i], *moved = NULL;
        if (!t || t->device == dev)
            continue;
        if (rt_tensor_to_device(&moved, t, dev) != RT_OK) {
            rt_optimizer_reset(o); /* state lost: restart from zero moments */
            break;
        }
        rt_tensor_set_kind(moved, RT_STORAGE_MODEL);
        rt_tensor_set_backup(moved, 1);
        rt_tensor_release(t);
        *slots[i] = moved;
    }
    o->be = be;
    o->device = dev;
}

void rt_optimizer_reset(rt_optimizer *o)
{
    if (!o)
        return;
    rt_tensor_release(o->slot1);
    rt_tensor_release(o->slot2);
    o->slot1 = o->slot2 = NULL;
    o->iterations = o->iterations_saved = 0;
}

void rt_optimizer_free(rt_optimizer *o)
{
    rt_optimizer_reset(o);
    free(o);
}

int64_t rt_optimizer_iterations(const rt_optimizer *o)
{
    return o->iterations;
}

void rt_optimizer_checkpoint(rt_optimizer *o)
{
    o->iterations_saved = o->iterations;
}

void rt_optimizer_rollback(rt_optimizer *o)
{
    o->iterations = o->iterations_saved;
}

const rt_optimizer_config *rt_optimizer_config_get(const rt_optimizer *o)
{
    return &o->cfg;
}

/* Allocate the slabs for `total` elements, or check they still fit. */
static rt_status rt_optimizer_slots(rt_optimizer *o, int64_t total)
{
    int nslots = o->cfg.kind == RT_OPT_ADAM ? 2
               : (o->cfg.momentum != 0.0f ? 1 : 0);
    if (nslots == 0)
        return RT_OK;
    if (o->slot1)
        return o->slot1->numel == total ? RT_OK
            : rt_error_set(RT_ERR_STATE, "the trainable weights changed "
                           "(%lld elements, was %lld): compile the model again",
                           (long long)total, (long long)o->slot1->numel);
    rt_status st = rt_tensor_new(&o->slot1, o->device, 1, &total);
    if (st == RT_OK && nslots == 2)
        st = rt_tensor_new(&o->slot2, o->device, 1, &total);
    if (st != RT_OK) {
        rt_optimizer_reset(o);
        return st;
    }
    rt_tensor *slots[2] = {o->slot1, o->slot2};
    for (int i = 0; i < nslots; i++) { /* model state, kept at checkpoints */
        rt_tensor_set_kind(slots[i], RT_STORAGE_MODEL);
        rt_tensor_set_backup(slots[i], 1);
    }
    return RT_OK;
}

rt_status rt_optimizer_step(rt_optimizer *o, const rt_param_ref *params,
                            int count)
{
    int64_t total = 0;
    for (int i = 0; i < count; i++) {
        if (params[i].n > (size_t)RT_MAX_NUMEL - (size_t)total)
            return rt_error_set(RT_ERR_SHAPE, "too many trainable weights");
        total += (int64_t)params[i].n;
    }
    rt_status st = rt_optimizer_slots(o, total);
    if (st != RT_OK)
        return st;
    const rt_optimizer_config *c = &o->cfg;
    float lr = c->lr;
    if (c->decay > 0.0f) /* Keras: lr * (1 / (1 + decay * iterations)) */
        lr = lr * (1.0f / (1.0f + c->decay * (float)o->iterations));
    float lr_t = c->kind == RT_OPT_ADAM
        ? rt_adam_lr_t(lr, c->beta1, c->beta2, o->iterations + 1) : lr;
    size_t off = 0;
    for (int i = 0; i < count && st == RT_OK; i++) {
        const rt_param_ref *p = &params[i];
        float *s1 = o->slot1 ? o->slot1->data + off : NULL;
        if (c->kind == RT_OPT_ADAM)
            st = o->be->adam_update(p->param, p->grad, s1,
                                    o->slot2->data + off, p->n, lr_t,
                                    c->beta1, c->beta2, c->epsilon);
        else
            st = o->be->sgd_update(p->param, p->grad, s1, p->n, lr,
                                   c->momentum, c->nesterov);
        off += p->n;
    }
    if (st == RT_OK)
        o->iterations++;
    return st;
}
