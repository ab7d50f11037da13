/* parse.c — reads the text form (.kir) back into a module.
 *
 * A hand-written lexer and a line-oriented recursive-descent parser, chibicc style. Nodes
 * may name inputs defined later in the graph (the graph is sorted afterwards, and a cycle
 * is an error), so names are resolved once the closing brace is seen. Types are parsed as
 * written and then checked by re-running inference (the verifier), so a .kir edited by hand
 * gets the same diagnostics as XML. Weight data is not touched here. */
#include "ir.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { T_EOF, T_NL, T_IDENT, T_VALUE, T_INT, T_FLOAT, T_STRING, T_PUNCT } TokKind;

typedef struct Tok {
    TokKind kind;
    const char *start;
    int len;
    uint32_t line, col;
    int64_t i;          /* T_INT */
    double f;           /* T_INT and T_FLOAT */
    char *s;            /* T_STRING (arena), T_IDENT and T_VALUE (arena, without '%') */
} Tok;

typedef struct P {
    Arena *a;
    Diag *d;
    uint32_t file;
    const char *src, *end, *cur;
    uint32_t line;
    const char *line_start;
    Tok tok;            /* current token */
    Module *m;
    int failed;
} P;

/* A node's inputs by name until the graph is complete. */
typedef struct Pending {
    Node *node;
    const char *names[IR_MAX_INPUTS];
    Loc locs[IR_MAX_INPUTS];
} Pending;

__attribute__((format(printf, 2, 3)))
static void err(P *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(p->d, loc_make(p->file, p->tok.line, p->tok.col), fmt, ap);
    va_end(ap);
    p->failed = 1;
}

static Loc here(P *p) { return loc_make(p->file, p->tok.line, p->tok.col); }

static int is_name_char(int c) { return isalnum(c) || c == '_' || c == '.'; }

static void next(P *p)
{
    Tok *t = &p->tok;
    memset(t, 0, sizeof *t);
    for (;;) {
        while (p->cur < p->end && (*p->cur == ' ' || *p->cur == '\t' || *p->cur == '\r')) p->cur++;
        if (p->cur < p->end && *p->cur == '#')
            while (p->cur < p->end && *p->cur != '\n') p->cur++;
        break;
    }
    t->start = p->cur;
    t->line = p->line;
    t->col = (uint32_t)(p->cur - p->line_start) + 1;
    if (p->cur >= p->end) { t->kind = T_EOF; return; }
    char c = *p->cur;
    if (c == '\n') {
        p->cur++;
        p->line++;
        p->line_start = p->cur;
        t->kind = T_NL;
        t->len = 1;
        return;
    }
    if (c == '"') {
        const char *q = p->cur + 1;
        char *buf = arena_alloc(p->a, (size_t)(p->end - q) + 1 > 4096 ? 4096 : (size_t)(p->end - q) + 1);
        size_t cap = (size_t)(p->end - q) + 1 > 4096 ? 4096 : (size_t)(p->end - q) + 1, n = 0;
        while (q < p->end && *q != '"' && *q != '\n') {
            char ch = *q++;
            if (ch == '\\' && q < p->end) {
                char e = *q++;
                if (e == 'n') ch = '\n';
                else if (e == 'x' && q + 1 < p->end && isxdigit((unsigned char)q[0]) && isxdigit((unsigned char)q[1])) {
                    char hex[3] = { q[0], q[1], 0 };
                    ch = (char)strtol(hex, NULL, 16);
                    q += 2;
                } else ch = e;
            }
            if (n + 1 >= cap) {
                char *grown = arena_alloc(p->a, cap * 2);
                memcpy(grown, buf, n);
                buf = grown;
                cap *= 2;
            }
            buf[n++] = ch;
        }
        if (q >= p->end || *q != '"') {
            t->kind = T_STRING;
            err(p, "unterminated string");
            p->cur = q;
            t->kind = T_EOF;
            return;
        }
        buf[n] = 0;
        t->kind = T_STRING;
        t->s = buf;
        p->cur = q + 1;
        t->len = (int)(p->cur - t->start);
        return;
    }
    if (c == '%') {
        const char *q = p->cur + 1;
        while (q < p->end && is_name_char((unsigned char)*q)) q++;
        t->kind = T_VALUE;
        t->s = arena_strndup(p->a, p->cur + 1, (size_t)(q - p->cur - 1));
        if (!t->s[0]) err(p, "expected a name after '%%'");
        p->cur = q;
        t->len = (int)(q - t->start);
        return;
    }
    if (isdigit((unsigned char)c) || ((c == '-' || c == '+') && p->cur + 1 < p->end && (isdigit((unsigned char)p->cur[1]) || p->cur[1] == '.'))) {
        /* A number, unless digits run into letters (a node name like 0abc is not allowed). */
        char buf[64];
        size_t n = 0;
        const char *q = p->cur;
        while (q < p->end && n < sizeof buf - 1 &&
               (isalnum((unsigned char)*q) || *q == '.' || ((*q == '-' || *q == '+') && (q == p->cur || q[-1] == 'e' || q[-1] == 'E'))))
            buf[n++] = *q++;
        buf[n] = 0;
        char *endp;
        errno = 0;
        long long iv = strtoll(buf, &endp, 10);
        if (*endp == 0 && errno == 0) {
            t->kind = T_INT;
            t->i = iv;
            t->f = (double)iv;
        } else {
            errno = 0;
            double fv = strtod(buf, &endp);
            if (*endp != 0 || errno == ERANGE) {
                t->kind = T_INT;
                err(p, "bad number '%s'", buf);
            }
            t->kind = T_FLOAT;
            t->f = fv;
        }
        p->cur = q;
        t->len = (int)(q - t->start);
        return;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        const char *q = p->cur;
        while (q < p->end && is_name_char((unsigned char)*q)) q++;
        t->kind = T_IDENT;
        t->s = arena_strndup(p->a, p->cur, (size_t)(q - p->cur));
        p->cur = q;
        t->len = (int)(q - t->start);
        return;
    }
    if (strchr("=:[]{},+-@<", c)) {
        t->kind = T_PUNCT;
        t->len = (c == '<' && p->cur + 1 < p->end && p->cur[1] == '=') ? 2 : 1;
        p->cur += t->len;
        return;
    }
    t->kind = T_PUNCT;
    t->len = 1;
    err(p, "unexpected character '%c'", isprint((unsigned char)c) ? c : '?');
    p->cur++;
}

