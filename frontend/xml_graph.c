/* xml_graph.c — a <graph> of a model description into an IR graph.
 *
 * The body is walked in document order; <repeat> bodies are expanded with their loop
 * variable in scope, and a carry (the residual stream from layer to layer) is a name that
 * means init in the first iteration and the previous iteration's next afterwards. Ops may
 * refer to names defined later, so inputs are resolved by name once the graph is
 * complete — through aliases (carry results, a second name for a shared weight) — and then
 * the graph is sorted, a cycle being an error. Types are inferred later, by fe_finish, once
 * the weight files have told us the weights' dtypes. */
#include "frontend_impl.h"
#include "support/diag.h"

#include <stdlib.h>
#include <string.h>

/* An op waiting for its inputs to be resolved by name. */
typedef struct PendIn {
    Node *node;
    const char *names[IR_MAX_INPUTS];
    int n;
    Loc at;
} PendIn;

typedef struct Alias {
    const char *name, *target;
    Loc at;
} Alias;

typedef struct Carry {
    const char *name, *target;
    const struct Carry *up;
} Carry;

typedef struct GraphBuild {
    Graph *g;
    NameMap weight_nodes;   /* tensor name → index of its WEIGHT node in g */
    NameMap alias_index;    /* alias name → its last entry in alias */
    PendIn *pend; int n_pend, cap_pend;
    Alias *alias; int n_alias, cap_alias;
    struct { const char *name, *from; Loc at, from_at; } *outs; int n_outs, cap_outs;
} GraphBuild;

/* ---- suggestions ---------------------------------------------------------------------- */

static const char *closest_op(const char *name)
{
    Suggest s = suggest_start(name);
    for (int i = 0; i < OP_COUNT; i++)
        if (!(op_info[i].flags & OPF_FUSED) && i != OP_INPUT && i != OP_WEIGHT) suggest_try(&s, op_name((OpKind)i));
    return s.best;
}

/* ---- graphs ------------------------------------------------------------------------------ */

static const char *carry_resolve(const Carry *c, const char *name)
{
    for (; c; c = c->up)
        if (strcmp(c->name, name) == 0) return c->target;
    return name;
}

static void read_op(Fe *fe, GraphBuild *gb, xmlNode *x, const Scope *sc, const Carry *carry)
{
    Loc at = fe_elem_loc(fe, x);
    const char *kind = fe_get(fe, sc, x, "kind");
    const char *name = fe_get_name(fe, sc, x, "name");
    if (!kind || !name) return;
    int op = op_from_name(kind);
    if (op < 0) {
        const char *near = closest_op(kind);
        if (near) diag_error(fe->d, fe_attr_loc(fe, x, "kind"), "unknown op '%s'; did you mean '%s'?", kind, near);
        else diag_error(fe->d, fe_attr_loc(fe, x, "kind"), "unknown op '%s' (docs/ir.md lists the ops)", kind);
        return;
    }
    if (op_info[op].flags & OPF_FUSED) {
        diag_error(fe->d, fe_attr_loc(fe, x, "kind"),
                   "'%s' is a fused op that only kiln's passes create; write it as primitive ops%s", kind,
                   op == OP_ATTENTION ? " (matmul, scale, mask, softmax, matmul)" : "");
        return;
    }
    if (op == OP_INPUT || op == OP_WEIGHT) {
        diag_error(fe->d, fe_attr_loc(fe, x, "kind"), "write <%s .../> instead of <op kind=\"%s\"/>", kind, kind);
        return;
    }
    Node *n = ir_node_new(gb->g, (OpKind)op, name, at);
    PendIn pe = { n, { 0 }, 0, fe_attr_loc(fe, x, "in") };
    const char *in = fe_get(fe, sc, x, "in");
    if (in) {
        const char *p = in;
        while (*p) {
            while (*p == ' ' || *p == '\t' || *p == '\n') p++;
            const char *s = p;
            while (*p && *p != ',') p++;
            const char *e = p;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n')) e--;
            if (*p == ',') p++;
            char *ref = arena_strndup(fe->a, s, (size_t)(e - s));
            if (!fe_valid_name(ref)) {
                diag_error(fe->d, pe.at, "op '%s': input \"%s\" is not a valid name", name, ref);
                return;
            }
            if (pe.n == IR_MAX_INPUTS) {
                diag_error(fe->d, pe.at, "%s '%s': too many inputs (at most %d)", kind, name, op_info[op].max_in);
                return;
            }
            pe.names[pe.n++] = carry_resolve(carry, ref);
        }
    }
    for (xmlAttr *a = x->properties; a; a = a->next) {
        const char *an = (const char *)a->name;
        if (!strcmp(an, "kind") || !strcmp(an, "name") || !strcmp(an, "in")) continue;
        Loc aat = fe_attr_loc(fe, x, an);
        const char *v = fe_get(fe, sc, x, an);
        if (!v) return;
        if (op == OP_STATE_READ && strcmp(an, "shape") == 0) {
            if (fe_parse_dims(fe, v, &n->shape, aat, "shape")) return;
            continue;
        }
        int k = attr_from_name(an);
        if (k < 0 || !op_accepts((OpKind)op, (AttrKind)k)) {
            char list[256] = "";
            size_t len = 0;
            for (int j = 0; j < A_COUNT; j++)
                if (op_accepts((OpKind)op, (AttrKind)j))
                    len += (size_t)snprintf(list + len, len < sizeof list ? sizeof list - len : 0, "%s%s", len ? ", " : "", attr_info[j].name);
            diag_error(fe->d, aat, "op %s takes no attribute '%s'%s%s%s", kind, an, len ? " (it takes: " : "", list, len ? ")" : "");
            return;
        }
        if (fe_set_attr(fe, n, (AttrKind)k, v, aat)) return;
    }
    if (op_info[op].flags & OPF_STATE) {
        const char *st = ir_attr_str(n, A_state, NULL);
        if (st && (n->ref = ir_module_state(fe->m, st)) < 0) {
            diag_error(fe->d, fe_attr_loc(fe, x, "state"), "%s '%s': unknown state '%s' (declare it with <state name=\"%s\" .../>)", kind, name, st, st);
            return;
        }
    }
    VEC_PUSH(gb->pend, gb->n_pend, gb->cap_pend, pe);
}

