/* module.c — building modules, graphs and nodes; dims; topological order.
 *
 * Everything lives in the module's arena and is freed with it. Growable arrays (nodes,
 * weights, ...) are arena-backed too and grow by doubling into a fresh block; the old one
 * stays in the arena until the end (graphs are small: a 48-layer model has ~2k nodes). */
#include "ir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Grows an arena array by doubling; the old block is simply left in the arena. */
#define ARENA_PUSH(a, arr, n, cap, item) do {                                     \
        if ((n) == (cap)) {                                                       \
            int ncap_ = (cap) ? 2 * (cap) : 8;                                    \
            void *grown_ = arena_array((a), (size_t)ncap_, sizeof *(arr));        \
            if (n) memcpy(grown_, (arr), (size_t)(n) * sizeof *(arr));            \
            (arr) = grown_;                                                       \
            (cap) = ncap_;                                                        \
        }                                                                         \
        (arr)[(n)++] = (item);                                                    \
    } while (0)

Module *ir_module_new(Arena *a)
{
    Module *m = arena_alloc(a, sizeof *m);
    m->arena = a;
    m->base_dir = ".";
    return m;
}

Graph *ir_graph_new(Module *m, const char *name, Loc loc)
{
    Graph *g = arena_alloc(m->arena, sizeof *g);
    g->name = arena_strdup(m->arena, name);
    g->loc = loc;
    g->arena = m->arena;
    ARENA_PUSH(m->arena, m->graphs, m->n_graphs, m->cap_graphs, g);
    return g;
}

Graph *ir_module_graph(const Module *m, const char *name)
{
    for (int i = 0; i < m->n_graphs; i++)
        if (strcmp(m->graphs[i]->name, name) == 0) return m->graphs[i];
    return NULL;
}

int ir_module_sym(const Module *m, const char *name)
{
    for (int i = 1; i <= m->n_syms; i++)
        if (strcmp(m->syms[i].name, name) == 0) return i;
    return 0;
}

int ir_module_add_sym(Module *m, const char *name, int64_t max, Loc loc)
{
    if (m->n_syms == IR_MAX_SYMS) return -1;
    Symbol *s = &m->syms[++m->n_syms];
    s->name = arena_strdup(m->arena, name);
    s->max = max;
    s->loc = loc;
    return m->n_syms;
}

int ir_module_state(const Module *m, const char *name)
{
    return namemap_get(&m->state_index, name);
}

int ir_module_weight(const Module *m, const char *tensor)
{
    return namemap_get(&m->weight_index, tensor);
}

const char *ir_module_param(const Module *m, const char *name)
{
    int i = namemap_get(&m->param_index, name);
    return i < 0 ? NULL : m->params[i].value;
}

int ir_module_eos(const Module *m, int64_t vocab, int64_t *eos)
{
    return ir_module_token(m, "eos", vocab, eos);
}

int ir_module_token(const Module *m, const char *name, int64_t vocab, int64_t *eos)
{
    const char *v = ir_module_param(m, name);
    *eos = -1;
    if (!v) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno || x < 0 || x >= vocab) return -1;
    *eos = x;
    return 0;
}

void ir_module_add_param(Module *m, const char *name, const char *value, Loc loc)
{
    Param p = { arena_strdup(m->arena, name), arena_strdup(m->arena, value), loc };
    ARENA_PUSH(m->arena, m->params, m->n_params, m->cap_params, p);
    namemap_put(m->arena, &m->param_index, p.name, m->n_params - 1);   /* the last one wins */
}

int ir_module_add_weight_file(Module *m, const char *path, Loc loc)
{
    WeightFile f = { arena_strdup(m->arena, path), loc, NULL };
    ARENA_PUSH(m->arena, m->wfiles, m->n_wfiles, m->cap_wfiles, f);
    return m->n_wfiles - 1;
}

int ir_module_add_weight(Module *m, const char *tensor, DType dt, const Shape *shape, Loc loc)
{
    Weight w = { arena_strdup(m->arena, tensor), dt, -1, 0, *shape, NULL, loc, 0, NULL };
    ARENA_PUSH(m->arena, m->weights, m->n_weights, m->cap_weights, w);
    namemap_put(m->arena, &m->weight_index, w.tensor, m->n_weights - 1);
    return m->n_weights - 1;
}

