/* interp_ops.c — the ops of the reference interpreter, each as its formula.
 *
 * Values are f32 (i32 for ids and positions), row-major. Long reductions accumulate in
 * double; f16/bf16 weights are widened when read; broadcasting follows numpy. Every user
 * error (an id outside its table, a take outside its axis) is reported at the node. See
 * interp.c for how a run binds symbols, plans shapes and frees values. */
#include "interp_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- numeric helpers ------------------------------------------------------------------ */

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

/* ---- the ops ------------------------------------------------------------------------ */

/* Reads weight n->ref as f32: borrowed when it is f32, aligned and in its file's layout;
 * widened or transposed (ir_weight_read_f32) otherwise. */
static int exec_weight(Run *r, const Node *n, Tensor *y)
{
    const Weight *w = &r->in->m->weights[n->ref];
    if (!w->data) return interp_node_error(r->in, n, "weight '%s' has no data (weights not loaded)", w->tensor);
    int64_t numel = interp_prod(r->dims[n->id], 0, n->shape.rank);
    if ((w->dtype == DT_F32 || w->dtype == DT_I32) && !w->transposed && !w->n_parts && (uintptr_t)w->data % 4 == 0) {
        y->dtype = interp_value_dtype(w->dtype);
        y->rank = n->shape.rank;
        memcpy(y->dim, r->dims[n->id], sizeof y->dim);
        y->data = (void *)w->data;      /* borrowed, read only: kernels never write inputs */
        r->own[n->id] = 0;
        return 0;
    }
    if (tensor_alloc(y, interp_value_dtype(w->dtype), n->shape.rank, r->dims[n->id]))
        return interp_node_error(r->in, n, "weight '%s' is too large to read", w->tensor);
    if (w->dtype == DT_I32) memcpy(y->data, w->data, (size_t)(4 * numel));
    else ir_weight_read_f32(w, y->data, numel);
    return 0;
}

static double gelu(double x, int tanh_form)
{
    if (tanh_form) return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    return 0.5 * x * (1 + erf(x * M_SQRT1_2));
}

static double unary(OpKind op, const Node *n, double x)
{
    switch (op) {
    case OP_SCALE: return x * ir_attr_float(n, A_value, 1);
    case OP_RELU: return x > 0 ? x : 0;
    case OP_SILU: return x / (1 + exp(-x));
    case OP_SIGMOID: return 1 / (1 + exp(-x));
    case OP_TANH: return tanh(x);
    case OP_GELU: return gelu(x, strcmp(ir_attr_str(n, A_approx, "erf"), "tanh") == 0);
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
        interp_index_next(idx, y->dim, r);
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
    int64_t batches = interp_prod(y->dim, 0, lr);
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
        interp_index_next(idx, y->dim, lr);
    }
    free(acc);
}

/* The activation an `act` attribute names, by the unary ops' formulas. */
static double activation(const char *act, double x)
{
    if (!strcmp(act, "relu")) return unary(OP_RELU, NULL, x);
    if (!strcmp(act, "silu")) return unary(OP_SILU, NULL, x);
    return gelu(x, !strcmp(act, "gelu_tanh"));
}

/* LINEAR and GATED_LINEAR: the matmul, then the epilogue one step at a time with the
 * roundings of the chain it replaces (float adds for bias and residual, the activation in
 * double rounded to float, gate times up as a float multiply), so fused and unfused runs
 * agree to the bit. */
static int exec_linear(Run *r, const Node *n, const Tensor *const *x, Tensor *y)
{
    int gated = n->op == OP_GATED_LINEAR;
    const char *act = ir_attr_str(n, A_act, NULL);
    const float *bias = ir_attr_int(n, A_bias, 0) ? x[2]->data : NULL;
    const float *res = ir_attr_int(n, A_residual, 0) ? x[n->n_in - 1]->data : NULL;
    int64_t numel = tensor_numel(y), N = y->dim[y->rank - 1];
    float *o = y->data;
    Tensor up = { 0 };
    exec_matmul(n, x[0], x[1], y);
    if (gated) {
        if (tensor_alloc(&up, DT_F32, y->rank, y->dim)) return interp_node_error(r->in, n, "too large");
        exec_matmul(n, x[0], x[2], &up);
    }
    if (bias)
        for (int64_t e = 0; e < numel; e++) o[e] = o[e] + bias[e % N];
    if (act)
        for (int64_t e = 0; e < numel; e++) o[e] = (float)activation(act, o[e]);
    if (gated)
        for (int64_t e = 0; e < numel; e++) o[e] = o[e] * ((const float *)up.data)[e];
    if (res)
        for (int64_t e = 0; e < numel; e++) o[e] = o[e] + res[e];
    tensor_free(&up);
    return 0;
}

