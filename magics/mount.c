/*
 * mount.c - `%mount SLUG [as NAME]`: find a catalogued dataset on disk (or
 * download it), check every file against the catalog, bind a variable to
 * its folder and describe what is in it.
 *
 * Where files are looked for, in order: DIR/SLUG/... for each DIR of
 * HELLODL_DATA_PATH, then the user cache CACHE/SLUG/... (CACHE is
 * $XDG_CACHE_HOME/hellodl or ~/.cache/hellodl). Each file is taken from
 * the first place that has it. Files still missing are downloaded into the
 * cache when the catalog knows a URL and HELLODL_ALLOW_DOWNLOAD is not 0
 * (through the hellodl-fetch helper; see fetch_run.h). Every file is then
 * checked against its sha256 (or md5) - remembered by size and modification
 * time in CACHE/verified.tsv, so mounting again is instant - and any
 * mismatch refuses the mount, naming the file.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "fetch_run.h"
#include "magics.h"
#include "mount_tree.h"
#include "verify.h"

#define MAX_LOCS 16

typedef struct mount {
    magic_ctx *mx;
    cat_entry *e;
    char cache[PATH_MAX];           /* CACHE; "" when there is no home */
    char locs[MAX_LOCS][PATH_MAX];  /* LOC/SLUG, in search order; the cache last */
    int nlocs;
    char **found;                   /* (nfiles) full path, or NULL when missing */
    int *found_in;                  /* (nfiles) index into locs, or -1 */
    char download_why[1024];        /* why missing files were not downloaded */
} mount;

static void cache_base(char *out, size_t n)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        snprintf(out, n, "%s/hellodl", xdg);
    else if (home && *home)
        snprintf(out, n, "%s/.cache/hellodl", home);
    else
        out[0] = '\0';
}

/* mkdir -p; true when the folder exists afterwards. */
static bool make_dirs(const char *path)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return false;
        *s = '/';
    }
    return mkdir(p, 0755) == 0 || errno == EEXIST;
}

static void locations_init(mount *m)
{
    const char *dp = getenv("HELLODL_DATA_PATH");
    for (const char *p = dp ? dp : ""; *p && m->nlocs < MAX_LOCS - 1;) {
        size_t len = strcspn(p, ":");
        if (len)
            snprintf(m->locs[m->nlocs++], PATH_MAX, "%.*s/%s", (int)len, p, m->e->slug);
        p += len + (p[len] == ':');
    }
    cache_base(m->cache, sizeof m->cache);
    if (m->cache[0])
        snprintf(m->locs[m->nlocs++], PATH_MAX, "%.*s/%s", PATH_MAX - 110, m->cache, m->e->slug);
}

static bool is_cache(const mount *m, int loc)
{
    return m->cache[0] && loc == m->nlocs - 1;
}

/* Fill found[] from the locations; returns how many required files lack. */
static int locate(mount *m)
{
    int missing = 0;
    for (int i = 0; i < m->e->nfiles; i++) {
        free(m->found[i]);
        m->found[i] = NULL;
        m->found_in[i] = -1;
        for (int l = 0; l < m->nlocs && !m->found[i]; l++) {
            char p[PATH_MAX * 2];
            snprintf(p, sizeof p, "%s/%s", m->locs[l], m->e->files[i].path);
            if (access(p, R_OK) == 0 && (m->found[i] = strdup(p)))
                m->found_in[i] = l;
        }
        missing += !m->found[i] && !m->e->files[i].optional;
    }
    return missing;
}

/* ---- downloading what is missing ---- */

