/*
 * test_magics_shell.c - the `!command` magic under interrupt: `!sleep 30`
 * interrupted from another thread after 200 ms must return quickly with a
 * KeyboardInterrupt and leave no process behind (the shell and what it
 * started); a command dies with a killed kernel; and HELLODL_ALLOW_SHELL=0
 * turns the magic off.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lang.h"
#include "magics.h"

static char out[4096];
static size_t nout;

static void cap_stream(void *ctx, const char *name, const char *text, size_t len)
{
    (void)ctx;
    if (strcmp(name, "stdout") == 0 && nout + len < sizeof out) {
        memcpy(out + nout, text, len);
        nout += len;
        out[nout] = '\0';
    }
}

static const lang_sink sink = { NULL, cap_stream, NULL, NULL, NULL };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *interrupter(void *arg)
{
    (void)arg;
    nanosleep(&(struct timespec){ 0, 200 * 1000000L }, NULL);
    lang_interrupt();
    return NULL;
}

/* Whether a live process (not a zombie waiting for init to reap it) is
 * left in group pgid, from /proc/PID/stat: "pid (comm) state ppid pgrp". */
static bool group_alive(pid_t pgid)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    bool alive = false;
    while (d && !alive && (e = readdir(d))) {
        char path[300], line[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char *close_paren = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
        char state;
        long ppid, pgrp;
        if (close_paren && sscanf(close_paren + 1, " %c %ld %ld", &state, &ppid, &pgrp) == 3)
            alive = pgrp == pgid && state != 'Z' && state != 'X';
        fclose(f);
    }
    if (d)
        closedir(d);
    return alive;
}

/* Runs `cell`, interrupted after 200 ms; checks the error, the time and
 * that the command's process group is gone. */
static void interrupt_one(lang_session *s, const char *cell)
{
    lang_result r;
    pthread_t th;
    nout = 0;
    out[0] = '\0';
    lang_interrupt_clear();
    pthread_create(&th, NULL, interrupter, NULL);
    double t0 = now();
    bool ok = lang_exec_cell(s, cell, 1, &sink, &r);
    double took = now() - t0;
    pthread_join(th, NULL);
    CHECK(!ok);
    CHECK_STR(r.error.ename, "KeyboardInterrupt");
    CHECK(took < 5.0);
    CHECK(!lang_interrupted());          /* the error consumed the interrupt */
    long pgid = strtol(out, NULL, 10);
    CHECK(pgid > 1);
    CHECK(strstr(out, "not reached") == NULL);
    /* SIGKILL is delivered asynchronously: allow the group a moment to go. */
    double t1 = now();
    while (pgid > 1 && group_alive((pid_t)pgid) && now() - t1 < 3.0)
        nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
    CHECK(pgid > 1 && !group_alive((pid_t)pgid));
    CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);   /* nothing unreaped */
    lang_result_free(&r);
}

static void test_interrupt(lang_session *s)
{
    lang_result r;
    /* The shell prints its pid (its process group's id) and forks sleep. */
    interrupt_one(s, "!echo $$; sleep 30; echo not reached");
    /* A command that ignores SIGINT is killed after the grace period. */
    interrupt_one(s, "!trap '' INT; echo $$; sleep 30; echo not reached");

    /* The session goes on: variables and the next command work. */
    bool ok = lang_exec_cell(s, "int n = 2;\n!true\nprint(n);", 2, &sink, &r);
    CHECK(ok);
    lang_result_free(&r);
}

/* Whether process pid is alive (a zombie counts as gone). */
static bool pid_alive(pid_t pid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char *close_paren = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
    char state = 'X';
    if (close_paren)
        sscanf(close_paren + 1, " %c", &state);
    fclose(f);
    return state != 'Z' && state != 'X';
}

static int pid_pipe = -1;

static void pipe_stream(void *ctx, const char *name, const char *text, size_t len)
{
    (void)ctx;
    (void)name;
    if (write(pid_pipe, text, len) < 0)
        _exit(3);
}

/* A "kernel" (a child process) runs `!echo $$; exec sleep 30` and is killed
 * with SIGKILL: the command must die with it (PR_SET_PDEATHSIG). */
static void test_kernel_death(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t kernel = fork();
    if (kernel == 0) {
        close(fds[0]);
        pid_pipe = fds[1];
        lang_session *s = lang_session_new(NULL);
        const lang_sink ps = { NULL, pipe_stream, NULL, NULL, NULL };
        lang_result r;
        magics_install(s);
        lang_exec_cell(s, "!echo $$; exec sleep 30", 1, &ps, &r);
        _exit(2);
    }
    close(fds[1]);
    char buf[64] = "";
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    long shell = strtol(buf, NULL, 10);
    CHECK(shell > 1);
    kill(kernel, SIGKILL);
    waitpid(kernel, NULL, 0);
    close(fds[0]);
    double t0 = now();
    while (shell > 1 && pid_alive((pid_t)shell) && now() - t0 < 5.0)
        nanosleep(&(struct timespec){ 0, 20 * 1000000L }, NULL);
    CHECK(shell > 1 && !pid_alive((pid_t)shell));
}

static void test_disabled(lang_session *s)
{
    lang_result r;
    setenv("HELLODL_ALLOW_SHELL", "0", 1);
    CHECK(!magics_shell_allowed());
    bool ok = lang_exec_cell(s, "!echo hi", 3, &sink, &r);
    CHECK(!ok);
    CHECK_STR(r.error.ename, "PermissionError");
    CHECK(r.error.evalue && strstr(r.error.evalue, "HELLODL_ALLOW_SHELL=0"));
    lang_result_free(&r);
    unsetenv("HELLODL_ALLOW_SHELL");
    CHECK(magics_shell_allowed());
}

int main(void)
{
    lang_config cfg;
    memset(&cfg, 0, sizeof cfg);
    lang_session *s = lang_session_new(&cfg);
    CHECK(s != NULL);
    if (!s)
        return CHECK_DONE();
    magics_install(s);
    test_interrupt(s);
    test_disabled(s);
    lang_session_free(s);
    test_kernel_death();
    return CHECK_DONE();
}
