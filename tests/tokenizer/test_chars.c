/* test_chars.c — the character tokenizer (frontend/tokenizer_chars.c + runtime/chars.c)
 * against the ids of scripts/train_seq2seq.py, which trained models/seq2seq-numbers.
 *
 * Usage: test_chars VOCAB REFERENCE.json
 *   VOCAB      models/seq2seq-numbers/vocab.txt (written by the script from its SYMBOLS)
 *   REFERENCE  models/seq2seq-numbers/reference.json (written by the script: source_ids are
 *              its encode(source); the greedy and beam ids are generated tokens, their text
 *              its decode(ids))
 * The expected ids come from the script's definitions, transcribed here: SYMBOLS = ["<pad>",
 * "<s>", "</s>", " "] + "0".."9" + "a".."z", encode(text) = [SYM_ID[c] for c in text] + [EOS],
 * decode(ids) = the symbols up to EOS, specials as "" (sym_id below). Checked:
 *   1. "40213" and "forty thousand two hundred thirteen": rt_tok_prompt gives the literal ids
 *      worked out from SYMBOLS, and so does the transcription; rt_tok_encode the same without
 *      eos, with exactly that room, and ENOSPACE with one id less; rt_tok_decode gives the text;
 *   2. every case of reference.json: prompt(source) == source_ids; prompt(target) ==
 *      the transcription (cases without a target, numbers the script cannot write, skip it); decode(ids) == text and prompt(text) == ids for the greedy and beam
 *      answers that end with eos;
 *   3. the special ids, piece by piece decoding (<space> is " ", specials are nothing), the
 *      prompt of an empty text ([eos], as encode("")), prompt_cap;
 *   4. a character not in the vocabulary (RT_TOK_EUNKNOWN at its byte offset, or <unk> when
 *      the vocabulary has one), invalid UTF-8, special tokens written in the text;
 *   5. decode(encode(s)) == s for pseudo-random strings over the vocabulary, and over a small
 *      vocabulary of multi-byte characters. */
#include "frontend/tokenizer_chars.h"
#include "runtime/tokenizer.h"
#include "support/support.h"
#include "tests/check.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

enum { PAD = 0, BOS = 1, EOS = 2 };     /* train_seq2seq.py */

/* train_seq2seq.py's SYM_ID[c]: 3 the space, 4..13 digits, 14..39 a..z; -1 otherwise. */
static int32_t sym_id(char c)
{
    if (c == ' ') return 3;
    if (c >= '0' && c <= '9') return 4 + (c - '0');
    if (c >= 'a' && c <= 'z') return 14 + (c - 'a');
    return -1;
}

/* train_seq2seq.py's encode(text): ids then EOS, in want (room for strlen + 1). */
static size_t script_encode(const char *text, int32_t *want)
{
    size_t n = 0;
    for (const char *c = text; *c; c++) want[n++] = sym_id(*c);
    want[n++] = EOS;
    return n;
}

static int same_ids(const int32_t *a, long na, const int32_t *b, size_t nb)
{
    return na == (long)nb && (nb == 0 || memcmp(a, b, nb * sizeof *a) == 0);
}

static void print_ids(const char *what, const int32_t *ids, long n)
{
    printf("    %s:", what);
    for (long i = 0; i < n && i < 60; i++) printf(" %d", ids[i]);
    printf("%s\n", n > 60 ? " ..." : "");
}

/* prompt(text) == want (want ends with eos), encode(text) == want less eos with any room
 * from exactly enough up, ENOSPACE with one less, decode(want) == text. */
