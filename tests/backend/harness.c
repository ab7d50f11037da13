/* harness.c — one-op graphs, the interpreter's expected values, JIT-compiled kernels and the
 * comparison between them (see harness.h).
 *
 * JIT: every variant gets a fresh ORC ThreadSafeContext whose LLVMContext is handed to
 * cg_init (cg.ctx), so the kernel's module lives in it; the module is verified
 * (LLVMVerifyModule: failure is a kiln bug), optionally optimized by default<O3> with the
 * variant's target machine, then given to an LLJIT whose target machine is built with the
 * same triple, CPU and features as cg's, so an SSE variant really runs SSE code. Libm
 * functions (expf, tanhf, erfcf, sin, cos) resolve to this process's libm.
 *
 * Outputs are written into buffers pre-filled with a NaN pattern and followed by guard
 * words, so an element a kernel forgets, or one it writes past the end, is caught. The
 * same pattern tells which elements each part of a split call writes. */
#include "harness.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- building ------------------------------------------------------------------------- */

void t_init(T *t, const char *fmt, ...)
{
    memset(t, 0, sizeof *t);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->label, sizeof t->label, fmt, ap);
    va_end(ap);
    t->m = ir_module_new(&t->arena);
    t->m->name = "test";
    diag_init(&t->diag);
    t->err_file = open_memstream(&t->err, &t->err_len);
    t->diag.out = t->err_file;
    t->g = ir_graph_new(t->m, "forward", loc_make(0, 0, 0));
    t->metric = M_EXACT;
    for (int i = 0; i < T_MAX_IN; i++) {
        t->fill[i] = F_UNI;
        t->lo[i] = -1;
        t->hi[i] = 1;
    }
}

void t_free(T *t)
{
    fclose(t->err_file);
    free(t->err);
    diag_free(&t->diag);
    for (int i = 0; i < 64; i++) free((void *)t->wdata[i]);
    arena_free(&t->arena);
}

int t_sym(T *t, const char *name, int64_t max) { return ir_module_add_sym(t->m, name, max, loc_make(0, 0, 0)); }

Dim C(int64_t k) { return dim_const(k); }
Dim S(T *t, const char *name)
{
    int s = ir_module_sym(t->m, name);
    KILN_ASSERT(s);
    return dim_sym(s);
}
Dim SUM(T *t, const char *a, const char *b)
{
    Dim d;
    KILN_ASSERT(dim_add(S(t, a), S(t, b), &d));
    return d;
}

Shape t_shape(T *t, const char *spec)
{
    Shape sh;
    memset(&sh, 0, sizeof sh);
    char buf[128];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        while (*tok == ' ') tok++;
        Dim d = dim_const(0);
        for (char *term = tok; term && *term;) {
            char *plus = strchr(term, '+');
            if (plus) *plus = 0;
            if (*term >= '0' && *term <= '9') d.k += atoll(term);
            else KILN_ASSERT(dim_add(d, S(t, term), &d));
            term = plus ? plus + 1 : NULL;
        }
        sh.d[sh.rank++] = d;
    }
    return sh;
}

void t_runs(T *t, const char *spec)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec ? spec : "");
    char *save = NULL;
    int any = 0;
    for (char *r = strtok_r(buf, ";", &save); r; r = strtok_r(NULL, ";", &save)) {
        t_run(t, r);
        any = 1;
    }
    if (!any) t_run(t, "");
}

static int mag_check(T *t)
{
    t->metric = M_MAG;
    t->tol = 1e-5;
    t->abs_mask = 3;        /* the two operands: a and b, or x and the residual */
    t->abs_weights = 1;     /* sum |x| * |w| + |b| */
    int fails = t_check(t);
    t_free(t);
    return fails;
}

