/* fuzz_util.h - set-up shared by the libFuzzer harnesses. */
#ifndef SCRIM_FUZZ_UTIL_H
#define SCRIM_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include "scrim.h"

/* The library started, or the run aborted. */
static inline void fuzz_init(char **argv)
{
    if (scrim_init(argv[0]))
        abort();
}

/* mkdtemp(dir) or abort; fuzz_rmdir(dir) removes it at exit. */
static inline void fuzz_tempdir(char *dir)
{
    if (!mkdtemp(dir))
        abort();
}

static inline void fuzz_rmdir(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd))
        fprintf(stderr, "could not remove %s\n", dir);
}

#endif
