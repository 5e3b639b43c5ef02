/*
 * rt_image.c - the `image` type (a decoded picture, pixels 0..255 as
 * Keras' load_img + img_to_array give them) and the builtins load_image(),
 * img_to_array() and show(). An image shows as image/png (grayscale when
 * every pixel has R = G = B, as radiographs do) with a text/plain fallback;
 * arithmetic on an image (img / 255.0) gives a tensor.
 */
#include "rt_bind.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pngio.h"
#include "resize.h"

#define NATIVE(name) static bool name(lang_ctx *cx, lang_value self, \
    const lang_value *args, int nargs, lang_value *ret)

static void image_release(void *p) { rt_image_free(p); }

lang_value rtb_image_wrap(rt_image *img)
{
    size_t bytes = sizeof *img + sizeof(float) * (size_t)img->h * (size_t)img->w * (size_t)img->c;
    lang_value v = lang_object_new(&rtb_image_type, img, bytes);
    if (v.type != LANG_OBJ) rt_image_free(img);
    return v;
}

/* Whether a 3- or 4-channel image has R = G = B everywhere. */
static bool image_is_gray(const rt_image *img)
{
    if (img->c == 1) return true;
    if (img->c < 3) return false;
    size_t n = (size_t)img->h * (size_t)img->w;
    for (size_t i = 0; i < n; i++) {
        const float *p = img->data + i * (size_t)img->c;
        if (p[0] != p[1] || p[1] != p[2]) return false;
    }
    return true;
}

