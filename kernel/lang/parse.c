/*
 * parse.c - statements, declarations, functions and scopes; the error list
 * with panic-mode recovery (one pass reports every syntax error of a cell).
 *
 * Name resolution happens here: a name declared in a block or a function
 * becomes a frame slot; a name at the cell's top level becomes an index into
 * the session's global table (created on first mention, defined when its
 * declaration runs). Builtins are inlined as constants.
 */
#include "parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static node *statement(parser *p);
static node *block(parser *p, const token *open);

/* ---- tokens and errors ---- */

static void push_error(parser *p, int line, int col, int len, const char *msg)
{
    if (p->nerrs >= PARSE_MAX_ERRORS) return;
    if (p->nerrs == p->cerrs) {
        int c = p->cerrs ? p->cerrs * 2 : 4;
        syn_error *e = realloc(p->errs, (size_t)c * sizeof *e);
        if (!e) { p->oom = true; return; }
        p->errs = e;
        p->cerrs = c;
    }
    syn_error *e = &p->errs[p->nerrs];
    e->msg = strdup(msg);
    if (!e->msg) { p->oom = true; return; }
    e->line = line;
    e->col = col;
    e->len = len > 0 ? len : 1;
    p->nerrs++;
}

void p_error_at(parser *p, const token *t, const char *fmt, ...)
{
    if (p->panic) return;
    p->panic = true;
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    push_error(p, t->line, t->col, (int)t->len, msg);
}

static void track_nesting(parser *p, const token *t)
{
    if (t->kind == TK_LPAREN || t->kind == TK_LBRACKET || t->kind == TK_LBRACE) {
        if (p->nopen < (int)(sizeof p->opens / sizeof p->opens[0]))
            p->opens[p->nopen] = (open_tok){ t->kind, t->line, t->col };
        p->nopen++;
    } else if ((t->kind == TK_RPAREN || t->kind == TK_RBRACKET ||
                t->kind == TK_RBRACE) && p->nopen > 0) {
        p->nopen--;
    }
}

void p_advance(parser *p)
{
    track_nesting(p, &p->cur);
    p->prev = p->cur;
    for (;;) {
        p->cur = lex_next(&p->lx);
        if (p->cur.kind != TK_ERROR) break;
        p->panic = false;      /* lexical errors are always worth reporting */
        p_error_at(p, &p->cur, "%s", p->cur.msg);
        if (strncmp(p->cur.msg, "unclosed string", 15) == 0) {
            /* Carry on as if it were an empty string: the rest of the
             * cell can still be checked. */
            p->cur.kind = TK_STRING;
            p->cur.len = 1;          /* just the quote: reads as "" */
            break;
        }
    }
}

bool p_check(parser *p, tk_kind k) { return p->cur.kind == k; }

bool p_match(parser *p, tk_kind k)
{
    if (p->cur.kind != k) return false;
    p_advance(p);
    return true;
}

token p_peek(parser *p)
{
    lexer copy = p->lx;
    return lex_next(&copy);
}

/* An unclosed bracket at the end of the cell is reported where it opened. */
static void report_eof(parser *p, const char *what)
{
    int i = p->nopen - 1;
    if (i >= 0 && i < (int)(sizeof p->opens / sizeof p->opens[0])) {
        open_tok o = p->opens[i];
        token t = { .kind = o.kind, .line = o.line, .col = o.col, .len = 1 };
        const char *c = o.kind == TK_LPAREN ? "(" : o.kind == TK_LBRACKET ? "[" : "{";
        const char *close = o.kind == TK_LPAREN ? ")" : o.kind == TK_LBRACKET ? "]" : "}";
        p_error_at(p, &t, "unclosed '%s' opened on line %d: add the missing '%s'",
                   c, o.line, close);
    } else {
        p_error_at(p, &p->cur, "expected %s, found the end of the cell", what);
    }
}

bool p_expect(parser *p, tk_kind k, const char *what)
{
    if (p->cur.kind == k) { p_advance(p); return true; }
    if (p->cur.kind == TK_EOF) { report_eof(p, what); return false; }
    p_error_at(p, &p->cur, "expected %s, found %s", what, lex_kind_name(p->cur.kind));
    return false;
}

/* ';' at the end of a statement; a line break where it should be gets the
 * "missing ';'" hint and no recovery is needed. */
