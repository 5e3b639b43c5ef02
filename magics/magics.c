/*
 * magics.c - the table of magics, the hook the language calls for `%` and
 * `!` lines, `%lsmagic`, and `%name?` help.
 */
#include "magics.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool lsmagic_run(magic_ctx *mx, const char *args, const char *body);

static const magic_def magic_lsmagic = {
    "lsmagic", "%lsmagic",
    "Lists every magic with a one-line description. `%name?` shows one "
    "magic's help.",
    lsmagic_run, true, false,
};

extern const magic_def magic_who;
extern const magic_def magic_reset;
extern const magic_def magic_time;
extern const magic_def magic_seed;
extern const magic_def magic_env;
extern const magic_def magic_memory;
extern const magic_def magic_gpu;
extern const magic_def magic_device;
extern const magic_def magic_shell;
extern const magic_def magic_mount;
extern const magic_def magic_group;

/* One line per magic; the files are in magics/. */
static const magic_def *const table[] = {
    &magic_lsmagic,
    &magic_who,
    &magic_reset,
    &magic_time,
    &magic_seed,
    &magic_env,
    &magic_memory,
    &magic_gpu,
    &magic_device,
    &magic_shell,
    &magic_mount,
    &magic_group,
    NULL,
};

const magic_def *const *magics_table(void)
{
    return table;
}

const magic_def *magics_find(const char *name)
{
    for (int i = 0; table[i]; i++)
        if (strcmp(table[i]->name, name) == 0)
            return table[i];
    return NULL;
}

bool magic_error(magic_ctx *mx, const char *ename, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(mx->err->ename);
    free(mx->err->evalue);
    mx->err->ename = strdup(ename);
    mx->err->evalue = strdup(msg);
    return false;
}

bool magics_exe_dir(char *out, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", out, n - 1);
    if (len <= 0)
        return false;
    out[len] = '\0';
    char *slash = strrchr(out, '/');
    if (!slash)
        return false;
    *slash = '\0';
    return true;
}

bool magics_allowed(const char *setting)
{
    const char *v = getenv(setting);
    return !v || !(strcmp(v, "0") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0);
}

bool magics_shell_allowed(void)
{
    return magics_allowed("HELLODL_ALLOW_SHELL");
}

static bool lsmagic_run(magic_ctx *mx, const char *args, const char *body)
{
    (void)args;
    (void)body;
    sink_printf(mx->sink, "stdout", "Magics (a line starting with %%name; %%%%name "
                "on a cell's first line for the whole cell; %%name? for help):\n");
    for (int i = 0; table[i]; i++)
        sink_printf(mx->sink, "stdout", "  %-40s %s\n", table[i]->usage,
                    table[i]->line && table[i]->cell ? "(line and cell)"
                    : table[i]->cell ? "(cell)" : "");
    return true;
}

static bool show_help(magic_ctx *mx, const magic_def *m)
{
    sink_printf(mx->sink, "stdout", "%s\n\n%s\n", m->usage, m->help);
    return true;
}

/* The names for the error's "did you mean", from the table. */
static const char *nearest(const char *name)
{
    const char *names[64];
    int n = 0;
    for (int i = 0; table[i] && n < 64; i++)
        names[n++] = table[i]->name;
    return lang_suggest(name, names, n);
}

static bool unknown(magic_ctx *mx, const char *name)
{
    const char *near = nearest(name);
    if (near)
        return magic_error(mx, "NameError", "there is no magic %%%s; did you mean "
                           "%%%s? (%%lsmagic lists them all)", name, near);
    return magic_error(mx, "NameError", "there is no magic %%%s (%%lsmagic lists "
                       "them all)", name);
}

/* Split "%name args" / "%%name args\nbody" into its parts. */
static bool dispatch(magic_ctx *mx, const char *line)
{
    bool cell = line[0] == '%' && line[1] == '%';
    const char *p = line + (cell ? 2 : 1);
    if (line[0] == '!') {
        const magic_def *sh = magics_find("!");
        return sh ? sh->run(mx, p, NULL)
                  : magic_error(mx, "NameError", "shell commands ('!') are not available");
    }
    char name[64];
    size_t n = 0;
    while ((isalnum((unsigned char)p[n]) || p[n] == '_') && n < sizeof name - 1)
        n++;
    memcpy(name, p, n);
    name[n] = '\0';
    if (n == 0)
        return magic_error(mx, "SyntaxError", "'%s' needs a magic name right after "
                           "it, e.g. %%lsmagic", cell ? "%%" : "%");
    const magic_def *m = magics_find(name);
    if (!m)
        return unknown(mx, name);
    const char *args = p + n;
    if (*args == '?')
        return show_help(mx, m);
    while (*args == ' ' || *args == '\t')
        args++;
    if (!cell) {
        if (!m->line)
            return magic_error(mx, "UsageError", "%%%s works on a whole cell: put "
                               "%%%%%s on the cell's first line", name, name);
        return m->run(mx, args, NULL);
    }
    if (!m->cell)
        return magic_error(mx, "UsageError", "%%%%%s is not a cell magic; use %%%s "
                           "on a line", name, name);
    const char *nl = strchr(args, '\n');
    char *first = nl ? strndup(args, (size_t)(nl - args)) : strdup(args);
    bool ok = first && m->run(mx, first, nl ? nl + 1 : "");
    free(first);
    return ok;
}

static int hook(void *ctx, lang_session *s, const char *line, const lang_sink *sink,
                lang_error *err)
{
    (void)ctx;
    magic_ctx mx = { s, sink, err };
    return dispatch(&mx, line) ? 0 : 1;
}

void plots_register(void);   /* plots.c: plot(), show_batch() and friends */
void progress_install(void); /* progress.c: the live training display */

void magics_install(lang_session *s)
{
    static const char *names[64];
    static int n;
    plots_register();
    progress_install();
    if (n == 0)
        for (int i = 0; table[i] && n < 64; i++)
            if (strcmp(table[i]->name, "!") != 0)
                names[n++] = table[i]->name;
    lang_set_magic_hook(s, hook, NULL);
    lang_set_magic_names(s, names, n);
}
