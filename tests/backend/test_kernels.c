/* test_kernels.c — every op's kernel against the reference interpreter.
 *
 * Each case is a one-op graph (inputs → op → output) built with the IR builder; the
 * harness runs the interpreter for the expected values, then JIT-compiles the node's kernel
 * (cg_kernel) for every variant — the host's vector width as emitted and after default<O3>,
 * 8 lanes (by feature and by CPU) and 4 lanes, all optimized — and compares. Shapes mix
 * multiples of the vector width with odd sizes (1, 3, 17, 33, 100), symbolic dims at
 * different values (s = 1 and 7, past = 0 and 5, batch 1 and 2), broadcasting, both
 * matmul layouts, both RoPE pairings, every mask, GQA attention, caches over several runs.
 * Flash attention also at key counts around its tile (T = 1 to 389 = 3·128 + 5), as
 * prefill, decode and queries after a past, with windows and sparse valid rows.
 *
 * Tolerances (the metrics are in harness.h): binary ops, layout ops, masks, positions and
 * max pooling bit-exact; unary ops 1e-6 relative (2e-6 for the libm ones: gelu, tanh;
 * values below 1e-6 compared absolutely); sinusoid 1e-6 and rope 2e-6 of the row's
 * magnitude; matmul, norms, softmax, mean pooling and attention 1e-5 relative to the row's
 * magnitude or to the same op on |inputs| (sum |a*b| for matmul, sum p |v| for attention).
 * Every case also runs split into 3 and 7 parts (harness.h: bit-identical to one part, no
 * element written twice; SPLIT! marks a failure), the state cases too.
 * Every case prints PASS/FAIL and the largest error per variant; a summary per op
 * follows. Exit status 1 when any case failed. KILN_TEST_DUMP=text prints the LLVM IR of
 * the kernels of the cases whose label contains text. */
#include "harness.h"

#include <llvm-c/Analysis.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int n_fail, n_cases;

/* ---- small builders -------------------------------------------------------------------- */

/* The symbols every case may use: b (batch), s (seq), past. */
static void begin(T *t)
{
    t_sym(t, "b", 4);
    t_sym(t, "s", 24);
    t_sym(t, "past", 24);
}

static void finish(T *t, Metric m, double tol, unsigned abs_mask)
{
    t->metric = m;
    t->tol = tol;
    t->abs_mask = abs_mask;
    n_fail += t_check(t);
    n_cases++;
    t_free(t);
}

static Node *unary_node(T *t, OpKind op, Node *x) { return t_node(t, op, x, NULL, NULL, NULL); }

/* ---- elementwise ------------------------------------------------------------------------ */

static void binary(OpKind op, const char *sa, const char *sb, const char *r)
{
    T t;
    t_init(&t, "%s [%s] [%s] {%s}", op_name(op), sa, sb, r ? r : "");
    begin(&t);
    Node *a = t_in(&t, "a", t_shape(&t, sa), F_UNI, -2, 2), *b = t_in(&t, "b", t_shape(&t, sb), F_UNI, -2, 2);
    t_done(&t, t_node(&t, op, a, b, NULL, NULL));
    t_runs(&t, r);
    finish(&t, M_EXACT, 0, 0);          /* one IEEE operation, as the interpreter's */
}

static void test_binary(void)
{
    static const OpKind ops[] = { OP_ADD, OP_SUB, OP_MUL, OP_DIV };
    for (int i = 0; i < 4; i++) {
        binary(ops[i], "3,17", "3,17", NULL);
        binary(ops[i], "b,s,33", "33", "b=2 s=7; b=1 s=1");
        binary(ops[i], "b,s,64", "b,s,1", "b=2 s=7");
        binary(ops[i], "1,100", "s,1", "s=7; s=1");
    }
    binary(OP_ADD, "b,s,48", "b,s,48", "b=2 s=7; b=1 s=1");
    binary(OP_ADD, "1", "3,5", NULL);
    binary(OP_ADD, "b,1,s,s", "b,4,s,s", "b=2 s=7; b=1 s=1");
    binary(OP_MUL, "2,1,3,1", "1,5,1,17", NULL);
    binary(OP_SUB, "1", "1", NULL);
    binary(OP_DIV, "7,16", "16", NULL);
    binary(OP_MUL, "b,s,100", "100", "b=2 s=3");
}

static void unary(OpKind op, const char *approx, double value, const char *shape, const char *r, double range,
                  double tol)
{
    T t;
    t_init(&t, "%s%s%s [%s] {%s}", op_name(op), approx ? " approx=" : "", approx ? approx : "", shape, r ? r : "");
    begin(&t);
    Node *x = t_in(&t, "x", t_shape(&t, shape), F_UNI, -range, range);
    Node *y = unary_node(&t, op, x);
    if (approx) set_s(&t, y, A_approx, approx);
    if (op == OP_SCALE) set_f(&t, y, A_value, value);
    t_done(&t, y);
    t_runs(&t, r);
    finish(&t, M_REL, tol, 0);
}

static void test_unary(void)
{
    static const char *const shapes[] = { "1", "3", "17", "33", "100", "256", "b,s,37" };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const char *r = strchr(shapes[i], 's') ? "b=2 s=7; b=1 s=1" : NULL;
        unary(OP_SCALE, NULL, 0.125, shapes[i], r, 3, 1e-6);
        unary(OP_RELU, NULL, 0, shapes[i], r, 3, 1e-6);
        unary(OP_SIGMOID, NULL, 0, shapes[i], r, 8, 1e-6);
        unary(OP_SILU, NULL, 0, shapes[i], r, 8, 1e-6);
        unary(OP_TANH, NULL, 0, shapes[i], r, 8, 2e-6);
        unary(OP_GELU, "erf", 0, shapes[i], r, 8, 2e-6);
        unary(OP_GELU, "tanh", 0, shapes[i], r, 8, 2e-6);
    }
    unary(OP_SCALE, NULL, -3.7, "b,s,64", "b=2 s=7", 3, 1e-6);
    unary(OP_SCALE, NULL, 0.35355339059327373, "33", NULL, 3, 1e-6);
}

