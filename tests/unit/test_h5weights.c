/*
 * test_h5weights.c - Keras weights files:
 *  - a file with the exact layout of Keras' InceptionV3 notop weights
 *    (reference section 1 and 2), generated here in a temporary folder:
 *    the graph as keras_applications builds it, ordered by Keras' rule
 *    (longest path to the output, ties by first reach), whose 188 weighted
 *    layers must equal the reference's list; 311 layers, 376 tensors,
 *    21,802,784 parameters; positional matching, and the error a
 *    creation-order match runs into;
 *  - the real MobileNet 0.25 file when HELLODL_DATA_PATH has it (83 layer
 *    entries, 135 tensors, 218,544 parameters) against the architecture;
 *  - round trips, Keras' split attributes, and every error.
 * Exits 77 after the other checks pass when the MobileNet file is absent.
 */
#include "check.h"
#include "iv3_reference.h"
#include "h5weights.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmp_dir[256];

static void tmp_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmp_dir, name);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static rt_h5_shape shp(int nd, int64_t a, int64_t b, int64_t c, int64_t d)
{
    rt_h5_shape s = {nd, {a, b, c, d}};
    return s;
}

/* ---- InceptionV3 (include_top=False) as keras_applications builds it ---- */

enum { K_INPUT, K_CONV, K_BN, K_ACT, K_MAX, K_AVG, K_CAT };

typedef struct gnode {
    char name[40];
    int kind, n_in, in[4];
    int n;        /* conv2d_n / batch_normalization_n */
    int kh, kw, cin, cout;
} gnode;

static gnode g[320];
static int ng, n_conv, n_max, n_avg, n_cat;

static int node_add(int kind, const char *name, int n_in, const int *in)
{
    gnode *x = &g[ng];
    memset(x, 0, sizeof *x);
    x->kind = kind;
    snprintf(x->name, sizeof x->name, "%s", name);
    x->n_in = n_in;
    for (int i = 0; i < n_in; i++)
        x->in[i] = in[i];
    return ng++;
}

static int conv_bn(int x, int cin, int cout, int kh, int kw)
{
    char name[40];
    int n = ++n_conv;
    snprintf(name, sizeof name, "conv2d_%d", n);
    int c = node_add(K_CONV, name, 1, &x);
    g[c].n = n, g[c].kh = kh, g[c].kw = kw, g[c].cin = cin, g[c].cout = cout;
    snprintf(name, sizeof name, "batch_normalization_%d", n);
    int b = node_add(K_BN, name, 1, &c);
    g[b].n = n, g[b].cout = cout;
    snprintf(name, sizeof name, "activation_%d", n);
    return node_add(K_ACT, name, 1, &b);
}

static int pool(int kind, int x)
{
    char name[40];
    if (kind == K_MAX)
        snprintf(name, sizeof name, "max_pooling2d_%d", ++n_max);
    else
        snprintf(name, sizeof name, "average_pooling2d_%d", ++n_avg);
    return node_add(kind, name, 1, &x);
}

static int concat(const char *name, int n, int a, int b, int c, int d)
{
    int in[4] = {a, b, c, d};
    char auto_name[40];
    if (!name) {
        snprintf(auto_name, sizeof auto_name, "concatenate_%d", ++n_cat);
        name = auto_name;
    }
    return node_add(K_CAT, name, n, in);
}

