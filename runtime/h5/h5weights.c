/*
 * h5weights.c - Keras weights files over libhdf5. Every HDF5 id is closed
 * on every path: helpers take ids they do not own and the function that
 * opens an id closes it before returning.
 */
#include "h5weights.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keras splits an attribute larger than this (HDF5's object header
 * limit, as keras/engine/saving.py sets it). */
#define H5W_ATTR_LIMIT 64512
#define H5W_MAX_COUNT ((int64_t)2147483647)
#define H5W_MAX_STRINGS (1 << 20)

/* ---- HDF5 error handling ---- */

typedef struct h5_quiet {
    H5E_auto2_t fn;
    void *data;
} h5_quiet;

static void h5_quiet_begin(h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void h5_quiet_end(const h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->fn, q->data);
}

static herr_t h5_walk(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0)
        snprintf(data, 160, "%s", e->desc ? e->desc : "");
    return 0;
}

/* The innermost message of HDF5's error stack ("file signature not
 * found"). */
static const char *h5_why(char buf[160])
{
    buf[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_walk, buf);
    return buf[0] ? buf : "HDF5 error";
}

/* ---- string lists ---- */

typedef struct h5_strs {
    char **v; /* (n) */
    int n;
} h5_strs;

static void h5_strs_free(h5_strs *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static rt_status h5_strs_grow(h5_strs *s, hssize_t more)
{
    if (more < 0 || more > H5W_MAX_STRINGS - s->n)
        return rt_error_set(RT_ERR_FORMAT, "too many names in a string attribute");
    char **nv = realloc(s->v, ((size_t)s->n + (size_t)more + 1) * sizeof *nv);
    if (!nv)
        return rt_error_set(RT_ERR_NOMEM, "out of memory reading names");
    s->v = nv;
    return RT_OK;
}

/* Append the strings of attribute `name` of obj (fixed or variable length,
 * scalar or 1-D; a non-string attribute with no elements is an empty
 * list, which is how Keras stores a weightless layer's weight_names). */
static rt_status attr_strings_append(hid_t obj, const char *name, h5_strs *out)
{
    char why[160];
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = a >= 0 ? H5Aget_type(a) : -1, sp = a >= 0 ? H5Aget_space(a) : -1;
    hid_t mt = -1;
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    rt_status st = RT_OK;
    if (a < 0 || ft < 0 || sp < 0 || n < 0) {
        st = rt_error_set(RT_ERR_FORMAT, "cannot read attribute %s: %s", name, h5_why(why));
    } else if (H5Tget_class(ft) != H5T_STRING) {
        if (n != 0)
            st = rt_error_set(RT_ERR_FORMAT, "attribute %s holds numbers, not names", name);
    } else if ((st = h5_strs_grow(out, n)) == RT_OK) {
        int vlen = H5Tis_variable_str(ft) > 0;
        size_t width = vlen ? sizeof(char *) : H5Tget_size(ft);
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, vlen ? H5T_VARIABLE : width);
        H5Tset_strpad(mt, H5T_STR_NULLPAD);
        H5Tset_cset(mt, H5Tget_cset(ft));
        char *buf = calloc((size_t)n + 1, width);
        if (!buf)
            st = rt_error_set(RT_ERR_NOMEM, "out of memory reading %s", name);
        else if (H5Aread(a, mt, buf) < 0)
            st = rt_error_set(RT_ERR_FORMAT, "cannot read attribute %s: %s", name, h5_why(why));
        for (hssize_t i = 0; st == RT_OK && i < n; i++) {
            const char *src = vlen ? ((char **)buf)[i] : buf + (size_t)i * width;
            char *s = src ? strndup(src, vlen ? strlen(src) : width) : strdup("");
            if (!s)
                st = rt_error_set(RT_ERR_NOMEM, "out of memory reading %s", name);
            else
                out->v[out->n++] = s;
        }
        if (buf && vlen && st != RT_ERR_NOMEM)
#if H5_VERSION_GE(1, 12, 0)
            H5Treclaim(mt, sp, H5P_DEFAULT, buf);
#else
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, buf);
#endif
        free(buf);
    }
    if (mt >= 0)
        H5Tclose(mt);
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    if (a >= 0)
        H5Aclose(a);
    return st;
}

