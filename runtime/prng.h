/*
 * prng.h - the data pipeline's own seeded random numbers (xoshiro256**,
 * seeded through splitmix64): augmentation parameters, sample permutations
 * and batch orders. It is a plain value type: copy it to fork a stream, no
 * allocation, no global state, so a data-loading thread and the main thread
 * never share one by accident. Not for cryptography.
 */
#ifndef HELLODL_PRNG_H
#define HELLODL_PRNG_H

#include <stdint.h>

typedef struct rt_prng {
    uint64_t s[4];
} rt_prng;

/* The same seed always gives the same stream, on every platform. */
void rt_prng_seed(rt_prng *r, uint64_t seed);
/* Seed from two words, e.g. (user seed, batch counter): streams for
 * different pairs are independent for practical purposes. */
void rt_prng_seed2(rt_prng *r, uint64_t seed, uint64_t stream);
/* A seed from the operating system's entropy (falls back to the clock). */
uint64_t rt_prng_entropy(void);

uint64_t rt_prng_next(rt_prng *r);
/* Uniform in [0, 1) with 53 random bits, like numpy's random(). */
double rt_prng_double(rt_prng *r);
/* Uniform in [lo, hi): lo + (hi - lo) * double, as numpy's uniform(). */
double rt_prng_uniform(rt_prng *r, double lo, double hi);
/* Uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t rt_prng_below(rt_prng *r, uint64_t n);
/* Fisher-Yates shuffle of idx (n) in place. */
void rt_prng_shuffle(rt_prng *r, int *idx, int n);
/* idx (n) = a random permutation of 0..n-1. */
void rt_prng_permutation(rt_prng *r, int *idx, int n);

#endif
