/*
 * runner.c - `hellodl run FILE.dl`: the cells of a file, in a terminal,
 * through the same evaluator as the kernel.
 *
 * A file of cells is plain source in which a line starting with
 * "//--- cell" begins a new cell (the marker is a comment, so a file with
 * one cell needs none). Results print as "Out[N]: ...", errors as their
 * traceback on stderr (coloured only when stderr is a terminal).
 */
#include "lang.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CELL_MARKER "//--- cell"

static void stdio_stream(void *ctx, const char *name, const char *text, size_t len)
{
    (void)ctx;
    FILE *f = strcmp(name, "stderr") == 0 ? stderr : stdout;
    fwrite(text, 1, len, f);
    fflush(f);
}

static void stdio_display(void *ctx, const lang_bundle *b, const char *id, bool update)
{
    (void)ctx; (void)id; (void)update;
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->items[i].mime, "text/plain") == 0) {
            fwrite(b->items[i].data, 1, b->items[i].len, stdout);
            fputc('\n', stdout);
            return;
        }
    if (b->n) printf("<%s, %zu bytes>\n", b->items[0].mime, b->items[0].len);
}

static char *stdio_input(void *ctx, const char *prompt, bool password, const char **why)
{
    (void)ctx; (void)password;
    fputs(prompt, stdout);
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        *why = "the end of the input was reached";
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n') line[n - 1] = 0;
    return line;
}

static const lang_sink stdio_sink = {
    NULL, stdio_stream, stdio_display, NULL, stdio_input
};

const lang_sink *lang_stdio_sink(void) { return &stdio_sink; }

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (cap - n < 2) {
            char *b2 = realloc(buf, cap * 2);
            if (!b2) { free(buf); buf = NULL; break; }
            buf = b2;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

/* Removes ANSI colour sequences in place. */
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

typedef void (*cell_end_fn)(lang_session *, const lang_sink *, const lang_result *);

static bool run_one(lang_session *s, const char *src, int number, bool echo,
                    cell_end_fn cell_end)
{
    lang_result r;
    if (echo) printf("In [%d]:\n%s\n", number, src);
    lang_interrupt_clear();
    bool ok = lang_exec_cell(s, src, number, &stdio_sink, &r);
    if (ok && r.has_value)
        for (int i = 0; i < r.value.n; i++)
            if (strcmp(r.value.items[i].mime, "text/plain") == 0)
                printf("Out[%d]: %.*s\n", number, (int)r.value.items[i].len, r.value.items[i].data);
    fflush(stdout);
    if (!ok) {
        bool colour = isatty(2);
        for (int i = 0; i < r.error.ntraceback; i++) {
            if (!colour) strip_ansi(r.error.traceback[i]);
            fprintf(stderr, "%s\n", r.error.traceback[i]);
        }
    }
    if (cell_end)
        cell_end(s, &stdio_sink, &r);
    fflush(stdout);
    lang_result_free(&r);
    return ok;
}

int lang_run_file(const char *path, bool echo, void (*setup)(lang_session *s),
                  cell_end_fn cell_end)
{
    char *text = read_file(path);
    if (!text) { fprintf(stderr, "hellodl: cannot read %s\n", path); return 2; }
    lang_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.data_path = getenv("HELLODL_DATA_PATH");
    lang_session *s = lang_session_new(&cfg);
    if (!s) { free(text); return 2; }
    if (setup) setup(s);
    int failed = 0, number = 0;
    char *cell = text;
    while (cell) {
        char *next = NULL;
        for (char *p = cell; (p = strstr(p, CELL_MARKER)); p++)
            if (p == text || p[-1] == '\n') { next = p; break; }
        if (next) {
            next[0] = 0;
            next = strchr(next + 1, '\n');
            if (next) next++;
        }
        if (cell[strspn(cell, " \t\r\n")]) failed += !run_one(s, cell, ++number, echo, cell_end);
        cell = next;
    }
    lang_session_free(s);
    free(text);
    return failed ? 1 : 0;
}
