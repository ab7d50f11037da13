/* tokenizer_blob.c — writes a tokenizer blob (runtime/tokenizer.h) from a loader's tables.
 *
 * The layout: the header, then every u32 array (piece_index, byte_ids, merges, scores,
 * piece_hash), then the byte arrays (token_flags, charsmap, pieces), each padded to 4 bytes,
 * so that every offset is a multiple of 4. The piece hash holds the tokens marked hashed
 * with at least one byte, inserted in id order; a token whose bytes an earlier one already
 * has is left out, so that look-ups find the first id of equal bytes. It has a power of two
 * of slots, at least twice the ids in it, so probes stay short and an empty slot remains. */
#include "frontend/tokenizer_blob.h"

#include <stdlib.h>
#include <string.h>

void tok_blob_init(TokBlob *b, uint32_t kind)
{
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->bos_id = b->eos_id = b->unk_id = b->pad_id = RT_TOK_NO_ID;
    b->start = xmalloc(sizeof *b->start);
    b->start[0] = 0;
}

void tok_blob_free(TokBlob *b)
{
    free(b->start);
    free(b->bytes);
    free(b->score);
    free(b->tflags);
    free(b->hashed);
    memset(b, 0, sizeof *b);
}

uint32_t tok_blob_add(TokBlob *b, const void *bytes, size_t len, float score, unsigned flags,
                      int hashed)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 256;
        b->start = xrealloc(b->start, ((size_t)b->cap + 1) * sizeof *b->start);
        b->score = xrealloc(b->score, (size_t)b->cap * sizeof *b->score);
        b->tflags = xrealloc(b->tflags, b->cap);
        b->hashed = xrealloc(b->hashed, b->cap);
    }
    while (b->n_bytes + len > b->cap_bytes) {
        b->cap_bytes = b->cap_bytes ? 2 * b->cap_bytes : 4096;
        b->bytes = xrealloc(b->bytes, b->cap_bytes);
    }
    if (len) memcpy(b->bytes + b->n_bytes, bytes, len);
    b->n_bytes += len;
    uint32_t id = b->n++;
    b->start[id + 1] = (uint32_t)b->n_bytes;
    b->score[id] = score;
    b->tflags[id] = (uint8_t)flags;
    b->hashed[id] = (uint8_t)(hashed != 0);
    return id;
}

static int same(const TokBlob *b, uint32_t id, const void *s, size_t n)
{
    return b->start[id + 1] - b->start[id] == n && memcmp(b->bytes + b->start[id], s, n) == 0;
}

uint32_t tok_blob_find(const TokBlob *b, const void *s, size_t n)
{
    for (uint32_t id = 0; id < b->n; id++)
        if (b->hashed[id] && same(b, id, s, n)) return id;
    return RT_TOK_NO_ID;
}

int tok_utf8_char(const uint8_t *s, size_t n)
{
    uint8_t b = s[0], lo = 0x80, hi = 0xBF;     /* the allowed range of the second byte */
    int len;
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        if (b == 0xE0) lo = 0xA0;               /* overlong below U+0800 */
        if (b == 0xED) hi = 0x9F;               /* surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        if (b == 0xF0) lo = 0x90;               /* overlong below U+10000 */
        if (b == 0xF4) hi = 0x8F;               /* above U+10FFFF */
    } else {
        return 0;                               /* a continuation byte, C0, C1, F5..FF */
    }
    if ((size_t)len > n || s[1] < lo || s[1] > hi) return 0;
    for (int k = 2; k < len; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    return len;
}

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

