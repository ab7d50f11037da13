/* tokenizer_gpt2.c — GPT-2 byte-level BPE files (encoder.json + vocab.bpe) to a tokenizer blob.
 *
 * GPT-2 writes each token as a string of printable stand-ins: its bytes_to_unicode maps every
 * byte value to a code point (printable Latin-1 to itself, the other 68 bytes to U+0100..U+0143)
 * so that the vocabulary is clean JSON text. We map the stand-ins back and store raw bytes: the
 * runtime works on bytes and never sees the mapping. Hugging Face's vocab.json + merges.txt are
 * the same formats under other names.
 *
 * json-c parses the vocabulary (strict, UTF-8 validated) but keeps no positions, and silently
 * lets a repeated key replace the earlier one. So a small scanner also walks the text for the
 * byte offset of each top-level key: the k-th key json-c iterates is the k-th in the text
 * unless keys repeat, which the scanner's count reveals. Messages then carry line:col. The
 * merges file is read here line by line. Every problem of either file is a user error naming
 * file and line; all of them (up to Diag's limit) are reported, then the build fails.
 *
 * The blob (runtime/tokenizer.h, written by tokenizer_blob.c): header, piece_index, byte_ids,
 * the merge hash table, then the token bytes. Ranks are the merge lines' order. */
#include "frontend/tokenizer_gpt2.h"
#include "frontend/tokenizer_blob.h"
#include "runtime/tokenizer.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILE (1u << 30)         /* 1 GiB; GPT-2's files are 1.0 MB and 0.5 MB */
#define NONE 0xFFFFFFFFu

/* A file being read, for messages. */
typedef struct Src {
    const char *name;
    const char *text;
    size_t len;
} Src;

typedef struct Builder {
    Diag *d;
    Src vocab, merges;
    uint32_t to_cp[256];            /* byte -> its stand-in code point */
    int16_t from_cp[324];           /* stand-in code point -> byte, -1 for none */

    /* the vocabulary, by id */
    uint32_t n;
    uint32_t *off, *len;            /* (n) token id's bytes: bytes[off[id] .. off[id] + len[id]) */
    uint32_t *key;                  /* (n) index of its key in the file; NONE until seen */
    const char **key_str;           /* (n) its key as json-c holds it */
    uint8_t *bytes;                 /* every token's bytes, in file order */
    size_t n_bytes;
    uint32_t *slot;                 /* (mask + 1) hash of bytes -> id + 1; 0 is empty */
    uint32_t mask;
    size_t *key_off;                /* (n_keys) byte offset of each top-level key, text order */
    size_t n_keys;
    uint32_t byte_ids[256];
    uint32_t eos;

    /* the merges */
    RtTokMerge *table;              /* (slots) the blob's hash table, filled in place */
    uint32_t slots;
    uint32_t n_merges;
    uint32_t *merge_line;           /* (n_merges) line of the merge of each rank */
    uint8_t *scratch;               /* (merges.len) the bytes of one line's two tokens */
} Builder;

/* ---- bytes and text -------------------------------------------------------------- */

/* openai/gpt-2 encoder.py bytes_to_unicode: '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for
 * themselves; the other bytes take U+0100, U+0101... in byte order. */
static void byte_map_init(Builder *b)
{
    uint32_t next = 256;
    for (int i = 0; i < 324; i++) b->from_cp[i] = -1;
    for (uint32_t c = 0; c < 256; c++) {
        int printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE;
        b->to_cp[c] = printable ? c : next++;
        b->from_cp[b->to_cp[c]] = (int16_t)c;
    }
}

/* One code point of s[0..n) (n >= 1), strictly (no overlongs, surrogates or > U+10FFFF).
 * Returns its length in bytes, 0 if the bytes are not UTF-8. */
static int utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t b0 = s[0], lo = 0x80, hi = 0xBF;
    int len;
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) len = 2, *cp = b0 & 0x1F;
    else if (b0 >= 0xE0 && b0 <= 0xEF) len = 3, *cp = b0 & 0x0F;
    else if (b0 >= 0xF0 && b0 <= 0xF4) len = 4, *cp = b0 & 0x07;
    else return 0;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
    if ((size_t)len > n || s[1] < lo || s[1] > hi) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    return len;
}

