/* store.c - the LMDB environment of the hash-list store: opening, lists,
 * removal, the audit table, record encodings and the JSON shapes. */
#include "index/index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- names ------------------------------------------------------------------ */

static const char *const type_names[] = {NULL, "pdq", "md5", "sha256", "video"};

const char *scrim_hash_type_name(int type)
{
    return type >= 1 && type <= 4 ? type_names[type] : "unknown";
}

int scrim_hash_type_parse(const char *s)
{
    for (int t = 1; t <= 4; t++)
        if (s && !strcasecmp(s, type_names[t]))
            return t;
    return SCRIM_EINVAL;
}

const char *scrim_list_kind_name(int kind)
{
    return kind == SCRIM_LIST_ALLOW ? "allow" : "block";
}

int scrim_list_kind_parse(const char *s)
{
    if (s && !strcmp(s, "block"))
        return SCRIM_LIST_BLOCK;
    if (s && !strcmp(s, "allow"))
        return SCRIM_LIST_ALLOW;
    return SCRIM_EINVAL;
}

int scrim_list_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > SCRIM_LIST_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* ---- small helpers ------------------------------------------------------------ */

int64_t store__now(void)
{
    return (int64_t)time(NULL);
}

int scrim__mdb_err(int rc, const char *what, char *err, size_t errlen)
{
    if (rc == MDB_MAP_FULL)
        scrim__seterr(err, errlen, "%s: the database is full (raise the map size)",
                      what);
    else
        scrim__seterr(err, errlen, "%s: %s", what, mdb_strerror(rc));
    return rc == ENOMEM ? SCRIM_ENOMEM : SCRIM_EDB;
}

void store__key_list(uint8_t *key, uint32_t list)
{
    key[0] = (uint8_t)(list >> 24);
    key[1] = (uint8_t)(list >> 16);
    key[2] = (uint8_t)(list >> 8);
    key[3] = (uint8_t)list;
}

uint8_t *store__video_key(uint32_t list, const char *id, size_t idlen)
{
    uint8_t *key = malloc(4 + idlen);
    if (key) {
        store__key_list(key, list);
        memcpy(key + 4, id, idlen);
    }
    return key;
}

/* ---- records ------------------------------------------------------------------- */

/* The string fields of a ref_view, in flag order. */
#define STR_FIELDS(r)                                                         \
    const char **str_[REF_NSTR] = {&(r)->id, &(r)->label, &(r)->variant,      \
                                   &(r)->source, &(r)->category, &(r)->tags}; \
    size_t *len_[REF_NSTR] = {&(r)->idlen, &(r)->labellen, &(r)->variantlen,  \
                              &(r)->sourcelen, &(r)->categorylen,             \
                              &(r)->tagslen}

int store__strs_decode(const uint8_t *p, const uint8_t *end, int flags,
                       ref_view *r)
{
    STR_FIELDS(r);
    for (int i = 0; i < REF_NSTR; i++) {
        if (!(flags & (1 << i)))
            continue;
        uint16_t n;
        if (end - p < 2)
            return SCRIM_EDB;
        memcpy(&n, p, 2);
        if (end - p - 2 < n)
            return SCRIM_EDB;
        *str_[i] = (const char *)p + 2;
        *len_[i] = n;
        p += 2 + n;
    }
    return 0;
}

uint8_t *store__strs_encode(uint8_t *p, const ref_view *r, int *flags)
{
    const char *const strs[REF_NSTR] = {r->id, r->label, r->variant,
                                        r->source, r->category, r->tags};
    const size_t lens[REF_NSTR] = {r->idlen, r->labellen, r->variantlen,
                                   r->sourcelen, r->categorylen, r->tagslen};
    *flags = 0;
    for (int i = 0; i < REF_NSTR; i++) {
        if (!strs[i])
            continue;
        uint16_t n = (uint16_t)lens[i];
        memcpy(p, &n, 2);
        memcpy(p + 2, strs[i], n);
        p += 2 + n;
        *flags |= 1 << i;
    }
    return p;
}

int store__ref_decode(const void *data, size_t len, ref_view *r)
{
    const uint8_t *p = data, *end = p + len;
    if (len < REF_BASE)
        return SCRIM_EDB;
    memset(r, 0, sizeof *r);
    memcpy(&r->hash, p + REF_HASH, sizeof r->hash);
    memcpy(&r->list, p + REF_LIST, 4);
    memcpy(&r->import, p + REF_IMPORT, 4);
    r->type = p[REF_TYPE];
    r->quality = p[REF_QUALITY] == 255 ? -1 : p[REF_QUALITY];
    int flags = p[REF_FLAGS];
    r->quarantined = !!(flags & REF_F_QUARANTINE);
    p += REF_BASE;
    if (r->type == SCRIM_HASH_VIDEO) {
        if (end - p < REF_VIDEO_LEN)
            return SCRIM_EDB;
        memcpy(&r->entry, p, 4);
        memcpy(&r->frame, p + 4, 4);
        memcpy(&r->frames, p + 8, 4);
        memcpy(&r->seconds, p + 12, 4);
        p += REF_VIDEO_LEN;
    }
    return store__strs_decode(p, end, flags, r);
}

size_t store__ref_encode(uint8_t *buf, const ref_view *r)
{
    uint8_t *p = buf;
    memcpy(p + REF_HASH, &r->hash, sizeof r->hash);
    memcpy(p + REF_LIST, &r->list, 4);
    memcpy(p + REF_IMPORT, &r->import, 4);
    p[REF_TYPE] = (uint8_t)r->type;
    p[REF_QUALITY] = r->quality < 0 || r->quality > 254 ? 255
                                                         : (uint8_t)r->quality;
    p += REF_BASE;
    if (r->type == SCRIM_HASH_VIDEO) {
        memcpy(p, &r->entry, 4);
        memcpy(p + 4, &r->frame, 4);
        memcpy(p + 8, &r->frames, 4);
        memcpy(p + 12, &r->seconds, 4);
        p += REF_VIDEO_LEN;
    }
    int flags;
    p = store__strs_encode(p, r, &flags);
    buf[REF_FLAGS] = (uint8_t)(flags | (r->quarantined ? REF_F_QUARANTINE : 0));
    return (size_t)(p - buf);
}

