/*
 * catalog.c - reading the JSON files of datasets/ (see catalog.h).
 */
#include "catalog.h"
#include "magics.h"

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DIRS 16

/* The catalog directories, in search order; returns how many exist. */
static int catalog_dirs(char dirs[MAX_DIRS][PATH_MAX])
{
    int n = 0;
    const char *env = getenv("HELLODL_CATALOG_PATH");
    if (env && *env) {
        for (const char *p = env; *p && n < MAX_DIRS;) {
            size_t len = strcspn(p, ":");
            if (len && len < PATH_MAX) {
                snprintf(dirs[n], PATH_MAX, "%.*s", (int)len, p);
                if (access(dirs[n], R_OK) == 0)
                    n++;
            }
            p += len + (p[len] == ':');
        }
        return n;
    }
    char exe[PATH_MAX];
    if (magics_exe_dir(exe, sizeof exe)) {
        snprintf(dirs[n], PATH_MAX, "%.*s/../share/hellodl/datasets", PATH_MAX - 40, exe);
        if (access(dirs[n], R_OK) == 0)
            n++;
    }
#ifdef HELLODL_CATALOG_SOURCE
    snprintf(dirs[n], PATH_MAX, "%s", HELLODL_CATALOG_SOURCE);
    if (access(dirs[n], R_OK) == 0)
        n++;
#endif
    return n;
}

void catalog_dirs_describe(char *out, size_t n)
{
    char dirs[MAX_DIRS][PATH_MAX];
    int nd = catalog_dirs(dirs);
    out[0] = '\0';
    for (int i = 0; i < nd; i++) {
        size_t used = strlen(out);
        snprintf(out + used, n - used, "%s%s", i ? ", " : "", dirs[i]);
    }
    if (nd == 0)
        snprintf(out, n, "(no catalog folder found; set HELLODL_CATALOG_PATH)");
}

