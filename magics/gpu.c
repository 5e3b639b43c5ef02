/*
 * gpu.c - `%gpu`: which device and backend the session computes on. In this
 * build that is always the CPU backend; the magic says so plainly, with the
 * BLAS library and the OpenMP threads it uses. gpu_describe_cuda is the one
 * place that will show a CUDA device's details once a CUDA backend is built.
 */
#include "magics.h"

#include <inttypes.h>
#include <omp.h>
#include <stdio.h>

#include "backend.h"
#include "cpu/cpu_ops.h"
#include "tensor.h"

/* The CUDA device's name, memory and library versions, when a CUDA backend
 * is built and usable; false (nothing printed) otherwise. */
static bool gpu_describe_cuda(magic_ctx *mx)
{
    if (!rt_backend_get(RT_DEVICE_CUDA))
        return false;
    rt_memory_stats st;
    rt_memory_stats_get(RT_DEVICE_CUDA, &st);
    sink_printf(mx->sink, "stdout", "Device: CUDA GPU (backend \"cuda\")\n"
                "  tensors on it: %" PRId64 ", %.1f MB\n", st.live_tensors,
                (double)st.live_bytes / 1e6);
    return true;
}

static void gpu_describe_cpu(magic_ctx *mx, bool in_use)
{
    sink_printf(mx->sink, "stdout", "%s: CPU (backend \"cpu\")\n"
                "  matrix library (BLAS): %s\n"
                "  OpenMP threads: %d\n", in_use ? "Device in use" : "Also available",
                rt_cpu_blas_name(), omp_get_max_threads());
}

static bool gpu_run(magic_ctx *mx, const char *args, const char *body)
{
    (void)body;
    if (*args)
        return magic_error(mx, "UsageError", "%%gpu takes no arguments; got '%s'", args);
    bool cuda_used = rt_backend_default_device() == RT_DEVICE_CUDA && gpu_describe_cuda(mx);
    gpu_describe_cpu(mx, !cuda_used);
    if (!cuda_used)
        sink_printf(mx->sink, "stdout", "No GPU: this build of hellodl has no CUDA "
                    "backend, so everything runs on the CPU. Training is slower but gives "
                    "the same results; the CPU notebook is sized for it.\n");
    return true;
}

const magic_def magic_gpu = {
    "gpu", "%gpu",
    "Says where the session computes: the device and backend in use (a CUDA GPU, or "
    "the CPU), the matrix library (BLAS) and the number of CPU threads. Without a GPU "
    "everything still works, only more slowly.",
    gpu_run, true, false,
};
