/* check.h — the CHECK of kiln's C tests: a failed condition prints `FAIL file:line: message`
 * and is counted; the test's main returns check_failures != 0 at the end. */
#ifndef KILN_TESTS_CHECK_H
#define KILN_TESTS_CHECK_H

#include <stdio.h>

static int check_failures, check_count;

#define CHECK(cond, ...)                                                                                              \
    do {                                                                                                              \
        check_count++;                                                                                                \
        if (!(cond)) {                                                                                                \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                               \
            printf(__VA_ARGS__);                                                                                      \
            printf("\n");                                                                                             \
            check_failures++;                                                                                         \
        }                                                                                                             \
    } while (0)

#endif
