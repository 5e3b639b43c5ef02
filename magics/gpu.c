/*
 * gpu.c - `%gpu`: where the session computes and on what. With a GPU: its
 * name, compute capability and multiprocessors, the driver and library
 * versions, its memory, this kernel's memory pool and the math mode;
 * without one, why not in plain words. The CPU's details (BLAS library,
 * threads) either way.
 *
 * %gpu is the one magic that looks for the GPU when nothing has yet (it can
 * take a moment); the kernel never does at start, and %memory never does.
 */
#include "magics.h"
#include "gpu_session.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_ops.h"
#include "device.h"

/* CUDA's driver and runtime versions: 1000 * major + 10 * minor. */
static const char *cuda_version_text(int v, char *buf, size_t cap)
{
    if (v <= 0)
        snprintf(buf, cap, "none");
    else
        snprintf(buf, cap, "%d.%d", v / 1000, v % 1000 / 10);
    return buf;
}

/* cuBLAS and cuDNN: 10000 * major + 100 * minor + patch. */
static const char *lib_version_text(int64_t v, char *buf, size_t cap)
{
    if (v <= 0)
        snprintf(buf, cap, "none");
    else
        snprintf(buf, cap, "%d.%d.%d", (int)(v / 10000), (int)(v / 100 % 100), (int)(v % 100));
    return buf;
}

const char *magic_gpu_pool_text(const rt_cuda_info *info, char *buf, size_t cap)
{
    char reserved[32], in_use[32], limit[96];
    const char *env = getenv("HELLODL_GPU_MEMORY_MB");
    if (!info->pool_cap)
        snprintf(limit, sizeof limit, "no cap (HELLODL_GPU_MEMORY_MB sets one)");
    else if (env && *env)
        snprintf(limit, sizeof limit, "cap HELLODL_GPU_MEMORY_MB=%.20s (%s)", env,
                 magic_bytes_text((double)info->pool_cap, reserved, sizeof reserved));
    else
        snprintf(limit, sizeof limit, "cap %s",
                 magic_bytes_text((double)info->pool_cap, reserved, sizeof reserved));
    snprintf(buf, cap, "%s reserved, %s in use, %s",
             magic_bytes_text((double)info->pool_reserved, reserved, sizeof reserved),
             magic_bytes_text((double)info->pool_in_use, in_use, sizeof in_use), limit);
    return buf;
}

static const char *math_text(int math)
{
    return math == RT_CUDA_MATH_TF32
        ? "TF32 on the tensor cores: faster, slightly less exact than float32 "
          "(`%device gpu --fp32` goes back)"
        : "float32, as on the CPU (`%device gpu --tf32` is faster on tensor cores, "
          "slightly less exact)";
}

static void gpu_describe(magic_ctx *mx, const rt_cuda_info *in, bool in_use)
{
    char drv[16], rt[16], blas[24], dnn[24], total[32], free_b[32], pool[256];
    sink_printf(mx->sink, "stdout", "%s: GPU %d, %s\n",
                in_use ? "Device in use" : "Also available", in->index, in->name);
    if (rt_gpu_emulated())
        sink_printf(mx->sink, "stdout", "  an emulation for tests: the CPU computes behind "
                    "device pointers, without a driver or CUDA libraries\n");
    else
        sink_printf(mx->sink, "stdout", "  compute capability %d.%d, %d multiprocessors\n"
                    "  driver %s, CUDA runtime %s, cuBLAS %s, cuDNN %s\n",
                    in->cc_major, in->cc_minor, in->multiprocessors,
                    cuda_version_text(in->driver_version, drv, sizeof drv),
                    cuda_version_text(in->runtime_version, rt, sizeof rt),
                    lib_version_text(in->cublas_version, blas, sizeof blas),
                    lib_version_text(in->cudnn_version, dnn, sizeof dnn));
    sink_printf(mx->sink, "stdout", "  memory: %s total, %s free (all processes)\n"
                "  this kernel's pool: %s\n"
                "  math: %s\n",
                magic_bytes_text((double)in->total_bytes, total, sizeof total),
                magic_bytes_text((double)in->free_bytes, free_b, sizeof free_b),
                magic_gpu_pool_text(in, pool, sizeof pool), math_text(in->math));
}

static void cpu_describe(magic_ctx *mx, bool in_use)
{
    sink_printf(mx->sink, "stdout", "%s: CPU (backend \"cpu\")\n"
                "  matrix library (BLAS): %s\n"
                "  OpenMP threads: %d\n", in_use ? "Device in use" : "Also available",
                rt_cpu_blas_name(), omp_get_max_threads());
}

const char *magic_gpu_reason(char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", rt_gpu_unavailable_reason());
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '.' || buf[n - 1] == ' ' || buf[n - 1] == '\n'))
        buf[--n] = '\0';
    if (!n)
        snprintf(buf, cap, "no usable GPU was found");
    return buf;
}

static bool gpu_run(magic_ctx *mx, const char *args, const char *body)
{
    (void)body;
    if (*args)
        return magic_error(mx, "UsageError", "%%gpu takes no arguments; got '%s'", args);
    rt_cuda_info info;
    bool gpu = rt_gpu_available(1) && rt_gpu_info(&info);
    bool on_gpu = gpu && rt_session_device() == RT_DEVICE_CUDA;
    if (on_gpu)
        gpu_describe(mx, &info, true);
    cpu_describe(mx, !on_gpu);
    if (gpu && !on_gpu)
        gpu_describe(mx, &info, false);
    const char *note = rt_gpu_settings_note();
    if (*note)
        sink_printf(mx->sink, "stdout", "Note: %s\n", note);
    if (gpu) {
        sink_printf(mx->sink, "stdout", "`%%device %s` moves the session to the %s.\n",
                    on_gpu ? "cpu" : "gpu", on_gpu ? "CPU" : "GPU");
        return true;
    }
    char why[512];
    sink_printf(mx->sink, "stdout", "No GPU: %s. Everything runs on the CPU: training is "
                "slower but gives the same results; the CPU notebook is sized for it.\n",
                magic_gpu_reason(why, sizeof why));
    return true;
}

const magic_def magic_gpu = {
    "gpu", "%gpu",
    "Says where the session computes. With a GPU: its name, compute capability, "
    "multiprocessors, the driver, CUDA, cuBLAS and cuDNN versions, its memory, this "
    "kernel's share of it (the pool; HELLODL_GPU_MEMORY_MB caps it when many people "
    "share one GPU) and the math mode. Without one: why not, and the CPU's details (the "
    "matrix library and the number of threads). Everything works on the CPU too, only "
    "more slowly. %device switches between the two.",
    gpu_run, true, false,
};
