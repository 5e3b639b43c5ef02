/*
 * dataset.h - Keras' flow_from_directory (DirectoryIterator) over PNG
 * folders, with fit_generator's batch scheduling (reference 3.1 and 3.5).
 *
 * Files. Classes are the sorted subfolders of `dir` (byte order, as
 * Python sorts names), or the caller's list in its order; class k is index
 * k (abd = 0, chst = 1 for the module). Each class folder is walked
 * recursively, folders sorted by path and files by name, so samples are
 * all of class 0 in that order, then class 1, ... A file counts when its
 * lower-cased name ends in .png .jpg .jpeg .bmp .ppm .tif or .tiff
 * (keras-preprocessing 1.0.x), but only PNG can be read: any other accepted
 * file is an error at creation, naming it. Names starting with '.' are
 * skipped on purpose (Keras would make .ipynb_checkpoints a class and
 * trip over macOS "._x.png" files). Symbolic links to folders are not
 * followed (follow_links=False).
 *
 * Images. Each file is decoded (PNG -> RGB/L/RGBA as PIL converts it),
 * resized to the target with PIL's filter (nearest by default), then
 * randomly transformed (augment.h), then rescaled - Keras' order. The
 * decoded and resized pixels are kept in memory as bytes (exact: they are
 * integers 0..255) up to cache_bytes, so each file is read once.
 *
 * Batches. batch_count = ceil(n / batch_size); batch b holds samples
 * perm[b*bs .. b*bs+bs) of the current permutation `perm` (0..n-1 when
 * shuffle is off), drawn when first needed and redrawn only at the end of
 * a pass (on_epoch_end). A STREAM is fit_generator's OrderedEnqueuer:
 * RT_ORDER_SHUFFLED serves each pass's batch indices in a fresh random
 * order (training), RT_ORDER_SEQUENTIAL in order 0, 1, ... (validation);
 * after the last batch of a pass the permutation is redrawn and the next
 * pass begins. Epochs are just consecutive steps of the stream, so passes
 * carry across epochs and the short batch lands at whatever step its pass
 * position gives. rt_dataset_start begins a new stream (the next
 * fit_generator call): the current permutation is kept mid-pass, as Keras
 * stops its enqueuer without on_epoch_end. next_batch without a started
 * stream starts a sequential one (Keras' next()).
 *
 * Randomness. With a seed, everything is reproducible: permutations and
 * batch orders come from streams seeded by it, and batch number t of the
 * dataset's life (Keras' total_batches_seen) augments its images from a
 * stream seeded by (seed, t), as Keras reseeds numpy per batch. Without a
 * seed one is drawn from the system's entropy.
 *
 * Threads. After each batch is handed out, the next one is decoded and
 * augmented on a worker thread owned by the dataset while the caller
 * trains; results are identical with and without prefetch. All functions
 * are for one caller thread; the worker is internal.
 *
 * Ownership: rt_dataset_new returns a new dataset (rt_dataset_free joins
 * the worker and frees everything). Name getters return borrowed strings
 * valid until free. Batch buffers are the caller's.
 */
#ifndef HELLODL_DATASET_H
#define HELLODL_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "augment.h"
#include "resize.h"
#include "rt_status.h"

typedef enum rt_class_mode {
    RT_CLASS_CATEGORICAL = 0, /* y (n, classes) one-hot; Keras' default */
    RT_CLASS_BINARY,          /* y (n) class index 0/1; exactly 2 classes */
    RT_CLASS_SPARSE,          /* y (n) class index */
    RT_CLASS_NONE             /* no labels */
} rt_class_mode;

typedef enum rt_batch_order {
    RT_ORDER_SEQUENTIAL = 0, /* batch indices 0, 1, ... per pass */
    RT_ORDER_SHUFFLED        /* a random batch order per pass */
} rt_batch_order;

