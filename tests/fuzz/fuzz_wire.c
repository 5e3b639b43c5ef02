/*
 * fuzz_wire.c - libFuzzer target for everything a client can send before the
 * kernel trusts it: wire frames and connection files.
 *
 * The input is split into frames at every '\n' (so the seeds stay readable
 * and compact JSON never needs one), then parsed with and without a key.
 * Whatever parses must survive a round trip: serialize it again and it must
 * parse again, to the same JSON. The whole input is also a connection file.
 */
#include "connection.h"
#include "wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SEP '\n'

/* The key the keyed seeds in corpus_wire/ were signed with. */
static const unsigned char KEY[] = "fuzz-key";

static void split(const uint8_t *data, size_t size, wire_frames *f)
{
    size_t start = 0;
    wire_frames_init(f);
    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == SEP) {
            if (wire_frames_push(f, data + start, i - start))
                return;
            start = i + 1;
        }
    }
}

static void roundtrip(const wire_msg *m, const wire_key *k)
{
    wire_frames out;
    wire_msg back;
    char err[256];
    wire_frames_init(&out);
    if (wire_serialize(m, k, &out) == 0) {
        if (wire_parse(&out, k, &back, err, sizeof err) != 0 ||
            back.ids.n != m->ids.n || back.buffers.n != m->buffers.n ||
            !json_equal(back.header, m->header) || !json_equal(back.content, m->content) ||
            !json_equal(back.parent_header, m->parent_header) ||
            !json_equal(back.metadata, m->metadata))
            abort();
        wire_msg_free(&back);
    }
    wire_frames_free(&out);
}

static void parse_with(const wire_frames *f, const wire_key *k)
{
    wire_msg m;
    char err[256];
    if (wire_parse(f, k, &m, err, sizeof err) == 0) {
        roundtrip(&m, k);
        wire_msg_free(&m);
    } else if (!memchr(err, '\0', sizeof err)) {
        abort();
    }
}

static void parse_connection(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    conn_info c;
    char err[512], ep[300];
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    if (conn_parse(text, "fuzz.json", &c, err, sizeof err) == 0) {
        for (int ch = 0; ch < CONN_NPORTS; ch++)
            conn_endpoint(&c, (conn_channel)ch, ep, sizeof ep);
        conn_free(&c);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wire_frames f;
    const wire_key keyed = {KEY, sizeof KEY - 1}, keyless = {NULL, 0};
    split(data, size, &f);
    parse_with(&f, &keyless);
    parse_with(&f, &keyed);
    wire_frames_free(&f);
    parse_connection(data, size);
    return 0;
}
