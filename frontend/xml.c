/* xml.c — reads a model description (docs/model-format.md) into a module.
 *
 * Three steps. libxml2 parses the file (no network, no entity expansion, big line numbers)
 * and reports malformed XML with line and column. The document is validated against
 * model.xsd, compiled into kiln. Then one walk in document order builds the module:
 * parameters, dims, states and weight files at the top, then each <graph>, expanding
 * <repeat> bodies with their loop variable in scope and evaluating {expressions} in every
 * attribute. Ops may refer to names defined later, so inputs are resolved by name once a
 * graph is complete, then the graph is sorted (a cycle is an error). Types are inferred
 * later, by fe_finish, once the weight files have told us the weights' dtypes.
 *
 * Columns: libxml2 records only the line of an element, so a pre-pass finds each
 * element's '<' on its line, and attribute errors search for `name=` from there. */
#include "frontend_impl.h"

#include <ctype.h>
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <stdlib.h>
#include <string.h>

extern const char fe_model_xsd[];
extern const unsigned long fe_model_xsd_len;

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
    PendIn *pend; int n_pend, cap_pend;
    Alias *alias; int n_alias, cap_alias;
    struct { const char *name, *from; Loc at; } *outs; int n_outs, cap_outs;
} GraphBuild;

/* ---- locations ------------------------------------------------------------------ */

static void index_lines(Fe *fe)
{
    uint32_t n = 1;
    for (size_t i = 0; i < fe->len; i++) n += fe->text[i] == '\n';
    fe->lines = arena_array(fe->a, (size_t)n + 2, sizeof *fe->lines);
    fe->lines[1] = fe->text;
    uint32_t k = 1;
    for (size_t i = 0; i < fe->len; i++)
        if (fe->text[i] == '\n') fe->lines[++k] = fe->text + i + 1;
    fe->n_lines = k;
}

static size_t line_len(Fe *fe, uint32_t line)
{
    const char *s = fe->lines[line];
    const char *e = line < fe->n_lines ? fe->lines[line + 1] : fe->text + fe->len;
    return (size_t)(e - s);
}

/* Finds needle on `line` at or after column `col`; 0 if absent. */
static uint32_t find_on_line(Fe *fe, uint32_t line, uint32_t col, const char *needle)
{
    if (line < 1 || line > fe->n_lines) return 0;
    const char *s = fe->lines[line];
    size_t n = line_len(fe, line), k = strlen(needle);
    for (size_t i = col ? col - 1 : 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0) return (uint32_t)i + 1;
    return 0;
}

/* Pre-pass: the column of each element's '<', stored in _private. Elements that share a
 * line are found left to right, since the walk is in document order. */
static void mark_columns(Fe *fe, xmlNode *first, uint32_t *last_line, uint32_t *last_col)
{
    for (xmlNode *x = first; x; x = x->next) {
        if (x->type != XML_ELEMENT_NODE) continue;
        uint32_t line = (uint32_t)xmlGetLineNo(x);
        char needle[128];
        snprintf(needle, sizeof needle, "<%s", (const char *)x->name);
        uint32_t from = line == *last_line ? *last_col + 1 : 1;
        uint32_t col = find_on_line(fe, line, from, needle);
        x->_private = (void *)(uintptr_t)(col ? col : 1);
        *last_line = line;
        *last_col = col;
        mark_columns(fe, x->children, last_line, last_col);
    }
}

static Loc elem_loc(Fe *fe, xmlNode *x)
{
    long line = xmlGetLineNo(x);
    return loc_make(fe->file, line > 0 ? (uint32_t)line : 0, (uint32_t)(uintptr_t)x->_private);
}

/* Location of attribute `name` of x: its `name=` after the element's '<', possibly on a
 * following line when attributes are wrapped. Falls back to the element. */
static Loc attr_loc(Fe *fe, xmlNode *x, const char *name)
{
    Loc at = elem_loc(fe, x);
    char needle[80];
    snprintf(needle, sizeof needle, " %s=", name);
    for (uint32_t line = at.line, col = at.col; line && line <= fe->n_lines && line < at.line + 20; line++, col = 1) {
        uint32_t c = find_on_line(fe, line, col, needle + (col == 1 ? 1 : 0));
        if (c) return loc_make(fe->file, line, c + (col == 1 ? 0 : 1));
        if (find_on_line(fe, line, col, ">")) break;
    }
    return at;
}

