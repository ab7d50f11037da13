/* backend.h — from a checked module to native code: LLVM IR, assembly, objects, executables.
 *
 * The backend lowers every node to a kernel specialized for its shape (all dims but the
 * symbolic ones are constants), writes the `forward` function that calls the kernels over
 * one arena planned at compile time, puts the weights and the tokenizer next to it, and
 * links the result with the runtime built for the target. Nothing here parses user files. */
#ifndef KILN_BACKEND_H
#define KILN_BACKEND_H

#include "ir/ir.h"

enum {
    EMIT_EXE = 1 << 0,      /* the executable (default) */
    EMIT_OBJ = 1 << 1,      /* OUT.o: kernels, forward and kiln_model */
    EMIT_ASM = 1 << 2,      /* OUT.s */
    EMIT_LLVM = 1 << 3,     /* OUT.ll, after optimization */
};

typedef struct BackendOptions {
    const char *out;            /* the requested artifact's path */
    unsigned emit;              /* EMIT_* */
    const char *triple;         /* NULL: the host */
    const char *cpu;            /* NULL: native for the host, the target's baseline otherwise */
    const char *features;       /* extra "+avx2,-avx512f"-style features, or NULL */
    int opt_level;              /* 0..3 */
    int weights_external;       /* 1: weights in OUT.weights, mapped at start-up */
    int verbose;                /* print per-phase times */
    const char *runtime_dir;    /* folder holding libkiln_rt-<arch>.a; NULL: $KILN_RUNTIME_DIR, then the build's */
    const void *tokenizer;      /* tokenizer blob (runtime/tokenizer.h) to embed, or NULL */
    size_t tokenizer_bytes;
    int64_t eos_id;             /* end-of-text when the model has no `eos` parameter; -1: none */
    int capture;                /* 1: forward calls kiln_capture after every node (kiln diff;
                                   backend/capture.c); 0: no call is emitted */
    int debug_info;             /* -g: DWARF mapping kernels and forward's calls to model lines */
    int is_static;              /* --static: link libc, libm and pthreads statically */
    /* Called as work advances (NULL: not called): phase is "weights" (done/total in bytes),
     * "kernels" (nodes lowered / nodes to lower), "optimize", "codegen" or "link"
     * (done 0 of total 1 as the phase starts). */
    void (*progress)(void *ctx, const char *phase, uint64_t done, uint64_t total);
    void *progress_ctx;
    /* kiln compile --selftest: a short input and the reference interpreter's logits for it,
     * embedded for `./model --selftest` (runtime/selftest.h); selftest_n = 0: none */
    int64_t selftest_n;                 /* 1 .. the model's max_seq */
    const int32_t *selftest_tokens;     /* (selftest_n) */
    const float *selftest_logits;       /* (selftest_n, vocab) */
} BackendOptions;

/* Compiles m (verified, weights bound) as options say. User errors (unknown target or CPU,
 * unwritable output, missing linker or runtime) go to d; returns 0 on success. */
int backend_compile(Module *m, const BackendOptions *o, Diag *d);
/* kiln compile --list-cpus: the CPU names --cpu accepts for triple (NULL: this machine's),
 * with the kernels' vector instructions each implies (backend/target.c); -1 for a triple
 * kiln does not target. */
int backend_list_cpus(const char *triple, FILE *f);
/* kiln compile --list-targets: each target with its linker and runtime archive, installed or
 * missing (backend/link.c); runtime_dir NULL: the one kiln finds. */
void backend_list_targets(const char *runtime_dir, FILE *f);

#endif