/* Attribute `base`, or its Keras chunks base0, base1, ... Sets *found. */
static rt_status attr_strings_read(hid_t obj, const char *base, h5_strs *out, int *found)
{
    *found = 0;
    if (H5Aexists(obj, base) > 0) {
        *found = 1;
        return attr_strings_append(obj, base, out);
    }
    char name[300];
    for (int k = 0;; k++) {
        snprintf(name, sizeof name, "%s%d", base, k);
        if (H5Aexists(obj, name) <= 0)
            return RT_OK;
        *found = 1;
        rt_status st = attr_strings_append(obj, name, out);
        if (st != RT_OK)
            return st;
    }
}

/* An optional scalar string attribute, or NULL. */
static char *attr_string_opt(hid_t obj, const char *name)
{
    if (H5Aexists(obj, name) <= 0)
        return NULL;
    h5_strs s = {0};
    char *r = NULL;
    if (attr_strings_append(obj, name, &s) == RT_OK && s.n == 1) {
        r = s.v[0];
        s.v[0] = NULL;
    }
    h5_strs_free(&s);
    return r;
}

/* ---- the in-memory description ---- */

static void layer_clear(rt_h5_layer *l)
{
    for (int k = 0; k < l->n_weights; k++) {
        free(l->weights[k].name);
        if (l->weights[k].owns_data)
            free(l->weights[k].data);
    }
    free(l->weights);
    free(l->name);
}

void rt_h5weights_free(rt_h5_weights *w)
{
    if (!w)
        return;
    if (w->file >= 0) {
        h5_quiet q;
        h5_quiet_begin(&q);
        H5Fclose((hid_t)w->file);
        h5_quiet_end(&q);
    }
    for (int i = 0; i < w->n_layers; i++)
        layer_clear(&w->layers[i]);
    free(w->layers);
    free(w->path);
    free(w->group);
    free(w->backend);
    free(w->keras_version);
    free(w);
}

static rt_h5_weights *h5w_alloc(void)
{
    rt_h5_weights *w = calloc(1, sizeof *w);
    if (w)
        w->file = -1;
    return w;
}

rt_status rt_h5weights_new(rt_h5_weights **out)
{
    rt_h5_weights *w = h5w_alloc();
    *out = NULL;
    if (w) {
        w->backend = strdup("tensorflow");
        w->keras_version = strdup("2.2.4");
    }
    if (!w || !w->backend || !w->keras_version) {
        rt_h5weights_free(w);
        return rt_error_set(RT_ERR_NOMEM, "out of memory");
    }
    *out = w;
    return RT_OK;
}

int rt_h5weights_layer_find(const rt_h5_weights *w, const char *name)
{
    for (int i = 0; i < w->n_layers; i++)
        if (strcmp(w->layers[i].name, name) == 0)
            return i;
    return -1;
}

/* Append a layer without checks (the reader's path). */
static rt_status layer_push(rt_h5_weights *w, const char *name, int *index)
{
    if (w->n_layers == w->cap) {
        int ncap = w->cap ? w->cap * 2 : 64;
        rt_h5_layer *nl = realloc(w->layers, (size_t)ncap * sizeof *nl);
        if (!nl)
            return rt_error_set(RT_ERR_NOMEM, "out of memory");
        w->layers = nl;
        w->cap = ncap;
    }
    rt_h5_layer *l = &w->layers[w->n_layers];
    memset(l, 0, sizeof *l);
    if (!(l->name = strdup(name)))
        return rt_error_set(RT_ERR_NOMEM, "out of memory");
    *index = w->n_layers++;
    return RT_OK;
}

rt_status rt_h5weights_layer_add(rt_h5_weights *w, const char *name, int *index)
{
    if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0)
        return rt_error_set(RT_ERR_ARG, "\"%s\" cannot be a layer name in a weights file", name);
    if (rt_h5weights_layer_find(w, name) >= 0)
        return rt_error_set(RT_ERR_ARG, "two layers are called \"%s\"", name);
    return layer_push(w, name, index);
}

