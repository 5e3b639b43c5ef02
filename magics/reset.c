/*
 * reset.c - `%reset`: drops every variable of the session. Runtime objects
 * (tensors, models, generators) are freed as their last reference goes, so
 * the memory they held is given back; the figures before and after say so.
 * On a GPU the freed buffers first go back to this kernel's pool, which is
 * then emptied so that other users of a shared GPU get the memory too.
 */
#include "magics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "tensor.h"

#define LIST_MAX 12   /* names shown before "and N more" */

static void reset_list(magic_ctx *mx, const char **names, int n)
{
    sink_printf(mx->sink, "stdout", "Cleared %d variable%s: ", n, n == 1 ? "" : "s");
    for (int i = 0; i < n && i < LIST_MAX; i++)
        sink_printf(mx->sink, "stdout", "%s%s", i ? ", " : "", names[i]);
    if (n > LIST_MAX)
        sink_printf(mx->sink, "stdout", " and %d more", n - LIST_MAX);
    sink_printf(mx->sink, "stdout", ".\n");
}

static bool reset_run(magic_ctx *mx, const char *args, const char *body)
{
    (void)body;
    if (*args)
        return magic_error(mx, "UsageError", "%%reset takes no arguments; got '%s' "
                           "(it always clears every variable)", args);
    int n = 0;
    const char **names = lang_global_names(mx->session, &n);
    if (!names)
        return magic_error(mx, "MemoryError", "out of memory while listing variables");
    if (n == 0) {
        free(names);
        sink_printf(mx->sink, "stdout", "Nothing to clear: there are no variables.\n");
        return true;
    }
    bool gpu = rt_gpu_available(0) != 0;   /* only when already looked for */
    rt_memory_stats before, after, gpu_before, gpu_after;
    rt_memory_stats_get(RT_DEVICE_CPU, &before);
    rt_memory_stats_get(RT_DEVICE_CUDA, &gpu_before);
    reset_list(mx, names, n);     /* names are borrowed: print before the reset */
    free(names);
    lang_session_reset(mx->session);
    rt_memory_stats_get(RT_DEVICE_CPU, &after);
    rt_memory_stats_get(RT_DEVICE_CUDA, &gpu_after);
    if (gpu)
        rt_gpu_pool_trim();
    int64_t freed = before.live_bytes - after.live_bytes;
    int64_t tensors = before.live_tensors - after.live_tensors
                    + gpu_before.live_tensors - gpu_after.live_tensors;
    char on_gpu[64] = "";
    if (gpu)
        snprintf(on_gpu, sizeof on_gpu, " on the CPU, %.1f MB on the GPU",
                 (double)(gpu_before.live_bytes > gpu_after.live_bytes
                          ? gpu_before.live_bytes - gpu_after.live_bytes : 0) / 1e6);
    sink_printf(mx->sink, "stdout", "Their runtime objects were released (%" PRId64
                " tensor%s, %.1f MB freed%s). Run the cells again to make them anew.\n",
                tensors, tensors == 1 ? "" : "s", (double)(freed > 0 ? freed : 0) / 1e6,
                on_gpu);
    return true;
}

const magic_def magic_reset = {
    "reset", "%reset",
    "Clears every variable of the notebook (numbers, strings, images, models, "
    "generators) and frees the memory they held, as if the kernel had just started; "
    "functions you defined are cleared too. Use it when memory runs low or to start "
    "over without restarting. The cells that made them can simply be run again.",
    reset_run, true, false,
};
