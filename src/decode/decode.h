/* decode.h - turning an upload's bytes into pixels (libvips, the JPEG fast
 * path) and pixels into the luma PDQ hashes.  Not public API. */
#ifndef SCRIM_DECODE_H
#define SCRIM_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "scrim.h"

/* ---- luma as PDQ sees it (luma.c) ------------------------------------------ */

/* A plane of luma samples: height rows of width floats (malloc'd), taken
 * from an image whose file is file_width x file_height. */
typedef struct scrim__luma {
    float *plane;
    int width, height;
    int file_width, file_height;
} scrim__luma;

/* Luma of packed 8-bit pixels (1, 3 or 4 channels) exactly as the reference
 * computes it, into out (height rows of width). */
int scrim__luma_plane(const uint8_t *px, int width, int height, int channels,
                     size_t stride, float *out);

/* o[j] = luma of pixel j of a row of n packed RGB24 pixels (the same
 * floats as scrim__luma_row); reads only the row's 3 * n bytes. */
void scrim__luma_rgb24(const uint8_t *row, int n, float *o);

/* o[j] = luma of the pixel at byte offset off[j] of row, for j < n; avail
 * is how many bytes from row on may be read (4 are read per pixel where
 * they are available). */
void scrim__luma_row(const uint8_t *row, const int *off, int n,
                         int channels, size_t avail, float *o);

/* o[j] = luma at column xs[j] (j < n) of a w-pixel row of a YCbCr JPEG,
 * from libjpeg's raw planes, with the RGB that libjpeg's fancy upsampling
 * and integer YCbCr -> RGB would have made.  y is the luma row; cb[0] and
 * cr[0] the chroma row nearest to it, cb[1] and cr[1] the next nearest (the
 * same row where chroma is not subsampled vertically), cw samples each; h2
 * and v2: chroma halved across and down.  plan is scrim__luma_ycc_plan(xs,
 * n, w); scratch holds scrim__luma_ycc_scratch(w, cw) bytes. */
enum { SCRIM__YCC_ANY, SCRIM__YCC_EVERY, SCRIM__YCC_EVEN };
int scrim__luma_ycc_plan(const int *xs, int n, int w);
size_t scrim__luma_ycc_scratch(int w, int cw);
void scrim__luma_ycc(const uint8_t *y, const uint8_t *const cb[2],
                         const uint8_t *const cr[2], int w, int cw, int h2,
                         int v2, int plan, void *scratch, const int *xs, int n,
                         float *o);

/* The pixels PDQ takes from a decoded image of w x h whose file is fw x fh:
 * all of them up to 512 px a side, else the reference CLI's nearest-
 * neighbour 512x512 sample.  Columns xs[0..*nx), rows ys[0..*ny)
 * (non-decreasing), at most 512 each. */
#define SCRIM__SQUASH 512
void scrim__luma_samples(int fw, int fh, int w, int h, int *xs, int *nx,
                        int *ys, int *ny);

/* Luma of rows ys[i] (or i, when ys is NULL) and columns xs[j] (or j) of
 * packed pixels into out (ny rows of nx). */
int scrim__luma_sampled(const uint8_t *px, int channels, size_t stride,
                        const int *xs, int nx, const int *ys, int ny,
                        float *out);

/* ---- images (image.c, jpeg.c, jpeg_huff.c) ---------------------------------- */

/* What bounds one decode: scrim_decode_opts with its defaults filled in
 * (scrim__decode_limits).  When hashing, never shrink; when only loading,
 * shrink to SCRIM_DEFAULT_MIN_SIDE. */
typedef struct scrim__limits {
    uint64_t max_pixels;
    int min_side;
    uint64_t max_memory;  /* bytes held whole (pixels, coefficients) */
    double deadline;      /* scrim_now() to stop at; 0: never */
    int (*reserve)(void *arg, int64_t bytes, char *err, size_t errlen);
    void *reserve_arg;
} scrim__limits;
void scrim__decode_limits(const scrim_decode_opts *opts, int hashing,
                          scrim__limits *lim);
