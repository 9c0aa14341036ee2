/* regions.h - finding the picture inside a re-posted copy.
 *
 * People re-post a picture inside something else: a black pad, letterbox or
 * pillarbox bars, a border of any colour, a screenshot of it on a white page,
 * a social-media post (header bar above, caption below), a short-video frame
 * (the picture on a blurred, enlarged copy of itself).  The partner lists hold
 * plain PDQ hashes of the originals, so the copy only matches if we hash the
 * picture's own rectangle.  These functions work on the float luma plane that
 * scrim already makes for PDQ (every pixel up to 512 px, else the 512x512
 * nearest-neighbour squash) and find a few candidate rectangles in it; each
 * is hashed with its 8 dihedral variants, like the whole plane.
 *
 * The other half is on the index side: crops and small rotations change a
 * picture too much for PDQ, so when a platform adds its own removed media it
 * can store a few extra hashes (centre crops, rotations) next to the
 * original's (scrim__index_variants).
 *
 * Not public API.
 */
#ifndef SCRIM_HASH_REGIONS_H
#define SCRIM_HASH_REGIONS_H

#include "scrim.h"

/* A rectangle of the luma plane, in samples, and which detector proposed it.
 * For SCRIM__REG_OVERLAY, (ox, oy, ow, oh) is a semi-transparent box found
 * inside (x, y, w, h) that is undone before hashing. */
typedef struct scrim__region {
    int x, y, w, h;
    int kind;
    int ox, oy, ow, oh;
} scrim__region;

enum {
    SCRIM__REG_FULL = 0,    /* the whole plane (what scrim hashes today) */
    SCRIM__REG_TRIM = 1,    /* near-uniform borders of any colour removed */
    SCRIM__REG_BLOCK = 2,   /* the largest busy block between flat bands */
    SCRIM__REG_SHARP = 4,   /* the sharp part of a blurred-background frame */
    SCRIM__REG_OVERLAY = 8, /* a semi-transparent box (watermark) undone */
};

/* At most this many regions besides the whole plane. */
#define SCRIM__REGIONS_MAX 3

/* Candidate regions of the w x h plane `luma` (row-major, values 0..255),
 * whole plane excluded, duplicates merged, the most specific first.  Writes
 * at most `max` into out and returns how many (0 when the plane is a plain
 * picture, the usual case).  Reads the plane only. */
int scrim__regions_find(const float *luma, int w, int h, scrim__region *out,
                        int max);

/* PDQ of one region: the sub-plane is copied (and for an overlay, the box
 * undone) into `scratch` (w * h floats, or NULL to allocate) and hashed. */
int scrim__region_hash(const float *luma, int w, int h, const scrim__region *r,
                       float *scratch, scrim_pdq *hash, int *quality,
                       scrim_pdq dihedral[SCRIM_DIH_COUNT]);

/* Regions whose PDQ quality is lower are not looked up (a flat area must
 * never become a query). */
#define SCRIM__REGION_MIN_QUALITY 50

/* ---- index side ---------------------------------------------------------- */

typedef struct scrim__variant {
    char name[16]; /* "crop-5", "rot+4", ... */
    scrim_pdq hash;
    int quality;
} scrim__variant;

/* The extra hashes to store for an original, from its PDQ luma plane (w x h)
 * and the file's size (file_w x file_h: the plane may be a squash, and
 * rotations must be done in the picture's true geometry).  `set` is a comma
 * list of variant names (NULL = SCRIM__VARIANTS_DEFAULT):
 *   crop-P      P% removed from each side (P integer, e.g. crop-5, crop-10)
 *   rot+D/rot-D rotation by D degrees about the centre, black corners, same
 *               size (what an editor's "straighten" without crop gives)
 *   rotz+D      the same rotation zoomed in until no corner is left
 * Returns the number written (at most max), or a negative SCRIM_E* code. */
#define SCRIM__VARIANTS_DEFAULT SCRIM_VARIANTS_DEFAULT
int scrim__index_variants(const float *luma, int w, int h, int file_w,
                          int file_h, const char *set, scrim__variant *out,
                          int max);

#endif