int store__digest_decode(const void *data, size_t len, ref_view *r)
{
    const uint8_t *p = data;
    memset(r, 0, sizeof *r);
    if (len < DIGEST_BASE)
        return SCRIM_EDB;
    memcpy(&r->import, p, 4);
    r->quality = p[4] == 255 ? -1 : p[4];
    r->quarantined = !!(p[5] & REF_F_QUARANTINE);
    return store__strs_decode(p + DIGEST_BASE, p + len, p[5] & ~REF_F_VARIANT,
                              r);
}

/* ---- opening ---------------------------------------------------------------------- */

/* The database directory is made 0700 (its parents 0755): the lists, the
 * review records and LMDB's lock files are the daemon's alone. */
static int mkdir_p(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0700) && errno != EEXIST ? -1 : 0;
}

/* LMDB maps its lock file and writes the reader table through that map.  A
 * page of it that the file system has not allocated (a new file, which LMDB
 * only extends with ftruncate, or one left sparse by an earlier run) is
 * allocated at the first write through the map, and on a full disk that
 * write faults: SIGBUS, at start-up or at the first reader past the pages
 * used so far.  So the whole file is allocated here, before LMDB opens it,
 * at the size LMDB gives it (64 bytes per reader slot but one, and a
 * 192-byte header with the first;
 * never less than the file has), and a full disk is an error that names the
 * file instead of a signal.  A file that cannot be opened for writing is
 * left to LMDB (a read-only store on a read-only file system works without
 * one); a file system without fallocate() keeps LMDB's behaviour. */
static int lock_prealloc(const char *path, unsigned readers, char *err,
                         size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return 0;
    struct stat st;
    off_t len = (off_t)(readers ? readers - 1 : 0) * 64 + 192;
    int rc = 0;
    if (fstat(fd, &st) == 0) {
        if (st.st_size > len)
            len = st.st_size;
        if ((off_t)st.st_blocks * 512 < len && fallocate(fd, 0, 0, len) &&
            errno != EOPNOTSUPP && errno != ENOSYS) {
            scrim__seterr(err, errlen, "%s: cannot allocate LMDB's lock file "
                          "(%lld bytes): %s", path, (long long)len,
                          strerror(errno));
            rc = errno == ENOSPC || errno == EDQUOT ? SCRIM_EIO : SCRIM_EDB;
        }
    }
    close(fd);
    return rc;
}

int scrim_store_open(const char *dir, const scrim_store_opts *opts,
                     scrim_store **out, char *err, size_t errlen)
{
    scrim_store_opts o = {0};
    if (opts)
        o = *opts;
    *out = NULL;
    if (!dir || !*dir) {
        scrim__seterr(err, errlen, "no database directory given");
        return SCRIM_EINVAL;
    }
    struct stat st;
    if (stat(dir, &st)) {
        if (!o.create || mkdir_p(dir)) {
            scrim__seterr(err, errlen, "%s: %s", dir,
                          o.create ? strerror(errno) : "no such database");
            return o.create ? SCRIM_EIO : SCRIM_ENOTFOUND;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        scrim__seterr(err, errlen, "%s: not a directory", dir);
        return SCRIM_EINVAL;
    }
    scrim_store *s = calloc(1, sizeof *s);
    if (!s)
        return SCRIM_ENOMEM;
    snprintf(s->path, sizeof s->path, "%s", dir);
    pthread_mutex_init(&s->rlock, NULL);
    pthread_mutex_init(&s->dlock, NULL);
    pthread_mutex_init(&s->hc_lock, NULL);
    pthread_mutex_init(&s->side_lock, NULL);
    s->opts = o;
    int rc = mdb_env_create(&s->env);
    MDB_txn *txn = NULL;
    if (rc)
        goto fail;
    mdb_env_set_maxdbs(s->env, 7 + SCRIM_STORE_SPARE_DBS);
    mdb_env_set_mapsize(s->env, o.map_size ? o.map_size : SCRIM_STORE_DEFAULT_MAP);
    unsigned readers = o.max_readers ? o.max_readers : 1024;
    mdb_env_set_maxreaders(s->env, readers);
    char lock[sizeof s->path + 16];
    snprintf(lock, sizeof lock, "%s/lock.mdb", dir);
    int prc = lock_prealloc(lock, readers, err, errlen);
    if (prc) {
        mdb_env_close(s->env);
        free(s);
        return prc;
    }
    rc = mdb_env_open(s->env, dir, MDB_NOTLS | (o.readonly ? MDB_RDONLY : 0),
                      0600);
    if (rc)
        goto fail;
    store__map_advise(s);
    unsigned flags = o.readonly ? 0 : MDB_CREATE;
    rc = mdb_txn_begin(s->env, NULL, o.readonly ? MDB_RDONLY : 0, &txn);
    if (rc)
        goto fail;
    static const char *const names[] = {"scrim.meta", "scrim.lists", "scrim.refs",
                                        "scrim.index", "scrim.digests",
                                        "scrim.videos", "scrim.audit"};
    MDB_dbi *dbis[] = {&s->meta, &s->lists, &s->refs, &s->index,
                       &s->digests, &s->videos, &s->audit};
    for (int i = 0; i < 7 && !rc; i++) {
        unsigned f = flags;
        if (i == 2 || i == 3)
            f |= MDB_INTEGERKEY;
        if (i == 6)
            f |= MDB_INTEGERKEY;
        rc = mdb_dbi_open(txn, names[i], f, dbis[i]);
    }
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        txn = NULL;
        scrim__seterr(err, errlen, "%s: not a scrim database", dir);
        mdb_env_close(s->env);
        free(s);
        return SCRIM_ENOTFOUND;
    }
    if (rc)
        goto fail;
    /* the record layout version: written once, checked on every open */
    MDB_val k = {6, "format"}, v;
    uint64_t fmt = STORE_FORMAT;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND && !o.readonly) {
        v.mv_size = sizeof fmt;
        v.mv_data = &fmt;
        rc = mdb_put(txn, s->meta, &k, &v, 0);
    } else if (rc == 0) {
        uint64_t have = 0;
        if (v.mv_size == sizeof have)
            memcpy(&have, v.mv_data, sizeof have);
        if (have != STORE_FORMAT) {
            mdb_txn_abort(txn);
            scrim__seterr(err, errlen, "%s: database format %llu, this build reads %d",
                          dir, (unsigned long long)have, STORE_FORMAT);
            mdb_env_close(s->env);
            free(s);
            return SCRIM_EDB;
        }
    } else if (rc == MDB_NOTFOUND) {
        rc = 0;
    }
    if (rc)
        goto fail;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc)
        goto fail;
    *out = s;
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    scrim__seterr(err, errlen, "%s: cannot open the database: %s", dir,
                  mdb_strerror(rc));
    if (s->env)
        mdb_env_close(s->env);
    free(s);
    return SCRIM_EDB;
}

