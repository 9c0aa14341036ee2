/* pdq.c - the PDQ perceptual hash (256 bits + quality), computed exactly as
 * Meta's reference does it so that hashes agree bit for bit on the same pixels.
 *
 * Pipeline: RGB -> float luma; two passes of a Jarosz box filter (rows then
 * columns) with a window of about dim/128; nearest-sample decimation to 64x64;
 * quality from the 64x64 gradients; a 16x16 DCT (frequencies 1..16, no DC);
 * each bit says whether a coefficient is above the median.
 *
 * Every float operation below is done in the order the reference does it:
 * reordering a sum changes rounding and so changes bits.  The build uses
 * -ffp-contract=off for the same reason (no fused multiply-add). */
#include "scrim.h"
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define PDQ_MIN_DIM 5

/* 16x64 DCT-II basis without the DC row, computed once; and the three luma
 * products coefficient * value for every byte value (a table lookup gives
 * the very float the multiplication would). */
static float dct16x64[16 * 64];
static float luma_r[256], luma_g[256], luma_b[256];
static const float kr = 0.299f, kg = 0.587f, kb = 0.114f;

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static int have_avx2;

static void tables_build(void)
{
    /* The reference keeps the scale factor in a float. */
    const float scale = (float)sqrt(2.0 / 64.0);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 64; j++)
            dct16x64[i * 64 + j] =
                (float)((double)scale * cos((M_PI / 2 / 64.0) * (i + 1) * (2 * j + 1)));
#if defined(__x86_64__) && defined(__GNUC__)
    have_avx2 = __builtin_cpu_supports("avx2");
#endif
    for (int v = 0; v < 256; v++) {
        luma_r[v] = kr * (float)v;
        luma_g[v] = kg * (float)v;
        luma_b[v] = kb * (float)v;
    }
}

static void dct_init(void)
{
    pthread_once(&tables_once, tables_build);
}

/* Window of the box filter so that two passes cover about one output cell. */
static int jarosz_window(int old_dim, int new_dim)
{
    return (old_dim + 2 * new_dim - 1) / (2 * new_dim);
}

/* ---- the Jarosz filter ---------------------------------------------------
 *
 * The reference runs a 1-D box filter along every row, then every column,
 * twice.  Down the columns, all the columns' running sums are kept side by
 * side and advanced one row at a time, which vectorises.  Along a row the
 * running sum is a chain of dependent additions, so the row passes work on
 * strips of STRIP rows: the strip is transposed into a small buffer that
 * stays in L1 cache, filtered there as columns (the STRIP rows' sums side by
 * side), and transposed back.  Each output still sees exactly the reference's
 * operations in the reference's order, so the results agree bit for bit.
 * The last row pass keeps only the 64 sampled columns and the last column
 * pass only the 64 sampled rows. */

#define STRIP 8

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* Twice the lanes where the CPU has AVX2; IEEE results are the same. */
#define WIDE __attribute__((target_clones("avx2", "default")))
#else
#define WIDE
#endif

/* The box filter down every column of in (rows x cols): the window grows at
 * the top and shrinks at the bottom, each output being sum / (cells in the
 * window), as in the reference.  Output row r is written only if keep is NULL
 * or keep[r]; then to out row (keep ? keep[r] - 1 : r). */
