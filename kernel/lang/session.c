/*
 * session.c - sessions and their globals, running a cell, turning errors
 * into Jupyter's {ename, evalue, traceback}, interrupts and magics.
 *
 * A runtime error unwinds the evaluator but leaves every global as the
 * statements before it left them; the next cell simply runs.
 */
#include "vm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VALUE_STACK_SLOTS (1 << 16)

atomic_bool lang_interrupt_flag;

void lang_interrupt(void) { atomic_store(&lang_interrupt_flag, true); }
bool lang_interrupted(void) { return atomic_load(&lang_interrupt_flag); }
void lang_interrupt_clear(void) { atomic_store(&lang_interrupt_flag, false); }

/* ---- globals ---- */

static unsigned hash_name(const char *s, size_t n)
{
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

int sess_global_find(lang_session *s, const char *name, size_t len)
{
    if (!s->hcap) return -1;
    for (unsigned i = hash_name(name, len) & (unsigned)(s->hcap - 1);; i = (i + 1) & (unsigned)(s->hcap - 1)) {
        int k = s->hash[i];
        if (!k) return -1;
        const char *g = s->g[k - 1].name;
        if (strncmp(g, name, len) == 0 && g[len] == 0) return k - 1;
    }
}

static bool rehash(lang_session *s, int cap)
{
    int *h = calloc((size_t)cap, sizeof *h);
    if (!h) return false;
    for (int k = 0; k < s->ng; k++) {
        unsigned i = hash_name(s->g[k].name, strlen(s->g[k].name)) & (unsigned)(cap - 1);
        while (h[i]) i = (i + 1) & (unsigned)(cap - 1);
        h[i] = k + 1;
    }
    free(s->hash);
    s->hash = h;
    s->hcap = cap;
    return true;
}

int sess_global_intern(lang_session *s, const char *name, size_t len)
{
    int k = sess_global_find(s, name, len);
    if (k >= 0) return k;
    if (s->ng == s->gcap) {
        int c = s->gcap ? s->gcap * 2 : 64;
        global *g = realloc(s->g, (size_t)c * sizeof *g);
        if (!g) return -1;
        s->g = g;
        s->gcap = c;
    }
    global *g = &s->g[s->ng];
    g->name = strndup(name, len);
    if (!g->name) return -1;
    g->v = lang_null();
    g->ty = (ltype){ TY_AUTO, NULL };
    g->defined = false;
    s->ng++;
    if (s->ng * 2 > s->hcap) {
        if (!rehash(s, s->hcap ? s->hcap * 2 : 128)) {
            free(g->name);
            s->ng--;
            return -1;
        }
        return s->ng - 1;
    }
    unsigned i = hash_name(g->name, len) & (unsigned)(s->hcap - 1);
    while (s->hash[i]) i = (i + 1) & (unsigned)(s->hcap - 1);
    s->hash[i] = s->ng;
    return s->ng - 1;
}

bool lang_global_set(lang_session *s, const char *name, lang_value v)
{
    int k = sess_global_intern(s, name, strlen(name));
    if (k < 0) return false;
    val_incref(v);
    lang_value old = s->g[k].v;
    s->g[k].v = v;
    s->g[k].ty = (ltype){ TY_AUTO, NULL };
    s->g[k].defined = true;
    val_decref(old);
    return true;
}

const lang_value *lang_global_get(lang_session *s, const char *name)
{
    int k = sess_global_find(s, name, strlen(name));
    return k >= 0 && s->g[k].defined ? &s->g[k].v : NULL;
}

const char **lang_global_names(lang_session *s, int *n)
{
    const char **names = malloc((size_t)(s->ng ? s->ng : 1) * sizeof *names);
    *n = 0;
    if (!names) return NULL;
    for (int k = 0; k < s->ng; k++)
        if (s->g[k].defined) names[(*n)++] = s->g[k].name;
    return names;
}

void lang_session_reset(lang_session *s)
{
    for (int k = 0; k < s->ng; k++) {
        lang_value old = s->g[k].v;
        s->g[k].v = lang_null();
        s->g[k].defined = false;
        s->g[k].ty = (ltype){ TY_AUTO, NULL };
        val_decref(old);
    }
}

/* ---- sessions ---- */

lang_session *lang_session_new(const lang_config *cfg)
{
    reg_init();
    lang_session *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (cfg) s->cfg = *cfg;
    if (!s->cfg.max_value_bytes) s->cfg.max_value_bytes = (size_t)1 << 30;
    if (s->cfg.max_call_depth <= 0) s->cfg.max_call_depth = 1000;
    if (!s->cfg.max_string_bytes) s->cfg.max_string_bytes = (size_t)64 << 20;
    if (!s->cfg.max_list_items) s->cfg.max_list_items = (size_t)16 << 20;
    if (!s->cfg.max_stack_bytes) s->cfg.max_stack_bytes = (size_t)4 << 20;
    lang_ctx *cx = &s->cx;
    cx->s = s;
    cx->cap = VALUE_STACK_SLOTS;
    cx->stack = calloc((size_t)cx->cap, sizeof *cx->stack);
    cx->max_depth = s->cfg.max_call_depth;
    cx->frames = calloc((size_t)cx->max_depth + 2, sizeof *cx->frames);
    if (!cx->stack || !cx->frames) { lang_session_free(s); return NULL; }
    cx->mem_limit = s->cfg.max_value_bytes;
    return s;
}

void lang_session_free(lang_session *s)
{
    if (!s) return;
    lang_session_reset(s);
    for (int k = 0; k < s->ng; k++) free(s->g[k].name);
    free(s->g);
    free(s->hash);
    free(s->cx.stack);
    free(s->cx.frames);
    free(s);
}

void lang_set_magic_hook(lang_session *s, lang_magic_hook hook, void *ctx)
{
    s->magic = hook;
    s->magic_ctx = ctx;
}

void lang_set_magic_names(lang_session *s, const char *const *names, int n)
{
    s->magic_names = names;
    s->nmagic_names = names ? n : 0;
}

/* ---- errors ---- */

void vm_clear_error(lang_ctx *cx)
{
    for (int i = 0; i < cx->ntb; i++) { free(cx->tb[i].fname); free(cx->tb[i].text); }
    free(cx->tb);
    free(cx->ename);
    free(cx->evalue);
    cx->tb = NULL;
    cx->ntb = 0;
    cx->ename = cx->evalue = NULL;
    cx->failed = false;
}

static void capture_traceback(lang_ctx *cx, const node *at)
{
    cx->tb = calloc((size_t)(cx->depth ? cx->depth : 1), sizeof *cx->tb);
    if (!cx->tb) return;
    char line[512];
    /* The frames of a runaway recursion repeat: keep the outermost few and
     * the innermost few. */
    for (int i = 0; i < cx->depth; i++) {
        if (cx->depth > 12 && i >= 3 && i < cx->depth - 6) continue;
        frame *f = &cx->frames[i];
        tb_entry *e = &cx->tb[cx->ntb++];
        bool inner = i == cx->depth - 1;
        e->cell = f->unit ? f->unit->cell : 0;
        e->line = inner && at ? at->line : f->line;
        e->col = inner && at ? at->col : 0;
        e->fname = f->fn ? strdup(f->fn->name) : NULL;
        if (f->unit) { unit_line(f->unit, e->line, line, sizeof line); e->text = strdup(line); }
        if (cx->depth > 12 && i == 2) {
            tb_entry *gap = &cx->tb[cx->ntb++];
            char msg[80];
            snprintf(msg, sizeof msg, "... %d more calls ...", cx->depth - 9);
            gap->text = strdup(msg);
            gap->line = -1;
        }
    }
}

bool vm_raise(lang_ctx *cx, const node *at, const char *ename, const char *fmt, ...)
{
    if (cx->failed) return false;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (strcmp(ename, "KeyboardInterrupt") == 0) lang_interrupt_clear();   /* consumed */
    cx->failed = true;
    cx->ename = strdup(ename);
    cx->evalue = strdup(msg);
    capture_traceback(cx, at);
    return false;
}

bool lang_raise(lang_ctx *cx, const char *ename, const char *fmt, ...)
{
    if (cx->failed) return false;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vm_raise(cx, cx->call_node, ename ? ename : "RuntimeError", "%s", msg);
}

bool vm_name_error(lang_ctx *cx, const node *at, const char *name)
{
    const char *s = suggest_name(cx->s, name);
    if (s)
        return vm_raise(cx, at, "NameError", "name '%s' is not defined; did you mean '%s'?",
                        name, s);
    return vm_raise(cx, at, "NameError", "name '%s' is not defined (declare it first, "
                    "e.g. 'auto %s = ...;')", name, name);
}

bool vm_tick_slow(lang_ctx *cx, const node *at)
{
    if (atomic_load(&lang_interrupt_flag)) {
        atomic_store(&lang_interrupt_flag, false);
        return vm_raise(cx, at, "KeyboardInterrupt", "interrupted by the user");
    }
    if (cx->max_steps && ++cx->steps > cx->max_steps)
        return vm_raise(cx, at, "TimeoutError", "the cell ran more than %llu loop steps "
                        "and calls", (unsigned long long)cx->max_steps);
    if (atomic_load_explicit(&lang_value_bytes, memory_order_relaxed) > cx->mem_limit)
        return vm_raise(cx, at, "MemoryError", "language values use more than %zu bytes "
                        "(the session's limit)", cx->mem_limit);
    return true;
}

const lang_sink *lang_ctx_sink(lang_ctx *cx) { return cx->sink; }
lang_session *lang_ctx_session(lang_ctx *cx) { return cx->s; }

const char *lang_ctx_data_path(lang_ctx *cx)
{
    return cx->s->cfg.data_path ? cx->s->cfg.data_path : getenv("HELLODL_DATA_PATH");
}

bool lang_ctx_find_file(lang_ctx *cx, const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s", path);
    bool here = access(path, F_OK) == 0;
    if (here || path[0] == '/') return here;
    for (const char *dp = lang_ctx_data_path(cx); dp && *dp;) {
        const char *end = strchr(dp, ':');
        size_t n = end ? (size_t)(end - dp) : strlen(dp);
        snprintf(out, cap, "%.*s/%s", (int)n, dp, path);
        if (n && access(out, F_OK) == 0) return true;
        dp += n + (end ? 1 : 0);
    }
    snprintf(out, cap, "%s", path);
    return false;
}

size_t lang_value_memory(void) { return atomic_load(&lang_value_bytes); }

bool magic_run(lang_ctx *cx, const node *n)
{
    lang_error err;
    memset(&err, 0, sizeof err);
    cx->frames[cx->depth - 1].line = n->line;
    int rc = cx->s->magic(cx->s->magic_ctx, cx->s, n->name, cx->sink, &err);
    bool ok = rc == 0;
    if (!ok) vm_raise(cx, n, err.ename ? err.ename : "MagicError", "%s",
                      err.evalue ? err.evalue : "the magic failed");
    free(err.ename);
    free(err.evalue);
    for (int i = 0; i < err.ntraceback; i++) free(err.traceback[i]);
    free(err.traceback);
    return ok;
}
