/* video_frame.c - PDQ of decoded video frames, bit-identical to
 * scrim_pdq_hash_pixels() but faster on full-size frames.
 *
 * PDQ's Jarosz filter runs a box filter along rows, then columns, twice, and
 * samples 64x64 points.  A running sum along a row is a chain of dependent
 * float additions that cannot be vectorised, so here every pass runs down
 * columns (many independent sums side by side, as pdq.c's box_cols does) on a
 * transposed copy where a row pass is needed.  Each output still sees exactly
 * the reference's operations in the reference's order, so results agree bit
 * for bit.  The last two passes are computed only where the 64x64 samples
 * need them, and the 64x64 result is handed to scrim_pdq_hash_luma(), which
 * takes a 64x64 plane as already downsampled. */
#include "scrim.h"
#include "video_frame.h"

/* The column loops below must be vectorised to pay off; -O2's cost model
 * does not vectorise loops that need run-time alias or trip-count checks. */
#pragma GCC optimize("O3")

#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

struct scrim__frame_hasher {
    float *a, *b;    /* two w*h planes */
    float *sums;     /* one per column */
    size_t cap;      /* floats in each plane */
};

struct scrim__frame_hasher *scrim__frame_hasher_new(void)
{
    return calloc(1, sizeof(struct scrim__frame_hasher));
}

void scrim__frame_hasher_free(struct scrim__frame_hasher *h)
{
    if (!h)
        return;
    free(h->a);
    free(h->b);
    free(h->sums);
    free(h);
}

static int jarosz_window(int old_dim, int new_dim)
{
    return (old_dim + 2 * new_dim - 1) / (2 * new_dim);
}

/* out (cols x rows) = in (rows x cols) transposed, in blocks that stay in
 * cache (4x4 SSE transposes inside where available). */
static void transpose(const float *restrict in, float *restrict out, int rows,
                      int cols)
{
    enum { T = 32 };
    for (int i0 = 0; i0 < rows; i0 += T)
        for (int j0 = 0; j0 < cols; j0 += T) {
            int i1 = i0 + T < rows ? i0 + T : rows;
            int j1 = j0 + T < cols ? j0 + T : cols;
            int i = i0;
#ifdef __SSE2__
            for (; i + 4 <= i1; i += 4) {
                int j = j0;
                for (; j + 4 <= j1; j += 4) {
                    __m128 r0 = _mm_loadu_ps(in + (size_t)i * cols + j);
                    __m128 r1 = _mm_loadu_ps(in + (size_t)(i + 1) * cols + j);
                    __m128 r2 = _mm_loadu_ps(in + (size_t)(i + 2) * cols + j);
                    __m128 r3 = _mm_loadu_ps(in + (size_t)(i + 3) * cols + j);
                    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                    _mm_storeu_ps(out + (size_t)j * rows + i, r0);
                    _mm_storeu_ps(out + (size_t)(j + 1) * rows + i, r1);
                    _mm_storeu_ps(out + (size_t)(j + 2) * rows + i, r2);
                    _mm_storeu_ps(out + (size_t)(j + 3) * rows + i, r3);
                }
                for (; j < j1; j++)
                    for (int k = i; k < i + 4; k++)
                        out[(size_t)j * rows + k] = in[(size_t)k * cols + j];
            }
#endif
            for (; i < i1; i++)
                for (int j = j0; j < j1; j++)
                    out[(size_t)j * rows + i] = in[(size_t)i * cols + j];
        }
}

/* Box filter down every column of in (rows x cols), the window growing at
 * the top and shrinking at the bottom as in the reference.  Output row r is
 * written only if keep is NULL or keep[r]; when it is, outputs go to out row
 * (keep ? keep[r] - 1 : r). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* Twice the lanes where the CPU has AVX2; IEEE results are the same. */
#define WIDE __attribute__((target_clones("avx2", "default")))
#else
#define WIDE
#endif

