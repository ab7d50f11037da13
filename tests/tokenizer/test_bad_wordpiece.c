/* test_bad_wordpiece.c — the WordPiece tokenizer facing bad input: vocab.txt files and blobs.
 *
 * 1. vocab.txt files written in memory by the test (a small good vocabulary, then one
 *    breakage per case): each must fail with a message naming the file and line (and column
 *    for invalid UTF-8); accepted variants (CRLF, no final newline) must build.
 * 2. Corrupted WordPiece blobs: hand-made corruptions of a good blob, each rejected by
 *    rt_tok_open; then random mutations, each either rejected or still a tokenizer whose
 *    ids are in range and decode.
 * Needs nothing from ../shared. */
#include "frontend/tokenizer_wordpiece.h"
#include "runtime/tokenizer.h"
#include "support/support.h"
#include "tests/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char good[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n##s\nworld\n.\n";

static int build(const void *data, size_t n, char **msg, void **blob, size_t *size)
{
    Diag d;
    diag_init(&d);
    size_t mlen;
    *msg = NULL;
    d.out = open_memstream(msg, &mlen);
    int rc = fe_wordpiece_tokenizer_build_mem(&d, "vocab.txt", data, n, 1, blob, size);
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
    printf("ok: %-24s %.*s\n", name, nl ? (int)(nl - msg) : (int)strlen(msg), msg);
    free(msg);
}

static void expect_ok(const char *name, const char *data, size_t n, uint32_t tokens)
{
    char *msg;
    void *blob = NULL;
    size_t size = 0;
    int rc = build(data, n, &msg, &blob, &size);
    CHECK(rc == 0, "%s: should build: %s", name, msg);
    RtTokenizer t;
    CHECK(rc != 0 || (rt_tok_open(blob, size, &t) == RT_TOK_OK && t.n_tokens == tokens),
          "%s: opens with %u tokens", name, tokens);
    if (rc == 0) printf("ok: %-24s builds, %u tokens\n", name, tokens);
    free(msg);
    free(blob);
}

static void file_tests(void)
{
    expect_ok("good", good, strlen(good), 9);
    expect_ok("no final newline", good, strlen(good) - 1, 9);
    expect_ok("CRLF", "[UNK]\r\nhello\r\n", 14, 2);
    expect_fail("empty file", "", 0, "vocab.txt: error: empty file");
    expect_fail("only a newline", "\n", 1, "vocab.txt:1:1: error: empty line");
    expect_fail("empty line", "[UNK]\nhello\n\nworld\n", 19, "vocab.txt:3:1: error: empty line");
    expect_fail("invalid UTF-8", "[UNK]\nhello\nwo\xffrld\n", 19,
                "vocab.txt:3:3: error: invalid UTF-8 (byte 0xFF at byte 3 of the line)");
    expect_fail("overlong UTF-8", "[UNK]\n\xc0\xaf\n", 9, "vocab.txt:2:1: error: invalid UTF-8");
    expect_fail("truncated UTF-8", "[UNK]\nab\xe6\x97", 10, "vocab.txt:2:3: error: invalid UTF-8");
    expect_fail("duplicate token", "[UNK]\nhello\nworld\nhello\n", 24,
                "vocab.txt:4:1: error: duplicate token 'hello' (first on line 2)");
    expect_fail("no [UNK]", "[PAD]\nhello\n", 12, "vocab.txt: error: no [UNK] token");
    char *longline = malloc(FE_WORDPIECE_MAX_LINE + 16);
    memcpy(longline, "[UNK]\n", 6);
    memset(longline + 6, 'a', FE_WORDPIECE_MAX_LINE + 1);
    longline[6 + FE_WORDPIECE_MAX_LINE + 1] = '\n';
    expect_fail("line too long", longline, 6 + FE_WORDPIECE_MAX_LINE + 2,
                "vocab.txt:2:1: error: line of 513 bytes; a token has at most 512");
    free(longline);
    /* several problems: every one reported */
    char *msg;
    void *blob = NULL;
    size_t size;
    const char many[] = "[UNK]\n\nx\nx\n\xff\n";
    build(many, sizeof many - 1, &msg, &blob, &size);
    CHECK(strstr(msg, ":2:1: error: empty line") && strstr(msg, ":4:1: error: duplicate") &&
          strstr(msg, ":5:1: error: invalid UTF-8"), "every problem is reported:\n%s", msg);
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
    printf("ok: %-24s rejected: %s\n", name, rt_tok_strerror(err));
    free(b);
}

static void no_unk(RtTokHeader *h, uint8_t *b) { (void)b; h->unk_id = RT_TOK_NO_ID; }
static void bad_flag(RtTokHeader *h, uint8_t *b) { (void)b; h->flags |= RT_TOK_F_DUMMY_PREFIX; }
static void no_hash(RtTokHeader *h, uint8_t *b) { (void)b; h->off_piece_hash = 0; h->hash_slots = 0; }
static void unk_flag(RtTokHeader *h, uint8_t *b) { b[h->off_token_flags + 6] = RT_TOK_FLAG_SPECIAL; }
static void full_hash(RtTokHeader *h, uint8_t *b)
{
    uint32_t *slots = (uint32_t *)(b + h->off_piece_hash);
    for (uint32_t i = 0; i < h->hash_slots; i++) slots[i] = 5;
}
static void hash_id(RtTokHeader *h, uint8_t *b)
{
    uint32_t *slots = (uint32_t *)(b + h->off_piece_hash);
    slots[0] = h->n_tokens;
}
static void special_no_space(RtTokHeader *h, uint8_t *b)
{
    const uint32_t *index = (const uint32_t *)(b + h->off_piece_index);
    b[h->off_pieces + index[4]] = 'x';      /* " [MASK]" -> "x[MASK]" */
}

static void blob_tests(void)
{
    expect_reject("no unk_id", no_unk);
    expect_reject("foreign flag", bad_flag);
    expect_reject("no piece hash", no_hash);
    expect_reject("special without text", unk_flag);    /* "##s" is "s": no space in front */
    expect_reject("hash without empty slot", full_hash);
    expect_reject("hash id out of range", hash_id);
    expect_reject("special piece no space", special_no_space);

    size_t size;
    uint8_t *orig = good_blob(&size);
    uint8_t *b = malloc(size);
    srand(7);
    int opened = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(b, orig, size);
        int flips = 1 + rand() % 4;
        for (int i = 0; i < flips; i++) b[(size_t)rand() % size] ^= (uint8_t)(1 + rand() % 255);
        RtTokenizer t;
        if (rt_tok_open(b, size, &t) != RT_TOK_OK) continue;
        opened++;
        static const char text[] = "Hello worlds. [MASK] caf\xc3\xa9 \xe4\xb8\xad x";
        int32_t ids[64];
        long n = rt_tok_prompt(&t, text, sizeof text - 1, ids, 64, NULL);
        CHECK(n >= 0 && (size_t)n <= rt_tok_prompt_cap(&t, sizeof text - 1), "mutated blob: %ld ids", n);
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