/* ---- matmul ------------------------------------------------------------------------------- */

static void matmul(const char *sa, const char *sb, int tb, const char *r)
{
    n_fail += t_matmul_case(begin, sa, sb, tb, r);
    n_cases++;
}

/* x (s, k) times a weight of dtype dt, stored (k, n) or (n, k) */
static void matmul_weight(DType dt, int tb, int k, int n)
{
    T t;
    t_init(&t, "matmul tb=%d [s,%d] weight %s [%d,%d]", tb, k, dtype_name(dt), tb ? n : k, tb ? k : n);
    begin(&t);
    Node *a = t_in(&t, "a", t_shape(&t, "s,0"), F_UNI, -1, 1);
    a->shape.d[1] = C(k);
    Node *w = t_weight(&t, "w", dt, shp(2, C(tb ? n : k), C(tb ? k : n)));
    Node *y = t_node(&t, OP_MATMUL, a, w, NULL, NULL);
    if (tb) set_i(&t, y, A_tb, 1);
    t_done(&t, y);
    t_runs(&t, "s=7; s=1");
    t.metric = M_MAG;
    t.tol = 1e-5;
    t.abs_mask = 1;
    t.abs_weights = 1;      /* sum |a| * |w| */
    n_fail += t_check(&t);
    n_cases++;
    t_free(&t);
}

static void test_matmul(void)
{
    static const int mkn[][3] = { { 1, 1, 1 }, { 3, 17, 5 }, { 7, 33, 100 }, { 1, 100, 1 }, { 16, 64, 48 },
                                  { 5, 256, 33 }, { 2, 3, 1 }, { 4, 16, 16 }, { 3, 8, 64 }, { 1, 1000, 3 } };
    for (size_t i = 0; i < sizeof mkn / sizeof mkn[0]; i++) {
        char sa[64], sb[64], sbt[64];
        snprintf(sa, sizeof sa, "%d,%d", mkn[i][0], mkn[i][1]);
        snprintf(sb, sizeof sb, "%d,%d", mkn[i][1], mkn[i][2]);
        snprintf(sbt, sizeof sbt, "%d,%d", mkn[i][2], mkn[i][1]);
        matmul(sa, sb, 0, NULL);
        matmul(sa, sbt, 1, NULL);
    }
    matmul("b,s,33", "33,17", 0, "b=2 s=7; b=1 s=1");
    matmul("b,s,64", "100,64", 1, "b=2 s=7; b=1 s=1");
    matmul("b,4,s,16", "b,4,past+s,16", 1, "b=2 s=7 past=5; b=1 s=1 past=0");      /* scores */
    matmul("b,4,s,past+s", "b,4,past+s,17", 0, "b=2 s=7 past=5; b=1 s=1 past=0");  /* p v */
    matmul("2,1,5,17", "3,17,9", 0, NULL);
    matmul("5,33", "b,33,7", 0, "b=2");
    matmul("b,3,1,8", "b,3,8,1", 0, "b=2");
    matmul("s,s", "s,s", 0, "s=7; s=1; s=16");
    matmul("b,s,33", "33,17", 0, "b=1 s=0");
    matmul("s,20", "5,20", 1, "s=0");
    matmul("3,s", "s,20", 0, "s=0");
    matmul_weight(DT_F16, 0, 33, 20);
    matmul_weight(DT_BF16, 1, 64, 17);
    matmul_weight(DT_F32, 1, 17, 48);
}

/* LINEAR / GATED_LINEAR: x (xs, k) times weights stored [n, k] (tb) or [k, n], then the
 * epilogue: a bias weight (n), the activation, the residual input; against the interpreter,
 * which computes the unfused chain's roundings, with the matmul's metric (the same node on
 * |inputs| and |weights| scales each element) */
static void linear(int gated, int tb, const char *xs, int kk, int nn, int bias, const char *act, int res, const char *r)
{
    n_fail += t_linear_case(begin, gated, tb, xs, kk, nn, bias, act, res, r);
    n_cases++;
}

static void test_linear(void)
{
    static const char *const acts[] = { NULL, "relu", "silu", "gelu_tanh", "gelu_erf" };
    /* (k, n): odd and vector-multiple widths, panels of 4 vectors and their remainders */
    static const int kn[][2] = { { 16, 48 }, { 33, 17 }, { 64, 100 }, { 1, 3 }, { 100, 1 }, { 24, 160 } };
    for (int tb = 0; tb < 2; tb++) {
        for (int a = 0; a < 5; a++) {
            linear(0, tb, "s", kn[a][0], kn[a][1], 1, acts[a], 0, "s=7; s=1; s=24");
            linear(0, tb, "b,s", kn[a + 1][0], kn[a + 1][1], a & 1, acts[a], 1, "b=2 s=7; b=1 s=1");
            if (acts[a]) linear(1, tb, "s", kn[a][0], kn[a][1], 0, acts[a], a & 1, "s=7; s=1; s=24");
        }
        linear(1, tb, "b,s", 33, 64, 0, "silu", 1, "b=2 s=5; b=1 s=1");
        linear(0, tb, "5", 17, 33, 1, "gelu_tanh", 1, NULL);
        linear(0, tb, "s", 20, 5, 1, "silu", 1, "s=0");
    }
}

/* ---- softmax, norms ------------------------------------------------------------------------- */

