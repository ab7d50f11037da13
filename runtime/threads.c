/* threads.c — the thread pool behind kiln_parallel (runtime/model.h), and the probe that
 * picks the default thread count.
 *
 * The pool is made once at start-up (rt_pool_start): threads - 1 workers, pthreads, with
 * every signal blocked (signals go to the main thread). A job is (fn, args, parts); the
 * caller writes it into the pool's one job slot and publishes it with a 64-bit ticket,
 * generation << 32 | parts << 16 | next unclaimed part. Every thread, the caller included,
 * claims parts by compare-and-swap on the ticket (so a worker that wakes late, or does not
 * run because the two vCPUs are one core just now, simply leaves its parts to the others),
 * runs them, and counts them in `done`; the caller returns when done == parts. A claim
 * carries the generation and parts it read, and succeeds only while that job still has
 * unclaimed parts, so it cannot take a part of a later job with an earlier job's arguments.
 * Nothing is allocated per job.
 *
 * Waiting spins briefly, then blocks (BASELINE.md: the 2 vCPUs are sometimes one physical
 * core, and a pool that only spins collapses then). An idle worker polls the job generation
 * `seq` for SPIN_NS with a pause instruction (x86 pause, aarch64 yield), then sleeps on it
 * with a futex (elsewhere than Linux: sched_yield polling); the caller waits for `done` the
 * same way. The pause loop is calibrated to time once (spin_iters). Both sleeps follow one
 * rule against lost wake-ups: the sleeper announces itself (seq_cst: `sleepers`,
 * `caller_asleep`) and the futex re-checks the word; the waker changes the word (seq_cst)
 * and then reads the announcement, and makes the syscall only when someone sleeps.
 *
 * When to split (measured on the 2-vCPU Zen 5 VM of BASELINE.md, 2026-11-23): a job costs
 * the caller ~0.3-1 us when the workers spin, but a worker blocked on the futex starts
 * ~25 us after the wake (a virtual IPI), and the wake syscall costs the caller ~2 us. So:
 *  - forward calls kiln_parallel for work >= MIN_WORK (kiln_parallel_min_work; INT64_MAX
 *    with one thread), and a job gets min(threads, work / (MIN_WORK / 2)) parts;
 *  - a job under WAKE_WORK wakes no one: it is split among the threads awake (spinning);
 *    rt_pool_wake, called at the first forward call, gets the workers spinning, and they
 *    stay so while jobs come at least every SPIN_NS.
 * See the constants for the figures behind them.
 *
 * Placement (Linux): the guest kernel here puts a new thread on its creator's CPU more
 * often than not and leaves it there for 3-15 ms while the other vCPU idles (24 of 30
 * runs of a test), and now and then wakes a worker from the futex onto the caller's CPU
 * and keeps them there (in ~5% of start-up probes, which then saw one core). So workers
 * are created with an affinity that excludes the caller's CPU and widen it back to all
 * the process's CPUs as soon as they run, and a worker that wakes up on the CPU the caller
 * woke it from (caller_cpu) does the same (move_off). Hints, not pins: afterwards the
 * scheduler places them as it likes. With them, 100 of 100 probes saw the second core.
 *
 * The default thread count (rt_pool_start_default) is measured, not assumed: a compute
 * probe (12 independent vector multiply-add chains, enough to fill a core's FP pipes, so
 * two threads sharing one core gain nothing) is timed on 1 thread and split over all the
 * CPUs this process may use (workers woken first), best of 5 rounds each way, ~3 ms; all of
 * them are used when that was at least 1.3x faster, else 1 (measured again once before
 * settling for 1, as a burst of host noise can hide a second core). When 1 is chosen the
 * workers stay, asleep, so that a run allocates the same whatever was measured. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* sched_getaffinity, CPU_COUNT, syscall */
#endif
#include "runtime/model.h"
#include "runtime/runtime.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

enum { MAX_THREADS = RT_MAX_THREADS, LINE = 64 };

/* How long a waiting thread spins before it blocks, in ns. The gaps between jobs inside a
 * forward are a few us. GPT-2 124M decode at -t 2, medians of 5: spin 5 us 41.7 tok/s,
 * 50 us 44.3, 200 us 45.0; 50 us keeps the cost of a spinning worker bounded when the two
 * vCPUs share a core. */
