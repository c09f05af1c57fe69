/* Helpers shared by the unit tests (header-only: each test is one program). */
#ifndef DIFFD_TESTUTIL_H
#define DIFFD_TESTUTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Writes text to path; a file that cannot be written stops the test program. */
static inline void write_text_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

/* Runs a command entry point with its output discarded; returns its exit
 * code. Returns -1 when the descriptors cannot be set up. */
static inline int run_quiet(int (*fn)(int, char **), int argc, const char **argv)
{
    fflush(stdout);
    fflush(stderr);
    int out = dup(1), err = dup(2);
    int devnull = open("/dev/null", O_WRONLY);
    if (out < 0 || err < 0 || devnull < 0)
        return -1;
    dup2(devnull, 1);
    dup2(devnull, 2);
    int rc = fn(argc, (char **)argv);
    fflush(stdout);
    fflush(stderr);
    dup2(out, 1);
    dup2(err, 2);
    close(out);
    close(err);
    close(devnull);
    return rc;
}

#endif
