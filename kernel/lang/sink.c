/*
 * sink.c - the NULL-tolerant wrappers around a lang_sink.
 */
#include "sink.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sink_write(const lang_sink *s, const char *name, const char *text, size_t len)
{
    if (s && s->stream && len) s->stream(s->ctx, name, text, len);
}

void sink_printf(const lang_sink *s, const char *name, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) { sink_write(s, name, small, (size_t)n); return; }
    char *big = malloc((size_t)n + 1);
    if (!big) return;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sink_write(s, name, big, (size_t)n);
    free(big);
}

void sink_display(const lang_sink *s, const lang_bundle *b, const char *display_id,
                  bool update)
{
    if (s && s->display && b) s->display(s->ctx, b, display_id, update);
}

void sink_clear(const lang_sink *s, bool wait)
{
    if (s && s->clear_output) s->clear_output(s->ctx, wait);
}
