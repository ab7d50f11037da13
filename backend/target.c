/* target.c — the target machine and the code generation context.
 *
 * The triple defaults to the host's; the CPU to the host's own ("native") only when the
 * target is the host, otherwise to the target's baseline (x86-64, generic), so artifacts
 * meant to move never fault on an older machine (TOOLCHAIN.md, trap 6). The vector width
 * the kernels use comes from the features the target machine really has: 16 f32 lanes with
 * AVX-512F, 8 with AVX/AVX2, 4 otherwise (SSE2, NEON); on aarch64 CPUs whose SVE vectors are
 * wider than NEON's (a64fx 512 bits, neoverse-v1 256), the vector's own width, and every
 * function says so with vscale_range (cg_optimize) so LLVM lowers those fixed-length vectors
 * to SVE instructions (predicated to that length: still right on longer SVE vectors).
 * What the kernels then need of a processor (cpu_needs, runtime/model.h) is recorded in the
 * executable, which checks it before running. Code is position independent because Debian
 * links PIE by default. */
#include "backend_impl.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/model.h"

static int llvm_ready;

static void llvm_init(void)
{
    if (llvm_ready) return;
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
    LLVMInitializeX86AsmParser();
    LLVMInitializeAArch64TargetInfo();
    LLVMInitializeAArch64Target();
    LLVMInitializeAArch64TargetMC();
    LLVMInitializeAArch64AsmPrinter();
    LLVMInitializeAArch64AsmParser();
    llvm_ready = 1;
}

/* Whether the comma-separated list has exactly sign followed by f ("+avx2", "-avx512f"). */
static int has_feature_sign(const char *features, char sign, const char *f)
{
    size_t n = strlen(f);
    for (const char *p = features; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n + 1 && p[0] == sign && strncmp(p + 1, f, n) == 0) return 1;
        p = e ? e + 1 : p + len;
    }
    return 0;
}

static int has_feature(const char *features, const char *f) { return has_feature_sign(features, '+', f); }

/* The x86-64 level a named CPU implies: 4 = AVX-512, 3 = AVX2 + FMA, 1 = SSE2 baseline.
 * A table of the usual names; unknown ones get the baseline, which is always safe. */
static int x86_cpu_level(const char *cpu)
{
    static const struct { const char *prefix; int level; } cpus[] = {
        { "x86-64-v4", 4 }, { "x86-64-v3", 3 }, { "x86-64-v2", 1 }, { "x86-64", 1 },
        { "skylake-avx512", 4 }, { "cascadelake", 4 }, { "cooperlake", 4 }, { "icelake", 4 },
        { "tigerlake", 4 }, { "sapphirerapids", 4 }, { "emeraldrapids", 4 }, { "graniterapids", 4 },
        { "znver4", 4 }, { "znver5", 4 },
        { "haswell", 3 }, { "broadwell", 3 }, { "skylake", 3 }, { "alderlake", 3 }, { "raptorlake", 3 },
        { "meteorlake", 3 }, { "znver1", 3 }, { "znver2", 3 }, { "znver3", 3 },
    };
    for (size_t i = 0; i < sizeof cpus / sizeof cpus[0]; i++)
        if (strncmp(cpu, cpus[i].prefix, strlen(cpus[i].prefix)) == 0) return cpus[i].level;
    return 1;
}

/* AArch64 CPUs kiln accepts by name (all have NEON: 4 f32 lanes; see aarch64_sve_bits). */
static const char *const aarch64_cpus[] = {
    "generic", "cortex-a53", "cortex-a55", "cortex-a57", "cortex-a72", "cortex-a73", "cortex-a75", "cortex-a76",
    "cortex-a77", "cortex-a78", "cortex-a710", "cortex-x1", "cortex-x2", "neoverse-n1", "neoverse-n2", "neoverse-v1",
    "neoverse-v2", "apple-m1", "apple-m2", "ampere1", "a64fx", "thunderx2t99",
};

/* The SVE vector bits of the AArch64 CPUs whose SVE is wider than NEON, 0 for the others:
 * SVE is an implementation's choice of width, which LLVM does not record, so this is the
 * hardware's documented width. CPUs with 128-bit SVE (neoverse-n2, neoverse-v2,
 * cortex-a710, cortex-x2) keep NEON, which is as wide. */
