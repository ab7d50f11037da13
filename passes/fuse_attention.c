/* fuse_attention.c — QKᵀ → scale → mask → softmax → ·V becomes one ATTENTION node.
 *
 * Every softmax is a candidate. From it the matcher walks up to the scores and down to the
 * product with the values, accepting what model descriptions write:
 *
 *     q' = scale? (q)        k' = scale? (repeat? (k))        v' = repeat? (v)
 *     s  = matmul(q', k' tb=1)   or   matmul(q', transpose(k', [0,1,3,2]))
 *     x  = any order of scale? and mask? on s   (a scale between them must be positive)
 *     y  = matmul(softmax(x), v')
 *
 * q (b, h, s, d), k (b, kvh, T, d), v (b, kvh, T, dv) as ops.def says: a `repeat` along the
 * heads (grouped-query attention) is absorbed when k and v repeat alike, since the kernel
 * reads kv head h / (h / kvh) in place; every scale multiplies into one `scale` attribute
 * (1/√d written on q, on k or on the scores, as × or as a folded ÷); the mask's causal,
 * window and valid input carry over. The cache append, cross-attention (k, v from a state)
 * and self-attention need nothing special: they are whatever produces k and v.
 *
 * Each node between q·kᵀ and y must have no other reader and not be a graph output —
 * otherwise the scores are needed in memory anyway, and the site is reported with the
 * reason. The fused node takes y's name and location (it produces y's value, which is
 * how `kiln diff` finds its counterpart) and y's place in the graph; the absorbed nodes
 * leave in the same pass, so names stay unique. */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_CHAIN = 8 };

typedef struct Match {
    Node *q, *k, *v, *valid;    /* the fused node's inputs */
    double scale;
    int64_t causal, window;
    Node *y;                    /* the product with v: the value the fused node gives */
    Node *dead[MAX_CHAIN + 6];  /* nodes absorbed */
    int n_dead;
} Match;

static int is_perm_swap_last(const Node *t)
{
    const Attr *p = ir_node_attr(t, A_perm);
    return p && p->n == 4 && p->v.ints[0] == 0 && p->v.ints[1] == 1 && p->v.ints[2] == 3 && p->v.ints[3] == 2;
}

/* k or v through an optional repeat along the heads: *base gets what the kernel reads,
 * *times the repeat count (1: none). */
static void strip_repeat(Node *x, Node **base, int64_t *times)
{
    *base = x;
    *times = 1;
    if (x->op == OP_REPEAT && ir_attr_int(x, A_axis, 0) == 1 && x->shape.rank == 4) {
        *base = x->in[0];
        *times = ir_attr_int(x, A_times, 1);
    }
}

static void absorb(Match *mt, Node *n)
{
    KILN_ASSERT(mt->n_dead < (int)(sizeof mt->dead / sizeof mt->dead[0]));
    mt->dead[mt->n_dead++] = n;
}

/* Follows an operand through `scale` nodes no one else reads, multiplying their values
 * into mt->scale. Returns the operand under them. */
static Node *strip_scales(const Readers *u, Match *mt, Node *x)
{
    while (x->op == OP_SCALE && readers_private(u, x)) {
        mt->scale *= ir_attr_float(x, A_value, 1);
        absorb(mt, x);
        x = x->in[0];
    }
    return x;
}

