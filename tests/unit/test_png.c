/*
 * test_png.c - PNG decoding of every colour type, bit depth and interlace
 * (files written here with libpng itself), PIL's conversions to RGB, L and
 * RGBA, errors naming the file for foreign, empty, truncated and corrupt
 * data, the size limits, encoding round trips, and one real radiograph when
 * HELLODL_DATA_PATH provides the dataset.
 */
#include "check.h"
#include "pngio.h"

#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- a small PNG writer over libpng, for test images ---- */

typedef struct membuf {
    uint8_t *p;
    size_t len, cap;
} membuf;

static void mem_write(png_structp png, png_bytep d, size_t n)
{
    membuf *m = png_get_io_ptr(png);
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2;
        m->p = realloc(m->p, m->cap);
    }
    memcpy(m->p + m->len, d, n);
    m->len += n;
}

static void mem_flush(png_structp png)
{
    (void)png;
}

static int channels_of(int color)
{
    switch (color) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1; /* palette: one index */
    }
}

typedef struct spec {
    int w, h, color, depth, interlace;
    const uint16_t *samples;    /* (h, w, channels_of(color)) raw values */
    const png_color *palette;   /* (n_palette) */
    int n_palette;
    const uint8_t *trns_alpha;  /* (n_trns) palette alphas */
    int n_trns;
    const png_color_16 *trns_key; /* gray / RGB colour key */
} spec;

/* Pack one row of raw samples the way PNG stores them. */
static void pack_row(const spec *s, int y, uint8_t *row)
{
    int nch = channels_of(s->color), n = s->w * nch;
    const uint16_t *src = s->samples + (size_t)y * n;
    if (s->depth == 16) {
        for (int i = 0; i < n; i++) {
            row[2 * i] = (uint8_t)(src[i] >> 8);
            row[2 * i + 1] = (uint8_t)src[i];
        }
    } else if (s->depth == 8) {
        for (int i = 0; i < n; i++)
            row[i] = (uint8_t)src[i];
    } else {
        int per = 8 / s->depth;
        memset(row, 0, (size_t)(n + per - 1) / per);
        for (int i = 0; i < n; i++)
            row[i / per] |= (uint8_t)(src[i] << (8 - s->depth * (i % per + 1)));
    }
}

