/* emit.c — from the LLVM module to files: verify, optimize, write.
 *
 * LLVMVerifyModule runs before anything is written, in every build: a module that does not
 * verify is a kiln bug, reported as one. Optimization is the new pass manager's
 * default<On> pipeline with loop and SLP vectorization on. Codegen changes the module it
 * runs on, so every object or assembly file is written from a clone (TOOLCHAIN.md trap 8).
 *
 * Annotations. LLVM places no comment before a chosen function, so the written assembly is
 * read back and a comment line naming the kernel's node (kernel_site_describe) is put
 * before each kernel's label, found by the symbol the backend gave it. The LLVM IR gets
 * the same text as !kiln.node metadata on each kernel, added after the object and the
 * assembly are written, so it changes neither.
 *
 * Fixed-length SVE (aarch64 CPUs with SVE wider than NEON) is a function attribute added
 * here, before optimization, to every function (mark_sve). */
#include "backend/codegen_impl.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Fixed-length SVE (target.c): every function with a body gets vscale_range(bits/128, 16),
 * "SVE vectors are at least this long", so LLVM may lower the kernels' <vw x float> to SVE
 * instructions predicated to vw lanes. The attribute packs min << 32 | max. */
static void mark_sve(Cg *cg)
{
    unsigned kind = LLVMGetEnumAttributeKindForName("vscale_range", 12);
    uint64_t min = (uint64_t)cg->sve_bits / 128, max = 16;
    LLVMAttributeRef range = LLVMCreateEnumAttribute(cg->ctx, kind, min << 32 | max);
    for (LLVMValueRef f = LLVMGetFirstFunction(cg->mod); f; f = LLVMGetNextFunction(f))
        if (LLVMCountBasicBlocks(f)) LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, range);
}

int cg_optimize(Cg *cg, int opt_level, Diag *d)
{
    char *msg = NULL;
    if (cg->sve_bits) mark_sve(cg);
    if (LLVMVerifyModule(cg->mod, LLVMReturnStatusAction, &msg))
        kiln_internal(__FILE__, __LINE__, "the generated LLVM module does not verify:\n%s", msg);
    LLVMDisposeMessage(msg);
    char pipeline[32];
    snprintf(pipeline, sizeof pipeline, "default<O%d>", opt_level < 0 ? 0 : opt_level > 3 ? 3 : opt_level);
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(po, opt_level >= 2);
    LLVMPassBuilderOptionsSetSLPVectorization(po, opt_level >= 2);
    LLVMPassBuilderOptionsSetLoopUnrolling(po, opt_level >= 2);
    LLVMErrorRef err = LLVMRunPasses(cg->mod, pipeline, cg->tm, po);
    LLVMDisposePassBuilderOptions(po);
    if (err) {
        char *e = LLVMGetErrorMessage(err);
        diag_error(d, loc_make(0, 0, 0), "LLVM optimization failed: %s", e);
        LLVMDisposeErrorMessage(e);
        return -1;
    }
    return 0;
}

int cg_write(Cg *cg, LLVMCodeGenFileType kind, const char *path, Diag *d)
{
    LLVMModuleRef copy = LLVMCloneModule(cg->mod);
    char *err = NULL;
    int bad = LLVMTargetMachineEmitToFile(cg->tm, copy, path, kind, &err);
    LLVMDisposeModule(copy);
    if (bad) {
        diag_file_error(d, path, "cannot write: %s", err ? err : "LLVM code generation failed");
        LLVMDisposeMessage(err);
        return -1;
    }
    return 0;
}

int cg_write_ir(Cg *cg, const char *path, Diag *d)
{
    char *err = NULL;
    if (LLVMPrintModuleToFile(cg->mod, path, &err)) {
        diag_file_error(d, path, "cannot write: %s", err ? err : "?");
        LLVMDisposeMessage(err);
        return -1;
    }
    return 0;
}

/* The kernel sites by label, for the assembly's lines. */
static int site_of_label(const KernelSites *ks, const NameMap *labels, const char *line, size_t len)
{
    if (len < 2 || line[len - 1] != ':') return -1;
    if (line[0] == '"') {           /* "k.odd-name": */
        if (len < 4 || line[len - 2] != '"') return -1;
        line++;
        len -= 2;
    }
    char name[512];
    if (len - 1 >= sizeof name) return -1;
    memcpy(name, line, len - 1);
    name[len - 1] = 0;
    int s = namemap_get(labels, name);
    return s >= 0 && s < ks->n ? s : -1;
}

int cg_annotate_asm(Cg *cg, const KernelSites *ks, const char *path, Diag *d)
{
    size_t len;
    char *text = file_read_all(d, path, &len);
    if (!text) return -1;
    Arena a = { 0 };
    NameMap labels = { 0 };
    for (int i = 0; i < ks->n; i++) namemap_put(&a, &labels, ks->v[i].name, i);
    const char *comment = strncmp(cg->triple, "aarch64", 7) == 0 ? "//" : "#";
    FILE *f = fopen(path, "w");
    int ok = f != NULL;
    char about[1024];
    for (size_t at = 0; ok && at < len;) {
        const char *line = text + at;
        const char *nl = memchr(line, '\n', len - at);
        size_t n = nl ? (size_t)(nl - line) : len - at;
        int s = line[0] == 'k' || line[0] == '"' ? site_of_label(ks, &labels, line, n) : -1;
        if (s >= 0) {
            kernel_site_describe(cg, &ks->v[s], about, sizeof about);
            fprintf(f, "%s kiln: kernel %s: %s\n", comment, ks->v[s].name, about);
        }
        ok = fwrite(line, 1, n + (nl ? 1 : 0), f) == n + (nl ? 1 : 0);
        at += n + 1;
    }
    if (f && fclose(f) != 0) ok = 0;
    free(text);
    arena_free(&a);
    if (!ok) {
        diag_file_error(d, path, "cannot write: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void cg_annotate_ir(Cg *cg, const KernelSites *ks)
{
    unsigned kind = LLVMGetMDKindIDInContext(cg->ctx, "kiln.node", 9);
    char about[1024];
    for (int i = 0; i < ks->n; i++) {
        LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, ks->v[i].name);
        if (!fn) continue;          /* optimized away */
        kernel_site_describe(cg, &ks->v[i], about, sizeof about);
        LLVMMetadataRef text = LLVMMDStringInContext2(cg->ctx, about, strlen(about));
        LLVMGlobalSetMetadata(fn, kind, LLVMMDNodeInContext2(cg->ctx, &text, 1));
    }
}