/* PNG bytes of the image, grayscale when it is gray. New buffer. */
static rt_status image_png(const rt_image *img, uint8_t **png, size_t *len)
{
    if (img->c == 1 || !image_is_gray(img)) return rt_png_encode_image(img, png, len);
    size_t n = (size_t)img->h * (size_t)img->w;
    uint8_t *g = malloc(n ? n : 1);
    if (!g) return rt_error_set(RT_ERR_NOMEM, "out of memory encoding an image");
    for (size_t i = 0; i < n; i++) {
        float v = img->data[i * (size_t)img->c];
        g[i] = (uint8_t)(v != v || v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
    }
    rt_status st = rt_png_encode(g, img->h, img->w, 1, png, len);
    free(g);
    return st;
}

static char *image_text(const rt_image *img, const char *title)
{
    char *s = malloc(512);
    if (!s) return NULL;
    const char *kind = image_is_gray(img) ? "grayscale" : img->c == 4 ? "RGBA" : "RGB";
    if (title && *title)
        snprintf(s, 512, "%.400s (image %dx%d, %s)", title, img->w, img->h, kind);
    else
        snprintf(s, 512, "image %dx%d, %s (%d channel%s)", img->w, img->h, kind, img->c,
                 img->c == 1 ? "" : "s");
    return s;
}

static char *image_repr(void *p) { return image_text(p, NULL); }

static void image_bundle(void *p, lang_bundle *b)
{
    rt_image *img = p;
    uint8_t *png = NULL;
    size_t len = 0;
    if (image_png(img, &png, &len) != RT_OK || b->n >= LANG_BUNDLE_MAX) { free(png); return; }
    b->items[b->n++] = (lang_mime){ "image/png", (const char *)png, len, true };
    b->width = img->w;
    b->height = img->h;
}

/* ---- show(img, title) ---- */

static char *base64(const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *o = 0;
    return out;
}

/* An HTML figure: the title as a caption above the picture (where
 * matplotlib's title would be). New string. */
static char *figure_html(const char *title, const uint8_t *png, size_t len, int w)
{
    char *b64 = base64(png, len);
    size_t tl = strlen(title), cap = (b64 ? strlen(b64) : 0) + tl * 6 + 512;
    char *html = b64 ? malloc(cap) : NULL, *esc = malloc(tl * 6 + 1), *e = esc;
    if (!html || !esc) { free(b64); free(html); free(esc); return NULL; }
    for (const char *t = title; *t; t++) {
        const char *rep = *t == '<' ? "&lt;" : *t == '>' ? "&gt;" : *t == '&' ? "&amp;"
                        : *t == '"' ? "&quot;" : NULL;
        if (rep) { strcpy(e, rep); e += strlen(rep); } else *e++ = *t;
    }
    *e = 0;
    snprintf(html, cap, "<figure style=\"margin:0;display:inline-block\"><figcaption style=\""
             "text-align:center;font-weight:bold\">%s</figcaption><img width=\"%d\" "
             "src=\"data:image/png;base64,%s\"/></figure>", esc, w, b64);
    free(b64);
    free(esc);
    return html;
}

/* An image from a tensor (h, w, c) or (1, h, w, c): values 0..1 are taken
 * as rescaled and multiplied by 255. New image. */
static bool image_from_tensor(lang_ctx *cx, rt_tensor *t, rt_image **out)
{
    int off = t->ndim == 4 && t->shape[0] == 1 ? 1 : 0;
    if (t->ndim - off != 3 || t->shape[off + 2] < 1 || t->shape[off + 2] > 4 ||
        t->device != RT_DEVICE_CPU) {
        char s[96];
        return lang_raise(cx, "ValueError", "show() expects an image or a tensor of shape "
                          "(height, width, channels) with 1, 3 or 4 channels, got %s",
                          rt_shape_format(t->ndim, t->shape, s, sizeof s));
    }
    rt_status st = rt_image_new((int)t->shape[off], (int)t->shape[off + 1],
                                (int)t->shape[off + 2], out);
    if (st != RT_OK) return rtb_raise_status(cx, st, "show()");
    float hi = 0;
    for (int64_t i = 0; i < t->numel; i++) if (t->data[i] > hi) hi = t->data[i];
    float k = hi <= 1.0f ? 255.0f : 1.0f;
    for (int64_t i = 0; i < t->numel; i++) (*out)->data[i] = t->data[i] * k;
    return true;
}

NATIVE(bi_show)
{
    (void)self; (void)nargs; (void)ret;
    rt_image *own = NULL, *img = lang_object_ptr(args[0], &rtb_image_type);
    rt_tensor *t = lang_object_ptr(args[0], &rtb_tensor_type);
    if (!img && !t)
        return lang_raise(cx, "TypeError", "show() expects an image or a tensor, got %s",
                          lang_value_type_name(args[0]));
    if (!img && !image_from_tensor(cx, t, &own)) return false;
    if (own) img = own;
    const char *title = lang_string_cstr(args[1]);
    uint8_t *png = NULL;
    size_t len = 0;
    rt_status st = image_png(img, &png, &len);
    if (st != RT_OK) { rt_image_free(own); return rtb_raise_status(cx, st, "show()"); }
    lang_bundle b;
    memset(&b, 0, sizeof b);
    char *html = *title ? figure_html(title, png, len, img->w) : NULL;
    char *text = image_text(img, title);
    if (html) b.items[b.n++] = (lang_mime){ "text/html", html, strlen(html), false };
    b.items[b.n++] = (lang_mime){ "image/png", (const char *)png, len, true };
    if (text) b.items[b.n++] = (lang_mime){ "text/plain", text, strlen(text), false };
    b.width = img->w;
    b.height = img->h;
    sink_display(lang_ctx_sink(cx), &b, NULL, false);
    free(html); free(png); free(text);
    rt_image_free(own);
    return true;
}

/* ---- load_image ---- */

static bool read_check(lang_ctx *cx, const char *given, const char *found)
{
    if (access(found, R_OK) == 0) return true;
    int e = errno;
    return lang_raise(cx, e == ENOENT ? "FileNotFoundError" : "OSError",
                      "load_image: cannot read '%s': %s", given, strerror(e));
}

static bool load_size(lang_ctx *cx, const lang_value *args, int *h, int *w)
{
    int64_t hw[2] = { args[1].as.i, args[2].as.i };
    int n = 0;
    if (args[5].type == LANG_LIST &&
        !rtb_int_list(cx, args[5], "load_image()", "target_size", 2, 2, false, hw, &n))
        return false;
    if (hw[0] < 0 || hw[1] < 0 || hw[0] > RT_IMAGE_MAX_SIDE || hw[1] > RT_IMAGE_MAX_SIDE ||
        (hw[0] == 0) != (hw[1] == 0))
        return lang_raise(cx, "ValueError", "load_image() expects height and width to be "
                          "positive ints up to %d (or both 0 to keep the file's size), got %lld "
                          "and %lld", RT_IMAGE_MAX_SIDE, (long long)hw[0], (long long)hw[1]);
    *h = (int)hw[0];
    *w = (int)hw[1];
    return true;
}

NATIVE(bi_load_image)
{
    (void)self; (void)nargs;
    static const char *const interps[] = { "nearest", "bilinear", NULL };
    static const char *const modes[] = { "rgb", "grayscale", "rgba", NULL };
    const char *path = lang_string_cstr(args[0]), *mode = lang_string_cstr(args[4]);
    char found[4096];
    int h = 0, w = 0;
    if (!load_size(cx, args, &h, &w) ||
        !rtb_check_choice(cx, "load_image()", "interpolation", lang_string_cstr(args[3]), interps) ||
        !rtb_check_choice(cx, "load_image()", "color_mode", mode, modes))
        return false;
    lang_ctx_find_file(cx, path, found, sizeof found);
    if (!read_check(cx, path, found)) return false;
    rt_image *img = NULL, *small = NULL;
    int channels = mode[0] == 'g' ? 1 : mode[3] == 'a' ? 4 : 3;
    rt_status st = rt_png_load(found, channels, &img);
    if (st != RT_OK) return rtb_raise_status(cx, st, "load_image");
    if (h && (h != img->h || w != img->w)) {
        rt_resize_filter f = lang_string_cstr(args[3])[0] == 'b' ? RT_RESIZE_BILINEAR
                                                                 : RT_RESIZE_NEAREST;
        st = rt_resize_image(img, h, w, f, &small);
        rt_image_free(img);
        if (st != RT_OK) return rtb_raise_status(cx, st, "load_image");
        img = small;
    }
    *ret = rtb_image_wrap(img);
    return ret->type == LANG_OBJ || lang_raise(cx, "MemoryError", "out of memory");
}

bool rtb_tensor_from_value(lang_ctx *cx, lang_value v, const char *fn, const char *param,
                           rt_tensor **out)
{
    *out = NULL;
    rt_tensor *t = lang_object_ptr(v, &rtb_tensor_type);
    if (t) {
        rt_status st = rt_tensor_on_device(out, t, RT_DEVICE_CPU);
        return st == RT_OK || rtb_raise_status(cx, st, fn);
    }
    rt_image *img = lang_object_ptr(v, &rtb_image_type);
    if (!img)
        return lang_raise(cx, "TypeError", "%s expects %s to be an image or a tensor, got %s",
                          fn, param, lang_value_type_name(v));
    int64_t shape[3] = { img->h, img->w, img->c };
    rt_status st = rt_tensor_from_host(out, RT_DEVICE_CPU, 3, shape, img->data);
    return st == RT_OK || rtb_raise_status(cx, st, fn);
}

NATIVE(bi_img_to_array)
{
    (void)self; (void)nargs;
    rt_tensor *t = NULL;
    if (!rtb_tensor_from_value(cx, args[0], "img_to_array()", "img", &t)) return false;
    *ret = rtb_tensor_wrap(t);
    return true;
}

/* ---- properties ---- */

static bool get_shape(lang_ctx *cx, lang_value self, lang_value *ret)
{
    (void)cx;
    rt_image *img = lang_object_ptr(self, &rtb_image_type);
    *ret = lang_list_new(3);
    lang_list_push(*ret, lang_int(img->h));
    lang_list_push(*ret, lang_int(img->w));
    lang_list_push(*ret, lang_int(img->c));
    return true;
}

#define IMAGE_INT_PROP(fn, field) \
    static bool fn(lang_ctx *cx, lang_value self, lang_value *ret) \
    { (void)cx; *ret = lang_int(((rt_image *)lang_object_ptr(self, &rtb_image_type))->field); \
      return true; }
IMAGE_INT_PROP(get_height, h)
IMAGE_INT_PROP(get_width, w)
IMAGE_INT_PROP(get_channels, c)

static const lang_property image_props[] = {
    {"shape", "list", get_shape, NULL, "{height, width, channels}."},
    {"height", "int", get_height, NULL, "Rows of pixels."},
    {"width", "int", get_width, NULL, "Columns of pixels."},
    {"channels", "int", get_channels, NULL, "1 (grayscale), 3 (RGB) or 4 (RGBA)."},
    {NULL, NULL, NULL, NULL, NULL},
};

const lang_type rtb_image_type = {
    .name = "image",
    .doc = "A decoded picture: pixel values 0..255, height x width x channels. Shown as a "
           "picture when a cell ends with it; img / 255.0 gives a tensor of 0..1 values.",
    .free = image_release, .repr = image_repr, .bundle = image_bundle, .summary = image_repr,
    .properties = image_props, .binary = rtb_arith,
};

void rtb_image_register(void)
{
    lang_type_register(&rtb_image_type);
    lang_builtin_register("image load_image(string path, int height = 0, int width = 0, "
        "string interpolation = \"nearest\", string color_mode = \"rgb\", list target_size = null)",
        bi_load_image,
        "Read a PNG file (as Keras' load_img): pixels 0..255, resized to height x width when "
        "given (interpolation \"nearest\" as Keras, or \"bilinear\"). color_mode \"rgb\" (3 "
        "channels, gray copied into each), \"grayscale\" or \"rgba\". A relative path is also "
        "looked up in the data path.");
    lang_builtin_register("tensor img_to_array(image img)", bi_img_to_array,
        "The image's pixels as a tensor (height, width, channels), values 0..255.");
    lang_builtin_register("void show(any img, string title = \"\")", bi_show,
        "Display an image (or a tensor of height x width x channels; values up to 1 are "
        "taken as rescaled) with an optional title as its caption.");
}
