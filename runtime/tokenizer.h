/* tokenizer.h — the runtime's tokenizers and the table format the compiler writes for them.
 *
 * The compiler (frontend/tokenizer_*.c) reads a model's tokenizer files once and writes a
 * tokenizer blob; the blob is embedded in the produced executable, which reads it in place
 * with rt_tok_open — no JSON, no protobuf, no parsing. The blob is position independent:
 * a fixed header (RtTokHeader) followed by arrays found through byte offsets from the start
 * of the blob. Every integer is little-endian; the runtime reads the blob in place, so it
 * runs on little-endian targets only (x86-64, aarch64 Linux) and says so (RT_TOK_EENDIAN)
 * when it meets a blob on a big-endian host. The blob must be 4-byte aligned in memory.
 * It may come from a corrupted file: rt_tok_open checks every offset, count and id before
 * anything else touches the blob, so the other functions need no checks of their own.
 *
 * Arrays of blob version 2 (offsets are multiples of 4; an offset of 0 means "absent"):
 *   piece_index  u32[n_tokens + 1]   token i's bytes are pieces[piece_index[i] .. piece_index[i+1])
 *   pieces       u8[piece_bytes]     the bytes each token DECODES to, concatenated: raw bytes,
 *                                    not GPT-2's printable stand-ins; SentencePiece's U+2581
 *                                    stored as a space; a byte token <0xNN> as that one byte;
 *                                    SentencePiece control tokens (<s>) as nothing and <unk>
 *                                    as " U+2047 "; llama2.c tokenizer.bin pieces as the file
 *                                    gives them ("\n<s>\n"), since llama2.c prints those
 *   byte_ids     u32[256]            the token of each single byte: byte-level BPE (required),
 *                                    byte fallback of the SentencePiece kinds (optional)
 *   merges       RtTokMerge[merge_slots]  BPE merges, an open-addressing hash table keyed by
 *                                    (left, right): slot rt_tok_pair_hash(l, r) & (slots - 1),
 *                                    then linear probing; empty slots are all RT_TOK_NO_ID
 *   scores       f32[n_tokens]       SentencePiece kinds: merge priority (BPE) or log
 *                                    probability (unigram); finite
 *   token_flags  u8[n_tokens]        RT_TOK_FLAG_* of each token (SentencePiece kinds)
 *   piece_hash   u32[hash_slots]     pieces that text may match, by their bytes: token ids in
 *                                    an open-addressing table, slot rt_tok_bytes_hash(bytes) &
 *                                    (hash_slots - 1), then linear probing; RT_TOK_NO_ID empty.
 *                                    Which tokens are in it is the compiler's choice (byte and
 *                                    control tokens are not); the first id of equal bytes wins
 *   charsmap     u8[charsmap_size]   SentencePiece's precompiled normalization map, verbatim:
 *                                    u32 trie size, a darts-clone double array of that many
 *                                    bytes, then NUL-terminated replacement strings
 *
 * Kinds and what they need:
 *   RT_TOK_GPT2         pieces, byte_ids (every byte), merges; runtime/bpe.c
 *   RT_TOK_SPM_BPE      pieces, scores, token_flags, piece_hash, optional byte_ids and
 *                       charsmap; merge by score (llama2.c, SentencePiece BPE); runtime/spm_bpe.c
 *   RT_TOK_SPM_UNIGRAM  the same, Viterbi over the piece scores; runtime/spm_unigram.c
 *   RT_TOK_WORDPIECE    pieces, token_flags, piece_hash, unk_id; no scores, merges, byte_ids
 *                       or charsmap. A piece is " word" for a word-initial vocabulary entry and
 *                       "ing" for a continuation entry "##ing" (decoding joins pieces and drops
 *                       the first space: RT_TOK_F_STRIP_FIRST_SPACE); the piece hash holds the
 *                       entries text can match, keyed by those bytes, so " ing" and "ing" differ.
 *                       The RT_TOK_FLAG_SPECIAL entries among unk/bos/eos/pad and " [MASK]" are
 *                       matched whole in the raw text. bos_id = [CLS], eos_id = [SEP];
 *                       runtime/wordpiece.c
 *   RT_TOK_CHARS        pieces, token_flags, piece_hash; no merges, byte_ids or charsmap
 *                       (scores, when present, are unused). One token per character: a
 *                       symbol's piece is its one UTF-8 character, a special token's piece
 *                       (RT_TOK_FLAG_SPECIAL: <pad>, <s>, </s>, <unk>...) is empty and never in
 *                       the piece hash; the bos/eos/pad/unk ids are special tokens, unk_id
 *                       also RT_TOK_FLAG_UNKNOWN. Flags: RT_TOK_F_ADD_EOS only; runtime/chars.c
 * The flags word (RT_TOK_F_*) says how text is prepared and decoded; docs/tokenizers.md has
 * the exact rules of each kind.
 *
 * Ids are int32_t in the API (as llama2.c's int tokens), uint32_t in the blob. */
