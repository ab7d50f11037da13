/* xml_attr.c — attribute values of a model description: names, numbers, dtypes, dims and
 * IR attributes, each checked and reported at the attribute's own line and column.
 *
 * Every value first goes through fe_subst ({expressions}, expr.c); then it is parsed for
 * what the attribute holds. Dims are sums of declared symbols and constants (past+seq). */
#include "frontend_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- attributes --------------------------------------------------------------------- */

const char *fe_raw_attr(xmlNode *x, const char *name)
{
    for (xmlAttr *a = x->properties; a; a = a->next)
        if (strcmp((const char *)a->name, name) == 0 && a->children)
            return (const char *)a->children->content;
    return NULL;
}

/* The attribute's value with {expressions} substituted; NULL if absent or bad. */
const char *fe_get(Fe *fe, const Scope *sc, xmlNode *x, const char *name)
{
    const char *v = fe_raw_attr(x, name);
    return v ? fe_subst(fe, sc, v, fe_attr_loc(fe, x, name)) : NULL;
}

int fe_valid_name(const char *s)
{
    if (!*s || *s == '.') return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.') return 0;
    return 1;
}

/* A name attribute, substituted and checked. */
const char *fe_get_name(Fe *fe, const Scope *sc, xmlNode *x, const char *attr)
{
    const char *v = fe_get(fe, sc, x, attr);
    if (v && !fe_valid_name(v)) {
        diag_error(fe->d, fe_attr_loc(fe, x, attr), "%s \"%s\" is not a valid name (letters, digits, '_' and '.')", attr, v);
        return NULL;
    }
    return v;
}

int fe_parse_int(Fe *fe, const char *s, int64_t lo, int64_t hi, int64_t *out, Loc at, const char *what)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    while (*end == ' ') end++;
    if (end == s || *end || errno) {
        diag_error(fe->d, at, "%s must be an integer, not \"%s\"", what, s);
        return -1;
    }
    if (v < lo || v > hi) {
        diag_error(fe->d, at, "%s %lld is out of range (%lld to %lld)", what, v, (long long)lo, (long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

int fe_parse_float(Fe *fe, const char *s, double *out, Loc at, const char *what)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (*end == ' ') end++;
    if (end == s || *end || errno == ERANGE || v != v) {
        diag_error(fe->d, at, "%s must be a number, not \"%s\"", what, s);
        return -1;
    }
    *out = v;
    return 0;
}

int fe_parse_dim(Fe *fe, const char *text, Dim *out, Loc at, const char *what)
{
    Dim d = dim_const(0);
    const char *p = text;
    int sign = 1, terms = 0;
    for (;;) {
        while (*p == ' ') p++;
        if (isdigit((unsigned char)*p)) {
            char *end;
            errno = 0;
            long long v = strtoll(p, &end, 10);
            if (errno || v > IR_MAX_EXTENT) {
                diag_error(fe->d, at, "%s: dimension %s is absurdly large (limit 2^40)", what, text);
                return -1;
            }
            d.k += sign * v;
            p = end;
        } else if ((isalpha((unsigned char)*p) || *p == '_') && sign > 0) {
            const char *s = p;
            while (isalnum((unsigned char)*p) || *p == '_') p++;
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(p - s), s);
            int sym = ir_module_sym(fe->m, name);
            if (!sym) {
                diag_error(fe->d, at, "%s: unknown dimension '%s' (declare it with <dim name=\"%s\" max=\"...\"/>)", what, name, name);
                return -1;
            }
            if (!dim_add(d, dim_sym(sym), &d)) {
                diag_error(fe->d, at, "%s: a dimension may add at most %d symbols", what, IR_DIM_TERMS);
                return -1;
            }
        } else {
            diag_error(fe->d, at, "%s: \"%s\" is not a dimension (a number, a dim name, or a sum like past+seq)", what, text);
            return -1;
        }
        terms++;
        while (*p == ' ') p++;
        if (*p == '+') sign = 1;
        else if (*p == '-') sign = -1;
        else break;
        p++;
    }
    if (*p || !terms) {
        diag_error(fe->d, at, "%s: \"%s\" is not a dimension", what, text);
        return -1;
    }
    *out = d;
    return 0;
}

int fe_parse_dims(Fe *fe, const char *text, Shape *out, Loc at, const char *what)
{
    out->rank = 0;
    const char *p = text;
    while (*p == ' ') p++;
    if (*p == '[') p++;
    char item[128];
    for (;;) {
        const char *comma = p;
        while (*comma && *comma != ',' && *comma != ']') comma++;
        size_t n = (size_t)(comma - p);
        while (n && p[n - 1] == ' ') n--;
        while (n && *p == ' ') p++, n--;
        if (n == 0 && out->rank == 0 && (*comma == 0 || *comma == ']')) break;   /* scalar: "" */
        if (n == 0 || n >= sizeof item) {
            diag_error(fe->d, at, "%s: bad shape \"%s\"", what, text);
            return -1;
        }
        if (out->rank == IR_MAX_RANK) {
            diag_error(fe->d, at, "%s: more than %d dimensions", what, IR_MAX_RANK);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = 0;
        if (fe_parse_dim(fe, item, &out->d[out->rank++], at, what)) return -1;
        if (*comma != ',') break;
        p = comma + 1;
    }
    return 0;
}

int fe_parse_dtype(Fe *fe, const char *s, DType *dt, Loc at)
{
    int t = dtype_from_name(s);
    if (t < 0) {
        diag_error(fe->d, at, "unknown dtype '%s' (expected f32, f16, bf16 or i32)", s);
        return -1;
    }
    *dt = (DType)t;
    return 0;
}

/* Sets IR attribute k of n from text. */
int fe_set_attr(Fe *fe, Node *n, AttrKind k, const char *v, Loc at)
{
    Attr *a = ir_node_set_attr(fe->m, n, k);
    const char *what = attr_info[k].name;
    switch (attr_info[k].type) {
    case AT_INT:
        return fe_parse_int(fe, v, -IR_MAX_EXTENT, IR_MAX_EXTENT, &a->v.i, at, what);
    case AT_FLOAT:
        return fe_parse_float(fe, v, &a->v.f, at, what);
    case AT_STR:
        a->v.s = arena_strdup(fe->a, v);
        return 0;
    case AT_INTS: {
        const char *p = v;
        a->n = 0;
        while (*p == ' ' || *p == '[') p++;
        while (*p && *p != ']') {
            if (a->n == IR_MAX_RANK) {
                diag_error(fe->d, at, "%s: more than %d values", what, IR_MAX_RANK);
                return -1;
            }
            char *end;
            errno = 0;
            long long x = strtoll(p, &end, 10);
            if (end == p || errno) {
                diag_error(fe->d, at, "%s must be a list of integers, not \"%s\"", what, v);
                return -1;
            }
            a->v.ints[a->n++] = x;
            p = end;
            while (*p == ' ') p++;
            if (*p == ',') p++;
            while (*p == ' ') p++;
        }
        return 0;
    }
    case AT_DIM:
        return fe_parse_dim(fe, v, &a->v.dim, at, what);
    case AT_DIMS: {
        Shape s;
        if (fe_parse_dims(fe, v, &s, at, what)) return -1;
        a->n = s.rank;
        for (int i = 0; i < s.rank; i++) a->v.dims[i] = s.d[i];
        return 0;
    }
    }
    KILN_UNREACHABLE();
}
