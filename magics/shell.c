/*
 * shell.c - `!command`: runs a shell command (the module's `!ls`) with
 * /bin/sh -c in a child process, streaming its output into the cell as it
 * comes. Hosts turn it off with HELLODL_ALLOW_SHELL=0 in the kernelspec.
 *
 * The child leads its own process group, so an interrupt reaches the whole
 * command (SIGINT, then SIGKILL after a grace period) and not the kernel,
 * and whatever is left in the group when the command ends is killed too.
 * The child also gets PR_SET_PDEATHSIG: if the kernel dies, so does the
 * shell. (Linux ties that signal to the thread that forked: the cell thread,
 * which lives as long as the kernel.)
 */
#define _GNU_SOURCE               /* pipe2 */
#include "magics.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 50            /* how often the interrupt flag is looked at */
#define GRACE_MS 1000         /* SIGINT to SIGKILL */

typedef struct sh_child {
    pid_t pid;
    int fd[2];                /* read ends of stdout, stderr; -1 once closed */
} sh_child;

static const char *const stream_name[2] = { "stdout", "stderr" };

/* In the child, between fork and exec: async-signal-safe calls only. */
static void sh_child_exec(const char *cmd, pid_t parent, const int out[2], const int err[2])
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)      /* the kernel died before prctl */
        _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    const int sigs[] = { SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGCHLD };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &dfl, NULL);
    int in = open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
        _exit(127);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
}

static bool sh_spawn(const char *cmd, sh_child *c)
{
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0)
        return false;
    if (pipe2(err, O_CLOEXEC) != 0) {
        close(out[0]);
        close(out[1]);
        return false;
    }
    pid_t parent = getpid();
    c->pid = fork();
    if (c->pid == 0)
        sh_child_exec(cmd, parent, out, err);
    close(out[1]);
    close(err[1]);
    c->fd[0] = out[0];
    c->fd[1] = err[0];
    if (c->pid < 0) {
        close(out[0]);
        close(err[0]);
        return false;
    }
    setpgid(c->pid, c->pid);      /* also here, so a kill right away finds the group */
    return true;
}

/* Waits up to timeout_ms for output and forwards what came to the sink. */
static void sh_pump(magic_ctx *mx, sh_child *c, int timeout_ms)
{
    struct pollfd p[2];
    int n = 0, which[2];
    for (int i = 0; i < 2; i++)
        if (c->fd[i] >= 0) {
            p[n] = (struct pollfd){ c->fd[i], POLLIN, 0 };
            which[n++] = i;
        }
    if (n == 0 || poll(p, (nfds_t)n, timeout_ms) <= 0) {
        if (n == 0)
            nanosleep(&(struct timespec){ 0, timeout_ms * 1000000L }, NULL);
        return;
    }
    char buf[4096];
    for (int k = 0; k < n; k++) {
        if (!p[k].revents)
            continue;
        ssize_t got = read(p[k].fd, buf, sizeof buf);
        if (got > 0)
            sink_write(mx->sink, stream_name[which[k]], buf, (size_t)got);
        else if (got == 0 || errno != EINTR) {
            close(c->fd[which[k]]);
            c->fd[which[k]] = -1;
        }
    }
}

/* Whether the shell has ended, without reaping it: its pid, and so its
 * process group's id, stays taken until sh_reap. */
static bool sh_exited(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/* Interrupted: SIGINT to the group, a grace period, then SIGKILL. */
static void sh_stop(magic_ctx *mx, sh_child *c)
{
    kill(-c->pid, SIGINT);
    for (int waited = 0; waited < GRACE_MS && !sh_exited(c->pid); waited += POLL_MS)
        sh_pump(mx, c, POLL_MS);
    kill(-c->pid, SIGKILL);
}

/* Kills what is left in the group, reaps the shell; its wait status. */
static int sh_reap(sh_child *c)
{
    for (int i = 0; i < 2; i++)
        if (c->fd[i] >= 0)
            close(c->fd[i]);
    kill(-c->pid, SIGKILL);
    int status = 0;
    while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

static bool sh_status_error(magic_ctx *mx, const char *cmd, int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    if (WIFEXITED(status))
        return magic_error(mx, "CalledProcessError", "the command '%s' failed with exit "
                           "status %d%s", cmd, WEXITSTATUS(status),
                           WEXITSTATUS(status) == 127 ? " (command not found?)" : "");
    return magic_error(mx, "CalledProcessError", "the command '%s' was ended by signal "
                       "%d (%s)", cmd, WTERMSIG(status), strsignal(WTERMSIG(status)));
}

static bool shell_run(magic_ctx *mx, const char *args, const char *body)
{
    (void)body;
    if (!magics_shell_allowed())
        return magic_error(mx, "PermissionError", "shell commands ('!') are turned off "
                           "for this kernel by whoever runs it (HELLODL_ALLOW_SHELL=0); "
                           "the notebook's other cells work as usual");
    while (*args == ' ' || *args == '\t')
        args++;
    if (!*args)
        return magic_error(mx, "UsageError", "'!' needs a command after it, e.g. !ls");
    sh_child c;
    if (!sh_spawn(args, &c))
        return magic_error(mx, "OSError", "could not start the shell for '%s': %s", args,
                           strerror(errno));
    bool interrupted = false;
    while (!(c.fd[0] < 0 && c.fd[1] < 0 && sh_exited(c.pid))) {
        if (lang_interrupted()) {
            interrupted = true;
            break;
        }
        sh_pump(mx, &c, POLL_MS);
    }
    if (interrupted)
        sh_stop(mx, &c);
    int status = sh_reap(&c);
    if (interrupted)
        return magic_error(mx, "KeyboardInterrupt", "interrupted by the user: the command "
                           "'%s' was stopped", args);
    return sh_status_error(mx, args, status);
}

const magic_def magic_shell = {
    "!", "!COMMAND",
    "Runs COMMAND in the system shell (/bin/sh) and shows what it prints as it "
    "prints it, e.g. `!ls` to list files. Interrupting the kernel stops the command. "
    "A command that fails (a non-zero exit status) makes the cell fail. Hosted rooms "
    "may turn shell commands off.",
    shell_run, true, false,
};