static rt_status shape_count(const rt_h5_shape *s, int64_t *count)
{
    int64_t c = 1;
    if (s->ndim < 0 || s->ndim > RT_H5_MAX_DIMS)
        return rt_error_set(RT_ERR_SHAPE, "a weight has %d dimensions (at most %d)", s->ndim,
                            RT_H5_MAX_DIMS);
    for (int d = 0; d < s->ndim; d++) {
        if (s->dims[d] < 0)
            return rt_error_set(RT_ERR_SHAPE, "a weight has a negative dimension");
        if (s->dims[d] && c > H5W_MAX_COUNT / s->dims[d])
            return rt_error_set(RT_ERR_NOMEM, "a weight has more than %lld elements",
                                (long long)H5W_MAX_COUNT);
        c *= s->dims[d];
    }
    *count = c;
    return RT_OK;
}

/* Append a weight to layer l without name checks; takes `data` as is. */
static rt_status weight_push(rt_h5_weights *w, int l, const char *name, const rt_h5_shape *s,
                             float *data, int owns)
{
    rt_h5_layer *ly = &w->layers[l];
    int64_t count = 0;
    rt_status st = shape_count(s, &count);
    if (st != RT_OK)
        return st;
    if (ly->n_weights == ly->cap) {
        int ncap = ly->cap ? ly->cap * 2 : 4;
        rt_h5_weight *nw = realloc(ly->weights, (size_t)ncap * sizeof *nw);
        if (!nw)
            return rt_error_set(RT_ERR_NOMEM, "out of memory");
        ly->weights = nw;
        ly->cap = ncap;
    }
    rt_h5_weight *wt = &ly->weights[ly->n_weights];
    memset(wt, 0, sizeof *wt);
    if (!(wt->name = strdup(name)))
        return rt_error_set(RT_ERR_NOMEM, "out of memory");
    wt->shape = *s;
    wt->count = count;
    wt->data = data;
    wt->owns_data = owns;
    ly->n_weights++;
    return RT_OK;
}

rt_status rt_h5weights_weight_add(rt_h5_weights *w, int l, const char *name,
                                  const rt_h5_shape *shape, const float *data, int copy)
{
    if (l < 0 || l >= w->n_layers)
        return rt_error_set(RT_ERR_ARG, "no layer %d in the weights description", l);
    if (!name[0] || name[0] == '/' || name[strlen(name) - 1] == '/' || strstr(name, "//"))
        return rt_error_set(RT_ERR_ARG, "\"%s\" cannot be a weight name", name);
    for (int k = 0; k < w->layers[l].n_weights; k++)
        if (strcmp(w->layers[l].weights[k].name, name) == 0)
            return rt_error_set(RT_ERR_ARG, "layer \"%s\" has two weights called \"%s\"",
                                w->layers[l].name, name);
    if (!data)
        return rt_error_set(RT_ERR_ARG, "weight \"%s\" has no data", name);
    int64_t count = 0;
    rt_status st = shape_count(shape, &count);
    if (st != RT_OK)
        return st;
    float *d = (float *)(uintptr_t)data; /* borrowed: never written or freed */
    if (copy) {
        d = malloc((size_t)(count ? count : 1) * sizeof *d);
        if (!d)
            return rt_error_set(RT_ERR_NOMEM, "out of memory copying weight %s", name);
        memcpy(d, data, (size_t)count * sizeof *d);
    }
    st = weight_push(w, l, name, shape, d, copy);
    if (st != RT_OK && copy)
        free(d);
    return st;
}

void rt_h5weights_count(const rt_h5_weights *w, int *weighted_layers, int *tensors,
                        int64_t *params)
{
    int wl = 0, t = 0;
    int64_t p = 0;
    for (int i = 0; i < w->n_layers; i++) {
        wl += w->layers[i].n_weights > 0;
        t += w->layers[i].n_weights;
        for (int k = 0; k < w->layers[i].n_weights; k++)
            p += w->layers[i].weights[k].count;
    }
    if (weighted_layers)
        *weighted_layers = wl;
    if (tensors)
        *tensors = t;
    if (params)
        *params = p;
}


/* ---- reading ---- */

