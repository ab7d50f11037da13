/* interp.c — kiln's reference interpreter: every op of ops.def in plain, obviously-correct C.
 *
 * This is the oracle every compiled kernel is tested against, so each op is written as its
 * formula, with no tiling or cleverness: float32 values, float64 accumulators for the long
 * reductions (matmul inner products, norms, softmax sums, mean pooling), float64 angles
 * for positions. Fused ops are computed the way their unfused chains are (ATTENTION rounds
 * the scores to float after the matmul and after the scale, exactly as MATMUL → SCALE →
 * MASK → SOFTMAX → MATMUL would), so a fusion pass can be checked against the unfused
 * graph to the last bit.
 *
 * A run goes in three steps. (1) bind: the graph's inputs bind the symbols their shapes
 * name (a dim that is a single symbol), every other declared dim is evaluated and must
 * match; nothing in the session changes if an input is wrong. (2) plan: every node's shape
 * is evaluated with the bound symbols, the caches are checked for room, and the last user
 * of each node is found, so a value is freed as soon as its last consumer ran. (3) execute
 * the nodes in order. Values are Tensors (f32 or i32, row-major); graph inputs and 4-byte
 * aligned f32 weights are borrowed, everything else is owned by the run. f16/bf16 weights
 * are widened to f32 when read (weight pointers may be unaligned: bytes go through memcpy).
 *
 * States (KV caches, encoder memory) are allocated once, with every symbol at its maximum.
 * A run whose batch is smaller than the maximum uses the first rows; a CACHE writes a box
 * at offset `at` along its axis and returns the box [0, at + len). The symbol `past` (when
 * the module declares one) belongs to the session: it starts at 0 and advances, after a
 * successful run, by the length the CACHE nodes wrote at `past`. */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct Interp {
    Module *m;
    Diag *d;
    int64_t sym[IR_MAX_SYMS + 1];   /* value of each symbol, -1 = unbound; [0] unused */
    int past;                       /* index of the symbol "past", 0 if none */
    Tensor *states;                 /* (m->n_states), each at the symbols' maxima */
};

/* One run of one graph. */
typedef struct Run {
    Interp *in;
    const Graph *g;
    Tensor *val;                    /* (n_nodes) the value of each node, once computed */
    char *own;                      /* (n_nodes) 1 = val[i] is ours to free */
    int *last;                      /* (n_nodes) index of the last node reading it */
    int64_t (*dims)[IR_MAX_RANK];   /* (n_nodes) evaluated shape of each node */
    int64_t appended;               /* length the CACHE nodes wrote at past; -1 = none */
} Run;

__attribute__((format(printf, 3, 4)))
static int node_error(Interp *in, const Node *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error(in->d, n->loc, "%s '%s': %s", op_name(n->op), n->name, msg);
    return -1;
}

/* ---- small helpers ------------------------------------------------------------------ */

static float f16_to_f32(uint16_t h)
{
    int sign = h >> 15, e = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v;
    if (e == 0) v = ldexpf((float)man, -24);                /* zero, subnormal: man * 2^-24 */
    else if (e == 31) v = man ? NAN : INFINITY;
    else v = ldexpf((float)(man | 0x400), e - 25);          /* 1.man * 2^(e-15) */
    return sign ? -v : v;
}

static float bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;                      /* bf16 is the top half of f32 */
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static DType value_dtype(DType t) { return dtype_is_float(t) ? DT_F32 : DT_I32; }

static int64_t prod(const int64_t *d, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= d[i];
    return p;
}

/* Row-major strides of a tensor (in elements). */
static void strides_of(int rank, const int64_t *dims, int64_t *st)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        st[i] = s;
        s *= dims[i];
    }
}

/* Advances a row-major multi-index over dims. */
static void index_next(int64_t *idx, const int64_t *dims, int rank)
{
    for (int i = rank - 1; i >= 0; i--) {
        if (++idx[i] < dims[i]) return;
        idx[i] = 0;
    }
}

/* Strides that read an operand of rank xr (dims xd, items of `item` elements each) while
 * walking an output of rank r (dims od): numpy broadcasting, aligned on the right; an axis
 * the operand lacks or has as 1 gets stride 0. */
static void bcast_strides(int xr, const int64_t *xd, int64_t item, int r, const int64_t *od, int64_t *st)
{
    int64_t s = item;
    for (int i = r - 1; i >= 0; i--) {
        int xi = i - (r - xr);
        if (xi < 0) { st[i] = 0; continue; }
        KILN_ASSERT(xd[xi] == od[i] || xd[xi] == 1);
        st[i] = xd[xi] == 1 ? 0 : s;
        s *= xd[xi];
    }
}

/* Copies the box of extents ext from src at offset soff into dst at offset doff (same rank,
 * 4-byte elements). SLICE, STATE_READ and both halves of CACHE are this one copy. */
static void copy_box(const Tensor *src, const int64_t *soff, Tensor *dst, const int64_t *doff, const int64_t *ext)
{
    int r = src->rank;
    KILN_ASSERT(dst->rank == r && dtype_size(src->dtype) == 4 && dtype_size(dst->dtype) == 4);
    for (int i = 0; i < r; i++) {
        KILN_ASSERT(soff[i] >= 0 && soff[i] + ext[i] <= src->dim[i]);
        KILN_ASSERT(doff[i] >= 0 && doff[i] + ext[i] <= dst->dim[i]);
        if (ext[i] == 0) return;
    }
    if (r == 0) {
        memcpy(dst->data, src->data, 4);
        return;
    }
    int64_t ss[IR_MAX_RANK], ds[IR_MAX_RANK], idx[IR_MAX_RANK] = { 0 };
    strides_of(r, src->dim, ss);
    strides_of(r, dst->dim, ds);
    int64_t rows = prod(ext, 0, r - 1);
    for (int64_t row = 0; row < rows; row++) {
        int64_t so = soff[r - 1], dof = doff[r - 1];
        for (int i = 0; i < r - 1; i++) {
            so += (soff[i] + idx[i]) * ss[i];
            dof += (doff[i] + idx[i]) * ds[i];
        }
        memcpy((char *)dst->data + 4 * dof, (const char *)src->data + 4 * so, (size_t)(4 * ext[r - 1]));
        index_next(idx, ext, r - 1);
    }
}

