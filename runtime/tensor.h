/*
 * tensor.h - float32 tensors over refcounted storage, with per-device byte
 * accounting.
 *
 * Layout. Every tensor is a dense, row-major (C order) block of float32.
 * Images and feature maps are NHWC (batch, height, width, channels), the
 * layout of Keras' channels_last weights and of the data pipeline, so that a
 * Keras kernel (kh, kw, in, out) is already the (K, N) matrix of an im2col
 * GEMM and a concatenation on channels is a strided copy of rows.
 *
 * Views are contiguous-only: a view is (storage, offset, shape) and always
 * covers one contiguous range of its storage. That is enough for what the
 * runtime needs (reshape, flatten, a slice of the batch axis) and keeps
 * every op a function over plain float buffers. There are no strides.
 *
 * Ownership. rt_tensor_new and every view constructor return a NEW reference
 * (refcount 1) through their out argument; rt_tensor_release drops one. A
 * view holds a reference to the storage, not to the tensor it was made
 * from, so the base may be released first. Storage is freed when its last
 * tensor goes. `data` is borrowed from the tensor: valid while it lives.
 *
 * Accounting. Each device counts live storage bytes, live tensor headers and
 * the peak, and refuses an allocation that would pass its limit (by default
 * the machine's physical memory for the CPU) with RT_ERR_NOMEM; %memory reads
 * rt_memory_stats_get. Shapes are checked: rank 0..RT_MAX_DIMS, dims >= 0,
 * element counts that overflow or exceed RT_MAX_NUMEL are RT_ERR_SHAPE.
 * Counters are atomic: data-loading threads may create tensors.
 *
 * Registry. Every live storage is on one list, with its kind (device.h:
 * data or model) and the headers over it, so that rt_storages_move can put
 * a storage on another device and fix `data` and `device` of every tensor
 * that views it. The list has one mutex, taken once per tensor created and
 * once per tensor released; moves and checkpoints hold it only to pick
 * their storages and to commit, never while copying.
 */
#ifndef HELLODL_TENSOR_H
#define HELLODL_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "rt_status.h"

#define RT_MAX_DIMS 6
/* Largest element count of one tensor: 2^31 - 1, so that every op may index
 * with BLAS' int and no single tensor can be absurd (8 GiB). */
#define RT_MAX_NUMEL ((int64_t)2147483647)

typedef enum rt_device {
    RT_DEVICE_CPU = 0,
    RT_DEVICE_CUDA = 1,
    RT_DEVICE_COUNT
} rt_device;

typedef struct rt_storage rt_storage; /* opaque: buffer + refcount + device */

typedef struct rt_tensor {
    float *data;                 /* storage base + offset; a device pointer
                                    when device != RT_DEVICE_CPU */
    int64_t shape[RT_MAX_DIMS];  /* shape[ndim..] are 1 */
    int64_t numel;               /* product of shape[0..ndim) */
    int ndim;
    rt_device device;
    /* private */
    rt_storage *storage;
    int64_t offset;              /* in elements */
    int refcount;                /* atomic; see tensor.c */
    struct rt_tensor *view_prev, *view_next; /* the other headers over the
                                    same storage (tensor.c's registry) */
} rt_tensor;

typedef struct rt_memory_stats {
    int64_t live_bytes;    /* storage bytes alive, workspace included */
    int64_t peak_bytes;    /* high-water mark of live_bytes */
    int64_t live_tensors;  /* tensor headers (views included) */
    int64_t live_storages; /* distinct buffers */
    int64_t limit_bytes;   /* 0: no limit */
} rt_memory_stats;

const char *rt_device_name(rt_device dev);

/* Element count of a shape, overflow-checked (RT_ERR_SHAPE on a negative
 * dim, a rank outside 0..RT_MAX_DIMS or more than RT_MAX_NUMEL elements). */
rt_status rt_shape_numel(int ndim, const int64_t *shape, int64_t *numel);
/* "(8, 299, 299, 3)" into buf; returns buf. */
char *rt_shape_format(int ndim, const int64_t *shape, char *buf, size_t size);

/* A zero-filled tensor of `shape` on `dev`. New reference in *out. */
rt_status rt_tensor_new(rt_tensor **out, rt_device dev, int ndim,
                        const int64_t *shape);
