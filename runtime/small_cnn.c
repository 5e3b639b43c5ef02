/* A small CNN for training from scratch (applications.h). */
#include "applications.h"

static rt_status rt_cnn_blocks(rt_model *m, int blocks, int base_filters)
{
    rt_status st = RT_OK;
    for (int i = 0; i < blocks && st == RT_OK; i++) {
        rt_layer_config c = rt_layer_config_default(RT_LAYER_CONV2D);
        c.filters = base_filters << i;
        c.k_h = c.k_w = 3;
        c.padding = RT_PAD_SAME;
        c.activation = RT_ACT_RELU;
        st = rt_sequential_add(m, &c, NULL);
        if (st == RT_OK) {
            rt_layer_config p = rt_layer_config_default(RT_LAYER_MAXPOOL2D);
            st = rt_sequential_add(m, &p, NULL);
        }
    }
    return st;
}

static rt_status rt_cnn_head(rt_model *m, int dense_units, int outputs)
{
    rt_layer_config f = rt_layer_config_default(RT_LAYER_FLATTEN);
    rt_status st = rt_sequential_add(m, &f, NULL);
    rt_layer_config d = rt_layer_config_default(RT_LAYER_DENSE);
    d.units = dense_units;
    d.activation = RT_ACT_RELU;
    if (st == RT_OK)
        st = rt_sequential_add(m, &d, NULL);
    rt_layer_config drop = rt_layer_config_default(RT_LAYER_DROPOUT);
    drop.rate = 0.5f;
    if (st == RT_OK)
        st = rt_sequential_add(m, &drop, NULL);
    d.units = outputs;
    d.activation = outputs == 1 ? RT_ACT_SIGMOID : RT_ACT_SOFTMAX;
    if (st == RT_OK)
        st = rt_sequential_add(m, &d, NULL);
    return st;
}

rt_status rt_small_cnn_new(rt_model **out, int h, int w, int c, int blocks,
                           int base_filters, int dense_units, int outputs)
{
    *out = NULL;
    if (blocks < 1 || blocks > 6 || base_filters < 1 || dense_units < 1 || outputs < 1)
        return rt_error_set(RT_ERR_ARG, "small CNN: need 1..6 blocks and positive "
                            "filters, dense units and outputs");
    if ((h >> blocks) < 1 || (w >> blocks) < 1)
        return rt_error_set(RT_ERR_ARG, "small CNN: a %d x %d input is too small "
                            "for %d pooling blocks", h, w, blocks);
    rt_model *m = NULL;
    rt_status st = rt_sequential_new(&m, NULL);
    if (st != RT_OK)
        return st;
    int64_t shape[3] = {h, w, c};
    st = rt_sequential_input_set(m, 3, shape);
    if (st == RT_OK)
        st = rt_cnn_blocks(m, blocks, base_filters);
    if (st == RT_OK)
        st = rt_cnn_head(m, dense_units, outputs);
    if (st != RT_OK) {
        rt_model_release(m);
        return st;
    }
    *out = m;
    return RT_OK;
}
