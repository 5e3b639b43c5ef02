/*
 * test_connection.c - connection files: good tcp and ipc files, every
 * malformed case we can think of, and the endpoint strings.
 */
#include "check.h"
#include "connection.h"

#include <stdlib.h>
#include <unistd.h>

#define GOOD_TCP                                                                     \
    "{\"shell_port\": 5001, \"iopub_port\": 5002, \"stdin_port\": 5003,"             \
    " \"control_port\": 5004, \"hb_port\": 5005, \"ip\": \"127.0.0.1\","             \
    " \"key\": \"a0436f6c-1916-498b-8eb9-e81ab9368e84\", \"transport\": \"tcp\","    \
    " \"signature_scheme\": \"hmac-sha256\", \"kernel_name\": \"hellodl\"}"

static char err[512];

/* Parse text under the name "k.json"; returns the status. */
static int parse(const char *json, conn_info *c)
{
    err[0] = '\0';
    return conn_parse(json, "k.json", c, err, sizeof err);
}

/* The message that parsing text gives, or "" when it parses. */
static const char *error_of(const char *json)
{
    conn_info c;
    if (parse(json, &c) == 0) {
        conn_free(&c);
        return "";
    }
    CHECK(c.key == NULL);
    return err;
}

static void test_good_tcp(void)
{
    conn_info c;
    char ep[300];
    CHECK_INT(parse(GOOD_TCP, &c), 0);
    CHECK_STR(c.transport, "tcp");
    CHECK_STR(c.ip, "127.0.0.1");
    CHECK_INT(c.ports[CONN_SHELL], 5001);
    CHECK_INT(c.ports[CONN_IOPUB], 5002);
    CHECK_INT(c.ports[CONN_STDIN], 5003);
    CHECK_INT(c.ports[CONN_CONTROL], 5004);
    CHECK_INT(c.ports[CONN_HB], 5005);
    CHECK_INT(c.keylen, 36);
    CHECK_STR((const char *)c.key, "a0436f6c-1916-498b-8eb9-e81ab9368e84");
    CHECK_STR(c.signature_scheme, "hmac-sha256");
    CHECK_STR(c.kernel_name, "hellodl");
    CHECK_STR(conn_endpoint(&c, CONN_SHELL, ep, sizeof ep), "tcp://127.0.0.1:5001");
    CHECK_STR(conn_endpoint(&c, CONN_CONTROL, ep, sizeof ep), "tcp://127.0.0.1:5004");
    CHECK_STR(conn_endpoint(&c, CONN_STDIN, ep, sizeof ep), "tcp://127.0.0.1:5003");
    CHECK_STR(conn_endpoint(&c, CONN_IOPUB, ep, sizeof ep), "tcp://127.0.0.1:5002");
    CHECK_STR(conn_endpoint(&c, CONN_HB, ep, sizeof ep), "tcp://127.0.0.1:5005");
    CHECK_STR(conn_endpoint(&c, CONN_HB, ep, 10), "tcp://127");
    CHECK_STR(conn_endpoint(&c, CONN_NPORTS, ep, sizeof ep), "");
    conn_free(&c);
    CHECK(c.key == NULL);
    conn_free(&c);   /* twice is harmless */
}

static void test_good_ipc(void)
{
    conn_info c;
    char ep[300];
    const char *json = "{\"transport\": \"ipc\", \"ip\": \"/tmp/kernel-abc\", \"shell_port\": 1,"
                       " \"iopub_port\": 2, \"stdin_port\": 3, \"control_port\": 4,"
                       " \"hb_port\": 65535, \"key\": \"\"}";
    CHECK_INT(parse(json, &c), 0);
    CHECK_STR(err, "");
    CHECK_STR(c.transport, "ipc");
    CHECK_INT(c.keylen, 0);
    CHECK_STR(c.signature_scheme, "hmac-sha256");   /* the default when absent */
    CHECK_STR(c.kernel_name, "");
    CHECK_STR(conn_endpoint(&c, CONN_SHELL, ep, sizeof ep), "ipc:///tmp/kernel-abc-1");
    CHECK_STR(conn_endpoint(&c, CONN_HB, ep, sizeof ep), "ipc:///tmp/kernel-abc-65535");
    conn_free(&c);
}

static void test_defaults_and_extras(void)
{
    conn_info c;
    /* No transport: tcp. Unknown fields are ignored. */
    const char *json = "{\"ip\": \"0.0.0.0\", \"shell_port\": 1, \"iopub_port\": 2,"
                       " \"stdin_port\": 3, \"control_port\": 4, \"hb_port\": 5,"
                       " \"key\": \"k\\u00e9\", \"jupyter_session\": \"x.ipynb\"}";
    CHECK_INT(parse(json, &c), 0);
    CHECK_STR(c.transport, "tcp");
    CHECK_INT(c.keylen, 3);   /* the key is the UTF-8 bytes of the string */
    CHECK(c.key && c.key[0] == 'k' && c.key[1] == 0xc3 && c.key[2] == 0xa9);
    conn_free(&c);
}