static void softmax(const char *shape, Fill f, double range, const char *r)
{
    T t;
    t_init(&t, "softmax [%s]%s {%s}", shape, f == F_SPECIAL ? " with -inf rows" : "", r ? r : "");
    begin(&t);
    Node *x = t_in(&t, "x", t_shape(&t, shape), f, -range, range);
    t_done(&t, unary_node(&t, OP_SOFTMAX, x));
    t_runs(&t, r);
    finish(&t, M_ROW, 1e-5, 0);
}

static void test_softmax(void)
{
    softmax("3,17", F_UNI, 3, NULL);
    softmax("5,100", F_UNI, 3, NULL);
    softmax("1,1", F_UNI, 3, NULL);
    softmax("4,64", F_UNI, 30, NULL);
    softmax("2,48", F_UNI, 80, NULL);
    softmax("b,2,s,past+s", F_UNI, 5, "b=2 s=7 past=5; b=1 s=1 past=0");
    softmax("6,33", F_SPECIAL, 0, NULL);
    softmax("3,16", F_SPECIAL, 0, NULL);
    softmax("7", F_UNI, 3, NULL);
    softmax("b,s", F_UNI, 3, "b=2 s=0");
}

/* op (x[, r], w[, b]) over rows of d; x offset to make the mean matter. The fused ops
 * give (2, shape, d): the sum bit-exact, then the norm. */
static void norm(OpKind op, const char *shape, int d, DType wdt, const char *r)
{
    T t;
    t_init(&t, "%s [%s] d=%d%s%s {%s}", op_name(op), shape, d, wdt != DT_F32 ? " weights " : "",
           wdt != DT_F32 ? dtype_name(wdt) : "", r ? r : "");
    begin(&t);
    char full[64];
    snprintf(full, sizeof full, "%s,%d", shape, d);
    int fused = op == OP_ADD_LAYERNORM || op == OP_ADD_RMSNORM;
    int ln = op == OP_LAYERNORM || op == OP_ADD_LAYERNORM;
    Node *in[4] = { NULL, NULL, NULL, NULL };
    int k = 0;
    in[k++] = t_in(&t, "x", t_shape(&t, full), F_UNI, 1, 4);
    if (fused) in[k++] = t_in(&t, "res", t_shape(&t, full), F_UNI, -1, 1);
    char ds[16];
    snprintf(ds, sizeof ds, "%d", d);
    in[k++] = wdt == DT_F32 ? t_in(&t, "w", t_shape(&t, ds), F_UNI, 0.5, 1.5) : t_weight(&t, "w", wdt, shp(1, C(d)));
    if (ln) in[k++] = t_in(&t, "bias", t_shape(&t, ds), F_UNI, -0.5, 0.5);
    Node *y = t_node(&t, op, in[0], in[1], in[2], in[3]);
    set_f(&t, y, A_eps, 1e-5);
    t_done(&t, y);
    t_runs(&t, r);
    t.exact_first_half = fused;     /* y (2, .., d): the sum exactly as ADD, then the norm */
    finish(&t, M_ROW, 1e-5, 0);
}

static void test_norms(void)
{
    static const OpKind ops[] = { OP_LAYERNORM, OP_RMSNORM, OP_ADD_LAYERNORM, OP_ADD_RMSNORM };
    static const int ds[] = { 1, 3, 17, 64, 100, 768 };
    for (int i = 0; i < 4; i++) {
        for (size_t j = 0; j < sizeof ds / sizeof ds[0]; j++) norm(ops[i], "5", ds[j], DT_F32, NULL);
        norm(ops[i], "b,s", 33, DT_F32, "b=2 s=7; b=1 s=1");
    }
    norm(OP_LAYERNORM, "s", 48, DT_BF16, "s=3");
    norm(OP_RMSNORM, "s", 48, DT_F16, "s=3");
}

/* ---- layout ----------------------------------------------------------------------------------- */

static void transpose(const char *shape, int rank, const int64_t *perm, DType dt, const char *r)
{
    T t;
    t_init(&t, "transpose [%s] perm=[%lld,%lld,..] %s {%s}", shape, (long long)perm[0], (long long)perm[1],
           dtype_name(dt), r ? r : "");
    begin(&t);
    Node *x = t_in(&t, "x", t_shape(&t, shape), dt == DT_I32 ? F_INT : F_UNI, -100, 100);
    Node *y = unary_node(&t, OP_TRANSPOSE, x);
    set_ints(&t, y, A_perm, rank, perm);
    t_done(&t, y);
    t_runs(&t, r);
    finish(&t, M_EXACT, 0, 0);
}

static void slice(const char *shape, int axis, int start, int len, const char *r)
{
    T t;
    t_init(&t, "slice [%s] axis=%d start=%d len=%d {%s}", shape, axis, start, len, r ? r : "");
    begin(&t);
    Node *y = unary_node(&t, OP_SLICE, t_in(&t, "x", t_shape(&t, shape), F_UNI, -1, 1));
    set_i(&t, y, A_axis, axis);
    set_dim(&t, y, A_start, C(start));
    set_i(&t, y, A_len, len);
    t_done(&t, y);
    t_runs(&t, r);
    finish(&t, M_EXACT, 0, 0);
}

static void repeat(const char *shape, int axis, int times, const char *r)
{
    T t;
    t_init(&t, "repeat [%s] axis=%d times=%d {%s}", shape, axis, times, r ? r : "");
    begin(&t);
    Node *y = unary_node(&t, OP_REPEAT, t_in(&t, "x", t_shape(&t, shape), F_UNI, -1, 1));
    set_i(&t, y, A_axis, axis);
    set_i(&t, y, A_times, times);
    t_done(&t, y);
    t_runs(&t, r);
    finish(&t, M_EXACT, 0, 0);
}