static bool expect_semi(parser *p)
{
    if (p_match(p, TK_SEMI)) return true;
    if (p->cur.kind == TK_EOF || p->cur.kind == TK_RBRACE || p->cur.line > p->prev.line) {
        token at = p->prev;
        at.col += (int)at.len;
        at.len = 1;
        p_error_at(p, &at, "missing ';' at the end of line %d", p->prev.line);
        p->panic = false;       /* the next statement starts cleanly */
        return false;
    }
    p_error_at(p, &p->cur, "expected ';' or an operator before %s",
               lex_kind_name(p->cur.kind));
    return false;
}

/* Skips to the end of the broken statement: a ';' at its own nesting level,
 * a '}' that closes an enclosing block, or a new line at its level. */
static void synchronize(parser *p, int level)
{
    p->panic = false;
    while (p->cur.kind != TK_EOF) {
        if (p->nopen <= level) {
            if (p->cur.kind == TK_SEMI) { p_advance(p); return; }
            if (p->cur.kind == TK_RBRACE) return;
            if (p->cur.first_on_line && p->prev.kind != TK_EOF &&
                p->cur.line > p->prev.line)
                return;
        }
        p_advance(p);
    }
}

node *p_node(parser *p, node_kind k, const token *at)
{
    node *n = arena_alloc(p->A, sizeof *n);
    if (!n) { p->oom = true; p->panic = true; return NULL; }
    n->kind = (uint8_t)k;
    n->line = at->line;
    n->col = at->col;
    n->len = (int)at->len;
    n->h = 1;
    return n;
}

bool p_enter(parser *p)
{
    char here = 0;
    if (p->s && (size_t)(p->s->cx.stack_base - &here) > p->s->cx.stack_limit) {
        p_error_at(p, &p->cur, "code nested too deeply for the available memory");
        return false;
    }
    if (++p->depth > PARSE_MAX_DEPTH) {
        p_error_at(p, &p->cur, "code nested too deeply (more than %d levels)",
                   PARSE_MAX_DEPTH);
        p->depth--;
        return false;
    }
    return true;
}

void p_leave(parser *p) { p->depth--; }

char *p_strtok(parser *p, const token *t)
{
    char *s = arena_strndup(p->A, t->start, t->len);
    if (!s) p->oom = true;
    return s;
}

/* ---- types and names ---- */

bool p_type_name(parser *p, const token *t, ltype *out)
{
    static const struct { const char *s; ty_tag tag; } builtin[] = {
        {"auto", TY_AUTO}, {"any", TY_AUTO}, {"var", TY_AUTO}, {"void", TY_VOID},
        {"int", TY_INT}, {"float", TY_FLOAT}, {"double", TY_FLOAT},
        {"bool", TY_BOOL}, {"string", TY_STRING}, {"list", TY_LIST},
        {"function", TY_FUNC},
    };
    (void)p;
    if (t->kind != TK_NAME) return false;
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (strlen(builtin[i].s) == t->len && memcmp(builtin[i].s, t->start, t->len) == 0) {
            *out = (ltype){ builtin[i].tag, NULL };
            return true;
        }
    const lang_type *lt = reg_type(t->start, t->len);
    if (lt && lt != &lang_string_type && lt != &lang_list_type) {
        *out = (ltype){ TY_OBJ, lt };
        return true;
    }
    return false;
}

static scope_var *find_local(parser *p, const char *s, size_t len)
{
    for (int i = p->nvars - 1; i >= 0; i--)
        if (p->vars[i].len == len && memcmp(p->vars[i].name, s, len) == 0)
            return &p->vars[i];
    return NULL;
}

node *p_resolve(parser *p, const token *t)
{
    scope_var *v = find_local(p, t->start, t->len);
    if (v) {
        node *n = p_node(p, N_LOCAL, t);
        if (n) { n->slot = v->slot; n->ty = v->ty; n->name = v->name; }
        return n;
    }
    int gi = p->s ? sess_global_find(p->s, t->start, t->len) : -1;
    if (gi < 0 || !p->s->g[gi].defined) {
        lang_value b = reg_builtin(t->start, t->len);
        if (b.type == LANG_FUNC) {
            node *n = p_node(p, N_CONST, t);   /* the registry keeps b alive */
            if (n) { n->k = b; n->name = AS_FUNC(b)->p->name; }
            return n;
        }
    }
    if (!p->s) { p_error_at(p, t, "a default must be a constant"); return NULL; }
    if (gi < 0) gi = sess_global_intern(p->s, t->start, t->len);
    if (gi < 0) { p->oom = true; p->panic = true; return NULL; }
    node *n = p_node(p, N_GLOBAL, t);
    if (n) { n->slot = gi; n->name = p->s->g[gi].name; }
    return n;
}

