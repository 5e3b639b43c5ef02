/*
 * golden.c - runs a golden cell file and compares what each cell did with
 * the expectations written inside it.
 *
 * A golden file is a file of cells for `hellodl run`: a line starting with
 * "//--- cell" begins a new cell. Expectations are comment lines inside a
 * cell, so the file also runs as is:
 *
 *     //> text      a line the cell writes to stdout (all of them, in order);
 *                   displays appear as "[display MIME...] TEXT", clears as
 *                   "[clear_output]"
 *     //~> regex    a stdout line matched whole by a POSIX extended regex
 *                   (for figures that vary: timings, memory)
 *     //2> text     a line the cell writes to stderr (all of them, in order)
 *     //= text      the cell's result (text/plain); none means no result
 *     //! E: msg    the cell fails with ename E and evalue msg
 *     //| text      a traceback line (ANSI removed, trimmed), in order among
 *                   the traceback's lines
 *     //< text      a line that input() will read
 *
 * Directives (lines anywhere in the file) skip the whole file with exit
 * status 77 and a reason, for cells that need what a checkout lacks:
 *
 *     //@requires-data PATH...  each PATH (e.g. hello-world-deep-learning-siim)
 *                   must exist under a directory of HELLODL_DATA_PATH
 *     //@slow       heavy (real training): skipped when HELLODL_SLOW_TESTS=0
 *
 * With --fake-keras, stand-ins for the runtime's types and builtins are
 * registered first (fake_keras.c), for the module-shaped files. With
 * --magics, the magics (magics/) are installed in the session, for the
 * magics*.dl files (and the kernel's cell-end hook runs after each cell, as
 * in the kernel: GPU recovery and checkpoints); elsewhere a '%' line stays
 * the "not available" error.
 * A cell without "//!" must succeed. Prints every mismatch; exit status 1
 * if there was one.
 */
#include "gpu_session.h"
#include "lang.h"
#include "magics.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct buf { char *p; size_t n, cap; } buf;

static void buf_add(buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void buf_adds(buf *b, const char *s) { buf_add(b, s, strlen(s)); }

typedef struct capture { buf out, err; char **inputs; int ninputs, next_input; } capture;

static void cap_stream(void *ctx, const char *name, const char *text, size_t len)
{
    capture *c = ctx;
    buf_add(strcmp(name, "stderr") == 0 ? &c->err : &c->out, text, len);
}

static void cap_display(void *ctx, const lang_bundle *b, const char *id, bool update)
{
    capture *c = ctx;
    (void)id;
    if (c->out.n && c->out.p[c->out.n - 1] != '\n') buf_adds(&c->out, "\n");
    buf_adds(&c->out, update ? "[update_display" : "[display");
    const char *text = "";
    size_t tlen = 0;
    for (int i = 0; i < b->n; i++) {
        buf_adds(&c->out, " ");
        buf_adds(&c->out, b->items[i].mime);
        if (strcmp(b->items[i].mime, "text/plain") == 0) {
            text = b->items[i].data;
            tlen = b->items[i].len;
        }
    }
    buf_adds(&c->out, "] ");
    buf_add(&c->out, text, tlen);
    buf_adds(&c->out, "\n");
}

static void cap_clear(void *ctx, bool wait)
{
    capture *c = ctx;
    buf_adds(&c->out, wait ? "[clear_output wait]\n" : "[clear_output]\n");
}

static char *cap_input(void *ctx, const char *prompt, bool password, const char **why)
{
    capture *c = ctx;
    if (c->next_input >= c->ninputs) { *why = "no input was given"; return NULL; }
    buf_adds(&c->out, prompt);
    if (password) buf_adds(&c->out, "[password]");
    buf_adds(&c->out, "\n");
    return strdup(c->inputs[c->next_input++]);
}

static void strip_ansi(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\x1b' && r[1] == '[') {
            r += 2;
            while (*r && *r != 'm') r++;
            if (!*r) break;
            continue;
        }
        *w++ = *r;
    }
    *w = 0;
}

