/* profile.c — the counters behind --profile, the peak probes and the report.
 *
 * Counting. kiln_profile_enter(site) reads the monotonic clock; kiln_profile_exit(site,
 * flops, bytes) reads it again and adds the difference, the flops and the bytes (the
 * compiler's formulas at this call's seq and past, runtime/model.h) to the site's totals.
 * The time is the call as forward sees it: kiln_parallel's fan-out to the pool and the
 * wait for the slowest part included. Two clock reads per kernel call (~20-50 ns each) are
 * the overhead; the "other" row of the report is forward's time outside kernel calls, which
 * holds most of it.
 *
 * Peaks. The FMA probe runs NACC independent chains c = c * a + b of the kernels' vector
 * type (GCC vector extensions, 4, 8 or 16 floats; on x86-64 the 8 and 16 wide loops are
 * compiled for AVX2+FMA or AVX-512 with target attributes, the ISA kiln_model says the
 * kernels use, so no CPU check is needed: the kernels would not run otherwise). Enough
 * chains to hide the FMA latency, all in registers. One thread; the pool's peak is that
 * times its threads. The read probe sums a 32 MiB buffer with four accumulators of the
 * same vectors, one thread: what one core can stream, the roofline of a decode step's weight
 * reads. 32 MiB is past the last-level cache of most machines but not all (a VM may see a
 * host's 480 MiB L3): give --peak-gbs then. Each probe calibrates its
 * count on a short run, then keeps the best of a few ~10 ms runs.
 *
 * The trace is a flat array of events kept in memory and written at the end, Chrome's
 * trace format: {"traceEvents":[{"name":..,"cat":..,"ph":"X","ts":us,"dur":us,"pid":1,
 * "tid":1}, ...]}, kernels nested inside their forward call's span. */
#include "runtime/profile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

double rt_profile_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- peaks -------------------------------------------------------------------------------- */

#define NACC 10     /* FMA chains: latency 4 x 2 ports needs 8; 10 + 2 fit 16 registers */

/* FMA_LOOP(name, vector type, lanes): returns a value depending on every chain, so the
 * loop is not removed; the empty asm makes `a` opaque each iteration, so nothing folds or
 * hoists. REG is the vector register constraint ("v" on x86-64, "w" on AArch64, where GCC
 * contracts c * a + b into fmla as it does into vfmadd with FMA enabled). */
#if defined(__x86_64__)
#define REG "+v"
#else
#define REG "+w"
#endif
#define FMA_LOOP(name, vt, lanes)                                                           \
    static float name(long iters, float seed)                                               \
    {                                                                                       \
        vt a, b, c[NACC];                                                                   \
        for (int l = 0; l < (lanes); l++) a[l] = 0.999999f, b[l] = seed * 1e-7f;            \
        for (int j = 0; j < NACC; j++)                                                      \
            for (int l = 0; l < (lanes); l++) c[j][l] = (float)j;                           \
        for (long i = 0; i < iters; i++) {                                                  \
            _Pragma("GCC unroll 16")                                                        \
            for (int j = 0; j < NACC; j++) c[j] = c[j] * a + b;                             \
            __asm__ volatile("" : REG(a));                                                  \
        }                                                                                   \
        float r = 0;                                                                        \
        for (int j = 0; j < NACC; j++)                                                      \
            for (int l = 0; l < (lanes); l++) r += c[j][l];                                 \
        return r;                                                                           \
    }

typedef float v4 __attribute__((vector_size(16)));
__attribute__((noinline)) FMA_LOOP(fma_loop4, v4, 4)
#if defined(__x86_64__)
typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));
__attribute__((noinline, target("avx"))) FMA_LOOP(fma_loop8, v8, 8)
__attribute__((noinline, target("avx2,fma"))) FMA_LOOP(fma_loop8_fma, v8, 8)
__attribute__((noinline, target("avx512f"))) FMA_LOOP(fma_loop16, v16, 16)
#endif

typedef float (*FmaLoop)(long iters, float seed);