static inline __attribute__((always_inline)) void
box_vert(const float *in, float *out, int rows, int cols, int win,
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

WIDE static void box_down(const float *in, float *out, int rows, int cols,
                          int win, float *sums, const int *keep)
{
    box_vert(in, out, rows, cols, win, sums, keep);
}

/* out = in transposed: in is rows x cols (row stride is), out cols x rows
 * (row stride os); 4x4 SSE transposes where available. */
static inline __attribute__((always_inline)) void
transpose(const float *in, size_t is, float *out, size_t os, int rows, int cols)
{
    int i = 0;
#ifdef __SSE2__
    for (; i + 4 <= rows; i += 4) {
        int j = 0;
        for (; j + 4 <= cols; j += 4) {
            __m128 r0 = _mm_loadu_ps(in + (size_t)i * is + j);
            __m128 r1 = _mm_loadu_ps(in + (size_t)(i + 1) * is + j);
            __m128 r2 = _mm_loadu_ps(in + (size_t)(i + 2) * is + j);
            __m128 r3 = _mm_loadu_ps(in + (size_t)(i + 3) * is + j);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(out + (size_t)j * os + i, r0);
            _mm_storeu_ps(out + (size_t)(j + 1) * os + i, r1);
            _mm_storeu_ps(out + (size_t)(j + 2) * os + i, r2);
            _mm_storeu_ps(out + (size_t)(j + 3) * os + i, r3);
        }
        for (; j < cols; j++)
            for (int k = i; k < i + 4; k++)
                out[(size_t)j * os + k] = in[(size_t)k * is + j];
    }
#endif
    for (; i < rows; i++)
        for (int j = 0; j < cols; j++)
            out[(size_t)j * os + i] = in[(size_t)i * is + j];
}

/* The same filter along one contiguous vector. */
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

/* The box filter along every row of in (rows x cols) into out (row stride
 * ocols); with keep, only the kept columns j, to column keep[j] - 1.
 * t1 and t2 hold cols * STRIP floats each. */
WIDE static void box_rows(const float *in, float *out, int rows, int cols,
                          int win, const int *keep, int ocols, float *t1,
                          float *t2)
{
    int r = 0;
    for (; r + STRIP <= rows; r += STRIP) {
        float sums[STRIP];
        /* the strip, transposed (cols x STRIP), filtered as columns */
        transpose(in + (size_t)r * cols, cols, t1, STRIP, STRIP, cols);
        /* with keep, only the kept columns are divided out, packed (two
         * calls, so that each inlined copy knows whether keep is NULL) */
        if (keep)
            box_vert(t1, t2, cols, STRIP, win, sums, keep);
        else
            box_vert(t1, t2, cols, STRIP, win, sums, NULL);
        transpose(t2, STRIP, out + (size_t)r * ocols, ocols, ocols, STRIP);
    }
    for (; r < rows; r++) {
        float *o = out + (size_t)r * ocols;
        if (!keep) {
            box_line(in + (size_t)r * cols, o, cols, win);
            continue;
        }
        box_line(in + (size_t)r * cols, t2, cols, win);
        for (int j = 0; j < cols; j++)
            if (keep[j])
                o[keep[j] - 1] = t2[j];
    }
}

/* The Jarosz filter of the plane in s->a sampled at the reference's 64x64
 * points. */
static void filter_to_64(scrim__pdq_scratch *s, int width, int height,
                         float out[64][64])
{
    float *a = s->a, *b = s->b;
    int *keep_j = s->keep, *keep_r = s->keep + s->side;
    int wrow = jarosz_window(width, 64), wcol = jarosz_window(height, 64);
    /* Sampled rows si and columns sj; on images under 64 px a row or column
     * may be sampled more than once, so each distinct one gets one slot. */
    int si[64], slot_j[64], slot_i[64], cols = 0, rows = 0;
    memset(keep_j, 0, (size_t)width * sizeof(int));
    memset(keep_r, 0, (size_t)height * sizeof(int));
    for (int k = 0; k < 64; k++) {
        int sj = (int)(((k + 0.5) * width) / 64);
        si[k] = (int)(((k + 0.5) * height) / 64);
        if (!keep_j[sj])
            keep_j[sj] = ++cols;
        slot_j[k] = keep_j[sj] - 1;
        if (!keep_r[si[k]])
            keep_r[si[k]] = ++rows;
        slot_i[k] = keep_r[si[k]] - 1;
    }
    float *t1 = s->sums, *t2 = s->sums + (size_t)STRIP * s->side;
    /* First pass: rows, then columns. */
    box_rows(a, b, height, width, wrow, NULL, width, t1, t2);
    box_down(b, a, height, width, wcol, t1, NULL);
    /* Second pass: rows only at the sampled columns (b: height x cols) ...*/
    box_rows(a, b, height, width, wrow, keep_j, cols, t1, t2);
    /* ... then those columns, only at the sampled rows (a: rows x cols). */
    box_down(b, a, height, cols, wcol, t1, keep_r);
    for (int i = 0; i < 64; i++)
        for (int k = 0; k < 64; k++)
            out[i][k] = a[(size_t)slot_i[i] * cols + slot_j[k]];
}

/* Allocates the scratch for a width x height plane; the first plane only if
 * the caller does not lend its own (a != NULL). */
static int scratch_alloc(scrim__pdq_scratch *s, int width, int height,
                         float *a)
{
    size_t n = (size_t)width * height, side = width > height ? width : height;
    if (n < side)
        n = side;
    s->a = a ? a : malloc(n * sizeof(float));
    s->b = malloc(n * sizeof(float));
    s->sums = malloc(2 * STRIP * side * sizeof(float));
    s->keep = malloc(2 * side * sizeof(int));
    if (!s->a || !s->b || !s->sums || !s->keep) {
        if (a)
            s->a = NULL;
        scrim__pdq_scratch_free(s);
        return SCRIM_ENOMEM;
    }
    s->cap = n;
    s->side = side;
    return SCRIM_OK;
}

int scrim__pdq_reserve(scrim__pdq_scratch *s, int width, int height)
{
    size_t n = (size_t)width * height, side = width > height ? width : height;
    if ((n > side ? n : side) <= s->cap && side <= s->side)
        return SCRIM_OK;
    scrim__pdq_scratch_free(s);
    return scratch_alloc(s, width, height, NULL);
}

void scrim__pdq_scratch_free(scrim__pdq_scratch *s)
{
    free(s->a);
    free(s->b);
    free(s->sums);
    free(s->keep);
    memset(s, 0, sizeof *s);
}

static int quality_of(const float a[64][64])
{
    int sum = 0;
    for (int i = 0; i < 63; i++)
        for (int j = 0; j < 64; j++) {
            int d = (int)(((a[i][j] - a[i + 1][j]) * 100) / 255);
            sum += abs(d);
        }
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 63; j++) {
            int d = (int)(((a[i][j] - a[i][j + 1]) * 100) / 255);
            sum += abs(d);
        }
    int q = sum / 90;
    return q > 100 ? 100 : q;
}

