/* peak.c — f32 FMA peak, measured now (the compute roofline of prefill).
 *
 * Usage: peak [PASSES [THREADS]]     (default 9 passes, 1 thread; prints best and median GFLOP/s)
 *
 * With THREADS > 1 every thread runs the same loop at once and the figure is their total: on
 * this machine 2 threads give 2× one core's peak when the two vCPUs are distinct cores and
 * ≈ 1× when they are SMT siblings of one core (shared/bench/BASELINE.md).
 *
 * 16 independent accumulators of 64-byte vectors (GCC/Clang vector extensions: one zmm each
 * with AVX-512, two ymm with AVX2), each updated by a multiply-add per iteration, in registers
 * only: no memory traffic, enough chains to hide the FMA latency (4 cycles × 2 ports = 8
 * needed on Zen 4/5). Built with -O2 -march=native -ffp-contract=fast so that a*b+c becomes
 * one FMA. Build: cc -O2 -march=native -ffp-contract=fast -o peak peak.c -lpthread. One flop per multiply and one per add: 32 flops per float lane per iteration. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "timing.h"

typedef float v16 __attribute__((vector_size(64)));

__attribute__((noinline)) static float run(long iters, float seed)
{
    v16 a = { 0 }, b = { 0 };
    a += 0.999999f;
    b += seed * 1e-7f;
    v16 c[16];
    for (int j = 0; j < 16; j++) c[j] = (v16){ 0 } + (float)j;
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) c[j] = c[j] * a + b;
        __asm__ volatile("" : "+v"(a)); /* keep a live in a register; no hoisting */
    }
    v16 s = { 0 };
    for (int j = 0; j < 16; j++) s += c[j];
    float r = 0;
    for (int j = 0; j < 16; j++) r += s[j];
    return r;
}

enum { ITERS = 20 * 1000 * 1000 };   /* 20 M × 16 × 16 lanes × 2 = 10.2 GFLOP per pass */

typedef struct Job {
    float seed, out;
} Job;

static void *worker(void *p)
{
    Job *j = p;
    j->out = run(ITERS, j->seed);
    return NULL;
}

int main(int argc, char **argv)
{
    int passes = argc > 1 ? atoi(argv[1]) : 9, threads = argc > 2 ? atoi(argv[2]) : 1;
    if (passes < 1 || passes > 1000 || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: peak [PASSES [THREADS]]\n");
        return 2;
    }
    double *g = malloc(sizeof(double) * (size_t)passes);
    float check = run(ITERS / 10, 1);
    Job jobs[64];
    pthread_t tid[64];
    for (int p = 0; p < passes; p++) {
        double t0 = bench_seconds(CLOCK_MONOTONIC);
        for (int t = 0; t < threads; t++) {
            jobs[t].seed = (float)(p + t);
            pthread_create(&tid[t], NULL, worker, &jobs[t]);
        }
        for (int t = 0; t < threads; t++) {
            pthread_join(tid[t], NULL);
            check += jobs[t].out;
        }
        g[p] = (double)ITERS * 16 * 16 * 2 * threads / (bench_seconds(CLOCK_MONOTONIC) - t0) / 1e9;
    }
    qsort(g, (size_t)passes, sizeof *g, bench_cmp_double);
    printf("peak: f32 FMA, %d thread%s: best %.1f GFLOP/s, median %.1f GFLOP/s (%d passes; checksum %g)\n", threads,
           threads > 1 ? "s" : "", g[passes - 1], g[passes / 2], passes, (double)check);
    free(g);
    return 0;
}
