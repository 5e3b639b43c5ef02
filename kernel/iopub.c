#include "iopub.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "log.h"
#include "utf8.h"

struct iopub {
    void *sock;
    wire_key key;
    const char *session;
    char username[64];
    pthread_mutex_t lock;       /* guards everything below and the socket */
    pthread_cond_t wake;        /* signalled when text becomes pending */
    pthread_t flusher;
    bool stop;
    /* Pending stream text: one name and parent at a time, so that the order
     * of stdout and stderr writes survives coalescing. */
    char name[8];
    json_t *pending_parent;
    char *buf;
    size_t len, cap;
    struct timespec since;      /* when the oldest pending byte arrived */
    json_t *parent;             /* attribution for native output */
    size_t cell_bytes, cell_cap;
    bool truncated;
};

static void now_mono(struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
}

static void publish_locked(iopub *p, const char *msg_type, json_t *content,
                           json_t *parent)
{
    wire_msg m;
    wire_msg_init(&m);
    char topic[160];
    snprintf(topic, sizeof topic, "kernel.%s.%s", p->session, msg_type);
    wire_frames_push(&m.ids, topic, strlen(topic));
    m.header = wire_header_new(msg_type, p->session, p->username);
    m.parent_header = parent ? json_incref(parent) : json_object();
    m.metadata = json_object();
    m.content = content ? content : json_object();
    wire_frames out;
    wire_frames_init(&out);
    if (m.header && wire_serialize(&m, &p->key, &out) == 0) {
        for (size_t i = 0; i < out.n; i++) {
            int flags = i + 1 < out.n ? ZMQ_SNDMORE : 0;
            if (zmq_send(p->sock, out.v[i].data, out.v[i].len, flags) < 0) {
                klog("iopub: send %s failed: %s", msg_type, zmq_strerror(errno));
                break;
            }
        }
    } else {
        klog("iopub: could not serialize %s", msg_type);
    }
    wire_frames_free(&out);
    wire_msg_free(&m);
}

/* Send the pending text. Unless `all`, a multi-byte character cut off at
 * the end stays pending for the rest to arrive; with `all` (another message
 * or stream comes next) it goes out as is, shown as U+FFFD. */
static void flush_locked(iopub *p, bool all)
{
    size_t n = all ? p->len : utf8_complete_prefix(p->buf, p->len);
    if (n > 0) {
        json_t *c = json_object();
        json_object_set_new(c, "name", json_string(p->name));
        json_object_set_new(c, "text", utf8_json_string(p->buf, n));
        publish_locked(p, "stream", c, p->pending_parent);
        memmove(p->buf, p->buf + n, p->len - n);
        p->len -= n;
    }
    if (p->len == 0 && p->pending_parent) {
        json_decref(p->pending_parent);
        p->pending_parent = NULL;
    }
}

static void *flusher_main(void *arg)
{
    iopub *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        if (p->len == 0) {
            pthread_cond_wait(&p->wake, &p->lock);
            continue;
        }
        struct timespec due = p->since;
        due.tv_nsec += IOPUB_FLUSH_MS * 1000000L;
        if (due.tv_nsec >= 1000000000L) {
            due.tv_sec++;
            due.tv_nsec -= 1000000000L;
        }
        int rc = pthread_cond_timedwait(&p->wake, &p->lock, &due);
        if (rc == ETIMEDOUT && p->len > 0) {
            flush_locked(p, false);
            /* What is left is a cut-off character: give the rest of it one
             * more period rather than wait on a deadline already past. */
            now_mono(&p->since);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

iopub *iopub_new(void *sock, const wire_key *key, const char *session,
                 const char *username)
{
    iopub *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->sock = sock;
    p->key = *key;
    p->session = session;
    snprintf(p->username, sizeof p->username, "%s", username);
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&p->flusher, NULL, flusher_main, p) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

void iopub_free(iopub *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    flush_locked(p, true);
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->flusher, NULL);
    json_decref(p->pending_parent);
    json_decref(p->parent);
    free(p->buf);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void iopub_send(iopub *p, const char *msg_type, json_t *content, json_t *parent)
{
    pthread_mutex_lock(&p->lock);
    flush_locked(p, true);
    publish_locked(p, msg_type, content, parent);
    pthread_mutex_unlock(&p->lock);
}

void iopub_status(iopub *p, const char *state, json_t *parent)
{
    json_t *c = json_object();
    json_object_set_new(c, "execution_state", json_string(state));
    iopub_send(p, "status", c, parent);
}

static bool buf_reserve(iopub *p, size_t extra)
{
    if (p->len + extra <= p->cap)
        return true;
    size_t cap = p->cap ? p->cap : 4096;
    while (cap < p->len + extra)
        cap *= 2;
    char *b = realloc(p->buf, cap);
    if (!b)
        return false;
    p->buf = b;
    p->cap = cap;
    return true;
}

static void append_locked(iopub *p, const char *name, const char *text, size_t len,
                          json_t *parent)
{
    if (p->len && (strcmp(p->name, name) != 0 || p->pending_parent != parent))
        flush_locked(p, true);
    if (!buf_reserve(p, len))
        return;
    if (p->len == 0) {
        snprintf(p->name, sizeof p->name, "%s", name);
        json_decref(p->pending_parent);
        p->pending_parent = parent ? json_incref(parent) : NULL;
        now_mono(&p->since);
        pthread_cond_signal(&p->wake);
    }
    memcpy(p->buf + p->len, text, len);
    p->len += len;
    if (p->len >= IOPUB_FLUSH_BYTES)
        flush_locked(p, false);
}

void iopub_stream(iopub *p, const char *name, const char *text, size_t len,
                  json_t *parent)
{
    pthread_mutex_lock(&p->lock);
    if (p->truncated) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    if (p->cell_cap && p->cell_bytes + len > p->cell_cap) {
        size_t keep = p->cell_cap - p->cell_bytes;
        append_locked(p, name, text, keep, parent);
        char note[256];
        snprintf(note, sizeof note,
                 "\n[output truncated: this cell printed more than %zu MB, the rest "
                 "is not shown. Print less (for example every 100th value), or raise "
                 "the limit with HELLODL_MAX_OUTPUT_MB.]\n", p->cell_cap >> 20);
        append_locked(p, "stderr", note, strlen(note), parent);
        p->truncated = true;
        p->cell_bytes = p->cell_cap;
    } else {
        append_locked(p, name, text, len, parent);
        p->cell_bytes += len;
    }
    pthread_mutex_unlock(&p->lock);
}

void iopub_flush(iopub *p)
{
    pthread_mutex_lock(&p->lock);
    flush_locked(p, false);
    pthread_mutex_unlock(&p->lock);
}

void iopub_set_parent(iopub *p, json_t *parent)
{
    pthread_mutex_lock(&p->lock);
    json_t *old = p->parent;
    p->parent = parent ? json_incref(parent) : NULL;
    json_decref(old);
    pthread_mutex_unlock(&p->lock);
}

json_t *iopub_parent(iopub *p)
{
    pthread_mutex_lock(&p->lock);
    json_t *r = p->parent ? json_incref(p->parent) : NULL;
    pthread_mutex_unlock(&p->lock);
    return r;
}

void iopub_cell_begin(iopub *p, size_t cap)
{
    pthread_mutex_lock(&p->lock);
    p->cell_bytes = 0;
    p->cell_cap = cap;
    p->truncated = false;
    pthread_mutex_unlock(&p->lock);
}
