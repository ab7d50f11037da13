/* kernel_norm.c — the reductions along an axis: SOFTMAX, LAYERNORM, RMSNORM, their fused
 * forms ADD_LAYERNORM and ADD_RMSNORM, and POOL.
 *
 * Softmax, per row of the last axis (rows x n): the maximum (vector maxnum accumulators,
 * then a horizontal max), then e = exp(x - max) written to y while summed, then y /= sum.
 * A row whose maximum is -inf (every score masked) is written as zeros, as the interpreter
 * does. Norms, per row of d: the fused forms, whose y is (2, rows, d), read a and r once,
 * write the sum a + r (rounded as the unfused ADD rounds it) into y[0] while summing it for
 * the statistics, then normalize that row of y[0] into y[1]; layernorm takes the mean, then the
 * biased variance as the sum of (x - mean)^2 (two passes, no E[x^2] - mean^2 cancellation),
 * rmsnorm the mean of x^2; then y = (x - mean) * inv * w + b or y = x * inv * w with
 * inv = 1 / sqrt(var + eps). All sums are f32 in the order kl_reduce documents (vector
 * accumulators — 2 for softmax, 4 for norms — taking turns, combined pairwise, reduced
 * horizontally as a tree, then the tail elements one by one); the interpreter sums in f64,
 * and the tests bound the difference relative to the row's magnitude (≤ 3e-7 seen).
 *
 * Pool (x: outer x L x inner, the pooled axis L in the middle): vectors run along the
 * inner axis, each lane accumulating over L, so a (b, s, d) mean over s is d/vw vector
 * chains. A valid row (batch or 1, L) excludes positions by a select per l; the count of
 * valid positions is counted first, and no valid position gives 0 in both modes.
 *
 * Shares (the contract's part, parts): whole rows — softmax and norm rows, pool's outer
 * index — so no reduction is ever split; decode's single row runs in part 0. */
#include "backend/kernel_impl.h"

#include <math.h>
#include <string.h>

/* ---- softmax --------------------------------------------------------------------------- */

typedef struct Row {
    LLVMValueRef x, y, r, w, b;     /* this row of the input(s), the output, the parameters */
    LLVMValueRef s;                 /* fused norms: this row of the sum, in y[0] */
    LLVMValueRef c1, cv;            /* a per-row constant (max, mean, sum, inv): scalar and splat */
    LLVMValueRef d1, dv;            /* a second one */
} Row;

static LLVMValueRef lanes_of(Row *r, int lanes, int second)
{
    return second ? (lanes == 1 ? r->d1 : r->dv) : (lanes == 1 ? r->c1 : r->cv);
}

static void set_const(K *k, Row *r, LLVMValueRef s, int second)
{
    if (second) {
        r->d1 = s;
        r->dv = kl_splat(k, s, k->vw);
    } else {
        r->c1 = s;
        r->cv = kl_splat(k, s, k->vw);
    }
}

static LLVMValueRef max_step(K *k, void *ctx, LLVMValueRef j, int lanes, LLVMValueRef acc)
{
    Row *r = ctx;
    return kl_intr(k, "llvm.maxnum", acc, kl_loadf(k, r->x, j, lanes));
}

/* y[j] = exp(x[j] - max); acc += y[j] */
static LLVMValueRef exp_step(K *k, void *ctx, LLVMValueRef j, int lanes, LLVMValueRef acc)
{
    Row *r = ctx;
    LLVMValueRef e = kl_intr(k, "llvm.exp", LLVMBuildFSub(k->b, kl_loadf(k, r->x, j, lanes), lanes_of(r, lanes, 0), ""), NULL);
    kl_store(k, e, r->y, j);
    return LLVMBuildFAdd(k->b, acc, e, "");
}

static void div_body(K *k, void *ctx, LLVMValueRef j, int lanes)
{
    Row *r = ctx;
    kl_store(k, LLVMBuildFDiv(k->b, kl_loadf(k, r->y, j, lanes), lanes_of(r, lanes, 0), ""), r->y, j);
}

