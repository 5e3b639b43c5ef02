/*
 * eval.c - the tree-walking evaluator: expressions and statements.
 *
 * eval() returns a new reference in *out or false with the context's error
 * set; exec() returns how a statement ended. Locals live in the frame's
 * slots (cx->fp), globals in the session table; neither is looked up by
 * name here. Integer arithmetic never allocates.
 */
#include "vm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lex.h"

#define COLD __attribute__((noinline))

/* Reads a local or a constant without a call: most operands are one. */
static inline bool operand(lang_ctx *cx, const node *n, lang_value *out)
{
    if (n->kind == N_LOCAL) { *out = cx->fp[n->slot]; val_incref(*out); return true; }
    if (n->kind == N_CONST) { *out = n->k; val_incref(*out); return true; }
    if (n->kind == N_GLOBAL && cx->s->g[n->slot].defined) {
        *out = cx->s->g[n->slot].v;
        val_incref(*out);
        return true;
    }
    return eval(cx, n, out);
}

static const char *op_text(int op)
{
    switch (op) {
    case TK_PLUS: case TK_PLUSEQ: case TK_INC: return "+";
    case TK_MINUS: case TK_MINUSEQ: case TK_DEC: return "-";
    case TK_STAR: case TK_STAREQ: return "*";
    case TK_SLASH: case TK_SLASHEQ: return "/";
    case TK_PERCENT: case TK_PERCENTEQ: return "%";
    case TK_LT: return "<";
    case TK_LE: return "<=";
    case TK_GT: return ">";
    case TK_GE: return ">=";
    case TK_EQ: return "==";
    case TK_NE: return "!=";
    case TK_BANG: return "!";
    default: return "?";
    }
}

static bool int_arith(lang_ctx *cx, const node *n, int op, int64_t a, int64_t b,
                      lang_value *out)
{
    int64_t r;
    switch (op) {
    case TK_PLUS: if (__builtin_add_overflow(a, b, &r)) goto overflow; break;
    case TK_MINUS: if (__builtin_sub_overflow(a, b, &r)) goto overflow; break;
    case TK_STAR: if (__builtin_mul_overflow(a, b, &r)) goto overflow; break;
    case TK_SLASH:
    case TK_PERCENT:
        if (b == 0) return vm_raise(cx, n, "ZeroDivisionError", "%s by zero",
                                    op == TK_SLASH ? "integer division" : "integer modulo");
        if (a == INT64_MIN && b == -1) goto overflow;
        r = op == TK_SLASH ? a / b : a % b;
        break;
    case TK_LT: *out = lang_bool(a < b); return true;
    case TK_LE: *out = lang_bool(a <= b); return true;
    case TK_GT: *out = lang_bool(a > b); return true;
    case TK_GE: *out = lang_bool(a >= b); return true;
    case TK_EQ: *out = lang_bool(a == b); return true;
    case TK_NE: *out = lang_bool(a != b); return true;
    default: return vm_raise(cx, n, "TypeError", "bad operator");
    }
    *out = lang_int(r);
    return true;
overflow:
    return vm_raise(cx, n, "OverflowError", "integer overflow in %lld %s %lld "
                    "(ints are 64-bit; use floats for huge numbers)",
                    (long long)a, op_text(op), (long long)b);
}

static bool float_arith(lang_ctx *cx, const node *n, int op, double a, double b,
                        lang_value *out)
{
    switch (op) {
    case TK_PLUS: *out = lang_float(a + b); return true;
    case TK_MINUS: *out = lang_float(a - b); return true;
    case TK_STAR: *out = lang_float(a * b); return true;
    case TK_SLASH:
    case TK_PERCENT:
        if (b == 0) return vm_raise(cx, n, "ZeroDivisionError", "float %s by zero",
                                    op == TK_SLASH ? "division" : "modulo");
        *out = lang_float(op == TK_SLASH ? a / b : fmod(a, b));
        return true;
    case TK_LT: *out = lang_bool(a < b); return true;
    case TK_LE: *out = lang_bool(a <= b); return true;
    case TK_GT: *out = lang_bool(a > b); return true;
    case TK_GE: *out = lang_bool(a >= b); return true;
    case TK_EQ: *out = lang_bool(a == b); return true;
    case TK_NE: *out = lang_bool(a != b); return true;
    default: return vm_raise(cx, n, "TypeError", "bad operator");
    }
}

