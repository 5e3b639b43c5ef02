/* rt_module_top_new: the Hello World module's classifier top. */
#include "applications.h"

rt_status rt_module_top_new(rt_model **out, float dropout_rate)
{
    rt_model *top = NULL;
    rt_status st = rt_sequential_new(&top, NULL);
    rt_layer_config c = rt_layer_config_default(RT_LAYER_GLOBAL_AVGPOOL2D);
    if (st == RT_OK)
        st = rt_sequential_add(top, &c, NULL);
    c = rt_layer_config_default(RT_LAYER_DENSE);
    c.units = 256;
    c.activation = RT_ACT_RELU;
    if (st == RT_OK)
        st = rt_sequential_add(top, &c, NULL);
    c = rt_layer_config_default(RT_LAYER_DROPOUT);
    c.rate = dropout_rate;
    if (st == RT_OK && dropout_rate > 0.0f)
        st = rt_sequential_add(top, &c, NULL);
    c = rt_layer_config_default(RT_LAYER_DENSE);
    c.units = 1;
    c.activation = RT_ACT_SIGMOID;
    if (st == RT_OK)
        st = rt_sequential_add(top, &c, NULL);
    if (st != RT_OK) {
        rt_model_release(top);
        top = NULL;
    }
    *out = top;
    return st;
}
