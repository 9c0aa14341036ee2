/* scrim/match.h - the matcher: what an uploaded image or video matches in
 * the store's lists.  `scrim match` and scrimd's /v1/match answer with it.
 * Part of scrim's public API; include scrim.h. */
#ifndef SCRIM_MATCH_H
#define SCRIM_MATCH_H

#include "scrim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct scrim_vmatch_opts {
    int min_quality;          /* frames/images below are not looked up (50) */
    int radius;               /* -1: each list's own radius */
    double query_percent;     /* video match thresholds (80, 0) */
    double compared_percent;
    int dihedral;             /* images: also the 7 other dihedral variants (1) */
    int regions;              /* images: also the pictures found inside (1;
                                 hash with scrim_decode_opts.regions) */
    const char *const *lists; /* only these lists (NULL: every enabled one);
                                 a name that is no list: SCRIM_ENOTFOUND */
    size_t nlists;
} scrim_vmatch_opts;
void scrim_vmatch_opts_default(scrim_vmatch_opts *o);

/* Match a video's sampled frames against the enabled lists.  *out gets
 * {"matched": bool, "matches": [...], "allowed": [...]} (allow lists apart):
 *  - a video entry, when query/compared percentages (vPDQ's measure, frames
 *    within the radius) reach the thresholds: {"list", "type": "video",
 *    "id", "label", "query_match_percent", "compared_match_percent",
 *    "ranges": [[start, end], ...]} (matched seconds of the query);
 *  - an image entry within the radius of frames: scrim_match_json()'s
 *    object plus "timestamps": [seconds of those frames];
 *  - an MD5 or SHA-256 entry equal to the file's md5 / sha256 (hex; NULL
 *    or "" skips it).
 * Thread-safe (the store is shared).  Caller owns *out. */
int scrim_video_match(scrim_store *s, const scrim_vpdq *query, const char *md5,
                      const char *sha256, const scrim_vmatch_opts *o,
                      json_t **out, char *err, size_t errlen);
/* The same shape for an image's hashes: its PDQ (and dihedral variants)
 * within each list's radius, MD5/SHA-256 exactly; one entry once, nearest
 * first, with "variant" naming the dihedral variant (scrim_dihedral_name)
 * when the nearest hit was not the image as it is.  A video entry one of whose frames matches is reported with
 * "type": "video", its "id", and the nearest "frame" and its "seconds". */
int scrim_image_match(scrim_store *s, const scrim_image_hashes *h,
                      const scrim_vmatch_opts *o, json_t **out, char *err,
                      size_t errlen);

/* The radius the whole upload's own PDQ (quality `quality`) is looked up
 * within, for a list of radius `radius` and the floor `min_quality`: the
 * radius down to a fifth of the floor (at least 1; 10 at the default 50),
 * -1 (not looked up) under that.  Regions found inside an upload keep the
 * floor itself.  See doc/design.md, "Re-posted copies". */
int scrim_whole_radius(int quality, int min_quality, int radius);

/* ---- a platform's own removed media (src/match/add.c) ----------------------- */

/* What scrim_media_add stored. */
typedef struct scrim_media_added {
    const char *kind;           /* "image" / "video" */
    int quality;                /* image: its PDQ quality */
    size_t frames;              /* video: frame hashes */
    int nvariants;              /* image: index-side variants stored */
    char variant[SCRIM_VARIANTS_MAX][16];
    scrim_import_stats stats;   /* counts of the import */
} scrim_media_added;

/* Hash an image or video (recognised by content) and add it to `list` in one
 * import (opts as for scrim_import_begin, e.g. create) under `id`
 * (required) and `label` (may be NULL): an image's PDQ, and the index-side
 * variants `variants` names (scrim_hash_variants; NULL = the default set,
 * "" = none), marked as variants so that scrim_store_export leaves them out;
 * a video's vPDQ frames (one a second) as a video entry; the file's MD5 and
 * SHA-256 either way.  Entries already in the list count as duplicates.
 * SCRIM_EFORMAT for anything else; nothing is written on failure. */
int scrim_media_add(scrim_store *s, const char *list,
                    const scrim_import_opts *opts, const void *buf,
                    size_t len, const char *id, const char *label,
                    const char *variants, scrim_media_added *added,
                    char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
