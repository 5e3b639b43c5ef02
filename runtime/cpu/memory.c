/* CPU buffers, elementwise fills and the per-thread workspace. */
#include <stdlib.h>
#include <string.h>

#include "cpu_ops.h"

rt_status rt_cpu_buffer_alloc(size_t nbytes, void **out)
{
    /* calloc: large buffers come straight from zeroed pages (no memset). */
    *out = calloc(1, nbytes);
    if (!*out)
        return rt_error_set(RT_ERR_NOMEM, "out of memory allocating %.1f MB",
                            nbytes / 1e6);
    return RT_OK;
}

void rt_cpu_buffer_free(void *p)
{
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
        rt_error_set(RT_ERR_NOMEM, "out of memory for a %.1f MB workspace",
                     nbytes / 1e6);
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