static void zero_body(K *k, void *ctx, LLVMValueRef j, int lanes)
{
    Row *r = ctx;
    kl_store(k, kl_f32(k, 0, lanes), r->y, j);
}

void kn_softmax_row(K *k, LLVMValueRef x, LLVMValueRef y, LLVMValueRef len)
{
    Row r;
    memset(&r, 0, sizeof r);
    r.x = x;
    r.y = y;
    LLVMValueRef mx = kl_reduce(k, KR_MAX, kl_i64(k, 0), len, 2, max_step, &r);
    KIf f;
    kl_if(k, &f, LLVMBuildFCmp(k->b, LLVMRealOEQ, mx, kl_f32(k, -INFINITY, 1), ""));
    kl_vloop(k, kl_i64(k, 0), len, zero_body, &r);
    kl_else(k, &f);
    set_const(k, &r, mx, 0);
    LLVMValueRef sum = kl_reduce(k, KR_SUM, kl_i64(k, 0), len, 2, exp_step, &r);
    set_const(k, &r, sum, 0);
    kl_vloop(k, kl_i64(k, 0), len, div_body, &r);
    kl_endif(k, &f);
}

void kern_softmax(K *k)
{
    const Node *n = k->n;
    int rank = n->shape.rank;
    LLVMValueRef d[IR_MAX_RANK];
    kl_shape(k, &n->shape, d);
    LLVMValueRef len = d[rank - 1], rows = kl_prod(k, d, 0, rank - 1), lo, hi;
    kl_share(k, rows, 1, &lo, &hi);
    KLoop rl;
    kl_for(k, &rl, lo, hi, 1, 0, NULL);
    LLVMValueRef off = kl_mul(k, rl.i, len);
    kn_softmax_row(k, kl_gep(k, k->f32, k->x[0], off), kl_gep(k, k->f32, k->y, off), len);
    kl_next(k, &rl, NULL);
}

/* ---- layernorm, rmsnorm ------------------------------------------------------------------ */

static LLVMValueRef sum_step(K *k, void *ctx, LLVMValueRef j, int lanes, LLVMValueRef acc)
{
    Row *r = ctx;
    return LLVMBuildFAdd(k->b, acc, kl_loadf(k, r->x, j, lanes), "");
}

static LLVMValueRef sumsq_step(K *k, void *ctx, LLVMValueRef j, int lanes, LLVMValueRef acc)
{
    Row *r = ctx;
    LLVMValueRef v = kl_loadf(k, r->x, j, lanes);
    return kl_fmuladd(k, v, v, acc);
}

/* s[j] = a[j] + r[j]; acc += s[j] (layernorm: b set) or s[j]^2 (rmsnorm) */
static LLVMValueRef add_step(K *k, void *ctx, LLVMValueRef j, int lanes, LLVMValueRef acc)
{
    Row *r = ctx;
    LLVMValueRef v = LLVMBuildFAdd(k->b, kl_loadf(k, r->x, j, lanes), kl_loadf(k, r->r, j, lanes), "");
    kl_store(k, v, r->s, j);
    return r->b ? LLVMBuildFAdd(k->b, acc, v, "") : kl_fmuladd(k, v, v, acc);
}

/* acc += (x[j] - mean)^2 */
static LLVMValueRef var_step(K *k, void *ctx, LLVMValueRef j, int lanes, LLVMValueRef acc)
{
    Row *r = ctx;
    LLVMValueRef t = LLVMBuildFSub(k->b, kl_loadf(k, r->x, j, lanes), lanes_of(r, lanes, 0), "");
    return kl_fmuladd(k, t, t, acc);
}

