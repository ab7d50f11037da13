/* epilogue.c — the fused projections (LINEAR, GATED_LINEAR) against the kernels they replace.
 *
 *   build/tests/backend/bench_epilogue [REPEATS [VARIANT]]
 *
 * For GPT-2 124M's projections and a LLaMA-style SwiGLU, at decode (M = 1) and prefill
 * (M = 128) shapes: the fused node's kernel alone, and the unfused chain (MATMUL, then ADD of
 * the bias, the activation, MUL, ADD of the residual, each its own kernel, as kiln emits them
 * without fuse-epilogue) one after another on the same data. Each kernel is JIT-compiled as
 * kiln would for this machine (host CPU, default<O3>; VARIANT another of the harness's
 * variants) and called on one thread, REPEATS rounds (default 7) of enough calls to take
 * ≥ 0.2 s, fused and unfused rounds alternating so both see the same machine; the median
 * round is reported by the process's CPU time per call, the figure to trust on a shared
 * machine. Not part of the test suite; tests/backend/test_kernels checks
 * the values. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

typedef struct Case {
    const char *name;
    int M, K, N;
    int gated, bias, residual;
    const char *act;            /* NULL: none */
    int tb0;                    /* 1: weights stored [K, N] (tb = 0), else [N, K] */
} Case;

static float *random_floats(size_t n)
{
    float *f = xmalloc(n * sizeof *f + 4);
    for (size_t i = 0; i < n; i++) f[i] = -1 + 2 * (float)rand() / (float)RAND_MAX;
    return f;
}

/* One kernel call: its one-node module, its function and pointers. */
typedef struct Call {
    T *t;
    Jit *jit;
    void *y;
    const void *x[4];
} Call;

/* CPU seconds of reps passes over calls[0..n), per pass. */
static double run_calls(const Call *calls, int n, int reps)
{
    int64_t syms[IR_MAX_SYMS + 1] = { 0 };
    double t0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < reps; i++)
        for (int c = 0; c < n; c++)
            jit_fn(calls[c].jit)(calls[c].y, calls[c].x[0], calls[c].x[1], calls[c].x[2], calls[c].x[3], syms, NULL, 0, 1);
    return (bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - t0) / reps;
}

/* Median CPU seconds per pass of a (calls a[0..na)) and of b, measured in alternating
 * rounds so that both see the same machine. */
static void time_ab(const Call *a, int na, const Call *b, int nb, int repeats, double *ta, double *tb)
{
    double sa[64], sb[64];
    int ra = (int)fmax(1, ceil(0.2 / fmax(run_calls(a, na, 1), 1e-9)));    /* sizes the rounds, warms up */
    int rb = (int)fmax(1, ceil(0.2 / fmax(run_calls(b, nb, 1), 1e-9)));
    for (int r = 0; r < repeats; r++) {
        sa[r] = run_calls(a, na, ra);
        sb[r] = run_calls(b, nb, rb);
    }
    qsort(sa, (size_t)repeats, sizeof sa[0], bench_cmp_double);
    qsort(sb, (size_t)repeats, sizeof sb[0], bench_cmp_double);
    *ta = sa[repeats / 2];
    *tb = sb[repeats / 2];
}

/* A call of op's kernel on y and x[]: a one-node module with inputs of the given shapes, its
 * kernel JIT-compiled. */
static Call kernel(const Variant *var, OpKind op, const Shape *in, int n_in, const Case *cs, void *y, const void *const *x)
{
    Call c = { xcalloc(1, sizeof(T)), NULL, y, { x[0], x[1], x[2], x[3] } };
    T *t = c.t;
    t_init(t, "%s %s", cs->name, op_name(op));
    Node *in_nodes[4] = { NULL, NULL, NULL, NULL };
    for (int i = 0; i < n_in; i++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        in_nodes[i] = t_input(t, name, DT_F32, in[i]);
    }
    Node *n = t_node(t, op, in_nodes[0], in_nodes[1], in_nodes[2], in_nodes[3]);
    int fused = op == OP_LINEAR || op == OP_GATED_LINEAR;
    if ((op == OP_MATMUL || fused) && !cs->tb0) set_i(t, n, A_tb, 1);
    if (fused && cs->act) set_s(t, n, A_act, cs->act);
    if (op == OP_LINEAR && cs->bias) set_i(t, n, A_bias, 1);
    if (fused && cs->residual) set_i(t, n, A_residual, 1);
    if (op == OP_GELU) set_s(t, n, A_approx, strcmp(cs->act, "gelu_tanh") == 0 ? "tanh" : "erf");
    t_done(t, n);
    KILN_ASSERT(!t->bad);
    int vw;
    jit_dump_label(t->label);                       /* KILN_TEST_DUMP=text prints the kernel's IR */
    c.jit = jit_kernel(var, t->m, n, &vw);
    return c;
}

static void call_free(Call *c)
{
    jit_free(c->jit);
    t_free(c->t);
    free(c->t);
}

static OpKind act_op(const char *act)
{
    return !strcmp(act, "relu") ? OP_RELU : !strcmp(act, "silu") ? OP_SILU : OP_GELU;
}

