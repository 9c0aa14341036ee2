/* scrim/preview.h - blurred, pixelated, greyscale previews of matched media
 * and the review records that keep them (never the original) for reviewers. */
#ifndef SCRIM_PREVIEW_H
#define SCRIM_PREVIEW_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

struct scrim_image;
typedef struct MDB_env MDB_env;

/* ---- the renderer ------------------------------------------------------- */

#define SCRIM_PREVIEW_DEFAULT_SIZE   256  /* longest side, px */
#define SCRIM_PREVIEW_DEFAULT_DETAIL 24   /* blocks along the longest side */
#define SCRIM_PREVIEW_DEFAULT_BLUR   0.8  /* Gaussian sigma, in block sizes */
#define SCRIM_PREVIEW_DEFAULT_QUALITY 75  /* JPEG quality */
#define SCRIM_PREVIEW_MAX_SIZE       1024
#define SCRIM_PREVIEW_MIN_DETAIL     2
#define SCRIM_PREVIEW_MAX_DETAIL     96   /* and at most size / 2 */

/* How a preview is made: the image is averaged into `detail` square blocks
 * along its longest side (fewer along the other), each block becomes
 * size/detail pixels, the result is Gaussian-blurred with sigma `blur` x the
 * block size and stored as a greyscale JPEG.  The longest side of the result
 * is detail * floor(size / detail) <= size. */
typedef struct scrim_preview_opts {
    int size;      /* 16 .. SCRIM_PREVIEW_MAX_SIZE */
    int detail;    /* SCRIM_PREVIEW_MIN_DETAIL .. min(MAX_DETAIL, size / 2) */
    double blur;   /* 0.25 .. 4 (below 0.25 the block edges stay sharp) */
    int quality;   /* 1 .. 100 */
} scrim_preview_opts;

/* The named levels.  NONE means "make no preview at all" (a per-list
 * setting for content nobody needs to see). */
enum scrim_preview_level {
    SCRIM_PREVIEW_NONE = 0,
    SCRIM_PREVIEW_LIGHT,     /* 40 blocks */
    SCRIM_PREVIEW_STANDARD,  /* 24 blocks (the default) */
    SCRIM_PREVIEW_STRONG,    /* 12 blocks */
    SCRIM_PREVIEW_CUSTOM     /* explicit numbers */
};

/* The options of the standard level. */
void scrim_preview_opts_default(scrim_preview_opts *o);

/* Parse a level: "light", "standard", "strong", "none", or explicit numbers
 * "detail=N[,size=N][,blur=X][,quality=N]" (unnamed fields keep the standard
 * level's values; a bare number N means detail=N).  Sets *o (untouched for
 * "none") and returns the level (>= 0), or SCRIM_EINVAL with a message. */
int scrim_preview_level_parse(const char *text, scrim_preview_opts *o,
                              char *err, size_t errlen);

/* The canonical text of a set of options: the level's name when it is one of
 * the named levels, else "detail=N,size=N,blur=X,quality=N". */
void scrim_preview_opts_format(const scrim_preview_opts *o, char *buf,
                               size_t buflen);

/* Check that options are within range; SCRIM_EINVAL with a message if not. */
int scrim_preview_opts_check(const scrim_preview_opts *o, char *err,
                             size_t errlen);

/* The "lighter" level shown to a reviewer who asks to reveal: twice the
 * blocks (capped at 64 and size / 4) with the same relative blur, so it is
 * still pixelated, blurred and grey. */
void scrim_preview_opts_lighter(const scrim_preview_opts *in,
                                scrim_preview_opts *out);

/* An encoded preview (JPEG bytes) and its size in pixels. */
typedef struct scrim_preview {
    uint8_t *data;
    size_t len;
    int width, height;
    int detail;     /* blocks along the longest side */
} scrim_preview;

