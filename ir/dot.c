/* dot.c — the graphs in Graphviz form, for looking at what the passes made.
 *
 * `dot -Tsvg` of the output shows one cluster per graph and, inside it, one cluster per
 * layer: nodes whose names share the prefix before the first '.' ("h3.attn", "h3.ln_2")
 * when at least two do. Each node is a box "name / op attrs / type"; fused ops (OPF_FUSED)
 * are filled and double-bordered so the kernels the passes made stand out; inputs are
 * ellipses, weights notes, state reads and cache writes cylinders. Edges run from input to
 * user. Labels reuse the text form's attribute printing, escaped for dot. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

static void put_escaped(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i]; i++) {
        if (s[i] == '"' || s[i] == '\\') fputc('\\', out);
        if (s[i] == '\n') fputs("\\n", out);
        else fputc(s[i], out);
    }
}

/* Length of the layer prefix of a name ("h3" of "h3.attn"), 0 when it has none. */
static size_t prefix_len(const char *name)
{
    const char *dot = strchr(name, '.');
    return dot ? (size_t)(dot - name) : 0;
}

static const char *node_style(const Node *n)
{
    if (op_info[n->op].flags & OPF_FUSED) return "shape=box, style=\"filled,rounded\", fillcolor=\"#ffd479\", peripheries=2";
    switch (n->op) {
    case OP_INPUT: return "shape=ellipse, style=filled, fillcolor=\"#c9e7c2\"";
    case OP_WEIGHT: return "shape=note, fontsize=9, color=gray50, fontcolor=gray30";
    case OP_STATE_READ: case OP_CACHE: return "shape=cylinder, style=filled, fillcolor=\"#cfe0f5\"";
    default: return "shape=box, style=rounded";
    }
}

static void put_node(const Module *m, const Graph *g, const Node *n, FILE *out)
{
    char *attrs = NULL, type[1024];
    size_t len = 0;
    FILE *mem = open_memstream(&attrs, &len);
    if (mem) {
        ir_print_attrs(m, n, mem);
        fclose(mem);
    }
    ir_shape_str(m, &n->shape, type, sizeof type);
    fprintf(out, "    \"%s/%d\" [%s, label=\"", g->name, n->id, node_style(n));
    put_escaped(out, n->name, strlen(n->name));
    fprintf(out, "\\n%s", op_name(n->op));
    if (attrs) put_escaped(out, attrs, len);
    fprintf(out, "\\n%s%s\"];\n", dtype_name(n->dtype), type);
    free(attrs);
}

static void put_graph(const Module *m, const Graph *g, FILE *out)
{
    fprintf(out, "  subgraph \"cluster_%s\" {\n    label=\"graph %s\";\n", g->name, g->name);
    char *done = xcalloc((size_t)g->n_nodes + 1, 1);
    for (int i = 0; i < g->n_nodes; i++) {
        if (done[i]) continue;
        const Node *n = g->nodes[i];
        size_t p = prefix_len(n->name);
        int members = 0;
        for (int j = i; p && j < g->n_nodes; j++)
            members += prefix_len(g->nodes[j]->name) == p && !strncmp(g->nodes[j]->name, n->name, p);
        if (members < 2) {
            put_node(m, g, n, out);
            done[i] = 1;
            continue;
        }
        fprintf(out, "  subgraph \"cluster_%s/", g->name);
        put_escaped(out, n->name, p);
        fputs("\" {\n    label=\"", out);
        put_escaped(out, n->name, p);
        fputs("\"; style=dashed; color=gray60;\n", out);
        for (int j = i; j < g->n_nodes; j++)
            if (!done[j] && prefix_len(g->nodes[j]->name) == p && !strncmp(g->nodes[j]->name, n->name, p)) {
                put_node(m, g, g->nodes[j], out);
                done[j] = 1;
            }
        fputs("  }\n", out);
    }
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i]->n_in; j++)
            fprintf(out, "    \"%s/%d\" -> \"%s/%d\";\n", g->name, g->nodes[i]->in[j]->id, g->name, i);
    for (int i = 0; i < g->n_outputs; i++) {
        fprintf(out, "    \"%s/out/%d\" [shape=ellipse, style=filled, fillcolor=\"#f5c6c6\", label=\"output ", g->name, i);
        put_escaped(out, g->outputs[i].name, strlen(g->outputs[i].name));
        fprintf(out, "\"];\n    \"%s/%d\" -> \"%s/out/%d\";\n", g->name, g->outputs[i].node->id, g->name, i);
    }
    fputs("  }\n", out);
    free(done);
}

void ir_print_dot(const Module *m, FILE *out)
{
    fputs("digraph kiln {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n", out);
    fputs("  label=\"", out);
    if (m->name) put_escaped(out, m->name, strlen(m->name));
    fputs(" (filled, double border: fused kernels)\";\n", out);
    for (int i = 0; i < m->n_graphs; i++) put_graph(m, m->graphs[i], out);
    fputs("}\n", out);
}
