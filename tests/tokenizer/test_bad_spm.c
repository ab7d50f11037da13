/* test_bad_spm.c — the SentencePiece-family tokenizers facing bad input: files and blobs.
 *
 * 1. llama2.c tokenizer.bin files built in memory by the test (a small good vocabulary, then
 *    one breakage per case): each must fail with a message naming the file and byte offset.
 * 2. Corrupted SentencePiece-kind blobs: hand-made corruptions of a good blob, each rejected
 *    by rt_tok_open with the expected code; then random mutations, each either rejected or
 *    still a tokenizer whose ids spell the (prepared) text.
 * 3. The small tokenizer's encoding rules on a vocabulary made to exercise them (merge order,
 *    ties, byte fallback, unknown bytes).
 * 4. SentencePiece .model files written by the test (a minimal protobuf writer): every kind of
 *    broken wire format and model, each with its message; random mutations of a good one; and
 *    random mutations of the blobs of the .model files named on the command line.
 * 5. tokenizer.json files around small_vocab.h's vocabulary: good variants, and each error.
 * Needs nothing from ../shared. */
#include "frontend/tokenizer_spm.h"
#include "runtime/tokenizer.h"
#include "support/support.h"
#include "tests/check.h"
#include "small_vocab.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a tokenizer.bin writer ------------------------------------------------------------ */

typedef struct Buf {
    uint8_t *p;
    size_t n, cap;
} Buf;

