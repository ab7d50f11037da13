/* diff.c — `kiln diff MODEL --tokens a,b,c`: the compiled kernels against the reference
 * interpreter, node by node, and the first node where they part.
 *
 * The model is loaded twice. One copy goes through the pass pipeline (with kiln compile's
 * pass options) and the backend into a capture build of the executable
 * (BackendOptions.capture: forward calls kiln_capture after every node, runtime/capture.c),
 * linked in a private temporary folder and run as a subprocess with `--tokens ...
 * --capture FILE`: one prefill call, every node's value written to FILE. The other copy
 * stays as the frontend made it, no pass run, and the reference interpreter runs it on the
 * same tokens, with each node that has a compiled counterpart added as a graph output so
 * its value outlives the run. A subprocess rather than an in-process JIT because it checks
 * exactly what `kiln compile` ships — the same object code, link, runtime, thread pool and
 * arena plan — and runs cross targets too (aarch64 under qemu-aarch64); a link and a
 * process cost little next to the interpreter. The compiled graph stays in this process,
 * so the executable only sends (node index, bytes) records: names, shapes and locations
 * come from here.
 *
 * Nodes are matched by name: a fusion pass names its fused node after the unfused node
 * whose value it produces (attention after its p·v matmul, add+norm's `take` nodes after
 * the add and the norm), so every compiled node whose name exists in the unfused graph with
 * the same shape is compared, in compiled graph order; the rest (inputs, weights, fused
 * nodes with no single counterpart) are counted as skipped. Fewer fusions
 * (--disable-pass) leave more nodes to compare: a finer diff.
 *
 * Metric per node: max |compiled - reference| over the elements, and relative = that over
 * max |reference| (elements equal to the last bit, -inf in masked scores included, differ
 * by 0; a NaN or infinity on one side only differs by infinity). A node is past tolerance
 * when relative > --tolerance (default 1e-4, the bound the end-to-end tests hold against
 * PyTorch). The first such node is reported at its place in the model file.
 *
 * KILN_DIFF_PERTURB=NODE (for kiln's tests): the executable adds 1.0 to NODE's first
 * element in the arena before capturing it, so later nodes compute with the wrong value —
 * a stand-in for a broken kernel that this command must catch. */
#include "driver.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.h"
#include "passes/passes.h"
#include "runtime/capture.h"

extern char **environ;

#define DEFAULT_TOLERANCE 1e-4

static const char help[] =
    "usage: kiln diff MODEL --tokens a,b,c [options]\n"
    "\n"
    "Compiles MODEL, runs the executable on the tokens (one forward call) with every node's\n"
    "value captured, runs the reference interpreter on the unfused graph (no pass) on the\n"
    "same tokens, and compares the compiled graph's nodes with the reference nodes of the\n"
    "same name and shape, in graph order: one line per node (name, op, shape, max absolute\n"
    "difference, relative difference = max |diff| / max |reference|, OK or FAIL). The first\n"
    "node past tolerance is reported at its file:line:col. Exit status 0 when every node is\n"
    "within tolerance, 1 otherwise.\n"
    "\n"
    "  --tokens a,b,c     token ids to feed (batch of one; at most the bound of seq)\n"
    "  --tolerance R      largest relative difference accepted (default 1e-4)\n"
    "  -v                 also list the nodes that are not compared, and why\n"
    "passes, as for kiln compile (fewer fusions leave more nodes to compare):\n"
    "  --passes=P,Q       run only these passes\n"
    "  --disable-pass=P   skip pass P (a comma list is fine)\n"
    "target, as for kiln compile (an aarch64 executable runs under qemu-aarch64):\n"
    "  --target TRIPLE    x86_64-linux-gnu or aarch64-linux-gnu (default: this machine)\n"
    "  --cpu NAME         CPU to tune for (default: native here, the baseline elsewhere)\n"
    "  --features LIST    extra target features, e.g. -avx512f\n"
    "  -O0 .. -O3         LLVM optimization level (default -O3)\n";

typedef struct DiffOptions {
    const char *path;
    const char *tokens_arg;
    double tolerance;
    int verbose;
    PassOptions passes;
    BackendOptions backend;
} DiffOptions;

/* A compiled node's value as the executable wrote it; data NULL when not captured. */
typedef struct Captured {
    const unsigned char *data;
    int64_t bytes;
} Captured;