#define SPIN_NS 50000

/* kiln_parallel_min_work with two or more threads, in forward.c's units (~0.1-0.3 ns each):
 * a split pays when the kernel takes 10-20x a hot job's ~1 us, ~15-25 us. The tiny model
 * (models/tiny, largest decode kernel the head's 98k units) then decodes on one thread:
 * 14058 vs 14008 tok/s at -t 1 / -t 2 (medians of 19 rounds of 7 runs). Lower thresholds
 * were worse or a gamble there: 64k (the head alone, once per token, so a futex wake per
 * token) lost 10%; 32k (9 kernels a token) gave +9% or -12% depending on whether the worker
 * stayed awake. */
#define MIN_WORK 131072
/* The work below which a job wakes no sleeping worker (it runs on the threads awake): ~2x
 * what a wake-up costs (25 us), at the units' 0.1-0.2 ns. */
#define WAKE_WORK 524288

int64_t kiln_parallel_min_work = INT64_MAX;

typedef struct Pool {
    /* the job, written by the caller */
    _Alignas(LINE) _Atomic uint64_t ticket;     /* gen << 32 | parts << 16 | next part */
    _Atomic uint32_t seq;                       /* gen of the last job (idle workers' futex) */
    _Atomic(KilnKernel) fn;
    _Atomic(void *) args[7];
    _Atomic int caller_cpu;                     /* where the caller last woke workers from */
    /* written by the threads that run parts */
    _Alignas(LINE) _Atomic uint32_t done;       /* parts of the current job finished (futex) */
    _Atomic uint32_t caller_asleep;
    _Alignas(LINE) _Atomic uint32_t sleepers;   /* workers blocked on seq */
    _Atomic uint32_t stop;
    /* the caller's own */
    _Alignas(LINE) int threads;                 /* used by kiln_parallel, the caller included */
    int made;                                   /* threads made: the caller and the workers */
    uint32_t gen;
    int64_t grain;                              /* work per part */
    int64_t wake_work;                          /* jobs this big wake sleeping workers */
    pthread_t tid[MAX_THREADS];
} Pool;

static Pool pool = { .threads = 1, .grain = INT64_MAX, .wake_work = WAKE_WORK, .caller_cpu = -1 };
static long spin_iters = 1000;

/* ---- waiting ------------------------------------------------------------------------------ */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Blocks while *w == v (spurious returns are fine: callers loop). */
static void block_on(_Atomic uint32_t *w, uint32_t v)
{
#ifdef __linux__
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
#else
    (void)w;
    (void)v;
    sched_yield();
#endif
}

static void wake(_Atomic uint32_t *w, int n)
{
#ifdef __linux__
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
#else
    (void)w;
    (void)n;
#endif
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* spin_iters = SPIN_NS worth of cpu_relax(). */
static void calibrate_spin(void)
{
    static _Atomic uint32_t probe;
    long n = 2000;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        if (atomic_load_explicit(&probe, memory_order_acquire)) break;
        cpu_relax();
    }
    double per = (now() - t0) / (double)n;
    long it = per > 0 ? (long)(SPIN_NS * 1e-9 / per) : 100000;
    spin_iters = it < 16 ? 16 : it > 10000000 ? 10000000 : it;
}

/* ---- jobs ------------------------------------------------------------------------------------ */

/* Claims and runs parts of the current job until none is left unclaimed; returns how
 * many this thread ran. */
static int run_parts(void)
{
    int ran = 0;
    for (;;) {
        uint64_t t = atomic_load_explicit(&pool.ticket, memory_order_acquire);
        uint32_t parts = (uint32_t)(t >> 16) & 0xffff, i = (uint32_t)t & 0xffff;
        if (i >= parts) return ran;
        /* the job as it is while ticket == t: valid if the claim below succeeds, since a job
         * with unclaimed parts is never replaced */
        KilnKernel fn = atomic_load_explicit(&pool.fn, memory_order_relaxed);
        void *a[7];
        for (int j = 0; j < 7; j++) a[j] = atomic_load_explicit(&pool.args[j], memory_order_relaxed);
        if (!atomic_compare_exchange_weak_explicit(&pool.ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire))
            continue;
        fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6], i, parts);
        ran++;
        if (atomic_fetch_add_explicit(&pool.done, 1, memory_order_seq_cst) + 1 == parts &&
            atomic_load_explicit(&pool.caller_asleep, memory_order_seq_cst))
            wake(&pool.done, 1);
    }
}

