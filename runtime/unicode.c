/* unicode.c — strict UTF-8 decoding and character class lookups for the tokenizers.
 *
 * Decoding follows the Unicode standard's table of well-formed byte sequences (Table 3-7):
 * the second byte's allowed range depends on the first byte, which excludes overlong forms
 * (C0, C1, E0 80..9F, F0 80..8F), UTF-16 surrogates (ED A0..BF) and code points above
 * U+10FFFF (F4 90.., F5..FF) without decoding first and checking after. A class lookup
 * bisects a sorted range table from unicode_tables.c: at most 10 probes for the largest
 * table (700 ranges), no per-code-point data. The fold map (uni_fold_cp) bisects its runs the
 * same way. */
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

int uni_fold_cp(uint32_t cp, uint32_t out[3])
{
    if (cp < 0x80) {
        out[0] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
        return 1;
    }
    if (cp >= 0xAC00 && cp <= 0xD7A3) {     /* Hangul: L + V (+ T), Unicode 3.12 */
        uint32_t s = cp - 0xAC00, t = s % 28;
        out[0] = 0x1100 + s / (21 * 28);
        out[1] = 0x1161 + (s % (21 * 28)) / 28;
        if (t == 0) return 2;
        out[2] = 0x11A7 + t;
        return 3;
    }
    if (uni_is_mark_mn(cp)) return 0;
    unsigned lo = 0, hi = uni_fold_n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        const UniFold *f = &uni_fold[mid];
        uint32_t first = f->key >> 11, last = first + (f->key >> 2 & 511), step = f->key & 3;
        if (cp < first) hi = mid;
        else if (cp > last) lo = mid + 1;
        else {
            if (step == 0) out[0] = (uint32_t)f->delta;
            else if ((cp - first) % step == 0) out[0] = (uint32_t)((int32_t)cp + f->delta);
            else out[0] = cp;
            return 1;
        }
    }
    lo = 0, hi = uni_fold_multi_n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        const UniFoldMulti *m = &uni_fold_multi[mid];
        if (cp < m->cp) hi = mid;
        else if (cp > m->cp) lo = mid + 1;
        else {
            int n = 0;
            while (n < 3 && m->to[n]) {
                out[n] = m->to[n];
                n++;
            }
            return n;
        }
    }
    out[0] = cp;
    return 1;
}

int uni_utf8_encode(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}
