/*
 * env.c - `%env`: the environment settings that matter to hellodl
 * (HELLODL_*, OpenMP and BLAS threads, CUDA, JupyterHub), one of them, or
 * setting one for the rest of the session.
 */
#include "magics.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* Prefixes of the variables the plain listing shows. */
static const char *const shown[] = {
    "HELLODL_", "OMP_", "OPENBLAS_", "GOTO_", "MKL_", "CUDA_", "JUPYTERHUB_USER", NULL,
};

/* Settings the host owns (the kernelspec's env): a cell may not change them,
 * or a room that turned shell commands or downloads off, or capped each
 * kernel's share of the GPU, could be undone from a notebook. */
static const char *const host_only[] = {
    "HELLODL_ALLOW_SHELL", "HELLODL_ALLOW_DOWNLOAD", "HELLODL_GPU_MEMORY_MB", NULL,
};

static bool env_is_shown(const char *entry)
{
    for (int i = 0; shown[i]; i++)
        if (strncmp(entry, shown[i], strlen(shown[i])) == 0)
            return true;
    return false;
}

static int env_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool env_list(magic_ctx *mx)
{
    size_t n = 0, k = 0;
    while (environ[n])
        n++;
    const char **pick = malloc((n ? n : 1) * sizeof *pick);
    if (!pick)
        return magic_error(mx, "MemoryError", "out of memory while listing the environment");
    for (size_t i = 0; i < n; i++)
        if (env_is_shown(environ[i]))
            pick[k++] = environ[i];
    qsort(pick, k, sizeof *pick, env_cmp);
    if (!k)
        sink_printf(mx->sink, "stdout", "No HELLODL_, OpenMP, BLAS or CUDA settings are "
                    "set: the defaults apply.\n");
    for (size_t i = 0; i < k; i++)
        sink_printf(mx->sink, "stdout", "%s\n", pick[i]);
    free(pick);
    return true;
}

static bool env_name_ok(const char *s, size_t n)
{
    if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return false;
    return true;
}

static bool env_set(magic_ctx *mx, const char *name, const char *value)
{
    for (int i = 0; host_only[i]; i++)
        if (strcmp(name, host_only[i]) == 0)
            return magic_error(mx, "PermissionError", "%s is set by whoever runs this "
                               "kernel (its kernelspec) and cannot be changed from a "
                               "notebook", name);
    size_t len = strlen(value);
    while (len && (value[len - 1] == ' ' || value[len - 1] == '\t' || value[len - 1] == '\r'))
        len--;
    char *v = strndup(value, len);
    bool ok = v && setenv(name, v, 1) == 0;
    if (ok)
        sink_printf(mx->sink, "stdout", "%s=%s (for this session)\n", name, v);
    free(v);
    if (!ok)
        return magic_error(mx, "OSError", "could not set %s", name);
    if (strncmp(name, "OMP_", 4) == 0 || strncmp(name, "OPENBLAS_", 9) == 0)
        sink_printf(mx->sink, "stdout", "Note: thread settings are read when the kernel "
                    "starts; restart it for this one to take effect.\n");
    return true;
}

static bool env_run(magic_ctx *mx, const char *args, const char *body)
{
    (void)body;
    if (!*args)
        return env_list(mx);
    size_t n = strcspn(args, "= \t");
    if (!env_name_ok(args, n))
        return magic_error(mx, "UsageError", "'%.*s' is not a variable name: use letters, "
                           "digits and '_' (e.g. %%env HELLODL_DATA_PATH)", (int)n, args);
    char name[256];
    if (n >= sizeof name)
        return magic_error(mx, "UsageError", "the variable name is too long");
    memcpy(name, args, n);
    name[n] = '\0';
    const char *rest = args + n;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (*rest == '=')
        return env_set(mx, name, rest + 1 + strspn(rest + 1, " \t"));
    if (*rest)
        return magic_error(mx, "UsageError", "use %%env NAME to show a variable or "
                           "%%env NAME=VALUE to set it");
    const char *v = getenv(name);
    if (v)
        sink_printf(mx->sink, "stdout", "%s=%s\n", name, v);
    else
        sink_printf(mx->sink, "stdout", "%s is not set\n", name);
    return true;
}

const magic_def magic_env = {
    "env", "%env [NAME[=VALUE]]",
    "Shows the environment settings hellodl reads (HELLODL_DATA_PATH and the other "
    "HELLODL_ ones, OpenMP and BLAS threads, CUDA): `%env` lists them, `%env NAME` "
    "shows one, `%env NAME=VALUE` sets one for the rest of this session (shell "
    "commands started with ! see it too).",
    env_run, true, false,
};
