/* shared.c - scrimd --cluster: reviewer accounts, exposure counts and the
 * reviewers' log in PostgreSQL, so that behind a load balancer a reviewer
 * is the same person on every node.
 *
 *  - Accounts (scrim_reviewers) are read from PostgreSQL on every request
 *    that carries a reviewer's token, as a single node reads its LMDB on
 *    every request: a disable or a removal through any node is refused on
 *    every node from the next request on (0 ms: nothing is cached while
 *    PostgreSQL answers).  What was last read is kept in memory only as the
 *    fallback while PostgreSQL is unreachable; every account change NOTIFYs
 *    scrim_reviewers, and the review sync thread (sync.c), which LISTENs,
 *    empties that fallback (scrim__shared_changed), so a node does not fall
 *    back on an account changed since it read it.
 *  - Exposure (scrim_exposure) is one row per reviewer and UTC day, counted
 *    by one upsert that checks the daily caps against the cluster's row
 *    under its row lock: the caps hold across nodes.  While PostgreSQL is
 *    unreachable a node counts in memory and checks the caps against the
 *    row as PostgreSQL last gave it plus what it counted since; the counts
 *    are added to PostgreSQL when it is back.
 *  - Log events (reveals, decisions, account changes, refusals) go to
 *    scrim_reviewer_log as well as to the node's own LMDB log; made while
 *    PostgreSQL is unreachable, they are sent when it is back (by the
 *    sync thread: scrim__shared_flush_all).
 *  - Per-list content warnings are rows of scrim_review_warnings, read
 *    through; while PostgreSQL is unreachable, as last read.
 * One connection, used under a lock: reviewers' requests are few (people
 * click), and each costs one round trip.  Why: doc/design.md. */
#include "scrim.h"
#include "scrim/review.h"
#include "scrim/reviewers.h"
#include "base/base.h"
#include "base/lazy_pq.h"
#include "server/server.h"
#include "review/review.h"

#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define RETRY_S 1.0              /* after a failed connect, wait this long */
#define PENDING_MAX 100000       /* log events kept while PostgreSQL is down */

static const char schema_sql[] =
    "SELECT pg_advisory_xact_lock(126870958468353);"
    "CREATE TABLE IF NOT EXISTS scrim_reviewers ("
    " name text PRIMARY KEY,"
    " role text NOT NULL CHECK (role IN ('reviewer', 'lead')),"
    " created float8 NOT NULL,"
    " disabled boolean NOT NULL DEFAULT false,"
    " token_hash text NOT NULL UNIQUE,"
    " level text,"
    " no_pictures boolean NOT NULL DEFAULT false,"
    " modified timestamptz NOT NULL DEFAULT clock_timestamp());"
    "CREATE TABLE IF NOT EXISTS scrim_exposure ("
    " reviewer text NOT NULL,"
    " day date NOT NULL,"
    " previews bigint NOT NULL DEFAULT 0,"
    " reveals bigint NOT NULL DEFAULT 0,"
    " seconds float8 NOT NULL DEFAULT 0,"
    " items bigint NOT NULL DEFAULT 0,"
    " refused bigint NOT NULL DEFAULT 0,"
    " last_refused text,"
    " PRIMARY KEY (reviewer, day));"
    "CREATE TABLE IF NOT EXISTS scrim_reviewer_log ("
    " id bigserial PRIMARY KEY,"
    " time float8 NOT NULL,"
    " who text NOT NULL,"
    " event text NOT NULL);"
    "CREATE INDEX IF NOT EXISTS scrim_reviewer_log_time ON "
    "scrim_reviewer_log (time);"
    "CREATE TABLE IF NOT EXISTS scrim_review_warnings ("
    " list text PRIMARY KEY,"
    " warning text NOT NULL);"
    /* what a node queued while PostgreSQL was unreachable carries a key
     * (node:seq): sent twice, stored once */
    "ALTER TABLE scrim_reviewer_log ADD COLUMN IF NOT EXISTS ukey text;"
    "CREATE UNIQUE INDEX IF NOT EXISTS scrim_reviewer_log_ukey ON "
    "scrim_reviewer_log (ukey);"
    "CREATE TABLE IF NOT EXISTS scrim_exposure_sent ("
    " ukey text PRIMARY KEY,"
    " time timestamptz NOT NULL DEFAULT clock_timestamp());"
    /* the break clock and open reveals of each reviewer (people.c) */
    "CREATE TABLE IF NOT EXISTS scrim_review_breaks ("
    " reviewer text PRIMARY KEY,"
    " stretch_start float8 NOT NULL,"
    " last_active float8 NOT NULL);"
    "CREATE TABLE IF NOT EXISTS scrim_open_reveals ("
    " reviewer text NOT NULL,"
    " id text NOT NULL,"
    " start float8 NOT NULL,"
    " PRIMARY KEY (reviewer, id));";

/* An account as JSON text, as scrim_reviewer_get shows it. */
#define ACCOUNT_JSON                                                         \
    "json_build_object('name', name, 'role', role, 'created', created, "     \
    "'disabled', disabled, 'level', level, 'no_pictures', no_pictures)::text"

typedef struct counted {
    char day[11];
    scrim_exposure e;
} counted;

struct scrim__shared {
    pthread_mutex_t lock;
    char conninfo[SCRIM_SETTINGS_PATH_MAX];
    PGconn *conn;
    double retry_at;             /* no connect before this (monotonic) */
    char error[256];             /* why PostgreSQL is unreachable */
    GHashTable *tokens;          /* token hash -> account JSON text */
    unsigned gen;                /* scrim__shared_changed's, when filled */
    GHashTable *known;           /* name -> counted: the row as PG gave it */
    GHashTable *pending;         /* "day|name" -> counted: not in PG yet */
    json_t *events;              /* [[time, who, text], ...] not in PG yet */
    uint64_t dropped;
    int flushing;
    char purged[11];             /* old rows were last deleted that day */
    char *warnings;              /* the content warnings as last read */
    scrim__shared *next;         /* in `all` */
};

