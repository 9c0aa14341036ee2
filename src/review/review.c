/* review.c - review records of matched uploads in LMDB: the previews (never
 * the original), the matches and hashes, reviewers' decisions, retention,
 * the pending queue, and the per-list preview level. */
#include "scrim.h"
#include "scrim/review.h"
#include "base/base.h"
#include "index/index.h"
#include "review/review.h"

#include <ctype.h>
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

struct scrim_review {
    MDB_env *env;
    MDB_dbi records, pending, previews, lists, dedup, entries;
    /* cluster mode (sync.c): records and decisions made here, to send */
    int sync;
    MDB_dbi outbox, syncmeta;
    int64_t retention_us;
    int64_t (*clock)(void *);
    void *clock_arg;
};

#define ID_BYTES 16

MDB_env *review__env(scrim_review *r)
{
    return r->env;
}

MDB_dbi review__entries(scrim_review *r)
{
    return r->entries;
}
#define KEY_BYTES 32   /* review.dedup keys: a SHA-256 */

/* ---- helpers -------------------------------------------------------------- */


int64_t review__clock_us(int64_t (*clock)(void *), void *arg)
{
    if (clock)
        return clock(arg);
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

int review__db_fail(const char *db, const char *what, int mrc, char *err,
                    size_t errlen)
{
    char w[128];
    snprintf(w, sizeof w, "%s database: %s", db, what);
    return scrim__mdb_err(mrc, w, err, errlen);
}

int review__commit(const char *db, MDB_txn **txn, char *err, size_t errlen)
{
    int mrc = mdb_txn_commit(*txn);
    *txn = NULL;
    return mrc ? review__db_fail(db, "commit", mrc, err, errlen) : SCRIM_OK;
}

static int64_t now_us(const scrim_review *r)
{
    return review__clock_us(r->clock, r->clock_arg);
}

static int db_fail(char *err, size_t errlen, const char *what, int mrc)
{
    return review__db_fail("review", what, mrc, err, errlen);
}

static int txn_commit(MDB_txn **txn, char *err, size_t errlen)
{
    return review__commit("review", txn, err, errlen);
}

/* Parse a 32-hex id; SCRIM_EINVAL with a message if malformed. */
static int id_parse(const char *hex, uint8_t id[ID_BYTES], char *err,
                    size_t errlen)
{
    if (!hex || strlen(hex) != SCRIM_REVIEW_ID_LEN)
        goto bad;
    if (scrim__hex_decode(hex, SCRIM_REVIEW_ID_LEN, id))
        goto bad;
    return SCRIM_OK;
bad:
    scrim__seterr(err, errlen, "bad review id '%.40s%s': expected %d hex digits",
                  hex ? hex : "", hex && strlen(hex) > 40 ? "..." : "",
                  SCRIM_REVIEW_ID_LEN);
    return SCRIM_EINVAL;
}

static int64_t id_time_us(const uint8_t id[ID_BYTES])
{
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = t << 8 | id[i];
    return (int64_t)t;
}

static int expired(const scrim_review *r, const uint8_t id[ID_BYTES], int64_t now)
{
    return id_time_us(id) + r->retention_us <= now;
}

/* ---- one record per upload and matches ------------------------------------ */

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The de-duplication key of an upload and what it matched: SHA-256 over
 * the upload's SHA-256 and the entries matched (list, type, hash, id of
 * each, sorted: the order of the matches does not count, nor their
 * distances or variants).  0, or -1 when the upload has no SHA-256 (no
 * de-duplication then). */
static int dedup_key(json_t *hashes, json_t *matches, uint8_t key[KEY_BYTES])
{
    const char *sha = json_string_value(json_object_get(hashes, "sha256"));
    size_t n = json_array_size(matches), total = 0;
    int rc = -1;
    if (!sha || strlen(sha) != 64)
        return -1;
    char **lines = calloc(n ? n : 1, sizeof *lines), *text = NULL;
    if (!lines)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(matches, i);
        const char *f[4] = {json_string_value(json_object_get(m, "list")),
                            json_string_value(json_object_get(m, "type")),
                            json_string_value(json_object_get(m, "hash")),
                            json_string_value(json_object_get(m, "id"))};
        if (asprintf(&lines[i], "%s\x1f%s\x1f%s\x1f%s\n", f[0] ? f[0] : "",
                     f[1] ? f[1] : "", f[2] ? f[2] : "", f[3] ? f[3] : "") < 0) {
            lines[i] = NULL;
            goto done;
        }
        total += strlen(lines[i]);
    }
    qsort(lines, n, sizeof *lines, line_cmp);
    if (!(text = malloc(64 + 1 + total + 1)))
        goto done;
    char *p = text + sprintf(text, "%s\n", sha);
    for (size_t i = 0; i < n; i++)
        p = stpcpy(p, lines[i]);
    char md5[33], hex[65];
    scrim_digest(text, (size_t)(p - text), md5, hex);
    rc = scrim__hex_decode(hex, 64, key);
done:
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    free(text);
    return rc;
}

/* In a write transaction: if key names a live record, count one more
 * sighting on it ("seen", "last_seen") and write its id; 0.  MDB_NOTFOUND
 * when there is none (or it expired: the key is then stale and will be
 * overwritten), another LMDB code on errors. */
static int count_repeat(scrim_review *r, MDB_txn *txn,
                        const uint8_t key[KEY_BYTES], int64_t now,
                        uint8_t id[ID_BYTES])
{
    MDB_val k = {KEY_BYTES, (void *)key}, v, rv;
    int mrc = mdb_get(txn, r->dedup, &k, &v);
    if (mrc)
        return mrc;
    if (v.mv_size != ID_BYTES)
        return MDB_NOTFOUND;
    memcpy(id, v.mv_data, ID_BYTES);
    MDB_val rk = {ID_BYTES, id};
    if ((mrc = mdb_get(txn, r->records, &rk, &rv)))
        return mrc;
    if (expired(r, id, now))
        return MDB_NOTFOUND;
    json_error_t je;
    json_t *rec = json_loadb(rv.mv_data, rv.mv_size, 0, &je);
    if (!rec)
        return MDB_NOTFOUND;
    json_int_t seen = json_integer_value(json_object_get(rec, "seen"));
    json_object_set_new(rec, "seen", json_integer((seen > 0 ? seen : 1) + 1));
    json_object_set_new(rec, "last_seen", json_real((double)now / 1e6));
    char *text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    if (!text)
        return ENOMEM;
    MDB_val nv = {strlen(text), text};
    mrc = mdb_put(txn, r->records, &rk, &nv, 0);
    free(text);
    return mrc;
}

