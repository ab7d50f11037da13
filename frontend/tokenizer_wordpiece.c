/* tokenizer_wordpiece.c — BERT's vocab.txt to an RT_TOK_WORDPIECE blob.
 *
 * The file is one token per line, id = line number - 1, LF line endings (a CR before the LF
 * is dropped), an optional final newline. Each line is checked and every problem reported
 * with file and line: invalid UTF-8 (with its column), an empty line, a line longer than
 * FE_WORDPIECE_MAX_LINE bytes, a token seen before (both lines named); then the file as a
 * whole: not empty, not too big, [UNK] present, at most RT_TOK_MAX_TOKENS tokens.
 *
 * The blob's pieces are what each token decodes to: " word" for a word-initial token, "ing"
 * for a continuation token "##ing" (the runtime joins pieces and drops the first space).
 * [PAD] [UNK] [CLS] [SEP] [MASK] are special: matched whole in text, never by the word-piece
 * search, so they stay out of the piece hash, as do tokens holding white space or control
 * characters, which the basic tokenizer never leaves in a word. [CLS] and [SEP] are the bos
 * and eos of a prompt ([CLS] text [SEP]) when the vocabulary has them. Duplicates are found
 * with an open-addressing table of line numbers keyed by the token's bytes (FNV-1a). */
#include "frontend/tokenizer_wordpiece.h"
#include "frontend/tokenizer_blob.h"

#include <stdlib.h>
#include <string.h>

/* The byte offset of the first invalid UTF-8 sequence in s[0..n) (strict: no overlongs,
 * surrogates or code points above U+10FFFF), or n. */
static size_t utf8_bad(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        size_t len;
        uint8_t lo = 0x80, hi = 0xBF;
        if (b < 0x80) {
            i++;
            continue;
        } else if (b >= 0xC2 && b <= 0xDF) {
            len = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            len = 3;
            if (b == 0xE0) lo = 0xA0;
            if (b == 0xED) hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            len = 4;
            if (b == 0xF0) lo = 0x90;
            if (b == 0xF4) hi = 0x8F;
        } else {
            return i;
        }
        if (len > n - i || s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += len;
    }
    return n;
}

static uint32_t hash_bytes(const uint8_t *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    return h;
}

/* Whether the token can be part of a word of the basic tokenizer's output: no ASCII white
 * space or control bytes (the runtime drops or splits on them). */
static int matchable(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] == 0x7F) return 0;
    return n > 0;
}

static int is_special(const uint8_t *s, size_t n)
{
    static const char *const names[] = { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
    for (int i = 0; i < 5; i++)
        if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0) return 1;
    return 0;
}

/* Checks every line, reporting each problem with its line. Returns the number of errors. */
static int check_lines(Diag *d, const char *name, const Line *l, uint32_t n)
{
    uint32_t file = diag_file(d, name);
    int errors0 = d->n_errors, limit = d->max_errors ? d->max_errors : 20;
    uint32_t slots = 1;
    while (slots <= 2 * n) slots <<= 1;
    uint32_t *seen = xmalloc(slots * sizeof *seen);      /* line index + 1; 0 empty */
    memset(seen, 0, slots * sizeof *seen);
    char a[48];
    for (uint32_t i = 0; i < n && d->n_errors - errors0 <= limit; i++) {
        Loc at = loc_make(file, i + 1, 1);
        if (l[i].n == 0) {
            diag_error(d, at, "empty line (every line is a token; id = line number - 1)");
            continue;
        }
        if (l[i].n > FE_WORDPIECE_MAX_LINE) {
            diag_error(d, at, "line of %zu bytes; a token has at most %d", l[i].n,
                       FE_WORDPIECE_MAX_LINE);
            continue;
        }
        size_t bad = utf8_bad(l[i].s, l[i].n);
        if (bad < l[i].n) {
            diag_error(d, loc_make(file, i + 1, (uint32_t)bad + 1),
                       "invalid UTF-8 (byte 0x%02X at byte %zu of the line)", l[i].s[bad], bad + 1);
            continue;
        }
        uint32_t h = hash_bytes(l[i].s, l[i].n) & (slots - 1);
        for (;; h = (h + 1) & (slots - 1)) {
            if (!seen[h]) {
                seen[h] = i + 1;
                break;
            }
            const Line *o = &l[seen[h] - 1];
            if (o->n == l[i].n && memcmp(o->s, l[i].s, o->n) == 0) {
                diag_error(d, at, "duplicate token '%s' (first on line %u)", tok_show(a, l[i].s, l[i].n),
                           seen[h]);
                break;
            }
        }
    }
    free(seen);
    return d->n_errors - errors0;
}

