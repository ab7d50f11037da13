/* tensor.c — the interpreter's concrete tensors: a dtype, up to IR_MAX_RANK extents and a
 * heap buffer in row-major order (the last axis is contiguous).
 *
 * tensor_alloc is the one place the interpreter gets memory for a value, so it is also
 * the one place sizes are checked: every extent must lie in [0, IR_MAX_EXTENT], the
 * element count is multiplied with an overflow check, and anything above TENSOR_MAX_BYTES
 * (16 GiB) or above this machine's physical memory is refused with -1 instead of being
 * handed to malloc. The caller turns -1 into a user error that names the node and, through
 * tensor_refusal, the bytes it would need. A rank-0 tensor holds one element. */
#include "ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TENSOR_MAX_BYTES ((int64_t)1 << 34)

int64_t tensor_numel(const Tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->dim[i];
    return n;
}

double tensor_bytes(DType dt, int rank, const int64_t *dims)
{
    double b = (double)dtype_size(dt);
    for (int i = 0; i < rank; i++) b *= (double)dims[i];
    return b;
}

double tensor_machine_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 0;
}

/* An exact integer while doubles hold one, else three digits. */
static void fmt_bytes(char *buf, size_t cap, double b)
{
    if (b < 9e15) snprintf(buf, cap, "%.0f bytes", b);
    else snprintf(buf, cap, "%.3g bytes", b);
}

int tensor_refusal(double bytes, char *why, size_t cap)
{
    char need[48], have[48];
    double mach = tensor_machine_bytes();
    fmt_bytes(need, sizeof need, bytes);
    if (bytes > (double)TENSOR_MAX_BYTES) {
        fmt_bytes(have, sizeof have, (double)TENSOR_MAX_BYTES);
        snprintf(why, cap, "needs %s, more than the interpreter's limit for one value (%s)", need, have);
        return 1;
    }
    if (mach > 0 && bytes > mach) {
        fmt_bytes(have, sizeof have, mach);
        snprintf(why, cap, "needs %s, more than this machine's memory (%s)", need, have);
        return 1;
    }
    snprintf(why, cap, "needs %s, which could not be allocated", need);
    return 0;
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
    double mach = tensor_machine_bytes();
    if (mach > 0 && (double)(n * esize) > mach) return -1;
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
