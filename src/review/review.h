/* review.h - what the review folder's files share.  Not public API. */
#ifndef SCRIM_REVIEW_H_PRIVATE
#define SCRIM_REVIEW_H_PRIVATE

/* The review page (page.html), embedded by page.c: its bytes, NUL-
 * terminated, and its length without the NUL. */
extern const char scrim__review_page[];
extern const unsigned scrim__review_page_len;

/* ---- reviewers inside scrimd (people.c) ---------------------------------- */

struct scrim_call;
struct scrim_server;
struct scrim_store;
struct scrim_review;
typedef struct scrim__people scrim__people;

/* Who a review request comes from: the admin token ("admin"), the shared
 * reviewer token ("reviewer", anonymous) or a reviewer account. */
typedef struct scrim__who {
    char name[72];
    int admin, named, lead;
    int no_pictures;      /* the account's no-pictures mode */
    char level[128];      /* the account's own preview level, "" = none */
} scrim__who;

/* Counters, the metrics text, the /v1/reviewers route's state. */
scrim__people *scrim__people_new(struct scrim_server *srv);
void scrim__people_free(scrim__people *p);

/* A Bearer token that is neither the admin nor the shared reviewer token:
 * 0 with *w filled (the account is read on every request, so a disable or
 * a removal takes effect at once), or the call answers 403 and < 0.  With
 * `quiet`, a token of no account returns 1 and answers nothing. */
int scrim__people_auth(struct scrim_call *c, scrim__people *p, const char *token,
                       int quiet, scrim__who *w);

/* What people.c answers under /v1/review/: me, me/break, ID/revealed,
 * warnings, log.  1 when the path is not one of these. */
int scrim__people_route(struct scrim_call *c, scrim__people *p,
                        struct scrim_review *rv, const scrim__who *w,
                        const char *tail);

/* GET /v1/review/ID/preview.jpg: no-pictures mode, the daily caps, the
 * reviewer's own level, then the image, counted and (reveals) logged. */
int scrim__people_preview(struct scrim_call *c, scrim__people *p,
                          struct scrim_review *rv, const scrim__who *w,
                          const char *id, int lighter);

/* Before a decision: 0, or the call answers 429 (daily item cap) and < 0.
 * After one that was recorded: counted and logged. */
int scrim__people_may_decide(struct scrim_call *c, scrim__people *p,
                             const scrim__who *w);
void scrim__people_decided(struct scrim_call *c, scrim__people *p,
                           const scrim__who *w, const char *id,
                           const char *decision);

/* /v1/reviewers[/NAME[/disable|/enable]]: accounts over HTTP. */
int scrim__people_accounts(struct scrim_call *c, scrim__people *p,
                           const scrim__who *w);
/* ---- cluster mode (sync.c; the LMDB side in review.c) ----------------
 * Records and decisions made on a node are queued in review.outbox, in
 * the transaction that makes them, and sent to PostgreSQL's
 * scrim_review_log (unique per node and queue number: sent twice, stored
 * once); every node applies the log's rows of the other nodes in id order,
 * each in one transaction that records the row's id (review.sync
 * "applied"), so every node holds one queue. */
#include <stddef.h>
#include <stdint.h>
struct scrim_review;

/* Opens the outbox (records and decisions are queued from now on); node:
 * this database's name in the log (32 hex, made once), *applied: the last
 * log row applied here. */
int scrim__review_sync_open(struct scrim_review *r, char node[33],
                            uint64_t *applied, char *err, size_t errlen);

typedef struct scrim__review_out {
    uint64_t seq;           /* outbox number */
    char kind;              /* 'r' record made, 'd' decision, 'l' a
                             * list's preview level (record: the level) */
    char id[65];            /* the record's, or the list's name */
    int gone;               /* the record is no more (purged): skip */
    char *record;           /* its stored JSON, NUL-terminated */
    uint8_t *preview, *lighter;
    size_t preview_len, lighter_len;
} scrim__review_out;

