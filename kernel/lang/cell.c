/*
 * cell.c - lang_exec_cell: parse, run, and fill the lang_result (the value
 * bundle, or the error with its coloured traceback).
 */
#define _GNU_SOURCE             /* pthread_getattr_np: how much C stack is left */
#include "vm.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RED "\x1b[0;31m"
#define BRED "\x1b[1;31m"
#define GREEN "\x1b[0;32m"
#define CYAN "\x1b[0;36m"
#define RESET "\x1b[0m"

static void tb_add(lang_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_add(lang_error *e, const char *fmt, ...)
{
    char buf[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **t = realloc(e->traceback, (size_t)(e->ntraceback + 1) * sizeof *t);
    if (!t) return;
    e->traceback = t;
    if ((t[e->ntraceback] = strdup(buf))) e->ntraceback++;
}

/* The source line as shown (tabs as spaces) and a caret line under `col`,
 * counting characters rather than bytes. */
static void caret_lines(lang_error *e, const char *text, int col, int len)
{
    char shown[600], pad[600];
    size_t n = 0, k = 0;
    for (const char *p = text; *p && n < sizeof shown - 1; p++)
        shown[n++] = *p == '\t' ? ' ' : *p;
    shown[n] = 0;
    for (int i = 0; i < col - 1 && text[i] && k < sizeof pad - 1; i++)
        if (((unsigned char)text[i] & 0xC0) != 0x80) pad[k++] = ' ';
    pad[k] = 0;
    char carets[64];
    int c = len < 1 ? 1 : len > 40 ? 40 : len;
    memset(carets, '^', (size_t)c);
    carets[c] = 0;
    tb_add(e, "    %s", shown);
    tb_add(e, "    %s" BRED "%s" RESET, pad, carets);
}

static void syntax_result(const parse_out *po, const code_unit *u, lang_result *out)
{
    lang_error *e = &out->error;
    char line[512];
    out->ok = false;
    e->ename = strdup("SyntaxError");
    if (po->nerrs == 1) e->evalue = strdup(po->errs[0].msg);
    else {
        char buf[600];
        snprintf(buf, sizeof buf, "%s (and %d more error%s below)", po->errs[0].msg,
                 po->nerrs - 1, po->nerrs == 2 ? "" : "s");
        e->evalue = strdup(buf);
    }
    for (int i = 0; i < po->nerrs; i++) {
        const syn_error *s = &po->errs[i];
        unit_line(u, s->line, line, sizeof line);
        tb_add(e, CYAN "Cell [%d], line %d, col %d" RESET, u->cell, s->line, s->col);
        caret_lines(e, line, s->col, s->len);
        tb_add(e, BRED "SyntaxError" RESET ": %s", s->msg);
    }
}

static void runtime_result(lang_ctx *cx, lang_result *out)
{
    lang_error *e = &out->error;
    out->ok = false;
    e->ename = strdup(cx->ename ? cx->ename : "RuntimeError");
    e->evalue = strdup(cx->evalue ? cx->evalue : "");
    tb_add(e, RED "---------------------------------------------------------------------------" RESET);
    tb_add(e, "Traceback (most recent call last):");
    for (int i = 0; i < cx->ntb; i++) {
        tb_entry *t = &cx->tb[i];
        if (t->line < 0) { tb_add(e, "  %s", t->text ? t->text : ""); continue; }
        if (t->fname)
            tb_add(e, CYAN "  Cell [%d]" RESET ", line %d, in " GREEN "%s()" RESET,
                   t->cell, t->line, t->fname);
        else
            tb_add(e, CYAN "  Cell [%d]" RESET ", line %d", t->cell, t->line);
        if (t->text) {
            const char *s = t->text;
            int skip = 0;
            while (s[skip] == ' ' || s[skip] == '\t') skip++;
            if (i == cx->ntb - 1 && t->col > skip) {
                caret_lines(e, s + skip, t->col - skip, 1);
            } else {
                tb_add(e, "    %s", s + skip);
            }
        }
    }
    tb_add(e, BRED "%s" RESET ": %s", e->ename, e->evalue);
}

static void add_mime(lang_bundle *b, const char *mime, char *data, size_t len, bool binary)
{
    if (b->n >= LANG_BUNDLE_MAX || !data) { free(data); return; }
    b->items[b->n++] = (lang_mime){ mime, data, len, binary };
}

static void value_result(lang_value v, lang_result *out)
{
    char *text = lang_value_repr(v);
    out->has_value = true;
    add_mime(&out->value, "text/plain", text, text ? strlen(text) : 0, false);
    const lang_type *t = lang_object_type(v);
    if (t && t->bundle) {
        lang_bundle extra;
        memset(&extra, 0, sizeof extra);
        t->bundle(AS_OBJ(v)->ptr, &extra);
        for (int i = 0; i < extra.n; i++)
            add_mime(&out->value, extra.items[i].mime, (char *)extra.items[i].data,
                     extra.items[i].len, extra.items[i].binary);
        if (extra.width) out->value.width = extra.width;
        if (extra.height) out->value.height = extra.height;
    }
}

/* A cell whose first line starts with "%%" belongs to the magic hook. */
static bool cell_magic(lang_session *s, const char *src, const lang_sink *sink,
                       lang_result *out)
{
    const char *p = src;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (p[0] != '%' || p[1] != '%' || !s->magic) return false;
    lang_error err;
    memset(&err, 0, sizeof err);
    int rc = s->magic(s->magic_ctx, s, p, sink, &err);
    out->ok = rc == 0;
    if (rc != 0) {
        out->error = err;
        if (!out->error.ename) out->error.ename = strdup("MagicError");
        if (!out->error.evalue) out->error.evalue = strdup("the cell magic failed");
        if (!out->error.ntraceback)
            tb_add(&out->error, BRED "%s" RESET ": %s", out->error.ename, out->error.evalue);
    } else {
        free(err.ename);
        free(err.evalue);
        for (int i = 0; i < err.ntraceback; i++) free(err.traceback[i]);
        free(err.traceback);
    }
    return true;
}

/* Runs a prepared frame's body and fills *out with its error or value. */
static void exec_frame_body(lang_ctx *cx, node *body, lang_result *out)
{
    if (exec(cx, body) == X_ERROR || cx->failed) {
        runtime_result(cx, out);
        return;
    }
    out->ok = true;
    if (cx->has_cell_value && cx->cell_value.type != LANG_NULL) value_result(cx->cell_value, out);
}

static void run_body(lang_session *s, code_unit *u, const parse_out *po,
                     const lang_sink *sink, lang_result *out)
{
    lang_ctx *cx = &s->cx;
    vm_clear_error(cx);
    cx->sink = sink;
    cx->sp = po->nslots;
    cx->fp = cx->stack;
    for (int i = 0; i < po->nslots; i++) cx->stack[i] = lang_null();
    cx->frames[0] = (frame){ NULL, u, 1, 0 };
    cx->depth = 1;
    cx->steps = 0;
    cx->max_steps = s->cfg.max_steps;
    cx->mem_limit = s->cfg.max_value_bytes;
    cx->has_cell_value = false;
    cx->cell_value = lang_null();
    cx->call_node = po->body;
    exec_frame_body(cx, po->body, out);
    for (int i = 0; i < po->nslots; i++) val_decref(cx->stack[i]);
    val_decref(cx->cell_value);
    val_decref(cx->ret);
    cx->cell_value = cx->ret = lang_null();
    cx->sp = 0;
    cx->depth = 0;
    vm_clear_error(cx);
}

/* The lowest address of the calling thread's stack, asked once per thread:
 * for the main thread glibc finds it by reading /proc/self/maps, far too
 * slow to repeat for every cell. NULL when unknown. */
static const char *stack_low(void)
{
    static _Thread_local const char *low;
    static _Thread_local bool known;
    if (!known) {
        pthread_attr_t attr;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            void *addr;
            size_t size;
            if (pthread_attr_getstack(&attr, &addr, &size) == 0)
                low = addr;
            pthread_attr_destroy(&attr);
        }
        known = true;
    }
    return low;
}

/* The C stack the evaluator and the parser may use from here: the
 * configured amount, or less when the thread has less left. */
static void stack_budget(lang_ctx *cx, const char *here, size_t wanted)
{
    size_t limit = wanted;
    const char *low = stack_low();
    if (low && here > low) {
        size_t left = (size_t)(here - low);
        size_t margin = 256 * 1024;        /* for natives and libc below us */
        if (left > margin && left - margin < limit) limit = left - margin;
        if (left <= margin) limit = left / 2;
    }
    cx->stack_base = here;
    cx->stack_limit = limit;
}

/* Runs a parsed nested body in new slots above the running cell's, as one
 * more cell frame, and puts the evaluator back as it was. A magic line only
 * runs at a cell's top level, so no expression of the cell is half done. */
static void run_nested(lang_session *s, code_unit *u, const parse_out *po,
                       const lang_sink *sink, lang_result *out)
{
    lang_ctx *cx = &s->cx;
    lang_ctx saved = *cx;
    if (cx->sp + po->nslots > cx->cap || cx->depth >= cx->max_depth) {
        out->error.ename = strdup("RecursionError");
        out->error.evalue = strdup("magics run inside each other too deeply; "
                                   "use fewer nested %time or %seed lines");
        return;
    }
    cx->sink = sink;
    cx->fp = cx->stack + cx->sp;
    for (int i = 0; i < po->nslots; i++) cx->fp[i] = lang_null();
    cx->frames[cx->depth] = (frame){ NULL, u, 1, cx->sp };
    cx->sp += po->nslots;
    cx->depth++;
    cx->has_cell_value = false;
    cx->cell_value = lang_null();
    cx->call_node = po->body;
    exec_frame_body(cx, po->body, out);
    for (int i = 0; i < po->nslots; i++) val_decref(saved.stack[saved.sp + i]);
    val_decref(cx->cell_value);
    vm_clear_error(cx);
    cx->sink = saved.sink;
    cx->fp = saved.fp;
    cx->sp = saved.sp;
    cx->depth = saved.depth;
    cx->has_cell_value = saved.has_cell_value;
    cx->cell_value = saved.cell_value;
    cx->call_node = saved.call_node;
}

/* Parses src as cell `cell_number` and runs it, as the cell or (`nested`)
 * inside the running one; fills *out and returns out->ok. */
static bool run_source(lang_session *s, const char *src, int cell_number, bool nested,
                       const lang_sink *sink, lang_result *out)
{
    code_unit *u = unit_new(src, cell_number);
    if (!u) {
        out->error.ename = strdup("MemoryError");
        out->error.evalue = strdup("out of memory");
        return false;
    }
    parse_out po;
    parse_cell(s, u, s->magic != NULL, &po);
    if (po.nerrs) syntax_result(&po, u, out);
    else if (nested) run_nested(s, u, &po, sink, out);
    else run_body(s, u, &po, sink, out);
    parse_out_free(&po);
    unit_release(u);
    return out->ok;
}

bool lang_exec_cell(lang_session *s, const char *src, int cell_number,
                    const lang_sink *sink, lang_result *out)
{
    char here = 0;
    memset(out, 0, sizeof *out);
    stack_budget(&s->cx, &here, s->cfg.max_stack_bytes);
    /* The interrupt flag is the caller's to clear before the cell (the kernel
     * does it before publishing execute_input): clearing it here would lose an
     * interrupt sent the moment the frontend saw the cell start. */
    if (!src) src = "";
    s->cell = cell_number;
    if (cell_magic(s, src, sink, out)) return out->ok;
    return run_source(s, src, cell_number, false, sink, out);
}

bool lang_exec_nested(lang_session *s, const char *src, const lang_sink *sink,
                      lang_result *out)
{
    memset(out, 0, sizeof *out);
    /* from a cell magic, nothing of the cell runs yet: run it as the cell */
    return run_source(s, src ? src : "", s->cell, s->cx.depth != 0, sink, out);
}

void lang_result_free(lang_result *r)
{
    if (!r) return;
    for (int i = 0; i < r->value.n; i++) free((void *)r->value.items[i].data);
    free(r->error.ename);
    free(r->error.evalue);
    for (int i = 0; i < r->error.ntraceback; i++) free(r->error.traceback[i]);
    free(r->error.traceback);
    memset(r, 0, sizeof *r);
}
