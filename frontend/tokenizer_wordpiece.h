/* tokenizer_wordpiece.h — BERT's vocab.txt to a WordPiece tokenizer blob (runtime/tokenizer.h).
 *
 * Returns 0 with *blob a malloc'd blob of *size bytes (free it with free()), or -1 after
 * reporting every problem of the file through d as a user error naming the file and line.
 * lowercase: BERT uncased (lower-case, strip accents) or cased. The _mem form reads from
 * memory (need not be NUL-terminated); name is used in messages. docs/tokenizers.md describes
 * the file, the blob it becomes and its messages. */
#ifndef KILN_FRONTEND_TOKENIZER_WORDPIECE_H
#define KILN_FRONTEND_TOKENIZER_WORDPIECE_H

#include <stddef.h>

#include "support/support.h"

/* Limits of vocab.txt: bytes of one line (a piece longer than 100 characters can never match)
 * and of the whole file. */
#define FE_WORDPIECE_MAX_LINE 512
#define FE_WORDPIECE_MAX_FILE (64u << 20)

int fe_wordpiece_tokenizer_build(Diag *d, const char *path, int lowercase, void **blob,
                                 size_t *size);
int fe_wordpiece_tokenizer_build_mem(Diag *d, const char *name, const void *data, size_t len,
                                     int lowercase, void **blob, size_t *size);

#endif
