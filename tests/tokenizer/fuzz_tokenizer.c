/* fuzz_tokenizer.c — libFuzzer target for the GPT-2 and character tokenizers, builders and
 * runtime.
 *
 * The first byte of the input picks what the rest is:
 *   0  a vocab.json and a merges.txt, split at the first NUL byte, given to the builder;
 *   1  the same, but the vocabulary starts with small_vocab.h's 256 byte tokens, so that the
 *      builder gets past them and the merges are checked in earnest;
 *   2  text to encode with the small tokenizer; valid UTF-8 must round-trip, invalid UTF-8 be
 *      rejected with an offset inside the text;
 *   3  (offset, byte) pairs XORed into the small tokenizer's blob, then rt_tok_open: if it
 *      accepts the blob, encoding must still round-trip;
 *   4  a Hugging Face tokenizer.json (byte-level BPE), given to its loader;
 *   5  a character vocab.txt (kind chars), given to its loader; its blob must then encode
 *      the vocabulary file itself and a fixed text as below;
 *   6  text to encode with a small character tokenizer (models/seq2seq-numbers' symbols and
 *      two multi-byte ones): ids in range, eos last in a prompt within rt_tok_prompt_cap,
 *      decode(encode(text)) == text unless a character is not in the vocabulary, which must
 *      then be reported at a character of the text (RT_TOK_EUNKNOWN, no <unk>).
 * Whenever a builder succeeds, its blob must open and round-trip. Any broken promise aborts,
 * which libFuzzer reports as a crash. Build: meson setup -Dfuzz=true with CC=clang-19. */
#include "frontend/tokenizer_chars.h"
#include "frontend/tokenizer_gpt2.h"
#include "frontend/tokenizer_spm.h"
#include "runtime/tokenizer.h"
#include "support/support.h"
#include "small_vocab.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *small_blob;
static size_t small_size;
static RtTokenizer small;
static void *chars_blob;            /* mode 6's character tokenizer */
static size_t chars_size;
static RtTokenizer chars;
static char *byte_tokens;           /* line 1 of small_vocab.h's vocabulary, made once */
static size_t byte_tokens_len;

static void require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_tokenizer: broken promise: %s\n", what);
        abort();
    }
}

/* Encodes text and checks what encode promises. */
static void check_encode(const RtTokenizer *t, const uint8_t *text, size_t len)
{
    int32_t *ids = malloc((len + 1) * sizeof *ids);
    char *back = malloc(len + 1);
    size_t at = 0;
    long n = rt_tok_encode(t, (const char *)text, len, ids, len + 1, &at);
    if (n == RT_TOK_EUTF8) {
        require(at < len, "UTF-8 error offset inside the text");
    } else {
        require(n >= 0 && (size_t)n <= len, "encode succeeds on valid UTF-8 with room len");
        long m = rt_tok_decode(t, ids, (size_t)n, back, len + 1, NULL);
        require(m == (long)len && memcmp(back, text, len) == 0, "decode(encode(text)) == text");
    }
    free(ids);
    free(back);
}

static int build(const char *vocab, size_t vn, const char *merges, size_t mn, void **blob,
                 size_t *size)
{
    Diag d;
    diag_init(&d);
    d.quiet = 1;
    int rc = fe_gpt2_tokenizer_build_mem(&d, "vocab.json", vocab, vn, "merges.txt", merges, mn,
                                         blob, size);
    require((rc == 0) == (d.n_errors == 0), "failure if and only if errors were reported");
    diag_free(&d);
    return rc;
}

static void fuzz_files(const uint8_t *data, size_t size, int prefixed)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t vn = nul ? (size_t)(nul - data) : size;
    const char *merges = nul ? (const char *)nul + 1 : "";
    size_t mn = nul ? size - vn - 1 : 0;
    /* exact-size copies, so that ASan sees any read past the end */
    size_t pn = prefixed ? byte_tokens_len : 0;
    char *vocab = malloc(pn + vn ? pn + vn : 1);
    memcpy(vocab, byte_tokens, pn);
    memcpy(vocab + pn, data, vn);
    vn += pn;
    void *blob;
    size_t bsize;
    if (build(vocab, vn, merges, mn, &blob, &bsize) == 0) {
        RtTokenizer t;
        require(rt_tok_open(blob, bsize, &t) == RT_TOK_OK, "a built blob opens");
        static const char text[] = "hello world <|endoftext|> 123 \xC3\xA9t\xC3\xA9\n\n";
        check_encode(&t, (const uint8_t *)text, sizeof text - 1);
        check_encode(&t, (const uint8_t *)merges, mn);
        free(blob);
    }
    free(vocab);
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
        check_encode(&t, (const uint8_t *)"hello world, hell \xE6\x97\xA5 <|endoftext|>", 35);
        check_encode(&t, data, size);
    }
    free(b);
}

static void fuzz_json(const uint8_t *data, size_t size)
{
    char *json = malloc(size ? size : 1);       /* exact: overreads are caught */
    memcpy(json, data, size);
    Diag d;
    diag_init(&d);
    d.quiet = 1;
    void *blob;
    size_t bsize;
    int rc = fe_hf_tokenizer_build_mem(&d, "tokenizer.json", json, size, &blob, &bsize);
    require((rc == 0) == (d.n_errors == 0), "failure if and only if errors were reported");
    diag_free(&d);
    if (rc == 0) {
        RtTokenizer t;
        require(rt_tok_open(blob, bsize, &t) == RT_TOK_OK, "a built blob opens");
        static const char text[] = "hello world <|endoftext|> 123 \xC3\xA9t\xC3\xA9\n\n";
        check_encode(&t, (const uint8_t *)text, sizeof text - 1);
        free(blob);
    }
    free(json);
}

