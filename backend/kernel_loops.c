/* kernel_loops.c — the small helper layer every kernel is built with.
 *
 * Loops are counted loops in the plain LLVM form: a head block holding the induction
 * variable and the carried values as phi nodes and the exit test `i + step <= hi`, a body,
 * a back edge. A vector loop is such a loop with step vw; its remainder is the same loop
 * with step 1 starting where the first one stopped (the head's phi is the index reached),
 * and the body is written once, for `lanes` = vw or 1 (kl_vloop). Loads and stores of
 * vectors get alignment 4, since rows start anywhere (TOOLCHAIN.md trap 4). Symbolic dims
 * are evaluated from the syms array as the contract says: k + the sum of the symbols'
 * values. Shares (kl_share*) turn the contract's part and parts into index ranges: equal
 * runs of chunks, so a share's bounds are chunk-aligned and its vector loops start where
 * they would with parts = 1. */
#include "backend/kernel_impl.h"

#include <math.h>
#include <string.h>

/* ---- integers and dims -------------------------------------------------------------- */

LLVMValueRef kl_i64(K *k, int64_t v) { return LLVMConstInt(k->i64, (unsigned long long)v, 1); }

LLVMValueRef kl_add(K *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWAdd(k->b, a, b, ""); }
LLVMValueRef kl_sub(K *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWSub(k->b, a, b, ""); }
LLVMValueRef kl_mul(K *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWMul(k->b, a, b, ""); }
LLVMValueRef kl_sdiv(K *k, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSDiv(k->b, a, b, ""); }

LLVMValueRef kl_smin(K *k, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSLT, a, b, ""), a, b, "");
}

LLVMValueRef kl_smax(K *k, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(k->b, LLVMBuildICmp(k->b, LLVMIntSGT, a, b, ""), a, b, "");
}

LLVMValueRef kl_dim(K *k, Dim d)
{
    LLVMValueRef v = kl_i64(k, d.k);
    for (int t = 0; t < IR_DIM_TERMS && d.sym[t]; t++) {
        LLVMValueRef p = kl_gep(k, k->i64, k->syms, kl_i64(k, d.sym[t]));
        LLVMValueRef s = LLVMBuildLoad2(k->b, k->i64, p, k->cg->m ? k->cg->m->syms[d.sym[t]].name : "sym");
        LLVMSetAlignment(s, 8);
        v = d.k == 0 && t == 0 ? s : kl_add(k, v, s);
    }
    return v;
}

void kl_shape(K *k, const Shape *s, LLVMValueRef *out)
{
    for (int i = 0; i < s->rank; i++) out[i] = kl_dim(k, s->d[i]);
}

LLVMValueRef kl_prod(K *k, const LLVMValueRef *d, int from, int to)
{
    LLVMValueRef p = kl_i64(k, 1);
    for (int i = from; i < to; i++) p = LLVMIsConstant(p) && LLVMConstIntGetSExtValue(p) == 1 ? d[i] : kl_mul(k, p, d[i]);
    return p;
}

int kl_axis(K *k, int rank)
{
    int64_t a = ir_attr_int(k->n, A_axis, 0);
    if (a < 0) a += rank;
    KILN_ASSERT(a >= 0 && a < rank);
    return (int)a;
}

int64_t kl_dim_max(const Module *m, Dim d)
{
    int64_t v = d.k;
    for (int t = 0; t < IR_DIM_TERMS && d.sym[t]; t++) v += m->syms[d.sym[t]].max;
    return v;
}

/* ---- shares ------------------------------------------------------------------------------ */