static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) return out[0] = (char)cp, 1;
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    out[0] = (char)(0xE0 | cp >> 12);   /* stand-ins are below U+0800; enough for messages */
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* s[0..n) made safe to print in a message: control characters and bytes that are not UTF-8
 * escaped, cut after 40 characters. buf needs 256 bytes. */
static const char *show(char *buf, const char *s, size_t n)
{
    size_t o = 0, shown = 0;
    for (size_t i = 0; i < n;) {
        if (shown++ == 40) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        uint32_t cp;
        int l = utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (l > 0 && cp >= 0x20 && cp != 0x7F && (cp < 0x80 || cp >= 0xA0)) {
            memcpy(buf + o, s + i, (size_t)l);
            o += (size_t)l;
            i += (size_t)l;
        } else {
            o += (size_t)snprintf(buf + o, 8, "\\x%02X", (uint8_t)s[i]);
            i++;
        }
    }
    buf[o] = 0;
    return buf;
}

/* Maps a string of stand-ins to bytes in out (room for n). Returns the byte count, or -1 with
 * *bad = the code point that is no stand-in (NONE for bytes that are not UTF-8). */
static long unmap(const Builder *b, const char *s, size_t n, uint8_t *out, uint32_t *bad)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (l == 0) {
            *bad = NONE;
            return -1;
        }
        if (cp >= 324 || b->from_cp[cp] < 0) {
            *bad = cp;
            return -1;
        }
        out[o++] = (uint8_t)b->from_cp[cp];
        i += (size_t)l;
    }
    return (long)o;
}

/* The location of byte offset off of a file: line, and column in characters. */
static Loc src_loc(Builder *b, const Src *s, size_t off)
{
    uint32_t line = 1, col = 1;
    for (size_t i = 0; i < off && i < s->len; i++) {
        uint8_t c = (uint8_t)s->text[i];
        if (c == '\n') line++, col = 1;
        else if ((c & 0xC0) != 0x80) col++;
    }
    return loc_make(diag_file(b->d, s->name), line, col);
}

/* Whether more errors were reported since errors0 than Diag prints (max_errors; it says
 * "too many errors" at the first one past): then we stop looking. Each message costs up to a
 * pass over the file (src_loc), so this also bounds the time a file full of errors takes. */
static int too_many(const Builder *b, int errors0)
{
    int limit = b->d->max_errors ? b->d->max_errors : 20;
    return b->d->n_errors - errors0 > limit;
}

static Loc line_loc(Builder *b, const Src *s, uint32_t line, uint32_t col)
{
    return loc_make(diag_file(b->d, s->name), line, col);
}

/* ---- the vocabulary ---------------------------------------------------------------- */

static uint32_t hash_bytes(const uint8_t *s, size_t n)
{
    uint32_t h = 2166136261u;           /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    return h;
}

static uint32_t vocab_find(const Builder *b, const uint8_t *s, size_t n)
{
    for (uint32_t i = hash_bytes(s, n) & b->mask;; i = (i + 1) & b->mask) {
        uint32_t id = b->slot[i];
        if (id == 0) return NONE;
        id--;
        if (b->len[id] == n && memcmp(b->bytes + b->off[id], s, n) == 0) return id;
    }
}

static void vocab_index(Builder *b)
{
    uint32_t size = 2;
    while (size < 2 * b->n) size *= 2;
    b->mask = size - 1;
    b->slot = xcalloc(size, sizeof *b->slot);
    for (uint32_t id = 0; id < b->n; id++) {
        uint32_t i = hash_bytes(b->bytes + b->off[id], b->len[id]) & b->mask;
        while (b->slot[i]) i = (i + 1) & b->mask;
        b->slot[i] = id + 1;
    }
}