/* The k-th smallest of n values (k 0-based); reorders v. */
static float select_kth(float *v, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = v[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                float x = v[i];
                v[i] = v[j];
                v[j] = x;
                i++;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return v[k];
}

/* The reference's Torben median of 256 values: the 128th smallest,
 * sorted[127]. */
static float median_of(const float b[16][16])
{
    float s[256];
    memcpy(s, b, sizeof s);
    return select_kth(s, 256, 127);
}

/* Bits are set where a coefficient exceeds the median. */
static void bits_of(const float b[16][16], float median, scrim_pdq *h)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++)
            if (b[i][j] > median)
                h->w[i] |= (uint16_t)(1u << j);
}

/* The dihedral variants are sign flips and transposes of the DCT output: a
 * basis function of odd frequency k+1 (even k) changes sign under a flip. */
static void dihedral_of(const float a[16][16], int variant, float b[16][16])
{
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float v = a[i][j];
            switch (variant) {
            case SCRIM_DIH_ROTATE90:   b[j][i] = (j & 1) ? v : -v; break;
            case SCRIM_DIH_ROTATE180:  b[i][j] = ((i + j) & 1) ? -v : v; break;
            case SCRIM_DIH_ROTATE270:  b[j][i] = (i & 1) ? v : -v; break;
            case SCRIM_DIH_FLIPX:      b[i][j] = (i & 1) ? v : -v; break;
            case SCRIM_DIH_FLIPY:      b[i][j] = (j & 1) ? v : -v; break;
            case SCRIM_DIH_FLIPPLUS1:  b[j][i] = v; break;
            case SCRIM_DIH_FLIPMINUS1: b[j][i] = ((i + j) & 1) ? -v : v; break;
            default:                   b[i][j] = v; break;
            }
        }
}

/* Quality, DCT and bits of the 64x64 downsample. */
static void hash_64(const float a[64][64], scrim_pdq *hash, int *quality,
                    scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    if (quality)
        *quality = quality_of(a);

    /* B = D A D^T, as T = D A then B = T D^T, sums in k order. */
    float t[16][64], b[16][16];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 64; j++) {
            float s = 0.0f;
            for (int k = 0; k < 64; k++)
                s += dct16x64[i * 64 + k] * a[k][j];
            t[i][j] = s;
        }
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float s = 0.0f;
            for (int k = 0; k < 64; k++)
                s += t[i][k] * dct16x64[j * 64 + k];
            b[i][j] = s;
        }
    float medians[SCRIM_DIH_COUNT];
    medians[0] = median_of(b);
    bits_of(b, medians[0], hash);
    if (dihedral) {
        /* A transpose keeps the values, so variants that negate the same
         * coefficients share a median: 4 distinct medians for 8 hashes. */
        static const int8_t median_from[SCRIM_DIH_COUNT] = {
            [SCRIM_DIH_ORIGINAL] = SCRIM_DIH_ORIGINAL,
            [SCRIM_DIH_ROTATE90] = SCRIM_DIH_ROTATE90,
            [SCRIM_DIH_ROTATE180] = SCRIM_DIH_ROTATE180,
            [SCRIM_DIH_ROTATE270] = SCRIM_DIH_ROTATE270,
            [SCRIM_DIH_FLIPX] = SCRIM_DIH_ROTATE270,
            [SCRIM_DIH_FLIPY] = SCRIM_DIH_ROTATE90,
            [SCRIM_DIH_FLIPPLUS1] = SCRIM_DIH_ORIGINAL,
            [SCRIM_DIH_FLIPMINUS1] = SCRIM_DIH_ROTATE180,
        };
        dihedral[0] = *hash;
        for (int v = 1; v < SCRIM_DIH_COUNT; v++) {
            float d[16][16];
            dihedral_of(b, v, d);
            int m = median_from[v];
            medians[v] = m == v ? median_of(d) : medians[m];
            bits_of(d, medians[v], &dihedral[v]);
        }
    }
}

