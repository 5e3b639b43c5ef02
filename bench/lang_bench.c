/*
 * lang_bench.c - times the cell language on loop-heavy cells and on parsing
 * a 1,000-line cell. Prints figures; asserts nothing. bench/lang_bench.sh
 * builds it and runs the same algorithms in CPython for comparison.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lang.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double run(lang_session *s, const char *name, const char *src, int reps)
{
    double best = 1e9;
    for (int i = 0; i < reps; i++) {
        lang_result r;
        double t0 = now();
        bool ok = lang_exec_cell(s, src, 1, lang_stdio_sink(), &r);
        double t = now() - t0;
        if (!ok) { fprintf(stderr, "%s failed: %s: %s\n", name, r.error.ename, r.error.evalue); exit(1); }
        lang_result_free(&r);
        if (t < best) best = t;
    }
    printf("%-28s %9.1f ms\n", name, best * 1e3);
    return best;
}

int main(void)
{
    lang_session *s = lang_session_new(NULL);
    run(s, "hellodl loop 1e7", "int s = 0;\n"
        "for (int i = 0; i < 10000000; i++) { s = s + i * 3 % 7; }\n"
        "print(\"loop sum\", s);\n", 5);
    run(s, "hellodl fib(27)", "int fib(int n) { if (n < 2) return n; return fib(n - 1) + fib(n - 2); }\n"
        "print(\"fib\", fib(27));\n", 5);
    /* a 1,000-line cell that parses but does little: typical statements */
    size_t cap = 200000, n = 0;
    char *big = malloc(cap);
    for (int i = 0; i < 1000 && big; i++)
        n += (size_t)snprintf(big + n, cap - n, i % 4 == 0 ? "float v%d = %d * 1.5 + 2 / (3 - 1);\n"
                              : i % 4 == 1 ? "if (v%d > 3) { print(\"big\", v%d); } // note\n"
                              : i % 4 == 2 ? "list l%d = {1, 2, 3, \"x\"}; l%d.append(4);\n"
                              : "printf(\"%%d %%s\\n\", %d, str(%d));\n", i - i % 4, i - i % 4);
    /* parse only: a syntax error at the very end stops it before running */
    snprintf(big + n, cap - n, "int broken = ;\n");
    double best = 1e9;
    for (int i = 0; i < 20; i++) {
        lang_result r;
        double t0 = now();
        lang_exec_cell(s, big, 2, NULL, &r);
        double t = now() - t0;
        lang_result_free(&r);
        if (t < best) best = t;
    }
    printf("%-28s %9.3f ms\n", "hellodl parse 1000 lines", best * 1e3);
    free(big);
    lang_session_free(s);
    return 0;
}
