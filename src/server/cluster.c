/* cluster.c - scrimd --cluster URL: the lists' shared truth is a change log
 * in PostgreSQL; this node's LMDB store follows it.
 *
 *  - Admin writes (imports, list create/set/drop, media add: admin.c) run
 *    on the admin thread: a PostgreSQL transaction takes the cluster's write
 *    lock (an advisory lock), waits until this node has applied every change
 *    before it, does the write as a dry run on the local store (checks, the
 *    counts the reply gives, and the entries it would add, captured), then
 *    appends one change (op, params, the entries as payload) and NOTIFYs.
 *    Change ids are taken under the lock, so they commit in id order.
 *  - The applier, a thread of its own with its own connection, LISTENs and
 *    applies the changes after the store's position in id order, each in
 *    one LMDB write transaction that also records its id
 *    (scrim_store_applying): a crash leaves a change applied with its id or
 *    not at all.  Lookups run on as ever (LMDB readers never wait).
 *  - Without PostgreSQL the node matches on what it has, /healthz and
 *    /metrics say so, and both connections come back by themselves.
 * Why this design: doc/design.md, "Cluster mode". */
#include "scrim.h"
#include "base/base.h"
#include "base/lazy_pq.h"
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SCHEMA_VERSION 1
/* Advisory lock keys: 0x736372696d01 ("scrim" 1) while the schema is made,
 * 0x736372696d02 ("scrim" 2) held by each admin write's transaction. */
#define POLL_MS 1000                 /* the fallback poll, and reconnects */
#define CATCH_UP_WAIT 30.0           /* seconds a write waits for this node */

static const char schema_sql[] =
    "SELECT pg_advisory_xact_lock(" "126870958468353" ");"
    "CREATE TABLE IF NOT EXISTS scrim_schema (version integer NOT NULL);"
    "CREATE TABLE IF NOT EXISTS scrim_lists ("
    " name text PRIMARY KEY,"
    " kind text NOT NULL DEFAULT 'block',"
    " enabled boolean NOT NULL DEFAULT true,"
    " radius integer NOT NULL DEFAULT 31,"
    " description text NOT NULL DEFAULT '',"
    " created timestamptz NOT NULL DEFAULT now(),"
    " modified timestamptz NOT NULL DEFAULT now());"
    /* the payloads are incompressible hashes: stored as they are */
    "DO $$ BEGIN IF to_regclass('scrim_changes') IS NULL THEN "
    "CREATE TABLE scrim_changes ("
    " id bigserial PRIMARY KEY,"
    " list text NOT NULL,"
    " op text NOT NULL CHECK (op IN ('add','remove','replace','drop',"
    "'metadata','quarantine')),"
    " params jsonb NOT NULL DEFAULT '{}',"
    " payload bytea,"
    " entries bigint NOT NULL DEFAULT 0,"
    " node text NOT NULL DEFAULT '',"
    " time timestamptz NOT NULL DEFAULT clock_timestamp());"
    "ALTER TABLE scrim_changes ALTER COLUMN payload SET STORAGE EXTERNAL;"
    "END IF; END $$;"
    "CREATE TABLE IF NOT EXISTS scrim_audit ("
    " id bigserial PRIMARY KEY,"
    " time timestamptz NOT NULL DEFAULT clock_timestamp(),"
    " node text NOT NULL,"
    " action text NOT NULL,"
    " list text NOT NULL,"
    " count bigint NOT NULL DEFAULT 0,"
    " detail text NOT NULL DEFAULT '',"
    " change bigint);"
    "INSERT INTO scrim_schema SELECT 1 WHERE NOT EXISTS "
    "(SELECT 1 FROM scrim_schema);"
    "SELECT max(version) FROM scrim_schema;";

struct scrim__cluster {
    scrim_server *srv;
    scrim_store *store;
    char conninfo[SCRIM_SETTINGS_PATH_MAX];
    char node[128];
    pthread_t thread;
    int running;
    int wake[2];                /* a byte here stops the applier's wait */
    pthread_mutex_t lock;       /* guards what follows, to the admin part */
    pthread_cond_t moved;       /* applied moved on, or the applier stopped */
    uint64_t applied, head, lag;
    double oldest;              /* unix time of the oldest change not applied */
    double in_step;             /* unix time the applier last knew it was */
    int pg_up, ready, stopping;
    int warned_ahead;           /* the applier's own */
    uint64_t applied_total, skipped_total;
    char pg_error[256];
    /* admin writes: one connection, the admin thread's */
    pthread_mutex_t wlock;
    PGconn *wconn;
    void (*on_stop)(void *);    /* the review sync (review/sync.c) */
    void *on_stop_arg;
};

/* An admin write in progress: its transaction and captured entries. */
struct scrim__cluster_tx {
    scrim__cluster *cl;
    PGconn *conn;
    uint8_t *buf;
    size_t len, cap;
    uint64_t entries;
    int oom;
};

/* bin/scrim's writes and the compacted log: near the end */
static int drop_missing(scrim__cluster *cl, uint64_t id, char *err,
                        size_t errlen);

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* The first line of libpq's message. */
static void pq_msg(char *out, size_t n, const char *msg)
{
    snprintf(out, n, "%s", msg && *msg ? msg : "unknown error");
    out[strcspn(out, "\n")] = '\0';
}

