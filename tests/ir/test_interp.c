/* test_interp.c — the reference interpreter against values worked out independently.
 *
 * Each case builds a small module with the builder API (ir_module_*, ir_node_*, ir_infer),
 * runs it in a fresh interpreter session and compares the outputs with numbers computed
 * here: by hand for tiny cases (the expected literals), or by a straightforward loop in
 * double precision written in this file, never by calling the interpreter's own helpers.
 * Fused ops are also compared with the unfused chains they replace. Error cases check that
 * the run fails with a user error whose text says what went wrong, and that the session
 * is unchanged. Every case prints PASS or FAIL; the exit status is 1 when any case failed. */
#include "ir/ir.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- a small world per case --------------------------------------------------------- */

typedef struct World {
    Arena arena;
    Module *m;
    Graph *g;
    Diag diag;
    char *err;          /* everything the Diag printed */
    size_t err_len;
    FILE *err_file;
    int bad;            /* builder failures */
    int count;          /* for node names */
} World;

static void w_init(World *w)
{
    memset(w, 0, sizeof *w);
    w->m = ir_module_new(&w->arena);
    diag_init(&w->diag);
    w->err_file = open_memstream(&w->err, &w->err_len);
    w->diag.out = w->err_file;
    w->g = ir_graph_new(w->m, "forward", loc_make(0, 0, 0));
}

static void w_free(World *w)
{
    fclose(w->err_file);
    free(w->err);
    diag_free(&w->diag);
    arena_free(&w->arena);
}

/* Whether the diagnostics so far contain needle. */
static int said(World *w, const char *needle)
{
    fflush(w->err_file);
    if (w->err && strstr(w->err, needle)) return 1;
    printf("    expected a message containing \"%s\"; got: %s", needle, w->err ? w->err : "(nothing)\n");
    return 0;
}

static int sym(World *w, const char *name, int64_t max)
{
    return ir_module_add_sym(w->m, name, max, loc_make(0, 0, 0));
}

static Dim C(int64_t k) { return dim_const(k); }
static Dim S(World *w, const char *name) { return dim_sym(ir_module_sym(w->m, name)); }
static Dim SUM(World *w, const char *a, const char *b)
{
    Dim d;
    dim_add(S(w, a), S(w, b), &d);
    return d;
}

static Shape shp(int rank, ...)
{
    Shape s = { rank, { { 0, { 0, 0 } } } };
    va_list ap;
    va_start(ap, rank);
    for (int i = 0; i < rank; i++) s.d[i] = va_arg(ap, Dim);
    va_end(ap);
    return s;
}

static Node *input(World *w, const char *name, DType dt, Shape s)
{
    Node *n = ir_node_new(w->g, OP_INPUT, name, loc_make(0, 0, 0));
    n->dtype = dt;
    n->shape = s;
    return n;
}

/* A node with inputs a.. (NULL ends), not yet inferred: set attributes, then done(). */
static Node *node(World *w, OpKind op, Node *a, Node *b, Node *c, Node *d)
{
    char name[32];
    snprintf(name, sizeof name, "%s%d", op_name(op), w->count++);
    Node *n = ir_node_new(w->g, op, name, loc_make(0, 0, 0));
    Node *in[4] = { a, b, c, d };
    for (int i = 0; i < 4 && in[i]; i++) ir_node_add_input(n, in[i]);
    return n;
}

static Node *done(World *w, Node *n)
{
    if (ir_infer(w->m, n, &w->diag)) {
        fflush(w->err_file);
        printf("    builder: inference failed for %s: %s", n->name, w->err ? w->err : "?\n");
        w->bad++;
    }
    return n;
}

static void set_i(World *w, Node *n, AttrKind k, int64_t v) { ir_node_set_attr(w->m, n, k)->v.i = v; }
static void set_f(World *w, Node *n, AttrKind k, double v) { ir_node_set_attr(w->m, n, k)->v.f = v; }
static void set_s(World *w, Node *n, AttrKind k, const char *v)
{
    ir_node_set_attr(w->m, n, k)->v.s = arena_strdup(&w->arena, v);
}
static void set_dim(World *w, Node *n, AttrKind k, Dim d) { ir_node_set_attr(w->m, n, k)->v.dim = d; }
static void set_ints(World *w, Node *n, AttrKind k, int cnt, const int64_t *v)
{
    Attr *a = ir_node_set_attr(w->m, n, k);
    a->n = cnt;
    for (int i = 0; i < cnt; i++) a->v.ints[i] = v[i];
}
static void set_dims(World *w, Node *n, AttrKind k, Shape s)
{
    Attr *a = ir_node_set_attr(w->m, n, k);
    a->n = s.rank;
    for (int i = 0; i < s.rank; i++) a->v.dims[i] = s.d[i];
}

/* Shorthands for common nodes. */
static Node *unary(World *w, OpKind op, Node *x) { return done(w, node(w, op, x, NULL, NULL, NULL)); }
static Node *binary(World *w, OpKind op, Node *a, Node *b) { return done(w, node(w, op, a, b, NULL, NULL)); }

static Node *weight(World *w, const char *name, DType dt, Shape s, const void *data)
{
    int i = ir_module_add_weight(w->m, name, dt, &s, loc_make(0, 0, 0));
    w->m->weights[i].data = data;
    Node *n = node(w, OP_WEIGHT, NULL, NULL, NULL, NULL);
    n->ref = i;
    set_s(w, n, A_tensor, name);
    return done(w, n);
}

static void output(World *w, Node *n) { ir_graph_add_output(w->g, n->name, n, loc_make(0, 0, 0)); }

/* A tensor from values (f32 or i32) and extents. */
static Tensor mk(DType dt, const void *vals, int rank, ...)
{
    int64_t dims[IR_MAX_RANK];
    va_list ap;
    va_start(ap, rank);
    for (int i = 0; i < rank; i++) dims[i] = va_arg(ap, int);
    va_end(ap);
    Tensor t;
    if (tensor_alloc(&t, dt, rank, dims)) abort();
    if (vals) memcpy(t.data, vals, (size_t)(4 * tensor_numel(&t)));
    return t;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float rnd(void)          /* uniform in [-1, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2 - 1);
}

static Tensor mk_random(int rank, const int64_t *dims)
{
    Tensor t;
    if (tensor_alloc(&t, DT_F32, rank, dims)) abort();
    for (int64_t i = 0; i < tensor_numel(&t); i++) ((float *)t.data)[i] = rnd();
    return t;
}

/* got against want within tol * (1 + |want|); equal infinities and NaNs match. */
static int check(const char *what, const Tensor *t, int rank, const int64_t *dims, const double *want, double tol)
{
    if (t->dtype != DT_F32 || t->rank != rank) {
        printf("    %s: got dtype %d rank %d, expected f32 rank %d\n", what, t->dtype, t->rank, rank);
        return 1;
    }
    for (int i = 0; i < rank; i++)
        if (t->dim[i] != dims[i]) {
            printf("    %s: extent %d is %lld, expected %lld\n", what, i, (long long)t->dim[i], (long long)dims[i]);
            return 1;
        }
    const float *g = t->data;
    for (int64_t i = 0; i < tensor_numel(t); i++) {
        double x = g[i], y = want[i];
        int ok = (isnan(x) && isnan(y)) || x == y || fabs(x - y) <= tol * (1 + fabs(y));
        if (!ok) {
            printf("    %s: element %lld is %.9g, expected %.9g\n", what, (long long)i, x, y);
            return 1;
        }
    }
    return 0;
}

static int check_i(const char *what, const Tensor *t, int rank, const int64_t *dims, const int32_t *want)
{
    if (t->dtype != DT_I32 || t->rank != rank) {
        printf("    %s: got dtype %d rank %d, expected i32 rank %d\n", what, t->dtype, t->rank, rank);
        return 1;
    }
    for (int i = 0; i < rank; i++)
        if (t->dim[i] != dims[i]) {
            printf("    %s: extent %d is %lld, expected %lld\n", what, i, (long long)t->dim[i], (long long)dims[i]);
            return 1;
        }
    for (int64_t i = 0; i < tensor_numel(t); i++)
        if (((const int32_t *)t->data)[i] != want[i]) {
            printf("    %s: element %lld is %d, expected %d\n", what, (long long)i, ((const int32_t *)t->data)[i],
                   want[i]);
            return 1;
        }
    return 0;
}

/* Two interpreter outputs, bit for bit or within tol. */
static int same(const char *what, const Tensor *a, const Tensor *b, double tol)
{
    double *want = malloc(sizeof(double) * (size_t)tensor_numel(b));
    for (int64_t i = 0; i < tensor_numel(b); i++) want[i] = ((const float *)b->data)[i];
    int r = check(what, a, b->rank, b->dim, want, tol);
    free(want);
    return r;
}

static void free_all(Tensor *t, int n)
{
    for (int i = 0; i < n; i++) tensor_free(&t[i]);
}

/* Runs the world's graph once in a fresh session. */
static int run1(World *w, Tensor *ins, Tensor *outs)
{
    if (w->bad) return -1;
    Interp *in = interp_new(w->m, &w->diag);
    if (!in) return -1;
    int rc = interp_run(in, w->g, ins, outs);
    interp_free(in);
    if (rc) {
        fflush(w->err_file);
        printf("    run failed: %s", w->err ? w->err : "?\n");
    }
    return rc;
}

#define DIMS(...) ((const int64_t[]){ __VA_ARGS__ })
#define VALS(...) ((const double[]){ __VA_ARGS__ })

/* ---- elementwise --------------------------------------------------------------------- */

static int test_binary_broadcast(void)
{
    World w;
    w_init(&w);
    Node *a = input(&w, "a", DT_F32, shp(3, C(2), C(1), C(3)));
    Node *b = input(&w, "b", DT_F32, shp(2, C(4), C(1)));
    OpKind ops[4] = { OP_ADD, OP_SUB, OP_MUL, OP_DIV };
    for (int i = 0; i < 4; i++) output(&w, binary(&w, ops[i], a, b));
    float av[6] = { 1, 2, 3, 4, 5, 6 }, bv[4] = { 1, 2, 4, -8 };
    Tensor ins[2] = { mk(DT_F32, av, 3, 2, 1, 3), mk(DT_F32, bv, 2, 4, 1) }, outs[4];
    int fails = run1(&w, ins, outs) != 0;
    for (int op = 0; op < 4 && !fails; op++) {
        double want[24];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 3; k++) {
                    double x = av[i * 3 + k], y = bv[j];
                    want[(i * 4 + j) * 3 + k] = op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
                }
        fails += check(op_name(ops[op]), &outs[op], 3, DIMS(2, 4, 3), want, 1e-7);
    }
    if (!fails) free_all(outs, 4);
    free_all(ins, 2);
    w_free(&w);
    return fails;
}

