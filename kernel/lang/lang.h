/*
 * lang.h - the cell language's whole interface to its callers.
 *
 * A lang_session holds the globals (variables, functions, runtime objects)
 * of one kernel session; they survive every error. lang_exec_cell runs one
 * cell against a session and reports what it produced through the sink and
 * through a lang_result that the caller owns and frees with lang_result_free.
 * Nothing here includes zmq.h or jansson.h.
 */
#ifndef HELLODL_LANG_H
#define HELLODL_LANG_H

#include <stdbool.h>
#include <stddef.h>
#include "sink.h"
#include "bind.h"   /* values and the binding interface (an addition) */

typedef struct lang_session lang_session;

typedef struct lang_config {
    size_t max_value_bytes;   /* cap on memory held by language values; 0 = default */
    int max_call_depth;       /* recursion limit; 0 = default */
    const char *data_path;    /* HELLODL_DATA_PATH-like search path, may be NULL */
    /* Added after the first version (zero-initialise the struct): */
    unsigned long long max_steps;  /* loop iterations + calls per cell; 0 = unlimited */
    size_t max_string_bytes;  /* longest string; 0 = default (64 MiB) */
    size_t max_list_items;    /* longest list; 0 = default (16 M items) */
    size_t max_stack_bytes;   /* C stack the evaluator may use; 0 = default (4 MiB) */
} lang_config;

/* A Jupyter-shaped error: ename, evalue, and traceback lines (ANSI colours
 * allowed). All strings are owned by the lang_result. */
typedef struct lang_error {
    char *ename;
    char *evalue;
    char **traceback;
    int ntraceback;
} lang_error;

typedef struct lang_result {
    bool ok;               /* false: `error` is set */
    bool has_value;        /* the cell ended in an expression without ';' */
    lang_bundle value;     /* its mimebundle; data owned by the result */
    lang_error error;
} lang_result;

lang_session *lang_session_new(const lang_config *cfg);   /* NULL on OOM */
void lang_session_free(lang_session *s);

/* Run one cell. `cell_number` names the cell in tracebacks ("Cell [3]").
 * Always fills *out; returns out->ok. */
bool lang_exec_cell(lang_session *s, const char *src, int cell_number,
                    const lang_sink *sink, lang_result *out);
void lang_result_free(lang_result *r);

/* Interrupts. lang_interrupt() is async-signal-safe: it sets one atomic flag
 * that the evaluator polls at loop back-edges and calls (and the runtime
 * between batches) and turns into a KeyboardInterrupt error, which consumes
 * it. A caller clears stale interrupts with lang_interrupt_clear() before it
 * announces a cell; lang_exec_cell never clears the flag itself, so an
 * interrupt sent as soon as the cell was announced is not lost. */
void lang_interrupt(void);
bool lang_interrupted(void);       /* polled by long-running builtins */
void lang_interrupt_clear(void);

/* is_complete: "complete", "incomplete" (with *indent set to a static
 * suggestion such as "    "), or "invalid". */
const char *lang_is_complete(const char *src, const char **indent);

/* Completion at byte offset `cursor` in `src`. Matches are new strings;
 * free with lang_completion_free. [*start, *end) is the byte range replaced. */
typedef struct lang_completion {
    char **matches;
    char **types;          /* per match: "variable", "function", "keyword", ... */
    int n;
    size_t start, end;
} lang_completion;
void lang_complete(lang_session *s, const char *src, size_t cursor, lang_completion *out);
void lang_completion_free(lang_completion *c);

/* Inspection (Shift+Tab) of the name around byte offset `cursor`. Returns a
 * new plain-text string, or NULL when there is nothing to say. */
char *lang_inspect(lang_session *s, const char *src, size_t cursor, int detail_level);

/* ---- additions ---- */

/* Magics. A hook registered here receives every line of a cell whose first
 * non-blank character is '%' or '!' (at a statement's start, top level;
 * a trailing " // comment" is stripped), in order with the code around it,
 * and the whole cell when its first line starts with "%%". It returns 0 on
 * success, or non-zero with *err filled (strings malloc'd; ename and evalue
 * at least; the language frees them). Without a hook such lines are the
 * syntax error "magics are not available yet". */
typedef int (*lang_magic_hook)(void *ctx, lang_session *s, const char *line,
                               const lang_sink *sink, lang_error *err);
void lang_set_magic_hook(lang_session *s, lang_magic_hook hook, void *ctx);
/* Names offered by completion after a '%' at the start of a line
 * ("mount", "group", ...); borrowed, must outlive the session. */
void lang_set_magic_names(lang_session *s, const char *const *names, int n);
/* Runs `src` from inside a magic, as part of the cell that is running (for
 * %time and %%time): its declarations are globals, its tracebacks name that
 * cell, and a final expression without ';' becomes out->value. Safe from a
 * line magic (the evaluator's frame is saved around it) and from a cell
 * magic (nothing of the cell runs yet). Fills *out like lang_exec_cell;
 * returns out->ok. */
bool lang_exec_nested(lang_session *s, const char *src, const lang_sink *sink,
                      lang_result *out);
/* Bytes held by language values (strings, lists, objects' counted bytes),
 * process-wide; for %memory. */
size_t lang_value_memory(void);

/* Globals, for magics (%mount sets `path`, %who lists, %reset clears).
 * lang_global_set takes a new reference to v (the caller keeps its own)
 * and declares the name `auto`; lang_global_get returns a borrowed value
 * or NULL. Names are listed in definition order; the array is malloc'd,
 * the names borrowed. */
bool lang_global_set(lang_session *s, const char *name, lang_value v);
const lang_value *lang_global_get(lang_session *s, const char *name);
const char **lang_global_names(lang_session *s, int *n);
void lang_session_reset(lang_session *s);       /* drops every global */

/* Runs a file of cells in a terminal: cells are separated by lines that
 * start with "//--- cell" (the rest of the line is ignored). Outputs go to
 * stdout/stderr, results are printed as "Out[N]: ...", errors as their
 * traceback; `echo` prints each cell's source first. Returns 0 when every
 * cell ran without error, 1 otherwise (2 when the file cannot be read).
 * `setup`, when not NULL, is called on the new session first (the command
 * line installs the magics with it); `cell_end`, when not NULL, after every
 * cell with its result, as the kernel does at a cell's end (GPU recovery and
 * checkpoints). */
int lang_run_file(const char *path, bool echo, void (*setup)(lang_session *s),
                  void (*cell_end)(lang_session *s, const lang_sink *sink,
                                   const lang_result *r));

/* A sink that writes streams to stdout/stderr, shows displays as a line of
 * text, and reads input from stdin. Static; never freed. */
const lang_sink *lang_stdio_sink(void);

/* The nearest of `choices` to `name` by edit distance, or NULL when none is
 * close enough to suggest (borrowed from choices). */
const char *lang_suggest(const char *name, const char *const *choices, int n);

/* The binding interface (types, builtins, values) is in bind.h. */

#endif
