/* video.h - PDQ of one decoded video frame, and the FFmpeg set-up shared by
 * video/ and preview/.  Not public API. */
#ifndef SCRIM_VIDEO_H_PRIVATE
#define SCRIM_VIDEO_H_PRIVATE

#include "scrim.h"

#include <libavcodec/avcodec.h>
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

/* PDQ of packed RGB24 pixels: the same hash and quality as
 * scrim_pdq_hash_pixels() on the same pixels. */
int scrim__frame_hash_rgb(struct scrim__frame_hasher *h, const uint8_t *rgb,
                          int width, int height, size_t stride, scrim_pdq *pdq,
                          int *quality);


/* Animated WebP (anim.c): frames from libvips, sampled and hashed
 * as video frames.  o has every limit resolved. */
int scrim__is_webp(const void *buf, size_t len);
int scrim__anim_hash_buffer(const void *buf, size_t len,
                            const scrim_video_opts *o, scrim_vpdq *out,
                            char *err, size_t errlen);

#endif
