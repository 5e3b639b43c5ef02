/* OpenBLAS and the HDF5 module are loaded on first use: check that both
 * load here, and that a product through the loaded BLAS is right. */
#include <string.h>

#include "check.h"
#include "cpu_ops.h"
#include "h5weights.h"

int main(void)
{
    /* (2x3) x (3x2) */
    const float a[6] = { 1, 2, 3, 4, 5, 6 }, b[6] = { 7, 8, 9, 10, 11, 12 };
    float c[4] = { 0 };
    CHECK_INT(rt_cpu_gemm(0, 0, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2), RT_OK);
    CHECK_NEAR(c[0], 58, 1e-5);
    CHECK_NEAR(c[3], 154, 1e-5);
    CHECK(strstr(rt_cpu_blas_name(), "openblas") != NULL);

    rt_h5_weights *w = NULL;
    CHECK_INT(rt_h5weights_new(&w), RT_OK);
    int l = -1;
    CHECK_INT(rt_h5weights_layer_add(w, "dense_1", &l), RT_OK);
    CHECK_INT(rt_h5weights_layer_find(w, "dense_1"), l);
    rt_h5weights_free(w);
    rt_h5_weights *r = NULL;
    CHECK(rt_h5weights_read("/nonexistent/file.h5", 0, &r) != RT_OK);
    CHECK(strstr(rt_error_message(), "/nonexistent/file.h5") != NULL);
    return CHECK_DONE();
}
