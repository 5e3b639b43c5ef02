/*
 * png.c - libpng behind rt_status. The setjmp lives in png_decode_run and
 * png_encode_run only; anything those functions allocate after setjmp is
 * reached through the context struct (memory, not registers), so it is
 * still valid after a longjmp and freed by the caller of the run function.
 */
#include "pngio.h"

/* libpng's header by its installed path: runtime/ is on the include path,
 * so a bare <png.h> would find runtime/png.h. */
#include <png.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest PNG file we read whole into memory. */
#define PNG_MAX_FILE_BYTES ((size_t)1 << 30)

typedef struct png_ctx {
    const char *name;
    const uint8_t *src; /* (len) the compressed file */
    size_t len, pos;
    char msg[200];      /* libpng's last error */
    /* allocated inside the setjmp region */
    uint8_t *pixels;    /* (h, rowbytes) decoded 8-bit samples */
    png_bytep *rows;    /* (h) pointers into pixels */
    rt_image *img;
    /* encoding */
    uint8_t *out;       /* (cap) encoded bytes, out_len used */
    size_t out_len, cap;
} png_ctx;

static const char *png_name(const char *name)
{
    return name ? name : "PNG data";
}

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* e.g. a known-incorrect sRGB profile: harmless, not printed */
}

static void png_on_read(png_structp png, png_bytep dst, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->len - c->pos)
        png_error(png, "unexpected end of file");
    memcpy(dst, c->src + c->pos, n);
    c->pos += n;
}

/* PIL's luma in fixed point (ITU-R 601-2, rounded). */
static uint8_t png_luma(const uint8_t *p)
{
    return (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
}

/* One pixel of `nch` 8-bit samples (G, GA, RGB, RGBA) into `channels`
 * floats. */
static void png_pixel_convert(const uint8_t *p, int nch, float *dst, int channels)
{
    int has_alpha = nch == 2 || nch == 4;
    uint8_t alpha = has_alpha ? p[nch - 1] : 255;
    if (nch <= 2) {
        for (int k = 0; k < channels && k < 3; k++)
            dst[k] = p[0];
    } else if (channels == 1) {
        dst[0] = png_luma(p);
    } else {
        dst[0] = p[0];
        dst[1] = p[1];
        dst[2] = p[2];
    }
    if (channels == 4)
        dst[3] = alpha;
}

static void png_set_transforms(png_structp png, png_infop info, int channels)
{
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png); /* also turns tRNS into alpha */
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (channels == 4 && png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(png);
    if (depth == 16)
        png_set_strip_16(png); /* keeps the high byte, as PIL does */
}

/* Everything that can longjmp. Returns 0 on success, 1 after a libpng
 * error (message in c->msg), 2 when the image is too large or memory runs
 * out (rt_error already set). */
static int png_decode_run(png_structp png, png_infop info, png_ctx *c, int channels)
{
    if (setjmp(png_jmpbuf(png)))
        return 1;
    png_set_user_limits(png, RT_IMAGE_MAX_SIDE, RT_IMAGE_MAX_SIDE);
    png_set_read_fn(png, c, png_on_read);
    png_read_info(png, info);
    int w = (int)png_get_image_width(png, info);
    int h = (int)png_get_image_height(png, info);
    if (rt_image_new(h, w, channels, &c->img) != RT_OK) {
        char why[300];
        snprintf(why, sizeof why, "%s", rt_error_message());
        rt_error_set(RT_ERR_NOMEM, "%s: %s", png_name(c->name), why);
        return 2;
    }
    png_set_transforms(png, info, channels);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    int nch = png_get_channels(png, info);
    /* After the transforms every sample is one byte. */
    if (png_get_bit_depth(png, info) != 8 || nch < 1 || nch > 4 || rowbytes != (size_t)w * nch)
        png_error(png, "unsupported pixel layout");
    c->pixels = malloc((size_t)h * rowbytes); /* <= 4 * RT_IMAGE_MAX_PIXELS */
    c->rows = malloc((size_t)h * sizeof *c->rows);
    if (!c->pixels || !c->rows) {
        rt_error_set(RT_ERR_NOMEM, "%s: out of memory for a %dx%d image", png_name(c->name), w, h);
        return 2;
    }
    for (int y = 0; y < h; y++)
        c->rows[y] = c->pixels + (size_t)y * rowbytes;
    png_read_image(png, c->rows);
    png_read_end(png, NULL);
    float *dst = c->img->data;
    for (size_t i = 0; i < (size_t)h * w; i++)
        png_pixel_convert(c->pixels + i * nch, nch, dst + i * channels, channels);
    return 0;
}

static int png_signature_ok(const void *buf, size_t len)
{
    return buf && len >= 8 && png_sig_cmp((png_const_bytep)buf, 0, 8) == 0;
}

static rt_status png_error_status(const png_ctx *c)
{
    const char *name = png_name(c->name);
    if (strcmp(c->msg, "unexpected end of file") == 0)
        return rt_error_set(RT_ERR_FORMAT, "%s: truncated PNG file (unexpected end of file)", name);
    return rt_error_set(RT_ERR_FORMAT, "%s: corrupt PNG file (%s)", name, c->msg);
}

rt_status rt_png_decode(const void *buf, size_t len, const char *name, int channels,
                        rt_image **out)
{
    *out = NULL;
    if (channels != 1 && channels != 3 && channels != 4)
        return rt_error_set(RT_ERR_ARG, "PNG decoding gives 1, 3 or 4 channels, not %d", channels);
    if (!png_signature_ok(buf, len))
        return rt_error_set(RT_ERR_FORMAT, "%s is not a PNG file%s", png_name(name),
                            len == 0 ? " (it is empty)" : "");
    png_ctx c = {.name = name, .src = buf, .len = len};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, png_on_error,
                                             png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return rt_error_set(RT_ERR_NOMEM, "%s: out of memory starting libpng", png_name(name));
    }
    int rc = png_decode_run(png, info, &c, channels);
    png_destroy_read_struct(&png, &info, NULL);
    free(c.pixels);
    free(c.rows);
    if (rc != 0) {
        rt_image_free(c.img);
        return rc == 1 ? png_error_status(&c) : RT_ERR_NOMEM;
    }
    *out = c.img;
    return RT_OK;
}

