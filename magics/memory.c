/*
 * memory.c - `%memory`: what the session holds. Per device: live tensors,
 * their buffers and bytes (with the peak and the limit), from the runtime's
 * counters, and for a GPU this kernel's memory pool; the bytes of language
 * values (strings, lists); and the whole kernel process's resident memory
 * (RSS) as the operating system sees it. The GPU appears only once
 * something has looked for it: %memory never starts the search itself.
 */
#include "magics.h"
#include "gpu_session.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "tensor.h"

const char *magic_bytes_text(double b, char *buf, size_t cap)
{
    if (b >= 1e9)
        snprintf(buf, cap, "%.2f GB", b / 1e9);
    else if (b >= 1e6)
        snprintf(buf, cap, "%.1f MB", b / 1e6);
    else
        snprintf(buf, cap, "%.1f KB", b / 1e3);
    return buf;
}

/* Resident set size from /proc/self/statm, or -1. */
static double memory_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages_total, pages_resident;
    int got = f ? fscanf(f, "%ld %ld", &pages_total, &pages_resident) : 0;
    if (f)
        fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return got == 2 && page > 0 ? (double)pages_resident * (double)page : -1.0;
}

static void memory_device(magic_ctx *mx, rt_device dev)
{
    rt_memory_stats st;
    char live[32], peak[32], limit[32];
    rt_memory_stats_get(dev, &st);
    sink_printf(mx->sink, "stdout", "  %-6s %" PRId64 " tensor%s in %" PRId64 " buffer%s, "
                "%s (peak %s, limit %s)\n", rt_device_name(dev), st.live_tensors,
                st.live_tensors == 1 ? "" : "s", st.live_storages,
                st.live_storages == 1 ? "" : "s",
                magic_bytes_text((double)st.live_bytes, live, sizeof live),
                magic_bytes_text((double)st.peak_bytes, peak, sizeof peak),
                st.limit_bytes ? magic_bytes_text((double)st.limit_bytes, limit, sizeof limit)
                               : "none");
}

static bool memory_run(magic_ctx *mx, const char *args, const char *body)
{
    (void)body;
    if (*args)
        return magic_error(mx, "UsageError", "%%memory takes no arguments; got '%s'", args);
    char buf[256];
    sink_printf(mx->sink, "stdout", "Runtime tensors, per device:\n");
    memory_device(mx, RT_DEVICE_CPU);
    rt_cuda_info info;
    if (rt_gpu_available(0)) {
        memory_device(mx, RT_DEVICE_CUDA);
        if (rt_gpu_info(&info))
            sink_printf(mx->sink, "stdout", "  GPU pool: %s\n",
                        magic_gpu_pool_text(&info, buf, sizeof buf));
    }
    sink_printf(mx->sink, "stdout", "Language values (strings, lists): %s\n",
                magic_bytes_text((double)lang_value_memory(), buf, sizeof buf));
    double rss = memory_rss();
    if (rss >= 0)
        sink_printf(mx->sink, "stdout", "Kernel process (RSS): %s\n",
                    magic_bytes_text(rss, buf, sizeof buf));
    else
        sink_printf(mx->sink, "stdout", "Kernel process (RSS): unknown on this system\n");
    return true;
}

const magic_def magic_memory = {
    "memory", "%memory",
    "Shows the memory the session uses: for each device, how many tensors are alive "
    "and the bytes they hold (with the peak and the limit); on a GPU, this kernel's "
    "memory pool (what it holds from the driver, what is in use, and its cap, set with "
    "HELLODL_GPU_MEMORY_MB); the memory of strings and lists; and the whole kernel's "
    "memory as the system counts it (RSS). %reset frees what variables hold.",
    memory_run, true, false,
};
