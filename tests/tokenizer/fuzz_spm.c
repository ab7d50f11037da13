/* fuzz_spm.c — libFuzzer target for the SentencePiece-family loaders and runtime.
 *
 * The first byte of the input picks what the rest is:
 *   0  a llama2.c tokenizer.bin, given to its loader;
 *   1  text to encode with a small llama2.c tokenizer (all 256 byte tokens): valid UTF-8 must
 *      give ids that decode to " " + text, invalid UTF-8 be rejected with an offset inside it;
 *   2  (offset, byte) pairs XORed into that tokenizer's blob, then rt_tok_open: if it accepts
 *      the blob, encoding must give ids in range, that spell the text when the flags are plain;
 *   3  a SentencePiece .model (protobuf), given to its loader;
 *   4  a .model made of a small good one with (offset, byte) pairs XORed in.
 * Whenever a loader succeeds, its blob must open, and encoding and decoding of a few texts
 * must keep their promises. Any broken promise aborts, which libFuzzer reports as a crash.
 * Build: meson setup -Dfuzz=true with CC=clang-19. */
#include "frontend/tokenizer_spm.h"
#include "runtime/tokenizer.h"
#include "support/support.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *small_blob;
static size_t small_size;
static RtTokenizer small;

static void require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_spm: broken promise: %s\n", what);
        abort();
    }
}

/* Encodes text and checks what encode and decode promise. exact: the tokenizer's pieces
 * must spell " " + text (llama2.c with every byte token). */
static void check_encode(const RtTokenizer *t, const uint8_t *text, size_t len, int exact)
{
    size_t cap = rt_tok_prompt_cap(t, len);
    int32_t *ids = malloc((cap ? cap : 1) * sizeof *ids);
    size_t at = 0;
    long n = rt_tok_prompt(t, (const char *)text, len, ids, cap, &at);
    if (n == RT_TOK_EUTF8) {
        require(at < len, "UTF-8 error offset inside the text");
    } else if (n != RT_TOK_ENOSTART) {
        require(n >= 0 && (size_t)n <= cap, "a prompt fits in rt_tok_prompt_cap ids");
        for (long i = 0; i < n; i++) require(ids[i] >= 0 && (uint32_t)ids[i] < t->n_tokens, "ids in range");
        size_t room = 4 * len + 16 + (size_t)n * t->max_piece_len;
        char *back = malloc(room);
        int bos = (t->flags & RT_TOK_F_ADD_BOS) && t->bos_id != RT_TOK_NO_ID && len > 0;
        long m = rt_tok_decode(t, ids + bos, (size_t)n - (size_t)bos, back, room, NULL);
        require(m >= 0, "the ids of a prompt decode");
        if (exact && len > 0)
            require(m == (long)len + 1 && back[0] == ' ' && memcmp(back + 1, text, len) == 0,
                    "decode(encode(text)) == \" \" + text");
        free(back);
    }
    free(ids);
}

static void check_blob(void *blob, size_t size, int exact)
{
    RtTokenizer t;
    require(rt_tok_open(blob, size, &t) == RT_TOK_OK, "a built blob opens");
    static const char text[] = "Once upon a time, \xC3\xA9t\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC <s>\n\n  x";
    check_encode(&t, (const uint8_t *)text, sizeof text - 1, exact);
    check_encode(&t, (const uint8_t *)"", 0, exact);
    check_encode(&t, (const uint8_t *)"\xE2\x96\x81 a", 5, 0);
}

static int l2_build(const uint8_t *data, size_t size, void **blob, size_t *bsize)
{
    Diag d;
    diag_init(&d);
    d.quiet = 1;
    int rc = fe_llama2c_tokenizer_build_mem(&d, "tok.bin", data, size, blob, bsize);
    require((rc == 0) == (d.n_errors == 0), "failure if and only if errors were reported");
    diag_free(&d);
    return rc;
}

/* A small llama2.c tokenizer.bin: <unk>, <s>, </s>, 256 byte tokens, a few pieces. */
static uint8_t *small_file(size_t *n)
{
    static const char *pieces[] = { " ", "a", "b", "c", "h", "e", "l", "o", " a", "ab", "he", "ll",
                                    "hell", "hello", " hello", "\xC3\xA9", " t", "t" };
    size_t cap = 8192, at = 0;
    uint8_t *p = malloc(cap);
    int32_t v = 16;
    memcpy(p, &v, 4);
    at = 4;
    for (int i = 0; i < 259 + (int)(sizeof pieces / sizeof pieces[0]); i++) {
        char s[16];
        if (i == 0) strcpy(s, "<unk>");
        else if (i == 1) strcpy(s, "\n<s>\n");
        else if (i == 2) strcpy(s, "\n</s>\n");
        else if (i < 259) snprintf(s, sizeof s, "<0x%02X>", i - 3);
        else strcpy(s, pieces[i - 259]);
        float score = i < 259 ? 0.0f : -(float)(i - 259);
        int32_t len = (int32_t)strlen(s);
        memcpy(p + at, &score, 4);
        memcpy(p + at + 4, &len, 4);
        memcpy(p + at + 8, s, (size_t)len);
        at += 8 + (size_t)len;
    }
    *n = at;
    return p;
}

