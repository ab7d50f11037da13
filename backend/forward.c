/* forward.c — the generated `forward` function and the `kiln_model` record.
 *
 *     void forward(ptr arena, ptr weights, ptr inputs, i64 batch, i64 seq, i64 past, ptr outputs)
 *
 * (kiln_model.run) binds the symbols batch, seq and past to its arguments, then calls one
 * kernel per node in graph order, each on pointers into the arena (planned by
 * pass_plan_memory, for every symbol at its bound), the weights blob (offsets from the blob
 * layout) or the caller's inputs[k]. Aliases (plan_is_alias) cost nothing: a reshape names
 * its source's storage, a take along axis 0 the block at index × its size in it, sized with
 * this call's symbols (the sum and the norm of a fused add+norm). At the end outputs[j] is
 * set to the storage of the graph's output j.
 * Values and calls carry the node names, so the emitted IR reads like the model.
 *
 * Threads (runtime/model.h). Each call site computes the node's work at this call's symbol
 * values (node_cost: a product of dims times a factor, in units of about one multiply-add
 * or one element moved) and calls kiln_parallel(kernel, args, work) when work >=
 * kiln_parallel_min_work, else the kernel directly with part 0 of 1. The check is emitted
 * for every node, even ones that are always small: it costs a load, a few multiplies and a
 * branch (under 1 ns, against ~370 ns for the tiny model's average kernel call), keeps the
 * choice in one runtime variable that a test can force to 1 (every kernel then runs split),
 * and a one-thread run never takes the branch. The factors only need to order kernels by
 * their time; the threshold that turns them into a decision is measured (runtime/threads.c).
 *
 * Profiling (--profile). forward is emitted twice: `kiln_forward` as above, and
 * `kiln_forward_profiled`, the same calls each between kiln_profile_enter(site) and
 * kiln_profile_exit(site, flops, bytes) (runtime/model.h), where site numbers the kernel
 * call sites in graph order (kiln_model.sites names them) and flops and bytes are the node's
 * work at this call's symbol values (node_flops, node_bytes). The runtime calls the second
 * only when profiling: an ordinary run executes exactly the code it did before.
 *
 * kiln_model (runtime/model.h) is a constant struct laid out by the target's data layout
 * in the same field order as the C declaration, which gives the C layout on both targets. */
#include "backend_impl.h"
#include "backend/codegen_impl.h"
#include "backend/kernel_impl.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/model.h"

/* A dim of an input or output as KilnTensor has it: its size, or -s for symbol s (the
 * runtime's dims[s - 1]); 0 (a size no tensor has) for any other. */
static int64_t io_dim(Dim d)
{
    if (dim_is_const(d)) return d.k > 0 ? d.k : 0;
    if (d.k == 0 && d.sym[0] && (IR_DIM_TERMS < 2 || !d.sym[1])) return -(int64_t)d.sym[0];
    return 0;
}

/* An encoder: no past, no state, and more inputs than tokens, or no logits, or a family of
 * encoders; else a decoder (a model without a KV cache generates too, recomputing). */
static int is_encoder(const Module *m, const Graph *g)
{
    static const char *const families[] = { "bert", "albert", "distilbert", "electra", "roberta" };
    if (ir_module_sym(m, "past")) return 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (op_info[g->nodes[i]->op].flags & OPF_STATE) return 0;
    if (g->n_inputs > 1) return 1;
    int logits = 0;
    for (int i = 0; i < g->n_outputs; i++) logits |= !strcmp(g->outputs[i].name, "logits");
    if (!logits) return 1;
    for (size_t i = 0; m->family && i < sizeof families / sizeof families[0]; i++)
        if (!strcmp(m->family, families[i])) return 1;
    return 0;
}

/* Every input i32 of rank 2 with a batch first (the symbol batch or 1) and a symbol second;
 * every output f32 with at most KILN_MAX_RANK dims, each a size or one symbol. */
