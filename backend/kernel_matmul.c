/* kernel_matmul.c — MATMUL, its fused forms LINEAR and GATED_LINEAR, and the two inner
 * products attention shares with it.
 *
 * y[.., m, n] = sum_k a[.., m, k] * b[.., k, n] (tb = 1: b stored [.., n, k]). The leading
 * (batch) axes broadcast as in numpy, statically: an operand's leading axis is broadcast
 * when it lacks it or has the constant extent 1.
 *
 * Prefill and encoders (M >= 4 rows, tb = 1: M >= 8; chosen at run time by M) take the
 * register-blocked product, "the tiles": for each panel of C vectors of columns, B's piece is
 * packed into a stack buffer P (kc, C*vw) — tb = 0 row pieces copied, tb = 1 transposed by
 * vw x vw blocks of shuffles — then every tile of R = 6 rows x C vectors
 * of y runs over it with its R*C accumulators in registers: per k, C vector loads of P each
 * feed R FMAs, R broadcasts of a each feed C FMAs (C = 4 with 32 vector registers: AVX-512,
 * AArch64; 2 with 16: AVX2, SSE2). Row remainders take one tile each of 4, 2 and 1 rows;
 * column remainders single vectors, then single columns. P is 256 KB (L2): when K may exceed
 * its depth KC, k is cut in blocks of KC and the partial sums wait in y between them. Packing
 * is per call (weights are not repacked at compile time); it costs one pass over B per panel
 * against M/6 tiles reading it. bench/gemm.sh: 1.01-1.36x OpenBLAS sgemm on GPT-2's shapes,
 * M = 128 and 512, both layouts (2026-12-08); 0.06-0.22x before.
 *
 * Decode (fewer rows), for each batch index:
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
 * in the worst case (the tests see ~1e-7 relative to sum |a*b|). In the tiles and in tb = 0's
 * rows every element is the chain of fmuladd over k ascending from +0 (stored in f32 between
 * depth blocks, which changes nothing): the same bits whatever tile, share or path it falls
 * in. tb = 1's dot products sum in another order; a matrix takes one path or the other as a
 * whole (by M), so shares still agree bit for bit.
 *
 * The epilogue (LINEAR, GATED_LINEAR; pass fuse-epilogue) is applied to each finished sum
 * as it is stored: act(sum + bias) [* up] + residual, each step one IEEE operation (the
 * activation as kernel_elementwise.c computes it), in the order of the unfused chain. With
 * tb = 0 all of it happens in registers; with tb = 1 the activation and what follows run as
 * a vector pass over the row just stored (see "the rows"). A gated node sweeps its rows
 * twice, y = act(x·gate), then y = y * (x·up) + residual (see Epi). MATMUL is the case of no
 * epilogue: the same code. In the tiles all of it happens in registers, both layouts, at the
 * last depth block; a gated node whose K may exceed KC keeps the rows (its second sweep reads
 * the gate's results from y, where the partial sums would go).
 *
 * Shares (the contract's part, parts): in every batch matrix, the rows of y when there are
 * at least MM_ROWS_PER_PART per part (prefill), else the columns (decode, M = 1) in chunks
 * of a panel (KM_PANEL vectors, tb = 0) or a vector (tb = 1), so a column keeps the panel,
 * vector or scalar code it has with one part. No share ever splits the sum over k. The
 * tiles work on whatever rows and columns the share gives (each part packs its own P). */
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

/* ---- the register-blocked product (M >= MM_BLOCK_ROWS_*) ------------------------------ */

/* Rows of y from which a matrix takes the tiles (fewer: the rows above). Packing is a pass
 * over B per panel that the rows must pay for; tb = 1's is a transposition, dearer than
 * tb = 0's copy, hence more rows. Both thresholds are judgement, not measured. */
enum { MM_BLOCK_ROWS_TB0 = 4, MM_BLOCK_ROWS_TB1 = 8 };
/* Floats of the packed panel of B: KC x W, 256 KB, which stays in L2 while every row tile
 * of the share streams it. */