void scrim_store_close(scrim_store *s)
{
    if (!s)
        return;
    store__rtxn_cache_free(s);
    free(s->dir);
    store__hc_free(s);
    mdb_env_close(s->env);
    if (s->side)
        mdb_env_close(s->side);
    pthread_mutex_destroy(&s->rlock);
    pthread_mutex_destroy(&s->dlock);
    pthread_mutex_destroy(&s->hc_lock);
    pthread_mutex_destroy(&s->side_lock);
    free(s);
}

MDB_env *scrim_store_env(scrim_store *s)
{
    return s->env;
}

/* Move the named databases of other modules that an older layout kept in
 * data.mdb into the side environment: copied in one transaction of the
 * side's, then dropped in one of the store's, so that a crash between the
 * two leaves them in both rather than in neither; the next open copies them
 * again, keeping what side.mdb has (written since) over the old copy. */
static int side_adopt(scrim_store *s, MDB_env *side)
{
    MDB_txn *from = NULL, *to = NULL;
    MDB_cursor *names = NULL;
    MDB_dbi main_dbi;
    MDB_val k, v;
    char moved[SCRIM_STORE_SPARE_DBS][512];
    int n = 0;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &from);
    if (!rc)
        rc = mdb_txn_begin(side, NULL, 0, &to);
    if (!rc)
        rc = mdb_dbi_open(from, NULL, 0, &main_dbi);
    if (!rc)
        rc = mdb_cursor_open(from, main_dbi, &names);
    for (rc = rc ? rc : mdb_cursor_get(names, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(names, &k, &v, MDB_NEXT)) {
        if (k.mv_size >= sizeof moved[0] || (k.mv_size >= 6 && !memcmp(k.mv_data, "scrim.", 6)))
            continue;
        if (n == SCRIM_STORE_SPARE_DBS) {
            rc = MDB_DBS_FULL;
            break;
        }
        memcpy(moved[n], k.mv_data, k.mv_size);
        moved[n][k.mv_size] = '\0';
        MDB_dbi a, b;
        MDB_cursor *c;
        unsigned flags;
        /* a plain key in the main database is no named database */
        if (mdb_dbi_open(from, moved[n], 0, &a))
            continue;
        if ((rc = mdb_dbi_flags(from, a, &flags)) ||
            (rc = mdb_dbi_open(to, moved[n], MDB_CREATE | flags, &b)) ||
            (rc = mdb_cursor_open(from, a, &c)))
            break;
        MDB_val ck, cv;
        unsigned keep = flags & MDB_DUPSORT ? MDB_NODUPDATA : MDB_NOOVERWRITE;
        for (rc = mdb_cursor_get(c, &ck, &cv, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &ck, &cv, MDB_NEXT))
            if ((rc = mdb_put(to, b, &ck, &cv, keep)) && rc != MDB_KEYEXIST)
                break;
        mdb_cursor_close(c);
        if (rc != MDB_NOTFOUND)
            break;
        n++;
    }
    if (names)
        mdb_cursor_close(names);
    if (from)
        mdb_txn_abort(from);
    if (rc != MDB_NOTFOUND) {
        if (to)
            mdb_txn_abort(to);
        return rc;
    }
    if ((rc = mdb_txn_commit(to)) || !n)
        return rc;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &from)))
        return rc;
    for (int i = 0; i < n && !rc; i++) {
        MDB_dbi a;
        if (!(rc = mdb_dbi_open(from, moved[i], 0, &a)))
            rc = mdb_drop(from, a, 1);
    }
    if (rc) {
        mdb_txn_abort(from);
        return rc;
    }
    return mdb_txn_commit(from);
}

int scrim_store_side_env(scrim_store *s, MDB_env **out, char *err, size_t errlen)
{
    char path[sizeof s->path + 16], lock[sizeof path + 8];
    snprintf(path, sizeof path, "%s/side.mdb", s->path);
    snprintf(lock, sizeof lock, "%s-lock", path);
    pthread_mutex_lock(&s->side_lock);
    int rc = 0, prc = 0, created = 0;
    MDB_env *e = s->side;
    if (!e) {
        struct stat st;
        int missing = stat(path, &st) && errno == ENOENT;
        unsigned readers = s->opts.max_readers ? s->opts.max_readers : 1024;
        created = missing && !s->opts.readonly;
        if (missing && s->opts.readonly) {
            rc = ENOENT;
        } else if ((prc = lock_prealloc(lock, readers, err, errlen))) {
            rc = -1;
        } else if (!(rc = mdb_env_create(&e))) {
            mdb_env_set_maxdbs(e, SCRIM_STORE_SPARE_DBS);
            mdb_env_set_mapsize(e, s->opts.map_size ? s->opts.map_size
                                                    : SCRIM_STORE_DEFAULT_MAP);
            mdb_env_set_maxreaders(e, readers);
            rc = mdb_env_open(e, path, MDB_NOSUBDIR | MDB_NOTLS |
                                           (s->opts.readonly ? MDB_RDONLY : 0), 0600);
            if (!rc && !s->opts.readonly)
                rc = side_adopt(s, e);
            if (rc) {
                mdb_env_close(e);
                e = NULL;
            }
        }
        if (rc && created) {   /* the next call creates it again */
            unlink(path);
            unlink(lock);
        }
        s->side = e;
    }
    pthread_mutex_unlock(&s->side_lock);
    *out = e;
    if (prc)
        return prc;   /* err names the lock file */
    if (rc)
        scrim__seterr(err, errlen, "%s: %s", path,
                      rc == ENOENT ? "no such file (nothing was ever written there)"
                                   : mdb_strerror(rc));
    return rc ? SCRIM_EDB : 0;
}

