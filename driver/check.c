/* check.c — `kiln check MODEL`: load and verify everything, then summarize.
 *
 * The summary is what a user wants to know before compiling: parameters and their bytes,
 * layers, the graphs and their sizes, state memory at the dims' maxima, the tokenizer. */
#include "driver.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/runtime.h"

static const char help[] =
    "usage: kiln check MODEL\n"
    "\n"
    "Reads MODEL (.xml or .kir), validates it against the model format, opens its weight files\n"
    "and checks every tensor's name, dtype and shape, reads the tokenizer files, infers every\n"
    "node's shape and runs the IR verifier. Prints a summary, or the errors with file:line:col.\n"
    "Exit status 1 on errors.\n";

static void human(double bytes, char *buf, size_t cap)
{
    const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;
    while (bytes >= 1024 && u < 4) bytes /= 1024, u++;
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
}

int cmd_check(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help, stdout);
            return 0;
        }
        if (argv[i][0] == '-') return usage_error("check", "unknown option '%s'", argv[i]);
        if (path) return usage_error("check", "one model at a time ('%s' and '%s')", path, argv[i]);
        path = argv[i];
    }
    if (!path) return usage_error("check", "no model given");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: error: is a directory; a Hugging Face folder is described first with:\n"
                        "  kiln import %s -o model.xml\n", path, path);
        return 1;
    }
    Arena a = { 0 };
    Diag d;
    diag_init(&d);
    Module *m = fe_load(&a, &d, path, 0);
    int rc = 1;
    void *blob = NULL;
    size_t blob_size = 0;
    if (m && fe_model_tokenizer(m, &d, &blob, &blob_size)) {
        fe_release(m);
        m = NULL;
    }
    if (m) {
        int64_t params = 0;
        double bytes = 0;
        for (int i = 0; i < m->n_weights; i++) {
            int64_t n = shape_numel_const(&m->weights[i].shape);
            params += n;
            bytes += (double)n * dtype_size(m->weights[i].dtype);
        }
        double state_bytes = 0;
        int absurd = 0;
        for (int i = 0; i < m->n_states; i++) {
            int64_t n = shape_numel_at_bounds(m, &m->states[i].shape);
            absurd |= n < 0;
            state_bytes += (double)n * dtype_size(m->states[i].dtype);
        }
        char b1[32], b2[32];
        human(bytes, b1, sizeof b1);
        human(state_bytes, b2, sizeof b2);
        if (absurd) snprintf(b2, sizeof b2, "over 2^40 elements");
        printf("%s: ok\n", path);
        printf("  model       %s%s%s%s\n", m->name, m->family ? " (" : "", m->family ? m->family : "", m->family ? ")" : "");
        printf("  parameters  %lld in %d tensors, %s\n", (long long)params, m->n_weights, b1);
        const char *layers = ir_module_param(m, "n_layer");
        if (layers) printf("  layers      %s\n", layers);
        for (int i = 0; i < m->n_graphs; i++) {
            const Graph *g = m->graphs[i];
            printf("  graph       %s: %d nodes, %d inputs (", g->name, g->n_nodes, g->n_inputs);
            for (int k = 0; k < g->n_inputs; k++) {
                char s[256];
                ir_shape_str(m, &g->inputs[k]->shape, s, sizeof s);
                printf("%s%s %s%s", k ? ", " : "", g->inputs[k]->name, dtype_name(g->inputs[k]->dtype), s);
            }
            printf("), %d outputs (", g->n_outputs);
            for (int k = 0; k < g->n_outputs; k++) {
                char s[256];
                ir_shape_str(m, &g->outputs[k].node->shape, s, sizeof s);
                printf("%s%s %s", k ? ", " : "", g->outputs[k].name, s);
            }
            printf(")\n");
        }
        printf("  dims       ");
        for (int i = 1; i <= m->n_syms; i++) printf(" %s<=%lld", m->syms[i].name, (long long)m->syms[i].max);
        printf("\n  states      %d, %s at the dims' maxima\n", m->n_states, b2);
        if (m->tokenizer.kind) {
            printf("  tokenizer   %s:", m->tokenizer.kind);
            for (int i = 0; i < m->tokenizer.n_files; i++) printf(" %s", m->tokenizer.files[i]);
            RtTokenizer tok;
            if (blob && rt_tok_open(blob, blob_size, &tok) == RT_TOK_OK)
                printf(" (%u tokens, %u merges, table %zu bytes)", tok.n_tokens, tok.n_merges, blob_size);
            printf("\n");
        }
        rc = 0;
        fe_release(m);
    }
    free(blob);
    if (d.n_errors) fprintf(stderr, "%d error%s\n", d.n_errors, d.n_errors == 1 ? "" : "s");
    arena_free(&a);
    diag_free(&d);
    return rc;
}