static void put(Buf *b, const void *s, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = 2 * (b->n + n) + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void put32(Buf *b, uint32_t v)
{
    put(b, &v, 4);
}

static void put_tok(Buf *b, float score, const char *s)
{
    uint32_t bits;
    memcpy(&bits, &score, 4);
    put32(b, bits);
    put32(b, (uint32_t)strlen(s));
    put(b, s, strlen(s));
}

/* llama2.c's layout: <unk>, <s>, </s>, 256 byte tokens, then pieces with falling scores. */
static const char *small_pieces[] = { " ", "a", "b", "c", "h", "e", "l", "o", " a", "ab", "abc",
                                      "he", "ll", "hell", "hello", " hello", "bc", "lo" };
enum { SMALL_BASE = 259 };

static Buf small_file(void)
{
    Buf b = { 0 };
    put32(&b, 16);
    put_tok(&b, 0, "<unk>");
    put_tok(&b, 0, "\n<s>\n");
    put_tok(&b, 0, "\n</s>\n");
    for (int i = 0; i < 256; i++) {
        char s[16];
        snprintf(s, sizeof s, "<0x%02X>", (unsigned)i & 0xFF);
        put_tok(&b, 0, s);
    }
    for (size_t i = 0; i < sizeof small_pieces / sizeof small_pieces[0]; i++)
        put_tok(&b, -(float)i, small_pieces[i]);
    return b;
}

static int build_l2(const void *data, size_t n, char **msg, void **blob, size_t *size)
{
    Diag d;
    diag_init(&d);
    size_t mlen;
    *msg = NULL;
    d.out = open_memstream(msg, &mlen);
    int rc = fe_llama2c_tokenizer_build_mem(&d, "tok.bin", data, n, blob, size);
    fclose(d.out);
    CHECK((rc == 0) == (d.n_errors == 0), "return code %d with %d errors", rc, d.n_errors);
    diag_free(&d);
    return rc;
}

/* ---- 1. bad tokenizer.bin files ------------------------------------------------------- */

static void expect_fail(const char *name, const void *data, size_t n, const char *expect)
{
    char *msg;
    void *blob = NULL;
    size_t size;
    int rc = build_l2(data, n, &msg, &blob, &size);
    CHECK(rc != 0 && blob == NULL, "%s: should fail", name);
    CHECK(strstr(msg, expect) != NULL, "%s: expected the message\n    %s\ngot\n    %s", name, expect, msg);
    char *nl = strchr(msg, '\n');
    printf("ok: %-28s %.*s\n", name, nl ? (int)(nl - msg) : (int)strlen(msg), msg);
    free(msg);
}

static void llama2c_file_tests(void)
{
    Buf good = small_file();
    char *msg;
    void *blob = NULL;
    size_t size;
    CHECK(build_l2(good.p, good.n, &msg, &blob, &size) == 0, "the small file builds: %s", msg);
    free(msg);
    free(blob);

    expect_fail("empty file", "", 0, "tok.bin: error: empty file");
    expect_fail("three bytes", "\x10\0\0", 3, "tok.bin: error: byte 0: truncated");
    expect_fail("max_token_length 0", "\0\0\0\0", 4, "tok.bin: error: byte 0: max_token_length is 0");
    expect_fail("max_token_length negative", "\xff\xff\xff\xff", 4, "max_token_length is -1");
    expect_fail("max_token_length absurd", "\0\0\0\x40", 4, "max_token_length is 1073741824");
    expect_fail("no tokens", "\x10\0\0\0", 4, "tok.bin: error: the file has 0 tokens; llama2.c's fixed ids");
    expect_fail("record cut in the score", good.p, 4 + 3, "byte 4: token 0: truncated record (3 bytes left");
    expect_fail("record cut in the bytes", good.p, 4 + 8 + 2, "byte 12: token 0: truncated record (the length says 5 bytes, 2 are left)");
    /* a record cut in the middle of the file, at token 270 */
    size_t at270 = 4;
    for (int i = 0; i < 270; i++) {
        uint32_t n;
        memcpy(&n, good.p + at270 + 4, 4);
        at270 += 8 + n;
    }
    char want[128];
    snprintf(want, sizeof want, "byte %zu: token 270: truncated record", at270);
    expect_fail("record cut at token 270", good.p, at270 + 5, want);

    Buf b = { 0 };
    uint8_t *p;
#define MUTATE(field_at, value, name, expect)                        \
    do {                                                              \
        b.n = 0;                                                      \
        put(&b, good.p, good.n);                                      \
        p = b.p;                                                      \
        uint32_t v_ = (value);                                        \
        memcpy(p + (field_at), &v_, 4);                               \
        expect_fail(name, b.p, b.n, expect);                          \
    } while (0)
    MUTATE(4 + 4, 0xFFFFFFFFu, "negative length", "byte 8: token 0: negative length (-1)");
    MUTATE(4 + 4, 17, "length above max_token_length", "byte 8: token 0: length 17 is more than max_token_length (16)");
    MUTATE(4 + 4, 2000000, "absurd length", "byte 8: token 0: length 2000000 is absurd");
    MUTATE(4, 0x7FC00000u, "NaN score", "byte 4: token 0: the score is not a finite number");
    MUTATE(4, 0x7F800000u, "infinite score", "byte 4: token 0: the score is not a finite number (inf)");
    b.n = 0;
    put(&b, good.p, good.n);
    b.p[4 + 8 + 1] = 0;                                 /* "<\0nk>" */
    expect_fail("NUL in a piece", b.p, b.n, "byte 12: token 0 contains a NUL byte");
    b.n = 0;
    put(&b, good.p, good.n);
    put32(&b, 0);
    expect_fail("four bytes of trailing junk", b.p, b.n, "truncated record (4 bytes left");

    /* tolerated: duplicate pieces (the first wins), no byte tokens, empty pieces */
    b.n = 0;
    put(&b, good.p, good.n);
    put_tok(&b, -50, "bc");
    put_tok(&b, -51, "");
    CHECK(build_l2(b.p, b.n, &msg, &blob, &size) == 0, "duplicate and empty pieces build: %s", msg);
    RtTokenizer t;
    int32_t ids[16];
    CHECK(rt_tok_open(blob, size, &t) == RT_TOK_OK && rt_tok_encode(&t, "bc", 2, ids, 16, NULL) == 2 &&
          ids[1] == SMALL_BASE + 16, "the first of duplicate pieces wins");
    free(msg);
    free(blob);
    b.n = 0;
    put32(&b, 8);
    put_tok(&b, 0, "<unk>");
    put_tok(&b, 0, "<s>");
    put_tok(&b, 0, "</s>");
    put_tok(&b, -1, "x");
    CHECK(build_l2(b.p, b.n, &msg, &blob, &size) == 0, "a file without byte tokens builds: %s", msg);
    CHECK(rt_tok_open(blob, size, &t) == RT_TOK_OK && rt_tok_encode(&t, "xy", 2, ids, 16, NULL) == 3 &&
          ids[0] == 0 && ids[1] == 3 && ids[2] == 0, "without byte tokens, unknown bytes are <unk>");
    free(msg);
    free(blob);
    free(b.p);
    free(good.p);
}

/* ---- 2. corrupted blobs ---------------------------------------------------------------- */

static void *small_blob(size_t *size)
{
    Buf f = small_file();
    char *msg;
    void *blob = NULL;
    if (build_l2(f.p, f.n, &msg, &blob, size) != 0) {
        printf("FAIL: the small tokenizer.bin does not build: %s\n", msg);
        exit(1);
    }
    free(msg);
    free(f.p);
    return blob;
}

static void set32(uint8_t *p, size_t at, uint32_t v)
{
    memcpy(p + at, &v, 4);
}

/* Whether the pieces of encode(text) spell the text as the tokenizer prepares it, when the
 * flags make that easy to say (a dummy prefix only, every byte a byte token); 1 otherwise. */
static int spells(const RtTokenizer *t, const char *text)
{
    size_t len = strlen(text), cap = rt_tok_prompt_cap(t, len);
    int32_t *ids = malloc(cap * sizeof *ids);
    char *back = malloc(4 * len + 16);
    long n = rt_tok_encode(t, text, len, ids, cap, NULL);
    int ok = n >= 0;
    size_t used = 0;
    for (long i = 0; ok && i < n; i++) {
        size_t pl;
        const char *p = rt_tok_decode_piece(t, ids[i], &pl);
        ok = p && used + pl <= 4 * len + 16;
        if (ok) memcpy(back + used, p, pl), used += pl;
    }
    int simple = !(t->flags & (RT_TOK_F_REMOVE_EXTRA_WS | RT_TOK_F_ESCAPE_WS)) && !t->charsmap &&
                 t->byte_ids;
    for (int b = 0; simple && b < 256; b++) simple = t->byte_ids[b] != t->unk_id;
    if (ok && simple) {
        int dummy = (t->flags & RT_TOK_F_DUMMY_PREFIX) && len > 0;
        ok = used == len + dummy && (!dummy || back[0] == ' ') && memcmp(back + dummy, text, len) == 0;
    }
    free(ids);
    free(back);
    return ok;
}

typedef struct BlobCase {
    const char *name;
    int array;              /* 0 header, 1 scores, 2 token_flags (a byte), 3 piece_hash, 4 byte_ids */
    size_t at;
    uint32_t value;
    int want;
} BlobCase;

#define HDR(f) offsetof(RtTokHeader, f)
static const BlobCase blob_cases[] = {
    { "kind unigram (no charsmap needed, opens)", 0, HDR(kind), RT_TOK_SPM_UNIGRAM, RT_TOK_OK },
    { "kind GPT-2", 0, HDR(kind), RT_TOK_GPT2, RT_TOK_ECORRUPT },
    { "scores absent", 0, HDR(off_scores), 0, RT_TOK_ECORRUPT },
    { "token flags absent", 0, HDR(off_token_flags), 0, RT_TOK_ECORRUPT },
    { "piece hash absent", 0, HDR(off_piece_hash), 0, RT_TOK_EBOUNDS },
    { "hash slots 0", 0, HDR(hash_slots), 0, RT_TOK_ECORRUPT },
    { "hash slots not a power of two", 0, HDR(hash_slots), 1000, RT_TOK_ECORRUPT },
    { "hash slots huge", 0, HDR(hash_slots), 1u << 30, RT_TOK_ECORRUPT },
    { "hash past the end", 0, HDR(off_piece_hash), 0xFFFFFF00u, RT_TOK_EBOUNDS },
    { "hash misaligned", 0, HDR(off_piece_hash), 98, RT_TOK_EALIGN },
    { "scores past the end", 0, HDR(off_scores), 0x7FFFFFF0u, RT_TOK_EBOUNDS },
    { "charsmap past the end", 0, HDR(off_charsmap), 0x100, RT_TOK_ECORRUPT },
    { "charsmap too large", 0, HDR(charsmap_size), 0x7FFFFFF0u, RT_TOK_ECORRUPT },
    { "merge table on SentencePiece", 0, HDR(merge_slots), 16, RT_TOK_EBOUNDS },
    { "unknown flag", 0, HDR(flags), 1u << 12, RT_TOK_ECORRUPT },
    { "bos out of range", 0, HDR(bos_id), 100000, RT_TOK_ECORRUPT },
    { "unk out of range", 0, HDR(unk_id), 277, RT_TOK_ECORRUPT },
    { "score NaN", 1, 4 * 270, 0x7FC00000u, RT_TOK_ECORRUPT },
    { "score infinite", 1, 4 * 3, 0xFF800000u, RT_TOK_ECORRUPT },
    { "token flag unknown", 2, 270, 0x80, RT_TOK_ECORRUPT },
    { "byte flag on a long piece", 2, 2, RT_TOK_FLAG_BYTE, RT_TOK_ECORRUPT },
    { "hash id out of range", 3, 0, 5000, RT_TOK_ECORRUPT },
    { "byte id out of range", 4, 4 * 65, 5000, RT_TOK_ECORRUPT },
    { "byte id of another byte", 4, 4 * 65, 3 + 66, RT_TOK_ECORRUPT },
    { "byte id of a word", 4, 4 * 65, SMALL_BASE + 10, RT_TOK_ECORRUPT },
    { "byte id unk (allowed)", 4, 4 * 65, 0, RT_TOK_OK },
};

static void blob_tests(void)
{
    size_t size;
    uint8_t *good = small_blob(&size);
    const RtTokHeader *h = (const RtTokHeader *)good;
    uint8_t *b = malloc(size);
    RtTokenizer t;
    CHECK(rt_tok_open(good, size, &t) == RT_TOK_OK && spells(&t, "hello abc"), "the good blob");
    for (size_t i = 0; i < sizeof blob_cases / sizeof blob_cases[0]; i++) {
        const BlobCase *c = &blob_cases[i];
        memcpy(b, good, size);
        size_t base[] = { 0, h->off_scores, h->off_token_flags, h->off_piece_hash, h->off_byte_ids };
        size_t at = base[c->array] + c->at;
        if (c->array == 2) b[at] = (uint8_t)c->value;
        else if (c->array == 3) {      /* the first used slot */
            const uint32_t *hash = (const uint32_t *)(good + h->off_piece_hash);
            size_t k = 0;
            while (hash[k] == RT_TOK_NO_ID) k++;
            set32(b, h->off_piece_hash + 4 * k, c->value);
        } else set32(b, at, c->value);
        int rc = rt_tok_open(b, size, &t);
        CHECK(rc == c->want, "blob %s: got %d (%s), want %d", c->name, rc, rt_tok_strerror(rc), c->want);
    }
    /* a full piece hash: no empty slot ends a probe */
    memcpy(b, good, size);
    for (uint32_t k = 0; k < h->hash_slots; k++) set32(b, h->off_piece_hash + 4 * k, 5);
    CHECK(rt_tok_open(b, size, &t) == RT_TOK_ECORRUPT, "full piece hash");
    /* no unk and no byte fallback */
    memcpy(b, good, size);
    set32(b, HDR(unk_id), RT_TOK_NO_ID);
    set32(b, HDR(off_byte_ids), 0);
    CHECK(rt_tok_open(b, size, &t) == RT_TOK_ECORRUPT, "neither unk nor byte tokens");
    printf("ok: %zu corrupted SentencePiece-kind blobs\n", sizeof blob_cases / sizeof blob_cases[0] + 2);

    uint32_t r = 7;
    int opened = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(b, good, size);
        int flips = 1 + iter % 4;
        for (int k = 0; k < flips; k++) {
            r = r * 1103515245u + 12345u;
            size_t at = (r >> 8) % (iter % 2 ? size : 256);
            r = r * 1103515245u + 12345u;
            b[at] ^= (uint8_t)(1u << ((r >> 16) % 8)) | (iter % 3 == 0 ? (uint8_t)(r >> 24) : 0);
        }
        size_t n = iter % 7 == 0 ? (r >> 4) % size : size;
        if (rt_tok_open(b, n, &t) == RT_TOK_OK) {
            opened++;
            CHECK(spells(&t, "hello abc, hell \xE6\x97\xA5 <s>  \n"), "mutation %d opened but does not spell", iter);
        }
    }
    printf("ok: 20000 random blob mutations, %d still valid, all spell their text\n", opened);
    free(b);
    free(good);
}

