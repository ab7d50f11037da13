/* capture.h — the runtime side of `kiln diff` (driver/diff.c): an executable compiled with
 * BackendOptions.capture calls kiln_capture (runtime/model.h) after every node of forward;
 * main.c opens the capture file for the hidden option `--capture FILE` and closes it after
 * the run. Not for users: the file format is private to kiln diff.
 *
 * File: the 8 bytes "KILNCAP1", then one record per call:
 *     int64 node (the node's index in the compiled graph), int64 bytes, the bytes
 * in the target's byte order (little-endian on both targets). */
#ifndef KILN_RUNTIME_CAPTURE_H
#define KILN_RUNTIME_CAPTURE_H

#include <stdint.h>

#define RT_CAPTURE_MAGIC "KILNCAP1"

/* Starts writing records to path. perturb >= 0: before node `perturb` is written, 1.0 is
 * added to its first f32 element in the arena, so later nodes compute with the changed
 * value (a stand-in for a wrong kernel: kiln diff's own tests). Returns 0, or errno. */
int rt_capture_open(const char *path, int64_t perturb);
/* Flushes and closes the file; returns 0, or the errno of the first failed write. A no-op
 * returning 0 when no file is open. */
int rt_capture_close(void);

#endif
