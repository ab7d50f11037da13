/* test_norm_plan.c — the two results of a fused add+norm cost no storage of their own.
 *
 * First a graph written here in .kir text: add_layernorm F : f32[2, seq, 4] read by take
 * index 0 (the sum), take index 1 (the norm), a reshape of the norm's take and a take along
 * axis 1 (a copy, which does get storage). The plan must give the aliases no offset, name
 * F as their storage and place them at the byte offsets worked out by hand (seq at its
 * bound 8: the norm's half starts 8·4·4 = 128 bytes in), and keep F alive until the last
 * reader of any of them.
 *
 * Then each model given: load it (without weights), run the whole pipeline, plan every
 * graph and check that every take of a fused norm is such an alias lying inside F's region,
 * that there is at least one, and that no two values alive at the same time overlap in the
 * arena, where "alive" runs from a value's node to the last reader of it or of any alias
 * into it (found here by walking the alias chains, not by the plan's alias_of). */
#include "frontend/frontend.h"
#include "passes/passes.h"
#include "tests/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>



static const Node *find(const Graph *g, const char *name)
{
    const Node *n = ir_graph_find(g, name);
    if (!n) {
        printf("FAIL: no node '%s'\n", name);
        exit(1);
    }
    return n;
}

/* ---- the hand-written graph --------------------------------------------------------------- */

static const char hand_kir[] =
    "kiln 1\n"
    "model \"t\"\n"
    "dim seq <= 8\n"
    "graph forward {\n"
    "  %a = input : f32[seq, 4]\n"
    "  %r = input : f32[seq, 4]\n"
    "  %w = input : f32[4]\n"
    "  %b = input : f32[4]\n"
    "  %f = add_layernorm %a, %r, %w, %b eps=1e-05 : f32[2, seq, 4]\n"
    "  %sum = take %f axis=0 index=0 : f32[seq, 4]\n"
    "  %norm = take %f axis=0 index=1 : f32[seq, 4]\n"
    "  %flat = reshape %norm shape=[seq, 2, 2] : f32[seq, 2, 2]\n"
    "  %col = take %f axis=2 index=3 : f32[2, seq]\n"
    "  %x = scale %flat value=2 : f32[seq, 2, 2]\n"
    "  %y = add %sum, %a : f32[seq, 4]\n"
    "  output x = %x\n"
    "  output y = %y\n"
    "  output col = %col\n"
    "}\n";

static void test_hand_graph(void)
{
    Arena a = { 0 };
    Diag d;
    diag_init(&d);
    Module *m = ir_parse(&a, &d, "hand.kir", hand_kir, strlen(hand_kir));
    if (!m || ir_verify(m, &d)) {
        printf("FAIL: the hand-written graph does not parse\n");
        exit(1);
    }
    const Graph *g = m->graphs[0];
    MemPlan p;
    CHECK(pass_plan_memory(m, g, &p, &d) == 0, "plan fails");
    const Node *f = find(g, "f"), *sum = find(g, "sum"), *norm = find(g, "norm"), *flat = find(g, "flat");
    const Node *col = find(g, "col"), *y = find(g, "y");
    CHECK(p.offset[f->id] != PLAN_NONE && p.bytes[f->id] == 2 * 8 * 4 * 4, "F has %llu bytes, not 256",
          (unsigned long long)p.bytes[f->id]);
    const Node *alias[3] = { sum, norm, flat };
    const uint64_t want[3] = { 0, 128, 128 };
    for (int i = 0; i < 3; i++) {
        const Node *t = alias[i];
        CHECK(p.offset[t->id] == PLAN_NONE, "'%s' has storage of its own at %llu", t->name,
              (unsigned long long)p.offset[t->id]);
        CHECK(p.alias_of[t->id] == f, "'%s' lies in '%s', not in 'f'", t->name, p.alias_of[t->id]->name);
        CHECK(p.alias_offset[t->id] == want[i], "'%s' lies %llu bytes into 'f', not %llu", t->name,
              (unsigned long long)p.alias_offset[t->id], (unsigned long long)want[i]);
    }
    CHECK(p.offset[col->id] != PLAN_NONE && p.alias_of[col->id] == col, "a take along axis 2 is a copy: it needs storage");
    /* y reads the sum after x and col were made: F must not be reused by anything before */
    uint64_t f0 = p.offset[f->id], f1 = f0 + p.bytes[f->id];
    for (int i = f->id + 1; i <= y->id; i++) {
        uint64_t o = p.offset[i];
        if (o == PLAN_NONE) continue;
        CHECK(o + p.bytes[i] <= f0 || o >= f1, "'%s' overlaps 'f' while the sum is still to be read", g->nodes[i]->name);
    }
    mem_plan_free(&p);
    arena_free(&a);
    diag_free(&d);
}

