/* fuzz_safetensors.c — libFuzzer target: any bytes through st_open_mem.
 *
 * The reader must return an error or a valid StFile, never crash, hang, read outside the
 * input or leak. Each input is copied so that it ends right before an unreadable page:
 * json-c is not built with ASan, so that is how an over-read inside json-c shows up (as
 * a SIGSEGV). On success every tensor is checked to lie inside the input and its first
 * and last bytes are touched. Seeds: any small valid .safetensors files. */
#include "frontend/frontend.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { GUARDED = 1 << 20 };     /* inputs up to this size get the guard page */

static uint8_t *guarded_copy(const uint8_t *data, size_t size)
{
    static uint8_t *area;
    static size_t page;
    if (!area) {
        page = (size_t)sysconf(_SC_PAGESIZE);
        area = mmap(NULL, GUARDED + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0);
        KILN_ASSERT(area != MAP_FAILED);
        KILN_ASSERT(mprotect(area + GUARDED, page, PROT_NONE) == 0);
    }
    if (size > GUARDED) return NULL;
    uint8_t *at = area + GUARDED - size;
    if (size) memcpy(at, data, size);
    return at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *copy = guarded_copy(data, size);
    if (copy) data = copy;
    Diag d;
    diag_init(&d);
    d.quiet = 1;
    Arena a = { 0 };
    StFile f;
    if (st_open_mem(&f, "fuzz.safetensors", data, size, &d, &a) == 0) {
        unsigned sum = 0;
        for (size_t i = 0; i < f.n_tensors; i++) {
            const StTensor *t = &f.tensors[i];
            KILN_ASSERT(t->data >= data && t->nbytes <= size &&
                        (size_t)(t->data - data) <= size - t->nbytes);
            KILN_ASSERT(t->rank >= 0 && t->rank <= IR_MAX_RANK);
            KILN_ASSERT(st_find(&f, t->name) == t);
            if (t->nbytes) sum += t->data[0] + t->data[t->nbytes - 1];
        }
        (void)sum;
        st_close(&f);
    } else {
        KILN_ASSERT(d.n_errors > 0);
    }
    arena_free(&a);
    diag_free(&d);
    return 0;
}