#ifdef __linux__
static cpu_set_t allowed;                       /* the process's CPUs, when the pool was made */
static int have_allowed;

/* A worker that finds itself on the caller's CPU moves to another allowed one, then lets
 * the scheduler choose again (see the file's comment on placement). */
static void move_off(int cpu)
{
    if (!have_allowed || cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed) || CPU_COUNT(&allowed) < 2) return;
    cpu_set_t others = allowed;
    CPU_CLR(cpu, &others);
    if (pthread_setaffinity_np(pthread_self(), sizeof others, &others) == 0)
        pthread_setaffinity_np(pthread_self(), sizeof allowed, &allowed);
}
#endif

static void *worker(void *arg)
{
    uint32_t seen = (uint32_t)(uintptr_t)arg;     /* the generation when it was made */
#ifdef __linux__
    /* made away from the caller's CPU (rt_pool_start); from now on the scheduler's choice */
    if (have_allowed) pthread_setaffinity_np(pthread_self(), sizeof allowed, &allowed);
#endif
    for (;;) {
        uint32_t s;
        long spun = 0;
        while ((s = atomic_load_explicit(&pool.seq, memory_order_acquire)) == seen) {
            if (spun++ < spin_iters) {
                cpu_relax();
                continue;
            }
            atomic_fetch_add_explicit(&pool.sleepers, 1, memory_order_seq_cst);
            block_on(&pool.seq, seen);
            atomic_fetch_sub_explicit(&pool.sleepers, 1, memory_order_seq_cst);
            spun = 0;
#ifdef __linux__
            /* woken next to the caller (Linux's wake-up placement does that now and then
             * here, and then both share one CPU for milliseconds): move */
            int me = sched_getcpu();
            if (me >= 0 && me == atomic_load_explicit(&pool.caller_cpu, memory_order_relaxed)) move_off(me);
#endif
        }
        seen = s;
        if (atomic_load_explicit(&pool.stop, memory_order_acquire)) return NULL;
        run_parts();
    }
}

/* Runs fn's parts 0..parts-1 (parts >= 2) on the pool and waits for them; returns how
 * many the caller ran itself. */
