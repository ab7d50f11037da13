/* interp.c — kiln's reference interpreter: sessions, symbols, planning and the run loop; the
 * ops themselves, every op of ops.def in plain, obviously-correct C, are in interp_ops.c.
 *
 * This is the oracle every compiled kernel is tested against, so each op is written as its
 * formula, with no tiling or cleverness: float32 values, float64 accumulators for the long
 * reductions (matmul inner products, norms, softmax sums, mean pooling), float64 angles
 * for positions. Fused ops are computed the way their unfused chains are (ATTENTION rounds
 * the scores to float after the matmul and after the scale, exactly as MATMUL → SCALE →
 * MASK → SOFTMAX → MATMUL would), so a fusion pass can be checked against the unfused
 * graph to the last bit.
 *
 * A run goes in three steps. (1) bind: the graph's inputs bind the symbols their shapes
 * name (a dim that is a single symbol), every other declared dim is evaluated and must
 * match; nothing in the session changes if an input is wrong. (2) plan: every node's shape
 * is evaluated with the bound symbols, the caches are checked for room, and the last user
 * of each node is found, so a value is freed as soon as its last consumer ran. (3) execute
 * the nodes in order. Values are Tensors (f32 or i32, row-major); graph inputs and 4-byte
 * aligned f32 weights are borrowed, everything else is owned by the run. f16/bf16 weights
 * are widened to f32 when read (weight pointers may be unaligned: bytes go through memcpy).
 *
 * States (KV caches, encoder memory) are allocated once, with every symbol at its maximum.
 * A run whose batch is smaller than the maximum uses the first rows; a CACHE writes a box
 * at offset `at` along its axis and returns the box [0, at + len). The symbol `past` (when
 * the module declares one) belongs to the session: it starts at 0 and advances, after a
 * successful run, by the length the CACHE nodes wrote at `past`. */
#include "interp_impl.h"

#include <stdlib.h>
#include <string.h>

int interp_node_error(Interp *in, const Node *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error(in->d, n->loc, "%s '%s': %s", op_name(n->op), n->name, msg);
    return -1;
}

/* ---- layout helpers, shared with interp_ops.c --------------------------------------- */

DType interp_value_dtype(DType t) { return dtype_is_float(t) ? DT_F32 : DT_I32; }

int64_t interp_prod(const int64_t *d, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= d[i];
    return p;
}

void interp_strides_of(int rank, const int64_t *dims, int64_t *st)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        st[i] = s;
        s *= dims[i];
    }
}

void interp_index_next(int64_t *idx, const int64_t *dims, int rank)
{
    for (int i = rank - 1; i >= 0; i--) {
        if (++idx[i] < dims[i]) return;
        idx[i] = 0;
    }
}

/* Strides that read an operand of rank xr (dims xd, items of `item` elements each) while
 * walking an output of rank r (dims od): numpy broadcasting, aligned on the right; an axis
 * the operand lacks or has as 1 gets stride 0. */
void interp_copy_box(const Tensor *src, const int64_t *soff, Tensor *dst, const int64_t *doff, const int64_t *ext)
{
    int r = src->rank;
    KILN_ASSERT(dst->rank == r && dtype_size(src->dtype) == 4 && dtype_size(dst->dtype) == 4);
    for (int i = 0; i < r; i++) {
        KILN_ASSERT(soff[i] >= 0 && soff[i] + ext[i] <= src->dim[i]);
        KILN_ASSERT(doff[i] >= 0 && doff[i] + ext[i] <= dst->dim[i]);
        if (ext[i] == 0) return;
    }
    if (r == 0) {
        memcpy(dst->data, src->data, 4);
        return;
    }
    int64_t ss[IR_MAX_RANK], ds[IR_MAX_RANK], idx[IR_MAX_RANK] = { 0 };
    interp_strides_of(r, src->dim, ss);
    interp_strides_of(r, dst->dim, ds);
    int64_t rows = interp_prod(ext, 0, r - 1);
    for (int64_t row = 0; row < rows; row++) {
        int64_t so = soff[r - 1], dof = doff[r - 1];
        for (int i = 0; i < r - 1; i++) {
            so += (soff[i] + idx[i]) * ss[i];
            dof += (doff[i] + idx[i]) * ds[i];
        }
        memcpy((char *)dst->data + 4 * dof, (const char *)src->data + 4 * so, (size_t)(4 * ext[r - 1]));
        interp_index_next(idx, ext, r - 1);
    }
}

