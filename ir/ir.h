/* ir.h — kiln's tensor IR: modules, graphs, nodes, shapes with symbolic dimensions.
 *
 * A Module is what one model file describes: hyper-parameters, named symbolic dimensions
 * (batch, seq, past, src, tgt, ...), weight files, tokenizer files, states (KV caches,
 * encoder memory) and one or more graphs (a decoder has `forward`; an encoder-decoder has
 * `encode` and `decode`). A Graph is a list of nodes in topological order; each node is
 * one op from ops.def producing one tensor, with a dtype, a shape, its inputs, its
 * attributes (attrs.def), a unique name and the place in the user's file it came from.
 * docs/ir.md is the specification; this header is its C form.
 *
 * Dimensions are small linear forms: a constant plus up to two symbols (past+seq). That is
 * all transformer graphs need and it keeps equality of shapes a field-by-field compare.
 * Weights are never copied into the IR: a WEIGHT node points into the mapped file. */
#ifndef KILN_IR_H
#define KILN_IR_H

#include "support/support.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    IR_MAX_RANK = 6,
    IR_MAX_INPUTS = 4,
    IR_DIM_TERMS = 2,       /* symbols per dimension */
    IR_MAX_SYMS = 32,
};

/* Largest size of any single dimension or tensor (elements) a model may declare: 2^40.
 * Larger values are user errors ("absurd size"), which keeps every product in int64. */
#define IR_MAX_EXTENT ((int64_t)1 << 40)

typedef enum DType { DT_F32, DT_F16, DT_BF16, DT_I32, DT_COUNT } DType;
const char *dtype_name(DType t);          /* "f32" */
int dtype_from_name(const char *s);       /* -1 if unknown */
int dtype_size(DType t);                  /* bytes */
bool dtype_is_float(DType t);

typedef enum OpKind {
#define OP(name, lo, hi, flags, doc) OP_##name,
#include "ops.def"
#undef OP
    OP_COUNT
} OpKind;

enum OpFlags {
    OPF_NONE = 0,
    OPF_SOURCE = 1 << 0,    /* no inputs: input, weight, state read */
    OPF_BCAST = 1 << 1,     /* binary elementwise with numpy broadcasting */
    OPF_UNARY = 1 << 2,     /* elementwise, one input */
    OPF_LAYOUT = 1 << 3,    /* moves elements, computes nothing */
    OPF_STATE = 1 << 4,     /* touches a state */
    OPF_FUSED = 1 << 5,     /* made only by passes */
};

typedef struct OpInfo {
    int min_in, max_in;
    unsigned flags;
    const char *doc;
} OpInfo;
extern const OpInfo op_info[OP_COUNT];
const char *op_name(OpKind op);          /* lower-case keyword: "matmul" */
int op_from_name(const char *s);          /* -1 if unknown */

typedef enum AttrKind {
#define ATTR(name, type, doc) A_##name,
#include "attrs.def"
#undef ATTR
    A_COUNT
} AttrKind;

typedef enum AttrType { AT_INT, AT_FLOAT, AT_STR, AT_INTS, AT_DIM, AT_DIMS } AttrType;
typedef struct AttrInfo {
    const char *name;
    AttrType type;
    const char *doc;
} AttrInfo;
extern const AttrInfo attr_info[A_COUNT];
int attr_from_name(const char *s);        /* -1 if unknown */
/* Whether op accepts attribute a, and whether it must be given. */
bool op_accepts(OpKind op, AttrKind a);
bool op_requires(OpKind op, AttrKind a);

/* ---- dimensions and shapes -------------------------------------------------------- */

/* value = k + sum of the symbols sym[i] (1-based indexes into Module.syms; 0 = none).
 * Terms are kept sorted, so two equal dims have equal fields. */
typedef struct Dim {
    int64_t k;
    uint8_t sym[IR_DIM_TERMS];
} Dim;

typedef struct Shape {
    int rank;
    Dim d[IR_MAX_RANK];
} Shape;

Dim dim_const(int64_t k);
Dim dim_sym(int s);
bool dim_is_const(Dim d);
bool dim_eq(Dim a, Dim b);
/* a + b; false when the result needs more than IR_DIM_TERMS symbols. */
bool dim_add(Dim a, Dim b, Dim *out);
bool shape_eq(const Shape *a, const Shape *b);
/* Number of elements when every dim is constant; -1 otherwise. */
int64_t shape_numel_const(const Shape *s);
/* Number of elements with every symbol at its bound (the most a run can need); -1 if that
 * is absurd (over 2^40 per dim or in all). */