static int test_unary(void)
{
    World w;
    w_init(&w);
    Node *x = input(&w, "x", DT_F32, shp(1, C(5)));
    Node *sc = node(&w, OP_SCALE, x, NULL, NULL, NULL);
    set_f(&w, sc, A_value, -0.5);
    output(&w, done(&w, sc));
    output(&w, unary(&w, OP_RELU, x));
    output(&w, unary(&w, OP_SILU, x));
    output(&w, unary(&w, OP_SIGMOID, x));
    output(&w, unary(&w, OP_TANH, x));
    Node *ge = node(&w, OP_GELU, x, NULL, NULL, NULL);
    set_s(&w, ge, A_approx, "erf");
    output(&w, done(&w, ge));
    Node *gt = node(&w, OP_GELU, x, NULL, NULL, NULL);
    set_s(&w, gt, A_approx, "tanh");
    output(&w, done(&w, gt));
    float xv[5] = { -2, -0.5f, 0, 1, 3 };
    Tensor in = mk(DT_F32, xv, 1, 5), outs[7];
    int fails = run1(&w, &in, outs) != 0;
    if (!fails) {
        double want[7][5];
        for (int i = 0; i < 5; i++) {
            double v = xv[i];
            want[0][i] = -0.5 * v;
            want[1][i] = v > 0 ? v : 0;
            want[2][i] = v / (1 + exp(-v));
            want[3][i] = 1 / (1 + exp(-v));
            want[4][i] = tanh(v);
            want[5][i] = v * 0.5 * erfc(-v / sqrt(2.0));        /* Phi via erfc: a different route */
            double u = sqrt(2 / M_PI) * (v + 0.044715 * v * v * v);
            want[6][i] = 0.5 * v * (1 + tanh(u));
        }
        /* literature values: gelu(1) = 0.841344746068543 (erf), 0.841191990608276 (tanh) */
        want[5][3] = 0.841344746068543;
        want[6][3] = 0.841191990608276;
        const char *names[7] = { "scale", "relu", "silu", "sigmoid", "tanh", "gelu erf", "gelu tanh" };
        for (int k = 0; k < 7; k++) fails += check(names[k], &outs[k], 1, DIMS(5), want[k], 2e-7);
        free_all(outs, 7);
    }
    tensor_free(&in);
    w_free(&w);
    return fails;
}

/* ---- matmul ------------------------------------------------------------------------------ */

static int test_matmul_small(void)
{
    World w;
    w_init(&w);
    Node *a = input(&w, "a", DT_F32, shp(2, C(2), C(3)));
    Node *b = input(&w, "b", DT_F32, shp(2, C(3), C(2)));
    Node *bt = input(&w, "bt", DT_F32, shp(2, C(2), C(3)));
    output(&w, binary(&w, OP_MATMUL, a, b));
    Node *mt = node(&w, OP_MATMUL, a, bt, NULL, NULL);
    set_i(&w, mt, A_tb, 1);
    output(&w, done(&w, mt));
    /* [1 2 3; 4 5 6] @ [7 8; 9 10; 11 12] = [58 64; 139 154] */
    float av[] = { 1, 2, 3, 4, 5, 6 }, bv[] = { 7, 8, 9, 10, 11, 12 }, btv[] = { 7, 9, 11, 8, 10, 12 };
    Tensor ins[3] = { mk(DT_F32, av, 2, 2, 3), mk(DT_F32, bv, 2, 3, 2), mk(DT_F32, btv, 2, 2, 3) }, outs[2];
    int fails = run1(&w, ins, outs) != 0;
    if (!fails) {
        fails += check("a@b", &outs[0], 2, DIMS(2, 2), VALS(58, 64, 139, 154), 0);
        fails += check("a@bt^T", &outs[1], 2, DIMS(2, 2), VALS(58, 64, 139, 154), 0);
        free_all(outs, 2);
    }
    free_all(ins, 3);
    w_free(&w);
    return fails;
}

/* (2, 1, m, k) @ (3, k, n) → (2, 3, m, n), and the same with b stored (3, n, k) and tb. */
static int test_matmul_broadcast(void)
{
    enum { M = 3, K = 5, N = 4 };
    World w;
    w_init(&w);
    Node *a = input(&w, "a", DT_F32, shp(4, C(2), C(1), C(M), C(K)));
    Node *b = input(&w, "b", DT_F32, shp(3, C(3), C(K), C(N)));
    Node *bt = input(&w, "bt", DT_F32, shp(3, C(3), C(N), C(K)));
    output(&w, binary(&w, OP_MATMUL, a, b));
    Node *mt = node(&w, OP_MATMUL, a, bt, NULL, NULL);
    set_i(&w, mt, A_tb, 1);
    output(&w, done(&w, mt));
    Tensor ins[3] = { mk_random(4, DIMS(2, 1, M, K)), mk_random(3, DIMS(3, K, N)), mk_random(3, DIMS(3, N, K)) }, outs[2];
    int fails = run1(&w, ins, outs) != 0;
    if (!fails) {
        const float *A = ins[0].data, *B = ins[1].data, *BT = ins[2].data;
        double want[2][2 * 3 * M * N];
        for (int p = 0; p < 2; p++)
            for (int q = 0; q < 3; q++)
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double s = 0, st = 0;
                        for (int k = 0; k < K; k++) {
                            s += (double)A[(p * M + i) * K + k] * B[(q * K + k) * N + j];
                            st += (double)A[(p * M + i) * K + k] * BT[(q * N + j) * K + k];
                        }
                        want[0][((p * 3 + q) * M + i) * N + j] = s;
                        want[1][((p * 3 + q) * M + i) * N + j] = st;
                    }
        fails += check("broadcast", &outs[0], 4, DIMS(2, 3, M, N), want[0], 1e-6);
        fails += check("broadcast tb", &outs[1], 4, DIMS(2, 3, M, N), want[1], 1e-6);
        free_all(outs, 2);
    }
    free_all(ins, 3);
    w_free(&w);
    return fails;
}

/* ---- softmax and norms ----------------------------------------------------------------- */

static int test_softmax(void)
{
    World w;
    w_init(&w);
    Node *x = input(&w, "x", DT_F32, shp(2, C(3), C(3)));
    output(&w, unary(&w, OP_SOFTMAX, x));
    float ni = -INFINITY;
    float xv[] = { 1, 2, 3, ni, ni, ni, 1000, ni, 1000 };
    Tensor in = mk(DT_F32, xv, 2, 3, 3), out;
    int fails = run1(&w, &in, &out) != 0;
    if (!fails) {
        double z = exp(-2.0) + exp(-1.0) + 1;
        fails += check("softmax", &out, 2, DIMS(3, 3),
                       VALS(exp(-2.0) / z, exp(-1.0) / z, 1 / z, 0, 0, 0, 0.5, 0, 0.5), 1e-7);
        tensor_free(&out);
    }
    tensor_free(&in);
    w_free(&w);
    return fails;
}

