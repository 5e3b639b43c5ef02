/*
 * dataset.c - flow_from_directory. Three parts: scanning folders into a
 * sorted sample list, the schedule (permutation, pass order, batches seen)
 * kept as a small value that can be copied to look one batch ahead, and a
 * one-slot worker that prepares the batch the schedule says comes next.
 *
 * Prefetch is speculative: the caller's committed schedule `cur` only
 * advances when a batch is handed out; the worker prepares from a copy
 * `pend` advanced by one batch. Anything that changes the committed
 * schedule (start, stop, generator[b]) first discards the speculative
 * batch, so results never depend on timing.
 */
#include "dataset.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pngio.h"

#define DS_MAX_BATCH 65536
#define DS_DEFAULT_CACHE ((size_t)2 << 30)

/* ---- string lists and paths ---- */

typedef struct strlist {
    char **v; /* (n) owned strings */
    int n, cap;
} strlist;

static void strlist_free(strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Takes ownership of s (freed on failure). */
static rt_status strlist_push(strlist *l, char *s)
{
    if (s && l->n == l->cap) {
        int ncap = l->cap ? l->cap * 2 : 16;
        char **nv = ncap > l->cap ? realloc(l->v, (size_t)ncap * sizeof *nv) : NULL;
        if (!nv) {
            free(s);
            s = NULL;
        } else {
            l->v = nv;
            l->cap = ncap;
        }
    }
    if (!s)
        return rt_error_set(RT_ERR_NOMEM, "out of memory listing files");
    l->v[l->n++] = s;
    return RT_OK;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strlist_sort(strlist *l)
{
    if (l->n > 1)
        qsort(l->v, (size_t)l->n, sizeof *l->v, str_cmp);
}

/* "a/b" (or "b" when a is empty); NULL when out of memory. */
static char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p)
        return NULL;
    if (la) {
        memcpy(p, a, la);
        p[la++] = '/';
    }
    memcpy(p + la, b, lb + 1);
    return p;
}

/* Keras 1.0.x: the lower-cased name ends in "." + one of these. */
static int image_ext_ok(const char *name, int *is_png)
{
    static const char *const exts[] = {"png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff"};
    const char *dot = strrchr(name, '.');
    *is_png = 0;
    if (!dot)
        return 0;
    char low[16] = {0};
    size_t n = strlen(dot + 1);
    if (n == 0 || n > 4)
        return 0; /* longer than any accepted extension */
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)dot[1 + i]);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (strcmp(low, exts[i]) == 0) {
            *is_png = i == 0;
            return 1;
        }
    return 0;
}

/* ---- scanning ---- */

/* The visible entries of folder `abs`: sub-folders into `dirs` (symbolic
 * links to folders only when follow_links) and everything else into
 * `files`; either list may be NULL. Unsorted. */
static rt_status dir_list(const char *abs, int follow_links, strlist *dirs, strlist *files)
{
    DIR *d = opendir(abs);
    if (!d)
        return rt_error_set(RT_ERR_IO, "cannot read folder %s: %s", abs, strerror(errno));
    rt_status st = RT_OK;
    struct dirent *e;
    while (st == RT_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* ".", "..", and hidden names (see dataset.h) */
        char *full = path_join(abs, e->d_name);
        if (!full) {
            st = rt_error_set(RT_ERR_NOMEM, "out of memory listing %s", abs);
            break;
        }
        struct stat sb, lsb;
        int is_dir = stat(full, &sb) == 0 && S_ISDIR(sb.st_mode);
        int is_link = lstat(full, &lsb) == 0 && S_ISLNK(lsb.st_mode);
        free(full);
        if (is_dir) {
            if (dirs && (follow_links || !is_link))
                st = strlist_push(dirs, strdup(e->d_name));
        } else if (files) {
            st = strlist_push(files, strdup(e->d_name));
        }
    }
    closedir(d);
    return st;
}

/* All folders under root/rel (rel included), as paths relative to root,
 * not following links (os.walk with followlinks=False). */
static rt_status dir_walk(const char *root, const char *rel, strlist *out)
{
    char *relc = strdup(rel);
    rt_status st = strlist_push(out, relc);
    if (st != RT_OK)
        return st;
    char *abs = path_join(root, rel);
    strlist subs = {0};
    st = abs ? dir_list(abs, 0, &subs, NULL) : rt_error_set(RT_ERR_NOMEM, "out of memory");
    for (int i = 0; st == RT_OK && i < subs.n; i++) {
        char *sub = path_join(rel, subs.v[i]);
        st = sub ? dir_walk(root, sub, out) : rt_error_set(RT_ERR_NOMEM, "out of memory");
        free(sub);
    }
    strlist_free(&subs);
    free(abs);
    return st;
}

/* Accepted image files of class folder root/cls in Keras' order, appended
 * to `files` as relative paths. */
