/* fuzz_import.c — libFuzzer target for the importers' checks of what users give them: a
 * llama2.c checkpoint's header and sizes (fe_llama2c_parse, over the input as the whole
 * file; when it accepts, every tensor view must lie inside the input) and a LLaMA
 * config.json (fe_hf_llama_config). The first byte picks which. Nothing is written. */
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
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    LlamaHparams h;
    if (data[0] & 1) {
        /* the checkpoint is read from a copy of exactly its bytes, so that ASan sees any read
         * past its end */
        uint8_t *copy = malloc(len ? len : 1);
        if (len) memcpy(copy, body, len);
        StTensor *ts;
        size_t n;
        if (fe_llama2c_parse(&d, "fuzz.bin", copy, len, &a, &h, &ts, &n) == 0) {
            for (size_t i = 0; i < n; i++)
                if (ts[i].data < copy || ts[i].nbytes > len || (size_t)(ts[i].data - copy) > len - ts[i].nbytes) abort();
        }
        free(copy);
    } else {
        char *text = malloc(len + 1);
        memcpy(text, body, len);
        text[len] = 0;
        fe_hf_llama_config(&d, "config.json", text, len, &h);
        free(text);
    }
    arena_free(&a);
    diag_free(&d);
    return 0;
}
