/* scrim/video.h - vPDQ: PDQ hashes of sampled video frames, the vPDQ text
 * format, video-to-video comparison, and media-kind sniffing. */
#ifndef SCRIM_VIDEO_H
#define SCRIM_VIDEO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "scrim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- media kind ----------------------------------------------------------- */

enum scrim_media_kind {
    SCRIM_MEDIA_UNKNOWN = 0,
    SCRIM_MEDIA_IMAGE,  /* a still image (a one-frame GIF/WebP included) */
    SCRIM_MEDIA_VIDEO   /* MP4/MOV, MKV/WebM, AVI, MPEG-TS, animated GIF/WebP */
};

/* Sniff the kind of media from its first bytes (the whole buffer is needed
 * only for GIF/WebP, whose frames are counted).  Video containers are
 * recognised by their magic numbers; images by scrim_image_sniff(). */
int scrim_media_sniff(const void *buf, size_t len);
const char *scrim_media_kind_name(int kind); /* "image", "video", "unknown" */

/* ---- a video's vPDQ hash ------------------------------------------------- */

/* One sampled frame. */
typedef struct scrim_vframe {
    int frame_number;   /* 0-based, in presentation order */
    int quality;        /* PDQ quality 0..100 */
    scrim_pdq pdq;
    double seconds;     /* frame_number / frame rate, as the reference */
} scrim_vframe;

/* A video's frames in frame order, with what was learnt while decoding.
 * Free with scrim_vpdq_free(). */
typedef struct scrim_vpdq {
    scrim_vframe *frames;
    size_t count, cap;
    double fps;              /* frame rate used for sampling (0 if unknown) */
    double duration;         /* seconds, from the container (0 if unknown) */
    int width, height;       /* of the video stream */
    long frames_decoded;     /* decoded frames (skipped ones not counted) */
    long corrupt_packets;    /* packets/frames the decoder rejected */
    char format[32];         /* demuxer: "mov", "matroska", "avi", ... */
    char codec[32];          /* "h264", "vp9", ... */
    /* With scrim_video_opts.framing, when letterbox or pillarbox bars were
     * found: the frames as they look inside the bars (a frame hashed before
     * the bars were known, or without them, as it is), one per frame,
     * and the picture's rectangle in the last frame; else inner_count 0. */
    scrim_vframe *inner;
    size_t inner_count;
    int inner_x, inner_y, inner_w, inner_h;
} scrim_vpdq;

void scrim_vpdq_free(scrim_vpdq *v);
/* Append a frame (growing the array).  0 or SCRIM_ENOMEM. */
int scrim_vpdq_append(scrim_vpdq *v, const scrim_vframe *f);

/* ---- frame sampling --------------------------------------------------------- */

#define SCRIM_VIDEO_DEFAULT_SECONDS_PER_HASH 1.0
#define SCRIM_VIDEO_DEFAULT_MAX_DURATION 3600.0     /* seconds */
#define SCRIM_VIDEO_DEFAULT_MAX_SIDE 8192           /* pixels, either side */
#define SCRIM_VIDEO_DEFAULT_MAX_PIXELS (7680 * 4320) /* per frame: 8K UHD */
#define SCRIM_VIDEO_DEFAULT_MAX_FRAMES 10000         /* frames hashed */
#define SCRIM_VIDEO_DEFAULT_PROBE_SIZE (5 << 20)     /* bytes */
#define SCRIM_VIDEO_DEFAULT_MAX_STREAMS 16
#define SCRIM_VIDEO_DEFAULT_TIME_BUDGET 120.0        /* seconds, wall clock */

typedef struct scrim_video_opts {
    double seconds_per_hash; /* vPDQ's s: frame n is hashed when
                                n % max(1, (int)(s * fps)) == 0; 0 = every frame */
    int keyframes_only;      /* hash key frames only; others are not decoded */
    int threads;             /* decoder threads: 0 = automatic, 1 = one */
    /* Limits for untrusted input; 0 means the default above. */
    double max_duration;
    int max_side;
    uint64_t max_pixels;
    int max_frames;
    int64_t probe_size;
    int max_streams;
    double time_budget;      /* seconds of wall clock for the whole decode */
    double deadline;         /* scrim_now() to stop at, if sooner (0: none) */
    int framing;             /* also hash the picture inside letterbox or
                                pillarbox bars (scrim_vpdq.inner) */
} scrim_video_opts;

/* Fill *o with the defaults (s = 1, every limit at its default). */
void scrim_video_opts_default(scrim_video_opts *o);

