/* verify.c — the IR's invariants, checked after every pass in tests and debug builds.
 *
 * A graph is valid when: node names are unique; every input of a node is an earlier node
 * of the same graph (so the list is a topological order and has no cycle); ids match
 * positions; arity and attributes fit ops.def; weights and states referenced exist; and
 * re-running shape inference gives exactly the recorded dtype and shape. Module-level
 * declarations (symbols, weights, states) are checked too. Every problem is reported at
 * the node's location; the count of problems is returned. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

static int check_shape_decl(Module *m, Diag *d, const Shape *s, Loc at, const char *what, const char *name,
                            int allow_syms)
{
    for (int i = 0; i < s->rank; i++) {
        Dim x = s->d[i];
        if (dim_is_const(x) ? (x.k < 0 || x.k > IR_MAX_EXTENT) : (!allow_syms || x.k != 0 || x.sym[1])) {
            char b[512];
            ir_shape_str(m, s, b, sizeof b);
            diag_error(d, at, "%s '%s': dimension %d of %s is not allowed here", what, name, i, b);
            return 1;
        }
    }
    return 0;
}

static int verify_module_decls(Module *m, Diag *d)
{
    int bad = 0;
    for (int i = 1; i <= m->n_syms; i++) {
        const Symbol *s = &m->syms[i];
        if (s->max < 1 || s->max > IR_MAX_EXTENT) {
            diag_error(d, s->loc, "dimension '%s': max %lld is out of range (1 to 2^40)", s->name, (long long)s->max);
            bad++;
        }
        for (int j = 1; j < i; j++)
            if (strcmp(m->syms[j].name, s->name) == 0) {
                diag_error(d, s->loc, "dimension '%s' is declared twice", s->name);
                bad++;
            }
    }
    for (int i = 0; i < m->n_weights; i++)
        bad += check_shape_decl(m, d, &m->weights[i].shape, m->weights[i].loc, "weight", m->weights[i].tensor, 0);
    for (int i = 0; i < m->n_states; i++) {
        const State *s = &m->states[i];
        bad += check_shape_decl(m, d, &s->shape, s->loc, "state", s->name, 1);
        if (s->batch_axis < -1 || s->batch_axis >= s->shape.rank) {
            diag_error(d, s->loc, "state '%s': batch axis %d is out of range", s->name, s->batch_axis);
            bad++;
        }
        if (s->dtype != DT_F32) {
            diag_error(d, s->loc, "state '%s': states are f32", s->name);
            bad++;
        }
        if (ir_module_state(m, s->name) != i) {    /* the index keeps the last of equal names */
            diag_error(d, s->loc, "state '%s' is declared twice", s->name);
            bad++;
        }
    }
    return bad;
}

static int verify_graph(Module *m, Graph *g, Diag *d)
{
    int bad = 0;
    /* aux == g marks "defined so far" */
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i]->aux = NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (n->id != i) {
            diag_error(d, n->loc, "%s '%s': id %d at position %d", op_name(n->op), n->name, n->id, i);
            bad++;
        }
        for (int j = 0; j < n->n_in; j++) {
            Node *x = n->in[j];
            if (!x || x->aux != (void *)g) {
                diag_error(d, n->loc, "%s '%s': input %d '%s' is not defined before it", op_name(n->op), n->name,
                           j + 1, x ? x->name : "(null)");
                bad++;
            }
        }
        n->aux = g;
        if (n->op >= OP_COUNT) {
            diag_error(d, n->loc, "node '%s': bad op", n->name);
            bad++;
            continue;
        }
        if (n->op == OP_WEIGHT && (n->ref < 0 || n->ref >= m->n_weights ||
                                   strcmp(m->weights[n->ref].tensor, ir_attr_str(n, A_tensor, "")) != 0 ||
                                   m->weights[n->ref].transposed != (int)ir_attr_int(n, A_transposed, 0) ||
                                   (m->weights[n->ref].n_parts > 0) != (ir_node_attr(n, A_concat) != NULL))) {
            diag_error(d, n->loc, "weight '%s': tensor '%s' is not declared", n->name, ir_attr_str(n, A_tensor, "?"));
            bad++;
            continue;
        }
        if ((op_info[n->op].flags & OPF_STATE) &&
            (n->ref < 0 || n->ref >= m->n_states || strcmp(m->states[n->ref].name, ir_attr_str(n, A_state, "")) != 0)) {
            diag_error(d, n->loc, "%s '%s': state '%s' is not declared", op_name(n->op), n->name,
                       ir_attr_str(n, A_state, "?"));
            bad++;
            continue;
        }
        if (n->op == OP_INPUT) {
            int found = 0;
            for (int j = 0; j < g->n_inputs; j++) found |= g->inputs[j] == n;
            if (!found) {
                diag_error(d, n->loc, "input '%s' is not in the graph's input list", n->name);
                bad++;
            }
        }
        if (bad) continue;      /* inference needs sound inputs */
        DType dt = n->dtype;
        Shape sh = n->shape;
        int errs = d->n_errors;
        if (ir_infer(m, n, d) != 0) {
            bad += d->n_errors - errs ? d->n_errors - errs : 1;
        } else if (n->dtype != dt || !shape_eq(&n->shape, &sh)) {
            char want[512], got[512];
            ir_shape_str(m, &n->shape, want, sizeof want);
            ir_shape_str(m, &sh, got, sizeof got);
            diag_error(d, n->loc, "%s '%s': recorded type %s%s differs from the inferred %s%s", op_name(n->op), n->name,
                       dtype_name(dt), got, dtype_name(n->dtype), want);
            bad++;
        }
        n->dtype = dt;
        n->shape = sh;
    }
    /* unique names: sort a copy of the pointers by name, compare neighbours */
    Node **byname = ir_graph_sorted(g);
    for (int i = 1; i < g->n_nodes; i++)
        if (strcmp(byname[i - 1]->name, byname[i]->name) == 0) {
            diag_error(d, byname[i]->loc, "name '%s' is defined twice in graph '%s'", byname[i]->name, g->name);
            bad++;
        }
    free(byname);
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i]->op != OP_INPUT || g->inputs[i]->aux != g) {
            diag_error(d, g->loc, "graph '%s': input %d is not an input node of the graph", g->name, i);
            bad++;
        }
    if (g->n_outputs == 0) {
        diag_error(d, g->loc, "graph '%s' has no outputs", g->name);
        bad++;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        if (!g->outputs[i].node || g->outputs[i].node->aux != g) {
            diag_error(d, g->outputs[i].loc, "output '%s' is not a node of graph '%s'", g->outputs[i].name, g->name);
            bad++;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(g->outputs[i].name, g->outputs[j].name) == 0) {
                diag_error(d, g->outputs[i].loc, "output '%s' is declared twice", g->outputs[i].name);
                bad++;
            }
    }
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i]->aux = NULL;
    return bad;
}

int ir_verify(Module *m, Diag *d)
{
    int bad = verify_module_decls(m, d);
    if (m->n_graphs == 0) {
        diag_error(d, m->loc, "the model has no graph");
        bad++;
    }
    for (int i = 0; i < m->n_graphs; i++) {
        for (int j = 0; j < i; j++)
            if (strcmp(m->graphs[i]->name, m->graphs[j]->name) == 0) {
                diag_error(d, m->graphs[i]->loc, "graph '%s' is defined twice", m->graphs[i]->name);
                bad++;
            }
        bad += verify_graph(m, m->graphs[i], d);
    }
    return bad;
}