struct Module;
int64_t shape_numel_at_bounds(const struct Module *m, const Shape *s);

/* ---- attributes ------------------------------------------------------------------- */

typedef struct Attr {
    AttrKind kind;
    int n;                  /* element count of AT_INTS / AT_DIMS */
    union {
        int64_t i;
        double f;
        const char *s;
        int64_t ints[IR_MAX_RANK];
        Dim dim;
        Dim dims[IR_MAX_RANK];
    } v;
} Attr;

/* ---- nodes and graphs ------------------------------------------------------------- */

typedef struct Node Node;
struct Node {
    OpKind op;
    DType dtype;
    Shape shape;
    int n_in;
    Node *in[IR_MAX_INPUTS];
    int n_attrs;
    Attr *attrs;            /* sorted by kind, at most one of each */
    const char *name;       /* unique in the graph: "l3.attn.qk" */
    Loc loc;                /* where the user wrote it; a fused node: that of the value it gives */
    int id;                 /* position in Graph.nodes, kept by ir_graph_renumber */
    int ref;                /* WEIGHT: index in Module.weights; CACHE/STATE_READ: Module.states */
    void *aux;              /* scratch for one pass or the interpreter; not printed */
};

typedef struct Output {
    const char *name;
    Node *node;
    Loc loc;
} Output;

typedef struct Graph {
    const char *name;       /* "forward", "encode", "decode" */
    Node **nodes;
    int n_nodes, cap_nodes;
    Node **inputs;          /* the INPUT nodes, in declaration order */
    int n_inputs, cap_inputs;
    Output *outputs;
    int n_outputs, cap_outputs;
    Loc loc;
    Arena *arena;           /* the module's */
} Graph;

/* ---- module-level declarations ---------------------------------------------------- */

typedef struct Param {      /* a hyper-parameter, kept for summaries and the runtime */
    const char *name;
    const char *value;      /* as written: "12", "1e-05", "gelu" */
    Loc loc;
} Param;

typedef struct Symbol {     /* a symbolic dimension */
    const char *name;
    int64_t max;            /* upper bound: sizes caches and memory plans */
    Loc loc;
} Symbol;

typedef struct WeightFile {
    const char *path;       /* as written, relative to Module.base_dir */
    Loc loc;
    void *handle;           /* the frontend's open file, or NULL */
} WeightFile;

typedef struct Weight {     /* one tensor of the weight files, shared by WEIGHT nodes */
    const char *tensor;
    DType dtype;            /* the file's, once bound */
    int declared;           /* dtype the model demands (a DType), or -1: whatever the file has */
    int transposed;         /* 1: the file's 2-d tensor with its axes swapped (shape is the swapped one) */
    Shape shape;            /* constant dims only */
    const void *data;       /* into a mapped file; may be unaligned (a concatenation: its first part's) */
    Loc loc;
    int n_parts;            /* > 0: the rows of parts[0..n_parts) one after another, a layout chosen by
                               pass fuse-epilogue (merged projections); tensor lists theirs */
    struct Weight *parts;   /* copies of the parts' entries (each plain or transposed), data included */
} Weight;

typedef struct State {      /* persistent memory between graph runs */
    const char *name;
    DType dtype;
    Shape shape;            /* allocated at the symbols' max */
    int batch_axis;         /* rows permuted when beams are reordered (-1 = none) */
    Loc loc;
} State;

typedef struct TokenizerFiles {
    const char *kind;       /* "gpt2", "wordpiece", "sentencepiece"; NULL = none */
    const char *files[3];   /* as written, relative to Module.base_dir */
    int n_files;
    Loc loc;
} TokenizerFiles;