static int test_norms(void)
{
    World w;
    w_init(&w);
    Node *x = input(&w, "x", DT_F32, shp(2, C(2), C(4)));
    Node *g = input(&w, "g", DT_F32, shp(1, C(4)));
    Node *b = input(&w, "b", DT_F32, shp(1, C(4)));
    Node *ln = node(&w, OP_LAYERNORM, x, g, b, NULL);
    set_f(&w, ln, A_eps, 1e-5);
    output(&w, done(&w, ln));
    Node *rn = node(&w, OP_RMSNORM, x, g, NULL, NULL);
    set_f(&w, rn, A_eps, 1e-6);
    output(&w, done(&w, rn));
    float xv[] = { 1, 2, 3, 4, -1, 0, 1, 6 }, gv[] = { 1, 2, 0.5f, -1 }, bv[] = { 0, 1, 0, 0.25f };
    Tensor ins[3] = { mk(DT_F32, xv, 2, 2, 4), mk(DT_F32, gv, 1, 4), mk(DT_F32, bv, 1, 4) }, outs[2];
    int fails = run1(&w, ins, outs) != 0;
    if (!fails) {
        /* row 0: mean 2.5, biased var 1.25; row 1: mean 1.5, var (6.25+2.25+0.25+20.25)/4 = 7.25;
         * mean squares: 30/4 = 7.5 and 38/4 = 9.5 */
        double wl[8], wr[8];
        double mean[2] = { 2.5, 1.5 }, var[2] = { 1.25, 7.25 }, ms[2] = { 7.5, 9.5 };
        for (int r = 0; r < 2; r++)
            for (int j = 0; j < 4; j++) {
                wl[r * 4 + j] = (xv[r * 4 + j] - mean[r]) / sqrt(var[r] + 1e-5) * gv[j] + bv[j];
                wr[r * 4 + j] = xv[r * 4 + j] / sqrt(ms[r] + 1e-6) * gv[j];
            }
        fails += check("layernorm", &outs[0], 2, DIMS(2, 4), wl, 2e-7);
        fails += check("rmsnorm", &outs[1], 2, DIMS(2, 4), wr, 2e-7);
        free_all(outs, 2);
    }
    free_all(ins, 3);
    w_free(&w);
    return fails;
}

/* A take of x along axis 0 at index i (how the fused norms' two results are read). */
static Node *take0(World *w, Node *x, int64_t i)
{
    Node *t = node(w, OP_TAKE, x, NULL, NULL, NULL);
    set_i(w, t, A_axis, 0);
    set_i(w, t, A_index, i);
    return done(w, t);
}

/* ADD_LAYERNORM vs ADD then LAYERNORM, ADD_RMSNORM vs ADD then RMSNORM, bit for bit: the
 * fused result (2, 2, 3, 16) holds the sum at index 0 and the norm at index 1. */
static int test_add_norms(void)
{
    World w;
    w_init(&w);
    Node *a = input(&w, "a", DT_F32, shp(3, C(2), C(3), C(16)));
    Node *r = input(&w, "r", DT_F32, shp(3, C(2), C(3), C(16)));
    Node *g = input(&w, "g", DT_F32, shp(1, C(16)));
    Node *b = input(&w, "b", DT_F32, shp(1, C(16)));
    Node *sum = binary(&w, OP_ADD, a, r);
    output(&w, sum);
    Node *ln = node(&w, OP_LAYERNORM, sum, g, b, NULL);
    set_f(&w, ln, A_eps, 1e-5);
    output(&w, done(&w, ln));
    Node *rn = node(&w, OP_RMSNORM, sum, g, NULL, NULL);
    set_f(&w, rn, A_eps, 1e-6);
    output(&w, done(&w, rn));
    Node *aln = node(&w, OP_ADD_LAYERNORM, a, r, g, b);
    set_f(&w, aln, A_eps, 1e-5);
    done(&w, aln);
    output(&w, take0(&w, aln, 0));
    output(&w, take0(&w, aln, 1));
    Node *arn = node(&w, OP_ADD_RMSNORM, a, r, g, NULL);
    set_f(&w, arn, A_eps, 1e-6);
    done(&w, arn);
    output(&w, take0(&w, arn, 0));
    output(&w, take0(&w, arn, -1));
    int bad_shape = aln->shape.rank != 4 || !dim_eq(aln->shape.d[0], C(2)) || !dim_eq(aln->shape.d[3], C(16));
    if (bad_shape) printf("    add_layernorm: the result is not (2, 2, 3, 16)\n");
    Tensor ins[4] = { mk_random(3, DIMS(2, 3, 16)), mk_random(3, DIMS(2, 3, 16)), mk_random(1, DIMS(16)),
                      mk_random(1, DIMS(16)) }, outs[7];
    int fails = bad_shape + (run1(&w, ins, outs) != 0);
    if (!fails) {
        fails += same("add_layernorm sum", &outs[3], &outs[0], 0);
        fails += same("add_layernorm norm", &outs[4], &outs[1], 0);
        fails += same("add_rmsnorm sum", &outs[5], &outs[0], 0);
        fails += same("add_rmsnorm norm", &outs[6], &outs[2], 0);
        free_all(outs, 7);
    }
    free_all(ins, 4);
    w_free(&w);
    return fails;
}

/* ---- layout ------------------------------------------------------------------------------ */

static int test_layout(void)
{
    World w;
    w_init(&w);
    Node *x = input(&w, "x", DT_F32, shp(3, C(2), C(3), C(4)));
    Node *rs = node(&w, OP_RESHAPE, x, NULL, NULL, NULL);
    set_dims(&w, rs, A_shape, shp(2, C(6), C(4)));
    output(&w, done(&w, rs));
    Node *tr = node(&w, OP_TRANSPOSE, x, NULL, NULL, NULL);
    set_ints(&w, tr, A_perm, 3, DIMS(2, 0, 1));
    output(&w, done(&w, tr));
    Node *sl = node(&w, OP_SLICE, x, NULL, NULL, NULL);
    set_i(&w, sl, A_axis, -1);
    set_dim(&w, sl, A_start, C(1));
    set_i(&w, sl, A_len, 2);
    output(&w, done(&w, sl));
    Node *rp = node(&w, OP_REPEAT, x, NULL, NULL, NULL);
    set_i(&w, rp, A_axis, 1);
    set_i(&w, rp, A_times, 2);
    output(&w, done(&w, rp));
    Node *tk = node(&w, OP_TAKE, x, NULL, NULL, NULL);
    set_i(&w, tk, A_axis, 1);
    set_i(&w, tk, A_index, -1);
    output(&w, done(&w, tk));
    Node *t0 = node(&w, OP_TAKE, x, NULL, NULL, NULL);
    set_i(&w, t0, A_axis, 0);
    set_i(&w, t0, A_index, 1);
    output(&w, done(&w, t0));
    float xv[24];
    for (int i = 0; i < 24; i++) xv[i] = (float)i;       /* x[i][j][k] = 12i + 4j + k */
    Tensor in = mk(DT_F32, xv, 3, 2, 3, 4), outs[6];
    int fails = run1(&w, &in, outs) != 0;
    if (!fails) {
        double want[48];
        for (int i = 0; i < 24; i++) want[i] = i;
        fails += check("reshape", &outs[0], 2, DIMS(6, 4), want, 0);
        for (int k = 0; k < 4; k++)         /* y[k][i][j] = x[i][j][k] */
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++) want[(k * 2 + i) * 3 + j] = 12 * i + 4 * j + k;
        fails += check("transpose", &outs[1], 3, DIMS(4, 2, 3), want, 0);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 2; k++) want[(i * 3 + j) * 2 + k] = 12 * i + 4 * j + k + 1;
        fails += check("slice", &outs[2], 3, DIMS(2, 3, 2), want, 0);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 6; j++)
                for (int k = 0; k < 4; k++) want[(i * 6 + j) * 4 + k] = 12 * i + 4 * (j / 2) + k;
        fails += check("repeat", &outs[3], 3, DIMS(2, 6, 4), want, 0);
        fails += check("take -1", &outs[4], 2, DIMS(2, 4), VALS(8, 9, 10, 11, 20, 21, 22, 23), 0);
        fails += check("take axis 0", &outs[5], 2, DIMS(3, 4), VALS(12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23), 0);
        free_all(outs, 6);
    }
    tensor_free(&in);
    w_free(&w);
    return fails;
}

/* i32 data through layout ops (TRANSPOSE of ids), and TAKE out of range at run time. */
static int test_take_symbolic_range(void)
{
    World w;
    w_init(&w);
    sym(&w, "seq", 8);
    Node *x = input(&w, "x", DT_I32, shp(2, C(1), S(&w, "seq")));
    Node *tk = node(&w, OP_TAKE, x, NULL, NULL, NULL);
    set_i(&w, tk, A_axis, 1);
    set_i(&w, tk, A_index, -3);
    output(&w, done(&w, tk));
    Node *tr = node(&w, OP_TRANSPOSE, x, NULL, NULL, NULL);
    set_ints(&w, tr, A_perm, 2, DIMS(1, 0));
    output(&w, done(&w, tr));
    int32_t v[4] = { 5, 6, 7, 8 };
    Tensor ok = mk(DT_I32, v, 2, 1, 4), shortx = mk(DT_I32, v, 2, 1, 2), outs[2];
    int fails = w.bad != 0;
    Interp *in = fails ? NULL : interp_new(w.m, &w.diag);
    if (in) {
        if (interp_run(in, w.g, &ok, outs) != 0) fails++;
        else {
            fails += check_i("take -3", &outs[0], 1, DIMS(1), (const int32_t[]){ 6 });
            fails += check_i("transpose i32", &outs[1], 2, DIMS(4, 1), v);
            free_all(outs, 2);
        }
        if (interp_run(in, w.g, &shortx, outs) == 0) {
            printf("    take -3 of length 2 succeeded\n");
            fails++;
            free_all(outs, 2);
        } else fails += !said(&w, "index -3 is out of range for length 2");
        interp_free(in);
    }
    tensor_free(&ok);
    tensor_free(&shortx);
    w_free(&w);
    return fails;
}

