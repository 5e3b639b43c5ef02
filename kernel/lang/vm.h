/*
 * vm.h - the language's internals shared between its .c files: heap
 * objects, the session and its globals, the evaluator context, the
 * registry of builtins and types, and the parser's entry point.
 *
 * Ownership: a global owns its value; a frame slot owns its value; values
 * returned by eval are new references. The session owns its context, its
 * globals and the magic hook registration.
 */
#ifndef HELLODL_VM_H
#define HELLODL_VM_H

#include <stdatomic.h>
#include "ast.h"
#include "lang.h"

/* ---- heap objects (value.c) ---- */

struct lang_obj {
    int32_t refs;
    uint8_t kind;            /* lang_vtype */
    size_t bytes;            /* counted in the value memory total */
    lang_obj *next_free;     /* iterative freeing of nested lists */
};

typedef struct lstr { lang_obj h; size_t len; char data[]; } lstr;
typedef struct llist { lang_obj h; size_t len, cap; lang_value *items; } llist;
typedef struct lfunc { lang_obj h; proto *p; } lfunc;
typedef struct lobject { lang_obj h; const lang_type *t; void *ptr; } lobject;

#define AS_STR(v)  ((lstr *)(v).as.o)
#define AS_LIST(v) ((llist *)(v).as.o)
#define AS_FUNC(v) ((lfunc *)(v).as.o)
#define AS_OBJ(v)  ((lobject *)(v).as.o)
#define IS_REF(v)  ((v).type >= LANG_STR)

static inline void val_incref(lang_value v) { if (IS_REF(v)) v.as.o->refs++; }
void val_free_obj(lang_obj *o);
static inline void val_decref(lang_value v)
{
    if (IS_REF(v) && --v.as.o->refs == 0) val_free_obj(v.as.o);
}

/* Live value memory, process-wide. Values themselves belong to the thread
 * that runs cells; the counter is atomic so that the runtime may create
 * objects elsewhere. */
extern atomic_size_t lang_value_bytes;
lang_value val_func_new(proto *p);            /* new reference; retains p->unit */
lang_value val_concat(const char *a, size_t na, const char *b, size_t nb);
bool val_list_set(lang_value list, size_t i, lang_value item);  /* steals item */
bool val_contains_list(lang_value hay, lang_obj *needle);        /* cycle check */
bool val_truthy_ok(lang_value v, bool *out);
bool val_equal(lang_value a, lang_value b);
int val_compare_str(lang_value a, lang_value b);
/* Appends the printed form to a growing buffer; repr quotes strings. */
/* A growing string; with `max` set, text past it is dropped and `full` set. */
typedef struct strbuf { char *p; size_t len, cap; bool oom, full; size_t max; } strbuf;
void sb_add(strbuf *b, const char *s, size_t n);
void sb_adds(strbuf *b, const char *s);
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void val_write(strbuf *b, lang_value v, bool repr, int depth);
void val_format_float(char *buf, size_t cap, double f);
char *val_repr_short(lang_value v, size_t max);   /* at most max bytes of repr; malloc'd */

/* ---- registry (registry.c) ---- */

void reg_init(void);
lang_value reg_builtin(const char *name, size_t len);     /* borrowed; null if none */
const lang_type *reg_type(const char *name, size_t len);
const lang_type *reg_value_type(lang_value v);             /* string/list/objects */
proto *reg_method(const lang_type *t, const char *name);
const lang_property *reg_property(const lang_type *t, const char *name);
int reg_builtin_count(void);
proto *reg_builtin_at(int i);
int reg_type_count(void);
const lang_type *reg_type_at(int i);
int reg_method_count(const lang_type *t);
proto *reg_method_at(const lang_type *t, int i);
extern const lang_type lang_string_type, lang_list_type, lang_range_type;
void builtins_register(void);                              /* builtins.c */
void methods_register(void);                               /* methods.c */

/* ---- session and globals (session.c) ---- */

typedef struct global {
    char *name;
    lang_value v;
    ltype ty;
    bool defined;
} global;

typedef int (*magic_hook_fn)(void *ctx, lang_session *s, const char *line,
                             const lang_sink *sink, lang_error *err);

typedef struct frame {
    proto *fn;               /* NULL for the cell itself */
    code_unit *unit;
    int line;                /* statement running in this frame */
    int base;                /* first slot */
} frame;

typedef struct tb_entry { int cell, line, col; char *fname; char *text; } tb_entry;