static rt_status class_files(const char *root, const char *cls, strlist *files)
{
    strlist dirs = {0};
    rt_status st = dir_walk(root, cls, &dirs);
    strlist_sort(&dirs);
    for (int i = 0; st == RT_OK && i < dirs.n; i++) {
        strlist names = {0};
        char *abs = path_join(root, dirs.v[i]);
        st = abs ? dir_list(abs, 0, NULL, &names) : rt_error_set(RT_ERR_NOMEM, "out of memory");
        free(abs);
        strlist_sort(&names);
        for (int k = 0; st == RT_OK && k < names.n; k++) {
            int is_png;
            if (!image_ext_ok(names.v[k], &is_png))
                continue;
            char *rel = path_join(dirs.v[i], names.v[k]);
            st = strlist_push(files, rel);
        }
        strlist_free(&names);
    }
    strlist_free(&dirs);
    return st;
}

/* The class folders: the caller's list, or the sorted visible
 * sub-folders (links followed, as os.path.isdir does). */
static rt_status class_list(const char *dir, const rt_dataset_config *cfg, strlist *out)
{
    if (cfg->n_classes == 0) {
        rt_status st = dir_list(dir, 1, out, NULL);
        strlist_sort(out);
        return st;
    }
    for (int k = 0; k < cfg->n_classes; k++) {
        const char *name = cfg->classes[k];
        char *abs = path_join(dir, name);
        struct stat sb;
        int ok = abs && stat(abs, &sb) == 0 && S_ISDIR(sb.st_mode);
        free(abs);
        if (!ok)
            return rt_error_set(RT_ERR_ARG, "class folder %s/%s does not exist", dir, name);
        for (int j = 0; j < k; j++)
            if (strcmp(cfg->classes[j], name) == 0)
                return rt_error_set(RT_ERR_ARG, "class \"%s\" is listed twice", name);
        rt_status st = strlist_push(out, strdup(name));
        if (st != RT_OK)
            return st;
    }
    return RT_OK;
}

/* ---- the dataset ---- */

typedef enum job_state { JOB_IDLE, JOB_QUEUED, JOB_RUNNING, JOB_DONE } job_state;

typedef struct ds_job {
    job_state state;
    atomic_int cancel;
    int *idx;        /* (batch_size) samples of the batch */
    int n;
    uint64_t stream; /* batches seen before this one: the augmentation stream */
    rt_status st;
    char msg[1024];
} ds_job;

typedef struct ds_sched {
    int *perm;       /* (n) Keras' index_array, valid when has_perm */
    int *order;      /* (nb) batch indices of the current pass */
    int has_perm, active, pos;
    rt_batch_order mode;
    uint64_t seen;   /* total_batches_seen */
    rt_rng perm_rng, order_rng;
} ds_sched;

struct rt_dataset {
    rt_dataset_config cfg; /* cfg.classes cleared: see class_names */
    char *dir;
    int n, n_classes, nb, label_w;
    size_t numel;          /* floats per image: h * w * c */
    uint64_t seed;
    char **class_names;    /* (n_classes) */
    int *class_sizes;      /* (n_classes) */
    char **files;          /* (n) relative paths */
    int *labels;           /* (n) */

    pthread_mutex_t cache_lock;
    uint8_t **cache;       /* (n) each (h, w, c) bytes, or NULL */
    size_t cache_used;

    ds_sched cur, pend;
    ds_job job;
    float *xbuf;           /* (batch_size, h, w, c) */
    float *ybuf;           /* (batch_size, label_w) */
    float *scratch;        /* (h, w, c) one decoded image */

    pthread_mutex_t lock;  /* guards job.state and quit */
    pthread_cond_t cv;
    pthread_t worker;
    int worker_on, quit;
};

void rt_dataset_config_init(rt_dataset_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->target_h = cfg->target_w = 256;
    cfg->channels = 3;
    cfg->class_mode = RT_CLASS_CATEGORICAL;
    cfg->batch_size = 32;
    cfg->shuffle = 1;
    cfg->interpolation = RT_RESIZE_NEAREST;
    rt_augment_init(&cfg->augment);
    cfg->cache_bytes = DS_DEFAULT_CACHE;
    cfg->prefetch = 1;
}

