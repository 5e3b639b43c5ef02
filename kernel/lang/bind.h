/*
 * bind.h - how the runtime and the magics extend the cell language.
 *
 * Values. A lang_value is a small tagged union passed by value. Scalars (null,
 * bool, int, float) own nothing; strings, lists, functions and objects point
 * at a refcounted heap block. Every function below that returns a lang_value
 * says whether it is a "new reference" (the caller must lang_value_decref it
 * or hand it on) or "borrowed" (valid while its container lives).
 *
 * Objects. The runtime wraps its own things (tensor, image, model, layer,
 * generator, history, optimizer...) as opaque objects of a registered
 * lang_type: a name that is also the declaration keyword (`model m = ...;`),
 * a free function, printing (text/plain and richer mimebundles), an optional
 * sequence protocol (len, x[i], range-for), a method table and a property
 * table. The language frees the object through the type when the last
 * reference goes.
 *
 * Functions. Builtins and methods are native functions registered with a
 * C-like signature string, e.g.
 *     "layer Dense(int units, string activation = \"linear\", bool use_bias = true)"
 * The language parses the signature once, matches positional and named
 * arguments against it (unknown and duplicate names are errors that list
 * the accepted ones), fills defaults, checks and converts types (int widens
 * to float; a parameter whose default is null also accepts null), and then
 * calls the native with exactly one value per parameter, followed by the
 * extra values of a trailing "..." parameter. The same signature and doc
 * string feed completion, Shift+Tab inspection and error messages.
 *
 * Registration is process-wide and happens before sessions run cells (the
 * runtime's init); names are borrowed and must stay valid (string literals).
 */
#ifndef HELLODL_BIND_H
#define HELLODL_BIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sink.h"

typedef enum lang_vtype {
    LANG_NULL, LANG_BOOL, LANG_INT, LANG_FLOAT,   /* scalars */
    LANG_STR, LANG_LIST, LANG_FUNC, LANG_OBJ      /* refcounted */
} lang_vtype;

typedef struct lang_obj lang_obj;          /* refcounted heap header */

typedef struct lang_value {
    lang_vtype type;
    union { bool b; int64_t i; double f; lang_obj *o; } as;
} lang_value;

/* The running evaluator, handed to every native function. */
typedef struct lang_ctx lang_ctx;
typedef struct lang_session lang_session;

/* A native function or method. `self` is the receiver of a method call and
 * null for a plain builtin. `args` holds one value per declared parameter
 * (borrowed), then the variadic extras. Store a new reference in *ret (it
 * starts as null). Return true, or return lang_raise(...). */
typedef bool (*lang_native_fn)(lang_ctx *cx, lang_value self,
                               const lang_value *args, int nargs, lang_value *ret);

typedef struct lang_method {
    const char *signature;       /* "void add(layer l)"; NULL ends the table */
    lang_native_fn fn;
    const char *doc;
} lang_method;

typedef struct lang_property {
    const char *name;            /* NULL ends the table */
    const char *type;            /* for inspect and completion: "bool", "list" */
    bool (*get)(lang_ctx *cx, lang_value self, lang_value *ret);
    bool (*set)(lang_ctx *cx, lang_value self, lang_value v);   /* NULL: read-only */
    const char *doc;
} lang_property;

typedef struct lang_type {
    const char *name;            /* "tensor"; also usable as a declaration type */
    const char *doc;
    void (*free)(void *ptr);     /* called once when the last reference goes */
    /* text/plain as print() and results show it; new malloc'd string.
     * NULL hook: "<name>". */
    char *(*repr)(void *ptr);
    /* Richer representations for a cell result or display(): add items to
     * `b` (mime static, data malloc'd, the caller frees it). May be NULL. */
    void (*bundle)(void *ptr, lang_bundle *b);
    /* One line for inspect: "tensor (8, 299, 299, 3)". May be NULL. */
    char *(*summary)(void *ptr);
    /* Sequence protocol for len(), x[i] and range-for; NULL if none. */
    int64_t (*length)(void *ptr);
    bool (*item)(lang_ctx *cx, void *ptr, int64_t i, lang_value *ret);
    const lang_method *methods;
    const lang_property *properties;
    /* Arithmetic and comparison with an object of this type on either side
     * (`img / 255.0`, `a + b`): op is "+", "-", "*", "/", "%", "<", "<=",
     * ">", ">=" (== and != compare identity unless this handles them too:
     * return false without raising to fall back). NULL: a TypeError. */
    bool (*binary)(lang_ctx *cx, const char *op, lang_value a, lang_value b, lang_value *ret);
} lang_type;

/* Registration (process-wide; before cells run). Return false with a message
 * on stderr when the signature does not parse or the name is taken. */
bool lang_type_register(const lang_type *t);
bool lang_builtin_register(const char *signature, lang_native_fn fn, const char *doc);

/* Errors: record an error for the current call and return false, so that a
 * native can `return lang_raise(cx, "ValueError", "... got %lld", n);`. */
bool lang_raise(lang_ctx *cx, const char *ename, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What a native may reach. All borrowed. */
const lang_sink *lang_ctx_sink(lang_ctx *cx);
lang_session *lang_ctx_session(lang_ctx *cx);
const char *lang_ctx_data_path(lang_ctx *cx);   /* the config's, else $HELLODL_DATA_PATH */
/* A file or directory as given, or else under the first directory of the
 * data path that has it: writes the path to open into out and returns true;
 * false (out = path) when it exists nowhere. */
bool lang_ctx_find_file(lang_ctx *cx, const char *path, char *out, size_t cap);

/* Scalars. */
static inline lang_value lang_null(void) { lang_value v; v.type = LANG_NULL; v.as.i = 0; return v; }
static inline lang_value lang_bool(bool b) { lang_value v; v.type = LANG_BOOL; v.as.i = 0; v.as.b = b; return v; }
static inline lang_value lang_int(int64_t i) { lang_value v; v.type = LANG_INT; v.as.i = i; return v; }
static inline lang_value lang_float(double f) { lang_value v; v.type = LANG_FLOAT; v.as.f = f; return v; }

/* Refcounting; both accept scalars and do nothing for them. */
void lang_value_incref(lang_value v);
void lang_value_decref(lang_value v);

/* Strings (immutable, NUL-terminated, may hold any bytes). */
lang_value lang_string_new(const char *s, size_t len);        /* new reference */
lang_value lang_string_from(const char *cstr);                /* new reference */
const char *lang_string_cstr(lang_value v);                   /* borrowed; "" if not a string */
size_t lang_string_len(lang_value v);

/* Lists (mutable, reference semantics). */
lang_value lang_list_new(size_t capacity);                    /* new reference */
bool lang_list_push(lang_value list, lang_value item);        /* steals item */
size_t lang_list_len(lang_value list);
lang_value lang_list_get(lang_value list, size_t i);          /* borrowed */

/* Objects of a registered type. `bytes` counts toward the session's value
 * memory; 0 if the runtime accounts for it elsewhere. */
lang_value lang_object_new(const lang_type *t, void *ptr, size_t bytes); /* new ref */
void *lang_object_ptr(lang_value v, const lang_type *t);      /* NULL if not a t */
const lang_type *lang_object_type(lang_value v);              /* NULL if not an object */

/* Printing: the text print() writes, and the quoted form a result shows.
 * New malloc'd strings. */
char *lang_value_str(lang_value v);
char *lang_value_repr(lang_value v);
const char *lang_value_type_name(lang_value v);               /* static */

#endif
