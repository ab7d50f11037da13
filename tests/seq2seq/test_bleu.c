/* test_bleu.c — runtime/bleu.c against a corpus scored by hand, plus edge cases.
 *
 * The worked example: four sentence pairs (hypothesis / reference), every n-gram counted.
 *
 *  1. "the cat sat on the mat" / "the cat is on the mat"              (c 6, r 6)
 *     1-grams: the x2 (ref has 2: 2), cat 1, sat 0, on 1, mat 1        -> 5 of 6
 *     2-grams: the cat, cat sat, sat on, on the, the mat;
 *              ref: the cat, cat is, is on, on the, the mat            -> 3 of 5
 *     3-grams: the cat sat, cat sat on, sat on the, on the mat;
 *              ref: the cat is, cat is on, is on the, on the mat       -> 1 of 4
 *     4-grams: the cat sat on, cat sat on the, sat on the mat;
 *              ref: the cat is on, cat is on the, is on the mat        -> 0 of 3
 *  2. "two hundred thirteen" / "forty thousand two hundred thirteen"   (c 3, r 5)
 *     1-grams 3 of 3; 2-grams (two hundred, hundred thirteen) 2 of 2;
 *     3-grams (two hundred thirteen) 1 of 1; 4-grams: none (0 of 0)
 *  3. "the the the" / "the cat"                                        (c 3, r 2)
 *     1-grams: the x3, clipped to its 1 occurrence in the reference    -> 1 of 3
 *     2-grams: the the x2, not in the reference                        -> 0 of 2
 *     3-grams: the the the                                             -> 0 of 1
 *     4-grams: none                                                    -> 0 of 0
 *  4. "seven hundred seventy seven thousand", same reference           (c 5, r 5)
 *     1-grams 5 of 5 (seven x2 both matched), 2-grams 4 of 4, 3-grams 3 of 3, 4-grams 2 of 2
 *
 *  Sums: 1-grams 5+3+1+5 = 14 of 6+3+3+5 = 17      p1 = 14/17
 *        2-grams 3+2+0+4 =  9 of 5+2+2+4 = 13      p2 =  9/13
 *        3-grams 1+1+0+3 =  5 of 4+1+1+3 =  9      p3 =  5/9
 *        4-grams 0+0+0+2 =  2 of 3+0+0+2 =  5      p4 =  2/5
 *        c = 6+3+3+5 = 17, r = 6+5+2+5 = 18: c <= r, BP = exp(1 - 18/17) = exp(-1/17) = 0.942873
 *  p1 p2 p3 p4 = (14 * 9 * 5 * 2) / (17 * 13 * 9 * 5) = 1260 / 9945 = 28/221 = 0.126697
 *  (28/221)^(1/4) = 0.596611;  BLEU = 0.942873 * 0.596611 = 0.562529
 *
 * Sentence 1 alone has no 4-gram match: BLEU 0, with p1..p3 = 5/6, 3/5, 1/4 still reported. */
#include "runtime/bleu.h"

#include <math.h>
#include <string.h>

#include "tests/check.h"

static int near(double a, double b) { return fabs(a - b) <= 1e-12 * (fabs(b) > 1 ? fabs(b) : 1); }

static void worked_example(void)
{
    RtBleu b;
    rt_bleu_init(&b);
    CHECK(rt_bleu_add(&b, "the cat sat on the mat", "the cat is on the mat") == 0, "add 1");
    CHECK(rt_bleu_add(&b, "two hundred thirteen", "forty thousand two hundred thirteen") == 0, "add 2");
    CHECK(rt_bleu_add(&b, "the the the", "the cat") == 0, "add 3");
    CHECK(rt_bleu_add(&b, "seven hundred seventy seven thousand", "seven hundred seventy seven thousand") == 0,
          "add 4");
    const int64_t matched[4] = { 14, 9, 5, 2 }, total[4] = { 17, 13, 9, 5 };
    for (int n = 0; n < 4; n++) {
        CHECK(b.matched[n] == matched[n], "%d-grams matched %lld, want %lld", n + 1, (long long)b.matched[n],
              (long long)matched[n]);
        CHECK(b.total[n] == total[n], "%d-grams total %lld, want %lld", n + 1, (long long)b.total[n],
              (long long)total[n]);
    }
    RtBleuScore s;
    rt_bleu_score(&b, &s);
    CHECK(s.hyp_len == 17 && s.ref_len == 18, "lengths %lld %lld", (long long)s.hyp_len, (long long)s.ref_len);
    CHECK(near(s.precision[0], 14.0 / 17) && near(s.precision[1], 9.0 / 13) && near(s.precision[2], 5.0 / 9) &&
              near(s.precision[3], 2.0 / 5),
          "precisions %g %g %g %g", s.precision[0], s.precision[1], s.precision[2], s.precision[3]);
    CHECK(near(s.brevity_penalty, exp(-1.0 / 17)), "BP %.9f", s.brevity_penalty);
    CHECK(near(s.bleu, exp(-1.0 / 17) * pow(28.0 / 221, 0.25)), "BLEU %.9f", s.bleu);
    CHECK(fabs(s.bleu - 0.562529) < 5e-7, "BLEU %.9f, hand value 0.562529", s.bleu);
    CHECK(b.sentences == 4, "sentences %lld", (long long)b.sentences);
    rt_bleu_free(&b);
    CHECK(b.tok == NULL && b.sentences == 0, "free empties");
}

