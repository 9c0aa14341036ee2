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
/* review.c's handle, for feedback.c. */
#include "scrim.h"
#include "scrim/review.h"
#include <lmdb.h>
MDB_env *review__env(scrim_review *r);
MDB_dbi review__entries(scrim_review *r);

/* In the decision's write transaction: move the counts of the entries in
 * `matches` from decision `was` (NULL: none) to `now` (LMDB codes). */
int review__count(MDB_txn *txn, MDB_dbi entries, json_t *matches,
                  const char *was, const char *now, double time);

#endif
