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
 * part of the ABI: the backend builds the same fields in the same order. */
#ifndef KILN_RUNTIME_MODEL_H
#define KILN_RUNTIME_MODEL_H

#include <stdint.h>

#define KILN_ABI_VERSION 1u

typedef struct KilnModel {
    uint32_t abi_version;       /* KILN_ABI_VERSION */
    uint32_t flags;             /* reserved, 0 */
    const char *name;           /* the model's name */
    const char *kiln_version;   /* the kiln that compiled it */
    const char *target;         /* target triple */
    const char *cpu;            /* CPU the kernels were tuned for */
    int64_t vocab;              /* logits per position */
    int64_t max_seq;            /* most positions per forward call (the bound of seq) */
    int64_t max_positions;      /* context: the bound of past + seq */
    int64_t eos_id;             /* end-of-text token, -1 if none */
    uint64_t arena_bytes;       /* activations and states, one block, 64-byte aligned */
    uint64_t weights_bytes;     /* size of the weights blob */
    uint64_t weights_check;     /* rt_weights_check of the blob (runtime/runtime.h) */
    const void *weights;        /* the embedded blob, 64-byte aligned; NULL: external file */
    const void *tokenizer;      /* tokenizer blob (runtime/tokenizer.h), NULL if none */
    uint64_t tokenizer_bytes;
    /* Runs the model on tokens[0..seq) at positions past .. past+seq-1 (the caches in the
     * arena hold positions 0 .. past-1; this call appends seq more). Returns the logits
     * (seq, vocab), row-major, inside the arena. The caller guarantees 1 <= seq <= max_seq,
     * past + seq <= max_positions and 0 <= tokens[i] < vocab. */
    const float *(*forward)(void *arena, const void *weights, const int32_t *tokens, int64_t seq, int64_t past);
} KilnModel;

extern const KilnModel kiln_model;

#endif
