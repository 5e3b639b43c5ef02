/*
 * complete.c - the Jupyter helpers: is_complete, completion, inspection.
 *
 * They work on the text around the cursor with the lexer and a little
 * scanning, never by running code; values come from the session's globals
 * and signatures and docs from the registry (builtins, types, methods) and
 * from user function prototypes.
 */
#include "vm.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lex.h"

/* ---- is_complete ---- */

static const char *const indents[] = {
    "", "    ", "        ", "            ", "                ", "                    ",
};

static bool continues(tk_kind k)
{
    switch (k) {
    case TK_PLUS: case TK_MINUS: case TK_STAR: case TK_SLASH: case TK_PERCENT:
    case TK_ASSIGN: case TK_EQ: case TK_NE: case TK_LT: case TK_LE: case TK_GT:
    case TK_GE: case TK_AND: case TK_OR: case TK_COMMA: case TK_DOT: case TK_QUESTION:
    case TK_COLON: case TK_BANG: case TK_PLUSEQ: case TK_MINUSEQ: case TK_STAREQ:
    case TK_SLASHEQ: case TK_PERCENTEQ:
        return true;
    default:
        return false;
    }
}

/* `if (...)`, `while (...)`, `for (...)`, `else` and `do` at the very end
 * still wait for their statement. */
static bool awaits_body(tk_kind last, bool closed_control)
{
    return last == TK_ELSE || last == TK_DO || (last == TK_RPAREN && closed_control);
}

const char *lang_is_complete(const char *src, const char **indent)
{
    lexer lx;
    tk_kind stack[256], last = TK_EOF, before = TK_EOF;
    bool control_paren[256] = {0}, closed_control = false;
    int depth = 0;
    if (indent) *indent = "";
    lex_init(&lx, src ? src : "");
    for (;;) {
        token t = lex_next(&lx);
        if (t.kind == TK_EOF) break;
        if (t.kind == TK_ERROR) {
            if (strncmp(t.msg, "unclosed", 8) == 0) {
                if (indent) *indent = indents[depth < 5 ? depth : 5];
                return "incomplete";
            }
            last = TK_ERROR;
            continue;
        }
        closed_control = false;
        if (t.kind == TK_LPAREN || t.kind == TK_LBRACKET || t.kind == TK_LBRACE) {
            if (depth < 256) {
                stack[depth] = t.kind;
                control_paren[depth] = before == TK_IF || before == TK_WHILE || before == TK_FOR;
            }
            depth++;
        } else if (t.kind == TK_RPAREN || t.kind == TK_RBRACKET || t.kind == TK_RBRACE) {
            tk_kind open = t.kind == TK_RPAREN ? TK_LPAREN : t.kind == TK_RBRACKET ? TK_LBRACKET : TK_LBRACE;
            if (depth == 0 || (depth <= 256 && stack[depth - 1] != open)) return "invalid";
            depth--;
            closed_control = depth < 256 && control_paren[depth];
        }
        before = t.kind;
        last = t.kind;
    }
    if (depth > 0) {
        if (indent) *indent = indents[depth < 5 ? depth : 5];
        return "incomplete";
    }
    if (continues(last) || awaits_body(last, closed_control)) {
        if (indent) *indent = indents[1];
        return "incomplete";
    }
    return "complete";
}

/* ---- signatures ---- */

static void write_signature(strbuf *b, const proto *p, const char *owner)
{
    if (p->ret.tag != TY_AUTO || !p->native) sb_printf(b, "%s ", ty_name(p->ret));
    sb_printf(b, "%s%s%s(", owner ? owner : "", owner ? "." : "", p->name);
    for (int i = 0; i < p->nparams; i++) {
        const param *pa = &p->params[i];
        sb_printf(b, "%s%s %s", i ? ", " : "", pa->ty.tag == TY_AUTO ? "any" : ty_name(pa->ty),
                  pa->name);
        if (pa->has_def && pa->deftext) sb_printf(b, " = %s", pa->deftext);
    }
    if (p->variadic) sb_adds(b, p->nparams ? ", ..." : "...");
    sb_adds(b, ")");
}

