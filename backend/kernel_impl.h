/* kernel_impl.h — shared by the kernel files of the backend (kernels.c, kernel_*.c) only.
 *
 * A kernel is emitted by one function per op family (kern_* below) into a fresh LLVM
 * function that follows the contract of backend_impl.h:
 *     void k(ptr y, ptr x0, ptr x1, ptr x2, ptr x3, ptr syms, ptr aux, i64 part, i64 parts)
 * and computes only its part's share of the output, found with kl_share / kl_share_rows.
 * Those functions build their loops with the small helper layer of kernel_loops.c (kl_*):
 * counted loops with phi nodes, vector loads and stores (alignment 4), a vector loop with
 * its scalar remainder written once for both widths, reductions with several vector
 * accumulators, box copies. Every value that can be a vector or a scalar is built by the
 * same code with `lanes` = cg->vw or 1, so the remainder loops are the same arithmetic as
 * the vector loops, one lane wide. Index arithmetic is i64 everywhere. */
#ifndef KILN_KERNEL_IMPL_H
#define KILN_KERNEL_IMPL_H

#include "backend/backend_impl.h"

/* The function being emitted. */
typedef struct K {
    Cg *cg;
    LLVMBuilderRef b;           /* a builder of our own: the caller's cg->b keeps its place */
    LLVMValueRef fn;
    const Node *n;
    LLVMValueRef y, x[IR_MAX_INPUTS], syms, aux;    /* the parameters */
    LLVMValueRef part, parts;                       /* i64: this call's share (backend_impl.h) */
    int vw;                     /* f32 lanes of a vector (cg->vw) */
    LLVMTypeRef f32, f64, i1, i32, i64, ptr;
} K;

/* ---- integers, dims and constants (kernel_loops.c) ---------------------------------- */