COLD static bool concat(lang_ctx *cx, const node *n, lang_value a, lang_value b, lang_value *out)
{
    char *sa = a.type == LANG_STR ? NULL : lang_value_str(a);
    char *sb = b.type == LANG_STR ? NULL : lang_value_str(b);
    const char *pa = sa ? sa : lang_string_cstr(a), *pb = sb ? sb : lang_string_cstr(b);
    size_t na = sa ? strlen(sa) : lang_string_len(a), nb = sb ? strlen(sb) : lang_string_len(b);
    bool ok = true;
    if (na + nb > cx->s->cfg.max_string_bytes) {
        ok = vm_raise(cx, n, "MemoryError", "string too long (%zu bytes; the limit is %zu)",
                      na + nb, cx->s->cfg.max_string_bytes);
    } else {
        *out = val_concat(pa, na, pb, nb);
        if (out->type != LANG_STR) ok = vm_raise(cx, n, "MemoryError", "out of memory");
    }
    free(sa);
    free(sb);
    return ok;
}

COLD static bool list_concat(lang_ctx *cx, const node *n, lang_value a, lang_value b,
                        lang_value *out)
{
    size_t na = lang_list_len(a), nb = lang_list_len(b);
    if (na + nb > cx->s->cfg.max_list_items)
        return vm_raise(cx, n, "MemoryError", "list too long (%zu items)", na + nb);
    lang_value l = lang_list_new(na + nb);
    for (size_t i = 0; i < na + nb; i++) {
        lang_value v = i < na ? lang_list_get(a, i) : lang_list_get(b, i - na);
        val_incref(v);
        lang_list_push(l, v);
    }
    *out = l;
    return true;
}

/* Everything but int (op) int: floats, strings, lists, equality. */
COLD static bool binary_slow(lang_ctx *cx, const node *n, int op, lang_value a, lang_value b,
                        lang_value *out)
{
    bool anum = a.type == LANG_INT || a.type == LANG_FLOAT;
    bool bnum = b.type == LANG_INT || b.type == LANG_FLOAT;
    if (anum && bnum) {
        double x = a.type == LANG_INT ? (double)a.as.i : a.as.f;
        double y = b.type == LANG_INT ? (double)b.as.i : b.as.f;
        return float_arith(cx, n, op, x, y, out);
    }
    const lang_type *ta = lang_object_type(a), *tb = lang_object_type(b);
    const lang_type *t = ta && ta->binary ? ta : tb && tb->binary ? tb : NULL;
    if (t) {
        const node *saved = cx->call_node;
        cx->call_node = n;
        *out = lang_null();
        bool ok = t->binary(cx, op_text(op), a, b, out);
        cx->call_node = saved;
        if (ok && !cx->failed) return true;
        if (cx->failed) { val_decref(*out); *out = lang_null(); return false; }
        if (op != TK_EQ && op != TK_NE)
            return vm_raise(cx, n, "TypeError", "cannot apply '%s' to %s and %s", op_text(op),
                            lang_value_type_name(a), lang_value_type_name(b));
    }
    if (op == TK_EQ || op == TK_NE) {
        bool eq = val_equal(a, b);
        *out = lang_bool(op == TK_EQ ? eq : !eq);
        return true;
    }
    if (op == TK_PLUS && (a.type == LANG_STR || b.type == LANG_STR))
        return concat(cx, n, a, b, out);
    if (op == TK_PLUS && a.type == LANG_LIST && b.type == LANG_LIST)
        return list_concat(cx, n, a, b, out);
    if (a.type == LANG_STR && b.type == LANG_STR &&
        (op == TK_LT || op == TK_LE || op == TK_GT || op == TK_GE)) {
        int c = val_compare_str(a, b);
        bool r = op == TK_LT ? c < 0 : op == TK_LE ? c <= 0 : op == TK_GT ? c > 0 : c >= 0;
        *out = lang_bool(r);
        return true;
    }
    return vm_raise(cx, n, "TypeError", "cannot apply '%s' to %s and %s", op_text(op),
                    lang_value_type_name(a), lang_value_type_name(b));
}

