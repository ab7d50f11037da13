/* pipeline.c — the order of optimization, read top to bottom, and the one loop that runs it.
 *
 * Printing, stopping, disabling, timing and verifying happen here, never inside a pass.
 * IR printed before or after a pass is the .kir text form, valid input to `kiln compile`,
 * so `--stop-after=P` gives a module to continue from. */
#include "passes/passes.h"
#include "support/diag.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

const Pass pass_pipeline[] = {
    { "fold-layout", pass_fold_layout, "drop reshapes, transposes, slices and repeats that do nothing; join chains of them" },
    { "dce", pass_dce, "remove nodes that no output, state write or input needs" },
    { "cse", pass_cse, "merge nodes with the same op, inputs, attributes and type" },
    { "pack-weights", pass_pack_weights, "read [in, out] weights of matmuls transposed, as [out, in] (tb=1)" },
    { "fuse-attention", pass_fuse_attention, "q·kᵀ, scale, mask, softmax and ·v into one attention kernel" },
    { "fuse-norm", pass_fuse_norm, "a residual add and the layernorm or rmsnorm of its sum into one kernel giving both" },
    { "fuse-epilogue", pass_fuse_epilogue, "bias, activation, gating and residual add into the matmul that feeds them" },
    { "merge-qkv", pass_merge_qkv, "projections of one input (Q, K, V) into one product by their concatenated weights" },
    { "dce-late", pass_dce, "remove what cse and pack-weights left unused, weights included" },
};
const int pass_count = (int)(sizeof pass_pipeline / sizeof pass_pipeline[0]);

const Pass *pass_find(const char *name)
{
    for (int i = 0; i < pass_count; i++)
        if (!strcmp(pass_pipeline[i].name, name)) return &pass_pipeline[i];
    return NULL;
}

/* Whether name is in the comma-separated list. */
static int listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return 1;
        p = e ? e + 1 : p + len;
    }
    return 0;
}

/* Every name of a list must be a pass ("all" allowed where said). */
static int check_list(const char *list, const char *option, int allow_all, Diag *d)
{
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), p);
        if (!pass_find(name) && !(allow_all && !strcmp(name, "all"))) {
            char known[512] = "";
            size_t k = 0;
            for (int i = 0; i < pass_count; i++)
                k += (size_t)snprintf(known + k, k < sizeof known ? sizeof known - k : 0, "%s%s", i ? ", " : "",
                                      pass_pipeline[i].name);
            Suggest near = suggest_start(name);
            for (int i = 0; i < pass_count; i++) suggest_try(&near, pass_pipeline[i].name);
            if (near.best)
                diag_error(d, loc_make(0, 0, 0), "%s: unknown pass '%s'; did you mean '%s'? (passes: %s)", option,
                           name, near.best, known);
            else diag_error(d, loc_make(0, 0, 0), "%s: unknown pass '%s' (passes: %s)", option, name, known);
            return -1;
        }
        p = e ? e + 1 : p + len;
    }
    return 0;
}

static int print_module(const Module *m, const PassOptions *o, int index, const char *when, const char *pass, Diag *d)
{
    if (!o->print_dir) {
        fprintf(stderr, "# ---- IR %s %s\n", when, pass);
        ir_print(m, stderr, ".");
        return 0;
    }
    if (mkdir(o->print_dir, 0777) != 0 && errno != EEXIST) {
        diag_file_error(d, o->print_dir, "cannot make the folder: %s", strerror(errno));
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%02d-%s-%s.kir", o->print_dir, index, when, pass);
    FILE *f = fopen(path, "w");
    if (!f) {
        diag_file_error(d, path, "cannot write: %s", strerror(errno));
        return -1;
    }
    ir_print(m, f, o->print_dir);
    fclose(f);
    return 0;
}

static int write_dot(const Module *m, const char *path, Diag *d)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        diag_file_error(d, path, "cannot write: %s", strerror(errno));
        return -1;
    }
    ir_print_dot(m, f);
    if (fclose(f) != 0) {
        diag_file_error(d, path, "cannot write: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int count_nodes(const Module *m)
{
    int n = 0;
    for (int i = 0; i < m->n_graphs; i++) n += m->graphs[i]->n_nodes;
    return n;
}

int passes_run(Module *m, const PassOptions *o, Diag *d, int *stopped)
{
    *stopped = 0;
    if (check_list(o->only, "--passes", 0, d) || check_list(o->disabled, "--disable-pass", 0, d) ||
        check_list(o->print_before, "--print-before", 1, d) || check_list(o->print_after, "--print-after", 1, d) ||
        check_list(o->stop_after, "--stop-after", 0, d) || check_list(o->dot_after, "--dot-after", 0, d))
        return -1;
    for (int i = 0; i < pass_count; i++) {
        const Pass *p = &pass_pipeline[i];
        int run = (!o->only || listed(o->only, p->name)) && !listed(o->disabled, p->name);
        if (run) {
            if (o->print_before && (listed(o->print_before, p->name) || !strcmp(o->print_before, "all")) &&
                print_module(m, o, i, "before", p->name, d))
                return -1;
            int before = count_nodes(m);
            double t = clock_seconds();
            PassCtx c = { m, d, o->report };
            int changed = p->run(&c);
            if (changed < 0) return -1;
            if (o->time_passes)
                fprintf(stderr, "kiln: pass %-16s %8.3f ms  %d changes, %d -> %d nodes\n", p->name, 1e3 * (clock_seconds() - t),
                        changed, before, count_nodes(m));
            if (o->verify) {
                int errs = d->n_errors;
                if (ir_verify(m, d))
                    kiln_internal(__FILE__, __LINE__, "the IR does not verify after pass '%s' (%d errors above)", p->name,
                                  d->n_errors - errs);
            }
            if (o->print_after && (listed(o->print_after, p->name) || !strcmp(o->print_after, "all")) &&
                print_module(m, o, i, "after", p->name, d))
                return -1;
        }
        if (o->dot && o->dot_after && listed(o->dot_after, p->name) && write_dot(m, o->dot, d)) return -1;
        if (o->stop_after && listed(o->stop_after, p->name)) {
            *stopped = 1;
            break;
        }
    }
    if (o->dot && !o->dot_after && write_dot(m, o->dot, d)) return -1;
    return 0;
}