static void exec_softmax(const Tensor *x, Tensor *y)
{
    int64_t n = x->dim[x->rank - 1], rows = n ? tensor_numel(x) / n : 0;
    for (int64_t i = 0; i < rows; i++) softmax_row((const float *)x->data + i * n, (float *)y->data + i * n, n);
}

/* LAYERNORM, RMSNORM: y = norm(x) per row. ADD_LAYERNORM, ADD_RMSNORM: y (2, ..a) =
 * [a + r, norm(a + r)]: the sum is rounded to f32 as ADD rounds it and written to y[0],
 * then normalized by the same norm_row into y[1], so the fused ops equal ADD followed by
 * the norm bit for bit. */
static void exec_norm(const Node *n, const Tensor *const *x, Tensor *y)
{
    int fused = n->op == OP_ADD_LAYERNORM || n->op == OP_ADD_RMSNORM;
    int ln = n->op == OP_LAYERNORM || n->op == OP_ADD_LAYERNORM;
    const Tensor *w = x[fused + 1], *b = ln ? x[fused + 2] : NULL;
    double eps = ir_attr_float(n, A_eps, 1e-5);
    int64_t numel = tensor_numel(x[0]), d = x[0]->dim[x[0]->rank - 1], rows = d ? numel / d : 0;
    const float *src = x[0]->data;              /* (rows, d) what is normalized */
    float *out = y->data;                       /* (rows, d) where the norm goes */
    if (fused) {
        const float *a = x[0]->data, *r = x[1]->data;
        float *sum = y->data;                   /* y[0] */
        for (int64_t e = 0; e < numel; e++) sum[e] = a[e] + r[e];
        src = sum;
        out = sum + numel;                      /* y[1] */
    }
    for (int64_t i = 0; i < rows; i++) norm_row(src + i * d, d, w->data, b ? b->data : NULL, eps, out + i * d);
}

static void exec_transpose(const Node *n, const Tensor *x, Tensor *y)
{
    const Attr *perm = ir_node_attr(n, A_perm);
    int r = y->rank;
    int64_t xs[IR_MAX_RANK], idx[IR_MAX_RANK] = { 0 };
    interp_strides_of(x->rank, x->dim, xs);
    const uint32_t *a = x->data;                    /* 4-byte elements, f32 or i32 */
    uint32_t *o = y->data;
    int64_t numel = tensor_numel(y);
    for (int64_t e = 0; e < numel; e++) {
        int64_t off = 0;
        for (int i = 0; i < r; i++) off += idx[i] * xs[perm->v.ints[i]];
        o[e] = a[off];
        interp_index_next(idx, y->dim, r);
    }
}

/* y[.., i, ..] = x[.., i / times, ..] along axis. */
static void exec_repeat(const Node *n, const Tensor *x, Tensor *y)
{
    int axis = interp_node_axis(n, x->rank);
    int64_t times = ir_attr_int(n, A_times, 1);
    int64_t outer = interp_prod(x->dim, 0, axis), inner = interp_prod(x->dim, axis + 1, x->rank);
    int64_t X = x->dim[axis], Y = y->dim[axis];
    KILN_ASSERT(Y == X * times);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < Y; i++)
            memcpy((uint32_t *)y->data + (o * Y + i) * inner, (const uint32_t *)x->data + (o * X + i / times) * inner,
                   (size_t)(4 * inner));
}

