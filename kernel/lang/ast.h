/*
 * ast.h - the parsed form of a cell: nodes, declared types, function
 * prototypes, and the code unit (arena) that owns them.
 *
 * Every node of a cell lives in that cell's code_unit arena, together with a
 * copy of the source (for tracebacks) and the string constants. A unit is
 * refcounted: the cell holds it while it runs and each function defined in
 * it holds it for as long as the function value lives. Names are resolved
 * while parsing: a local is a slot in its frame, a global an index into the
 * session's table, so the evaluator never hashes a name.
 */
#ifndef HELLODL_AST_H
#define HELLODL_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bind.h"

typedef struct arena_chunk arena_chunk;
typedef struct arena { arena_chunk *head; size_t bytes; } arena;

void *arena_alloc(arena *a, size_t n);          /* zeroed; NULL on OOM */
char *arena_strndup(arena *a, const char *s, size_t n);
void arena_free(arena *a);

typedef struct code_unit {
    int refs;
    arena mem;
    char *src;              /* the cell's source, owned */
    int cell;               /* execution count for "Cell [N]" */
    lang_value *consts;     /* string constants, released with the unit */
    int nconsts, cconsts;
} code_unit;

code_unit *unit_new(const char *src, int cell);  /* refs = 1; NULL on OOM */
void unit_retain(code_unit *u);
void unit_release(code_unit *u);
/* The text of 1-based line `line` (no newline) into buf. */
void unit_line(const code_unit *u, int line, char *buf, size_t cap);

/* Declared types. TY_AUTO takes whatever the first value is and then keeps
 * no constraint, like C++ auto without static typing. */
typedef enum ty_tag {
    TY_AUTO, TY_VOID, TY_INT, TY_FLOAT, TY_BOOL, TY_STRING, TY_LIST, TY_FUNC,
    TY_OBJ
} ty_tag;

typedef struct ltype {
    ty_tag tag;
    const lang_type *obj;   /* TY_OBJ */
} ltype;

const char *ty_name(ltype t);

typedef enum node_kind {
    /* expressions */
    N_CONST, N_LOCAL, N_GLOBAL, N_UNARY, N_BINARY, N_AND, N_OR, N_TERNARY,
    N_CALL, N_METHOD, N_INDEX, N_MEMBER, N_LIST, N_INCDEC, N_ASSIGN,
    /* statements */
    S_EXPR, S_VALUE, S_DECL, S_BLOCK, S_IF, S_WHILE, S_DO, S_FOR, S_FORIN,
    S_BREAK, S_CONTINUE, S_RETURN, S_FUNC, S_MAGIC, S_NOP
} node_kind;

typedef struct proto proto;
typedef struct node node;

struct node {
    uint8_t kind;
    uint8_t op;             /* tk_kind of the operator */
    bool flag;              /* N_INCDEC: prefix; S_DECL: top level */
    ltype ty;               /* declared type of a variable or declaration */
    int line, col, len;     /* of the token that names the node */
    int slot;               /* N_LOCAL slot, N_GLOBAL index */
    int h;                  /* height of an expression tree */
    node *a, *b, *c, *d;    /* operands, condition/body... (see parse.c) */
    node **kids;            /* arguments, list items, block statements */
    const char **names;     /* N_CALL/N_METHOD: argument names, NULL = positional */
    int n;                  /* number of kids */
    const char *name;       /* variable, member, method or magic text */
    lang_value k;           /* N_CONST */
    proto *fn;              /* S_FUNC */
};

typedef struct param {
    const char *name;
    ltype ty;
    node *def;              /* user function default (evaluated per call) */
    lang_value defval;      /* native default */
    const char *deftext;    /* the default as written, for signatures */
    const char *tyname;     /* natives: a type registered later, resolved on use */
    bool has_def;
} param;

/* A function's signature and body: user functions point into their unit;
 * natives are parsed from their signature string at registration. */
struct proto {
    const char *name;
    param *params;
    int nparams;
    bool variadic;          /* trailing "..." */
    ltype ret;
    node *body;             /* NULL for natives */
    int nslots;             /* frame size (params first) */
    int line;
    code_unit *unit;
    const char *doc;        /* may be NULL */
    lang_native_fn native;
    const lang_type *owner; /* methods: the receiver's type */
    const char *ret_tyname; /* natives: a return type registered later */
};

#endif