enum { MM_PACK_FLOATS = 65536 };

/* A tile of R rows x C vectors of y in registers. With 32 vector registers (AVX-512,
 * AArch64 NEON or SVE): 6 x 4 = 24 accumulators, 4 vectors of B and the broadcast element
 * of a; with 16 (AVX2, SSE2): 6 x 2 = 12 accumulators, 2 of B, one broadcast. */
static void tile_shape(K *k, int *R, int *C)
{
    const char *t = k->cg->triple ? k->cg->triple : "";
    int regs32 = k->vw >= 16 || strncmp(t, "aarch64", 7) == 0 || strncmp(t, "arm64", 5) == 0;
    *R = 6;
    *C = regs32 ? 4 : 2;
}

typedef struct Blk {
    const Mat *mt;
    Epi *e;
    int tb, R, C;
    LLVMValueRef P;                     /* the packed panel: (kc, W) of B's columns, row-major */
    int64_t KC;                         /* the depth of a panel */
    int kblocked;                       /* K may exceed KC: partial sums wait in y */
    LLVMValueRef pc, kc, first, last;   /* this panel's depth [pc, pc + kc); first and last (i1) */
} Blk;

/* The interleaving of a and b's low halves (hi = 0: [a0 b0 a1 b1 ..]) or high halves. */
static LLVMValueRef interleave(K *k, LLVMValueRef a, LLVMValueRef b, int hi)
{
    int n = k->vw;
    LLVMValueRef m[64];
    for (int i = 0; i < n; i++) m[i] = LLVMConstInt(k->i32, (unsigned long long)((i & 1) * n + hi * n / 2 + i / 2), 0);
    return LLVMBuildShuffleVector(k->b, a, b, LLVMConstVector(m, (unsigned)n), "");
}

/* tb = 1, a vw x vw block: P[kk + t, c - jc + l] = B[c + l, pc + kk + t] for t, l < vw. The
 * vw rows of B are loaded as vectors along k and transposed by log2(vw) rounds of the perfect
 * shuffle (row i of a round: the interleaving of rows i/2 and i/2 + vw/2 of the previous,
 * low halves for even i, high for odd), then stored as vectors along the columns. */
static void pack_block(K *k, const Blk *bk, LLVMValueRef c, LLVMValueRef kk, LLVMValueRef dst, int64_t W)
{
    int n = k->vw;
    LLVMValueRef r[64], t[64];
    for (int l = 0; l < n; l++)
        r[l] = kl_loadf(k, bk->mt->B, kl_add(k, kl_mul(k, kl_add(k, c, kl_i64(k, l)), bk->mt->Kd), kl_add(k, bk->pc, kk)), n);
    for (int w = 1; w < n; w *= 2) {
        for (int i = 0; i < n; i++) t[i] = interleave(k, r[i / 2], r[i / 2 + n / 2], i & 1);
        memcpy(r, t, sizeof(LLVMValueRef) * (size_t)n);
    }
    for (int j = 0; j < n; j++) kl_store(k, r[j], bk->P, kl_add(k, kl_mul(k, kl_add(k, kk, kl_i64(k, j)), kl_i64(k, W)), dst));
}

/* P[kk, 0 .. nv*lanes) = B[pc + kk, jc .. jc + nv*lanes) for kk < kc. tb = 1 transposes:
 * B[jc .., pc + kk], by vw x vw blocks while whole vectors of depth remain, then element by
 * element. */
