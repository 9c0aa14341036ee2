/* store_snapshot.c - a consistent, compacted copy of a store made while it
 * serves (scrim_store_snapshot), for a new node to start from.
 *
 * data.mdb is copied by LMDB (mdb_env_copyfd2 with MDB_CP_COMPACT): one read
 * transaction, so the copy is one committed state of every list, the index
 * and the audit log together, and free pages are left out.  A reader holds
 * no lock that a writer waits for, so imports and matches go on meanwhile
 * (the pages the copy reads stay allocated until it ends).  side.mdb, the
 * other modules' environment, is copied the same way in a transaction of its
 * own, or database by database when some are left out.
 *
 * Nothing half-written looks complete: the copy is made in OUT.partial-PID
 * beside OUT, each file fsynced, opened once as a store to check it, then
 * renamed to OUT (renameat2 RENAME_NOREPLACE: an OUT made meanwhile is never
 * replaced) and the parent directory fsynced. */
#include "index/index.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fsync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) ? 0 : (uint64_t)st.st_size;
}

/* Write env's compacted copy to the new file path (fsynced).  Returns 0 or
 * an errno / LMDB code. */
static int copy_env(MDB_env *env, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    int rc = mdb_env_copyfd2(env, fd, MDB_CP_COMPACT);
    if (!rc && fsync(fd))
        rc = errno;
    if (close(fd) && !rc)
        rc = errno;
    return rc;
}

static int is_skipped(const char *name, const char *const *skip)
{
    for (; skip && *skip; skip++)
        if (!strcmp(name, *skip))
            return 1;
    return 0;
}

/* Whether side holds a named database that skip names. */
static int side_has_skipped(MDB_env *side, const char *const *skip, int *has)
{
    MDB_txn *txn;
    *has = 0;
    int rc = mdb_txn_begin(side, NULL, MDB_RDONLY, &txn);
    for (; !rc && skip && *skip && !*has; skip++) {
        MDB_dbi d;
        int r = mdb_dbi_open(txn, *skip, 0, &d);
        if (!r)
            *has = 1;
        else if (r != MDB_NOTFOUND)
            rc = r;
    }
    if (!rc || txn)
        mdb_txn_abort(txn);
    return rc;
}

/* Copy side's named databases except those skip names into a new
 * environment at path (MDB_NOSUBDIR; its lock file removed after), in one
 * read transaction of side's and one write transaction of the copy's. */
static int copy_side_except(MDB_env *side, const char *path,
                            const char *const *skip)
{
    MDB_env *to = NULL;
    MDB_txn *rt = NULL, *wt = NULL;
    MDB_cursor *names = NULL, *c = NULL;
    MDB_dbi main_dbi;
    MDB_val k, v;
    char name[512], lock[PATH_MAX + 128];
    snprintf(lock, sizeof lock, "%s-lock", path);
    int rc = mdb_env_create(&to);
    if (!rc) {
        mdb_env_set_maxdbs(to, SCRIM_STORE_SPARE_DBS);
        mdb_env_set_mapsize(to, SCRIM_STORE_DEFAULT_MAP);
        rc = mdb_env_open(to, path, MDB_NOSUBDIR | MDB_NOTLS | MDB_NOSYNC, 0600);
    }
    if (!rc)
        rc = mdb_txn_begin(side, NULL, MDB_RDONLY, &rt);
    if (!rc)
        rc = mdb_txn_begin(to, NULL, 0, &wt);
    if (!rc)
        rc = mdb_dbi_open(rt, NULL, 0, &main_dbi);
    if (!rc)
        rc = mdb_cursor_open(rt, main_dbi, &names);
    for (rc = rc ? rc : mdb_cursor_get(names, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(names, &k, &v, MDB_NEXT)) {
        if (k.mv_size >= sizeof name)
            continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        MDB_dbi a, b;
        unsigned flags;
        if (is_skipped(name, skip) || mdb_dbi_open(rt, name, 0, &a))
            continue;   /* left out, or a plain key, not a database */
        if ((rc = mdb_dbi_flags(rt, a, &flags)) ||
            (rc = mdb_dbi_open(wt, name, MDB_CREATE | flags, &b)) ||
            (rc = mdb_cursor_open(rt, a, &c)))
            break;
        /* in key (and duplicate) order: appended, so the copy is compact */
        unsigned put = flags & MDB_DUPSORT ? MDB_APPENDDUP : MDB_APPEND;
        MDB_val ck, cv;
        for (rc = mdb_cursor_get(c, &ck, &cv, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &ck, &cv, MDB_NEXT))
            if ((rc = mdb_put(wt, b, &ck, &cv, put)))
                break;
        mdb_cursor_close(c);
        if (rc != MDB_NOTFOUND)
            break;
    }
    if (names)
        mdb_cursor_close(names);
    if (rt)
        mdb_txn_abort(rt);
    if (rc == MDB_NOTFOUND) {
        rc = mdb_txn_commit(wt);
        wt = NULL;
        if (!rc)
            rc = mdb_env_sync(to, 1);
    }
    if (wt)
        mdb_txn_abort(wt);
    if (to)
        mdb_env_close(to);
    unlink(lock);
    return rc;
}

static void remove_partial(const char *tmp)
{
    static const char *const files[] = {"data.mdb", "lock.mdb", "side.mdb",
                                        "side.mdb-lock"};
    char p[PATH_MAX + 64];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", tmp, files[i]);
        unlink(p);
    }
    rmdir(tmp);
}

