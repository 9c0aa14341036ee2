/* frame.c - PDQ of decoded video frames: the same hash as
 * scrim_pdq_hash_pixels(), with scratch planes kept from frame to frame, and
 * straight from the Y plane of YUV frames (no RGB round trip).  The filter
 * itself is pdq.c's (scrim__pdq_hash_plane). */
#include "scrim.h"
#include "base/base.h"
#include "hash/hash.h"
#include "decode/decode.h"
#include "video/video.h"

#include <libavutil/cpu.h>
#include "base/lazy_av.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t cpu_flags_lock = PTHREAD_MUTEX_INITIALIZER;

struct SwsContext *scrim__sws_reference(struct SwsContext *ctx, int w, int h,
                                        int src_format, int dst_format)
{
    pthread_mutex_lock(&cpu_flags_lock);
    av_force_cpu_flags(0);
    ctx = sws_getCachedContext(ctx, w, h, src_format, w, h, dst_format,
                               SWS_AREA, NULL, NULL, NULL);
    av_force_cpu_flags(-1); /* detected again on the next use */
    pthread_mutex_unlock(&cpu_flags_lock);
    return ctx;
}

int scrim__avcodec_open(AVCodecContext *dec, const AVCodec *codec)
{
    pthread_mutex_lock(&cpu_flags_lock);
    int r = avcodec_open2(dec, codec, NULL);
    pthread_mutex_unlock(&cpu_flags_lock);
    return r;
}

struct scrim__frame_hasher {
    scrim__pdq_scratch s;
};

struct scrim__frame_hasher *scrim__frame_hasher_new(void)
{
    return calloc(1, sizeof(struct scrim__frame_hasher));
}

void scrim__frame_hasher_free(struct scrim__frame_hasher *h)
{
    if (!h)
        return;
    scrim__pdq_scratch_free(&h->s);
    free(h);
}

int scrim__frame_hash_rgb(struct scrim__frame_hasher *h, const uint8_t *rgb,
                          int width, int height, size_t stride, scrim_pdq *pdq,
                          int *quality)
{
    if (width <= 0 || height <= 0)
        return SCRIM_EINVAL;
    if (scrim__pdq_reserve(&h->s, width, height))
        return SCRIM_ENOMEM;
    if (scrim__luma_plane(rgb, width, height, 3, stride, h->s.a))
        return SCRIM_ENOMEM;
    return scrim__pdq_hash_plane(&h->s, width, height, pdq, quality, NULL);
}
