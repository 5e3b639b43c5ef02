/*
 * test_tensor.c - tensors: shapes and their checks, views over shared
 * storage, refcounts, per-device byte accounting and limits, copies; and the
 * runtime's seeded RNG.
 */
#include <stdint.h>
#include <string.h>

#include "backend.h"
#include "check.h"
#include "rng.h"
#include "tensor.h"

static rt_memory_stats base;

static void test_new_and_accounting(void)
{
    rt_memory_stats s;
    rt_tensor *t;
    const int64_t shape[4] = {2, 3, 4, 5};
    CHECK(rt_tensor_new(&t, RT_DEVICE_CPU, 4, shape) == RT_OK);
    CHECK_INT(t->numel, 120);
    CHECK_INT(t->ndim, 4);
    CHECK_INT(rt_tensor_dim(t, -1), 5);
    CHECK_INT(rt_tensor_dim(t, 7), 0);
    CHECK_INT(rt_tensor_nbytes(t), 480);
    for (int i = 0; i < 120; i++)
        CHECK(t->data[i] == 0.0f); /* zero-filled */
    rt_memory_stats_get(RT_DEVICE_CPU, &s);
    CHECK_INT(s.live_bytes - base.live_bytes, 480);
    CHECK_INT(s.live_tensors - base.live_tensors, 1);
    CHECK_INT(s.live_storages - base.live_storages, 1);
    CHECK(s.peak_bytes >= s.live_bytes);
    CHECK(s.limit_bytes > 0); /* physical memory by default */
    char buf[64];
    CHECK_STR(rt_shape_format(t->ndim, t->shape, buf, sizeof buf), "(2, 3, 4, 5)");
    const int64_t one[1] = {7};
    CHECK_STR(rt_shape_format(1, one, buf, sizeof buf), "(7,)");
    CHECK_STR(rt_shape_format(4, shape, buf, 6), "(2, 3");
    rt_tensor_release(t);
    rt_memory_stats_get(RT_DEVICE_CPU, &s);
    CHECK_INT(s.live_bytes, base.live_bytes);
    CHECK_INT(s.live_tensors, base.live_tensors);
    rt_tensor_release(NULL);

    /* a scalar and an empty tensor are legal */
    CHECK(rt_tensor_new(&t, RT_DEVICE_CPU, 0, NULL) == RT_OK);
    CHECK_INT(t->numel, 1);
    rt_tensor_release(t);
    const int64_t empty[2] = {0, 5};
    CHECK(rt_tensor_new(&t, RT_DEVICE_CPU, 2, empty) == RT_OK);
    CHECK_INT(t->numel, 0);
    rt_tensor *f;
    CHECK(rt_tensor_flatten(&f, t) == RT_OK);
    CHECK_INT(f->shape[1], 0);
    rt_tensor_release(f);
    rt_tensor_release(t);
}

static void test_absurd_shapes(void)
{
    rt_tensor *t = (rt_tensor *)1;
    const int64_t neg[2] = {3, -1};
    CHECK(rt_tensor_new(&t, RT_DEVICE_CPU, 2, neg) == RT_ERR_SHAPE);
    CHECK(t == NULL);
    CHECK(strstr(rt_error_message(), "negative") != NULL);
    const int64_t huge[3] = {INT64_MAX / 2, 4, 4};
    CHECK(rt_tensor_new(&t, RT_DEVICE_CPU, 3, huge) == RT_ERR_SHAPE);
    const int64_t over[2] = {65536, 32768}; /* 2^31: one past the cap */
    CHECK(rt_tensor_new(&t, RT_DEVICE_CPU, 2, over) == RT_ERR_SHAPE);
    const int64_t seven[7] = {1, 1, 1, 1, 1, 1, 1};
    CHECK(rt_tensor_new(&t, RT_DEVICE_CPU, 7, seven) == RT_ERR_SHAPE);
    CHECK(rt_tensor_new(&t, RT_DEVICE_CPU, -1, seven) == RT_ERR_SHAPE);
    CHECK(rt_tensor_new(&t, (rt_device)9, 1, seven) == RT_ERR_ARG);
    int64_t n;
    const int64_t ok[2] = {1 << 20, 1 << 10};
    CHECK(rt_shape_numel(2, ok, &n) == RT_OK);
    CHECK_INT(n, (int64_t)1 << 30);
    /* no CUDA backend in this build (or no device): a clear error */
    if (!rt_backend_get(RT_DEVICE_CUDA)) {
        CHECK(rt_tensor_new(&t, RT_DEVICE_CUDA, 2, ok) == RT_ERR_DEVICE);
        CHECK(strstr(rt_error_message(), "cuda") != NULL);
    }
}

