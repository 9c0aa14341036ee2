/* people.c - reviewers inside scrimd: accounts resolved from their Bearer
 * token on every request, what each one is shown (previews, reveals,
 * seconds revealed, items decided) counted per day, the daily caps, the
 * break after a stretch of reviewing, per-list content warnings, each
 * reviewer's own preview level and no-pictures mode, and the log of who
 * saw and decided what.  Its routes are reached through http.c, which
 * authorises every request first. */
#include "scrim.h"
#include "scrim/review.h"
#include "scrim/reviewers.h"
#include "base/base.h"
#include "server/server.h"
#include "review/review.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_OPEN 8            /* reveals one reviewer may have open at once */
#define MAX_PEOPLE 4096       /* tracked in memory (break state, metrics) */
#define REASON_MAX 500

/* One reviewer's state in this process: the break clock, open reveals,
 * and the counts /metrics shows (since start). */
typedef struct person {
    double stretch_start, last_active;   /* wall-clock seconds; 0 = never */
    struct { char id[SCRIM_REVIEW_ID_LEN + 1]; double start; } open[MAX_OPEN];
    uint64_t previews, reveals, items, refused, dismissed;
    double seconds;
} person;

struct scrim__people {
    pthread_mutex_t lock;
    scrim_reviewers *db;        /* opened at first use (store's side env) */
    GHashTable *by_name;        /* name -> person (under lock) */
    person total;               /* every reviewer together, for /metrics */
    scrim__shared *sh;          /* --cluster: accounts, exposure and the
                                 * log in PostgreSQL (shared.c); else NULL */
};

static double wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* The accounts database, or NULL with the call answered 503; made if
 * missing, but for create == 0: then NULL and *none set (nothing answered,
 * nothing written) while there is none. */
static scrim_reviewers *db_get(scrim_call *c, scrim__people *p, int create,
                               int *none)
{
    char err[512] = "";
    scrim_reviewers *db;
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    if (!p->db && c->store) {
        MDB_env *env;
        if (!(rc = scrim_store_side_env(c->store, &env, err, sizeof err)))
            rc = create ? scrim_reviewers_open(env, NULL, NULL, &p->db, err, sizeof err)
                        : scrim_reviewers_open_existing(env, NULL, NULL, &p->db,
                                                        err, sizeof err);
    }
    db = p->db;
    pthread_mutex_unlock(&p->lock);
    if (!db && rc == SCRIM_ENOTFOUND && !create) {
        *none = 1;
        return NULL;
    }
    if (!db)
        scrim_call_error(c, 503, "review_unavailable", "reviewer accounts: %s",
                         err[0] ? err : "scrimd has no database open");
    return db;
}

static scrim_reviewers *db_of(scrim_call *c, scrim__people *p)
{
    return db_get(c, p, 1, NULL);
}

/* The same, answering nothing (after a decision that was recorded). */
static scrim_reviewers *db_quiet(scrim_call *c, scrim__people *p)
{
    char err[512];
    pthread_mutex_lock(&p->lock);
    if (!p->db && c->store) {
        MDB_env *env;
        if (!scrim_store_side_env(c->store, &env, err, sizeof err))
            scrim_reviewers_open(env, NULL, NULL, &p->db, err, sizeof err);
    }
    scrim_reviewers *db = p->db;
    pthread_mutex_unlock(&p->lock);
    return db;
}

/* name's person (made if new); under lock. */
static person *person_of(scrim__people *p, const char *name)
{
    person *x = g_hash_table_lookup(p->by_name, name);
    if (!x) {
        if (g_hash_table_size(p->by_name) >= MAX_PEOPLE)
            g_hash_table_remove_all(p->by_name);
        x = g_new0(person, 1);
        g_hash_table_insert(p->by_name, g_strdup(name), x);
    }
    return x;
}

/* Logged here, and clustered in PostgreSQL too (shared.c). */
static void log_event(scrim__people *p, scrim_reviewers *db, json_t *ev)
{
    char err[256];
    if (ev && p->sh)
        scrim__shared_log(p->sh, ev);
    if (ev && db && scrim_review_log_add(db, ev, err, sizeof err))
        scrim__log_msg("warning", "review log: %s", err);
    json_decref(ev);
}

static int fail(scrim_call *c, int rc, const char *err)
{
    if (rc == SCRIM__SHARED_DOWN)
        return scrim_call_error(c, 503, "cluster_unavailable", "reviewer "
                                "accounts and their data are kept in the "
                                "cluster's PostgreSQL, which cannot be reached "
                                "now (retry later): %s", err);
    return scrim__call_fail(c, rc, "%s", err);
}

/* ---- where reviewer data lives: this node's LMDB, or (--cluster) the
 * cluster's PostgreSQL (shared.c) ------------------------------------------ */

static int x_count(scrim__people *p, scrim_reviewers *db, const char *name,
                   const scrim_exposure *d, const scrim_exposure *caps,
                   const char **which, scrim_exposure *today, char *err,
                   size_t errlen)
{
    const char *wh = NULL;
    if (!p->sh)
        return scrim_exposure_count(db, name, d, caps, which, today, err, errlen);
    int rc = scrim__shared_count(p->sh, name, d, caps, &wh, today, err, errlen);
    if (which)
        *which = wh;
    return rc;
}

