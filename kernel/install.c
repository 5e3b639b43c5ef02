#include "install.h"

#include <errno.h>
#include <stdbool.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern const unsigned char kernelspec_json[], kernelspec_logo32[], kernelspec_logo64[];
extern const size_t kernelspec_json_len, kernelspec_logo32_len, kernelspec_logo64_len;

int install_parse_args(int argc, char **argv, install_options *o, char *err, size_t n)
{
    memset(o, 0, sizeof *o);
    o->name = "hellodl";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(a, "--prefix") == 0 || strcmp(a, "--name") == 0 ||
                     strcmp(a, "--display-name") == 0 || strcmp(a, "--env") == 0;
        if (takes && !val) {
            snprintf(err, n, "%s needs a value", a);
            return -1;
        }
        if (strcmp(a, "--user") == 0) o->scope = INSTALL_USER;
        else if (strcmp(a, "--sys-prefix") == 0) o->scope = INSTALL_SYS_PREFIX;
        else if (strcmp(a, "--prefix") == 0) { o->scope = INSTALL_PREFIX; o->prefix = val; }
        else if (strcmp(a, "--name") == 0) o->name = val;
        else if (strcmp(a, "--display-name") == 0) o->display_name = val;
        else if (strcmp(a, "--env") == 0) {
            if (!strchr(val, '=') || val[0] == '=') {
                snprintf(err, n, "--env expects NAME=VALUE, got '%s'", val);
                return -1;
            }
            if (o->nenv == INSTALL_MAX_ENV) {
                snprintf(err, n, "at most %d --env settings", INSTALL_MAX_ENV);
                return -1;
            }
            o->env[o->nenv++] = val;
        } else {
            snprintf(err, n, "unknown option '%s'", a);
            return -1;
        }
        if (takes)
            i++;
    }
    if (!o->name[0] || strchr(o->name, '/') || strcmp(o->name, "..") == 0 ||
        strcmp(o->name, ".") == 0) {
        snprintf(err, n, "--name '%s' is not a valid kernel name (use letters, digits, "
                 "'-', '_' or '.')", o->name);
        return -1;
    }
    return 0;
}

char *install_self_path(char *buf, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    if (len <= 0)
        return NULL;
    buf[len] = '\0';
    return buf;
}

/* sys.prefix of the python3 on PATH (the one Jupyter runs under). */
static int sys_prefix(char *buf, size_t n)
{
    FILE *p = popen("python3 -c 'import sys; print(sys.prefix)' 2>/dev/null", "r");
    if (!p)
        return -1;
    bool ok = fgets(buf, (int)n, p) != NULL;
    pclose(p);
    if (!ok)
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return buf[0] ? 0 : -1;
}

static int kernels_dir(const install_options *o, char *dir, size_t n, char *err, size_t en)
{
    char base[PATH_MAX];
    const char *home = getenv("HOME");
    int len;                /* of base, checked below: a cut path is no path */
    switch (o->scope) {
    case INSTALL_USER:
        if (getenv("JUPYTER_DATA_DIR"))
            len = snprintf(base, sizeof base, "%s", getenv("JUPYTER_DATA_DIR"));
        else if (getenv("XDG_DATA_HOME"))
            len = snprintf(base, sizeof base, "%s/jupyter", getenv("XDG_DATA_HOME"));
        else if (home)
            len = snprintf(base, sizeof base, "%s/.local/share/jupyter", home);
        else {
            snprintf(err, en, "--user needs $HOME or $JUPYTER_DATA_DIR to be set");
            return -1;
        }
        break;
    case INSTALL_SYS_PREFIX: {
        char prefix[PATH_MAX];
        if (sys_prefix(prefix, sizeof prefix) < 0) {
            snprintf(err, en, "--sys-prefix: could not ask python3 for sys.prefix; "
                     "use --prefix DIR instead");
            return -1;
        }
        len = snprintf(base, sizeof base, "%s/share/jupyter", prefix);
        break;
    }
    case INSTALL_PREFIX:
        len = snprintf(base, sizeof base, "%s/share/jupyter", o->prefix);
        break;
    default:
        len = snprintf(base, sizeof base, "/usr/local/share/jupyter");
    }
    if (len < 0 || (size_t)len >= sizeof base ||
        (size_t)snprintf(dir, n, "%s/kernels/%s", base, o->name) >= n) {
        snprintf(err, en, "kernelspec path too long");
        return -1;
    }
    return 0;
}

