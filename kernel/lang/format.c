/*
 * format.c - printf's format strings, checked against the values at run
 * time: %d %i (int or bool), %f %F %g %G %e %E (numbers), %s (anything, as
 * print shows it), %c (an int or a one-character string), %%; flags
 * "-+ 0#", a width and a .precision, each up to 100.
 */
#include "vm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *format_values(lang_ctx *cx, const char *fmt, const lang_value *args, int nargs,
                    int *used);

static bool conv_error(lang_ctx *cx, int index, char conv, lang_value v)
{
    return lang_raise(cx, "TypeError", "printf: %%%c (value %d) expects %s, got %s", conv,
                      index + 1, conv == 's' ? "a value" :
                      (conv == 'd' || conv == 'i') ? "an int" :
                      conv == 'c' ? "an int or a one-character string" : "a number",
                      lang_value_type_name(v));
}

/* Formats one conversion `spec` (like "%-8.3f") of value v into b. */
static bool format_one(lang_ctx *cx, strbuf *b, const char *spec, char conv, lang_value v,
                       int index)
{
    char f[40];
    snprintf(f, sizeof f, "%s", spec);
    size_t n = strlen(f);
    switch (conv) {
    case 'd': case 'i':
        if (v.type == LANG_BOOL) v = lang_int(v.as.b);
        if (v.type != LANG_INT) return conv_error(cx, index, conv, v);
        f[n - 1] = 0;
        snprintf(f + strlen(f), sizeof f - strlen(f), "lld");
        sb_printf(b, f, (long long)v.as.i);
        return true;
    case 'f': case 'F': case 'g': case 'G': case 'e': case 'E':
        if (v.type == LANG_INT) v = lang_float((double)v.as.i);
        if (v.type != LANG_FLOAT) return conv_error(cx, index, conv, v);
        sb_printf(b, f, v.as.f);
        return true;
    case 'c':
        if (v.type == LANG_STR && AS_STR(v)->len == 1) v = lang_int((unsigned char)AS_STR(v)->data[0]);
        if (v.type != LANG_INT || v.as.i < 0 || v.as.i > 255) return conv_error(cx, index, conv, v);
        sb_printf(b, f, (int)v.as.i);
        return true;
    default: {
        char *s = lang_value_str(v);
        if (!s) return lang_raise(cx, "MemoryError", "out of memory");
        sb_printf(b, f, s);
        free(s);
        return true;
    }
    }
}

/* Parses "%[flags][width][.prec]conv" at fmt; returns its length or 0. */
static size_t parse_spec(lang_ctx *cx, const char *fmt, char *spec, char *conv)
{
    size_t i = 1;
    while (fmt[i] && strchr("-+ 0#", fmt[i]) && i < 8) i++;
    int width = 0, prec = 0;
    while (fmt[i] >= '0' && fmt[i] <= '9' && width <= 1000) width = width * 10 + (fmt[i++] - '0');
    if (fmt[i] == '.') {
        i++;
        while (fmt[i] >= '0' && fmt[i] <= '9' && prec <= 1000) prec = prec * 10 + (fmt[i++] - '0');
    }
    if (width > 100 || prec > 100) {
        lang_raise(cx, "ValueError", "printf: width and precision must be at most 100");
        return 0;
    }
    if (fmt[i] == 'l') {
        lang_raise(cx, "ValueError", "printf: write %%d, not %%l...: every int is 64-bit");
        return 0;
    }
    if (!fmt[i] || !strchr("difFgGeEsc", fmt[i])) {
        if (fmt[i] == '*')
            lang_raise(cx, "ValueError", "printf: '*' widths are not supported; write the number");
        else if (fmt[i])
            lang_raise(cx, "ValueError", "printf: unknown conversion '%%%c' (use %%d %%i %%f %%g "
                       "%%e %%s or %%%%)", fmt[i]);
        else
            lang_raise(cx, "ValueError", "printf: the format ends in the middle of a '%%' conversion");
        return 0;
    }
    *conv = fmt[i];
    memcpy(spec, fmt, i + 1);
    spec[i + 1] = 0;
    return i + 1;
}

char *format_values(lang_ctx *cx, const char *fmt, const lang_value *args, int nargs, int *used)
{
    strbuf b = {0};
    int k = 0;
    for (const char *p = fmt; *p;) {
        if (*p != '%') {
            const char *q = strchr(p, '%');
            size_t n = q ? (size_t)(q - p) : strlen(p);
            sb_add(&b, p, n);
            p += n;
            continue;
        }
        if (p[1] == '%') { sb_add(&b, "%", 1); p += 2; continue; }
        char spec[40], conv;
        size_t n = parse_spec(cx, p, spec, &conv);
        if (!n) { free(b.p); return NULL; }
        if (k >= nargs) {
            int total = k + 1;
            for (const char *q = p + n; (q = strchr(q, '%')); q++) {
                if (q[1] == '%') { q++; continue; }
                total++;
            }
            lang_raise(cx, "TypeError", "printf: the format has %d conversion%s but %d value%s "
                       "given", total, total == 1 ? "" : "s", nargs, nargs == 1 ? " was" : "s were");
            free(b.p);
            return NULL;
        }
        if (!format_one(cx, &b, spec, conv, args[k], k)) { free(b.p); return NULL; }
        k++;
        p += n;
    }
    *used = k;
    if (b.oom) { free(b.p); lang_raise(cx, "MemoryError", "out of memory"); return NULL; }
    return b.p ? b.p : strdup("");
}
