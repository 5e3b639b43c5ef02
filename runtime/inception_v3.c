/*
 * InceptionV3 without top, built in keras_applications' creation order
 * (reference §1.2): the order of the conv2d_bn calls below fixes the
 * auto-names conv2d_N / batch_normalization_N / activation_N.
 */
#include "applications.h"

typedef struct rt_iv3 {
    rt_model *m;
} rt_iv3;

static int rt_iv3_add(rt_iv3 *b, const rt_layer_config *c, const char *name,
                      const int *in, int n)
{
    int node;
    rt_model_node_add(b->m, c, name, in, n, &node); /* errors are sticky */
    return node;
}

/* conv2d_bn: Conv2D (no bias) -> BatchNormalization(scale=False) -> ReLU. */
static int rt_conv_bn(rt_iv3 *b, int x, int filters, int kh, int kw, int stride,
                      rt_padding pad)
{
    rt_layer_config c = rt_layer_config_default(RT_LAYER_CONV2D);
    c.filters = filters;
    c.k_h = kh;
    c.k_w = kw;
    c.stride_h = c.stride_w = stride;
    c.padding = pad;
    c.use_bias = 0;
    x = rt_iv3_add(b, &c, NULL, &x, 1);
    rt_layer_config bn = rt_layer_config_default(RT_LAYER_BATCHNORM);
    bn.scale = 0;
    x = rt_iv3_add(b, &bn, NULL, &x, 1);
    rt_layer_config act = rt_layer_config_default(RT_LAYER_ACTIVATION);
    act.activation = RT_ACT_RELU;
    return rt_iv3_add(b, &act, NULL, &x, 1);
}

static int rt_same(rt_iv3 *b, int x, int f, int kh, int kw)
{
    return rt_conv_bn(b, x, f, kh, kw, 1, RT_PAD_SAME);
}

static int rt_pool(rt_iv3 *b, int x, rt_layer_kind kind)
{
    rt_layer_config c = rt_layer_config_default(kind);
    c.k_h = c.k_w = 3;
    c.stride_h = c.stride_w = kind == RT_LAYER_MAXPOOL2D ? 2 : 1;
    c.padding = kind == RT_LAYER_MAXPOOL2D ? RT_PAD_VALID : RT_PAD_SAME;
    return rt_iv3_add(b, &c, NULL, &x, 1);
}

static int rt_concat(rt_iv3 *b, const int *in, int n, const char *name)
{
    rt_layer_config c = rt_layer_config_default(RT_LAYER_CONCATENATE);
    return rt_iv3_add(b, &c, name, in, n);
}

/* mixed0..2: 1x1 | 1x1, 5x5 | 1x1, 3x3, 3x3 | avgpool, 1x1 (pool_f). */
static int rt_block_a(rt_iv3 *b, int x, int pool_f, const char *name)
{
    int br[4];
    br[0] = rt_same(b, x, 64, 1, 1);
    br[1] = rt_same(b, rt_same(b, x, 48, 1, 1), 64, 5, 5);
    br[2] = rt_same(b, rt_same(b, rt_same(b, x, 64, 1, 1), 96, 3, 3), 96, 3, 3);
    br[3] = rt_same(b, rt_pool(b, x, RT_LAYER_AVGPOOL2D), pool_f, 1, 1);
    return rt_concat(b, br, 4, name);
}

/* mixed4..7: 1x1 | 1x1, 1x7, 7x1 | 1x1, 7x1, 1x7, 7x1, 1x7 | pool, 1x1. */
static int rt_block_c(rt_iv3 *b, int x, int c, const char *name)
{
    int br[4];
    br[0] = rt_same(b, x, 192, 1, 1);
    int t = rt_same(b, x, c, 1, 1);
    t = rt_same(b, t, c, 1, 7);
    br[1] = rt_same(b, t, 192, 7, 1);
    t = rt_same(b, x, c, 1, 1);
    t = rt_same(b, t, c, 7, 1);
    t = rt_same(b, t, c, 1, 7);
    t = rt_same(b, t, c, 7, 1);
    br[2] = rt_same(b, t, 192, 1, 7);
    br[3] = rt_same(b, rt_pool(b, x, RT_LAYER_AVGPOOL2D), 192, 1, 1);
    return rt_concat(b, br, 4, name);
}

