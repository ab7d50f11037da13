/* fuzz_model.c — libFuzzer target for the two model readers: the XML frontend (libxml2,
 * schema, expressions, repeat expansion, name resolution, shape inference) and the .kir
 * parser with its verifier. The first byte picks the reader. Nothing is loaded from disk:
 * weight files named by the input are not opened (inference still runs on declared shapes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    Arena a = { 0 };
    Diag d;
    diag_init(&d);
    d.quiet = 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        Module *m = ir_parse(&a, &d, "fuzz.kir", text, len);
        if (m) {
            /* print must not crash on anything the parser accepted */
            FILE *null = fopen("/dev/null", "w");
            if (null) {
                ir_print(m, null, ".");
                fclose(null);
            }
        }
    } else {
        Module *m = fe_read_xml_mem(&a, &d, "fuzz.xml", text, len);
        if (m) fe_finish(m, &d);
    }
    arena_free(&a);
    diag_free(&d);
    return 0;
}
