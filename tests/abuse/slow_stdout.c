/* slow_stdout.c — an LD_PRELOAD shim that makes standard output slow: every fflush(stdout)
 * first sleeps KILN_SLOW_STDOUT_MS milliseconds (default 40). The decoder flushes once per
 * token, so a run of models/tiny, which generates its 128 positions in a few milliseconds,
 * takes seconds: long enough for test_abuse.py to send SIGINT in the middle of generation
 * and to close the pipe while tokens are still coming. A sleep cut short by a signal is not
 * resumed. The real fflush is found with dlsym(RTLD_NEXT). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int fflush(FILE *f)
{
    static int (*real)(FILE *);
    if (!real) real = (int (*)(FILE *))dlsym(RTLD_NEXT, "fflush");
    if (f == stdout) {
        const char *e = getenv("KILN_SLOW_STDOUT_MS");
        long ms = e && *e ? atol(e) : 40;
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    return real ? real(f) : 0;
}