int t_matmul_case(void (*begin)(T *), const char *sa, const char *sb, int tb, const char *r)
{
    T t;
    t_init(&t, "matmul tb=%d [%s] [%s] {%s}", tb, sa, sb, r ? r : "");
    begin(&t);
    Node *a = t_in(&t, "a", t_shape(&t, sa), F_UNI, -1, 1), *b = t_in(&t, "b", t_shape(&t, sb), F_UNI, -1, 1);
    Node *y = t_node(&t, OP_MATMUL, a, b, NULL, NULL);
    if (tb) set_i(&t, y, A_tb, 1);
    t_done(&t, y);
    t_runs(&t, r);
    return mag_check(&t);
}

int t_linear_case(void (*begin)(T *), int gated, int tb, const char *xs, int kk, int nn, int bias, const char *act,
                  int res, const char *r)
{
    T t;
    t_init(&t, "%s tb=%d [%s,%d] n=%d%s%s%s%s {%s}", gated ? "gated_linear" : "linear", tb, xs, kk, nn,
           bias ? " bias" : "", act ? " act=" : "", act ? act : "", res ? " residual" : "", r ? r : "");
    begin(&t);
    char sx[64], sy[64];
    snprintf(sx, sizeof sx, "%s,%d", xs, kk);
    snprintf(sy, sizeof sy, "%s,%d", xs, nn);
    Node *x = t_in(&t, "x", t_shape(&t, sx), F_UNI, -1, 1);
    Node *rn = res ? t_in(&t, "res", t_shape(&t, sy), F_UNI, -1, 1) : NULL;
    Shape ws = tb ? shp(2, C(nn), C(kk)) : shp(2, C(kk), C(nn));
    Node *w = t_weight(&t, "w", DT_F32, ws);
    Node *wu = gated ? t_weight(&t, "w_up", DT_F32, ws) : NULL;
    Node *b = bias ? t_weight(&t, "b", DT_F32, shp(1, C(nn))) : NULL;
    Node *y = t_node(&t, gated ? OP_GATED_LINEAR : OP_LINEAR, x, w, wu, NULL);
    if (b) ir_node_add_input(y, b);
    if (rn) ir_node_add_input(y, rn);
    if (tb) set_i(&t, y, A_tb, 1);
    if (act) set_s(&t, y, A_act, act);
    if (bias) set_i(&t, y, A_bias, 1);
    if (res) set_i(&t, y, A_residual, 1);
    t_done(&t, y);
    t_runs(&t, r);
    return mag_check(&t);
}

Shape shp(int rank, ...)
{
    Shape s;
    memset(&s, 0, sizeof s);
    s.rank = rank;
    va_list ap;
    va_start(ap, rank);
    for (int i = 0; i < rank; i++) s.d[i] = va_arg(ap, Dim);
    va_end(ap);
    return s;
}

Node *t_input(T *t, const char *name, DType dt, Shape s)
{
    Node *n = ir_node_new(t->g, OP_INPUT, name, loc_make(0, 0, 0));
    n->dtype = dt;
    n->shape = s;
    KILN_ASSERT(t->g->n_inputs <= T_MAX_IN);
    return n;
}