static void add_alias(Fe *fe, GraphBuild *gb, const char *name, const char *target, Loc at)
{
    Alias al = { name, target, at };
    VEC_PUSH(gb->alias, gb->n_alias, gb->cap_alias, al);
    namemap_put(fe->a, &gb->alias_index, name, gb->n_alias - 1);
}

static void read_weight(Fe *fe, GraphBuild *gb, xmlNode *x, const Scope *sc)
{
    Loc at = fe_elem_loc(fe, x);
    const char *name = fe_get_name(fe, sc, x, "name");
    const char *tensor = fe_get(fe, sc, x, "tensor");
    const char *shape = fe_get(fe, sc, x, "shape");
    const char *dt = fe_get(fe, sc, x, "dtype");
    Shape s;
    DType dtype = DT_F32;
    if (!name || !tensor || !shape) return;
    if (fe_parse_dims(fe, shape, &s, fe_attr_loc(fe, x, "shape"), "weight shape")) return;
    for (int i = 0; i < s.rank; i++)
        if (!dim_is_const(s.d[i]) || s.d[i].k < 1) {
            diag_error(fe->d, fe_attr_loc(fe, x, "shape"), "weight '%s': dimensions must be positive constants (\"%s\")", name, shape);
            return;
        }
    if (shape_numel_const(&s) < 0) {
        diag_error(fe->d, fe_attr_loc(fe, x, "shape"), "weight '%s': shape \"%s\" is absurdly large", name, shape);
        return;
    }
    if (dt && fe_parse_dtype(fe, dt, &dtype, fe_attr_loc(fe, x, "dtype"))) return;
    /* One WEIGHT node per tensor per graph: a second name for the same tensor (ALBERT's
     * shared layers) becomes an alias of the first. */
    int w = ir_module_weight(fe->m, tensor);
    if (w >= 0) {
        Weight *wt = &fe->m->weights[w];
        if (!shape_eq(&wt->shape, &s)) {
            char b1[256], b2[256];
            ir_shape_str(fe->m, &wt->shape, b1, sizeof b1);
            ir_shape_str(fe->m, &s, b2, sizeof b2);
            diag_error(fe->d, fe_attr_loc(fe, x, "shape"), "weight '%s': tensor '%s' was declared %s at line %u, here %s",
                       name, tensor, b1, wt->loc.line, b2);
            return;
        }
        int o = namemap_get(&gb->weight_nodes, tensor);
        if (o >= 0) {
            add_alias(fe, gb, name, gb->g->nodes[o]->name, at);
            return;
        }
    } else {
        w = ir_module_add_weight(fe->m, tensor, dtype, &s, at);
        fe->m->weights[w].declared = dt ? (int)dtype : -1;
    }
    namemap_put(fe->a, &gb->weight_nodes, fe->m->weights[w].tensor, gb->g->n_nodes);
    Node *n = ir_node_new(gb->g, OP_WEIGHT, name, at);
    ir_node_set_attr(fe->m, n, A_tensor)->v.s = fe->m->weights[w].tensor;
    n->ref = w;
    n->dtype = fe->m->weights[w].dtype;
    n->shape = s;
}