static void test_limit(void)
{
    rt_memory_stats s;
    rt_memory_stats_get(RT_DEVICE_CPU, &s);
    int64_t old = s.limit_bytes;
    rt_memory_limit_set(RT_DEVICE_CPU, s.live_bytes + 1000);
    rt_tensor *a, *b;
    const int64_t n200[1] = {200}; /* 800 bytes */
    CHECK(rt_tensor_new(&a, RT_DEVICE_CPU, 1, n200) == RT_OK);
    CHECK(rt_tensor_new(&b, RT_DEVICE_CPU, 1, n200) == RT_ERR_NOMEM);
    CHECK(strstr(rt_error_message(), "limit") != NULL);
    rt_memory_stats_get(RT_DEVICE_CPU, &s);
    CHECK_INT(s.live_bytes - base.live_bytes, 800); /* the failure took nothing */
    rt_tensor_release(a);
    CHECK(rt_tensor_new(&b, RT_DEVICE_CPU, 1, n200) == RT_OK);
    rt_tensor_release(b);
    rt_memory_limit_set(RT_DEVICE_CPU, old);
    /* a 200 GB request against the physical-memory default fails cleanly */
    const int64_t big[3] = {50000, 50000, 20};
    rt_tensor *t;
    rt_status st = rt_tensor_new(&t, RT_DEVICE_CPU, 3, big);
    CHECK(st == RT_ERR_NOMEM || st == RT_ERR_SHAPE);
}

static void test_views(void)
{
    rt_tensor *t, *v, *r, *s, *f;
    const int64_t shape[4] = {4, 2, 3, 2}; /* NHWC */
    float src[48];
    for (int i = 0; i < 48; i++)
        src[i] = (float)i;
    CHECK(rt_tensor_from_host(&t, RT_DEVICE_CPU, 4, shape, src) == RT_OK);
    rt_memory_stats before;
    rt_memory_stats_get(RT_DEVICE_CPU, &before);

    /* batch slice: images 1..2 */
    CHECK(rt_tensor_slice(&s, t, 1, 2) == RT_OK);
    CHECK_INT(s->shape[0], 2);
    CHECK_INT(s->numel, 24);
    CHECK(s->data[0] == 12.0f);
    CHECK(rt_tensor_slice(&v, t, 3, 2) == RT_ERR_SHAPE);
    CHECK(rt_tensor_slice(&v, t, 4, 0) == RT_OK); /* empty tail slice */
    rt_tensor_release(v);

    /* flatten is a view: writes show through */
    CHECK(rt_tensor_flatten(&f, t) == RT_OK);
    CHECK_INT(f->ndim, 2);
    CHECK_INT(f->shape[1], 12);
    f->data[40] = -1.0f;
    CHECK(t->data[40] == -1.0f);

    const int64_t inf[2] = {-1, 6};
    CHECK(rt_tensor_reshape(&r, s, 2, inf) == RT_OK);
    CHECK_INT(r->shape[0], 4);
    CHECK(r->data[1] == 13.0f && r->data[0] == 12.0f);
    rt_tensor_release(r);
    const int64_t bad[2] = {5, -1};
    CHECK(rt_tensor_reshape(&r, s, 2, bad) == RT_ERR_SHAPE);
    CHECK(r == NULL);
    const int64_t two_inf[2] = {-1, -1};
    CHECK(rt_tensor_reshape(&r, s, 2, two_inf) == RT_ERR_SHAPE);
    const int64_t sub[1] = {5};
    CHECK(rt_tensor_view(&v, s, 20, 1, sub) == RT_ERR_SHAPE);
    CHECK(rt_tensor_view(&v, s, 19, 1, sub) == RT_OK);
    CHECK(v->data[0] == 31.0f);

    /* views share storage: no new bytes, but headers are counted */
    rt_memory_stats now;
    rt_memory_stats_get(RT_DEVICE_CPU, &now);
    CHECK_INT(now.live_bytes, before.live_bytes);
    CHECK_INT(now.live_tensors - before.live_tensors, 3);
    CHECK_INT(now.live_storages, before.live_storages);

    /* the base can go first; the storage lives while any view does */
    rt_tensor_release(t);
    rt_tensor_release(f);
    CHECK(s->data[1] == 13.0f);
    CHECK(rt_tensor_retain(v) == v);
    rt_tensor_release(v);
    CHECK(v->data[0] == 31.0f);
    rt_tensor_release(v);
    rt_tensor_release(s);
    rt_memory_stats_get(RT_DEVICE_CPU, &now);
    CHECK_INT(now.live_bytes, base.live_bytes);
    CHECK_INT(now.live_tensors, base.live_tensors);
    CHECK_INT(now.live_storages, base.live_storages);
}