int interp_node_axis(const Node *n, int rank)
{
    int64_t a = ir_attr_int(n, A_axis, 0);
    if (a < 0) a += rank;
    KILN_ASSERT(a >= 0 && a < rank);
    return (int)a;
}

/* ---- symbols ------------------------------------------------------------------------ */

int interp_eval_dim(Interp *in, const Node *n, Dim d, int64_t *out)
{
    int64_t v = d.k;
    for (int i = 0; i < IR_DIM_TERMS && d.sym[i]; i++) {
        int s = d.sym[i];
        if (in->sym[s] < 0) {
            return interp_node_error(in, n, "its shape needs '%s', which no input of this graph determines and which"
                              " was not bound", in->m->syms[s].name);
        }
        v += in->sym[s];
    }
    if (v < 0 || v > IR_MAX_EXTENT) {
        char b[96];
        ir_dim_str(in->m, d, b, sizeof b);
        return interp_node_error(in, n, "dimension %s evaluates to %lld", b, (long long)v);
    }
    *out = v;
    return 0;
}

static int eval_shape(Interp *in, const Node *n, const Shape *s, int64_t *dims)
{
    for (int i = 0; i < s->rank; i++)
        if (interp_eval_dim(in, n, s->d[i], &dims[i])) return -1;
    return 0;
}

static int is_single_sym(Dim d) { return d.k == 0 && d.sym[0] && !d.sym[1]; }

static int dim_uses(Dim d, int s) { return s && (d.sym[0] == s || d.sym[1] == s); }

/* Binds the symbols named by the graph's input shapes and checks every declared dim
 * against the given tensors. The session changes only when all inputs are right. */
static int bind_inputs(Interp *in, const Graph *g, const Tensor *inputs)
{
    Module *m = in->m;
    int64_t sym[IR_MAX_SYMS + 1];
    int from[IR_MAX_SYMS + 1] = { 0 };       /* 1 + the input that bound the symbol */
    memcpy(sym, in->sym, sizeof sym);
    for (int i = 0; i < g->n_inputs; i++) {
        const Node *x = g->inputs[i];
        const Tensor *t = &inputs[i];
        char b[512];
        ir_shape_str(m, &x->shape, b, sizeof b);
        if (t->dtype != interp_value_dtype(x->dtype))
            return interp_node_error(in, x, "expected %s data (declared %s), got %s", dtype_name(interp_value_dtype(x->dtype)),
                              dtype_name(x->dtype), dtype_name(t->dtype));
        if (t->rank != x->shape.rank)
            return interp_node_error(in, x, "expected rank %d %s, got rank %d", x->shape.rank, b, t->rank);
        for (int j = 0; j < t->rank; j++)
            if (t->dim[j] < 0 || t->dim[j] > IR_MAX_EXTENT)
                return interp_node_error(in, x, "dimension %d has the absurd extent %lld", j, (long long)t->dim[j]);
        if (!t->data) return interp_node_error(in, x, "no data given");
        for (int j = 0; j < t->rank; j++) {
            Dim d = x->shape.d[j];
            if (!is_single_sym(d) || d.sym[0] == in->past) continue;
            int s = d.sym[0];
            const Symbol *sy = &m->syms[s];
            if (from[s] && sym[s] != t->dim[j])
                return interp_node_error(in, x, "dimension %d ('%s') is %lld, but input '%s' gave '%s' = %lld", j, sy->name,
                                  (long long)t->dim[j], g->inputs[from[s] - 1]->name, sy->name, (long long)sym[s]);
            if (t->dim[j] > sy->max)
                return interp_node_error(in, x, "dimension %d is %lld, which exceeds the maximum %lld of '%s'", j,
                                  (long long)t->dim[j], (long long)sy->max, sy->name);
            sym[s] = t->dim[j];
            from[s] = i + 1;
        }
    }
    /* Dims like past+seq, constants and `past` itself are checked, not bound. */
    int64_t saved[IR_MAX_SYMS + 1];
    memcpy(saved, in->sym, sizeof saved);
    memcpy(in->sym, sym, sizeof sym);
    for (int i = 0; i < g->n_inputs; i++) {
        const Node *x = g->inputs[i];
        for (int j = 0; j < x->shape.rank; j++) {
            int64_t v;
            char b[96];
            ir_dim_str(m, x->shape.d[j], b, sizeof b);
            if (interp_eval_dim(in, x, x->shape.d[j], &v)) goto fail;
            if (v != inputs[i].dim[j]) {
                char val[48] = "";
                if (!dim_is_const(x->shape.d[j])) snprintf(val, sizeof val, " = %lld", (long long)v);
                interp_node_error(in, x, "dimension %d is %lld, but the declaration says %s%s", j,
                           (long long)inputs[i].dim[j], b, val);
                goto fail;
            }
        }
    }
    return 0;
fail:
    memcpy(in->sym, saved, sizeof saved);
    return -1;
}