/* How one node compares. */
typedef struct Comparison {
    double max_abs, max_ref, rel;
    int64_t worst;              /* flat index of the largest difference; -1: none */
    double want, got;           /* the reference and compiled values there */
    int size_differs;           /* the capture does not have the reference's size */
} Comparison;

/* Why compiled nodes were not compared. */
typedef struct Skips {
    int sources;                /* inputs and weights */
    int no_name;                /* no unfused node of that name */
    int other_type;             /* an unfused node of that name, another shape or dtype */
} Skips;

/* One run of the command. */
typedef struct Diff {
    const DiffOptions *o;
    Arena a;
    Diag d;
    Module *ref, *cmp;          /* unfused (the interpreter's); compiled */
    Graph *rg, *cg;             /* their forward graphs */
    int32_t *tokens;
    int n_tokens;
    char tmp[4096];             /* private folder: the executable and its files */
    char *capture_data;         /* the whole capture file */
    Captured *captured;         /* (cg->n_nodes) */
    int *ref_output;            /* (cg->n_nodes) index in rg's outputs, -1: not compared */
    Node **ref_sorted;          /* rg's nodes by name (ir_graph_sorted) */
    int n_ref_sorted;
    Tensor *ref_values;         /* (rg->n_outputs) */
    int n_ref_values;
} Diff;

/* ---- the command line ----------------------------------------------------------------- */

static int parse_options(int argc, char **argv, DiffOptions *o)
{
    const char *v;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return 0;
        }
        if ((v = opt_value(argc, argv, &i, "--tokens"))) o->tokens_arg = v;
        else if ((v = opt_value(argc, argv, &i, "--tolerance"))) {
            if (opt_float("diff", "--tolerance", v, 0, 1e30, &o->tolerance)) return 2;
        } else if ((v = opt_value(argc, argv, &i, "--passes"))) o->passes.only = v;
        else if ((v = opt_value(argc, argv, &i, "--disable-pass"))) o->passes.disabled = v;
        else if ((v = opt_value(argc, argv, &i, "--target"))) o->backend.triple = v;
        else if ((v = opt_value(argc, argv, &i, "--cpu"))) o->backend.cpu = v;
        else if ((v = opt_value(argc, argv, &i, "--features"))) o->backend.features = v;
        else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) o->backend.opt_level = a[2] - '0';
        else if (!strcmp(a, "-v")) o->verbose = 1;
        else if (a[0] == '-' && a[1]) return usage_error("diff", "unknown or incomplete option '%s'", a);
        else if (o->path) return usage_error("diff", "one model at a time ('%s' and '%s')", o->path, a);
        else o->path = a;
    }
    if (!o->path) return usage_error("diff", "no model given");
    if (!o->tokens_arg) return usage_error("diff", "no tokens given (--tokens a,b,c)");
    const char *t = o->backend.triple;
    if (t && strncmp(t, "x86_64", 6) && strncmp(t, "aarch64", 7))
        return usage_error("diff", "unknown target '%s' (x86_64-linux-gnu or aarch64-linux-gnu)", t);
    return -1;
}

/* "1,2,3" → ids; a usage error (2) when it is not a list of ids. */
static int parse_token_list(const char *s, int32_t **out, int *n)
{
    int cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    *out = xmalloc((size_t)cap * sizeof **out);
    *n = 0;
    for (const char *p = s; *p;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && *end != ','))
            return usage_error("diff", "--tokens: bad token id at '%s'", p);
        (*out)[(*n)++] = (int32_t)v;
        p = *end ? end + 1 : end;
    }
    if (*n == 0) return usage_error("diff", "--tokens: no token ids");
    return 0;
}

/* ---- the models --------------------------------------------------------------------- */

/* The graph an executable runs (backend/forward.c checks the rest when compiling). */
static Graph *forward_graph(Module *m, Diag *d)
{
    Graph *g = m->n_graphs == 1 ? m->graphs[0] : ir_module_graph(m, "forward");
    if (!g) diag_error(d, m->loc, "the model has several graphs and none is named 'forward'");
    return g;
}

/* The constant last dim of output logits; 0 after an error. */
static int64_t vocabulary(const Graph *g, Diag *d)
{
    for (int i = 0; i < g->n_outputs; i++) {
        const Node *l = g->outputs[i].node;
        if (strcmp(g->outputs[i].name, "logits")) continue;
        if (l->shape.rank >= 1 && dim_is_const(l->shape.d[l->shape.rank - 1])) return l->shape.d[l->shape.rank - 1].k;
        break;
    }
    diag_error(d, g->loc, "graph '%s' must have an output logits f32[batch, seq, vocab] to become an executable",
               g->name);
    return 0;
}