/* Index just past the JSON string that starts with the quote at s[i]. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\') i++;
        else if (s[i] == '"') return i + 1;
    }
    return n;
}

/* Finds the byte offset of every key of the top-level object, in text order. json-c has
 * accepted the text as strict JSON, so strings and nesting are all there is to follow.
 * Returns the index of the first key that spells U+0000 (json-c cuts keys there), or NONE. */
static size_t scan_keys(Builder *b)
{
    const char *s = b->vocab.text;
    size_t n = b->vocab.len, cap = 0, nul = NONE;
    int depth = 0, want_key = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            size_t end = skip_string(s, n, i);
            if (depth == 1 && want_key) {
                for (size_t j = i + 1; j + 5 < end && nul == NONE; j++) {
                    if (s[j] != '\\') continue;
                    if (memcmp(s + j, "\\u0000", 6) == 0) nul = b->n_keys;
                    j++;
                }
                VEC_PUSH(b->key_off, b->n_keys, cap, i);
                want_key = 0;
            }
            i = end - 1;
        } else if (c == '{' || c == '[') {
            depth++;
            want_key = depth == 1;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) break;
        } else if (c == ',' && depth == 1) {
            want_key = 1;
        }
    }
    return nul;
}

static Loc key_loc(Builder *b, uint32_t k)
{
    if (k < b->n_keys) return src_loc(b, &b->vocab, b->key_off[k]);
    return loc_make(diag_file(b->d, b->vocab.name), 0, 0);
}

/* The decoded string of the JSON string token starting at the key offset k (NULL if none):
 * a json-c object to put. */
static json_object *key_text(Builder *b, size_t k)
{
    const char *s = b->vocab.text;
    size_t at = b->key_off[k], end = skip_string(s, b->vocab.len, at);
    json_tokener *tok = json_tokener_new();
    if (!tok) kiln_internal(__FILE__, __LINE__, "out of memory");
    json_object *str = json_tokener_parse_ex(tok, s + at, (int)(end - at));
    json_tokener_free(tok);
    if (str && !json_object_is_type(str, json_type_string)) {
        json_object_put(str);
        str = NULL;
    }
    return str;
}

static int key_is(Builder *b, size_t k, const char *want, size_t want_len)
{
    json_object *str = key_text(b, k);
    int same = str && (size_t)json_object_get_string_len(str) == want_len &&
               memcmp(json_object_get_string(str), want, want_len) == 0;
    json_object_put(str);
    return same;
}

/* The text has more keys than json-c kept: some key is repeated. json-c keeps keys in order
 * of first appearance, so the first text key that differs from json-c's key of the same index
 * is the first repeat. Reports it with the place of its first appearance. */
static void report_duplicate_key(Builder *b, json_object *obj)
{
    size_t k = 0;
    json_object_object_foreach(obj, key, val) {
        (void)val;
        if (k >= b->n_keys || !key_is(b, k, key, strlen(key))) break;
        k++;
    }
    if (k >= b->n_keys) {       /* cannot happen; still a user's file, so no assertion */
        diag_file_error(b->d, b->vocab.name, "a token appears twice as a key");
        return;
    }
    json_object *dup = key_text(b, k);
    const char *ds = dup ? json_object_get_string(dup) : "";
    size_t dn = dup ? (size_t)json_object_get_string_len(dup) : 0;
    size_t first = 0;
    while (first < k && !key_is(b, first, ds, dn)) first++;
    Loc at = key_loc(b, (uint32_t)first);
    char sh[256];
    diag_error(b->d, key_loc(b, (uint32_t)k), "token '%s' appears twice as a key (first at %u:%u)",
               show(sh, ds, dn), at.line, at.col);
    json_object_put(dup);
}

/* Checks one entry (key number k, json-c's key and value) and records token id's bytes.
 * Locations are computed only for messages: src_loc counts from the start of the file. */
