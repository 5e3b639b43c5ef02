/*
 * parse.h - the parser's state, shared by parse.c (statements, functions,
 * scopes) and parse_expr.c (expressions). Everything it builds lives in
 * the code unit's arena; the error list is malloc'd and handed to the
 * caller in parse_out.
 */
#ifndef HELLODL_PARSE_H
#define HELLODL_PARSE_H

#include "lex.h"
#include "vm.h"

#define PARSE_MAX_DEPTH 200      /* nesting of statements and expressions */
#define PARSE_MAX_HEIGHT 2000    /* height of an expression tree */
#define PARSE_MAX_ERRORS 20

typedef struct scope_var {
    const char *name;
    size_t len;
    int slot;
    ltype ty;
    int depth;
} scope_var;

typedef struct open_tok { tk_kind kind; int line, col; } open_tok;

typedef struct parser {
    lang_session *s;             /* NULL when parsing a native signature */
    code_unit *u;
    arena *A;
    lexer lx;
    token cur, prev;
    bool panic, oom;
    syn_error *errs;
    int nerrs, cerrs;
    int depth;
    scope_var *vars;
    int nvars, cvars;
    int scope;                   /* 0 = cell top level */
    proto *fn;                   /* function being parsed, NULL at cell level */
    int nslots;                  /* slots used in the current frame */
    int loops;                   /* enclosing loops */
    open_tok opens[256];         /* unclosed ( [ { */
    int nopen;
    bool magics;                 /* a magic hook is registered */
} parser;

/* parse.c */
void p_advance(parser *p);
bool p_check(parser *p, tk_kind k);
bool p_match(parser *p, tk_kind k);
bool p_expect(parser *p, tk_kind k, const char *what);
void p_error_at(parser *p, const token *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
token p_peek(parser *p);
node *p_node(parser *p, node_kind k, const token *at);
bool p_enter(parser *p);
void p_leave(parser *p);
char *p_strtok(parser *p, const token *t);
bool p_type_name(parser *p, const token *t, ltype *out);
node *p_resolve(parser *p, const token *t);

/* parse_expr.c */
node *p_expr(parser *p);                          /* a ternary expression */
node *p_expr_statement(parser *p);                /* assignment or expression */
bool p_is_lvalue(const node *n);
void p_call_args(parser *p, node *call);
node *p_const_value(parser *p, const token *at, lang_value v);

#endif
