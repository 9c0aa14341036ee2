/* store_quarantine.c - entries set aside after too many rejected matches:
 * the REF_F_QUARANTINE flag on each of an entry's records (its PDQ records
 * and the index-side variants stored with it, its digest record, or a
 * video's record and frame records), and a registry of them in scrim.meta
 * (key "quarantine" . list id (BE) . type . entry key text -> JSON {"time",
 * "by", "why"}) for listing, so that nothing has to scan the refs.
 *
 * The flag is in the records themselves, not in a side table, because a
 * lookup decodes every hit's record anyway (store_lookup.c: emit_hit): a
 * quarantined entry is skipped by one test on bytes already read, and
 * every lookup path (PDQ index, scan, digests, a video's frames) honours it
 * without a second read. */
#include "index/index.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QKEY "quarantine"
#define QKEY_LEN 10
#define VARIANT_WALK 64        /* refs looked at on each side for variants */

/* The refs of one entry, and where its other records are. */
typedef struct qentry {
    int type;
    uint32_t *refs;
    size_t nrefs, cap;
    uint8_t dkey[5 + 32];      /* digests key (MD5 / SHA-256) */
    size_t dklen;
    uint8_t *vkey;             /* videos key (malloc'd) */
    size_t vklen;
} qentry;

static void qentry_free(qentry *e)
{
    free(e->refs);
    free(e->vkey);
}

static int push_ref(qentry *e, uint32_t ref)
{
    for (size_t i = 0; i < e->nrefs; i++)
        if (e->refs[i] == ref)
            return 0;
    if (scrim__grow(&e->refs, &e->cap, e->nrefs, sizeof *e->refs, 8))
        return ENOMEM;
    e->refs[e->nrefs++] = ref;
    return 0;
}

typedef struct exact_find {
    uint32_t list;
    qentry *e;
    int oom;
} exact_find;

static int emit_exact(void *ud, uint32_t ref, const void *rec, size_t reclen,
                      int distance)
{
    exact_find *f = ud;
    uint32_t list;
    (void)distance;
    if (reclen < REF_BASE)
        return 0;
    memcpy(&list, (const uint8_t *)rec + REF_LIST, 4);
    if (list == f->list && ((const uint8_t *)rec)[REF_TYPE] == SCRIM_HASH_PDQ &&
        push_ref(f->e, ref)) {
        f->oom = 1;
        return SCRIM_ENOMEM;
    }
    return 0;
}

/* The index-side variants stored with a PDQ record: scrim_media_add adds
 * an image and its variants in one import, under one id, as consecutive
 * refs; walk both ways while the records are the list's PDQ records with
 * that id. */
static int add_variants(scrim_store *s, MDB_txn *txn, qentry *e, uint32_t ref,
                        uint32_t list)
{
    MDB_val k = {4, &ref}, v;
    ref_view r0, r;
    if (mdb_get(txn, s->refs, &k, &v) || store__ref_decode(v.mv_data, v.mv_size, &r0) ||
        !r0.id)
        return 0;
    for (int dir = -1; dir <= 1; dir += 2) {
        for (int i = 1; i <= VARIANT_WALK; i++) {
            int64_t n = (int64_t)ref + dir * i;
            if (n < 0 || n > UINT32_MAX)
                break;
            uint32_t nr = (uint32_t)n;
            MDB_val nk = {4, &nr}, nv;
            if (mdb_get(txn, s->refs, &nk, &nv) ||
                store__ref_decode(nv.mv_data, nv.mv_size, &r) ||
                r.list != list || r.type != SCRIM_HASH_PDQ || !r.id ||
                r.idlen != r0.idlen || memcmp(r.id, r0.id, r.idlen) ||
                (!r.variant && !r0.variant))
                break;
            if (push_ref(e, nr))
                return ENOMEM;
        }
    }
    return 0;
}

/* Find the entry's records in txn.  SCRIM_EINVAL for a bad key,
 * SCRIM_ENOTFOUND if the list has no such entry; err set. */
