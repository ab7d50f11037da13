/* weights.c — reading a weight's bytes as f32, whatever its file dtype.
 *
 * Weight data points into a mapped file at any alignment, so every element goes through
 * memcpy. f16 is widened exactly (subnormals, infinities and NaN included); bf16 is the top
 * half of an f32. A weight that pack-weights transposed is read transposed, a concatenation
 * (fuse-epilogue's merged projections) part after part. The interpreter
 * and the backend's weights blob both read through here, so they agree on every layout. */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float f16_to_f32(uint16_t h)
{
    int sign = h >> 15, e = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v;
    if (e == 0) v = ldexpf((float)man, -24);                /* zero, subnormal: man * 2^-24 */
    else if (e == 31) v = man ? NAN : INFINITY;
    else v = ldexpf((float)(man | 0x400), e - 25);          /* 1.man * 2^(e-15) */
    return sign ? -v : v;
}

static float bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;                      /* bf16 is the top half of f32 */
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static void read_plain(const Weight *w, float *dst, int64_t numel);

void ir_weight_read_f32(const Weight *w, float *dst, int64_t numel)
{
    if (w->n_parts) {       /* a concatenation along axis 0: the parts' blocks one after another */
        for (int i = 0; i < w->n_parts; i++) {
            int64_t part = shape_numel_const(&w->parts[i].shape);
            KILN_ASSERT(part >= 0 && part <= numel);
            ir_weight_read_f32(&w->parts[i], dst, part);
            dst += part;
            numel -= part;
        }
        KILN_ASSERT(numel == 0);
        return;
    }
    if (!w->transposed) {
        read_plain(w, dst, numel);
        return;
    }
    /* dst (rows, cols) = the file's (cols, rows) transposed */
    int64_t rows = w->shape.d[0].k, cols = w->shape.d[1].k;
    KILN_ASSERT(rows * cols == numel);
    float *tmp = xmalloc((size_t)numel * sizeof *tmp + 1);
    read_plain(w, tmp, numel);
    /* in 64 x 64 tiles, so both sides stay in cache and TLB within a tile (GPT-2 124M: about
     * 1.3 s for its 85 M transposed floats on this machine, the weights phase's largest part) */
    enum { TILE = 64 };
    for (int64_t i0 = 0; i0 < rows; i0 += TILE)
        for (int64_t j0 = 0; j0 < cols; j0 += TILE)
            for (int64_t i = i0; i < rows && i < i0 + TILE; i++)
                for (int64_t j = j0; j < cols && j < j0 + TILE; j++) dst[i * cols + j] = tmp[j * rows + i];
    free(tmp);
}

static void read_plain(const Weight *w, float *dst, int64_t numel)
{
    const unsigned char *src = w->data;
    if (w->dtype == DT_F32) {
        memcpy(dst, src, (size_t)numel * 4);
        return;
    }
    KILN_ASSERT(w->dtype == DT_F16 || w->dtype == DT_BF16);
    for (int64_t i = 0; i < numel; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        dst[i] = w->dtype == DT_F16 ? f16_to_f32(h) : bf16_to_f32(h);
    }
}