/* Softmax of one row in float64; a row that is all -inf gives zeros. */
static void softmax_row(const float *x, float *y, int64_t n)
{
    int all_masked = 1;
    double mx = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        if (x[j] != -INFINITY) all_masked = 0;
        if (x[j] > mx) mx = x[j];
    }
    if (all_masked) {
        for (int64_t j = 0; j < n; j++) y[j] = 0;
        return;
    }
    double sum = 0;
    for (int64_t j = 0; j < n; j++) sum += exp((double)x[j] - mx);
    for (int64_t j = 0; j < n; j++) y[j] = (float)(exp((double)x[j] - mx) / sum);
}

/* LayerNorm (b != NULL: biased variance) or RMSNorm (b == NULL) of one row, in float64. */
static void norm_row(const float *x, int64_t n, const float *w, const float *b, double eps, float *y)
{
    if (b) {
        double mean = 0, var = 0;
        for (int64_t j = 0; j < n; j++) mean += x[j];
        mean /= (double)n;
        for (int64_t j = 0; j < n; j++) var += ((double)x[j] - mean) * ((double)x[j] - mean);
        var /= (double)n;
        double inv = 1.0 / sqrt(var + eps);
        for (int64_t j = 0; j < n; j++) y[j] = (float)(((double)x[j] - mean) * inv * w[j] + b[j]);
    } else {
        double ms = 0;
        for (int64_t j = 0; j < n; j++) ms += (double)x[j] * x[j];
        ms /= (double)n;
        double inv = 1.0 / sqrt(ms + eps);
        for (int64_t j = 0; j < n; j++) y[j] = (float)((double)x[j] * inv * w[j]);
    }
}

/* Normalizes a possibly negative axis (the verifier checked its range). */
static int node_axis(const Node *n, int rank)
{
    int64_t a = ir_attr_int(n, A_axis, 0);
    if (a < 0) a += rank;
    KILN_ASSERT(a >= 0 && a < rank);
    return (int)a;
}

/* ---- symbols ------------------------------------------------------------------------ */

static int eval_dim(Interp *in, const Node *n, Dim d, int64_t *out)
{
    int64_t v = d.k;
    for (int i = 0; i < IR_DIM_TERMS && d.sym[i]; i++) {
        int s = d.sym[i];
        if (in->sym[s] < 0) {
            return node_error(in, n, "its shape needs '%s', which no input of this graph determines and which"
                              " was not bound", in->m->syms[s].name);
        }
        v += in->sym[s];
    }
    if (v < 0 || v > IR_MAX_EXTENT) {
        char b[96];
        ir_dim_str(in->m, d, b, sizeof b);
        return node_error(in, n, "dimension %s evaluates to %lld", b, (long long)v);
    }
    *out = v;
    return 0;
}

static int eval_shape(Interp *in, const Node *n, const Shape *s, int64_t *dims)
{
    for (int i = 0; i < s->rank; i++)
        if (eval_dim(in, n, s->d[i], &dims[i])) return -1;
    return 0;
}

static int is_single_sym(Dim d) { return d.k == 0 && d.sym[0] && !d.sym[1]; }

static int dim_uses(Dim d, int s) { return s && (d.sym[0] == s || d.sym[1] == s); }

/* Binds the symbols named by the graph's input shapes and checks every declared dim
 * against the given tensors. The session changes only when all inputs are right. */
static int bind_inputs(Interp *in, const Graph *g, const Tensor *inputs)
{
    Module *m = in->m;
    int64_t sym[IR_MAX_SYMS + 1];
    int from[IR_MAX_SYMS + 1] = { 0 };       /* 1 + the input that bound the symbol */
    memcpy(sym, in->sym, sizeof sym);
    for (int i = 0; i < g->n_inputs; i++) {
        const Node *x = g->inputs[i];
        const Tensor *t = &inputs[i];
        char b[512];
        ir_shape_str(m, &x->shape, b, sizeof b);
        if (t->dtype != value_dtype(x->dtype))
            return node_error(in, x, "expected %s data (declared %s), got %s", dtype_name(value_dtype(x->dtype)),
                              dtype_name(x->dtype), dtype_name(t->dtype));
        if (t->rank != x->shape.rank)
            return node_error(in, x, "expected rank %d %s, got rank %d", x->shape.rank, b, t->rank);
        for (int j = 0; j < t->rank; j++)
            if (t->dim[j] < 0 || t->dim[j] > IR_MAX_EXTENT)
                return node_error(in, x, "dimension %d has the absurd extent %lld", j, (long long)t->dim[j]);
        if (!t->data) return node_error(in, x, "no data given");
        for (int j = 0; j < t->rank; j++) {
            Dim d = x->shape.d[j];
            if (!is_single_sym(d) || d.sym[0] == in->past) continue;
            int s = d.sym[0];
            const Symbol *sy = &m->syms[s];
            if (from[s] && sym[s] != t->dim[j])
                return node_error(in, x, "dimension %d ('%s') is %lld, but input '%s' gave '%s' = %lld", j, sy->name,
                                  (long long)t->dim[j], g->inputs[from[s] - 1]->name, sy->name, (long long)sym[s]);
            if (t->dim[j] > sy->max)
                return node_error(in, x, "dimension %d is %lld, which exceeds the maximum %lld of '%s'", j,
                                  (long long)t->dim[j], (long long)sy->max, sy->name);
            sym[s] = t->dim[j];
            from[s] = i + 1;
        }
    }
    /* Dims like past+seq, constants and `past` itself are checked, not bound. */
    int64_t saved[IR_MAX_SYMS + 1];
    memcpy(saved, in->sym, sizeof saved);
    memcpy(in->sym, sym, sizeof sym);
    for (int i = 0; i < g->n_inputs; i++) {
        const Node *x = g->inputs[i];
        for (int j = 0; j < x->shape.rank; j++) {
            int64_t v;
            char b[96];
            ir_dim_str(m, x->shape.d[j], b, sizeof b);
            if (eval_dim(in, x, x->shape.d[j], &v)) goto fail;
            if (v != inputs[i].dim[j]) {
                char val[48] = "";
                if (!dim_is_const(x->shape.d[j])) snprintf(val, sizeof val, " = %lld", (long long)v);
                node_error(in, x, "dimension %d is %lld, but the declaration says %s%s", j,
                           (long long)inputs[i].dim[j], b, val);
                goto fail;
            }
        }
    }
    return 0;
fail:
    memcpy(in->sym, saved, sizeof saved);
    return -1;
}

