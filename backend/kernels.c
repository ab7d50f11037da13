/* kernels.c — cg_kernel: the kernel of a node, emitted on first use and reused after.
 *
 * A kernel depends on the node's op, attributes, input and output dtypes and shapes (and,
 * for cache and state_read, the extents of the state buffer; for a cache that is a view and
 * attention reading one, that they are, cg_kv_view), never on its name or its
 * place in the graph, so those are written into a text key and kernels are looked up by it:
 * twelve identical layers share one set of kernels. The names of states and weights are
 * left out of the key (aux and the inputs are parameters), dims are written as their
 * constant and symbol indexes (`64`, `0+s2+s3`), floats exactly (%a). A new kernel is named
 * "k." + the name of the node that first needed it ("k.l0.attn.scores") and emitted by the
 * emitter of its op family (kernel_*.c) with a builder of its own, so a caller that is
 * building the forward function with cg->b keeps its place. Every kernel takes the
 * contract's (part, parts) and computes only its share (backend_impl.h).
 *
 * INPUT and WEIGHT have no kernel (NULL): their data is what the caller passes. RESHAPE and
 * TAKE along axis 0 are aliases (plan_is_alias) and normally get none either, but asked for
 * one they get a copy. */
#include "backend/kernel_impl.h"

#include <stdlib.h>
#include <string.h>

enum { KEY_CAP = 1536 };

struct KernelEntry {
    uint64_t hash;
    LLVMValueRef fn;
    char key[KEY_CAP];
};

typedef struct Key {
    char s[KEY_CAP];
    size_t n;
} Key;

__attribute__((format(printf, 2, 3)))
static void put(Key *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(key->s + key->n, KEY_CAP - key->n, fmt, ap);
    va_end(ap);
    KILN_ASSERT(w >= 0 && key->n + (size_t)w < KEY_CAP);
    key->n += (size_t)w;
}

static void put_dim(Key *key, Dim d)
{
    put(key, "%lld", (long long)d.k);
    for (int t = 0; t < IR_DIM_TERMS && d.sym[t]; t++) put(key, "+s%d", d.sym[t]);
}

static void put_shape(Key *key, DType t, const Shape *s)
{
    put(key, "%s[", dtype_name(t));
    for (int i = 0; i < s->rank; i++) {
        if (i) put(key, ",");
        put_dim(key, s->d[i]);
    }
    put(key, "]");
}

static void make_key(const Cg *cg, const Node *n, Key *key)
{
    key->n = 0;
    key->s[0] = 0;
    put(key, "%s", op_name(n->op));
    for (int i = 0; i < n->n_attrs; i++) {
        const Attr *a = &n->attrs[i];
        if (a->kind == A_state || a->kind == A_tensor) continue;       /* names, not semantics */
        put(key, " %s=", attr_info[a->kind].name);
        switch (attr_info[a->kind].type) {
        case AT_INT: put(key, "%lld", (long long)a->v.i); break;
        case AT_FLOAT: put(key, "%a", a->v.f); break;
        case AT_STR: put(key, "\"%s\"", a->v.s); break;
        case AT_INTS:
            for (int j = 0; j < a->n; j++) put(key, "%s%lld", j ? "," : "", (long long)a->v.ints[j]);
            break;
        case AT_DIM: put_dim(key, a->v.dim); break;
        case AT_DIMS:
            for (int j = 0; j < a->n; j++) {
                if (j) put(key, ",");
                put_dim(key, a->v.dims[j]);
            }
            break;
        }
    }
    for (int i = 0; i < n->n_in; i++) {
        put(key, " in%d=", i);
        put_shape(key, n->in[i]->dtype, &n->in[i]->shape);
    }
    put(key, " out=");
    put_shape(key, n->dtype, &n->shape);
    if (op_info[n->op].flags & OPF_STATE) {
        const State *st = &cg->m->states[n->ref];
        put(key, " state=%s[", dtype_name(st->dtype));
        for (int i = 0; i < st->shape.rank; i++) put(key, "%s%lld", i ? "," : "", (long long)kl_dim_max(cg->m, st->shape.d[i]));
        put(key, "]");
    }
    /* a cache that is a view, and attention reading one (cg_kv_view) */
    if (cg_kv_view(cg, n)) put(key, " view");
    for (int i = 1; n->op == OP_ATTENTION && i <= 2; i++)
        if (cg_kv_view(cg, n->in[i])) put(key, " in%d_view=%lld", i, (long long)cg_kv_view(cg, n->in[i]));
}

static uint64_t hash_key(const char *s)
{
    uint64_t h = 14695981039346656037ull;        /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void add_attr(Cg *cg, LLVMValueRef fn, unsigned idx, const char *name)
{
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    KILN_ASSERT(kind != 0);
    LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(cg->ctx, kind, 0));
}