/* Every scrim__shared of the process, for scrim__shared_flush_all. */
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static scrim__shared *all;

static atomic_uint changed_gen;

void scrim__shared_changed(void)
{
    atomic_fetch_add(&changed_gen, 1);
}

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void today(char day[11])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, 11, "%Y-%m-%d", &tm);
}

static void hash_hex(const char *token, char hex[65])
{
    uint8_t h[32];
    unsigned n = 32;
    EVP_Digest(token, strlen(token), h, &n, EVP_sha256(), NULL);
    scrim__hex_encode(h, 32, hex);
    hex[64] = '\0';
}

scrim__shared *scrim__shared_new(const char *conninfo)
{
    scrim__shared *sh = calloc(1, sizeof *sh);
    if (!sh)
        return NULL;
    pthread_mutex_init(&sh->lock, NULL);
    snprintf(sh->conninfo, sizeof sh->conninfo, "%s", conninfo);
    sh->tokens = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    sh->known = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    sh->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    sh->events = json_array();
    pthread_mutex_lock(&all_lock);
    sh->next = all;
    all = sh;
    pthread_mutex_unlock(&all_lock);
    return sh;
}

void scrim__shared_free(scrim__shared *sh)
{
    if (!sh)
        return;
    pthread_mutex_lock(&all_lock);
    for (scrim__shared **p = &all; *p; p = &(*p)->next)
        if (*p == sh) {
            *p = sh->next;
            break;
        }
    pthread_mutex_unlock(&all_lock);
    if (sh->conn)
        PQfinish(sh->conn);
    if (json_array_size(sh->events) || g_hash_table_size(sh->pending))
        scrim__log_json(json_pack(
            "{s:s, s:s, s:I, s:I}", "level", "warning", "msg", "reviewer data "
            "not sent to PostgreSQL before stopping (kept in this node's LMDB "
            "log only)", "events", (json_int_t)json_array_size(sh->events),
            "exposure_rows", (json_int_t)g_hash_table_size(sh->pending)));
    g_hash_table_destroy(sh->tokens);
    g_hash_table_destroy(sh->known);
    g_hash_table_destroy(sh->pending);
    json_decref(sh->events);
    free(sh->warnings);
    pthread_mutex_destroy(&sh->lock);
    free(sh);
}

/* ---- the connection (under lock) ------------------------------------------ */

static void drop_conn(scrim__shared *sh, const char *why)
{
    if (sh->conn)
        PQfinish(sh->conn);
    sh->conn = NULL;
    sh->retry_at = mono() + RETRY_S;
    snprintf(sh->error, sizeof sh->error, "%s", why);
}

static PGresult *run(scrim__shared *sh, const char *sql, int n,
                     const char *const *v, char *err, size_t errlen);

/* ---- the queue: what waits for PostgreSQL, in this node's LMDB ------------
 * Log events and exposure counts made while PostgreSQL is unreachable are
 * kept in review.sharedq of the review database (once the review sync has
 * opened it: scrim__shared_queue_open), so a node restarted meanwhile
 * still sends them.  Keys: 8 bytes big-endian, the item's number; "node"
 * (16 random bytes, made once) and "next".  Each item goes with the key
 * NODE:NUMBER, unique in PostgreSQL, and leaves the queue after
 * PostgreSQL's commit: a crash between the two sends it again, stored
 * once. */
static MDB_env *_Atomic q_env;
static MDB_dbi q_dbi;
static char q_node[33];

int scrim__shared_queue_open(MDB_env *env, char *err, size_t errlen)
{
    MDB_txn *txn;
    MDB_val k = {4, "node"}, v;
    uint8_t nk[16];
    int mrc = mdb_txn_begin(env, NULL, 0, &txn);
    if (!mrc && !(mrc = mdb_dbi_open(txn, "review.sharedq", MDB_CREATE, &q_dbi)) &&
        (mrc = mdb_get(txn, q_dbi, &k, &v)) == MDB_NOTFOUND) {
        mrc = 0;
        if (getrandom(nk, sizeof nk, 0) != sizeof nk)
            mrc = EIO;
        v = (MDB_val){sizeof nk, nk};
        if (!mrc)
            mrc = mdb_put(txn, q_dbi, &k, &v, 0);
    }
    if (!mrc && v.mv_size != 16)
        mrc = MDB_CORRUPTED;
    if (!mrc)
        scrim__hex_encode(v.mv_data, 16, q_node);
    if (mrc) {
        if (txn)
            mdb_txn_abort(txn);
        return review__db_fail("review", "the reviewer data queue", mrc, err,
                               errlen);
    }
    int rc = review__commit("review", &txn, err, errlen);
    if (!rc)
        atomic_store(&q_env, env);
    return rc;
}

/* Queue item j (consumed); 0, or -1 (not queued: kept in memory). */
static int q_put(json_t *j)
{
    return review__fifo_put(atomic_load(&q_env), q_dbi, j);
}

/* The oldest item: 1 with *j and *seq, 0 when none (or unreadable). */
static int q_first(json_t **j, uint64_t *seq)
{
    return review__fifo_first(atomic_load(&q_env), q_dbi, j, seq);
}

static void q_del(uint64_t seq)
{
    review__fifo_del(atomic_load(&q_env), q_dbi, seq);
}

static int q_waiting(void)
{
    json_t *j = NULL;
    uint64_t seq;
    int n = q_first(&j, &seq);
    json_decref(j);
    return n;
}