/* ---- embeddings and positions ---------------------------------------------------------- */

static int test_gather(void)
{
    World w;
    w_init(&w);
    sym(&w, "seq", 8);
    float table[5 * 3];
    for (int i = 0; i < 15; i++) table[i] = (float)(10 * (i / 3) + i % 3);     /* row r: 10r, 10r+1, 10r+2 */
    Node *t = weight(&w, "wte", DT_F32, shp(2, C(5), C(3)), table);
    Node *ids = input(&w, "ids", DT_I32, shp(2, C(1), S(&w, "seq")));
    output(&w, binary(&w, OP_GATHER, t, ids));
    int32_t good[3] = { 4, 0, 2 }, bad[3] = { 1, 5, 0 }, neg[1] = { -1 };
    Tensor tg = mk(DT_I32, good, 2, 1, 3), tb = mk(DT_I32, bad, 2, 1, 3), tn = mk(DT_I32, neg, 2, 1, 1), out;
    int fails = w.bad != 0;
    Interp *in = fails ? NULL : interp_new(w.m, &w.diag);
    if (in) {
        if (interp_run(in, w.g, &tg, &out)) fails++;
        else {
            fails += check("gather", &out, 3, DIMS(1, 3, 3), VALS(40, 41, 42, 0, 1, 2, 20, 21, 22), 0);
            tensor_free(&out);
        }
        if (interp_run(in, w.g, &tb, &out) == 0) {
            printf("    id 5 of 5 rows accepted\n");
            fails++;
            tensor_free(&out);
        } else fails += !said(&w, "id 5 is out of range for a table of 5 rows");
        if (interp_run(in, w.g, &tn, &out) == 0) {
            printf("    id -1 accepted\n");
            fails++;
            tensor_free(&out);
        } else fails += !said(&w, "id -1 is out of range");
        interp_free(in);
    }
    tensor_free(&tg);
    tensor_free(&tb);
    tensor_free(&tn);
    w_free(&w);
    return fails;
}

static int test_positions(void)
{
    World w;
    w_init(&w);
    sym(&w, "batch", 4);
    sym(&w, "seq", 8);
    sym(&w, "past", 16);
    Node *ids = input(&w, "ids", DT_I32, shp(2, S(&w, "batch"), S(&w, "seq")));
    Node *p = node(&w, OP_POSITIONS, ids, NULL, NULL, NULL);
    set_dim(&w, p, A_start, S(&w, "past"));
    output(&w, done(&w, p));
    int32_t v[6] = { 0 };
    Tensor t = mk(DT_I32, v, 2, 2, 3), out;
    int fails = w.bad != 0;
    Interp *in = fails ? NULL : interp_new(w.m, &w.diag);
    if (in) {
        if (interp_run(in, w.g, &t, &out)) fails++;
        else {
            fails += check_i("positions past=0", &out, 2, DIMS(2, 3), (const int32_t[]){ 0, 1, 2, 0, 1, 2 });
            tensor_free(&out);
        }
        if (interp_bind(in, "past", 5) || interp_run(in, w.g, &t, &out)) fails++;
        else {
            fails += check_i("positions past=5", &out, 2, DIMS(2, 3), (const int32_t[]){ 5, 6, 7, 5, 6, 7 });
            tensor_free(&out);
        }
        if (interp_sym(in, "past") != 5) {
            printf("    past moved without a cache: %lld\n", (long long)interp_sym(in, "past"));
            fails++;
        }
        if (interp_sym(in, "seq") != 3 || interp_sym(in, "batch") != 2) {
            printf("    seq/batch not bound from the input\n");
            fails++;
        }
        interp_free(in);
    }
    tensor_free(&t);
    w_free(&w);
    return fails;
}

static int test_sinusoid(void)
{
    enum { D = 6 };
    World w;
    w_init(&w);
    Node *pos = input(&w, "pos", DT_I32, shp(2, C(1), C(3)));
    const char *pairing[2] = { "interleaved", "half" };
    for (int k = 0; k < 2; k++) {
        Node *s = node(&w, OP_SINUSOID, pos, NULL, NULL, NULL);
        set_i(&w, s, A_dim, D);
        set_f(&w, s, A_theta, 10000);
        set_s(&w, s, A_pairing, pairing[k]);
        output(&w, done(&w, s));
    }
    int32_t pv[3] = { 0, 1, 7 };
    Tensor t = mk(DT_I32, pv, 2, 1, 3), outs[2];
    int fails = run1(&w, &t, outs) != 0;
    if (!fails) {
        double want[2][3 * D];
        for (int p = 0; p < 3; p++)
            for (int i = 0; i < D / 2; i++) {
                /* frequency 1 / 10000^(2i/6) = exp(-ln(10000) * i / 3) */
                double a = pv[p] * exp(-log(10000.0) * i / 3.0);
                want[0][p * D + 2 * i] = sin(a);
                want[0][p * D + 2 * i + 1] = cos(a);
                want[1][p * D + i] = sin(a);
                want[1][p * D + i + D / 2] = cos(a);
            }
        /* pos 1, i = 1: angle 10000^(-1/3) = 0.0464158883361278 */
        if (fabs(want[0][D + 2] - sin(0.0464158883361278)) > 1e-12) fails++;
        fails += check("sinusoid interleaved", &outs[0], 3, DIMS(1, 3, D), want[0], 1e-7);
        fails += check("sinusoid half", &outs[1], 3, DIMS(1, 3, D), want[1], 1e-7);
        free_all(outs, 2);
    }
    tensor_free(&t);
    w_free(&w);
    return fails;
}

/* ROPE both pairings against a direct rotation, positions (1, seq) broadcast over batch
 * and heads, rot < hd passing the tail through; and rope interleaved of x equals rope half
 * of x with its first rot dims permuted (evens first, then odds), permuted back. */
static int test_rope(void)
{
    enum { B = 2, H = 2, SQ = 3, HD = 8, ROT = 6 };
    World w;
    w_init(&w);
    Node *x = input(&w, "x", DT_F32, shp(4, C(B), C(H), C(SQ), C(HD)));
    Node *xp = input(&w, "xp", DT_F32, shp(4, C(B), C(H), C(SQ), C(HD)));
    Node *pos = input(&w, "pos", DT_I32, shp(2, C(1), C(SQ)));
    Node *r[3];
    const char *pairing[3] = { "interleaved", "half", "half" };
    for (int k = 0; k < 3; k++) {
        r[k] = node(&w, OP_ROPE, k == 2 ? xp : x, pos, NULL, NULL);
        set_f(&w, r[k], A_theta, 500);
        set_i(&w, r[k], A_rot, ROT);
        set_s(&w, r[k], A_pairing, pairing[k]);
        output(&w, done(&w, r[k]));
    }
    Tensor ins[3] = { mk_random(4, DIMS(B, H, SQ, HD)), mk_random(4, DIMS(B, H, SQ, HD)),
                      mk(DT_I32, (const int32_t[]){ 3, 4, 9 }, 2, 1, SQ) }, outs[3];
    /* xp: dims 0..ROT of x reordered as x0 x2 x4 x1 x3 x5, tail unchanged */
    const float *X = ins[0].data;
    float *XP = ins[1].data;
    int perm[HD];           /* xp[d] = x[perm[d]] */
    for (int i = 0; i < ROT / 2; i++) {
        perm[i] = 2 * i;
        perm[i + ROT / 2] = 2 * i + 1;
    }
    for (int d = ROT; d < HD; d++) perm[d] = d;
    for (int row = 0; row < B * H * SQ; row++)
        for (int d = 0; d < HD; d++) XP[row * HD + d] = X[row * HD + perm[d]];
    int fails = run1(&w, ins, outs) != 0;
    if (!fails) {
        double want[2][B * H * SQ * HD], back[B * H * SQ * HD];
        const int32_t *P = ins[2].data;
        for (int row = 0; row < B * H * SQ; row++) {
            int s = row % SQ;
            const float *xr = X + row * HD;
            for (int d = ROT; d < HD; d++) want[0][row * HD + d] = want[1][row * HD + d] = xr[d];
            for (int i = 0; i < ROT / 2; i++) {
                double ang = P[s] / pow(500.0, 2.0 * i / (double)ROT);
                double c = cos(ang), sn = sin(ang);
                want[0][row * HD + 2 * i] = xr[2 * i] * c - xr[2 * i + 1] * sn;
                want[0][row * HD + 2 * i + 1] = xr[2 * i] * sn + xr[2 * i + 1] * c;
                want[1][row * HD + i] = xr[i] * c - xr[i + ROT / 2] * sn;
                want[1][row * HD + i + ROT / 2] = xr[i] * sn + xr[i + ROT / 2] * c;
            }
            for (int d = 0; d < HD; d++) back[row * HD + perm[d]] = ((const float *)outs[2].data)[row * HD + d];
        }
        fails += check("rope interleaved", &outs[0], 4, DIMS(B, H, SQ, HD), want[0], 1e-6);
        fails += check("rope half", &outs[1], 4, DIMS(B, H, SQ, HD), want[1], 1e-6);
        fails += check("interleaved == permuted half", &outs[0], 4, DIMS(B, H, SQ, HD), back, 0);
        free_all(outs, 3);
    }
    free_all(ins, 3);
    w_free(&w);
    return fails;
}