static void pack(K *k, const Blk *bk, LLVMValueRef jc, int nv, int lanes)
{
    const Mat *mt = bk->mt;
    int64_t W = (int64_t)nv * lanes;
    LLVMValueRef k0 = kl_i64(k, 0);
    if (bk->tb && lanes > 1) {
        KLoop bl;
        kl_for(k, &bl, k0, bk->kc, lanes, 0, NULL);
        for (int v = 0; v < nv; v++)
            pack_block(k, bk, kl_add(k, jc, kl_i64(k, (int64_t)v * lanes)), bl.i, kl_i64(k, (int64_t)v * lanes), W);
        kl_next(k, &bl, NULL);
        k0 = bl.i;
    }
    KLoop kl;
    kl_for(k, &kl, k0, bk->kc, 1, 0, NULL);
    LLVMValueRef kk = kl_add(k, bk->pc, kl.i), dst = kl_mul(k, kl.i, kl_i64(k, W));
    for (int v = 0; v < nv; v++) {
        LLVMValueRef c = kl_add(k, jc, kl_i64(k, (int64_t)v * lanes)), x;
        if (!bk->tb) {
            x = kl_loadf(k, mt->B, kl_add(k, kl_mul(k, kk, mt->N), c), lanes);
        } else if (lanes == 1) {
            x = kl_loadf(k, mt->B, kl_add(k, kl_mul(k, c, mt->Kd), kk), 1);
        } else {
            x = LLVMGetPoison(kl_vec(k, k->f32, lanes));
            for (int l = 0; l < lanes; l++) {
                LLVMValueRef row = kl_add(k, c, kl_i64(k, l));
                LLVMValueRef el = kl_loadf(k, mt->B, kl_add(k, kl_mul(k, row, mt->Kd), kk), 1);
                x = LLVMBuildInsertElement(k->b, x, el, LLVMConstInt(k->i32, (unsigned long long)l, 0), "");
            }
        }
        kl_store(k, x, bk->P, kl_add(k, dst, kl_i64(k, (int64_t)v * lanes)));
    }
    kl_next(k, &kl, NULL);
}

/* The tile y[i .. i+rows, jc .. jc + nv*lanes) over this panel's depth: rows x nv
 * accumulators; each step loads nv vectors of P (each feeding `rows` FMAs) and broadcasts
 * `rows` elements of a (each feeding nv FMAs). Every sum is the chain fmuladd over k
 * ascending from +0, stored in f32 between panels: the same bits in whatever tile, share
 * or panel an element falls. */
static void micro(K *k, const Blk *bk, LLVMValueRef i, int rows, LLVMValueRef jc, int nv, int lanes)
{
    const Mat *mt = bk->mt;
    Epi *e = bk->e;
    int64_t W = (int64_t)nv * lanes;
    int na = rows * nv;
    LLVMValueRef acc[KL_MAX_CARRY], next[KL_MAX_CARRY], arow[8], yrow[8], rrow[8], zero = kl_f32(k, 0, lanes);
    KILN_ASSERT(rows <= 8 && na <= KL_MAX_CARRY);
    for (int r = 0; r < rows; r++) {
        LLVMValueRef row = kl_add(k, i, kl_i64(k, r));
        arow[r] = kl_gep(k, k->f32, mt->A, kl_add(k, kl_mul(k, row, mt->Kd), bk->pc));
        yrow[r] = kl_gep(k, k->f32, mt->Y, kl_mul(k, row, mt->N));
        rrow[r] = mt->R ? kl_gep(k, k->f32, mt->R, kl_mul(k, row, mt->N)) : NULL;
        for (int v = 0; v < nv; v++) {
            LLVMValueRef c = kl_add(k, jc, kl_i64(k, (int64_t)v * lanes));
            acc[r * nv + v] = bk->kblocked ? LLVMBuildSelect(k->b, bk->first, zero, kl_loadf(k, yrow[r], c, lanes), "") : zero;
        }
    }
    KLoop kl;
    kl_for(k, &kl, kl_i64(k, 0), bk->kc, 1, na, acc);
    LLVMValueRef b[8], at = kl_mul(k, kl.i, kl_i64(k, W));
    for (int v = 0; v < nv; v++) b[v] = kl_loadf(k, bk->P, kl_add(k, at, kl_i64(k, (int64_t)v * lanes)), lanes);
    for (int r = 0; r < rows; r++) {
        LLVMValueRef s = kl_splat(k, kl_loadf(k, arow[r], kl.i, 1), lanes);
        for (int v = 0; v < nv; v++) next[r * nv + v] = kl_fmuladd(k, s, b[v], kl.v[r * nv + v]);
    }
    kl_next(k, &kl, next);
    KIf f;
    if (bk->kblocked) kl_if(k, &f, bk->last);
    for (int r = 0; r < rows; r++) {
        e->yrow = yrow[r];
        e->rrow = rrow[r];
        for (int v = 0; v < nv; v++) epi_store(k, e, kl.v[r * nv + v], kl_add(k, jc, kl_i64(k, (int64_t)v * lanes)), lanes);
    }
    if (!bk->kblocked) return;
    kl_else(k, &f);
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nv; v++) kl_store(k, kl.v[r * nv + v], yrow[r], kl_add(k, jc, kl_i64(k, (int64_t)v * lanes)));
    kl_endif(k, &f);
}