/* The oldest queued entry, with the record as it is now (SCRIM_ENOTFOUND:
 * none); free with scrim__review_out_free. */
int scrim__review_outbox_next(struct scrim_review *r, scrim__review_out *o,
                              char *err, size_t errlen);
void scrim__review_out_free(scrim__review_out *o);
int scrim__review_outbox_done(struct scrim_review *r, uint64_t seq,
                              char *err, size_t errlen);
size_t scrim__review_outbox_count(struct scrim_review *r);
/* Start the sync thread if the server is clustered (else nothing; *kick
 * NULL), stopped by scrim_server_free; kick wakes it (a record or decision
 * to send). */
struct scrim_server;
int scrim__review_sync_start(struct scrim_server *srv, struct scrim_review *rv,
                             void **kick, char *err, size_t errlen);
void scrim__review_sync_kick(void *kick);
/* Apply log row `logid` (kind 0: only record it as applied). */
int scrim__review_apply(struct scrim_review *r, uint64_t logid, char kind,
                        const char *id, const char *record, size_t record_len,
                        const uint8_t *preview, size_t preview_len,
                        const uint8_t *lighter, size_t lighter_len,
                        char *err, size_t errlen);
/* review.c's handle, for feedback.c. */
#include "scrim.h"
#include "scrim/review.h"
#include <lmdb.h>
MDB_env *review__env(scrim_review *r);
MDB_dbi review__entries(scrim_review *r);
/* The clock (NULL: the real one) in microseconds since the epoch. */
int64_t review__clock_us(int64_t (*clock)(void *), void *arg);
/* An LMDB code as SCRIM_E* with "DB database: WHAT: ..." in err. */
int review__db_fail(const char *db, const char *what, int mrc, char *err,
                    size_t errlen);
/* Commits *txn, which is gone afterwards (committed or not: *txn = NULL);
 * SCRIM_OK or an error as review__db_fail's. */
int review__commit(const char *db, MDB_txn **txn, char *err, size_t errlen);

/* SCRIM_OK when LIST is a valid list name, else SCRIM_EINVAL with a message
 * naming it (the rule is scrim_list_name_valid's). */
int review__list_name_check(const char *list, char *err, size_t errlen);

/* fifo.c: a queue of JSON items in the LMDB table dbi (8-byte big-endian
 * numbers, oldest first, and "next").  put consumes j: 0, or -1 when not
 * kept (env NULL, no memory, an LMDB error); first: 1 with the oldest item
 * (*j, NULL if unreadable) and its *seq, 0 when empty; del removes seq. */
int review__fifo_put(MDB_env *env, MDB_dbi dbi, json_t *j);
int review__fifo_first(MDB_env *env, MDB_dbi dbi, json_t **j, uint64_t *seq);
void review__fifo_del(MDB_env *env, MDB_dbi dbi, uint64_t seq);
/* A content warning for LIST: the name valid and TEXT (NULL or "": none)
 * at most SCRIM_REVIEW_WARNING_MAX bytes of UTF-8 without control
 * characters; SCRIM_OK or SCRIM_EINVAL with a message. */
int review__warning_check(const char *list, const char *text, char *err,
                          size_t errlen);
/* A new account's checks and token: the name valid, *role (NULL: reviewer)
 * "reviewer" or "lead", token 64 random hex digits; SCRIM_OK or an error. */
int review__account_new(const char *name, const char **role,
                        char token[65], char *err, size_t errlen);
/* The table dbi (names -> strings: per-list levels, warnings) as one JSON
 * object; SCRIM_OK, or an error naming db ("review", "reviewer"). */
int review__strings(MDB_env *env, MDB_dbi dbi, const char *db, json_t **out,
                    char *err, size_t errlen);