int tok_blob_write(TokBlob *b, Diag *d, const char *name, void **blob, size_t *size)
{
    *blob = NULL;
    *size = 0;
    if (b->n == 0 || b->n > RT_TOK_MAX_TOKENS) {
        diag_file_error(d, name, "%u tokens: a tokenizer has 1 to %u", b->n, RT_TOK_MAX_TOKENS);
        return -1;
    }
    uint32_t in_hash = 0;
    for (uint32_t id = 0; id < b->n; id++) in_hash += b->hashed[id] && b->start[id + 1] > b->start[id];
    uint32_t hslots = 0;
    if (b->with_scores) {
        hslots = 4;
        while (hslots < 2 * in_hash + 1) hslots *= 2;
    }

    size_t off = sizeof(RtTokHeader);
    size_t off_index = off;
    off += 4 * ((size_t)b->n + 1);
    size_t off_byte_ids = b->has_byte_ids ? off : 0;
    off += b->has_byte_ids ? 4 * 256 : 0;
    size_t off_merges = b->merge_slots ? off : 0;
    off += sizeof(RtTokMerge) * (size_t)b->merge_slots;
    size_t off_scores = b->with_scores ? off : 0;
    off += b->with_scores ? 4 * (size_t)b->n : 0;
    size_t off_hash = hslots ? off : 0;
    off += 4 * (size_t)hslots;
    size_t off_flags = b->with_scores ? off : 0;
    off += b->with_scores ? pad4(b->n) : 0;
    size_t off_charsmap = b->charsmap_size ? off : 0;
    off += pad4(b->charsmap_size);
    size_t off_pieces = off;
    off += pad4(b->n_bytes);
    if (off > UINT32_MAX) {
        diag_file_error(d, name, "the tokenizer tables would exceed 4 GiB");
        return -1;
    }

    uint8_t *p = xcalloc(1, off);
    RtTokHeader *h = (RtTokHeader *)p;
    *h = (RtTokHeader){
        .magic = RT_TOK_MAGIC, .version = RT_TOK_VERSION, .kind = b->kind,
        .size = (uint32_t)off, .n_tokens = b->n, .n_merges = b->n_merges,
        .merge_slots = b->merge_slots, .piece_bytes = (uint32_t)b->n_bytes,
        .off_piece_index = (uint32_t)off_index, .off_pieces = (uint32_t)off_pieces,
        .off_byte_ids = (uint32_t)off_byte_ids, .off_merges = (uint32_t)off_merges,
        .off_scores = (uint32_t)off_scores, .off_token_flags = (uint32_t)off_flags,
        .bos_id = b->bos_id, .eos_id = b->eos_id, .unk_id = b->unk_id, .pad_id = b->pad_id,
        .flags = b->flags, .hash_slots = hslots, .off_piece_hash = (uint32_t)off_hash,
        .off_charsmap = (uint32_t)off_charsmap, .charsmap_size = b->charsmap_size,
    };
    memcpy(p + off_index, b->start, 4 * ((size_t)b->n + 1));
    if (b->n_bytes) memcpy(p + off_pieces, b->bytes, b->n_bytes);
    if (b->has_byte_ids) memcpy(p + off_byte_ids, b->byte_ids, sizeof b->byte_ids);
    if (b->merge_slots) memcpy(p + off_merges, b->merges, sizeof(RtTokMerge) * b->merge_slots);
    if (b->charsmap_size) memcpy(p + off_charsmap, b->charsmap, b->charsmap_size);
    if (b->with_scores) {
        memcpy(p + off_scores, b->score, 4 * (size_t)b->n);
        memcpy(p + off_flags, b->tflags, b->n);
        uint32_t *hash = (uint32_t *)(p + off_hash), mask = hslots - 1;
        memset(hash, 0xFF, 4 * (size_t)hslots);
        for (uint32_t id = 0; id < b->n; id++) {
            uint32_t len = b->start[id + 1] - b->start[id];
            if (!b->hashed[id] || len == 0) continue;
            const uint8_t *s = b->bytes + b->start[id];
            uint32_t i = rt_tok_bytes_hash(s, len) & mask;
            while (hash[i] != RT_TOK_NO_ID && !same(b, hash[i], s, len)) i = (i + 1) & mask;
            if (hash[i] == RT_TOK_NO_ID) hash[i] = id;     /* else: the first id keeps it */
        }
    }
    *blob = p;
    *size = off;
    return 0;
}

int tok_build_file(Diag *d, const char *path, TokBuildMem *build, void **blob, size_t *size)
{
    *blob = NULL;
    *size = 0;
    size_t len = 0;
    char *data = file_read_max(d, path, FILE_READ_MAX, &len);
    if (!data) return -1;
    int rc = build(d, path, data, len, blob, size);
    free(data);
    return rc;
}

long tok_split_lines(Diag *d, const char *name, const uint8_t *p, size_t len, Line **out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += p[i] == '\n';
    if (len > 0 && p[len - 1] != '\n') n++;
    if (n > RT_TOK_MAX_TOKENS) {
        diag_file_error(d, name, "%zu lines; a vocabulary has at most %u tokens", n, RT_TOK_MAX_TOKENS);
        return -1;
    }
    Line *l = xmalloc((n ? n : 1) * sizeof *l);
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] != '\n') continue;
        if (i == len && start == len) break;        /* after the final newline */
        size_t e = i;
        if (e > start && p[e - 1] == '\r') e--;
        l[k++] = (Line){ p + start, e - start };
        start = i + 1;
    }
    *out = l;
    return (long)k;
}

const char *tok_show(char out[48], const uint8_t *s, size_t n)
{
    size_t k = n < 40 ? n : 40;
    for (size_t i = 0; i < k; i++) out[i] = s[i] < ' ' || s[i] == 0x7F ? '?' : (char)s[i];
    while (k > 0 && k < n && ((uint8_t)out[k] & 0xC0) == 0x80) k--;     /* whole characters */
    if (k < n) memcpy(out + k, "...", 4);
    else out[k] = 0;
    return out;
}
