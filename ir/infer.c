/* infer.c — shape and dtype inference, one case per op.
 *
 * ir_infer computes a node's result type from its inputs and attributes and reports any
 * inconsistency as a user error at the node's location, in the words of docs/ir.md:
 * `matmul 'l3.attn.qk': inner dimensions differ (64 vs 48)`. The frontends call it while
 * building; the verifier calls it again and compares, so a pass that rewrites a node
 * wrongly is caught at once. Float results are always f32; float inputs may be f32, f16
 * or bf16 (weights keep the dtype of their file). */
#include "ir.h"

#include <math.h>
#include <string.h>

typedef struct Ctx {
    Module *m;
    Node *n;
    Diag *d;
} Ctx;

__attribute__((format(printf, 2, 3)))
static int fail(Ctx *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error(c->d, c->n->loc, "%s '%s': %s", op_name(c->n->op), c->n->name, msg);
    return -1;
}

static const char *dstr(Ctx *c, Dim d, char *buf)
{
    ir_dim_str(c->m, d, buf, 96);
    return buf;
}

static const char *sstr(Ctx *c, const Shape *s, char *buf)
{
    ir_shape_str(c->m, s, buf, 512);
    return buf;
}

static int need_float(Ctx *c, int i, const char *what)
{
    Node *x = c->n->in[i];
    if (!dtype_is_float(x->dtype))
        return fail(c, "%s '%s' must be a float tensor, not %s", what, x->name, dtype_name(x->dtype));
    return 0;
}

static int need_i32(Ctx *c, int i, const char *what)
{
    Node *x = c->n->in[i];
    if (x->dtype != DT_I32)
        return fail(c, "%s '%s' must be an i32 tensor, not %s", what, x->name, dtype_name(x->dtype));
    return 0;
}

static int need_rank(Ctx *c, int i, int lo, int hi, const char *what)
{
    Node *x = c->n->in[i];
    if (x->shape.rank < lo || x->shape.rank > hi) {
        char b[512];
        if (lo == hi)
            return fail(c, "%s '%s' must have rank %d, not %d %s", what, x->name, lo, x->shape.rank, sstr(c, &x->shape, b));
        return fail(c, "%s '%s' must have rank %d to %d, not %d %s", what, x->name, lo, hi, x->shape.rank, sstr(c, &x->shape, b));
    }
    return 0;
}

/* Normalizes a possibly negative axis attribute against rank. */
static int get_axis(Ctx *c, int rank, int *axis)
{
    int64_t a = ir_attr_int(c->n, A_axis, 0);
    if (a < -rank || a >= rank) return fail(c, "axis %lld is out of range for rank %d", (long long)a, rank);
    *axis = (int)(a < 0 ? a + rank : a);
    return 0;
}

static int check_str(Ctx *c, AttrKind k, const char *a, const char *b)
{
    const char *v = ir_attr_str(c->n, k, NULL);
    if (!v) return 0;
    if (strcmp(v, a) && strcmp(v, b))
        return fail(c, "%s must be '%s' or '%s', not '%s'", attr_info[k].name, a, b, v);
    return 0;
}

static int check_flag(Ctx *c, AttrKind k)
{
    int64_t v = ir_attr_int(c->n, k, 0);
    if (v != 0 && v != 1) return fail(c, "%s must be 0 or 1, not %lld", attr_info[k].name, (long long)v);
    return 0;
}

/* numpy broadcasting of a and b into out. */
static int broadcast(Ctx *c, const Shape *a, const Shape *b, Shape *out)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    out->rank = r;
    for (int i = 0; i < r; i++) {
        int ia = a->rank - r + i, ib = b->rank - r + i;
        Dim da = ia >= 0 ? a->d[ia] : dim_const(1);
        Dim db = ib >= 0 ? b->d[ib] : dim_const(1);
        if (dim_eq(da, db) || (dim_is_const(db) && db.k == 1)) out->d[i] = da;
        else if (dim_is_const(da) && da.k == 1) out->d[i] = db;
        else {
            char b1[512], b2[512];
            return fail(c, "shapes %s and %s do not broadcast", sstr(c, a, b1), sstr(c, b, b2));
        }
    }
    return 0;
}