int scrim__pdq_hash_plane(scrim__pdq_scratch *s, int width, int height,
                          scrim_pdq *hash, int *quality,
                          scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    if (width < PDQ_MIN_DIM || height < PDQ_MIN_DIM) {
        memset(hash, 0, sizeof *hash);
        if (quality)
            *quality = 0;
        if (dihedral)
            memset(dihedral, 0, sizeof(scrim_pdq) * SCRIM_DIH_COUNT);
        return SCRIM_OK;
    }
    dct_init();
    float a[64][64];
    if (width == 64 && height == 64) {
        /* The reference takes a 64x64 input as already downsampled. */
        memcpy(a, s->a, sizeof a);
    } else {
        filter_to_64(s, width, height, a);
    }
    hash_64(a, hash, quality, dihedral);
    return SCRIM_OK;
}

int scrim_pdq_hash_luma(float *luma, int width, int height, scrim_pdq *hash,
                        int *quality, scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    if (!luma || width <= 0 || height <= 0 || !hash)
        return SCRIM_EINVAL;
    /* The caller's plane is the first scratch plane. */
    scrim__pdq_scratch s = {0};
    int rc = scratch_alloc(&s, width, height, luma);
    if (rc)
        return rc;
    rc = scrim__pdq_hash_plane(&s, width, height, hash, quality, dihedral);
    s.a = NULL;
    scrim__pdq_scratch_free(&s);
    return rc;
}

/* Luma as the reference computes it: float coefficients, R + G + B in that
 * order; grey pixels are taken as they are. */
static inline float luma_of(const uint8_t *p, int channels)
{
    return channels == 1 ? (float)p[0]
                         : luma_r[p[0]] + luma_g[p[1]] + luma_b[p[2]];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* Eight pixels at a time: one 4-byte gather per pixel, then the same float
 * products and sums as luma_of (the tables hold exactly those products).
 * Only pixels whose 4 bytes lie inside the row's `avail` bytes. */
__attribute__((target("avx2"))) static int
luma_avx2(const uint8_t *row, const int *off, int n, int channels,
          size_t avail, float *o)
{
    const __m256i m = _mm256_set1_epi32(0xff);
    const __m256 vr = _mm256_set1_ps(kr), vg = _mm256_set1_ps(kg),
                 vb = _mm256_set1_ps(kb);
    int j = 0;
    for (; j + 8 <= n && (size_t)off[j + 7] + 4 <= avail; j += 8) {
        __m256i idx = _mm256_loadu_si256((const __m256i *)(off + j));
        __m256i v = _mm256_i32gather_epi32((const int *)row, idx, 1);
        __m256 r = _mm256_cvtepi32_ps(_mm256_and_si256(v, m));
        if (channels == 1) {
            _mm256_storeu_ps(o + j, r);
            continue;
        }
        __m256 g = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v, 8), m));
        __m256 b = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v, 16), m));
        __m256 y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(r, vr),
                                               _mm256_mul_ps(g, vg)),
                                 _mm256_mul_ps(b, vb));
        _mm256_storeu_ps(o + j, y);
    }
    return j;
}
#endif

void scrim__pdq_luma_row(const uint8_t *row, const int *off, int n,
                         int channels, size_t avail, float *o)
{
    int j = 0;
    dct_init();
#if defined(__x86_64__) && defined(__GNUC__)
    if (have_avx2)
        j = luma_avx2(row, off, n, channels, avail, o);
#endif
    for (; j < n; j++)
        o[j] = luma_of(row + off[j], channels);
}

