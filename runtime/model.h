/* model.h — the interface between the code kiln generates and the runtime it links with.
 *
 * Every produced executable contains one `kiln_model`, emitted by the backend: metadata, the
 * weights (embedded, or NULL when they sit in a side file), the tokenizer blob and the
 * generated forward function. The runtime (main.c) owns the process: it parses the command
 * line, allocates the arena once, maps external weights if needed, and drives the
 * generation loop, calling forward for the prompt and then once per token.
 *
 * The arena holds every activation and every state (KV caches) at offsets planned at
 * compile time; forward allocates nothing. Shapes in comments use the model's dims:
 * seq (new positions this call), past (positions already cached). Layout of this struct is
 * part of the ABI: the backend builds the same fields in the same order.
 *
 * Threads (ABI 2). Every kernel computes a share (part, parts) of its node's output
 * (backend/backend_impl.h), and forward calls each one as
 *     if (work >= kiln_parallel_min_work) kiln_parallel(kernel, args, work);
 *     else kernel(args[0..7), 0, 1);
 * where work is the node's cost at this call's seq and past, in units of about one
 * multiply-add (matmul: M·N·K) or one element moved (backend/forward.c lists them). The
 * runtime (runtime/threads.c) defines both symbols: the threshold is INT64_MAX with one
 * thread, so a one-thread run calls every kernel directly. */
#ifndef KILN_RUNTIME_MODEL_H
#define KILN_RUNTIME_MODEL_H

#include <stdint.h>

#define KILN_ABI_VERSION 6u

/* A generated kernel: y, x0..x3, syms, aux as backend/backend_impl.h says, and the share
 * part (0 <= part < parts) of the output it computes. */
typedef void (*KilnKernel)(void *y, const void *x0, const void *x1, const void *x2, const void *x3,
                           const int64_t *syms, void *aux, int64_t part, int64_t parts);

/* Runs fn(args[0..7), part, parts) for part = 0 .. parts-1 on the thread pool (the calling
 * thread runs parts too) and returns when all are done; parts = min(the pool's threads,
 * work / (kiln_parallel_min_work / 2)), and with parts = 1 it is just fn(args, 0, 1).
 * Allocates nothing. Called by the generated forward only, from one thread at a time. */
void kiln_parallel(KilnKernel fn, void *const args[7], int64_t work);
/* forward calls kiln_parallel only for work >= this (INT64_MAX: never). */
extern int64_t kiln_parallel_min_work;

/* Capture builds (KILN_MODEL_CAPTURE in flags, made for `kiln diff`): forward calls this
 * after every node but inputs and weights, in graph order, with the node's index in the
 * compiled graph, its value y (in the arena) and its size at this call's seq and past.
 * The runtime writes it to the file of the hidden option --capture (runtime/capture.h). */
void kiln_capture(int64_t node, void *y, int64_t bytes);
#define KILN_MODEL_CAPTURE 1u

/* A kernel call site of forward, for --profile: the node's name in the compiled graph and
 * its op kind ("linear", "attention", ...). */
typedef struct KilnSite {
    const char *name;
    const char *op;
} KilnSite;

/* Profiled forward only: around call site `site` (0 .. n_sites-1), as the caller sees it
 * (kiln_parallel's fan-out included). flops and bytes are the node's work at this call's
 * seq and past: floating-point operations (a multiply-add counts 2) and bytes of its
 * inputs read plus its output written once (backend/forward.c lists the formulas). */
void kiln_profile_enter(int64_t site);
void kiln_profile_exit(int64_t site, int64_t flops, int64_t bytes);

/* ABI 5: the model's symbolic dims (batch, seq, past, src) in order: every run takes their
 * values for this call in an array in this order. */
#define KILN_MAX_DIMS 8
typedef struct KilnDim {
    const char *name;
    int64_t max;                        /* its bound */
} KilnDim;

/* ABI 5: a graph input or output as the runtime sees it. Encoders name their inputs
 * `tokens`, `token_types` and `valid` (1 = a real token, 0 = padding), all (batch, seq), and
 * their outputs `logits` (batch, seq, vocab: the masked-LM head), `replaced` (batch, seq:
 * ELECTRA's discriminator), `hidden` (batch, seq, d) and `pooled` (batch, d). Sequence-to-
 * sequence models: `encode` takes `src` and `src_valid` (batch, src); `decode` takes `tokens`
 * (batch, seq) at `past`, and `src_valid`, and gives `logits` (batch, seq, vocab). */
#define KILN_MAX_RANK 4
#define KILN_MAX_IO 16                  /* the most inputs, and the most outputs, of a graph */
enum { KILN_F32 = 0, KILN_I32 = 1 };
enum { KILN_DECODER = 0, KILN_ENCODER = 1, KILN_SEQ2SEQ = 2 };
typedef struct KilnTensor {
    const char *name;
    int32_t dtype;                      /* KILN_F32 or KILN_I32 */
    int32_t rank;                       /* 1 .. KILN_MAX_RANK */
    int64_t dims[KILN_MAX_RANK];        /* a size (> 0), or -1 - k: the value of kiln_model.dims[k] */
    int64_t limit;                      /* inputs: values lie in [0, limit) (the rows of the table
                                           they index), 0 if unbounded; outputs: 0 */
} KilnTensor;

/* A generated graph: inputs[i] is input i (i32, its shape at this call's dims, packed
 * row-major); the call sets outputs[j] to output j (f32, packed) inside the arena. dims are
 * the values of kiln_model.dims for this call, each in 1 .. its bound (past: 0 .. bound). */