static void emit_body(K *k)
{
    switch (k->n->op) {
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV:
        kern_binary(k);
        return;
    case OP_SCALE: case OP_GELU: case OP_RELU: case OP_SILU: case OP_SIGMOID: case OP_TANH:
        kern_unary(k);
        return;
    case OP_MATMUL: case OP_LINEAR: case OP_GATED_LINEAR:
        kern_matmul(k);
        return;
    case OP_SOFTMAX:
        kern_softmax(k);
        return;
    case OP_LAYERNORM: case OP_RMSNORM: case OP_ADD_LAYERNORM: case OP_ADD_RMSNORM:
        kern_norm(k);
        return;
    case OP_POOL:
        kern_pool(k);
        return;
    case OP_RESHAPE: case OP_TRANSPOSE: case OP_SLICE: case OP_REPEAT: case OP_TAKE: case OP_GATHER:
        kern_layout(k);
        return;
    case OP_CACHE: case OP_STATE_READ:
        kern_state(k);
        return;
    case OP_POSITIONS:
        kern_positions(k);
        return;
    case OP_SINUSOID:
        kern_sinusoid(k);
        return;
    case OP_ROPE:
        kern_rope(k);
        return;
    case OP_MASK:
        kern_mask(k);
        return;
    case OP_ATTENTION:
        kern_attention(k);
        return;
    case OP_INPUT: case OP_WEIGHT: case OP_COUNT:
        break;
    }
    KILN_UNREACHABLE();
}

/* A new function "k.<node>" with the contract's signature, its body emitted. */
static LLVMValueRef emit_kernel(Cg *cg, const Node *n)
{
    char *name = xmalloc(strlen(n->name) + 3);
    sprintf(name, "k.%s", n->name);
    LLVMValueRef fn = LLVMAddFunction(cg->mod, name, cg->t_kernel);
    free(name);
    static const char *const pnames[9] = { "y", "x0", "x1", "x2", "x3", "syms", "aux", "part", "parts" };
    for (unsigned i = 0; i < 9; i++) {
        LLVMSetValueName2(LLVMGetParam(fn, i), pnames[i], strlen(pnames[i]));
        if (i >= 7) continue;                       /* part, parts: i64 */
        add_attr(cg, fn, i + 1, "nocapture");
        /* inputs and syms are only read; syms never overlaps anything a kernel writes */
        if (i >= 1 && i <= 5) add_attr(cg, fn, i + 1, "readonly");
        if (i == 5) add_attr(cg, fn, i + 1, "noalias");
    }
    add_attr(cg, fn, LLVMAttributeFunctionIndex, "nounwind");
    K k = { 0 };
    k.cg = cg;
    k.fn = fn;
    k.n = n;
    k.vw = cg->vw;
    k.f32 = cg->t_f32;
    k.f64 = cg->t_f64;
    k.i1 = cg->t_i1;
    k.i32 = cg->t_i32;
    k.i64 = cg->t_i64;
    k.ptr = cg->t_ptr;
    k.y = LLVMGetParam(fn, 0);
    for (int i = 0; i < IR_MAX_INPUTS; i++) k.x[i] = LLVMGetParam(fn, (unsigned)(1 + i));
    k.syms = LLVMGetParam(fn, 5);
    k.aux = LLVMGetParam(fn, 6);
    k.part = LLVMGetParam(fn, 7);
    k.parts = LLVMGetParam(fn, 8);
    k.b = LLVMCreateBuilderInContext(cg->ctx);
    LLVMPositionBuilderAtEnd(k.b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
    emit_body(&k);
    LLVMBuildRetVoid(k.b);
    LLVMDisposeBuilder(k.b);
    return fn;
}

LLVMValueRef cg_kernel(Cg *cg, const Node *n)
{
    if (n->op == OP_INPUT || n->op == OP_WEIGHT) return NULL;
    Key key;
    make_key(cg, n, &key);
    uint64_t h = hash_key(key.s);
    for (int i = 0; i < cg->n_kernels; i++)
        if (cg->kernels[i].hash == h && strcmp(cg->kernels[i].key, key.s) == 0) return cg->kernels[i].fn;
    LLVMValueRef fn = emit_kernel(cg, n);
    if (cg->n_kernels == cg->cap_kernels) {
        cg->cap_kernels = cg->cap_kernels ? 2 * cg->cap_kernels : 16;
        cg->kernels = xrealloc(cg->kernels, (size_t)cg->cap_kernels * sizeof *cg->kernels);
    }
    KernelEntry *e = &cg->kernels[cg->n_kernels++];
    e->hash = h;
    e->fn = fn;
    memcpy(e->key, key.s, key.n + 1);
    return fn;
}