struct lang_ctx {
    lang_session *s;
    const lang_sink *sink;
    lang_value *stack;
    lang_value *fp;          /* the running frame's first slot */
    lang_value cell_value;   /* the value of a final expression */
    bool has_cell_value;
    size_t mem_limit;
    int sp, cap;
    frame *frames;
    int depth, max_depth;
    lang_value ret;          /* a return statement's value */
    const node *call_node;   /* position for errors raised by natives */
    /* the pending error */
    bool failed;
    char *ename, *evalue;
    tb_entry *tb;
    int ntb;
    uint64_t steps, max_steps;
    const char *stack_base;
    size_t stack_limit;
};

struct lang_session {
    lang_config cfg;
    global *g;
    int ng, gcap;
    int *hash;               /* open addressing: index + 1, 0 = empty */
    int hcap;
    magic_hook_fn magic;
    void *magic_ctx;
    const char *const *magic_names;
    int nmagic_names;
    lang_ctx cx;
    int cell;                /* the number of the cell running (lang_exec_nested) */
};

int sess_global_find(lang_session *s, const char *name, size_t len);  /* -1 */
int sess_global_intern(lang_session *s, const char *name, size_t len); /* -1 OOM */

/* ---- parser (parse.c, parse_expr.c) ---- */

typedef struct syn_error { int line, col, len; char *msg; } syn_error;

typedef struct parse_out {
    node *body;              /* S_BLOCK of the cell's statements */
    int nslots;              /* cell frame size (block-scoped locals) */
    syn_error *errs;         /* malloc'd; free with parse_out_free */
    int nerrs;
} parse_out;

void parse_cell(lang_session *s, code_unit *u, bool magics, parse_out *out);
void parse_out_free(parse_out *o);
/* Parses a native's signature into a proto allocated in `u`. */
proto *parse_signature(code_unit *u, const char *sig, char *err, size_t errcap);

/* ---- evaluator (eval.c, call.c) ---- */

typedef enum xstatus { X_NORMAL, X_BREAK, X_CONTINUE, X_RETURN, X_ERROR } xstatus;

bool eval(lang_ctx *cx, const node *n, lang_value *out);
xstatus exec(lang_ctx *cx, const node *n);
xstatus exec_body(lang_ctx *cx, const node *block);   /* a block's statements, no scope */
bool call_value(lang_ctx *cx, const node *at, lang_value fn, lang_value self,
                const node *const *args, const char *const *names, int nargs,
                lang_value *out);
bool call_proto(lang_ctx *cx, const node *at, const proto *p, lang_value self,
                const node *const *args, const char *const *names, int nargs,
                lang_value *out);
bool check_type(lang_ctx *cx, const node *at, ltype ty, lang_value *v,
                const char *what);
bool vm_raise(lang_ctx *cx, const node *at, const char *ename, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void vm_clear_error(lang_ctx *cx);
bool vm_name_error(lang_ctx *cx, const node *at, const char *name);

extern atomic_bool lang_interrupt_flag;
bool vm_tick_slow(lang_ctx *cx, const node *at);
static inline bool vm_tick(lang_ctx *cx, const node *at)
{
    if (atomic_load_explicit(&lang_interrupt_flag, memory_order_relaxed) || cx->max_steps ||
        atomic_load_explicit(&lang_value_bytes, memory_order_relaxed) > cx->mem_limit)
        return vm_tick_slow(cx, at);
    return true;
}

/* Whether v fits declared type ty; widens an int to a float in place. */
static inline bool ty_accept(ltype ty, lang_value *v)
{
    switch (ty.tag) {
    case TY_AUTO: return true;
    case TY_INT: return v->type == LANG_INT;
    case TY_FLOAT:
        if (v->type == LANG_INT) { *v = lang_float((double)v->as.i); return true; }
        return v->type == LANG_FLOAT;
    case TY_BOOL: return v->type == LANG_BOOL;
    case TY_STRING: return v->type == LANG_STR;
    case TY_LIST: return v->type == LANG_LIST || v->type == LANG_NULL;
    case TY_FUNC: return v->type == LANG_FUNC || v->type == LANG_NULL;
    case TY_OBJ:
        return v->type == LANG_NULL || (v->type == LANG_OBJ && AS_OBJ(*v)->t == ty.obj);
    case TY_VOID: return v->type == LANG_NULL;
    }
    return false;
}

/* ---- suggestions (error.c) ---- */

int edit_distance(const char *a, const char *b, int cap);
/* Nearest of `cands` to `name` within a small distance, or NULL. */
const char *suggest(const char *name, const char *const *cands, int n);
/* The best suggestion among globals, builtins and types. */
const char *suggest_name(lang_session *s, const char *name);

#endif
