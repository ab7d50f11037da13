/* test_bad.c — the GPT-2 tokenizer facing bad input: files, blobs and text.
 *
 * 1. Broken vocab.json / merges.txt pairs, written to a temporary folder from the table below
 *    (the vocabulary is small_vocab.h's 256 byte tokens on line 1, then a tail that breaks
 *    lines 2, 3...): each must fail, and its messages must contain the expected text, which
 *    names the file and line. A few good variants must succeed.
 * 2. Corrupted blobs: hand-made corruptions of a good blob, each rejected by rt_tok_open with
 *    the expected code; then random mutations, each either rejected or still round-tripping.
 * 3. Text: invalid UTF-8 rejected with the byte offset, small buffers, bad ids.
 * Needs nothing from ../shared. */
#include "frontend/tokenizer_gpt2.h"
#include "runtime/tokenizer.h"
#include "support/support.h"
#include "small_vocab.h"
#include "tests/check.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>



/* ---- 1. bad files ------------------------------------------------------------------- */

typedef struct FileCase {
    const char *name;
    int raw;                /* vocab is the whole file, not the tail after the byte tokens */
    const char *vocab;      /* NULL: sv_tail */
    const char *merges;     /* NULL: sv_merges */
    const char *expect;     /* text the messages must contain; NULL: the build must succeed */
} FileCase;

