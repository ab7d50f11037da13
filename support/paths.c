/* paths.c — where kiln finds its runtime libraries, so that an installed kiln is relocatable.
 *
 * `kiln compile` links every executable with a runtime archive built for the target,
 * libkiln_rt-<arch>.a. `meson install` puts them in <prefix>/lib/kiln/ and kiln in
 * <prefix>/bin/, so an installed kiln finds them from its own location: the folder of
 * /proc/self/exe (symlinks resolved), then ../lib/kiln. No prefix is compiled in, so the
 * installed tree works wherever it is copied or unpacked (a DESTDIR install included).
 * Three rules, first match wins:
 *   1. $KILN_RUNTIME_DIR, when set and not empty (the user's choice, even if wrong: the link
 *      then says which archive is missing);
 *   2. <kiln's folder>/../lib/kiln, when that folder exists (an installed kiln);
 *   3. the build tree's runtime folder, compiled in as KILN_RUNTIME_DIR (meson.build).
 * The folder decides, not the archive: an installed kiln never links the build tree's
 * runtime, even for a target it was installed without. */
#include "support.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* <folder of the running executable>/../lib/kiln into buf, lexically ("/x/bin/kiln" →
 * "/x/lib/kiln"); 0 on success, -1 when /proc/self/exe cannot be read. */
static int installed_runtime_dir(char *buf, size_t cap)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0 || (size_t)n >= sizeof exe - 1) return -1;     /* unreadable, or maybe cut short */
    exe[n] = 0;
    for (int up = 0; up < 2; up++) {    /* drop the file name, then its folder (bin) */
        char *slash = strrchr(exe, '/');
        if (!slash) return -1;
        *slash = 0;
    }
    int len = snprintf(buf, cap, "%s/lib/kiln", exe);
    return len > 0 && (size_t)len < cap ? 0 : -1;
}

const char *runtime_dir_find(char *buf, size_t cap, const char **why)
{
    const char *unused;
    if (!why) why = &unused;
    const char *env = getenv("KILN_RUNTIME_DIR");
    if (env && *env) {
        *why = "from KILN_RUNTIME_DIR";
        return env;
    }
    struct stat st;
    if (installed_runtime_dir(buf, cap) == 0 && stat(buf, &st) == 0 && S_ISDIR(st.st_mode)) {
        *why = "installed beside kiln";
        return buf;
    }
#ifdef KILN_RUNTIME_DIR
    *why = "the build tree";
    return KILN_RUNTIME_DIR;
#else
    *why = "the current folder";
    return ".";
#endif
}
