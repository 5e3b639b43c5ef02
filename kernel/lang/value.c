/*
 * value.c - refcounted heap values: strings, lists, functions, objects, and
 * how every value prints and compares.
 */
#include "vm.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

atomic_size_t lang_value_bytes;

static inline void count_bytes(size_t n) { atomic_fetch_add_explicit(&lang_value_bytes, n, memory_order_relaxed); }
static inline void uncount_bytes(size_t n) { atomic_fetch_sub_explicit(&lang_value_bytes, n, memory_order_relaxed); }

static lang_obj *obj_alloc(size_t size, lang_vtype kind)
{
    lang_obj *o = malloc(size);
    if (!o) return NULL;
    o->refs = 1;
    o->kind = (uint8_t)kind;
    o->bytes = size;
    o->next_free = NULL;
    count_bytes(size);
    return o;
}

static lang_value ref(lang_obj *o, lang_vtype t)
{
    lang_value v;
    if (!o) return lang_null();
    v.type = t;
    v.as.o = o;
    return v;
}

/* Frees one object; child lists whose count drops to zero are queued on
 * `todo` instead of recursing, so a deeply nested list cannot overflow the
 * C stack. */
static void free_one(lang_obj *o, lang_obj **todo)
{
    uncount_bytes(o->bytes);
    switch ((lang_vtype)o->kind) {
    case LANG_LIST: {
        llist *l = (llist *)o;
        for (size_t i = 0; i < l->len; i++) {
            lang_value v = l->items[i];
            if (IS_REF(v) && --v.as.o->refs == 0) {
                v.as.o->next_free = *todo;
                *todo = v.as.o;
            }
        }
        uncount_bytes(l->cap * sizeof(lang_value));
        free(l->items);
        break;
    }
    case LANG_FUNC: {
        proto *p = ((lfunc *)o)->p;
        if (p && !p->native) unit_release(p->unit);
        break;
    }
    case LANG_OBJ: {
        lobject *ob = (lobject *)o;
        if (ob->t && ob->t->free) ob->t->free(ob->ptr);
        break;
    }
    default:
        break;
    }
    free(o);
}

void val_free_obj(lang_obj *o)
{
    lang_obj *todo = o;
    o->next_free = NULL;
    while (todo) {
        lang_obj *cur = todo;
        todo = cur->next_free;
        free_one(cur, &todo);
    }
}

void lang_value_incref(lang_value v) { val_incref(v); }
void lang_value_decref(lang_value v) { val_decref(v); }

lang_value lang_string_new(const char *s, size_t len)
{
    lstr *str = (lstr *)obj_alloc(sizeof(lstr) + len + 1, LANG_STR);
    if (!str) return lang_null();
    str->len = len;
    if (len) memcpy(str->data, s, len);
    str->data[len] = 0;
    return ref(&str->h, LANG_STR);
}

lang_value lang_string_from(const char *cstr)
{
    return lang_string_new(cstr ? cstr : "", cstr ? strlen(cstr) : 0);
}

lang_value val_concat(const char *a, size_t na, const char *b, size_t nb)
{
    lstr *str = (lstr *)obj_alloc(sizeof(lstr) + na + nb + 1, LANG_STR);
    if (!str) return lang_null();
    str->len = na + nb;
    memcpy(str->data, a, na);
    memcpy(str->data + na, b, nb);
    str->data[na + nb] = 0;
    return ref(&str->h, LANG_STR);
}

const char *lang_string_cstr(lang_value v)
{
    return v.type == LANG_STR ? AS_STR(v)->data : "";
}

size_t lang_string_len(lang_value v)
{
    return v.type == LANG_STR ? AS_STR(v)->len : 0;
}

lang_value lang_list_new(size_t capacity)
{
    llist *l = (llist *)obj_alloc(sizeof(llist), LANG_LIST);
    if (!l) return lang_null();
    l->len = 0;
    l->cap = capacity;
    l->items = capacity ? malloc(capacity * sizeof(lang_value)) : NULL;
    if (capacity && !l->items) {
        l->cap = 0;
    }
    count_bytes(l->cap * sizeof(lang_value));
    return ref(&l->h, LANG_LIST);
}

bool lang_list_push(lang_value list, lang_value item)
{
    if (list.type != LANG_LIST) { val_decref(item); return false; }
    llist *l = AS_LIST(list);
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        lang_value *items = realloc(l->items, cap * sizeof(lang_value));
        if (!items) { val_decref(item); return false; }
        count_bytes((cap - l->cap) * sizeof(lang_value));
        l->items = items;
        l->cap = cap;
    }
    l->items[l->len++] = item;
    return true;
}

