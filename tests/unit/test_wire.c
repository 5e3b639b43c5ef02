/*
 * test_wire.c - framing and signing: HMAC-SHA256 against RFC 4231, round
 * trips through wire_serialize and wire_parse, every rejection wire_parse
 * promises, base64 against RFC 4648, and the shape of ids and headers.
 */
#include "check.h"
#include "wire.h"

#include <ctype.h>
#include <stdlib.h>

static char err[256];

/* One part. */
static void hmac1(const unsigned char *key, size_t keylen, const void *data, size_t len,
                  char out[65])
{
    wire_key k = {key, keylen};
    wire_frame part = {(unsigned char *)data, len};
    wire_hmac_hex(&k, &part, 1, out);
}

static void test_hmac_rfc4231(void)
{
    unsigned char key[131], data[50];
    char out[65];

    /* Test case 1 */
    memset(key, 0x0b, 20);
    hmac1(key, 20, "Hi There", 8, out);
    CHECK_STR(out, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    /* Test case 2: a key shorter than the output */
    hmac1((const unsigned char *)"Jefe", 4, "what do ya want for nothing?", 28, out);
    CHECK_STR(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    /* Test case 3 */
    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    hmac1(key, 20, data, 50, out);
    CHECK_STR(out, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

    /* Test case 4 */
    for (int i = 0; i < 25; i++)
        key[i] = (unsigned char)(i + 1);
    memset(data, 0xcd, 50);
    hmac1(key, 25, data, 50, out);
    CHECK_STR(out, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");

    /* Test case 6: a key longer than the block is hashed first */
    memset(key, 0xaa, 131);
    const char *t6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    hmac1(key, 131, t6, strlen(t6), out);
    CHECK_STR(out, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

    /* Test case 7 */
    const char *t7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the "
                     "HMAC algorithm.";
    hmac1(key, 131, t7, strlen(t7), out);
    CHECK_STR(out, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");

    /* An empty key and empty data still give the HMAC, not a failure. */
    hmac1(NULL, 0, "", 0, out);
    CHECK_STR(out, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_hmac_parts(void)
{
    /* The MAC of several parts is the MAC of their concatenation (case 2 split
     * unevenly, with an empty part in the middle). */
    wire_key k = {(const unsigned char *)"Jefe", 4};
    wire_frame parts[4] = {{(unsigned char *)"what do ", 8}, {(unsigned char *)"", 0},
                           {(unsigned char *)"ya want for", 11},
                           {(unsigned char *)" nothing?", 9}};
    char out[65];
    wire_hmac_hex(&k, parts, 4, out);
    CHECK_STR(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static const unsigned char KEY[] = "a0436f6c-1916-498b-8eb9-e81ab9368e84";
static const wire_key keyed = {KEY, sizeof KEY - 1};
static const wire_key keyless = {NULL, 0};

/* Frames: the given strings, in order. */
static void frames_of(wire_frames *f, const char *const *s, size_t n)
{
    wire_frames_init(f);
    for (size_t i = 0; i < n; i++)
        CHECK_INT(wire_frames_push(f, s[i], strlen(s[i])), 0);
}

/* A message with the signature computed for key k (or "" when keyless). */
static void signed_frames(wire_frames *f, const wire_key *k, const char *const json[4])
{
    wire_frame parts[4];
    char sig[65] = "";
    for (int i = 0; i < 4; i++) {
        parts[i].data = (unsigned char *)json[i];
        parts[i].len = strlen(json[i]);
    }
    if (k->keylen)
        wire_hmac_hex(k, parts, 4, sig);
    const char *s[] = {"id-1", "<IDS|MSG>", sig, json[0], json[1], json[2], json[3]};
    frames_of(f, s, 7);
}

static const char *const GOOD[4] = {
    ("{\"msg_id\":\"m1\",\"session\":\"s\",\"username\":\"u\",\"date\":\"2024-01-01T00:00:00Z\","
     "\"msg_type\":\"kernel_info_request\",\"version\":\"5.3\"}"),
    "{}", "{}", "{}"};

static void test_roundtrip(void)
{
    wire_msg m, back;
    wire_frames out;
    wire_msg_init(&m);
    CHECK_INT(wire_frames_push(&m.ids, "router-id-1", 11), 0);
    CHECK_INT(wire_frames_push(&m.ids, "\0\x01\xff", 3), 0);
    m.header = wire_header_new("execute_reply", "sess-1", "hellodl");
    m.parent_header = json_pack("{s:s}", "msg_id", "parent");
    m.content = json_pack("{s:s,s:i}", "status", "ok", "execution_count", 3);
    /* metadata left NULL: sent as {} */
    CHECK_INT(wire_frames_push(&m.buffers, "\x00\x01\x02", 3), 0);
    CHECK_INT(wire_frames_push(&m.buffers, "", 0), 0);
    CHECK_INT(wire_frames_push(&m.buffers, "<IDS|MSG>", 9), 0);

    wire_frames_init(&out);
    CHECK_INT(wire_serialize(&m, &keyed, &out), 0);
    CHECK_INT(out.n, 2 + 1 + 1 + 4 + 3);
    CHECK_INT(out.v[2].len, 9);
    CHECK(memcmp(out.v[2].data, "<IDS|MSG>", 9) == 0);
    CHECK_INT(out.v[3].len, 64);
    CHECK_STR((const char *)out.v[6].data, "{}");
    char sig[65];
    wire_hmac_hex(&keyed, &out.v[4], 4, sig);
    CHECK(memcmp(out.v[3].data, sig, 64) == 0);

    CHECK_INT(wire_parse(&out, &keyed, &back, err, sizeof err), 0);
    CHECK_INT(back.ids.n, 2);
    CHECK_INT(back.ids.v[1].len, 3);
    CHECK(back.ids.v[1].len == 3 && memcmp(back.ids.v[1].data, "\0\x01\xff", 3) == 0);
    CHECK_STR(json_string_value(json_object_get(back.header, "msg_type")), "execute_reply");
    CHECK(json_equal(back.header, m.header));
    CHECK(json_equal(back.content, m.content));
    CHECK(json_equal(back.parent_header, m.parent_header));
    CHECK(json_is_object(back.metadata) && json_object_size(back.metadata) == 0);
    CHECK_INT(back.buffers.n, 3);
    CHECK_INT(back.buffers.v[0].len, 3);
    CHECK_INT(back.buffers.v[1].len, 0);
    CHECK_INT(back.buffers.v[2].len, 9);
    wire_msg_free(&back);

    /* Keyless: an empty signature frame, and it parses back. */
    wire_frames_free(&out);
    CHECK_INT(wire_serialize(&m, &keyless, &out), 0);
    CHECK_INT(out.v[3].len, 0);
    CHECK_INT(wire_parse(&out, &keyless, &back, err, sizeof err), 0);
    /* A keyed receiver refuses it. */
    wire_msg_free(&back);
    CHECK_INT(wire_parse(&out, &keyed, &back, err, sizeof err), -1);
    CHECK_STR(err, "missing signature");
    CHECK(back.header == NULL && back.ids.n == 0);

    /* Serializing appends to what out already holds. */
    size_t before = out.n;
    CHECK_INT(wire_serialize(&m, &keyed, &out), 0);
    CHECK_INT(out.n, 2 * before);

    wire_frames_free(&out);
    wire_msg_free(&m);
    wire_msg_free(&m);   /* twice is harmless */
}

/* wire_parse on the frames; returns the status and leaves err set. */
static int parse_frames(const wire_frames *f, const wire_key *k)
{
    wire_msg m;
    err[0] = '\0';
    int rc = wire_parse(f, k, &m, err, sizeof err);
    if (rc)
        CHECK(m.header == NULL && m.content == NULL && m.ids.n == 0 && m.buffers.n == 0);
    wire_msg_free(&m);
    return rc;
}

static void test_parse_signature(void)
{
    wire_frames f;
    signed_frames(&f, &keyed, GOOD);
    CHECK_INT(parse_frames(&f, &keyed), 0);

    /* One flipped hex digit. */
    f.v[2].data[10] = f.v[2].data[10] == '0' ? '1' : '0';
    CHECK_INT(parse_frames(&f, &keyed), -1);
    CHECK_STR(err, "bad signature");
    /* Keyless mode ignores whatever signature is there. */
    CHECK_INT(parse_frames(&f, &keyless), 0);
    wire_frames_free(&f);

    /* Signed with another key. */
    wire_key other = {(const unsigned char *)"other", 5};
    signed_frames(&f, &other, GOOD);
    CHECK_INT(parse_frames(&f, &keyed), -1);
    CHECK_STR(err, "bad signature");
    wire_frames_free(&f);

    /* Signature over tampered content. */
    signed_frames(&f, &keyed, GOOD);
    free(f.v[6].data);
    f.v[6].data = (unsigned char *)strdup("{\"code\":\"evil\"}");
    f.v[6].len = strlen((char *)f.v[6].data);
    CHECK_INT(parse_frames(&f, &keyed), -1);
    CHECK_STR(err, "bad signature");
    wire_frames_free(&f);

    /* Wrong lengths: one short, one long, uppercase of the right one. */
    const char *s63[] = {"<IDS|MSG>",
                         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff",
                         GOOD[0], GOOD[1], GOOD[2], GOOD[3]};
    frames_of(&f, s63, 6);
    CHECK_INT(parse_frames(&f, &keyed), -1);
    CHECK_STR(err, "signature has the wrong length (63 bytes, expected 64)");
    CHECK_INT(parse_frames(&f, &keyless), 0);
    wire_frames_free(&f);

    signed_frames(&f, &keyed, GOOD);
    char upper[65];
    for (int i = 0; i < 64; i++)
        upper[i] = (char)toupper(f.v[2].data[i]);
    upper[64] = '\0';
    free(f.v[2].data);
    f.v[2].data = (unsigned char *)strdup(upper);
    CHECK_INT(parse_frames(&f, &keyed), -1);
    CHECK_STR(err, "bad signature");
    f.v[2].len = 65;   /* strdup left 65 bytes there, the NUL included */
    CHECK_INT(parse_frames(&f, &keyed), -1);
    CHECK_STR(err, "signature has the wrong length (65 bytes, expected 64)");
    wire_frames_free(&f);

    const char *nosig[] = {"<IDS|MSG>", "", GOOD[0], GOOD[1], GOOD[2], GOOD[3]};
    frames_of(&f, nosig, 6);
    CHECK_INT(parse_frames(&f, &keyed), -1);
    CHECK_STR(err, "missing signature");
    CHECK_INT(parse_frames(&f, &keyless), 0);
    wire_frames_free(&f);
}

static void test_parse_framing(void)
{
    wire_frames f;
    const char *nodelim[] = {"id", "<IDS|MSG", "", GOOD[0], GOOD[1], GOOD[2], GOOD[3]};
    frames_of(&f, nodelim, 7);
    CHECK_INT(parse_frames(&f, &keyless), -1);
    CHECK_STR(err, "no <IDS|MSG> delimiter among 7 frames");
    wire_frames_free(&f);

    wire_frames_init(&f);
    CHECK_INT(parse_frames(&f, &keyless), -1);
    CHECK_STR(err, "no <IDS|MSG> delimiter among 0 frames");

    /* Fewer than five frames after the delimiter, down to none. */
    const char *full[] = {"id", "<IDS|MSG>", "", GOOD[0], GOOD[1], GOOD[2], GOOD[3]};
    for (size_t n = 6; n >= 2; n--) {
        frames_of(&f, full, n);
        CHECK_INT(parse_frames(&f, &keyless), -1);
        char want[200];
        snprintf(want, sizeof want, "too few frames after <IDS|MSG>: %zu, need at least 5 "
                 "(signature, header, parent_header, metadata, content)", n - 2);
        CHECK_STR(err, want);
        wire_frames_free(&f);
    }

    /* The first delimiter counts; later ones are buffers. No identities is fine. */
    const char *two[] = {"<IDS|MSG>", "", GOOD[0], GOOD[1], GOOD[2], GOOD[3], "<IDS|MSG>"};
    frames_of(&f, two, 7);
    wire_msg m;
    CHECK_INT(wire_parse(&f, &keyless, &m, err, sizeof err), 0);
    CHECK_INT(m.ids.n, 0);
    CHECK_INT(m.buffers.n, 1);
    wire_msg_free(&m);
    wire_frames_free(&f);
}

/* GOOD with JSON frame `which` replaced. */
static int parse_with(int which, const char *json, const wire_key *k)
{
    const char *parts[4] = {GOOD[0], GOOD[1], GOOD[2], GOOD[3]};
    wire_frames f;
    parts[which] = json;
    signed_frames(&f, k, parts);
    int rc = parse_frames(&f, k);
    wire_frames_free(&f);
    return rc;
}

static void test_parse_json(void)
{
    CHECK_INT(parse_with(0, "{\"msg_type\":", &keyed), -1);
    CHECK(strncmp(err, "header is not valid JSON: ", 26) == 0);
    CHECK_INT(parse_with(1, "", &keyless), -1);
    CHECK(strncmp(err, "parent_header is not valid JSON: ", 33) == 0);
    CHECK_INT(parse_with(2, "{} {}", &keyed), -1);
    CHECK(strncmp(err, "metadata is not valid JSON: ", 28) == 0);
    CHECK_INT(parse_with(3, "{\"a\":\"\\u0000\"}", &keyed), -1);   /* NUL in a string */
    CHECK(strncmp(err, "content is not valid JSON: ", 27) == 0);
    CHECK_INT(parse_with(3, "{\"a\":\"\xff\"}", &keyed), -1);      /* not UTF-8 */
    CHECK(strncmp(err, "content is not valid JSON: ", 27) == 0);

    CHECK_INT(parse_with(0, "[]", &keyed), -1);
    CHECK_STR(err, "header is not a JSON object");
    CHECK_INT(parse_with(1, "null", &keyed), -1);
    CHECK_STR(err, "parent_header is not a JSON object");
    CHECK_INT(parse_with(2, "42", &keyed), -1);
    CHECK_STR(err, "metadata is not a JSON object");
    CHECK_INT(parse_with(3, "\"x\"", &keyed), -1);
    CHECK_STR(err, "content is not a JSON object");

    CHECK_INT(parse_with(0, "{}", &keyed), -1);
    CHECK_STR(err, "header has no string msg_type");
    CHECK_INT(parse_with(0, "{\"msg_type\":7}", &keyed), -1);
    CHECK_STR(err, "header has no string msg_type");
    CHECK_INT(parse_with(0, "{\"msg_type\":\"\"}", &keyed), 0);

    /* Deep nesting is refused by the parser rather than recursing forever. */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 16);
    if (deep) {
        char *p = deep + sprintf(deep, "{\"a\":");
        memset(p, '[', depth);
        memset(p + depth, ']', depth);
        strcpy(p + 2 * depth, "}");
        CHECK_INT(parse_with(3, deep, &keyless), -1);
        free(deep);
    }
}

static void test_base64(void)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                       "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *s = wire_base64((const unsigned char *)in[i], strlen(in[i]));
        CHECK_STR(s, want[i]);
        free(s);
    }
    static const unsigned char bin[] = {0xfb, 0xff, 0xbf, 0x00, 0x10, 0x83, 0xff};
    char *s = wire_base64(bin, sizeof bin);
    CHECK_STR(s, "+/+/ABCD/w==");
    free(s);
    /* The PNG signature, as it opens every image/png payload. */
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    s = wire_base64(png, sizeof png);
    CHECK_STR(s, "iVBORw0KGgo=");
    free(s);
    s = wire_base64(NULL, 0);
    CHECK_STR(s, "");
    free(s);
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void test_uuid4(void)
{
    char a[37], b[37];
    wire_uuid4(a);
    wire_uuid4(b);
    CHECK_INT(strlen(a), 36);
    CHECK(strcmp(a, b) != 0);
    int ok = 1;
    for (int i = 0; i < 36; i++)
        ok &= (i == 8 || i == 13 || i == 18 || i == 23) ? a[i] == '-' : is_hex(a[i]);
    CHECK(ok);
    CHECK(a[14] == '4');
    CHECK(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b');
}

static void test_header(void)
{
    json_t *h = wire_header_new("status", "session-1", "user-1");
    CHECK(h != NULL);
    if (!h)
        return;
    CHECK_INT(json_object_size(h), 6);
    CHECK_STR(json_string_value(json_object_get(h, "msg_type")), "status");
    CHECK_STR(json_string_value(json_object_get(h, "session")), "session-1");
    CHECK_STR(json_string_value(json_object_get(h, "username")), "user-1");
    CHECK_STR(json_string_value(json_object_get(h, "version")), "5.3");
    const char *id = json_string_value(json_object_get(h, "msg_id"));
    CHECK(id && strlen(id) == 36 && id[14] == '4');
    const char *date = json_string_value(json_object_get(h, "date"));
    /* 2024-05-01T12:34:56.123456Z */
    CHECK(date && strlen(date) == 27);
    if (date && strlen(date) == 27) {
        int ok = 1;
        for (int i = 0; i < 26; i++) {
            if (i == 4 || i == 7)
                ok &= date[i] == '-';
            else if (i == 10)
                ok &= date[i] == 'T';
            else if (i == 13 || i == 16)
                ok &= date[i] == ':';
            else if (i == 19)
                ok &= date[i] == '.';
            else
                ok &= date[i] >= '0' && date[i] <= '9';
        }
        CHECK(ok);
        CHECK(date[26] == 'Z');
        CHECK(strncmp(date, "20", 2) == 0);
    }
    json_t *h2 = wire_header_new("status", "session-1", "user-1");
    CHECK(h2 && strcmp(id, json_string_value(json_object_get(h2, "msg_id"))) != 0);
    json_decref(h2);
    json_decref(h);

    /* NULL session and username become "". */
    h = wire_header_new("x", NULL, NULL);
    CHECK_STR(json_string_value(json_object_get(h, "session")), "");
    json_decref(h);
    /* Invalid UTF-8 cannot be a JSON string: no header rather than a bad one. */
    CHECK(wire_header_new("\xff", "s", "u") == NULL);
}

static void test_frames(void)
{
    wire_frames f;
    wire_frames_init(&f);
    for (int i = 0; i < 1000; i++)
        CHECK_INT(wire_frames_push(&f, &i, sizeof i), 0);
    CHECK_INT(f.n, 1000);
    int v;
    memcpy(&v, f.v[999].data, sizeof v);
    CHECK_INT(v, 999);
    CHECK_INT(wire_frames_push(&f, NULL, 0), 0);
    CHECK_INT(f.v[1000].len, 0);
    wire_frames_free(&f);
    CHECK(f.v == NULL && f.n == 0);
    wire_frames_free(&f);
}

int main(void)
{
    test_hmac_rfc4231();
    test_hmac_parts();
    test_roundtrip();
    test_parse_signature();
    test_parse_framing();
    test_parse_json();
    test_base64();
    test_uuid4();
    test_header();
    test_frames();
    return CHECK_DONE();
}
