/* history_request answers, UTF-8 cursor conversions, and install arguments. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "history.h"
#include "install.h"
#include "utf8.h"

static json_t *query(const history *h, const char *json)
{
    json_t *req = json_loads(json, 0, NULL);
    json_t *r = history_query(h, req);
    json_decref(req);
    return r;
}

static void test_history(void)
{
    history h;
    history_init(&h);
    history_add(&h, 1, "int x = 1;", NULL);
    history_add(&h, 2, "x + 1", "2");
    history_add(&h, 3, "print(x);", NULL);
    history_add(&h, 4, "x + 1", "2");

    json_t *r = query(&h, "{\"hist_access_type\":\"tail\",\"n\":2,\"output\":false}");
    CHECK_INT(json_array_size(r), 2);
    CHECK_INT(json_integer_value(json_array_get(json_array_get(r, 0), 1)), 3);
    CHECK_STR(json_string_value(json_array_get(json_array_get(r, 1), 2)), "x + 1");
    json_decref(r);

    r = query(&h, "{\"hist_access_type\":\"tail\",\"n\":1,\"output\":true}");
    json_t *pair = json_array_get(json_array_get(r, 0), 2);
    CHECK_STR(json_string_value(json_array_get(pair, 1)), "2");
    json_decref(r);

    r = query(&h, "{\"hist_access_type\":\"range\",\"session\":1,\"start\":2,\"stop\":4}");
    CHECK_INT(json_array_size(r), 2);
    json_decref(r);
    r = query(&h, "{\"hist_access_type\":\"range\",\"session\":7,\"start\":1,\"stop\":4}");
    CHECK_INT(json_array_size(r), 0);
    json_decref(r);

    r = query(&h, "{\"hist_access_type\":\"search\",\"pattern\":\"x*\"}");
    CHECK_INT(json_array_size(r), 2);
    json_decref(r);
    r = query(&h, "{\"hist_access_type\":\"search\",\"pattern\":\"x*\",\"unique\":true}");
    CHECK_INT(json_array_size(r), 1);
    CHECK_INT(json_integer_value(json_array_get(json_array_get(r, 0), 1)), 4);
    json_decref(r);
    r = query(&h, "{\"hist_access_type\":\"search\",\"pattern\":\"*\",\"n\":3}");
    CHECK_INT(json_array_size(r), 3);
    json_decref(r);
    r = query(&h, "{\"hist_access_type\":\"bogus\"}");
    CHECK_INT(json_array_size(r), 0);
    json_decref(r);
    history_free(&h);
}

static void test_utf8(void)
{
    const char *s = "a\xc3\xa9" "b\xf0\x9f\x98\x80" "c";   /* a é b 😀 c */
    CHECK_INT(utf8_byte_offset(s, 0), 0);
    CHECK_INT(utf8_byte_offset(s, 2), 3);
    CHECK_INT(utf8_byte_offset(s, 4), 8);
    CHECK_INT(utf8_byte_offset(s, 99), strlen(s));
    CHECK_INT(utf8_codepoints(s, 3), 2);
    CHECK_INT(utf8_codepoints(s, strlen(s)), 5);
    CHECK_INT(utf8_complete_prefix("ab\xc3", 3), 2);
    CHECK_INT(utf8_complete_prefix("ab\xf0\x9f\x98", 5), 2);
    CHECK_INT(utf8_complete_prefix("ab\xc3\xa9", 4), 4);
    json_t *j = utf8_json_string("ok\xff", 3);
    CHECK_STR(json_string_value(j), "ok\xef\xbf\xbd");
    json_decref(j);
    j = utf8_json_string("a\0b", 3);
    CHECK(j != NULL);
    json_decref(j);
}

static void test_install_args(void)
{
    install_options o;
    char err[256];
    char *ok[] = { "--user", "--name", "dl2", "--display-name", "DL two",
                   "--env", "A=1", "--env", "B=x=y" };
    CHECK_INT(install_parse_args(9, ok, &o, err, sizeof err), 0);
    CHECK_INT(o.scope, INSTALL_USER);
    CHECK_STR(o.name, "dl2");
    CHECK_STR(o.display_name, "DL two");
    CHECK_INT(o.nenv, 2);
    CHECK_STR(o.env[1], "B=x=y");
    char *bad_env[] = { "--env", "NOEQUALS" };
    CHECK_INT(install_parse_args(2, bad_env, &o, err, sizeof err), -1);
    CHECK(strstr(err, "NAME=VALUE") != NULL);
    char *missing[] = { "--prefix" };
    CHECK_INT(install_parse_args(1, missing, &o, err, sizeof err), -1);
    CHECK(strstr(err, "needs a value") != NULL);
    char *unknown[] = { "--frobnicate" };
    CHECK_INT(install_parse_args(1, unknown, &o, err, sizeof err), -1);
    CHECK(strstr(err, "--frobnicate") != NULL);
    char *badname[] = { "--name", "../evil" };
    CHECK_INT(install_parse_args(2, badname, &o, err, sizeof err), -1);
}

int main(void)
{
    test_history();
    test_utf8();
    test_install_args();
    return CHECK_DONE();
}
