/* loop.c - scrimd --cluster: the false-match loop (feedback.c) on every
 * node.  A reject's suppression, a confirm's unsuppression and an entry's
 * quarantine, restore or removal are changes of the cluster's log
 * (server/cluster.c: scrim__cluster_loop_*), applied by every node in id
 * order as an admin's import is; the reply waits until this node has
 * applied them.  Rejects are counted in PostgreSQL, once per entry and
 * upload (scrim_loop_votes: its SHA-256, whichever node's record was
 * decided), and an entry's state (quarantined, removed, last restored) is
 * a row of scrim_loop_entries, both written in the transaction that
 * appends the change, under the cluster's write lock: two nodes deciding
 * at once cannot both quarantine, nor miss the threshold.  Why: doc/design.md
 * and doc/scale-out.md ("Cluster mode internals"). */
#include "scrim.h"
#include "scrim/review.h"
#include "base/base.h"
#include "base/lazy_pq.h"
#include "server/server.h"
#include "review/review.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef review__loop_sink loop_ctx;   /* ud: the sink itself */

/* PostgreSQL's failures are "unreachable" to the caller: the write is not
 * done, and it can be tried again (x->down: the decision is kept). */
static int down_of(loop_ctx *x, int rc)
{
    if (rc != SCRIM_EIO)
        return rc;
    x->down = 1;
    return SCRIM__SHARED_DOWN;
}
#define down(rc) down_of(x, rc)

static int sink_entries(void *ud, const char *list, const scrim_import_opts *io,
                        const scrim_entry *e, size_t n, char *err,
                        size_t errlen)
{
    loop_ctx *x = ud;
    PGconn *conn;
    uint64_t change = 0;
    int add = io->mode == SCRIM_IMPORT_ADD;
    int rc = scrim__cluster_loop_begin(x->srv, &conn, err, errlen);
    if (rc)
        return down(rc);
    json_t *p = json_object();
    if (io->create)
        json_object_set_new(p, "create", json_true());
    if (io->list.kind >= 0)
        json_object_set_new(p, "kind",
                            json_string(scrim_list_kind_name(io->list.kind)));
    if (io->list.enabled >= 0)
        json_object_set_new(p, "enabled", json_boolean(io->list.enabled));
    if (io->list.radius >= 0)
        json_object_set_new(p, "radius", json_integer(io->list.radius));
    if (io->list.description)
        json_object_set_new(p, "description",
                            json_string(io->list.description));
    if (io->source)
        json_object_set_new(p, "source", json_string(io->source));
    rc = scrim__cluster_loop_append(x->srv, conn, list, add ? "add" : "remove",
                                    add ? "suppress" : "unsuppress", p, e, n,
                                    &change, err, errlen);
    json_decref(p);
    char e2[256];
    int erc = scrim__cluster_loop_end(x->srv, conn, !rc, change,
                                      rc ? e2 : err, rc ? sizeof e2 : errlen);
    return down(rc ? rc : erc);
}

