/* CPU buffers, elementwise fills and the per-thread workspace. */
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_ops.h"

/* Large buffers are kept for reuse instead of going back to the system.
 * A training step frees and allocates the same activation and gradient
 * sizes batch after batch; returned to the system, every one of them came
 * back as fresh pages, each faulted in and zeroed by the kernel on first
 * touch: an unfrozen InceptionV3 epoch took 22.5 s that way and 17.7 s with
 * this cache (bench/runtime_bench, 2 cores). Blocks of RT_CACHE_MIN bytes or
 * more are cached, up to RT_CACHE_MAX bytes in all, and handed out again
 * (zeroed, as calloc would) to the tightest request they fit without
 * wasting more than a quarter.
 * rt_cpu_buffer_cache_trim gives everything back; fit calls it at its end,
 * so an idle kernel does not sit on its training peak. */
#define RT_CACHE_MIN ((size_t)1 << 20)
#define RT_CACHE_MAX ((size_t)1 << 30)
#define RT_CACHE_SLOTS 512

static struct { void *p; size_t n; } rt_cache[RT_CACHE_SLOTS];
static int rt_cache_count;
static size_t rt_cache_bytes;
static pthread_mutex_t rt_cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* A cached block for nbytes, or NULL. */
static void *rt_cache_take(size_t nbytes)
{
    void *p = NULL;
    int best = -1;
    pthread_mutex_lock(&rt_cache_lock);
    for (int i = 0; i < rt_cache_count; i++)     /* the tightest fit */
        if (rt_cache[i].n >= nbytes && rt_cache[i].n - nbytes <= nbytes / 4 &&
            (best < 0 || rt_cache[i].n < rt_cache[best].n))
            best = i;
    if (best >= 0) {
        p = rt_cache[best].p;
        rt_cache_bytes -= rt_cache[best].n;
        rt_cache[best] = rt_cache[--rt_cache_count];
    }
    pthread_mutex_unlock(&rt_cache_lock);
    return p;
}

/* Keep p for reuse; false when the cache is full. */
static bool rt_cache_put(void *p, size_t n)
{
    bool kept = false;
    pthread_mutex_lock(&rt_cache_lock);
    if (rt_cache_count < RT_CACHE_SLOTS && rt_cache_bytes + n <= RT_CACHE_MAX) {
        rt_cache[rt_cache_count].p = p;
        rt_cache[rt_cache_count++].n = n;
        rt_cache_bytes += n;
        kept = true;
    }
    pthread_mutex_unlock(&rt_cache_lock);
    return kept;
}

void rt_cpu_buffer_cache_trim(void)
{
    pthread_mutex_lock(&rt_cache_lock);
    for (int i = 0; i < rt_cache_count; i++)
        free(rt_cache[i].p);
    rt_cache_count = 0;
    rt_cache_bytes = 0;
    pthread_mutex_unlock(&rt_cache_lock);
    malloc_trim(0);
}

rt_status rt_cpu_buffer_alloc(size_t nbytes, void **out)
{
    if (nbytes >= RT_CACHE_MIN && (*out = rt_cache_take(nbytes))) {
        memset(*out, 0, nbytes);
        return RT_OK;
    }
    /* calloc: large buffers come straight from zeroed pages (no memset). */
    *out = calloc(1, nbytes);
    if (!*out)
        return rt_error_set(RT_ERR_NOMEM, "The computer is out of memory "
                            "(allocating %.1f MB): use a smaller batch_size "
                            "or free models you no longer need.", nbytes / 1e6);
    return RT_OK;
}

void rt_cpu_buffer_free(void *p)
{
    size_t n = p ? malloc_usable_size(p) : 0;
    if (n < RT_CACHE_MIN || !rt_cache_put(p, n))
        free(p);
}

rt_status rt_cpu_copy(void *dst, const void *src, size_t nbytes)
{
    if (dst != src && nbytes)
        memmove(dst, src, nbytes);
    return RT_OK;
}

rt_status rt_cpu_fill(float *x, size_t n, float value)
{
    if (value == 0.0f) {
        memset(x, 0, n * sizeof *x);
        return RT_OK;
    }
    #pragma omp parallel for if (n > RT_CPU_PARALLEL_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        x[i] = value;
    return RT_OK;
}

rt_status rt_cpu_axpy(float *y, const float *x, size_t n, float alpha)
{
    #pragma omp parallel for if (n > RT_CPU_PARALLEL_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] += alpha * x[i];
    return RT_OK;
}

rt_status rt_cpu_scale(float *x, size_t n, float alpha)
{
    #pragma omp parallel for if (n > RT_CPU_PARALLEL_MIN) schedule(static)
    for (size_t i = 0; i < n; i++)
        x[i] *= alpha;
    return RT_OK;
}

/* Grow-only scratch per thread: conv im2col buffers are reused across calls
 * instead of faulting fresh pages in on every layer. */
static _Thread_local float *rt_ws;
static _Thread_local size_t rt_ws_floats;

float *rt_cpu_workspace(size_t nfloats)
{
    if (nfloats <= rt_ws_floats)
        return rt_ws;
    rt_cpu_workspace_trim();
    size_t nbytes = nfloats * sizeof(float);
    if (rt_memory_reserve(RT_DEVICE_CPU, (int64_t)nbytes) != RT_OK)
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, 64, nbytes) != 0) {
        rt_memory_reserve(RT_DEVICE_CPU, -(int64_t)nbytes);
        rt_error_set(RT_ERR_NOMEM, "The computer is out of memory (a %.1f MB "
                     "workspace): use a smaller batch_size or free models you "
                     "no longer need.", nbytes / 1e6);
        return NULL;
    }
    rt_ws = p;
    rt_ws_floats = nfloats;
    return rt_ws;
}

void rt_cpu_workspace_trim(void)
{
    if (!rt_ws)
        return;
    free(rt_ws);
    rt_memory_reserve(RT_DEVICE_CPU, -(int64_t)(rt_ws_floats * sizeof(float)));
    rt_ws = NULL;
    rt_ws_floats = 0;
}