int ir_module_weight_transposed(Module *m, int w)
{
    KILN_ASSERT(m->weights[w].shape.rank == 2 && !m->weights[w].transposed);
    for (int i = 0; i < m->n_weights; i++)
        if (m->weights[i].transposed && !strcmp(m->weights[i].tensor, m->weights[w].tensor)) return i;
    Weight t = m->weights[w];       /* same data, swapped axes; not in weight_index (that is by file name) */
    t.transposed = 1;
    t.shape.d[0] = m->weights[w].shape.d[1];
    t.shape.d[1] = m->weights[w].shape.d[0];
    ARENA_PUSH(m->arena, m->weights, m->n_weights, m->cap_weights, t);
    return m->n_weights - 1;
}

int ir_module_weight_concat(Module *m, const int *parts, int n)
{
    KILN_ASSERT(n >= 1 && n <= IR_MAX_RANK);
    const Weight *p0 = &m->weights[parts[0]];
    Weight c = *p0;
    size_t len = 0;
    for (int i = 0; i < n; i++) len += strlen(m->weights[parts[i]].tensor) + 1;
    char *tensor = arena_alloc(m->arena, len + 1);
    tensor[0] = 0;
    c.shape.d[0] = dim_const(0);
    for (int i = 0; i < n; i++) {
        const Weight *p = &m->weights[parts[i]];
        KILN_ASSERT(!p->n_parts && p->shape.rank == p0->shape.rank && p->dtype == p0->dtype &&
                    p->transposed == p0->transposed && (p->shape.rank == 1 || dim_eq(p->shape.d[1], p0->shape.d[1])));
        if (i) strcat(tensor, ",");
        strcat(tensor, p->tensor);
        c.shape.d[0].k += p->shape.d[0].k;
    }
    for (int i = 0; i < m->n_weights; i++)
        if (m->weights[i].n_parts && m->weights[i].transposed == c.transposed && !strcmp(m->weights[i].tensor, tensor))
            return i;
    c.tensor = tensor;
    c.declared = -1;
    c.n_parts = n;
    c.parts = arena_array(m->arena, (size_t)n, sizeof *c.parts);
    for (int i = 0; i < n; i++) c.parts[i] = m->weights[parts[i]];
    ARENA_PUSH(m->arena, m->weights, m->n_weights, m->cap_weights, c);
    return m->n_weights - 1;
}

void ir_module_bind_concats(Module *m)
{
    for (int i = 0; i < m->n_weights; i++) {
        Weight *c = &m->weights[i];
        for (int j = 0; j < c->n_parts; j++) {
            int file = ir_module_weight(m, c->parts[j].tensor);
            if (file < 0) continue;
            c->parts[j].data = m->weights[file].data;
            c->parts[j].dtype = m->weights[file].dtype;
        }
        if (c->n_parts) {
            c->data = c->parts[0].data;
            c->dtype = c->parts[0].dtype;
        }
    }
}

int ir_module_add_state(Module *m, const char *name, DType dt, const Shape *shape, int batch_axis, Loc loc)
{
    State s = { arena_strdup(m->arena, name), dt, *shape, batch_axis, loc };
    ARENA_PUSH(m->arena, m->states, m->n_states, m->cap_states, s);
    namemap_put(m->arena, &m->state_index, s.name, m->n_states - 1);
    return m->n_states - 1;
}

/* ---- nodes ------------------------------------------------------------------------ */

Node *ir_node_new(Graph *g, OpKind op, const char *name, Loc loc)
{
    Node *n = arena_alloc(g->arena, sizeof *n);
    n->op = op;
    n->name = arena_strdup(g->arena, name);
    n->loc = loc;
    n->ref = -1;
    n->id = g->n_nodes;
    ARENA_PUSH(g->arena, g->nodes, g->n_nodes, g->cap_nodes, n);
    if (op == OP_INPUT) ARENA_PUSH(g->arena, g->inputs, g->n_inputs, g->cap_inputs, n);
    return n;
}

void ir_node_add_input(Node *n, Node *in)
{
    KILN_ASSERT(n->n_in < IR_MAX_INPUTS);
    n->in[n->n_in++] = in;
}