/* Every id in the vocabulary, and all of them in one forward call. */
static int check_tokens(Diff *s)
{
    int64_t vocab = vocabulary(s->rg, &s->d);
    if (!vocab) return -1;
    for (int i = 0; i < s->n_tokens; i++)
        if (s->tokens[i] >= vocab) {
            diag_error(&s->d, loc_make(0, 0, 0), "--tokens: id %d (position %d) is out of range: the vocabulary has %lld tokens",
                       s->tokens[i], i, (long long)vocab);
            return -1;
        }
    int seq = ir_module_sym(s->ref, "seq");
    if (seq && s->n_tokens > s->ref->syms[seq].max) {
        diag_error(&s->d, loc_make(0, 0, 0), "--tokens: %d tokens do not fit in one forward call (at most %lld, the bound of 'seq')",
                   s->n_tokens, (long long)s->ref->syms[seq].max);
        return -1;
    }
    return 0;
}

static int load_models(Diff *s)
{
    s->ref = fe_load(&s->a, &s->d, s->o->path, 0);
    if (!s->ref || !(s->rg = forward_graph(s->ref, &s->d)) || check_tokens(s)) return -1;
    s->cmp = fe_load(&s->a, &s->d, s->o->path, 0);
    int stopped;
    if (!s->cmp || passes_run(s->cmp, &s->o->passes, &s->d, &stopped)) return -1;
    s->cg = forward_graph(s->cmp, &s->d);
    return s->cg ? 0 : -1;
}

/* ---- the compiled run ----------------------------------------------------------------- */

static const char *tmp_file(Diff *s, const char *name) { return arena_printf(&s->a, "%s/%s", s->tmp, name); }

static int make_tmp(Diff *s)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    snprintf(s->tmp, sizeof s->tmp, "%s/kiln-diff-XXXXXX", dir);
    if (mkdtemp(s->tmp)) return 0;
    diag_error(&s->d, loc_make(0, 0, 0), "cannot make a temporary folder in %s: %s", dir, strerror(errno));
    s->tmp[0] = 0;
    return -1;
}