static void describe_proto(strbuf *b, const proto *p, const char *owner)
{
    write_signature(b, p, owner);
    sb_adds(b, "\n");
    if (p->doc) sb_printf(b, "\n%s\n", p->doc);
    if (!p->native && p->unit) sb_printf(b, "\nDefined in Cell [%d], line %d.\n", p->unit->cell, p->line);
}

/* ---- scanning the text around the cursor ---- */

static bool ident_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Whether `cursor` is inside a string literal on its line; *open is the
 * byte after the opening quote. Comments end the scan. */
static bool in_string(const char *src, size_t cursor, size_t *open)
{
    size_t line = cursor;
    while (line > 0 && src[line - 1] != '\n') line--;
    char q = 0;
    for (size_t i = line; i < cursor; i++) {
        char c = src[i];
        if (q) {
            if (c == '\\') i++;
            else if (c == q) q = 0;
        } else if (c == '"' || c == '\'') {
            q = c;
            *open = i + 1;
        } else if (c == '/' && src[i + 1] == '/') {
            return false;
        }
    }
    return q != 0;
}

/* The start of a simple name ending at `end`. */
static size_t word_start(const char *src, size_t end)
{
    while (end > 0 && ident_char(src[end - 1])) end--;
    return end;
}

/* The value of the name before a '.' at `dot` (borrowed), for member
 * completion: a global, or a literal's type. */
static const lang_type *receiver_type(lang_session *s, const char *src, size_t dot)
{
    if (dot > 0 && (src[dot - 1] == '"' || src[dot - 1] == '\'')) return &lang_string_type;
    if (dot > 0 && src[dot - 1] == '}') return &lang_list_type;
    size_t a = word_start(src, dot);
    if (a == dot) return NULL;
    int k = sess_global_find(s, src + a, dot - a);
    if (k < 0 || !s->g[k].defined) return NULL;
    return reg_value_type(s->g[k].v);
}

/* The innermost call whose '(' is open at `cursor`: its prototype. */
static const proto *enclosing_call(lang_session *s, const char *src, size_t cursor,
                                   const char **owner)
{
    int depth = 0;
    for (size_t i = cursor; i > 0; i--) {
        char c = src[i - 1];
        if (c == ')' || c == ']' || c == '}') depth++;
        else if ((c == '[' || c == '{') && depth > 0) depth--;
        else if (c == '(' && depth > 0) depth--;
        else if (c == '(' || c == ';' || c == '{') {
            if (c != '(') return NULL;
            size_t end = i - 1;
            while (end > 0 && src[end - 1] == ' ') end--;
            size_t a = word_start(src, end);
            if (a == end) return NULL;
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(end - a < 120 ? end - a : 120), src + a);
            if (a > 0 && src[a - 1] == '.') {
                const lang_type *t = receiver_type(s, src, a - 1);
                if (owner) *owner = t ? t->name : NULL;
                return t ? reg_method(t, name) : NULL;
            }
            int k = sess_global_find(s, name, strlen(name));
            if (k >= 0 && s->g[k].defined && s->g[k].v.type == LANG_FUNC) return AS_FUNC(s->g[k].v)->p;
            lang_value b = reg_builtin(name, strlen(name));
            return b.type == LANG_FUNC ? AS_FUNC(b)->p : NULL;
        }
    }
    return NULL;
}

/* ---- completion ---- */

#define MAX_MATCHES 2000

typedef struct matches { lang_completion *c; int cap; const char *prefix; size_t plen; } matches;

