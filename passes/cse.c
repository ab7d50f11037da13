/* cse.c — common-subexpression elimination.
 *
 * Two nodes are the same computation when they have the same op, the same inputs (after
 * earlier merges), equal attributes, and the same dtype and shape. Walking in topological
 * order, each node is looked up by a text key of all that; a hit replaces every use of
 * the later node by the earlier one, and dce removes the husk. Nodes with effects or
 * identity are never merged: inputs, and anything touching a state (two cache writes are
 * two writes; two reads of a state may see different contents). */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

/* The node's key: op, input ids, attributes, type. Names and locations do not count. */
static void node_key(const Module *m, const Node *n, char *buf, size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap, "%s", op_name(n->op));
    for (int j = 0; j < n->n_in && k < cap; j++) k += (size_t)snprintf(buf + k, cap - k, "|%d", n->in[j]->id);
    for (int a = 0; a < n->n_attrs && k < cap; a++) {
        const Attr *at = &n->attrs[a];
        k += (size_t)snprintf(buf + k, cap - k, "|%s=", attr_info[at->kind].name);
        char v[96];
        switch (attr_info[at->kind].type) {
        case AT_INT: k += (size_t)snprintf(buf + k, k < cap ? cap - k : 0, "%lld", (long long)at->v.i); break;
        case AT_FLOAT: fmt_double(v, sizeof v, at->v.f); k += (size_t)snprintf(buf + k, k < cap ? cap - k : 0, "%s", v); break;
        case AT_STR: k += (size_t)snprintf(buf + k, k < cap ? cap - k : 0, "\"%s\"", at->v.s); break;
        case AT_INTS:
            for (int i = 0; i < at->n; i++) k += (size_t)snprintf(buf + k, k < cap ? cap - k : 0, "%lld,", (long long)at->v.ints[i]);
            break;
        case AT_DIM: ir_dim_str(m, at->v.dim, v, sizeof v); k += (size_t)snprintf(buf + k, k < cap ? cap - k : 0, "%s", v); break;
        case AT_DIMS:
            for (int i = 0; i < at->n; i++) {
                ir_dim_str(m, at->v.dims[i], v, sizeof v);
                k += (size_t)snprintf(buf + k, k < cap ? cap - k : 0, "%s,", v);
            }
            break;
        }
    }
    char shape[512];
    ir_shape_str(m, &n->shape, shape, sizeof shape);
    if (k < cap) snprintf(buf + k, cap - k, "|%s%s", dtype_name(n->dtype), shape);
}

int pass_cse(PassCtx *c)
{
    Module *m = c->m;
    int changed = 0;
    for (int gi = 0; gi < m->n_graphs; gi++) {
        Graph *g = m->graphs[gi];
        Arena keys = { 0 };
        NameMap seen = { 0 };
        char buf[4096];
        for (int i = 0; i < g->n_nodes; i++) {
            Node *n = g->nodes[i];
            if (n->op == OP_INPUT || (op_info[n->op].flags & OPF_STATE)) continue;
            node_key(m, n, buf, sizeof buf);
            int first = namemap_get(&seen, buf);
            if (first >= 0) {
                ir_replace_uses(g, n, g->nodes[first]);
                changed++;
            } else {
                namemap_put(&keys, &seen, arena_strdup(&keys, buf), i);
            }
        }
        arena_free(&keys);
    }
    return changed;
}
