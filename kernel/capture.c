#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct capture {
    iopub *pub;
    int rd[2];               /* read ends for stdout, stderr (non-blocking) */
    int saved[2];            /* the original fds 1 and 2 */
    int stop_pipe[2];        /* written once to stop the reader */
    pthread_t reader;
    bool reader_started;
    pthread_mutex_t lock;    /* one reader at a time keeps the order of bytes */
};

static const char *const stream_names[2] = { "stdout", "stderr" };

/* Forward what is readable on stream i now. Returns false at EOF. */
static bool forward(capture *c, int i)
{
    char buf[16384];
    bool open = true;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        ssize_t n = read(c->rd[i], buf, sizeof buf);
        if (n > 0) {
            json_t *parent = iopub_parent(c->pub);
            iopub_stream(c->pub, stream_names[i], buf, (size_t)n, parent);
            json_decref(parent);
            continue;
        }
        if (n == 0)
            open = false;
        else if (errno == EINTR)
            continue;
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return open;
}

static void *reader_main(void *arg)
{
    capture *c = arg;
    struct pollfd fds[3] = {
        { .fd = c->rd[0], .events = POLLIN },
        { .fd = c->rd[1], .events = POLLIN },
        { .fd = c->stop_pipe[0], .events = POLLIN },
    };
    for (;;) {
        if (poll(fds, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[2].revents)
            break;
        for (int i = 0; i < 2; i++)
            if (fds[i].revents && !forward(c, i))
                fds[i].fd = -1;
    }
    return NULL;
}

static int redirect(capture *c, int i)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    c->saved[i] = dup(i + 1);   /* on failure restore() puts it back */
    if (c->saved[i] < 0 || dup2(p[1], i + 1) < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    fcntl(c->saved[i], F_SETFD, FD_CLOEXEC);
    c->rd[i] = p[0];
    return 0;
}

/* Point fds 1 and 2 back at what they were and close every descriptor we
 * opened (those still -1 were never opened). */
static void restore(capture *c)
{
    for (int i = 0; i < 2; i++) {
        if (c->saved[i] >= 0) {
            dup2(c->saved[i], i + 1);
            close(c->saved[i]);
        }
        if (c->rd[i] >= 0)
            close(c->rd[i]);
        if (c->stop_pipe[i] >= 0)
            close(c->stop_pipe[i]);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

capture *capture_start(iopub *pub, int *log_fd)
{
    *log_fd = 2;
    capture *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->pub = pub;
    for (int i = 0; i < 2; i++)
        c->rd[i] = c->saved[i] = c->stop_pipe[i] = -1;
    pthread_mutex_init(&c->lock, NULL);
    fflush(stdout);
    fflush(stderr);
    if (pipe(c->stop_pipe) < 0 || redirect(c, 0) < 0 || redirect(c, 1) < 0) {
        int saved = errno;
        restore(c);
        klog("could not capture stdout/stderr: %s", strerror(saved));
        return NULL;
    }
    /* Line-buffered stdio, so that printf from a library reaches the pipe
     * promptly even without an explicit fflush. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    setvbuf(stderr, NULL, _IONBF, 0);
    *log_fd = c->saved[1];
    c->reader_started = pthread_create(&c->reader, NULL, reader_main, c) == 0;
    if (!c->reader_started)
        klog("could not start the output reader thread; native output is "
             "forwarded only at the end of each cell");
    return c;
}

void capture_drain(capture *c)
{
    if (!c)
        return;
    fflush(stdout);
    fflush(stderr);
    forward(c, 0);
    forward(c, 1);
}

void capture_stop(capture *c)
{
    if (!c)
        return;
    capture_drain(c);
    if (c->reader_started) {
        ssize_t w = write(c->stop_pipe[1], "x", 1);
        (void)w;
        pthread_join(c->reader, NULL);
    }
    restore(c);
}
