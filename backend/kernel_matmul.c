/* kernel_matmul.c — MATMUL, its fused forms LINEAR and GATED_LINEAR, and the two inner
 * products attention shares with it.
 *
 * y[.., m, n] = sum_k a[.., m, k] * b[.., k, n] (tb = 1: b stored [.., n, k]). The leading
 * (batch) axes broadcast as in numpy, statically: an operand's leading axis is broadcast
 * when it lacks it or has the constant extent 1. For each batch index:
 *
 *   tb = 1: every y[i, j] is a dot product of two contiguous rows (km_dot): 4 vector
 *           accumulators over blocks of 4*vw, one over the remaining whole vectors, then the
 *           accumulators are added pairwise, reduced horizontally by llvm.vector.reduce.fadd
 *           with the reassoc flag, and the last k % vw products are added one by one.
 *   tb = 0: each row of y is a row of a times the matrix b (km_row_times), in the axpy form
 *           y[i, n..n+vw) += a[i, k] * b[k, n..n+vw), with the y pieces held in registers:
 *           panels of 4 vectors of columns, then single vectors, then single columns, each
 *           accumulated over k in ascending order.
 *
 * Every multiply-add is llvm.fmuladd (one FMA where the target has it). The sums are in f32;
 * the interpreter's are in f64, and the difference is bounded by about k * 2^-24 * sum |a*b|
 * in the worst case (the tests see ~1e-7 relative to sum |a*b|). Register blocking over
 * rows and packing are a later step.
 *
 * The epilogue (LINEAR, GATED_LINEAR; pass fuse-epilogue) is applied to each finished sum
 * as it is stored: act(sum + bias) [* up] + residual, each step one IEEE operation (the
 * activation as kernel_elementwise.c computes it), in the order of the unfused chain. With
 * tb = 0 all of it happens in registers; with tb = 1 the activation and what follows run as
 * a vector pass over the row just stored (see "the rows"). A gated node sweeps its rows
 * twice, y = act(x·gate), then y = y * (x·up) + residual (see Epi). MATMUL is the case of no
 * epilogue: the same code.
 *
 * Shares (the contract's part, parts): in every batch matrix, the rows of y when there are
 * at least MM_ROWS_PER_PART per part (prefill), else the columns (decode, M = 1) in chunks
 * of a panel (KM_PANEL vectors, tb = 0) or a vector (tb = 1), so a column keeps the panel,
 * vector or scalar code it has with one part. No share ever splits the sum over k. */
#include "backend/kernel_impl.h"

#include <string.h>

/* Rows of y a part needs for the split to be by rows (else by columns). */
enum { MM_ROWS_PER_PART = 4 };

typedef struct Dot {
    LLVMValueRef a, b;
} Dot;

static LLVMValueRef dot_step(K *k, void *ctx, LLVMValueRef j, int lanes, LLVMValueRef acc)
{
    Dot *d = ctx;
    return kl_fmuladd(k, kl_loadf(k, d->a, j, lanes), kl_loadf(k, d->b, j, lanes), acc);
}

LLVMValueRef km_dot(K *k, LLVMValueRef a, LLVMValueRef b, LLVMValueRef n)
{
    Dot d = { a, b };
    return kl_reduce(k, KR_SUM, kl_i64(k, 0), n, 4, dot_step, &d);
}

void km_rows_times(K *k, LLVMValueRef a, LLVMValueRef B, LLVMValueRef ldb, LLVMValueRef n, LLVMValueRef c0,
                   LLVMValueRef c1, KMStore store, void *ctx)
{
    /* three passes over the columns: panels of KM_PANEL vectors, single vectors, single columns */
    for (int pass = 0; pass < 3; pass++) {
        int lanes = pass == 2 ? 1 : k->vw, nv = pass == 0 ? KM_PANEL : 1;
        KLoop cl, jl;
        kl_for(k, &cl, c0, c1, (int64_t)lanes * nv, 0, NULL);
        LLVMValueRef acc[KM_PANEL], next[KM_PANEL];
        for (int v = 0; v < nv; v++) acc[v] = kl_f32(k, 0, lanes);
        kl_for(k, &jl, kl_i64(k, 0), n, 1, nv, acc);
        LLVMValueRef s = kl_splat(k, kl_loadf(k, a, jl.i, 1), lanes);
        LLVMValueRef row = kl_add(k, kl_mul(k, jl.i, ldb), cl.i);
        for (int v = 0; v < nv; v++)
            next[v] = kl_fmuladd(k, s, kl_loadf(k, B, kl_add(k, row, kl_i64(k, (int64_t)v * lanes)), lanes), jl.v[v]);
        kl_next(k, &jl, next);
        for (int v = 0; v < nv; v++) store(k, ctx, jl.v[v], kl_add(k, cl.i, kl_i64(k, (int64_t)v * lanes)), lanes);
        kl_next(k, &cl, NULL);
        c0 = cl.i;
    }
}

