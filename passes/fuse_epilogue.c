/* fuse_epilogue.c — what follows a projection is folded into its matmul: the bias, the
 * activation, the gating and the residual add, which the matmul kernel then applies as it
 * stores its sums (backend/kernel_matmul.c), with no kernels and no passes over memory of
 * their own.
 *
 * Every matmul whose second operand is a weight (a projection) is a candidate. From it we
 * follow the chain of readers in the order of the math the fused node computes,
 *
 *     matmul(x, W) → [+ bias] → [relu | silu | gelu] → [+ residual]         LINEAR
 *     act(matmul(x, Wg)) * matmul(x, Wu) → [+ residual]                     GATED_LINEAR
 *
 * taking a step only while the value before it has exactly one reader and is not a graph
 * output (otherwise it must be in memory anyway). A bias is a 1-d weight of the output's
 * width, on either side of the add; a residual is any tensor of exactly the output's shape.
 * Gating (SwiGLU, GeGLU) needs both products to read the same x with the same layout and
 * weight shape, and no bias: x, Wg, Wu and a residual already fill a node's four inputs.
 * The chain becomes one node in the slot of its last node, with that node's name and
 * location: it gives the same value (which is how `kiln diff` finds its counterpart), and
 * all its inputs are computed before that slot (x and the weights before the matmul, the
 * bias and residual before their adds), so the order stays topological. Absorbed nodes
 * leave in this pass, so names stay unique. Every candidate is reported: fused, or why not
 * ("nothing to fold (its only reader is a reshape)").
 *
 * Use counts are taken once per graph. A rewrite keeps them true for every node still
 * worth asking about: the fused node inherits the last node's id and readers, and becomes
 * the reader of its inputs; only a gated x loses a reader, which can only make us more
 * careful. */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_ABSORBED = 6 };

/* A matched chain: the fused node's inputs, its epilogue, and what it replaces. */
typedef struct Chain {
    Node *mm;               /* matmul(x, W); for gating, the gate's product */
    Node *up;               /* gating: matmul(x, Wu); else NULL */
    Node *bias, *residual;  /* or NULL */
    const char *act;        /* relu, silu, gelu_tanh, gelu_erf, or NULL */
    Node *last;             /* the value the fused node gives, in whose slot it goes */
    Node *absorbed[MAX_ABSORBED];   /* every node of the chain but the last */
    int n_absorbed;
} Chain;

/* The activation op n computes, as the `act` attribute names it; NULL if it is no activation. */
static const char *act_of(const Node *n)
{
    switch (n->op) {
    case OP_RELU: return "relu";
    case OP_SILU: return "silu";
    case OP_GELU: return strcmp(ir_attr_str(n, A_approx, "erf"), "tanh") == 0 ? "gelu_tanh" : "gelu_erf";
    default: return NULL;
    }
}

static int is_projection(const Node *n) { return n->op == OP_MATMUL && n->in[1]->op == OP_WEIGHT; }

/* The operand of the binary node b that is not a. */
static Node *other(const Node *b, const Node *a) { return b->in[0] == a ? b->in[1] : b->in[0]; }

/* w is a bias of y (.., n): a 1-d weight of n elements. */
static int is_bias_of(const Node *w, const Node *y)
{
    return w->op == OP_WEIGHT && w->shape.rank == 1 && dim_eq(w->shape.d[0], y->shape.d[y->shape.rank - 1]);
}

/* r adds to y a tensor of exactly y's shape. */
static int adds_residual(const Node *r, const Node *y)
{
    return r->op == OP_ADD && shape_eq(&other(r, y)->shape, &y->shape) && shape_eq(&r->shape, &y->shape);
}

/* b is the partner of the projection a in a gated unit: the same x, layout and weight shape. */
static int partners(const Node *a, const Node *b)
{
    return a != b && is_projection(b) && b->in[0] == a->in[0] && ir_attr_int(a, A_tb, 0) == ir_attr_int(b, A_tb, 0) &&
           shape_eq(&a->in[1]->shape, &b->in[1]->shape);
}

static void absorb(Chain *ch, Node *n)
{
    KILN_ASSERT(ch->n_absorbed < MAX_ABSORBED);
    ch->absorbed[ch->n_absorbed++] = n;
}

/* Gating: mm is one product of act(matmul(x, Wg)) * matmul(x, Wu), either one. On a match
 * the chain holds the gate, the up product and the activation, and ends at the multiply. */
static int match_gate(const Readers *u, const char *dead, Chain *ch)
{
    Node *mm = ch->mm, *r = u->reader[mm->id], *act, *mul, *gate, *up;
    if (act_of(r)) {                    /* mm is the gate */
        act = r;
        if (!readers_private(u, act)) return 0;
        mul = u->reader[act->id];
        if (mul->op != OP_MUL) return 0;
        gate = mm;
        up = other(mul, act);
    } else if (r->op == OP_MUL) {       /* mm is the up product */
        mul = r;
        act = other(mul, mm);
        if (!act_of(act) || !readers_private(u, act)) return 0;
        gate = act->in[0];
        up = mm;
    } else {
        return 0;
    }
    if (!partners(gate, up) || !readers_private(u, gate) || !readers_private(u, up) || dead[gate->id] || dead[up->id])
        return 0;
    ch->mm = gate;
    ch->up = up;
    ch->act = act_of(act);
    absorb(ch, gate);
    absorb(ch, up);
    absorb(ch, act);
    ch->last = mul;                     /* so far */
    return 1;
}