void kl_share(K *k, LLVMValueRef n, int64_t align, LLVMValueRef *lo, LLVMValueRef *hi)
{
    KILN_ASSERT(align >= 1);
    LLVMValueRef a = kl_i64(k, align);
    LLVMValueRef chunks = kl_sdiv(k, kl_add(k, n, kl_i64(k, align - 1)), a);
    LLVMValueRef per = kl_sdiv(k, kl_add(k, chunks, kl_sub(k, k->parts, kl_i64(k, 1))), k->parts);
    LLVMValueRef size = kl_mul(k, per, a);
    LLVMValueRef l = kl_smin(k, kl_mul(k, k->part, size), n);
    LLVMValueRef h = kl_smin(k, kl_add(k, l, size), n);
    /* parts = 1 is [0, n) by construction; said outright, it folds where the kernel is
     * inlined into a direct call (LLVM cannot prove n >= 0 or ceil(n/a)*a >= n) */
    LLVMValueRef whole = LLVMBuildICmp(k->b, LLVMIntEQ, k->parts, kl_i64(k, 1), "whole");
    *lo = LLVMBuildSelect(k->b, whole, kl_i64(k, 0), l, "lo");
    *hi = LLVMBuildSelect(k->b, whole, n, h, "hi");
}

void kl_share_rows(K *k, LLVMValueRef rows, LLVMValueRef inner, int64_t align, int64_t min_rows, LLVMValueRef *sh)
{
    LLVMValueRef rlo, rhi, clo, chi, zero = kl_i64(k, 0);
    kl_share(k, rows, 1, &rlo, &rhi);
    kl_share(k, inner, align, &clo, &chi);
    LLVMValueRef many = LLVMBuildICmp(k->b, LLVMIntSGE, rows, kl_mul(k, k->parts, kl_i64(k, min_rows)), "");
    LLVMValueRef one = LLVMBuildICmp(k->b, LLVMIntSLE, inner, kl_i64(k, align), "");
    LLVMValueRef by_rows = LLVMBuildOr(k->b, many, one, "by_rows");
    sh[0] = LLVMBuildSelect(k->b, by_rows, rlo, zero, "");
    sh[1] = LLVMBuildSelect(k->b, by_rows, rhi, rows, "");
    sh[2] = LLVMBuildSelect(k->b, by_rows, zero, clo, "");
    sh[3] = LLVMBuildSelect(k->b, by_rows, inner, chi, "");
}

void kl_unflatten(K *k, LLVMValueRef r, const LLVMValueRef *ext, int n, LLVMValueRef *idx)
{
    for (int i = n - 1; i > 0; i--) {
        idx[i] = LLVMBuildSRem(k->b, r, ext[i], "");
        r = kl_sdiv(k, r, ext[i]);
    }
    if (n > 0) idx[0] = r;
}

/* ---- vectors and memory --------------------------------------------------------------- */

LLVMTypeRef kl_vec(K *k, LLVMTypeRef el, int lanes)
{
    (void)k;
    return lanes == 1 ? el : LLVMVectorType(el, (unsigned)lanes);
}

LLVMValueRef kl_f32(K *k, double v, int lanes)
{
    LLVMValueRef s = LLVMConstReal(k->f32, v);
    if (lanes == 1) return s;
    LLVMValueRef e[64];
    KILN_ASSERT(lanes <= 64);
    for (int i = 0; i < lanes; i++) e[i] = s;
    return LLVMConstVector(e, (unsigned)lanes);
}

LLVMValueRef kl_splat(K *k, LLVMValueRef s, int lanes)
{
    if (lanes == 1) return s;
    LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(s), (unsigned)lanes);
    LLVMValueRef v = LLVMBuildInsertElement(k->b, LLVMGetPoison(vt), s, LLVMConstInt(k->i32, 0, 0), "");
    LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(k->i32, (unsigned)lanes));
    return LLVMBuildShuffleVector(k->b, v, LLVMGetPoison(vt), zeros, "");
}

LLVMValueRef kl_iota(K *k, LLVMValueRef j, int lanes)
{
    if (lanes == 1) return j;
    LLVMValueRef e[64];
    KILN_ASSERT(lanes <= 64);
    for (int i = 0; i < lanes; i++) e[i] = kl_i64(k, i);
    return LLVMBuildNSWAdd(k->b, kl_splat(k, j, lanes), LLVMConstVector(e, (unsigned)lanes), "");
}

LLVMValueRef kl_gep(K *k, LLVMTypeRef el, LLVMValueRef base, LLVMValueRef idx)
{
    return LLVMBuildInBoundsGEP2(k->b, el, base, &idx, 1, "");
}