static int run_job(KilnKernel fn, void *const args[7], uint32_t parts, int wake_sleepers)
{
    atomic_store_explicit(&pool.fn, fn, memory_order_relaxed);
    for (int j = 0; j < 7; j++) atomic_store_explicit(&pool.args[j], args[j], memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
#ifdef __linux__
    if (wake_sleepers && atomic_load_explicit(&pool.sleepers, memory_order_relaxed))     /* for move_off */
        atomic_store_explicit(&pool.caller_cpu, sched_getcpu(), memory_order_relaxed);
#endif
    pool.gen++;
    atomic_store_explicit(&pool.ticket, (uint64_t)pool.gen << 32 | (uint64_t)parts << 16, memory_order_release);
    atomic_store_explicit(&pool.seq, pool.gen, memory_order_seq_cst);
    if (wake_sleepers && atomic_load_explicit(&pool.sleepers, memory_order_seq_cst)) wake(&pool.seq, (int)parts - 1);
    int ran = run_parts();
    for (;;) {
        for (long i = 0; i < spin_iters; i++) {
            if (atomic_load_explicit(&pool.done, memory_order_acquire) == parts) return ran;
            cpu_relax();
        }
        atomic_store_explicit(&pool.caller_asleep, 1, memory_order_seq_cst);
        uint32_t d = atomic_load_explicit(&pool.done, memory_order_seq_cst);
        if (d != parts) block_on(&pool.done, d);
        atomic_store_explicit(&pool.caller_asleep, 0, memory_order_relaxed);
        if (atomic_load_explicit(&pool.done, memory_order_acquire) == parts) return ran;
    }
}

void kiln_parallel(KilnKernel fn, void *const args[7], int64_t work)
{
    int64_t parts = work / pool.grain;
    if (parts > pool.threads) parts = pool.threads;
    int wake_sleepers = work >= pool.wake_work;
    if (!wake_sleepers) {
        /* too small to pay for waking a worker (~25 us here): the caller and the workers
         * still spinning only */
        int64_t awake = pool.threads - (int64_t)atomic_load_explicit(&pool.sleepers, memory_order_relaxed);
        if (parts > awake) parts = awake;
    }
    if (parts <= 1) {
        fn(args[0], args[1], args[2], args[3], args[4], args[5], args[6], 0, 1);
        return;
    }
    run_job(fn, args, (uint32_t)parts, wake_sleepers);
}

/* ---- the pool's life ---------------------------------------------------------------------------- */

void rt_pool_set_min_work(int64_t min_work)
{
    if (min_work < 1) min_work = 1;
    kiln_parallel_min_work = pool.threads > 1 ? min_work : INT64_MAX;
    pool.grain = min_work / 2 > 0 ? min_work / 2 : 1;
    /* the wake threshold keeps its ratio to the dispatch threshold */
    pool.wake_work = min_work < INT64_MAX / (WAKE_WORK / MIN_WORK) ? min_work * (WAKE_WORK / MIN_WORK) : INT64_MAX;
}

int rt_pool_threads(void) { return pool.threads; }

void rt_pool_wake(void)
{
    /* a worker woken with seq unchanged spins again for SPIN_NS, then sleeps */
    if (pool.threads > 1 && atomic_load_explicit(&pool.sleepers, memory_order_seq_cst)) {
#ifdef __linux__
        atomic_store_explicit(&pool.caller_cpu, sched_getcpu(), memory_order_relaxed);
#endif
        wake(&pool.seq, pool.threads - 1);
    }
}

void rt_pool_stop(void)
{
    if (pool.made > 1) {
        atomic_store_explicit(&pool.stop, 1, memory_order_seq_cst);
        pool.gen++;
        atomic_store_explicit(&pool.seq, pool.gen, memory_order_seq_cst);
        wake(&pool.seq, INT_MAX);
        for (int i = 1; i < pool.made; i++) pthread_join(pool.tid[i], NULL);
        atomic_store_explicit(&pool.stop, 0, memory_order_relaxed);
    }
    pool.threads = pool.made = 1;
    rt_pool_set_min_work(MIN_WORK);
}

int rt_pool_start(int threads)
{
    static int calibrated;
    if (!calibrated) {
        calibrate_spin();
        calibrated = 1;
    }
    rt_pool_stop();
    if (threads < 1 || threads > MAX_THREADS) return EINVAL;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr, *ap = NULL;
#ifdef __linux__
    /* Start the workers on the other CPUs: Linux places a new thread on its creator's CPU
     * more often than not here, and leaves it there for 3-15 ms (measured: 24 of 30 runs)
     * while the other vCPU idles, so the probe saw one core. The worker widens its own
     * affinity back to all of the process's CPUs as soon as it runs: a hint, not a pin. */
    cpu_set_t others;
    int me = sched_getcpu();
    have_allowed = sched_getaffinity(0, sizeof allowed, &allowed) == 0;
    if (have_allowed && me >= 0 && me < CPU_SETSIZE && CPU_ISSET(me, &allowed) && CPU_COUNT(&allowed) > 1 &&
        pthread_attr_init(&attr) == 0) {
        others = allowed;
        CPU_CLR(me, &others);
        ap = pthread_attr_setaffinity_np(&attr, sizeof others, &others) == 0 ? &attr : NULL;
        if (!ap) pthread_attr_destroy(&attr);
    }
#endif
    int err = 0;
    for (int i = 1; i < threads && !err; i++) {
        /* a worker waits for a generation after the current one */
        err = pthread_create(&pool.tid[i], ap, worker, (void *)(uintptr_t)pool.gen);
        if (!err) pool.threads = pool.made = i + 1;
    }
    if (ap) pthread_attr_destroy(ap);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) rt_pool_stop();
    rt_pool_set_min_work(MIN_WORK);
    return err;
}

