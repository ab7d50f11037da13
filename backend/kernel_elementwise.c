/* kernel_elementwise.c — ADD SUB MUL DIV (numpy broadcasting) and the unary ops.
 *
 * Binary ops. The broadcast pattern is static: an operand's axis is broadcast when the
 * operand lacks it or has the constant extent 1 (ir/infer.c's rule), whatever the symbols'
 * values. Output axes of constant extent 1 are dropped, then adjacent axes along which
 * both operands behave alike (each full or each broadcast) are merged, so (b, s, d) + (d)
 * becomes an outer loop of b*s rows over an inner run of d, and same-shape operands become
 * one run of b*s*d. The inner run is a vector loop with a scalar remainder; an operand that
 * is broadcast along it is loaded once and splatted. The arithmetic is one IEEE operation,
 * bit-identical to the interpreter's float operation.
 *
 * Unary ops run over all elements as one run. SCALE multiplies by the value rounded to
 * float (≤ 1 ulp from the interpreter's double product). The transcendental ones use
 * kl_exp (kernel_loops.c: a vector exp within about 2 ulp, no call per lane), llvm.exp in
 * f64 and libm's tanhf or erfc lane by lane, in forms without cancellation:
 *   sigmoid(x) = 1 / (1 + exp(-x)), silu(x) = x / (1 + exp(-x)),
 *   gelu erf:  x * 0.5 * erfc(-x / sqrt 2)            (= x * Phi(x); erfc keeps the tail's
 *              relative accuracy where 1 + erf(x/sqrt 2) would cancel),
 *   gelu tanh: x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3)
 *              (= 0.5 x (1 + tanh u), the same identity without the cancellation).
 * GELU's lanes are widened to f64 for the formula (libm erfc and exp in f64), see there.
 * ke_unary is that arithmetic alone, for the matmul epilogue's activation (kernel_matmul.c).
 *
 * Shares (the contract's part, parts): unary ops cut their one run in pieces of vw
 * elements; binary ops give parts whole rows of the outer merged axes when there are at
 * least 4 per part, else pieces of vw elements of every row's run. Piece bounds are
 * multiples of vw from the row's start, so every element is in the vector or the scalar
 * loop it is in with one part. */
#include "backend/kernel_impl.h"

#include <math.h>
#include <string.h>

/* ---- binary -------------------------------------------------------------------------- */

typedef struct Bin {
    OpKind op;
    LLVMValueRef y, oy;
    LLVMValueRef p[2], o[2];        /* operand base pointers and offsets of this run */
    int full[2];                    /* 1: the operand runs along the inner axis; 0: splat */
    LLVMValueRef s1[2], sv[2];      /* a broadcast operand's value, scalar and splatted */
} Bin;

static void bin_body(K *k, void *ctx, LLVMValueRef j, int lanes)
{
    Bin *c = ctx;
    LLVMValueRef v[2];
    for (int t = 0; t < 2; t++)
        v[t] = c->full[t] ? kl_loadf(k, c->p[t], kl_add(k, c->o[t], j), lanes) : lanes == 1 ? c->s1[t] : c->sv[t];
    LLVMValueRef r;
    switch (c->op) {
    case OP_ADD: r = LLVMBuildFAdd(k->b, v[0], v[1], ""); break;
    case OP_SUB: r = LLVMBuildFSub(k->b, v[0], v[1], ""); break;
    case OP_MUL: r = LLVMBuildFMul(k->b, v[0], v[1], ""); break;
    case OP_DIV: r = LLVMBuildFDiv(k->b, v[0], v[1], ""); break;
    default: KILN_UNREACHABLE();
    }
    kl_store(k, r, c->y, kl_add(k, c->oy, j));
}

