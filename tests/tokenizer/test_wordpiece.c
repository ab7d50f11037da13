/* test_wordpiece.c — the WordPiece tokenizer (frontend/tokenizer_wordpiece.c + runtime/
 * wordpiece.c) against golden ids.
 *
 * Usage: test_wordpiece VOCAB GOLDEN.jsonl LOWERCASE
 *   VOCAB      a vocab.txt; a path starting with "shared/" is taken under $KILN_SHARED
 *              (../shared), and the test is skipped (exit 77) when that folder is absent
 *   GOLDEN     lines {"name", "text", "tokens", "ids"}, ids with [CLS] first and [SEP] last:
 *              ../shared's bert-tokenizer/golden.jsonl (bert-base-uncased, made by a reference
 *              and cross-checked with two others), or the hand-made wordpiece_*cases.jsonl
 *   LOWERCASE  1 (uncased) or 0 (cased)
 * For every line: rt_tok_prompt(text) must give ids exactly; rt_tok_encode(text) the ids
 * without [CLS] and [SEP], with rt_tok_prompt_cap's room and with exactly that room (one
 * less must say ENOSPACE); each id must decode to its token ("##" dropped, a space before a
 * word-initial token) and rt_tok_decode(ids) to the tokens joined that way. Then the ids of
 * the special tokens the tokenizer exposes, and the prompt of an empty text. */
#include "frontend/tokenizer_wordpiece.h"
#include "runtime/tokenizer.h"
#include "support/support.h"
#include "tests/check.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int same_ids(const int32_t *a, long na, const int32_t *b, size_t nb)
{
    return na == (long)nb && (nb == 0 || memcmp(a, b, nb * sizeof *a) == 0);
}

static void print_ids(const char *what, const int32_t *ids, long n)
{
    printf("    %s:", what);
    for (long i = 0; i < n && i < 40; i++) printf(" %d", ids[i]);
    printf("%s\n", n > 40 ? " ..." : "");
}

/* Special ids seen in the golden tokens, to compare with what the tokenizer exposes. */
static int32_t seen_cls = -1, seen_sep = -1, seen_unk = -1, seen_mask = -1;

static void note_special(const char *tok, int32_t id)
{
    if (!strcmp(tok, "[CLS]")) seen_cls = id;
    if (!strcmp(tok, "[SEP]")) seen_sep = id;
    if (!strcmp(tok, "[UNK]")) seen_unk = id;
    if (!strcmp(tok, "[MASK]")) seen_mask = id;
}

/* One case; returns 1 if it passes. */
static int check_case(const RtTokenizer *t, const char *name, const char *text, size_t len,
                      json_object *tokens, const int32_t *want, size_t n_want)
{
    int fails = check_failures;
    size_t cap = rt_tok_prompt_cap(t, len);
    int32_t *got = malloc((cap + 1) * sizeof *got);
    size_t err_at = 0;

    long n = rt_tok_prompt(t, text, len, got, cap, &err_at);
    CHECK(same_ids(got, n, want, n_want), "%s: prompt gives %ld ids, expected %zu", name, n, n_want);
    if (!same_ids(got, n, want, n_want)) {
        if (n < 0) printf("    %s\n", rt_tok_strerror((int)n));
        print_ids("expected", want, (long)n_want);
        if (n > 0) print_ids("got     ", got, n);
    }
    /* encode: the ids between [CLS] and [SEP] */
    size_t n_body = n_want >= 2 ? n_want - 2 : 0;
    n = rt_tok_encode(t, text, len, got, cap, &err_at);
    CHECK(same_ids(got, n, want + 1, n_body), "%s: encode gives %ld ids, expected %zu", name, n, n_body);
    if (n_body > 0) {
        n = rt_tok_encode(t, text, len, got, n_body, &err_at);
        CHECK(same_ids(got, n, want + 1, n_body), "%s: encode with exactly %zu ids of room", name, n_body);
        n = rt_tok_encode(t, text, len, got, n_body - 1, &err_at);
        CHECK(n == RT_TOK_ENOSPACE && err_at < len, "%s: encode with one id too few gives %ld (at %zu)",
              name, n, err_at);
    }

    /* decoding: piece by piece, then the whole */
    size_t room = 16 * n_want + 64, used = 0;
    char *expect = malloc(room), *out = malloc(room);
    for (size_t i = 0; i < n_want; i++) {
        const char *tok = json_object_get_string(json_object_array_get_idx(tokens, i));
        note_special(tok, want[i]);
        int cont = tok[0] == '#' && tok[1] == '#';
        const char *body = cont ? tok + 2 : tok;
        size_t pl;
        const char *p = rt_tok_decode_piece(t, want[i], &pl);
        int ok = p && (cont ? pl == strlen(body) && !memcmp(p, body, pl)
                            : pl == strlen(body) + 1 && p[0] == ' ' && !memcmp(p + 1, body, pl - 1));
        CHECK(ok, "%s: id %d decodes to '%.*s', token '%s'", name, want[i], p ? (int)pl : 0, p ? p : "", tok);
        if (!cont && i > 0) expect[used++] = ' ';
        memcpy(expect + used, body, strlen(body));
        used += strlen(body);
    }
    long m = rt_tok_decode(t, want, n_want, out, room, &err_at);
    CHECK(m == (long)used && memcmp(out, expect, used) == 0, "%s: decode gives '%.*s', expected '%.*s'",
          name, m > 0 ? (int)m : 0, out, (int)used, expect);
    free(expect);
    free(out);
    free(got);
    return check_failures == fails;
}

