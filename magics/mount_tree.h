/*
 * mount_tree.h - the short description %mount prints of a mounted dataset:
 * where it was found, its folders with images per class, the range of image
 * sizes, identical files in plain words, and which catalogued files are
 * missing and what that means. Reads the files; changes nothing.
 */
#ifndef HELLODL_MOUNT_TREE_H
#define HELLODL_MOUNT_TREE_H

#include "catalog.h"
#include "sink.h"

/* found: (e->nfiles) full paths, NULL for missing files (borrowed).
 * root: the folder bound to `name`; where: where it was found, in words
 * ("a folder of HELLODL_DATA_PATH"). download_why: why missing files were
 * not downloaded ("" when there was no reason to say). */
void mount_tree_print(const lang_sink *sink, const cat_entry *e, const char *const *found,
                      const char *root, const char *name, const char *where,
                      const char *download_why);

#endif
