/* plan_memory.c — one arena for a graph's activations and the module's states.
 *
 * Sizes are taken with every symbol at its bound (the executable never needs more). States
 * are placed first and never freed. Nodes are then visited in order: a node's result takes
 * the lowest free gap large enough (first fit over a list of live regions sorted by offset)
 * and is released once its last reader has run; graph outputs live to the end. Aliases
 * own no storage: a reshape names its source's bytes, a take along axis 0 the block of
 * them at its index (alias_offset), e.g. the sum and the norm of a fused add+norm
 * (2, batch, seq, d) at 0 and batch·seq·d·4 bytes. Either keeps the storage it lies in
 * alive as long as it is read, through chains (a reshape of a take of ...). Inputs and
 * weights live outside the arena. O(n * live) — a few thousand nodes. */
#include "passes/passes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole block, states and activations, stays below 1 TiB: no machine the executable
 * runs on has more, and every offset sum below stays far from overflowing. */
#define PLAN_MAX_BYTES ((uint64_t)1 << 40)

static uint64_t align_up(uint64_t x) { return (x + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN; }

/* f32 bytes of a shape with every symbol at its bound, in double: for messages about
 * sizes that do not fit an int64. */
static double bytes_at_bounds(const Module *m, const Shape *s)
{
    double b = 4;
    for (int i = 0; i < s->rank; i++) {
        double v = (double)s->d[i].k;
        for (int t = 0; t < IR_DIM_TERMS; t++)
            if (s->d[i].sym[t]) v += (double)m->syms[s->d[i].sym[t]].max;
        b *= v;
    }
    return b;
}

/* "needs N bytes at the maximum of its dimensions, more than 1 TiB (1099511627776 bytes)" */
static void too_large(Diag *d, Loc at, const char *what, double need)
{
    if (need < 9e15)
        diag_error(d, at, "%s needs %.0f bytes at the maximum of its dimensions, more than the limit of %llu bytes",
                   what, need, (unsigned long long)PLAN_MAX_BYTES);
    else
        diag_error(d, at, "%s needs %.3g bytes at the maximum of its dimensions, more than the limit of %llu bytes",
                   what, need, (unsigned long long)PLAN_MAX_BYTES);
}

bool plan_is_alias(const Node *n)
{
    if (n->op == OP_RESHAPE) return true;
    if (n->op != OP_TAKE) return false;
    int64_t axis = ir_attr_int(n, A_axis, 0);
    return axis == 0 || axis == -(int64_t)n->in[0]->shape.rank;
}

/* Bytes from the start of alias x's input to x's first element, every symbol at its bound:
 * 0 for a reshape; for a take along axis 0, index (from the end when negative) times the
 * take's own size. -1 when that size is absurd. */
static int64_t alias_step_at_bounds(const Module *m, const Node *x)
{
    if (x->op == OP_RESHAPE) return 0;
    int64_t index = ir_attr_int(x, A_index, 0), numel = shape_numel_at_bounds(m, &x->shape);
    int64_t extent = shape_numel_at_bounds(m, &(Shape){ 1, { x->in[0]->shape.d[0] } });
    if (numel < 0 || extent < 0) return -1;
    int64_t at = index < 0 ? index + extent : index;
    if (at < 0 || (double)at * (double)numel * 4 >= (double)PLAN_MAX_BYTES) return -1;
    return at * numel * 4;
}

typedef struct Region {
    uint64_t off, size;
    int owner;                  /* node id, -1 for a state */
} Region;

int pass_plan_memory(const Module *m, const Graph *g, MemPlan *p, Diag *d)
{
    int n = g->n_nodes;
    memset(p, 0, sizeof *p);
    p->offset = xcalloc((size_t)n + 1, sizeof *p->offset);
    p->bytes = xcalloc((size_t)n + 1, sizeof *p->bytes);
    p->state_offset = xcalloc((size_t)m->n_states + 1, sizeof *p->state_offset);
    p->alias_of = xcalloc((size_t)n + 1, sizeof *p->alias_of);
    p->alias_offset = xcalloc((size_t)n + 1, sizeof *p->alias_offset);
    int *last = xcalloc((size_t)n + 1, sizeof *last);
    Region *live = xcalloc((size_t)n + (size_t)m->n_states + 1, sizeof *live);
    int n_live = 0, rc = 0;
    uint64_t top = 0;

    for (int i = 0; i < m->n_states; i++) {
        int64_t e = shape_numel_at_bounds(m, &m->states[i].shape);
        if (e < 0 || top + align_up((uint64_t)e * 4) > PLAN_MAX_BYTES) {
            char what[160];
            snprintf(what, sizeof what, "state '%s'%s", m->states[i].name, i ? " with the states before it" : "");
            double need = (double)top + bytes_at_bounds(m, &m->states[i].shape);
            too_large(d, m->states[i].loc, what, need);
            rc = -1;
            goto out;
        }
        p->state_offset[i] = top;
        live[n_live++] = (Region){ top, align_up((uint64_t)e * 4), -1 };
        top += align_up((uint64_t)e * 4);
    }
    /* the storage each node lies in, and its last reader (through aliases) */
    for (int i = 0; i < n; i++) {
        const Node *x = g->nodes[i];
        p->alias_of[i] = x;
        if (plan_is_alias(x)) {
            int64_t step = alias_step_at_bounds(m, x);
            if (step < 0) {
                char what[160];
                snprintf(what, sizeof what, "%s '%s': its input", op_name(x->op), x->name);
                too_large(d, x->loc, what, bytes_at_bounds(m, &x->in[0]->shape));
                rc = -1;
                goto out;
            }
            p->alias_of[i] = p->alias_of[x->in[0]->id];
            p->alias_offset[i] = p->alias_offset[x->in[0]->id] + (uint64_t)step;
        }
        last[i] = i;
        for (int j = 0; j < x->n_in; j++) last[p->alias_of[x->in[j]->id]->id] = i;
    }
    for (int i = 0; i < g->n_outputs; i++) last[p->alias_of[g->outputs[i].node->id]->id] = n;

    for (int i = 0; i < n; i++) {
        const Node *x = g->nodes[i];
        p->offset[i] = PLAN_NONE;
        if (x->op == OP_INPUT || x->op == OP_WEIGHT || plan_is_alias(x)) continue;
        int64_t e = shape_numel_at_bounds(m, &x->shape);
        if (e < 0 || (uint64_t)e * 4 > PLAN_MAX_BYTES) {
            char what[160];
            snprintf(what, sizeof what, "%s '%s': its result", op_name(x->op), x->name);
            too_large(d, x->loc, what, bytes_at_bounds(m, &x->shape));
            rc = -1;
            goto out;
        }
        uint64_t size = align_up(e ? (uint64_t)e * 4 : PLAN_ALIGN);
        /* first fit: the regions are sorted by offset */
        uint64_t at = 0;
        int k = 0;
        for (; k < n_live; k++) {
            if (live[k].off >= at + size) break;
            if (live[k].off + live[k].size > at) at = live[k].off + live[k].size;
        }
        memmove(live + k + 1, live + k, (size_t)(n_live - k) * sizeof *live);
        live[k] = (Region){ at, size, i };
        n_live++;
        p->offset[i] = at;
        p->bytes[i] = size;
        if (at + size > top) top = at + size;
        if (top > PLAN_MAX_BYTES) {
            char what[160];
            snprintf(what, sizeof what, "the memory plan, with %s '%s',", op_name(x->op), x->name);
            too_large(d, x->loc, what, (double)top);
            rc = -1;
            goto out;
        }
        /* release what this node was the last to read (a result nobody reads goes one step
         * later: it must not share storage with its own inputs) */
        for (int r = 0; r < n_live;) {
            int o = live[r].owner;
            if (o >= 0 && last[o] <= i && o != i) {
                memmove(live + r, live + r + 1, (size_t)(n_live - r - 1) * sizeof *live);
                n_live--;
            } else {
                r++;
            }
        }
    }
    p->arena_bytes = align_up(top ? top : PLAN_ALIGN);
out:
    free(last);
    free(live);
    if (rc) mem_plan_free(p);
    return rc;
}

void mem_plan_free(MemPlan *p)
{
    free(p->offset);
    free(p->bytes);
    free(p->state_offset);
    free(p->alias_of);
    free(p->alias_offset);
    memset(p, 0, sizeof *p);
}
