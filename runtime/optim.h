/*
 * optim.h - optimizer state: Adam and SGD (with momentum) as Keras 2.2.4
 * defines them (reference §4.7), stepping a list of parameter segments
 * through the backend's update ops.
 *
 * State is one slab per role (m, v or velocity) covering every trainable
 * element in segment order, allocated at the first step after creation or
 * reset (as Keras builds its updates at the first fit after compile).
 * compile() calls rt_optimizer_reset: iterations back to 0 and the slabs
 * dropped, so a re-compile restarts Adam at t = 1 with zero moments. A step
 * whose segments add up to a different size than the slabs is
 * RT_ERR_STATE: the trainable set changed without a re-compile.
 *
 * rt_optimizer_new returns an object the caller owns (rt_optimizer_free).
 * Segment pointers are borrowed for the duration of one step and live on
 * the optimizer's device.
 */
#ifndef HELLODL_OPTIM_H
#define HELLODL_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "rt_status.h"
#include "tensor.h"

typedef enum rt_optimizer_kind { RT_OPT_SGD = 0, RT_OPT_ADAM = 1 } rt_optimizer_kind;

typedef struct rt_optimizer_config {
    rt_optimizer_kind kind;
    float lr;                      /* Keras: Adam 0.001, SGD 0.01 */
    float beta1, beta2, epsilon;   /* Adam: 0.9, 0.999, 1e-7 (K.epsilon()) */
    float momentum;                /* SGD: 0 */
    int nesterov;                  /* SGD: false */
    float decay;                   /* lr / (1 + decay * iterations); 0 */
} rt_optimizer_config;

/* Keras 2.2.4's defaults for each optimizer. */
rt_optimizer_config rt_optimizer_adam_defaults(void);
rt_optimizer_config rt_optimizer_sgd_defaults(void);

typedef struct rt_param_ref {
    float *param;      /* (n) */
    const float *grad; /* (n) */
    size_t n;
} rt_param_ref;

typedef struct rt_optimizer rt_optimizer;

rt_status rt_optimizer_new(rt_optimizer **out, const rt_optimizer_config *cfg,
                           rt_device dev);
void rt_optimizer_free(rt_optimizer *o);
void rt_optimizer_reset(rt_optimizer *o);
/* One update of every segment, then iterations += 1. */
rt_status rt_optimizer_step(rt_optimizer *o, const rt_param_ref *params,
                            int count);
int64_t rt_optimizer_iterations(const rt_optimizer *o);

/* Device checkpoints (device.h): remember the iteration count that goes
 * with the host copies of the slabs just taken, and go back to it when
 * recovery restores those copies, so Adam's t matches its moments. A
 * reset forgets it: fresh slabs have no host copy and come back zero. */
void rt_optimizer_checkpoint(rt_optimizer *o);
void rt_optimizer_rollback(rt_optimizer *o);
const rt_optimizer_config *rt_optimizer_config_get(const rt_optimizer *o);

#endif