static inline bool binary_values(lang_ctx *cx, const node *n, int op, lang_value a,
                                 lang_value b, lang_value *out)
{
    if (a.type == LANG_INT && b.type == LANG_INT) return int_arith(cx, n, op, a.as.i, b.as.i, out);
    return binary_slow(cx, n, op, a, b, out);
}

static bool truthy(lang_ctx *cx, const node *n, lang_value v, bool *out)
{
    if (val_truthy_ok(v, out)) return true;
    bool ok = vm_raise(cx, n, "TypeError", "a condition must be a bool or a number, got %s",
                       lang_value_type_name(v));
    return ok;
}

/* int < int and friends, straight to a C bool: the usual loop condition. */
static inline bool int_compare(int op, int64_t a, int64_t b, bool *out)
{
    switch (op) {
    case TK_LT: *out = a < b; return true;
    case TK_LE: *out = a <= b; return true;
    case TK_GT: *out = a > b; return true;
    case TK_GE: *out = a >= b; return true;
    case TK_EQ: *out = a == b; return true;
    case TK_NE: *out = a != b; return true;
    default: return false;
    }
}

static inline bool eval_cond(lang_ctx *cx, const node *n, bool *out)
{
    lang_value v;
    if (n->kind == N_BINARY && n->a->kind == N_LOCAL) {
        lang_value a = cx->fp[n->a->slot];
        const node *r = n->b;
        lang_value b = r->kind == N_CONST ? r->k : r->kind == N_LOCAL ? cx->fp[r->slot] : lang_null();
        if (a.type == LANG_INT && b.type == LANG_INT && int_compare(n->op, a.as.i, b.as.i, out))
            return true;
    }
    if (!operand(cx, n, &v)) return false;
    if (v.type == LANG_BOOL) { *out = v.as.b; return true; }
    bool ok = truthy(cx, n, v, out);
    val_decref(v);
    return ok;
}

COLD static bool unary_op(lang_ctx *cx, const node *n, lang_value v, lang_value *out)
{
    if (n->op == TK_BANG) {
        bool b;
        if (!truthy(cx, n, v, &b)) return false;
        *out = lang_bool(!b);
        return true;
    }
    if (v.type == LANG_INT) {
        if (v.as.i == INT64_MIN) return vm_raise(cx, n, "OverflowError", "integer overflow in -");
        *out = lang_int(-v.as.i);
        return true;
    }
    if (v.type == LANG_FLOAT) { *out = lang_float(-v.as.f); return true; }
    return vm_raise(cx, n, "TypeError", "cannot negate a %s", lang_value_type_name(v));
}

/* ---- assignable places ---- */

/* An lvalue with its container and key evaluated once (for x[i] += 1). */
typedef struct place { const node *n; lang_value obj, key; } place;

static bool place_prepare(lang_ctx *cx, const node *n, place *pl)
{
    pl->n = n;
    pl->obj = pl->key = lang_null();
    if (n->kind == N_INDEX || n->kind == N_MEMBER) {
        if (!eval(cx, n->a, &pl->obj)) return false;
        if (n->kind == N_INDEX && !eval(cx, n->b, &pl->key)) return false;
    }
    return true;
}

static void place_done(place *pl)
{
    val_decref(pl->obj);
    val_decref(pl->key);
}

bool index_get(lang_ctx *cx, const node *n, lang_value obj, lang_value key, lang_value *out);
bool member_get(lang_ctx *cx, const node *n, lang_value obj, lang_value *out);
bool index_set(lang_ctx *cx, const node *n, lang_value obj, lang_value key, lang_value v);
bool member_set(lang_ctx *cx, const node *n, lang_value obj, lang_value v);

static bool place_get(lang_ctx *cx, place *pl, lang_value *out)
{
    const node *n = pl->n;
    switch (n->kind) {
    case N_LOCAL: *out = cx->fp[n->slot]; val_incref(*out); return true;
    case N_GLOBAL: return eval(cx, n, out);
    case N_INDEX: return index_get(cx, n, pl->obj, pl->key, out);
    default: return member_get(cx, n, pl->obj, out);
    }
}

