/* IOPub writer and fd capture: coalescing, order, the per-cell cap, UTF-8
 * safety, the flush timer, and native writes to fd 1 and 2 reaching IOPub. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "capture.h"
#include "check.h"
#include "iopub.h"
#include "wire.h"

static void *ctx, *pub, *sub;
static const unsigned char keybytes[] = "secret";
static wire_key key = { keybytes, 6 };

typedef struct got {
    char type[32];
    char name[16];
    char *text;          /* stream text, or NULL */
} got;

/* Receive one message within `ms`; returns 0 or -1 on timeout. */
static int recv_msg(got *g, int ms)
{
    zmq_pollitem_t item = { sub, 0, ZMQ_POLLIN, 0 };
    memset(g, 0, sizeof *g);
    if (zmq_poll(&item, 1, ms) <= 0)
        return -1;
    wire_frames f;
    wire_frames_init(&f);
    int more = 1;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        zmq_msg_recv(&part, sub, 0);
        wire_frames_push(&f, zmq_msg_data(&part), zmq_msg_size(&part));
        more = zmq_msg_more(&part);
        zmq_msg_close(&part);
    }
    wire_msg m;
    char err[128];
    wire_msg_init(&m);
    int rc = wire_parse(&f, &key, &m, err, sizeof err);
    CHECK(rc == 0);
    if (rc == 0) {
        snprintf(g->type, sizeof g->type, "%s",
                 json_string_value(json_object_get(m.header, "msg_type")));
        const char *name = json_string_value(json_object_get(m.content, "name"));
        const char *text = json_string_value(json_object_get(m.content, "text"));
        if (name)
            snprintf(g->name, sizeof g->name, "%s", name);
        if (text)
            g->text = strdup(text);
    }
    wire_msg_free(&m);
    wire_frames_free(&f);
    return rc;
}

/* Collect stream text until a status message; returns the number of stream
 * messages and the concatenated text in *all (caller frees). */
static int collect_until_status(char **all)
{
    size_t len = 0;
    int n = 0;
    *all = calloc(1, 1);
    got g;
    while (recv_msg(&g, 2000) == 0) {
        if (strcmp(g.type, "status") == 0) {
            free(g.text);
            break;
        }
        if (g.text) {
            n++;
            size_t t = strlen(g.text);
            *all = realloc(*all, len + t + 1);
            memcpy(*all + len, g.text, t + 1);
            len += t;
        }
        free(g.text);
    }
    return n;
}

static void connect_pair(void)
{
    ctx = zmq_ctx_new();
    pub = zmq_socket(ctx, ZMQ_PUB);
    sub = zmq_socket(ctx, ZMQ_SUB);
    zmq_bind(pub, "inproc://iopub");
    zmq_connect(sub, "inproc://iopub");
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    usleep(50000);   /* let the subscription reach the publisher */
}

static void test_coalescing(iopub *p)
{
    for (int i = 0; i < 10000; i++)
        iopub_stream(p, "stdout", "line\n", 5, NULL);
    iopub_status(p, "idle", NULL);
    char *all;
    int n = collect_until_status(&all);
    CHECK(n >= 1 && n <= 2);
    CHECK_INT(strlen(all), 50000);
    free(all);
}

static void test_order(iopub *p)
{
    iopub_stream(p, "stdout", "a", 1, NULL);
    iopub_stream(p, "stderr", "b", 1, NULL);
    iopub_stream(p, "stdout", "c", 1, NULL);
    iopub_status(p, "idle", NULL);
    const char *want[][2] = { { "stdout", "a" }, { "stderr", "b" }, { "stdout", "c" } };
    for (int i = 0; i < 3; i++) {
        got g;
        CHECK(recv_msg(&g, 2000) == 0);
        CHECK_STR(g.name, want[i][0]);
        CHECK_STR(g.text, want[i][1]);
        free(g.text);
    }
    got g;
    CHECK(recv_msg(&g, 2000) == 0);
    CHECK_STR(g.type, "status");
}

static void test_cap(iopub *p)
{
    iopub_cell_begin(p, 100);
    char big[150];
    memset(big, 'x', sizeof big);
    iopub_stream(p, "stdout", big, sizeof big, NULL);
    iopub_stream(p, "stdout", "QQQQ", 4, NULL);
    iopub_status(p, "idle", NULL);
    char *all;
    collect_until_status(&all);
    CHECK(strncmp(all, "xxxxxxxxxx", 10) == 0);
    CHECK(strstr(all, "output truncated") != NULL);
    CHECK(strstr(all, "QQQQ") == NULL);
    CHECK_INT(strspn(all, "x"), 100);
    free(all);
    iopub_cell_begin(p, 0);
}

static void test_utf8_split(iopub *p)
{
    /* "é" is c3 a9: a flush between the two bytes must not break it. */
    iopub_stream(p, "stdout", "caf\xc3", 4, NULL);
    iopub_flush(p);
    iopub_stream(p, "stdout", "\xa9!", 2, NULL);
    iopub_status(p, "idle", NULL);
    char *all;
    collect_until_status(&all);
    CHECK_STR(all, "caf\xc3\xa9!");
    free(all);
    /* Invalid bytes become U+FFFD rather than losing the message. */
    iopub_stream(p, "stdout", "a\xff" "b", 3, NULL);
    iopub_status(p, "idle", NULL);
    collect_until_status(&all);
    CHECK_STR(all, "a\xef\xbf\xbd" "b");
    free(all);
    /* A character still cut off when another message goes out is sent as
     * U+FFFD before it, not dropped. */
    iopub_stream(p, "stdout", "z\xc3", 2, NULL);
    iopub_status(p, "idle", NULL);
    collect_until_status(&all);
    CHECK_STR(all, "z\xef\xbf\xbd");
    free(all);
}

static void test_timer(iopub *p)
{
    iopub_stream(p, "stdout", "tick", 4, NULL);
    got g;
    /* Nothing else is sent: the flusher must send it within a few periods. */
    CHECK(recv_msg(&g, 20 * IOPUB_FLUSH_MS) == 0);
    CHECK_STR(g.text, "tick");
    free(g.text);
}

static void test_capture(iopub *p)
{
    int logfd;
    capture *c = capture_start(p, &logfd);
    CHECK(c != NULL);
    CHECK(logfd != 2);
    ssize_t w = write(1, "native out\n", 11);
    w += write(2, "native err\n", 11);
    capture_drain(c);
    iopub_status(p, "idle", NULL);
    char *all;
    collect_until_status(&all);
    capture_stop(c);
    CHECK_INT(w, 22);
    CHECK(strstr(all, "native out\n") != NULL);
    CHECK(strstr(all, "native err\n") != NULL);
    free(all);
}

int main(void)
{
    connect_pair();
    iopub *p = iopub_new(pub, &key, "session-1", "tester");
    CHECK(p != NULL);
    test_coalescing(p);
    test_order(p);
    test_cap(p);
    test_utf8_split(p);
    test_timer(p);
    test_capture(p);
    iopub_free(p);
    zmq_close(sub);
    zmq_close(pub);
    zmq_ctx_term(ctx);
    return CHECK_DONE();
}
