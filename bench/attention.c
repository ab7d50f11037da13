/* attention.c — the fused ATTENTION kernel alone: GFLOP/s of decode and prefill shapes.
 *
 *   build/tests/backend/bench_attention [REPEATS [THREADS [VARIANT]]]
 *
 * Each shape is a one-node graph (the test harness's builders), its kernel JIT-compiled as
 * kiln would emit it for this machine (host CPU, default<O3>; VARIANT names another of the
 * harness's variants: "x86-64-v3" for AVX2, "sse"), then called on random q, k, v:
 * REPEATS rounds (default 7) of enough calls to take ≥ 0.2 s, the median round reported,
 * by the wall clock and by the process's CPU time per thread (the figure to trust on a
 * shared machine: a process that gets 20 % of a core reads 5x slower by the wall clock).
 * With THREADS > 1 (default 1) each call runs its parts 0..THREADS-1 on that many threads,
 * as the runtime would. FLOPs = 4·B·H·S·T_visible·D (q·k and p·v, multiply and add),
 * T_visible the keys a query sees on average (causal: (T - S) + (S + 1)/2).
 * Shapes are constants (a model's seq and past are symbols: the same loops, a few more
 * branches). Not part of the test suite; tests/backend/test_kernels checks the values. */
#include "harness.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

typedef struct Shape4 {
    const char *name;
    int B, H, KH, S, T, D, causal;
} Shape4;

typedef struct Call {
    KernelFn fn;
    float *y, *q, *k, *v;
    int64_t syms[IR_MAX_SYMS + 1];
    int64_t part, parts;
    pthread_barrier_t *start, *done;
    int calls, quit;
} Call;

static void *worker(void *arg)
{
    Call *c = arg;
    for (;;) {
        pthread_barrier_wait(c->start);
        if (c->quit) return NULL;
        for (int i = 0; i < c->calls; i++) c->fn(c->y, c->q, c->k, c->v, NULL, c->syms, NULL, c->part, c->parts);
        pthread_barrier_wait(c->done);
    }
}

static float *random_floats(size_t n, float lo, float hi)
{
    float *f = xmalloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++) f[i] = lo + (hi - lo) * (float)rand() / (float)RAND_MAX;
    return f;
}

/* The median seconds per call of the kernel over `repeats` rounds: wall clock in sec[0],
 * CPU time per thread in sec[1]. */
static void time_kernel(KernelFn fn, const Shape4 *s, int repeats, int threads, double *sec)
{
    size_t nq = (size_t)s->B * s->H * s->S * s->D, nk = (size_t)s->B * s->KH * s->T * s->D;
    Call c[16];
    pthread_t tid[16];
    pthread_barrier_t start, done;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&done, NULL, (unsigned)threads + 1);
    memset(c, 0, sizeof c);
    c[0].fn = fn;
    c[0].q = random_floats(nq, -2, 2);
    c[0].k = random_floats(nk, -2, 2);
    c[0].v = random_floats(nk, -1, 1);
    c[0].y = xmalloc(nq * sizeof(float));
    for (int t = 0; t < threads; t++) {
        c[t] = c[0];
        c[t].part = t;
        c[t].parts = threads;
        c[t].start = &start;
        c[t].done = &done;
        pthread_create(&tid[t], NULL, worker, &c[t]);
    }
    int calls = 1;
    double wall[64], cpu[64];
    for (int r = -1; r < repeats; r++) {         /* round -1 sizes the rounds (and warms up) */
        for (int t = 0; t < threads; t++) c[t].calls = calls;
        double t0 = bench_seconds(CLOCK_MONOTONIC), c0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
        pthread_barrier_wait(&start);
        pthread_barrier_wait(&done);
        double dt = bench_seconds(CLOCK_MONOTONIC) - t0, dc = bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (r < 0) {
            calls = (int)fmax(1, ceil(0.2 / fmax(dt, 1e-9)));
            continue;
        }
        wall[r] = dt / calls;
        cpu[r] = dc / calls / threads;
    }
    for (int t = 0; t < threads; t++) c[t].quit = 1;
    pthread_barrier_wait(&start);
    for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    pthread_barrier_destroy(&start);
    pthread_barrier_destroy(&done);
    free(c[0].q);
    free(c[0].k);
    free(c[0].v);
    free(c[0].y);
    qsort(wall, (size_t)repeats, sizeof wall[0], bench_cmp_double);
    qsort(cpu, (size_t)repeats, sizeof cpu[0], bench_cmp_double);
    sec[0] = wall[repeats / 2];
    sec[1] = cpu[repeats / 2];
}