static int entry_find(scrim_store *s, MDB_txn *txn, const struct list_rec *rec,
                      const char *list, int type, const char *key, qentry *e,
                      char *err, size_t errlen)
{
    size_t len = key ? strlen(key) : 0;
    memset(e, 0, sizeof *e);
    e->type = type;
    if (type == SCRIM_HASH_PDQ) {
        scrim_pdq h;
        if (scrim_pdq_from_hex(key, len, &h)) {
            scrim__seterr(err, errlen, "'%.80s' is not a PDQ hash (64 hex digits)",
                          key ? key : "");
            return SCRIM_EINVAL;
        }
        exact_find f = {rec->id, e, 0};
        int rc = mih__find_exact(txn, s->index, s->refs, &h, emit_exact, &f);
        if (f.oom)
            goto oom;
        if (rc) {
            scrim__seterr(err, errlen, "quarantine: the index is corrupt");
            return SCRIM_EDB;
        }
        size_t n = e->nrefs;
        for (size_t i = 0; i < n; i++)
            if (add_variants(s, txn, e, e->refs[i], rec->id))
                goto oom;
    } else if (type == SCRIM_HASH_MD5 || type == SCRIM_HASH_SHA256) {
        size_t dl = type == SCRIM_HASH_MD5 ? 16 : 32;
        if (len != 2 * dl || scrim__hex_decode(key, len, e->dkey + 5)) {
            scrim__seterr(err, errlen, "'%.80s' is not a %s (%zu hex digits)",
                          key ? key : "", scrim_hash_type_name(type), 2 * dl);
            return SCRIM_EINVAL;
        }
        store__key_list(e->dkey, rec->id);
        e->dkey[4] = (uint8_t)type;
        e->dklen = 5 + dl;
        MDB_val k = {e->dklen, e->dkey}, v;
        if (mdb_get(txn, s->digests, &k, &v))
            e->dklen = 0;
    } else if (type == SCRIM_HASH_VIDEO) {
        if (!len || len > SCRIM_ENTRY_TEXT_MAX) {
            scrim__seterr(err, errlen, "a video entry is named by its content id");
            return SCRIM_EINVAL;
        }
        if (!(e->vkey = store__video_key(rec->id, key, len)))
            goto oom;
        e->vklen = 4 + len;
        MDB_val k = {e->vklen, e->vkey}, v;
        if (mdb_get(txn, s->videos, &k, &v) || v.mv_size < 13) {
            e->vklen = 0;
        } else {
            uint32_t first, nf;
            memcpy(&first, v.mv_data, 4);
            memcpy(&nf, (const uint8_t *)v.mv_data + 4, 4);
            for (uint32_t i = 0; i < nf; i++)
                if (push_ref(e, first + i))
                    goto oom;
        }
    } else {
        scrim__seterr(err, errlen, "unknown entry type");
        return SCRIM_EINVAL;
    }
    if (!e->nrefs && !e->dklen && !e->vklen) {
        scrim__seterr(err, errlen, "list '%s' has no %s entry %.80s", list,
                      scrim_hash_type_name(type), key);
        return SCRIM_ENOTFOUND;
    }
    return 0;
oom:
    scrim__seterr(err, errlen, "out of memory");
    return SCRIM_ENOMEM;
}

/* Does any of the entry's records carry the flag?  (A registry key can
 * outlive its flags: the entry removed by a plain scrim remove, then
 * imported again.) */
static int entry_flagged(scrim_store *s, MDB_txn *txn, const qentry *e)
{
    MDB_val k, v;
    for (size_t i = 0; i < e->nrefs; i++) {
        k.mv_size = 4;
        k.mv_data = &e->refs[i];
        if (!mdb_get(txn, s->refs, &k, &v) && v.mv_size > REF_FLAGS &&
            (((const uint8_t *)v.mv_data)[REF_FLAGS] & REF_F_QUARANTINE))
            return 1;
    }
    k.mv_size = e->dklen;
    k.mv_data = (void *)e->dkey;
    if (e->dklen && !mdb_get(txn, s->digests, &k, &v) && v.mv_size > 5 &&
        (((const uint8_t *)v.mv_data)[5] & REF_F_QUARANTINE))
        return 1;
    k.mv_size = e->vklen;
    k.mv_data = e->vkey;
    return e->vklen && !mdb_get(txn, s->videos, &k, &v) && v.mv_size > 12 &&
           (((const uint8_t *)v.mv_data)[12] & REF_F_QUARANTINE);
}

