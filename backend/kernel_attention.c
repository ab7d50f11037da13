/* kernel_attention.c — MASK and the fused ATTENTION.
 *
 * Visibility. Query i of q queries over k keys sits at key position at = i + k - q. Key j
 * is hidden when causal and j > at, when window > 0 and at - j >= window, or when
 * valid[b, j] == 0 (valid is (b or 1, k)). The first two make a range: visible j lie in
 * [lo, hi) with lo = at - window + 1 (window) or 0, hi = at + 1 (causal) or k.
 *
 * MASK, per row of scores (b, h, i): a vector loop over j comparing <j, j+1, ..> against
 * lo and hi (and loading valid as a vector of i32) and selecting x or -inf.
 *
 * ATTENTION, q (b, h, s, d), k and v (b, kvh, t, d | dv), query head h reading key/value
 * head h / (h_count / kvh) (GQA without copying): for each query row, a scratch row of t
 * scores on the stack (one dynamic alloca of t floats per call, in the entry block), each
 * visible score a dot product of d (km_dot: vector accumulators, reassociated horizontal
 * sum) rounded as the unfused chain rounds it — float(float(q.k) * scale), the scale in
 * f64 as SCALE would apply it — and hidden ones -inf; then the row's softmax in place
 * (kn_softmax_row: an all -inf row gives zeros), then y = p · V as a row times a matrix
 * (km_row_times: y pieces in vector registers, p_j splatted, accumulated over j). Two
 * passes over the scores rather than an online softmax: simple, and the scratch is small
 * (t floats). Flash-style tiling is a later step.
 *
 * Shares (the contract's part, parts): attention splits the flattened query rows
 * (B, H, S) — decode's S = 1 gives heads to parts; mask the rows (B, H, Q), or pieces of
 * vw keys of every row when there are fewer than 4 rows per part. */
#include "backend/kernel_impl.h"

#include <math.h>

typedef struct Vis {
    LLVMValueRef lo, hi;            /* visible range of this query (i64) */
    LLVMValueRef vrow;              /* the valid row (i32), or NULL */
    LLVMValueRef x, y;              /* the score rows */
} Vis;

/* lo, hi for query i of q over k keys */
static void vis_range(K *k, Vis *v, LLVMValueRef i, LLVMValueRef q, LLVMValueRef keys)
{
    int causal = (int)ir_attr_int(k->n, A_causal, 0);
    int64_t window = ir_attr_int(k->n, A_window, 0);
    LLVMValueRef at = kl_sub(k, kl_add(k, i, keys), q);
    v->hi = causal ? kl_add(k, at, kl_i64(k, 1)) : keys;
    v->lo = window > 0 ? kl_sub(k, at, kl_i64(k, window - 1)) : kl_i64(k, 0);
}

/* Whether j (vector or scalar of i64) is visible. */
static LLVMValueRef visible(K *k, Vis *v, LLVMValueRef j, int lanes)
{
    LLVMValueRef jv = kl_iota(k, j, lanes);
    LLVMValueRef ok = LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntSGE, jv, kl_splat(k, v->lo, lanes), ""),
                                   LLVMBuildICmp(k->b, LLVMIntSLT, jv, kl_splat(k, v->hi, lanes), ""), "");
    if (v->vrow) {
        LLVMValueRef vl = kl_load(k, k->i32, v->vrow, j, lanes);
        ok = LLVMBuildAnd(k->b, ok, LLVMBuildICmp(k->b, LLVMIntNE, vl, LLVMConstNull(LLVMTypeOf(vl)), ""), "");
    }
    return ok;
}

static void mask_body(K *k, void *ctx, LLVMValueRef j, int lanes)
{
    Vis *v = ctx;
    LLVMValueRef x = kl_loadf(k, v->x, j, lanes);
    kl_store(k, LLVMBuildSelect(k->b, visible(k, v, j, lanes), x, kl_f32(k, -INFINITY, lanes), ""), v->y, j);
}

/* The valid row of batch b (valid is (b or 1, keys)), or NULL without valid. */
static LLVMValueRef valid_row(K *k, int input, LLVMValueRef b, LLVMValueRef keys)
{
    if (k->n->n_in <= input) return NULL;
    Dim vb = k->n->in[input]->shape.d[0];
    int one = dim_is_const(vb) && vb.k == 1;
    return kl_gep(k, k->i32, k->x[input], kl_mul(k, one ? kl_i64(k, 0) : b, keys));
}

