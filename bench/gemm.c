/* gemm.c — kiln's matmul kernels against OpenBLAS sgemm on GPT-2 124M's prefill shapes.
 *
 *   build/tests/backend/bench_gemm [REPEATS [M ...]]      (bench/gemm.sh runs it)
 *
 * For M = 128 and 512 rows (prompt tokens) and each weight of GPT-2 124M (K x N = 768 x 2304
 * c_attn, 768 x 768 attn c_proj, 768 x 3072 c_fc, 3072 x 768 mlp c_proj, stored [K, N] as
 * Conv1D keeps them: tb = 0), the same four stored [N, K] (tb = 1: nn.Linear, BERT, LLaMA),
 * and the tied head 768 x 50257 (tb = 1): y[M, N] = x[M, K] · W. kiln's side is the MATMUL
 * node's kernel as kiln emits it for this machine (cg_kernel, host CPU, default<O3>, JIT-
 * compiled by the test harness; the rows are the symbol `seq`, as in a compiled model), called
 * with parts = 1 on one thread. The peer is cblas_sgemm (RowMajor, NoTrans, NoTrans or Trans)
 * of the OpenBLAS runtime library, loaded with dlopen (libopenblas.so.0: no -dev package
 * needed); run it single-threaded (OPENBLAS_NUM_THREADS=1) with OPENBLAS_CORETYPE unset for its
 * AVX-512 kernels. Without the library kiln's figures are printed alone.
 *
 * Both read the same x and the same copies of W, cycled so that ≥ 64 MB of weights go by
 * (beyond the last-level cache: each layer has its own weights in a forward pass). A round is
 * kiln over every copy then OpenBLAS over every copy, sized to ≥ 0.1 s each; REPEATS rounds
 * (default 5) alternate the two so that both see the same machine, and the median round's
 * process CPU time per call gives GFLOP/s = 2·M·N·K / t. The results of both are compared
 * (max |kiln - blas| / max |blas|) so that a fast wrong kernel shows. */
#include "harness.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
typedef void (*SgemmFn)(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                        const float *b, int ldb, float beta, float *c, int ldc);
static SgemmFn sgemm;

typedef struct Case {
    const char *what;
    int K, N, tb;
} Case;

static float *floats(size_t n, unsigned seed)
{
    float *f = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!f) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) f[i] = (float)(((i + seed) * 2654435761u) % 2001) * 1e-3f - 1.0f;
    return f;
}

typedef struct Run {
    KernelFn fn;        /* kiln's kernel, or NULL: OpenBLAS */
    const Case *cs;
    int M;
    float *x, *W, *y;   /* W: `copies` matrices of K x N floats, back to back */
    size_t copies;
    int64_t syms[IR_MAX_SYMS + 1];
} Run;

/* CPU seconds of one call, averaged over reps sweeps over the copies. */
static double sweep(const Run *r, int reps)
{
    const Case *cs = r->cs;
    size_t w = (size_t)cs->K * (size_t)cs->N;
    double t0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < reps; i++)
        for (size_t c = 0; c < r->copies; c++) {
            const float *Wc = r->W + c * w;
            if (r->fn)
                r->fn(r->y, r->x, Wc, NULL, NULL, r->syms, NULL, 0, 1);
            else
                sgemm(RowMajor, NoTrans, cs->tb ? Trans : NoTrans, r->M, cs->N, cs->K, 1.0f, r->x, cs->K, Wc,
                      cs->tb ? cs->K : cs->N, 0.0f, r->y, cs->N);
        }
    return (bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - t0) / (double)reps / (double)r->copies;
}

