/* tokenizer_impl.h — private to the runtime's tokenizers: the per-kind encoders that
 * rt_tok_encode (tokenizer.c) dispatches to, and small helpers over an opened blob.
 *
 * Every encoder is called after tokenizer.c has checked that the text is valid UTF-8 and not
 * empty, with err_at never NULL, and returns what rt_tok_encode returns. rt_tok_open has
 * checked the blob, so ids, offsets and table contents need no checks here. Only runtime
 * files include this header. */
#ifndef KILN_RUNTIME_TOKENIZER_IMPL_H
#define KILN_RUNTIME_TOKENIZER_IMPL_H

#include "runtime/tokenizer.h"

#include <stddef.h>
#include <stdint.h>

static inline uint32_t tok_piece_len(const RtTokenizer *t, uint32_t id)
{
    return t->piece_index[id + 1] - t->piece_index[id];
}

static inline const uint8_t *tok_piece(const RtTokenizer *t, uint32_t id)
{
    return t->pieces + t->piece_index[id];
}

static inline unsigned tok_flags(const RtTokenizer *t, uint32_t id)
{
    return t->token_flags ? t->token_flags[id] : 0;
}

/* The id of the piece whose bytes are s[0..n) in the piece hash, or RT_TOK_NO_ID (also
 * without a piece hash). tokenizer.c. */
uint32_t tok_find_piece(const RtTokenizer *t, const uint8_t *s, size_t n);

/* Whether the piece hash holds only ids in range and at least one empty slot (which ends
 * every probe of tok_find_piece). tokenizer.c. */
int tok_piece_hash_ok(const RtTokenizer *t);

/* GPT-2 byte-level BPE (bpe.c). */
long tok_gpt2_encode(const RtTokenizer *t, const uint8_t *s, size_t len, uint32_t *ids,
                     size_t cap, size_t *err_at);

/* SentencePiece BPE and llama2.c, merges by score (spm_bpe.c). */
long tok_spm_bpe_encode(const RtTokenizer *t, const uint8_t *s, size_t len, uint32_t *ids,
                        size_t cap, size_t *err_at);

/* SentencePiece unigram, Viterbi (spm_unigram.c). */
long tok_spm_unigram_encode(const RtTokenizer *t, const uint8_t *s, size_t len, uint32_t *ids,
                            size_t cap, size_t *err_at);

/* BERT WordPiece (wordpiece.c): the basic tokenizer, then greedy longest match. */
long tok_wordpiece_encode(const RtTokenizer *t, const uint8_t *s, size_t len, uint32_t *ids,
                          size_t cap, size_t *err_at);

/* Checks a WordPiece blob's arrays and flags (wordpiece.c) and sets cls_id, sep_id, mask_id.
 * Returns RT_TOK_OK or RT_TOK_ECORRUPT. */
int tok_wordpiece_check(RtTokenizer *t, const RtTokHeader *h);

/* One token per character (chars.c): each UTF-8 character's symbol through the piece hash,
 * else unk_id, else RT_TOK_EUNKNOWN. */
long tok_chars_encode(const RtTokenizer *t, const uint8_t *s, size_t len, uint32_t *ids,
                      size_t cap, size_t *err_at);

/* Checks a character blob's arrays, flags and pieces (chars.c). Returns RT_TOK_OK or
 * RT_TOK_ECORRUPT. */
int tok_chars_check(const RtTokenizer *t, const RtTokHeader *h);

/* SentencePiece's normalizer (spm_norm.c): the charsmap, whitespace rules, dummy prefix and
 * U+2581, as the flags say. Returns a malloc'd string of *out_len bytes (the caller frees
 * it), or NULL when out of memory. The text is valid UTF-8 and not empty; the result may be
 * empty (text of spaces only). */
uint8_t *tok_spm_normalize(const RtTokenizer *t, const uint8_t *s, size_t len, size_t *out_len);

/* Checks the charsmap (spm_norm.c): the trie size, that every trie value points at a
 * NUL-terminated string inside the map; sets t->charsmap_trie_size and t->max_expand.
 * Returns RT_TOK_OK or RT_TOK_ECORRUPT. */
int tok_charsmap_check(RtTokenizer *t);

#endif