static void check_text(const RtTokenizer *t, const char *name, const char *text,
                       const int32_t *want, size_t n_want)
{
    size_t len = strlen(text), cap = rt_tok_prompt_cap(t, len), err_at = 0;
    int32_t *got = malloc((cap + 1) * sizeof *got);
    long n = rt_tok_prompt(t, text, len, got, cap, &err_at);
    CHECK(same_ids(got, n, want, n_want), "%s: prompt('%s') gives %ld ids, expected %zu", name, text, n, n_want);
    if (!same_ids(got, n, want, n_want)) {
        if (n < 0) printf("    %s (at %zu)\n", rt_tok_strerror((int)n), err_at);
        print_ids("expected", want, (long)n_want);
        if (n > 0) print_ids("got     ", got, n);
    }
    size_t n_body = n_want - 1;
    n = rt_tok_encode(t, text, len, got, cap, &err_at);
    CHECK(same_ids(got, n, want, n_body), "%s: encode gives %ld ids, expected %zu", name, n, n_body);
    if (n_body > 0) {
        n = rt_tok_encode(t, text, len, got, n_body, &err_at);
        CHECK(same_ids(got, n, want, n_body), "%s: encode with exactly %zu ids of room", name, n_body);
        n = rt_tok_encode(t, text, len, got, n_body - 1, &err_at);
        CHECK(n == RT_TOK_ENOSPACE && err_at == len - 1, "%s: encode with one id too few gives %ld (at %zu)",
              name, n, err_at);
        n = rt_tok_prompt(t, text, len, got, n_want - 1, &err_at);
        CHECK(n == RT_TOK_ENOSPACE, "%s: prompt without room for eos gives %ld", name, n);
    }
    char out[1024];
    long m = rt_tok_decode(t, want, n_want, out, sizeof out, &err_at);
    CHECK(m == (long)len && memcmp(out, text, len) == 0, "%s: decode gives '%.*s', expected '%s'", name,
          m > 0 ? (int)m : 0, out, text);
    free(got);
}

static void *build(const char *name, const void *data, size_t n, size_t *size)
{
    Diag d;
    diag_init(&d);
    void *blob = NULL;
    int rc = fe_chars_tokenizer_build_mem(&d, name, data, n, &blob, size);
    diag_free(&d);
    CHECK(rc == 0, "%s builds", name);
    return blob;
}

/* 1. The two strings of the task, with ids worked out by hand from SYMBOLS. */
static void literal_cases(const RtTokenizer *t)
{
    /* "40213": '4' = 4 + 4, '0' = 4, '2' = 6, '1' = 5, '3' = 7, then EOS */
    static const int32_t digits[] = { 8, 4, 6, 5, 7, EOS };
    /* "forty thousand two hundred thirteen": a = 14 ... z = 39, the space 3 */
    static const int32_t words[] = {
        19, 28, 31, 33, 38, 3,                  /* forty */
        33, 21, 28, 34, 32, 14, 27, 17, 3,      /* thousand */
        33, 36, 28, 3,                          /* two */
        21, 34, 27, 17, 31, 18, 17, 3,          /* hundred */
        33, 21, 22, 31, 33, 18, 18, 27,         /* thirteen */
        EOS,
    };
    int32_t want[64];
    CHECK(same_ids(digits, 6, want, script_encode("40213", want)), "the transcription agrees on 40213");
    CHECK(same_ids(words, 36, want, script_encode("forty thousand two hundred thirteen", want)),
          "the transcription agrees on the words");
    check_text(t, "digits", "40213", digits, 6);
    check_text(t, "words", "forty thousand two hundred thirteen", words, 36);
}

static size_t json_ids(json_object *arr, int32_t *ids, size_t cap)
{
    size_t n = json_object_array_length(arr);
    for (size_t i = 0; i < n && i < cap; i++) ids[i] = json_object_get_int(json_object_array_get_idx(arr, i));
    return n < cap ? n : cap;
}

/* An answer of the model: ids (generated, eos last) and the script's decode of them. */
static int check_answer(const RtTokenizer *t, const char *name, json_object *o)
{
    json_object *text, *ids;
    if (!json_object_object_get_ex(o, "text", &text) || !json_object_object_get_ex(o, "ids", &ids)) return 0;
    int32_t want[256];
    size_t n = json_ids(ids, want, 256);
    if (n == 0 || want[n - 1] != EOS) return 1;     /* cut at max_len: not a whole answer */
    check_text(t, name, json_object_get_string(text), want, n);
    return 1;
}

