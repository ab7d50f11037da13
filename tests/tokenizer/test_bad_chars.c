/* test_bad_chars.c — the character tokenizer facing bad input: vocab.txt files and blobs.
 *
 * 1. vocab.txt files written in memory by the test (a small good vocabulary, then one
 *    breakage per case): each must fail with a message naming the file, line and column;
 *    accepted variants (CRLF, no final newline, specials without a role, '<' and '>' alone)
 *    must build.
 * 2. Corrupted character blobs: hand-made corruptions of a good blob, each rejected by
 *    rt_tok_open; then random mutations, each either rejected or still a tokenizer whose
 *    ids are in range and decode.
 * Needs nothing from ../shared. */
#include "frontend/tokenizer_chars.h"
#include "runtime/tokenizer.h"
#include "support/support.h"
#include "tests/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ids: 0 <pad>, 1 <s>, 2 </s>, 3 <unk>, 4 space, 5 a, 6 b, 7 U+00E9 */
static const char good[] = "<pad>\n<s>\n</s>\n<unk>\n<space>\na\nb\n\xc3\xa9\n";

static int build(const void *data, size_t n, char **msg, void **blob, size_t *size)
{
    Diag d;
    diag_init(&d);
    size_t mlen;
    *msg = NULL;
    d.out = open_memstream(msg, &mlen);
    int rc = fe_chars_tokenizer_build_mem(&d, "vocab.txt", data, n, blob, size);
    fclose(d.out);
    CHECK((rc == 0) == (d.n_errors == 0), "return code %d with %d errors", rc, d.n_errors);
    diag_free(&d);
    return rc;
}

static void expect_fail(const char *name, const void *data, size_t n, const char *expect)
{
    char *msg;
    void *blob = NULL;
    size_t size;
    int rc = build(data, n, &msg, &blob, &size);
    CHECK(rc != 0 && blob == NULL, "%s: should fail", name);
    CHECK(strstr(msg, expect) != NULL, "%s: expected the message\n    %s\ngot\n    %s", name, expect, msg);
    char *nl = strchr(msg, '\n');
    printf("ok: %-28s %.*s\n", name, nl ? (int)(nl - msg) : (int)strlen(msg), msg);
    free(msg);
}

static void expect_ok(const char *name, const char *data, size_t n, uint32_t tokens, uint32_t eos)
{
    char *msg;
    void *blob = NULL;
    size_t size = 0;
    int rc = build(data, n, &msg, &blob, &size);
    CHECK(rc == 0, "%s: should build: %s", name, msg);
    RtTokenizer t;
    CHECK(rc != 0 || (rt_tok_open(blob, size, &t) == RT_TOK_OK && t.n_tokens == tokens && t.eos_id == eos),
          "%s: opens with %u tokens, eos %u", name, tokens, eos);
    if (rc == 0) printf("ok: %-28s builds, %u tokens\n", name, tokens);
    free(msg);
    free(blob);
}

