/* scrim/review.h - review records: what a person confirms or rejects after
 * an upload matched a block list, with its previews (never the original),
 * and the review endpoints and page of scrimd.  Part of scrim's public API;
 * include scrim.h first. */
#ifndef SCRIM_REVIEW_H
#define SCRIM_REVIEW_H

#include "scrim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct MDB_env MDB_env;

/* ---- review records ------------------------------------------------------- */

/* A review record is kept for each upload that matched a block list, for a
 * person to confirm or reject: id, time, the matches, the hashes, media kind
 * and size, the preview at its level and one lighter level (never the
 * original), and the reviewer's decision.  Records live in named databases
 * of an LMDB environment (the store's: scrim_store_env()):
 *   review.records   id -> record JSON
 *   review.pending   id -> "" for records still without a decision
 *   review.previews  id + 'd' / 'l' -> JPEG (default / lighter)
 *   review.lists     list name -> preview level text ("none", "strong", ...)
 *   review.dedup     SHA-256 of (upload SHA-256, entries matched) -> id
 *   review.entries   list \x1f type \x1f hash or video id -> the entry's
 *                    confirmed / rejected counts (feedback.c; kept past
 *                    the records' retention: they hold no picture)
 * The store has no generic per-list settings, so the per-list preview level
 * lives in review.lists, keyed by the list's name.
 *
 * Ids are 32 hex digits: 8 bytes of creation time (microseconds, big-endian)
 * then 8 random bytes, so the key order is the creation order; listing
 * and purging walk it.  Records are purged `retention` seconds after their
 * creation: expired ones are deleted at every write (and scrim_review_purge)
 * and never served in between.
 *
 * Thread-safe: every call runs in its own LMDB transaction (the environment
 * must be opened with MDB_NOTLS when used from several threads).  JSON
 * handed back is owned by the caller (json_decref). */

typedef struct scrim_review scrim_review;

#define SCRIM_REVIEW_ID_LEN 32
#define SCRIM_REVIEW_DEFAULT_RETENTION (7 * 24 * 3600)
#define SCRIM_REVIEW_NOTE_MAX 4096
#define SCRIM_REVIEW_LIST_MAX 1000  /* records per page */
#define SCRIM_REVIEW_DBS 8          /* named databases used (2 in cluster mode) */
/* The named databases of the review queue (records, their previews and
 * indexes), as opposed to settings (the per-list levels, "review.lists"):
 * what `scrim snapshot` leaves out for a new node (scrim_store_snapshot's
 * side_skip), which must not show another node's queue a second time. */
#define SCRIM_REVIEW_QUEUE_DBS \
    {"review.records", "review.pending", "review.previews", "review.dedup", \
     "review.outbox", "review.sync", NULL}

typedef struct scrim_review_opts {
    int64_t retention;          /* seconds; 0 = 7 days */
    /* Current time in microseconds since the epoch; NULL = the real clock
     * (tests move time forward with it). */
    int64_t (*clock)(void *arg);
    void *clock_arg;
} scrim_review_opts;

/* Open (creating the named databases if needed) in an environment opened
 * with room for SCRIM_REVIEW_DBS more named databases.  The environment
 * must outlive the handle.  Expired records are purged. */
int scrim_review_open(MDB_env *env, const scrim_review_opts *opts,
                      scrim_review **out, char *err, size_t errlen);
void scrim_review_close(scrim_review *r);

/* What a new record holds.  JSON is borrowed (copied into the record). */
typedef struct scrim_review_input {
    const char *kind;               /* "image" / "video" */
    uint64_t size;                  /* bytes uploaded */
    int width, height;              /* of the media, 0 if unknown */
    json_t *hashes;                 /* the /v1/match hashes object */
    json_t *matches;                /* array of matches */
    const char *level;              /* preview level text, e.g. "standard" */
    const scrim_preview *preview;   /* NULL when the level is "none" */
    const scrim_preview *lighter;   /* NULL when the level is "none" */
    const struct scrim_preview_sheet_info *sheet; /* video: the tiles, or NULL */
    const char *content_id;         /* the client's id of the upload, or NULL */
} scrim_review_input;

