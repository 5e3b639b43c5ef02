/*
 * log.h - the kernel's own log.
 *
 * Once the kernel redirects file descriptors 1 and 2 into the running cell,
 * its own diagnostics go to a private duplicate of the original stderr so
 * they never appear in a notebook. log_init records that descriptor.
 */
#ifndef HELLODL_LOG_H
#define HELLODL_LOG_H

void log_init(int fd);
int log_fd(void);
void klog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