static bool download_archives(mount *m, char *why, size_t whylen)
{
    char dl_dir[PATH_MAX], dest[PATH_MAX], slug_dir[PATH_MAX];
    snprintf(dl_dir, sizeof dl_dir, "%.*s/.downloads/%s", PATH_MAX - 120, m->cache, m->e->slug);
    snprintf(slug_dir, sizeof slug_dir, "%s", m->locs[m->nlocs - 1]);
    if (!make_dirs(dl_dir) || !make_dirs(slug_dir)) {
        snprintf(why, whylen, "cannot create the cache folder %.900s", dl_dir);
        return false;
    }
    for (int k = 0; k < m->e->narchives; k++) {
        cat_archive *a = &m->e->archives[k];
        snprintf(dest, sizeof dest, "%.*s/%s", PATH_MAX - 110, dl_dir, a->name);
        if (!fetch_download(m->mx->sink, a->url, dest, a->name, a->size, why, whylen))
            return false;
        char hex[65];
        long long size;
        if (a->sha256[0] && (!verify_digest(NULL, dest, "sha256", hex, &size, why, whylen)
                             || strcmp(hex, a->sha256) != 0)) {
            unlink(dest);
            snprintf(why, whylen, "the downloaded archive %s does not match the catalog's "
                     "sha256 (it was deleted; try again later or tell the course organiser)",
                     a->name);
            return false;
        }
        bool ok = fetch_unpack(m->mx->sink, dest, slug_dir, why, whylen);
        unlink(dest);
        if (!ok)
            return false;
    }
    return true;
}

static bool download_files(mount *m, char *why, size_t whylen)
{
    locate(m);    /* an archive may have brought some of them */
    for (int i = 0; i < m->e->nfiles; i++) {
        cat_file *f = &m->e->files[i];
        if (m->found[i] || !f->url)
            continue;
        char dest[PATH_MAX * 2];
        snprintf(dest, sizeof dest, "%s/%s", m->locs[m->nlocs - 1], f->path);
        char *slash = strrchr(dest, '/');
        *slash = '\0';
        bool dir_ok = make_dirs(dest);
        *slash = '/';
        if (!dir_ok) {
            snprintf(why, whylen, "cannot create a folder for %s in the cache", f->path);
            return false;
        }
        if (!fetch_download(m->mx->sink, f->url, dest, slash + 1, f->size, why, whylen))
            return false;
    }
    return true;
}

/* Download what is missing when that is possible and allowed; `required`
 * is how many required files locate() found missing. The reason nothing was
 * downloaded (or the download failed) is kept for the report. Returns false
 * only for an interrupt, which ends the cell. */
static bool fetch_missing(mount *m, int required)
{
    bool any_url = m->e->narchives > 0, any_missing = false;
    for (int i = 0; i < m->e->nfiles; i++) {
        any_missing |= !m->found[i];
        any_url |= !m->found[i] && m->e->files[i].url;
    }
    if (!any_missing)
        return true;
    if (!any_url) {
        snprintf(m->download_why, sizeof m->download_why, "the catalog knows no download for them");
        return true;
    }
    if (!magics_allowed("HELLODL_ALLOW_DOWNLOAD")) {
        snprintf(m->download_why, sizeof m->download_why,
                 "downloading is turned off here (HELLODL_ALLOW_DOWNLOAD=0)");
        return true;
    }
    if (!m->cache[0]) {
        snprintf(m->download_why, sizeof m->download_why, "there is no cache folder (HOME is not set)");
        return true;
    }
    char why[1024] = "";
    bool ok = (required == 0 || m->e->narchives == 0 || download_archives(m, why, sizeof why))
              && download_files(m, why, sizeof why);
    if (!ok)
        snprintf(m->download_why, sizeof m->download_why, "%s", why);
    locate(m);
    if (lang_interrupted()) {
        lang_interrupt_clear();
        return magic_error(m->mx, "KeyboardInterrupt", "%%mount %s was interrupted; what "
                           "was downloaded is kept and running the cell again resumes it",
                           m->e->slug);
    }
    return true;
}

/* ---- checking ---- */

