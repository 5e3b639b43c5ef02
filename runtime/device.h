/*
 * device.h - where a session computes, and moving it.
 *
 * The session has one compute device. Models (their weights, gradients,
 * optimizer state and feature caches) live on it from cell to cell; tensors
 * made in cells live on the CPU and are copied when an op needs them on the
 * device. The first time anything asks for the session device, the CUDA
 * backend is looked for (runtime/cuda_lazy.c): found and usable, the
 * session computes on the GPU; otherwise on the CPU, with the reason kept
 * for %gpu. HELLODL_DEVICE=cpu keeps a session on the CPU without probing.
 *
 * Moving. Every storage is registered (tensor.c), so rt_device_move can
 * move all storages of a kind from one device to another and fix every
 * tensor header over them: %device cpu / %device gpu, and the automatic
 * move after a sticky GPU error.
 *
 * Recovery. A storage marked RT_STORAGE_MODEL keeps a host copy of its
 * contents, refreshed by rt_device_checkpoint (the kernel calls it when a
 * cell that changed model state ends, and fit at each epoch's end). After a
 * sticky error nothing can be read back from the GPU; rt_device_recover
 * moves the session to the CPU, restoring model storages from their host
 * copies and zero-filling the rest, and describes what was kept.
 *
 * Test double. HELLODL_GPU_EMULATE=1 registers an emulated device under
 * RT_DEVICE_CUDA: the CPU ops behind device pointers that the host cannot
 * dereference (any host read of device memory crashes), with optional fault
 * injection (HELLODL_GPU_EMULATE_FAULT=oom@N or sticky@N: the N-th op
 * fails). It exists so the device plumbing is tested on machines without a
 * GPU; %gpu names it as an emulation.
 */
#ifndef HELLODL_DEVICE_H
#define HELLODL_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_module.h"
#include "rt_status.h"
#include "tensor.h"

/* Storage kinds, for moves and checkpoints. */
typedef enum rt_storage_kind {
    RT_STORAGE_DATA = 0,  /* activations, batches, cell tensors */
    RT_STORAGE_MODEL = 1, /* weights, gradients, optimizer state, caches */
} rt_storage_kind;

/* Tag t's storage (all views of it). */
void rt_tensor_set_kind(rt_tensor *t, rt_storage_kind kind);

/* The session's compute device; probes the GPU on the first call. */
rt_device rt_session_device(void);
/* 1 when the session's GPU (real or emulated) is usable. No probe when
 * probe == 0 (then 0 if nothing has probed yet). */
int rt_gpu_available(int probe);
/* Why there is no GPU ("no NVIDIA GPU is visible to this process", "the
 * CUDA backend module could not be loaded: ..."); "" when there is one. */
const char *rt_gpu_unavailable_reason(void);
/* 1 for the emulated test device. */
int rt_gpu_emulated(void);
/* The GPU's details; 0 when there is none. */
int rt_gpu_info(rt_cuda_info *out);
/* The module table (NULL without a usable GPU or when emulated). */
const rt_cuda_module *rt_gpu_module(void);

/* Summary of a move, for the user. */
typedef struct rt_move_report {
    int64_t storages, bytes;      /* moved */
    int64_t restored, restored_bytes; /* from host copies (recovery) */
    int64_t lost, lost_bytes;     /* zero-filled: nothing to copy back */
} rt_move_report;

/* Make `dev` the session device and move every storage of the given kinds
 * (a bit mask of 1 << RT_STORAGE_*) living on the other device onto it.
 * All or nothing: on failure (RT_ERR_NOMEM past the cap) nothing moved. */
rt_status rt_device_select(rt_device dev, unsigned kinds, rt_move_report *rep);

/* Refresh the host copies of model storages on the GPU (no-op on the CPU
 * or when nothing changed since the last checkpoint; rt_device_touch
 * marks a change). */
rt_status rt_device_checkpoint(void);
void rt_device_touch(void);

/* After an RT_ERR_DEVICE: when the GPU is lost, move the session to the CPU
 * as above and return 1 with a paragraph for the user in msg (what failed,
 * what was kept, what was not); 0 when the GPU is still fine. */
int rt_device_recover(char *msg, size_t size);

/* A remark on the GPU settings read from the environment
 * (HELLODL_GPU_MEMORY_MB, HELLODL_GPU_MATH, HELLODL_DEVICE) that were not
 * understood and were ignored; "" when all were fine. */
const char *rt_gpu_settings_note(void);

/* Pool and math settings; forwarded to the module (no-op without one).
 * rt_gpu_pool_trim gives the pool's cached blocks back to the driver. */
void rt_gpu_pool_set_cap(int64_t bytes);
void rt_gpu_pool_trim(void);
rt_status rt_gpu_set_math(int mode);
rt_status rt_gpu_synchronize(void);

#endif