/* ---- meta counters and the audit table ---------------------------------------------- */

int store__meta_next(scrim_store *s, MDB_txn *txn, const char *key,
                     uint64_t *out)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    uint64_t n = 1;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == 0 && v.mv_size == sizeof n)
        memcpy(&n, v.mv_data, sizeof n);
    else if (rc && rc != MDB_NOTFOUND)
        return rc;
    *out = n;
    n++;
    v.mv_size = sizeof n;
    v.mv_data = &n;
    return mdb_put(txn, s->meta, &k, &v, 0);
}

int store__meta_get(scrim_store *s, MDB_txn *txn, const char *key,
                    uint64_t *out)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    *out = 1;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == 0 && v.mv_size == sizeof *out)
        memcpy(out, v.mv_data, sizeof *out);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store__meta_set(scrim_store *s, MDB_txn *txn, const char *key, uint64_t n)
{
    MDB_val k = {strlen(key), (void *)key}, v = {sizeof n, &n};
    return mdb_put(txn, s->meta, &k, &v, 0);
}

/* The change-log id the calling thread's next write applies (cluster
 * mode): every write transaction audits its change just before it commits,
 * so store__audit_add records it there, in the same transaction. */
static _Thread_local uint64_t applying;

void scrim_store_applying(uint64_t change)
{
    applying = change;
}

int scrim_store_applied(scrim_store *s, uint64_t *out, char *err,
                        size_t errlen)
{
    MDB_txn *txn;
    *out = 0;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (!rc) {
        MDB_val k = {15, "cluster.applied"}, v;
        rc = mdb_get(txn, s->meta, &k, &v);
        if (!rc && v.mv_size == sizeof *out)
            memcpy(out, v.mv_data, sizeof *out);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
        mdb_txn_abort(txn);
    }
    return rc ? scrim__mdb_err(rc, "cluster position", err, errlen) : 0;
}

int scrim_store_cluster_node(scrim_store *s, int *node, uint64_t *applied,
                             char *err, size_t errlen)
{
    MDB_txn *txn;
    *node = 0;
    *applied = 0;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (!rc) {
        MDB_val k = {15, "cluster.applied"}, v;
        rc = mdb_get(txn, s->meta, &k, &v);
        if (!rc) {
            *node = 1;
            if (v.mv_size == sizeof *applied)
                memcpy(applied, v.mv_data, sizeof *applied);
        }
        rc = rc == MDB_NOTFOUND ? 0 : rc;
        mdb_txn_abort(txn);
    }
    return rc ? scrim__mdb_err(rc, "cluster position", err, errlen) : 0;
}

int scrim_store_set_applied(scrim_store *s, uint64_t change, char *err,
                            size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (!rc && (rc = store__meta_set(s, txn, "cluster.applied", change)))
        mdb_txn_abort(txn);
    if (!rc)
        rc = mdb_txn_commit(txn);
    return rc ? scrim__mdb_err(rc, "cluster position", err, errlen) : 0;
}

int store__audit_add(scrim_store *s, MDB_txn *txn, uint64_t seq,
                     const char *action, const char *list, uint64_t count,
                     const char *detail)
{
    scrim_audit_rec a;
    int rc;
    if (applying && (rc = store__meta_set(s, txn, "cluster.applied", applying)))
        return rc;
    memset(&a, 0, sizeof a);
    a.seq = seq;
    a.time = store__now();
    snprintf(a.action, sizeof a.action, "%s", action);
    snprintf(a.list, sizeof a.list, "%s", list ? list : "");
    a.count = count;
    snprintf(a.detail, sizeof a.detail, "%s", detail ? detail : "");
    size_t key = (size_t)seq;
    MDB_val k = {sizeof key, &key}, v = {sizeof a, &a};
    return mdb_put(txn, s->audit, &k, &v, 0);
}

int scrim_store_audit(scrim_store *s, size_t limit, scrim_audit_rec **out,
                      size_t *n, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    size_t cap = 0, len = 0;
    scrim_audit_rec *arr = NULL;
    *out = NULL;
    *n = 0;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return scrim__mdb_err(rc, "audit", err, errlen);
    rc = mdb_cursor_open(txn, s->audit, &c);
    /* walk backwards from the newest, then reverse */
    for (rc = rc ? rc : mdb_cursor_get(c, &k, &v, MDB_LAST);
         rc == 0 && (!limit || len < limit);
         rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
        if (v.mv_size != sizeof *arr)
            continue;
        if (scrim__grow(&arr, &cap, len, sizeof *arr, 64)) {
            rc = ENOMEM;
            break;
        }
        memcpy(&arr[len++], v.mv_data, sizeof *arr);
    }
    if (c)
        mdb_cursor_close(c);
    mdb_txn_abort(txn);
    if (rc && rc != MDB_NOTFOUND) {
        free(arr);
        return scrim__mdb_err(rc, "audit", err, errlen);
    }
    for (size_t i = 0; i < len / 2; i++) {
        scrim_audit_rec t = arr[i];
        arr[i] = arr[len - 1 - i];
        arr[len - 1 - i] = t;
    }
    *out = arr;
    *n = len;
    return 0;
}

/* ---- the import history ----------------------------------------------------------- */

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

