/* scrim/preview.h - blurred, pixelated, greyscale previews of matched media
 * (the review records that keep them are in scrim/review.h). */
#ifndef SCRIM_PREVIEW_H
#define SCRIM_PREVIEW_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

struct scrim_image;

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

/* The same, stopping with SCRIM_ETIMEOUT at `deadline` (scrim_now()
 * seconds; 0: none) when that comes before the 20 s budget: a daemon's
 * call passes its own (scrim_call.deadline). */
int scrim_preview_video_sheet_until(const void *buf, size_t len,
                                    const double *times, size_t ntimes,
                                    const scrim_preview_opts *o, double deadline,
                                    scrim_preview *sheet, scrim_preview *lighter,
                                    scrim_preview_sheet_info *info, char *err,
                                    size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
