/* accounts.c - reviewer accounts (only a hash of each token is kept), the
 * exposure of each reviewer per day, the log of who saw and decided what,
 * and per-list content warnings, in LMDB beside the review records. */
#include "scrim.h"
#include "scrim/review.h"
#include "scrim/reviewers.h"
#include "base/base.h"
#include "index/index.h"
#include "review/review.h"

#include <ctype.h>
#include <errno.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

struct scrim_reviewers {
    MDB_env *env;
    MDB_dbi accounts, exposure, log, warnings;
    int64_t (*clock)(void *);
    void *clock_arg;
    uint32_t purged_day;        /* old rows were last deleted that day */
};

#define DAY_US ((int64_t)86400 * 1000000)

static int64_t now_us(const scrim_reviewers *r)
{
    return review__clock_us(r->clock, r->clock_arg);
}

static int db_fail(char *err, size_t errlen, const char *what, int mrc)
{
    return review__db_fail("reviewer", what, mrc, err, errlen);
}

static int commit(MDB_txn **txn, char *err, size_t errlen)
{
    return review__commit("reviewer", txn, err, errlen);
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Delete exposure rows and events older than SCRIM_REVIEW_KEEP_DAYS. */
static int purge(scrim_reviewers *r, MDB_txn *txn)
{
    int64_t now = now_us(r);
    uint32_t oldest_day = (uint32_t)(now / DAY_US) - SCRIM_REVIEW_KEEP_DAYS;
    uint64_t oldest_us = (uint64_t)(now - (int64_t)SCRIM_REVIEW_KEEP_DAYS * DAY_US);
    MDB_cursor *cur;
    MDB_val k, v;
    int mrc;
    if ((mrc = mdb_cursor_open(txn, r->exposure, &cur)))
        return mrc;
    while (!(mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)))
        if (k.mv_size > 4 &&
            get_be((const uint8_t *)k.mv_data + k.mv_size - 4, 4) < oldest_day &&
            (mrc = mdb_cursor_del(cur, 0)))
            break;
    mdb_cursor_close(cur);
    if (mrc != MDB_NOTFOUND)
        return mrc;
    if ((mrc = mdb_cursor_open(txn, r->log, &cur)))
        return mrc;
    while (!(mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) && k.mv_size >= 8 &&
           get_be(k.mv_data, 8) < oldest_us)
        if ((mrc = mdb_cursor_del(cur, 0)))
            break;
    mdb_cursor_close(cur);
    return mrc == MDB_NOTFOUND || !mrc ? 0 : mrc;
}

/* Open the databases: in a read-only transaction when they exist (nothing
 * is written), else created (unless !create: SCRIM_ENOTFOUND). */
