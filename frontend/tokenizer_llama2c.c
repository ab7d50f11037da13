/* tokenizer_llama2c.c — llama2.c's tokenizer.bin to an RT_TOK_SPM_BPE blob.
 *
 * The file (written by llama2.c's tokenizer.py): int32 max_token_length, then for each token
 * float32 score, int32 length, that many bytes; little-endian. It does not say how many
 * tokens it holds: we read records until the end of the file, and the caller checks the count
 * against the model's vocabulary (fe_model_tokenizer). Everything is checked, and each
 * problem is reported with the file name and byte offset of the record: truncated records,
 * negative lengths, lengths above max_token_length or 1 MiB, scores that are not finite, NUL
 * bytes in a piece (run.c keeps pieces as C strings), more tokens than the runtime allows.
 *
 * The pieces are stored as llama2.c decodes them: a piece spelled "<0xNN>" (two hex digits)
 * is a byte token, stored as that one raw byte and flagged RT_TOK_FLAG_BYTE; every other piece
 * keeps the file's bytes, including the control tokens' "\n<s>\n", which llama2.c prints.
 * Ids 0, 1, 2 are llama2.c's fixed <unk>, BOS and EOS. Every piece except byte tokens goes into
 * the piece hash, as every piece is in run.c's sorted vocabulary; when two pieces have the same
 * bytes the first id wins (run.c's bsearch would return either; tokenizer.py never writes
 * duplicates). The byte fallback of byte b is the first <0xNN> token of b (run.c computes
 * b + 3, which is the same id in every llama2.c vocabulary), or <unk> when there is none. */
#include "frontend/tokenizer_spm.h"
#include "frontend/tokenizer_blob.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEN (1u << 20)          /* bytes of one piece */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
    return -1;
}

/* The byte a piece "<0xNN>" stands for, or -1. */
static int byte_piece(const uint8_t *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int hi = hexval(s[3]), lo = hexval(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

unsigned fe_tokenizer_blob_tokens(const void *blob, size_t size)
{
    if (!blob || size < sizeof(RtTokHeader)) return 0;
    RtTokHeader h;
    memcpy(&h, blob, sizeof h);
    return h.n_tokens;
}

int fe_llama2c_tokenizer_build_mem(Diag *d, const char *name, const void *data, size_t len,
                                   void **blob, size_t *size)
{
    *blob = NULL;
    *size = 0;
    const uint8_t *p = data;
    if (len == 0) {
        diag_file_error(d, name, "empty file (expected llama2.c's tokenizer.bin: int32 "
                        "max_token_length, then per token float32 score, int32 length, bytes)");
        return -1;
    }
    if (len < 4) {
        diag_file_error(d, name, "byte 0: truncated: %zu bytes, too short for max_token_length "
                        "(int32)", len);
        return -1;
    }
    int32_t max_len = (int32_t)rd32(p);
    if (max_len < 1 || (uint32_t)max_len > MAX_LEN) {
        diag_file_error(d, name, "byte 0: max_token_length is %d; expected 1 to %u", max_len,
                        MAX_LEN);
        return -1;
    }
    TokBlob b;
    tok_blob_init(&b, RT_TOK_SPM_BPE);
    b.with_scores = 1;
    b.has_byte_ids = 1;
    for (int i = 0; i < 256; i++) b.byte_ids[i] = RT_TOK_NO_ID;
    int errors = d->n_errors;
    size_t at = 4;
    while (at < len && d->n_errors == errors) {
        uint32_t id = b.n;
        if (id == RT_TOK_MAX_TOKENS) {
            diag_file_error(d, name, "byte %zu: more than %u tokens", at, RT_TOK_MAX_TOKENS);
            break;
        }
        if (len - at < 8) {
            diag_file_error(d, name, "byte %zu: token %u: truncated record (%zu bytes left; a "
                            "score and a length need 8)", at, id, len - at);
            break;
        }
        float score;
        uint32_t bits = rd32(p + at);
        memcpy(&score, &bits, 4);
        int32_t n = (int32_t)rd32(p + at + 4);
        if (!isfinite(score)) {
            diag_file_error(d, name, "byte %zu: token %u: the score is not a finite number (%g)",
                            at, id, (double)score);
            break;
        }
        if (n < 0) {
            diag_file_error(d, name, "byte %zu: token %u: negative length (%d)", at + 4, id, n);
            break;
        }
        if ((uint32_t)n > MAX_LEN) {
            diag_file_error(d, name, "byte %zu: token %u: length %d is absurd (more than %u)",
                            at + 4, id, n, MAX_LEN);
            break;
        }
        if (n > max_len) {
            diag_file_error(d, name, "byte %zu: token %u: length %d is more than "
                            "max_token_length (%d)", at + 4, id, n, max_len);
            break;
        }
        if ((size_t)n > len - at - 8) {
            diag_file_error(d, name, "byte %zu: token %u: truncated record (the length says %d "
                            "bytes, %zu are left)", at + 8, id, n, len - at - 8);
            break;
        }
        const uint8_t *s = p + at + 8;
        if (memchr(s, 0, (size_t)n)) {
            diag_file_error(d, name, "byte %zu: token %u contains a NUL byte, which llama2.c "
                            "cannot hold in its C strings", at + 8, id);
            break;
        }
        int byte = byte_piece(s, (size_t)n);
        if (byte >= 0) {
            uint8_t raw = (uint8_t)byte;
            tok_blob_add(&b, &raw, 1, score, RT_TOK_FLAG_BYTE, 0);
            if (b.byte_ids[byte] == RT_TOK_NO_ID) b.byte_ids[byte] = id;
        } else {
            unsigned f = id == 0 ? RT_TOK_FLAG_UNKNOWN : id <= 2 ? RT_TOK_FLAG_SPECIAL : 0;
            tok_blob_add(&b, s, (size_t)n, score, f, 1);
        }
        at += 8 + (size_t)n;
    }
    int rc = -1;
    if (d->n_errors > errors) {
        /* reported */
    } else if (b.n < 3) {
        diag_file_error(d, name, "the file has %u token%s; llama2.c's fixed ids need at least 3 "
                        "(<unk> 0, <s> 1, </s> 2)", b.n, b.n == 1 ? "" : "s");
    } else {
        b.unk_id = 0;
        b.bos_id = 1;
        b.eos_id = 2;
        for (int i = 0; i < 256; i++)
            if (b.byte_ids[i] == RT_TOK_NO_ID) b.byte_ids[i] = b.unk_id;
        b.flags = RT_TOK_F_ADD_BOS | RT_TOK_F_DUMMY_PREFIX | RT_TOK_F_STRIP_BOS_SPACE |
                  RT_TOK_F_MERGE_FLOOR | RT_TOK_F_BYTES_FIRST;
        rc = tok_blob_write(&b, d, name, blob, size);
    }
    tok_blob_free(&b);
    return rc;
}

int fe_llama2c_tokenizer_build(Diag *d, const char *path, void **blob, size_t *size)
{
    return tok_build_file(d, path, fe_llama2c_tokenizer_build_mem, blob, size);
}
