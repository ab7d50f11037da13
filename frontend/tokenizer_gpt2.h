/* tokenizer_gpt2.h — GPT-2 tokenizer files to a runtime tokenizer blob (runtime/tokenizer.h).
 *
 * Temporary public header of frontend/tokenizer_gpt2.c, to be folded into frontend/frontend.h.
 * All three functions return 0 on success, with *blob a malloc'd tokenizer blob of *size
 * bytes (free it with free()), and -1 after reporting every problem through d as a user error
 * naming the file and, where there is one, the line and column. */
#ifndef KILN_FRONTEND_TOKENIZER_GPT2_H
#define KILN_FRONTEND_TOKENIZER_GPT2_H

#include <stddef.h>

#include "support/support.h"

/* The vocabulary (encoder.json or Hugging Face's vocab.json: a JSON object mapping token
 * strings, written with GPT-2's byte-to-unicode stand-ins, to dense ids 0..n-1) and the merges
 * (vocab.bpe or merges.txt: an optional "#version" first line, then "A B" lines in priority
 * order). */
int fe_gpt2_tokenizer_build(Diag *d, const char *vocab_path, const char *merges_path,
                            void **blob, size_t *size);

/* The same from memory (need not be NUL-terminated); the names are used in messages. */
int fe_gpt2_tokenizer_build_mem(Diag *d, const char *vocab_name, const char *vocab,
                                size_t vocab_len, const char *merges_name, const char *merges,
                                size_t merges_len, void **blob, size_t *size);

/* The files of a folder: encoder.json or vocab.json, and vocab.bpe or merges.txt. */
int fe_gpt2_tokenizer_build_dir(Diag *d, const char *dir, void **blob, size_t *size);

#endif