LLVMValueRef kl_load(K *k, LLVMTypeRef el, LLVMValueRef base, LLVMValueRef idx, int lanes)
{
    LLVMValueRef v = LLVMBuildLoad2(k->b, kl_vec(k, el, lanes), kl_gep(k, el, base, idx), "");
    LLVMSetAlignment(v, 4);
    return v;
}

LLVMValueRef kl_loadf(K *k, LLVMValueRef base, LLVMValueRef idx, int lanes)
{
    return kl_load(k, k->f32, base, idx, lanes);
}

void kl_store(K *k, LLVMValueRef v, LLVMValueRef base, LLVMValueRef idx)
{
    LLVMTypeRef t = LLVMTypeOf(v);
    LLVMTypeRef el = LLVMGetTypeKind(t) == LLVMVectorTypeKind ? LLVMGetElementType(t) : t;
    LLVMValueRef s = LLVMBuildStore(k->b, v, kl_gep(k, el, base, idx));
    LLVMSetAlignment(s, 4);
}

/* ---- arithmetic ---------------------------------------------------------------------- */

static LLVMValueRef call(K *k, LLVMValueRef fn, LLVMValueRef *args, unsigned n)
{
    return LLVMBuildCall2(k->b, LLVMGlobalGetValueType(fn), fn, args, n, "");
}

LLVMValueRef kl_fmuladd(K *k, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
    LLVMTypeRef t = LLVMTypeOf(a);
    LLVMValueRef args[3] = { a, b, c };
    return call(k, cg_intrinsic(k->cg, "llvm.fmuladd", &t, 1), args, 3);
}

LLVMValueRef kl_intr(K *k, const char *name, LLVMValueRef a, LLVMValueRef b)
{
    LLVMTypeRef t = LLVMTypeOf(a);
    LLVMValueRef args[2] = { a, b };
    return call(k, cg_intrinsic(k->cg, name, &t, 1), args, b ? 2 : 1);
}

LLVMValueRef kl_libm(K *k, const char *name, LLVMValueRef x)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMTypeRef el = LLVMGetTypeKind(t) == LLVMVectorTypeKind ? LLVMGetElementType(t) : t;
    LLVMValueRef fn = LLVMGetNamedFunction(k->cg->mod, name);
    if (!fn) {
        LLVMTypeRef ft = LLVMFunctionType(el, &el, 1, 0);
        fn = LLVMAddFunction(k->cg->mod, name, ft);
        unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
        LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(k->cg->ctx, nounwind, 0));
    }
    KILN_ASSERT(LLVMGetReturnType(LLVMGlobalGetValueType(fn)) == el);
    if (LLVMGetTypeKind(t) != LLVMVectorTypeKind) return call(k, fn, &x, 1);
    LLVMValueRef v = LLVMGetPoison(t);
    for (unsigned i = 0; i < LLVMGetVectorSize(t); i++) {
        LLVMValueRef lane = LLVMConstInt(k->i32, i, 0);
        LLVMValueRef e = LLVMBuildExtractElement(k->b, x, lane, "");
        v = LLVMBuildInsertElement(k->b, v, call(k, fn, &e, 1), lane, "");
    }
    return v;
}

static LLVMValueRef const_i32(K *k, int v, int lanes)
{
    LLVMValueRef e[64], s = LLVMConstInt(k->i32, (unsigned long long)v, 1);
    KILN_ASSERT(lanes <= 64);
    for (int i = 0; i < lanes; i++) e[i] = s;
    return lanes == 1 ? s : LLVMConstVector(e, (unsigned)lanes);
}

/* e^x = 2^n e^r: n = round(x log2 e) by the 1.5·2^23 trick (adding it leaves the integer
 * n in the low mantissa bits, so no rounding instruction — SSE2 has none — and no fptosi);
 * r = x - n ln2 in two steps (Cody–Waite: ln2_hi has few bits, so n ln2_hi is exact);
 * e^r = 1 + r + r^2 P(r) (Cephes expf); 2^n = (n + 127) << 23 as the bits of a float, taken
 * from the low bits of x log2 e + 1.5·2^23 (the constant's own bits shift out). x is clamped
 * to [-88, 88] for n only: r keeps x, so a NaN stays NaN; below -87.3 the result is 0. */
