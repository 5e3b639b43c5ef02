/*
 * check.h - the smallest test harness: CHECK* macros print both sides of a
 * failed comparison with file:line and count failures; CHECK_DONE() returns
 * the exit status (0 all passed, 1 otherwise). One program per module.
 */
#ifndef HELLODL_CHECK_H
#define HELLODL_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures, check_count;

#define CHECK(cond) do { check_count++; if (!(cond)) { check_failures++; \
    fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); } } while (0)

#define CHECK_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    check_count++; if (a_ != b_) { check_failures++; \
    fprintf(stderr, "%s:%d: %s == %s failed: %lld vs %lld\n", __FILE__, __LINE__, \
            #a, #b, a_, b_); } } while (0)

#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); check_count++; \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) { check_failures++; \
    fprintf(stderr, "%s:%d: %s == %s failed:\n  got:      \"%s\"\n  expected: \"%s\"\n", \
            __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } } while (0)

#define CHECK_NEAR(a, b, tol) do { double a_ = (double)(a), b_ = (double)(b); \
    check_count++; if (!(fabs(a_ - b_) <= (tol))) { check_failures++; \
    fprintf(stderr, "%s:%d: %s ~= %s failed: %.9g vs %.9g (tol %g)\n", __FILE__, \
            __LINE__, #a, #b, a_, b_, (double)(tol)); } } while (0)

/* A fresh directory $TMPDIR/hellodl-NAME-XXXXXX (or under /tmp) into buf;
 * returns 0, or -1 after printing why. */
static inline int check_tmpdir(char *buf, size_t n, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, n, "%s/hellodl-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

#define CHECK_DONE() (printf("%d checks, %d failed\n", check_count, check_failures), \
    check_failures ? 1 : 0)

#endif
