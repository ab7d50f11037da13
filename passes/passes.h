/* passes.h — transformations and analyses over the IR. For now: the memory plan that the
 * backend lowers into one arena. (The pass table and the fusions come next.) */
#ifndef KILN_PASSES_H
#define KILN_PASSES_H

#include "ir/ir.h"

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
