/*
 * h5module.c - the entry of libhellodl_h5, the loadable module that holds
 * everything that touches libhdf5 (runtime/h5lazy.c explains why it is
 * loaded on demand). The module reports errors through the host's
 * rt_error_set, so that the message lands in the caller's thread-local
 * buffer rather than in a private copy.
 */
#include <stdarg.h>
#include <stdio.h>

#include "h5weights.h"

typedef rt_status (*rt_error_set_fn)(rt_status st, const char *fmt, ...);
typedef const char *(*rt_error_message_fn)(void);

static rt_error_set_fn host_error_set;
static rt_error_message_fn host_error_message;

/* Called once by the host right after dlopen. */
int rt_h5_module_init(rt_error_set_fn error_set, rt_error_message_fn error_message)
{
    host_error_set = error_set;
    host_error_message = error_message;
    return RT_H5_MODULE_ABI;
}

const char *rt_error_message(void)
{
    return host_error_message ? host_error_message() : "";
}

rt_status rt_error_set(rt_status st, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return host_error_set ? host_error_set(st, "%s", msg) : st;
}