#define V(s) 0, s
#define RAW(s) 1, s
static const FileCase file_cases[] = {
    { "good", V(NULL), NULL, NULL },
    { "merges without #version", V(NULL), "h e\nl l\nhe ll\nhell o\n\xC4\xA0 w\n", NULL },
    { "merges with CRLF", V(NULL), "#version: 0.2\r\nh e\r\nl l\r\n", NULL },
    { "merges without final newline", V(NULL), "h e\nl l", NULL },
    { "blank lines at the end", V(NULL), "h e\n\n\n", NULL },
    { "no merges", V(NULL), "#version: 0.2\n", NULL },

    { "empty vocab", RAW(""), NULL, "vocab.json: error: empty file" },
    { "empty merges", V(NULL), "", "merges.txt: error: empty file" },
    { "malformed JSON", RAW("{\"a\": 1,\n  \"b\" 2}"), NULL,
      "vocab.json:2:7: error: malformed JSON: " },
    { "JSON cut short", RAW("{\"a\": 1,\n \"b\": 2"), NULL,
      "vocab.json:2:8: error: malformed JSON: the file ends before the JSON is complete" },
    { "text after the object", V("}\nxyz"), NULL, "vocab.json:2:" },
    { "JSON nested too deep", RAW("{\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
      "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
      "]]]]]]]}"), NULL, "vocab.json:1:" },
    { "JSON not UTF-8", RAW("{\"a\": 0,\n\"\xFF\": 1}"), NULL, "vocab.json:2:" },
    { "not an object", RAW("[1, 2]"), NULL,
      "vocab.json:1:1: error: expected a JSON object mapping token strings to ids" },
    { "null", RAW("  null"), NULL, "vocab.json:1:3: error: expected a JSON object" },
    { "empty object", RAW("\n{ }"), NULL, "vocab.json:2:1: error: the vocabulary is empty" },
    { "id as a string", V(",\n\"he\": \"256\"\n}"), NULL,
      "vocab.json:2:1: error: the id of token 'he' is not an integer" },
    { "id as a float", V(",\n\"he\": 256.0\n}"), NULL,
      "vocab.json:2:1: error: the id of token 'he' is not an integer" },
    { "id null", V(",\n\"he\": null\n}"), NULL,
      "vocab.json:2:1: error: the id of token 'he' is not an integer" },
    { "negative id", V(",\n  \"he\": -1\n}"), NULL,
      "vocab.json:2:3: error: token 'he' has a negative id (-1)" },
    { "id out of range", V(",\n\"he\": 300\n}"), NULL,
      "vocab.json:2:1: error: token 'he' has id 300, out of range: ids of 257 tokens must be "
      "0..256" },
    { "huge id", V(",\n\"he\": 99999999999999999999\n}"), NULL, "vocab.json:2:1: error:" },
    { "id used twice", V(",\n\"he\": 256,\n\"ll\": 256\n}"), NULL,
      "vocab.json:3:1: error: id 256 is used twice: by token 'll' and, at 2:1, by 'he'" },
    { "byte id used twice", V(",\n\"he\": 65\n}"), NULL,
      "vocab.json:2:1: error: id 65 is used twice: by token 'he' and, at 1:" },
    { "key twice", V(",\n\"he\": 256,\n\"ll\": 257,\n\"he\": 258\n}"), NULL,
      "vocab.json:4:1: error: token 'he' appears twice as a key (first at 2:1)" },
    { "key twice, escaped", V(",\n\"he\": 256,\n\"\\u0068e\": 257\n}"), NULL,
      "vocab.json:3:1: error: token 'he' appears twice as a key (first at 2:1)" },
    { "space in a token", V(",\n\"a b\": 256\n}"), NULL,
      "vocab.json:2:1: error: token 'a b' contains U+0020, which is not one of GPT-2's byte "
      "stand-ins" },
    { "euro sign in a token", V(",\n\"\xE2\x82\xAC\": 256\n}"), NULL,
      "vocab.json:2:1: error: token '\xE2\x82\xAC' contains U+20AC" },
    { "control character in a token", V(",\n\"a\\n\": 256\n}"), NULL,
      "vocab.json:2:1: error: token 'a\\x0A' contains U+000A" },
    { "empty token", V(",\n\"\": 256\n}"), NULL, "vocab.json:2:1: error: empty token string" },
    { "U+0000 in a token", V(",\n\"he\": 256,\n\"a\\u0000\": 257\n}"), NULL,
      "vocab.json:3:1: error: a token contains U+0000" },
    { "missing byte tokens", RAW("{\"a\": 0}"), NULL,
      "vocab.json: error: no token for byte 0x00 (written '\xC4\x80'): byte-level BPE needs one "
      "for each of the 256 bytes" },
    { "merge of one token", V(NULL), "#version: 0.2\nh e\nhe\n",
      "merges.txt:3: error: expected two tokens separated by one space, found 'he'" },
    { "merge of three tokens", V(NULL), "h e\nhe l l\n",
      "merges.txt:2: error: expected two tokens separated by one space, found 'he l l'" },
    { "merge with two spaces", V(NULL), "h  e\n", "merges.txt:1: error: expected two tokens" },
    { "merge with a trailing space", V(NULL), "h e \n",
      "merges.txt:1: error: expected two tokens" },
    { "empty line inside", V(NULL), "h e\n\nl l\n", "merges.txt:2: error: empty line" },
    { "left part unknown", V(NULL), "#version: 0.2\nh e\nzz e\n",
      "merges.txt:3:1: error: 'zz' is not in the vocabulary (" },
    { "right part unknown", V(NULL), "\xC4\xA0 zz\n",
      "merges.txt:1:3: error: 'zz' is not in the vocabulary" },
    { "part not UTF-8", V(NULL), "h \xFF\n",
      "merges.txt:1:3: error: '\\xFF' is not in the vocabulary" },
    { "merge result unknown", V(NULL), "h e\nh l\n",
      "merges.txt:2: error: merging 'h' and 'l' gives 'hl', which is not in the vocabulary" },
    { "merge repeated", V(NULL), "#version: 0.2\nh e\nl l\nh e\n",
      "merges.txt:4: error: merge 'h e' repeated (first at line 2)" },
    { "#version not first", V(NULL), "h e\n#version: 0.2\n",
      "merges.txt:2:1: error: '#version:' is not in the vocabulary" },
    { "number at top level", RAW("5"), NULL, "vocab.json:1:1: error: expected a JSON object" },
    { "BOM", RAW("\xEF\xBB\xBF{\"a\": 0}"), NULL,
      "vocab.json:1:1: error: the file starts with a byte order mark" },
    { "every error reported", V(",\n\"he\": -1,\n\"ll\": 1.5\n}"), NULL,
      "vocab.json:3:1: error: the id of token 'll' is not an integer" },
};

