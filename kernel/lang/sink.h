/*
 * sink.h - how the cell language reaches the outside world.
 *
 * The language and the magics never see a socket or a JSON value: everything
 * a cell shows goes through one lang_sink that the caller provides (the
 * Jupyter kernel in kernel/, the terminal runner in `hellodl run`, the test
 * programs). All strings passed to a sink are borrowed for the duration of
 * the call; the sink copies what it keeps.
 */
#ifndef HELLODL_SINK_H
#define HELLODL_SINK_H

#include <stdbool.h>
#include <stddef.h>

/* One representation of a value: "text/plain", "image/png", "text/html"...
 * `binary` data (image/png) is raw bytes; the kernel base64-encodes it. */
typedef struct lang_mime {
    const char *mime;
    const char *data;
    size_t len;
    bool binary;
} lang_mime;

#define LANG_BUNDLE_MAX 6

/* A mimebundle: the same thing in up to LANG_BUNDLE_MAX representations,
 * plus optional metadata for image/png (0 = unset). */
typedef struct lang_bundle {
    int n;
    lang_mime items[LANG_BUNDLE_MAX];
    int width, height;
} lang_bundle;

typedef struct lang_sink {
    void *ctx;
    /* Text for "stdout" or "stderr". The sink may coalesce. */
    void (*stream)(void *ctx, const char *name, const char *text, size_t len);
    /* display_data (update = false) or update_display_data (update = true).
     * display_id may be NULL for an anonymous display. */
    void (*display)(void *ctx, const lang_bundle *bundle, const char *display_id,
                    bool update);
    void (*clear_output)(void *ctx, bool wait);
    /* Ask the user for a line. Returns a new malloc'd string (caller frees),
     * or NULL and sets *why to a static message when input is impossible
     * (the frontend does not allow stdin, or the request was interrupted). */
    char *(*input)(void *ctx, const char *prompt, bool password, const char **why);
} lang_sink;

/* Convenience wrappers that tolerate a NULL sink or NULL members. */
void sink_write(const lang_sink *s, const char *name, const char *text, size_t len);
void sink_printf(const lang_sink *s, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sink_display(const lang_sink *s, const lang_bundle *b, const char *display_id,
                  bool update);
void sink_clear(const lang_sink *s, bool wait);

#endif
