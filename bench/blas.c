/* blas.c — OpenBLAS on GPT-2 124M's matrix shapes: the practical peer for kiln's kernels.
 *
 * Usage: blas [REPEATS]     (default 7; prints the median GFLOP/s of each shape)
 *
 * Every shape is timed with its weight matrix streamed from memory, as in a real forward
 * pass where each layer has its own weights: enough copies of the matrix to fill ≥ 512 MB
 * (far beyond the last-level cache) are cycled through, one call per copy, and a repeat is
 * one sweep over all copies. Layouts are those of the model: Conv1D weights [in, out]
 * row-major (y = x·W: sgemv with CblasTrans, sgemm NoTrans×NoTrans), the tied head
 * wte [vocab, 768] (logits = wte·x: sgemv NoTrans).
 *
 * Shapes (M×N×K for sgemm: activations M×K times weights K×N):
 *   sgemv 768×3072       the MLP up-projection in decode (c_fc)
 *   sgemv 768×2304, 768×768, 3072×768     the other decode matrices
 *   sgemv 50257×768      the head in decode
 *   sgemm 128×768×768    prefill of 128 tokens, attention output projection
 *   sgemm 128×2304×768, 128×3072×768, 128×768×3072   the other prefill matrices
 * and two derived figures, the peers of kiln's tokens/s:
 *   decode  tokens/s = 1 / (time of one token's 49 sgemv calls: 12 layers × 4 + head)
 *   prefill tokens/s = 128 / (time of a 128-token prompt's 48 sgemm calls + one head sgemv)
 * i.e. what a BLAS-backed implementation would reach if nothing but its matrix products took
 * time (attention, LayerNorm, GELU and the rest are left out: they flatter the peer).
 *
 * The cblas prototypes are declared here (no header needed), so it links either against
 * `pkg-config --libs openblas` or directly against a libopenblas.so.0. Set
 * OPENBLAS_NUM_THREADS to choose the threads of a threaded OpenBLAS; unset OPENBLAS_CORETYPE
 * (the machine image sets it to Haswell) to get the AVX-512 kernels. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
void cblas_sgemv(int order, int trans, int m, int n, float alpha, const float *a, int lda, const float *x, int incx,
                 float beta, float *y, int incy);
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                 int ldb, float beta, float *c, int ldc);
char *openblas_get_corename(void);
char *openblas_get_config(void);
int openblas_get_num_threads(void);

typedef struct Shape {
    const char *what;
    int gemm;        /* 0: sgemv, 1: sgemm */
    int m, n, k;     /* sgemv: the matrix is m×n as stored (row-major); trans says which side x is */
    int trans;
    double gflops;   /* median, filled in */
} Shape;

static int repeats = 7;