/* ---- 3. encoding rules ------------------------------------------------------------------ */

static void rule_tests(void)
{
    size_t size;
    void *blob = small_blob(&size);
    RtTokenizer t;
    CHECK(rt_tok_open(blob, size, &t) == RT_TOK_OK, "open");
    struct { const char *text; int32_t want[12]; int n; } cases[] = {
        /* " hello": " ", "h","e","l","l","o" → he(-11) ll(-12) → hell(-13) → hello → " hello" */
        { "hello", { SMALL_BASE + 15 }, 1 },
        /* "abc": " a"(-8) beats "ab"(-9): " a" "b" "c" → "bc"(-16) */
        { "abc", { SMALL_BASE + 8, SMALL_BASE + 16 }, 2 },
        /* unknown characters: byte tokens, which never merge */
        { "x", { SMALL_BASE + 0, 3 + 'x' }, 2 },
        { "\xC3\xA9", { SMALL_BASE + 0, 3 + 0xC3, 3 + 0xA9 }, 3 },
        { "a\0b", { SMALL_BASE + 8, 3, SMALL_BASE + 2 }, 3 },
        /* control pieces are plain text */
        { "<s>", { SMALL_BASE + 0, 3 + '<', 3 + 's', 3 + '>' }, 4 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t ids[32];
        size_t len = strlen(cases[i].text) + (i == 4 ? 2 : 0);
        long n = rt_tok_encode(&t, cases[i].text, len, ids, 32, NULL);
        CHECK(n == cases[i].n && memcmp(ids, cases[i].want, (size_t)n * 4) == 0, "rule case %zu: %ld ids, first %d",
              i, n, n > 0 ? ids[0] : -1);
    }
    int32_t ids[8];
    CHECK(rt_tok_prompt(&t, "", 0, ids, 8, NULL) == 1 && ids[0] == 1, "empty prompt is [bos]");
    CHECK(rt_tok_prompt(&t, "a", 1, ids, 1, NULL) == RT_TOK_ENOSPACE, "prompt without room");
    CHECK(rt_tok_prompt_cap(&t, 10) == 13, "prompt cap %zu", rt_tok_prompt_cap(&t, 10));
    size_t err_at = 99;
    CHECK(rt_tok_prompt(&t, "a\xFF", 2, ids, 8, &err_at) == RT_TOK_EUTF8 && err_at == 1, "bad UTF-8 in a prompt");
    /* decoding after BOS: one space less, but not of a byte token */
    int32_t seq[] = { 1, SMALL_BASE + 15, 3 + ' ', SMALL_BASE + 15 };
    char out[64];
    long m = rt_tok_decode(&t, seq, 4, out, sizeof out, NULL);
    CHECK(m == 17 && memcmp(out, "\n<s>\nhello  hello", 17) == 0, "decode with BOS: %ld", m);
    size_t pl;
    const char *p = rt_tok_decode_next(&t, 1, SMALL_BASE + 15, &pl);
    CHECK(p && pl == 5 && memcmp(p, "hello", 5) == 0, "space stripped after BOS");
    p = rt_tok_decode_next(&t, 1, 3 + ' ', &pl);
    CHECK(p && pl == 1 && p[0] == ' ', "a byte token keeps its space after BOS");
    p = rt_tok_decode_next(&t, -1, SMALL_BASE + 15, &pl);
    CHECK(p && pl == 6, "no stripping at the start without BOS (llama2.c)");
    CHECK(rt_tok_decode_next(&t, 1, 9999, &pl) == NULL && pl == 0, "bad id");
    free(blob);
}

/* ---- 4. bad SentencePiece .model files -------------------------------------------------- */

static void pb_varint(Buf *b, uint64_t v)
{
    do {
        uint8_t c = (uint8_t)(v & 0x7F);
        v >>= 7;
        if (v) c |= 0x80;
        put(b, &c, 1);
    } while (v);
}

static void pb_tag(Buf *b, uint32_t num, int wt)
{
    pb_varint(b, (uint64_t)num << 3 | (uint64_t)wt);
}

static void pb_bytes(Buf *b, uint32_t num, const void *s, size_t n)
{
    pb_tag(b, num, 2);
    pb_varint(b, n);
    put(b, s, n);
}

static void pb_uint(Buf *b, uint32_t num, uint64_t v)
{
    pb_tag(b, num, 0);
    pb_varint(b, v);
}

/* A SentencePiece message: piece, score, type (type 0: not written). */
static void pb_piece(Buf *model, const char *piece, size_t n, float score, int type)
{
    Buf m = { 0 };
    pb_bytes(&m, 1, piece, n);
    pb_tag(&m, 2, 5);
    put(&m, &score, 4);
    if (type) pb_uint(&m, 3, (uint64_t)type);
    pb_bytes(model, 1, m.p, m.n);
    free(m.p);
}

/* A small good model: <unk>, <s>, </s>, then a few pieces; extra fields appended by cases. */
static Buf good_model(int byte_pieces)
{
    Buf b = { 0 };
    pb_piece(&b, "<unk>", 5, 0, 2);
    pb_piece(&b, "<s>", 3, 0, 3);
    pb_piece(&b, "</s>", 4, 0, 3);
    for (int i = 0; i < byte_pieces; i++) {
        char s[16];
        snprintf(s, sizeof s, "<0x%02X>", (unsigned)i & 0xFF);
        pb_piece(&b, s, 6, 0, 6);
    }
    static const char *words[] = { "\xE2\x96\x81", "a", "b", ("\xE2\x96\x81" "a"), "ab" };
    for (int i = 0; i < 5; i++) pb_piece(&b, words[i], strlen(words[i]), -(float)i, 0);
    return b;
}

static int build_model(const void *data, size_t n, char **msg, void **blob, size_t *size)
{
    Diag d;
    diag_init(&d);
    size_t mlen;
    *msg = NULL;
    d.out = open_memstream(msg, &mlen);
    int rc = fe_spm_tokenizer_build_mem(&d, "x.model", data, n, blob, size);
    fclose(d.out);
    CHECK((rc == 0) == (d.n_errors == 0), "return code %d with %d errors", rc, d.n_errors);
    diag_free(&d);
    return rc;
}

static void model_fail(const char *name, const Buf *b, const char *expect)
{
    char *msg;
    void *blob = NULL;
    size_t size;
    int rc = build_model(b->p, b->n, &msg, &blob, &size);
    CHECK(rc != 0 && blob == NULL, "%s: should fail", name);
    CHECK(strstr(msg, expect) != NULL, "%s: expected the message\n    %s\ngot\n    %s", name, expect, msg);
    char *nl = strchr(msg, '\n');
    printf("ok: %-28s %.*s\n", name, nl ? (int)(nl - msg) : (int)strlen(msg), msg);
    free(msg);
}

static void model_file_tests(void)
{
    char *msg;
    void *blob = NULL;
    size_t size;
    RtTokenizer t;
    Buf b = good_model(0);
    CHECK(build_model(b.p, b.n, &msg, &blob, &size) == 0 && rt_tok_open(blob, size, &t) == RT_TOK_OK &&
          t.kind == RT_TOK_SPM_UNIGRAM && t.bos_id == 1 && t.eos_id == 2 && t.unk_id == 0,
          "the small model builds: %s", msg);
    int32_t ids[16];
    /* "\u2581ab\u2581a": [\u2581, a, b] scores 0 - 1 - 2 = -3, better than [\u2581a, b] (-5) or [\u2581, ab] (-4) */
    int32_t want[] = { 3, 4, 5, 3, 4 };
    CHECK(rt_tok_encode(&t, "ab a", 4, ids, 16, NULL) == 5 && memcmp(ids, want, sizeof want) == 0,
          "the small model encodes 'ab a' as [\u2581, a, b, \u2581, a]");
    free(msg);
    free(blob);

    /* BPE with an UNUSED piece: "ab" merges, then splits back into its halves */
    Buf u = { 0 };
    pb_piece(&u, "<unk>", 5, 0, 2);
    pb_piece(&u, "<s>", 3, 0, 3);
    pb_piece(&u, "</s>", 4, 0, 3);
    pb_piece(&u, "\xE2\x96\x81", 3, 0, 1);
    pb_piece(&u, "a", 1, -1, 1);
    pb_piece(&u, "b", 1, -2, 1);
    pb_piece(&u, "ab", 2, -0.5f, 5);
    Buf uts = { 0 };
    pb_uint(&uts, 3, 2);
    pb_bytes(&u, 2, uts.p, uts.n);
    CHECK(build_model(u.p, u.n, &msg, &blob, &size) == 0 && rt_tok_open(blob, size, &t) == RT_TOK_OK &&
          t.kind == RT_TOK_SPM_BPE, "BPE model with an UNUSED piece: %s", msg);
    int32_t want_u[] = { 3, 4, 5 };
    CHECK(rt_tok_encode(&t, "ab", 2, ids, 16, NULL) == 3 && memcmp(ids, want_u, sizeof want_u) == 0,
          "an UNUSED piece is split back into its halves");
    free(msg);
    free(blob);
    free(u.p);
    free(uts.p);

    Buf e = { 0 };
    model_fail("empty file", &e, "x.model: error: empty file");
    uint8_t junk[] = { 0x0A, 0x80 };
    Buf j = { junk, 2, 0 };
    model_fail("truncated varint", &j, "x.model: error: byte 1: truncated varint in ModelProto");
    uint8_t longv[] = { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F };
    Buf lv = { longv, sizeof longv, 0 };
    model_fail("varint over 64 bits", &lv, "byte 1: varint longer than 64 bits");
    uint8_t past[] = { 0x0A, 0x64, 1, 2, 3 };
    Buf ps = { past, sizeof past, 0 };
    model_fail("length past the end", &ps, "byte 0: field 1 of ModelProto: length 100 runs past the end of the ModelProto (3 bytes left)");
    uint8_t wt[] = { 0x08, 0x01 };
    Buf w = { wt, 2, 0 };
    model_fail("pieces as a varint", &w, "byte 0: ModelProto.pieces (field 1) has wire type 0 (varint), expected 2 (length-delimited)");
    uint8_t grp[] = { 0x0B, 0x0C };
    Buf g = { grp, 2, 0 };
    model_fail("group", &g, "byte 0: field 1 of ModelProto has wire type 3");
    uint8_t wt7[] = { 0x0F };
    Buf g7 = { wt7, 1, 0 };
    model_fail("wire type 7", &g7, "has wire type 7");
    uint8_t f0[] = { 0x00, 0x00 };
    Buf z = { f0, 2, 0 };
    model_fail("field number 0", &z, "byte 0: field number 0 in ModelProto");
    uint8_t i32[] = { 0x15, 1, 2 };
    Buf t32 = { i32, 3, 0 };
    model_fail("truncated fixed32", &t32, "byte 0: field 2 of ModelProto: truncated 4-byte value");

    Buf m = { 0 };
    pb_uint(&m, 99, 5);
    model_fail("no pieces", &m, "x.model: error: the model has no pieces");
    /* a field of a piece running past the piece's own end, though not past the file's */
    m.n = 0;
    uint8_t inner[] = { 0x0A, 0x05, 'a', 'b' };
    pb_bytes(&m, 1, inner, sizeof inner);
    pb_uint(&m, 99, 0);
    model_fail("field past its message", &m, "byte 2: field 1 of SentencePiece: length 5 runs past the end of the SentencePiece (2 bytes left)");

#define MODEL_CASE(name, expect, ...)                   \
    do {                                                \
        Buf c_ = good_model(0);                         \
        Buf *mb = &c_;                                  \
        __VA_ARGS__;                                    \
        model_fail(name, mb, expect);                   \
        free(c_.p);                                     \
    } while (0)
    MODEL_CASE("empty piece", "piece 8 is empty", pb_piece(mb, "", 0, 0, 0));
    MODEL_CASE("piece type 9", "piece 8: type 9 is none of NORMAL (1) .. BYTE (6)", pb_piece(mb, "x", 1, 0, 9));
    MODEL_CASE("NaN score", "piece 8: the score is not a finite number", pb_piece(mb, "x", 1, NAN, 0));
    MODEL_CASE("piece not UTF-8", "piece 8 is not valid UTF-8", pb_piece(mb, "\xC3", 1, 0, 0));
    MODEL_CASE("repeated piece", "piece 8 'ab' repeats piece 7", pb_piece(mb, "ab", 2, 0, 0));
    MODEL_CASE("two UNKNOWN pieces", "the model has 2 UNKNOWN pieces", pb_piece(mb, "<unk2>", 6, 0, 2));
    MODEL_CASE("BYTE without byte_fallback", "piece 8 '<0x41>' has type BYTE, but TrainerSpec.byte_fallback is not set",
               pb_piece(mb, "<0x41>", 6, 0, 6));
    MODEL_CASE("BYTE piece not <0xNN>", "piece 8 '<0x4g>' has type BYTE but is not <0xNN>", pb_piece(mb, "<0x4g>", 6, 0, 6));
    {
        Buf ts = { 0 };
        pb_uint(&ts, 35, 1);
        MODEL_CASE("byte_fallback without bytes", "byte_fallback is set but the model has 0 of the 256 BYTE pieces",
                   pb_bytes(mb, 2, ts.p, ts.n));
        ts.n = 0;
        pb_uint(&ts, 3, 3);
        MODEL_CASE("WORD model", "TrainerSpec.model_type 3 (WORD) is not supported", pb_bytes(mb, 2, ts.p, ts.n));
        ts.n = 0;
        pb_uint(&ts, 24, 1);
        MODEL_CASE("whitespace as suffix", "treat_whitespace_as_suffix is not supported", pb_bytes(mb, 2, ts.p, ts.n));
        ts.n = 0;
        pb_bytes(&ts, 35, "x", 1);
        MODEL_CASE("byte_fallback as bytes", "TrainerSpec.byte_fallback (field 35) has wire type 2", pb_bytes(mb, 2, ts.p, ts.n));
        ts.n = 0;
        uint8_t cm[] = { 0x40, 0, 0, 0, 1, 2, 3, 4, 0 };    /* trie of 64 bytes in 9 */
        pb_bytes(&ts, 2, cm, sizeof cm);
        MODEL_CASE("charsmap lying about its size", "precompiled_charsmap is malformed: 9 bytes, trie size 64",
                   pb_bytes(mb, 3, ts.p, ts.n));
        ts.n = 0;
        uint8_t cm2[] = { 4, 0, 0, 0, 1, 2, 3, 4, 'a' };   /* strings not NUL-terminated */
        pb_bytes(&ts, 2, cm2, sizeof cm2);
        MODEL_CASE("charsmap strings without NUL", "precompiled_charsmap is malformed", pb_bytes(mb, 3, ts.p, ts.n));
        free(ts.p);
    }
    Buf nounk = { 0 };
    pb_piece(&nounk, "a", 1, 0, 0);
    model_fail("no UNKNOWN piece", &nounk, "the model has 0 UNKNOWN pieces");
    free(nounk.p);

    /* random mutations of a good model: reported, or a blob that opens and encodes */
    Buf fb = good_model(256);
    Buf ts = { 0 };
    pb_uint(&ts, 35, 1);
    pb_bytes(&fb, 2, ts.p, ts.n);
    free(ts.p);
    CHECK(build_model(fb.p, fb.n, &msg, &blob, &size) == 0, "byte fallback model builds: %s", msg);
    free(msg);
    free(blob);
    uint8_t *mut = malloc(fb.n);
    uint32_t r = 99;
    int built = 0;
    for (int iter = 0; iter < 5000; iter++) {
        memcpy(mut, fb.p, fb.n);
        for (int k = 0; k < 1 + iter % 3; k++) {
            r = r * 1103515245u + 12345u;
            size_t at = (r >> 8) % fb.n;
            r = r * 1103515245u + 12345u;
            mut[at] ^= (uint8_t)(r >> 20);
        }
        size_t n = iter % 5 == 0 ? (r >> 4) % fb.n : fb.n;
        Diag d;
        diag_init(&d);
        d.quiet = 1;
        int rc = fe_spm_tokenizer_build_mem(&d, "x.model", mut, n, &blob, &size);
        CHECK((rc == 0) == (d.n_errors == 0), "mutation %d: return code %d with %d errors", iter, rc, d.n_errors);
        if (rc == 0) {
            built++;
            CHECK(rt_tok_open(blob, size, &t) == RT_TOK_OK, "mutation %d built a blob that does not open", iter);
            CHECK(spells(&t, "ab a\xE6\x97\xA5 x"), "mutation %d: encoding fails", iter);
            free(blob);
        }
        diag_free(&d);
    }
    printf("ok: 5000 random .model mutations, %d still build, all open and encode\n", built);
    free(mut);
    free(fb.p);
    free(b.p);
    free(m.p);
}

/* Mutations of the blobs of real SentencePiece models (the committed spm_bpe.model, given
 * on the command line): rejected, or encoding stays inside its promises. */
static void spm_blob_mutations(const char *path)
{
    Diag d;
    diag_init(&d);
    void *blob;
    size_t size;
    if (fe_spm_tokenizer_build(&d, path, &blob, &size) != 0) {
        CHECK(0, "%s does not build", path);
        diag_free(&d);
        return;
    }
    diag_free(&d);
    uint8_t *b = malloc(size);
    uint32_t r = 3;
    int opened = 0;
    RtTokenizer t;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(b, blob, size);
        for (int k = 0; k < 1 + iter % 4; k++) {
            r = r * 1103515245u + 12345u;
            size_t at = (r >> 8) % (iter % 2 ? size : 256);
            r = r * 1103515245u + 12345u;
            b[at] ^= (uint8_t)(1u << ((r >> 16) % 8));
        }
        if (rt_tok_open(b, size, &t) == RT_TOK_OK) {
            opened++;
            CHECK(spells(&t, "The potter \xEF\xBC\xA6 made \xEF\xAC\x81re  <sep> \xE6\x97\xA5!"), "mutation %d", iter);
        }
    }
    printf("ok: 3000 mutations of %s's blob, %d still valid, all encode\n", path, opened);
    free(b);
    free(blob);
}

