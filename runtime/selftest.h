/* selftest.h — `--selftest`: does this executable compute what the reference interpreter
 * computed for the same model when it was compiled?
 *
 * `kiln compile --selftest` embeds a few token ids and the reference interpreter's logits
 * for them (kiln_model.selftest_*, runtime/model.h). main.c feeds the ids in one forward
 * call from position 0 and hands both sets of logits to rt_selftest_check. */
#ifndef KILN_RUNTIME_SELFTEST_H
#define KILN_RUNTIME_SELFTEST_H

#include <stdint.h>
#include <stdio.h>

/* The tolerance: every |got - want| <= RT_SELFTEST_REL * max|want| + RT_SELFTEST_ABS. The
 * compiled kernels sum in other orders than the interpreter (vectors, fused epilogues), which
 * moves logits by about 1e-6 of their scale; a wrong kernel moves them by far more. */
#define RT_SELFTEST_REL 1e-3
#define RT_SELFTEST_ABS 1e-4

/* Compares got with want (n positions x vocab, row-major). Prints to out
 *   selftest: ok (max |Δ| = 3.1e-06 over 11×1024 logits; tolerance ...)
 * and returns 0, or names the worst position and logit and returns 1. */
int rt_selftest_check(const float *got, const float *want, int64_t n, int64_t vocab, FILE *out);

#endif