/* The loop for the kernels' vector width, and the lanes it really uses. */
static FmaLoop fma_loop_for(const KilnModel *m, int *lanes)
{
#if defined(__x86_64__)
    if (m->vector_lanes >= 16) {
        *lanes = 16;
        return fma_loop16;
    }
    if (m->vector_lanes >= 8) {
        *lanes = 8;
        return m->has_fma ? fma_loop8_fma : fma_loop8;
    }
#else
    (void)m;
#endif
    *lanes = 4;
    return fma_loop4;
}

static volatile float probe_sink;   /* keeps the probes' results alive */

/* Best GFLOP/s of a few runs of about seconds each, after calibrating. */
static double measure_gflops(FmaLoop loop, int lanes, double seconds)
{
    long iters = 20000;
    double t;
    for (;;) {      /* calibrate: grow until a run takes 1 ms */
        t = rt_profile_now();
        probe_sink += loop(iters, 1);
        t = rt_profile_now() - t;
        if (t > 1e-3 || iters > (1L << 40)) break;
        iters *= 4;
    }
    iters = (long)((double)iters * seconds / (t > 0 ? t : 1e-3));
    if (iters < 1000) iters = 1000;
    double best = 0;
    for (int r = 0; r < 3; r++) {
        t = rt_profile_now();
        probe_sink += loop(iters, (float)r);
        t = rt_profile_now() - t;
        double g = (double)iters * NACC * lanes * 2 / (t > 0 ? t : 1e-9) / 1e9;
        if (g > best) best = g;
    }
    return best;
}

/* SUM_LOOP(name, vector type, lanes): the sum of x[0..n) (n a multiple of 4 * lanes) with
 * four vector accumulators, as a decode step's matrix-vector products stream weights. */
#define SUM_LOOP(name, vt, lanes)                                                           \
    static float name(const float *x, size_t n)                                             \
    {                                                                                       \
        vt s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 }, a, b, c, d;                       \
        for (size_t i = 0; i < n; i += 4 * (lanes)) {                                       \
            memcpy(&a, x + i, sizeof a);                                                    \
            memcpy(&b, x + i + (lanes), sizeof b);                                          \
            memcpy(&c, x + i + 2 * (lanes), sizeof c);                                      \
            memcpy(&d, x + i + 3 * (lanes), sizeof d);                                      \
            s0 += a, s1 += b, s2 += c, s3 += d;                                             \
        }                                                                                   \
        s0 += s1 + s2 + s3;                                                                 \
        float r = 0;                                                                        \
        for (int l = 0; l < (lanes); l++) r += s0[l];                                       \
        return r;                                                                           \
    }

__attribute__((noinline)) SUM_LOOP(sum_loop4, v4, 4)
#if defined(__x86_64__)
__attribute__((noinline, target("avx"))) SUM_LOOP(sum_loop8, v8, 8)
__attribute__((noinline, target("avx512f"))) SUM_LOOP(sum_loop16, v16, 16)
#endif

/* Best GB/s summing n floats (a multiple of 64) with the loop of lanes, a few passes; 0 when
 * the buffer cannot be had. Transparent huge pages when the kernel gives them: fewer page
 * faults to fill it, fewer TLB misses. */
static double measure_gbs(size_t n, int lanes)
{
    float (*sum)(const float *, size_t) = sum_loop4;
#if defined(__x86_64__)
    if (lanes >= 16) sum = sum_loop16;
    else if (lanes >= 8) sum = sum_loop8;
#else
    (void)lanes;
#endif
    float *x = mmap(NULL, n * sizeof *x, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (x == MAP_FAILED) return 0;
    madvise(x, n * sizeof *x, MADV_HUGEPAGE);
    memset(x, 0x3f, n * sizeof *x);     /* every page touched: 0.75 everywhere */
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double t = rt_profile_now();
        probe_sink += sum(x, n);
        t = rt_profile_now() - t;
        double g = (double)n * sizeof *x / (t > 0 ? t : 1e-9) / 1e9;
        if (g > best) best = g;
    }
    munmap(x, n * sizeof *x);
    return best;
}

void rt_profile_measure_peaks(const KilnModel *m, int threads, RtPeaks *p)
{
    p->threads = threads > 0 ? threads : 1;
    FmaLoop loop = fma_loop_for(m, &p->lanes);
    p->fma = m->has_fma;
    if (p->gflops > 0) p->gflops_given = 1;
    else {
        p->gflops_one = measure_gflops(loop, p->lanes, 0.008);
        p->gflops = p->gflops_one * p->threads;
    }
    if (p->gbs > 0) p->gbs_given = 1;
    else p->gbs = measure_gbs((size_t)8 << 20, p->lanes);     /* 32 MiB of floats */
}

