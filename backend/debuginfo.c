/* debuginfo.c — where each kernel came from: kernel sites, their text, and DWARF (-g).
 *
 * Kernels are shared (twelve identical layers call one kernel), so the backend keeps, per
 * kernel function, the first node that needed it and how many nodes call it: a kernel site.
 * cg_emit_kernels lowers the graph's nodes in order before forward is written (forward
 * then finds every kernel made), which is also where the progress hook counts them. The
 * sites name the nodes in the annotated assembly and LLVM IR (emit.c) and here in the
 * debug information.
 *
 * With -g the module gets a compile unit whose file is the model file (the directory and
 * name of its real path, so the bytes do not depend on the working directory), a
 * subprogram per kernel at the line of its node, one for each forward function (plain and
 * profiled) at the graph's line, and a
 * location on every instruction: a kernel's all carry its node's line; forward's carry the
 * line of the node whose call they prepare or make (known from the block names forward
 * gives each call site: NODE.parallel, NODE.direct, NODE.done). All of it is attached
 * before optimization, so a kernel inlined into forward keeps its lines with an
 * "inlined at" chain to the call's line, which perf and gdb both show. */
#include "backend/codegen_impl.h"

#include <limits.h>
#include <llvm-c/DebugInfo.h>
#include <stdlib.h>
#include <string.h>

void cg_emit_kernels(Cg *cg, const Graph *g, const BackendOptions *o, KernelSites *ks)
{
    uint64_t total = 0, done = 0;
    for (int i = 0; i < g->n_nodes; i++) total += (uint64_t)cg_is_call_site(g->nodes[i]);
    if (o->progress) o->progress(o->progress_ctx, "kernels", 0, total);
    cg_set_graph(cg, g);
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if (!cg_is_call_site(n)) continue;
        LLVMValueRef fn = cg_kernel(cg, n);
        int s = 0;
        while (s < ks->n && ks->v[s].fn != fn) s++;
        if (s == ks->n) {
            size_t len;
            const char *name = LLVMGetValueName2(fn, &len);
            char *copy = xmalloc(len + 1);
            memcpy(copy, name, len + 1);
            KernelSite site = { fn, copy, n, 0 };
            VEC_PUSH(ks->v, ks->n, ks->cap, site);
        }
        ks->v[s].n_nodes++;
        if (o->progress) o->progress(o->progress_ctx, "kernels", ++done, total);
    }
    cg_set_graph(cg, NULL);
}

void kernel_sites_free(KernelSites *ks)
{
    for (int i = 0; i < ks->n; i++) free(ks->v[i].name);
    free(ks->v);
    memset(ks, 0, sizeof *ks);
}

static const char *loc_file(const Cg *cg, Loc loc)
{
    const Diag *f = cg->m->files;
    return f && loc.file > 0 && loc.file < f->n_files ? f->files[loc.file] : NULL;
}

void kernel_site_describe(const Cg *cg, const KernelSite *s, char *buf, size_t cap)
{
    const Node *n = s->node;
    char shape[256];
    ir_shape_str(cg->m, &n->shape, shape, sizeof shape);
    const char *file = loc_file(cg, n->loc);
    int w = snprintf(buf, cap, "node '%s' (%s, %s%s) from %s:%u", n->name, op_name(n->op), dtype_name(n->dtype), shape,
                     file ? file : "(no file)", n->loc.line);
    if (s->n_nodes > 1 && w >= 0 && (size_t)w < cap)
        snprintf(buf + w, cap - (size_t)w, "; called for %d nodes", s->n_nodes);
}

/* ---- DWARF ------------------------------------------------------------------------- */

typedef struct Dwarf {
    Cg *cg;
    LLVMDIBuilderRef db;
    LLVMMetadataRef *files;     /* by Loc.file, made on first use */
    uint32_t n_files;
    LLVMMetadataRef fn_type;
} Dwarf;

/* The DIFile of Loc.file idx: the real path's directory and name when the file exists. */
static LLVMMetadataRef di_file(Dwarf *w, uint32_t idx)
{
    if (idx >= w->n_files) idx = 0;
    if (w->files[idx]) return w->files[idx];
    const char *name = loc_file(w->cg, loc_make(idx, 0, 0));
    char real[PATH_MAX];
    const char *dir = ".", *base = name ? name : "model";
    size_t dir_len = 1;
    if (name && realpath(name, real)) {
        char *slash = strrchr(real, '/');
        dir = real;
        dir_len = slash == real ? 1 : (size_t)(slash - real);
        base = slash + 1;
    }
    w->files[idx] = LLVMDIBuilderCreateFile(w->db, base, strlen(base), dir, dir_len);
    return w->files[idx];
}

/* A subprogram for fn (a definition, local to the unit) at loc. */
static LLVMMetadataRef subprogram(Dwarf *w, LLVMValueRef fn, const char *name, Loc loc)
{
    size_t len;
    const char *linkage = LLVMGetValueName2(fn, &len);
    LLVMMetadataRef file = di_file(w, loc.file);
    LLVMMetadataRef sp = LLVMDIBuilderCreateFunction(w->db, file, name, strlen(name), linkage, len, file, loc.line,
                                                     w->fn_type, 1, 1, loc.line, LLVMDIFlagPrototyped, 1);
    LLVMSetSubprogram(fn, sp);
    return sp;
}

