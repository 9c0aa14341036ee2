/* luma.c - pixels as PDQ sees them: the luma of 8-bit RGB, grey or RGBA
 * pixels (and of a YCbCr JPEG's raw planes) computed with exactly the float
 * operations of Meta's reference, and the sample grid its CLI takes from an
 * image larger than 512 px.  Used by the JPEG fast path (jpeg.c) and by the
 * PDQ hasher (hash/pdq.c). */
#include "scrim.h"
#include "base/base.h"
#include "decode/decode.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The three luma products coefficient * value for every byte value (a table
 * lookup gives the very float the multiplication would). */
static float luma_r[256], luma_g[256], luma_b[256];
static const float kr = 0.299f, kg = 0.587f, kb = 0.114f;

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static int have_avx2;

static void tables_build(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    have_avx2 = __builtin_cpu_supports("avx2");
#endif
    for (int v = 0; v < 256; v++) {
        luma_r[v] = kr * (float)v;
        luma_g[v] = kg * (float)v;
        luma_b[v] = kb * (float)v;
    }
}

static void tables_init(void)
{
    pthread_once(&tables_once, tables_build);
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

/* Eight RGB24 pixels (24 bytes) at a time without gathers: the two halves
 * of the group are loaded as 16 bytes each (bytes 0-15 and 12-27 of the
 * group, so the last group of a row is done by the scalar loop) and each
 * channel is spread to 32-bit lanes with one byte shuffle. */
__attribute__((target("avx2"))) static int
luma_rgb24_avx2(const uint8_t *row, int n, float *o)
{
    const __m256 vr = _mm256_set1_ps(kr), vg = _mm256_set1_ps(kg),
                 vb = _mm256_set1_ps(kb);
    /* byte 3k + c of each half to the low byte of lane k, the rest zero */
#define SEL(c) _mm256_setr_epi8(c, -1, -1, -1, 3 + c, -1, -1, -1, 6 + c, -1, -1, -1, \
                                9 + c, -1, -1, -1, c, -1, -1, -1, 3 + c, -1, -1, -1,  \
                                6 + c, -1, -1, -1, 9 + c, -1, -1, -1)
    const __m256i sr = SEL(0), sg = SEL(1), sb = SEL(2);
#undef SEL
    int j = 0;
    /* group j reads bytes 3j .. 3j + 27 */
    for (; j + 8 <= n && (size_t)j * 3 + 28 <= (size_t)n * 3; j += 8) {
        const uint8_t *p = row + (size_t)j * 3;
        __m256i v = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p)),
            _mm_loadu_si128((const __m128i *)(p + 12)), 1);
        __m256 r = _mm256_cvtepi32_ps(_mm256_shuffle_epi8(v, sr));
        __m256 g = _mm256_cvtepi32_ps(_mm256_shuffle_epi8(v, sg));
        __m256 b = _mm256_cvtepi32_ps(_mm256_shuffle_epi8(v, sb));
        __m256 y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(r, vr),
                                               _mm256_mul_ps(g, vg)),
                                 _mm256_mul_ps(b, vb));
        _mm256_storeu_ps(o + j, y);
    }
    return j;
}
#endif

void scrim__luma_rgb24(const uint8_t *row, int n, float *o)
{
    int j = 0;
    tables_init();
#if defined(__x86_64__) && defined(__GNUC__)
    if (have_avx2)
        j = luma_rgb24_avx2(row, n, o);
#endif
    for (; j < n; j++)
        o[j] = luma_of(row + (size_t)j * 3, 3);
}

void scrim__luma_row(const uint8_t *row, const int *off, int n,
                         int channels, size_t avail, float *o)
{
    int j = 0;
    tables_init();
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

int scrim__luma_ycc_plan(const int *xs, int n, int w)
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

size_t scrim__luma_ycc_scratch(int w, int cw)
{
    size_t side = (size_t)(w > SCRIM__SQUASH ? w : SCRIM__SQUASH);
    return 2 * sizeof(int16_t) * cw + 4 * (size_t)cw + 3 * side + 32 +
           sizeof(float) * side;
}

void scrim__luma_ycc(const uint8_t *y, const uint8_t *const cb[2],
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
    tables_init();
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
int scrim__luma_sampled(const uint8_t *px, int channels, size_t stride,
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
        scrim__luma_row(px + (size_t)y * stride, off, nx, channels, avail, o);
    }
    free(off);
    return SCRIM_OK;
}

int scrim__luma_plane(const uint8_t *px, int width, int height, int channels,
                    size_t stride, float *out)
{
    tables_init();
    return scrim__luma_sampled(px, channels, stride, NULL, width, NULL, height, out);
}


/* The reference CLI squashes any image with a side over 512 px to 512x512,
 * taking for output pixel x the input pixel floor(x * W / 512) (CImg's
 * nearest-neighbour resize), and hashes that.  Partner lists were made that
 * way, so scrim does the same.  If the JPEG was shrunk on load by `s`, the
 * same sample positions are taken in the shrunk image. */
void scrim__luma_samples(int fw, int fh, int w, int h, int *xs, int *nx,
                        int *ys, int *ny)
{
    enum { SQ = SCRIM__SQUASH };
    if (fw <= SQ && fh <= SQ) {
        /* w <= fw and h <= fh */
        for (int i = 0; i < w; i++)
            xs[i] = i;
        for (int i = 0; i < h; i++)
            ys[i] = i;
        *nx = w;
        *ny = h;
        return;
    }
    for (int i = 0; i < SQ; i++) {
        /* Position in the file's pixels, then in the (maybe shrunk) decode. */
        long x = (long)((double)i * fw / SQ) * w / fw;
        long y = (long)((double)i * fh / SQ) * h / fh;
        xs[i] = (int)(x < w ? x : w - 1);
        ys[i] = (int)(y < h ? y : h - 1);
    }
    *nx = *ny = SQ;
}