/* ---- counting ---------------------------------------------------------------------------- */

typedef struct SiteTotals {
    int64_t calls;
    double seconds;
    double flops, bytes;
} SiteTotals;

typedef struct Event {
    int64_t site;           /* -1: a forward call (phase names it) */
    const char *phase;
    double t0, t1;
    int64_t seq;            /* a forward call's positions */
    int64_t flops, bytes;   /* a kernel call's, as counted for the table */
} Event;

static struct {
    const KilnModel *m;
    RtPeaks peaks;
    SiteTotals *sites;      /* (m->n_sites) */
    double t_enter, t_start;
    int64_t forward_calls, prefill_calls, positions;
    double forward_seconds;
    int trace;
    Event *events;
    size_t n_events, cap_events;
    int out_of_memory;      /* the trace lost events */
} prof;

static void add_event(int64_t site, const char *phase, double t0, double t1, int64_t seq, int64_t flops, int64_t bytes)
{
    if (prof.n_events == prof.cap_events) {
        size_t cap = prof.cap_events ? 2 * prof.cap_events : 4096;
        Event *e = realloc(prof.events, cap * sizeof *e);
        if (!e) {
            prof.out_of_memory = 1;
            return;
        }
        prof.events = e;
        prof.cap_events = cap;
    }
    prof.events[prof.n_events++] = (Event){ site, phase, t0, t1, seq, flops, bytes };
}

int rt_profile_start(const KilnModel *m, const RtPeaks *p, int trace)
{
    memset(&prof, 0, sizeof prof);
    prof.m = m;
    prof.peaks = *p;
    prof.trace = trace;
    prof.sites = calloc(m->n_sites > 0 ? (size_t)m->n_sites : 1, sizeof *prof.sites);
    prof.t_start = rt_profile_now();
    return prof.sites ? 0 : -1;
}

void kiln_profile_enter(int64_t site)
{
    (void)site;
    prof.t_enter = rt_profile_now();
}

void kiln_profile_exit(int64_t site, int64_t flops, int64_t bytes)
{
    double t = rt_profile_now();
    if (!prof.sites || site < 0 || site >= prof.m->n_sites) return;
    SiteTotals *s = &prof.sites[site];
    s->calls++;
    s->seconds += t - prof.t_enter;
    s->flops += (double)flops;
    s->bytes += (double)bytes;
    if (prof.trace) add_event(site, NULL, prof.t_enter, t, 0, flops, bytes);
}

void rt_profile_forward(const char *phase, double t0, double t1, int64_t seq)
{
    prof.forward_calls++;
    prof.prefill_calls += !strcmp(phase, "prefill");
    prof.positions += seq;
    prof.forward_seconds += t1 - t0;
    if (prof.trace) add_event(-1, phase, t0, t1, seq, 0, 0);
}

/* ---- report ------------------------------------------------------------------------------- */

static void print_rate(FILE *f, double rate, double peak)
{
    if (rate <= 0) fprintf(f, " %9s %6s", "-", "-");
    else fprintf(f, " %9.2f %5.1f%%", rate, peak > 0 ? 100 * rate / peak : 0.0);
}

