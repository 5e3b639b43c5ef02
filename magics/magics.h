/*
 * magics.h - the `%` commands: one file per magic, one table that lists them.
 *
 * A line that starts with `%name` runs the line magic `name` with the rest of
 * the line as its arguments; a cell whose first line is `%%name ...` runs the
 * cell magic with the arguments and the cell's remaining lines as its body;
 * `%name?` shows the magic's help; `!command` runs a shell command (the
 * magic named "!"). Unknown names are errors that suggest the nearest one.
 *
 * magics_install hooks all of this into a language session (the kernel and
 * `hellodl run` both call it). A magic reports output through the sink and
 * failure by filling `err` (magic_error does it) and returning false; the
 * session survives either way.
 */
#ifndef HELLODL_MAGICS_H
#define HELLODL_MAGICS_H

#include <stdbool.h>
#include <stddef.h>

#include "bind.h"
#include "lang.h"

typedef struct magic_ctx {
    lang_session *session;
    const lang_sink *sink;
    lang_error *err;
} magic_ctx;

typedef struct magic_def {
    const char *name;        /* "group"; "!" for shell commands */
    const char *usage;       /* one line: "%group FACTOR: ARM ARM ... [--by-user]" */
    const char *help;        /* a paragraph for `%group?` */
    /* Line form: body is NULL. Cell form (`%%name`): body is the rest of the
     * cell; `cell` says whether the magic accepts that form. */
    bool (*run)(magic_ctx *mx, const char *args, const char *body);
    bool line, cell;
} magic_def;

/* Hooks the magics into s: `%` and `!` lines, and their names for completion. */
void magics_install(lang_session *s);

/* The table, ending with NULL; and a look-up by name. */
const magic_def *const *magics_table(void);
const magic_def *magics_find(const char *name);

/* Fill mx->err with ename and a message (printf-style) and return false:
 * `return magic_error(mx, "ValueError", "...", ...);`. */
bool magic_error(magic_ctx *mx, const char *ename, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "12.3 MB" / "1.20 GB" / "4.0 KB" (decimal units) into buf; returns buf. */
const char *magic_bytes_text(double bytes, char *buf, size_t cap);

/* The folder of the running executable into out; false when unknown. */
bool magics_exe_dir(char *out, size_t n);

/* Settings a host (kernelspec env) may turn off: false when the variable
 * `setting` is 0, false or no (HELLODL_ALLOW_SHELL=0). */
bool magics_allowed(const char *setting);
bool magics_shell_allowed(void);

#endif
