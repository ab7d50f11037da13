/* passes.h — transformations and analyses over the IR: the pass pipeline (one ordered table,
 * one signature, run by passes_run) and the memory plan the backend lowers into one arena. */
#ifndef KILN_PASSES_H
#define KILN_PASSES_H

#include "ir/ir.h"

/* ---- the pipeline ------------------------------------------------------------------- */

/* What fusion passes found: per candidate site, fused or the reason it was not. Sites are
 * copied (name, location), so they outlive the nodes a later pass removes. */
typedef struct FusionSite {
    const char *fusion;     /* "attention", "add+layernorm", ... */
    const char *node;       /* the candidate's name: the node the pattern is rooted at */
    Loc loc;
    const char *why_not;    /* NULL: fused */
} FusionSite;

typedef struct FusionReport {
    FusionSite *sites;
    int n, cap;
    const char *ran[16];    /* fusion passes that ran, in order, whether or not they fused */
    int n_ran;
} FusionReport;

/* What a pass works on. report is NULL when no one asked for the fusion report. */
typedef struct PassCtx {
    Module *m;
    Diag *d;
    FusionReport *report;
} PassCtx;

/* A pass rewrites c->m in place and returns the number of nodes it changed, or -1 after
 * reporting a user error. */
typedef int (*PassFn)(PassCtx *c);

typedef struct Pass {
    const char *name;       /* "dce": what --disable-pass and --print-after name */
    PassFn run;
    const char *doc;
} Pass;

extern const Pass pass_pipeline[];
extern const int pass_count;
const Pass *pass_find(const char *name);    /* NULL if unknown */

typedef struct PassOptions {
    const char *only;           /* comma list: run just these, in pipeline order (NULL: all) */
    const char *disabled;       /* comma list of passes to skip */
    const char *print_before;   /* a pass name, or "all" */
    const char *print_after;    /* a pass name, or "all" */
    const char *print_dir;      /* print into DIR/NN-{before,after}-PASS.kir instead of stderr */
    const char *stop_after;     /* stop the pipeline after this pass */
    int time_passes;            /* each pass's time and changes to stderr */
    int verify;                 /* run ir_verify after every pass (tests, debug builds) */
    FusionReport *report;       /* filled by the fusion passes when not NULL */
    const char *dot;            /* write the graphs in Graphviz form to this file ... */
    const char *dot_after;      /* ... after this pass (NULL: where the pipeline ends) */
} PassOptions;

/* Runs the pipeline. Unknown pass names in the options are user errors. Returns 0, or -1
 * when a pass or the verifier failed (a verifier failure after a pass is a kiln bug and is
 * reported as one). *stopped is set when stop_after ended the pipeline early. */
int passes_run(Module *m, const PassOptions *o, Diag *d, int *stopped);

/* The passes (pass_*.c). */
int pass_dce(PassCtx *c);
int pass_cse(PassCtx *c);
int pass_pack_weights(PassCtx *c);
int pass_fuse_norm(PassCtx *c);
int pass_fuse_attention(PassCtx *c);
int pass_fold_layout(PassCtx *c);
int pass_fuse_epilogue(PassCtx *c);
int pass_merge_qkv(PassCtx *c);

/* ---- the fusion report (report.c) ----------------------------------------------------- */

/* Records a candidate of fusion `fusion` rooted at node n: fused when why_not is NULL,
 * else the reason, printf-style ("the mask is applied after the softmax"). A no-op when
 * c->report is NULL. */
void fusion_site(PassCtx *c, const char *fusion, const Node *n, const char *why_not, ...)
    __attribute__((format(printf, 4, 5)));
/* Declares that a fusion pass ran (so "attention: 0/0" is printed, not left out). */
void fusion_ran(PassCtx *c, const char *fusion);
/* Prints `attention: 12/12` per fusion that ran, then each site not fused with its reason
 * and file:line:col. */
void fusion_report_print(const Module *m, const FusionReport *r, FILE *out);
void fusion_report_free(FusionReport *r);

/* Rewiring helpers for passes: every use of old (inputs and graph outputs) becomes new;
 * nodes flagged by keep[id] == 0 are dropped and the graph renumbered. */
void ir_replace_uses(Graph *g, Node *old, Node *new_node);

/* Who reads what, for the fusion passes: count[id] readers of node id, a graph output
 * counting READ_BY_OUTPUT; reader[id] one of them (the last in graph order). */
enum { READ_BY_OUTPUT = 1 << 20 };
typedef struct Readers {
    int *count;             /* (n_nodes) */
    Node **reader;          /* (n_nodes) */
} Readers;
void readers_count(const Graph *g, Readers *r);
void readers_free(Readers *r);
/* Why n's value must stay in memory (a graph output, several readers, none), or NULL
 * when its one reader may take it from registers. */
const char *readers_kept(const Readers *r, const Node *n, char *why, size_t cap);
/* readers_kept(...) == NULL */
int readers_private(const Readers *r, const Node *n);
void ir_graph_keep(Graph *g, const char *keep);
/* The same, flagging the nodes to drop instead: dead[id] != 0. */
void ir_graph_drop(Graph *g, const char *dead);
/* A new node of op with old's name and location, in old's slot of the graph (old leaves
 * the list; the caller gives the new node its inputs, then moves old's readers to it).
 * This is how a fused node replaces the value it gives. */
Node *ir_node_in_place_of(Graph *g, OpKind op, Node *old);
/* Moves the nodes appended after the first n_old into the graph's order: appended node j
 * (j >= n_old) goes just before old node slot[j - n_old], keeping the order they were
 * appended in; old nodes with dead[i] leave. Renumbers. */
void ir_graph_splice(Graph *g, int n_old, const int *slot, const char *dead);

/* ---- the memory plan -------------------------------------------------------------------- */

enum { PLAN_ALIGN = 64 };       /* every region starts on a cache line */
#define PLAN_NONE UINT64_MAX    /* no storage of its own: input, weight, or an alias */

/* Whether n is an alias: it names bytes of its input's storage instead of having its own.
 * A reshape names all of them; a take along axis 0 one contiguous block, `index` blocks of
 * its own size in (how the two results of a fused norm are read: no kernel, no copy). */
bool plan_is_alias(const Node *n);

/* Where every value of one graph and every state of the module live in the arena, planned
 * with each symbol at its bound. States come first and stay for the program's life; then
 * each node's result takes the lowest free region that fits, and gives it back after its
 * last reader (an alias extends its source's life, through chains of aliases). */
typedef struct MemPlan {
    uint64_t arena_bytes;
    uint64_t *offset;           /* (n_nodes) by node id; PLAN_NONE for no storage */
    uint64_t *bytes;            /* (n_nodes) size at the bounds */
    uint64_t *state_offset;     /* (n_states) */
    const Node **alias_of;      /* (n_nodes) the node whose storage an alias lies in, or itself */
    uint64_t *alias_offset;     /* (n_nodes) an alias's bytes from the start of alias_of's, with
                                   every symbol at its bound (0 for itself and for reshapes).
                                   A take of a symbolic shape lies nearer the start in a run
                                   with smaller symbols: the backend recomputes the offset with
                                   the run's values, index × the take's size */
} MemPlan;

/* Plans g. A value too large to plan (over 2^40 bytes) is a user error at its node. */
int pass_plan_memory(const Module *m, const Graph *g, MemPlan *plan, Diag *d);
void mem_plan_free(MemPlan *plan);

#endif