int fe_wordpiece_tokenizer_build_mem(Diag *d, const char *name, const void *data, size_t len,
                                     int lowercase, void **blob, size_t *size)
{
    *blob = NULL;
    *size = 0;
    if (len == 0) {
        diag_file_error(d, name, "empty file (expected a WordPiece vocab.txt: one token per "
                        "line, id = line number - 1)");
        return -1;
    }
    if (len > FE_WORDPIECE_MAX_FILE) {
        diag_file_error(d, name, "%zu bytes; a vocab.txt has at most %u", len,
                        FE_WORDPIECE_MAX_FILE);
        return -1;
    }
    Line *lines;
    long nl = tok_split_lines(d, name, data, len, &lines);
    if (nl < 0) return -1;
    uint32_t n = (uint32_t)nl;
    if (check_lines(d, name, lines, n) > 0) {
        free(lines);
        return -1;
    }
    TokBlob b;
    tok_blob_init(&b, RT_TOK_WORDPIECE);
    b.with_scores = 1;              /* token_flags (scores are written too, all 0) */
    uint8_t piece[FE_WORDPIECE_MAX_LINE + 1];
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *s = lines[i].s;
        size_t k = lines[i].n;
        if (is_special(s, k)) {
            piece[0] = ' ';
            memcpy(piece + 1, s, k);
            tok_blob_add(&b, piece, k + 1, 0.0f, RT_TOK_FLAG_SPECIAL, 0);
            if (k == 5 && memcmp(s, "[UNK]", 5) == 0) b.unk_id = i;
            if (k == 5 && memcmp(s, "[CLS]", 5) == 0) b.bos_id = i;
            if (k == 5 && memcmp(s, "[SEP]", 5) == 0) b.eos_id = i;
            if (k == 5 && memcmp(s, "[PAD]", 5) == 0) b.pad_id = i;
        } else if (k >= 2 && s[0] == '#' && s[1] == '#') {
            tok_blob_add(&b, s + 2, k - 2, 0.0f, 0, matchable(s + 2, k - 2));
        } else {
            piece[0] = ' ';
            memcpy(piece + 1, s, k);
            tok_blob_add(&b, piece, k + 1, 0.0f, 0, matchable(s, k));
        }
    }
    free(lines);
    int rc = -1;
    if (b.unk_id == RT_TOK_NO_ID) {
        diag_file_error(d, name, "no [UNK] token (a WordPiece vocabulary needs one for words it "
                        "cannot split)");
    } else {
        b.flags = RT_TOK_F_STRIP_FIRST_SPACE | (lowercase ? RT_TOK_F_LOWERCASE : 0) |
                  (b.bos_id != RT_TOK_NO_ID ? RT_TOK_F_ADD_BOS : 0) |
                  (b.eos_id != RT_TOK_NO_ID ? RT_TOK_F_ADD_EOS : 0);
        rc = tok_blob_write(&b, d, name, blob, size);
    }
    tok_blob_free(&b);
    return rc;
}

int fe_wordpiece_tokenizer_build(Diag *d, const char *path, int lowercase, void **blob,
                                 size_t *size)
{
    *blob = NULL;
    *size = 0;
    size_t len = 0;
    char *data = file_read_max(d, path, FILE_READ_MAX, &len);
    if (!data) return -1;
    int rc = fe_wordpiece_tokenizer_build_mem(d, path, data, len, lowercase, blob, size);
    free(data);
    return rc;
}
