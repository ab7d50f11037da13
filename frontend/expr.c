/* expr.c — `{expressions}` inside XML attribute values.
 *
 * A model description computes sizes from its parameters: shape="batch, seq, {n_head},
 * {n_embd/n_head}", name="l{i}.attn", value="{1/sqrt(head_dim)}". Each {…} is evaluated and
 * replaced by its value: a bare name gives the text of the loop variable or parameter it
 * names (so {act} may give "tanh"); anything else is arithmetic in double precision (exact
 * for integers below 2^53) over numbers, names, + - * / %, parentheses and sqrt(), printed
 * as an integer when integral and in shortest exact form otherwise. An unknown name gets
 * "did you mean" with the nearest loop variable or parameter in scope, and an error points
 * at the '{' of its expression when the value is written on one line as in the file. */
#include "frontend_impl.h"
#include "support/diag.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct E {
    const char *s;          /* cursor in the expression */
    const Scope *scope;
    const Module *m;
    char err[256];
} E;

/* Looks name up: loop variables (innermost first), then parameters. */
const char *scope_lookup(const Scope *sc, const Module *m, const char *name, size_t len)
{
    for (; sc; sc = sc->up)
        if (strlen(sc->name) == len && strncmp(sc->name, name, len) == 0) return sc->value;
    char key[128];
    if (len >= sizeof key) return NULL;
    memcpy(key, name, len);
    key[len] = 0;
    return ir_module_param(m, key);
}

/* "unknown name 'n_embed' (...); did you mean 'n_embd'?" into err. */
static void unknown_name(const Scope *sc, const Module *m, const char *name, size_t len, char *err, size_t cap)
{
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(len < sizeof key ? len : sizeof key - 1), name);
    Suggest s = suggest_start(key);
    for (; sc; sc = sc->up) suggest_try(&s, sc->name);
    for (int i = 0; m && i < m->n_params; i++) suggest_try(&s, m->params[i].name);
    if (s.best) snprintf(err, cap, "unknown name '%s'; did you mean '%s'?", key, s.best);
    else snprintf(err, cap, "unknown name '%s' (not a loop variable or parameter)", key);
}

static void skip(E *e)
{
    while (*e->s == ' ' || *e->s == '\t') e->s++;
}

static double expr(E *e);

static double primary(E *e)
{
    skip(e);
    if (e->err[0]) return 0;
    if (*e->s == '(') {
        e->s++;
        double v = expr(e);
        skip(e);
        if (*e->s != ')') snprintf(e->err, sizeof e->err, "expected ')'");
        else e->s++;
        return v;
    }
    if (isdigit((unsigned char)*e->s) || *e->s == '.') {
        char *end;
        double v = strtod(e->s, &end);
        e->s = end;
        return v;
    }
    if (isalpha((unsigned char)*e->s) || *e->s == '_') {
        const char *start = e->s;
        while (isalnum((unsigned char)*e->s) || *e->s == '_') e->s++;
        size_t len = (size_t)(e->s - start);
        skip(e);
        if (len == 4 && strncmp(start, "sqrt", 4) == 0 && *e->s == '(') {
            double v = primary(e);
            if (v < 0 && !e->err[0]) snprintf(e->err, sizeof e->err, "sqrt of a negative number");
            return sqrt(v);
        }
        const char *val = scope_lookup(e->scope, e->m, start, len);
        if (!val) {
            unknown_name(e->scope, e->m, start, len, e->err, sizeof e->err);
            return 0;
        }
        char *end;
        double v = strtod(val, &end);
        if (end == val || *end) {
            snprintf(e->err, sizeof e->err, "'%.*s' is '%s', not a number", (int)len, start, val);
            return 0;
        }
        return v;
    }
    if (*e->s) snprintf(e->err, sizeof e->err, "unexpected '%c'", *e->s);
    else snprintf(e->err, sizeof e->err, "expression ends too early");
    return 0;
}

static double unary(E *e)
{
    skip(e);
    if (*e->s == '-') {
        e->s++;
        return -unary(e);
    }
    return primary(e);
}

static double term(E *e)
{
    double v = unary(e);
    for (;;) {
        skip(e);
        char op = *e->s;
        if (op != '*' && op != '/' && op != '%') return v;
        e->s++;
        double r = unary(e);
        if (e->err[0]) return 0;
        if (op == '*') v *= r;
        else if (r == 0) {
            snprintf(e->err, sizeof e->err, "division by zero");
            return 0;
        } else if (op == '/') v /= r;
        else v = fmod(v, r);
    }
}

