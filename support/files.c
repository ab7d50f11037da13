/* files.c — reading and mapping whole files, and joining paths.
 *
 * Weight files are mapped, never read: a 500 MB model costs no copy and no time to load.
 * Every failure is a user error naming the path and the system's reason. */
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

char *file_read_all(Diag *d, const char *path, size_t *len)
{
    return file_read_max(d, path, SIZE_MAX, len);
}

char *file_read_max(Diag *d, const char *path, size_t max, size_t *len)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        diag_file_error(d, path, "is a directory, not a file");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_file_error(d, path, "cannot read: %s", strerror(errno));
        return NULL;
    }
    /* read to the end rather than trust st_size (pipes, /proc), but never much past max:
     * /dev/zero or a 40 GB file given as a model is an error, not an out-of-memory */
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (cap - n < 2) {
            if (cap >= max) {
                fclose(f);
                free(buf);
                diag_file_error(d, path, "is too large to read (more than %zu bytes)", max);
                return NULL;
            }
            buf = xrealloc(buf, cap *= 2);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        diag_file_error(d, path, "cannot read: I/O error");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int file_write_all(Diag *d, const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, n, f) == n;
    int e = errno;
    if (f && fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        diag_file_error(d, path, "cannot write: %s", strerror(e));
        return -1;
    }
    return 0;
}

int file_map(Diag *d, const char *path, MappedFile *m)
{
    m->data = NULL;
    m->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        diag_file_error(d, path, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        diag_file_error(d, path, "not a regular file");
        close(fd);
        return -1;
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            diag_file_error(d, path, "cannot map: %s", strerror(errno));
            close(fd);
            return -1;
        }
        m->data = p;
        m->size = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

void file_unmap(MappedFile *m)
{
    if (m->data) munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

char *path_dirname(Arena *a, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return arena_strdup(a, ".");
    if (slash == path) return arena_strdup(a, "/");
    return arena_strndup(a, path, (size_t)(slash - path));
}

char *path_join(Arena *a, const char *base, const char *rel)
{
    if (rel[0] == '/' || !base || !base[0] || strcmp(base, ".") == 0) return arena_strdup(a, rel);
    size_t n = strlen(base);
    return arena_printf(a, "%s%s%s", base, base[n - 1] == '/' ? "" : "/", rel);
}

/* The absolute, lexically normalized form of path ("." and ".." folded, no symlinks
 * resolved, so files that do not exist yet work too) into out[PATH_MAX]. */
static int absolute(const char *path, char *out)
{
    char buf[2 * PATH_MAX];
    if (path[0] == '/') snprintf(buf, sizeof buf, "%s", path);
    else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) return 0;
        snprintf(buf, sizeof buf, "%s/%s", cwd, path);
    }
    size_t n = 0;           /* out holds "/a/b" without a trailing slash ("" = root) */
    for (char *p = buf; *p;) {
        while (*p == '/') p++;
        char *s = p;
        while (*p && *p != '/') p++;
        size_t len = (size_t)(p - s);
        if (len == 0 || (len == 1 && s[0] == '.')) continue;
        if (len == 2 && s[0] == '.' && s[1] == '.') {
            while (n > 0 && out[n - 1] != '/') n--;
            if (n > 0) n--;
            continue;
        }
        if (n + 1 + len + 1 > PATH_MAX) return 0;
        out[n++] = '/';
        memcpy(out + n, s, len);
        n += len;
    }
    out[n] = 0;
    return 1;
}

char *path_relative(Arena *a, const char *from_dir, const char *target)
{
    char from[PATH_MAX], to[PATH_MAX];
    if (!absolute(from_dir, from) || !absolute(target, to)) return arena_strdup(a, target);
    /* Length of the common prefix, ending on a whole component of both paths. */
    size_t common = 0;
    for (size_t i = 0;; i++) {
        int end_from = from[i] == 0 || from[i] == '/';
        int end_to = to[i] == 0 || to[i] == '/';
        if (end_from && end_to) common = i;
        if (!from[i] || !to[i] || from[i] != to[i]) break;
    }
    size_t ups = 0;
    for (const char *p = from + common; *p; p++) ups += *p == '/';
    const char *rest = to + common + (to[common] == '/');
    char *out = arena_alloc(a, ups * 3 + strlen(rest) + 2);
    char *o = out;
    for (size_t k = 0; k < ups; k++, o += 3) memcpy(o, "../", 3);
    strcpy(o, rest);
    if (!out[0]) strcpy(out, ".");
    else if (o > out && !*rest) o[-1] = 0;      /* "../.." rather than "../../" */
    return out;
}