Node *t_in(T *t, const char *name, Shape s, Fill f, double lo, double hi)
{
    int i = t->g->n_inputs;
    Node *n = t_input(t, name, f == F_UNI || f == F_SPECIAL ? DT_F32 : DT_I32, s);
    t->fill[i] = f;
    t->lo[i] = lo;
    t->hi[i] = hi;
    return n;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double rnd01(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

Node *t_weight(T *t, const char *name, DType dt, Shape s)
{
    int64_t numel = shape_numel_const(&s);
    KILN_ASSERT(numel >= 0);
    int wi = ir_module_add_weight(t->m, name, dt, &s, loc_make(0, 0, 0));
    float *f = xmalloc((size_t)(numel ? numel : 1) * 4);        /* what the blob holds */
    uint16_t *h = arena_alloc(&t->arena, (size_t)(numel ? numel : 1) * 4);
    for (int64_t i = 0; i < numel; i++) {
        float v = (float)(rnd01() * 2 - 1);
        if (dt == DT_F16) {
            _Float16 x = (_Float16)v;
            memcpy(&h[i], &x, 2);
            f[i] = (float)x;
        } else if (dt == DT_BF16) {
            uint32_t bits;
            memcpy(&bits, &v, 4);
            h[i] = (uint16_t)(bits >> 16);
            bits = (uint32_t)h[i] << 16;
            memcpy(&f[i], &bits, 4);
        } else {
            f[i] = v;
        }
    }
    t->m->weights[wi].data = dt == DT_F32 ? (const void *)f : (const void *)h;
    Node *n = t_node(t, OP_WEIGHT, NULL, NULL, NULL, NULL);
    n->ref = wi;
    set_s(t, n, A_tensor, name);
    t_done(t, n);
    KILN_ASSERT(n->id < 64);
    t->wdata[n->id] = f;
    return n;
}

Node *t_node(T *t, OpKind op, Node *a, Node *b, Node *c, Node *d)
{
    char name[32];
    snprintf(name, sizeof name, "%s%d", op_name(op), t->count++);
    Node *n = ir_node_new(t->g, op, name, loc_make(0, 0, 0));
    Node *in[4] = { a, b, c, d };
    for (int i = 0; i < 4 && in[i]; i++) ir_node_add_input(n, in[i]);
    return n;
}

Node *t_done(T *t, Node *n)
{
    if (ir_infer(t->m, n, &t->diag)) {
        fflush(t->err_file);
        printf("    builder: inference failed for %s: %s", n->name, t->err ? t->err : "?\n");
        t->bad++;
    }
    if (n->op != OP_WEIGHT) t->out = n;
    return n;
}

void set_i(T *t, Node *n, AttrKind k, int64_t v) { ir_node_set_attr(t->m, n, k)->v.i = v; }
void set_f(T *t, Node *n, AttrKind k, double v) { ir_node_set_attr(t->m, n, k)->v.f = v; }
void set_s(T *t, Node *n, AttrKind k, const char *v) { ir_node_set_attr(t->m, n, k)->v.s = arena_strdup(&t->arena, v); }
void set_dim(T *t, Node *n, AttrKind k, Dim d) { ir_node_set_attr(t->m, n, k)->v.dim = d; }
void set_ints(T *t, Node *n, AttrKind k, int cnt, const int64_t *v)
{
    Attr *a = ir_node_set_attr(t->m, n, k);
    a->n = cnt;
    for (int i = 0; i < cnt; i++) a->v.ints[i] = v[i];
}
void set_dims(T *t, Node *n, AttrKind k, Shape s)
{
    Attr *a = ir_node_set_attr(t->m, n, k);
    a->n = s.rank;
    for (int i = 0; i < s.rank; i++) a->v.dims[i] = s.d[i];
}

void t_run(T *t, const char *binds)
{
    KILN_ASSERT(t->n_runs < T_MAX_RUNS);
    int64_t *b = t->bind[t->n_runs++];
    for (int s = 0; s <= IR_MAX_SYMS; s++) b[s] = -1;
    for (const char *p = binds; p && *p;) {
        char name[32];
        long long v;
        int used;
        if (sscanf(p, " %31[^=]=%lld%n", name, &v, &used) != 2) break;
        int s = ir_module_sym(t->m, name);
        KILN_ASSERT(s);
        b[s] = v;
        p += used;
    }
}

/* ---- variants and JIT -------------------------------------------------------------------- */

/* x86-64 hosts: the host's width (16 here), AVX2 (8) by feature and by CPU, SSE (4). The
 * first variant runs the kernels as emitted; the others after default<O3>. */
const Variant variants[] = {
    { "host", NULL, NULL, 0, 0 },
    { "host+O3", NULL, NULL, 0, 1 },
    { "-avx512f", NULL, "-avx512f", 8, 1 },
    { "x86-64-v3", "x86-64-v3", NULL, 8, 1 },
    { "sse", NULL, "-avx512f,-avx2,-avx,-fma", 4, 1 },
};
const int n_variants = sizeof variants / sizeof variants[0];
/* 3: the contract's case; 7: more parts than most shares have chunks (empty shares) */
const int64_t t_split_parts[] = { 3, 7 };
const int t_n_split_parts = sizeof t_split_parts / sizeof t_split_parts[0];
int variant_vw[8];
double op_err[OP_COUNT][8];
int op_cases[OP_COUNT];

void variant_options(const Variant *v, BackendOptions *o)
{
    memset(o, 0, sizeof *o);
    o->cpu = v->cpu;
    o->features = v->features;
    o->opt_level = 3;
}

struct Jit {
    LLVMOrcLLJITRef jit;
    KernelFn fn;
};

static void check_llvm(LLVMErrorRef e, const char *what)
{
    if (!e) return;
    char *msg = LLVMGetErrorMessage(e);
    kiln_internal(__FILE__, __LINE__, "%s: %s", what, msg);
}

/* A target machine like cg's, for the JIT: same triple, CPU and features. */
static LLVMTargetMachineRef jit_machine(const Cg *cg, const Variant *v)
{
    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(cg->triple, &target, &err)) kiln_internal(__FILE__, __LINE__, "%s", err);
    char *host = v->cpu ? NULL : LLVMGetHostCPUFeatures();
    char features[8192];
    snprintf(features, sizeof features, "%s%s%s", host ? host : "", host && v->features ? "," : "",
             v->features ? v->features : "");
    LLVMTargetMachineOptionsRef o = LLVMCreateTargetMachineOptions();
    LLVMTargetMachineOptionsSetCPU(o, cg->cpu);
    LLVMTargetMachineOptionsSetFeatures(o, features);
    LLVMTargetMachineOptionsSetCodeGenOptLevel(o, LLVMCodeGenLevelAggressive);
    LLVMTargetMachineRef tm = LLVMCreateTargetMachineWithOptions(target, cg->triple, o);
    LLVMDisposeTargetMachineOptions(o);
    if (host) LLVMDisposeMessage(host);
    KILN_ASSERT(tm);
    return tm;
}

/* KILN_TEST_DUMP=substring: print the kernels of the matching cases, as emitted and
 * after default<O3> (for reading the generated code). */
static const char *dump_label;

void jit_dump_label(const char *label)
{
    const char *want = getenv("KILN_TEST_DUMP");
    dump_label = want && *want && strstr(label, want) ? label : NULL;
}

Jit *jit_kernel(const Variant *v, const Module *m, const Node *n, int *vw_out)
{
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    Cg cg;
    memset(&cg, 0, sizeof cg);
    cg.ctx = LLVMOrcThreadSafeContextGetContext(tsc);
    BackendOptions o;
    variant_options(v, &o);
    Diag d;
    diag_init(&d);
    if (cg_init(&cg, m, &o, &d)) kiln_internal(__FILE__, __LINE__, "cg_init failed for variant %s", v->label);
    diag_free(&d);
    *vw_out = cg.vw;
    LLVMValueRef fn = cg_kernel(&cg, n);
    KILN_ASSERT(fn);
    char *msg = NULL;
    if (LLVMVerifyModule(cg.mod, LLVMReturnStatusAction, &msg)) {
        LLVMDumpModule(cg.mod);
        kiln_internal(__FILE__, __LINE__, "kernel of %s does not verify:\n%s", n->name, msg);
    }
    LLVMDisposeMessage(msg);
    if (dump_label) {
        printf("---- %s, variant %s, as emitted:\n", dump_label, v->label);
        fflush(stdout);
        LLVMDumpModule(cg.mod);
    }
    if (v->o3) {
        LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
        LLVMPassBuilderOptionsSetLoopVectorization(po, 1);
        LLVMPassBuilderOptionsSetSLPVectorization(po, 1);
        LLVMPassBuilderOptionsSetLoopUnrolling(po, 1);
        check_llvm(LLVMRunPasses(cg.mod, "default<O3>", cg.tm, po), "default<O3>");
        LLVMDisposePassBuilderOptions(po);
        if (dump_label) {
            printf("---- %s, variant %s, after default<O3>:\n", dump_label, v->label);
            fflush(stdout);
            LLVMDumpModule(cg.mod);
        }
    }
    size_t len;
    const char *nm = LLVMGetValueName2(fn, &len);
    char *name = xmalloc(len + 1);
    memcpy(name, nm, len);
    name[len] = 0;

    Jit *j = xcalloc(1, sizeof *j);
    LLVMOrcLLJITBuilderRef jb = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(jb, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(jit_machine(&cg, v)));
    check_llvm(LLVMOrcCreateLLJIT(&j->jit, jb), "LLJIT");
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(cg.mod, tsc);
    cg.module_taken = 1;
    check_llvm(LLVMOrcLLJITAddLLVMIRModule(j->jit, LLVMOrcLLJITGetMainJITDylib(j->jit), tsm), "adding the module");
    cg_dispose(&cg);
    LLVMOrcDisposeThreadSafeContext(tsc);
    LLVMOrcExecutorAddress addr = 0;
    check_llvm(LLVMOrcLLJITLookup(j->jit, &addr, name), name);
    free(name);
    j->fn = (KernelFn)(uintptr_t)addr;
    return j;
}

KernelFn jit_fn(Jit *j) { return j->fn; }

void jit_free(Jit *j)
{
    check_llvm(LLVMOrcDisposeLLJIT(j->jit), "disposing the JIT");
    free(j);
}

/* ---- running a case ------------------------------------------------------------------- */

/* A copy of bytes of src that ends where an inaccessible page begins, so a kernel reading
 * past the end of an input faults (JIT code is not instrumented by ASan). */
typedef struct Fence {
    void *map;
    size_t len;
    void *data;
} Fence;

static Fence fence(const void *src, size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), len = (bytes + page - 1) / page * page + page;
    Fence f;
    f.map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    KILN_ASSERT(f.map != MAP_FAILED);
    KILN_ASSERT(mprotect((char *)f.map + len - page, page, PROT_NONE) == 0);
    f.len = len;
    f.data = (char *)f.map + len - page - bytes;
    if (bytes) memcpy(f.data, src, bytes);
    return f;
}