static int x_exposure(scrim__people *p, scrim_reviewers *db, const char *name,
                      json_t **out, char *err, size_t errlen)
{
    if (!p->sh)
        return scrim_exposure_get(db, name, out, err, errlen);
    int rc = scrim__shared_exposure(p->sh, name, out, err, errlen);
    if (rc == SCRIM__SHARED_DOWN) {
        /* today as counted here against PostgreSQL's last answer; the
         * week and the days need PostgreSQL */
        scrim_exposure zero = {0}, t;
        if ((rc = x_count(p, db, name, &zero, NULL, NULL, &t, err, errlen)))
            return rc;
        *out = json_pack("{s:{s:I, s:I, s:f, s:I, s:I}, s:n, s:[]}", "today",
                         "previews", (json_int_t)t.previews, "reveals",
                         (json_int_t)t.reveals, "seconds", t.seconds, "items",
                         (json_int_t)t.items, "refused", (json_int_t)t.refused,
                         "week", "days");
    }
    return rc;
}

static int x_get(scrim__people *p, scrim_reviewers *db, const char *name,
                 json_t **out, char *err, size_t errlen)
{
    return p->sh ? scrim__shared_get(p->sh, name, out, err, errlen)
                 : scrim_reviewer_get(db, name, out, err, errlen);
}

static int reply(scrim_call *c, json_t *j)
{
    if (!j)
        return scrim_call_error(c, 500, "no_memory", "out of memory");
    c->status = 200;
    c->json = j;
    return 0;
}

static json_t *body_json(scrim_call *c)
{
    json_error_t je;
    json_t *b = json_loadb((const char *)c->body, c->body_len, 0, &je);
    if (b && !json_is_object(b)) {
        json_decref(b);
        b = NULL;
    }
    return b;
}

/* ---- authorisation ------------------------------------------------------- */

int scrim__people_auth(scrim_call *c, scrim__people *p, const char *token,
                       int quiet, scrim__who *w)
{
    char err[256];
    json_t *a = NULL;
    int none = 0;
    memset(w, 0, sizeof *w);
    int rc;
    if (p->sh) {
        /* clustered: PostgreSQL's accounts, read on every request */
        rc = scrim__shared_by_token(p->sh, token, &a, err, sizeof err);
    } else {
        /* a wrong token writes nothing, even where no account was ever made */
        scrim_reviewers *db = db_get(c, p, 0, &none);
        if (none)
            return quiet ? 1 : scrim_call_error(c, 403, "forbidden", "wrong token");
        if (!db)
            return -1;
        rc = scrim_reviewer_by_token(db, token, &a, err, sizeof err);
    }
    if (rc == SCRIM_ENOTFOUND)
        return quiet ? 1 : scrim_call_error(c, 403, "forbidden", "wrong token");
    if (rc)
        return fail(c, rc, err);
    const char *name = json_string_value(json_object_get(a, "name"));
    if (json_is_true(json_object_get(a, "disabled"))) {
        scrim_call_error(c, 403, "reviewer_disabled", "reviewer '%s' is "
                         "disabled: ask an admin", name ? name : "");
        json_decref(a);
        return -1;
    }
    snprintf(w->name, sizeof w->name, "%s", name ? name : "");
    w->named = 1;
    const char *role = json_string_value(json_object_get(a, "role"));
    w->lead = role && !strcmp(role, "lead");
    w->no_pictures = json_is_true(json_object_get(a, "no_pictures"));
    const char *lv = json_string_value(json_object_get(a, "level"));
    snprintf(w->level, sizeof w->level, "%s", lv ? lv : "");
    json_decref(a);
    return 0;
}

/* ---- breaks -------------------------------------------------------------- */

/* Count a reviewing request (a preview served, a decision) at `now` on the
 * break clock: a pause of
 * --review-break or more starts a new stretch.  Under lock. */
static void active(person *x, double now, double brk)
{
    if (!x->last_active || now - x->last_active >= brk)
        x->stretch_start = now;
    x->last_active = now;
}

/* {"due", "in", "stretch", "after", "length"} at `now`.  Under lock. */
static json_t *break_json(const person *x, double now, double after, double brk)
{
    int on = x->last_active && now - x->last_active < brk;
    double stretch = on ? now - x->stretch_start : 0;
    double in = on ? x->stretch_start + after - now : after;
    return json_pack("{s:b, s:f, s:f, s:f, s:f}", "due", on && stretch >= after,
                     "in", in > 0 ? in : 0, "stretch", stretch, "after", after,
                     "length", brk);
}

static void note_activity(scrim__people *p, const scrim_call *c, const scrim__who *w)
{
    char err[256];
    double now = wall(), clock[2];
    /* clustered: the cluster's clock (any node's activity), copied here
     * for when PostgreSQL is unreachable; then this node's */
    int rc = p->sh ? scrim__shared_active(p->sh, w->name, now,
                                          c->settings->review_break, clock,
                                          err, sizeof err)
                   : -1;
    pthread_mutex_lock(&p->lock);
    person *x = person_of(p, w->name);
    if (!rc) {
        x->stretch_start = clock[0];
        x->last_active = clock[1];
    } else {
        active(x, now, c->settings->review_break);
    }
    pthread_mutex_unlock(&p->lock);
}

/* The break clock as the cluster has it (copied into w's person), or this
 * node's; under nothing (takes the lock). */
