/* frontend_impl.h — shared by the frontend's own files only. */
#ifndef KILN_FRONTEND_IMPL_H
#define KILN_FRONTEND_IMPL_H

#include "frontend/frontend.h"

/* A loop variable of <repeat> (or, for carries, a name standing for another name). */
typedef struct Scope {
    const char *name;
    const char *value;
    const struct Scope *up;
} Scope;

/* State of one model being read. */
typedef struct Fe {
    Arena *a;
    Diag *d;
    Module *m;
    const char *path;       /* the file being read, as the user named it */
    uint32_t file;          /* its index in the Diag */
    const char *text;       /* its bytes, for columns */
    size_t len;
    const char **lines;     /* start of each line (1-based) */
    uint32_t n_lines;
} Fe;

const char *scope_lookup(const Scope *sc, const Module *m, const char *name, size_t len);
/* Replaces every {expression} in text; NULL (after an error at `at`) on failure. */
char *fe_subst(Fe *fe, const Scope *sc, const char *text, Loc at);

/* Parses "batch, seq, {n}"-style dim lists (already substituted) against the module's
 * symbols. Returns 0, or reports at `at` and returns -1. */
int fe_parse_dims(Fe *fe, const char *text, Shape *out, Loc at, const char *what);
int fe_parse_dim(Fe *fe, const char *text, Dim *out, Loc at, const char *what);



#endif