bool val_list_set(lang_value list, size_t i, lang_value item)
{
    llist *l = AS_LIST(list);
    lang_value old = l->items[i];
    l->items[i] = item;
    val_decref(old);
    return true;
}

size_t lang_list_len(lang_value list)
{
    return list.type == LANG_LIST ? AS_LIST(list)->len : 0;
}

lang_value lang_list_get(lang_value list, size_t i)
{
    if (list.type != LANG_LIST || i >= AS_LIST(list)->len) return lang_null();
    return AS_LIST(list)->items[i];
}

/* Whether `needle` is `hay` or reachable from it through nested lists.
 * Depth-first with an explicit stack: lists may nest deeply. */
bool val_contains_list(lang_value hay, lang_obj *needle)
{
    if (hay.type != LANG_LIST) return false;
    size_t cap = 64, n = 0;
    llist **stack = malloc(cap * sizeof *stack);
    if (!stack) return true;             /* refuse the store rather than risk a cycle */
    stack[n++] = AS_LIST(hay);
    bool found = false;
    while (n && !found) {
        llist *l = stack[--n];
        if (&l->h == needle) { found = true; break; }
        for (size_t i = 0; i < l->len; i++) {
            if (l->items[i].type != LANG_LIST) continue;
            if (n == cap) {
                llist **s2 = realloc(stack, 2 * cap * sizeof *stack);
                if (!s2) { found = true; break; }
                stack = s2;
                cap *= 2;
            }
            stack[n++] = AS_LIST(l->items[i]);
        }
    }
    free(stack);
    return found;
}

lang_value val_func_new(proto *p)
{
    lfunc *f = (lfunc *)obj_alloc(sizeof(lfunc), LANG_FUNC);
    if (!f) return lang_null();
    f->p = p;
    if (!p->native) unit_retain(p->unit);
    return ref(&f->h, LANG_FUNC);
}

lang_value lang_object_new(const lang_type *t, void *ptr, size_t bytes)
{
    lobject *ob = (lobject *)obj_alloc(sizeof(lobject), LANG_OBJ);
    if (!ob) {
        if (t && t->free) t->free(ptr);
        return lang_null();
    }
    ob->t = t;
    ob->ptr = ptr;
    ob->h.bytes += bytes;
    count_bytes(bytes);
    return ref(&ob->h, LANG_OBJ);
}

void *lang_object_ptr(lang_value v, const lang_type *t)
{
    if (v.type != LANG_OBJ || (t && AS_OBJ(v)->t != t)) return NULL;
    return AS_OBJ(v)->ptr;
}

const lang_type *lang_object_type(lang_value v)
{
    return v.type == LANG_OBJ ? AS_OBJ(v)->t : NULL;
}

const char *lang_value_type_name(lang_value v)
{
    switch (v.type) {
    case LANG_NULL: return "null";
    case LANG_BOOL: return "bool";
    case LANG_INT: return "int";
    case LANG_FLOAT: return "float";
    case LANG_STR: return "string";
    case LANG_LIST: return "list";
    case LANG_FUNC: return "function";
    case LANG_OBJ: return AS_OBJ(v)->t ? AS_OBJ(v)->t->name : "object";
    }
    return "?";
}

bool val_truthy_ok(lang_value v, bool *out)
{
    switch (v.type) {
    case LANG_BOOL: *out = v.as.b; return true;
    case LANG_INT: *out = v.as.i != 0; return true;
    case LANG_FLOAT: *out = v.as.f != 0; return true;
    case LANG_NULL: *out = false; return true;
    default: return false;
    }
}

int val_compare_str(lang_value a, lang_value b)
{
    lstr *x = AS_STR(a), *y = AS_STR(b);
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->data, y->data, n);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static bool list_equal(lang_value a, lang_value b, int depth)
{
    llist *x = AS_LIST(a), *y = AS_LIST(b);
    if (x == y) return true;
    if (x->len != y->len || depth > 64) return false;
    for (size_t i = 0; i < x->len; i++) {
        lang_value p = x->items[i], q = y->items[i];
        if (p.type == LANG_LIST && q.type == LANG_LIST) {
            if (!list_equal(p, q, depth + 1)) return false;
        } else if (!val_equal(p, q)) return false;
    }
    return true;
}

bool val_equal(lang_value a, lang_value b)
{
    if (a.type == LANG_INT && b.type == LANG_FLOAT) return (double)a.as.i == b.as.f;
    if (a.type == LANG_FLOAT && b.type == LANG_INT) return a.as.f == (double)b.as.i;
    if (a.type != b.type) return false;
    switch (a.type) {
    case LANG_NULL: return true;
    case LANG_BOOL: return a.as.b == b.as.b;
    case LANG_INT: return a.as.i == b.as.i;
    case LANG_FLOAT: return a.as.f == b.as.f;
    case LANG_STR: return val_compare_str(a, b) == 0;
    case LANG_LIST: return list_equal(a, b, 0);
    default: return a.as.o == b.as.o;
    }
}