static void store_plain(K *k, void *y, LLVMValueRef sum, LLVMValueRef c, int lanes)
{
    (void)lanes;
    kl_store(k, sum, (LLVMValueRef)y, c);
}

void km_row_times(K *k, LLVMValueRef a, LLVMValueRef B, LLVMValueRef ldb, LLVMValueRef y, LLVMValueRef n,
                  LLVMValueRef c0, LLVMValueRef c1)
{
    km_rows_times(k, a, B, ldb, n, c0, c1, store_plain, y);
}

/* ---- the epilogue ---------------------------------------------------------------------- */

/* What happens to each finished sum of a node (nothing for MATMUL). A gated node makes two
 * sweeps over its rows: the gate's (phase 1: y = act(sum)), then the up product's (phase 2:
 * y = y * sum + residual). Row by row, the gate and up weights would be streamed in turn,
 * twice the bytes cached between rows (prefill re-reads the weights for every row): 17 %
 * (tb = 1) and 25 % (tb = 0) slower on the SwiGLU prefill shapes of bench/epilogue.c, where
 * the two sweeps measure even with the unfused kernels. */
typedef struct Epi {
    int gated, phase;           /* phase 1: the product by w (or the gate), 2: by up */
    const char *act;            /* NULL: none */
    LLVMValueRef bias;          /* (N), or NULL */
    LLVMValueRef res;           /* (.., M, N) like y, or NULL */
    LLVMValueRef yrow, rrow;    /* the row of y being computed, and of the residual */
} Epi;

static void epi_init(K *k, Epi *e)
{
    const Node *n = k->n;
    memset(e, 0, sizeof *e);
    e->gated = n->op == OP_GATED_LINEAR;
    e->phase = 1;
    if (n->op == OP_MATMUL) return;
    e->act = ir_attr_str(n, A_act, NULL);
    if (ir_attr_int(n, A_bias, 0)) e->bias = k->x[2];
    if (ir_attr_int(n, A_residual, 0)) e->res = k->x[n->n_in - 1];
}

static LLVMValueRef plus_residual(K *k, const Epi *e, LLVMValueRef v, LLVMValueRef j, int lanes)
{
    return e->rrow ? LLVMBuildFAdd(k->b, v, kl_loadf(k, e->rrow, j, lanes), "") : v;
}

/* y[j .. j+lanes) from the sums of those columns: phase 1, act(sum + bias) + residual
 * (the residual once gated, in phase 2: y * sum + residual). Without the activation
 * (with_act = 0), what follows it is left to act_vectors. */
static LLVMValueRef epi_value(K *k, const Epi *e, LLVMValueRef sum, LLVMValueRef j, int lanes, int with_act)
{
    if (e->phase == 2) return plus_residual(k, e, LLVMBuildFMul(k->b, kl_loadf(k, e->yrow, j, lanes), sum, ""), j, lanes);
    LLVMValueRef v = sum;
    if (e->bias) v = LLVMBuildFAdd(k->b, v, kl_loadf(k, e->bias, j, lanes), "");
    if (e->act && !with_act) return v;
    if (e->act) v = ke_activation(k, e->act, v, lanes);
    return e->gated ? v : plus_residual(k, e, v, j, lanes);
}

static void epi_store(K *k, void *ctx, LLVMValueRef sum, LLVMValueRef j, int lanes)
{
    const Epi *e = ctx;
    kl_store(k, epi_value(k, e, sum, j, lanes, 1), e->yrow, j);
}

/* The activation (and the residual after it) of y[j .. j+lanes), in place. */
static void act_vectors(K *k, void *ctx, LLVMValueRef j, int lanes)
{
    const Epi *e = ctx;
    LLVMValueRef v = ke_activation(k, e->act, kl_loadf(k, e->yrow, j, lanes), lanes);
    kl_store(k, e->gated ? v : plus_residual(k, e, v, j, lanes), e->yrow, j);
}

/* ---- the rows ------------------------------------------------------------------------------- */

/* tb = 0 applies the epilogue at the stores of its register panels, on vectors. tb = 1
 * computes a row's columns [c0, c1) as dot products, each stored with what follows it in
 * registers up to the activation; the activation and the rest then run as a vector pass over
 * those columns (still in L1), as kern_unary runs it. A libm call in the loop of dot products
 * defeats O3's unrolled dot product and calls it per scalar: 18-28 ns per element in
 * bench/epilogue.c, against 9-10 vectorized. */
typedef struct Mat {            /* one batch matrix of the node */
    LLVMValueRef A;             /* (M, K) */
    LLVMValueRef B;             /* (K, N), tb: (N, K): w, the gate or up */
    LLVMValueRef Y, R;          /* (M, N): y and the residual (or NULL) */
    LLVMValueRef Kd, N;
} Mat;

