/*
 * methods.c - the methods of strings and lists, bound as lang_types like
 * any runtime type (completion and inspect read them from the registry).
 */
#include "vm.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define METHOD(name) static bool name(lang_ctx *cx, lang_value self, \
    const lang_value *args, int nargs, lang_value *ret)

/* ---- lists ---- */

METHOD(list_append)
{
    (void)nargs;
    (void)ret;
    if (AS_LIST(self)->len >= cx->s->cfg.max_list_items)
        return lang_raise(cx, "MemoryError", "the list is at its limit of %zu items",
                          cx->s->cfg.max_list_items);
    if (args[0].type == LANG_LIST && val_contains_list(args[0], self.as.o))
        return lang_raise(cx, "ValueError", "a list cannot contain itself");
    val_incref(args[0]);
    if (!lang_list_push(self, args[0])) return lang_raise(cx, "MemoryError", "out of memory");
    return true;
}

static bool list_pos(lang_ctx *cx, lang_value self, int64_t i, bool end_ok, size_t *out)
{
    int64_t len = (int64_t)AS_LIST(self)->len;
    if (i < 0) i += len;
    if (i < 0 || i > len || (i == len && !end_ok))
        return lang_raise(cx, "IndexError", "index %lld is out of range for a list of length %lld",
                          (long long)i, (long long)len);
    *out = (size_t)i;
    return true;
}

METHOD(list_pop)
{
    (void)nargs;
    llist *l = AS_LIST(self);
    size_t i = 0;
    if (!l->len) return lang_raise(cx, "IndexError", "pop() from an empty list");
    if (!list_pos(cx, self, args[0].as.i, false, &i)) return false;
    *ret = l->items[i];
    memmove(l->items + i, l->items + i + 1, (l->len - i - 1) * sizeof(lang_value));
    l->len--;
    return true;
}

METHOD(list_insert)
{
    (void)nargs;
    (void)ret;
    size_t i = 0;
    if (!list_pos(cx, self, args[0].as.i, true, &i)) return false;
    if (!list_append(cx, self, args + 1, 1, ret)) return false;
    llist *l = AS_LIST(self);
    lang_value v = l->items[l->len - 1];
    memmove(l->items + i + 1, l->items + i, (l->len - 1 - i) * sizeof(lang_value));
    l->items[i] = v;
    return true;
}

METHOD(list_clear)
{
    (void)cx; (void)args; (void)nargs; (void)ret;
    llist *l = AS_LIST(self);
    size_t n = l->len;
    l->len = 0;
    for (size_t i = 0; i < n; i++) val_decref(l->items[i]);
    return true;
}

METHOD(list_index_of)
{
    (void)cx; (void)nargs;
    llist *l = AS_LIST(self);
    *ret = lang_int(-1);
    for (size_t i = 0; i < l->len; i++)
        if (val_equal(l->items[i], args[0])) { *ret = lang_int((int64_t)i); break; }
    return true;
}

METHOD(list_contains)
{
    if (!list_index_of(cx, self, args, nargs, ret)) return false;
    *ret = lang_bool(ret->as.i >= 0);
    return true;
}

METHOD(list_reverse)
{
    (void)cx; (void)args; (void)nargs; (void)ret;
    llist *l = AS_LIST(self);
    for (size_t i = 0; i < l->len / 2; i++) {
        lang_value t = l->items[i];
        l->items[i] = l->items[l->len - 1 - i];
        l->items[l->len - 1 - i] = t;
    }
    return true;
}

static int cmp_values(const void *a, const void *b)
{
    const lang_value *x = a, *y = b;
    if (x->type == LANG_STR) return val_compare_str(*x, *y);
    double p = x->type == LANG_INT ? (double)x->as.i : x->as.f;
    double q = y->type == LANG_INT ? (double)y->as.i : y->as.f;
    return p < q ? -1 : p > q;
}

METHOD(list_sort)
{
    (void)args; (void)nargs; (void)ret;
    llist *l = AS_LIST(self);
    bool nums = true, strs = true;
    for (size_t i = 0; i < l->len; i++) {
        nums = nums && (l->items[i].type == LANG_INT || l->items[i].type == LANG_FLOAT);
        strs = strs && l->items[i].type == LANG_STR;
    }
    if (!nums && !strs)
        return lang_raise(cx, "TypeError", "sort() needs a list of numbers or of strings");
    if (l->len) qsort(l->items, l->len, sizeof(lang_value), cmp_values);
    return true;
}

static const lang_method list_methods[] = {
    {"void append(any x)", list_append, "Add x at the end of the list."},
    {"any pop(int index = -1)", list_pop, "Remove and return an item (the last by default)."},
    {"void insert(int index, any x)", list_insert, "Insert x before position index."},
    {"void clear()", list_clear, "Remove every item."},
    {"int index_of(any x)", list_index_of, "The position of the first item equal to x, or -1."},
    {"bool contains(any x)", list_contains, "Whether an item equals x."},
    {"void reverse()", list_reverse, "Reverse the list in place."},
    {"void sort()", list_sort, "Sort numbers or strings in increasing order, in place."},
    {NULL, NULL, NULL},
};