static int is_punct(P *p, const char *s)
{
    return p->tok.kind == T_PUNCT && (int)strlen(s) == p->tok.len && strncmp(p->tok.start, s, (size_t)p->tok.len) == 0;
}

static int is_ident(P *p, const char *s)
{
    return p->tok.kind == T_IDENT && strcmp(p->tok.s, s) == 0;
}

static const char *tok_text(P *p, char *buf, size_t cap)
{
    switch (p->tok.kind) {
    case T_EOF: return "end of file";
    case T_NL: return "end of line";
    default:
        snprintf(buf, cap, "'%.*s'", p->tok.len > 40 ? 40 : p->tok.len, p->tok.start);
        return buf;
    }
}

static int expect_punct(P *p, const char *s)
{
    if (is_punct(p, s)) { next(p); return 0; }
    char b[64];
    err(p, "expected '%s', found %s", s, tok_text(p, b, sizeof b));
    return -1;
}

static char *expect_ident(P *p, const char *what)
{
    if (p->tok.kind != T_IDENT) {
        char b[64];
        err(p, "expected %s, found %s", what, tok_text(p, b, sizeof b));
        return NULL;
    }
    char *s = p->tok.s;
    next(p);
    return s;
}

static char *expect_string(P *p, const char *what)
{
    if (p->tok.kind != T_STRING) {
        char b[64];
        err(p, "expected %s (a quoted string), found %s", what, tok_text(p, b, sizeof b));
        return NULL;
    }
    char *s = p->tok.s;
    next(p);
    return s;
}

static int expect_int(P *p, const char *what, int64_t *v)
{
    if (p->tok.kind != T_INT) {
        char b[64];
        err(p, "expected %s (an integer), found %s", what, tok_text(p, b, sizeof b));
        return -1;
    }
    *v = p->tok.i;
    next(p);
    return 0;
}

