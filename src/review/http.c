/* http.c - the review feature inside scrimd: a post-match hook that
 * stores a review record (with previews rendered from the upload, decoded
 * again only here, where a match needs them) for every match in a block list, the /v1/review endpoints, and the
 * /review page.  Reviewers authenticate with the admin token or the reviewer
 * token (--reviewer-token-file).  POST /v1/preview (route_preview) is here
 * too: the same previews of any upload, with the same tokens, stored
 * nowhere. */
#include "scrim.h"
#include "scrim/review.h"
#include "base/base.h"
#include "server/server.h"
#include "review/review.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct scrim_review_server {
    pthread_mutex_t lock;
    scrim_review *rv;          /* opened at attach (the store's side env) */
    scrim_review_opts opts;
    time_t last_purge;         /* expired records: purged at least this often */
    char off[400];             /* why records are off ("": they are on) */
    time_t last_try;           /* of opening them, while off */
    GHashTable *buckets;       /* peer -> rate_bucket (under lock) */
    scrim_counter *made, *repeats, *throttled, *suppressed, *quarantined;
    scrim__people *people;     /* reviewer accounts, exposure (people.c) */
    void *sync;                /* cluster mode: sync.c's, to wake it */
};

/* Review records one client may cause: a token bucket per peer (its uid on
 * the Unix socket, its address over TCP) holding a minute's worth, refilled
 * at --review-rate per minute. */
typedef struct rate_bucket {
    double tokens, last;
} rate_bucket;

#define MAX_BUCKETS 4096       /* peers tracked; full buckets are dropped first */

#define PURGE_EVERY 60         /* seconds */
#define RETRY_EVERY 60         /* seconds between tries while off */



/* ---- helpers -------------------------------------------------------------- */

/* The review handle, or NULL + message while records are off.  It is opened
 * at attach, i.e. at start-up, so that a database that cannot hold them (a
 * full disk: side.mdb or its lock file cannot be created) is found and
 * reported then; while off, a match tries again at most once a minute, so
 * records come back once space is freed. */
static scrim_review *review_get(scrim_review_server *rs, struct scrim_store *store,
                                char *err, size_t errlen)
{
    scrim_review *rv;
    if (!store) {
        scrim__seterr(err, errlen, "scrimd has no database open");
        return NULL;
    }
    pthread_mutex_lock(&rs->lock);
    if (!rs->rv && (!rs->off[0] || time(NULL) - rs->last_try >= RETRY_EVERY)) {
        MDB_env *env;
        rs->last_try = time(NULL);
        if (scrim_store_side_env(store, &env, rs->off, sizeof rs->off) ||
            scrim_review_open(env, &rs->opts, &rs->rv, rs->off, sizeof rs->off)) {
            if (!rs->off[0])
                snprintf(rs->off, sizeof rs->off, "cannot open them");
        } else {
            rs->off[0] = '\0';
        }
    }
    rv = rs->rv;
    if (!rv)
        scrim__seterr(err, errlen, "review records are off: %s", rs->off);
    /* Records are purged at every write; this catches the expired ones when
     * nothing new is written (reviewers still read), so no preview outlives
     * its retention by more than a minute of review traffic. */
    int purge = rv && time(NULL) - rs->last_purge >= PURGE_EVERY;
    if (purge)
        rs->last_purge = time(NULL);
    pthread_mutex_unlock(&rs->lock);
    if (purge) {
        char perr[256];
        scrim_review_purge(rv, NULL, perr, sizeof perr);
    }
    return rv;
}

/* /healthz: "review": {"records": "on"} or {"records": "off", "error"}. */
static json_t *review_health(void *arg, int *degraded)
{
    scrim_review_server *rs = arg;
    json_t *j;
    pthread_mutex_lock(&rs->lock);
    if (rs->rv) {
        j = json_pack("{s:s}", "records", "on");
    } else {
        /* /healthz is public: the file's name, not where it lives (the log
         * has the whole message) */
        const char *e = rs->off, *colon = strstr(e, ": ");
        const char *slash = colon ? memrchr(e, '/', (size_t)(colon - e)) : NULL;
        *degraded = 1;
        j = json_pack("{s:s, s:s}", "records", "off", "error", slash ? slash + 1 : e);
    }
    pthread_mutex_unlock(&rs->lock);
    return j;
}

/* The same for an endpoint: answers 503 when there is none. */
static scrim_review *review_of(scrim_call *c, scrim_review_server *rs)
{
    char err[256];
    scrim_review *rv = review_get(rs, c->store, err, sizeof err);
    if (!rv)
        scrim_call_error(c, 503, "review_unavailable", "review records: %s", err);
    return rv;
}

static int fail(scrim_call *c, int rc, const char *err)
{
    return scrim__call_fail(c, rc, "%s", err);
}

/* Allowed with the admin token, the reviewer token or a reviewer
 * account's token (people.c); fills *w.  The token files are read again
 * whenever they change (server/tokens.c), so a rotated token takes effect
 * at once; accounts are read on every request.  Returns 0, or answers
 * 401/403/404/503 and returns < 0. */
