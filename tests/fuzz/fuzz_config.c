/* fuzz_config.c — libFuzzer target: `kiln import` of a Hugging Face folder whose config.json
 * is the input.
 *
 * The folder is real but for config.json: at start two scratch folders are made, one with
 * models/tiny's files (GPT-2 weights, vocab.json, merges.txt) and one with models/bert-tiny's
 * (BERT weights, vocab.txt, tokenizer_config.json), linked. The first byte of the input picks
 * the folder, the rest is written as its config.json, and fe_import_hf runs as `kiln import
 * DIR -o out.xml` would: family detection (model_type, architectures), each family's checks
 * of its keys (gpt2, llama, bert, albert, distilbert, electra), the weights against the
 * configuration, the XML written and read back. It must fail with errors reported, or
 * succeed; a success must write a model that `kiln check` would accept (fe_import_hf reads it
 * back itself). fuzz_import covers the llama2.c header and LLaMA's keys in memory.
 * Build: meson setup -Dfuzz=true with CC=clang-19 (tests/fuzz/meson.build). */
#include "frontend/frontend.h"
#include "support/support.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dirs[2][4096];
static char outs[2][4096];

static void link_model(const char *src, const char *model, const char *dir, const char *const *files)
{
    char from[4096], to[4096];
    for (int i = 0; files[i]; i++) {
        snprintf(from, sizeof from, "%s/models/%s/%s", src, model, files[i]);
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        if (symlink(from, to) != 0) {
            perror(to);
            abort();
        }
    }
}

static void cleanup(void)
{
    char p[4200];
    for (int i = 0; i < 2; i++) {
        static const char *const names[] = { "config.json", "out.xml", "model.safetensors", "vocab.json",
                                              "merges.txt", "vocab.txt", "tokenizer_config.json", NULL };
        for (int k = 0; names[k]; k++) {
            snprintf(p, sizeof p, "%s/%s", dirs[i], names[k]);
            unlink(p);
        }
        rmdir(dirs[i]);
    }
}

static void setup(void)
{
    const char *src = getenv("KILN_SOURCE") ? getenv("KILN_SOURCE") : KILN_SOURCE_DIR;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    static const char *const gpt2[] = { "model.safetensors", "vocab.json", "merges.txt", NULL };
    static const char *const bert[] = { "model.safetensors", "vocab.txt", "tokenizer_config.json", NULL };
    for (int i = 0; i < 2; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/kiln-fuzz-config-XXXXXX", tmp);
        if (!mkdtemp(dirs[i])) {
            perror(dirs[i]);
            abort();
        }
        snprintf(outs[i], sizeof outs[i], "%s/out.xml", dirs[i]);
        link_model(src, i ? "bert-tiny" : "tiny", dirs[i], i ? bert : gpt2);
    }
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size == 0) return 0;
    int which = data[0] & 1;
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s/config.json", dirs[which]);
    FILE *f = fopen(cfg, "wb");
    if (!f || fwrite(data + 1, 1, size - 1, f) != size - 1 || fclose(f) != 0) abort();
    unlink(outs[which]);
    Diag d;
    diag_init(&d);
    d.quiet = 1;
    int rc = fe_import_hf(&d, dirs[which], NULL, outs[which]);
    if ((rc == 0) != (d.n_errors == 0)) {
        fprintf(stderr, "fuzz_config: broken promise: failure if and only if errors were reported\n");
        abort();
    }
    diag_free(&d);
    return 0;
}
