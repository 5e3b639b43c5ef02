#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int kernel_log_fd = 2;

void log_init(int fd)
{
    kernel_log_fd = fd;
}

int log_fd(void)
{
    return kernel_log_fd;
}

void klog(const char *fmt, ...)
{
    char line[2048];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int n = (int)strftime(line, sizeof line, "[hellodl %H:%M:%S] ", &tm);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += m;
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(kernel_log_fd, line, (size_t)n);
    (void)w;
}
