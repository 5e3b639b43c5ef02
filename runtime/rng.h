/*
 * rng.h - seeded, reproducible random numbers for the runtime.
 *
 * rt_rng is xoshiro256** seeded through splitmix64: small, fast, and the
 * same sequence on every machine for a given seed. It drives weight
 * initialization as well as the data pipeline (augmentation parameters,
 * sample permutations, batch orders). Streams that must not depend on how
 * work is split across threads or devices (dropout masks) use the stateless
 * rt_rng_hash(key, counter) instead. An rt_rng is a plain value owned by
 * whoever holds it (copy it to fork a stream); nothing here allocates or
 * locks, so one generator must not be shared between threads without the
 * caller's lock. Not for cryptography.
 */
#ifndef HELLODL_RNG_H
#define HELLODL_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct rt_rng {
    uint64_t s[4];
} rt_rng;

/* The same seed always gives the same stream, on every platform. */
void rt_rng_seed(rt_rng *r, uint64_t seed);
/* Seed from two words, e.g. (user seed, batch counter): streams for
 * different pairs are independent for practical purposes. */
void rt_rng_seed2(rt_rng *r, uint64_t seed, uint64_t stream);
/* A seed from the operating system's entropy (falls back to the clock). */
uint64_t rt_rng_entropy(void);
uint64_t rt_rng_next(rt_rng *r);
/* An independent generator derived from r (advances r by one draw). */
rt_rng rt_rng_split(rt_rng *r);
/* Uniform integer in [0, n), unbiased; 0 when n == 0. */
uint64_t rt_rng_below(rt_rng *r, uint64_t n);
/* Uniform double in [0, 1) with 53 random bits, like numpy's random(). */
double rt_rng_uniform(rt_rng *r);
/* Uniform in [lo, hi): lo + (hi - lo) * uniform, as numpy's uniform(). */
double rt_rng_between(rt_rng *r, double lo, double hi);
/* Uniform float in [0, 1) with 24 random bits. */
float rt_rng_uniformf(rt_rng *r);
/* Standard normal (Box-Muller, no cached second value). */
double rt_rng_normal(rt_rng *r);
/* x[i] = lo + (hi - lo) * uniform, for i in [0, n). */
void rt_rng_fill_uniform(rt_rng *r, float *x /* (n) */, size_t n, float lo,
                         float hi);
/* Fisher-Yates shuffle of idx (n) in place. */
void rt_rng_shuffle(rt_rng *r, int *idx, int n);
/* idx (n) = a random permutation of 0..n-1. */
void rt_rng_permutation(rt_rng *r, int *idx, int n);

/* Stateless 64-bit hash of (key, counter): element `counter` of stream
 * `key`. Good enough to drive dropout masks; not cryptographic. */
uint64_t rt_rng_hash(uint64_t key, uint64_t counter);
/* Its top 24 bits as a float in [0, 1). */
static inline float rt_rng_hash_uniformf(uint64_t key, uint64_t counter)
{
    return (float)(rt_rng_hash(key, counter) >> 40) * (1.0f / 16777216.0f);
}

#endif
