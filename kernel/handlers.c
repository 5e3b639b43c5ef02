/*
 * handlers.c - one function per Jupyter request type, and the dispatch
 * table. Every request is wrapped in status busy ... idle on IOPub with the
 * request as parent, whatever the handler does.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "gpu_session.h"
#include "install.h"
#include "kstate.h"
#include "log.h"
#include "utf8.h"

#define PROTOCOL_VERSION "5.3"

typedef void (*handler_fn)(kernel *k, void *sock, wire_msg *req);

static const char *msg_type(const wire_msg *m)
{
    return json_string_value(json_object_get(m->header, "msg_type"));
}

static const char *content_str(const wire_msg *m, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(m->content, key));
    return s ? s : dflt;
}

static bool content_bool(const wire_msg *m, const char *key, bool dflt)
{
    json_t *v = json_object_get(m->content, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* --- kernel_info ------------------------------------------------------- */

static json_t *language_info(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}",
        "name", "hellodl",
        "version", HELLODL_VERSION,
        "mimetype", "text/x-hellodl",
        "file_extension", ".dl",
        "pygments_lexer", "c",
        "codemirror_mode", "name", "clike", "mime", "text/x-csrc");
}

static void on_kernel_info(kernel *k, void *sock, wire_msg *req)
{
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:[{s:s, s:s}], s:b}",
        "status", "ok",
        "protocol_version", PROTOCOL_VERSION,
        "implementation", "hellodl",
        "implementation_version", HELLODL_VERSION,
        "language_info", language_info(),
        "banner", "hellodl " HELLODL_VERSION " - deep learning in a C-like cell "
                  "language.\nType print(\"Hello, world!\"); to begin.",
        "help_links", "text", "hellodl cell language",
                      "url", install_help_url(),
        "debugger", 0);
    kernel_reply(k, sock, req, "kernel_info_reply", c);
}

/* --- the output sink the language writes through ------------------------ */

typedef struct cell_ctx {
    kernel *k;
    json_t *parent;
    bool silent;
} cell_ctx;

static void sink_stream_cb(void *ctx, const char *name, const char *text, size_t len)
{
    cell_ctx *c = ctx;
    if (!c->silent)
        iopub_stream(c->k->pub, name, text, len, c->parent);
}

static json_t *bundle_data(const lang_bundle *b, json_t **metadata)
{
    json_t *data = json_object();
    *metadata = json_object();
    for (int i = 0; i < b->n; i++) {
        const lang_mime *m = &b->items[i];
        if (m->binary) {
            char *b64 = wire_base64((const unsigned char *)m->data, m->len);
            json_object_set_new(data, m->mime, json_string(b64 ? b64 : ""));
            free(b64);
        } else {
            json_object_set_new(data, m->mime, utf8_json_string(m->data, m->len));
        }
        if (strcmp(m->mime, "image/png") == 0 && b->width > 0)
            json_object_set_new(*metadata, m->mime,
                json_pack("{s:i, s:i}", "width", b->width, "height", b->height));
    }
    return data;
}

static void sink_display_cb(void *ctx, const lang_bundle *b, const char *display_id,
                            bool update)
{
    cell_ctx *c = ctx;
    if (c->silent)
        return;
    capture_drain(c->k->cap);
    json_t *md;
    json_t *data = bundle_data(b, &md);
    json_t *content = json_pack("{s:o, s:o, s:{}}", "data", data, "metadata", md,
                                "transient");
    if (display_id)
        json_object_set_new(json_object_get(content, "transient"), "display_id",
                            json_string(display_id));
    iopub_send(c->k->pub, update ? "update_display_data" : "display_data", content,
               c->parent);
}

static void sink_clear_cb(void *ctx, bool wait)
{
    cell_ctx *c = ctx;
    if (c->silent)
        return;
    capture_drain(c->k->cap);
    iopub_send(c->k->pub, "clear_output", json_pack("{s:b}", "wait", wait), c->parent);
}

static char *sink_input_cb(void *ctx, const char *prompt, bool password, const char **why);

static lang_sink cell_sink(cell_ctx *c)
{
    lang_sink s = { c, sink_stream_cb, sink_display_cb, sink_clear_cb, sink_input_cb };
    return s;
}

/* --- stdin: input() ------------------------------------------------------ */

