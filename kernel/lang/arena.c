/*
 * arena.c - bump allocation for a cell's tree, and the code unit that owns
 * the arena, the source copy and the constants.
 */
#include "ast.h"

#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

void *arena_alloc(arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 16000 ? n : 16000;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
        a->bytes += cap;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void arena_free(arena *a)
{
    arena_chunk *c = a->head;
    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->bytes = 0;
}

code_unit *unit_new(const char *src, int cell)
{
    code_unit *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->src = strdup(src ? src : "");
    if (!u->src) { free(u); return NULL; }
    u->refs = 1;
    u->cell = cell;
    return u;
}

void unit_retain(code_unit *u)
{
    if (u) u->refs++;
}

void unit_release(code_unit *u)
{
    if (!u || --u->refs > 0) return;
    for (int i = 0; i < u->nconsts; i++) lang_value_decref(u->consts[i]);
    free(u->consts);
    arena_free(&u->mem);
    free(u->src);
    free(u);
}

void unit_line(const code_unit *u, int line, char *buf, size_t cap)
{
    const char *p = u->src;
    for (int l = 1; l < line && *p; p++)
        if (*p == '\n') l++;
    size_t n = 0;
    while (p[n] && p[n] != '\n' && p[n] != '\r') n++;
    if (n >= cap) n = cap - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
}

const char *ty_name(ltype t)
{
    switch (t.tag) {
    case TY_AUTO: return "auto";
    case TY_VOID: return "void";
    case TY_INT: return "int";
    case TY_FLOAT: return "float";
    case TY_BOOL: return "bool";
    case TY_STRING: return "string";
    case TY_LIST: return "list";
    case TY_FUNC: return "function";
    case TY_OBJ: return t.obj ? t.obj->name : "object";
    }
    return "?";
}
