/*
 * time.c - `%time CODE` and `%%time`: runs the code (a line, or the rest of
 * the cell) as part of the running cell and prints how long it took, in
 * wall-clock time and in CPU time (all threads), as "Wall time: 1.23 s
 * (CPU: 2.30 s)". The code runs through lang_exec_nested, so variables it
 * declares stay, and an error in it is the cell's error after the timing.
 */
#include "magics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* "1.23 s", "12.3 ms" or "85 µs" into buf. */
static const char *time_text(double s, char *buf, size_t cap)
{
    if (s >= 1.0)
        snprintf(buf, cap, "%.2f s", s);
    else if (s >= 1e-3)
        snprintf(buf, cap, "%.1f ms", s * 1e3);
    else
        snprintf(buf, cap, "%.0f \u00b5s", s * 1e6);
    return buf;
}

/* Moves the nested run's error into the magic's, traceback included. */
static bool time_fail(magic_ctx *mx, lang_result *r)
{
    magic_error(mx, r->error.ename ? r->error.ename : "RuntimeError", "%s",
                r->error.evalue ? r->error.evalue : "the timed code failed");
    mx->err->traceback = r->error.traceback;
    mx->err->ntraceback = r->error.ntraceback;
    r->error.traceback = NULL;
    r->error.ntraceback = 0;
    lang_result_free(r);
    return false;
}

static bool time_run(magic_ctx *mx, const char *args, const char *body)
{
    const char *code = body ? body : args;
    if (!code[strspn(code, " \t\r\n")])
        return magic_error(mx, "UsageError", body ? "%%%%time needs code below it in the "
                           "cell to time" : "%%time needs code to time, e.g. "
                           "%%time history h = m.fit(train_gen, epochs = 1);");
    if (body && args[strspn(args, " \t\r")])
        return magic_error(mx, "UsageError", "%%%%time takes no arguments on its line; "
                           "put the code on the lines below");
    /* The body starts on the cell's second line: a newline in front keeps
     * the line numbers of its errors those of the cell. */
    char *src = body ? malloc(strlen(body) + 2) : strdup(args);
    if (!src)
        return magic_error(mx, "MemoryError", "out of memory");
    if (body)
        snprintf(src, strlen(body) + 2, "\n%s", body);
    lang_result r;
    double w0 = clock_seconds(CLOCK_MONOTONIC), c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    bool ok = lang_exec_nested(mx->session, src, mx->sink, &r);
    free(src);
    double wall = clock_seconds(CLOCK_MONOTONIC) - w0;
    double cpu = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    char wt[32], ct[32];
    sink_printf(mx->sink, "stdout", "Wall time: %s (CPU: %s)\n", time_text(wall, wt, sizeof wt),
                time_text(cpu, ct, sizeof ct));
    if (!ok)
        return time_fail(mx, &r);
    if (r.has_value)
        sink_display(mx->sink, &r.value, NULL, false);
    lang_result_free(&r);
    return true;
}

const magic_def magic_time = {
    "time", "%time CODE  or  %%time",
    "Runs the code and says how long it took: `%time CODE` times one line; `%%time` "
    "on a cell's first line times the rest of the cell. Wall time is what the clock "
    "on the wall measures; CPU time adds up every processor core that worked, so it "
    "can be larger than the wall time when training uses several cores. Variables "
    "the code declares stay, as in any cell.",
    time_run, true, true,
};