typedef void (*KilnRun)(void *arena, const void *weights, const void *const *inputs, const int64_t *dims,
                        const void **outputs);

typedef struct KilnGraph {
    const char *name;
    KilnRun run;                        /* NULL: the model has no such graph */
    int32_t n_inputs, n_outputs;
    const KilnTensor *inputs;           /* (n_inputs) */
    const KilnTensor *outputs;          /* (n_outputs) */
} KilnGraph;

/* ABI 6: what the kernels need of the processor (kiln_model.cpu_needs), checked by the
 * executable before anything runs (runtime/cpu.c). On x86-64 the groups are the psABI
 * levels the named CPU reaches, on aarch64 SVE with vectors of at least sve_bits. */
enum {
    KILN_CPU_X86_V2 = 1u << 0,      /* SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B */
    KILN_CPU_X86_AVX = 1u << 1,     /* AVX, with the OS saving ymm registers */
    KILN_CPU_X86_V3 = 1u << 2,      /* AVX2, BMI1, BMI2, F16C, FMA, LZCNT, MOVBE */
    KILN_CPU_X86_V4 = 1u << 3,      /* AVX-512 F, BW, CD, DQ, VL, with the OS saving zmm */
    KILN_CPU_SVE = 1u << 8,         /* SVE, vectors of at least sve_bits */
};

/* A state (KV cache, encoder memory) in the arena, with its shape at the bounds: beam search
 * reorders its rows (batch axis 0) without running the model. */
typedef struct KilnState {
    const char *name;
    uint64_t offset, bytes;             /* in the arena */
    uint64_t row_bytes;                 /* one batch row (batch axis 0), 0 without a batch axis */
} KilnState;

typedef struct KilnModel {
    uint32_t abi_version;       /* KILN_ABI_VERSION */
    uint32_t flags;             /* KILN_MODEL_CAPTURE or 0 */
    const char *name;           /* the model's name */
    const char *kiln_version;   /* the kiln that compiled it */
    const char *target;         /* target triple */
    const char *cpu;            /* CPU the kernels were tuned for */
    int64_t vocab;              /* logits per position (encoders without logits: token ids) */
    int64_t max_seq;            /* most positions per forward call (the bound of seq) */
    int64_t max_positions;      /* context: the bound of past + seq */
    int64_t eos_id;             /* end-of-text token, -1 if none */
    uint64_t arena_bytes;       /* activations and states, one block, 64-byte aligned */
    uint64_t weights_bytes;     /* size of the weights blob */
    uint64_t weights_check;     /* rt_weights_check of the blob (runtime/runtime.h) */
    const void *weights;        /* the embedded blob, 64-byte aligned; NULL: external file */
    const void *tokenizer;      /* tokenizer blob (runtime/tokenizer.h), NULL if none */
    uint64_t tokenizer_bytes;
    /* ABI 5: the model's main graph (KilnGraph says how it is called): `forward`, or `decode`
     * of a sequence-to-sequence model. Decoders (kind KILN_DECODER): the input `tokens`
     * (batch, seq) at positions past .. past+seq-1 (the caches in the arena hold positions
     * 0 .. past-1; this call appends seq more) and the output `logits` (batch, seq, vocab).
     * Encoders: past is none and the caches are none. The caller guarantees every dim within
     * its bound, past + seq <= max_positions and 0 <= tokens < vocab. */
    KilnRun run;
    uint64_t weights_hash;      /* rt_weights_hash of the whole blob: --verify-weights */
    /* ABI 4: --profile. The same run, emitted a second time with every kernel call site
     * between kiln_profile_enter(site) and kiln_profile_exit(site, flops, bytes) (below);
     * main calls it instead of run only when profiling, so an ordinary run pays nothing. */
    KilnRun run_profiled;
    int64_t n_sites;            /* kernel call sites of forward, in call order */
    const KilnSite *sites;      /* (n_sites) */
    int32_t vector_lanes;       /* f32 lanes of the kernels' vectors (4, 8, 16): the peak probe's width */
    int32_t has_fma;            /* the kernels use fused multiply-add */
    /* ABI 4: --selftest (kiln compile --selftest), selftest_n = 0 without. The reference
     * interpreter's logits (selftest_n, vocab) for selftest_tokens, fed in one forward call
     * at past 0 (1 <= selftest_n <= max_seq). */
    int64_t selftest_n;
    const int32_t *selftest_tokens;     /* (selftest_n) */
    const float *selftest_logits;       /* (selftest_n, vocab), row-major */
    /* ABI 5 */
    int32_t kind;                       /* KILN_DECODER, KILN_ENCODER or KILN_SEQ2SEQ */
    int32_t n_dims;                     /* 1 .. KILN_MAX_DIMS */
    const KilnDim *dims;                /* (n_dims) */
    int32_t n_inputs, n_outputs;        /* run's inputs and outputs, in order */
    const KilnTensor *inputs;           /* (n_inputs) */
    const KilnTensor *outputs;          /* (n_outputs) */
    KilnGraph encode;                   /* KILN_SEQ2SEQ: `encode`, run once per batch of sources */
    int32_t n_states;
    const KilnState *states;            /* (n_states) */
    int64_t bos_id;                     /* the model's start token (param `bos`), -1 if none */
    /* ABI 6 */
    uint32_t cpu_needs;                 /* KILN_CPU_* groups the kernels use */
    int32_t sve_bits;                   /* with KILN_CPU_SVE: the vector bits they assume at least */
} KilnModel;

extern const KilnModel kiln_model;

#endif
