/*
 * kstate.h - the kernel's shared state, seen by kernel.c (sockets, threads,
 * loop) and handlers.c (one function per request type). Private to kernel/.
 *
 * Threads: the shell thread owns shell, stdin and the language session; the
 * control thread owns control; the heartbeat thread owns hb; IOPub is shared
 * only through `pub`. The atomics are the only other shared state.
 */
#ifndef HELLODL_KSTATE_H
#define HELLODL_KSTATE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "capture.h"
#include "connection.h"
#include "history.h"
#include "iopub.h"
#include "kernel.h"
#include "lang.h"
#include "wire.h"

typedef struct kernel {
    const kernel_options *opt;
    conn_info conn;
    wire_key key;
    void *ctx;
    void *shell, *control, *stdin_sock, *iopub_sock, *hb;
    iopub *pub;
    capture *cap;
    char session[37];
    char username[64];
    lang_session *lang;
    int execution_count;
    history hist;
    size_t output_cap;           /* bytes of stream output per cell */
    const wire_msg *current;     /* the execute_request running, for input() */
    bool allow_stdin;
    wire_frames *queued;         /* requests queued behind a cell that failed with */
    size_t nqueued;              /* stop_on_error, taken before its reply */
    atomic_bool shutting_down;
    atomic_bool shell_done;      /* the shell loop has returned */
} kernel;

/* Send msg_type to the peer that sent `req`, on `sock`, with req's header as
 * parent. Steals metadata and content (NULL goes out as {}). */
void kernel_send_msg(kernel *k, void *sock, const wire_msg *req, const char *msg_type,
                     json_t *metadata, json_t *content);
/* Send a reply to `req` on `sock` (the socket it came from). Steals content. */
void kernel_reply(kernel *k, void *sock, const wire_msg *req, const char *reply_type,
                  json_t *content);
/* Busy, the handler for req's type (or an error reply), idle. */
void kernel_dispatch(kernel *k, void *sock, wire_msg *req, bool control);
/* Receive one multipart message from sock into frames; -1 when none/failed. */
int kernel_recv(void *sock, wire_frames *frames, int flags);
int kernel_send(void *sock, const wire_frames *frames);
/* Answer the execute_requests in k->queued with "aborted"; other requests
 * queued with them are dispatched normally. */
void kernel_abort_queue(kernel *k);

#endif