void kern_binary(K *k)
{
    const Node *n = k->n;
    int r = n->shape.rank, na = 0;
    LLVMValueRef yd[IR_MAX_RANK], ext[IR_MAX_RANK + 1];
    int full[IR_MAX_RANK + 1][2];
    kl_shape(k, &n->shape, yd);
    for (int i = 0; i < r; i++) {
        Dim d = n->shape.d[i];
        if (dim_is_const(d) && d.k == 1) continue;          /* moves nothing */
        int f[2];
        for (int t = 0; t < 2; t++) {
            const Shape *s = &n->in[t]->shape;
            int xi = i - (r - s->rank);
            f[t] = xi >= 0 && !(dim_is_const(s->d[xi]) && s->d[xi].k == 1);
        }
        if (na > 0 && full[na - 1][0] == f[0] && full[na - 1][1] == f[1]) {
            ext[na - 1] = kl_mul(k, ext[na - 1], yd[i]);
        } else {
            ext[na] = yd[i];
            full[na][0] = f[0];
            full[na][1] = f[1];
            na++;
        }
    }
    if (na == 0) {          /* a single element */
        ext[0] = kl_i64(k, 1);
        full[0][0] = full[0][1] = 1;
        na = 1;
    }
    /* (na) strides of y and of each operand over the merged axes; 0 where broadcast */
    LLVMValueRef ys[IR_MAX_RANK + 1], st[2][IR_MAX_RANK + 1];
    for (int t = 0; t < 2; t++) {
        LLVMValueRef s = kl_i64(k, 1);
        for (int a = na - 1; a >= 0; a--) {
            st[t][a] = full[a][t] ? s : kl_i64(k, 0);
            if (full[a][t]) s = kl_mul(k, s, ext[a]);
        }
    }
    for (int a = 0; a < na; a++) ys[a] = kl_prod(k, ext, a + 1, na);

    /* this part's share: rows of the outer merged axes, or pieces of every row's run */
    LLVMValueRef sh[4];
    kl_share_rows(k, kl_prod(k, ext, 0, na - 1), ext[na - 1], k->vw, 4, sh);
    KLoop rl;
    LLVMValueRef idx[IR_MAX_RANK];
    kl_for(k, &rl, sh[0], sh[1], 1, 0, NULL);
    kl_unflatten(k, rl.i, ext, na - 1, idx);
    Bin c;
    memset(&c, 0, sizeof c);
    c.op = n->op;
    c.y = k->y;
    c.oy = kl_i64(k, 0);
    for (int t = 0; t < 2; t++) {
        c.p[t] = k->x[t];
        c.o[t] = kl_i64(k, 0);
        c.full[t] = full[na - 1][t];
    }
    for (int a = 0; a < na - 1; a++) {
        c.oy = kl_add(k, c.oy, kl_mul(k, idx[a], ys[a]));
        for (int t = 0; t < 2; t++) c.o[t] = kl_add(k, c.o[t], kl_mul(k, idx[a], st[t][a]));
    }
    for (int t = 0; t < 2; t++)
        if (!c.full[t]) {
            c.s1[t] = kl_loadf(k, c.p[t], c.o[t], 1);
            c.sv[t] = kl_splat(k, c.s1[t], k->vw);
        }
    kl_vloop(k, sh[2], sh[3], bin_body, &c);
    kl_next(k, &rl, NULL);
}

/* ---- unary ---------------------------------------------------------------------------- */

/* 1 / (1 + exp(-t)) * num, i.e. num / (1 + exp(-t)); for -t beyond 88.7, kl_exp gives
 * +inf or a huge value, and the quotient is 0 either way. */
static LLVMValueRef over_one_plus_exp(K *k, LLVMValueRef num, LLVMValueRef minus_t, int lanes)
{
    LLVMValueRef e = kl_exp(k, minus_t);
    return LLVMBuildFDiv(k->b, num, LLVMBuildFAdd(k->b, kl_f32(k, 1, lanes), e, ""), "");
}

static LLVMValueRef f64_splat(K *k, double v, int lanes)
{
    return kl_splat(k, LLVMConstReal(k->f64, v), lanes);
}