static void remove_tmp(Diff *s)
{
    if (!s->tmp[0]) return;
    static const char *const files[] = { "model", "capture.bin", "logits.f32" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(tmp_file(s, files[i]));
    rmdir(s->tmp);
}

static int compile_capture_build(Diff *s)
{
    BackendOptions b = s->o->backend;
    b.out = tmp_file(s, "model");
    b.emit = EMIT_EXE;
    b.capture = 1;
    return backend_compile(s->cmp, &b, &s->d);
}

/* The compiled node KILN_DIFF_PERTURB names, or -1 when unset; -2 after a usage error. */
static long long perturbed_node(Diff *s)
{
    const char *name = getenv("KILN_DIFF_PERTURB");
    if (!name || !*name) return -1;
    Node *n = ir_graph_find(s->cg, name);
    if (!n || n->op == OP_INPUT || n->op == OP_WEIGHT || !dtype_is_float(n->dtype)) {
        usage_error("diff", "KILN_DIFF_PERTURB: the compiled graph has no computed f32 node '%s'", name);
        return -2;
    }
    return n->id;
}

/* How to start an executable for the target: directly, or under qemu-ARCH. */
static const char *emulator(const char *triple)
{
#if defined(__aarch64__)
    const char *host = "aarch64";
#else
    const char *host = "x86_64";
#endif
    if (!triple || !strncmp(triple, host, strlen(host))) return NULL;
    return !strncmp(triple, "aarch64", 7) ? "qemu-aarch64" : "qemu-x86_64";
}

/* Runs argv[0] with argv and waits; 0 when it exited with status 0. */
static int run_process(Diff *s, char **argv)
{
    pid_t pid;
    int e = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (e) {
        diag_error(&s->d, loc_make(0, 0, 0), "cannot run %s: %s%s", argv[0], strerror(e),
                   e == ENOENT && strncmp(argv[0], "qemu", 4) == 0 ? " (install qemu-user to diff for another target)" : "");
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            diag_error(&s->d, loc_make(0, 0, 0), "waiting for the compiled model: %s", strerror(errno));
            return -1;
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFSIGNALED(status))
        diag_error(&s->d, loc_make(0, 0, 0), "the compiled model was killed by signal %d (%s)", WTERMSIG(status),
                   strsignal(WTERMSIG(status)));
    else
        diag_error(&s->d, loc_make(0, 0, 0), "the compiled model failed (exit status %d; its message is above)",
                   WEXITSTATUS(status));
    return -1;
}

/* The ids again, as the executable's --tokens reads them. */
static char *token_text(Diff *s)
{
    size_t cap = (size_t)s->n_tokens * 12 + 1, k = 0;
    char *t = arena_alloc(&s->a, cap);
    for (int i = 0; i < s->n_tokens; i++) k += (size_t)snprintf(t + k, cap - k, "%s%d", i ? "," : "", s->tokens[i]);
    return t;
}

static int run_capture_build(Diff *s, long long perturb)
{
    char *argv[16];
    int k = 0;
    const char *qemu = emulator(s->o->backend.triple);
    if (qemu) {
        argv[k++] = (char *)qemu;
        argv[k++] = "-L";
        argv[k++] = !strcmp(qemu, "qemu-aarch64") ? "/usr/aarch64-linux-gnu" : "/usr/x86_64-linux-gnu";
    }
    argv[k++] = (char *)tmp_file(s, "model");
    argv[k++] = "--tokens";
    argv[k++] = token_text(s);
    argv[k++] = "--logits";
    argv[k++] = (char *)tmp_file(s, "logits.f32");
    argv[k++] = "--capture";
    argv[k++] = (char *)tmp_file(s, "capture.bin");
    if (perturb >= 0) {
        argv[k++] = "--capture-perturb";
        argv[k++] = arena_printf(&s->a, "%lld", perturb);
    }
    argv[k] = NULL;
    return run_process(s, argv);
}

/* A capture file that does not parse is kiln's fault (the executable reports its write
 * errors itself): say so plainly. */
static int damaged(Diff *s, const char *why)
{
    diag_error(&s->d, loc_make(0, 0, 0), "the capture of the compiled run is damaged (%s): a bug in kiln", why);
    return -1;
}

/* Splits the capture file into one Captured per compiled node. */
static int read_capture(Diff *s)
{
    size_t len;
    s->capture_data = file_read_all(&s->d, tmp_file(s, "capture.bin"), &len);
    if (!s->capture_data) return -1;
    s->captured = xcalloc((size_t)s->cg->n_nodes + 1, sizeof *s->captured);
    if (len < 8 || memcmp(s->capture_data, RT_CAPTURE_MAGIC, 8)) return damaged(s, "no header");
    for (size_t at = 8; at < len;) {
        int64_t head[2];
        if (len - at < sizeof head) return damaged(s, "a record is cut short");
        memcpy(head, s->capture_data + at, sizeof head);
        at += sizeof head;
        if (head[0] < 0 || head[0] >= s->cg->n_nodes || head[1] < 0 || (uint64_t)head[1] > len - at)
            return damaged(s, "a record names no node or runs past the end");
        Captured *c = &s->captured[head[0]];
        if (c->data) return damaged(s, "a node was captured twice");
        c->data = (const unsigned char *)s->capture_data + at;
        c->bytes = head[1];
        at += (size_t)head[1];
    }
    return 0;
}

/* ---- the reference run ----------------------------------------------------------------- */

/* The unfused node compiled node n is compared with, or NULL (and why, in sk). */
static Node *counterpart(Node *const *sorted, int n_sorted, const Node *n, Skips *sk)
{
    if (n->op == OP_INPUT || n->op == OP_WEIGHT) {
        sk->sources++;
        return NULL;
    }
    Node *r = ir_sorted_find(sorted, n_sorted, n->name);
    if (!r) {
        sk->no_name++;
        return NULL;
    }
    if (!shape_eq(&r->shape, &n->shape) || dtype_is_float(r->dtype) != dtype_is_float(n->dtype)) {
        sk->other_type++;
        return NULL;
    }
    return r;
}

/* -v: why compiled node n has no counterpart. */
static void list_skipped(const Diff *s, const Node *n)
{
    if (n->op == OP_INPUT || n->op == OP_WEIGHT) return;
    const Node *r = ir_sorted_find(s->ref_sorted, s->n_ref_sorted, n->name);
    char have[256], want[256];
    ir_shape_str(s->cmp, &n->shape, have, sizeof have);
    if (!r) {
        printf("not compared: %s (%s %s): no node of that name in the unfused graph\n", n->name, op_name(n->op), have);
        return;
    }
    ir_shape_str(s->ref, &r->shape, want, sizeof want);
    printf("not compared: %s (%s %s %s): the unfused node is %s %s\n", n->name, op_name(n->op), dtype_name(n->dtype), have,
           dtype_name(r->dtype), want);
}

/* Makes every counterpart an output of the unfused graph, runs the interpreter, keeps the
 * values. */
static int run_reference(Diff *s, Skips *sk)
{
    s->ref_sorted = ir_graph_sorted(s->rg);
    s->n_ref_sorted = s->rg->n_nodes;
    s->ref_output = xmalloc(((size_t)s->cg->n_nodes + 1) * sizeof *s->ref_output);
    for (int i = 0; i < s->cg->n_nodes; i++) {
        Node *r = counterpart(s->ref_sorted, s->n_ref_sorted, s->cg->nodes[i], sk);
        s->ref_output[i] = r ? s->rg->n_outputs : -1;
        if (r) ir_graph_add_output(s->rg, arena_printf(&s->a, "diff:%s", r->name), r, r->loc);
    }
    Interp *in = interp_new(s->ref, &s->d);
    if (!in) return -1;
    Tensor tokens = { DT_I32, 2, { 1, s->n_tokens }, s->tokens };
    s->n_ref_values = s->rg->n_outputs;
    s->ref_values = xcalloc((size_t)s->n_ref_values + 1, sizeof *s->ref_values);
    int rc = interp_run(in, s->rg, &tokens, s->ref_values);
    interp_free(in);
    return rc;
}

/* ---- comparing ---------------------------------------------------------------------------- */

static double element(const void *base, int64_t i, DType t)
{
    if (t == DT_I32) {
        int32_t v;
        memcpy(&v, (const char *)base + 4 * i, 4);
        return v;
    }
    float v;
    memcpy(&v, (const char *)base + 4 * i, 4);
    return v;
}

/* |want - got|, 0 when equal (infinities included), infinite when only one is finite. */
static double difference(double want, double got)
{
    if (want == got || (isnan(want) && isnan(got))) return 0;
    if (!isfinite(want) || !isfinite(got)) return INFINITY;
    return fabs(want - got);
}

static void compare_values(const Tensor *ref, const Captured *c, Comparison *r)
{
    memset(r, 0, sizeof *r);
    r->worst = -1;
    int64_t n = tensor_numel(ref);
    if (c->bytes != 4 * n) {
        r->size_differs = 1;
        r->max_abs = r->rel = INFINITY;
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        double want = element(ref->data, i, ref->dtype), got = element(c->data, i, ref->dtype);
        double diff = difference(want, got);
        if (isfinite(want) && fabs(want) > r->max_ref) r->max_ref = fabs(want);
        if (diff > r->max_abs) {
            r->max_abs = diff;
            r->worst = i;
            r->want = want;
            r->got = got;
        }
    }
    r->rel = r->max_abs == 0 ? 0 : r->max_ref > 0 ? r->max_abs / r->max_ref : INFINITY;
}

static void dims_str(const Tensor *t, char *buf, size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < t->rank && k < cap; i++) k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)t->dim[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

/* "[0, 2, 5]": flat index i of t as one index per axis. */
static void index_str(const Tensor *t, int64_t i, char *buf, size_t cap)
{
    int64_t idx[IR_MAX_RANK];
    for (int a = t->rank - 1; a >= 0; a--) {
        idx[a] = t->dim[a] ? i % t->dim[a] : 0;
        i = t->dim[a] ? i / t->dim[a] : 0;
    }
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int a = 0; a < t->rank && k < cap; a++) k += (size_t)snprintf(buf + k, cap - k, "%s%lld", a ? ", " : "", (long long)idx[a]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

static int name_width(const Diff *s)
{
    int w = 4;
    for (int i = 0; i < s->cg->n_nodes; i++) {
        int len = (int)strlen(s->cg->nodes[i]->name);
        if (s->ref_output[i] >= 0 && len > w) w = len;
    }
    return w < 40 ? w : 40;
}

/* The first node past tolerance, at the unfused node's place in the model file. */
static void report_first_failure(Diff *s, const Node *n, const Node *r, const Tensor *t, const Comparison *c)
{
    char fused[160] = "";
    if (n->op != r->op) snprintf(fused, sizeof fused, " (compiled as %s '%s')", op_name(n->op), n->name);
    if (c->size_differs) {
        diag_error(&s->d, r->loc, "%s '%s'%s: the first node past tolerance: the compiled run captured %lld bytes, "
                   "the reference has %lld", op_name(r->op), r->name, fused, (long long)s->captured[n->id].bytes,
                   (long long)(4 * tensor_numel(t)));
        return;
    }
    char at[128];
    index_str(t, c->worst, at, sizeof at);
    diag_error(&s->d, r->loc, "%s '%s'%s: the first node past tolerance: relative difference %.3g > %g "
               "(max abs %.3g; at %s the reference has %.9g, the compiled model %.9g)", op_name(r->op), r->name, fused,
               c->rel, s->o->tolerance, c->max_abs, at, c->want, c->got);
}

/* Prints one line per compared node and the summary; returns the number past tolerance. */
static int compare_all(Diff *s, const Skips *sk)
{
    int w = name_width(s), compared = 0, failed = 0, uncaptured = 0;
    printf("%-*s  %-14s %-18s %10s %10s\n", w, "node", "op", "shape", "max abs", "rel");
    for (int i = 0; i < s->cg->n_nodes; i++) {
        if (s->ref_output[i] < 0) continue;
        const Node *n = s->cg->nodes[i];
        const Captured *cap = &s->captured[i];
        if (!cap->data) {       /* a node the forward function never produced */
            uncaptured++;
            continue;
        }
        const Tensor *t = &s->ref_values[s->ref_output[i]];
        Comparison c;
        compare_values(t, cap, &c);
        int ok = c.rel <= s->o->tolerance;
        char shape[128];
        dims_str(t, shape, sizeof shape);
        printf("%-*s  %-14s %-18s %10.3g %10.3g  %s\n", w, n->name, op_name(n->op), shape, c.max_abs, c.rel,
               ok ? "OK" : "FAIL");
        compared++;
        if (!ok && failed++ == 0)
            report_first_failure(s, n, s->rg->outputs[s->ref_output[i]].node, t, &c);
    }
    for (int i = 0; i < s->cg->n_nodes && s->o->verbose; i++)
        if (s->ref_output[i] < 0) list_skipped(s, s->cg->nodes[i]);
    printf("compared %d nodes; skipped %d: %d inputs and weights, %d with no unfused node of that name, "
           "%d with one of another shape or type", compared, sk->sources + sk->no_name + sk->other_type + uncaptured,
           sk->sources, sk->no_name, sk->other_type);
    if (uncaptured) printf(", %d not captured", uncaptured);
    printf("\n");
    if (failed) printf("%d of %d nodes past the relative tolerance %g\n", failed, compared, s->o->tolerance);
    else printf("all within the relative tolerance %g\n", s->o->tolerance);
    fflush(stdout);
    return failed;
}

/* ---- the command ------------------------------------------------------------------------ */

static int diff_run(Diff *s)
{
    if (load_models(s)) return 1;
    long long perturb = perturbed_node(s);
    if (perturb == -2) return 2;
    if (make_tmp(s) || compile_capture_build(s) || run_capture_build(s, perturb) || read_capture(s)) return 1;
    Skips sk = { 0 };
    if (run_reference(s, &sk)) return 1;
    return compare_all(s, &sk) ? 1 : 0;
}

int cmd_diff(int argc, char **argv)
{
    DiffOptions o = { 0 };
    o.tolerance = DEFAULT_TOLERANCE;
    o.backend.opt_level = 3;
    o.backend.eos_id = -1;
#ifndef NDEBUG
    o.passes.verify = 1;
#endif
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0) return rc;
    Diff s = { 0 };
    s.o = &o;
    diag_init(&s.d);
    if (parse_token_list(o.tokens_arg, &s.tokens, &s.n_tokens)) rc = 2;
    else rc = diff_run(&s);
    remove_tmp(&s);
    for (int i = 0; i < s.n_ref_values; i++) tensor_free(&s.ref_values[i]);
    free(s.ref_values);
    free(s.ref_output);
    free(s.ref_sorted);
    free(s.captured);
    free(s.capture_data);
    free(s.tokens);
    if (s.ref) fe_release(s.ref);
    if (s.cmp) fe_release(s.cmp);
    arena_free(&s.a);
    diag_free(&s.d);
    return rc;
}
