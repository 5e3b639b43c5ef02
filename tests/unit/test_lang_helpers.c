/*
 * test_lang_helpers.c - is_complete, completion and inspection.
 */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "lang.h"

static lang_session *s;

static void run(const char *src)
{
    lang_result r;
    if (!lang_exec_cell(s, src, 1, NULL, &r))
        fprintf(stderr, "cell failed: %s: %s\n", r.error.ename, r.error.evalue);
    lang_result_free(&r);
}

/* Inspects src at cursor; the text is kept until the next call (NULL when
 * there is nothing to say). */
static const char *inspect(const char *src, size_t cursor)
{
    static char *last;
    free(last);
    last = src ? lang_inspect(s, src, cursor, 0) : NULL;
    return last;
}

#define CHECK_HAS(text, part) do { const char *t_ = (text); check_count++; \
    if (!t_ || !strstr(t_, part)) { check_failures++; \
    fprintf(stderr, "%s:%d: no \"%s\" in:\n%s\n", __FILE__, __LINE__, part, \
            t_ ? t_ : "(null)"); } } while (0)

static void test_is_complete(void)
{
    const char *indent;
    CHECK_STR(lang_is_complete("print(1);", &indent), "complete");
    CHECK_STR(indent, "");
    CHECK_STR(lang_is_complete("", &indent), "complete");
    CHECK_STR(lang_is_complete("x + 1", &indent), "complete");
    CHECK_STR(lang_is_complete("if (x) {", &indent), "incomplete");
    CHECK_STR(indent, "    ");
    CHECK_STR(lang_is_complete("for (;;) {\n  if (y) {", &indent), "incomplete");
    CHECK_STR(indent, "        ");
    CHECK_STR(lang_is_complete("print(1,", &indent), "incomplete");
    CHECK_STR(lang_is_complete("int x = 3 +", &indent), "incomplete");
    CHECK_STR(indent, "    ");
    CHECK_STR(lang_is_complete("string s = \"abc", &indent), "incomplete");
    CHECK_STR(lang_is_complete("/* comment", &indent), "incomplete");
    CHECK_STR(lang_is_complete("print(1);}", &indent), "invalid");
    CHECK_STR(lang_is_complete("f(1]", &indent), "invalid");
    CHECK_STR(lang_is_complete("a = {1, 2};", &indent), "complete");
    CHECK_STR(lang_is_complete("// just a comment (", &indent), "complete");
    CHECK_STR(lang_is_complete("if (x > 1)", &indent), "incomplete");
    CHECK_STR(lang_is_complete("for (int i = 0; i < 3; i++)\n", &indent), "incomplete");
    CHECK_STR(lang_is_complete("if (x) y(); else", &indent), "incomplete");
    CHECK_STR(lang_is_complete("print(f(x))", &indent), "complete");
    CHECK_STR(lang_is_complete("do", &indent), "incomplete");
}

static bool has(const lang_completion *c, const char *m, const char *type)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->matches[i], m) == 0 && (!type || strcmp(c->types[i], type) == 0)) return true;
    return false;
}

static void test_complete(void)
{
    lang_completion c;
    run("int learning_rate = 3; list layers = {1}; string name = \"x\";\n"
        "// Multiply x by a factor.\n"
        "float scale(float x, float factor = 2) { return x * factor; }");

    const char *src = "print(lear";
    lang_complete(s, src, strlen(src), &c);
    CHECK(has(&c, "learning_rate", "variable"));
    CHECK_INT(c.start, 6);
    CHECK_INT(c.end, 10);
    lang_completion_free(&c);

    src = "pr";
    lang_complete(s, src, 2, &c);
    CHECK(has(&c, "print", "function"));
    CHECK(has(&c, "printf", "function"));
    CHECK(!has(&c, "learning_rate", NULL));
    lang_completion_free(&c);

    src = "wh";
    lang_complete(s, src, 2, &c);
    CHECK(has(&c, "while", "keyword"));
    lang_completion_free(&c);

    src = "";
    lang_complete(s, src, 0, &c);
    CHECK(has(&c, "float", NULL));
    CHECK(has(&c, "bool", NULL));
    CHECK(has(&c, "auto", "type"));
    lang_completion_free(&c);

    src = "layers.ap";
    lang_complete(s, src, strlen(src), &c);
    CHECK(has(&c, "append", "method"));
    CHECK_INT(c.start, 7);
    lang_completion_free(&c);

    src = "name.";
    lang_complete(s, src, strlen(src), &c);
    CHECK(has(&c, "upper", "method"));
    CHECK(!has(&c, "append", NULL));
    lang_completion_free(&c);

    src = "scale(1, fa";
    lang_complete(s, src, strlen(src), &c);
    CHECK(has(&c, "factor = ", "param"));
    lang_completion_free(&c);

    src = "input(\"x\", pass";
    lang_complete(s, src, strlen(src), &c);
    CHECK(has(&c, "password = ", "param"));
    lang_completion_free(&c);

    static const char *const magics[] = {"mount", "group", "gpu"};
    lang_set_magic_names(s, magics, 3);
    src = "int x = 1;\n%mo";
    lang_complete(s, src, strlen(src), &c);
    CHECK_INT(c.n, 1);
    if (c.n) CHECK_STR(c.matches[0], "mount");
    if (c.n) CHECK_STR(c.types[0], "magic");
    CHECK_INT(c.start, 12);
    lang_completion_free(&c);
    src = "x %g";   /* a modulo, not a magic */
    lang_complete(s, src, strlen(src), &c);
    CHECK(!has(&c, "group", NULL));
    lang_completion_free(&c);

    /* file paths inside a string: the test runs with the source dir known */
    const char *dir = getenv("HELLODL_SOURCE_DIR");
    if (dir) {
        char buf[1200];
        snprintf(buf, sizeof buf, "display_png(\"%s/tests/lang/data/red", dir);
        lang_complete(s, buf, strlen(buf), &c);
        char want[1200];
        snprintf(want, sizeof want, "%s/tests/lang/data/red2x2.png", dir);
        CHECK(has(&c, want, "path"));
        CHECK_INT(c.start, 13);
        lang_completion_free(&c);
    }
}

static void test_inspect(void)
{
    CHECK_HAS(inspect("scale(", 2), "float scale(float x, float factor = 2)");
    const char *t = inspect("scale", 1);
    CHECK_HAS(t, "Multiply x by a factor.");
    CHECK_HAS(t, "Defined in Cell [1], line 3.");
    t = inspect("print(", 6);
    CHECK_HAS(t, "void print(...)");
    CHECK_HAS(t, "separated by spaces");
    CHECK_HAS(inspect("input", 3), "string input(string prompt = \"\", bool password = false)");
    t = inspect("layers", 6);
    CHECK_HAS(t, "layers: list");
    CHECK_HAS(t, "list of 1 item");
    CHECK_HAS(inspect("learning_rate", 0), "learning_rate: int (declared int)");
    CHECK_HAS(inspect("layers.append", 10), "void list.append(any x)");
    t = inspect("string", 2);
    CHECK_HAS(t, "type string");
    CHECK_HAS(t, "upper()");
    CHECK_HAS(inspect("for (;;) {}", 1), "for (auto x : list)");
    CHECK(inspect("nothing_here", 3) == NULL);
    inspect(NULL, 0);
}

int main(void)
{
    s = lang_session_new(NULL);
    CHECK(s != NULL);
    test_is_complete();
    test_complete();
    test_inspect();
    lang_session_free(s);
    return CHECK_DONE();
}