void store__imports_key(uint8_t *key, uint32_t list, uint64_t seq,
                        uint32_t input)
{
    memcpy(key, "imports", 7);
    put_be(key + 7, list, 4);
    put_be(key + 11, seq, 8);
    put_be(key + 19, input, 4);
}

/* Every key of a cursor's database that starts with pfx[0, n), from
 * MDB_SET_RANGE on; rc is MDB_NOTFOUND (or 0) at the end, else the error. */
#define FOR_PREFIX(c, k, v, pfx, n, rc)                                       \
    for (k.mv_size = (n), k.mv_data = (pfx),                                  \
         rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);                       \
         rc == 0 && k.mv_size >= (n) && !memcmp(k.mv_data, (pfx), (n));       \
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))

int store__imports_trim(scrim_store *s, MDB_txn *txn, uint32_t list)
{
    uint8_t pfx[IMPORTS_KEY_LEN];
    MDB_cursor *c;
    MDB_val k, v;
    size_t n = 0;
    store__imports_key(pfx, list, 0, 0);
    int rc = mdb_cursor_open(txn, s->meta, &c);
    if (rc)
        return rc;
    FOR_PREFIX(c, k, v, pfx, 11, rc)
        n++;
    FOR_PREFIX(c, k, v, pfx, 11, rc) {
        if (n-- <= SCRIM_LIST_IMPORTS)
            break;
        if ((rc = mdb_cursor_del(c, 0)))
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store__imports_load(scrim_store *s, MDB_txn *txn, uint32_t list,
                        scrim_list_info *l)
{
    uint8_t pfx[IMPORTS_KEY_LEN];
    MDB_cursor *c;
    MDB_val k, v;
    static const char *const modes[] = {"add", "replace", "remove"};
    store__imports_key(pfx, list, 0, 0);
    l->nimports = 0;
    int rc = mdb_cursor_open(txn, s->meta, &c);
    if (rc)
        return rc;
    /* oldest first: each shifts the ones before it down */
    FOR_PREFIX(c, k, v, pfx, 11, rc) {
        struct import_rec r;
        if (v.mv_size != sizeof r)
            continue;
        memcpy(&r, v.mv_data, sizeof r);
        size_t n = l->nimports < SCRIM_LIST_IMPORTS ? l->nimports
                                                    : SCRIM_LIST_IMPORTS - 1;
        memmove(&l->imports[1], &l->imports[0], n * sizeof l->imports[0]);
        struct scrim_list_import *im = &l->imports[0];
        memset(im, 0, sizeof *im);
        im->time = r.time;
        r.source[sizeof r.source - 1] = '\0';
        snprintf(im->source, sizeof im->source, "%s", r.source);
        scrim__hex_encode(r.sha256, 32, im->sha256);
        snprintf(im->mode, sizeof im->mode, "%s", modes[r.mode % 3]);
        im->bytes = r.bytes;
        im->lines = r.lines;
        im->added = r.added;
        im->kept = r.kept;
        im->removed = r.removed;
        l->nimports = n + 1;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- lists ------------------------------------------------------------------------- */

int store__name_check(const char *name, char *err, size_t errlen)
{
    if (scrim_list_name_valid(name))
        return 0;
    scrim__seterr(err, errlen, "invalid list name '%s' (1-%d of A-Z a-z 0-9 . _ -)",
                  name ? name : "", SCRIM_LIST_NAME_MAX);
    return SCRIM_EINVAL;
}

int store__list_load(scrim_store *s, MDB_txn *txn, const char *name,
                     struct list_rec *rec, char *desc, char *err,
                     size_t errlen)
{
    if (store__name_check(name, err, errlen))
        return SCRIM_EINVAL;
    MDB_val k = {strlen(name), (void *)name}, v;
    int rc = mdb_get(txn, s->lists, &k, &v);
    if (rc == MDB_NOTFOUND) {
        scrim__seterr(err, errlen, "no list named '%s'", name);
        return SCRIM_ENOTFOUND;
    }
    if (rc)
        return scrim__mdb_err(rc, "list", err, errlen);
    if (v.mv_size < sizeof *rec) {
        scrim__seterr(err, errlen, "list '%s': corrupt record", name);
        return SCRIM_EDB;
    }
    memcpy(rec, v.mv_data, sizeof *rec);
    if (desc) {
        size_t dl = v.mv_size - sizeof *rec;
        if (dl > SCRIM_LIST_DESC_MAX)
            dl = SCRIM_LIST_DESC_MAX;
        memcpy(desc, (const char *)v.mv_data + sizeof *rec, dl);
        desc[dl] = '\0';
    }
    return 0;
}

int store__list_save(scrim_store *s, MDB_txn *txn, const char *name,
                     const struct list_rec *rec, const char *desc)
{
    size_t dl = desc ? strlen(desc) : 0;
    MDB_val k = {strlen(name), (void *)name}, v = {sizeof *rec + dl, NULL};
    int rc = mdb_put(txn, s->lists, &k, &v, MDB_RESERVE);
    if (rc)
        return rc;
    memcpy(v.mv_data, rec, sizeof *rec);
    if (dl)
        memcpy((char *)v.mv_data + sizeof *rec, desc, dl);
    return 0;
}

static void info_from_rec(scrim_list_info *l, const char *name, size_t nlen,
                          const struct list_rec *r, const char *desc,
                          size_t dlen)
{
    memset(l, 0, sizeof *l);
    if (nlen > SCRIM_LIST_NAME_MAX)
        nlen = SCRIM_LIST_NAME_MAX;
    memcpy(l->name, name, nlen);
    if (dlen > SCRIM_LIST_DESC_MAX)
        dlen = SCRIM_LIST_DESC_MAX;
    memcpy(l->description, desc, dlen);
    l->kind = r->kind;
    l->enabled = r->enabled;
    l->radius = r->radius;
    l->id = r->id;
    l->created = r->created;
    l->modified = r->modified;
    l->pdq = r->pdq;
    l->md5 = r->md5;
    l->sha256 = r->sha256;
    l->video = r->video;
    l->frames = r->frames;
    l->count = r->pdq + r->md5 + r->sha256 + r->video;
}

/* Validate params; returns 0 or SCRIM_EINVAL with a message. */
int store__params_check(const scrim_list_params *p, char *err, size_t errlen)
{
    if (!p)
        return 0;
    if (p->radius != -1 && (p->radius < 0 || p->radius > SCRIM_MAX_RADIUS)) {
        scrim__seterr(err, errlen, "radius %d out of range 0-%d", p->radius,
                      SCRIM_MAX_RADIUS);
        return SCRIM_EINVAL;
    }
    if (p->kind != -1 && p->kind != SCRIM_LIST_BLOCK &&
        p->kind != SCRIM_LIST_ALLOW) {
        scrim__seterr(err, errlen, "kind must be block or allow");
        return SCRIM_EINVAL;
    }
    if (p->description && strlen(p->description) > SCRIM_LIST_DESC_MAX) {
        scrim__seterr(err, errlen, "description longer than %d bytes",
                      SCRIM_LIST_DESC_MAX);
        return SCRIM_EINVAL;
    }
    /* it goes out in JSON (GET /v1/lists), which only holds UTF-8 */
    json_t *d = p->description ? json_string(p->description) : NULL;
    if (p->description && !d) {
        scrim__seterr(err, errlen, "description is not valid UTF-8 text");
        return SCRIM_EINVAL;
    }
    json_decref(d);
    return 0;
}

int store__list_new(scrim_store *s, MDB_txn *txn, const char *name,
                    const scrim_list_params *p, struct list_rec *rec,
                    char *desc, char *err, size_t errlen)
{
    uint64_t id;
    int rc = store__meta_next(s, txn, "next_list", &id);
    if (rc)
        return scrim__mdb_err(rc, "create list", err, errlen);
    memset(rec, 0, sizeof *rec);
    rec->id = (uint32_t)id;
    rec->kind = SCRIM_LIST_BLOCK;
    rec->enabled = 1;
    rec->radius = SCRIM_DEFAULT_RADIUS;
    rec->created = rec->modified = store__now();
    desc[0] = '\0';
    store__params_apply(rec, desc, p);
    rc = store__list_save(s, txn, name, rec, desc);
    return rc ? scrim__mdb_err(rc, "create list", err, errlen) : 0;
}

void store__params_apply(struct list_rec *rec, char *desc,
                         const scrim_list_params *p)
{
    if (!p)
        return;
    if (p->kind != -1)
        rec->kind = (uint8_t)p->kind;
    if (p->enabled != -1)
        rec->enabled = p->enabled ? 1 : 0;
    if (p->radius != -1)
        rec->radius = (uint8_t)p->radius;
    if (p->description)
        snprintf(desc, SCRIM_LIST_DESC_MAX + 1, "%s", p->description);
}

static void params_detail(char *buf, size_t len, const scrim_list_params *p)
{
    size_t o = 0;
    buf[0] = '\0';
    if (!p)
        return;
    if (p->kind != -1)
        o += (size_t)snprintf(buf + o, len - o, "kind=%s ",
                              scrim_list_kind_name(p->kind));
    if (p->enabled != -1 && o < len)
        o += (size_t)snprintf(buf + o, len - o, "%s ",
                              p->enabled ? "enabled" : "disabled");
    if (p->radius != -1 && o < len)
        o += (size_t)snprintf(buf + o, len - o, "radius=%d ", p->radius);
    if (p->description && o < len)
        o += (size_t)snprintf(buf + o, len - o, "description ");
    if (o && o < len)
        buf[o - 1] = '\0';
}

/* A write transaction for a change of list settings p (checked first):
 * SCRIM_E* with err set. */
static int settings_begin(scrim_store *s, const scrim_list_params *p,
                          const char *what, MDB_txn **txn, char *err,
                          size_t errlen)
{
    int rc = store__params_check(p, err, errlen);
    if (rc)
        return rc;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, txn)))
        return scrim__mdb_err(rc, what, err, errlen);
    return 0;
}

/* Audits the change (`action` of list `name` with settings p) and commits
 * the transaction, which is gone either way. */
static int settings_commit(scrim_store *s, MDB_txn *txn, const char *action,
                           const char *name, const scrim_list_params *p,
                           const char *what, char *err, size_t errlen)
{
    char detail[256];
    uint64_t seq;
    int rc;
    params_detail(detail, sizeof detail, p);
    if ((rc = store__meta_next(s, txn, "next_audit", &seq)) ||
        (rc = store__audit_add(s, txn, seq, action, name, 0, detail))) {
        mdb_txn_abort(txn);
        return scrim__mdb_err(rc, what, err, errlen);
    }
    if ((rc = mdb_txn_commit(txn)))
        return scrim__mdb_err(rc, what, err, errlen);
    return 0;
}

int scrim_store_list_create(scrim_store *s, const char *name,
                            const scrim_list_params *p, char *err,
                            size_t errlen)
{
    MDB_txn *txn;
    if (store__name_check(name, err, errlen))
        return SCRIM_EINVAL;
    int rc = settings_begin(s, p, "create list", &txn, err, errlen);
    if (rc)
        return rc;
    MDB_val k = {strlen(name), (void *)name}, v;
    struct list_rec rec;
    char desc[SCRIM_LIST_DESC_MAX + 1];
    if (mdb_get(txn, s->lists, &k, &v) == 0) {
        scrim__seterr(err, errlen, "list '%s' already exists", name);
        rc = SCRIM_EEXIST;
    } else {
        rc = store__list_new(s, txn, name, p, &rec, desc, err, errlen);
    }
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return settings_commit(s, txn, "create", name, p, "create list", err,
                           errlen);
}

int scrim_store_list_set(scrim_store *s, const char *name,
                         const scrim_list_params *p, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = settings_begin(s, p, "list", &txn, err, errlen);
    if (rc)
        return rc;
    struct list_rec rec;
    char desc[SCRIM_LIST_DESC_MAX + 1];
    if ((rc = store__list_load(s, txn, name, &rec, desc, err, errlen))) {
        mdb_txn_abort(txn);
        return rc;
    }
    store__params_apply(&rec, desc, p);
    rec.modified = store__now();
    if ((rc = store__list_save(s, txn, name, &rec, desc))) {
        mdb_txn_abort(txn);
        return scrim__mdb_err(rc, "list", err, errlen);
    }
    return settings_commit(s, txn, "set", name, p, "list", err, errlen);
}

int scrim_store_list_get(scrim_store *s, const char *name,
                         scrim_list_info *out, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return scrim__mdb_err(rc, "list", err, errlen);
    struct list_rec rec;
    char desc[SCRIM_LIST_DESC_MAX + 1];
    rc = store__list_load(s, txn, name, &rec, desc, err, errlen);
    if (!rc) {
        info_from_rec(out, name, strlen(name), &rec, desc, strlen(desc));
        if ((rc = store__imports_load(s, txn, rec.id, out)))
            rc = scrim__mdb_err(rc, "list", err, errlen);
    }
    mdb_txn_abort(txn);
    return rc;
}

int scrim_store_lists(scrim_store *s, scrim_list_info **out, size_t *n,
                      char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    scrim_list_info *arr = NULL;
    size_t len = 0, cap = 0;
    *out = NULL;
    *n = 0;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return scrim__mdb_err(rc, "lists", err, errlen);
    rc = mdb_cursor_open(txn, s->lists, &c);
    for (rc = rc ? rc : mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        struct list_rec rec;
        if (v.mv_size < sizeof rec)
            continue;
        memcpy(&rec, v.mv_data, sizeof rec);
        if (scrim__grow(&arr, &cap, len, sizeof *arr, 16)) {
            rc = ENOMEM;
            break;
        }
        info_from_rec(&arr[len++], k.mv_data, k.mv_size, &rec,
                      (const char *)v.mv_data + sizeof rec,
                      v.mv_size - sizeof rec);
    }
    if (c)
        mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) {
        rc = 0;
        for (size_t i = 0; i < len && !rc; i++)
            rc = store__imports_load(s, txn, arr[i].id, &arr[i]);
        rc = rc ? rc : MDB_NOTFOUND;
    }
    mdb_txn_abort(txn);
    if (rc != MDB_NOTFOUND) {
        free(arr);
        return scrim__mdb_err(rc, "lists", err, errlen);
    }
    *out = arr;
    *n = len;
    return 0;
}