static json_t *break_now(scrim__people *p, const scrim_settings *s,
                         const scrim__who *w)
{
    char err[256];
    double clock[2];
    int rc = p->sh ? scrim__shared_break(p->sh, w->name, clock, err, sizeof err)
                   : -1;
    pthread_mutex_lock(&p->lock);
    person *x = person_of(p, w->name);
    if (!rc) {
        x->stretch_start = clock[0];
        x->last_active = clock[1];
    }
    json_t *brk = break_json(x, wall(), s->review_break_after, s->review_break);
    pthread_mutex_unlock(&p->lock);
    return brk;
}

/* ---- counting --------------------------------------------------------------- */

/* Count delta for w; caps unless the admin.  0, or the call answered 429
 * naming the cap and < 0 (the refusal logged). */
static int count(scrim_call *c, scrim__people *p, scrim_reviewers *db,
                 const scrim__who *w, const scrim_exposure *d)
{
    char err[256];
    const char *which = NULL;
    scrim_exposure caps = {
        .reveals = w->admin ? 0 : (uint64_t)c->settings->review_max_reveals,
        .items = w->admin ? 0 : (uint64_t)c->settings->review_max_items};
    int rc = x_count(p, db, w->name, d, &caps, &which, NULL, err, sizeof err);
    pthread_mutex_lock(&p->lock);
    person *x = person_of(p, w->name);
    person *t[2] = {x, &p->total};
    for (int i = 0; i < 2; i++) {
        if (rc == SCRIM_EBUSY) {
            t[i]->refused++;
        } else if (!rc) {
            t[i]->previews += d->previews;
            t[i]->reveals += d->reveals;
            t[i]->items += d->items;
            t[i]->seconds += d->seconds;
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (rc == SCRIM_EBUSY) {
        int rev = !strcmp(which, "reveals");
        int cap = rev ? c->settings->review_max_reveals : c->settings->review_max_items;
        log_event(p, db, json_pack("{s:s, s:s, s:s}", "who", w->name, "event",
                                "cap_refused", "cap", which));
        return scrim_call_error(
            c, 429, rev ? "reveal_cap" : "item_cap",
            "daily cap reached: you have %s %d %s today (--review-max-%s %d); "
            "%s refused until 00:00 UTC", rev ? "revealed" : "decided", cap,
            rev ? "previews" : "items", which, cap,
            rev ? "reveals are" : "previews, reveals and decisions are");
    }
    if (rc)
        return fail(c, rc, err);
    return 0;
}

/* ---- previews ----------------------------------------------------------------- */

/* True when a is more protective than b: fewer blocks, or as many and a
 * stronger blur. */
static int stronger(const scrim_preview_opts *a, const scrim_preview_opts *b)
{
    return a->detail < b->detail || (a->detail == b->detail && a->blur > b->blur);
}

/* The stored default preview rendered again at o (which is stronger than
 * its level: blocks of its blocks), at its own size. */
static int rerender(scrim_call *c, const uint8_t *jpg, size_t len,
                    scrim_preview_opts o, scrim_preview *out, char *err,
                    size_t errlen)
{
    scrim_image img = {0};
    scrim_decode_opts d = {.max_pixels = (uint64_t)SCRIM_PREVIEW_MAX_SIZE *
                                         SCRIM_PREVIEW_MAX_SIZE};
    scrim_call_decode_opts(c, &d);
    int rc = scrim_image_load_buffer(jpg, len, &d, &img, err, errlen);
    if (rc)
        return rc;
    o.size = img.width > img.height ? img.width : img.height;
    if (o.size < 16)
        o.size = 16;
    if (o.detail > o.size / 2)
        o.detail = o.size / 2;
    if (o.detail < SCRIM_PREVIEW_MIN_DETAIL)
        o.detail = SCRIM_PREVIEW_MIN_DETAIL;
    rc = scrim_preview_render(&img, &o, out, err, errlen);
    scrim_image_free(&img);
    return rc;
}

int scrim__people_preview(scrim_call *c, scrim__people *p, scrim_review *rv,
                          const scrim__who *w, const char *id, int lighter)
{
    char err[512], level[128];
    json_t *rec = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    scrim_preview pv = {0};
    int rc;
    scrim_preview_opts mine, list;
    int my_lv = w->level[0] ? scrim_preview_level_parse(w->level, &mine, err,
                                                          sizeof err)
                            : -1;
    if (w->no_pictures || my_lv == SCRIM_PREVIEW_NONE)
        return scrim_call_error(c, 403, "no_pictures", "no-pictures mode is on "
                                "for '%s': previews are not served (PUT "
                                "/v1/review/me {\"no_pictures\": false, "
                                "\"level\": \"default\"} to see them)", w->name);
    scrim_reviewers *db = db_of(c, p);
    if (!db)
        return -1;
    if ((rc = scrim_review_get(rv, id, &rec, err, sizeof err)))
        return fail(c, rc, err);
    const char *rl = json_string_value(json_object_get(rec, "level"));
    int list_lv = scrim_preview_level_parse(rl ? rl : "standard", &list, err,
                                            sizeof err);
    json_decref(rec);
    /* The reviewer's level counts only where it protects more. */
    int own = my_lv > 0 && list_lv > 0 && stronger(&mine, &list);
    int which = lighter;
    scrim_preview_opts want = mine;
    if (own && lighter) {
        scrim_preview_opts_lighter(&mine, &want);
        if (!stronger(&want, &list)) {
            own = 0;      /* the list's own default, the lightest allowed */
            which = 0;
        }
    }
    if ((rc = scrim_review_preview(rv, id, which, &data, &len, err, sizeof err)))
        return fail(c, rc, err);
    if (own) {
        rc = rerender(c, data, len, want, &pv, err, sizeof err);
        free(data);
        if (rc)
            return fail(c, rc, err);
        data = pv.data;   /* handed over */
        len = pv.len;
        scrim_preview_opts_format(&want, level, sizeof level);
    } else if (which) {
        scrim_preview_opts lo;
        scrim_preview_opts_lighter(&list, &lo);
        scrim_preview_opts_format(&lo, level, sizeof level);
    } else {
        scrim_preview_opts_format(&list, level, sizeof level);
    }
    scrim_exposure d = {.previews = !lighter, .reveals = !!lighter};
    if (count(c, p, db, w, &d)) {
        free(data);
        return -1;
    }
    if (lighter) {
        /* the reveal is open until the page reports its end: the
         * cluster's (any node may hear of its end), or this node's while
         * PostgreSQL is unreachable */
        double now = wall();
        char oerr[256];
        int shared = p->sh && !scrim__shared_reveal_open(p->sh, w->name, id, now,
                                                         MAX_OPEN, oerr,
                                                         sizeof oerr);
        pthread_mutex_lock(&p->lock);
        person *x = person_of(p, w->name);
        int k = shared ? MAX_OPEN : -1;
        for (int i = 0; i < MAX_OPEN && k < 0; i++)   /* this record's, still open */
            if (!strcmp(x->open[i].id, id))
                k = i;
        for (int i = 0; i < MAX_OPEN && k < 0; i++)   /* a free slot */
            if (!x->open[i].id[0])
                k = i;
        if (k < 0) {                                  /* the oldest goes */
            k = 0;
            for (int i = 1; i < MAX_OPEN; i++)
                if (x->open[i].start < x->open[k].start)
                    k = i;
            x->open[k].id[0] = '\0';
        }
        if (k < MAX_OPEN && !x->open[k].id[0]) {   /* an open reveal keeps its start */
            snprintf(x->open[k].id, sizeof x->open[k].id, "%s", id);
            x->open[k].start = now;
        }
        pthread_mutex_unlock(&p->lock);
        log_event(p, db, json_pack("{s:s, s:s, s:s, s:s}", "who", w->name, "event",
                                "reveal", "id", id, "level", level));
    }
    note_activity(p, c, w);
    scrim_call_reply_header(c, "X-Preview-Level", level);
    c->status = 200;
    c->raw = data;
    c->raw_len = len;
    snprintf(c->content_type, sizeof c->content_type, "image/jpeg");
    return 0;
}

/* POST /v1/review/ID/revealed {"seconds": X}: the page's reveal of ID
 * ended; X is counted, but never more than the time since the reveal was
 * served. */
static int route_revealed(scrim_call *c, scrim__people *p, scrim_reviewers *db,
                          const scrim__who *w, const char *id)
{
    json_t *b = body_json(c);
    json_t *s = json_object_get(b, "seconds");
    double claimed = json_number_value(s);
    if (!json_is_number(s) || !(claimed >= 0 && claimed < 1e6)) {
        json_decref(b);
        return scrim_call_error(c, 400, "bad_request", "expected a JSON body "
                                "{\"seconds\": N} (0 or more): how long the "
                                "reveal was shown");
    }
    json_decref(b);
    double now = wall(), elapsed = -1, start;
    char err[256];
    /* clustered: opened on any node (this node's own: opened while
     * PostgreSQL was unreachable) */
    int found = p->sh && !scrim__shared_reveal_close(p->sh, w->name, id,
                                                     &start, err, sizeof err);
    if (found)   /* another node's clock may be a little ahead */
        elapsed = now > start ? now - start : 0;
    pthread_mutex_lock(&p->lock);
    person *x = person_of(p, w->name);
    for (int i = 0; i < MAX_OPEN && !found; i++)
        if (x->open[i].id[0] && !strcmp(x->open[i].id, id)) {
            elapsed = now - x->open[i].start;
            x->open[i].id[0] = '\0';
            x->open[i].start = 0;
            found = 1;
        }
    pthread_mutex_unlock(&p->lock);
    if (!found)
        return scrim_call_error(c, 409, "no_open_reveal", "no reveal of %s is "
                                "open for '%s' (each reveal is reported once)",
                                id, w->name);
    double secs = claimed < elapsed ? claimed : elapsed;
    secs = floor(secs * 1000 + 0.5) / 1000;
    scrim_exposure d = {.seconds = secs};
    int rc = x_count(p, db, w->name, &d, NULL, NULL, NULL, err, sizeof err);
    if (rc)
        return fail(c, rc, err);
    pthread_mutex_lock(&p->lock);
    x = person_of(p, w->name);
    x->seconds += secs;
    p->total.seconds += secs;
    pthread_mutex_unlock(&p->lock);
    log_event(p, db, json_pack("{s:s, s:s, s:s, s:f, s:f}", "who", w->name, "event",
                            "reveal_end", "id", id, "seconds", secs, "claimed",
                            claimed));
    return reply(c, json_pack("{s:f, s:f}", "seconds", secs, "claimed", claimed));
}

/* ---- decisions ----------------------------------------------------------------- */

int scrim__people_may_decide(scrim_call *c, scrim__people *p, const scrim__who *w)
{
    char err[256];
    scrim_exposure zero = {0}, today;
    int cap = c->settings->review_max_items;
    if (w->admin || !cap)
        return 0;
    scrim_reviewers *db = db_of(c, p);
    if (!db)
        return -1;
    if (x_count(p, db, w->name, &zero, NULL, NULL, &today, err, sizeof err))
        return fail(c, SCRIM_EDB, err);
    if (today.items < (uint64_t)cap)
        return 0;
    scrim_exposure one = {.items = 1};
    return count(c, p, db, w, &one);   /* refused, counted, logged */
}

void scrim__people_decided(scrim_call *c, scrim__people *p, const scrim__who *w,
                           const char *id, const char *decision)
{
    char err[256];
    scrim_reviewers *db = db_quiet(c, p);
    if (!db) {
        scrim__log_msg("warning", "review exposure: the reviewer tables cannot "
                       "be opened: a decision of '%s' is not counted", w->name);
        return;
    }
    scrim_exposure d = {.items = 1};
    if (x_count(p, db, w->name, &d, NULL, NULL, NULL, err, sizeof err))
        scrim__log_msg("warning", "review exposure: %s", err);
    pthread_mutex_lock(&p->lock);
    person_of(p, w->name)->items++;
    p->total.items++;
    pthread_mutex_unlock(&p->lock);
    log_event(p, db, json_pack("{s:s, s:s, s:s, s:s}", "who", w->name, "event",
                            "decision", "id", id, "decision", decision));
    note_activity(p, c, w);
}

/* ---- /v1/review/me ---------------------------------------------------------------- */

static json_t *me_json(scrim_call *c, scrim__people *p, scrim_reviewers *db,
                       const scrim__who *w, char *err, size_t errlen)
{
    json_t *exp = NULL;
    if (x_exposure(p, db, w->name, &exp, err, errlen))
        return NULL;
    const scrim_settings *s = c->settings;
    json_t *today = json_object_get(exp, "today");
    json_int_t rev = json_integer_value(json_object_get(today, "reveals"));
    json_int_t items = json_integer_value(json_object_get(today, "items"));
    json_t *caps = json_pack("{s:i, s:i}", "reveals", w->admin ? 0 : s->review_max_reveals,
                             "items", w->admin ? 0 : s->review_max_items);
    if (!w->admin && s->review_max_reveals)
        json_object_set_new(caps, "reveals_left",
                            json_integer(rev < s->review_max_reveals
                                             ? s->review_max_reveals - rev : 0));
    if (!w->admin && s->review_max_items)
        json_object_set_new(caps, "items_left",
                            json_integer(items < s->review_max_items
                                             ? s->review_max_items - items : 0));
    json_t *brk = break_now(p, s, w);
    return json_pack("{s:s, s:s, s:b, s:b, s:o, s:b, s:o, s:o, s:o}", "name", w->name,
                     "role", w->admin ? "admin" : w->lead ? "lead" : "reviewer",
                     "anonymous", !w->named, "admin", w->admin, "level",
                     w->level[0] ? json_string(w->level) : json_null(),
                     "no_pictures", w->no_pictures, "exposure", exp, "caps", caps,
                     "break", brk);
}

static int route_me(scrim_call *c, scrim__people *p, scrim_reviewers *db,
                    const scrim__who *w, const char *rest)
{
    char err[512];
    if (!strcmp(rest, "break")) {
        /* POST /v1/review/me/break {"reason"}: the break is dismissed. */
        if (c->method != SCRIM_POST)
            return scrim_call_error(c, 405, "method_not_allowed",
                                    "use POST /v1/review/me/break");
        json_t *b = body_json(c);
        const char *reason = json_string_value(json_object_get(b, "reason"));
        size_t n = reason ? strlen(reason) : 0;
        while (n && reason[n - 1] == ' ')
            n--;
        if (!n || strlen(reason) > REASON_MAX) {
            json_decref(b);
            return scrim_call_error(c, 400, "bad_request", "expected a JSON body "
                                    "{\"reason\": \"...\"}: why the break is "
                                    "skipped (1 to %d bytes; it is logged)",
                                    REASON_MAX);
        }
        json_t *was = break_now(p, c->settings, w);
        double now = wall();
        if (p->sh)   /* the cluster's clock too (unreachable: this node's) */
            scrim__shared_break_reset(p->sh, w->name, now, err, sizeof err);
        pthread_mutex_lock(&p->lock);
        person *x = person_of(p, w->name);
        x->stretch_start = now;   /* a new stretch from now */
        x->last_active = now;
        x->dismissed++;
        p->total.dismissed++;
        pthread_mutex_unlock(&p->lock);
        json_t *ev = json_pack("{s:s, s:s, s:s, s:O, s:O}", "who", w->name, "event",
                               "break_dismissed", "reason", reason, "stretch",
                               json_object_get(was, "stretch"), "due",
                               json_object_get(was, "due"));
        json_decref(was);
        json_decref(b);
        if (!ev)
            return scrim_call_error(c, 400, "bad_request", "reason is not valid UTF-8");
        if (p->sh)
            scrim__shared_log(p->sh, ev);
        int rc = scrim_review_log_add(db, ev, err, sizeof err);
        json_decref(ev);
        if (rc)
            return fail(c, rc, err);
        json_t *me = me_json(c, p, db, w, err, sizeof err);
        return me ? reply(c, me) : fail(c, SCRIM_EDB, err);
    }
    if (*rest)
        return scrim_call_error(c, 404, "not_found", "no such endpoint (GET/PUT "
                                "/v1/review/me, POST /v1/review/me/break)");
    if (c->method == SCRIM_PUT) {
        /* {"level": L | "default", "no_pictures": bool}: the reviewer's own */
        if (!w->named)
            return scrim_call_error(c, 403, "forbidden", "settings are kept per "
                                    "reviewer account: sign in with your own "
                                    "token (scrim reviewer add)");
        json_t *b = body_json(c);
        json_t *lv = json_object_get(b, "level"), *np = json_object_get(b, "no_pictures");
        if (!b || (lv && !json_is_string(lv)) || (np && !json_is_boolean(np)) ||
            (!lv && !np)) {
            json_decref(b);
            return scrim_call_error(c, 400, "bad_request", "expected a JSON body "
                                    "{\"level\": \"strong\" | \"default\" | ..., "
                                    "\"no_pictures\": true | false}");
        }
        int rc = p->sh ? scrim__shared_prefs(p->sh, w->name, json_string_value(lv),
                                             np ? json_is_true(np) : -1, err,
                                             sizeof err)
                       : scrim_reviewer_prefs(db, w->name, json_string_value(lv),
                                              np ? json_is_true(np) : -1, NULL,
                                              err, sizeof err);
        json_decref(b);
        if (rc)
            return fail(c, rc, err);
        /* the answer with the new settings */
        json_t *a = NULL;
        scrim__who now = *w;
        if (!x_get(p, db, w->name, &a, err, sizeof err)) {
            const char *l = json_string_value(json_object_get(a, "level"));
            snprintf(now.level, sizeof now.level, "%s", l ? l : "");
            now.no_pictures = json_is_true(json_object_get(a, "no_pictures"));
            json_decref(a);
        }
        json_t *me = me_json(c, p, db, &now, err, sizeof err);
        return me ? reply(c, me) : fail(c, SCRIM_EDB, err);
    }
    if (c->method != SCRIM_GET)
        return scrim_call_error(c, 405, "method_not_allowed", "use GET or PUT");
    json_t *me = me_json(c, p, db, w, err, sizeof err);
    return me ? reply(c, me) : fail(c, SCRIM_EDB, err);
}

/* ---- warnings, log ----------------------------------------------------------------- */

/* The content warnings: clustered, PostgreSQL's (as last read while it is
 * unreachable, else this node's). */
static int x_warnings(scrim__people *p, scrim_reviewers *db, json_t **out,
                      char *err, size_t errlen)
{
    int rc = p->sh ? scrim__shared_warnings(p->sh, out, err, errlen)
                   : SCRIM__SHARED_DOWN;
    return rc == SCRIM__SHARED_DOWN ? scrim_review_warnings(db, out, err, errlen)
                                    : rc;
}

static int route_warnings(scrim_call *c, scrim__people *p, scrim_reviewers *db,
                          const scrim__who *w, const char *name)
{
    char err[512];
    json_t *out;
    int rc;
    if (c->method == SCRIM_GET && !*name) {
        rc = x_warnings(p, db, &out, err, sizeof err);
        return rc ? fail(c, rc, err) : reply(c, out);
    }
    if (c->method != SCRIM_PUT || !*name)
        return scrim_call_error(c, 405, "method_not_allowed", "use GET "
                                "/v1/review/warnings or PUT /v1/review/warnings/NAME");
    if (!w->admin)
        return scrim_call_error(c, 403, "forbidden", "setting a list's content "
                                "warning needs the admin token");
    json_t *b = body_json(c);
    json_t *t = json_object_get(b, "warning");
    if (!t || !(json_is_string(t) || json_is_null(t))) {
        json_decref(b);
        return scrim_call_error(c, 400, "bad_request", "expected a JSON body "
                                "{\"warning\": \"graphic violence\"} (\"\" or "
                                "null removes it)");
    }
    rc = p->sh ? scrim__shared_warning_set(p->sh, name, json_string_value(t),
                                           err, sizeof err)
               : scrim_review_warning_set(db, name, json_string_value(t), err,
                                          sizeof err);
    json_decref(b);
    if (rc)
        return fail(c, rc, err);
    rc = x_warnings(p, db, &out, err, sizeof err);
    return rc ? fail(c, rc, err) : reply(c, out);
}

static int route_log(scrim_call *c, scrim__people *p, scrim_reviewers *db,
                     const scrim__who *w)
{
    char err[256];
    json_t *out;
    if (c->method != SCRIM_GET)
        return scrim_call_error(c, 405, "method_not_allowed", "use GET");
    const char *who = scrim_call_arg(c, "reviewer");
    if (!w->admin && !w->lead && (!who || strcmp(who, w->name)))
        return scrim_call_error(c, 403, "forbidden", "the log of others needs "
                                "the admin token or a lead's (a reviewer may "
                                "read ?reviewer=%s)", w->name);
    const char *ss = scrim_call_arg(c, "since"), *ls = scrim_call_arg(c, "limit");
    char *end;
    double since = 0;
    long limit = 100;
    if (ss) {
        errno = 0;
        since = strtod(ss, &end);
        if (!*ss || *end || errno || !(since >= 0 && since < 1e11))
            return scrim_call_error(c, 400, "bad_request", "?since= must be unix "
                                    "seconds, got '%.40s'", ss);
    }
    if (ls) {
        errno = 0;
        limit = strtol(ls, &end, 10);
        if (!*ls || *end || errno || limit < 1 || limit > 1000)
            return scrim_call_error(c, 400, "bad_request", "?limit= must be an "
                                    "integer from 1 to 1000, got '%.40s'", ls);
    }
    /* clustered: every node's log; without PostgreSQL, this node's */
    int rc = p->sh ? scrim__shared_log_list(p->sh, who, since, (size_t)limit,
                                            &out, err, sizeof err)
                   : SCRIM__SHARED_DOWN;
    if (rc == SCRIM__SHARED_DOWN) {
        rc = scrim_review_log_list(db, who, since, (size_t)limit, &out, err,
                                   sizeof err);
        if (!rc && p->sh)
            scrim_call_reply_header(c, "X-Scrim-Log", "this-node");
    }
    return rc ? fail(c, rc, err) : reply(c, out);
}

int scrim__people_route(scrim_call *c, scrim__people *p, scrim_review *rv,
                        const scrim__who *w, const char *t)
{
    (void)rv;
    size_t n = strcspn(t, "/");
    const char *rest = t[n] ? t + n + 1 : "";
    int me = n == 2 && !strncmp(t, "me", 2);
    int warn = n == 8 && !strncmp(t, "warnings", 8);
    int log = n == 3 && !strncmp(t, "log", 3) && !*rest;
    int revealed = n == SCRIM_REVIEW_ID_LEN && !strcmp(rest, "revealed");
    if (!me && !warn && !log && !revealed)
        return 1;
    if (warn && strchr(rest, '/'))
        return scrim_call_error(c, 404, "not_found", "no such endpoint (GET "
                                "/v1/review/warnings, PUT /v1/review/warnings/NAME)");
    scrim_reviewers *db = db_of(c, p);
    if (!db)
        return -1;
    if (me)
        return route_me(c, p, db, w, rest);
    if (warn)
        return route_warnings(c, p, db, w, rest);
    if (log)
        return route_log(c, p, db, w);
    if (c->method != SCRIM_POST)
        return scrim_call_error(c, 405, "method_not_allowed",
                                "use POST /v1/review/ID/revealed");
    char id[SCRIM_REVIEW_ID_LEN + 1];
    memcpy(id, t, n);
    id[n] = '\0';
    return route_revealed(c, p, db, w, id);
}

/* ---- /v1/reviewers ---------------------------------------------------------------- */

/* An account with its exposure (today, week). */
static json_t *with_exposure(scrim__people *p, scrim_reviewers *db, json_t *a,
                             int days)
{
    json_t *e = NULL;
    char err[256];
    const char *name = json_string_value(json_object_get(a, "name"));
    if (name && !x_exposure(p, db, name, &e, err, sizeof err)) {
        if (!days)
            json_object_del(e, "days");
        json_object_set_new(a, "exposure", e);
    }
    return a;
}

int scrim__people_accounts(scrim_call *c, scrim__people *p, const scrim__who *w)
{
    char err[512];
    json_t *out = NULL;
    int rc;
    const char *t = c->tail ? c->tail : "";
    if (*t == '/')
        t++;
    if (!w->admin && !(w->lead && c->method == SCRIM_GET))
        return scrim_call_error(c, 403, "forbidden", "reviewer accounts need the "
                                "admin token (a lead's token may read them)");
    scrim_reviewers *db = db_of(c, p);
    if (!db)
        return -1;
    char name[80];
    size_t n = strcspn(t, "/");
    const char *rest = t[n] ? t + n + 1 : "";
    if (n >= sizeof name)
        return scrim_call_error(c, 404, "not_found", "no such reviewer");
    memcpy(name, t, n);
    name[n] = '\0';
    if (!*name) {
        if (c->method == SCRIM_GET) {
            if ((rc = p->sh ? scrim__shared_list(p->sh, &out, err, sizeof err)
                            : scrim_reviewer_list(db, &out, err, sizeof err)))
                return fail(c, rc, err);
            size_t i;
            json_t *a;
            json_array_foreach(out, i, a)
                with_exposure(p, db, a, 0);
            json_t *shared = json_object();
            static const char *const anon[] = {"reviewer", "admin"};
            for (int k = 0; k < 2; k++) {
                json_t *e = NULL;
                if (!x_exposure(p, db, anon[k], &e, err, sizeof err)) {
                    json_object_del(e, "days");
                    json_object_set_new(shared, anon[k], e);
                }
            }
            return reply(c, json_pack("{s:o, s:o}", "reviewers", out,
                                      "shared_tokens", shared));
        }
        if (c->method != SCRIM_POST)
            return scrim_call_error(c, 405, "method_not_allowed", "use GET or "
                                    "POST /v1/reviewers");
        json_t *b = body_json(c);
        json_t *nm = json_object_get(b, "name"), *role = json_object_get(b, "role");
        if (!json_is_string(nm) || (role && !json_is_string(role))) {
            json_decref(b);
            return scrim_call_error(c, 400, "bad_request", "expected a JSON body "
                                    "{\"name\": \"NAME\", \"role\": \"reviewer\" "
                                    "| \"lead\" (optional)}");
        }
        char token[SCRIM_REVIEWER_TOKEN_LEN + 1];
        rc = p->sh ? scrim__shared_add(p->sh, json_string_value(nm),
                                       json_string_value(role), token, &out,
                                       err, sizeof err)
                   : scrim_reviewer_add(db, json_string_value(nm),
                                        json_string_value(role), token, &out,
                                        err, sizeof err);
        if (!rc) {
            log_event(p, db, json_pack("{s:s, s:s, s:s, s:s}", "who", w->name,
                                    "event", "reviewer_added", "reviewer",
                                    json_string_value(nm), "role",
                                    json_string_value(json_object_get(out, "role"))));
            json_object_set_new(out, "token", json_string(token));
            memset(token, 0, sizeof token);
        }
        json_decref(b);
        if (rc)
            return fail(c, rc, err);
        c->status = 201;
        c->json = out;
        return 0;
    }
    if (!*rest && c->method == SCRIM_GET) {
        if ((rc = x_get(p, db, name, &out, err, sizeof err)))
            return fail(c, rc, err);
        return reply(c, with_exposure(p, db, out, 1));
    }
    if (!*rest && c->method == SCRIM_DELETE) {
        if ((rc = p->sh ? scrim__shared_remove(p->sh, name, err, sizeof err)
                        : scrim_reviewer_remove(db, name, err, sizeof err)))
            return fail(c, rc, err);
        log_event(p, db, json_pack("{s:s, s:s, s:s}", "who", w->name, "event",
                                "reviewer_removed", "reviewer", name));
        return reply(c, json_pack("{s:s, s:b}", "name", name, "removed", 1));
    }
    int dis = !strcmp(rest, "disable");
    if ((dis || !strcmp(rest, "enable")) && c->method == SCRIM_POST) {
        if ((rc = p->sh ? scrim__shared_set_disabled(p->sh, name, dis, &out,
                                                     err, sizeof err)
                        : scrim_reviewer_set_disabled(db, name, dis, err,
                                                      sizeof err)) ||
            (!p->sh && (rc = scrim_reviewer_get(db, name, &out, err, sizeof err))))
            return fail(c, rc, err);
        log_event(p, db, json_pack("{s:s, s:s, s:s}", "who", w->name, "event",
                                dis ? "reviewer_disabled" : "reviewer_enabled",
                                "reviewer", name));
        return reply(c, out);
    }
    if (*rest && !dis && strcmp(rest, "enable"))
        return scrim_call_error(c, 404, "not_found", "no such endpoint (GET or "
                                "DELETE /v1/reviewers/NAME, POST "
                                "/v1/reviewers/NAME/disable or /enable)");
    return scrim_call_error(c, 405, "method_not_allowed", "use GET or DELETE "
                            "/v1/reviewers/NAME, POST /v1/reviewers/NAME/disable "
                            "or /enable");
}

/* ---- /metrics ------------------------------------------------------------------- */

static void label(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f), fputc(*v, f);
        else
            fputc(*v, f);
    }
}