/* ---- attention pieces -------------------------------------------------------------------- */

/* scores (2, 1, 3, 5): 3 queries over 5 keys, so query i sits at key position i + 2. */
static int test_mask(void)
{
    enum { B = 2, Q = 3, K = 5 };
    World w;
    w_init(&w);
    Node *x = input(&w, "x", DT_F32, shp(4, C(B), C(1), C(Q), C(K)));
    Node *valid = input(&w, "valid", DT_I32, shp(2, C(B), C(K)));
    Node *mc = node(&w, OP_MASK, x, NULL, NULL, NULL);
    set_i(&w, mc, A_causal, 1);
    output(&w, done(&w, mc));
    Node *mw = node(&w, OP_MASK, x, NULL, NULL, NULL);
    set_i(&w, mw, A_causal, 1);
    set_i(&w, mw, A_window, 2);
    output(&w, done(&w, mw));
    Node *mv = node(&w, OP_MASK, x, valid, NULL, NULL);
    output(&w, done(&w, mv));
    float xv[B * Q * K];
    for (int i = 0; i < B * Q * K; i++) xv[i] = (float)(i + 1);
    int32_t vv[B * K] = { 1, 1, 1, 1, 1, 0, 1, 1, 0, 1 };
    Tensor ins[2] = { mk(DT_F32, xv, 4, B, 1, Q, K), mk(DT_I32, vv, 2, B, K) }, outs[3];
    int fails = run1(&w, ins, outs) != 0;
    if (!fails) {
        /* visible keys by hand: causal: query 0 sees 0..2, query 1 sees 0..3, query 2 all;
         * window 2: query 0 sees 1..2, query 1 sees 2..3, query 2 sees 3..4 */
        static const char causal[Q][K + 1] = { "xxx..", "xxxx.", "xxxxx" };
        static const char window[Q][K + 1] = { ".xx..", "..xx.", "...xx" };
        double want[3][B * Q * K];
        for (int b = 0; b < B; b++)
            for (int i = 0; i < Q; i++)
                for (int j = 0; j < K; j++) {
                    int e = (b * Q + i) * K + j;
                    want[0][e] = causal[i][j] == 'x' ? xv[e] : -INFINITY;
                    want[1][e] = window[i][j] == 'x' ? xv[e] : -INFINITY;
                    want[2][e] = vv[b * K + j] ? xv[e] : -INFINITY;
                }
        fails += check("mask causal", &outs[0], 4, DIMS(B, 1, Q, K), want[0], 0);
        fails += check("mask causal+window", &outs[1], 4, DIMS(B, 1, Q, K), want[1], 0);
        fails += check("mask valid", &outs[2], 4, DIMS(B, 1, Q, K), want[2], 0);
        free_all(outs, 3);
    }
    free_all(ins, 2);
    w_free(&w);
    return fails;
}

/* ATTENTION against the unfused chain REPEAT → MATMUL(tb) → SCALE → MASK → SOFTMAX →
 * MATMUL (bit for bit), and against a direct double-precision computation here, with
 * grouped-query heads (4 query heads over 2 key/value heads), 3 queries over 7 keys. */
static int test_attention(void)
{
    enum { B = 2, H = 4, KH = 2, NQ = 3, T = 7, D = 5, DV = 6 };
    const double scale = 0.37;
    int fails = 0;
    for (int variant = 0; variant < 3; variant++) {  /* causal+valid; window 3 causal; plain */
        World w;
        w_init(&w);
        int causal = variant < 2, window = variant == 1 ? 3 : 0, use_valid = variant == 0;
        Node *q = input(&w, "q", DT_F32, shp(4, C(B), C(H), C(NQ), C(D)));
        Node *k = input(&w, "k", DT_F32, shp(4, C(B), C(KH), C(T), C(D)));
        Node *v = input(&w, "v", DT_F32, shp(4, C(B), C(KH), C(T), C(DV)));
        Node *valid = input(&w, "valid", DT_I32, shp(2, C(B), C(T)));
        Node *att = node(&w, OP_ATTENTION, q, k, v, use_valid ? valid : NULL);
        set_f(&w, att, A_scale, scale);
        if (causal) set_i(&w, att, A_causal, 1);
        if (window) set_i(&w, att, A_window, window);
        output(&w, done(&w, att));
        Node *kr = node(&w, OP_REPEAT, k, NULL, NULL, NULL);
        set_i(&w, kr, A_axis, 1);
        set_i(&w, kr, A_times, H / KH);
        done(&w, kr);
        Node *vr = node(&w, OP_REPEAT, v, NULL, NULL, NULL);
        set_i(&w, vr, A_axis, 1);
        set_i(&w, vr, A_times, H / KH);
        done(&w, vr);
        Node *qk = node(&w, OP_MATMUL, q, kr, NULL, NULL);
        set_i(&w, qk, A_tb, 1);
        done(&w, qk);
        Node *sc = node(&w, OP_SCALE, qk, NULL, NULL, NULL);
        set_f(&w, sc, A_value, scale);
        done(&w, sc);
        Node *mk_ = node(&w, OP_MASK, sc, use_valid ? valid : NULL, NULL, NULL);
        if (causal) set_i(&w, mk_, A_causal, 1);
        if (window) set_i(&w, mk_, A_window, window);
        done(&w, mk_);
        Node *sm = unary(&w, OP_SOFTMAX, mk_);
        output(&w, binary(&w, OP_MATMUL, sm, vr));
        int32_t vv[B * T] = { 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1 };
        Tensor ins[4] = { mk_random(4, DIMS(B, H, NQ, D)), mk_random(4, DIMS(B, KH, T, D)),
                          mk_random(4, DIMS(B, KH, T, DV)), mk(DT_I32, vv, 2, B, T) }, outs[2];
        if (run1(&w, ins, outs)) fails++;
        else {
            const float *Q = ins[0].data, *K = ins[1].data, *V = ins[2].data;
            double want[B * H * NQ * DV];
            for (int b = 0; b < B; b++)
                for (int h = 0; h < H; h++)
                    for (int i = 0; i < NQ; i++) {
                        double p[T], mx = -INFINITY, z = 0;
                        int any = 0;
                        for (int j = 0; j < T; j++) {
                            int pos = i + T - NQ, hidden = (causal && j > pos) || (window && pos - j >= window) ||
                                                          (use_valid && !vv[b * T + j]);
                            double s = 0;
                            for (int c = 0; c < D; c++)
                                s += (double)Q[((b * H + h) * NQ + i) * D + c] * K[((b * KH + h / 2) * T + j) * D + c];
                            p[j] = hidden ? -INFINITY : s * scale;
                            if (!hidden) any = 1, mx = fmax(mx, p[j]);
                        }
                        for (int j = 0; j < T; j++) z += any ? exp(p[j] - mx) : 0;
                        for (int c = 0; c < DV; c++) {
                            double acc = 0;
                            for (int j = 0; j < T; j++)
                                if (any) acc += exp(p[j] - mx) / z * V[((b * KH + h / 2) * T + j) * DV + c];
                            want[((b * H + h) * NQ + i) * DV + c] = acc;
                        }
                    }
            char what[64];
            snprintf(what, sizeof what, "attention variant %d vs unfused", variant);
            fails += same(what, &outs[0], &outs[1], 0);
            snprintf(what, sizeof what, "attention variant %d vs double", variant);
            fails += check(what, &outs[0], 4, DIMS(B, H, NQ, DV), want, 1e-5);
            free_all(outs, 2);
        }
        free_all(ins, 4);
        w_free(&w);
    }
    return fails;
}

/* LINEAR and GATED_LINEAR against the unfused chains they replace, MATMUL → [ADD bias] →
 * [activation] → [MUL up] → [ADD residual], bit for bit, and against a direct double
 * computation here; both layouts, every activation, with and without bias and residual. */
static double act_ref(const char *act, double x)
{
    if (!strcmp(act, "relu")) return x > 0 ? x : 0;
    if (!strcmp(act, "silu")) return x / (1 + exp(-x));
    if (!strcmp(act, "gelu_tanh")) return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    return 0.5 * x * (1 + erf(x / sqrt(2)));
}