static void unfence(Fence *f)
{
    if (f->map) munmap(f->map, f->len);
    f->map = NULL;
}

enum { GUARD = 16 };
static const uint32_t POISON = 0x7fc0dead;     /* a quiet NaN: an element never written */

static int64_t eval(const int64_t *sym, Dim d)
{
    int64_t v = d.k;
    for (int i = 0; i < IR_DIM_TERMS && d.sym[i]; i++) v += sym[d.sym[i]];
    return v;
}

static void fill_tensor(T *t, int gi, Tensor *x)
{
    int64_t numel = tensor_numel(x), last = x->rank ? x->dim[x->rank - 1] : 1;
    float *f = x->data;
    int32_t *n = x->data;
    for (int64_t e = 0; e < numel; e++) {
        int64_t j = last ? e % last : 0, row = last ? e / last : 0;
        switch (t->fill[gi]) {
        case F_UNI: f[e] = (float)(t->lo[gi] + (t->hi[gi] - t->lo[gi]) * rnd01()); break;
        case F_INT: n[e] = (int32_t)(t->lo[gi] + floor((t->hi[gi] - t->lo[gi]) * rnd01())); break;
        case F_VALID: n[e] = t->hi[gi] == 1 && e < last ? 0 : rnd01() < t->lo[gi]; break;
        case F_IOTA: n[e] = (int32_t)(t->lo[gi] + (double)j); break;
        case F_SPECIAL:
            f[e] = row == 0 || rnd01() < 0.2 ? -INFINITY : (float)(6 * rnd01() - 3);
            break;
        }
    }
}

