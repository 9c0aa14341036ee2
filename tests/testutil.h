/* testutil.h - shared helpers for the cmocka unit tests.
 *
 * Every test binary prints TAP (CMOCKA_MESSAGE_OUTPUT=TAP is set by
 * scrim_test_run) and is run by prove.  Tests that need ../shared call
 * SHARED_OR_SKIP(): without ../shared (a user's fresh clone) they are
 * reported as skipped, with it (CI) they run. */
#ifndef SCRIM_TESTUTIL_H
#define SCRIM_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <ftw.h>
#include <lmdb.h>

#include "scrim.h"
#include "scrim/server.h"
#include "scrim/review.h"

/* Directory of ../shared/data, or NULL when it is not there. The location
 * can be overridden with SCRIM_SHARED (tests run from the project root). */
static inline const char *shared_data(void)
{
    static char path[4096];
    const char *base = getenv("SCRIM_SHARED");
    struct stat st;
    snprintf(path, sizeof path, "%s/data", base ? base : "../shared");
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? path : NULL;
}

#include "asan_fill.h"

/* Blocks of noise allocated and freed, under glibc's mmap threshold so that
 * the next allocations reuse that memory: a decoder that leaves parts of a
 * damaged picture unwritten would show it (scrim__heap_fill). */
static inline void heap_noise(uint32_t *x)
{
    void *noise[64];
    for (int k = 0; k < 64; k++) {
        size_t n = 1024 + (size_t)(k * 1931 % 60000);
        uint8_t *p = noise[k] = malloc(n);
        assert_non_null(p);
        for (size_t i = 0; i < n; i++) {
            *x = *x * 1664525u + 1013904223u;
            p[i] = (uint8_t)(*x >> 24);
        }
    }
    for (int k = 0; k < 64; k++)
        free(noise[k]);
}

#define SHARED_OR_SKIP()                                                      \
    do {                                                                      \
        if (!shared_data()) {                                                 \
            print_message("../shared not found: skipped\n");                 \
            skip();                                                           \
        }                                                                     \
    } while (0)

/* Read a whole CSV-ish text file into lines (NULL-terminated, caller frees
 * each and the array). */
static inline char **read_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    char **v = NULL, *line = NULL;
    size_t cap = 0, len = 0, lcap = 0;
    ssize_t r;
    *n = 0;
    if (!f)
        return NULL;
    while ((r = getline(&line, &lcap, f)) >= 0) {
        while (r > 0 && (line[r - 1] == '\n' || line[r - 1] == '\r'))
            line[--r] = '\0';
        if (len + 2 > cap) {
            cap = cap ? cap * 2 : 64;
            v = realloc(v, cap * sizeof *v);
        }
        v[len++] = strdup(line);
    }
    free(line);
    fclose(f);
    if (v)
        v[len] = NULL;
    *n = len;
    return v;
}

/* The lines of ../shared/data/REL (the test fails without them). */
static inline char **shared_lines(const char *rel, size_t *n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", shared_data(), rel);
    char **lines = read_lines(path, n);
    assert_non_null(lines);
    return lines;
}

static inline void free_lines(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static inline int scrim_test_run(const char *name,
                                 const struct CMUnitTest *tests, size_t n)
{
    setenv("CMOCKA_MESSAGE_OUTPUT", "TAP", 1);
    if (scrim_init(name)) {
        fprintf(stderr, "cannot initialise libscrim\n");
        return 1;
    }
    return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}
#define RUN_TESTS(name, tests)                                                \
    scrim_test_run(name, tests, sizeof(tests) / sizeof((tests)[0]))

/* ---- temporary stores ------------------------------------------------------ */

static inline int test__rm_cb(const char *p, const struct stat *sb, int flag,
                              struct FTW *ftw)
{
    return remove(p);
}

/* Removes dir and everything under it. */
static inline void test_rm_tree(const char *dir)
{
    nftw(dir, test__rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new directory /tmp/scrim-test-NAME-XXXXXX (malloc'd). */
static inline char *test_temp_dir(const char *name)
{
    char *dir = malloc(strlen(name) + 32);
    assert_non_null(dir);
    sprintf(dir, "/tmp/scrim-test-%s-XXXXXX", name);
    assert_non_null(mkdtemp(dir));
    return dir;
}

/* A store in dir, created if missing, with a 4 GB map; fails the test if it
 * cannot be opened. */
static inline scrim_store *test_open_store(const char *dir)
{
    scrim_store *s;
    char err[256];
    scrim_store_opts o = {0};
    o.create = 1;
    o.map_size = (uint64_t)1 << 32;
    if (scrim_store_open(dir, &o, &s, err, sizeof err))
        fail_msg("open %s: %s", dir, err);
    return s;
}

/* A test clock for the review code: arg points to the time, microseconds
 * since the epoch, which the test sets. */
static inline int64_t test_clock(void *arg)
{
    return *(const int64_t *)arg;
}

/* An LMDB environment (16 named databases, a map of map_size bytes) in a
 * new directory test_temp_dir(name), returned in *dir; NULL on failure. */
static inline MDB_env *test_lmdb_env(const char *name, size_t map_size,
                                     char **dir)
{
    MDB_env *env = NULL;
    *dir = test_temp_dir(name);
    if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 16) ||
        mdb_env_set_mapsize(env, map_size) ||
        mdb_env_open(env, *dir, MDB_NOTLS, 0600)) {
        if (env)
            mdb_env_close(env);
        return NULL;
    }
    return env;
}

/* Closes test_lmdb_env's environment and removes its directory. */
static inline void test_lmdb_env_close(MDB_env *env, char *dir)
{
    mdb_env_close(env);
    test_rm_tree(dir);
    free(dir);
}

#endif
