/* kernel_layout.c — the ops that move 4-byte elements without arithmetic: RESHAPE (a copy,
 * when one is asked for), TRANSPOSE, SLICE, REPEAT, TAKE, GATHER, and the state ops CACHE
 * and STATE_READ.
 *
 * Everything here is a set of contiguous runs copied with llvm.memcpy (which becomes the
 * C library's vectorized memcpy, or inline vector moves for small constant runs), so the
 * work is finding the longest runs statically:
 *  - slice, state_read and both halves of cache are box copies (kl_copy_box): the trailing
 *    axes that source, destination and box hold whole with the same constant extent join
 *    the run;
 *  - transpose drops output axes of extent 1 and merges output axes that are adjacent in
 *    the input too, so perm [0, 2, 1, 3] is a loop over (b, s, h) copying rows of hd;
 *    when the last output axis is not the input's last, the inner loop is a strided scalar
 *    gather (the layouts a model uses end in the head dim and never get there);
 *  - repeat and take copy runs of the axes after theirs, gather copies table rows.
 * Cache: the state buffer (aux) has the state's shape with every symbol at its maximum;
 * x (.., len at axis, ..) is written at offset `at` along axis (the first rows of every
 * other axis, e.g. the first `batch` rows), then the box [0, at + len) of the state is
 * copied into y, unless the cache is a view (cg_kv_view: only attention reads it, from the
 * state); a state_read that is a view copies nothing. Ids, indexes and offsets are trusted: the runtime checks them.
 *
 * Shares (the contract's part, parts): rows of the loops around the copied runs, or pieces
 * of 16 elements of every run when the rows are fewer than the parts (a copy is exact, so
 * any cut gives the same bytes). Cache shares only the rows of the axes before its axis
 * (the heads of a (b, h, t, d) cache), the same rows in both of its copies, so no part reads
 * state another part writes; with fewer such rows than parts, the late parts do nothing. */
#include "backend/kernel_impl.h"

/* Whether axis i has the same constant extent in a and b. */
static int same_const(Dim a, Dim b) { return dim_is_const(a) && dim_eq(a, b); }

static void reshape(K *k)
{
    LLVMValueRef d[IR_MAX_RANK], lo, hi;
    kl_shape(k, &k->n->shape, d);
    kl_share(k, kl_prod(k, d, 0, k->n->shape.rank), 16, &lo, &hi);
    kl_copy(k, k->y, lo, k->x[0], lo, kl_sub(k, hi, lo));
}

static void transpose(K *k)
{
    const Node *n = k->n, *x = n->in[0];
    const Attr *perm = ir_node_attr(n, A_perm);
    int r = n->shape.rank, na = 0;
    LLVMValueRef xd[IR_MAX_RANK], yd[IR_MAX_RANK], xs[IR_MAX_RANK];
    kl_shape(k, &x->shape, xd);
    kl_shape(k, &n->shape, yd);
    for (int i = 0; i < r; i++) xs[i] = kl_prod(k, xd, i + 1, r);
    /* merged output axes: extent, input stride, the innermost input axis covered */
    LLVMValueRef ext[IR_MAX_RANK + 1], st[IR_MAX_RANK + 1];
    int last[IR_MAX_RANK + 1];
    for (int i = 0; i < r; i++) {
        Dim d = n->shape.d[i];
        int p = (int)perm->v.ints[i];
        if (dim_is_const(d) && d.k == 1) continue;
        int merge = na > 0 && p > last[na - 1];
        for (int j = na > 0 ? last[na - 1] + 1 : 0; merge && j < p; j++)
            merge = dim_is_const(x->shape.d[j]) && x->shape.d[j].k == 1;
        if (merge) {
            ext[na - 1] = kl_mul(k, ext[na - 1], yd[i]);
        } else {
            ext[na] = yd[i];
            na++;
        }
        st[na - 1] = xs[p];
        last[na - 1] = p;
    }
    if (na == 0) {          /* one element: part 0's */
        LLVMValueRef lo, hi;
        kl_share(k, kl_i64(k, 1), 1, &lo, &hi);
        kl_copy(k, k->y, lo, k->x[0], lo, kl_sub(k, hi, lo));
        return;
    }
    int contiguous = 1;         /* the inner axis has stride 1 in the input */
    for (int j = last[na - 1] + 1; j < r; j++) contiguous &= dim_is_const(x->shape.d[j]) && x->shape.d[j].k == 1;
    /* this part's rows of the outer merged axes, or pieces of every row when they are few */
    LLVMValueRef sh[4];
    kl_share_rows(k, kl_prod(k, ext, 0, na - 1), ext[na - 1], 16, 1, sh);
    KLoop rl, jl;
    LLVMValueRef idx[IR_MAX_RANK];
    kl_for(k, &rl, sh[0], sh[1], 1, 0, NULL);
    kl_unflatten(k, rl.i, ext, na - 1, idx);
    LLVMValueRef ox = kl_i64(k, 0), oy = kl_i64(k, 0);
    for (int a = 0; a < na - 1; a++) {
        ox = kl_add(k, ox, kl_mul(k, idx[a], st[a]));
        oy = kl_add(k, kl_mul(k, oy, ext[a]), idx[a]);
    }
    oy = kl_mul(k, oy, ext[na - 1]);
    if (contiguous) {
        kl_copy(k, k->y, kl_add(k, oy, sh[2]), k->x[0], kl_add(k, ox, sh[2]), kl_sub(k, sh[3], sh[2]));
    } else {
        kl_for(k, &jl, sh[2], sh[3], 1, 0, NULL);
        LLVMValueRef v = kl_load(k, k->i32, k->x[0], kl_add(k, ox, kl_mul(k, jl.i, st[na - 1])), 1);
        kl_store(k, v, k->y, kl_add(k, oy, jl.i));
        kl_next(k, &jl, NULL);
    }
    kl_next(k, &rl, NULL);
}

