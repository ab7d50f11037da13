/* profile.h — `--profile`: time every kernel call of the compiled forward, and say how far
 * each kernel is from the machine's peaks.
 *
 * main.c calls kiln_model.forward_profiled instead of forward (runtime/model.h), which
 * brackets every kernel call site with kiln_profile_enter/exit; this file defines those,
 * adds up per site calls, time, flops and bytes, and at the end prints one table row per
 * site and, with --profile=FILE, writes a Chrome trace (chrome://tracing, Perfetto) of every
 * kernel call and every forward call. An ordinary run never calls anything here. */
#ifndef KILN_RUNTIME_PROFILE_H
#define KILN_RUNTIME_PROFILE_H

#include <stdint.h>
#include <stdio.h>

#include "runtime/model.h"

typedef struct RtPeaks {
    double gflops, gbs;         /* the whole pool's f32 FLOP/s, and read bandwidth, in 1e9/s */
    int gflops_given, gbs_given;    /* from --peak-gflops / --peak-gbs, not measured */
    int lanes, fma, threads;    /* how gflops was measured: vector width, FMA, pool threads */
    double gflops_one;          /* the one-thread measurement gflops scales by threads */
} RtPeaks;

/* Measures the peaks not given (> 0 in p already): an FMA loop at the kernels' vector width
 * (m->vector_lanes, m->has_fma) on one thread, times threads, and a read loop over 32 MiB on
 * one thread; about 50 ms in all. */
void rt_profile_measure_peaks(const KilnModel *m, int threads, RtPeaks *p);

/* Starts counting for m's sites; with trace, every call is also kept for rt_profile_write_trace
 * (the event buffer grows as needed: profiling allocates, an ordinary run does not). Returns
 * 0, or -1 when out of memory. */
int rt_profile_start(const KilnModel *m, const RtPeaks *p, int trace);
/* The monotonic clock, seconds. */
double rt_profile_now(void);
/* One forward call from t0 to t1 (rt_profile_now), seq new positions, named by phase
 * ("prefill", "decode", "forward"): a span in the trace and the base of "% of forward". */
void rt_profile_forward(const char *phase, double t0, double t1, int64_t seq);
/* The table: one row per call site in forward's order, then totals. */
void rt_profile_report(FILE *f);
/* Writes the trace to f (open for writing); returns 0 or an errno value. */
int rt_profile_write_trace(FILE *f);
void rt_profile_stop(void);

#endif