/* Decode a video from memory (through a custom AVIOContext: nothing is written
 * to disk) or from a file, and hash the sampled frames: each is converted to
 * RGB at its native size and hashed with PDQ.  opts may be NULL (defaults).
 * *out is initialised here; free it with scrim_vpdq_free() whatever the result.
 * Errors: SCRIM_EFORMAT (not a video container / no decodable video stream),
 * SCRIM_ETOOBIG (a limit), SCRIM_ECORRUPT (truncated or no frame decodable),
 * SCRIM_ETIMEOUT (decode time budget), SCRIM_EIO, SCRIM_ENOMEM; err names the
 * problem.  Corrupt packets inside an otherwise good stream are skipped and
 * counted in out->corrupt_packets.  Thread-safe (one call per thread). */
int scrim_video_hash_buffer(const void *buf, size_t len,
                            const scrim_video_opts *opts, scrim_vpdq *out,
                            char *err, size_t errlen);
int scrim_video_hash_file(const char *path, const scrim_video_opts *opts,
                          scrim_vpdq *out, char *err, size_t errlen);

/* ---- the vPDQ text format ------------------------------------------------------ */

/* Parse the reference's hash file: one `FRAME,QUALITY,HASH,SECONDS` line per
 * frame (blank lines and '#' comments skipped).  On a malformed line returns
 * SCRIM_EINVAL with "line N: ..." in err.  *out is initialised here. */
int scrim_vpdq_parse(const char *text, size_t len, scrim_vpdq *out,
                     char *err, size_t errlen);
int scrim_vpdq_load_file(const char *path, scrim_vpdq *out, char *err,
                         size_t errlen);
/* True if the bytes look like a vPDQ hash file (first non-comment line). */
int scrim_vpdq_sniff(const void *buf, size_t len);
/* Write the frames as vPDQ lines (3-decimal seconds).  0 or SCRIM_EIO. */
int scrim_vpdq_write(FILE *f, const scrim_vpdq *v);
/* {"kind": "video", "fps", "duration", "width", "height", "frames_decoded",
 *  "corrupt_packets", "frames": [{"frame", "quality", "hash", "seconds"}]} */
json_t *scrim_vpdq_json(const scrim_vpdq *v);

/* ---- comparison ----------------------------------------------------------------- */

#define SCRIM_VPDQ_MIN_QUALITY 50
#define SCRIM_VPDQ_MAX_DISTANCE 31
#define SCRIM_VPDQ_QUERY_PERCENT 80.0
#define SCRIM_VPDQ_COMPARED_PERCENT 0.0

/* vPDQ's brute-force measure (python-threatexchange): frames with an exact
 * duplicate hash earlier in the same video are dropped, then frames of
 * quality < min_quality; query_percent is the share of the remaining query
 * frames within max_distance of some remaining compared frame, and
 * compared_percent the converse.  A side with no frame left gives 0.
 * Returns 0 or SCRIM_ENOMEM. */
int scrim_vpdq_compare(const scrim_vpdq *query, const scrim_vpdq *compared,
                        int min_quality, int max_distance,
                        double *query_percent, double *compared_percent);
/* The same, stopping with SCRIM_ETIMEOUT once scrim_now() passes deadline
 * (0: never); the work is |query| x |compared| distances, so a caller
 * facing untrusted input also caps the frames of each side. */
int scrim_vpdq_compare_until(const scrim_vpdq *query, const scrim_vpdq *compared,
                             int min_quality, int max_distance, double deadline,
                             double *query_percent, double *compared_percent);

/* ---- video lists: import, export (src/index/vpdq_list.c) -------------------- */

/* Add the videos of a vPDQ text to an import: one video entry per file, with
 * id `id` (required), or, when the text holds "# video: ID" section lines
 * (as scrim_vpdq_export_entry writes them), one entry per section with that
 * ID.  *videos (may be NULL) gets the number of entries added or found
 * duplicate.  Errors name the line; the caller then aborts the import. */
int scrim_vpdq_import(scrim_import *imp, const void *buf, size_t len,
                      const char *id, const char *label, size_t *videos,
                      char *err, size_t errlen);
/* The store's video export hook (scrim_store_set_video_export): writes
 * "# video: ID" and the entry's vPDQ lines.  Frame numbers are not stored,
 * so FRAME is the frame's index within the entry. */
int scrim_vpdq_export_entry(FILE *out, const char *id, const char *label,
                            const scrim_store_frame *frames, size_t n);

/* ---- the daemon (src/server/video.c) ----------------------------------------- */

struct scrim_server;
/* Register the "video" media kind with scrimd (POST /v1/hash and /v1/match
 * take videos: frames at one a second, or per request ?seconds_per_hash=S
 * (0 = every frame, up to 3600) and ?keyframes=1, bad values a 400; matched
 * as scrim_video_match() does, plus the file's MD5/SHA-256) and POST /v1/compare ({"query": VPDQ_TEXT,
 * "compared": VPDQ_TEXT} -> {"query_match_percent", "compared_match_percent"}).
 * Call before scrim_server_run(). */
int scrim_video_server_attach(struct scrim_server *srv, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
