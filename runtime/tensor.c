#include "tensor.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "device.h"

struct rt_storage {
    void *buf;       /* device memory from the backend */
    size_t nbytes;
    rt_device device;
    int refcount;    /* atomic */
    unsigned char kind;   /* rt_storage_kind */
    unsigned char backup; /* host copy at checkpoints */
    /* Under rt_reg_lock: */
    rt_storage *prev, *next; /* the registry; prev NULL until linked */
    rt_tensor *views;        /* headers over this storage */
    float *host_copy;        /* (nbytes) contents as of copy_gen, or NULL */
    uint64_t copy_gen;
};

/* The registry: a circular list through a sentinel. */
static pthread_mutex_t rt_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static rt_storage rt_reg = {.prev = &rt_reg, .next = &rt_reg};

/* Per-device counters, updated with GCC/Clang __atomic builtins. */
typedef struct rt_memory_counters {
    int64_t live_bytes, peak_bytes, live_tensors, live_storages, limit;
    int limit_initialised;
} rt_memory_counters;

static rt_memory_counters rt_mem[RT_DEVICE_COUNT];

const char *rt_device_name(rt_device dev)
{
    switch (dev) {
    case RT_DEVICE_CPU: return "cpu";
    case RT_DEVICE_CUDA: return "cuda";
    case RT_DEVICE_COUNT: break;
    }
    return "unknown";
}

static int64_t rt_default_limit(rt_device dev)
{
    if (dev != RT_DEVICE_CPU)
        return 0;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return 0;
    return (int64_t)pages * (int64_t)page;
}

static rt_memory_counters *rt_counters(rt_device dev)
{
    rt_memory_counters *m = &rt_mem[dev];
    if (!__atomic_load_n(&m->limit_initialised, __ATOMIC_ACQUIRE)) {
        /* Racing initialisers compute the same value. */
        __atomic_store_n(&m->limit, rt_default_limit(dev), __ATOMIC_RELAXED);
        __atomic_store_n(&m->limit_initialised, 1, __ATOMIC_RELEASE);
    }
    return m;
}

rt_status rt_memory_reserve(rt_device dev, int64_t bytes)
{
    if ((unsigned)dev >= RT_DEVICE_COUNT)
        return rt_error_set(RT_ERR_ARG, "unknown device %d", (int)dev);
    rt_memory_counters *m = rt_counters(dev);
    int64_t now = __atomic_add_fetch(&m->live_bytes, bytes, __ATOMIC_RELAXED);
    int64_t limit = __atomic_load_n(&m->limit, __ATOMIC_RELAXED);
    if (bytes > 0 && limit > 0 && now > limit) {
        __atomic_sub_fetch(&m->live_bytes, bytes, __ATOMIC_RELAXED);
        if (dev != RT_DEVICE_CPU)
            return rt_error_set(RT_ERR_NOMEM, "Allocating %.1f MB on the GPU "
                "would pass its memory limit of %.1f MB (%.1f MB in use): use a "
                "smaller batch_size, free models you no longer need, or run "
                "`%%device cpu`.", bytes / 1e6, limit / 1e6, (now - bytes) / 1e6);
        return rt_error_set(RT_ERR_NOMEM,
            "allocating %.1f MB on %s would exceed its memory limit of %.1f MB "
            "(%.1f MB in use)", bytes / 1e6, rt_device_name(dev), limit / 1e6,
            (now - bytes) / 1e6);
    }
    int64_t peak = __atomic_load_n(&m->peak_bytes, __ATOMIC_RELAXED);
    while (now > peak && !__atomic_compare_exchange_n(&m->peak_bytes, &peak,
               now, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return RT_OK;
}

void rt_memory_stats_get(rt_device dev, rt_memory_stats *out)
{
    memset(out, 0, sizeof *out);
    if ((unsigned)dev >= RT_DEVICE_COUNT)
        return;
    rt_memory_counters *m = rt_counters(dev);
    out->live_bytes = __atomic_load_n(&m->live_bytes, __ATOMIC_RELAXED);
    out->peak_bytes = __atomic_load_n(&m->peak_bytes, __ATOMIC_RELAXED);
    out->live_tensors = __atomic_load_n(&m->live_tensors, __ATOMIC_RELAXED);
    out->live_storages = __atomic_load_n(&m->live_storages, __ATOMIC_RELAXED);
    out->limit_bytes = __atomic_load_n(&m->limit, __ATOMIC_RELAXED);
}

void rt_memory_limit_set(rt_device dev, int64_t limit_bytes)
{
    if ((unsigned)dev >= RT_DEVICE_COUNT)
        return;
    rt_memory_counters *m = rt_counters(dev);
    __atomic_store_n(&m->limit, limit_bytes > 0 ? limit_bytes : 0,
                     __ATOMIC_RELAXED);
}

rt_status rt_shape_numel(int ndim, const int64_t *shape, int64_t *numel)
{
    *numel = 0;
    if (ndim < 0 || ndim > RT_MAX_DIMS)
        return rt_error_set(RT_ERR_SHAPE, "a tensor has 0 to %d dimensions, "
                            "not %d", RT_MAX_DIMS, ndim);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return rt_error_set(RT_ERR_SHAPE, "dimension %d is negative "
                                "(%lld)", i, (long long)shape[i]);
        if (shape[i] != 0 && n > RT_MAX_NUMEL / shape[i]) {
            char buf[160];
            return rt_error_set(RT_ERR_SHAPE, "shape %s has more than %lld "
                                "elements", rt_shape_format(ndim, shape, buf,
                                sizeof buf), (long long)RT_MAX_NUMEL);
        }
        n *= shape[i];
    }
    *numel = n;
    return RT_OK;
}

char *rt_shape_format(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld",
                                 i ? ", " : "", (long long)shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, ndim == 1 ? ",)" : ")");
    return buf;
}