/* 2. reference.json. */
static void reference_cases(const RtTokenizer *t, const char *path)
{
    json_object *root = json_object_from_file(path), *cases;
    CHECK(root && json_object_object_get_ex(root, "cases", &cases), "%s: a {\"cases\": [...]} file", path);
    if (!root) return;
    json_object *v;
    CHECK(json_object_object_get_ex(root, "pad", &v) && json_object_get_int(v) == PAD &&
          json_object_object_get_ex(root, "bos", &v) && json_object_get_int(v) == BOS &&
          json_object_object_get_ex(root, "eos", &v) && json_object_get_int(v) == EOS, "pad, bos, eos are 0, 1, 2");
    size_t n_cases = json_object_array_length(cases);
    int fails = check_failures, answers = 0;
    for (size_t i = 0; i < n_cases; i++) {
        json_object *c = json_object_array_get_idx(cases, i), *src, *src_ids, *target, *greedy, *beam;
        if (!json_object_object_get_ex(c, "source", &src) || !json_object_object_get_ex(c, "source_ids", &src_ids) ||
            !json_object_object_get_ex(c, "target", &target)) {
            CHECK(0, "case %zu: source, source_ids and target", i);
            continue;
        }
        char name[64];
        snprintf(name, sizeof name, "case %zu source", i);
        int32_t want[256];
        size_t n = json_ids(src_ids, want, 256);
        if (strlen(json_object_get_string(src)) > 200) {
            CHECK(0, "case %zu: a source of at most 200 characters", i);
            continue;
        }
        check_text(t, name, json_object_get_string(src), want, n);
        int32_t mine[256];
        CHECK(same_ids(mine, (long)script_encode(json_object_get_string(src), mine), want, n),
              "case %zu: the transcription gives source_ids", i);
        const char *tt = json_object_get_string(target);     /* NULL: no number in words */
        if (tt && strlen(tt) < 200) {
            snprintf(name, sizeof name, "case %zu target", i);
            n = script_encode(tt, mine);
            check_text(t, name, tt, mine, n);
        }
        if (json_object_object_get_ex(c, "greedy", &greedy)) {
            snprintf(name, sizeof name, "case %zu greedy", i);
            answers += check_answer(t, name, greedy);
        }
        if (json_object_object_get_ex(c, "beam", &beam))
            for (size_t b = 0; b < json_object_array_length(beam); b++) {
                snprintf(name, sizeof name, "case %zu beam %zu", i, b);
                answers += check_answer(t, name, json_object_array_get_idx(beam, b));
            }
    }
    CHECK(n_cases >= 10 && answers >= 10, "%zu cases, %d answers", n_cases, answers);
    printf("%s: %zu cases, %d answers, %s\n", path, n_cases, answers, check_failures == fails ? "all pass" : "FAILURES");
    json_object_put(root);
}

