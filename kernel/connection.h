/*
 * connection.h - the Jupyter connection file.
 *
 * conn_load parses the JSON file that the frontend writes (transport, ip,
 * the five ports, key, signature_scheme) and checks every field. On failure
 * it returns -1 and writes a sentence naming the file and the problem into
 * err; the caller (main.c) prints it and exits.
 */
#ifndef HELLODL_CONNECTION_H
#define HELLODL_CONNECTION_H

#include <stddef.h>

typedef enum { CONN_SHELL, CONN_CONTROL, CONN_STDIN, CONN_IOPUB, CONN_HB, CONN_NPORTS } conn_channel;

typedef struct conn_info {
    char transport[8];          /* "tcp" or "ipc" */
    char ip[256];               /* tcp: address; ipc: path prefix */
    int ports[CONN_NPORTS];     /* indexed by conn_channel */
    unsigned char *key;         /* owned; may be empty (len 0): no signing */
    size_t keylen;
    char signature_scheme[32];  /* "hmac-sha256" (the only scheme accepted) */
    char kernel_name[128];      /* optional, "" when absent */
} conn_info;

int conn_load(const char *path, conn_info *out, char *err, size_t errlen);
/* Same, from a JSON text already in memory (tests, fuzzing). `name` is used
 * in messages. */
int conn_parse(const char *json, const char *name, conn_info *out, char *err, size_t errlen);
void conn_free(conn_info *c);

/* "tcp://127.0.0.1:5555" or "ipc:///tmp/kernel-abc-5555" (ip "-" port, as
 * jupyter_client builds it). Returns buf. */
char *conn_endpoint(const conn_info *c, conn_channel ch, char *buf, size_t n);

#endif