/* Every bound symbol must lie within its maximum (interp_bind checks too; past grows). */
static int check_syms(Interp *in, const Graph *g)
{
    Module *m = in->m;
    for (int s = 1; s <= m->n_syms; s++) {
        if (in->sym[s] <= m->syms[s].max) continue;
        if (s == in->past)
            diag_error(in->d, g->loc, "graph '%s': the context is full: %lld positions are cached, the maximum of '%s'"
                       " is %lld", g->name, (long long)in->sym[s], m->syms[s].name, (long long)m->syms[s].max);
        else
            diag_error(in->d, g->loc, "graph '%s': '%s' is %lld, which exceeds its maximum %lld", g->name,
                       m->syms[s].name, (long long)in->sym[s], (long long)m->syms[s].max);
        return -1;
    }
    return 0;
}

/* ---- planning ----------------------------------------------------------------------- */

/* Evaluates every node's shape, checks that the states have room for what the nodes read
 * and write, finds each value's last reader. Nothing is written yet. */
static int plan(Run *r)
{
    Interp *in = r->in;
    const Graph *g = r->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        KILN_ASSERT(n->id == i);
        r->last[i] = i;
        if (eval_shape(in, n, &n->shape, r->dims[i])) return -1;
        if (n->op != OP_CACHE && n->op != OP_STATE_READ) continue;
        const State *st = &in->m->states[n->ref];
        const Tensor *s = &in->states[n->ref];
        int axis = node_axis(n, s->rank);
        for (int j = 0; j < s->rank; j++) {
            if (r->dims[i][j] <= s->dim[j]) continue;
            if (n->op == OP_CACHE && j == axis) {
                int64_t len, at;
                if (eval_dim(in, n, n->in[0]->shape.d[axis], &len) || eval_dim(in, n, ir_node_attr(n, A_at)->v.dim, &at))
                    return -1;
                return node_error(in, n, "the context is full: %lld positions are cached and %lld more do not fit"
                                  " in state '%s' (%lld positions)", (long long)at, (long long)len, st->name,
                                  (long long)s->dim[j]);
            }
            return node_error(in, n, "dimension %d is %lld, but state '%s' holds only %lld", j,
                              (long long)r->dims[i][j], st->name, (long long)s->dim[j]);
        }
        if (n->op == OP_CACHE && dim_uses(ir_node_attr(n, A_at)->v.dim, in->past)) {
            int64_t len;
            if (eval_dim(in, n, n->in[0]->shape.d[axis], &len)) return -1;
            if (r->appended >= 0 && r->appended != len)
                return node_error(in, n, "appends %lld positions, but another cache of this graph appends %lld",
                                  (long long)len, (long long)r->appended);
            r->appended = len;
        }
    }
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i]->n_in; j++) {
            int p = g->nodes[i]->in[j]->id;
            KILN_ASSERT(p >= 0 && p < i && g->nodes[p] == g->nodes[i]->in[j]);
            r->last[p] = i;
        }
    for (int i = 0; i < g->n_outputs; i++) r->last[g->outputs[i].node->id] = g->n_nodes;
    return 0;
}

/* ---- the ops ------------------------------------------------------------------------ */

/* Reads weight n->ref as f32: borrowed when it is f32 and aligned, widened otherwise. */
static int exec_weight(Run *r, const Node *n, Tensor *y)
{
    const Weight *w = &r->in->m->weights[n->ref];
    if (!w->data) return node_error(r->in, n, "weight '%s' has no data (weights not loaded)", w->tensor);
    int64_t numel = prod(r->dims[n->id], 0, n->shape.rank);
    if ((w->dtype == DT_F32 || w->dtype == DT_I32) && (uintptr_t)w->data % 4 == 0) {
        y->dtype = value_dtype(w->dtype);
        y->rank = n->shape.rank;
        memcpy(y->dim, r->dims[n->id], sizeof y->dim);
        y->data = (void *)w->data;      /* borrowed, read only: kernels never write inputs */
        r->own[n->id] = 0;
        return 0;
    }
    if (tensor_alloc(y, value_dtype(w->dtype), n->shape.rank, r->dims[n->id]))
        return node_error(r->in, n, "weight '%s' is too large to read", w->tensor);
    const unsigned char *src = w->data;
    if (w->dtype == DT_F32 || w->dtype == DT_I32) {
        memcpy(y->data, src, (size_t)(4 * numel));
    } else {
        float *dst = y->data;
        for (int64_t i = 0; i < numel; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = w->dtype == DT_F16 ? f16_to_f32(h) : bf16_to_f32(h);
        }
    }
    return 0;
}