COLD static bool store_error(lang_ctx *cx, const node *at, const char *name, ltype ty, lang_value v)
{
    const char *hint = "";
    if (ty.tag == TY_INT && v.type == LANG_FLOAT)
        hint = " (use int(...) to convert; it drops the fraction)";
    else if ((ty.tag == TY_INT || ty.tag == TY_FLOAT) && v.type == LANG_STR)
        hint = ty.tag == TY_INT ? " (use int(...) to read a number from text)"
                                : " (use float(...) to read a number from text)";
    else if (ty.tag == TY_STRING && v.type != LANG_NULL)
        hint = " (use str(...) to convert)";
    const char *tn = lang_value_type_name(v);
    return vm_raise(cx, at, "TypeError", "cannot assign %s %s to '%s', which is declared %s%s",
                    strchr("aeiou", tn[0]) ? "an" : "a", tn, name, ty_name(ty), hint);
}

bool check_type(lang_ctx *cx, const node *at, ltype ty, lang_value *v, const char *what)
{
    if (ty_accept(ty, v)) return true;
    return store_error(cx, at, what, ty, *v);
}

/* Stores v (stolen) into the place. */
static bool place_set(lang_ctx *cx, place *pl, lang_value v)
{
    const node *n = pl->n;
    if (n->kind == N_LOCAL) {
        if (!ty_accept(n->ty, &v)) { store_error(cx, n, n->name, n->ty, v); val_decref(v); return false; }
        lang_value old = cx->fp[n->slot];
        cx->fp[n->slot] = v;
        val_decref(old);
        return true;
    }
    if (n->kind == N_GLOBAL) {
        global *g = &cx->s->g[n->slot];
        if (!g->defined) {
            val_decref(v);
            vm_name_error(cx, n, g->name);
            return false;
        }
        if (!ty_accept(g->ty, &v)) { store_error(cx, n, g->name, g->ty, v); val_decref(v); return false; }
        lang_value old = g->v;
        g->v = v;
        val_decref(old);
        return true;
    }
    bool ok = n->kind == N_INDEX ? index_set(cx, n, pl->obj, pl->key, v)
                                 : member_set(cx, n, pl->obj, v);
    val_decref(v);
    return ok;
}

static int compound_op(int op)
{
    switch (op) {
    case TK_PLUSEQ: return TK_PLUS;
    case TK_MINUSEQ: return TK_MINUS;
    case TK_STAREQ: return TK_STAR;
    case TK_SLASHEQ: return TK_SLASH;
    case TK_PERCENTEQ: return TK_PERCENT;
    case TK_INC: return TK_PLUS;
    default: return TK_MINUS;
    }
}

/* assignment: target op= value; the value of the expression is null */
static bool eval_assign(lang_ctx *cx, const node *n, lang_value *out)
{
    const node *t = n->a;
    lang_value v;
    *out = lang_null();
    if (n->op == TK_ASSIGN && (t->kind == N_LOCAL || t->kind == N_GLOBAL)) {
        if (!operand(cx, n->b, &v)) return false;      /* the common case */
        place pl = { t, lang_null(), lang_null() };
        return place_set(cx, &pl, v);
    }
    place pl;
    bool ok = place_prepare(cx, t, &pl);
    if (ok && n->op == TK_ASSIGN) {
        ok = eval(cx, n->b, &v) && place_set(cx, &pl, v);
    } else if (ok) {
        lang_value cur, rhs, r;
        ok = place_get(cx, &pl, &cur);
        if (ok) {
            ok = eval(cx, n->b, &rhs);
            if (ok) {
                ok = binary_values(cx, n, compound_op(n->op), cur, rhs, &r);
                val_decref(rhs);
                if (ok) ok = place_set(cx, &pl, r);
            }
            val_decref(cur);
        }
    }
    place_done(&pl);
    return ok;
}

