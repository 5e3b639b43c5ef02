/*
 * registry.c - the process-wide table of builtin functions and value types
 * (with their methods), filled once before cells run. Everything here
 * lives until the process ends.
 */
#include "vm.h"
#include "rt_bind.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct type_entry {
    const lang_type *t;
    proto **methods;
    int nmethods;
} type_entry;

static lang_value *builtins;          /* LANG_FUNC values */
static int nbuiltins, cbuiltins;
static type_entry *types;
static int ntypes, ctypes;
static code_unit *sig_unit;           /* owns every parsed signature */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool initialising;
static bool unresolved;               /* signatures name types not yet looked up */

static void resolve_type(ltype *t, const char *name, const char *where)
{
    if (!name || t->obj) return;
    t->obj = reg_type(name, strlen(name));
    if (!t->obj) {
        fprintf(stderr, "hellodl: %s: unknown type '%s' (taken as any)\n", where, name);
        *t = (ltype){ TY_AUTO, NULL };
    }
}

static void resolve_proto(proto *p)
{
    if (p->ret.tag == TY_OBJ) resolve_type(&p->ret, p->ret_tyname, p->name);
    for (int i = 0; i < p->nparams; i++)
        if (p->params[i].ty.tag == TY_OBJ) resolve_type(&p->params[i].ty, p->params[i].tyname, p->name);
}

/* Types may be registered after the signatures that name them: they are
 * looked up by name the first time the registry is read. */
static void resolve_all(void)
{
    if (!unresolved) return;
    unresolved = false;
    for (int i = 0; i < nbuiltins; i++) resolve_proto(AS_FUNC(builtins[i])->p);
    for (int i = 0; i < ntypes; i++)
        for (int k = 0; k < types[i].nmethods; k++) resolve_proto(types[i].methods[k]);
}

static proto *parse_native(const char *sig, lang_native_fn fn, const char *doc)
{
    char err[200];
    if (!sig_unit && !(sig_unit = unit_new("", 0))) return NULL;
    proto *p = parse_signature(sig_unit, sig, err, sizeof err);
    if (!p) {
        fprintf(stderr, "hellodl: bad signature \"%s\": %s\n", sig, err);
        return NULL;
    }
    p->native = fn;
    p->doc = doc;
    unresolved = true;
    return p;
}

static void init_core(void)
{
    initialising = true;
    methods_register();
    builtins_register();
    rtb_register();                   /* the runtime's bindings (rt_bind.c) */
    initialising = false;
}

void reg_init(void)
{
    pthread_once(&once, init_core);
}

static type_entry *find_type_entry(const lang_type *t)
{
    for (int i = 0; i < ntypes; i++)
        if (types[i].t == t) return &types[i];
    return NULL;
}

bool lang_type_register(const lang_type *t)
{
    if (!initialising) reg_init();
    if (!t || !t->name || reg_type(t->name, strlen(t->name)) || find_type_entry(t)) {
        fprintf(stderr, "hellodl: type '%s' registered twice\n", t && t->name ? t->name : "?");
        return false;
    }
    if (ntypes == ctypes) {
        int c = ctypes ? ctypes * 2 : 16;
        type_entry *n = realloc(types, (size_t)c * sizeof *n);
        if (!n) return false;
        types = n;
        ctypes = c;
    }
    type_entry *e = &types[ntypes];
    memset(e, 0, sizeof *e);
    e->t = t;
    int count = 0;
    for (const lang_method *m = t->methods; m && m->signature; m++) count++;
    e->methods = calloc((size_t)(count ? count : 1), sizeof *e->methods);
    if (!e->methods) return false;
    for (const lang_method *m = t->methods; m && m->signature; m++) {
        proto *p = parse_native(m->signature, m->fn, m->doc);
        if (!p) continue;
        p->owner = t;
        e->methods[e->nmethods++] = p;
    }
    ntypes++;
    return true;
}

bool lang_builtin_register(const char *signature, lang_native_fn fn, const char *doc)
{
    if (!initialising) reg_init();
    proto *p = parse_native(signature, fn, doc);
    if (!p) return false;
    bool taken = false;
    for (int i = 0; i < nbuiltins; i++) taken |= strcmp(AS_FUNC(builtins[i])->p->name, p->name) == 0;
    if (taken) {
        fprintf(stderr, "hellodl: builtin '%s' registered twice\n", p->name);
        return false;
    }
    if (nbuiltins == cbuiltins) {
        int c = cbuiltins ? cbuiltins * 2 : 64;
        lang_value *n = realloc(builtins, (size_t)c * sizeof *n);
        if (!n) return false;
        builtins = n;
        cbuiltins = c;
    }
    lang_value f = val_func_new(p);
    if (f.type != LANG_FUNC) return false;
    builtins[nbuiltins++] = f;
    return true;
}

lang_value reg_builtin(const char *name, size_t len)
{
    resolve_all();
    for (int i = 0; i < nbuiltins; i++) {
        const char *n = AS_FUNC(builtins[i])->p->name;
        if (strncmp(n, name, len) == 0 && n[len] == 0) return builtins[i];
    }
    return lang_null();
}

const lang_type *reg_type(const char *name, size_t len)
{
    for (int i = 0; i < ntypes; i++) {
        const char *n = types[i].t->name;
        if (strncmp(n, name, len) == 0 && n[len] == 0) return types[i].t;
    }
    return NULL;
}

const lang_type *reg_value_type(lang_value v)
{
    if (v.type == LANG_STR) return &lang_string_type;
    if (v.type == LANG_LIST) return &lang_list_type;
    return lang_object_type(v);
}

proto *reg_method(const lang_type *t, const char *name)
{
    resolve_all();
    type_entry *e = find_type_entry(t);
    for (int i = 0; e && i < e->nmethods; i++)
        if (strcmp(e->methods[i]->name, name) == 0) return e->methods[i];
    return NULL;
}

const lang_property *reg_property(const lang_type *t, const char *name)
{
    for (const lang_property *p = t->properties; p && p->name; p++)
        if (strcmp(p->name, name) == 0) return p;
    return NULL;
}

int reg_builtin_count(void) { resolve_all(); return nbuiltins; }
proto *reg_builtin_at(int i) { return AS_FUNC(builtins[i])->p; }
int reg_type_count(void) { return ntypes; }
const lang_type *reg_type_at(int i) { return types[i].t; }

int reg_method_count(const lang_type *t)
{
    resolve_all();
    type_entry *e = find_type_entry(t);
    return e ? e->nmethods : 0;
}

proto *reg_method_at(const lang_type *t, int i)
{
    return find_type_entry(t)->methods[i];
}
