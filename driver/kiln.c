/* kiln.c — entry point: dispatches to a command and owns the exit status.
 *
 * Exit statuses: 0 success, 1 the input is wrong (a diagnostic said where), 2 the command
 * line is wrong. */
#include "driver.h"
#include "support/diag.h"

#include <errno.h>
#include <llvm-c/Core.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    "  size EXE                    what an executable's bytes are: kernels (largest first),\n"
    "                              forward, runtime, libc, tokenizer, weights, other\n"
    "\n"
    "MODEL is a model description (.xml) or kiln IR text (.kir).\n"
    "`kiln COMMAND --help` describes a command's options; docs/ has the formats.\n"
    "\n"
    "every command takes --color=auto|always|never: colour in diagnostics (auto: on a\n"
    "terminal only, never when NO_COLOR is set); docs/diagnostics.md shows the format.\n";

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

/* kiln --version: kiln's and LLVM's versions, the folder of the runtime libraries (and
 * the rule that chose it, support/paths.c) and the targets whose runtime is there. */
static int print_version(void)
{
    unsigned major, minor, patch;
    LLVMGetVersion(&major, &minor, &patch);
    printf("kiln %s\nLLVM %u.%u.%u\n", KILN_VERSION, major, minor, patch);
    char buf[4096];
    const char *why;
    const char *dir = runtime_dir_find(buf, sizeof buf, &why);
    printf("runtime libraries: %s (%s)\ntargets:", dir, why);
    static const char *const arches[] = { "x86_64", "aarch64" };
    int n = 0;
    for (size_t i = 0; i < sizeof arches / sizeof arches[0]; i++) {
        char archive[4200];
        snprintf(archive, sizeof archive, "%s/libkiln_rt-%s.a", dir, arches[i]);
        if (access(archive, R_OK) == 0) printf(" %s", arches[i]), n++;
    }
    puts(n ? "" : " none (no libkiln_rt-<arch>.a there: set KILN_RUNTIME_DIR)");
    return 0;
}

/* --color=WHEN (or --color WHEN), anywhere on the command line, for every command: taken
 * out of argv before the command sees it. 0, or 2 after a usage error. */
static int take_color_option(int *argc, char **argv)
{
    int kept = 1;
    for (int i = 1; i < *argc; i++) {
        const char *v = NULL;
        if (!strncmp(argv[i], "--color=", 8)) v = argv[i] + 8;
        else if (!strcmp(argv[i], "--color")) v = i + 1 < *argc ? argv[++i] : "";
        else {
            argv[kept++] = argv[i];
            continue;
        }
        int mode = diag_color_from_name(v);
        if (mode < 0) {
            fprintf(stderr, "kiln: --color needs auto, always or never, not '%s'\n", v);
            return 2;
        }
        diag_set_color((DiagColor)mode);
    }
    argv[kept] = NULL;
    *argc = kept;
    return 0;
}

int main(int argc, char **argv)
{
    if (take_color_option(&argc, argv)) return 2;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) return print_version();
    static const struct { const char *name; int (*run)(int, char **); } cmds[] = {
        { "import", cmd_import }, { "check", cmd_check }, { "run", cmd_run }, { "compile", cmd_compile },
        { "diff", cmd_diff }, { "size", cmd_size },
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) exit(cmds[i].run(argc - 2, argv + 2));
    fprintf(stderr, "kiln: unknown command '%s'\n\n%s", argv[1], usage);
    return 2;
}
