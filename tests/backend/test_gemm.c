/* test_gemm.c — the register-blocked matmul (kernel_matmul.c, "the register-blocked
 * product") at every edge of its tiling, against the reference interpreter.
 *
 * The blocked path runs for M >= 4 rows (tb = 0) or M >= 8 (tb = 1); below, the row-by-row
 * code. Its tiles are R = 6 rows, then at most one tile each of 4, 2 and 1 rows; its panels
 * of columns are C vectors (C*vw columns: 64 with AVX-512, 16 with AVX2, 8 with SSE2), then
 * single vectors, then single columns; its depth is cut in blocks of KC = 65536 / (C*vw)
 * (1024, 4096, 8192) when K can exceed that, the partial sums waiting in y. So the cases
 * take M = 1 .. 17 around both thresholds (6+4+2+1 = 13, 6+6+4+1 = 17, ...), N with panels,
 * single vectors and single columns at each width (85, 93, 21, ...), K below and above
 * every KC (1100, 8200) and a symbolic K bounded above KC (including K = 0 and a K below KC
 * in a kernel built for blocks), batched and broadcast operands, and the fused epilogues
 * (bias, activations, residual, gated) on both layouts. The harness runs each case at every
 * vector width, and split into 3 and 7 parts, bit-identical to one part (harness.h).
 * Tolerance: 1e-5 of the same product on |inputs|, as test_kernels.c's matmul cases. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static int n_fail, n_cases;

static void begin(T *t)
{
    t_sym(t, "b", 4);
    t_sym(t, "s", 32);
    t_sym(t, "past", 24);
    t_sym(t, "kk", 9000);
}

static void matmul(const char *sa, const char *sb, int tb, const char *r)
{
    n_fail += t_matmul_case(begin, sa, sb, tb, r);
    n_cases++;
}

/* x (s, kk) times weights stored [n, kk] (tb) or [kk, n], with the epilogue */
static void linear(int gated, int tb, int kk, int nn, int bias, const char *act, int res, const char *r)
{
    n_fail += t_linear_case(begin, gated, tb, "s", kk, nn, bias, act, res, r);
    n_cases++;
}

int main(void)
{
    /* rows around the thresholds and every tile mix; columns with panels, vectors, scalars */
    static const char *const rows0[] = { "s=1; s=2; s=3", "s=4; s=5; s=6", "s=7; s=13; s=17", "s=11; s=12; s=9" };
    static const char *const rows1[] = { "s=3; s=7; s=8", "s=9; s=10; s=13", "s=14; s=17; s=31" };
    static const int kn[][2] = { { 33, 85 }, { 64, 93 }, { 5, 200 }, { 1, 21 } };
    for (size_t i = 0; i < sizeof kn / sizeof kn[0]; i++) {
        char sa[32], sb[32], sbt[32];
        snprintf(sa, sizeof sa, "s,%d", kn[i][0]);
        snprintf(sb, sizeof sb, "%d,%d", kn[i][0], kn[i][1]);
        snprintf(sbt, sizeof sbt, "%d,%d", kn[i][1], kn[i][0]);
        for (size_t r = 0; r < sizeof rows0 / sizeof rows0[0]; r++)
            if (i < 2 || r >= 2) matmul(sa, sb, 0, rows0[r]);
        for (size_t r = 0; r < sizeof rows1 / sizeof rows1[0]; r++)
            if (i < 2 || r >= 1) matmul(sa, sbt, 1, rows1[r]);
    }
    /* depth: above AVX-512's KC (1024), above every KC (8200); a symbolic K bounded above
     * them, at K = 0, below KC and above it */
    matmul("s,1100", "1100,85", 0, "s=13; s=4");
    matmul("s,1100", "85,1100", 1, "s=13; s=8");
    matmul("s,8200", "8200,21", 0, "s=7; s=17");
    matmul("s,8200", "21,8200", 1, "s=9; s=14");
    matmul("s,kk", "kk,37", 0, "s=9 kk=8197; s=9 kk=0; s=6 kk=3");
    matmul("s,kk", "37,kk", 1, "s=9 kk=8197; s=9 kk=0; s=10 kk=3");
    /* batched and broadcast, attention's products */
    matmul("b,s,33", "33,85", 0, "b=2 s=9; b=1 s=4");
    matmul("b,s,33", "85,33", 1, "b=2 s=9; b=1 s=16");
    matmul("2,1,9,17", "3,17,40", 0, NULL);
    matmul("2,1,9,17", "3,40,17", 1, NULL);
    matmul("13,33", "b,33,70", 0, "b=2");
    matmul("b,4,s,16", "b,4,past+s,16", 1, "b=2 s=9 past=5; b=1 s=13 past=0");      /* scores */
    matmul("b,4,s,past+s", "b,4,past+s,17", 0, "b=2 s=9 past=5; b=1 s=13 past=0");  /* p v */
    matmul("s,s", "s,s", 0, "s=7; s=30; s=16");
    matmul("s,s", "s,s", 1, "s=8; s=30; s=16");
    /* epilogues, in the blocked path (and the gated one above KC, which takes the rows) */
    static const char *const acts[] = { NULL, "relu", "silu", "gelu_tanh", "gelu_erf" };
    for (int tb = 0; tb < 2; tb++) {
        for (int a = 0; a < 5; a++) {
            linear(0, tb, 40, 85, 1, acts[a], a & 1, "s=13; s=8; s=17");
            if (acts[a]) linear(1, tb, 33, 93, 0, acts[a], !(a & 1), "s=13; s=9; s=4");
        }
        linear(0, tb, 1100, 37, 1, "gelu_tanh", 1, "s=13; s=8");
        linear(0, tb, 8200, 21, 1, "silu", 1, "s=9");
        linear(1, tb, 8200, 21, 0, "silu", 1, "s=9");
    }
    printf("%d of %d cases failed\n", n_fail, n_cases);
    return n_fail != 0;
}
