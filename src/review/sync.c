/* sync.c - scrimd --cluster: one review queue for every node.  Records and
 * decisions made here wait in review.outbox (review.c) until this thread
 * has stored them in PostgreSQL's scrim_review_log, unique per (node,
 * queue number): one sent twice (a crash between PostgreSQL's commit and
 * the outbox's) is stored once.  Made while PostgreSQL is down, they wait
 * and go when it is back.  The thread also applies the other nodes' rows,
 * in id order, each in one LMDB transaction recording its id, so each node
 * holds every node's records (with their previews) and decisions.  Rows
 * get their ids under an advisory lock, so ids commit in order (as the
 * lists' change log: doc/design.md). */
#include "scrim.h"
#include "scrim/review.h"
#include "base/base.h"
#include "base/lazy_pq.h"
#include "server/server.h"
#include "review/review.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLL_MS 1000

static const char schema_sql[] =
    "SELECT pg_advisory_xact_lock(126870958468353);"
    "CREATE TABLE IF NOT EXISTS scrim_review_log ("
    " id bigserial PRIMARY KEY,"
    " node text NOT NULL,"
    " seq bigint NOT NULL,"
    " kind text NOT NULL CHECK (kind IN ('record', 'decision', 'level')),"
    " record_id text NOT NULL,"
    " record text NOT NULL,"
    " preview bytea,"
    " lighter bytea,"
    " time timestamptz NOT NULL DEFAULT clock_timestamp(),"
    " UNIQUE (node, seq));";

typedef struct review_sync {
    scrim_review *rv;
    scrim_server *srv;          /* the loop's retries (loop.c) */
    char conninfo[SCRIM_SETTINGS_PATH_MAX];
    char node[33];
    uint64_t applied;
    pthread_t thread;
    int wake[2];
    atomic_int stop;
} review_sync;

static int stopping(review_sync *sy)
{
    return atomic_load(&sy->stop);
}

/* Send the outbox, oldest first: 0, or -1 (PostgreSQL failed: err). */
static int send_all(review_sync *sy, PGconn *conn, char *err, size_t errlen)
{
    scrim__review_out o;
    int rc;
    while (!stopping(sy) &&
           !(rc = scrim__review_outbox_next(sy->rv, &o, err, errlen))) {
        if (!o.gone) {
            char seq[24];
            snprintf(seq, sizeof seq, "%llu", (unsigned long long)o.seq);
            const char *v[7] = {sy->node, seq, o.kind == 'r' ? "record"
                                : o.kind == 'd' ? "decision" : "level",
                                o.id, o.record, (const char *)o.preview,
                                (const char *)o.lighter};
            int lens[7] = {0, 0, 0, 0, 0, (int)o.preview_len, (int)o.lighter_len};
            int fmts[7] = {0, 0, 0, 0, 0, 1, 1};
            if (o.kind != 'r')  /* a decision travels in its record alone,
                                 * a level as the record's text */
                v[5] = v[6] = NULL;
            PGresult *r = NULL;
            if (scrim__pq_run(conn, "BEGIN; SELECT pg_advisory_xact_lock("
                              "126870958468355)", err, errlen) ||
                !(r = scrim__pq_query(conn, "INSERT INTO scrim_review_log "
                                      "(node, seq, kind, record_id, record, "
                                      "preview, lighter) VALUES ($1, "
                                      "$2::int8, $3, $4, $5, $6, $7) ON "
                                      "CONFLICT (node, seq) DO NOTHING", 7, v,
                                      lens, fmts, err, errlen)) ||
                scrim__pq_run(conn, "NOTIFY scrim_review; COMMIT", err,
                              errlen)) {
                PQclear(r);
                scrim__review_out_free(&o);
                return -1;
            }
            PQclear(r);
        }
        rc = scrim__review_outbox_done(sy->rv, o.seq, err, errlen);
        scrim__review_out_free(&o);
        if (rc)
            return 0;   /* LMDB: tried again later (sent twice, kept once) */
    }
    return 0;
}

/* Apply the log's rows after ours: 0, or -1 (PostgreSQL failed). */
static int pull_all(review_sync *sy, PGconn *conn, char *err, size_t errlen)
{
    for (;;) {
        char at[24];
        snprintf(at, sizeof at, "%llu", (unsigned long long)sy->applied);
        const char *v[1] = {at};
        PGresult *r = scrim__pq_query(
            conn, "SELECT id, node, kind, record_id, record, preview, lighter "
            "FROM scrim_review_log WHERE id > $1::int8 ORDER BY id LIMIT 64",
            1, v, NULL, NULL, err, errlen);
        if (!r)
            return -1;
        int n = PQntuples(r);
        for (int i = 0; i < n && !stopping(sy); i++) {
            uint64_t id = scrim__pq_u64(PQgetvalue(r, i, 0));
            int mine = PQgetlength(r, i, 1) == 32 &&
                       !memcmp(PQgetvalue(r, i, 1), sy->node, 32);
            char kind = mine ? 0 : PQgetvalue(r, i, 2)[0];
            char rid[65];
            snprintf(rid, sizeof rid, "%.*s", PQgetlength(r, i, 3),
                     PQgetvalue(r, i, 3));
            char aerr[256];
            if (scrim__review_apply(
                    sy->rv, id, kind, rid, PQgetvalue(r, i, 4),
                    (size_t)PQgetlength(r, i, 4),
                    PQgetisnull(r, i, 5) ? NULL
                                         : (const uint8_t *)PQgetvalue(r, i, 5),
                    (size_t)PQgetlength(r, i, 5),
                    PQgetisnull(r, i, 6) ? NULL
                                         : (const uint8_t *)PQgetvalue(r, i, 6),
                    (size_t)PQgetlength(r, i, 6), aerr, sizeof aerr)) {
                scrim__log_json(json_pack("{s:s, s:s, s:I, s:s}", "level",
                                          "error", "msg", "review sync: cannot "
                                          "apply a row; trying again", "row",
                                          (json_int_t)id, "error", aerr));
                PQclear(r);
                return 0;
            }
            sy->applied = id;
        }
        PQclear(r);
        if (n < 64 || stopping(sy))
            return 0;
    }
}

