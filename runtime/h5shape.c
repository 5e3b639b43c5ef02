/* rt_h5_shape_format: compiled into the runtime and into the HDF5 module,
 * which both format shapes in their messages. */
#include <stdio.h>

#include "h5weights.h"

const char *rt_h5_shape_format(const rt_h5_shape *s, char *buf, int n)
{
    int used = snprintf(buf, (size_t)n, "(");
    for (int d = 0; d < s->ndim && used < n; d++)
        used += snprintf(buf + used, (size_t)(n - used), "%s%lld", d ? ", " : "",
                         (long long)s->dims[d]);
    if (used < n)
        snprintf(buf + used, (size_t)(n - used), "%s)", s->ndim == 1 ? "," : "");
    return buf;
}