/* Why nothing follows mm into a fused node (its reader r fits no step). */
static const char *nothing_to_fold(const Module *m, const Node *mm, const Node *r, char *why, size_t cap)
{
    if (r->op != OP_ADD) {
        snprintf(why, cap, "nothing to fold (its only reader is %s %s)", strchr("aeiou", op_name(r->op)[0]) ? "an" : "a",
                 op_name(r->op));
        return why;
    }
    char s[128], y[128];
    ir_shape_str(m, &other(r, mm)->shape, s, sizeof s);
    ir_shape_str(m, &mm->shape, y, sizeof y);
    snprintf(why, cap, "nothing to fold (its only reader adds %s '%s', neither a 1-d bias weight nor a residual %s)", s,
             other(r, mm)->name, y);
    return why;
}

/* Matches the longest chain from the projection mm. Returns NULL, or why nothing folds. */
static const char *match(const Module *m, const Readers *u, const char *dead, Node *mm, Chain *ch, char *why, size_t cap)
{
    memset(ch, 0, sizeof *ch);
    ch->mm = mm;
    const char *no = readers_kept(u, mm, why, cap);
    if (no) return no;
    Node *cur = mm;
    int stage = 0;                      /* 0: bias, 1: activation, 2: residual */
    if (match_gate(u, dead, ch)) {
        cur = ch->last;
        stage = 2;
    }
    for (; stage < 3 && readers_private(u, cur); stage++) {
        Node *r = u->reader[cur->id];
        if (stage == 0 && r->op == OP_ADD && is_bias_of(other(r, cur), cur)) ch->bias = other(r, cur);
        else if (stage == 1 && act_of(r)) ch->act = act_of(r);
        else if (stage == 2 && adds_residual(r, cur)) ch->residual = other(r, cur);
        else continue;
        absorb(ch, cur);
        cur = r;
    }
    if (cur == mm) return nothing_to_fold(m, mm, u->reader[mm->id], why, cap);
    ch->last = cur;
    return NULL;
}

/* The fused node, in the slot of the chain's last node. */
static void rewrite(PassCtx *c, Graph *g, Readers *u, const Chain *ch, char *dead)
{
    Module *m = c->m;
    Node *last = ch->last;
    Node *f = ir_node_in_place_of(g, ch->up ? OP_GATED_LINEAR : OP_LINEAR, last);
    ir_node_add_input(f, ch->mm->in[0]);
    ir_node_add_input(f, ch->mm->in[1]);
    if (ch->up) ir_node_add_input(f, ch->up->in[1]);
    if (ch->bias) ir_node_add_input(f, ch->bias);
    if (ch->residual) ir_node_add_input(f, ch->residual);
    if (ir_attr_int(ch->mm, A_tb, 0)) ir_node_set_attr(m, f, A_tb)->v.i = 1;
    if (ch->act) ir_node_set_attr(m, f, A_act)->v.s = arena_strdup(m->arena, ch->act);
    if (ch->bias) ir_node_set_attr(m, f, A_bias)->v.i = 1;
    if (ch->residual) ir_node_set_attr(m, f, A_residual)->v.i = 1;
    int err = ir_infer(m, f, c->d);
    KILN_ASSERT(err == 0 && shape_eq(&f->shape, &last->shape));
    ir_replace_uses(g, last, f);
    for (int j = 0; j < f->n_in; j++) u->reader[f->in[j]->id] = f;
    for (int i = 0; i < ch->n_absorbed; i++) dead[ch->absorbed[i]->id] = 1;
}

/* Fuses every chain of graph g; returns the number of fused nodes made. */
static int fuse_graph(PassCtx *c, Graph *g)
{
    Readers u;
    readers_count(g, &u);
    char *dead = xcalloc((size_t)g->n_nodes + 1, 1);
    int made = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *mm = g->nodes[i];
        if (!is_projection(mm) || dead[i]) continue;
        Chain ch;
        char why[1024];
        const char *no = match(c->m, &u, dead, mm, &ch, why, sizeof why);
        if (no) {
            fusion_site(c, "epilogue", mm, "%s", no);
            continue;
        }
        fusion_site(c, "epilogue", mm, NULL);
        if (ch.up) fusion_site(c, "epilogue", mm == ch.mm ? ch.up : ch.mm, NULL);     /* the partner */
        rewrite(c, g, &u, &ch, dead);
        made++;
    }
    if (made) ir_graph_drop(g, dead);
    free(dead);
    readers_free(&u);
    return made;
}

int pass_fuse_epilogue(PassCtx *c)
{
    int changed = 0;
    fusion_ran(c, "epilogue");
    for (int gi = 0; gi < c->m->n_graphs; gi++) changed += fuse_graph(c, c->m->graphs[gi]);
    return changed;
}