static void add_match(matches *m, const char *name, const char *suffix, const char *type)
{
    if (strncmp(name, m->prefix, m->plen) != 0) return;
    char full[600];
    snprintf(full, sizeof full, "%s%s", name, suffix);
    if (m->c->n >= MAX_MATCHES) return;        /* duplicates go when sorting */
    if (m->c->n == m->cap) {
        int cap = m->cap ? m->cap * 2 : 32;
        char **a = realloc(m->c->matches, (size_t)cap * sizeof *a);
        if (!a) return;
        m->c->matches = a;
        char **t = realloc(m->c->types, (size_t)cap * sizeof *t);
        if (!t) return;
        m->c->types = t;
        m->cap = cap;
    }
    char *s = strdup(full), *ty = strdup(type);
    if (!s || !ty) { free(s); free(ty); return; }
    m->c->matches[m->c->n] = s;
    m->c->types[m->c->n++] = ty;
}

static void complete_members(matches *m, const lang_type *t)
{
    for (int i = 0; i < reg_method_count(t); i++) add_match(m, reg_method_at(t, i)->name, "", "method");
    for (const lang_property *p = t->properties; p && p->name; p++) add_match(m, p->name, "", "property");
}

static void complete_names(matches *m, lang_session *s)
{
    static const char *const types[] = {"int", "float", "bool", "string", "list", "auto", "void"};
    for (int k = 0; k < s->ng; k++)
        if (s->g[k].defined)
            add_match(m, s->g[k].name, "", s->g[k].v.type == LANG_FUNC ? "function" : "variable");
    for (int i = 0; i < reg_builtin_count(); i++) add_match(m, reg_builtin_at(i)->name, "", "function");
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) add_match(m, types[i], "", "type");
    for (int i = 0; i < reg_type_count(); i++) add_match(m, reg_type_at(i)->name, "", "type");
    for (int i = 0; lex_keywords[i]; i++) add_match(m, lex_keywords[i], "", "keyword");
}

static void complete_path(matches *m, const char *src, size_t open, size_t cursor)
{
    char path[1024], dir[1024];
    snprintf(path, sizeof path, "%.*s", (int)(cursor - open < 1000 ? cursor - open : 1000), src + open);
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path) + 1, path);
    else dir[0] = 0;
    m->prefix = slash ? slash + 1 : path;
    m->plen = strlen(m->prefix);
    DIR *d = opendir(dir[0] ? dir : ".");
    if (!d) return;
    struct dirent *e;
    int count = 0;
    while ((e = readdir(d)) && count < 500) {
        if (e->d_name[0] == '.' && m->prefix[0] != '.') continue;
        char full[1400];
        snprintf(full, sizeof full, "%s%s", dir, e->d_name);
        bool is_dir = e->d_type == DT_DIR;
        if (strncmp(e->d_name, m->prefix, m->plen) != 0) continue;
        const char *saved = m->prefix;
        size_t saved_len = m->plen;
        m->prefix = "";
        m->plen = 0;
        add_match(m, full, is_dir ? "/" : "", "path");
        m->prefix = saved;
        m->plen = saved_len;
        count++;
    }
    closedir(d);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether the word at `a` follows a '%' or "%%" that starts its line. */
static bool after_percent(const char *src, size_t a)
{
    size_t i = a;
    int percents = 0;
    while (i > 0 && src[i - 1] == '%' && percents < 2) { i--; percents++; }
    if (!percents) return false;
    while (i > 0 && (src[i - 1] == ' ' || src[i - 1] == '\t')) i--;
    return i == 0 || src[i - 1] == '\n';
}

/* Sorts the matches by name, keeping each one's type with it. */
static void sort_matches(lang_completion *c)
{
    int total = c->n;
    char **pairs = calloc((size_t)(total ? total : 1), sizeof *pairs);
    if (!pairs) return;
    for (int i = 0; i < c->n; i++) {
        size_t n1 = strlen(c->matches[i]), n2 = strlen(c->types[i]);
        if (!(pairs[i] = malloc(n1 + n2 + 2))) goto done;
        memcpy(pairs[i], c->matches[i], n1 + 1);
        memcpy(pairs[i] + n1 + 1, c->types[i], n2 + 1);
    }
    qsort(pairs, (size_t)c->n, sizeof *pairs, by_name);
    int k = 0;
    for (int i = 0; i < c->n; i++) {
        if (k > 0 && strcmp(pairs[i], c->matches[k - 1]) == 0) continue;   /* keep the first */
        char *m = strdup(pairs[i]), *t = strdup(pairs[i] + strlen(pairs[i]) + 1);
        if (!m || !t) { free(m); free(t); continue; }
        free(c->matches[k]);
        free(c->types[k]);
        c->matches[k] = m;
        c->types[k++] = t;
    }
    for (int i = k; i < c->n; i++) { free(c->matches[i]); free(c->types[i]); }
    c->n = k;
done:
    for (int i = 0; i < total; i++) free(pairs[i]);
    free(pairs);
}

