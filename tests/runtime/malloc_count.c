/* malloc_count.c — an LD_PRELOAD shim that counts malloc, calloc, realloc, posix_memalign,
 * aligned_alloc and memalign calls and, at exit, writes the count to the file named by the
 * environment variable KILN_MALLOC_COUNT_FILE. The runtime test runs an executable with
 * -n 1 and -n 50: equal counts mean the decode loop allocates nothing.
 *
 * The calls are forwarded to glibc's __libc_* entry points rather than found with dlsym,
 * which may itself allocate (and would recurse). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);

static unsigned long count;

void *malloc(size_t n)
{
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return __libc_realloc(p, n);
}

void *memalign(size_t align, size_t n)
{
    __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1))) return 22;   /* EINVAL */
    void *p = memalign(align, n);
    if (!p) return 12;      /* ENOMEM */
    *out = p;
    return 0;
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("KILN_MALLOC_COUNT_FILE");
    if (!path) return;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lu\n", count);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return;
    if (write(fd, buf, (size_t)n) != n) {
        close(fd);
        return;
    }
    close(fd);
}