static int authorise(scrim_call *c, scrim_review_server *rs, scrim__who *w)
{
    char admin[256], reviewer[256], aerr[512] = "", rerr[512] = "";
    const scrim_settings *s = c->settings;
    scrim_server *srv = c->server;
    scrim__token_get(&srv->admin_tf, s->admin_token_file, admin, sizeof admin,
                     aerr, sizeof aerr);
    scrim__token_get(&srv->reviewer_tf, s->reviewer_token_file, reviewer,
                     sizeof reviewer, rerr, sizeof rerr);
    memset(w, 0, sizeof *w);
    const char *h = scrim_call_header(c, "Authorization");
    if (!admin[0] && !reviewer[0]) {
        if (aerr[0] || rerr[0])
            return scrim_call_error(c, 503, "review_unavailable", "%s",
                                    rerr[0] ? rerr : aerr);
        /* without token files, reviewer accounts alone may review */
        int rc = h && !strncasecmp(h, "Bearer ", 7)
                     ? scrim__people_auth(c, rs->people, h + 7 + strspn(h + 7, " "),
                                          1, w)
                     : 1;
        if (rc != 1)
            return rc;
        return scrim_call_error(c, 404, "review_disabled",
                                "the review API is off (start scrimd with "
                                "--reviewer-token-file or --admin-token-file, "
                                "or add reviewers: scrim reviewer add)");
    }
    if (!h || strncasecmp(h, "Bearer ", 7))
        return scrim_call_error(c, 401, "unauthorized",
                                "this endpoint needs 'Authorization: Bearer "
                                "<reviewer or admin token>'");
    h += 7;
    while (*h == ' ')
        h++;
    /* Compare with both so the time taken does not tell which one is set. */
    int is_admin = admin[0] && scrim__token_equal(h, strlen(h), admin);
    int is_reviewer = reviewer[0] && scrim__token_equal(h, strlen(h), reviewer);
    memset(admin, 0, sizeof admin);
    memset(reviewer, 0, sizeof reviewer);
    if (!is_admin && !is_reviewer)
        return scrim__people_auth(c, rs->people, h, 0, w);
    snprintf(w->name, sizeof w->name, "%s", is_admin ? "admin" : "reviewer");
    w->admin = is_admin;
    return 0;
}

static int reply_json(scrim_call *c, json_t *j)
{
    c->status = 200;
    c->json = j;
    return 0;
}

/* ---- endpoints -------------------------------------------------------------- */

/* GET /v1/review?list=&order=oldest|newest&cursor=&since=&limit= : the
 * pending queue (scrim_review_queue), with its length in "pending". */
static int route_list(scrim_call *c, void *arg)
{
    char err[256];
    json_t *out;
    scrim__who w;
    if (authorise(c, arg, &w))
        return -1;
    scrim_review *rv = review_of(c, arg);
    if (!rv)
        return -1;
    const char *ls = scrim_call_arg(c, "limit");
    long limit = 50;
    if (ls) {
        char *end;
        errno = 0;
        limit = strtol(ls, &end, 10);
        if (!*ls || *end || errno || limit < 1 || limit > SCRIM_REVIEW_LIST_MAX)
            return scrim_call_error(c, 400, "bad_request",
                                    "?limit= must be an integer from 1 to %d, "
                                    "got '%s'", SCRIM_REVIEW_LIST_MAX, ls);
    }
    const char *order = scrim_call_arg(c, "order");
    if (order && strcmp(order, "oldest") && strcmp(order, "newest"))
        return scrim_call_error(c, 400, "bad_request", "?order= must be "
                                "'oldest' or 'newest', got '%s'", order);
    scrim_review_query q = {
        .since = scrim_call_arg(c, "since"), .cursor = scrim_call_arg(c, "cursor"),
        .list = scrim_call_arg(c, "list"), .limit = (size_t)limit,
        .newest = order && !strcmp(order, "newest")};
    int rc = scrim_review_queue(rv, &q, &out, err, sizeof err);
    return rc ? fail(c, rc, err) : reply_json(c, out);
}

/* GET /v1/review/lists: per-list levels; PUT /v1/review/lists/NAME with
 * {"level": "strong" | "none" | "default" | ...}: admin only. */