static void inception_build(void)
{
    char name[40];
    ng = n_conv = n_max = n_avg = n_cat = 0;
    int x = node_add(K_INPUT, "input_1", 0, NULL);
    x = conv_bn(x, 3, 32, 3, 3);
    x = conv_bn(x, 32, 32, 3, 3);
    x = conv_bn(x, 32, 64, 3, 3);
    x = pool(K_MAX, x);
    x = conv_bn(x, 64, 80, 1, 1);
    x = conv_bn(x, 80, 192, 3, 3);
    x = pool(K_MAX, x);
    int c = 192;
    for (int i = 0; i < 3; i++) { /* mixed0..2 */
        int po = i == 0 ? 32 : 64;
        int b1 = conv_bn(x, c, 64, 1, 1);
        int b5 = conv_bn(conv_bn(x, c, 48, 1, 1), 48, 64, 5, 5);
        int b3 = conv_bn(conv_bn(conv_bn(x, c, 64, 1, 1), 64, 96, 3, 3), 96, 96, 3, 3);
        int bp = conv_bn(pool(K_AVG, x), c, po, 1, 1);
        snprintf(name, sizeof name, "mixed%d", i);
        x = concat(name, 4, b1, b5, b3, bp);
        c = 64 + 64 + 96 + po;
    }
    int b3 = conv_bn(x, c, 384, 3, 3); /* mixed3 */
    int bd = conv_bn(conv_bn(conv_bn(x, c, 64, 1, 1), 64, 96, 3, 3), 96, 96, 3, 3);
    x = concat("mixed3", 3, b3, bd, pool(K_MAX, x), 0);
    c = 768;
    const int cc[4] = {128, 160, 160, 192};
    for (int i = 0; i < 4; i++) { /* mixed4..7 */
        int k = cc[i];
        int b1 = conv_bn(x, c, 192, 1, 1);
        int b7 = conv_bn(conv_bn(conv_bn(x, c, k, 1, 1), k, k, 1, 7), k, 192, 7, 1);
        int d = conv_bn(conv_bn(x, c, k, 1, 1), k, k, 7, 1);
        d = conv_bn(conv_bn(conv_bn(d, k, k, 1, 7), k, k, 7, 1), k, 192, 1, 7);
        int bp = conv_bn(pool(K_AVG, x), c, 192, 1, 1);
        snprintf(name, sizeof name, "mixed%d", 4 + i);
        x = concat(name, 4, b1, b7, d, bp);
    }
    b3 = conv_bn(conv_bn(x, c, 192, 1, 1), 192, 320, 3, 3); /* mixed8 */
    int b7 = conv_bn(conv_bn(x, c, 192, 1, 1), 192, 192, 1, 7);
    b7 = conv_bn(conv_bn(b7, 192, 192, 7, 1), 192, 192, 3, 3);
    x = concat("mixed8", 3, b3, b7, pool(K_MAX, x), 0);
    c = 1280;
    for (int i = 0; i < 2; i++) { /* mixed9, mixed10 */
        int b1 = conv_bn(x, c, 320, 1, 1);
        int t = conv_bn(x, c, 384, 1, 1);
        int t1 = conv_bn(t, 384, 384, 1, 3), t2 = conv_bn(t, 384, 384, 3, 1);
        snprintf(name, sizeof name, "mixed9_%d", i);
        int br3 = concat(name, 2, t1, t2, 0, 0);
        int u = conv_bn(conv_bn(x, c, 448, 1, 1), 448, 384, 3, 3);
        int u1 = conv_bn(u, 384, 384, 1, 3), u2 = conv_bn(u, 384, 384, 3, 1);
        int brd = concat(NULL, 2, u1, u2, 0, 0);
        int bp = conv_bn(pool(K_AVG, x), c, 192, 1, 1);
        snprintf(name, sizeof name, "mixed%d", 9 + i);
        x = concat(name, 4, b1, br3, brd, bp);
        c = 2048;
    }
}

/* Keras' _map_graph_network: depth = longest path to the output, sorted
 * by decreasing depth, ties by the order a depth-first walk from the
 * output (inputs in listed order) first reaches each layer. */
static int reach[320], post[320], n_reach, n_post, depth[320];

static void walk(int v)
{
    reach[v] = n_reach++;
    for (int i = 0; i < g[v].n_in; i++)
        if (reach[g[v].in[i]] < 0)
            walk(g[v].in[i]);
    post[n_post++] = v;
}

static int by_depth(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    if (depth[x] != depth[y])
        return depth[y] - depth[x];
    return reach[x] - reach[y];
}

static void keras_order(int *order)
{
    memset(reach, -1, sizeof reach);
    memset(depth, 0, sizeof depth);
    n_reach = n_post = 0;
    walk(ng - 1);
    for (int k = n_post - 1; k >= 0; k--) {
        int v = post[k];
        for (int i = 0; i < g[v].n_in; i++)
            if (depth[g[v].in[i]] < depth[v] + 1)
                depth[g[v].in[i]] = depth[v] + 1;
    }
    for (int i = 0; i < ng; i++)
        order[i] = i;
    qsort(order, (size_t)ng, sizeof *order, by_depth);
}


