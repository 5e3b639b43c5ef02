#include "kernel.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "kstate.h"
#include "log.h"
#include "magics.h"

#define POLL_MS 100
#define SHUTDOWN_GRACE_MS 600
#define DEFAULT_OUTPUT_MB 8

static volatile sig_atomic_t term_requested;

static void on_sigint(int sig)
{
    (void)sig;
    lang_interrupt();
}

static void on_sigterm(int sig)
{
    (void)sig;
    term_requested = 1;
    lang_interrupt();
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_sigterm;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* Die with the frontend that started us rather than linger as an orphan. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

int kernel_recv(void *sock, wire_frames *frames, int flags)
{
    wire_frames_init(frames);
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, flags) < 0) {
            zmq_msg_close(&part);
            wire_frames_free(frames);
            return -1;
        }
        wire_frames_push(frames, zmq_msg_data(&part), zmq_msg_size(&part));
        int more = zmq_msg_more(&part);
        zmq_msg_close(&part);
        if (!more)
            return 0;
        flags = 0;   /* the rest of a multipart message is already here */
    }
}

int kernel_send(void *sock, const wire_frames *frames)
{
    for (size_t i = 0; i < frames->n; i++) {
        int flags = i + 1 < frames->n ? ZMQ_SNDMORE : 0;
        if (zmq_send(sock, frames->v[i].data, frames->v[i].len, flags) < 0) {
            klog("send failed: %s", zmq_strerror(errno));
            return -1;
        }
    }
    return 0;
}

void kernel_send_msg(kernel *k, void *sock, const wire_msg *req, const char *msg_type,
                     json_t *metadata, json_t *content)
{
    wire_msg m;
    wire_msg_init(&m);
    for (size_t i = 0; i < req->ids.n; i++)
        wire_frames_push(&m.ids, req->ids.v[i].data, req->ids.v[i].len);
    m.header = wire_header_new(msg_type, k->session, k->username);
    m.parent_header = json_incref(req->header);
    m.metadata = metadata;
    m.content = content;
    wire_frames out;
    wire_frames_init(&out);
    if (wire_serialize(&m, &k->key, &out) == 0)
        kernel_send(sock, &out);
    wire_frames_free(&out);
    wire_msg_free(&m);
}

void kernel_reply(kernel *k, void *sock, const wire_msg *req, const char *reply_type,
                  json_t *content)
{
    json_t *status = json_object_get(content, "status");
    kernel_send_msg(k, sock, req, reply_type, json_pack("{s:O?}", "status", status), content);
}

static void *socket_new(kernel *k, int type, conn_channel ch, char *err, size_t n)
{
    static const char *const names[] = { "shell", "control", "stdin", "iopub", "hb" };
    char ep[512];
    void *s = zmq_socket(k->ctx, type);
    int linger = 200;
    if (s)
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (type == ZMQ_PUB) {
        int hwm = 0;    /* never drop output; the per-cell cap bounds it */
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    }
    if (type == ZMQ_ROUTER) {
        int handover = 1;   /* a reconnecting frontend takes its identity back */
        zmq_setsockopt(s, ZMQ_ROUTER_HANDOVER, &handover, sizeof handover);
    }
    conn_endpoint(&k->conn, ch, ep, sizeof ep);
    if (!s || zmq_bind(s, ep) != 0) {
        snprintf(err, n, "cannot bind the %s socket to %s: %s", names[ch], ep,
                 zmq_strerror(errno));
        if (s)
            zmq_close(s);
        return NULL;
    }
    return s;
}

static int sockets_open(kernel *k, char *err, size_t n)
{
    k->ctx = zmq_ctx_new();
    if (!k->ctx) {
        snprintf(err, n, "cannot create a ZeroMQ context");
        return -1;
    }
    if (!(k->shell = socket_new(k, ZMQ_ROUTER, CONN_SHELL, err, n)) ||
        !(k->control = socket_new(k, ZMQ_ROUTER, CONN_CONTROL, err, n)) ||
        !(k->stdin_sock = socket_new(k, ZMQ_ROUTER, CONN_STDIN, err, n)) ||
        !(k->iopub_sock = socket_new(k, ZMQ_PUB, CONN_IOPUB, err, n)) ||
        !(k->hb = socket_new(k, ZMQ_REP, CONN_HB, err, n)))
        return -1;
    return 0;
}

static void sockets_close(kernel *k)
{
    void **socks[] = { &k->shell, &k->stdin_sock, &k->iopub_sock };
    for (size_t i = 0; i < sizeof socks / sizeof *socks; i++)
        if (*socks[i]) {
            zmq_close(*socks[i]);
            *socks[i] = NULL;
        }
}

/* Heartbeat: echo every ping, in its own thread, whatever the shell does.
 * Not zmq_proxy(hb, hb): on one REP socket it sends a ping's first frame
 * before receiving the next, fails with EFSM on any multipart ping and
 * leaves the kernel without a heartbeat for good. */