static void bench(const Shape4 *s, const Variant *var, int repeats, int threads)
{
    T t;
    t_init(&t, "%s", s->name);
    Node *q = t_input(&t, "q", DT_F32, shp(4, C(s->B), C(s->H), C(s->S), C(s->D)));
    Node *k = t_input(&t, "k", DT_F32, shp(4, C(s->B), C(s->KH), C(s->T), C(s->D)));
    Node *v = t_input(&t, "v", DT_F32, shp(4, C(s->B), C(s->KH), C(s->T), C(s->D)));
    Node *y = t_node(&t, OP_ATTENTION, q, k, v, NULL);
    set_f(&t, y, A_scale, 1 / sqrt((double)s->D));
    if (s->causal) set_i(&t, y, A_causal, 1);
    t_done(&t, y);
    KILN_ASSERT(!t.bad);
    int vw;
    jit_dump_label(t.label);                         /* KILN_TEST_DUMP=text prints the kernel's IR */
    double c0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
    Jit *j = jit_kernel(var, t.m, y, &vw);
    double compile = bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    double sec[2];
    time_kernel(jit_fn(j), s, repeats, threads, sec);
    double visible = s->causal ? (double)(s->T - s->S) + (s->S + 1) / 2.0 : s->T;
    double flops = 4.0 * s->B * s->H * s->S * visible * s->D;
    printf("%-38s vw%-2d t=%d  wall %9.1f us %7.2f GFLOP/s   cpu %9.1f us %7.2f GFLOP/s   (compile %.0f ms)\n", s->name,
           vw, threads, sec[0] * 1e6, flops / sec[0] * 1e-9, sec[1] * 1e6, flops / sec[1] * 1e-9, compile * 1e3);
    jit_free(j);
    t_free(&t);
}

int main(int argc, char **argv)
{
    int repeats = argc > 1 ? atoi(argv[1]) : 7, threads = argc > 2 ? atoi(argv[2]) : 1;
    const Variant *var = &variants[1];                  /* host CPU, default<O3> */
    for (int v = 0; argc > 3 && v < n_variants; v++)
        if (strcmp(variants[v].label, argv[3]) == 0) var = &variants[v];
    if (repeats < 1 || repeats > 64 || threads < 1 || threads > 16 || (argc > 3 && strcmp(var->label, argv[3]) != 0)) {
        fprintf(stderr, "usage: bench_attention [REPEATS (1..64) [THREADS (1..16) [VARIANT (host+O3, x86-64-v3, sse)]]]\n");
        return 2;
    }
    static const Shape4 shapes[] = {
        { "decode  B=1 H=12 S=1 T=512 D=64", 1, 12, 12, 1, 512, 64, 1 },
        { "decode  B=1 H=32/8 S=1 T=2048 D=128", 1, 32, 8, 1, 2048, 128, 1 },
        { "prefill B=1 H=12 S=T=512 D=64 causal", 1, 12, 12, 512, 512, 64, 1 },
        { "prefill B=1 H=12 S=T=128 D=64 causal", 1, 12, 12, 128, 128, 64, 1 },
        { "prefill B=1 H=12 S=T=512 D=64 full", 1, 12, 12, 512, 512, 64, 0 },
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) bench(&shapes[i], var, repeats, threads);
    return 0;
}