static int check_io(const Module *m, const Graph *g, Diag *d)
{
    int batch = ir_module_sym(m, "batch");
    if (g->n_inputs > KILN_MAX_IO || g->n_outputs > KILN_MAX_IO) {
        diag_error(d, g->loc, "graph '%s': an executable takes at most %d inputs and gives at most %d outputs",
                   g->name, KILN_MAX_IO, KILN_MAX_IO);
        return -1;
    }
    if (g->n_outputs == 0) {
        diag_error(d, g->loc, "graph '%s' has no output for the executable to give", g->name);
        return -1;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const Node *in = g->inputs[i];
        int64_t b = in->shape.rank == 2 ? io_dim(in->shape.d[0]) : 0;
        if (in->dtype != DT_I32 || in->shape.rank != 2 || !(b == 1 || (batch && b == -batch)) ||
            io_dim(in->shape.d[1]) >= 0) {
            diag_error(d, in->loc, "input '%s': an executable's inputs are i32[batch, n], n a dimension such as seq",
                       in->name);
            return -1;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        const Node *o = g->outputs[i].node;
        int ok = o->dtype == DT_F32 && o->shape.rank >= 1 && o->shape.rank <= KILN_MAX_RANK;
        for (int k = 0; ok && k < o->shape.rank; k++) ok = io_dim(o->shape.d[k]) != 0;
        if (!ok) {
            diag_error(d, g->loc, "output '%s': an executable's outputs are f32 with at most %d dims, each a size "
                       "or one dimension", g->outputs[i].name, KILN_MAX_RANK);
            return -1;
        }
    }
    return 0;
}

/* The values an i32 input may hold: the fewest rows among the tables it indexes (gather),
 * or 0 when it indexes none. */
static int64_t table_rows(const Graph *g, const Node *input)
{
    int64_t rows = 0;
    for (int j = 0; j < g->n_nodes; j++) {
        const Node *u = g->nodes[j];
        if (u->op == OP_GATHER && u->in[1] == input && dim_is_const(u->in[0]->shape.d[0]) &&
            (rows == 0 || u->in[0]->shape.d[0].k < rows))
            rows = u->in[0]->shape.d[0].k;
    }
    return rows;
}

static const Node *graph_input(const Graph *g, const char *name)
{
    for (int i = 0; i < g->n_inputs; i++)
        if (!strcmp(g->inputs[i]->name, name)) return g->inputs[i];
    return NULL;
}

/* The graphs an executable runs: `forward` (or the only graph), or `encode` and `decode` of
 * a sequence-to-sequence model; its symbols are among batch, seq, past and src. A decoder
 * (is_encoder says which) takes one input tokens i32[batch, seq] and gives logits f32[batch,
 * seq, vocab]. An encoder takes tokens and optionally token_types and valid, each
 * i32[batch, seq]. `decode` takes tokens and src_valid and gives logits; `encode` takes src
 * and src_valid. Outputs are f32 whose dims are sizes or dims (runtime/model.h). */
int cg_forward_graph(const Module *m, Diag *d, ExeGraph *x)
{
    memset(x, 0, sizeof *x);
    const Graph *enc = ir_module_graph(m, "encode"), *dec = ir_module_graph(m, "decode");
    const Graph *g = m->n_graphs == 1 ? m->graphs[0] : ir_module_graph(m, "forward");
    if (enc && dec && m->n_graphs == 2) g = dec;
    else if (!g) {
        diag_error(d, m->loc, "an executable runs one graph named 'forward', or 'encode' and 'decode'; this model "
                   "has %d graphs", m->n_graphs);
        return -1;
    }
    if (m->n_syms > KILN_MAX_DIMS) {
        diag_error(d, m->loc, "an executable binds at most %d dimensions; this model has %d", KILN_MAX_DIMS, m->n_syms);
        return -1;
    }
    for (int s = 1; s <= m->n_syms; s++) {
        const char *name = m->syms[s].name;
        if (strcmp(name, "seq") && strcmp(name, "past") && strcmp(name, "batch") && strcmp(name, "src")) {
            diag_error(d, m->syms[s].loc, "dimension '%s': an executable binds only batch, seq, past and src", name);
            return -1;
        }
    }
    int seq = ir_module_sym(m, "seq");
    x->g = g;
    x->kind = g == dec ? KILN_SEQ2SEQ : is_encoder(m, g) ? KILN_ENCODER : KILN_DECODER;
    x->encode = g == dec ? enc : NULL;
    if (check_io(m, g, d) || (x->encode && check_io(m, x->encode, d))) return -1;
    if (x->kind == KILN_SEQ2SEQ && (!ir_module_sym(m, "past") || !ir_module_sym(m, "src"))) {
        diag_error(d, g->loc, "graph 'decode' runs one position per call when translating: it needs the dims past "
                   "(its KV caches) and src (the source); models/seq2seq-numbers/model.xml shows how");
        return -1;
    }
    const Node *tokens = graph_input(g, "tokens");
    if (!tokens || !seq || !dim_eq(tokens->shape.d[1], dim_sym(seq))) {
        diag_error(d, g->loc, "graph '%s' must take an input tokens i32[batch, seq] to become an executable", g->name);
        return -1;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const char *name = g->inputs[i]->name;
        int known = x->kind == KILN_DECODER ? g->n_inputs == 1
                  : x->kind == KILN_ENCODER ? !strcmp(name, "tokens") || !strcmp(name, "token_types") || !strcmp(name, "valid")
                                            : !strcmp(name, "tokens") || !strcmp(name, "src_valid");
        if (!known) {
            diag_error(d, g->inputs[i]->loc, "input '%s': %s", name,
                       x->kind == KILN_DECODER ? "a decoder takes one input, tokens"
                       : x->kind == KILN_ENCODER ? "an encoder's inputs are tokens, token_types and valid"
                                                 : "decode's inputs are tokens and src_valid");
            return -1;
        }
    }
    for (int i = 0; x->encode && i < x->encode->n_inputs; i++) {
        const char *name = x->encode->inputs[i]->name;
        if (strcmp(name, "src") && strcmp(name, "src_valid")) {
            diag_error(d, x->encode->inputs[i]->loc, "input '%s': encode's inputs are src and src_valid", name);
            return -1;
        }
    }
    int named_logits = 0;
    for (int i = 0; i < g->n_outputs; i++) {
        const Node *o = g->outputs[i].node;
        if (strcmp(g->outputs[i].name, "logits")) continue;
        named_logits = 1;
        if (o->shape.rank != 3 || !dim_eq(o->shape.d[1], dim_sym(seq)) || !dim_is_const(o->shape.d[2])) break;
        x->logits = o;
        x->vocab = o->shape.d[2].k;
    }
    if (!x->logits && (x->kind != KILN_ENCODER || named_logits)) {
        diag_error(d, g->loc, "graph '%s' must have an output logits f32[batch, seq, vocab] to become an executable",
                   g->name);
        return -1;
    }
    if (!x->vocab) x->vocab = table_rows(g, tokens);  /* without logits: the ids tokens may hold */
    if (x->vocab < 1) {
        diag_error(d, g->loc, "graph '%s': without a logits output, the input tokens must index a table (gather) "
                   "for the executable to know the vocabulary", g->name);
        return -1;
    }
    return 0;
}

static LLVMValueRef i64c(Cg *cg, uint64_t v) { return LLVMConstInt(cg->t_i64, v, 0); }

/* A node's work: factor * the product of d[0..n). With causal set (causal attention's
 * flops: d = B, H, S, T, ...), the S·T pairs of queries and keys are only the visible ones,
 * S·T - S(S-1)/2: query i of S sees T - S + 1 + i keys. */
typedef struct Cost {
    int64_t factor;
    int n;
    int causal;
    Dim d[2 * IR_MAX_RANK + 2];
} Cost;

static void cost_dims(Cost *c, const Shape *s, int from, int to)
{
    for (int i = from; i < to; i++) c->d[c->n++] = s->d[i];
}

/* Units: one multiply-add of a matmul or attention (~0.1 ns when decode streams weights),
 * one element copied or added; libm functions called lane by lane (exp, tanh, erfc, sin,
 * cos) count tens of units per element. */
static void node_cost(const Cg *cg, const Node *n, Cost *c)
{
    const Shape *y = &n->shape;
    c->factor = 1;
    c->n = 0;
    c->causal = 0;
    switch (n->op) {
    case OP_MATMUL: case OP_LINEAR: case OP_GATED_LINEAR: {    /* M·N·K, times the batch; 2 products gated */
        const Shape *a = &n->in[0]->shape;
        c->factor = n->op == OP_GATED_LINEAR ? 2 : 1;
        cost_dims(c, y, 0, y->rank);
        c->d[c->n++] = a->d[a->rank - 1];
        return;
    }
    case OP_ATTENTION: {                    /* B·H·S·T·(D + DV) */
        const Shape *q = &n->in[0]->shape, *k = &n->in[1]->shape, *v = &n->in[2]->shape;
        cost_dims(c, q, 0, 3);
        c->d[c->n++] = k->d[2];
        if (dim_is_const(q->d[3]) && dim_is_const(v->d[3])) {
            c->factor = q->d[3].k + v->d[3].k;
        } else {
            c->d[c->n++] = q->d[3];
            c->factor = 2;
        }
        return;
    }
    case OP_POOL:                           /* reads all of x */
        cost_dims(c, &n->in[0]->shape, 0, n->in[0]->shape.rank);
        return;
    case OP_STATE_READ:                     /* copies the box (a view: nothing) */
        if (cg_kv_view(cg, n)) return;
        break;
    case OP_CACHE:                          /* writes x, copies the prefix (a view: writes x) */
        if (cg_kv_view(cg, n)) {
            cost_dims(c, &n->in[0]->shape, 0, n->in[0]->shape.rank);
            return;
        }
        cost_dims(c, y, 0, y->rank);
        c->factor = 2;
        return;
    case OP_SOFTMAX: case OP_SIGMOID: case OP_SILU:
        c->factor = 32;                     /* exp */
        break;
    case OP_GELU: case OP_TANH: case OP_SINUSOID:
        c->factor = 64;                     /* erfc or exp in f64, tanhf, sin and cos */
        break;
    case OP_LAYERNORM: case OP_RMSNORM: case OP_ADD_LAYERNORM: case OP_ADD_RMSNORM: case OP_ROPE:
        c->factor = 4;
        break;
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV:
        c->factor = 2;
        break;
    default:                                /* copies, scale, relu, mask, positions */
        break;
    }
    cost_dims(c, y, 0, y->rank);
}

/* A node's floating-point operations, for --profile: factor * the product of d[0..n).
 * A multiply-add counts 2: matmul and linear 2·M·N·K (4 gated: two products), attention
 * 2·B·H·S·T·(D + DV) (q·k and p·v; the softmax not counted), S·T only the visible pairs
 * when causal without a window (a window's are counted all). Elementwise and normalizing
 * kernels count about one per arithmetic step per element (layernorm 8, rmsnorm 4, softmax
 * 4, add 1, gelu 8, ...: a libm call counts as one); copies, caches, gathers, masks and
 * positions count 0. Approximate for everything but matmuls and attention, which dominate. */
static void node_flops(const Cg *cg, const Node *n, Cost *c)
{
    node_cost(cg, n, c);
    switch (n->op) {
    case OP_MATMUL: case OP_LINEAR: case OP_GATED_LINEAR:
        c->factor *= 2;
        return;
    case OP_ATTENTION:
        c->factor *= 2;
        c->causal = ir_attr_int(n, A_causal, 0) && ir_attr_int(n, A_window, 0) == 0;
        return;
    case OP_POOL: case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_SCALE: case OP_RELU: case OP_TANH:
        c->factor = 1;
        return;
    case OP_SIGMOID: case OP_ROPE:
        c->factor = 3;
        return;
    case OP_SOFTMAX: case OP_SILU: case OP_RMSNORM: case OP_ADD_RMSNORM: case OP_SINUSOID:
        c->factor = 4;
        return;
    case OP_GELU: case OP_LAYERNORM: case OP_ADD_LAYERNORM:
        c->factor = 8;
        return;
    default:
        c->factor = 0;
        return;
    }
}

/* The value of d with the symbols' values of this call. */
static LLVMValueRef dim_value(Cg *cg, Dim d, LLVMValueRef const *symv)
{
    LLVMValueRef v = i64c(cg, (uint64_t)d.k);
    for (int t = 0; t < IR_DIM_TERMS && d.sym[t]; t++) v = LLVMBuildNSWAdd(cg->b, v, symv[d.sym[t]], "");
    return v;
}

static LLVMValueRef cost_value(Cg *cg, const Cost *c, LLVMValueRef const *symv)
{
    LLVMValueRef w = i64c(cg, (uint64_t)c->factor);
    for (int i = 0; i < c->n; i++)
        if (!c->causal || (i != 2 && i != 3)) w = LLVMBuildMul(cg->b, w, dim_value(cg, c->d[i], symv), "");
    if (c->causal) {            /* S·T - S(S-1)/2 */
        LLVMValueRef S = dim_value(cg, c->d[2], symv), T = dim_value(cg, c->d[3], symv);
        LLVMValueRef tri = LLVMBuildLShr(cg->b, LLVMBuildMul(cg->b, S, LLVMBuildSub(cg->b, S, i64c(cg, 1), ""), ""),
                                         i64c(cg, 1), "");
        w = LLVMBuildMul(cg->b, w, LLVMBuildSub(cg->b, LLVMBuildMul(cg->b, S, T, ""), tri, ""), "");
    }
    return w;
}

/* The elements of shape s at this call's symbols. */
static LLVMValueRef numel_value(Cg *cg, const Shape *s, LLVMValueRef const *symv)
{
    LLVMValueRef v = i64c(cg, 1);
    for (int i = 0; i < s->rank; i++) v = LLVMBuildMul(cg->b, v, dim_value(cg, s->d[i], symv), "");
    return v;
}

/* A node's memory traffic, for --profile: 4 bytes (every value is f32 or i32) per element
 * of each input, read once, and of the output, written once, at this call's symbols (a
 * gather: the rows it reads); a state (KV cache) counts through its node's output. A lower
 * bound of what moves; small models run from the caches, above the DRAM peak. */
static LLVMValueRef node_bytes(Cg *cg, const Node *n, LLVMValueRef const *symv)
{
    if (cg_kv_view(cg, n))          /* a cache's x read and written into the state; a read: nothing */
        return n->op == OP_CACHE ? LLVMBuildMul(cg->b, numel_value(cg, &n->in[0]->shape, symv), i64c(cg, 8), "")
                                 : i64c(cg, 0);
    LLVMValueRef v = numel_value(cg, &n->shape, symv);
    for (int j = 0; j < n->n_in; j++) {
        /* a gather reads the table's rows it copies, y's size, not the whole table */
        const Shape *s = n->op == OP_GATHER && j == 0 ? &n->shape : &n->in[j]->shape;
        v = LLVMBuildAdd(cg->b, v, numel_value(cg, s, symv), "");
    }
    return LLVMBuildMul(cg->b, v, i64c(cg, 4), "");
}

/* base + off, named. */
static LLVMValueRef at(Cg *cg, LLVMValueRef base, uint64_t off, const char *name)
{
    LLVMValueRef idx = i64c(cg, off);
    return LLVMBuildGEP2(cg->b, LLVMInt8TypeInContext(cg->ctx), base, &idx, 1, name);
}

/* The storage of alias n, whose input's storage is at src: src itself for a reshape,
 * src + index × (the take's size at this call's symbols) × 4 bytes for a take along axis 0. */
static LLVMValueRef alias_ptr(Cg *cg, const Node *n, LLVMValueRef src, LLVMValueRef const *symv)
{
    if (n->op == OP_RESHAPE) return src;
    int64_t index = ir_attr_int(n, A_index, 0);
    LLVMValueRef bytes = i64c(cg, 0);           /* index 0: the start of src */
    if (index != 0) {
        bytes = index > 0 ? i64c(cg, (uint64_t)index * 4)
                          : LLVMBuildMul(cg->b, LLVMBuildNSWAdd(cg->b, dim_value(cg, n->in[0]->shape.d[0], symv),
                                                                LLVMConstInt(cg->t_i64, (uint64_t)index, 1), ""),
                                         i64c(cg, 4), "");
        for (int i = 0; i < n->shape.rank; i++) bytes = LLVMBuildMul(cg->b, bytes, dim_value(cg, n->shape.d[i], symv), "");
    }
    return LLVMBuildGEP2(cg->b, LLVMInt8TypeInContext(cg->ctx), src, &bytes, 1, n->name);
}

int64_t cg_kv_view(const Cg *cg, const Node *n)
{
    return cg->kv_view && (n->op == OP_CACHE || n->op == OP_STATE_READ) ? cg->kv_view[n->id] : 0;
}

/* cg_kv_view's table for g: a cache or state_read of rank 4 along axis 2, (batch, heads,
 * time, dim) with heads and dim the state's, that is no output of g and is read only as the
 * keys or values of attention (not in capture builds: kiln diff reads every value
 * contiguous). */
void cg_set_graph(Cg *cg, const Graph *g)
{
    free(cg->kv_view);
    cg->kv_view = NULL;
    if (!g) return;
    int64_t *view = xcalloc((size_t)g->n_nodes + 1, sizeof *view);
    cg->kv_view = view;
    if (cg->capture) return;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        if ((n->op != OP_CACHE && n->op != OP_STATE_READ) || n->shape.rank != 4) continue;
        int64_t axis = ir_attr_int(n, A_axis, 0);
        const State *st = &cg->m->states[n->ref];
        if ((axis != 2 && axis != -2) || st->shape.rank != 4 || !dim_is_const(n->shape.d[1]) ||
            !dim_is_const(n->shape.d[3]) || !dim_eq(n->shape.d[1], st->shape.d[1]) || !dim_eq(n->shape.d[3], st->shape.d[3]))
            continue;
        view[i] = kl_dim_max(cg->m, st->shape.d[2]);
    }
    for (int j = 0; j < g->n_outputs; j++) view[g->outputs[j].node->id] = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        for (int j = 0; j < n->n_in; j++)
            if (!(n->op == OP_ATTENTION && (j == 1 || j == 2))) view[n->in[j]->id] = 0;
    }
}