static bool check_file(mount *m, verify_cache *vc, int i)
{
    cat_file *f = &m->e->files[i];
    const char *algo = f->sha256[0] ? "sha256" : "md5";
    char hex[65], why[1024];
    long long size;
    if (!verify_digest(vc, m->found[i], algo, hex, &size, why, sizeof why)) {
        if (lang_interrupted()) {
            lang_interrupt_clear();
            return magic_error(m->mx, "KeyboardInterrupt", "%%mount %s was interrupted while "
                               "checking its files", m->e->slug);
        }
        return magic_error(m->mx, "OSError", "%s; %%mount %s cannot go on", why, m->e->slug);
    }
    if ((f->size < 0 || size == f->size) && strcmp(hex, f->sha256[0] ? f->sha256 : f->md5) == 0)
        return true;
    return magic_error(m->mx, "ChecksumError",
                       "%s is not the file the catalog describes (%s%s); it is damaged or was "
                       "changed, so %s was not mounted. %s", m->found[i],
                       f->size >= 0 && size != f->size ? "its size differs" : "its ",
                       f->size >= 0 && size != f->size ? "" : f->sha256[0] ? "sha256 differs"
                                                                           : "md5 differs",
                       m->e->slug,
                       is_cache(m, m->found_in[i]) ? "Delete it and mount again to download "
                       "it afresh." : "Restore the original file, or ask whoever provides "
                       "the data for a fresh copy.");
}

static bool check_all(mount *m)
{
    char file[PATH_MAX];
    bool have_cache = m->cache[0] && make_dirs(m->cache);
    snprintf(file, sizeof file, "%.*s/verified.tsv", PATH_MAX - 20, m->cache);
    verify_cache *vc = verify_cache_open(have_cache ? file : NULL);
    bool ok = true;
    for (int i = 0; ok && i < m->e->nfiles; i++)
        if (m->found[i])
            ok = check_file(m, vc, i);
    verify_cache_close(vc);
    return ok;
}

/* ---- the magic ---- */

static bool unknown_slug(magic_ctx *mx, const char *slug)
{
    int n = 0;
    char **slugs = catalog_slugs(&n);
    char list[2048] = "", dirs[2048];
    for (int i = 0; i < n; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", slugs[i]);
    }
    const char *near = n ? lang_suggest(slug, (const char *const *)slugs, n) : NULL;
    catalog_dirs_describe(dirs, sizeof dirs);
    if (near)
        magic_error(mx, "KeyError", "there is no dataset \"%s\" in the catalog; did you mean "
                    "%s? Known datasets: %s", slug, near, list);
    else if (n)
        magic_error(mx, "KeyError", "there is no dataset \"%s\" in the catalog. Known "
                    "datasets: %s", slug, list);
    else
        magic_error(mx, "KeyError", "there is no dataset \"%s\": the catalog is empty or "
                    "missing (looked in %s)", slug, dirs);
    catalog_slugs_free(slugs, n);
    return false;
}

static bool parse_args(magic_ctx *mx, const char *args, char *slug, char *name)
{
    char extra[64] = "", as[8] = "";
    slug[0] = '\0';
    strcpy(name, "path");
    int n = sscanf(args, "%255s %7s %63s %63s", slug, as, name, extra);
    bool name_ok = isalpha((unsigned char)name[0]) || name[0] == '_';
    for (const char *p = name; *p; p++)
        name_ok &= isalnum((unsigned char)*p) || *p == '_';
    if (n == 1 || (n == 3 && strcmp(as, "as") == 0 && name_ok))
        return true;
    if (n < 1)
        return magic_error(mx, "UsageError", "%%mount needs a dataset's name, e.g. "
                           "%%mount hello-world-deep-learning-siim");
    return magic_error(mx, "UsageError", "%%mount takes a dataset's name and optionally "
                       "`as NAME` for the variable, e.g. %%mount hello-world-deep-learning-siim "
                       "as data_dir");
}

static bool missing_required(mount *m)
{
    int n = 0, first = -1;
    for (int i = 0; i < m->e->nfiles; i++)
        if (!m->found[i] && !m->e->files[i].optional) {
            first = first < 0 ? i : first;
            n++;
        }
    if (n == 0)
        return false;
    char where[4096] = "";
    for (int l = 0; l < m->nlocs; l++) {
        size_t used = strlen(where);
        snprintf(where + used, sizeof where - used, "%s%s", l ? ", " : "", m->locs[l]);
    }
    magic_error(m->mx, "FileNotFoundError", "%d of the %d files of %s %s missing (e.g. %s); "
                "looked in %s. %s%s%s", n, m->e->nfiles, m->e->slug, n == 1 ? "is" : "are",
                m->e->files[first].path, where[0] ? where : "(no folder: HELLODL_DATA_PATH "
                "and HOME are unset)", m->download_why[0] ? "Not downloaded: " : "",
                m->download_why, m->e->download_note ? m->e->download_note : "");
    return true;
}

