/*
 * fetch_run.c - the kernel's side of hellodl-fetch (see fetch_run.h).
 */
#include "fetch_run.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lang.h"
#include "magics.h"

extern char **environ;

#define STALL_SECONDS 120

bool fetch_locate(char *out, size_t n, char *why, size_t whylen)
{
    const char *env = getenv("HELLODL_FETCH");
    if (env && *env && access(env, X_OK) == 0) {
        snprintf(out, n, "%s", env);
        return true;
    }
    char exe[PATH_MAX];
    if (magics_exe_dir(exe, sizeof exe)) {
        snprintf(out, n, "%.*s/hellodl-fetch", PATH_MAX - 20, exe);
        if (access(out, X_OK) == 0)
            return true;
    }
#ifdef HELLODL_FETCH_BUILD
    snprintf(out, n, "%s", HELLODL_FETCH_BUILD);
    if (access(out, X_OK) == 0)
        return true;
#endif
    snprintf(why, whylen, "the download helper hellodl-fetch is not installed next to the "
             "kernel, so nothing can be downloaded; put the files in place by hand");
    return false;
}

/* What one run of the helper shows and collects. */
typedef struct run {
    const lang_sink *sink;
    const char *label;
    long long expected;
    char display_id[64];
    bool shown;
    struct timespec start, last_show;
    char err[1024];
    size_t nerr;
    char line[1024];
    size_t nline;
    long long done, total;
    int entries;
} run;

static double since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void show(run *r, const char *text, bool force)
{
    if (!force && r->shown && since(&r->last_show) < 0.25)
        return;     /* bounded rate: a fast download must not flood the page */
    lang_bundle b = { .n = 1 };
    b.items[0] = (lang_mime){ "text/plain", text, strlen(text), false };
    sink_display(r->sink, &b, r->display_id, r->shown);
    r->shown = true;
    clock_gettime(CLOCK_MONOTONIC, &r->last_show);
}

static void show_progress(run *r, bool force)
{
    char text[512], bar[21], done[32], all[32];
    long long total = r->total > 0 ? r->total : r->expected;
    double secs = since(&r->start);
    magic_bytes_text((double)r->done, done, sizeof done);
    magic_bytes_text((double)total, all, sizeof all);
    if (total > 0) {
        int fill = (int)(20.0 * (double)r->done / (double)total);
        fill = fill < 0 ? 0 : fill > 20 ? 20 : fill;
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '.', (size_t)(20 - fill));
        bar[20] = '\0';
        snprintf(text, sizeof text, "Downloading %s [%s] %s of %s (%.0f%%), %.0f s",
                 r->label, bar, done, all, 100.0 * (double)r->done / (double)total, secs);
    } else {
        snprintf(text, sizeof text, "Downloading %s: %s, %.0f s", r->label, done, secs);
    }
    show(r, text, force);
}

static void on_line(run *r, const char *line)
{
    long long a, b;
    char text[600];
    if (sscanf(line, "progress %lld %lld", &a, &b) == 2) {
        r->done = a;
        r->total = b;
        show_progress(r, false);
    } else if (sscanf(line, "resume %lld", &a) == 1 && a > 0) {
        char have[32];
        magic_bytes_text((double)a, have, sizeof have);
        snprintf(text, sizeof text, "Resuming %s after %s already downloaded", r->label, have);
        show(r, text, true);
    } else if (strncmp(line, "entry ", 6) == 0) {
        r->entries = atoi(line + 6);
        snprintf(text, sizeof text, "Unpacking %s: %d files", r->label, r->entries);
        show(r, text, false);
    }
}

static void take(run *r, int fd, bool is_err, bool *open_fd)
{
    char buf[4096];
    ssize_t got = read(fd, buf, sizeof buf);
    if (got <= 0) {
        if (got == 0 || (errno != EINTR && errno != EAGAIN))
            *open_fd = false;
        return;
    }
    for (ssize_t i = 0; i < got; i++) {
        if (is_err) {
            if (r->nerr < sizeof r->err - 1)
                r->err[r->nerr++] = buf[i];
        } else if (buf[i] == '\n' || r->nline == sizeof r->line - 1) {
            r->line[r->nline] = '\0';
            on_line(r, r->line);
            r->nline = 0;
        } else {
            r->line[r->nline++] = buf[i];
        }
    }
}

static double time_limit(void)
{
    const char *v = getenv("HELLODL_FETCH_TIMEOUT");
    double t = v ? atof(v) : 0;
    return t > 0 ? t : 3600;
}