/* Store a new record (and purge expired ones) in one transaction; its id is
 * written to id.  SCRIM_EINVAL for a bad input, SCRIM_EDB on LMDB errors.
 * One record per upload and matches: when in->hashes has the upload's
 * "sha256" and a live record exists for it with the same list entries
 * matched (list, type, hash, id; in any order), nothing is added: that
 * record's "seen" count and "last_seen" time are updated, its id written
 * to id, and SCRIM_EEXIST returned. */
int scrim_review_add(scrim_review *r, const scrim_review_input *in,
                     char id[SCRIM_REVIEW_ID_LEN + 1], char *err,
                     size_t errlen);

/* The same check alone, before the previews of a new record are made: if
 * a live record exists for this upload (hashes' "sha256") and these
 * matches, count the repeat on it, write its id and return 0; else
 * SCRIM_ENOTFOUND (nothing written). */
int scrim_review_repeat(scrim_review *r, json_t *hashes, json_t *matches,
                        char id[SCRIM_REVIEW_ID_LEN + 1], char *err,
                        size_t errlen);

/* The record as JSON: {"id", "time", "expires", "status" (pending /
 * confirmed / rejected), "seen" (times this upload came with these
 * matches), "last_seen", "kind", "size", "width", "height", "hashes",
 * "matches", "level", "preview": {"url", "width", "height", "bytes",
 * "detail", and for a video's contact sheet "frames": [{"seconds",
 * "matched"}]} or null, "lighter": same or null, "decision": null or
 * {"decision", "note", "time", "by"}, "history": [earlier decisions],
 * "content_id" when the upload came with one}.
 * SCRIM_EINVAL for a malformed id, SCRIM_ENOTFOUND if none (or expired). */
int scrim_review_get(scrim_review *r, const char *id, json_t **out,
                     char *err, size_t errlen);

/* The preview JPEG (lighter != 0: the lighter level) into a malloc'd
 * buffer.  SCRIM_ENOTFOUND if the record is missing or has no preview. */
int scrim_review_preview(scrim_review *r, const char *id, int lighter,
                         uint8_t **data, size_t *len, char *err,
                         size_t errlen);

/* Pending records (no decision yet), oldest first.  `since` is NULL/"" (from
 * the start), a record id (records after it: the "next" cursor of the
 * previous page) or unix seconds (records created at or after).  limit
 * 1..SCRIM_REVIEW_LIST_MAX.  *out = {"records": [...], "next": id or null}. */
int scrim_review_list(scrim_review *r, const char *since, size_t limit,
                      json_t **out, char *err, size_t errlen);

/* The queue: pending records, with a filter, an order and paging.
 * `since` as for scrim_review_list (a lower bound on creation), `cursor`
 * the "next" of the previous page (records after it in this order),
 * `list` only records with a match in that list (NULL: all), `newest`
 * newest first (else oldest first), limit 1..SCRIM_REVIEW_LIST_MAX.
 * *out = {"records": [...], "next": id or null, "pending": N (records
 * pending for this filter and since, all pages), "order": "oldest" |
 * "newest"}.  The walk is over the pending records only, O(pending). */
typedef struct scrim_review_query {
    const char *since, *cursor, *list;
    int newest;
    size_t limit;
} scrim_review_query;
int scrim_review_queue(scrim_review *r, const scrim_review_query *q,
                       json_t **out, char *err, size_t errlen);

/* Record a decision: "confirm" or "reject", an optional note (at most
 * SCRIM_REVIEW_NOTE_MAX bytes, UTF-8) and who made it (may be NULL).  A later
 * decision replaces the earlier one, which is kept in "history".  The record
 * leaves the pending queue.  *out (may be NULL) gets the updated record. */
int scrim_review_decide(scrim_review *r, const char *id, const char *decision,
                        const char *note, const char *by, json_t **out,
                        char *err, size_t errlen);

/* ---- the false-match loop (feedback.c) --------------------------------------
 * Every decision counts on the entries its record matched (review.entries:
 * "confirmed", "rejected"; a changed decision moves its count).  On top of
 * the decision, scrim_review_decide_loop acts on the store:
 *  - a reject suppresses the upload (by default; suppress = 0 says not):
 *    its PDQ (an image's, when it has one) and its SHA-256 go into the
 *    allow list NAME.suppressed of every block list NAME it matched
 *    (created with radius SCRIM_SUPPRESS_RADIUS), so the same picture is
 *    reported under "allowed" next time; a later "confirm" of the record
 *    takes them out again;
 *  - an entry whose matches were rejected quarantine_after times (since it
 *    was last restored) is quarantined (scrim_store_quarantine): it stops
 *    matching until an admin restores or removes it. */
