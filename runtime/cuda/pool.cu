/*
 * pool.cu - the caching allocator behind every device buffer, and the op
 * workspaces.
 *
 * cudaMalloc and cudaFree are slow and cudaFree waits for the whole device,
 * so blocks are kept after a free and handed out again: a training step
 * asks for the same activation and gradient sizes batch after batch. Sizes
 * round up to 512 bytes; blocks under 1 MiB live in power-of-two bins
 * (512 B .. 512 KiB), larger ones are reused only at their exact rounded
 * size, which is what repeated batches ask for.
 *
 * Reuse is stream-ordered: every op runs on cu.stream, so work queued after
 * a free can only start once the work queued before it, the block's last
 * readers and writers included, has finished. Two cases reach a block from
 * outside cu.stream, and both are ordered by events:
 *   - uploads write on cu.copy_stream. upload_async (module.cu) first makes
 *     the copy stream wait for everything queued on cu.stream, so an upload
 *     into a reused block cannot overtake its previous users;
 *   - a block freed while its upload may still be running (an interrupted
 *     fit) could be handed out before the copy lands. So a block taken from
 *     the cache makes cu.stream wait for the last recorded upload
 *     (cu.upload_done) first: on the device this is free once the copy has
 *     finished, and it keeps the block's new owner behind it.
 *
 * Threads: tensors may be freed, and batches allocated, on data-loading
 * threads, so the bookkeeping is behind one mutex. The cap bounds the bytes
 * held from the driver (cached blocks included); reaching it, or a failed
 * cudaMalloc, first returns the cache to the driver and tries again.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "cuda_internal.h"

#define CU_ROUND ((size_t)512)
#define CU_LARGE ((size_t)1 << 20)
#define CU_BINS 11 /* 512 << 0 .. 512 << 10 = 512 KiB */
#define CU_HASH 4096

typedef struct cu_block {
    void *p;
    size_t size; /* rounded: what the driver holds for it */
    struct cu_block *next;
} cu_block;

static struct {
    pthread_mutex_t lock;
    cu_block *live[CU_HASH]; /* handed out, by pointer */
    cu_block *bins[CU_BINS]; /* cached small blocks, by size class */
    cu_block *large;         /* cached blocks of CU_LARGE or more */
    int64_t reserved, in_use, cap;
} pool = { PTHREAD_MUTEX_INITIALIZER, {}, {}, NULL, 0, 0, 0 };

static size_t cu_hash(const void *p)
{
    uintptr_t u = (uintptr_t)p >> 8; /* cudaMalloc aligns to 256 bytes */
    return (size_t)((u ^ (u >> 12)) % CU_HASH);
}

/* The rounded size of a request, and its bin (-1: large). */
static size_t cu_class(size_t nbytes, int *bin)
{
    size_t size = nbytes ? (nbytes + CU_ROUND - 1) / CU_ROUND * CU_ROUND : CU_ROUND;
    *bin = -1;
    if (size >= CU_LARGE)
        return size;
    size_t b = CU_ROUND;
    int i = 0;
    while (b < size) {
        b <<= 1;
        i++;
    }
    /* Past the last bin (512 KiB .. 1 MiB): a 1 MiB block, cached as large,
     * which is where cu_cache_put files it. */
    if (i < CU_BINS)
        *bin = i;
    return b;
}

/* A cached block of exactly `size`, unlinked; NULL when none. */
static cu_block *cu_cache_take(size_t size, int bin)
{
    cu_block **pp = bin >= 0 ? &pool.bins[bin] : &pool.large;
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->size == size) {
            cu_block *b = *pp;
            *pp = b->next;
            return b;
        }
    }
    return NULL;
}

static void cu_cache_put(cu_block *b)
{
    int bin;
    cu_class(b->size, &bin);
    cu_block **head = bin >= 0 ? &pool.bins[bin] : &pool.large;
    b->next = *head;
    *head = b;
}

static void cu_free_list(cu_block **head)
{
    while (*head) {
        cu_block *b = *head;
        *head = b->next;
        if (!cu.lost)
            (void)cudaFree(b->p);
        pool.reserved -= (int64_t)b->size;
        free(b);
    }
}

/* Give every cached block back to the driver. Caller holds the lock. The
 * streams are drained first: a cached block may still be read by queued
 * work (reuse is stream-ordered, a cudaFree is not). */
static void cu_trim_locked(void)
{
    if (!pool.large) {
        int any = 0;
        for (int i = 0; i < CU_BINS; i++)
            any |= pool.bins[i] != NULL;
        if (!any)
            return;
    }
    if (!cu.lost && cu.stream) {
        (void)cudaStreamSynchronize(cu.stream);
        (void)cudaStreamSynchronize(cu.copy_stream);
        (void)cudaGetLastError();
    }
    for (int i = 0; i < CU_BINS; i++)
        cu_free_list(&pool.bins[i]);
    cu_free_list(&pool.large);
}

static rt_status cu_over_cap(size_t size)
{
    return cu.host->error_set(RT_ERR_NOMEM,
        "The GPU memory limit of %lld MB is reached: %.1f MB are in use and "
        "%.1f MB more are needed. Use a smaller batch_size, free models you no "
        "longer need, raise the limit (HELLODL_GPU_MEMORY_MB) or run `%%device "
        "cpu`.", (long long)(pool.cap >> 20), pool.in_use / 1048576.0,
        size / 1048576.0);
}