static void begin_scope(parser *p) { p->scope++; }

static void end_scope(parser *p)
{
    while (p->nvars > 0 && p->vars[p->nvars - 1].depth >= p->scope) p->nvars--;
    p->scope--;
}

static int declare_local(parser *p, const token *name, ltype ty)
{
    for (int i = p->nvars - 1; i >= 0 && p->vars[i].depth == p->scope; i--)
        if (p->vars[i].len == name->len &&
            memcmp(p->vars[i].name, name->start, name->len) == 0) {
            p_error_at(p, name, "'%.*s' is already declared in this block",
                       (int)name->len, name->start);
            return -1;
        }
    if (p->nvars == p->cvars) {
        int c = p->cvars ? p->cvars * 2 : 16;
        scope_var *v = realloc(p->vars, (size_t)c * sizeof *v);
        if (!v) { p->oom = true; return -1; }
        p->vars = v;
        p->cvars = c;
    }
    scope_var *v = &p->vars[p->nvars++];
    v->name = p_strtok(p, name);
    v->len = name->len;
    v->slot = p->nslots++;
    v->ty = ty;
    v->depth = p->scope;
    return v->slot;
}

static bool builtin_clash(parser *p, const token *name)
{
    lang_value b = reg_builtin(name->start, name->len);
    if (b.type != LANG_FUNC) return false;
    p_error_at(p, name, "'%.*s' is a builtin function; choose another name",
               (int)name->len, name->start);
    return true;
}

/* ---- declarations and functions ---- */

/* declarator -> NAME [ '=' expr ] */
static node *declarator(parser *p, ltype ty)
{
    token name = p->cur;
    if (!p_expect(p, TK_NAME, "a variable name")) return NULL;
    if (builtin_clash(p, &name)) return NULL;
    node *d = p_node(p, S_DECL, &name);
    if (!d) return NULL;
    d->ty = ty;
    if (p_match(p, TK_ASSIGN)) {
        d->b = p_expr(p);
        if (!d->b) return NULL;
    }
    if (p->scope == 0 && !p->fn) {
        d->a = p_resolve(p, &name);
        if (d->a && d->a->kind != N_GLOBAL) d->a = NULL;
        if (!d->a) return NULL;
        d->flag = true;
    } else {
        int slot = declare_local(p, &name, ty);
        if (slot < 0) return NULL;
        d->a = p_node(p, N_LOCAL, &name);
        if (!d->a) return NULL;
        d->a->slot = slot;
        d->a->ty = ty;
        d->a->name = p->vars[p->nvars - 1].name;
    }
    return d;
}

/* decl -> type declarator { ',' declarator } ';'   (one S_BLOCK of S_DECLs) */
static node *declaration(parser *p, ltype ty, const token *type_tok)
{
    if (ty.tag == TY_VOID) {
        p_error_at(p, type_tok, "a variable cannot be void");
        return NULL;
    }
    node *first = declarator(p, ty);
    if (!first) return NULL;
    if (!p_check(p, TK_COMMA)) { expect_semi(p); return first; }
    node *list[64];
    int n = 0;
    list[n++] = first;
    while (p_match(p, TK_COMMA)) {
        if (n == 64) { p_error_at(p, &p->cur, "too many declarations in one statement"); return NULL; }
        if (!(list[n++] = declarator(p, ty))) return NULL;
    }
    expect_semi(p);
    node *b = p_node(p, S_BLOCK, type_tok);
    if (!b || !(b->kids = arena_alloc(p->A, (size_t)n * sizeof(node *)))) return NULL;
    memcpy(b->kids, list, (size_t)n * sizeof(node *));
    b->n = n;
    b->flag = true;          /* not a scope: just a sequence */
    return b;
}

/* Doc of a user function: the `//` comment lines right above it. */
static const char *doc_above(parser *p, int line)
{
    char buf[400], out[1200];
    size_t n = 0;
    int first = line;
    for (int l = line - 1; l >= 1; l--) {
        unit_line(p->u, l, buf, sizeof buf);
        const char *s = buf;
        while (*s == ' ' || *s == '\t') s++;
        if (s[0] != '/' || s[1] != '/') break;
        first = l;
    }
    out[0] = 0;
    for (int l = first; l < line; l++) {
        unit_line(p->u, l, buf, sizeof buf);
        const char *s = buf;
        while (*s == ' ' || *s == '\t' || *s == '/') s++;
        if (*s == ' ') s++;
        int w = snprintf(out + n, sizeof out - n, "%s%s", n ? "\n" : "", s);
        if (w < 0 || (size_t)w >= sizeof out - n) break;
        n += (size_t)w;
    }
    return n ? arena_strndup(p->A, out, n) : NULL;
}

