#include "utf8.h"

#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if the
 * bytes there are not a complete, well-formed sequence. */
static size_t seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) { len = 2; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { len = 3; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { len = 4; min = 0x10000; }
    else return 0;
    if (n < len) return 0;
    unsigned cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

size_t utf8_byte_offset(const char *s, size_t cp)
{
    size_t i = 0, n = strlen(s);
    const unsigned char *u = (const unsigned char *)s;
    while (cp > 0 && i < n) {
        size_t l = seq_len(u + i, n - i);
        i += l ? l : 1;
        cp--;
    }
    return i;
}

size_t utf8_codepoints(const char *s, size_t bytes)
{
    size_t i = 0, count = 0;
    const unsigned char *u = (const unsigned char *)s;
    while (i < bytes) {
        size_t l = seq_len(u + i, bytes - i);
        i += l ? l : 1;
        count++;
    }
    return count;
}

size_t utf8_complete_prefix(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    /* Look back at most 3 bytes for a lead byte whose sequence is cut off. */
    for (size_t back = 1; back <= 3 && back <= len; back++) {
        unsigned c = u[len - back];
        if ((c & 0xc0) == 0x80) continue;          /* continuation byte */
        size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        return want > back && c >= 0xc2 && c <= 0xf4 ? len - back : len;
    }
    return len;
}

json_t *utf8_json_string(const char *s, size_t len)
{
    json_t *j = json_stringn_nocheck(s, len);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t l = seq_len(u + i, len - i);
        if (!l || (l == 1 && u[i] == 0)) break;
        i += l;
    }
    if (i == len)
        return j;
    json_decref(j);
    /* Rebuild with U+FFFD (3 bytes) for each bad byte; NUL becomes U+FFFD too. */
    char *out = malloc(len * 3 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (i = 0; i < len;) {
        size_t l = seq_len(u + i, len - i);
        if (l && !(l == 1 && u[i] == 0)) {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    j = json_stringn(out, o);
    free(out);
    return j;
}
