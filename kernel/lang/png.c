/*
 * png.c - display_png(): read a PNG file whole (no decoding: the frontend
 * draws it) and send it as image/png with a text/plain fallback. Relative
 * paths are also looked up in the session's data path.
 */
#include "vm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PNG_MAX_BYTES ((long)64 << 20)

static unsigned be32(const unsigned char *p)
{
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

bool png_display_file(lang_ctx *cx, const char *path, const char *title)
{
    static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    char found[1024];
    if (!*path) return lang_raise(cx, "ValueError", "display_png() needs a file name");
    lang_ctx_find_file(cx, path, found, sizeof found);
    FILE *f = fopen(found, "rb");
    if (!f) return lang_raise(cx, "FileNotFoundError", "no such file: \"%s\" (looked in the "
                              "notebook's folder and the data path); check its name", path);
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || size > PNG_MAX_BYTES || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return lang_raise(cx, "ValueError", "\"%s\" is not a readable file of at most 64 MiB", path);
    }
    unsigned char *data = malloc((size_t)size + 1);
    size_t got = data ? fread(data, 1, (size_t)size, f) : 0;
    fclose(f);
    if (!data) return lang_raise(cx, "MemoryError", "out of memory reading \"%s\"", path);
    if (got != (size_t)size || got < 8 || memcmp(data, sig, 8) != 0) {
        free(data);
        return lang_raise(cx, "ValueError", "\"%s\" is not a PNG file (its first 8 bytes are "
                          "not the PNG signature)", path);
    }
    lang_bundle b;
    memset(&b, 0, sizeof b);
    char text[1200];
    unsigned w = got >= 24 ? be32(data + 16) : 0, h = got >= 24 ? be32(data + 20) : 0;
    snprintf(text, sizeof text, "<PNG image %ux%u: %s>", w, h, title ? title : path);
    b.items[b.n++] = (lang_mime){ "image/png", (const char *)data, got, true };
    b.items[b.n++] = (lang_mime){ "text/plain", text, strlen(text), false };
    sink_display(lang_ctx_sink(cx), &b, NULL, false);
    free(data);
    return true;
}