/* Render a preview from pixels already decoded (a scrim_image as handed back
 * by scrim_hash_image_buffer: 8-bit, 1 or 3 channels).  Nothing is decoded
 * and nothing is written anywhere but out->data (malloc'd; free with
 * scrim_preview_free).  Thread-safe.  Returns 0, SCRIM_EINVAL (bad options
 * or image, message in err) or SCRIM_ENOMEM. */
int scrim_preview_render(const struct scrim_image *img,
                         const scrim_preview_opts *o, scrim_preview *out,
                         char *err, size_t errlen);

/* The same from raw pixels: `channels` 1, 3 or 4 (alpha ignored), rows
 * `stride` bytes apart. */
int scrim_preview_render_pixels(const uint8_t *pixels, int width, int height,
                                int channels, size_t stride,
                                const scrim_preview_opts *o,
                                scrim_preview *out, char *err, size_t errlen);

void scrim_preview_free(scrim_preview *p);

/* ---- video contact sheets ------------------------------------------------- */

#define SCRIM_SHEET_MAX_TILES 9

/* Where the tiles of a sheet are: `tiles` frames in `cols` columns, each
 * cell a tile of the same size with a label strip of label_height px under
 * it; the frame times and whether each was a matched time. */
typedef struct scrim_preview_sheet_info {
    int tiles, cols, label_height;
    double seconds[SCRIM_SHEET_MAX_TILES];
    int matched[SCRIM_SHEET_MAX_TILES];
} scrim_preview_sheet_info;

/* A contact sheet of a video in memory: the frames at `times` (seconds; at
 * most 9, evenly chosen, near-duplicates merged) plus evenly spaced frames
 * when fewer than 4, each tile rendered like an image preview at o (the
 * tiles share o->size, so the sheet's longest side is at most o->size), its
 * timestamp written under it ("*" marks a matched time).  Only the video
 * stream is decoded, from memory, seeking to each frame; nothing is
 * written anywhere.  `lighter` (may be NULL) gets the same sheet at the
 * lighter level, `info` (may be NULL) the layout.  Errors: SCRIM_EFORMAT
 * (no decodable video stream), SCRIM_ETOOBIG, SCRIM_ECORRUPT, SCRIM_ETIMEOUT
 * (20 s budget), SCRIM_ENOMEM. */
int scrim_preview_video_sheet(const void *buf, size_t len, const double *times,
                              size_t ntimes, const scrim_preview_opts *o,
                              scrim_preview *sheet, scrim_preview *lighter,
                              scrim_preview_sheet_info *info, char *err,
                              size_t errlen);

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
#define SCRIM_REVIEW_DBS 4          /* named databases used */

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
} scrim_review_input;

/* Store a new record (and purge expired ones) in one transaction; its id is
 * written to id.  SCRIM_EINVAL for a bad input, SCRIM_EDB on LMDB errors. */
int scrim_review_add(scrim_review *r, const scrim_review_input *in,
                     char id[SCRIM_REVIEW_ID_LEN + 1], char *err,
                     size_t errlen);

/* The record as JSON: {"id", "time", "expires", "status" (pending /
 * confirmed / rejected), "kind", "size", "width", "height", "hashes",
 * "matches", "level", "preview": {"url", "width", "height", "bytes",
 * "detail", and for a video's contact sheet "frames": [{"seconds",
 * "matched"}]} or null, "lighter": same or null, "decision": null or
 * {"decision", "note", "time", "by"}, "history": [earlier decisions]}.
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

/* Record a decision: "confirm" or "reject", an optional note (at most
 * SCRIM_REVIEW_NOTE_MAX bytes, UTF-8) and who made it (may be NULL).  A later
 * decision replaces the earlier one, which is kept in "history".  The record
 * leaves the pending queue.  *out (may be NULL) gets the updated record. */
int scrim_review_decide(scrim_review *r, const char *id, const char *decision,
                        const char *note, const char *by, json_t **out,
                        char *err, size_t errlen);

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
