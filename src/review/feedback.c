/* feedback.c - the false-match loop: what reviewers' decisions do beyond
 * the record.  Each decision counts on the list entries its record matched
 * (review.entries); a reject suppresses the upload in its block lists'
 * NAME.suppressed allow lists; an entry rejected too often is quarantined
 * in the store until an admin restores or removes it. */
#include "scrim.h"
#include "scrim/review.h"
#include "base/base.h"
#include "index/index.h"
#include "review/review.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEP "\x1f"

/* ---- an entry as a match names it ------------------------------------------ */

/* The entry's key text in review.entries: list, type, hash (a video: its
 * id).  0, or -1 if the match lacks them. */
static int entry_key(json_t *m, char *key, size_t n, const char **list,
                     const char **type, const char **k)
{
    *list = json_string_value(json_object_get(m, "list"));
    *type = json_string_value(json_object_get(m, "type"));
    if (!*type)
        *type = "pdq";
    *k = json_string_value(json_object_get(m, !strcmp(*type, "video") ? "id"
                                                                     : "hash"));
    if (!*list || !*k || !**k)
        return -1;
    int len = snprintf(key, n, "%s" SEP "%s" SEP "%s", *list, *type, *k);
    return len > 0 && (size_t)len < n ? 0 : -1;
}

static json_t *entry_load(MDB_txn *txn, MDB_dbi dbi, const char *key)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    json_error_t je;
    if (mdb_get(txn, dbi, &k, &v))
        return NULL;
    return json_loadb(v.mv_data, v.mv_size, 0, &je);
}

static int entry_store(MDB_txn *txn, MDB_dbi dbi, const char *key, json_t *e)
{
    char *text = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return ENOMEM;
    MDB_val k = {strlen(key), (void *)key}, v = {strlen(text), text};
    int rc = mdb_put(txn, dbi, &k, &v, 0);
    free(text);
    return rc;
}

