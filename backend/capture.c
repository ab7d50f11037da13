/* capture.c — the calls a capture build (BackendOptions.capture) adds to forward, so that
 * `kiln diff` can compare every node's value with the reference interpreter's.
 *
 * After node n, forward calls the runtime's
 *     void kiln_capture(i64 node, ptr y, i64 bytes)        (runtime/model.h)
 * with n's index in the compiled graph, its value (a pointer into the arena, or its
 * source's storage for a view) and its size at this call's symbols: 4 bytes (f32 or i32,
 * as every computed value is) times the product of its dims. forward.c makes the call for
 * node i-1 at the top of iteration i, so a node is captured however it was lowered (a
 * kernel, a view of another node) and before any later node can reuse its memory. The
 * call is opaque to LLVM, so kernels inlined around it keep their loads and stores. Inputs
 * and weights are not captured: they are the same in both runs by construction.
 * Ordinary builds emit no call at all. */
#include "backend/codegen_impl.h"

static LLVMTypeRef capture_type(Cg *cg)
{
    LLVMTypeRef params[3] = { cg->t_i64, cg->t_ptr, cg->t_i64 };
    return LLVMFunctionType(cg->t_void, params, 3, 0);
}

/* The runtime's kiln_capture, declared once; hidden: this executable defines it. */
static LLVMValueRef capture_function(Cg *cg)
{
    LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, "kiln_capture");
    if (fn) return fn;
    fn = LLVMAddFunction(cg->mod, "kiln_capture", capture_type(cg));
    LLVMSetVisibility(fn, LLVMHiddenVisibility);
    return fn;
}

/* 4 * the number of elements of n at this call's symbol values. */
static LLVMValueRef value_bytes(Cg *cg, const Node *n, LLVMValueRef const *symv)
{
    LLVMValueRef bytes = LLVMConstInt(cg->t_i64, 4, 0);
    for (int i = 0; i < n->shape.rank; i++) {
        Dim d = n->shape.d[i];
        LLVMValueRef v = LLVMConstInt(cg->t_i64, (uint64_t)d.k, 0);
        for (int t = 0; t < IR_DIM_TERMS && d.sym[t]; t++) v = LLVMBuildNSWAdd(cg->b, v, symv[d.sym[t]], "");
        bytes = LLVMBuildMul(cg->b, bytes, v, "");
    }
    return bytes;
}

void cg_emit_capture(Cg *cg, const Node *n, LLVMValueRef y, LLVMValueRef const *symv)
{
    if (n->op == OP_INPUT || n->op == OP_WEIGHT || !y) return;
    LLVMValueRef args[3] = { LLVMConstInt(cg->t_i64, (uint64_t)n->id, 0), y, value_bytes(cg, n, symv) };
    LLVMBuildCall2(cg->b, capture_type(cg), capture_function(cg), args, 3, "");
}