LLVMValueRef ke_unary(K *k, OpKind op, int gelu_tanh, double value, LLVMValueRef x, int lanes)
{
    switch (op) {
    case OP_SCALE:
        return LLVMBuildFMul(k->b, x, kl_f32(k, (float)value, lanes), "");
    case OP_RELU: {
        LLVMValueRef pos = LLVMBuildFCmp(k->b, LLVMRealOGT, x, kl_f32(k, 0, lanes), "");
        return LLVMBuildSelect(k->b, pos, x, kl_f32(k, 0, lanes), "");
    }
    case OP_SIGMOID:
        return over_one_plus_exp(k, kl_f32(k, 1, lanes), LLVMBuildFNeg(k->b, x, ""), lanes);
    case OP_SILU:
        return over_one_plus_exp(k, x, LLVMBuildFNeg(k->b, x, ""), lanes);
    case OP_TANH:
        return kl_libm(k, "tanhf", x);
    case OP_GELU: {
        /* in f64 lanes: the exponent (up to ~16 at x = -5) and erfc's argument would carry
         * their f32 rounding into the tail's relative error (~3e-6); in f64 the result is
         * within an ulp */
        LLVMTypeRef vd = kl_vec(k, k->f64, lanes);
        LLVMValueRef xd = LLVMBuildFPExt(k->b, x, vd, "");
        LLVMValueRef one = LLVMBuildFPExt(k->b, kl_f32(k, 1, lanes), vd, ""), r;
        if (gelu_tanh) {
            /* x / (1 + exp(-2u)), -2u = x * (1 + 0.044715 x^2) * -2 sqrt(2/pi) */
            LLVMValueRef x2 = LLVMBuildFMul(k->b, xd, xd, "");
            LLVMValueRef in = kl_fmuladd(k, x2, f64_splat(k, 0.044715, lanes), one);
            LLVMValueRef m2u = LLVMBuildFMul(k->b, LLVMBuildFMul(k->b, xd, in, ""), f64_splat(k, -2 * sqrt(2 / M_PI), lanes), "");
            LLVMValueRef e = kl_intr(k, "llvm.exp", m2u, NULL);
            r = LLVMBuildFDiv(k->b, xd, LLVMBuildFAdd(k->b, one, e, ""), "");
        } else {
            /* x * 0.5 * erfc(-x / sqrt 2) */
            LLVMValueRef e = kl_libm(k, "erfc", LLVMBuildFMul(k->b, xd, f64_splat(k, -M_SQRT1_2, lanes), ""));
            r = LLVMBuildFMul(k->b, LLVMBuildFMul(k->b, xd, f64_splat(k, 0.5, lanes), ""), e, "");
        }
        return LLVMBuildFPTrunc(k->b, r, kl_vec(k, k->f32, lanes), "");
    }
    default:
        KILN_UNREACHABLE();
    }
}

LLVMValueRef ke_activation(K *k, const char *act, LLVMValueRef x, int lanes)
{
    if (!strcmp(act, "relu")) return ke_unary(k, OP_RELU, 0, 0, x, lanes);
    if (!strcmp(act, "silu")) return ke_unary(k, OP_SILU, 0, 0, x, lanes);
    KILN_ASSERT(!strcmp(act, "gelu_tanh") || !strcmp(act, "gelu_erf"));
    return ke_unary(k, OP_GELU, !strcmp(act, "gelu_tanh"), 0, x, lanes);
}

static void unary_body(K *k, void *ctx, LLVMValueRef j, int lanes)
{
    (void)ctx;
    const Node *n = k->n;
    int gelu_tanh = strcmp(ir_attr_str(n, A_approx, "erf"), "tanh") == 0;
    LLVMValueRef x = kl_loadf(k, k->x[0], j, lanes);
    kl_store(k, ke_unary(k, n->op, gelu_tanh, ir_attr_float(n, A_value, 1), x, lanes), k->y, j);
}

void kern_unary(K *k)
{
    LLVMValueRef d[IR_MAX_RANK], lo, hi;
    kl_shape(k, &k->n->shape, d);
    kl_share(k, kl_prod(k, d, 0, k->n->shape.rank), k->vw, &lo, &hi);
    kl_vloop(k, lo, hi, unary_body, NULL);
}
