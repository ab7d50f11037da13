/* diag.c — the user-error channel: `file:line:col: error: message`.
 *
 * A Diag owns a table of file names so that a Loc is three integers and can be copied into
 * every IR node. Errors are counted; after max_errors the rest are counted but not printed,
 * so one broken layer repeated 48 times does not bury the first message. */
#include "support.h"

#include <stdlib.h>
#include <string.h>

void diag_init(Diag *d)
{
    memset(d, 0, sizeof *d);
    d->out = stderr;
    d->max_errors = 20;
    const char *none = "";
    VEC_PUSH(d->files, d->n_files, d->cap_files, none);
}

void diag_free(Diag *d)
{
    for (uint32_t i = 1; i < d->n_files; i++) free((char *)d->files[i]);
    free(d->files);
    d->files = NULL;
    d->n_files = d->cap_files = 0;
}

uint32_t diag_file(Diag *d, const char *name)
{
    for (uint32_t i = 1; i < d->n_files; i++)
        if (strcmp(d->files[i], name) == 0) return i;
    size_t n = strlen(name);
    char *copy = xmalloc(n + 1);
    memcpy(copy, name, n + 1);
    const char *c = copy;
    VEC_PUSH(d->files, d->n_files, d->cap_files, c);
    return d->n_files - 1;
}

Loc loc_make(uint32_t file, uint32_t line, uint32_t col)
{
    Loc l = { file, line, col };
    return l;
}

static void print_loc(Diag *d, Loc at)
{
    if (at.file && at.file < d->n_files) {
        fputs(d->files[at.file], d->out);
        if (at.line) {
            fprintf(d->out, ":%u", at.line);
            if (at.col) fprintf(d->out, ":%u", at.col);
        }
        fputs(": ", d->out);
    } else {
        fputs("kiln: ", d->out);
    }
}

static void report(Diag *d, Loc at, const char *kind, const char *fmt, va_list ap)
{
    int limit = d->max_errors ? d->max_errors : 20;
    if (d->quiet || d->n_errors > limit) return;
    if (d->n_errors == limit && kind[0] == 'e') {
        fprintf(d->out, "kiln: too many errors, stopping here\n");
        return;
    }
    print_loc(d, at);
    fprintf(d->out, "%s: ", kind);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
}

void diag_verror(Diag *d, Loc at, const char *fmt, va_list ap)
{
    report(d, at, "error", fmt, ap);
    d->n_errors++;
}

void diag_error(Diag *d, Loc at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(d, at, fmt, ap);
    va_end(ap);
}

void diag_warning(Diag *d, Loc at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(d, at, "warning", fmt, ap);
    va_end(ap);
    d->n_warnings++;
}

void diag_note(Diag *d, Loc at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(d, at, "note", fmt, ap);
    va_end(ap);
}

void diag_file_error(Diag *d, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_verror(d, loc_make(diag_file(d, path), 0, 0), fmt, ap);
    va_end(ap);
}
