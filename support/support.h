/* support.h — what every compiler layer shares: arenas, diagnostics, files and paths.
 *
 * Two channels for trouble (DESIGN.md, principle 6). A user error goes through a Diag:
 * it is printed as `file:line:col: error: message`, counted, and the caller returns a
 * failure status. A broken invariant inside kiln goes through KILN_ASSERT / kiln_internal,
 * which print kiln's own source file and line and abort. Bad input must never reach an
 * assertion.
 *
 * Memory of one compilation lives in one Arena and is freed at once; nothing in the IR is
 * freed piecemeal. The runtime does not use this layer. */
#ifndef KILN_SUPPORT_H
#define KILN_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- internal errors ---------------------------------------------------- */

_Noreturn void kiln_internal(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define KILN_ASSERT(c) \
    ((c) ? (void)0 : kiln_internal(__FILE__, __LINE__, "assertion failed: %s", #c))
#define KILN_UNREACHABLE() kiln_internal(__FILE__, __LINE__, "unreachable")

/* ---- arena --------------------------------------------------------------- */

typedef struct ArenaBlock ArenaBlock;
typedef struct Arena {
    ArenaBlock *head;
    size_t used;    /* bytes handed out, for statistics */
} Arena;

void *arena_alloc(Arena *a, size_t size);               /* zeroed, 16-byte aligned */
void *arena_array(Arena *a, size_t n, size_t elem);     /* overflow-checked n*elem */
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void arena_free(Arena *a);

/* A growable array that lives on the heap until it is frozen into an arena. */
#define VEC_PUSH(arr, n, cap, item) do {                                          \
        if ((n) == (cap)) {                                                       \
            (cap) = (cap) ? 2 * (cap) : 8;                                        \
            (arr) = xrealloc((arr), (size_t)(cap) * sizeof *(arr));               \
        }                                                                         \
        (arr)[(n)++] = (item);                                                    \
    } while (0)

/* Name → int (>= 0), in an arena; keys are not copied. namemap_get gives -1 if absent;
 * namemap_put replaces the value of a key already present. */
typedef struct NameMap {
    const char **keys;
    int *vals;
    uint32_t cap, n;
} NameMap;
int namemap_get(const NameMap *m, const char *key);
void namemap_put(Arena *a, NameMap *m, const char *key, int val);

/* The heap, checked: on failure `kiln: error: out of memory` and exit status 1 (arena.c;
 * KILN_FAIL_ALLOC=N fails the Nth call, for tests). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t elem);
void *xrealloc(void *p, size_t n);
_Noreturn void kiln_out_of_memory(size_t n);

/* ---- source locations and diagnostics ------------------------------------ */

/* A place in a user's file. file indexes Diag.files (0 = no file); line and col count
 * from 1 (0 = unknown). A fused node takes the location of the node whose value it gives. */
typedef struct Loc {
    uint32_t file;
    uint32_t line;
    uint32_t col;
} Loc;

typedef struct Diag {
    const char **files;     /* files[0] unused; names as the user gave them */
    uint32_t n_files, cap_files;
    int n_errors;
    int n_warnings;
    int max_errors;         /* stop printing after this many (0 = 20) */
    FILE *out;              /* stderr unless a test redirects it */
    int quiet;              /* count but do not print (fuzzers) */
} Diag;

void diag_init(Diag *d);
void diag_free(Diag *d);
uint32_t diag_file(Diag *d, const char *name);   /* registers a file name, returns its index */
Loc loc_make(uint32_t file, uint32_t line, uint32_t col);

void diag_error(Diag *d, Loc at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_warning(Diag *d, Loc at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_note(Diag *d, Loc at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_verror(Diag *d, Loc at, const char *fmt, va_list ap);
/* An error about a whole file (no line): `path: error: ...`. */
void diag_file_error(Diag *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- files and paths ----------------------------------------------------- */

/* Reads a whole file into a NUL-terminated heap buffer. On failure reports
 * `path: error: cannot read: <reason>` and returns NULL. file_read_max stops, with
 * `path: error: is too large to read`, once the file is found to hold max - 1 bytes or
 * more: the frontend reads what users give it (models, configurations, tokenizer files)
 * with FILE_READ_MAX, so /dev/zero is an error, not an out-of-memory; weights are mapped. */
#define FILE_READ_MAX ((size_t)1 << 30)
char *file_read_max(Diag *d, const char *path, size_t max, size_t *len);
char *file_read_all(Diag *d, const char *path, size_t *len);     /* no limit */

/* Writes n bytes to path (created or truncated). On failure reports
 * `path: error: cannot write: <reason>` and returns -1. */
int file_write_all(Diag *d, const char *path, const void *data, size_t n);

/* A read-only mapping of a whole file. An empty file maps to data == NULL, size 0. */
typedef struct MappedFile {
    const uint8_t *data;
    size_t size;
} MappedFile;
int file_map(Diag *d, const char *path, MappedFile *m);   /* 0 on success */
void file_unmap(MappedFile *m);

/* Directory part of a path ("." when there is none), in the arena. */
char *path_dirname(Arena *a, const char *path);
/* base joined to rel, unless rel is absolute. */
char *path_join(Arena *a, const char *base, const char *rel);
/* target written relative to directory from_dir, both taken lexically (".." folds the
 * previous component; symlinks are not resolved), so neither needs to exist. */
char *path_relative(Arena *a, const char *from_dir, const char *target);
/* The folder holding the runtime archives libkiln_rt-<arch>.a that kiln compile links
 * (paths.c): $KILN_RUNTIME_DIR if set, else ../lib/kiln beside the running executable when
 * that folder exists (an installed kiln), else the build tree's. Returns that folder (buf,
 * of cap bytes, may hold it); *why (if not NULL) gets the rule, e.g. "installed beside kiln". */
const char *runtime_dir_find(char *buf, size_t cap, const char **why);

/* ---- time -------------------------------------------------------------------------- */

double clock_seconds(void);     /* monotonic, for timings */

/* ---- small text helpers ---------------------------------------------------- */

/* The shortest decimal that reads back as exactly the same double. */
void fmt_double(char *buf, size_t cap, double v);
/* Edit distance, for "did you mean" suggestions (bounded, cheap). */
int text_distance(const char *a, const char *b);

#endif