static uint8_t *png_write_spec(const spec *s, size_t *len)
{
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    size_t rowbytes = ((size_t)s->w * channels_of(s->color) * s->depth + 7) / 8;
    uint8_t *rows = calloc((size_t)s->h, rowbytes);
    png_bytep *rp = malloc((size_t)s->h * sizeof *rp);
    for (int y = 0; y < s->h; y++) {
        rp[y] = rows + (size_t)y * rowbytes;
        pack_row(s, y, rp[y]);
    }
    if (setjmp(png_jmpbuf(png))) {
        fprintf(stderr, "test PNG writer failed\n");
        exit(2);
    }
    png_set_write_fn(png, &m, mem_write, mem_flush);
    png_set_IHDR(png, info, (png_uint_32)s->w, (png_uint_32)s->h, s->depth, s->color,
                 s->interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (s->palette)
        png_set_PLTE(png, info, s->palette, s->n_palette);
    if (s->trns_alpha || s->trns_key)
        png_set_tRNS(png, info, s->trns_alpha, s->n_trns, s->trns_key);
    png_write_info(png, info);
    if (s->interlace)
        png_set_interlace_handling(png);
    png_write_image(png, rp);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(rp);
    *len = m.len;
    return m.p;
}

/* ---- the expected conversion, written independently of png.c ---- */

static int to8(int v, int depth)
{
    if (depth == 16)
        return v >> 8;
    return v * 255 / ((1 << depth) - 1);
}

static int luma(int r, int g, int b)
{
    /* L = R*299/1000 + G*587/1000 + B*114/1000, in PIL's 16-bit fixed point */
    return (r * 19595 + g * 38470 + b * 7471 + 32768) >> 16;
}

/* Expected RGBA of pixel i. */
static void expect_rgba(const spec *s, int i, int px[4])
{
    int nch = channels_of(s->color);
    const uint16_t *p = s->samples + (size_t)i * nch;
    px[3] = 255;
    if (s->color == PNG_COLOR_TYPE_PALETTE) {
        png_color c = s->palette[p[0]];
        px[0] = c.red, px[1] = c.green, px[2] = c.blue;
        if (p[0] < s->n_trns)
            px[3] = s->trns_alpha[p[0]];
        return;
    }
    if (nch <= 2) {
        px[0] = px[1] = px[2] = to8(p[0], s->depth);
        if (nch == 2)
            px[3] = to8(p[1], s->depth);
        if (s->trns_key && p[0] == s->trns_key->gray)
            px[3] = 0;
        return;
    }
    for (int k = 0; k < 3; k++)
        px[k] = to8(p[k], s->depth);
    if (nch == 4)
        px[3] = to8(p[3], s->depth);
    if (s->trns_key && p[0] == s->trns_key->red && p[1] == s->trns_key->green &&
        p[2] == s->trns_key->blue)
        px[3] = 0;
}

static int check_decoded(const spec *s, const uint8_t *buf, size_t len, const char *what)
{
    int bad = 0;
    for (int ch = 1; ch <= 4; ch++) {
        if (ch == 2)
            continue;
        rt_image *img = NULL;
        rt_status st = rt_png_decode(buf, len, what, ch, &img);
        CHECK_INT(st, RT_OK);
        if (st != RT_OK) {
            fprintf(stderr, "  %s: %s\n", what, rt_error_message());
            return 1;
        }
        CHECK_INT(img->h, s->h);
        CHECK_INT(img->w, s->w);
        CHECK_INT(img->c, ch);
        int gray_src = s->color == PNG_COLOR_TYPE_GRAY || s->color == PNG_COLOR_TYPE_GRAY_ALPHA;
        for (int i = 0; i < s->w * s->h && !bad; i++) {
            int px[4], want[4];
            expect_rgba(s, i, px);
            int n = 0;
            if (ch == 1)
                want[n++] = gray_src ? px[0] : luma(px[0], px[1], px[2]);
            else
                for (n = 0; n < ch; n++)
                    want[n] = px[n];
            for (int k = 0; k < ch; k++)
                if (img->data[(size_t)i * ch + k] != (float)want[k]) {
                    fprintf(stderr, "  %s as %d channels: pixel %d channel %d is %g, want %d\n",
                            what, ch, i, k, img->data[(size_t)i * ch + k], want[k]);
                    bad = 1;
                }
        }
        rt_image_free(img);
    }
    CHECK(!bad);
    return bad;
}

/* Deterministic raw samples in [0, 2^depth). */
static uint16_t *make_samples(int w, int h, int nch, int maxv, unsigned seed)
{
    uint16_t *s = malloc((size_t)w * h * nch * sizeof *s);
    uint32_t x = seed * 2654435761u + 1;
    for (int i = 0; i < w * h * nch; i++) {
        x = x * 1664525u + 1013904223u;
        s[i] = (uint16_t)((x >> 8) % ((unsigned)maxv + 1));
    }
    /* make sure the extremes occur */
    s[0] = 0;
    s[w * h * nch - 1] = (uint16_t)maxv;
    return s;
}

static void test_all_formats(void)
{
    static const struct { int color, depth; } fmts[] = {
        {PNG_COLOR_TYPE_GRAY, 1}, {PNG_COLOR_TYPE_GRAY, 2}, {PNG_COLOR_TYPE_GRAY, 4},
        {PNG_COLOR_TYPE_GRAY, 8}, {PNG_COLOR_TYPE_GRAY, 16},
        {PNG_COLOR_TYPE_GRAY_ALPHA, 8}, {PNG_COLOR_TYPE_GRAY_ALPHA, 16},
        {PNG_COLOR_TYPE_RGB, 8}, {PNG_COLOR_TYPE_RGB, 16},
        {PNG_COLOR_TYPE_RGB_ALPHA, 8}, {PNG_COLOR_TYPE_RGB_ALPHA, 16},
        {PNG_COLOR_TYPE_PALETTE, 1}, {PNG_COLOR_TYPE_PALETTE, 2},
        {PNG_COLOR_TYPE_PALETTE, 4}, {PNG_COLOR_TYPE_PALETTE, 8},
    };
    png_color pal[256];
    uint8_t alpha[256];
    for (int i = 0; i < 256; i++) {
        pal[i].red = (uint8_t)(i * 7 + 3);
        pal[i].green = (uint8_t)(255 - i);
        pal[i].blue = (uint8_t)(i * 13);
        alpha[i] = (uint8_t)(i * 31);
    }
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        for (int il = 0; il <= 1; il++) {
            spec s = {.w = 13, .h = 11, .color = fmts[f].color, .depth = fmts[f].depth,
                      .interlace = il ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE};
            int maxv = (1 << s.depth) - 1;
            if (s.color == PNG_COLOR_TYPE_PALETTE) {
                s.palette = pal;
                s.n_palette = maxv + 1;
                s.trns_alpha = alpha; /* a partial tRNS: later entries opaque */
                s.n_trns = (maxv + 1) / 2 > 0 ? (maxv + 1) / 2 : 1;
            }
            uint16_t *smp = make_samples(s.w, s.h, channels_of(s.color), maxv,
                                         (unsigned)(f * 2 + il));
            s.samples = smp;
            size_t len;
            uint8_t *buf = png_write_spec(&s, &len);
            char what[64];
            snprintf(what, sizeof what, "color%d-depth%d%s.png", s.color, s.depth,
                     il ? "-interlaced" : "");
            check_decoded(&s, buf, len, what);
            free(buf);
            free(smp);
        }
    }
}