/* Delete every key of `dbi` that starts with the list id (big-endian). */
static int delete_prefix(MDB_txn *txn, MDB_dbi dbi, uint32_t id,
                         uint64_t *count)
{
    uint8_t pfx[4];
    store__key_list(pfx, id);
    MDB_cursor *c;
    MDB_val k = {4, pfx}, v;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size >= 4 && !memcmp(k.mv_data, pfx, 4);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if ((rc = mdb_cursor_del(c, 0)))
            break;
        (*count)++;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int scrim_store_list_drop(scrim_store *s, const char *name, uint64_t *removed,
                          char *err, size_t errlen)
{
    MDB_txn *txn;
    struct list_rec rec;
    uint64_t *bitmap = NULL, nref = 0, nd = 0, nv = 0, seq, count;
    char detail[256];
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc)
        return scrim__mdb_err(rc, "drop", err, errlen);
    if ((rc = store__list_load(s, txn, name, &rec, NULL, err, errlen)))
        goto fail;
    count = rec.pdq + rec.md5 + rec.sha256 + rec.video;
    if (rec.pdq + rec.frames) {
        /* one pass over the refs, then one over the index */
        if ((rc = store__meta_get(s, txn, "next_ref", &nref)))
            goto mdbfail;
        bitmap = calloc(nref / 64 + 1, sizeof *bitmap);
        if (!bitmap) {
            rc = SCRIM_ENOMEM;
            scrim__seterr(err, errlen, "out of memory");
            goto fail;
        }
        MDB_cursor *c;
        MDB_val k, v;
        if ((rc = mdb_cursor_open(txn, s->refs, &c)))
            goto mdbfail;
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            uint32_t ref, list;
            if (v.mv_size < REF_BASE)
                continue;
            memcpy(&list, (const uint8_t *)v.mv_data + REF_LIST, 4);
            if (list != rec.id)
                continue;
            memcpy(&ref, k.mv_data, 4);
            if (ref < nref)
                bitmap[ref >> 6] |= 1ULL << (ref & 63);
            /* LMDB leaves the cursor so that MDB_NEXT yields the record
             * after the deleted one */
            if ((rc = mdb_cursor_del(c, 0)))
                break;
        }
        mdb_cursor_close(c);
        if (rc != MDB_NOTFOUND)
            goto mdbfail;
        if ((rc = mih__remove_bitmap(txn, s->index, bitmap, nref, err, errlen)))
            goto fail;
    }
    if ((rc = delete_prefix(txn, s->digests, rec.id, &nd)) ||
        (rc = delete_prefix(txn, s->videos, rec.id, &nv)))
        goto mdbfail;
    {   /* its import history */
        uint8_t pfx[IMPORTS_KEY_LEN];
        MDB_cursor *c;
        MDB_val k, v;
        store__imports_key(pfx, rec.id, 0, 0);
        if ((rc = mdb_cursor_open(txn, s->meta, &c)))
            goto mdbfail;
        FOR_PREFIX(c, k, v, pfx, 11, rc)
            if ((rc = mdb_cursor_del(c, 0)))
                break;
        mdb_cursor_close(c);
        if (rc != MDB_NOTFOUND && rc != 0)
            goto mdbfail;
    }
    {   /* its quarantined entries (store_quarantine.c) */
        uint8_t pfx[10 + 4];
        MDB_cursor *c;
        MDB_val k, v;
        memcpy(pfx, "quarantine", 10);
        store__key_list(pfx + 10, rec.id);
        if ((rc = mdb_cursor_open(txn, s->meta, &c)))
            goto mdbfail;
        FOR_PREFIX(c, k, v, pfx, sizeof pfx, rc)
            if ((rc = mdb_cursor_del(c, 0)))
                break;
        mdb_cursor_close(c);
        if (rc != MDB_NOTFOUND && rc != 0)
            goto mdbfail;
    }
    MDB_val k = {strlen(name), (void *)name};
    snprintf(detail, sizeof detail, "pdq=%llu md5=%llu sha256=%llu video=%llu",
             (unsigned long long)rec.pdq, (unsigned long long)rec.md5,
             (unsigned long long)rec.sha256, (unsigned long long)rec.video);
    if ((rc = mdb_del(txn, s->lists, &k, NULL)) ||
        (rc = store__meta_next(s, txn, "next_audit", &seq)) ||
        (rc = store__audit_add(s, txn, seq, "drop", name, count, detail)))
        goto mdbfail;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc)
        goto mdbfail;
    free(bitmap);
    if (removed)
        *removed = count;
    return 0;