void lang_complete(lang_session *s, const char *src, size_t cursor, lang_completion *out)
{
    memset(out, 0, sizeof *out);
    if (!src) src = "";
    size_t len = strlen(src);
    if (cursor > len) cursor = len;
    matches m = { out, 0, "", 0 };
    size_t open;
    if (in_string(src, cursor, &open)) {
        out->start = open;
        out->end = cursor;
        complete_path(&m, src, open, cursor);
    } else {
        size_t a = word_start(src, cursor);
        out->start = a;
        out->end = cursor;
        while (out->end < len && ident_char(src[out->end])) out->end++;
        char prefix[128];
        snprintf(prefix, sizeof prefix, "%.*s", (int)(cursor - a < 120 ? cursor - a : 120), src + a);
        m.prefix = prefix;
        m.plen = strlen(prefix);
        if (a > 0 && src[a - 1] == '.') {
            const lang_type *t = receiver_type(s, src, a - 1);
            if (t) complete_members(&m, t);
        } else if (after_percent(src, a)) {
            for (int i = 0; i < s->nmagic_names; i++) add_match(&m, s->magic_names[i], "", "magic");
        } else {
            const proto *call = enclosing_call(s, src, a, NULL);
            for (int i = 0; call && i < call->nparams; i++)
                add_match(&m, call->params[i].name, " = ", "param");
            complete_names(&m, s);
        }
        sort_matches(out);
    }
}

void lang_completion_free(lang_completion *c)
{
    for (int i = 0; i < c->n; i++) { free(c->matches[i]); free(c->types[i]); }
    free(c->matches);
    free(c->types);
    memset(c, 0, sizeof *c);
}

/* ---- inspection ---- */

static void describe_value(strbuf *b, const char *name, lang_value v, ltype declared)
{
    const lang_type *t = lang_object_type(v);
    sb_printf(b, "%s: %s", name, lang_value_type_name(v));
    if (declared.tag != TY_AUTO && declared.tag != TY_FUNC)
        sb_printf(b, " (declared %s)", ty_name(declared));
    sb_adds(b, "\n");
    if (v.type == LANG_LIST) sb_printf(b, "list of %zu item%s\n", AS_LIST(v)->len, AS_LIST(v)->len == 1 ? "" : "s");
    if (v.type == LANG_STR) sb_printf(b, "string of %zu byte%s\n", AS_STR(v)->len, AS_STR(v)->len == 1 ? "" : "s");
    char *summary = t && t->summary ? t->summary(AS_OBJ(v)->ptr) : NULL;
    if (summary) { sb_printf(b, "%s\n", summary); free(summary); }
    char *text = val_repr_short(v, 301);
    if (text) {
        if (strlen(text) > 300) strcpy(text + 297, "...");
        sb_printf(b, "value: %s\n", text);
        free(text);
    }
    if (t && t->doc) sb_printf(b, "\n%s\n", t->doc);
}