/* ---- luma straight from YCbCr ------------------------------------------
 *
 * libjpeg's YCbCr -> RGB (jdcolor.c): 16-bit fixed point, each product
 * rounded by adding one half before the arithmetic shift, then clamped to
 * 0..255.  libjpeg-turbo's SIMD versions give the same values. */
#define FIX16(x) ((int32_t)((x) * 65536.0 + 0.5))
#define YCC_CR_R FIX16(1.40200)
#define YCC_CB_B FIX16(1.77200)
#define YCC_CR_G FIX16(0.71414)
#define YCC_CB_G FIX16(0.34414)

static inline int clamp255(int v)
{
    return v < 0 ? 0 : v > 255 ? 255 : v;
}

static inline float luma_ycc1(int y, int cb, int cr)
{
    int x = cr - 128, z = cb - 128;
    int r = y + ((YCC_CR_R * x + 32768) >> 16);
    int g = y + ((-YCC_CB_G * z + 32768 - YCC_CR_G * x) >> 16);
    int b = y + ((YCC_CB_B * z + 32768) >> 16);
    return luma_r[clamp255(r)] + luma_g[clamp255(g)] + luma_b[clamp255(b)];
}

#if defined(__x86_64__) && defined(__GNUC__)
/* Sixteen pixels at a time in 16-bit lanes.  Each fixed-point product is
 * split so that its multiplier fits 16 bits: 1.402 = 1 + 26345 / 65536,
 * -0.71414 = -1 + 18734 / 65536, 1.772 = 2 - 14942 / 65536, e.g.
 * (91881 x + 32768) >> 16 == x + ((26345 x + 32768) >> 16) exactly; the
 * products (and the rounding half, as 2 * 16384) are pairs of madd.  Then
 * the same float products and sums as luma_ycc1. */
#define YCC_R16 (YCC_CR_R - 65536)
#define YCC_G16 (65536 - YCC_CR_G)
#define YCC_B16 (131072 - YCC_CB_B)
#define PAIR16(lo, hi) ((int)(((uint32_t)(uint16_t)(hi) << 16) | (uint16_t)(lo)))

__attribute__((target("avx2"))) static inline __m256i
madd_shift(__m256i a, __m256i b, __m256i k, __m256i add)
{
    __m256i lo = _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), k);
    __m256i hi = _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), k);
    lo = _mm256_srai_epi32(_mm256_add_epi32(lo, add), 16);
    hi = _mm256_srai_epi32(_mm256_add_epi32(hi, add), 16);
    return _mm256_packs_epi32(lo, hi); /* back in pixel order */
}

__attribute__((target("avx2"))) static inline __m256
luma8_avx2(__m128i r, __m128i g, __m128i b)
{
    __m256 fr = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(r));
    __m256 fg = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(g));
    __m256 fb = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(b));
    return _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(fr, _mm256_set1_ps(kr)),
                                       _mm256_mul_ps(fg, _mm256_set1_ps(kg))),
                         _mm256_mul_ps(fb, _mm256_set1_ps(kb)));
}

__attribute__((target("avx2"))) static int
luma_ycc_avx2(const uint8_t *yv, const uint8_t *cbv, const uint8_t *crv,
              int n, float *o)
{
    const __m256i c128 = _mm256_set1_epi16(128), two = _mm256_set1_epi16(2),
                  zero = _mm256_setzero_si256(), max = _mm256_set1_epi16(255),
                  half = _mm256_set1_epi32(32768), none = _mm256_setzero_si256(),
                  kR = _mm256_set1_epi32(PAIR16(YCC_R16, 16384)),
                  kG = _mm256_set1_epi32(PAIR16(YCC_G16, -YCC_CB_G)),
                  kB = _mm256_set1_epi32(PAIR16(-YCC_B16, 16384));
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m256i y = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(yv + j)));
        __m256i z = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(cbv + j))), c128);
        __m256i x = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(crv + j))), c128);
        /* R = y + x + ((26345 x + 2 * 16384) >> 16), and so on */
        __m256i r = _mm256_add_epi16(_mm256_add_epi16(y, x), madd_shift(x, two, kR, none));
        __m256i g = _mm256_add_epi16(_mm256_sub_epi16(y, x), madd_shift(x, z, kG, half));
        __m256i b = _mm256_add_epi16(_mm256_add_epi16(y, _mm256_add_epi16(z, z)),
                                     madd_shift(z, two, kB, none));
        r = _mm256_min_epi16(_mm256_max_epi16(r, zero), max);
        g = _mm256_min_epi16(_mm256_max_epi16(g, zero), max);
        b = _mm256_min_epi16(_mm256_max_epi16(b, zero), max);
        _mm256_storeu_ps(o + j, luma8_avx2(_mm256_castsi256_si128(r),
                                           _mm256_castsi256_si128(g),
                                           _mm256_castsi256_si128(b)));
        _mm256_storeu_ps(o + j + 8, luma8_avx2(_mm256_extracti128_si256(r, 1),
                                               _mm256_extracti128_si256(g, 1),
                                               _mm256_extracti128_si256(b, 1)));
    }
    return j;
}
#endif

