/*
 * connection.c - reading and checking the Jupyter connection file.
 *
 * Every field is checked here, once, so that the rest of the kernel can trust
 * a conn_info: ports are 1..65535, strings fit their buffers, the scheme is
 * one we implement. Messages always start with the file's name, because the
 * person reading them is looking at a kernel that did not start.
 */
#include "connection.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Connection files are a few hundred bytes; anything this big is not one. */
#define CONN_MAX_FILE (1u << 20)

static const char *const port_names[CONN_NPORTS] = {
    "shell_port", "control_port", "stdin_port", "iopub_port", "hb_port",
};

static int conn_fail(char *err, size_t errlen, const char *name, const char *fmt, ...)
{
    if (err && errlen) {
        int n = snprintf(err, errlen, "connection file '%s': ", name);
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

/* The offending value as JSON text, shortened, for "got ..." in messages. */
static void conn_describe(const json_t *v, char *buf, size_t n)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s) {
        snprintf(buf, n, "(unprintable)");
        return;
    }
    if (strlen(s) > 40)
        snprintf(buf, n, "%.37s...", s);
    else
        snprintf(buf, n, "%s", s);
    free(s);
}

/* A JSON string that has no NUL inside and fits in cap bytes with its NUL.
 * Returns the string (borrowed), or NULL with a message. */
static const char *conn_string(json_t *root, const char *field, size_t cap, const char *name,
                               char *err, size_t errlen)
{
    json_t *v = json_object_get(root, field);
    char got[64];
    if (!v) {
        conn_fail(err, errlen, name, "missing '%s'", field);
        return NULL;
    }
    if (!json_is_string(v)) {
        conn_describe(v, got, sizeof got);
        conn_fail(err, errlen, name, "'%s' must be a string, got %s", field, got);
        return NULL;
    }
    /* The parser runs without JSON_ALLOW_NUL, so this is a C string. */
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (cap && len >= cap) {
        conn_fail(err, errlen, name, "'%s' is too long (%zu bytes, at most %zu)", field, len,
                  cap - 1);
        return NULL;
    }
    return s;
}

static int conn_port(json_t *root, conn_channel ch, const char *name, conn_info *out,
                     char *err, size_t errlen)
{
    const char *field = port_names[ch];
    json_t *v = json_object_get(root, field);
    char got[64];
    if (!v)
        return conn_fail(err, errlen, name, "missing '%s'", field);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535) {
        conn_describe(v, got, sizeof got);
        return conn_fail(err, errlen, name,
                         "'%s' must be an integer between 1 and 65535, got %s", field, got);
    }
    /* Port 0 asks the kernel to pick one, but a kernel has no way to tell
     * the frontend which port it picked: the frontend must choose. */
    if (json_integer_value(v) == 0)
        return conn_fail(err, errlen, name,
                         "'%s' is 0 (\"any free port\"), which the kernel cannot report back "
                         "to the frontend; it must be an integer between 1 and 65535", field);
    out->ports[ch] = (int)json_integer_value(v);
    return 0;
}

static int conn_transport(json_t *root, const char *name, conn_info *out, char *err,
                          size_t errlen)
{
    /* Files written before transports existed have no "transport"; like
     * jupyter_client, take that to mean tcp. */
    if (!json_object_get(root, "transport")) {
        strcpy(out->transport, "tcp");
        return 0;
    }
    const char *t = conn_string(root, "transport", sizeof out->transport, name, err, errlen);
    if (!t)
        return -1;
    if (strcmp(t, "tcp") != 0 && strcmp(t, "ipc") != 0)
        return conn_fail(err, errlen, name,
                         "unsupported transport \"%s\" (supported: \"tcp\", \"ipc\")", t);
    strcpy(out->transport, t);
    return 0;
}

static int conn_ip(json_t *root, const char *name, conn_info *out, char *err, size_t errlen)
{
    const char *ip = conn_string(root, "ip", sizeof out->ip, name, err, errlen);
    if (!ip)
        return -1;
    if (!*ip)
        return conn_fail(err, errlen, name, "'ip' is empty");
    strcpy(out->ip, ip);
    return 0;
}

/* The key is bytes: the UTF-8 of the JSON string, as jupyter_client signs
 * with it. It is required (an empty string turns signing off), so that a
 * file that merely forgot it does not silently run unauthenticated. */
static int conn_key(json_t *root, const char *name, conn_info *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, "key");
    char got[64];
    if (!v)
        return conn_fail(err, errlen, name,
                         "missing 'key' (use \"\" to turn message signing off)");
    if (!json_is_string(v)) {
        conn_describe(v, got, sizeof got);
        return conn_fail(err, errlen, name, "'key' must be a string, got %s", got);
    }
    size_t len = json_string_length(v);
    out->key = malloc(len + 1);
    if (!out->key)
        return conn_fail(err, errlen, name, "out of memory");
    memcpy(out->key, json_string_value(v), len + 1);
    out->keylen = len;
    return 0;
}