static int test_linear(void)
{
    enum { B = 2, M = 3, K = 16, N = 12 };
    static const struct { int gated, tb, bias, res; const char *act; } v[] = {
        { 0, 1, 1, 1, "gelu_tanh" }, { 0, 0, 1, 0, "gelu_erf" }, { 0, 1, 0, 1, "silu" }, { 0, 0, 1, 1, "relu" },
        { 0, 1, 1, 0, NULL }, { 0, 0, 0, 1, NULL }, { 1, 1, 0, 1, "silu" }, { 1, 0, 0, 0, "gelu_tanh" },
    };
    int fails = 0;
    for (size_t t = 0; t < sizeof v / sizeof v[0]; t++) {
        World w;
        w_init(&w);
        Node *x = input(&w, "x", DT_F32, shp(3, C(B), C(M), C(K)));
        Shape ws = v[t].tb ? shp(2, C(N), C(K)) : shp(2, C(K), C(N));
        Node *wg = input(&w, "w", DT_F32, ws), *wu = input(&w, "w_up", DT_F32, ws);
        Node *bias = input(&w, "bias", DT_F32, shp(1, C(N)));
        Node *res = input(&w, "res", DT_F32, shp(3, C(B), C(M), C(N)));
        /* the chain */
        Node *y = node(&w, OP_MATMUL, x, wg, NULL, NULL);
        if (v[t].tb) set_i(&w, y, A_tb, 1);
        done(&w, y);
        if (v[t].bias) y = binary(&w, OP_ADD, (t & 1) ? bias : y, (t & 1) ? y : bias);      /* either side */
        if (v[t].act) {
            const char *a = v[t].act;
            y = node(&w, !strcmp(a, "relu") ? OP_RELU : !strcmp(a, "silu") ? OP_SILU : OP_GELU, y, NULL, NULL, NULL);
            if (!strncmp(a, "gelu", 4)) set_s(&w, y, A_approx, a + 5);
            done(&w, y);
        }
        if (v[t].gated) {
            Node *up = node(&w, OP_MATMUL, x, wu, NULL, NULL);
            if (v[t].tb) set_i(&w, up, A_tb, 1);
            y = binary(&w, OP_MUL, y, done(&w, up));
        }
        if (v[t].res) y = binary(&w, OP_ADD, res, y);
        output(&w, y);
        /* the fused node */
        Node *f = node(&w, v[t].gated ? OP_GATED_LINEAR : OP_LINEAR, x, wg, v[t].gated ? wu : NULL, NULL);
        if (v[t].bias) ir_node_add_input(f, bias);
        if (v[t].res) ir_node_add_input(f, res);
        if (v[t].tb) set_i(&w, f, A_tb, 1);
        if (v[t].act) set_s(&w, f, A_act, v[t].act);
        if (v[t].bias) set_i(&w, f, A_bias, 1);
        if (v[t].res) set_i(&w, f, A_residual, 1);
        output(&w, done(&w, f));
        Tensor ins[5] = { mk_random(3, DIMS(B, M, K)), mk_random(2, ws.d[0].k == N ? DIMS(N, K) : DIMS(K, N)),
                          mk_random(2, ws.d[0].k == N ? DIMS(N, K) : DIMS(K, N)), mk_random(1, DIMS(N)),
                          mk_random(3, DIMS(B, M, N)) }, outs[2];
        if (run1(&w, ins, outs)) fails++;
        else {
            const float *X = ins[0].data, *W = ins[1].data, *U = ins[2].data, *bb = ins[3].data, *R = ins[4].data;
            double want[B * M * N];
            for (int r = 0; r < B * M; r++)
                for (int j = 0; j < N; j++) {
                    double g = 0, u = 0;
                    for (int k = 0; k < K; k++) {
                        int wi = v[t].tb ? j * K + k : k * N + j;
                        g += (double)X[r * K + k] * W[wi];
                        u += (double)X[r * K + k] * U[wi];
                    }
                    if (v[t].bias) g += bb[j];
                    if (v[t].act) g = act_ref(v[t].act, g);
                    if (v[t].gated) g *= u;
                    want[r * N + j] = g + (v[t].res ? R[r * N + j] : 0);
                }
            char what[96];
            snprintf(what, sizeof what, "%s variant %zu vs unfused", v[t].gated ? "gated_linear" : "linear", t);
            fails += same(what, &outs[1], &outs[0], 0);
            snprintf(what, sizeof what, "%s variant %zu vs double", v[t].gated ? "gated_linear" : "linear", t);
            fails += check(what, &outs[1], 3, DIMS(B, M, N), want, 1e-5);
            free_all(outs, 2);
        }
        free_all(ins, 5);
        w_free(&w);
    }
    return fails;
}

/* ---- states ----------------------------------------------------------------------------- */

/* A KV-cache module: state k (batch, 2, 8, 2) with batch max 2, an append graph
 * (CACHE at past) and a read graph (STATE_READ of past positions). */
static void cache_world(World *w, Graph **append, Graph **read)
{
    w_init(w);
    sym(w, "batch", 2);
    sym(w, "seq", 8);
    sym(w, "past", 8);
    Shape st = shp(4, S(w, "batch"), C(2), C(8), C(2));
    int si = ir_module_add_state(w->m, "k", DT_F32, &st, 0, loc_make(0, 0, 0));
    *append = w->g;
    Node *x = input(w, "x", DT_F32, shp(4, S(w, "batch"), C(2), S(w, "seq"), C(2)));
    Node *c = node(w, OP_CACHE, x, NULL, NULL, NULL);
    c->ref = si;
    set_s(w, c, A_state, "k");
    set_i(w, c, A_axis, 2);
    set_dim(w, c, A_at, S(w, "past"));
    output(w, done(w, c));
    *read = w->g = ir_graph_new(w->m, "read", loc_make(0, 0, 0));
    Node *r = node(w, OP_STATE_READ, NULL, NULL, NULL, NULL);
    r->ref = si;
    set_s(w, r, A_state, "k");
    set_i(w, r, A_axis, 2);
    r->shape = shp(4, S(w, "batch"), C(2), S(w, "past"), C(2));
    output(w, done(w, r));
    w->g = *append;
}

/* Expected cache contents: x1 (b, 2, n1, 2) then x2 (b, 2, n2, 2) along axis 2. */
static void concat_want(const Tensor *x1, const Tensor *x2, int b, double *want)
{
    int n1 = (int)x1->dim[2], n2 = x2 ? (int)x2->dim[2] : 0, n = n1 + n2;
    for (int bb = 0; bb < b; bb++)
        for (int h = 0; h < 2; h++)
            for (int p = 0; p < n; p++)
                for (int d = 0; d < 2; d++)
                    want[((bb * 2 + h) * n + p) * 2 + d] =
                        p < n1 ? ((const float *)x1->data)[((bb * 2 + h) * n1 + p) * 2 + d]
                               : ((const float *)x2->data)[((bb * 2 + h) * n2 + p - n1) * 2 + d];
}

/* Prefill 3 positions, then 1 more: past goes 0 → 3 → 4, the returned view grows from 3
 * to 4 positions and holds both runs' rows; STATE_READ sees the same; a run with batch 1
 * (state max 2) uses the first row. Then a run of 5 more does not fit in 8: context full,
 * past unchanged. */
static int test_cache(void)
{
    World w;
    Graph *append, *read;
    cache_world(&w, &append, &read);
    Tensor x1 = mk_random(4, DIMS(1, 2, 3, 2)), x2 = mk_random(4, DIMS(1, 2, 1, 2)), x3 = mk_random(4, DIMS(1, 2, 5, 2));
    Tensor out;
    double want[64];
    int fails = w.bad != 0;
    Interp *in = fails ? NULL : interp_new(w.m, &w.diag);
    if (in) {
        if (interp_sym(in, "past") != 0) fails++;
        if (interp_run(in, append, &x1, &out)) fails++;
        else {
            concat_want(&x1, NULL, 1, want);
            fails += check("cache run 1", &out, 4, DIMS(1, 2, 3, 2), want, 0);
            tensor_free(&out);
        }
        if (interp_sym(in, "past") != 3) {
            printf("    past after prefill of 3 is %lld\n", (long long)interp_sym(in, "past"));
            fails++;
        }
        if (interp_run(in, append, &x2, &out)) fails++;
        else {
            concat_want(&x1, &x2, 1, want);
            fails += check("cache run 2", &out, 4, DIMS(1, 2, 4, 2), want, 0);
            tensor_free(&out);
        }
        if (interp_sym(in, "past") != 4) {
            printf("    past after one more token is %lld\n", (long long)interp_sym(in, "past"));
            fails++;
        }
        if (interp_run(in, read, NULL, &out)) fails++;
        else {
            fails += check("state_read", &out, 4, DIMS(1, 2, 4, 2), want, 0);
            tensor_free(&out);
        }
        if (interp_run(in, append, &x3, &out) == 0) {
            printf("    appending 5 to 4 of 8 succeeded\n");
            fails++;
            tensor_free(&out);
        } else fails += !said(&w, "context is full");
        if (interp_sym(in, "past") != 4) {
            printf("    past changed by a failed run: %lld\n", (long long)interp_sym(in, "past"));
            fails++;
        }
        interp_reset(in);
        if (interp_sym(in, "past") != 0) fails++;
        interp_free(in);
    }
    tensor_free(&x1);
    tensor_free(&x2);
    tensor_free(&x3);
    w_free(&w);
    return fails;
}