static rt_status config_check(const rt_dataset_config *cfg)
{
    size_t numel = 0;
    if (cfg->channels != 1 && cfg->channels != 3 && cfg->channels != 4)
        return rt_error_set(RT_ERR_ARG, "color_mode needs 1 (grayscale), 3 (rgb) or 4 (rgba) "
                            "channels, not %d", cfg->channels);
    rt_status st = rt_image_size_check(cfg->target_h, cfg->target_w, cfg->channels, &numel);
    if (st != RT_OK)
        return rt_error_set(st, "target_size: %s", rt_error_message());
    if (cfg->batch_size < 1 || cfg->batch_size > DS_MAX_BATCH)
        return rt_error_set(RT_ERR_ARG, "batch_size must be 1..%d, not %d", DS_MAX_BATCH,
                            cfg->batch_size);
    if (numel > SIZE_MAX / sizeof(float) / (size_t)cfg->batch_size)
        return rt_error_set(RT_ERR_NOMEM, "a batch of %d images of %dx%d is too large",
                            cfg->batch_size, cfg->target_h, cfg->target_w);
    if ((unsigned)cfg->class_mode > RT_CLASS_NONE)
        return rt_error_set(RT_ERR_ARG, "unknown class_mode %d", (int)cfg->class_mode);
    if ((unsigned)cfg->interpolation > RT_RESIZE_BILINEAR_FLOAT)
        return rt_error_set(RT_ERR_ARG, "unknown interpolation %d", (int)cfg->interpolation);
    if (cfg->n_classes < 0 || (cfg->n_classes > 0 && !cfg->classes))
        return rt_error_set(RT_ERR_ARG, "bad class list");
    return rt_augment_check(&cfg->augment);
}