/* Shape equality with a message naming both operands. */
static int same_dim(Ctx *c, Dim a, Dim b, const char *what)
{
    if (dim_eq(a, b)) return 0;
    char b1[96], b2[96];
    return fail(c, "%s differ (%s vs %s)", what, dstr(c, a, b1), dstr(c, b, b2));
}

/* A valid mask's batch: the same as the data's, or 1 for all rows. */
static int batch_or_one(Ctx *c, Dim batch, Dim vb)
{
    if (dim_is_const(vb) && vb.k == 1) return 0;
    return same_dim(c, batch, vb, "batch of the data and of valid");
}

/* The last dim of x must equal the length of the 1-d parameter p (a norm's weight). */
static int norm_param(Ctx *c, int xi, int pi)
{
    Node *x = c->n->in[xi], *p = c->n->in[pi];
    if (need_float(c, pi, "parameter") || need_rank(c, pi, 1, 1, "parameter")) return -1;
    return same_dim(c, x->shape.d[x->shape.rank - 1], p->shape.d[0], "normalized width and parameter length");
}

static int check_eps(Ctx *c)
{
    double e = ir_attr_float(c->n, A_eps, 0);
    if (!(e > 0) || !isfinite(e)) return fail(c, "eps must be a positive number");
    return 0;
}

static int infer_matmul(Ctx *c)
{
    Node *n = c->n, *a = n->in[0], *b = n->in[1];
    if (need_float(c, 0, "operand") || need_float(c, 1, "operand")) return -1;
    if (need_rank(c, 0, 2, IR_MAX_RANK, "operand") || need_rank(c, 1, 2, IR_MAX_RANK, "operand")) return -1;
    if (check_flag(c, A_tb)) return -1;
    int tb = (int)ir_attr_int(n, A_tb, 0);
    const Shape *sa = &a->shape, *sb = &b->shape;
    Dim m = sa->d[sa->rank - 2], k = sa->d[sa->rank - 1];
    Dim kb = tb ? sb->d[sb->rank - 1] : sb->d[sb->rank - 2];
    Dim nn = tb ? sb->d[sb->rank - 2] : sb->d[sb->rank - 1];
    if (!dim_eq(k, kb)) {
        char b1[96], b2[96];
        return fail(c, "inner dimensions differ (%s vs %s)%s", dstr(c, k, b1), dstr(c, kb, b2),
                    tb ? "" : "; is the second operand stored [out, in]? then set tb=\"1\"");
    }
    Shape ba = *sa, bb = *sb, out;
    ba.rank -= 2;
    bb.rank -= 2;
    if (broadcast(c, &ba, &bb, &out)) return -1;
    if (out.rank + 2 > IR_MAX_RANK) return fail(c, "result rank too large");
    out.d[out.rank++] = m;
    out.d[out.rank++] = nn;
    n->shape = out;
    return 0;
}

/* Reshape legality with symbols: the constant factors multiply to the same number and
 * the symbolic dims are the same multiset. */