static int route_lists(scrim_call *c, scrim_review *rv, const char *name,
                       const char *who)
{
    char err[512];
    json_t *out;
    int rc;
    if (c->method == SCRIM_GET && !*name) {
        rc = scrim_review_list_levels(rv, &out, err, sizeof err);
        return rc ? fail(c, rc, err) : reply_json(c, out);
    }
    if (c->method != SCRIM_PUT || !*name)
        return scrim_call_error(c, 405, "method_not_allowed",
                                "use GET /v1/review/lists or PUT "
                                "/v1/review/lists/NAME");
    if (strcmp(who, "admin"))
        return scrim_call_error(c, 403, "forbidden",
                                "setting a list's preview level needs the admin token");
    json_error_t je;
    json_t *body = json_loadb((const char *)c->body, c->body_len, 0, &je);
    const char *level = json_string_value(json_object_get(body, "level"));
    if (!level) {
        json_decref(body);
        return scrim_call_error(c, 400, "bad_request",
                                "expected a JSON body {\"level\": \"light\" | "
                                "\"standard\" | \"strong\" | \"none\" | "
                                "\"default\" | \"detail=N,...\"}");
    }
    rc = scrim_review_list_level_set(rv, name, level, err, sizeof err);
    json_decref(body);
    if (rc)
        return fail(c, rc, err);
    rc = scrim_review_list_levels(rv, &out, err, sizeof err);
    return rc ? fail(c, rc, err) : reply_json(c, out);
}

/* A decision stored queues a "review.decision" webhook event (nothing
 * without --webhook-url), before the answer: the record's id, the
 * decision, its note and who made it, the upload's content id and digests
 * and the matches.  A failure is logged with the request; the decision
 * stands. */
static void emit_decision(scrim_call *c, json_t *rec)
{
    char err[256] = "";
    if (!c->server->webhooks)
        return;
    json_t *d = json_object_get(rec, "decision");
    json_t *h = json_object_get(rec, "hashes");
    json_t *ev = json_pack("{s:s, s:I, s:O, s:O, s:O, s:O, s:O}", "route",
                           c->path, "request_id", (json_int_t)c->id,
                           "review_id", json_object_get(rec, "id"),
                           "decision", json_object_get(d, "decision"),
                           "note", json_object_get(d, "note"),
                           "by", json_object_get(d, "by"),
                           "matches", json_object_get(rec, "matches"));
    if (ev && json_object_get(rec, "content_id"))
        json_object_set(ev, "content_id", json_object_get(rec, "content_id"));
    if (ev && json_is_object(h))
        json_object_set_new(ev, "upload", json_pack(
            "{s:O?, s:O?, s:O?}", "kind", json_object_get(rec, "kind"),
            "md5", json_object_get(h, "md5"),
            "sha256", json_object_get(h, "sha256")));
    if (!ev)
        snprintf(err, sizeof err, "the review record lacks fields");
    if (!ev || scrim__webhook_emit(c->server, "review.decision", ev, err,
                                   sizeof err)) {
        if (!c->hook_failures++)
            snprintf(c->hook_error, sizeof c->hook_error, "webhook: %s", err);
    }
    json_decref(ev);
}

/* POST /v1/review/ID/decision {"decision": "confirm"|"reject", "note",
 * "suppress": true|false (a reject: default true)}; the false-match loop
 * (feedback.c) runs on the server's store. */
static int route_decision(scrim_call *c, scrim_review_server *rs,
                          scrim_review *rv, const char *id, const char *who)
{
    char err[512];
    json_t *out = NULL;
    json_error_t je;
    json_t *body = json_loadb((const char *)c->body, c->body_len, 0, &je);
    const char *decision = json_string_value(json_object_get(body, "decision"));
    json_t *note = json_object_get(body, "note");
    json_t *sup = json_object_get(body, "suppress");
    if (!json_is_object(body) || !decision || (note && !json_is_string(note)) ||
        (sup && !json_is_boolean(sup))) {
        json_decref(body);
        return scrim_call_error(c, 400, "bad_request",
                                "expected a JSON body {\"decision\": \"confirm\" "
                                "| \"reject\", \"note\": \"...\" (optional), "
                                "\"suppress\": true | false (optional)}");
    }
    scrim_review_decision d = {
        .decision = decision, .note = json_string_value(note), .by = who,
        .suppress = sup ? json_is_true(sup) : -1,
        .quarantine_after = c->settings->quarantine_after};
    /* In cluster mode the lists change through the cluster's log
     * (loop.c), and rejects are counted in PostgreSQL. */
    review__loop_sink sink = {0};
    int clustered = c->server->cluster != NULL;
    if (clustered)
        scrim__review_loop_sink(c->server, c->store, &sink);
    int rc = review__decide_loop(rv, c->store, clustered ? &sink : NULL, id, &d,
                                 &out, err, sizeof err);
    if (!rc && clustered && sink.down)   /* done again once PostgreSQL is back */
        json_array_append_new(
            json_object_get(json_object_get(out, "feedback"), "errors"),
            json_string(scrim__review_loop_defer(id, &d, out)
                            ? "the cluster's PostgreSQL is unreachable and the "
                              "decision could not be kept for later: decide "
                              "again once it is back"
                            : "the cluster's PostgreSQL is unreachable: the "
                              "suppression and the count are made once it is "
                              "back"));
    json_decref(body);   /* d's strings with it */
    if (rc)
        return fail(c, rc, err);
    emit_decision(c, out);
    json_t *fb = json_object_get(out, "feedback");
    scrim_counter_add(rs->suppressed, json_array_size(json_object_get(fb, "suppressed")));
    scrim_counter_add(rs->quarantined,
                      json_array_size(json_object_get(fb, "quarantined")));
    json_t *e;
    size_t i;
    json_array_foreach(json_object_get(fb, "errors"), i, e)
        scrim__log_json(json_pack("{s:s, s:s, s:s, s:O}", "level", "warning",
                                  "msg", "review decision: false-match loop",
                                  "record", id, "error", e));
    json_array_foreach(json_object_get(fb, "quarantined"), i, e)
        scrim__log_json(json_pack("{s:s, s:s, s:s, s:O}", "level", "notice",
                                  "msg", "entry quarantined", "by", who,
                                  "entry", e));
    return reply_json(c, out);
}

