/* timing.h — the clock and the order for medians that the benchmark programs share. Each
 * program is one file built on its own (bench/run.sh, or meson for the kernel benches), so
 * this is a header of static inline functions; include it after the file's feature macros. */
#ifndef KILN_BENCH_TIMING_H
#define KILN_BENCH_TIMING_H

#include <time.h>

/* Seconds on clock: CLOCK_MONOTONIC (wall) or CLOCK_PROCESS_CPUTIME_ID (this process's CPU). */
static inline double bench_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* qsort order of doubles, ascending. */
static inline int bench_cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

#endif
