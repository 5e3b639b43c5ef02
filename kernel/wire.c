/*
 * wire.c - Jupyter message framing and HMAC-SHA256 signing.
 *
 * Everything that arrives here came from a socket, so nothing in it is
 * trusted: frame counts and lengths are checked before use, the signature is
 * checked before any JSON is parsed, and every failure is a return value.
 */
/* The SHA-256 digest functions are the 1.1.1 API (see wire_hmac_raw). */
#define OPENSSL_API_COMPAT 10101
#include "wire.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static const char DELIM[] = "<IDS|MSG>";
#define DELIM_LEN (sizeof DELIM - 1)
#define SIG_LEN 64

static int wire_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- frame lists ---- */

void wire_frames_init(wire_frames *f)
{
    f->v = NULL;
    f->n = f->cap = 0;
}

static int wire_frames_reserve(wire_frames *f)
{
    if (f->n < f->cap)
        return 0;
    size_t cap = f->cap ? f->cap * 2 : 8;
    if (cap < f->cap || cap > SIZE_MAX / sizeof *f->v)
        return -1;
    wire_frame *v = realloc(f->v, cap * sizeof *v);
    if (!v)
        return -1;
    f->v = v;
    f->cap = cap;
    return 0;
}

/* Append a malloc'd block, taking ownership of it even on failure. */
static int wire_frames_take(wire_frames *f, unsigned char *data, size_t len)
{
    if (!data || wire_frames_reserve(f)) {
        free(data);
        return -1;
    }
    f->v[f->n].data = data;
    f->v[f->n].len = len;
    f->n++;
    return 0;
}

int wire_frames_push(wire_frames *f, const void *data, size_t len)
{
    /* One spare byte: never malloc(0), and text frames stay NUL-terminated
     * for whoever wants to print them. */
    if (len == SIZE_MAX)
        return -1;
    unsigned char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    if (len)
        memcpy(copy, data, len);
    copy[len] = '\0';
    return wire_frames_take(f, copy, len);
}

/* Drop frames from the end until n remain. */
static void wire_frames_truncate(wire_frames *f, size_t n)
{
    while (f->n > n)
        free(f->v[--f->n].data);
}

void wire_frames_free(wire_frames *f)
{
    if (!f)
        return;
    wire_frames_truncate(f, 0);
    free(f->v);
    wire_frames_init(f);
}

/* ---- signing ---- */

/* HMAC-SHA256 (RFC 2104) over OpenSSL's SHA-256. Built here rather than
 * with EVP_MAC because fetching a MAC initialises OpenSSL's provider machinery,
 * which alone costs an idle kernel about 2 MB of memory; the digest functions
 * need none of it. (OPENSSL_API_COMPAT, set at the top, keeps them visible.) */
static int wire_hmac_raw(const wire_key *k, const wire_frame *parts, size_t nparts,
                         unsigned char mac[32])
{
    unsigned char block[SHA256_CBLOCK], ipad[SHA256_CBLOCK], opad[SHA256_CBLOCK];
    unsigned char inner[SHA256_DIGEST_LENGTH];
    memset(block, 0, sizeof block);
    if (k && k->keylen > SHA256_CBLOCK)
        SHA256(k->key, k->keylen, block);     /* long keys are hashed first */
    else if (k && k->keylen)
        memcpy(block, k->key, k->keylen);
    for (int i = 0; i < SHA256_CBLOCK; i++) {
        ipad[i] = block[i] ^ 0x36;
        opad[i] = block[i] ^ 0x5c;
    }
    SHA256_CTX ctx;
    int ok = SHA256_Init(&ctx) && SHA256_Update(&ctx, ipad, sizeof ipad);
    for (size_t i = 0; ok && i < nparts; i++)
        if (parts[i].len)
            ok = SHA256_Update(&ctx, parts[i].data, parts[i].len);
    ok = ok && SHA256_Final(inner, &ctx);
    ok = ok && SHA256_Init(&ctx) && SHA256_Update(&ctx, opad, sizeof opad) &&
         SHA256_Update(&ctx, inner, sizeof inner) && SHA256_Final(mac, &ctx);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(ipad, sizeof ipad);
    OPENSSL_cleanse(opad, sizeof opad);
    return ok ? 0 : -1;
}