#define SCRIM_REVIEW_QUARANTINE_AFTER 3

typedef struct scrim_review_decision {
    const char *decision;       /* "confirm" / "reject" */
    const char *note, *by;      /* may be NULL */
    int suppress;               /* reject: < 0 the default (yes), 0 no, 1 yes */
    int quarantine_after;       /* < 0 the default, 0 never */
} scrim_review_decision;

/* scrim_review_decide, then the above on store s (NULL: counts only).  *out
 * gets the record with "feedback": {"suppressed": [{"list", "type",
 * "hash"}], "unsuppressed": [...], "quarantined": [{"list", "type", "hash"
 * or "id", "rejected"}], "errors": [text]} (a failure after the decision was
 * stored is reported there; the decision stands). */
int scrim_review_decide_loop(scrim_review *r, struct scrim_store *s,
                             const char *id, const scrim_review_decision *d,
                             json_t **out, char *err, size_t errlen);

/* Per-entry counts: {"entries": [{"list", "type", "hash" or "id",
 * "confirmed", "rejected", "quarantined", "last"}]} (list: only that
 * list's; NULL all), by list then entry. */
int scrim_review_stats(scrim_review *r, const char *list, json_t **out,
                       char *err, size_t errlen);

/* An admin's decision on a quarantined entry (type as
 * scrim_hash_type_parse, key its hash in hex or a video's id): restore it
 * (it matches again; it is quarantined again only after quarantine_after
 * more rejects) or remove it from its list.  Audited in the store with
 * `who`.  *out (may be NULL) = {"list", "type", "hash"/"id", "action",
 * "changed"}. */
int scrim_review_entry_restore(scrim_review *r, struct scrim_store *s,
                               const char *list, const char *type,
                               const char *key, const char *who,
                               json_t **out, char *err, size_t errlen);
int scrim_review_entry_remove(scrim_review *r, struct scrim_store *s,
                              const char *list, const char *type,
                              const char *key, const char *who,
                              json_t **out, char *err, size_t errlen);

/* Delete every expired record now; *purged (may be NULL) gets the count. */
int scrim_review_purge(scrim_review *r, uint64_t *purged, char *err,
                       size_t errlen);

/* Per-list preview level: `level` as scrim_preview_level_parse accepts (or
 * "none"; NULL or "default" removes the setting).  The list need not exist
 * in the store (a level may be set before the list is imported). */
int scrim_review_list_level_set(scrim_review *r, const char *list,
                                const char *level, char *err, size_t errlen);

/* The level for a list: its setting or else the standard level.  Returns the
 * level (>= 0, SCRIM_PREVIEW_NONE for "none") and fills *o (unless NONE). */
int scrim_review_list_level(scrim_review *r, const char *list,
                            scrim_preview_opts *o, char *err, size_t errlen);

/* The level for an upload matching several lists: the most protective of
 * theirs ("none" if any is none, else the fewest blocks).  `lists` are the
 * block lists that matched.  Returns as scrim_review_list_level. */
int scrim_review_level_for(scrim_review *r, const char *const *lists,
                           size_t n, scrim_preview_opts *o, char *err,
                           size_t errlen);

/* All per-list settings: {"LIST": "LEVEL", ...}. */
int scrim_review_list_levels(scrim_review *r, json_t **out, char *err,
                             size_t errlen);

/* ---- in scrimd ---------------------------------------------------------------- */

struct scrim_server;
typedef struct scrim_review_server scrim_review_server;

/* Plug review records into a server (before scrim_server_run): a post-match
 * hook storing a record with previews for every match in a block list (and
 * "review": {"id", "preview"} in the response), GET /v1/review?since=&limit=,
 * GET /v1/review/ID, GET /v1/review/ID/preview.jpg[?level=light],
 * POST /v1/review/ID/decision, GET /v1/review/lists, PUT
 * /v1/review/lists/NAME (admin), and the page at /review.  The endpoints
 * need the admin or the reviewer token.  Free after scrim_server_free(). */
int scrim_review_server_attach(struct scrim_server *srv,
                               const scrim_review_opts *o,
                               scrim_review_server **out, char *err,
                               size_t errlen);
void scrim_review_server_free(scrim_review_server *rs);

#ifdef __cplusplus
}
#endif

#endif