/* GET /v1/review/stats[?list=]: per-entry confirmed / rejected counts. */
static int route_stats(scrim_call *c, scrim_review *rv)
{
    char err[512];
    json_t *out;
    if (c->method != SCRIM_GET)
        return scrim_call_error(c, 405, "method_not_allowed", "use GET");
    const char *list = scrim_call_arg(c, "list");
    if (list && !scrim_list_name_valid(list))
        return scrim_call_error(c, 400, "bad_request", "?list=: bad list name "
                                "'%.70s' (1-64 of A-Z a-z 0-9 . _ -)", list);
    int rc = scrim_review_stats(rv, list, &out, err, sizeof err);
    return rc ? fail(c, rc, err) : reply_json(c, out);
}

/* GET /v1/review/quarantine: the quarantined entries; POST with {"action":
 * "restore" | "remove", "list", "type", "hash" (a video: "id")}: an
 * admin's decision, in one call. */
static int route_quarantine(scrim_call *c, scrim_review *rv, const char *who,
                            int admin)
{
    char err[512];
    json_t *out = NULL;
    int rc;
    if (!c->store)
        return scrim_call_error(c, 503, "review_unavailable",
                                "scrimd has no database open");
    if (c->method == SCRIM_GET) {
        json_t *arr;
        rc = scrim_store_quarantined(c->store, &arr, err, sizeof err);
        return rc ? fail(c, rc, err)
                  : reply_json(c, json_pack("{s:o}", "entries", arr));
    }
    if (c->method != SCRIM_POST)
        return scrim_call_error(c, 405, "method_not_allowed",
                                "use GET or POST /v1/review/quarantine");
    if (!admin)
        return scrim_call_error(c, 403, "forbidden", "restoring or removing a "
                                "quarantined entry needs the admin token");
    json_error_t je;
    json_t *body = json_loadb((const char *)c->body, c->body_len, 0, &je);
    const char *action = json_string_value(json_object_get(body, "action"));
    const char *list = json_string_value(json_object_get(body, "list"));
    const char *type = json_string_value(json_object_get(body, "type"));
    const char *key = json_string_value(json_object_get(body, "hash"));
    if (!key)
        key = json_string_value(json_object_get(body, "id"));
    if (!action || (strcmp(action, "restore") && strcmp(action, "remove")) ||
        !list || !type || !key) {
        json_decref(body);
        return scrim_call_error(c, 400, "bad_request",
                                "expected a JSON body {\"action\": \"restore\" | "
                                "\"remove\", \"list\": \"...\", \"type\": \"pdq\" "
                                "| \"md5\" | \"sha256\" | \"video\", \"hash\" "
                                "(a video: \"id\"): \"...\"}");
    }
    /* cluster mode: a change of the cluster's log (loop.c) */
    review__loop_sink sink = {0};
    int clustered = c->server->cluster != NULL;
    if (clustered)
        scrim__review_loop_sink(c->server, c->store, &sink);
    rc = review__entry_action(rv, c->store, clustered ? &sink : NULL, list,
                              type, key, who, strcmp(action, "restore") != 0,
                              &out, err, sizeof err);
    json_decref(body);
    if (rc == SCRIM__SHARED_DOWN)
        return scrim_call_error(c, 503, "cluster_unavailable", "the cluster's "
                                "PostgreSQL cannot take the change now (retry "
                                "later): %s", err);
    /* no webhook event: restoring or removing an entry is no decision on a
     * record (the audit log has it) */
    return rc ? fail(c, rc, err) : reply_json(c, out);
}

