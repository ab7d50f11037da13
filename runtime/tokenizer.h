/* tokenizer.h — the runtime's tokenizers and the table format the compiler writes for them.
 *
 * The compiler (frontend/tokenizer_*.c) reads a model's tokenizer files once and writes a
 * tokenizer blob; the blob is embedded in the produced executable, which reads it in place
 * with rt_tok_open — no JSON, no parsing, no allocation. The blob is position independent:
 * a fixed header (RtTokHeader) followed by arrays found through byte offsets from the start
 * of the blob. Every integer is little-endian; the runtime reads the blob in place, so it
 * runs on little-endian targets only (x86-64, aarch64 Linux) and says so (RT_TOK_EENDIAN)
 * when it meets a blob on a big-endian host. The blob must be 4-byte aligned in memory.
 * It may come from a corrupted file: rt_tok_open checks every offset, count and id before
 * anything else touches the blob, so the other functions need no checks of their own.
 *
 * Arrays of blob version 1 (offsets are multiples of 4; an offset of 0 means "absent"):
 *   piece_index  u32[n_tokens + 1]   token i's bytes are pieces[piece_index[i] .. piece_index[i+1])
 *   pieces       u8[piece_bytes]     the bytes of every token, concatenated (raw bytes, not
 *                                    GPT-2's printable stand-ins; any kind of tokenizer)
 *   byte_ids     u32[256]            the token of each single byte (byte-level BPE)
 *   merges       RtTokMerge[merge_slots]  BPE merges, an open-addressing hash table keyed by
 *                                    (left, right): slot rt_tok_pair_hash(l, r) & (slots - 1),
 *                                    then linear probing; empty slots are all RT_TOK_NO_ID
 *   scores       f32[n_tokens]       reserved for SentencePiece BPE (merge by score)
 *   token_flags  u8[n_tokens]        reserved (RT_TOK_FLAG_*)
 *
 * Kinds: RT_TOK_GPT2 is implemented (runtime/bpe.c); RT_TOK_WORDPIECE and RT_TOK_SPM name
 * the next ones, whose blobs use the same header and arrays (pieces and a merge or score
 * table); rt_tok_open answers RT_TOK_EKIND for them until they are written.
 *
 * Ids are int32_t in the API (as llama2.c's int tokens), uint32_t in the blob. */
#ifndef KILN_RUNTIME_TOKENIZER_H
#define KILN_RUNTIME_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

/* ---- the blob -------------------------------------------------------------- */

#define RT_TOK_MAGIC   0x4B4F544Bu      /* the bytes "KTOK" read as a little-endian u32 */
#define RT_TOK_VERSION 1u
#define RT_TOK_NO_ID   0xFFFFFFFFu      /* absent id; also marks an empty merge slot */

/* Limits the compiler enforces and the runtime checks: far above real vocabularies
 * (GPT-2: 50257 tokens, 50000 merges; the largest in use about 256K), low enough that every
 * size computed from them fits in 32 bits. */
#define RT_TOK_MAX_TOKENS (1u << 22)
#define RT_TOK_MAX_MERGES (1u << 22)

enum RtTokKind {
    RT_TOK_GPT2 = 1,            /* GPT-2 byte-level BPE: regex pre-split, merges by rank */
    RT_TOK_WORDPIECE = 2,       /* BERT WordPiece (not implemented yet) */
    RT_TOK_SPM = 3,             /* llama2.c / SentencePiece BPE by score (not implemented yet) */
};

enum {
    RT_TOK_FLAG_SPECIAL = 1,    /* a control token (<|endoftext|>, [CLS]...) */
};

typedef struct RtTokHeader {    /* 96 bytes at offset 0 of the blob */
    uint32_t magic;             /* RT_TOK_MAGIC */
    uint32_t version;           /* RT_TOK_VERSION */
    uint32_t kind;              /* enum RtTokKind */
    uint32_t size;              /* bytes of the whole blob, header included */
    uint32_t n_tokens;          /* vocabulary size; ids are 0 .. n_tokens-1 */
    uint32_t n_merges;          /* used slots of the merge table; ranks are 0 .. n_merges-1 */
    uint32_t merge_slots;       /* a power of two > n_merges, or 0 without merges */
    uint32_t piece_bytes;       /* length of the pieces array */
    uint32_t off_piece_index;
    uint32_t off_pieces;
    uint32_t off_byte_ids;
    uint32_t off_merges;
    uint32_t off_scores;
    uint32_t off_token_flags;
    uint32_t bos_id, eos_id, unk_id, pad_id;    /* RT_TOK_NO_ID when the model has none */
    uint32_t reserved[6];       /* zero in version 1 */
} RtTokHeader;