/* 3. Ids, pieces, empty prompt, prompt_cap. */
static void special_cases(const RtTokenizer *t)
{
    CHECK(t->kind == RT_TOK_CHARS && t->n_tokens == 40, "kind %u, %u tokens", t->kind, t->n_tokens);
    CHECK(t->pad_id == PAD && t->bos_id == BOS && t->eos_id == EOS && t->unk_id == RT_TOK_NO_ID,
          "pad %u bos %u eos %u unk %u", t->pad_id, t->bos_id, t->eos_id, t->unk_id);
    CHECK(t->flags == RT_TOK_F_ADD_EOS, "flags %#x: eos added, no bos", t->flags);
    for (int32_t id = 0; id < 3; id++) {
        size_t n = 99;
        const char *p = rt_tok_decode_piece(t, id, &n);
        CHECK(p && n == 0, "special %d decodes to nothing (%zu bytes)", id, n);
    }
    size_t n;
    const char *p = rt_tok_decode_piece(t, 3, &n);
    CHECK(p && n == 1 && p[0] == ' ', "<space> decodes to a space");
    p = rt_tok_decode_piece(t, 39, &n);
    CHECK(p && n == 1 && p[0] == 'z', "39 decodes to z");
    CHECK(!rt_tok_decode_piece(t, 40, &n) && !rt_tok_decode_piece(t, -1, &n), "ids out of range");
    int32_t ids[8] = { BOS, 19, PAD, 28, EOS, 3 }, bad[2] = { 5, 40 };
    char out[16];
    size_t at = 0;
    long m = rt_tok_decode(t, ids, 6, out, sizeof out, &at);
    CHECK(m == 3 && memcmp(out, "fo ", 3) == 0, "specials decode to nothing: %ld", m);
    CHECK(rt_tok_decode(t, bad, 2, out, sizeof out, &at) == RT_TOK_EID && at == 1, "bad id at 1");

    m = rt_tok_prompt(t, "", 0, ids, 8, &at);
    CHECK(m == 1 && ids[0] == EOS, "prompt of an empty text: [eos] as encode(\"\"), got %ld ids", m);
    CHECK(rt_tok_encode(t, "", 0, ids, 8, &at) == 0, "encode of an empty text: nothing");
    for (size_t len = 0; len < 100; len++)
        CHECK(rt_tok_prompt_cap(t, len) >= len + 1, "prompt_cap(%zu) = %zu", len, rt_tok_prompt_cap(t, len));
}

/* 4. Unknown characters, invalid UTF-8, special tokens in the text. */
static void error_cases(const RtTokenizer *t)
{
    int32_t ids[32];
    size_t at = 99;
    long n = rt_tok_encode(t, "12X4", 4, ids, 32, &at);
    CHECK(n == RT_TOK_EUNKNOWN && at == 2, "an upper-case X is unknown at byte 2: %ld at %zu", n, at);
    CHECK(strcmp(rt_tok_strerror(RT_TOK_EUNKNOWN), "a character of the text is not in the vocabulary") == 0,
          "the message of RT_TOK_EUNKNOWN: %s", rt_tok_strerror(RT_TOK_EUNKNOWN));
    n = rt_tok_prompt(t, "1 \xc3\xa9", 4, ids, 32, &at);
    CHECK(n == RT_TOK_EUNKNOWN && at == 2, "an unknown two-byte character at byte 2: %ld at %zu", n, at);
    n = rt_tok_encode(t, "12\xff", 3, ids, 32, &at);
    CHECK(n == RT_TOK_EUTF8 && at == 2, "invalid UTF-8 at byte 2: %ld at %zu", n, at);
    n = rt_tok_encode(t, "1\xe6\x97", 3, ids, 32, &at);
    CHECK(n == RT_TOK_EUTF8 && at == 1, "truncated UTF-8 at byte 1: %ld at %zu", n, at);
    n = rt_tok_encode(t, "<s>", 3, ids, 32, &at);
    CHECK(n == RT_TOK_EUNKNOWN && at == 0, "<s> in the text is characters ('<' is unknown): %ld at %zu", n, at);

    /* a vocabulary with <unk> and the characters of "<s>" */
    static const char v[] = "<pad>\n<unk>\n</s>\n<s>\n<\n/\n>\ns\n<space>\n\xc3\xa9\n";
    size_t size;
    void *blob = build("unk vocab", v, sizeof v - 1, &size);
    RtTokenizer u;
    CHECK(blob && rt_tok_open(blob, size, &u) == RT_TOK_OK, "the <unk> vocabulary opens");
    if (!blob) return;
    CHECK(u.unk_id == 1 && u.eos_id == 2 && u.bos_id == 3 && u.pad_id == 0, "roles by name, not by line");
    n = rt_tok_prompt(&u, "</s> x\xe6\x97\xa5s", 10, ids, 32, &at);
    static const int32_t want[] = { 4, 5, 7, 6, 8, 1, 1, 7, 2 };  /* < / s > space x U+65E5 s eos */
    CHECK(same_ids(ids, n, want, 9), "special text is characters, unknown ones (x, U+65E5) <unk>: %ld", n);
    char out[32];
    long m = rt_tok_decode(&u, ids, (size_t)n, out, sizeof out, &at);
    CHECK(m == 6 && memcmp(out, "</s> s", 6) == 0, "<unk> decodes to nothing: '%.*s'", m > 0 ? (int)m : 0, out);
    n = rt_tok_encode(&u, "\xc3\xa9\xc3", 3, ids, 32, &at);
    CHECK(n == RT_TOK_EUTF8 && at == 2, "invalid UTF-8 is refused even with <unk>: %ld at %zu", n, at);
    free(blob);
}