/* err of one element against a scale; NaN matches NaN, an infinity only itself. */
static double elem_err(float g, float w, double scale)
{
    if (g == w || (isnan(g) && isnan(w))) return 0;
    if (!isfinite(g) || !isfinite(w)) return INFINITY;
    return fabs((double)g - (double)w) / scale;
}

static double compare(const T *t, const Tensor *want, const Tensor *mag, const void *got)
{
    int64_t numel = tensor_numel(want), last = want->rank ? want->dim[want->rank - 1] : 1;
    double worst = 0;
    if (want->dtype == DT_I32) {
        for (int64_t e = 0; e < numel; e++)
            if (((const int32_t *)got)[e] != ((const int32_t *)want->data)[e]) return INFINITY;
        return 0;
    }
    const float *g = got, *w = want->data;
    for (int64_t e = 0; e < numel; e++) {
        double scale = 1;
        switch (t->metric) {
        case M_EXACT: break;
        case M_REL: scale = fmax(fabs(w[e]), 1e-6); break;       /* tiny values: absolute */
        case M_ROW: {
            scale = 0;
            for (int64_t r = e / last * last, i = 0; i < last; i++)
                if (isfinite(w[r + i]) && fabs(w[r + i]) > scale) scale = fabs(w[r + i]);
            break;
        }
        case M_MAG: scale = fabs(((const float *)mag->data)[e]); break;
        }
        double err = elem_err(g[e], w[e], scale > 1e-30 ? scale : 1e-30);
        int exact = t->metric == M_EXACT || (t->exact_first_half && e < numel / 2);
        if (exact && err > 0) err = INFINITY;
        if (err > t->tol && worst <= t->tol)
            printf("    element %lld: got %.9g, expected %.9g (scale %.3g)\n", (long long)e, g[e], w[e], scale);
        if (err > worst || isnan(err)) worst = err;
    }
    return worst;
}