/* Everything under /v1/review/: ID, ID/preview.jpg, ID/decision, lists. */
static int route_record(scrim_call *c, void *arg)
{
    char err[256], id[SCRIM_REVIEW_ID_LEN + 1];
    scrim_review_server *rs = arg;
    scrim__who w;
    if (authorise(c, rs, &w))
        return -1;
    const char *who = w.name;   /* the decision's "by" */
    scrim_review *rv = review_of(c, arg);
    if (!rv)
        return -1;
    const char *t = c->tail;
    int mine = scrim__people_route(c, rs->people, rv, &w, t);
    if (mine != 1)
        return mine;
    if (!strcmp(t, "lists") || !strncmp(t, "lists/", 6))
        return route_lists(c, rv, t[5] ? t + 6 : "", who);
    if (!strcmp(t, "stats"))
        return route_stats(c, rv);
    if (!strcmp(t, "quarantine"))
        return route_quarantine(c, rv, who, w.admin);
    size_t n = strcspn(t, "/");
    const char *rest = t[n] ? t + n + 1 : "";
    if (n != SCRIM_REVIEW_ID_LEN)
        return scrim_call_error(c, 404, "not_found",
                                "no such review endpoint (expected "
                                "/v1/review/ID with a %d-hex-digit id)",
                                SCRIM_REVIEW_ID_LEN);
    memcpy(id, t, n);
    id[n] = '\0';
    if (!strcmp(rest, "decision")) {
        if (c->method != SCRIM_POST)
            return scrim_call_error(c, 405, "method_not_allowed",
                                    "use POST /v1/review/ID/decision");
        if (scrim__people_may_decide(c, rs->people, &w))
            return -1;
        int rc = route_decision(c, rs, rv, id, who);
        if (!rc)
            scrim__people_decided(c, rs->people, &w, id,
                                  json_string_value(json_object_get(
                                      json_object_get(c->json, "decision"),
                                      "decision")));
        scrim__review_sync_kick(rs->sync);
        return rc;
    }
    if (c->method != SCRIM_GET)
        return scrim_call_error(c, 405, "method_not_allowed", "use GET");
    if (!*rest) {
        json_t *out;
        int rc = scrim_review_get(rv, id, &out, err, sizeof err);
        return rc ? fail(c, rc, err) : reply_json(c, out);
    }
    if (!strcmp(rest, "preview.jpg")) {
        const char *lv = scrim_call_arg(c, "level");
        int lighter = 0;
        if (lv && !strcmp(lv, "light"))
            lighter = 1;
        else if (lv && strcmp(lv, "default"))
            return scrim_call_error(c, 400, "bad_request",
                                    "?level= must be 'default' or 'light', got '%s'",
                                    lv);
        return scrim__people_preview(c, rs->people, rv, &w, id, lighter);
    }
    return scrim_call_error(c, 404, "not_found", "no such review endpoint");
}

/* POST /v1/preview[?level=L][&lighter=1]: the blurred preview of any
 * upload, matched or not (a platform's own review tools show every queued
 * item blurred by default).  An image's preview or a video's contact sheet,
 * made in memory within the call's decode limits and deadline; nothing is
 * stored: no review record, nothing on disk.  Review or admin token: it
 * decodes arbitrary media for a UI. */
static int route_preview(scrim_call *c, void *arg)
{
    char err[512], level[128], num[32];
    scrim_preview_opts o;
    scrim_preview pv = {0};
    scrim_image img = {0};
    scrim_preview_sheet_info info;
    int rc;
    scrim__who w;

    if (authorise(c, arg, &w))
        return -1;
    const char *lv = scrim_call_arg(c, "level");
    int named = scrim_preview_level_parse(lv ? lv : "standard", &o, err, sizeof err);
    if (named < 0)
        return scrim_call_error(c, 400, "bad_request", "?level=: %s", err);
    if (named == SCRIM_PREVIEW_NONE)
        return scrim_call_error(c, 400, "bad_request", "?level=none makes no "
                                "preview: give light, standard, strong or "
                                "detail=N[,size=N][,blur=X][,quality=N]");
    const char *li = scrim_call_arg(c, "lighter");
    if (li && strcmp(li, "0") && strcmp(li, "1"))
        return scrim_call_error(c, 400, "bad_request", "?lighter= must be 0 or "
                                "1, got '%s'", li);
    if (li && !strcmp(li, "1"))
        scrim_preview_opts_lighter(&o, &o);
    if (scrim_preview_opts_check(&o, err, sizeof err))
        return scrim_call_error(c, 400, "bad_request", "?level=: %s", err);
    if (!c->body_len)
        return scrim_call_error(c, 400, "bad_request", "empty body: POST the "
                                "media's bytes");
    int kind = scrim_media_sniff(c->body, c->body_len);
    if (kind == SCRIM_MEDIA_IMAGE) {
        /* within the call's limits: --max-pixels, --max-decode-memory, the
         * memory budget, the deadline */
        scrim_decode_opts d = {.max_pixels = c->settings->max_pixels};
        scrim_call_decode_opts(c, &d);
        if ((rc = scrim_image_load_buffer(c->body, c->body_len, &d, &img, err,
                                          sizeof err)) ||
            (rc = scrim_preview_render(&img, &o, &pv, err, sizeof err))) {
            scrim_image_free(&img);
            return fail(c, rc, err);
        }
        scrim_image_free(&img);
    } else if (kind == SCRIM_MEDIA_VIDEO) {
        /* evenly spaced frames (no matched times), until the call's deadline */
        if ((rc = scrim_preview_video_sheet_until(c->body, c->body_len, NULL, 0,
                                                  &o, c->deadline, &pv, NULL,
                                                  &info, err, sizeof err)))
            return fail(c, rc, err);
    } else {
        return scrim_call_error(c, 415, "unsupported", "not an image or video "
                                "scrim decodes (the type is sniffed from the "
                                "bytes)");
    }
    scrim_preview_opts_format(&o, level, sizeof level);
    scrim_call_reply_header(c, "X-Preview-Kind",
                            kind == SCRIM_MEDIA_IMAGE ? "image" : "video");
    snprintf(num, sizeof num, "%d", pv.width);
    scrim_call_reply_header(c, "X-Preview-Width", num);
    snprintf(num, sizeof num, "%d", pv.height);
    scrim_call_reply_header(c, "X-Preview-Height", num);
    scrim_call_reply_header(c, "X-Preview-Level", level);
    c->status = 200;
    c->raw = pv.data;      /* handed over: the call frees it */
    c->raw_len = pv.len;
    snprintf(c->content_type, sizeof c->content_type, "image/jpeg");
    return 0;
}