static void take(const char *shape, DType dt, int axis, int index, const char *r)
{
    T t;
    t_init(&t, "take [%s] %s axis=%d index=%d {%s}", shape, dtype_name(dt), axis, index, r ? r : "");
    begin(&t);
    Node *y = unary_node(&t, OP_TAKE, t_in(&t, "x", t_shape(&t, shape), dt == DT_I32 ? F_INT : F_UNI, -100, 100));
    set_i(&t, y, A_axis, axis);
    set_i(&t, y, A_index, index);
    t_done(&t, y);
    t_runs(&t, r);
    finish(&t, M_EXACT, 0, 0);
}

static void gather(int rows, int d, const char *ids, const char *r)
{
    T t;
    t_init(&t, "gather table [%d,%d] ids [%s] {%s}", rows, d, ids, r ? r : "");
    begin(&t);
    Node *table = t_weight(&t, "table", DT_F32, shp(2, C(rows), C(d)));
    Node *id = t_in(&t, "ids", t_shape(&t, ids), F_INT, 0, rows);
    t_done(&t, t_node(&t, OP_GATHER, table, id, NULL, NULL));
    t_runs(&t, r);
    finish(&t, M_EXACT, 0, 0);
}

static void test_layout(void)
{
    {
        T t;
        t_init(&t, "reshape [s,12] -> [s,3,4] (copy kernel)");
        begin(&t);
        Node *y = unary_node(&t, OP_RESHAPE, t_in(&t, "x", t_shape(&t, "s,12"), F_UNI, -1, 1));
        set_dims(&t, y, A_shape, t_shape(&t, "s,3,4"));
        t_done(&t, y);
        t_runs(&t, "s=7; s=1");
        finish(&t, M_EXACT, 0, 0);
    }
    static const int64_t p0213[] = { 0, 2, 1, 3 }, p10[] = { 1, 0 }, p3102[] = { 3, 1, 0, 2 }, p021[] = { 0, 2, 1 };
    transpose("b,s,4,8", 4, p0213, DT_F32, "b=2 s=7; b=1 s=1");
    transpose("b,4,s,8", 4, p0213, DT_F32, "b=2 s=7");
    transpose("1,s,4,17", 4, p0213, DT_F32, "s=7; s=1");
    transpose("3,5", 2, p10, DT_F32, NULL);
    transpose("s,33", 2, p10, DT_F32, "s=7");
    transpose("2,3,4,5", 4, p3102, DT_F32, NULL);
    transpose("2,1,3,4", 4, p0213, DT_F32, NULL);
    transpose("3,7", 2, p10, DT_I32, NULL);
    transpose("b,s,16", 3, p021, DT_F32, "b=2 s=3");
    slice("3,10", 1, 2, 5, NULL);
    slice("b,s,12", 2, 4, 4, "b=2 s=7; b=1 s=1");
    slice("6,5", 0, 1, 3, NULL);
    slice("b,s,12", -1, 0, 12, "b=2 s=7");
    slice("4,b,6", 0, 2, 2, "b=3");
    repeat("b,2,s,8", 1, 3, "b=2 s=7; b=1 s=1");
    repeat("3,5", -1, 2, NULL);
    repeat("b,1,s,17", 1, 4, "b=2 s=3");
    take("b,s,16", DT_F32, 1, 0, "b=2 s=7; b=1 s=1");
    take("b,s,16", DT_F32, 1, -1, "b=2 s=7; b=1 s=1");
    take("b,s,16", DT_F32, 2, 3, "b=2 s=7");
    take("4,5", DT_F32, 0, -2, NULL);
    take("b,s", DT_I32, 1, -1, "b=2 s=7");
    take("7", DT_F32, 0, 6, NULL);
    gather(50, 17, "b,s", "b=2 s=7; b=1 s=1");
    gather(101, 64, "s", "s=7");
    gather(3, 1, "2,3", NULL);
}

/* ---- positions ------------------------------------------------------------------------------ */

static void positions(int at_past, const char *r)
{
    T t;
    t_init(&t, "positions start=%s {%s}", at_past ? "past" : "3", r);
    begin(&t);
    Node *y = unary_node(&t, OP_POSITIONS, t_in(&t, "ids", t_shape(&t, "b,s"), F_INT, 0, 100));
    set_dim(&t, y, A_start, at_past ? S(&t, "past") : C(3));
    t_done(&t, y);
    t_runs(&t, r);
    finish(&t, M_EXACT, 0, 0);
}

static void sinusoid(int dim, const char *pairing, double theta, const char *r)
{
    T t;
    t_init(&t, "sinusoid dim=%d %s theta=%g {%s}", dim, pairing, theta, r);
    begin(&t);
    Node *y = unary_node(&t, OP_SINUSOID, t_in(&t, "pos", t_shape(&t, "b,s"), F_INT, 0, 1000));
    set_i(&t, y, A_dim, dim);
    set_f(&t, y, A_theta, theta);
    set_s(&t, y, A_pairing, pairing);
    t_done(&t, y);
    t_runs(&t, r);
    finish(&t, M_ROW, 1e-6, 0);
}

static void rope(const char *xs, const char *ps, int rot, const char *pairing, Fill pf, const char *r)
{
    T t;
    t_init(&t, "rope [%s] pos [%s]%s rot=%d %s {%s}", xs, ps, pf == F_IOTA ? " iota+5" : "", rot, pairing, r);
    begin(&t);
    Node *x = t_in(&t, "x", t_shape(&t, xs), F_UNI, -1, 1);
    Node *p = t_in(&t, "pos", t_shape(&t, ps), pf, pf == F_IOTA ? 5 : 0, 500);
    Node *y = t_node(&t, OP_ROPE, x, p, NULL, NULL);
    if (rot) set_i(&t, y, A_rot, rot);
    set_f(&t, y, A_theta, 10000);
    set_s(&t, y, A_pairing, pairing);
    t_done(&t, y);
    t_runs(&t, r);
    finish(&t, M_ROW, 2e-6, 0);
}