/* Set or clear flag bit `at` of the value of k in dbi; *n counts changes
 * (LMDB codes). */
static int flag_value(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, size_t at, int on,
                      size_t *n)
{
    MDB_val v;
    int rc = mdb_get(txn, dbi, k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (v.mv_size <= at)
        return MDB_CORRUPTED;
    uint8_t f = ((const uint8_t *)v.mv_data)[at];
    uint8_t nf = on ? (uint8_t)(f | REF_F_QUARANTINE)
                    : (uint8_t)(f & ~REF_F_QUARANTINE);
    if (nf == f)
        return 0;
    uint8_t *copy = malloc(v.mv_size);
    if (!copy)
        return ENOMEM;
    memcpy(copy, v.mv_data, v.mv_size);
    copy[at] = nf;
    MDB_val nv = {v.mv_size, copy};
    rc = mdb_put(txn, dbi, k, &nv, 0);
    free(copy);
    if (!rc)
        (*n)++;
    return rc;
}

static int entry_flag(scrim_store *s, MDB_txn *txn, qentry *e, int on, size_t *n)
{
    int rc = 0;
    for (size_t i = 0; i < e->nrefs && !rc; i++) {
        MDB_val k = {4, &e->refs[i]};
        rc = flag_value(txn, s->refs, &k, REF_FLAGS, on, n);
    }
    if (!rc && e->dklen) {
        MDB_val k = {e->dklen, e->dkey};
        rc = flag_value(txn, s->digests, &k, 5, on, n);
    }
    if (!rc && e->vklen) {
        MDB_val k = {e->vklen, e->vkey};
        rc = flag_value(txn, s->videos, &k, 12, on, n);
    }
    return rc;
}

/* The registry key: "quarantine" . list id . type . key text; malloc'd. */
static uint8_t *reg_key(uint32_t list, int type, const char *key, size_t *len)
{
    size_t kl = strlen(key);
    uint8_t *k = malloc(QKEY_LEN + 5 + kl);
    if (!k)
        return NULL;
    memcpy(k, QKEY, QKEY_LEN);
    store__key_list(k + QKEY_LEN, list);
    k[QKEY_LEN + 4] = (uint8_t)type;
    memcpy(k + QKEY_LEN + 5, key, kl);
    *len = QKEY_LEN + 5 + kl;
    return k;
}

/* A PDQ or digest key in lower case, as matches report them. */
static void canon_key(int type, const char *key, char *out, size_t n)
{
    snprintf(out, n, "%s", key ? key : "");
    if (type != SCRIM_HASH_VIDEO)
        for (char *p = out; *p; p++)
            if (*p >= 'A' && *p <= 'F')
                *p = (char)(*p - 'A' + 'a');
}

static int audit(scrim_store *s, MDB_txn *txn, const char *action,
                 const char *list, uint64_t count, int type, const char *key,
                 const char *who, const char *why)
{
    char detail[256];
    uint64_t seq;
    snprintf(detail, sizeof detail, "%s %.80s by %.40s%s%.100s",
             scrim_hash_type_name(type), key, who && *who ? who : "(unknown)",
             why && *why ? ": " : "", why ? why : "");
    int rc = store__meta_next(s, txn, "next_audit", &seq);
    return rc ? rc : store__audit_add(s, txn, seq, action, list, count, detail);
}

int scrim_store_quarantine(scrim_store *s, const char *list, int type,
                           const char *key, int on, const char *who,
                           const char *why, int *changed, char *err,
                           size_t errlen)
{
    struct list_rec rec;
    qentry e = {0};
    MDB_txn *txn = NULL;
    uint8_t *rk = NULL;
    size_t rkl = 0, n = 0;
    char ck[SCRIM_ENTRY_TEXT_MAX + 1];
    int rc;
    if (changed)
        *changed = 0;
    canon_key(type, key, ck, sizeof ck);
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
        return scrim__mdb_err(rc, "quarantine", err, errlen);
    if ((rc = store__list_load(s, txn, list, &rec, NULL, err, errlen)) ||
        (rc = entry_find(s, txn, &rec, list, type, ck, &e, err, errlen)))
        goto fail;
    if (!(rk = reg_key(rec.id, type, ck, &rkl))) {
        rc = SCRIM_ENOMEM;
        scrim__seterr(err, errlen, "out of memory");
        goto fail;
    }
    MDB_val k = {rkl, rk};
    if ((rc = entry_flag(s, txn, &e, on, &n)))
        goto mdbfail;
    if (on) {
        json_t *j = json_pack("{s:I, s:s, s:s}", "time", (json_int_t)store__now(),
                              "by", who ? who : "", "why", why ? why : "");
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!text) {
            rc = SCRIM_EINVAL;
            scrim__seterr(err, errlen, "who and why must be UTF-8 text");
            goto fail;
        }
        MDB_val v = {strlen(text), text};
        rc = n ? mdb_put(txn, s->meta, &k, &v, 0) : 0;
        free(text);
    } else if (n) {
        rc = mdb_del(txn, s->meta, &k, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc)
        goto mdbfail;
    if (n && (rc = audit(s, txn, on ? "quarantine" : "restore", list, n, type,
                         ck, who, why)))
        goto mdbfail;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc)
        goto mdbfail;
    if (changed)
        *changed = n > 0;
    free(rk);
    qentry_free(&e);
    return 0;
mdbfail:
    rc = scrim__mdb_err(rc, "quarantine", err, errlen);
fail:
    if (txn)
        mdb_txn_abort(txn);
    free(rk);
    qentry_free(&e);
    return rc;
}

