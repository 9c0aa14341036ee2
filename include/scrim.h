/* scrim.h - public API of libscrim: perceptual hashing (PDQ, vPDQ), decoding of
 * untrusted media, the LMDB hash-list store and its exact nearest-neighbour
 * index, and blurred previews.
 *
 * Conventions (as in LMDB and libuv):
 *  - Functions that can fail return int: 0 on success, a negative SCRIM_E*
 *    code on failure. scrim_strerror() maps a code to text.  Where a caller
 *    passes a `char *err, size_t errlen` buffer, a human-readable message that
 *    names the problem with the input is written there on failure.
 *  - Handles are opaque. Whoever creates a handle with an _open or _new call frees it
 *    with the matching _close or _free.
 */
#ifndef SCRIM_H
#define SCRIM_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SCRIM_VERSION "0.1.0"

/* ---- error codes ------------------------------------------------------- */
#define SCRIM_OK            0
#define SCRIM_EINVAL      (-1)  /* bad argument or malformed input text */
#define SCRIM_ENOMEM      (-2)  /* out of memory */
#define SCRIM_EIO         (-3)  /* cannot read / write a file */
#define SCRIM_EFORMAT     (-4)  /* not an image/video we can decode */
#define SCRIM_ETOOBIG     (-5)  /* over a configured size limit */
#define SCRIM_ECORRUPT    (-6)  /* truncated or corrupt media */
#define SCRIM_EDB         (-7)  /* database error */
#define SCRIM_ENOTFOUND   (-8)  /* no such list / entry / record */
#define SCRIM_EEXIST      (-9)  /* already exists */
#define SCRIM_ETIMEOUT   (-10)  /* time budget exhausted */
#define SCRIM_EBUSY      (-11)  /* a shared budget is spent: retry later */

const char *scrim_strerror(int code);
/* A short machine-readable name for a code ("too_large", "unsupported" ...). */
const char *scrim_errname(int code);

/* CLOCK_MONOTONIC in seconds: the clock of every deadline in this API
 * (scrim_decode_opts.deadline, scrim_video_opts.deadline, ...).  A caller
 * that must answer by some time passes now + its budget, and the loops that
 * can run long (decoding, frame sampling, video comparison, imports) stop
 * there with SCRIM_ETIMEOUT. */
double scrim_now(void);

/* ---- PDQ --------------------------------------------------------------- */

/* A 256-bit PDQ hash. Bit k (0..255) is bit (k & 15) of w[k >> 4]; this is the
 * reference's layout, and its hex form prints w[15] first. */
typedef struct scrim_pdq {
    uint16_t w[16];
} scrim_pdq;

#define SCRIM_PDQ_HEXLEN 64

/* The 8 dihedral variants, in the order of the reference's --pdqdih. */
enum scrim_dihedral {
    SCRIM_DIH_ORIGINAL = 0,
    SCRIM_DIH_ROTATE90,
    SCRIM_DIH_ROTATE180,
    SCRIM_DIH_ROTATE270,
    SCRIM_DIH_FLIPX,
    SCRIM_DIH_FLIPY,
    SCRIM_DIH_FLIPPLUS1,
    SCRIM_DIH_FLIPMINUS1,
    SCRIM_DIH_COUNT
};
const char *scrim_dihedral_name(int variant);

/* Hash a packed 8-bit image: `channels` is 1 (grey) or 3 (RGB) (4: RGBA, the
 * alpha byte is ignored), rows are `stride` bytes apart.  Images under 5 px on
 * a side give the all-zero hash with quality 0, as the reference does.
 * If `dihedral` is non-NULL it receives all 8 variants (dihedral[0] ==
 * *hash).  Returns 0 or SCRIM_ENOMEM / SCRIM_EINVAL. */
int scrim_pdq_hash_pixels(const uint8_t *pixels, int width, int height,
                          int channels, size_t stride, scrim_pdq *hash,
                          int *quality, scrim_pdq dihedral[SCRIM_DIH_COUNT]);

/* Hash the nx * ny grid of pixels px[ys[i]][xs[j]] (nearest-neighbour
 * resampling without a copy), e.g. the reference's 512x512 squash. */
int scrim_pdq_hash_sampled(const uint8_t *pixels, int channels, size_t stride,
                           const int *xs, int nx, const int *ys, int ny,
                           scrim_pdq *hash, int *quality,
                           scrim_pdq dihedral[SCRIM_DIH_COUNT]);

/* Same, from a float luma plane (row-major, width*height values).  The plane
 * is used as scratch space and is overwritten. */
int scrim_pdq_hash_luma(float *luma, int width, int height, scrim_pdq *hash,
                        int *quality, scrim_pdq dihedral[SCRIM_DIH_COUNT]);

