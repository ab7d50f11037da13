/* peak.c — f32 FMA peak of one core, measured now (the compute roofline of prefill).
 *
 * Usage: peak [PASSES]     (default 9; prints best and median GFLOP/s)
 *
 * 16 independent accumulators of 64-byte vectors (GCC/Clang vector extensions: one zmm each
 * with AVX-512, two ymm with AVX2), each updated by a multiply-add per iteration, in registers
 * only: no memory traffic, enough chains to hide the FMA latency (4 cycles × 2 ports = 8
 * needed on Zen 4/5). Built with -O2 -march=native -ffp-contract=fast so that a*b+c becomes
 * one FMA. One flop per multiply and one per add: 32 flops per float lane per iteration. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef float v16 __attribute__((vector_size(64)));

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

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

int main(int argc, char **argv)
{
    int passes = argc > 1 ? atoi(argv[1]) : 9;
    if (passes < 1 || passes > 1000) {
        fprintf(stderr, "usage: peak [PASSES]\n");
        return 2;
    }
    const long iters = 20 * 1000 * 1000;   /* 20 M × 16 × 16 lanes × 2 = 10.2 GFLOP per pass */
    double *g = malloc(sizeof(double) * (size_t)passes);
    float check = run(iters / 10, 1);
    for (int p = 0; p < passes; p++) {
        double t0 = now();
        check += run(iters, (float)p);
        g[p] = iters * 16.0 * 16 * 2 / (now() - t0) / 1e9;
    }
    qsort(g, (size_t)passes, sizeof *g, cmp);
    printf("peak: f32 FMA, 1 thread: best %.1f GFLOP/s, median %.1f GFLOP/s (%d passes; checksum %g)\n",
           g[passes - 1], g[passes / 2], passes, (double)check);
    free(g);
    return 0;
}
