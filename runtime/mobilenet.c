/*
 * MobileNet v1 without top, as keras_applications 1.0.7 builds it: a
 * stride-2 step pads ((0, 1), (0, 1)) with ZeroPadding2D and convolves
 * 'valid' (conv1_pad, conv_pad_N), stride-1 depthwise steps are 'same';
 * BatchNormalization has gamma; activations are ReLU(6.) layers. Keras
 * 2.0's file (conv1 'same', no pad layers) holds the same weights in the
 * same order, so it loads positionally.
 */
#include "applications.h"

#include <stdio.h>

static int rt_mn_add(rt_model *m, const rt_layer_config *c, const char *name, int x)
{
    int node;
    rt_model_node_add(m, c, name, &x, 1, &node); /* errors are sticky */
    return node;
}

static int rt_mn_pad(rt_model *m, int x, const char *name)
{
    rt_layer_config c = rt_layer_config_default(RT_LAYER_ZEROPAD2D);
    c.pad_bottom = c.pad_right = 1;
    return rt_mn_add(m, &c, name, x);
}

static int rt_mn_bn_relu6(rt_model *m, int x, const char *stem)
{
    char name[RT_NAME_MAX];
    rt_layer_config bn = rt_layer_config_default(RT_LAYER_BATCHNORM);
    snprintf(name, sizeof name, "%s_bn", stem);
    x = rt_mn_add(m, &bn, name, x);
    rt_layer_config act = rt_layer_config_default(RT_LAYER_ACTIVATION);
    act.activation = RT_ACT_RELU6;
    act.relu_layer = 1;
    snprintf(name, sizeof name, "%s_relu", stem);
    return rt_mn_add(m, &act, name, x);
}

static int rt_mn_conv(rt_model *m, int x, int filters, int k, int stride,
                      rt_padding pad, const char *name)
{
    rt_layer_config c = rt_layer_config_default(RT_LAYER_CONV2D);
    c.filters = filters;
    c.k_h = c.k_w = k;
    c.stride_h = c.stride_w = stride;
    c.padding = pad;
    c.use_bias = 0;
    return rt_mn_add(m, &c, name, x);
}

static int rt_mn_block(rt_model *m, int x, int filters, int stride, int id)
{
    char name[RT_NAME_MAX];
    if (stride == 2) {
        snprintf(name, sizeof name, "conv_pad_%d", id);
        x = rt_mn_pad(m, x, name);
    }
    rt_layer_config dw = rt_layer_config_default(RT_LAYER_DEPTHWISE_CONV2D);
    dw.k_h = dw.k_w = 3;
    dw.stride_h = dw.stride_w = stride;
    dw.padding = stride == 1 ? RT_PAD_SAME : RT_PAD_VALID;
    dw.use_bias = 0;
    snprintf(name, sizeof name, "conv_dw_%d", id);
    x = rt_mn_add(m, &dw, name, x);
    x = rt_mn_bn_relu6(m, x, name);
    snprintf(name, sizeof name, "conv_pw_%d", id);
    x = rt_mn_conv(m, x, filters, 1, 1, RT_PAD_SAME, name);
    return rt_mn_bn_relu6(m, x, name);
}

rt_status rt_mobilenet_new(rt_model **out, int h, int w, int c, float alpha)
{
    static const int filters[14] = {32, 64, 128, 128, 256, 256, 512,
                                    512, 512, 512, 512, 512, 1024, 1024};
    static const int strides[14] = {2, 1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};
    *out = NULL;
    if (alpha != 0.25f && alpha != 0.5f && alpha != 0.75f && alpha != 1.0f)
        return rt_error_set(RT_ERR_ARG, "MobileNet alpha must be 0.25, 0.5, 0.75 "
                            "or 1.0, got %g", (double)alpha);
    if (h < 32 || w < 32)
        return rt_error_set(RT_ERR_ARG, "MobileNet needs an input of at least "
                            "32 x 32, got %d x %d", h, w);
    char name[RT_NAME_MAX];
    snprintf(name, sizeof name, "mobilenet_%.2f_%d", (double)alpha, h);
    rt_model *m = NULL;
    rt_status st = rt_functional_new(&m, name, h, w, c);
    if (st != RT_OK)
        return st;
    int x = rt_mn_pad(m, 0, "conv1_pad");
    x = rt_mn_conv(m, x, (int)(filters[0] * alpha), 3, 2, RT_PAD_VALID, "conv1");
    x = rt_mn_bn_relu6(m, x, "conv1");
    for (int i = 1; i < 14; i++)
        x = rt_mn_block(m, x, (int)(filters[i] * alpha), strides[i], i);
    if ((st = rt_model_finish(m, x)) != RT_OK) {
        rt_model_release(m);
        return st;
    }
    *out = m;
    return RT_OK;
}