static void test_positions(void)
{
    positions(1, "b=2 s=7 past=5; b=1 s=1 past=0");
    positions(0, "b=2 s=17");
    sinusoid(16, "interleaved", 10000, "b=2 s=7");
    sinusoid(16, "half", 10000, "b=2 s=7");
    sinusoid(6, "interleaved", 10000, "b=1 s=3");
    sinusoid(64, "half", 500, "b=1 s=5");
    static const char *const pairings[] = { "interleaved", "half" };
    for (int i = 0; i < 2; i++) {
        rope("b,4,s,8", "b,s", 0, pairings[i], F_INT, "b=2 s=7; b=1 s=1");
        rope("b,4,s,64", "1,s", 0, pairings[i], F_IOTA, "b=2 s=7");
        rope("b,2,s,64", "b,s", 16, pairings[i], F_INT, "b=2 s=3");
        rope("1,3,s,6", "1,s", 4, pairings[i], F_INT, "s=5");
        rope("b,2,s,34", "b,s", 0, pairings[i], F_INT, "b=2 s=7");
        rope("b,2,s,40", "b,s", 36, pairings[i], F_INT, "b=1 s=2");
    }
}

/* ---- attention pieces -------------------------------------------------------------------------- */

static void mask(int causal, int window, const char *valid, Fill vf, const char *r)
{
    T t;
    t_init(&t, "mask causal=%d window=%d valid=[%s] {%s}", causal, window, valid ? valid : "", r);
    begin(&t);
    Node *x = t_in(&t, "scores", t_shape(&t, "b,2,s,past+s"), F_UNI, -3, 3);
    Node *v = valid ? t_in(&t, "valid", t_shape(&t, valid), vf, 0.7, 1) : NULL;
    Node *y = t_node(&t, OP_MASK, x, v, NULL, NULL);
    if (causal) set_i(&t, y, A_causal, 1);
    if (window) set_i(&t, y, A_window, window);
    t_done(&t, y);
    t_runs(&t, r);
    finish(&t, M_EXACT, 0, 0);
}

/* One attention case: q (b, H, s, D), k and v (b, KH, keys, D | DV). */
typedef struct AttCase {
    int H, KH, D, DV, causal, window;
    int64_t len_max;        /* the maximum of s and past */
    const char *keys;       /* the key count: "past+s" when NULL */
    const char *valid;      /* valid's shape, or NULL */
    double vp, vhi;         /* valid is 1 with probability vp; its row 0 all 0 when vhi = 1 (F_VALID) */
} AttCase;

static void attention_case(const AttCase *c, const char *r)
{
    const char *keys = c->keys ? c->keys : "past+s";
    int sparse = c->valid && !(c->vp == 0.7 && c->vhi == 1);
    T t;
    t_init(&t, "attention h=%d kvh=%d d=%d dv=%d causal=%d window=%d%s%s valid=[%s]%s {%s}", c->H, c->KH, c->D, c->DV,
           c->causal, c->window, c->keys ? " keys=" : "", c->keys ? c->keys : "", c->valid ? c->valid : "",
           !sparse ? "" : c->vhi == 1 ? " sparse, row 0 hidden" : " sparse", r);
    t_sym(&t, "b", 4);
    t_sym(&t, "s", c->len_max);
    t_sym(&t, "past", c->len_max);
    char qs[64], ks[64], vs[64];
    snprintf(qs, sizeof qs, "b,%d,s,%d", c->H, c->D);
    snprintf(ks, sizeof ks, "b,%d,%s,%d", c->KH, keys, c->D);
    snprintf(vs, sizeof vs, "b,%d,%s,%d", c->KH, keys, c->DV);
    Node *q = t_in(&t, "q", t_shape(&t, qs), F_UNI, -2, 2);
    Node *k = t_in(&t, "k", t_shape(&t, ks), F_UNI, -2, 2);
    Node *v = t_in(&t, "v", t_shape(&t, vs), F_UNI, -1, 1);
    Node *m = c->valid ? t_in(&t, "valid", t_shape(&t, c->valid), F_VALID, c->vp, c->vhi) : NULL;
    Node *y = t_node(&t, OP_ATTENTION, q, k, v, m);
    set_f(&t, y, A_scale, 1 / sqrt((double)c->D));
    if (c->causal) set_i(&t, y, A_causal, 1);
    if (c->window) set_i(&t, y, A_window, c->window);
    t_done(&t, y);
    t_runs(&t, r);
    finish(&t, M_MAG, 1e-5, 4);         /* relative to sum_j p_j |v_j| */
}

static void attention(int H, int KH, int D, int DV, int causal, int window, const char *valid, const char *r)
{
    AttCase c = { H, KH, D, DV, causal, window, 24, NULL, valid, 0.7, 1 };
    attention_case(&c, r);
}

