/* tokenizer_spm.c — a SentencePiece .model (protobuf sentencepiece.ModelProto) to a blob.
 *
 * A minimal protobuf wire-format reader: a message is a sequence of (tag varint, value)
 * fields, the tag holding the field number and wire type (0 varint, 1 fixed64, 2 length-
 * delimited, 5 fixed32; 3 and 4, groups, are refused). Every length is checked against the
 * end of the enclosing message; unknown fields are skipped. We read, with the field numbers
 * of sentencepiece_model.proto:
 *   ModelProto       1 pieces (repeated), 2 trainer_spec, 3 normalizer_spec
 *   SentencePiece    1 piece, 2 score (float), 3 type (NORMAL 1, UNKNOWN 2, CONTROL 3,
 *                    USER_DEFINED 4, UNUSED 5, BYTE 6)
 *   TrainerSpec      3 model_type (UNIGRAM 1, BPE 2), 24 treat_whitespace_as_suffix,
 *                    35 byte_fallback, 44 unk_surface, 46 bos_piece, 47 eos_piece, 48 pad_piece
 *   NormalizerSpec   1 name, 2 precompiled_charsmap, 3 add_dummy_prefix,
 *                    4 remove_extra_whitespaces, 5 escape_whitespaces (the last three true
 *                    unless the file says otherwise)
 * Problems are reported with the file name and the byte offset of the field at fault.
 *
 * The blob (runtime/tokenizer.h) holds what each piece decodes to, as the library's decoder
 * gives it: U+2581 as a space (with escape_whitespaces), a BYTE piece <0xNN> as the byte,
 * CONTROL pieces as nothing, the UNKNOWN piece as the unk_surface (" U+2047 " by default).
 * The piece hash holds NORMAL, USER_DEFINED and UNUSED pieces, the library's pieces_ map.
 * Special ids are looked up by piece, as SentencePieceProcessor::bos_id() does: bos is the
 * CONTROL piece "<s>" (or bos_piece), and so on; a model with a bos gets RT_TOK_F_ADD_BOS,
 * the convention of the Llama family, which prompts with it. The library refuses a model
 * with no or two UNKNOWN pieces, repeated or empty pieces, or BYTE pieces without
 * byte_fallback (or byte_fallback without all 256): so do we. WORD and CHAR models and
 * treat_whitespace_as_suffix are not supported; a denormalizer_spec is ignored. */
#include "frontend/tokenizer_spm.h"
#include "frontend/tokenizer_blob.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };
enum { T_NORMAL = 1, T_UNKNOWN = 2, T_CONTROL = 3, T_USER = 4, T_UNUSED = 5, T_BYTE = 6 };

typedef struct Pb {
    Diag *d;
    const char *name;
    const uint8_t *file;            /* the whole file, for offsets in messages */
    int failed;
} Pb;

/* A message being read: bytes [at, end) of the file. */
typedef struct Msg {
    size_t at, end;
    const char *what;               /* its type, for messages */
} Msg;

typedef struct Field {
    uint32_t num;
    int wt;
    size_t at;                      /* offset of the tag */
    uint64_t v;                     /* varint, fixed32 or fixed64 value */
    size_t off, len;                /* length-delimited: the bytes */
} Field;

