/* tensor.c — the interpreter's concrete tensors: a dtype, up to IR_MAX_RANK extents and a
 * heap buffer in row-major order (the last axis is contiguous).
 *
 * tensor_alloc is the one place the interpreter gets memory for a value, so it is also
 * the one place sizes are checked: every extent must lie in [0, IR_MAX_EXTENT], the
 * element count is multiplied with an overflow check, and anything above TENSOR_MAX_BYTES
 * (16 GiB) is refused with -1 instead of being handed to malloc. The caller turns -1 into
 * a user error that names the node. A rank-0 tensor holds one element. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

#define TENSOR_MAX_BYTES ((int64_t)1 << 34)

int64_t tensor_numel(const Tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->dim[i];
    return n;
}

int tensor_alloc(Tensor *t, DType dt, int rank, const int64_t *dims)
{
    memset(t, 0, sizeof *t);
    int64_t esize = dtype_size(dt);
    if (esize <= 0 || rank < 0 || rank > IR_MAX_RANK) return -1;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || dims[i] > IR_MAX_EXTENT) return -1;
        if (dims[i] && n > TENSOR_MAX_BYTES / dims[i]) return -1;
        n *= dims[i];
    }
    if (n > TENSOR_MAX_BYTES / esize) return -1;
    size_t bytes = (size_t)(n * esize);
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p) return -1;
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dim[i] = dims[i];
    t->data = p;
    return 0;
}

void tensor_free(Tensor *t)
{
    free(t->data);
    memset(t, 0, sizeof *t);
}
