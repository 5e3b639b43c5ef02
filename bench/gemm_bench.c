/*
 * gemm_bench - prints GEMM throughput for InceptionV3-shaped products and
 * conv2d timings for some of its layers at batch 8, through the CPU
 * backend. A program that prints figures, not a test.
 *
 *   gemm_bench [repeats [name-filter]]
 *
 * Run it with OMP_WAIT_POLICY=passive: on the 2-core machine it was
 * measured on, idle OpenMP threads that spin halve conv throughput.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend.h"
#include "rng.h"

extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *buf(size_t n, rt_rng *r)
{
    float *p = malloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1); /* a benchmark program, not the runtime */
    }
    rt_rng_fill_uniform(r, p, n, -1.0f, 1.0f);
    return p;
}

typedef struct { const char *what; int m, n, k; } gemm_case;

static void bench_gemm(const rt_backend *be, int reps, rt_rng *r,
                       const char *only)
{
    const gemm_case cs[] = {
        {"35x35x8 3x3 conv 32->64 (K=288)", 35 * 35 * 8, 64, 288},
        {"35x35x8 1x1 conv 288->64", 35 * 35 * 8, 64, 288},
        {"35x35x8 1x1 conv 192->48", 35 * 35 * 8, 48, 192},
        {"35x35x8 3x3 conv 64->96 (K=576)", 35 * 35 * 8, 96, 576},
        {"147x147x8 3x3 conv 32->64", 147 * 147 * 8, 64, 288},
        {"17x17x8 1x7 conv 192->192", 17 * 17 * 8, 192, 1344},
        {"17x17x8 1x1 conv 768->192", 17 * 17 * 8, 192, 768},
        {"8x8x8 1x1 conv 2048->384", 8 * 8 * 8, 384, 2048},
        {"8x8x8 3x3 conv 448->384", 8 * 8 * 8, 384, 4032},
        {"dense 8x2048 -> 256", 8, 256, 2048},
        {"square 2048", 2048, 2048, 2048},
    };
    printf("\nGEMM C(m,n) = A(m,k) B(k,n), float32, best of %d\n", reps);
    printf("%-36s %7s %5s %5s %9s %8s\n", "shape", "m", "n", "k", "ms",
           "GFLOP/s");
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        const gemm_case *g = &cs[i];
        if (only && !strstr(g->what, only))
            continue;
        float *a = buf((size_t)g->m * g->k, r), *b = buf((size_t)g->k * g->n, r);
        float *c = buf((size_t)g->m * g->n, r);
        double best = 1e30;
        for (int t = 0; t < reps + 1; t++) {
            double t0 = now();
            be->gemm(0, 0, g->m, g->n, g->k, 1.0f, a, g->k, b, g->n, 0.0f, c,
                     g->n);
            double dt = now() - t0;
            if (t > 0 && dt < best) /* first call warms up */
                best = dt;
        }
        printf("%-36s %7d %5d %5d %9.3f %8.1f\n", g->what, g->m, g->n, g->k,
               best * 1e3, 2.0 * g->m * g->n * g->k / best / 1e9);
        free(a);
        free(b);
        free(c);
    }
}

typedef struct {
    const char *what;
    int h, w, ci, co, kh, kw, s;
    rt_padding pad;
} conv_case;

static void bench_conv(const rt_backend *be, int reps, rt_rng *r,
                       const char *only)
{
    const conv_case cs[] = {
        {"conv2d_1 3x3 s2 valid 3->32", 299, 299, 3, 32, 3, 3, 2, RT_PAD_VALID},
        {"conv2d_2 3x3 valid 32->32", 149, 149, 32, 32, 3, 3, 1, RT_PAD_VALID},
        {"conv2d_3 3x3 same 32->64", 147, 147, 32, 64, 3, 3, 1, RT_PAD_SAME},
        {"conv2d_5 3x3 valid 80->192", 73, 73, 80, 192, 3, 3, 1, RT_PAD_VALID},
        {"conv2d_6 1x1 192->64", 35, 35, 192, 64, 1, 1, 1, RT_PAD_SAME},
        {"conv2d_8 5x5 same 48->64", 35, 35, 48, 64, 5, 5, 1, RT_PAD_SAME},
        {"conv2d_27 3x3 s2 valid 288->384", 35, 35, 288, 384, 3, 3, 2, RT_PAD_VALID},
        {"conv2d_63 1x7 same 192->192", 17, 17, 192, 192, 1, 7, 1, RT_PAD_SAME},
        {"conv2d_64 7x1 same 192->192", 17, 17, 192, 192, 7, 1, 1, RT_PAD_SAME},
        {"conv2d_82 3x3 same 448->384", 8, 8, 448, 384, 3, 3, 1, RT_PAD_SAME},
    };
    printf("\nconv2d NHWC batch 8, best of %d (fwd; bwd = dinp + dweight)\n",
           reps);
    printf("%-34s %9s %8s %9s %8s\n", "layer", "fwd ms", "GFLOP/s", "bwd ms",
           "GFLOP/s");
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        const conv_case *c = &cs[i];
        if (only && !strstr(c->what, only))
            continue;
        rt_window2d g;
        if (rt_window2d_init(&g, 8, c->h, c->w, c->ci, c->co, c->kh, c->kw,
                             c->s, c->s, c->pad) != RT_OK) {
            printf("%s: %s\n", c->what, rt_error_message());
            continue;
        }
        size_t nx = (size_t)8 * c->h * c->w * c->ci;
        size_t ny = (size_t)8 * g.out_h * g.out_w * c->co;
        size_t nw = (size_t)c->kh * c->kw * c->ci * c->co;
        float *x = buf(nx, r), *w = buf(nw, r), *y = buf(ny, r);
        float *dx = buf(nx, r), *dw = buf(nw, r);
        double flops = 2.0 * ny * c->kh * c->kw * c->ci, fb = 1e30, bb = 1e30;
        for (int t = 0; t < reps + 1; t++) {
            double t0 = now();
            be->conv2d_forward(&g, y, x, w, NULL);
            double t1 = now();
            be->conv2d_backward(&g, dx, dw, NULL, y, x, w);
            double t2 = now();
            if (t > 0) {
                fb = t1 - t0 < fb ? t1 - t0 : fb;
                bb = t2 - t1 < bb ? t2 - t1 : bb;
            }
        }
        printf("%-34s %9.2f %8.1f %9.2f %8.1f\n", c->what, fb * 1e3,
               flops / fb / 1e9, bb * 1e3, 2 * flops / bb / 1e9);
        free(x); free(w); free(y); free(dx); free(dw);
    }
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1)
        reps = 1;
    const rt_backend *be = rt_backend_cpu();
    rt_rng r;
    rt_rng_seed(&r, 1);
    int omp = 1;
#ifdef _OPENMP
    omp = omp_get_max_threads();
#endif
    printf("OpenBLAS: %s; OpenBLAS threads %d, OpenMP threads %d\n",
           openblas_get_config(), openblas_get_num_threads(), omp);
    const char *only = argc > 2 ? argv[2] : NULL;
    bench_gemm(be, reps, &r, only);
    bench_conv(be, reps, &r, only);
    be->workspace_trim();
    return 0;
}
