/* kernel_position.c — POSITIONS, SINUSOID and ROPE.
 *
 * Angles are computed as the interpreter computes them, in f64: the frequencies
 * theta^(2i/dim) (sinusoid, divided by) and theta^(-2i/rot) (rope, multiplied by) are
 * evaluated here at compile time with the C library's pow, the interpreter's own formula,
 * and stored as a private constant table; the kernel multiplies or divides by them in f64
 * and calls llvm.sin / llvm.cos on f64 (libm sin and cos). An f32 angle would be off by
 * pos * 2^-24 rad, 6e-5 at position 1000.
 *
 * RoPE, x (b, h, s, hd) and positions (b or 1, s): for each (b, s) the cosines and sines of
 * the rot/2 angles are made once into two stack tables, then every head's row is rotated
 * with vectors: `interleaved` pairs (x[2i], x[2i+1]) use tables expanded to rot entries,
 * c = [c0, c0, c1, c1, ..] and s = [-s0, s0, -s1, s1, ..], and the pair-swapped vector,
 * y = x * c + swap(x) * s; `half` pairs (x[i], x[i + rot/2]) load both halves and write
 * both, y0 = x0 c - x1 s and y1 = x0 s + x1 c. Both read a pair before writing it, so y may
 * be x. Dims from rot to hd are copied. Positions are an iota per row.
 *
 * Shares (the contract's part, parts): rows — the (b, s) rows of rope (every head of a row
 * in one part, so its tables are made once), the positions of sinusoid, the rows of
 * positions (or pieces of vw positions of every row when the rows are fewer than the
 * parts). */