/* Median seconds of one call, weights streamed (copies cycled). */
static double time_shape(Shape *s)
{
    size_t w = s->gemm ? (size_t)s->k * s->n : (size_t)s->m * s->n;
    size_t copies = (size_t)(512e6 / (w * 4.0)) + 1;
    if (copies < 2) copies = 2;
    float *W = aligned_alloc(64, (w * copies * 4 + 63) / 64 * 64);
    size_t xn = s->gemm ? (size_t)s->m * s->k : (size_t)(s->m > s->n ? s->m : s->n);
    size_t yn = s->gemm ? (size_t)s->m * s->n : xn;
    float *x = aligned_alloc(64, (xn * 4 + 63) / 64 * 64), *y = aligned_alloc(64, (yn * 4 + 63) / 64 * 64);
    if (!W || !x || !y) {
        fprintf(stderr, "blas: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < w * copies; i++) W[i] = (float)((i * 2654435761u) % 1000) * 1e-5f - 0.005f;
    for (size_t i = 0; i < xn; i++) x[i] = (float)(i % 17) * 0.01f;
    memset(y, 0, yn * 4);
    double *t = malloc(sizeof(double) * (size_t)(repeats + 1));
    for (int r = -1; r < repeats; r++) {   /* r = -1: warm-up */
        double t0 = bench_seconds(CLOCK_MONOTONIC);
        for (size_t c = 0; c < copies; c++) {
            const float *Wc = W + c * w;
            if (s->gemm)   /* y[M,N] = x[M,K] · W[K,N] */
                cblas_sgemm(RowMajor, NoTrans, NoTrans, s->m, s->n, s->k, 1.0f, x, s->k, Wc, s->n, 0.0f, y, s->n);
            else
                cblas_sgemv(RowMajor, s->trans ? Trans : NoTrans, s->m, s->n, 1.0f, Wc, s->n, x, 1, 0.0f, y, 1);
        }
        if (r >= 0) t[r] = (bench_seconds(CLOCK_MONOTONIC) - t0) / (double)copies;
    }
    qsort(t, (size_t)repeats, sizeof *t, bench_cmp_double);
    double med = t[repeats / 2];
    double flops = s->gemm ? 2.0 * s->m * s->n * s->k : 2.0 * s->m * s->n;
    s->gflops = flops / med / 1e9;
    if (s->gemm)
        printf("blas: sgemm %5d x %5d x %5d  %7.1f GFLOP/s   (%s; %zu weight copies)\n", s->m, s->n, s->k, s->gflops,
               s->what, copies);
    else
        printf("blas: sgemv %5d x %5d          %7.1f GFLOP/s = %5.1f GB/s of weights   (%s; %zu copies)\n", s->m,
               s->n, s->gflops, w * 4.0 / med / 1e9, s->what, copies);
    free(t);
    free(W);
    free(x);
    free(y);
    return med;
}

int main(int argc, char **argv)
{
    if (argc > 1) repeats = atoi(argv[1]);
    if (repeats < 1 || repeats > 1000) {
        fprintf(stderr, "usage: blas [REPEATS]\n");
        return 2;
    }
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("blas: OpenBLAS %s; core %s; threads %d; OPENBLAS_CORETYPE %s\n", openblas_get_config(),
           openblas_get_corename(), openblas_get_num_threads(), ct ? ct : "unset");
    Shape v_fc = { "decode c_fc", 0, 768, 3072, 0, 1, 0 };
    Shape v_attn = { "decode c_attn", 0, 768, 2304, 0, 1, 0 };
    Shape v_proj = { "decode attn c_proj", 0, 768, 768, 0, 1, 0 };
    Shape v_mproj = { "decode mlp c_proj", 0, 3072, 768, 0, 1, 0 };
    Shape v_head = { "decode head, tied wte", 0, 50257, 768, 0, 0, 0 };
    Shape m_proj = { "prefill attn c_proj", 1, 128, 768, 768, 0, 0 };
    Shape m_attn = { "prefill c_attn", 1, 128, 2304, 768, 0, 0 };
    Shape m_fc = { "prefill c_fc", 1, 128, 3072, 768, 0, 0 };
    Shape m_mproj = { "prefill mlp c_proj", 1, 128, 768, 3072, 0, 0 };

    double tv_fc = time_shape(&v_fc), tv_head = time_shape(&v_head);
    double tm_proj = time_shape(&m_proj);
    double tv_attn = time_shape(&v_attn), tv_proj = time_shape(&v_proj), tv_mproj = time_shape(&v_mproj);
    double tm_attn = time_shape(&m_attn), tm_fc = time_shape(&m_fc), tm_mproj = time_shape(&m_mproj);

    double decode = 12 * (tv_attn + tv_proj + tv_fc + tv_mproj) + tv_head;
    double prefill = 12 * (tm_attn + tm_proj + tm_fc + tm_mproj) + tv_head;
    printf("blas: decode peer (matrix products only): %.1f tokens/s\n", 1.0 / decode);
    printf("blas: prefill peer, 128 tokens (matrix products only): %.1f tokens/s\n", 128.0 / prefill);
    return 0;
}