static int open_impl(MDB_env *env, int64_t (*clock)(void *), void *clock_arg,
                     int create, scrim_reviewers **out, char *err, size_t errlen)
{
    scrim_reviewers *r = calloc(1, sizeof *r);
    MDB_txn *txn;
    int mrc;
    *out = NULL;
    if (!r) {
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    r->env = env;
    r->clock = clock;
    r->clock_arg = clock_arg;
    for (int pass = 0; pass < 2; pass++) {
        unsigned fl = pass ? MDB_CREATE : 0;
        if ((mrc = mdb_txn_begin(env, NULL, pass ? 0 : MDB_RDONLY, &txn))) {
            free(r);
            return db_fail(err, errlen, "begin", mrc);
        }
        if ((mrc = mdb_dbi_open(txn, "review.reviewers", fl, &r->accounts)) ||
            (mrc = mdb_dbi_open(txn, "review.exposure", fl, &r->exposure)) ||
            (mrc = mdb_dbi_open(txn, "review.log", fl, &r->log)) ||
            (mrc = mdb_dbi_open(txn, "review.warnings", fl, &r->warnings))) {
            mdb_txn_abort(txn);
            if (!pass && mrc == MDB_NOTFOUND && create)
                continue;
            free(r);
            if (mrc == MDB_NOTFOUND) {
                scrim__seterr(err, errlen, "there are no reviewer accounts");
                return SCRIM_ENOTFOUND;
            }
            return db_fail(err, errlen, "opening", mrc);
        }
        /* committed, read-only or not: the handles stay in the env */
        if (commit(&txn, err, errlen)) {
            free(r);
            return SCRIM_EDB;
        }
        break;
    }
    *out = r;
    return SCRIM_OK;
}

int scrim_reviewers_open(MDB_env *env, int64_t (*clock)(void *), void *clock_arg,
                         scrim_reviewers **out, char *err, size_t errlen)
{
    return open_impl(env, clock, clock_arg, 1, out, err, errlen);
}

int scrim_reviewers_open_existing(MDB_env *env, int64_t (*clock)(void *),
                                  void *clock_arg, scrim_reviewers **out,
                                  char *err, size_t errlen)
{
    return open_impl(env, clock, clock_arg, 0, out, err, errlen);
}

void scrim_reviewers_close(scrim_reviewers *r)
{
    free(r);
}

/* ---- accounts ------------------------------------------------------------------ */

int scrim_reviewer_name_check(const char *name, char *err, size_t errlen)
{
    size_t n = name ? strlen(name) : 0;
    int ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)name[i]) || name[i] == '.' || name[i] == '_' ||
             name[i] == '-';
    if (!ok) {
        scrim__seterr(err, errlen, "bad reviewer name '%.70s': 1-64 of A-Z a-z "
                      "0-9 . _ -", name ? name : "");
        return SCRIM_EINVAL;
    }
    if (!strcmp(name, "admin") || !strcmp(name, "reviewer") ||
        !strcmp(name, "anonymous")) {
        scrim__seterr(err, errlen, "the name '%s' is taken by scrimd itself (the "
                      "admin token, the shared reviewer token)", name);
        return SCRIM_EINVAL;
    }
    return SCRIM_OK;
}

static void token_hash(const char *token, uint8_t h[32])
{
    unsigned n = 32;
    EVP_Digest(token, strlen(token), h, &n, EVP_sha256(), NULL);
}

/* "u/NAME" */
static MDB_val name_key(const char *name, char buf[80])
{
    snprintf(buf, 80, "u/%s", name);
    return (MDB_val){strlen(buf), buf};
}

/* The stored account, or NULL (mrc set: MDB_NOTFOUND or an error). */
static json_t *account_load(scrim_reviewers *r, MDB_txn *txn, const char *name,
                            int *mrc)
{
    char kb[80];
    MDB_val k = name_key(name, kb), v;
    json_error_t je;
    if ((*mrc = mdb_get(txn, r->accounts, &k, &v)))
        return NULL;
    json_t *a = json_loadb(v.mv_data, v.mv_size, 0, &je);
    if (!a)
        *mrc = MDB_CORRUPTED;
    return a;
}

/* As shown: without the hash. */
static json_t *account_public(json_t *a)
{
    json_t *o = json_deep_copy(a);
    json_object_del(o, "hash");
    return o;
}

static int account_store(scrim_reviewers *r, MDB_txn *txn, json_t *a)
{
    char kb[80];
    char *text = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return ENOMEM;
    MDB_val k = name_key(json_string_value(json_object_get(a, "name")), kb);
    MDB_val v = {strlen(text), text};
    int mrc = mdb_put(txn, r->accounts, &k, &v, 0);
    free(text);
    return mrc;
}

static int not_found(const char *name, char *err, size_t errlen)
{
    scrim__seterr(err, errlen, "no reviewer named '%s'", name);
    return SCRIM_ENOTFOUND;
}

int review__account_new(const char *name, const char **role,
                        char token[SCRIM_REVIEWER_TOKEN_LEN + 1], char *err,
                        size_t errlen)
{
    uint8_t raw[32];
    int rc;
    token[0] = '\0';
    if ((rc = scrim_reviewer_name_check(name, err, errlen)))
        return rc;
    if (!*role)
        *role = "reviewer";
    if (strcmp(*role, "reviewer") && strcmp(*role, "lead")) {
        scrim__seterr(err, errlen, "role must be 'reviewer' or 'lead', not '%.40s'",
                      *role);
        return SCRIM_EINVAL;
    }
    if (getrandom(raw, sizeof raw, 0) != sizeof raw) {
        scrim__seterr(err, errlen, "cannot get random bytes: %s", strerror(errno));
        return SCRIM_EIO;
    }
    scrim__hex_encode(raw, sizeof raw, token);
    token[SCRIM_REVIEWER_TOKEN_LEN] = '\0';
    return SCRIM_OK;
}