LLVMValueRef kl_exp(K *k, LLVMValueRef x)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    int lanes = LLVMGetTypeKind(t) == LLVMVectorTypeKind ? (int)LLVMGetVectorSize(t) : 1;
    static const double P[6] = { 1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3,
                                 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1 };
    LLVMValueRef magic = kl_f32(k, 12582912.0, lanes);     /* 1.5 * 2^23 */
    LLVMValueRef xc = kl_intr(k, "llvm.minnum", kl_intr(k, "llvm.maxnum", x, kl_f32(k, -88.0, lanes)), kl_f32(k, 88.0, lanes));
    LLVMValueRef big = kl_fmuladd(k, xc, kl_f32(k, 1.44269504088896341, lanes), magic);
    LLVMValueRef n = LLVMBuildFSub(k->b, big, magic, "n");
    LLVMValueRef r = kl_fmuladd(k, n, kl_f32(k, -0.693359375, lanes), x);
    r = kl_fmuladd(k, n, kl_f32(k, 2.12194440e-4, lanes), r);
    LLVMValueRef p = kl_f32(k, P[0], lanes);
    for (int i = 1; i < 6; i++) p = kl_fmuladd(k, p, r, kl_f32(k, P[i], lanes));
    LLVMValueRef e = kl_fmuladd(k, p, LLVMBuildFMul(k->b, r, r, ""), r);
    e = LLVMBuildFAdd(k->b, e, kl_f32(k, 1, lanes), "");
    LLVMValueRef bits = LLVMBuildAdd(k->b, LLVMBuildBitCast(k->b, big, kl_vec(k, k->i32, lanes), ""), const_i32(k, 127, lanes), "");
    LLVMValueRef two_n = LLVMBuildBitCast(k->b, LLVMBuildShl(k->b, bits, const_i32(k, 23, lanes), ""), t, "");
    LLVMValueRef v = LLVMBuildFMul(k->b, e, two_n, "exp");
    LLVMValueRef tiny = LLVMBuildFCmp(k->b, LLVMRealOLT, x, kl_f32(k, -87.33654475, lanes), "");
    return LLVMBuildSelect(k->b, tiny, kl_f32(k, 0, lanes), v, "");
}

LLVMValueRef kl_hsum(K *k, LLVMValueRef v)
{
    LLVMTypeRef t = LLVMTypeOf(v);
    if (LLVMGetTypeKind(t) != LLVMVectorTypeKind) return v;
    LLVMValueRef args[2] = { LLVMConstReal(k->f32, -0.0), v };
    LLVMValueRef s = call(k, cg_intrinsic(k->cg, "llvm.vector.reduce.fadd", &t, 1), args, 2);
    LLVMSetFastMathFlags(s, LLVMFastMathAllowReassoc);
    return s;
}

LLVMValueRef kl_hmax(K *k, LLVMValueRef v)
{
    LLVMTypeRef t = LLVMTypeOf(v);
    if (LLVMGetTypeKind(t) != LLVMVectorTypeKind) return v;
    return call(k, cg_intrinsic(k->cg, "llvm.vector.reduce.fmax", &t, 1), &v, 1);
}

/* ---- control flow ---------------------------------------------------------------------- */

static LLVMBasicBlockRef block(K *k, const char *name)
{
    return LLVMAppendBasicBlockInContext(k->cg->ctx, k->fn, name);
}

void kl_for(K *k, KLoop *l, LLVMValueRef lo, LLVMValueRef hi, int64_t step, int n, const LLVMValueRef *init)
{
    KILN_ASSERT(n >= 0 && n <= KL_MAX_CARRY && step > 0);
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(k->b);
    l->head = block(k, "loop");
    l->body = block(k, "body");
    l->exit = block(k, "done");
    l->n = n;
    l->step = kl_i64(k, step);
    LLVMBuildBr(k->b, l->head);
    LLVMPositionBuilderAtEnd(k->b, l->head);
    l->i = LLVMBuildPhi(k->b, k->i64, "i");
    LLVMAddIncoming(l->i, &lo, &pre, 1);
    for (int v = 0; v < n; v++) {
        l->v[v] = LLVMBuildPhi(k->b, LLVMTypeOf(init[v]), "acc");
        LLVMAddIncoming(l->v[v], (LLVMValueRef *)&init[v], &pre, 1);
    }
    LLVMValueRef more = LLVMBuildICmp(k->b, LLVMIntSLE, kl_add(k, l->i, l->step), hi, "");
    LLVMBuildCondBr(k->b, more, l->body, l->exit);
    LLVMPositionBuilderAtEnd(k->b, l->body);
}