/* o[j] = luma of pixels (y[j], cb[j], cr[j]), j < n. */
static void luma_ycc_run(const uint8_t *y, const uint8_t *cb, const uint8_t *cr,
                         int n, float *o)
{
    int j = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    if (have_avx2)
        j = luma_ycc_avx2(y, cb, cr, n, o);
#endif
    for (; j < n; j++)
        o[j] = luma_ycc1(y[j], cb[j], cr[j]);
}

/* Column sums a = 3 * near + far of a chroma row of cw samples. */
static void column_sums(const uint8_t *restrict near,
                        const uint8_t *restrict far, int cw,
                        int16_t *restrict a)
{
    for (int c = 0; c < cw; c++)
        a[c] = (int16_t)(3 * near[c] + far[c]);
}

/* One output of libjpeg's h2v1/h2v2 fancy upsampling from the column sums a
 * (3 * near + far): (3 a[c] + a[f] + bias) >> 4, f the neighbour it leans
 * on (c itself at an edge). */
static inline uint8_t fancy1(const int16_t *a, int c, int f, int bias)
{
    return (uint8_t)((3 * a[c] + a[f] + bias) >> 4);
}

#ifdef __SSE2__
/* The same for c .. c + 7, leaning on c + d .. c + d + 7, in 16-bit lanes. */
static inline __m128i fancy8(const int16_t *a, int c, int d, __m128i bias)
{
    __m128i m = _mm_loadu_si128((const __m128i *)(a + c));
    __m128i f = _mm_loadu_si128((const __m128i *)(a + c + d));
    __m128i m3 = _mm_add_epi16(m, _mm_add_epi16(m, m));
    return _mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(m3, f), bias), 4);
}
#endif

/* One chroma row of cw samples upsampled to 2 * cw as libjpeg's h2v1/h2v2
 * fancy upsampling does: output 2c leans on sum c - 1 (with bias even),
 * output 2c + 1 on sum c + 1 (bias odd). */
static void upsample_h2(const int16_t *restrict a, int cw, int even, int odd,
                        uint8_t *restrict out)
{
    int c = 1;
    out[0] = fancy1(a, 0, 0, even);
    out[1] = fancy1(a, 0, cw > 1, odd);
#ifdef __SSE2__
    /* columns c .. c + 7 (outputs 2c .. 2c + 15) from a[c - 1 .. c + 8] */
    const __m128i ve = _mm_set1_epi16((short)even), vo = _mm_set1_epi16((short)odd);
    for (; c + 9 <= cw; c += 8) {
        __m128i e = fancy8(a, c, -1, ve), o = fancy8(a, c, 1, vo);
        _mm_storeu_si128((__m128i *)(out + 2 * c),
                         _mm_unpacklo_epi8(_mm_packus_epi16(e, e),
                                           _mm_packus_epi16(o, o)));
    }
#endif
    for (; c < cw; c++) {
        out[2 * c] = fancy1(a, c, c - 1, even);
        out[2 * c + 1] = fancy1(a, c, c + 1 < cw ? c + 1 : c, odd);
    }
}

/* Only the even outputs 2j, j < n, of upsample_h2: out[j]. */
static void upsample_h2_evens(const int16_t *restrict a, int n, int even,
                              uint8_t *restrict out)
{
    int j = 1;
    out[0] = fancy1(a, 0, 0, even);
#ifdef __SSE2__
    const __m128i ve = _mm_set1_epi16((short)even);
    for (; j + 8 <= n; j += 8) {
        __m128i e = fancy8(a, j, -1, ve);
        _mm_storel_epi64((__m128i *)(out + j), _mm_packus_epi16(e, e));
    }
#endif
    for (; j < n; j++)
        out[j] = fancy1(a, j, j - 1, even);
}

