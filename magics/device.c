/*
 * device.c - `%device`: the device the session computes on, and moving it.
 * `%device` alone says where and how to switch; `%device gpu` moves every
 * model (weights, gradients, optimizer state) to the GPU and `%device cpu`
 * everything back, all or nothing; `--tf32` / `--fp32` choose the GPU's math.
 *
 * Also the host's hook at the end of each cell (gpu_session.h): a GPU lost
 * during the cell moves the session to the CPU, and otherwise the models'
 * host copies are refreshed so that a later loss keeps this cell's work.
 */
#include "magics.h"
#include "gpu_session.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "device.h"

/* To the GPU go the models (weights, gradients, optimizer state, caches);
 * tensors made in cells stay on the CPU, where the language reads them, and
 * are copied when an op needs them. Back to the CPU goes everything. */
#define TO_GPU_KINDS (1u << RT_STORAGE_MODEL)
#define TO_CPU_KINDS ((1u << RT_STORAGE_DATA) | (1u << RT_STORAGE_MODEL))

typedef struct device_args {
    int dev;  /* rt_device, or -1: not given */
    int math; /* RT_CUDA_MATH_*, or -1: not given */
} device_args;

static const char *device_word(rt_device dev)
{
    return dev == RT_DEVICE_CUDA ? "GPU" : "CPU";
}

/* A runtime message as a clause: copied, without its final period. */
static const char *clause(const char *msg, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", msg);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '.' || buf[n - 1] == ' ' || buf[n - 1] == '\n'))
        buf[--n] = '\0';
    return buf;
}

/* device_args -> [gpu | cpu] [--tf32 | --fp32] */
static bool device_parse(magic_ctx *mx, const char *args, device_args *a)
{
    char copy[256], *save = NULL;
    a->dev = a->math = -1;
    if (strlen(args) >= sizeof copy)
        return magic_error(mx, "UsageError", "%%device takes gpu or cpu (and --tf32 or "
                           "--fp32 after gpu); got a %zu-character line", strlen(args));
    snprintf(copy, sizeof copy, "%s", args);
    for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        int dev = strcmp(w, "gpu") == 0 || strcmp(w, "cuda") == 0 ? RT_DEVICE_CUDA
                : strcmp(w, "cpu") == 0 ? RT_DEVICE_CPU : -1;
        int math = strcmp(w, "--tf32") == 0 ? RT_CUDA_MATH_TF32
                 : strcmp(w, "--fp32") == 0 ? RT_CUDA_MATH_FP32 : -1;
        if ((dev < 0 && math < 0) || (dev >= 0 && a->dev >= 0) || (math >= 0 && a->math >= 0))
            return magic_error(mx, "UsageError", "%%device takes gpu or cpu, and after gpu "
                               "either --tf32 or --fp32, e.g. %%device gpu --tf32; got '%s'",
                               args);
        if (dev >= 0)
            a->dev = dev;
        else
            a->math = math;
    }
    if (a->math >= 0 && a->dev != RT_DEVICE_CUDA)
        return magic_error(mx, "UsageError", "--tf32 and --fp32 choose the GPU's math: "
                           "write them after gpu, e.g. %%device gpu --tf32");
    return true;
}

static bool device_show(magic_ctx *mx)
{
    rt_cuda_info info;
    char why[512];
    if (rt_session_device() == RT_DEVICE_CUDA && rt_gpu_info(&info))
        sink_printf(mx->sink, "stdout", "This session computes on the GPU: %s. `%%device cpu` "
                    "moves it to the CPU; %%gpu shows the details.\n", info.name);
    else if (rt_gpu_available(0) && rt_gpu_info(&info))
        sink_printf(mx->sink, "stdout", "This session computes on the CPU. `%%device gpu` "
                    "moves it to the GPU (%s).\n", info.name);
    else
        sink_printf(mx->sink, "stdout", "This session computes on the CPU: there is no GPU "
                    "(%s). %%gpu shows the details.\n", magic_gpu_reason(why, sizeof why));
    return true;
}

/* The move failed: nothing moved (all or nothing), unless the GPU itself
 * was lost on the way, in which case the session is now on the CPU. */
static bool device_move_failed(magic_ctx *mx, rt_device to, rt_device from, rt_status st)
{
    char msg[1024], why[1024];
    clause(rt_error_message(), msg, sizeof msg);
    if (st == RT_ERR_DEVICE && rt_device_recover(why, sizeof why)) {
        sink_printf(mx->sink, "stderr", "%s\n", why);
        return magic_error(mx, "RuntimeError", "%%device %s: %s", to == RT_DEVICE_CUDA
                           ? "gpu" : "cpu", msg);
    }
    return magic_error(mx, st == RT_ERR_NOMEM ? "MemoryError" : "RuntimeError",
                       "%%device %s: %s. Nothing was moved: the session still computes on "
                       "the %s.", to == RT_DEVICE_CUDA ? "gpu" : "cpu", msg,
                       device_word(from));
}