/* ++x, x++, --x, x-- on numbers */
COLD static bool eval_incdec(lang_ctx *cx, const node *n, lang_value *out)
{
    const node *t = n->a;
    if (t->kind == N_LOCAL && cx->fp[t->slot].type == LANG_INT) {
        lang_value *slot = &cx->fp[t->slot];
        int64_t old = slot->as.i, r;
        bool ovf = n->op == TK_INC ? __builtin_add_overflow(old, 1, &r)
                                   : __builtin_sub_overflow(old, 1, &r);
        if (ovf) return vm_raise(cx, n, "OverflowError", "integer overflow in %s",
                                 n->op == TK_INC ? "++" : "--");
        slot->as.i = r;
        *out = lang_int(n->flag ? r : old);
        return true;
    }
    place pl;
    lang_value cur, r;
    bool ok = place_prepare(cx, t, &pl) && place_get(cx, &pl, &cur);
    if (ok) {
        if (cur.type != LANG_INT && cur.type != LANG_FLOAT) {
            ok = vm_raise(cx, n, "TypeError", "%s needs a number, got %s",
                          n->op == TK_INC ? "++" : "--", lang_value_type_name(cur));
        } else {
            ok = binary_values(cx, n, compound_op(n->op), cur, lang_int(1), &r);
            if (ok) {
                *out = n->flag ? r : cur;
                ok = place_set(cx, &pl, r);
            }
        }
        val_decref(cur);
    }
    place_done(&pl);
    return ok;
}

COLD static bool eval_list(lang_ctx *cx, const node *n, lang_value *out)
{
    lang_value l = lang_list_new((size_t)n->n);
    if (l.type != LANG_LIST) return vm_raise(cx, n, "MemoryError", "out of memory");
    for (int i = 0; i < n->n; i++) {
        lang_value v;
        if (!eval(cx, n->kids[i], &v)) { val_decref(l); return false; }
        lang_list_push(l, v);
    }
    *out = l;
    return true;
}

static bool eval_global(lang_ctx *cx, const node *n, lang_value *out)
{
    global *g = &cx->s->g[n->slot];
    if (!g->defined) return vm_name_error(cx, n, g->name);
    *out = g->v;
    val_incref(*out);
    return true;
}

static bool eval_call(lang_ctx *cx, const node *n, lang_value *out)
{
    lang_value fn;
    if (n->a->kind == N_GLOBAL && cx->s->g[n->a->slot].defined) {
        fn = cx->s->g[n->a->slot].v;
        val_incref(fn);
    } else if (!eval(cx, n->a, &fn)) return false;
    if (fn.type == LANG_FUNC) {
        bool ok = call_proto(cx, n, AS_FUNC(fn)->p, lang_null(), (const node *const *)n->kids,
                             n->names, n->n, out);
        val_decref(fn);
        return ok;
    }
    if (fn.type != LANG_FUNC) {
        bool ok = vm_raise(cx, n, "TypeError", "'%s' is %s %s, not a function",
                           n->a->name ? n->a->name : "this", fn.type == LANG_INT ? "an" : "a",
                           lang_value_type_name(fn));
        val_decref(fn);
        return ok;
    }
    bool ok = call_value(cx, n, fn, lang_null(), (const node *const *)n->kids,
                         n->names, n->n, out);
    val_decref(fn);
    return ok;
}

bool method_call(lang_ctx *cx, const node *n, lang_value recv, lang_value *out);

