/*
 * install.h - `hellodl install` and `hellodl uninstall`: the kernelspec.
 *
 * The kernelspec (kernel.json from kernelspec/kernel.json.in and the two
 * logos) is compiled into the binary, so installing needs nothing but the
 * executable. kernel.json's argv names the absolute path of this binary.
 */
#ifndef HELLODL_INSTALL_H
#define HELLODL_INSTALL_H

#include <stddef.h>

#define INSTALL_MAX_ENV 32

typedef enum { INSTALL_SYSTEM, INSTALL_USER, INSTALL_SYS_PREFIX, INSTALL_PREFIX } install_scope;

typedef struct install_options {
    install_scope scope;
    const char *prefix;           /* INSTALL_PREFIX */
    const char *name;             /* kernelspec name, default "hellodl" */
    const char *display_name;     /* NULL keeps "Hello DL (C)" */
    const char *env[INSTALL_MAX_ENV];   /* "K=V" */
    int nenv;
} install_options;

/* Parse install/uninstall arguments (after the verb). Returns 0, or -1 with
 * a message in err. */
int install_parse_args(int argc, char **argv, install_options *o, char *err, size_t n);
/* Write the kernelspec; prints where. Returns 0 or -1 with a message in err. */
int install_kernelspec(const install_options *o, char *err, size_t n);
int uninstall_kernelspec(const install_options *o, char *err, size_t n);

/* The absolute path of the running executable into buf. Returns buf or NULL. */
char *install_self_path(char *buf, size_t n);
/* A file:// URL of the README beside the installed binary (or in the source
 * tree), for kernel_info's help_links. */
const char *install_help_url(void);

#endif
