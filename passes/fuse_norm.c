/* fuse_norm.c — a residual add followed by LayerNorm or RMSNorm becomes one kernel that
 * writes both the new residual stream and its norm, in one pass over each row.
 *
 * Every layernorm and rmsnorm is a candidate. It fuses when its input is an ADD of two f32
 * tensors of the same shape (no broadcasting), whatever else reads the sum: pre-LN blocks
 * (GPT-2, LLaMA: h = h + attn(..); ln_2(h), and h is read on by the next residual add) and
 * post-LN blocks (BERT: ln(x + sublayer(x)), the norm is the stream) alike:
 *
 *     s = add a, r                    F = add_layernorm a, r, w, b : (2, ..a)
 *     y = layernorm s, w, b     →     s = take F axis=0 index=0        the sum
 *                                     y = take F axis=0 index=1        the norm
 *
 * The takes are aliases into F's storage (plan_memory.c: no kernel, no copy), so readers of
 * the sum and of the norm read F's two halves in place. The takes keep the names of the add
 * and the norm, so a value of the fused graph is found under the name it had before (how
 * `kiln diff` pairs values); F is named "<norm>.fused" (made unique). F and the takes take
 * the norm's place in the graph, and a reader of the sum written before the norm moves after
 * them (ir_graph_toposort keeps the written order where it can). The add and the norm leave in
 * this pass, so names stay unique. A second norm of the same sum then reads the first one's
 * take of the sum: it is reported, not fused (the sum is already computed once). */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

typedef struct Site {
    Node *norm;             /* layernorm or rmsnorm: the candidate */
    Node *add;              /* its input */
    const char *fusion;     /* "add+layernorm" or "add+rmsnorm" */
} Site;

static const char *fusion_of(const Node *norm)
{
    return norm->op == OP_LAYERNORM ? "add+layernorm" : "add+rmsnorm";
}

/* Whether x is the sum half of an earlier fusion: take F axis=0 index=0. */
static int is_fused_sum(const Node *x)
{
    if (x->op != OP_TAKE || ir_attr_int(x, A_axis, 0) != 0 || ir_attr_int(x, A_index, 0) != 0) return 0;
    OpKind f = x->in[0]->op;
    return f == OP_ADD_LAYERNORM || f == OP_ADD_RMSNORM;
}

/* Whether site s fuses; the reason in why when not (returns why then, else NULL). */
static const char *match(const Module *m, Site *s, char *why, size_t cap)
{
    Node *x = s->norm->in[0];
    s->add = x;
    if (is_fused_sum(x)) {
        snprintf(why, cap, "the add is already fused with another norm of its sum ('%s')", x->in[0]->name);
        return why;
    }
    if (x->op != OP_ADD) {
        snprintf(why, cap, "its input is not an add (it is a %s)", op_name(x->op));
        return why;
    }
    const Node *a = x->in[0], *r = x->in[1];
    if (!shape_eq(&a->shape, &r->shape)) {
        char sa[512], sr[512];
        ir_shape_str(m, &a->shape, sa, sizeof sa);
        ir_shape_str(m, &r->shape, sr, sizeof sr);
        snprintf(why, cap, "the add broadcasts (%s + %s)", sa, sr);
        return why;
    }
    if (a->dtype != DT_F32 || r->dtype != DT_F32) {
        snprintf(why, cap, "the summands are not both f32 (%s + %s)", dtype_name(a->dtype), dtype_name(r->dtype));
        return why;
    }
    if (a->shape.rank + 1 > IR_MAX_RANK) {
        snprintf(why, cap, "the sum has rank %d: no room for the fused result's leading axis", a->shape.rank);
        return why;
    }
    return NULL;
}

/* "<norm>.fused", or with ".2", ".3", ... until no node of g has the name. */
static const char *unique_name(Graph *g, const char *norm)
{
    size_t cap = strlen(norm) + 32;
    char *name = xmalloc(cap);
    snprintf(name, cap, "%s.fused", norm);
    for (int k = 2; ir_graph_find(g, name); k++) snprintf(name, cap, "%s.fused.%d", norm, k);
    const char *kept = arena_strdup(g->arena, name);
    free(name);
    return kept;
}

static Node *inferred(PassCtx *c, Node *n)
{
    int err = ir_infer(c->m, n, c->d);
    KILN_ASSERT(err == 0);
    return n;
}

/* take F axis=0 index=i, named name */
static Node *take_half(PassCtx *c, Graph *g, Node *f, int64_t i, const char *name, Loc loc)
{
    Node *t = ir_node_new(g, OP_TAKE, name, loc);
    ir_node_add_input(t, f);
    ir_node_set_attr(c->m, t, A_axis)->v.i = 0;
    ir_node_set_attr(c->m, t, A_index)->v.i = i;
    return inferred(c, t);
}

/* Appends F, the take of the sum and the take of the norm (in that order) and points every
 * reader of the add and of the norm at the takes. */
static void rewrite(PassCtx *c, Graph *g, const Site *s)
{
    Node *add = s->add, *norm = s->norm;
    int ln = norm->op == OP_LAYERNORM;
    Node *f = ir_node_new(g, ln ? OP_ADD_LAYERNORM : OP_ADD_RMSNORM, unique_name(g, norm->name), norm->loc);
    ir_node_add_input(f, add->in[0]);
    ir_node_add_input(f, add->in[1]);
    for (int j = 1; j < norm->n_in; j++) ir_node_add_input(f, norm->in[j]);
    ir_node_set_attr(c->m, f, A_eps)->v.f = ir_attr_float(norm, A_eps, 1e-5);
    inferred(c, f);
    Node *sum = take_half(c, g, f, 0, add->name, add->loc);
    Node *y = take_half(c, g, f, 1, norm->name, norm->loc);
    KILN_ASSERT(shape_eq(&sum->shape, &add->shape) && shape_eq(&y->shape, &norm->shape));
    ir_replace_uses(g, add, sum);
    ir_replace_uses(g, norm, y);
}

int pass_fuse_norm(PassCtx *c)
{
    Module *m = c->m;
    int changed = 0;
    fusion_ran(c, "add+layernorm");
    fusion_ran(c, "add+rmsnorm");
    for (int gi = 0; gi < m->n_graphs; gi++) {
        Graph *g = m->graphs[gi];
        int n = g->n_nodes, fused = 0;
        char *dead = xcalloc((size_t)n + 1, 1);
        int *slot = xcalloc((size_t)3 * (size_t)n + 1, sizeof *slot);  /* F and its takes go where the norm was */
        for (int i = 0; i < n; i++) {
            Site s = { g->nodes[i], NULL, NULL };
            if (s.norm->op != OP_LAYERNORM && s.norm->op != OP_RMSNORM) continue;
            s.fusion = fusion_of(s.norm);
            char why[1200];
            if (match(m, &s, why, sizeof why)) {
                fusion_site(c, s.fusion, s.norm, "%s", why);
                continue;
            }
            fusion_site(c, s.fusion, s.norm, NULL);
            rewrite(c, g, &s);
            for (int k = 0; k < 3; k++) slot[3 * fused + k] = i;
            dead[i] = dead[s.add->id] = 1;
            fused++;
        }
        if (fused) {        /* then a reader of the sum written before the norm moves after F */
            ir_graph_splice(g, n, slot, dead);
            int err = ir_graph_toposort(g, c->d);
            KILN_ASSERT(err == 0);
        }
        changed += fused;
        free(dead);
        free(slot);
    }
    return changed;
}