static char *await_input_reply(kernel *k, const char **why)
{
    zmq_pollitem_t item = { k->stdin_sock, 0, ZMQ_POLLIN, 0 };
    for (;;) {
        if (lang_interrupted() || atomic_load(&k->shutting_down)) {
            *why = "input() was interrupted";
            return NULL;
        }
        if (zmq_poll(&item, 1, 50) <= 0)
            continue;
        wire_frames frames;
        if (kernel_recv(k->stdin_sock, &frames, ZMQ_DONTWAIT) < 0)
            continue;
        wire_msg m;
        char err[256];
        wire_msg_init(&m);
        char *value = NULL;
        if (wire_parse(&frames, &k->key, &m, err, sizeof err) < 0)
            klog("stdin: dropped a message: %s", err);
        else if (strcmp(msg_type(&m), "input_reply") == 0)
            value = strdup(content_str(&m, "value", ""));
        wire_msg_free(&m);
        wire_frames_free(&frames);
        if (value)
            return value;
    }
}

static char *sink_input_cb(void *ctx, const char *prompt, bool password, const char **why)
{
    cell_ctx *c = ctx;
    kernel *k = c->k;
    if (!k->allow_stdin || !k->current) {
        *why = "this frontend does not accept keyboard input (allow_stdin is false); "
               "put the value in the cell instead";
        return NULL;
    }
    iopub_flush(k->pub);
    kernel_send_msg(k, k->stdin_sock, k->current, "input_request", NULL,
                    json_pack("{s:o, s:b}", "prompt", utf8_json_string(prompt, strlen(prompt)),
                              "password", password));
    return await_input_reply(k, why);
}

/* --- stop_on_error: the requests queued behind a failed cell ------------- */

#define ABORT_QUIET_MS 5
#define ABORT_MAX 4096

/* Take what is queued on shell now into k->queued (see kernel_abort_queue). */
static void collect_queue(kernel *k)
{
    zmq_pollitem_t item = { k->shell, 0, ZMQ_POLLIN, 0 };
    size_t cap = k->nqueued;
    while (k->nqueued < ABORT_MAX && zmq_poll(&item, 1, ABORT_QUIET_MS) > 0) {
        if (k->nqueued == cap) {
            size_t c = cap ? 2 * cap : 16;
            wire_frames *q = realloc(k->queued, c * sizeof *q);
            if (!q)
                break;
            k->queued = q;
            cap = c;
        }
        if (kernel_recv(k->shell, &k->queued[k->nqueued], ZMQ_DONTWAIT) < 0)
            break;
        k->nqueued++;
    }
}

/* --- execute ------------------------------------------------------------- */

static json_t *error_content(const lang_error *e)
{
    json_t *tb = json_array();
    for (int i = 0; i < e->ntraceback; i++)
        json_array_append_new(tb, utf8_json_string(e->traceback[i], strlen(e->traceback[i])));
    return json_pack("{s:o, s:o, s:o}",
        "ename", utf8_json_string(e->ename, strlen(e->ename)),
        "evalue", utf8_json_string(e->evalue, strlen(e->evalue)),
        "traceback", tb);
}

static const char *plain_text(const lang_bundle *b)
{
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->items[i].mime, "text/plain") == 0)
            return b->items[i].data;
    return NULL;
}

/* user_expressions: each evaluated quietly, as a mimebundle or an error. */
static json_t *user_expressions(kernel *k, const wire_msg *req)
{
    json_t *exprs = json_object_get(req->content, "user_expressions");
    json_t *out = json_object();
    const char *name;
    json_t *code;
    cell_ctx quiet = { k, req->header, true };
    lang_sink sink = cell_sink(&quiet);
    json_object_foreach(exprs, name, code) {
        lang_result r;
        const char *src = json_string_value(code);
        lang_exec_cell(k->lang, src ? src : "", 0, &sink, &r);
        json_t *v;
        if (r.ok) {
            json_t *md;   /* without a value, r.value is empty: {} and {} */
            json_t *data = bundle_data(&r.value, &md);
            v = json_pack("{s:s, s:o, s:o}", "status", "ok", "data", data, "metadata", md);
        } else {
            v = error_content(&r.error);
            json_object_set_new(v, "status", json_string("error"));
        }
        json_object_set_new(out, name, v);
        lang_result_free(&r);
    }
    return out;
}