/* param -> type NAME [ '=' expr ] | '...' */
static bool param_decl(parser *p, proto *fn, param *pa)
{
    token tt = p->cur;
    if (!p->s && tt.kind == TK_NAME && p_peek(p).kind == TK_NAME && !p_type_name(p, &tt, &pa->ty)) {
        pa->ty = (ltype){ TY_OBJ, NULL };          /* a native's type, registered later */
        pa->tyname = p_strtok(p, &tt);
    } else if (!p_type_name(p, &tt, &pa->ty)) {
        if (tt.kind == TK_NAME && p_peek(p).kind != TK_NAME) {
            p_error_at(p, &tt, "parameter '%.*s' needs a type, e.g. 'float %.*s' "
                       "(or 'auto %.*s')", (int)tt.len, tt.start, (int)tt.len, tt.start,
                       (int)tt.len, tt.start);
        } else {
            p_error_at(p, &tt, "expected a parameter type (int, float, string, ...), found %s",
                       tt.kind == TK_NAME ? "an unknown type" : lex_kind_name(tt.kind));
        }
        return false;
    }
    p_advance(p);
    token name = p->cur;
    if (!p_expect(p, TK_NAME, "a parameter name")) return false;
    pa->name = p_strtok(p, &name);
    for (int i = 0; i < fn->nparams; i++)
        if (strcmp(fn->params[i].name, pa->name) == 0) {
            p_error_at(p, &name, "two parameters are named '%s'", pa->name);
            return false;
        }
    if (p_match(p, TK_ASSIGN)) {
        const char *from = p->cur.start;
        pa->has_def = true;
        pa->def = p_expr(p);
        if (!pa->def) return false;
        const char *to = p->prev.start + p->prev.len;
        if (to > from && to - from < 200) pa->deftext = arena_strndup(p->A, from, (size_t)(to - from));
    } else if (fn->nparams > 0 && fn->params[fn->nparams - 1].has_def) {
        p_error_at(p, &name, "parameter '%s' needs a default because the ones before it have one",
                   pa->name);
        return false;
    }
    if (p->s && declare_local(p, &name, pa->ty) < 0) return false;
    return true;
}

/* params -> '(' [ param { ',' param } ] ')' */
static bool param_list(parser *p, proto *fn)
{
    param buf[32];
    fn->params = buf;
    while (!p_check(p, TK_RPAREN)) {
        if (p_match(p, TK_ELLIPSIS)) { fn->variadic = true; break; }
        if (fn->nparams == 32) { p_error_at(p, &p->cur, "too many parameters (at most 32)"); return false; }
        memset(&buf[fn->nparams], 0, sizeof buf[0]);
        if (!param_decl(p, fn, &buf[fn->nparams])) return false;
        fn->nparams++;
        if (!p_match(p, TK_COMMA)) break;
    }
    fn->params = arena_alloc(p->A, (size_t)(fn->nparams ? fn->nparams : 1) * sizeof(param));
    if (!fn->params) { p->oom = true; return false; }
    memcpy(fn->params, buf, (size_t)fn->nparams * sizeof(param));
    return p_expect(p, TK_RPAREN, "')' to close the parameter list");
}

/* funcdef -> type NAME params block */
static node *function_def(parser *p, ltype ret, const token *type_tok)
{
    token name = p->cur;
    p_advance(p);              /* NAME */
    p_advance(p);              /* '(' */
    if (p->fn || p->scope > 0) {
        p_error_at(p, &name, "functions can only be defined at the top level of a cell");
        return NULL;
    }
    if (builtin_clash(p, &name)) return NULL;
    proto *fn = arena_alloc(p->A, sizeof *fn);
    node *n = p_node(p, S_FUNC, &name);
    if (!fn || !n) return NULL;
    fn->name = p_strtok(p, &name);
    fn->ret = ret;
    fn->unit = p->u;
    fn->line = type_tok->line;
    fn->doc = doc_above(p, type_tok->line);
    int saved_slots = p->nslots, saved_vars = p->nvars;
    p->fn = fn;
    p->nslots = 0;
    begin_scope(p);
    bool ok = param_list(p, fn);
    token open = p->cur;
    if (ok && p_expect(p, TK_LBRACE, "'{' to start the function body"))
        fn->body = block(p, &open);
    end_scope(p);
    fn->nslots = p->nslots;
    p->nslots = saved_slots;
    p->nvars = saved_vars;
    p->fn = NULL;
    if (!fn->body) return NULL;
    n->fn = fn;
    n->a = p_resolve(p, &name);
    return n->a ? n : NULL;
}