static char *trim(char *s)
{
    while (*s == ' ') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

/* Expectations of one cell. */
typedef struct expect { buf out, err; char *value, *error; char *tb[64]; int ntb; } expect;

static void parse_expect(char *cell, expect *e, capture *c)
{
    for (char *line = cell; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        char *l = strndup(line, n);
        char *t = l;
        while (*t == ' ' || *t == '\t') t++;
        if (strncmp(t, "//~> ", 5) == 0) {
            buf_adds(&e->out, "\x01");       /* marks a pattern line */
            buf_adds(&e->out, t + 5);
            buf_adds(&e->out, "\n");
        } else if (strncmp(t, "//> ", 4) == 0 || strcmp(t, "//>") == 0) {
            buf_adds(&e->out, t[3] ? t + 4 : "");
            buf_adds(&e->out, "\n");
        } else if (strncmp(t, "//2> ", 5) == 0 || strcmp(t, "//2>") == 0) {
            buf_adds(&e->err, t[4] ? t + 5 : "");
            buf_adds(&e->err, "\n");
        } else if (strncmp(t, "//= ", 4) == 0) {
            free(e->value);
            e->value = strdup(t + 4);
        } else if (strncmp(t, "//! ", 4) == 0) {
            free(e->error);
            e->error = strdup(t + 4);
        } else if (strncmp(t, "//| ", 4) == 0 && e->ntb < 64) {
            e->tb[e->ntb++] = strdup(trim(t + 4));
        } else if (strncmp(t, "//< ", 4) == 0 || strcmp(t, "//<") == 0) {
            c->inputs = realloc(c->inputs, (size_t)(c->ninputs + 1) * sizeof(char *));
            c->inputs[c->ninputs++] = strdup(t[3] ? t + 4 : "");
        }
        free(l);
        line = nl ? nl + 1 : NULL;
    }
}

static int failures;

/* One stdout line against one expected line: text, or "\x01regex". */
static bool line_matches(const char *want, size_t nw, const char *got, size_t ng)
{
    if (!nw || want[0] != '\x01') return nw == ng && memcmp(want, got, nw) == 0;
    char *pat = malloc(nw + 2), *line = strndup(got, ng);
    if (!pat || !line) abort();
    snprintf(pat, nw + 2, "^%.*s$", (int)(nw - 1), want + 1);
    regex_t re;
    bool ok = regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) == 0;
    if (ok) {
        ok = regexec(&re, line, 0, NULL, 0) == 0;
        regfree(&re);
    }
    free(pat);
    free(line);
    return ok;
}

/* Whether stdout matches the expected lines, pattern lines included. */
static bool out_matches(const char *want, const char *got)
{
    for (;;) {
        const char *wn = strchr(want, '\n'), *gn = strchr(got, '\n');
        if (!wn || !gn) return !wn && !gn && strcmp(want, got) == 0;
        if (!line_matches(want, (size_t)(wn - want), got, (size_t)(gn - got))) return false;
        want = wn + 1;
        got = gn + 1;
    }
}

static void mismatch(const char *file, int cell, int line, const char *what,
                     const char *expected, const char *got)
{
    failures++;
    fprintf(stderr, "%s:%d: cell %d: %s differs\n--- expected:\n%s\n--- got:\n%s\n---\n", file,
            line, cell, what, expected ? expected : "(nothing)", got ? got : "(nothing)");
}

static bool tb_has(char **tb, int n, char **want, int nwant)
{
    int k = 0;
    for (int i = 0; i < n && k < nwant; i++) {
        char *copy = strdup(tb[i]);
        strip_ansi(copy);
        if (strcmp(trim(copy), want[k]) == 0) k++;
        free(copy);
    }
    return k == nwant;
}

static bool magics;   /* --magics: the host's cell-end hook runs too */

static void check_cell(const char *file, lang_session *s, char *cell, int number, int line)
{
    capture c = {0};
    expect e = {0};
    parse_expect(cell, &e, &c);
    lang_sink sink = { &c, cap_stream, cap_display, cap_clear, cap_input };
    lang_result r;
    bool ok = lang_exec_cell(s, cell, number, &sink, &r);
    if (magics) magics_cell_end(s, &sink, &r);
    const char *out = c.out.p ? c.out.p : "", *err = c.err.p ? c.err.p : "";
    if (c.out.n && c.out.p[c.out.n - 1] != '\n') buf_adds(&c.out, "\n"), out = c.out.p;
    if (!out_matches(e.out.p ? e.out.p : "", out)) mismatch(file, number, line, "stdout", e.out.p, out);
    if (strcmp(err, e.err.p ? e.err.p : "") != 0) mismatch(file, number, line, "stderr", e.err.p, err);
    char *value = NULL, *error = NULL;
    for (int i = 0; ok && r.has_value && i < r.value.n; i++)
        if (strcmp(r.value.items[i].mime, "text/plain") == 0)
            value = strndup(r.value.items[i].data, r.value.items[i].len);
    if (!ok) {
        size_t n = strlen(r.error.ename) + strlen(r.error.evalue) + 3;
        error = malloc(n);
        snprintf(error, n, "%s: %s", r.error.ename, r.error.evalue);
    }
    if ((value || e.value) && (!value || !e.value || strcmp(value, e.value) != 0))
        mismatch(file, number, line, "result", e.value, value);
    if ((error || e.error) && (!error || !e.error || strcmp(error, e.error) != 0)) {
        mismatch(file, number, line, "error", e.error, error);
        for (int i = 0; !ok && i < r.error.ntraceback; i++) fprintf(stderr, "  | %s\n", r.error.traceback[i]);
    }
    if (e.ntb && !tb_has(r.error.traceback, r.error.ntraceback, e.tb, e.ntb)) {
        buf got = {0};
        for (int i = 0; i < r.error.ntraceback; i++) {
            strip_ansi(r.error.traceback[i]);
            buf_adds(&got, r.error.traceback[i]);
            buf_adds(&got, "\n");
        }
        buf want = {0};
        for (int i = 0; i < e.ntb; i++) { buf_adds(&want, e.tb[i]); buf_adds(&want, "\n"); }
        mismatch(file, number, line, "traceback", want.p, got.p);
        free(got.p);
        free(want.p);
    }
    free(value);
    free(error);
    lang_result_free(&r);
    free(c.out.p); free(c.err.p); free(e.out.p); free(e.err.p); free(e.value); free(e.error);
    for (int i = 0; i < e.ntb; i++) free(e.tb[i]);
    for (int i = 0; i < c.ninputs; i++) free(c.inputs[i]);
    free(c.inputs);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    buf b = {0};
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) buf_add(&b, tmp, n);
    fclose(f);
    return b.p ? b.p : strdup("");
}