PGconn *scrim__pq_connect(const char *conninfo, char *err, size_t errlen)
{
    int rc = scrim__pq_load(err, errlen);
    if (rc)
        return NULL;
    /* the connection string comes last: what it says wins.  Over TCP, a
     * PostgreSQL that stops answering (a host gone, not a refusal) fails a
     * statement after 10 s unacknowledged instead of never: reviewers'
     * requests wait on it (review/shared.c) */
    const char *keys[] = {"connect_timeout", "application_name",
                          "tcp_user_timeout", "dbname", NULL};
    const char *vals[] = {"5", "scrimd", "10000", conninfo, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn) {
        scrim__seterr(err, errlen, "out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        pq_msg(err, errlen, PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, quiet, NULL);
    return conn;
}

/* Run sql (no parameters); 0, or -1 with err set. */
int scrim__pq_run(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(conn, sql);
    int st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc)
        pq_msg(err, errlen, r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
    PQclear(r);
    return rc;
}

/* Text parameters, binary results; NULL with err set on failure. */
PGresult *scrim__pq_query(PGconn *conn, const char *sql, int n,
                          const char *const *vals, const int *lens,
                          const int *fmts, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(conn, sql, n, NULL, vals, lens, fmts, 1);
    int st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    pq_msg(err, errlen, r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
    PQclear(r);
    return NULL;
}

uint64_t scrim__pq_u64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (uint8_t)p[i];
    return v;
}

static double bef64(const char *p)
{
    uint64_t v = scrim__pq_u64(p);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

static int loop_schema(PGconn *conn, char *err, size_t errlen);

/* Creates the tables if missing; -1 if the schema is newer than ours. */
static int ensure_schema(PGconn *conn, char *err, size_t errlen)
{
    PGresult *r = PQexec(conn, schema_sql); /* several statements: text */
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        pq_msg(err, errlen, r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
        PQclear(r);
        return -1;
    }
    int v = PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    if (v != SCHEMA_VERSION) {
        scrim__seterr(err, errlen, "the cluster database's schema is version "
                      "%d; this scrimd knows version %d", v, SCHEMA_VERSION);
        return -1;
    }
    return loop_schema(conn, err, errlen);
}

/* ==== the payload: entries, as the dry run captured them ================== */

/* Each entry: u8 type, u8 flags (1: negative; 2 << i: string i present:
 * id, label, variant, source, category, tags), i8 quality, the hash (PDQ
 * 32 bytes as scrim_pdq holds it, MD5 16, SHA-256 32, video none), the
 * strings (u16 little-endian length, bytes), and for a video u32 frames,
 * then per frame its PDQ, i8 quality and a double of seconds.  Nodes of
 * one byte order (x86-64, arm64) read each other's. */
static const size_t hash_len[] = {0, 32, 16, 32, 0};

static int put(scrim__cluster_tx *tx, const void *p, size_t n)
{
    if (!n)   /* a video's hash: none (p NULL) */
        return 0;
    if (tx->len + n > tx->cap) {
        size_t cap = tx->cap ? tx->cap : 1 << 16;
        while (cap < tx->len + n)
            cap *= 2;
        uint8_t *b = realloc(tx->buf, cap);
        if (!b) {
            tx->oom = 1;
            return SCRIM_ENOMEM;
        }
        tx->buf = b;
        tx->cap = cap;
    }
    memcpy(tx->buf + tx->len, p, n);
    tx->len += n;
    return 0;
}

int scrim__cluster_capture(void *ud, const scrim_entry *e)
{
    scrim__cluster_tx *tx = ud;
    const char *s[6] = {e->id, e->label, e->variant, e->source, e->category,
                        e->tags};
    uint8_t h[3] = {(uint8_t)e->type, e->negative ? 1 : 0,
                    (uint8_t)(int8_t)e->quality};
    for (int i = 0; i < 6; i++)
        if (s[i])
            h[1] |= (uint8_t)(2 << i);
    if (put(tx, h, 3) || put(tx, e->hash, hash_len[e->type]))
        return SCRIM_ENOMEM;
    for (int i = 0; i < 6; i++) {
        if (!s[i])
            continue;
        size_t n = strlen(s[i]);   /* checked: at most SCRIM_ENTRY_TEXT_MAX */
        uint8_t l[2] = {(uint8_t)n, (uint8_t)(n >> 8)};
        if (put(tx, l, 2) || put(tx, s[i], n))
            return SCRIM_ENOMEM;
    }
    if (e->type == SCRIM_HASH_VIDEO) {
        uint32_t nf = (uint32_t)e->nframes;
        if (put(tx, &nf, 4))
            return SCRIM_ENOMEM;
        for (size_t i = 0; i < e->nframes; i++) {
            int8_t q = (int8_t)e->frames[i].quality;
            if (put(tx, &e->frames[i].hash, 32) || put(tx, &q, 1) ||
                put(tx, &e->frames[i].seconds, 8))
                return SCRIM_ENOMEM;
        }
    }
    tx->entries++;
    return 0;
}

/* Adds the payload's entries to imp; SCRIM_EINVAL if it is malformed. */
static int apply_entries(scrim_import *imp, const uint8_t *p, size_t len,
                         char *err, size_t errlen)
{
    const uint8_t *end = p + len;
    char str[6][SCRIM_ENTRY_TEXT_MAX + 1];
    scrim_store_frame *frames = NULL;
    size_t fcap = 0;
    int rc = 0;
    scrim_pdq hash;
    while (p < end && !rc) {
        scrim_entry e = {0};
        const char **s[6] = {&e.id, &e.label, &e.variant, &e.source,
                             &e.category, &e.tags};
        if (end - p < 3 || p[0] < SCRIM_HASH_PDQ || p[0] > SCRIM_HASH_VIDEO)
            goto bad;
        e.type = p[0];
        e.negative = p[1] & 1;
        e.quality = (int8_t)p[2];
        int flags = p[1];
        p += 3;
        if ((size_t)(end - p) < hash_len[e.type])
            goto bad;
        memcpy(&hash, p, hash_len[e.type]);   /* aligned for scrim_pdq */
        e.hash = &hash;
        p += hash_len[e.type];
        for (int i = 0; i < 6; i++) {
            if (!(flags & (2 << i)))
                continue;
            if (end - p < 2)
                goto bad;
            size_t n = (size_t)p[0] | (size_t)p[1] << 8;
            p += 2;
            if (n > SCRIM_ENTRY_TEXT_MAX || (size_t)(end - p) < n)
                goto bad;
            memcpy(str[i], p, n);
            str[i][n] = '\0';
            *s[i] = str[i];
            p += n;
        }
        if (e.type == SCRIM_HASH_VIDEO) {
            uint32_t nf;
            if (end - p < 4)
                goto bad;
            memcpy(&nf, p, 4);
            p += 4;
            if ((size_t)(end - p) / 41 < nf)
                goto bad;
            if (nf > fcap) {
                scrim_store_frame *f = realloc(frames, nf * sizeof *f);
                if (!f) {
                    free(frames);
                    scrim__seterr(err, errlen, "out of memory");
                    return SCRIM_ENOMEM;
                }
                frames = f;
                fcap = nf;
            }
            for (uint32_t i = 0; i < nf; i++, p += 41) {
                memcpy(&frames[i].hash, p, 32);
                frames[i].quality = (int8_t)p[32];
                memcpy(&frames[i].seconds, p + 33, 8);
            }
            e.frames = frames;
            e.nframes = nf;
        }
        rc = scrim_import_add(imp, &e, err, errlen);
    }
    free(frames);
    return rc;
bad:
    free(frames);
    scrim__seterr(err, errlen, "malformed change payload");
    return SCRIM_EINVAL;
}

/* ==== list parameters as JSON ============================================== */

/* description points into o. */
static void params_get(const json_t *o, scrim_list_params *p)
{
    const json_t *v;
    *p = (scrim_list_params)SCRIM_LIST_PARAMS_KEEP;
    if ((v = json_object_get(o, "kind")) && json_is_string(v))
        p->kind = scrim_list_kind_parse(json_string_value(v));
    if ((v = json_object_get(o, "enabled")) && json_is_boolean(v))
        p->enabled = json_is_true(v);
    if ((v = json_object_get(o, "radius")) && json_is_integer(v))
        p->radius = (int)json_integer_value(v);
    if ((v = json_object_get(o, "description")) && json_is_string(v))
        p->description = json_string_value(v);
}

/* ==== the applier ========================================================== */

static int apply_quarantine(scrim__cluster *cl, uint64_t id, const char *list,
                            json_t *pj, char *err, size_t errlen);

/* Apply change id; 0 applied, 1 skipped (cannot apply here, ever: recorded
 * as applied, with a warning), -1 failed here (tried again later). */
static int apply_change(scrim__cluster *cl, uint64_t id, const char *list,
                        const char *op, const char *params,
                        const uint8_t *payload, size_t len, char *err,
                        size_t errlen)
{
    json_error_t je;
    json_t *pj = json_loads(params, 0, &je);
    scrim_list_params p;
    int rc;
    if (!pj) {
        scrim__seterr(err, errlen, "params are not JSON: %s", je.text);
        rc = SCRIM_EINVAL;
        goto done;
    }
    params_get(pj, &p);
    scrim_store_applying(id);
    if (!strcmp(op, "add") || !strcmp(op, "replace") || !strcmp(op, "remove")) {
        scrim_import_opts io = {.list = p};
        scrim_import *imp;
        io.create = json_is_true(json_object_get(pj, "create"));
        io.source = json_string_value(json_object_get(pj, "source"));
        io.mode = !strcmp(op, "add") ? SCRIM_IMPORT_ADD
                  : !strcmp(op, "replace") ? SCRIM_IMPORT_REPLACE
                                           : SCRIM_IMPORT_REMOVE;
        if (!(rc = scrim_import_begin(cl->store, list, &io, &imp, err, errlen))) {
            if ((rc = apply_entries(imp, payload, len, err, errlen)))
                scrim_import_abort(imp);
            else
                rc = scrim_import_commit(imp, NULL, err, errlen);
        }
    } else if (!strcmp(op, "metadata")) {
        int create = json_is_true(json_object_get(pj, "create"));
        rc = create ? scrim_store_list_create(cl->store, list, &p, err, errlen)
                    : scrim_store_list_set(cl->store, list, &p, err, errlen);
        if (rc == (create ? SCRIM_EEXIST : SCRIM_ENOTFOUND)) /* made true */
            rc = create ? scrim_store_list_set(cl->store, list, &p, err, errlen)
                        : scrim_store_list_create(cl->store, list, &p, err,
                                                  errlen);
    } else if (!strcmp(op, "drop")) {
        rc = scrim_store_list_drop(cl->store, list, NULL, err, errlen);
    } else if (!strcmp(op, "quarantine")) {
        rc = apply_quarantine(cl, id, list, pj, err, errlen);
    } else {
        scrim__seterr(err, errlen, "unknown operation '%s'", op);
        rc = SCRIM_EINVAL;
    }
    scrim_store_applying(0);
done:
    json_decref(pj);
    if (!rc)
        return 0;
    if (rc == SCRIM_ENOTFOUND && !strcmp(op, "drop"))
        return drop_missing(cl, id, err, errlen);
    if (rc == SCRIM_EINVAL || rc == SCRIM_ENOTFOUND || rc == SCRIM_EEXIST ||
        rc == SCRIM_EFORMAT) {
        char e2[256];
        scrim__log_json(json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "level",
                                  "warning", "msg", "cluster: change skipped: "
                                  "it cannot apply to this node's database",
                                  "change", (json_int_t)id, "list", list, "op",
                                  op, "error", err));
        if (scrim_store_set_applied(cl->store, id, e2, sizeof e2)) {
            snprintf(err, errlen, "%s", e2);
            return -1;
        }
        return 1;
    }
    return -1;
}

static void state_down(scrim__cluster *cl, const char *why)
{
    pthread_mutex_lock(&cl->lock);
    if (cl->pg_up || strcmp(cl->pg_error, why))
        scrim__log_json(json_pack("{s:s, s:s, s:s}", "level", "warning", "msg",
                                  "cluster: PostgreSQL unreachable; matching "
                                  "goes on with the lists as they are",
                                  "error", why));
    cl->pg_up = 0;
    snprintf(cl->pg_error, sizeof cl->pg_error, "%s", why);
    pthread_mutex_unlock(&cl->lock);
}

/* Sleep ms, or less if woken (stop); 1 if stopping. */
static int nap(scrim__cluster *cl, int fd, int ms)
{
    struct pollfd pf[2] = {{cl->wake[0], POLLIN, 0}, {fd, POLLIN, 0}};
    poll(pf, fd >= 0 ? 2 : 1, ms);
    pthread_mutex_lock(&cl->lock);
    int stop = cl->stopping;
    pthread_mutex_unlock(&cl->lock);
    return stop;
}

/* Apply every change after ours: 0 (in step, or a local failure to try
 * again after a pause: *pause set), -1 if PostgreSQL failed. */
static int catch_up(scrim__cluster *cl, PGconn *conn, int *pause, char *err,
                    size_t errlen)
{
    for (;;) {
        char at[24];
        pthread_mutex_lock(&cl->lock);
        uint64_t applied = cl->applied;
        int stop = cl->stopping;
        pthread_mutex_unlock(&cl->lock);
        if (stop)
            return 0;
        snprintf(at, sizeof at, "%llu", (unsigned long long)applied);
        const char *v[1] = {at};
        PGresult *r = scrim__pq_query(
            conn, "SELECT (SELECT coalesce(max(id), 0) FROM scrim_changes)::int8, "
            "count(*)::int8, "
            "coalesce(extract(epoch FROM min(time)), 0)::float8 "
            "FROM scrim_changes WHERE id > $1::int8", 1, v, NULL, NULL, err,
            errlen);
        if (!r)
            return -1;
        uint64_t head = scrim__pq_u64(PQgetvalue(r, 0, 0)), lag = scrim__pq_u64(PQgetvalue(r, 0, 1));
        double oldest = bef64(PQgetvalue(r, 0, 2));
        PQclear(r);
        if (head < applied && !cl->warned_ahead) {
            cl->warned_ahead = 1;
            scrim__log_json(json_pack(
                "{s:s, s:s, s:I, s:I}", "level", "error", "msg", "cluster: "
                "this node's database has applied changes the log does not "
                "have: another or a restored PostgreSQL? (new changes up to "
                "its position are not applied here)", "applied",
                (json_int_t)applied, "head", (json_int_t)head));
        }
        pthread_mutex_lock(&cl->lock);
        if (!cl->pg_up)
            scrim__log_json(json_pack("{s:s, s:s, s:I, s:I}", "level", "info",
                                      "msg", "cluster: connected to PostgreSQL",
                                      "applied", (json_int_t)applied, "behind",
                                      (json_int_t)lag));
        cl->pg_up = 1;
        cl->pg_error[0] = '\0';
        cl->head = head > applied ? head : applied;
        cl->lag = lag;
        cl->oldest = oldest;
        if (!lag) {
            cl->in_step = wall();
            if (!cl->ready)
                scrim__log_json(json_pack("{s:s, s:s, s:I}", "level", "info",
                                          "msg", "cluster: in step with the "
                                          "change log: ready", "applied",
                                          (json_int_t)applied));
            cl->ready = 1;
        }
        pthread_mutex_unlock(&cl->lock);
        if (!lag)
            return 0;
        r = scrim__pq_query(conn, "SELECT id, list, op, params::text, payload "
                     "FROM scrim_changes WHERE id > $1::int8 ORDER BY id "
                     "LIMIT 1", 1, v, NULL, NULL, err, errlen);
        if (!r)
            return -1;
        if (PQntuples(r) != 1) {
            PQclear(r);
            continue;
        }
        uint64_t id = scrim__pq_u64(PQgetvalue(r, 0, 0));
        char list[SCRIM_LIST_NAME_MAX + 1], op[16];
        snprintf(list, sizeof list, "%.*s", PQgetlength(r, 0, 1),
                 PQgetvalue(r, 0, 1));
        snprintf(op, sizeof op, "%.*s", PQgetlength(r, 0, 2),
                 PQgetvalue(r, 0, 2));
        char *params = strndup(PQgetvalue(r, 0, 3), (size_t)PQgetlength(r, 0, 3));
        char aerr[512] = "";
        double t0 = scrim__now();
        int rc = params ? apply_change(cl, id, list, op, params,
                                       (const uint8_t *)PQgetvalue(r, 0, 4),
                                       (size_t)PQgetlength(r, 0, 4), aerr,
                                       sizeof aerr)
                        : -1;
        free(params);
        PQclear(r);
        if (rc < 0) {
            scrim__log_json(json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "level",
                                      "error", "msg", "cluster: cannot apply "
                                      "a change; trying again", "change",
                                      (json_int_t)id, "list", list, "op", op,
                                      "error", params ? aerr : "out of memory"));
            *pause = 1;
            return 0;
        }
        if (scrim__now() - t0 > 1)
            scrim__log_json(json_pack("{s:s, s:s, s:I, s:s, s:s, s:f}", "level",
                                      "info", "msg", "cluster: change applied",
                                      "change", (json_int_t)id, "list", list,
                                      "op", op, "seconds", scrim__now() - t0));
        pthread_mutex_lock(&cl->lock);
        cl->applied = id;
        cl->applied_total += rc == 0;
        cl->skipped_total += rc == 1;
        pthread_cond_broadcast(&cl->moved);
        pthread_mutex_unlock(&cl->lock);
    }
}

static void *applier_main(void *arg)
{
    scrim__cluster *cl = arg;
    PGconn *conn = NULL;
    char err[512];
    for (;;) {
        if (!conn) {
            if (!(conn = scrim__pq_connect(cl->conninfo, err, sizeof err)) ||
                ensure_schema(conn, err, sizeof err) ||
                scrim__pq_run(conn, "LISTEN scrim_changes", err, sizeof err)) {
                if (conn)
                    PQfinish(conn);
                conn = NULL;
                state_down(cl, err);
                if (nap(cl, -1, POLL_MS))
                    break;
                continue;
            }
        }
        /* Notifications libpq read along with earlier results are queued,
         * not on the socket: drop them before looking, and look again at
         * once if more came meanwhile. */
        PGnotify *n;
        while ((n = PQnotifies(conn)))
            PQfreemem(n);
        int pause = 0;
        if (catch_up(cl, conn, &pause, err, sizeof err)) {
            PQfinish(conn);
            conn = NULL;
            state_down(cl, err);
            if (nap(cl, -1, POLL_MS))
                break;
            continue;
        }
        if (!pause && PQconsumeInput(conn) && (n = PQnotifies(conn))) {
            PQfreemem(n);
            continue;
        }
        /* a NOTIFY, the poll's second or a stop ends the wait */
        if (nap(cl, pause ? -1 : PQsocket(conn), POLL_MS))
            break;
        if (!PQconsumeInput(conn)) {
            pq_msg(err, sizeof err, PQerrorMessage(conn));
            PQfinish(conn);
            conn = NULL;
            state_down(cl, err);
        }
    }
    if (conn)
        PQfinish(conn);
    return NULL;
}

/* A cluster object on srv (srv->cluster), libpq loaded; its node name is
 * host:pid plus suffix. */
static int cluster_new(scrim_server *srv, const char *conninfo,
                       const char *suffix, char *err, size_t errlen)
{
    int rc = scrim__pq_load(err, errlen);
    if (rc)
        return rc;
    scrim__cluster *cl = calloc(1, sizeof *cl);
    if (!cl) {
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    cl->srv = srv;
    cl->store = srv->store;
    cl->wake[0] = cl->wake[1] = -1;
    snprintf(cl->conninfo, sizeof cl->conninfo, "%s", conninfo);
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(cl->node, sizeof cl->node, "%s:%ld%s", host, (long)getpid(),
             suffix);
    pthread_mutex_init(&cl->lock, NULL);
    pthread_mutex_init(&cl->wlock, NULL);
    pthread_cond_init(&cl->moved, NULL);
    srv->cluster = cl;
    return 0;
}

/* ==== bin/scrim's writes and the compacted log (cluster_log.c) ============
 * bin/scrim --cluster writes through a node's database as scrimd's admin
 * API does (scrim__cluster_begin, the dry run, scrim__cluster_commit), on a
 * cluster object of its own with no applier: the node's scrimd applies, and
 * waits watch the database's recorded position instead. */

int scrim__cluster_writer(scrim_server *srv, const char *conninfo, char *err,
                          size_t errlen)
{
    return cluster_new(srv, conninfo, "/scrim", err, errlen);
}

/* The node's database has applied `id` (polled: another process applies);
 * 0, or -1 at the deadline. */
static int wait_store(scrim__cluster *cl, uint64_t id, double seconds)
{
    double end = scrim__now() + seconds;
    for (;;) {
        char err[256];
        uint64_t at = 0;
        if (!scrim_store_applied(cl->store, &at, err, sizeof err) && at >= id) {
            cl->applied = at;
            return 0;
        }
        if (scrim__now() > end)
            return -1;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* A drop of a list this node does not have: what it asks for is true (a
 * compacted log keeps a list's last drop, with nothing of it before). */
static int drop_missing(scrim__cluster *cl, uint64_t id, char *err,
                        size_t errlen)
{
    return scrim_store_set_applied(cl->store, id, err, errlen) ? -1 : 0;
}

/* From start-up on the database says it is a node's (position 0 too), so
 * that bin/scrim refuses to write it but through the cluster. */
static int mark_node(scrim__cluster *cl, char *err, size_t errlen)
{
    int node;
    uint64_t at;
    int rc = scrim_store_cluster_node(cl->store, &node, &at, err, errlen);
    if (!rc && !node)
        rc = scrim_store_set_applied(cl->store, 0, err, errlen);
    return rc;
}

/* ==== start, stop, health ================================================== */

int scrim__cluster_start(scrim_server *srv, const char *conninfo, char *err,
                         size_t errlen)
{
    int rc = cluster_new(srv, conninfo, "", err, errlen);
    if (rc)
        return rc;
    scrim__cluster *cl = srv->cluster;
    if ((rc = scrim_store_applied(srv->store, &cl->applied, err, errlen)) ||
        (rc = mark_node(cl, err, errlen)))
        return rc;
    cl->head = cl->applied;
    if (pipe2(cl->wake, O_CLOEXEC | O_NONBLOCK)) {
        scrim__seterr(err, errlen, "pipe: %s", strerror(errno));
        return SCRIM_EIO;
    }
    if (pthread_create(&cl->thread, NULL, applier_main, cl)) {
        scrim__seterr(err, errlen, "cannot start the cluster applier thread");
        return SCRIM_ENOMEM;
    }
    cl->running = 1;
    scrim__log_json(json_pack("{s:s, s:s, s:I}", "level", "info", "msg",
                              "cluster: following the change log",
                              "applied", (json_int_t)cl->applied));
    return 0;
}

void scrim__cluster_stop(scrim_server *srv)
{
    scrim__cluster *cl = srv->cluster;
    if (!cl)
        return;
    if (cl->on_stop)
        cl->on_stop(cl->on_stop_arg);
    pthread_mutex_lock(&cl->lock);
    cl->stopping = 1;
    pthread_cond_broadcast(&cl->moved);
    pthread_mutex_unlock(&cl->lock);
    if (cl->running) {
        if (write(cl->wake[1], "x", 1) < 0) {
            /* the applier sees `stopping` within a second anyway */
        }
        pthread_join(cl->thread, NULL);
    }
    for (int i = 0; i < 2; i++)
        if (cl->wake[i] >= 0)
            close(cl->wake[i]);
    if (cl->wconn)
        PQfinish(cl->wconn);
    pthread_mutex_destroy(&cl->lock);
    pthread_mutex_destroy(&cl->wlock);
    pthread_cond_destroy(&cl->moved);
    free(cl);
    srv->cluster = NULL;
}

typedef struct cl_state {
    uint64_t applied, head, lag;
    double lag_seconds;
    int pg_up, ready;
    uint64_t applied_total, skipped_total;
} cl_state;

static void state_get(scrim__cluster *cl, cl_state *s)
{
    pthread_mutex_lock(&cl->lock);
    double now = wall();
    s->applied = cl->applied;
    s->head = cl->head;
    s->lag = cl->lag;
    s->pg_up = cl->pg_up;
    s->ready = cl->ready;
    s->applied_total = cl->applied_total;
    s->skipped_total = cl->skipped_total;
    /* up: the age of the oldest change not applied; down: how long since
     * the node last knew it had everything (changes may have come since) */
    if (cl->pg_up)
        s->lag_seconds = cl->lag && cl->oldest > 0 ? now - cl->oldest : 0;
    else
        s->lag_seconds = cl->in_step > 0 ? now - cl->in_step : 0;
    if (s->lag_seconds < 0)
        s->lag_seconds = 0;
    pthread_mutex_unlock(&cl->lock);
}

json_t *scrim__cluster_health(scrim_server *srv, int *ready)
{
    cl_state s;
    state_get(srv->cluster, &s);
    *ready = s.ready;
    return json_pack("{s:I, s:I, s:I, s:f, s:s, s:b}", "applied",
                     (json_int_t)s.applied, "head", (json_int_t)s.head,
                     "lag_changes", (json_int_t)s.lag, "lag_seconds",
                     s.lag_seconds, "postgres", s.pg_up ? "ok" : "down",
                     "ready", s.ready);
}

void scrim__cluster_metrics(scrim_server *srv, FILE *f)
{
    if (!srv->cluster)
        return;
    cl_state s;
    state_get(srv->cluster, &s);
    fprintf(f, "# HELP scrim_cluster_lag_changes Changes in the cluster's "
            "log not yet applied here (as last seen).\n"
            "# TYPE scrim_cluster_lag_changes gauge\n"
            "scrim_cluster_lag_changes %llu\n"
            "# HELP scrim_cluster_lag_seconds Age of the oldest change not "
            "applied here; without PostgreSQL, seconds since this node was "
            "last known in step.\n"
            "# TYPE scrim_cluster_lag_seconds gauge\n"
            "scrim_cluster_lag_seconds %.3f\n"
            "# HELP scrim_cluster_postgres_up 1 if the applier is connected "
            "to PostgreSQL.\n# TYPE scrim_cluster_postgres_up gauge\n"
            "scrim_cluster_postgres_up %d\n"
            "# HELP scrim_cluster_applied_change The last change of the log "
            "applied here.\n# TYPE scrim_cluster_applied_change gauge\n"
            "scrim_cluster_applied_change %llu\n"
            "# HELP scrim_cluster_ready 1 once in step with the log after "
            "start-up.\n# TYPE scrim_cluster_ready gauge\n"
            "scrim_cluster_ready %d\n"
            "# HELP scrim_cluster_changes_applied_total Changes applied.\n"
            "# TYPE scrim_cluster_changes_applied_total counter\n"
            "scrim_cluster_changes_applied_total %llu\n"
            "# HELP scrim_cluster_changes_skipped_total Changes that could not "
            "apply here (logged).\n"
            "# TYPE scrim_cluster_changes_skipped_total counter\n"
            "scrim_cluster_changes_skipped_total %llu\n",
            (unsigned long long)s.lag, s.lag_seconds, s.pg_up,
            (unsigned long long)s.applied, s.ready,
            (unsigned long long)s.applied_total,
            (unsigned long long)s.skipped_total);
}

/* Wait until this node has applied `id`; 0, or -1 at the deadline. */
static int wait_applied(scrim__cluster *cl, uint64_t id, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double end = (double)ts.tv_sec + ts.tv_nsec / 1e9 + seconds;
    ts.tv_sec = (time_t)end;
    ts.tv_nsec = (long)((end - floor(end)) * 1e9);
    int rc = 0;
    if (!cl->running)   /* bin/scrim's writer: a scrimd applies, not us */
        return wait_store(cl, id, seconds);
    pthread_mutex_lock(&cl->lock);
    while (cl->applied < id && !cl->stopping && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&cl->moved, &cl->lock, &ts);
    int ok = cl->applied >= id;
    pthread_mutex_unlock(&cl->lock);
    return ok ? 0 : -1;
}

/* ==== admin writes ========================================================= */

static int unavailable(scrim_call *c, const char *why)
{
    return scrim_call_error(c, 503, "cluster_unavailable", "the cluster's "
                            "PostgreSQL cannot take the change now (matching "
                            "goes on with the lists as they are; retry "
                            "later): %s", why);
}

int scrim__cluster_begin(scrim_call *c, scrim__cluster_tx **out)
{
    scrim__cluster *cl = c->server->cluster;
    char err[512];
    *out = NULL;
    scrim__cluster_tx *tx = calloc(1, sizeof *tx);
    if (!tx)
        return scrim_call_error(c, 500, "no_memory", "out of memory");
    tx->cl = cl;
    pthread_mutex_lock(&cl->wlock);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!cl->wconn) {
            if (!(cl->wconn = scrim__pq_connect(cl->conninfo, err, sizeof err)))
                break;
            if (ensure_schema(cl->wconn, err, sizeof err)) {
                PQfinish(cl->wconn);
                cl->wconn = NULL;
                break;
            }
        }
        if (!scrim__pq_run(cl->wconn, "BEGIN; SELECT pg_advisory_xact_lock("
                    "126870958468354)", err, sizeof err)) {
            tx->conn = cl->wconn;
            break;
        }
        /* a connection PostgreSQL dropped (restart): once more, afresh */
        PQfinish(cl->wconn);
        cl->wconn = NULL;
    }
    if (!tx->conn) {
        pthread_mutex_unlock(&cl->wlock);
        free(tx);
        return unavailable(c, err);
    }
    /* Every change before ours applied here, so that the dry run sees the
     * lists as they are (the lock keeps others from adding any). */
    PGresult *r = scrim__pq_query(tx->conn, "SELECT coalesce(max(id), 0)::int8 FROM "
                           "scrim_changes", 0, NULL, NULL, NULL, err, sizeof err);
    if (!r) {
        scrim__cluster_abort(tx);
        return unavailable(c, err);
    }
    uint64_t head = scrim__pq_u64(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (wait_applied(cl, head, CATCH_UP_WAIT)) {
        scrim__cluster_abort(tx);
        return scrim_call_error(c, 503, "cluster_behind", "this node has not "
                                "applied the cluster's change %llu yet (after "
                                "%.0f s); retry later", (unsigned long long)head,
                                CATCH_UP_WAIT);
    }
    *out = tx;
    return 0;
}

void scrim__cluster_abort(scrim__cluster_tx *tx)
{
    if (!tx)
        return;
    scrim__cluster *cl = tx->cl;
    if (tx->conn) {
        char err[256];
        if (scrim__pq_run(tx->conn, "ROLLBACK", err, sizeof err) ||
            PQtransactionStatus(tx->conn) != PQTRANS_IDLE) {
            PQfinish(cl->wconn);
            cl->wconn = NULL;
        }
        pthread_mutex_unlock(&cl->wlock);
    }
    free(tx->buf);
    free(tx);
}

int scrim__cluster_commit(scrim_call *c, scrim__cluster_tx *tx,
                          const char *list, const char *op, json_t *params,
                          uint64_t *change)
{
    scrim__cluster *cl = tx->cl;
    char err[512], n[24];
    char *pj = json_dumps(params, JSON_COMPACT);
    json_decref(params);
    if (tx->oom || !pj) {
        free(pj);
        scrim__cluster_abort(tx);
        return scrim_call_error(c, 500, "no_memory", "out of memory");
    }
    snprintf(n, sizeof n, "%llu", (unsigned long long)tx->entries);
    const char *v[6] = {list, op, pj, (const char *)tx->buf, n, cl->node};
    int lens[6] = {0, 0, 0, (int)tx->len, 0, 0};
    int fmts[6] = {0, 0, 0, 1, 0, 0};
    if (tx->len > 0x3fffffff) {
        free(pj);
        scrim__cluster_abort(tx);
        return scrim_call_error(c, 413, "too_large", "the change is over 1 GB "
                                "(PostgreSQL's limit for one value): import "
                                "it in parts");
    }
    if (!tx->buf)
        v[3] = "";
    double t0 = scrim__now();
    PGresult *r = scrim__pq_query(tx->conn, "INSERT INTO scrim_changes (list, op, "
                           "params, payload, entries, node) VALUES ($1, $2, "
                           "$3::jsonb, $4, $5::int8, $6) RETURNING id", 6, v,
                           lens, fmts, err, sizeof err);
    if (!r)
        goto fail;
    *change = scrim__pq_u64(PQgetvalue(r, 0, 0));
    PQclear(r);
    /* the lists table: what the log says of each list, for people and
     * tools reading PostgreSQL (nodes follow the log) */
    if (!strcmp(op, "drop")) {
        const char *dv[1] = {list};
        r = scrim__pq_query(tx->conn, "DELETE FROM scrim_lists WHERE name = $1", 1,
                     dv, NULL, NULL, err, sizeof err);
    } else {
        const char *lv[2] = {list, v[2]};
        r = scrim__pq_query(tx->conn, "INSERT INTO scrim_lists AS l (name, kind, "
            "enabled, radius, description) VALUES ($1, coalesce($2::jsonb->>"
            "'kind', 'block'), coalesce(($2::jsonb->>'enabled')::boolean, "
            "true), coalesce(($2::jsonb->>'radius')::int, 31), coalesce("
            "$2::jsonb->>'description', '')) ON CONFLICT (name) DO UPDATE SET "
            "kind = coalesce($2::jsonb->>'kind', l.kind), enabled = coalesce("
            "($2::jsonb->>'enabled')::boolean, l.enabled), radius = coalesce("
            "($2::jsonb->>'radius')::int, l.radius), description = coalesce("
            "$2::jsonb->>'description', l.description), modified = now()", 2,
            lv, NULL, NULL, err, sizeof err);
    }
    if (!r)
        goto fail;
    PQclear(r);
    /* the cluster's audit: who changed what, through which node */
    {
        char ch[24];
        snprintf(ch, sizeof ch, "%llu", (unsigned long long)*change);
        const char *action = !strcmp(op, "metadata")
            ? (strstr(pj, "\"create\":true") ? "create" : "set")
            : !strcmp(op, "add") || !strcmp(op, "replace") ? "import" : op;
        const char *av[6] = {cl->node, action, list, n, pj, ch};
        r = scrim__pq_query(tx->conn, "INSERT INTO scrim_audit (node, action, "
                            "list, count, detail, change) VALUES ($1, $2, $3, "
                            "$4::int8, $2 || ' ' || $5, $6::int8)", 6, av,
                            NULL, NULL, err, sizeof err);
        if (!r)
            goto fail;
        PQclear(r);
    }
    if (scrim__pq_run(tx->conn, "NOTIFY scrim_changes; COMMIT", err, sizeof err))
        goto fail;
    free(pj);
    uint64_t entries = tx->entries, bytes = tx->len;
    tx->conn = NULL;
    pthread_mutex_unlock(&cl->wlock);
    free(tx->buf);
    free(tx);
    /* the applier wakes on the NOTIFY; the reply waits for this node */
    double t1 = scrim__now();
    int late = wait_applied(cl, *change, CATCH_UP_WAIT);
    scrim__log_json(json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:f, s:f, s:b}",
                              "level", late ? "warning" : "info", "msg",
                              late ? "cluster: change written but not applied "
                              "here in time" : "cluster: change written",
                              "change", (json_int_t)*change, "list", list,
                              "op", op, "entries", (json_int_t)entries,
                              "bytes", (json_int_t)bytes, "write_seconds",
                              t1 - t0, "apply_seconds", scrim__now() - t1,
                              "applied", !late));
    return 0;
fail:
    free(pj);
    scrim__cluster_abort(tx);
    return unavailable(c, err);
}

const char *scrim__cluster_conninfo(scrim_server *srv)
{
    return srv->cluster ? srv->cluster->conninfo : NULL;
}

void scrim__cluster_on_stop(scrim_server *srv, void (*fn)(void *), void *arg)
{
    srv->cluster->on_stop = fn;
    srv->cluster->on_stop_arg = arg;
}

json_t *scrim__cluster_audit(scrim_server *srv, size_t limit, char *err,
                             size_t errlen)
{
    scrim__cluster *cl = srv->cluster;
    char lim[24];
    json_t *a = NULL;
    snprintf(lim, sizeof lim, "%llu", limit ? (unsigned long long)limit
                                            : (unsigned long long)INT64_MAX);
    const char *v[1] = {lim};
    pthread_mutex_lock(&cl->wlock);
    if (!cl->wconn && (cl->wconn = scrim__pq_connect(cl->conninfo, err, errlen)) &&
        ensure_schema(cl->wconn, err, errlen)) {
        PQfinish(cl->wconn);
        cl->wconn = NULL;
    }
    PGresult *r = cl->wconn ? scrim__pq_query(
        cl->wconn, "SELECT id, extract(epoch FROM time)::float8, action, list, "
        "count, detail, node, coalesce(change, 0) FROM (SELECT * FROM "
        "scrim_audit ORDER BY id DESC LIMIT $1::int8) l ORDER BY id", 1, v,
        NULL, NULL, err, errlen) : NULL;
    if (!r && cl->wconn) {   /* dropped: afresh next time */
        PQfinish(cl->wconn);
        cl->wconn = NULL;
    }
    pthread_mutex_unlock(&cl->wlock);
    if (!r)
        return NULL;
    a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        char *t[4];
        for (int k = 0; k < 4; k++)
            t[k] = strndup(PQgetvalue(r, i, 2 + (k < 2 ? k : k + 1)),
                           (size_t)PQgetlength(r, i, 2 + (k < 2 ? k : k + 1)));
        if (t[0] && t[1] && t[2] && t[3])
            json_array_append_new(a, json_pack(
                "{s:I, s:f, s:s, s:s, s:I, s:s, s:s, s:I}", "seq",
                (json_int_t)scrim__pq_u64(PQgetvalue(r, i, 0)), "time",
                bef64(PQgetvalue(r, i, 1)), "action", t[0], "list", t[1],
                "count", (json_int_t)scrim__pq_u64(PQgetvalue(r, i, 4)),
                "detail", t[2], "node", t[3], "change",
                (json_int_t)scrim__pq_u64(PQgetvalue(r, i, 7))));
        for (int k = 0; k < 4; k++)
            free(t[k]);
    }
    PQclear(r);
    return a;
}

/* ==== the false-match loop's changes (review/loop.c) ======================
 * A reviewer's reject suppresses an upload (an "add" to NAME.suppressed),
 * a confirm after a reject takes it out again ("remove"), and an entry
 * rejected too often is quarantined, restored or removed ("quarantine",
 * params {"action", "type", "key", "by", "why"}): changes of the log like
 * an admin's, applied by every node in order.  review/loop.c keeps the
 * rejects of each entry in PostgreSQL (scrim_loop_votes, one row per entry
 * and upload) and whether it is quarantined (scrim_loop_entries), written
 * in the change's transaction. */

static const char loop_schema_sql[] =
    "SELECT pg_advisory_xact_lock(126870958468353);"
    /* a log made before "quarantine" was an op: its check widened */
    "DO $$ DECLARE d text; BEGIN SELECT pg_get_constraintdef(oid) INTO d "
    "FROM pg_constraint WHERE conrelid = 'scrim_changes'::regclass AND "
    "conname = 'scrim_changes_op_check'; IF d IS NOT NULL AND d NOT LIKE "
    "'%''quarantine''%' THEN EXECUTE 'ALTER TABLE scrim_changes DROP "
    "CONSTRAINT scrim_changes_op_check, ADD CONSTRAINT scrim_changes_op_check "
    "' || replace(d, 'ARRAY[', 'ARRAY[''quarantine''::text, '); END IF; "
    "END $$;"
    "CREATE TABLE IF NOT EXISTS scrim_loop_votes ("
    " list text NOT NULL, type text NOT NULL, key text NOT NULL,"
    " upload text NOT NULL,"
    " decision text NOT NULL CHECK (decision IN ('confirm', 'reject')),"
    " node text NOT NULL DEFAULT '',"
    " time timestamptz NOT NULL DEFAULT clock_timestamp(),"
    " PRIMARY KEY (list, type, key, upload));"
    "CREATE TABLE IF NOT EXISTS scrim_loop_entries ("
    " list text NOT NULL, type text NOT NULL, key text NOT NULL,"
    " quarantined boolean NOT NULL DEFAULT false,"
    " removed boolean NOT NULL DEFAULT false,"
    " restored timestamptz NOT NULL DEFAULT '-infinity',"
    " change bigint,"
    " PRIMARY KEY (list, type, key));";

static int loop_schema(PGconn *conn, char *err, size_t errlen)
{
    return scrim__pq_run(conn, loop_schema_sql, err, errlen);
}

static int apply_quarantine(scrim__cluster *cl, uint64_t id, const char *list,
                            json_t *pj, char *err, size_t errlen)
{
    const char *action = json_string_value(json_object_get(pj, "action"));
    const char *type = json_string_value(json_object_get(pj, "type"));
    const char *key = json_string_value(json_object_get(pj, "key"));
    const char *by = json_string_value(json_object_get(pj, "by"));
    const char *why = json_string_value(json_object_get(pj, "why"));
    int t = type ? scrim_hash_type_parse(type) : SCRIM_EINVAL, rc, changed = 0;
    if (!action || t < 0 || !key) {
        scrim__seterr(err, errlen, "a quarantine change lacks its action, "
                      "type or key");
        return SCRIM_EINVAL;
    }
    if (!strcmp(action, "remove"))
        rc = scrim_store_quarantine_remove(cl->store, list, t, key, by, err,
                                           errlen);
    else if (!strcmp(action, "quarantine") || !strcmp(action, "restore"))
        rc = scrim_store_quarantine(cl->store, list, t, key,
                                    !strcmp(action, "quarantine"), by, why,
                                    &changed, err, errlen);
    else {
        scrim__seterr(err, errlen, "unknown quarantine action '%.40s'", action);
        return SCRIM_EINVAL;
    }
    /* not (or no longer) in its list here, or already so: nothing to do,
     * but the change is applied (its id recorded) */
    if (rc == SCRIM_ENOTFOUND)
        rc = 0;
    return rc ? rc : scrim_store_set_applied(cl->store, id, err, errlen);
}

int scrim__cluster_loop_begin(scrim_server *srv, PGconn **out, char *err,
                              size_t errlen)
{
    scrim__cluster *cl = srv->cluster;
    *out = NULL;
    if (!cl) {
        scrim__seterr(err, errlen, "not clustered");
        return SCRIM_EINVAL;
    }
    pthread_mutex_lock(&cl->wlock);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!cl->wconn) {
            if (!(cl->wconn = scrim__pq_connect(cl->conninfo, err, errlen)))
                break;
            if (ensure_schema(cl->wconn, err, errlen)) {
                PQfinish(cl->wconn);
                cl->wconn = NULL;
                break;
            }
        }
        /* the write lock: change ids commit in id order */
        if (!scrim__pq_run(cl->wconn, "BEGIN; SELECT pg_advisory_xact_lock("
                           "126870958468354)", err, errlen)) {
            *out = cl->wconn;
            return 0;
        }
        PQfinish(cl->wconn);   /* dropped (a restart): once more, afresh */
        cl->wconn = NULL;
    }
    pthread_mutex_unlock(&cl->wlock);
    return SCRIM_EIO;
}

