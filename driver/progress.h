/* progress.h — `kiln compile`'s progress line on a terminal (progress.c). */
#ifndef KILN_PROGRESS_H
#define KILN_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct Progress {
    FILE *out;              /* NULL: draw nothing */
    double start;           /* clock_seconds() at progress_init */
    double drawn_at;        /* when the line was last drawn */
    const char *phase;
    size_t width;           /* characters of the line on screen, to overwrite */
    FILE *held;             /* diagnostics written while the line is up (progress_hold) */
    char *held_text;
    size_t held_len;
} Progress;

/* Draws on out only when on is set and out is a terminal. */
void progress_init(Progress *p, FILE *out, int on);
/* While the line is drawn, what is written to *stream (the Diag's output) is held and
 * printed on a line of its own at the next redraw or at the end. */
void progress_hold(Progress *p, FILE **stream);
/* A phase without a measure of its work ("read", "passes"). */
void progress_phase(Progress *p, const char *phase);
/* BackendOptions.progress: ctx is the Progress; done of total units (kernels: nodes,
 * weights: bytes; total 0: not known). Redrawn at most every 50 ms and at a phase's ends. */
void progress_update(void *ctx, const char *phase, uint64_t done, uint64_t total);
/* Erases the line and prints what was held; the terminal is as before. */
void progress_end(Progress *p);
/* progress_end, then the held stream closed (the Diag must not write to it after). */
void progress_free(Progress *p);

#endif