int scrim_store_quarantine_remove(scrim_store *s, const char *list, int type,
                                  const char *key, const char *who,
                                  char *err, size_t errlen)
{
    struct list_rec rec;
    qentry e = {0};
    MDB_txn *txn = NULL;
    uint8_t *rk = NULL;
    size_t rkl = 0;
    char ck[SCRIM_ENTRY_TEXT_MAX + 1];
    char **values = NULL;
    size_t nv = 0;
    int rc;
    canon_key(type, key, ck, sizeof ck);
    /* What to remove, read in one snapshot: every PDQ of the entry (its
     * variants too), its digest, or its video. */
    if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)))
        return scrim__mdb_err(rc, "quarantine", err, errlen);
    if ((rc = store__list_load(s, txn, list, &rec, NULL, err, errlen)) ||
        (rc = entry_find(s, txn, &rec, list, type, ck, &e, err, errlen)))
        goto done;
    if (!(rk = reg_key(rec.id, type, ck, &rkl)))
        goto oom;
    MDB_val k = {rkl, rk}, v;
    if (mdb_get(txn, s->meta, &k, &v) || !entry_flagged(s, txn, &e)) {
        scrim__seterr(err, errlen, "%s entry %.80s of list '%s' is not "
                      "quarantined (scrim remove removes any entry)",
                      scrim_hash_type_name(type), ck, list);
        rc = SCRIM_ENOTFOUND;
        goto done;
    }
    if (!(values = calloc(e.nrefs + 1, sizeof *values)))
        goto oom;
    if (type == SCRIM_HASH_PDQ) {
        for (size_t i = 0; i < e.nrefs; i++) {
            MDB_val rk2 = {4, &e.refs[i]}, rv;
            ref_view r;
            if (mdb_get(txn, s->refs, &rk2, &rv) ||
                store__ref_decode(rv.mv_data, rv.mv_size, &r))
                continue;
            char hex[65];
            scrim_pdq_to_hex(&r.hash, hex);
            if (!(values[nv] = strdup(hex)))
                goto oom;
            nv++;
        }
    } else if (asprintf(&values[nv], "%s:%s", scrim_hash_type_name(type), ck) < 0) {
        values[nv] = NULL;
        goto oom;
    } else {
        nv++;
    }
    mdb_txn_abort(txn);
    txn = NULL;
    uint64_t removed = 0, missing = 0;
    if ((rc = scrim_store_remove(s, list, (const char *const *)values, nv,
                                 &removed, &missing, err, errlen)))
        goto done;
    /* The registry and the audit: who removed it and why. */
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) ||
        ((rc = mdb_del(txn, s->meta, &k, NULL)) && rc != MDB_NOTFOUND) ||
        (rc = audit(s, txn, "unquarantine-remove", list, removed, type, ck, who,
                    "removed from the list")) ||
        (rc = mdb_txn_commit(txn))) {
        txn = NULL;
        rc = scrim__mdb_err(rc, "quarantine", err, errlen);
        goto done;
    }
    txn = NULL;
    goto done;