/* GOOD_TCP with one field's value replaced by `value` (NULL: field removed). */
static const char *with_field(const char *field, const char *value)
{
    static char buf[1024];
    static const char *fields[] = {"shell_port", "iopub_port", "stdin_port", "control_port",
                                   "hb_port", "ip", "key", "transport", "signature_scheme"};
    static const char *values[] = {"5001", "5002", "5003", "5004", "5005", "\"127.0.0.1\"",
                                   "\"secret\"", "\"tcp\"", "\"hmac-sha256\""};
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "{");
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        const char *v = strcmp(fields[i], field) == 0 ? value : values[i];
        if (v)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"%s\": %s", n > 1 ? ", " : "",
                                  fields[i], v);
    }
    snprintf(buf + n, sizeof buf - n, "}");
    return buf;
}

/* `value` in `field` is refused as not a port, and the message quotes it. */
static void check_not_a_port(const char *field, const char *value)
{
    char want[256];
    snprintf(want, sizeof want, "connection file 'k.json': '%s' must be an integer between 1 "
             "and 65535, got %s", field, value);
    CHECK_STR(error_of(with_field(field, value)), want);
}

static void test_ports(void)
{
    check_not_a_port("shell_port", "\"abc\"");
    check_not_a_port("hb_port", "65536");
    check_not_a_port("stdin_port", "-1");
    check_not_a_port("iopub_port", "5.5");
    check_not_a_port("control_port", "null");
    check_not_a_port("control_port", "99999999999999999");
    CHECK_STR(error_of(with_field("shell_port", NULL)),
              "connection file 'k.json': missing 'shell_port'");
    const char *zero = error_of(with_field("shell_port", "0"));
    CHECK(strstr(zero, "connection file 'k.json': 'shell_port' is 0") == zero);
    CHECK(strstr(zero, "between 1 and 65535") != NULL);
    CHECK_STR(error_of(with_field("shell_port", "1")), "");
    CHECK_STR(error_of(with_field("shell_port", "65535")), "");
}

static void test_strings(void)
{
    CHECK_STR(error_of(with_field("transport", "\"udp\"")),
              "connection file 'k.json': unsupported transport \"udp\" (supported: \"tcp\", "
              "\"ipc\")");
    CHECK_STR(error_of(with_field("transport", "7")),
              "connection file 'k.json': 'transport' must be a string, got 7");
    CHECK_STR(error_of(with_field("ip", NULL)), "connection file 'k.json': missing 'ip'");
    CHECK_STR(error_of(with_field("ip", "[1]")),
              "connection file 'k.json': 'ip' must be a string, got [1]");
    CHECK_STR(error_of(with_field("ip", "\"\"")), "connection file 'k.json': 'ip' is empty");
    /* \u0000 would cut a C string short: the parser refuses it. */
    CHECK(strstr(error_of(with_field("ip", "\"a\\u0000b\"")),
                  "connection file 'k.json': not valid JSON: ") == err);
    char longip[400];
    snprintf(longip, sizeof longip, "\"%0300d\"", 0);
    CHECK_STR(error_of(with_field("ip", longip)),
              "connection file 'k.json': 'ip' is too long (300 bytes, at most 255)");
    CHECK_STR(error_of(with_field("key", "42")),
              "connection file 'k.json': 'key' must be a string, got 42");
    CHECK_STR(error_of(with_field("key", NULL)),
              "connection file 'k.json': missing 'key' (use \"\" to turn message signing "
              "off)");
    CHECK_STR(error_of(with_field("key", "\"\"")), "");
    /* A long value is shortened in the message. */
    CHECK_STR(error_of(with_field("key", "[1111111111, 2222222222, 3333333333, 4444444444]")),
              "connection file 'k.json': 'key' must be a string, got "
              "[1111111111,2222222222,3333333333,444...");
}

static void test_scheme(void)
{
    CHECK_STR(error_of(with_field("signature_scheme", "\"hmac-md5\"")),
              "connection file 'k.json': unsupported signature_scheme \"hmac-md5\" (the only "
              "supported scheme is \"hmac-sha256\")");
    CHECK_STR(error_of(with_field("signature_scheme", "\"\"")),
              "connection file 'k.json': unsupported signature_scheme \"\" (the only "
              "supported scheme is \"hmac-sha256\")");
    CHECK_STR(error_of(with_field("signature_scheme", "true")),
              "connection file 'k.json': 'signature_scheme' must be a string, got true");
    CHECK_STR(error_of(with_field("signature_scheme", NULL)), "");
}