static json_int_t geti(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

int review__count(MDB_txn *txn, MDB_dbi entries, json_t *matches,
                  const char *was, const char *now, double time)
{
    char key[512];
    size_t i;
    json_t *m, *seen;
    int rc = 0;
    if (was && now && !strcmp(was, now))
        return 0;   /* the same decision again: the counts stand */
    if (!(seen = json_object()))
        return ENOMEM;
    json_array_foreach(matches, i, m) {
        const char *list, *type, *k;
        if (entry_key(m, key, sizeof key, &list, &type, &k))
            continue;
        /* an entry matched twice in one record counts once */
        if (json_object_get(seen, key))
            continue;
        json_object_set_new(seen, key, json_true());
        json_t *e = entry_load(txn, entries, key);
        if (!e)
            e = json_pack("{s:s, s:s, s:s, s:i, s:i, s:b}", "list", list, "type",
                          type, !strcmp(type, "video") ? "id" : "hash", k,
                          "confirmed", 0, "rejected", 0, "quarantined", 0);
        if (!e) {
            rc = ENOMEM;
            break;
        }
        static const char *const field[2] = {"confirmed", "rejected"};
        for (int w = 0; w < 2; w++) {
            const char *d = w ? now : was;
            if (!d)
                continue;
            const char *f = field[strcmp(d, "confirm") != 0];
            json_int_t c = geti(e, f) + (w ? 1 : -1);
            json_object_set_new(e, f, json_integer(c > 0 ? c : 0));
        }
        json_object_set_new(e, "last", json_real(time));
        rc = entry_store(txn, entries, key, e);
        json_decref(e);
        if (rc)
            break;
    }
    json_decref(seen);
    return rc;
}

/* Update one entry's record in its own transaction: fn edits it. */
static int entry_update(scrim_review *r, const char *key,
                        void (*fn)(json_t *e, void *arg), void *arg)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(review__env(r), NULL, 0, &txn);
    if (rc)
        return rc;
    json_t *e = entry_load(txn, review__entries(r), key);
    if (!e) {
        mdb_txn_abort(txn);
        return MDB_NOTFOUND;
    }
    fn(e, arg);
    rc = entry_store(txn, review__entries(r), key, e);
    json_decref(e);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

static json_t *entry_get(scrim_review *r, const char *key)
{
    MDB_txn *txn;
    if (mdb_txn_begin(review__env(r), NULL, MDB_RDONLY, &txn))
        return NULL;
    json_t *e = entry_load(txn, review__entries(r), key);
    mdb_txn_abort(txn);
    return e;
}

/* ---- suppression -------------------------------------------------------------- */

/* The upload's hashes to suppress: its PDQ when it has one (an image), and
 * its SHA-256. */
static size_t upload_hashes(json_t *hashes, const char **pdq, int *quality,
                            const char **sha)
{
    json_t *p = json_array_get(json_object_get(hashes, "pdq"), 0);
    *pdq = json_string_value(json_object_get(p, "hash"));
    *quality = json_is_integer(json_object_get(p, "quality"))
                   ? (int)geti(p, "quality") : -1;
    *sha = json_string_value(json_object_get(hashes, "sha256"));
    if (*pdq && strlen(*pdq) != 64)
        *pdq = NULL;
    if (*sha && strlen(*sha) != 64)
        *sha = NULL;
    return (*pdq != NULL) + (*sha != NULL);
}

static void add_error(json_t *fb, const char *fmt, const char *a, const char *b)
{
    char text[640];
    snprintf(text, sizeof text, fmt, a, b);
    json_array_append_new(json_object_get(fb, "errors"), json_string(text));
}

/* The block lists a record matched, each once. */
static json_t *record_lists(json_t *rec)
{
    json_t *lists = json_array(), *m, *x;
    size_t i, j;
    json_array_foreach(json_object_get(rec, "matches"), i, m) {
        const char *l = json_string_value(json_object_get(m, "list"));
        int dup = !l;
        json_array_foreach(lists, j, x)
            dup = dup || !strcmp(json_string_value(x), l);
        if (!dup)
            json_array_append_new(lists, json_string(l));
    }
    return lists;
}

/* Put the upload's hashes into each NAME.suppressed (created if missing). */
static void suppress(scrim_store *s, const review__loop_sink *sink, json_t *rec,
                     const char *by, json_t *fb)
{
    const char *pdq, *sha;
    int quality;
    char name[SCRIM_LIST_NAME_MAX + 2], err[512], label[160], desc[200];
    json_t *lists = record_lists(rec), *x;
    size_t i;
    if (!upload_hashes(json_object_get(rec, "hashes"), &pdq, &quality, &sha)) {
        add_error(fb, "nothing to suppress: the record has no hash%s%s", "", "");
        json_decref(lists);
        return;
    }
    const char *id = json_string_value(json_object_get(rec, "id"));
    snprintf(label, sizeof label, "rejected by %.100s", by && *by ? by : "a reviewer");
    json_array_foreach(lists, i, x) {
        const char *l = json_string_value(x);
        if ((size_t)snprintf(name, sizeof name, "%s" SCRIM_SUPPRESS_SUFFIX, l) >
            SCRIM_LIST_NAME_MAX) {
            add_error(fb, "list '%s': its name is too long for a '%s' list",
                      l, SCRIM_SUPPRESS_SUFFIX);
            continue;
        }
        /* never into a block list that happens to have the name */
        scrim_list_info li;
        if (!scrim_store_list_get(s, name, &li, NULL, 0) &&
            li.kind != SCRIM_LIST_ALLOW) {
            add_error(fb, "not suppressed: %s is a block list, not %s's "
                      "suppression list", name, l);
            continue;
        }
        snprintf(desc, sizeof desc, "uploads reviewers rejected as matches of %s", l);
        scrim_import_opts io = {.create = 1, .mode = SCRIM_IMPORT_ADD,
                                .source = "review"};
        io.list = (scrim_list_params){SCRIM_LIST_ALLOW, 1, SCRIM_SUPPRESS_RADIUS,
                                      desc};
        scrim_import *imp;
        scrim_pdq h;
        uint8_t d[32];
        int rc;
        if (sink) {   /* the cluster's log: both hashes in one change */
            scrim_entry e[2];
            size_t n = 0;
            if (pdq && !scrim_pdq_from_hex(pdq, 64, &h))
                e[n++] = (scrim_entry){.type = SCRIM_HASH_PDQ, .hash = &h,
                                       .id = id, .label = label,
                                       .quality = quality, .source = "review"};
            if (sha && !scrim__hex_decode(sha, 64, d))
                e[n++] = (scrim_entry){.type = SCRIM_HASH_SHA256, .hash = d,
                                       .id = id, .label = label, .quality = -1,
                                       .source = "review"};
            rc = sink->entries(sink->ud, name, &io, e, n, err, sizeof err);
            goto done;
        }
        rc = scrim_import_begin(s, name, &io, &imp, err, sizeof err);
        if (!rc && pdq && !scrim_pdq_from_hex(pdq, 64, &h)) {
            scrim_entry e = {.type = SCRIM_HASH_PDQ, .hash = &h, .id = id,
                             .label = label, .quality = quality,
                             .source = "review"};
            rc = scrim_import_add(imp, &e, err, sizeof err);
        }
        if (!rc && sha && !scrim__hex_decode(sha, 64, d)) {
            scrim_entry e = {.type = SCRIM_HASH_SHA256, .hash = d, .id = id,
                             .label = label, .quality = -1, .source = "review"};
            rc = scrim_import_add(imp, &e, err, sizeof err);
        }
        if (!rc)
            rc = scrim_import_commit(imp, NULL, err, sizeof err);
        else
            scrim_import_abort(imp);
    done:
        if (rc) {
            add_error(fb, "suppressing in %s: %s", name, err);
            continue;
        }
        json_t *o = json_pack("{s:s, s:s*, s:s*}", "list", name, "pdq", pdq,
                              "sha256", sha);
        json_array_append_new(json_object_get(fb, "suppressed"), o);
    }
    json_decref(lists);
}

/* A reject changed to a confirm: take the upload out of the lists again. */
static void unsuppress(scrim_store *s, const review__loop_sink *sink,
                       json_t *rec, json_t *fb)
{
    const char *pdq, *sha;
    int quality;
    char name[SCRIM_LIST_NAME_MAX + 2], err[512], shav[80];
    json_t *lists = record_lists(rec), *x;
    size_t i;
    if (!upload_hashes(json_object_get(rec, "hashes"), &pdq, &quality, &sha)) {
        json_decref(lists);
        return;
    }
    const char *values[2];
    size_t nv = 0;
    if (pdq)
        values[nv++] = pdq;
    if (sha) {
        snprintf(shav, sizeof shav, "sha256:%s", sha);
        values[nv++] = shav;
    }
    json_array_foreach(lists, i, x) {
        const char *l = json_string_value(x);
        scrim_list_info li;
        uint64_t removed = 0, missing = 0;
        if ((size_t)snprintf(name, sizeof name, "%s" SCRIM_SUPPRESS_SUFFIX, l) >
                SCRIM_LIST_NAME_MAX ||
            scrim_store_list_get(s, name, &li, NULL, 0))
            continue;
        if (sink) {
            scrim_pdq h;
            uint8_t d[32];
            scrim_entry e[2];
            size_t n = 0;
            scrim_import_opts io = {.mode = SCRIM_IMPORT_REMOVE,
                                    .source = "review"};
            io.list = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
            if (pdq && !scrim_pdq_from_hex(pdq, 64, &h))
                e[n++] = (scrim_entry){.type = SCRIM_HASH_PDQ, .hash = &h,
                                       .quality = -1};
            if (sha && !scrim__hex_decode(sha, 64, d))
                e[n++] = (scrim_entry){.type = SCRIM_HASH_SHA256, .hash = d,
                                       .quality = -1};
            if (sink->entries(sink->ud, name, &io, e, n, err, sizeof err))
                add_error(fb, "unsuppressing in %s: %s", name, err);
            else
                json_array_append_new(json_object_get(fb, "unsuppressed"),
                                      json_pack("{s:s, s:s*, s:s*}", "list",
                                                name, "pdq", pdq, "sha256", sha));
            continue;
        }
        if (scrim_store_remove(s, name, values, nv, &removed, &missing, err,
                               sizeof err)) {
            add_error(fb, "unsuppressing in %s: %s", name, err);
            continue;
        }
        if (removed)
            json_array_append_new(json_object_get(fb, "unsuppressed"),
                                  json_pack("{s:s, s:s*, s:s*}", "list", name,
                                            "pdq", pdq, "sha256", sha));
    }
    json_decref(lists);
}

/* ---- quarantine ----------------------------------------------------------------- */

static void mark_quarantined(json_t *e, void *arg)
{
    json_object_set_new(e, "quarantined", json_boolean(*(int *)arg));
    if (!*(int *)arg) /* restored: it takes quarantine_after new rejects */
        json_object_set_new(e, "restored_at", json_integer(geti(e, "rejected")));
}

static void mark_removed(json_t *e, void *arg)
{
    (void)arg;
    json_object_set_new(e, "quarantined", json_false());
    json_object_set_new(e, "removed", json_true());
}

static void quarantine(scrim_review *r, scrim_store *s, json_t *rec,
                       const char *by, int after, json_t *fb)
{
    char key[512], err[512], why[128];
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(rec, "matches"), i, m) {
        const char *list, *type, *k;
        if (entry_key(m, key, sizeof key, &list, &type, &k))
            continue;
        json_t *e = entry_get(r, key);
        json_int_t rej = geti(e, "rejected") - geti(e, "restored_at");
        int already = json_is_true(json_object_get(e, "quarantined")) ||
                      json_is_true(json_object_get(e, "removed"));
        json_decref(e);
        if (already || rej < after)
            continue;
        int changed = 0, on = 1;
        snprintf(why, sizeof why, "%lld matches rejected (threshold %d)",
                 (long long)rej, after);
        int rc = scrim_store_quarantine(s, list, scrim_hash_type_parse(type), k,
                                        1, by, why, &changed, err, sizeof err);
        if (rc == SCRIM_ENOTFOUND)
            continue;   /* no longer in its list */
        if (rc) {
            add_error(fb, "quarantining an entry of %s: %s", list, err);
            continue;
        }
        entry_update(r, key, mark_quarantined, &on);
        json_array_append_new(json_object_get(fb, "quarantined"),
                              json_pack("{s:s, s:s, s:s, s:I}", "list", list,
                                        "type", type,
                                        !strcmp(type, "video") ? "id" : "hash",
                                        k, "rejected", (json_int_t)rej));
    }
}