/* Send the queue, oldest first, each item once: the number sent. */
static size_t flush_q(scrim__shared *sh)
{
    char err[256], ukey[64];
    json_t *j;
    uint64_t seq;
    size_t sent = 0;
    while (sh->conn && q_first(&j, &seq)) {
        snprintf(ukey, sizeof ukey, "%s:%llu", q_node, (unsigned long long)seq);
        const char *kind = json_string_value(json_object_get(j, "k"));
        PGresult *r = NULL;
        if (kind && !strcmp(kind, "e")) {
            char t[32];
            snprintf(t, sizeof t, "%.6f", json_number_value(json_object_get(j, "t")));
            const char *v[4] = {t, json_string_value(json_object_get(j, "who")),
                                json_string_value(json_object_get(j, "ev")), ukey};
            if (v[1] && v[2])
                r = run(sh, "INSERT INTO scrim_reviewer_log (time, who, event, "
                        "ukey) VALUES ($1::float8, $2, $3, $4) ON CONFLICT "
                        "(ukey) DO NOTHING", 4, v, err, sizeof err);
        } else if (kind && !strcmp(kind, "x")) {
            char a[5][32];
            static const char *const f[5] = {"p", "r", "s", "i", "f"};
            for (int i = 0; i < 5; i++)
                snprintf(a[i], 32, i == 2 ? "%.17g" : "%.0f",
                         json_number_value(json_object_get(j, f[i])));
            const char *v[8] = {json_string_value(json_object_get(j, "who")),
                                json_string_value(json_object_get(j, "day")),
                                a[0], a[1], a[2], a[3], a[4], ukey};
            if (v[0] && v[1])
                r = run(sh, "WITH s AS (INSERT INTO scrim_exposure_sent (ukey) "
                        "VALUES ($8) ON CONFLICT DO NOTHING RETURNING 1) "
                        "INSERT INTO scrim_exposure AS e (reviewer, day, "
                        "previews, reveals, seconds, items, refused) SELECT $1, "
                        "$2::date, $3::int8, $4::int8, $5::float8, $6::int8, "
                        "$7::int8 WHERE EXISTS (SELECT 1 FROM s) ON CONFLICT "
                        "(reviewer, day) DO UPDATE SET previews = e.previews + "
                        "excluded.previews, reveals = e.reveals + "
                        "excluded.reveals, seconds = e.seconds + "
                        "excluded.seconds, items = e.items + excluded.items, "
                        "refused = e.refused + excluded.refused", 8, v, err,
                        sizeof err);
        }
        json_decref(j);
        if (!r && sh->conn && kind) {
            scrim__log_msg("warning", "reviewer data queue: item %llu not "
                           "stored (%s); kept", (unsigned long long)seq, err);
            return sent;
        }
        if (!r && kind)
            return sent;   /* PostgreSQL gone again: later */
        PQclear(r);
        q_del(seq);        /* a crash before this: sent again, stored once */
        sent++;
    }
    if (sh->conn && !q_waiting()) {
        /* every count is in PostgreSQL now: the caps read it there */
        g_hash_table_remove_all(sh->pending);
        PGresult *r = run(sh, "DELETE FROM scrim_exposure_sent WHERE time < "
                          "clock_timestamp() - interval '"
                          G_STRINGIFY(SCRIM_REVIEW_KEEP_DAYS) " days'", 0, NULL,
                          err, sizeof err);
        PQclear(r);
    }
    return sent;
}

/* What was counted or logged while PostgreSQL was unreachable, sent. */
static void flush(scrim__shared *sh)
{
    char err[256];
    flush_q(sh);
    GHashTableIter it;
    gpointer k, val;
    g_hash_table_iter_init(&it, sh->pending);
    while (sh->conn && !atomic_load(&q_env) &&
           g_hash_table_iter_next(&it, &k, &val)) {
        const char *name = strchr(k, '|') + 1;
        counted *c = val;
        char a[5][32];
        snprintf(a[0], 32, "%llu", (unsigned long long)c->e.previews);
        snprintf(a[1], 32, "%llu", (unsigned long long)c->e.reveals);
        snprintf(a[2], 32, "%.17g", c->e.seconds);
        snprintf(a[3], 32, "%llu", (unsigned long long)c->e.items);
        snprintf(a[4], 32, "%llu", (unsigned long long)c->e.refused);
        const char *v[7] = {name, c->day, a[0], a[1], a[2], a[3], a[4]};
        PGresult *r = run(sh, "INSERT INTO scrim_exposure AS e (reviewer, day, "
                          "previews, reveals, seconds, items, refused) VALUES "
                          "($1, $2::date, $3::int8, $4::int8, $5::float8, "
                          "$6::int8, $7::int8) ON CONFLICT (reviewer, day) DO "
                          "UPDATE SET previews = e.previews + excluded.previews,"
                          " reveals = e.reveals + excluded.reveals, seconds = "
                          "e.seconds + excluded.seconds, items = e.items + "
                          "excluded.items, refused = e.refused + "
                          "excluded.refused", 7, v, err, sizeof err);
        if (!r)
            return;
        PQclear(r);
        g_hash_table_iter_remove(&it);
    }
    while (sh->conn && json_array_size(sh->events)) {
        json_t *e = json_array_get(sh->events, 0);
        char t[32];
        snprintf(t, sizeof t, "%.6f", json_real_value(json_array_get(e, 0)));
        const char *v[3] = {t, json_string_value(json_array_get(e, 1)),
                            json_string_value(json_array_get(e, 2))};
        PGresult *r = run(sh, "INSERT INTO scrim_reviewer_log (time, who, "
                          "event) VALUES ($1::float8, $2, $3)", 3, v, err,
                          sizeof err);
        if (!r)
            return;
        PQclear(r);
        json_array_remove(sh->events, 0);
    }
}

