/* diag.h — what diagnostics offer beyond support.h's core (Diag, diag_error and friends):
 * colour, the error cap, and "did you mean" suggestions.
 *
 * Messages look like a C compiler's (docs/diagnostics.md): the first line is
 * `file:line:col: error: message`; when the location has a line that can still be read,
 * the line is quoted under it with a caret under the column. Colour is process-wide: the
 * driver sets it once from --color, and `auto` colours only a terminal without NO_COLOR. */
#ifndef KILN_DIAG_H
#define KILN_DIAG_H

#include "support/support.h"

typedef enum DiagColor { DIAG_COLOR_AUTO, DIAG_COLOR_ALWAYS, DIAG_COLOR_NEVER } DiagColor;

/* "auto", "always" or "never"; -1 for anything else. */
int diag_color_from_name(const char *name);
void diag_set_color(DiagColor mode);

/* Nonzero once an error past the cap was counted (and "too many errors" printed instead):
 * nothing more will be printed, so a reader of many items may stop looking for mistakes. */
int diag_too_many(const Diag *d);

/* The closest of several candidate names to a misspelled one, for "did you mean":
 *
 *     Suggest s = suggest_start(name);
 *     for (...) suggest_try(&s, candidate);
 *     if (s.best) ... "did you mean '%s'?", s.best
 *
 * A candidate counts only when it is near enough to be a typo (edit distance at most a
 * third of the longer name, rounded up, and lengths not too different), so a short
 * unknown name gets no far-fetched suggestion. Ties keep the first candidate. */
typedef struct Suggest {
    const char *name;
    const char *best;       /* NULL until a candidate is near enough */
    int dist;
} Suggest;
Suggest suggest_start(const char *name);
void suggest_try(Suggest *s, const char *candidate);

#endif