static double unary(OpKind op, const Node *n, double x)
{
    switch (op) {
    case OP_SCALE: return x * ir_attr_float(n, A_value, 1);
    case OP_RELU: return x > 0 ? x : 0;
    case OP_SILU: return x / (1 + exp(-x));
    case OP_SIGMOID: return 1 / (1 + exp(-x));
    case OP_TANH: return tanh(x);
    case OP_GELU:
        if (strcmp(ir_attr_str(n, A_approx, "erf"), "tanh") == 0)
            return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
        return 0.5 * x * (1 + erf(x * M_SQRT1_2));
    default: KILN_UNREACHABLE();
    }
}

static void exec_unary(const Node *n, const Tensor *x, Tensor *y)
{
    const float *a = x->data;
    float *o = y->data;
    int64_t numel = tensor_numel(y);
    for (int64_t i = 0; i < numel; i++) o[i] = (float)unary(n->op, n, a[i]);
}

/* ADD, SUB, MUL, DIV with numpy broadcasting. */
static void exec_binary(const Node *n, const Tensor *x, const Tensor *z, Tensor *y)
{
    int r = y->rank;
    int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], idx[IR_MAX_RANK] = { 0 };
    bcast_strides(x->rank, x->dim, 1, r, y->dim, sa);
    bcast_strides(z->rank, z->dim, 1, r, y->dim, sb);
    const float *a = x->data, *b = z->data;
    float *o = y->data;
    int64_t numel = tensor_numel(y);
    for (int64_t e = 0; e < numel; e++) {
        int64_t oa = 0, ob = 0;
        for (int i = 0; i < r; i++) {
            oa += idx[i] * sa[i];
            ob += idx[i] * sb[i];
        }
        float u = a[oa], v = b[ob];
        switch (n->op) {
        case OP_ADD: o[e] = u + v; break;
        case OP_SUB: o[e] = u - v; break;
        case OP_MUL: o[e] = u * v; break;
        case OP_DIV: o[e] = u / v; break;
        default: KILN_UNREACHABLE();
        }
        index_next(idx, y->dim, r);
    }
}

/* y[.., m, n] = sum_k a[.., m, k] * b[.., k, n] (tb: b[.., n, k]); leading dims broadcast.
 * Each output is one float64 sum over k in ascending order. */
static void exec_matmul(const Node *n, const Tensor *a, const Tensor *b, Tensor *y)
{
    int tb = (int)ir_attr_int(n, A_tb, 0);
    int lr = y->rank - 2;                           /* leading (batch) axes of y */
    int64_t M = a->dim[a->rank - 2], K = a->dim[a->rank - 1];
    int64_t N = y->dim[y->rank - 1];
    KILN_ASSERT(y->dim[lr] == M && b->dim[b->rank - (tb ? 1 : 2)] == K && b->dim[b->rank - (tb ? 2 : 1)] == N);
    int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], idx[IR_MAX_RANK] = { 0 };
    bcast_strides(a->rank - 2, a->dim, M * K, lr, y->dim, sa);
    bcast_strides(b->rank - 2, b->dim, K * N, lr, y->dim, sb);
    double *acc = xcalloc((size_t)(N ? N : 1), sizeof *acc);     /* (N) one output row */
    int64_t batches = prod(y->dim, 0, lr);
    for (int64_t t = 0; t < batches; t++) {
        const float *A = a->data, *B = b->data;
        for (int i = 0; i < lr; i++) {
            A += idx[i] * sa[i];
            B += idx[i] * sb[i];
        }
        float *Y = (float *)y->data + t * M * N;
        for (int64_t i = 0; i < M; i++) {
            for (int64_t j = 0; j < N; j++) acc[j] = 0;
            for (int64_t k = 0; k < K; k++) {
                double aik = A[i * K + k];
                for (int64_t j = 0; j < N; j++) acc[j] += aik * (tb ? B[j * K + k] : B[k * N + j]);
            }
            for (int64_t j = 0; j < N; j++) Y[i * N + j] = (float)acc[j];
        }
        index_next(idx, y->dim, lr);
    }
    free(acc);
}

static void exec_softmax(const Tensor *x, Tensor *y)
{
    int64_t n = x->dim[x->rank - 1], rows = n ? tensor_numel(x) / n : 0;
    for (int64_t i = 0; i < rows; i++) softmax_row((const float *)x->data + i * n, (float *)y->data + i * n, n);
}

/* LAYERNORM, RMSNORM, ADD_LAYERNORM, ADD_RMSNORM. The fused ones add in float first, as
 * ADD would, then normalize the sum. */
static void exec_norm(const Node *n, const Tensor *const *x, Tensor *y)
{
    int fused = n->op == OP_ADD_LAYERNORM || n->op == OP_ADD_RMSNORM;
    int ln = n->op == OP_LAYERNORM || n->op == OP_ADD_LAYERNORM;
    const Tensor *w = x[fused + 1], *b = ln ? x[fused + 2] : NULL;
    double eps = ir_attr_float(n, A_eps, 1e-5);
    int64_t d = y->dim[y->rank - 1], rows = d ? tensor_numel(y) / d : 0;
    float *sum = xcalloc((size_t)(d ? d : 1), sizeof *sum);       /* (d) the summed row */
    for (int64_t i = 0; i < rows; i++) {
        const float *row = (const float *)x[0]->data + i * d;
        if (fused) {
            const float *res = (const float *)x[1]->data + i * d;
            for (int64_t j = 0; j < d; j++) sum[j] = row[j] + res[j];
            row = sum;
        }
        norm_row(row, d, w->data, b ? b->data : NULL, eps, (float *)y->data + i * d);
    }
    free(sum);
}

