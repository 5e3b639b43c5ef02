/*
 * iopub.h - the one place that writes to the IOPub socket.
 *
 * Every thread publishes through an iopub: one mutex serialises the socket,
 * so messages never interleave. Stream text is coalesced: appended to a
 * buffer per stream name and sent when it grows past IOPUB_FLUSH_BYTES, when
 * a flusher thread finds it older than IOPUB_FLUSH_MS, or before any other
 * message (display, error, result, status) so that order is preserved. Each
 * cell's stream output is capped; past the cap one "output truncated" note
 * is sent and the rest dropped.
 */
#ifndef HELLODL_IOPUB_H
#define HELLODL_IOPUB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "wire.h"

#define IOPUB_FLUSH_BYTES (1u << 20)
#define IOPUB_FLUSH_MS 50

typedef struct iopub iopub;

/* `sock` is a bound PUB socket, owned by the caller, used only through this
 * object from now on. `key` and `session` are borrowed for the lifetime. */
iopub *iopub_new(void *sock, const wire_key *key, const char *session,
                 const char *username);
void iopub_free(iopub *p);           /* stops the flusher; flushes first */

/* Publish msg_type with `content` (reference stolen) under `parent` (the
 * request's header, borrowed; NULL for none). Pending stream text goes first. */
void iopub_send(iopub *p, const char *msg_type, json_t *content, json_t *parent);
void iopub_status(iopub *p, const char *state, json_t *parent);

/* Coalesced stream text ("stdout" or "stderr") attributed to `parent`. */
void iopub_stream(iopub *p, const char *name, const char *text, size_t len,
                  json_t *parent);
void iopub_flush(iopub *p);

/* The parent that output from native code (fd 1 and 2) is attributed to:
 * the request that runs now, or the last one. Borrowed reference kept. */
void iopub_set_parent(iopub *p, json_t *parent);
json_t *iopub_parent(iopub *p);      /* new reference, may be NULL */

/* Start counting a cell's stream bytes against `cap` (0 = no cap). */
void iopub_cell_begin(iopub *p, size_t cap);

#endif