/* ---- printing ---- */

void sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->oom || b->full) return;
    if (b->max && b->len + n > b->max) {
        n = b->max > b->len ? b->max - b->len : 0;
        b->full = true;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = true; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void sb_adds(strbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

void sb_printf(strbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) { sb_add(b, tmp, (size_t)n); return; }
    char *big = malloc((size_t)n + 1);
    if (!big) { b->oom = true; return; }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, big, (size_t)n);
    free(big);
}

/* Shortest text that reads back as the same double, always with a '.' or an
 * exponent so that a float never looks like an int. */
void val_format_float(char *buf, size_t cap, double f)
{
    if (isnan(f)) { snprintf(buf, cap, "nan"); return; }
    if (isinf(f)) { snprintf(buf, cap, f < 0 ? "-inf" : "inf"); return; }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, f);
        if (strtod(buf, NULL) == f) break;
    }
    if (!strpbrk(buf, ".en")) {
        size_t n = strlen(buf);
        if (n + 3 <= cap) memcpy(buf + n, ".0", 3);
    }
}

static void write_quoted(strbuf *b, lang_value v)
{
    lstr *s = AS_STR(v);
    sb_add(b, "\"", 1);
    for (size_t i = 0; i < s->len; i++) {
        unsigned char c = (unsigned char)s->data[i];
        switch (c) {
        case '"': sb_add(b, "\\\"", 2); break;
        case '\\': sb_add(b, "\\\\", 2); break;
        case '\n': sb_add(b, "\\n", 2); break;
        case '\t': sb_add(b, "\\t", 2); break;
        case '\r': sb_add(b, "\\r", 2); break;
        default:
            if (c < 0x20) sb_printf(b, "\\x%02x", c);
            else sb_add(b, (const char *)&c, 1);
        }
    }
    sb_add(b, "\"", 1);
}

static void write_object(strbuf *b, lang_value v)
{
    lobject *ob = AS_OBJ(v);
    char *text = ob->t && ob->t->repr ? ob->t->repr(ob->ptr) : NULL;
    if (text) {
        sb_adds(b, text);
        free(text);
    } else {
        sb_printf(b, "<%s>", ob->t ? ob->t->name : "object");
    }
}

void val_write(strbuf *b, lang_value v, bool repr, int depth)
{
    char num[40];
    switch (v.type) {
    case LANG_NULL: sb_adds(b, "null"); break;
    case LANG_BOOL: sb_adds(b, v.as.b ? "true" : "false"); break;
    case LANG_INT: sb_printf(b, "%lld", (long long)v.as.i); break;
    case LANG_FLOAT: val_format_float(num, sizeof num, v.as.f); sb_adds(b, num); break;
    case LANG_STR:
        if (repr && b->max && AS_STR(v)->len > b->max) {
            lstr *s = AS_STR(v);                  /* only the part that can show */
            sb_add(b, "\"", 1);
            sb_add(b, s->data, b->max);
            break;
        }
        if (repr) write_quoted(b, v);
        else sb_add(b, AS_STR(v)->data, AS_STR(v)->len);
        break;
    case LANG_LIST: {
        llist *l = AS_LIST(v);
        if (depth > 32) { sb_adds(b, "{...}"); break; }
        sb_add(b, "{", 1);
        for (size_t i = 0; i < l->len && !b->oom && !b->full; i++) {
            if (i) sb_add(b, ", ", 2);
            val_write(b, l->items[i], true, depth + 1);
        }
        sb_add(b, "}", 1);
        break;
    }
    case LANG_FUNC: sb_printf(b, "<function %s>", AS_FUNC(v)->p->name); break;
    case LANG_OBJ: write_object(b, v); break;
    }
}

static char *write_new(lang_value v, bool repr)
{
    strbuf b = {0};
    val_write(&b, v, repr, 0);
    if (b.oom) { free(b.p); return NULL; }
    return b.p ? b.p : strdup("");
}

char *val_repr_short(lang_value v, size_t max)
{
    strbuf b = {0};
    b.max = max;
    val_write(&b, v, true, 0);
    if (b.oom) { free(b.p); return NULL; }
    return b.p ? b.p : strdup("");
}

char *lang_value_str(lang_value v) { return write_new(v, false); }
char *lang_value_repr(lang_value v) { return write_new(v, true); }