static void exec_transpose(const Node *n, const Tensor *x, Tensor *y)
{
    const Attr *perm = ir_node_attr(n, A_perm);
    int r = y->rank;
    int64_t xs[IR_MAX_RANK], idx[IR_MAX_RANK] = { 0 };
    strides_of(x->rank, x->dim, xs);
    const uint32_t *a = x->data;                    /* 4-byte elements, f32 or i32 */
    uint32_t *o = y->data;
    int64_t numel = tensor_numel(y);
    for (int64_t e = 0; e < numel; e++) {
        int64_t off = 0;
        for (int i = 0; i < r; i++) off += idx[i] * xs[perm->v.ints[i]];
        o[e] = a[off];
        index_next(idx, y->dim, r);
    }
}

/* y[.., i, ..] = x[.., i / times, ..] along axis. */
static void exec_repeat(const Node *n, const Tensor *x, Tensor *y)
{
    int axis = node_axis(n, x->rank);
    int64_t times = ir_attr_int(n, A_times, 1);
    int64_t outer = prod(x->dim, 0, axis), inner = prod(x->dim, axis + 1, x->rank);
    int64_t X = x->dim[axis], Y = y->dim[axis];
    KILN_ASSERT(Y == X * times);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < Y; i++)
            memcpy((uint32_t *)y->data + (o * Y + i) * inner, (const uint32_t *)x->data + (o * X + i / times) * inner,
                   (size_t)(4 * inner));
}

static int exec_take(Run *r, const Node *n, const Tensor *x, Tensor *y)
{
    int axis = node_axis(n, x->rank);
    int64_t X = x->dim[axis], index = ir_attr_int(n, A_index, 0);
    int64_t at = index < 0 ? index + X : index;
    if (at < 0 || at >= X)
        return node_error(r->in, n, "index %lld is out of range for length %lld", (long long)index, (long long)X);
    int64_t outer = prod(x->dim, 0, axis), inner = prod(x->dim, axis + 1, x->rank);
    for (int64_t o = 0; o < outer; o++)
        memcpy((uint32_t *)y->data + o * inner, (const uint32_t *)x->data + (o * X + at) * inner, (size_t)(4 * inner));
    return 0;
}

/* y[.., :] = table[ids[..], :] */
static int exec_gather(Run *r, const Node *n, const Tensor *table, const Tensor *ids, Tensor *y)
{
    int64_t rows = table->dim[0], d = table->dim[1], count = tensor_numel(ids);
    const int32_t *id = ids->data;
    for (int64_t i = 0; i < count; i++) {
        if (id[i] < 0 || id[i] >= rows)
            return node_error(r->in, n, "id %d is out of range for a table of %lld rows", id[i], (long long)rows);
        memcpy((float *)y->data + i * d, (const float *)table->data + (int64_t)id[i] * d, (size_t)(4 * d));
    }
    return 0;
}

/* y[.., j] = start + j, shaped like the ids. */
static int exec_positions(Run *r, const Node *n, Tensor *y)
{
    int64_t start;
    if (eval_dim(r->in, n, ir_node_attr(n, A_start)->v.dim, &start)) return -1;
    int64_t S = y->rank ? y->dim[y->rank - 1] : 1, count = tensor_numel(y);
    if (start + S > INT32_MAX) return node_error(r->in, n, "position %lld does not fit in i32", (long long)(start + S));
    int32_t *o = y->data;
    for (int64_t i = 0; i < count; i++) o[i] = (int32_t)(start + i % S);
    return 0;
}

/* interleaved: y[2i], y[2i+1] = sin, cos(pos / theta^(2i/dim)); half: y[i], y[i + dim/2]. */
static void exec_sinusoid(const Node *n, const Tensor *pos, Tensor *y)
{
    int64_t dim = ir_attr_int(n, A_dim, 0), count = tensor_numel(pos);
    double theta = ir_attr_float(n, A_theta, 10000);
    int half = strcmp(ir_attr_str(n, A_pairing, "interleaved"), "half") == 0;
    for (int64_t p = 0; p < count; p++) {
        double x = ((const int32_t *)pos->data)[p];
        float *o = (float *)y->data + p * dim;
        for (int64_t i = 0; i < dim / 2; i++) {
            double a = x / pow(theta, (double)(2 * i) / (double)dim);
            o[half ? i : 2 * i] = (float)sin(a);
            o[half ? i + dim / 2 : 2 * i + 1] = (float)cos(a);
        }
    }
}

/* Rotates pairs of x (B, H, S, hd) by pos[b, s] * theta^(-2i/rot); positions are
 * (B or 1, S), broadcast over heads; dims from rot on pass through. */