/* Read the child's pipes until both close; kill it on interrupt or time. */
static int pump(run *r, pid_t pid, int out_fd, int err_fd, const char **killed)
{
    bool out_open = true, err_open = true;
    struct timespec last_line;
    clock_gettime(CLOCK_MONOTONIC, &last_line);
    double limit = time_limit();
    *killed = NULL;
    while (out_open || err_open) {
        struct pollfd p[2] = { { out_open ? out_fd : -1, POLLIN, 0 },
                               { err_open ? err_fd : -1, POLLIN, 0 } };
        int ready = poll(p, 2, 200);
        if (ready > 0 && (p[0].revents & (POLLIN | POLLHUP))) {
            take(r, out_fd, false, &out_open);
            clock_gettime(CLOCK_MONOTONIC, &last_line);
        }
        if (ready > 0 && (p[1].revents & (POLLIN | POLLHUP)))
            take(r, err_fd, true, &err_open);
        if (lang_interrupted())
            *killed = "interrupted";
        else if (since(&r->start) > limit)
            *killed = "took longer than HELLODL_FETCH_TIMEOUT allows";
        else if (since(&last_line) > STALL_SECONDS)
            *killed = "made no progress for two minutes";
        if (*killed) {
            kill(pid, SIGKILL);
            break;
        }
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

static int pipe_cloexec(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

static bool spawn_helper(run *r, char *const argv[], char *why, size_t whylen)
{
    int out[2], err[2];
    if (pipe_cloexec(out) != 0) {
        snprintf(why, whylen, "cannot start the download helper (%s)", strerror(errno));
        return false;
    }
    if (pipe_cloexec(err) != 0) {
        close(out[0]);
        close(out[1]);
        snprintf(why, whylen, "cannot start the download helper (%s)", strerror(errno));
        return false;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(err[1]);
    bool ok = rc == 0;
    const char *killed = NULL;
    int status = 0;
    if (ok)
        status = pump(r, pid, out[0], err[0], &killed);
    else
        snprintf(why, whylen, "cannot start %s (%s)", argv[0], strerror(rc));
    close(out[0]);
    close(err[0]);
    if (ok && killed) {
        snprintf(why, whylen, "%s of %s stopped: it %s; running the cell again resumes it",
                 strcmp(argv[1], "get") == 0 ? "the download" : "unpacking", r->label, killed);
        return false;
    }
    if (ok && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        r->err[r->nerr] = '\0';
        while (r->nerr && (r->err[r->nerr - 1] == '\n' || r->err[r->nerr - 1] == ' '))
            r->err[--r->nerr] = '\0';
        snprintf(why, whylen, "%s", r->nerr ? r->err : "the download helper failed");
        return false;
    }
    return ok;
}

static void run_init(run *r, const lang_sink *sink, const char *label, long long expected)
{
    static unsigned counter;
    memset(r, 0, sizeof *r);
    r->sink = sink;
    r->label = label;
    r->expected = expected;
    snprintf(r->display_id, sizeof r->display_id, "hellodl-fetch-%ld-%u", (long)getpid(),
             ++counter);
    clock_gettime(CLOCK_MONOTONIC, &r->start);
}

bool fetch_download(const lang_sink *sink, const char *url, const char *dest,
                    const char *label, long long expected, char *why, size_t whylen)
{
    char helper[PATH_MAX];
    if (!fetch_locate(helper, sizeof helper, why, whylen))
        return false;
    run r;
    run_init(&r, sink, label, expected);
    char *argv[] = { helper, "get", (char *)url, (char *)dest, NULL };
    bool ok = spawn_helper(&r, argv, why, whylen);
    if (ok) {
        char text[512], size[32];
        magic_bytes_text((double)r.done, size, sizeof size);
        snprintf(text, sizeof text, "Downloaded %s: %s in %.1f s", label, size, since(&r.start));
        show(&r, text, true);
    }
    return ok;
}

bool fetch_unpack(const lang_sink *sink, const char *archive, const char *dir,
                  char *why, size_t whylen)
{
    char helper[PATH_MAX];
    if (!fetch_locate(helper, sizeof helper, why, whylen))
        return false;
    const char *base = strrchr(archive, '/');
    run r;
    run_init(&r, sink, base ? base + 1 : archive, -1);
    char *argv[] = { helper, "unpack", (char *)archive, (char *)dir, NULL };
    bool ok = spawn_helper(&r, argv, why, whylen);
    if (ok) {
        char text[512];
        snprintf(text, sizeof text, "Unpacked %s: %d entries", r.label, r.entries);
        show(&r, text, true);
    }
    return ok;
}
