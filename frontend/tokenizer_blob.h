/* tokenizer_blob.h — the tokenizer blob writer that the frontend's tokenizer loaders share.
 *
 * A loader adds the tokens in id order with their decoded bytes, score and flags, says
 * which of them text may match (the piece hash), sets the special ids, the byte tokens,
 * the merges or the charsmap its kind needs, then writes the blob (runtime/tokenizer.h).
 * Private to frontend/tokenizer_*.c. */
#ifndef KILN_FRONTEND_TOKENIZER_BLOB_H
#define KILN_FRONTEND_TOKENIZER_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/tokenizer.h"
#include "support/support.h"

typedef struct TokBlob {
    uint32_t kind;                  /* enum RtTokKind */
    uint32_t flags;                 /* RT_TOK_F_* */
    uint32_t bos_id, eos_id, unk_id, pad_id;    /* RT_TOK_NO_ID for none (tok_blob_init) */

    /* the tokens, by id */
    uint32_t n;
    uint32_t *start;                /* (n + 1) token id's bytes: bytes[start[id] .. start[id+1]) */
    uint8_t *bytes;
    size_t n_bytes;
    float *score;                   /* (n) */
    uint8_t *tflags;                /* (n) RT_TOK_FLAG_* */
    uint8_t *hashed;                /* (n) whether text may match the token (the piece hash) */
    uint32_t cap, cap_bytes;

    int has_byte_ids;               /* byte_ids below are meaningful */
    uint32_t byte_ids[256];
    int with_scores;                /* write scores and token_flags (SentencePiece kinds) */

    const RtTokMerge *merges;       /* (merge_slots) a ready table (GPT-2), not owned */
    uint32_t merge_slots, n_merges;
    const uint8_t *charsmap;        /* not owned */
    uint32_t charsmap_size;
} TokBlob;

void tok_blob_init(TokBlob *b, uint32_t kind);
void tok_blob_free(TokBlob *b);

/* Adds the next token (id b->n) and returns its id. */
uint32_t tok_blob_add(TokBlob *b, const void *bytes, size_t len, float score, unsigned flags,
                      int hashed);

/* The first token whose bytes are s[0..n) among those with hashed set, or RT_TOK_NO_ID.
 * Linear: for the few look-ups a loader makes (a dummy-prefix space, byte tokens use
 * their own index). */
uint32_t tok_blob_find(const TokBlob *b, const void *s, size_t n);

/* The byte length (1 to 4) of the valid UTF-8 character at s[0..n), n >= 1, or 0 when the
 * bytes there are not one (strict: no overlongs, surrogates or code points above U+10FFFF,
 * as the runtime's check of text). */
int tok_utf8_char(const uint8_t *s, size_t n);

/* A line of a vocabulary file, without its newline (nor a \r before it). */
typedef struct Line {
    const uint8_t *s;
    size_t n;
} Line;
/* Splits a file into lines (a final newline ends the last line, it does not start one) into
 * *out (xmalloc'd). Returns the count, or -1 after reporting more lines than a vocabulary
 * may have. */
long tok_split_lines(Diag *d, const char *name, const uint8_t *p, size_t len, Line **out);
/* s[0..n) for a message: at most 40 bytes (whole characters, then "..."), control bytes
 * shown as '?'. */
const char *tok_show(char out[48], const uint8_t *s, size_t n);

/* Writes the blob: 0 with *blob malloc'd (free()), or -1 after reporting through d, naming
 * the file name, when the tables would not fit the format's limits. */
int tok_blob_write(TokBlob *b, Diag *d, const char *name, void **blob, size_t *size);

/* A loader over a file's bytes (name for messages), and the same over the file at path:
 * reads it whole, runs build, frees it. 0 with *blob malloc'd, or -1 after reporting. */
typedef int TokBuildMem(Diag *d, const char *name, const void *data, size_t len, void **blob, size_t *size);
int tok_build_file(Diag *d, const char *path, TokBuildMem *build, void **blob, size_t *size);

#endif
