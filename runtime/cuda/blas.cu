/*
 * blas.cu - GEMM and the dense layer on the GPU (cuBLAS).
 *
 * The runtime's matrices are row-major; cuBLAS is column-major. A row-major
 * (m, n) matrix with leading dimension ld is, read column-major, its
 * transpose (n, m) with the same ld. So C = op(A) op(B) is computed as
 * C^T = op(B)^T op(A)^T: the operands swap places and m and n swap, and
 * no data is ever transposed.
 */
#include "cuda_internal.h"

/* C = beta * C for k == 0, where BLAS still scales C. c is (m, n), ldc. */
static __global__ void cu_scale_matrix_kernel(float *c, int m, int n, int ldc,
                                              float beta)
{
    size_t total = (size_t)m * n;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        float *cij = c + i / n * (size_t)ldc + i % n;
        *cij = beta == 0.0f ? 0.0f : beta * *cij;
    }
}

static rt_status cu_gemm(int trans_a, int trans_b, int m, int n, int k,
                         float alpha, const float *a, int lda, const float *b,
                         int ldb, float beta, float *c, int ldc)
{
    if (m < 0 || n < 0 || k < 0)
        return cu.host->error_set(RT_ERR_ARG, "gemm: negative size (%d, %d, "
                                  "%d)", m, n, k);
    int a_cols = trans_a ? m : k, b_cols = trans_b ? k : n;
    if (lda < (a_cols > 1 ? a_cols : 1) || ldb < (b_cols > 1 ? b_cols : 1)
        || ldc < (n > 1 ? n : 1))
        return cu.host->error_set(RT_ERR_ARG, "gemm: leading dimension too "
                                  "small (lda %d, ldb %d, ldc %d for m %d n %d "
                                  "k %d)", lda, ldb, ldc, m, n, k);
    CU_ALIVE();
    if (m == 0 || n == 0)
        return RT_OK;
    if (k == 0) {
        cu_scale_matrix_kernel<<<cu_blocks((size_t)m * n), CU_THREADS, 0,
                                 cu.stream>>>(c, m, n, ldc, beta);
        return cu_check_launch("scaling a matrix");
    }
    cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    return cu_check_cublas(cublasSgemm(cu.cublas, op_b, op_a, n, m, k, &alpha,
                                       b, ldb, a, lda, &beta, c, ldc),
                           "computing a matrix product");
}

/* out[r][j] += bias[j]: after the product, as the CPU adds it. */
static __global__ void cu_add_bias_kernel(float *out, const float *bias, size_t rows,
                                          int cols)
{
    size_t total = rows * (size_t)cols;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x)
        out[i] += bias[i % (size_t)cols];
}

/* dbias[j] += sum_r dout[r][j], one thread per column, rows in order: the
 * same float additions in the same order as the CPU. dout is (rows, cols). */
static __global__ void cu_bias_grad_kernel(float *dbias, const float *dout,
                                           size_t rows, int cols)
{
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
         j < (size_t)cols; j += (size_t)gridDim.x * blockDim.x) {
        float acc = dbias[j];
        for (size_t r = 0; r < rows; r++)
            acc += dout[r * cols + j];
        dbias[j] = acc;
    }
}

static rt_status cu_dense_forward(float *out, const float *inp,
                                  const float *weight, const float *bias,
                                  int b, int nin, int nout)
{
    /* out (b, nout) = inp (b, nin) . weight (nin, nout) */
    rt_status st = cu_gemm(0, 0, b, nout, nin, 1.0f, inp, nin, weight, nout,
                           0.0f, out, nout);
    if (st != RT_OK || !bias || b <= 0 || nout <= 0)
        return st;
    cu_add_bias_kernel<<<cu_blocks((size_t)b * nout), CU_THREADS, 0,
                         cu.stream>>>(out, bias, (size_t)b, nout);
    return cu_check_launch("adding a dense layer's bias");
}

static rt_status cu_dense_backward(float *dinp, float *dweight, float *dbias,
                                   const float *dout, const float *inp,
                                   const float *weight, int b, int nin,
                                   int nout)
{
    CU_ALIVE();
    rt_status st = RT_OK;
    if (dbias && b > 0 && nout > 0) {
        cu_bias_grad_kernel<<<cu_blocks((size_t)nout), CU_THREADS, 0,
                              cu.stream>>>(dbias, dout, (size_t)b, nout);
        st = cu_check_launch("computing a dense layer's bias gradient");
    }
    if (st == RT_OK && dweight) /* (nin, nout) += inp^T (nin, b) . dout (b, nout) */
        st = cu_gemm(1, 0, nin, nout, b, 1.0f, inp, nin, dout, nout, 1.0f,
                     dweight, nout);
    if (st == RT_OK && dinp) /* (b, nin) += dout (b, nout) . weight^T */
        st = cu_gemm(0, 1, b, nin, nout, 1.0f, dout, nout, weight, nout, 1.0f,
                     dinp, nin);
    return st;
}

void cu_register_blas(rt_backend *be)
{
    be->gemm = cu_gemm;
    be->dense_forward = cu_dense_forward;
    be->dense_backward = cu_dense_backward;
}