mdbfail:
    rc = scrim__mdb_err(rc, "drop", err, errlen);
fail:
    if (txn)
        mdb_txn_abort(txn);
    free(bitmap);
    return rc;
}

/* ---- JSON ----------------------------------------------------------------------- */

json_t *scrim_list_json(const scrim_list_info *l)
{
    json_t *o = json_pack("{s:s, s:s, s:b, s:i, s:I, s:s, s:{s:I, s:I, s:I, s:I, s:I},"
                     " s:I, s:I}",
                     "name", l->name, "kind", scrim_list_kind_name(l->kind),
                     "enabled", l->enabled, "radius", l->radius, "count",
                     (json_int_t)l->count, "description", l->description,
                     "counts", "pdq", (json_int_t)l->pdq, "md5",
                     (json_int_t)l->md5, "sha256", (json_int_t)l->sha256,
                     "video", (json_int_t)l->video, "frames",
                     (json_int_t)l->frames, "created", (json_int_t)l->created,
                     "modified", (json_int_t)l->modified);
    json_t *imports = json_array();
    for (size_t i = 0; o && i < l->nimports; i++) {
        const struct scrim_list_import *im = &l->imports[i];
        json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}",
                              "time", (json_int_t)im->time, "source", im->source,
                              "sha256", im->sha256, "mode", im->mode, "bytes",
                              (json_int_t)im->bytes, "lines", (json_int_t)im->lines,
                              "added", (json_int_t)im->added, "kept",
                              (json_int_t)im->kept, "removed",
                              (json_int_t)im->removed);
        if (!j) /* a source name that is not UTF-8 */
            j = json_pack("{s:I, s:s, s:s}", "time", (json_int_t)im->time,
                          "sha256", im->sha256, "mode", im->mode);
        json_array_append_new(imports, j);
    }
    if (o)
        json_object_set_new(o, "imports", imports);
    else
        json_decref(imports);
    return o;
}