int cg_is_call_site(const Node *n)
{
    if (n->op == OP_INPUT || n->op == OP_WEIGHT) return 0;
    if ((n->op == OP_RESHAPE || n->op == OP_TAKE) && plan_is_alias(n)) return 0;
    return 1;
}

LLVMValueRef cg_emit_forward(Cg *cg, const Graph *g, const MemPlan *plan, const uint64_t *weight_offset, int profiled,
                             const char *fname)
{
    const Module *m = cg->m;
    LLVMTypeRef params[5] = { cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_ptr };
    LLVMTypeRef fty = LLVMFunctionType(cg->t_void, params, 5, 0);
    LLVMValueRef fn = LLVMAddFunction(cg->mod, fname, fty);
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    static const char *const pname[5] = { "arena", "weights", "inputs", "dims", "outputs" };
    for (unsigned i = 0; i < 5; i++) LLVMSetValueName2(LLVMGetParam(fn, i), pname[i], strlen(pname[i]));
    LLVMValueRef arena = LLVMGetParam(fn, 0), weights = LLVMGetParam(fn, 1), inputs = LLVMGetParam(fn, 2);
    LLVMValueRef dims = LLVMGetParam(fn, 3), outputs = LLVMGetParam(fn, 4);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
    LLVMPositionBuilderAtEnd(cg->b, entry);

    /* syms: int64_t[IR_MAX_SYMS + 1] on the stack; symv: the same values */
    LLVMTypeRef syms_ty = LLVMArrayType2(cg->t_i64, IR_MAX_SYMS + 1);
    LLVMValueRef syms = LLVMBuildAlloca(cg->b, syms_ty, "syms");
    LLVMTypeRef argv_ty = LLVMArrayType2(cg->t_ptr, 7);
    LLVMValueRef argv = LLVMBuildAlloca(cg->b, argv_ty, "args");      /* kiln_parallel's args */
    LLVMValueRef symv[IR_MAX_SYMS + 1];
    symv[0] = i64c(cg, 0);
    for (int s = 1; s <= m->n_syms; s++) {
        const char *name = m->syms[s].name;
        LLVMValueRef di = i64c(cg, (uint64_t)(s - 1));      /* dims[s - 1] */
        LLVMValueRef v = LLVMBuildLoad2(cg->b, cg->t_i64, LLVMBuildGEP2(cg->b, cg->t_i64, dims, &di, 1, ""), name);
        LLVMValueRef idx[2] = { i64c(cg, 0), i64c(cg, (uint64_t)s) };
        LLVMBuildStore(cg->b, v, LLVMBuildGEP2(cg->b, syms_ty, syms, idx, 2, name));
        symv[s] = v;
    }
    /* the runtime's kiln_parallel and kiln_parallel_min_work (runtime/model.h), defined in
     * this executable by the runtime archive: hidden, so no GOT or PLT */
    LLVMTypeRef par_params[3] = { cg->t_ptr, cg->t_ptr, cg->t_i64 };
    LLVMTypeRef par_ty = LLVMFunctionType(cg->t_void, par_params, 3, 0);
    LLVMValueRef par = LLVMGetNamedFunction(cg->mod, "kiln_parallel");
    if (!par) {
        par = LLVMAddFunction(cg->mod, "kiln_parallel", par_ty);
        LLVMSetVisibility(par, LLVMHiddenVisibility);
    }
    LLVMValueRef min_work = LLVMGetNamedGlobal(cg->mod, "kiln_parallel_min_work");
    if (!min_work) {
        min_work = LLVMAddGlobal(cg->mod, cg->t_i64, "kiln_parallel_min_work");
        LLVMSetVisibility(min_work, LLVMHiddenVisibility);
    }
    /* profiled: kiln_profile_enter(i64 site), kiln_profile_exit(i64 site, i64 flops, i64 bytes) */
    LLVMTypeRef enter_params[1] = { cg->t_i64 }, exit_params[3] = { cg->t_i64, cg->t_i64, cg->t_i64 };
    LLVMTypeRef enter_ty = LLVMFunctionType(cg->t_void, enter_params, 1, 0);
    LLVMTypeRef exit_ty = LLVMFunctionType(cg->t_void, exit_params, 3, 0);
    LLVMValueRef prof_enter = NULL, prof_exit = NULL;
    if (profiled) {
        prof_enter = LLVMAddFunction(cg->mod, "kiln_profile_enter", enter_ty);
        prof_exit = LLVMAddFunction(cg->mod, "kiln_profile_exit", exit_ty);
        LLVMSetVisibility(prof_enter, LLVMHiddenVisibility);
        LLVMSetVisibility(prof_exit, LLVMHiddenVisibility);
    }
    int64_t site = 0;
    LLVMValueRef null = LLVMConstNull(cg->t_ptr);
    LLVMValueRef *ptr = xcalloc((size_t)g->n_nodes + 1, sizeof *ptr);
    cg_set_graph(cg, g);
    for (int i = 0; i < g->n_nodes; i++) {
        /* kiln diff: the node before is complete here, whichever way it was lowered */
        if (cg->capture && i > 0) cg_emit_capture(cg, g->nodes[i - 1], ptr[i - 1], symv);
        const Node *n = g->nodes[i];
        switch (n->op) {
        case OP_INPUT: {        /* inputs[k], k its place among the graph's inputs */
            int k = 0;
            while (g->inputs[k] != n) k++;
            LLVMValueRef idx = i64c(cg, (uint64_t)k);
            LLVMValueRef slot = LLVMBuildGEP2(cg->b, cg->t_ptr, inputs, &idx, 1, "");
            ptr[i] = LLVMBuildLoad2(cg->b, cg->t_ptr, slot, n->name);
            continue;
        }
        case OP_WEIGHT:
            ptr[i] = at(cg, weights, weight_offset[n->ref], n->name);
            continue;
        case OP_RESHAPE: case OP_TAKE:
            if (!plan_is_alias(n)) break;
            ptr[i] = alias_ptr(cg, n, ptr[n->in[0]->id], symv);
            continue;
        default:
            break;
        }
        ptr[i] = at(cg, arena, plan->offset[i], n->name);
        LLVMValueRef args[7] = { ptr[i], null, null, null, null, syms, null };
        for (int j = 0; j < n->n_in; j++) args[1 + j] = ptr[n->in[j]->id];
        if (op_info[n->op].flags & OPF_STATE) args[6] = at(cg, arena, plan->state_offset[n->ref], "state");
        LLVMValueRef k = cg_kernel(cg, n);
        KILN_ASSERT(k && cg_is_call_site(n));
        LLVMValueRef site_v = i64c(cg, (uint64_t)site++);
        if (profiled) LLVMBuildCall2(cg->b, enter_ty, prof_enter, &site_v, 1, "");
        /* if (work >= kiln_parallel_min_work) kiln_parallel(k, args, work); else k(args, 0, 1) */
        Cost c;
        node_cost(cg, n, &c);
        LLVMValueRef work = cost_value(cg, &c, symv);
        size_t nl = strlen(n->name) + 16;
        char *label = xmalloc(nl);
        snprintf(label, nl, "%s.work", n->name);
        LLVMSetValueName2(work, label, strlen(label));
        LLVMValueRef lim = LLVMBuildLoad2(cg->b, cg->t_i64, min_work, "min_work");
        LLVMSetAlignment(lim, 8);
        snprintf(label, nl, "%s.parallel", n->name);
        LLVMBasicBlockRef bpar = LLVMAppendBasicBlockInContext(cg->ctx, fn, label);
        snprintf(label, nl, "%s.direct", n->name);
        LLVMBasicBlockRef bone = LLVMAppendBasicBlockInContext(cg->ctx, fn, label);
        snprintf(label, nl, "%s.done", n->name);
        LLVMBasicBlockRef bjoin = LLVMAppendBasicBlockInContext(cg->ctx, fn, label);
        free(label);
        LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGE, work, lim, ""), bpar, bone);
        LLVMPositionBuilderAtEnd(cg->b, bpar);
        for (int j = 0; j < 7; j++) {
            LLVMValueRef idx[2] = { i64c(cg, 0), i64c(cg, (uint64_t)j) };
            LLVMBuildStore(cg->b, args[j], LLVMBuildGEP2(cg->b, argv_ty, argv, idx, 2, ""));
        }
        LLVMValueRef pargs[3] = { k, argv, work };
        LLVMBuildCall2(cg->b, par_ty, par, pargs, 3, "");
        LLVMBuildBr(cg->b, bjoin);
        LLVMPositionBuilderAtEnd(cg->b, bone);
        LLVMValueRef kargs[9];
        memcpy(kargs, args, sizeof args);
        kargs[7] = i64c(cg, 0);
        kargs[8] = i64c(cg, 1);
        LLVMBuildCall2(cg->b, cg->t_kernel, k, kargs, 9, "");
        LLVMBuildBr(cg->b, bjoin);
        LLVMPositionBuilderAtEnd(cg->b, bjoin);
        if (profiled) {
            Cost fc;
            node_flops(cg, n, &fc);
            LLVMValueRef pa[3] = { site_v, cost_value(cg, &fc, symv), node_bytes(cg, n, symv) };
            LLVMBuildCall2(cg->b, exit_ty, prof_exit, pa, 3, "");
        }
        if (cg_kv_view(cg, n)) ptr[i] = args[6];    /* attention reads the state itself */
    }
    if (cg->capture && g->n_nodes > 0) cg_emit_capture(cg, g->nodes[g->n_nodes - 1], ptr[g->n_nodes - 1], symv);
    for (int j = 0; j < g->n_outputs; j++) {
        LLVMValueRef idx = i64c(cg, (uint64_t)j);
        LLVMBuildStore(cg->b, ptr[g->outputs[j].node->id], LLVMBuildGEP2(cg->b, cg->t_ptr, outputs, &idx, 1, ""));
    }
    LLVMBuildRetVoid(cg->b);
    free(ptr);
    cg_set_graph(cg, NULL);
    return fn;
}

