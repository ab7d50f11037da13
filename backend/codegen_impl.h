/* codegen_impl.h — the parts of the backend around the kernels: forward, blobs, emission,
 * linking. Included by backend files only. */
#ifndef KILN_CODEGEN_IMPL_H
#define KILN_CODEGEN_IMPL_H

#include "backend/backend_impl.h"
#include "passes/passes.h"

/* What kiln_model says about the program (runtime/model.h). */
typedef struct ModelFacts {
    const char *name;
    int64_t vocab, max_seq, max_positions, eos_id, bos_id;   /* bos_id: the `bos` param, or -1 */
    uint64_t arena_bytes, weights_bytes, weights_check, weights_hash, tokenizer_bytes;
    int weights_embedded;
    int64_t selftest_n;                 /* kiln compile --selftest: tokens, 0 for none */
    const int32_t *selftest_tokens;     /* (selftest_n); the logits go in the blobs stub */
} ModelFacts;

/* forward.c: the graph an executable runs, as runtime/model.h describes it */
typedef struct ExeGraph {
    const Graph *g;             /* the main graph: `forward`, or `decode` */
    const Graph *encode;        /* KILN_SEQ2SEQ: `encode`; else NULL */
    int kind;                   /* KILN_DECODER, KILN_ENCODER or KILN_SEQ2SEQ */
    const Node *logits;         /* g's output `logits`, or NULL (an encoder without one) */
    int64_t vocab;              /* logits' last dim, or the rows of the table `tokens` indexes */
} ExeGraph;
int cg_forward_graph(const Module *m, Diag *d, ExeGraph *x);
/* The function `name` running g; profiled: the variant that calls kiln_profile_enter/exit
 * around every kernel call */
LLVMValueRef cg_emit_forward(Cg *cg, const Graph *g, const MemPlan *plan, const uint64_t *weight_offset, int profiled,
                             const char *name);
/* encode: x->encode's function, or NULL; plan: the main graph's (its state offsets are every
 * graph's) */
void cg_emit_model_record(Cg *cg, LLVMValueRef forward, LLVMValueRef forward_profiled, LLVMValueRef encode,
                          const ExeGraph *x, const MemPlan *plan, const ModelFacts *f);

/* capture.c: kiln_capture(n's index, y, n's bytes at this call's symbols symv) after node
 * n, for `kiln diff`; nothing for inputs and weights. */
void cg_emit_capture(Cg *cg, const Node *n, LLVMValueRef y, LLVMValueRef const *symv);

/* blobs.c: the weights as one f32 blob (64-byte aligned tensors) written to path, with each
 * weight's offset, its check value and its full hash (runtime/runtime.h); o->progress hears
 * the bytes written after each tensor. */
int blob_write_weights(const Module *m, const char *path, uint64_t *offset, uint64_t *bytes, uint64_t *check,
                       uint64_t *hash, const BackendOptions *o, Diag *d);
/* The assembly stub that embeds the blobs (.incbin), for the target's assembler. */
int blob_write_stub(const char *path, const char *weights_path, const char *tokenizer_path,
                    const char *selftest_path, const char *triple, Diag *d);

/* emit.c: verify, optimize, write object / assembly / LLVM IR. */
int cg_optimize(Cg *cg, int opt_level, Diag *d);
int cg_write(Cg *cg, LLVMCodeGenFileType kind, const char *path, Diag *d);
int cg_write_ir(Cg *cg, const char *path, Diag *d);

/* link.c: runs the target's C compiler driver to link objects and the runtime archive;
 * scratch is a private folder it may write into. */
int link_executable(const char *triple, const char *out, const char *const *inputs, int n_inputs, int is_static, int native,
                    const char *runtime_dir, const char *scratch, int verbose, Diag *d);

#endif