static int connect_pg(scrim__shared *sh, char *err, size_t errlen)
{
    if (sh->conn)
        return 0;
    if (mono() < sh->retry_at) {
        scrim__seterr(err, errlen, "%s", sh->error);
        return -1;
    }
    PGconn *c = scrim__pq_connect(sh->conninfo, err, errlen);
    if (!c || scrim__pq_run(c, schema_sql, err, errlen)) {
        if (c)
            PQfinish(c);
        drop_conn(sh, err);
        return -1;
    }
    sh->conn = c;
    if (!sh->flushing && (json_array_size(sh->events) ||
                          g_hash_table_size(sh->pending) || q_waiting())) {
        size_t ne = json_array_size(sh->events), nx = g_hash_table_size(sh->pending);
        sh->flushing = 1;
        flush(sh);
        sh->flushing = 0;
        scrim__log_json(json_pack(
            "{s:s, s:s, s:I, s:I}", "level", "info", "msg", "reviewer data "
            "counted while PostgreSQL was unreachable: sent", "events",
            (json_int_t)(ne - json_array_size(sh->events)), "exposure_rows",
            (json_int_t)(nx - g_hash_table_size(sh->pending))));
    }
    return sh->conn ? 0 : -1;
}

void scrim__shared_flush_all(void)
{
    char err[256];
    pthread_mutex_lock(&all_lock);
    for (scrim__shared *sh = all; sh; sh = sh->next) {
        pthread_mutex_lock(&sh->lock);
        if (json_array_size(sh->events) || g_hash_table_size(sh->pending) ||
            q_waiting()) {
            if (sh->conn) {
                sh->flushing = 1;
                flush(sh);
                sh->flushing = 0;
            } else {
                sh->retry_at = 0;   /* PostgreSQL answers the sync thread */
                connect_pg(sh, err, sizeof err);
            }
        }
        pthread_mutex_unlock(&sh->lock);
    }
    pthread_mutex_unlock(&all_lock);
}

/* One statement, once more on a fresh connection if the one kept was lost
 * (a PostgreSQL restart).  NULL with err set: a failed statement leaves the
 * connection in place, a lost connection is dropped. */
static PGresult *run(scrim__shared *sh, const char *sql, int n,
                     const char *const *v, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (connect_pg(sh, err, errlen))
            return NULL;
        PGresult *r = scrim__pq_query(sh->conn, sql, n, v, NULL, NULL, err,
                                      errlen);
        if (r)
            return r;
        if (PQstatus(sh->conn) == CONNECTION_OK)
            return NULL;
        drop_conn(sh, err);
        sh->retry_at = 0;   /* the second attempt connects at once */
    }
    sh->retry_at = mono() + RETRY_S;
    return NULL;
}

/* A one-text-column result's value i, parsed. */
static json_t *row_json(PGresult *r, int i)
{
    json_error_t je;
    return json_loadb(PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0), 0, &je);
}

/* ---- accounts ------------------------------------------------------------- */

