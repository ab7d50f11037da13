/* check.c — compares kiln's GPT-2 124M logits with the committed PyTorch reference.
 *
 * Usage: check REF.json REF_LAST.f32 KILN_LOGITS.f32
 *
 * REF.json and REF_LAST.f32 are written by bench/make_ref.py; KILN_LOGITS.f32 is what the
 * compiled executable writes for `--tokens <the ids of REF.json> --logits FILE` (T × vocab
 * float32, row-major). Checks, each printed with its figure:
 *   1. every position's argmax equals the reference's;
 *   2. the last position's logits: max |kiln − ref| ≤ 1e-4 · max |ref logit| (all 50257);
 *   3. every position's top-5 reference logits: max |kiln − ref| ≤ 1e-4 · max |ref logit|.
 * Exit 0 when all pass, 1 otherwise (with FAIL lines), 2 on unreadable input.
 * The JSON is scanned, not parsed: the keys' values are read as runs of numbers, which is all
 * make_ref.py's fixed layout needs; no dependency. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { VOCAB = 50257, MAXT = 64 };

static char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)*len + 1);
    if (b && fread(b, 1, (size_t)*len, f) != (size_t)*len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[*len] = 0;
    return b;
}

/* Reads up to max numbers after "key": until the bracket depth returns to where it started
 * (or the first number, for a scalar). Returns the count. */
static int numbers(const char *json, const char *key, double *out, int max)
{
    char pat[80];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p) return -1;
    p += strlen(pat);
    int depth = 0, n = 0;
    while (*p) {
        if (*p == '[') depth++;
        else if (*p == ']') {
            if (--depth <= 0) break;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            char *end;
            double v = strtod(p, &end);
            if (n < max) out[n] = v;
            n++;
            p = end;
            if (depth == 0) break;
            continue;
        }
        p++;
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: check REF.json REF_LAST.f32 KILN_LOGITS.f32\n");
        return 2;
    }
    long jl, rl, kl;
    char *json = slurp(argv[1], &jl);
    float *last = (float *)slurp(argv[2], &rl), *kiln = (float *)slurp(argv[3], &kl);
    if (!json || !last || !kiln) {
        fprintf(stderr, "check: cannot read %s\n", !json ? argv[1] : !last ? argv[2] : argv[3]);
        return 2;
    }
    double ids[MAXT], argmax[MAXT], top5[MAXT * 10], mx_last, mx_all;
    int T = numbers(json, "ids", ids, MAXT);
    if (T < 1 || T > MAXT || numbers(json, "argmax", argmax, MAXT) != T || numbers(json, "top5", top5, MAXT * 10) != T * 10 ||
        numbers(json, "max_abs_logit_last", &mx_last, 1) != 1 || numbers(json, "max_abs_logit", &mx_all, 1) != 1) {
        fprintf(stderr, "check: %s is not the reference make_ref.py writes\n", argv[1]);
        return 2;
    }
    if (rl != (long)VOCAB * 4 || kl != (long)T * VOCAB * 4) {
        fprintf(stderr, "check: sizes: %s has %ld bytes (want %ld), %s has %ld (want %ld = %d positions x %d)\n",
                argv[2], rl, (long)VOCAB * 4, argv[3], kl, (long)T * VOCAB * 4, T, VOCAB);
        return 2;
    }
    int fails = 0, arg_ok = 0;
    for (int t = 0; t < T; t++) {
        const float *row = kiln + (size_t)t * VOCAB;
        int best = 0;
        for (int v = 1; v < VOCAB; v++)
            if (row[v] > row[best]) best = v;
        if (best == (int)argmax[t]) arg_ok++;
        else {
            printf("FAIL position %d: argmax %d, reference %d (kiln's logits there: %.6f vs %.6f)\n", t, best,
                   (int)argmax[t], row[best], row[(int)argmax[t]]);
            fails++;
        }
    }
    printf("check: argmax equal at %d of %d positions\n", arg_ok, T);

    const float *klast = kiln + (size_t)(T - 1) * VOCAB;
    double d_last = 0;
    int at = 0;
    for (int v = 0; v < VOCAB; v++) {
        double d = fabs((double)klast[v] - last[v]);
        if (!(d <= d_last)) d_last = d, at = v;   /* NaN counts as worst */
    }
    double tol_last = 1e-4 * mx_last;
    printf("check: last position, %d logits: max |diff| %.3g (id %d) = %.3g x max|logit| %.4f; tolerance %.3g: %s\n",
           VOCAB, d_last, at, d_last / mx_last, mx_last, tol_last, d_last <= tol_last ? "ok" : "FAIL");
    if (!(d_last <= tol_last)) fails++;

    double d_top = 0, tol_all = 1e-4 * mx_all;
    for (int t = 0; t < T; t++)
        for (int j = 0; j < 5; j++) {
            int id = (int)top5[t * 10 + 2 * j];
            double d = fabs((double)kiln[(size_t)t * VOCAB + id] - top5[t * 10 + 2 * j + 1]);
            if (!(d <= d_top)) d_top = d;
        }
    /* the reference's top-5 are printed with 7 significant digits: ±5e-7 relative of rounding */
    printf("check: top-5 logits of every position: max |diff| %.3g; tolerance %.3g: %s\n", d_top, tol_all,
           d_top <= tol_all ? "ok" : "FAIL");
    if (!(d_top <= tol_all)) fails++;
    printf("check: %s\n", fails ? "FAILED" : "passed");
    free(json);
    free(last);
    free(kiln);
    return fails ? 1 : 0;
}