/* mixed9, mixed10: the split 1x3 / 3x1 branches. */
static int rt_block_e(rt_iv3 *b, int x, int i)
{
    static const char *const inner[2] = {"mixed9_0", "mixed9_1"};
    static const char *const outer[2] = {"mixed9", "mixed10"};
    int br[4], two[2];
    br[0] = rt_same(b, x, 320, 1, 1);
    int t = rt_same(b, x, 384, 1, 1);
    two[0] = rt_same(b, t, 384, 1, 3);
    two[1] = rt_same(b, t, 384, 3, 1);
    br[1] = rt_concat(b, two, 2, inner[i]);
    t = rt_same(b, x, 448, 1, 1);
    t = rt_same(b, t, 384, 3, 3);
    two[0] = rt_same(b, t, 384, 1, 3);
    two[1] = rt_same(b, t, 384, 3, 1);
    br[2] = rt_concat(b, two, 2, NULL);
    br[3] = rt_same(b, rt_pool(b, x, RT_LAYER_AVGPOOL2D), 192, 1, 1);
    return rt_concat(b, br, 4, outer[i]);
}

static int rt_iv3_stem(rt_iv3 *b, int x)
{
    x = rt_conv_bn(b, x, 32, 3, 3, 2, RT_PAD_VALID);
    x = rt_conv_bn(b, x, 32, 3, 3, 1, RT_PAD_VALID);
    x = rt_same(b, x, 64, 3, 3);
    x = rt_pool(b, x, RT_LAYER_MAXPOOL2D);
    x = rt_conv_bn(b, x, 80, 1, 1, 1, RT_PAD_VALID);
    x = rt_conv_bn(b, x, 192, 3, 3, 1, RT_PAD_VALID);
    return rt_pool(b, x, RT_LAYER_MAXPOOL2D);
}

static int rt_iv3_reductions(rt_iv3 *b, int x)
{
    int br[3];
    /* mixed3 */
    br[0] = rt_conv_bn(b, x, 384, 3, 3, 2, RT_PAD_VALID);
    int t = rt_same(b, rt_same(b, x, 64, 1, 1), 96, 3, 3);
    br[1] = rt_conv_bn(b, t, 96, 3, 3, 2, RT_PAD_VALID);
    br[2] = rt_pool(b, x, RT_LAYER_MAXPOOL2D);
    x = rt_concat(b, br, 3, "mixed3");
    x = rt_block_c(b, x, 128, "mixed4");
    x = rt_block_c(b, x, 160, "mixed5");
    x = rt_block_c(b, x, 160, "mixed6");
    x = rt_block_c(b, x, 192, "mixed7");
    /* mixed8 */
    br[0] = rt_conv_bn(b, rt_same(b, x, 192, 1, 1), 320, 3, 3, 2, RT_PAD_VALID);
    t = rt_same(b, x, 192, 1, 1);
    t = rt_same(b, t, 192, 1, 7);
    t = rt_same(b, t, 192, 7, 1);
    br[1] = rt_conv_bn(b, t, 192, 3, 3, 2, RT_PAD_VALID);
    br[2] = rt_pool(b, x, RT_LAYER_MAXPOOL2D);
    return rt_concat(b, br, 3, "mixed8");
}

rt_status rt_inception_v3_new(rt_model **out, int h, int w, int c)
{
    *out = NULL;
    if (h < 75 || w < 75)
        return rt_error_set(RT_ERR_ARG, "InceptionV3 needs an input of at least "
                            "75 x 75, got %d x %d", h, w);
    if (c != 3)
        return rt_error_set(RT_ERR_ARG, "InceptionV3 needs 3 input channels, "
                            "got %d", c);
    rt_iv3 b = {NULL};
    rt_status st = rt_functional_new(&b.m, "inception_v3", h, w, c);
    if (st != RT_OK)
        return st;
    int x = rt_iv3_stem(&b, 0);
    x = rt_block_a(&b, x, 32, "mixed0");
    x = rt_block_a(&b, x, 64, "mixed1");
    x = rt_block_a(&b, x, 64, "mixed2");
    x = rt_iv3_reductions(&b, x);
    x = rt_block_e(&b, x, 0);
    x = rt_block_e(&b, x, 1);
    if ((st = rt_model_finish(b.m, x)) != RT_OK) {
        rt_model_release(b.m);
        return st;
    }
    *out = b.m;
    return RT_OK;
}
