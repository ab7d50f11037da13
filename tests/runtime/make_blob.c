/* make_blob.c — the data of the fake model (fake_model.c) that tests the executables' runtime.
 *
 *   make_blob VOCAB_JSON MERGES_TXT OUT_TOKENIZER OUT_WEIGHTS OUT_HEADER
 *
 * writes the tokenizer blob of models/tiny (fe_gpt2_tokenizer_build, as kiln compile does),
 * the "weights" of a bigram model and a header for fake_model.c with their sizes, the
 * weights' rt_weights_check and the absolute paths that fake_model.c `.incbin`s.
 *
 * The weights are a table of logits, (vocab, vocab) float32 row-major: row a holds the
 * logits that follow token a. Every entry is -((31a + 17b) % 97) / 10 - 5 (between -14.6
 * and -5), except the first choice of each row (logit 8) and a second choice (7.5). The
 * first choices make chains the test relies on, written with single-byte tokens:
 *   lowercase letters    a -> b -> ... -> z -> a (never ends)
 *   '$'                  -> 'a' (so "$" continues with the alphabet)
 *   '#'                  -> C3 -> A9 -> '!' -> eos: "é" split over two tokens
 *   '%'                  -> E2 -> 'A' -> BF -> '?' -> eos: two invalid sequences
 *   '&'                  -> F0 -> 9F -> 98 -> eos: a character cut short by the end
 *   '(' <-> ')'          a loop, second choices '[' and ']': the repetition penalty breaks it
 *   any other token      -> the letter 'a' + id % 26; eos -> 'a'
 * second choice: the digit '0' + id % 10 ('[' for '(' and ']' for ')').
 * The test reads the table back from OUT_WEIGHTS, so only this file defines it. */
#include "frontend/tokenizer_gpt2.h"
#include "runtime/runtime.h"
#include "runtime/tokenizer.h"
#include "support/support.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "make_blob: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

/* path as a C (and gas) string literal's contents */
static void put_quoted(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: make_blob VOCAB_JSON MERGES_TXT OUT_TOKENIZER OUT_WEIGHTS OUT_HEADER\n");
        return 2;
    }
    Diag d;
    diag_init(&d);
    void *blob;
    size_t blob_size;
    if (fe_gpt2_tokenizer_build(&d, argv[1], argv[2], &blob, &blob_size)) return 1;
    RtTokenizer tok;
    if (rt_tok_open(blob, blob_size, &tok) != RT_TOK_OK || !tok.byte_ids || tok.eos_id == RT_TOK_NO_ID) {
        fprintf(stderr, "make_blob: the tokenizer blob of %s is not usable here\n", argv[1]);
        return 1;
    }
    uint32_t v = tok.n_tokens, eos = tok.eos_id;
    const uint32_t *by = tok.byte_ids;
    float *w = malloc((size_t)v * v * sizeof *w);
    uint32_t *first = malloc(v * sizeof *first), *second = malloc(v * sizeof *second);
    if (!w || !first || !second) return 1;
    for (uint32_t a = 0; a < v; a++) {
        first[a] = by['a' + a % 26];
        second[a] = by['0' + a % 10];
    }
    for (int c = 'a'; c <= 'z'; c++) first[by[c]] = by[c == 'z' ? 'a' : c + 1];
    first[eos] = by['a'];
    first[by['$']] = by['a'];
    static const int chains[][6] = {
        { '#', 0xC3, 0xA9, '!', -1 },
        { '%', 0xE2, 'A', 0xBF, '?', -1 },
        { '&', 0xF0, 0x9F, 0x98, -1 },
    };
    for (size_t c = 0; c < sizeof chains / sizeof chains[0]; c++)
        for (int i = 0; chains[c][i] >= 0; i++)
            first[by[chains[c][i]]] = chains[c][i + 1] >= 0 ? by[chains[c][i + 1]] : eos;
    first[by['(']] = by[')'];
    first[by[')']] = by['('];
    second[by['(']] = by['['];
    second[by[')']] = by[']'];
    for (uint32_t a = 0; a < v; a++) {
        float *row = w + (size_t)a * v;
        for (uint32_t b = 0; b < v; b++) row[b] = -(float)((a * 31 + b * 17) % 97) / 10.0f - 5.0f;
        row[second[a]] = 7.5f;
        row[first[a]] = 8.0f;
    }
    size_t wbytes = (size_t)v * v * sizeof *w;
    if (write_file(argv[3], blob, blob_size) || write_file(argv[4], w, wbytes)) return 1;
    char tpath[PATH_MAX], wpath[PATH_MAX];
    if (!realpath(argv[3], tpath) || !realpath(argv[4], wpath)) {
        fprintf(stderr, "make_blob: cannot resolve the output paths\n");
        return 1;
    }
    FILE *h = fopen(argv[5], "w");
    if (!h) {
        fprintf(stderr, "make_blob: cannot write %s\n", argv[5]);
        return 1;
    }
    fprintf(h, "/* written by tests/runtime/make_blob.c; do not edit */\n");
    fprintf(h, "#define FAKE_VOCAB %u\n#define FAKE_EOS %u\n", v, eos);
    fprintf(h, "#define FAKE_TOKENIZER_BYTES %zu\n", blob_size);
    fprintf(h, "#define FAKE_WEIGHTS_BYTES %zuull\n", wbytes);
    fprintf(h, "#define FAKE_WEIGHTS_CHECK 0x%016llxull\n", (unsigned long long)rt_weights_check(w, wbytes));
    fprintf(h, "#define FAKE_TOKENIZER_PATH \"");
    put_quoted(h, tpath);
    fprintf(h, "\"\n#define FAKE_WEIGHTS_PATH \"");
    put_quoted(h, wpath);
    fprintf(h, "\"\n");
    if (fclose(h) != 0) return 1;
    free(w);
    free(first);
    free(second);
    free(blob);
    diag_free(&d);
    return 0;
}