void kern_mask(K *k)
{
    LLVMValueRef d[IR_MAX_RANK], idx[3], sh[4];
    kl_shape(k, &k->n->shape, d);                  /* (B, H, Q, K) */
    kl_share_rows(k, kl_prod(k, d, 0, 3), d[3], k->vw, 4, sh);
    KLoop rl;
    kl_for(k, &rl, sh[0], sh[1], 1, 0, NULL);
    kl_unflatten(k, rl.i, d, 3, idx);
    Vis v;
    vis_range(k, &v, idx[2], d[2], d[3]);
    v.vrow = valid_row(k, 1, idx[0], d[3]);
    LLVMValueRef off = kl_mul(k, kl_add(k, kl_mul(k, kl_add(k, kl_mul(k, idx[0], d[1]), idx[1]), d[2]), idx[2]), d[3]);
    v.x = kl_gep(k, k->f32, k->x[0], off);
    v.y = kl_gep(k, k->f32, k->y, off);
    kl_vloop(k, sh[2], sh[3], mask_body, &v);
    kl_next(k, &rl, NULL);
}

void kern_attention(K *k)
{
    const Node *n = k->n;
    LLVMValueRef qd[4], kd[4], vd[4], idx[3];
    kl_shape(k, &n->in[0]->shape, qd);             /* (B, H, S, D) */
    kl_shape(k, &n->in[1]->shape, kd);             /* (B, KH, T, D) */
    kl_shape(k, &n->in[2]->shape, vd);             /* (B, KH, T, DV) */
    LLVMValueRef H = qd[1], S = qd[2], D = qd[3], KH = kd[1], T = kd[2], DV = vd[3];
    int64_t group = n->in[0]->shape.d[1].k / n->in[1]->shape.d[1].k;
    double scale = ir_attr_float(n, A_scale, 1);
    LLVMValueRef sc = LLVMBuildArrayAlloca(k->b, k->f32, T, "scores");     /* (T) */

    /* this part's query rows of the flattened (B, H, S) */
    LLVMValueRef lo, hi;
    kl_share(k, kl_prod(k, qd, 0, 3), 1, &lo, &hi);
    KLoop rl, jl;
    kl_for(k, &rl, lo, hi, 1, 0, NULL);
    kl_unflatten(k, rl.i, qd, 3, idx);
    LLVMValueRef b = idx[0], h = idx[1], i = idx[2];
    LLVMValueRef kh = kl_sdiv(k, h, kl_i64(k, group));
    LLVMValueRef row = kl_add(k, kl_mul(k, kl_add(k, kl_mul(k, b, H), h), S), i);
    LLVMValueRef kvh = kl_add(k, kl_mul(k, b, KH), kh);
    LLVMValueRef Q = kl_gep(k, k->f32, k->x[0], kl_mul(k, row, D));                   /* (D) */
    LLVMValueRef Kb = kl_gep(k, k->f32, k->x[1], kl_mul(k, kvh, kl_mul(k, T, D)));    /* (T, D) */
    LLVMValueRef Vb = kl_gep(k, k->f32, k->x[2], kl_mul(k, kvh, kl_mul(k, T, DV)));   /* (T, DV) */
    LLVMValueRef Y = kl_gep(k, k->f32, k->y, kl_mul(k, row, DV));                     /* (DV) */
    Vis v;
    vis_range(k, &v, i, S, T);
    v.vrow = valid_row(k, 3, b, T);

    kl_for(k, &jl, kl_i64(k, 0), T, 1, 0, NULL);
    KIf f;
    kl_if(k, &f, visible(k, &v, jl.i, 1));
    LLVMValueRef dot = km_dot(k, Q, kl_gep(k, k->f32, Kb, kl_mul(k, jl.i, D)), D);
    LLVMValueRef s = LLVMBuildFMul(k->b, LLVMBuildFPExt(k->b, dot, k->f64, ""), LLVMConstReal(k->f64, scale), "");
    kl_store(k, LLVMBuildFPTrunc(k->b, s, k->f32, "score"), sc, jl.i);
    kl_else(k, &f);
    kl_store(k, kl_f32(k, -INFINITY, 1), sc, jl.i);
    kl_endif(k, &f);
    kl_next(k, &jl, NULL);

    kn_softmax_row(k, sc, sc, T);
    km_row_times(k, sc, Vb, DV, Y, T, kl_i64(k, 0), DV);
    kl_next(k, &rl, NULL);
}
