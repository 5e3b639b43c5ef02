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

typedef struct lang_session lang_session;

typedef struct lang_config {
    size_t max_value_bytes;   /* cap on memory held by language values; 0 = default */
    int max_call_depth;       /* recursion limit; 0 = default */
    const char *data_path;    /* HELLODL_DATA_PATH-like search path, may be NULL */
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
 * between batches) and turns into a KeyboardInterrupt error. */
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

#endif
