/* capture.c — kiln_capture: every node's value of one forward call, written to a file for
 * `kiln diff` (runtime/capture.h has the format).
 *
 * The generated forward of a capture build calls kiln_capture(node, y, bytes) after each
 * node, on the calling thread, once the node's kernel (all its parts) has returned: y is
 * the node's value in the arena (or in place of its source, for views), bytes its size at
 * this call's seq and past. Ordinary builds emit no call, so this costs them nothing. A
 * write error is remembered and reported by rt_capture_close: forward has no way to fail.
 * Without an open file (a capture build run without --capture) the calls do nothing. */
#include "runtime/capture.h"
#include "runtime/model.h"

#include <errno.h>
#include <stdio.h>

static FILE *capture_file;
static int capture_error;           /* errno of the first failed write */
static int64_t capture_perturb = -1;

int rt_capture_open(const char *path, int64_t perturb)
{
    capture_file = fopen(path, "wb");
    if (!capture_file) return errno ? errno : EIO;
    capture_error = 0;
    capture_perturb = perturb;
    if (fwrite(RT_CAPTURE_MAGIC, 1, 8, capture_file) != 8) capture_error = errno ? errno : EIO;
    return 0;
}

static void capture_write(const void *p, size_t n)
{
    if (capture_error || n == 0) return;
    errno = 0;
    if (fwrite(p, 1, n, capture_file) != n) capture_error = errno ? errno : EIO;
}

void kiln_capture(int64_t node, void *y, int64_t bytes)
{
    if (!capture_file) return;
    if (node == capture_perturb && bytes >= 4) ((float *)y)[0] += 1.0f;
    int64_t header[2] = { node, bytes };
    capture_write(header, sizeof header);
    capture_write(y, (size_t)bytes);
}

int rt_capture_close(void)
{
    if (!capture_file) return 0;
    if (fclose(capture_file) != 0 && !capture_error) capture_error = errno ? errno : EIO;
    capture_file = NULL;
    return capture_error;
}
