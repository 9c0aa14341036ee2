/* hash.h - the PDQ hasher's internals shared with the upload hasher
 * (hashes.c) and the video frame hasher (video/).  Not public API. */
#ifndef SCRIM_HASH_H
#define SCRIM_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "scrim.h"

/* Scratch planes for PDQ, kept between calls where many images of one size
 * are hashed (video frames). */
typedef struct scrim__pdq_scratch {
    float *a, *b;   /* two planes of at least width * height floats */
    float *sums;    /* filter buffers: tens of floats per row or column */
    int *keep;      /* two ints per row or column */
    size_t cap, side;
} scrim__pdq_scratch;

int scrim__pdq_reserve(scrim__pdq_scratch *s, int width, int height);
void scrim__pdq_scratch_free(scrim__pdq_scratch *s);

/* PDQ of the luma plane in s->a (height rows of width).  Both planes are
 * overwritten. */
int scrim__pdq_hash_plane(scrim__pdq_scratch *s, int width, int height,
                          scrim_pdq *hash, int *quality,
                          scrim_pdq dihedral[SCRIM_DIH_COUNT]);

/* The same of the plane src (height rows of width floats, row stride
 * `stride`), which may be s->a or a plane of the caller's, left as it is
 * unless it is s->a.  s must hold width x height (scrim__pdq_reserve), or
 * for a plane of the caller's, scrim__pdq_reserve_strided(width, height):
 * planes of max(width, height) x 64 floats are enough then (a video frame
 * of 1080p needs 0.5 MB instead of 16). */
int scrim__pdq_reserve_strided(scrim__pdq_scratch *s, int width, int height);
int scrim__pdq_hash_strided(scrim__pdq_scratch *s, const float *src,
                            size_t stride, int width, int height,
                            scrim_pdq *hash, int *quality,
                            scrim_pdq dihedral[SCRIM_DIH_COUNT]);

#endif
