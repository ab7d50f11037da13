/* test_verify.c — the verifier rejects each kind of broken graph that text cannot express.
 *
 * The .kir cases in tests/bad/ cover what a parser can be given (wrong recorded types,
 * missing attributes, arity, unknown states, duplicate outputs, ...). A pass, though,
 * works on the C structures and can break invariants that no text can: an input that is
 * defined later or in another graph, ids out of step, a weight node pointing at the wrong
 * tensor, a recorded shape that disagrees with inference, an unsorted attribute list. Each
 * case builds a valid graph, checks that it verifies, breaks one thing and checks that the
 * verifier reports it with the expected words. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

typedef struct Fixture {
    Arena a;
    Diag d;
    char *log;
    size_t log_len;
    Module *m;
    Graph *g;
    Node *x, *w, *y, *z;
} Fixture;

/* forward: x (seq, 4) -> y = matmul(x, w) -> z = gelu(y); output out = z */
static void build(Fixture *f)
{
    memset(f, 0, sizeof *f);
    diag_init(&f->d);
    f->d.out = open_memstream(&f->log, &f->log_len);
    f->m = ir_module_new(&f->a);
    int seq = ir_module_add_sym(f->m, "seq", 8, loc_make(0, 0, 0));
    Shape ws = { 2, { { 4, { 0, 0 } }, { 4, { 0, 0 } } } };
    int wi = ir_module_add_weight(f->m, "w", DT_F32, &ws, loc_make(0, 0, 0));
    f->g = ir_graph_new(f->m, "forward", loc_make(0, 0, 0));
    f->x = ir_node_new(f->g, OP_INPUT, "x", loc_make(0, 1, 1));
    f->x->dtype = DT_F32;
    f->x->shape.rank = 2;
    f->x->shape.d[0] = dim_sym(seq);
    f->x->shape.d[1] = dim_const(4);
    f->w = ir_node_new(f->g, OP_WEIGHT, "w", loc_make(0, 2, 1));
    ir_node_set_attr(f->m, f->w, A_tensor)->v.s = "w";
    f->w->ref = wi;
    f->y = ir_node_new(f->g, OP_MATMUL, "y", loc_make(0, 3, 1));
    ir_node_add_input(f->y, f->x);
    ir_node_add_input(f->y, f->w);
    f->z = ir_node_new(f->g, OP_GELU, "z", loc_make(0, 4, 1));
    ir_node_add_input(f->z, f->y);
    ir_node_set_attr(f->m, f->z, A_approx)->v.s = "tanh";
    for (int i = 0; i < f->g->n_nodes; i++)
        if (ir_infer(f->m, f->g->nodes[i], &f->d)) abort();
    ir_graph_add_output(f->g, "out", f->z, loc_make(0, 5, 1));
}

static void done(Fixture *f)
{
    fclose(f->d.out);
    free(f->log);
    diag_free(&f->d);
    arena_free(&f->a);
}

static int failures;

static void expect(Fixture *f, const char *name, const char *words)
{
    fflush(f->d.out);
    int bad = ir_verify(f->m, &f->d);
    fflush(f->d.out);
    int ok = bad > 0 && f->log && strstr(f->log, words);
    printf("%s %s: %s", ok ? "PASS" : "FAIL", name, f->log && f->log[0] ? f->log : "(no error)\n");
    failures += !ok;
    done(f);
}

int main(void)
{
    Fixture f;

    build(&f);
    int bad = ir_verify(f.m, &f.d);
    fflush(f.d.out);
    printf("%s valid graph verifies%s%s", bad ? "FAIL" : "PASS", bad ? ": " : "\n", bad ? f.log : "");
    failures += bad != 0;
    done(&f);

    build(&f);      /* y uses z, which comes after it */
    f.y->in[0] = f.z;
    expect(&f, "input defined later", "input 1 'z' is not defined before it");

    build(&f);      /* an input from another graph */
    Graph *other = ir_graph_new(f.m, "other", loc_make(0, 0, 0));
    Node *stranger = ir_node_new(other, OP_INPUT, "s", loc_make(0, 9, 1));
    stranger->dtype = DT_F32;
    stranger->shape = f.x->shape;
    ir_graph_add_output(other, "o", stranger, loc_make(0, 0, 0));
    f.y->in[0] = stranger;
    expect(&f, "input from another graph", "input 1 's' is not defined before it");

    build(&f);      /* ids out of step with positions */
    f.z->id = 7;
    expect(&f, "id out of step", "id 7 at position 3");

    build(&f);      /* recorded shape disagrees with inference */
    f.y->shape.d[1] = dim_const(5);
    expect(&f, "recorded shape", "recorded type f32[seq, 5] differs from the inferred f32[seq, 4]");

    build(&f);      /* recorded dtype disagrees */
    f.z->dtype = DT_F16;
    expect(&f, "recorded dtype", "recorded type f16[seq, 4] differs from the inferred f32[seq, 4]");

    build(&f);      /* weight node pointing at no tensor */
    f.w->ref = 3;
    expect(&f, "weight ref", "tensor 'w' is not declared");

    build(&f);      /* an op whose arity is wrong */
    f.z->n_in = 2;
    f.z->in[1] = f.y;
    expect(&f, "arity", "takes 1 inputs, not 2");

    build(&f);      /* an attribute the op does not take */
    ir_node_set_attr(f.m, f.y, A_eps)->v.f = 1e-5;
    expect(&f, "foreign attribute", "matmul takes no attribute 'eps'");

    build(&f);      /* a required attribute removed */
    f.z->n_attrs = 0;
    expect(&f, "missing attribute", "missing attribute 'approx'");

    build(&f);      /* two nodes with one name */
    f.z->name = "y";
    expect(&f, "duplicate name", "name 'y' is defined twice");

    build(&f);      /* an output that is not a node of the graph */
    f.g->outputs[0].node = stranger = arena_alloc(&f.a, sizeof *stranger);
    stranger->name = "ghost";
    expect(&f, "output not in graph", "output 'out' is not a node of graph 'forward'");

    build(&f);      /* no outputs */
    f.g->n_outputs = 0;
    expect(&f, "no outputs", "graph 'forward' has no outputs");

    build(&f);      /* an input node missing from the input list */
    f.g->n_inputs = 0;
    expect(&f, "input list", "input 'x' is not in the graph's input list");

    build(&f);      /* a symbol with an absurd bound */
    f.m->syms[1].max = (int64_t)1 << 50;
    expect(&f, "absurd bound", "dimension 'seq': max 1125899906842624 is out of range");

    build(&f);      /* a weight declared with a symbolic dim */
    f.m->weights[0].shape.d[0] = dim_sym(1);
    expect(&f, "symbolic weight", "weight 'w': dimension 0 of [seq, 4] is not allowed here");

    build(&f);      /* a state with a batch axis past its rank */
    Shape ss = { 2, { { 4, { 0, 0 } }, { 4, { 0, 0 } } } };
    ir_module_add_state(f.m, "kv", DT_F32, &ss, 5, loc_make(0, 0, 0));
    expect(&f, "state batch axis", "state 'kv': batch axis 5 is out of range");

    printf("%s\n", failures ? "verifier tests FAILED" : "all verifier tests passed");
    return failures ? 1 : 0;
}