typedef struct RtTokMerge {     /* one slot of the merge table, 16 bytes */
    uint32_t left, right;       /* the pair of token ids; left == RT_TOK_NO_ID: empty */
    uint32_t rank;              /* priority: lower merges first (line order of vocab.bpe) */
    uint32_t merged;            /* the token of left's bytes followed by right's */
} RtTokMerge;

_Static_assert(sizeof(RtTokHeader) == 96, "RtTokHeader is part of the blob format");
_Static_assert(sizeof(RtTokMerge) == 16, "RtTokMerge is part of the blob format");

/* The slot a pair hashes to (before masking). Part of the format: the compiler fills the
 * table with it. Fibonacci hashing of the 64-bit key; the high half of the product. */
static inline uint32_t rt_tok_pair_hash(uint32_t left, uint32_t right)
{
    uint64_t key = ((uint64_t)left << 32) | right;
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32);
}

/* ---- the runtime API --------------------------------------------------------- */

/* Error codes: negative, so that functions returning a count can return them. */
enum {
    RT_TOK_OK = 0,
    RT_TOK_ETRUNC = -1,         /* blob shorter than its header or its size field */
    RT_TOK_EMAGIC = -2,         /* not a tokenizer blob */
    RT_TOK_EENDIAN = -3,        /* blob written for the other byte order */
    RT_TOK_EVERSION = -4,       /* blob version this runtime does not know */
    RT_TOK_EKIND = -5,          /* tokenizer kind this runtime does not implement */
    RT_TOK_EALIGN = -6,         /* blob or one of its offsets not 4-byte aligned */
    RT_TOK_EBOUNDS = -7,        /* an array lies (partly) outside the blob, or a count too large */
    RT_TOK_ECORRUPT = -8,       /* inconsistent contents (ids out of range, bad merge table...) */
    RT_TOK_EUTF8 = -9,          /* text to encode is not valid UTF-8 (see err_at) */
    RT_TOK_ENOSPACE = -10,      /* output buffer too small */
    RT_TOK_EID = -11,           /* token id out of range (see err_at) */
};

/* An opened tokenizer: pointers into the caller's blob, which must outlive it. */
typedef struct RtTokenizer {
    uint32_t kind;
    uint32_t n_tokens;
    uint32_t n_merges;
    uint32_t merge_mask;            /* merge_slots - 1 (unused without merges) */
    uint32_t bos_id, eos_id, unk_id, pad_id;
    uint32_t max_piece_len;         /* bytes of the longest token */
    const uint32_t *piece_index;    /* (n_tokens + 1) */
    const uint8_t *pieces;          /* (piece_bytes) */
    const uint32_t *byte_ids;       /* (256) or NULL */
    const RtTokMerge *merges;       /* (merge_slots) or NULL */
} RtTokenizer;

/* Checks the blob (every offset, count and id; it may come from a corrupted file) and fills
 * *t. Returns RT_TOK_OK or a negative RT_TOK_E* code. */
int rt_tok_open(const void *blob, size_t size, RtTokenizer *t);

/* Encodes UTF-8 text (len bytes, need not be NUL-terminated) into ids[0..cap). Returns the
 * number of ids, or a negative code: RT_TOK_EUTF8 with *err_at = byte offset of the first
 * invalid or truncated sequence (nothing is encoded then), RT_TOK_ENOSPACE with *err_at =
 * the byte offset of the text not encoded. Special tokens (<|endoftext|>) in the text are
 * plain text. Allocates nothing; a piece longer than 256 bytes is merged in place in ids,
 * so it needs room there for its bytes: cap >= len never fails for lack of space (byte-level
 * BPE makes at most one id per byte). err_at may be NULL. */
long rt_tok_encode(const RtTokenizer *t, const char *text, size_t len,
                   int32_t *ids, size_t cap, size_t *err_at);

/* The bytes of token id (not NUL-terminated; possibly part of a UTF-8 character, the next
 * token completes it) and their count in *len; NULL for an id out of range. Points into the
 * blob: no copy, usable in the decode loop. */
const char *rt_tok_decode_piece(const RtTokenizer *t, int32_t id, size_t *len);

/* Concatenates the bytes of ids[0..n) into out[0..cap) (no NUL). Returns the byte count, or
 * RT_TOK_EID with *err_at = index of the bad id, or RT_TOK_ENOSPACE with *err_at = index of
 * the first id that did not fit. err_at may be NULL. */
long rt_tok_decode(const RtTokenizer *t, const int32_t *ids, size_t n,
                   char *out, size_t cap, size_t *err_at);

/* A sentence for an RT_TOK_E* code ("tokenizer table is truncated", ...). */
const char *rt_tok_strerror(int code);

#endif
