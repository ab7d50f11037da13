/* test_spm_golden.c — SentencePiece-family tokenizers against ids made by their references.
 *
 * Usage: test_spm_golden KIND FILE GOLDEN.jsonl
 *   KIND    llama2c | sentencepiece | hf (tokenizer.json; test_hf.py writes one from ../shared)
 *   FILE    the tokenizer file; a path starting with "shared/" is taken under $KILN_SHARED
 *           (../shared), and the test is skipped (exit 77) when that folder is absent
 *   GOLDEN  lines {"name", "text", "ids", "decoded"}: llama2c_golden.jsonl (llama2c_ref.py,
 *           a transcription of llama2.c's run.c), ../shared's sentencepiece-test/golden.jsonl
 *           and spm_*_golden.jsonl (the SentencePiece library, make_spm_bpe.py), ../shared's
 *           gpt2-tokenizer/golden.jsonl (no "decoded": the text itself)
 * For every line: rt_tok_encode(text) must give ids exactly (with a buffer of
 * rt_tok_prompt_cap ids and one of exactly the ids' count; one less must say ENOSPACE);
 * rt_tok_prompt must give [bos] + ids when the tokenizer adds BOS; decoding must give
 * "decoded": for llama2c as run.c prints the ids after BOS (rt_tok_decode_next from bos),
 * otherwise rt_tok_decode(ids). For llama2c, whose byte fallback covers every byte,
 * rt_tok_decode(ids) must also be " " + text. */
#include "frontend/tokenizer_spm.h"
#include "runtime/tokenizer.h"
#include "support/support.h"
#include "tests/check.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *kind;

static int build(const char *path, void **blob, size_t *size)
{
    Diag d;
    diag_init(&d);
    int rc = -1;
    if (!strcmp(kind, "llama2c")) rc = fe_llama2c_tokenizer_build(&d, path, blob, size);
    else if (!strcmp(kind, "sentencepiece")) rc = fe_spm_tokenizer_build(&d, path, blob, size);
    else if (!strcmp(kind, "hf")) rc = fe_hf_tokenizer_build(&d, path, blob, size);
    else printf("unknown kind %s\n", kind);
    diag_free(&d);
    return rc;
}

static void print_ids(const char *what, const int32_t *ids, size_t n)
{
    printf("    %s:", what);
    for (size_t i = 0; i < n && i < 40; i++) printf(" %d", ids[i]);
    printf("%s\n", n > 40 ? " ..." : "");
}

static int same_ids(const int32_t *a, long na, const int32_t *b, size_t nb)
{
    return na == (long)nb && (nb == 0 || memcmp(a, b, nb * sizeof *a) == 0);
}

/* One case; returns 1 if it passes. */
static int check_case(const RtTokenizer *t, const char *name, const char *text, size_t len,
                      const int32_t *want, size_t n_want, const char *decoded, size_t n_decoded)
{
    int fails = check_failures;
    size_t cap = rt_tok_prompt_cap(t, len);
    int32_t *got = malloc((cap + 1) * sizeof *got);
    size_t err_at = 0;
    long n = rt_tok_encode(t, text, len, got, cap, &err_at);
    CHECK(same_ids(got, n, want, n_want), "%s: encode gives %ld ids, expected %zu", name, n, n_want);
    if (!same_ids(got, n, want, n_want)) {
        if (n < 0) printf("    %s\n", rt_tok_strerror((int)n));
        print_ids("expected", want, n_want);
        if (n > 0) print_ids("got     ", got, (size_t)n);
    }
    /* GPT-2 merges a piece over 256 bytes in place and needs room for its bytes (tokenizer.h) */
    if (n_want > 0 && t->kind != RT_TOK_GPT2) {
        n = rt_tok_encode(t, text, len, got, n_want, &err_at);
        CHECK(same_ids(got, n, want, n_want), "%s: encode with exactly %zu ids of room", name, n_want);
        n = rt_tok_encode(t, text, len, got, n_want - 1, &err_at);
        CHECK(n == RT_TOK_ENOSPACE, "%s: encode with one id too few gives %ld", name, n);
    }

    /* the prompt */
    int bos = (t->flags & RT_TOK_F_ADD_BOS) != 0;
    n = rt_tok_prompt(t, text, len, got, cap, &err_at);
    if (len == 0) {
        CHECK(n == 1 && (uint32_t)got[0] == t->bos_id, "%s: prompt of empty text: %ld ids", name, n);
    } else {
        CHECK(n == (long)n_want + bos && (!bos || (uint32_t)got[0] == t->bos_id) &&
              same_ids(got + bos, n - bos, want, n_want), "%s: prompt gives %ld ids", name, n);
    }

    /* decoding */
    size_t room = 4 * (n_decoded + len) + 64;
    char *out = malloc(room);
    long m;
    if (!strcmp(kind, "llama2c")) {
        int32_t prev = (int32_t)t->bos_id;
        m = 0;
        for (size_t i = 0; i < n_want; i++) {
            size_t pl;
            const char *p = rt_tok_decode_next(t, prev, want[i], &pl);
            CHECK(p != NULL, "%s: id %d decodes", name, want[i]);
            if (!p) break;
            memcpy(out + m, p, pl);
            m += (long)pl;
            prev = want[i];
        }
        CHECK(m == (long)n_decoded && memcmp(out, decoded, n_decoded) == 0,
              "%s: decoding after BOS gives '%.*s', expected '%s'", name, (int)m, out, decoded);
        m = rt_tok_decode(t, want, n_want, out, room, &err_at);
        CHECK(len == 0 ? m == 0 : (m == (long)len + 1 && out[0] == ' ' && memcmp(out + 1, text, len) == 0),
              "%s: rt_tok_decode(ids) gives %ld bytes, not \" \" + text", name, m);
    } else {
        m = rt_tok_decode(t, want, n_want, out, room, &err_at);
        CHECK(m == (long)n_decoded && memcmp(out, decoded, n_decoded) == 0,
              "%s: decode gives '%.*s', expected '%s'", name, m > 0 ? (int)m : 0, out, decoded);
    }
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
        json_object *o = json_tokener_parse(s), *name, *text, *ids, *dec;
        cases++;
        if (!o || !json_object_object_get_ex(o, "name", &name) ||
            !json_object_object_get_ex(o, "text", &text) ||
            !json_object_object_get_ex(o, "ids", &ids)) {
            CHECK(0, "%s:%d: not a {\"name\", \"text\", \"ids\"} line", path, line);
            json_object_put(o);
            continue;
        }
        if (!json_object_object_get_ex(o, "decoded", &dec)) dec = text;     /* GPT-2: the text */
        size_t n = json_object_array_length(ids);
        int32_t *want = malloc((n + 1) * sizeof *want);
        for (size_t i = 0; i < n; i++) want[i] = json_object_get_int(json_object_array_get_idx(ids, i));
        passed += check_case(t, json_object_get_string(name), json_object_get_string(text),
                             (size_t)json_object_get_string_len(text), want, n,
                             json_object_get_string(dec), (size_t)json_object_get_string_len(dec));
        free(want);
        json_object_put(o);
    }
    printf("%s: %d/%d cases pass\n", path, passed, cases);
    free(all);
    return cases == 0;
}

