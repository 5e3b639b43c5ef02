/*
 * error.c - "did you mean": edit distance over the names a trainee could
 * have meant (globals, builtins, types, keywords, methods, arguments).
 */
#include "vm.h"

#include <stdlib.h>
#include <string.h>
#include "lex.h"

/* Damerau-Levenshtein (adjacent swaps count 1), stopping early above cap. */
int edit_distance(const char *a, const char *b, int cap)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 64 || lb > 64) return cap + 1;
    if (abs(la - lb) > cap) return cap + 1;
    int d[66][66];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++) {
        int best = cap + 1;
        for (int j = 1; j <= lb; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
            if (v < best) best = v;
        }
        if (best > cap) return cap + 1;
    }
    return d[la][lb];
}

static int lower_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y) return 0;
    }
    return *a == *b;
}

const char *suggest(const char *name, const char *const *cands, int n)
{
    int len = (int)strlen(name);
    int cap = len <= 2 ? 0 : len <= 4 ? 1 : len <= 7 ? 2 : 3;
    const char *best = NULL;
    int bestd = cap + 1;
    for (int i = 0; i < n; i++) {
        if (!cands[i] || strcmp(cands[i], name) == 0) continue;
        int d = lower_eq(cands[i], name) ? 0 : edit_distance(name, cands[i], cap);
        if (d < bestd) { bestd = d; best = cands[i]; }
    }
    return best;
}

const char *suggest_name(lang_session *s, const char *name)
{
    int n = 0, cap = s->ng + reg_builtin_count() + reg_type_count() + 16;
    const char **c = malloc((size_t)cap * sizeof *c);
    if (!c) return NULL;
    for (int k = 0; k < s->ng; k++)
        if (s->g[k].defined) c[n++] = s->g[k].name;
    for (int i = 0; i < reg_builtin_count(); i++) c[n++] = reg_builtin_at(i)->name;
    for (int i = 0; i < reg_type_count(); i++) c[n++] = reg_type_at(i)->name;
    for (int i = 0; lex_keywords[i] && n < cap; i++) c[n++] = lex_keywords[i];
    const char *r = suggest(name, c, n);
    free(c);
    return r;
}