static uint32_t png_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

rt_status rt_png_size_read(const void *buf, size_t len, const char *name, int *h, int *w)
{
    /* The IHDR chunk must come first: length 13, type, width, height. */
    const uint8_t *p = buf;
    if (!png_signature_ok(buf, len))
        return rt_error_set(RT_ERR_FORMAT, "%s is not a PNG file", png_name(name));
    if (len < 8 + 8 + 13)
        return rt_error_set(RT_ERR_FORMAT, "%s: truncated PNG file (no header)", png_name(name));
    uint32_t pw = png_be32(p + 16), ph = png_be32(p + 20);
    if (png_be32(p + 8) != 13 || memcmp(p + 12, "IHDR", 4) != 0 || pw == 0 || ph == 0 ||
        pw > INT32_MAX || ph > INT32_MAX)
        return rt_error_set(RT_ERR_FORMAT, "%s: corrupt PNG file (bad IHDR)", png_name(name));
    *w = (int)pw;
    *h = (int)ph;
    return RT_OK;
}

rt_status rt_file_read(const char *path, size_t max_bytes, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rt_error_set(RT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    rt_status st = RT_OK;
    while (buf) {
        if (len == cap) {
            if (cap >= max_bytes) {
                st = rt_error_set(RT_ERR_NOMEM, "%s is larger than %zu bytes", path, max_bytes);
                break;
            }
            size_t ncap = cap > max_bytes / 2 ? max_bytes + 1 : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                st = rt_error_set(RT_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (!buf)
        return rt_error_set(RT_ERR_NOMEM, "out of memory reading %s", path);
    if (st != RT_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *out_len = len;
    return RT_OK;
}

rt_status rt_png_load(const char *path, int channels, rt_image **out)
{
    uint8_t *buf;
    size_t len;
    *out = NULL;
    rt_status st = rt_file_read(path, PNG_MAX_FILE_BYTES, &buf, &len);
    if (st != RT_OK)
        return st;
    st = rt_png_decode(buf, len, path, channels, out);
    free(buf);
    return st;
}

/* ---- encoding ---- */

static void png_on_write(png_structp png, png_bytep data, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->cap - c->out_len) {
        size_t need = c->out_len + n;
        if (need < c->out_len)
            png_error(png, "output too large");
        size_t ncap = c->cap ? c->cap : 4096;
        while (ncap < need)
            ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
        uint8_t *nb = realloc(c->out, ncap);
        if (!nb)
            png_error(png, "out of memory");
        c->out = nb;
        c->cap = ncap;
    }
    memcpy(c->out + c->out_len, data, n);
    c->out_len += n;
}

static void png_on_flush(png_structp png)
{
    (void)png;
}

static int png_encode_run(png_structp png, png_infop info, png_ctx *c, int h, int w,
                          int color, png_bytep *rows)
{
    if (setjmp(png_jmpbuf(png)))
        return 1;
    png_set_write_fn(png, c, png_on_write, png_on_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    return 0;
}

rt_status rt_png_encode(const uint8_t *pixels, int h, int w, int c, uint8_t **out,
                        size_t *out_len)
{
    static const int colors[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                  PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    size_t numel = 0;
    *out = NULL;
    *out_len = 0;
    rt_status st = rt_image_size_check(h, w, c, &numel);
    if (st != RT_OK)
        return st;
    png_bytep *rows = malloc((size_t)h * sizeof *rows);
    if (!rows)
        return rt_error_set(RT_ERR_NOMEM, "out of memory encoding a PNG");
    /* libpng's row type is not const, but without write transforms it only
     * reads the rows. */
    for (int y = 0; y < h; y++)
        rows[y] = (png_bytep)(uintptr_t)(pixels + (size_t)y * w * c);
    png_ctx ctx = {.name = "PNG output"};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error,
                                              png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    int rc = info ? png_encode_run(png, info, &ctx, h, w, colors[c], rows) : 1;
    png_destroy_write_struct(&png, info ? &info : NULL);
    free(rows);
    if (rc != 0) {
        free(ctx.out);
        return rt_error_set(strcmp(ctx.msg, "out of memory") == 0 || !info ? RT_ERR_NOMEM
                                                                           : RT_ERR_FORMAT,
                            "PNG encoding failed: %s", info ? ctx.msg : "out of memory");
    }
    *out = ctx.out;
    *out_len = ctx.out_len;
    return RT_OK;
}

rt_status rt_png_encode_image(const rt_image *img, uint8_t **out, size_t *out_len)
{
    size_t numel = 0;
    *out = NULL;
    *out_len = 0;
    rt_status st = rt_image_size_check(img->h, img->w, img->c, &numel);
    if (st != RT_OK)
        return st;
    uint8_t *px = malloc(numel);
    if (!px)
        return rt_error_set(RT_ERR_NOMEM, "out of memory encoding a PNG");
    for (size_t i = 0; i < numel; i++) {
        float v = img->data[i];
        px[i] = v >= 255.0f ? 255 : v > 0.0f ? (uint8_t)lrintf(v) : 0;
    }
    st = rt_png_encode(px, img->h, img->w, img->c, out, out_len);
    free(px);
    return st;
}

rt_status rt_png_save(const rt_image *img, const char *path)
{
    uint8_t *buf;
    size_t len;
    rt_status st = rt_png_encode_image(img, &buf, &len);
    if (st != RT_OK)
        return st;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return rt_error_set(RT_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    }
    size_t put = fwrite(buf, 1, len, f);
    int bad = put != len;
    bad |= fclose(f) != 0;
    free(buf);
    if (bad)
        return rt_error_set(RT_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return RT_OK;
}