/* ---- the default: measured ---------------------------------------------------------------------- */

typedef float V4 __attribute__((vector_size(16)));

/* x0: 2 floats (multiplier, addend), x1: the iteration count (int64); y[part]: a sum, so
 * that nothing is optimized away. 12 chains: enough independent work to fill the FP pipes
 * of one core, so a second thread on the same core cannot make it faster. */
static void probe_kernel(void *y, const void *x0, const void *x1, const void *x2, const void *x3,
                         const int64_t *syms, void *aux, int64_t part, int64_t parts)
{
    (void)x2, (void)x3, (void)syms, (void)aux;
    const float *mc = x0;
    int64_t n = *(const int64_t *)x1 / parts;
    V4 m = { mc[0], mc[0], mc[0], mc[0] }, c = { mc[1], mc[1], mc[1], mc[1] };
    V4 a0 = c, a1 = c + c, a2 = a1 + c, a3 = a2 + c, a4 = a3 + c, a5 = a4 + c;
    V4 a6 = a5 + c, a7 = a6 + c, a8 = a7 + c, a9 = a8 + c, a10 = a9 + c, a11 = a10 + c;
    for (int64_t i = 0; i < n; i++) {
        a0 = a0 * m + c, a1 = a1 * m + c, a2 = a2 * m + c, a3 = a3 * m + c;
        a4 = a4 * m + c, a5 = a5 * m + c, a6 = a6 * m + c, a7 = a7 * m + c;
        a8 = a8 * m + c, a9 = a9 * m + c, a10 = a10 * m + c, a11 = a11 * m + c;
    }
    V4 s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11));
    ((float *)y)[part] = s[0] + s[1] + s[2] + s[3];
}

/* Seconds of the probe with n iterations on `parts` threads of the pool. */
static double probe_time(int64_t n, int parts)
{
    static float out[MAX_THREADS];
    static const float mc[2] = { 0.999f, 0.001f };
    void *args[7] = { out, (void *)mc, &n, NULL, NULL, NULL, NULL };
    if (parts > 1) {
        /* wake the workers first (a futex wake-up takes ~20 us here): small jobs until a
         * worker has run a part, at most 10 ms; the workers then spin and take the timed
         * job's parts at once */
        int64_t small = 2048 * parts;
        void *warm[7] = { out, (void *)mc, &small, NULL, NULL, NULL, NULL };
        double t0 = now();
        while (run_job(probe_kernel, warm, (uint32_t)parts, 1) == parts && now() - t0 < 1e-2) {
        }
    }
    double t0 = now();
    if (parts > 1) run_job(probe_kernel, args, (uint32_t)parts, 1);
    else probe_kernel(out, mc, &n, NULL, NULL, NULL, NULL, 0, 1);
    return now() - t0;
}

/* The CPUs this process may run on. */
static int cpu_count(void)
{
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n < MAX_THREADS ? n : MAX_THREADS) : 1;
}

int rt_pool_start_default(int *tried, double *speedup)
{
    int cand = cpu_count();
    if (cand > MAX_THREADS) cand = MAX_THREADS;
    *tried = cand > 1 ? cand : 1;
    *speedup = 1;
    if (cand < 2 || rt_pool_start(cand) != 0) {
        rt_pool_start(1);
        return 1;
    }
    /* about 0.3 ms on one thread */
    int64_t n = 4096;
    while (n < ((int64_t)1 << 30) && probe_time(n, 1) < 3e-4) n *= 2;
    for (int attempt = 0; attempt < 2; attempt++) {
        double one = 1e30, all = 1e30;
        for (int r = 0; r < 5; r++) {
            double t1 = probe_time(n, 1), tn = probe_time(n, cand);
            if (t1 < one) one = t1;
            if (tn < all) all = tn;
        }
        *speedup = all > 0 ? one / all : 1;
        if (*speedup >= 1.3) return pool.threads;
    }
    /* one thread: the workers stay, asleep, so that a run allocates the same whatever was
     * measured (the no-allocation tests count), and end with rt_pool_stop */
    pool.threads = 1;
    rt_pool_set_min_work(MIN_WORK);
    return 1;
}
