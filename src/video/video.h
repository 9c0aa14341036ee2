/* video.h - PDQ of one decoded video frame, and the FFmpeg set-up shared by
 * video/ and preview/.  Not public API. */
#ifndef SCRIM_VIDEO_H_PRIVATE
#define SCRIM_VIDEO_H_PRIVATE

#include "scrim.h"

#include <stdio.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>

/* The YUV -> RGB24 (or RGBA) conversion at native size of the reference:
 * swscale with SWS_AREA, and FFmpeg's C code, which is what Meta's published
 * frame hashes were made with (an x86 build of the reference, with swscale's
 * SIMD, is up to 6 bits off them).  swscale picks its code from the CPU flags
 * when a context is made, so the flags are forced to none for that moment,
 * under a lock that also covers scrim__avcodec_open: a decoder opened in that
 * window would lose its SIMD. */
struct SwsContext *scrim__sws_reference(struct SwsContext *ctx, int w, int h,
                                        int src_format, int dst_format);
int scrim__avcodec_open(AVCodecContext *dec, const AVCodec *codec);

/* Scratch buffers reused from frame to frame of one video. */
struct scrim__frame_hasher;
struct scrim__frame_hasher *scrim__frame_hasher_new(void);
void scrim__frame_hasher_free(struct scrim__frame_hasher *h);

/* The picture inside a video's letterbox or pillarbox bars, in one frame. */
typedef struct scrim__frame_inner {
    int found;              /* bars were found: the rest is set */
    int x, y, w, h;         /* the picture's rectangle in the frame */
    scrim_pdq pdq;
    int quality;
} scrim__frame_inner;

/* The hasher's luma plane for a width x height frame (NULL: out of
 * memory), for the caller to fill (rows of width floats, as
 * scrim__luma_rgb24 makes them) before scrim__frame_hash_luma. */
float *scrim__frame_luma(struct scrim__frame_hasher *h, int width, int height);
/* scrim__frame_hash_rgb of the frame whose luma the caller put in
 * scrim__frame_luma's plane. */
int scrim__frame_hash_luma(struct scrim__frame_hasher *h, int width, int height,
                           scrim_pdq *pdq, int *quality,
                           scrim__frame_inner *inner);

/* PDQ of packed RGB24 pixels: the same hash and quality as
 * scrim_pdq_hash_pixels() on the same pixels.  With inner non-NULL, the
 * frame also updates the video's framing (the bars every frame with a
 * picture has shown so far), and when there is one, inner gets the PDQ of
 * the picture inside it. */
int scrim__frame_hash_rgb(struct scrim__frame_hasher *h, const uint8_t *rgb,
                          int width, int height, size_t stride, scrim_pdq *pdq,
                          int *quality, scrim__frame_inner *inner);

/* Untrusted media opened by FFmpeg (input.c): an AVFormatContext reading
 * from memory or from a FILE through its own AVIOContext, so that FFmpeg
 * opens nothing by name.  Demuxers are refused every other file they try to
 * open (playlists, references: AVERROR(EPERM)), and every blocking FFmpeg
 * call on fmt is interrupted once the monotonic clock passes deadline.
 *
 * Set the source (data and len, or f and fsize: a regular file of fsize
 * bytes, read and seeked with stdio) and deadline, then call
 * scrim__input_open after scrim__av_load; scrim__input_close releases it
 * whatever open returned (a zeroed struct too, but not before
 * scrim__av_load has succeeded).  The struct must not move
 * while open: FFmpeg holds pointers into it. */
struct scrim__input {
    const uint8_t *data;  /* memory input, or NULL */
    size_t len;
    FILE *f;              /* file input (not closed here) */
    int64_t fsize;
    double deadline;      /* scrim__mono_now() seconds */
    AVFormatContext *fmt; /* after a successful open */
    /* what the caller reads and decodes it with, allocated by the caller
     * (each may stay NULL) and freed with it by scrim__input_close */
    AVPacket *pkt;
    AVFrame *frame;
    AVCodecContext *dec;
    /* private */
    size_t pos;
    AVIOContext *avio;
};

/* Limits set on the context before avformat_open_input; 0 (NULL) leaves
 * FFmpeg's default. */
struct scrim__input_opts {
    int64_t probe_size;           /* bytes read to find the format */
    int64_t max_analyze_duration; /* AV_TIME_BASE units of stream probing */
    int max_streams;              /* streams a demuxer may create */
    const char *formats;          /* the demuxers allowed (format_whitelist) */
};

/* SCRIM_OK with in->fmt open; SCRIM_ENOMEM (no message); or SCRIM_EFORMAT
 * when avformat_open_input fails, *averror (unless NULL) getting its code
 * (in->fmt is then NULL).  No message is written: callers word their own. */
int scrim__input_open(struct scrim__input *in, const struct scrim__input_opts *o,
                      int *averror);
void scrim__input_close(struct scrim__input *in);

/* Seconds of the monotonic clock, the time base of deadlines. */
double scrim__mono_now(void);
/* Non-zero once the monotonic clock has passed *(const double *)deadline
 * (FFmpeg's interrupt callback). */
int scrim__past_deadline(void *deadline);

/* Animated WebP (anim.c): frames from libvips, sampled and hashed
 * as video frames.  o has every limit resolved. */
int scrim__is_webp(const void *buf, size_t len);
int scrim__anim_hash_buffer(const void *buf, size_t len,
                            const scrim_video_opts *o, scrim_vpdq *out,
                            char *err, size_t errlen);

#endif