/* Every bound symbol must lie within its maximum (interp_bind checks too; past grows). */
static int check_syms(Interp *in, const Graph *g)
{
    Module *m = in->m;
    for (int s = 1; s <= m->n_syms; s++) {
        if (in->sym[s] <= m->syms[s].max) continue;
        if (s == in->past)
            diag_error(in->d, g->loc, "graph '%s': the context is full: %lld positions are cached, the maximum of '%s'"
                       " is %lld", g->name, (long long)in->sym[s], m->syms[s].name, (long long)m->syms[s].max);
        else
            diag_error(in->d, g->loc, "graph '%s': '%s' is %lld, which exceeds its maximum %lld", g->name,
                       m->syms[s].name, (long long)in->sym[s], (long long)m->syms[s].max);
        return -1;
    }
    return 0;
}

/* ---- planning ----------------------------------------------------------------------- */

/* Evaluates every node's shape, checks that the states have room for what the nodes read
 * and write, finds each value's last reader. Nothing is written yet. */
static int plan(Run *r)
{
    Interp *in = r->in;
    const Graph *g = r->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        KILN_ASSERT(n->id == i);
        r->last[i] = i;
        if (eval_shape(in, n, &n->shape, r->dims[i])) return -1;
        if (n->op != OP_CACHE && n->op != OP_STATE_READ) continue;
        const State *st = &in->m->states[n->ref];
        const Tensor *s = &in->states[n->ref];
        int axis = interp_node_axis(n, s->rank);
        for (int j = 0; j < s->rank; j++) {
            if (r->dims[i][j] <= s->dim[j]) continue;
            if (n->op == OP_CACHE && j == axis) {
                int64_t len, at;
                if (interp_eval_dim(in, n, n->in[0]->shape.d[axis], &len) || interp_eval_dim(in, n, ir_node_attr(n, A_at)->v.dim, &at))
                    return -1;
                return interp_node_error(in, n, "the context is full: %lld positions are cached and %lld more do not fit"
                                  " in state '%s' (%lld positions)", (long long)at, (long long)len, st->name,
                                  (long long)s->dim[j]);
            }
            return interp_node_error(in, n, "dimension %d is %lld, but state '%s' holds only %lld", j,
                              (long long)r->dims[i][j], st->name, (long long)s->dim[j]);
        }
        if (n->op == OP_CACHE && dim_uses(ir_node_attr(n, A_at)->v.dim, in->past)) {
            int64_t len;
            if (interp_eval_dim(in, n, n->in[0]->shape.d[axis], &len)) return -1;
            if (r->appended >= 0 && r->appended != len)
                return interp_node_error(in, n, "appends %lld positions, but another cache of this graph appends %lld",
                                  (long long)len, (long long)r->appended);
            r->appended = len;
        }
    }
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i]->n_in; j++) {
            int p = g->nodes[i]->in[j]->id;
            KILN_ASSERT(p >= 0 && p < i && g->nodes[p] == g->nodes[i]->in[j]);
            r->last[p] = i;
        }
    for (int i = 0; i < g->n_outputs; i++) r->last[g->outputs[i].node->id] = g->n_nodes;
    return 0;
}

