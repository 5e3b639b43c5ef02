/*
 * call.c - calls (user functions and natives, positional and named
 * arguments), methods, indexing and properties.
 *
 * A call's frame is a window of the context's value stack: parameters
 * first, then the function's locals. Arguments are evaluated straight into
 * their slots, so a call allocates nothing on the heap.
 */
#include "vm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void param_list_text(const proto *p, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < p->nparams && n + 1 < cap; i++) {
        int w = snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", p->params[i].name);
        if (w < 0) break;
        n += (size_t)w;
    }
    if (!p->nparams) snprintf(buf, cap, "none");
}

static int find_param(const proto *p, const char *name)
{
    for (int i = 0; i < p->nparams; i++)
        if (strcmp(p->params[i].name, name) == 0) return i;
    return -1;
}

static bool unknown_named(lang_ctx *cx, const node *at, const proto *p, const char *name)
{
    const char *cands[32];
    char list[400];
    int n = p->nparams < 32 ? p->nparams : 32;
    for (int i = 0; i < n; i++) cands[i] = p->params[i].name;
    const char *s = suggest(name, cands, n);
    param_list_text(p, list, sizeof list);
    if (s)
        return vm_raise(cx, at, "TypeError", "%s() has no argument named '%s'; did you mean "
                        "'%s'? It accepts: %s", p->name, name, s, list);
    return vm_raise(cx, at, "TypeError", "%s() has no argument named '%s'; it accepts: %s",
                    p->name, name, list);
}

static bool arg_type_error(lang_ctx *cx, const node *at, const proto *p, int i, lang_value v)
{
    return vm_raise(cx, at, "TypeError", "%s() expects %s to be %s %s, got %s",
                    p->name, p->params[i].name,
                    p->params[i].ty.tag == TY_INT ? "an" : "a",
                    ty_name(p->params[i].ty), lang_value_type_name(v));
}

static inline bool arg_fits(const param *pa, lang_value *v)
{
    if (ty_accept(pa->ty, v)) return true;
    /* a parameter whose default is null also accepts null */
    return v->type == LANG_NULL && pa->has_def && pa->def && pa->def->kind == N_CONST &&
           pa->def->k.type == LANG_NULL;
}

/* Evaluates the arguments into slots[0..]: positional in order, named by
 * parameter, extras after nparams (variadic natives). Marks filled ones. */
static bool bind_args(lang_ctx *cx, const node *at, const proto *p, lang_value *slots,
                      bool *filled, const node *const *args, const char *const *names,
                      int nargs, int *nextra)
{
    int pos = 0;
    (void)at;
    *nextra = 0;
    for (int i = 0; i < nargs; i++) {
        int k;
        if (names && names[i]) {
            k = find_param(p, names[i]);
            if (k < 0) return unknown_named(cx, args[i], p, names[i]);
            if (filled[k])
                return vm_raise(cx, args[i], "TypeError", "%s() got two values for '%s'",
                                p->name, names[i]);
        } else if (pos < p->nparams) {
            k = pos++;
        } else if (p->variadic) {
            k = p->nparams + (*nextra)++;
        } else {
            return vm_raise(cx, args[i], "TypeError", "%s() takes %d argument%s but %d %s given",
                            p->name, p->nparams, p->nparams == 1 ? "" : "s", nargs,
                            nargs == 1 ? "was" : "were");
        }
        if (!eval(cx, args[i], &slots[k])) return false;
        if (k < p->nparams) {
            filled[k] = true;
            if (!arg_fits(&p->params[k], &slots[k])) return arg_type_error(cx, args[i], p, k, slots[k]);
        }
    }
    return true;
}

static bool missing_arg(lang_ctx *cx, const node *at, const proto *p, int i)
{
    return vm_raise(cx, at, "TypeError", "%s() is missing its argument '%s' (%s %s)",
                    p->name, p->params[i].name, ty_name(p->params[i].ty), p->params[i].name);
}

