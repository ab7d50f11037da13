/* bw.c — read-bandwidth probe: how fast this machine streams memory the way decode reads weights.
 *
 * Usage: bw [THREADS [GIB [PASSES]]]     (defaults 1, 1, 9)
 *
 * Sums a GIB-GiB float array (far larger than any cache) with THREADS threads, each summing
 * its contiguous share, PASSES times after one warm-up pass that also faults the pages in.
 * The inner loop keeps 4 independent vector accumulators of 64 bytes (GCC/Clang vector
 * extensions: AVX-512 zmm, two AVX2 ymm or four NEON q registers each, whatever -march
 * gives), so the adds never limit the rate and the figure is the memory system's.
 * The array is 2 MiB aligned and advised MADV_HUGEPAGE (transparent huge pages, where the
 * kernel allows them: "madvise" or "always" mode), which was worth up to ≈ 15 % here (fewer
 * TLB misses): the probe is the best this machine does, the roofline a kernel is measured
 * against. BW_NO_THP=1 in the environment leaves the pages at 4 KiB.
 * Prints one line per pass and a final line
 *     bw: threads 1: best 38.1 GB/s, median 35.2 GB/s (9 passes of 1.07 GB)
 * GB = 1e9 bytes. Build: cc -O2 -march=native -o bw bw.c -lpthread. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "timing.h"

typedef float v16 __attribute__((vector_size(64)));

typedef struct Job {
    const float *a;
    size_t n;         /* floats, a multiple of 64 */
    float sum;
    pthread_barrier_t *start;
} Job;

static float sum_floats(const float *a, size_t n)
{
    v16 s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
    for (size_t i = 0; i < n; i += 64) {
        v16 x0, x1, x2, x3;
        memcpy(&x0, a + i, 64);
        memcpy(&x1, a + i + 16, 64);
        memcpy(&x2, a + i + 32, 64);
        memcpy(&x3, a + i + 48, 64);
        s0 += x0;
        s1 += x1;
        s2 += x2;
        s3 += x3;
    }
    v16 s = (s0 + s1) + (s2 + s3);
    float r = 0;
    for (int j = 0; j < 16; j++) r += s[j];
    return r;
}

static void *worker(void *p)
{
    Job *j = p;
    pthread_barrier_wait(j->start);
    j->sum = sum_floats(j->a, j->n);
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    double gib = argc > 2 ? atof(argv[2]) : 1.0;
    int passes = argc > 3 ? atoi(argv[3]) : 9;
    if (threads < 1 || threads > 64 || gib <= 0 || passes < 1 || passes > 1000) {
        fprintf(stderr, "usage: bw [THREADS [GIB [PASSES]]]\n");
        return 2;
    }
    size_t n = (size_t)(gib * (1 << 30) / 4) / (64 * (size_t)threads) * (64 * (size_t)threads);
    size_t huge = (size_t)1 << 21, bytes = (n * 4 + huge - 1) / huge * huge;
    float *a = aligned_alloc(huge, bytes);
    if (!a) {
        fprintf(stderr, "bw: cannot allocate %.2f GiB\n", gib);
        return 1;
    }
    const char *no_thp = getenv("BW_NO_THP");
    int thp = !(no_thp && *no_thp && strcmp(no_thp, "0")) && madvise(a, bytes, MADV_HUGEPAGE) == 0;
    for (size_t i = 0; i < n; i++) a[i] = (float)(i & 1023) * (1.0f / 1024);

    double *gbs = malloc(sizeof(double) * (size_t)passes);
    Job jobs[64];
    pthread_t tid[64];
    pthread_barrier_t start;
    float check = 0;
    for (int p = -1; p < passes; p++) {
        pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
        size_t share = n / (size_t)threads;
        for (int t = 0; t < threads; t++) {
            jobs[t] = (Job){ a + share * (size_t)t, share, 0, &start };
            pthread_create(&tid[t], NULL, worker, &jobs[t]);
        }
        double t0 = bench_seconds(CLOCK_MONOTONIC);
        pthread_barrier_wait(&start);
        for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
        double dt = bench_seconds(CLOCK_MONOTONIC) - t0;
        pthread_barrier_destroy(&start);
        for (int t = 0; t < threads; t++) check += jobs[t].sum;
        if (p < 0) continue;   /* warm-up */
        gbs[p] = n * 4.0 / dt / 1e9;
        printf("bw: pass %d: %.1f GB/s\n", p + 1, gbs[p]);
    }
    qsort(gbs, (size_t)passes, sizeof *gbs, bench_cmp_double);
    printf("bw: threads %d: best %.1f GB/s, median %.1f GB/s (%d passes of %.2f GB, %s pages; checksum %g)\n",
           threads, gbs[passes - 1], gbs[passes / 2], passes, n * 4.0 / 1e9, thp ? "huge" : "4 KiB", (double)check);
    free(gbs);
    free(a);
    return 0;
}