/* ---- the false-match loop's writes (feedback.c) --------------------------
 * Without a sink they go to the store (a single node); with one (scrimd
 * --cluster: scrim__review_loop_sink, loop.c) to the cluster's change log.
 * Each returns SCRIM_OK, a SCRIM_E* code or SCRIM__SHARED_DOWN (PostgreSQL
 * unreachable), with err. */
typedef struct review__loop_sink {
    void *ud;                   /* the functions' first argument */
    struct scrim_server *srv;   /* loop.c's */
    scrim_store *store;
    /* entries into list (io->mode SCRIM_IMPORT_ADD, the list made as
     * io says if missing) or out of it (SCRIM_IMPORT_REMOVE) */
    int (*entries)(void *ud, const char *list, const scrim_import_opts *io,
                   const scrim_entry *e, size_t n, char *err, size_t errlen);
    /* upload's decision `now` on an entry; a reject quarantines the entry
     * once `after` (> 0) uploads' rejects count on it since it was last
     * restored: *rejected that count, *quarantined 1 if this one did */
    int (*vote)(void *ud, const char *list, const char *type, const char *key,
                const char *upload, const char *now, int after, const char *by,
                long long *rejected, int *quarantined, char *err,
                size_t errlen);
    /* an admin's restore (remove 0) or removal of a quarantined entry */
    int (*admin)(void *ud, const char *list, int type, const char *key,
                 const char *who, int remove, int *changed, char *err,
                 size_t errlen);
    int down;                   /* set by loop.c: PostgreSQL was unreachable */
} review__loop_sink;
/* The loop's part of decision d on rec (the record as decided): its
 * "feedback" ({"suppressed", "unsuppressed", "quarantined", "errors"}). */
json_t *review__loop_run(scrim_review *r, scrim_store *s,
                         const review__loop_sink *sink, json_t *rec,
                         const scrim_review_decision *d);
int review__decide_loop(scrim_review *r, scrim_store *s,
                        const review__loop_sink *sink, const char *id,
                        const scrim_review_decision *d, json_t **out,
                        char *err, size_t errlen);
int review__entry_action(scrim_review *r, scrim_store *s,
                         const review__loop_sink *sink, const char *list,
                         const char *type, const char *key, const char *who,
                         int remove, json_t **out, char *err, size_t errlen);
/* loop.c: the cluster's sink for srv (clustered) and its store. */
void scrim__review_loop_sink(struct scrim_server *srv, scrim_store *s,
                             review__loop_sink *out);
/* A decision whose loop found PostgreSQL unreachable (sink.down) is kept
 * in review.loopq of env (opened by the review sync), and done again by
 * the sync thread once PostgreSQL is back (retry), unless the record has
 * been decided again since.  Doing it twice is harmless: a suppression
 * adds what is there, a count is one row per upload. */
int scrim__review_loop_queue_open(MDB_env *env, char *err, size_t errlen);
int scrim__review_loop_defer(const char *id, const scrim_review_decision *d,
                             json_t *rec);
void scrim__review_loop_retry(struct scrim_server *srv, scrim_review *rv);

/* In the decision's write transaction: move the counts of the entries in
 * `matches` from decision `was` (NULL: none) to `now` (LMDB codes). */
int review__count(MDB_txn *txn, MDB_dbi entries, json_t *matches,
                  const char *was, const char *now, double time);

/* ---- reviewer data in PostgreSQL (shared.c): scrimd --cluster --------
 * Accounts, exposure and the reviewers' log, shared by every node.  The
 * functions return 0, a SCRIM_E* code with err, or SCRIM__SHARED_DOWN:
 * PostgreSQL is unreachable (err says why). */
#define SCRIM__SHARED_DOWN 1
typedef struct scrim__shared scrim__shared;
struct scrim_exposure;
scrim__shared *scrim__shared_new(const char *conninfo);
void scrim__shared_free(scrim__shared *sh);
/* An account changed somewhere (NOTIFY scrim_reviewers, sync.c): the
 * copies kept for when PostgreSQL is unreachable are dropped. */
