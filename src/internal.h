/* internal.h - helpers shared by the library's modules; not public API. */
#ifndef SCRIM_INTERNAL_H
#define SCRIM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "scrim.h"


/* snprintf into an optional error buffer. */
void scrim__seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));


/* ---- PDQ internals shared with the video frame hasher (pdq.c) ---------- */

/* Scratch planes for PDQ, kept between calls where many images of one size
 * are hashed (video frames). */
typedef struct scrim__pdq_scratch {
    float *a, *b;   /* two planes of at least width * height floats */
    float *sums;    /* filter buffers: 16 floats per row or column */
    int *keep;      /* two ints per row or column */
    size_t cap, side;
} scrim__pdq_scratch;

int scrim__pdq_reserve(scrim__pdq_scratch *s, int width, int height);
void scrim__pdq_scratch_free(scrim__pdq_scratch *s);

/* Luma of packed 8-bit pixels (1, 3 or 4 channels) exactly as the reference
 * computes it, into out (height rows of width). */
int scrim__pdq_luma(const uint8_t *px, int width, int height, int channels,
                     size_t stride, float *out);

/* PDQ of the luma plane in s->a (height rows of width).  Both planes are
 * overwritten. */
int scrim__pdq_hash_plane(scrim__pdq_scratch *s, int width, int height,
                          scrim_pdq *hash, int *quality,
                          scrim_pdq dihedral[SCRIM_DIH_COUNT]);

/* The JPEG fast path (jpeg.c).  scrim__jpeg_load returns SCRIM__JPEG_OTHER,
 * having decoded nothing, for JPEGs it leaves to libvips (CMYK, YCCK). */
#define SCRIM__JPEG_OTHER 1
int scrim__jpeg_is(const void *buf, size_t len);
/* JPEG DCT shrink (1, 2, 4 or 8) keeping the longest side >= min_side. */
int scrim__jpeg_shrink(int w, int h, int min_side);
int scrim__jpeg_load(const void *buf, size_t len, uint64_t max_pixels,
                     int min_side, scrim_image *out, char *err, size_t errlen);

#endif