static void slice(K *k)
{
    const Node *n = k->n, *x = n->in[0];
    int r = n->shape.rank, axis = kl_axis(k, r), same[IR_MAX_RANK];
    LLVMValueRef xd[IR_MAX_RANK], yd[IR_MAX_RANK], off[IR_MAX_RANK];
    kl_shape(k, &x->shape, xd);
    kl_shape(k, &n->shape, yd);
    for (int i = 0; i < r; i++) {
        off[i] = i == axis ? kl_dim(k, ir_node_attr(n, A_start)->v.dim) : kl_i64(k, 0);
        same[i] = same_const(x->shape.d[i], n->shape.d[i]);
    }
    kl_copy_box(k, r, yd, k->x[0], xd, off, k->y, yd, NULL, same, -1);
}

/* x as (outer, X, inner): the pieces along axis and around it. */
static void around_axis(K *k, const Node *x, int axis, LLVMValueRef *outer, LLVMValueRef *X, LLVMValueRef *inner)
{
    LLVMValueRef xd[IR_MAX_RANK];
    kl_shape(k, &x->shape, xd);
    *outer = kl_prod(k, xd, 0, axis);
    *X = xd[axis];
    *inner = kl_prod(k, xd, axis + 1, x->shape.rank);
}

/* y[o, i, :] = x[o, i / times, :] */
static void repeat(K *k)
{
    const Node *x = k->n->in[0];
    int axis = kl_axis(k, x->shape.rank);
    LLVMValueRef outer, X, inner;
    around_axis(k, x, axis, &outer, &X, &inner);
    LLVMValueRef times = kl_i64(k, ir_attr_int(k->n, A_times, 1)), Y = kl_mul(k, X, times), sh[4];
    /* rows: the flattened (outer, Y) */
    kl_share_rows(k, kl_mul(k, outer, Y), inner, 16, 1, sh);
    KLoop rl;
    kl_for(k, &rl, sh[0], sh[1], 1, 0, NULL);
    LLVMValueRef o = kl_sdiv(k, rl.i, Y), i = LLVMBuildSRem(k->b, rl.i, Y, "");
    LLVMValueRef src = kl_add(k, kl_mul(k, kl_add(k, kl_mul(k, o, X), kl_sdiv(k, i, times)), inner), sh[2]);
    LLVMValueRef dst = kl_add(k, kl_mul(k, rl.i, inner), sh[2]);
    kl_copy(k, k->y, dst, k->x[0], src, kl_sub(k, sh[3], sh[2]));
    kl_next(k, &rl, NULL);
}