static void dots(K *k, const Epi *e, LLVMValueRef arow, LLVMValueRef B, LLVMValueRef Kd, LLVMValueRef c0, LLVMValueRef c1)
{
    KLoop jl;
    kl_for(k, &jl, c0, c1, 1, 0, NULL);
    LLVMValueRef sum = km_dot(k, arow, kl_gep(k, k->f32, B, kl_mul(k, jl.i, Kd)), Kd);
    kl_store(k, epi_value(k, e, sum, jl.i, 1, 0), e->yrow, jl.i);
    kl_next(k, &jl, NULL);
    if (e->act && e->phase == 1) kl_vloop(k, c0, c1, act_vectors, (void *)e);
}

/* This part's rows [sh0, sh1) and columns [sh2, sh3) of the matrix, in e's phase. */
static void over_rows(K *k, Epi *e, const Mat *mt, const LLVMValueRef *sh, int tb)
{
    KLoop il;
    kl_for(k, &il, sh[0], sh[1], 1, 0, NULL);
    LLVMValueRef arow = kl_gep(k, k->f32, mt->A, kl_mul(k, il.i, mt->Kd));
    e->yrow = kl_gep(k, k->f32, mt->Y, kl_mul(k, il.i, mt->N));
    e->rrow = mt->R ? kl_gep(k, k->f32, mt->R, kl_mul(k, il.i, mt->N)) : NULL;
    if (tb) dots(k, e, arow, mt->B, mt->Kd, sh[2], sh[3]);
    else km_rows_times(k, arow, mt->B, mt->N, mt->Kd, sh[2], sh[3], epi_store, e);
    kl_next(k, &il, NULL);
}

/* Element strides of an operand's leading axes while walking y's leading axes (lr of them):
 * numpy broadcasting aligned on the right; a block is the operand's trailing matrix. */
static void lead_strides(K *k, const Shape *s, const LLVMValueRef *d, int lr, LLVMValueRef block, LLVMValueRef *st)
{
    int xr = s->rank - 2;
    LLVMValueRef acc = block;
    for (int i = lr - 1; i >= 0; i--) {
        int xi = i - (lr - xr);
        int full = xi >= 0 && !(dim_is_const(s->d[xi]) && s->d[xi].k == 1);
        st[i] = full ? acc : kl_i64(k, 0);
        if (xi >= 0) acc = kl_mul(k, acc, d[xi]);
    }
}

void kern_matmul(K *k)
{
    const Node *n = k->n, *a = n->in[0], *b = n->in[1];
    int tb = (int)ir_attr_int(n, A_tb, 0);
    int ry = n->shape.rank, lr = ry - 2;
    LLVMValueRef yd[IR_MAX_RANK], ad[IR_MAX_RANK], bd[IR_MAX_RANK];
    kl_shape(k, &n->shape, yd);
    kl_shape(k, &a->shape, ad);
    kl_shape(k, &b->shape, bd);
    LLVMValueRef M = yd[ry - 2], N = yd[ry - 1], Kd = ad[a->shape.rank - 1];
    LLVMValueRef sa[IR_MAX_RANK], sb[IR_MAX_RANK];
    lead_strides(k, &a->shape, ad, lr, kl_mul(k, M, Kd), sa);
    lead_strides(k, &b->shape, bd, lr, kl_mul(k, Kd, N), sb);
    LLVMValueRef mn = kl_mul(k, M, N);
    /* this part's rows [sh0, sh1) and columns [sh2, sh3) of every (M, N) matrix */
    LLVMValueRef sh[4];
    kl_share_rows(k, M, N, tb ? k->vw : (int64_t)KM_PANEL * k->vw, MM_ROWS_PER_PART, sh);

    KLoop lead[IR_MAX_RANK];
    LLVMValueRef idx[IR_MAX_RANK];
    kl_nest(k, lead, lr, yd, idx);
    LLVMValueRef oa = kl_i64(k, 0), ob = kl_i64(k, 0), oy = kl_i64(k, 0);
    for (int i = 0; i < lr; i++) {
        oa = kl_add(k, oa, kl_mul(k, idx[i], sa[i]));
        ob = kl_add(k, ob, kl_mul(k, idx[i], sb[i]));
        oy = kl_add(k, kl_mul(k, oy, yd[i]), idx[i]);
    }
    Epi e;
    epi_init(k, &e);
    Mat mt = { kl_gep(k, k->f32, k->x[0], oa), kl_gep(k, k->f32, k->x[1], ob), kl_gep(k, k->f32, k->y, kl_mul(k, oy, mn)),
               e.res ? kl_gep(k, k->f32, e.res, kl_mul(k, oy, mn)) : NULL, Kd, N };
    over_rows(k, &e, &mt, sh, tb);
    if (e.gated) {
        e.phase = 2;
        mt.B = kl_gep(k, k->f32, k->x[2], ob);                      /* up: shaped like the gate */
        over_rows(k, &e, &mt, sh, tb);
    }
    kl_unnest(k, lead, lr);
}
