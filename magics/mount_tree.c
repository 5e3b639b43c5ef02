/*
 * mount_tree.c - what %mount says about a dataset (see mount_tree.h).
 */
#include "mount_tree.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "dataset.h"
#include "pngio.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The visible subfolders of dir, sorted; caller frees. */
static char **subfolders(const char *dir, int *n)
{
    DIR *d = opendir(dir);
    char **v = NULL;
    int cap = 0;
    *n = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        char p[PATH_MAX * 2];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (de->d_name[0] == '.' || stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (*n == cap) {
            char **grown = realloc(v, (size_t)(cap = cap ? cap * 2 : 8) * sizeof *v);
            if (!grown)
                break;
            v = grown;
        }
        if ((v[*n] = strdup(de->d_name)))
            (*n)++;
    }
    if (d)
        closedir(d);
    if (v)
        qsort(v, (size_t)*n, sizeof *v, cmp_str);
    return v;
}

/* "  train/  65 images  abd 32, chst 33" */
static void print_folder(const lang_sink *sink, const char *root, const char *sub, int width)
{
    char dir[PATH_MAX * 2];
    snprintf(dir, sizeof dir, "%s/%s", root, sub);
    rt_dataset_summary *s = NULL;
    if (rt_dataset_summarize(dir, &s) != RT_OK) {
        sink_printf(sink, "stdout", "  %s/  (cannot be read)\n", sub);
        return;
    }
    char line[2048];
    int used = snprintf(line, sizeof line, "  %s/%*s %3d image%s", sub,
                        width - (int)strlen(sub), "", s->total, s->total == 1 ? " " : "s");
    for (int k = 0; k < s->n_classes && used < (int)sizeof line - 80; k++)
        used += snprintf(line + used, sizeof line - (size_t)used, "%s%s %d", k ? ", " : "  ",
                         s->class_names[k], s->class_counts[k]);
    if (s->n_classes && s->n_loose && used < (int)sizeof line - 80)
        snprintf(line + used, sizeof line - (size_t)used, ", %d loose", s->n_loose);
    sink_printf(sink, "stdout", "%s\n", line);
    rt_dataset_summary_free(s);
}

static bool is_png(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && strcasecmp(path + n - 4, ".png") == 0;
}

/* Width and height ranges of the PNG files among found, from headers. */
static void print_sizes(const lang_sink *sink, const cat_entry *e, const char *const *found)
{
    int wmin = 0, wmax = 0, hmin = 0, hmax = 0, n = 0;
    unsigned char head[4096];
    for (int i = 0; i < e->nfiles; i++) {
        if (!found[i] || !is_png(found[i]))
            continue;
        FILE *f = fopen(found[i], "rb");
        size_t got = f ? fread(head, 1, sizeof head, f) : 0;
        if (f)
            fclose(f);
        int h, w;
        if (rt_png_size_read(head, got, found[i], &h, &w) != RT_OK)
            continue;
        wmin = n && wmin < w ? wmin : w;
        wmax = n && wmax > w ? wmax : w;
        hmin = n && hmin < h ? hmin : h;
        hmax = n && hmax > h ? hmax : h;
        n++;
    }
    if (n == 0)
        return;
    if (wmin == wmax && hmin == hmax)
        sink_printf(sink, "stdout", "Image size: all %d images are %d x %d pixels (width x "
                    "height).\n", n, wmin, hmin);
    else
        sink_printf(sink, "stdout", "Image sizes vary: %d to %d pixels wide, %d to %d high "
                    "(the generators resize them).\n", wmin, wmax, hmin, hmax);
}

/* "val/abd/abd4.png" -> "val" */
static void top_folder(const char *rel, char *out, size_t n)
{
    size_t len = strcspn(rel, "/");
    snprintf(out, n, "%.*s", rel[len] ? (int)len : 0, rel);
}