/* /v1/reviewers[/NAME[/disable|/enable]]: accounts (admin; leads read). */
static int route_reviewers(scrim_call *c, void *arg)
{
    scrim_review_server *rs = arg;
    scrim__who w;
    if (authorise(c, rs, &w))
        return -1;
    return scrim__people_accounts(c, rs->people, &w);
}

/* GET /review: the page (static; everything it shows is fetched with the
 * token the reviewer enters). */
static int route_page(scrim_call *c, void *arg)
{
    size_t n = scrim__review_page_len;
    if (!(c->raw = malloc(n)))
        return scrim_call_error(c, 500, "no_memory", "out of memory");
    memcpy(c->raw, scrim__review_page, n);
    c->raw_len = n;
    c->status = 200;
    snprintf(c->content_type, sizeof c->content_type, "text/html; charset=utf-8");
    return 0;
}

/* ---- the post-match hook -------------------------------------------------------- */

/* The query times a video matched at: "timestamps" of image matches found
 * in frames, and the start and middle of each of "ranges" of video matches. */
static size_t matched_times(json_t *matches, double *t, size_t max)
{
    size_t n = 0, i, j;
    json_t *m, *v;
    json_array_foreach(matches, i, m) {
        json_array_foreach(json_object_get(m, "timestamps"), j, v)
            if (n < max && json_is_number(v))
                t[n++] = json_number_value(v);
        json_array_foreach(json_object_get(m, "ranges"), j, v) {
            double a = json_number_value(json_array_get(v, 0));
            double b = json_number_value(json_array_get(v, 1));
            if (n < max)
                t[n++] = a;
            if (n < max && b > a)
                t[n++] = (a + b) / 2;
        }
    }
    return n;
}

static gboolean bucket_full(gpointer key, gpointer value, gpointer now)
{
    rate_bucket *b = value;
    return *(double *)now - b->last >= 60;
}

/* Take one record from the peer's bucket: 1, or 0 when it is empty. */
static int rate_take(scrim_review_server *rs, const char *peer, int per_minute)
{
    if (per_minute <= 0)
        return 1;
    double now = scrim_now(), cap = per_minute;
    int ok;
    pthread_mutex_lock(&rs->lock);
    rate_bucket *b = g_hash_table_lookup(rs->buckets, peer);
    if (!b) {
        if (g_hash_table_size(rs->buckets) >= MAX_BUCKETS)
            g_hash_table_foreach_remove(rs->buckets, bucket_full, &now);
        if (g_hash_table_size(rs->buckets) >= MAX_BUCKETS)
            g_hash_table_remove_all(rs->buckets); /* a flood of peers: start over */
        b = g_new(rate_bucket, 1);
        b->tokens = cap;
        b->last = now;
        g_hash_table_insert(rs->buckets, g_strdup(peer), b);
    }
    b->tokens += (now - b->last) * cap / 60;
    if (b->tokens > cap)
        b->tokens = cap;
    b->last = now;
    if ((ok = b->tokens >= 1))
        b->tokens -= 1;
    pthread_mutex_unlock(&rs->lock);
    return ok;
}

/* "review": {"id", "preview", "seen"} of a record that already existed. */
static json_t *repeat_json(scrim_review *rv, const char *id)
{
    json_t *rec = NULL, *out;
    char err[256];
    scrim_review_get(rv, id, &rec, err, sizeof err);
    const char *url = json_string_value(
        json_object_get(json_object_get(rec, "preview"), "url"));
    out = json_pack("{s:s, s:o, s:b, s:I}", "id", id, "preview",
                    url ? json_string(url) : json_null(), "repeat", 1, "seen",
                    (json_int_t)json_integer_value(json_object_get(rec, "seen")));
    json_decref(rec);
    return out;
}

