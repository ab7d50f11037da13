/* report.c — the fusion report: what each fusion pass matched and why the rest did not.
 *
 * A fusion pass calls fusion_ran once, then fusion_site for every candidate it looked at
 * (every softmax for attention, every norm for add+norm, ...), fused or not. Sites copy
 * the candidate's name and location, so later passes may delete the node. Printing
 * groups by fusion, in the order the passes ran:
 *
 *     attention: 12/12
 *     add+layernorm: 23/25
 *       h0.ln_1 (model.xml:54:7): its input is not an add
 */
#include "passes/passes.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void fusion_ran(PassCtx *c, const char *fusion)
{
    FusionReport *r = c->report;
    if (!r) return;
    for (int i = 0; i < r->n_ran; i++)
        if (!strcmp(r->ran[i], fusion)) return;
    KILN_ASSERT(r->n_ran < (int)(sizeof r->ran / sizeof r->ran[0]));
    r->ran[r->n_ran++] = fusion;
}

void fusion_site(PassCtx *c, const char *fusion, const Node *n, const char *why_not, ...)
{
    FusionReport *r = c->report;
    if (!r) return;
    fusion_ran(c, fusion);
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 32;
        r->sites = xrealloc(r->sites, (size_t)r->cap * sizeof *r->sites);
    }
    FusionSite *s = &r->sites[r->n++];
    s->fusion = fusion;
    s->node = arena_strdup(c->m->arena, n->name);
    s->loc = n->loc;
    s->why_not = NULL;
    if (why_not) {
        char buf[512];
        va_list ap;
        va_start(ap, why_not);
        vsnprintf(buf, sizeof buf, why_not, ap);
        va_end(ap);
        s->why_not = arena_strdup(c->m->arena, buf);
    }
}

void fusion_report_print(const Module *m, const FusionReport *r, FILE *out)
{
    if (r->n_ran == 0) fprintf(out, "no fusion pass ran\n");
    for (int f = 0; f < r->n_ran; f++) {
        int fused = 0, all = 0;
        for (int i = 0; i < r->n; i++)
            if (!strcmp(r->sites[i].fusion, r->ran[f])) all++, fused += !r->sites[i].why_not;
        fprintf(out, "%s: %d/%d\n", r->ran[f], fused, all);
        for (int i = 0; i < r->n; i++) {
            const FusionSite *s = &r->sites[i];
            if (strcmp(s->fusion, r->ran[f]) || !s->why_not) continue;
            fprintf(out, "  %s", s->node);
            if (s->loc.file && m->files && s->loc.file < m->files->n_files)
                fprintf(out, " (%s:%u:%u)", m->files->files[s->loc.file], s->loc.line, s->loc.col);
            fprintf(out, ": %s\n", s->why_not);
        }
    }
}

void fusion_report_free(FusionReport *r)
{
    free(r->sites);
    memset(r, 0, sizeof *r);
}