static bool stack_room(lang_ctx *cx, const node *at, int need)
{
    char here = 0;
    if (cx->depth >= cx->max_depth || cx->sp + need > cx->cap ||
        (size_t)(cx->stack_base - &here) > cx->stack_limit)
        return vm_raise(cx, at, "RecursionError", "maximum recursion depth exceeded "
                        "(%d calls deep); is a function calling itself without end?", cx->depth);
    return true;
}

static inline bool user_result(lang_ctx *cx, const node *at, const proto *p, xstatus st, lang_value *out)
{
    lang_value v = lang_null();
    if (st == X_RETURN) { v = cx->ret; cx->ret = lang_null(); }
    else if (p->ret.tag != TY_VOID && p->ret.tag != TY_AUTO)
        return vm_raise(cx, at, "TypeError", "%s() ended without returning %s %s", p->name,
                        p->ret.tag == TY_INT ? "an" : "a", ty_name(p->ret));
    if (p->ret.tag == TY_VOID && v.type != LANG_NULL) {
        val_decref(v);
        return vm_raise(cx, at, "TypeError", "%s() is declared void but returns a value", p->name);
    }
    if (!ty_accept(p->ret, &v)) {
        bool ok = vm_raise(cx, at, "TypeError", "%s() must return %s, got %s", p->name,
                           ty_name(p->ret), lang_value_type_name(v));
        val_decref(v);
        return ok;
    }
    *out = v;
    return true;
}

/* Runs the body in a new frame whose slots hold the bound arguments;
 * `filled` (NULL when every parameter was given) says which need defaults. */
static inline __attribute__((always_inline)) bool enter_user(lang_ctx *cx, const node *at, const proto *p, lang_value *slots,
                       const bool *filled, lang_value *out)
{
    lang_value *caller_fp = cx->fp;
    bool ok = true;
    cx->frames[cx->depth - 1].line = at->line;
    cx->frames[cx->depth++] = (frame){ (proto *)p, p->unit, p->line, (int)(slots - cx->stack) };
    cx->fp = slots;
    for (int i = 0; filled && ok && i < p->nparams; i++) {
        if (filled[i]) continue;
        if (!p->params[i].has_def) { ok = missing_arg(cx, at, p, i); break; }
        ok = eval(cx, p->params[i].def, &slots[i]);
        if (ok && !arg_fits(&p->params[i], &slots[i]))
            ok = arg_type_error(cx, p->params[i].def, p, i, slots[i]);
    }
    if (ok) ok = vm_tick(cx, at);
    if (ok) {
        xstatus st = exec_body(cx, p->body);
        ok = st != X_ERROR && user_result(cx, at, p, st, out);
    }
    cx->depth--;
    cx->fp = caller_fp;
    return ok;
}

static bool call_user(lang_ctx *cx, const node *at, const proto *p, const node *const *args,
                      const char *const *names, int nargs, lang_value *out)
{
    int base = cx->sp;
    if (!stack_room(cx, at, p->nslots + 1)) return false;
    lang_value *slots = cx->stack + base;
    for (int i = 0; i < p->nslots; i++) slots[i] = lang_null();
    cx->sp += p->nslots;
    bool named = false, ok = true;
    for (int i = 0; names && i < nargs; i++) named |= names[i] != NULL;
    if (!named && nargs == p->nparams) {        /* the common case: all positional */
        for (int i = 0; ok && i < nargs; i++) {
            const node *a = args[i];
            if (a->kind == N_LOCAL) { slots[i] = cx->fp[a->slot]; val_incref(slots[i]); }
            else ok = eval(cx, a, &slots[i]);
            if (ok && !arg_fits(&p->params[i], &slots[i]))
                ok = arg_type_error(cx, args[i], p, i, slots[i]);
        }
        if (ok) ok = enter_user(cx, at, p, slots, NULL, out);
    } else {
        bool filled[64] = {0};
        int nextra;
        ok = bind_args(cx, at, p, slots, filled, args, names, nargs, &nextra) &&
             enter_user(cx, at, p, slots, filled, out);
    }
    for (int i = 0; i < p->nslots; i++) val_decref(slots[i]);
    cx->sp = base;
    return ok;
}

