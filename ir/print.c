/* print.c — the text form of a module (.kir), as specified in docs/ir.md.
 *
 * Printing is canonical: declarations in a fixed order, attributes in attrs.def order,
 * floats in their shortest exact form, paths relative to the output's directory. That is
 * what makes print → parse → print byte-identical. */
#include "ir.h"

#include <string.h>

static void put_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(out, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", out);
        else if (*p < 0x20 || *p == 0x7f) fprintf(out, "\\x%02x", *p);
        else fputc(*p, out);
    }
    fputc('"', out);
}

static void put_type(const Module *m, FILE *out, DType dt, const Shape *s)
{
    char buf[1024];
    ir_shape_str(m, s, buf, sizeof buf);
    fprintf(out, "%s%s", dtype_name(dt), buf);
}

static void put_path(const Module *m, FILE *out, const char *out_dir, const char *path)
{
    Arena tmp = { 0 };
    const char *full = path_join(&tmp, m->base_dir, path);
    put_string(out, path_relative(&tmp, out_dir, full));
    arena_free(&tmp);
}

static void put_attr(const Module *m, FILE *out, const Attr *a)
{
    char buf[96];
    fprintf(out, " %s=", attr_info[a->kind].name);
    switch (attr_info[a->kind].type) {
    case AT_INT:
        fprintf(out, "%lld", (long long)a->v.i);
        break;
    case AT_FLOAT:
        fmt_double(buf, sizeof buf, a->v.f);
        fputs(buf, out);
        break;
    case AT_STR:
        put_string(out, a->v.s);
        break;
    case AT_INTS:
        fputc('[', out);
        for (int i = 0; i < a->n; i++) fprintf(out, "%s%lld", i ? ", " : "", (long long)a->v.ints[i]);
        fputc(']', out);
        break;
    case AT_DIM:
        ir_dim_str(m, a->v.dim, buf, sizeof buf);
        fputs(buf, out);
        break;
    case AT_DIMS: {
        Shape s = { a->n, { { 0, { 0, 0 } } } };
        for (int i = 0; i < a->n; i++) s.d[i] = a->v.dims[i];
        char sb[1024];
        ir_shape_str(m, &s, sb, sizeof sb);
        fputs(sb, out);
        break;
    }
    }
}

void ir_print_attrs(const Module *m, const Node *n, FILE *out)
{
    for (int j = 0; j < n->n_attrs; j++) put_attr(m, out, &n->attrs[j]);
}

static void print_graph(const Module *m, const Graph *g, FILE *out, const Diag *files)
{
    fprintf(out, "\ngraph %s {\n", g->name);
    for (int i = 0; i < g->n_nodes; i++) {
        const Node *n = g->nodes[i];
        fprintf(out, "  %%%s = %s", n->name, op_name(n->op));
        for (int j = 0; j < n->n_in; j++) fprintf(out, "%s%%%s", j ? ", " : " ", n->in[j]->name);
        ir_print_attrs(m, n, out);
        fputs(" : ", out);
        put_type(m, out, n->dtype, &n->shape);
        if (files && n->loc.file && n->loc.file < files->n_files && n->loc.line) {
            fputs(" @", out);
            put_string(out, files->files[n->loc.file]);
            fprintf(out, ":%u:%u", n->loc.line, n->loc.col);
        }
        fputc('\n', out);
    }
    for (int i = 0; i < g->n_outputs; i++)
        fprintf(out, "  output %s = %%%s\n", g->outputs[i].name, g->outputs[i].node->name);
    fputs("}\n", out);
}

void ir_print(const Module *m, FILE *out, const char *out_dir)
{
    fputs("kiln 1\n", out);
    fputs("model ", out);
    put_string(out, m->name ? m->name : "");
    if (m->family) {
        fputs(" family ", out);
        put_string(out, m->family);
    }
    fputc('\n', out);
    for (int i = 0; i < m->n_params; i++) {
        fprintf(out, "param %s = ", m->params[i].name);
        put_string(out, m->params[i].value);
        fputc('\n', out);
    }
    for (int i = 1; i <= m->n_syms; i++)
        fprintf(out, "dim %s <= %lld\n", m->syms[i].name, (long long)m->syms[i].max);
    for (int i = 0; i < m->n_wfiles; i++) {
        fputs("weights ", out);
        put_path(m, out, out_dir, m->wfiles[i].path);
        fputc('\n', out);
    }
    if (m->tokenizer.kind) {
        fprintf(out, "tokenizer %s", m->tokenizer.kind);
        for (int i = 0; i < m->tokenizer.n_files; i++) {
            fputc(' ', out);
            put_path(m, out, out_dir, m->tokenizer.files[i]);
        }
        fputc('\n', out);
    }
    for (int i = 0; i < m->n_states; i++) {
        fprintf(out, "state %s ", m->states[i].name);
        put_type(m, out, m->states[i].dtype, &m->states[i].shape);
        fprintf(out, " batch_axis=%d\n", m->states[i].batch_axis);
    }
    for (int i = 0; i < m->n_graphs; i++) print_graph(m, m->graphs[i], out, m->files);
}