static void publish_result(kernel *k, const wire_msg *req, const lang_result *r, int count)
{
    json_t *md;
    json_t *data = bundle_data(&r->value, &md);
    iopub_send(k->pub, "execute_result",
               json_pack("{s:i, s:o, s:o}", "execution_count", count, "data", data,
                         "metadata", md), req->header);
}

/* IPython's help syntax: a cell that is only `name?` or `?name` (dotted
 * names too) pages the name's documentation instead of running. Returns the
 * name's end offset in code, or 0 when the cell is not such a request. */
static size_t help_request(const char *code, size_t *start)
{
    size_t i = 0, n = strlen(code);
    while (n > 0 && strchr(" \t\r\n", code[n - 1]))
        n--;
    while (i < n && strchr(" \t\r\n", code[i]))
        i++;
    bool pre = i < n && code[i] == '?', post = n > i && code[n - 1] == '?';
    if (pre == post)
        return 0;
    size_t a = i + pre, b = n - post;
    if (a >= b || !(code[a] == '_' || isalpha((unsigned char)code[a])))
        return 0;
    for (size_t j = a; j < b; j++)
        if (!(code[j] == '_' || code[j] == '.' || isalnum((unsigned char)code[j])))
            return 0;
    *start = a;
    return b;
}

/* Answer a help request with a "page" payload, or an error if unknown. */
static json_t *help_payload(kernel *k, const char *code, size_t start, size_t end,
                            lang_result *r)
{
    char *name = strndup(code + start, end - start);
    char *doc = name ? lang_inspect(k->lang, name, end - start, 1) : NULL;
    json_t *payload = json_array();
    memset(r, 0, sizeof *r);
    r->ok = doc != NULL;
    if (doc) {
        json_array_append_new(payload, json_pack("{s:s, s:{s:o}, s:i}", "source", "page",
            "data", "text/plain", utf8_json_string(doc, strlen(doc)), "start", 0));
    } else {
        char msg[512];
        snprintf(msg, sizeof msg, "there is no help for '%s': no variable, function or "
                 "builtin has that name", name ? name : "");
        r->error.ename = strdup("NameError");
        r->error.evalue = strdup(msg);
        r->error.traceback = malloc(sizeof(char *));
        if (r->error.traceback) {
            r->error.traceback[0] = strdup(msg);
            r->error.ntraceback = r->error.traceback[0] ? 1 : 0;
        }
    }
    free(doc);
    free(name);
    return payload;
}

static void on_execute(kernel *k, void *sock, wire_msg *req)
{
    /* Before execute_input: an interrupt sent as soon as a frontend sees the
     * cell start must reach it. */
    lang_interrupt_clear();
    const char *code = content_str(req, "code", "");
    bool silent = content_bool(req, "silent", false);
    bool store = content_bool(req, "store_history", !silent) && !silent;
    if (store)
        k->execution_count++;
    int count = k->execution_count;
    if (!silent)
        iopub_send(k->pub, "execute_input",
                   json_pack("{s:s, s:i}", "code", code, "execution_count", count),
                   req->header);
    k->current = req;
    k->allow_stdin = content_bool(req, "allow_stdin", false);
    cell_ctx ctx = { k, req->header, silent };
    lang_sink sink = cell_sink(&ctx);
    iopub_cell_begin(k->pub, k->output_cap);
    lang_result r;
    size_t hstart, hend = help_request(code, &hstart);
    json_t *payload = hend ? help_payload(k, code, hstart, hend, &r) : json_array();
    if (!hend) {
        lang_exec_cell(k->lang, code, count, &sink, &r);
        magics_cell_end(k->lang, &sink, &r);   /* GPU recovery and checkpoint */
    }
    capture_drain(k->cap);
    k->current = NULL;
    if (r.ok && r.has_value && !silent)
        publish_result(k, req, &r, count);
    if (store)
        history_add(&k->hist, count, code, r.ok && r.has_value ? plain_text(&r.value) : NULL);
    json_t *reply;
    if (r.ok) {
        reply = json_pack("{s:s, s:i, s:o, s:o}", "status", "ok", "execution_count", count,
                          "user_expressions", user_expressions(k, req), "payload", payload);
    } else {
        if (!silent)
            iopub_send(k->pub, "error", error_content(&r.error), req->header);
        json_decref(payload);
        reply = error_content(&r.error);
        json_object_set_new(reply, "status", json_string("error"));
        json_object_set_new(reply, "execution_count", json_integer(count));
    }
    if (!r.ok && content_bool(req, "stop_on_error", true))
        collect_queue(k);
    iopub_flush(k->pub);
    kernel_reply(k, sock, req, "execute_reply", reply);
    lang_result_free(&r);
}