static int run_file(const RtTokenizer *t, const char *path)
{
    Diag d;
    diag_init(&d);
    size_t len;
    char *all = file_read_all(&d, path, &len);
    diag_free(&d);
    if (!all) return 1;
    int cases = 0, passed = 0, line = 0;
    for (char *s = all, *nl; s < all + len; s = nl + 1) {
        nl = strchr(s, '\n');
        if (!nl) nl = all + len;
        *nl = 0;
        line++;
        if (!*s) continue;
        json_object *o = json_tokener_parse(s), *name, *text, *ids, *tokens;
        cases++;
        if (!o || !json_object_object_get_ex(o, "name", &name) ||
            !json_object_object_get_ex(o, "text", &text) ||
            !json_object_object_get_ex(o, "tokens", &tokens) ||
            !json_object_object_get_ex(o, "ids", &ids) ||
            json_object_array_length(ids) != json_object_array_length(tokens)) {
            CHECK(0, "%s:%d: not a {\"name\", \"text\", \"tokens\", \"ids\"} line", path, line);
            json_object_put(o);
            continue;
        }
        size_t n = json_object_array_length(ids);
        int32_t *want = malloc((n + 1) * sizeof *want);
        for (size_t i = 0; i < n; i++) want[i] = json_object_get_int(json_object_array_get_idx(ids, i));
        passed += check_case(t, json_object_get_string(name), json_object_get_string(text),
                             (size_t)json_object_get_string_len(text), tokens, want, n);
        free(want);
        json_object_put(o);
    }
    printf("%s: %d/%d cases pass\n", path, passed, cases);
    free(all);
    return cases == 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_wordpiece VOCAB GOLDEN.jsonl LOWERCASE\n");
        return 2;
    }
    char vocab[4096], golden[4096];
    const char *shared = getenv("KILN_SHARED");
    const char *args[2] = { argv[1], argv[2] };
    char *paths[2] = { vocab, golden };
    for (int i = 0; i < 2; i++) {
        if (!strncmp(args[i], "shared/", 7))
            snprintf(paths[i], sizeof vocab, "%s/%s", shared ? shared : "../shared", args[i] + 7);
        else
            snprintf(paths[i], sizeof vocab, "%s", args[i]);
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            printf("SKIP: %s is absent (../shared not available)\n", paths[i]);
            return 77;
        }
    }
    Diag d;
    diag_init(&d);
    void *blob = NULL;
    size_t size = 0;
    int rc = fe_wordpiece_tokenizer_build(&d, vocab, atoi(argv[3]), &blob, &size);
    diag_free(&d);
    CHECK(rc == 0, "%s builds", vocab);
    if (rc) return 1;
    RtTokenizer t;
    int err = rt_tok_open(blob, size, &t);
    CHECK(err == RT_TOK_OK, "the blob opens: %s", rt_tok_strerror(err));
    if (err) return 1;
    CHECK(t.kind == RT_TOK_WORDPIECE, "kind %u", t.kind);
    CHECK(((t.flags & RT_TOK_F_LOWERCASE) != 0) == (atoi(argv[3]) != 0), "flags %#x", t.flags);
    run_file(&t, golden);

    /* the special ids the encoder modes will use */
    CHECK(seen_cls >= 0 && t.cls_id == (uint32_t)seen_cls && t.bos_id == t.cls_id, "cls_id %u", t.cls_id);
    CHECK(seen_sep >= 0 && t.sep_id == (uint32_t)seen_sep && t.eos_id == t.sep_id, "sep_id %u", t.sep_id);
    CHECK(seen_unk < 0 || t.unk_id == (uint32_t)seen_unk, "unk_id %u", t.unk_id);
    CHECK(seen_mask < 0 || t.mask_id == (uint32_t)seen_mask, "mask_id %u", t.mask_id);
    CHECK(t.pad_id == 0, "pad_id %u ([PAD] is the first line of both vocabularies)", t.pad_id);
    int32_t ids[4];
    long n = rt_tok_prompt(&t, "", 0, ids, 4, NULL);
    CHECK(n == 2 && ids[0] == seen_cls && ids[1] == seen_sep, "prompt of empty text: %ld ids", n);
    CHECK(rt_tok_prompt(&t, "", 0, ids, 1, NULL) == RT_TOK_ENOSPACE, "empty prompt, room for 1 id");
    CHECK(rt_tok_encode(&t, "a\xff", 2, ids, 4, NULL) == RT_TOK_EUTF8, "invalid UTF-8 is refused");
    printf("%d checks, %d failures\n", check_count, check_failures);
    free(blob);
    return check_failures != 0;
}
