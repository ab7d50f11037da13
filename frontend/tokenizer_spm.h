/* tokenizer_spm.h — tokenizer files of the SentencePiece family, and Hugging Face's
 * tokenizer.json, to runtime tokenizer blobs (runtime/tokenizer.h).
 *
 * Every function returns 0 with *blob a malloc'd blob of *size bytes (free it with free()),
 * or -1 after reporting every problem through d as a user error naming the file and, where
 * there is one, the byte offset (binary files) or line and column (JSON). The _mem forms read
 * from memory (need not be NUL-terminated); name is used in messages. docs/tokenizers.md
 * describes each format, the blob it becomes and its messages. */
#ifndef KILN_FRONTEND_TOKENIZER_SPM_H
#define KILN_FRONTEND_TOKENIZER_SPM_H

#include <stddef.h>

#include "support/support.h"

/* llama2.c's tokenizer.bin (int32 max_token_length; per token float32 score, int32 length,
 * bytes; as many tokens as the file holds) → RT_TOK_SPM_BPE with llama2.c's rules. */
int fe_llama2c_tokenizer_build(Diag *d, const char *path, void **blob, size_t *size);
int fe_llama2c_tokenizer_build_mem(Diag *d, const char *name, const void *data, size_t len,
                                   void **blob, size_t *size);

/* A SentencePiece model file (serialized sentencepiece.ModelProto; unigram or BPE) →
 * RT_TOK_SPM_UNIGRAM or RT_TOK_SPM_BPE with SentencePiece's normalizer and rules. */
int fe_spm_tokenizer_build(Diag *d, const char *path, void **blob, size_t *size);
int fe_spm_tokenizer_build_mem(Diag *d, const char *name, const void *data, size_t len,
                               void **blob, size_t *size);

/* A Hugging Face tokenizer.json: BPE with the ByteLevel pre-tokenizer (GPT-2 style) →
 * RT_TOK_GPT2, through tokenizer_gpt2.c. */
int fe_hf_tokenizer_build(Diag *d, const char *path, void **blob, size_t *size);
int fe_hf_tokenizer_build_mem(Diag *d, const char *name, const void *data, size_t len,
                              void **blob, size_t *size);

/* The number of tokens of a blob written by these functions (or any valid blob); 0 if the
 * blob is too short to say. */
unsigned fe_tokenizer_blob_tokens(const void *blob, size_t size);

#endif