/* out[j] = in[2j], j < n (in holds 2n bytes) */
static void evens(const uint8_t *restrict in, int n, uint8_t *restrict out)
{
    int j = 0;
#ifdef __SSE2__
    const __m128i lo = _mm_set1_epi16(0xff);
    for (; j + 8 <= n; j += 8) {
        __m128i v = _mm_and_si128(_mm_loadu_si128((const __m128i *)(in + 2 * j)), lo);
        _mm_storel_epi64((__m128i *)(out + j), _mm_packus_epi16(v, v));
    }
#endif
    for (; j < n; j++)
        out[j] = in[2 * j];
}

int scrim__pdq_ycc_plan(const int *xs, int n, int w)
{
    int every = n == w, halves = 1;
    for (int j = 0; j < n; j++) {
        every &= xs[j] == j;
        halves &= xs[j] == 2 * j;
    }
    /* EVEN reads luma up to column 2n - 1 */
    return every ? SCRIM__YCC_EVERY
           : halves && 2 * n <= w ? SCRIM__YCC_EVEN : SCRIM__YCC_ANY;
}

size_t scrim__pdq_ycc_scratch(int w, int cw)
{
    size_t side = (size_t)(w > SCRIM__SQUASH ? w : SCRIM__SQUASH);
    return 2 * sizeof(int16_t) * cw + 4 * (size_t)cw + 3 * side + 32 +
           sizeof(float) * side;
}

void scrim__pdq_luma_ycc(const uint8_t *y, const uint8_t *const cb[2],
                         const uint8_t *const cr[2], int w, int cw, int h2,
                         int v2, int plan, void *scratch, const int *xs, int n,
                         float *o)
{
    int16_t *ab = scratch, *ar = ab + cw;
    uint8_t *ub = (uint8_t *)(ar + cw), *ur = ub + 2 * cw, *sy = ur + 2 * cw;
    float *l = (float *)(((uintptr_t)(sy + 3 * (size_t)(w > n ? w : n)) + 31) &
                         ~(uintptr_t)31);
    int even = v2 ? 8 : 4, odd = v2 ? 7 : 8;
    const uint8_t *pb = cb[0], *pr = cr[0]; /* chroma at full width */
    dct_init();
    if (h2) {
        column_sums(cb[0], cb[1], cw, ab);
        column_sums(cr[0], cr[1], cw, ar);
        if (plan != SCRIM__YCC_EVEN) {
            upsample_h2(ab, cw, even, odd, ub);
            upsample_h2(ar, cw, even, odd, ur);
            pb = ub;
            pr = ur;
        }
    }
    if (plan == SCRIM__YCC_EVERY) {
        luma_ycc_run(y, pb, pr, n, o);
    } else if (plan == SCRIM__YCC_EVEN) {
        /* columns 2j of the three planes side by side, then only those */
        uint8_t *sb = sy + n, *sr = sb + n;
        evens(y, n, sy);
        if (h2) { /* only the even chroma outputs */
            upsample_h2_evens(ab, n, even, sb);
            upsample_h2_evens(ar, n, even, sr);
        } else {
            evens(pb, n, sb);
            evens(pr, n, sr);
        }
        luma_ycc_run(sy, sb, sr, n, o);
    } else {
        luma_ycc_run(y, pb, pr, w, l);
        for (int j = 0; j < n; j++)
            o[j] = l[xs[j]];
    }
}

/* Byte offsets of the pixels to take from a row: xs[j] * channels, or
 * j * channels when xs is NULL. */
static int *pixel_offsets(const int *xs, int n, int channels)
{
    int *off = malloc((size_t)n * sizeof *off);
    for (int j = 0; off && j < n; j++)
        off[j] = (xs ? xs[j] : j) * channels;
    return off;
}

/* Luma of rows ys[i] (or i, when ys is NULL) into out (ny rows of nx); the
 * buffer ends after the pixels of its last row. */
static int luma_plane(const uint8_t *px, int channels, size_t stride,
                      const int *xs, int nx, const int *ys, int ny, float *out)
{
    int *off = pixel_offsets(xs, nx, channels);
    if (!off)
        return SCRIM_ENOMEM;
    int ymax = 0, omax = 0;
    for (int i = 0; i < ny; i++)
        ymax = (ys ? ys[i] : i) > ymax ? (ys ? ys[i] : i) : ymax;
    for (int j = 0; j < nx; j++)
        omax = off[j] > omax ? off[j] : omax;
    for (int i = 0; i < ny; i++) {
        int y = ys ? ys[i] : i;
        float *o = out + (size_t)i * nx;
        if (i > 0 && ys && y == ys[i - 1]) {
            memcpy(o, o - nx, (size_t)nx * sizeof(float));
            continue;
        }
        /* below the last row a whole stride (and more) follows */
        size_t avail = y < ymax ? stride + 4 : (size_t)omax + channels;
        scrim__pdq_luma_row(px + (size_t)y * stride, off, nx, channels, avail, o);
    }
    free(off);
    return SCRIM_OK;
}

