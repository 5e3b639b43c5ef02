/*
 * rt_bind.c - registers the runtime's bindings (rt_*.c) with the language,
 * the seed() builtin, and the helpers those files share (rt_bind.h):
 * runtime errors as cell errors, checked choices, int lists. Registration
 * happens once, from the registry's init.
 */
#include "rt_bind.h"
#include "rt_progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "lang.h"
#include "rng.h"

static bool disabled;

void rtb_disable(void) { disabled = true; }

/* ---- seeds ---- */

static bool global_seeded;
static uint64_t global_seed, seed_counter;

uint64_t rtb_seed_next(bool *has)
{
    *has = global_seeded;
    return global_seeded ? rt_rng_hash(global_seed, ++seed_counter) : 0;
}

static bool bi_seed(lang_ctx *cx, lang_value self, const lang_value *args, int nargs,
                    lang_value *ret)
{
    (void)self; (void)nargs; (void)ret;
    int64_t s = args[0].as.i;
    if (s < 0) return lang_raise(cx, "ValueError", "seed() expects a seed >= 0, got %lld",
                                 (long long)s);
    rt_seed_default_set((uint64_t)s);
    global_seeded = true;
    global_seed = (uint64_t)s;
    seed_counter = 0;
    return true;
}

void rtb_register(void)
{
    if (disabled) return;
    rtb_tensor_register();
    rtb_image_register();
    rtb_layer_register();
    rtb_model_register();
    rtb_train_register();
    rtb_data_register();
    lang_builtin_register("void seed(int value)", bi_seed,
        "Seed every random choice of the runtime: initial weights, dropout, and the "
        "shuffling and augmentation of generators made afterwards (unless they get "
        "their own seed). Run it before building models and generators to get the "
        "same results every time on the CPU.");
}

/* ---- errors ---- */

static const char *status_ename(rt_status st)
{
    switch (st) {
    case RT_ERR_NOMEM: return "MemoryError";
    case RT_ERR_SHAPE: case RT_ERR_ARG: case RT_ERR_FORMAT: return "ValueError";
    case RT_ERR_IO: return "OSError";
    case RT_ERR_INTERRUPTED: return "KeyboardInterrupt";
    default: return "RuntimeError";
    }
}

/* A lost GPU is dealt with here rather than when the cell ends, so that
 * `hellodl run` and the kernel behave alike: the session moves to the CPU
 * at once, and the paragraph saying what was kept comes before the error. */
bool rtb_raise_status(lang_ctx *cx, rt_status st, const char *what)
{
    char msg[1024], why[1024];
    snprintf(msg, sizeof msg, "%s", rt_error_message());  /* recovery may overwrite it */
    if (st == RT_ERR_DEVICE && rt_session_device() == RT_DEVICE_CUDA
        && rt_device_recover(why, sizeof why))
        sink_printf(lang_ctx_sink(cx), "stderr", "%s\n", why);
    return lang_raise(cx, status_ename(st), "%s: %s", what, msg);
}

/* ---- the device notice ---- */

static bool gpu_announced;

void rtb_device_notice(lang_ctx *cx)
{
    if (gpu_announced || rt_session_device() != RT_DEVICE_CUDA) return;
    rt_cuda_info info;
    if (!rt_gpu_info(&info)) return;
    gpu_announced = true;
    sink_printf(lang_ctx_sink(cx), "stdout", "Training on the GPU: %s (%.1f GB). `%%device cpu` "
                "switches to the CPU.\n", info.name, (double)info.total_bytes / 1e9);
}

bool rtb_check_choice(lang_ctx *cx, const char *fn, const char *param, const char *got,
                      const char *const *choices)
{
    char list[256] = "";
    int n = 0;
    for (; choices[n]; n++) {
        if (strcmp(got, choices[n]) == 0) return true;
        size_t k = strlen(list);
        snprintf(list + k, sizeof list - k, "%s\"%s\"", n ? ", " : "", choices[n]);
    }
    const char *s = lang_suggest(got, choices, n);
    if (s)
        return lang_raise(cx, "ValueError", "%s expects %s to be one of %s; got \"%s\" - did "
                          "you mean \"%s\"?", fn, param, list, got, s);
    return lang_raise(cx, "ValueError", "%s expects %s to be one of %s; got \"%s\"", fn, param,
                      list, got);
}

/* ---- arguments ---- */

bool rtb_int_list(lang_ctx *cx, lang_value v, const char *fn, const char *param, int min_n,
                  int max_n, bool scalar_ok, int64_t *out, int *n)
{
    if (scalar_ok && v.type == LANG_INT) {
        if (v.as.i <= 0) goto bad;
        for (int i = 0; i < max_n; i++) out[i] = v.as.i;
        *n = max_n;
        return true;
    }
    if (v.type != LANG_LIST) goto bad;
    size_t len = lang_list_len(v);
    if (len < (size_t)min_n || len > (size_t)max_n) goto bad;
    for (size_t i = 0; i < len; i++) {
        lang_value x = lang_list_get(v, i);
        if (x.type != LANG_INT || x.as.i <= 0 || x.as.i > 1000000) goto bad;
        out[i] = x.as.i;
    }
    *n = (int)len;
    return true;
bad:;
    char want[64], *got = lang_value_repr(v);
    if (min_n == max_n) snprintf(want, sizeof want, "a list of %d positive ints", min_n);
    else snprintf(want, sizeof want, "a list of %d to %d positive ints", min_n, max_n);
    bool r = lang_raise(cx, "ValueError", "%s expects %s to be %s%s, got %s", fn, param,
                        scalar_ok ? "a positive int or " : "", want, got ? got : "?");
    free(got);
    return r;
}

lang_value rtb_float_list(const double *v, int n)
{
    lang_value l = lang_list_new((size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n && l.type == LANG_LIST; i++) lang_list_push(l, lang_float(v[i]));
    return l;
}

/* ---- progress hook (rt_progress.h) ---- */

static rtb_progress_fn progress_fn;
static void *progress_ctx;

void rtb_progress_hook_set(rtb_progress_fn fn, void *ctx)
{
    progress_fn = fn;
    progress_ctx = ctx;
}

void rtb_progress_emit(const lang_sink *sink, const rtb_progress *p)
{
    if (progress_fn) progress_fn(progress_ctx, sink, p);
}