static bool call_native(lang_ctx *cx, const node *at, const proto *p, lang_value self,
                        const node *const *args, const char *const *names, int nargs,
                        lang_value *out)
{
    bool filled[64] = {0};
    int nextra = 0, base = cx->sp, room = (p->nparams > nargs ? p->nparams : nargs) + 1;
    if (!stack_room(cx, at, room)) return false;
    lang_value *slots = cx->stack + base;
    for (int i = 0; i < room; i++) slots[i] = lang_null();
    cx->sp += room;
    bool ok = bind_args(cx, at, p, slots, filled, args, names, nargs, &nextra);
    for (int i = 0; ok && i < p->nparams; i++) {
        if (filled[i]) continue;
        if (!p->params[i].has_def) { ok = missing_arg(cx, at, p, i); break; }
        slots[i] = p->params[i].defval;
        val_incref(slots[i]);
    }
    if (ok) {
        const node *saved = cx->call_node;
        *out = lang_null();
        cx->call_node = at;
        cx->frames[cx->depth - 1].line = at->line;
        ok = p->native(cx, self, slots, p->nparams + nextra, out);
        cx->call_node = saved;
        if (!ok && !cx->failed) vm_raise(cx, at, "RuntimeError", "%s() failed", p->name);
        if (ok && cx->failed) ok = false;
        if (!ok) { val_decref(*out); *out = lang_null(); }
        if (ok && atomic_load_explicit(&lang_value_bytes, memory_order_relaxed) > cx->mem_limit) {
            val_decref(*out);
            *out = lang_null();
            ok = vm_raise(cx, at, "MemoryError", "language values use more than %zu bytes",
                          cx->mem_limit);
        }
    }
    for (int i = 0; i < room; i++) val_decref(slots[i]);
    cx->sp = base;
    return ok;
}

bool call_proto(lang_ctx *cx, const node *at, const proto *p, lang_value self,
                       const node *const *args, const char *const *names, int nargs,
                       lang_value *out)
{
    if (nargs > 64) return vm_raise(cx, at, "TypeError", "too many arguments");
    if (p->native) return call_native(cx, at, p, self, args, names, nargs, out);
    return call_user(cx, at, p, args, names, nargs, out);
}

bool call_value(lang_ctx *cx, const node *at, lang_value fn, lang_value self,
                const node *const *args, const char *const *names, int nargs,
                lang_value *out)
{
    return call_proto(cx, at, AS_FUNC(fn)->p, self, args, names, nargs, out);
}

static const char *article(const char *s)
{
    return strchr("aeiou", s[0]) ? "an" : "a";
}

static bool no_member(lang_ctx *cx, const node *n, lang_value recv, bool method)
{
    const lang_type *t = reg_value_type(recv);
    const char *cands[128];
    int k = 0;
    for (int i = 0; t && i < reg_method_count(t) && k < 128; i++)
        cands[k++] = reg_method_at(t, i)->name;
    for (const lang_property *pr = t ? t->properties : NULL; pr && pr->name && k < 128; pr++)
        cands[k++] = pr->name;
    const char *s = suggest(n->name, cands, k);
    const char *tn = lang_value_type_name(recv);
    return vm_raise(cx, n, "AttributeError", "%s %s has no %s '%s'%s%s%s", article(tn), tn,
                    method ? "method" : "property", n->name, s ? "; did you mean '" : "",
                    s ? s : "", s ? "'?" : "");
}

bool method_call(lang_ctx *cx, const node *n, lang_value recv, lang_value *out)
{
    const lang_type *t = reg_value_type(recv);
    proto *p = t ? reg_method(t, n->name) : NULL;
    if (!p) return no_member(cx, n, recv, true);
    return call_proto(cx, n, p, recv, (const node *const *)n->kids, n->names, n->n, out);
}

