/* test_attention_plan.c — with attention fused, the memory plan holds no scores.
 *
 * For each model given: load it (without weights), run the whole pipeline, plan every
 * graph, and check that no softmax is left and no planned value is a (batch, heads,
 * queries, keys) matrix of scores — rank 4, its last two dims both growing with the
 * sequence. The same check on the plan without fuse-attention must find them (so the test
 * can fail). Prints both arenas and the size of one such buffer at T = S = the context
 * size (the symbols' bounds); the arena itself is the peak of the plan, which the logits
 * of a long prompt may set, so it is reported, not compared. */
#include "frontend/frontend.h"
#include "passes/passes.h"
#include "tests/check.h"

#include <stdio.h>
#include <stdlib.h>



/* Plans every graph of path after the pipeline (minus `disabled`); returns the largest
 * arena and the heads × bound² scores bytes of the widest attention seen. */
static uint64_t plan_model(const char *path, const char *disabled, uint64_t *scores_bytes, int *matrices)
{
    Arena a = { 0 };
    Diag d;
    diag_init(&d);
    Module *m = fe_load(&a, &d, path, FE_NO_WEIGHTS);
    if (!m) {
        printf("FAIL %s: does not load\n", path);
        exit(1);
    }
    PassOptions po = { 0 };
    po.disabled = disabled;
    po.verify = 1;
    int stopped;
    CHECK(passes_run(m, &po, &d, &stopped) == 0, "%s: passes fail", path);
    uint64_t arena = 0;
    for (int gi = 0; gi < m->n_graphs; gi++) {
        const Graph *g = m->graphs[gi];
        MemPlan plan;
        CHECK(pass_plan_memory(m, g, &plan, &d) == 0, "%s: plan fails", path);
        if (plan.arena_bytes > arena) arena = plan.arena_bytes;
        for (int i = 0; i < g->n_nodes; i++) {
            const Node *n = g->nodes[i];
            if (n->op == OP_ATTENTION) {
                int64_t s = m->syms[n->in[0]->shape.d[2].sym[0]].max;   /* queries: seq or tgt */
                uint64_t bytes = (uint64_t)n->shape.d[1].k * (uint64_t)s * (uint64_t)s * 4;
                if (bytes > *scores_bytes) *scores_bytes = bytes;
            }
            if (plan.offset[i] == PLAN_NONE) continue;
            const Shape *s = &n->shape;
            if (n->op == OP_SOFTMAX || (s->rank == 4 && !dim_is_const(s->d[2]) && !dim_is_const(s->d[3]))) {
                if (!disabled) printf("  '%s' (%s) is a matrix of scores in the plan (%llu bytes)\n", n->name,
                                      op_name(n->op), (unsigned long long)plan.bytes[i]);
                ++*matrices;
            }
        }
        mem_plan_free(&plan);
    }
    fe_release(m);
    arena_free(&a);
    diag_free(&d);
    return arena;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        uint64_t scores = 0, unused = 0;
        int left = 0, unfused_left = 0;
        uint64_t fused = plan_model(argv[i], NULL, &scores, &left);
        uint64_t unfused = plan_model(argv[i], "fuse-attention", &unused, &unfused_left);
        CHECK(scores > 0, "%s: no attention fused", argv[i]);
        CHECK(left == 0, "%s: %d matrices of scores in the plan with attention fused", argv[i], left);
        CHECK(unfused_left > 0, "%s: the plan without fuse-attention has no scores either: the check sees nothing", argv[i]);
        printf("%s: arena %.1f MiB fused, %.1f MiB unfused (scores at T = S = context: %.1f MiB)\n", argv[i],
               fused / 1048576.0, unfused / 1048576.0, scores / 1048576.0);
    }
    if (check_failures) printf("%d failures\n", check_failures);
    return check_failures ? 1 : 0;
}