/* Either a declaration or a function definition, after a type name. */
static node *typed_statement(parser *p, ltype ty)
{
    token type_tok = p->cur;
    p_advance(p);
    if (p->cur.kind == TK_NAME && p_peek(p).kind == TK_LPAREN)
        return function_def(p, ty, &type_tok);
    return declaration(p, ty, &type_tok);
}

/* ---- statements ---- */

/* Statements up to `end` (not consumed) into an arena array. */
static node **statements(parser *p, tk_kind end, int *count)
{
    node *items[256];
    node **all = items;
    int n = 0, cap = 256;
    while (!p_check(p, end) && !p_check(p, TK_EOF) && !p->oom) {
        node *s = statement(p);
        if (!s) continue;
        if (n == cap) {
            node **bigger = malloc((size_t)cap * 2 * sizeof *bigger);
            if (!bigger) { p->oom = true; break; }
            memcpy(bigger, all, (size_t)n * sizeof *bigger);
            if (all != items) free(all);
            all = bigger;
            cap *= 2;
        }
        all[n++] = s;
    }
    node **kids = arena_alloc(p->A, (size_t)(n ? n : 1) * sizeof(node *));
    if (kids) memcpy(kids, all, (size_t)n * sizeof(node *));
    else p->oom = true;
    if (all != items) free(all);
    *count = kids ? n : 0;
    return kids;
}

/* block -> '{' { statement } '}'   (the '{' already consumed) */
static node *block(parser *p, const token *open)
{
    node *b = p_node(p, S_BLOCK, open);
    if (!b || !p_enter(p)) return NULL;
    begin_scope(p);
    b->kids = statements(p, TK_RBRACE, &b->n);
    end_scope(p);
    p_leave(p);
    if (!p_expect(p, TK_RBRACE, "'}'")) return NULL;
    return b;
}

/* Parses a statement in its own scope (the body of if/while/for). */
static node *body(parser *p)
{
    if (p->cur.kind == TK_SEMI) {
        token t = p->cur;
        p_advance(p);
        return p_node(p, S_NOP, &t);
    }
    begin_scope(p);
    node *s = statement(p);
    end_scope(p);
    return s;
}

/* cond -> '(' expr ')'   (an '=' inside gets the "use '=='" hint) */
static node *condition(parser *p, const char *what)
{
    if (!p_expect(p, TK_LPAREN, what)) return NULL;
    node *c = p_expr(p);
    if (!c) return NULL;
    if (p->cur.kind == TK_ASSIGN) {
        p_error_at(p, &p->cur, "'=' assigns a value; use '==' to compare");
        return NULL;
    }
    if (!p_expect(p, TK_RPAREN, "')' after the condition")) return NULL;
    return c;
}

/* ifstat -> 'if' '(' expr ')' statement [ 'else' statement ] */
static node *if_statement(parser *p, const token *kw)
{
    node *n = p_node(p, S_IF, kw);
    if (!n || !(n->a = condition(p, "'(' after 'if'"))) return NULL;
    if (!(n->b = body(p))) return NULL;
    if (p_match(p, TK_ELSE) && !(n->c = body(p))) return NULL;
    return n;
}

/* whilestat -> 'while' '(' expr ')' statement */
static node *while_statement(parser *p, const token *kw)
{
    node *n = p_node(p, S_WHILE, kw);
    if (!n || !(n->a = condition(p, "'(' after 'while'"))) return NULL;
    p->loops++;
    n->b = body(p);
    p->loops--;
    return n->b ? n : NULL;
}

/* dostat -> 'do' statement 'while' '(' expr ')' ';' */
static node *do_statement(parser *p, const token *kw)
{
    node *n = p_node(p, S_DO, kw);
    if (!n) return NULL;
    p->loops++;
    n->b = body(p);
    p->loops--;
    if (!n->b || !p_expect(p, TK_WHILE, "'while' after the body of 'do'")) return NULL;
    if (!(n->a = condition(p, "'(' after 'while'"))) return NULL;
    expect_semi(p);
    return n;
}