static void fuzz_blob(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(small_size);
    memcpy(b, small_blob, small_size);
    for (size_t i = 0; i + 3 <= size; i += 3) {
        size_t at = ((size_t)data[i] | (size_t)data[i + 1] << 8) % small_size;
        b[at] ^= data[i + 2];
    }
    RtTokenizer t;
    if (rt_tok_open(b, small_size, &t) == RT_TOK_OK) {
        static const char text[] = "hello abc, hell \xE6\x97\xA5 <s>";
        check_encode(&t, (const uint8_t *)text, sizeof text - 1, 0);
        check_encode(&t, data, size, 0);
    }
    free(b);
}

/* A small SentencePiece model with byte fallback, written as protobuf (mode 4 mutates it). */
static uint8_t *fuzz_spm_model;
static size_t fuzz_spm_model_len, fuzz_spm_model_cap;

static void pb_put(const void *s, size_t n)
{
    if (fuzz_spm_model_len + n > fuzz_spm_model_cap) {
        fuzz_spm_model_cap = 2 * (fuzz_spm_model_len + n);
        fuzz_spm_model = realloc(fuzz_spm_model, fuzz_spm_model_cap);
    }
    memcpy(fuzz_spm_model + fuzz_spm_model_len, s, n);
    fuzz_spm_model_len += n;
}

static void pb_piece(const char *s, float score, int type)
{
    size_t n = strlen(s);
    uint8_t m[64] = { 0x0A, (uint8_t)n };
    memcpy(m + 2, s, n);
    m[2 + n] = 0x15;
    memcpy(m + 3 + n, &score, 4);
    m[7 + n] = 0x18;
    m[8 + n] = (uint8_t)type;
    uint8_t hdr[2] = { 0x0A, (uint8_t)(9 + n) };
    pb_put(hdr, 2);
    pb_put(m, 9 + n);
}

static void make_model(void)
{
    pb_piece("<unk>", 0, 2);
    pb_piece("<s>", 0, 3);
    pb_piece("</s>", 0, 3);
    for (int i = 0; i < 256; i++) {
        char s[16];
        snprintf(s, sizeof s, "<0x%02X>", (unsigned)i & 0xFF);
        pb_piece(s, 0, 6);
    }
    static const char *words[] = { "\xE2\x96\x81", "a", "b", "e", "h", "l", "o", ("\xE2\x96\x81" "a"), "ab",
                                   "he", "ll", "hell", "hello", "\xE2\x96\x81hello", "<sep>" };
    for (int i = 0; i < 15; i++) pb_piece(words[i], -(float)i, i == 14 ? 4 : 1);
    /* trainer_spec { model_type: BPE, byte_fallback: true } */
    static const uint8_t trainer[] = { 0x12, 0x05, 0x18, 0x02, 0x98, 0x02, 0x01 };
    pb_put(trainer, sizeof trainer);
}

static int spm_build(const uint8_t *data, size_t size, void **blob, size_t *bsize)
{
    Diag d;
    diag_init(&d);
    d.quiet = 1;
    int rc = fe_spm_tokenizer_build_mem(&d, "x.model", data, size, blob, bsize);
    require((rc == 0) == (d.n_errors == 0), "failure if and only if errors were reported");
    diag_free(&d);
    return rc;
}

static void fuzz_model(const uint8_t *data, size_t size, int mutate)
{
    uint8_t *m;
    size_t n;
    if (mutate) {
        n = fuzz_spm_model_len;
        m = malloc(n);
        memcpy(m, fuzz_spm_model, n);
        for (size_t i = 0; i + 3 <= size; i += 3) m[((size_t)data[i] | (size_t)data[i + 1] << 8) % n] ^= data[i + 2];
    } else {
        n = size;
        m = malloc(n ? n : 1);          /* exact size: overreads are caught */
        memcpy(m, data, n);
    }
    void *blob;
    size_t bsize;
    if (spm_build(m, n, &blob, &bsize) == 0) {
        check_blob(blob, bsize, 0);
        free(blob);
    }
    free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!small_blob) {
        size_t n;
        uint8_t *f = small_file(&n);
        require(l2_build(f, n, &small_blob, &small_size) == 0, "the small tokenizer builds");
        require(rt_tok_open(small_blob, small_size, &small) == RT_TOK_OK, "it opens");
        free(f);
        make_model();
        void *b;
        size_t bs;
        require(spm_build(fuzz_spm_model, fuzz_spm_model_len, &b, &bs) == 0, "the small model builds");
        free(b);
    }
    if (size == 0) return 0;
    uint8_t *rest = malloc(size);           /* exact size: overreads are caught */
    memcpy(rest, data + 1, size - 1);
    void *blob;
    size_t bsize;
    switch (data[0] % 5) {
    case 0:
        if (l2_build(rest, size - 1, &blob, &bsize) == 0) {
            check_blob(blob, bsize, 0);
            free(blob);
        }
        break;
    case 1: check_encode(&small, rest, size - 1, 1); break;
    case 2: fuzz_blob(rest, size - 1); break;
    case 3: fuzz_model(rest, size - 1, 0); break;
    case 4: fuzz_model(rest, size - 1, 1); break;
    }
    free(rest);
    return 0;
}
