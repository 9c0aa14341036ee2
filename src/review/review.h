/* review.h - what the review folder's files share.  Not public API. */
#ifndef SCRIM_REVIEW_H_PRIVATE
#define SCRIM_REVIEW_H_PRIVATE

/* The review page (page.html), embedded by page.c: its bytes, NUL-
 * terminated, and its length without the NUL. */
extern const char scrim__review_page[];
extern const unsigned scrim__review_page_len;

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
