#include "prng.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rt_prng_seed(rt_prng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

void rt_prng_seed2(rt_prng *r, uint64_t seed, uint64_t stream)
{
    /* Mix the stream number through splitmix first so that (s, k) and
     * (s + 1, k - 1) do not collide. */
    uint64_t x = stream;
    uint64_t h = splitmix64(&x);
    rt_prng_seed(r, seed ^ h);
}

uint64_t rt_prng_entropy(void)
{
    uint64_t v = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        size_t got = fread(&v, sizeof v, 1, f);
        fclose(f);
        if (got == 1)
            return v;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    v = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    return splitmix64(&v);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rt_prng_next(rt_prng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rt_prng_double(rt_prng *r)
{
    return (double)(rt_prng_next(r) >> 11) * 0x1.0p-53;
}

double rt_prng_uniform(rt_prng *r, double lo, double hi)
{
    return lo + (hi - lo) * rt_prng_double(r);
}

uint64_t rt_prng_below(rt_prng *r, uint64_t n)
{
    /* Rejection from the top of the range keeps every residue equally
     * likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do
        v = rt_prng_next(r);
    while (v >= limit);
    return v % n;
}

void rt_prng_shuffle(rt_prng *r, int *idx, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rt_prng_below(r, (uint64_t)i + 1);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

void rt_prng_permutation(rt_prng *r, int *idx, int n)
{
    for (int i = 0; i < n; i++)
        idx[i] = i;
    rt_prng_shuffle(r, idx, n);
}