static void vocab_entry(Builder *b, uint32_t k, const char *key, json_object *val)
{
    char sh[256], sh2[256];
    size_t klen = strlen(key);
    if (!json_object_is_type(val, json_type_int)) {
        diag_error(b->d, key_loc(b, k), "the id of token '%s' is not an integer",
                   show(sh, key, klen));
        return;
    }
    int64_t id = json_object_get_int64(val);
    if (id < 0) {
        diag_error(b->d, key_loc(b, k), "token '%s' has a negative id (%lld)", show(sh, key, klen),
                   (long long)id);
        return;
    }
    if (id >= b->n) {
        diag_error(b->d, key_loc(b, k), "token '%s' has id %lld, out of range: ids of %u tokens "
                   "must be 0..%u, each used once", show(sh, key, klen), (long long)id, b->n,
                   b->n - 1);
        return;
    }
    if (b->key[id] != NONE) {
        Loc first = key_loc(b, b->key[id]);
        diag_error(b->d, key_loc(b, k), "id %lld is used twice: by token '%s' and, at %u:%u, "
                   "by '%s'",
                   (long long)id, show(sh, key, klen), first.line, first.col,
                   show(sh2, b->key_str[id], strlen(b->key_str[id])));
        return;
    }
    if (klen == 0) {
        diag_error(b->d, key_loc(b, k), "empty token string (id %lld)", (long long)id);
        return;
    }
    uint32_t bad;
    long n = unmap(b, key, klen, b->bytes + b->n_bytes, &bad);
    if (n < 0) {
        if (bad == NONE)
            diag_error(b->d, key_loc(b, k), "token '%s' is not valid UTF-8", show(sh, key, klen));
        else
            diag_error(b->d, key_loc(b, k), "token '%s' contains U+%04X, which is not one of "
                       "GPT-2's byte stand-ins (bytes_to_unicode)", show(sh, key, klen), bad);
        return;
    }
    b->key[id] = k;
    b->key_str[id] = key;
    b->off[id] = (uint32_t)b->n_bytes;
    b->len[id] = (uint32_t)n;
    b->n_bytes += (size_t)n;
}

/* Reads the vocabulary: json-c for the syntax, then every entry checked. Returns 0 if all is
 * well; errors have been reported otherwise. */
