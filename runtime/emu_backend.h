/*
 * emu_backend.h - the emulated GPU (HELLODL_GPU_EMULATE=1), for testing the
 * device plumbing on machines without one. Private to runtime/ and its
 * tests; the session reaches it only through device.h.
 *
 * It is an rt_backend named "cuda (emulated)" on RT_DEVICE_CUDA. Its
 * buffers are host memory handed out 2^47 bytes above their real address:
 * on x86-64 that is a non-canonical address, so any host code that reads or
 * writes "device" memory directly (instead of copying it to the host) dies
 * at once with a segmentation fault instead of working by accident. Every
 * op checks that its buffers are device pointers (a host pointer handed to
 * the GPU is reported as RT_ERR_DEVICE, as a real GPU would fault on it),
 * translates them back and runs the CPU backend's op: results are the CPU
 * backend's, bit for bit.
 *
 * Faults. HELLODL_GPU_EMULATE_FAULT=oom@N or sticky@N (read at the first
 * use) makes the N-th op call fail, counting every call but buffer_free
 * from the moment the fault is armed: oom@N with RT_ERR_NOMEM as the real
 * module reports an out-of-memory; sticky@N with RT_ERR_DEVICE, after which
 * the device is lost and every op fails fast (copy_to_host included), as
 * after a CUDA illegal-address error. The pool honours a cap like the real
 * one.
 */
#ifndef HELLODL_EMU_BACKEND_H
#define HELLODL_EMU_BACKEND_H

#include <stdint.h>

#include "backend.h"
#include "cuda_module.h"

/* The table (borrowed, static); reads HELLODL_GPU_EMULATE_FAULT once. */
const rt_backend *rt_emu_backend(void);
/* 1 after a sticky fault. */
int rt_emu_lost(void);
/* The error that lost the device ("" while it works). */
const char *rt_emu_lost_reason(void);
/* Pool: cap on the bytes handed out (0: none), and the bytes in use. */
void rt_emu_pool_set_cap(int64_t bytes);
int64_t rt_emu_pool_in_use(void);
int64_t rt_emu_pool_cap(void);

/* ---- test hooks ---- */
/* Arm a fault ("oom@N", "sticky@N"; NULL or "" disarms) counting from the
 * next op; returns 0 for a spec it cannot read. */
int rt_emu_fault_arm(const char *spec);
/* Op calls since the fault was last armed (or since the start). */
int64_t rt_emu_op_count(void);
/* A working device again after a sticky fault (a fresh GPU, as after a
 * kernel restart; buffers allocated before stay valid). */
void rt_emu_revive(void);

/* fit() stages batches in page-locked memory and uploads them ahead only
 * with a real GPU's module (rt_gpu_module). With staging on, the emulated
 * device offers a module table with just those entries (host_alloc,
 * host_free, upload_async, upload_wait, synchronize), so that the path
 * runs in tests; NULL while off (the default). */
void rt_emu_staging_set(int on);
const rt_cuda_module *rt_emu_staging_module(void);

#endif