/* llama2c only: every piece against the file, and the prompt of the brief. */
static void llama2c_extra(const RtTokenizer *t, const char *path)
{
    Diag d;
    diag_init(&d);
    size_t len;
    uint8_t *f = (uint8_t *)file_read_all(&d, path, &len);
    diag_free(&d);
    if (!f) return;
    size_t at = 4;
    uint32_t id = 0;
    int bad = 0;
    while (at + 8 <= len) {
        int32_t n;
        memcpy(&n, f + at + 4, 4);
        const uint8_t *s = f + at + 8;
        size_t pl;
        const char *p = rt_tok_decode_piece(t, (int32_t)id, &pl);
        unsigned byte;
        char tail;
        if (n == 6 && sscanf((const char *)s, "<0x%2X%c", &byte, &tail) == 2 && tail == '>')
            bad += !(p && pl == 1 && (uint8_t)p[0] == byte);
        else
            bad += !(p && pl == (size_t)n && memcmp(p, s, pl) == 0);
        at += 8 + (size_t)n;
        id++;
    }
    CHECK(bad == 0 && id == t->n_tokens, "%d of %u pieces decode to other bytes than the file's", bad, id);
    printf("ok: %u pieces decode to the file's bytes (byte tokens to their byte)\n", id);
    free(f);

    int32_t ids[32];
    long n = rt_tok_prompt(t, "Once upon a time", 16, ids, 32, NULL);
    CHECK(n == 5 && ids[0] == 1, "prompt 'Once upon a time': %ld ids, first %d", n, ids[0]);
    printf("ok: prompt 'Once upon a time' ->");
    for (long i = 0; i < n; i++) printf(" %d", ids[i]);
    printf("\n");
    CHECK(t->bos_id == 1 && t->eos_id == 2 && t->unk_id == 0, "special ids %u %u %u", t->bos_id,
          t->eos_id, t->unk_id);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_spm_golden KIND FILE GOLDEN.jsonl\n");
        return 2;
    }
    kind = argv[1];
    char path[4096];
    const char *file = argv[2];
    if (!strncmp(file, "shared/", 7)) {
        const char *shared = getenv("KILN_SHARED");
        struct stat st;
        if (!shared || stat(shared, &st) != 0) {
            printf("skipped: the shared folder (KILN_SHARED=%s) is absent\n", shared ? shared : "");
            return 77;
        }
        snprintf(path, sizeof path, "%s/%s", shared, file + 7);
        file = path;
    }
    const char *golden = argv[3];
    char gpath[4096];
    if (!strncmp(golden, "shared/", 7)) {
        snprintf(gpath, sizeof gpath, "%s/%s", getenv("KILN_SHARED"), golden + 7);
        golden = gpath;
    }
    void *blob = NULL;
    size_t size = 0;
    if (build(file, &blob, &size)) {
        printf("FAIL: %s does not build\n", file);
        return 1;
    }
    RtTokenizer t;
    int rc = rt_tok_open(blob, size, &t);
    if (rc != RT_TOK_OK) {
        printf("FAIL: the blob does not open: %s\n", rt_tok_strerror(rc));
        return 1;
    }
    printf("%s: %u tokens, blob of %zu bytes\n", file, t.n_tokens, size);
    int bad = run_file(&t, golden);
    if (!strcmp(kind, "llama2c")) llama2c_extra(&t, file);
    free(blob);
    printf("%d/%d checks pass\n", check_count - check_failures, check_count);
    return bad || check_failures != 0;
}