bool member_get(lang_ctx *cx, const node *n, lang_value obj, lang_value *out)
{
    const lang_type *t = reg_value_type(obj);
    const lang_property *pr = t ? reg_property(t, n->name) : NULL;
    if (!pr) {
        if (t && reg_method(t, n->name))
            return vm_raise(cx, n, "TypeError", "'%s' is a method: call it with %s(...)",
                            n->name, n->name);
        return no_member(cx, n, obj, false);
    }
    *out = lang_null();
    const node *saved = cx->call_node;
    cx->call_node = n;
    bool ok = pr->get(cx, obj, out);
    cx->call_node = saved;
    if (!ok && !cx->failed) vm_raise(cx, n, "RuntimeError", "reading '%s' failed", n->name);
    return ok && !cx->failed;
}

bool member_set(lang_ctx *cx, const node *n, lang_value obj, lang_value v)
{
    const lang_type *t = reg_value_type(obj);
    const lang_property *pr = t ? reg_property(t, n->name) : NULL;
    if (!pr) return no_member(cx, n, obj, false);
    if (!pr->set)
        return vm_raise(cx, n, "AttributeError", "'%s' of %s %s is read-only", n->name,
                        article(t->name), t->name);
    const node *saved = cx->call_node;
    cx->call_node = n;
    bool ok = pr->set(cx, obj, v);
    cx->call_node = saved;
    if (!ok && !cx->failed) vm_raise(cx, n, "RuntimeError", "setting '%s' failed", n->name);
    return ok && !cx->failed;
}

static bool list_index(lang_ctx *cx, const node *n, int64_t len, lang_value key, int64_t *out)
{
    if (key.type != LANG_INT)
        return vm_raise(cx, n, "TypeError", "an index must be an int, got %s",
                        lang_value_type_name(key));
    int64_t i = key.as.i;
    if (i < 0) i += len;
    if (i < 0 || i >= len)
        return vm_raise(cx, n, "IndexError", "index %lld is out of range: the length is %lld "
                        "(indexes run from 0 to %lld)", (long long)key.as.i, (long long)len,
                        (long long)len - 1);
    *out = i;
    return true;
}

bool index_get(lang_ctx *cx, const node *n, lang_value obj, lang_value key, lang_value *out)
{
    int64_t i = 0;
    if (obj.type == LANG_LIST) {
        if (!list_index(cx, n, (int64_t)AS_LIST(obj)->len, key, &i)) return false;
        *out = AS_LIST(obj)->items[i];
        val_incref(*out);
        return true;
    }
    if (obj.type == LANG_STR) {
        if (!list_index(cx, n, (int64_t)AS_STR(obj)->len, key, &i)) return false;
        *out = lang_string_new(AS_STR(obj)->data + i, 1);
        return true;
    }
    const lang_type *t = lang_object_type(obj);
    if (t && t->length && t->item) {
        if (!list_index(cx, n, t->length(AS_OBJ(obj)->ptr), key, &i)) return false;
        *out = lang_null();
        const node *saved = cx->call_node;
        cx->call_node = n;
        bool ok = t->item(cx, AS_OBJ(obj)->ptr, i, out);
        cx->call_node = saved;
        if (!ok && !cx->failed) vm_raise(cx, n, "RuntimeError", "indexing failed");
        return ok && !cx->failed;
    }
    const char *tn = lang_value_type_name(obj);
    return vm_raise(cx, n, "TypeError", "%s %s cannot be indexed with [...]", article(tn), tn);
}

bool index_set(lang_ctx *cx, const node *n, lang_value obj, lang_value key, lang_value v)
{
    int64_t i = 0;
    if (obj.type != LANG_LIST) {
        const char *tn = lang_value_type_name(obj);
        return vm_raise(cx, n, "TypeError", "cannot assign to an element of %s %s%s",
                        article(tn), tn, obj.type == LANG_STR ? " (strings cannot change)" : "");
    }
    if (!list_index(cx, n, (int64_t)AS_LIST(obj)->len, key, &i)) return false;
    if (v.type == LANG_LIST && val_contains_list(v, obj.as.o))
        return vm_raise(cx, n, "ValueError", "a list cannot contain itself");
    val_incref(v);
    return val_list_set(obj, (size_t)i, v);
}