/* layernorm: y = (x - mean) * inv * w + b; rmsnorm: y = x * inv * w (inv: second constant) */
static void norm_body(K *k, void *ctx, LLVMValueRef j, int lanes)
{
    Row *r = ctx;
    LLVMValueRef x = kl_loadf(k, r->x, j, lanes), w = kl_loadf(k, r->w, j, lanes), v;
    if (r->b) {
        LLVMValueRef t = LLVMBuildFMul(k->b, LLVMBuildFSub(k->b, x, lanes_of(r, lanes, 0), ""), lanes_of(r, lanes, 1), "");
        v = kl_fmuladd(k, t, w, kl_loadf(k, r->b, j, lanes));
    } else {
        v = LLVMBuildFMul(k->b, LLVMBuildFMul(k->b, x, lanes_of(r, lanes, 1), ""), w, "");
    }
    kl_store(k, v, r->y, j);
}

/* x (rows, d) → y (rows, d); fused: a, r (rows, d) → y (2, rows, d) = [a + r, norm(a + r)] */
void kern_norm(K *k)
{
    const Node *n = k->n, *x = n->in[0];
    int fused = n->op == OP_ADD_LAYERNORM || n->op == OP_ADD_RMSNORM;
    int ln = n->op == OP_LAYERNORM || n->op == OP_ADD_LAYERNORM;
    int rank = x->shape.rank;
    LLVMValueRef d[IR_MAX_RANK];
    kl_shape(k, &x->shape, d);
    LLVMValueRef len = d[rank - 1], rows = kl_prod(k, d, 0, rank - 1), lo, hi;
    LLVMValueRef sums = k->y;                                               /* fused: y[0] */
    LLVMValueRef norms = fused ? kl_gep(k, k->f32, k->y, kl_mul(k, rows, len)) : k->y;     /* y[1] or y */
    LLVMValueRef fl = LLVMBuildSIToFP(k->b, len, k->f32, "");
    LLVMValueRef eps = kl_f32(k, (float)ir_attr_float(n, A_eps, 1e-5), 1);
    kl_share(k, rows, 1, &lo, &hi);
    KLoop rl;
    kl_for(k, &rl, lo, hi, 1, 0, NULL);
    Row r;
    memset(&r, 0, sizeof r);
    LLVMValueRef off = kl_mul(k, rl.i, len);
    r.x = kl_gep(k, k->f32, k->x[0], off);
    r.y = kl_gep(k, k->f32, norms, off);
    r.w = k->x[fused + 1];
    r.b = ln ? k->x[fused + 2] : NULL;
    LLVMValueRef s;
    if (fused) {
        r.r = kl_gep(k, k->f32, k->x[1], off);
        r.s = kl_gep(k, k->f32, sums, off);
        s = kl_reduce(k, KR_SUM, kl_i64(k, 0), len, 4, add_step, &r);
        r.x = r.s;                                  /* normalize the sum just written */
    } else {
        s = kl_reduce(k, KR_SUM, kl_i64(k, 0), len, 4, ln ? sum_step : sumsq_step, &r);
    }
    LLVMValueRef ms = LLVMBuildFDiv(k->b, s, fl, "");     /* mean (layernorm) or mean of squares */
    if (ln) {
        set_const(k, &r, ms, 0);
        ms = LLVMBuildFDiv(k->b, kl_reduce(k, KR_SUM, kl_i64(k, 0), len, 4, var_step, &r), fl, "");
    }
    LLVMValueRef inv = LLVMBuildFDiv(k->b, kl_f32(k, 1, 1), kl_intr(k, "llvm.sqrt", LLVMBuildFAdd(k->b, ms, eps, ""), NULL), "");
    set_const(k, &r, inv, 1);
    kl_vloop(k, kl_i64(k, 0), len, norm_body, &r);
    kl_next(k, &rl, NULL);
}

/* ---- pool -------------------------------------------------------------------------------- */

typedef struct Pool {
    int is_max;
    LLVMValueRef x, y;              /* x at (t, 0, 0), y at (t, 0) */
    LLVMValueRef L, inner, vrow;    /* vrow: this batch row of valid, or NULL */
    LLVMValueRef count;             /* valid positions (f32), and whether there are none */
    LLVMValueRef none;
} Pool;

