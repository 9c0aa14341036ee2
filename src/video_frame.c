/* video_frame.c - PDQ of decoded video frames: the same hash as
 * scrim_pdq_hash_pixels(), with scratch planes kept from frame to frame, and
 * straight from the Y plane of YUV frames (no RGB round trip).  The filter
 * itself is pdq.c's (scrim__pdq_hash_plane). */
#include "scrim.h"
#include "internal.h"
#include "video_frame.h"

#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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
    scrim__pdq_luma(rgb, width, height, 3, stride, h->s.a);
    return scrim__pdq_hash_plane(&h->s, width, height, 0, pdq, quality, NULL);
}

/* Luma from Y: (Y - off) * scale clamped to [0, 255], written transposed
 * (out is width x height) to save the first transpose. */
static void y_to_luma_t(const uint8_t *y, size_t stride, int width, int height,
                        float off, float scale, float *out)
{
    int i = 0;
#ifdef __SSE2__
    const __m128i zero = _mm_setzero_si128();
    const __m128 vo = _mm_set1_ps(off), vs = _mm_set1_ps(scale);
    const __m128 lo = _mm_setzero_ps(), hi = _mm_set1_ps(255.0f);
    for (; i + 4 <= height; i += 4) {
        int j = 0;
        for (; j + 4 <= width; j += 4) {
            __m128 r[4];
            for (int k = 0; k < 4; k++) {
                int32_t b4;
                memcpy(&b4, y + (size_t)(i + k) * stride + j, 4);
                __m128i v = _mm_unpacklo_epi16(
                    _mm_unpacklo_epi8(_mm_cvtsi32_si128(b4), zero), zero);
                __m128 f = _mm_mul_ps(_mm_sub_ps(_mm_cvtepi32_ps(v), vo), vs);
                r[k] = _mm_min_ps(_mm_max_ps(f, lo), hi);
            }
            _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]);
            for (int k = 0; k < 4; k++)
                _mm_storeu_ps(out + (size_t)(j + k) * height + i, r[k]);
        }
        for (; j < width; j++)
            for (int k = i; k < i + 4; k++) {
                float v = ((float)y[(size_t)k * stride + j] - off) * scale;
                out[(size_t)j * height + k] = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
            }
    }
#endif
    for (; i < height; i++)
        for (int j = 0; j < width; j++) {
            float v = ((float)y[(size_t)i * stride + j] - off) * scale;
            out[(size_t)j * height + i] = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
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
    y_to_luma_t(y, stride, width, height, off, scale, h->s.b);
    return scrim__pdq_hash_plane(&h->s, width, height, 1, pdq, quality, NULL);
}
