/*
 * cuda_lazy.c - device.h: the session's device, the CUDA backend loaded on
 * first use, moves, checkpoints and recovery.
 *
 * The CUDA backend lives in libhellodl_cuda.so (cuda_module.h) so that the
 * core links no CUDA library and one binary runs on every machine. The
 * first call that needs a device (rt_session_device, rt_backend_cuda, ...)
 * probes once: HELLODL_DEVICE=cpu stops there; HELLODL_GPU_EMULATE=1 takes
 * the emulated device (emu_backend.h); otherwise the module is dlopened
 * from $HELLODL_CUDA_MODULE, else <exe dir>/../lib/hellodl/, else the build
 * tree, its rt_cuda_module_init called and the device opened. Whatever
 * fails leaves the session on the CPU with the reason kept for %gpu.
 *
 * Settings read at the probe: HELLODL_GPU_MEMORY_MB caps the GPU memory
 * pool (and the GPU's byte accounting, so the error names the cap);
 * HELLODL_GPU_MATH=tf32 turns on TF32 tensor-core math (fp32 otherwise).
 * Values that cannot be understood are ignored with a remark
 * (rt_gpu_settings_note).
 *
 * Checkpoints and recovery. Host copies are kept only for storages tagged
 * as backed up (rt_tensor_set_backup): the parameter slabs, the optimizer's
 * state and Keras 2.2 BN accumulators. Gradients, cached backbone features
 * and activations have none: after a lost GPU they come back zero-filled,
 * which costs nothing, since gradients are zeroed at every step and caches
 * and activations are rebuilt by the next fit or run. The host-side
 * counters that go with the copies (the optimizer's iteration count, a BN
 * layer's update count, the dropout stream) are recorded at the same time
 * and put back with them (model_impl.h), so training resumes exactly as
 * from the checkpoint.
 */
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "emu_backend.h"
#include "model_impl.h"

const rt_backend *rt_backend_cuda(void);

static struct {
    int available;               /* usable when probed */
    int emulated;
    void *handle;                /* the module's dlopen handle */
    const rt_cuda_module *mod;
    const rt_backend *be;        /* emulated or the module's; NULL: none */
    int64_t cap;                 /* pool cap in bytes; 0: none */
    int math;
    char why[768];               /* why there is no GPU */
    char note[512];              /* settings that were ignored */
} gpu;

static pthread_once_t gpu_once = PTHREAD_ONCE_INIT;
static int gpu_probed;           /* atomic: the probe has run */
static int session_dev = RT_DEVICE_CPU; /* atomic */
static uint64_t touch_gen = 1;   /* atomic: bumped by rt_device_touch */

static void gpu_note_add(const char *fmt, const char *value)
{
    size_t len = strlen(gpu.note);
    snprintf(gpu.note + len, sizeof gpu.note - len, "%s", len ? " " : "");
    len = strlen(gpu.note);
    snprintf(gpu.note + len, sizeof gpu.note - len, fmt, value);
}

/* HELLODL_GPU_MEMORY_MB and HELLODL_GPU_MATH. */
static void gpu_settings_read(void)
{
    const char *mb = getenv("HELLODL_GPU_MEMORY_MB");
    if (mb && *mb) {
        char *end = NULL;
        long long v = strtoll(mb, &end, 10);
        if (end && *end == '\0' && v > 0 && v <= (1LL << 30))
            gpu.cap = (int64_t)v << 20;
        else
            gpu_note_add("HELLODL_GPU_MEMORY_MB=%.40s is not a positive whole number "
                         "of megabytes, so the GPU memory is not capped.", mb);
    }
    const char *math = getenv("HELLODL_GPU_MATH");
    gpu.math = RT_CUDA_MATH_FP32;
    if (math && strcmp(math, "tf32") == 0)
        gpu.math = RT_CUDA_MATH_TF32;
    else if (math && *math && strcmp(math, "fp32") != 0)
        gpu_note_add("HELLODL_GPU_MATH=%.40s is neither fp32 nor tf32, so the GPU "
                     "computes in fp32.", math);
}

/* dlopen `path` when the file exists; a failure's text goes to err. */
static void *gpu_try_open(const char *path, char *err, size_t size, int *tried)
{
    if (access(path, F_OK) != 0)
        return NULL;
    *tried = 1;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        snprintf(err, size, "%s", dlerror());
    return h;
}

