/* video_frame.h - PDQ of one decoded video frame (private to video*.c). */
#ifndef SCRIM_VIDEO_FRAME_H
#define SCRIM_VIDEO_FRAME_H

#include "scrim.h"

#include <libswscale/swscale.h>

/* swscale flags for the YUV -> RGB24 conversion at native size.  Accurate
 * rounding selects swscale's C conversion, as the reference's hashes were
 * made: 92% of frames bit-identical instead of about 46% with SIMD. */
#define SCRIM__SWS_FLAGS (SWS_BILINEAR | SWS_ACCURATE_RND)

/* Scratch buffers reused from frame to frame of one video. */
struct scrim__frame_hasher;
struct scrim__frame_hasher *scrim__frame_hasher_new(void);
void scrim__frame_hasher_free(struct scrim__frame_hasher *h);

/* PDQ of packed RGB24 pixels: the same hash and quality as
 * scrim_pdq_hash_pixels() on the same pixels. */
int scrim__frame_hash_rgb(struct scrim__frame_hasher *h, const uint8_t *rgb,
                          int width, int height, size_t stride, scrim_pdq *pdq,
                          int *quality);

/* PDQ of a frame from its 8-bit luma plane alone (YUV input), without the
 * RGB round trip: faster, a few bits from the RGB path at most. */
int scrim__frame_hash_y(struct scrim__frame_hasher *h, const uint8_t *y,
                        size_t stride, int width, int height, int full_range,
                        scrim_pdq *pdq, int *quality);

/* Animated WebP (src/video_anim.c): frames from libvips, sampled and hashed
 * as video frames.  o has every limit resolved. */
int scrim__is_webp(const void *buf, size_t len);
int scrim__anim_hash_buffer(const void *buf, size_t len,
                            const scrim_video_opts *o, scrim_vpdq *out,
                            char *err, size_t errlen);

#endif