void scrim__shared_changed(void);
/* What was counted or logged while PostgreSQL was unreachable, sent now
 * (the sync thread, once it reaches PostgreSQL again). */
void scrim__shared_flush_all(void);
/* As scrim_reviewer_by_token; while PostgreSQL is unreachable, the account
 * as this node last read it (if none changed since). */
int scrim__shared_by_token(scrim__shared *sh, const char *token,
                           json_t **out, char *err, size_t errlen);
int scrim__shared_add(scrim__shared *sh, const char *name, const char *role,
                      char token[65], json_t **out, char *err, size_t errlen);
int scrim__shared_get(scrim__shared *sh, const char *name, json_t **out,
                      char *err, size_t errlen);
int scrim__shared_list(scrim__shared *sh, json_t **out, char *err,
                       size_t errlen);
int scrim__shared_set_disabled(scrim__shared *sh, const char *name,
                               int disabled, json_t **out, char *err,
                               size_t errlen);
int scrim__shared_remove(scrim__shared *sh, const char *name, char *err,
                         size_t errlen);
int scrim__shared_prefs(scrim__shared *sh, const char *name,
                        const char *level, int no_pictures, char *err,
                        size_t errlen);
/* As scrim_exposure_count (SCRIM_EBUSY: a cap; *which says which); while
 * PostgreSQL is unreachable, counted here against the row as it last gave
 * it, and added to it when it is back (never SCRIM__SHARED_DOWN). */
int scrim__shared_count(scrim__shared *sh, const char *name,
                        const struct scrim_exposure *d,
                        const struct scrim_exposure *caps, const char **which,
                        struct scrim_exposure *today, char *err, size_t errlen);
int scrim__shared_exposure(scrim__shared *sh, const char *name, json_t **out,
                           char *err, size_t errlen);
/* Append ev (borrowed; "time" added) to the cluster's log: kept and sent
 * later while PostgreSQL is unreachable. */
void scrim__shared_log(scrim__shared *sh, json_t *ev);
/* Per-list content warnings, as scrim_review_warnings / _warning_set;
 * while PostgreSQL is unreachable, reading gives them as last read. */
int scrim__shared_warnings(scrim__shared *sh, json_t **out, char *err,
                           size_t errlen);
int scrim__shared_warning_set(scrim__shared *sh, const char *list,
                              const char *text, char *err, size_t errlen);
/* The durable queue of what waits for PostgreSQL (log events, exposure
 * counts): review.sharedq in env (the review database), opened by the
 * review sync; before, such things wait in memory. */
int scrim__shared_queue_open(MDB_env *env, char *err, size_t errlen);
/* The break clock (clock[0] the stretch's start, [1] the last activity,
 * wall-clock seconds; 0 = none): counted at `now` (a pause of brk or more
 * starts a new stretch), read, or reset to now (a dismissed break).  Open
 * reveals (at most keep per reviewer): opened, or closed (*start: when it
 * was opened; SCRIM_ENOTFOUND if it is not open).  0, SCRIM_EDB or
 * SCRIM__SHARED_DOWN (then people.c keeps them in memory). */
int scrim__shared_active(scrim__shared *sh, const char *name, double now,
                         double brk, double clock[2], char *err, size_t errlen);
int scrim__shared_break(scrim__shared *sh, const char *name, double clock[2],
                        char *err, size_t errlen);
int scrim__shared_break_reset(scrim__shared *sh, const char *name, double now,
                              char *err, size_t errlen);
int scrim__shared_reveal_open(scrim__shared *sh, const char *name,
                              const char *id, double now, int keep, char *err,
                              size_t errlen);
int scrim__shared_reveal_close(scrim__shared *sh, const char *name,
                               const char *id, double *start, char *err,
                               size_t errlen);
int scrim__shared_log_list(scrim__shared *sh, const char *who, double since,
                           size_t limit, json_t **out, char *err,
                           size_t errlen);

#endif