/* decode(encode(s)) == s for n pseudo-random strings of the symbols sym[0..k). */
static void round_trips(const RtTokenizer *t, const char *what, const char *const *sym, int k, int n)
{
    uint32_t x = 12345;
    int ok = 0;
    for (int r = 0; r < n; r++) {
        char s[512];
        size_t len = 0;
        x = x * 1103515245u + 12345u;
        int chars = (int)((x >> 16) % 80);
        for (int i = 0; i < chars; i++) {
            x = x * 1103515245u + 12345u;
            const char *c = sym[(x >> 16) % (uint32_t)k];
            memcpy(s + len, c, strlen(c));
            len += strlen(c);
        }
        int32_t ids[512];
        char back[512];
        long m = rt_tok_encode(t, s, len, ids, rt_tok_prompt_cap(t, len), NULL);
        long b = m == chars ? rt_tok_decode(t, ids, (size_t)m, back, sizeof back, NULL) : -1;
        int good = m == chars && b == (long)len && memcmp(back, s, len) == 0;
        CHECK(good, "%s: round trip of '%.*s' (%ld ids, %ld bytes)", what, (int)len, s, m, b);
        ok += good;
    }
    printf("%s: %d/%d round trips\n", what, ok, n);
}

/* 5. Round trips. */
static void round_trip_cases(const RtTokenizer *t)
{
    const char *sym[37];
    static char one[37][2];
    for (int i = 0; i < 37; i++) {
        one[i][0] = i == 0 ? ' ' : i <= 10 ? (char)('0' + i - 1) : (char)('a' + i - 11);
        sym[i] = one[i];
    }
    round_trips(t, "seq2seq vocabulary", sym, 37, 500);

    static const char v[] = "</s>\na\n\xc3\xa9\n\xe6\x97\xa5\n\xf0\x9f\x98\x80\n<space>\n";
    static const char *const multi[] = { "a", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80", " " };
    size_t size;
    void *blob = build("multi-byte vocab", v, sizeof v - 1, &size);
    RtTokenizer u;
    if (blob && rt_tok_open(blob, size, &u) == RT_TOK_OK) round_trips(&u, "multi-byte vocabulary", multi, 5, 500);
    else CHECK(0, "the multi-byte vocabulary opens");
    free(blob);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_chars VOCAB REFERENCE.json\n");
        return 2;
    }
    Diag d;
    diag_init(&d);
    void *blob = NULL;
    size_t size = 0;
    int rc = fe_chars_tokenizer_build(&d, argv[1], &blob, &size);
    diag_free(&d);
    CHECK(rc == 0, "%s builds", argv[1]);
    if (rc) return 1;
    RtTokenizer t;
    int err = rt_tok_open(blob, size, &t);
    CHECK(err == RT_TOK_OK, "the blob opens: %s", rt_tok_strerror(err));
    if (err) return 1;
    special_cases(&t);
    literal_cases(&t);
    reference_cases(&t, argv[2]);
    error_cases(&t);
    round_trip_cases(&t);
    printf("%d checks, %d failures\n", check_count, check_failures);
    free(blob);
    return check_failures != 0;
}