const lang_type lang_list_type = {
    .name = "list", .doc = "A list of values: {1, 2, 3}. Index from 0; x[-1] is the last.",
    .methods = list_methods,
};

/* ---- strings ---- */

static bool new_string(lang_ctx *cx, const char *s, size_t n, lang_value *ret)
{
    *ret = lang_string_new(s, n);
    return ret->type == LANG_STR || lang_raise(cx, "MemoryError", "out of memory");
}

static bool change_case(lang_ctx *cx, lang_value self, lang_value *ret, bool up)
{
    lstr *s = AS_STR(self);
    if (!new_string(cx, s->data, s->len, ret)) return false;
    char *d = AS_STR(*ret)->data;
    for (size_t i = 0; i < s->len; i++)
        d[i] = (char)(up ? toupper((unsigned char)d[i]) : tolower((unsigned char)d[i]));
    return true;
}

METHOD(str_upper) { (void)args; (void)nargs; return change_case(cx, self, ret, true); }
METHOD(str_lower) { (void)args; (void)nargs; return change_case(cx, self, ret, false); }

static const char *find_in(lang_value hay, lang_value needle)
{
    lstr *h = AS_STR(hay), *n = AS_STR(needle);
    if (!n->len) return h->data;
    for (size_t i = 0; i + n->len <= h->len; i++)
        if (memcmp(h->data + i, n->data, n->len) == 0) return h->data + i;
    return NULL;
}

METHOD(str_find)
{
    (void)cx; (void)nargs;
    const char *p = find_in(self, args[0]);
    *ret = lang_int(p ? (int64_t)(p - AS_STR(self)->data) : -1);
    return true;
}

METHOD(str_contains)
{
    (void)cx; (void)nargs;
    *ret = lang_bool(find_in(self, args[0]) != NULL);
    return true;
}

METHOD(str_starts_with)
{
    (void)cx; (void)nargs;
    lstr *s = AS_STR(self), *p = AS_STR(args[0]);
    *ret = lang_bool(p->len <= s->len && memcmp(s->data, p->data, p->len) == 0);
    return true;
}

METHOD(str_ends_with)
{
    (void)cx; (void)nargs;
    lstr *s = AS_STR(self), *p = AS_STR(args[0]);
    *ret = lang_bool(p->len <= s->len && memcmp(s->data + s->len - p->len, p->data, p->len) == 0);
    return true;
}

METHOD(str_strip)
{
    (void)args; (void)nargs;
    lstr *s = AS_STR(self);
    size_t a = 0, b = s->len;
    while (a < b && isspace((unsigned char)s->data[a])) a++;
    while (b > a && isspace((unsigned char)s->data[b - 1])) b--;
    return new_string(cx, s->data + a, b - a, ret);
}

METHOD(str_replace)
{
    (void)nargs;
    lstr *s = AS_STR(self), *o = AS_STR(args[0]), *n = AS_STR(args[1]);
    if (!o->len) return lang_raise(cx, "ValueError", "replace() cannot replace an empty string");
    strbuf b = {0};
    for (size_t i = 0; i < s->len;) {
        if (i + o->len <= s->len && memcmp(s->data + i, o->data, o->len) == 0) {
            sb_add(&b, n->data, n->len);
            i += o->len;
        } else sb_add(&b, s->data + i++, 1);
        if (b.len > cx->s->cfg.max_string_bytes) b.oom = true;
    }
    bool ok = !b.oom && new_string(cx, b.p ? b.p : "", b.len, ret);
    free(b.p);
    return ok || lang_raise(cx, "MemoryError", "the result of replace() is too long");
}

METHOD(str_split)
{
    (void)nargs;
    lstr *s = AS_STR(self), *sep = AS_STR(args[0]);
    if (!sep->len) return lang_raise(cx, "ValueError", "split() needs a non-empty separator");
    *ret = lang_list_new(4);
    size_t start = 0;
    for (size_t i = 0; i + sep->len <= s->len;) {
        if (memcmp(s->data + i, sep->data, sep->len) == 0) {
            lang_list_push(*ret, lang_string_new(s->data + start, i - start));
            i += sep->len;
            start = i;
        } else i++;
    }
    lang_list_push(*ret, lang_string_new(s->data + start, s->len - start));
    return true;
}

static const lang_method string_methods[] = {
    {"string upper()", str_upper, "The text in capitals."},
    {"string lower()", str_lower, "The text in small letters."},
    {"int find(string s)", str_find, "The position of s in the text, or -1."},
    {"bool contains(string s)", str_contains, "Whether s occurs in the text."},
    {"bool starts_with(string s)", str_starts_with, "Whether the text starts with s."},
    {"bool ends_with(string s)", str_ends_with, "Whether the text ends with s (e.g. \".png\")."},
    {"string strip()", str_strip, "The text without spaces and new lines at both ends."},
    {"string replace(string old, string new)", str_replace, "The text with every old replaced by new."},
    {"list split(string sep = \" \")", str_split, "The pieces of the text between the separators."},
    {NULL, NULL, NULL},
};

const lang_type lang_string_type = {
    .name = "string", .doc = "Text: \"hello\". Join with +, compare with ==.",
    .methods = string_methods,
};

void methods_register(void)
{
    lang_type_register(&lang_string_type);
    lang_type_register(&lang_list_type);
}
