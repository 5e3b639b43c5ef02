/*
 * capture.h - output written straight to file descriptors 1 and 2.
 *
 * A C library that prints a warning writes to fd 1 or 2, not through the
 * language's sink. capture_start points both descriptors at pipes whose
 * contents a reader thread forwards as stream text to IOPub, attributed to
 * the request that runs (or ran last); it returns a duplicate of the original
 * stderr for the kernel's own log. capture_drain forwards whatever is in the
 * pipes now, so that a cell's native output precedes its reply and idle.
 */
#ifndef HELLODL_CAPTURE_H
#define HELLODL_CAPTURE_H

#include "iopub.h"

typedef struct capture capture;

/* Returns NULL (and leaves fds alone) on failure; *log_fd gets the saved
 * stderr, or 2 on failure. */
capture *capture_start(iopub *pub, int *log_fd);
void capture_drain(capture *c);
/* Restores fds 1 and 2 and stops the reader. */
void capture_stop(capture *c);

#endif
