/*
 * h5lazy.c - the h5weights.h functions, loaded on first use.
 *
 * libhdf5 (with libcurl, libcrypto and friends behind it) costs about 7 MB
 * of resident memory and several milliseconds the moment it is mapped, and a
 * kernel needs it only when a cell loads or saves weights. So the HDF5 code
 * lives in a loadable module, libhellodl_h5.so, and these forwarders dlopen
 * it the first time any of them runs. The module is looked for in
 * $HELLODL_H5_MODULE, beside the executable's ../lib/hellodl/, and in the
 * build tree. If it cannot be loaded, every call fails with a message that
 * says which file is missing and how to get it back.
 */
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5weights.h"

#define H5_FUNCS(X)                                                            \
    X(read, rt_status, (const char *, int, rt_h5_weights **))                  \
    X(data_read, rt_status, (rt_h5_weights *, int, int, float *))              \
    X(new, rt_status, (rt_h5_weights **))                                      \
    X(layer_add, rt_status, (rt_h5_weights *, const char *, int *))            \
    X(weight_add, rt_status, (rt_h5_weights *, int, const char *,              \
                              const rt_h5_shape *, const float *, int))        \
    X(write, rt_status, (const rt_h5_weights *, const char *))                 \
    X(free, void, (rt_h5_weights *))                                           \
    X(count, void, (const rt_h5_weights *, int *, int *, int64_t *))           \
    X(layer_find, int, (const rt_h5_weights *, const char *))                  \
    X(match, rt_status, (const rt_h5_weights *, const rt_h5_expect *, int,     \
                         rt_h5_match_mode, int *, int *))

#define X_FIELD(name, ret, args) ret (*name) args;
static struct { H5_FUNCS(X_FIELD) } h5;
static pthread_once_t h5_once = PTHREAD_ONCE_INIT;
static char h5_problem[PATH_MAX + 256];

static void *h5_open_first(void)
{
    char self[PATH_MAX], cand[PATH_MAX + 64];
    const char *env = getenv("HELLODL_H5_MODULE");
    if (env)
        return dlopen(env, RTLD_NOW | RTLD_LOCAL);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        snprintf(cand, sizeof cand, "%s/../lib/hellodl/libhellodl_h5.so", dirname(self));
        void *h = dlopen(cand, RTLD_NOW | RTLD_LOCAL);
        if (h)
            return h;
    }
    return dlopen(HELLODL_H5_MODULE_BUILD, RTLD_NOW | RTLD_LOCAL);
}

static void h5_load(void)
{
    void *h = h5_open_first();
    if (!h) {
        snprintf(h5_problem, sizeof h5_problem, "cannot load the HDF5 weights module "
                 "libhellodl_h5.so (%s); reinstall hellodl (cmake --install) or set "
                 "HELLODL_H5_MODULE to its path", dlerror());
        return;
    }
    int (*init)(rt_status (*)(rt_status, const char *, ...), const char *(*)(void)) =
        (int (*)(rt_status (*)(rt_status, const char *, ...), const char *(*)(void)))
        (uintptr_t)dlsym(h, "rt_h5_module_init");
    bool ok = init && init(rt_error_set, rt_error_message) == RT_H5_MODULE_ABI;
#define X_LOAD(name, ret, args)                                                \
    h5.name = (ret(*) args)(uintptr_t)dlsym(h, "rt_h5weights_" #name);         \
    ok = ok && h5.name;
    H5_FUNCS(X_LOAD)
    if (!ok) {
        memset(&h5, 0, sizeof h5);
        snprintf(h5_problem, sizeof h5_problem, "the HDF5 weights module "
                 "libhellodl_h5.so does not match this hellodl; reinstall hellodl");
        dlclose(h);
    }
}

static bool h5_ready(void)
{
    pthread_once(&h5_once, h5_load);
    if (!h5.read)
        rt_error_set(RT_ERR_IO, "%s", h5_problem);
    return h5.read != NULL;
}

rt_status rt_h5weights_read(const char *path, int flags, rt_h5_weights **out)
{
    *out = NULL;
    return h5_ready() ? h5.read(path, flags, out) : RT_ERR_IO;
}

rt_status rt_h5weights_data_read(rt_h5_weights *w, int l, int k, float *dst)
{
    return h5_ready() ? h5.data_read(w, l, k, dst) : RT_ERR_IO;
}

rt_status rt_h5weights_new(rt_h5_weights **out)
{
    *out = NULL;
    return h5_ready() ? h5.new(out) : RT_ERR_IO;
}

rt_status rt_h5weights_layer_add(rt_h5_weights *w, const char *name, int *index)
{
    return h5_ready() ? h5.layer_add(w, name, index) : RT_ERR_IO;
}

rt_status rt_h5weights_weight_add(rt_h5_weights *w, int l, const char *name,
                                  const rt_h5_shape *shape, const float *data, int copy)
{
    return h5_ready() ? h5.weight_add(w, l, name, shape, data, copy) : RT_ERR_IO;
}

rt_status rt_h5weights_write(const rt_h5_weights *w, const char *path)
{
    return h5_ready() ? h5.write(w, path) : RT_ERR_IO;
}

/* A description exists only if the module made it, so these need no check
 * beyond a NULL one. */
void rt_h5weights_free(rt_h5_weights *w)
{
    if (w && h5.free)
        h5.free(w);
}

void rt_h5weights_count(const rt_h5_weights *w, int *weighted_layers, int *tensors,
                        int64_t *params)
{
    *weighted_layers = *tensors = 0;
    *params = 0;
    if (h5_ready())
        h5.count(w, weighted_layers, tensors, params);
}

int rt_h5weights_layer_find(const rt_h5_weights *w, const char *name)
{
    return h5_ready() ? h5.layer_find(w, name) : -1;
}

rt_status rt_h5weights_match(const rt_h5_weights *w, const rt_h5_expect *expect, int n_expect,
                             rt_h5_match_mode mode, int *file_layer, int *renamed)
{
    return h5_ready() ? h5.match(w, expect, n_expect, mode, file_layer, renamed) : RT_ERR_IO;
}