static const struct {
    const char *name, *help;
} series[] = {
    {"previews", "Review preview images served at the default level"},
    {"reveals", "Review previews revealed (the lighter level served)"},
    {"reveal_seconds", "Seconds review previews were revealed, as the pages "
                       "reported them, bounded by the time elapsed"},
    {"decisions", "Review decisions recorded"},
    {"cap_refusals", "Previews, reveals and decisions refused by a daily cap"},
    {"breaks_dismissed", "Breaks dismissed by a reviewer with a reason"},
};

static double field(const person *x, int i)
{
    switch (i) {
    case 0: return (double)x->previews;
    case 1: return (double)x->reveals;
    case 2: return x->seconds;
    case 3: return (double)x->items;
    case 4: return (double)x->refused;
    default: return (double)x->dismissed;
    }
}

static void metrics(FILE *f, const scrim_settings *s, int admin, void *arg)
{
    scrim__people *p = arg;
    int by = admin && s->review_metrics_by_reviewer;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < sizeof series / sizeof *series; i++) {
        fprintf(f, "# HELP scrim_review_%s_total %s.\n# TYPE scrim_review_%s_total "
                "counter\nscrim_review_%s_total %.17g\n", series[i].name,
                series[i].help, series[i].name, series[i].name,
                field(&p->total, (int)i));
        if (!by)
            continue;
        fprintf(f, "# HELP scrim_reviewer_%s_total %s, by reviewer.\n"
                "# TYPE scrim_reviewer_%s_total counter\n", series[i].name,
                series[i].help, series[i].name);
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, p->by_name);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            fprintf(f, "scrim_reviewer_%s_total{reviewer=\"", series[i].name);
            label(f, k);
            fprintf(f, "\"} %.17g\n", field(v, (int)i));
        }
    }
    pthread_mutex_unlock(&p->lock);
}

/* ---- life ------------------------------------------------------------------------ */

scrim__people *scrim__people_new(scrim_server *srv)
{
    scrim__people *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    const char *ci = scrim__cluster_conninfo(srv);
    if (ci && !(p->sh = scrim__shared_new(ci))) {
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    p->by_name = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (scrim_server_metrics(srv, metrics, p)) {
        scrim__people_free(p);
        return NULL;
    }
    return p;
}

void scrim__people_free(scrim__people *p)
{
    if (!p)
        return;
    if (p->db)
        scrim_reviewers_close(p->db);
    scrim__shared_free(p->sh);
    g_hash_table_destroy(p->by_name);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