static int infer_reshape(Ctx *c)
{
    Node *n = c->n, *x = n->in[0];
    const Attr *a = ir_node_attr(n, A_shape);
    Shape to = { a->n, { { 0, { 0, 0 } } } };
    for (int i = 0; i < a->n; i++) to.d[i] = a->v.dims[i];
    int64_t kx = 1, kt = 1;
    Dim sx[IR_MAX_RANK], st[IR_MAX_RANK];
    int nx = 0, nt = 0;
    for (int pass = 0; pass < 2; pass++) {
        const Shape *s = pass ? &to : &x->shape;
        for (int i = 0; i < s->rank; i++) {
            Dim d = s->d[i];
            if (dim_is_const(d)) {
                if (d.k < 0 || d.k > IR_MAX_EXTENT) return fail(c, "dimension %lld is out of range", (long long)d.k);
                int64_t *k = pass ? &kt : &kx;
                if (d.k && *k > IR_MAX_EXTENT / d.k) return fail(c, "size overflows");
                *k *= d.k;
            } else if (pass) st[nt++] = d;
            else sx[nx++] = d;
        }
    }
    int ok = kx == kt && nx == nt;
    for (int i = 0; ok && i < nt; i++) {
        int found = 0;
        for (int j = 0; j < nx; j++)
            if (dim_eq(st[i], sx[j])) { sx[j] = dim_const(-1); found = 1; break; }
        ok = found;
    }
    if (!ok) {
        char b1[512], b2[512];
        return fail(c, "cannot reshape %s into %s: element counts differ", sstr(c, &x->shape, b1), sstr(c, &to, b2));
    }
    n->shape = to;
    return 0;
}

static int infer_transpose(Ctx *c)
{
    Node *n = c->n, *x = n->in[0];
    const Attr *a = ir_node_attr(n, A_perm);
    int r = x->shape.rank, seen[IR_MAX_RANK] = { 0 };
    if (a->n != r) return fail(c, "perm has %d entries for a tensor of rank %d", a->n, r);
    for (int i = 0; i < r; i++) {
        int64_t p = a->v.ints[i];
        if (p < 0 || p >= r || seen[p]++) return fail(c, "perm is not a permutation of 0..%d", r - 1);
        n->shape.d[i] = x->shape.d[p];
    }
    n->shape.rank = r;
    return 0;
}

static int infer_slice(Ctx *c)
{
    Node *n = c->n, *x = n->in[0];
    int axis;
    if (get_axis(c, x->shape.rank, &axis)) return -1;
    Dim d = x->shape.d[axis];
    Dim s = ir_node_attr(n, A_start)->v.dim;
    int64_t len = ir_attr_int(n, A_len, 0);
    if (!dim_is_const(d)) return fail(c, "cannot slice along a symbolic dimension");
    if (!dim_is_const(s) || s.k < 0) return fail(c, "start must be a non-negative constant");
    if (len <= 0 || s.k > d.k || len > d.k - s.k)
        return fail(c, "slice [%lld, %lld) is outside the axis (length %lld)", (long long)s.k,
                    (long long)(s.k + len), (long long)d.k);
    n->shape = x->shape;
    n->shape.d[axis] = dim_const(len);
    return 0;
}

static int infer_repeat(Ctx *c)
{
    Node *n = c->n, *x = n->in[0];
    int axis;
    if (get_axis(c, x->shape.rank, &axis)) return -1;
    int64_t t = ir_attr_int(n, A_times, 0);
    Dim d = x->shape.d[axis];
    if (t < 1 || t > IR_MAX_EXTENT) return fail(c, "times must be at least 1");
    if (!dim_is_const(d)) return fail(c, "cannot repeat along a symbolic dimension");
    if (d.k > IR_MAX_EXTENT / t) return fail(c, "size overflows");
    n->shape = x->shape;
    n->shape.d[axis] = dim_const(d.k * t);
    return 0;
}

/* Removes axis from s. */
static void drop_axis(Shape *s, int axis)
{
    for (int i = axis; i + 1 < s->rank; i++) s->d[i] = s->d[i + 1];
    s->rank--;
}

static int infer_take(Ctx *c)
{
    Node *n = c->n, *x = n->in[0];
    int axis;
    if (get_axis(c, x->shape.rank, &axis)) return -1;
    int64_t i = ir_attr_int(n, A_index, 0);
    Dim d = x->shape.d[axis];
    if (dim_is_const(d) && (i >= d.k || i < -d.k))
        return fail(c, "index %lld is out of range for length %lld", (long long)i, (long long)d.k);
    n->shape = x->shape;
    drop_axis(&n->shape, axis);
    return 0;
}

