/*
 * wire.h - Jupyter message framing and signing (messaging spec 5.3).
 *
 * A message on a ROUTER socket is: identity frames, the delimiter
 * "<IDS|MSG>", the HMAC-SHA256 hex signature, header, parent_header,
 * metadata, content (four JSON frames), then zero or more raw buffers.
 * The signature covers the four JSON frames in that order.
 *
 * A wire_msg owns everything in it: the identity frames (copied), the four
 * JSON objects (one reference each) and the buffers. wire_msg_free releases
 * all of it. Nothing here touches a socket: frames come in and go out as a
 * wire_frames list, so the framing is tested without ZeroMQ.
 */
#ifndef HELLODL_WIRE_H
#define HELLODL_WIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct wire_frame {
    unsigned char *data;   /* owned */
    size_t len;
} wire_frame;

typedef struct wire_frames {
    wire_frame *v;
    size_t n, cap;
} wire_frames;

void wire_frames_init(wire_frames *f);
int  wire_frames_push(wire_frames *f, const void *data, size_t len);  /* copies; 0 ok, -1 OOM */
void wire_frames_free(wire_frames *f);

typedef struct wire_msg {
    wire_frames ids;        /* routing identities, as received */
    json_t *header, *parent_header, *metadata, *content;  /* owned references */
    wire_frames buffers;    /* extra binary buffers */
} wire_msg;

typedef struct wire_key {
    const unsigned char *key;   /* borrowed; keylen 0 disables signing and checking */
    size_t keylen;
} wire_key;

/* HMAC-SHA256 of the concatenation of `parts` as 64 lowercase hex chars + NUL. */
void wire_hmac_hex(const wire_key *k, const wire_frame *parts, size_t nparts, char out[65]);

/* Parse received frames. Returns 0 on success; -1 with a short reason in
 * err (missing delimiter, too few frames, bad or missing signature, invalid
 * JSON, a JSON frame that is not an object, header without msg_type...).
 * The signature is compared in constant time after a length check. */
int wire_parse(const wire_frames *in, const wire_key *k, wire_msg *out,
               char *err, size_t errlen);

/* Serialize (ids, delimiter, signature, four JSON frames, buffers) into out
 * (initialised by the caller). Missing header/parent/metadata/content are sent
 * as {}. Returns 0, or -1 on OOM. */
int wire_serialize(const wire_msg *m, const wire_key *k, wire_frames *out);

void wire_msg_init(wire_msg *m);
void wire_msg_free(wire_msg *m);

/* A new header object: msg_id (a fresh UUID4 string), session, username,
 * date (ISO 8601 UTC with microseconds and "Z"), msg_type, version "5.3".
 * New reference. */
json_t *wire_header_new(const char *msg_type, const char *session, const char *username);

/* A fresh random UUID4 string into out (37 bytes incl. NUL). */
void wire_uuid4(char out[37]);

/* Base64 (standard alphabet, padded) of len bytes. New malloc'd string. */
char *wire_base64(const unsigned char *data, size_t len);

#endif