static void read_graph_body(Fe *fe, GraphBuild *gb, xmlNode *first, const Scope *sc, const Carry *carry);

static void read_repeat(Fe *fe, GraphBuild *gb, xmlNode *x, const Scope *sc, const Carry *carry)
{
    const char *var = fe_get_name(fe, sc, x, "var");
    int64_t count;
    if (!var || fe_repeat_count(fe, sc, x, &count)) return;
    const char *cname = fe_raw_attr(x, "carry");
    const char *init = NULL;
    if (cname) {
        cname = fe_get_name(fe, sc, x, "carry");
        init = fe_get_name(fe, sc, x, "init");
        if (!cname || !init || !fe_raw_attr(x, "next")) {
            if (cname && (!fe_raw_attr(x, "init") || !fe_raw_attr(x, "next")))
                diag_error(fe->d, fe_elem_loc(fe, x), "repeat with carry=\"%s\" needs init and next", cname);
            return;
        }
        init = carry_resolve(carry, init);
    } else if (fe_raw_attr(x, "init") || fe_raw_attr(x, "next") || fe_raw_attr(x, "result")) {
        diag_error(fe->d, fe_elem_loc(fe, x), "init, next and result need carry");
        return;
    }
    const char *cur = init;
    for (int64_t i = 0; i < count; i++) {
        Scope inner = { var, arena_printf(fe->a, "%lld", (long long)i), sc };
        Carry c = { cname, cur, carry };
        int errs = fe->d->n_errors;
        read_graph_body(fe, gb, x->children, &inner, cname ? &c : carry);
        if (cname) {
            cur = fe_get_name(fe, &inner, x, "next");
            if (!cur) return;
        }
        if (fe->d->n_errors > errs) return;     /* one report per mistake, not per layer */
    }
    if (cname && fe_raw_attr(x, "result")) {
        const char *res = fe_get_name(fe, sc, x, "result");
        if (!res) return;
        add_alias(fe, gb, res, cur, fe_attr_loc(fe, x, "result"));
    }
}

/* Far above real models (GPT-2 124M: ~600 nodes; a 96-layer model: ~6000), low enough that
 * nested repeats cannot make kiln run out of memory or time before it says no. */
enum { FE_MAX_NODES = 1000000 };

static void read_graph_body(Fe *fe, GraphBuild *gb, xmlNode *first, const Scope *sc, const Carry *carry)
{
    for (xmlNode *x = first; x && !diag_too_many(fe->d); x = x->next) {
        if (x->type != XML_ELEMENT_NODE) continue;
        if (gb->g->n_nodes >= FE_MAX_NODES) {
            diag_error(fe->d, fe_elem_loc(fe, x), "graph '%s' has more than %d nodes; are repeats nested too deep?",
                       gb->g->name, FE_MAX_NODES);
            return;
        }
        const char *tag = (const char *)x->name;
        if (strcmp(tag, "op") == 0) read_op(fe, gb, x, sc, carry);
        else if (strcmp(tag, "weight") == 0) read_weight(fe, gb, x, sc);
        else if (strcmp(tag, "repeat") == 0) read_repeat(fe, gb, x, sc, carry);
        else if (strcmp(tag, "input") == 0) {
            const char *name = fe_get_name(fe, sc, x, "name");
            const char *dt = fe_get(fe, sc, x, "dtype"), *shape = fe_get(fe, sc, x, "shape");
            DType dtype;
            Shape s;
            if (!name || !dt || !shape || fe_parse_dtype(fe, dt, &dtype, fe_attr_loc(fe, x, "dtype")) ||
                fe_parse_dims(fe, shape, &s, fe_attr_loc(fe, x, "shape"), "input shape"))
                continue;
            Node *n = ir_node_new(gb->g, OP_INPUT, name, fe_elem_loc(fe, x));
            n->dtype = dtype;
            n->shape = s;
        } else if (strcmp(tag, "output") == 0) {
            const char *name = fe_get_name(fe, sc, x, "name"), *from = fe_get_name(fe, sc, x, "from");
            if (!name || !from) continue;
            if (gb->n_outs == gb->cap_outs) {
                gb->cap_outs = gb->cap_outs ? 2 * gb->cap_outs : 4;
                gb->outs = xrealloc(gb->outs, (size_t)gb->cap_outs * sizeof *gb->outs);
            }
            gb->outs[gb->n_outs].name = name;
            gb->outs[gb->n_outs].from = carry_resolve(carry, from);
            gb->outs[gb->n_outs].at = fe_elem_loc(fe, x);
            gb->outs[gb->n_outs].from_at = fe_attr_loc(fe, x, "from");
            gb->n_outs++;
        }
    }
}