static double expr(E *e)
{
    double v = term(e);
    for (;;) {
        skip(e);
        char op = *e->s;
        if (op != '+' && op != '-') return v;
        e->s++;
        double r = term(e);
        v = op == '+' ? v + r : v - r;
    }
}

/* Evaluates one expression (without braces) into text. */
static int eval_one(Fe *fe, const Scope *sc, const char *src, size_t len, char *out, size_t cap, char *err, size_t errcap)
{
    char buf[512];
    if (len >= sizeof buf) {
        snprintf(err, errcap, "expression too long");
        return -1;
    }
    memcpy(buf, src, len);
    buf[len] = 0;
    /* a bare name gives its text */
    const char *p = buf;
    while (*p == ' ') p++;
    const char *q = p;
    while (isalnum((unsigned char)*q) || *q == '_') q++;
    const char *r = q;
    while (*r == ' ') r++;
    if (q > p && !isdigit((unsigned char)*p) && *r == 0) {
        const char *val = scope_lookup(sc, fe->m, p, (size_t)(q - p));
        if (!val) {
            unknown_name(sc, fe->m, p, (size_t)(q - p), err, errcap);
            return -1;
        }
        snprintf(out, cap, "%s", val);
        return 0;
    }
    E e = { buf, sc, fe->m, { 0 } };
    double v = expr(&e);
    skip(&e);
    if (!e.err[0] && *e.s) snprintf(e.err, sizeof e.err, "unexpected '%c'", *e.s);
    if (!e.err[0] && !isfinite(v)) snprintf(e.err, sizeof e.err, "the value is not finite");
    if (e.err[0]) {
        snprintf(err, errcap, "%s", e.err);
        return -1;
    }
    if (v == floor(v) && fabs(v) < 9e15) snprintf(out, cap, "%lld", (long long)v);
    else fmt_double(out, cap, v);
    return 0;
}

/* Where `{expr}` (n bytes at s) is in the file: on the line of at, from its column on;
 * at itself when the value is not written there as it reads (entities, line breaks). */
static Loc expr_loc(Fe *fe, Loc at, const char *s, size_t n)
{
    if (!fe->lines || at.line < 1 || at.line > fe->n_lines || at.file != fe->file) return at;
    const char *line = fe->lines[at.line];
    const char *end = at.line < fe->n_lines ? fe->lines[at.line + 1] : fe->text + fe->len;
    for (const char *p = line + (at.col ? at.col - 1 : 0); p + n <= end; p++)
        if (memcmp(p, s, n) == 0) return loc_make(at.file, at.line, (uint32_t)(p - line) + 1);
    return at;
}

char *fe_subst(Fe *fe, const Scope *sc, const char *text, Loc at)
{
    if (!strchr(text, '{') && !strchr(text, '}')) return arena_strdup(fe->a, text);
    size_t cap = strlen(text) * 2 + 64, n = 0;
    char *out = xmalloc(cap);
    const char *p = text;
    while (*p) {
        if (*p == '}') {
            diag_error(fe->d, at, "'}' without '{' in \"%s\"", text);
            free(out);
            return NULL;
        }
        if (*p != '{') {
            if (n + 1 >= cap) out = xrealloc(out, cap *= 2);
            out[n++] = *p++;
            continue;
        }
        const char *close = strchr(p, '}');
        if (!close) {
            diag_error(fe->d, at, "'{' without '}' in \"%s\"", text);
            free(out);
            return NULL;
        }
        char val[512], err[300];
        if (eval_one(fe, sc, p + 1, (size_t)(close - p - 1), val, sizeof val, err, sizeof err)) {
            diag_error(fe->d, expr_loc(fe, at, p, (size_t)(close - p + 1)), "in {%.*s}: %s", (int)(close - p - 1), p + 1,
                       err);
            free(out);
            return NULL;
        }
        size_t vl = strlen(val);
        while (n + vl + 1 >= cap) out = xrealloc(out, cap *= 2);
        memcpy(out + n, val, vl);
        n += vl;
        p = close + 1;
    }
    out[n] = 0;
    char *res = arena_strdup(fe->a, out);
    free(out);
    return res;
}
