/*
 * unpack.h - unpacking a downloaded archive (zip, tar, tar.gz, ...) with
 * libarchive, refusing any entry that would land outside the target folder.
 *
 * The archive is read twice: the first pass checks every entry (no absolute
 * path, no ".." component, no symbolic or hard link whose target leaves the
 * folder, only files, folders and such links), the second writes. So an
 * unsafe archive writes nothing at all. Returns the process exit status
 * fetch.c documents (0, 3 unsafe, 4 unreadable) after printing the reason.
 */
#ifndef HELLODL_UNPACK_H
#define HELLODL_UNPACK_H

int unpack_archive(const char *archive, const char *dir);

#endif
