/*
 * catalog.h - the dataset catalog: one JSON file per slug in datasets/.
 *
 * An entry says what a dataset or weights collection is (title, licence,
 * sources), which folder inside it `%mount` binds (`root`), and every file
 * it holds with its size and digest (sha256, or Keras' published md5 where
 * that is all there is). Files may carry a download `url`, a `variable`
 * that %mount binds to the file's full path, and `optional` with a
 * `missing_note` saying what its absence means. `archives` lists archives
 * whose contents, unpacked into the slug's folder, are the files.
 *
 * Where catalogs live, in order: the colon-separated directories of
 * HELLODL_CATALOG_PATH when it is set (tests use it); otherwise
 * ../share/hellodl/datasets beside the running executable (an install),
 * then the source tree's datasets/ (a build tree).
 *
 * Ownership: catalog_load returns a new entry (catalog_entry_free);
 * catalog_slugs returns a new list (catalog_slugs_free).
 */
#ifndef HELLODL_CATALOG_H
#define HELLODL_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cat_file {
    char *path;            /* relative to the slug's folder: "data/val/abd/abd3.png" */
    long long size;        /* bytes; -1 when the catalog does not say */
    char sha256[65];       /* lower-case hex, or "" */
    char md5[33];          /* lower-case hex, or "" */
    char *url;             /* direct download, or NULL */
    char *variable;        /* bound to the file's full path by %mount, or NULL */
    char *missing_note;    /* what its absence means, or NULL */
    bool optional;
} cat_file;

typedef struct cat_archive {
    char *url;
    char *name;            /* file name in the download folder */
    long long size;        /* -1 when unknown */
    char sha256[65];       /* of the archive itself, or "" */
} cat_archive;

typedef struct cat_entry {
    char *slug, *title, *licence, *root, *download_note;
    char **sources;
    int nsources;
    cat_file *files;
    int nfiles;
    cat_archive *archives;
    int narchives;
} cat_entry;

/* Load the entry for `slug`. NULL when there is none (why: "") or when its
 * file is broken (why says what is wrong). */
cat_entry *catalog_load(const char *slug, char *why, size_t whylen);
void catalog_entry_free(cat_entry *e);

/* Every slug in every catalog directory, sorted, without repeats. */
char **catalog_slugs(int *n);
void catalog_slugs_free(char **slugs, int n);

/* The catalog directories that exist, joined with ", " (for messages). */
void catalog_dirs_describe(char *out, size_t n);

#endif