/* One statement of the loop's transaction; 0 or SCRIM_EIO (err). */
static int stmt(PGconn *conn, const char *sql, int n, const char *const *v,
                PGresult **out, char *err, size_t errlen)
{
    PGresult *r = scrim__pq_query(conn, sql, n, v, NULL, NULL, err, errlen);
    if (!r)
        return SCRIM_EIO;
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

static int sink_vote(void *ud, const char *list, const char *type,
                     const char *key, const char *upload, const char *now,
                     int after, const char *by, long long *rejected,
                     int *quarantined, char *err, size_t errlen)
{
    loop_ctx *x = ud;
    PGconn *conn;
    PGresult *r = NULL;
    uint64_t change = 0;
    char node[128];
    *rejected = 0;
    *quarantined = 0;
    int rc = scrim__cluster_loop_begin(x->srv, &conn, err, errlen);
    if (rc)
        return down(rc);
    gethostname(node, sizeof node - 1);
    node[sizeof node - 1] = '\0';
    const char *v[6] = {list, type, key, upload, now, node};
    /* an upload counts once on an entry: its decision as last taken on
     * any node (a change of mind moves its time: counted anew) */
    rc = stmt(conn, "INSERT INTO scrim_loop_votes AS v (list, type, key, "
              "upload, decision, node) VALUES ($1, $2, $3, $4, $5, $6) ON "
              "CONFLICT (list, type, key, upload) DO UPDATE SET decision = "
              "excluded.decision, node = excluded.node, time = CASE WHEN "
              "v.decision = excluded.decision THEN v.time ELSE excluded.time "
              "END", 6, v, NULL, err, errlen);
    if (!rc && !strcmp(now, "reject") && after > 0) {
        rc = stmt(conn, "INSERT INTO scrim_loop_entries (list, type, key) "
                  "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3, v, NULL,
                  err, errlen);
        if (!rc)
            rc = stmt(conn, "SELECT (quarantined OR removed)::int::int8, "
                      "(SELECT count(*) FROM scrim_loop_votes v WHERE v.list "
                      "= e.list AND v.type = e.type AND v.key = e.key AND "
                      "v.decision = 'reject' AND v.time > e.restored)::int8 "
                      "FROM scrim_loop_entries e WHERE list = $1 AND type = "
                      "$2 AND key = $3", 3, v, &r, err, errlen);
        if (!rc && PQntuples(r) == 1) {
            int already = scrim__pq_u64(PQgetvalue(r, 0, 0)) != 0;
            *rejected = (long long)scrim__pq_u64(PQgetvalue(r, 0, 1));
            if (!already && *rejected >= after) {
                char why[128];
                snprintf(why, sizeof why, "%lld matches rejected (threshold "
                         "%d)", *rejected, after);
                json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s}", "action",
                                      "quarantine", "type", type, "key", key,
                                      "by", by ? by : "", "why", why);
                rc = p ? scrim__cluster_loop_append(x->srv, conn, list,
                                                    "quarantine", "quarantine",
                                                    p, NULL, 0, &change, err,
                                                    errlen)
                       : SCRIM_ENOMEM;
                json_decref(p);
                char ch[24];
                snprintf(ch, sizeof ch, "%llu", (unsigned long long)change);
                const char *u[4] = {list, type, key, ch};
                if (!rc)
                    rc = stmt(conn, "UPDATE scrim_loop_entries SET "
                              "quarantined = true, change = $4::int8 WHERE "
                              "list = $1 AND type = $2 AND key = $3", 4, u,
                              NULL, err, errlen);
                *quarantined = !rc;
            }
        }
        PQclear(r);
    }
    char e2[256];
    int erc = scrim__cluster_loop_end(x->srv, conn, !rc, change, rc ? e2 : err,
                                      rc ? sizeof e2 : errlen);
    if (!rc && erc)
        *quarantined = 0;
    return down(rc ? rc : erc);
}

/* Is the entry quarantined on this node (its flag and its registry)? */
static int flagged_here(scrim_store *s, const char *list, int type,
                        const char *key, char *err, size_t errlen, int *yes)
{
    json_t *arr, *o;
    size_t i;
    *yes = 0;
    int rc = scrim_store_quarantined(s, &arr, err, errlen);
    if (rc)
        return rc;
    json_array_foreach(arr, i, o) {
        const char *k = json_string_value(json_object_get(
            o, type == SCRIM_HASH_VIDEO ? "id" : "hash"));
        if (k && !strcmp(k, key) &&
            !strcmp(json_string_value(json_object_get(o, "list")), list) &&
            !strcmp(json_string_value(json_object_get(o, "type")),
                    scrim_hash_type_name(type)))
            *yes = 1;
    }
    json_decref(arr);
    return 0;
}

static int sink_admin(void *ud, const char *list, int type, const char *key,
                      const char *who, int remove, int *changed, char *err,
                      size_t errlen)
{
    loop_ctx *x = ud;
    PGconn *conn;
    uint64_t change = 0;
    int yes;
    *changed = 0;
    int rc = flagged_here(x->store, list, type, key, err, errlen, &yes);
    if (rc)
        return rc;
    if (!yes) {
        /* not quarantined here: answered as a single node answers, and
         * neither writes anything (a removal: 404 "not quarantined"; a
         * restore: unchanged, or 404 when the list lacks the entry) */
        return remove ? scrim_store_quarantine_remove(x->store, list, type,
                                                      key, who, err, errlen)
                      : scrim_store_quarantine(x->store, list, type, key, 0,
                                               who, "restored", changed, err,
                                               errlen);
    }
    if ((rc = scrim__cluster_loop_begin(x->srv, &conn, err, errlen)))
        return down(rc);
    const char *tn = scrim_hash_type_name(type);
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s}", "action",
                          remove ? "remove" : "restore", "type", tn, "key", key,
                          "by", who ? who : "", "why",
                          remove ? "removed from the list" : "restored");
    rc = p ? scrim__cluster_loop_append(x->srv, conn, list, "quarantine",
                                        remove ? "unquarantine-remove"
                                               : "restore",
                                        p, NULL, 0, &change, err, errlen)
           : SCRIM_ENOMEM;
    json_decref(p);
    char ch[24];
    snprintf(ch, sizeof ch, "%llu", (unsigned long long)change);
    const char *v[5] = {list, tn, key, remove ? "true" : "false", ch};
    /* restored: rejects count again from now */
    if (!rc)
        rc = stmt(conn, "INSERT INTO scrim_loop_entries AS e (list, type, key,"
                  " removed, restored, change) VALUES ($1, $2, $3, $4::bool, "
                  "CASE WHEN $4::bool THEN '-infinity' ELSE clock_timestamp() "
                  "END, $5::int8) ON CONFLICT (list, type, key) DO UPDATE SET "
                  "quarantined = false, removed = excluded.removed, restored = "
                  "CASE WHEN excluded.removed THEN e.restored ELSE "
                  "excluded.restored END, change = excluded.change", 5, v,
                  NULL, err, errlen);
    char e2[256];
    int erc = scrim__cluster_loop_end(x->srv, conn, !rc, change, rc ? e2 : err,
                                      rc ? sizeof e2 : errlen);
    rc = rc ? rc : erc;
    *changed = !rc;
    return down(rc);
}

