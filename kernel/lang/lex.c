/*
 * lex.c - the lexer. See lex.h.
 */
#include "lex.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

const char *const lex_keywords[] = {
    "if", "else", "while", "do", "for", "break", "continue", "return",
    "true", "false", "null", NULL
};
static const tk_kind keyword_kinds[] = {
    TK_IF, TK_ELSE, TK_WHILE, TK_DO, TK_FOR, TK_BREAK, TK_CONTINUE, TK_RETURN,
    TK_TRUE, TK_FALSE, TK_NULL
};

void lex_init(lexer *lx, const char *src)
{
    lx->src = lx->p = lx->line_start = src;
    lx->line = 1;
    lx->line_has_token = false;
    lx->msgbuf[0] = 0;
}

static token make(lexer *lx, tk_kind k, const char *start)
{
    token t;
    t.kind = k;
    t.start = start;
    t.len = (size_t)(lx->p - start);
    t.line = lx->line;
    t.col = (int)(start - lx->line_start) + 1;
    t.msg = NULL;
    t.first_on_line = !lx->line_has_token && start >= lx->line_start;
    lx->line_has_token = true;
    return t;
}

static token error_at(lexer *lx, const char *start, int line, const char *ls,
                      const char *msg)
{
    token t = make(lx, TK_ERROR, start);
    t.line = line;
    t.col = (int)(start - ls) + 1;
    t.len = 1;
    t.msg = msg;
    return t;
}

static void newline(lexer *lx)
{
    lx->line++;
    lx->line_start = lx->p;
    lx->line_has_token = false;
}

/* Skips blanks and comments; returns an error token for an unclosed comment. */
static bool skip_space(lexer *lx, token *err)
{
    for (;;) {
        char c = *lx->p;
        if (c == '\n') { lx->p++; newline(lx); }
        else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') lx->p++;
        else if (c == '/' && lx->p[1] == '/') {
            while (*lx->p && *lx->p != '\n') lx->p++;
        } else if (c == '/' && lx->p[1] == '*') {
            const char *start = lx->p, *ls = lx->line_start;
            int line = lx->line;
            lx->p += 2;
            while (*lx->p && !(lx->p[0] == '*' && lx->p[1] == '/')) {
                if (*lx->p++ == '\n') newline(lx);
            }
            if (!*lx->p) {
                snprintf(lx->msgbuf, sizeof lx->msgbuf,
                         "unclosed /* comment started on line %d", line);
                *err = error_at(lx, start, line, ls, lx->msgbuf);
                return false;
            }
            lx->p += 2;
        } else return true;
    }
}

static token number(lexer *lx, const char *start)
{
    bool is_float = false;
    while (isdigit((unsigned char)*lx->p)) lx->p++;
    if (*lx->p == '.' && lx->p[1] != '.') {
        is_float = true;
        lx->p++;
        while (isdigit((unsigned char)*lx->p)) lx->p++;
    }
    if ((*lx->p == 'e' || *lx->p == 'E') &&
        (isdigit((unsigned char)lx->p[1]) ||
         ((lx->p[1] == '+' || lx->p[1] == '-') && isdigit((unsigned char)lx->p[2])))) {
        is_float = true;
        lx->p += 2;
        while (isdigit((unsigned char)*lx->p)) lx->p++;
    }
    if (isalpha((unsigned char)*lx->p) || *lx->p == '_') {
        while (isalnum((unsigned char)*lx->p) || *lx->p == '_') lx->p++;
        token t = make(lx, TK_ERROR, start);
        t.msg = "invalid number";
        return t;
    }
    return make(lx, is_float ? TK_FLOAT : TK_INT, start);
}

static token string(lexer *lx, const char *start)
{
    char q = *lx->p++;
    while (*lx->p && *lx->p != q && *lx->p != '\n') {
        if (*lx->p == '\\' && lx->p[1] && lx->p[1] != '\n') lx->p++;
        lx->p++;
    }
    if (*lx->p != q) {
        token t = make(lx, TK_ERROR, start);
        t.len = 1;
        snprintf(lx->msgbuf, sizeof lx->msgbuf,
                 "unclosed string started on line %d", lx->line);
        t.msg = lx->msgbuf;
        return t;
    }
    lx->p++;
    return make(lx, TK_STRING, start);
}

static token name(lexer *lx, const char *start)
{
    while (isalnum((unsigned char)*lx->p) || *lx->p == '_') lx->p++;
    size_t n = (size_t)(lx->p - start);
    for (int i = 0; lex_keywords[i]; i++)
        if (strlen(lex_keywords[i]) == n && memcmp(lex_keywords[i], start, n) == 0)
            return make(lx, keyword_kinds[i], start);
    return make(lx, TK_NAME, start);
}