/* forinit -> ';' | type declarator ';' | exprstmt ';' */
static node *for_init(parser *p)
{
    ltype ty;
    token t = p->cur;
    if (p_match(p, TK_SEMI)) return p_node(p, S_NOP, &t);
    if (p_type_name(p, &t, &ty) && p_peek(p).kind == TK_NAME) {
        p_advance(p);
        return declaration(p, ty, &t);
    }
    node *e = p_expr_statement(p);
    if (!e || !p_expect(p, TK_SEMI, "';' after the loop's first part")) return NULL;
    node *s = p_node(p, S_EXPR, &t);
    if (s) s->a = e;
    return s;
}

/* forstat -> 'for' '(' forinit [expr] ';' [exprstmt] ')' statement
 *          | 'for' '(' type NAME ':' expr ')' statement */
static node *for_statement(parser *p, const token *kw)
{
    if (!p_expect(p, TK_LPAREN, "'(' after 'for'")) return NULL;
    begin_scope(p);
    node *n = NULL;
    ltype ty;
    token t = p->cur;
    lexer save = p->lx;
    if (p_type_name(p, &t, &ty) && p_peek(p).kind == TK_NAME) {
        lexer look = save;
        lex_next(&look);
        if (lex_next(&look).kind == TK_COLON) {
            p_advance(p);
            token name = p->cur;
            p_advance(p);
            p_advance(p);
            n = p_node(p, S_FORIN, kw);
            int slot = n ? declare_local(p, &name, ty) : -1;
            if (slot < 0) { end_scope(p); return NULL; }
            n->slot = slot;
            n->ty = ty;
            n->name = p->vars[p->nvars - 1].name;
            if (!(n->a = p_expr(p)) || !p_expect(p, TK_RPAREN, "')'")) { end_scope(p); return NULL; }
        }
    }
    if (!n) {
        n = p_node(p, S_FOR, kw);
        if (!n || !(n->a = for_init(p))) { end_scope(p); return NULL; }
        if (!p_check(p, TK_SEMI) && !(n->b = p_expr(p))) { end_scope(p); return NULL; }
        if (!p_expect(p, TK_SEMI, "';' after the loop condition")) { end_scope(p); return NULL; }
        if (!p_check(p, TK_RPAREN) && !(n->c = p_expr_statement(p))) { end_scope(p); return NULL; }
        if (!p_expect(p, TK_RPAREN, "')' to close 'for (...)'")) { end_scope(p); return NULL; }
    }
    p->loops++;
    n->d = body(p);
    p->loops--;
    end_scope(p);
    return n->d ? n : NULL;
}

/* returnstat -> 'return' [ expr ] ';' */
static node *return_statement(parser *p, const token *kw)
{
    if (!p->fn) {
        p_error_at(p, kw, "'return' can only be used inside a function");
        return NULL;
    }
    node *n = p_node(p, S_RETURN, kw);
    if (!n) return NULL;
    if (!p_check(p, TK_SEMI) && !p_check(p, TK_RBRACE) && !(n->a = p_expr(p))) return NULL;
    expect_semi(p);
    return n;
}

