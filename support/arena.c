/* arena.c — bump allocation for one compilation, and the checked heap wrappers.
 *
 * Blocks are chained; a request larger than the default block gets a block of its own.
 * Every allocation is zeroed and 16-byte aligned, so arena memory can hold any scalar or
 * SSE vector. Sizes are overflow-checked: a model that declares absurd sizes must get a
 * user error before it gets here, and a request that still overflows is a kiln bug.
 *
 * Running out of memory is neither channel: the input may be fine and kiln is not wrong, so
 * it is a plain `kiln: error: out of memory` and exit status 1, from here (the one exit
 * outside the driver: no caller could go on without the memory). To test that path, the
 * environment variable KILN_FAIL_ALLOC=N makes the Nth allocation of the process through
 * xmalloc/xcalloc/xrealloc fail (arena blocks come from xmalloc, so they count too);
 * tests/limits/fail_alloc.py fails each one in turn. docs/debugging.md describes it. */
#include "support.h"

#include <stdlib.h>
#include <string.h>

struct ArenaBlock {
    ArenaBlock *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

enum { ARENA_BLOCK = 64 * 1024 };

_Noreturn void kiln_internal(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kiln: internal error at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(this is a bug in kiln, not in your model)\n", stderr);
    abort();
}

_Noreturn void kiln_out_of_memory(size_t n)
{
    fflush(stdout);
    fprintf(stderr, "kiln: error: out of memory (could not allocate %zu bytes)\n", n);
    exit(1);
}

/* 1 when this allocation is the one KILN_FAIL_ALLOC names. Read once; unset costs a test. */
static int injected_failure(void)
{
    static long long countdown = -1;    /* -1: not read yet; 0: no injection */
    if (countdown < 0) {
        const char *v = getenv("KILN_FAIL_ALLOC");
        countdown = v ? strtoll(v, NULL, 10) : 0;
        if (countdown < 0) countdown = 0;
    }
    return countdown > 0 && --countdown == 0;
}

void *xmalloc(size_t n)
{
    void *p = injected_failure() ? NULL : malloc(n ? n : 1);
    if (!p) kiln_out_of_memory(n);
    return p;
}

void *xcalloc(size_t n, size_t elem)
{
    if (elem && n > SIZE_MAX / elem) kiln_out_of_memory(SIZE_MAX);
    void *p = injected_failure() ? NULL : calloc(n ? n : 1, elem ? elem : 1);
    if (!p) kiln_out_of_memory(n * elem);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = injected_failure() ? NULL : realloc(p, n ? n : 1);
    if (!q) kiln_out_of_memory(n);
    return q;
}

void *arena_alloc(Arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    ArenaBlock *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = xmalloc(sizeof *b + cap);
        b->size = cap;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    a->used += size;
    memset(p, 0, size);
    return p;
}

void *arena_array(Arena *a, size_t n, size_t elem)
{
    if (elem && n > (SIZE_MAX / 2) / elem)
        kiln_internal(__FILE__, __LINE__, "arena array overflow (%zu x %zu)", n, elem);
    return arena_alloc(a, n * elem);
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *arena_strdup(Arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(Arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    char probe[1];
    int n = vsnprintf(probe, sizeof probe, fmt, ap);
    va_end(ap);
    KILN_ASSERT(n >= 0);
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void arena_free(Arena *a)
{
    ArenaBlock *b = a->head;
    while (b) {
        ArenaBlock *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used = 0;
}