/* ---- attributes --------------------------------------------------------------------- */

static const char *raw_attr(xmlNode *x, const char *name)
{
    for (xmlAttr *a = x->properties; a; a = a->next)
        if (strcmp((const char *)a->name, name) == 0 && a->children)
            return (const char *)a->children->content;
    return NULL;
}

/* The attribute's value with {expressions} substituted; NULL if absent or bad. */
static const char *get(Fe *fe, const Scope *sc, xmlNode *x, const char *name)
{
    const char *v = raw_attr(x, name);
    return v ? fe_subst(fe, sc, v, attr_loc(fe, x, name)) : NULL;
}

static int valid_name(const char *s)
{
    if (!*s || *s == '.') return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.') return 0;
    return 1;
}

/* A name attribute, substituted and checked. */
static const char *get_name(Fe *fe, const Scope *sc, xmlNode *x, const char *attr)
{
    const char *v = get(fe, sc, x, attr);
    if (v && !valid_name(v)) {
        diag_error(fe->d, attr_loc(fe, x, attr), "%s \"%s\" is not a valid name (letters, digits, '_' and '.')", attr, v);
        return NULL;
    }
    return v;
}

static int parse_int(Fe *fe, const char *s, int64_t lo, int64_t hi, int64_t *out, Loc at, const char *what)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    while (*end == ' ') end++;
    if (end == s || *end || errno) {
        diag_error(fe->d, at, "%s must be an integer, not \"%s\"", what, s);
        return -1;
    }
    if (v < lo || v > hi) {
        diag_error(fe->d, at, "%s %lld is out of range (%lld to %lld)", what, v, (long long)lo, (long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_float(Fe *fe, const char *s, double *out, Loc at, const char *what)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (*end == ' ') end++;
    if (end == s || *end || errno == ERANGE || v != v) {
        diag_error(fe->d, at, "%s must be a number, not \"%s\"", what, s);
        return -1;
    }
    *out = v;
    return 0;
}

int fe_parse_dim(Fe *fe, const char *text, Dim *out, Loc at, const char *what)
{
    Dim d = dim_const(0);
    const char *p = text;
    int sign = 1, terms = 0;
    for (;;) {
        while (*p == ' ') p++;
        if (isdigit((unsigned char)*p)) {
            char *end;
            errno = 0;
            long long v = strtoll(p, &end, 10);
            if (errno || v > IR_MAX_EXTENT) {
                diag_error(fe->d, at, "%s: dimension %s is absurdly large (limit 2^40)", what, text);
                return -1;
            }
            d.k += sign * v;
            p = end;
        } else if ((isalpha((unsigned char)*p) || *p == '_') && sign > 0) {
            const char *s = p;
            while (isalnum((unsigned char)*p) || *p == '_') p++;
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(p - s), s);
            int sym = ir_module_sym(fe->m, name);
            if (!sym) {
                diag_error(fe->d, at, "%s: unknown dimension '%s' (declare it with <dim name=\"%s\" max=\"...\"/>)", what, name, name);
                return -1;
            }
            if (!dim_add(d, dim_sym(sym), &d)) {
                diag_error(fe->d, at, "%s: a dimension may add at most %d symbols", what, IR_DIM_TERMS);
                return -1;
            }
        } else {
            diag_error(fe->d, at, "%s: \"%s\" is not a dimension (a number, a dim name, or a sum like past+seq)", what, text);
            return -1;
        }
        terms++;
        while (*p == ' ') p++;
        if (*p == '+') sign = 1;
        else if (*p == '-') sign = -1;
        else break;
        p++;
    }
    if (*p || !terms) {
        diag_error(fe->d, at, "%s: \"%s\" is not a dimension", what, text);
        return -1;
    }
    *out = d;
    return 0;
}

int fe_parse_dims(Fe *fe, const char *text, Shape *out, Loc at, const char *what)
{
    out->rank = 0;
    const char *p = text;
    while (*p == ' ') p++;
    if (*p == '[') p++;
    char item[128];
    for (;;) {
        const char *comma = p;
        while (*comma && *comma != ',' && *comma != ']') comma++;
        size_t n = (size_t)(comma - p);
        while (n && p[n - 1] == ' ') n--;
        while (n && *p == ' ') p++, n--;
        if (n == 0 && out->rank == 0 && (*comma == 0 || *comma == ']')) break;   /* scalar: "" */
        if (n == 0 || n >= sizeof item) {
            diag_error(fe->d, at, "%s: bad shape \"%s\"", what, text);
            return -1;
        }
        if (out->rank == IR_MAX_RANK) {
            diag_error(fe->d, at, "%s: more than %d dimensions", what, IR_MAX_RANK);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = 0;
        if (fe_parse_dim(fe, item, &out->d[out->rank++], at, what)) return -1;
        if (*comma != ',') break;
        p = comma + 1;
    }
    return 0;
}

static int parse_dtype(Fe *fe, const char *s, DType *dt, Loc at)
{
    int t = dtype_from_name(s);
    if (t < 0) {
        diag_error(fe->d, at, "unknown dtype '%s' (expected f32, f16, bf16 or i32)", s);
        return -1;
    }
    *dt = (DType)t;
    return 0;
}

/* Sets IR attribute k of n from text. */
static int set_attr(Fe *fe, Node *n, AttrKind k, const char *v, Loc at)
{
    Attr *a = ir_node_set_attr(fe->m, n, k);
    const char *what = attr_info[k].name;
    switch (attr_info[k].type) {
    case AT_INT:
        return parse_int(fe, v, -IR_MAX_EXTENT, IR_MAX_EXTENT, &a->v.i, at, what);
    case AT_FLOAT:
        return parse_float(fe, v, &a->v.f, at, what);
    case AT_STR:
        a->v.s = arena_strdup(fe->a, v);
        return 0;
    case AT_INTS: {
        const char *p = v;
        a->n = 0;
        while (*p == ' ' || *p == '[') p++;
        while (*p && *p != ']') {
            if (a->n == IR_MAX_RANK) {
                diag_error(fe->d, at, "%s: more than %d values", what, IR_MAX_RANK);
                return -1;
            }
            char *end;
            errno = 0;
            long long x = strtoll(p, &end, 10);
            if (end == p || errno) {
                diag_error(fe->d, at, "%s must be a list of integers, not \"%s\"", what, v);
                return -1;
            }
            a->v.ints[a->n++] = x;
            p = end;
            while (*p == ' ') p++;
            if (*p == ',') p++;
            while (*p == ' ') p++;
        }
        return 0;
    }
    case AT_DIM:
        return fe_parse_dim(fe, v, &a->v.dim, at, what);
    case AT_DIMS: {
        Shape s;
        if (fe_parse_dims(fe, v, &s, at, what)) return -1;
        a->n = s.rank;
        for (int i = 0; i < s.rank; i++) a->v.dims[i] = s.d[i];
        return 0;
    }
    }
    KILN_UNREACHABLE();
}

/* ---- suggestions ---------------------------------------------------------------------- */

static const char *closest_op(const char *s)
{
    int best = 3;
    const char *hit = NULL;
    for (int i = 0; i < OP_COUNT; i++) {
        int dist = text_distance(s, op_name((OpKind)i));
        if (dist < best) best = dist, hit = op_name((OpKind)i);
    }
    return hit;
}

/* ---- declarations ----------------------------------------------------------------------- */

static int repeat_count(Fe *fe, const Scope *sc, xmlNode *x, int64_t *count)
{
    const char *c = get(fe, sc, x, "count");
    return c ? parse_int(fe, c, 0, 100000, count, attr_loc(fe, x, "count"), "count") : -1;
}

static void read_decls(Fe *fe, xmlNode *first, const Scope *sc);

static void read_state(Fe *fe, const Scope *sc, xmlNode *x)
{
    const char *name = get_name(fe, sc, x, "name");
    const char *shape = get(fe, sc, x, "shape");
    const char *dt = get(fe, sc, x, "dtype");
    const char *ba = get(fe, sc, x, "batch_axis");
    Shape s;
    DType dtype = DT_F32;
    int64_t axis = 0;
    if (!name || !shape) return;
    if (fe_parse_dims(fe, shape, &s, attr_loc(fe, x, "shape"), "state shape")) return;
    if (dt && parse_dtype(fe, dt, &dtype, attr_loc(fe, x, "dtype"))) return;
    if (ba && parse_int(fe, ba, -1, s.rank - 1, &axis, attr_loc(fe, x, "batch_axis"), "batch_axis")) return;
    if (ir_module_state(fe->m, name) >= 0) {
        diag_error(fe->d, elem_loc(fe, x), "state '%s' is declared twice", name);
        return;
    }
    ir_module_add_state(fe->m, name, dtype, &s, (int)axis, elem_loc(fe, x));
}

static void read_decl(Fe *fe, xmlNode *x, const Scope *sc)
{
    const char *tag = (const char *)x->name;
    Module *m = fe->m;
    Loc at = elem_loc(fe, x);
    if (strcmp(tag, "param") == 0) {
        const char *name = get_name(fe, sc, x, "name"), *value = get(fe, sc, x, "value");
        if (!name || !value) return;
        for (int i = 0; i < m->n_params; i++)
            if (strcmp(m->params[i].name, name) == 0) {
                diag_error(fe->d, at, "parameter '%s' is given twice (first at line %u)", name, m->params[i].loc.line);
                return;
            }
        ir_module_add_param(m, name, value, at);
    } else if (strcmp(tag, "dim") == 0) {
        const char *name = get_name(fe, sc, x, "name"), *max = get(fe, sc, x, "max");
        int64_t v;
        if (!name || !max) return;
        if (strchr(name, '.') || isdigit((unsigned char)name[0])) {
            diag_error(fe->d, attr_loc(fe, x, "name"), "dimension name '%s' must be letters, digits and '_'", name);
            return;
        }
        if (parse_int(fe, max, 1, IR_MAX_EXTENT, &v, attr_loc(fe, x, "max"), "max")) return;
        if (ir_module_sym(m, name)) diag_error(fe->d, at, "dimension '%s' is declared twice", name);
        else if (ir_module_add_sym(m, name, v, at) < 0) diag_error(fe->d, at, "too many dimensions (limit %d)", IR_MAX_SYMS);
    } else if (strcmp(tag, "weights") == 0) {
        const char *file = get(fe, sc, x, "file");
        if (file) ir_module_add_weight_file(m, file, at);
    } else if (strcmp(tag, "tokenizer") == 0) {
        const char *kind = get(fe, sc, x, "kind");
        if (!kind) return;
        if (m->tokenizer.kind) {
            diag_error(fe->d, at, "a model has one tokenizer");
            return;
        }
        m->tokenizer.kind = kind;
        m->tokenizer.loc = at;
        const char *need[2] = { NULL, NULL };
        if (strcmp(kind, "gpt2") == 0) need[0] = "vocab", need[1] = "merges";
        else if (strcmp(kind, "wordpiece") == 0 || strcmp(kind, "sentencepiece") == 0) need[0] = "file";
        else {
            diag_error(fe->d, attr_loc(fe, x, "kind"), "unknown tokenizer kind '%s' (expected gpt2, wordpiece or sentencepiece)", kind);
            return;
        }
        for (int i = 0; i < 2 && need[i]; i++) {
            const char *f = get(fe, sc, x, need[i]);
            if (!f) {
                diag_error(fe->d, at, "tokenizer '%s' needs the attribute %s", kind, need[i]);
                return;
            }
            m->tokenizer.files[m->tokenizer.n_files++] = f;
        }
    } else if (strcmp(tag, "state") == 0) {
        read_state(fe, sc, x);
    } else if (strcmp(tag, "repeat") == 0) {
        const char *var = get_name(fe, sc, x, "var");
        int64_t count;
        if (!var || repeat_count(fe, sc, x, &count)) return;
        for (int64_t i = 0; i < count && fe->d->n_errors == 0; i++) {
            Scope inner = { var, arena_printf(fe->a, "%lld", (long long)i), sc };
            read_decls(fe, x->children, &inner);
        }
    }
}

static void read_decls(Fe *fe, xmlNode *first, const Scope *sc)
{
    for (xmlNode *x = first; x; x = x->next)
        if (x->type == XML_ELEMENT_NODE && strcmp((const char *)x->name, "graph") != 0) read_decl(fe, x, sc);
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
    Loc at = elem_loc(fe, x);
    const char *kind = get(fe, sc, x, "kind");
    const char *name = get_name(fe, sc, x, "name");
    if (!kind || !name) return;
    int op = op_from_name(kind);
    if (op < 0) {
        const char *near = closest_op(kind);
        if (near) diag_error(fe->d, attr_loc(fe, x, "kind"), "unknown op '%s'; did you mean '%s'?", kind, near);
        else diag_error(fe->d, attr_loc(fe, x, "kind"), "unknown op '%s' (docs/ir.md lists the ops)", kind);
        return;
    }
    if (op_info[op].flags & OPF_FUSED) {
        diag_error(fe->d, attr_loc(fe, x, "kind"),
                   "'%s' is a fused op that only kiln's passes create; write it as primitive ops%s", kind,
                   op == OP_ATTENTION ? " (matmul, scale, mask, softmax, matmul)" : "");
        return;
    }
    if (op == OP_INPUT || op == OP_WEIGHT) {
        diag_error(fe->d, attr_loc(fe, x, "kind"), "write <%s .../> instead of <op kind=\"%s\"/>", kind, kind);
        return;
    }
    Node *n = ir_node_new(gb->g, (OpKind)op, name, at);
    PendIn pe = { n, { 0 }, 0, attr_loc(fe, x, "in") };
    const char *in = get(fe, sc, x, "in");
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
            if (!valid_name(ref)) {
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
        Loc aat = attr_loc(fe, x, an);
        const char *v = get(fe, sc, x, an);
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
        if (set_attr(fe, n, (AttrKind)k, v, aat)) return;
    }
    if (op_info[op].flags & OPF_STATE) {
        const char *st = ir_attr_str(n, A_state, NULL);
        if (st && (n->ref = ir_module_state(fe->m, st)) < 0) {
            diag_error(fe->d, attr_loc(fe, x, "state"), "%s '%s': unknown state '%s' (declare it with <state name=\"%s\" .../>)", kind, name, st, st);
            return;
        }
    }
    VEC_PUSH(gb->pend, gb->n_pend, gb->cap_pend, pe);
}

static void read_weight(Fe *fe, GraphBuild *gb, xmlNode *x, const Scope *sc)
{
    Loc at = elem_loc(fe, x);
    const char *name = get_name(fe, sc, x, "name");
    const char *tensor = get(fe, sc, x, "tensor");
    const char *shape = get(fe, sc, x, "shape");
    const char *dt = get(fe, sc, x, "dtype");
    Shape s;
    DType dtype = DT_F32;
    if (!name || !tensor || !shape) return;
    if (fe_parse_dims(fe, shape, &s, attr_loc(fe, x, "shape"), "weight shape")) return;
    for (int i = 0; i < s.rank; i++)
        if (!dim_is_const(s.d[i]) || s.d[i].k < 1) {
            diag_error(fe->d, attr_loc(fe, x, "shape"), "weight '%s': dimensions must be positive constants (\"%s\")", name, shape);
            return;
        }
    if (shape_numel_const(&s) < 0) {
        diag_error(fe->d, attr_loc(fe, x, "shape"), "weight '%s': shape \"%s\" is absurdly large", name, shape);
        return;
    }
    if (dt && parse_dtype(fe, dt, &dtype, attr_loc(fe, x, "dtype"))) return;
    /* One WEIGHT node per tensor per graph: a second name for the same tensor (ALBERT's
     * shared layers) becomes an alias of the first. */
    int w = ir_module_weight(fe->m, tensor);
    if (w >= 0) {
        Weight *wt = &fe->m->weights[w];
        if (!shape_eq(&wt->shape, &s)) {
            char b1[256], b2[256];
            ir_shape_str(fe->m, &wt->shape, b1, sizeof b1);
            ir_shape_str(fe->m, &s, b2, sizeof b2);
            diag_error(fe->d, attr_loc(fe, x, "shape"), "weight '%s': tensor '%s' was declared %s at line %u, here %s",
                       name, tensor, b1, wt->loc.line, b2);
            return;
        }
        for (int i = 0; i < gb->g->n_nodes; i++) {
            Node *o = gb->g->nodes[i];
            if (o->op == OP_WEIGHT && o->ref == w) {
                Alias al = { name, o->name, at };
                VEC_PUSH(gb->alias, gb->n_alias, gb->cap_alias, al);
                return;
            }
        }
    } else {
        w = ir_module_add_weight(fe->m, tensor, dtype, &s, at);
        fe->m->weights[w].declared = dt ? (int)dtype : -1;
    }
    Node *n = ir_node_new(gb->g, OP_WEIGHT, name, at);
    ir_node_set_attr(fe->m, n, A_tensor)->v.s = fe->m->weights[w].tensor;
    n->ref = w;
    n->dtype = fe->m->weights[w].dtype;
    n->shape = s;
}

static void read_graph_body(Fe *fe, GraphBuild *gb, xmlNode *first, const Scope *sc, const Carry *carry);

static void read_repeat(Fe *fe, GraphBuild *gb, xmlNode *x, const Scope *sc, const Carry *carry)
{
    const char *var = get_name(fe, sc, x, "var");
    int64_t count;
    if (!var || repeat_count(fe, sc, x, &count)) return;
    const char *cname = raw_attr(x, "carry");
    const char *init = NULL;
    if (cname) {
        cname = get_name(fe, sc, x, "carry");
        init = get_name(fe, sc, x, "init");
        if (!cname || !init || !raw_attr(x, "next")) {
            if (cname && (!raw_attr(x, "init") || !raw_attr(x, "next")))
                diag_error(fe->d, elem_loc(fe, x), "repeat with carry=\"%s\" needs init and next", cname);
            return;
        }
        init = carry_resolve(carry, init);
    } else if (raw_attr(x, "init") || raw_attr(x, "next") || raw_attr(x, "result")) {
        diag_error(fe->d, elem_loc(fe, x), "init, next and result need carry");
        return;
    }
    const char *cur = init;
    for (int64_t i = 0; i < count; i++) {
        Scope inner = { var, arena_printf(fe->a, "%lld", (long long)i), sc };
        Carry c = { cname, cur, carry };
        int errs = fe->d->n_errors;
        read_graph_body(fe, gb, x->children, &inner, cname ? &c : carry);
        if (cname) {
            cur = get_name(fe, &inner, x, "next");
            if (!cur) return;
        }
        if (fe->d->n_errors > errs) return;     /* one report per mistake, not per layer */
    }
    if (cname && raw_attr(x, "result")) {
        const char *res = get_name(fe, sc, x, "result");
        if (!res) return;
        Alias al = { res, cur, attr_loc(fe, x, "result") };
        VEC_PUSH(gb->alias, gb->n_alias, gb->cap_alias, al);
    }
}

static void read_graph_body(Fe *fe, GraphBuild *gb, xmlNode *first, const Scope *sc, const Carry *carry)
{
    for (xmlNode *x = first; x; x = x->next) {
        if (x->type != XML_ELEMENT_NODE) continue;
        const char *tag = (const char *)x->name;
        if (strcmp(tag, "op") == 0) read_op(fe, gb, x, sc, carry);
        else if (strcmp(tag, "weight") == 0) read_weight(fe, gb, x, sc);
        else if (strcmp(tag, "repeat") == 0) read_repeat(fe, gb, x, sc, carry);
        else if (strcmp(tag, "input") == 0) {
            const char *name = get_name(fe, sc, x, "name");
            const char *dt = get(fe, sc, x, "dtype"), *shape = get(fe, sc, x, "shape");
            DType dtype;
            Shape s;
            if (!name || !dt || !shape || parse_dtype(fe, dt, &dtype, attr_loc(fe, x, "dtype")) ||
                fe_parse_dims(fe, shape, &s, attr_loc(fe, x, "shape"), "input shape"))
                continue;
            Node *n = ir_node_new(gb->g, OP_INPUT, name, elem_loc(fe, x));
            n->dtype = dtype;
            n->shape = s;
        } else if (strcmp(tag, "output") == 0) {
            const char *name = get_name(fe, sc, x, "name"), *from = get_name(fe, sc, x, "from");
            if (!name || !from) continue;
            if (gb->n_outs == gb->cap_outs) {
                gb->cap_outs = gb->cap_outs ? 2 * gb->cap_outs : 4;
                gb->outs = xrealloc(gb->outs, (size_t)gb->cap_outs * sizeof *gb->outs);
            }
            gb->outs[gb->n_outs].name = name;
            gb->outs[gb->n_outs].from = carry_resolve(carry, from);
            gb->outs[gb->n_outs].at = elem_loc(fe, x);
            gb->n_outs++;
        }
    }
}

/* Name → node, following aliases (a chain of aliases ends at a node or nowhere). */
static Node *lookup(GraphBuild *gb, Node **idx, const char *name, int depth)
{
    Node *x = ir_sorted_find(idx, gb->g->n_nodes, name);
    if (x || depth >= 16) return x;
    for (int i = gb->n_alias - 1; i >= 0; i--)
        if (strcmp(gb->alias[i].name, name) == 0) return lookup(gb, idx, gb->alias[i].target, depth + 1);
    return NULL;
}

/* The closest defined name, for "did you mean". */
static const char *closest_name(GraphBuild *gb, const char *name)
{
    int best = 4;
    const char *hit = NULL;
    for (int i = 0; i < gb->g->n_nodes; i++) {
        int d = text_distance(name, gb->g->nodes[i]->name);
        if (d < best) best = d, hit = gb->g->nodes[i]->name;
    }
    return hit;
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
                const char *near = closest_name(gb, pe->names[j]);
                if (near) diag_error(fe->d, pe->at, "%s '%s': '%s' is not defined; did you mean '%s'?", op_name(pe->node->op), pe->node->name, pe->names[j], near);
                else diag_error(fe->d, pe->at, "%s '%s': '%s' is not defined", op_name(pe->node->op), pe->node->name, pe->names[j]);
                continue;
            }
            ir_node_add_input(pe->node, x);
        }
    }
    for (int i = 0; i < gb->n_outs; i++) {
        Node *x = lookup(gb, idx, gb->outs[i].from, 0);
        if (!x) diag_error(fe->d, gb->outs[i].at, "output '%s': '%s' is not defined", gb->outs[i].name, gb->outs[i].from);
        else ir_graph_add_output(g, gb->outs[i].name, x, gb->outs[i].at);
    }
    if (g->n_outputs == 0 && fe->d->n_errors == errs) diag_error(fe->d, g->loc, "graph '%s' has no <output>", g->name);
    free(idx);
    if (fe->d->n_errors == errs) ir_graph_toposort(g, fe->d);
}

