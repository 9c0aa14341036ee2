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
#include <math.h>
#include <pthread.h>
#include <stddef.h>
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
    float *lum;            /* the frame's luma plane, kept while it is hashed */
    size_t lum_cap;
    int bar[4];            /* framing: top, bottom, left, right; -1 unknown */
};

struct scrim__frame_hasher *scrim__frame_hasher_new(void)
{
    struct scrim__frame_hasher *h = calloc(1, sizeof *h);
    if (h)
        h->bar[0] = h->bar[1] = h->bar[2] = h->bar[3] = -1;
    return h;
}

void scrim__frame_hasher_free(struct scrim__frame_hasher *h)
{
    if (!h)
        return;
    scrim__pdq_scratch_free(&h->s);
    free(h->lum);
    free(h);
}

/* ---- framing: letterbox and pillarbox bars -----------------------------------
 * A bar is a run of lines at an edge that are near-uniform (most samples
 * within a few levels of the line's median) and of one level from the edge
 * in (as cropdetect's black bars, but of any level: some bars are grey or
 * coloured).  Measured per frame, every fourth sample; the video's framing
 * is the narrowest bar each edge has shown in a frame with a picture, so
 * that a dark scene, whose edges look like bars, does not widen it. */
enum { BAR_SPREAD = 12, BAR_SHARE = 94 };

/* Is line (n samples, `step` floats apart) near-uniform around `level`
 * (or its own median when level < 0)?  *med gets the level used. */
static int flat_line(const float *p, int n, size_t step, float level,
                     float *med)
{
    float lo = 255, hi = 0, sum = 0;
    int k = 0;
    for (int i = 0; i < n; i += 4, k++) {
        float v = p[(size_t)i * step];
        sum += v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    float m = level >= 0 ? level : sum / (float)k;
    if (level < 0 && hi - lo > 4 * BAR_SPREAD)
        return 0;
    int near = 0;
    for (int i = 0; i < n; i += 4)
        near += fabsf(p[(size_t)i * step] - m) <= BAR_SPREAD;
    *med = m;
    return near * 100 >= BAR_SHARE * k;
}

/* How many lines from an edge are bar: lines `count` of n samples; line j
 * starts at first + j * next, its samples `step` apart. */
static int bar_depth(const float *first, ptrdiff_t next, int count, int n,
                     size_t step)
{
    float level;
    if (!flat_line(first, n, step, -1, &level))
        return 0;
    int d = 1;
    while (d < count && flat_line(first + d * next, n, step, level, &level))
        d++;
    return d;
}

static void framing_update(struct scrim__frame_hasher *h, const float *l, int w,
                           int ht)
{
    int d[4] = {bar_depth(l, w, ht, w, 1),
                bar_depth(l + (size_t)(ht - 1) * w, -w, ht, w, 1),
                bar_depth(l, 1, w, ht, (size_t)w),
                bar_depth(l + w - 1, -1, w, ht, (size_t)w)};
    /* a frame of one colour, or nearly, says nothing of the framing */
    if (d[0] + d[1] >= ht * 9 / 10 || d[2] + d[3] >= w * 9 / 10)
        return;
    for (int k = 0; k < 4; k++)
        h->bar[k] = h->bar[k] < 0 || d[k] < h->bar[k] ? d[k] : h->bar[k];
}

float *scrim__frame_luma(struct scrim__frame_hasher *h, int width, int height)
{
    size_t need = (size_t)width * (size_t)height;
    if (width <= 0 || height <= 0)
        return NULL;
    if (need > h->lum_cap) {
        float *p = realloc(h->lum, need * sizeof *p);
        if (!p)
            return NULL;
        h->lum = p;
        h->lum_cap = need;
    }
    return h->lum;
}

int scrim__frame_hash_luma(struct scrim__frame_hasher *h, int width, int height,
                           scrim_pdq *pdq, int *quality,
                           scrim__frame_inner *inner)
{
    if (width <= 0 || height <= 0 || (size_t)width * height > h->lum_cap)
        return SCRIM_EINVAL;
    if (scrim__pdq_reserve_strided(&h->s, width, height))
        return SCRIM_ENOMEM;
    const float *lum = h->lum;
    if (inner) {
        inner->found = 0;
        framing_update(h, lum, width, height);
        /* bars of at least 2% of the side on one edge or the other */
        int t = h->bar[0], b = h->bar[1], l = h->bar[2], r = h->bar[3];
        if (t >= 0 && (t + b >= height / 50 || l + r >= width / 50) &&
            height - t - b >= 16 && width - l - r >= 16) {
            inner->found = 1;
            inner->x = l, inner->y = t;
            inner->w = width - l - r, inner->h = height - t - b;
        }
    }
    /* Both hashes read the frame's plane in place (the picture inside the
     * bars through its row stride): the scratch planes take the passes. */
    int rc = scrim__pdq_hash_strided(&h->s, lum, (size_t)width, width, height,
                                     pdq, quality, NULL);
    if (rc || !inner || !inner->found)
        return rc;
    return scrim__pdq_hash_strided(&h->s, lum + (size_t)inner->y * width + inner->x,
                                   (size_t)width, inner->w, inner->h,
                                   &inner->pdq, &inner->quality, NULL);
}

int scrim__frame_hash_rgb(struct scrim__frame_hasher *h, const uint8_t *rgb,
                          int width, int height, size_t stride, scrim_pdq *pdq,
                          int *quality, scrim__frame_inner *inner)
{
    if (width <= 0 || height <= 0)
        return SCRIM_EINVAL;
    float *lum = scrim__frame_luma(h, width, height);
    if (!lum)
        return SCRIM_ENOMEM;
    for (int y = 0; y < height; y++)
        scrim__luma_rgb24(rgb + (size_t)y * stride, width, lum + (size_t)y * width);
    return scrim__frame_hash_luma(h, width, height, pdq, quality, inner);
}