int scrim__pdq_luma(const uint8_t *px, int width, int height, int channels,
                    size_t stride, float *out)
{
    dct_init();
    return luma_plane(px, channels, stride, NULL, width, NULL, height, out);
}

static int valid_channels(int channels)
{
    return channels == 1 || channels == 3 || channels == 4;
}

int scrim_pdq_hash_sampled(const uint8_t *px, int channels, size_t stride,
                           const int *xs, int nx, const int *ys, int ny,
                           scrim_pdq *hash, int *quality,
                           scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    if (!px || !xs || !ys || nx <= 0 || ny <= 0 || !valid_channels(channels))
        return SCRIM_EINVAL;
    dct_init();
    scrim__pdq_scratch s = {0};
    int rc = scrim__pdq_reserve(&s, nx, ny);
    if (rc)
        return rc;
    rc = luma_plane(px, channels, stride, xs, nx, ys, ny, s.a);
    if (!rc)
        rc = scrim__pdq_hash_plane(&s, nx, ny, hash, quality, dihedral);
    scrim__pdq_scratch_free(&s);
    return rc;
}

int scrim_pdq_hash_pixels(const uint8_t *px, int width, int height,
                          int channels, size_t stride, scrim_pdq *hash,
                          int *quality, scrim_pdq dihedral[SCRIM_DIH_COUNT])
{
    if (!px || width <= 0 || height <= 0 || !valid_channels(channels))
        return SCRIM_EINVAL;
    scrim__pdq_scratch s = {0};
    int rc = scrim__pdq_reserve(&s, width, height);
    if (rc)
        return rc;
    rc = scrim__pdq_luma(px, width, height, channels, stride, s.a);
    if (!rc)
        rc = scrim__pdq_hash_plane(&s, width, height, hash, quality, dihedral);
    scrim__pdq_scratch_free(&s);
    return rc;
}

/* ---- hash representation ------------------------------------------------ */

static const char *const dih_names[SCRIM_DIH_COUNT] = {
    "original", "rotate90", "rotate180", "rotate270",
    "flipx",    "flipy",    "flipplus1", "flipminus1"};

const char *scrim_dihedral_name(int v)
{
    return v >= 0 && v < SCRIM_DIH_COUNT ? dih_names[v] : "unknown";
}

void scrim_pdq_to_hex(const scrim_pdq *h, char out[SCRIM_PDQ_HEXLEN + 1])
{
    static const char hx[] = "0123456789abcdef";
    char *p = out;
    for (int i = 15; i >= 0; i--)
        for (int s = 12; s >= 0; s -= 4)
            *p++ = hx[(h->w[i] >> s) & 15];
    *p = '\0';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int scrim_pdq_from_hex(const char *hex, size_t len, scrim_pdq *h)
{
    if (!hex || len != SCRIM_PDQ_HEXLEN)
        return SCRIM_EINVAL;
    for (int i = 0; i < 16; i++) {
        unsigned v = 0;
        for (int k = 0; k < 4; k++) {
            int d = hexval((unsigned char)hex[i * 4 + k]);
            if (d < 0)
                return SCRIM_EINVAL;
            v = v << 4 | (unsigned)d;
        }
        h->w[15 - i] = (uint16_t)v;
    }
    return SCRIM_OK;
}

void scrim_pdq_to_bytes(const scrim_pdq *h, uint8_t out[32])
{
    for (int i = 0; i < 16; i++) {
        out[2 * i] = (uint8_t)(h->w[15 - i] >> 8);
        out[2 * i + 1] = (uint8_t)h->w[15 - i];
    }
}

void scrim_pdq_from_bytes(const uint8_t in[32], scrim_pdq *h)
{
    for (int i = 0; i < 16; i++)
        h->w[15 - i] = (uint16_t)(in[2 * i] << 8 | in[2 * i + 1]);
}

int scrim_pdq_distance(const scrim_pdq *a, const scrim_pdq *b)
{
    uint64_t x[4], y[4];
    memcpy(x, a->w, sizeof x);
    memcpy(y, b->w, sizeof y);
    int d = 0;
    for (int i = 0; i < 4; i++)
        d += __builtin_popcountll(x[i] ^ y[i]);
    return d;
}
