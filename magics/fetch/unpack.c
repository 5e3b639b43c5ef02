/*
 * unpack.c - safe archive extraction for hellodl-fetch (see unpack.h).
 */
#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Depth of a relative path after walking its components lexically from
 * `depth` folders deep; -1 as soon as it climbs above the top. */
static int walk(const char *path, int depth)
{
    for (const char *c = path; *c;) {
        size_t len = strcspn(c, "/");
        if (len == 2 && c[0] == '.' && c[1] == '.') {
            if (--depth < 0)
                return -1;
        } else if (len && !(len == 1 && c[0] == '.')) {
            depth++;
        }
        c += len + (c[len] == '/');
    }
    return depth;
}

static bool has_dotdot(const char *path)
{
    for (const char *c = path; *c;) {
        size_t len = strcspn(c, "/");
        if (len == 2 && c[0] == '.' && c[1] == '.')
            return true;
        c += len + (c[len] == '/');
    }
    return false;
}

/* Why the entry is unsafe, or NULL. */
static const char *entry_problem(struct archive_entry *e)
{
    const char *name = archive_entry_pathname(e);
    if (!name || !*name)
        return "it has no name";
    if (name[0] == '/')
        return "its path is absolute";
    if (has_dotdot(name))
        return "its path climbs out with '..'";
    const char *hard = archive_entry_hardlink(e);
    if (hard && (hard[0] == '/' || walk(hard, 0) < 0))
        return "it is a hard link to a file outside the folder";
    mode_t type = archive_entry_filetype(e);
    if (type == AE_IFLNK) {
        const char *target = archive_entry_symlink(e);
        /* the link sits in its entry's folder: count that folder's depth */
        int depth = walk(name, 0) - 1;
        if (!target || target[0] == '/' || walk(target, depth < 0 ? 0 : depth) < 0)
            return "it is a symbolic link pointing outside the folder";
        return NULL;
    }
    if (type != AE_IFREG && type != AE_IFDIR && !hard)
        return "it is a device, pipe or other special file";
    return NULL;
}

static struct archive *open_reader(const char *path)
{
    struct archive *a = archive_read_new();
    if (!a)
        return NULL;
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        fprintf(stderr, "cannot open the archive %s: %s\n", path, archive_error_string(a));
        archive_read_free(a);
        return NULL;
    }
    return a;
}

/* First pass: 0 when every entry is safe. */
static int check_all(const char *path)
{
    struct archive *a = open_reader(path);
    if (!a)
        return 4;
    struct archive_entry *e;
    int r, status = 0;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *why = entry_problem(e);
        if (why) {
            fprintf(stderr, "refused to unpack %s: the entry \"%s\" would be written outside "
                    "the dataset's folder (%s). This is the \"zip slip\" attack or a broken "
                    "archive; nothing was unpacked.\n", path, archive_entry_pathname(e), why);
            status = 3;
            break;
        }
    }
    if (status == 0 && r != ARCHIVE_EOF) {
        fprintf(stderr, "the archive %s is damaged or not an archive: %s\n", path,
                archive_error_string(a));
        status = 4;
    }
    archive_read_free(a);
    return status;
}

static int copy_data(struct archive *in, struct archive *out)
{
    const void *buf;
    size_t size;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(in, &buf, &size, &off)) == ARCHIVE_OK)
        if (archive_write_data_block(out, buf, size, off) != ARCHIVE_OK)
            return ARCHIVE_FATAL;
    return r == ARCHIVE_EOF ? ARCHIVE_OK : r;
}

/* Second pass: write the entries into the current folder (libarchive's own
 * checks on as well). */
static int extract_all(const char *path)
{
    struct archive *a = open_reader(path);
    struct archive *w = archive_write_disk_new();
    if (!a || !w) {
        archive_read_free(a);
        archive_write_free(w);
        return 4;
    }
    archive_write_disk_set_options(w, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS
                                   | ARCHIVE_EXTRACT_SECURE_NODOTDOT
                                   | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
    struct archive_entry *e;
    int r = ARCHIVE_EOF, n = 0, status = 0;
    while (status == 0 && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        if (archive_write_header(w, e) != ARCHIVE_OK
            || (archive_entry_size(e) > 0 && copy_data(a, w) != ARCHIVE_OK)
            || archive_write_finish_entry(w) != ARCHIVE_OK) {
            fprintf(stderr, "unpacking %s failed at %s: %s\n", path, archive_entry_pathname(e),
                    archive_error_string(w) ? archive_error_string(w) : archive_error_string(a));
            status = 4;
        } else {
            printf("entry %d %s\n", ++n, archive_entry_pathname(e));
            fflush(stdout);
        }
    }
    if (status == 0 && r != ARCHIVE_EOF) {
        fprintf(stderr, "the archive %s is damaged: %s\n", path, archive_error_string(a));
        status = 4;
    }
    archive_read_free(a);
    archive_write_free(w);
    return status;
}

int unpack_archive(const char *archive, const char *dir)
{
    char *abs = realpath(archive, NULL);
    if (!abs) {
        fprintf(stderr, "cannot find the archive %s\n", archive);
        return 4;
    }
    int status = check_all(abs);
    /* This process only unpacks: working inside the target keeps every
     * path relative, as the secure-extraction flags require. */
    if (status == 0 && chdir(dir) != 0) {
        fprintf(stderr, "cannot enter %s to unpack into it\n", dir);
        status = 4;
    }
    if (status == 0)
        status = extract_all(abs);
    free(abs);
    if (status == 0)
        printf("done\n");
    return status;
}