/* 64 lowercase hex digits + NUL into out[65]. */
void scrim_pdq_to_hex(const scrim_pdq *h, char out[SCRIM_PDQ_HEXLEN + 1]);
/* Parse exactly 64 hex digits (either case). Returns 0 or SCRIM_EINVAL. */
int scrim_pdq_from_hex(const char *hex, size_t len, scrim_pdq *h);
int scrim_pdq_distance(const scrim_pdq *a, const scrim_pdq *b);
/* Packs into / from 32 bytes, most significant (hex-first) byte first. */
void scrim_pdq_to_bytes(const scrim_pdq *h, uint8_t out[32]);
void scrim_pdq_from_bytes(const uint8_t in[32], scrim_pdq *h);


/* ---- library set-up ------------------------------------------------------ */

/* Initialise libvips (untrusted loaders blocked, operation cache off) and
 * FFmpeg logging.  Call once before any decode; safe to call again. */
int scrim_init(const char *argv0);
/* The same, but libvips is started only when a decode first needs it (most
 * JPEGs never do): for short single-threaded runs such as the CLI, where
 * starting libvips is most of the start-up.  Multi-threaded programs should
 * call scrim_init (libvips wants to be started before other threads). */
int scrim_init_lazy(const char *argv0);
void scrim_shutdown(void);

/* ---- image decoding ----------------------------------------------------- */

#define SCRIM_DEFAULT_MAX_PIXELS 100000000ULL
/* Bytes one decode may allocate for what it holds whole: the decoded pixels
 * (when kept) and, for progressive and multi-scan JPEGs, libjpeg's
 * coefficients (width x height x components x 2 bytes, whatever the size of
 * the file: a 528-byte file can declare 100 megapixels). */
#define SCRIM_DEFAULT_MAX_DECODE_MEMORY (512ULL << 20)

typedef struct scrim_decode_opts {
    uint64_t max_pixels;  /* refuse images with more pixels (0 = default) */
    int min_side;         /* JPEG shrink-on-load keeps the longest side at
                             least this long; <0 = never shrink; 0 = the
                             default: never when hashing (hashes agree with
                             the reference's), SCRIM_DEFAULT_MIN_SIDE when
                             only loading (scrim_image_load_*) */
    int no_digests;       /* scrim_hash_image_buffer: leave md5 and sha256
                             empty (when only the PDQ is wanted) */
    int ignore_alpha;     /* images with alpha: keep the colour channels as
                             stored, as Meta's reference CLI does (its
                             ImageMagick decode drops alpha); default 0:
                             flattened onto white, as they are seen */
    int regions;          /* scrim_hash_image_buffer: also find the picture
                             inside the upload (borders or bars of any
                             colour, a page or frame around it, a blurred
                             copy of itself behind it) and hash it
                             (scrim_image_hashes.region) */
    uint64_t max_memory;  /* refuse (SCRIM_ETOOBIG) an image whose decode
                             needs more bytes than this, from its header,
                             before allocating them (0 = the default,
                             SCRIM_DEFAULT_MAX_DECODE_MEMORY) */
    double deadline;      /* scrim_now() at which decoding stops with
                             SCRIM_ETIMEOUT (0 = none) */
    /* Optional: a memory budget shared with other work.  Called with the
     * bytes a decode is about to allocate (> 0, the amount checked against
     * max_memory) before it allocates them, and with the same amount
     * negated once they are freed; a non-zero return (a SCRIM_E* code,
     * with a message in err) refuses the decode with that code. */
    int (*reserve)(void *arg, int64_t bytes, char *err, size_t errlen);
    void *reserve_arg;
} scrim_decode_opts;

/* Hashing decodes full-size pixels: the reference hashes a nearest-neighbour
 * 512x512 sample of them, and shrink-on-load (which averages neighbours)
 * moves hashes (a few bits at SCRIM_DEFAULT_MIN_SIDE, more at
 * SCRIM_FAST_MIN_SIDE, as `scrim hash --fast` uses).
 * Loading without hashing (previews) shrinks JPEGs of 4096 px and more. */
#define SCRIM_DEFAULT_MIN_SIDE 2048
#define SCRIM_FAST_MIN_SIDE 512

/* A decoded image: 8-bit pixels, 1 (grey) or 3 (sRGB) channels, packed rows,
 * alpha already flattened onto white.  width/height are of the decoded pixels,
 * which may be smaller than the file's (file_width/file_height) after
 * shrink-on-load.  Free with scrim_image_free(). */
typedef struct scrim_image {
    int width, height, channels;
    int file_width, file_height;
    uint8_t *pixels;
    char format[16];      /* "jpeg", "png", "webp", "gif", "tiff", "heif" */
} scrim_image;

/* Decode an image from memory / from a file.  Only the loaders above are
 * accepted; the format is sniffed from the bytes.  The header is read and the
 * pixel limit checked before any pixel is decoded.  On failure returns
 * SCRIM_EFORMAT (not an image we decode), SCRIM_ETOOBIG, SCRIM_ECORRUPT
 * (truncated / corrupt) or SCRIM_EIO, with a message in err. */
int scrim_image_load_buffer(const void *buf, size_t len,
                            const scrim_decode_opts *opts, scrim_image *out,
                            char *err, size_t errlen);