/* y[o, :] = x[o, at, :], at = index (from the end when negative) */
static void take(K *k)
{
    const Node *x = k->n->in[0];
    int axis = kl_axis(k, x->shape.rank);
    LLVMValueRef outer, X, inner;
    around_axis(k, x, axis, &outer, &X, &inner);
    int64_t index = ir_attr_int(k->n, A_index, 0);
    LLVMValueRef at = index < 0 ? kl_add(k, X, kl_i64(k, index)) : kl_i64(k, index);
    LLVMValueRef sh[4];
    kl_share_rows(k, outer, inner, 16, 1, sh);
    KLoop ol;
    kl_for(k, &ol, sh[0], sh[1], 1, 0, NULL);
    LLVMValueRef src = kl_add(k, kl_mul(k, kl_add(k, kl_mul(k, ol.i, X), at), inner), sh[2]);
    kl_copy(k, k->y, kl_add(k, kl_mul(k, ol.i, inner), sh[2]), k->x[0], src, kl_sub(k, sh[3], sh[2]));
    kl_next(k, &ol, NULL);
}

/* y[i, :] = table[ids[i], :] over the flattened ids */
static void gather(K *k)
{
    const Node *table = k->n->in[0], *ids = k->n->in[1];
    LLVMValueRef idd[IR_MAX_RANK];
    kl_shape(k, &ids->shape, idd);
    LLVMValueRef d = kl_dim(k, table->shape.d[1]), count = kl_prod(k, idd, 0, ids->shape.rank), sh[4];
    kl_share_rows(k, count, d, 16, 1, sh);
    KLoop l;
    kl_for(k, &l, sh[0], sh[1], 1, 0, NULL);
    LLVMValueRef id = LLVMBuildSExt(k->b, kl_load(k, k->i32, k->x[1], l.i, 1), k->i64, "id");
    kl_copy(k, k->y, kl_add(k, kl_mul(k, l.i, d), sh[2]), k->x[0], kl_add(k, kl_mul(k, id, d), sh[2]),
            kl_sub(k, sh[3], sh[2]));
    kl_next(k, &l, NULL);
}

void kern_layout(K *k)
{
    switch (k->n->op) {
    case OP_RESHAPE: reshape(k); return;
    case OP_TRANSPOSE: transpose(k); return;
    case OP_SLICE: slice(k); return;
    case OP_REPEAT: repeat(k); return;
    case OP_TAKE: take(k); return;
    case OP_GATHER: gather(k); return;
    default: KILN_UNREACHABLE();
    }
}

void kern_state(K *k)
{
    const Node *n = k->n;
    const Module *m = k->cg->m;
    const State *st = &m->states[n->ref];
    int r = n->shape.rank, axis = kl_axis(k, r), same[IR_MAX_RANK];
    KILN_ASSERT(st->shape.rank == r);
    LLVMValueRef sd[IR_MAX_RANK], yd[IR_MAX_RANK];
    Dim smax[IR_MAX_RANK];
    for (int i = 0; i < r; i++) {
        smax[i] = dim_const(kl_dim_max(m, st->shape.d[i]));
        sd[i] = kl_i64(k, smax[i].k);
    }
    kl_shape(k, &n->shape, yd);
    if (n->op == OP_CACHE) {
        const Node *x = n->in[0];
        LLVMValueRef xd[IR_MAX_RANK], off[IR_MAX_RANK];
        kl_shape(k, &x->shape, xd);
        for (int i = 0; i < r; i++) {
            off[i] = i == axis ? kl_dim(k, ir_node_attr(n, A_at)->v.dim) : kl_i64(k, 0);
            same[i] = same_const(x->shape.d[i], smax[i]);
        }
        for (int i = 0; i < axis; i++) KILN_ASSERT(dim_eq(x->shape.d[i], n->shape.d[i]));
        /* both copies share the rows of the axes before `axis` alike: a part reads back only
         * the state rows it wrote (backend_impl.h) */
        kl_copy_box(k, r, xd, k->x[0], xd, NULL, k->aux, sd, off, same, axis);     /* x → state at `at` */
        if (cg_kv_view(k->cg, n)) return;           /* attention reads the state itself */
    }
    if (cg_kv_view(k->cg, n)) return;               /* a state_read that is a view */
    for (int i = 0; i < r; i++) same[i] = same_const(n->shape.d[i], smax[i]);
    kl_copy_box(k, r, yd, k->aux, sd, NULL, k->y, yd, NULL, same, n->op == OP_CACHE ? axis : -1);   /* state prefix → y */
}