static void pb_error(Pb *pb, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pb_error(Pb *pb, size_t at, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_file_error(pb->d, pb->name, "byte %zu: %s", at, msg);
    pb->failed = 1;
}

static int varint(Pb *pb, Msg *m, uint64_t *v)
{
    uint64_t x = 0;
    size_t start = m->at;
    for (int shift = 0; shift < 70; shift += 7) {
        if (m->at >= m->end) {
            pb_error(pb, start, "truncated varint in %s", m->what);
            return 0;
        }
        uint8_t b = pb->file[m->at++];
        if (shift == 63 && b > 1) break;
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
    }
    pb_error(pb, start, "varint longer than 64 bits in %s", m->what);
    return 0;
}

/* The next field of m; 0 at the end of m or after an error. */
static int next_field(Pb *pb, Msg *m, Field *f)
{
    if (pb->failed || m->at >= m->end) return 0;
    memset(f, 0, sizeof *f);
    f->at = m->at;
    uint64_t tag;
    if (!varint(pb, m, &tag)) return 0;
    f->num = (uint32_t)(tag >> 3);
    f->wt = (int)(tag & 7);
    if (tag >> 3 == 0 || tag >> 3 > 0x1FFFFFFF) {
        pb_error(pb, f->at, "field number %llu in %s is not a protobuf field number",
                 (unsigned long long)(tag >> 3), m->what);
        return 0;
    }
    switch (f->wt) {
    case WT_VARINT: return varint(pb, m, &f->v);
    case WT_I64:
    case WT_I32: {
        size_t n = f->wt == WT_I32 ? 4 : 8;
        if (m->end - m->at < n) {
            pb_error(pb, f->at, "field %u of %s: truncated %zu-byte value", f->num, m->what, n);
            return 0;
        }
        for (size_t i = 0; i < n; i++) f->v |= (uint64_t)pb->file[m->at + i] << (8 * i);
        m->at += n;
        return 1;
    }
    case WT_LEN: {
        uint64_t len;
        if (!varint(pb, m, &len)) return 0;
        if (len > m->end - m->at) {
            pb_error(pb, f->at, "field %u of %s: length %llu runs past the end of the %s "
                     "(%zu bytes left)", f->num, m->what, (unsigned long long)len,
                     m->what, m->end - m->at);
            return 0;
        }
        f->off = m->at;
        f->len = (size_t)len;
        m->at += (size_t)len;
        return 1;
    }
    }
    pb_error(pb, f->at, "field %u of %s has wire type %d, which this reader does not know "
             "(groups are not supported)", f->num, m->what, f->wt);
    return 0;
}

/* Whether f has the wire type we need; reports otherwise. */
static int want(Pb *pb, const Msg *m, const Field *f, int wt, const char *field)
{
    if (f->wt == wt) return 1;
    static const char *names[] = { "varint", "fixed64", "length-delimited", "group start",
                                   "group end", "fixed32", "6", "7" };
    pb_error(pb, f->at, "%s.%s (field %u) has wire type %d (%s), expected %d (%s)", m->what,
             field, f->num, f->wt, names[f->wt & 7], wt, names[wt]);
    return 0;
}

/* ---- the model ------------------------------------------------------------------------ */

typedef struct Piece {
    size_t off, len;                /* the piece string in the file */
    size_t at;                      /* offset of its message, for messages */
    float score;
    int type;
} Piece;

typedef struct Model {
    Piece *pieces;
    size_t n, cap;
    int model_type;                 /* UNIGRAM 1 unless said */
    int byte_fallback, ws_suffix;
    size_t ws_suffix_at, type_at;
    const uint8_t *unk_surface;     /* NULL: the default */
    size_t unk_surface_len;
    const char *special[3];         /* bos, eos, pad pieces */
    size_t special_len[3];
    int add_dummy_prefix, remove_extra_ws, escape_ws;
    const uint8_t *charsmap;
    size_t charsmap_len, charsmap_at;
} Model;

static int read_piece(Pb *pb, Model *mo, Msg *m)
{
    Piece p = { 0, 0, m->at, 0.0f, T_NORMAL };
    int have_piece = 0;
    Field f;
    while (next_field(pb, m, &f)) {
        if (f.num == 1 && want(pb, m, &f, WT_LEN, "piece")) p.off = f.off, p.len = f.len, have_piece = 1;
        else if (f.num == 2 && want(pb, m, &f, WT_I32, "score")) {
            uint32_t bits = (uint32_t)f.v;
            memcpy(&p.score, &bits, 4);
            if (!isfinite(p.score))
                pb_error(pb, f.at, "piece %zu: the score is not a finite number (%g)", mo->n,
                         (double)p.score);
        } else if (f.num == 3 && want(pb, m, &f, WT_VARINT, "type")) {
            if (f.v < 1 || f.v > 6)
                pb_error(pb, f.at, "piece %zu: type %llu is none of NORMAL (1) .. BYTE (6)", mo->n,
                         (unsigned long long)f.v);
            p.type = (int)f.v;
        }
    }
    if (pb->failed) return 0;
    if (!have_piece || p.len == 0) {
        pb_error(pb, p.at, "piece %zu is empty", mo->n);
        return 0;
    }
    if (mo->n == RT_TOK_MAX_TOKENS) {
        pb_error(pb, p.at, "more than %u pieces", RT_TOK_MAX_TOKENS);
        return 0;
    }
    VEC_PUSH(mo->pieces, mo->n, mo->cap, p);
    return 1;
}

static void read_trainer(Pb *pb, Model *mo, Msg *m)
{
    Field f;
    while (next_field(pb, m, &f)) {
        if (f.num == 3 && want(pb, m, &f, WT_VARINT, "model_type")) mo->model_type = (int)f.v, mo->type_at = f.at;
        else if (f.num == 24 && want(pb, m, &f, WT_VARINT, "treat_whitespace_as_suffix")) mo->ws_suffix = f.v != 0, mo->ws_suffix_at = f.at;
        else if (f.num == 35 && want(pb, m, &f, WT_VARINT, "byte_fallback")) mo->byte_fallback = f.v != 0;
        else if (f.num == 44 && want(pb, m, &f, WT_LEN, "unk_surface")) mo->unk_surface = pb->file + f.off, mo->unk_surface_len = f.len;
        else if (f.num >= 46 && f.num <= 48 && want(pb, m, &f, WT_LEN, "bos/eos/pad_piece")) {
            mo->special[f.num - 46] = (const char *)pb->file + f.off;
            mo->special_len[f.num - 46] = f.len;
        }
    }
}

static void read_normalizer(Pb *pb, Model *mo, Msg *m)
{
    Field f;
    while (next_field(pb, m, &f)) {
        if (f.num == 2 && want(pb, m, &f, WT_LEN, "precompiled_charsmap")) {
            mo->charsmap = pb->file + f.off;
            mo->charsmap_len = f.len;
            mo->charsmap_at = f.at;
        } else if (f.num == 3 && want(pb, m, &f, WT_VARINT, "add_dummy_prefix")) mo->add_dummy_prefix = f.v != 0;
        else if (f.num == 4 && want(pb, m, &f, WT_VARINT, "remove_extra_whitespaces")) mo->remove_extra_ws = f.v != 0;
        else if (f.num == 5 && want(pb, m, &f, WT_VARINT, "escape_whitespaces")) mo->escape_ws = f.v != 0;
    }
}

static void read_model(Pb *pb, Model *mo, size_t len)
{
    Msg top = { 0, len, "ModelProto" };
    Field f;
    while (next_field(pb, &top, &f)) {
        if (f.num == 1 && want(pb, &top, &f, WT_LEN, "pieces")) {
            Msg m = { f.off, f.off + f.len, "SentencePiece" };
            read_piece(pb, mo, &m);
        } else if (f.num == 2 && want(pb, &top, &f, WT_LEN, "trainer_spec")) {
            Msg m = { f.off, f.off + f.len, "TrainerSpec" };
            read_trainer(pb, mo, &m);
        } else if (f.num == 3 && want(pb, &top, &f, WT_LEN, "normalizer_spec")) {
            Msg m = { f.off, f.off + f.len, "NormalizerSpec" };
            read_normalizer(pb, mo, &m);
        }
    }
}

/* ---- checks and the blob ------------------------------------------------------------------ */

static int utf8_ok(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t b = s[i];
        size_t l = b < 0x80 ? 1 : b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
        if (l == 0 || l > n - i) return 0;
        for (size_t k = 1; k < l; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        if ((b == 0xE0 && s[i + 1] < 0xA0) || (b == 0xED && s[i + 1] > 0x9F) ||
            (b == 0xF0 && s[i + 1] < 0x90) || (b == 0xF4 && s[i + 1] > 0x8F))
            return 0;
        i += l;
    }
    return 1;
}

/* The byte a BYTE piece "<0xNN>" (upper-case hex, as ByteToPiece writes) stands for, or -1. */
static int byte_of(const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    const char *hi = memchr(hex, s[3], 16), *lo = memchr(hex, s[4], 16);
    if (!hi || !lo || !s[3] || !s[4]) return -1;
    return (int)((hi - hex) * 16 + (lo - hex));
}

static uint32_t hash_bytes(const uint8_t *s, size_t n)
{
    return rt_tok_bytes_hash(s, n);
}

/* Finds repeated pieces (the library refuses them). Returns 0 if none. */
static int check_repeats(Pb *pb, const Model *mo)
{
    uint32_t slots = 4;
    while (slots < 2 * mo->n) slots *= 2;
    uint32_t *slot = xmalloc((size_t)slots * sizeof *slot);
    memset(slot, 0xFF, (size_t)slots * sizeof *slot);
    int bad = 0;
    for (size_t i = 0; i < mo->n && !bad; i++) {
        const Piece *p = &mo->pieces[i];
        const uint8_t *s = pb->file + p->off;
        uint32_t k = hash_bytes(s, p->len) & (slots - 1);
        for (; slot[k] != RT_TOK_NO_ID; k = (k + 1) & (slots - 1)) {
            const Piece *q = &mo->pieces[slot[k]];
            if (q->len == p->len && memcmp(pb->file + q->off, s, p->len) == 0) {
                pb_error(pb, p->at, "piece %zu '%.*s' repeats piece %u", i, (int)(p->len < 60 ? p->len : 60),
                         (const char *)s, slot[k]);
                bad = 1;
                break;
            }
        }
        slot[k] = (uint32_t)i;
    }
    free(slot);
    return bad;
}

/* The id of the CONTROL piece spelled s[0..n), or RT_TOK_NO_ID. */
static uint32_t control_id(const Pb *pb, const Model *mo, const char *s, size_t n)
{
    for (size_t i = 0; i < mo->n; i++) {
        const Piece *p = &mo->pieces[i];
        if (p->type == T_CONTROL && p->len == n && memcmp(pb->file + p->off, s, n) == 0) return (uint32_t)i;
    }
    return RT_TOK_NO_ID;
}

/* Checks the charsmap's frame (trie size, strings ending in NUL); the runtime checks the
 * rest as it walks the trie. */
static void check_charsmap(Pb *pb, const Model *mo)
{
    if (!mo->charsmap_len) return;
    uint32_t trie = 0;
    if (mo->charsmap_len >= 4) memcpy(&trie, mo->charsmap, 4);
    size_t rest = mo->charsmap_len >= 4 ? mo->charsmap_len - 4 : 0;
    if (mo->charsmap_len < 4 || trie % 4 != 0 || trie < 4 || trie > rest || trie == rest ||
        mo->charsmap[mo->charsmap_len - 1] != 0)
        pb_error(pb, mo->charsmap_at, "NormalizerSpec.precompiled_charsmap is malformed: %zu bytes, "
                 "trie size %u (expected a u32 trie size, a multiple of 4, that many bytes of trie "
                 "and NUL-terminated strings after it)", mo->charsmap_len, trie);
    else if (mo->charsmap_len > RT_TOK_MAX_CHARSMAP)
        pb_error(pb, mo->charsmap_at, "precompiled_charsmap of %zu bytes is too large (at most %u)",
                 mo->charsmap_len, RT_TOK_MAX_CHARSMAP);
}

static int build_blob(Pb *pb, Model *mo, void **blob, size_t *size)
{
    if (mo->n == 0) {
        diag_file_error(pb->d, pb->name, "the model has no pieces");
        return -1;
    }
    if (mo->model_type != 1 && mo->model_type != 2) {
        static const char *names[] = { "?", "UNIGRAM", "BPE", "WORD", "CHAR" };
        pb_error(pb, mo->type_at, "TrainerSpec.model_type %d (%s) is not supported (UNIGRAM or BPE)",
                 mo->model_type, mo->model_type >= 0 && mo->model_type <= 4 ? names[mo->model_type] : "?");
        return -1;
    }
    if (mo->ws_suffix) {
        pb_error(pb, mo->ws_suffix_at, "TrainerSpec.treat_whitespace_as_suffix is not supported");
        return -1;
    }
    check_charsmap(pb, mo);
    if (pb->failed || check_repeats(pb, mo)) return -1;

    TokBlob b;
    tok_blob_init(&b, mo->model_type == 1 ? RT_TOK_SPM_UNIGRAM : RT_TOK_SPM_BPE);
    b.with_scores = 1;
    for (int i = 0; i < 256; i++) b.byte_ids[i] = RT_TOK_NO_ID;
    int n_unk = 0, n_bytes = 0;
    uint8_t *tmp = xmalloc(1);
    size_t tmp_cap = 1;
    for (size_t i = 0; i < mo->n && !pb->failed; i++) {
        const Piece *p = &mo->pieces[i];
        const uint8_t *s = pb->file + p->off;
        if (!utf8_ok(s, p->len)) {
            pb_error(pb, p->at, "piece %zu is not valid UTF-8", i);
            break;
        }
        if (p->len > tmp_cap) tmp = xrealloc(tmp, tmp_cap = p->len);
        switch (p->type) {
        case T_UNKNOWN: {
            n_unk++;
            b.unk_id = (uint32_t)i;
            const uint8_t *us = mo->unk_surface ? mo->unk_surface : (const uint8_t *)" \xE2\x81\x87 ";
            size_t ul = mo->unk_surface ? mo->unk_surface_len : 5;
            tok_blob_add(&b, us, ul, p->score, RT_TOK_FLAG_UNKNOWN, 0);
            break;
        }
        case T_CONTROL: tok_blob_add(&b, "", 0, p->score, RT_TOK_FLAG_SPECIAL, 0); break;
        case T_BYTE: {
            int byte = byte_of(s, p->len);
            if (byte < 0) {
                pb_error(pb, p->at, "piece %zu '%.*s' has type BYTE but is not <0xNN>", i,
                         (int)(p->len < 60 ? p->len : 60), (const char *)s);
                break;
            }
            if (!mo->byte_fallback) {
                pb_error(pb, p->at, "piece %zu '%.*s' has type BYTE, but TrainerSpec.byte_fallback is "
                         "not set", i, (int)p->len, (const char *)s);
                break;
            }
            uint8_t raw = (uint8_t)byte;
            b.byte_ids[byte] = tok_blob_add(&b, &raw, 1, p->score, RT_TOK_FLAG_BYTE, 0);
            n_bytes++;
            break;
        }
        default: {
            /* NORMAL, USER_DEFINED, UNUSED: U+2581 stands for a space */
            size_t n = 0;
            for (size_t k = 0; k < p->len; k++) {
                if (mo->escape_ws && k + 2 < p->len && s[k] == 0xE2 && s[k + 1] == 0x96 && s[k + 2] == 0x81) {
                    tmp[n++] = ' ';
                    k += 2;
                } else {
                    tmp[n++] = s[k];
                }
            }
            unsigned f = p->type == T_USER ? RT_TOK_FLAG_USER : p->type == T_UNUSED ? RT_TOK_FLAG_UNUSED : 0;
            tok_blob_add(&b, tmp, n, p->score, f, 1);
        }
        }
    }
    free(tmp);
    int rc = -1;
    if (pb->failed) {
        /* reported */
    } else if (n_unk != 1) {
        diag_file_error(pb->d, pb->name, "the model has %d UNKNOWN pieces; SentencePiece needs "
                        "exactly one", n_unk);
    } else if (mo->byte_fallback && n_bytes != 256) {
        diag_file_error(pb->d, pb->name, "TrainerSpec.byte_fallback is set but the model has %d "
                        "of the 256 BYTE pieces <0x00> .. <0xFF>", n_bytes);
    } else {
        static const char *dflt[3] = { "<s>", "</s>", "<pad>" };
        uint32_t ids[3];
        for (int k = 0; k < 3; k++) {
            const char *s = mo->special[k] ? mo->special[k] : dflt[k];
            size_t n = mo->special[k] ? mo->special_len[k] : strlen(dflt[k]);
            ids[k] = control_id(pb, mo, s, n);
        }
        b.bos_id = ids[0];
        b.eos_id = ids[1];
        b.pad_id = ids[2];
        b.has_byte_ids = mo->byte_fallback;
        b.flags = RT_TOK_F_MERGE_UNKNOWN;
        if (b.bos_id != RT_TOK_NO_ID) b.flags |= RT_TOK_F_ADD_BOS;
        if (mo->add_dummy_prefix) b.flags |= RT_TOK_F_DUMMY_PREFIX;
        if (mo->remove_extra_ws) b.flags |= RT_TOK_F_REMOVE_EXTRA_WS;
        if (mo->escape_ws) b.flags |= RT_TOK_F_ESCAPE_WS;
        if (mo->add_dummy_prefix || mo->remove_extra_ws) b.flags |= RT_TOK_F_STRIP_FIRST_SPACE;
        b.charsmap = mo->charsmap;
        b.charsmap_size = (uint32_t)mo->charsmap_len;
        rc = tok_blob_write(&b, pb->d, pb->name, blob, size);
    }
    tok_blob_free(&b);
    return rc;
}

int fe_spm_tokenizer_build_mem(Diag *d, const char *name, const void *data, size_t len,
                               void **blob, size_t *size)
{
    *blob = NULL;
    *size = 0;
    if (len == 0) {
        diag_file_error(d, name, "empty file (expected a SentencePiece model: a serialized "
                        "sentencepiece.ModelProto)");
        return -1;
    }
    Pb pb = { d, name, data, 0 };
    Model mo = { .model_type = 1, .add_dummy_prefix = 1, .remove_extra_ws = 1, .escape_ws = 1 };
    read_model(&pb, &mo, len);
    int rc = pb.failed ? -1 : build_blob(&pb, &mo, blob, size);
    free(mo.pieces);
    return rc;
}

int fe_spm_tokenizer_build(Diag *d, const char *path, void **blob, size_t *size)
{
    return tok_build_file(d, path, fe_spm_tokenizer_build_mem, blob, size);
}