/* Skips to the end of the line after an error, so parsing can go on. */
static void sync_line(P *p)
{
    while (p->tok.kind != T_NL && p->tok.kind != T_EOF) next(p);
}

static int expect_eol(P *p)
{
    if (p->tok.kind == T_NL || p->tok.kind == T_EOF) {
        if (p->tok.kind == T_NL) next(p);
        return 0;
    }
    char b[64];
    err(p, "expected end of line, found %s", tok_text(p, b, sizeof b));
    sync_line(p);
    return -1;
}

/* dim := term ('+' term | '-' INT)* ; term := SYMBOL | INT */
static int parse_dim(P *p, Dim *out)
{
    Dim d = dim_const(0);
    int sign = 1;
    for (;;) {
        if (p->tok.kind == T_INT) {
            d.k += sign * p->tok.i;
            next(p);
        } else if (p->tok.kind == T_IDENT && sign > 0) {
            int s = ir_module_sym(p->m, p->tok.s);
            if (!s) {
                err(p, "unknown dimension '%s' (declare it with: dim %s <= MAX)", p->tok.s, p->tok.s);
                return -1;
            }
            if (!dim_add(d, dim_sym(s), &d)) {
                err(p, "a dimension may sum at most %d symbols", IR_DIM_TERMS);
                return -1;
            }
            next(p);
        } else {
            char b[64];
            err(p, "expected a dimension, found %s", tok_text(p, b, sizeof b));
            return -1;
        }
        if (d.k > IR_MAX_EXTENT || d.k < -IR_MAX_EXTENT) {
            err(p, "dimension %lld is absurdly large (limit 2^40)", (long long)d.k);
            return -1;
        }
        if (is_punct(p, "+")) sign = 1;
        else if (is_punct(p, "-")) sign = -1;
        else break;
        next(p);
    }
    *out = d;
    return 0;
}

/* "seq-1" and "seq+1" lex as a name and a signed integer: accept the integer as a term. */
static int parse_dim_full(P *p, Dim *out)
{
    if (parse_dim(p, out)) return -1;
    while (p->tok.kind == T_INT && (p->tok.start[0] == '-' || p->tok.start[0] == '+')) {
        out->k += p->tok.i;
        next(p);
    }
    return 0;
}

static int parse_shape(P *p, Shape *s)
{
    s->rank = 0;
    if (expect_punct(p, "[")) return -1;
    if (is_punct(p, "]")) { next(p); return 0; }
    for (;;) {
        if (s->rank == IR_MAX_RANK) {
            err(p, "more than %d dimensions", IR_MAX_RANK);
            return -1;
        }
        if (parse_dim_full(p, &s->d[s->rank])) return -1;
        s->rank++;
        if (is_punct(p, ",")) { next(p); continue; }
        return expect_punct(p, "]");
    }
}

/* DTYPE[DIMS] — the lexer gives "f32" as an identifier, then '['. */
static int parse_type(P *p, DType *dt, Shape *s)
{
    char *name = expect_ident(p, "a dtype (f32, f16, bf16, i32)");
    if (!name) return -1;
    int t = dtype_from_name(name);
    if (t < 0) {
        err(p, "unknown dtype '%s' (expected f32, f16, bf16 or i32)", name);
        return -1;
    }
    *dt = (DType)t;
    return parse_shape(p, s);
}

static int parse_attr_value(P *p, Node *n, AttrKind k)
{
    Attr *a = ir_node_set_attr(p->m, n, k);
    switch (attr_info[k].type) {
    case AT_INT:
        return expect_int(p, attr_info[k].name, &a->v.i);
    case AT_FLOAT:
        if (p->tok.kind != T_INT && p->tok.kind != T_FLOAT) {
            err(p, "expected a number for '%s'", attr_info[k].name);
            return -1;
        }
        a->v.f = p->tok.f;
        if (!isfinite(a->v.f)) {
            err(p, "'%s' must be finite", attr_info[k].name);
            return -1;
        }
        next(p);
        return 0;
    case AT_STR:
        return (a->v.s = expect_string(p, attr_info[k].name)) ? 0 : -1;
    case AT_INTS:
        if (expect_punct(p, "[")) return -1;
        a->n = 0;
        while (!is_punct(p, "]")) {
            if (a->n == IR_MAX_RANK) {
                err(p, "more than %d values", IR_MAX_RANK);
                return -1;
            }
            if (expect_int(p, attr_info[k].name, &a->v.ints[a->n++])) return -1;
            if (is_punct(p, ",")) next(p);
            else if (!is_punct(p, "]")) return expect_punct(p, "]");
        }
        next(p);
        return 0;
    case AT_DIM:
        return parse_dim_full(p, &a->v.dim);
    case AT_DIMS: {
        Shape s;
        if (parse_shape(p, &s)) return -1;
        a->n = s.rank;
        for (int i = 0; i < s.rank; i++) a->v.dims[i] = s.d[i];
        return 0;
    }
    }
    KILN_UNREACHABLE();
}