static LLVMValueRef cstring(Cg *cg, const char *s, const char *name)
{
    LLVMValueRef init = LLVMConstStringInContext2(cg->ctx, s, strlen(s), 0);
    LLVMValueRef g = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(g, init);
    LLVMSetGlobalConstant(g, 1);
    LLVMSetLinkage(g, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
    return g;
}

/* An external symbol defined by the blob object (weights, tokenizer). */
static LLVMValueRef blob_symbol(Cg *cg, const char *name)
{
    LLVMValueRef g = LLVMAddGlobal(cg->mod, LLVMInt8TypeInContext(cg->ctx), name);
    LLVMSetGlobalConstant(g, 1);
    LLVMSetLinkage(g, LLVMExternalLinkage);
    LLVMSetVisibility(g, LLVMHiddenVisibility);     /* in this executable: no GOT entry */
    return g;
}

/* A private constant global `sym`: the array rows[0..n) of type ty. */
static LLVMValueRef const_table(Cg *cg, LLVMTypeRef ty, LLVMValueRef *rows, int n, const char *sym)
{
    LLVMValueRef init = LLVMConstArray2(ty, rows, (uint64_t)n);
    LLVMValueRef t = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), sym);
    LLVMSetInitializer(t, init);
    LLVMSetGlobalConstant(t, 1);
    LLVMSetLinkage(t, LLVMPrivateLinkage);
    return t;
}