Attr *ir_node_set_attr(Module *m, Node *n, AttrKind k)
{
    int i = 0;
    while (i < n->n_attrs && n->attrs[i].kind < k) i++;
    if (i < n->n_attrs && n->attrs[i].kind == k) return &n->attrs[i];
    Attr *grown = arena_array(m->arena, (size_t)n->n_attrs + 1, sizeof *grown);
    if (i) memcpy(grown, n->attrs, (size_t)i * sizeof *grown);
    if (n->n_attrs > i) memcpy(grown + i + 1, n->attrs + i, (size_t)(n->n_attrs - i) * sizeof *grown);
    grown[i].kind = k;
    n->attrs = grown;
    n->n_attrs++;
    return &grown[i];
}

const Attr *ir_node_attr(const Node *n, AttrKind k)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (n->attrs[i].kind == k) return &n->attrs[i];
    return NULL;
}

int64_t ir_attr_int(const Node *n, AttrKind k, int64_t dflt)
{
    const Attr *a = ir_node_attr(n, k);
    return a ? a->v.i : dflt;
}

double ir_attr_float(const Node *n, AttrKind k, double dflt)
{
    const Attr *a = ir_node_attr(n, k);
    return a ? a->v.f : dflt;
}

const char *ir_attr_str(const Node *n, AttrKind k, const char *dflt)
{
    const Attr *a = ir_node_attr(n, k);
    return a ? a->v.s : dflt;
}

Node *ir_graph_find(const Graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i]->name, name) == 0) return g->nodes[i];
    return NULL;
}

static int by_name(const void *a, const void *b)
{
    const Node *x = *(Node *const *)a, *y = *(Node *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->id > y->id) - (x->id < y->id);
}

Node **ir_graph_sorted(const Graph *g)
{
    Node **idx = xcalloc((size_t)g->n_nodes + 1, sizeof *idx);
    if (g->n_nodes) {       /* an empty graph has no node array at all */
        memcpy(idx, g->nodes, (size_t)g->n_nodes * sizeof *idx);
        qsort(idx, (size_t)g->n_nodes, sizeof *idx, by_name);
    }
    return idx;
}

Node *ir_sorted_find(Node *const *sorted, int n, const char *name)
{
    int lo = 0, hi = n - 1, hit = -1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(sorted[mid]->name, name);
        if (c == 0) hit = mid;
        if (c >= 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return hit >= 0 ? sorted[hit] : NULL;
}

void ir_graph_add_output(Graph *g, const char *name, Node *node, Loc loc)
{
    Output o = { arena_strdup(g->arena, name), node, loc };
    ARENA_PUSH(g->arena, g->outputs, g->n_outputs, g->cap_outputs, o);
}

void ir_graph_renumber(Graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i]->id = i;
}

/* Kahn's algorithm over node ids, always taking the earliest ready node, so a graph that
 * is already in order stays exactly as written. O(n^2) in the worst case, fine for the
 * few thousand nodes of a model. A leftover node lies on or after a cycle; we walk its
 * unsorted inputs until a node repeats and report that loop. */
