/*
 * history.h - this process's input history, for history_request.
 *
 * Entries are numbered from 1 in the order they were stored (execution
 * counts); the session number of this process is always 1.
 */
#ifndef HELLODL_HISTORY_H
#define HELLODL_HISTORY_H

#include <jansson.h>
#include <stdbool.h>

typedef struct history_entry {
    int line;
    char *input;
    char *output;      /* text/plain of the result, or NULL */
} history_entry;

typedef struct history {
    history_entry *v;
    int n, cap;
} history;

void history_init(history *h);
void history_free(history *h);
void history_add(history *h, int line, const char *input, const char *output);

/* Answer a history_request's content with the "history" list: entries are
 * [session, line, input] or [session, line, [input, output]]. New reference. */
json_t *history_query(const history *h, const json_t *request);

#endif