static void device_moved(magic_ctx *mx, rt_device to, rt_device from,
                         const rt_move_report *rep)
{
    char size[32], where[200] = "";
    rt_cuda_info info;
    if (rep->storages)
        sink_printf(mx->sink, "stdout", "Moved %" PRId64 " buffer%s (%s of models' weights and "
                    "optimizer state%s) to the %s.\n", rep->storages,
                    rep->storages == 1 ? "" : "s",
                    magic_bytes_text((double)rep->bytes, size, sizeof size),
                    to == RT_DEVICE_CPU ? ", and tensors" : "", device_word(to));
    if (to == RT_DEVICE_CUDA && rt_gpu_info(&info))
        snprintf(where, sizeof where, ": %s", info.name);
    sink_printf(mx->sink, "stdout", "The session %s computes on the %s%s.\n",
                from == to && !rep->storages ? "already" : "now", device_word(to), where);
}

static bool device_math(magic_ctx *mx, int math)
{
    rt_status st = rt_gpu_set_math(math);
    char msg[1024];
    if (st != RT_OK)
        return magic_error(mx, "RuntimeError", "%%device gpu %s: %s",
                           math == RT_CUDA_MATH_TF32 ? "--tf32" : "--fp32",
                           clause(rt_error_message(), msg, sizeof msg));
    if (math == RT_CUDA_MATH_TF32)
        sink_printf(mx->sink, "stdout", "Math: TF32 - convolutions and matrix products use "
                    "the tensor cores: faster, but slightly less exact than float32. "
                    "`%%device gpu --fp32` goes back.\n");
    else
        sink_printf(mx->sink, "stdout", "Math: float32, as exact as on the CPU (the "
                    "default). `%%device gpu --tf32` is faster on tensor cores but slightly "
                    "less exact.\n");
    return true;
}

static bool device_select(magic_ctx *mx, const device_args *a)
{
    rt_device to = (rt_device)a->dev;
    char why[512];
    if (to == RT_DEVICE_CUDA && !rt_gpu_available(1))
        return magic_error(mx, "RuntimeError", "%%device gpu: there is no GPU to use: %s. "
                           "The session keeps computing on the CPU, where everything works, "
                           "only more slowly.", magic_gpu_reason(why, sizeof why));
    rt_device from = rt_session_device();
    rt_move_report rep;
    rt_status st = rt_device_select(to, to == RT_DEVICE_CUDA ? TO_GPU_KINDS : TO_CPU_KINDS,
                                    &rep);
    if (st != RT_OK)
        return device_move_failed(mx, to, from, st);
    device_moved(mx, to, from, &rep);
    return a->math < 0 || device_math(mx, a->math);
}

static bool device_run(magic_ctx *mx, const char *args, const char *body)
{
    (void)body;
    device_args a;
    if (!device_parse(mx, args, &a))
        return false;
    return a.dev < 0 ? device_show(mx) : device_select(mx, &a);
}

const magic_def magic_device = {
    "device", "%device [gpu | cpu] [--tf32 | --fp32]",
    "Chooses where the session computes. `%device` alone says where it computes now. "
    "`%device gpu` moves every model (weights and optimizer state) to the GPU, `%device "
    "cpu` moves them and any tensor back to the CPU; the variables stay as they are, nothing "
    "needs running again. A GPU is used by default when there is one (%gpu says which, or why "
    "not). `%device gpu --tf32` makes convolutions and matrix products use the tensor "
    "cores' TF32 arithmetic: faster, but slightly less exact than the default float32; "
    "`%device gpu --fp32` goes back.",
    device_run, true, false,
};

/* ---- the end of a cell ---- */

void magics_cell_end(lang_session *s, const lang_sink *sink, const lang_result *r)
{
    static bool gpu_seen; /* once true, asking the session device never probes */
    (void)s;
    if (!gpu_seen && !rt_gpu_available(0))
        return;
    gpu_seen = true;
    if (rt_session_device() != RT_DEVICE_CUDA)
        return;
    char why[1024], msg[1024];
    if (!r->ok && rt_device_recover(why, sizeof why)) {
        sink_printf(sink, "stderr", "%s\n", why);
        return;
    }
    rt_status st = rt_device_checkpoint();
    if (st == RT_OK)
        return;
    clause(rt_error_message(), msg, sizeof msg);
    if (st == RT_ERR_DEVICE && rt_device_recover(why, sizeof why))
        sink_printf(sink, "stderr", "%s\n", why);
    else
        sink_printf(sink, "stderr", "Warning: the copy of the models' weights kept in memory "
                    "(to recover from a GPU failure) could not be refreshed: %s.\n", msg);
}
