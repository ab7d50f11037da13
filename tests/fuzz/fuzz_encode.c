/* fuzz_encode.c — libFuzzer target: every runtime tokenizer's encode on arbitrary bytes, with
 * the tokenizers of real files.
 *
 * At start it builds the tokenizers of the repository's models and test files (GPT-2 byte-level
 * BPE of models/tiny, WordPiece of models/bert-tiny, characters of models/seq2seq-numbers, the
 * SentencePiece BPE .model files of tests/tokenizer) and, when ../shared is there, of its
 * tokenizer files (GPT-2's encoder.json and vocab.bpe, BERT's vocab.txt, llama2.c's tok512.bin, a
 * SentencePiece unigram .model). The first byte of the input picks one of the nine (modulo
 * 9; a ../shared one that is absent falls back to one of the first five), so that a corpus
 * means the same with or without ../shared; the rest is the text.
 *
 * Promises checked on every text (a broken one aborts, which libFuzzer reports as a crash):
 *   - encode refuses with RT_TOK_EUTF8 exactly when the text is not valid UTF-8 (checked
 *     against the plain validator below), with an offset inside the text;
 *   - otherwise the ids fit rt_tok_prompt_cap, lie in range, and decode;
 *   - round trip, where the tokenizer promises it:
 *       byte-level BPE (GPT-2)            decode(encode(s)) == s, always: every byte has a token;
 *       llama2.c tokenizer.bin            == " " + s: a dummy prefix, and every byte has a token;
 *       SentencePiece, identity normalizer, no dummy prefix, spaces kept (spm_bpe_plain)
 *                                         == s unless an id is <unk> (no byte fallback) or s
 *                                         holds U+2581 (read as an escaped space);
 *       characters                        == s unless a character is not in the vocabulary
 *                                         (RT_TOK_EUNKNOWN, at a character of s).
 *     A tokenizer.json (byte-level BPE) compiles to the same GPT-2 table, so its encode is
 *     the first case's.
 *     The others do not promise it: WordPiece lower-cases, strips accents, splits punctuation
 *     and drops white space; SentencePiece with nmt_nfkc or custom rules normalizes the text
 *     and collapses spaces. For them the ids must only be in range and decode.
 * Build: meson setup -Dfuzz=true with CC=clang-19 (tests/fuzz/meson.build). */
#include "frontend/tokenizer_chars.h"
#include "frontend/tokenizer_gpt2.h"
#include "frontend/tokenizer_spm.h"
#include "frontend/tokenizer_wordpiece.h"
#include "runtime/tokenizer.h"
#include "support/support.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum Promise { EXACT, DUMMY_PREFIX, EXACT_UNLESS_UNK, CHARS, LOSSY };

typedef struct Tok {
    const char *what;
    enum Promise promise;
    void *blob;
    RtTokenizer t;
} Tok;

enum { N_OWN = 5, N_SLOTS = 9 };   /* the repository's, then ../shared's */
static Tok toks[N_SLOTS];
static int ready;

static void require(int ok, const char *what, const Tok *k)
{
    if (!ok) {
        fprintf(stderr, "fuzz_encode: %s: broken promise: %s\n", k->what, what);
        abort();
    }
}

/* Puts the tokenizer built (rc == 0) in its slot. */
static void add(int slot, const char *what, enum Promise promise, int rc, void *blob, size_t size)
{
    if (rc != 0) {
        fprintf(stderr, "fuzz_encode: %s does not build\n", what);
        abort();
    }
    Tok *k = &toks[slot];
    k->what = what;
    k->promise = promise;
    k->blob = blob;
    if (rt_tok_open(blob, size, &k->t) != RT_TOK_OK) {
        fprintf(stderr, "fuzz_encode: %s: the blob does not open\n", what);
        abort();
    }
}