static void write_file(const char *path, const char *s, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(s, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

/* Builds from the two files; returns the return code, messages in *msg (malloc'd). */
static int build_files(const char *vocab, const char *merges, char **msg, void **blob,
                       size_t *size)
{
    Diag d;
    diag_init(&d);
    size_t mlen;
    *msg = NULL;
    d.out = open_memstream(msg, &mlen);
    int rc = fe_gpt2_tokenizer_build(&d, vocab, merges, blob, size);
    fclose(d.out);                      /* sets *msg */
    CHECK((rc == 0) == (d.n_errors == 0), "return code %d with %d errors", rc, d.n_errors);
    diag_free(&d);
    return rc;
}

static void file_tests(const char *dir)
{
    char vocab[512], merges[512];
    snprintf(vocab, sizeof vocab, "%s/vocab.json", dir);
    snprintf(merges, sizeof merges, "%s/merges.txt", dir);
    for (size_t i = 0; i < sizeof file_cases / sizeof file_cases[0]; i++) {
        const FileCase *c = &file_cases[i];
        size_t n;
        char *v;
        if (c->raw) {
            n = strlen(c->vocab);
            v = strdup(c->vocab);
        } else {
            const char *tail = c->vocab ? c->vocab : sv_tail;
            v = sv_vocab(tail, strlen(tail), &n);
        }
        write_file(vocab, v, n);
        free(v);
        const char *m = c->merges ? c->merges : sv_merges;
        write_file(merges, m, strlen(m));
        char *msg;
        void *blob = NULL;
        size_t size = 0;
        int rc = build_files(vocab, merges, &msg, &blob, &size);
        if (!c->expect) {
            RtTokenizer t;
            CHECK(rc == 0 && rt_tok_open(blob, size, &t) == RT_TOK_OK,
                  "%s: should build and open, got:\n%s", c->name, msg);
        } else {
            CHECK(rc != 0 && blob == NULL, "%s: should fail", c->name);
            CHECK(strstr(msg, c->expect) != NULL, "%s: expected the message\n    %s\ngot\n    %s",
                  c->name, c->expect, msg);
            char *nl = strchr(msg, '\n');
            printf("ok: %-30s %.*s\n", c->name, nl ? (int)(nl - msg) : (int)strlen(msg), msg);
        }
        free(msg);
        free(blob);
    }

    /* files that are not there, or are folders */
    char *msg;
    void *blob;
    size_t size;
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nothing.json", dir);
    int rc = build_files(missing, merges, &msg, &blob, &size);
    CHECK(rc != 0 && strstr(msg, "nothing.json: error: cannot read: No such file or directory"),
          "missing vocab: %s", msg);
    printf("ok: %-30s %s", "missing file", msg);
    free(msg);
    rc = build_files(vocab, dir, &msg, &blob, &size);
    CHECK(rc != 0 && strstr(msg, ": error: cannot read: Is a directory"), "folder: %s", msg);
    printf("ok: %-30s %s", "folder as merges", msg);
    free(msg);
    Diag d;
    diag_init(&d);
    size_t mlen;
    d.out = open_memstream(&msg, &mlen);
    rc = fe_gpt2_tokenizer_build_dir(&d, "/nonexistent-kiln", &blob, &size);
    fclose(d.out);
    CHECK(rc != 0 && strstr(msg, "/nonexistent-kiln: error: no GPT-2 vocabulary here "
                            "(encoder.json or vocab.json)") &&
          strstr(msg, "no GPT-2 merges here"), "folder without files: %s", msg);
    free(msg);
    diag_free(&d);
    unlink(vocab);
    unlink(merges);
}

/* Files full of errors: the messages stop after Diag's limit, and quickly (each message may
 * scan the file for its line:col; a 1.7 MB line of errors must not take minutes). */
static void many_errors_tests(const char *dir)
{
    char vocab[512], merges[512];
    snprintf(vocab, sizeof vocab, "%s/vocab.json", dir);
    snprintf(merges, sizeof merges, "%s/merges.txt", dir);
    size_t cap = 4u << 20, n = 0;
    char *tail = malloc(cap);
    for (int i = 0; i < 100000; i++)        /* one line, every id used twice */
        n += (size_t)snprintf(tail + n, cap - n, ", \"w%d\": %d", i, 256 + i / 2);
    n += (size_t)snprintf(tail + n, cap - n, "}");
    size_t vn;
    char *v = sv_vocab(tail, n, &vn);
    write_file(vocab, v, vn);
    write_file(merges, sv_merges, strlen(sv_merges));
    char *msg;
    void *blob;
    size_t size;
    clock_t t0 = clock();
    int rc = build_files(vocab, merges, &msg, &blob, &size);
    double dt = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(rc != 0 && strstr(msg, "kiln: too many errors, stopping here") && dt < 5,
          "100000 bad ids: %.1f s, %s", dt, msg);
    printf("ok: %-30s %.2f s, messages end with: %s", "100000 ids used twice", dt,
           strstr(msg, "kiln: too many") ? "kiln: too many errors, stopping here\n" : msg);
    free(msg);
    free(v);

    n = 0;
    for (int i = 0; i < 100000; i++) n += (size_t)snprintf(tail + n, cap - n, "q%d x\n", i);
    v = sv_vocab(sv_tail, strlen(sv_tail), &vn);
    write_file(vocab, v, vn);
    write_file(merges, tail, n);
    t0 = clock();
    rc = build_files(vocab, merges, &msg, &blob, &size);
    dt = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(rc != 0 && strstr(msg, "kiln: too many errors, stopping here") && dt < 5,
          "100000 bad merges: %.1f s, %s", dt, msg);
    printf("ok: %-30s %.2f s\n", "100000 bad merge lines", dt);
    free(msg);
    free(v);
    free(tail);
    unlink(vocab);
    unlink(merges);
}

/* ---- 2. corrupted blobs ---------------------------------------------------------------- */

static void *good_blob(size_t *size)
{
    size_t n;
    char *v = sv_vocab(sv_tail, strlen(sv_tail), &n);
    Diag d;
    diag_init(&d);
    void *blob = NULL;
    int rc = fe_gpt2_tokenizer_build_mem(&d, "vocab.json", v, n, "merges.txt", sv_merges,
                                         strlen(sv_merges), &blob, size);
    diag_free(&d);
    free(v);
    if (rc != 0) {
        printf("FAIL: the small vocabulary does not build\n");
        exit(1);
    }
    return blob;
}

/* decode(encode(text)) == text, for a tokenizer that opened. */
static int round_trips(const RtTokenizer *t, const char *text)
{
    size_t len = strlen(text);
    int32_t ids[256];
    char back[256];
    long n = rt_tok_encode(t, text, len, ids, 256, NULL);
    if (n < 0) return 0;
    long m = rt_tok_decode(t, ids, (size_t)n, back, sizeof back, NULL);
    return m == (long)len && memcmp(back, text, len) == 0;
}

typedef struct BlobCase {
    const char *name;
    size_t field;           /* byte offset of a u32 to overwrite (from the blob's start) */
    int relative;           /* field is relative to an array: 1 piece_index, 2 byte_ids */
    uint32_t value;
    int want;
} BlobCase;

#define HDR(f) offsetof(RtTokHeader, f)
static const BlobCase blob_cases[] = {
    { "bad magic", HDR(magic), 0, 0x12345678, RT_TOK_EMAGIC },
    { "other byte order", HDR(magic), 0, 0x4B544F4B, RT_TOK_EENDIAN },
    { "version 1", HDR(version), 0, 1, RT_TOK_EVERSION },
    { "version 3", HDR(version), 0, 3, RT_TOK_EVERSION },
    { "kind WordPiece on GPT-2 arrays", HDR(kind), 0, RT_TOK_WORDPIECE, RT_TOK_ECORRUPT },
    { "kind chars on GPT-2 arrays", HDR(kind), 0, RT_TOK_CHARS, RT_TOK_ECORRUPT },
    { "kind 6 (unknown)", HDR(kind), 0, 6, RT_TOK_EKIND },
    { "kind 99", HDR(kind), 0, 99, RT_TOK_EKIND },
    { "size beyond the buffer", HDR(size), 0, 0x7FFFFFFF, RT_TOK_ETRUNC },
    { "size below the header", HDR(size), 0, 8, RT_TOK_ECORRUPT },
    { "reserved not zero", HDR(reserved), 0, 1, RT_TOK_ECORRUPT },
    { "unknown flag", HDR(flags), 0, 1u << 20, RT_TOK_ECORRUPT },
    { "SentencePiece flags on GPT-2", HDR(flags), 0, RT_TOK_F_ADD_BOS, RT_TOK_ECORRUPT },
    { "piece hash on GPT-2", HDR(hash_slots), 0, 16, RT_TOK_EBOUNDS },
    { "charsmap size without a charsmap", HDR(charsmap_size), 0, 16, RT_TOK_ECORRUPT },
    { "kind SentencePiece BPE without scores", HDR(kind), 0, RT_TOK_SPM_BPE, RT_TOK_ECORRUPT },
    { "n_tokens huge", HDR(n_tokens), 0, 0xFFFFFFFF, RT_TOK_EBOUNDS },
    { "n_tokens zero", HDR(n_tokens), 0, 0, RT_TOK_EBOUNDS },
    { "n_tokens larger than the index", HDR(n_tokens), 0, 100000, RT_TOK_EBOUNDS },
    { "n_tokens smaller", HDR(n_tokens), 0, 200, RT_TOK_ECORRUPT },
    { "piece_bytes too large", HDR(piece_bytes), 0, 0xFFFFFFF0, RT_TOK_EBOUNDS },
    { "pieces offset past the end", HDR(off_pieces), 0, 0x10000000, RT_TOK_EBOUNDS },
    { "pieces offset wraps", HDR(off_pieces), 0, 0xFFFFFFFC, RT_TOK_EBOUNDS },
    { "index offset unaligned", HDR(off_piece_index), 0, 98, RT_TOK_EALIGN },
    { "index offset inside the header", HDR(off_piece_index), 0, 16, RT_TOK_EBOUNDS },
    { "byte_ids absent", HDR(off_byte_ids), 0, 0, RT_TOK_ECORRUPT },
    { "merges offset past the end", HDR(off_merges), 0, 0xFFFFFF00, RT_TOK_EBOUNDS },
    { "merge slots not a power of two", HDR(merge_slots), 0, 24, RT_TOK_ECORRUPT },
    { "merge slots huge", HDR(merge_slots), 0, 1u << 31, RT_TOK_ECORRUPT },
    { "n_merges wrong", HDR(n_merges), 0, 4, RT_TOK_ECORRUPT },
    { "n_merges huge", HDR(n_merges), 0, 0xFFFFFFFF, RT_TOK_EBOUNDS },
    { "scores outside", HDR(off_scores), 0, 0xFFFFFFF0, RT_TOK_EBOUNDS },
    { "eos id out of range", HDR(eos_id), 0, 5000, RT_TOK_ECORRUPT },
    { "piece index decreasing", 4 * 100, 1, 0, RT_TOK_ECORRUPT },
    { "piece index past the bytes", 4 * 262, 1, 100000, RT_TOK_ECORRUPT },
    { "byte id out of range", 4 * 65, 2, 262, RT_TOK_ECORRUPT },
    { "byte id of another byte", 4 * 65, 2, 66, RT_TOK_ECORRUPT },
    { "byte id of a word", 4 * 65, 2, SV_HELLO, RT_TOK_ECORRUPT },
};

/* The slot of the merge table holding rank r. */
static size_t merge_slot(const uint8_t *blob, uint32_t r)
{
    const RtTokHeader *h = (const RtTokHeader *)blob;
    const RtTokMerge *m = (const RtTokMerge *)(blob + h->off_merges);
    for (size_t i = 0; i < h->merge_slots; i++)
        if (m[i].left != RT_TOK_NO_ID && m[i].rank == r) return h->off_merges + 16 * i;
    return 0;
}

static void set32(uint8_t *p, size_t at, uint32_t v)
{
    memcpy(p + at, &v, 4);
}

static void blob_tests(void)
{
    size_t size;
    uint8_t *good = good_blob(&size);
    const RtTokHeader *h = (const RtTokHeader *)good;
    uint8_t *b = malloc(size + 8);
    RtTokenizer t;

    CHECK(rt_tok_open(good, size, &t) == RT_TOK_OK && round_trips(&t, "hello world"),
          "the good blob");
    CHECK(rt_tok_open(good, 50, &t) == RT_TOK_ETRUNC, "shorter than a header");
    CHECK(rt_tok_open(good, size - 4, &t) == RT_TOK_ETRUNC, "cut short");
    CHECK(rt_tok_open(NULL, 0, &t) == RT_TOK_ETRUNC, "NULL");
    memcpy(b + 1, good, size);
    CHECK(rt_tok_open(b + 1, size, &t) == RT_TOK_EALIGN, "misaligned blob");

    for (size_t i = 0; i < sizeof blob_cases / sizeof blob_cases[0]; i++) {
        const BlobCase *c = &blob_cases[i];
        size_t at = c->field;
        if (c->relative == 1) at += h->off_piece_index;
        if (c->relative == 2) at += h->off_byte_ids;
        memcpy(b, good, size);
        set32(b, at, c->value);
        int rc = rt_tok_open(b, size, &t);
        CHECK(rc == c->want, "blob %s: got %d (%s), want %d", c->name, rc, rt_tok_strerror(rc),
              c->want);
    }

    /* the merge table */
    size_t s0 = merge_slot(good, 0), s4 = merge_slot(good, 4);
    CHECK(s0 && s4, "merge slots found");
    struct { const char *name; size_t at; uint32_t v; } mc[] = {
        { "merge left out of range", s0, 9999 },
        { "merge rank out of range", s0 + 8, 5 },
        { "merge result out of range", s0 + 12, 9999 },
        { "merge result not the concatenation", s0 + 12, SV_LL },
        { "merge of other parts", s4 + 4, 'x' },
        { "empty slot not all empty", 0, 7 },
    };
    for (size_t i = 0; i < sizeof mc / sizeof mc[0]; i++) {
        memcpy(b, good, size);
        size_t at = mc[i].at;
        if (!at) {              /* the first empty slot's rank field */
            const RtTokMerge *m = (const RtTokMerge *)(good + h->off_merges);
            size_t e = 0;
            while (m[e].left != RT_TOK_NO_ID) e++;
            at = h->off_merges + 16 * e + 8;
        }
        set32(b, at, mc[i].v);
        CHECK(rt_tok_open(b, size, &t) == RT_TOK_ECORRUPT, "blob %s", mc[i].name);
    }
    /* a full table (no empty slot to end a probe): slots 16 of which 5 used; fill the others */
    memcpy(b, good, size);
    RtTokMerge *m = (RtTokMerge *)(b + h->off_merges);
    for (uint32_t i = 0, r = 5; i < h->merge_slots; i++)
        if (m[i].left == RT_TOK_NO_ID) m[i] = (RtTokMerge){ 'a', 'b', r++, 'a' };
    set32(b, HDR(n_merges), h->merge_slots);
    CHECK(rt_tok_open(b, size, &t) != RT_TOK_OK, "full merge table");

    /* random mutations: rejected, or still a tokenizer that round-trips */
    uint32_t r = 42;
    int opened = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(b, good, size);
        int flips = 1 + iter % 4;
        for (int k = 0; k < flips; k++) {
            r = r * 1103515245u + 12345u;
            size_t at = (r >> 8) % (iter % 2 ? size : 512);     /* half in the header/index */
            r = r * 1103515245u + 12345u;
            b[at] ^= (uint8_t)(1u << ((r >> 16) % 8)) | (iter % 3 == 0 ? (uint8_t)(r >> 24) : 0);
        }
        size_t n = iter % 7 == 0 ? (r >> 4) % size : size;
        if (rt_tok_open(b, n, &t) == RT_TOK_OK) {
            opened++;
            CHECK(round_trips(&t, "hello world, \xE6\x97\xA5\xE6\x9C\xAC <|endoftext|>  \n"),
                  "mutation %d opened but does not round-trip", iter);
        }
    }
    printf("ok: 20000 random blob mutations, %d still valid, all round-trip\n", opened);
    free(b);
    free(good);
}

/* ---- 3. bad text ---------------------------------------------------------------------- */

static void text_tests(void)
{
    size_t size;
    void *blob = good_blob(&size);
    RtTokenizer t;
    CHECK(rt_tok_open(blob, size, &t) == RT_TOK_OK, "open");
    CHECK(t.eos_id == SV_EOT && t.n_merges == 5, "eos %u, merges %u", t.eos_id, t.n_merges);

    struct { const char *text; size_t len, at; } bad[] = {
        { "ab\xFF" "cd", 5, 2 },
        { "abc\xE6\x97", 5, 3 },                    /* truncated at the end */
        { "\xC0\xAF", 2, 0 },                       /* overlong '/' */
        { "\xE0\x80\xAF", 3, 0 },                   /* overlong, 3 bytes */
        { "x\xED\xA0\x80", 4, 1 },                  /* UTF-16 surrogate */
        { "xy\xF4\x90\x80\x80", 6, 2 },             /* above U+10FFFF */
        { "\x80", 1, 0 },                           /* stray continuation byte */
        { "h\xC3\xA9llo\xE9", 7, 6 },               /* Latin-1 after UTF-8 */
        { "\xF0\x9F\x98\x80\xF0\x9F", 6, 4 },       /* emoji, then a cut one */
        { "a\0b\xC3", 4, 3 },                       /* NUL is fine, the cut C3 is not */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t ids[16] = { -7 };
        size_t at = 999;
        long n = rt_tok_encode(&t, bad[i].text, bad[i].len, ids, 16, &at);
        CHECK(n == RT_TOK_EUTF8 && at == bad[i].at && ids[0] == -7,
              "invalid UTF-8 case %zu: got %ld at %zu, want %d at %zu", i, n, at, RT_TOK_EUTF8,
              bad[i].at);
    }
    printf("ok: %zu invalid UTF-8 texts rejected with their byte offsets (%s)\n",
           sizeof bad / sizeof bad[0], rt_tok_strerror(RT_TOK_EUTF8));

    int32_t ids[64];
    size_t at = 0;
    long n = rt_tok_encode(&t, "hello world", 11, ids, 64, &at);
    int32_t want[] = { SV_HELLO, SV_SPACE_W, 'o', 'r', 'l', 'd' };
    CHECK(n == 6 && memcmp(ids, want, sizeof want) == 0, "hello world: %ld ids", n);
    n = rt_tok_encode(&t, "<|endoftext|>", 13, ids, 64, &at);
    CHECK(n == 13 && ids[0] == '<' && ids[12] == '>', "<|endoftext|> is plain text: %ld ids", n);
    n = rt_tok_encode(&t, "hello world", 11, ids, 3, &at);
    CHECK(n == RT_TOK_ENOSPACE && at == 5, "no space: %ld at %zu", n, at);
    n = rt_tok_encode(&t, "", 0, ids, 0, &at);
    CHECK(n == 0, "empty text: %ld", n);
    char longword[600];
    memset(longword, 'l', sizeof longword);
    n = rt_tok_encode(&t, longword, sizeof longword, ids, 64, &at);
    CHECK(n == RT_TOK_ENOSPACE && at == 0, "long piece without room: %ld", n);

    char out[8];
    int32_t some[] = { SV_HELLO, 5000 };
    n = rt_tok_decode(&t, some, 2, out, sizeof out, &at);
    CHECK(n == RT_TOK_EID && at == 1, "bad id: %ld at %zu", n, at);
    int32_t neg[] = { -1 };
    CHECK(rt_tok_decode(&t, neg, 1, out, sizeof out, &at) == RT_TOK_EID, "negative id");
    int32_t many[] = { SV_HELLO, SV_HELLO };
    n = rt_tok_decode(&t, many, 2, out, sizeof out, &at);
    CHECK(n == RT_TOK_ENOSPACE && at == 1, "decode without room: %ld at %zu", n, at);
    size_t len;
    const char *p = rt_tok_decode_piece(&t, SV_SPACE_W, &len);
    CHECK(p && len == 2 && memcmp(p, " w", 2) == 0, "piece of ' w'");
    CHECK(rt_tok_decode_piece(&t, SV_N, &len) == NULL && len == 0, "piece out of range");
    free(blob);
}

int main(void)
{
    char dir[] = "/tmp/kiln-tok-bad-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    file_tests(dir);
    many_errors_tests(dir);
    rmdir(dir);
    blob_tests();
    text_tests();
    printf("%d/%d checks pass\n", check_count - check_failures, check_count);
    return check_failures != 0;
}