static void rt_host_copy_drop(rt_storage *s)
{
    if (!s->host_copy)
        return;
    free(s->host_copy);
    s->host_copy = NULL;
    rt_memory_reserve(RT_DEVICE_CPU, -(int64_t)s->nbytes);
}

static void rt_storage_release(rt_storage *s)
{
    if (__atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (s->prev) {
        pthread_mutex_lock(&rt_reg_lock);
        s->prev->next = s->next;
        s->next->prev = s->prev;
        pthread_mutex_unlock(&rt_reg_lock);
    }
    const rt_backend *be = rt_backend_get(s->device);
    if (be && s->buf)
        be->buffer_free(s->buf);
    rt_memory_reserve(s->device, -(int64_t)s->nbytes);
    __atomic_sub_fetch(&rt_counters(s->device)->live_storages, 1,
                       __ATOMIC_RELAXED);
    rt_host_copy_drop(s);
    free(s);
}

/* A reference to s unless it is already on its way out (refcount 0).
 * Called under rt_reg_lock, which keeps s itself alive. */
static int rt_storage_try_retain(rt_storage *s)
{
    int n = __atomic_load_n(&s->refcount, __ATOMIC_RELAXED);
    while (n > 0)
        if (__atomic_compare_exchange_n(&s->refcount, &n, n + 1, 1,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return 1;
    return 0;
}

static rt_status rt_storage_new(rt_storage **out, rt_device dev,
                                int64_t numel)
{
    *out = NULL;
    const rt_backend *be = rt_backend_get(dev);
    if (!be)
        return rt_error_set(RT_ERR_DEVICE, "no %s backend is available",
                            rt_device_name(dev));
    size_t nbytes = (size_t)numel * sizeof(float);
    rt_status st = rt_memory_reserve(dev, (int64_t)nbytes);
    if (st != RT_OK)
        return st;
    rt_storage *s = calloc(1, sizeof *s);
    if (!s) {
        rt_memory_reserve(dev, -(int64_t)nbytes);
        return rt_error_set(RT_ERR_NOMEM, "out of memory for a tensor header");
    }
    s->nbytes = nbytes;
    s->device = dev;
    s->refcount = 1;
    /* A zero-element tensor still gets a valid (1-byte) buffer. */
    st = be->buffer_alloc(nbytes ? nbytes : 1, &s->buf);
    if (st != RT_OK) {
        rt_memory_reserve(dev, -(int64_t)nbytes);
        free(s);
        return st;
    }
    __atomic_add_fetch(&rt_counters(dev)->live_storages, 1, __ATOMIC_RELAXED);
    *out = s;
    return RT_OK;
}

/* A header over `s` (whose reference it takes over) at `offset`; a fresh
 * storage joins the registry with its first header (one lock for both). */
static rt_status rt_tensor_wrap(rt_tensor **out, rt_storage *s, int64_t offset,
                                int ndim, const int64_t *shape, int64_t numel)
{
    rt_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        rt_storage_release(s);
        return rt_error_set(RT_ERR_NOMEM, "out of memory for a tensor header");
    }
    t->storage = s;
    t->offset = offset;
    t->ndim = ndim;
    for (int i = 0; i < RT_MAX_DIMS; i++)
        t->shape[i] = i < ndim ? shape[i] : 1;
    t->numel = numel;
    t->refcount = 1;
    pthread_mutex_lock(&rt_reg_lock);
    if (!s->prev) {
        s->prev = rt_reg.prev;
        s->next = &rt_reg;
        rt_reg.prev->next = s;
        rt_reg.prev = s;
    }
    /* data and device under the lock: a move may be committing. */
    t->device = s->device;
    t->data = (float *)s->buf + offset;
    t->view_next = s->views;
    if (s->views)
        s->views->view_prev = t;
    s->views = t;
    pthread_mutex_unlock(&rt_reg_lock);
    __atomic_add_fetch(&rt_counters(t->device)->live_tensors, 1,
                       __ATOMIC_RELAXED);
    *out = t;
    return RT_OK;
}

rt_status rt_tensor_new(rt_tensor **out, rt_device dev, int ndim,
                        const int64_t *shape)
{
    *out = NULL;
    if ((unsigned)dev >= RT_DEVICE_COUNT)
        return rt_error_set(RT_ERR_ARG, "unknown device %d", (int)dev);
    int64_t numel;
    rt_status st = rt_shape_numel(ndim, shape, &numel);
    if (st != RT_OK)
        return st;
    rt_storage *s;
    if ((st = rt_storage_new(&s, dev, numel)) != RT_OK)
        return st;
    return rt_tensor_wrap(out, s, 0, ndim, shape, numel);
}

rt_status rt_tensor_new_nhwc(rt_tensor **out, rt_device dev, int64_t n,
                             int64_t h, int64_t w, int64_t c)
{
    const int64_t shape[4] = {n, h, w, c};
    return rt_tensor_new(out, dev, 4, shape);
}

rt_status rt_tensor_from_host(rt_tensor **out, rt_device dev, int ndim,
                              const int64_t *shape, const float *src)
{
    rt_status st = rt_tensor_new(out, dev, ndim, shape);
    if (st == RT_OK && (st = rt_tensor_copy_from_host(*out, src)) != RT_OK) {
        rt_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

rt_tensor *rt_tensor_retain(rt_tensor *t)
{
    if (t)
        __atomic_add_fetch(&t->refcount, 1, __ATOMIC_RELAXED);
    return t;
}

void rt_tensor_release(rt_tensor *t)
{
    if (!t || __atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    rt_storage *s = t->storage;
    pthread_mutex_lock(&rt_reg_lock);
    if (t->view_prev)
        t->view_prev->view_next = t->view_next;
    else
        s->views = t->view_next;
    if (t->view_next)
        t->view_next->view_prev = t->view_prev;
    rt_device dev = t->device;
    pthread_mutex_unlock(&rt_reg_lock);
    __atomic_sub_fetch(&rt_counters(dev)->live_tensors, 1, __ATOMIC_RELAXED);
    rt_storage_release(s);
    free(t);
}

rt_status rt_tensor_view(rt_tensor **out, rt_tensor *t, int64_t offset,
                         int ndim, const int64_t *shape)
{
    *out = NULL;
    int64_t numel;
    rt_status st = rt_shape_numel(ndim, shape, &numel);
    if (st != RT_OK)
        return st;
    if (offset < 0 || offset > t->numel || numel > t->numel - offset) {
        char a[160], b[160];
        return rt_error_set(RT_ERR_SHAPE, "a view %s at offset %lld does not "
            "fit in a tensor %s", rt_shape_format(ndim, shape, a, sizeof a),
            (long long)offset, rt_shape_format(t->ndim, t->shape, b, sizeof b));
    }
    __atomic_add_fetch(&t->storage->refcount, 1, __ATOMIC_RELAXED);
    return rt_tensor_wrap(out, t->storage, t->offset + offset, ndim, shape,
                          numel);
}

rt_status rt_tensor_reshape(rt_tensor **out, rt_tensor *t, int ndim,
                            const int64_t *shape)
{
    *out = NULL;
    if (ndim < 0 || ndim > RT_MAX_DIMS)
        return rt_error_set(RT_ERR_SHAPE, "cannot reshape to %d dimensions",
                            ndim);
    int64_t s[RT_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1 && infer < 0) {
            infer = i;
            continue;
        }
        if (s[i] < 0)
            return rt_error_set(RT_ERR_SHAPE, "reshape: dimension %d is %lld",
                                i, (long long)s[i]);
        if (s[i] != 0 && known > RT_MAX_NUMEL / s[i])
            return rt_error_set(RT_ERR_SHAPE, "reshape: too many elements");
        known *= s[i];
    }
    if (infer >= 0)
        s[infer] = (known > 0 && t->numel % known == 0) ? t->numel / known : -1;
    int64_t numel;
    rt_status st = rt_shape_numel(ndim, s, &numel);
    if (st != RT_OK || numel != t->numel) {
        char a[160], b[160];
        return rt_error_set(RT_ERR_SHAPE, "cannot reshape %s (%lld elements) "
            "to %s", rt_shape_format(t->ndim, t->shape, a, sizeof a),
            (long long)t->numel, rt_shape_format(ndim, shape, b, sizeof b));
    }
    return rt_tensor_view(out, t, 0, ndim, s);
}

rt_status rt_tensor_slice(rt_tensor **out, rt_tensor *t, int64_t start,
                          int64_t count)
{
    *out = NULL;
    if (t->ndim < 1)
        return rt_error_set(RT_ERR_SHAPE, "cannot slice a scalar");
    if (start < 0 || count < 0 || start > t->shape[0]
        || count > t->shape[0] - start)
        return rt_error_set(RT_ERR_SHAPE, "slice [%lld, %lld) is outside axis "
            "0 of length %lld", (long long)start, (long long)(start + count),
            (long long)t->shape[0]);
    int64_t shape[RT_MAX_DIMS], row = 1;
    for (int i = 0; i < t->ndim; i++)
        shape[i] = t->shape[i];
    for (int i = 1; i < t->ndim; i++)
        row *= t->shape[i];
    shape[0] = count;
    return rt_tensor_view(out, t, start * row, t->ndim, shape);
}

rt_status rt_tensor_flatten(rt_tensor **out, rt_tensor *t)
{
    if (t->ndim < 1) {
        *out = NULL;
        return rt_error_set(RT_ERR_SHAPE, "cannot flatten a scalar");
    }
    const int64_t shape[2] = {t->shape[0], -1};
    if (t->shape[0] == 0) {
        const int64_t empty[2] = {0, 0};
        return rt_tensor_view(out, t, 0, 2, empty);
    }
    return rt_tensor_reshape(out, t, 2, shape);
}

static const rt_backend *rt_tensor_backend(const rt_tensor *t)
{
    const rt_backend *be = rt_backend_get(t->device);
    if (!be)
        rt_error_set(RT_ERR_DEVICE, "no %s backend is available",
                     rt_device_name(t->device));
    return be;
}

rt_status rt_tensor_copy_to_host(const rt_tensor *t, float *dst)
{
    const rt_backend *be = rt_tensor_backend(t);
    if (!be)
        return RT_ERR_DEVICE;
    return be->copy_to_host(dst, t->data, (size_t)t->numel * sizeof(float));
}

rt_status rt_tensor_copy_from_host(rt_tensor *t, const float *src)
{
    const rt_backend *be = rt_tensor_backend(t);
    if (!be)
        return RT_ERR_DEVICE;
    return be->copy_from_host(t->data, src, (size_t)t->numel * sizeof(float));
}

rt_status rt_tensor_copy(rt_tensor *dst, const rt_tensor *src)
{
    if (dst->numel != src->numel)
        return rt_error_set(RT_ERR_SHAPE, "copy: %lld elements into %lld",
                            (long long)src->numel, (long long)dst->numel);
    size_t nbytes = (size_t)src->numel * sizeof(float);
    if (dst->device == src->device) {
        const rt_backend *be = rt_tensor_backend(dst);
        return be ? be->copy(dst->data, src->data, nbytes) : RT_ERR_DEVICE;
    }
    if (src->device == RT_DEVICE_CPU)
        return rt_tensor_copy_from_host(dst, src->data);
    if (dst->device == RT_DEVICE_CPU)
        return rt_tensor_copy_to_host(src, dst->data);
    return rt_error_set(RT_ERR_DEVICE, "copy between two accelerators is not "
                        "supported");
}

rt_status rt_tensor_to_device(rt_tensor **out, const rt_tensor *t,
                              rt_device dev)
{
    rt_status st = rt_tensor_new(out, dev, t->ndim, t->shape);
    if (st == RT_OK && (st = rt_tensor_copy(*out, t)) != RT_OK) {
        rt_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

rt_status rt_tensor_on_device(rt_tensor **out, rt_tensor *t, rt_device dev)
{
    if (t->device != dev)
        return rt_tensor_to_device(out, t, dev);
    *out = rt_tensor_retain(t);
    return RT_OK;
}

rt_status rt_tensor_fill(rt_tensor *t, float value)
{
    const rt_backend *be = rt_tensor_backend(t);
    return be ? be->fill(t->data, (size_t)t->numel, value) : RT_ERR_DEVICE;
}

int rt_tensor_same_shape(const rt_tensor *a, const rt_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

int64_t rt_tensor_dim(const rt_tensor *t, int i)
{
    if (i < 0)
        i += t->ndim;
    return (i >= 0 && i < t->ndim) ? t->shape[i] : 0;
}

int64_t rt_tensor_nbytes(const rt_tensor *t)
{
    return t->numel * (int64_t)sizeof(float);
}

/* ---- the storage registry: kinds, moves, checkpoints ---- */

void rt_tensor_set_kind(rt_tensor *t, rt_storage_kind kind)
{
    __atomic_store_n(&t->storage->kind, (unsigned char)kind, __ATOMIC_RELAXED);
}

void rt_tensor_set_backup(rt_tensor *t, int on)
{
    __atomic_store_n(&t->storage->backup, (unsigned char)(on != 0),
                     __ATOMIC_RELAXED);
}

/* New references to the storages on dev whose kind is in `kinds` (and
 * that are backed up, with backup_only). Caller frees the array and
 * releases each. */
static rt_status rt_storages_collect(rt_device dev, unsigned kinds, int backup_only,
                                     rt_storage ***out, int *count)
{
    int n = 0, cap = 0;
    rt_storage **v = NULL;
    rt_status st = RT_OK;
    pthread_mutex_lock(&rt_reg_lock);
    for (rt_storage *s = rt_reg.next; s != &rt_reg && st == RT_OK; s = s->next) {
        if (s->device != dev || !((kinds >> s->kind) & 1u) || (backup_only && !s->backup))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            rt_storage **g = realloc(v, sizeof *v * (size_t)cap);
            if (!g) {
                st = rt_error_set(RT_ERR_NOMEM, "out of memory listing tensors");
                break;
            }
            v = g;
        }
        if (rt_storage_try_retain(s))
            v[n++] = s;
    }
    pthread_mutex_unlock(&rt_reg_lock);
    if (st != RT_OK) {
        for (int i = 0; i < n; i++)
            rt_storage_release(v[i]);
        free(v);
        return st;
    }
    *out = v;
    *count = n;
    return RT_OK;
}

static void rt_storages_drop(rt_storage **v, int n)
{
    for (int i = 0; i < n; i++)
        rt_storage_release(v[i]);
    free(v);
}

/* Account bytes past the limit: recovery must place what it can. */
static void rt_memory_force(rt_device dev, int64_t bytes)
{
    rt_memory_counters *m = rt_counters(dev);
    int64_t now = __atomic_add_fetch(&m->live_bytes, bytes, __ATOMIC_RELAXED);
    int64_t peak = __atomic_load_n(&m->peak_bytes, __ATOMIC_RELAXED);
    while (now > peak && !__atomic_compare_exchange_n(&m->peak_bytes, &peak,
               now, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

/* Fill nbuf (on `to`) with s's contents: copied from the source device,
 * or from the host copy when restoring (zero when there is none). */
static rt_status rt_move_fill(rt_storage *s, void *nbuf, rt_device to, int restore,
                              int *restored)
{
    const rt_backend *src = rt_backend_get(s->device), *dst = rt_backend_get(to);
    *restored = 0;
    if (!s->nbytes)
        return RT_OK;
    if (restore) {
        if (!s->backup || !s->host_copy)
            return RT_OK; /* buffers come zero-filled */
        *restored = 1;
        return dst->copy_from_host(nbuf, s->host_copy, s->nbytes);
    }
    if (!src)
        return rt_error_set(RT_ERR_DEVICE, "no %s backend is available",
                            rt_device_name(s->device));
    if (to == RT_DEVICE_CPU)
        return src->copy_to_host(nbuf, s->buf, s->nbytes);
    if (s->device == RT_DEVICE_CPU)
        return dst->copy_from_host(nbuf, s->buf, s->nbytes);
    return rt_error_set(RT_ERR_DEVICE, "moving between two accelerators is not supported");
}

/* Switch s and every header over it to nbuf on `to`; returns the old
 * buffer. Under rt_reg_lock. */
static void *rt_move_commit(rt_storage *s, void *nbuf, rt_device to)
{
    void *old = s->buf;
    int64_t views = 0;
    rt_device from = s->device;
    for (rt_tensor *t = s->views; t; t = t->view_next) {
        t->data = (float *)nbuf + t->offset;
        t->device = to;
        views++;
    }
    s->buf = nbuf;
    s->device = to;
    __atomic_sub_fetch(&rt_counters(from)->live_tensors, views, __ATOMIC_RELAXED);
    __atomic_add_fetch(&rt_counters(to)->live_tensors, views, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&rt_counters(from)->live_storages, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&rt_counters(to)->live_storages, 1, __ATOMIC_RELAXED);
    return old;
}

/* New buffers on `to` for v[0..n), filled; NULL entries (restore only)
 * could not be placed. On failure (not restoring) nothing is kept. */
static rt_status rt_move_prepare(rt_storage **v, int n, rt_device to, int restore,
                                 void **nbuf, int *restored)
{
    const rt_backend *dst = rt_backend_get(to);
    rt_status st = RT_OK;
    int i;
    for (i = 0; i < n; i++) {
        st = dst->buffer_alloc(v[i]->nbytes ? v[i]->nbytes : 1, &nbuf[i]);
        if (st == RT_OK)
            st = rt_move_fill(v[i], nbuf[i], to, restore, &restored[i]);
        if (st == RT_OK)
            continue;
        if (nbuf[i])
            dst->buffer_free(nbuf[i]);
        nbuf[i] = NULL;
        if (!restore)
            break;
    }
    if (st != RT_OK && !restore)
        for (int k = 0; k < i; k++)
            dst->buffer_free(nbuf[k]);
    return restore ? RT_OK : st;
}

static void rt_move_finish(rt_storage **v, int n, rt_device from, rt_device to,
                           void **nbuf, const int *restored, int restore,
                           rt_move_report *rep)
{
    void **old = calloc((size_t)n, sizeof *old);
    pthread_mutex_lock(&rt_reg_lock);
    for (int i = 0; i < n; i++)
        if (nbuf[i]) {
            void *o = rt_move_commit(v[i], nbuf[i], to);
            if (old)
                old[i] = o;
        }
    pthread_mutex_unlock(&rt_reg_lock);
    const rt_backend *src = rt_backend_get(from);
    for (int i = 0; i < n; i++) {
        int64_t b = (int64_t)v[i]->nbytes;
        if (!nbuf[i]) {
            if (rep) {
                rep->lost++;
                rep->lost_bytes += b;
            }
            continue;
        }
        if (old && old[i] && src)
            src->buffer_free(old[i]); /* without `old`, leaked: we are out of memory */
        rt_memory_reserve(from, -b);
        if (to == RT_DEVICE_CPU)
            rt_host_copy_drop(v[i]);
        if (!rep)
            continue;
        rep->storages++;
        rep->bytes += b;
        if (restored[i]) {
            rep->restored++;
            rep->restored_bytes += b;
        } else if (restore) { /* zero-filled */
            rep->lost++;
            rep->lost_bytes += b;
        }
    }
    free(old);
}

rt_status rt_storages_move(rt_device from, rt_device to, unsigned kinds, int restore,
                           rt_move_report *rep)
{
    if (rep)
        memset(rep, 0, sizeof *rep);
    if ((unsigned)from >= RT_DEVICE_COUNT || (unsigned)to >= RT_DEVICE_COUNT)
        return rt_error_set(RT_ERR_ARG, "unknown device");
    if (from == to)
        return RT_OK;
    if (!rt_backend_get(to))
        return rt_error_set(RT_ERR_DEVICE, "no %s backend is available",
                            rt_device_name(to));
    rt_storage **v = NULL;
    int n = 0;
    rt_status st = rt_storages_collect(from, kinds, 0, &v, &n);
    if (st != RT_OK || n == 0) {
        free(v);
        return st;
    }
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        total += (int64_t)v[i]->nbytes;
    void **nbuf = calloc((size_t)n, sizeof *nbuf);
    int *restored = calloc((size_t)n, sizeof *restored);
    if (!nbuf || !restored)
        st = rt_error_set(RT_ERR_NOMEM, "out of memory moving tensors");
    if (st == RT_OK && restore)
        rt_memory_force(to, total);
    else if (st == RT_OK)
        st = rt_memory_reserve(to, total);
    if (st == RT_OK) {
        st = rt_move_prepare(v, n, to, restore, nbuf, restored);
        if (st != RT_OK) {
            rt_memory_reserve(to, -total);
        } else {
            for (int i = 0; restore && i < n; i++)
                if (!nbuf[i])
                    rt_memory_reserve(to, -(int64_t)v[i]->nbytes);
            rt_move_finish(v, n, from, to, nbuf, restored, restore, rep);
        }
    }
    free(nbuf);
    free(restored);
    rt_storages_drop(v, n);
    return st;
}

rt_status rt_storages_checkpoint(rt_device dev, uint64_t gen)
{
    const rt_backend *be = rt_backend_get(dev);
    if (dev == RT_DEVICE_CPU || !be)
        return RT_OK;
    rt_storage **v = NULL;
    int n = 0;
    rt_status st = rt_storages_collect(dev, 1u << RT_STORAGE_MODEL, 1, &v, &n);
    for (int i = 0; i < n && st == RT_OK; i++) {
        rt_storage *s = v[i];
        if (s->host_copy && s->copy_gen == gen)
            continue;
        /* Into a fresh buffer: a copy that fails half-way must not spoil
         * the previous one. */
        if ((st = rt_memory_reserve(RT_DEVICE_CPU, (int64_t)s->nbytes)) != RT_OK)
            break;
        float *copy = malloc(s->nbytes ? s->nbytes : 1);
        if (!copy) {
            rt_memory_reserve(RT_DEVICE_CPU, -(int64_t)s->nbytes);
            st = rt_error_set(RT_ERR_NOMEM, "out of memory for a host copy of "
                              "the model (%.1f MB)", s->nbytes / 1e6);
            break;
        }
        st = s->nbytes ? be->copy_to_host(copy, s->buf, s->nbytes) : RT_OK;
        if (st != RT_OK) {
            free(copy);
            rt_memory_reserve(RT_DEVICE_CPU, -(int64_t)s->nbytes);
            break;
        }
        pthread_mutex_lock(&rt_reg_lock); /* recovery reads host_copy */
        float *old = s->host_copy;
        s->host_copy = copy;
        s->copy_gen = gen;
        pthread_mutex_unlock(&rt_reg_lock);
        if (old) {
            free(old);
            rt_memory_reserve(RT_DEVICE_CPU, -(int64_t)s->nbytes);
        }
    }
    rt_storages_drop(v, n);
    return st;
}