/* A copy of weight w's data with every sign bit cleared, in the case's arena. */
static const void *abs_copy(T *t, const Weight *w)
{
    int64_t numel = shape_numel_const(&w->shape);
    int size = dtype_size(w->dtype);
    unsigned char *c = arena_alloc(&t->arena, (size_t)(numel * size + 1));
    memcpy(c, w->data, (size_t)(numel * size));
    for (int64_t i = 0; i < numel; i++) c[i * size + size - 1] &= 0x7f;      /* little-endian */
    return c;
}

int t_check(T *t)
{
    const Graph *g = t->g;
    int nr = t->n_runs ? t->n_runs : 1, fail = 0, gi_of[IR_MAX_INPUTS];
    if (!t->n_runs) t_run(t, NULL);
    Tensor in[T_MAX_RUNS][T_MAX_IN], want[T_MAX_RUNS], mag[T_MAX_RUNS];
    int64_t sym[T_MAX_RUNS][IR_MAX_SYMS + 1];
    memset(in, 0, sizeof in);
    memset(want, 0, sizeof want);
    memset(mag, 0, sizeof mag);
    double err[8] = { 0 };
    int broke[8] = { 0 }, split_bad[8] = { 0 };
    if (t->bad || !t->out) {
        printf("FAIL  %s: the graph could not be built\n", t->label);
        return 1;
    }
    const Node *n = t->out;
    for (int j = 0; j < n->n_in; j++) {
        gi_of[j] = -1;
        for (int i = 0; i < g->n_inputs; i++)
            if (g->inputs[i] == n->in[j]) gi_of[j] = i;
        KILN_ASSERT(gi_of[j] >= 0 || n->in[j]->op == OP_WEIGHT);
    }
    ir_graph_add_output(t->g, n->name, (Node *)n, loc_make(0, 0, 0));
    if (ir_verify(t->m, &t->diag)) {
        fflush(t->err_file);
        printf("FAIL  %s: the graph does not verify: %s", t->label, t->err);
        return 1;
    }

    jit_dump_label(t->label);
    /* the interpreter: expected values, and the magnitudes from |inputs| */
    Interp *ip = interp_new(t->m, &t->diag), *im = t->metric == M_MAG ? interp_new(t->m, &t->diag) : NULL;
    KILN_ASSERT(ip && (im || t->metric != M_MAG));
    for (int r = 0; r < nr && !fail; r++) {
        for (int s = 1; s <= t->m->n_syms; s++) {
            const char *name = t->m->syms[s].name;
            int64_t v = t->bind[r][s] >= 0 ? t->bind[r][s] : interp_sym(ip, name) >= 0 ? -1 : 1;
            if (v >= 0 && (interp_bind(ip, name, v) || (im && interp_bind(im, name, v)))) fail = 1;
            sym[r][s] = interp_sym(ip, name);
        }
        sym[r][0] = 0;
        for (int i = 0; i < g->n_inputs; i++) {
            const Node *x = g->inputs[i];
            int64_t dims[IR_MAX_RANK];
            for (int d = 0; d < x->shape.rank; d++) dims[d] = eval(sym[r], x->shape.d[d]);
            KILN_ASSERT(tensor_alloc(&in[r][i], x->dtype == DT_I32 ? DT_I32 : DT_F32, x->shape.rank, dims) == 0);
            fill_tensor(t, i, &in[r][i]);
        }
        if (fail || interp_run(ip, g, in[r], &want[r])) {
            fflush(t->err_file);
            printf("FAIL  %s: the interpreter failed: %s", t->label, t->err ? t->err : "?\n");
            fail = 1;
            break;
        }
        if (im) {
            Tensor ab[T_MAX_IN];
            for (int i = 0; i < g->n_inputs; i++) {
                ab[i] = in[r][i];
                if (!(t->abs_mask >> i & 1)) continue;
                KILN_ASSERT(tensor_alloc(&ab[i], in[r][i].dtype, in[r][i].rank, in[r][i].dim) == 0);
                for (int64_t e = 0; e < tensor_numel(&ab[i]); e++)
                    ((float *)ab[i].data)[e] = fabsf(((float *)in[r][i].data)[e]);
            }
            const void *saved[64];
            for (int i = 0; i < t->m->n_weights && i < 64; i++) {
                saved[i] = t->m->weights[i].data;
                if (t->abs_weights) t->m->weights[i].data = abs_copy(t, &t->m->weights[i]);
            }
            if (interp_run(im, g, ab, &mag[r])) fail = 1;
            for (int i = 0; i < t->m->n_weights && i < 64; i++) t->m->weights[i].data = saved[i];
            for (int i = 0; i < g->n_inputs; i++)
                if (t->abs_mask >> i & 1) tensor_free(&ab[i]);
        }
    }
    interp_free(ip);
    if (im) interp_free(im);

    /* every variant: compile, run each run in order (states persist), compare; then the
     * same runs split in parts, against the parts = 1 results bit for bit */
    int ran = 0;
    for (int v = 0; v < n_variants && !fail; v++, ran++) {
        int vw;
        Jit *j = jit_kernel(&variants[v], t->m, n, &vw);
        variant_vw[v] = vw;
        uint32_t *y1[T_MAX_RUNS] = { NULL };
        void *aux1 = NULL;
        size_t aux_bytes = 0;
        for (int si = -1; si < t_n_split_parts; si++) {
            int64_t parts = si < 0 ? 1 : t_split_parts[si];
            Fence auxf = { NULL, 0, NULL };
            void *aux = NULL;
            if (op_info[n->op].flags & OPF_STATE) {
                const State *st = &t->m->states[n->ref];
                int64_t max[IR_MAX_SYMS + 1] = { 0 }, numel = 1;
                for (int s = 1; s <= t->m->n_syms; s++) max[s] = t->m->syms[s].max;
                for (int d = 0; d < st->shape.rank; d++) numel *= eval(max, st->shape.d[d]);
                aux_bytes = (size_t)numel * 4;
                void *zero = xcalloc((size_t)numel, 4);
                auxf = fence(zero, aux_bytes);
                aux = auxf.data;
                free(zero);
            }
            for (int r = 0; r < nr; r++) {
                const void *x[4] = { NULL, NULL, NULL, NULL };
                Fence xf[4];
                memset(xf, 0, sizeof xf);
                for (int i = 0; i < n->n_in; i++) {
                    const Node *xi = n->in[i];
                    int64_t bytes = 4 * (gi_of[i] >= 0 ? tensor_numel(&in[r][gi_of[i]]) : shape_numel_const(&xi->shape));
                    xf[i] = fence(gi_of[i] >= 0 ? in[r][gi_of[i]].data : t->wdata[xi->id], (size_t)bytes);
                    x[i] = xf[i].data;
                }
                int64_t numel = tensor_numel(&want[r]);
                uint32_t *y = xmalloc((size_t)(numel + GUARD) * 4);
                if (parts == 1) {
                    for (int64_t e = 0; e < numel + GUARD; e++) y[e] = POISON;
                    jit_fn(j)(y, x[0], x[1], x[2], x[3], sym[r], aux, 0, 1);
                    for (int e = 0; e < GUARD; e++) broke[v] |= y[numel + e] != POISON;
                    double e = compare(t, &want[r], &mag[r], y);
                    if (e > err[v] || isnan(e)) err[v] = e;
                    y1[r] = y;
                } else {
                    /* each part alone into a fresh poisoned buffer: what it writes is its share */
                    uint32_t *yp = xmalloc((size_t)(numel + GUARD) * 4);
                    unsigned char *owner = xcalloc((size_t)numel + 1, 1);
                    for (int64_t e = 0; e < numel; e++) y[e] = POISON;
                    for (int64_t p = 0; p < parts; p++) {
                        for (int64_t e = 0; e < numel + GUARD; e++) yp[e] = POISON;
                        jit_fn(j)(yp, x[0], x[1], x[2], x[3], sym[r], aux, p, parts);
                        for (int e = 0; e < GUARD; e++) broke[v] |= yp[numel + e] != POISON;
                        for (int64_t e = 0; e < numel; e++) {
                            if (yp[e] == POISON) continue;
                            if (owner[e] && !split_bad[v])
                                printf("    parts=%lld: element %lld written by parts %d and %lld\n", (long long)parts,
                                       (long long)e, owner[e] - 1, (long long)p);
                            split_bad[v] |= owner[e] != 0;
                            owner[e] = (unsigned char)(p + 1);
                            y[e] = yp[e];
                        }
                    }
                    if (memcmp(y, y1[r], (size_t)numel * 4)) {
                        if (!split_bad[v])
                            for (int64_t e = 0; e < numel; e++)
                                if (y[e] != y1[r][e]) {
                                    printf("    parts=%lld, run %d: element %lld is %08x, with one part %08x\n",
                                           (long long)parts, r, (long long)e, y[e], y1[r][e]);
                                    break;
                                }
                        split_bad[v] = 1;
                    }
                    free(owner);
                    free(yp);
                    free(y);
                }
                for (int i = 0; i < 4; i++) unfence(&xf[i]);
            }
            if (aux && parts == 1) {
                aux1 = xmalloc(aux_bytes);
                memcpy(aux1, aux, aux_bytes);
            } else if (aux && memcmp(aux, aux1, aux_bytes)) {
                if (!split_bad[v]) printf("    parts=%lld: the state differs from parts = 1\n", (long long)parts);
                split_bad[v] = 1;
            }
            unfence(&auxf);
        }
        for (int r = 0; r < nr; r++) free(y1[r]);
        free(aux1);
        jit_free(j);
        if (err[v] > t->tol || isnan(err[v]) || broke[v] || split_bad[v]) fail = 1;
        if (!(err[v] <= op_err[n->op][v])) op_err[n->op][v] = err[v];
    }
    op_cases[n->op]++;
    jit_dump_label("");
    printf("%s  %-58s", fail ? "FAIL" : "PASS", t->label);
    for (int v = 0; v < n_variants; v++) {
        if (v >= ran) printf(" %s:-", variants[v].label);
        else printf(" vw%d%s:%s%s%.1e", variant_vw[v], variants[v].o3 ? "" : "-O0", broke[v] ? "GUARD!" : "",
                    split_bad[v] ? "SPLIT!" : "", err[v]);
    }
    printf("\n");
    for (int r = 0; r < nr; r++) {
        for (int i = 0; i < g->n_inputs; i++) tensor_free(&in[r][i]);
        tensor_free(&want[r]);
        tensor_free(&mag[r]);
    }
    return fail;
}