/* %NAME = OP [%IN, ...] [ATTR=VALUE ...] : DTYPE[DIMS] [@"FILE":LINE:COL] */
static int parse_node(P *p, Graph *g, Pending **pend, int *n_pend, int *cap_pend)
{
    Loc at = here(p);
    char *name = p->tok.s;
    next(p);
    if (expect_punct(p, "=")) return -1;
    Loc op_at = here(p);
    char *opname = expect_ident(p, "an op name");
    if (!opname) return -1;
    int op = op_from_name(opname);
    if (op < 0) {
        diag_error(p->d, op_at, "unknown op '%s'", opname);
        p->failed = 1;
        return -1;
    }
    Node *n = ir_node_new(g, (OpKind)op, name, at);
    Pending pe = { n, { 0 }, { { 0, 0, 0 } } };
    int n_in = 0;
    while (p->tok.kind == T_VALUE) {
        if (n_in == IR_MAX_INPUTS) {
            err(p, "more than %d inputs", IR_MAX_INPUTS);
            return -1;
        }
        pe.locs[n_in] = here(p);
        pe.names[n_in++] = p->tok.s;
        next(p);
        if (!is_punct(p, ",")) break;
        next(p);
    }
    while (p->tok.kind == T_IDENT) {
        int k = attr_from_name(p->tok.s);
        if (k < 0) {
            err(p, "unknown attribute '%s'", p->tok.s);
            return -1;
        }
        if (ir_node_attr(n, (AttrKind)k)) {
            err(p, "attribute '%s' given twice", p->tok.s);
            return -1;
        }
        next(p);
        if (expect_punct(p, "=") || parse_attr_value(p, n, (AttrKind)k)) return -1;
    }
    if (expect_punct(p, ":") || parse_type(p, &n->dtype, &n->shape)) return -1;
    if (is_punct(p, "@")) {
        next(p);
        char *file = expect_string(p, "a file name");
        int64_t line = 0, col = 0;
        if (!file || expect_punct(p, ":") || expect_int(p, "a line", &line) || expect_punct(p, ":") ||
            expect_int(p, "a column", &col))
            return -1;
        if (line < 0 || line > UINT32_MAX || col < 0 || col > UINT32_MAX) {
            err(p, "bad location");
            return -1;
        }
        n->loc = loc_make(diag_file(p->d, file), (uint32_t)line, (uint32_t)col);
    }
    for (int i = 0; i < n_in; i++) n->n_in++;      /* resolved later */
    VEC_PUSH(*pend, *n_pend, *cap_pend, pe);
    return expect_eol(p);
}

static void skip_blank(P *p)
{
    while (p->tok.kind == T_NL) next(p);
}

/* A concatenation (pass fuse-epilogue's merged projections): `tensor` lists the parts, concat
 * their rows. Each part is declared as a file tensor of n's dtype and columns (then its
 * transposed view, with transposed=1), and the concatenation made of them. -1 when the node
 * does not describe one that fits. */