/* A gray and an RGB colour key (tRNS without a palette). */
static void test_trns_keys(void)
{
    uint16_t g[6] = {10, 20, 10, 30, 40, 10};
    png_color_16 key = {.gray = 10};
    spec s = {.w = 3, .h = 2, .color = PNG_COLOR_TYPE_GRAY, .depth = 8, .samples = g,
              .trns_key = &key};
    size_t len;
    uint8_t *buf = png_write_spec(&s, &len);
    check_decoded(&s, buf, len, "gray-key.png");
    free(buf);

    uint16_t rgb[6 * 3] = {1, 2, 3, 4, 5, 6, 1, 2, 3, 1, 2, 4, 0, 0, 0, 1, 2, 3};
    png_color_16 k2 = {.red = 1, .green = 2, .blue = 3};
    spec s2 = {.w = 3, .h = 2, .color = PNG_COLOR_TYPE_RGB, .depth = 8, .samples = rgb,
               .trns_key = &k2};
    buf = png_write_spec(&s2, &len);
    check_decoded(&s2, buf, len, "rgb-key.png");
    /* As RGB the key is ignored: the keyed pixel keeps its colour (PIL). */
    rt_image *img;
    CHECK_INT(rt_png_decode(buf, len, "rgb-key.png", 3, &img), RT_OK);
    CHECK_NEAR(img->data[0], 1, 0);
    CHECK_NEAR(img->data[2], 3, 0);
    rt_image_free(img);
    free(buf);
}

/* ---- errors ---- */

static int contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

