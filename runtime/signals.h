/* signals.h — Ctrl-C during generation (runtime/signals.c).
 *
 * The handler only sets rt_interrupted; rt_generate (generate.c) looks at it between tokens
 * and ends the loop, so the text so far is written out whole and the caller exits with
 * RT_EXIT_INTERRUPTED, the shell's 128 + SIGINT. A second SIGINT while the first is still
 * pending (a long forward call) ends the process at once, as if nothing were caught. */
#ifndef KILN_RUNTIME_SIGNALS_H
#define KILN_RUNTIME_SIGNALS_H

#include <signal.h>

#include "runtime/runtime.h"

#define RT_EXIT_INTERRUPTED 130

/* Set by the SIGINT handler; never cleared. */
extern volatile sig_atomic_t rt_interrupted;

/* Installs the handler (0), or returns errno. Threads made after it inherit the signal
 * mask, not the need to run it: the pool's workers block every signal (threads.c). */
int rt_catch_interrupt(void);

#endif