bool eval(lang_ctx *cx, const node *n, lang_value *out)
{
    lang_value a, b;
    bool ok;
    switch ((node_kind)n->kind) {
    case N_CONST: *out = n->k; val_incref(*out); return true;
    case N_LOCAL: *out = cx->fp[n->slot]; val_incref(*out); return true;
    case N_GLOBAL: return eval_global(cx, n, out);
    case N_BINARY:
        if (!operand(cx, n->a, &a)) return false;
        if (!operand(cx, n->b, &b)) { val_decref(a); return false; }
        if (a.type == LANG_INT && b.type == LANG_INT) {
            int64_t r;
            switch (n->op) {
            case TK_PLUS: if (__builtin_add_overflow(a.as.i, b.as.i, &r)) break; *out = lang_int(r); return true;
            case TK_MINUS: if (__builtin_sub_overflow(a.as.i, b.as.i, &r)) break; *out = lang_int(r); return true;
            case TK_STAR: if (__builtin_mul_overflow(a.as.i, b.as.i, &r)) break; *out = lang_int(r); return true;
            case TK_LT: *out = lang_bool(a.as.i < b.as.i); return true;
            case TK_PERCENT:
                if (b.as.i == 0 || b.as.i == -1) break;
                *out = lang_int(a.as.i % b.as.i);
                return true;
            case TK_SLASH:
                if (b.as.i == 0 || b.as.i == -1) break;
                *out = lang_int(a.as.i / b.as.i);
                return true;
            default: break;
            }
            return int_arith(cx, n, n->op, a.as.i, b.as.i, out);
        }
        ok = binary_slow(cx, n, n->op, a, b, out);
        val_decref(a);
        val_decref(b);
        return ok;
    case N_UNARY:
        if (!eval(cx, n->a, &a)) return false;
        ok = unary_op(cx, n, a, out);
        val_decref(a);
        return ok;
    case N_AND: case N_OR: {
        bool c;
        if (!eval_cond(cx, n->a, &c)) return false;
        if (c == (n->kind == N_OR)) { *out = lang_bool(c); return true; }
        if (!eval_cond(cx, n->b, &c)) return false;
        *out = lang_bool(c);
        return true;
    }
    case N_TERNARY: {
        bool c;
        if (!eval_cond(cx, n->a, &c)) return false;
        return eval(cx, c ? n->b : n->c, out);
    }
    case N_CALL: return eval_call(cx, n, out);
    case N_METHOD:
        if (!eval(cx, n->a, &a)) return false;
        ok = method_call(cx, n, a, out);
        val_decref(a);
        return ok;
    case N_INDEX:
        if (!eval(cx, n->a, &a)) return false;
        if (!eval(cx, n->b, &b)) { val_decref(a); return false; }
        ok = index_get(cx, n, a, b, out);
        val_decref(a);
        val_decref(b);
        return ok;
    case N_MEMBER:
        if (!eval(cx, n->a, &a)) return false;
        ok = member_get(cx, n, a, out);
        val_decref(a);
        return ok;
    case N_LIST: return eval_list(cx, n, out);
    case N_INCDEC: return eval_incdec(cx, n, out);
    case N_ASSIGN: return eval_assign(cx, n, out);
    default:
        return vm_raise(cx, n, "SystemError", "not an expression (kind %d)", n->kind);
    }
}

/* ---- statements ---- */

static lang_value zero_value(ltype ty)
{
    switch (ty.tag) {
    case TY_INT: return lang_int(0);
    case TY_FLOAT: return lang_float(0);
    case TY_BOOL: return lang_bool(false);
    case TY_STRING: return lang_string_new("", 0);
    case TY_LIST: return lang_list_new(0);
    default: return lang_null();
    }
}

/* decl: a local slot or a global, (re)declared with its type */
COLD static xstatus exec_decl(lang_ctx *cx, const node *n)
{
    lang_value v;
    const node *t = n->a;
    if (n->b) { if (!eval(cx, n->b, &v)) return X_ERROR; }
    else v = zero_value(n->ty);
    if (!ty_accept(n->ty, &v)) {
        store_error(cx, n->b ? n->b : n, t->name, n->ty, v);
        val_decref(v);
        return X_ERROR;
    }
    if (n->ty.tag == TY_AUTO && v.type == LANG_NULL && n->b && t->kind == N_GLOBAL) {
        /* `auto x = f();` of a void call: keep it, x is simply null */
    }
    lang_value old;
    if (t->kind == N_LOCAL) {
        old = cx->fp[t->slot];
        cx->fp[t->slot] = v;
    } else {
        global *g = &cx->s->g[t->slot];
        old = g->v;
        g->v = v;
        g->ty = n->ty;
        g->defined = true;
    }
    val_decref(old);
    return X_NORMAL;
}

/* The statements that end a branch, run without another exec() call. */
static inline xstatus exec_fast(lang_ctx *cx, const node *n)
{
    lang_value v;
    switch (n->kind) {
    case S_RETURN:
        if (n->a) { if (!operand(cx, n->a, &v)) return X_ERROR; }
        else v = lang_null();
        val_decref(cx->ret);
        cx->ret = v;
        return X_RETURN;
    case S_BREAK: return X_BREAK;
    case S_CONTINUE: return X_CONTINUE;
    case S_EXPR:
        if (n->a->kind != N_ASSIGN) return exec(cx, n);
        return eval_assign(cx, n->a, &v) ? X_NORMAL : X_ERROR;
    case S_BLOCK:
        if (n->n == 1) return exec_fast(cx, n->kids[0]);
        return exec(cx, n);
    default: return exec(cx, n);
    }
}

