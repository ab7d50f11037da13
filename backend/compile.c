/* compile.c — backend_compile: the steps from a checked module to the requested files.
 *
 *   plan memory → weights blob → kernels, forward and forward_profiled (LLVM) → verify,
 *   optimize → object, assembly, LLVM IR as asked → blobs stub (weights, tokenizer,
 *   selftest logits) → link with the target's runtime.
 * Intermediate files live in a private temporary folder removed at the end; what the user
 * asked for goes where -o says, extra kinds beside it (gpt2 → gpt2.s, gpt2.ll). With -v,
 * each phase's time goes to standard error. */
#include "backend/codegen_impl.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void phase(const BackendOptions *o, const char *what, double *t)
{
    double t1 = clock_seconds();
    if (o->verbose) fprintf(stderr, "kiln: %-22s %8.3f s\n", what, t1 - *t);
    *t = t1;
}

/* out without a known extension, then ext: gpt2 + ".s", model.o → model.ll */
static char *beside(Arena *a, const char *out, const char *ext)
{
    const char *slash = strrchr(out, '/'), *dot = strrchr(out, '.');
    size_t n = strlen(out);
    if (dot && (!slash || dot > slash) &&
        (!strcmp(dot, ".o") || !strcmp(dot, ".s") || !strcmp(dot, ".ll") || !strcmp(dot, ".exe")))
        n = (size_t)(dot - out);
    return arena_printf(a, "%.*s%s", (int)n, out, ext);
}

/* Removes dir and what kiln put in it (files, and folders of files). */
static void remove_tree(const char *dir)
{
    DIR *dh = opendir(dir);
    if (!dh) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(dh))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0) remove_tree(path);
    }
    closedir(dh);
    rmdir(dir);
}