/* Shape and type of one dataset; its data too unless layout_only. */
static rt_status weight_read(rt_h5_weights *w, int l, hid_t lg, const char *wname,
                             int layout_only)
{
    char why[160];
    const char *lname = w->layers[l].name;
    if (H5Lexists(lg, wname, H5P_DEFAULT) <= 0)
        return rt_error_set(RT_ERR_FORMAT, "%s: weight \"%s\" of layer \"%s\" is listed in "
                            "weight_names but missing", w->path, wname, lname);
    hid_t ds = H5Dopen2(lg, wname, H5P_DEFAULT);
    hid_t ft = ds >= 0 ? H5Dget_type(ds) : -1, sp = ds >= 0 ? H5Dget_space(ds) : -1;
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    rt_status st = RT_OK;
    rt_h5_shape shape = {0};
    if (ds < 0 || ft < 0 || nd < 0)
        st = rt_error_set(RT_ERR_FORMAT, "%s: cannot open weight \"%s\" of layer \"%s\": %s",
                          w->path, wname, lname, h5_why(why));
    else if (H5Tget_class(ft) != H5T_FLOAT)
        st = rt_error_set(RT_ERR_FORMAT, "%s: weight \"%s\" of layer \"%s\" is not floating "
                          "point", w->path, wname, lname);
    else if (nd > RT_H5_MAX_DIMS)
        st = rt_error_set(RT_ERR_FORMAT, "%s: weight \"%s\" of layer \"%s\" has %d "
                          "dimensions", w->path, wname, lname, nd);
    if (st == RT_OK) {
        hsize_t dims[RT_H5_MAX_DIMS];
        H5Sget_simple_extent_dims(sp, dims, NULL);
        shape.ndim = nd;
        for (int d = 0; d < nd; d++)
            shape.dims[d] = dims[d] > (hsize_t)INT64_MAX ? INT64_MAX : (int64_t)dims[d];
        st = weight_push(w, l, wname, &shape, NULL, 0);
    }
    if (st == RT_OK && !layout_only) {
        rt_h5_weight *wt = &w->layers[l].weights[w->layers[l].n_weights - 1];
        wt->data = malloc((size_t)(wt->count ? wt->count : 1) * sizeof(float));
        wt->owns_data = 1;
        if (!wt->data)
            st = rt_error_set(RT_ERR_NOMEM, "out of memory reading %s", wname);
        else if (wt->count && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                      wt->data) < 0)
            st = rt_error_set(RT_ERR_FORMAT, "%s: cannot read weight \"%s\" of layer \"%s\": "
                              "%s", w->path, wname, lname, h5_why(why));
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (ft >= 0)
        H5Tclose(ft);
    if (ds >= 0)
        H5Dclose(ds);
    return st;
}

static rt_status layer_read(rt_h5_weights *w, hid_t g, const char *name, int layout_only)
{
    char why[160];
    int l;
    rt_status st = layer_push(w, name, &l);
    if (st != RT_OK)
        return st;
    if (!name[0] || H5Lexists(g, name, H5P_DEFAULT) <= 0)
        return rt_error_set(RT_ERR_FORMAT, "%s: layer \"%s\" is in layer_names but has no "
                            "group", w->path, name);
    hid_t lg = H5Gopen2(g, name, H5P_DEFAULT);
    if (lg < 0)
        return rt_error_set(RT_ERR_FORMAT, "%s: cannot open layer \"%s\": %s", w->path, name,
                            h5_why(why));
    h5_strs wn = {0};
    int found;
    st = attr_strings_read(lg, "weight_names", &wn, &found);
    if (st == RT_OK && !found)
        st = rt_error_set(RT_ERR_FORMAT, "%s: layer \"%s\" has no weight_names attribute",
                          w->path, name);
    else if (st != RT_OK)
        st = rt_error_set(st, "%s: layer \"%s\": %s", w->path, name, rt_error_message());
    for (int k = 0; st == RT_OK && k < wn.n; k++)
        st = weight_read(w, l, lg, wn.v[k], layout_only);
    h5_strs_free(&wn);
    H5Gclose(lg);
    return st;
}

/* layer_names at the root, or in a full-model file's model_weights. */
static rt_status root_read(rt_h5_weights *w, hid_t fid, int layout_only)
{
    h5_strs names = {0};
    int found = 0;
    const char *gname = "/";
    hid_t g = H5Gopen2(fid, "/", H5P_DEFAULT);
    rt_status st = attr_strings_read(g, "layer_names", &names, &found);
    if (st == RT_OK && !found && H5Lexists(g, "model_weights", H5P_DEFAULT) > 0) {
        H5Gclose(g);
        gname = "/model_weights";
        g = H5Gopen2(fid, gname, H5P_DEFAULT);
        st = attr_strings_read(g, "layer_names", &names, &found);
    }
    if (st == RT_OK && !found)
        st = rt_error_set(RT_ERR_FORMAT, "%s is not a Keras weights file: it has no "
                          "layer_names attribute", w->path);
    else if (st != RT_OK)
        st = rt_error_set(st, "%s: %s", w->path, rt_error_message());
    if (st == RT_OK && !(w->group = strdup(gname)))
        st = rt_error_set(RT_ERR_NOMEM, "out of memory");
    if (st == RT_OK) {
        w->backend = attr_string_opt(g, "backend");
        w->keras_version = attr_string_opt(g, "keras_version");
    }
    for (int i = 0; st == RT_OK && i < names.n; i++)
        st = layer_read(w, g, names.v[i], layout_only);
    h5_strs_free(&names);
    H5Gclose(g);
    return st;
}

