/*
 * kernel.h - the kernel process: sockets, threads and the request loop.
 *
 * kernel_run binds the five sockets named by the connection file, starts the
 * heartbeat and control threads, and serves shell requests on the calling
 * thread until a shutdown_request, SIGTERM or the death of the parent. It
 * returns the process exit status; main.c exits with it. A request can fail
 * in any way without ending the loop.
 */
#ifndef HELLODL_KERNEL_H
#define HELLODL_KERNEL_H

#include "connection.h"

typedef struct kernel_options {
    const char *connection_file;
    /* Called from the control thread when a shutdown was requested but the
     * shell thread is stuck in native code past the grace period. */
    void (*force_exit)(int status);
} kernel_options;

int kernel_run(const kernel_options *opt);

#endif