static const char *reason(int rc)
{
    switch (rc) {
    case ENOSPC:
    case EDQUOT: return "the disk is full";
    default: return mdb_strerror(rc);
    }
}

int scrim_store_snapshot(scrim_store *s, const char *out,
                         const char *const *side_skip,
                         scrim_store_snapshot_stats *st, char *err,
                         size_t errlen)
{
    scrim_store_snapshot_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof *st);
    double t0 = mono_now();
    if (!out || !*out) {
        scrim__seterr(err, errlen, "no snapshot directory given");
        return SCRIM_EINVAL;
    }
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/')
        len--;
    if (len + 64 >= PATH_MAX) {
        scrim__seterr(err, errlen, "%s: path too long", out);
        return SCRIM_EINVAL;
    }
    char dst[PATH_MAX], tmp[PATH_MAX + 32], parent[PATH_MAX], p[PATH_MAX + 64];
    snprintf(dst, sizeof dst, "%.*s", (int)len, out);
    struct stat sb;
    if (lstat(dst, &sb) == 0) {
        scrim__seterr(err, errlen, "%s: already exists (a snapshot is written "
                      "to a new directory)", dst);
        return SCRIM_EEXIST;
    }
    snprintf(parent, sizeof parent, "%s", dst);
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else if (slash == parent)
        parent[1] = '\0';
    else
        *slash = '\0';
    int bad = stat(parent, &sb) ? errno : S_ISDIR(sb.st_mode) ? 0 : ENOTDIR;
    if (bad) {
        scrim__seterr(err, errlen, "%s: %s", parent,
                      bad == ENOENT ? "no such directory" : strerror(bad));
        return SCRIM_EINVAL;
    }
    {   /* not inside the store's own directory */
        char real_src[PATH_MAX], real_parent[PATH_MAX];
        if (realpath(s->path, real_src) && realpath(parent, real_parent)) {
            size_t n = strlen(real_src);
            if (!strncmp(real_parent, real_src, n) &&
                (real_parent[n] == '\0' || real_parent[n] == '/')) {
                scrim__seterr(err, errlen, "%s: inside the database directory %s",
                              dst, s->path);
                return SCRIM_EINVAL;
            }
        }
    }
    snprintf(tmp, sizeof tmp, "%s.partial-%ld", dst, (long)getpid());
    if (mkdir(tmp, 0700)) {
        scrim__seterr(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        return errno == ENOSPC || errno == EDQUOT ? SCRIM_EIO : SCRIM_EINVAL;
    }

    int rc = 0;
    const char *what = "data.mdb";
    snprintf(p, sizeof p, "%s/data.mdb", tmp);
    rc = copy_env(s->env, p);
    if (!rc) {
        st->data_bytes = file_size(p);
        st->data_seconds = mono_now() - t0;
    }
    /* side.mdb, unless the store has none (a read-only store never made one) */
    MDB_env *side = NULL;
    char serr[512];
    snprintf(p, sizeof p, "%s/side.mdb", s->path);
    if (!rc && stat(p, &sb) == 0) {
        what = "side.mdb";
        if (scrim_store_side_env(s, &side, serr, sizeof serr)) {
            scrim__seterr(err, errlen, "%s", serr);
            remove_partial(tmp);
            return SCRIM_EDB;
        }
        int has = 0;
        snprintf(p, sizeof p, "%s/side.mdb", tmp);
        rc = side_has_skipped(side, side_skip, &has);
        if (!rc)
            rc = has ? copy_side_except(side, p, side_skip) : copy_env(side, p);
        if (!rc)
            st->side_bytes = file_size(p);
    }
    if (rc) {
        scrim__seterr(err, errlen, "%s: copying %s: %s", dst, what, reason(rc));
        remove_partial(tmp);
        return rc == ENOSPC || rc == EDQUOT || rc == EIO ? SCRIM_EIO : SCRIM_EDB;
    }

    /* The copy opens as a store (then its lock file, made by the open, goes). */
    scrim_store *chk = NULL;
    scrim_store_opts co = {.readonly = 1, .max_readers = 8};
    if (scrim_store_open(tmp, &co, &chk, serr, sizeof serr)) {
        scrim__seterr(err, errlen, "%s: the copy does not open: %s", dst, serr);
        remove_partial(tmp);
        return SCRIM_EDB;
    }
    scrim_store_close(chk);
    snprintf(p, sizeof p, "%s/lock.mdb", tmp);
    unlink(p);

    if (fsync_path(tmp, 1) ||
        renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE)) {
        int e = errno;
        scrim__seterr(err, errlen, "%s: %s", dst,
                      e == EEXIST ? "already exists (made while copying)"
                                  : strerror(e));
        remove_partial(tmp);
        return e == EEXIST ? SCRIM_EEXIST : SCRIM_EIO;
    }
    if (fsync_path(parent, 1)) {
        scrim__seterr(err, errlen, "%s: cannot sync the directory: %s", parent,
                      strerror(errno));
        return SCRIM_EIO;
    }
    st->seconds = mono_now() - t0;
    return 0;
}
