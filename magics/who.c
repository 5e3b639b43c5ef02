/*
 * who.c - `%who`: the session's variables, each with its type and a
 * one-line summary (a model's summary, a tensor's shape, a value's text).
 */
#include "magics.h"
#include "seed.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUMMARY_MAX 60

/* One line about v, new malloc'd string: the type's summary for runtime
 * objects, else the printed value cut to SUMMARY_MAX bytes. */
static char *who_summary(lang_value v)
{
    const lang_type *t = lang_object_type(v);
    char *s = NULL;
    if (t && t->summary)
        s = t->summary(lang_object_ptr(v, t));
    if (!s)
        s = lang_value_repr(v);
    if (!s)
        return NULL;
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    if (strlen(s) > SUMMARY_MAX) {
        size_t cut = SUMMARY_MAX - 3;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;                      /* never split a UTF-8 character */
        strcpy(s + cut, "...");
    }
    return s;
}

static void who_seed_line(magic_ctx *mx)
{
    uint64_t seed;
    if (magic_seed_recorded(&seed))
        sink_printf(mx->sink, "stdout", "(random seed: %" PRIu64 ", set with %%seed)\n", seed);
}

static bool who_run(magic_ctx *mx, const char *args, const char *body)
{
    (void)body;
    if (*args)
        return magic_error(mx, "UsageError", "%%who takes no arguments; got '%s'", args);
    int n = 0, shown = 0;
    const char **names = lang_global_names(mx->session, &n);
    for (int i = 0; i < n; i++) {
        const lang_value *v = lang_global_get(mx->session, names[i]);
        if (!v)
            continue;
        if (shown++ == 0)
            sink_printf(mx->sink, "stdout", "%-16s %-10s %s\n", "Variable", "Type", "Summary");
        char *sum = who_summary(*v);
        sink_printf(mx->sink, "stdout", "%-16s %-10s %s\n", names[i],
                    lang_value_type_name(*v), sum ? sum : "");
        free(sum);
    }
    free(names);
    if (!shown)
        sink_printf(mx->sink, "stdout", "No variables yet: declare one, e.g. "
                    "int epochs = 5;\n");
    who_seed_line(mx);
    return true;
}

const magic_def magic_who = {
    "who", "%who",
    "Lists the variables this notebook has made so far, with each one's type and a "
    "one-line summary (a model's layers and parameters, an image's size, a value). "
    "Variables stay until the kernel restarts or %reset clears them.",
    who_run, true, false,
};
