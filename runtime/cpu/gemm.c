/*
 * GEMM on the CPU: OpenBLAS' cblas_sgemm, row-major, threaded by us.
 *
 * OpenBLAS runs single-threaded (set once when the backend is first used)
 * and rt_cpu_gemm splits the product across the OpenMP team instead. Two
 * thread pools that each spin after their work (OpenBLAS' and libgomp's)
 * fight over the same two cores: measured with bench/gemm_bench, an
 * im2col (OpenMP) + threaded-OpenBLAS conv ran 1.7x to 4x slower than with
 * one pool. With one pool, conv code can also call rt_cpu_gemm_serial from
 * inside its own parallel regions.
 *
 * OpenBLAS is loaded with dlopen on the first product, not linked: mapping
 * and initialising it costs a kernel that only prints "Hello, world!" about
 * 3 MB of memory and milliseconds of start-up. Should it be missing, a plain
 * C loop keeps every result right (slowly), and rt_cpu_blas_name says so.
 */
#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu_ops.h"

typedef void (*sgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
                         const enum CBLAS_TRANSPOSE, const blasint, const blasint,
                         const blasint, const float, const float *, const blasint,
                         const float *, const blasint, const float, float *,
                         const blasint);

static pthread_once_t rt_blas_once = PTHREAD_ONCE_INIT;
static sgemm_fn rt_sgemm;            /* NULL: the fallback loop */
static const char *rt_blas_lib = "none (plain C fallback)";

static void rt_blas_load(void)
{
    static const char *const libs[] = { "libopenblas.so.0", "libopenblas.so",
                                        "libblas.so.3" };
    /* OpenBLAS reads this when it loads: no thread pool of its own. */
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    for (size_t i = 0; i < sizeof libs / sizeof *libs && !rt_sgemm; i++) {
        void *h = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
        if (!h)
            continue;
        rt_sgemm = (sgemm_fn)(uintptr_t)dlsym(h, "cblas_sgemm");
        void (*set_threads)(int) = (void (*)(int))(uintptr_t)dlsym(h, "openblas_set_num_threads");
        if (set_threads)
            set_threads(1);
        if (rt_sgemm)
            rt_blas_lib = libs[i];
        else
            dlclose(h);
    }
}

void rt_cpu_blas_init(void)
{
    pthread_once(&rt_blas_once, rt_blas_load);
}

const char *rt_cpu_blas_name(void)
{
    rt_cpu_blas_init();
    return rt_blas_lib;
}

/* C = alpha * op(A) op(B) + beta * C without a BLAS: correct, not fast. */
static void rt_gemm_fallback(int ta, int tb, int m, int n, int k, float alpha,
                             const float *a, int lda, const float *b, int ldb,
                             float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float acc = 0.0f;
            for (int p = 0; p < k; p++)
                acc += (ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) *
                       (tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]);
            float *cij = &c[(size_t)i * ldc + j];
            *cij = alpha * acc + (beta == 0.0f ? 0.0f : beta * *cij);
        }
}

void rt_cpu_gemm_serial(int trans_a, int trans_b, int m, int n, int k,
                        float alpha, const float *a, int lda, const float *b,
                        int ldb, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) { /* BLAS would still scale C by beta */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                c[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f
                                       : beta * c[(size_t)i * ldc + j];
        return;
    }
    rt_cpu_blas_init();
    if (!rt_sgemm) {
        rt_gemm_fallback(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    rt_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
             trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
             ldb, beta, c, ldc);
}

/* Threads for an m x n x k product: one below ~4 MFLOP, where the team's
 * wake-up costs more than it saves. */
static int rt_gemm_threads(int m, int n, int k)
{
#ifdef _OPENMP
    if ((double)m * n * k >= 2e6 && !omp_in_parallel())
        return omp_get_max_threads();
#endif
    (void)m;
    (void)n;
    (void)k;
    return 1;
}

rt_status rt_cpu_gemm(int trans_a, int trans_b, int m, int n, int k,
                      float alpha, const float *a, int lda, const float *b,
                      int ldb, float beta, float *c, int ldc)
{
    if (m < 0 || n < 0 || k < 0)
        return rt_error_set(RT_ERR_ARG, "gemm: negative size (%d, %d, %d)", m,
                            n, k);
    int a_cols = trans_a ? m : k, b_cols = trans_b ? k : n;
    if (lda < (a_cols > 1 ? a_cols : 1) || ldb < (b_cols > 1 ? b_cols : 1)
        || ldc < (n > 1 ? n : 1))
        return rt_error_set(RT_ERR_ARG, "gemm: leading dimension too small "
                            "(lda %d, ldb %d, ldc %d for m %d n %d k %d)", lda,
                            ldb, ldc, m, n, k);
    rt_cpu_blas_init();
    int nt = rt_gemm_threads(m, n, k);
    if (nt <= 1) {
        rt_cpu_gemm_serial(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                           beta, c, ldc);
        return RT_OK;
    }
    /* Split the longer of m and n into one slice per thread, in multiples
     * of 16 so slices keep whole register tiles. */
    int split_m = m >= n, len = split_m ? m : n;
    #pragma omp parallel num_threads(nt)
    {
        int id = 0, cnt = 1;
#ifdef _OPENMP
        id = omp_get_thread_num();
        cnt = omp_get_num_threads();
#endif
        int step = ((len + cnt - 1) / cnt + 15) / 16 * 16;
        int s0 = id * step, s1 = s0 + step < len ? s0 + step : len;
        if (s0 < s1) {
            if (split_m)
                rt_cpu_gemm_serial(trans_a, trans_b, s1 - s0, n, k, alpha,
                                   trans_a ? a + s0 : a + (size_t)s0 * lda,
                                   lda, b, ldb, beta, c + (size_t)s0 * ldc,
                                   ldc);
            else
                rt_cpu_gemm_serial(trans_a, trans_b, m, s1 - s0, k, alpha, a,
                                   lda, trans_b ? b + (size_t)s0 * ldb : b + s0,
                                   ldb, beta, c + s0, ldc);
        }
    }
    return RT_OK;
}