/* Shorthand for an NHWC image batch (n, h, w, c). New reference. */
rt_status rt_tensor_new_nhwc(rt_tensor **out, rt_device dev, int64_t n,
                             int64_t h, int64_t w, int64_t c);
/* A CPU tensor holding a copy of `src` (numel floats). New reference. */
rt_status rt_tensor_from_host(rt_tensor **out, rt_device dev, int ndim,
                              const int64_t *shape, const float *src);

rt_tensor *rt_tensor_retain(rt_tensor *t); /* returns t */
void rt_tensor_release(rt_tensor *t);      /* NULL is fine */

/* Views (new references sharing storage). `view` covers elements
 * [offset, offset + numel(shape)) of t's range. */
rt_status rt_tensor_view(rt_tensor **out, rt_tensor *t, int64_t offset,
                         int ndim, const int64_t *shape);
/* Same elements, new shape; at most one dim may be -1 (inferred). */
rt_status rt_tensor_reshape(rt_tensor **out, rt_tensor *t, int ndim,
                            const int64_t *shape);
/* Rows [start, start + count) of axis 0. */
rt_status rt_tensor_slice(rt_tensor **out, rt_tensor *t, int64_t start,
                          int64_t count);
/* (n, d1, ..., dk) -> (n, d1*...*dk): Keras Flatten on NHWC is a view, its
 * backward the same view of the gradient. */
rt_status rt_tensor_flatten(rt_tensor **out, rt_tensor *t);

/* Copies between a tensor and host memory of t->numel floats. */
rt_status rt_tensor_copy_to_host(const rt_tensor *t, float *dst);
rt_status rt_tensor_copy_from_host(rt_tensor *t, const float *src);
/* dst and src must have the same numel (shapes may differ). */
rt_status rt_tensor_copy(rt_tensor *dst, const rt_tensor *src);
/* A fresh contiguous copy of t on `dev`. New reference. */
rt_status rt_tensor_to_device(rt_tensor **out, const rt_tensor *t,
                              rt_device dev);
/* t itself when it already lives on `dev`, else a fresh copy there: for
 * reading t on dev whichever it came from. New reference. */
rt_status rt_tensor_on_device(rt_tensor **out, rt_tensor *t, rt_device dev);
rt_status rt_tensor_fill(rt_tensor *t, float value);

int rt_tensor_same_shape(const rt_tensor *a, const rt_tensor *b);
/* Dim i, counting from the end when negative; 0 when out of range. */
int64_t rt_tensor_dim(const rt_tensor *t, int i);
int64_t rt_tensor_nbytes(const rt_tensor *t);

/* Memory accounting. */
void rt_memory_stats_get(rt_device dev, rt_memory_stats *out);
void rt_memory_limit_set(rt_device dev, int64_t limit_bytes); /* 0: none */
/* Account a backend's private workspace (bytes may be negative); fails with
 * RT_ERR_NOMEM, changing nothing, when a growth would pass the limit. */
rt_status rt_memory_reserve(rt_device dev, int64_t bytes);

/* ---- the storage registry, for device.h (cuda_lazy.c) ----
 * rt_tensor_set_kind (device.h) tags a storage; these three act on the
 * tagged storages. Moves run on the thread that owns the session: the
 * storages moved must not be in use elsewhere meanwhile. */
struct rt_move_report;
/* Keep a host copy of t's storage at each checkpoint (weights, optimizer
 * state, BN accumulators: what a lost GPU must give back). */
void rt_tensor_set_backup(rt_tensor *t, int on);
/* Move every storage on `from` whose kind's bit (1 << kind) is in `kinds`
 * to `to`. All or nothing: the target's bytes are reserved first, new
 * buffers allocated and filled, and only then every header switched. With
 * `restore` (the source is a lost GPU: nothing can be read back) the new
 * buffers are filled from the host copies where there are any and zero
 * elsewhere, and storages that cannot be placed are left behind. rep
 * (may be NULL) counts what moved. */
rt_status rt_storages_move(rt_device from, rt_device to, unsigned kinds, int restore,
                           struct rt_move_report *rep);
/* Refresh the host copies of the backed-up storages on `dev` whose copy is
 * older than `gen` (or missing). A failed copy keeps the previous one. */
rt_status rt_storages_checkpoint(rt_device dev, uint64_t gen);

#endif