static void test_copies(void)
{
    const int64_t shape[2] = {3, 4};
    float src[12], dst[12];
    for (int i = 0; i < 12; i++)
        src[i] = (float)i * 0.5f;
    rt_tensor *a, *b, *c;
    CHECK(rt_tensor_from_host(&a, RT_DEVICE_CPU, 2, shape, src) == RT_OK);
    CHECK(rt_tensor_to_device(&b, a, RT_DEVICE_CPU) == RT_OK);
    CHECK(b->data != a->data);
    CHECK(rt_tensor_same_shape(a, b));
    CHECK(rt_tensor_copy_to_host(b, dst) == RT_OK);
    CHECK(memcmp(src, dst, sizeof src) == 0);
    CHECK(rt_tensor_fill(b, 2.5f) == RT_OK);
    CHECK(b->data[11] == 2.5f);
    const int64_t other[1] = {12}, wrong[1] = {11};
    CHECK(rt_tensor_new(&c, RT_DEVICE_CPU, 1, other) == RT_OK);
    CHECK(!rt_tensor_same_shape(a, c));
    CHECK(rt_tensor_copy(c, a) == RT_OK); /* same numel, other shape */
    CHECK(c->data[5] == 2.5f);
    rt_tensor_release(c);
    CHECK(rt_tensor_new(&c, RT_DEVICE_CPU, 1, wrong) == RT_OK);
    CHECK(rt_tensor_copy(c, a) == RT_ERR_SHAPE);
    rt_tensor_release(c);
    rt_tensor_release(a);
    rt_tensor_release(b);
}

static void test_rng(void)
{
    rt_rng a, b;
    rt_rng_seed(&a, 7);
    rt_rng_seed(&b, 7);
    for (int i = 0; i < 100; i++)
        CHECK(rt_rng_next(&a) == rt_rng_next(&b));
    rt_rng_seed(&b, 8);
    CHECK(rt_rng_next(&a) != rt_rng_next(&b));
    rt_rng_seed(&a, 0);
    uint64_t first = rt_rng_next(&a);
    rt_rng_seed(&b, 0);
    CHECK(first == rt_rng_next(&b));
    double sum = 0;
    int hist[10] = {0}, out_of_range = 0;
    for (int i = 0; i < 100000; i++) {
        double u = rt_rng_uniform(&a);
        out_of_range += !(u >= 0.0 && u < 1.0);
        sum += u;
        hist[rt_rng_below(&a, 10)]++;
    }
    CHECK_INT(out_of_range, 0);
    CHECK_NEAR(sum / 100000, 0.5, 0.01);
    for (int i = 0; i < 10; i++)
        CHECK(hist[i] > 9400 && hist[i] < 10600);
    CHECK(rt_rng_below(&a, 0) == 0);
    double m = 0, v = 0;
    for (int i = 0; i < 100000; i++) {
        double z = rt_rng_normal(&a);
        m += z;
        v += z * z;
    }
    CHECK_NEAR(m / 100000, 0.0, 0.02);
    CHECK_NEAR(v / 100000, 1.0, 0.02);
    CHECK(rt_rng_hash(1, 2) == rt_rng_hash(1, 2));
    CHECK(rt_rng_hash(1, 2) != rt_rng_hash(2, 1));
    rt_rng c = rt_rng_split(&a), d = rt_rng_split(&a);
    CHECK(rt_rng_next(&c) != rt_rng_next(&d));
}

int main(void)
{
    rt_memory_stats_get(RT_DEVICE_CPU, &base);
    CHECK_STR(rt_device_name(RT_DEVICE_CPU), "cpu");
    CHECK(rt_backend_get(RT_DEVICE_CPU) == rt_backend_cpu());
    test_new_and_accounting();
    test_absurd_shapes();
    test_limit();
    test_views();
    test_copies();
    test_rng();
    return CHECK_DONE();
}