static int vocab_read(Builder *b)
{
    Src *v = &b->vocab;
    Diag *d = b->d;
    int errors = d->n_errors;
    if (v->len == 0) {
        diag_file_error(d, v->name, "empty file (expected a JSON object of token ids)");
        return -1;
    }
    json_tokener *tok = json_tokener_new();
    if (!tok) kiln_internal(__FILE__, __LINE__, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *obj = json_tokener_parse_ex(tok, v->text, (int)v->len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* a top-level literal ("null", "5") needs to see the end; a NUL byte says it */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        end = v->len;
        if (jerr != json_tokener_success) {
            diag_error(d, src_loc(b, v, v->len), "malformed JSON: the file ends before the JSON "
                       "is complete");
            json_tokener_free(tok);
            return -1;
        }
    }
    json_tokener_free(tok);
    if (jerr != json_tokener_success && v->len >= 3 && memcmp(v->text, "\xEF\xBB\xBF", 3) == 0) {
        diag_error(d, src_loc(b, v, 0), "the file starts with a byte order mark (EF BB BF), "
                   "which JSON does not allow");
        return -1;
    }
    if (jerr != json_tokener_success) {
        diag_error(d, src_loc(b, v, end), "malformed JSON: %s", json_tokener_error_desc(jerr));
        json_object_put(obj);
        return -1;
    }
    size_t first = 0;
    while (first < v->len && (v->text[first] == ' ' || v->text[first] == '\t' ||
                              v->text[first] == '\r' || v->text[first] == '\n'))
        first++;
    if (!json_object_is_type(obj, json_type_object)) {
        diag_error(d, src_loc(b, v, first), "expected a JSON object mapping token strings to ids");
        json_object_put(obj);
        return -1;
    }
    int n = json_object_object_length(obj);
    if (n == 0 || (uint32_t)n > RT_TOK_MAX_TOKENS) {
        if (n == 0) diag_error(d, src_loc(b, v, first), "the vocabulary is empty");
        else diag_error(d, src_loc(b, v, first), "too many tokens (%d; at most %u)", n,
                        RT_TOK_MAX_TOKENS);
        json_object_put(obj);
        return -1;
    }
    size_t nul = scan_keys(b);
    if (nul != NONE) {
        diag_error(d, key_loc(b, (uint32_t)nul), "a token contains U+0000, which is not one of "
                   "GPT-2's byte stand-ins (bytes_to_unicode)");
        json_object_put(obj);
        return -1;
    }
    if (b->n_keys != (size_t)n) {
        report_duplicate_key(b, obj);
        json_object_put(obj);
        return -1;
    }

    b->n = (uint32_t)n;
    b->off = xcalloc(b->n, sizeof *b->off);
    b->len = xcalloc(b->n, sizeof *b->len);
    b->key = xmalloc(b->n * sizeof *b->key);
    memset(b->key, 0xFF, b->n * sizeof *b->key);
    b->key_str = xcalloc(b->n, sizeof *b->key_str);
    b->bytes = xmalloc(v->len);         /* a stand-in is at least one byte of UTF-8 */
    uint32_t k = 0;
    json_object_object_foreach(obj, key, val) {
        if (too_many(b, errors)) break;
        vocab_entry(b, k++, key, val);
    }
    /* n distinct ids, each in 0..n-1: the ids are dense */
    if (d->n_errors > errors) {
        json_object_put(obj);
        return -1;
    }
    vocab_index(b);
    for (uint32_t c = 0; c < 256 && !too_many(b, errors); c++) {
        uint8_t byte = (uint8_t)c;
        b->byte_ids[c] = vocab_find(b, &byte, 1);
        if (b->byte_ids[c] == NONE) {
            char sc[4] = { 0 };
            utf8_put(sc, b->to_cp[c]);
            diag_file_error(d, v->name, "no token for byte 0x%02X (written '%s'): byte-level BPE "
                            "needs one for each of the 256 bytes", c, sc);
        }
    }
    b->eos = vocab_find(b, (const uint8_t *)"<|endoftext|>", 13);
    json_object_put(obj);               /* the keys are gone: key_str must go too */
    free(b->key_str);
    b->key_str = NULL;
    return d->n_errors > errors ? -1 : 0;
}

/* ---- the merges ------------------------------------------------------------------ */

/* One token of a merges line: its id, or NONE after reporting it. Its bytes go to out. */
static uint32_t merge_part(Builder *b, uint32_t line, uint32_t col, const char *s, size_t n,
                           uint8_t *out, size_t *out_n)
{
    uint32_t bad;
    long got = unmap(b, s, n, out, &bad);
    uint32_t id = got < 0 ? NONE : vocab_find(b, out, (size_t)got);
    *out_n = got < 0 ? 0 : (size_t)got;
    if (id == NONE) {
        char sh[256];
        diag_error(b->d, line_loc(b, &b->merges, line, col), "'%s' is not in the vocabulary (%s)",
                   show(sh, s, n), b->vocab.name);
    }
    return id;
}

/* One line "A B" of rank b->n_merges: checked and put into the table. */
static void merge_line(Builder *b, uint32_t line, const char *s, size_t n)
{
    char sh[256], sh2[256], sh3[256];
    const char *sp = memchr(s, ' ', n);
    if (!sp || sp == s || sp == s + n - 1 || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1))) {
        diag_error(b->d, line_loc(b, &b->merges, line, 0),
                   "expected two tokens separated by one space, found '%s'", show(sh, s, n));
        return;
    }
    size_t n1 = (size_t)(sp - s), n2 = n - n1 - 1, b1, b2;
    uint32_t col2 = 2;                  /* column of the second token, in characters */
    for (size_t i = 0; i < n1; i++) col2 += ((uint8_t)s[i] & 0xC0) != 0x80;
    uint32_t left = merge_part(b, line, 1, s, n1, b->scratch, &b1);
    uint32_t right = merge_part(b, line, col2, sp + 1, n2, b->scratch + b1, &b2);
    if (left == NONE || right == NONE) return;
    uint32_t merged = vocab_find(b, b->scratch, b1 + b2);
    if (merged == NONE) {
        char cat[200];                  /* A and B joined, as far as show() will print */
        size_t c1 = n1 < 100 ? n1 : 100, c2 = n2 < 100 ? n2 : 100;
        memcpy(cat, s, c1);
        memcpy(cat + c1, sp + 1, c2);
        diag_error(b->d, line_loc(b, &b->merges, line, 0), "merging '%s' and '%s' gives '%s', "
                   "which is not in the vocabulary (%s)", show(sh, s, n1), show(sh2, sp + 1, n2),
                   show(sh3, cat, c1 + c2), b->vocab.name);
        return;
    }
    uint32_t i = rt_tok_pair_hash(left, right) & (b->slots - 1);
    for (; b->table[i].left != RT_TOK_NO_ID; i = (i + 1) & (b->slots - 1)) {
        if (b->table[i].left == left && b->table[i].right == right) {
            diag_error(b->d, line_loc(b, &b->merges, line, 0), "merge '%s' repeated (first at "
                       "line %u)", show(sh, s, n), b->merge_line[b->table[i].rank]);
            return;
        }
    }
    if (b->n_merges == RT_TOK_MAX_MERGES) {
        diag_error(b->d, line_loc(b, &b->merges, line, 0), "too many merges (at most %u)",
                   RT_TOK_MAX_MERGES);
        return;
    }
    b->table[i] = (RtTokMerge){ left, right, b->n_merges, merged };
    b->merge_line[b->n_merges++] = line;
}

