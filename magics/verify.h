/*
 * verify.h - checking files against the catalog's digests, remembering the
 * answers so that mounting the same files again costs no hashing.
 *
 * The memory is a small text file (verified.tsv in the user cache folder):
 * one line per file that was hashed, "ALGO HEX SIZE MTIME_NS PATH". A file
 * whose size and modification time still match its line is taken to have
 * that digest; any change means it is hashed again. The file is rewritten
 * whole (a temporary file, then rename), so a concurrent reader sees either
 * the old or the new version.
 *
 * Ownership: verify_cache_open returns a new cache (verify_cache_close
 * saves it when it changed, then frees it).
 */
#ifndef HELLODL_VERIFY_H
#define HELLODL_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

typedef struct verify_cache verify_cache;

/* `file` may be NULL: then nothing is remembered. Never fails. */
verify_cache *verify_cache_open(const char *file);
void verify_cache_close(verify_cache *vc);

/* Digest of `path` in lower-case hex ("sha256": 64 digits, "md5": 32) into
 * hex (at least 65 bytes), from the cache when the file is unchanged.
 * *size gets the file's size. False with *why set when it cannot be read. */
bool verify_digest(verify_cache *vc, const char *path, const char *algo, char *hex,
                   long long *size, char *why, size_t whylen);

#endif