/* ---- the session ---------------------------------------------------------------------- */

/* A state's extents with every symbol at its bound (-1 past IR_MAX_EXTENT, which
 * tensor_alloc refuses), and its bytes computed without overflow. */
static double interp_state_dims(const Module *m, const State *st, int64_t *dims)
{
    double bytes = (double)dtype_size(interp_value_dtype(st->dtype));
    for (int j = 0; j < st->shape.rank; j++) {
        Dim dm = st->shape.d[j];
        dims[j] = dm.k;
        for (int t = 0; t < IR_DIM_TERMS && dm.sym[t]; t++) dims[j] += m->syms[dm.sym[t]].max;
        bytes *= (double)dims[j];
        if (dims[j] < 0 || dims[j] > IR_MAX_EXTENT) dims[j] = -1;
    }
    return bytes;
}

Interp *interp_new(Module *m, Diag *d)
{
    Interp *in = xcalloc(1, sizeof *in);
    in->m = m;
    in->d = d;
    for (int s = 0; s <= IR_MAX_SYMS; s++) in->sym[s] = -1;
    in->past = ir_module_sym(m, "past");
    if (in->past) in->sym[in->past] = 0;
    in->states = xcalloc((size_t)(m->n_states ? m->n_states : 1), sizeof *in->states);
    /* every state at the maximum of its dimensions, all at once: refused up front, with the
     * bytes needed, when one alone or all together exceed what tensor_alloc gives */
    double total = 0;
    for (int i = 0; i < m->n_states; i++) {
        const State *st = &m->states[i];
        int64_t dims[IR_MAX_RANK];
        double bytes = interp_state_dims(m, st, dims);
        total += bytes;
        char b[512], why[160];
        if (tensor_alloc(&in->states[i], interp_value_dtype(st->dtype), st->shape.rank, dims)) {
            tensor_refusal(bytes, why, sizeof why);
            ir_shape_str(m, &st->shape, b, sizeof b);
            diag_error(d, st->loc, "state '%s' %s at the maximum of its dimensions %s", st->name, b, why);
            interp_free(in);
            return NULL;
        }
    }
    double mach = tensor_machine_bytes();
    if (mach > 0 && total > mach) {
        diag_error(d, m->states[0].loc, "the %d states at the maximum of their dimensions together need %.0f bytes, "
                   "more than this machine's memory (%.0f bytes)", m->n_states, total, mach);
        interp_free(in);
        return NULL;
    }
    return in;
}

void interp_free(Interp *in)
{
    if (!in) return;
    for (int i = 0; i < in->m->n_states; i++) tensor_free(&in->states[i]);
    free(in->states);
    free(in);
}

int interp_bind(Interp *in, const char *sym, int64_t value)
{
    int s = ir_module_sym(in->m, sym);
    if (!s) {
        diag_error(in->d, in->m->loc, "there is no dimension named '%s'", sym);
        return -1;
    }
    if (value < 0 || value > in->m->syms[s].max) {
        diag_error(in->d, in->m->loc, "'%s' = %lld is outside its range 0 to %lld", sym, (long long)value,
                   (long long)in->m->syms[s].max);
        return -1;
    }
    in->sym[s] = value;
    return 0;
}

int64_t interp_sym(const Interp *in, const char *sym)
{
    int s = ir_module_sym(in->m, sym);
    return s ? in->sym[s] : -1;
}

