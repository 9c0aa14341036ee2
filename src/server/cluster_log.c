/* cluster_log.c - the cluster's change log from outside scrimd
 * (include/scrim/cluster.h): bin/scrim's list writes, through the very
 * steps of scrimd's admin writes (cluster.c: scrim__cluster_begin, a dry
 * run on the node's database, scrim__cluster_commit), and the log's
 * compaction.  Why compaction needs no resync of nodes behind it:
 * doc/design.md, "Compacting the change log". */
#include "scrim.h"
#include "scrim/cluster.h"
#include "base/base.h"
#include "base/lazy_pq.h"
#include "server/server.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ==== writes ================================================================ */

struct scrim_cluster_writer {
    scrim_server *srv;          /* a stand-in: its store and cluster only */
    scrim_call call;            /* where cluster.c's answers land */
    scrim__cluster_tx *tx;
    scrim_store *store;
};

int scrim_cluster_writer_open(const char *conninfo, scrim_store *store,
                              scrim_cluster_writer **out, char *err,
                              size_t errlen)
{
    *out = NULL;
    scrim_cluster_writer *w = calloc(1, sizeof *w);
    scrim_server *srv = calloc(1, sizeof *srv);
    if (!w || !srv) {
        free(w);
        free(srv);
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    srv->store = store;
    int rc = scrim__cluster_writer(srv, conninfo, err, errlen);
    if (rc) {
        scrim__cluster_stop(srv);
        free(srv);
        free(w);
        return rc;
    }
    /* cluster.c logs what scrimd would (JSON lines): the command says what
     * it did in its own words */
    char lerr[128];
    scrim__log_open("/dev/null", lerr, sizeof lerr);
    w->srv = srv;
    w->store = store;
    w->call.server = srv;
    w->call.store = store;
    *out = w;
    return 0;
}

void scrim_cluster_writer_close(scrim_cluster_writer *w)
{
    if (!w)
        return;
    scrim_cluster_abort(w);
    scrim__cluster_stop(w->srv);
    free(w->srv);
    json_decref(w->call.json);
    free(w);
}

/* The answer cluster.c gave the stand-in call, as err and a SCRIM_E*. */
static int answered(scrim_cluster_writer *w, char *err, size_t errlen)
{
    const char *msg = json_string_value(json_object_get(
        json_object_get(w->call.json, "error"), "message"));
    scrim__seterr(err, errlen, "%s", msg ? msg : "the cluster refused the write");
    int st = w->call.status;
    json_decref(w->call.json);
    w->call.json = NULL;
    w->call.status = 0;
    return st == 413 ? SCRIM_ETOOBIG : st == 500 ? SCRIM_ENOMEM : SCRIM_EBUSY;
}

int scrim_cluster_begin(scrim_cluster_writer *w, scrim_import_opts *io,
                        char *err, size_t errlen)
{
    scrim_cluster_abort(w);
    if (scrim__cluster_begin(&w->call, &w->tx))
        return answered(w, err, errlen);
    if (io) {
        io->dry_run = 1;
        io->capture = scrim__cluster_capture;
        io->capture_ud = w->tx;
    }
    return 0;
}

int scrim_cluster_commit(scrim_cluster_writer *w, const char *list,
                         const char *op, json_t *params, uint64_t *change,
                         int *applied, char *err, size_t errlen)
{
    *change = 0;
    *applied = 0;
    if (!w->tx) {
        json_decref(params);
        scrim__seterr(err, errlen, "no change begun");
        return SCRIM_EINVAL;
    }
    scrim__cluster_tx *tx = w->tx;
    w->tx = NULL;   /* commit ends it, either way */
    if (scrim__cluster_commit(&w->call, tx, list, op, params, change))
        return answered(w, err, errlen);
    uint64_t at = 0;
    char e2[128];
    *applied = !scrim_store_applied(w->store, &at, e2, sizeof e2) && at >= *change;
    return 0;
}

void scrim_cluster_abort(scrim_cluster_writer *w)
{
    if (w && w->tx) {
        scrim__cluster_abort(w->tx);
        w->tx = NULL;
    }
}

const char *scrim_cluster_import_op(int mode)
{
    return mode == SCRIM_IMPORT_REPLACE ? "replace"
           : mode == SCRIM_IMPORT_REMOVE ? "remove" : "add";
}

/* The settings given (not SCRIM_LIST_PARAMS_KEEP's) into o. */
static void settings_json(json_t *o, const scrim_list_params *p)
{
    if (p->kind >= 0)
        json_object_set_new(o, "kind", json_string(scrim_list_kind_name(p->kind)));
    if (p->enabled >= 0)
        json_object_set_new(o, "enabled", json_boolean(p->enabled));
    if (p->radius >= 0)
        json_object_set_new(o, "radius", json_integer(p->radius));
    if (p->description)
        json_object_set_new(o, "description", json_string(p->description));
}

json_t *scrim_cluster_import_params(const scrim_import_opts *io)
{
    json_t *o = json_pack("{s:b}", "create", io->create);
    if (io->source)
        json_object_set_new(o, "source", json_string(io->source));
    settings_json(o, &io->list);
    return o;
}

json_t *scrim_cluster_metadata_params(int create, const scrim_list_params *p)
{
    json_t *o = json_pack("{s:b}", "create", create);
    settings_json(o, p);
    return o;
}

/* ==== compaction ============================================================ */

/* The kinds of change this file knows what a later drop or replace makes
 * of; any other (a kind added since) is left alone, with what precedes it. */
#define KNOWN "('add', 'remove', 'replace', 'drop', 'metadata')"

static const char compact_schema_sql[] =
    "SELECT pg_advisory_xact_lock(126870958468353);"
    "CREATE TABLE IF NOT EXISTS scrim_compactions ("
    " id bigserial PRIMARY KEY,"
    " time timestamptz NOT NULL DEFAULT clock_timestamp(),"
    " node text NOT NULL DEFAULT '',"
    " horizon bigint NOT NULL,"
    " deleted bigint NOT NULL,"
    " emptied bigint NOT NULL,"
    " payload_before bigint NOT NULL,"
    " payload_after bigint NOT NULL);";

/* Per list (changes up to the horizon $1): b, its last change of a kind not
 * known (or of list "", for every list); d, its last drop after b; r, its
 * last replace after both. */
static const char plan_sql[] =
    "CREATE TEMP TABLE scrim_compact ON COMMIT DROP AS "
    "WITH g AS (SELECT coalesce(max(id), 0) AS g FROM scrim_changes WHERE "
    " id <= $1::int8 AND list = '' AND op NOT IN " KNOWN "), "
    "b AS (SELECT list, greatest(coalesce(max(id) FILTER (WHERE op NOT IN "
    KNOWN "), 0), (SELECT g FROM g)) AS b FROM scrim_changes WHERE "
    " id <= $1::int8 GROUP BY list), "
    "d AS (SELECT b.list, b.b, coalesce(max(c.id) FILTER (WHERE c.op = "
    " 'drop' AND c.id > b.b), 0) AS d FROM b JOIN scrim_changes c ON "
    " c.list = b.list AND c.id <= $1::int8 GROUP BY b.list, b.b) "
    "SELECT d.list, d.b, d.d, coalesce(max(c.id) FILTER (WHERE c.op = "
    " 'replace' AND c.id > greatest(d.b, d.d)), 0) AS r FROM d JOIN "
    " scrim_changes c ON c.list = d.list AND c.id <= $1::int8 "
    " GROUP BY d.list, d.b, d.d";

/* An import that only changes entries: no create, no settings (a remove
 * never creates). */
#define CONTENT_ONLY \
    "NOT c.params ?| array['kind', 'enabled', 'radius', 'description'] AND " \
    "(c.op = 'remove' OR NOT coalesce((c.params->>'create')::boolean, false))"
#define BEFORE_REPLACE \
    "c.list = t.list AND t.r > 0 AND c.id > greatest(t.b, t.d) AND " \
    "c.id < t.r AND c.op IN ('add', 'remove', 'replace')"

static const char *const compact_steps[] = {
    /* before a list's last drop: everything of it since b (not the drop) */
    "DELETE FROM scrim_changes c USING scrim_compact t WHERE c.list = t.list "
    "AND t.d > 0 AND c.id > t.b AND c.id < t.d",
    /* before its last replace: imports that only changed entries */
    "DELETE FROM scrim_changes c USING scrim_compact t WHERE " BEFORE_REPLACE
    " AND " CONTENT_ONLY,
    /* the others keep what else they do, as an empty add (a remove's
     * settings apply to a list that exists: create false) */
    "UPDATE scrim_changes c SET op = 'add', payload = NULL, entries = 0, "
    "params = c.params || jsonb_build_object('compacted', t.r) || CASE WHEN "
    "c.op = 'remove' THEN '{\"create\": false}'::jsonb ELSE '{}'::jsonb END "
    "FROM scrim_compact t WHERE " BEFORE_REPLACE " AND (c.op <> 'add' OR "
    "coalesce(octet_length(c.payload), 0) > 0)",
};

static const char sizes_sql[] =
    "SELECT count(*)::int8, coalesce(sum(octet_length(payload)), 0)::int8, "
    "pg_total_relation_size('scrim_changes')::int8, "
    "coalesce(max(id), 0)::int8 FROM scrim_changes";

static int sizes(PGconn *conn, uint64_t *rows, uint64_t *payload,
                 uint64_t *table, uint64_t *head, char *err, size_t errlen)
{
    PGresult *r = scrim__pq_query(conn, sizes_sql, 0, NULL, NULL, NULL, err,
                                  errlen);
    if (!r)
        return -1;
    *rows = scrim__pq_u64(PQgetvalue(r, 0, 0));
    *payload = scrim__pq_u64(PQgetvalue(r, 0, 1));
    *table = scrim__pq_u64(PQgetvalue(r, 0, 2));
    if (head)
        *head = scrim__pq_u64(PQgetvalue(r, 0, 3));
    PQclear(r);
    return 0;
}

/* The connection, with a change log to work on; NULL with err. */
static PGconn *log_connect(const char *conninfo, char *err, size_t errlen)
{
    if (scrim__pq_load(err, errlen))
        return NULL;
    PGconn *conn = scrim__pq_connect(conninfo, err, errlen);
    if (!conn)
        return NULL;
    PGresult *r = scrim__pq_query(conn, "SELECT to_regclass('scrim_changes') "
                                  "IS NOT NULL", 0, NULL, NULL, NULL, err,
                                  errlen);
    int have = r && PQgetlength(r, 0, 0) == 1 && PQgetvalue(r, 0, 0)[0];
    PQclear(r);
    if (r && !have)
        scrim__seterr(err, errlen, "this database has no change log "
                      "(scrim_changes): no scrimd --cluster has used it");
    if (!have || scrim__pq_run(conn, compact_schema_sql, err, errlen)) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

static uint64_t affected(PGresult *r)
{
    /* PQcmdTuples is not among the lazily loaded functions: the steps
     * count with RETURNING instead */
    return r ? (uint64_t)PQntuples(r) : 0;
}

int scrim_cluster_compact(const char *conninfo,
                          const scrim_cluster_compact_opts *opts,
                          scrim_cluster_compact_stats *st, char *err,
                          size_t errlen)
{
    scrim_cluster_compact_opts o = {0};
    if (opts)
        o = *opts;
    memset(st, 0, sizeof *st);
    double t0 = scrim__now();
    PGconn *conn = log_connect(conninfo, err, errlen);
    if (!conn)
        return SCRIM_EBUSY;
    int rc = SCRIM_EBUSY;
    PGresult *r = NULL;
    uint64_t head;
    json_t *touched = json_object();   /* the lists changed */
    /* the write lock: no admin write between the plan and its end */
    if (scrim__pq_run(conn, "BEGIN; SELECT pg_advisory_xact_lock("
                      "126870958468354)", err, errlen) ||
        sizes(conn, &st->rows_before, &st->payload_before, &st->table_before,
              &head, err, errlen))
        goto out;
    st->horizon = o.upto && o.upto < head ? o.upto : head;
    char h[24];
    snprintf(h, sizeof h, "%llu", (unsigned long long)st->horizon);
    const char *hv[1] = {h};
    if (!(r = scrim__pq_query(conn, plan_sql, 1, hv, NULL, NULL, err, errlen)))
        goto out;
    PQclear(r);
    r = NULL;
    for (size_t i = 0; i < sizeof compact_steps / sizeof *compact_steps; i++) {
        char sql[2048];
        if (snprintf(sql, sizeof sql, "%s RETURNING c.list", compact_steps[i]) >=
            (int)sizeof sql)
            abort();   /* a constant: cannot happen */
        if (!(r = scrim__pq_query(conn, sql, 0, NULL, NULL, NULL, err, errlen)))
            goto out;
        if (i < 2)
            st->deleted += affected(r);
        else
            st->emptied += affected(r);
        for (int k = 0; k < PQntuples(r); k++) {
            char name[SCRIM_LIST_NAME_MAX + 1];
            snprintf(name, sizeof name, "%.*s", PQgetlength(r, k, 0),
                     PQgetvalue(r, k, 0));
            json_object_set_new(touched, name, json_true());
        }
        PQclear(r);
        r = NULL;
    }
    st->lists = json_object_size(touched);
    uint64_t table_mid;
    if (sizes(conn, &st->rows_after, &st->payload_after, &table_mid, NULL, err,
              errlen))
        goto out;
    if (o.dry_run) {
        rc = scrim__pq_run(conn, "ROLLBACK", err, errlen) ? SCRIM_EBUSY : 0;
        st->table_after = st->table_before;
        goto out;
    }
    {
        char n[5][24];
        snprintf(n[0], sizeof n[0], "%llu", (unsigned long long)st->horizon);
        snprintf(n[1], sizeof n[1], "%llu", (unsigned long long)st->deleted);
        snprintf(n[2], sizeof n[2], "%llu", (unsigned long long)st->emptied);
        snprintf(n[3], sizeof n[3], "%llu", (unsigned long long)st->payload_before);
        snprintf(n[4], sizeof n[4], "%llu", (unsigned long long)st->payload_after);
        char node[96] = "";
        gethostname(node, 64);
        snprintf(node + strlen(node), sizeof node - strlen(node), ":%ld/scrim",
                 (long)getpid());
        const char *v[6] = {node, n[0], n[1], n[2], n[3], n[4]};
        if (!(r = scrim__pq_query(conn, "INSERT INTO scrim_compactions (node, "
                                  "horizon, deleted, emptied, payload_before, "
                                  "payload_after) VALUES ($1, $2::int8, "
                                  "$3::int8, $4::int8, $5::int8, $6::int8)", 6,
                                  v, NULL, NULL, err, errlen)))
            goto out;
        PQclear(r);
        r = NULL;
    }
    if (scrim__pq_run(conn, "COMMIT", err, errlen))
        goto out;
    /* the space: reusable (VACUUM), or given back (FULL: the table is
     * locked while it is rewritten, nodes' reads wait) */
    if (scrim__pq_run(conn, o.full ? "VACUUM (FULL, ANALYZE) scrim_changes"
                                   : "VACUUM (ANALYZE) scrim_changes",
                      err, errlen) ||
        sizes(conn, &st->rows_after, &st->payload_after, &st->table_after,
              NULL, err, errlen))
        goto out;
    rc = 0;
out:
    PQclear(r);
    json_decref(touched);
    if (rc && PQtransactionStatus(conn) != PQTRANS_IDLE) {
        char e2[64];
        scrim__pq_run(conn, "ROLLBACK", e2, sizeof e2);
    }
    PQfinish(conn);
    st->seconds = scrim__now() - t0;
    return rc;
}

json_t *scrim_cluster_log_status(const char *conninfo, char *err,
                                 size_t errlen)
{
    PGconn *conn = log_connect(conninfo, err, errlen);
    if (!conn)
        return NULL;
    uint64_t rows, payload, table, head;
    json_t *o = NULL;
    PGresult *r = NULL, *c = NULL;
    if (sizes(conn, &rows, &payload, &table, &head, err, errlen) ||
        !(r = scrim__pq_query(conn, "SELECT list, count(*)::int8 FROM "
                              "scrim_changes GROUP BY list ORDER BY list", 0,
                              NULL, NULL, NULL, err, errlen)) ||
        !(c = scrim__pq_query(conn, "SELECT horizon, deleted, emptied, "
                              "payload_before, payload_after, "
                              "extract(epoch FROM time)::int8, node FROM "
                              "(SELECT * FROM scrim_compactions ORDER BY id "
                              "DESC LIMIT 5) l ORDER BY time", 0, NULL, NULL,
                              NULL, err, errlen)))
        goto out;
    json_t *lists = json_object(), *comp = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        char name[SCRIM_LIST_NAME_MAX + 1];
        snprintf(name, sizeof name, "%.*s", PQgetlength(r, i, 0),
                 PQgetvalue(r, i, 0));
        json_object_set_new(lists, name, json_integer(
            (json_int_t)scrim__pq_u64(PQgetvalue(r, i, 1))));
    }
    for (int i = 0; i < PQntuples(c); i++) {
        char node[128];
        snprintf(node, sizeof node, "%.*s", PQgetlength(c, i, 6),
                 PQgetvalue(c, i, 6));
        json_t *e = json_object();
        static const char *const k[6] = {"horizon", "deleted", "emptied",
                                         "payload_before", "payload_after",
                                         "time"};
        for (int f = 0; f < 6; f++)
            json_object_set_new(e, k[f], json_integer(
                (json_int_t)scrim__pq_u64(PQgetvalue(c, i, f))));
        json_object_set_new(e, "node", json_string(node));
        json_array_append_new(comp, e);
    }
    o = json_pack("{s:I, s:I, s:I, s:I, s:o, s:o}", "head", (json_int_t)head,
                  "changes", (json_int_t)rows, "payload_bytes",
                  (json_int_t)payload, "table_bytes", (json_int_t)table,
                  "lists", lists, "compactions", comp);
out:
    PQclear(r);
    PQclear(c);
    PQfinish(conn);
    return o;
}
