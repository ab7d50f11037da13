/* pack_weights.c — weights laid out for the kernels that read them.
 *
 * Hugging Face GPT-2 stores its projections [in, out] (Conv1D), read by matmul(x, W) with
 * tb=0: a decode-time matrix-vector product then walks W across rows for every output
 * vector, and runs at 14 GFLOP/s where the tb=1 kernel — contiguous dot products over the
 * rows of [out, in] — runs at 32 (tests/backend, 768 x 3072, AVX-512). So a weight read
 * only as the second operand of tb=0 matmuls becomes its transposed view and those matmuls
 * get tb=1. The IR holds no data: the weight node names the file's tensor with
 * transposed=1, and the blob writer and the interpreter read that layout through
 * ir_weight_read_f32. The untransposed entry, now unused, leaves with the next dce. */
#include "passes/passes.h"

#include <stdlib.h>

int pass_pack_weights(PassCtx *c)
{
    Module *m = c->m;
    int changed = 0;
    for (int gi = 0; gi < m->n_graphs; gi++) {
        Graph *g = m->graphs[gi];
        /* bad[w] = 1: weight node w has a use other than "operand b of a tb=0 matmul" */
        char *bad = xcalloc((size_t)g->n_nodes + 1, 1), *used = xcalloc((size_t)g->n_nodes + 1, 1);
        for (int i = 0; i < g->n_nodes; i++) {
            const Node *n = g->nodes[i];
            for (int j = 0; j < n->n_in; j++) {
                const Node *x = n->in[j];
                if (x->op != OP_WEIGHT) continue;
                used[x->id] = 1;
                if (n->op != OP_MATMUL || j != 1 || ir_attr_int(n, A_tb, 0) != 0) bad[x->id] = 1;
            }
        }
        for (int i = 0; i < g->n_outputs; i++) bad[g->outputs[i].node->id] = 1;
        for (int i = 0; i < g->n_nodes; i++) {
            Node *w = g->nodes[i];
            if (w->op != OP_WEIGHT || !used[i] || bad[i] || w->shape.rank != 2 || m->weights[w->ref].transposed)
                continue;
            w->ref = ir_module_weight_transposed(m, w->ref);
            ir_node_set_attr(m, w, A_transposed)->v.i = 1;
            w->shape = m->weights[w->ref].shape;
            for (int k = i + 1; k < g->n_nodes; k++) {
                Node *n = g->nodes[k];
                if (n->op == OP_MATMUL && n->in[1] == w) ir_node_set_attr(m, n, A_tb)->v.i = 1;
            }
            changed++;
        }
        free(bad);
        free(used);
    }
    return changed;
}
