/* tokenizer_chars.c — a character vocabulary to an RT_TOK_CHARS blob.
 *
 * The file (vocab.txt of a character-level model, as scripts/train_seq2seq.py writes it) is
 * one symbol per line, id = line number - 1, LF line endings (a CR before the LF is
 * dropped), an optional final newline. A line is one UTF-8 character; `<space>` stands for
 * " "; a line `<...>` (something between the brackets) is a special token: <pad>, <s>, </s>
 * and <unk> are the pad, bos, eos and unknown ids, any other is a special token without a
 * role. Every problem is reported with file, line and column: an empty line, invalid UTF-8,
 * a line of several characters, a symbol seen before (`<space>` and a line " " are the
 * same symbol); then the file as a whole: not empty, at most RT_TOK_MAX_TOKENS lines.
 * Duplicates are found with an open-addressing table of line numbers keyed by the symbol's
 * bytes (FNV-1a).
 *
 * The blob's piece of a symbol is its character, which is also its key in the piece hash;
 * a special token decodes to nothing and stays out of the hash, so text never matches it.
 * A prompt is the characters then </s> (RT_TOK_F_ADD_EOS, when the vocabulary has </s>):
 * the source side of a seq2seq model, as train_seq2seq.py's encode(). */
#include "frontend/tokenizer_chars.h"
#include "frontend/tokenizer_blob.h"

#include <stdlib.h>
#include <string.h>

static int is(const Line *l, const char *text)
{
    return l->n == strlen(text) && memcmp(l->s, text, l->n) == 0;
}

/* `<...>` with at least one byte between the brackets; `<space>` is the space, not one. */
static int is_special(const Line *l)
{
    return l->n >= 3 && l->s[0] == '<' && l->s[l->n - 1] == '>' && !is(l, "<space>");
}

/* The bytes a line stands for, its key among the lines: the line, or " " for `<space>`. */
static Line symbol(const Line *l)
{
    return is(l, "<space>") ? (Line){ (const uint8_t *)" ", 1 } : *l;
}

/* Checks one line: UTF-8, then one character unless special. Returns 0 after reporting. */
static int check_line(Diag *d, uint32_t file, uint32_t line, const Line *l)
{
    if (l->n == 0) {
        diag_error(d, loc_make(file, line, 1), "empty line (every line is a symbol, id = line "
                   "number - 1; the space is written <space>)");
        return 0;
    }
    size_t chars = 0, second = 0;
    for (size_t i = 0; i < l->n;) {
        int k = tok_utf8_char(l->s + i, l->n - i);
        if (k == 0) {
            diag_error(d, loc_make(file, line, (uint32_t)i + 1),
                       "invalid UTF-8 (byte 0x%02X at byte %zu of the line)", l->s[i], i + 1);
            return 0;
        }
        if (++chars == 2) second = i;
        i += (size_t)k;
    }
    if (chars > 1 && !is_special(l) && !is(l, "<space>")) {
        char a[48];
        diag_error(d, loc_make(file, line, (uint32_t)second + 1),
                   "'%s' is %zu characters; a line is one character, <space> or a special "
                   "token <...>", tok_show(a, l->s, l->n), chars);
        return 0;
    }
    return 1;
}

/* Checks every line, reporting each problem with its line. Returns the number of errors. */
static int check_lines(Diag *d, const char *name, const Line *l, uint32_t n)
{
    uint32_t file = diag_file(d, name);
    int errors0 = d->n_errors, limit = d->max_errors ? d->max_errors : 20;
    uint32_t slots = 1;
    while (slots <= 2 * n) slots <<= 1;
    uint32_t *seen = xcalloc(slots, sizeof *seen);      /* line index + 1; 0 empty */
    char a[48];
    for (uint32_t i = 0; i < n && d->n_errors - errors0 <= limit; i++) {
        if (!check_line(d, file, i + 1, &l[i])) continue;
        Line k = symbol(&l[i]);
        uint32_t h = rt_tok_bytes_hash(k.s, k.n) & (slots - 1);
        for (;; h = (h + 1) & (slots - 1)) {
            if (!seen[h]) {
                seen[h] = i + 1;
                break;
            }
            const Line *o = &l[seen[h] - 1];
            Line ko = symbol(o);
            if (ko.n == k.n && memcmp(ko.s, k.s, k.n) == 0) {
                diag_error(d, loc_make(file, i + 1, 1), "duplicate symbol '%s' (first on line %u)",
                           tok_show(a, l[i].s, l[i].n), seen[h]);
                break;
            }
        }
    }
    free(seen);
    return d->n_errors - errors0;
}

int fe_chars_tokenizer_build_mem(Diag *d, const char *name, const void *data, size_t len,
                                 void **blob, size_t *size)
{
    *blob = NULL;
    *size = 0;
    if (len == 0) {
        diag_file_error(d, name, "empty file (expected a character vocabulary: one symbol per "
                        "line, id = line number - 1)");
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
    tok_blob_init(&b, RT_TOK_CHARS);
    b.with_scores = 1;              /* token_flags and the piece hash (scores all 0, unused) */
    for (uint32_t i = 0; i < n; i++) {
        const Line *l = &lines[i];
        if (is_special(l)) {
            int unk = is(l, "<unk>");
            tok_blob_add(&b, "", 0, 0.0f, RT_TOK_FLAG_SPECIAL | (unk ? RT_TOK_FLAG_UNKNOWN : 0), 0);
            if (unk) b.unk_id = i;
            if (is(l, "<pad>")) b.pad_id = i;
            if (is(l, "<s>")) b.bos_id = i;
            if (is(l, "</s>")) b.eos_id = i;
        } else {
            Line s = symbol(l);
            tok_blob_add(&b, s.s, s.n, 0.0f, 0, 1);
        }
    }
    free(lines);
    b.flags = b.eos_id != RT_TOK_NO_ID ? RT_TOK_F_ADD_EOS : 0;
    int rc = tok_blob_write(&b, d, name, blob, size);
    tok_blob_free(&b);
    return rc;
}

int fe_chars_tokenizer_build(Diag *d, const char *path, void **blob, size_t *size)
{
    return tok_build_file(d, path, fe_chars_tokenizer_build_mem, blob, size);
}
