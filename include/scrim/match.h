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

#ifdef __cplusplus
}
#endif

#endif