static void bench(const Case *cs, int M, int repeats)
{
    T t;
    t_init(&t, "gemm %d x %d x %d tb=%d", M, cs->N, cs->K, cs->tb);
    int seq = t_sym(&t, "seq", M);
    Node *x = t_input(&t, "x", DT_F32, shp(2, S(&t, "seq"), C(cs->K)));
    Node *w = t_input(&t, "w", DT_F32, cs->tb ? shp(2, C(cs->N), C(cs->K)) : shp(2, C(cs->K), C(cs->N)));
    Node *n = t_node(&t, OP_MATMUL, x, w, NULL, NULL);
    if (cs->tb) set_i(&t, n, A_tb, 1);
    t_done(&t, n);
    KILN_ASSERT(!t.bad);
    int vw;
    jit_dump_label(t.label);
    Jit *jit = jit_kernel(&variants[1], t.m, n, &vw);      /* host CPU, default<O3> */

    size_t w1 = (size_t)cs->K * (size_t)cs->N, copies = (size_t)(64e6 / (w1 * 4.0)) + 1;
    float *W = floats(w1 * copies, 7), *xv = floats((size_t)M * (size_t)cs->K, 3);
    float *yk = floats((size_t)M * (size_t)cs->N, 1), *yb = floats((size_t)M * (size_t)cs->N, 2);
    Run rk = { jit_fn(jit), cs, M, xv, W, yk, copies, { 0 } }, rb = rk;
    rk.syms[seq] = M;
    rb.fn = NULL;
    rb.y = yb;

    /* sizes the rounds and warms up; then the rounds, alternating */
    int nk = (int)fmax(1, ceil(0.1 / fmax(sweep(&rk, 1) * (double)copies, 1e-9)));
    int nb = sgemm ? (int)fmax(1, ceil(0.1 / fmax(sweep(&rb, 1) * (double)copies, 1e-9))) : 0;
    double tk[64], tbl[64];
    for (int r = 0; r < repeats; r++) {
        tk[r] = sweep(&rk, nk);
        if (sgemm) tbl[r] = sweep(&rb, nb);
    }
    qsort(tk, (size_t)repeats, sizeof tk[0], bench_cmp_double);
    double flops = 2.0 * M * (double)cs->N * (double)cs->K, gk = flops / tk[repeats / 2] * 1e-9;
    printf("gemm: %-20s M %4d  K %4d  N %5d  tb %d   kiln %6.1f GFLOP/s", cs->what, M, cs->K, cs->N, cs->tb, gk);
    if (sgemm) {
        qsort(tbl, (size_t)repeats, sizeof tbl[0], bench_cmp_double);
        double gb = flops / tbl[repeats / 2] * 1e-9, diff = 0, mag = 0;
        /* the last call of each read the last copy: the same product */
        for (size_t i = 0; i < (size_t)M * (size_t)cs->N; i++) {
            diff = fmax(diff, fabs((double)yk[i] - yb[i]));
            mag = fmax(mag, fabs((double)yb[i]));
        }
        printf("   OpenBLAS %6.1f GFLOP/s   kiln/OpenBLAS %5.2f   (max |diff| / max |y| %.1e)", gb, gk / gb,
               diff / fmax(mag, 1e-30));
    }
    printf("   [%zu weight copies]\n", copies);
    fflush(stdout);
    jit_free(jit);
    t_free(&t);
    free(W), free(xv), free(yk), free(yb);
}

int main(int argc, char **argv)
{
    int repeats = argc > 1 ? atoi(argv[1]) : 5;
    if (repeats < 1 || repeats > 64) {
        fprintf(stderr, "usage: bench_gemm [REPEATS (1..64) [M ...]]   (M default: 128 512)\n");
        return 2;
    }
    void *lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (lib) sgemm = (SgemmFn)(uintptr_t)dlsym(lib, "cblas_sgemm");
    if (sgemm) {
        char *(*corename)(void) = (char *(*)(void))(uintptr_t)dlsym(lib, "openblas_get_corename");
        char *(*config)(void) = (char *(*)(void))(uintptr_t)dlsym(lib, "openblas_get_config");
        int (*threads)(void) = (int (*)(void))(uintptr_t)dlsym(lib, "openblas_get_num_threads");
        const char *ct = getenv("OPENBLAS_CORETYPE");
        printf("gemm: OpenBLAS %s; core %s; threads %d; OPENBLAS_CORETYPE %s\n", config ? config() : "?",
               corename ? corename() : "?", threads ? threads() : -1, ct ? ct : "unset");
    } else {
        printf("gemm: OpenBLAS not found (dlopen libopenblas.so.0: %s): kiln alone\n", dlerror());
    }
    static const Case cases[] = {
        { "c_attn", 768, 2304, 0 },         { "attn c_proj", 768, 768, 0 },
        { "c_fc", 768, 3072, 0 },           { "mlp c_proj", 3072, 768, 0 },
        { "c_attn [N,K]", 768, 2304, 1 },   { "attn c_proj [N,K]", 768, 768, 1 },
        { "c_fc [N,K]", 768, 3072, 1 },     { "mlp c_proj [N,K]", 3072, 768, 1 },
        { "head (tied wte)", 768, 50257, 1 },
    };
    int ms[8] = { 128, 512 }, nm = 2;
    if (argc > 2) {
        nm = 0;
        for (int i = 2; i < argc && nm < 8; i++) ms[nm++] = atoi(argv[i]);
    }
    for (int m = 0; m < nm; m++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) bench(&cases[i], ms[m], repeats);
    return 0;
}