int interp_run(Interp *in, const Graph *g, const Tensor *inputs, Tensor *outputs)
{
    for (int i = 0; i < g->n_outputs; i++) memset(&outputs[i], 0, sizeof outputs[i]);
    if (bind_inputs(in, g, inputs) || check_syms(in, g)) return -1;
    int nn = g->n_nodes;
    size_t cap = (size_t)(nn ? nn : 1);
    Run r = { in, g, xcalloc(cap, sizeof *r.val), xcalloc(cap, 1), xcalloc(cap, sizeof *r.last),
              xcalloc(cap, sizeof *r.dims), -1 };
    int rc = plan(&r);
    for (int i = 0; i < nn && rc == 0; i++) {
        const Node *n = g->nodes[i];
        if (n->op == OP_INPUT) {
            int k = 0;
            while (g->inputs[k] != n) k++;
            r.val[i] = inputs[k];           /* borrowed */
            continue;
        }
        r.own[i] = 1;
        rc = interp_exec_node(&r, n, &r.val[i]);
        /* free what no later node reads */
        for (int j = 0; j < n->n_in; j++) {
            int p = n->in[j]->id;
            if (r.last[p] == i && r.own[p]) tensor_free(&r.val[p]);
        }
        if (r.last[i] == i && r.own[i]) tensor_free(&r.val[i]);
    }
    for (int k = 0; k < g->n_outputs && rc == 0; k++) {
        int id = g->outputs[k].node->id;
        if (r.own[id]) {                    /* hand the value over */
            outputs[k] = r.val[id];
            r.own[id] = 0;
        } else if (tensor_alloc(&outputs[k], r.val[id].dtype, r.val[id].rank, r.val[id].dim) == 0) {
            memcpy(outputs[k].data, r.val[id].data, (size_t)(4 * tensor_numel(&outputs[k])));
        } else {
            rc = interp_node_error(in, g->outputs[k].node, "output too large to copy");
        }
    }
    if (rc) {
        for (int k = 0; k < g->n_outputs; k++) tensor_free(&outputs[k]);
        /* an output handed over above is freed there; its val entry is not ours any more */
    }
    for (int i = 0; i < nn; i++)
        if (r.own[i]) tensor_free(&r.val[i]);
    if (rc == 0 && in->past && r.appended >= 0) in->sym[in->past] += r.appended;
    free(r.val);
    free(r.own);
    free(r.last);
    free(r.dims);
    return rc;
}

int interp_reorder(Interp *in, const int *parent, int n)
{
    Module *m = in->m;
    for (int i = 0; i < m->n_states; i++) {
        const State *st = &m->states[i];
        if (st->batch_axis < 0) continue;
        int64_t rows = in->states[i].dim[st->batch_axis];
        if (n < 0 || n > rows) {
            diag_error(in->d, st->loc, "beam reorder of %d rows, but state '%s' holds %lld", n, st->name, (long long)rows);
            return -1;
        }
        for (int b = 0; b < n; b++)
            if (parent[b] < 0 || parent[b] >= rows) {
                diag_error(in->d, st->loc, "beam reorder: row %d takes row %d, outside the %lld rows of state '%s'", b,
                           parent[b], (long long)rows, st->name);
                return -1;
            }
    }
    for (int i = 0; i < m->n_states; i++) {
        const State *st = &m->states[i];
        if (st->batch_axis < 0) continue;
        Tensor *s = &in->states[i];
        int ax = st->batch_axis;
        int64_t rows = s->dim[ax], outer = interp_prod(s->dim, 0, ax), inner = interp_prod(s->dim, ax + 1, s->rank);
        size_t bytes = (size_t)(4 * tensor_numel(s));
        float *old = xmalloc(bytes ? bytes : 1);        /* the state before reordering */
        memcpy(old, s->data, bytes);
        for (int64_t o = 0; o < outer; o++)
            for (int b = 0; b < n; b++)
                memcpy((float *)s->data + (o * rows + b) * inner, old + (o * rows + parent[b]) * inner,
                       (size_t)(4 * inner));
        free(old);
    }
    return 0;
}

void interp_reset(Interp *in)
{
    if (in->past) in->sym[in->past] = 0;
    for (int i = 0; i < in->m->n_states; i++)
        memset(in->states[i].data, 0, (size_t)(4 * tensor_numel(&in->states[i])));
}