/* Before allocating `bytes` that a decode holds whole (`what` names them in
 * the message): SCRIM_ETOOBIG over max_memory, else the reserve hook's
 * answer.  After 0, scrim__decode_release(lim, bytes) once they are freed. */
int scrim__decode_reserve(const scrim__limits *lim, uint64_t bytes,
                          const char *what, char *err, size_t errlen);
void scrim__decode_release(const scrim__limits *lim, uint64_t bytes);
/* 1 once lim's deadline has passed. */
int scrim__decode_late(const scrim__limits *lim);
/* scrim_image_load_buffer with scrim__decode_limits' defaults for hashing
 * (hashing = 1: full size) or for loading only (0). */
int scrim__image_load(const void *buf, size_t len,
                      const scrim_decode_opts *opts, int hashing,
                      scrim_image *out, char *err, size_t errlen);

/* The JPEG fast path (jpeg.c).  scrim__jpeg_load returns SCRIM__JPEG_OTHER,
 * having decoded nothing, for JPEGs it leaves to libvips (CMYK, YCCK). */
#define SCRIM__JPEG_OTHER 1
/* Internal to jpeg.c: its own Huffman decoder gave up on a file (damaged or
 * unusual data), which is then decoded again with libjpeg's. */
#define SCRIM__JPEG_SLOW 2
/* jpeg_huff.c: scrim's Huffman decoder for single-scan baseline JPEGs, put
 * in place of libjpeg's by scrim__jhuff_attach (after jpeg_start_decompress;
 * NULL: left to libjpeg).  fail is called, and must not return, on data it
 * leaves to libjpeg.  The result is freed with free() after the decode.
 * scrim__jpeg_fast_huff = 0 turns it off (tests compare both ways). */
struct jpeg_decompress_struct;
typedef struct scrim__jhuff scrim__jhuff;
scrim__jhuff *scrim__jhuff_attach(struct jpeg_decompress_struct *c,
                                  const void *buf, size_t len,
                                  void (*fail)(struct jpeg_decompress_struct *));
extern int scrim__jpeg_fast_huff;
/* Decodes it was attached to, and of those, the ones it gave up (tests). */
extern unsigned long scrim__jhuff_counts[2];
/* One 8-bit CMYK sample to RGB as the reference CLI's decoder (ImageMagick 6,
 * no colour management) makes it, from the amounts of paper left uncovered
 * (255 - ink): round(c * k / 255).  For 8-bit samples this is exactly its
 * formula on 16-bit quanta (image.c, cmyk_rows; checked on all 65,536 pairs).
 * Shared by CMYK JPEGs (whose Adobe-inverted samples are such amounts) and
 * CMYK TIFFs. */
static inline uint8_t scrim__cmyk8(unsigned c_free, unsigned k_free)
{
    return (uint8_t)((c_free * k_free + 127) / 255);
}

int scrim__jpeg_is(const void *buf, size_t len);
/* JPEG DCT shrink (1, 2, 4 or 8) keeping the longest side >= min_side. */
int scrim__jpeg_shrink(int w, int h, int min_side);
int scrim__jpeg_load(const void *buf, size_t len, const scrim__limits *lim,
                     scrim_image *out, char *err, size_t errlen);
/* The luma of PDQ's samples of a JPEG (scrim__luma_samples' grid), the very
 * values scrim__luma_sampled would give from scrim__jpeg_load's pixels, but
 * without keeping the image: made from rows as they come or, for the usual
 * YCbCr layouts, from libjpeg's raw planes.  out->plane is malloc'd (the
 * caller frees it).  SCRIM__JPEG_OTHER for JPEGs left to libvips. */
int scrim__jpeg_luma(const void *buf, size_t len, const scrim__limits *lim,
                     scrim__luma *out, char *err, size_t errlen);

#endif