int scrim_review_repeat(scrim_review *r, json_t *hashes, json_t *matches,
                        char hexid[SCRIM_REVIEW_ID_LEN + 1], char *err,
                        size_t errlen)
{
    uint8_t key[KEY_BYTES], id[ID_BYTES];
    MDB_txn *txn;
    MDB_val k = {KEY_BYTES, key}, v;
    int mrc;
    if (dedup_key(hashes, matches, key))
        return SCRIM_ENOTFOUND;
    /* most uploads are new: a read-only look first, the writer only for a
     * repeat */
    if ((mrc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    mrc = mdb_get(txn, r->dedup, &k, &v);
    mdb_txn_abort(txn);
    if (mrc == MDB_NOTFOUND)
        return SCRIM_ENOTFOUND;
    if (mrc)
        return db_fail(err, errlen, "read", mrc);
    if ((mrc = mdb_txn_begin(r->env, NULL, 0, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    mrc = count_repeat(r, txn, key, now_us(r), id);
    if (mrc) {
        mdb_txn_abort(txn);
        return mrc == MDB_NOTFOUND ? SCRIM_ENOTFOUND
                                   : db_fail(err, errlen, "counting a repeat", mrc);
    }
    int rc = txn_commit(&txn, err, errlen);
    if (!rc)
        scrim__hex_encode(id, ID_BYTES, hexid);
    return rc;
}

/* Delete one record and everything kept with it, inside txn; rec is its
 * stored value (for its de-duplication key). */
static int delete_record(scrim_review *r, MDB_txn *txn, const uint8_t id[ID_BYTES],
                         const MDB_val *rec)
{
    uint8_t pk[ID_BYTES + 1], key[KEY_BYTES];
    MDB_val k = {ID_BYTES, (void *)id};
    const char *d = rec ? memmem(rec->mv_data, rec->mv_size, "\"dedup\":\"", 9)
                        : NULL;
    if (d && (size_t)((const char *)rec->mv_data + rec->mv_size - d) >= 9 + 64 &&
        !scrim__hex_decode(d + 9, 64, key)) {
        MDB_val dk = {KEY_BYTES, key}, dv;
        /* only if it still names this record (a newer one may own it) */
        if (!mdb_get(txn, r->dedup, &dk, &dv) && dv.mv_size == ID_BYTES &&
            !memcmp(dv.mv_data, id, ID_BYTES)) {
            int drc = mdb_del(txn, r->dedup, &dk, NULL);
            if (drc && drc != MDB_NOTFOUND)
                return drc;
        }
    }
    int mrc = mdb_del(txn, r->records, &k, NULL);
    if (mrc && mrc != MDB_NOTFOUND)
        return mrc;
    mrc = mdb_del(txn, r->pending, &k, NULL);
    if (mrc && mrc != MDB_NOTFOUND)
        return mrc;
    memcpy(pk, id, ID_BYTES);
    for (int i = 0; i < 2; i++) {
        pk[ID_BYTES] = i ? 'l' : 'd';
        MDB_val p = {sizeof pk, pk};
        mrc = mdb_del(txn, r->previews, &p, NULL);
        if (mrc && mrc != MDB_NOTFOUND)
            return mrc;
    }
    return 0;
}

/* Delete up to `max` expired records (oldest first; 0 = all) in txn. */
static int purge_txn(scrim_review *r, MDB_txn *txn, int64_t now, size_t max,
                     uint64_t *count)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int mrc = mdb_cursor_open(txn, r->records, &cur);
    if (mrc)
        return mrc;
    size_t n = 0;
    /* Keys are in creation order: stop at the first one still kept. */
    while ((mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size != ID_BYTES || !expired(r, k.mv_data, now) ||
            (max && n >= max))
            break;
        uint8_t id[ID_BYTES];
        memcpy(id, k.mv_data, ID_BYTES);
        if ((mrc = delete_record(r, txn, id, &v)))
            break;
        n++;
    }
    mdb_cursor_close(cur);
    if (count)
        *count += n;
    return mrc == MDB_NOTFOUND || mrc == 0 ? 0 : mrc;
}

/* ---- opening ---------------------------------------------------------------- */

int scrim_review_open(MDB_env *env, const scrim_review_opts *opts,
                      scrim_review **out, char *err, size_t errlen)
{
    scrim_review *r;
    MDB_txn *txn = NULL;
    int mrc, rc = SCRIM_OK;
    *out = NULL;
    if (!env) {
        scrim__seterr(err, errlen, "review: no database environment");
        return SCRIM_EINVAL;
    }
    if (opts && opts->retention < 0) {
        scrim__seterr(err, errlen, "review retention must be positive, not %lld s",
                      (long long)opts->retention);
        return SCRIM_EINVAL;
    }
    if (!(r = calloc(1, sizeof *r))) {
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    r->env = env;
    r->retention_us = (opts && opts->retention ? opts->retention
                                               : SCRIM_REVIEW_DEFAULT_RETENTION) *
                      (int64_t)1000000;
    if (opts) {
        r->clock = opts->clock;
        r->clock_arg = opts->clock_arg;
    }
    if ((mrc = mdb_txn_begin(env, NULL, 0, &txn))) {
        rc = db_fail(err, errlen, "cannot begin a write transaction", mrc);
        goto fail;
    }
    if ((mrc = mdb_dbi_open(txn, "review.records", MDB_CREATE, &r->records)) ||
        (mrc = mdb_dbi_open(txn, "review.pending", MDB_CREATE, &r->pending)) ||
        (mrc = mdb_dbi_open(txn, "review.previews", MDB_CREATE, &r->previews)) ||
        (mrc = mdb_dbi_open(txn, "review.lists", MDB_CREATE, &r->lists)) ||
        (mrc = mdb_dbi_open(txn, "review.dedup", MDB_CREATE, &r->dedup)) ||
        (mrc = mdb_dbi_open(txn, "review.entries", MDB_CREATE, &r->entries))) {
        rc = db_fail(err, errlen, "cannot open the review databases", mrc);
        goto fail;
    }
    if ((mrc = purge_txn(r, txn, now_us(r), 0, NULL))) {
        rc = db_fail(err, errlen, "purging expired records", mrc);
        goto fail;
    }
    if ((rc = txn_commit(&txn, err, errlen)))
        goto fail;
    *out = r;
    return SCRIM_OK;
fail:
    if (txn)
        mdb_txn_abort(txn);
    free(r);
    return rc;
}

void scrim_review_close(scrim_review *r)
{
    free(r);   /* the dbi handles belong to the environment */
}

/* ---- records ------------------------------------------------------------------ */

static json_t *preview_json(const char *hexid, const scrim_preview *p, int lighter,
                            const scrim_preview_sheet_info *sheet)
{
    char url[128];
    if (!p)
        return json_null();
    snprintf(url, sizeof url, "/v1/review/%s/preview.jpg%s", hexid,
             lighter ? "?level=light" : "");
    json_t *j = json_pack("{s:s, s:i, s:i, s:I, s:i}", "url", url, "width",
                          p->width, "height", p->height, "bytes",
                          (json_int_t)p->len, "detail", p->detail);
    if (j && sheet) {
        json_t *f = json_array();
        for (int i = 0; i < sheet->tiles && i < SCRIM_SHEET_MAX_TILES; i++)
            json_array_append_new(f, json_pack("{s:f, s:b}", "seconds",
                                               sheet->seconds[i], "matched",
                                               sheet->matched[i]));
        json_object_set_new(j, "frames", f);
    }
    return j;
}

static int put_preview(scrim_review *r, MDB_txn *txn, const uint8_t id[ID_BYTES],
                       int which, const scrim_preview *p)
{
    uint8_t pk[ID_BYTES + 1];
    memcpy(pk, id, ID_BYTES);
    pk[ID_BYTES] = (uint8_t)which;
    MDB_val k = {sizeof pk, pk}, v = {p->len, p->data};
    return mdb_put(txn, r->previews, &k, &v, 0);
}

/* Cluster mode: queue record id's creation ('r') or decision ('d') for
 * sync.c to send, in the transaction that makes it (LMDB codes). */
static int outbox_put(scrim_review *r, MDB_txn *txn, char kind,
                      const void *id, size_t idlen)
{
    if (!r->sync)
        return 0;
    uint64_t seq = 1;
    MDB_val mk = {4, "next"}, mv;
    int mrc = mdb_get(txn, r->syncmeta, &mk, &mv);
    if (!mrc && mv.mv_size == 8)
        memcpy(&seq, mv.mv_data, 8);
    else if (mrc && mrc != MDB_NOTFOUND)
        return mrc;
    uint64_t next = seq + 1;
    uint8_t key[8], val[1 + 64];
    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)(seq >> (56 - 8 * i));
    val[0] = (uint8_t)kind;
    memcpy(val + 1, id, idlen);   /* a record's id, or a list's name */
    MDB_val k = {8, key}, v = {1 + idlen, val}, nv = {8, &next};
    if ((mrc = mdb_put(txn, r->outbox, &k, &v, 0)))
        return mrc;
    return mdb_put(txn, r->syncmeta, &mk, &nv, 0);
}

int scrim_review_add(scrim_review *r, const scrim_review_input *in,
                     char hexid[SCRIM_REVIEW_ID_LEN + 1], char *err,
                     size_t errlen)
{
    uint8_t id[ID_BYTES], key[KEY_BYTES];
    json_t *rec = NULL;
    char *text = NULL, keyhex[2 * KEY_BYTES + 1] = "";
    MDB_txn *txn = NULL;
    int mrc, rc = SCRIM_OK;

    if (!in || !in->kind || !in->level || !json_is_array(in->matches) ||
        (in->hashes && !json_is_object(in->hashes)) ||
        (!in->preview != !in->lighter) ||
        (in->preview && (!in->preview->data || !in->lighter->data))) {
        scrim__seterr(err, errlen, "review record: missing or malformed fields");
        return SCRIM_EINVAL;
    }
    int64_t now = now_us(r);
    for (int i = 0; i < 8; i++)
        id[i] = (uint8_t)((uint64_t)now >> (56 - 8 * i));
    if (getrandom(id + 8, 8, 0) != 8) {
        scrim__seterr(err, errlen, "cannot get random bytes: %s", strerror(errno));
        return SCRIM_EIO;
    }
    scrim__hex_encode(id, ID_BYTES, hexid);
    int dedup = !dedup_key(in->hashes, in->matches, key);
    if (dedup)
        scrim__hex_encode(key, KEY_BYTES, keyhex);

    /* Stored without "expires" and "status": derived when read.  "seen"
     * counts this upload with these matches, "last_seen" is its latest;
     * "dedup" is the key (to delete it with the record). */
    rec = json_pack("{s:s, s:I, s:s, s:I, s:i, s:i, s:O, s:O, s:s, s:o, s:o, "
                    "s:n, s:[], s:i, s:f}",
                    "id", hexid, "time_us", (json_int_t)now, "kind", in->kind,
                    "size", (json_int_t)in->size, "width", in->width, "height",
                    in->height, "hashes", in->hashes ? in->hashes : json_null(),
                    "matches", in->matches, "level", in->level, "preview",
                    preview_json(hexid, in->preview, 0, in->sheet), "lighter",
                    preview_json(hexid, in->lighter, 1, in->sheet), "decision", "history",
                    "seen", 1, "last_seen", (double)now / 1e6);
    if (rec && dedup)
        json_object_set_new(rec, "dedup", json_string(keyhex));
    if (rec && in->content_id && *in->content_id)
        json_object_set_new(rec, "content_id", json_string(in->content_id));
    if (!rec || !(text = json_dumps(rec, JSON_COMPACT))) {
        rc = SCRIM_ENOMEM;
        scrim__seterr(err, errlen, "out of memory");
        goto done;
    }
    if ((mrc = mdb_txn_begin(r->env, NULL, 0, &txn))) {
        rc = db_fail(err, errlen, "begin", mrc);
        goto done;
    }
    MDB_val k = {ID_BYTES, id}, v = {strlen(text), text}, empty = {0, ""};
    MDB_val dk = {KEY_BYTES, key};
    if (dedup) {
        /* The same upload with the same matches came meanwhile (the
         * caller's scrim_review_repeat found nothing): the repeat is
         * counted on that record. */
        uint8_t old[ID_BYTES];
        mrc = count_repeat(r, txn, key, now, old);
        if (!mrc) {
            if (!(rc = txn_commit(&txn, err, errlen))) {
                scrim__hex_encode(old, ID_BYTES, hexid);
                rc = SCRIM_EEXIST;
            }
            goto done;
        }
        if (mrc != MDB_NOTFOUND) {
            rc = db_fail(err, errlen, "counting a repeat", mrc);
            goto done;
        }
    }
    if ((mrc = purge_txn(r, txn, now, 64, NULL)) ||
        (dedup && (mrc = mdb_put(txn, r->dedup, &dk, &(MDB_val){ID_BYTES, id}, 0))) ||
        (mrc = mdb_put(txn, r->records, &k, &v, MDB_NOOVERWRITE)) ||
        (mrc = mdb_put(txn, r->pending, &k, &empty, 0)) ||
        (in->preview && (mrc = put_preview(r, txn, id, 'd', in->preview))) ||
        (in->lighter && (mrc = put_preview(r, txn, id, 'l', in->lighter))) ||
        (mrc = outbox_put(r, txn, 'r', id, ID_BYTES))) {
        rc = db_fail(err, errlen, "storing the record", mrc);
        goto done;
    }
    rc = txn_commit(&txn, err, errlen);
done:
    if (txn)
        mdb_txn_abort(txn);
    free(text);
    json_decref(rec);
    return rc;
}

/* Parse a stored record and add the derived fields. */
static json_t *record_json(const scrim_review *r, const MDB_val *v)
{
    json_error_t je;
    json_t *rec = json_loadb(v->mv_data, v->mv_size, 0, &je);
    if (!rec)
        return NULL;
    json_int_t t = json_integer_value(json_object_get(rec, "time_us"));
    json_object_set_new(rec, "time", json_real((double)t / 1e6));
    json_object_set_new(rec, "expires",
                        json_real((double)(t + r->retention_us) / 1e6));
    json_object_del(rec, "time_us");
    json_object_del(rec, "dedup");
    if (!json_object_get(rec, "seen")) /* records from before "seen" */
        json_object_set_new(rec, "seen", json_integer(1));
    json_t *d = json_object_get(rec, "decision");
    const char *dec = json_string_value(json_object_get(d, "decision"));
    json_object_set_new(rec, "status",
                        json_string(!dec ? "pending"
                                    : !strcmp(dec, "confirm") ? "confirmed"
                                                              : "rejected"));
    return rec;
}

/* Read a record's raw value in txn; SCRIM_ENOTFOUND if missing/expired. */
static int get_raw(scrim_review *r, MDB_txn *txn, const uint8_t id[ID_BYTES],
                   const char *hexid, MDB_val *v, char *err, size_t errlen)
{
    MDB_val k = {ID_BYTES, (void *)id};
    int mrc = mdb_get(txn, r->records, &k, v);
    if (mrc == MDB_NOTFOUND || (!mrc && expired(r, id, now_us(r)))) {
        scrim__seterr(err, errlen, "no review record %s", hexid);
        return SCRIM_ENOTFOUND;
    }
    if (mrc)
        return db_fail(err, errlen, "read", mrc);
    return SCRIM_OK;
}

/* Begin a transaction (flags: 0 or MDB_RDONLY) and read record id in it
 * into *v.  On error nothing is left open (*txn = NULL). */
static int record_begin(scrim_review *r, unsigned flags,
                        const uint8_t id[ID_BYTES], const char *hexid,
                        MDB_txn **txn, MDB_val *v, char *err, size_t errlen)
{
    int rc, mrc;
    *txn = NULL;
    if ((mrc = mdb_txn_begin(r->env, NULL, flags, txn))) {
        *txn = NULL;
        return db_fail(err, errlen, "begin", mrc);
    }
    if ((rc = get_raw(r, *txn, id, hexid, v, err, errlen))) {
        mdb_txn_abort(*txn);
        *txn = NULL;
    }
    return rc;
}

int scrim_review_get(scrim_review *r, const char *hexid, json_t **out,
                     char *err, size_t errlen)
{
    uint8_t id[ID_BYTES];
    MDB_txn *txn;
    MDB_val v;
    int rc;
    *out = NULL;
    if ((rc = id_parse(hexid, id, err, errlen)) ||
        (rc = record_begin(r, MDB_RDONLY, id, hexid, &txn, &v, err, errlen)))
        return rc;
    if (!(*out = record_json(r, &v))) {
        scrim__seterr(err, errlen, "review record %s is corrupt", hexid);
        rc = SCRIM_EDB;
    }
    mdb_txn_abort(txn);
    return rc;
}

int scrim_review_preview(scrim_review *r, const char *hexid, int lighter,
                         uint8_t **data, size_t *len, char *err, size_t errlen)
{
    uint8_t id[ID_BYTES], pk[ID_BYTES + 1];
    MDB_txn *txn;
    MDB_val v;
    int rc, mrc;
    *data = NULL;
    *len = 0;
    if ((rc = id_parse(hexid, id, err, errlen)) ||
        (rc = record_begin(r, MDB_RDONLY, id, hexid, &txn, &v, err, errlen)))
        return rc;
    memcpy(pk, id, ID_BYTES);
    pk[ID_BYTES] = lighter ? 'l' : 'd';
    MDB_val k = {sizeof pk, pk};
    mrc = mdb_get(txn, r->previews, &k, &v);
    if (mrc == MDB_NOTFOUND) {
        scrim__seterr(err, errlen,
                      "review record %s has no preview (its list's level is none)",
                      hexid);
        rc = SCRIM_ENOTFOUND;
    } else if (mrc) {
        rc = db_fail(err, errlen, "read", mrc);
    } else if (!(*data = malloc(v.mv_size ? v.mv_size : 1))) {
        scrim__seterr(err, errlen, "out of memory");
        rc = SCRIM_ENOMEM;
    } else {
        memcpy(*data, v.mv_data, v.mv_size);
        *len = v.mv_size;
    }
    mdb_txn_abort(txn);
    return rc;
}

/* A "since" bound: unix seconds (records created at or after) or a record
 * id (records after it). */
static int since_parse(const char *since, uint8_t start[ID_BYTES], int *after,
                       char *err, size_t errlen)
{
    memset(start, 0, ID_BYTES);
    *after = 0;
    if (!since || !*since)
        return SCRIM_OK;
    if (strlen(since) == SCRIM_REVIEW_ID_LEN) {
        *after = 1;
        return id_parse(since, start, err, errlen);
    }
    char *end;
    errno = 0;
    double s = strtod(since, &end);
    if (*end || errno || !(s >= 0 && s < 1e11)) {
        scrim__seterr(err, errlen,
                      "bad since '%.40s': expected unix seconds or a "
                      "record id", since);
        return SCRIM_EINVAL;
    }
    uint64_t us = (uint64_t)(s * 1e6);
    for (int i = 0; i < 8; i++)
        start[i] = (uint8_t)(us >> (56 - 8 * i));
    return SCRIM_OK;
}

/* Does the stored record have a match in `list`? */
static int record_in_list(const MDB_val *v, const char *list)
{
    json_error_t je;
    json_t *rec = json_loadb(v->mv_data, v->mv_size, 0, &je), *m;
    size_t i;
    int in = 0;
    json_array_foreach(json_object_get(rec, "matches"), i, m) {
        const char *l = json_string_value(json_object_get(m, "list"));
        if (l && !strcmp(l, list)) {
            in = 1;
            break;
        }
    }
    json_decref(rec);
    return in;
}

int scrim_review_queue(scrim_review *r, const scrim_review_query *q,
                       json_t **out, char *err, size_t errlen)
{
    uint8_t start[ID_BYTES], cur_id[ID_BYTES];
    int after = 0, have_cursor = 0, rc = SCRIM_OK, mrc;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    json_t *arr = json_array();
    char next[SCRIM_REVIEW_ID_LEN + 1] = "";
    uint64_t pending = 0;
    *out = NULL;

    if (q->limit < 1 || q->limit > SCRIM_REVIEW_LIST_MAX) {
        scrim__seterr(err, errlen, "limit must be 1 to %d, not %zu",
                      SCRIM_REVIEW_LIST_MAX, q->limit);
        rc = SCRIM_EINVAL;
        goto done;
    }
    if ((rc = since_parse(q->since, start, &after, err, errlen)))
        goto done;
    if (q->cursor && *q->cursor) {
        if (strlen(q->cursor) != SCRIM_REVIEW_ID_LEN) {
            scrim__seterr(err, errlen, "bad cursor '%.40s': expected the "
                          "\"next\" of a previous page", q->cursor);
            rc = SCRIM_EINVAL;
            goto done;
        }
        if ((rc = id_parse(q->cursor, cur_id, err, errlen)))
            goto done;
        have_cursor = 1;
    }
    if (q->list && *q->list && (rc = review__list_name_check(q->list, err, errlen)))
        goto done;
    if ((mrc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &txn)) ||
        (mrc = mdb_cursor_open(txn, r->pending, &cur))) {
        rc = db_fail(err, errlen, "begin", mrc);
        goto done;
    }
    /* One walk over the pending records in the since range, in the order
     * asked: it counts them (the queue's length for this filter) and
     * fills the page with those past the cursor.  Pending records are few
     * (each is a person's work), so the walk is cheap. */
    int64_t now = now_us(r);
    MDB_cursor_op first = q->newest ? MDB_LAST : MDB_SET_RANGE,
                  step = q->newest ? MDB_PREV : MDB_NEXT;
    k.mv_size = ID_BYTES;
    k.mv_data = start;
    for (mrc = mdb_cursor_get(cur, &k, &v, first); !mrc;
         mrc = mdb_cursor_get(cur, &k, &v, step)) {
        if (k.mv_size != ID_BYTES)
            continue;
        int cmp = memcmp(k.mv_data, start, ID_BYTES);
        if (cmp < 0 || (after && cmp == 0)) {
            if (q->newest)
                break;      /* below the since bound: done */
            continue;
        }
        if (expired(r, k.mv_data, now))
            continue;
        MDB_val rv;
        if (mdb_get(txn, r->records, &k, &rv))
            continue;   /* cannot happen: both change in one transaction */
        if (q->list && *q->list && !record_in_list(&rv, q->list))
            continue;
        pending++;
        if (have_cursor) {
            int c = memcmp(k.mv_data, cur_id, ID_BYTES);
            if (q->newest ? c >= 0 : c <= 0)
                continue;   /* on an earlier page */
        }
        if (json_array_size(arr) == q->limit) {
            if (!*next) { /* there is more: the cursor is the last returned */
                json_t *last = json_array_get(arr, q->limit - 1);
                snprintf(next, sizeof next, "%s",
                         json_string_value(json_object_get(last, "id")));
            }
            continue;
        }
        json_t *rec = record_json(r, &rv);
        if (rec)
            json_array_append_new(arr, rec);
    }
    if (mrc && mrc != MDB_NOTFOUND) {
        rc = db_fail(err, errlen, "listing", mrc);
        goto done;
    }
    *out = json_pack("{s:O, s:o, s:I, s:s}", "records", arr, "next",
                     *next ? json_string(next) : json_null(), "pending",
                     (json_int_t)pending, "order", q->newest ? "newest" : "oldest");
done:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    json_decref(arr);
    return rc;
}

int scrim_review_list(scrim_review *r, const char *since, size_t limit,
                      json_t **out, char *err, size_t errlen)
{
    scrim_review_query q = {.since = since, .limit = limit};
    return scrim_review_queue(r, &q, out, err, errlen);
}

int scrim_review_decide(scrim_review *r, const char *hexid, const char *decision,
                        const char *note, const char *by, json_t **out,
                        char *err, size_t errlen)
{
    uint8_t id[ID_BYTES];
    MDB_txn *txn = NULL;
    MDB_val k = {ID_BYTES, id}, v;
    json_t *rec = NULL;
    char *text = NULL;
    int rc, mrc;
    json_error_t je;
    if (out)
        *out = NULL;
    if ((rc = id_parse(hexid, id, err, errlen)))
        return rc;
    if (!decision || (strcmp(decision, "confirm") && strcmp(decision, "reject"))) {
        scrim__seterr(err, errlen,
                      "decision must be \"confirm\" or \"reject\", not \"%.40s\"",
                      decision ? decision : "");
        return SCRIM_EINVAL;
    }
    if (note && strlen(note) > SCRIM_REVIEW_NOTE_MAX) {
        scrim__seterr(err, errlen, "note is %zu bytes, over the limit of %d",
                      strlen(note), SCRIM_REVIEW_NOTE_MAX);
        return SCRIM_EINVAL;
    }
    if ((rc = record_begin(r, 0, id, hexid, &txn, &v, err, errlen)))
        return rc;
    if (!(rec = json_loadb(v.mv_data, v.mv_size, 0, &je))) {
        scrim__seterr(err, errlen, "review record %s is corrupt", hexid);
        rc = SCRIM_EDB;
        goto done;
    }
    json_t *prev = json_object_get(rec, "decision");
    const char *was = json_string_value(json_object_get(prev, "decision"));
    json_t *hist = json_object_get(rec, "history");
    if (!json_is_array(hist)) {
        hist = json_array();
        json_object_set_new(rec, "history", hist);
    }
    if (json_is_object(prev))
        json_array_append(hist, prev);
    json_t *d = json_pack("{s:s, s:s, s:f, s:s}", "decision", decision, "note",
                          note ? note : "", "time", (double)now_us(r) / 1e6,
                          "by", by ? by : "");
    if (!d) {
        /* json_pack refuses invalid UTF-8. */
        scrim__seterr(err, errlen, "note is not valid UTF-8");
        rc = SCRIM_EINVAL;
        goto done;
    }
    /* A second decision is a change, never a silent overwrite: it names
     * the one it replaces (who, when, what), which stays in "history". */
    if (json_is_object(prev)) {
        json_t *was_d = json_object();
        static const char *const keys[] = {"decision", "by", "time"};
        for (int i = 0; i < 3; i++) {
            json_t *v = json_object_get(prev, keys[i]);
            json_object_set_new(was_d, keys[i], v ? json_copy(v) : json_null());
        }
        json_object_set_new(d, "replaces", was_d);
    }
    json_object_set_new(rec, "decision", d);
    /* The entries' confirmed / rejected counts (feedback.c), in the same
     * transaction as the decision. */
    if ((mrc = review__count(txn, r->entries, json_object_get(rec, "matches"),
                             was, decision, (double)now_us(r) / 1e6))) {
        rc = db_fail(err, errlen, "counting the decision", mrc);
        goto done;
    }
    if (!(text = json_dumps(rec, JSON_COMPACT))) {
        scrim__seterr(err, errlen, "out of memory");
        rc = SCRIM_ENOMEM;
        goto done;
    }
    MDB_val nv = {strlen(text), text};
    if ((mrc = mdb_put(txn, r->records, &k, &nv, 0)) ||
        ((mrc = mdb_del(txn, r->pending, &k, NULL)) && mrc != MDB_NOTFOUND) ||
        (mrc = outbox_put(r, txn, 'd', id, ID_BYTES))) {
        rc = db_fail(err, errlen, "storing the decision", mrc);
        goto done;
    }
    if ((rc = txn_commit(&txn, err, errlen)))
        goto done;
    if (out) {
        MDB_val tv = {strlen(text), text};
        *out = record_json(r, &tv);
    }
done:
    if (txn)
        mdb_txn_abort(txn);
    free(text);
    json_decref(rec);
    return rc;
}

int scrim_review_purge(scrim_review *r, uint64_t *purged, char *err,
                       size_t errlen)
{
    MDB_txn *txn;
    uint64_t n = 0;
    int mrc, rc;
    if (purged)
        *purged = 0;
    if ((mrc = mdb_txn_begin(r->env, NULL, 0, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    if ((mrc = purge_txn(r, txn, now_us(r), 0, &n))) {
        mdb_txn_abort(txn);
        return db_fail(err, errlen, "purge", mrc);
    }
    if ((rc = txn_commit(&txn, err, errlen)))
        return rc;
    if (purged)
        *purged = n;
    return SCRIM_OK;
}

/* ---- per-list preview level ------------------------------------------------------ */

int review__list_name_check(const char *list, char *err, size_t errlen)
{
    if (scrim_list_name_valid(list))
        return SCRIM_OK;
    scrim__seterr(err, errlen, "bad list name '%.70s': 1-64 of A-Z a-z 0-9 . _ -",
                  list ? list : "");
    return SCRIM_EINVAL;
}

int scrim_review_list_level_set(scrim_review *r, const char *list,
                                const char *level, char *err, size_t errlen)
{
    scrim_preview_opts o;
    char canon[128];
    MDB_txn *txn;
    int rc, mrc;
    if ((rc = review__list_name_check(list, err, errlen)))
        return rc;
    int remove = !level || !strcmp(level, "default");
    if (!remove) {
        int lv = scrim_preview_level_parse(level, &o, err, errlen);
        if (lv < 0)
            return lv;
        if (lv == SCRIM_PREVIEW_NONE)
            snprintf(canon, sizeof canon, "none");
        else
            scrim_preview_opts_format(&o, canon, sizeof canon);
    }
    if ((mrc = mdb_txn_begin(r->env, NULL, 0, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    MDB_val k = {strlen(list), (void *)list}, v = {remove ? 0 : strlen(canon), canon};
    mrc = remove ? mdb_del(txn, r->lists, &k, NULL) : mdb_put(txn, r->lists, &k, &v, 0);
    if (remove && mrc == MDB_NOTFOUND)
        mrc = 0;
    if (!mrc)
        mrc = outbox_put(r, txn, 'l', list, strlen(list));
    if (mrc) {
        mdb_txn_abort(txn);
        return db_fail(err, errlen, "storing the list's level", mrc);
    }
    return txn_commit(&txn, err, errlen);
}

/* The level of one list inside txn. */
static int level_txn(scrim_review *r, MDB_txn *txn, const char *list,
                     scrim_preview_opts *o, char *err, size_t errlen)
{
    char text[128];
    MDB_val k = {strlen(list), (void *)list}, v;
    int mrc = mdb_get(txn, r->lists, &k, &v);
    if (mrc == MDB_NOTFOUND) {
        scrim_preview_opts_default(o);
        return SCRIM_PREVIEW_STANDARD;
    }
    if (mrc)
        return db_fail(err, errlen, "read", mrc);
    snprintf(text, sizeof text, "%.*s", (int)v.mv_size, (const char *)v.mv_data);
    return scrim_preview_level_parse(text, o, err, errlen);
}

int scrim_review_list_level(scrim_review *r, const char *list,
                            scrim_preview_opts *o, char *err, size_t errlen)
{
    return scrim_review_level_for(r, &list, 1, o, err, errlen);
}

int scrim_review_level_for(scrim_review *r, const char *const *lists, size_t n,
                           scrim_preview_opts *o, char *err, size_t errlen)
{
    MDB_txn *txn;
    int mrc, best = -1;
    scrim_preview_opts cur;
    scrim_preview_opts_default(o);
    if (n == 0)
        return SCRIM_PREVIEW_STANDARD;
    if ((mrc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    for (size_t i = 0; i < n; i++) {
        if (!lists[i] || !*lists[i])
            continue;
        int lv = level_txn(r, txn, lists[i], &cur, err, errlen);
        if (lv < 0) {
            mdb_txn_abort(txn);
            return lv;
        }
        if (lv == SCRIM_PREVIEW_NONE) {
            best = SCRIM_PREVIEW_NONE;
            break;
        }
        /* Most protective: fewest blocks, then the stronger blur. */
        if (best < 0 || cur.detail < o->detail ||
            (cur.detail == o->detail && cur.blur > o->blur)) {
            *o = cur;
            best = lv;
        }
    }
    mdb_txn_abort(txn);
    return best < 0 ? SCRIM_PREVIEW_STANDARD : best;
}

/* A table of names and strings (levels, warnings) as one JSON object. */
int review__strings(MDB_env *env, MDB_dbi dbi, const char *db, json_t **out,
                    char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int mrc;
    char w[64];
    *out = NULL;
    snprintf(w, sizeof w, "%s database: listing", db);
    if ((mrc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)))
        return scrim__mdb_err(mrc, w, err, errlen);
    if ((mrc = mdb_cursor_open(txn, dbi, &cur))) {
        mdb_txn_abort(txn);
        return scrim__mdb_err(mrc, w, err, errlen);
    }
    json_t *o = json_object();
    while (!(mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))) {
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)k.mv_size, (const char *)k.mv_data);
        json_object_set_new(o, name, json_stringn(v.mv_data, v.mv_size));
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (mrc != MDB_NOTFOUND) {
        json_decref(o);
        return scrim__mdb_err(mrc, w, err, errlen);
    }
    *out = o;
    return SCRIM_OK;
}

int scrim_review_list_levels(scrim_review *r, json_t **out, char *err,
                             size_t errlen)
{
    return review__strings(r->env, r->lists, "review", out, err, errlen);
}

/* ---- cluster mode (sync.c) --------------------------------------------------- */

int scrim__review_sync_open(scrim_review *r, char node[33], uint64_t *applied,
                            char *err, size_t errlen)
{
    MDB_txn *txn;
    int mrc;
    uint8_t nk[16];
    if ((mrc = mdb_txn_begin(r->env, NULL, 0, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    MDB_val k = {4, "node"}, v, ak = {7, "applied"};
    if ((mrc = mdb_dbi_open(txn, "review.outbox", MDB_CREATE, &r->outbox)) ||
        (mrc = mdb_dbi_open(txn, "review.sync", MDB_CREATE, &r->syncmeta)))
        goto fail;
    /* this database's name in the cluster's review log: random, once */
    if ((mrc = mdb_get(txn, r->syncmeta, &k, &v)) == MDB_NOTFOUND) {
        if (getrandom(nk, sizeof nk, 0) != sizeof nk) {
            mdb_txn_abort(txn);
            scrim__seterr(err, errlen, "cannot get random bytes");
            return SCRIM_EIO;
        }
        v = (MDB_val){sizeof nk, nk};
        if ((mrc = mdb_put(txn, r->syncmeta, &k, &v, 0)))
            goto fail;
    } else if (mrc || v.mv_size != 16) {
        mrc = mrc ? mrc : MDB_CORRUPTED;
        goto fail;
    }
    scrim__hex_encode(v.mv_data, 16, node);
    *applied = 0;
    if (!(mrc = mdb_get(txn, r->syncmeta, &ak, &v)) && v.mv_size == 8)
        memcpy(applied, v.mv_data, 8);
    else if (mrc && mrc != MDB_NOTFOUND)
        goto fail;
    int rc = txn_commit(&txn, err, errlen);
    if (!rc)
        r->sync = 1;
    return rc;
fail:
    mdb_txn_abort(txn);
    return db_fail(err, errlen, "opening the review outbox", mrc);
}

void scrim__review_out_free(scrim__review_out *o)
{
    free(o->record);
    free(o->preview);
    free(o->lighter);
    memset(o, 0, sizeof *o);
}

static void *dup_val(const MDB_val *v)
{
    void *p = malloc(v->mv_size + 1);
    if (p) {
        memcpy(p, v->mv_data, v->mv_size);
        ((char *)p)[v->mv_size] = '\0';
    }
    return p;
}

int scrim__review_outbox_next(scrim_review *r, scrim__review_out *o,
                              char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int mrc, rc = 0;
    memset(o, 0, sizeof *o);
    if ((mrc = mdb_txn_begin(r->env, NULL, MDB_RDONLY, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    if ((mrc = mdb_cursor_open(txn, r->outbox, &cur))) {
        mdb_txn_abort(txn);
        return db_fail(err, errlen, "outbox", mrc);
    }
    mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    mdb_cursor_close(cur);
    if (mrc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return SCRIM_ENOTFOUND;
    }
    if (mrc || k.mv_size != 8 || v.mv_size < 2 || v.mv_size > 65 ||
        (((const char *)v.mv_data)[0] != 'l' && v.mv_size != 1 + ID_BYTES)) {
        mdb_txn_abort(txn);
        return db_fail(err, errlen, "outbox", mrc ? mrc : MDB_CORRUPTED);
    }
    for (int i = 0; i < 8; i++)
        o->seq = o->seq << 8 | ((const uint8_t *)k.mv_data)[i];
    o->kind = ((const char *)v.mv_data)[0];
    if (o->kind == 'l') {
        /* a list's preview level, as it is now ("default": none set) */
        snprintf(o->id, sizeof o->id, "%.*s", (int)v.mv_size - 1,
                 (const char *)v.mv_data + 1);
        MDB_val lk = {strlen(o->id), o->id}, lv;
        mrc = mdb_get(txn, r->lists, &lk, &lv);
        if (mrc == MDB_NOTFOUND)
            lv = (MDB_val){7, "default"};
        else if (mrc) {
            mdb_txn_abort(txn);
            return db_fail(err, errlen, "outbox", mrc);
        }
        o->record = dup_val(&lv);
        mdb_txn_abort(txn);
        if (!o->record) {
            scrim__seterr(err, errlen, "out of memory");
            return SCRIM_ENOMEM;
        }
        return 0;
    }
    uint8_t id[ID_BYTES];
    memcpy(id, (const uint8_t *)v.mv_data + 1, ID_BYTES);
    scrim__hex_encode(id, ID_BYTES, o->id);
    MDB_val rk = {ID_BYTES, id}, rv;
    if ((mrc = mdb_get(txn, r->records, &rk, &rv))) {
        /* purged meanwhile: nothing to send but the entry */
        mdb_txn_abort(txn);
        o->gone = 1;
        return mrc == MDB_NOTFOUND ? 0 : db_fail(err, errlen, "record", mrc);
    }
    if (!(o->record = dup_val(&rv)))
        rc = SCRIM_ENOMEM;
    for (int l = 0; l < 2 && !rc; l++) {
        uint8_t pk[ID_BYTES + 1];
        memcpy(pk, id, ID_BYTES);
        pk[ID_BYTES] = l ? 'l' : 'd';
        MDB_val kk = {sizeof pk, pk}, pv;
        if ((mrc = mdb_get(txn, r->previews, &kk, &pv)) == MDB_NOTFOUND)
            continue;
        if (mrc) {
            rc = db_fail(err, errlen, "preview", mrc);
            break;
        }
        uint8_t **dst = l ? &o->lighter : &o->preview;
        if (!(*dst = dup_val(&pv)))
            rc = SCRIM_ENOMEM;
        *(l ? &o->lighter_len : &o->preview_len) = pv.mv_size;
    }
    mdb_txn_abort(txn);
    if (rc == SCRIM_ENOMEM)
        scrim__seterr(err, errlen, "out of memory");
    if (rc)
        scrim__review_out_free(o);
    return rc;
}

int scrim__review_outbox_done(scrim_review *r, uint64_t seq, char *err,
                              size_t errlen)
{
    MDB_txn *txn;
    uint8_t key[8];
    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)(seq >> (56 - 8 * i));
    MDB_val k = {8, key};
    int mrc = mdb_txn_begin(r->env, NULL, 0, &txn);
    if (!mrc && (mrc = mdb_del(txn, r->outbox, &k, NULL)) == MDB_NOTFOUND)
        mrc = 0;
    if (mrc) {
        if (txn)
            mdb_txn_abort(txn);
        return db_fail(err, errlen, "outbox", mrc);
    }
    return txn_commit(&txn, err, errlen);
}

size_t scrim__review_outbox_count(scrim_review *r)
{
    MDB_txn *txn;
    MDB_stat st;
    if (!r->sync || mdb_txn_begin(r->env, NULL, MDB_RDONLY, &txn))
        return 0;
    int mrc = mdb_stat(txn, r->outbox, &st);
    mdb_txn_abort(txn);
    return mrc ? 0 : st.ms_entries;
}

/* Same decision (its time and who)? */
static int same_decision(json_t *a, json_t *b)
{
    return json_is_object(a) && json_is_object(b) &&
           json_equal(json_object_get(a, "time"), json_object_get(b, "time")) &&
           json_equal(json_object_get(a, "by"), json_object_get(b, "by")) &&
           json_equal(json_object_get(a, "decision"),
                      json_object_get(b, "decision"));
}

int scrim__review_apply(scrim_review *r, uint64_t logid, char kind,
                        const char *hexid, const char *record,
                        size_t record_len, const uint8_t *preview,
                        size_t preview_len, const uint8_t *lighter,
                        size_t lighter_len, char *err, size_t errlen)
{
    uint8_t id[ID_BYTES];
    MDB_txn *txn;
    json_t *rec = NULL, *mine = NULL;
    char *text = NULL;
    json_error_t je;
    int mrc = 0, rc;
    MDB_val ak = {7, "applied"}, av = {8, &logid};
    if (kind && kind != 'l' && (rc = id_parse(hexid, id, err, errlen)))
        kind = 0;   /* a bad row: passed over */
    if ((mrc = mdb_txn_begin(r->env, NULL, 0, &txn)))
        return db_fail(err, errlen, "begin", mrc);
    MDB_val k = {ID_BYTES, id}, v, empty = {0, ""};
    if (kind == 'r' && mdb_get(txn, r->records, &k, &v) == MDB_NOTFOUND &&
        !expired(r, id, now_us(r))) {
        /* a record another node made: into the queue here, once */
        MDB_val rv = {record_len, (void *)record};
        if ((mrc = mdb_put(txn, r->records, &k, &rv, 0)))
            goto fail;
        rec = json_loadb(record, record_len, 0, &je);
        if (!json_is_object(json_object_get(rec, "decision")) &&
            (mrc = mdb_put(txn, r->pending, &k, &empty, 0)))
            goto fail;
        const char *dk = json_string_value(json_object_get(rec, "dedup"));
        uint8_t key[KEY_BYTES];
        if (dk && strlen(dk) == 2 * KEY_BYTES &&
            !scrim__hex_decode(dk, 2 * KEY_BYTES, key)) {
            MDB_val dkv = {KEY_BYTES, key}, idv = {ID_BYTES, id};
            if ((mrc = mdb_put(txn, r->dedup, &dkv, &idv, MDB_NOOVERWRITE)) &&
                mrc != MDB_KEYEXIST)
                goto fail;
        }
        for (int l = 0; l < 2; l++) {
            const uint8_t *d = l ? lighter : preview;
            size_t n = l ? lighter_len : preview_len;
            if (!d || !n)
                continue;
            uint8_t pk[ID_BYTES + 1];
            memcpy(pk, id, ID_BYTES);
            pk[ID_BYTES] = l ? 'l' : 'd';
            MDB_val kk = {sizeof pk, pk}, pv = {n, (void *)d};
            if ((mrc = mdb_put(txn, r->previews, &kk, &pv, 0)))
                goto fail;
        }
    } else if (kind == 'd' && !mdb_get(txn, r->records, &k, &v)) {
        /* a decision made on another node: the latest wins, the one it
         * replaces goes to the history, as scrim_review_decide does */
        json_t *d;
        rec = json_loadb(v.mv_data, v.mv_size, 0, &je);
        mine = json_loadb(record, record_len, 0, &je);
        d = json_object_get(mine, "decision");
        json_t *prev = json_object_get(rec, "decision");
        if (rec && json_is_object(d) && !same_decision(prev, d)) {
            json_t *hist = json_object_get(rec, "history");
            if (!json_is_array(hist)) {
                hist = json_array();
                json_object_set_new(rec, "history", hist);
            }
            if (json_is_object(prev))
                json_array_append(hist, prev);
            json_object_set(rec, "decision", d);
            if (!(text = json_dumps(rec, JSON_COMPACT))) {
                mrc = ENOMEM;
                goto fail;
            }
            MDB_val nv = {strlen(text), text};
            if ((mrc = mdb_put(txn, r->records, &k, &nv, 0)) ||
                ((mrc = mdb_del(txn, r->pending, &k, NULL)) &&
                 mrc != MDB_NOTFOUND))
                goto fail;
            mrc = 0;
        }
    }
    if (kind == 'l' && !review__list_name_check(hexid, err, errlen)) {
        /* a list's preview level set on another node */
        MDB_val lk = {strlen(hexid), (void *)hexid};
        MDB_val lv = {record_len, (void *)record};
        if (record_len == 7 && !memcmp(record, "default", 7)) {
            if ((mrc = mdb_del(txn, r->lists, &lk, NULL)) == MDB_NOTFOUND)
                mrc = 0;
        } else if (record_len && record_len < 128) {
            mrc = mdb_put(txn, r->lists, &lk, &lv, 0);
        }
        if (mrc)
            goto fail;
    }
    if ((mrc = mdb_put(txn, r->syncmeta, &ak, &av, 0)))
        goto fail;
    json_decref(rec);
    json_decref(mine);
    free(text);
    return txn_commit(&txn, err, errlen);
fail:
    mdb_txn_abort(txn);
    json_decref(rec);
    json_decref(mine);
    free(text);
    return db_fail(err, errlen, "applying a review change", mrc);
}
