/*
 * utf8.h - UTF-8 helpers for the wire: Jupyter counts cursor positions in
 * Unicode code points while the language works in bytes, and every string
 * put into JSON must be valid UTF-8 whatever a cell or a C library printed.
 */
#ifndef HELLODL_UTF8_H
#define HELLODL_UTF8_H

#include <jansson.h>
#include <stddef.h>

/* Byte offset of code point index `cp` in s (clamped to strlen(s)). */
size_t utf8_byte_offset(const char *s, size_t cp);
/* Number of code points in the first `bytes` bytes of s. */
size_t utf8_codepoints(const char *s, size_t bytes);
/* Length of the longest prefix of s[0..len) that does not end inside an
 * incomplete multi-byte sequence (invalid bytes count as complete). */
size_t utf8_complete_prefix(const char *s, size_t len);
/* A JSON string of s[0..len), invalid sequences replaced by U+FFFD.
 * New reference; NULL only on OOM. */
json_t *utf8_json_string(const char *s, size_t len);

#endif
