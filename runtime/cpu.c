/* cpu.c — does this processor have what the kernels were compiled for?
 *
 * kiln compile --cpu NAME tunes the kernels for NAME and records in kiln_model what they
 * then need (cpu_needs, runtime/model.h): on x86-64 the psABI groups NAME reaches (v2,
 * AVX, v3, v4), on aarch64 SVE with vectors of at least sve_bits. Run elsewhere, the first
 * kernel would die of SIGILL, or, on SVE vectors shorter than assumed, compute garbage. So
 * rt_cpu_check asks the processor before anything runs: cpuid and xgetbv on x86-64 (the OS
 * must also save the wide registers), getauxval(AT_HWCAP) and prctl(PR_SVE_GET_VL) on
 * aarch64. The groups are what LLVM may use for that CPU's vector code; instructions a CPU
 * has beyond its psABI level (znver4's VNNI, say) are not checked. */
#include "runtime/exe.h"

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#include <sys/prctl.h>
#ifndef HWCAP_SVE
#define HWCAP_SVE (1UL << 22)
#endif
#ifndef PR_SVE_GET_VL
#define PR_SVE_GET_VL 51
#endif
#endif

#if defined(__x86_64__)
/* The KILN_CPU_X86_* groups this processor has. */
static uint32_t x86_has(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    unsigned c1 = c;
    unsigned b7 = 0, c81 = 0;
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        b7 = b;
    }
    if (__get_cpuid(0x80000001u, &a, &b, &c, &d)) c81 = c;
    uint64_t xcr0 = 0;
    if (c1 & (1u << 27)) {                              /* OSXSAVE: xgetbv may be used */
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = (uint64_t)hi << 32 | lo;
    }
#define ALL(x, bits) (((x) & (bits)) == (bits))
    uint32_t has = 0;
    /* SSE3 0, SSSE3 9, CX16 13, SSE4.1 19, SSE4.2 20, POPCNT 23 */
    if (ALL(c1, 1u << 0 | 1u << 9 | 1u << 13 | 1u << 19 | 1u << 20 | 1u << 23)) has |= KILN_CPU_X86_V2;
    if (ALL(c1, 1u << 28) && ALL(xcr0, 0x6)) has |= KILN_CPU_X86_AVX;       /* xmm, ymm saved */
    /* FMA 12, MOVBE 22, F16C 29; BMI1 3, AVX2 5, BMI2 8; LZCNT (ABM) 5 */
    if ((has & KILN_CPU_X86_AVX) && ALL(c1, 1u << 12 | 1u << 22 | 1u << 29) && ALL(b7, 1u << 3 | 1u << 5 | 1u << 8) &&
        ALL(c81, 1u << 5))
        has |= KILN_CPU_X86_V3;
    /* AVX512 F 16, DQ 17, CD 28, BW 30, VL 31; opmask, zmm 0-15 high halves, zmm 16-31 saved */
    if ((has & KILN_CPU_X86_AVX) && ALL(b7, 1u << 16 | 1u << 17 | 1u << 28 | 1u << 30 | 1u << 31) && ALL(xcr0, 0xe0))
        has |= KILN_CPU_X86_V4;
#undef ALL
    return has;
}
#endif

int rt_cpu_check(void)
{
    const KilnModel *m = &kiln_model;
    if (!m->cpu_needs) return 0;
#if defined(__x86_64__)
    static const struct { uint32_t group; const char *name, *cpu; } groups[] = {
        { KILN_CPU_X86_V2, "SSE4.2 and POPCNT (x86-64-v2)", "x86-64" },
        { KILN_CPU_X86_AVX, "AVX", "x86-64-v2" },
        { KILN_CPU_X86_V3, "AVX2, FMA and BMI2 (x86-64-v3)", "x86-64-v2" },
        { KILN_CPU_X86_V4, "AVX-512 (x86-64-v4)", "x86-64-v3" },
    };
    /* named by the newest group missing; the CPU to use instead is below the oldest one */
    uint32_t missing = m->cpu_needs & ~x86_has();
    int newest = -1, oldest = -1;
    for (int i = 0; i < (int)(sizeof groups / sizeof groups[0]); i++)
        if (missing & groups[i].group) {
            if (oldest < 0) oldest = i;
            newest = i;
        }
    if (newest >= 0)
        return rt_fail("this executable was compiled for --cpu %s and needs %s, which this processor lacks; "
                       "compile it with --cpu %s or older (kiln compile --list-cpus)",
                       m->cpu, groups[newest].name, groups[oldest].cpu);
#elif defined(__aarch64__)
    if (m->cpu_needs & KILN_CPU_SVE) {
        if (!(getauxval(AT_HWCAP) & HWCAP_SVE))
            return rt_fail("this executable was compiled for --cpu %s and needs SVE, which this processor lacks; "
                           "compile it with --cpu generic, or the board's CPU (kiln compile --list-cpus "
                           "--target aarch64-linux-gnu)", m->cpu);
        int vl = prctl(PR_SVE_GET_VL, 0, 0, 0, 0);
        long bits = vl < 0 ? 0 : (long)(vl & 0xffff) * 8;
        if (bits < m->sve_bits)
            return rt_fail("this executable was compiled for --cpu %s and needs SVE vectors of at least %d bits; "
                           "this processor's are %ld bits: compile it with --cpu generic, or the board's CPU",
                           m->cpu, (int)m->sve_bits, bits);
    }
#else
    return rt_fail("this executable needs processor features this runtime cannot check");
#endif
    return 0;
}