static void pool_body(K *k, void *ctx, LLVMValueRef c, int lanes)
{
    Pool *p = ctx;
    LLVMValueRef init = kl_f32(k, p->is_max ? -INFINITY : 0, lanes);
    KLoop l;
    kl_for(k, &l, kl_i64(k, 0), p->L, 1, 1, &init);
    LLVMValueRef acc = l.v[0];
    LLVMValueRef e = kl_loadf(k, p->x, kl_add(k, kl_mul(k, l.i, p->inner), c), lanes), nx;
    if (p->is_max) {
        /* e > acc || isnan(e), as the interpreter */
        LLVMValueRef take = LLVMBuildOr(k->b, LLVMBuildFCmp(k->b, LLVMRealOGT, e, acc, ""),
                                        LLVMBuildFCmp(k->b, LLVMRealUNO, e, e, ""), "");
        nx = LLVMBuildSelect(k->b, take, e, acc, "");
    } else {
        nx = LLVMBuildFAdd(k->b, acc, e, "");
    }
    if (p->vrow) {
        LLVMValueRef ok = LLVMBuildICmp(k->b, LLVMIntNE, kl_load(k, k->i32, p->vrow, l.i, 1), LLVMConstInt(k->i32, 0, 0), "");
        nx = LLVMBuildSelect(k->b, ok, nx, acc, "");
    }
    kl_next(k, &l, &nx);
    LLVMValueRef v = p->is_max ? l.v[0] : LLVMBuildFDiv(k->b, l.v[0], kl_splat(k, p->count, lanes), "");
    v = LLVMBuildSelect(k->b, p->none, kl_f32(k, 0, lanes), v, "");
    kl_store(k, v, p->y, c);
}

void kern_pool(K *k)
{
    const Node *n = k->n, *xn = n->in[0];
    int r = xn->shape.rank, axis = kl_axis(k, r);
    LLVMValueRef xd[IR_MAX_RANK];
    kl_shape(k, &xn->shape, xd);
    Pool p;
    memset(&p, 0, sizeof p);
    p.is_max = strcmp(ir_attr_str(n, A_mode, "mean"), "max") == 0;
    p.L = xd[axis];
    p.inner = kl_prod(k, xd, axis + 1, r);
    LLVMValueRef outer = kl_prod(k, xd, 0, axis), per_batch = kl_prod(k, xd, 1, axis);
    const Node *valid = n->n_in == 2 ? n->in[1] : NULL;
    int valid_one = valid && dim_is_const(valid->shape.d[0]) && valid->shape.d[0].k == 1;
    LLVMValueRef lo, hi;
    kl_share(k, outer, 1, &lo, &hi);
    KLoop tl;
    kl_for(k, &tl, lo, hi, 1, 0, NULL);
    p.x = kl_gep(k, k->f32, k->x[0], kl_mul(k, tl.i, kl_mul(k, p.L, p.inner)));
    p.y = kl_gep(k, k->f32, k->y, kl_mul(k, tl.i, p.inner));
    LLVMValueRef count = p.L;
    if (valid) {
        LLVMValueRef vb = valid_one ? kl_i64(k, 0) : kl_sdiv(k, tl.i, per_batch);
        p.vrow = kl_gep(k, k->i32, k->x[1], kl_mul(k, vb, p.L));
        LLVMValueRef zero = kl_i64(k, 0);
        KLoop cl;
        kl_for(k, &cl, kl_i64(k, 0), p.L, 1, 1, &zero);
        LLVMValueRef ok = LLVMBuildICmp(k->b, LLVMIntNE, kl_load(k, k->i32, p.vrow, cl.i, 1), LLVMConstInt(k->i32, 0, 0), "");
        LLVMValueRef nx = kl_add(k, cl.v[0], LLVMBuildZExt(k->b, ok, k->i64, ""));
        kl_next(k, &cl, &nx);
        count = cl.v[0];
    }
    p.none = LLVMBuildICmp(k->b, LLVMIntEQ, count, kl_i64(k, 0), "");
    p.count = LLVMBuildSIToFP(k->b, count, k->f32, "");
    kl_vloop(k, kl_i64(k, 0), p.inner, pool_body, &p);
    kl_next(k, &tl, NULL);
}
