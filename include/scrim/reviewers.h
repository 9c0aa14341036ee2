/* scrim/reviewers.h - reviewer accounts (a name, a role and the hash of a
 * token), what each reviewer was exposed to per day, the log of who saw and
 * decided what, and the per-list content warnings shown before a preview.
 * Part of scrim's public API; include scrim.h first. */
#ifndef SCRIM_REVIEWERS_H
#define SCRIM_REVIEWERS_H

#include "scrim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct MDB_env MDB_env;

/* Named databases of the review environment (the store's side env, as
 * review.*):
 *   review.reviewers  "u/NAME" -> account JSON {"name", "role", "created",
 *                     "disabled", "hash" (hex SHA-256 of the token),
 *                     "level", "no_pictures"}
 *                     "t/" + SHA-256 of the token -> NAME
 *   review.exposure   NAME "\0" day (4 bytes, big-endian days since the
 *                     epoch, UTC) -> {"previews", "reveals", "seconds",
 *                     "items", "refused"}
 *   review.log        time (8 bytes, microseconds, big-endian) + 4 random
 *                     bytes -> event JSON {"time", "who", "event", ...}
 *   review.warnings   list name -> content warning text
 * The token itself is never stored: it is printed once when the account is
 * made.  Tokens are 256 random bits, so one SHA-256 suffices (no
 * dictionary to try). */
#define SCRIM_REVIEWERS_DBS 4
#define SCRIM_REVIEWER_TOKEN_LEN 64         /* hex digits */
#define SCRIM_REVIEW_WARNING_MAX 200        /* bytes of a content warning */
#define SCRIM_REVIEW_KEEP_DAYS 90           /* exposure rows and log events */

typedef struct scrim_reviewers scrim_reviewers;

/* Open (creating the databases) in an environment with room for
 * SCRIM_REVIEWERS_DBS more named databases.  clock: microseconds since the
 * epoch, NULL = the real clock.  Exposure rows and events older than
 * SCRIM_REVIEW_KEEP_DAYS are deleted with the first count of each day.
 * Nothing is written when the databases exist. */
int scrim_reviewers_open(MDB_env *env, int64_t (*clock)(void *), void *clock_arg,
                         scrim_reviewers **out, char *err, size_t errlen);
/* The same, but SCRIM_ENOTFOUND (nothing created) when they do not exist. */
int scrim_reviewers_open_existing(MDB_env *env, int64_t (*clock)(void *),
                                  void *clock_arg, scrim_reviewers **out,
                                  char *err, size_t errlen);
void scrim_reviewers_close(scrim_reviewers *r);

/* ---- accounts --------------------------------------------------------------- */

/* A name is 1-64 of A-Z a-z 0-9 . _ - ; "admin", "reviewer" and
 * "anonymous" are taken (the admin token, the shared reviewer token).
 * SCRIM_OK or SCRIM_EINVAL with a message. */
int scrim_reviewer_name_check(const char *name, char *err, size_t errlen);

/* Make an account: role "reviewer" or "lead" (NULL: reviewer).  The new
 * token (64 hex digits, NUL-terminated) is written to token: show it once,
 * it cannot be read back.  SCRIM_EEXIST if the name is taken.  *out (may
 * be NULL) gets the account as scrim_reviewer_get gives it. */
int scrim_reviewer_add(scrim_reviewers *r, const char *name, const char *role,
                       char token[SCRIM_REVIEWER_TOKEN_LEN + 1], json_t **out,
                       char *err, size_t errlen);

/* {"name", "role", "created", "disabled", "level", "no_pictures"} (never
 * the hash).  SCRIM_ENOTFOUND if there is no such account. */
int scrim_reviewer_get(scrim_reviewers *r, const char *name, json_t **out,
                       char *err, size_t errlen);

/* Every account, in name order: a JSON array of the above. */
int scrim_reviewer_list(scrim_reviewers *r, json_t **out, char *err,
                        size_t errlen);