int scrim__shared_by_token(scrim__shared *sh, const char *token, json_t **out,
                           char *err, size_t errlen)
{
    char hex[65];
    *out = NULL;
    hash_hex(token ? token : "", hex);
    const char *v[1] = {hex};
    pthread_mutex_lock(&sh->lock);
    unsigned gen = atomic_load(&changed_gen);
    if (gen != sh->gen) {          /* an account changed: read them afresh */
        g_hash_table_remove_all(sh->tokens);
        sh->gen = gen;
    }
    PGresult *r = run(sh, "SELECT " ACCOUNT_JSON " FROM scrim_reviewers WHERE "
                      "token_hash = $1", 1, v, err, errlen);
    int rc = 0;
    if (r) {
        if (PQntuples(r) == 1 && (*out = row_json(r, 0)))
            g_hash_table_replace(sh->tokens, g_strdup(hex),
                                 g_strndup(PQgetvalue(r, 0, 0),
                                           (size_t)PQgetlength(r, 0, 0)));
        else
            g_hash_table_remove(sh->tokens, hex);
        PQclear(r);
        if (!*out) {
            scrim__seterr(err, errlen, "no reviewer has this token");
            rc = SCRIM_ENOTFOUND;
        }
    } else if (sh->conn) {
        rc = SCRIM_EDB;
    } else {
        /* unreachable: the account as this node last read it, unless one
         * changed since (then no fallback: refused until it is back) */
        const char *t = g_hash_table_lookup(sh->tokens, hex);
        json_error_t je;
        if (t && (*out = json_loads(t, 0, &je)))
            rc = 0;
        else
            rc = SCRIM__SHARED_DOWN;
    }
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

/* One account statement returning ACCOUNT_JSON rows; 0 rows -> missing. */
static int account_stmt(scrim__shared *sh, const char *sql, int n,
                        const char *const *v, int missing, const char *name,
                        json_t **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    pthread_mutex_lock(&sh->lock);
    PGresult *r = run(sh, sql, n, v, err, errlen);
    int rc = r ? 0 : sh->conn ? SCRIM_EDB : SCRIM__SHARED_DOWN;
    if (r && PQntuples(r) == 0) {
        rc = missing;
        if (missing == SCRIM_EEXIST)
            scrim__seterr(err, errlen, "there is a reviewer named '%s' already",
                          name);
        else
            scrim__seterr(err, errlen, "no reviewer named '%s'", name);
    } else if (r && out) {
        if (PQntuples(r) == 1) {
            if (!(*out = row_json(r, 0))) {
                scrim__seterr(err, errlen, "out of memory");
                rc = SCRIM_ENOMEM;
            }
        } else {
            json_t *a = json_array();
            for (int i = 0; i < PQntuples(r); i++)
                json_array_append_new(a, row_json(r, i));
            *out = a;
        }
    }
    PQclear(r);
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

/* NOTIFY scrim_reviewers: the other nodes drop their fallback copies. */
static void notify(scrim__shared *sh)
{
    char err[256];
    pthread_mutex_lock(&sh->lock);
    PGresult *r = run(sh, "SELECT pg_notify('scrim_reviewers', '')", 0, NULL,
                      err, sizeof err);
    PQclear(r);
    pthread_mutex_unlock(&sh->lock);
}

int scrim__shared_add(scrim__shared *sh, const char *name, const char *role,
                      char token[SCRIM_REVIEWER_TOKEN_LEN + 1], json_t **out,
                      char *err, size_t errlen)
{
    char hex[65], created[32];
    int rc;
    *out = NULL;
    if ((rc = review__account_new(name, &role, token, err, errlen)))
        return rc;
    hash_hex(token, hex);
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    snprintf(created, sizeof created, "%.6f", t.tv_sec + t.tv_nsec / 1e9);
    const char *v[4] = {name, role, created, hex};
    rc = account_stmt(sh, "INSERT INTO scrim_reviewers (name, role, created, "
                      "token_hash) VALUES ($1, $2, $3::float8, $4) ON CONFLICT "
                      "(name) DO NOTHING RETURNING " ACCOUNT_JSON, 4, v,
                      SCRIM_EEXIST, name, out, err, errlen);
    if (rc)
        memset(token, 0, SCRIM_REVIEWER_TOKEN_LEN + 1);
    return rc;
}

int scrim__shared_get(scrim__shared *sh, const char *name, json_t **out,
                      char *err, size_t errlen)
{
    const char *v[1] = {name};
    return account_stmt(sh, "SELECT " ACCOUNT_JSON " FROM scrim_reviewers "
                        "WHERE name = $1", 1, v, SCRIM_ENOTFOUND, name, out,
                        err, errlen);
}

int scrim__shared_list(scrim__shared *sh, json_t **out, char *err,
                       size_t errlen)
{
    /* one array of every row, so that 0 and 1 rows read alike */
    int rc = account_stmt(sh, "SELECT coalesce(json_agg(a ORDER BY a->>'name')"
                          ", '[]')::text FROM (SELECT json_build_object('name', "
                          "name, 'role', role, 'created', created, 'disabled', "
                          "disabled, 'level', level, 'no_pictures', "
                          "no_pictures) a FROM scrim_reviewers) s", 0, NULL,
                          SCRIM_EDB, "", out, err, errlen);
    return rc;
}

int scrim__shared_set_disabled(scrim__shared *sh, const char *name,
                               int disabled, json_t **out, char *err,
                               size_t errlen)
{
    const char *v[2] = {name, disabled ? "true" : "false"};
    int rc = account_stmt(sh, "UPDATE scrim_reviewers SET disabled = $2::bool, "
                          "modified = clock_timestamp() WHERE name = $1 "
                          "RETURNING " ACCOUNT_JSON, 2, v, SCRIM_ENOTFOUND,
                          name, out, err, errlen);
    if (!rc)
        notify(sh);
    return rc;
}

int scrim__shared_remove(scrim__shared *sh, const char *name, char *err,
                         size_t errlen)
{
    const char *v[1] = {name};
    json_t *a = NULL;
    int rc = account_stmt(sh, "DELETE FROM scrim_reviewers WHERE name = $1 "
                          "RETURNING " ACCOUNT_JSON, 1, v, SCRIM_ENOTFOUND,
                          name, &a, err, errlen);
    json_decref(a);
    if (!rc)
        notify(sh);
    return rc;
}

int scrim__shared_prefs(scrim__shared *sh, const char *name, const char *level,
                        int no_pictures, char *err, size_t errlen)
{
    char canon[128] = "";
    if (level && strcmp(level, "default")) {
        scrim_preview_opts o;
        int lv = scrim_preview_level_parse(level, &o, err, errlen);
        if (lv < 0)
            return lv;
        if (lv == SCRIM_PREVIEW_NONE)
            snprintf(canon, sizeof canon, "none");
        else
            scrim_preview_opts_format(&o, canon, sizeof canon);
    }
    /* $2: keep the level (NULL), drop it (""), or set it */
    const char *v[3] = {name, level ? canon : NULL,
                        no_pictures < 0 ? NULL : no_pictures ? "true" : "false"};
    json_t *a = NULL;
    int rc = account_stmt(sh, "UPDATE scrim_reviewers SET level = CASE WHEN "
                          "$2::text IS NULL THEN level ELSE nullif($2::text, "
                          "'') END, "
                          "no_pictures = coalesce($3::bool, no_pictures), "
                          "modified = clock_timestamp() WHERE name = $1 "
                          "RETURNING " ACCOUNT_JSON, 3, v, SCRIM_ENOTFOUND,
                          name, &a, err, errlen);
    json_decref(a);
    if (!rc)
        notify(sh);
    return rc;
}

/* ---- exposure ------------------------------------------------------------- */

static void add_to(scrim_exposure *a, const scrim_exposure *d)
{
    a->previews += d->previews;
    a->reveals += d->reveals;
    a->seconds += d->seconds;
    a->items += d->items;
    a->refused += d->refused;
}

static void exposure_of(json_t *j, scrim_exposure *e)
{
    e->previews = (uint64_t)json_integer_value(json_object_get(j, "previews"));
    e->reveals = (uint64_t)json_integer_value(json_object_get(j, "reveals"));
    e->seconds = json_number_value(json_object_get(j, "seconds"));
    e->items = (uint64_t)json_integer_value(json_object_get(j, "items"));
    e->refused = (uint64_t)json_integer_value(json_object_get(j, "refused"));
}

/* The caps as scrim_exposure_count checks them. */
static const char *over(const scrim_exposure *e, const scrim_exposure *d,
                        const scrim_exposure *caps)
{
    if (caps && caps->items && (d->items || d->previews || d->reveals) &&
        e->items >= caps->items)
        return "items";
    if (caps && caps->reveals && d->reveals && e->reveals >= caps->reveals)
        return "reveals";
    return NULL;
}

int scrim__shared_count(scrim__shared *sh, const char *name,
                        const scrim_exposure *d, const scrim_exposure *caps,
                        const char **which, scrim_exposure *today_out,
                        char *err, size_t errlen)
{
    char day[11], a[7][32];
    today(day);
    *which = NULL;
    snprintf(a[0], 32, "%llu", (unsigned long long)d->previews);
    snprintf(a[1], 32, "%llu", (unsigned long long)d->reveals);
    snprintf(a[2], 32, "%.17g", d->seconds);
    snprintf(a[3], 32, "%llu", (unsigned long long)d->items);
    snprintf(a[4], 32, "%llu", (unsigned long long)d->refused);
    snprintf(a[5], 32, "%llu", (unsigned long long)(caps ? caps->items : 0));
    snprintf(a[6], 32, "%llu", (unsigned long long)(caps ? caps->reveals : 0));
    const char *v[9] = {name, day, a[0], a[1], a[2], a[3], a[4], a[5], a[6]};
    /* In ON CONFLICT's SET every e.* is the row before: the caps are
     * checked against it, under its row lock, whichever node counts. */
#define ITEMS_OVER "($8::int8 > 0 AND excluded.previews + excluded.reveals + " \
                   "excluded.items > 0 AND e.items >= $8::int8)"
#define REVEALS_OVER "($9::int8 > 0 AND excluded.reveals > 0 AND " \
                     "e.reveals >= $9::int8)"
#define OVER "(" ITEMS_OVER " OR " REVEALS_OVER ")"
#define KEEP(col) col " = e." col " + CASE WHEN " OVER " THEN 0 ELSE excluded." col " END"
    static const char sql[] =
        "INSERT INTO scrim_exposure AS e (reviewer, day, previews, reveals, "
        "seconds, items, refused, last_refused) VALUES ($1, $2::date, $3::int8,"
        " $4::int8, $5::float8, $6::int8, $7::int8, NULL) ON CONFLICT "
        "(reviewer, day) DO UPDATE SET last_refused = CASE WHEN " ITEMS_OVER
        " THEN 'items' WHEN " REVEALS_OVER " THEN 'reveals' END, "
        KEEP("previews") ", " KEEP("reveals") ", " KEEP("seconds") ", "
        KEEP("items") ", refused = e.refused + CASE WHEN " OVER " THEN 1 ELSE "
        "excluded.refused END RETURNING json_build_object('previews', previews, "
        "'reveals', reveals, 'seconds', seconds, 'items', items, 'refused', "
        "refused, 'over', last_refused)::text";
#undef KEEP
#undef OVER
#undef REVEALS_OVER
#undef ITEMS_OVER
    scrim_exposure e = {0};
    int rc = 0;
    pthread_mutex_lock(&sh->lock);
    if (strcmp(sh->purged, day)) {
        /* as a single node: rows and events older than the days kept go
         * with a day's first count (any node's; a second finds nothing) */
        const char *pv[1] = {day};
        PGresult *pr = run(sh, "WITH x AS (DELETE FROM scrim_exposure WHERE "
                           "day < $1::date - " G_STRINGIFY(SCRIM_REVIEW_KEEP_DAYS)
                           ") DELETE FROM scrim_reviewer_log WHERE time < "
                           "extract(epoch FROM ($1::date - "
                           G_STRINGIFY(SCRIM_REVIEW_KEEP_DAYS) ")::timestamp)", 1, pv,
                           err, errlen);
        if (pr)
            snprintf(sh->purged, sizeof sh->purged, "%s", day);
        PQclear(pr);
    }
    PGresult *r = run(sh, sql, 9, v, err, errlen);
    if (r) {
        json_t *j = PQntuples(r) == 1 ? row_json(r, 0) : NULL;
        PQclear(r);
        exposure_of(j, &e);
        const char *o = json_string_value(json_object_get(j, "over"));
        *which = !o ? NULL : !strcmp(o, "items") ? "items" : "reveals";
        json_decref(j);
        counted *k = g_hash_table_lookup(sh->known, name);
        if (!k) {
            k = g_new0(counted, 1);
            g_hash_table_insert(sh->known, g_strdup(name), k);
        }
        snprintf(k->day, sizeof k->day, "%s", day);
        k->e = e;
    } else if (sh->conn) {
        rc = SCRIM_EDB;
    } else {
        /* unreachable: the row as PostgreSQL last gave it, plus what this
         * node counted since, checked here and sent when it is back */
        char key[96];
        snprintf(key, sizeof key, "%s|%s", day, name);
        counted *k = g_hash_table_lookup(sh->known, name);
        counted *p = g_hash_table_lookup(sh->pending, key);
        if (!p) {
            p = g_new0(counted, 1);
            snprintf(p->day, sizeof p->day, "%s", day);
            g_hash_table_insert(sh->pending, g_strdup(key), p);
        }
        if (k && !strcmp(k->day, day))
            e = k->e;
        add_to(&e, &p->e);
        scrim_exposure q = {0};
        if ((*which = over(&e, d, caps))) {
            p->e.refused++;
            e.refused++;
            q.refused = 1;
        } else {
            add_to(&p->e, d);
            add_to(&e, d);
            q = *d;
        }
        /* durable (the queue), p kept for the caps meanwhile */
        q_put(json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:I, s:I}", "k", "x",
                        "who", name, "day", day, "p", (json_int_t)q.previews,
                        "r", (json_int_t)q.reveals, "s", q.seconds,
                        "i", (json_int_t)q.items, "f", (json_int_t)q.refused));
    }
    pthread_mutex_unlock(&sh->lock);
    if (!rc && *which) {
        scrim__seterr(err, errlen, "daily cap reached: %llu %s today",
                      (unsigned long long)(!strcmp(*which, "items") ? e.items
                                                                    : e.reveals),
                      *which);
        rc = SCRIM_EBUSY;
    }
    if (today_out)
        *today_out = e;
    return rc;
}

