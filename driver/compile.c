/* compile.c — `kiln compile MODEL -o OUT`: the executable, or the IR text, LLVM IR,
 * assembly or object. `-o` names the first kind asked for; other kinds go beside it. */
#include "driver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "driver/progress.h"
#include "passes/passes.h"
#include "runtime/tokenizer.h"

static const char help[] =
    "usage: kiln compile MODEL -o OUT [options]\n"
    "\n"
    "  -o OUT             the artifact to write (the executable unless --emit says otherwise)\n"
    "  --emit=KINDS       comma-separated: exe (default), ir (.kir text, docs/ir.md), llvm (.ll),\n"
    "                     asm (.s), obj (.o); -o names the first, the others go beside it\n"
    "                     (an object refers to kiln_weights and kiln_tokenizer, which the\n"
    "                     executable's link adds from the blobs)\n"
    "  --target TRIPLE    x86_64-linux-gnu or aarch64-linux-gnu (default: this machine)\n"
    "  --cpu NAME         CPU to tune for: native (default for this machine), x86-64, x86-64-v3,\n"
    "                     x86-64-v4, znver4, neoverse-n1, ... (default elsewhere: the baseline)\n"
    "  --features LIST    extra target features, e.g. -avx512f\n"
    "  --list-targets     the targets kiln compiles for, with their linker and runtime\n"
    "  --list-cpus        the CPU names --cpu accepts for the target (--target, default this\n"
    "                     machine's) and the vector instructions each gives the kernels\n"
    "  --no-weights       with --emit=ir only: read the model without opening its weight files\n"
    "                     (dtypes and shapes as the model declares them), to look at the\n"
    "                     passes' work before downloading the weights\n"
    "  -O0 .. -O3         LLVM optimization level (default -O3)\n"
    "  --weights=MODE     embedded (default: one standalone file) or external (OUT.weights,\n"
    "                     mapped at start-up)\n"
    "  --static           link the C library statically: the executable runs on any Linux\n"
    "                     of its architecture, whatever its C library (a few MB larger)\n"
    "  -g                 debug information: perf, gdb and addr2line show the model file's\n"
    "                     line of each kernel and of each call in forward (docs/debugging.md)\n"
    "  --selftest         embed a short input (the tokenizer's encoding of a fixed sentence, or\n"
    "                     ids 0..7) and the reference interpreter's logits for it, computed\n"
    "                     now on the model as read (no pass), for `OUT --selftest`\n"
    "  -v                 print each phase's time; -q prints nothing but errors\n"
    "                     (on a terminal, a progress line shows the phase and the kernels\n"
    "                     and bytes done; it is erased at the end)\n"
    "passes (the order: kiln compile --list-passes):\n"
    "  --passes=P,Q       run only these passes\n"
    "  --disable-pass=P   skip pass P (a comma list is fine)\n"
    "  --print-before=P   print the IR before pass P (or all) to standard error\n"
    "  --print-after=P    print the IR after pass P (or all)\n"
    "  --print-dir=DIR    print into DIR/NN-before|after-P.kir instead\n"
    "  --stop-after=P     stop after pass P and write the IR to OUT (valid input again)\n"
    "  --time-passes      each pass's time and the nodes it changed\n"
    "  --dot=FILE         write the graph in Graphviz form where the pipeline ends (or\n"
    "                     --dot-after=P: after pass P); fused kernels are filled boxes\n"
    "  --fusion-report[=FILE]  per fusion, sites fused out of candidates, and why each other\n"
    "                     candidate was not (with its file:line); to standard error or FILE\n";

/* "exe,asm" → mask; the first kind in *first. */
static int parse_emit(const char *s, unsigned *mask, int *want_ir, unsigned *first)
{
    static const struct { const char *name; unsigned bit; } kinds[] = {
        { "exe", EMIT_EXE }, { "obj", EMIT_OBJ }, { "asm", EMIT_ASM }, { "llvm", EMIT_LLVM }, { "ir", 0 },
    };
    *mask = 0;
    *want_ir = 0;
    *first = ~0u;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        size_t k = 0;
        while (k < sizeof kinds / sizeof kinds[0] && !(strlen(kinds[k].name) == n && !strncmp(kinds[k].name, s, n))) k++;
        if (k == sizeof kinds / sizeof kinds[0])
            return usage_error("compile", "unknown --emit kind '%.*s' (exe, ir, llvm, asm, obj)", (int)n, s);
        if (*first == ~0u) *first = kinds[k].bit;
        if (kinds[k].bit) *mask |= kinds[k].bit;
        else *want_ir = 1;
        s += n + (e ? 1 : 0);
    }
    if (!*mask && !*want_ir) return usage_error("compile", "--emit needs at least one kind");
    return 0;
}