/* Fill ds->class_names, files, labels and class_sizes from the folder. */
static rt_status dataset_scan(rt_dataset *ds, const char *dir)
{
    strlist classes = {0}, files = {0};
    rt_status st = class_list(dir, &ds->cfg, &classes);
    int *first = NULL;
    if (st == RT_OK && classes.n == 0)
        st = rt_error_set(RT_ERR_ARG,
                          "%s has no class folders: flow_from_directory expects one "
                          "sub-folder of images per class (e.g. %s/abd, %s/chst)", dir, dir,
                          dir);
    if (st == RT_OK && !(first = calloc((size_t)classes.n + 1, sizeof *first)))
        st = rt_error_set(RT_ERR_NOMEM, "out of memory");
    for (int k = 0; st == RT_OK && k < classes.n; k++) {
        first[k] = files.n;
        st = class_files(dir, classes.v[k], &files);
    }
    if (st == RT_OK) {
        first[classes.n] = files.n;
        ds->n_classes = classes.n;
        ds->class_names = classes.v;
        ds->n = files.n;
        ds->files = files.v;
        memset(&classes, 0, sizeof classes);
        memset(&files, 0, sizeof files);
        ds->labels = malloc(((size_t)ds->n + 1) * sizeof *ds->labels);
        ds->class_sizes = malloc((size_t)ds->n_classes * sizeof *ds->class_sizes);
        if (!ds->labels || !ds->class_sizes)
            st = rt_error_set(RT_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; st == RT_OK && k < ds->n_classes; k++) {
        ds->class_sizes[k] = first[k + 1] - first[k];
        for (int i = first[k]; i < first[k + 1]; i++)
            ds->labels[i] = k;
    }
    free(first);
    strlist_free(&classes);
    strlist_free(&files);
    return st;
}

static void class_names_join(const rt_dataset *ds, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = 0;
    for (int k = 0; k < ds->n_classes && used + 1 < n; k++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s (%d)", k ? ", " : "",
                                 ds->class_names[k], ds->class_sizes[k]);
}

/* The set must hold images; binary needs two classes that hold images;
 * only PNG can be decoded. */
static rt_status dataset_validate(const rt_dataset *ds)
{
    char names[512];
    class_names_join(ds, names, sizeof names);
    if (ds->n == 0)
        return rt_error_set(RT_ERR_ARG,
                            "found no images in %s (class folders: %s); accepted files end "
                            "in .png", ds->dir, names);
    int nonempty = 0;
    for (int k = 0; k < ds->n_classes; k++)
        nonempty += ds->class_sizes[k] > 0;
    if (ds->cfg.class_mode == RT_CLASS_BINARY && (ds->n_classes != 2 || nonempty != 2))
        return rt_error_set(RT_ERR_ARG,
                            "class_mode \"binary\" needs exactly 2 classes with images, but "
                            "%s has %d class folder%s: %s", ds->dir, ds->n_classes,
                            ds->n_classes == 1 ? "" : "s", names);
    for (int i = 0; i < ds->n; i++) {
        int is_png;
        image_ext_ok(ds->files[i], &is_png);
        if (!is_png)
            return rt_error_set(RT_ERR_ARG,
                                "%s/%s: only PNG images can be read; convert it to PNG or "
                                "move it out of the folder", ds->dir, ds->files[i]);
    }
    return RT_OK;
}

/* Every file must start with the PNG signature: catches renamed files
 * before training starts. */
static rt_status dataset_signatures_check(const rt_dataset *ds)
{
    static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    for (int i = 0; i < ds->n; i++) {
        char *path = path_join(ds->dir, ds->files[i]);
        if (!path)
            return rt_error_set(RT_ERR_NOMEM, "out of memory");
        FILE *f = fopen(path, "rb");
        uint8_t head[8] = {0};
        size_t got = f ? fread(head, 1, 8, f) : 0;
        rt_status st = RT_OK;
        if (!f)
            st = rt_error_set(RT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        else if (got != 8 || memcmp(head, sig, 8) != 0)
            st = rt_error_set(RT_ERR_FORMAT, "%s is not a PNG file", path);
        if (f)
            fclose(f);
        free(path);
        if (st != RT_OK)
            return st;
    }
    return RT_OK;
}

static rt_status sched_alloc(ds_sched *s, int n, int nb)
{
    memset(s, 0, sizeof *s);
    s->perm = malloc((size_t)n * sizeof *s->perm);
    s->order = malloc((size_t)nb * sizeof *s->order);
    if (!s->perm || !s->order)
        return rt_error_set(RT_ERR_NOMEM, "out of memory");
    return RT_OK;
}

static void sched_free(ds_sched *s)
{
    free(s->perm);
    free(s->order);
}

static rt_status dataset_buffers_alloc(rt_dataset *ds)
{
    int bs = ds->cfg.batch_size;
    ds->cache = calloc((size_t)ds->n, sizeof *ds->cache);
    ds->job.idx = malloc((size_t)bs * sizeof *ds->job.idx);
    ds->xbuf = malloc((size_t)bs * ds->numel * sizeof(float));
    ds->ybuf = malloc((size_t)bs * (ds->label_w ? ds->label_w : 1) * sizeof(float));
    ds->scratch = malloc(ds->numel * sizeof(float));
    if (!ds->cache || !ds->job.idx || !ds->xbuf || !ds->ybuf || !ds->scratch)
        return rt_error_set(RT_ERR_NOMEM, "out of memory for batches of %d images of %dx%d",
                            bs, ds->cfg.target_h, ds->cfg.target_w);
    rt_status st = sched_alloc(&ds->cur, ds->n, ds->nb);
    if (st == RT_OK)
        st = sched_alloc(&ds->pend, ds->n, ds->nb);
    return st;
}

static void dataset_seed(rt_dataset *ds)
{
    ds->seed = ds->cfg.has_seed ? ds->cfg.seed : rt_rng_entropy();
    rt_rng_seed2(&ds->cur.perm_rng, ds->seed, UINT64_MAX);
    rt_rng_seed2(&ds->cur.order_rng, ds->seed, UINT64_MAX - 1);
}

rt_status rt_dataset_new(const char *dir, const rt_dataset_config *cfg, rt_dataset **out)
{
    *out = NULL;
    rt_status st = config_check(cfg);
    if (st != RT_OK)
        return st;
    rt_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return rt_error_set(RT_ERR_NOMEM, "out of memory");
    ds->cfg = *cfg;
    ds->dir = strdup(dir);
    pthread_mutex_init(&ds->cache_lock, NULL);
    pthread_mutex_init(&ds->lock, NULL);
    pthread_cond_init(&ds->cv, NULL);
    st = ds->dir ? dataset_scan(ds, dir) : rt_error_set(RT_ERR_NOMEM, "out of memory");
    ds->cfg.classes = NULL; /* the caller's list is not kept */
    if (st == RT_OK)
        st = dataset_validate(ds);
    if (st == RT_OK)
        st = dataset_signatures_check(ds);
    if (st == RT_OK) {
        ds->nb = (ds->n + cfg->batch_size - 1) / cfg->batch_size;
        ds->numel = (size_t)cfg->target_h * cfg->target_w * cfg->channels;
        ds->label_w = cfg->class_mode == RT_CLASS_CATEGORICAL ? ds->n_classes
                      : cfg->class_mode == RT_CLASS_NONE      ? 0
                                                              : 1;
        st = dataset_buffers_alloc(ds);
    }
    if (st != RT_OK) {
        rt_dataset_free(ds);
        return st;
    }
    dataset_seed(ds);
    *out = ds;
    return RT_OK;
}

/* ---- the worker ---- */

static void *worker_main(void *arg);

/* Wait until no batch is being prepared and forget any prefetched one. */
static void job_discard(rt_dataset *ds)
{
    pthread_mutex_lock(&ds->lock);
    if (ds->job.state == JOB_QUEUED)
        ds->job.state = JOB_IDLE;
    if (ds->job.state == JOB_RUNNING)
        atomic_store(&ds->job.cancel, 1);
    while (ds->job.state == JOB_RUNNING)
        pthread_cond_wait(&ds->cv, &ds->lock);
    ds->job.state = JOB_IDLE;
    atomic_store(&ds->job.cancel, 0);
    pthread_mutex_unlock(&ds->lock);
}

void rt_dataset_free(rt_dataset *ds)
{
    if (!ds)
        return;
    if (ds->worker_on) {
        job_discard(ds);
        pthread_mutex_lock(&ds->lock);
        ds->quit = 1;
        pthread_cond_broadcast(&ds->cv);
        pthread_mutex_unlock(&ds->lock);
        pthread_join(ds->worker, NULL);
    }
    for (int i = 0; ds->files && i < ds->n; i++)
        free(ds->files[i]);
    for (int k = 0; ds->class_names && k < ds->n_classes; k++)
        free(ds->class_names[k]);
    for (int i = 0; ds->cache && i < ds->n; i++)
        free(ds->cache[i]);
    free(ds->files);
    free(ds->class_names);
    free(ds->class_sizes);
    free(ds->labels);
    free(ds->cache);
    free(ds->job.idx);
    free(ds->xbuf);
    free(ds->ybuf);
    free(ds->scratch);
    sched_free(&ds->cur);
    sched_free(&ds->pend);
    pthread_mutex_destroy(&ds->cache_lock);
    pthread_mutex_destroy(&ds->lock);
    pthread_cond_destroy(&ds->cv);
    free(ds->dir);
    free(ds);
}

/* Sample i decoded and resized into out (h, w, c), from the cache when it
 * is there. Safe from any thread. */
static rt_status image_get(rt_dataset *ds, int i, float *out)
{
    size_t numel = ds->numel;
    pthread_mutex_lock(&ds->cache_lock);
    const uint8_t *c = ds->cache[i];
    if (c)
        for (size_t k = 0; k < numel; k++)
            out[k] = c[k];
    pthread_mutex_unlock(&ds->cache_lock);
    if (c)
        return RT_OK;
    char *path = path_join(ds->dir, ds->files[i]);
    if (!path)
        return rt_error_set(RT_ERR_NOMEM, "out of memory");
    rt_image *img = NULL;
    rt_status st = rt_png_load(path, ds->cfg.channels, &img);
    free(path);
    if (st == RT_OK)
        st = rt_resize(img->data, img->h, img->w, img->c, out, ds->cfg.target_h,
                       ds->cfg.target_w, ds->cfg.interpolation);
    rt_image_free(img);
    if (st != RT_OK)
        return st;
    /* Decoded and resized pixels are integers 0..255, so bytes hold them
     * exactly. A full cache just means decoding again next time. */
    pthread_mutex_lock(&ds->cache_lock);
    if (!ds->cache[i] && numel <= ds->cfg.cache_bytes - ds->cache_used &&
        ds->cache_used <= ds->cfg.cache_bytes) {
        uint8_t *b = malloc(numel);
        if (b) {
            for (size_t k = 0; k < numel; k++)
                b[k] = (uint8_t)out[k];
            ds->cache[i] = b;
            ds->cache_used += numel;
        }
    }
    pthread_mutex_unlock(&ds->cache_lock);
    return RT_OK;
}

static void labels_fill(const rt_dataset *ds, const int *idx, int n, float *y)
{
    int w = ds->label_w;
    if (w == 0)
        return;
    if (ds->cfg.class_mode == RT_CLASS_CATEGORICAL) {
        memset(y, 0, (size_t)n * w * sizeof *y);
        for (int s = 0; s < n; s++)
            y[(size_t)s * w + ds->labels[idx[s]]] = 1.0f;
    } else {
        for (int s = 0; s < n; s++)
            y[s] = (float)ds->labels[idx[s]];
    }
}

/* Decode, transform and rescale the job's samples into xbuf / ybuf. */
static rt_status batch_prepare(rt_dataset *ds, ds_job *job)
{
    const rt_dataset_config *cfg = &ds->cfg;
    rt_rng rng;
    rt_rng_seed2(&rng, ds->seed, job->stream);
    for (int s = 0; s < job->n; s++) {
        if (atomic_load(&job->cancel))
            return rt_error_set(RT_ERR_INTERRUPTED, "batch preparation cancelled");
        rt_status st = image_get(ds, job->idx[s], ds->scratch);
        if (st != RT_OK)
            return st;
        rt_augment_image(&cfg->augment, &rng, ds->scratch, ds->xbuf + (size_t)s * ds->numel,
                         cfg->target_h, cfg->target_w, cfg->channels);
    }
    labels_fill(ds, job->idx, job->n, ds->ybuf);
    return RT_OK;
}

static void job_run(rt_dataset *ds)
{
    ds_job *job = &ds->job;
    job->st = batch_prepare(ds, job);
    if (job->st != RT_OK)
        snprintf(job->msg, sizeof job->msg, "%s", rt_error_message());
}

static void *worker_main(void *arg)
{
    rt_dataset *ds = arg;
    pthread_mutex_lock(&ds->lock);
    for (;;) {
        while (!ds->quit && ds->job.state != JOB_QUEUED)
            pthread_cond_wait(&ds->cv, &ds->lock);
        if (ds->quit)
            break;
        ds->job.state = JOB_RUNNING;
        pthread_mutex_unlock(&ds->lock);
        job_run(ds);
        pthread_mutex_lock(&ds->lock);
        ds->job.state = JOB_DONE;
        pthread_cond_broadcast(&ds->cv);
    }
    pthread_mutex_unlock(&ds->lock);
    return NULL;
}

static void job_state_set(rt_dataset *ds, job_state state)
{
    pthread_mutex_lock(&ds->lock);
    ds->job.state = state;
    pthread_cond_broadcast(&ds->cv);
    pthread_mutex_unlock(&ds->lock);
}

/* Hand the prepared job to the worker; without one, the next call
 * prepares it synchronously. */
static void job_submit(rt_dataset *ds)
{
    if (!ds->worker_on) {
        if (pthread_create(&ds->worker, NULL, worker_main, ds) != 0) {
            ds->cfg.prefetch = 0; /* no thread: run synchronously */
            return;
        }
        ds->worker_on = 1;
    }
    job_state_set(ds, JOB_QUEUED);
}

/* ---- the schedule ---- */

static void sched_copy(const rt_dataset *ds, ds_sched *dst, const ds_sched *src)
{
    int *perm = dst->perm, *order = dst->order;
    memcpy(perm, src->perm, (size_t)ds->n * sizeof *perm);
    memcpy(order, src->order, (size_t)ds->nb * sizeof *order);
    *dst = *src;
    dst->perm = perm;
    dst->order = order;
}

/* Keras' _set_index_array: a new permutation, or 0..n-1 without shuffle. */
static void sched_perm_draw(const rt_dataset *ds, ds_sched *s)
{
    if (ds->cfg.shuffle)
        rt_rng_permutation(&s->perm_rng, s->perm, ds->n);
    else
        for (int i = 0; i < ds->n; i++)
            s->perm[i] = i;
    s->has_perm = 1;
}

static void sched_pass_begin(const rt_dataset *ds, ds_sched *s)
{
    for (int b = 0; b < ds->nb; b++)
        s->order[b] = b;
    if (s->mode == RT_ORDER_SHUFFLED)
        rt_rng_shuffle(&s->order_rng, s->order, ds->nb);
    s->pos = 0;
}

static void sched_start(const rt_dataset *ds, ds_sched *s, rt_batch_order mode)
{
    s->active = 1;
    s->mode = mode;
    sched_pass_begin(ds, s);
}

/* Batch b of the current permutation into the job (generator[b]). */
static void sched_batch(const rt_dataset *ds, ds_sched *s, int b, ds_job *job)
{
    if (!s->has_perm)
        sched_perm_draw(ds, s);
    int bs = ds->cfg.batch_size, lo = b * bs;
    job->n = ds->n - lo < bs ? ds->n - lo : bs;
    memcpy(job->idx, s->perm + lo, (size_t)job->n * sizeof *job->idx);
    job->stream = s->seen++;
}

/* The stream's next batch into the job; at the end of a pass, on_epoch_end
 * and the next pass's order. */
static void sched_take(const rt_dataset *ds, ds_sched *s, ds_job *job)
{
    if (!s->active)
        sched_start(ds, s, RT_ORDER_SEQUENTIAL);
    sched_batch(ds, s, s->order[s->pos++], job);
    if (s->pos == ds->nb) {
        sched_perm_draw(ds, s);
        sched_pass_begin(ds, s);
    }
}

/* ---- batches ---- */

static rt_status batch_deliver(rt_dataset *ds, float *x, float *y, int *idx, int *n)
{
    ds_job *job = &ds->job;
    *n = job->n;
    if (job->st != RT_OK)
        return rt_error_set(job->st, "%s", job->msg);
    if (x)
        memcpy(x, ds->xbuf, (size_t)job->n * ds->numel * sizeof *x);
    if (y && ds->label_w)
        memcpy(y, ds->ybuf, (size_t)job->n * ds->label_w * sizeof *y);
    if (idx)
        memcpy(idx, job->idx, (size_t)job->n * sizeof *idx);
    return RT_OK;
}

rt_status rt_dataset_next_batch(rt_dataset *ds, float *x, float *y, int *idx, int *n)
{
    pthread_mutex_lock(&ds->lock);
    while (ds->job.state == JOB_QUEUED || ds->job.state == JOB_RUNNING)
        pthread_cond_wait(&ds->cv, &ds->lock);
    int ready = ds->job.state == JOB_DONE;
    pthread_mutex_unlock(&ds->lock);
    if (!ready) {
        sched_copy(ds, &ds->pend, &ds->cur);
        sched_take(ds, &ds->pend, &ds->job);
        job_run(ds);
    }
    /* commit: the speculative schedule becomes the current one */
    ds_sched t = ds->cur;
    ds->cur = ds->pend;
    ds->pend = t;
    rt_status st = batch_deliver(ds, x, y, idx, n);
    job_state_set(ds, JOB_IDLE);
    if (ds->cfg.prefetch) {
        sched_copy(ds, &ds->pend, &ds->cur);
        sched_take(ds, &ds->pend, &ds->job);
        job_submit(ds);
    }
    return st;
}

rt_status rt_dataset_start(rt_dataset *ds, rt_batch_order order)
{
    if (order != RT_ORDER_SEQUENTIAL && order != RT_ORDER_SHUFFLED)
        return rt_error_set(RT_ERR_ARG, "unknown batch order %d", (int)order);
    job_discard(ds);
    sched_start(ds, &ds->cur, order);
    return RT_OK;
}

void rt_dataset_stop(rt_dataset *ds)
{
    job_discard(ds);
    ds->cur.active = 0;
}

rt_status rt_dataset_batch_get(rt_dataset *ds, int b, float *x, float *y, int *idx, int *n)
{
    *n = 0;
    if (b < 0 || b >= ds->nb)
        return rt_error_set(RT_ERR_ARG, "batch index %d is out of range: the generator has "
                            "%d batches", b, ds->nb);
    job_discard(ds);
    sched_batch(ds, &ds->cur, b, &ds->job);
    job_run(ds);
    rt_status st = batch_deliver(ds, x, y, idx, n);
    job_state_set(ds, JOB_IDLE);
    return st;
}

rt_status rt_dataset_sample_load(rt_dataset *ds, int i, float *x)
{
    if (i < 0 || i >= ds->n)
        return rt_error_set(RT_ERR_ARG, "sample %d is out of range (0..%d)", i, ds->n - 1);
    rt_status st = image_get(ds, i, x);
    if (st == RT_OK)
        rt_augment_standardize(&ds->cfg.augment, x, ds->numel);
    return st;
}

rt_status rt_dataset_permutation_get(rt_dataset *ds, int *perm)
{
    job_discard(ds);
    if (!ds->cur.has_perm)
        sched_perm_draw(ds, &ds->cur);
    memcpy(perm, ds->cur.perm, (size_t)ds->n * sizeof *perm);
    return RT_OK;
}

/* ---- getters ---- */

int rt_dataset_size(const rt_dataset *ds) { return ds->n; }
int rt_dataset_batch_count(const rt_dataset *ds) { return ds->nb; }
int rt_dataset_class_count(const rt_dataset *ds) { return ds->n_classes; }
int rt_dataset_label_width(const rt_dataset *ds) { return ds->label_w; }
const rt_dataset_config *rt_dataset_config_get(const rt_dataset *ds) { return &ds->cfg; }

const char *rt_dataset_class_name(const rt_dataset *ds, int k)
{
    return k >= 0 && k < ds->n_classes ? ds->class_names[k] : NULL;
}

int rt_dataset_class_size(const rt_dataset *ds, int k)
{
    return k >= 0 && k < ds->n_classes ? ds->class_sizes[k] : 0;
}

const char *rt_dataset_filename(const rt_dataset *ds, int i)
{
    return i >= 0 && i < ds->n ? ds->files[i] : NULL;
}

int rt_dataset_label(const rt_dataset *ds, int i)
{
    return i >= 0 && i < ds->n ? ds->labels[i] : -1;
}

/* ---- counting a folder and finding duplicate files ---- */

/* FNV-1a over the file's bytes; -1 when it cannot be read. */
static int file_hash(const char *path, uint64_t *h)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t buf[1 << 15];
    uint64_t x = 0xcbf29ce484222325ULL;
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < got; i++)
            x = (x ^ buf[i]) * 0x100000001b3ULL;
    int bad = ferror(f);
    fclose(f);
    *h = x;
    return bad ? -1 : 0;
}