static void no_four_gram(void)
{
    RtBleu b;
    rt_bleu_init(&b);
    rt_bleu_add(&b, "the cat sat on the mat", "the cat is on the mat");
    RtBleuScore s;
    rt_bleu_score(&b, &s);
    CHECK(s.bleu == 0.0, "no 4-gram match: BLEU %g", s.bleu);
    CHECK(near(s.precision[0], 5.0 / 6) && near(s.precision[1], 3.0 / 5) && near(s.precision[2], 1.0 / 4) &&
              s.precision[3] == 0.0,
          "precisions %g %g %g %g", s.precision[0], s.precision[1], s.precision[2], s.precision[3]);
    CHECK(s.brevity_penalty == 1.0, "equal lengths: BP %g", s.brevity_penalty);
    rt_bleu_free(&b);
}

static void empty_hypothesis(void)
{
    RtBleu b;
    rt_bleu_init(&b);
    CHECK(rt_bleu_add(&b, "", "the cat") == 0, "add empty");
    RtBleuScore s;
    rt_bleu_score(&b, &s);
    CHECK(s.bleu == 0.0 && s.brevity_penalty == 0.0, "empty: BLEU %g BP %g", s.bleu, s.brevity_penalty);
    CHECK(s.hyp_len == 0 && s.ref_len == 2, "lengths %lld %lld", (long long)s.hyp_len, (long long)s.ref_len);
    for (int n = 0; n < 4; n++) CHECK(s.precision[n] == 0.0 && b.total[n] == 0, "p%d %g", n + 1, s.precision[n]);

    /* whitespace only is empty too; in a corpus it only adds to r */
    rt_bleu_add(&b, " \t\n ", "x");
    rt_bleu_add(&b, "a b c d", "a b c d");
    rt_bleu_score(&b, &s);
    CHECK(s.hyp_len == 4 && s.ref_len == 7, "lengths %lld %lld", (long long)s.hyp_len, (long long)s.ref_len);
    CHECK(near(s.brevity_penalty, exp(1.0 - 7.0 / 4)), "BP %g", s.brevity_penalty);
    CHECK(near(s.bleu, exp(1.0 - 7.0 / 4)), "BLEU %g (all p_n = 1)", s.bleu);
    rt_bleu_free(&b);

    /* nothing added: 0, not NaN */
    rt_bleu_init(&b);
    rt_bleu_score(&b, &s);
    CHECK(s.bleu == 0.0 && s.brevity_penalty == 1.0, "empty corpus: BLEU %g BP %g", s.bleu, s.brevity_penalty);
}

static void longer_hypothesis(void)
{
    /* p = 6/7, 5/6, 4/5, 3/4; c 7 > r 6: BP 1; BLEU = (6/7 5/6 4/5 3/4)^(1/4) = (3/7)^(1/4) */
    RtBleu b;
    rt_bleu_init(&b);
    rt_bleu_add(&b, "the cat sat on the mat today", "the cat sat on the mat");
    RtBleuScore s;
    rt_bleu_score(&b, &s);
    CHECK(s.brevity_penalty == 1.0, "longer: BP %g", s.brevity_penalty);
    CHECK(near(s.bleu, pow(3.0 / 7, 0.25)), "longer: BLEU %.9f, want %.9f", s.bleu, pow(3.0 / 7, 0.25));
    rt_bleu_free(&b);
}

static void identical_corpus(void)
{
    /* BLEU exactly 1, whatever the spacing; a long sentence grows the scratch */
    static char longs[4000];
    size_t k = 0;
    for (int i = 0; i < 500; i++) k += (size_t)snprintf(longs + k, sizeof longs - k, "w%d ", i % 37);
    RtBleu b;
    rt_bleu_init(&b);
    rt_bleu_add(&b, "forty thousand two hundred thirteen", "forty  thousand two\thundred thirteen\n");
    rt_bleu_add(&b, "one two three four five", "one two three four five");
    rt_bleu_add(&b, longs, longs);
    RtBleuScore s;
    rt_bleu_score(&b, &s);
    CHECK(s.bleu == 1.0, "identical: BLEU %.17g", s.bleu);
    CHECK(s.hyp_len == 510 && s.ref_len == 510, "lengths %lld %lld", (long long)s.hyp_len, (long long)s.ref_len);
    CHECK(b.total[3] == 2 + 2 + 497, "4-grams %lld", (long long)b.total[3]);
    rt_bleu_free(&b);

    /* lengths given: only the first hyp_n / ref_n bytes count */
    rt_bleu_init(&b);
    rt_bleu_add_n(&b, "a b c d e f", 7, "a b c dXYZ", 7);
    rt_bleu_score(&b, &s);
    CHECK(s.bleu == 1.0 && s.hyp_len == 4, "add_n: BLEU %g, c %lld", s.bleu, (long long)s.hyp_len);
    rt_bleu_free(&b);
}

int main(void)
{
    worked_example();
    no_four_gram();
    empty_hypothesis();
    longer_hypothesis();
    identical_corpus();
    printf("%d checks, %d failed\n", check_count, check_failures);
    return check_failures != 0;
}
