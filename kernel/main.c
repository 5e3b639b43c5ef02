/*
 * main.c - the `hellodl` command line. The only file that exits.
 *
 *   hellodl kernel -f CONNECTION_FILE    run as a Jupyter kernel
 *   hellodl install [options]            write the kernelspec
 *   hellodl uninstall [options]          remove it
 *   hellodl run FILE.dl                  run a file of cells in the terminal
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "install.h"
#include "kernel.h"
#include "lang.h"
#include "gpu_session.h"
#include "magics.h"

static const char usage[] =
    "usage: hellodl kernel -f CONNECTION_FILE\n"
    "       hellodl install [--user | --sys-prefix | --prefix DIR] [--name NAME]\n"
    "                       [--display-name TEXT] [--env NAME=VALUE ...]\n"
    "       hellodl uninstall [--user | --sys-prefix | --prefix DIR] [--name NAME]\n"
    "       hellodl run FILE.dl\n"
    "       hellodl --version | --help\n";

static const char help[] =
    "\nhellodl is a Jupyter kernel for a small C-like language that trains deep\n"
    "learning models (\"Hello DL (C)\" in the notebook's kernel menu).\n\n"
    "  kernel     serve the Jupyter messaging protocol; kernel.json runs this\n"
    "  install    write the kernelspec (default: system-wide in\n"
    "             /usr/local/share/jupyter/kernels; --user for yourself only)\n"
    "  uninstall  remove the kernelspec written by install\n"
    "  run        execute a file of cells separated by '//--- cell' lines and\n"
    "             print their output; exits 1 if a cell fails\n";

static int bad_usage(const char *why)
{
    if (why)
        fprintf(stderr, "hellodl: %s\n", why);
    fputs(usage, stderr);
    return 2;
}

static void force_exit(int status)
{
    _exit(status);
}

static int cmd_kernel(int argc, char **argv)
{
    const char *file = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--connection-file") == 0)
            file = i + 1 < argc ? argv[++i] : NULL;   /* none: "missing" below */
        else if (strncmp(argv[i], "--connection-file=", 18) == 0)
            file = argv[i] + 18;
        else {
            char why[256];
            snprintf(why, sizeof why, "kernel: unexpected argument '%s'", argv[i]);
            return bad_usage(why);
        }
    }
    if (!file)
        return bad_usage("kernel: the connection file is missing (-f CONNECTION_FILE)");
    kernel_options opt = { file, force_exit };
    return kernel_run(&opt);
}

static int cmd_install(int argc, char **argv, bool uninstall)
{
    install_options o;
    char err[1024];
    if (install_parse_args(argc, argv, &o, err, sizeof err) < 0)
        return bad_usage(err);
    int rc = uninstall ? uninstall_kernelspec(&o, err, sizeof err)
                       : install_kernelspec(&o, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "hellodl: %s\n", err);
        return 1;
    }
    return 0;
}

/* OpenMP threads that spin while idle halve the speed of a 2-core laptop
 * (they compete with the thread that works), and libgomp reads its settings
 * before main runs: when the environment does not choose, choose passive
 * waiting and start again. kernel.json sets it, so kernels never re-exec. */
static void ensure_passive_openmp(char **argv)
{
    if (getenv("OMP_WAIT_POLICY"))
        return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);
    /* If exec fails we simply run with the default policy. */
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return bad_usage(NULL);
    ensure_passive_openmp(argv);
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("hellodl %s\n", HELLODL_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        fputs(help, stdout);
        return 0;
    }
    if (strcmp(cmd, "kernel") == 0)
        return cmd_kernel(argc - 2, argv + 2);
    if (strcmp(cmd, "install") == 0 || strcmp(cmd, "uninstall") == 0)
        return cmd_install(argc - 2, argv + 2, cmd[0] == 'u');
    if (strcmp(cmd, "run") == 0) {
        if (argc != 3)
            return bad_usage("run: expects exactly one FILE.dl");
        return lang_run_file(argv[2], false, magics_install, magics_cell_end) == 0 ? 0 : 1;
    }
    char why[256];
    snprintf(why, sizeof why, "unknown command '%s'", cmd);
    return bad_usage(why);
}