static void test_attention_pieces(void)
{
    const char *r = "b=2 s=7 past=5; b=1 s=1 past=0; b=2 s=3 past=0";
    mask(0, 0, NULL, F_VALID, r);
    mask(1, 0, NULL, F_VALID, r);
    mask(0, 3, NULL, F_VALID, r);
    mask(1, 4, NULL, F_VALID, r);
    mask(0, 0, "b,past+s", F_VALID, r);
    mask(1, 0, "1,past+s", F_VALID, r);
    mask(1, 2, "b,past+s", F_VALID, r);
    static const int shapes[][4] = { { 2, 2, 8, 8 }, { 4, 2, 16, 16 }, { 4, 1, 17, 17 }, { 2, 2, 64, 64 },
                                     { 2, 1, 8, 12 }, { 3, 3, 33, 5 } };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int *s = shapes[i];
        attention(s[0], s[1], s[2], s[3], 1, 0, NULL, r);
        attention(s[0], s[1], s[2], s[3], 0, 0, "b,past+s", r);
    }
    attention(2, 2, 8, 8, 0, 0, NULL, r);
    attention(4, 2, 16, 16, 1, 3, NULL, r);
    attention(4, 2, 16, 16, 1, 0, "1,past+s", r);
    attention(2, 1, 32, 32, 1, 5, "b,past+s", r);
    attention(2, 2, 8, 8, 1, 0, NULL, "b=1 s=0 past=3");
    attention(2, 2, 8, 8, 0, 0, NULL, "b=1 s=2 past=0; b=1 s=0 past=0");
}

/* The flash attention kernel around its tile of 128 keys (kernel_attention.c): T = 1, 127,
 * 129 and 389 = 3·128 + 5 keys, as prefill (s = T), decode (s = 1) and s < T queries after
 * a past; GQA groups of 1, 3 (blocks of 4 rows straddle two queries) and 4 (a decode block
 * is 4 heads); windows narrower and wider than a tile (whole tiles skipped); sparse valid
 * rows (whole tiles and whole rows hidden, and batch 0 entirely). */
static void test_attention_tiles(void)
{
    const char *decode = "b=2 s=1 past=0; b=2 s=1 past=126; b=2 s=1 past=388";      /* T = 1, 127, 389 */
    const char *prefill = "b=1 s=127 past=0; b=1 s=129 past=0; b=1 s=389 past=0";
    const char *past = "b=2 s=5 past=124; b=1 s=37 past=352; b=2 s=3 past=126";     /* T = 129, 389, 129 */
    static const AttCase cases[] = {
        { 4, 4, 64, 64, 1, 0, 400, NULL, NULL, 0, 0 },
        { 8, 2, 64, 64, 1, 0, 400, NULL, NULL, 0, 0 },      /* GQA 4: decode blocks of 4 heads */
        { 6, 2, 32, 48, 1, 0, 400, NULL, NULL, 0, 0 },      /* GQA 3: blocks straddle two queries */
    };
    for (int i = 0; i < 3; i++) {
        attention_case(&cases[i], decode);
        attention_case(&cases[i], prefill);
        attention_case(&cases[i], past);
    }
    attention_case(&(AttCase){ 4, 4, 64, 64, 0, 0, 400, NULL, NULL, 0, 0 }, "b=1 s=200 past=189; b=2 s=1 past=128");
    attention_case(&(AttCase){ 2, 1, 17, 20, 1, 50, 400, NULL, NULL, 0, 0 }, prefill);
    attention_case(&(AttCase){ 4, 2, 64, 64, 0, 150, 400, NULL, NULL, 0, 0 }, past);
    attention_case(&(AttCase){ 3, 3, 40, 40, 1, 130, 400, NULL, NULL, 0, 0 }, "b=2 s=1 past=388; b=1 s=260 past=0");
    attention_case(&(AttCase){ 2, 2, 64, 64, 1, 1, 400, NULL, NULL, 0, 0 }, "b=1 s=140 past=0; b=2 s=1 past=200");
    attention_case(&(AttCase){ 4, 4, 64, 64, 1, 0, 400, NULL, "b,past+s", 0.03, 0 }, prefill);
    attention_case(&(AttCase){ 8, 2, 64, 64, 1, 0, 400, NULL, "b,past+s", 0.03, 1 }, decode);
    attention_case(&(AttCase){ 4, 2, 64, 64, 0, 0, 400, NULL, "1,past+s", 0.02, 0 }, past);
    attention_case(&(AttCase){ 4, 4, 8, 8, 1, 0, 400, NULL, "b,past+s", 0.3, 0 }, past);
    /* fewer keys than queries (cross attention): causal rows before the keys see nothing */
    attention_case(&(AttCase){ 4, 2, 64, 64, 1, 0, 400, "7", NULL, 0, 0 }, "b=2 s=20; b=1 s=7; b=1 s=1");
    attention_case(&(AttCase){ 4, 2, 64, 64, 0, 0, 400, "130", "b,130", 0.5, 0 }, "b=2 s=150; b=1 s=1");
}

/* state k (b, 2, 12, 5) at b's maximum; x (b, 2, s, 5) appended at past along axis 2, over
 * three runs; or (b, s, d) along axis 1; or written at 0 (encoder memory). */
static void cache(const char *xs, const char *ss, int axis, int at_past, const char *r)
{
    T t;
    t_init(&t, "cache x [%s] state [%s] axis=%d at=%s {%s}", xs, ss, axis, at_past ? "past" : "0", r);
    begin(&t);
    Shape st = t_shape(&t, ss);
    int si = ir_module_add_state(t.m, "k", DT_F32, &st, 0, loc_make(0, 0, 0));
    Node *y = unary_node(&t, OP_CACHE, t_in(&t, "x", t_shape(&t, xs), F_UNI, -1, 1));
    y->ref = si;
    set_s(&t, y, A_state, "k");
    set_i(&t, y, A_axis, axis);
    set_dim(&t, y, A_at, at_past ? S(&t, "past") : C(0));
    t_done(&t, y);
    t_runs(&t, r);
    finish(&t, M_EXACT, 0, 0);
}