/* The expected weights of node v (what the model side would declare). */
static int node_shapes(int v, rt_h5_shape *s)
{
    if (g[v].kind == K_CONV) {
        s[0] = shp(4, g[v].kh, g[v].kw, g[v].cin, g[v].cout);
        return 1;
    }
    if (g[v].kind == K_BN) {
        for (int k = 0; k < 3; k++)
            s[k] = shp(1, g[v].cout, 0, 0, 0);
        return 3;
    }
    return 0;
}

static const char *bn_vars[3] = {"beta:0", "moving_mean:0", "moving_variance:0"};

/* Values depend only on (seed, conv index, slot), never on write order. */
static void fill_values(float *d, int64_t count, int n, int slot, int fan_in)
{
    rt_rng r;
    rt_rng_seed2(&r, 2024, (uint64_t)n * 4 + (uint64_t)slot);
    double lo = -1, hi = 1, scale = 1;
    if (slot == 0 && fan_in)
        scale = sqrt(6.0 / fan_in);
    else if (slot == 0)
        scale = 0.1;
    else if (slot == 1)
        scale = 0.2;
    else
        lo = 0.5, hi = 2.0;
    for (int64_t i = 0; i < count; i++)
        d[i] = (float)(rt_rng_between(&r, lo, hi) * (slot == 2 ? 1 : scale));
}

