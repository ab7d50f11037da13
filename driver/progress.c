/* progress.c — one status line on standard error while `kiln compile` works.
 *
 * The line names the phase (read, passes, weights, kernels, optimize, codegen, link) with
 * the seconds since the start; phases that count their work (kernels: nodes lowered of
 * nodes to lower; weights: bytes written) add a bar and the count. It is redrawn in place:
 * a carriage return, the new text, spaces over what is left of the old one, and a carriage
 * return again, so that what the linker prints (it writes to the terminal itself) starts
 * at the line's start and covers it; the link phase's line is short for that. Redraws are
 * limited to one per 50 ms, except at a phase's start and end, so a thousand-node model does
 * not spend its time writing to the terminal. Nothing is drawn when standard error is not a
 * terminal (a pipe, a file, a test) or the caller turned it off (-q, -v), and progress_end
 * erases the line so the terminal shows only what kiln printed for good. Diagnostics
 * printed meanwhile would land in the middle of the line, so they go to a memory stream
 * (progress_hold) and are written out, the line erased first, at the next redraw. */
#include "driver/progress.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/support.h"

enum { BAR = 24 };          /* characters of the bar */

void progress_init(Progress *p, FILE *out, int on)
{
    memset(p, 0, sizeof *p);
    p->out = on && out && isatty(fileno(out)) ? out : NULL;
    p->start = clock_seconds();
}

void progress_hold(Progress *p, FILE **stream)
{
    if (!p->out) return;
    p->held = open_memstream(&p->held_text, &p->held_len);
    if (p->held) *stream = p->held;
}

static void erase(Progress *p)
{
    if (!p->width) return;
    fputc('\r', p->out);
    for (size_t i = 0; i < p->width; i++) fputc(' ', p->out);
    fputc('\r', p->out);
    p->width = 0;
}

/* Writes out the held diagnostics, if any, with the line erased. */
static void release(Progress *p)
{
    if (!p->held || fflush(p->held) != 0 || !p->held_len) return;
    erase(p);
    fwrite(p->held_text, 1, p->held_len, p->out);
    rewind(p->held);        /* the stream starts over: held_len is 0 at the next flush */
    fflush(p->held);
}

static void draw(Progress *p, const char *text)
{
    release(p);
    size_t n = strlen(text);
    fprintf(p->out, "\r%s", text);
    for (size_t i = n; i < p->width; i++) fputc(' ', p->out);
    fputc('\r', p->out);       /* the cursor waits at the start: what a child prints overwrites */
    fflush(p->out);
    p->width = n;
    p->drawn_at = clock_seconds();
}

/* 1536 → "1.5 KiB" */
static void human_bytes(uint64_t b, char *buf, size_t cap)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void progress_update(void *ctx, const char *phase, uint64_t done, uint64_t total)
{
    Progress *p = ctx;
    if (!p->out) return;
    int new_phase = !p->phase || strcmp(p->phase, phase) != 0;
    double now = clock_seconds();
    if (!new_phase && done != total && now - p->drawn_at < 0.05) return;
    p->phase = phase;
    char line[160];
    int w = snprintf(line, sizeof line, "kiln: %-8s %5.1f s", phase, now - p->start);
    if (total > 1 && w > 0 && (size_t)w < sizeof line) {
        char bar[BAR + 1];
        int fill = done >= total ? BAR : (int)((double)done / (double)total * BAR);
        for (int i = 0; i < BAR; i++) bar[i] = i < fill ? '#' : '.';
        bar[BAR] = 0;
        if (!strcmp(phase, "weights")) {
            char d[32], t[32];
            human_bytes(done, d, sizeof d);
            human_bytes(total, t, sizeof t);
            snprintf(line + w, sizeof line - (size_t)w, "  [%s] %s / %s", bar, d, t);
        } else {
            snprintf(line + w, sizeof line - (size_t)w, "  [%s] %llu/%llu", bar, (unsigned long long)done,
                     (unsigned long long)total);
        }
    }
    draw(p, line);
}

void progress_phase(Progress *p, const char *phase)
{
    progress_update(p, phase, 0, 0);
}

void progress_end(Progress *p)
{
    if (!p->out) return;
    erase(p);
    release(p);
    fflush(p->out);
}

void progress_free(Progress *p)
{
    progress_end(p);
    if (p->held) fclose(p->held);
    free(p->held_text);
    p->held = NULL;
    p->held_text = NULL;
}
