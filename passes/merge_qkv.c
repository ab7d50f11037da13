/* merge_qkv.c — the projections of one input (Q, K and V) become one product, with the
 * weights concatenated at compile time.
 *
 * Attention reads x three times, through wq (n_q, k), wk (n_k, k) and wv (n_v, k): three
 * matmul kernels, three dispatches, three passes over x. Merged, one product by the weight
 * [wq; wk; wv] (n_q + n_k + n_v, k) gives (.., n_q + n_k + n_v), and three slices of it, named
 * as the projections were, feed their old readers. The weight is never copied into the IR:
 * the WEIGHT node names its parts (tensor="wq,wk,wv" concat=[n_q, n_k, n_v]), the module
 * entry made by ir_module_weight_concat holds copies of the parts' entries, and the blob
 * writer and the interpreter read the rows part after part through ir_weight_read_f32, as
 * they read pack-weights' transposed views. Biases (after fuse-epilogue, the members are
 * linear nodes with bias=1) concatenate the same way.
 *
 * Members are tb=1 products by 2-d file weights (plain or transposed views) — matmuls, or
 * linears whose only epilogue is a bias — of the same x, with weights of one dtype, layout
 * and width k; the first member found and every later alike one form a group (at most
 * IR_MAX_RANK, the concat attribute's capacity), reported as a "qkv" site when it has two or
 * more. The merged nodes take the first member's place: x and the weights come before it,
 * every reader of a member after its member, so the order stays topological. */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_MERGED = IR_MAX_RANK };     /* the concat attribute holds one row count per part */

/* p is a projection a merge can take: a tb=1 matmul by a 2-d file weight (plain or its
 * transposed view), or a linear whose only epilogue is a bias weight. */
static int mergeable(const Node *p)
{
    int linear = p->op == OP_LINEAR && ir_attr_int(p, A_bias, 0) && !ir_node_attr(p, A_act) && !ir_attr_int(p, A_residual, 0);
    if (p->op != OP_MATMUL && !linear) return 0;
    const Node *w = p->in[1];
    if (ir_attr_int(p, A_tb, 0) != 1 || w->op != OP_WEIGHT || w->shape.rank != 2 || ir_node_attr(w, A_concat)) return 0;
    return !linear || (p->in[2]->op == OP_WEIGHT && !ir_node_attr(p->in[2], A_concat));
}

/* p may join q's merge: the same x, kind, weight dtype, layout and columns, and bias dtype. */
static int alike(const Module *m, const Node *q, const Node *p)
{
    const Weight *a = &m->weights[q->in[1]->ref], *b = &m->weights[p->in[1]->ref];
    if (p->in[0] != q->in[0] || p->op != q->op || a->dtype != b->dtype || a->transposed != b->transposed ||
        !dim_eq(a->shape.d[1], b->shape.d[1]))
        return 0;
    return q->op != OP_LINEAR || m->weights[q->in[2]->ref].dtype == m->weights[p->in[2]->ref].dtype;
}

/* Whether name, or the names of its weight and bias nodes, are in g. */
static int taken(const Graph *g, const char *name)
{
    char w[600], b[600];
    snprintf(w, sizeof w, "%s.w", name);
    snprintf(b, sizeof b, "%s.b", name);
    return ir_graph_find(g, name) || ir_graph_find(g, w) || ir_graph_find(g, b);
}

/* A name for the merged product, not yet in g: the members' common dotted prefix + "qkv"
 * ("l0.q_cols", "l0.k_cols", "l0.v_cols" → "l0.qkv"; two or more than three: "merged"),
 * numbered if taken (with its weight's and bias's names, "l0.qkv.w", "l0.qkv.b"). */
static const char *merged_name(const Module *m, const Graph *g, Node *const *mem, int n)
{
    size_t pre = strlen(mem[0]->name);
    for (int i = 1; i < n; i++) {
        size_t k = 0;
        while (k < pre && mem[i]->name[k] == mem[0]->name[k]) k++;
        pre = k;
    }
    while (pre > 0 && mem[0]->name[pre - 1] != '.') pre--;
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s%s", (int)(pre < 400 ? pre : 400), mem[0]->name, n == 3 ? "qkv" : "merged");
    size_t base = strlen(buf);
    for (int k = 2; taken(g, buf); k++) snprintf(buf + base, sizeof buf - base, "_%d", k);
    return arena_strdup(m->arena, buf);
}