/* 1 when the two files hold the same bytes. */
static int files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    uint8_t ba[1 << 14], bb[1 << 14];
    while (same) {
        size_t ga = fread(ba, 1, sizeof ba, fa), gb = fread(bb, 1, sizeof bb, fb);
        same = ga == gb && memcmp(ba, bb, ga) == 0;
        if (ga == 0)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

typedef struct dup_entry {
    long long size; /* -1 when stat failed */
    uint64_t hash;
    int idx;        /* position in the file list */
} dup_entry;

static int dup_cmp(const void *a, const void *b)
{
    const dup_entry *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* For one run of same-sized files (sorted by position), mark each file
 * that repeats an earlier one: of[j] = that earlier file's position. */
static rt_status dup_run(const char *dir, char **files, dup_entry *run, int m, int *of)
{
    for (int j = 0; j < m; j++) {
        char *p = path_join(dir, files[run[j].idx]);
        int bad = !p || file_hash(p, &run[j].hash) != 0;
        free(p);
        if (bad)
            return rt_error_set(RT_ERR_IO, "cannot read %s/%s", dir, files[run[j].idx]);
    }
    for (int j = 1; j < m; j++)
        for (int k = 0; k < j; k++) {
            if (of[run[k].idx] >= 0 || run[k].hash != run[j].hash)
                continue;
            char *pa = path_join(dir, files[run[k].idx]), *pb = path_join(dir, files[run[j].idx]);
            int same = pa && pb && files_equal(pa, pb);
            free(pa);
            free(pb);
            if (same) {
                of[run[j].idx] = run[k].idx;
                break;
            }
        }
    return RT_OK;
}

static rt_status dup_find(const char *dir, const strlist *all, rt_dataset_summary *s)
{
    int n = all->n;
    dup_entry *e = malloc(((size_t)n + 1) * sizeof *e);
    int *of = malloc(((size_t)n + 1) * sizeof *of);
    rt_status st = e && of ? RT_OK : rt_error_set(RT_ERR_NOMEM, "out of memory");
    for (int i = 0; st == RT_OK && i < n; i++) {
        char *p = path_join(dir, all->v[i]);
        struct stat sb;
        e[i].size = p && stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
        e[i].idx = i;
        of[i] = -1;
        free(p);
    }
    if (st == RT_OK && n > 1)
        qsort(e, (size_t)n, sizeof *e, dup_cmp);
    for (int i = 0; st == RT_OK && i < n;) {
        int j = i + 1;
        while (j < n && e[j].size == e[i].size)
            j++;
        if (j - i > 1 && e[i].size >= 0)
            st = dup_run(dir, all->v, e + i, j - i, of);
        i = j;
    }
    for (int i = 0; st == RT_OK && i < n; i++)
        s->n_duplicates += of[i] >= 0;
    if (st == RT_OK && s->n_duplicates) {
        s->dup_file = calloc((size_t)s->n_duplicates, sizeof *s->dup_file);
        s->dup_of = calloc((size_t)s->n_duplicates, sizeof *s->dup_of);
        if (!s->dup_file || !s->dup_of)
            st = rt_error_set(RT_ERR_NOMEM, "out of memory");
        for (int i = 0, k = 0; st == RT_OK && i < n; i++) {
            if (of[i] < 0)
                continue;
            s->dup_file[k] = strdup(all->v[i]);
            s->dup_of[k] = strdup(all->v[of[i]]);
            if (!s->dup_file[k++] || !s->dup_of[k - 1])
                st = rt_error_set(RT_ERR_NOMEM, "out of memory");
        }
    }
    free(e);
    free(of);
    return st;
}

rt_status rt_dataset_summarize(const char *dir, rt_dataset_summary **out)
{
    *out = NULL;
    rt_dataset_summary *s = calloc(1, sizeof *s);
    strlist classes = {0}, loose = {0}, all = {0};
    rt_status st = s ? dir_list(dir, 1, &classes, &loose) : rt_error_set(RT_ERR_NOMEM, "out of memory");
    strlist_sort(&classes);
    strlist_sort(&loose);
    if (st == RT_OK && classes.n && !(s->class_counts = calloc((size_t)classes.n, sizeof(int))))
        st = rt_error_set(RT_ERR_NOMEM, "out of memory");
    for (int k = 0; st == RT_OK && k < classes.n; k++) {
        int before = all.n;
        st = class_files(dir, classes.v[k], &all);
        s->class_counts[k] = all.n - before;
    }
    for (int i = 0; st == RT_OK && i < loose.n; i++) {
        int is_png;
        if (image_ext_ok(loose.v[i], &is_png)) {
            st = strlist_push(&all, strdup(loose.v[i]));
            s->n_loose++;
        }
    }
    if (st == RT_OK) {
        s->n_classes = classes.n;
        s->class_names = classes.v;
        memset(&classes, 0, sizeof classes);
        s->total = all.n;
        st = dup_find(dir, &all, s);
    }
    strlist_free(&classes);
    strlist_free(&loose);
    strlist_free(&all);
    if (st != RT_OK) {
        rt_dataset_summary_free(s);
        return st;
    }
    *out = s;
    return RT_OK;
}

void rt_dataset_summary_free(rt_dataset_summary *s)
{
    if (!s)
        return;
    for (int k = 0; k < s->n_classes; k++)
        free(s->class_names[k]);
    for (int k = 0; k < s->n_duplicates; k++) {
        if (s->dup_file)
            free(s->dup_file[k]);
        if (s->dup_of)
            free(s->dup_of[k]);
    }
    free(s->class_names);
    free(s->class_counts);
    free(s->dup_file);
    free(s->dup_of);
    free(s);
}
