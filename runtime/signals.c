/* signals.c — Ctrl-C during generation: a flag, set by a handler that does nothing else.
 *
 * The handler may run between any two instructions of the decode loop, so it touches one
 * volatile sig_atomic_t and, on a second SIGINT, only calls signal() and raise() (both
 * async-signal-safe): the default action then ends the process as an uncaught SIGINT
 * would. SA_RESTART keeps a write to stdout or a read that the signal lands in from
 * failing with EINTR: the loop notices the flag at the next token. */
#include "runtime/signals.h"

#include <errno.h>
#include <string.h>

volatile sig_atomic_t rt_interrupted;

static void on_interrupt(int sig)
{
    if (rt_interrupted) {       /* the second one: do as if we had never caught it */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    rt_interrupted = 1;
}

int rt_catch_interrupt(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    return sigaction(SIGINT, &sa, NULL) ? errno : 0;
}
