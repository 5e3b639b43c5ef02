/*
 * parse_expr.c - expressions, by precedence climbing with C's precedence
 * and associativity. Assignment is a statement form (p_expr_statement), so
 * `if (x = 3)` is caught with a hint instead of silently assigning.
 */
#include "parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static node *unary(parser *p);

/* Keeps the evaluator's recursion bounded: a tree may not grow too tall. */
static node *grown(parser *p, node *n, const token *at)
{
    int h = 0;
    node *kids[4] = { n->a, n->b, n->c, n->d };
    for (int i = 0; i < 4; i++)
        if (kids[i] && kids[i]->h > h) h = kids[i]->h;
    for (int i = 0; i < n->n; i++)
        if (n->kids[i] && n->kids[i]->h > h) h = n->kids[i]->h;
    n->h = h + 1;
    /* about 512 bytes of C stack per level when evaluating, sanitizers included */
    if (n->h > PARSE_MAX_HEIGHT || (p->s && (size_t)n->h * 512 > p->s->cx.stack_limit)) {
        p_error_at(p, at, "this expression is too long or too deeply nested; "
                   "split it over several statements");
        return NULL;
    }
    return n;
}

node *p_const_value(parser *p, const token *at, lang_value v)
{
    node *n = p_node(p, N_CONST, at);
    if (!n) { lang_value_decref(v); return NULL; }
    n->k = v;
    if (v.type >= LANG_STR) {
        code_unit *u = p->u;
        if (u->nconsts == u->cconsts) {
            int c = u->cconsts ? u->cconsts * 2 : 16;
            lang_value *k = realloc(u->consts, (size_t)c * sizeof *k);
            if (!k) { lang_value_decref(v); p->oom = true; return NULL; }
            u->consts = k;
            u->cconsts = c;
        }
        u->consts[u->nconsts++] = v;
    }
    return n;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* string -> '"' { char | escape } '"'   (escapes: \n \t \r \0 \\ \" \' \xHH) */
static node *string_lit(parser *p, const token *t)
{
    char *buf = malloc(t->len + 1);
    size_t n = 0;
    if (!buf) { p->oom = true; return NULL; }
    for (size_t i = 1; i + 1 < t->len; i++) {
        char c = t->start[i];
        if (c != '\\') { buf[n++] = c; continue; }
        char e = t->start[++i];
        switch (e) {
        case 'n': buf[n++] = '\n'; break;
        case 't': buf[n++] = '\t'; break;
        case 'r': buf[n++] = '\r'; break;
        case '0': buf[n++] = '\0'; break;
        case 'x':
            if (i + 2 < t->len - 1 && hexval(t->start[i + 1]) >= 0 &&
                hexval(t->start[i + 2]) >= 0) {
                buf[n++] = (char)(hexval(t->start[i + 1]) * 16 + hexval(t->start[i + 2]));
                i += 2;
                break;
            }
            /* fall through */
        default:
            if (e == '\\' || e == '"' || e == '\'') { buf[n++] = e; break; }
            token at = *t;
            at.start += i - 1;
            at.col += (int)i - 1;
            at.len = 2;
            p_error_at(p, &at, "unknown escape '\\%c' in a string; use '\\\\' for a backslash", e);
            free(buf);
            return NULL;
        }
    }
    node *k = p_const_value(p, t, lang_string_new(buf, n));
    free(buf);
    return k;
}

static node *number_lit(parser *p, const token *t)
{
    char tmp[64];
    size_t n = t->len < sizeof tmp - 1 ? t->len : sizeof tmp - 1;
    memcpy(tmp, t->start, n);
    tmp[n] = 0;
    errno = 0;
    if (t->kind == TK_FLOAT) return p_const_value(p, t, lang_float(strtod(tmp, NULL)));
    long long v = strtoll(tmp, NULL, 10);
    if (errno == ERANGE || t->len >= sizeof tmp - 1) {
        p_error_at(p, t, "the number %s is too large for an int (64 bits)", tmp);
        return NULL;
    }
    return p_const_value(p, t, lang_int(v));
}

/* list -> '{' [ expr { ',' expr } [ ',' ] ] '}' */
static node *list_lit(parser *p, const token *open)
{
    node *n = p_node(p, N_LIST, open);
    node *items[64];
    node **all = items;
    int cap = 64, cnt = 0;
    if (!n) return NULL;
    while (!p_check(p, TK_RBRACE) && !p_check(p, TK_EOF)) {
        node *e = p_expr(p);
        if (!e) { if (all != items) free(all); return NULL; }
        if (cnt == cap) {
            node **bigger = malloc((size_t)cap * 2 * sizeof *bigger);
            if (!bigger) { p->oom = true; if (all != items) free(all); return NULL; }
            memcpy(bigger, all, (size_t)cnt * sizeof *bigger);
            if (all != items) free(all);
            all = bigger;
            cap *= 2;
        }
        all[cnt++] = e;
        if (!p_match(p, TK_COMMA)) break;
    }
    n->kids = arena_alloc(p->A, (size_t)(cnt ? cnt : 1) * sizeof(node *));
    if (n->kids) memcpy(n->kids, all, (size_t)cnt * sizeof(node *));
    n->n = cnt;
    if (all != items) free(all);
    if (!n->kids) { p->oom = true; return NULL; }
    if (!p_expect(p, TK_RBRACE, "'}' to close the list")) return NULL;
    return grown(p, n, open);
}

/* primary -> INT | FLOAT | STRING | true | false | null | NAME | '(' expr ')' | list */
static node *primary(parser *p)
{
    token t = p->cur;
    switch (t.kind) {
    case TK_INT: case TK_FLOAT: p_advance(p); return number_lit(p, &t);
    case TK_STRING: p_advance(p); return string_lit(p, &t);
    case TK_TRUE: p_advance(p); return p_const_value(p, &t, lang_bool(true));
    case TK_FALSE: p_advance(p); return p_const_value(p, &t, lang_bool(false));
    case TK_NULL: p_advance(p); return p_const_value(p, &t, lang_null());
    case TK_NAME: p_advance(p); return p_resolve(p, &t);
    case TK_LBRACE: p_advance(p); return list_lit(p, &t);
    case TK_LPAREN: {
        p_advance(p);
        node *e = p_expr(p);
        if (!e || !p_expect(p, TK_RPAREN, "')'")) return NULL;
        return e;
    }
    case TK_RBRACE: case TK_RPAREN: case TK_RBRACKET: case TK_SEMI: case TK_EOF:
        if (p->prev.kind != TK_EOF && p->prev.start && p->prev.line > 0)
            p_error_at(p, &t, "expected a value after '%.*s', found %s",
                       (int)p->prev.len, p->prev.start, lex_kind_name(t.kind));
        else
            p_error_at(p, &t, "expected a value, found %s", lex_kind_name(t.kind));
        return NULL;
    default:
        p_error_at(p, &t, "expected a value, found %s", lex_kind_name(t.kind));
        return NULL;
    }
}

bool p_is_lvalue(const node *n)
{
    return n->kind == N_LOCAL || n->kind == N_GLOBAL || n->kind == N_INDEX ||
           n->kind == N_MEMBER;
}

/* args -> [ arg { ',' arg } ] ')'    arg -> [ NAME '=' ] expr */
void p_call_args(parser *p, node *call)
{
    node *args[64];
    const char *names[64];
    int n = 0;
    bool named = false;
    while (!p_check(p, TK_RPAREN) && !p_check(p, TK_EOF)) {
        const char *name = NULL;
        token at = p->cur;
        if (p->cur.kind == TK_NAME && p_peek(p).kind == TK_ASSIGN) {
            name = p_strtok(p, &p->cur);
            p_advance(p);
            p_advance(p);
            named = true;
        } else if (named) {
            p_error_at(p, &at, "a positional argument cannot follow named ones; "
                       "put it before the first 'name = value'");
            return;
        }
        node *e = p_expr(p);
        if (!e) return;
        if (n == 64) { p_error_at(p, &at, "too many arguments (at most 64)"); return; }
        names[n] = name;
        args[n++] = e;
        if (!p_match(p, TK_COMMA)) break;
    }
    if (!p_check(p, TK_RPAREN) && !p_check(p, TK_EOF)) {
        p_error_at(p, &p->cur, "expected ',' between arguments or ')' to close the call, "
                   "found %s", lex_kind_name(p->cur.kind));
        return;
    }
    if (!p_expect(p, TK_RPAREN, "')' to close the call")) return;
    call->kids = arena_alloc(p->A, (size_t)(n ? n : 1) * sizeof(node *));
    call->names = arena_alloc(p->A, (size_t)(n ? n : 1) * sizeof(char *));
    if (!call->kids || !call->names) { p->oom = true; return; }
    memcpy(call->kids, args, (size_t)n * sizeof(node *));
    memcpy(call->names, names, (size_t)n * sizeof(char *));
    call->n = n;
}

static node *incdec(parser *p, node *target, const token *op, bool prefix)
{
    if (!p_is_lvalue(target)) {
        p_error_at(p, op, "%.*s needs a variable, an element x[i] or a property",
                   (int)op->len, op->start);
        return NULL;
    }
    node *n = p_node(p, N_INCDEC, op);
    if (!n) return NULL;
    n->op = (uint8_t)op->kind;
    n->flag = prefix;
    n->a = target;
    return grown(p, n, op);
}

/* postfix -> primary { '(' args | '[' expr ']' | '.' NAME [ '(' args ] | '++' | '--' } */
static node *postfix(parser *p)
{
    node *e = primary(p);
    while (e) {
        token t = p->cur;
        if (p_match(p, TK_LPAREN)) {
            node *c = p_node(p, N_CALL, &t);
            if (!c) return NULL;
            c->a = e;
            c->line = e->line; c->col = e->col; c->len = e->len;
            p_call_args(p, c);
            if (p->panic) return NULL;
            e = grown(p, c, &t);
        } else if (p_match(p, TK_LBRACKET)) {
            node *ix = p_node(p, N_INDEX, &t);
            if (!ix) return NULL;
            ix->a = e;
            ix->b = p_expr(p);
            if (!ix->b || !p_expect(p, TK_RBRACKET, "']'")) return NULL;
            e = grown(p, ix, &t);
        } else if (p_match(p, TK_DOT)) {
            token name = p->cur;
            if (!p_expect(p, TK_NAME, "a property or method name after '.'")) return NULL;
            bool call = p_match(p, TK_LPAREN);
            node *m = p_node(p, call ? N_METHOD : N_MEMBER, &name);
            if (!m) return NULL;
            m->a = e;
            m->name = p_strtok(p, &name);
            if (call) { p_call_args(p, m); if (p->panic) return NULL; }
            e = grown(p, m, &name);
        } else if (t.kind == TK_INC || t.kind == TK_DEC) {
            p_advance(p);
            e = incdec(p, e, &t, false);
        } else break;
    }
    return e;
}

/* unary -> ( '-' | '+' | '!' ) unary | ( '++' | '--' ) unary | postfix */
static node *unary(parser *p)
{
    token t = p->cur;
    if (t.kind != TK_MINUS && t.kind != TK_PLUS && t.kind != TK_BANG &&
        t.kind != TK_INC && t.kind != TK_DEC)
        return postfix(p);
    p_advance(p);
    if (!p_enter(p)) return NULL;
    node *a = unary(p);
    p_leave(p);
    if (!a) return NULL;
    if (t.kind == TK_INC || t.kind == TK_DEC) return incdec(p, a, &t, true);
    if (t.kind == TK_PLUS) return a;
    if (t.kind == TK_MINUS && a->kind == N_CONST && a->k.type == LANG_INT &&
        a->k.as.i != INT64_MIN) {
        a->k.as.i = -a->k.as.i;
        return a;
    }
    if (t.kind == TK_MINUS && a->kind == N_CONST && a->k.type == LANG_FLOAT) {
        a->k.as.f = -a->k.as.f;
        return a;
    }
    node *n = p_node(p, N_UNARY, &t);
    if (!n) return NULL;
    n->op = (uint8_t)t.kind;
    n->a = a;
    return grown(p, n, &t);
}

static int precedence(tk_kind k)
{
    switch (k) {
    case TK_OR: return 1;
    case TK_AND: return 2;
    case TK_EQ: case TK_NE: return 3;
    case TK_LT: case TK_LE: case TK_GT: case TK_GE: return 4;
    case TK_PLUS: case TK_MINUS: return 5;
    case TK_STAR: case TK_SLASH: case TK_PERCENT: return 6;
    default: return 0;
    }
}

/* binary -> unary { op binary }, left-associative, by precedence */
static node *binary(parser *p, int min_prec)
{
    node *left = unary(p);
    while (left) {
        token op = p->cur;
        int prec = precedence(op.kind);
        if (prec < min_prec || prec == 0) break;
        p_advance(p);
        node *right = binary(p, prec + 1);
        if (!right) return NULL;
        node_kind k = op.kind == TK_AND ? N_AND : op.kind == TK_OR ? N_OR : N_BINARY;
        node *n = p_node(p, k, &op);
        if (!n) return NULL;
        n->op = (uint8_t)op.kind;
        n->a = left;
        n->b = right;
        left = grown(p, n, &op);
    }
    return left;
}

/* expr -> binary [ '?' expr ':' expr ] */
node *p_expr(parser *p)
{
    if (!p_enter(p)) return NULL;
    node *c = binary(p, 1);
    if (c && p->cur.kind == TK_QUESTION) {
        token q = p->cur;
        p_advance(p);
        node *n = p_node(p, N_TERNARY, &q);
        if (!n) { p_leave(p); return NULL; }
        n->a = c;
        n->b = p_expr(p);
        if (n->b && p_expect(p, TK_COLON, "':' in 'condition ? a : b'"))
            n->c = p_expr(p);
        c = n->b && n->c ? grown(p, n, &q) : NULL;
    }
    p_leave(p);
    return c;
}

/* exprstmt -> expr [ ( '=' | '+=' | '-=' | '*=' | '/=' | '%=' ) expr ] */
node *p_expr_statement(parser *p)
{
    node *target = p_expr(p);
    if (!target) return NULL;
    token op = p->cur;
    if (op.kind != TK_ASSIGN && op.kind != TK_PLUSEQ && op.kind != TK_MINUSEQ &&
        op.kind != TK_STAREQ && op.kind != TK_SLASHEQ && op.kind != TK_PERCENTEQ)
        return target;
    if (!p_is_lvalue(target)) {
        p_error_at(p, &op, "the left side of %.*s must be a variable, an element "
                   "x[i] or a property", (int)op.len, op.start);
        return NULL;
    }
    p_advance(p);
    node *n = p_node(p, N_ASSIGN, &op);
    if (!n) return NULL;
    n->op = (uint8_t)op.kind;
    n->a = target;
    n->b = p_expr(p);
    if (!n->b) return NULL;
    if (p->cur.kind == TK_ASSIGN) {
        p_error_at(p, &p->cur, "one assignment per statement: 'a = b = c' is not supported");
        return NULL;
    }
    return grown(p, n, &op);
}