static int bind_concat(P *p, const Node *n, const char *t, int transposed)
{
    const Attr *rows = ir_node_attr(n, A_concat);
    int parts[IR_MAX_RANK];
    if (n->shape.rank < 1 || n->shape.rank > 2 || (transposed && n->shape.rank != 2) || rows->n < 1) return -1;
    for (int i = 0; i < rows->n; i++) {
        const char *e = strchr(t, ',');
        size_t len = e ? (size_t)(e - t) : strlen(t);
        if (!len || (e != NULL) != (i + 1 < rows->n) || rows->v.ints[i] < 1 || rows->v.ints[i] > IR_MAX_EXTENT) return -1;
        const char *part = arena_strndup(p->m->arena, t, len);
        Shape fs = n->shape;
        fs.d[0] = dim_const(rows->v.ints[i]);
        if (transposed) {
            fs.d[0] = n->shape.d[1];
            fs.d[1] = dim_const(rows->v.ints[i]);
        }
        int base = ir_module_weight(p->m, part);
        if (base < 0) {
            base = ir_module_add_weight(p->m, part, n->dtype, &fs, n->loc);
            p->m->weights[base].declared = (int)n->dtype;
        } else if (!shape_eq(&p->m->weights[base].shape, &fs) || p->m->weights[base].dtype != n->dtype) {
            return -1;
        }
        parts[i] = transposed ? ir_module_weight_transposed(p->m, base) : base;
        t += len + (e != NULL);
    }
    int w = ir_module_weight_concat(p->m, parts, rows->n);
    return shape_eq(&p->m->weights[w].shape, &n->shape) ? w : -1;
}

/* Binds WEIGHT nodes to module weights (declared on first sight) and state ops to states. */
static void bind_refs(P *p, Graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        Node *n = g->nodes[i];
        if (n->op == OP_WEIGHT) {
            const char *t = ir_attr_str(n, A_tensor, NULL);
            if (!t) continue;       /* the verifier reports it */
            int transposed = (int)ir_attr_int(n, A_transposed, 0);
            int w = -1;
            if (ir_node_attr(n, A_concat)) {
                n->ref = bind_concat(p, n, t, transposed);
                if (n->ref < 0) {
                    diag_error(p->d, n->loc, "weight '%s': a concatenation names one tensor per entry of concat, all of"
                               " its dtype and columns", n->name);
                    p->failed = 1;
                }
                continue;
            }
            if (transposed) {
                /* declared by its file shape (the swap of the node's), then swapped */
                Shape file = n->shape;
                if (file.rank == 2) {
                    file.d[0] = n->shape.d[1];
                    file.d[1] = n->shape.d[0];
                    int base = ir_module_weight(p->m, t);
                    if (base < 0) {
                        base = ir_module_add_weight(p->m, t, n->dtype, &file, n->loc);
                        p->m->weights[base].declared = (int)n->dtype;
                    }
                    if (p->m->weights[base].shape.rank == 2 && !p->m->weights[base].transposed)
                        w = ir_module_weight_transposed(p->m, base);
                }
                if (w < 0 || !shape_eq(&p->m->weights[w].shape, &n->shape)) {
                    diag_error(p->d, n->loc, "weight '%s': a transposed weight must be 2-d and match its tensor", n->name);
                    p->failed = 1;
                    continue;
                }
                n->ref = w;
                continue;
            }
            w = ir_module_weight(p->m, t);
            if (w < 0) {
                w = ir_module_add_weight(p->m, t, n->dtype, &n->shape, n->loc);
                p->m->weights[w].declared = (int)n->dtype;   /* the text states it */
            }
            else if (!shape_eq(&p->m->weights[w].shape, &n->shape) || p->m->weights[w].dtype != n->dtype) {
                diag_error(p->d, n->loc, "weight '%s': tensor '%s' is used with two different types", n->name, t);
                p->failed = 1;
            }
            n->ref = w;
        } else if (op_info[n->op].flags & OPF_STATE) {
            const char *s = ir_attr_str(n, A_state, NULL);
            n->ref = s ? ir_module_state(p->m, s) : -1;
            if (s && n->ref < 0) {
                diag_error(p->d, n->loc, "%s '%s': unknown state '%s'", op_name(n->op), n->name, s);
                p->failed = 1;
            }
        }
    }
}