static void test_inception(void)
{
    inception_build();
    CHECK_INT(ng, 311);
    int order[320];
    keras_order(order);
    CHECK_INT(order[0], 0); /* input_1 */
    CHECK_STR(g[order[310]].name, "mixed10");

    /* the weighted sub-order against the reference */
    char got[2048] = "";
    size_t used = 0;
    for (int i = 0; i < ng; i++) {
        const gnode *x = &g[order[i]];
        if (x->kind == K_CONV || x->kind == K_BN)
            used += (size_t)snprintf(got + used, sizeof got - used, "%s%c%d", used ? " " : "",
                                     x->kind == K_CONV ? 'C' : 'B', x->n);
    }
    CHECK_STR(got, iv3_weighted_order);

    /* write it */
    double t0 = now();
    rt_h5_weights *w;
    CHECK_INT(rt_h5weights_new(&w), RT_OK);
    for (int i = 0; i < ng; i++) {
        const gnode *x = &g[order[i]];
        int l;
        CHECK_INT(rt_h5weights_layer_add(w, x->name, &l), RT_OK);
        rt_h5_shape s[3];
        int nw = node_shapes(order[i], s);
        for (int k = 0; k < nw; k++) {
            char wname[64];
            snprintf(wname, sizeof wname, "%s/%s", x->name, x->kind == K_CONV ? "kernel:0" : bn_vars[k]);
            int64_t count = s[k].dims[0] * (s[k].ndim == 4 ? s[k].dims[1] * s[k].dims[2] * s[k].dims[3] : 1);
            float *d = malloc((size_t)count * sizeof *d);
            fill_values(d, count, x->n, x->kind == K_CONV ? 0 : k, x->kind == K_CONV ? x->kh * x->kw * x->cin : 0);
            CHECK_INT(rt_h5weights_weight_add(w, l, wname, &s[k], d, 1), RT_OK);
            free(d);
        }
    }
    free(w->keras_version);
    w->keras_version = strdup("2.1.5");
    char path[512];
    tmp_path(path, sizeof path, "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5");
    CHECK_INT(rt_h5weights_write(w, path), RT_OK);
    rt_h5weights_free(w);
    double t1 = now();
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    printf("InceptionV3-layout file: %lld bytes, written in %.2f s\n", (long long)sb.st_size, t1 - t0);

    /* read it back: counts of reference sections 1.3 and 2.3 */
    CHECK_INT(rt_h5weights_read(path, 0, &w), RT_OK);
    if (!w) {
        fprintf(stderr, "  %s\n", rt_error_message());
        return;
    }
    printf("read back in %.2f s\n", now() - t1);
    int wl, nt;
    int64_t params, kb = 0, mv = 0;
    rt_h5weights_count(w, &wl, &nt, &params);
    CHECK_INT(w->n_layers, 311);
    CHECK_INT(wl, 188);
    CHECK_INT(nt, 376);
    CHECK_INT(params, 21802784);
    for (int i = 0; i < w->n_layers; i++)
        for (int k = 0; k < w->layers[i].n_weights; k++) {
            const char *n = w->layers[i].weights[k].name;
            if (strstr(n, "moving_"))
                mv += w->layers[i].weights[k].count;
            else
                kb += w->layers[i].weights[k].count;
        }
    CHECK_INT(kb, 21768352);
    CHECK_INT(mv, 34432);
    CHECK_STR(w->backend, "tensorflow");
    CHECK_STR(w->keras_version, "2.1.5");
    CHECK_STR(w->layers[0].name, "input_1");
    CHECK_INT(w->layers[0].n_weights, 0);
    int l9 = rt_h5weights_layer_find(w, "conv2d_94");
    CHECK(l9 >= 0);
    if (l9 >= 0) {
        CHECK_STR(w->layers[l9].weights[0].name, "conv2d_94/kernel:0");
        char b[64];
        CHECK_STR(rt_h5_shape_format(&w->layers[l9].weights[0].shape, b, sizeof b),
                  "(1, 1, 2048, 192)");
    }
    int lb = rt_h5weights_layer_find(w, "batch_normalization_1");
    if (lb >= 0) {
        CHECK_STR(w->layers[lb].weights[2].name, "batch_normalization_1/moving_variance:0");
        float want[32];
        fill_values(want, 32, 1, 2, 0);
        CHECK(memcmp(w->layers[lb].weights[2].data, want, sizeof want) == 0);
    }

    /* positional matching with the model's layers in Keras order */
    rt_h5_expect ex[320];
    static rt_h5_shape shapes[320][3];
    int map[320], renamed = -1;
    for (int i = 0; i < ng; i++) {
        ex[i].layer = g[order[i]].name;
        ex[i].n_weights = node_shapes(order[i], shapes[i]);
        ex[i].shapes = shapes[i];
    }
    CHECK_INT(rt_h5weights_match(w, ex, ng, RT_H5_POSITIONAL, map, &renamed), RT_OK);
    CHECK_INT(renamed, 0);
    int same = 1;
    for (int i = 0; i < ng; i++)
        same &= ex[i].n_weights ? map[i] >= 0 && strcmp(w->layers[map[i]].name, ex[i].layer) == 0
                                : map[i] == -1;
    CHECK(same);

    /* Creation order is not the file's order: conv2d_6 and conv2d_9 share a
     * shape and pair silently (renamed), batch_normalization_6 and _9 too,
     * conv2d_7 lines up by chance, then batch_normalization_7 meets
     * conv2d_10. */
    rt_h5_expect cr[320];
    for (int i = 0; i < ng; i++) {
        cr[i].layer = g[i].name;
        cr[i].n_weights = node_shapes(i, shapes[i]);
        cr[i].shapes = shapes[i];
    }
    CHECK_INT(rt_h5weights_match(w, cr, ng, RT_H5_POSITIONAL, map, &renamed), RT_ERR_SHAPE);
    CHECK(strstr(rt_error_message(), "(weighted layer 14 of 188): layer "
                                     "\"batch_normalization_7\" has 3 weights [(48,), (48,), "
                                     "(48,)] but the file's layer \"conv2d_10\" has 1: "
                                     "conv2d_10/kernel:0 (3, 3, 64, 96)") != NULL);
    printf("creation-order match: %s\n", rt_error_message());
    /* ... while matching by name does not care about order */
    CHECK_INT(rt_h5weights_match(w, cr, ng, RT_H5_BY_NAME, map, NULL), RT_OK);
    rt_h5weights_free(w);

    /* layout only, then one tensor on demand */
    CHECK_INT(rt_h5weights_read(path, RT_H5_LAYOUT_ONLY, &w), RT_OK);
    if (w) {
        int l = rt_h5weights_layer_find(w, "conv2d_1");
        CHECK(w->layers[l].weights[0].data == NULL);
        float k1[864], want[864];
        CHECK_INT(rt_h5weights_data_read(w, l, 0, k1), RT_OK);
        fill_values(want, 864, 1, 0, 27);
        CHECK(memcmp(k1, want, sizeof want) == 0);
        rt_h5weights_free(w);
    }
    unlink(path);
}

/* ---- the real MobileNet 0.25 file ---- */

