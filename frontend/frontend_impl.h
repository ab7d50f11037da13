/* frontend_impl.h — shared by the frontend's own files only. */
#ifndef KILN_FRONTEND_IMPL_H
#define KILN_FRONTEND_IMPL_H

#include "frontend/frontend.h"

#include <libxml/tree.h>

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



/* xml.c: where an element or one of its attributes is in the file. */
Loc fe_elem_loc(Fe *fe, xmlNode *x);
Loc fe_attr_loc(Fe *fe, xmlNode *x, const char *name);

/* xml_attr.c: attribute values. fe_get substitutes {expressions} (NULL if absent or bad);
 * fe_get_name also checks the result is a name; the parsers report at `at`. */
const char *fe_raw_attr(xmlNode *x, const char *name);
const char *fe_get(Fe *fe, const Scope *sc, xmlNode *x, const char *name);
const char *fe_get_name(Fe *fe, const Scope *sc, xmlNode *x, const char *attr);
int fe_valid_name(const char *s);
int fe_parse_int(Fe *fe, const char *s, int64_t lo, int64_t hi, int64_t *out, Loc at, const char *what);
int fe_parse_float(Fe *fe, const char *s, double *out, Loc at, const char *what);
int fe_parse_dtype(Fe *fe, const char *s, DType *dt, Loc at);
int fe_set_attr(Fe *fe, Node *n, AttrKind k, const char *v, Loc at);   /* IR attribute k of n */
int fe_repeat_count(Fe *fe, const Scope *sc, xmlNode *x, int64_t *count);

/* xml_graph.c: one <graph> element into a new graph of fe->m. */
void fe_read_graph(Fe *fe, xmlNode *x);

#endif