static void pool(const char *xs, int axis, const char *mode, const char *valid, const char *r)
{
    T t;
    t_init(&t, "pool [%s] axis=%d %s valid=[%s] {%s}", xs, axis, mode, valid ? valid : "", r ? r : "");
    begin(&t);
    Node *x = t_in(&t, "x", t_shape(&t, xs), F_UNI, -2, 2);
    Node *v = valid ? t_in(&t, "valid", t_shape(&t, valid), F_VALID, 0.6, 1) : NULL;
    Node *y = t_node(&t, OP_POOL, x, v, NULL, NULL);
    set_i(&t, y, A_axis, axis);
    set_s(&t, y, A_mode, mode);
    t_done(&t, y);
    t_runs(&t, r);
    if (strcmp(mode, "max") == 0) finish(&t, M_EXACT, 0, 0);
    else finish(&t, M_MAG, 1e-5, 1);
}

static void test_state_pool(void)
{
    cache("b,2,s,5", "b,2,12,5", 2, 1, "b=2 s=3; b=2 s=2; b=2 s=1");
    cache("b,2,s,5", "b,2,12,5", 2, 1, "b=1 s=5; b=1 s=1");
    cache("b,s,17", "b,12,17", 1, 1, "b=2 s=7; b=2 s=1; b=2 s=4");
    cache("b,s,8", "b,16,8", 1, 0, "b=2 s=7; b=2 s=9");
    cache("b,3,s,64", "b,3,20,64", 2, 1, "b=1 s=16; b=1 s=1");
    pool("b,s,17", 1, "mean", "b,s", "b=2 s=7; b=1 s=1");
    pool("b,s,17", 1, "max", "b,s", "b=2 s=7; b=1 s=1");
    pool("b,s,64", 1, "mean", "1,s", "b=2 s=7");
    pool("b,s,64", 1, "max", NULL, "b=2 s=7");
    pool("3,7", -1, "mean", NULL, NULL);
    pool("3,7", -1, "max", NULL, NULL);
    pool("5,9", 0, "mean", NULL, NULL);
    pool("b,4,s,3", 2, "mean", "b,s", "b=2 s=5");
    pool("b,s,33", 1, "max", "b,s", "b=2 s=3");
}

/* STATE_READ of what a CACHE kernel wrote: graph forward appends, graph read reads the
 * first past positions; both kernels share the state buffer, as in the executable. */
static void test_state_read(void)
{
    T t;
    t_init(&t, "state_read after cache {b=2 s=3; b=2 s=2}");
    begin(&t);
    Shape st = t_shape(&t, "b,2,12,5");
    int si = ir_module_add_state(t.m, "k", DT_F32, &st, 0, loc_make(0, 0, 0));
    Node *c = unary_node(&t, OP_CACHE, t_in(&t, "x", t_shape(&t, "b,2,s,5"), F_UNI, -1, 1));
    c->ref = si;
    set_s(&t, c, A_state, "k");
    set_i(&t, c, A_axis, 2);
    set_dim(&t, c, A_at, S(&t, "past"));
    t_done(&t, c);
    ir_graph_add_output(t.g, "c", c, loc_make(0, 0, 0));
    Graph *rg = t.g = ir_graph_new(t.m, "read", loc_make(0, 0, 0));
    Node *rd = t_node(&t, OP_STATE_READ, NULL, NULL, NULL, NULL);
    rd->ref = si;
    set_s(&t, rd, A_state, "k");
    set_i(&t, rd, A_axis, 2);
    rd->shape = t_shape(&t, "b,2,past,5");
    t_done(&t, rd);
    ir_graph_add_output(rg, "r", rd, loc_make(0, 0, 0));
    Graph *fg = t.m->graphs[0];
    int fail = t.bad || ir_verify(t.m, &t.diag);
    double worst[8] = { 0 };
    Interp *ip = fail ? NULL : interp_new(t.m, &t.diag);
    Tensor x[2], cw[2], rw;
    memset(&rw, 0, sizeof rw);
    int64_t syms[2][IR_MAX_SYMS + 1] = { { 0 } }, rsyms[IR_MAX_SYMS + 1] = { 0 };
    int seqs[2] = { 3, 2 }, b = ir_module_sym(t.m, "b"), s = ir_module_sym(t.m, "s"), past = ir_module_sym(t.m, "past");
    for (int r = 0; r < 2 && !fail; r++) {
        int64_t dims[4] = { 2, 2, seqs[r], 5 };
        KILN_ASSERT(tensor_alloc(&x[r], DT_F32, 4, dims) == 0);
        for (int64_t e = 0; e < tensor_numel(&x[r]); e++) ((float *)x[r].data)[e] = (float)(e + 100 * r);
        syms[r][b] = 2;
        syms[r][s] = seqs[r];
        syms[r][past] = interp_sym(ip, "past");
        fail |= interp_run(ip, fg, &x[r], &cw[r]) != 0;
    }
    memcpy(rsyms, syms[1], sizeof rsyms);
    rsyms[past] = 5;
    fail |= !fail && interp_run(ip, rg, NULL, &rw) != 0;
    if (ip) interp_free(ip);
    for (int v = 0; v < n_variants && !fail; v++) {
        int vw;
        Jit *jc = jit_kernel(&variants[v], t.m, c, &vw), *jr = jit_kernel(&variants[v], t.m, rd, &vw);
        /* whole (parts = 1), then split: the parts one after another on a fresh state */
        for (int si = -1; si < t_n_split_parts; si++) {
            int64_t parts = si < 0 ? 1 : t_split_parts[si];
            float *aux = xcalloc(4 * 2 * 12 * 5, 4), *y = xmalloc(4 * 2 * 12 * 5 * 4);
            for (int r = 0; r < 2; r++) {
                for (int64_t p = 0; p < parts; p++) jit_fn(jc)(y, x[r].data, NULL, NULL, NULL, syms[r], aux, p, parts);
                if (memcmp(y, cw[r].data, (size_t)(4 * tensor_numel(&cw[r])))) worst[v] = INFINITY;
            }
            for (int64_t p = 0; p < parts; p++) jit_fn(jr)(y, NULL, NULL, NULL, NULL, rsyms, aux, p, parts);
            if (memcmp(y, rw.data, (size_t)(4 * tensor_numel(&rw)))) worst[v] = INFINITY;
            free(aux);
            free(y);
        }
        fail |= worst[v] != 0;
        jit_free(jc);
        jit_free(jr);
    }
    printf("%s  %-58s", fail ? "FAIL" : "PASS", t.label);
    for (int v = 0; v < n_variants; v++) printf(" vw%d:%.1e", variant_vw[v], worst[v]);
    printf("\n");
    op_cases[OP_STATE_READ]++;
    n_fail += fail;
    n_cases++;
    for (int r = 0; r < 2; r++) {
        tensor_free(&x[r]);
        tensor_free(&cw[r]);
    }
    tensor_free(&rw);
    t_free(&t);
}