int ir_graph_toposort(Graph *g, Diag *d)
{
    int n = g->n_nodes;
    ir_graph_renumber(g);
    char *done = xcalloc((size_t)n, 1);
    Node **order = xcalloc((size_t)n, sizeof *order);
    int placed = 0, progress = 1, first = 0;     /* nodes before first are all placed */
    while (placed < n && progress) {
        progress = 0;
        while (first < n && done[first]) first++;
        for (int i = first; i < n; i++) {
            if (done[i]) continue;
            Node *x = g->nodes[i];
            int ready = 1;
            for (int j = 0; j < x->n_in; j++)
                if (!done[x->in[j]->id]) { ready = 0; break; }
            if (!ready) continue;
            done[i] = 1;
            order[placed++] = x;
            progress = 1;
            break;          /* restart from the earliest index */
        }
    }
    int rc = 0;
    if (placed < n) {
        /* Find a loop: start anywhere unsorted, follow unsorted inputs. */
        int start = 0;
        while (done[start]) start++;
        char *seen = xcalloc((size_t)n, 1);
        Node *x = g->nodes[start];
        while (!seen[x->id]) {
            seen[x->id] = 1;
            for (int j = 0; j < x->n_in; j++)
                if (!done[x->in[j]->id]) { x = x->in[j]; break; }
        }
        /* x is on the loop: print it from x around to x. */
        char path[512];
        size_t len = 0;
        Node *y = x;
        do {
            len += (size_t)snprintf(path + len, len < sizeof path ? sizeof path - len : 0, "'%s' <- ", y->name);
            for (int j = 0; j < y->n_in; j++)
                if (!done[y->in[j]->id] && seen[y->in[j]->id]) { y = y->in[j]; break; }
        } while (y != x && len < sizeof path);
        if (len < sizeof path) snprintf(path + len, sizeof path - len, "'%s'", x->name);
        else strcpy(path + sizeof path - 5, "...");
        diag_error(d, x->loc, "%s '%s' depends on itself: %s", op_name(x->op), x->name, path);
        free(seen);
        rc = -1;
    } else {
        if (n) memcpy(g->nodes, order, (size_t)n * sizeof *order);
        ir_graph_renumber(g);
    }
    free(done);
    free(order);
    return rc;
}

/* ---- dims --------------------------------------------------------------------------- */

Dim dim_const(int64_t k)
{
    Dim d = { k, { 0, 0 } };
    return d;
}

Dim dim_sym(int s)
{
    Dim d = { 0, { (uint8_t)s, 0 } };
    return d;
}

bool dim_is_const(Dim d) { return d.sym[0] == 0; }

bool dim_eq(Dim a, Dim b)
{
    return a.k == b.k && a.sym[0] == b.sym[0] && a.sym[1] == b.sym[1];
}

bool dim_add(Dim a, Dim b, Dim *out)
{
    Dim r = dim_const(a.k + b.k);
    int n = 0;
    uint8_t all[2 * IR_DIM_TERMS];
    for (int i = 0; i < IR_DIM_TERMS; i++) {
        if (a.sym[i]) all[n++] = a.sym[i];
        if (b.sym[i]) all[n++] = b.sym[i];
    }
    if (n > IR_DIM_TERMS) return false;
    if (n == 2 && all[0] > all[1]) { uint8_t t = all[0]; all[0] = all[1]; all[1] = t; }
    for (int i = 0; i < n; i++) r.sym[i] = all[i];
    *out = r;
    return true;
}

bool shape_eq(const Shape *a, const Shape *b)
{
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (!dim_eq(a->d[i], b->d[i])) return false;
    return true;
}

int64_t shape_numel_const(const Shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        if (!dim_is_const(s->d[i]) || s->d[i].k < 0) return -1;
        if (s->d[i].k && n > IR_MAX_EXTENT / s->d[i].k) return -1;
        n *= s->d[i].k;
    }
    return n;
}

int64_t shape_numel_at_bounds(const Module *m, const Shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        int64_t v = s->d[i].k;
        for (int t = 0; t < IR_DIM_TERMS; t++)
            if (s->d[i].sym[t]) v += m->syms[s->d[i].sym[t]].max;
        if (v < 0 || v > IR_MAX_EXTENT) return -1;
        if (v && n > IR_MAX_EXTENT / v) return -1;
        n *= v;
    }
    return n;
}

void ir_dim_str(const Module *m, Dim d, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < IR_DIM_TERMS && d.sym[i]; i++)
        len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0, "%s%s", i ? "+" : "",
                                m->syms[d.sym[i]].name);
    if (len == 0) snprintf(buf, cap, "%lld", (long long)d.k);
    else if (d.k > 0) snprintf(buf + len, len < cap ? cap - len : 0, "+%lld", (long long)d.k);
    else if (d.k < 0) snprintf(buf + len, len < cap ? cap - len : 0, "%lld", (long long)d.k);
}

void ir_shape_str(const Module *m, const Shape *s, char *buf, size_t cap)
{
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < s->rank && len < cap; i++) {
        char d[96];
        ir_dim_str(m, s->d[i], d, sizeof d);
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", d);
    }
    if (len < cap) snprintf(buf + len, cap - len, "]");
}