int scrim_image_load_file(const char *path, const scrim_decode_opts *opts,
                          scrim_image *out, char *err, size_t errlen);
void scrim_image_free(scrim_image *img);

/* True if the bytes look like an image format we decode. */
int scrim_image_sniff(const void *buf, size_t len);

/* Largest input the tools read whole (images and videos). */
#define SCRIM_MAX_INPUT_BYTES ((size_t)4 << 30)

/* Read a whole file ("-" = stdin) into a malloc'd buffer, refusing files
 * larger than max_bytes.  Caller frees *data. */
int scrim_read_file(const char *path, size_t max_bytes, uint8_t **data,
                    size_t *len, char *err, size_t errlen);

/* ---- digests and whole-image hashing ------------------------------------ */

/* Lowercase hex MD5 (33 bytes with NUL) and SHA-256 (65) of a buffer. */
void scrim_digest(const void *buf, size_t len, char md5[33], char sha256[65]);

/* A picture found inside an upload (scrim_decode_opts.regions): where it is,
 * in the file's pixels, what found it ("trim": borders or bars taken off;
 * "block": the picture between the bands of a page or post; "sharp": the
 * picture on a blurred background; "watermark": a semi-transparent box
 * undone), and its PDQ with the dihedral variants.
 * Only regions whose PDQ quality is at least 50 are kept. */
#define SCRIM_REGIONS_MAX 3
typedef struct scrim_region {
    int x, y, w, h;
    const char *kind;
    int quality;
    scrim_pdq dihedral[SCRIM_DIH_COUNT];
} scrim_region;

/* Everything scrim computes for one image upload. */
typedef struct scrim_image_hashes {
    scrim_pdq pdq;
    int quality;
    scrim_pdq dihedral[SCRIM_DIH_COUNT]; /* [0] == pdq */
    char md5[33], sha256[65];            /* of the bytes as uploaded */
    int width, height;                   /* of the file */
    char format[16];
    int nregions;                        /* regions found, when asked */
    scrim_region region[SCRIM_REGIONS_MAX];
} scrim_image_hashes;

/* PDQ of a decoded image as the reference CLI computes it: an image with a
 * side over 512 px is first squashed to 512x512 by nearest-neighbour sampling
 * (the reference's own step; partner lists were made that way). */
int scrim_pdq_hash_image(const scrim_image *img, scrim_pdq *hash, int *quality,
                         scrim_pdq dihedral[SCRIM_DIH_COUNT]);

/* Decode and hash an image in memory.  If `keep` is non-NULL the decoded
 * pixels are handed over to it (free with scrim_image_free), e.g. for a
 * preview, so that nothing is decoded twice. */
int scrim_hash_image_buffer(const void *buf, size_t len,
                            const scrim_decode_opts *opts,
                            scrim_image_hashes *out, scrim_image *keep,
                            char *err, size_t errlen);

/* Index-side variants: for a platform's own removed image, the hashes of the
 * copies an evader is likely to make that PDQ does not match (crops,
 * small rotations).  `set` is a comma list of names (NULL = the default,
 * SCRIM_VARIANTS_DEFAULT):
 *   crop-P   P% cut off each side (e.g. crop-5, crop-10)
 *   rot+D    turned D degrees clockwise (rot-D: anticlockwise) about the
 *            centre, same size, black corners
 *   rotz+D   the same, zoomed in until no corner is left
 * Unknown names are skipped.  out gets the image's own hashes (as
 * scrim_hash_image_buffer); v[0..*n) the variants whose PDQ quality is at
 * least 50 (at most max, at most SCRIM_VARIANTS_MAX). */
#define SCRIM_VARIANTS_MAX 16
#define SCRIM_VARIANTS_DEFAULT "crop-5,crop-10,rot+4,rot-4"
typedef struct scrim_variant {
    char name[16];
    scrim_pdq pdq;
    int quality;
} scrim_variant;
int scrim_hash_variants(const void *buf, size_t len, const char *set,
                        scrim_image_hashes *out, scrim_variant *v, int max,
                        int *n, char *err, size_t errlen);

/* The JSON form shared by the CLI and the daemon:
 * {"kind": "image", "pdq": [{"hash", "quality"}], "md5", "sha256", "width",
 *  "height"} plus "dihedral": [{"variant", "hash", "quality"}] when asked,
 *  and "regions": [{"hash", "quality", "region": {...}}] when found. */
json_t *scrim_image_hashes_json(const scrim_image_hashes *h, int dihedral);
/* {"x", "y", "w", "h", "kind"} of a region. */
json_t *scrim_region_json(const scrim_region *r);

#ifdef __cplusplus
}
#endif

/* The other modules of the library, each with its own header. */
#include "scrim/store.h"   /* LMDB hash lists and the PDQ index */
#include "scrim/video.h"   /* vPDQ frame sampling */
#include "scrim/match.h"   /* what an image or video matches */
#include "scrim/preview.h" /* blurred previews */
/* The daemon's pieces are in scrim/server.h and the review records in
 * scrim/review.h, included by the programs that serve them. */

#endif