int scrim_reviewer_add(scrim_reviewers *r, const char *name, const char *role,
                       char token[SCRIM_REVIEWER_TOKEN_LEN + 1], json_t **out,
                       char *err, size_t errlen)
{
    uint8_t h[32], tk[2 + 32];
    char hhex[65];
    MDB_txn *txn = NULL;
    int rc, mrc;
    if (out)
        *out = NULL;
    if ((rc = review__account_new(name, &role, token, err, errlen)))
        return rc;
    token_hash(token, h);
    scrim__hex_encode(h, sizeof h, hhex);
    hhex[64] = '\0';
    json_t *a = json_pack("{s:s, s:s, s:f, s:b, s:s, s:n, s:b}", "name", name,
                          "role", role, "created", (double)now_us(r) / 1e6,
                          "disabled", 0, "hash", hhex, "level", "no_pictures", 0);
    if (!a) {
        scrim__seterr(err, errlen, "out of memory");
        rc = SCRIM_ENOMEM;
        goto done;
    }
    if ((mrc = mdb_txn_begin(r->env, NULL, 0, &txn))) {
        rc = db_fail(err, errlen, "begin", mrc);
        goto done;
    }
    json_t *old = account_load(r, txn, name, &mrc);
    if (old) {
        json_decref(old);
        scrim__seterr(err, errlen, "there is a reviewer named '%s' already", name);
        rc = SCRIM_EEXIST;
        goto done;
    }
    if (mrc != MDB_NOTFOUND) {
        rc = db_fail(err, errlen, "read", mrc);
        goto done;
    }
    memcpy(tk, "t/", 2);
    memcpy(tk + 2, h, 32);
    MDB_val k = {sizeof tk, tk}, v = {strlen(name), (void *)name};
    if ((mrc = account_store(r, txn, a)) ||
        (mrc = mdb_put(txn, r->accounts, &k, &v, 0))) {
        rc = db_fail(err, errlen, "storing the account", mrc);
        goto done;
    }
    if ((rc = commit(&txn, err, errlen)))
        goto done;
    if (out)
        *out = account_public(a);
done:
    if (txn)
        mdb_txn_abort(txn);
    json_decref(a);
    if (rc)
        memset(token, 0, SCRIM_REVIEWER_TOKEN_LEN + 1);
    return rc;
}