static bool bind_results(mount *m, const char *name, char *root, size_t rootlen)
{
    int home = -1;
    for (int i = 0; i < m->e->nfiles && home < 0; i++)
        home = m->found_in[i];
    snprintf(root, rootlen, "%s%s%s", m->locs[home < 0 ? 0 : home], m->e->root[0] ? "/" : "",
             m->e->root);
    lang_value v = lang_string_from(root);
    bool ok = lang_global_set(m->mx->session, name, v);
    lang_value_decref(v);
    for (int i = 0; ok && i < m->e->nfiles; i++) {
        if (!m->e->files[i].variable)
            continue;
        v = m->found[i] ? lang_string_from(m->found[i]) : lang_null();
        ok = lang_global_set(m->mx->session, m->e->files[i].variable, v);
        lang_value_decref(v);
    }
    return ok || magic_error(m->mx, "MemoryError", "out of memory while binding %s", name);
}

static bool mount_do(mount *m, const char *name)
{
    if (!fetch_missing(m, locate(m)) || missing_required(m) || !check_all(m))
        return false;
    char root[PATH_MAX * 2];
    if (!bind_results(m, name, root, sizeof root))
        return false;
    bool in_cache = false, in_path = false;
    for (int i = 0; i < m->e->nfiles; i++) {
        in_cache |= m->found_in[i] >= 0 && is_cache(m, m->found_in[i]);
        in_path |= m->found_in[i] >= 0 && !is_cache(m, m->found_in[i]);
    }
    char where[PATH_MAX + 64];
    snprintf(where, sizeof where, "%s%.*s%s", in_cache && in_path ? "HELLODL_DATA_PATH and "
             "your cache (" : in_cache ? "your cache (" : "a folder of HELLODL_DATA_PATH",
             in_cache ? PATH_MAX - 8 : 0, m->cache, in_cache ? ")" : "");
    mount_tree_print(m->mx->sink, m->e, (const char *const *)m->found, root, name, where,
                     m->download_why);
    return true;
}

static bool mount_run(magic_ctx *mx, const char *args, const char *body)
{
    (void)body;
    char slug[256], name[64], why[1024];
    if (!parse_args(mx, args, slug, name))
        return false;
    cat_entry *e = catalog_load(slug, why, sizeof why);
    if (!e)
        return why[0] ? magic_error(mx, "ValueError", "%s", why) : unknown_slug(mx, slug);
    mount m = { .mx = mx, .e = e };
    m.found = calloc((size_t)e->nfiles, sizeof *m.found);
    m.found_in = calloc((size_t)e->nfiles, sizeof *m.found_in);
    bool ok = m.found && m.found_in ? (locations_init(&m), mount_do(&m, name))
                                    : magic_error(mx, "MemoryError", "out of memory");
    for (int i = 0; m.found && i < e->nfiles; i++)
        free(m.found[i]);
    free(m.found);
    free(m.found_in);
    catalog_entry_free(e);
    return ok;
}

const magic_def magic_mount = {
    "mount", "%mount SLUG [as NAME]",
    "Makes a catalogued dataset or weights collection available and describes it.\n"
    "\n"
    "  %mount hello-world-deep-learning-siim          binds `path` to the data folder\n"
    "  %mount hello-world-deep-learning-siim as data  binds `data` instead\n"
    "  %mount keras-pretrained-models                 also binds inception_weights and\n"
    "                                                 mobilenet_weights (null if missing)\n"
    "\n"
    "The catalog (datasets/*.json) lists every file with its size and checksum. The files\n"
    "are looked for in each folder of HELLODL_DATA_PATH (as FOLDER/SLUG/...) and in your\n"
    "cache (~/.cache/hellodl/SLUG). Missing files with a known address are downloaded into\n"
    "the cache (set HELLODL_ALLOW_DOWNLOAD=0 to forbid it); an interrupted download resumes\n"
    "next time. Every file's checksum is checked (then remembered, so mounting again is\n"
    "instant); a file that does not match stops the mount and is named. The summary shows\n"
    "the folders, images per class, image sizes and any identical files.",
    mount_run, true, false,
};