/* magic -> ( '%' | '!' ) rest-of-line, first on its line */
static node *magic_line(parser *p)
{
    token t = p->cur;
    if (!p->magics || p->fn || p->scope > 0) {
        p_error_at(p, &t, p->magics ? "magic lines can only be used at the top level of a cell"
                                    : "magics are not available yet ('%%' and '!' lines)");
        lex_skip_line(&p->lx);
        p->panic = false;
        p_advance(p);
        return NULL;
    }
    const char *end = t.start;
    while (*end && *end != '\n') end++;
    const char *cut = t.start;             /* strip a trailing " // comment" */
    for (const char *q = t.start; q + 1 < end; q++)
        if (q[0] == '/' && q[1] == '/' && q > t.start && (q[-1] == ' ' || q[-1] == '\t')) {
            end = q;
            break;
        }
    while (end > cut && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
    node *n = p_node(p, S_MAGIC, &t);
    if (n) n->name = arena_strndup(p->A, t.start, (size_t)(end - t.start));
    lex_skip_line(&p->lx);
    p_advance(p);
    return n;
}

/* breakstat -> 'break' ';'    continuestat -> 'continue' ';' */
static node *simple(parser *p, node_kind k, const token *kw)
{
    if (!p->loops) {
        p_error_at(p, kw, "'%.*s' can only be used inside a loop", (int)kw->len, kw->start);
        return NULL;
    }
    node *n = p_node(p, k, kw);
    expect_semi(p);
    return n;
}

/* exprstat -> exprstmt ';'   (the cell's last one may omit ';': its value) */
static node *expression_statement(parser *p)
{
    token t = p->cur;
    node *e = p_expr_statement(p);
    if (!e) return NULL;
    node *s = p_node(p, S_EXPR, &t);
    if (!s) return NULL;
    s->a = e;
    bool top = !p->fn && p->scope == 0;
    if (top && p->cur.kind == TK_EOF) {        /* the cell's value */
        if (e->kind != N_ASSIGN) s->kind = S_VALUE;
        return s;
    }
    expect_semi(p);
    return s;
}

/* NAME NAME ... where the first is no type: report it with a suggestion. */
static node *unknown_type(parser *p, const token *t)
{
    const char *names[64];
    int n = 0;
    static const char *const base[] = {"int", "float", "bool", "string", "list", "auto", "void"};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) names[n++] = base[i];
    for (int i = 0; i < reg_type_count() && n < 64; i++) names[n++] = reg_type_at(i)->name;
    char word[64];
    snprintf(word, sizeof word, "%.*s", (int)(t->len < 60 ? t->len : 60), t->start);
    const char *s = suggest(word, names, n);
    if (s) p_error_at(p, t, "unknown type '%s'; did you mean '%s'?", word, s);
    else p_error_at(p, t, "unknown type '%s' (types: int, float, bool, string, list, auto, ...)", word);
    return NULL;
}

/* A magic's name written without its '%', followed by more words. */
static bool is_magic_name(parser *p, const token *t)
{
    if (!p->s) return false;
    tk_kind next = p_peek(p).kind;
    if (next == TK_LPAREN || next == TK_ASSIGN || next == TK_SEMI || next == TK_DOT ||
        next == TK_LBRACKET || next == TK_INC || next == TK_DEC || next == TK_EOF ||
        (next >= TK_PLUSEQ && next <= TK_PERCENTEQ))
        return false;
    for (int i = 0; i < p->s->nmagic_names; i++)
        if (strlen(p->s->magic_names[i]) == t->len &&
            memcmp(p->s->magic_names[i], t->start, t->len) == 0)
            return true;
    return false;
}

/* statement -> block | if | while | do | for | break | continue | return
 *            | decl | funcdef | magic | ';' | exprstmt ';' */
static node *statement_inner(parser *p)
{
    token t = p->cur;
    ltype ty;
    switch (t.kind) {
    case TK_LBRACE: p_advance(p); return block(p, &t);
    case TK_IF: p_advance(p); return if_statement(p, &t);
    case TK_WHILE: p_advance(p); return while_statement(p, &t);
    case TK_DO: p_advance(p); return do_statement(p, &t);
    case TK_FOR: p_advance(p); return for_statement(p, &t);
    case TK_BREAK: p_advance(p); return simple(p, S_BREAK, &t);
    case TK_CONTINUE: p_advance(p); return simple(p, S_CONTINUE, &t);
    case TK_RETURN: p_advance(p); return return_statement(p, &t);
    case TK_SEMI: p_advance(p); return p_node(p, S_NOP, &t);
    case TK_ELSE:
        p_error_at(p, &t, "'else' without a matching 'if'");
        p_advance(p);
        return NULL;
    case TK_RBRACE:
        p_error_at(p, &t, "'}' without a matching '{'");
        p_advance(p);
        return NULL;
    case TK_PERCENT: case TK_BANG:
        if (t.first_on_line) return magic_line(p);
        break;
    case TK_NAME:
        if (p_type_name(p, &t, &ty) && p_peek(p).kind == TK_NAME)
            return typed_statement(p, ty);
        if (t.first_on_line && is_magic_name(p, &t)) {
            p_error_at(p, &t, "'%.*s' is a magic: start the line with '%%' ('%%%.*s ...')",
                       (int)t.len, t.start, (int)t.len, t.start);
            return NULL;
        }
        if (p_peek(p).kind == TK_NAME) {
            lexer look = p->lx;
            lex_next(&look);
            tk_kind after = lex_next(&look).kind;
            if (after == TK_ASSIGN || after == TK_SEMI || after == TK_LPAREN ||
                after == TK_COMMA)
                return unknown_type(p, &t);
        }
        break;
    default:
        break;
    }
    return expression_statement(p);
}