WIDE static void box_down(const float *in, float *out, int rows, int cols, int win,
                     float *sums, const int *keep)
{
    int half = (win + 2) / 2;
    int n1 = half - 1, n2 = win - half + 1, n3 = rows - win, n4 = half - 1;
    int li = 0, ri = 0, oi = 0, count = 0;

    for (int j = 0; j < cols; j++)
        sums[j] = 0.0f;
    for (int i = 0; i < n1; i++, ri++) {
        const float *r = in + (size_t)ri * cols;
        for (int j = 0; j < cols; j++)
            sums[j] += r[j];
        count++;
    }
    for (int i = 0; i < n2; i++, ri++, oi++) {
        const float *r = in + (size_t)ri * cols;
        count++;
        for (int j = 0; j < cols; j++)
            sums[j] += r[j];
        if (!keep || keep[oi]) {
            float *o = out + (size_t)(keep ? keep[oi] - 1 : oi) * cols;
            for (int j = 0; j < cols; j++)
                o[j] = sums[j] / count;
        }
    }
    for (int i = 0; i < n3; i++, li++, ri++, oi++) {
        const float *r = in + (size_t)ri * cols;
        const float *l = in + (size_t)li * cols;
        for (int j = 0; j < cols; j++) {
            sums[j] += r[j];
            sums[j] -= l[j];
        }
        if (!keep || keep[oi]) {
            float *o = out + (size_t)(keep ? keep[oi] - 1 : oi) * cols;
            for (int j = 0; j < cols; j++)
                o[j] = sums[j] / count;
        }
    }
    for (int i = 0; i < n4; i++, li++, oi++) {
        const float *l = in + (size_t)li * cols;
        count--;
        for (int j = 0; j < cols; j++)
            sums[j] -= l[j];
        if (!keep || keep[oi]) {
            float *o = out + (size_t)(keep ? keep[oi] - 1 : oi) * cols;
            for (int j = 0; j < cols; j++)
                o[j] = sums[j] / count;
        }
    }
}

/* The reference's 1-D box filter along one contiguous vector. */
static void box_line(const float *in, float *out, int len, int win)
{
    int half = (win + 2) / 2;
    int n1 = half - 1, n2 = win - half + 1, n3 = len - win, n4 = half - 1;
    int li = 0, ri = 0, oi = 0, count = 0;
    float sum = 0.0f;
    for (int i = 0; i < n1; i++) {
        sum += in[ri++];
        count++;
    }
    for (int i = 0; i < n2; i++) {
        sum += in[ri++];
        count++;
        out[oi++] = sum / count;
    }
    for (int i = 0; i < n3; i++) {
        sum += in[ri++];
        sum -= in[li++];
        out[oi++] = sum / count;
    }
    for (int i = 0; i < n4; i++) {
        sum -= in[li++];
        count--;
        out[oi++] = sum / count;
    }
}

static int reserve(struct scrim__frame_hasher *h, size_t n, int cols)
{
    size_t need = n > (size_t)cols ? n : (size_t)cols;
    if (need <= h->cap)
        return 0;
    free(h->a);
    free(h->b);
    free(h->sums);
    h->a = malloc(need * sizeof(float));
    h->b = malloc(need * sizeof(float));
    h->sums = malloc(need * sizeof(float));
    h->cap = h->a && h->b && h->sums ? need : 0;
    return h->cap ? 0 : -1;
}

/* PDQ of the luma plane in h->a (width x height), or, if transposed, of
 * its transpose already in h->b.  Both planes are overwritten. */