static int merges_read(Builder *b)
{
    Src *m = &b->merges;
    Diag *d = b->d;
    int errors = d->n_errors;
    if (m->len == 0) {
        diag_file_error(d, m->name, "empty file (expected merge lines \"A B\")");
        return -1;
    }
    size_t lines = 1;
    for (size_t i = 0; i < m->len; i++) lines += m->text[i] == '\n';
    if (lines > (size_t)RT_TOK_MAX_MERGES + 2) {
        diag_file_error(d, m->name, "too many lines (%zu; at most %u merges)", lines,
                        RT_TOK_MAX_MERGES);
        return -1;
    }
    b->slots = 2;
    while (b->slots < 2 * lines) b->slots *= 2;
    b->table = xmalloc((size_t)b->slots * sizeof *b->table);
    memset(b->table, 0xFF, (size_t)b->slots * sizeof *b->table);    /* all RT_TOK_NO_ID */
    b->merge_line = xmalloc(lines * sizeof *b->merge_line);
    b->scratch = xmalloc(m->len);

    size_t pos = 0;
    for (uint32_t line = 1; pos < m->len && !too_many(b, errors); line++) {
        const char *s = m->text + pos;
        const char *nl = memchr(s, '\n', m->len - pos);
        size_t n = nl ? (size_t)(nl - s) : m->len - pos;
        pos += n + (nl != NULL);
        if (n > 0 && s[n - 1] == '\r') n--;         /* CRLF files */
        if (line == 1 && n >= 8 && memcmp(s, "#version", 8) == 0) continue;
        if (n == 0) {
            size_t rest = pos;                      /* blank lines may end the file */
            while (rest < m->len && (m->text[rest] == '\n' || m->text[rest] == '\r')) rest++;
            if (rest == m->len) break;
            diag_error(d, line_loc(b, m, line, 0), "empty line (expected two tokens separated "
                       "by one space)");
            continue;
        }
        merge_line(b, line, s, n);
    }
    return d->n_errors > errors ? -1 : 0;
}

/* ---- the blob ------------------------------------------------------------------------- */

static int blob_write(Builder *b, void **blob, size_t *size)
{
    TokBlob tb;
    tok_blob_init(&tb, RT_TOK_GPT2);
    for (uint32_t id = 0; id < b->n; id++) tok_blob_add(&tb, b->bytes + b->off[id], b->len[id], 0.0f, 0, 0);
    tb.has_byte_ids = 1;
    memcpy(tb.byte_ids, b->byte_ids, sizeof tb.byte_ids);
    tb.merges = b->table;
    tb.merge_slots = b->slots;
    tb.n_merges = b->n_merges;
    tb.bos_id = tb.eos_id = b->eos;
    int rc = tok_blob_write(&tb, b->d, b->vocab.name, blob, size);
    tok_blob_free(&tb);
    return rc;
}

