/*
 * fetch.c - hellodl-fetch, the helper process that %mount runs to download
 * and unpack datasets. It alone links libcurl and libarchive (see
 * magics/CMakeLists.txt): a hostile server or archive can at worst end this
 * process, never the kernel, and the kernel can kill it at any time.
 *
 *   hellodl-fetch get URL OUT       download URL to OUT, resuming OUT.part
 *   hellodl-fetch unpack ARCHIVE DIR  unpack ARCHIVE into DIR
 *
 * Protocol with the kernel: progress on stdout, one line at a time,
 *   "resume BYTES"          (get; bytes already in OUT.part, once per attempt)
 *   "progress DONE TOTAL"   (get; bytes so far, a few times a second)
 *   "entry N NAME"          (unpack; N entries written so far)
 *   "done"
 * and on failure one sentence for the user on stderr and a non-zero exit:
 * 1 download failed, 2 usage, 3 the archive is unsafe ("zip slip"),
 * 4 the archive is unreadable.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "unpack.h"

typedef struct dl {
    FILE *out;
    const char *part;
    long long offset;       /* bytes already in the .part file at the start */
    long long done;
    bool checked;           /* the response status was looked at */
    CURL *curl;
    struct timespec last;
} dl;

static double seconds_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* A server that ignores Range sends the whole file: start the .part over. */
static bool check_status(dl *d)
{
    long code = 0;
    curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &code);
    d->checked = true;
    if (d->offset > 0 && code == 200) {
        if (fflush(d->out) != 0 || ftruncate(fileno(d->out), 0) != 0 || fseek(d->out, 0, SEEK_SET))
            return false;
        d->offset = 0;
    }
    return true;
}

static size_t on_data(char *ptr, size_t size, size_t n, void *ctx)
{
    dl *d = ctx;
    if (!d->checked && !check_status(d))
        return 0;
    size_t bytes = size * n;
    if (fwrite(ptr, 1, bytes, d->out) != bytes)
        return 0;
    d->done += (long long)bytes;
    return bytes;
}

static int on_progress(void *ctx, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un)
{
    dl *d = ctx;
    (void)ut;
    (void)un;
    if (seconds_since(&d->last) < 0.2)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &d->last);
    long long all = total > 0 ? (long long)total + d->offset : -1;
    printf("progress %lld %lld\n", (long long)now + d->offset, all);
    fflush(stdout);
    return 0;
}

static void set_options(CURL *c, const char *url, dl *d)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    /* A stalled transfer (under 1 byte/s for a minute) gives up. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "hellodl-fetch/" HELLODL_VERSION);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, d);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    if (d->offset > 0)
        curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)d->offset);
}

/* One attempt; returns the curl code and the HTTP status. */
static CURLcode transfer(const char *url, dl *d, long *status, char *err)
{
    CURL *c = curl_easy_init();
    if (!c)
        return CURLE_OUT_OF_MEMORY;
    d->curl = c;
    d->checked = false;
    set_options(c, url, d);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    return rc;
}

static int cmd_get(const char *url, const char *out)
{
    char part[4096];
    snprintf(part, sizeof part, "%s.part", out);
    struct stat st;
    dl d = { .part = part };
    d.offset = stat(part, &st) == 0 ? (long long)st.st_size : 0;
    clock_gettime(CLOCK_MONOTONIC, &d.last);
    char err[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURLcode rc = CURLE_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        d.out = fopen(part, d.offset > 0 ? "ab" : "wb");
        if (!d.out) {
            fprintf(stderr, "cannot write %s (%s)\n", part, strerror(errno));
            return 1;
        }
        printf("resume %lld\n", d.offset);
        fflush(stdout);
        rc = transfer(url, &d, &status, err);
        if (fclose(d.out) != 0 && rc == CURLE_OK)
            rc = CURLE_WRITE_ERROR;
        /* 416: the .part is complete or stale; start it over once. */
        if (rc == CURLE_OK || status != 416 || d.offset == 0)
            break;
        d.offset = 0;
        unlink(part);
    }
    if (rc != CURLE_OK) {
        if (stat(part, &st) == 0 && st.st_size == 0)
            unlink(part);    /* nothing arrived: leave no empty file behind */
        fprintf(stderr, "downloading %s failed: %s%s\n", url, err[0] ? err : curl_easy_strerror(rc),
                d.offset + d.done > 0 ? " (what arrived is kept; running again resumes it)" : "");
        return 1;
    }
    if (rename(part, out) != 0) {
        fprintf(stderr, "cannot rename %s to %s (%s)\n", part, out, strerror(errno));
        return 1;
    }
    printf("progress %lld %lld\ndone\n", d.offset + d.done, d.offset + d.done);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "get") == 0) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
            fprintf(stderr, "the download library could not start\n");
            return 1;
        }
        int rc = cmd_get(argv[2], argv[3]);
        curl_global_cleanup();
        return rc;
    }
    if (argc == 4 && strcmp(argv[1], "unpack") == 0)
        return unpack_archive(argv[2], argv[3]);
    fprintf(stderr, "usage: hellodl-fetch get URL OUT | hellodl-fetch unpack ARCHIVE DIR\n");
    return 2;
}