/* Keras' MobileNet(alpha=0.25, include_top=False) layers with weights. */
static int mobilenet_expect(rt_h5_expect *ex, rt_h5_shape (*s)[4], char (*names)[32])
{
    static const int pw[13] = {64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024};
    int n = 0, c = 8;
#define EXPECT(name_fmt, idx, nw) (snprintf(names[n], 32, name_fmt, idx), ex[n].layer = names[n], \
                                   ex[n].n_weights = nw, ex[n].shapes = s[n], n++)
    s[n][0] = shp(4, 3, 3, 3, 8);
    EXPECT("conv1%.0d", 0, 1);
    for (int k = 0; k < 4; k++)
        s[n][k] = shp(1, 8, 0, 0, 0);
    EXPECT("conv1_bn%.0d", 0, 4);
    for (int b = 1; b <= 13; b++) {
        int out = pw[b - 1] / 4;
        s[n][0] = shp(4, 3, 3, c, 1);
        EXPECT("conv_dw_%d", b, 1);
        for (int k = 0; k < 4; k++)
            s[n][k] = shp(1, c, 0, 0, 0);
        EXPECT("conv_dw_%d_bn", b, 4);
        s[n][0] = shp(4, 1, 1, c, out);
        EXPECT("conv_pw_%d", b, 1);
        for (int k = 0; k < 4; k++)
            s[n][k] = shp(1, out, 0, 0, 0);
        EXPECT("conv_pw_%d_bn", b, 4);
        c = out;
    }
#undef EXPECT
    return n;
}

static int find_file(const char *rel, char *out, size_t n)
{
    const char *dp = getenv("HELLODL_DATA_PATH");
    if (!dp || !*dp)
        return 0;
    char *copy = strdup(dp);
    int found = 0;
    for (char *save = NULL, *d = strtok_r(copy, ":", &save); d && !found;
         d = strtok_r(NULL, ":", &save)) {
        snprintf(out, n, "%s/%s", d, rel);
        found = access(out, R_OK) == 0;
    }
    free(copy);
    return found;
}

static int test_mobilenet(void)
{
    char path[4096];
    if (!find_file("keras-pretrained-models/mobilenet_2_5_224_tf_no_top.h5", path, sizeof path))
        return 0;
    rt_h5_weights *w;
    CHECK_INT(rt_h5weights_read(path, 0, &w), RT_OK);
    if (!w) {
        fprintf(stderr, "  %s\n", rt_error_message());
        return 1;
    }
    int wl, nt;
    int64_t params;
    rt_h5weights_count(w, &wl, &nt, &params);
    CHECK_INT(w->n_layers, 83);
    CHECK_INT(wl, 54);
    CHECK_INT(nt, 135);
    CHECK_INT(params, 218544);
    CHECK_STR(w->backend, "tensorflow");   /* variable-length strings here */
    CHECK_STR(w->keras_version, "2.0.4");
    CHECK_STR(w->layers[0].name, "input_1");
    CHECK_STR(w->layers[82].name, "global_average_pooling2d_1");
    CHECK_STR(w->layers[1].weights[0].name, "conv1/kernel:0");
    CHECK_STR(w->layers[2].weights[0].name, "conv1_bn/gamma:0");
    CHECK_STR(w->layers[2].weights[3].name, "conv1_bn/moving_variance:0");
    /* moving variances are positive, kernels are not all zero */
    int bad = 0;
    for (int i = 0; i < 8; i++)
        bad += !(w->layers[2].weights[3].data[i] > 0);
    CHECK_INT(bad, 0);

    rt_h5_expect ex[64];
    rt_h5_shape s[64][4];
    char names[64][32];
    int n = mobilenet_expect(ex, s, names), map[64], renamed;
    CHECK_INT(n, 54);
    CHECK_INT(rt_h5weights_match(w, ex, n, RT_H5_POSITIONAL, map, &renamed), RT_OK);
    if (check_failures)
        fprintf(stderr, "  %s\n", rt_error_message());
    CHECK_INT(renamed, 0);
    CHECK_STR(w->layers[map[53]].name, "conv_pw_13_bn");
    CHECK_INT(w->layers[map[53]].weights[0].shape.dims[0], 256);

    /* alpha 0.5 expectations against the 0.25 file */
    s[0][0].dims[3] = 16;
    CHECK_INT(rt_h5weights_match(w, ex, n, RT_H5_POSITIONAL, map, &renamed), RT_ERR_SHAPE);
    CHECK(strstr(rt_error_message(), "weight 0 of layer \"conv1\" has shape (3, 3, 3, 16) in "
                                     "the model but (3, 3, 3, 8) in the file") != NULL);
    CHECK(strstr(rt_error_message(), "mobilenet_2_5_224_tf_no_top.h5") != NULL);
    s[0][0].dims[3] = 8;
    /* a BN without gamma (InceptionV3 style) */
    ex[1].n_weights = 3;
    CHECK_INT(rt_h5weights_match(w, ex, n, RT_H5_POSITIONAL, map, &renamed), RT_ERR_SHAPE);
    CHECK(strstr(rt_error_message(), "layer \"conv1_bn\" has 3 weights [(8,), (8,), (8,)] but "
                                     "the file's layer \"conv1_bn\" has 4: conv1_bn/gamma:0 "
                                     "(8,)") != NULL);
    ex[1].n_weights = 4;
    /* the wrong file for the model */
    inception_build();
    int order[320];
    keras_order(order);
    rt_h5_expect iv[320];
    static rt_h5_shape ish[320][3];
    for (int i = 0; i < ng; i++) {
        iv[i].layer = g[order[i]].name;
        iv[i].n_weights = node_shapes(order[i], ish[i]);
        iv[i].shapes = ish[i];
    }
    int imap[320];
    CHECK_INT(rt_h5weights_match(w, iv, ng, RT_H5_POSITIONAL, imap, NULL), RT_ERR_SHAPE);
    CHECK(strstr(rt_error_message(), "has 54 layers with weights but the model has 188; they "
                                     "first differ at weighted layer 1") != NULL);
    printf("wrong file: %s\n", rt_error_message());
    /* by name: nothing in common, nothing loaded, no error (Keras skips) */
    CHECK_INT(rt_h5weights_match(w, iv, ng, RT_H5_BY_NAME, imap, NULL), RT_OK);
    int any = 0;
    for (int i = 0; i < ng; i++)
        any |= imap[i] >= 0;
    CHECK(!any);
    rt_h5weights_free(w);
    return 1;
}