static void print_duplicates(const lang_sink *sink, const rt_dataset_summary *s)
{
    if (s->n_duplicates == 0) {
        sink_printf(sink, "stdout", "Duplicates: none (no two files are identical).\n");
        return;
    }
    sink_printf(sink, "stdout", "Duplicates: %d file%s %s an exact copy of another:\n",
                s->n_duplicates, s->n_duplicates == 1 ? "" : "s",
                s->n_duplicates == 1 ? "is" : "are");
    for (int k = 0; k < s->n_duplicates; k++) {
        char a[256], b[256];
        top_folder(s->dup_of[k], a, sizeof a);
        top_folder(s->dup_file[k], b, sizeof b);
        sink_printf(sink, "stdout", "  %s and %s are the same image, byte for byte.\n",
                    s->dup_of[k], s->dup_file[k]);
        if (strcmp(a, b) != 0)
            sink_printf(sink, "stdout", "  An image in both %s/ and %s/ makes the results on "
                        "%s/ look better than they are.\n", a, b, b);
    }
    for (int k = 0; k < s->n_classes; k++) {
        int dups = 0;
        for (int d = 0; d < s->n_duplicates; d++) {
            char a[256], b[256];
            top_folder(s->dup_of[d], a, sizeof a);
            top_folder(s->dup_file[d], b, sizeof b);
            dups += strcmp(a, b) == 0 && strcmp(a, s->class_names[k]) == 0;
        }
        if (dups)
            sink_printf(sink, "stdout", "  So %s/ holds %d different images, not %d.\n",
                        s->class_names[k], s->class_counts[k] - dups, s->class_counts[k]);
    }
}

static void print_images(const lang_sink *sink, const cat_entry *e, const char *const *found,
                         const char *root, const rt_dataset_summary *s)
{
    int n = 0, width = 0;
    char **subs = subfolders(root, &n);
    for (int i = 0; i < n; i++)
        width = (int)strlen(subs[i]) > width ? (int)strlen(subs[i]) : width;
    for (int i = 0; i < n; i++)
        print_folder(sink, root, subs[i], width);
    if (s->n_loose)
        sink_printf(sink, "stdout", "  %d image%s directly in the folder\n", s->n_loose,
                    s->n_loose == 1 ? "" : "s");
    for (int i = 0; i < n; i++)
        free(subs[i]);
    free(subs);
    print_sizes(sink, e, found);
    print_duplicates(sink, s);
}

static void print_files(const lang_sink *sink, const cat_entry *e, const char *const *found)
{
    for (int i = 0; i < e->nfiles; i++) {
        if (!found[i])
            continue;
        const cat_file *f = &e->files[i];
        sink_printf(sink, "stdout", "  %s  %.1f MB%s%s%s\n", f->path, (double)f->size / 1e6,
                    f->variable ? "  (" : "", f->variable ? f->variable : "",
                    f->variable ? " is its full path)" : "");
    }
}

static void print_missing(const lang_sink *sink, const cat_entry *e, const char *const *found,
                          const char *download_why)
{
    for (int i = 0; i < e->nfiles; i++) {
        const cat_file *f = &e->files[i];
        if (found[i])
            continue;
        sink_printf(sink, "stdout", "Missing (optional): %s", f->path);
        if (f->size > 0)
            sink_printf(sink, "stdout", " (%.1f MB)", (double)f->size / 1e6);
        sink_printf(sink, "stdout", "%s%s%s\n", f->variable ? "; " : "",
                    f->variable ? f->variable : "", f->variable ? " is null" : "");
        if (download_why && download_why[0])
            sink_printf(sink, "stdout", "  Not downloaded: %s.\n", download_why);
        if (f->missing_note)
            sink_printf(sink, "stdout", "  What this means: %s\n", f->missing_note);
    }
}

void mount_tree_print(const lang_sink *sink, const cat_entry *e, const char *const *found,
                      const char *root, const char *name, const char *where,
                      const char *download_why)
{
    int present = 0;
    for (int i = 0; i < e->nfiles; i++)
        present += found[i] != NULL;
    sink_printf(sink, "stdout", "%s: %s\n", e->slug, e->title ? e->title : "");
    sink_printf(sink, "stdout", "%d of %d files found in %s; every checksum matches.\n",
                present, e->nfiles, where);
    rt_dataset_summary *s = NULL;
    bool images = rt_dataset_summarize(root, &s) == RT_OK && s->total > 0;
    sink_printf(sink, "stdout", "`%s` is %s:\n", name,
                e->root[0] ? "its data folder" : "its folder");
    if (images)
        print_images(sink, e, found, root, s);
    else
        print_files(sink, e, found);
    rt_dataset_summary_free(s);
    print_missing(sink, e, found, download_why);
}