#ifndef KILN_RUNTIME_TOKENIZER_H
#define KILN_RUNTIME_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

/* ---- the blob -------------------------------------------------------------- */

#define RT_TOK_MAGIC   0x4B4F544Bu      /* the bytes "KTOK" read as a little-endian u32 */
#define RT_TOK_VERSION 2u
#define RT_TOK_NO_ID   0xFFFFFFFFu      /* absent id; also marks an empty slot of a table */

/* Limits the compiler enforces and the runtime checks: far above real vocabularies
 * (GPT-2: 50257 tokens, 50000 merges; the largest in use about 256K), low enough that every
 * size computed from them fits in 32 bits. */
#define RT_TOK_MAX_TOKENS (1u << 22)
#define RT_TOK_MAX_MERGES (1u << 22)
#define RT_TOK_MAX_CHARSMAP (1u << 26)  /* bytes; SentencePiece's nfkc map is 237 KB */

enum RtTokKind {
    RT_TOK_GPT2 = 1,            /* GPT-2 byte-level BPE: regex pre-split, merges by rank */
    RT_TOK_WORDPIECE = 2,       /* BERT WordPiece: greedy longest match, "##" continuations */
    RT_TOK_SPM_BPE = 3,         /* merge by score: llama2.c tokenizer.bin, SentencePiece BPE */
    RT_TOK_SPM_UNIGRAM = 4,     /* SentencePiece unigram: best segmentation by score */
    RT_TOK_CHARS = 5,           /* one token per character (character-level models) */
};

/* token_flags */
enum {
    RT_TOK_FLAG_SPECIAL = 1,    /* a control token (<s>, </s>, <|endoftext|>, [CLS]...) */
    RT_TOK_FLAG_UNKNOWN = 2,    /* the unknown token (<unk>) */
    RT_TOK_FLAG_BYTE = 4,       /* a byte-fallback token (<0xNN>): never merged, never stripped */
    RT_TOK_FLAG_UNUSED = 8,     /* SentencePiece UNUSED: merged, then split again (BPE) */
    RT_TOK_FLAG_USER = 16,      /* SentencePiece USER_DEFINED: matched whole, before anything */
};

