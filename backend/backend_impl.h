/* backend_impl.h — shared by the backend's files only: the code generation context and the
 * contract every kernel follows.
 *
 * Kernel contract. Every node but input, weight and reshape becomes a call to a kernel
 *     void k(ptr y, ptr x0, ptr x1, ptr x2, ptr x3, ptr syms, ptr aux, i64 part, i64 parts)
 * y: the result, contiguous row-major at its shape, f32 (i32 for positions);
 * x0..x3: the inputs in node order (unused ones null), contiguous row-major f32 or i32 —
 *     weights are f32 in the blob whatever their file dtype;
 * syms: const int64_t[IR_MAX_SYMS + 1], the value of each symbol by index (Module.syms);
 *     a kernel evaluates its symbolic dims from it (seq, past, ...);
 * aux: the state buffer of a cache or state_read node (the state's shape at the symbols'
 *     maxima, contiguous), null otherwise;
 * part, parts (0 <= part < parts): the call computes only its share of the OUTPUT
 *     elements; calling every part 0..parts-1 once, in any order or at the same time on
 *     different threads, computes all of y (and of the state) exactly once. Shares split
 *     output elements along the kernel's natural outer loop, never a reduction, in chunks
 *     aligned to the vector width (or the matmul panel), so every element is computed by
 *     the same instructions whatever `parts` is: the result is bit-identical to parts = 1.
 *     A share may be empty. A part reads nothing another part of the same call writes
 *     (cache: each part writes and then reads back only its own rows of the state).
 *     How each family splits is in its file; the helpers are kl_share* (kernel_impl.h).
 * Kernels are specialized per (op, attributes, dtypes, shapes) and reused by every node
 * with the same key: twelve identical layers share one kernel. A kernel is named after the
 * first node that needs it ("k.l0.attn.qk"); call sites are named after each node. */
#ifndef KILN_BACKEND_IMPL_H
#define KILN_BACKEND_IMPL_H

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "backend/backend.h"

typedef struct KernelEntry KernelEntry;

typedef struct Cg {
    const Module *m;
    Diag *d;
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMTargetMachineRef tm;
    LLVMTargetDataRef td;
    int vw;                     /* f32 lanes of the widest vector: 16 (AVX-512, SVE 512), 8 (AVX2, SVE 256), 4 (SSE, NEON) */
    int sve_bits;               /* the SVE vector bits the kernels assume (fixed-length SVE), 0: none */
    uint32_t cpu_needs;         /* KILN_CPU_* (runtime/model.h): what the executable checks at start */
    int has_fma;                /* the target has fused multiply-add (fmuladd becomes one instruction) */
    LLVMTypeRef t_void, t_f32, t_f64, t_i1, t_i32, t_i64, t_ptr, t_vf;   /* t_vf = <vw x float> */
    LLVMTypeRef t_kernel;       /* the kernel function type above */
    KernelEntry *kernels;       /* emitted kernels, by key */
    int n_kernels, cap_kernels;
    char *triple, *cpu;         /* as the target machine was made */
    int own_ctx;                /* cg_init made ctx (else the caller's, e.g. a JIT's) */
    int module_taken;           /* mod was handed over (to a JIT): do not dispose it */
    int capture;                /* BackendOptions.capture: emit kiln_capture calls */
    int64_t *kv_view;           /* by node id of the graph being emitted: cg_kv_view's answer */
} Cg;

/* backend/forward.c: for a CACHE or STATE_READ node whose value only attention reads (as
 * keys or values), the extent of its state along the time axis, else 0. Such a node is a
 * view: a cache's kernel only writes x into the state, a state_read's does nothing, and
 * attention reads the rows of each (batch, head) from the state itself, that many rows
 * apart, instead of a contiguous copy made every call (2·past rows moved per layer per
 * token for a KV cache; the encoder's memory, for cross-attention, every step). */
int64_t cg_kv_view(const Cg *cg, const Node *n);
/* The graph whose kernels are being emitted (cg_kv_view's table), NULL after. */
void cg_set_graph(Cg *cg, const Graph *g);

/* backend/target.c: the target machine for o (triple, CPU, features, opt level, PIC) and
 * an empty module. If cg->ctx is set on entry, that context is used (and not disposed). */
int cg_init(Cg *cg, const Module *m, const BackendOptions *o, Diag *d);
void cg_dispose(Cg *cg);

/* backend/kernels.c: the kernel for node n (emitted on first use, then reused). */
LLVMValueRef cg_kernel(Cg *cg, const Node *n);

/* An intrinsic by name ("llvm.fmuladd"), overloaded on the given types. */
LLVMValueRef cg_intrinsic(Cg *cg, const char *name, LLVMTypeRef *types, int n_types);

/* backend/debuginfo.c: where each kernel came from. A kernel site is one kernel function
 * with the first node that needed it (its name is in the kernel's) and how many nodes call
 * it; sites are in graph order. */
typedef struct KernelSite {
    LLVMValueRef fn;            /* valid until optimization (which may delete functions) */
    char *name;                 /* the kernel's symbol: "k.l0.attn" */
    const Node *node;
    int n_nodes;
} KernelSite;

typedef struct KernelSites {
    KernelSite *v;
    int n, cap;
} KernelSites;

/* Whether node n is a kernel call of forward (not an input, a weight or an alias: forward.c). */
int cg_is_call_site(const Node *n);

/* Emits the kernel of every node of g that forward calls (cg_kernel), in graph order,
 * filling ks; o's progress hook hears "kernels" after each node. */
void cg_emit_kernels(Cg *cg, const Graph *g, const BackendOptions *o, KernelSites *ks);
void kernel_sites_free(KernelSites *ks);
/* "node 'l0.attn' (attention, f32[1, seq, 64]) from model.xml:57", with the count of
 * other nodes sharing the kernel, into buf. */
void kernel_site_describe(const Cg *cg, const KernelSite *s, char *buf, size_t cap);
/* -g: a compile unit named after the model file, a subprogram per kernel at its node's
 * line and one per forward function (kiln_forward and its profiled twin), a location on
 * every instruction (forward's: the node each call is for). Run before optimization, so
 * inlining keeps the chain. */
void cg_debug_info(Cg *cg, const Graph *g, const KernelSites *ks, LLVMValueRef const *forwards, int n_forwards);

/* backend/emit.c: the written assembly file at path, each kernel's label preceded by
 * comment lines naming its node (kernel_site_describe); and, for --emit=llvm, the same
 * as !kiln.node metadata on each kernel function. */
int cg_annotate_asm(Cg *cg, const KernelSites *ks, const char *path, Diag *d);
void cg_annotate_ir(Cg *cg, const KernelSites *ks);

#endif