void kl_next(K *k, KLoop *l, const LLVMValueRef *next)
{
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(k->b);
    LLVMValueRef inext = kl_add(k, l->i, l->step);
    LLVMAddIncoming(l->i, &inext, &latch, 1);
    for (int v = 0; v < l->n; v++) LLVMAddIncoming(l->v[v], (LLVMValueRef *)&next[v], &latch, 1);
    LLVMBuildBr(k->b, l->head);
    LLVMPositionBuilderAtEnd(k->b, l->exit);
}

void kl_nest(K *k, KLoop *loops, int n, const LLVMValueRef *ext, LLVMValueRef *idx)
{
    for (int i = 0; i < n; i++) {
        kl_for(k, &loops[i], kl_i64(k, 0), ext[i], 1, 0, NULL);
        idx[i] = loops[i].i;
    }
}

void kl_unnest(K *k, KLoop *loops, int n)
{
    for (int i = n - 1; i >= 0; i--) kl_next(k, &loops[i], NULL);
}

void kl_if(K *k, KIf *f, LLVMValueRef cond)
{
    f->then = block(k, "then");
    f->els = block(k, "else");
    f->join = block(k, "join");
    LLVMBuildCondBr(k->b, cond, f->then, f->els);
    LLVMPositionBuilderAtEnd(k->b, f->then);
}

void kl_else(K *k, KIf *f)
{
    LLVMBuildBr(k->b, f->join);
    LLVMPositionBuilderAtEnd(k->b, f->els);
}

void kl_endif(K *k, KIf *f)
{
    LLVMBuildBr(k->b, f->join);
    LLVMPositionBuilderAtEnd(k->b, f->join);
}

void kl_vloop(K *k, LLVMValueRef lo, LLVMValueRef hi, KBody body, void *ctx)
{
    KLoop v, s;
    kl_for(k, &v, lo, hi, k->vw, 0, NULL);
    body(k, ctx, v.i, k->vw);
    kl_next(k, &v, NULL);
    kl_for(k, &s, v.i, hi, 1, 0, NULL);
    body(k, ctx, s.i, 1);
    kl_next(k, &s, NULL);
}

static LLVMValueRef combine(K *k, KRed op, LLVMValueRef a, LLVMValueRef b)
{
    return op == KR_SUM ? LLVMBuildFAdd(k->b, a, b, "") : kl_intr(k, "llvm.maxnum", a, b);
}

LLVMValueRef kl_reduce(K *k, KRed op, LLVMValueRef lo, LLVMValueRef hi, int n_acc, KStep step, void *ctx)
{
    KILN_ASSERT(n_acc >= 1 && n_acc <= KL_MAX_CARRY);
    double ident = op == KR_SUM ? -0.0 : -INFINITY;
    LLVMValueRef acc[KL_MAX_CARRY], next[KL_MAX_CARRY], j = lo;
    for (int a = 0; a < n_acc; a++) acc[a] = kl_f32(k, ident, k->vw);
    if (n_acc > 1) {
        KLoop l;
        kl_for(k, &l, lo, hi, (int64_t)n_acc * k->vw, n_acc, acc);
        for (int a = 0; a < n_acc; a++) next[a] = step(k, ctx, kl_add(k, l.i, kl_i64(k, (int64_t)a * k->vw)), k->vw, l.v[a]);
        kl_next(k, &l, next);
        memcpy(acc, l.v, sizeof(LLVMValueRef) * (size_t)n_acc);
        j = l.i;
    }
    KLoop one;
    kl_for(k, &one, j, hi, k->vw, 1, acc);
    next[0] = step(k, ctx, one.i, k->vw, one.v[0]);
    kl_next(k, &one, next);
    acc[0] = one.v[0];
    for (int w = 1; w < n_acc; w *= 2)
        for (int a = 0; a + w < n_acc; a += 2 * w) acc[a] = combine(k, op, acc[a], acc[a + w]);
    LLVMValueRef s = op == KR_SUM ? kl_hsum(k, acc[0]) : kl_hmax(k, acc[0]);
    KLoop tail;
    kl_for(k, &tail, one.i, hi, 1, 1, &s);
    next[0] = step(k, ctx, tail.i, 1, tail.v[0]);
    kl_next(k, &tail, next);
    return tail.v[0];
}

