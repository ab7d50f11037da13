/* selftest.c — the comparison behind --selftest (runtime/selftest.h).
 *
 * One pass over the logits finds the largest |want| (the scale of the tolerance) and the
 * largest difference with where it is; a NaN in either set counts as an infinite
 * difference, so it always fails. The message names the position and the token id of the
 * worst logit, the numbers on both sides and the tolerance, so a failure can be reported
 * as it is. */
#include "runtime/selftest.h"

#include <math.h>

int rt_selftest_check(const float *got, const float *want, int64_t n, int64_t vocab, FILE *out)
{
    double scale = 0, worst = -1;
    int64_t at = 0;
    for (int64_t i = 0; i < n * vocab; i++) {
        double w = fabs((double)want[i]);
        if (w > scale) scale = w;
        double d = fabs((double)got[i] - (double)want[i]);
        if (d != d) d = INFINITY;       /* NaN */
        if (d > worst) {
            worst = d;
            at = i;
        }
    }
    double tol = RT_SELFTEST_REL * scale + RT_SELFTEST_ABS;
    if (worst <= tol) {
        fprintf(out, "selftest: ok (max |Δ| = %.1e over %lld×%lld logits; tolerance %.1e = %g·max|ref| + %g, "
                "max|ref| = %.3g)\n", worst, (long long)n, (long long)vocab, tol, RT_SELFTEST_REL, RT_SELFTEST_ABS,
                scale);
        return 0;
    }
    fprintf(out, "selftest: FAILED: max |Δ| = %.3g at position %lld of %lld, token id %lld: this executable "
            "computes %.7g, the reference interpreter computed %.7g (tolerance %.1e = %g·max|ref| + %g, "
            "max|ref| = %.3g)\n", worst, (long long)(at / vocab), (long long)n, (long long)(at % vocab),
            (double)got[at], (double)want[at], tol, RT_SELFTEST_REL, RT_SELFTEST_ABS, scale);
    return 1;
}
