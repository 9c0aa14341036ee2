/* test_hardening.c - unit tests of the pieces that keep an attacker's
 * requests within bounds: opening files beneath a directory against a
 * racing symlink swapper (both ways: openat2 and the walk). */
#include "testutil.h"
#include "base/base.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- scrim__open_beneath -------------------------------------------------------- */

static void put(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* What the file opened holds ("" on failure, with errno kept). */
static const char *read_beneath(int dir, const char *rel, int how, char *buf,
                                size_t n)
{
    int fd = scrim__open_beneath(dir, rel, O_RDONLY, how);
    buf[0] = '\0';
    if (fd < 0)
        return buf;
    ssize_t got = read(fd, buf, n - 1);
    buf[got > 0 ? got : 0] = '\0';
    close(fd);
    return buf;
}

typedef struct swapper {
    char a[512], b[512];
    atomic_int stop;
    long swaps;
} swapper;

static void *swap_main(void *arg)
{
    swapper *s = arg;
    while (!atomic_load(&s->stop)) {
        if (renameat2(AT_FDCWD, s->a, AT_FDCWD, s->b, RENAME_EXCHANGE))
            fail_msg("renameat2: %s", strerror(errno));
        s->swaps++;
    }
    return NULL;
}

static void open_beneath_never_leaves(void **state)
{
    char base[] = "/tmp/scrim-beneath-XXXXXX", p[600], buf[64];
    assert_non_null(mkdtemp(base));
    snprintf(p, sizeof p, "%s/root", base), mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/root/d", base), mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/out", base), mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/root/d", base), put(p, "f", "inside");
    snprintf(p, sizeof p, "%s/out", base), put(p, "f", "outside");
    char link[600];
    snprintf(p, sizeof p, "%s/out", base);
    snprintf(link, sizeof link, "%s/root/dx", base);
    assert_int_equal(symlink(p, link), 0);
    snprintf(p, sizeof p, "%s/out/f", base);
    snprintf(link, sizeof link, "%s/root/d/lf", base);
    assert_int_equal(symlink(p, link), 0);
    snprintf(p, sizeof p, "%s/root", base);
    int dir = open(p, O_PATH | O_DIRECTORY);
    assert_true(dir >= 0);

    static const int hows[] = {SCRIM__BENEATH_WALK, SCRIM__BENEATH_OPENAT2};
    for (int h = 0; h < 2; h++) {
        int how = hows[h];
        if (how == SCRIM__BENEATH_OPENAT2 &&
            scrim__open_beneath(dir, "d/f", O_RDONLY, how) < 0 && errno == ENOSYS) {
            print_message("no openat2 here: the walk only\n");
            continue;
        }
        assert_string_equal(read_beneath(dir, "d/f", how, buf, sizeof buf), "inside");
        assert_string_equal(read_beneath(dir, "d//./f", how, buf, sizeof buf), "inside");
        /* a symlinked directory, a symlinked file, "..", an absolute path */
        assert_string_equal(read_beneath(dir, "dx/f", how, buf, sizeof buf), "");
        assert_string_equal(read_beneath(dir, "d/lf", how, buf, sizeof buf), "");
        assert_string_equal(read_beneath(dir, "d/../d/f", how, buf, sizeof buf), "");
        assert_string_equal(read_beneath(dir, "../out/f", how, buf, sizeof buf), "");
        errno = 0;
        assert_true(scrim__open_beneath(dir, p, O_RDONLY, how) < 0);
        assert_int_equal(errno, EXDEV);
        assert_string_equal(read_beneath(dir, "d/missing", how, buf, sizeof buf), "");
        assert_int_equal(errno, ENOENT);
    }

    /* The race: d and dx (a symlink to out) swapped as fast as renameat2
     * goes, while d/f is opened again and again: inside, or refused, never
     * the outside file. */
    swapper sw = {.stop = 0};
    snprintf(sw.a, sizeof sw.a, "%s/root/d", base);
    snprintf(sw.b, sizeof sw.b, "%s/root/dx", base);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, swap_main, &sw), 0);
    for (int h = 0; h < 2; h++) {
        long inside = 0, refused = 0, outside = 0;
        for (int i = 0; i < 20000; i++) {
            read_beneath(dir, "d/f", hows[h], buf, sizeof buf);
            if (!strcmp(buf, "inside"))
                inside++;
            else if (!strcmp(buf, "outside"))
                outside++;
            else
                refused++;
        }
        print_message("%s: %ld inside, %ld refused, %ld outside\n",
                      h ? "openat2" : "walk", inside, refused, outside);
        assert_int_equal(outside, 0);
        assert_true(inside > 0);
    }
    atomic_store(&sw.stop, 1);
    pthread_join(t, NULL);
    assert_true(sw.swaps > 100);
    close(dir);
    test_rm_tree(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_beneath_never_leaves),
    };
    return RUN_TESTS("hardening", tests);
}
