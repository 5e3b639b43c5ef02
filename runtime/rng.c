#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static uint64_t rt_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rt_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void rt_rng_seed(rt_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = rt_splitmix64(&x);
}

void rt_rng_seed2(rt_rng *r, uint64_t seed, uint64_t stream)
{
    /* Mix the stream number through splitmix first so that (s, k) and
     * (s + 1, k - 1) do not collide. */
    uint64_t x = stream;
    rt_rng_seed(r, seed ^ rt_splitmix64(&x));
}

uint64_t rt_rng_entropy(void)
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
    return rt_splitmix64(&v);
}

uint64_t rt_rng_next(rt_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rt_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rt_rotl(s[3], 45);
    return result;
}

rt_rng rt_rng_split(rt_rng *r)
{
    rt_rng child;
    rt_rng_seed(&child, rt_rng_next(r));
    return child;
}

uint64_t rt_rng_below(rt_rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    /* Rejection of the short last bucket keeps the draw unbiased. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = rt_rng_next(r);
    while (x >= limit);
    return x % n;
}

double rt_rng_uniform(rt_rng *r)
{
    return (double)(rt_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double rt_rng_between(rt_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * rt_rng_uniform(r);
}

float rt_rng_uniformf(rt_rng *r)
{
    return (float)(rt_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

double rt_rng_normal(rt_rng *r)
{
    double u1 = 1.0 - rt_rng_uniform(r); /* (0, 1]: log is finite */
    double u2 = rt_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void rt_rng_fill_uniform(rt_rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * rt_rng_uniformf(r);
}

void rt_rng_shuffle(rt_rng *r, int *idx, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rt_rng_below(r, (uint64_t)i + 1);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

void rt_rng_permutation(rt_rng *r, int *idx, int n)
{
    for (int i = 0; i < n; i++)
        idx[i] = i;
    rt_rng_shuffle(r, idx, n);
}

uint64_t rt_rng_hash(uint64_t key, uint64_t counter)
{
    uint64_t x = key ^ rt_rotl(counter * 0xd1342543de82ef95ULL, 31);
    x ^= counter;
    return rt_splitmix64(&x);
}
