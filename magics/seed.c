/*
 * seed.c - `%seed N`: seeds every random choice of the session (initial
 * weights, dropout, shuffling and augmentation of generators made later) by
 * running the language's seed() builtin, so the magic and the builtin can
 * never disagree; `%seed` alone shows what was set.
 */
#include "magics.h"
#include "seed.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static bool recorded;
static uint64_t recorded_seed;

bool magic_seed_recorded(uint64_t *seed)
{
    if (recorded)
        *seed = recorded_seed;
    return recorded;
}

static bool seed_show(magic_ctx *mx)
{
    if (recorded)
        sink_printf(mx->sink, "stdout", "Random seed: %" PRIu64 " (set with %%seed)\n",
                    recorded_seed);
    else
        sink_printf(mx->sink, "stdout", "No seed set with %%seed yet: results may differ "
                    "from run to run. Use %%seed 42 (any whole number >= 0).\n");
    if (recorded && rt_seed_default() != recorded_seed)
        sink_printf(mx->sink, "stdout", "Note: seed() was called since; the runtime's "
                    "seed is now %" PRIu64 ".\n", rt_seed_default());
    return true;
}

/* A whole number 0..INT64_MAX with nothing after it. */
static bool parse_seed(const char *args, int64_t *out)
{
    char *end;
    if (*args < '0' || *args > '9')
        return false;
    errno = 0;
    long long v = strtoll(args, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool seed_run(magic_ctx *mx, const char *args, const char *body)
{
    (void)body;
    if (!*args)
        return seed_show(mx);
    int64_t v;
    if (!parse_seed(args, &v))
        return magic_error(mx, "ValueError", "%%seed needs a whole number from 0 to "
                           "9223372036854775807, e.g. %%seed 42; got '%s'", args);
    char code[64];
    snprintf(code, sizeof code, "seed(%" PRId64 ");", v);
    lang_result r;
    bool ok = lang_exec_nested(mx->session, code, mx->sink, &r);
    if (!ok)
        magic_error(mx, r.error.ename, "%s", r.error.evalue);
    lang_result_free(&r);
    if (!ok)
        return false;
    recorded = true;
    recorded_seed = (uint64_t)v;
    sink_printf(mx->sink, "stdout", "Random seed set to %" PRId64 ": weights, dropout, "
                "shuffling and augmentation made from now on are reproducible.\n", v);
    return true;
}

const magic_def magic_seed = {
    "seed", "%seed N",
    "Seeds every random choice of the session with the whole number N (0 or more): "
    "initial weights, dropout, and the shuffling and augmentation of generators made "
    "afterwards. Run it before building models and generators to get the same "
    "results every time on the CPU. It does what the seed(N) function does. "
    "`%seed` alone shows the seed set last.",
    seed_run, true, false,
};