void wire_hmac_hex(const wire_key *k, const wire_frame *parts, size_t nparts, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[32];
    /* On a library failure the result is "", which matches no signature. */
    if (wire_hmac_raw(k, parts, nparts, mac)) {
        out[0] = '\0';
        return;
    }
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[SIG_LEN] = '\0';
}

/* ---- messages ---- */

void wire_msg_init(wire_msg *m)
{
    wire_frames_init(&m->ids);
    wire_frames_init(&m->buffers);
    m->header = m->parent_header = m->metadata = m->content = NULL;
}

void wire_msg_free(wire_msg *m)
{
    if (!m)
        return;
    wire_frames_free(&m->ids);
    wire_frames_free(&m->buffers);
    json_decref(m->header);
    json_decref(m->parent_header);
    json_decref(m->metadata);
    json_decref(m->content);
    wire_msg_init(m);
}

static const char *const json_part_names[4] = {"header", "parent_header", "metadata",
                                               "content"};

/* Index of the first delimiter frame, or in->n when there is none. */
static size_t wire_find_delim(const wire_frames *in)
{
    size_t i = 0;
    while (i < in->n && !(in->v[i].len == DELIM_LEN &&
                          memcmp(in->v[i].data, DELIM, DELIM_LEN) == 0))
        i++;
    return i;
}

/* sig is the signature frame, parts the four JSON frames after it. */
static int wire_verify(const wire_key *k, const wire_frame *sig, const wire_frame *parts,
                       char *err, size_t errlen)
{
    char want[65];
    if (!k || !k->keylen)
        return 0;
    if (sig->len == 0)
        return wire_fail(err, errlen, "missing signature");
    if (sig->len != SIG_LEN)
        return wire_fail(err, errlen, "signature has the wrong length (%zu bytes, expected %d)",
                         sig->len, SIG_LEN);
    wire_hmac_hex(k, parts, 4, want);
    if (strlen(want) != SIG_LEN)
        return wire_fail(err, errlen, "cannot compute HMAC-SHA256");
    if (CRYPTO_memcmp(sig->data, want, SIG_LEN) != 0)
        return wire_fail(err, errlen, "bad signature");
    return 0;
}