/* Rows [r0, r1) against one panel: tiles of R rows, then at most one each of 4, 2 and 1. */
static void tiles(K *k, const Blk *bk, LLVMValueRef r0, LLVMValueRef r1, LLVMValueRef jc, int nv, int lanes)
{
    int sizes[4] = { bk->R, 4, 2, 1 };
    LLVMValueRef i = r0;
    for (int t = 0; t < 4; t++) {
        if (t > 0 && sizes[t] >= bk->R) continue;
        KLoop il;
        kl_for(k, &il, i, r1, sizes[t], 0, NULL);
        micro(k, bk, il.i, sizes[t], jc, nv, lanes);
        kl_next(k, &il, NULL);
        i = il.i;
    }
}

/* A static alloca of n floats, 64-byte aligned, in the entry block (one stack slot, not
 * one per loop trip). Where LLVM inlines the kernel, the inliner marks the slot's lifetime
 * and the copies share one. Marking the kernel noinline instead cost GPT-2 decode (M = 1,
 * which never touches the panel) 10-20 % of its tokens/s; as it is, decode measures even with
 * the kernels before tiling (6 interleaved rounds each, 2026-12-08). */
static LLVMValueRef entry_floats(K *k, int64_t n)
{
    LLVMBuilderRef b = LLVMCreateBuilderInContext(k->cg->ctx);
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(k->fn);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first) LLVMPositionBuilderBefore(b, first);
    else LLVMPositionBuilderAtEnd(b, entry);
    LLVMValueRef a = LLVMBuildAlloca(b, LLVMArrayType2(k->f32, (uint64_t)n), "panel");
    LLVMSetAlignment(a, 64);
    LLVMDisposeBuilder(b);
    return a;
}

/* The largest value of K (the inner dimension) this kernel can see. */
static int64_t k_max(K *k)
{
    const Node *a = k->n->in[0];
    Dim d = a->shape.d[a->shape.rank - 1];
    if (dim_is_const(d)) return d.k;
    return k->cg->m ? kl_dim_max(k->cg->m, d) : INT64_MAX;
}

/* This part's rows [sh0, sh1) and columns [sh2, sh3), in e's phase, blocked: for each panel
 * of columns (C vectors, then single vectors, then single columns) and each depth block of
 * KC, B's piece is packed into P, then every row tile of the share runs over it. */