static void describe_type(strbuf *b, const lang_type *t)
{
    sb_printf(b, "type %s\n", t->name);
    if (t->doc) sb_printf(b, "\n%s\n", t->doc);
    if (reg_method_count(t)) sb_adds(b, "\nMethods:\n");
    for (int i = 0; i < reg_method_count(t); i++) {
        sb_adds(b, "  ");
        write_signature(b, reg_method_at(t, i), NULL);
        sb_adds(b, "\n");
    }
    if (t->properties && t->properties->name) sb_adds(b, "\nProperties:\n");
    for (const lang_property *p = t->properties; p && p->name; p++)
        sb_printf(b, "  %s %s%s%s\n", p->type ? p->type : "any", p->name,
                  p->doc ? ": " : "", p->doc ? p->doc : "");
}

static bool describe_member(strbuf *b, lang_session *s, const char *src, size_t a, const char *name)
{
    const lang_type *t = receiver_type(s, src, a - 1);
    if (!t) return false;
    const proto *p = reg_method(t, name);
    if (p) { describe_proto(b, p, t->name); return true; }
    const lang_property *pr = reg_property(t, name);
    if (!pr) return false;
    sb_printf(b, "%s.%s: %s%s\n", t->name, pr->name, pr->type ? pr->type : "any",
              pr->set ? "" : " (read-only)");
    if (pr->doc) sb_printf(b, "\n%s\n", pr->doc);
    return true;
}

/* Shift+Tab on a keyword or a basic type: one line of syntax. */
static bool describe_keyword(strbuf *b, const char *name)
{
    static const char *const docs[][2] = {
        {"if", "if (condition) statement [else statement]"},
        {"else", "if (condition) statement else statement"},
        {"while", "while (condition) statement   -- repeats while the condition is true"},
        {"do", "do statement while (condition);   -- runs at least once"},
        {"for", "for (int i = 0; i < n; i++) statement   or   for (auto x : list) statement"},
        {"break", "break;   -- leaves the innermost loop"},
        {"continue", "continue;   -- goes on with the next round of the innermost loop"},
        {"return", "return value;   -- ends a function with its result"},
        {"true", "bool: true"}, {"false", "bool: false"}, {"null", "no value"},
        {"int", "int: a whole number (64-bit), e.g. int epochs = 5;"},
        {"float", "float: a number with a fraction (double), e.g. float lr = 1e-4;"},
        {"double", "double: the same as float"},
        {"bool", "bool: true or false"},
        {"auto", "auto: a variable that takes the type of its value, e.g. auto m = Sequential();"},
        {"void", "void: a function that returns nothing"},
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        if (strcmp(docs[i][0], name) == 0) { sb_printf(b, "%s\n", docs[i][1]); return true; }
    return false;
}

static bool describe_name(strbuf *b, lang_session *s, const char *name)
{
    int k = sess_global_find(s, name, strlen(name));
    if (k >= 0 && s->g[k].defined) {
        lang_value v = s->g[k].v;
        if (v.type == LANG_FUNC) describe_proto(b, AS_FUNC(v)->p, NULL);
        else describe_value(b, name, v, s->g[k].ty);
        return true;
    }
    lang_value f = reg_builtin(name, strlen(name));
    if (f.type == LANG_FUNC) { describe_proto(b, AS_FUNC(f)->p, NULL); return true; }
    const lang_type *t = reg_type(name, strlen(name));
    if (t) { describe_type(b, t); return true; }
    return describe_keyword(b, name);
}

char *lang_inspect(lang_session *s, const char *src, size_t cursor, int detail_level)
{
    (void)detail_level;
    if (!src) return NULL;
    size_t len = strlen(src);
    if (cursor > len) cursor = len;
    size_t a = word_start(src, cursor), e = cursor;
    while (e < len && ident_char(src[e])) e++;
    strbuf b = {0};
    bool found = false;
    if (e > a && e - a < 120) {
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(e - a), src + a);
        if (a > 0 && src[a - 1] == '.') found = describe_member(&b, s, src, a, name);
        else found = describe_name(&b, s, name);
    }
    if (!found) {
        const char *owner = NULL;
        const proto *p = enclosing_call(s, src, cursor, &owner);
        if (p) { describe_proto(&b, p, owner); found = true; }
    }
    if (!found || b.oom) { free(b.p); return NULL; }
    return b.p;
}
