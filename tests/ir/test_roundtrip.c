/* test_roundtrip.c MODEL... — print → parse → print is byte-identical for every model given.
 *
 * Each model is read without its weights (the text form does not depend on them), checked,
 * printed into a scratch .kir beside a copy of nothing — paths are written relative to the
 * model's own directory, so the .kir is printed "as if" it sat there — parsed back, and
 * printed again. The two texts must be equal byte for byte, and the second parse must also
 * verify. A model that is absent (the GPT-2 weights are not in the repository, but its XML
 * is) is an error: the list names files that exist. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"

static char *print_to_string(const Module *m, const char *dir, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    ir_print(m, f, dir);
    fclose(f);
    return buf;
}

static int roundtrip(const char *path)
{
    Arena a = { 0 };
    Diag d;
    diag_init(&d);
    int ok = 0;
    Module *m = fe_load(&a, &d, path, FE_NO_WEIGHTS);
    if (!m) {
        printf("FAIL %s: does not load\n", path);
        goto out;
    }
    const char *dir = path_dirname(&a, path);
    size_t n1, n2;
    char *t1 = print_to_string(m, dir, &n1);
    /* the .kir is parsed as if it were DIR/roundtrip.kir */
    Module *m2 = ir_parse(&a, &d, path_join(&a, dir, "roundtrip.kir"), t1, n1);
    if (!m2) {
        printf("FAIL %s: the printed IR does not parse back\n", path);
        free(t1);
        goto out;
    }
    char *t2 = print_to_string(m2, dir, &n2);
    if (n1 != n2 || memcmp(t1, t2, n1) != 0) {
        size_t i = 0, line = 1;
        while (i < n1 && i < n2 && t1[i] == t2[i]) line += t1[i++] == '\n';
        printf("FAIL %s: second print differs at line %zu\n", path, line);
    } else {
        int nodes = 0;
        for (int g = 0; g < m2->n_graphs; g++) nodes += m2->graphs[g]->n_nodes;
        printf("PASS %s: %zu bytes, %d graphs, %d nodes\n", path, n1, m2->n_graphs, nodes);
        ok = 1;
    }
    free(t1);
    free(t2);
out:
    arena_free(&a);
    diag_free(&d);
    return ok;
}

int main(int argc, char **argv)
{
    int failed = 0;
    for (int i = 1; i < argc; i++) failed += !roundtrip(argv[i]);
    printf("%d of %d models round-trip\n", argc - 1 - failed, argc - 1);
    return failed ? 1 : 0;
}
