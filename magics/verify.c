/*
 * verify.c - file digests with OpenSSL and the size+mtime memory of them
 * (see verify.h).
 */
#include "verify.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lang.h"

typedef struct vline {
    char algo[8];
    char hex[65];
    long long size, mtime_ns;
    char *path;
} vline;

struct verify_cache {
    char *file;
    vline *v;
    int n, cap;
    bool dirty;
};

static bool vc_push(verify_cache *vc, const vline *l)
{
    if (vc->n == vc->cap) {
        int cap = vc->cap ? vc->cap * 2 : 64;
        vline *grown = realloc(vc->v, (size_t)cap * sizeof *grown);
        if (!grown)
            return false;
        vc->v = grown;
        vc->cap = cap;
    }
    vc->v[vc->n++] = *l;
    return true;
}

verify_cache *verify_cache_open(const char *file)
{
    verify_cache *vc = calloc(1, sizeof *vc);
    if (!vc || !file)
        return vc;
    vc->file = strdup(file);
    FILE *f = fopen(file, "r");
    char line[8192];
    while (f && fgets(line, sizeof line, f)) {
        vline l;
        int off = 0;
        memset(&l, 0, sizeof l);
        if (sscanf(line, "%7s %64s %lld %lld %n", l.algo, l.hex, &l.size, &l.mtime_ns, &off) < 4
            || off <= 0)
            continue;
        line[strcspn(line, "\n")] = '\0';
        l.path = strdup(line + off);
        if (!l.path || !vc_push(vc, &l))
            free(l.path);
    }
    if (f)
        fclose(f);
    return vc;
}

static void vc_save(verify_cache *vc)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", vc->file, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;    /* a read-only cache only means hashing again next time */
    for (int i = 0; i < vc->n; i++)
        fprintf(f, "%s %s %lld %lld %s\n", vc->v[i].algo, vc->v[i].hex, vc->v[i].size,
                vc->v[i].mtime_ns, vc->v[i].path);
    if (fclose(f) != 0 || rename(tmp, vc->file) != 0)
        unlink(tmp);
}

void verify_cache_close(verify_cache *vc)
{
    if (!vc)
        return;
    if (vc->dirty && vc->file)
        vc_save(vc);
    for (int i = 0; i < vc->n; i++)
        free(vc->v[i].path);
    free(vc->v);
    free(vc->file);
    free(vc);
}

static long long mtime_ns(const struct stat *st)
{
    return (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static bool hash_file(const char *path, const char *algo, char *hex, char *why, size_t whylen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "cannot read %s (%s)", path, strerror(errno));
        return false;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestInit_ex(md, strcmp(algo, "md5") == 0 ? EVP_md5() : EVP_sha256(),
                                      NULL);
    static unsigned char buf[1 << 16];   /* cells run on one thread */
    ssize_t got;
    while (ok && (got = read(fd, buf, sizeof buf)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 || lang_interrupted()) {
            snprintf(why, whylen, got < 0 ? "reading %s failed" : "interrupted while checking %s",
                     path);
            ok = false;
            break;
        }
        ok = EVP_DigestUpdate(md, buf, (size_t)got);
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (ok && EVP_DigestFinal_ex(md, out, &len))
        for (unsigned int i = 0; i < len; i++)
            sprintf(hex + 2 * i, "%02x", out[i]);
    else if (ok)
        snprintf(why, whylen, "cannot compute the checksum of %s", path), ok = false;
    EVP_MD_CTX_free(md);
    close(fd);
    return ok;
}

bool verify_digest(verify_cache *vc, const char *path, const char *algo, char *hex,
                   long long *size, char *why, size_t whylen)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "%s is not a readable file", path);
        return false;
    }
    *size = (long long)st.st_size;
    for (int i = 0; vc && i < vc->n; i++) {
        vline *l = &vc->v[i];
        if (strcmp(l->path, path) == 0 && strcmp(l->algo, algo) == 0) {
            if (l->size == *size && l->mtime_ns == mtime_ns(&st)) {
                strcpy(hex, l->hex);
                return true;
            }
            free(l->path);
            vc->v[i] = vc->v[--vc->n];   /* stale: forget it */
            vc->dirty = true;
            break;
        }
    }
    if (!hash_file(path, algo, hex, why, whylen))
        return false;
    vline l = { .size = *size, .mtime_ns = mtime_ns(&st), .path = strdup(path) };
    snprintf(l.algo, sizeof l.algo, "%s", algo);
    snprintf(l.hex, sizeof l.hex, "%s", hex);
    if (vc && vc->file && l.path && vc_push(vc, &l))
        vc->dirty = true;
    else
        free(l.path);
    return true;
}