/* Cluster mode: the decision counted in PostgreSQL on each entry the
 * record matched, once per upload (its SHA-256; else the record), the
 * entries quarantined there when rejected too often. */
static void votes(scrim_review *r, const review__loop_sink *sink, json_t *rec,
                  const char *now, const char *by, int after, json_t *fb)
{
    char key[512], err[512], rid[80];
    size_t i;
    json_t *m, *seen = json_object();
    const char *upload = json_string_value(json_object_get(
        json_object_get(rec, "hashes"), "sha256"));
    if (!upload) {
        snprintf(rid, sizeof rid, "record:%s",
                 json_string_value(json_object_get(rec, "id")));
        upload = rid;
    }
    json_array_foreach(json_object_get(rec, "matches"), i, m) {
        const char *list, *type, *k;
        if (entry_key(m, key, sizeof key, &list, &type, &k) ||
            json_object_get(seen, key))
            continue;
        json_object_set_new(seen, key, json_true());
        long long rej = 0;
        int q = 0, on = 1;
        if (sink->vote(sink->ud, list, type, k, upload, now, after, by, &rej,
                       &q, err, sizeof err)) {
            add_error(fb, "counting the decision on an entry of %s: %s", list,
                      err);
            continue;
        }
        if (!q)
            continue;
        entry_update(r, key, mark_quarantined, &on);
        json_array_append_new(json_object_get(fb, "quarantined"),
                              json_pack("{s:s, s:s, s:s, s:I}", "list", list,
                                        "type", type,
                                        !strcmp(type, "video") ? "id" : "hash",
                                        k, "rejected", (json_int_t)rej));
    }
    json_decref(seen);
}