/* ---- round trips and errors ---- */

static void test_round_trip(void)
{
    rt_h5_weights *w;
    CHECK_INT(rt_h5weights_new(&w), RT_OK);
    int l0, l1, l2, l3;
    CHECK_INT(rt_h5weights_layer_add(w, "input_1", &l0), RT_OK);
    CHECK_INT(rt_h5weights_layer_add(w, "dense_1", &l1), RT_OK);
    CHECK_INT(rt_h5weights_layer_add(w, "dropout_1", &l2), RT_OK);
    CHECK_INT(rt_h5weights_layer_add(w, "predictions", &l3), RT_OK);
    float k[6] = {1, 2, 3, 4, 5, 6}, b[3] = {-1, 0.5f, 1e-30f}, sc = 42, big[2 * 3 * 1 * 2 * 2];
    for (int i = 0; i < 24; i++)
        big[i] = (float)i / 7;
    rt_h5_shape s23 = shp(2, 2, 3, 0, 0), s3 = shp(1, 3, 0, 0, 0), s0 = {0, {0}};
    rt_h5_shape s5 = {5, {2, 3, 1, 2, 2}};
    CHECK_INT(rt_h5weights_weight_add(w, l1, "dense_1/kernel:0", &s23, k, 0), RT_OK);
    CHECK_INT(rt_h5weights_weight_add(w, l1, "dense_1/bias:0", &s3, b, 1), RT_OK);
    /* a TF1 scope suffix: the name is what weight_names says */
    CHECK_INT(rt_h5weights_weight_add(w, l3, "predictions_1/kernel:0", &s5, big, 1), RT_OK);
    CHECK_INT(rt_h5weights_weight_add(w, l3, "predictions_1/count:0", &s0, &sc, 1), RT_OK);
    /* refusals */
    int dummy;
    CHECK_INT(rt_h5weights_layer_add(w, "dense_1", &dummy), RT_ERR_ARG);
    CHECK_INT(rt_h5weights_layer_add(w, "a/b", &dummy), RT_ERR_ARG);
    CHECK_INT(rt_h5weights_weight_add(w, l1, "dense_1/bias:0", &s3, b, 1), RT_ERR_ARG);
    CHECK_INT(rt_h5weights_weight_add(w, 9, "x", &s3, b, 1), RT_ERR_ARG);
    rt_h5_shape neg = shp(1, -1, 0, 0, 0);
    CHECK_INT(rt_h5weights_weight_add(w, l1, "x:0", &neg, b, 1), RT_ERR_SHAPE);

    char path[512];
    tmp_path(path, sizeof path, "round.h5");
    CHECK_INT(rt_h5weights_write(w, path), RT_OK);
    rt_h5weights_free(w);
    CHECK_INT(rt_h5weights_read(path, 0, &w), RT_OK);
    if (!w)
        return;
    CHECK_INT(w->n_layers, 4);
    CHECK_STR(w->layers[2].name, "dropout_1");
    CHECK_INT(w->layers[2].n_weights, 0);
    CHECK_INT(w->layers[1].n_weights, 2);
    CHECK_STR(w->layers[1].weights[1].name, "dense_1/bias:0");
    CHECK(memcmp(w->layers[1].weights[0].data, k, sizeof k) == 0);
    CHECK(memcmp(w->layers[1].weights[1].data, b, sizeof b) == 0);
    CHECK_INT(w->layers[3].weights[0].shape.ndim, 5);
    CHECK(memcmp(w->layers[3].weights[0].data, big, sizeof big) == 0);
    CHECK_INT(w->layers[3].weights[1].shape.ndim, 0);
    CHECK_NEAR(w->layers[3].weights[1].data[0], 42, 0);
    CHECK_STR(w->keras_version, "2.2.4");
    /* by-name matching: an unknown model layer is skipped, a bad one fails */
    rt_h5_shape ds[2] = {s23, s3};
    rt_h5_expect ex[2] = {{"dense_1", 2, ds}, {"dense_9", 2, ds}};
    int map[2];
    CHECK_INT(rt_h5weights_match(w, ex, 2, RT_H5_BY_NAME, map, NULL), RT_OK);
    CHECK_INT(map[0], 1);
    CHECK_INT(map[1], -1);
    ex[0].n_weights = 1;
    CHECK_INT(rt_h5weights_match(w, ex, 1, RT_H5_BY_NAME, map, NULL), RT_ERR_SHAPE);
    CHECK(strstr(rt_error_message(), "(by name)") != NULL);
    rt_h5weights_free(w);
}