/* Matches the site of softmax p; returns NULL or the reason it does not fuse. */
static const char *match(const Readers *u, Node *p, Match *mt, char *why, size_t cap)
{
    memset(mt, 0, sizeof *mt);
    mt->scale = 1;
    if (p->shape.rank != 4) {
        snprintf(why, cap, "the scores are rank %d, not (batch, heads, queries, keys)", p->shape.rank);
        return why;
    }
    /* down: softmax → matmul with v */
    if (readers_kept(u, p, why, cap)) return why;
    Node *y = u->reader[p->id];
    if (y->op != OP_MATMUL || y->in[0] != p || ir_attr_int(y, A_tb, 0) != 0) {
        snprintf(why, cap, "the probabilities are read by %s '%s', not a product with the values", op_name(y->op), y->name);
        return why;
    }
    absorb(mt, p);
    mt->y = y;

    /* up: any order of scale and mask down to q·kᵀ */
    Node *x = p->in[0];
    int masks = 0;
    const Node *flipping = NULL;        /* a scale <= 0 met before any mask (so after it) */
    for (;;) {
        if (readers_kept(u, x, why, cap)) return why;
        if (x->op == OP_SCALE) {
            double s = ir_attr_float(x, A_value, 1);
            if (!(s > 0) && !masks) flipping = x;
            mt->scale *= s;
        } else if (x->op == OP_MASK) {
            if (masks++) {
                snprintf(why, cap, "two masks on the scores ('%s')", x->name);
                return why;
            }
            if (flipping) {
                snprintf(why, cap, "the scale '%s' after the mask is not positive", flipping->name);
                return why;
            }
            mt->causal = ir_attr_int(x, A_causal, 0);
            mt->window = ir_attr_int(x, A_window, 0);
            mt->valid = x->n_in > 1 ? x->in[1] : NULL;
        } else {
            break;
        }
        absorb(mt, x);
        x = x->in[0];
    }
    if (x->op != OP_MATMUL) {
        snprintf(why, cap, "the softmax reads %s '%s', not q·kᵀ (masks must be <mask> ops, scales <scale>)",
                 op_name(x->op), x->name);
        return why;
    }
    Node *s = x;
    absorb(mt, s);

    /* q·kᵀ: kᵀ by tb=1 or by an explicit transpose of the last two axes */
    Node *kt = s->in[1];
    if (ir_attr_int(s, A_tb, 0) == 0) {
        if (kt->op != OP_TRANSPOSE || !is_perm_swap_last(kt)) {
            snprintf(why, cap, "q·k reads '%s' untransposed (neither tb=1 nor a transpose of the last two axes)",
                     kt->name);
            return why;
        }
        if (readers_kept(u, kt, why, cap)) return why;
        absorb(mt, kt);
        kt = kt->in[0];
    }
    mt->q = strip_scales(u, mt, s->in[0]);
    Node *k = strip_scales(u, mt, kt), *v = y->in[1];

    int64_t tk, tv;
    Node *kb, *vb;
    strip_repeat(k, &kb, &tk);
    strip_repeat(v, &vb, &tv);
    if (tk == tv && tk > 1 && readers_private(u, k) && readers_private(u, v)) {
        absorb(mt, k);
        absorb(mt, v);
        k = kb;
        v = vb;
    }
    mt->k = k;
    mt->v = v;
    if (mt->q->shape.rank != 4 || k->shape.rank != 4 || v->shape.rank != 4) {
        snprintf(why, cap, "q, k and v are not all (batch, heads, positions, head size)");
        return why;
    }
    const Dim *qh = &mt->q->shape.d[1], *kh = &k->shape.d[1], *vh = &v->shape.d[1];
    if (!dim_is_const(*qh) || !dim_is_const(*kh) || !dim_eq(*kh, *vh) || kh->k <= 0 || qh->k % kh->k) {
        snprintf(why, cap, "heads do not match: q has %lld, k %lld, v %lld", (long long)qh->k, (long long)kh->k,
                 (long long)vh->k);
        return why;
    }
    if (mt->q->dtype != DT_F32 || k->dtype != DT_F32 || v->dtype != DT_F32) {
        snprintf(why, cap, "q, k and v must be f32");
        return why;
    }
    return NULL;
}

/* Builds the fused node in y's slot. */
static void rewrite(PassCtx *c, Graph *g, Match *mt, char *dead)
{
    Node *y = mt->y;
    Node *f = ir_node_in_place_of(g, OP_ATTENTION, y);
    ir_node_add_input(f, mt->q);
    ir_node_add_input(f, mt->k);
    ir_node_add_input(f, mt->v);
    if (mt->valid) ir_node_add_input(f, mt->valid);
    ir_node_set_attr(c->m, f, A_scale)->v.f = mt->scale;
    if (mt->causal) ir_node_set_attr(c->m, f, A_causal)->v.i = mt->causal;
    if (mt->window) ir_node_set_attr(c->m, f, A_window)->v.i = mt->window;
    int err = ir_infer(c->m, f, c->d);
    KILN_ASSERT(err == 0 && shape_eq(&f->shape, &y->shape));
    ir_replace_uses(g, y, f);
    for (int i = 0; i < mt->n_dead; i++) dead[mt->dead[i]->id] = 1;
}

int pass_fuse_attention(PassCtx *c)
{
    Module *m = c->m;
    int changed = 0;
    fusion_ran(c, "attention");
    for (int gi = 0; gi < m->n_graphs; gi++) {
        Graph *g = m->graphs[gi];
        Readers u;
        readers_count(g, &u);
        char *dead = xcalloc((size_t)g->n_nodes + 1, 1);
        int n = g->n_nodes;
        for (int i = 0; i < n; i++) {
            Node *p = g->nodes[i];
            if (p->op != OP_SOFTMAX || dead[i]) continue;
            Match mt;
            char why[256];
            const char *no = match(&u, p, &mt, why, sizeof why);
            if (no) {
                fusion_site(c, "attention", p, "%s", no);
                continue;
            }
            fusion_site(c, "attention", p, NULL);
            rewrite(c, g, &mt, dead);
            changed++;
        }
        if (changed) ir_graph_drop(g, dead);
        free(dead);
        readers_free(&u);
    }
    return changed;
}