/* ---- entry points ---------------------------------------------------------------------- */

int fe_gpt2_tokenizer_build_mem(Diag *d, const char *vocab_name, const char *vocab,
                                size_t vocab_len, const char *merges_name, const char *merges,
                                size_t merges_len, void **blob, size_t *size)
{
    *blob = NULL;
    *size = 0;
    Builder b = { .d = d };
    b.vocab = (Src){ vocab_name, vocab, vocab_len };
    b.merges = (Src){ merges_name, merges, merges_len };
    byte_map_init(&b);
    int rc = -1;
    if (vocab_len > MAX_FILE || merges_len > MAX_FILE) {
        diag_file_error(d, vocab_len > MAX_FILE ? vocab_name : merges_name,
                        "file too large (at most %u bytes)", MAX_FILE);
    } else if (vocab_read(&b) == 0 && merges_read(&b) == 0) {
        rc = blob_write(&b, blob, size);
    }
    free(b.off);
    free(b.len);
    free(b.key);
    free(b.key_str);
    free(b.bytes);
    free(b.slot);
    free(b.key_off);
    free(b.table);
    free(b.merge_line);
    free(b.scratch);
    return rc;
}

/* Reads a whole file, refusing absurd sizes before reading them. */
static char *read_file(Diag *d, const char *path, size_t *len)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > MAX_FILE) {
        diag_file_error(d, path, "file too large (%lld bytes; at most %u)",
                        (long long)st.st_size, MAX_FILE);
        return NULL;
    }
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        diag_file_error(d, path, "cannot read: %s", strerror(EISDIR));
        return NULL;
    }
    return file_read_max(d, path, FILE_READ_MAX, len);
}

int fe_gpt2_tokenizer_build(Diag *d, const char *vocab_path, const char *merges_path,
                            void **blob, size_t *size)
{
    *blob = NULL;
    *size = 0;
    size_t vl = 0, ml = 0;
    char *v = read_file(d, vocab_path, &vl);
    char *m = read_file(d, merges_path, &ml);
    int rc = -1;
    if (v && m)
        rc = fe_gpt2_tokenizer_build_mem(d, vocab_path, v, vl, merges_path, m, ml, blob, size);
    free(v);
    free(m);
    return rc;
}

/* dir/name, malloc'd. */
static char *join(const char *dir, const char *name)
{
    size_t nd = strlen(dir), nn = strlen(name);
    int sep = nd > 0 && dir[nd - 1] != '/';
    char *p = xmalloc(nd + (size_t)sep + nn + 1);
    memcpy(p, dir, nd);
    if (sep) p[nd] = '/';
    memcpy(p + nd + (size_t)sep, name, nn + 1);
    return p;
}

/* dir/a if it exists, else dir/b, else NULL; malloc'd. lstat: a dangling link is found, then
 * reported when it cannot be read. */
static char *pick(const char *dir, const char *a, const char *b)
{
    struct stat st;
    char *p = join(dir, a);
    if (lstat(p, &st) == 0) return p;
    free(p);
    p = join(dir, b);
    if (lstat(p, &st) == 0) return p;
    free(p);
    return NULL;
}

int fe_gpt2_tokenizer_build_dir(Diag *d, const char *dir, void **blob, size_t *size)
{
    *blob = NULL;
    *size = 0;
    char *vocab = pick(dir, "encoder.json", "vocab.json");
    char *merges = pick(dir, "vocab.bpe", "merges.txt");
    int rc = -1;
    if (!vocab) diag_file_error(d, dir, "no GPT-2 vocabulary here (encoder.json or vocab.json)");
    if (!merges) diag_file_error(d, dir, "no GPT-2 merges here (vocab.bpe or merges.txt)");
    if (vocab && merges) rc = fe_gpt2_tokenizer_build(d, vocab, merges, blob, size);
    free(vocab);
    free(merges);
    return rc;
}