/* the header's flags */
enum {
    RT_TOK_F_ADD_BOS = 1,           /* a prompt starts with bos_id (rt_tok_prompt) */
    RT_TOK_F_DUMMY_PREFIX = 2,      /* a space is put before non-empty text */
    RT_TOK_F_REMOVE_EXTRA_WS = 4,   /* SentencePiece: no leading or trailing spaces, runs of
                                       spaces become one */
    RT_TOK_F_STRIP_BOS_SPACE = 8,   /* decoding: a piece right after bos_id loses one leading
                                       space (llama2.c; not a byte token) */
    RT_TOK_F_STRIP_FIRST_SPACE = 16,/* decoding: the first piece that gives bytes loses one
                                       leading space (SentencePiece; not a byte token) */
    RT_TOK_F_MERGE_FLOOR = 32,      /* SPM_BPE: a merge whose piece scores <= -1e10 never
                                       happens (llama2.c's best_score starts at -1e10) */
    RT_TOK_F_BYTES_FIRST = 64,      /* SPM_BPE: a character that is no piece becomes its byte
                                       tokens before merging (llama2.c), not after (SentencePiece) */
    RT_TOK_F_MERGE_UNKNOWN = 128,   /* consecutive unknown characters give one unk_id
                                       (SentencePiece without byte fallback) */
    RT_TOK_F_ESCAPE_WS = 256,       /* SentencePiece escape_whitespaces: U+2581 in the text is a
                                       space, like the spaces it stands for */
    RT_TOK_F_LOWERCASE = 512,       /* WordPiece: lower-case, NFD, drop Mn (BERT uncased) */
    RT_TOK_F_ADD_EOS = 1024,        /* a prompt ends with eos_id (rt_tok_prompt; BERT's [SEP]) */
    RT_TOK_F_ALL = 2047,
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
    uint32_t flags;             /* RT_TOK_F_* */
    uint32_t hash_slots;        /* a power of two > the ids in piece_hash, or 0 without it */
    uint32_t off_piece_hash;
    uint32_t off_charsmap;      /* 0 without a normalization map */
    uint32_t charsmap_size;
    uint32_t reserved;          /* zero in version 2 */
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

/* The slot a piece's bytes hash to (before masking): FNV-1a. Part of the format. */
static inline uint32_t rt_tok_bytes_hash(const void *bytes, size_t n)
{
    const uint8_t *s = (const uint8_t *)bytes;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    return h;
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
    RT_TOK_ENOMEM = -12,        /* out of memory for encoding scratch (SentencePiece kinds) */
    RT_TOK_ENOSTART = -13,      /* empty prompt, and the tokenizer has no bos_id or eos_id */
    RT_TOK_EUNKNOWN = -14,      /* a character of the text is not in the vocabulary, which has
                                   no unk_id (RT_TOK_CHARS; see err_at) */
};

/* An opened tokenizer: pointers into the caller's blob, which must outlive it. */
typedef struct RtTokenizer {
    uint32_t kind;
    uint32_t flags;                 /* RT_TOK_F_* */
    uint32_t n_tokens;
    uint32_t n_merges;
    uint32_t merge_mask;            /* merge_slots - 1 (unused without merges) */
    uint32_t hash_mask;             /* hash_slots - 1 (unused without a piece hash) */
    uint32_t bos_id, eos_id, unk_id, pad_id;
    uint32_t max_piece_len;         /* bytes of the longest token */
    uint32_t max_user_len;          /* bytes of the longest RT_TOK_FLAG_USER token, 0 if none */
    uint32_t max_expand;            /* bytes the normalizer may make of one byte of text (>= 1) */
    uint32_t charsmap_trie_size;    /* bytes of the charsmap's double array */
    uint32_t charsmap_size;         /* bytes of the charsmap, trie and strings */
    const uint32_t *piece_index;    /* (n_tokens + 1) */
    const uint8_t *pieces;          /* (piece_bytes) */
    const uint32_t *byte_ids;       /* (256) or NULL */
    const RtTokMerge *merges;       /* (merge_slots) or NULL */
    const float *scores;            /* (n_tokens) or NULL */
    const uint8_t *token_flags;     /* (n_tokens) or NULL */
    const uint32_t *piece_hash;     /* (hash_slots) or NULL */
    const uint8_t *charsmap;        /* (charsmap_size) or NULL */
    /* BERT's special tokens, RT_TOK_NO_ID when absent (always for the other kinds): [CLS] and
     * [SEP] are bos_id and eos_id, [UNK] unk_id, [PAD] pad_id; [MASK] is the special token
     * whose text is "[MASK]". For the encoder modes of BERT-style models. */
    uint32_t cls_id, sep_id, mask_id;
} RtTokenizer;

/* Checks the blob (every offset, count and id; it may come from a corrupted file) and fills
 * *t. Returns RT_TOK_OK or a negative RT_TOK_E* code. Allocates nothing. */
int rt_tok_open(const void *blob, size_t size, RtTokenizer *t);

/* Encodes UTF-8 text (len bytes, need not be NUL-terminated) into ids[0..cap). Returns the
 * number of ids, or a negative code: RT_TOK_EUTF8 with *err_at = byte offset of the first
 * invalid or truncated sequence (nothing is encoded then), RT_TOK_ENOSPACE with *err_at =
 * the byte offset of the text not encoded (GPT-2; WordPiece: the start of the word that did
 * not fit; 0 for the SentencePiece kinds, which encode the text as a whole), RT_TOK_ENOMEM,
 * RT_TOK_EUNKNOWN with *err_at = the byte offset of a character the vocabulary lacks
 * (RT_TOK_CHARS without <unk>).
 * Special tokens (<|endoftext|>, <s>) in the text are plain text, except WordPiece's
 * ([CLS], [MASK]...: Hugging Face matches them in the text); no BOS is added (see
 * rt_tok_prompt). err_at may be NULL.
 * Room: rt_tok_prompt_cap(t, len) ids never fail for lack of space.
 * GPT-2, WordPiece and the character tokenizer allocate nothing (a GPT-2 piece longer than 256 bytes is merged in
 * place in ids); the SentencePiece kinds malloc scratch proportional to len and free it before returning
 * (encoding is not part of the decode loop). */
long rt_tok_encode(const RtTokenizer *t, const char *text, size_t len,
                   int32_t *ids, size_t cap, size_t *err_at);

/* The ids a generation starts from: bos_id first when the tokenizer says so
 * (RT_TOK_F_ADD_BOS), then rt_tok_encode's ids, then eos_id when the tokenizer says so
 * (RT_TOK_F_ADD_EOS: WordPiece, [CLS] ids [SEP]; the character tokenizer, ids </s>, as the
 * source of a seq2seq model). An empty text gives [eos_id] when the tokenizer adds eos_id but
 * no bos_id; otherwise [bos_id], or [eos_id] when the tokenizer has no bos_id (GPT-2's
 * <|endoftext|> convention), or RT_TOK_ENOSTART when it has neither (each followed by eos_id
 * under RT_TOK_F_ADD_EOS). Other errors are rt_tok_encode's, err_at a byte offset in text.
 * cap >= rt_tok_prompt_cap(t, len) never fails for lack of space. */
long rt_tok_prompt(const RtTokenizer *t, const char *text, size_t len,
                   int32_t *ids, size_t cap, size_t *err_at);

/* A bound on the ids rt_tok_prompt (and rt_tok_encode) make of len bytes of text:
 * len * max_expand + 3 (one id per byte of normalized text, a dummy prefix, a BOS and an
 * EOS). For GPT-2 and llama2.c that is len + 3. Returns SIZE_MAX if it would overflow. */
size_t rt_tok_prompt_cap(const RtTokenizer *t, size_t len);

/* The bytes of token id (not NUL-terminated; possibly part of a UTF-8 character, the next
 * token completes it) and their count in *len; NULL for an id out of range. Points into the
 * blob: no copy, usable in the decode loop. Context-free: see rt_tok_decode_next for the
 * leading-space rules of the SentencePiece kinds. */
const char *rt_tok_decode_piece(const RtTokenizer *t, int32_t id, size_t *len);

/* The bytes to print for id when it follows prev in a stream of ids; prev = -1 at the start
 * of the text, when nothing has been printed yet (a SentencePiece stream then keeps passing
 * -1 while the pieces decode to nothing, as control tokens do). This is rt_tok_decode_piece
 * less one leading space where the tokenizer says so (RT_TOK_F_STRIP_BOS_SPACE after bos_id,
 * RT_TOK_F_STRIP_FIRST_SPACE at the start; never a byte token's or the unknown token's space).
 * NULL for an id out of range. No copy. */
const char *rt_tok_decode_next(const RtTokenizer *t, int32_t prev, int32_t id, size_t *len);

/* Decodes ids[0..n) as a whole text (rt_tok_decode_next over the sequence, starting with
 * prev = -1) into out[0..cap) (no NUL). Returns the byte count, or RT_TOK_EID with *err_at =
 * index of the bad id, or RT_TOK_ENOSPACE with *err_at = index of the first id that did not
 * fit. err_at may be NULL. */
long rt_tok_decode(const RtTokenizer *t, const int32_t *ids, size_t n,
                   char *out, size_t cap, size_t *err_at);

/* A sentence for an RT_TOK_E* code ("tokenizer table is truncated", ...). */
const char *rt_tok_strerror(int code);

#endif
