/* passes.h — transformations and analyses over the IR: the pass pipeline (one ordered table,
 * one signature, run by passes_run) and the memory plan the backend lowers into one arena. */
#ifndef KILN_PASSES_H
#define KILN_PASSES_H

#include "ir/ir.h"

/* ---- the pipeline ------------------------------------------------------------------- */

/* A pass rewrites the module in place and returns the number of nodes it changed, or -1
 * after reporting a user error. */
typedef int (*PassFn)(Module *m, Diag *d);

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
} PassOptions;

/* Runs the pipeline. Unknown pass names in the options are user errors. Returns 0, or -1
 * when a pass or the verifier failed (a verifier failure after a pass is a kiln bug and is
 * reported as one). *stopped is set when stop_after ended the pipeline early. */
int passes_run(Module *m, const PassOptions *o, Diag *d, int *stopped);

/* The passes (pass_*.c). */
int pass_dce(Module *m, Diag *d);
int pass_cse(Module *m, Diag *d);
int pass_pack_weights(Module *m, Diag *d);

/* Rewiring helpers for passes: every use of old (inputs and graph outputs) becomes new;
 * nodes flagged by keep[id] == 0 are dropped and the graph renumbered. */
void ir_replace_uses(Graph *g, Node *old, Node *new_node);
void ir_graph_keep(Graph *g, const char *keep);

/* ---- the memory plan -------------------------------------------------------------------- */

enum { PLAN_ALIGN = 64 };       /* every region starts on a cache line */
#define PLAN_NONE UINT64_MAX    /* no storage of its own: input, weight, reshape (an alias) */

/* Where every value of one graph and every state of the module live in the arena, planned
 * with each symbol at its bound. States come first and stay for the program's life; then
 * each node's result takes the lowest free region that fits, and gives it back after its
 * last reader (reshapes extend their source's life). */
typedef struct MemPlan {
    uint64_t arena_bytes;
    uint64_t *offset;           /* (n_nodes) by node id; PLAN_NONE for no storage */
    uint64_t *bytes;            /* (n_nodes) size at the bounds */
    uint64_t *state_offset;     /* (n_states) */
    const Node **alias_of;      /* (n_nodes) the node whose storage a reshape uses, or itself */
} MemPlan;

/* Plans g. A value too large to plan (over 2^40 bytes) is a user error at its node. */
int pass_plan_memory(const Module *m, const Graph *g, MemPlan *plan, Diag *d);
void mem_plan_free(MemPlan *plan);

#endif
