/* dump_fold.c — prints the runtime's BERT uncased fold (uni_fold_cp) of every code point that
 * it changes, one line "CP TO..." in hex (no TO: the code point is dropped), for test_fold.py,
 * which compares it with Python's lower(), NFD and Mn. The first line is the tables' Unicode
 * version. */
#include "runtime/unicode_impl.h"

#include <stdio.h>

int main(void)
{
    printf("%s\n", uni_tables_version);
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;     /* not in valid UTF-8 */
        uint32_t out[3];
        int n = uni_fold_cp(cp, out);
        if (n == 1 && out[0] == cp) continue;
        printf("%X", cp);
        for (int i = 0; i < n; i++) printf(" %X", out[i]);
        printf("\n");
    }
    return 0;
}