static void expect_error(const void *buf, size_t len, rt_status want, const char *frag)
{
    rt_image *img = (rt_image *)1;
    rt_status st = rt_png_decode(buf, len, "data/x-ray.png", 3, &img);
    CHECK_INT(st, want);
    CHECK(img == NULL);
    CHECK(contains(rt_error_message(), "data/x-ray.png"));
    if (!contains(rt_error_message(), frag))
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", rt_error_message(), frag);
    CHECK(contains(rt_error_message(), frag));
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A signature, an IHDR claiming w x h RGB and the start of an empty IDAT:
 * enough for libpng to read the header and stop at the pixels. */
static size_t header_only(uint8_t out[45], uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    memcpy(out, sig, 8);
    put32(out + 8, 13);
    memcpy(out + 12, "IHDR", 4);
    put32(out + 16, w);
    put32(out + 20, h);
    out[24] = 8, out[25] = 2, out[26] = 0, out[27] = 0, out[28] = 0;
    put32(out + 29, crc32_of(out + 12, 17));
    put32(out + 33, 0);
    memcpy(out + 37, "IDAT", 4);
    put32(out + 41, crc32_of(out + 37, 4));
    return 45;
}

static void test_errors(void)
{
    uint16_t smp[64 * 3];
    for (int i = 0; i < 64 * 3; i++)
        smp[i] = (uint16_t)(i * 5 % 256);
    spec s = {.w = 8, .h = 8, .color = PNG_COLOR_TYPE_RGB, .depth = 8, .samples = smp};
    size_t len;
    uint8_t *good = png_write_spec(&s, &len);

    expect_error("GIF89a\1\0\1\0\0\0\0", 13, RT_ERR_FORMAT, "not a PNG file");
    expect_error("", 0, RT_ERR_FORMAT, "not a PNG file");
    expect_error(good, 7, RT_ERR_FORMAT, "not a PNG file");
    expect_error(good, 8, RT_ERR_FORMAT, "truncated");
    expect_error(good, len / 2, RT_ERR_FORMAT, "truncated");
    expect_error(good, len - 12, RT_ERR_FORMAT, "truncated"); /* no IEND */

    /* A flipped bit inside IDAT's data: the chunk's CRC no longer holds. */
    uint8_t *bad = malloc(len);
    memcpy(bad, good, len);
    bad[8 + 25 + 8 + 4] ^= 0x40;
    expect_error(bad, len, RT_ERR_FORMAT, "corrupt");
    /* A bad IHDR (bit depth 3). */
    memcpy(bad, good, len);
    bad[24] = 3;
    put32(bad + 29, crc32_of(bad + 12, 17));
    expect_error(bad, len, RT_ERR_FORMAT, "corrupt");
    free(bad);

    /* Limits: an over-wide header is refused by libpng, a 10000 x 10000 one
     * before any allocation by the pixel cap. */
    uint8_t hdr[45];
    expect_error(hdr, header_only(hdr, 70000, 10), RT_ERR_FORMAT, "corrupt");
    expect_error(hdr, header_only(hdr, 10000, 10000), RT_ERR_NOMEM, "exceeds");
    int h = 0, w = 0;
    CHECK_INT(rt_png_size_read(hdr, header_only(hdr, 300, 200), "h.png", &h, &w), RT_OK);
    CHECK_INT(h, 200);
    CHECK_INT(w, 300);

    rt_image *img;
    CHECK_INT(rt_png_decode(good, len, "x.png", 2, &img), RT_ERR_ARG);
    CHECK_INT(rt_png_load("/nonexistent/dir/chst99.png", 3, &img), RT_ERR_IO);
    CHECK(contains(rt_error_message(), "/nonexistent/dir/chst99.png"));
    free(good);
}

/* ---- encoding ---- */

static void test_encode(void)
{
    for (int c = 1; c <= 4; c++) {
        int h = 9, w = 17;
        uint8_t *px = malloc((size_t)h * w * c);
        for (int i = 0; i < h * w * c; i++)
            px[i] = (uint8_t)(i * 37 + c);
        uint8_t *buf;
        size_t len;
        CHECK_INT(rt_png_encode(px, h, w, c, &buf, &len), RT_OK);
        CHECK(len > 8 && memcmp(buf, "\x89PNG\r\n\x1a\n", 8) == 0);
        /* Decode back with the channel count that keeps everything. */
        int back = c == 2 ? 4 : c;
        rt_image *img;
        CHECK_INT(rt_png_decode(buf, len, "enc.png", back, &img), RT_OK);
        int bad = 0;
        for (int i = 0; i < h * w; i++)
            for (int k = 0; k < back; k++) {
                int src = c == 2 ? px[i * 2 + (k == 3 ? 1 : 0)] : px[i * c + k];
                if (img->data[i * back + k] != src)
                    bad++;
            }
        CHECK_INT(bad, 0);
        rt_image_free(img);
        free(buf);
        free(px);
    }
    /* Float images: rounding and clamping. */
    rt_image *img;
    CHECK_INT(rt_image_new(1, 3, 1, &img), RT_OK);
    img->data[0] = -5.0f, img->data[1] = 127.6f, img->data[2] = 300.0f;
    uint8_t *buf;
    size_t len;
    CHECK_INT(rt_png_encode_image(img, &buf, &len), RT_OK);
    rt_image *back;
    CHECK_INT(rt_png_decode(buf, len, "f.png", 1, &back), RT_OK);
    CHECK_NEAR(back->data[0], 0, 0);
    CHECK_NEAR(back->data[1], 128, 0);
    CHECK_NEAR(back->data[2], 255, 0);
    rt_image_free(back);
    rt_image_free(img);
    free(buf);
    CHECK_INT(rt_png_encode((const uint8_t *)"", 0, 5, 3, &buf, &len), RT_ERR_ARG);
    CHECK(buf == NULL);
}

/* ---- the real dataset ---- */

static int find_data(const char *rel, char *out, size_t n)
{
    const char *dp = getenv("HELLODL_DATA_PATH");
    if (!dp || !*dp)
        return 0;
    char *copy = strdup(dp);
    int found = 0;
    for (char *save = NULL, *d = strtok_r(copy, ":", &save); d && !found;
         d = strtok_r(NULL, ":", &save)) {
        snprintf(out, n, "%s/%s", d, rel);
        FILE *f = fopen(out, "rb");
        if (f) {
            fclose(f);
            found = 1;
        }
    }
    free(copy);
    return found;
}

static void test_real_file(void)
{
    char path[4096];
    if (!find_data("hello-world-deep-learning-siim/data/train/chst/chst33.png", path,
                   sizeof path)) {
        printf("dataset not in HELLODL_DATA_PATH: real-file check skipped\n");
        return;
    }
    rt_image *img;
    CHECK_INT(rt_png_load(path, 3, &img), RT_OK);
    CHECK(img->h >= 159 && img->h <= 652 && img->w >= 159 && img->w <= 652);
    int bad = 0;
    for (size_t i = 0; i < (size_t)img->h * img->w * 3; i++) {
        float v = img->data[i];
        bad += v < 0 || v > 255 || v != (float)(int)v;
    }
    CHECK_INT(bad, 0);
    printf("chst33.png: %dx%d\n", img->w, img->h);
    rt_image_free(img);
}

int main(void)
{
    test_all_formats();
    test_trns_keys();
    test_errors();
    test_encode();
    test_real_file();
    return CHECK_DONE();
}