/* kiln_model.sites: { name, op } per kernel call site of g, in the order forward calls them. */
static LLVMValueRef sites_table(Cg *cg, const Graph *g, int64_t *n_sites)
{
    LLVMTypeRef fields[2] = { cg->t_ptr, cg->t_ptr };
    LLVMTypeRef ty = LLVMStructTypeInContext(cg->ctx, fields, 2, 0);
    LLVMValueRef *rows = xcalloc((size_t)g->n_nodes + 1, sizeof *rows);
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *node = g->nodes[i];
        if (!cg_is_call_site(node)) continue;
        LLVMValueRef v[2] = { cstring(cg, node->name, "kiln.site"), cstring(cg, op_name(node->op), "kiln.op") };
        rows[n++] = LLVMConstStructInContext(cg->ctx, v, 2, 0);
    }
    LLVMValueRef t = const_table(cg, ty, rows, n, "kiln.sites");
    free(rows);
    *n_sites = n;
    return t;
}

/* kiln_model.selftest_tokens: the ids as a constant i32 array. */
static LLVMValueRef selftest_tokens(Cg *cg, const ModelFacts *f)
{
    LLVMValueRef *v = xcalloc((size_t)f->selftest_n, sizeof *v);
    for (int64_t i = 0; i < f->selftest_n; i++) v[i] = LLVMConstInt(cg->t_i32, (uint64_t)(uint32_t)f->selftest_tokens[i], 0);
    LLVMValueRef t = const_table(cg, cg->t_i32, v, (int)f->selftest_n, "kiln.selftest_tokens");
    free(v);
    return t;
}