static void bench(const Case *cs, const Variant *var, int repeats)
{
    size_t M = (size_t)cs->M, K = (size_t)cs->K, N = (size_t)cs->N;
    Shape sx = shp(2, C(cs->M), C(cs->K)), sy = shp(2, C(cs->M), C(cs->N));
    Shape sw = cs->tb0 ? shp(2, C(cs->K), C(cs->N)) : shp(2, C(cs->N), C(cs->K));
    Shape sb = shp(1, C(cs->N));
    float *x = random_floats(M * K), *w = random_floats(N * K), *wu = random_floats(N * K), *b = random_floats(N);
    float *r = random_floats(M * N), *y = random_floats(M * N), *t1 = random_floats(M * N), *t2 = random_floats(M * N);

    /* fused: one kernel */
    Shape fin[4] = { sx, sw };
    const void *fx[4] = { x, w, NULL, NULL };
    int k = 2;
    if (cs->gated) fin[k] = sw, fx[k++] = wu;
    if (cs->bias) fin[k] = sb, fx[k++] = b;
    if (cs->residual) fin[k] = sy, fx[k++] = r;
    Call fused = kernel(var, cs->gated ? OP_GATED_LINEAR : OP_LINEAR, fin, k, cs, y, fx);

    /* unfused: the chain, each step its own kernel, reading the previous step's result */
    Call chain[6];
    int n = 0;
    Shape mm_in[2] = { sx, sw }, bin[2] = { sy, sb }, same[2] = { sy, sy };
    chain[n++] = kernel(var, OP_MATMUL, mm_in, 2, cs, t1, (const void *[4]){ x, w });
    if (cs->bias) chain[n++] = kernel(var, OP_ADD, bin, 2, cs, t1, (const void *[4]){ t1, b });
    if (cs->act) chain[n++] = kernel(var, act_op(cs->act), same, 1, cs, t1, (const void *[4]){ t1 });
    if (cs->gated) {
        chain[n++] = kernel(var, OP_MATMUL, mm_in, 2, cs, t2, (const void *[4]){ x, wu });
        chain[n++] = kernel(var, OP_MUL, same, 2, cs, t1, (const void *[4]){ t1, t2 });
    }
    if (cs->residual) chain[n++] = kernel(var, OP_ADD, same, 2, cs, t1, (const void *[4]){ r, t1 });

    double tf, tu;
    time_ab(&fused, 1, chain, n, repeats, &tf, &tu);
    double flops = 2.0 * (double)M * (double)N * (double)K * (cs->gated ? 2 : 1);
    printf("%-44s fused %9.1f us %6.1f GFLOP/s   unfused (%d kernels) %9.1f us %6.1f GFLOP/s   %.3fx\n", cs->name,
           tf * 1e6, flops / tf * 1e-9, n, tu * 1e6, flops / tu * 1e-9, tu / tf);
    call_free(&fused);
    for (int i = 0; i < n; i++) call_free(&chain[i]);
    free(x), free(w), free(wu), free(b), free(r), free(y), free(t1), free(t2);
}

int main(int argc, char **argv)
{
    int repeats = argc > 1 ? atoi(argv[1]) : 7;
    const Variant *var = &variants[1];                  /* host CPU, default<O3> */
    for (int v = 0; argc > 2 && v < n_variants; v++)
        if (strcmp(variants[v].label, argv[2]) == 0) var = &variants[v];
    if (repeats < 1 || repeats > 64 || (argc > 2 && strcmp(var->label, argv[2]) != 0)) {
        fprintf(stderr, "usage: bench_epilogue [REPEATS (1..64) [VARIANT (host+O3, x86-64-v3, sse)]]\n");
        return 2;
    }
    static const Case cases[] = {
        { "gpt2 c_fc    decode  1x768 -> 3072 +b gelu", 1, 768, 3072, 0, 1, 0, "gelu_tanh", 0 },
        { "gpt2 c_proj  decode  1x3072 -> 768 +b", 1, 3072, 768, 0, 1, 0, NULL, 0 },
        { "gpt2 c_proj  decode  1x3072 -> 768 +b +res", 1, 3072, 768, 0, 1, 1, NULL, 0 },
        { "swiglu       decode  1x768 -> 2048 silu", 1, 768, 2048, 1, 0, 0, "silu", 0 },
        { "gpt2 c_fc    prefill 128x768 -> 3072 +b gelu", 128, 768, 3072, 0, 1, 0, "gelu_tanh", 0 },
        { "gpt2 c_proj  prefill 128x3072 -> 768 +b", 128, 3072, 768, 0, 1, 0, NULL, 0 },
        { "gpt2 c_proj  prefill 128x3072 -> 768 +b +res", 128, 3072, 768, 0, 1, 1, NULL, 0 },
        { "swiglu       prefill 128x768 -> 2048 silu", 128, 768, 2048, 1, 0, 0, "silu", 0 },
        { "gpt2 c_fc    decode  tb=0 +b gelu", 1, 768, 3072, 0, 1, 0, "gelu_tanh", 1 },
        { "gpt2 c_fc    prefill tb=0 +b gelu", 128, 768, 3072, 0, 1, 0, "gelu_tanh", 1 },
        { "swiglu       decode  tb=0 silu", 1, 768, 2048, 1, 0, 0, "silu", 1 },
        { "swiglu       prefill tb=0 silu", 128, 768, 2048, 1, 0, 0, "silu", 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) bench(&cases[i], var, repeats);
    return 0;
}