static void parse_graph(P *p)
{
    next(p);    /* 'graph' */
    Loc at = here(p);
    char *name = expect_ident(p, "a graph name");
    if (!name || expect_punct(p, "{")) {
        sync_line(p);
        return;
    }
    if (ir_module_graph(p->m, name)) err(p, "graph '%s' is defined twice", name);
    Graph *g = ir_graph_new(p->m, name, at);
    expect_eol(p);
    Pending *pend = NULL;
    int n_pend = 0, cap_pend = 0;
    typedef struct { const char *name, *node; Loc loc; } OutDecl;
    OutDecl *outs = NULL;
    int n_outs = 0, cap_outs = 0;
    for (;;) {
        skip_blank(p);
        if (is_punct(p, "}")) { next(p); break; }
        if (p->tok.kind == T_EOF) {
            err(p, "graph '%s' is not closed: expected '}'", name);
            break;
        }
        if (p->tok.kind == T_VALUE) {
            if (parse_node(p, g, &pend, &n_pend, &cap_pend)) sync_line(p);
        } else if (is_ident(p, "output")) {
            next(p);
            Loc oat = here(p);
            char *oname = expect_ident(p, "an output name");
            if (!oname || expect_punct(p, "=")) { sync_line(p); continue; }
            if (p->tok.kind != T_VALUE) {
                err(p, "expected a %%node after 'output %s ='", oname);
                sync_line(p);
                continue;
            }
            OutDecl o = { oname, p->tok.s, oat };
            VEC_PUSH(outs, n_outs, cap_outs, o);
            next(p);
            expect_eol(p);
        } else {
            char b[64];
            err(p, "expected a node (%%name = op ...), 'output' or '}', found %s", tok_text(p, b, sizeof b));
            sync_line(p);
        }
    }
    expect_eol(p);
    if (p->failed) {            /* names would only cascade from the first error */
        free(pend);
        free(outs);
        return;
    }
    /* resolve input names */
    Node **idx = ir_graph_sorted(g);
    for (int i = 1; i < g->n_nodes; i++)
        if (strcmp(idx[i - 1]->name, idx[i]->name) == 0) {
            Node *later = idx[i - 1]->id > idx[i]->id ? idx[i - 1] : idx[i];
            diag_error(p->d, later->loc, "name '%%%s' is defined twice", later->name);
            p->failed = 1;
        }
    for (int i = 0; i < n_pend; i++) {
        Pending *pe = &pend[i];
        for (int j = 0; j < pe->node->n_in; j++) {
            Node *x = ir_sorted_find(idx, g->n_nodes, pe->names[j]);
            if (!x) {
                diag_error(p->d, pe->locs[j], "'%%%s' is not defined in graph '%s'", pe->names[j], g->name);
                p->failed = 1;
                x = pe->node;   /* placeholder; the module is discarded */
            }
            pe->node->in[j] = x;
        }
    }
    for (int i = 0; i < n_outs; i++) {
        Node *x = ir_sorted_find(idx, g->n_nodes, outs[i].node);
        if (!x) {
            diag_error(p->d, outs[i].loc, "output '%s': '%%%s' is not defined", outs[i].name, outs[i].node);
            p->failed = 1;
            continue;
        }
        ir_graph_add_output(g, outs[i].name, x, outs[i].loc);
    }
    free(idx);
    free(pend);
    free(outs);
    if (!p->failed) bind_refs(p, g);
    if (!p->failed && ir_graph_toposort(g, p->d)) p->failed = 1;
}

