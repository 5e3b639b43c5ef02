#include "rt_status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char rt_errbuf[1024];

rt_status rt_error_set(rt_status st, const char *fmt, ...)
{
    /* Format aside first: callers wrap the previous message with
     * rt_error_set(st, "%s: %s", context, rt_error_message()), whose argument
     * is this very buffer. */
    char msg[sizeof rt_errbuf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(rt_errbuf, msg, sizeof msg);
    return st;
}

const char *rt_error_message(void)
{
    return rt_errbuf;
}

const char *rt_status_name(rt_status st)
{
    switch (st) {
    case RT_OK: return "ok";
    case RT_ERR_NOMEM: return "out of memory";
    case RT_ERR_SHAPE: return "shape mismatch";
    case RT_ERR_ARG: return "invalid argument";
    case RT_ERR_IO: return "I/O error";
    case RT_ERR_FORMAT: return "bad file format";
    case RT_ERR_INTERRUPTED: return "interrupted";
    case RT_ERR_DEVICE: return "device error";
    case RT_ERR_STATE: return "invalid state";
    }
    return "unknown error";
}