static int conn_scheme(json_t *root, const char *name, conn_info *out, char *err,
                       size_t errlen)
{
    /* jupyter_client's default when the field is absent. */
    if (!json_object_get(root, "signature_scheme")) {
        strcpy(out->signature_scheme, "hmac-sha256");
        return 0;
    }
    const char *s = conn_string(root, "signature_scheme", 0, name, err, errlen);
    if (!s)
        return -1;
    if (strcmp(s, "hmac-sha256") != 0) {
        char got[64];
        conn_describe(json_object_get(root, "signature_scheme"), got, sizeof got);
        return conn_fail(err, errlen, name,
                         "unsupported signature_scheme %s (the only supported scheme is "
                         "\"hmac-sha256\")", got);
    }
    strcpy(out->signature_scheme, s);
    return 0;
}

static int conn_kernel_name(json_t *root, const char *name, conn_info *out, char *err,
                            size_t errlen)
{
    if (!json_object_get(root, "kernel_name"))
        return 0;
    const char *k = conn_string(root, "kernel_name", sizeof out->kernel_name, name, err, errlen);
    if (!k)
        return -1;
    strcpy(out->kernel_name, k);
    return 0;
}

static int conn_fields(json_t *root, const char *name, conn_info *out, char *err,
                       size_t errlen)
{
    if (!json_is_object(root))
        return conn_fail(err, errlen, name, "the top level must be a JSON object");
    if (conn_transport(root, name, out, err, errlen) || conn_ip(root, name, out, err, errlen))
        return -1;
    for (int ch = 0; ch < CONN_NPORTS; ch++)
        if (conn_port(root, (conn_channel)ch, name, out, err, errlen))
            return -1;
    if (conn_key(root, name, out, err, errlen) || conn_scheme(root, name, out, err, errlen) ||
        conn_kernel_name(root, name, out, err, errlen))
        return -1;
    return 0;
}

/* Parse len bytes of JSON text; on failure out holds nothing to free. */
static int conn_parse_bytes(const char *json, size_t len, const char *name, conn_info *out,
                            char *err, size_t errlen)
{
    json_error_t jerr;
    memset(out, 0, sizeof *out);
    if (!name)
        name = "(unnamed)";
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
    if (!root)
        return conn_fail(err, errlen, name, "not valid JSON: %s (line %d, column %d)",
                         jerr.text, jerr.line, jerr.column);
    int rc = conn_fields(root, name, out, err, errlen);
    json_decref(root);
    if (rc)
        conn_free(out);
    return rc;
}

int conn_parse(const char *json, const char *name, conn_info *out, char *err, size_t errlen)
{
    if (!json) {
        memset(out, 0, sizeof *out);
        return conn_fail(err, errlen, name ? name : "(unnamed)", "no text");
    }
    return conn_parse_bytes(json, strlen(json), name, out, err, errlen);
}

/* Read a whole small file. New malloc'd buffer in *buf, or -1 with errno set
 * (EFBIG for a file over CONN_MAX_FILE). */
static int conn_slurp(FILE *f, char **buf, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    /* fread comes back short only at the end of the file or on an error. */
    while (b && (n += fread(b + n, 1, cap - n, f)) == cap) {
        char *nb = cap < CONN_MAX_FILE ? realloc(b, cap * 2) : NULL;
        if (!nb) {
            if (cap >= CONN_MAX_FILE)
                errno = EFBIG;
            free(b);
            return -1;
        }
        b = nb;
        cap *= 2;
    }
    if (!b || ferror(f)) {
        free(b);
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}

int conn_load(const char *path, conn_info *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!path)
        path = "";
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err && errlen)
            snprintf(err, errlen, "cannot open connection file '%s': %s", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t len = 0;
    errno = 0;
    int rc = conn_slurp(f, &text, &len);
    int saved = errno;
    fclose(f);
    if (rc) {
        if (err && errlen)
            snprintf(err, errlen, "cannot read connection file '%s': %s", path,
                     saved == EFBIG ? "file too large for a connection file"
                                    : strerror(saved ? saved : EIO));
        return -1;
    }
    rc = conn_parse_bytes(text, len, path, out, err, errlen);
    free(text);
    return rc;
}

void conn_free(conn_info *c)
{
    if (!c)
        return;
    free(c->key);
    c->key = NULL;
    c->keylen = 0;
}

char *conn_endpoint(const conn_info *c, conn_channel ch, char *buf, size_t n)
{
    if (!buf || !n)
        return buf;
    if (!c || (int)ch < 0 || ch >= CONN_NPORTS) {
        buf[0] = '\0';
        return buf;
    }
    /* jupyter_client: "tcp://ip:port", and for ipc the port is a suffix. */
    if (strcmp(c->transport, "ipc") == 0)
        snprintf(buf, n, "ipc://%s-%d", c->ip, c->ports[ch]);
    else
        snprintf(buf, n, "%s://%s:%d", c->transport, c->ip, c->ports[ch]);
    return buf;
}