/* Name → node, following aliases (a chain of aliases ends at a node or nowhere). */
static Node *lookup(GraphBuild *gb, Node **idx, const char *name, int depth)
{
    Node *x = ir_sorted_find(idx, gb->g->n_nodes, name);
    if (x || depth >= 16) return x;
    int i = namemap_get(&gb->alias_index, name);
    return i < 0 ? NULL : lookup(gb, idx, gb->alias[i].target, depth + 1);
}

/* The closest defined name, for "did you mean" (only while messages are still printed:
 * it reads every name). */
static const char *closest_name(Fe *fe, GraphBuild *gb, const char *name)
{
    if (diag_too_many(fe->d)) return NULL;
    Suggest s = suggest_start(name);
    for (int i = 0; i < gb->g->n_nodes; i++) suggest_try(&s, gb->g->nodes[i]->name);
    for (int i = 0; i < gb->n_alias; i++) suggest_try(&s, gb->alias[i].name);
    return s.best;
}

static void finish_graph(Fe *fe, GraphBuild *gb, int errs_before)
{
    if (fe->d->n_errors > errs_before) return;   /* names would only cascade from those errors */
    Graph *g = gb->g;
    ir_graph_renumber(g);
    Node **idx = ir_graph_sorted(g);
    int errs = fe->d->n_errors;
    for (int i = 1; i < g->n_nodes; i++)
        if (strcmp(idx[i - 1]->name, idx[i]->name) == 0)
            diag_error(fe->d, idx[i]->loc, "name '%s' is defined twice (first at line %u)", idx[i]->name, idx[i - 1]->loc.line);
    for (int i = 0; i < gb->n_alias; i++)
        if (ir_sorted_find(idx, g->n_nodes, gb->alias[i].name))
            diag_error(fe->d, gb->alias[i].at, "name '%s' is defined twice", gb->alias[i].name);
    for (int i = 0; i < gb->n_pend; i++) {
        PendIn *pe = &gb->pend[i];
        for (int j = 0; j < pe->n; j++) {
            Node *x = lookup(gb, idx, pe->names[j], 0);
            if (!x) {
                const char *near = closest_name(fe, gb, pe->names[j]);
                if (near) diag_error(fe->d, pe->at, "%s '%s': '%s' is not defined; did you mean '%s'?", op_name(pe->node->op), pe->node->name, pe->names[j], near);
                else diag_error(fe->d, pe->at, "%s '%s': '%s' is not defined", op_name(pe->node->op), pe->node->name, pe->names[j]);
                continue;
            }
            ir_node_add_input(pe->node, x);
        }
    }
    for (int i = 0; i < gb->n_outs; i++) {
        Node *x = lookup(gb, idx, gb->outs[i].from, 0);
        const char *near = x ? NULL : closest_name(fe, gb, gb->outs[i].from);
        if (near) diag_error(fe->d, gb->outs[i].from_at, "output '%s': '%s' is not defined; did you mean '%s'?",
                             gb->outs[i].name, gb->outs[i].from, near);
        else if (!x) diag_error(fe->d, gb->outs[i].from_at, "output '%s': '%s' is not defined", gb->outs[i].name, gb->outs[i].from);
        else ir_graph_add_output(g, gb->outs[i].name, x, gb->outs[i].at);
    }
    if (g->n_outputs == 0 && fe->d->n_errors == errs) diag_error(fe->d, g->loc, "graph '%s' has no <output>", g->name);
    free(idx);
    if (fe->d->n_errors == errs) ir_graph_toposort(g, fe->d);
}

void fe_read_graph(Fe *fe, xmlNode *x)
{
    const char *name = fe_raw_attr(x, "name") ? fe_get_name(fe, NULL, x, "name") : "forward";
    if (!name) return;
    if (ir_module_graph(fe->m, name)) {
        diag_error(fe->d, fe_elem_loc(fe, x), "graph '%s' is defined twice", name);
        return;
    }
    GraphBuild gb = { 0 };
    gb.g = ir_graph_new(fe->m, name, fe_elem_loc(fe, x));
    int errs = fe->d->n_errors;
    read_graph_body(fe, &gb, x->children, NULL, NULL);
    finish_graph(fe, &gb, errs);
    free(gb.pend);
    free(gb.alias);
    free(gb.outs);
}