/* kiln_model.inputs or .outputs: one KilnTensor { name, dtype, rank, dims[4] } per value. */
static LLVMValueRef io_table(Cg *cg, const Graph *g, const Node *const *nodes, const char *const *names, int n,
                             const char *sym)
{
    LLVMTypeRef dims_ty = LLVMArrayType2(cg->t_i64, KILN_MAX_RANK);
    LLVMTypeRef fields[5] = { cg->t_ptr, cg->t_i32, cg->t_i32, dims_ty, cg->t_i64 };
    LLVMTypeRef ty = LLVMStructTypeInContext(cg->ctx, fields, 5, 0);
    LLVMValueRef *rows = xcalloc((size_t)n + 1, sizeof *rows);
    for (int i = 0; i < n; i++) {
        const Node *v = nodes[i];
        LLVMValueRef d[KILN_MAX_RANK];
        for (int k = 0; k < KILN_MAX_RANK; k++)
            d[k] = LLVMConstInt(cg->t_i64, (uint64_t)(k < v->shape.rank ? io_dim(v->shape.d[k]) : 0), 1);
        int64_t limit = v->op == OP_INPUT ? table_rows(g, v) : 0;     /* an input's bound */
        LLVMValueRef f[5] = { cstring(cg, names[i], "kiln.io"),
                              LLVMConstInt(cg->t_i32, v->dtype == DT_I32 ? KILN_I32 : KILN_F32, 0),
                              LLVMConstInt(cg->t_i32, (uint64_t)v->shape.rank, 0),
                              LLVMConstArray2(cg->t_i64, d, KILN_MAX_RANK), LLVMConstInt(cg->t_i64, (uint64_t)limit, 0) };
        rows[i] = LLVMConstStructInContext(cg->ctx, f, 5, 0);
    }
    LLVMValueRef t = const_table(cg, ty, rows, n, sym);
    free(rows);
    return t;
}