static int aarch64_sve_bits(const char *cpu)
{
    return !strcmp(cpu, "a64fx") ? 512 : !strcmp(cpu, "neoverse-v1") ? 256 : 0;
}

/* x86-64 CPUs below the table of x86_cpu_level's levels that kiln also accepts (SSE2 kernels). */
static const char *const x86_older_cpus[] = { "generic", "nehalem", "westmere", "sandybridge", "ivybridge" };

static int list_cpus(const char *triple, FILE *f);

int backend_list_cpus(const char *triple_or_null, FILE *f)
{
    char *host = LLVMGetDefaultTargetTriple();
    const char *triple = triple_or_null ? triple_or_null : host;
    int rc = list_cpus(triple, f);
    LLVMDisposeMessage(host);
    return rc;
}

static int list_cpus(const char *triple, FILE *f)
{
    if (strncmp(triple, "aarch64", 7) == 0) {
        fprintf(f, "CPUs for %s:\n", triple);
        for (size_t i = 0; i < sizeof aarch64_cpus / sizeof aarch64_cpus[0]; i++) {
            int bits = aarch64_sve_bits(aarch64_cpus[i]);
            if (bits) fprintf(f, "  %-16s SVE %d-bit, %d f32 lanes\n", aarch64_cpus[i], bits, bits / 32);
            else fprintf(f, "  %-16s NEON, 4 f32 lanes\n", aarch64_cpus[i]);
        }
        return 0;
    }
    if (strncmp(triple, "x86_64", 6) != 0) return -1;
    static const char *const x86_cpus[] = {
        "x86-64-v4", "skylake-avx512", "cascadelake", "cooperlake", "icelake-client", "icelake-server", "tigerlake",
        "sapphirerapids", "emeraldrapids", "graniterapids", "znver4", "znver5",
        "x86-64-v3", "haswell", "broadwell", "skylake", "alderlake", "raptorlake", "meteorlake", "znver1", "znver2",
        "znver3",
        "x86-64-v2", "x86-64",
    };
    static const char *const isa[] = { "", "SSE2, 4 f32 lanes", "", "AVX2 + FMA, 8 f32 lanes", "AVX-512, 16 f32 lanes" };
    fprintf(f, "CPUs for %s (and native: this machine's, for host builds):\n", triple);
    for (size_t i = 0; i < sizeof x86_cpus / sizeof x86_cpus[0]; i++)
        fprintf(f, "  %-16s %s\n", x86_cpus[i], isa[x86_cpu_level(x86_cpus[i])]);
    for (size_t i = 0; i < sizeof x86_older_cpus / sizeof x86_older_cpus[0]; i++)
        fprintf(f, "  %-16s %s\n", x86_older_cpus[i], isa[1]);
    return 0;
}

/* Whether cpu names a processor of the target (LLVM itself only warns and carries on). */
static int known_cpu(const char *triple, const char *cpu)
{
    if (strncmp(triple, "aarch64", 7) == 0) {
        for (size_t i = 0; i < sizeof aarch64_cpus / sizeof aarch64_cpus[0]; i++)
            if (!strcmp(cpu, aarch64_cpus[i])) return 1;
        return 0;
    }
    if (x86_cpu_level(cpu) > 1 || !strcmp(cpu, "x86-64") || !strcmp(cpu, "x86-64-v2")) return 1;
    for (size_t i = 0; i < sizeof x86_older_cpus / sizeof x86_older_cpus[0]; i++)
        if (!strcmp(cpu, x86_older_cpus[i])) return 1;
    return 0;
}

/* What code for an x86-64 CPU of vector level `level` (x86_cpu_level, after --features)
 * needs of the processor, as psABI groups: from the host's features for native builds,
 * else from the CPU's name (x86-64-v2 and the Core generations before Haswell reach v2, and
 * Sandy/Ivy Bridge add AVX). */
static uint32_t x86_needs(const char *cpu, const char *host_features, int level)
{
    uint32_t needs = 0;
    if (host_features) {
        if (has_feature(host_features, "sse4.2") && has_feature(host_features, "popcnt")) needs |= KILN_CPU_X86_V2;
        if (has_feature(host_features, "avx")) needs |= KILN_CPU_X86_AVX;
    } else {
        static const char *const v2[] = { "x86-64-v2", "nehalem", "westmere", "sandybridge", "ivybridge" };
        for (size_t i = 0; i < sizeof v2 / sizeof v2[0]; i++)
            if (!strcmp(cpu, v2[i])) needs |= KILN_CPU_X86_V2 | (i >= 3 ? KILN_CPU_X86_AVX : 0);
    }
    if (level >= 3) needs |= KILN_CPU_X86_V2 | KILN_CPU_X86_AVX | KILN_CPU_X86_V3;
    if (level >= 4) needs |= KILN_CPU_X86_V4;
    return needs;
}