static void file_tests(void)
{
    expect_ok("good", good, strlen(good), 8, 2);
    expect_ok("no final newline", good, strlen(good) - 1, 8, 2);
    expect_ok("CRLF", "</s>\r\na\r\n", 9, 2, 0);
    expect_ok("no specials", "a\nb\n", 4, 2, RT_TOK_NO_ID);
    expect_ok("special without a role", "<mask>\n<x>\na\n", 12, 3, RT_TOK_NO_ID);
    expect_ok("brackets alone", "<\n>\n/\n", 6, 3, RT_TOK_NO_ID);
    expect_ok("a tab and a NUL", "\t\n\0\n", 4, 2, RT_TOK_NO_ID);
    expect_fail("empty file", "", 0, "vocab.txt: error: empty file");
    expect_fail("only a newline", "\n", 1, "vocab.txt:1:1: error: empty line");
    expect_fail("empty line", "<pad>\na\n\nb\n", 11, "vocab.txt:3:1: error: empty line");
    expect_fail("CR only", "a\n\r\n", 4, "vocab.txt:2:1: error: empty line");
    expect_fail("two characters", "<pad>\nab\n", 9,
                "vocab.txt:2:2: error: 'ab' is 2 characters; a line is one character, <space> or a "
                "special token <...>");
    expect_fail("multi-byte second character", "a\nx\xc3\xa9y\n", 7,
                "vocab.txt:2:2: error: 'x\xc3\xa9y' is 3 characters");
    expect_fail("brackets only", "<>\n", 3, "vocab.txt:1:2: error: '<>' is 2 characters");
    expect_fail("unclosed special", "<pad\n", 5, "vocab.txt:1:2: error: '<pad' is 4 characters");
    expect_fail("space inside a line", "a \n", 3, "vocab.txt:1:2: error: 'a ' is 2 characters");
    expect_fail("invalid UTF-8", "<pad>\na\n\xff\n", 10,
                "vocab.txt:3:1: error: invalid UTF-8 (byte 0xFF at byte 1 of the line)");
    expect_fail("invalid UTF-8 in a special", "<s\xffx>\n", 6,
                "vocab.txt:1:3: error: invalid UTF-8 (byte 0xFF at byte 3 of the line)");
    expect_fail("overlong UTF-8", "a\n\xc0\xaf\n", 5, "vocab.txt:2:1: error: invalid UTF-8");
    expect_fail("surrogate", "a\n\xed\xa0\x80\n", 6, "vocab.txt:2:1: error: invalid UTF-8");
    expect_fail("truncated UTF-8", "a\n\xe6\x97", 4, "vocab.txt:2:1: error: invalid UTF-8");
    expect_fail("duplicate symbol", "<pad>\na\nb\na\n", 12,
                "vocab.txt:4:1: error: duplicate symbol 'a' (first on line 2)");
    expect_fail("duplicate special", "<s>\na\n<s>\n", 10,
                "vocab.txt:3:1: error: duplicate symbol '<s>' (first on line 1)");
    expect_fail("space twice", "<space>\na\n \n", 12,
                "vocab.txt:3:1: error: duplicate symbol ' ' (first on line 1)");
    /* several problems: every one reported */
    char *msg;
    void *blob = NULL;
    size_t size;
    const char many[] = "a\n\nxy\na\n\xff\n";
    build(many, sizeof many - 1, &msg, &blob, &size);
    CHECK(strstr(msg, ":2:1: error: empty line") && strstr(msg, ":3:2: error: 'xy'") &&
          strstr(msg, ":4:1: error: duplicate") && strstr(msg, ":5:1: error: invalid UTF-8"),
          "every problem is reported:\n%s", msg);
    free(msg);
}

/* ---- 2. corrupted blobs ---------------------------------------------------------------- */

static void *good_blob(size_t *size)
{
    char *msg;
    void *blob = NULL;
    build(good, strlen(good), &msg, &blob, size);
    free(msg);
    return blob;
}

static void expect_reject(const char *name, void (*corrupt)(RtTokHeader *h, uint8_t *b))
{
    size_t size;
    uint8_t *b = good_blob(&size);
    corrupt((RtTokHeader *)b, b);
    RtTokenizer t;
    int err = rt_tok_open(b, size, &t);
    CHECK(err != RT_TOK_OK, "%s: rt_tok_open should reject the blob", name);
    printf("ok: %-28s rejected: %s\n", name, rt_tok_strerror(err));
    free(b);
}

static uint32_t *index_of(RtTokHeader *h, uint8_t *b) { return (uint32_t *)(b + h->off_piece_index); }