xstatus exec_body(lang_ctx *cx, const node *block)
{
    xstatus st = X_NORMAL;
    for (int i = 0; i < block->n && st == X_NORMAL; i++) {
        const node *n = block->kids[i];
        if (n->kind == S_IF) {          /* a function's guard: if (...) return ...; */
            bool c;
            if (!eval_cond(cx, n->a, &c)) return X_ERROR;
            st = c ? exec_fast(cx, n->b) : n->c ? exec_fast(cx, n->c) : X_NORMAL;
        } else {
            st = exec_fast(cx, n);
        }
    }
    return st;
}

static xstatus exec_block(lang_ctx *cx, const node *n)
{
    for (int i = 0; i < n->n; i++) {
        xstatus st = exec_fast(cx, n->kids[i]);
        if (st != X_NORMAL) return st;
    }
    return X_NORMAL;
}

/* Runs a loop body: returns X_NORMAL to go on, X_BREAK to leave the loop
 * normally (mapped by the caller), or the statement's other status. */
static inline xstatus loop_body(lang_ctx *cx, const node *body)
{
    xstatus st = exec_fast(cx, body);
    if (st == X_CONTINUE) return X_NORMAL;
    return st;
}

static xstatus exec_while(lang_ctx *cx, const node *n)
{
    for (;;) {
        bool c;
        if (!vm_tick(cx, n) || !eval_cond(cx, n->a, &c)) return X_ERROR;
        if (!c) return X_NORMAL;
        xstatus st = loop_body(cx, n->b);
        if (st == X_BREAK) return X_NORMAL;
        if (st != X_NORMAL) return st;
    }
}

static xstatus exec_do(lang_ctx *cx, const node *n)
{
    for (;;) {
        bool c;
        if (!vm_tick(cx, n)) return X_ERROR;
        xstatus st = loop_body(cx, n->b);
        if (st == X_BREAK) return X_NORMAL;
        if (st != X_NORMAL) return st;
        if (!eval_cond(cx, n->a, &c)) return X_ERROR;
        if (!c) return X_NORMAL;
    }
}

static xstatus exec_for(lang_ctx *cx, const node *n)
{
    xstatus st = exec(cx, n->a);
    if (st != X_NORMAL) return st;
    for (;;) {
        bool c = true;
        if (!vm_tick(cx, n)) return X_ERROR;
        if (n->b && !eval_cond(cx, n->b, &c)) return X_ERROR;
        if (!c) return X_NORMAL;
        st = loop_body(cx, n->d);
        if (st == X_BREAK) return X_NORMAL;
        if (st != X_NORMAL) return st;
        if (n->c) {
            lang_value v;
            if (!eval(cx, n->c, &v)) return X_ERROR;
            val_decref(v);
        }
    }
}

bool range_bounds(lang_value v, int64_t *start, int64_t *stop, int64_t *step);

static xstatus forin_item(lang_ctx *cx, const node *n, lang_value item)
{
    if (!ty_accept(n->ty, &item)) {
        store_error(cx, n, n->name, n->ty, item);
        val_decref(item);
        return X_ERROR;
    }
    lang_value old = cx->fp[n->slot];
    cx->fp[n->slot] = item;
    val_decref(old);
    xstatus st = loop_body(cx, n->d);
    return st;
}