static int hook(scrim_call *c, const scrim_upload *up, scrim_match_result *res,
                void *arg, char *err, size_t errlen)
{
    scrim_review_server *rs = arg;
    scrim_preview pv = {0}, pl = {0};
    scrim_image img = {0};
    scrim_preview_opts o, lo;
    scrim_preview_sheet_info sheet, *sheetp = NULL;
    const char **lists = NULL;
    json_t *hashes = NULL;
    char id[SCRIM_REVIEW_ID_LEN + 1], level[128];
    int rc = 0;

    if (!res->matched || !json_array_size(res->matches) || !c->store)
        return 0;
    /* While records are off, every match says so in its log line (a hook
     * error) and counts in scrim_hook_failures_total; it is answered. */
    scrim_review *rv = review_get(rs, c->store, err, errlen);
    if (!rv)
        return SCRIM_EDB;
    if (!res->extra)
        res->extra = json_object();
    if (up->kind == SCRIM_MEDIA_IMAGE)
        hashes = scrim_image_hashes_json(&up->image, 0);
    else
        hashes = json_pack("{s:s, s:s, s:s}", "kind", up->handler && up->handler->kind
                                                      ? up->handler->kind : "video",
                           "md5", up->md5, "sha256", up->sha256);
    /* The same upload matching the same entries within the retention: the
     * repeat is counted on its record (no previews are made, no record is
     * added), so that one file posted again and again is one item for a
     * reviewer, not a flood. */
    rc = scrim_review_repeat(rv, hashes, res->matches, id, err, errlen);
    if (rc == SCRIM_OK) {
        scrim_counter_add(rs->repeats, 1);
        json_object_set_new(res->extra, "review", repeat_json(rv, id));
        goto done;
    }
    if (rc != SCRIM_ENOTFOUND)
        goto done;
    rc = 0;
    /* Records one client may cause (--review-rate): over it, the match is
     * answered and counted, without a record. */
    if (!rate_take(rs, c->peer, c->settings->review_rate)) {
        scrim_counter_add(rs->throttled, 1);
        json_object_set_new(res->extra, "review", json_pack(
            "{s:n, s:n, s:s}", "id", "preview", "skipped", "this client is over "
            "its rate of review records (--review-rate); the match is answered "
            "without one"));
        goto done;
    }
    size_t n = json_array_size(res->matches);
    if (!(lists = calloc(n, sizeof *lists))) {
        scrim__seterr(err, errlen, "out of memory");
        rc = SCRIM_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        lists[i] = json_string_value(json_object_get(json_array_get(res->matches, i),
                                                     "list"));
    int lv = scrim_review_level_for(rv, lists, n, &o, err, errlen);
    if (lv < 0) {
        rc = lv;
        goto done;
    }
    if (lv != SCRIM_PREVIEW_NONE && up->kind == SCRIM_MEDIA_IMAGE) {
        /* Hashing kept no pixels (most uploads match nothing): decode the
         * image again, within the size it was already accepted at. */
        scrim_decode_opts d = {
            .max_pixels = (uint64_t)up->image.width * (uint64_t)up->image.height};
        scrim_call_decode_opts(c, &d); /* its memory and deadline count too */
        if ((rc = scrim_image_load_buffer(up->bytes, up->len, &d, &img, err,
                                          errlen)))
            goto done;
        scrim_preview_opts_lighter(&o, &lo);
        if ((rc = scrim_preview_render(&img, &o, &pv, err, errlen)) ||
            (rc = scrim_preview_render(&img, &lo, &pl, err, errlen)))
            goto done;
        scrim_preview_opts_format(&o, level, sizeof level);
    } else if (lv != SCRIM_PREVIEW_NONE && up->kind == SCRIM_MEDIA_VIDEO) {
        /* A contact sheet of the matched times (the video is decoded again,
         * from memory, only at those frames). */
        double times[64];
        size_t nt = matched_times(res->matches, times, 64);
        if ((rc = scrim_preview_video_sheet(up->bytes, up->len, times, nt, &o, &pv,
                                            &pl, &sheet, err, errlen)))
            goto done;
        sheetp = &sheet;
        scrim_preview_opts_format(&o, level, sizeof level);
    } else {
        snprintf(level, sizeof level, "none");
    }
    scrim_review_input in = {
        .kind = up->kind == SCRIM_MEDIA_IMAGE ? "image" : "video",
        .size = up->len,
        .width = up->kind == SCRIM_MEDIA_IMAGE ? up->image.width : 0,
        .height = up->kind == SCRIM_MEDIA_IMAGE ? up->image.height : 0,
        .hashes = hashes, .matches = res->matches, .level = level,
        .preview = pv.data ? &pv : NULL, .lighter = pl.data ? &pl : NULL,
        .sheet = sheetp, .content_id = c->content_id};
    rc = scrim_review_add(rv, &in, id, err, errlen);
    if (rc == SCRIM_EEXIST) { /* the same upload, meanwhile */
        rc = 0;
        scrim_counter_add(rs->repeats, 1);
        json_object_set_new(res->extra, "review", repeat_json(rv, id));
        goto done;
    }
    if (rc)
        goto done;
    scrim__review_sync_kick(rs->sync);
    scrim_counter_add(rs->made, 1);
    char url[128];
    snprintf(url, sizeof url, "/v1/review/%s/preview.jpg", id);
    json_object_set_new(res->extra, "review",
                        json_pack("{s:s, s:o, s:b, s:i}", "id", id, "preview",
                                  pv.data ? json_string(url) : json_null(),
                                  "repeat", 0, "seen", 1));
done:
    json_decref(hashes);
    scrim_image_free(&img);
    scrim_preview_free(&pv);
    scrim_preview_free(&pl);
    free(lists);
    return rc;
}

/* ---- attaching ------------------------------------------------------------------ */

int scrim_review_server_attach(scrim_server *srv, const scrim_review_opts *o,
                               scrim_review_server **out, char *err,
                               size_t errlen)
{
    scrim_review_server *rs = calloc(1, sizeof *rs);
    *out = NULL;
    if (!rs) {
        scrim__seterr(err, errlen, "out of memory");
        return SCRIM_ENOMEM;
    }
    pthread_mutex_init(&rs->lock, NULL);
    if (o)
        rs->opts = *o;
    rs->buckets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    rs->people = scrim__people_new(srv);
    rs->made = scrim_server_counter(srv, "review_records_total",
                                    "Review records made");
    rs->repeats = scrim_server_counter(srv, "review_repeats_total", "Matches "
                                       "of an upload whose review record for "
                                       "the same entries existed: counted on "
                                       "it, no new record");
    rs->throttled = scrim_server_counter(srv, "review_throttled_total",
                                         "Matches answered without a review "
                                         "record: the client was over "
                                         "--review-rate");
    rs->suppressed = scrim_server_counter(srv, "review_suppressed_total",
                                          "Uploads put into a NAME.suppressed "
                                          "allow list by a reviewer's reject");
    rs->quarantined = scrim_server_counter(srv, "review_quarantined_total",
                                           "List entries quarantined after "
                                           "--quarantine-after rejected matches");
    if (scrim_server_route(srv, "review", SCRIM_GET, "/v1/review",
                           SCRIM_ROUTE_WORKER, route_list, rs) ||
        scrim_server_route(srv, "review", SCRIM_GET | SCRIM_POST | SCRIM_PUT,
                           "/v1/review/", SCRIM_ROUTE_PREFIX | SCRIM_ROUTE_WORKER,
                           route_record, rs) ||
        scrim_server_route(srv, "review_page", SCRIM_GET, "/review", 0,
                           route_page, rs) ||
        scrim_server_route(srv, "preview", SCRIM_POST, "/v1/preview",
                           SCRIM_ROUTE_WORKER, route_preview, rs) ||
        scrim_server_route(srv, "reviewers", SCRIM_GET | SCRIM_POST,
                           "/v1/reviewers", SCRIM_ROUTE_WORKER, route_reviewers,
                           rs) ||
        scrim_server_route(srv, "reviewers", SCRIM_GET | SCRIM_POST | SCRIM_DELETE,
                           "/v1/reviewers/", SCRIM_ROUTE_PREFIX | SCRIM_ROUTE_WORKER,
                           route_reviewers, rs) ||
        !rs->people ||
        scrim_server_match_hook(srv, hook, rs) ||
        scrim_server_health(srv, "review", review_health, rs)) {
        scrim__seterr(err, errlen, "cannot register the review endpoints");
        scrim__people_free(rs->people);
        pthread_mutex_destroy(&rs->lock);
        g_hash_table_destroy(rs->buckets);
        free(rs);
        return SCRIM_EINVAL;
    }
    /* Opened now, not at the first match: a database that cannot hold
     * records is reported at start-up, and scrimd serves without them. */
    struct scrim_store *store = scrim_server_store(srv);
    char why[sizeof rs->off + 32];
    scrim_review *rv = store ? review_get(rs, store, why, sizeof why) : NULL;
    if (store && !rv)
        scrim__log_json(json_pack("{s:s, s:s, s:s}", "level", "warning", "msg",
                                  "review records are off", "error", rs->off));
    /* cluster mode: one queue for every node (sync.c) */
    if (rv && scrim__review_sync_start(srv, rv, &rs->sync, why, sizeof why))
        scrim__log_json(json_pack("{s:s, s:s, s:s}", "level", "error", "msg",
                                  "review records stay on this node: cannot "
                                  "start their sync", "error", why));
    *out = rs;
    return SCRIM_OK;
}

void scrim_review_server_free(scrim_review_server *rs)
{
    if (!rs)
        return;
    if (rs->rv)
        scrim_review_close(rs->rv);
    scrim__people_free(rs->people);
    pthread_mutex_destroy(&rs->lock);
    g_hash_table_destroy(rs->buckets);
    free(rs);
}