/* ---- dedupe and naming ------------------------------------------------------------------------- */

static int expect(int ok, const char *what)
{
    if (!ok) printf("    %s\n", what);
    return !ok;
}

/* Two layers' worth of identical nodes share kernels named after the first; a different
 * attribute or shape makes a new one; input and weight have none; reshape gets a copy. */
static void test_dedupe(void)
{
    T t;
    t_init(&t, "dedupe and naming");
    begin(&t);
    Node *x = t_in(&t, "x", t_shape(&t, "s,16"), F_UNI, -1, 1);
    Node *w0 = t_weight(&t, "w0", DT_F32, shp(2, C(16), C(16)));
    Node *w1 = t_weight(&t, "w1", DT_F32, shp(2, C(16), C(16)));
    Node *w2 = t_weight(&t, "w2", DT_F16, shp(2, C(16), C(16)));
    Node *m0 = t_done(&t, t_node(&t, OP_MATMUL, x, w0, NULL, NULL));
    Node *m1 = t_done(&t, t_node(&t, OP_MATMUL, m0, w1, NULL, NULL));
    Node *m2 = t_node(&t, OP_MATMUL, m1, w1, NULL, NULL);
    set_i(&t, m2, A_tb, 1);
    t_done(&t, m2);
    Node *m3 = t_done(&t, t_node(&t, OP_MATMUL, m2, w2, NULL, NULL));
    Node *r = t_node(&t, OP_RESHAPE, m3, NULL, NULL, NULL);
    set_dims(&t, r, A_shape, t_shape(&t, "s,4,4"));
    t_done(&t, r);
    Cg cg;
    memset(&cg, 0, sizeof cg);
    BackendOptions o;
    memset(&o, 0, sizeof o);
    int fails = t.bad != 0;
    if (!fails && cg_init(&cg, t.m, &o, &t.diag) == 0) {
        LLVMValueRef k0 = cg_kernel(&cg, m0), k1 = cg_kernel(&cg, m1), k2 = cg_kernel(&cg, m2), k3 = cg_kernel(&cg, m3);
        size_t len;
        fails += expect(k0 && k0 == k1, "identical matmuls do not share a kernel");
        fails += expect(k2 && k2 != k0, "tb=1 shares the tb=0 kernel");
        fails += expect(k3 && k3 != k0, "an f16 weight shares the f32 kernel");
        char want[64];
        snprintf(want, sizeof want, "k.%s", m0->name);
        fails += expect(strcmp(LLVMGetValueName2(k0, &len), want) == 0, "kernel not named after its first node");
        fails += expect(cg_kernel(&cg, x) == NULL && cg_kernel(&cg, w0) == NULL, "input or weight got a kernel");
        fails += expect(cg_kernel(&cg, r) != NULL, "reshape got no copy kernel");
        fails += expect(cg.n_kernels == 4, "expected 4 kernels");
        char *msg = NULL;
        fails += expect(!LLVMVerifyModule(cg.mod, LLVMReturnStatusAction, &msg), "module does not verify");
        LLVMDisposeMessage(msg);
        cg_dispose(&cg);
    } else {
        fails++;
    }
    printf("%s  %s\n", fails ? "FAIL" : "PASS", t.label);
    n_fail += fails != 0;
    n_cases++;
    t_free(&t);
}

int main(void)
{
    test_dedupe();
    test_binary();
    test_unary();
    test_matmul();
    test_linear();
    test_softmax();
    test_norms();
    test_layout();
    test_positions();
    test_attention_pieces();
    test_attention_tiles();
    test_state_pool();
    test_state_read();

    printf("\nlargest error per op (metric and tolerance as in each case's line):\n%-14s", "op");
    for (int v = 0; v < n_variants; v++) {
        char h[48];
        snprintf(h, sizeof h, "vw%d %s", variant_vw[v], variants[v].label);
        printf(" %-18s", h);
    }
    printf("\n");
    for (int op = 0; op < OP_COUNT; op++) {
        if (!op_cases[op]) continue;
        printf("%-14s", op_name((OpKind)op));
        for (int v = 0; v < n_variants; v++) printf(" %-18.2e", op_err[op][v]);
        printf("  (%d cases)\n", op_cases[op]);
    }
    for (int v = 0; v < n_variants; v++)
        if (variants[v].want_vw && variant_vw[v] != variants[v].want_vw)
            printf("NOTE: variant %s expected %d lanes, cg_init chose %d\n", variants[v].label, variants[v].want_vw,
                   variant_vw[v]);
    printf("%d of %d cases failed\n", n_fail, n_cases);
    return n_fail != 0;
}