static int mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* kernel.json from the embedded template: argv[0], display name, env. */
static char *kernel_json(const install_options *o, char *err, size_t n)
{
    char self[PATH_MAX];
    json_error_t jerr;
    json_t *spec = json_loadb((const char *)kernelspec_json, kernelspec_json_len, 0, &jerr);
    if (!spec || !install_self_path(self, sizeof self)) {
        snprintf(err, n, "internal error: cannot build kernel.json");
        json_decref(spec);
        return NULL;
    }
    json_array_set_new(json_object_get(spec, "argv"), 0, json_string(self));
    if (o->display_name)
        json_object_set_new(spec, "display_name", json_string(o->display_name));
    json_t *env = json_object_get(spec, "env");
    for (int i = 0; i < o->nenv; i++) {
        const char *eq = strchr(o->env[i], '=');
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - o->env[i]), o->env[i]);
        json_object_set_new(env, key, json_string(eq + 1));
    }
    char *text = json_dumps(spec, JSON_INDENT(2));
    json_decref(spec);
    return text;
}

int install_kernelspec(const install_options *o, char *err, size_t n)
{
    char dir[PATH_MAX];
    if (kernels_dir(o, dir, sizeof dir, err, n) < 0)
        return -1;
    char *json = kernel_json(o, err, n);
    if (!json)
        return -1;
    int rc = mkdirs(dir);
    if (rc == 0) rc = write_file(dir, "kernel.json", json, strlen(json));
    if (rc == 0) rc = write_file(dir, "logo-32x32.png", kernelspec_logo32, kernelspec_logo32_len);
    if (rc == 0) rc = write_file(dir, "logo-64x64.png", kernelspec_logo64, kernelspec_logo64_len);
    free(json);
    if (rc < 0) {
        snprintf(err, n, "cannot write the kernelspec into %s: %s%s", dir, strerror(errno),
                 errno == EACCES && o->scope == INSTALL_SYSTEM
                     ? " (install for yourself with --user, or run as root)" : "");
        return -1;
    }
    printf("Installed kernelspec %s in %s\n", o->name, dir);
    return 0;
}

int uninstall_kernelspec(const install_options *o, char *err, size_t n)
{
    char dir[PATH_MAX], path[PATH_MAX + 32];
    if (kernels_dir(o, dir, sizeof dir, err, n) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/kernel.json", dir);
    if (access(path, F_OK) != 0) {
        snprintf(err, n, "no kernelspec named '%s' in %s", o->name, dir);
        return -1;
    }
    static const char *const files[] = { "kernel.json", "logo-32x32.png", "logo-64x64.png" };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    if (rmdir(dir) < 0) {
        snprintf(err, n, "removed the kernelspec files but not %s: %s", dir, strerror(errno));
        return -1;
    }
    printf("Removed kernelspec %s from %s\n", o->name, dir);
    return 0;
}

static char help_url[PATH_MAX + 16];

static void find_help_url(void)
{
    char self[PATH_MAX], doc[PATH_MAX + 64];
    if (install_self_path(self, sizeof self)) {
        snprintf(doc, sizeof doc, "%s/../share/doc/hellodl/README.md", dirname(self));
        char real[PATH_MAX];
        if (realpath(doc, real)) {
            snprintf(help_url, sizeof help_url, "file://%s", real);
            return;
        }
    }
    snprintf(help_url, sizeof help_url, "file://%s", HELLODL_SOURCE_README);
}

const char *install_help_url(void)
{
    /* kernel_info is answered on both the shell and the control thread. */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, find_help_url);
    return help_url;
}