static void exec_rope(const Node *n, const Tensor *x, const Tensor *pos, Tensor *y)
{
    int64_t B = x->dim[0], H = x->dim[1], S = x->dim[2], hd = x->dim[3];
    int64_t rot = ir_attr_int(n, A_rot, hd);
    double theta = ir_attr_float(n, A_theta, 10000);
    int half = strcmp(ir_attr_str(n, A_pairing, "interleaved"), "half") == 0;
    const int32_t *P = pos->data;
    memcpy(y->data, x->data, (size_t)(4 * tensor_numel(x)));
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t s = 0; s < S; s++) {
                double p = P[(pos->dim[0] == 1 ? 0 : b) * S + s];
                const float *xi = (const float *)x->data + ((b * H + h) * S + s) * hd;
                float *yo = (float *)y->data + ((b * H + h) * S + s) * hd;
                for (int64_t i = 0; i < rot / 2; i++) {
                    double angle = p * pow(theta, -(double)(2 * i) / (double)rot);
                    int64_t i0 = half ? i : 2 * i, i1 = half ? i + rot / 2 : 2 * i + 1;
                    double c = cos(angle), sn = sin(angle), x0 = xi[i0], x1 = xi[i1];
                    yo[i0] = (float)(x0 * c - x1 * sn);
                    yo[i1] = (float)(x0 * sn + x1 * c);
                }
            }
}

/* Whether key j is hidden from query i of q queries over k keys (query i sits at key
 * position i + k - q); valid is (B or 1, k) or NULL. */
static int masked(int64_t i, int64_t j, int64_t q, int64_t k, int causal, int64_t window, const Tensor *valid,
                  int64_t b)
{
    int64_t at = i + k - q;
    if (causal && j > at) return 1;
    if (window > 0 && at - j >= window) return 1;
    if (valid && ((const int32_t *)valid->data)[(valid->dim[0] == 1 ? 0 : b) * k + j] == 0) return 1;
    return 0;
}

static int check_valid_batch(Run *r, const Node *n, const Tensor *valid, int64_t B)
{
    if (valid && valid->dim[0] != 1 && valid->dim[0] != B)
        return node_error(r->in, n, "valid has %lld rows for a batch of %lld", (long long)valid->dim[0], (long long)B);
    return 0;
}

/* scores (B, H, q, k) with -inf where a key is hidden. */
static int exec_mask(Run *r, const Node *n, const Tensor *x, const Tensor *valid, Tensor *y)
{
    int64_t B = x->dim[0], H = x->dim[1], Q = x->dim[2], K = x->dim[3];
    int causal = (int)ir_attr_int(n, A_causal, 0);
    int64_t window = ir_attr_int(n, A_window, 0);
    if (check_valid_batch(r, n, valid, B)) return -1;
    const float *a = x->data;
    float *o = y->data;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < Q; i++)
                for (int64_t j = 0; j < K; j++) {
                    int64_t e = ((b * H + h) * Q + i) * K + j;
                    o[e] = masked(i, j, Q, K, causal, window, valid, b) ? -INFINITY : a[e];
                }
    return 0;
}

/* Writes x into the state at `at` along axis (first rows of every other axis), then
 * returns the state's box [0, at + len) along axis. */
static int exec_cache(Run *r, const Node *n, const Tensor *x, Tensor *y)
{
    Tensor *s = &r->in->states[n->ref];
    int axis = node_axis(n, x->rank);
    int64_t at, zero[IR_MAX_RANK] = { 0 }, off[IR_MAX_RANK] = { 0 };
    if (eval_dim(r->in, n, ir_node_attr(n, A_at)->v.dim, &at)) return -1;
    off[axis] = at;
    KILN_ASSERT(at + x->dim[axis] == y->dim[axis]);     /* plan() checked the room */
    copy_box(x, zero, s, off, x->dim);
    copy_box(s, zero, y, zero, y->dim);
    return 0;
}

/* mean or max over axis (which disappears); valid (B, len) excludes positions. A slice
 * with no valid position gives 0 in both modes. */
static int exec_pool(Run *r, const Node *n, const Tensor *x, const Tensor *valid, Tensor *y)
{
    int axis = node_axis(n, x->rank);
    int is_max = strcmp(ir_attr_str(n, A_mode, "mean"), "max") == 0;
    int64_t outer = prod(x->dim, 0, axis), inner = prod(x->dim, axis + 1, x->rank), L = x->dim[axis];
    int64_t per_batch = axis > 0 ? prod(x->dim, 1, axis) : 1;     /* outer rows per batch row */
    if (valid && (valid->dim[0] != x->dim[0] || valid->dim[1] != L))
        return node_error(r->in, n, "valid mask does not match the input");
    const float *a = x->data;
    float *o = y->data;
    for (int64_t t = 0; t < outer; t++) {
        const int32_t *v = valid ? (const int32_t *)valid->data + (t / per_batch) * L : NULL;
        for (int64_t c = 0; c < inner; c++) {
            double acc = is_max ? -INFINITY : 0;
            int64_t count = 0;
            for (int64_t l = 0; l < L; l++) {
                if (v && v[l] == 0) continue;
                double e = a[(t * L + l) * inner + c];
                if (is_max) acc = count == 0 || e > acc || isnan(e) ? e : acc;
                else acc += e;
                count++;
            }
            o[t * inner + c] = count == 0 ? 0.0f : (float)(is_max ? acc : acc / (double)count);
        }
    }
    return 0;
}

/* softmax(mask(q k^T * scale)) v, with query head h reading key/value head h / (H / KH)
 * (as REPEAT would lay them out). q (B, H, S, D), k (B, KH, T, D), v (B, KH, T, DV). */