static void *gpu_module_open(char *err, size_t size, int *tried)
{
    const char *env = getenv("HELLODL_CUDA_MODULE");
    if (env && *env) {
        *tried = 1;
        void *h = dlopen(env, RTLD_NOW | RTLD_LOCAL);
        if (!h)
            snprintf(err, size, "%s", dlerror());
        return h;
    }
    char self[PATH_MAX], cand[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    void *h = NULL;
    if (n > 0) {
        self[n] = '\0';
        snprintf(cand, sizeof cand, "%s/../lib/hellodl/libhellodl_cuda.so", dirname(self));
        h = gpu_try_open(cand, err, size, tried);
    }
#ifdef HELLODL_CUDA_MODULE_BUILD
    if (!h)
        h = gpu_try_open(HELLODL_CUDA_MODULE_BUILD, err, size, tried);
#endif
    return h;
}

static const rt_cuda_host gpu_host = {
    .error_set = rt_error_set,
    .error_message = rt_error_message,
    .memory_reserve = rt_memory_reserve,
};

/* The real module: loaded, matched and opened, or gpu.why says why not. */
static void gpu_probe_module(void)
{
    char err[512] = "";
    int tried = 0;
    void *h = gpu_module_open(err, sizeof err, &tried);
    if (!h) {
        if (tried)
            snprintf(gpu.why, sizeof gpu.why, "the CUDA backend module could not be "
                     "loaded: %s", err);
        else
            snprintf(gpu.why, sizeof gpu.why, "this build of hellodl has no CUDA "
                     "backend (libhellodl_cuda.so is not installed)");
        return;
    }
    rt_cuda_module_init_fn init =
        (rt_cuda_module_init_fn)(uintptr_t)dlsym(h, RT_CUDA_MODULE_INIT_SYMBOL);
    const rt_cuda_module *mod = init ? init(&gpu_host, RT_CUDA_MODULE_ABI) : NULL;
    if (!mod || mod->abi != RT_CUDA_MODULE_ABI) {
        snprintf(gpu.why, sizeof gpu.why, "the CUDA backend module libhellodl_cuda.so "
                 "does not match this hellodl; reinstall hellodl");
        dlclose(h);
        return;
    }
    gpu.handle = h; /* kept loaded: the CUDA runtime does not like dlclose */
    char why[512] = "";
    if (!mod->open(why, sizeof why)) {
        snprintf(gpu.why, sizeof gpu.why, "%s", why[0] ? why : "the GPU could not be "
                 "opened");
        return;
    }
    gpu.mod = mod;
    gpu.be = mod->backend();
    if (!gpu.be) {
        snprintf(gpu.why, sizeof gpu.why, "the CUDA backend module opened the GPU "
                 "but gave no operations; reinstall hellodl");
        gpu.mod = NULL;
        return;
    }
    if (gpu.cap)
        mod->pool_set_cap(gpu.cap);
    if (gpu.math != RT_CUDA_MATH_FP32 && mod->set_math(gpu.math) != RT_OK) {
        gpu_note_add("HELLODL_GPU_MATH=tf32 could not be applied (%s), so the GPU "
                     "computes in fp32.", rt_error_message());
        gpu.math = RT_CUDA_MATH_FP32;
    }
    gpu.available = 1;
}

static void gpu_probe(void)
{
    const char *dev = getenv("HELLODL_DEVICE");
    if (dev && strcmp(dev, "cpu") == 0) {
        snprintf(gpu.why, sizeof gpu.why, "HELLODL_DEVICE=cpu keeps this session on "
                 "the CPU");
    } else {
        if (dev && *dev && strcmp(dev, "gpu") != 0 && strcmp(dev, "cuda") != 0
            && strcmp(dev, "auto") != 0)
            gpu_note_add("HELLODL_DEVICE=%.40s is not cpu, gpu or auto, so the GPU "
                         "is used when there is one.", dev);
        gpu_settings_read();
        const char *emu = getenv("HELLODL_GPU_EMULATE");
        if (emu && strcmp(emu, "1") == 0) {
            gpu.emulated = 1;
            gpu.be = rt_emu_backend();
            rt_emu_pool_set_cap(gpu.cap);
            gpu.available = 1;
        } else {
            gpu_probe_module();
        }
        if (gpu.available && gpu.cap)
            rt_memory_limit_set(RT_DEVICE_CUDA, gpu.cap);
    }
    __atomic_store_n(&session_dev, gpu.available ? RT_DEVICE_CUDA : RT_DEVICE_CPU,
                     __ATOMIC_RELEASE);
    __atomic_store_n(&gpu_probed, 1, __ATOMIC_RELEASE);
}

static void gpu_ensure(void)
{
    pthread_once(&gpu_once, gpu_probe);
}

static int gpu_lost(void)
{
    if (!gpu.available)
        return 0;
    return gpu.emulated ? rt_emu_lost() : gpu.mod->lost();
}

/* ---- backend.c's entry and the queries ---- */

const rt_backend *rt_backend_cuda(void)
{
    gpu_ensure();
    return gpu.be; /* still there after a loss: its ops fail fast */
}

rt_device rt_session_device(void)
{
    gpu_ensure();
    return (rt_device)__atomic_load_n(&session_dev, __ATOMIC_ACQUIRE);
}

int rt_gpu_available(int probe)
{
    if (probe)
        gpu_ensure();
    else if (!__atomic_load_n(&gpu_probed, __ATOMIC_ACQUIRE))
        return 0;
    return gpu.available && !gpu_lost();
}

const char *rt_gpu_unavailable_reason(void)
{
    gpu_ensure();
    if (gpu.available && gpu_lost())
        return gpu.emulated ? "the emulated GPU stopped working earlier in this session"
                            : "the GPU stopped working earlier in this session; "
                              "restart the kernel to use it again";
    return gpu.available ? "" : gpu.why;
}

int rt_gpu_emulated(void)
{
    gpu_ensure();
    return gpu.emulated;
}

const char *rt_gpu_settings_note(void)
{
    gpu_ensure();
    return gpu.note;
}

int rt_gpu_info(rt_cuda_info *out)
{
    memset(out, 0, sizeof *out);
    gpu_ensure();
    if (!gpu.available)
        return 0;
    if (gpu.mod) {
        gpu.mod->info(out);
        return 1;
    }
    /* The emulation: plausible figures over the host memory it uses. */
    snprintf(out->name, sizeof out->name, "emulated GPU (HELLODL_GPU_EMULATE, no "
             "real device)");
    out->total_bytes = gpu.cap ? gpu.cap : (int64_t)16 << 30;
    out->pool_in_use = out->pool_reserved = rt_emu_pool_in_use();
    out->free_bytes = out->total_bytes > out->pool_in_use
                      ? out->total_bytes - out->pool_in_use : 0;
    out->pool_cap = rt_emu_pool_cap();
    out->math = gpu.math;
    return 1;
}

const rt_cuda_module *rt_gpu_module(void)
{
    gpu_ensure();
    return gpu.mod && !gpu_lost() ? gpu.mod : NULL;
}

/* ---- moves, checkpoints, recovery ---- */

static rt_status gpu_lost_error(void)
{
    return rt_error_set(RT_ERR_DEVICE, "The GPU stopped working earlier in this "
        "session%s%s%s and cannot be used again until the kernel is restarted.",
        gpu.emulated ? " (" : "", gpu.emulated ? rt_emu_lost_reason() : "",
        gpu.emulated ? ")" : "");
}

static rt_status gpu_unusable(void)
{
    return rt_error_set(RT_ERR_DEVICE, "There is no usable GPU: %s.",
                        rt_gpu_unavailable_reason());
}

/* Everything of `kinds` on the lost GPU onto the CPU from the host copies,
 * the models' counters going back to the same checkpoint. */
static rt_status gpu_restore(unsigned kinds, rt_move_report *rep)
{
    if (kinds & 1u << RT_STORAGE_MODEL)
        rt_models_rollback(RT_DEVICE_CUDA);
    return rt_storages_move(RT_DEVICE_CUDA, RT_DEVICE_CPU, kinds, 1, rep);
}

rt_status rt_device_select(rt_device dev, unsigned kinds, rt_move_report *rep)
{
    if (rep)
        memset(rep, 0, sizeof *rep);
    if ((unsigned)dev >= RT_DEVICE_COUNT)
        return rt_error_set(RT_ERR_ARG, "unknown device %d", (int)dev);
    gpu_ensure();
    if (dev == RT_DEVICE_CUDA && !rt_gpu_available(1))
        return gpu_unusable();
    rt_device from = dev == RT_DEVICE_CPU ? RT_DEVICE_CUDA : RT_DEVICE_CPU;
    rt_status st = RT_OK;
    /* Nothing can be read back from a lost GPU: restore from host copies. */
    if (from == RT_DEVICE_CUDA && gpu_lost())
        st = gpu_restore(kinds, rep);
    else if (from != RT_DEVICE_CUDA || gpu.available)
        st = rt_storages_move(from, dev, kinds, 0, rep);
    if (st == RT_OK)
        __atomic_store_n(&session_dev, dev, __ATOMIC_RELEASE);
    return st;
}

void rt_device_touch(void)
{
    __atomic_add_fetch(&touch_gen, 1, __ATOMIC_RELAXED);
}

rt_status rt_device_checkpoint(void)
{
    if (!__atomic_load_n(&gpu_probed, __ATOMIC_ACQUIRE) || !gpu.available)
        return RT_OK;
    if (gpu_lost()) { /* fine once recovery has emptied the GPU */
        rt_memory_stats ms;
        rt_memory_stats_get(RT_DEVICE_CUDA, &ms);
        return ms.live_storages ? gpu_lost_error() : RT_OK;
    }
    rt_status st = rt_storages_checkpoint(RT_DEVICE_CUDA,
                                          __atomic_load_n(&touch_gen, __ATOMIC_RELAXED));
    if (st == RT_OK) /* a copy that failed half-way keeps the old counters */
        rt_models_checkpoint();
    return st;
}

/* "12.5 MB", "3.2 KB". */
static const char *gpu_bytes(int64_t b, char *buf, size_t size)
{
    if (b >= 100000)
        snprintf(buf, size, "%.1f MB", b / 1e6);
    else
        snprintf(buf, size, "%.1f KB", b / 1e3);
    return buf;
}

static void gpu_recover_message(char *msg, size_t size, const char *cause,
                                const rt_move_report *r)
{
    char a[32], b[32];
    int n = snprintf(msg, size, "The GPU stopped working (%s). This session now runs "
        "on the CPU. The model weights and optimizer state were restored as they "
        "were at the end of the last cell or training epoch that finished "
        "(%lld %s, %s)", cause, (long long)r->restored,
        r->restored == 1 ? "buffer" : "buffers", gpu_bytes(r->restored_bytes, a, sizeof a));
    if (n < 0 || (size_t)n >= size)
        return;
    size_t len = (size_t)n;
    if (r->lost)
        n = snprintf(msg + len, size - len, "; %lld other %s (%s: gradients, "
                     "cached features and intermediate results, which are recomputed "
                     "when needed) %s zero-filled", (long long)r->lost,
                     r->lost == 1 ? "buffer" : "buffers",
                     gpu_bytes(r->lost_bytes, b, sizeof b), r->lost == 1 ? "was" : "were");
    if (n < 0 || (len += (size_t)n) >= size)
        return;
    snprintf(msg + len, size - len, ". Nothing needs re-running except the cell that "
             "was interrupted, and the session carries on here. The GPU comes back "
             "only with a fresh kernel, which is not needed now.");
}

int rt_device_recover(char *msg, size_t size)
{
    if (msg && size)
        msg[0] = '\0';
    if (!__atomic_load_n(&gpu_probed, __ATOMIC_ACQUIRE) || !gpu_lost())
        return 0;
    char cause[512];
    if (gpu.emulated)
        snprintf(cause, sizeof cause, "%s", rt_emu_lost_reason());
    else
        snprintf(cause, sizeof cause, "%s", rt_error_message()[0] ? rt_error_message()
                 : "a fatal CUDA error");
    rt_move_report r;
    gpu_restore(1u << RT_STORAGE_DATA | 1u << RT_STORAGE_MODEL, &r);
    __atomic_store_n(&session_dev, RT_DEVICE_CPU, __ATOMIC_RELEASE);
    if (msg && size)
        gpu_recover_message(msg, size, cause, &r);
    return 1;
}

void rt_gpu_pool_set_cap(int64_t bytes)
{
    gpu_ensure();
    if (!gpu.available)
        return;
    gpu.cap = bytes > 0 ? bytes : 0;
    if (gpu.mod)
        gpu.mod->pool_set_cap(gpu.cap);
    else
        rt_emu_pool_set_cap(gpu.cap);
    rt_memory_limit_set(RT_DEVICE_CUDA, gpu.cap);
}

void rt_gpu_pool_trim(void)
{
    /* Never the reason for a probe: nothing to trim before one. */
    if (!__atomic_load_n(&gpu_probed, __ATOMIC_ACQUIRE) || !gpu.available || gpu_lost())
        return;
    if (gpu.mod)
        gpu.mod->pool_trim();
}

rt_status rt_gpu_set_math(int mode)
{
    gpu_ensure();
    if (mode != RT_CUDA_MATH_FP32 && mode != RT_CUDA_MATH_TF32)
        return rt_error_set(RT_ERR_ARG, "Unknown GPU math mode %d (fp32 or tf32).", mode);
    if (!gpu.available)
        return RT_OK;
    rt_status st = gpu.mod ? gpu.mod->set_math(mode) : RT_OK;
    if (st == RT_OK)
        gpu.math = mode;
    return st;
}

rt_status rt_gpu_synchronize(void)
{
    gpu_ensure();
    if (gpu.mod)
        return gpu.mod->synchronize();
    return gpu.available && gpu_lost() ? gpu_lost_error() : RT_OK;
}