static void *heartbeat_main(void *arg)
{
    kernel *k = arg;
    for (;;) {
        wire_frames ping;
        if (kernel_recv(k->hb, &ping, 0) < 0) {
            if (zmq_errno() == ETERM)
                break;              /* the context is shutting down */
            continue;               /* EINTR: a signal landed on this thread */
        }
        kernel_send(k->hb, &ping);
        wire_frames_free(&ping);
    }
    zmq_close(k->hb);
    return NULL;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* After a shutdown request, give the shell thread a short grace period to
 * finish the cell it runs (the interrupt flag is already set); native code
 * that does not poll the flag must not keep the process alive. */
static void wait_for_shell(kernel *k)
{
    uint64_t deadline = now_ms() + SHUTDOWN_GRACE_MS;
    while (!atomic_load(&k->shell_done) && now_ms() < deadline)
        usleep(5000);
    if (!atomic_load(&k->shell_done) && k->opt->force_exit) {
        klog("the running cell did not stop within %d ms; exiting now",
             SHUTDOWN_GRACE_MS);
        iopub_flush(k->pub);
        k->opt->force_exit(0);
    }
}

static bool parent_gone(pid_t parent)
{
    return term_requested || getppid() != parent;
}

/* Wait up to POLL_MS for one message on the socket of `item` and serve it:
 * a message that fails to parse or verify is logged and dropped. Returns -1
 * once the context is terminated, 0 otherwise. */
static int serve_one(kernel *k, zmq_pollitem_t *item, bool control)
{
    int rc = zmq_poll(item, 1, POLL_MS);
    if (rc < 0 && zmq_errno() == ETERM)
        return -1;
    wire_frames frames;
    if (rc <= 0 || kernel_recv(item->socket, &frames, ZMQ_DONTWAIT) < 0)
        return 0;
    wire_msg msg;
    char why[256];
    wire_msg_init(&msg);
    if (wire_parse(&frames, &k->key, &msg, why, sizeof why) == 0)
        kernel_dispatch(k, item->socket, &msg, control);
    else
        klog("%s: dropped a message: %s", control ? "control" : "shell", why);
    wire_msg_free(&msg);
    wire_frames_free(&frames);
    return 0;
}

/* Control: interrupt, shutdown and kernel_info, answered while a cell runs.
 * SIGTERM and the death of the parent are noticed here rather than between
 * shell requests, so that they end the process like a shutdown_request
 * (interrupt, grace period, forced exit) even while a cell runs. */
static void *control_main(void *arg)
{
    kernel *k = arg;
    pid_t parent = getppid();
    zmq_pollitem_t item = { k->control, 0, ZMQ_POLLIN, 0 };
    while (!atomic_load(&k->shutting_down)) {
        if (parent_gone(parent)) {
            klog("parent process gone or SIGTERM received: shutting down");
            atomic_store(&k->shutting_down, true);
            lang_interrupt();
            break;
        }
        if (serve_one(k, &item, true) < 0)
            break;
    }
    if (atomic_load(&k->shutting_down))
        wait_for_shell(k);
    zmq_close(k->control);
    k->control = NULL;
    return NULL;
}

static void shell_loop(kernel *k)
{
    zmq_pollitem_t item = { k->shell, 0, ZMQ_POLLIN, 0 };
    while (!atomic_load(&k->shutting_down))
        if (serve_one(k, &item, false) < 0)
            break;
}

static void state_init(kernel *k, const kernel_options *opt)
{
    memset(k, 0, sizeof *k);
    k->opt = opt;
    wire_uuid4(k->session);
    const char *user = getenv("JUPYTERHUB_USER");
    if (!user)
        user = getenv("USER");
    snprintf(k->username, sizeof k->username, "%s", user ? user : "kernel");
    history_init(&k->hist);
    const char *mb = getenv("HELLODL_MAX_OUTPUT_MB");
    long cap = mb ? strtol(mb, NULL, 10) : DEFAULT_OUTPUT_MB;
    k->output_cap = (size_t)(cap > 0 ? cap : DEFAULT_OUTPUT_MB) << 20;
}

static void state_free(kernel *k)
{
    lang_session_free(k->lang);
    history_free(&k->hist);
    conn_free(&k->conn);
}

static int start_threads(kernel *k, pthread_t *hb, pthread_t *ctl)
{
    if (pthread_create(hb, NULL, heartbeat_main, k) != 0)
        return -1;
    if (pthread_create(ctl, NULL, control_main, k) != 0)
        return -1;
    return 0;
}

int kernel_run(const kernel_options *opt)
{
    static kernel k;
    char err[1024];
    state_init(&k, opt);
    if (conn_load(opt->connection_file, &k.conn, err, sizeof err) < 0) {
        fprintf(stderr, "hellodl: %s\n", err);
        return 1;
    }
    k.key.key = k.conn.key;
    k.key.keylen = k.conn.keylen;
    if (sockets_open(&k, err, sizeof err) < 0) {
        fprintf(stderr, "hellodl: %s\n", err);
        return 1;
    }
    install_signals();
    k.pub = iopub_new(k.iopub_sock, &k.key, k.session, k.username);
    lang_config cfg = { 0 };
    cfg.data_path = getenv("HELLODL_DATA_PATH");
    k.lang = lang_session_new(&cfg);
    if (!k.pub || !k.lang) {
        fprintf(stderr, "hellodl: out of memory while starting\n");
        return 1;
    }
    magics_install(k.lang);
    int logfd;
    k.cap = capture_start(k.pub, &logfd);
    log_init(logfd);
    pthread_t hb, ctl;
    if (start_threads(&k, &hb, &ctl) < 0) {
        klog("cannot start the heartbeat or control thread");
        return 1;
    }
    klog("kernel %s started on %s", k.session, opt->connection_file);
    iopub_status(k.pub, "starting", NULL);
    shell_loop(&k);
    atomic_store(&k.shutting_down, true);
    atomic_store(&k.shell_done, true);
    pthread_join(ctl, NULL);
    capture_stop(k.cap);
    iopub_free(k.pub);
    sockets_close(&k);
    zmq_ctx_shutdown(k.ctx);
    pthread_join(hb, NULL);
    zmq_ctx_term(k.ctx);
    state_free(&k);
    return 0;
}