/* ---- models ------------------------------------------------------------------------------- */

/* The node whose storage x lies in, following reshapes and takes along axis 0. */
static const Node *storage_of(const Node *x)
{
    for (;;) {
        int take0 = x->op == OP_TAKE && (ir_attr_int(x, A_axis, 0) == 0 || ir_attr_int(x, A_axis, 0) == -x->in[0]->shape.rank);
        if (x->op != OP_RESHAPE && !take0) return x;
        x = x->in[0];
    }
}

/* No two values alive at the same time overlap in the arena. */
static void check_no_overlap(const char *path, const Graph *g, const MemPlan *p)
{
    int n = g->n_nodes;
    int *last = xcalloc((size_t)n + 1, sizeof *last);
    for (int i = 0; i < n; i++) {
        last[i] = i;            /* readers come later */
        for (int j = 0; j < g->nodes[i]->n_in; j++) last[storage_of(g->nodes[i]->in[j])->id] = i;
    }
    for (int i = 0; i < g->n_outputs; i++) last[storage_of(g->outputs[i].node)->id] = n;
    for (int i = 0; i < n; i++) {
        if (p->offset[i] == PLAN_NONE) continue;
        for (int j = i + 1; j < n && j <= last[i]; j++) {
            if (p->offset[j] == PLAN_NONE) continue;
            int apart = p->offset[i] + p->bytes[i] <= p->offset[j] || p->offset[j] + p->bytes[j] <= p->offset[i];
            CHECK(apart, "%s: '%s' and '%s' are alive together and overlap", path, g->nodes[i]->name, g->nodes[j]->name);
        }
    }
    free(last);
}

/* Every take of a fused norm is an alias inside the fused node's region; returns how many. */
static int check_fused_takes(const char *path, const Module *m, const Graph *g, const MemPlan *p)
{
    int takes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *t = g->nodes[i], *f = t->n_in ? t->in[0] : NULL;
        if (t->op != OP_TAKE || (f->op != OP_ADD_LAYERNORM && f->op != OP_ADD_RMSNORM)) continue;
        takes++;
        uint64_t half = (uint64_t)shape_numel_at_bounds(m, &t->shape) * 4, index = (uint64_t)ir_attr_int(t, A_index, 0);
        CHECK(p->offset[i] == PLAN_NONE, "%s: '%s' has storage of its own", path, t->name);
        CHECK(p->alias_of[i] == f, "%s: '%s' does not lie in '%s'", path, t->name, f->name);
        CHECK(p->alias_offset[i] == index * half, "%s: '%s' lies %llu bytes into '%s', not %llu", path, t->name,
              (unsigned long long)p->alias_offset[i], f->name, (unsigned long long)(index * half));
        CHECK(p->alias_offset[i] + half <= p->bytes[f->id], "%s: '%s' reaches beyond '%s'", path, t->name, f->name);
    }
    return takes;
}

static void test_model(const char *path)
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
    po.verify = 1;
    int stopped, takes = 0;
    CHECK(passes_run(m, &po, &d, &stopped) == 0, "%s: passes fail", path);
    for (int gi = 0; gi < m->n_graphs; gi++) {
        const Graph *g = m->graphs[gi];
        MemPlan plan;
        CHECK(pass_plan_memory(m, g, &plan, &d) == 0, "%s: plan fails", path);
        takes += check_fused_takes(path, m, g, &plan);
        check_no_overlap(path, g, &plan);
        mem_plan_free(&plan);
    }
    CHECK(takes > 0, "%s: no fused norm is read", path);
    printf("%s: %d takes of fused norms, all aliases\n", path, takes);
    fe_release(m);
    arena_free(&a);
    diag_free(&d);
}

int main(int argc, char **argv)
{
    test_hand_graph();
    for (int i = 1; i < argc; i++) test_model(argv[i]);
    if (check_failures) printf("%d failures\n", check_failures);
    else printf("PASS\n");
    return check_failures ? 1 : 0;
}