typedef struct Module {
    Arena *arena;
    const char *name;
    const char *family;     /* "gpt2", "llama", "bert", ... (informative) */
    const char *base_dir;   /* directory that relative paths start from */
    Param *params;      int n_params, cap_params;
    Symbol syms[IR_MAX_SYMS + 1];   /* syms[0] unused */
    int n_syms;
    WeightFile *wfiles; int n_wfiles, cap_wfiles;
    Weight *weights;    int n_weights, cap_weights;
    State *states;      int n_states, cap_states;
    TokenizerFiles tokenizer;
    Graph **graphs;     int n_graphs, cap_graphs;
    Loc loc;
    const Diag *files;      /* names the files of every Loc (printing locations) */
    NameMap weight_index, state_index, param_index;     /* kept by the ir_module_add_* */
} Module;

/* ---- building ---------------------------------------------------------------------- */

Module *ir_module_new(Arena *a);
Graph *ir_graph_new(Module *m, const char *name, Loc loc);
Graph *ir_module_graph(const Module *m, const char *name);   /* NULL if absent */
int ir_module_sym(const Module *m, const char *name);        /* 0 if absent */
int ir_module_add_sym(Module *m, const char *name, int64_t max, Loc loc);  /* -1 if full */
int ir_module_state(const Module *m, const char *name);      /* -1 if absent */
int ir_module_weight(const Module *m, const char *tensor);   /* -1 if absent */
const char *ir_module_param(const Module *m, const char *name);  /* NULL if absent */
/* The parameter `eos`, the token that ends generation: *eos = its value, or -1 when absent.
 * Returns -1 when it is not a token id below vocab (the caller reports at the param). */
int ir_module_eos(const Module *m, int64_t vocab, int64_t *eos);
/* The same for any token parameter (`bos`: the decoder's start token). */
int ir_module_token(const Module *m, const char *name, int64_t vocab, int64_t *id);
void ir_module_add_param(Module *m, const char *name, const char *value, Loc loc);
int ir_module_add_weight_file(Module *m, const char *path, Loc loc);
int ir_module_add_weight(Module *m, const char *tensor, DType dt, const Shape *shape, Loc loc);
/* The weight of the same tensor with its two axes swapped (made on first use). */
int ir_module_weight_transposed(Module *m, int w);
/* The weight whose rows are those of weights parts[0..n) one after another (made on first
 * use): all 2-d with the same columns, or all 1-d; one dtype; all plain or all transposed.
 * Its tensor is their tensors joined by commas; it holds copies of their entries, so it
 * outlives them. ir_module_bind_concats gives the copies their data once the files are
 * bound (the loader calls it; a pass that concatenates bound weights need not). */
int ir_module_weight_concat(Module *m, const int *parts, int n);
void ir_module_bind_concats(Module *m);
int ir_module_add_state(Module *m, const char *name, DType dt, const Shape *shape, int batch_axis, Loc loc);

/* A node with no inputs and no shape yet; the caller sets inputs and attributes, then
 * calls ir_infer (builders) or sets dtype/shape itself (the parser, which then verifies). */
Node *ir_node_new(Graph *g, OpKind op, const char *name, Loc loc);
void ir_node_add_input(Node *n, Node *in);
Attr *ir_node_set_attr(Module *m, Node *n, AttrKind k);   /* creates or returns, kept sorted */
const Attr *ir_node_attr(const Node *n, AttrKind k);      /* NULL if absent */
int64_t ir_attr_int(const Node *n, AttrKind k, int64_t dflt);
double ir_attr_float(const Node *n, AttrKind k, double dflt);
const char *ir_attr_str(const Node *n, AttrKind k, const char *dflt);
Node *ir_graph_find(const Graph *g, const char *name);    /* NULL if absent; linear */
/* For many lookups: a copy of g's nodes sorted by name (ties in graph order), to free();
 * ir_sorted_find searches it (the first of equal names). */
Node **ir_graph_sorted(const Graph *g);
Node *ir_sorted_find(Node *const *sorted, int n, const char *name);
void ir_graph_add_output(Graph *g, const char *name, Node *node, Loc loc);

/* Sorts the nodes topologically (stable: keeps the written order where it can). A cycle
 * is a user error naming the nodes on it. Returns 0 on success. */
int ir_graph_toposort(Graph *g, Diag *d);
void ir_graph_renumber(Graph *g);

/* Reads a float weight (f32, f16 or bf16 in its file) as numel f32 values into dst, in the
 * weight's layout (a transposed weight is read transposed). */
void ir_weight_read_f32(const Weight *w, float *dst, int64_t numel);