static node *statement(parser *p)
{
    int level = p->nopen;
    const char *at = p->cur.start;
    node *s = NULL;
    if (p_enter(p)) {
        s = statement_inner(p);
        p_leave(p);
    }
    if (p->panic || !s) {
        if (p->panic) synchronize(p, level);
        if (p->cur.start == at && p->cur.kind != TK_EOF) p_advance(p);   /* always progress */
        return NULL;
    }
    return s;
}

/* cell -> { statement } EOF */
void parse_cell(lang_session *s, code_unit *u, bool magics, parse_out *out)
{
    parser p;
    memset(&p, 0, sizeof p);
    memset(out, 0, sizeof *out);
    p.s = s;
    p.u = u;
    p.A = &u->mem;
    p.magics = magics;
    lex_init(&p.lx, u->src);
    p.prev.kind = TK_EOF;
    p_advance(&p);
    p.prev.kind = TK_EOF;
    p.prev.line = 0;
    token first = p.cur;
    out->body = p_node(&p, S_BLOCK, &first);
    if (out->body) {
        out->body->flag = true;
        out->body->kids = statements(&p, TK_EOF, &out->body->n);
    }
    if (p.oom) push_error(&p, p.cur.line, p.cur.col, 1, "out of memory while reading the cell");
    out->nslots = p.nslots;
    out->errs = p.errs;
    out->nerrs = p.nerrs;
    free(p.vars);
}

void parse_out_free(parse_out *o)
{
    for (int i = 0; i < o->nerrs; i++) free(o->errs[i].msg);
    free(o->errs);
    memset(o, 0, sizeof *o);
}

/* Evaluates a native default: a constant, a negated number or a list of them. */
static bool const_default(const node *n, lang_value *out)
{
    if (n->kind == N_CONST) { *out = n->k; lang_value_incref(n->k); return true; }
    if (n->kind == N_LIST) {
        lang_value l = lang_list_new((size_t)n->n);
        for (int i = 0; i < n->n; i++) {
            lang_value v;
            if (!const_default(n->kids[i], &v)) { lang_value_decref(l); return false; }
            lang_list_push(l, v);
        }
        *out = l;
        return true;
    }
    return false;
}

/* A native's defaults are evaluated once, here. */
static void native_defaults(parser *p, proto *fn)
{
    for (int i = 0; i < fn->nparams; i++) {
        param *pa = &fn->params[i];
        if (pa->has_def && !const_default(pa->def, &pa->defval)) {
            token at = { .line = 1, .col = 1, .len = 1 };
            p_error_at(p, &at, "default of '%s' is not a constant", pa->name);
            return;
        }
    }
}

/* signature -> type NAME params */
proto *parse_signature(code_unit *u, const char *sig, char *err, size_t errcap)
{
    parser p;
    memset(&p, 0, sizeof p);
    p.u = u;
    p.A = &u->mem;
    lex_init(&p.lx, sig);
    p_advance(&p);
    ltype ret;
    proto *fn = arena_alloc(p.A, sizeof *fn);
    token name;
    if (!fn) { snprintf(err, errcap, "out of memory"); return NULL; }
    if (p_type_name(&p, &p.cur, &ret)) {
        p_advance(&p);
    } else if (p.cur.kind == TK_NAME && p_peek(&p).kind == TK_NAME) {
        ret = (ltype){ TY_OBJ, NULL };           /* a type registered later */
        fn->ret_tyname = p_strtok(&p, &p.cur);
        p_advance(&p);
    } else {
        ret = (ltype){ TY_AUTO, NULL };
    }
    name = p.cur;
    if (p_expect(&p, TK_NAME, "a function name") && p_expect(&p, TK_LPAREN, "'('")) {
        fn->name = p_strtok(&p, &name);
        fn->ret = ret;
        fn->unit = u;
        param_list(&p, fn);
    }
    if (!p.nerrs) native_defaults(&p, fn);
    if (!p.nerrs && p.cur.kind != TK_EOF) {
        p_error_at(&p, &p.cur, "unexpected %s after the signature", lex_kind_name(p.cur.kind));
    }
    if (p.nerrs) {
        snprintf(err, errcap, "%d:%d: %s", p.errs[0].line, p.errs[0].col, p.errs[0].msg);
        for (int i = 0; i < p.nerrs; i++) free(p.errs[i].msg);
        free(p.errs);
        free(p.vars);
        return NULL;
    }
    free(p.vars);
    return fn;
}