/* Batch 2 prefill, then reorder with parents {1, 1}: both rows hold old row 1; then
 * {1, 0} swaps them back into (row1, row1) (no change), and a parent out of range fails. */
static int test_reorder(void)
{
    World w;
    Graph *append, *read;
    cache_world(&w, &append, &read);
    Tensor x = mk_random(4, DIMS(2, 2, 3, 2)), out;
    double want[48];
    int fails = w.bad != 0;
    Interp *in = fails ? NULL : interp_new(w.m, &w.diag);
    if (in) {
        if (interp_run(in, append, &x, &out)) fails++;
        else tensor_free(&out);
        int parent[2] = { 1, 1 };
        if (interp_reorder(in, parent, 2)) fails++;
        if (interp_run(in, read, NULL, &out)) fails++;
        else {
            /* row b holds x row 1: x rows are (2, 3, 2) = 12 floats */
            for (int b = 0; b < 2; b++)
                for (int e = 0; e < 12; e++) want[b * 12 + e] = ((const float *)x.data)[12 + e];
            fails += check("reorder {1,1}", &out, 4, DIMS(2, 2, 3, 2), want, 0);
            tensor_free(&out);
        }
        int swap[2] = { 1, 0 };
        Tensor y = mk_random(4, DIMS(2, 2, 3, 2));
        interp_reset(in);
        if (interp_run(in, append, &y, &out)) fails++;
        else tensor_free(&out);
        if (interp_reorder(in, swap, 2) || interp_run(in, read, NULL, &out)) fails++;
        else {
            for (int b = 0; b < 2; b++)
                for (int e = 0; e < 12; e++) want[b * 12 + e] = ((const float *)y.data)[(1 - b) * 12 + e];
            fails += check("reorder {1,0}", &out, 4, DIMS(2, 2, 3, 2), want, 0);
            tensor_free(&out);
        }
        int bad[2] = { 0, 2 };
        if (interp_reorder(in, bad, 2) == 0) {
            printf("    parent 2 of 2 rows accepted\n");
            fails++;
        } else fails += !said(&w, "outside the 2 rows of state 'k'");
        tensor_free(&y);
        interp_free(in);
    }
    tensor_free(&x);
    w_free(&w);
    return fails;
}

/* ---- pooling ------------------------------------------------------------------------------ */

static int test_pool(void)
{
    World w;
    w_init(&w);
    Node *x = input(&w, "x", DT_F32, shp(3, C(2), C(3), C(2)));
    Node *valid = input(&w, "valid", DT_I32, shp(2, C(2), C(3)));
    const char *mode[2] = { "mean", "max" };
    for (int k = 0; k < 4; k++) {
        Node *p = node(&w, OP_POOL, x, k >= 2 ? valid : NULL, NULL, NULL);
        set_i(&w, p, A_axis, 1);
        set_s(&w, p, A_mode, mode[k % 2]);
        output(&w, done(&w, p));
    }
    float xv[12] = { 1, -1, 2, -2, 6, -3, /* batch 1 */ 4, 5, 0, 9, 8, 1 };
    int32_t vv[6] = { 1, 1, 0, 0, 1, 1 };
    Tensor ins[2] = { mk(DT_F32, xv, 3, 2, 3, 2), mk(DT_I32, vv, 2, 2, 3) }, outs[4];
    int fails = run1(&w, ins, outs) != 0;
    if (!fails) {
        fails += check("pool mean", &outs[0], 2, DIMS(2, 2), VALS(3, -2, 4, 5), 1e-7);
        fails += check("pool max", &outs[1], 2, DIMS(2, 2), VALS(6, -1, 8, 9), 0);
        fails += check("pool mean valid", &outs[2], 2, DIMS(2, 2), VALS(1.5, -1.5, 4, 5), 1e-7);
        fails += check("pool max valid", &outs[3], 2, DIMS(2, 2), VALS(2, -1, 8, 9), 0);
        free_all(outs, 4);
    }
    free_all(ins, 2);
    w_free(&w);
    return fails;
}

/* ---- weights -------------------------------------------------------------------------------- */

/* f16 and bf16 weights at odd (unaligned) addresses, widened; f32 unaligned and aligned. */
static int test_weight_dtypes(void)
{
    static const uint16_t h[10] = { 0x3C00, 0xC000, 0x0001, 0x03FF, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x8000, 0x3555 };
    static const uint16_t bf[6] = { 0x3F80, 0xC040, 0x4049, 0x7F80, 0x0001, 0xFF80 };
    static const float f[3] = { 1.5f, -2.25f, 1e30f };
    unsigned char *buf = calloc(1, 256);
    memcpy(buf + 1, h, sizeof h);
    memcpy(buf + 65, bf, sizeof bf);
    memcpy(buf + 131, f, sizeof f);
    _Alignas(4) float aligned[3] = { 7, 8, 9 };
    World w;
    w_init(&w);
    output(&w, weight(&w, "h", DT_F16, shp(1, C(10)), buf + 1));
    output(&w, weight(&w, "bf", DT_BF16, shp(2, C(2), C(3)), buf + 65));
    output(&w, weight(&w, "f", DT_F32, shp(1, C(3)), buf + 131));
    Node *al = weight(&w, "al", DT_F32, shp(1, C(3)), aligned);
    output(&w, al);
    output(&w, unary(&w, OP_RELU, al));         /* a borrowed value read by a node and output */
    Tensor outs[5];
    int fails = run1(&w, NULL, outs) != 0;
    if (!fails) {
        fails += check("f16", &outs[0], 1, DIMS(10),
                       VALS(1, -2, 5.9604644775390625e-08, 6.097555160522461e-05, 65504, INFINITY, -INFINITY, NAN,
                            0, 0.333251953125), 0);
        if (!signbit(((float *)outs[0].data)[8])) {
            printf("    f16 0x8000 is not -0\n");
            fails++;
        }
        fails += check("bf16", &outs[1], 2, DIMS(2, 3), VALS(1, -3, 3.140625, INFINITY, 9.183549615799121e-41, -INFINITY), 0);
        fails += check("f32 unaligned", &outs[2], 1, DIMS(3), VALS(1.5, -2.25, 1e30f), 0);
        fails += check("f32 aligned", &outs[3], 1, DIMS(3), VALS(7, 8, 9), 0);
        fails += check("relu of weight", &outs[4], 1, DIMS(3), VALS(7, 8, 9), 0);
        if (!fails && outs[3].data == (void *)aligned) {
            printf("    output aliases the weight's memory\n");
            fails++;
        }
        free_all(outs, 5);
    }
    w_free(&w);
    free(buf);
    return fails;
}

/* Concatenated weights (merge-qkv): the rows of plain f32 parts, of f16 parts, and of
 * transposed views, one part after another; a 1-d concatenation of biases. */
static Node *concat_node(World *w, const int *parts, int n)
{
    int c = ir_module_weight_concat(w->m, parts, n);
    Node *x = node(w, OP_WEIGHT, NULL, NULL, NULL, NULL);
    x->ref = c;
    set_s(w, x, A_tensor, w->m->weights[c].tensor);
    if (w->m->weights[c].transposed) set_i(w, x, A_transposed, 1);
    int64_t rows[IR_MAX_RANK];
    for (int i = 0; i < n; i++) rows[i] = w->m->weights[parts[i]].shape.d[0].k;
    set_ints(w, x, A_concat, n, rows);
    return done(w, x);
}

static int test_concat_weights(void)
{
    static const float a[6] = { 1, 2, 3, 4, 5, 6 }, b[3] = { 7, 8, 9 }, t[6] = { 1, 2, 3, 4, 5, 6 };
    static const uint16_t h[6] = { 0x3C00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600 };     /* 1 .. 6 */
    World w;
    w_init(&w);
    weight(&w, "a", DT_F32, shp(2, C(2), C(3)), a);                 /* weights 0, 1: rows of 3 */
    weight(&w, "b", DT_F32, shp(2, C(1), C(3)), b);
    weight(&w, "h", DT_F16, shp(2, C(2), C(3)), h);                 /* 2, 3: f16 */
    weight(&w, "h2", DT_F16, shp(2, C(1), C(3)), h);
    weight(&w, "t", DT_F32, shp(2, C(3), C(2)), t);                 /* 4: stored [3, 2] */
    int tt = ir_module_weight_transposed(w.m, 4);                    /* its view [2, 3] */
    weight(&w, "b1", DT_F32, shp(1, C(3)), b);                      /* 1-d */
    int plain[2] = { 0, 1 }, half[2] = { 2, 3 }, views[2] = { tt, tt }, bias[2] = { 6, 6 };
    output(&w, concat_node(&w, plain, 2));
    output(&w, concat_node(&w, half, 2));
    output(&w, concat_node(&w, views, 2));
    output(&w, concat_node(&w, bias, 2));
    Tensor outs[4];
    int fails = run1(&w, NULL, outs) != 0;
    if (!fails) {
        fails += check("f32 parts", &outs[0], 2, DIMS(3, 3), VALS(1, 2, 3, 4, 5, 6, 7, 8, 9), 0);
        fails += check("f16 parts", &outs[1], 2, DIMS(3, 3), VALS(1, 2, 3, 4, 5, 6, 1, 2, 3), 0);
        fails += check("transposed parts", &outs[2], 2, DIMS(4, 3), VALS(1, 3, 5, 2, 4, 6, 1, 3, 5, 2, 4, 6), 0);
        fails += check("1-d parts", &outs[3], 1, DIMS(6), VALS(7, 8, 9, 7, 8, 9), 0);
        free_all(outs, 4);
    }
    w_free(&w);
    return fails;
}

