/* compile.c — `kiln compile MODEL -o OUT`. For now the one artifact is the IR text
 * (--emit=ir); the code generator adds the others (exe, llvm, asm, obj). */
#include "driver.h"

#include <errno.h>
#include <string.h>

static const char help[] =
    "usage: kiln compile MODEL -o OUT --emit=ir\n"
    "\n"
    "  -o OUT       the artifact to write ('-' = standard output for --emit=ir)\n"
    "  --emit=ir    the module in kiln's IR text form (docs/ir.md); a .kir file is accepted\n"
    "               wherever a model is, and reads back to the same module\n";

int cmd_compile(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *emit = "exe", *v;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help, stdout);
            return 0;
        }
        if ((v = opt_value(argc, argv, &i, "-o"))) out = v;
        else if ((v = opt_value(argc, argv, &i, "--emit"))) emit = v;
        else if (argv[i][0] == '-' && argv[i][1]) return usage_error("compile", "unknown or incomplete option '%s'", argv[i]);
        else if (path) return usage_error("compile", "one model at a time ('%s' and '%s')", path, argv[i]);
        else path = argv[i];
    }
    if (!path) return usage_error("compile", "no model given");
    if (!out) return usage_error("compile", "no output given (-o OUT)");
    if (strcmp(emit, "ir") != 0) {
        if (!strcmp(emit, "exe") || !strcmp(emit, "llvm") || !strcmp(emit, "asm") || !strcmp(emit, "obj"))
            return usage_error("compile", "--emit=%s is not available yet in this version of kiln; use --emit=ir", emit);
        return usage_error("compile", "unknown --emit=%s (expected ir)", emit);
    }
    Arena a = { 0 };
    Diag d;
    diag_init(&d);
    int rc = 1;
    Module *m = fe_load(&a, &d, path, 0);
    if (m) {
        FILE *f = strcmp(out, "-") ? fopen(out, "w") : stdout;
        if (!f) diag_file_error(&d, out, "cannot write: %s", strerror(errno));
        else {
            ir_print(m, f, strcmp(out, "-") ? path_dirname(&a, out) : ".");
            if (f != stdout && fclose(f) != 0) diag_file_error(&d, out, "cannot write: %s", strerror(errno));
            else rc = 0;
        }
        fe_release(m);
    }
    arena_free(&a);
    diag_free(&d);
    return rc;
}