/* --- completion, inspection, is_complete, history, comms ----------------- */

/* The request's cursor_pos (code points) as a byte offset into code; the
 * end of the code when absent. */
static size_t cursor_bytes(const wire_msg *req, const char *code)
{
    json_t *cp = json_object_get(req->content, "cursor_pos");
    return json_is_integer(cp) ? utf8_byte_offset(code, (size_t)json_integer_value(cp))
                               : strlen(code);
}

static void on_complete(kernel *k, void *sock, wire_msg *req)
{
    const char *code = content_str(req, "code", "");
    lang_completion c;
    lang_complete(k->lang, code, cursor_bytes(req, code), &c);
    int start = (int)utf8_codepoints(code, c.start), end = (int)utf8_codepoints(code, c.end);
    json_t *matches = json_array(), *types = json_array();
    for (int i = 0; i < c.n; i++) {
        json_array_append_new(matches, json_string(c.matches[i]));
        json_array_append_new(types, json_pack("{s:s, s:s, s:i, s:i}",
            "text", c.matches[i], "type", c.types ? c.types[i] : "",
            "start", start, "end", end));
    }
    json_t *reply = json_pack("{s:s, s:o, s:i, s:i, s:{s:o}}",
        "status", "ok", "matches", matches, "cursor_start", start, "cursor_end", end,
        "metadata", "_jupyter_types_experimental", types);
    lang_completion_free(&c);
    kernel_reply(k, sock, req, "complete_reply", reply);
}

static void on_inspect(kernel *k, void *sock, wire_msg *req)
{
    const char *code = content_str(req, "code", "");
    json_t *dl = json_object_get(req->content, "detail_level");
    char *text = lang_inspect(k->lang, code, cursor_bytes(req, code), json_is_integer(dl) ?
                              (int)json_integer_value(dl) : 0);
    json_t *data = json_object();
    if (text)
        json_object_set_new(data, "text/plain", utf8_json_string(text, strlen(text)));
    kernel_reply(k, sock, req, "inspect_reply",
                 json_pack("{s:s, s:b, s:o, s:{}}", "status", "ok", "found", text != NULL,
                           "data", data, "metadata"));
    free(text);
}

static void on_is_complete(kernel *k, void *sock, wire_msg *req)
{
    const char *indent = "";
    const char *code = content_str(req, "code", "");
    size_t start;
    /* `name?` runs as a help request; the language alone would wait for more. */
    const char *status = help_request(code, &start) ? "complete"
                                                    : lang_is_complete(code, &indent);
    json_t *c = json_pack("{s:s}", "status", status);
    if (strcmp(status, "incomplete") == 0)
        json_object_set_new(c, "indent", json_string(indent ? indent : ""));
    kernel_reply(k, sock, req, "is_complete_reply", c);
}

static void on_history(kernel *k, void *sock, wire_msg *req)
{
    kernel_reply(k, sock, req, "history_reply",
                 json_pack("{s:s, s:o}", "status", "ok",
                           "history", history_query(&k->hist, req->content)));
}

static void on_comm_info(kernel *k, void *sock, wire_msg *req)
{
    kernel_reply(k, sock, req, "comm_info_reply",
                 json_pack("{s:s, s:{}}", "status", "ok", "comms"));
}

/* No comm targets are registered: close any comm a frontend opens. */
static void on_comm_open(kernel *k, void *sock, wire_msg *req)
{
    (void)sock;
    const char *id = content_str(req, "comm_id", "");
    klog("comm_open for unknown target '%s': closing it", content_str(req, "target_name", ""));
    iopub_send(k->pub, "comm_close", json_pack("{s:s, s:{}}", "comm_id", id, "data"),
               req->header);
}

static void on_comm_ignored(kernel *k, void *sock, wire_msg *req)
{
    (void)k;
    (void)sock;
    (void)req;
}

/* --- control ------------------------------------------------------------- */

static void on_interrupt(kernel *k, void *sock, wire_msg *req)
{
    lang_interrupt();
    kernel_reply(k, sock, req, "interrupt_reply", json_pack("{s:s}", "status", "ok"));
}