static void parse_decl(P *p)
{
    Module *m = p->m;
    Loc at = here(p);
    char *kw = p->tok.s;
    next(p);
    if (strcmp(kw, "model") == 0) {
        char *name = expect_string(p, "the model name");
        if (name) m->name = name;
        if (is_ident(p, "family")) {
            next(p);
            m->family = expect_string(p, "the family");
        }
    } else if (strcmp(kw, "param") == 0) {
        char *name = expect_ident(p, "a parameter name");
        if (!name || expect_punct(p, "=")) goto bad;
        char *v = expect_string(p, "the parameter's value");
        if (!v) goto bad;
        if (ir_module_param(m, name)) err(p, "parameter '%s' is given twice", name);
        ir_module_add_param(m, name, v, at);
    } else if (strcmp(kw, "dim") == 0) {
        char *name = expect_ident(p, "a dimension name");
        int64_t max = 0;
        if (!name) goto bad;
        if (!is_punct(p, "<=")) {
            err(p, "expected '<=' and the dimension's maximum");
            goto bad;
        }
        next(p);
        if (expect_int(p, "the maximum", &max)) goto bad;
        if (ir_module_sym(m, name)) {
            diag_error(p->d, at, "dimension '%s' is declared twice", name);
            p->failed = 1;
        } else if (max < 1 || max > IR_MAX_EXTENT) {
            diag_error(p->d, at, "dimension '%s': maximum %lld is out of range (1 to 2^40)", name, (long long)max);
            p->failed = 1;
        } else if (ir_module_add_sym(m, name, max, at) < 0) {
            diag_error(p->d, at, "too many dimensions (limit %d)", IR_MAX_SYMS);
            p->failed = 1;
        }
    } else if (strcmp(kw, "weights") == 0) {
        char *path = expect_string(p, "a weight file path");
        if (!path) goto bad;
        ir_module_add_weight_file(m, path, at);
    } else if (strcmp(kw, "tokenizer") == 0) {
        char *kind = expect_ident(p, "a tokenizer kind");
        if (!kind) goto bad;
        m->tokenizer.kind = kind;
        m->tokenizer.loc = at;
        while (p->tok.kind == T_STRING) {
            if (m->tokenizer.n_files == 3) {
                err(p, "a tokenizer has at most 3 files");
                goto bad;
            }
            m->tokenizer.files[m->tokenizer.n_files++] = p->tok.s;
            next(p);
        }
    } else if (strcmp(kw, "state") == 0) {
        char *name = expect_ident(p, "a state name");
        DType dt;
        Shape s;
        int64_t ba = 0;
        if (!name || parse_type(p, &dt, &s)) goto bad;
        if (!is_ident(p, "batch_axis")) {
            err(p, "expected batch_axis=N");
            goto bad;
        }
        next(p);
        if (expect_punct(p, "=") || expect_int(p, "the batch axis", &ba)) goto bad;
        if (ir_module_state(m, name) >= 0) err(p, "state '%s' is declared twice", name);
        ir_module_add_state(m, name, dt, &s, (int)(ba < -1 || ba > IR_MAX_RANK ? IR_MAX_RANK : ba), at);
    } else {
        diag_error(p->d, at, "unknown declaration '%s' (expected model, param, dim, weights, tokenizer, state or graph)", kw);
        p->failed = 1;
        goto bad;
    }
    expect_eol(p);
    return;
bad:
    sync_line(p);
}

Module *ir_parse(Arena *a, Diag *d, const char *path, const char *text, size_t len)
{
    P p = { 0 };
    p.a = a;
    p.d = d;
    p.file = diag_file(d, path);
    p.src = p.cur = p.line_start = text;
    p.end = text + len;
    p.line = 1;
    p.m = ir_module_new(a);
    p.m->files = d;
    p.m->loc = loc_make(p.file, 1, 1);
    p.m->base_dir = path_dirname(a, path);
    if (memchr(text, 0, len)) {
        diag_error(d, loc_make(p.file, 0, 0), "not a text file (contains a NUL byte)");
        return NULL;
    }
    next(&p);
    skip_blank(&p);
    if (!is_ident(&p, "kiln")) {
        err(&p, "not a kiln IR file: expected 'kiln 1' on the first line");
        return NULL;
    }
    next(&p);
    int64_t version = 0;
    Loc vat = here(&p);
    if (expect_int(&p, "the format version", &version)) return NULL;
    if (version != 1) {
        diag_error(d, vat, "IR format version %lld is not supported (this kiln reads version 1)", (long long)version);
        return NULL;
    }
    expect_eol(&p);
    for (;;) {
        skip_blank(&p);
        if (p.tok.kind == T_EOF) break;
        if (p.d->n_errors > 50) break;
        if (is_ident(&p, "graph")) parse_graph(&p);
        else if (p.tok.kind == T_IDENT) parse_decl(&p);
        else {
            char b[64];
            err(&p, "expected a declaration, found %s", tok_text(&p, b, sizeof b));
            sync_line(&p);
        }
    }
    if (p.failed) return NULL;
    if (ir_verify(p.m, d)) return NULL;
    return p.m;
}
