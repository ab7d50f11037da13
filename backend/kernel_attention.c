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
 * ATTENTION, flash style: q (B, H, S, D), k and v (B, KH, T, D | DV), query head h reading
 * key/value head h / G, G = H / KH (GQA without copying). k or v may be a KV cache's state
 * itself (B max, KH, T max, D): the first T rows of each (b, kv head) are used, T max apart. The query rows of one (b, kv head)
 * are its G heads times S, ordered (i, g) — i major — and cut in blocks of ATT_ROWS rows
 * (prefill: consecutive queries; decode with G >= ATT_ROWS: the heads sharing a kv head). A
 * block walks the keys in tiles of ATT_TILE, aligned at multiples of ATT_TILE from key 0,
 * only those holding a key that causal and window let some row of the block see, and for
 * each tile:
 *   scores  s (rows, tile) on the stack. A q·k is a dot product over D in vectors (D % vw
 *           tail in lane 0), and the vw partial-sum vectors of vw keys are reduced
 *           together by a transposing tree (pairs of lanes added, log2 vw levels) into one
 *           vector of vw scores; rows go in passes of as many as keep their q in registers,
 *           each pass reading the K tile; times scale in f32; hidden keys -inf;
 *   online  per row: m' = max(m, max s), p = e^(s - m') (kl_exp, vector), l' = l e^(m - m')
 *           + sum p; a row with nothing visible yet uses 0 for m' (e^(-inf) = 0, never
 *           -inf - -inf);
 *   values  y = y e^(m - m') + p · V_tile straight into the output rows (b, h, i, DV), as
 *           km_row_times does: panels of vectors of DV in registers for every row of the
 *           block, each piece of V loaded once for all rows, p splatted.
 * At the end y /= l, or zeros for a row that saw no visible key (l = 0). The only scratch is
 * the scores (ATT_ROWS, ATT_TILE) and (m, l) per row (2 KiB): nothing grows with T or S. The
 * rows left over (fewer than ATT_ROWS, e.g. decode's single row per head without GQA) run
 * the same code one row at a time.
 *
 * A tile ends at T, or at the end of the block's last vector of keys holding one a row
 * sees (the causal diagonal). Against the interpreter (f64 softmax, f64 sums): ≤ 1e-6
 * relative to sum p |v| (tests/backend/test_kernels.c). Speed: bench/attention.c.
 *
 * Shares (the contract's part, parts): attention splits the blocks (B, KH, blocks) —
 * decode gives heads to parts (a kv head's group of heads with GQA). Blocks do not depend
 * on parts, so results are bit-identical to one part; the keys of a row are never split
 * (that would split a reduction: decode with fewer heads than parts leaves parts idle).
 * Mask splits the rows (B, H, Q), or pieces of vw keys of every row when there are fewer
 * than 4 rows per part. */
#include "backend/kernel_impl.h"

#include <math.h>
#include <string.h>

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

enum {
    ATT_TILE = 128,     /* keys per tile: the scores of a tile are the only scratch */
    ATT_ROWS = 4,       /* query rows per block: each K and V tile loaded serves them all */
};

/* A block of query rows of one (b, kv head), and the tile being processed. */
typedef struct Blk {
    int rows;                               /* ATT_ROWS, or 1 for the rows left over */
    LLVMValueRef q[ATT_ROWS], y[ATT_ROWS];  /* each row's query (D) and output (DV) */
    LLVMValueRef lo[ATT_ROWS], hi[ATT_ROWS];/* each row's visible range (vis_range) */
    LLVMValueRef vrow;                      /* valid (T) of batch row b (i32), or NULL */
    LLVMValueRef Kb, Vb;                    /* the kv head's keys (T, D) and values (T, DV) */
    LLVMValueRef T, D, DV, scale;
    LLVMValueRef sc;                        /* (ATT_ROWS, ATT_TILE): scores, then p */
    LLVMValueRef ml;                        /* (ATT_ROWS, 2): running max m, running sum l */
    LLVMValueRef j0, n;                     /* the tile: keys [j0, j0 + n) */
    LLVMValueRef alpha[ATT_ROWS];           /* e^(m - m'): the rescale of the old y and l */
    LLVMValueRef mref;                      /* exp_step: the row's reference max m' */
    LLVMValueRef prow;                      /* exp_step: the row's scores in sc */
} Blk;

/* The index in sc of row r's key j of the tile. */
static LLVMValueRef sc_at(K *k, int r, LLVMValueRef j)
{
    return kl_add(k, kl_i64(k, (int64_t)r * ATT_TILE), j);
}

/* acc[r] += q_r[c .. c+lanes) * krow[c .. c+lanes) for the nr rows from r0 */
static void dot_step(K *k, Blk *bk, int r0, int nr, LLVMValueRef krow, LLVMValueRef c, int lanes, LLVMValueRef *acc)
{
    LLVMValueRef kv = kl_loadf(k, krow, c, lanes);
    for (int r = 0; r < nr; r++) acc[r] = kl_fmuladd(k, kl_loadf(k, bk->q[r0 + r], c, lanes), kv, acc[r]);
}

/* part[r] = a vector whose lanes sum to q_r · k_key for rows [r0, r1): whole vectors of D
 * multiplied and accumulated lane by lane, the last D % vw products summed into lane 0.
 * With D a constant, straight code (no small loops for LLVM to unroll); else a loop. */
static void dot_lanes(K *k, Blk *bk, int r0, int r1, LLVMValueRef key, LLVMValueRef *part)
{
    LLVMValueRef krow = kl_gep(k, k->f32, bk->Kb, kl_mul(k, key, bk->D));     /* (D) */
    LLVMValueRef acc[ATT_ROWS], tail;           /* tail: the first element past the whole vectors */
    int nr = r1 - r0, known = LLVMIsConstant(bk->D);
    int64_t d = known ? LLVMConstIntGetSExtValue(bk->D) : 0;
    for (int r = 0; r < nr; r++) acc[r] = kl_f32(k, 0, k->vw);
    if (known) {
        for (int64_t c = 0; c + k->vw <= d; c += k->vw) dot_step(k, bk, r0, nr, krow, kl_i64(k, c), k->vw, acc);
        tail = kl_i64(k, d - d % k->vw);
    } else {
        KLoop dl;
        kl_for(k, &dl, kl_i64(k, 0), bk->D, k->vw, nr, acc);
        memcpy(acc, dl.v, sizeof acc);
        dot_step(k, bk, r0, nr, krow, dl.i, k->vw, acc);
        kl_next(k, &dl, acc);
        memcpy(acc, dl.v, sizeof acc);
        tail = dl.i;
    }
    for (int r = 0; r < nr; r++) part[r0 + r] = acc[r];
    if (known && d % k->vw == 0) return;
    for (int r = 0; r < nr; r++) acc[r] = kl_f32(k, 0, 1);
    KLoop tl;
    kl_for(k, &tl, tail, bk->D, 1, nr, acc);
    memcpy(acc, tl.v, sizeof acc);
    dot_step(k, bk, r0, nr, krow, tl.i, 1, acc);
    kl_next(k, &tl, acc);
    LLVMValueRef zero = kl_f32(k, 0, k->vw), lane0 = LLVMConstInt(k->i32, 0, 0);
    for (int r = 0; r < nr; r++)
        part[r0 + r] = LLVMBuildFAdd(k->b, part[r0 + r], LLVMBuildInsertElement(k->b, zero, tl.v[r], lane0, ""), "");
}

/* Two vectors of partial sums (a's keys, then b's) to one: lanes 2i and 2i+1 of (a, b)
 * added into lane i, so the keys stay in order and each gets half as many lanes. */
static LLVMValueRef add_pairs(K *k, LLVMValueRef a, LLVMValueRef b)
{
    LLVMValueRef even[64], odd[64];
    for (int i = 0; i < k->vw; i++) {
        even[i] = LLVMConstInt(k->i32, (unsigned long long)(2 * i), 0);
        odd[i] = LLVMConstInt(k->i32, (unsigned long long)(2 * i + 1), 0);
    }
    LLVMValueRef e = LLVMBuildShuffleVector(k->b, a, b, LLVMConstVector(even, (unsigned)k->vw), "");
    LLVMValueRef o = LLVMBuildShuffleVector(k->b, a, b, LLVMConstVector(odd, (unsigned)k->vw), "");
    return LLVMBuildFAdd(k->b, e, o, "");
}

/* dots[r] = <q_r · k_key, q_r · k_key+1, ..., q_r · k_key+vw-1> for rows [r0, r1): the
 * keys' partial-sum vectors merged as they come, like a binary counter (two at the same
 * level are added pairwise), so at most log2 vw + 1 of them are live per row. */
static void dot_group(K *k, Blk *bk, int r0, int r1, LLVMValueRef key, LLVMValueRef *dots)
{
    LLVMValueRef stack[ATT_ROWS][8];
    int level[8], depth = 0;
    for (int e = 0; e < k->vw; e++) {
        LLVMValueRef part[ATT_ROWS];
        dot_lanes(k, bk, r0, r1, kl_add(k, key, kl_i64(k, e)), part);
        for (int r = r0; r < r1; r++) stack[r][depth] = part[r];
        level[depth++] = 0;
        while (depth >= 2 && level[depth - 1] == level[depth - 2]) {
            for (int r = r0; r < r1; r++) stack[r][depth - 2] = add_pairs(k, stack[r][depth - 2], stack[r][depth - 1]);
            level[depth - 2]++;
            depth--;
        }
        KILN_ASSERT(depth < 8);
    }
    KILN_ASSERT(depth == 1);
    for (int r = r0; r < r1; r++) dots[r] = stack[r][0];
}

/* Scores of the tile's keys [g, g + lanes) for rows [r0, r1): scaled, hidden ones -inf,
 * stored to sc; mx[r] (lanes wide) takes their maximum. */
static void score_keys(K *k, Blk *bk, int r0, int r1, LLVMValueRef g, int lanes, LLVMValueRef *mx)
{
    LLVMValueRef key = kl_add(k, bk->j0, g), dots[ATT_ROWS];
    if (lanes == 1) {
        dot_lanes(k, bk, r0, r1, key, dots);
        for (int r = r0; r < r1; r++) dots[r] = kl_hsum(k, dots[r]);
    } else {
        dot_group(k, bk, r0, r1, key, dots);
    }
    for (int r = r0; r < r1; r++) {
        Vis v = { bk->lo[r], bk->hi[r], bk->vrow, NULL, NULL };
        LLVMValueRef s = LLVMBuildFMul(k->b, dots[r], kl_splat(k, bk->scale, lanes), "");
        s = LLVMBuildSelect(k->b, visible(k, &v, key, lanes), s, kl_f32(k, -INFINITY, lanes), "score");
        kl_store(k, s, bk->sc, sc_at(k, r, g));
        mx[r - r0] = kl_intr(k, "llvm.maxnum", mx[r - r0], s);
    }
}

/* The tile's scores of rows [r0, r1) into sc; tmax[r] their maximum (-inf when all are
 * hidden). */
static void tile_scores_rows(K *k, Blk *bk, int r0, int r1, LLVMValueRef *tmax)
{
    LLVMValueRef mx[ATT_ROWS];
    int nr = r1 - r0;
    for (int r = 0; r < nr; r++) mx[r] = kl_f32(k, -INFINITY, k->vw);
    KLoop gl, sl;
    kl_for(k, &gl, kl_i64(k, 0), bk->n, k->vw, nr, mx);
    memcpy(mx, gl.v, sizeof mx);
    score_keys(k, bk, r0, r1, gl.i, k->vw, mx);
    kl_next(k, &gl, mx);
    for (int r = 0; r < nr; r++) mx[r] = kl_hmax(k, gl.v[r]);
    kl_for(k, &sl, gl.i, bk->n, 1, nr, mx);
    memcpy(mx, sl.v, sizeof mx);
    score_keys(k, bk, r0, r1, sl.i, 1, mx);
    kl_next(k, &sl, mx);
    for (int r = 0; r < nr; r++) tmax[r0 + r] = sl.v[r];
}

/* The tile's scores of every row, in passes over the tile of as many rows as keep their
 * query vectors and trees in registers (32 vector registers with vw = 16, else 16; LLVM
 * hoists the query loads out of the loop over keys): each pass reads the K tile again, from
 * cache. At D = 64 with AVX-512, passes of 2 rows; all 4 at once spilled 160 registers per
 * 16 keys and ran at 0.9x the speed (56 against 62 GFLOP/s, bench/attention.c). */
static void tile_scores(K *k, Blk *bk, LLVMValueRef *tmax)
{
    int64_t qv = LLVMIsConstant(bk->D) ? (LLVMConstIntGetSExtValue(bk->D) + k->vw - 1) / k->vw : 4;
    int tree = 1, regs = k->vw >= 16 ? 32 : 16, per = bk->rows;
    for (int w = 1; w < k->vw; w *= 2) tree++;
    while (per > 1 && per * (qv + tree) + qv > regs - 2) per /= 2;
    for (int r = 0; r < bk->rows; r += per) tile_scores_rows(k, bk, r, r + per, tmax);
}

/* p = e^(s - m'); acc += p */
static LLVMValueRef exp_step(K *k, void *ctx, LLVMValueRef j, int lanes, LLVMValueRef acc)
{
    Blk *bk = ctx;
    LLVMValueRef p = kl_exp(k, LLVMBuildFSub(k->b, kl_loadf(k, bk->prow, j, lanes), kl_splat(k, bk->mref, lanes), ""));
    kl_store(k, p, bk->prow, j);
    return LLVMBuildFAdd(k->b, acc, p, "");
}

/* The online softmax step of every row: m' = max(m, tile max), alpha = e^(m - m'),
 * scores to p = e^(s - m') in place, l' = l alpha + sum p. While a row has seen nothing
 * visible, m' = -inf and 0 stands in for it: alpha = p = 0, l stays 0. */
static void tile_softmax(K *k, Blk *bk, const LLVMValueRef *tmax)
{
    for (int r = 0; r < bk->rows; r++) {
        LLVMValueRef pm = kl_gep(k, k->f32, bk->ml, kl_i64(k, 2 * r)), pl = kl_gep(k, k->f32, bk->ml, kl_i64(k, 2 * r + 1));
        LLVMValueRef m = LLVMBuildLoad2(k->b, k->f32, pm, "m"), l = LLVMBuildLoad2(k->b, k->f32, pl, "l");
        LLVMValueRef mn = kl_intr(k, "llvm.maxnum", m, tmax[r]);
        LLVMValueRef none = LLVMBuildFCmp(k->b, LLVMRealOEQ, mn, kl_f32(k, -INFINITY, 1), "");
        bk->mref = LLVMBuildSelect(k->b, none, kl_f32(k, 0, 1), mn, "mref");
        bk->alpha[r] = kl_exp(k, LLVMBuildFSub(k->b, m, bk->mref, ""));
        bk->prow = kl_gep(k, k->f32, bk->sc, kl_i64(k, (int64_t)r * ATT_TILE));
        LLVMValueRef sum = kl_reduce(k, KR_SUM, kl_i64(k, 0), bk->n, 2, exp_step, bk);
        LLVMBuildStore(k->b, mn, pm);
        LLVMBuildStore(k->b, kl_fmuladd(k, l, bk->alpha[r], sum), pl);
    }
}

/* y_r[c..) = y_r[c..) alpha_r + sum_j p_rj V[j0 + j, c..) for columns from c0 in panels of
 * nv vectors of `lanes`, every row's panel in registers over the tile; returns the first
 * column not done. */
static LLVMValueRef tile_values_pass(K *k, Blk *bk, LLVMValueRef c0, int lanes, int nv)
{
    int na = bk->rows * nv;
    KILN_ASSERT(na <= KL_MAX_CARRY);
    KLoop cl, jl;
    kl_for(k, &cl, c0, bk->DV, (int64_t)lanes * nv, 0, NULL);
    LLVMValueRef acc[KL_MAX_CARRY], next[KL_MAX_CARRY], col[4];
    for (int v = 0; v < nv; v++) col[v] = kl_add(k, cl.i, kl_i64(k, (int64_t)v * lanes));
    for (int r = 0; r < bk->rows; r++)
        for (int v = 0; v < nv; v++)
            acc[r * nv + v] = LLVMBuildFMul(k->b, kl_loadf(k, bk->y[r], col[v], lanes), kl_splat(k, bk->alpha[r], lanes), "");
    kl_for(k, &jl, kl_i64(k, 0), bk->n, 1, na, acc);
    LLVMValueRef vrow = kl_gep(k, k->f32, bk->Vb, kl_mul(k, kl_add(k, bk->j0, jl.i), bk->DV));     /* (DV) */
    LLVMValueRef p[ATT_ROWS];
    for (int r = 0; r < bk->rows; r++) p[r] = kl_splat(k, kl_loadf(k, bk->sc, sc_at(k, r, jl.i), 1), lanes);
    for (int v = 0; v < nv; v++) {
        LLVMValueRef x = kl_loadf(k, vrow, col[v], lanes);
        for (int r = 0; r < bk->rows; r++) next[r * nv + v] = kl_fmuladd(k, p[r], x, jl.v[r * nv + v]);
    }
    kl_next(k, &jl, next);
    for (int r = 0; r < bk->rows; r++)
        for (int v = 0; v < nv; v++) kl_store(k, jl.v[r * nv + v], bk->y[r], col[v]);
    kl_next(k, &cl, NULL);
    return cl.i;
}

/* y = y alpha + p · V_tile: panels of vectors (4 with 32 registers, 2 with 16 when 4 rows
 * share them), then single vectors, then single columns. */
static void tile_values(K *k, Blk *bk)
{
    int panel = bk->rows == 1 || k->vw >= 16 ? 4 : 2;
    LLVMValueRef c = tile_values_pass(k, bk, kl_i64(k, 0), k->vw, panel);
    c = tile_values_pass(k, bk, c, k->vw, 1);
    tile_values_pass(k, bk, c, 1, 1);
}

static void zero_body(K *k, void *ctx, LLVMValueRef j, int lanes)
{
    kl_store(k, kl_f32(k, 0, lanes), ctx, j);
}

typedef struct Norm {
    LLVMValueRef y, l, none;
} Norm;

/* y /= l, or 0 when the row saw nothing (l = 0) */
static void norm_body(K *k, void *ctx, LLVMValueRef j, int lanes)
{
    Norm *nm = ctx;
    LLVMValueRef y = LLVMBuildFDiv(k->b, kl_loadf(k, nm->y, j, lanes), kl_splat(k, nm->l, lanes), "");
    kl_store(k, LLVMBuildSelect(k->b, kl_splat(k, nm->none, lanes), kl_f32(k, 0, lanes), y, ""), nm->y, j);
}

/* y = 0, m = -inf, l = 0 for every row of the block */
static void block_start(K *k, Blk *bk)
{
    for (int r = 0; r < bk->rows; r++) {
        LLVMBuildStore(k->b, kl_f32(k, -INFINITY, 1), kl_gep(k, k->f32, bk->ml, kl_i64(k, 2 * r)));
        LLVMBuildStore(k->b, kl_f32(k, 0, 1), kl_gep(k, k->f32, bk->ml, kl_i64(k, 2 * r + 1)));
        kl_vloop(k, kl_i64(k, 0), bk->DV, zero_body, bk->y[r]);
    }
}

/* y /= l for every row of the block (zeros where l = 0) */
static void block_finish(K *k, Blk *bk)
{
    for (int r = 0; r < bk->rows; r++) {
        Norm nm;
        nm.y = bk->y[r];
        nm.l = LLVMBuildLoad2(k->b, k->f32, kl_gep(k, k->f32, bk->ml, kl_i64(k, 2 * r + 1)), "l");
        nm.none = LLVMBuildFCmp(k->b, LLVMRealOEQ, nm.l, kl_f32(k, 0, 1), "");
        kl_vloop(k, kl_i64(k, 0), bk->DV, norm_body, &nm);
    }
}

/* The block's rows over the tiles they can see. */
static void attend_block(K *k, Blk *bk)
{
    block_start(k, bk);
    /* tiles [tlo, thi) cover the keys some row sees: [lo of the first row, hi of the last) */
    LLVMValueRef zero = kl_i64(k, 0), tile = kl_i64(k, ATT_TILE);
    LLVMValueRef klo = kl_smax(k, bk->lo[0], zero), khi = kl_smax(k, kl_smin(k, bk->hi[bk->rows - 1], bk->T), zero);
    LLVMValueRef tlo = kl_sdiv(k, klo, tile), thi = kl_sdiv(k, kl_add(k, khi, kl_i64(k, ATT_TILE - 1)), tile);
    KLoop tl;
    kl_for(k, &tl, tlo, thi, 1, 0, NULL);
    bk->j0 = kl_mul(k, tl.i, tile);
    /* the tile's keys: to T, and to the last whole vector holding a key some row sees */
    LLVMValueRef seen = kl_mul(k, kl_sdiv(k, kl_add(k, kl_sub(k, khi, bk->j0), kl_i64(k, k->vw - 1)), kl_i64(k, k->vw)), kl_i64(k, k->vw));
    bk->n = kl_smin(k, kl_smin(k, tile, kl_sub(k, bk->T, bk->j0)), seen);
    LLVMValueRef tmax[ATT_ROWS];
    tile_scores(k, bk, tmax);
    tile_softmax(k, bk, tmax);
    tile_values(k, bk);
    kl_next(k, &tl, NULL);
    block_finish(k, bk);
}

/* The shapes and the place in them of the block being set up. */
typedef struct Att {
    LLVMValueRef H, S, group;       /* group = H / KH: query heads per kv head */
    LLVMValueRef b, kvh;
} Att;

/* Row r of the block is query row rr of (b, kvh) in (i, g) order: head kvh G + g, query i. */
static void set_row(K *k, Blk *bk, const Att *a, int r, LLVMValueRef rr)
{
    LLVMValueRef i = kl_sdiv(k, rr, a->group), g = LLVMBuildSRem(k->b, rr, a->group, "");
    LLVMValueRef h = kl_add(k, kl_mul(k, a->kvh, a->group), g);
    LLVMValueRef row = kl_add(k, kl_mul(k, kl_add(k, kl_mul(k, a->b, a->H), h), a->S), i);     /* of (B, H, S) */
    bk->q[r] = kl_gep(k, k->f32, k->x[0], kl_mul(k, row, bk->D));
    bk->y[r] = kl_gep(k, k->f32, k->y, kl_mul(k, row, bk->DV));
    Vis v;
    vis_range(k, &v, i, a->S, bk->T);
    bk->lo[r] = v.lo;
    bk->hi[r] = v.hi;
}

/* Rows [r0, r1) of (b, kvh): one block of ATT_ROWS, or the last rows of the kv head one
 * at a time. */
static void attend_rows(K *k, Blk *bk, const Att *a, LLVMValueRef r0, LLVMValueRef r1)
{
    KIf f;
    KLoop rl;
    kl_if(k, &f, LLVMBuildICmp(k->b, LLVMIntEQ, kl_sub(k, r1, r0), kl_i64(k, ATT_ROWS), "full"));
    bk->rows = ATT_ROWS;
    for (int r = 0; r < ATT_ROWS; r++) set_row(k, bk, a, r, kl_add(k, r0, kl_i64(k, r)));
    attend_block(k, bk);
    kl_else(k, &f);
    bk->rows = 1;
    kl_for(k, &rl, r0, r1, 1, 0, NULL);
    set_row(k, bk, a, 0, rl.i);
    attend_block(k, bk);
    kl_next(k, &rl, NULL);
    kl_endif(k, &f);
}

void kern_attention(K *k)
{
    const Node *n = k->n;
    /* Heads narrower than the vector (stories260K: D = 8 on AVX-512's 16 lanes) would do
     * every q·k product in the scalar tail: such a kernel uses vectors of the widest power
     * of two lanes within D (at least 4) instead, for all its loops. */
    int vw = k->vw;
    Dim hd = n->in[0]->shape.d[3];
    if (dim_is_const(hd))
        while (k->vw > 4 && k->vw > hd.k) k->vw /= 2;
    LLVMValueRef qd[4], kd[4], vd[4];
    kl_shape(k, &n->in[0]->shape, qd);             /* (B, H, S, D) */
    kl_shape(k, &n->in[1]->shape, kd);             /* (B, KH, T, D) */
    kl_shape(k, &n->in[2]->shape, vd);             /* (B, KH, T, DV) */
    LLVMValueRef KH = kd[1];
    Att a = { qd[1], qd[2], kl_i64(k, n->in[0]->shape.d[1].k / n->in[1]->shape.d[1].k), NULL, NULL };
    Blk bk;
    memset(&bk, 0, sizeof bk);
    bk.T = kd[2];
    bk.D = qd[3];
    bk.DV = vd[3];
    bk.scale = kl_f32(k, (float)ir_attr_float(n, A_scale, 1), 1);
    bk.sc = LLVMBuildAlloca(k->b, LLVMArrayType(k->f32, ATT_ROWS * ATT_TILE), "scores");   /* (ATT_ROWS, ATT_TILE) */
    bk.ml = LLVMBuildAlloca(k->b, LLVMArrayType(k->f32, 2 * ATT_ROWS), "m_l");             /* (ATT_ROWS, 2) */

    /* this part's blocks of the flattened (B, KH, blocks); a kv head has S G query rows */
    LLVMValueRef nrows = kl_mul(k, a.S, a.group);
    LLVMValueRef nblk = kl_sdiv(k, kl_add(k, nrows, kl_i64(k, ATT_ROWS - 1)), kl_i64(k, ATT_ROWS));
    LLVMValueRef lo, hi;
    kl_share(k, kl_mul(k, kl_mul(k, qd[0], KH), nblk), 1, &lo, &hi);
    KLoop ul;
    kl_for(k, &ul, lo, hi, 1, 0, NULL);
    LLVMValueRef bkh = kl_sdiv(k, ul.i, nblk), blk = LLVMBuildSRem(k->b, ul.i, nblk, "");
    a.b = kl_sdiv(k, bkh, KH);
    a.kvh = LLVMBuildSRem(k->b, bkh, KH, "");
    /* a (b, kv head)'s keys and values: T rows, or the state's rows when reading a cache
     * that is a view (cg_kv_view) */
    int64_t kview = cg_kv_view(k->cg, n->in[1]), vview = cg_kv_view(k->cg, n->in[2]);
    LLVMValueRef kstride = kview ? kl_i64(k, kview) : bk.T, vstride = vview ? kl_i64(k, vview) : bk.T;
    bk.Kb = kl_gep(k, k->f32, k->x[1], kl_mul(k, bkh, kl_mul(k, kstride, bk.D)));
    bk.Vb = kl_gep(k, k->f32, k->x[2], kl_mul(k, bkh, kl_mul(k, vstride, bk.DV)));
    bk.vrow = valid_row(k, 3, a.b, bk.T);
    LLVMValueRef r0 = kl_mul(k, blk, kl_i64(k, ATT_ROWS));
    attend_rows(k, &bk, &a, r0, kl_smin(k, kl_add(k, r0, kl_i64(k, ATT_ROWS)), nrows));
    kl_next(k, &ul, NULL);
    k->vw = vw;
}