static int exec_attention(Run *r, const Node *n, const Tensor *const *x, Tensor *y)
{
    const Tensor *q = x[0], *k = x[1], *v = x[2], *valid = n->n_in == 4 ? x[3] : NULL;
    int64_t B = q->dim[0], H = q->dim[1], S = q->dim[2], D = q->dim[3];
    int64_t KH = k->dim[1], T = k->dim[2], DV = v->dim[3], group = H / KH;
    double scale = ir_attr_float(n, A_scale, 1);
    int causal = (int)ir_attr_int(n, A_causal, 0);
    int64_t window = ir_attr_int(n, A_window, 0);
    if (check_valid_batch(r, n, valid, B)) return -1;
    float *sc = xcalloc((size_t)(T ? T : 1), sizeof *sc);        /* (T) scores of one query */
    float *p = xcalloc((size_t)(T ? T : 1), sizeof *p);          /* (T) their softmax */
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            int64_t kh = h / group;
            const float *K = (const float *)k->data + (b * KH + kh) * T * D;
            const float *V = (const float *)v->data + (b * KH + kh) * T * DV;
            for (int64_t i = 0; i < S; i++) {
                const float *Q = (const float *)q->data + ((b * H + h) * S + i) * D;
                for (int64_t j = 0; j < T; j++) {
                    double dot = 0;
                    for (int64_t c = 0; c < D; c++) dot += (double)Q[c] * K[j * D + c];
                    float s = (float)((double)(float)dot * scale);
                    sc[j] = masked(i, j, S, T, causal, window, valid, b) ? -INFINITY : s;
                }
                softmax_row(sc, p, T);
                float *Y = (float *)y->data + ((b * H + h) * S + i) * DV;
                for (int64_t c = 0; c < DV; c++) {
                    double acc = 0;
                    for (int64_t j = 0; j < T; j++) acc += (double)p[j] * V[j * DV + c];
                    Y[c] = (float)acc;
                }
            }
        }
    free(sc);
    free(p);
    return 0;
}

/* Computes node n into y; its inputs are computed. */
static int exec_node(Run *r, const Node *n, Tensor *y)
{
    Interp *in = r->in;
    const Tensor *x[IR_MAX_INPUTS];
    for (int j = 0; j < n->n_in; j++) x[j] = &r->val[n->in[j]->id];
    if (n->op == OP_INPUT) KILN_UNREACHABLE();      /* bound before */
    if (n->op == OP_WEIGHT) return exec_weight(r, n, y);
    int64_t *dims = r->dims[n->id];
    if (tensor_alloc(y, value_dtype(n->dtype), n->shape.rank, dims)) {
        char b[512];
        ir_shape_str(in->m, &n->shape, b, sizeof b);
        return node_error(in, n, "result %s of %lld elements is too large", b, (long long)prod(dims, 0, n->shape.rank));
    }
    int64_t zero[IR_MAX_RANK] = { 0 };
    switch (n->op) {
    case OP_STATE_READ:
        copy_box(&in->states[n->ref], zero, y, zero, y->dim);
        return 0;
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV:
        exec_binary(n, x[0], x[1], y);
        return 0;
    case OP_SCALE: case OP_GELU: case OP_RELU: case OP_SILU: case OP_SIGMOID: case OP_TANH:
        exec_unary(n, x[0], y);
        return 0;
    case OP_MATMUL:
        exec_matmul(n, x[0], x[1], y);
        return 0;
    case OP_SOFTMAX:
        exec_softmax(x[0], y);
        return 0;
    case OP_LAYERNORM: case OP_RMSNORM: case OP_ADD_LAYERNORM: case OP_ADD_RMSNORM:
        exec_norm(n, x, y);
        return 0;
    case OP_RESHAPE:
        KILN_ASSERT(tensor_numel(x[0]) == tensor_numel(y));
        memcpy(y->data, x[0]->data, (size_t)(4 * tensor_numel(y)));
        return 0;
    case OP_TRANSPOSE:
        exec_transpose(n, x[0], y);
        return 0;
    case OP_SLICE: {
        int64_t off[IR_MAX_RANK] = { 0 };
        int axis = node_axis(n, y->rank);
        if (eval_dim(in, n, ir_node_attr(n, A_start)->v.dim, &off[axis])) return -1;
        copy_box(x[0], off, y, zero, y->dim);
        return 0;
    }
    case OP_REPEAT:
        exec_repeat(n, x[0], y);
        return 0;
    case OP_TAKE:
        return exec_take(r, n, x[0], y);
    case OP_GATHER:
        return exec_gather(r, n, x[0], x[1], y);
    case OP_POSITIONS:
        return exec_positions(r, n, y);
    case OP_SINUSOID:
        exec_sinusoid(n, x[0], y);
        return 0;
    case OP_ROPE:
        exec_rope(n, x[0], x[1], y);
        return 0;
    case OP_MASK:
        return exec_mask(r, n, x[0], n->n_in == 2 ? x[1] : NULL, y);
    case OP_CACHE:
        return exec_cache(r, n, x[0], y);
    case OP_POOL:
        return exec_pool(r, n, x[0], n->n_in == 2 ? x[1] : NULL, y);
    case OP_ATTENTION:
        return exec_attention(r, n, x, y);
    case OP_INPUT: case OP_WEIGHT: case OP_COUNT:
        break;
    }
    KILN_UNREACHABLE();
}

/* ---- the session ---------------------------------------------------------------------- */

Interp *interp_new(Module *m, Diag *d)
{
    Interp *in = xcalloc(1, sizeof *in);
    in->m = m;
    in->d = d;
    for (int s = 0; s <= IR_MAX_SYMS; s++) in->sym[s] = -1;
    in->past = ir_module_sym(m, "past");
    if (in->past) in->sym[in->past] = 0;
    in->states = xcalloc((size_t)(m->n_states ? m->n_states : 1), sizeof *in->states);
    for (int i = 0; i < m->n_states; i++) {
        const State *st = &m->states[i];
        int64_t dims[IR_MAX_RANK];
        for (int j = 0; j < st->shape.rank; j++) {
            Dim dm = st->shape.d[j];
            dims[j] = dm.k;
            for (int t = 0; t < IR_DIM_TERMS && dm.sym[t]; t++) dims[j] += m->syms[dm.sym[t]].max;
            if (dims[j] < 0 || dims[j] > IR_MAX_EXTENT) dims[j] = -1;     /* refused below */
        }
        if (tensor_alloc(&in->states[i], value_dtype(st->dtype), st->shape.rank, dims)) {
            char b[512];
            ir_shape_str(m, &st->shape, b, sizeof b);
            diag_error(d, st->loc, "state '%s' %s is too large to allocate at the maximum of its dimensions",
                       st->name, b);
            interp_free(in);
            return NULL;
        }
    }
    return in;
}