static json_t *exposure_json(const scrim_exposure *e)
{
    return json_pack("{s:I, s:I, s:f, s:I, s:I}", "previews",
                     (json_int_t)e->previews, "reveals", (json_int_t)e->reveals,
                     "seconds", (double)(int64_t)(e->seconds * 1000 + 0.5) / 1000,
                     "items", (json_int_t)e->items, "refused",
                     (json_int_t)e->refused);
}

int scrim__shared_exposure(scrim__shared *sh, const char *name, json_t **out,
                           char *err, size_t errlen)
{
    char day[11];
    today(day);
    const char *v[2] = {name, day};
    scrim_exposure t = {0}, w = {0}, e;
    *out = NULL;
    pthread_mutex_lock(&sh->lock);
    PGresult *r = run(sh, "SELECT json_build_object('date', day::text, 'age', "
                      "$2::date - day, 'previews', previews, 'reveals', "
                      "reveals, 'seconds', seconds, 'items', items, 'refused', "
                      "refused)::text FROM scrim_exposure WHERE reviewer = $1 "
                      "AND day > $2::date - " G_STRINGIFY(SCRIM_REVIEW_KEEP_DAYS)
                      " ORDER BY day DESC", 2, v, err, errlen);
    int rc = r ? 0 : sh->conn ? SCRIM_EDB : SCRIM__SHARED_DOWN;
    json_t *days = json_array();
    for (int i = 0; r && i < PQntuples(r); i++) {
        json_t *j = row_json(r, i);
        json_int_t age = json_integer_value(json_object_get(j, "age"));
        exposure_of(j, &e);
        if (age == 0)
            t = e;
        if (age >= 0 && age < 7)
            add_to(&w, &e);
        json_t *o = exposure_json(&e);
        json_object_set(o, "date", json_object_get(j, "date"));
        json_array_append_new(days, o);
        json_decref(j);
    }
    PQclear(r);
    pthread_mutex_unlock(&sh->lock);
    if (rc) {
        json_decref(days);
        return rc;
    }
    *out = json_pack("{s:o, s:o, s:o}", "today", exposure_json(&t), "week",
                     exposure_json(&w), "days", days);
    return 0;
}