static bool slug_ok(const char *slug)
{
    if (!*slug || strlen(slug) > 100)
        return false;
    for (const char *p = slug; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
            return false;
    return slug[0] != '.';
}

static char *dup_or_null(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? strdup(s) : NULL;
}

static bool hex_copy(json_t *obj, const char *key, char *out, size_t width)
{
    const char *s = json_string_value(json_object_get(obj, key));
    out[0] = '\0';
    if (!s)
        return true;
    if (strlen(s) != width)
        return false;
    for (size_t i = 0; i < width; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return false;
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[width] = '\0';
    return true;
}

/* A file's path must stay inside the slug's folder. */
static bool rel_path_ok(const char *p)
{
    if (!p || !*p || p[0] == '/')
        return false;
    for (const char *c = p; *c;) {
        size_t len = strcspn(c, "/");
        if ((len == 2 && c[0] == '.' && c[1] == '.') || len == 0)
            return false;
        c += len + (c[len] == '/');
    }
    return true;
}

static bool file_parse(json_t *j, cat_file *f, char *why, size_t whylen)
{
    f->path = dup_or_null(j, "path");
    if (!rel_path_ok(f->path)) {
        snprintf(why, whylen, "a file has no \"path\", or one that leaves the dataset's folder");
        return false;
    }
    json_t *size = json_object_get(j, "size");
    f->size = json_is_integer(size) ? json_integer_value(size) : -1;
    if (!hex_copy(j, "sha256", f->sha256, 64) || !hex_copy(j, "md5", f->md5, 32)) {
        snprintf(why, whylen, "%s: \"sha256\" must be 64 hex digits and \"md5\" 32", f->path);
        return false;
    }
    if (!f->sha256[0] && !f->md5[0]) {
        snprintf(why, whylen, "%s has neither \"sha256\" nor \"md5\"", f->path);
        return false;
    }
    f->url = dup_or_null(j, "url");
    f->variable = dup_or_null(j, "variable");
    f->missing_note = dup_or_null(j, "missing_note");
    f->optional = json_is_true(json_object_get(j, "optional"));
    return true;
}

static bool archive_parse(json_t *j, cat_archive *a, char *why, size_t whylen)
{
    a->url = dup_or_null(j, "url");
    a->name = dup_or_null(j, "name");
    if (!a->url) {
        snprintf(why, whylen, "an archive has no \"url\"");
        return false;
    }
    if (!a->name) {
        const char *slash = strrchr(a->url, '/');
        a->name = strdup(slash && slash[1] ? slash + 1 : "download");
    }
    if (!rel_path_ok(a->name) || strchr(a->name, '/')) {
        snprintf(why, whylen, "archive name \"%s\" must be a plain file name", a->name);
        return false;
    }
    json_t *size = json_object_get(j, "size");
    a->size = json_is_integer(size) ? json_integer_value(size) : -1;
    if (!hex_copy(j, "sha256", a->sha256, 64)) {
        snprintf(why, whylen, "archive %s: \"sha256\" must be 64 hex digits", a->name);
        return false;
    }
    return true;
}

static bool entry_parse(json_t *root, cat_entry *e, char *why, size_t whylen)
{
    e->title = dup_or_null(root, "title");
    e->licence = dup_or_null(root, "licence");
    e->download_note = dup_or_null(root, "download_note");
    e->root = dup_or_null(root, "root");
    if (!e->root)
        e->root = strdup("");
    if (e->root[0] && !rel_path_ok(e->root)) {
        snprintf(why, whylen, "\"root\" must be a folder inside the dataset");
        return false;
    }
    json_t *src = json_object_get(root, "sources");
    e->sources = calloc(json_array_size(src) + 1, sizeof(char *));
    for (size_t i = 0; e->sources && i < json_array_size(src); i++)
        if (json_is_string(json_array_get(src, i)))
            e->sources[e->nsources++] = strdup(json_string_value(json_array_get(src, i)));
    json_t *files = json_object_get(root, "files");
    if (!json_is_array(files) || json_array_size(files) == 0) {
        snprintf(why, whylen, "it lists no \"files\"");
        return false;
    }
    e->files = calloc(json_array_size(files), sizeof(cat_file));
    for (size_t i = 0; e->files && i < json_array_size(files); i++, e->nfiles++)
        if (!file_parse(json_array_get(files, i), &e->files[i], why, whylen)) {
            e->nfiles++;
            return false;
        }
    json_t *arch = json_object_get(root, "archives");
    e->archives = calloc(json_array_size(arch) + 1, sizeof(cat_archive));
    for (size_t i = 0; e->archives && i < json_array_size(arch); i++, e->narchives++)
        if (!archive_parse(json_array_get(arch, i), &e->archives[i], why, whylen)) {
            e->narchives++;
            return false;
        }
    return e->sources && e->files && e->archives;
}

cat_entry *catalog_load(const char *slug, char *why, size_t whylen)
{
    why[0] = '\0';
    if (!slug_ok(slug))
        return NULL;
    char dirs[MAX_DIRS][PATH_MAX];
    int nd = catalog_dirs(dirs);
    for (int i = 0; i < nd; i++) {
        char path[PATH_MAX + 128];
        snprintf(path, sizeof path, "%.4000s/%.100s.json", dirs[i], slug);
        if (access(path, R_OK) != 0)
            continue;
        json_error_t jerr;
        json_t *root = json_load_file(path, 0, &jerr);
        if (!root) {
            snprintf(why, whylen, "the catalog file %s is not valid JSON (line %d: %s)",
                     path, jerr.line, jerr.text);
            return NULL;
        }
        cat_entry *e = calloc(1, sizeof *e);
        char msg[512] = "out of memory";
        bool ok = e && (e->slug = strdup(slug)) && entry_parse(root, e, msg, sizeof msg);
        json_decref(root);
        if (!ok) {
            snprintf(why, whylen, "the catalog file %s is broken: %s", path, msg);
            catalog_entry_free(e);
            return NULL;
        }
        return e;
    }
    return NULL;
}

void catalog_entry_free(cat_entry *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->nfiles; i++) {
        free(e->files[i].path);
        free(e->files[i].url);
        free(e->files[i].variable);
        free(e->files[i].missing_note);
    }
    for (int i = 0; i < e->narchives; i++) {
        free(e->archives[i].url);
        free(e->archives[i].name);
    }
    for (int i = 0; i < e->nsources; i++)
        free(e->sources[i]);
    free(e->sources);
    free(e->files);
    free(e->archives);
    free(e->slug);
    free(e->title);
    free(e->licence);
    free(e->root);
    free(e->download_note);
    free(e);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **catalog_slugs(int *n)
{
    char dirs[MAX_DIRS][PATH_MAX];
    int nd = catalog_dirs(dirs), cap = 16;
    char **out = malloc((size_t)cap * sizeof *out);
    *n = 0;
    for (int i = 0; out && i < nd; i++) {
        DIR *d = opendir(dirs[i]);
        for (struct dirent *de; d && (de = readdir(d));) {
            size_t len = strlen(de->d_name);
            if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0 || de->d_name[0] == '.')
                continue;
            if (*n == cap) {
                char **grown = realloc(out, (size_t)(cap *= 2) * sizeof *out);
                if (!grown)
                    break;
                out = grown;
            }
            out[*n] = strndup(de->d_name, len - 5);
            if (out[*n])
                (*n)++;
        }
        if (d)
            closedir(d);
    }
    if (!out)
        return NULL;
    qsort(out, (size_t)*n, sizeof *out, cmp_str);
    int w = 0;
    for (int i = 0; i < *n; i++) {
        if (w && strcmp(out[w - 1], out[i]) == 0)
            free(out[i]);
        else
            out[w++] = out[i];
    }
    *n = w;
    return out;
}

void catalog_slugs_free(char **slugs, int n)
{
    for (int i = 0; i < n; i++)
        free(slugs[i]);
    free(slugs);
}