static int exec_take(Run *r, const Node *n, const Tensor *x, Tensor *y)
{
    int axis = interp_node_axis(n, x->rank);
    int64_t X = x->dim[axis], index = ir_attr_int(n, A_index, 0);
    int64_t at = index < 0 ? index + X : index;
    if (at < 0 || at >= X)
        return interp_node_error(r->in, n, "index %lld is out of range for length %lld", (long long)index, (long long)X);
    int64_t outer = interp_prod(x->dim, 0, axis), inner = interp_prod(x->dim, axis + 1, x->rank);
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
            return interp_node_error(r->in, n, "id %d is out of range for a table of %lld rows", id[i], (long long)rows);
        memcpy((float *)y->data + i * d, (const float *)table->data + (int64_t)id[i] * d, (size_t)(4 * d));
    }
    return 0;
}

/* y[.., j] = start + j, shaped like the ids. */
static int exec_positions(Run *r, const Node *n, Tensor *y)
{
    int64_t start;
    if (interp_eval_dim(r->in, n, ir_node_attr(n, A_start)->v.dim, &start)) return -1;
    int64_t S = y->rank ? y->dim[y->rank - 1] : 1, count = tensor_numel(y);
    if (start + S > INT32_MAX) return interp_node_error(r->in, n, "position %lld does not fit in i32", (long long)(start + S));
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
        return interp_node_error(r->in, n, "valid has %lld rows for a batch of %lld", (long long)valid->dim[0], (long long)B);
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
    int axis = interp_node_axis(n, x->rank);
    int64_t at, zero[IR_MAX_RANK] = { 0 }, off[IR_MAX_RANK] = { 0 };
    if (interp_eval_dim(r->in, n, ir_node_attr(n, A_at)->v.dim, &at)) return -1;
    off[axis] = at;
    KILN_ASSERT(at + x->dim[axis] == y->dim[axis]);     /* plan() checked the room */
    interp_copy_box(x, zero, s, off, x->dim);
    interp_copy_box(s, zero, y, zero, y->dim);
    return 0;
}

/* mean or max over axis (which disappears); valid (B or 1, len) excludes positions. A
 * slice with no valid position gives 0 in both modes. */
static int exec_pool(Run *r, const Node *n, const Tensor *x, const Tensor *valid, Tensor *y)
{
    int axis = interp_node_axis(n, x->rank);
    int is_max = strcmp(ir_attr_str(n, A_mode, "mean"), "max") == 0;
    int64_t outer = interp_prod(x->dim, 0, axis), inner = interp_prod(x->dim, axis + 1, x->rank), L = x->dim[axis];
    int64_t per_batch = axis > 0 ? interp_prod(x->dim, 1, axis) : 1;     /* outer rows per batch row */
    if (check_valid_batch(r, n, valid, x->dim[0])) return -1;
    if (valid && valid->dim[1] != L) return interp_node_error(r->in, n, "valid mask does not match the input");
    const float *a = x->data;
    float *o = y->data;
    for (int64_t t = 0; t < outer; t++) {
        const int32_t *v = !valid ? NULL : (const int32_t *)valid->data + (valid->dim[0] == 1 ? 0 : t / per_batch) * L;
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
int interp_exec_node(Run *r, const Node *n, Tensor *y)
{
    Interp *in = r->in;
    const Tensor *x[IR_MAX_INPUTS];
    for (int j = 0; j < n->n_in; j++) x[j] = &r->val[n->in[j]->id];
    if (n->op == OP_INPUT) KILN_UNREACHABLE();      /* bound before */
    if (n->op == OP_WEIGHT) return exec_weight(r, n, y);
    int64_t *dims = r->dims[n->id];
    if (tensor_alloc(y, interp_value_dtype(n->dtype), n->shape.rank, dims)) {
        char b[512], why[160];
        ir_shape_str(in->m, &n->shape, b, sizeof b);
        tensor_refusal(tensor_bytes(interp_value_dtype(n->dtype), n->shape.rank, dims), why, sizeof why);
        return interp_node_error(in, n, "result %s %s", b, why);
    }
    int64_t zero[IR_MAX_RANK] = { 0 };
    switch (n->op) {
    case OP_STATE_READ:
        interp_copy_box(&in->states[n->ref], zero, y, zero, y->dim);
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
    case OP_LINEAR: case OP_GATED_LINEAR:
        return exec_linear(r, n, x, y);
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
        int axis = interp_node_axis(n, y->rank);
        if (interp_eval_dim(in, n, ir_node_attr(n, A_start)->v.dim, &off[axis])) return -1;
        interp_copy_box(x[0], off, y, zero, y->dim);
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
