/* dce.c — dead-node elimination, and the rewiring helpers every pass shares.
 *
 * A node is live when a graph output needs it, when it writes a state (a cache write is
 * what the next step reads, even if nothing reads its result now), or when it is a graph
 * input (inputs are the graph's signature). Everything else is dropped. Weights no graph
 * uses any more leave the module's weight table too, so they leave the executable.
 * The helpers every pass shares live here too: rewiring uses, dropping nodes, counting
 * readers. */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

void ir_replace_uses(Graph *g, Node *old, Node *new_node)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i]->n_in; j++)
            if (g->nodes[i]->in[j] == old) g->nodes[i]->in[j] = new_node;
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i].node == old) g->outputs[i].node = new_node;
}

void readers_count(const Graph *g, Readers *r)
{
    r->count = xcalloc((size_t)g->n_nodes + 1, sizeof *r->count);
    r->reader = xcalloc((size_t)g->n_nodes + 1, sizeof *r->reader);
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i]->n_in; j++) {
            r->count[g->nodes[i]->in[j]->id]++;
            r->reader[g->nodes[i]->in[j]->id] = g->nodes[i];
        }
    for (int i = 0; i < g->n_outputs; i++) r->count[g->outputs[i].node->id] += READ_BY_OUTPUT;
}

void readers_free(Readers *r)
{
    free(r->count);
    free(r->reader);
}

const char *readers_kept(const Readers *r, const Node *n, char *why, size_t cap)
{
    int c = r->count[n->id];
    if (c >= READ_BY_OUTPUT) snprintf(why, cap, "'%s' is a graph output", n->name);
    else if (c > 1) snprintf(why, cap, "'%s' has %d readers", n->name, c);
    else if (c == 0) snprintf(why, cap, "'%s' has no reader", n->name);
    else return NULL;
    return why;
}

int readers_private(const Readers *r, const Node *n)
{
    return r->count[n->id] == 1;
}

void ir_graph_keep(Graph *g, const char *keep)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (keep[i]) g->nodes[n++] = g->nodes[i];
    g->n_nodes = n;
    ir_graph_renumber(g);
}

void ir_graph_drop(Graph *g, const char *dead)
{
    char *keep = xcalloc((size_t)g->n_nodes + 1, 1);
    for (int i = 0; i < g->n_nodes; i++) keep[i] = !dead[i];
    ir_graph_keep(g, keep);
    free(keep);
}

Node *ir_node_in_place_of(Graph *g, OpKind op, Node *old)
{
    Node *n = ir_node_new(g, op, old->name, old->loc);
    g->n_nodes--;                       /* ir_node_new appended it: it takes old's slot instead */
    n->id = old->id;
    g->nodes[old->id] = n;
    return n;
}

void ir_graph_splice(Graph *g, int n_old, const int *slot, const char *dead)
{
    int n_new = g->n_nodes - n_old, k = 0;
    char *takes = xcalloc((size_t)n_old + 1, 1);       /* old i has appended nodes before it */
    for (int j = 0; j < n_new; j++) takes[slot[j]] = 1;
    Node **order = xcalloc((size_t)g->n_nodes + 1, sizeof *order);
    for (int i = 0; i < n_old; i++) {
        for (int j = 0; takes[i] && j < n_new; j++)
            if (slot[j] == i) order[k++] = g->nodes[n_old + j];
        if (!dead[i]) order[k++] = g->nodes[i];
    }
    memcpy(g->nodes, order, (size_t)k * sizeof *order);
    g->n_nodes = k;
    ir_graph_renumber(g);
    free(order);
    free(takes);
}

/* Drops module weights that no WEIGHT node refers to, renumbering the refs. */
static int prune_weights(Module *m)
{
    int *map = xcalloc((size_t)m->n_weights + 1, sizeof *map);
    for (int gi = 0; gi < m->n_graphs; gi++)
        for (int i = 0; i < m->graphs[gi]->n_nodes; i++) {
            Node *n = m->graphs[gi]->nodes[i];
            if (n->op == OP_WEIGHT) map[n->ref] = 1;
        }
    int kept = 0, dropped = 0;
    for (int w = 0; w < m->n_weights; w++) {
        if (!map[w]) {
            dropped++;
            map[w] = -1;
            continue;
        }
        m->weights[kept] = m->weights[w];
        map[w] = kept++;
    }
    if (dropped) {
        m->n_weights = kept;
        memset(&m->weight_index, 0, sizeof m->weight_index);
        for (int w = 0; w < kept; w++)      /* the index is by file tensor: untransposed entries only */
            if (!m->weights[w].transposed && !m->weights[w].n_parts) namemap_put(m->arena, &m->weight_index, m->weights[w].tensor, w);
        for (int gi = 0; gi < m->n_graphs; gi++)
            for (int i = 0; i < m->graphs[gi]->n_nodes; i++) {
                Node *n = m->graphs[gi]->nodes[i];
                if (n->op == OP_WEIGHT) n->ref = map[n->ref];
            }
    }
    free(map);
    return dropped;
}

int pass_dce(PassCtx *c)
{
    Module *m = c->m;
    int changed = 0;
    for (int gi = 0; gi < m->n_graphs; gi++) {
        Graph *g = m->graphs[gi];
        char *live = xcalloc((size_t)g->n_nodes + 1, 1);
        for (int i = 0; i < g->n_outputs; i++) live[g->outputs[i].node->id] = 1;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i]->op == OP_INPUT || g->nodes[i]->op == OP_CACHE) live[i] = 1;
        /* nodes are in topological order: one backward sweep marks everything needed */
        for (int i = g->n_nodes - 1; i >= 0; i--)
            if (live[i])
                for (int j = 0; j < g->nodes[i]->n_in; j++) live[g->nodes[i]->in[j]->id] = 1;
        int before = g->n_nodes;
        ir_graph_keep(g, live);
        changed += before - g->n_nodes;
        free(live);
    }
    prune_weights(m);
    return changed;
}