static bool seq_item(lang_ctx *cx, const node *n, lang_value seq, int64_t i,
                     bool *done, lang_value *out)
{
    *done = false;
    if (seq.type == LANG_LIST) {
        if ((size_t)i >= AS_LIST(seq)->len) { *done = true; return true; }
        *out = AS_LIST(seq)->items[i];
        val_incref(*out);
        return true;
    }
    if (seq.type == LANG_STR) {
        if ((size_t)i >= AS_STR(seq)->len) { *done = true; return true; }
        *out = lang_string_new(AS_STR(seq)->data + i, 1);
        return true;
    }
    const lang_type *t = lang_object_type(seq);
    if (t && t->length && t->item) {
        if (i >= t->length(AS_OBJ(seq)->ptr)) { *done = true; return true; }
        *out = lang_null();
        cx->call_node = n;
        return t->item(cx, AS_OBJ(seq)->ptr, i, out) ||
               (cx->failed ? false : vm_raise(cx, n, "RuntimeError", "item %lld failed", (long long)i));
    }
    return vm_raise(cx, n, "TypeError", "cannot loop over %s %s", seq.type == LANG_INT ? "an" : "a",
                    lang_value_type_name(seq));
}

/* forin -> for (type NAME : seq) body; ranges run without allocating */
COLD static xstatus exec_forin(lang_ctx *cx, const node *n)
{
    lang_value seq;
    int64_t start, stop, step;
    xstatus st = X_NORMAL;
    if (!eval(cx, n->a, &seq)) return X_ERROR;
    if (range_bounds(seq, &start, &stop, &step)) {
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
            if (!vm_tick(cx, n)) { st = X_ERROR; break; }
            st = forin_item(cx, n, lang_int(i));
            if (st != X_NORMAL || __builtin_add_overflow(i, step, &(int64_t){0})) break;
        }
    } else {
        for (int64_t i = 0;; i++) {
            bool done;
            lang_value item;
            if (!vm_tick(cx, n) || !seq_item(cx, n, seq, i, &done, &item)) { st = X_ERROR; break; }
            if (done) break;
            st = forin_item(cx, n, item);
            if (st != X_NORMAL) break;
        }
    }
    val_decref(seq);
    return st == X_BREAK ? X_NORMAL : st;
}

COLD static xstatus exec_func(lang_ctx *cx, const node *n)
{
    global *g = &cx->s->g[n->a->slot];
    lang_value f = val_func_new(n->fn);
    if (f.type != LANG_FUNC) { vm_raise(cx, n, "MemoryError", "out of memory"); return X_ERROR; }
    lang_value old = g->v;
    g->v = f;
    g->ty = (ltype){ TY_FUNC, NULL };
    g->defined = true;
    val_decref(old);
    return X_NORMAL;
}

bool magic_run(lang_ctx *cx, const node *n);

xstatus exec(lang_ctx *cx, const node *n)
{
    lang_value v;
    switch ((node_kind)n->kind) {
    case S_EXPR:
        if (n->a->kind == N_ASSIGN) return eval_assign(cx, n->a, &v) ? X_NORMAL : X_ERROR;
        if (!eval(cx, n->a, &v)) return X_ERROR;
        val_decref(v);
        return X_NORMAL;
    case S_VALUE:
        if (!eval(cx, n->a, &v)) return X_ERROR;
        val_decref(cx->cell_value);
        cx->cell_value = v;
        cx->has_cell_value = true;
        return X_NORMAL;
    case S_DECL: return exec_decl(cx, n);
    case S_BLOCK: return exec_block(cx, n);
    case S_IF: {
        bool c;
        if (!eval_cond(cx, n->a, &c)) return X_ERROR;
        if (c) return exec_fast(cx, n->b);
        return n->c ? exec_fast(cx, n->c) : X_NORMAL;
    }
    case S_WHILE: return exec_while(cx, n);
    case S_DO: return exec_do(cx, n);
    case S_FOR: return exec_for(cx, n);
    case S_FORIN: return exec_forin(cx, n);
    case S_BREAK: return X_BREAK;
    case S_CONTINUE: return X_CONTINUE;
    case S_RETURN:
        if (n->a) { if (!operand(cx, n->a, &v)) return X_ERROR; }
        else v = lang_null();
        val_decref(cx->ret);
        cx->ret = v;
        return X_RETURN;
    case S_FUNC: return exec_func(cx, n);
    case S_MAGIC: return magic_run(cx, n) ? X_NORMAL : X_ERROR;
    case S_NOP: return X_NORMAL;
    default:
        vm_raise(cx, n, "SystemError", "not a statement (kind %d)", n->kind);
        return X_ERROR;
    }
}