#include "backend/kernel_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A private constant [n x double] holding v. */
static LLVMValueRef f64_table(K *k, const double *v, int64_t n, const char *name)
{
    LLVMValueRef *c = xmalloc((size_t)(n ? n : 1) * sizeof *c);
    for (int64_t i = 0; i < n; i++) c[i] = LLVMConstReal(k->f64, v[i]);
    LLVMValueRef init = LLVMConstArray2(k->f64, c, (uint64_t)n);
    free(c);
    LLVMValueRef g = LLVMAddGlobal(k->cg->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(g, init);
    LLVMSetGlobalConstant(g, 1);
    LLVMSetLinkage(g, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
    return g;
}

/* ---- positions ----------------------------------------------------------------------- */

typedef struct Pos {
    LLVMValueRef y, start;          /* y: this row */
} Pos;

static void pos_body(K *k, void *ctx, LLVMValueRef j, int lanes)
{
    Pos *p = ctx;
    LLVMValueRef v = LLVMBuildNSWAdd(k->b, kl_iota(k, j, lanes), kl_splat(k, p->start, lanes), "");
    kl_store(k, LLVMBuildTrunc(k->b, v, kl_vec(k, k->i32, lanes), ""), p->y, j);
}

/* y[r, j] = start + j (i32), rows of the last axis */
void kern_positions(K *k)
{
    const Node *n = k->n;
    int r = n->shape.rank;
    LLVMValueRef d[IR_MAX_RANK];
    kl_shape(k, &n->shape, d);
    LLVMValueRef S = r ? d[r - 1] : kl_i64(k, 1), rows = kl_prod(k, d, 0, r ? r - 1 : 0);
    Pos p = { NULL, kl_dim(k, ir_node_attr(n, A_start)->v.dim) };
    LLVMValueRef sh[4];
    kl_share_rows(k, rows, S, k->vw, 1, sh);
    KLoop rl;
    kl_for(k, &rl, sh[0], sh[1], 1, 0, NULL);
    p.y = kl_gep(k, k->i32, k->y, kl_mul(k, rl.i, S));
    kl_vloop(k, sh[2], sh[3], pos_body, &p);
    kl_next(k, &rl, NULL);
}

/* ---- sinusoid -------------------------------------------------------------------------- */

/* y[p, 2i], y[p, 2i+1] = sin, cos(pos[p] / theta^(2i/dim)); half: y[p, i], y[p, i + dim/2] */
void kern_sinusoid(K *k)
{
    const Node *n = k->n, *pos = n->in[0];
    int64_t dim = ir_attr_int(n, A_dim, 0), h = dim / 2;
    double theta = ir_attr_float(n, A_theta, 10000);
    int half = strcmp(ir_attr_str(n, A_pairing, "interleaved"), "half") == 0;
    double *den = xmalloc((size_t)(h ? h : 1) * sizeof *den);
    for (int64_t i = 0; i < h; i++) den[i] = pow(theta, (double)(2 * i) / (double)dim);
    LLVMValueRef table = f64_table(k, den, h, "sinusoid.den");
    free(den);
    LLVMValueRef pd[IR_MAX_RANK];
    kl_shape(k, &pos->shape, pd);
    LLVMValueRef count = kl_prod(k, pd, 0, pos->shape.rank), lo, hi;
    kl_share(k, count, 1, &lo, &hi);
    KLoop pl, il;
    kl_for(k, &pl, lo, hi, 1, 0, NULL);
    LLVMValueRef x = LLVMBuildSIToFP(k->b, kl_load(k, k->i32, k->x[0], pl.i, 1), k->f64, "pos");
    LLVMValueRef row = kl_gep(k, k->f32, k->y, kl_mul(k, pl.i, kl_i64(k, dim)));
    kl_for(k, &il, kl_i64(k, 0), kl_i64(k, h), 1, 0, NULL);
    LLVMValueRef ld = LLVMBuildLoad2(k->b, k->f64, kl_gep(k, k->f64, table, il.i), "");
    LLVMValueRef a = LLVMBuildFDiv(k->b, x, ld, "angle");
    LLVMValueRef s = LLVMBuildFPTrunc(k->b, kl_intr(k, "llvm.sin", a, NULL), k->f32, "");
    LLVMValueRef c = LLVMBuildFPTrunc(k->b, kl_intr(k, "llvm.cos", a, NULL), k->f32, "");
    LLVMValueRef i0 = half ? il.i : kl_mul(k, il.i, kl_i64(k, 2));
    LLVMValueRef i1 = half ? kl_add(k, il.i, kl_i64(k, h)) : kl_add(k, i0, kl_i64(k, 1));
    kl_store(k, s, row, i0);
    kl_store(k, c, row, i1);
    kl_next(k, &il, NULL);
    kl_next(k, &pl, NULL);
}

/* ---- rope ------------------------------------------------------------------------------- */

typedef struct Rope {
    LLVMValueRef x, y;              /* this head's row */
    LLVMValueRef c, s;              /* the tables (f32) */
    LLVMValueRef h2;                /* rot / 2 */
} Rope;

/* interleaved: y = x * c + swap(x) * s over [0, rot), whole vectors (vw is even) */
static void rope_pairs_body(K *k, void *ctx, LLVMValueRef j, int lanes)
{
    Rope *r = ctx;
    KILN_ASSERT(lanes % 2 == 0);
    LLVMValueRef x = kl_loadf(k, r->x, j, lanes);
    LLVMValueRef mask[64];
    for (int i = 0; i < lanes; i++) mask[i] = LLVMConstInt(k->i32, (unsigned)(i ^ 1), 0);
    LLVMValueRef sw = LLVMBuildShuffleVector(k->b, x, LLVMGetPoison(LLVMTypeOf(x)), LLVMConstVector(mask, (unsigned)lanes), "");
    LLVMValueRef xc = LLVMBuildFMul(k->b, x, kl_loadf(k, r->c, j, lanes), "");
    kl_store(k, kl_fmuladd(k, sw, kl_loadf(k, r->s, j, lanes), xc), r->y, j);
}

/* half: y0 = x0 c - x1 s, y1 = x1 c + x0 s for the pair (j, j + rot/2) */
static void rope_half_body(K *k, void *ctx, LLVMValueRef j, int lanes)
{
    Rope *r = ctx;
    LLVMValueRef j1 = kl_add(k, j, r->h2);
    LLVMValueRef x0 = kl_loadf(k, r->x, j, lanes), x1 = kl_loadf(k, r->x, j1, lanes);
    LLVMValueRef c = kl_loadf(k, r->c, j, lanes), s = kl_loadf(k, r->s, j, lanes);
    LLVMValueRef y0 = kl_fmuladd(k, LLVMBuildFNeg(k->b, x1, ""), s, LLVMBuildFMul(k->b, x0, c, ""));
    LLVMValueRef y1 = kl_fmuladd(k, x0, s, LLVMBuildFMul(k->b, x1, c, ""));
    kl_store(k, y0, r->y, j);
    kl_store(k, y1, r->y, j1);
}

void kern_rope(K *k)
{
    const Node *n = k->n, *pos = n->in[1];
    int64_t hd = n->shape.d[3].k, rot = ir_attr_int(n, A_rot, hd), h2 = rot / 2;
    double theta = ir_attr_float(n, A_theta, 10000);
    int half = strcmp(ir_attr_str(n, A_pairing, "interleaved"), "half") == 0;
    int pos_one = dim_is_const(pos->shape.d[0]) && pos->shape.d[0].k == 1;
    KILN_ASSERT(dim_is_const(n->shape.d[3]) && rot % 2 == 0 && rot <= hd);
    double *inv = xmalloc((size_t)(h2 ? h2 : 1) * sizeof *inv);
    for (int64_t i = 0; i < h2; i++) inv[i] = pow(theta, -(double)(2 * i) / (double)rot);
    LLVMValueRef table = f64_table(k, inv, h2, "rope.inv_freq");
    free(inv);
    LLVMValueRef xd[IR_MAX_RANK];
    kl_shape(k, &n->shape, xd);
    LLVMValueRef B = xd[0], H = xd[1], S = xd[2];
    /* (rot) cosines and signed sines of one position, f32; half uses the first rot/2 */
    LLVMTypeRef tt = LLVMArrayType2(k->f32, (uint64_t)(rot ? rot : 1));
    Rope r;
    memset(&r, 0, sizeof r);
    r.c = LLVMBuildAlloca(k->b, tt, "cos");
    r.s = LLVMBuildAlloca(k->b, tt, "sin");
    r.h2 = kl_i64(k, h2);

    /* this part's rows of the flattened (B, S); each row rotates every head */
    LLVMValueRef lo, hi;
    kl_share(k, kl_mul(k, B, S), 1, &lo, &hi);
    KLoop rl, il, hl;
    kl_for(k, &rl, lo, hi, 1, 0, NULL);
    LLVMValueRef bi = kl_sdiv(k, rl.i, S), si = LLVMBuildSRem(k->b, rl.i, S, "");
    LLVMValueRef pi = kl_add(k, kl_mul(k, pos_one ? kl_i64(k, 0) : bi, S), si);
    LLVMValueRef p = LLVMBuildSIToFP(k->b, kl_load(k, k->i32, k->x[1], pi, 1), k->f64, "pos");
    kl_for(k, &il, kl_i64(k, 0), r.h2, 1, 0, NULL);
    LLVMValueRef a = LLVMBuildFMul(k->b, p, LLVMBuildLoad2(k->b, k->f64, kl_gep(k, k->f64, table, il.i), ""), "angle");
    LLVMValueRef c = LLVMBuildFPTrunc(k->b, kl_intr(k, "llvm.cos", a, NULL), k->f32, "");
    LLVMValueRef s = LLVMBuildFPTrunc(k->b, kl_intr(k, "llvm.sin", a, NULL), k->f32, "");
    if (half) {
        kl_store(k, c, r.c, il.i);
        kl_store(k, s, r.s, il.i);
    } else {
        LLVMValueRef i0 = kl_mul(k, il.i, kl_i64(k, 2)), i1 = kl_add(k, i0, kl_i64(k, 1));
        kl_store(k, c, r.c, i0);
        kl_store(k, c, r.c, i1);
        kl_store(k, LLVMBuildFNeg(k->b, s, ""), r.s, i0);
        kl_store(k, s, r.s, i1);
    }
    kl_next(k, &il, NULL);

    kl_for(k, &hl, kl_i64(k, 0), H, 1, 0, NULL);
    LLVMValueRef off = kl_mul(k, kl_add(k, kl_mul(k, kl_add(k, kl_mul(k, bi, H), hl.i), S), si), kl_i64(k, hd));
    r.x = kl_gep(k, k->f32, k->x[0], off);
    r.y = kl_gep(k, k->f32, k->y, off);
    if (half) {
        kl_vloop(k, kl_i64(k, 0), r.h2, rope_half_body, &r);
    } else {
        /* whole vectors, then the remaining pairs one pair at a time */
        KLoop vl, tl;
        kl_for(k, &vl, kl_i64(k, 0), kl_i64(k, rot), k->vw, 0, NULL);
        rope_pairs_body(k, &r, vl.i, k->vw);
        kl_next(k, &vl, NULL);
        kl_for(k, &tl, vl.i, kl_i64(k, rot), 2, 0, NULL);
        LLVMValueRef j1 = kl_add(k, tl.i, kl_i64(k, 1));
        LLVMValueRef x0 = kl_loadf(k, r.x, tl.i, 1), x1 = kl_loadf(k, r.x, j1, 1);
        LLVMValueRef y0 = kl_fmuladd(k, x1, kl_loadf(k, r.s, tl.i, 1), LLVMBuildFMul(k->b, x0, kl_loadf(k, r.c, tl.i, 1), ""));
        LLVMValueRef y1 = kl_fmuladd(k, x0, kl_loadf(k, r.s, j1, 1), LLVMBuildFMul(k->b, x1, kl_loadf(k, r.c, j1, 1), ""));
        kl_store(k, y0, r.y, tl.i);
        kl_store(k, y1, r.y, j1);
        kl_next(k, &tl, NULL);
    }
    if (rot < hd) kl_copy(k, r.y, kl_i64(k, rot), r.x, kl_i64(k, rot), kl_i64(k, hd - rot));
    kl_next(k, &hl, NULL);
    kl_next(k, &rl, NULL);
}