static void read_graph(Fe *fe, xmlNode *x)
{
    const char *name = raw_attr(x, "name") ? get_name(fe, NULL, x, "name") : "forward";
    if (!name) return;
    if (ir_module_graph(fe->m, name)) {
        diag_error(fe->d, elem_loc(fe, x), "graph '%s' is defined twice", name);
        return;
    }
    GraphBuild gb = { 0 };
    gb.g = ir_graph_new(fe->m, name, elem_loc(fe, x));
    int errs = fe->d->n_errors;
    read_graph_body(fe, &gb, x->children, NULL, NULL);
    finish_graph(fe, &gb, errs);
    free(gb.pend);
    free(gb.alias);
    free(gb.outs);
}

/* ---- libxml2 ---------------------------------------------------------------------------- */

static void on_xml_error(void *user, xmlErrorPtr e)
{
    Fe *fe = user;
    if (!e || e->level == XML_ERR_WARNING) return;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", e->message ? e->message : "malformed XML");
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = 0;
    int schema = e->domain == XML_FROM_SCHEMASV || e->domain == XML_FROM_SCHEMASP;
    uint32_t col = schema ? 0 : (e->int2 > 0 ? (uint32_t)e->int2 : 0);
    if (schema && e->node) {
        xmlNode *x = e->node;
        col = (uint32_t)(uintptr_t)x->_private;
    }
    diag_error(fe->d, loc_make(fe->file, e->line > 0 ? (uint32_t)e->line : 0, col), "%s%s", schema ? "schema: " : "", msg);
}