static int hash_plane(struct scrim__frame_hasher *h, int width, int height,
                      int transposed, scrim_pdq *pdq, int *quality)
{
    float *a = h->a, *b = h->b;
    int wrow = jarosz_window(width, 64), wcol = jarosz_window(height, 64);
    /* Sampled rows si and columns sj; on frames under 64 px a column may be
     * sampled more than once, so each distinct column gets one slot. */
    int si[64], slot[64], keep_j[width], slots = 0;
    memset(keep_j, 0, sizeof keep_j);
    for (int k = 0; k < 64; k++) {
        int sj = (int)(((k + 0.5) * width) / 64);
        si[k] = (int)(((k + 0.5) * height) / 64);
        if (!keep_j[sj])
            keep_j[sj] = ++slots;
        slot[k] = keep_j[sj] - 1;
    }
    /* Pass 1: rows (on the transpose), then columns. */
    if (!transposed)
        transpose(a, b, height, width);                     /* b: w x h */
    box_down(b, a, width, height, wrow, h->sums, NULL);     /* a: w x h */
    transpose(a, b, width, height);                         /* b: h x w */
    box_down(b, a, height, width, wcol, h->sums, NULL);     /* a: h x w */
    /* Pass 2: rows only at the sampled columns ... */
    transpose(a, b, height, width);                         /* b: w x h */
    box_down(b, a, width, height, wrow, h->sums, keep_j);   /* a: slots x h */
    /* ... then those columns, sampled at the 64 rows. */
    float out[64][64], *col = b;
    for (int k = 0; k < 64; k++) {
        if (k && slot[k] == slot[k - 1]) {
            for (int i = 0; i < 64; i++)
                out[i][k] = out[i][k - 1];
            continue;
        }
        box_line(a + (size_t)slot[k] * height, col, height, wcol);
        for (int i = 0; i < 64; i++)
            out[i][k] = col[si[i]];
    }
    return scrim_pdq_hash_luma(&out[0][0], 64, 64, pdq, quality, NULL);
}

int scrim__frame_hash_rgb(struct scrim__frame_hasher *h, const uint8_t *rgb,
                          int width, int height, size_t stride, scrim_pdq *pdq,
                          int *quality)
{
    /* Tiny frames and 64x64 ones take special paths in the reference. */
    if (width < 8 || height < 8 || (width == 64 && height == 64))
        return scrim_pdq_hash_pixels(rgb, width, height, 3, stride, pdq,
                                     quality, NULL);
    if (reserve(h, (size_t)width * height, width > height ? width : height))
        return SCRIM_ENOMEM;
    /* Luma exactly as scrim_pdq_hash_pixels computes it. */
    const float kr = 0.299f, kg = 0.587f, kb = 0.114f;
    for (int i = 0; i < height; i++) {
        const uint8_t *p = rgb + (size_t)i * stride;
        float *o = h->a + (size_t)i * width;
        for (int j = 0; j < width; j++, p += 3)
            o[j] = kr * p[0] + kg * p[1] + kb * p[2];
    }
    return hash_plane(h, width, height, 0, pdq, quality);
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
    if (width < 8 || height < 8 || (width == 64 && height == 64)) {
        /* Rare: build grey pixels and take the general path. */
        uint8_t *g = malloc((size_t)width * height);
        if (!g)
            return SCRIM_ENOMEM;
        for (int i = 0; i < height; i++)
            for (int j = 0; j < width; j++) {
                float v = full_range ? y[(size_t)i * stride + j]
                                     : (y[(size_t)i * stride + j] - 16) * (255.0f / 219.0f);
                g[(size_t)i * width + j] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
            }
        int rc = scrim_pdq_hash_pixels(g, width, height, 1, (size_t)width,
                                       pdq, quality, NULL);
        free(g);
        return rc;
    }
    if (reserve(h, (size_t)width * height, width > height ? width : height))
        return SCRIM_ENOMEM;
    /* BT.601 YUV -> RGB then 0.299 R + 0.587 G + 0.114 B gives back the
     * scaled Y (up to rounding and clipping of R, G, B): skip the round trip. */
    const float scale = full_range ? 1.0f : 255.0f / 219.0f;
    const float off = full_range ? 0.0f : 16.0f;
    y_to_luma_t(y, stride, width, height, off, scale, h->b);
    return hash_plane(h, width, height, 1, pdq, quality);
}