/* Enough long names that Keras splits layer_names and weight_names. */
static void test_split_attributes(void)
{
    rt_h5_weights *w;
    CHECK_INT(rt_h5weights_new(&w), RT_OK);
    char name[64];
    float v = 1;
    rt_h5_shape s1 = shp(1, 1, 0, 0, 0);
    for (int i = 0; i < 2500; i++) {
        int l;
        snprintf(name, sizeof name, "a_rather_long_layer_name_%05d", i);
        rt_h5weights_layer_add(w, name, &l);
    }
    for (int k = 0; k < 2300; k++) {
        snprintf(name, sizeof name, "scope/a_long_variable_name_%05d:0", k);
        rt_h5weights_weight_add(w, 7, name, &s1, &v, 0);
    }
    char path[512];
    tmp_path(path, sizeof path, "split.h5");
    CHECK_INT(rt_h5weights_write(w, path), RT_OK);
    rt_h5weights_free(w);
    CHECK_INT(rt_h5weights_read(path, RT_H5_LAYOUT_ONLY, &w), RT_OK);
    if (!w)
        return;
    CHECK_INT(w->n_layers, 2500);
    CHECK_STR(w->layers[2499].name, "a_rather_long_layer_name_02499");
    CHECK_INT(w->layers[7].n_weights, 2300);
    CHECK_STR(w->layers[7].weights[2299].name, "scope/a_long_variable_name_02299:0");
    rt_h5weights_free(w);
    /* the split is visible in the file: the attribute names carry 0 and 1 */
    FILE *f = fopen(path, "rb");
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    int has0 = 0, has1 = 0, has_plain = 0;
    for (size_t i = 0; i + 12 < n; i++) {
        if (memcmp(buf + i, "layer_names", 11) == 0) {
            has0 |= buf[i + 11] == '0';
            has1 |= buf[i + 11] == '1';
            has_plain |= buf[i + 11] == 0;
        }
    }
    CHECK(has0 && has1 && !has_plain);
}

