/* kiln.c — entry point: dispatches to a command and owns the exit status.
 *
 * Exit statuses: 0 success, 1 the input is wrong (a diagnostic said where), 2 the command
 * line is wrong. */
#include "driver.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: kiln COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  import DIR|model.bin -o model.xml\n"
    "                              describe a Hugging Face folder (GPT-2, LLaMA) or a llama2.c\n"
    "                              checkpoint as kiln XML\n"
    "  check MODEL                 validate a model and its weights; print a summary\n"
    "  run MODEL [options]         run the reference interpreter (no LLVM): generate text\n"
    "                              (-p PROMPT -n N) or write logits (--tokens a,b,c --logits F)\n"
    "  compile MODEL -o OUT        compile; --emit=ir writes the IR text form (.kir)\n"
    "  diff MODEL --tokens a,b,c   compiled kernels against the interpreter, node by node;\n"
    "                              names the first node past tolerance (default 1e-4)\n"
    "\n"
    "MODEL is a model description (.xml) or kiln IR text (.kir).\n"
    "`kiln COMMAND --help` describes a command's options; docs/ has the formats.\n";

const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != 0) return NULL;
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kiln %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see: kiln %s --help)\n", cmd);
    return 2;
}

int opt_int(const char *cmd, const char *opt, const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi)
        return usage_error(cmd, "%s needs an integer from %lld to %lld, not '%s'", opt, lo, hi, v);
    *out = x;
    return 0;
}

int opt_float(const char *cmd, const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !(x >= lo && x <= hi))
        return usage_error(cmd, "%s needs a number from %g to %g, not '%s'", opt, lo, hi, v);
    *out = x;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("kiln %s\n", KILN_VERSION);
        return 0;
    }
    static const struct { const char *name; int (*run)(int, char **); } cmds[] = {
        { "import", cmd_import }, { "check", cmd_check }, { "run", cmd_run }, { "compile", cmd_compile },
        { "diff", cmd_diff },
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) exit(cmds[i].run(argc - 2, argv + 2));
    fprintf(stderr, "kiln: unknown command '%s'\n\n%s", argv[1], usage);
    return 2;
}