static void add_bos(RtTokHeader *h, uint8_t *b) { (void)b; h->flags |= RT_TOK_F_ADD_BOS; }
static void no_hash(RtTokHeader *h, uint8_t *b) { (void)b; h->off_piece_hash = 0; h->hash_slots = 0; }
static void no_flags(RtTokHeader *h, uint8_t *b) { (void)b; h->off_token_flags = 0; }
static void foreign_flag(RtTokHeader *h, uint8_t *b) { b[h->off_token_flags + 5] = RT_TOK_FLAG_BYTE; }
static void unknown_alone(RtTokHeader *h, uint8_t *b) { b[h->off_token_flags + 5] = RT_TOK_FLAG_UNKNOWN; }
static void eos_symbol(RtTokHeader *h, uint8_t *b) { (void)b; h->eos_id = 5; }
static void unk_not_unknown(RtTokHeader *h, uint8_t *b) { b[h->off_token_flags + 3] = RT_TOK_FLAG_SPECIAL; }
static void unk_out_of_range(RtTokHeader *h, uint8_t *b) { (void)b; h->unk_id = h->n_tokens; }
static void symbol_empty(RtTokHeader *h, uint8_t *b) { b[h->off_token_flags] = 0; h->pad_id = RT_TOK_NO_ID; }
static void special_piece(RtTokHeader *h, uint8_t *b) { b[h->off_token_flags + 4] = RT_TOK_FLAG_SPECIAL; }
static void two_chars(RtTokHeader *h, uint8_t *b) { index_of(h, b)[6] = index_of(h, b)[5]; }   /* "", "ab" */
static void bad_char(RtTokHeader *h, uint8_t *b)
{
    b[h->off_pieces + index_of(h, b)[7]] = 0xFF;        /* U+00E9's lead byte */
}
static void full_hash(RtTokHeader *h, uint8_t *b)
{
    uint32_t *slots = (uint32_t *)(b + h->off_piece_hash);
    for (uint32_t i = 0; i < h->hash_slots; i++) slots[i] = 5;
}
static void hash_id(RtTokHeader *h, uint8_t *b) { ((uint32_t *)(b + h->off_piece_hash))[0] = h->n_tokens; }

static void blob_tests(void)
{
    size_t size;
    uint8_t *orig = good_blob(&size);
    RtTokenizer t;
    CHECK(orig && rt_tok_open(orig, size, &t) == RT_TOK_OK && t.kind == RT_TOK_CHARS, "the good blob opens");
    expect_reject("ADD_BOS flag", add_bos);
    expect_reject("no piece hash", no_hash);
    expect_reject("no token flags", no_flags);
    expect_reject("byte flag", foreign_flag);
    expect_reject("unknown flag, not special", unknown_alone);
    expect_reject("eos a symbol", eos_symbol);
    expect_reject("unk not flagged unknown", unk_not_unknown);
    expect_reject("unk out of range", unk_out_of_range);
    expect_reject("symbol <pad> without a piece", symbol_empty);
    expect_reject("special <space>", special_piece);
    expect_reject("symbols '' and 'ab'", two_chars);
    expect_reject("symbol not UTF-8", bad_char);
    expect_reject("hash without empty slot", full_hash);
    expect_reject("hash id out of range", hash_id);

    uint8_t *b = malloc(size);
    srand(11);
    int opened = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(b, orig, size);
        int flips = 1 + rand() % 4;
        for (int i = 0; i < flips; i++) b[(size_t)rand() % size] ^= (uint8_t)(1 + rand() % 255);
        if (rt_tok_open(b, size, &t) != RT_TOK_OK) continue;
        opened++;
        static const char text[] = "ab a\xc3\xa9 <s> x\xe4\xb8\xad";
        int32_t ids[64];
        long n = rt_tok_prompt(&t, text, sizeof text - 1, ids, 64, NULL);
        CHECK(n == RT_TOK_EUNKNOWN || (n >= 0 && (size_t)n <= rt_tok_prompt_cap(&t, sizeof text - 1)),
              "mutated blob: %ld ids", n);
        for (long i = 0; i < n; i++) CHECK(ids[i] >= 0 && (uint32_t)ids[i] < t.n_tokens, "id in range");
        char out[1024];
        if (n > 0) CHECK(rt_tok_decode(&t, ids, (size_t)n, out, sizeof out, NULL) >= 0, "ids decode");
    }
    printf("ok: 3000 random mutations: %d still open, all keep their promises\n", opened);
    free(b);
    free(orig);
}

int main(void)
{
    file_tests();
    blob_tests();
    printf("%d checks, %d failures\n", check_count, check_failures);
    return check_failures != 0;
}