/* Rewrite `from` as `to` (same length) everywhere in a file. */
static int patch_file(const char *src, const char *dst, const char *from, const char *to)
{
    FILE *f = fopen(src, "rb");
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f), len = strlen(from);
    fclose(f);
    int hits = 0;
    for (size_t i = 0; i + len <= n; i++)
        if (memcmp(buf + i, from, len) == 0) {
            memcpy(buf + i, to, len);
            hits++;
        }
    f = fopen(dst, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    return hits;
}

static void expect_read_error(const char *path, rt_status want, const char *frag)
{
    rt_h5_weights *w = (rt_h5_weights *)1;
    CHECK_INT(rt_h5weights_read(path, 0, &w), want);
    CHECK(w == NULL);
    if (!strstr(rt_error_message(), frag)) {
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", rt_error_message(), frag);
        CHECK(0);
    }
}

static void test_errors(void)
{
    char good[512], bad[512];
    tmp_path(good, sizeof good, "round.h5");
    tmp_path(bad, sizeof bad, "bad.h5");
    expect_read_error("/nonexistent/weights.h5", RT_ERR_IO, "/nonexistent/weights.h5");
    FILE *f = fopen(bad, "wb");
    fputs("this is not HDF5 at all, just text", f);
    fclose(f);
    expect_read_error(bad, RT_ERR_FORMAT, "is not an HDF5 file");
    CHECK(strstr(rt_error_message(), "bad.h5") != NULL);

    CHECK(patch_file(good, bad, "layer_names", "layer_namez") > 0);
    expect_read_error(bad, RT_ERR_FORMAT, "not a Keras weights file: it has no layer_names");
    CHECK(patch_file(good, bad, "weight_names", "weight_namez") > 0);
    expect_read_error(bad, RT_ERR_FORMAT, "has no weight_names attribute");
    /* weight_names names a dataset that is not there (the link keeps
     * "bias:0"; only the attribute's "dense_1/bias:0" matches) */
    CHECK_INT(patch_file(good, bad, "dense_1/bias:0", "dense_1/bixs:0"), 1);
    expect_read_error(bad, RT_ERR_FORMAT, "weight \"dense_1/bixs:0\" of layer \"dense_1\" is "
                                          "listed in weight_names but missing");

    /* truncated */
    f = fopen(good, "rb");
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    f = fopen(bad, "wb");
    fwrite(buf, 1, n / 3, f);
    fclose(f);
    rt_h5_weights *w = NULL;
    CHECK(rt_h5weights_read(bad, 0, &w) != RT_OK);
    CHECK(w == NULL);
    CHECK(strstr(rt_error_message(), "bad.h5") != NULL);

    /* positional count mismatch */
    CHECK_INT(rt_h5weights_read(good, 0, &w), RT_OK);
    rt_h5_shape s23 = shp(2, 2, 3, 0, 0), s3 = shp(1, 3, 0, 0, 0);
    rt_h5_shape ds[2] = {s23, s3};
    rt_h5_expect ex[1] = {{"dense_1", 2, ds}};
    int map[1];
    CHECK_INT(rt_h5weights_match(w, ex, 1, RT_H5_POSITIONAL, map, NULL), RT_ERR_SHAPE);
    CHECK(strstr(rt_error_message(), "has 2 layers with weights but the model has 1 (the "
                                     "first 1 agree)") != NULL);
    float out[6];
    CHECK_INT(rt_h5weights_data_read(w, 1, 0, out), RT_ERR_STATE);
    rt_h5weights_free(w);

    /* writing where it cannot */
    CHECK_INT(rt_h5weights_new(&w), RT_OK);
    CHECK_INT(rt_h5weights_write(w, "/nonexistent/dir/x.h5"), RT_ERR_IO);
    CHECK(strstr(rt_error_message(), "/nonexistent/dir/x.h5") != NULL);
    rt_h5weights_free(w);
}

int main(void)
{
    if (check_tmpdir(tmp_dir, sizeof tmp_dir, "h5") < 0)
        return 1;
    test_inception();
    test_round_trip();
    test_split_attributes();
    test_errors();
    int have = test_mobilenet();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp_dir);
    int rc = CHECK_DONE();
    if (rc == 0 && !have) {
        printf("SKIP: keras-pretrained-models/mobilenet_2_5_224_tf_no_top.h5 not found in "
               "HELLODL_DATA_PATH; the other checks passed\n");
        return 77;
    }
    return rc;
}