oom:
    scrim__seterr(err, errlen, "out of memory");
    rc = SCRIM_ENOMEM;
done:
    if (txn)
        mdb_txn_abort(txn);
    for (size_t i = 0; values && i < nv; i++)
        free(values[i]);
    free(values);
    free(rk);
    qentry_free(&e);
    return rc;
}

int scrim_store_quarantined(scrim_store *s, json_t **out, char *err,
                            size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *c = NULL, *lc = NULL;
    MDB_val k, v;
    json_t *arr = json_array();
    *out = NULL;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        json_decref(arr);
        return scrim__mdb_err(rc, "quarantine", err, errlen);
    }
    if ((rc = mdb_cursor_open(txn, s->meta, &c)))
        goto done;
    k.mv_size = QKEY_LEN;
    k.mv_data = QKEY;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         !rc && k.mv_size > QKEY_LEN + 5 && !memcmp(k.mv_data, QKEY, QKEY_LEN);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const uint8_t *p = k.mv_data;
        uint32_t id = (uint32_t)p[QKEY_LEN] << 24 | (uint32_t)p[QKEY_LEN + 1] << 16 |
                      (uint32_t)p[QKEY_LEN + 2] << 8 | p[QKEY_LEN + 3];
        int type = p[QKEY_LEN + 4];
        /* the list's name: a walk of scrim.lists (few lists, few entries) */
        char name[SCRIM_LIST_NAME_MAX + 1] = "";
        struct list_rec found;
        MDB_val lk, lv;
        int lrc;
        if (!lc && (rc = mdb_cursor_open(txn, s->lists, &lc)))
            goto done;
        for (lrc = mdb_cursor_get(lc, &lk, &lv, MDB_FIRST); !lrc;
             lrc = mdb_cursor_get(lc, &lk, &lv, MDB_NEXT)) {
            struct list_rec r;
            if (lv.mv_size < sizeof r)
                continue;
            memcpy(&r, lv.mv_data, sizeof r);
            if (r.id == id && lk.mv_size <= SCRIM_LIST_NAME_MAX) {
                found = r;
                memcpy(name, lk.mv_data, lk.mv_size);
                name[lk.mv_size] = '\0';
                break;
            }
        }
        if (!*name)
            continue; /* its list was dropped */
        /* removed meanwhile by a plain scrim remove (or imported again
         * since, without the flag): not listed */
        char ek[SCRIM_ENTRY_TEXT_MAX + 1], ferr[64];
        qentry e;
        size_t ekl = k.mv_size - QKEY_LEN - 5;
        snprintf(ek, sizeof ek, "%.*s", (int)ekl, (const char *)p + QKEY_LEN + 5);
        int frc = entry_find(s, txn, &found, name, type, ek, &e, ferr, sizeof ferr);
        int flagged = !frc && entry_flagged(s, txn, &e);
        qentry_free(&e);
        if (!flagged)
            continue;
        json_error_t je;
        json_t *j = json_loadb(v.mv_data, v.mv_size, 0, &je);
        json_t *o = json_pack("{s:s, s:s, s:s#}", "list", name, "type",
                              scrim_hash_type_name(type),
                              type == SCRIM_HASH_VIDEO ? "id" : "hash",
                              (const char *)p + QKEY_LEN + 5,
                              (int)(k.mv_size - QKEY_LEN - 5));
        if (o && json_is_object(j))
            json_object_update(o, j);
        json_decref(j);
        if (o)
            json_array_append_new(arr, o);
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
done:
    if (lc)
        mdb_cursor_close(lc);
    if (c)
        mdb_cursor_close(c);
    mdb_txn_abort(txn);
    if (rc) {
        json_decref(arr);
        return scrim__mdb_err(rc, "quarantine", err, errlen);
    }
    *out = arr;
    return 0;
}