/* A WEIGHT node of the concatenation of the weights mem[i]->in[which] (the weights, or the biases). */
static Node *concat_weight(PassCtx *c, Graph *g, Node *const *mem, int n, int which, const char *name, Loc loc)
{
    Module *m = c->m;
    int refs[MAX_MERGED];
    for (int i = 0; i < n; i++) refs[i] = mem[i]->in[which]->ref;
    int w = ir_module_weight_concat(m, refs, n);
    /* layers that name the same tensors (ALBERT) get the same concatenation: one node for it,
     * made by an earlier merge, so earlier in g (cse, running first, would merge two of them
     * when the printed IR is read back, and print -> parse -> print would change) */
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->op == OP_WEIGHT && g->nodes[i]->ref == w) return g->nodes[i];
    Node *wn = ir_node_new(g, OP_WEIGHT, name, loc);
    wn->ref = w;
    ir_node_set_attr(m, wn, A_tensor)->v.s = m->weights[w].tensor;
    if (m->weights[w].transposed) ir_node_set_attr(m, wn, A_transposed)->v.i = 1;
    Attr *rows = ir_node_set_attr(m, wn, A_concat);
    rows->n = n;
    for (int i = 0; i < n; i++) rows->v.ints[i] = m->weights[refs[i]].shape.d[0].k;
    int err = ir_infer(m, wn, c->d);
    KILN_ASSERT(err == 0);
    return wn;
}

/* Replaces the projections mem[0..n) of one x by one product with the concatenated weight
 * (and bias), placed where the first was, and slices of it named as the projections. */
static void merge(PassCtx *c, Graph *g, Node *const *mem, int n)
{
    Module *m = c->m;
    Node *first = mem[0];
    int n_old = g->n_nodes, r = first->shape.rank, bias = first->op == OP_LINEAR;
    const char *name = merged_name(m, g, mem, n);
    char wname[600];
    snprintf(wname, sizeof wname, "%s.w", name);
    Node *w = concat_weight(c, g, mem, n, 1, wname, first->in[1]->loc);
    Node *b = NULL;
    if (bias) {
        snprintf(wname, sizeof wname, "%s.b", name);
        b = concat_weight(c, g, mem, n, 2, wname, first->in[2]->loc);
    }
    Node *y = ir_node_new(g, first->op, name, first->loc);
    ir_node_add_input(y, first->in[0]);
    ir_node_add_input(y, w);
    if (b) ir_node_add_input(y, b);
    ir_node_set_attr(m, y, A_tb)->v.i = 1;
    if (b) ir_node_set_attr(m, y, A_bias)->v.i = 1;
    int err = ir_infer(m, y, c->d);
    KILN_ASSERT(err == 0);
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        Node *s = ir_node_new(g, OP_SLICE, mem[i]->name, mem[i]->loc);
        ir_node_add_input(s, y);
        ir_node_set_attr(m, s, A_axis)->v.i = r - 1;
        ir_node_set_attr(m, s, A_start)->v.dim = dim_const(at);
        ir_node_set_attr(m, s, A_len)->v.i = mem[i]->shape.d[r - 1].k;
        err = ir_infer(m, s, c->d);
        KILN_ASSERT(err == 0 && shape_eq(&s->shape, &mem[i]->shape));
        at += mem[i]->shape.d[r - 1].k;
        ir_replace_uses(g, mem[i], s);
    }
    /* the new nodes (appended from n_old on) go in first's slot; the projections leave */
    int *slot = xcalloc((size_t)(g->n_nodes - n_old) + 1, sizeof *slot);
    char *dead = xcalloc((size_t)n_old + 1, 1);
    for (int j = 0; j < g->n_nodes - n_old; j++) slot[j] = first->id;
    for (int i = 0; i < n; i++) dead[mem[i]->id] = 1;
    ir_graph_splice(g, n_old, slot, dead);
    free(slot);
    free(dead);
}

/* Merges the alike projections of each input of g (Q, K and V of one x); returns the number
 * of merges. Only groups of two or more are candidates. */
static int merge_graph(PassCtx *c, Graph *g)
{
    int made = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *mem[MAX_MERGED];
        int n = 0;
        if (!mergeable(g->nodes[i])) continue;
        mem[n++] = g->nodes[i];
        for (int j = i + 1; j < g->n_nodes && n < MAX_MERGED; j++)
            if (mergeable(g->nodes[j]) && alike(c->m, mem[0], g->nodes[j])) mem[n++] = g->nodes[j];
        if (n < 2) continue;
        fusion_site(c, "qkv", mem[0], NULL);
        merge(c, g, mem, n);
        made++;
    }
    return made;
}

int pass_merge_qkv(PassCtx *c)
{
    int changed = 0;
    fusion_ran(c, "qkv");
    for (int gi = 0; gi < c->m->n_graphs; gi++) changed += merge_graph(c, c->m->graphs[gi]);
    return changed;
}
