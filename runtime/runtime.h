/* runtime.h — what a produced executable contains besides its kernels: tokenizers,
 * samplers and the generation loop. `kiln run` links the same code and plugs the reference
 * interpreter in as the forward function, so both behave alike.
 *
 * The runtime depends on libc, libm and pthreads only, and allocates nothing inside the
 * decode loop: rt_generate takes its scratch from the caller. */
#ifndef KILN_RUNTIME_H
#define KILN_RUNTIME_H

#include <stdint.h>
#include <stdio.h>

#include "runtime/tokenizer.h"

/* The model, seen from the generation loop: feed n new tokens (batch 1), get the logits
 * of the last one. The forward function owns the KV cache and its position. */
typedef struct RtForward {
    void *ctx;
    int (*step)(void *ctx, const int32_t *tokens, int n, float *logits);   /* 0 = ok */
    int vocab;              /* logits per position */
    int max_positions;      /* context length: prompt + new tokens must fit */
} RtForward;

typedef struct RtSampler {
    float temperature;      /* 0 = greedy */
    int top_k;              /* 0 = off */
    float top_p;            /* 1 = off */
    uint64_t seed;
} RtSampler;

/* Picks the next token from logits (vocab). scratch holds vocab floats and vocab ints. */
int rt_sample(const RtSampler *s, uint64_t *rng, float *logits, int vocab, float *probs, int32_t *order);

typedef struct RtGenStats {
    int prompt_tokens, new_tokens;
    double prefill_seconds, decode_seconds;
} RtGenStats;

/* Feeds the prompt, then generates up to n_new tokens (stopping at stop_id unless it is
 * negative), writing each token's text to out as soon as it is known. The generated ids
 * go to gen (n_new entries) when it is not NULL. Returns the count generated, or -1 when
 * the forward function failed (it reports why). */
int rt_generate(const RtForward *f, const RtTokenizer *tok, const RtSampler *s, const int32_t *prompt,
                int n_prompt, int n_new, int32_t stop_id, FILE *out, int32_t *gen, RtGenStats *stats);

#endif