int scrim_reviewer_get(scrim_reviewers *r, const char *name, json_t **out,
                       char *err, size_t errlen)
{
    MDB_txn *txn;
    int mrc, rc = SCRIM_OK;
    *out = NULL;
    if ((rc = scrim_reviewer_name_check(name, err, errlen)))
        return rc;
    if ((mrc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    json_t *a = account_load(r, txn, name, &mrc);
    mdb_txn_abort(txn);
    if (!a)
        return mrc == MDB_NOTFOUND ? not_found(name, err, errlen)
                                   : db_fail(err, errlen, "read", mrc);
    *out = account_public(a);
    json_decref(a);
    return rc;
}

int scrim_reviewer_list(scrim_reviewers *r, json_t **out, char *err,
                        size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k = {2, "u/"}, v;
    json_error_t je;
    int mrc;
    *out = NULL;
    if ((mrc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    if ((mrc = mdb_cursor_open(txn, r->accounts, &cur))) {
        mdb_txn_abort(txn);
        return db_fail(err, errlen, "cursor", mrc);
    }
    json_t *arr = json_array();
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !mrc;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < 2 || memcmp(k.mv_data, "u/", 2))
            break;
        json_t *a = json_loadb(v.mv_data, v.mv_size, 0, &je);
        if (a) {
            json_array_append_new(arr, account_public(a));
            json_decref(a);
        }
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (mrc && mrc != MDB_NOTFOUND) {
        json_decref(arr);
        return db_fail(err, errlen, "listing", mrc);
    }
    *out = arr;
    return SCRIM_OK;
}

/* Load name's account for writing, let edit() change it (0 = store it,
 * else a SCRIM_E* with err set), store and commit; *out gets it. */
static int account_update(scrim_reviewers *r, const char *name,
                          int (*edit)(json_t *a, void *arg, char *err, size_t errlen),
                          void *arg, json_t **out, char *err, size_t errlen)
{
    MDB_txn *txn;
    int mrc, rc;
    if (out)
        *out = NULL;
    if ((rc = scrim_reviewer_name_check(name, err, errlen)))
        return rc;
    if ((mrc = mdb_txn_begin(r->env, NULL, 0, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    json_t *a = account_load(r, txn, name, &mrc);
    if (!a)
        rc = mrc == MDB_NOTFOUND ? not_found(name, err, errlen)
                                 : db_fail(err, errlen, "read", mrc);
    else if (!(rc = edit(a, arg, err, errlen)) && (mrc = account_store(r, txn, a)))
        rc = db_fail(err, errlen, "storing the account", mrc);
    if (!rc)
        rc = commit(&txn, err, errlen);
    else
        mdb_txn_abort(txn);
    if (!rc && out)
        *out = account_public(a);
    json_decref(a);
    return rc;
}

static int edit_disabled(json_t *a, void *arg, char *err, size_t errlen)
{
    json_object_set_new(a, "disabled", json_boolean(*(int *)arg));
    return 0;
}

int scrim_reviewer_set_disabled(scrim_reviewers *r, const char *name,
                                int disabled, char *err, size_t errlen)
{
    disabled = !!disabled;
    return account_update(r, name, edit_disabled, &disabled, NULL, err, errlen);
}

int scrim_reviewer_remove(scrim_reviewers *r, const char *name, char *err,
                          size_t errlen)
{
    MDB_txn *txn;
    uint8_t tk[2 + 32];
    char kb[80];
    int mrc, rc;
    if ((rc = scrim_reviewer_name_check(name, err, errlen)))
        return rc;
    if ((mrc = mdb_txn_begin(r->env, NULL, 0, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    json_t *a = account_load(r, txn, name, &mrc);
    if (!a) {
        mdb_txn_abort(txn);
        return mrc == MDB_NOTFOUND ? not_found(name, err, errlen)
                                   : db_fail(err, errlen, "read", mrc);
    }
    const char *hhex = json_string_value(json_object_get(a, "hash"));
    MDB_val k = name_key(name, kb);
    mrc = mdb_del(txn, r->accounts, &k, NULL);
    memcpy(tk, "t/", 2);
    if (!mrc && hhex && strlen(hhex) == 64 && !scrim__hex_decode(hhex, 64, tk + 2)) {
        MDB_val tkv = {sizeof tk, tk};
        mrc = mdb_del(txn, r->accounts, &tkv, NULL);
        if (mrc == MDB_NOTFOUND)
            mrc = 0;
    }
    json_decref(a);
    if (mrc) {
        mdb_txn_abort(txn);
        return db_fail(err, errlen, "removing the account", mrc);
    }
    return commit(&txn, err, errlen);
}

int scrim_reviewer_by_token(scrim_reviewers *r, const char *token,
                            json_t **out, char *err, size_t errlen)
{
    uint8_t tk[2 + 32];
    char name[80], hhex[65];
    MDB_txn *txn;
    MDB_val v;
    int mrc;
    *out = NULL;
    memcpy(tk, "t/", 2);
    token_hash(token ? token : "", tk + 2);
    MDB_val k = {sizeof tk, tk};
    if ((mrc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    mrc = mdb_get(txn, r->accounts, &k, &v);
    json_t *a = NULL;
    if (!mrc && v.mv_size < 70) {
        snprintf(name, sizeof name, "%.*s", (int)v.mv_size, (const char *)v.mv_data);
        a = account_load(r, txn, name, &mrc);
    }
    mdb_txn_abort(txn);
    if (mrc && mrc != MDB_NOTFOUND)
        return db_fail(err, errlen, "read", mrc);
    /* The account must still name this token (a stale key finds nothing). */
    scrim__hex_encode(tk + 2, 32, hhex);
    hhex[64] = '\0';
    const char *want = json_string_value(json_object_get(a, "hash"));
    if (!a || !want || strcasecmp(want, hhex)) {
        json_decref(a);
        scrim__seterr(err, errlen, "no reviewer has this token");
        return SCRIM_ENOTFOUND;
    }
    *out = account_public(a);
    json_decref(a);
    return SCRIM_OK;
}

struct prefs {
    const char *level;
    int no_pictures;
};

static int edit_prefs(json_t *a, void *arg, char *err, size_t errlen)
{
    struct prefs *p = arg;
    if (p->level) {
        scrim_preview_opts o;
        char canon[128];
        if (!strcmp(p->level, "default")) {
            json_object_set_new(a, "level", json_null());
        } else {
            int lv = scrim_preview_level_parse(p->level, &o, err, errlen);
            if (lv < 0)
                return lv;
            if (lv == SCRIM_PREVIEW_NONE)
                snprintf(canon, sizeof canon, "none");
            else
                scrim_preview_opts_format(&o, canon, sizeof canon);
            json_object_set_new(a, "level", json_string(canon));
        }
    }
    if (p->no_pictures >= 0)
        json_object_set_new(a, "no_pictures", json_boolean(p->no_pictures));
    return 0;
}

int scrim_reviewer_prefs(scrim_reviewers *r, const char *name,
                         const char *level, int no_pictures, json_t **out,
                         char *err, size_t errlen)
{
    struct prefs p = {level, no_pictures > 0 ? 1 : no_pictures < 0 ? -1 : 0};
    return account_update(r, name, edit_prefs, &p, out, err, errlen);
}

/* ---- exposure --------------------------------------------------------------------- */

static size_t exposure_key(const char *name, uint32_t day, uint8_t *buf)
{
    size_t n = strlen(name);
    memcpy(buf, name, n);
    buf[n] = '\0';
    put_be(buf + n + 1, day, 4);
    return n + 5;
}

static void exposure_parse(const MDB_val *v, scrim_exposure *e)
{
    json_error_t je;
    memset(e, 0, sizeof *e);
    json_t *j = json_loadb(v->mv_data, v->mv_size, 0, &je);
    e->previews = (uint64_t)json_integer_value(json_object_get(j, "previews"));
    e->reveals = (uint64_t)json_integer_value(json_object_get(j, "reveals"));
    e->seconds = json_number_value(json_object_get(j, "seconds"));
    e->items = (uint64_t)json_integer_value(json_object_get(j, "items"));
    e->refused = (uint64_t)json_integer_value(json_object_get(j, "refused"));
    json_decref(j);
}

static json_t *exposure_json(const scrim_exposure *e)
{
    /* seconds to the millisecond: what a page reports is no finer */
    return json_pack("{s:I, s:I, s:f, s:I, s:I}", "previews",
                     (json_int_t)e->previews, "reveals", (json_int_t)e->reveals,
                     "seconds", (double)(int64_t)(e->seconds * 1000 + 0.5) / 1000,
                     "items", (json_int_t)e->items, "refused",
                     (json_int_t)e->refused);
}

int scrim_exposure_count(scrim_reviewers *r, const char *name,
                         const scrim_exposure *d, const scrim_exposure *caps,
                         const char **which, scrim_exposure *today, char *err,
                         size_t errlen)
{
    uint8_t kb[80];
    MDB_txn *txn;
    MDB_val v;
    scrim_exposure e;
    int mrc, rc = SCRIM_OK;
    if (which)
        *which = NULL;
    if (!name || strlen(name) > 64) {
        scrim__seterr(err, errlen, "bad reviewer name");
        return SCRIM_EINVAL;
    }
    uint32_t day = (uint32_t)(now_us(r) / DAY_US);
    MDB_val k = {exposure_key(name, day, kb), kb};
    if ((mrc = mdb_txn_begin(r->env, NULL, 0, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    /* Old exposure rows and events go once a day, with a day's first count
     * (a racing second purge finds nothing). */
    if (r->purged_day != day) {
        if ((mrc = purge(r, txn))) {
            mdb_txn_abort(txn);
            return db_fail(err, errlen, "deleting old rows", mrc);
        }
        r->purged_day = day;
    }
    mrc = mdb_get(txn, r->exposure, &k, &v);
    if (mrc && mrc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return db_fail(err, errlen, "read", mrc);
    }
    if (mrc)
        memset(&e, 0, sizeof e);
    else
        exposure_parse(&v, &e);
    const char *over = NULL;
    if (caps && caps->items && (d->items || d->previews || d->reveals) &&
        e.items >= caps->items)
        over = "items";
    else if (caps && caps->reveals && d->reveals && e.reveals >= caps->reveals)
        over = "reveals";
    if (over) {
        e.refused++;
        rc = SCRIM_EBUSY;
        scrim__seterr(err, errlen, "daily cap reached: %llu %s today",
                      (unsigned long long)(!strcmp(over, "items") ? e.items : e.reveals),
                      over);
    } else {
        e.previews += d->previews;
        e.reveals += d->reveals;
        e.seconds += d->seconds;
        e.items += d->items;
        e.refused += d->refused;
    }
    json_t *j = exposure_json(&e);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text) {
        mdb_txn_abort(txn);
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    MDB_val nv = {strlen(text), text};
    mrc = mdb_put(txn, r->exposure, &k, &nv, 0);
    free(text);
    if (mrc) {
        mdb_txn_abort(txn);
        return db_fail(err, errlen, "storing", mrc);
    }
    int crc = commit(&txn, err, errlen);
    if (crc)
        return crc;
    if (which)
        *which = over;
    if (today)
        *today = e;
    return rc;
}

int scrim_exposure_get(scrim_reviewers *r, const char *name, json_t **out,
                       char *err, size_t errlen)
{
    uint8_t kb[80];
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    scrim_exposure today = {0}, week = {0}, e;
    int mrc;
    *out = NULL;
    if (!name || strlen(name) > 64) {
        scrim__seterr(err, errlen, "bad reviewer name");
        return SCRIM_EINVAL;
    }
    uint32_t now_day = (uint32_t)(now_us(r) / DAY_US);
    size_t nlen = strlen(name);
    if ((mrc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    if ((mrc = mdb_cursor_open(txn, r->exposure, &cur))) {
        mdb_txn_abort(txn);
        return db_fail(err, errlen, "cursor", mrc);
    }
    json_t *days = json_array();
    k.mv_size = exposure_key(name, 0, kb);
    k.mv_data = kb;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !mrc;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != nlen + 5 || memcmp(k.mv_data, kb, nlen + 1))
            break;
        uint32_t day = (uint32_t)get_be((const uint8_t *)k.mv_data + nlen + 1, 4);
        exposure_parse(&v, &e);
        if (day == now_day)
            today = e;
        if (day + 7 > now_day && day <= now_day) {
            week.previews += e.previews;
            week.reveals += e.reveals;
            week.seconds += e.seconds;
            week.items += e.items;
            week.refused += e.refused;
        }
        time_t t = (time_t)day * 86400;
        struct tm tm;
        char date[16];
        gmtime_r(&t, &tm);
        strftime(date, sizeof date, "%Y-%m-%d", &tm);
        json_t *j = exposure_json(&e);
        json_object_set_new(j, "date", json_string(date));
        json_array_insert_new(days, 0, j);   /* newest first */
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (mrc && mrc != MDB_NOTFOUND) {
        json_decref(days);
        return db_fail(err, errlen, "listing", mrc);
    }
    *out = json_pack("{s:o, s:o, s:o}", "today", exposure_json(&today), "week",
                     exposure_json(&week), "days", days);
    return SCRIM_OK;
}

/* ---- the log --------------------------------------------------------------------- */

int scrim_review_log_add(scrim_reviewers *r, json_t *ev, char *err, size_t errlen)
{
    uint8_t key[12];
    MDB_txn *txn;
    int mrc;
    int64_t now = now_us(r);
    put_be(key, (uint64_t)now, 8);
    if (getrandom(key + 8, 4, 0) != 4) {
        scrim__seterr(err, errlen, "cannot get random bytes: %s", strerror(errno));
        return SCRIM_EIO;
    }
    json_t *e = json_deep_copy(ev);
    if (!e)
        e = json_object();
    json_object_set_new(e, "time", json_real((double)now / 1e6));
    char *text = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    if (!text) {
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    MDB_val k = {sizeof key, key}, v = {strlen(text), text};
    if ((mrc = mdb_txn_begin(r->env, NULL, 0, &txn))) {
        free(text);
        return db_fail(err, errlen, "begin", mrc);
    }
    if ((mrc = mdb_put(txn, r->log, &k, &v, 0))) {
        mdb_txn_abort(txn);
        free(text);
        return db_fail(err, errlen, "storing an event", mrc);
    }
    free(text);
    return commit(&txn, err, errlen);
}

int scrim_review_log_list(scrim_reviewers *r, const char *who, double since,
                          size_t limit, json_t **out, char *err, size_t errlen)
{
    uint8_t start[8];
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    json_error_t je;
    int mrc;
    *out = NULL;
    if (limit < 1 || limit > 1000) {
        scrim__seterr(err, errlen, "limit must be 1 to 1000, not %zu", limit);
        return SCRIM_EINVAL;
    }
    if (!(since >= 0 && since < 1e11)) {
        scrim__seterr(err, errlen, "since must be unix seconds");
        return SCRIM_EINVAL;
    }
    put_be(start, (uint64_t)(since * 1e6), 8);
    if ((mrc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    if ((mrc = mdb_cursor_open(txn, r->log, &cur))) {
        mdb_txn_abort(txn);
        return db_fail(err, errlen, "cursor", mrc);
    }
    json_t *arr = json_array();
    double next = -1;
    k.mv_size = sizeof start;
    k.mv_data = start;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !mrc;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        json_t *e = json_loadb(v.mv_data, v.mv_size, 0, &je);
        if (!e)
            continue;
        if (who && strcmp(who, json_string_value(json_object_get(e, "who"))
                                   ? json_string_value(json_object_get(e, "who"))
                                   : "")) {
            json_decref(e);
            continue;
        }
        if (json_array_size(arr) == limit) {
            /* the next page starts at this event's microsecond */
            next = (double)get_be(k.mv_data, 8) / 1e6;
            json_decref(e);
            break;
        }
        json_array_append_new(arr, e);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (mrc && mrc != MDB_NOTFOUND) {
        json_decref(arr);
        return db_fail(err, errlen, "listing", mrc);
    }
    *out = json_pack("{s:o, s:o}", "events", arr, "next",
                     next >= 0 ? json_real(next) : json_null());
    return SCRIM_OK;
}

/* ---- content warnings ------------------------------------------------------------- */

int review__warning_check(const char *list, const char *text, char *err,
                          size_t errlen)
{
    int rc = review__list_name_check(list, err, errlen);
    if (rc || !text || !*text)
        return rc;
    size_t n = strlen(text);
    json_t *probe = json_string(text);   /* NULL: not UTF-8 */
    int bad = !probe || n > SCRIM_REVIEW_WARNING_MAX;
    json_decref(probe);
    for (size_t i = 0; i < n; i++)
        bad |= (unsigned char)text[i] < 0x20 || text[i] == 0x7f;
    if (!bad)
        return SCRIM_OK;
    scrim__seterr(err, errlen, "a content warning is 1 to %d bytes of UTF-8 "
                  "text without control characters", SCRIM_REVIEW_WARNING_MAX);
    return SCRIM_EINVAL;
}

int scrim_review_warning_set(scrim_reviewers *r, const char *list,
                             const char *text, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc, mrc;
    if ((rc = review__warning_check(list, text, err, errlen)))
        return rc;
    int remove = !text || !*text;
    if ((mrc = mdb_txn_begin(r->env, NULL, 0, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    MDB_val k = {strlen(list), (void *)list}, v = {remove ? 0 : strlen(text),
                                                   (void *)text};
    mrc = remove ? mdb_del(txn, r->warnings, &k, NULL)
                 : mdb_put(txn, r->warnings, &k, &v, 0);
    if (mrc && !(remove && mrc == MDB_NOTFOUND)) {
        mdb_txn_abort(txn);
        return db_fail(err, errlen, "storing the warning", mrc);
    }
    return commit(&txn, err, errlen);
}

int scrim_review_warnings(scrim_reviewers *r, json_t **out, char *err,
                          size_t errlen)
{
    return review__strings(r->env, r->warnings, "reviewer", out, err, errlen);
}