void scrim__review_loop_sink(scrim_server *srv, scrim_store *s,
                             review__loop_sink *out)
{
    *out = (review__loop_sink){.ud = out, .srv = srv, .store = s,
                               .entries = sink_entries, .vote = sink_vote,
                               .admin = sink_admin};
}

/* ---- decisions kept while PostgreSQL is unreachable ------------------------
 * review.loopq: 8-byte big-endian numbers -> {"id", "decision", "by",
 * "suppress", "after", "time" (the decision's)}; "next". */
static MDB_env *_Atomic lq_env;
static MDB_dbi lq_dbi;

int scrim__review_loop_queue_open(MDB_env *env, char *err, size_t errlen)
{
    MDB_txn *txn;
    int mrc = mdb_txn_begin(env, NULL, 0, &txn);
    if (!mrc && (mrc = mdb_dbi_open(txn, "review.loopq", MDB_CREATE, &lq_dbi)))
        mdb_txn_abort(txn);
    if (mrc)
        return review__db_fail("review", "the decisions' queue", mrc, err,
                               errlen);
    int rc = review__commit("review", &txn, err, errlen);
    if (!rc)
        atomic_store(&lq_env, env);
    return rc;
}

int scrim__review_loop_defer(const char *id, const scrim_review_decision *d,
                             json_t *rec)
{
    MDB_env *env = atomic_load(&lq_env);
    json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:i, s:O?}", "id", id,
                          "decision", d->decision, "by", d->by ? d->by : "",
                          "suppress", d->suppress, "after", d->quarantine_after,
                          "time", json_object_get(json_object_get(rec,
                                                  "decision"), "time"));
    return review__fifo_put(env, lq_dbi, j);
}

void scrim__review_loop_retry(scrim_server *srv, scrim_review *rv)
{
    MDB_env *env = atomic_load(&lq_env);
    json_t *j;
    uint64_t seq;
    char err[256];
    while (env && srv->store && review__fifo_first(env, lq_dbi, &j, &seq)) {
        const char *id = json_string_value(json_object_get(j, "id"));
        json_t *rec = NULL;
        int done = 1;
        if (id && !scrim_review_get(rv, id, &rec, err, sizeof err)) {
            json_t *dec = json_object_get(rec, "decision");
            /* decided again since: that decision's loop is the one */
            if (json_equal(json_object_get(dec, "time"), json_object_get(j, "time")) &&
                json_equal(json_object_get(dec, "decision"),
                           json_object_get(j, "decision"))) {
                review__loop_sink sink;
                scrim_review_decision d = {
                    .decision = json_string_value(json_object_get(j, "decision")),
                    .by = json_string_value(json_object_get(j, "by")),
                    .suppress = (int)json_integer_value(json_object_get(j, "suppress")),
                    .quarantine_after = (int)json_integer_value(json_object_get(j, "after"))};
                scrim__review_loop_sink(srv, srv->store, &sink);
                json_t *fb = review__loop_run(rv, srv->store, &sink, rec, &d);
                done = !sink.down;
                if (done)
                    scrim__log_json(json_pack(
                        "{s:s, s:s, s:s, s:o}", "level", "info", "msg",
                        "review decision: the false-match loop done now that "
                        "PostgreSQL is back", "record", id, "feedback", fb));
                else
                    json_decref(fb);
            }
        }
        json_decref(rec);
        json_decref(j);
        if (!done)
            return;   /* unreachable again: later */
        review__fifo_del(env, lq_dbi, seq);
    }
}