/* A notification: scrim_review (rows to pull: the loop pulls anyway) or
 * scrim_reviewers (an account changed: shared.c drops its copies). */
static void notified(PGnotify *nt)
{
    if (!strcmp(nt->relname, "scrim_reviewers"))
        scrim__shared_changed();
    PQfreemem(nt);
}

static void *sync_main(void *arg)
{
    review_sync *sy = arg;
    PGconn *conn = NULL;
    char err[512], last[512] = "";
    while (!stopping(sy)) {
        if (!conn) {
            if (!(conn = scrim__pq_connect(sy->conninfo, err, sizeof err)) ||
                scrim__pq_run(conn, schema_sql, err, sizeof err) ||
                scrim__pq_run(conn, "LISTEN scrim_review; LISTEN "
                              "scrim_reviewers", err, sizeof err)) {
                if (conn)
                    PQfinish(conn);
                conn = NULL;
                goto down;
            }
            last[0] = '\0';
            scrim__shared_changed();   /* missed while away, maybe */
        }
        PGnotify *nt;
        while ((nt = PQnotifies(conn)))
            notified(nt);
        if (send_all(sy, conn, err, sizeof err) ||
            pull_all(sy, conn, err, sizeof err)) {
            PQfinish(conn);
            conn = NULL;
            goto down;
        }
        scrim__shared_flush_all();   /* reviewers' counts kept meanwhile */
        scrim__review_loop_retry(sy->srv, sy->rv);   /* decisions kept */
        if (PQconsumeInput(conn) && (nt = PQnotifies(conn))) {
            notified(nt);
            continue;
        }
        struct pollfd pf[2] = {{sy->wake[0], POLLIN, 0},
                               {PQsocket(conn), POLLIN, 0}};
        poll(pf, 2, POLL_MS);
        char buf[64];
        while (read(sy->wake[0], buf, sizeof buf) > 0) {
        }
        if (!PQconsumeInput(conn)) {
            PQfinish(conn);
            conn = NULL;
        }
        continue;
    down:
        if (strcmp(err, last)) {
            scrim__log_json(json_pack("{s:s, s:s, s:s, s:I}", "level", "warning",
                                      "msg", "review sync: PostgreSQL "
                                      "unreachable; records are kept here "
                                      "until it is back", "error", err,
                                      "waiting", (json_int_t)
                                      scrim__review_outbox_count(sy->rv)));
            snprintf(last, sizeof last, "%s", err);
        }
        struct pollfd wp = {sy->wake[0], POLLIN, 0};
        poll(&wp, 1, POLL_MS);
    }
    if (conn)
        PQfinish(conn);
    return NULL;
}

static void sync_stop(void *arg)
{
    review_sync *sy = arg;
    atomic_store(&sy->stop, 1);
    if (write(sy->wake[1], "x", 1) < 0) {
        /* it looks at stop within a second anyway */
    }
    pthread_join(sy->thread, NULL);
    close(sy->wake[0]);
    close(sy->wake[1]);
    free(sy);
}

int scrim__review_sync_start(scrim_server *srv, scrim_review *rv,
                             void **kick, char *err, size_t errlen)
{
    const char *conninfo = scrim__cluster_conninfo(srv);
    *kick = NULL;
    if (!conninfo)
        return 0;
    review_sync *sy = calloc(1, sizeof *sy);
    if (!sy) {
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    int rc = scrim__pq_load(err, errlen);
    if (!rc)
        rc = scrim__review_sync_open(rv, sy->node, &sy->applied, err, errlen);
    if (!rc)   /* reviewers' data waiting for PostgreSQL: in LMDB too */
        rc = scrim__shared_queue_open(review__env(rv), err, errlen);
    if (!rc)   /* and decisions whose loop waits for it */
        rc = scrim__review_loop_queue_open(review__env(rv), err, errlen);
    if (!rc && pipe2(sy->wake, O_CLOEXEC | O_NONBLOCK)) {
        scrim__seterr(err, errlen, "pipe failed");
        rc = SCRIM_EIO;
    }
    if (rc) {
        free(sy);
        return rc;
    }
    sy->rv = rv;
    sy->srv = srv;
    snprintf(sy->conninfo, sizeof sy->conninfo, "%s", conninfo);
    if (pthread_create(&sy->thread, NULL, sync_main, sy)) {
        close(sy->wake[0]);
        close(sy->wake[1]);
        free(sy);
        scrim__seterr(err, errlen, "cannot start the review sync thread");
        return SCRIM_ENOMEM;
    }
    scrim__cluster_on_stop(srv, sync_stop, sy);
    *kick = sy;
    return 0;
}

void scrim__review_sync_kick(void *kick)
{
    review_sync *sy = kick;
    if (sy && write(sy->wake[1], "x", 1) < 0) {
        /* full: it is awake anyway */
    }
}