int scrim__cluster_loop_append(scrim_server *srv, PGconn *conn,
                               const char *list, const char *op,
                               const char *action, json_t *params,
                               const scrim_entry *e, size_t n,
                               uint64_t *change, char *err, size_t errlen)
{
    scrim__cluster *cl = srv->cluster;
    scrim__cluster_tx tx = {.cl = cl};
    char nent[24], ch[24];
    int rc = SCRIM_EIO;
    for (size_t i = 0; i < n; i++)
        if (scrim__cluster_capture(&tx, &e[i])) {
            free(tx.buf);
            scrim__seterr(err, errlen, "out of memory");
            return SCRIM_ENOMEM;
        }
    char *pj = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    if (!pj) {
        free(tx.buf);
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    snprintf(nent, sizeof nent, "%zu", n);
    const char *v[6] = {list, op, pj, tx.buf ? (const char *)tx.buf : "",
                        nent, cl->node};
    int lens[6] = {0, 0, 0, (int)tx.len, 0, 0}, fmts[6] = {0, 0, 0, 1, 0, 0};
    PGresult *r = scrim__pq_query(conn, "INSERT INTO scrim_changes (list, op, "
                                  "params, payload, entries, node) VALUES ($1, "
                                  "$2, $3::jsonb, $4, $5::int8, $6) RETURNING "
                                  "id", 6, v, lens, fmts, err, errlen);
    if (r) {
        *change = scrim__pq_u64(PQgetvalue(r, 0, 0));
        PQclear(r);
        snprintf(ch, sizeof ch, "%llu", (unsigned long long)*change);
        const char *av[6] = {cl->node, action, list, nent, pj, ch};
        r = scrim__pq_query(conn, "INSERT INTO scrim_audit (node, action, "
                            "list, count, detail, change) VALUES ($1, $2, $3, "
                            "$4::int8, $2 || ' ' || $5, $6::int8)", 6, av,
                            NULL, NULL, err, errlen);
        rc = r ? 0 : SCRIM_EIO;
        PQclear(r);
    }
    free(pj);
    free(tx.buf);
    return rc;
}

int scrim__cluster_loop_end(scrim_server *srv, PGconn *conn, int commit,
                            uint64_t change, char *err, size_t errlen)
{
    scrim__cluster *cl = srv->cluster;
    char e2[256];
    int rc = commit ? scrim__pq_run(conn, "NOTIFY scrim_changes; COMMIT", err,
                                    errlen)
                    : scrim__pq_run(conn, "ROLLBACK", e2, sizeof e2);
    if (rc || PQtransactionStatus(conn) != PQTRANS_IDLE) {
        PQfinish(cl->wconn);
        cl->wconn = NULL;
    }
    pthread_mutex_unlock(&cl->wlock);
    if (!commit)
        return 0;
    if (rc)
        return SCRIM_EIO;
    /* answered once applied here, as an admin write */
    if (change && wait_applied(cl, change, CATCH_UP_WAIT))
        scrim__log_json(json_pack("{s:s, s:s, s:I}", "level", "warning", "msg",
                                  "cluster: a review change written but not "
                                  "applied here in time", "change",
                                  (json_int_t)change));
    return 0;
}
