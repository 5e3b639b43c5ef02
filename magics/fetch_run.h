/*
 * fetch_run.h - running the hellodl-fetch helper (magics/fetch/) from a
 * cell: start it, turn its progress lines into one live display that
 * updates in place, kill it when the user interrupts or when it runs too
 * long, and report its error sentence.
 *
 * The helper is found through HELLODL_FETCH (tests), then beside the
 * running executable, then in the build tree (HELLODL_FETCH_BUILD).
 * Time limits: HELLODL_FETCH_TIMEOUT seconds in all (default 3600), and
 * 120 s without a line of progress.
 */
#ifndef HELLODL_FETCH_RUN_H
#define HELLODL_FETCH_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "sink.h"

/* Path of the helper into out; false (with why) when it is not there. */
bool fetch_locate(char *out, size_t n, char *why, size_t whylen);

/* Download url to dest (resuming dest.part). `label` names it in the
 * display; `expected` is its size when known (else -1). */
bool fetch_download(const lang_sink *sink, const char *url, const char *dest,
                    const char *label, long long expected, char *why, size_t whylen);

/* Unpack archive into dir (which must exist). */
bool fetch_unpack(const lang_sink *sink, const char *archive, const char *dir,
                  char *why, size_t whylen);

#endif