void fake_keras_register(void);
void rtb_disable(void);         /* kernel/lang/rt_bind.c: the runtime's bindings */

static bool in_data_path(const char *rel)
{
    const char *dp = getenv("HELLODL_DATA_PATH");
    while (dp && *dp) {
        const char *end = strchr(dp, ':');
        size_t n = end ? (size_t)(end - dp) : strlen(dp);
        char p[4096];
        snprintf(p, sizeof p, "%.*s/%s", (int)n, dp, rel);
        if (n && access(p, R_OK) == 0) return true;
        dp += n + (end ? 1 : 0);
    }
    return false;
}

/* Why the file must be skipped (a static message), or NULL. */
static const char *skip_reason(const char *text)
{
    static char why[600];
    const char *slow = getenv("HELLODL_SLOW_TESTS");
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, "//@slow", 7) == 0 && slow && strcmp(slow, "0") == 0)
            return "a slow file, and HELLODL_SLOW_TESTS=0";
        if (strncmp(l, "//@requires-data ", 17) != 0) continue;
        const char *p = l + 17;
        while (*p && *p != '\n') {
            size_t n = strcspn(p, " \n");
            char rel[512];
            snprintf(rel, sizeof rel, "%.*s", (int)n, p);
            if (n && !in_data_path(rel)) {
                snprintf(why, sizeof why, "%s is not in any directory of HELLODL_DATA_PATH (%s)",
                         rel, getenv("HELLODL_DATA_PATH") ? getenv("HELLODL_DATA_PATH") : "unset");
                return why;
            }
            p += n;
            while (*p == ' ') p++;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int first = 1;
    if (argc > first && strcmp(argv[first], "--magics") == 0) {
        magics = true;
        first++;
    }
    if (argc > first && strcmp(argv[first], "--fake-keras") == 0) {
        rtb_disable();               /* the stand-ins replace the runtime's types */
        fake_keras_register();
        first++;
    }
    if (argc <= first) { fprintf(stderr, "usage: golden [--magics] [--fake-keras] FILE.dl...\n"); return 2; }
    for (int a = first; a < argc; a++) {
        char *text = slurp(argv[a]);
        if (!text) { fprintf(stderr, "cannot read %s\n", argv[a]); return 2; }
        const char *why = skip_reason(text);
        if (why) {
            printf("skipped %s: %s\n", argv[a], why);
            free(text);
            return 77;
        }
        lang_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.max_call_depth = 200;
        cfg.data_path = getenv("HELLODL_DATA_PATH");
        lang_session *s = lang_session_new(&cfg);
        if (magics)
            magics_install(s);
        int number = 0, line = 1;
        char *cell = text;
        while (cell) {
            int start_line = line;
            char *next = NULL;
            for (char *p = cell; *p; p++) {
                if ((p == text || p[-1] == '\n') && strncmp(p, "//--- cell", 10) == 0) { next = p; break; }
                if (*p == '\n') line++;
            }
            if (next) {
                *next = 0;
                next = strchr(next + 1, '\n');
                if (next) { next++; line++; }
            }
            if (cell[strspn(cell, " \t\r\n")]) check_cell(argv[a], s, cell, ++number, start_line);
            cell = next;
        }
        lang_session_free(s);
        free(text);
    }
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
