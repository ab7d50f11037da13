/* tokenizer_chars.h — a character vocabulary (vocab.txt of a character-level model) to a
 * character tokenizer blob (runtime/tokenizer.h, RT_TOK_CHARS).
 *
 * Returns 0 with *blob a malloc'd blob of *size bytes (free it with free()), or -1 after
 * reporting every problem of the file through d as a user error naming the file, line and
 * column. The _mem form reads from memory (need not be NUL-terminated); name is used in
 * messages. docs/tokenizers.md describes the file, the blob it becomes and its messages. */
#ifndef KILN_FRONTEND_TOKENIZER_CHARS_H
#define KILN_FRONTEND_TOKENIZER_CHARS_H

#include <stddef.h>

#include "support/support.h"

int fe_chars_tokenizer_build(Diag *d, const char *path, void **blob, size_t *size);
int fe_chars_tokenizer_build_mem(Diag *d, const char *name, const void *data, size_t len,
                                 void **blob, size_t *size);

#endif