void rt_profile_report(FILE *f)
{
    const KilnModel *m = prof.m;
    const RtPeaks *p = &prof.peaks;
    if (!m || !prof.sites) return;
    fprintf(f, "profile: %lld forward calls (%lld prefill, %lld decode or other), %lld positions, "
            "%.3f s in forward; %lld kernel call sites\n", (long long)prof.forward_calls,
            (long long)prof.prefill_calls, (long long)(prof.forward_calls - prof.prefill_calls),
            (long long)prof.positions, prof.forward_seconds, (long long)m->n_sites);
    if (p->gflops_given) fprintf(f, "peak compute: %.1f GFLOP/s (given: --peak-gflops)\n", p->gflops);
    else
        fprintf(f, "peak compute: %.1f GFLOP/s (measured at start-up: f32 %s loop, %d lanes, %.1f GFLOP/s on one "
                "thread x %d thread%s)\n", p->gflops, p->fma ? "FMA" : "multiply-add", p->lanes, p->gflops_one,
                p->threads, p->threads > 1 ? "s" : "");
    if (p->gbs_given) fprintf(f, "peak bandwidth: %.1f GB/s (given: --peak-gbs)\n", p->gbs);
    else fprintf(f, "peak bandwidth: %.1f GB/s (measured at start-up: one thread reading 32 MiB)\n", p->gbs);
    fprintf(f, "%4s  %-28s %-14s %8s %10s %6s %9s %6s %9s %6s\n", "site", "node", "op", "calls", "total ms",
            "% fwd", "GFLOP/s", "%peak", "GB/s", "%peak");
    double fwd = prof.forward_seconds > 0 ? prof.forward_seconds : 1e-12, in_kernels = 0, flops = 0, bytes = 0;
    int64_t calls = 0;
    for (int64_t i = 0; i < m->n_sites; i++) {
        const SiteTotals *s = &prof.sites[i];
        const char *name = m->sites[i].name ? m->sites[i].name : "?", *op = m->sites[i].op ? m->sites[i].op : "?";
        fprintf(f, "%4lld  %-28s %-14s %8lld %10.3f %5.1f%%", (long long)i, name, op, (long long)s->calls,
                1e3 * s->seconds, 100 * s->seconds / fwd);
        double t = s->seconds > 0 ? s->seconds : 1e-12;
        print_rate(f, s->flops / t / 1e9, p->gflops);
        print_rate(f, s->bytes / t / 1e9, p->gbs);
        fputc('\n', f);
        in_kernels += s->seconds;
        flops += s->flops;
        bytes += s->bytes;
        calls += s->calls;
    }
    fprintf(f, "%4s  %-28s %-14s %8lld %10.3f %5.1f%%", "", "all kernels", "", (long long)calls, 1e3 * in_kernels,
            100 * in_kernels / fwd);
    print_rate(f, flops / (in_kernels > 0 ? in_kernels : 1e-12) / 1e9, p->gflops);
    print_rate(f, bytes / (in_kernels > 0 ? in_kernels : 1e-12) / 1e9, p->gbs);
    fputc('\n', f);
    fprintf(f, "%4s  %-28s %-14s %8s %10.3f %5.1f%%\n", "", "other (forward outside kernels)", "", "",
            1e3 * (prof.forward_seconds - in_kernels), 100 * (prof.forward_seconds - in_kernels) / fwd);
    fprintf(f, "GB/s counts each operand once per call; above 100%% of the bandwidth peak, it came from cache\n");
    if (prof.out_of_memory) fprintf(f, "profile: out of memory for the trace: some events were not kept\n");
}

/* A JSON string of a node name (names are plain identifiers, but be safe). */
static void put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

int rt_profile_write_trace(FILE *f)
{
    const KilnModel *m = prof.m;
    errno = 0;
    fputs("{\"traceEvents\":[\n", f);
    for (size_t i = 0; i < prof.n_events; i++) {
        const Event *e = &prof.events[i];
        fputs(i ? ",\n{\"name\":" : "{\"name\":", f);
        put_json_string(f, e->site >= 0 ? m->sites[e->site].name : e->phase);
        if (e->site >= 0) {
            fputs(",\"cat\":\"kernel\",\"args\":{\"op\":", f);
            put_json_string(f, m->sites[e->site].op);
            fprintf(f, ",\"site\":%lld,\"flops\":%lld,\"bytes\":%lld}", (long long)e->site, (long long)e->flops,
                    (long long)e->bytes);
        } else {
            fprintf(f, ",\"cat\":\"forward\",\"args\":{\"seq\":%lld}", (long long)e->seq);
        }
        fprintf(f, ",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":1,\"tid\":1}", 1e6 * (e->t0 - prof.t_start),
                1e6 * (e->t1 - e->t0));
    }
    fputs("\n],\"displayTimeUnit\":\"ms\"}\n", f);
    if (fflush(f) != 0 || ferror(f)) return errno ? errno : EIO;
    return 0;
}

void rt_profile_stop(void)
{
    free(prof.sites);
    free(prof.events);
    memset(&prof, 0, sizeof prof);
}