int scrim_review_decide_loop(scrim_review *r, scrim_store *s, const char *id,
                             const scrim_review_decision *d, json_t **out,
                             char *err, size_t errlen)
{
    return review__decide_loop(r, s, NULL, id, d, out, err, errlen);
}

json_t *review__loop_run(scrim_review *r, scrim_store *s,
                         const review__loop_sink *sink, json_t *rec,
                         const scrim_review_decision *d)
{
    json_t *fb = json_pack("{s:[], s:[], s:[], s:[]}", "suppressed",
                           "unsuppressed", "quarantined", "errors");
    const char *was = json_string_value(json_object_get(
        json_object_get(json_object_get(rec, "decision"), "replaces"), "decision"));
    int reject = !strcmp(d->decision, "reject");
    if (s && reject && d->suppress != 0)
        suppress(s, sink, rec, d->by, fb);
    if (s && !reject && was && !strcmp(was, "reject"))
        unsuppress(s, sink, rec, fb);
    int after = d->quarantine_after < 0 ? SCRIM_REVIEW_QUARANTINE_AFTER
                                        : d->quarantine_after;
    if (s && sink)
        votes(r, sink, rec, d->decision, d->by, after, fb);
    else if (s && reject && after > 0)
        quarantine(r, s, rec, d->by, after, fb);
    return fb;
}