static void over_tiles(K *k, Blk *bk, const LLVMValueRef *sh)
{
    const Mat *mt = bk->mt;
    LLVMValueRef c0 = sh[2];
    for (int pass = 0; pass < 3; pass++) {
        int lanes = pass == 2 ? 1 : k->vw, nv = pass == 0 ? bk->C : 1;
        KLoop cl, pl;
        kl_for(k, &cl, c0, sh[3], (int64_t)lanes * nv, 0, NULL);
        if (bk->kblocked) {     /* at least one block, also when K = 0 */
            LLVMValueRef K1 = kl_smax(k, mt->Kd, kl_i64(k, 1));
            kl_for(k, &pl, kl_i64(k, 0), kl_add(k, K1, kl_i64(k, bk->KC - 1)), bk->KC, 0, NULL);
            bk->pc = pl.i;
            bk->kc = kl_smin(k, kl_i64(k, bk->KC), kl_sub(k, mt->Kd, pl.i));
            bk->first = LLVMBuildICmp(k->b, LLVMIntEQ, pl.i, kl_i64(k, 0), "first");
            bk->last = LLVMBuildICmp(k->b, LLVMIntSGE, kl_add(k, pl.i, kl_i64(k, bk->KC)), mt->Kd, "last");
        } else {
            bk->pc = kl_i64(k, 0);
            bk->kc = mt->Kd;
        }
        pack(k, bk, cl.i, nv, lanes);
        tiles(k, bk, sh[0], sh[1], cl.i, nv, lanes);
        if (bk->kblocked) kl_next(k, &pl, NULL);
        kl_next(k, &cl, NULL);
        c0 = cl.i;
    }
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

/* The depth KC of a panel of W columns, and whether K may exceed it (blocks over k). */
static int64_t panel_depth(K *k, int64_t W, int *kblocked)
{
    int64_t kc = MM_PACK_FLOATS / W, kmax = k_max(k);
    *kblocked = kmax > kc;
    return *kblocked ? kc : kmax > 0 ? kmax : 1;
}

/* The whole node, every batch matrix and (gated) both sweeps: by rows (over_rows), or by
 * tiles (over_tiles). */
static void emit_matmul(K *k, int tiled)
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
    Epi e;
    epi_init(k, &e);
    Blk bk = { NULL, &e, tb, 0, 0, NULL, 0, 0, NULL, NULL, NULL, NULL };
    if (tiled) {
        tile_shape(k, &bk.R, &bk.C);
        int64_t W = (int64_t)bk.C * k->vw;
        bk.KC = panel_depth(k, W, &bk.kblocked);
        bk.P = entry_floats(k, bk.KC * W);
    }

    KLoop lead[IR_MAX_RANK];
    LLVMValueRef idx[IR_MAX_RANK];
    kl_nest(k, lead, lr, yd, idx);
    LLVMValueRef oa = kl_i64(k, 0), ob = kl_i64(k, 0), oy = kl_i64(k, 0);
    for (int i = 0; i < lr; i++) {
        oa = kl_add(k, oa, kl_mul(k, idx[i], sa[i]));
        ob = kl_add(k, ob, kl_mul(k, idx[i], sb[i]));
        oy = kl_add(k, kl_mul(k, oy, yd[i]), idx[i]);
    }
    Mat mt = { kl_gep(k, k->f32, k->x[0], oa), kl_gep(k, k->f32, k->x[1], ob), kl_gep(k, k->f32, k->y, kl_mul(k, oy, mn)),
               e.res ? kl_gep(k, k->f32, e.res, kl_mul(k, oy, mn)) : NULL, Kd, N };
    bk.mt = &mt;
    for (e.phase = 1; e.phase <= 1 + e.gated; e.phase++) {
        if (e.phase == 2) mt.B = kl_gep(k, k->f32, k->x[2], ob);   /* up: shaped like the gate */
        if (tiled) over_tiles(k, &bk, sh);
        else over_rows(k, &e, &mt, sh, tb);
    }
    kl_unnest(k, lead, lr);
}

void kern_matmul(K *k)
{
    const Node *n = k->n;
    int tb = (int)ir_attr_int(n, A_tb, 0), R, C, kblocked;
    tile_shape(k, &R, &C);
    panel_depth(k, (int64_t)C * k->vw, &kblocked);
    /* a gated node's second sweep reads the gate's results from y: no partial sums there */
    if (n->op == OP_GATED_LINEAR && kblocked) {
        emit_matmul(k, 0);
        return;
    }
    LLVMValueRef M = kl_dim(k, n->shape.d[n->shape.rank - 2]);
    KIf f;
    kl_if(k, &f, LLVMBuildICmp(k->b, LLVMIntSGE, M, kl_i64(k, tb ? MM_BLOCK_ROWS_TB1 : MM_BLOCK_ROWS_TB0), "tiled"));
    emit_matmul(k, 1);
    kl_else(k, &f);
    emit_matmul(k, 0);
    kl_endif(k, &f);
}