static const char *path(const char *dir, const char *rel)
{
    static char buf[8][4096];
    static int i;
    char *p = buf[i++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", dir, rel);
    return p;
}

static int exists(const char *p)
{
    FILE *f = fopen(p, "rb");
    if (f) fclose(f);
    return f != NULL;
}

static void setup(void)
{
    const char *src = getenv("KILN_SOURCE") ? getenv("KILN_SOURCE") : KILN_SOURCE_DIR;
    char shared[4096];
    snprintf(shared, sizeof shared, "%s/../shared", src);
    Diag d;
    diag_init(&d);
    void *b;
    size_t n;
    int rc;
    rc = fe_gpt2_tokenizer_build(&d, path(src, "models/tiny/vocab.json"), path(src, "models/tiny/merges.txt"), &b, &n);
    add(0, "models/tiny (GPT-2 BPE)", EXACT, rc, b, n);
    rc = fe_wordpiece_tokenizer_build(&d, path(src, "models/bert-tiny/vocab.txt"), 1, &b, &n);
    add(1, "models/bert-tiny (WordPiece)", LOSSY, rc, b, n);
    rc = fe_chars_tokenizer_build(&d, path(src, "models/seq2seq-numbers/vocab.txt"), &b, &n);
    add(2, "models/seq2seq-numbers (characters)", CHARS, rc, b, n);
    rc = fe_spm_tokenizer_build(&d, path(src, "tests/tokenizer/spm_bpe.model"), &b, &n);
    add(3, "spm_bpe.model (SentencePiece BPE, rules)", LOSSY, rc, b, n);
    rc = fe_spm_tokenizer_build(&d, path(src, "tests/tokenizer/spm_bpe_plain.model"), &b, &n);
    add(4, "spm_bpe_plain.model (SentencePiece BPE, identity)", EXACT_UNLESS_UNK, rc, b, n);
    /* ../shared, when present */
    if (exists(path(shared, "models/gpt2-tokenizer/encoder.json"))) {
        rc = fe_gpt2_tokenizer_build(&d, path(shared, "models/gpt2-tokenizer/encoder.json"),
                                     path(shared, "models/gpt2-tokenizer/vocab.bpe"), &b, &n);
        add(5, "shared gpt2-tokenizer (GPT-2 BPE)", EXACT, rc, b, n);
    }
    if (exists(path(shared, "models/bert-tokenizer/vocab.txt"))) {
        rc = fe_wordpiece_tokenizer_build(&d, path(shared, "models/bert-tokenizer/vocab.txt"), 1, &b, &n);
        add(6, "shared bert-tokenizer (WordPiece)", LOSSY, rc, b, n);
    }
    if (exists(path(shared, "models/stories260K/tok512.bin"))) {
        rc = fe_llama2c_tokenizer_build(&d, path(shared, "models/stories260K/tok512.bin"), &b, &n);
        add(7, "shared tok512.bin (llama2.c)", DUMMY_PREFIX, rc, b, n);
    }
    if (exists(path(shared, "models/sentencepiece-test/test_model.model"))) {
        rc = fe_spm_tokenizer_build(&d, path(shared, "models/sentencepiece-test/test_model.model"), &b, &n);
        add(8, "shared test_model.model (SentencePiece unigram)", LOSSY, rc, b, n);
    }
    diag_free(&d);
    for (int i = 0; i < N_SLOTS; i++)
        if (toks[i].blob) fprintf(stderr, "fuzz_encode: slot %d: %s, %u tokens\n", i, toks[i].what, toks[i].t.n_tokens);
}

/* The offset of the first invalid or truncated UTF-8 sequence, or len: the shortest form,
 * no surrogates, at most U+10FFFF. */
static size_t utf8_bad_at(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        else if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
        else return i;
        if (i + n > len) return i;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n;
    }
    return len;
}

static void check(const Tok *k, const uint8_t *text, size_t len)
{
    const RtTokenizer *t = &k->t;
    size_t cap = rt_tok_prompt_cap(t, len), at = len;
    require(cap != SIZE_MAX, "a prompt cap for a short text", k);
    int32_t *ids = malloc((cap ? cap : 1) * sizeof *ids);
    long n = rt_tok_encode(t, (const char *)text, len, ids, cap, &at);
    size_t bad = utf8_bad_at(text, len);
    if (n == RT_TOK_EUTF8) {
        require(bad < len && at < len, "RT_TOK_EUTF8 only for invalid UTF-8, at an offset inside it", k);
    } else if (n == RT_TOK_EUNKNOWN) {
        require(k->promise == CHARS && at < len && (text[at] & 0xC0) != 0x80,
                "RT_TOK_EUNKNOWN only from the character tokenizer, at a character", k);
    } else {
        require(bad == len, "invalid UTF-8 is refused", k);
        require(n >= 0 && (size_t)n <= cap, "encode succeeds within rt_tok_prompt_cap ids", k);
        int unk = 0;
        for (long i = 0; i < n; i++) {
            require(ids[i] >= 0 && (uint32_t)ids[i] < t->n_tokens, "ids in range", k);
            unk |= t->unk_id != RT_TOK_NO_ID && (uint32_t)ids[i] == t->unk_id;
        }
        size_t room = 4 * len + 16 + (size_t)n * t->max_piece_len;
        char *back = malloc(room);
        long m = rt_tok_decode(t, ids, (size_t)n, back, room, NULL);
        require(m >= 0, "the ids decode", k);
        int same = m == (long)len && memcmp(back, text, len) == 0;
        switch (k->promise) {
        case EXACT:
            require(same, "decode(encode(s)) == s", k);
            break;
        case DUMMY_PREFIX:
            require(len == 0 ? m == 0 : m == (long)len + 1 && back[0] == ' ' && memcmp(back + 1, text, len) == 0,
                    "decode(encode(s)) == \" \" + s", k);
            break;
        case EXACT_UNLESS_UNK:
            require(same || unk || memmem(text, len, "\xE2\x96\x81", 3), "decode(encode(s)) == s without <unk>", k);
            break;
        case CHARS:
            require(same || unk, "decode(encode(s)) == s when every character is known", k);
            break;
        case LOSSY:
            break;
        }
        free(back);
    }
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size == 0) return 0;
    const Tok *k = &toks[data[0] % N_SLOTS];
    if (!k->blob) k = &toks[data[0] % N_SLOTS % N_OWN];
    size_t len = size - 1;
    uint8_t *text = malloc(len ? len : 1);      /* exact size: overreads are caught */
    memcpy(text, data + 1, len);
    check(k, text, len);
    free(text);
    return 0;
}
