/* video_frame.c - PDQ of decoded video frames: the same hash as
 * scrim_pdq_hash_pixels(), with scratch planes kept from frame to frame, and
 * straight from the Y plane of YUV frames (no RGB round trip).  The filter
 * itself is pdq.c's (scrim__pdq_hash_plane). */
#include "scrim.h"
#include "internal.h"
#include "video_frame.h"

#include <stdlib.h>
#include <string.h>

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
    if (scrim__pdq_luma(rgb, width, height, 3, stride, h->s.a))
        return SCRIM_ENOMEM;
    return scrim__pdq_hash_plane(&h->s, width, height, pdq, quality, NULL);
}

/* Luma from Y: (Y - off) * scale clamped to [0, 255]. */
static void y_to_luma(const uint8_t *y, size_t stride, int width, int height,
                      float off, float scale, float *out)
{
    for (int i = 0; i < height; i++) {
        const uint8_t *r = y + (size_t)i * stride;
        float *o = out + (size_t)i * width;
        for (int j = 0; j < width; j++) {
            float v = ((float)r[j] - off) * scale;
            o[j] = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
        }
    }
}

int scrim__frame_hash_y(struct scrim__frame_hasher *h, const uint8_t *y,
                        size_t stride, int width, int height, int full_range,
                        scrim_pdq *pdq, int *quality)
{
    if (width <= 0 || height <= 0)
        return SCRIM_EINVAL;
    if (scrim__pdq_reserve(&h->s, width, height))
        return SCRIM_ENOMEM;
    /* BT.601 YUV -> RGB then 0.299 R + 0.587 G + 0.114 B gives back the
     * scaled Y (up to rounding and clipping of R, G, B): skip the round trip. */
    const float scale = full_range ? 1.0f : 255.0f / 219.0f;
    const float off = full_range ? 0.0f : 16.0f;
    y_to_luma(y, stride, width, height, off, scale, h->s.a);
    return scrim__pdq_hash_plane(&h->s, width, height, pdq, quality, NULL);
}