/* ---- 5. bad tokenizer.json files ---------------------------------------------------------- */

/* A tokenizer.json around small_vocab.h's vocabulary: model fields in the middle. */
static char *hf_json(const char *before_model, const char *model_extra, const char *merges)
{
    size_t vn;
    char *v = sv_vocab(sv_tail, strlen(sv_tail), &vn);
    size_t cap = vn + 4096;
    char *s = malloc(cap);
    snprintf(s, cap, "{\"version\": \"1.0\", %s \"model\": {\"type\": \"BPE\", %s \"vocab\": %.*s, "
             "\"merges\": %s}}", before_model, model_extra, (int)vn, v, merges);
    free(v);
    return s;
}

static void hf_case(const char *name, char *json, const char *expect)
{
    Diag d;
    diag_init(&d);
    char *msg = NULL;
    size_t mlen;
    d.out = open_memstream(&msg, &mlen);
    void *blob = NULL;
    size_t size;
    int rc = fe_hf_tokenizer_build_mem(&d, "tokenizer.json", json, strlen(json), &blob, &size);
    fclose(d.out);
    CHECK((rc == 0) == (d.n_errors == 0), "%s: return code %d with %d errors", name, rc, d.n_errors);
    if (!expect) {
        RtTokenizer t;
        int32_t ids[16];
        CHECK(rc == 0 && rt_tok_open(blob, size, &t) == RT_TOK_OK && t.kind == RT_TOK_GPT2 &&
              rt_tok_encode(&t, "hello world", 11, ids, 16, NULL) == 6 && ids[0] == SV_HELLO,
              "%s: should build and encode: %s", name, msg);
    } else {
        CHECK(rc != 0 && strstr(msg, expect), "%s: expected\n    %s\ngot\n    %s", name, expect, msg);
        char *nl = strchr(msg, '\n');
        printf("ok: %-28s %.*s\n", name, nl ? (int)(nl - msg) : (int)strlen(msg), msg);
    }
    free(blob);
    free(msg);
    free(json);
    diag_free(&d);
}