/* model.xsd, compiled once per process (kiln is single-threaded) and kept until exit. */
static xmlSchema *model_schema(void)
{
    static xmlSchema *schema;
    if (!schema) {
        xmlSchemaParserCtxt *pc = xmlSchemaNewMemParserCtxt(fe_model_xsd, (int)fe_model_xsd_len);
        schema = pc ? xmlSchemaParse(pc) : NULL;
        KILN_ASSERT(schema);    /* the schema is ours: failing to parse it is a kiln bug */
        xmlSchemaFreeParserCtxt(pc);
    }
    return schema;
}

Module *fe_read_xml(Arena *a, Diag *d, const char *path)
{
    size_t len;
    char *text = file_read_all(d, path, &len);
    if (!text) return NULL;
    Module *m = fe_read_xml_mem(a, d, path, text, len);
    free(text);
    return m;
}

Module *fe_read_xml_mem(Arena *a, Diag *d, const char *path, const char *text, size_t len)
{
    Fe fe = { 0 };
    fe.a = a;
    fe.d = d;
    fe.path = path;
    fe.file = diag_file(d, path);
    if (len == 0) {
        diag_file_error(d, path, "the file is empty");
        return NULL;
    }
    if (len > (size_t)1 << 30) {
        diag_file_error(d, path, "the file is too large for a model description (%zu bytes)", len);
        return NULL;
    }
    fe.text = text;
    fe.len = len;
    index_lines(&fe);
    int errs = d->n_errors;

    xmlSetStructuredErrorFunc(&fe, on_xml_error);
    xmlDoc *doc = xmlReadMemory(text, (int)len, path, NULL, XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA);
    Module *m = NULL;
    if (!doc || d->n_errors > errs) {
        if (d->n_errors == errs) diag_file_error(d, path, "not a well-formed XML document");
        goto out;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    uint32_t ll = 0, lc = 0;
    mark_columns(&fe, root, &ll, &lc);

    xmlSchemaValidCtxt *vc = xmlSchemaNewValidCtxt(model_schema());
    xmlSchemaSetValidStructuredErrors(vc, on_xml_error, &fe);
    int bad = xmlSchemaValidateDoc(vc, doc);
    xmlSchemaFreeValidCtxt(vc);
    if (bad || d->n_errors > errs) {
        if (d->n_errors == errs) diag_file_error(d, path, "does not follow the model format (docs/model-format.md)");
        goto out;
    }

    fe.m = ir_module_new(a);
    fe.m->files = d;
    fe.m->base_dir = path_dirname(a, path);
    fe.m->loc = elem_loc(&fe, root);
    fe.m->name = arena_strdup(a, raw_attr(root, "name"));
    if (raw_attr(root, "family")) fe.m->family = arena_strdup(a, raw_attr(root, "family"));
    read_decls(&fe, root->children, NULL);
    if (d->n_errors == errs)
        for (xmlNode *x = root->children; x; x = x->next)
            if (x->type == XML_ELEMENT_NODE && strcmp((const char *)x->name, "graph") == 0) read_graph(&fe, x);
    if (d->n_errors == errs && fe.m->n_graphs == 0) diag_error(d, fe.m->loc, "the model has no <graph>");
    if (d->n_errors == errs) m = fe.m;
out:
    if (doc) xmlFreeDoc(doc);
    xmlSetStructuredErrorFunc(NULL, NULL);
    return m;
}