/* Two-character operators first, then one-character ones. */
static token punct(lexer *lx, const char *start)
{
    static const struct { const char *s; tk_kind k; } ops[] = {
        {"...", TK_ELLIPSIS}, {"==", TK_EQ}, {"!=", TK_NE}, {"<=", TK_LE},
        {">=", TK_GE}, {"&&", TK_AND}, {"||", TK_OR}, {"+=", TK_PLUSEQ},
        {"-=", TK_MINUSEQ}, {"*=", TK_STAREQ}, {"/=", TK_SLASHEQ},
        {"%=", TK_PERCENTEQ}, {"++", TK_INC}, {"--", TK_DEC}, {"->", TK_ARROW},
        {"(", TK_LPAREN}, {")", TK_RPAREN}, {"{", TK_LBRACE}, {"}", TK_RBRACE},
        {"[", TK_LBRACKET}, {"]", TK_RBRACKET}, {";", TK_SEMI}, {",", TK_COMMA},
        {".", TK_DOT}, {":", TK_COLON}, {"?", TK_QUESTION}, {"+", TK_PLUS},
        {"-", TK_MINUS}, {"*", TK_STAR}, {"/", TK_SLASH}, {"%", TK_PERCENT},
        {"!", TK_BANG}, {"=", TK_ASSIGN}, {"<", TK_LT}, {">", TK_GT},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].s);
        if (strncmp(lx->p, ops[i].s, n) == 0) {
            lx->p += n;
            return make(lx, ops[i].k, start);
        }
    }
    unsigned char c = (unsigned char)*lx->p;
    /* Skip a whole UTF-8 sequence so the caret lands on one character. */
    lx->p++;
    while ((*lx->p & 0xC0) == 0x80) lx->p++;
    token t = make(lx, TK_ERROR, start);
    if (c == '&' || c == '|')
        snprintf(lx->msgbuf, sizeof lx->msgbuf,
                 "'%c' alone is not an operator here; use '%c%c' for logic", c, c, c);
    else if (c >= 0x20 && c < 0x7f)
        snprintf(lx->msgbuf, sizeof lx->msgbuf, "unexpected character '%c'", c);
    else
        snprintf(lx->msgbuf, sizeof lx->msgbuf,
                 "unexpected character (byte 0x%02x); only plain ASCII is code", c);
    t.msg = lx->msgbuf;
    return t;
}

token lex_next(lexer *lx)
{
    token err;
    if (!skip_space(lx, &err)) return err;
    const char *start = lx->p;
    char c = *lx->p;
    if (!c) return make(lx, TK_EOF, start);
    if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)lx->p[1])))
        return number(lx, start);
    if (c == '"' || c == '\'') return string(lx, start);
    if (isalpha((unsigned char)c) || c == '_') return name(lx, start);
    return punct(lx, start);
}

void lex_skip_line(lexer *lx)
{
    while (*lx->p && *lx->p != '\n') lx->p++;
}

bool lex_is_keyword(const char *s, size_t len)
{
    for (int i = 0; lex_keywords[i]; i++)
        if (strlen(lex_keywords[i]) == len && memcmp(lex_keywords[i], s, len) == 0)
            return true;
    return false;
}

const char *lex_kind_name(tk_kind k)
{
    static const char *names[TK_COUNT] = {
        [TK_EOF] = "the end of the cell", [TK_ERROR] = "an invalid token",
        [TK_INT] = "a number", [TK_FLOAT] = "a number", [TK_STRING] = "a string",
        [TK_NAME] = "a name", [TK_IF] = "'if'", [TK_ELSE] = "'else'",
        [TK_WHILE] = "'while'", [TK_DO] = "'do'", [TK_FOR] = "'for'",
        [TK_BREAK] = "'break'", [TK_CONTINUE] = "'continue'",
        [TK_RETURN] = "'return'", [TK_TRUE] = "'true'", [TK_FALSE] = "'false'",
        [TK_NULL] = "'null'", [TK_LPAREN] = "'('", [TK_RPAREN] = "')'",
        [TK_LBRACE] = "'{'", [TK_RBRACE] = "'}'", [TK_LBRACKET] = "'['",
        [TK_RBRACKET] = "']'", [TK_SEMI] = "';'", [TK_COMMA] = "','",
        [TK_DOT] = "'.'", [TK_COLON] = "':'", [TK_QUESTION] = "'?'",
        [TK_ELLIPSIS] = "'...'", [TK_ARROW] = "'->'", [TK_PLUS] = "'+'",
        [TK_MINUS] = "'-'", [TK_STAR] = "'*'", [TK_SLASH] = "'/'",
        [TK_PERCENT] = "'%'", [TK_BANG] = "'!'", [TK_ASSIGN] = "'='",
        [TK_EQ] = "'=='", [TK_NE] = "'!='", [TK_LT] = "'<'", [TK_LE] = "'<='",
        [TK_GT] = "'>'", [TK_GE] = "'>='", [TK_AND] = "'&&'", [TK_OR] = "'||'",
        [TK_PLUSEQ] = "'+='", [TK_MINUSEQ] = "'-='", [TK_STAREQ] = "'*='",
        [TK_SLASHEQ] = "'/='", [TK_PERCENTEQ] = "'%='", [TK_INC] = "'++'",
        [TK_DEC] = "'--'",
    };
    return (k >= 0 && k < TK_COUNT && names[k]) ? names[k] : "a token";
}