/* Disable (1) or enable (0) an account; a disabled one is refused at its
 * next request.  SCRIM_ENOTFOUND if there is none. */
int scrim_reviewer_set_disabled(scrim_reviewers *r, const char *name,
                                int disabled, char *err, size_t errlen);

/* Delete an account and its token (its exposure rows and log events stay:
 * they are the record of what it saw).  SCRIM_ENOTFOUND if there is none. */
int scrim_reviewer_remove(scrim_reviewers *r, const char *name, char *err,
                          size_t errlen);

/* The account a token belongs to (as scrim_reviewer_get, disabled or not),
 * found by the token's SHA-256.  SCRIM_ENOTFOUND if none. */
int scrim_reviewer_by_token(scrim_reviewers *r, const char *token,
                            json_t **out, char *err, size_t errlen);

/* A reviewer's own choices: preview level (a level as
 * scrim_preview_level_parse takes it, "none", or "default" to drop it; NULL
 * keeps it) and no-pictures mode (0/1; -1 keeps it).  *out (may be NULL)
 * gets the account. */
int scrim_reviewer_prefs(scrim_reviewers *r, const char *name,
                         const char *level, int no_pictures, json_t **out,
                         char *err, size_t errlen);

/* ---- exposure ----------------------------------------------------------------- */

typedef struct scrim_exposure {
    uint64_t previews;   /* preview images served (the default level) */
    uint64_t reveals;    /* lighter-level images served */
    double seconds;      /* seconds revealed, as reported, bounded */
    uint64_t items;      /* decisions made */
    uint64_t refused;    /* reveals, previews, decisions refused by a cap */
} scrim_exposure;

/* Add delta to name's row of today (UTC) in one transaction.  caps (may be
 * NULL; 0 fields: no cap) are checked first: a delta with previews,
 * reveals or items once today's items have reached caps->items, or with
 * reveals once today's reveals have reached caps->reveals, adds nothing
 * but one "refused", sets *which (may be NULL) to "items" or "reveals" and
 * returns SCRIM_EBUSY.  *today (may be NULL) gets the row after the call. */
int scrim_exposure_count(scrim_reviewers *r, const char *name,
                         const scrim_exposure *delta,
                         const scrim_exposure *caps, const char **which,
                         scrim_exposure *today, char *err, size_t errlen);

/* name's figures: {"today": {...}, "week": {...} (the last 7 UTC days,
 * today included), "days": [{"date": "YYYY-MM-DD", ...}, newest first,
 * days with anything only]}, each {"previews", "reveals", "seconds",
 * "items", "refused"}. */
int scrim_exposure_get(scrim_reviewers *r, const char *name, json_t **out,
                       char *err, size_t errlen);

/* ---- the log ------------------------------------------------------------------ */

/* Append an event: `ev` (borrowed) gets "time" and is stored.  Events are
 * kept SCRIM_REVIEW_KEEP_DAYS days. */
int scrim_review_log_add(scrim_reviewers *r, json_t *ev, char *err,
                         size_t errlen);

/* Events oldest first: of one reviewer (who NULL: all), from unix seconds
 * `since`, at most limit (1..1000).  *out = {"events": [...], "next":
 * seconds to pass as since for the next page, or null}. */
int scrim_review_log_list(scrim_reviewers *r, const char *who, double since,
                          size_t limit, json_t **out, char *err, size_t errlen);

/* ---- content warnings ----------------------------------------------------------- */

/* Set a list's content warning (1..SCRIM_REVIEW_WARNING_MAX bytes of UTF-8
 * text, no control characters); NULL or "" removes it.  Like the per-list
 * level, the list need not exist yet. */
int scrim_review_warning_set(scrim_reviewers *r, const char *list,
                             const char *text, char *err, size_t errlen);

/* {"LIST": "warning", ...} */
int scrim_review_warnings(scrim_reviewers *r, json_t **out, char *err,
                          size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