static void on_shutdown(kernel *k, void *sock, wire_msg *req)
{
    bool restart = content_bool(req, "restart", false);
    atomic_store(&k->shutting_down, true);
    lang_interrupt();
    kernel_reply(k, sock, req, "shutdown_reply",
                 json_pack("{s:s, s:b}", "status", "ok", "restart", restart));
}

/* --- dispatch ------------------------------------------------------------ */

typedef struct handler_entry {
    const char *type;
    handler_fn fn;
    bool shell, control;
} handler_entry;

static const handler_entry handlers[] = {
    { "kernel_info_request", on_kernel_info, true, true },
    { "execute_request", on_execute, true, false },
    { "complete_request", on_complete, true, false },
    { "inspect_request", on_inspect, true, false },
    { "is_complete_request", on_is_complete, true, false },
    { "history_request", on_history, true, false },
    { "comm_info_request", on_comm_info, true, false },
    { "comm_open", on_comm_open, true, false },
    { "comm_msg", on_comm_ignored, true, false },
    { "comm_close", on_comm_ignored, true, false },
    { "interrupt_request", on_interrupt, false, true },
    { "shutdown_request", on_shutdown, true, true },
};

static const handler_entry *find_handler(const char *type, bool control)
{
    for (size_t i = 0; i < sizeof handlers / sizeof *handlers; i++)
        if (strcmp(handlers[i].type, type) == 0 &&
            (control ? handlers[i].control : handlers[i].shell))
            return &handlers[i];
    return NULL;
}

static void reply_unknown(kernel *k, void *sock, wire_msg *req, const char *type)
{
    size_t n = strlen(type);
    const char *suffix = "_request";
    if (n <= 8 || strcmp(type + n - 8, suffix) != 0) {
        klog("ignored a message of unknown type '%s'", type);
        return;
    }
    char reply_type[128];
    snprintf(reply_type, sizeof reply_type, "%.*s_reply", (int)(n - 8), type);
    char evalue[256];
    snprintf(evalue, sizeof evalue, "hellodl does not handle '%s' on this channel", type);
    klog("%s", evalue);
    kernel_reply(k, sock, req, reply_type,
                 json_pack("{s:s, s:s, s:s, s:[]}", "status", "error", "ename",
                           "UnknownRequest", "evalue", evalue, "traceback"));
}

void kernel_dispatch(kernel *k, void *sock, wire_msg *req, bool control)
{
    const char *type = msg_type(req);
    const handler_entry *h = find_handler(type, control);
    iopub_status(k->pub, "busy", req->header);
    if (!control)
        iopub_set_parent(k->pub, req->header);
    if (h)
        h->fn(k, sock, req);
    else
        reply_unknown(k, sock, req, type);
    iopub_status(k->pub, "idle", req->header);
    if (k->nqueued)
        kernel_abort_queue(k);
}

static void abort_or_dispatch(kernel *k, const wire_frames *frames)
{
    wire_msg m;
    char why[256];
    wire_msg_init(&m);
    if (wire_parse(frames, &k->key, &m, why, sizeof why) < 0) {
        klog("shell: dropped a message: %s", why);
    } else if (strcmp(msg_type(&m), "execute_request") == 0) {
        iopub_status(k->pub, "busy", m.header);
        kernel_reply(k, k->shell, &m, "execute_reply", json_pack("{s:s}", "status", "aborted"));
        iopub_status(k->pub, "idle", m.header);
    } else {
        kernel_dispatch(k, k->shell, &m, false);
    }
    wire_msg_free(&m);
}

/* After an error with stop_on_error, the execute_requests already queued are
 * answered with status "aborted" and any other request is served normally.
 * "Queued" means received before the failed cell's reply is sent, once the
 * shell socket has been quiet for ABORT_QUIET_MS (requests still in flight);
 * they are answered after its idle. A request that a frontend sends in
 * response to the reply or the idle is never aborted. */
void kernel_abort_queue(kernel *k)
{
    wire_frames *queued = k->queued;
    size_t n = k->nqueued;
    k->queued = NULL;       /* dispatching below may not see them again */
    k->nqueued = 0;
    for (size_t i = 0; i < n; i++) {
        abort_or_dispatch(k, &queued[i]);
        wire_frames_free(&queued[i]);
    }
    free(queued);
}