/* The character tokenizer's promises on text (see mode 6 above). */
static void check_chars(const RtTokenizer *t, const uint8_t *text, size_t len)
{
    size_t cap = rt_tok_prompt_cap(t, len), at = len;
    int32_t *ids = malloc((cap ? cap : 1) * sizeof *ids);
    char *back = malloc(len + 1);
    long n = rt_tok_prompt(t, (const char *)text, len, ids, cap, &at);
    if (n == RT_TOK_EUTF8) {
        require(at < len, "UTF-8 error offset inside the text");
    } else if (n == RT_TOK_EUNKNOWN) {
        require(at < len && (text[at] & 0xC0) != 0x80 && t->unk_id == RT_TOK_NO_ID,
                "an unknown character at a character of the text, without <unk>");
    } else if (n == RT_TOK_ENOSTART) {
        require(len == 0 && t->bos_id == RT_TOK_NO_ID && t->eos_id == RT_TOK_NO_ID,
                "no start token only for an empty text without <s> and </s>");
    } else {
        require(n >= 0 && (size_t)n <= cap, "a prompt fits in rt_tok_prompt_cap ids");
        for (long i = 0; i < n; i++) require(ids[i] >= 0 && (uint32_t)ids[i] < t->n_tokens, "ids in range");
        int eos = (t->flags & RT_TOK_F_ADD_EOS) != 0;
        require(!eos || (n >= 1 && (uint32_t)ids[n - 1] == t->eos_id), "</s> last");
        long m = rt_tok_decode(t, ids, (size_t)n, back, len + 1, NULL);
        require(m >= 0 && (size_t)m <= len, "the ids decode to at most the text");
        int unk = 0;
        for (long i = 0; i < n; i++) unk |= (uint32_t)ids[i] == t->unk_id;
        require(unk || (m == (long)len && memcmp(back, text, len) == 0), "decode(encode(text)) == text");
    }
    free(ids);
    free(back);
}

static void fuzz_chars_vocab(const uint8_t *data, size_t size)
{
    char *vocab = malloc(size ? size : 1);      /* exact: overreads are caught */
    memcpy(vocab, data, size);
    Diag d;
    diag_init(&d);
    d.quiet = 1;
    void *blob;
    size_t bsize;
    int rc = fe_chars_tokenizer_build_mem(&d, "vocab.txt", vocab, size, &blob, &bsize);
    require((rc == 0) == (d.n_errors == 0), "failure if and only if errors were reported");
    diag_free(&d);
    if (rc == 0) {
        RtTokenizer t;
        require(rt_tok_open(blob, bsize, &t) == RT_TOK_OK, "a built blob opens");
        static const char text[] = "forty two <s> \xC3\xA9t\xC3\xA9\n";
        check_chars(&t, (const uint8_t *)text, sizeof text - 1);
        check_chars(&t, data, size);
        free(blob);
    }
    free(vocab);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!small_blob) {
        size_t n;
        char *v = sv_vocab(sv_tail, strlen(sv_tail), &n);
        require(build(v, n, sv_merges, strlen(sv_merges), &small_blob, &small_size) == 0,
                "the small vocabulary builds");
        require(rt_tok_open(small_blob, small_size, &small) == RT_TOK_OK, "it opens");
        free(v);
        byte_tokens = sv_vocab("", 0, &byte_tokens_len);
        static const char chars_vocab[] = "<pad>\n<s>\n</s>\n<space>\n0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n"
            "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\no\np\nq\nr\ns\nt\nu\nv\nw\nx\ny\nz\n"
            "\xC3\xA9\n\xE6\x97\xA5\n";
        Diag d;
        diag_init(&d);
        require(fe_chars_tokenizer_build_mem(&d, "vocab.txt", chars_vocab, sizeof chars_vocab - 1, &chars_blob,
                                             &chars_size) == 0, "the small character vocabulary builds");
        diag_free(&d);
        require(rt_tok_open(chars_blob, chars_size, &chars) == RT_TOK_OK, "it opens");
    }
    if (size == 0) return 0;
    switch (data[0] % 7) {
    case 0: fuzz_files(data + 1, size - 1, 0); break;
    case 1: fuzz_files(data + 1, size - 1, 1); break;
    case 2: {
        uint8_t *text = malloc(size > 1 ? size - 1 : 1);    /* exact: overreads are caught */
        memcpy(text, data + 1, size - 1);
        check_encode(&small, text, size - 1);
        free(text);
        break;
    }
    case 3: fuzz_blob(data + 1, size - 1); break;
    case 4: fuzz_json(data + 1, size - 1); break;
    case 5: fuzz_chars_vocab(data + 1, size - 1); break;
    case 6: {
        uint8_t *text = malloc(size > 1 ? size - 1 : 1);
        memcpy(text, data + 1, size - 1);
        check_chars(&chars, text, size - 1);
        free(text);
        break;
    }
    }
    return 0;
}