/* An f16 weight inside a matmul with tb, as a real projection reads it. */
static int test_f16_matmul(void)
{
    World w;
    w_init(&w);
    /* w (2, 3) = [1 2 -0.5; 0.25 0 3] in f16 */
    static const uint16_t wh[6] = { 0x3C00, 0x4000, 0xB800, 0x3400, 0x0000, 0x4200 };
    unsigned char buf[16];
    memcpy(buf + 3, wh, sizeof wh);
    Node *x = input(&w, "x", DT_F32, shp(2, C(1), C(3)));
    Node *wt = weight(&w, "w", DT_F16, shp(2, C(2), C(3)), buf + 3);
    Node *mm = node(&w, OP_MATMUL, x, wt, NULL, NULL);
    set_i(&w, mm, A_tb, 1);
    output(&w, done(&w, mm));
    Tensor in = mk(DT_F32, (const float[]){ 2, 3, 4 }, 2, 1, 3), out;
    int fails = run1(&w, &in, &out) != 0;
    if (!fails) {
        fails += check("f16 matmul", &out, 2, DIMS(1, 2), VALS(2 + 6 - 2, 0.5 + 0 + 12), 0);
        tensor_free(&out);
    }
    tensor_free(&in);
    w_free(&w);
    return fails;
}

/* ---- errors --------------------------------------------------------------------------------- */

/* seq above its maximum; an input whose shape does not match its declaration (constant
 * dim, rank, dtype, and a compound dim past+seq); two inputs disagreeing on seq. */
static int test_input_errors(void)
{
    World w;
    w_init(&w);
    sym(&w, "batch", 2);
    sym(&w, "seq", 8);
    sym(&w, "past", 16);
    Node *ids = input(&w, "ids", DT_I32, shp(2, S(&w, "batch"), S(&w, "seq")));
    Node *emb = input(&w, "emb", DT_F32, shp(3, S(&w, "batch"), S(&w, "seq"), C(4)));
    Node *valid = input(&w, "valid", DT_I32, shp(2, S(&w, "batch"), SUM(&w, "past", "seq")));
    output(&w, unary(&w, OP_RELU, emb));
    (void)ids;
    (void)valid;
    int fails = w.bad != 0;
    Interp *in = fails ? NULL : interp_new(w.m, &w.diag);
    struct { int seq_ids, seq_emb, width, vlen, rank3, dt; const char *msg; } cases[] = {
        { 9, 9, 4, 9, 0, DT_F32, "exceeds the maximum 8 of 'seq'" },
        { 3, 3, 5, 3, 0, DT_F32, "dimension 2 is 5, but the declaration says 4" },
        { 3, 4, 4, 3, 0, DT_F32, "but input 'ids' gave 'seq' = 3" },
        { 3, 3, 4, 4, 0, DT_F32, "dimension 1 is 4, but the declaration says seq+past = 3" },
        { 3, 3, 4, 3, 1, DT_F32, "expected rank 3" },
        { 3, 3, 4, 3, 0, DT_I32, "expected f32 data" },
        { 3, 3, 4, 3, 0, DT_F32, NULL },
    };
    for (size_t c = 0; in && c < sizeof cases / sizeof cases[0]; c++) {
        Tensor ins[3], out;
        ins[0] = mk(DT_I32, NULL, 2, 1, cases[c].seq_ids);
        ins[1] = cases[c].rank3 ? mk(cases[c].dt, NULL, 2, 1, cases[c].seq_emb)
                                : mk(cases[c].dt, NULL, 3, 1, cases[c].seq_emb, cases[c].width);
        ins[2] = mk(DT_I32, NULL, 2, 1, cases[c].vlen);
        int rc = interp_run(in, w.g, ins, &out);
        if (!cases[c].msg) {
            if (rc) fails++;
            else tensor_free(&out);
        } else if (rc == 0) {
            printf("    case %zu was accepted\n", c);
            fails++;
            tensor_free(&out);
        } else {
            fails += !said(&w, cases[c].msg);
            if (out.data) {
                printf("    failed run left an output\n");
                fails++;
            }
        }
        free_all(ins, 3);
    }
    interp_free(in);
    w_free(&w);
    return fails;
}

/* A symbol nobody binds; interp_bind above a maximum; a refused absurd state and tensor. */
static int test_bind_errors(void)
{
    World w;
    w_init(&w);
    sym(&w, "src", 16);
    sym(&w, "huge", (int64_t)1 << 40);
    Node *r = node(&w, OP_STATE_READ, NULL, NULL, NULL, NULL);
    Shape st = shp(2, S(&w, "src"), C(4));
    r->ref = ir_module_add_state(w.m, "memory", DT_F32, &st, -1, loc_make(0, 0, 0));
    set_s(&w, r, A_state, "memory");
    set_i(&w, r, A_axis, 0);
    r->shape = st;
    output(&w, done(&w, r));
    int fails = w.bad != 0;
    Interp *in = fails ? NULL : interp_new(w.m, &w.diag);
    if (in) {
        Tensor out;
        if (interp_run(in, w.g, NULL, &out) == 0) {
            printf("    unbound src accepted\n");
            fails++;
            tensor_free(&out);
        } else fails += !said(&w, "needs 'src'");
        if (interp_bind(in, "src", 17) == 0) fails++;
        else fails += !said(&w, "'src' = 17 is outside its range 0 to 16");
        if (interp_bind(in, "nope", 1) == 0) fails++;
        if (interp_bind(in, "src", 2) || interp_run(in, w.g, NULL, &out)) fails++;
        else {
            fails += check("state_read zeros", &out, 2, DIMS(2, 4), VALS(0, 0, 0, 0, 0, 0, 0, 0), 0);
            tensor_free(&out);
        }
        interp_free(in);
    }
    Shape big = shp(3, S(&w, "huge"), C(1024), C(1024));
    ir_module_add_state(w.m, "big", DT_F32, &big, -1, loc_make(0, 0, 0));
    Interp *in2 = interp_new(w.m, &w.diag);
    if (in2) {
        printf("    a state of 2^60 floats was allocated\n");
        fails++;
        interp_free(in2);
    } else fails += !said(&w, "state 'big'");
    Tensor t;
    if (tensor_alloc(&t, DT_F32, 2, DIMS((int64_t)1 << 20, (int64_t)1 << 20)) == 0) {
        printf("    tensor of 2^42 bytes allocated\n");
        fails++;
        tensor_free(&t);
    }
    if (tensor_alloc(&t, DT_F32, 2, DIMS(-1, 4)) == 0) {
        fails++;
        tensor_free(&t);
    }
    w_free(&w);
    return fails;
}

/* ---- driver --------------------------------------------------------------------------------- */

static const struct { const char *name; int (*fn)(void); } cases[] = {
    { "binary ops with broadcasting", test_binary_broadcast },
    { "unary ops (scale relu silu sigmoid tanh gelu erf/tanh)", test_unary },
    { "matmul small, tb", test_matmul_small },
    { "matmul broadcast leading dims, tb", test_matmul_broadcast },
    { "softmax with an all -inf row", test_softmax },
    { "layernorm and rmsnorm", test_norms },
    { "add_layernorm / add_rmsnorm vs unfused", test_add_norms },
    { "reshape transpose slice repeat take", test_layout },
    { "take negative index on a symbolic axis, i32 layout", test_take_symbolic_range },
    { "gather and ids out of range", test_gather },
    { "positions with start=past", test_positions },
    { "sinusoid interleaved and half", test_sinusoid },
    { "rope interleaved, half, permutation identity", test_rope },
    { "mask causal, window, valid", test_mask },
    { "attention (GQA) vs unfused chain and double", test_attention },
    { "linear / gated_linear vs unfused chains and double", test_linear },
    { "cache over two runs, state_read, context full", test_cache },
    { "interp_reorder", test_reorder },
    { "pool mean/max with valid", test_pool },
    { "f16/bf16/f32 weights, unaligned", test_weight_dtypes },
    { "f16 weight in matmul tb", test_f16_matmul },
    { "concatenated weights: f32, f16, transposed, 1-d parts", test_concat_weights },
    { "input errors: seq over max, shape mismatch", test_input_errors },
    { "unbound symbol, bind range, absurd sizes", test_bind_errors },
};

int main(void)
{
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int f = cases[i].fn();
        printf("%s %s\n", f ? "FAIL" : "PASS", cases[i].name);
        fflush(stdout);
        failed += f != 0;
    }
    printf("%d of %zu failed\n", failed, sizeof cases / sizeof cases[0]);
    return failed ? 1 : 0;
}
