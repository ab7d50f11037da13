/* harness.h — building one-op graphs and running their kernels against the interpreter.
 *
 * A test case (T) is a module with one graph whose inputs are INPUT nodes (or WEIGHT nodes
 * with data) and whose single output is the node under test. t_check runs the case: the
 * reference interpreter computes the expected values for each run (runs differ in the
 * symbols' values; states persist from run to run), then for each code generation variant
 * (vector width, optimization) the node's kernel is emitted by cg_kernel, verified,
 * optionally optimized with default<O3>, JIT-compiled with ORC's LLJIT and called on the
 * same inputs, and its output compared with the metric the case names. Then every variant
 * runs the case again split into t_split_parts parts (the contract's part, parts), calling
 * the parts one after another, each into a fresh poisoned buffer: no element may be
 * written by two parts, and the result (and the state) must be bit-identical to parts = 1. */
#ifndef KILN_TEST_HARNESS_H
#define KILN_TEST_HARNESS_H

#include "backend/backend_impl.h"

#include <stdio.h>

enum { T_MAX_RUNS = 3, T_MAX_IN = 8 };

/* How an output is compared; err is what is printed and checked against the tolerance. */
typedef enum Metric {
    M_EXACT,    /* bit-identical (layout ops, max pooling); tolerance 0 */
    M_REL,      /* |got - want| / max(|want|, 1e-6) (elementwise: relative, and absolute
                   below 1e-6, where the interpreter's own f64 formulas cancel) */
    M_ROW,      /* |got - want| / max |want| over the row of the last axis (softmax, norms) */
    M_MAG,      /* |got - want| / the same op on |inputs| (sum |a*b| for matmul) */
} Metric;

/* How an input's data is made. */
typedef enum Fill {
    F_UNI,      /* uniform f32 in [lo, hi) */
    F_INT,      /* i32 uniform in [lo, hi) (ids, positions) */
    F_VALID,    /* i32 0/1, 1 with probability lo; row 0 all zero when hi = 1 */
    F_IOTA,     /* i32 lo + j along the last axis */
    F_SPECIAL,  /* f32 uniform in [-3, 3) with some -inf, and row 0 all -inf (softmax) */
} Fill;

typedef struct T {
    Arena arena;
    Module *m;
    Graph *g;
    Diag diag;
    char *err;
    size_t err_len;
    FILE *err_file;
    int bad;                        /* builder failures */
    int count;                      /* for node names */
    char label[200];
    Node *out;                      /* the node under test */
    Fill fill[T_MAX_IN];            /* by graph input */
    double lo[T_MAX_IN], hi[T_MAX_IN];
    const float *wdata[64];         /* WEIGHT node id → its data as f32 (what the blob holds) */
    int64_t bind[T_MAX_RUNS][IR_MAX_SYMS + 1];  /* symbol values set before each run, -1 = keep */
    int n_runs;
    Metric metric;
    double tol;
    unsigned abs_mask;              /* M_MAG: graph inputs taken in absolute value */
    int abs_weights;                /* M_MAG: weights too */
    int exact_first_half;           /* the output's first half bit-exact, the metric for the rest
                                       (a fused norm's (2, ..) result: the sum, then the norm) */
} T;

void t_init(T *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void t_free(T *t);
int t_sym(T *t, const char *name, int64_t max);
Dim C(int64_t k);
Dim S(T *t, const char *name);
Dim SUM(T *t, const char *a, const char *b);
Shape shp(int rank, ...);
Node *t_input(T *t, const char *name, DType dt, Shape s);
/* A float input filled as told. */
Node *t_in(T *t, const char *name, Shape s, Fill f, double lo, double hi);
/* A weight node of dtype dt (f32, f16 or bf16) with random values in [-1, 1): the
 * interpreter reads the file dtype, the kernel the f32 widening. */
Node *t_weight(T *t, const char *name, DType dt, Shape s);
Node *t_node(T *t, OpKind op, Node *a, Node *b, Node *c, Node *d);
Node *t_done(T *t, Node *n);            /* infers; the last one done is the output */
void set_i(T *t, Node *n, AttrKind k, int64_t v);
void set_f(T *t, Node *n, AttrKind k, double v);
void set_s(T *t, Node *n, AttrKind k, const char *v);
void set_dim(T *t, Node *n, AttrKind k, Dim d);
void set_ints(T *t, Node *n, AttrKind k, int cnt, const int64_t *v);
void set_dims(T *t, Node *n, AttrKind k, Shape s);
/* Adds a run with the given symbol values, "seq=7 past=5"; symbols not named keep their
 * value (past advances after a run that appends) or, never bound, are 1. */
void t_run(T *t, const char *binds);
/* The shape "b,s,17" or "b, 4, past+s, 16": constants and symbols joined by '+'. */
Shape t_shape(T *t, const char *spec);
/* The runs "b=2 s=7; b=1 s=1" (t_run each; none given: one run with every symbol at 1). */
void t_runs(T *t, const char *spec);

/* Runs the case (interpreter, then every variant); prints one PASS/FAIL line. Returns the
 * number of failures (0 or 1). */
int t_check(T *t);

/* Whole cases shared by the kernel tests, built, checked and freed; begin declares the
 * symbols; r the runs (t_runs). Both compare with M_MAG, 1e-5 of the same product on |x| (and
 * |weights|). MATMUL: a [sa] times b [sb] (tb: b given transposed). LINEAR (GATED_LINEAR when
 * gated): x [xs, kk] times weights [kk, nn] ([nn, kk] with tb), then a bias, the activation
 * act (or none) and a residual input as asked. Return t_check's. */
int t_matmul_case(void (*begin)(T *), const char *sa, const char *sb, int tb, const char *r);
int t_linear_case(void (*begin)(T *), int gated, int tb, const char *xs, int kk, int nn, int bias, const char *act,
                  int res, const char *r);

/* ---- variants and JIT ---------------------------------------------------------------- */

typedef struct Variant {
    const char *label;
    const char *cpu;            /* NULL: the host's */
    const char *features;       /* extra features, or NULL */
    int want_vw;                /* expected lanes, 0 = whatever the host has */
    int o3;                     /* run default<O3> before JIT */
} Variant;

extern const Variant variants[];
extern const int n_variants;
extern int variant_vw[];        /* the lanes each variant really got */
/* The splits every case is also run with (parts > 1), see t_check. */
extern const int64_t t_split_parts[];
extern const int t_n_split_parts;
/* Largest error seen per op and variant, for the summary. */
extern double op_err[OP_COUNT][8];
extern int op_cases[OP_COUNT];

/* Emits the kernel of n (and any other node in extra, which must have the same key as n
 * or not) into a fresh Cg for variant v in a JIT-ready context. */
typedef void (*KernelFn)(void *y, const void *x0, const void *x1, const void *x2, const void *x3,
                         const int64_t *syms, void *aux, int64_t part, int64_t parts);
typedef struct Jit Jit;
Jit *jit_kernel(const Variant *v, const Module *m, const Node *n, int *vw_out);
KernelFn jit_fn(Jit *j);
/* Dump the kernels jit_kernel makes while label contains $KILN_TEST_DUMP. */
void jit_dump_label(const char *label);
void jit_free(Jit *j);

/* Options of cg_init for variant v. */
void variant_options(const Variant *v, BackendOptions *o);

#endif