/* ---- the log -------------------------------------------------------------- */

void scrim__shared_log(scrim__shared *sh, json_t *ev)
{
    char err[256], t[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec + (double)(ts.tv_nsec / 1000) / 1e6;
    json_t *e = json_deep_copy(ev);
    if (!e)
        return;
    json_object_set_new(e, "time", json_real(now));
    char *text = json_dumps(e, JSON_COMPACT);
    const char *who = json_string_value(json_object_get(e, "who"));
    snprintf(t, sizeof t, "%.6f", now);
    const char *v[3] = {t, who ? who : "", text};
    pthread_mutex_lock(&sh->lock);
    PGresult *r = text ? run(sh, "INSERT INTO scrim_reviewer_log (time, who, "
                             "event) VALUES ($1::float8, $2, $3)", 3, v, err,
                             sizeof err) : NULL;
    if (!r && text && !sh->conn &&
        !q_put(json_pack("{s:s, s:f, s:s, s:s}", "k", "e", "t", now, "who",
                         v[1], "ev", text))) {
        /* queued in LMDB: sent when PostgreSQL is back */
    } else if (!r && text && !sh->conn) {
        if (json_array_size(sh->events) >= PENDING_MAX) {
            json_array_remove(sh->events, 0);
            if (!sh->dropped++)
                scrim__log_msg("warning", "reviewer log: PostgreSQL "
                               "unreachable for %d events; the oldest are "
                               "kept in this node's LMDB log only",
                               PENDING_MAX);
        }
        json_array_append_new(sh->events, json_pack("[f, s, s]", now, v[1],
                                                    text));
    } else if (!r && text) {
        scrim__log_msg("warning", "reviewer log: %s", err);
    }
    PQclear(r);
    pthread_mutex_unlock(&sh->lock);
    free(text);
    json_decref(e);
}

int scrim__shared_log_list(scrim__shared *sh, const char *who, double since,
                           size_t limit, json_t **out, char *err,
                           size_t errlen)
{
    char s[32], l[24];
    snprintf(s, sizeof s, "%.6f", since);
    snprintf(l, sizeof l, "%zu", limit + 1);
    const char *v[3] = {s, who ? who : "", l};
    *out = NULL;
    pthread_mutex_lock(&sh->lock);
    PGresult *r = run(sh, "SELECT event FROM scrim_reviewer_log WHERE time >= "
                      "$1::float8 AND ($2 = '' OR who = $2) ORDER BY time, id "
                      "LIMIT $3::int8", 3, v, err, errlen);
    int rc = r ? 0 : sh->conn ? SCRIM_EDB : SCRIM__SHARED_DOWN;
    json_t *arr = json_array();
    double next = -1;
    for (int i = 0; r && i < PQntuples(r); i++) {
        json_t *e = row_json(r, i);
        if (!e)
            continue;
        if (json_array_size(arr) == limit) {
            next = json_number_value(json_object_get(e, "time"));
            json_decref(e);
            break;
        }
        json_array_append_new(arr, e);
    }
    PQclear(r);
    pthread_mutex_unlock(&sh->lock);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = json_pack("{s:o, s:o}", "events", arr, "next",
                     next >= 0 ? json_real(next) : json_null());
    return 0;
}

/* ---- content warnings ----------------------------------------------------- */

int scrim__shared_warnings(scrim__shared *sh, json_t **out, char *err,
                           size_t errlen)
{
    json_error_t je;
    *out = NULL;
    pthread_mutex_lock(&sh->lock);
    PGresult *r = run(sh, "SELECT coalesce(json_object_agg(list, warning ORDER "
                      "BY list), '{}')::text FROM scrim_review_warnings", 0,
                      NULL, err, errlen);
    int rc = r ? 0 : sh->conn ? SCRIM_EDB : SCRIM__SHARED_DOWN;
    if (r) {
        free(sh->warnings);
        sh->warnings = strndup(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
        PQclear(r);
    }
    if (rc == SCRIM__SHARED_DOWN && sh->warnings)
        rc = 0;   /* as last read */
    if (!rc && !(*out = sh->warnings ? json_loads(sh->warnings, 0, &je) : NULL)) {
        scrim__seterr(err, errlen, "out of memory");
        rc = SCRIM_ENOMEM;
    }
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

int scrim__shared_warning_set(scrim__shared *sh, const char *list,
                              const char *text, char *err, size_t errlen)
{
    /* the checks scrim_review_warning_set makes, before anything is sent */
    int rc = review__warning_check(list, text, err, errlen);
    if (rc)
        return rc;
    int remove = !text || !*text;
    const char *v[2] = {list, text};
    pthread_mutex_lock(&sh->lock);
    PGresult *r = run(sh, remove ? "DELETE FROM scrim_review_warnings WHERE "
                      "list = $1" : "INSERT INTO scrim_review_warnings (list, "
                      "warning) VALUES ($1, $2) ON CONFLICT (list) DO UPDATE "
                      "SET warning = excluded.warning", remove ? 1 : 2, v, err,
                      errlen);
    rc = r ? 0 : sh->conn ? SCRIM_EDB : SCRIM__SHARED_DOWN;
    PQclear(r);
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

/* ---- the break clock and open reveals ------------------------------------- */

/* A statement answering one row of float8s into out[0..n-1] (binary);
 * 0 (no row: SCRIM_ENOTFOUND), SCRIM_EDB or SCRIM__SHARED_DOWN. */
static int floats(scrim__shared *sh, const char *sql, int nv,
                  const char *const *v, double *out, int n, char *err,
                  size_t errlen)
{
    pthread_mutex_lock(&sh->lock);
    PGresult *r = run(sh, sql, nv, v, err, errlen);
    int rc = r ? 0 : sh->conn ? SCRIM_EDB : SCRIM__SHARED_DOWN;
    if (r && PQntuples(r) < 1) {
        scrim__seterr(err, errlen, "none");
        rc = SCRIM_ENOTFOUND;
    }
    for (int i = 0; !rc && i < n && out; i++) {
        uint64_t u = scrim__pq_u64(PQgetvalue(r, 0, i));
        memcpy(&out[i], &u, sizeof out[i]);
    }
    PQclear(r);
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

int scrim__shared_active(scrim__shared *sh, const char *name, double now,
                         double brk, double clock[2], char *err, size_t errlen)
{
    char a[2][32];
    snprintf(a[0], 32, "%.6f", now);
    snprintf(a[1], 32, "%.6f", brk);
    const char *v[3] = {name, a[0], a[1]};
    return floats(sh, "INSERT INTO scrim_review_breaks AS b (reviewer, "
                  "stretch_start, last_active) VALUES ($1, $2::float8, "
                  "$2::float8) ON CONFLICT (reviewer) DO UPDATE SET "
                  "stretch_start = CASE WHEN $2::float8 - b.last_active >= "
                  "$3::float8 THEN $2::float8 ELSE b.stretch_start END, "
                  "last_active = greatest(b.last_active, $2::float8) "
                  "RETURNING stretch_start, last_active", 3, v, clock, 2, err,
                  errlen);
}

int scrim__shared_break(scrim__shared *sh, const char *name, double clock[2],
                        char *err, size_t errlen)
{
    const char *v[1] = {name};
    int rc = floats(sh, "SELECT stretch_start, last_active FROM "
                    "scrim_review_breaks WHERE reviewer = $1", 1, v, clock, 2,
                    err, errlen);
    if (rc == SCRIM_ENOTFOUND) {   /* never active: no stretch */
        clock[0] = clock[1] = 0;
        rc = 0;
    }
    return rc;
}

int scrim__shared_break_reset(scrim__shared *sh, const char *name, double now,
                              char *err, size_t errlen)
{
    char t[32];
    snprintf(t, sizeof t, "%.6f", now);
    const char *v[2] = {name, t};
    return floats(sh, "INSERT INTO scrim_review_breaks (reviewer, "
                  "stretch_start, last_active) VALUES ($1, $2::float8, "
                  "$2::float8) ON CONFLICT (reviewer) DO UPDATE SET "
                  "stretch_start = excluded.stretch_start, last_active = "
                  "excluded.last_active RETURNING stretch_start", 2, v, NULL,
                  0, err, errlen);
}

int scrim__shared_reveal_open(scrim__shared *sh, const char *name,
                              const char *id, double now, int keep, char *err,
                              size_t errlen)
{
    char t[32], k[16];
    snprintf(t, sizeof t, "%.6f", now);
    snprintf(k, sizeof k, "%d", keep);
    const char *v[4] = {name, id, t, k};
    /* an open reveal keeps its start; past `keep` open, the oldest go */
    return floats(sh, "WITH i AS (INSERT INTO scrim_open_reveals (reviewer, "
                  "id, start) VALUES ($1, $2, $3::float8) ON CONFLICT DO "
                  "NOTHING), d AS (DELETE FROM scrim_open_reveals WHERE "
                  "reviewer = $1 AND id <> $2 AND id NOT IN (SELECT id FROM "
                  "scrim_open_reveals WHERE reviewer = $1 AND id <> $2 ORDER "
                  "BY start DESC LIMIT $4::int - 1)) SELECT 0::float8", 4, v,
                  NULL, 0, err, errlen);
}

int scrim__shared_reveal_close(scrim__shared *sh, const char *name,
                               const char *id, double *start, char *err,
                               size_t errlen)
{
    const char *v[2] = {name, id};
    return floats(sh, "DELETE FROM scrim_open_reveals WHERE reviewer = $1 AND "
                  "id = $2 RETURNING start", 2, v, start, 1, err, errlen);
}
