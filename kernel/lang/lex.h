/*
 * lex.h - the lexer: turns a cell's source into tokens on demand.
 *
 * Tokens point into the source (borrowed); the lexer allocates nothing.
 * Errors (an unclosed string or comment, a stray character) come back as
 * TK_ERROR tokens whose `msg` is a static or lexer-owned message, so the
 * parser reports them with the others and carries on.
 */
#ifndef HELLODL_LEX_H
#define HELLODL_LEX_H

#include <stdbool.h>
#include <stddef.h>

typedef enum tk_kind {
    TK_EOF, TK_ERROR, TK_INT, TK_FLOAT, TK_STRING, TK_NAME,
    /* keywords */
    TK_IF, TK_ELSE, TK_WHILE, TK_DO, TK_FOR, TK_BREAK, TK_CONTINUE,
    TK_RETURN, TK_TRUE, TK_FALSE, TK_NULL,
    /* punctuation */
    TK_LPAREN, TK_RPAREN, TK_LBRACE, TK_RBRACE, TK_LBRACKET, TK_RBRACKET,
    TK_SEMI, TK_COMMA, TK_DOT, TK_COLON, TK_QUESTION, TK_ELLIPSIS, TK_ARROW,
    TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH, TK_PERCENT, TK_BANG,
    TK_ASSIGN, TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE, TK_AND, TK_OR,
    TK_PLUSEQ, TK_MINUSEQ, TK_STAREQ, TK_SLASHEQ, TK_PERCENTEQ,
    TK_INC, TK_DEC,
    TK_COUNT
} tk_kind;

typedef struct token {
    tk_kind kind;
    const char *start;      /* into the source */
    size_t len;
    int line, col;          /* 1-based; col counts bytes */
    const char *msg;        /* TK_ERROR: what is wrong */
    bool first_on_line;     /* nothing but blanks before it on its line */
} token;

typedef struct lexer {
    const char *src, *p;
    int line;
    const char *line_start;
    bool line_has_token;     /* a token was already made on this line */
    char msgbuf[96];
} lexer;

void lex_init(lexer *lx, const char *src);
token lex_next(lexer *lx);
/* Skip the rest of the current line (after a magic line's first token). */
void lex_skip_line(lexer *lx);
const char *lex_kind_name(tk_kind k);   /* "'('", "a name", "end of cell" */
bool lex_is_keyword(const char *s, size_t len);
extern const char *const lex_keywords[];

#endif