static json_t *wire_load_part(const wire_frame *f, int which, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *v = json_loadb((const char *)f->data, f->len, JSON_DECODE_ANY, &jerr);
    if (!v) {
        wire_fail(err, errlen, "%s is not valid JSON: %s (column %d)", json_part_names[which],
                  jerr.text, jerr.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        wire_fail(err, errlen, "%s is not a JSON object", json_part_names[which]);
        return NULL;
    }
    return v;
}

static int wire_load_parts(const wire_frame *parts, wire_msg *out, char *err, size_t errlen)
{
    json_t **slots[4] = {&out->header, &out->parent_header, &out->metadata, &out->content};
    for (int i = 0; i < 4; i++)
        if (!(*slots[i] = wire_load_part(&parts[i], i, err, errlen)))
            return -1;
    if (!json_is_string(json_object_get(out->header, "msg_type")))
        return wire_fail(err, errlen, "header has no string msg_type");
    return 0;
}

static int wire_copy_frames(const wire_frame *v, size_t n, wire_frames *to)
{
    for (size_t i = 0; i < n; i++)
        if (wire_frames_push(to, v[i].data, v[i].len))
            return -1;
    return 0;
}

int wire_parse(const wire_frames *in, const wire_key *k, wire_msg *out, char *err,
               size_t errlen)
{
    wire_msg_init(out);
    size_t d = wire_find_delim(in);
    if (d == in->n)
        return wire_fail(err, errlen, "no <IDS|MSG> delimiter among %zu frames", in->n);
    size_t after = in->n - d - 1;
    if (after < 5)
        return wire_fail(err, errlen,
                         "too few frames after <IDS|MSG>: %zu, need at least 5 (signature, "
                         "header, parent_header, metadata, content)", after);
    const wire_frame *sig = &in->v[d + 1], *parts = &in->v[d + 2];
    if (wire_verify(k, sig, parts, err, errlen))
        return -1;
    int rc = wire_load_parts(parts, out, err, errlen);
    if (!rc && (wire_copy_frames(in->v, d, &out->ids) ||
                wire_copy_frames(parts + 4, after - 5, &out->buffers)))
        rc = wire_fail(err, errlen, "out of memory");
    if (rc)
        wire_msg_free(out);
    return rc;
}

/* The four JSON frames, appended to out; a missing object goes out as {}. */
static int wire_dump_parts(const wire_msg *m, wire_frames *out)
{
    const json_t *parts[4] = {m->header, m->parent_header, m->metadata, m->content};
    for (int i = 0; i < 4; i++) {
        if (!parts[i]) {
            if (wire_frames_push(out, "{}", 2))
                return -1;
            continue;
        }
        char *s = json_dumps(parts[i], JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s || wire_frames_take(out, (unsigned char *)s, strlen(s)))
            return -1;
    }
    return 0;
}

static int wire_serialize_into(const wire_msg *m, const wire_key *k, wire_frames *out)
{
    wire_frames json;
    char sig[65] = "";
    int rc = -1;
    wire_frames_init(&json);
    if (wire_dump_parts(m, &json))
        goto done;
    /* Without a key the signature frame is empty, as jupyter_client sends. */
    if (k && k->keylen) {
        wire_hmac_hex(k, json.v, 4, sig);
        if (strlen(sig) != SIG_LEN)
            goto done;
    }
    if (wire_copy_frames(m->ids.v, m->ids.n, out) || wire_frames_push(out, DELIM, DELIM_LEN) ||
        wire_frames_push(out, sig, strlen(sig)))
        goto done;
    /* Move the JSON frames over rather than copying them. */
    for (size_t i = 0; i < 4; i++) {
        if (wire_frames_take(out, json.v[i].data, json.v[i].len)) {
            json.v[i].data = NULL;
            goto done;
        }
        json.v[i].data = NULL;
    }
    rc = wire_copy_frames(m->buffers.v, m->buffers.n, out);
done:
    wire_frames_free(&json);   /* what was not moved */
    return rc;
}

int wire_serialize(const wire_msg *m, const wire_key *k, wire_frames *out)
{
    size_t n0 = out->n;
    if (wire_serialize_into(m, k, out)) {
        wire_frames_truncate(out, n0);
        return -1;
    }
    return 0;
}

/* ---- headers, ids, base64 ---- */

static void wire_random16(unsigned char b[16])
{
    /* The kernel's generator first: OpenSSL's would set up its DRBG and
     * providers (memory) for no better randomness. */
    if (getrandom(b, 16, 0) == 16 || RAND_bytes(b, 16) == 1)
        return;
    /* Both sources failing leaves message ids only unique, not
     * unpredictable, which is all a msg_id needs. */
    static atomic_ulong counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t w[2] = {(uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec,
                     ((uint64_t)getpid() << 32) ^ atomic_fetch_add(&counter, 1)};
    memcpy(b, w, 16);
}

void wire_uuid4(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    wire_random16(b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
}

/* "2024-05-01T12:34:56.123456Z" */
static void wire_now_iso(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (!gmtime_r(&ts.tv_sec, &tm)) {
        snprintf(out, 32, "1970-01-01T00:00:00.000000Z");
        return;
    }
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%06ldZ", (long)(ts.tv_nsec / 1000));
}

json_t *wire_header_new(const char *msg_type, const char *session, const char *username)
{
    char id[37], date[32];
    wire_uuid4(id);
    wire_now_iso(date);
    json_t *h = json_object();
    if (!h)
        return NULL;
    if (json_object_set_new(h, "msg_id", json_string(id)) ||
        json_object_set_new(h, "session", json_string(session ? session : "")) ||
        json_object_set_new(h, "username", json_string(username ? username : "")) ||
        json_object_set_new(h, "date", json_string(date)) ||
        json_object_set_new(h, "msg_type", json_string(msg_type ? msg_type : "")) ||
        json_object_set_new(h, "version", json_string("5.3"))) {
        json_decref(h);
        return NULL;
    }
    return h;
}

char *wire_base64(const unsigned char *data, size_t len)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t blocks = len / 3 + (len % 3 != 0);
    if (blocks > (SIZE_MAX - 1) / 4)
        return NULL;
    size_t outlen = blocks * 4;
    char *out = malloc(outlen + 1), *p = out;
    if (!out)
        return NULL;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        p[0] = tab[v >> 18];
        p[1] = tab[(v >> 12) & 63];
        p[2] = tab[(v >> 6) & 63];
        p[3] = tab[v & 63];
        p += 4;
    }
    if (i < len) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0);
        p[0] = tab[v >> 18];
        p[1] = tab[(v >> 12) & 63];
        p[2] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        p[3] = '=';
        p += 4;
    }
    *p = '\0';
    return out;
}