void interp_free(Interp *in)
{
    if (!in) return;
    for (int i = 0; i < in->m->n_states; i++) tensor_free(&in->states[i]);
    free(in->states);
    free(in);
}

int interp_bind(Interp *in, const char *sym, int64_t value)
{
    int s = ir_module_sym(in->m, sym);
    if (!s) {
        diag_error(in->d, in->m->loc, "there is no dimension named '%s'", sym);
        return -1;
    }
    if (value < 0 || value > in->m->syms[s].max) {
        diag_error(in->d, in->m->loc, "'%s' = %lld is outside its range 0 to %lld", sym, (long long)value,
                   (long long)in->m->syms[s].max);
        return -1;
    }
    in->sym[s] = value;
    return 0;
}

int64_t interp_sym(const Interp *in, const char *sym)
{
    int s = ir_module_sym(in->m, sym);
    return s ? in->sym[s] : -1;
}

int interp_run(Interp *in, const Graph *g, const Tensor *inputs, Tensor *outputs)
{
    for (int i = 0; i < g->n_outputs; i++) memset(&outputs[i], 0, sizeof outputs[i]);
    if (bind_inputs(in, g, inputs) || check_syms(in, g)) return -1;
    int nn = g->n_nodes;
    size_t cap = (size_t)(nn ? nn : 1);
    Run r = { in, g, xcalloc(cap, sizeof *r.val), xcalloc(cap, 1), xcalloc(cap, sizeof *r.last),
              xcalloc(cap, sizeof *r.dims), -1 };
    int rc = plan(&r);
    for (int i = 0; i < nn && rc == 0; i++) {
        const Node *n = g->nodes[i];
        if (n->op == OP_INPUT) {
            int k = 0;
            while (g->inputs[k] != n) k++;
            r.val[i] = inputs[k];           /* borrowed */
            continue;
        }
        r.own[i] = 1;
        rc = exec_node(&r, n, &r.val[i]);
        /* free what no later node reads */
        for (int j = 0; j < n->n_in; j++) {
            int p = n->in[j]->id;
            if (r.last[p] == i && r.own[p]) tensor_free(&r.val[p]);
        }
        if (r.last[i] == i && r.own[i]) tensor_free(&r.val[i]);
    }
    for (int k = 0; k < g->n_outputs && rc == 0; k++) {
        int id = g->outputs[k].node->id;
        if (r.own[id]) {                    /* hand the value over */
            outputs[k] = r.val[id];
            r.own[id] = 0;
        } else if (tensor_alloc(&outputs[k], r.val[id].dtype, r.val[id].rank, r.val[id].dim) == 0) {
            memcpy(outputs[k].data, r.val[id].data, (size_t)(4 * tensor_numel(&outputs[k])));
        } else {
            rc = node_error(in, g->outputs[k].node, "output too large to copy");
        }
    }
    if (rc) {
        for (int k = 0; k < g->n_outputs; k++) tensor_free(&outputs[k]);
        /* an output handed over above is freed there; its val entry is not ours any more */
    }
    for (int i = 0; i < nn; i++)
        if (r.own[i]) tensor_free(&r.val[i]);
    if (rc == 0 && in->past && r.appended >= 0) in->sym[in->past] += r.appended;
    free(r.val);
    free(r.own);
    free(r.last);
    free(r.dims);
    return rc;
}

int interp_reorder(Interp *in, const int *parent, int n)
{
    Module *m = in->m;
    for (int i = 0; i < m->n_states; i++) {
        const State *st = &m->states[i];
        if (st->batch_axis < 0) continue;
        int64_t rows = in->states[i].dim[st->batch_axis];
        if (n < 0 || n > rows) {
            diag_error(in->d, st->loc, "beam reorder of %d rows, but state '%s' holds %lld", n, st->name, (long long)rows);
            return -1;
        }
        for (int b = 0; b < n; b++)
            if (parent[b] < 0 || parent[b] >= rows) {
                diag_error(in->d, st->loc, "beam reorder: row %d takes row %d, outside the %lld rows of state '%s'", b,
                           parent[b], (long long)rows, st->name);
                return -1;
            }
    }
    for (int i = 0; i < m->n_states; i++) {
        const State *st = &m->states[i];
        if (st->batch_axis < 0) continue;
        Tensor *s = &in->states[i];
        int ax = st->batch_axis;
        int64_t rows = s->dim[ax], outer = prod(s->dim, 0, ax), inner = prod(s->dim, ax + 1, s->rank);
        size_t bytes = (size_t)(4 * tensor_numel(s));
        float *old = xmalloc(bytes ? bytes : 1);        /* the state before reordering */
        memcpy(old, s->data, bytes);
        for (int64_t o = 0; o < outer; o++)
            for (int b = 0; b < n; b++)
                memcpy((float *)s->data + (o * rows + b) * inner, old + (o * rows + parent[b]) * inner,
                       (size_t)(4 * inner));
        free(old);
    }
    return 0;
}

void interp_reset(Interp *in)
{
    if (in->past) in->sym[in->past] = 0;
    for (int i = 0; i < in->m->n_states; i++)
        memset(in->states[i].data, 0, (size_t)(4 * tensor_numel(&in->states[i])));
}
