/* interp_impl.h — shared by the interpreter's two files (interp.c: the session, symbols,
 * planning and layout helpers; interp_ops.c: the ops). No other file includes it. */
#ifndef KILN_INTERP_IMPL_H
#define KILN_INTERP_IMPL_H

#include "ir.h"

struct Interp {
    Module *m;
    Diag *d;
    int64_t sym[IR_MAX_SYMS + 1];   /* value of each symbol, -1 = unbound; [0] unused */
    int past;                       /* index of the symbol "past", 0 if none */
    Tensor *states;                 /* (m->n_states), each at the symbols' maxima */
};

/* One run of one graph. */
typedef struct Run {
    Interp *in;
    const Graph *g;
    Tensor *val;                    /* (n_nodes) the value of each node, once computed */
    char *own;                      /* (n_nodes) 1 = val[i] is ours to free */
    int *last;                      /* (n_nodes) index of the last node reading it */
    int64_t (*dims)[IR_MAX_RANK];   /* (n_nodes) evaluated shape of each node */
    int64_t appended;               /* length the CACHE nodes wrote at past; -1 = none */
} Run;

/* A user error at node n: "op 'name': message". Returns -1. */
int interp_node_error(Interp *in, const Node *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The value of dim d with the bound symbols; an unbound symbol is an error at n. */
int interp_eval_dim(Interp *in, const Node *n, Dim d, int64_t *out);
/* The dtype a value of dtype t has in the interpreter: f32 for any float, else i32. */
DType interp_value_dtype(DType t);
/* Product of d[from..to). */
int64_t interp_prod(const int64_t *d, int from, int to);
/* Row-major strides of dims (elements). */
void interp_strides_of(int rank, const int64_t *dims, int64_t *st);
/* Advances a multi-index over dims, last axis fastest. */
void interp_index_next(int64_t *idx, const int64_t *dims, int rank);
/* Copies the box of extents ext at soff in src to doff in dst (same rank, 4-byte elements). */
void interp_copy_box(const Tensor *src, const int64_t *soff, Tensor *dst, const int64_t *doff, const int64_t *ext);
/* n's axis attribute, normalized against rank. */
int interp_node_axis(const Node *n, int rank);
/* Computes node n of run r into y (allocated here). */
int interp_exec_node(Run *r, const Node *n, Tensor *y);

#endif