json_t *scrim_import_stats_json(const char *list, int mode,
                                const scrim_import_stats *st)
{
    static const char *const modes[] = {"add", "replace", "remove"};
    json_t *o = json_pack("{s:s, s:s, s:I}", "list", list ? list : "", "mode",
                          modes[mode >= 0 && mode <= 2 ? mode : 0], "lines",
                          (json_int_t)st->lines);
    if (!o)
        return NULL;
    json_t *by[4], *unknown = json_object();
    for (int i = 0; i < 4; i++)
        by[i] = json_object();
    for (int t = SCRIM_HASH_PDQ; t <= SCRIM_HASH_VIDEO; t++) {
        const char *n = scrim_hash_type_name(t);
        json_object_set_new(by[0], n, json_integer((json_int_t)st->added[t]));
        json_object_set_new(by[1], n, json_integer((json_int_t)st->duplicates[t]));
        json_object_set_new(by[2], n, json_integer((json_int_t)st->kept[t]));
        json_object_set_new(by[3], n, json_integer((json_int_t)st->removed[t]));
    }
    for (size_t i = 0; i < 8 && st->unknown_types[i].count; i++)
        json_object_set_new(unknown, st->unknown_types[i].name,
                            json_integer((json_int_t)st->unknown_types[i].count));
    if (mode != SCRIM_IMPORT_REMOVE) {
        json_object_set_new(o, "added", json_integer((json_int_t)st->added[0]));
        json_object_set_new(o, "duplicates",
                            json_integer((json_int_t)st->duplicates[0]));
    }
    if (mode == SCRIM_IMPORT_REPLACE) {
        json_object_set_new(o, "kept", json_integer((json_int_t)st->kept[0]));
        json_object_set_new(o, "updated", json_integer((json_int_t)st->updated));
    }
    json_object_set_new(o, "removed", json_integer((json_int_t)st->removed[0]));
    if (mode == SCRIM_IMPORT_REMOVE)
        json_object_set_new(o, "missing", json_integer((json_int_t)st->missing));
    json_object_set_new(o, "false_positives",
                        json_integer((json_int_t)st->negative));
    json_object_set_new(o, "unknown", json_integer((json_int_t)st->unknown));
    json_object_set_new(o, "unknown_by_type", unknown);
    if (st->sha256[0])
        json_object_set_new(o, "sha256", json_string(st->sha256));
    static const char *const names[] = {"added_by_type", "duplicates_by_type",
                                        "kept_by_type", "removed_by_type"};
    for (int i = 0; i < 4; i++) {
        int want = i == 3 || (i < 2 ? mode != SCRIM_IMPORT_REMOVE
                                    : mode == SCRIM_IMPORT_REPLACE);
        if (want)
            json_object_set_new(o, names[i], by[i]);
        else
            json_decref(by[i]);
    }
    return o;
}

json_t *scrim_audit_json(const scrim_audit_rec *a)
{
    return json_pack("{s:I, s:I, s:s, s:s, s:I, s:s}", "seq", (json_int_t)a->seq,
                     "time", (json_int_t)a->time, "action", a->action, "list",
                     a->list, "count", (json_int_t)a->count, "detail",
                     a->detail);
}
