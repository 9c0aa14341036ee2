/* path.c - opening a file beneath a directory, never leaving it and never
 * following a symlink on the way.
 *
 * realpath() followed by open(O_NOFOLLOW) checks a path once and opens it
 * again: between the two, any directory on the way can be swapped for a
 * symlink to elsewhere, and O_NOFOLLOW guards only the last component.
 * Here each component is resolved relative to the one before, from a
 * descriptor of the allowed directory: with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) where the kernel has it (5.6+), which does exactly
 * that in one call, else one openat(O_NOFOLLOW | O_DIRECTORY) per
 * directory.  A swap then makes the open fail; it can never make it land
 * outside. */
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

/* 1 once openat2 was found missing (or forbidden by a seccomp filter). */
static atomic_int no_openat2;

/* Component by component: every directory opened O_PATH | O_DIRECTORY |
 * O_NOFOLLOW from the one before (a symlink fails with ENOTDIR or ELOOP),
 * the file itself O_NOFOLLOW. */
static int walk(int dirfd, const char *rel, int flags)
{
    char name[256];
    int cur = dirfd;
    const char *p = rel;
    for (;;) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        const char *next = p + n;
        while (*next == '/')
            next++;
        if (n >= sizeof name) {
            errno = ENAMETOOLONG;
            goto fail;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        if (!strcmp(name, "..")) {
            errno = EXDEV;
            goto fail;
        }
        if (!*next) { /* the last component: the file */
            int fd = openat(cur, n && strcmp(name, ".") ? name : ".",
                            flags | O_NOFOLLOW | O_CLOEXEC);
            int e = errno;
            if (cur != dirfd)
                close(cur);
            errno = e;
            return fd;
        }
        if (!n || !strcmp(name, ".")) {
            p = next;
            continue;
        }
        int fd = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            goto fail;
        if (cur != dirfd)
            close(cur);
        cur = fd;
        p = next;
    }
fail:;
    int e = errno;
    if (cur != dirfd)
        close(cur);
    errno = e;
    return -1;
}

int scrim__open_beneath(int dirfd, const char *rel, int flags, int how)
{
    if (!rel || rel[0] == '/') {
        errno = EXDEV;
        return -1;
    }
    /* ".." never, even where it would stay beneath (openat2 allows that) */
    for (const char *p = rel; (p = strstr(p, "..")); p += 2)
        if ((p == rel || p[-1] == '/') && (p[2] == '/' || !p[2])) {
            errno = EXDEV;
            return -1;
        }
#ifdef SYS_openat2
    if (how != SCRIM__BENEATH_WALK && !atomic_load(&no_openat2)) {
        struct open_how oh = {
            .flags = (unsigned)(flags | O_NOFOLLOW | O_CLOEXEC),
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                       RESOLVE_NO_MAGICLINKS};
        long fd = syscall(SYS_openat2, dirfd, rel, &oh, sizeof oh);
        /* ENOSYS: an older kernel; EPERM: maybe a seccomp filter that does
         * not know the call (then this one call is walked) */
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM) ||
            how == SCRIM__BENEATH_OPENAT2)
            return (int)fd;
        if (errno == ENOSYS)
            atomic_store(&no_openat2, 1);
    }
#endif
    if (how == SCRIM__BENEATH_OPENAT2) {
        errno = ENOSYS;
        return -1;
    }
    return walk(dirfd, rel, flags);
}
