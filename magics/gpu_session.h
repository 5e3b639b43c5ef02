/*
 * gpu_session.h - the GPU side of the magics that the host and the other
 * magic files share: what happens when a cell ends, the GPU's memory pool
 * and why there is no GPU, in words.
 */
#ifndef HELLODL_GPU_SESSION_H
#define HELLODL_GPU_SESSION_H

#include <stddef.h>

#include "cuda_module.h"
#include "lang.h"

/* Called by the host (the kernel, the golden-file runner) after every cell,
 * with the cell's sink and result. When the session computes on a GPU:
 * after a cell that lost the GPU, moves the session to the CPU and writes
 * why to stderr (unless the error already said it); otherwise refreshes the
 * host copies of the models' weights (rt_device_checkpoint), which costs
 * nothing when no cell changed them. Without a GPU it does nothing. */
void magics_cell_end(lang_session *s, const lang_sink *sink, const lang_result *r);

/* This kernel's GPU memory pool in words, into buf: "64.0 MB reserved, 3.5 MB
 * in use, cap 2048 MB (HELLODL_GPU_MEMORY_MB=2048)". Returns buf. */
const char *magic_gpu_pool_text(const rt_cuda_info *info, char *buf, size_t cap);

/* Why there is no GPU as a clause without a final period (for "No GPU:
 * %s."), into buf. Returns buf. */
const char *magic_gpu_reason(char *buf, size_t cap);

#endif
