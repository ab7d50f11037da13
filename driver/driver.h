/* driver.h — the kiln command line: one file per command, sharing these helpers. The
 * driver is the only place that calls exit(). */
#ifndef KILN_DRIVER_H
#define KILN_DRIVER_H

#include "frontend/frontend.h"
#include "ir/ir.h"

/* Each command takes the arguments after its name and returns the process exit status. */
int cmd_check(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_size(int argc, char **argv);

/* "--name=value" or "--name value": returns the value and advances *i, or NULL. */
const char *opt_value(int argc, char **argv, int *i, const char *name);
/* Usage error: prints "kiln CMD: message" and a hint, returns 2. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses an integer/float option value, reporting a usage error; 0 on success. */
int opt_int(const char *cmd, const char *opt, const char *v, long long lo, long long hi, long long *out);
int opt_float(const char *cmd, const char *opt, const char *v, double lo, double hi, double *out);

#endif
