/* emit.c — from the LLVM module to files: verify, optimize, write.
 *
 * LLVMVerifyModule runs before anything is written, in every build: a module that does not
 * verify is a kiln bug, reported as one. Optimization is the new pass manager's
 * default<On> pipeline with loop and SLP vectorization on. Codegen changes the module it
 * runs on, so every object or assembly file is written from a clone (TOOLCHAIN.md trap 8). */
#include "backend/codegen_impl.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <string.h>

int cg_optimize(Cg *cg, int opt_level, Diag *d)
{
    char *msg = NULL;
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
