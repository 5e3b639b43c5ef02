#include "history.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_SESSION 1

void history_init(history *h)
{
    memset(h, 0, sizeof *h);
}

void history_free(history *h)
{
    for (int i = 0; i < h->n; i++) {
        free(h->v[i].input);
        free(h->v[i].output);
    }
    free(h->v);
    memset(h, 0, sizeof *h);
}

void history_add(history *h, int line, const char *input, const char *output)
{
    if (h->n == h->cap) {
        int cap = h->cap ? h->cap * 2 : 64;
        history_entry *v = realloc(h->v, (size_t)cap * sizeof *v);
        if (!v)
            return;
        h->v = v;
        h->cap = cap;
    }
    history_entry *e = &h->v[h->n];
    e->line = line;
    e->input = strdup(input);
    e->output = output ? strdup(output) : NULL;
    if (!e->input) {
        free(e->output);
        return;
    }
    h->n++;
}

static json_t *entry_json(const history_entry *e, bool output)
{
    json_t *item = output
        ? json_pack("[s, s*]", e->input, e->output)
        : json_string(e->input);
    return json_pack("[i, i, o]", HISTORY_SESSION, e->line, item);
}

static int get_int(const json_t *req, const char *key, int dflt)
{
    json_t *v = json_object_get(req, key);
    return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

/* Entries whose input matches the glob; newest n, oldest first. */
static json_t *search(const history *h, const json_t *req, bool output)
{
    const char *pattern = json_string_value(json_object_get(req, "pattern"));
    bool unique = json_is_true(json_object_get(req, "unique"));
    int n = get_int(req, "n", 0);
    json_t *hits = json_array();
    for (int i = h->n - 1; i >= 0; i--) {
        const history_entry *e = &h->v[i];
        if (pattern && fnmatch(pattern, e->input, 0) != 0)
            continue;
        bool dup = false;
        for (int j = i + 1; unique && j < h->n && !dup; j++)
            dup = strcmp(h->v[j].input, e->input) == 0 &&
                  (!pattern || fnmatch(pattern, h->v[j].input, 0) == 0);
        if (dup)
            continue;
        json_array_insert_new(hits, 0, entry_json(e, output));
        if (n > 0 && (int)json_array_size(hits) >= n)
            break;
    }
    return hits;
}

json_t *history_query(const history *h, const json_t *req)
{
    const char *type = json_string_value(json_object_get(req, "hist_access_type"));
    bool output = json_is_true(json_object_get(req, "output"));
    json_t *out = json_array();
    if (type && strcmp(type, "tail") == 0) {
        int n = get_int(req, "n", 10);
        for (int i = n >= h->n ? 0 : h->n - n; i < h->n && n > 0; i++)
            json_array_append_new(out, entry_json(&h->v[i], output));
    } else if (type && strcmp(type, "range") == 0) {
        int session = get_int(req, "session", 0);
        int start = get_int(req, "start", 1), stop = get_int(req, "stop", 0);
        if (session != 0 && session != HISTORY_SESSION)
            return out;     /* earlier sessions are not kept */
        for (int i = 0; i < h->n; i++) {
            int line = h->v[i].line;
            if (line >= start && (stop <= 0 || line < stop))
                json_array_append_new(out, entry_json(&h->v[i], output));
        }
    } else if (type && strcmp(type, "search") == 0) {
        json_decref(out);
        out = search(h, req, output);
    }
    return out;
}