/* ---- checking -------------------------------------------------------------------- */

/* Computes n->dtype and n->shape from its inputs and attributes. A mismatch is a user
 * error at n->loc (`matmul 'l3.attn.qk': inner dimensions differ (64 vs 48)`). */
int ir_infer(Module *m, Node *n, Diag *d);
/* Checks the invariants of docs/ir.md on every graph: arity, attributes, dtypes, shapes
 * (by re-inferring), unique names, topological order, references to weights and states.
 * Returns the number of errors reported. */
int ir_verify(Module *m, Diag *d);

/* Text forms of dims and shapes: "past+seq", "[batch, seq, 768]". */
void ir_dim_str(const Module *m, Dim d, char *buf, size_t cap);
void ir_shape_str(const Module *m, const Shape *s, char *buf, size_t cap);

/* ---- the text form (.kir) ---------------------------------------------------------- */

/* Prints the module. Paths are written relative to out_dir (the directory of the file
 * being written; "." for standard output). print → parse → print is byte-identical. */
void ir_print(const Module *m, FILE *out, const char *out_dir);
/* A node's attributes as the text form writes them: " causal=1 scale=0.125". */
void ir_print_attrs(const Module *m, const Node *n, FILE *out);
/* The graphs in Graphviz form: one cluster per graph and per layer (nodes named
 * "PREFIX.rest" sharing a prefix), each op labelled with its name, attributes and type,
 * fused ops filled and double-bordered, weights and states drawn apart. */
void ir_print_dot(const Module *m, FILE *out);

/* Parses .kir text. Weight data is not loaded (the frontend binds it). Returns NULL and
 * reports errors with file:line:col on failure. */
Module *ir_parse(Arena *a, Diag *d, const char *path, const char *text, size_t len);

/* ---- the reference interpreter ------------------------------------------------------ */

/* A concrete tensor: f32 or i32 (f16/bf16 weights are widened when read), row-major,
 * owned by whoever made it. */
typedef struct Tensor {
    DType dtype;            /* DT_F32 or DT_I32 */
    int rank;
    int64_t dim[IR_MAX_RANK];
    void *data;
} Tensor;

int64_t tensor_numel(const Tensor *t);
int tensor_alloc(Tensor *t, DType dt, int rank, const int64_t *dims);   /* zeroed; -1 if too big */
/* Bytes a tensor of these extents takes, in double: never overflows (exact below 2^53). */
double tensor_bytes(DType dt, int rank, const int64_t *dims);
/* This machine's physical memory in bytes (0 if unknown). */
double tensor_machine_bytes(void);
/* Why tensor_alloc refuses (or failed on) `bytes`: "needs N bytes, more than ..." into why.
 * 1 when the size alone is refused up front, 0 when malloc said no. */
int tensor_refusal(double bytes, char *why, size_t cap);
void tensor_free(Tensor *t);

/* An interpreter session over one module: plain, obviously-correct C for every op,
 * including fused ones, in float32 with float64 accumulation where a reduction is long.
 * States (KV caches, encoder memory) persist between runs; symbols bound by one run
 * (seq from an input's shape, src from the encoder's input, ...) stay bound until the
 * next run rebinds them. `past` is the number of positions already in the caches: the
 * session sets it, and advances it by seq after each run of a graph that appends. */
typedef struct Interp Interp;

Interp *interp_new(Module *m, Diag *d);      /* NULL (with an error) if states do not fit */
void interp_free(Interp *in);
/* Sets a symbol's value for the following runs (past, or any symbol no input determines). */
int interp_bind(Interp *in, const char *sym, int64_t value);
int64_t interp_sym(const Interp *in, const char *sym);    /* -1 if unbound */
/* Runs graph g. inputs are in g->inputs order; outputs receive fresh tensors in
 * g->outputs order (the caller frees them). Shape or range errors in the inputs (token id
 * out of the vocabulary, context full) are user errors; returns 0 on success. */
int interp_run(Interp *in, const Graph *g, const Tensor *inputs, Tensor *outputs);
/* Beam search: new batch row b takes the states of old row parent[b], for every state
 * along its batch axis. */
int interp_reorder(Interp *in, const int *parent, int n);
/* Forgets the caches: past = 0. */
void interp_reset(Interp *in);

#endif
