/*
 * rt_status.h - how the runtime reports failure.
 *
 * Every runtime function that can fail returns an rt_status; on failure it
 * also records a sentence for the user with rt_error_set (thread-local, so
 * the data-loading threads and the main thread do not overwrite each other).
 * The language turns RT_ERR_* plus rt_error_message() into a cell error.
 * The runtime never exits and never prints.
 */
#ifndef HELLODL_RT_STATUS_H
#define HELLODL_RT_STATUS_H

typedef enum rt_status {
    RT_OK = 0,
    RT_ERR_NOMEM,        /* an allocation failed or would exceed a cap */
    RT_ERR_SHAPE,        /* shapes do not fit together */
    RT_ERR_ARG,          /* a bad argument value */
    RT_ERR_IO,           /* a file could not be read or written */
    RT_ERR_FORMAT,       /* a file is not what it claims to be (PNG, HDF5) */
    RT_ERR_INTERRUPTED,  /* the user interrupted a long operation */
    RT_ERR_DEVICE,       /* a GPU/backend failure */
    RT_ERR_STATE         /* called in the wrong state (e.g. fit before compile) */
} rt_status;

/* Record the message for the current thread and return `st`, so that
 * `return rt_error_set(RT_ERR_ARG, "...", ...);` reads naturally. */
rt_status rt_error_set(rt_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The last message recorded on this thread (borrowed; never NULL). */
const char *rt_error_message(void);
const char *rt_status_name(rt_status st);

#endif