/* A graph's input and output tables, into t[0] and t[1]. */
static void io_tables(Cg *cg, const Graph *g, const char *what, LLVMValueRef t[2])
{
    const Node **nodes = xcalloc((size_t)(g->n_inputs + g->n_outputs) + 1, sizeof *nodes);
    const char **names = xcalloc((size_t)(g->n_inputs + g->n_outputs) + 1, sizeof *names);
    for (int i = 0; i < g->n_inputs; i++) nodes[i] = g->inputs[i], names[i] = g->inputs[i]->name;
    for (int j = 0; j < g->n_outputs; j++) nodes[g->n_inputs + j] = g->outputs[j].node, names[g->n_inputs + j] = g->outputs[j].name;
    char sym[64];
    snprintf(sym, sizeof sym, "kiln.%s.inputs", what);
    t[0] = io_table(cg, g, nodes, names, g->n_inputs, sym);
    snprintf(sym, sizeof sym, "kiln.%s.outputs", what);
    t[1] = io_table(cg, g, nodes + g->n_inputs, names + g->n_inputs, g->n_outputs, sym);
    free(nodes);
    free(names);
}

/* kiln_model.dims: { name, max } per symbol, in the module's order (run's dims[]). */
static LLVMValueRef dims_table(Cg *cg)
{
    const Module *m = cg->m;
    LLVMTypeRef fields[2] = { cg->t_ptr, cg->t_i64 };
    LLVMTypeRef ty = LLVMStructTypeInContext(cg->ctx, fields, 2, 0);
    LLVMValueRef rows[KILN_MAX_DIMS + 1];
    for (int s = 1; s <= m->n_syms; s++) {
        LLVMValueRef v[2] = { cstring(cg, m->syms[s].name, "kiln.dim"), i64c(cg, (uint64_t)m->syms[s].max) };
        rows[s - 1] = LLVMConstStructInContext(cg->ctx, v, 2, 0);
    }
    return const_table(cg, ty, rows, m->n_syms, "kiln.dims");
}