static void locate_all(LLVMValueRef fn, LLVMMetadataRef where)
{
    for (LLVMBasicBlockRef b = LLVMGetFirstBasicBlock(fn); b; b = LLVMGetNextBasicBlock(b))
        for (LLVMValueRef in = LLVMGetFirstInstruction(b); in; in = LLVMGetNextInstruction(in))
            LLVMInstructionSetDebugLoc(in, where);
}

/* The node a block of forward belongs to: the block's name without .parallel, .direct or
 * .done, looked up among the graph's names. */
static const Node *block_node(const Graph *g, const NameMap *names, LLVMBasicBlockRef b, char *buf, size_t cap)
{
    const char *name = LLVMGetBasicBlockName(b);
    const char *dot = name ? strrchr(name, '.') : NULL;
    if (!dot || (strcmp(dot, ".parallel") && strcmp(dot, ".direct") && strcmp(dot, ".done"))) return NULL;
    size_t n = (size_t)(dot - name);
    if (n >= cap) return NULL;
    memcpy(buf, name, n);
    buf[n] = 0;
    int id = namemap_get(names, buf);
    return id >= 0 ? g->nodes[id] : NULL;
}

/* Forward's instructions: each at the line of the node its block serves, in the file of
 * that node (a lexical block file when it is not forward's own). */
static void locate_forward(Dwarf *w, const Graph *g, LLVMValueRef fwd, LLVMMetadataRef sp, Loc at)
{
    Arena a = { 0 };
    NameMap names = { 0 };
    for (int i = 0; i < g->n_nodes; i++) namemap_put(&a, &names, g->nodes[i]->name, i);
    LLVMContextRef ctx = w->cg->ctx;
    LLVMMetadataRef here = LLVMDIBuilderCreateDebugLocation(ctx, at.line, at.col, sp, NULL);
    char buf[512];
    for (LLVMBasicBlockRef b = LLVMGetFirstBasicBlock(fwd); b; b = LLVMGetNextBasicBlock(b)) {
        const Node *n = block_node(g, &names, b, buf, sizeof buf);
        if (n && n->loc.line) {
            LLVMMetadataRef scope = sp;
            if (n->loc.file != at.file) scope = LLVMDIBuilderCreateLexicalBlockFile(w->db, sp, di_file(w, n->loc.file), 0);
            here = LLVMDIBuilderCreateDebugLocation(ctx, n->loc.line, n->loc.col, scope, NULL);
        }
        for (LLVMValueRef in = LLVMGetFirstInstruction(b); in; in = LLVMGetNextInstruction(in))
            LLVMInstructionSetDebugLoc(in, here);
    }
    arena_free(&a);
}

void cg_debug_info(Cg *cg, const Graph *g, const KernelSites *ks, LLVMValueRef const *forwards, int n_forwards)
{
    Dwarf w = { 0 };
    w.cg = cg;
    w.db = LLVMCreateDIBuilder(cg->mod);
    w.n_files = cg->m->files ? cg->m->files->n_files : 1;
    if (w.n_files == 0) w.n_files = 1;
    w.files = xcalloc(w.n_files, sizeof *w.files);
    Loc unit = g->loc.file ? g->loc : cg->m->loc;
    LLVMMetadataRef file = di_file(&w, unit.file);
    static const char producer[] = "kiln " KILN_VERSION;
    LLVMDIBuilderCreateCompileUnit(w.db, LLVMDWARFSourceLanguageC11, file, producer, strlen(producer), 1, "", 0, 0, "",
                                   0, LLVMDWARFEmissionFull, 0, 1, 0, "", 0, "", 0);
    w.fn_type = LLVMDIBuilderCreateSubroutineType(w.db, file, NULL, 0, LLVMDIFlagZero);

    for (int i = 0; i < ks->n; i++) {
        const KernelSite *s = &ks->v[i];
        Loc loc = s->node->loc.line ? s->node->loc : unit;
        LLVMMetadataRef sp = subprogram(&w, s->fn, s->name, loc);
        locate_all(s->fn, LLVMDIBuilderCreateDebugLocation(cg->ctx, loc.line, loc.col, sp, NULL));
    }
    for (int i = 0; i < n_forwards; i++) {
        if (!forwards[i]) continue;
        size_t len;
        LLVMMetadataRef sp = subprogram(&w, forwards[i], LLVMGetValueName2(forwards[i], &len), unit);
        locate_forward(&w, g, forwards[i], sp, unit);
    }

    LLVMDIBuilderFinalize(w.db);
    LLVMDisposeDIBuilder(w.db);
    free(w.files);
    LLVMAddModuleFlag(cg->mod, LLVMModuleFlagBehaviorWarning, "Debug Info Version", 18,
                      LLVMValueAsMetadata(LLVMConstInt(cg->t_i32, LLVMDebugMetadataVersion(), 0)));
    LLVMAddModuleFlag(cg->mod, LLVMModuleFlagBehaviorWarning, "Dwarf Version", 13,
                      LLVMValueAsMetadata(LLVMConstInt(cg->t_i32, 5, 0)));
}