static int write_ir(Module *m, const char *out, Arena *a, Diag *d)
{
    FILE *f = strcmp(out, "-") ? fopen(out, "w") : stdout;
    if (!f) {
        diag_file_error(d, out, "cannot write: %s", strerror(errno));
        return -1;
    }
    ir_print(m, f, strcmp(out, "-") ? path_dirname(a, out) : ".");
    if (f == stdout) return fflush(f) == 0 ? 0 : -1;
    if (fclose(f) != 0) {
        diag_file_error(d, out, "cannot write: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int write_report(const Module *m, const FusionReport *r, const char *to, Diag *d)
{
    FILE *f = strcmp(to, "-") ? fopen(to, "w") : stderr;
    if (!f) {
        diag_file_error(d, to, "cannot write: %s", strerror(errno));
        return -1;
    }
    fusion_report_print(m, r, f);
    if (f != stderr && fclose(f) != 0) {
        diag_file_error(d, to, "cannot write: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* --selftest: what OUT --selftest checks (runtime/selftest.h). The input is the tokenizer's
 * prompt for SELFTEST_TEXT (its start token included when it adds one), or ids 0..7 modulo
 * the vocabulary without a tokenizer, cut to SELFTEST_MAX tokens and to the bound of seq (one
 * forward call; an encoder's token types are 0 and its tokens all valid). The reference
 * interpreter runs it on m as read, before any pass, so the
 * executable's fused kernels are checked against the plain graph. perturb (the hidden option
 * --selftest-perturb=X, for tests) is added to one stored logit, the middle one of the last
 * position, to show that a wrong expectation fails. */
#define SELFTEST_TEXT "The quick brown fox jumps over the lazy dog."
#define SELFTEST_MAX 16

static int selftest_reference(Module *m, BackendOptions *o, const void *blob, size_t blob_size, double perturb,
                              Diag *d)
{
    const Graph *g = m->n_graphs == 1 ? m->graphs[0] : ir_module_graph(m, "forward");
    int s_seq = ir_module_sym(m, "seq"), s_past = ir_module_sym(m, "past"), li = -1;
    for (int i = 0; g && i < g->n_outputs; i++)
        if (!strcmp(g->outputs[i].name, "logits")) li = i;
    int known = g && g->n_inputs >= 1 && g->n_inputs <= 3;
    for (int i = 0; known && i < g->n_inputs; i++) {
        const char *name = g->inputs[i]->name;
        known = !strcmp(name, "tokens") || !strcmp(name, "token_types") || !strcmp(name, "valid");
    }
    if (!g || li < 0 || !known || !s_seq || g->outputs[li].node->shape.rank != 3 ||
        !dim_is_const(g->outputs[li].node->shape.d[2])) {
        diag_error(d, m->loc, "--selftest: the model needs a graph 'forward' from tokens (and, for encoders, "
                   "token_types and valid) to logits (batch, seq, vocab)");
        return -1;
    }
    int64_t vocab = g->outputs[li].node->shape.d[2].k, most = m->syms[s_seq].max;
    if (s_past && m->syms[s_past].max < most) most = m->syms[s_past].max;
    if (most > SELFTEST_MAX) most = SELFTEST_MAX;
    int32_t *ids = xmalloc(SELFTEST_MAX * sizeof *ids);
    long n = 0;
    RtTokenizer tok;
    if (blob && rt_tok_open(blob, blob_size, &tok) == RT_TOK_OK) {
        size_t len = strlen(SELFTEST_TEXT), cap = rt_tok_prompt_cap(&tok, len);
        ids = xrealloc(ids, cap * sizeof *ids);
        n = rt_tok_prompt(&tok, SELFTEST_TEXT, len, ids, cap, NULL);
    }
    if (n <= 0)
        for (n = 0; n < 8; n++) ids[n] = (int32_t)(n % vocab);
    if (n > most) n = most;
    for (long i = 0; i < n; i++) ids[i] = (int32_t)(ids[i] % vocab);    /* a tokenizer larger than the model */
    Interp *in = interp_new(m, d);
    if (!in) {
        free(ids);
        return -1;
    }
    /* tokens the ids; an encoder's token types all 0 and every token valid */
    int32_t *zeros = xcalloc((size_t)n, sizeof *zeros), *ones = xmalloc((size_t)n * sizeof *ones);
    for (long i = 0; i < n; i++) ones[i] = 1;
    Tensor x[3], out[16] = { { 0 } };
    for (int i = 0; i < g->n_inputs; i++) {
        const char *name = g->inputs[i]->name;
        x[i] = (Tensor){ DT_I32, 2, { 1, n }, !strcmp(name, "tokens") ? ids : !strcmp(name, "valid") ? ones : zeros };
    }
    int rc = g->n_outputs > 16 || interp_run(in, g, x, out) ? -1 : 0;
    free(zeros);
    free(ones);
    interp_free(in);
    if (rc == 0 && (out[li].rank != 3 || out[li].dim[1] != n || out[li].dim[2] != vocab)) {
        diag_error(d, m->loc, "--selftest: the interpreter's logits have an unexpected shape");
        rc = -1;
    }
    if (rc == 0) {
        float *logits = xmalloc((size_t)(n * vocab) * sizeof *logits);
        memcpy(logits, out[li].data, (size_t)(n * vocab) * sizeof *logits);
        logits[(n - 1) * vocab + vocab / 2] += (float)perturb;
        o->selftest_n = n;
        o->selftest_tokens = ids;
        o->selftest_logits = logits;
        ids = NULL;
    }
    for (int i = 0; i < g->n_outputs && i < 16; i++) tensor_free(&out[i]);
    free(ids);
    return rc;
}

int cmd_compile(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *emit = "exe", *v;
    BackendOptions o = { 0 };
    PassOptions po = { 0 };
#ifndef NDEBUG
    po.verify = 1;          /* the verifier after every pass, in every build but release */
#endif
    o.opt_level = 3;
    o.eos_id = -1;
    int quiet = 0;
    int no_weights = 0;
    int selftest = 0;                   /* --selftest */
    double selftest_perturb = 0;        /* hidden: --selftest-perturb=X (tests) */
    const char *report_to = NULL;       /* "-": standard error */
    int list_cpus = 0, list_targets = 0;
    FusionReport report = { 0 };
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return 0;
        }
        if (!strcmp(a, "--list-passes")) {
            for (int k = 0; k < pass_count; k++) printf("%-16s %s\n", pass_pipeline[k].name, pass_pipeline[k].doc);
            return 0;
        }
        if ((v = opt_value(argc, argv, &i, "-o"))) out = v;
        else if ((v = opt_value(argc, argv, &i, "--passes"))) po.only = v;
        else if ((v = opt_value(argc, argv, &i, "--disable-pass"))) po.disabled = v;
        else if ((v = opt_value(argc, argv, &i, "--print-before"))) po.print_before = v;
        else if ((v = opt_value(argc, argv, &i, "--print-after"))) po.print_after = v;
        else if ((v = opt_value(argc, argv, &i, "--print-dir"))) po.print_dir = v;
        else if ((v = opt_value(argc, argv, &i, "--stop-after"))) po.stop_after = v;
        else if (!strcmp(a, "--time-passes")) po.time_passes = 1;
        else if ((v = opt_value(argc, argv, &i, "--dot"))) po.dot = v;
        else if ((v = opt_value(argc, argv, &i, "--dot-after"))) po.dot_after = v;
        else if (!strcmp(a, "--fusion-report")) report_to = "-";
        else if (!strncmp(a, "--fusion-report=", 16) && a[16]) report_to = a + 16;
        else if ((v = opt_value(argc, argv, &i, "--emit"))) emit = v;
        else if ((v = opt_value(argc, argv, &i, "--target"))) o.triple = v;
        else if ((v = opt_value(argc, argv, &i, "--cpu"))) o.cpu = v;
        else if ((v = opt_value(argc, argv, &i, "--features"))) o.features = v;
        else if ((v = opt_value(argc, argv, &i, "--weights"))) {
            if (!strcmp(v, "external")) o.weights_external = 1;
            else if (strcmp(v, "embedded")) return usage_error("compile", "--weights must be embedded or external, not '%s'", v);
        } else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) o.opt_level = a[2] - '0';
        else if (!strcmp(a, "--no-weights")) no_weights = 1;
        else if (!strcmp(a, "-v")) o.verbose = 1;
        else if (!strcmp(a, "-g")) o.debug_info = 1;
        else if (!strcmp(a, "--static")) o.is_static = 1;
        else if (!strcmp(a, "--list-cpus")) list_cpus = 1;
        else if (!strcmp(a, "--list-targets")) list_targets = 1;
        else if (!strcmp(a, "--selftest")) selftest = 1;
        else if ((v = opt_value(argc, argv, &i, "--selftest-perturb"))) {
            if (opt_float("compile", "--selftest-perturb", v, -1e30, 1e30, &selftest_perturb)) return 2;
        }
        else if (!strcmp(a, "-q")) quiet = 1;
        else if (a[0] == '-' && a[1]) return usage_error("compile", "unknown or incomplete option '%s'", a);
        else if (path) return usage_error("compile", "one model at a time ('%s' and '%s')", path, a);
        else path = a;
    }
    if (list_targets || list_cpus) {
        if (list_targets) backend_list_targets(o.runtime_dir, stdout);
        if (list_cpus && backend_list_cpus(o.triple, stdout))
            return usage_error("compile", "--target %s: kiln targets x86_64-linux-gnu and aarch64-linux-gnu", o.triple);
        return 0;
    }
    if (!path) return usage_error("compile", "no model given");
    if (po.dot_after && !po.dot) return usage_error("compile", "--dot-after needs --dot=FILE");
    if (!out) return usage_error("compile", "no output given (-o OUT)");
    unsigned first;
    int want_ir;
    if (parse_emit(emit, &o.emit, &want_ir, &first)) return 2;
    if (o.is_static && !(o.emit & EMIT_EXE))
        return usage_error("compile", "--static is about linking the executable: it needs --emit=exe");
    if (selftest && !(o.emit & EMIT_EXE))
        return usage_error("compile", "--selftest embeds its data in the executable: it needs --emit=exe");
    if (selftest_perturb != 0 && !selftest) return usage_error("compile", "--selftest-perturb needs --selftest");
    if (no_weights && o.emit) return usage_error("compile", "--no-weights is for --emit=ir only (the executable needs the weights)");
    if (o.triple && strncmp(o.triple, "x86_64", 6) && strncmp(o.triple, "aarch64", 7))
        return usage_error("compile", "unknown target '%s' (x86_64-linux-gnu or aarch64-linux-gnu)", o.triple);

    Arena a = { 0 };
    Diag d;
    diag_init(&d);
    int rc = 1;
    void *tok = NULL;
    double t0 = clock_seconds();
    Progress progress;      /* -v prints phase times instead */
    progress_init(&progress, stderr, !quiet && !o.verbose);
    o.progress = progress_update;
    o.progress_ctx = &progress;
    progress_hold(&progress, &d.out);
    progress_phase(&progress, "read");
    Module *m = fe_load(&a, &d, path, no_weights ? FE_NO_WEIGHTS : 0);
    if (!m) goto out;
    if (o.verbose) fprintf(stderr, "kiln: %-22s %8.3f s\n", "frontend", clock_seconds() - t0);
    if (selftest) {
        t0 = clock_seconds();
        /* the tokenizer the executable embeds (built once: below only when still missing) */
        if (fe_model_tokenizer(m, &d, &tok, &o.tokenizer_bytes)) goto out;
        if (selftest_reference(m, &o, tok, o.tokenizer_bytes, selftest_perturb, &d)) goto out;
        if (o.verbose) fprintf(stderr, "kiln: %-22s %8.3f s\n", "selftest (interpreter)", clock_seconds() - t0);
    }
    t0 = clock_seconds();
    int stopped;
    if (report_to) po.report = &report;
    progress_phase(&progress, "passes");
    if (passes_run(m, &po, &d, &stopped)) goto out;
    if (report_to && write_report(m, &report, report_to, &d)) goto out;
    if (o.verbose) fprintf(stderr, "kiln: %-22s %8.3f s\n", "passes", clock_seconds() - t0);
    if (stopped) {          /* the IR at that point is the artifact */
        rc = write_ir(m, out, &a, &d) ? 1 : 0;
        goto out;
    }
    /* -o names the first kind; ir beside it is OUT.kir */
    if (want_ir) {
        const char *ir_out = first == 0 ? out : arena_printf(&a, "%s.kir", out);
        if (write_ir(m, ir_out, &a, &d)) goto out;
    }
    if (o.emit) {
        if (first == 0) {       /* -o named the .kir: the executable is OUT without .kir */
            size_t n = strlen(out);
            o.out = n > 4 && !strcmp(out + n - 4, ".kir") ? arena_strndup(&a, out, n - 4) : arena_printf(&a, "%s.exe", out);
        } else {
            o.out = out;
        }
        if ((o.emit & EMIT_EXE) && !tok && fe_model_tokenizer(m, &d, &tok, &o.tokenizer_bytes)) goto out;
        o.tokenizer = tok;
        if (backend_compile(m, &o, &d)) goto out;
        progress_end(&progress);
        /* on a terminal or with -v only: a successful build in a script prints nothing */
        if ((progress.out || o.verbose) && (o.emit & EMIT_EXE)) fprintf(stderr, "wrote %s\n", o.out);
    }
    rc = 0;
out:
    progress_free(&progress);
    d.out = stderr;
    fusion_report_free(&report);
    free((void *)o.selftest_tokens);
    free((void *)o.selftest_logits);
    if (m) fe_release(m);
    free(tok);
    arena_free(&a);
    diag_free(&d);
    return rc;
}
