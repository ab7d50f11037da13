/* fold_layout.c — layout ops that do nothing, and chains of them, folded.
 *
 * Model descriptions written by hand or by importers leave layout steps a kernel would
 * copy for nothing:
 *
 *     reshape x to x's own shape          → x
 *     reshape (reshape x)                 → one reshape of x
 *     transpose x, perm = identity        → x
 *     transpose (transpose x)             → one transpose, perms composed (or x)
 *     slice of a whole axis, repeat ×1    → x
 *
 * Walking in topological order, each node's input is first replaced by what it folds to,
 * so chains of any length collapse in one sweep (a graph output keeps its node, no-op or
 * not, since outputs are values of their own). A folded node keeps its name and place;
 * it reads the chain's source instead of the chain, and the skipped nodes, now unread,
 * leave with the next dce. Shapes are already constant arithmetic at this point (the
 * frontend evaluates every {expression}; dims are canonical sums), so folding them needs
 * nothing more. */
#include "passes/passes.h"

#include <string.h>

static int is_identity_perm(const Attr *p)
{
    for (int i = 0; i < p->n; i++)
        if (p->v.ints[i] != i) return 0;
    return 1;
}

/* What n's value is, when n computes nothing: its input; else NULL. */
static Node *no_op_source(const Node *n)
{
    const Node *x = n->n_in ? n->in[0] : NULL;
    switch (n->op) {
    case OP_RESHAPE:
        return shape_eq(&x->shape, &n->shape) && x->dtype == n->dtype ? (Node *)x : NULL;
    case OP_TRANSPOSE:
        return is_identity_perm(ir_node_attr(n, A_perm)) ? (Node *)x : NULL;
    case OP_SLICE:
        return shape_eq(&x->shape, &n->shape) ? (Node *)x : NULL;
    case OP_REPEAT:
        return ir_attr_int(n, A_times, 1) == 1 ? (Node *)x : NULL;
    default:
        return NULL;
    }
}

/* n = reshape (reshape x) or transpose (transpose x): make n read x directly. */
static int fold_pair(Module *m, Node *n)
{
    Node *x = n->in[0];
    if (n->op == OP_RESHAPE && x->op == OP_RESHAPE) {
        n->in[0] = x->in[0];
        return 1;
    }
    if (n->op == OP_TRANSPOSE && x->op == OP_TRANSPOSE) {
        const Attr *outer = ir_node_attr(n, A_perm), *inner = ir_node_attr(x, A_perm);
        int64_t perm[IR_MAX_RANK];
        for (int i = 0; i < outer->n; i++) perm[i] = inner->v.ints[outer->v.ints[i]];   /* y[i] = x0[inner[outer[i]]] */
        Attr *a = ir_node_set_attr(m, n, A_perm);
        memcpy(a->v.ints, perm, sizeof perm[0] * (size_t)outer->n);
        n->in[0] = x->in[0];
        return 1;
    }
    return 0;
}

static int is_output(const Graph *g, const Node *n)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i].node == n) return 1;
    return 0;
}

int pass_fold_layout(PassCtx *c)
{
    int changed = 0;
    for (int gi = 0; gi < c->m->n_graphs; gi++) {
        Graph *g = c->m->graphs[gi];
        for (int i = 0; i < g->n_nodes; i++) {
            Node *n = g->nodes[i];
            while (n->n_in && fold_pair(c->m, n)) changed++;
            Node *src = no_op_source(n);
            if (src && !is_output(g, n)) {      /* an output keeps its node: it names the value */
                ir_replace_uses(g, n, src);
                changed++;
            }
        }
    }
    return changed;
}