rt_status rt_h5weights_read(const char *path, int flags, rt_h5_weights **out)
{
    char why[160];
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rt_error_set(RT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    fclose(f);
    h5_quiet q;
    h5_quiet_begin(&q);
    rt_status st = RT_OK;
    rt_h5_weights *w = NULL;
    hid_t fid = -1;
    if (H5Fis_hdf5(path) <= 0)
        st = rt_error_set(RT_ERR_FORMAT, "%s is not an HDF5 file (Keras weights files are "
                          "HDF5, usually named .h5)", path);
    else if ((fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        st = rt_error_set(RT_ERR_FORMAT, "cannot open HDF5 file %s: %s", path, h5_why(why));
    else if (!(w = h5w_alloc()) || !(w->path = strdup(path)))
        st = rt_error_set(RT_ERR_NOMEM, "out of memory");
    if (st == RT_OK)
        st = root_read(w, fid, (flags & RT_H5_LAYOUT_ONLY) != 0);
    if (st == RT_OK && (flags & RT_H5_LAYOUT_ONLY)) {
        w->file = fid;
        fid = -1;
    }
    if (fid >= 0)
        H5Fclose(fid);
    h5_quiet_end(&q);
    if (st != RT_OK) {
        rt_h5weights_free(w);
        return st;
    }
    *out = w;
    return RT_OK;
}

rt_status rt_h5weights_data_read(rt_h5_weights *w, int l, int k, float *dst)
{
    char why[160];
    if (w->file < 0)
        return rt_error_set(RT_ERR_STATE, "the weights file is not open (read it with "
                            "RT_H5_LAYOUT_ONLY)");
    if (l < 0 || l >= w->n_layers || k < 0 || k >= w->layers[l].n_weights)
        return rt_error_set(RT_ERR_ARG, "no weight %d of layer %d", k, l);
    const rt_h5_layer *ly = &w->layers[l];
    const rt_h5_weight *wt = &ly->weights[k];
    h5_quiet q;
    h5_quiet_begin(&q);
    hid_t g = H5Gopen2((hid_t)w->file, w->group, H5P_DEFAULT);
    hid_t lg = g >= 0 ? H5Gopen2(g, ly->name, H5P_DEFAULT) : -1;
    hid_t ds = lg >= 0 ? H5Dopen2(lg, wt->name, H5P_DEFAULT) : -1;
    rt_status st = RT_OK;
    if (ds < 0 || (wt->count && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                        dst) < 0))
        st = rt_error_set(RT_ERR_FORMAT, "%s: cannot read weight \"%s\" of layer \"%s\": %s",
                          w->path, wt->name, ly->name, h5_why(why));
    if (ds >= 0)
        H5Dclose(ds);
    if (lg >= 0)
        H5Gclose(lg);
    if (g >= 0)
        H5Gclose(g);
    h5_quiet_end(&q);
    return st;
}

/* ---- writing ---- */

/* A scalar fixed-length string attribute (h5py's way with bytes). */
static herr_t attr_scalar_write(hid_t obj, const char *name, const char *value)
{
    size_t len = strlen(value);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len ? len : 1);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    char pad[1] = {0};
    herr_t rc = a < 0 ? -1 : H5Awrite(a, t, len ? value : pad);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

/* n names as one fixed-length array attribute of the given width; no
 * names as an empty float64 array, as numpy stores []. */
static herr_t attr_names_write(hid_t obj, const char *name, char *const *v, int n, size_t width)
{
    hsize_t dims[1] = {(hsize_t)n};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t t = n ? H5Tcopy(H5T_C_S1) : H5Tcopy(H5T_IEEE_F64LE);
    char *buf = calloc((size_t)n + 1, width);
    herr_t rc = -1;
    if (n) {
        H5Tset_size(t, width);
        H5Tset_strpad(t, H5T_STR_NULLPAD);
    }
    hid_t a = buf ? H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
    if (a >= 0) {
        for (int i = 0; i < n; i++)
            memcpy(buf + (size_t)i * width, v[i], strlen(v[i]));
        rc = H5Awrite(a, t, buf);
        H5Aclose(a);
    }
    free(buf);
    H5Tclose(t);
    H5Sclose(sp);
    return rc;
}

/* Keras' save_attributes_to_hdf5_group: one attribute, or as few chunks
 * name0, name1, ... as keep each under the limit, sized like numpy's
 * array_split (the first n % k chunks one longer). */
static rt_status attr_names_save(hid_t obj, const char *name, char *const *v, int n)
{
    size_t width = 1;
    for (int i = 0; i < n; i++)
        width = strlen(v[i]) > width ? strlen(v[i]) : width;
    if (width > H5W_ATTR_LIMIT)
        return rt_error_set(RT_ERR_ARG, "a name in %s is longer than %d bytes", name,
                            H5W_ATTR_LIMIT);
    int k = 1;
    while (((size_t)n + k - 1) / k * width > H5W_ATTR_LIMIT)
        k++;
    if (k == 1)
        return attr_names_write(obj, name, v, n, width) < 0
                   ? rt_error_set(RT_ERR_IO, "cannot write attribute %s", name)
                   : RT_OK;
    char cname[300];
    for (int c = 0, at = 0; c < k; c++) {
        int len = n / k + (c < n % k);
        snprintf(cname, sizeof cname, "%s%d", name, c);
        if (attr_names_write(obj, cname, v + at, len, width) < 0)
            return rt_error_set(RT_ERR_IO, "cannot write attribute %s", cname);
        at += len;
    }
    return RT_OK;
}

static rt_status weight_write(hid_t lg, hid_t lcpl, hid_t dcpl, const rt_h5_weight *wt)
{
    hsize_t dims[RT_H5_MAX_DIMS];
    for (int d = 0; d < wt->shape.ndim; d++)
        dims[d] = (hsize_t)wt->shape.dims[d];
    hid_t sp = wt->shape.ndim ? H5Screate_simple(wt->shape.ndim, dims, NULL)
                              : H5Screate(H5S_SCALAR);
    hid_t ds = H5Dcreate2(lg, wt->name, H5T_IEEE_F32LE, sp, lcpl, dcpl, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : 0;
    if (rc == 0 && wt->count)
        rc = H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, wt->data);
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(sp);
    return rc < 0 ? rt_error_set(RT_ERR_IO, "cannot write weight %s", wt->name) : RT_OK;
}

static rt_status layer_write(hid_t fid, hid_t lcpl, hid_t dcpl, const rt_h5_layer *ly)
{
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(gcpl, 0);
    hid_t lg = H5Gcreate2(fid, ly->name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    if (lg < 0)
        return rt_error_set(RT_ERR_IO, "cannot create group %s", ly->name);
    char **names = malloc(((size_t)ly->n_weights + 1) * sizeof *names);
    rt_status st = names ? RT_OK : rt_error_set(RT_ERR_NOMEM, "out of memory");
    for (int k = 0; st == RT_OK && k < ly->n_weights; k++)
        names[k] = ly->weights[k].name;
    if (st == RT_OK)
        st = attr_names_save(lg, "weight_names", names, ly->n_weights);
    for (int k = 0; st == RT_OK && k < ly->n_weights; k++)
        st = weight_write(lg, lcpl, dcpl, &ly->weights[k]);
    free(names);
    H5Gclose(lg);
    return st;
}

static rt_status file_write(const rt_h5_weights *w, hid_t fid)
{
    char **names = malloc(((size_t)w->n_layers + 1) * sizeof *names);
    if (!names)
        return rt_error_set(RT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < w->n_layers; i++)
        names[i] = w->layers[i].name;
    rt_status st = attr_names_save(fid, "layer_names", names, w->n_layers);
    free(names);
    if (st == RT_OK && ((w->backend && attr_scalar_write(fid, "backend", w->backend) < 0) ||
                        (w->keras_version &&
                         attr_scalar_write(fid, "keras_version", w->keras_version) < 0)))
        st = rt_error_set(RT_ERR_IO, "cannot write the file's attributes");
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    H5Pset_obj_track_times(dcpl, 0); /* same weights, same bytes */
    for (int i = 0; st == RT_OK && i < w->n_layers; i++)
        st = layer_write(fid, lcpl, dcpl, &w->layers[i]);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    return st;
}

static rt_status write_check(const rt_h5_weights *w)
{
    for (int i = 0; i < w->n_layers; i++)
        for (int k = 0; k < w->layers[i].n_weights; k++)
            if (!w->layers[i].weights[k].data)
                return rt_error_set(RT_ERR_STATE, "weight %s of layer %s has no data to write",
                                    w->layers[i].weights[k].name, w->layers[i].name);
    return RT_OK;
}

rt_status rt_h5weights_write(const rt_h5_weights *w, const char *path)
{
    char why[160];
    rt_status st = write_check(w);
    if (st != RT_OK)
        return st;
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp)
        return rt_error_set(RT_ERR_NOMEM, "out of memory");
    snprintf(tmp, len + 16, "%s.partial", path);
    h5_quiet q;
    h5_quiet_begin(&q);
    hid_t fid = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (fid < 0)
        st = rt_error_set(RT_ERR_IO, "cannot create %s: %s", path, h5_why(why));
    else {
        st = file_write(w, fid);
        if (H5Fclose(fid) < 0 && st == RT_OK)
            st = rt_error_set(RT_ERR_IO, "cannot finish writing %s: %s", path, h5_why(why));
        else if (st != RT_OK)
            st = rt_error_set(st, "%s: %s", path, rt_error_message());
    }
    h5_quiet_end(&q);
    if (st == RT_OK && rename(tmp, path) != 0)
        st = rt_error_set(RT_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    if (st != RT_OK)
        remove(tmp);
    free(tmp);
    return st;
}

/* ---- matching ---- */

static int shapes_equal(const rt_h5_shape *a, const rt_h5_shape *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->dims[d] != b->dims[d])
            return 0;
    return 1;
}

/* "[(3, 3, 3, 32), (32,)]" */
static void shapes_list(const rt_h5_shape *s, int n, char *buf, size_t cap)
{
    char one[200];
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int k = 0; k < n && used < cap; k++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", k ? ", " : "",
                                 rt_h5_shape_format(&s[k], one, sizeof one));
    if (used < cap)
        snprintf(buf + used, cap - used, "]");
}

/* "conv2d_1/kernel:0 (3, 3, 3, 32), ..." */
static void file_weights_list(const rt_h5_layer *ly, char *buf, size_t cap)
{
    char one[200];
    size_t used = 0;
    buf[0] = 0;
    for (int k = 0; k < ly->n_weights && used < cap; k++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s %s", k ? ", " : "",
                                 ly->weights[k].name,
                                 rt_h5_shape_format(&ly->weights[k].shape, one, sizeof one));
    if (!ly->n_weights)
        snprintf(buf, cap, "none");
}

/* -1 when expected layer e and file layer ly agree, else the first weight
 * that differs (or n_weights when the counts differ). */
static int pair_diff(const rt_h5_expect *e, const rt_h5_layer *ly)
{
    if (e->n_weights != ly->n_weights)
        return e->n_weights;
    for (int k = 0; k < e->n_weights; k++)
        if (!shapes_equal(&e->shapes[k], &ly->weights[k].shape))
            return k;
    return -1;
}

static rt_status pair_error(const rt_h5_weights *w, const rt_h5_expect *e,
                            const rt_h5_layer *ly, int k, const char *where)
{
    char a[600], b[600];
    const char *file = w->path ? w->path : "the weights file";
    if (k == e->n_weights) {
        shapes_list(e->shapes, e->n_weights, a, sizeof a);
        file_weights_list(ly, b, sizeof b);
        return rt_error_set(RT_ERR_SHAPE, "%s%s: layer \"%s\" has %d weight%s %s but the "
                            "file's layer \"%s\" has %d: %s", file, where, e->layer,
                            e->n_weights, e->n_weights == 1 ? "" : "s", a, ly->name,
                            ly->n_weights, b);
    }
    return rt_error_set(RT_ERR_SHAPE, "%s%s: weight %d of layer \"%s\" has shape %s in the "
                        "model but %s in the file (%s of layer \"%s\")", file, where, k,
                        e->layer, rt_h5_shape_format(&e->shapes[k], a, 200),
                        rt_h5_shape_format(&ly->weights[k].shape, b, 200),
                        ly->weights[k].name, ly->name);
}

static rt_status match_by_name(const rt_h5_weights *w, const rt_h5_expect *ex, int n,
                               int *file_layer)
{
    for (int i = 0; i < n; i++) {
        int j = rt_h5weights_layer_find(w, ex[i].layer);
        file_layer[i] = -1;
        if (j < 0 || (ex[i].n_weights == 0 && w->layers[j].n_weights == 0))
            continue;
        int k = pair_diff(&ex[i], &w->layers[j]);
        if (k >= 0)
            return pair_error(w, &ex[i], &w->layers[j], k, " (by name)");
        file_layer[i] = j;
    }
    return RT_OK;
}

static rt_status match_count_error(const rt_h5_weights *w, const rt_h5_expect *ex,
                                   const int *mi, int nm, const int *fi, int nf)
{
    char a[600], b[600];
    const char *file = w->path ? w->path : "the weights file";
    for (int k = 0; k < nm && k < nf; k++) {
        const rt_h5_expect *e = &ex[mi[k]];
        const rt_h5_layer *ly = &w->layers[fi[k]];
        if (pair_diff(e, ly) < 0)
            continue;
        shapes_list(e->shapes, e->n_weights, a, sizeof a);
        file_weights_list(ly, b, sizeof b);
        return rt_error_set(RT_ERR_SHAPE, "%s has %d layers with weights but the model has "
                            "%d; they first differ at weighted layer %d: the model's \"%s\" "
                            "%s, the file's \"%s\" %s", file, nf, nm, k + 1, e->layer, a,
                            ly->name, b);
    }
    return rt_error_set(RT_ERR_SHAPE, "%s has %d layers with weights but the model has %d "
                        "(the first %d agree)", file, nf, nm, nm < nf ? nm : nf);
}

static rt_status match_positional(const rt_h5_weights *w, const rt_h5_expect *ex, int n,
                                  int *file_layer, int *renamed)
{
    int *mi = malloc(((size_t)n + 1) * sizeof *mi);
    int *fi = malloc(((size_t)w->n_layers + 1) * sizeof *fi);
    int nm = 0, nf = 0;
    rt_status st = mi && fi ? RT_OK : rt_error_set(RT_ERR_NOMEM, "out of memory");
    for (int i = 0; st == RT_OK && i < n; i++) {
        file_layer[i] = -1;
        if (ex[i].n_weights > 0)
            mi[nm++] = i;
    }
    for (int j = 0; st == RT_OK && j < w->n_layers; j++)
        if (w->layers[j].n_weights > 0)
            fi[nf++] = j;
    if (st == RT_OK && nm != nf)
        st = match_count_error(w, ex, mi, nm, fi, nf);
    for (int k = 0; st == RT_OK && k < nm; k++) {
        const rt_h5_layer *ly = &w->layers[fi[k]];
        int d = pair_diff(&ex[mi[k]], ly);
        char where[64];
        snprintf(where, sizeof where, " (weighted layer %d of %d)", k + 1, nm);
        if (d >= 0)
            st = pair_error(w, &ex[mi[k]], ly, d, where);
        file_layer[mi[k]] = fi[k];
        *renamed += strcmp(ex[mi[k]].layer, ly->name) != 0;
    }
    free(mi);
    free(fi);
    return st;
}

rt_status rt_h5weights_match(const rt_h5_weights *w, const rt_h5_expect *expect, int n_expect,
                             rt_h5_match_mode mode, int *file_layer, int *renamed)
{
    int ren = 0;
    for (int i = 0; i < n_expect; i++)
        if (expect[i].n_weights < 0 || (expect[i].n_weights > 0 && !expect[i].shapes))
            return rt_error_set(RT_ERR_ARG, "bad expectation for layer %s", expect[i].layer);
    rt_status st = mode == RT_H5_BY_NAME
                       ? match_by_name(w, expect, n_expect, file_layer)
                       : match_positional(w, expect, n_expect, file_layer, &ren);
    if (renamed)
        *renamed = ren;
    return st;
}