int backend_compile(Module *m, const BackendOptions *o, Diag *d)
{
    Arena a = { 0 };
    Cg cg = { 0 };
    MemPlan plan = { 0 }, enc_plan = { 0 };
    KernelSites sites = { 0 };
    uint64_t *woff = NULL;
    int rc = -1;
    double t = clock_seconds();
    const char *tmpdir = getenv("TMPDIR");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/kiln-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(tmp)) {
        diag_error(d, loc_make(0, 0, 0), "cannot make a temporary folder in %s: %s", tmpdir && *tmpdir ? tmpdir : "/tmp",
                   strerror(errno));
        return -1;
    }
    ExeGraph x;
    if (cg_forward_graph(m, d, &x)) goto out;
    const Graph *g = x.g;
    if (pass_plan_memory(m, g, &plan, d) || (x.encode && pass_plan_memory(m, x.encode, &enc_plan, d))) goto out;
    phase(o, "memory plan", &t);

    /* weights */
    ModelFacts facts = { 0 };
    facts.name = m->name ? m->name : "model";
    facts.vocab = x.vocab;
    int s_seq = ir_module_sym(m, "seq"), s_past = ir_module_sym(m, "past");
    facts.max_seq = m->syms[s_seq].max;
    facts.max_positions = s_past ? m->syms[s_past].max : facts.max_seq;
    facts.eos_id = o->eos_id >= 0 ? o->eos_id : -1;
    int64_t eos;
    if (ir_module_eos(m, facts.vocab, &eos)) {
        diag_error(d, m->loc, "parameter eos = \"%s\" is not a token id below the vocabulary size %lld",
                   ir_module_param(m, "eos"), (long long)facts.vocab);
        goto out;
    }
    if (eos >= 0) facts.eos_id = eos;
    if (ir_module_token(m, "bos", facts.vocab, &facts.bos_id)) {
        diag_error(d, m->loc, "parameter bos = \"%s\" is not a token id below the vocabulary size %lld",
                   ir_module_param(m, "bos"), (long long)facts.vocab);
        goto out;
    }
    /* one arena for every graph: the states lie at the same offsets in each plan */
    facts.arena_bytes = plan.arena_bytes > enc_plan.arena_bytes ? plan.arena_bytes : enc_plan.arena_bytes;
    facts.weights_embedded = !o->weights_external;
    woff = xcalloc((size_t)m->n_weights + 1, sizeof *woff);
    const char *wpath = o->weights_external ? beside(&a, o->out, ".weights") : arena_printf(&a, "%s/weights.bin", tmp);
    if (o->progress) o->progress(o->progress_ctx, "weights", 0, 0);
    if (o->emit & EMIT_EXE || o->weights_external) {
        if (blob_write_weights(m, wpath, woff, &facts.weights_bytes, &facts.weights_check, &facts.weights_hash, o, d))
            goto out;
    } else {
        /* no executable: the offsets are all the object needs */
        uint64_t pos = 0;
        for (int i = 0; i < m->n_weights; i++) {
            pos = (pos + 63) / 64 * 64;
            woff[i] = pos;
            pos += (uint64_t)shape_numel_const(&m->weights[i].shape) * 4;
        }
        facts.weights_bytes = pos;
    }
    facts.tokenizer_bytes = o->tokenizer ? o->tokenizer_bytes : 0;
    if (o->progress) o->progress(o->progress_ctx, "weights", facts.weights_bytes, facts.weights_bytes);
    phase(o, "weights", &t);

    /* code */
    if (cg_init(&cg, m, o, d)) goto out;
    cg.capture = o->capture;
    cg_emit_kernels(&cg, g, o, &sites);     /* forward finds them made */
    if (x.encode) cg_emit_kernels(&cg, x.encode, o, &sites);
    LLVMValueRef fwd = cg_emit_forward(&cg, g, &plan, woff, 0, "kiln_forward");
    LLVMValueRef fwd_profiled = cg_emit_forward(&cg, g, &plan, woff, 1, "kiln_forward_profiled");
    LLVMValueRef enc = x.encode ? cg_emit_forward(&cg, x.encode, &enc_plan, woff, 0, "kiln_encode") : NULL;
    facts.selftest_n = o->selftest_n;
    facts.selftest_tokens = o->selftest_tokens;
    cg_emit_model_record(&cg, fwd, fwd_profiled, enc, &x, &plan, &facts);
    if (o->debug_info) cg_debug_info(&cg, g, &sites, (LLVMValueRef[]){ fwd, fwd_profiled }, 2);
    /* kernels are the module's own: internal, so LLVM may inline and specialize them */
    for (LLVMValueRef f = LLVMGetFirstFunction(cg.mod); f; f = LLVMGetNextFunction(f)) {
        size_t len;
        const char *name = LLVMGetValueName2(f, &len);
        if (len > 2 && !strncmp(name, "k.", 2) && !LLVMIsDeclaration(f)) LLVMSetLinkage(f, LLVMInternalLinkage);
    }
    phase(o, "kernels and forward", &t);
    if (o->progress) o->progress(o->progress_ctx, "optimize", 0, 1);
    if (cg_optimize(&cg, o->opt_level, d)) goto out;
    phase(o, "LLVM optimization", &t);
    const char *obj = (o->emit & EMIT_OBJ) ? (o->emit == EMIT_OBJ ? o->out : beside(&a, o->out, ".o"))
                                           : arena_printf(&a, "%s/model.o", tmp);
    if (o->progress) o->progress(o->progress_ctx, "codegen", 0, 1);
    if ((o->emit & (EMIT_OBJ | EMIT_EXE)) && cg_write(&cg, LLVMObjectFile, obj, d)) goto out;
    if (o->emit & EMIT_ASM) {
        const char *s = o->emit == EMIT_ASM ? o->out : beside(&a, o->out, ".s");
        if (cg_write(&cg, LLVMAssemblyFile, s, d) || cg_annotate_asm(&cg, &sites, s, d)) goto out;
    }
    if (o->emit & EMIT_LLVM) cg_annotate_ir(&cg, &sites);
    if ((o->emit & EMIT_LLVM) && cg_write_ir(&cg, o->emit == EMIT_LLVM ? o->out : beside(&a, o->out, ".ll"), d))
        goto out;
    phase(o, "code generation", &t);

    if (o->emit & EMIT_EXE) {
        const char *tok = NULL;
        if (o->tokenizer) {
            tok = arena_printf(&a, "%s/tokenizer.bin", tmp);
            if (file_write_all(d, tok, o->tokenizer, o->tokenizer_bytes)) goto out;
        }
        const char *selftest = NULL;
        if (o->selftest_n > 0) {
            selftest = arena_printf(&a, "%s/selftest.bin", tmp);
            if (file_write_all(d, selftest, o->selftest_logits, (size_t)(o->selftest_n * facts.vocab) * sizeof(float)))
                goto out;
        }
        const char *stub = arena_printf(&a, "%s/blobs.S", tmp);
        if (blob_write_stub(stub, o->weights_external ? NULL : wpath, tok, selftest, cg.triple, d)) goto out;
        char found[4096];
        const char *why = "from the options";
        const char *runtime_dir = o->runtime_dir ? o->runtime_dir : runtime_dir_find(found, sizeof found, &why);
        if (o->verbose)     /* the archive link.c takes: libkiln_rt-<triple's first part>.a */
            fprintf(stderr, "kiln: runtime library   %s/libkiln_rt-%.*s.a (%s)\n", runtime_dir,
                    (int)strcspn(cg.triple, "-"), cg.triple, why);
        const char *inputs[2] = { obj, stub };
        if (o->progress) o->progress(o->progress_ctx, "link", 0, 1);
        int native = !o->cpu || !strcmp(o->cpu, "native");      /* for this machine's own CPU */
        if (link_executable(cg.triple, o->out, inputs, 2, o->is_static, native, runtime_dir, tmp, o->verbose, d))
            goto out;
        phase(o, "link", &t);
    }
    rc = 0;
out:
    kernel_sites_free(&sites);
    cg_dispose(&cg);
    mem_plan_free(&plan);
    mem_plan_free(&enc_plan);
    free(woff);
    remove_tree(tmp);
    arena_free(&a);
    return rc;
}