/* kiln_model.states: { name, offset, bytes, row_bytes } per state, at plan's offsets. */
static LLVMValueRef states_table(Cg *cg, const MemPlan *plan)
{
    const Module *m = cg->m;
    LLVMTypeRef fields[4] = { cg->t_ptr, cg->t_i64, cg->t_i64, cg->t_i64 };
    LLVMTypeRef ty = LLVMStructTypeInContext(cg->ctx, fields, 4, 0);
    LLVMValueRef *rows = xcalloc((size_t)m->n_states + 1, sizeof *rows);
    for (int i = 0; i < m->n_states; i++) {
        const State *st = &m->states[i];
        int64_t bytes = shape_numel_at_bounds(m, &st->shape) * 4, rows0 = 0;
        if (st->batch_axis == 0 && st->shape.rank > 0) rows0 = shape_numel_at_bounds(m, &(Shape){ 1, { st->shape.d[0] } });
        LLVMValueRef v[4] = { cstring(cg, st->name, "kiln.state"), i64c(cg, plan->state_offset[i]), i64c(cg, (uint64_t)bytes),
                              i64c(cg, rows0 > 0 ? (uint64_t)(bytes / rows0) : 0) };
        rows[i] = LLVMConstStructInContext(cg->ctx, v, 4, 0);
    }
    LLVMValueRef t = const_table(cg, ty, rows, m->n_states, "kiln.states");
    free(rows);
    return t;
}

void cg_emit_model_record(Cg *cg, LLVMValueRef forward, LLVMValueRef forward_profiled, LLVMValueRef encode,
                          const ExeGraph *x, const MemPlan *plan, const ModelFacts *f)
{
    const Graph *g = x->g;
    LLVMValueRef io[2], enc_io[2] = { 0, 0 };
    io_tables(cg, g, "run", io);
    if (x->encode) io_tables(cg, x->encode, "encode", enc_io);
    LLVMTypeRef u32 = cg->t_i32, i64 = cg->t_i64, p = cg->t_ptr;
    LLVMTypeRef gfields[] = { p, p, u32, u32, p, p };
    LLVMTypeRef gty = LLVMStructTypeInContext(cg->ctx, gfields, 6, 0);
    LLVMValueRef gvals[] = {
        x->encode ? cstring(cg, "encode", "kiln.graph") : LLVMConstNull(p),
        x->encode ? encode : LLVMConstNull(p),
        LLVMConstInt(u32, x->encode ? (uint64_t)x->encode->n_inputs : 0, 0),
        LLVMConstInt(u32, x->encode ? (uint64_t)x->encode->n_outputs : 0, 0),
        x->encode ? enc_io[0] : LLVMConstNull(p),
        x->encode ? enc_io[1] : LLVMConstNull(p),
    };
    LLVMTypeRef fields[] = { u32, u32, p, p, p, p, i64, i64, i64, i64, i64, i64, i64, p, p, i64, p, i64,
                             p, i64, p, u32, u32, i64, p, p,
                             u32, u32, p, u32, u32, p, p, gty, u32, p, i64, u32, u32 };
    int64_t n_sites;
    LLVMValueRef sites = sites_table(cg, g, &n_sites);
    int st = f->selftest_n > 0;
    LLVMTypeRef ty = LLVMStructCreateNamed(cg->ctx, "KilnModel");
    LLVMStructSetBody(ty, fields, sizeof fields / sizeof fields[0], 0);
    LLVMValueRef vals[] = {
        LLVMConstInt(u32, KILN_ABI_VERSION, 0),
        LLVMConstInt(u32, cg->capture ? KILN_MODEL_CAPTURE : 0, 0),
        cstring(cg, f->name, "kiln.name"),
        cstring(cg, KILN_VERSION, "kiln.version"),
        cstring(cg, cg->triple, "kiln.target"),
        cstring(cg, cg->cpu, "kiln.cpu"),
        LLVMConstInt(i64, (uint64_t)f->vocab, 1),
        LLVMConstInt(i64, (uint64_t)f->max_seq, 1),
        LLVMConstInt(i64, (uint64_t)f->max_positions, 1),
        LLVMConstInt(i64, (uint64_t)f->eos_id, 1),
        LLVMConstInt(i64, f->arena_bytes, 0),
        LLVMConstInt(i64, f->weights_bytes, 0),
        LLVMConstInt(i64, f->weights_check, 0),
        f->weights_embedded ? blob_symbol(cg, "kiln_weights") : LLVMConstNull(p),
        f->tokenizer_bytes ? blob_symbol(cg, "kiln_tokenizer") : LLVMConstNull(p),
        LLVMConstInt(i64, f->tokenizer_bytes, 0),
        forward,
        LLVMConstInt(i64, f->weights_hash, 0),
        forward_profiled,
        LLVMConstInt(i64, (uint64_t)n_sites, 0),
        sites,
        LLVMConstInt(u32, (uint64_t)cg->vw, 0),
        LLVMConstInt(u32, (uint64_t)cg->has_fma, 0),
        LLVMConstInt(i64, (uint64_t)(st ? f->selftest_n : 0), 0),
        st ? selftest_tokens(cg, f) : LLVMConstNull(p),
        st ? blob_symbol(cg, "kiln_selftest") : LLVMConstNull(p),
        LLVMConstInt(u32, (uint64_t)x->kind, 0),
        LLVMConstInt(u32, (uint64_t)cg->m->n_syms, 0),
        dims_table(cg),
        LLVMConstInt(u32, (uint64_t)g->n_inputs, 0),
        LLVMConstInt(u32, (uint64_t)g->n_outputs, 0),
        io[0],
        io[1],
        LLVMConstStructInContext(cg->ctx, gvals, 6, 0),
        LLVMConstInt(u32, (uint64_t)cg->m->n_states, 0),
        states_table(cg, plan),
        LLVMConstInt(i64, (uint64_t)f->bos_id, 1),
        LLVMConstInt(u32, cg->cpu_needs, 0),
        LLVMConstInt(u32, (uint64_t)cg->sve_bits, 0),
    };
    LLVMValueRef init = LLVMConstNamedStruct(ty, vals, sizeof vals / sizeof vals[0]);
    LLVMValueRef rec = LLVMAddGlobal(cg->mod, ty, "kiln_model");
    LLVMSetInitializer(rec, init);
    LLVMSetGlobalConstant(rec, 1);
}
