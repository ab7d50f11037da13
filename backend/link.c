/* link.c — the final link, by the target's C compiler driver.
 *
 * LLVM has no linker in its C API, so kiln runs the driver Debian provides for the target
 * (cc for the host, aarch64-linux-gnu-gcc for AArch64): it knows the target's C library,
 * start files and PIE defaults. Inputs are kiln's object, the assembly stub that embeds the
 * blobs, and the runtime archive built for the target (libkiln_rt-<arch>.a); the program
 * then needs libc, libm and pthreads only. A missing driver or archive is a user error
 * that says what to install.
 *
 * A kiln built with sanitizers (KILN_RUNTIME_SANITIZE, the test command's ASan+UBSan build)
 * links executables for this machine's own CPU (native), but --static ones, with the
 * instrumented runtime libkiln_rt-<arch>-sanitize.a and -fsanitize, so its tests run the
 * runtime under them; executables for other CPUs go to other machines or to qemu, where the
 * sanitizers' shadow memory does not work. */
#include "backend/codegen_impl.h"

#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The driver and archive suffix for a triple. */
static int target_tools(const char *triple, const char **driver, const char **arch, int *is_host)
{
    if (strncmp(triple, "x86_64", 6) == 0) {
        *driver = "cc";
        *arch = "x86_64";
    } else if (strncmp(triple, "aarch64", 7) == 0) {
        *driver = "aarch64-linux-gnu-gcc";
        *arch = "aarch64";
    } else {
        return -1;
    }
#if defined(__x86_64__)
    *is_host = strcmp(*arch, "x86_64") == 0;
#elif defined(__aarch64__)
    *is_host = strcmp(*arch, "aarch64") == 0;
#else
    *is_host = 0;
#endif
    if (*is_host) *driver = "cc";
    return 0;
}

static int on_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    char buf[4096];
    for (const char *p = path; *p;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, p, prog);
        if (access(buf, X_OK) == 0) return 1;
        p = e ? e + 1 : p + n;
    }
    return 0;
}

/* LLVM 19's lld, when installed: a 500 MB weights blob links in ~1.6 s instead of ~5 s
 * with GNU ld (TOOLCHAIN.md section 4). gcc finds "ld.lld" through -B, so a link to it is
 * made in the scratch folder (the unversioned /usr/bin/ld.lld may be an older lld). */
static int use_lld(const char *scratch, char *bdir, size_t cap)
{
    static const char *const candidates[] = { "/usr/lib/llvm-19/bin/ld.lld", "/usr/bin/ld.lld-19" };
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (access(candidates[i], X_OK) != 0) continue;
        snprintf(bdir, cap, "%s/lld", scratch);
        char link[4096 + 16];
        snprintf(link, sizeof link, "%s/ld.lld", bdir);
        if ((mkdir(bdir, 0700) == 0 || errno == EEXIST) && (symlink(candidates[i], link) == 0 || errno == EEXIST))
            return 1;
    }
    return 0;
}

int link_executable(const char *triple, const char *out, const char *const *inputs, int n_inputs, int is_static, int native,
                    const char *runtime_dir, const char *scratch, int verbose, Diag *d)
{
    const char *driver, *arch;
    int is_host;
    if (target_tools(triple, &driver, &arch, &is_host)) {
        diag_error(d, loc_make(0, 0, 0), "no linker known for target %s", triple);
        return -1;
    }
    if (!on_path(driver)) {
        diag_error(d, loc_make(0, 0, 0), "cannot link for %s: '%s' is not installed (scripts/setup.sh installs it)",
                   triple, driver);
        return -1;
    }
    char archive[4096];
    snprintf(archive, sizeof archive, "%s/libkiln_rt-%s.a", runtime_dir, arch);
    struct stat st;
    if (stat(archive, &st) != 0) {
        diag_error(d, loc_make(0, 0, 0), "cannot link for %s: the runtime for %s is missing (%s); "
                   "set KILN_RUNTIME_DIR to the folder that holds libkiln_rt-%s.a (kiln looks in "
                   "$KILN_RUNTIME_DIR if set, else in ../lib/kiln beside the kiln executable if that "
                   "folder exists, else in its build tree; kiln --version shows which)",
                   triple, arch, archive, arch);
        return -1;
    }
    const char *argv[64];
    int n = 0;
    argv[n++] = driver;
    argv[n++] = "-o";
    argv[n++] = out;
    for (int i = 0; i < n_inputs && n < 56; i++) argv[n++] = inputs[i];
    (void)native;
#ifdef KILN_RUNTIME_SANITIZE
    char sanitized[4200];
    snprintf(sanitized, sizeof sanitized, "%s/libkiln_rt-%s-sanitize.a", runtime_dir, arch);
    if (is_host && native && !is_static && stat(sanitized, &st) == 0) {
        argv[n++] = "-fsanitize=" KILN_RUNTIME_SANITIZE;
        strcpy(archive, sanitized);
    }
#endif
    argv[n++] = archive;
    argv[n++] = "-lm";
    argv[n++] = "-lpthread";
    if (is_static) argv[n++] = "-static";      /* libc, libm and pthreads inside: any Linux of the arch */
    char bdir[4096], bopt[4200];
    if (use_lld(scratch, bdir, sizeof bdir)) {
        snprintf(bopt, sizeof bopt, "-B%s", bdir);
        argv[n++] = "-fuse-ld=lld";
        argv[n++] = bopt;
    }
    argv[n] = NULL;
    if (verbose) {
        fputs("kiln: link:", stderr);
        for (int i = 0; i < n; i++) fprintf(stderr, " %s", argv[i]);
        fputc('\n', stderr);
    }
    pid_t pid;
    int rc = posix_spawnp(&pid, driver, NULL, NULL, (char *const *)argv, environ);
    if (rc != 0) {
        diag_error(d, loc_make(0, 0, 0), "cannot run %s: %s", driver, strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            diag_error(d, loc_make(0, 0, 0), "waiting for %s: %s", driver, strerror(errno));
            return -1;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        diag_error(d, loc_make(0, 0, 0), "linking %s failed: %s exited with status %d (its messages are above)", out,
                   driver, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    return 0;
}

void backend_list_targets(const char *runtime_dir, FILE *f)
{
    static const char *const triples[] = { "x86_64-linux-gnu", "aarch64-linux-gnu" };
    char found[4096];
    const char *why = "from the options";
    const char *dir = runtime_dir ? runtime_dir : runtime_dir_find(found, sizeof found, &why);
    for (size_t i = 0; i < sizeof triples / sizeof triples[0]; i++) {
        const char *driver, *arch;
        int is_host;
        target_tools(triples[i], &driver, &arch, &is_host);
        char archive[4200];
        snprintf(archive, sizeof archive, "%s/libkiln_rt-%s.a", dir, arch);
        struct stat st;
        int have_rt = stat(archive, &st) == 0, have_cc = on_path(driver);
        fprintf(f, "%-20s %s; linker %s (%s); runtime %s (%s)\n", triples[i], is_host ? "this machine" : "cross",
                driver, have_cc ? "installed" : "missing", archive, have_rt ? "found" : "missing");
    }
}
