/* unicode.c — strict UTF-8 decoding and character class lookups for the tokenizers.
 *
 * Decoding follows the Unicode standard's table of well-formed byte sequences (Table 3-7):
 * the second byte's allowed range depends on the first byte, which excludes overlong forms
 * (C0, C1, E0 80..9F, F0 80..8F), UTF-16 surrogates (ED A0..BF) and code points above
 * U+10FFFF (F4 90.., F5..FF) without decoding first and checking after. A class lookup
 * bisects a sorted range table from unicode_tables.c: at most 10 probes for the largest
 * table (700 ranges), no per-code-point data. */
#include "runtime/unicode_impl.h"

int uni_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    *cp = 0xFFFD;
    uint8_t b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    int len;
    uint32_t c;
    uint8_t lo = 0x80, hi = 0xBF;       /* allowed range of the second byte */
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        len = 2;
        c = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3;
        c = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;      /* overlong below U+0800 */
        if (b0 == 0xED) hi = 0x9F;      /* surrogates U+D800..DFFF */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4;
        c = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;      /* overlong below U+10000 */
        if (b0 == 0xF4) hi = 0x8F;      /* above U+10FFFF */
    } else {
        return 0;                       /* continuation byte, C0, C1 or F5..FF */
    }
    if ((size_t)len > n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    c = (c << 6) | (s[1] & 0x3F);
    for (int i = 2; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    *cp = c;
    return len;
}

int uni_utf8_valid(const uint8_t *s, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        int len = uni_utf8_decode(s + i, n - i, &cp);
        if (len == 0) {
            *bad = i;
            return 0;
        }
        i += (size_t)len;
    }
    return 1;
}

int uni_in(const UniRange *r, unsigned n, uint32_t cp)
{
    unsigned lo = 0, hi = n;            /* the answer, if any, is in r[lo..hi) */
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo) hi = mid;
        else if (cp > r[mid].hi) lo = mid + 1;
        else return 1;
    }
    return 0;
}

int uni_is_letter(uint32_t cp) { return uni_in(uni_letter, uni_letter_n, cp); }
int uni_is_number(uint32_t cp) { return uni_in(uni_number, uni_number_n, cp); }
int uni_is_space(uint32_t cp) { return uni_in(uni_space, uni_space_n, cp); }
int uni_is_punct(uint32_t cp) { return uni_in(uni_punct, uni_punct_n, cp); }
int uni_is_mark_mn(uint32_t cp) { return uni_in(uni_mark_mn, uni_mark_mn_n, cp); }
int uni_is_zs(uint32_t cp) { return uni_in(uni_zs, uni_zs_n, cp); }
int uni_is_other(uint32_t cp) { return uni_in(uni_other, uni_other_n, cp); }
int uni_is_cjk(uint32_t cp) { return uni_in(uni_cjk, uni_cjk_n, cp); }