static void test_kernel_name(void)
{
    CHECK_STR(error_of("{\"ip\": \"h\", \"shell_port\": 1, \"iopub_port\": 2, \"stdin_port\": 3,"
                       " \"control_port\": 4, \"hb_port\": 5, \"key\": \"\","
                       " \"kernel_name\": 3}"),
              "connection file 'k.json': 'kernel_name' must be a string, got 3");
}

static void test_not_json(void)
{
    CHECK(strstr(error_of(""), "connection file 'k.json': not valid JSON: ") == err);
    CHECK(strstr(error_of("{\"ip\": "), "connection file 'k.json': not valid JSON: ") == err);
    CHECK(strstr(error_of("{\"ip\": \"x\",}"), "not valid JSON") != NULL);
    CHECK_STR(error_of("[1, 2]"), "connection file 'k.json': the top level must be a JSON object");
    CHECK_STR(error_of("\"text\""),
              "connection file 'k.json': the top level must be a JSON object");
    CHECK_STR(error_of("{}"), "connection file 'k.json': missing 'ip'");
    conn_info c;
    CHECK_INT(conn_parse(NULL, NULL, &c, err, sizeof err), -1);
    CHECK_STR(err, "connection file '(unnamed)': no text");
    /* A tiny error buffer is still NUL-terminated; none at all is allowed. */
    char small[8];
    CHECK_INT(conn_parse("[]", "k.json", &c, small, sizeof small), -1);
    CHECK_STR(small, "connect");
    CHECK_INT(conn_parse("[]", "k.json", &c, NULL, 0), -1);
}

static char *write_temp(const char *text, size_t len)
{
    const char *dir = getenv("TMPDIR");
    static char path[512];
    snprintf(path, sizeof path, "%s/hellodl-conn-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    CHECK_INT(write(fd, text, len), (long long)len);
    close(fd);
    return path;
}

static void test_load(void)
{
    conn_info c;
    char want[700];
    CHECK_INT(conn_load("/nonexistent/k.json", &c, err, sizeof err), -1);
    CHECK_STR(err, "cannot open connection file '/nonexistent/k.json': No such file or "
                   "directory");
    CHECK(c.key == NULL);

    CHECK_INT(conn_load("/", &c, err, sizeof err), -1);
    CHECK_STR(err, "cannot read connection file '/': Is a directory");

    char *path = write_temp(GOOD_TCP, strlen(GOOD_TCP));
    CHECK(path != NULL);
    if (path) {
        CHECK_INT(conn_load(path, &c, err, sizeof err), 0);
        CHECK_INT(c.ports[CONN_HB], 5005);
        CHECK_INT(c.keylen, 36);
        conn_free(&c);
        unlink(path);
    }

    /* A NUL byte inside the file is caught by the JSON parser, not skipped. */
    static const char withnul[] = "{\"ip\": \"x\"}\0garbage";
    path = write_temp(withnul, sizeof withnul - 1);
    if (path) {
        CHECK_INT(conn_load(path, &c, err, sizeof err), -1);
        snprintf(want, sizeof want, "connection file '%s': not valid JSON", path);
        CHECK(strncmp(err, want, strlen(want)) == 0);
        unlink(path);
    }

    path = write_temp(with_field("signature_scheme", "\"hmac-sha1\""), strlen(with_field(
        "signature_scheme", "\"hmac-sha1\"")));
    if (path) {
        CHECK_INT(conn_load(path, &c, err, sizeof err), -1);
        snprintf(want, sizeof want, "connection file '%s': unsupported signature_scheme "
                 "\"hmac-sha1\" (the only supported scheme is \"hmac-sha256\")", path);
        CHECK_STR(err, want);
        unlink(path);
    }

    /* Larger than any connection file: refused without reading it all. */
    size_t big = (1u << 20) + 10;
    char *text = malloc(big);
    if (text) {
        memset(text, ' ', big);
        path = write_temp(text, big);
        if (path) {
            CHECK_INT(conn_load(path, &c, err, sizeof err), -1);
            CHECK(strstr(err, "file too large") != NULL);
            unlink(path);
        }
        free(text);
    }
}

int main(void)
{
    test_good_tcp();
    test_good_ipc();
    test_defaults_and_extras();
    test_ports();
    test_strings();
    test_scheme();
    test_kernel_name();
    test_not_json();
    test_load();
    return CHECK_DONE();
}