typedef struct rt_dataset_config {
    int target_h, target_w;        /* target_size; Keras' default 256 x 256 */
    int channels;                  /* color_mode: 3 rgb, 1 grayscale, 4 rgba */
    rt_class_mode class_mode;
    int batch_size;                /* default 32 */
    int shuffle;                   /* permute samples per pass (default 1) */
    int has_seed;
    uint64_t seed;
    rt_resize_filter interpolation; /* default nearest */
    rt_augment augment;            /* the ImageDataGenerator (copied) */
    const char *const *classes;    /* optional (n_classes) explicit classes */
    int n_classes;
    size_t cache_bytes;            /* decoded-image cache cap; default 2 GiB */
    int prefetch;                  /* worker-thread prefetch (default 1) */
} rt_dataset_config;

typedef struct rt_dataset rt_dataset;

/* Keras' defaults, no augmentation. */
void rt_dataset_config_init(rt_dataset_config *cfg);
/* Scan `dir` and check every accepted file's PNG signature. Errors:
 * RT_ERR_IO for an unreadable folder; RT_ERR_ARG for bad settings, no
 * class folders, no images, a binary set without two classes holding
 * images, or a file that is not PNG. */
rt_status rt_dataset_new(const char *dir, const rt_dataset_config *cfg, rt_dataset **out);
void rt_dataset_free(rt_dataset *ds);

int rt_dataset_size(const rt_dataset *ds);        /* samples */
int rt_dataset_batch_count(const rt_dataset *ds); /* ceil(samples / batch_size) */
int rt_dataset_class_count(const rt_dataset *ds);
const char *rt_dataset_class_name(const rt_dataset *ds, int k);
int rt_dataset_class_size(const rt_dataset *ds, int k); /* samples of class k */
const char *rt_dataset_filename(const rt_dataset *ds, int i); /* "abd/abd0.png" */
int rt_dataset_label(const rt_dataset *ds, int i);            /* class of sample i */
/* Floats per label: 1 (binary, sparse), classes (categorical), 0 (none). */
int rt_dataset_label_width(const rt_dataset *ds);
const rt_dataset_config *rt_dataset_config_get(const rt_dataset *ds);

/* Begin a new stream (see above); drops a stream in progress. */
rt_status rt_dataset_start(rt_dataset *ds, rt_batch_order order);
/* End the stream without on_epoch_end (the end of fit_generator). */
void rt_dataset_stop(rt_dataset *ds);
/* The stream's next batch: x (n, h, w, c) augmented and rescaled, y (n) or
 * (n, classes) per class mode (may be NULL), idx (n) the sample indices
 * (may be NULL). *n is the batch's size (the last batch of a pass may be
 * short). x may be NULL when only labels and indices are wanted. */
rt_status rt_dataset_next_batch(rt_dataset *ds, float *x, float *y, int *idx, int *n);
/* Keras' generator[b]: batch b of the current permutation, outside any
 * stream (it counts as a batch seen). */
rt_status rt_dataset_batch_get(rt_dataset *ds, int b, float *x, float *y, int *idx, int *n);
/* Sample i decoded, resized and rescaled, without a random transform:
 * x (h, w, c). For caching a frozen backbone's outputs. */
rt_status rt_dataset_sample_load(rt_dataset *ds, int i, float *x);
/* Sample indices of the current permutation, perm (n) (drawn if needed). */
rt_status rt_dataset_permutation_get(rt_dataset *ds, int *perm);

/* ---- counting a folder, for %mount ---- */

typedef struct rt_dataset_summary {
    int n_classes;
    char **class_names;  /* (n_classes) sorted subfolders */
    int *class_counts;   /* (n_classes) image files in each, recursively */
    int n_loose;         /* image files directly in the folder */
    int total;           /* all image files */
    /* Byte-identical files: dup_file[k] has the same bytes as the earlier
     * dup_of[k] (relative paths, in sample order). */
    int n_duplicates;
    char **dup_file;     /* (n_duplicates) */
    char **dup_of;       /* (n_duplicates) */
} rt_dataset_summary;

/* Count image files per class folder of `dir` and find byte-identical
 * files among all of them (across classes too). Caller frees. */
rt_status rt_dataset_summarize(const char *dir, rt_dataset_summary **out);
void rt_dataset_summary_free(rt_dataset_summary *s);

#endif