int review__decide_loop(scrim_review *r, scrim_store *s,
                        const review__loop_sink *sink, const char *id,
                        const scrim_review_decision *d, json_t **out,
                        char *err, size_t errlen)
{
    json_t *rec = NULL;
    *out = NULL;
    int rc = scrim_review_decide(r, id, d->decision, d->note, d->by, &rec, err,
                                 errlen);
    if (rc)
        return rc;
    json_object_set_new(rec, "feedback", review__loop_run(r, s, sink, rec, d));
    *out = rec;
    return SCRIM_OK;
}

/* ---- stats and an admin's decisions -------------------------------------------- */

int scrim_review_stats(scrim_review *r, const char *list, json_t **out,
                       char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    int mrc;
    *out = NULL;
    if ((mrc = mdb_txn_begin(review__env(r), NULL, MDB_RDONLY, &txn)))
        return scrim__mdb_err(mrc, "review stats", err, errlen);
    if ((mrc = mdb_cursor_open(txn, review__entries(r), &c))) {
        mdb_txn_abort(txn);
        return scrim__mdb_err(mrc, "review stats", err, errlen);
    }
    json_t *arr = json_array();
    size_t ll = list ? strlen(list) : 0;
    if (ll) {   /* the list's keys are adjacent: "LIST\x1f..." */
        k.mv_size = ll;
        k.mv_data = (void *)list;
        mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    } else {
        mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    }
    for (; !mrc; mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (ll && (k.mv_size <= ll || memcmp(k.mv_data, list, ll) ||
                   ((const char *)k.mv_data)[ll] != SEP[0])) {
            mrc = MDB_NOTFOUND;   /* past the list's keys */
            break;
        }
        json_error_t je;
        json_t *e = json_loadb(v.mv_data, v.mv_size, 0, &je);
        if (!e)
            continue;
        json_object_del(e, "restored_at");
        json_array_append_new(arr, e);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    if (mrc != MDB_NOTFOUND) {
        json_decref(arr);
        return scrim__mdb_err(mrc, "review stats", err, errlen);
    }
    *out = json_pack("{s:o}", "entries", arr);
    return SCRIM_OK;
}

int review__entry_action(scrim_review *r, scrim_store *s,
                         const review__loop_sink *sink, const char *list,
                         const char *type, const char *key, const char *who,
                         int remove, json_t **out, char *err, size_t errlen)
{
    char ek[512], lower[SCRIM_ENTRY_TEXT_MAX + 1];
    int t = type ? scrim_hash_type_parse(type) : SCRIM_EINVAL;
    if (out)
        *out = NULL;
    if (t < 0 || !list || !key) {
        scrim__seterr(err, errlen, "an entry is a list, a type (pdq, md5, "
                      "sha256, video) and a hash (a video: its id)");
        return SCRIM_EINVAL;
    }
    snprintf(lower, sizeof lower, "%s", key);
    if (t != SCRIM_HASH_VIDEO)
        for (char *p = lower; *p; p++)
            if (*p >= 'A' && *p <= 'F')
                *p = (char)(*p - 'A' + 'a');
    const char *tn = scrim_hash_type_name(t);
    int changed = 1, rc;
    if (sink)
        rc = sink->admin(sink->ud, list, t, lower, who, remove, &changed, err,
                         errlen);
    else if (remove)
        rc = scrim_store_quarantine_remove(s, list, t, lower, who, err, errlen);
    else
        rc = scrim_store_quarantine(s, list, t, lower, 0, who, "restored",
                                    &changed, err, errlen);
    if (rc)
        return rc;
    int off = 0;
    if (snprintf(ek, sizeof ek, "%s" SEP "%s" SEP "%s", list, tn, lower) <
        (int)sizeof ek)
        entry_update(r, ek, remove ? mark_removed : mark_quarantined, &off);
    if (out)
        *out = json_pack("{s:s, s:s, s:s, s:s, s:b}", "list", list, "type", tn,
                         t == SCRIM_HASH_VIDEO ? "id" : "hash", lower, "action",
                         remove ? "remove" : "restore", "changed", changed);
    return SCRIM_OK;
}

int scrim_review_entry_restore(scrim_review *r, scrim_store *s,
                               const char *list, const char *type,
                               const char *key, const char *who,
                               json_t **out, char *err, size_t errlen)
{
    return review__entry_action(r, s, NULL, list, type, key, who, 0, out, err,
                                errlen);
}

int scrim_review_entry_remove(scrim_review *r, scrim_store *s,
                              const char *list, const char *type,
                              const char *key, const char *who,
                              json_t **out, char *err, size_t errlen)
{
    return review__entry_action(r, s, NULL, list, type, key, who, 1, out, err,
                                errlen);
}
