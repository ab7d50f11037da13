/* test_kernels_asm.c — what the matmul kernels become in machine code.
 *
 * Both matmul kernels (tb=1: dot products; tb=0: row times matrix) of x (s, 256) and a
 * (256, 64) weight are emitted for three targets, verified, optimized with default<O3> and
 * written as assembly (LLVMTargetMachineEmitToMemoryBuffer on a clone of the module, since
 * code generation changes it: TOOLCHAIN.md trap 8):
 *   - the host with AVX-512: fused multiply-adds on zmm registers (vfmadd...ps ... zmm);
 *   - aarch64-linux-gnu, cpu neoverse-n1: fmla on .4s NEON vectors;
 *   - x86_64-linux-gnu, cpu x86-64 (SSE2 only): no ymm or zmm register anywhere, and packed
 *     SSE arithmetic (mulps/addps) rather than scalar code. */
#include "harness.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include <stdlib.h>
#include <string.h>

/* The first line of text containing all of a, b (b may be NULL), or NULL. */
static const char *find_line(const char *text, const char *a, const char *b, char *line, size_t cap)
{
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n >= cap) n = cap - 1;
        memcpy(line, p, n);
        line[n] = 0;
        if (strstr(line, a) && (!b || strstr(line, b))) return line;
        if (!e) break;
        p = e + 1;
    }
    return NULL;
}

/* The assembly of both matmul kernels for the target o names (owned by the caller). */
static char *kernels_asm(T *t, const Node *const *mm, const BackendOptions *o, int *vw)
{
    Cg cg;
    memset(&cg, 0, sizeof cg);
    if (cg_init(&cg, t->m, o, &t->diag)) return NULL;
    *vw = cg.vw;
    for (int i = 0; i < 2; i++) KILN_ASSERT(cg_kernel(&cg, mm[i]));
    char *msg = NULL;
    if (LLVMVerifyModule(cg.mod, LLVMReturnStatusAction, &msg)) kiln_internal(__FILE__, __LINE__, "%s", msg);
    LLVMDisposeMessage(msg);
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMErrorRef e = LLVMRunPasses(cg.mod, "default<O3>", cg.tm, po);
    KILN_ASSERT(!e);
    LLVMDisposePassBuilderOptions(po);
    LLVMModuleRef copy = LLVMCloneModule(cg.mod);
    LLVMMemoryBufferRef buf = NULL;
    char *err = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(cg.tm, copy, LLVMAssemblyFile, &err, &buf))
        kiln_internal(__FILE__, __LINE__, "emitting assembly: %s", err);
    size_t n = LLVMGetBufferSize(buf);
    char *text = xmalloc(n + 1);
    memcpy(text, LLVMGetBufferStart(buf), n);
    text[n] = 0;
    LLVMDisposeMemoryBuffer(buf);
    LLVMDisposeModule(copy);
    cg_dispose(&cg);
    return text;
}

int main(void)
{
    T t;
    t_init(&t, "asm");
    t_sym(&t, "s", 64);
    Node *x = t_input(&t, "x", DT_F32, shp(2, S(&t, "s"), C(256)));
    Node *w = t_weight(&t, "w", DT_F32, shp(2, C(64), C(256)));
    Node *wt = t_weight(&t, "wt", DT_F32, shp(2, C(256), C(64)));
    Node *m1 = t_node(&t, OP_MATMUL, x, w, NULL, NULL);
    set_i(&t, m1, A_tb, 1);
    t_done(&t, m1);
    Node *m0 = t_done(&t, t_node(&t, OP_MATMUL, x, wt, NULL, NULL));
    const Node *mm[2] = { m1, m0 };
    int fails = t.bad != 0, vw = 0;
    char line[512];
    BackendOptions o;

    /* the host: zmm FMAs when it has AVX-512 */
    memset(&o, 0, sizeof o);
    o.opt_level = 3;
    char *text = kernels_asm(&t, mm, &o, &vw);
    if (!text) {
        printf("FAIL  host: cg_init failed\n");
        fails++;
    } else if (vw != 16) {
        printf("SKIP  host has %d-lane vectors, no AVX-512: the zmm check needs an AVX-512 host\n", vw);
    } else if (find_line(text, "vfmadd", "zmm", line, sizeof line) && strstr(line, "ps")) {
        printf("PASS  host (vw 16): %s\n", line);
    } else {
        printf("FAIL  host (vw 16): no vfmadd...ps on zmm registers\n");
        fails++;
    }
    free(text);

    /* AArch64 NEON: fmla on 4 x f32 */
    memset(&o, 0, sizeof o);
    o.triple = "aarch64-linux-gnu";
    o.cpu = "neoverse-n1";
    o.opt_level = 3;
    text = kernels_asm(&t, mm, &o, &vw);
    if (text && find_line(text, "fmla", ".4s", line, sizeof line)) {
        printf("PASS  aarch64 neoverse-n1 (vw %d): %s\n", vw, line);
    } else {
        printf("FAIL  aarch64 neoverse-n1: no fmla on .4s\n");
        fails++;
    }
    free(text);

    /* baseline x86-64: SSE only */
    memset(&o, 0, sizeof o);
    o.triple = "x86_64-linux-gnu";
    o.cpu = "x86-64";
    o.opt_level = 3;
    text = kernels_asm(&t, mm, &o, &vw);
    if (!text) {
        printf("FAIL  x86-64: cg_init failed\n");
        fails++;
    } else if (find_line(text, "ymm", NULL, line, sizeof line) || find_line(text, "zmm", NULL, line, sizeof line)) {
        printf("FAIL  x86-64 (vw %d): a wide register appears: %s\n", vw, line);
        fails++;
    } else if (!find_line(text, "mulps", NULL, line, sizeof line)) {
        printf("FAIL  x86-64 (vw %d): no packed SSE multiply (mulps)\n", vw);
        fails++;
    } else {
        printf("PASS  x86-64 (vw %d): no ymm/zmm; packed SSE: %s\n", vw, line);
    }
    free(text);
    t_free(&t);
    return fails != 0;
}