static int infer_gather(Ctx *c)
{
    Node *n = c->n, *t = n->in[0], *ids = n->in[1];
    if (need_float(c, 0, "table") || need_rank(c, 0, 2, 2, "table") || need_i32(c, 1, "ids")) return -1;
    if (ids->shape.rank + 1 > IR_MAX_RANK) return fail(c, "ids rank too large");
    n->shape = ids->shape;
    n->shape.d[n->shape.rank++] = t->shape.d[1];
    return 0;
}

static int infer_rope(Ctx *c)
{
    Node *n = c->n, *x = n->in[0], *p = n->in[1];
    if (need_float(c, 0, "input") || need_rank(c, 0, 4, 4, "input") || need_i32(c, 1, "positions") ||
        need_rank(c, 1, 2, 2, "positions"))
        return -1;
    if (check_str(c, A_pairing, "interleaved", "half")) return -1;
    Dim hd = x->shape.d[3];
    if (!dim_is_const(hd) || hd.k % 2) return fail(c, "head dimension must be an even constant");
    int64_t rot = ir_attr_int(n, A_rot, hd.k);
    if (rot <= 0 || rot % 2 || rot > hd.k) return fail(c, "rot must be even and at most the head dimension %lld", (long long)hd.k);
    double th = ir_attr_float(n, A_theta, 0);
    if (!(th > 0) || !isfinite(th)) return fail(c, "theta must be positive");
    Dim pb = p->shape.d[0];
    if (!dim_eq(pb, x->shape.d[0]) && !(dim_is_const(pb) && pb.k == 1))
        if (same_dim(c, x->shape.d[0], pb, "batch of input and positions")) return -1;
    if (same_dim(c, x->shape.d[2], p->shape.d[1], "sequence lengths of input and positions")) return -1;
    n->shape = x->shape;
    return 0;
}

static int infer_mask(Ctx *c)
{
    Node *n = c->n, *s = n->in[0];
    if (need_float(c, 0, "scores") || need_rank(c, 0, 4, 4, "scores")) return -1;
    if (check_flag(c, A_causal)) return -1;
    if (ir_attr_int(n, A_window, 0) < 0) return fail(c, "window must not be negative");
    if (n->n_in == 2) {
        Node *v = n->in[1];
        if (need_i32(c, 1, "valid") || need_rank(c, 1, 2, 2, "valid")) return -1;
        if (batch_or_one(c, s->shape.d[0], v->shape.d[0])) return -1;
        if (same_dim(c, s->shape.d[3], v->shape.d[1], "key length of scores and valid")) return -1;
    }
    n->shape = s->shape;
    return 0;
}

static int infer_cache(Ctx *c)
{
    Node *n = c->n, *x = n->in[0];
    const State *st = &c->m->states[n->ref];
    if (need_float(c, 0, "input")) return -1;
    if (x->shape.rank != st->shape.rank)
        return fail(c, "input rank %d differs from state '%s' rank %d", x->shape.rank, st->name, st->shape.rank);
    int axis;
    if (get_axis(c, x->shape.rank, &axis)) return -1;
    for (int i = 0; i < x->shape.rank; i++) {
        if (i == axis) continue;
        char what[128];
        snprintf(what, sizeof what, "dimension %d of input and state '%s'", i, st->name);
        if (same_dim(c, x->shape.d[i], st->shape.d[i], what)) return -1;
    }
    Dim at = ir_node_attr(n, A_at)->v.dim, len;
    if (!dim_add(at, x->shape.d[axis], &len)) return fail(c, "offset plus length has too many symbols");
    n->shape = x->shape;
    n->shape.d[axis] = len;
    return 0;
}