/* ---- copies ----------------------------------------------------------------------------- */

LLVMTypeRef kl_elem(K *k, DType t) { return t == DT_I32 ? k->i32 : k->f32; }

void kl_copy(K *k, LLVMValueRef dst, LLVMValueRef doff, LLVMValueRef src, LLVMValueRef soff, LLVMValueRef n)
{
    if (LLVMIsConstant(n) && LLVMConstIntGetSExtValue(n) == 0) return;
    LLVMValueRef d = kl_gep(k, k->f32, dst, doff), s = kl_gep(k, k->f32, src, soff);
    LLVMBuildMemCpy(k->b, d, 4, s, 4, kl_mul(k, n, kl_i64(k, 4)));
}

void kl_copy_box(K *k, int r, const LLVMValueRef *ext, LLVMValueRef src, const LLVMValueRef *sdim,
                 const LLVMValueRef *soff, LLVMValueRef dst, const LLVMValueRef *ddim, const LLVMValueRef *doff,
                 const int *same_tail, int split)
{
    if (r == 0) {           /* one element: part 0's */
        LLVMValueRef lo, hi;
        kl_share(k, kl_i64(k, 1), 1, &lo, &hi);
        kl_copy(k, dst, lo, src, lo, kl_sub(k, hi, lo));
        return;
    }
    KILN_ASSERT(split <= r);
    /* The run: axes [ra, r), all whole in src and dst except possibly ra itself. */
    int ra = r - 1;
    while (ra > 0 && same_tail[ra]) ra--;
    /* loops over axes [0, la) around a run of axes [la, r); the rows of axes [0, ns) are
     * shared (when la > ra the run is a trailing piece of the whole run, so still one run) */
    int la = split > ra ? split : ra, ns = split < 0 ? la : split;
    LLVMValueRef ss[IR_MAX_RANK], ds[IR_MAX_RANK];
    for (int i = 0; i < r; i++) {
        ss[i] = kl_prod(k, sdim, i + 1, r);
        ds[i] = kl_prod(k, ddim, i + 1, r);
    }
    LLVMValueRef run = kl_prod(k, ext, la, r), rows = kl_prod(k, ext, 0, ns), sh[4];
    if (split < 0) {
        kl_share_rows(k, rows, run, 16, 1, sh);     /* 16 elements: a cache line */
    } else {
        kl_share(k, rows, 1, &sh[0], &sh[1]);
        sh[2] = kl_i64(k, 0);
        sh[3] = run;
    }
    KLoop rl, loops[IR_MAX_RANK];
    LLVMValueRef idx[IR_MAX_RANK];
    kl_for(k, &rl, sh[0], sh[1], 1, 0, NULL);
    kl_unflatten(k, rl.i, ext, ns, idx);
    kl_nest(k, loops + ns, la - ns, ext + ns, idx + ns);
    LLVMValueRef so = sh[2], dof = sh[2];
    for (int i = 0; i < r; i++) {
        LLVMValueRef si = soff ? soff[i] : kl_i64(k, 0), di = doff ? doff[i] : kl_i64(k, 0);
        if (i < la) {
            si = kl_add(k, si, idx[i]);
            di = kl_add(k, di, idx[i]);
        }
        so = kl_add(k, so, kl_mul(k, si, ss[i]));
        dof = kl_add(k, dof, kl_mul(k, di, ds[i]));
    }
    kl_copy(k, dst, dof, src, so, kl_sub(k, sh[3], sh[2]));
    kl_unnest(k, loops + ns, la - ns);
    kl_next(k, &rl, NULL);
}
