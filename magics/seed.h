/*
 * seed.h - what %seed recorded, for %who and a later %seed.
 */
#ifndef HELLODL_MAGICS_SEED_H
#define HELLODL_MAGICS_SEED_H

#include <stdbool.h>
#include <stdint.h>

/* The seed the last successful `%seed N` set; false when there was none. */
bool magic_seed_recorded(uint64_t *seed);

#endif