static int infer_pool(Ctx *c)
{
    Node *n = c->n, *x = n->in[0];
    if (need_float(c, 0, "input") || check_str(c, A_mode, "mean", "max")) return -1;
    int axis;
    if (get_axis(c, x->shape.rank, &axis)) return -1;
    if (n->n_in == 2) {
        Node *v = n->in[1];
        if (need_i32(c, 1, "valid") || need_rank(c, 1, 2, 2, "valid")) return -1;
        if (axis == 0) return fail(c, "a valid mask needs the pooled axis after the batch axis");
        if (batch_or_one(c, x->shape.d[0], v->shape.d[0])) return -1;
        if (same_dim(c, x->shape.d[axis], v->shape.d[1], "pooled length and valid length")) return -1;
    }
    n->shape = x->shape;
    drop_axis(&n->shape, axis);
    return 0;
}

/* LINEAR: x, w[, bias][, residual]; GATED_LINEAR: x, w_gate, w_up[, residual]. The product
 * is a matmul's of the first two inputs; the epilogue's inputs must fit its result. */
static int infer_linear(Ctx *c)
{
    Node *n = c->n;
    int gated = n->op == OP_GATED_LINEAR;
    if (check_flag(c, A_bias) || check_flag(c, A_residual)) return -1;
    int bias = (int)ir_attr_int(n, A_bias, 0), res = (int)ir_attr_int(n, A_residual, 0);
    int want = (gated ? 3 : 2) + bias + res, next = gated ? 3 : 2;
    if (n->n_in != want) return fail(c, "takes %d inputs with bias=%d and residual=%d, not %d", want, bias, res, n->n_in);
    const char *act = ir_attr_str(n, A_act, NULL);
    if (act && strcmp(act, "relu") && strcmp(act, "silu") && strcmp(act, "gelu_tanh") && strcmp(act, "gelu_erf"))
        return fail(c, "act must be relu, silu, gelu_tanh or gelu_erf, not '%s'", act);
    if (infer_matmul(c)) return -1;
    if (gated && (need_float(c, 2, "operand") || !shape_eq(&n->in[1]->shape, &n->in[2]->shape))) {
        char b1[512], b2[512];
        return fail(c, "gate and up weights differ in shape (%s vs %s)", sstr(c, &n->in[1]->shape, b1),
                    sstr(c, &n->in[2]->shape, b2));
    }
    if (bias) {
        if (need_float(c, next, "bias") || need_rank(c, next, 1, 1, "bias")) return -1;
        if (same_dim(c, n->shape.d[n->shape.rank - 1], n->in[next]->shape.d[0], "output width and bias length")) return -1;
        next++;
    }
    if (res && (need_float(c, next, "residual") || !shape_eq(&n->in[next]->shape, &n->shape))) {
        char b1[512], b2[512];
        return fail(c, "residual %s differs from the result %s", sstr(c, &n->in[next]->shape, b1), sstr(c, &n->shape, b2));
    }
    return 0;
}

static int infer_attention(Ctx *c)
{
    Node *n = c->n, *q = n->in[0], *k = n->in[1], *v = n->in[2];
    for (int i = 0; i < 3; i++)
        if (need_float(c, i, "operand") || need_rank(c, i, 4, 4, "operand")) return -1;
    if (check_flag(c, A_causal) || ir_attr_int(n, A_window, 0) < 0) return fail(c, "bad causal or window");
    if (same_dim(c, q->shape.d[0], k->shape.d[0], "batch of q and k") ||
        same_dim(c, k->shape.d[0], v->shape.d[0], "batch of k and v") ||
        same_dim(c, q->shape.d[3], k->shape.d[3], "head dims of q and k") ||
        same_dim(c, k->shape.d[1], v->shape.d[1], "heads of k and v") ||
        same_dim(c, k->shape.d[2], v->shape.d[2], "lengths of k and v"))
        return -1;
    Dim h = q->shape.d[1], kh = k->shape.d[1];
    if (!dim_is_const(h) || !dim_is_const(kh) || kh.k == 0 || h.k % kh.k)
        return fail(c, "query heads must be a constant multiple of key/value heads");
    if (n->n_in == 4) {
        if (need_i32(c, 3, "valid") || need_rank(c, 3, 2, 2, "valid")) return -1;
        if (batch_or_one(c, q->shape.d[0], n->in[3]->shape.d[0])) return -1;
        if (same_dim(c, k->shape.d[2], n->in[3]->shape.d[1], "key length and valid length")) return -1;
    }
    n->shape = q->shape;
    n->shape.d[3] = v->shape.d[3];
    return 0;
}