/* A new block from the driver. Caller holds the lock. */
static rt_status cu_driver_alloc(size_t size, void **out)
{
    if (pool.cap > 0 && pool.reserved + (int64_t)size > pool.cap) {
        cu_trim_locked();
        if (pool.reserved + (int64_t)size > pool.cap)
            return cu_over_cap(size);
    }
    cudaError_t e = cudaMalloc(out, size);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        cu_trim_locked();
        e = cudaMalloc(out, size);
    }
    if (e != cudaSuccess) {
        char what[64];
        snprintf(what, sizeof what, "allocating %.1f MB", size / 1048576.0);
        return cu_check_cuda(e, what);
    }
    pool.reserved += (int64_t)size;
    return RT_OK;
}

rt_status cu_pool_alloc(size_t nbytes, void **out)
{
    *out = NULL;
    CU_ALIVE();
    if (nbytes > ((size_t)1 << 48))
        return cu.host->error_set(RT_ERR_NOMEM, "Asked for %.0f GB of GPU "
                                  "memory at once, more than any GPU has.",
                                  nbytes / 1e9);
    int bin;
    size_t size = cu_class(nbytes, &bin);
    rt_status st = RT_OK;
    pthread_mutex_lock(&pool.lock);
    cu_block *b = cu_cache_take(size, bin);
    if (b) {
        /* Behind any upload that may still write the block (see above). */
        if (cu.upload_done)
            st = cu_check_cuda(cudaStreamWaitEvent(cu.stream, cu.upload_done, 0),
                               "reusing GPU memory");
    } else if ((b = (cu_block *)malloc(sizeof *b)) == NULL) {
        st = cu.host->error_set(RT_ERR_NOMEM, "Out of memory for GPU memory "
                                "bookkeeping.");
    } else if ((st = cu_driver_alloc(size, &b->p)) == RT_OK) {
        b->size = size;
    } else {
        free(b);
        b = NULL;
    }
    if (b && st != RT_OK) {
        cu_cache_put(b);
        b = NULL;
    }
    if (b) {
        size_t h = cu_hash(b->p);
        b->next = pool.live[h];
        pool.live[h] = b;
        pool.in_use += (int64_t)b->size;
        *out = b->p;
    }
    pthread_mutex_unlock(&pool.lock);
    return st;
}

void cu_pool_free(void *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&pool.lock);
    for (cu_block **pp = &pool.live[cu_hash(p)]; *pp; pp = &(*pp)->next) {
        if ((*pp)->p == p) {
            cu_block *b = *pp;
            *pp = b->next;
            pool.in_use -= (int64_t)b->size;
            cu_cache_put(b);
            break;
        }
    }
    /* Past the cap (lowered since the block was taken): shrink now. */
    if (pool.cap > 0 && pool.reserved > pool.cap)
        cu_trim_locked();
    pthread_mutex_unlock(&pool.lock);
}

void cu_pool_set_cap(int64_t bytes)
{
    pthread_mutex_lock(&pool.lock);
    pool.cap = bytes > 0 ? bytes : 0;
    if (pool.cap > 0 && pool.reserved > pool.cap)
        cu_trim_locked();
    pthread_mutex_unlock(&pool.lock);
}

void cu_pool_trim(void)
{
    pthread_mutex_lock(&pool.lock);
    cu_trim_locked();
    pthread_mutex_unlock(&pool.lock);
}

void cu_pool_stats(int64_t *reserved, int64_t *in_use, int64_t *cap)
{
    pthread_mutex_lock(&pool.lock);
    *reserved = pool.reserved;
    *in_use = pool.in_use;
    *cap = pool.cap;
    pthread_mutex_unlock(&pool.lock);
}

/* ---- op workspaces ----
 * Ops are queued from one thread at a time (the cell's), so the slots need
 * no lock of their own; the blocks come from the pool like any buffer.
 * Growth is rounded to 1 MiB so that a run of slightly larger requests does
 * not reallocate each time. */
static struct {
    void *p;
    size_t size;
} cu_ws[CU_WORKSPACE_SLOTS];

rt_status cu_workspace(int slot, size_t nbytes, void **out)
{
    *out = NULL;
    if (slot < 0 || slot >= CU_WORKSPACE_SLOTS)
        return cu.host->error_set(RT_ERR_ARG, "GPU workspace slot %d does not "
                                  "exist", slot);
    if (nbytes <= cu_ws[slot].size && cu_ws[slot].p) {
        *out = cu_ws[slot].p;
        return RT_OK;
    }
    CU_ALIVE();
    size_t size = (nbytes + CU_LARGE - 1) / CU_LARGE * CU_LARGE;
    int64_t grow = (int64_t)size - (int64_t)cu_ws[slot].size;
    rt_status st = cu.host->memory_reserve(RT_DEVICE_CUDA, grow);
    if (st != RT_OK)
        return st;
    void *p = NULL;
    st = cu_pool_alloc(size, &p);
    if (st != RT_OK) {
        cu.host->memory_reserve(RT_DEVICE_CUDA, -grow);
        return st;
    }
    /* The old block goes back to the pool: work already queued on it runs
     * before anything queued after this (stream order). */
    cu_pool_free(cu_ws[slot].p);
    cu_ws[slot].p = p;
    cu_ws[slot].size = size;
    *out = p;
    return RT_OK;
}

void cu_workspace_trim(void)
{
    for (int i = 0; i < CU_WORKSPACE_SLOTS; i++) {
        if (!cu_ws[i].p)
            continue;
        cu_pool_free(cu_ws[i].p);
        cu.host->memory_reserve(RT_DEVICE_CUDA, -(int64_t)cu_ws[i].size);
        cu_ws[i].p = NULL;
        cu_ws[i].size = 0;
    }
}