static const char PRE[] = "\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\"},";
static const char MERGES[] = "[\"h e\", \"l l\", \"he ll\", \"hell o\", \"\xC4\xA0 w\"]";

static void hf_tests(void)
{
    hf_case("good", hf_json(PRE, "", MERGES), NULL);
    hf_case("merges as pairs", hf_json(PRE, "", "[[\"h\", \"e\"], [\"l\", \"l\"], [\"he\", \"ll\"], [\"hell\", \"o\"], [\"\xC4\xA0\", \"w\"]]"), NULL);
    hf_case("ByteLevel in a Sequence", hf_json("\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": "
                                               "[{\"type\": \"ByteLevel\"}]},", "", MERGES), NULL);
    hf_case("empty", strdup(""), "tokenizer.json: error: empty file");
    hf_case("malformed", strdup("{\"model\": [1, 2}"), "tokenizer.json: error: byte 15: malformed JSON");
    hf_case("cut short", strdup("{\"model\": {"), "the file ends before the JSON is complete");
    hf_case("no model", strdup("{\"version\": \"1.0\"}"), "no \"model\" object");
    hf_case("WordPiece", strdup("{\"model\": {\"type\": \"WordPiece\"}}"), "model.type is \"WordPiece\"; kiln reads BPE models only");
    hf_case("byte fallback", hf_json(PRE, "\"byte_fallback\": true,", MERGES), "model.byte_fallback is true");
    hf_case("normalizer", hf_json("\"normalizer\": {\"type\": \"NFC\"}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"},", "", MERGES),
            "normalizer NFC is not supported");
    hf_case("Metaspace", hf_json("\"pre_tokenizer\": {\"type\": \"Metaspace\"},", "", MERGES), "pre_tokenizer is Metaspace");
    hf_case("no pre-tokenizer", hf_json("", "", MERGES), "pre_tokenizer is missing");
    hf_case("merges not an array", hf_json(PRE, "", "{}"), "model.merges is not an array");
    hf_case("merge of three", hf_json(PRE, "", "[[\"h\", \"e\", \"x\"]]"), "model.merges[0] is neither");
    hf_case("merge with a space", hf_json(PRE, "", "[\"h e\", [\"l l\", \"x\"]]"), "model.merges[1]: a token contains a space");
    hf_case("unknown merge part", hf_json(PRE, "", "[\"h e\", \"zz e\"]"),
            "tokenizer.json (model.merges):2:1: error: 'zz' is not in the vocabulary");
    hf_case("bad id in the vocab", strdup("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", "
                                          "\"vocab\": {\"a\": 0, \"b\": -4}, \"merges\": []}}"),
            "tokenizer.json (model.vocab):3:1: error: token 'b' has a negative id (-4)");
}

int main(int argc, char **argv)
{
    llama2c_file_tests();
    blob_tests();
    rule_tests();
    model_file_tests();
    hf_tests();
    for (int i = 1; i < argc; i++) spm_blob_mutations(argv[i]);
    printf("%d/%d checks pass\n", check_count - check_failures, check_count);
    return check_failures != 0;
}