static int check_attrs(Ctx *c)
{
    Node *n = c->n;
    for (int i = 0; i < n->n_attrs; i++)
        if (!op_accepts(n->op, n->attrs[i].kind))
            return fail(c, "%s takes no attribute '%s'", op_name(n->op), attr_info[n->attrs[i].kind].name);
    for (int k = 0; k < A_COUNT; k++)
        if (op_requires(n->op, (AttrKind)k) && !ir_node_attr(n, (AttrKind)k))
            return fail(c, "missing attribute '%s' (%s)", attr_info[k].name, attr_info[k].doc);
    const OpInfo *oi = &op_info[n->op];
    if (n->n_in < oi->min_in || n->n_in > oi->max_in) {
        if (oi->min_in == oi->max_in) return fail(c, "takes %d inputs, not %d", oi->min_in, n->n_in);
        return fail(c, "takes %d to %d inputs, not %d", oi->min_in, oi->max_in, n->n_in);
    }
    return 0;
}

int ir_infer(Module *m, Node *n, Diag *d)
{
    Ctx c = { m, n, d };
    if (check_attrs(&c)) return -1;
    Node **in = n->in;
    switch (n->op) {
    case OP_INPUT:
        return 0;       /* declared */
    case OP_WEIGHT: {
        if (n->ref < 0 || n->ref >= m->n_weights) return fail(&c, "unknown weight");
        n->dtype = m->weights[n->ref].dtype;
        n->shape = m->weights[n->ref].shape;
        return 0;
    }
    case OP_STATE_READ: {
        if (n->ref < 0 || n->ref >= m->n_states) return fail(&c, "unknown state");
        const State *st = &m->states[n->ref];
        int axis;
        if (get_axis(&c, st->shape.rank, &axis)) return -1;
        n->dtype = st->dtype;
        if (n->shape.rank != st->shape.rank)
            return fail(&c, "declared rank %d differs from state '%s' rank %d", n->shape.rank, st->name, st->shape.rank);
        for (int i = 0; i < st->shape.rank; i++)
            if (i != axis && same_dim(&c, n->shape.d[i], st->shape.d[i], "dimensions of the read and the state"))
                return -1;
        return 0;
    }
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV:
        if (need_float(&c, 0, "operand") || need_float(&c, 1, "operand")) return -1;
        n->dtype = DT_F32;
        return broadcast(&c, &in[0]->shape, &in[1]->shape, &n->shape);
    case OP_SCALE:
        if (!isfinite(ir_attr_float(n, A_value, 0))) return fail(&c, "value must be finite");
        /* fall through */
    case OP_GELU: case OP_RELU: case OP_SILU: case OP_SIGMOID: case OP_TANH:
        if (n->op == OP_GELU && check_str(&c, A_approx, "erf", "tanh")) return -1;
        if (need_float(&c, 0, "input")) return -1;
        n->dtype = DT_F32;
        n->shape = in[0]->shape;
        return 0;
    case OP_MATMUL:
        n->dtype = DT_F32;
        return infer_matmul(&c);
    case OP_LINEAR: case OP_GATED_LINEAR:
        n->dtype = DT_F32;
        return infer_linear(&c);
    case OP_SOFTMAX:
        if (need_float(&c, 0, "input") || need_rank(&c, 0, 1, IR_MAX_RANK, "input")) return -1;
        n->dtype = DT_F32;
        n->shape = in[0]->shape;
        return 0;
    case OP_LAYERNORM: case OP_RMSNORM:
        if (need_float(&c, 0, "input") || need_rank(&c, 0, 1, IR_MAX_RANK, "input") || check_eps(&c)) return -1;
        if (norm_param(&c, 0, 1) || (n->op == OP_LAYERNORM && norm_param(&c, 0, 2))) return -1;
        n->dtype = DT_F32;
        n->shape = in[0]->shape;
        return 0;
    case OP_ADD_LAYERNORM: case OP_ADD_RMSNORM:
        if (need_float(&c, 0, "input") || need_float(&c, 1, "input") || check_eps(&c)) return -1;
        if (!shape_eq(&in[0]->shape, &in[1]->shape) || in[0]->shape.rank < 1) {
            char b1[512], b2[512];
            return fail(&c, "summands differ in shape (%s vs %s)", sstr(&c, &in[0]->shape, b1), sstr(&c, &in[1]->shape, b2));
        }
        if (norm_param(&c, 0, 2) || (n->op == OP_ADD_LAYERNORM && norm_param(&c, 0, 3))) return -1;
        if (in[0]->shape.rank + 1 > IR_MAX_RANK) return fail(&c, "summands of rank %d leave no room for the leading axis", in[0]->shape.rank);
        /* (2, ..a): [0] the sum, [1] its norm */
        n->dtype = DT_F32;
        n->shape.rank = in[0]->shape.rank + 1;
        n->shape.d[0] = dim_const(2);
        for (int i = 0; i < in[0]->shape.rank; i++) n->shape.d[i + 1] = in[0]->shape.d[i];
        return 0;
    case OP_RESHAPE:
        n->dtype = in[0]->dtype;
        return infer_reshape(&c);
    case OP_TRANSPOSE:
        n->dtype = in[0]->dtype;
        return infer_transpose(&c);
    case OP_SLICE:
        n->dtype = in[0]->dtype;
        return infer_slice(&c);
    case OP_REPEAT:
        n->dtype = in[0]->dtype;
        return infer_repeat(&c);
    case OP_TAKE:
        n->dtype = in[0]->dtype;
        return infer_take(&c);
    case OP_GATHER:
        n->dtype = DT_F32;
        return infer_gather(&c);
    case OP_POSITIONS:
        if (need_i32(&c, 0, "ids")) return -1;
        n->dtype = DT_I32;
        n->shape = in[0]->shape;
        return 0;
    case OP_SINUSOID: {
        if (need_i32(&c, 0, "positions") || check_str(&c, A_pairing, "interleaved", "half")) return -1;
        int64_t dim = ir_attr_int(n, A_dim, 0);
        if (dim <= 0 || dim % 2 || dim > IR_MAX_EXTENT) return fail(&c, "dim must be a positive even number");
        if (!(ir_attr_float(n, A_theta, 0) > 0)) return fail(&c, "theta must be positive");
        if (in[0]->shape.rank + 1 > IR_MAX_RANK) return fail(&c, "rank too large");
        n->dtype = DT_F32;
        n->shape = in[0]->shape;
        n->shape.d[n->shape.rank++] = dim_const(dim);
        return 0;
    }
    case OP_ROPE:
        n->dtype = DT_F32;
        return infer_rope(&c);
    case OP_MASK:
        n->dtype = DT_F32;
        return infer_mask(&c);
    case OP_CACHE:
        if (n->ref < 0 || n->ref >= m->n_states) return fail(&c, "unknown state");
        n->dtype = m->states[n->ref].dtype;
        return infer_cache(&c);
    case OP_POOL:
        n->dtype = DT_F32;
        return infer_pool(&c);
    case OP_ATTENTION:
        n->dtype = DT_F32;
        return infer_attention(&c);
    case OP_COUNT:
        break;
    }
    KILN_UNREACHABLE();
}