/* Feature string "a,b" + ",c" (either may be empty), in an owned buffer. */
static char *join_features(const char *a, const char *b)
{
    size_t na = a ? strlen(a) : 0, nb = b ? strlen(b) : 0;
    char *s = xmalloc(na + nb + 2);
    snprintf(s, na + nb + 2, "%s%s%s", na ? a : "", na && nb ? "," : "", nb ? b : "");
    return s;
}

int cg_init(Cg *cg, const Module *m, const BackendOptions *o, Diag *d)
{
    llvm_init();
    LLVMContextRef given = cg->ctx;
    memset(cg, 0, sizeof *cg);
    cg->m = m;
    cg->d = d;
    char *host = LLVMGetDefaultTargetTriple();
    const char *triple = o->triple ? o->triple : host;
    int is_host = !o->triple || strcmp(o->triple, host) == 0;
    char *err = NULL;
    LLVMTargetRef target;
    if (LLVMGetTargetFromTriple(triple, &target, &err)) {
        diag_error(d, loc_make(0, 0, 0), "unknown target '%s' (%s); kiln targets x86_64-linux-gnu and aarch64-linux-gnu",
                   triple, err ? err : "");
        LLVMDisposeMessage(err);
        LLVMDisposeMessage(host);
        return -1;
    }
    char *host_cpu = NULL, *host_features = NULL;
    const char *cpu = o->cpu;
    char *features;
    if (!cpu || strcmp(cpu, "native") == 0) {
        if (is_host && (!cpu || strcmp(cpu, "native") == 0)) {
            host_cpu = LLVMGetHostCPUName();
            host_features = LLVMGetHostCPUFeatures();
            cpu = host_cpu;
        } else if (cpu) {
            diag_error(d, loc_make(0, 0, 0), "--cpu=native is only for the host; give a CPU of %s", triple);
            LLVMDisposeMessage(host);
            return -1;
        } else {
            cpu = strncmp(triple, "x86_64", 6) == 0 ? "x86-64" : "generic";
        }
    }
    if (!host_cpu && !known_cpu(triple, cpu)) {
        diag_error(d, loc_make(0, 0, 0), "unknown CPU '%s' for %s (for example: %s)", cpu, triple,
                   strncmp(triple, "aarch64", 7) == 0 ? "generic, cortex-a72, neoverse-n1, apple-m1; kiln compile "
                                                        "--list-cpus --target aarch64-linux-gnu lists them"
                                                      : "x86-64, x86-64-v3, x86-64-v4, haswell, znver4; kiln compile "
                                                        "--list-cpus lists them");
        LLVMDisposeMessage(host);
        return -1;
    }
    features = join_features(host_features, o->features);
    LLVMTargetMachineOptionsRef opts = LLVMCreateTargetMachineOptions();
    LLVMTargetMachineOptionsSetCPU(opts, cpu);
    LLVMTargetMachineOptionsSetFeatures(opts, features);
    LLVMTargetMachineOptionsSetCodeGenOptLevel(opts, o->opt_level >= 3 ? LLVMCodeGenLevelAggressive
                                                     : o->opt_level == 0 ? LLVMCodeGenLevelNone
                                                                         : LLVMCodeGenLevelDefault);
    LLVMTargetMachineOptionsSetRelocMode(opts, LLVMRelocPIC);
    cg->tm = LLVMCreateTargetMachineWithOptions(target, triple, opts);
    LLVMDisposeTargetMachineOptions(opts);
    if (!cg->tm) {
        diag_error(d, loc_make(0, 0, 0), "cannot make a target machine for %s, CPU '%s'", triple, cpu);
        free(features);
        LLVMDisposeMessage(host);
        return -1;
    }
    /* What the machine really has: the host's features when compiling for it, else what the
     * named CPU implies (x86_cpu_level), then the explicit --features on top. */
    if (strncmp(triple, "x86_64", 6) == 0) {
        int level = host_features ? (has_feature(host_features, "avx512f") ? 4 : has_feature(host_features, "avx2") ? 3 : 1)
                                  : x86_cpu_level(cpu);
        int fma = host_features ? has_feature(host_features, "fma") : level >= 3;
        if (has_feature(o->features, "avx512f")) level = 4;
        else if (has_feature(o->features, "avx2") && level < 3) level = 3;
        if (has_feature_sign(o->features, '-', "avx512f") && level == 4) level = 3;
        if ((has_feature_sign(o->features, '-', "avx") || has_feature_sign(o->features, '-', "avx2")) && level >= 3)
            level = 1;
        if (has_feature(o->features, "fma")) fma = 1;
        if (has_feature_sign(o->features, '-', "fma")) fma = 0;
        cg->vw = level >= 4 ? 16 : level == 3 ? 8 : 4;
        cg->has_fma = fma;
        cg->cpu_needs = x86_needs(cpu, host_features, level);
    } else {
        /* NEON: every AArch64 CPU has it, with fused multiply-add; SVE when it is wider */
        cg->sve_bits = has_feature_sign(o->features, '-', "sve") ? 0 : aarch64_sve_bits(cpu);
        cg->vw = cg->sve_bits ? cg->sve_bits / 32 : 4;
        cg->has_fma = 1;
        cg->cpu_needs = cg->sve_bits ? KILN_CPU_SVE : 0;
    }

    cg->ctx = given ? given : LLVMContextCreate();
    cg->own_ctx = !given;
    cg->mod = LLVMModuleCreateWithNameInContext(m && m->name ? m->name : "kiln", cg->ctx);
    LLVMSetTarget(cg->mod, triple);
    cg->td = LLVMCreateTargetDataLayout(cg->tm);
    char *layout = LLVMCopyStringRepOfTargetData(cg->td);
    LLVMSetDataLayout(cg->mod, layout);
    LLVMDisposeMessage(layout);
    cg->b = LLVMCreateBuilderInContext(cg->ctx);
    cg->t_void = LLVMVoidTypeInContext(cg->ctx);
    cg->t_f32 = LLVMFloatTypeInContext(cg->ctx);
    cg->t_f64 = LLVMDoubleTypeInContext(cg->ctx);
    cg->t_i1 = LLVMInt1TypeInContext(cg->ctx);
    cg->t_i32 = LLVMInt32TypeInContext(cg->ctx);
    cg->t_i64 = LLVMInt64TypeInContext(cg->ctx);
    cg->t_ptr = LLVMPointerTypeInContext(cg->ctx, 0);
    cg->t_vf = LLVMVectorType(cg->t_f32, (unsigned)cg->vw);
    LLVMTypeRef params[9] = { cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr,
                              cg->t_i64, cg->t_i64 };     /* backend_impl.h: y, x0..x3, syms, aux, part, parts */
    cg->t_kernel = LLVMFunctionType(cg->t_void, params, 9, 0);
    cg->triple = xmalloc(strlen(triple) + 1);
    strcpy(cg->triple, triple);
    cg->cpu = xmalloc(strlen(cpu) + 1);
    strcpy(cg->cpu, cpu);
    free(features);
    if (host_cpu) LLVMDisposeMessage(host_cpu);
    if (host_features) LLVMDisposeMessage(host_features);
    LLVMDisposeMessage(host);
    return 0;
}

void cg_dispose(Cg *cg)
{
    if (cg->b) LLVMDisposeBuilder(cg->b);
    if (cg->mod && !cg->module_taken) LLVMDisposeModule(cg->mod);
    if (cg->td) LLVMDisposeTargetData(cg->td);
    if (cg->tm) LLVMDisposeTargetMachine(cg->tm);
    if (cg->ctx && cg->own_ctx) LLVMContextDispose(cg->ctx);
    free(cg->kernels);
    free(cg->kv_view);
    free(cg->triple);
    free(cg->cpu);
    memset(cg, 0, sizeof *cg);
}

LLVMValueRef cg_intrinsic(Cg *cg, const char *name, LLVMTypeRef *types, int n_types)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    KILN_ASSERT(id != 0);
    return LLVMGetIntrinsicDeclaration(cg->mod, id, types, (size_t)n_types);
}