LLVMValueRef kl_i64(K *k, int64_t v);
LLVMValueRef kl_add(K *k, LLVMValueRef a, LLVMValueRef b);      /* i64, nsw */
LLVMValueRef kl_sub(K *k, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef kl_mul(K *k, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef kl_sdiv(K *k, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef kl_smin(K *k, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef kl_smax(K *k, LLVMValueRef a, LLVMValueRef b);
/* The value of d: its constant plus the symbols' values loaded from syms (i64). */
LLVMValueRef kl_dim(K *k, Dim d);
void kl_shape(K *k, const Shape *s, LLVMValueRef *out);
/* Product of d[from..to), 1 when empty. */
LLVMValueRef kl_prod(K *k, const LLVMValueRef *d, int from, int to);
/* The normalized axis attribute of the node for a tensor of rank r. */
int kl_axis(K *k, int rank);
/* The largest value d can take: every symbol at its maximum (state extents, scratch). */
int64_t kl_dim_max(const Module *m, Dim d);

/* ---- shares of the work (the contract's part, parts) ------------------------------------ */

/* This part's share [*lo, *hi) of n items cut in chunks of `align` items: part p gets
 * chunks [p c, (p+1) c), c = ceil(ceil(n / align) / parts), clipped to n; so lo is a
 * multiple of align and hi is too unless it is n. Late parts may get empty shares. */
void kl_share(K *k, LLVMValueRef n, int64_t align, LLVMValueRef *lo, LLVMValueRef *hi);
/* This part's share of `rows` rows of `inner` items each: sh[0..2) its rows, sh[2..4) the
 * items of each of those rows. Whole rows (rows shared, items [0, inner)) when there are at
 * least min_rows rows per part or a row is a single chunk; otherwise every row's items are
 * shared in chunks of align (kl_share) and every part runs over all rows. */
void kl_share_rows(K *k, LLVMValueRef rows, LLVMValueRef inner, int64_t align, int64_t min_rows, LLVMValueRef *sh);
/* The indexes idx[0..n) of row-major axes of extents ext[0..n) at flat index r. */
void kl_unflatten(K *k, LLVMValueRef r, const LLVMValueRef *ext, int n, LLVMValueRef *idx);

/* ---- values that are vectors of `lanes` elements, or scalars when lanes == 1 ------------ */

LLVMTypeRef kl_vec(K *k, LLVMTypeRef el, int lanes);
LLVMValueRef kl_f32(K *k, double v, int lanes);                 /* a constant, splatted */
LLVMValueRef kl_splat(K *k, LLVMValueRef s, int lanes);
/* <j, j+1, ..., j+lanes-1> (i64), or j. */
LLVMValueRef kl_iota(K *k, LLVMValueRef j, int lanes);
/* &base[idx], elements of type el. */
LLVMValueRef kl_gep(K *k, LLVMTypeRef el, LLVMValueRef base, LLVMValueRef idx);
/* lanes elements of type el at base[idx] (alignment 4: rows need not be vector-aligned). */
LLVMValueRef kl_load(K *k, LLVMTypeRef el, LLVMValueRef base, LLVMValueRef idx, int lanes);
LLVMValueRef kl_loadf(K *k, LLVMValueRef base, LLVMValueRef idx, int lanes);
void kl_store(K *k, LLVMValueRef v, LLVMValueRef base, LLVMValueRef idx);

/* ---- arithmetic ---------------------------------------------------------------------- */

/* a * b + c as llvm.fmuladd: one instruction where the target fuses (TOOLCHAIN.md trap 5). */
LLVMValueRef kl_fmuladd(K *k, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c);
/* An intrinsic overloaded on the type of its first argument: "llvm.exp", "llvm.sqrt",
 * "llvm.maxnum", "llvm.sin" ... */
LLVMValueRef kl_intr(K *k, const char *name, LLVMValueRef a, LLVMValueRef b);
/* A libm function of one argument, float(float) ("tanhf") or double(double) ("erfc") as x's
 * elements are, applied lane by lane to a vector. */
LLVMValueRef kl_libm(K *k, const char *name, LLVMValueRef x);
/* e^x of f32 x (vector or scalar) in vector instructions, no call: x = n ln2 + r with
 * |r| <= ln2/2, Cephes' degree-7 polynomial for e^r, times 2^n built in the exponent bits.
 * Within 1.01 ulp of e^x for every float -87.3 < x <= 88 (8.5e-8 relative; checked with
 * FMA), exactly 1 at 0; 0 below -87.3 (results under FLT_MIN flush to zero) and at -inf;
 * NaN stays NaN. */
LLVMValueRef kl_exp(K *k, LLVMValueRef x);
/* Horizontal sum (llvm.vector.reduce.fadd with reassoc: a tree, not left to right) and
 * maximum of a vector; the scalar itself when it is one. */
LLVMValueRef kl_hsum(K *k, LLVMValueRef v);
LLVMValueRef kl_hmax(K *k, LLVMValueRef v);

/* ---- control flow ---------------------------------------------------------------------- */

enum { KL_MAX_CARRY = 32 };     /* a register tile of the matmul: up to 8 x 4 vectors */

/* for (i = lo; i + step <= hi; i += step) with values carried around the loop in phis.
 * After kl_for the builder is in the body and v[] are the values of this iteration; after
 * kl_next it is after the loop, i is the first index not run and v[] the final values. */
typedef struct KLoop {
    LLVMBasicBlockRef head, body, exit;
    LLVMValueRef i, step;
    int n;
    LLVMValueRef v[KL_MAX_CARRY];
} KLoop;
void kl_for(K *k, KLoop *l, LLVMValueRef lo, LLVMValueRef hi, int64_t step, int n, const LLVMValueRef *init);
void kl_next(K *k, KLoop *l, const LLVMValueRef *next);

/* Nested loops i[0] < ext[0], ..., i[n-1] < ext[n-1] (outermost first), step 1. */
void kl_nest(K *k, KLoop *loops, int n, const LLVMValueRef *ext, LLVMValueRef *idx);
void kl_unnest(K *k, KLoop *loops, int n);

typedef struct KIf {
    LLVMBasicBlockRef then, els, join;
} KIf;
void kl_if(K *k, KIf *f, LLVMValueRef cond);    /* builder in the then-branch */
void kl_else(K *k, KIf *f);                     /* builder in the else-branch */
void kl_endif(K *k, KIf *f);                    /* builder after both */

/* body(j, lanes) for j in [lo, hi): vectors of vw lanes while they fit, then single lanes. */
typedef void (*KBody)(K *k, void *ctx, LLVMValueRef j, int lanes);
void kl_vloop(K *k, LLVMValueRef lo, LLVMValueRef hi, KBody body, void *ctx);

/* A reduction over j in [lo, hi): acc = step(j, lanes, acc). Order: n_acc vector
 * accumulators take turns over blocks of n_acc*vw elements, one accumulator runs over the
 * remaining whole vectors, the accumulators are combined pairwise, reduced horizontally
 * (a tree), then the last elements are added one by one. Sums start at -0, maxima at -inf
 * (maxnum: NaNs are ignored, as the interpreter's `x > m` does). */
typedef enum KRed { KR_SUM, KR_MAX } KRed;
typedef LLVMValueRef (*KStep)(K *k, void *ctx, LLVMValueRef j, int lanes, LLVMValueRef acc);
LLVMValueRef kl_reduce(K *k, KRed op, LLVMValueRef lo, LLVMValueRef hi, int n_acc, KStep step, void *ctx);

/* ---- copies ----------------------------------------------------------------------------- */

/* The element type a value of dtype t has in memory: i32 for DT_I32, f32 for every float
 * (weights are widened to f32 in the blob). */
LLVMTypeRef kl_elem(K *k, DType t);
/* dst[doff .. doff+n) = src[soff .. soff+n), 4-byte elements, not overlapping. */
void kl_copy(K *k, LLVMValueRef dst, LLVMValueRef doff, LLVMValueRef src, LLVMValueRef soff, LLVMValueRef n);
/* Copies this part's share of the box of extents ext[r] at offset soff in src (row-major,
 * extents sdim) to doff in dst (extents ddim). Trailing axes that both sides hold whole are
 * copied as one run; same_tail[i] says whether axis i has the same constant extent in src,
 * dst and box, so that it may join the run. NULL offsets mean 0. The share: split < 0, the
 * rows of the loops around the run, or pieces of the run when they are few (kl_share_rows);
 * split >= 0, only the rows of the first `split` axes, whole (the cache kernel's two copies
 * then give every part the same rows of the state to write and to read back). */
void kl_copy_box(K *k, int r, const LLVMValueRef *ext, LLVMValueRef src, const LLVMValueRef *sdim,
                 const LLVMValueRef *soff, LLVMValueRef dst, const LLVMValueRef *ddim, const LLVMValueRef *doff,
                 const int *same_tail, int split);

/* ---- dot products and row × matrix, shared by matmul and attention (kernel_matmul.c) ---- */

/* sum_j a[j] * b[j] for j < n (f32 pointers), with 4 vector accumulators. */
LLVMValueRef km_dot(K *k, LLVMValueRef a, LLVMValueRef b, LLVMValueRef n);
/* y[c] = sum_j a[j] * B[j * ldb + c] for c0 <= c < c1, j < n: register panels of 4
 * vectors from c0, then 1 vector, then single columns, each accumulated over j (axpy form:
 * a[j] splatted times a row piece of B). c0 must be a multiple of KM_PANEL * vw for a
 * column to get the instructions it gets with c0 = 0 (it does either way in exact
 * arithmetic; the alignment keeps vector and scalar lanes where they were). */
enum { KM_PANEL = 4 };
void km_row_times(K *k, LLVMValueRef a, LLVMValueRef B, LLVMValueRef ldb, LLVMValueRef y, LLVMValueRef n,
                  LLVMValueRef c0, LLVMValueRef c1);
/* The same, handing the finished sums of columns [c, c+lanes), still a register, to store
 * instead of writing them (km_row_times stores them at y[c]): the matmul epilogue. */
typedef void (*KMStore)(K *k, void *ctx, LLVMValueRef sum, LLVMValueRef c, int lanes);
void km_rows_times(K *k, LLVMValueRef a, LLVMValueRef B, LLVMValueRef ldb, LLVMValueRef n, LLVMValueRef c0,
                   LLVMValueRef c1, KMStore store, void *ctx);

/* The unary op `op` of x, lanes wide, as kern_unary computes it (kernel_elementwise.c);
 * gelu_tanh picks GELU's form, value is SCALE's multiplier. */
LLVMValueRef ke_unary(K *k, OpKind op, int gelu_tanh, double value, LLVMValueRef x, int lanes);
/* The activation an `act` attribute names: relu, silu, gelu_tanh, gelu_erf. */
LLVMValueRef ke_activation(K *k, const char *act, LLVMValueRef x, int lanes);

/* Softmax of one row of len (kernel_norm.c); y may be x. An all -inf row gives zeros. */
void kn_softmax_row(K *k, LLVMValueRef x, LLVMValueRef y, LLVMValueRef len);

/* ---- one emitter per op family --------------------------------------------------------- */

void kern_binary(K *k);         /* kernel_elementwise.c: ADD SUB MUL DIV */
void kern_unary(K *k);          /* SCALE GELU RELU SILU SIGMOID TANH */
void kern_matmul(K *k);         /* kernel_matmul.c: MATMUL LINEAR GATED_LINEAR */
void kern_softmax(K *k);        /* kernel_norm.c */
void kern_norm(K *k);           /* LAYERNORM RMSNORM ADD_LAYERNORM ADD_RMSNORM */
void kern_pool(K *k);
void kern_layout(K *k);         /* kernel_layout.c: RESHAPE TRANSPOSE SLICE REPEAT TAKE GATHER */
void kern_state(K *k);          /* CACHE STATE_READ */
void kern_positions(K *k);      /* kernel_position.c: POSITIONS SINUSOID ROPE */
void kern_sinusoid(K *k);
void kern_rope(K *k);
void kern_mask(K *k);           /* kernel_attention.c */
void kern_attention(K *k);

#endif
